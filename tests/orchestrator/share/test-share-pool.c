/* Tests of share sessions and their pool, with a real file store in a temp directory and a
 * clock the test moves by hand (echo_share_pool_set_clock), so timeouts are exact and no
 * test sleeps. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "echo-share-pool.h"
#include "share-test-util.h"

#define CADENCE_MS 93   /* the seed's 4096 frames at 44.1 kHz */

/* Warnings of echo-share, collected instead of aborting the test; a test that expects some
 * checks and clears them, and teardown fails on any left over. */
static GPtrArray *share_warnings;

static GLogWriterOutput
test_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
    gpointer user_data)
{
  const char *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++) {
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }
  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "echo-share") == 0) {
    g_ptr_array_add (share_warnings, g_strdup (message));
    return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  ShareTestStore store;
  ShareTestClock clock;
  EchoShareLimits limits;
  EchoSharePool *pool;
  GString *events;      /* what callbacks and signals saw, in order */
} Fixture;

static void
pool_started_cb (EchoSharePool *pool, EchoShareSession *session, gpointer user_data)
{
  Fixture *f = user_data;

  g_string_append_printf (f->events, "started:%s;", echo_share_session_get_id (session));
}

static void
pool_ended_cb (EchoSharePool *pool, EchoShareSession *session, const char *reason,
    gpointer user_data)
{
  Fixture *f = user_data;

  g_string_append_printf (f->events, "ended:%s:%s;", echo_share_session_get_id (session), reason);
}

static void
make_pool (Fixture *f)
{
  f->pool = echo_share_pool_new (&f->limits, f->store.store);
  share_test_clock_install (&f->clock, f->pool);
  g_signal_connect (f->pool, "session-started", G_CALLBACK (pool_started_cb), f);
  g_signal_connect (f->pool, "session-ended", G_CALLBACK (pool_ended_cb), f);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  share_test_store_open (&f->store);
  share_test_clock_init (&f->clock);
  echo_share_limits_init_defaults (&f->limits);
  f->events = g_string_new (NULL);
  make_pool (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->pool);
  for (guint i = 0; i < share_warnings->len; i++)
    g_printerr ("unexpected warning: %s\n", (char *) g_ptr_array_index (share_warnings, i));
  g_assert_cmpuint (share_warnings->len, ==, 0);
  share_test_store_close (&f->store);
  g_string_free (f->events, TRUE);
}

static EchoShareSession *
start (Fixture *f, const char *id)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = echo_share_pool_start (f->pool, id, &error);

  g_assert_no_error (error);
  g_assert_nonnull (session);
  g_assert_true (echo_share_session_is_active (session));
  return session;
}

/* Posts one chunk at the seed's cadence; returns "buffered". */
static gboolean
post_chunk (Fixture *f, EchoShareSession *session, gint64 sequence, guint rate, guint channels,
    guint frames)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = share_test_audio_body (sequence, rate, channels, frames,
      f->clock.wall_ms);
  gboolean buffered = FALSE;

  share_test_clock_advance_ms (&f->clock, CADENCE_MS);
  g_assert_true (echo_share_session_post_audio (session, body, strlen (body), &buffered, &error));
  g_assert_no_error (error);
  return buffered;
}

static void
post_chunk_expect_error (Fixture *f, EchoShareSession *session, gint64 sequence, guint rate,
    guint channels, guint frames, int code, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = share_test_audio_body (sequence, rate, channels, frames, 0);
  gboolean buffered = TRUE;

  share_test_clock_advance_ms (&f->clock, CADENCE_MS);
  g_assert_false (echo_share_session_post_audio (session, body, strlen (body), &buffered, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, code);
  if (message != NULL)
    g_assert_cmpstr (error->message, ==, message);
}

static void
post_metadata (Fixture *f, EchoShareSession *session, const char *json)
{
  g_autoptr (GError) error = NULL;

  share_test_clock_advance_ms (&f->clock, 500);
  g_assert_true (echo_share_session_post_metadata (session, json, strlen (json), NULL, &error));
  g_assert_no_error (error);
}

/* Sequence numbers of a GET audio reply ("" for 204). */
static char *
get_sequences (EchoShareSession *session, gint64 since, guint limit, EchoShareAudioFormat format)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  JsonArray *array;

  g_assert_true (echo_share_session_get_audio_json (session, since, limit, format, &json,
          &error));
  g_assert_no_error (error);
  if (json == NULL)
    return g_strdup ("");
  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  array = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (array); i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? "," : "",
        json_object_get_int_member (json_array_get_object_element (array, i), "sequenceNumber"));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

#define assert_sequences(session, since, limit, expected) \
  G_STMT_START { \
    g_autofree char *got_ = get_sequences ((session), (since), (limit), \
        ECHO_SHARE_AUDIO_FORMAT_FLOAT); \
    g_assert_cmpstr (got_, ==, (expected)); \
  } G_STMT_END

static JsonObject *
parse_object (const char *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* ---- start / lookup ---- */

static void
test_start_and_conflict (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "123456");
  g_autofree char *stored = NULL;
  g_autoptr (JsonObject) doc = NULL;

  g_assert_cmpstr (echo_share_session_get_id (session), ==, "123456");
  g_assert_cmpint (echo_share_session_get_start_time_ms (session), ==, f->clock.wall_ms);
  g_assert_false (echo_share_session_get_format (session, NULL, NULL));
  g_assert_cmpint (echo_share_session_get_latest_sequence (session), ==, -1);
  g_assert_true (echo_share_pool_lookup (f->pool, "123456", &error) == session);
  g_assert_no_error (error);
  g_assert_cmpstr (f->events->str, ==, "started:123456;");

  /* Persisted on start. */
  stored = echo_store_get (f->store.store, ECHO_SHARE_STORE_COLLECTION, "123456", &error);
  g_assert_no_error (error);
  g_assert_nonnull (stored);
  doc = parse_object (stored);
  g_assert_cmpstr (json_object_get_string_member (doc, "state"), ==, "active");

  g_assert_null (echo_share_pool_start (f->pool, "123456", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_EXISTS);
  g_assert_cmpstr (error->message, ==, "Session ID already in use");
  g_clear_error (&error);

  g_assert_null (echo_share_pool_start (f->pool, "12345", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_SESSION_ID);
  g_clear_error (&error);
  g_assert_null (echo_share_pool_start (f->pool, "abcdef", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_SESSION_ID);
  g_clear_error (&error);

  g_assert_null (echo_share_pool_lookup (f->pool, "654321", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "Session not found");
  g_clear_error (&error);
  g_assert_null (echo_share_pool_lookup (f->pool, "../../etc", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_SESSION_ID);
  g_assert_cmpuint (echo_share_pool_get_active_count (f->pool), ==, 1);
}

static void
test_session_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *first;

  g_clear_object (&f->pool);
  f->limits.max_sessions = 3;
  make_pool (f);

  first = start (f, "100001");
  start (f, "100002");
  start (f, "100003");
  g_assert_null (echo_share_pool_start (f->pool, "100004", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_LIMIT);
  g_assert_cmpuint (echo_share_error_http_status (error->code), ==, 503);
  g_clear_error (&error);
  /* The limit counts active sessions: a conflict still says 409. */
  g_assert_null (echo_share_pool_start (f->pool, "100001", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_EXISTS);
  g_clear_error (&error);

  /* A tombstone does not hold a slot. */
  g_assert_true (echo_share_session_stop (first, NULL, NULL, &error));
  g_assert_no_error (error);
  start (f, "100004");
  g_assert_cmpuint (echo_share_pool_get_active_count (f->pool), ==, 3);
}

static void
test_restart_after_stop (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "222222");
  g_autoptr (EchoShareSession) old = g_object_ref (session);
  gint64 ended_at = 0, stopped_at;
  const char *reason = NULL;

  post_chunk (f, session, 7, 48000, 2, 480);
  stopped_at = f->clock.wall_ms;
  g_assert_true (echo_share_session_stop (session, NULL, NULL, &error));
  g_assert_no_error (error);

  share_test_clock_advance_ms (&f->clock, 1000);
  g_assert_null (echo_share_pool_lookup (f->pool, "222222", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_assert_true (echo_share_error_get_ended (error, &ended_at, &reason));
  g_assert_cmpint (ended_at, ==, stopped_at);
  g_assert_cmpstr (reason, ==, "stopped");
  g_clear_error (&error);

  /* Started again: a fresh session replaces the tombstone. */
  session = start (f, "222222");
  g_assert_true (session != old);
  g_assert_false (echo_share_session_get_format (session, NULL, NULL));
  g_assert_cmpint (echo_share_session_get_latest_sequence (session), ==, -1);
  g_assert_cmpuint (echo_share_session_get_bytes_in (session), ==, 0);
  g_assert_true (echo_share_pool_lookup (f->pool, "222222", &error) == session);
  /* Sequence numbers start over in the new session. */
  g_assert_true (post_chunk (f, session, 0, 44100, 1, 441));
  /* The old object still answers "ended" (e.g. for a WebSocket that held it). */
  g_assert_false (echo_share_session_is_active (old));
  g_assert_null (echo_share_session_status_json (old, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_assert_cmpstr (f->events->str, ==, "started:222222;ended:222222:stopped;started:222222;");
}

/* ---- audio ---- */

static void
test_audio_format_and_sequence (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "333333");
  EchoSharePoolStats stats;
  guint rate = 0, channels = 0;
  g_autofree char *stored = NULL;
  g_autoptr (JsonObject) doc = NULL;

  g_assert_true (post_chunk (f, session, 10, 44100, 2, 4096));
  g_assert_true (echo_share_session_get_format (session, &rate, &channels));
  g_assert_cmpuint (rate, ==, 44100);
  g_assert_cmpuint (channels, ==, 2);
  /* The fixed format is persisted at once. */
  stored = echo_store_get (f->store.store, ECHO_SHARE_STORE_COLLECTION, "333333", &error);
  doc = parse_object (stored);
  g_assert_cmpint (json_object_get_int_member (doc, "sampleRate"), ==, 44100);
  g_assert_cmpint (json_object_get_int_member (doc, "channels"), ==, 2);

  post_chunk_expect_error (f, session, 11, 48000, 2, 4096, ECHO_SHARE_ERROR_FORMAT_CHANGED,
      "sampleRate changed from 44100 to 48000 mid-session");
  post_chunk_expect_error (f, session, 11, 44100, 1, 4096, ECHO_SHARE_ERROR_FORMAT_CHANGED,
      "channels changed from 2 to 1 mid-session");

  g_assert_true (post_chunk (f, session, 11, 44100, 2, 4096));
  g_assert_true (post_chunk (f, session, 12, 44100, 2, 4096));
  /* Retries of buffered chunks are accepted but not buffered again. */
  g_assert_false (post_chunk (f, session, 12, 44100, 2, 4096));
  g_assert_false (post_chunk (f, session, 10, 44100, 2, 4096));
  /* A forward jump is a gap, accepted. */
  g_assert_true (post_chunk (f, session, 20, 44100, 2, 4096));
  /* Below the newest and never buffered (inside the gap): refused. */
  post_chunk_expect_error (f, session, 15, 44100, 2, 4096, ECHO_SHARE_ERROR_SEQUENCE_BACKWARDS,
      "sequenceNumber 15 is below the newest (20) and no longer buffered");
  g_assert_cmpint (echo_share_session_get_latest_sequence (session), ==, 20);
  assert_sequences (session, -1, 10, "10,11,12,20");

  /* Validation errors of the body pass through with their codes. */
  post_chunk_expect_error (f, session, 21, 44100, 2, 0, ECHO_SHARE_ERROR_INVALID_FIELD,
      "data must not be empty");
  {
    gboolean buffered;

    share_test_clock_advance_ms (&f->clock, CADENCE_MS);
    g_assert_false (echo_share_session_post_audio (session, "{\"data\":", 8, &buffered, &error));
    g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON);
    g_clear_error (&error);
  }

  echo_share_pool_get_stats (f->pool, &stats);
  g_assert_cmpuint (stats.sequence_gaps, ==, 1);
  g_assert_cmpuint (stats.audio_bytes_in, ==, 4 * 4096 * 2 * 4);
  g_assert_cmpuint (echo_share_session_get_bytes_in (session), ==, 4 * 4096 * 2 * 4);
}

static void
test_ring_seconds_and_overflow (Fixture *f, gconstpointer data)
{
  EchoShareSession *session;
  EchoSharePoolStats stats;
  g_autofree char *got = NULL;

  g_clear_object (&f->pool);
  f->limits.audio_buffer_seconds = 1;
  make_pool (f);
  session = start (f, "444444");

  /* 1 s at 44.1 kHz holds ten 4096-frame chunks. With no receiver, the 10 evicted ones
   * are overflows. */
  for (gint64 s = 0; s < 20; s++)
    post_chunk (f, session, s, 44100, 1, 4096);
  assert_sequences (session, 0, 10, "10,11,12,13,14,15,16,17,18,19");
  echo_share_pool_get_stats (f->pool, &stats);
  g_assert_cmpuint (stats.buffer_overflows, ==, 10);

  /* A receiver that keeps up: nothing more overflows. */
  for (gint64 s = 20; s < 60; s++) {
    g_autofree char *expected = g_strdup_printf ("%" G_GINT64_FORMAT, s);

    post_chunk (f, session, s, 44100, 1, 4096);
    assert_sequences (session, s - 1, 10, expected);
  }
  echo_share_pool_get_stats (f->pool, &stats);
  g_assert_cmpuint (stats.buffer_overflows, ==, 10);

  /* At 8 kHz the same second holds fewer frames-per-chunk worth: by frames, not chunks. */
  session = start (f, "444445");
  for (gint64 s = 0; s < 20; s++)
    post_chunk (f, session, s, 8000, 2, 2000);
  got = get_sequences (session, 0, 10, ECHO_SHARE_AUDIO_FORMAT_FLOAT);
  g_assert_cmpstr (got, ==, "16,17,18,19");
}

static void
test_get_audio (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "555555");
  g_autofree char *json = NULL;
  g_autofree char *body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  EchoSharePoolStats stats;
  JsonArray *array;
  JsonObject *chunk;
  guint64 out_before;

  /* Nothing yet: 204. */
  g_assert_true (echo_share_session_get_audio_json (session, -1, 10,
          ECHO_SHARE_AUDIO_FORMAT_FLOAT, &json, &error));
  g_assert_no_error (error);
  g_assert_null (json);

  for (gint64 s = 0; s < 25; s++)
    post_chunk (f, session, s, 44100, 2, 4096);

  assert_sequences (session, -1, 10, "15,16,17,18,19,20,21,22,23,24");
  assert_sequences (session, -1, 2, "23,24");
  assert_sequences (session, 3, 10, "4,5,6,7,8,9,10,11,12,13");
  assert_sequences (session, 20, 10, "21,22,23,24");
  assert_sequences (session, 24, 10, "");
  assert_sequences (session, 99, 10, "");
  /* More than 10 is clamped to 10. */
  assert_sequences (session, 0, 50, "1,2,3,4,5,6,7,8,9,10");

  /* The seed's chunk object, with the data as posted. */
  echo_share_pool_get_stats (f->pool, &stats);
  out_before = stats.audio_bytes_out;
  g_assert_true (echo_share_session_get_audio_json (session, 23, 10,
          ECHO_SHARE_AUDIO_FORMAT_FLOAT, &json, &error));
  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  array = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  chunk = json_array_get_object_element (array, 0);
  g_assert_cmpuint (json_object_get_size (chunk), ==, 5);
  g_assert_cmpint (json_object_get_int_member (chunk, "sampleRate"), ==, 44100);
  g_assert_cmpint (json_object_get_int_member (chunk, "channels"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (chunk, "sequenceNumber"), ==, 24);
  body = share_test_audio_body (24, 44100, 2, 4096, json_object_get_int_member (chunk,
          "timestamp"));
  g_assert_nonnull (strstr (body, json_object_get_string_member (chunk, "data")));
  echo_share_pool_get_stats (f->pool, &stats);
  g_assert_cmpuint (stats.audio_bytes_out - out_before, ==, strlen (json));

  /* Opus: empty until the media pipeline pushes packets, then numbered from 0. */
  {
    g_autofree char *none = get_sequences (session, -1, 10, ECHO_SHARE_AUDIO_FORMAT_OPUS);
    g_autofree char *some = NULL;
    g_autofree char *opus = NULL;
    g_autoptr (JsonParser) p = json_parser_new ();
    const guint8 packet[] = { 0xfc, 0xff, 0xfe };
    JsonObject *o;

    g_assert_cmpstr (none, ==, "");
    for (int i = 0; i < 3; i++)
      echo_share_session_push_opus (session, packet, sizeof packet, 960, 1000 + 20 * i);
    some = get_sequences (session, -1, 10, ECHO_SHARE_AUDIO_FORMAT_OPUS);
    g_assert_cmpstr (some, ==, "0,1,2");
    g_assert_true (echo_share_session_get_audio_json (session, 1, 10,
            ECHO_SHARE_AUDIO_FORMAT_OPUS, &opus, &error));
    g_assert_true (json_parser_load_from_data (p, opus, -1, NULL));
    o = json_array_get_object_element (json_node_get_array (json_parser_get_root (p)), 0);
    g_assert_cmpstr (json_object_get_string_member (o, "data"), ==, "/P/+");
    g_assert_cmpstr (json_object_get_string_member (o, "encoding"), ==, "opus");
    g_assert_cmpint (json_object_get_int_member (o, "sampleRate"), ==, 48000);
    g_assert_cmpint (json_object_get_int_member (o, "channels"), ==, 2);
    g_assert_cmpint (json_object_get_int_member (o, "frames"), ==, 960);
    g_assert_cmpint (json_object_get_int_member (o, "timestamp"), ==, 1040);
    g_assert_cmpint (json_object_get_int_member (o, "sequenceNumber"), ==, 2);
  }
  /* The float ring is untouched by Opus packets. */
  assert_sequences (session, 23, 10, "24");
}

/* ---- metadata ---- */

static const char *seed_metadata =
    "{\"title\":\"Song Title\",\"artist\":\"Artist Name\",\"lyrics\":\"[00:12.50]Lyrics line 1\","
    "\"hasSyncedLyrics\":true,\"elapsedSeconds\":45.2,\"totalSeconds\":180.5,"
    "\"thumbnailData\":null,\"timestamp\":1234567890123,\"mood\":\"x\"}";

static void
test_metadata_and_ttl (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "666666");
  g_autoptr (GBytes) metadata = NULL;
  g_autofree char *status = NULL;
  g_autoptr (JsonObject) object = NULL;
  JsonObject *current;
  guint notified = 99;

  g_assert_null (echo_share_session_get_metadata_json (session, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_METADATA_NOT_FOUND);
  g_assert_cmpuint (echo_share_error_http_status (error->code), ==, 404);
  g_clear_error (&error);

  echo_share_session_note_poller (session, "10.0.0.2 receiver");
  g_assert_true (echo_share_session_post_metadata (session, seed_metadata,
          strlen (seed_metadata), &notified, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 1);

  metadata = echo_share_session_get_metadata_json (session, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (metadata, NULL), g_bytes_get_size (metadata),
      seed_metadata, strlen (seed_metadata));
  g_clear_pointer (&metadata, g_bytes_unref);

  status = echo_share_session_status_json (session, &error);
  object = parse_object (status);
  g_assert_true (json_object_get_boolean_member (object, "isActive"));
  g_assert_cmpint (json_object_get_int_member (object, "startTime"), ==,
      echo_share_session_get_start_time_ms (session));
  g_assert_cmpint (json_object_get_int_member (object, "listenerCount"), ==, 1);
  current = json_object_get_object_member (object, "currentMetadata");
  g_assert_cmpuint (json_object_get_size (current), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (current, "title"), ==, "Song Title");
  g_assert_cmpstr (json_object_get_string_member (current, "artist"), ==, "Artist Name");
  g_assert_true (json_object_get_null_member (object, "sampleRate"));
  g_assert_true (json_object_get_null_member (object, "latestSequence"));
  g_clear_pointer (&status, g_free);
  g_clear_pointer (&object, json_object_unref);

  /* An invalid update changes nothing. */
  share_test_clock_advance_ms (&f->clock, 500);
  g_assert_false (echo_share_session_post_metadata (session, "{\"title\":1}", 11, NULL, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_FIELD);
  g_clear_error (&error);
  metadata = echo_share_session_get_metadata_json (session, &error);
  g_assert_no_error (error);
  g_clear_pointer (&metadata, g_bytes_unref);

  /* TTL: 30 s after the POST (the invalid one did not count). */
  share_test_clock_advance_ms (&f->clock, 29000);
  metadata = echo_share_session_get_metadata_json (session, &error);
  g_assert_no_error (error);
  g_clear_pointer (&metadata, g_bytes_unref);
  share_test_clock_advance_ms (&f->clock, 500);
  g_assert_null (echo_share_session_get_metadata_json (session, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_METADATA_NOT_FOUND);
  g_clear_error (&error);
  status = echo_share_session_status_json (session, &error);
  object = parse_object (status);
  g_assert_true (json_object_get_null_member (object, "currentMetadata"));
  /* The poller was last seen > 5 s ago. */
  g_assert_cmpint (json_object_get_int_member (object, "listenerCount"), ==, 0);

  /* A new POST brings it back. */
  post_metadata (f, session, "{\"title\":null}");
  metadata = echo_share_session_get_metadata_json (session, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_bytes_get_data (metadata, NULL), ==, "{\"title\":null}");
}

/* ---- stop, tombstones, timeouts ---- */

static void
test_stop_and_tombstone (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "777777");
  g_autoptr (EchoShareSession) held = g_object_ref (session);
  g_autofree char *json = NULL;
  g_autofree char *stored = NULL;
  g_autoptr (JsonObject) doc = NULL;
  double duration = 0;
  guint64 bytes = 0;
  gint64 started_ms = f->clock.wall_ms;
  gboolean buffered;

  for (gint64 s = 0; s < 10; s++)
    post_chunk (f, session, s, 44100, 2, 4096);
  post_metadata (f, session, seed_metadata);
  /* 10 chunks took 0.93 s and the metadata 0.5 s; make it 125.3 s in all. */
  share_test_clock_advance_ms (&f->clock, 125300 - 930 - 500);
  g_assert_true (echo_share_session_stop (session, &duration, &bytes, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (duration, ==, 125.3);
  g_assert_cmpuint (bytes, ==, 10 * 4096 * 2 * 4);
  g_assert_false (echo_share_session_is_active (session));
  g_assert_cmpuint (echo_share_pool_get_active_count (f->pool), ==, 0);

  stored = echo_store_get (f->store.store, ECHO_SHARE_STORE_COLLECTION, "777777", &error);
  doc = parse_object (stored);
  g_assert_cmpstr (json_object_get_string_member (doc, "state"), ==, "ended");
  g_assert_cmpstr (json_object_get_string_member (doc, "reason"), ==, "stopped");
  g_assert_cmpint (json_object_get_int_member (doc, "endedAt"), ==, started_ms + 125300);

  /* Every route now answers SESSION_ENDED. */
  g_assert_false (echo_share_session_stop (session, NULL, NULL, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_false (echo_share_session_post_audio (session, "{}", 2, &buffered, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_false (echo_share_session_post_metadata (session, "{}", 2, NULL, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_false (echo_share_session_get_audio_json (session, -1, 10,
          ECHO_SHARE_AUDIO_FORMAT_FLOAT, &json, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_null (echo_share_session_get_metadata_json (session, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_null (echo_share_session_status_json (session, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);

  /* The tombstone lasts ended-retention-minutes (5), then the id is unknown. */
  share_test_clock_advance_ms (&f->clock, 5 * 60 * 1000 - 1000);
  echo_share_pool_tick (f->pool);
  g_assert_null (echo_share_pool_lookup (f->pool, "777777", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  share_test_clock_advance_ms (&f->clock, 1000);
  echo_share_pool_tick (f->pool);
  g_assert_null (echo_share_pool_lookup (f->pool, "777777", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
  g_clear_error (&error);
  g_clear_pointer (&stored, g_free);
  stored = echo_store_get (f->store.store, ECHO_SHARE_STORE_COLLECTION, "777777", &error);
  g_assert_no_error (error);
  g_assert_null (stored);
  /* A reference held across all this still answers "ended". */
  g_assert_null (echo_share_session_status_json (held, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
}

static void
ended_listener_cb (EchoShareSession *session, const char *reason, gint64 ended_at_ms,
    gpointer user_data)
{
  Fixture *f = user_data;

  g_string_append_printf (f->events, "listener-ended:%s:%" G_GINT64_FORMAT ";", reason,
      ended_at_ms);
}

static void
test_inactivity_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "888888");
  EchoShareListenerCallbacks callbacks = { .ended = ended_listener_cb, .is_receiver = TRUE };
  g_autofree char *expected = NULL;
  gint64 ended_at = 0;
  const char *reason = NULL;

  g_assert_cmpuint (echo_share_session_add_listener (session, &callbacks, f, NULL), >, 0);
  /* Sharer POSTs keep it alive; reads do not count. */
  share_test_clock_advance_ms (&f->clock, 14 * 60 * 1000);
  post_metadata (f, session, "{\"title\":\"a\"}");
  share_test_clock_advance_ms (&f->clock, 14 * 60 * 1000 + 59000);
  echo_share_session_note_poller (session, "reader");
  echo_share_pool_tick (f->pool);
  g_assert_true (echo_share_session_is_active (session));

  share_test_clock_advance_ms (&f->clock, 1000);
  echo_share_pool_tick (f->pool);
  g_assert_false (echo_share_session_is_active (session));
  expected = g_strdup_printf ("started:888888;listener-ended:timeout:%" G_GINT64_FORMAT
      ";ended:888888:timeout;", f->clock.wall_ms);
  g_assert_cmpstr (f->events->str, ==, expected);
  g_assert_null (echo_share_pool_lookup (f->pool, "888888", &error));
  g_assert_true (echo_share_error_get_ended (error, &ended_at, &reason));
  g_assert_cmpstr (reason, ==, "timeout");
  g_assert_cmpint (ended_at, ==, f->clock.wall_ms);
}

static gboolean
quit_on_timeout_cb (gpointer user_data)
{
  g_error ("the pool's own tick never ended the idle session");
  return G_SOURCE_REMOVE;
}

static void
ended_quit_cb (EchoSharePool *pool, EchoShareSession *session, const char *reason,
    gpointer user_data)
{
  g_main_loop_quit (user_data);
}

static void
test_own_tick_source (Fixture *f, gconstpointer data)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  EchoShareSession *session = start (f, "121212");
  guint guard;

  /* The pool runs its housekeeping by itself on the main context. */
  g_signal_connect (f->pool, "session-ended", G_CALLBACK (ended_quit_cb), loop);
  share_test_clock_advance_ms (&f->clock, 16 * 60 * 1000);
  guard = g_timeout_add_seconds (60, quit_on_timeout_cb, NULL);
  g_main_loop_run (loop);
  g_source_remove (guard);
  g_assert_false (echo_share_session_is_active (session));
}

/* ---- rate limits ---- */

static void
test_rate_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "999999");
  guint accepted = 0, refused = 0, retry_after = 0;

  /* The seed's cadence is never refused. */
  for (gint64 s = 0; s < 500; s++)
    post_chunk (f, session, s, 44100, 2, 64);

  /* A flood is: after the burst, 429 with a Retry-After. */
  share_test_clock_advance_ms (&f->clock, 5000);
  for (gint64 s = 500; s < 600; s++) {
    g_autofree char *body = share_test_audio_body (s, 44100, 2, 64, 0);
    gboolean buffered;

    if (echo_share_session_post_audio (session, body, strlen (body), &buffered, &error)) {
      accepted++;
    } else {
      g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_RATE_LIMITED);
      g_assert_cmpuint (echo_share_error_http_status (error->code), ==, 429);
      retry_after = echo_share_error_get_retry_after (error);
      refused++;
      g_clear_error (&error);
    }
  }
  g_assert_cmpuint (accepted, ==, 12);
  g_assert_cmpuint (refused, ==, 88);
  g_assert_cmpuint (retry_after, >=, 1);

  /* Metadata has its own bucket: 2/s, burst 4. */
  accepted = 0;
  for (int i = 0; i < 10; i++) {
    if (echo_share_session_post_metadata (session, "{}", 2, NULL, &error))
      accepted++;
    else
      g_clear_error (&error);
  }
  g_assert_cmpuint (accepted, ==, 4);
  share_test_clock_advance_ms (&f->clock, 500);
  g_assert_true (echo_share_session_post_metadata (session, "{}", 2, NULL, &error));
  g_assert_no_error (error);
}

/* ---- listeners ---- */

typedef struct {
  Fixture *f;
  const char *name;
  EchoShareSession *session;
  guint id;
  gboolean remove_self_on_chunk;
  gboolean destroyed;
} ListenerData;

static void
listener_metadata_cb (EchoShareSession *session, const char *json, gpointer user_data)
{
  ListenerData *d = user_data;

  g_string_append_printf (d->f->events, "%s-metadata:%s;", d->name, json);
}

static void
listener_chunk_cb (EchoShareSession *session, const float *samples, guint n_frames,
    gint64 timestamp, const char *chunk_json, gpointer user_data)
{
  ListenerData *d = user_data;
  g_autofree char *visible = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) chunk = parse_object (chunk_json);
  gint64 sequence = json_object_get_int_member (chunk, "sequenceNumber");

  /* The chunk is already in the ring when listeners hear of it. */
  g_assert_true (echo_share_session_get_audio_json (session, sequence - 1, 1,
          ECHO_SHARE_AUDIO_FORMAT_FLOAT, &visible, &error));
  g_assert_nonnull (visible);
  g_assert_cmpfloat_with_epsilon (samples[0], (float) sequence, 1e-6);
  g_assert_cmpfloat_with_epsilon (samples[1], (float) sequence + 0.001f, 1e-6);
  g_string_append_printf (d->f->events, "%s-chunk:%" G_GINT64_FORMAT ":%u;", d->name, sequence,
      n_frames);
  if (d->remove_self_on_chunk) {
    echo_share_session_remove_listener (session, d->id);
    g_assert_false (d->destroyed);   /* not while its callback runs */
  }
}

static void
listener_opus_cb (EchoShareSession *session, const guint8 *packet, gsize len, guint n_frames,
    const char *json, gpointer user_data)
{
  ListenerData *d = user_data;

  g_string_append_printf (d->f->events, "%s-opus:%" G_GSIZE_FORMAT ":%u;", d->name, len,
      n_frames);
}

static void
listener_ended_cb (EchoShareSession *session, const char *reason, gint64 ended_at_ms,
    gpointer user_data)
{
  ListenerData *d = user_data;

  g_string_append_printf (d->f->events, "%s-ended:%s;", d->name, reason);
}

static void
listener_destroy_cb (gpointer user_data)
{
  ListenerData *d = user_data;

  d->destroyed = TRUE;
  g_string_append_printf (d->f->events, "%s-destroy;", d->name);
}

static void
test_listeners (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "131313");
  const EchoShareListenerCallbacks receiver = {
    .metadata = listener_metadata_cb, .audio_chunk = listener_chunk_cb,
    .opus_packet = listener_opus_cb, .ended = listener_ended_cb, .is_receiver = TRUE,
  };
  EchoShareListenerCallbacks internal = receiver;
  ListenerData a = { f, "A", session }, b = { f, "B", session }, c = { f, "C", session };
  const guint8 packet[10] = { 0 };
  EchoSharePoolStats stats;

  internal.is_receiver = FALSE;
  a.id = echo_share_session_add_listener (session, &receiver, &a, listener_destroy_cb);
  b.id = echo_share_session_add_listener (session, &internal, &b, listener_destroy_cb);
  c.id = echo_share_session_add_listener (session, &receiver, &c, listener_destroy_cb);
  g_assert_cmpuint (a.id, >, 0);
  g_assert_cmpuint (b.id, !=, a.id);
  /* Only receivers count as listeners, plus pollers. */
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 2);
  echo_share_session_note_poller (session, "p1");
  echo_share_session_note_poller (session, "p2");
  echo_share_session_note_poller (session, "p1");
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 4);
  echo_share_pool_get_stats (f->pool, &stats);
  g_assert_cmpuint (stats.listeners, ==, 4);
  g_assert_cmpuint (stats.active_sessions, ==, 1);

  c.remove_self_on_chunk = TRUE;
  g_string_truncate (f->events, 0);
  post_metadata (f, session, "{\"title\":\"t\"}");
  post_chunk (f, session, 5, 48000, 2, 480);
  echo_share_session_push_opus (session, packet, sizeof packet, 960, 0);
  g_assert_cmpstr (f->events->str, ==,
      "A-metadata:{\"title\":\"t\"};B-metadata:{\"title\":\"t\"};C-metadata:{\"title\":\"t\"};"
      "A-chunk:5:480;B-chunk:5:480;C-chunk:5:480;C-destroy;"
      "A-opus:10:960;B-opus:10:960;");
  g_assert_true (c.destroyed);

  /* Removing twice, or an unknown id, is harmless. */
  echo_share_session_remove_listener (session, c.id);
  echo_share_session_remove_listener (session, 4242);

  g_string_truncate (f->events, 0);
  g_assert_true (echo_share_session_stop (session, NULL, NULL, &error));
  g_assert_cmpstr (f->events->str, ==,
      "A-ended:stopped;B-ended:stopped;A-destroy;B-destroy;ended:131313:stopped;");
  g_assert_cmpuint (echo_share_session_add_listener (session, &receiver, &a, NULL), ==, 0);
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 0);
}

static void
test_pollers_expire (Fixture *f, gconstpointer data)
{
  EchoShareSession *session = start (f, "141414");
  guint notified = 0;
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 5000; i++) {
    g_autofree char *key = g_strdup_printf ("client-%d", i);

    echo_share_session_note_poller (session, key);
  }
  /* Distinct keys are capped. */
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 4096);
  share_test_clock_advance_ms (&f->clock, 4999);
  echo_share_session_note_poller (session, "client-1");
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 4096);
  share_test_clock_advance_ms (&f->clock, 1);
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 1);
  echo_share_pool_tick (f->pool);
  g_assert_true (echo_share_session_post_metadata (session, "{}", 2, &notified, &error));
  g_assert_cmpuint (notified, ==, 1);
  share_test_clock_advance_ms (&f->clock, 5000);
  g_assert_cmpuint (echo_share_session_get_listener_count (session), ==, 0);
}

/* ---- persistence ---- */

static void
test_persistence_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = start (f, "161616");
  EchoShareSession *stopped = start (f, "171717");
  g_autoptr (GBytes) metadata = NULL;
  g_autofree char *json = NULL;
  guint rate = 0, channels = 0;
  gint64 start_ms = echo_share_session_get_start_time_ms (session);
  gint64 ended_at = 0;
  const char *reason = NULL;

  post_metadata (f, session, seed_metadata);
  for (gint64 s = 0; s < 5; s++)
    post_chunk (f, session, s, 44100, 2, 4096);
  g_assert_true (echo_share_session_stop (stopped, NULL, NULL, &error));
  g_assert_no_error (error);
  /* Counters reach the store within the 5 s flush. */
  share_test_clock_advance_ms (&f->clock, 5000);
  echo_share_pool_tick (f->pool);

  /* echod restarts: the pool and the store are closed and opened again. */
  g_clear_object (&f->pool);
  share_test_store_reopen (&f->store);
  share_test_clock_advance_ms (&f->clock, 2000);
  g_string_truncate (f->events, 0);
  make_pool (f);
  g_assert_true (echo_share_pool_restore (f->pool, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->events->str, ==, "started:161616;");

  session = echo_share_pool_lookup (f->pool, "161616", &error);
  g_assert_no_error (error);
  g_assert_true (echo_share_session_is_active (session));
  g_assert_cmpint (echo_share_session_get_start_time_ms (session), ==, start_ms);
  g_assert_true (echo_share_session_get_format (session, &rate, &channels));
  g_assert_cmpuint (rate, ==, 44100);
  g_assert_cmpuint (channels, ==, 2);
  g_assert_cmpint (echo_share_session_get_latest_sequence (session), ==, 4);
  g_assert_cmpuint (echo_share_session_get_bytes_in (session), ==, 5 * 4096 * 2 * 4);
  metadata = echo_share_session_get_metadata_json (session, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (metadata, NULL), g_bytes_get_size (metadata),
      seed_metadata, strlen (seed_metadata));
  /* The audio ring starts empty (<= 5 s of live audio dropped by design). */
  g_assert_true (echo_share_session_get_audio_json (session, -1, 10,
          ECHO_SHARE_AUDIO_FORMAT_FLOAT, &json, &error));
  g_assert_null (json);
  /* The sharer carries on where it was; a retry of its last chunk is not an error. */
  g_assert_false (post_chunk (f, session, 4, 44100, 2, 4096));
  g_assert_true (post_chunk (f, session, 5, 44100, 2, 4096));

  g_assert_null (echo_share_pool_lookup (f->pool, "171717", &error));
  g_assert_true (echo_share_error_get_ended (error, &ended_at, &reason));
  g_assert_cmpstr (reason, ==, "stopped");
  g_clear_error (&error);

  /* The metadata TTL runs from the original POST, restart or not. */
  share_test_clock_advance_ms (&f->clock, 30000);
  g_assert_null (echo_share_session_get_metadata_json (session, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_METADATA_NOT_FOUND);
  g_clear_error (&error);

  /* The tombstone keeps its original expiry (5 min after the stop). */
  share_test_clock_advance_ms (&f->clock, 5 * 60 * 1000);
  echo_share_pool_tick (f->pool);
  g_assert_null (echo_share_pool_lookup (f->pool, "171717", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
}

static void
test_restore_ends_idle_and_expired (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *stored = NULL;
  EchoShareSession *session;

  start (f, "181818");
  session = start (f, "191919");
  g_assert_true (echo_share_session_stop (session, NULL, NULL, &error));
  /* A document that is not ours is skipped, not fatal. */
  g_assert_true (echo_store_put (f->store.store, ECHO_SHARE_STORE_COLLECTION, "202020",
          "{\"version\":1,\"sessionId\":\"999999\",\"state\":\"active\",\"startTime\":1}", &error));
  g_assert_true (echo_store_put (f->store.store, ECHO_SHARE_STORE_COLLECTION, "212121",
          "{\"version\":7}", &error));
  g_assert_no_error (error);

  g_clear_object (&f->pool);
  share_test_store_reopen (&f->store);
  /* Down for 16 minutes: longer than the timeout and the retention. */
  share_test_clock_advance_ms (&f->clock, 16 * 60 * 1000);
  g_string_truncate (f->events, 0);
  make_pool (f);
  g_assert_true (echo_share_pool_restore (f->pool, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->events->str, ==, "started:181818;ended:181818:timeout;");
  g_assert_cmpuint (share_warnings->len, ==, 2);
  g_assert_nonnull (strstr (g_ptr_array_index (share_warnings, 0), "202020"));
  g_assert_nonnull (strstr (g_ptr_array_index (share_warnings, 1), "212121"));
  g_assert_nonnull (strstr (g_ptr_array_index (share_warnings, 1), "version 7"));
  g_ptr_array_set_size (share_warnings, 0);

  g_assert_null (echo_share_pool_lookup (f->pool, "181818", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED);
  g_clear_error (&error);
  g_assert_null (echo_share_pool_lookup (f->pool, "191919", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
  g_clear_error (&error);
  stored = echo_store_get (f->store.store, ECHO_SHARE_STORE_COLLECTION, "191919", &error);
  g_assert_no_error (error);
  g_assert_null (stored);
  g_assert_null (echo_share_pool_lookup (f->pool, "202020", &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
}

static void
test_without_store_and_detached (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePool) pool = echo_share_pool_new (&f->limits, NULL);
  g_autoptr (EchoShareSession) held = NULL;
  g_autofree char *body = share_test_audio_body (0, 44100, 1, 10, 0);
  gboolean buffered;

  g_assert_true (echo_share_pool_restore (pool, &error));
  held = g_object_ref (echo_share_pool_start (pool, "232323", &error));
  g_assert_no_error (error);
  g_assert_true (echo_share_session_post_audio (held, body, strlen (body), &buffered, &error));
  g_assert_true (buffered);

  /* The pool goes away (echod shutting down) while a reference is still held. */
  g_clear_object (&pool);
  g_assert_false (echo_share_session_is_active (held));
  g_assert_false (echo_share_session_post_audio (held, body, strlen (body), &buffered, &error));
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND);
  echo_share_session_note_poller (held, "x");
  echo_share_session_push_opus (held, (const guint8 *) "x", 1, 960, 0);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  share_warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (test_log_writer, NULL, NULL);
#define ADD(path, func) \
  g_test_add ("/share/pool/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("start-and-conflict", test_start_and_conflict);
  ADD ("session-limit", test_session_limit);
  ADD ("restart-after-stop", test_restart_after_stop);
  ADD ("audio-format-and-sequence", test_audio_format_and_sequence);
  ADD ("ring-seconds-and-overflow", test_ring_seconds_and_overflow);
  ADD ("get-audio", test_get_audio);
  ADD ("metadata-and-ttl", test_metadata_and_ttl);
  ADD ("stop-and-tombstone", test_stop_and_tombstone);
  ADD ("inactivity-timeout", test_inactivity_timeout);
  ADD ("own-tick-source", test_own_tick_source);
  ADD ("rate-limits", test_rate_limits);
  ADD ("listeners", test_listeners);
  ADD ("pollers-expire", test_pollers_expire);
  ADD ("persistence-round-trip", test_persistence_round_trip);
  ADD ("restore-ends-idle-and-expired", test_restore_ends_idle_and_expired);
  ADD ("without-store-and-detached", test_without_store_and_detached);
#undef ADD
  status = g_test_run ();
  g_ptr_array_unref (share_warnings);
  return status;
}
