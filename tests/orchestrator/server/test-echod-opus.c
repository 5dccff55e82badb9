/* test-echod-opus.c: a real echod encodes Opus for HTTP and WebSocket listeners only while
 * someone wants it (the share pipeline's `opusgate` valve). Time runs 5x
 * (ECHO_TEST_TIME_SCALE), so the 5 s a poll keeps the encoder on last 1 s here. It proves:
 *  - float pollers alone never turn it on: no Opus packet is encoded
 *    (echo_share_opus_packets_total stays 0, echo_share_opus_sessions 0);
 *  - a GET audio?format=opus turns it on: its own answer is 204 (nothing was encoded
 *    before), the following polls get valid packets (base64 Opus of 960 frames at 48 kHz);
 *  - once nobody polled for the window, it turns off: the sharer keeps posting, the
 *    packet count stands still (but for the few in flight);
 *  - a WebSocket client with format=opus keeps it on for as long as it is connected,
 *    well past the poll window, and it turns off once the client is gone.
 * The sharer posts 20 ms chunks in real time throughout (the pipeline drops audio that
 * comes far ahead of its time). Waits have generous upper bounds only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echod-test-util.h"

#define RATE 48000
#define CHANNELS 2
#define FRAMES 960              /* 20 ms */
#define CHUNK_MS 20
#define SESSION "161616"
#define TIME_SCALE 5.0
/* how long a change of the gate may take to show, at most (the window is 1 s here) */
#define GATE_WAIT_MS 10000

typedef struct {
  EchodHarness *h;
  gint64 next_seq;              /* of the sharer's chunks */
  gint64 opus_since;            /* the newest Opus packet polled, -1 before any */
  guint opus_polled;            /* packets the polls got */
} Share;

static double
metric (EchodHarness *h, const char *series)
{
  g_autofree char *text = echod_test_metrics (h);
  double value = echod_metrics_value (text, series);

  g_assert_cmpfloat (value, >=, 0);
  return value;
}

static double
opus_sessions (EchodHarness *h)
{
  return metric (h, "echo_share_opus_sessions");
}

static double
opus_packets (EchodHarness *h)
{
  return metric (h, "echo_share_opus_packets_total");
}

static void
assert_opus_packet (JsonObject *chunk)
{
  g_autofree guchar *packet = NULL;
  gsize len = 0;

  g_assert_cmpstr (json_object_get_string_member (chunk, "encoding"), ==, "opus");
  g_assert_cmpint (json_object_get_int_member (chunk, "sampleRate"), ==, 48000);
  g_assert_cmpint (json_object_get_int_member (chunk, "channels"), ==, CHANNELS);
  g_assert_cmpint (json_object_get_int_member (chunk, "frames"), ==, 960);
  packet = g_base64_decode (json_object_get_string_member (chunk, "data"), &len);
  g_assert_cmpuint (len, >, 0);
}

/* GET audio?format=opus since the newest packet polled; returns the status. */
static guint
poll_opus (Share *s)
{
  g_autofree char *path = g_strdup_printf ("/api/share/" SESSION "/audio?format=opus&since=%"
      G_GINT64_FORMAT, s->opus_since);
  g_autoptr (EchodReply) reply = echod_harness_request (s->h, "GET", path, NULL);
  JsonArray *chunks;
  guint i;

  if (reply->status == 204)
    return 204;
  g_assert_cmpuint (reply->status, ==, 200);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (reply->json));
  chunks = json_node_get_array (reply->json);
  for (i = 0; i < json_array_get_length (chunks); i++) {
    JsonObject *chunk = json_array_get_object_element (chunks, i);
    gint64 seq = json_object_get_int_member (chunk, "sequenceNumber");

    assert_opus_packet (chunk);
    g_assert_cmpint (seq, >, s->opus_since);
    s->opus_since = seq;
    s->opus_polled++;
  }
  return 200;
}

/* A float receiver's poll: it must not turn Opus on. */
static void
poll_float (Share *s)
{
  g_autoptr (EchodReply) reply = echod_harness_request (s->h, "GET",
      "/api/share/" SESSION "/audio?since=-1", NULL);

  g_assert_cmpuint (reply->status, ==, 200);
}

typedef enum {
  POLL_NONE,
  POLL_FLOAT,
  POLL_OPUS,
} PollKind;

/* Posts chunks in real time for about ms, polling every 100 ms as asked. */
static void
share_for (Share *s, guint ms, PollKind poll)
{
  gint64 start = g_get_monotonic_time ();
  gint64 chunks = 0;

  while (g_get_monotonic_time () - start < (gint64) ms * 1000) {
    gint64 due = start + chunks * CHUNK_MS * 1000;

    if (g_get_monotonic_time () < due) {
      echod_harness_spin (1);
      continue;
    }
    echod_test_post_chunk_ok (s->h, SESSION, s->next_seq++, RATE, CHANNELS, FRAMES);
    if (chunks % 5 == 0) {
      if (poll == POLL_OPUS)
        poll_opus (s);
      else if (poll == POLL_FLOAT)
        poll_float (s);
    }
    chunks++;
  }
}

/* Shares (without polling) until the gauge reads want; fails after GATE_WAIT_MS. */
static void
share_until_opus_sessions (Share *s, double want)
{
  gint64 until = g_get_monotonic_time () + GATE_WAIT_MS * 1000;

  while (opus_sessions (s->h) != want) {
    g_assert_cmpint (g_get_monotonic_time (), <, until);
    share_for (s, 200, POLL_NONE);
  }
}

static EchodHarness *
start_echod (void)
{
  /* the sharer posts 50 chunks a second */
  return echod_test_start ("[share]\naudio-rate=100\naudio-burst=100\n", TIME_SCALE);
}

static void
test_poll_gate (void)
{
  g_autoptr (EchodHarness) h = start_echod ();
  Share s = { .h = h, .opus_since = -1 };
  double before, after;

  echod_test_start_session (h, SESSION);
  /* float receivers only: the pipeline runs, the Opus branch does not */
  share_for (&s, 1500, POLL_FLOAT);
  g_assert_cmpfloat (opus_sessions (h), ==, 0);
  g_assert_cmpfloat (opus_packets (h), ==, 0);

  /* the first Opus poll finds nothing, and turns the encoder on */
  g_assert_cmpuint (poll_opus (&s), ==, 204);
  g_assert_cmpfloat (opus_sessions (h), ==, 1);
  share_for (&s, 1500, POLL_OPUS);
  g_test_message ("polling for 1.5 s: %u packets", s.opus_polled);
  g_assert_cmpuint (s.opus_polled, >=, 10);
  g_assert_cmpfloat (opus_sessions (h), ==, 1);

  /* nobody asks any more: off after the window, and the packets stop */
  share_until_opus_sessions (&s, 0);
  before = opus_packets (h);
  share_for (&s, 1500, POLL_NONE);
  after = opus_packets (h);
  g_test_message ("off: %.0f packets in 1.5 s (on: about 75)", after - before);
  g_assert_cmpfloat (after - before, <=, 5);

  /* and a poll turns it on again */
  g_assert_cmpuint (poll_opus (&s), ==, 200);
  g_assert_cmpfloat (opus_sessions (h), ==, 1);
  before = opus_packets (h);
  share_for (&s, 1000, POLL_OPUS);
  g_assert_cmpfloat (opus_packets (h) - before, >=, 10);
}

static void
test_websocket_hold (void)
{
  g_autoptr (EchodHarness) h = start_echod ();
  g_autoptr (EchodSocket) ws = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) hello = NULL;
  Share s = { .h = h, .opus_since = -1 };
  guint received = 0;
  JsonObject *msg;

  echod_test_start_session (h, SESSION);
  share_for (&s, 500, POLL_NONE);
  g_assert_cmpfloat (opus_sessions (h), ==, 0);

  ws = echod_harness_ws_connect (h, "/api/share/" SESSION "/ws?format=opus", NULL, &error);
  g_assert_no_error (error);
  hello = echod_socket_next (ws, GATE_WAIT_MS);
  g_assert_nonnull (hello);
  g_assert_cmpstr (json_object_get_string_member (hello, "type"), ==, "hello");
  /* on for as long as the client is there: three times the poll window */
  share_for (&s, 3000, POLL_NONE);
  g_assert_cmpfloat (opus_sessions (h), ==, 1);
  while ((msg = echod_socket_next (ws, 0)) != NULL) {
    if (g_strcmp0 (json_object_get_string_member (msg, "type"), "audio") == 0) {
      assert_opus_packet (json_object_get_object_member (msg, "chunk"));
      received++;
    }
    json_object_unref (msg);
  }
  g_test_message ("3 s over the WebSocket: %u packets", received);
  /* 150 were encoded; most of them, whatever the scheduling */
  g_assert_cmpuint (received, >=, 50);

  /* gone: off */
  g_clear_pointer (&ws, echod_socket_free);
  share_until_opus_sessions (&s, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/echod/opus/poll-gate", test_poll_gate);
  g_test_add_func ("/echod/opus/websocket-hold", test_websocket_hold);

  return g_test_run ();
}
