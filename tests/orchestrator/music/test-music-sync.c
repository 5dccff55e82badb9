/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-music-sync.c: the sync protocol's decisions: drift verdicts at and around their
 * thresholds, strict heartbeat and time-request parsing, the time reply's form, and the
 * NTP-style offset a client computes from it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "echo-music-error.h"
#include "echo-music-sync.h"

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_judge_thresholds (void)
{
  EchoMusicSyncThresholds tight = { 20.0, 100.0 };

  /* Strictly greater than: exactly at a threshold is still the milder verdict. */
  g_assert_cmpint (echo_music_sync_judge (10000, 10000, NULL), ==, ECHO_MUSIC_SYNC_OK);
  g_assert_cmpint (echo_music_sync_judge (10000, 10500, NULL), ==, ECHO_MUSIC_SYNC_OK);
  g_assert_cmpint (echo_music_sync_judge (10000, 9500, NULL), ==, ECHO_MUSIC_SYNC_OK);
  g_assert_cmpint (echo_music_sync_judge (10000, 10500.5, NULL), ==, ECHO_MUSIC_SYNC_SEEK);
  g_assert_cmpint (echo_music_sync_judge (10000, 9499.5, NULL), ==, ECHO_MUSIC_SYNC_SEEK);
  g_assert_cmpint (echo_music_sync_judge (10000, 13000, NULL), ==, ECHO_MUSIC_SYNC_SEEK);
  g_assert_cmpint (echo_music_sync_judge (10000, 13000.25, NULL), ==,
      ECHO_MUSIC_SYNC_RESYNC);
  g_assert_cmpint (echo_music_sync_judge (10000, 6999, NULL), ==, ECHO_MUSIC_SYNC_RESYNC);
  g_assert_cmpint (echo_music_sync_judge (10000, NAN, NULL), ==, ECHO_MUSIC_SYNC_RESYNC);

  g_assert_cmpint (echo_music_sync_judge (0, 20, &tight), ==, ECHO_MUSIC_SYNC_OK);
  g_assert_cmpint (echo_music_sync_judge (0, 21, &tight), ==, ECHO_MUSIC_SYNC_SEEK);
  g_assert_cmpint (echo_music_sync_judge (0, -101, &tight), ==, ECHO_MUSIC_SYNC_RESYNC);

  g_assert_cmpstr (echo_music_sync_verdict_to_string (ECHO_MUSIC_SYNC_OK), ==, "ok");
  g_assert_cmpstr (echo_music_sync_verdict_to_string (ECHO_MUSIC_SYNC_SEEK), ==, "seek");
  g_assert_cmpstr (echo_music_sync_verdict_to_string (ECHO_MUSIC_SYNC_RESYNC), ==, "resync");
}

static void
test_heartbeat_parse (void)
{
  g_autoptr (JsonObject) seed = parse_object ("{\"type\":\"music:heartbeat\","
      "\"sessionId\":\"0b0e5a0e-1d7a-4c8e-9d43-3f0f7a1e2b3c\",\"clientOffset\":12345,"
      "\"drift\":-12.5}");
  g_autoptr (JsonObject) full = parse_object ("{\"sessionId\":\"s1\",\"clientOffset\":1000,"
      "\"drift\":3,\"positionMs\":1000.25,\"clientTime\":1700000000123.5}");
  g_autoptr (EchoMusicHeartbeat) a = NULL;
  g_autoptr (EchoMusicHeartbeat) b = NULL;
  g_autoptr (GError) error = NULL;

  a = echo_music_heartbeat_parse (seed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->session_id, ==, "0b0e5a0e-1d7a-4c8e-9d43-3f0f7a1e2b3c");
  g_assert_cmpfloat (a->client_offset, ==, 12345);
  g_assert_cmpfloat (a->drift, ==, -12.5);
  g_assert_false (a->has_position);
  g_assert_false (a->has_client_time);
  g_assert_cmpfloat (echo_music_heartbeat_get_position (a), ==, 12345);

  b = echo_music_heartbeat_parse (full, &error);
  g_assert_no_error (error);
  g_assert_true (b->has_position);
  g_assert_true (b->has_client_time);
  g_assert_cmpfloat (b->client_time, ==, 1700000000123.5);
  /* positionMs wins over clientOffset */
  g_assert_cmpfloat (echo_music_heartbeat_get_position (b), ==, 1000.25);
}

static void
test_heartbeat_rejects (void)
{
  static const char *const bad[] = {
    "{}",
    "{\"clientOffset\":1,\"drift\":0}",
    "{\"sessionId\":7,\"clientOffset\":1,\"drift\":0}",
    "{\"sessionId\":\"\",\"clientOffset\":1,\"drift\":0}",
    "{\"sessionId\":\"has space\",\"clientOffset\":1,\"drift\":0}",
    "{\"sessionId\":\"s\",\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":1}",
    "{\"sessionId\":\"s\",\"clientOffset\":\"1\",\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":null,\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":true,\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":[1],\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":1e13,\"drift\":0}",
    "{\"sessionId\":\"s\",\"clientOffset\":1,\"drift\":-1.5e12}",
    "{\"sessionId\":\"s\",\"clientOffset\":1,\"drift\":0,\"positionMs\":\"x\"}",
    "{\"sessionId\":\"s\",\"clientOffset\":1,\"drift\":0,\"clientTime\":1e300}",
    "{\"sessionId\":\"s\",\"clientOffset\":1,\"drift\":0,\"clientTime\":-2e14}",
    "{\"sessionId\":\"s\",\"clientOffset\":1,\"drift\":0,\"positionMs\":2e12}",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (JsonObject) obj = parse_object (bad[i]);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoMusicHeartbeat) heartbeat = echo_music_heartbeat_parse (obj, &error);

    g_assert_null (heartbeat);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }
}

static void
test_time_exchange (void)
{
  g_autoptr (JsonObject) request = parse_object ("{\"type\":\"music:time\",\"t0\":5000.125}");
  g_autoptr (JsonObject) missing = parse_object ("{\"type\":\"music:time\"}");
  g_autoptr (JsonObject) wrong = parse_object ("{\"type\":\"music:time\",\"t0\":\"5\"}");
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  double t0, offset, rtt;

  g_assert_true (echo_music_sync_parse_time_request (request, &t0, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (t0, ==, 5000.125);
  g_assert_false (echo_music_sync_parse_time_request (missing, &t0, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (echo_music_sync_parse_time_request (wrong, &t0, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);

  /* The reply keeps sub-millisecond precision. */
  text = echo_music_sync_format_time_reply (5000.125, 1700000000001.375, 1700000000001.875);
  reply = parse_object (text);
  g_assert_cmpstr (json_object_get_string_member (reply, "type"), ==, "music:time");
  g_assert_cmpfloat (json_object_get_double_member (reply, "t0"), ==, 5000.125);
  g_assert_cmpfloat (json_object_get_double_member (reply, "t1"), ==, 1700000000001.375);
  g_assert_cmpfloat (json_object_get_double_member (reply, "t2"), ==, 1700000000001.875);

  /* A client 1234.5 ms behind the server, 8 ms each way, 0.5 ms in the server: exact. */
  {
    double server_minus_client = 1234.5, client_t0 = 100000.0, one_way = 8.0;
    double t1 = client_t0 + one_way + server_minus_client;
    double t2 = t1 + 0.5;
    double t3 = t2 - server_minus_client + one_way;

    echo_music_sync_offset (client_t0, t1, t2, t3, &offset, &rtt);
    g_assert_cmpfloat_with_epsilon (offset, server_minus_client, 1e-9);
    g_assert_cmpfloat_with_epsilon (rtt, 2 * one_way, 1e-9);

    /* Asymmetric paths (3 ms out, 13 ms back): the offset is off by half the asymmetry. */
    t1 = client_t0 + 3 + server_minus_client;
    t2 = t1 + 0.5;
    t3 = t2 - server_minus_client + 13;
    echo_music_sync_offset (client_t0, t1, t2, t3, &offset, NULL);
    g_assert_cmpfloat_with_epsilon (offset, server_minus_client - 5, 1e-9);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/music/sync/judge-thresholds", test_judge_thresholds);
  g_test_add_func ("/music/sync/heartbeat-parse", test_heartbeat_parse);
  g_test_add_func ("/music/sync/heartbeat-rejects", test_heartbeat_rejects);
  g_test_add_func ("/music/sync/time-exchange", test_time_exchange);
  return g_test_run ();
}
