/* test-echod-share.c: the Music Share API of a real echod, over HTTP, as the seed
 * (/work/shared/seeds/004) and the echod contract specify it. Each case starts its own
 * echod (echod-harness.h) on a fresh data directory, or under tests/lib/pg-sandbox on a
 * fresh PostgreSQL database. It proves:
 *  - start: 200 with the seed's fields, 409 for an active id, 400 for ids that are not six
 *    digits (and for bodies that are not {"sessionId": string}), 503 at max-sessions;
 *  - metadata: POST 200 {listenersNotified}, GET returns what was posted (numbers as
 *    written, unknown fields kept), 404 before any and for unknown sessions, 404 once the
 *    TTL ran out (time scaled with ECHO_TEST_TIME_SCALE);
 *  - audio: posted float chunks come back bit for bit; since=-1 gives the newest, since=N
 *    the ones after N, at most 10 (and limit=), 204 when there is nothing new;
 *  - bad audio (malformed JSON, wrong types, bad base64, a length that is not whole frames,
 *    a format change, a sequence going backwards) gets its 400 and loses nothing already
 *    buffered; a retried sequence number is 200 buffered:false;
 *  - stop: 200 with duration and the decoded byte count; then status 404 ended/stopped and
 *    audio/metadata 404 SESSION_ENDED; the id can be started again;
 *  - status: active fields, the listener count from pollers, 404 isActive:false;
 *  - auth: 401 with WWW-Authenticate for missing and wrong tokens, counted in /metrics;
 *    /health is public;
 *  - routes: 404 ROUTE_NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow, CORS preflight and
 *    headers only for allowed origins;
 *  - 413 for bodies over the limits (by Content-Length and chunked), 429 with Retry-After
 *    when a session's metadata is flooded; echod keeps serving after each;
 *  - /health has the seed's shape; /metrics has the contract's series;
 *  - a bad configuration makes echod exit 2 with a message naming the key.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/wait.h>

#include "config.h"
#include "echod-test-util.h"

#define RATE 44100
#define CHANNELS 2
#define FRAMES 1024

static void
test_start (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\nmax-sessions=2\n", 0);
  const char *bad_bodies[] = {
    "{\"sessionId\":\"12345\"}", "{\"sessionId\":\"1234567\"}", "{\"sessionId\":\"12a456\"}",
    "{\"sessionId\":\" 123456\"}", "{\"sessionId\":\"\"}",
  };
  const char *invalid_bodies[] = {
    "{\"sessionId\":123456}", "{}", "[\"123456\"]", "{\"sessionId\":\"123456\"", "",
  };
  guint i;

  echod_test_start_session (h, "123456");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start",
        "{\"sessionId\":\"123456\"}");
    echod_reply_assert_error (reply, 409, "SESSION_EXISTS");
  }
  for (i = 0; i < G_N_ELEMENTS (bad_bodies); i++) {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start",
        bad_bodies[i]);
    echod_reply_assert_error (reply, 400, "INVALID_SESSION_ID");
  }
  for (i = 0; i < G_N_ELEMENTS (invalid_bodies); i++) {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start",
        invalid_bodies[i]);

    if (reply->status != 400)
      g_error ("body '%s': %u %s", invalid_bodies[i], reply->status, reply->text);
    echod_reply_assert_error (reply, 400, json_object_get_string_member (echod_reply_object
            (reply), "code"));
  }

  echod_test_start_session (h, "000001");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start",
        "{\"sessionId\":\"000002\"}");
    echod_reply_assert_error (reply, 503, "SESSION_LIMIT");
  }
  /* stopping one frees a place */
  {
    g_autoptr (EchodReply) stop = echod_harness_request (h, "POST", "/api/share/000001/stop",
        NULL);
    g_assert_cmpuint (stop->status, ==, 200);
  }
  echod_test_start_session (h, "000002");
}

static void
test_metadata (void)
{
  /* rate limits are test_rate_limited's business */
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\nmetadata-burst=100\n", 0);
  const char *metadata = "{\"title\":\"Song Title\",\"artist\":\"Artist Name\","
      "\"lyrics\":\"[00:12.50]Lyrics line 1\\n[00:15.80]Lyrics line 2\","
      "\"hasSyncedLyrics\":true,\"elapsedSeconds\":45.2,\"totalSeconds\":180.5,"
      "\"thumbnailData\":null,\"timestamp\":1234567890123,\"extra\":{\"kept\":[1,2]}}";

  echod_test_start_session (h, "111111");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/111111/metadata", NULL);
    echod_reply_assert_error (reply, 404, "METADATA_NOT_FOUND");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/111111/metadata", metadata);
    JsonObject *obj = echod_reply_object (reply);

    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_true (json_object_get_boolean_member (obj, "success"));
    /* the GET just before counts as a polling listener, with or without metadata */
    g_assert_cmpint (json_object_get_int_member (obj, "listenersNotified"), ==, 1);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/111111/metadata", NULL);

    g_assert_cmpuint (reply->status, ==, 200);
    /* served as posted: 45.2 stays 45.2, unknown members stay */
    g_assert_cmpstr (reply->text, ==, metadata);
    g_assert_cmpstr (soup_message_headers_get_content_type (reply->headers, NULL), ==,
        "application/json");
  }
  /* a second receiver; the first one polling again is still one listener */
  {
    const char *other[] = { "X-Echo-Listener", "another receiver", NULL };
    g_autoptr (EchodReply) get = echod_harness_request_full (h, "GET",
        "/api/share/111111/metadata", NULL, NULL, 0, other);
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/111111/metadata", "{\"title\":\"Second\"}");

    g_assert_cmpuint (get->status, ==, 200);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_cmpint (echod_test_member_int (reply, "listenersNotified"), ==, 2);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/111111/metadata", "{\"title\":42}");
    echod_reply_assert_error (reply, 400, "INVALID_FIELD");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/111111/metadata", "{\"elapsedSeconds\":-1}");
    echod_reply_assert_error (reply, 400, "INVALID_FIELD");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/111111/metadata", "{\"title\":");
    echod_reply_assert_error (reply, 400, "INVALID_JSON");
  }
  /* the rejected posts changed nothing */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/111111/metadata", NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_cmpstr (reply->text, ==, "{\"title\":\"Second\"}");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/999999/metadata", NULL);
    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/999999/metadata", "{}");
    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
  }
}

static void
test_metadata_ttl (void)
{
  /* 30 s of TTL at 30x: about a second; rates are 30x too, so one POST is never refused */
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 30);
  gint64 deadline;
  guint status = 200;

  echod_test_start_session (h, "222222");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/222222/metadata", "{\"title\":\"Fleeting\"}");
    g_assert_cmpuint (reply->status, ==, 200);
  }
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (status == 200 && g_get_monotonic_time () < deadline) {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/222222/metadata", NULL);

    status = reply->status;
    if (status != 200)
      echod_reply_assert_error (reply, 404, "METADATA_NOT_FOUND");
    else
      echod_harness_spin (100);
  }
  g_assert_cmpuint (status, ==, 404);
  /* the session itself is still active */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/222222/status",
        NULL);
    g_assert_cmpuint (reply->status, ==, 200);
  }
}

static JsonArray *
reply_array (EchodReply *reply)
{
  g_assert_cmpuint (reply->status, ==, 200);
  g_assert_nonnull (reply->json);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (reply->json));
  return json_node_get_array (reply->json);
}

/* Asserts a GET audio reply holds chunks first..last, in order, bit-exact. */
static void
assert_chunks (EchodReply *reply, gint64 first, gint64 last)
{
  JsonArray *chunks = reply_array (reply);
  guint i;

  g_assert_cmpuint (json_array_get_length (chunks), ==, last - first + 1);
  for (i = 0; i < json_array_get_length (chunks); i++) {
    JsonObject *chunk = json_array_get_object_element (chunks, i);

    g_assert_cmpint (json_object_get_int_member (chunk, "sequenceNumber"), ==, first + i);
    echod_test_assert_chunk (chunk, RATE, CHANNELS, FRAMES);
  }
}

static EchodReply *
get_audio (EchodHarness *h, const char *id, const char *query)
{
  g_autofree char *path = g_strdup_printf ("/api/share/%s/audio%s", id, query);

  return echod_harness_request (h, "GET", path, NULL);
}

static void
test_audio (void)
{
  /* no rate limit in the way of posting 15 chunks at once */
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\naudio-burst=100\n", 0);
  gint64 seq;

  echod_test_start_session (h, "333333");
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=-1");
    g_assert_cmpuint (reply->status, ==, 204);
    g_assert_cmpuint (g_bytes_get_size (reply->body), ==, 0);
  }
  for (seq = 0; seq < 15; seq++)
    echod_test_post_chunk_ok (h, "333333", seq, RATE, CHANNELS, FRAMES);

  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=-1");
    assert_chunks (reply, 5, 14);
    g_assert_cmpstr (soup_message_headers_get_content_type (reply->headers, NULL), ==,
        "application/json");
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=0");
    assert_chunks (reply, 1, 10);
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=10");
    assert_chunks (reply, 11, 14);
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=3&limit=2");
    assert_chunks (reply, 4, 5);
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=14");
    g_assert_cmpuint (reply->status, ==, 204);
  }
  /* no since: the client's first request */
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "");
    assert_chunks (reply, 5, 14);
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?since=abc");
    echod_reply_assert_error (reply, 400, "INVALID_PARAMETER");
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "333333", "?limit=11");
    echod_reply_assert_error (reply, 400, "INVALID_PARAMETER");
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "444444", "?since=-1");
    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "12345", "?since=-1");
    echod_reply_assert_error (reply, 400, "INVALID_SESSION_ID");
  }
}

static void
assert_bad_audio (EchodHarness *h, const char *body, guint status, const char *code)
{
  g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/555555/audio",
      body);

  echod_reply_assert_error (reply, status, code);
}

static void
test_bad_audio_keeps_buffer (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\naudio-burst=100\n", 0);
  g_autofree float *samples = echod_test_samples (99, FRAMES * CHANNELS);
  g_autofree char *b64 = g_base64_encode ((const guchar *) samples, FRAMES * CHANNELS * 4);
  g_autofree char *odd = g_base64_encode ((const guchar *) samples, FRAMES * CHANNELS * 4 - 4);
  g_autofree char *body = NULL;
  gint64 seq;

  echod_test_start_session (h, "555555");
  for (seq = 0; seq < 4; seq++)
    echod_test_post_chunk_ok (h, "555555", seq, RATE, CHANNELS, FRAMES);

  assert_bad_audio (h, "{\"data\":", 400, "INVALID_JSON");
  assert_bad_audio (h, "not json at all", 400, "INVALID_JSON");
  assert_bad_audio (h, "[1,2,3]", 400, "INVALID_JSON");
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":\"44100\",\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4}", b64);
  assert_bad_audio (h, body, 400, "INVALID_FIELD");
  g_free (body);
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":44100,\"channels\":2,"
      "\"timestamp\":1}", b64);
  assert_bad_audio (h, body, 400, "INVALID_FIELD");
  g_free (body);
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":44100,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4.5}", b64);
  assert_bad_audio (h, body, 400, "INVALID_FIELD");
  assert_bad_audio (h, "{\"data\":\"!!!not base64!!!\",\"sampleRate\":44100,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4}", 400, "INVALID_FIELD");
  g_free (body);
  /* 8 bytes short of whole stereo frames */
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":44100,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4}", odd);
  assert_bad_audio (h, body, 400, "INVALID_FIELD");
  g_free (body);
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":48000,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4}", b64);
  assert_bad_audio (h, body, 400, "FORMAT_CHANGED");
  g_free (body);
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":44100,\"channels\":1,"
      "\"timestamp\":1,\"sequenceNumber\":4}", b64);
  assert_bad_audio (h, body, 400, "FORMAT_CHANGED");
  g_free (body);
  body = g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":1000,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":4}", b64);
  assert_bad_audio (h, body, 400, "INVALID_FIELD");

  /* a retry of a buffered chunk is accepted once, not buffered twice */
  {
    g_autofree float *again = echod_test_samples (2, FRAMES * CHANNELS);
    g_autoptr (EchodReply) reply = echod_test_post_chunk (h, "555555", 2, RATE, CHANNELS,
        again, FRAMES);
    JsonObject *obj = echod_reply_object (reply);

    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_false (json_object_get_boolean_member (obj, "buffered"));
  }
  /* a jump forward is fine, going back below it is not */
  echod_test_post_chunk_ok (h, "555555", 10, RATE, CHANNELS, FRAMES);
  {
    g_autofree float *late = echod_test_samples (7, FRAMES * CHANNELS);
    g_autoptr (EchodReply) reply = echod_test_post_chunk (h, "555555", 7, RATE, CHANNELS,
        late, FRAMES);
    echod_reply_assert_error (reply, 400, "SEQUENCE_BACKWARDS");
  }

  /* everything buffered before is still there, exactly */
  {
    g_autoptr (EchodReply) reply = get_audio (h, "555555", "?since=-1");
    JsonArray *chunks = reply_array (reply);
    const gint64 expected[] = { 0, 1, 2, 3, 10 };
    guint i;

    g_assert_cmpuint (json_array_get_length (chunks), ==, G_N_ELEMENTS (expected));
    for (i = 0; i < G_N_ELEMENTS (expected); i++) {
      JsonObject *chunk = json_array_get_object_element (chunks, i);

      g_assert_cmpint (json_object_get_int_member (chunk, "sequenceNumber"), ==, expected[i]);
      echod_test_assert_chunk (chunk, RATE, CHANNELS, FRAMES);
    }
  }
  /* and echod still starts sessions */
  echod_test_start_session (h, "555556");
}

static void
test_stop (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  JsonObject *obj;
  gint64 seq;

  echod_test_start_session (h, "666666");
  for (seq = 0; seq < 3; seq++)
    echod_test_post_chunk_ok (h, "666666", seq, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/666666/stop",
        NULL);

    g_assert_cmpuint (reply->status, ==, 200);
    obj = echod_reply_object (reply);
    g_assert_true (json_object_get_boolean_member (obj, "success"));
    g_assert_cmpfloat (json_object_get_double_member (obj, "sessionDuration"), >=, 0);
    g_assert_cmpfloat (json_object_get_double_member (obj, "sessionDuration"), <, 600);
    g_assert_cmpint (json_object_get_int_member (obj, "bytesTransferred"), ==,
        3 * FRAMES * CHANNELS * 4);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/666666/status",
        NULL);

    echod_reply_assert_error (reply, 404, "SESSION_ENDED");
    obj = echod_reply_object (reply);
    g_assert_false (json_object_get_boolean_member (obj, "isActive"));
    g_assert_true (json_object_get_boolean_member (obj, "ended"));
    g_assert_cmpstr (json_object_get_string_member (obj, "reason"), ==, "stopped");
    g_assert_cmpint (json_object_get_int_member (obj, "endedAt"), >,
        G_GINT64_CONSTANT (1600000000000));
  }
  {
    g_autoptr (EchodReply) reply = get_audio (h, "666666", "?since=-1");
    echod_reply_assert_error (reply, 404, "SESSION_ENDED");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/666666/metadata", NULL);
    echod_reply_assert_error (reply, 404, "SESSION_ENDED");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/666666/stop",
        NULL);
    echod_reply_assert_error (reply, 404, "SESSION_ENDED");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/666666/audio", "{}");
    echod_reply_assert_error (reply, 404, "SESSION_ENDED");
  }
  /* an ended id starts afresh */
  echod_test_start_session (h, "666666");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/666666/status",
        NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_true (json_object_get_null_member (echod_reply_object (reply), "latestSequence"));
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/777777/stop",
        NULL);
    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
  }
}

static void
test_status (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  const char *listener_a[] = { "X-Echo-Listener", "receiver-a", NULL };
  const char *listener_b[] = { "X-Echo-Listener", "receiver-b", NULL };
  JsonObject *obj, *current;

  echod_test_start_session (h, "888888");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/888888/status",
        NULL);

    g_assert_cmpuint (reply->status, ==, 200);
    obj = echod_reply_object (reply);
    g_assert_true (json_object_get_boolean_member (obj, "isActive"));
    g_assert_cmpint (json_object_get_int_member (obj, "startTime"), >,
        G_GINT64_CONSTANT (1600000000000));
    g_assert_cmpint (json_object_get_int_member (obj, "listenerCount"), ==, 0);
    g_assert_true (json_object_get_null_member (obj, "currentMetadata"));
  }

  echod_test_post_chunk_ok (h, "888888", 41, RATE, CHANNELS, FRAMES);
  echod_test_post_chunk_ok (h, "888888", 42, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/888888/metadata", "{\"title\":\"T\",\"artist\":\"A\",\"lyrics\":\"L\"}");
    g_assert_cmpuint (reply->status, ==, 200);
  }
  /* two receivers polling, one of them twice */
  {
    g_autoptr (EchodReply) a1 = echod_harness_request_full (h, "GET",
        "/api/share/888888/audio?since=-1", NULL, NULL, 0, listener_a);
    g_autoptr (EchodReply) a2 = echod_harness_request_full (h, "GET",
        "/api/share/888888/metadata", NULL, NULL, 0, listener_a);
    g_autoptr (EchodReply) b = echod_harness_request_full (h, "GET",
        "/api/share/888888/audio?since=-1", NULL, NULL, 0, listener_b);

    g_assert_cmpuint (a1->status, ==, 200);
    g_assert_cmpuint (a2->status, ==, 200);
    g_assert_cmpuint (b->status, ==, 200);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/888888/status",
        NULL);

    g_assert_cmpuint (reply->status, ==, 200);
    obj = echod_reply_object (reply);
    g_assert_cmpint (json_object_get_int_member (obj, "listenerCount"), ==, 2);
    current = json_object_get_object_member (obj, "currentMetadata");
    g_assert_nonnull (current);
    g_assert_cmpstr (json_object_get_string_member (current, "title"), ==, "T");
    g_assert_cmpstr (json_object_get_string_member (current, "artist"), ==, "A");
    g_assert_false (json_object_has_member (current, "lyrics"));
    g_assert_cmpint (json_object_get_int_member (obj, "sampleRate"), ==, RATE);
    g_assert_cmpint (json_object_get_int_member (obj, "channels"), ==, CHANNELS);
    g_assert_cmpint (json_object_get_int_member (obj, "latestSequence"), ==, 42);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/000000/status",
        NULL);

    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
    g_assert_false (json_object_get_boolean_member (echod_reply_object (reply), "isActive"));
  }
}

static void
test_auth (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *wrong[] = { "", "Bearer wrong", "Bearer echo-test-toke", "echo-test-token",
    "bearer echo-test-token", ECHOD_TEST_TOKEN "x" };
  guint i;

  before = echod_test_metrics (h);
  for (i = 0; i < G_N_ELEMENTS (wrong); i++) {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "POST", "/api/share/start",
        wrong[i], "{\"sessionId\":\"123456\"}", -1, NULL);

    echod_reply_assert_error (reply, 401, "UNAUTHORIZED");
    g_assert_nonnull (soup_message_headers_get_one (reply->headers, "WWW-Authenticate"));
    g_assert_true (g_str_has_prefix (soup_message_headers_get_one (reply->headers,
                "WWW-Authenticate"), "Bearer"));
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET",
        "/api/share/123456/status", "", NULL, 0, NULL);
    echod_reply_assert_error (reply, 401, "UNAUTHORIZED");
  }
  after = echod_test_metrics (h);
  g_assert_cmpfloat (echod_metrics_value (after, "echo_auth_failures_total") -
      echod_metrics_value (before, "echo_auth_failures_total"), ==, G_N_ELEMENTS (wrong) + 1);

  /* nothing was started by the refused requests */
  echod_test_start_session (h, "123456");
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET", "/health", "", NULL,
        0, NULL);
    g_assert_cmpuint (reply->status, ==, 200);
  }
}

static void
test_routes_and_cors (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  const char *allowed_origin[] = { "Origin", "http://localhost:3000", NULL };
  const char *foreign_origin[] = { "Origin", "https://evil.example", NULL };
  const char *preflight[] = { "Origin", "http://localhost:3000",
    "Access-Control-Request-Method", "POST",
    "Access-Control-Request-Headers", "authorization,content-type", NULL };

  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/nothing", NULL);
    echod_reply_assert_error (reply, 404, "ROUTE_NOT_FOUND");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/123456", NULL);
    echod_reply_assert_error (reply, 404, "ROUTE_NOT_FOUND");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/start", NULL);

    echod_reply_assert_error (reply, 405, "METHOD_NOT_ALLOWED");
    g_assert_cmpstr (soup_message_headers_get_one (reply->headers, "Allow"), ==,
        "POST, OPTIONS");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "DELETE",
        "/api/share/123456/audio", NULL);

    echod_reply_assert_error (reply, 405, "METHOD_NOT_ALLOWED");
    g_assert_cmpstr (soup_message_headers_get_one (reply->headers, "Allow"), ==,
        "POST, GET, OPTIONS");
  }
  /* a preflight needs no credentials */
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "OPTIONS",
        "/api/share/123456/audio", "", NULL, 0, preflight);
    const char *methods;

    g_assert_cmpuint (reply->status, ==, 204);
    g_assert_cmpstr (soup_message_headers_get_one (reply->headers,
            "Access-Control-Allow-Origin"), ==, "http://localhost:3000");
    methods = soup_message_headers_get_one (reply->headers, "Access-Control-Allow-Methods");
    g_assert_nonnull (methods);
    g_assert_nonnull (strstr (methods, "POST"));
    g_assert_nonnull (strstr (methods, "GET"));
    g_assert_nonnull (strstr (soup_message_headers_get_one (reply->headers,
                "Access-Control-Allow-Headers"), "Authorization"));
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "OPTIONS",
        "/api/share/123456/audio", "", NULL, 0, foreign_origin);

    g_assert_cmpuint (reply->status, ==, 204);
    g_assert_null (soup_message_headers_get_one (reply->headers,
            "Access-Control-Allow-Origin"));
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "OPTIONS", "/nothing", "",
        NULL, 0, preflight);
    echod_reply_assert_error (reply, 404, "ROUTE_NOT_FOUND");
  }
  /* actual requests: the allowed origin is echoed, also on errors; others get nothing */
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET",
        "/api/share/123456/status", NULL, NULL, 0, allowed_origin);

    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
    g_assert_cmpstr (soup_message_headers_get_one (reply->headers,
            "Access-Control-Allow-Origin"), ==, "http://localhost:3000");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET", "/health", NULL, NULL,
        0, foreign_origin);

    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_null (soup_message_headers_get_one (reply->headers,
            "Access-Control-Allow-Origin"));
  }
}

/* A body whose length the client does not announce: sent chunked. */
static guint
post_chunked (EchodHarness *h, const char *path, gsize size)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", echod_harness_port (h), path);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autofree char *data = g_malloc (size);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  memset (data, ' ', size);
  stream = g_memory_input_stream_new_from_data (g_steal_pointer (&data), size, g_free);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
      ECHOD_TEST_TOKEN);
  soup_message_set_request_body (msg, "application/json", stream, -1);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_headers_get_encoding (soup_message_get_request_headers (msg)),
      ==, SOUP_ENCODING_CHUNKED);
  return soup_message_get_status (msg);
}

static void
test_too_large (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\nmax-metadata-bytes=100000\n"
      "max-chunk-bytes=65536\n", 0);
  gsize big = 300000;
  g_autofree char *huge = g_malloc (big + 1);

  echod_test_start_session (h, "121212");
  memset (huge, ' ', big);
  huge[big] = '\0';
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/121212/metadata", huge);
    echod_reply_assert_error (reply, 413, "PAYLOAD_TOO_LARGE");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/121212/audio",
        huge);
    echod_reply_assert_error (reply, 413, "PAYLOAD_TOO_LARGE");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start", huge);
    echod_reply_assert_error (reply, 413, "PAYLOAD_TOO_LARGE");
  }
  g_assert_cmpuint (post_chunked (h, "/api/share/121212/metadata", big), ==, 413);
  /* a chunked body within the limit is read normally (and is not JSON) */
  g_assert_cmpuint (post_chunked (h, "/api/share/121212/metadata", 1000), ==, 400);
  /* a decoded chunk over max-chunk-bytes in a body that is not over the body limit */
  {
    guint frames = 65536 / 8 + 1;
    g_autofree float *samples = echod_test_samples (1, frames * 2);
    g_autoptr (EchodReply) reply = echod_test_post_chunk (h, "121212", 0, RATE, 2, samples,
        frames);
    echod_reply_assert_error (reply, 413, "PAYLOAD_TOO_LARGE");
  }
  /* still serving, and the session is untouched */
  echod_test_post_chunk_ok (h, "121212", 0, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/121212/status",
        NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_cmpint (echod_test_member_int (reply, "latestSequence"), ==, 0);
  }
}

static void
test_rate_limited (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  guint ok = 0, limited = 0, i;

  echod_test_start_session (h, "131313");
  /* burst 4 at 2/s: 12 back-to-back posts cannot all pass on any machine */
  for (i = 0; i < 12; i++) {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/131313/metadata", "{\"title\":\"flood\"}");

    if (reply->status == 200) {
      ok++;
    } else {
      const char *retry;

      echod_reply_assert_error (reply, 429, "RATE_LIMITED");
      retry = soup_message_headers_get_one (reply->headers, "Retry-After");
      g_assert_nonnull (retry);
      g_assert_cmpint (g_ascii_strtoll (retry, NULL, 10), >=, 1);
      limited++;
    }
  }
  g_test_message ("%u accepted, %u refused", ok, limited);
  g_assert_cmpuint (ok, >=, 4);
  g_assert_cmpuint (limited, >=, 1);
  /* audio has its own bucket */
  echod_test_post_chunk_ok (h, "131313", 0, RATE, CHANNELS, FRAMES);
}

static void
test_health_and_metrics (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autofree char *metrics = NULL;
  const char *series[] = {
    "echo_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}",
    "echo_http_requests_total{method=\"POST\",route=\"/api/share/start\",status=\"200\"}",
    "echo_http_request_duration_seconds_count{route=\"/health\"}",
    "echo_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"}",
    "echo_share_sessions",
    "echo_share_listeners",
    "echo_share_audio_bytes_in_total",
    "echo_share_audio_bytes_out_total",
    "echo_share_buffer_overflows_total",
    "echo_auth_failures_total",
    "echo_errors_total{code=\"ROUTE_NOT_FOUND\"}",
    "echo_pipeline_errors_total",
    "echo_websocket_clients",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "echo_build_info{version=\"" VERSION "\"}",
  };
  JsonObject *obj, *memory;
  guint i;

  echod_test_start_session (h, "141414");
  echod_test_post_chunk_ok (h, "141414", 0, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/nothing", NULL);
    g_assert_cmpuint (reply->status, ==, 404);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET", "/health", "", NULL, 0,
        NULL);

    g_assert_cmpuint (reply->status, ==, 200);
    obj = echod_reply_object (reply);
    g_assert_cmpuint (json_object_get_size (obj), ==, 4);
    g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "healthy");
    g_assert_cmpint (json_object_get_int_member (obj, "activeSessions"), ==, 1);
    g_assert_cmpint (json_object_get_int_member (obj, "uptime"), >=, 0);
    memory = json_object_get_object_member (obj, "memoryUsage");
    g_assert_nonnull (memory);
    g_assert_cmpint (json_object_get_int_member (memory, "used"), >, 0);
    g_assert_cmpint (json_object_get_int_member (memory, "total"), >=,
        json_object_get_int_member (memory, "used"));
  }

  metrics = echod_test_metrics (h);
  for (i = 0; i < G_N_ELEMENTS (series); i++) {
    if (echod_metrics_value (metrics, series[i]) < 0)
      g_error ("/metrics has no series %s:\n%s", series[i], metrics);
  }
  g_assert_cmpfloat (echod_metrics_value (metrics, "echo_share_sessions"), ==, 1);
  g_assert_cmpfloat (echod_metrics_value (metrics, "echo_share_audio_bytes_in_total"), ==,
      FRAMES * CHANNELS * 4);
  g_assert_cmpfloat (echod_metrics_value (metrics,
          "echo_errors_total{code=\"ROUTE_NOT_FOUND\"}"), ==, 1);
}

static void
test_metrics_private (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[auth]\nmetrics-public=false\n", 0);

  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET", "/metrics", "", NULL,
        0, NULL);
    echod_reply_assert_error (reply, 401, "UNAUTHORIZED");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/metrics", NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_nonnull (strstr (reply->text, "echo_http_requests_total"));
  }
}

static void
assert_config_refused (const char *config_text, const char *const *args, const char *named)
{
  g_autoptr (EchodHarness) h = echod_harness_new ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  if (config_text != NULL) {
    g_autofree char *dir = g_path_get_dirname (echod_harness_data_dir (h));
    g_autofree char *path = g_build_filename (dir, "bad.conf", NULL);
    g_autoptr (GError) error = NULL;

    g_file_set_contents (path, config_text, -1, &error);
    g_assert_no_error (error);
    g_ptr_array_add (argv, g_strdup_printf ("--config=%s", path));
  }
  g_ptr_array_add (argv, g_strdup ("--port=0"));
  g_ptr_array_add (argv, g_strdup_printf ("--data-dir=%s", echod_harness_data_dir (h)));
  for (; args != NULL && *args != NULL; args++)
    g_ptr_array_add (argv, g_strdup (*args));
  g_ptr_array_add (argv, NULL);

  status = echod_harness_run_to_exit (h, (const char *const *) argv->pdata, &out, &err);
  g_test_message ("stderr: %s", err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 2);
  g_assert_cmpstr (out, ==, "");
  if (strstr (err, named) == NULL)
    g_error ("the error does not name '%s': %s", named, err);
}

static void
test_bad_config (void)
{
  const char *bad_port[] = { "--port=70000", NULL };
  const char *bad_pipelines[] = { "--pipelines-dir=/nonexistent/echo-pipelines", NULL };

  assert_config_refused ("[share]\nmax-sessions=abc\n", NULL, "max-sessions");
  assert_config_refused ("[share]\nmax-sesions=5\n", NULL, "max-sesions");
  assert_config_refused ("[server]\ncors-origins=localhost:3000\n", NULL, "cors-origins");
  assert_config_refused (NULL, bad_port, "--port");
  assert_config_refused (NULL, bad_pipelines, "/nonexistent/echo-pipelines");
}

static void
test_version_and_help (void)
{
  g_autoptr (EchodHarness) h = echod_harness_new ();
  const char *version[] = { "--version", NULL };
  const char *help[] = { "--help", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  status = echod_harness_run_to_exit (h, version, &out, &err);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpstr (out, ==, "echod " VERSION "\n");
  g_free (out);
  g_free (err);
  status = echod_harness_run_to_exit (h, help, &out, &err);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_nonnull (strstr (out, "--config"));
  g_assert_nonnull (strstr (out, "token"));
}

/* The payload (middle segment) of a JWT, decoded. */
static JsonObject *
jwt_payload (const char *token)
{
  g_auto (GStrv) parts = g_strsplit (token, ".", -1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) b64 = NULL;
  g_autofree guchar *json = NULL;
  gsize len = 0;

  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  b64 = g_string_new (parts[1]);
  g_string_replace (b64, "-", "+", 0);
  g_string_replace (b64, "_", "/", 0);
  while (b64->len % 4 != 0)
    g_string_append_c (b64, '=');
  json = g_base64_decode (b64->str, &len);
  json_parser_load_from_data (parser, (const char *) json, (gssize) len, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_token (void)
{
  g_autoptr (EchodHarness) h = echod_harness_new ();
  g_autoptr (JsonObject) payload = NULL;
  const char *args[] = { "token", "--sub", "alice", "--role", "dj", "--role", "host",
    "--ttl", "600", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonArray *roles;
  int status;

  /* no secret configured: a configuration error */
  status = echod_harness_run_to_exit (h, args, &out, &err);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
  g_assert_nonnull (strstr (err, "jwt-secret"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  echod_harness_setenv (h, "ECHO_JWT_SECRET", "a-test-secret-of-at-least-32-characters!");
  status = echod_harness_run_to_exit (h, args, &out, &err);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_strstrip (out);
  payload = jwt_payload (out);
  g_assert_cmpstr (json_object_get_string_member (payload, "sub"), ==, "alice");
  roles = json_object_get_array_member (payload, "roles");
  g_assert_cmpuint (json_array_get_length (roles), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (roles, 0), ==, "dj");
  g_assert_cmpstr (json_array_get_string_element (roles, 1), ==, "host");
  g_assert_cmpint (json_object_get_int_member (payload, "exp") -
      json_object_get_int_member (payload, "iat"), ==, 600);
  /* the secret itself is never printed */
  g_assert_null (strstr (out, "a-test-secret"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod/share/start", test_start);
  g_test_add_func ("/echod/share/metadata", test_metadata);
  g_test_add_func ("/echod/share/metadata-ttl", test_metadata_ttl);
  g_test_add_func ("/echod/share/audio", test_audio);
  g_test_add_func ("/echod/share/bad-audio-keeps-buffer", test_bad_audio_keeps_buffer);
  g_test_add_func ("/echod/share/stop", test_stop);
  g_test_add_func ("/echod/share/status", test_status);
  g_test_add_func ("/echod/share/auth", test_auth);
  g_test_add_func ("/echod/http/routes-and-cors", test_routes_and_cors);
  g_test_add_func ("/echod/http/too-large", test_too_large);
  g_test_add_func ("/echod/share/rate-limited", test_rate_limited);
  g_test_add_func ("/echod/http/health-and-metrics", test_health_and_metrics);
  g_test_add_func ("/echod/http/metrics-private", test_metrics_private);
  g_test_add_func ("/echod/config/bad-config", test_bad_config);
  g_test_add_func ("/echod/config/version-and-help", test_version_and_help);
  g_test_add_func ("/echod/config/token", test_token);
  return g_test_run ();
}
