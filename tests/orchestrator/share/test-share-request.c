/* Tests of the share API's request parsers: what is accepted, and that every rejection
 * names its cause with the right code. */
#include <string.h>

#include "echo-share-error.h"
#include "echo-share-request.h"
#include "share-test-util.h"

#define MAX_CHUNK 1048576

static void
assert_start_error (const char *body, int code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = echo_share_request_parse_start (body, strlen (body), &error);

  g_assert_null (id);
  g_assert_error (error, ECHO_SHARE_ERROR, code);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("'%s': message '%s' lacks '%s'", body, error->message, message_part);
}

static void
test_session_id_rules (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  g_assert_true (echo_share_session_id_is_valid ("123456"));
  g_assert_true (echo_share_session_id_is_valid ("000000"));
  g_assert_false (echo_share_session_id_is_valid ("12345"));
  g_assert_false (echo_share_session_id_is_valid ("1234567"));
  g_assert_false (echo_share_session_id_is_valid ("12345a"));
  g_assert_false (echo_share_session_id_is_valid (" 12345"));
  g_assert_false (echo_share_session_id_is_valid ("１２３４５６"));  /* full-width digits */
  g_assert_false (echo_share_session_id_is_valid (""));
  g_assert_false (echo_share_session_id_is_valid (NULL));

  id = echo_share_request_parse_start ("{\"sessionId\":\"123456\"}", 22, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, "123456");

  assert_start_error ("{\"sessionId\":\"12345\"}", ECHO_SHARE_ERROR_INVALID_SESSION_ID, "6 digits");
  assert_start_error ("{\"sessionId\":\"1234567\"}", ECHO_SHARE_ERROR_INVALID_SESSION_ID, NULL);
  assert_start_error ("{\"sessionId\":123456}", ECHO_SHARE_ERROR_INVALID_FIELD, "sessionId");
  assert_start_error ("{\"sessionId\":null}", ECHO_SHARE_ERROR_INVALID_FIELD, "sessionId");
  assert_start_error ("{}", ECHO_SHARE_ERROR_INVALID_FIELD, "sessionId is required");
  assert_start_error ("[\"123456\"]", ECHO_SHARE_ERROR_INVALID_JSON, "object");
  assert_start_error ("", ECHO_SHARE_ERROR_INVALID_JSON, "empty");
  assert_start_error ("{\"sessionId\":\"123456\"", ECHO_SHARE_ERROR_INVALID_JSON, NULL);
  assert_start_error ("{\"sessionId\":\"123456\",\"sessionId\":\"654321\"}",
      ECHO_SHARE_ERROR_INVALID_JSON, "more than once");
}

static void
test_json_gate (void)
{
  /* Things json-glib would accept or silently change. */
  const char *rejected[] = {
    "{\"sessionId\":\"123456\"} /* c */",
    "{'sessionId':'123456'}",
    "{\"sessionId\":\"123456\",\"x\":0x10}",
    "{\"sessionId\":\"123456\",\"x\":01}",
    "{\"sessionId\":\"123456\",\"x\":-18446744073709507516}",
    "{\"sessionId\":\"123456\",\"x\":9223372036854775808}",
    "{\"sessionId\":\"123456\",\"x\":1e400}",
    "{\"sessionId\":\"123456\",\"x\":NaN}",
    "{\"sessionId\":\"123456\",\"x\":Infinity}",
    "{\"sessionId\":\"123\\u0000456\"}",
    "{\"sessionId\":\"123456\",\"x\":\"a\tb\"}",
    "{\"sessionId\":\"123456\",\"x\":.5}",
    "{\"sessionId\":\"123456\",\"x\":1.}",
    "{\"sessionId\":\"123456\",\"x\":\"\\x41\"}",
    "{\"sessionId\":\"123456\"}}",
    "\xef\xbb\xbf{\"sessionId\":\"123456\"}",
    "{\"sessionId\":\"12345\xff\"}",
    "{\"sessionId\":\"123456\",\"x\":tru}",
    "{\"sessionId\":\"123456\",\"x\":\"\\udfb5\"}",          /* lone low surrogate */
    "{\"sessionId\":\"123456\",\"x\":\"\\ud83c\"}",          /* lone high surrogate */
    "{\"sessionId\":\"123456\",\"x\":\"\\ud83c\\u0041\"}",
    "{\"sessionId\":\"R\xc3\xb3s \xe2\x80\x93 \xc3\xa9\" 5}",  /* json-glib's own error */
    "{\"title\":\"Sigur R\xc3\xb3s \xe2\x80\x93 Hopp\xc3\xadpolla \\ud41c\\udfb5\"}",
    NULL
  };
  g_autoptr (GString) deep = g_string_new ("{\"sessionId\":\"123456\",\"x\":");
  g_autoptr (GString) ok_deep = g_string_new ("{\"sessionId\":\"123456\",\"x\":");
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  for (int i = 0; rejected[i] != NULL; i++) {
    g_autoptr (GError) e = NULL;
    g_autofree char *got = echo_share_request_parse_start (rejected[i], strlen (rejected[i]), &e);

    if (got != NULL)
      g_error ("accepted: %s", rejected[i]);
    g_assert_error (e, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON);
    g_assert_true (g_utf8_validate (e->message, -1, NULL));
  }

  /* Embedded NUL in the body. */
  {
    g_autoptr (GError) e = NULL;
    g_autofree char *got = echo_share_request_parse_start ("{\"sessionId\":\"1\0\"}", 18, &e);

    g_assert_null (got);
    g_assert_error (e, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON);
  }

  for (int i = 0; i < 10000; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 10000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  assert_start_error (deep->str, ECHO_SHARE_ERROR_INVALID_JSON, "64 levels");

  /* 63 levels inside the root object are fine. */
  for (int i = 0; i < 63; i++)
    g_string_append_c (ok_deep, '[');
  for (int i = 0; i < 63; i++)
    g_string_append_c (ok_deep, ']');
  g_string_append_c (ok_deep, '}');
  id = echo_share_request_parse_start (ok_deep->str, ok_deep->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, "123456");
  g_clear_pointer (&id, g_free);

  /* Plain JSON with every token kind passes. */
  {
    const char *plain = "\n { \"sessionId\" : \"123456\", \"n\": [-0, 1.5e-3, "
        "-9223372036854775808, 9223372036854775807, true, false, null, \"\\u00e9\\n\\\"\", "
        "\"\\ud83c\\udfb5\"], "
        "\"o\": {\"sessionId\": 1} } \r\n";

    id = echo_share_request_parse_start (plain, strlen (plain), &error);
  }
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, "123456");
}

static void
assert_audio_error (const char *body, int code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareAudioRequest) request =
      echo_share_request_parse_audio (body, strlen (body), MAX_CHUNK, &error);

  g_assert_null (request);
  g_assert_error (error, ECHO_SHARE_ERROR, code);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("'%.200s': message '%s' lacks '%s'", body, error->message, message_part);
}

static void
test_audio_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = share_test_audio_body (42, 44100, 2, 4096, 1234567890123);
  g_autoptr (EchoShareAudioRequest) request =
      echo_share_request_parse_audio (body, strlen (body), MAX_CHUNK, &error);
  const float *samples;

  g_assert_no_error (error);
  g_assert_nonnull (request);
  g_assert_cmpuint (request->sample_rate, ==, 44100);
  g_assert_cmpuint (request->channels, ==, 2);
  g_assert_cmpuint (request->n_frames, ==, 4096);
  g_assert_cmpint (request->timestamp, ==, 1234567890123);
  g_assert_cmpint (request->sequence_number, ==, 42);
  g_assert_cmpuint (g_bytes_get_size (request->samples), ==, 4096 * 2 * 4);
  samples = g_bytes_get_data (request->samples, NULL);
  g_assert_cmpfloat_with_epsilon (samples[0], 42.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (samples[3], 42.003, 1e-4);
  g_assert_nonnull (strstr (body, request->data_base64));
}

static void
test_audio_fields (void)
{
  g_autofree char *frame = g_base64_encode ((const guchar *) "\0\0\0\0\0\0\0\0", 8);
  struct {
    const char *body;
    int code;
    const char *message;
  } cases[] = {
    { "{\"sampleRate\":44100,\"channels\":2,\"timestamp\":1,\"sequenceNumber\":0}",
      ECHO_SHARE_ERROR_INVALID_FIELD, "data is required" },
    { "{\"data\":5,\"sampleRate\":44100,\"channels\":2,\"timestamp\":1,\"sequenceNumber\":0}",
      ECHO_SHARE_ERROR_INVALID_FIELD, "data must be a base64 string" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":\"44100\",\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "sampleRate must be an integer between 8000 and 192000" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100.0,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "sampleRate" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":7999,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "sampleRate" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":192001,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "sampleRate" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"channels\":2,\"timestamp\":1,\"sequenceNumber\":0}",
      ECHO_SHARE_ERROR_INVALID_FIELD, "sampleRate is required" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":0,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "channels must be an integer between 1 and 8" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":9,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "channels" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":true,\"timestamp\":1,"
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "channels" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":2,\"timestamp\":\"1\","
      "\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_FIELD, "timestamp must be an integer" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":2,\"sequenceNumber\":0}",
      ECHO_SHARE_ERROR_INVALID_FIELD, "timestamp is required" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":-1}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "sequenceNumber must be an integer >= 0" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":1.5}", ECHO_SHARE_ERROR_INVALID_FIELD, "sequenceNumber" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":44100,\"channels\":2,\"timestamp\":1,"
      "\"sequenceNumber\":\"7\"}", ECHO_SHARE_ERROR_INVALID_FIELD, "sequenceNumber" },
    { "{\"data\":\"AAAAAAAAAAA=\",\"sampleRate\":-18446744073709507516,\"channels\":2,"
      "\"timestamp\":1,\"sequenceNumber\":0}", ECHO_SHARE_ERROR_INVALID_JSON, "64-bit" },
    { "[]", ECHO_SHARE_ERROR_INVALID_JSON, "object" },
    { "not json", ECHO_SHARE_ERROR_INVALID_JSON, NULL },
    { NULL, 0, NULL }
  };

  for (int i = 0; cases[i].body != NULL; i++)
    assert_audio_error (cases[i].body, cases[i].code, cases[i].message);

  /* A valid reference so the matrix above is known to fail for its stated reason only. */
  {
    g_autofree char *body = share_test_audio_body_with_data (frame, 44100, 2, 0);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoShareAudioRequest) request =
        echo_share_request_parse_audio (body, strlen (body), MAX_CHUNK, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (request->n_frames, ==, 1);
  }
}

static void
test_audio_base64 (void)
{
  const char *bad[] = {
    "AAAAAAAAAAA",        /* length not a multiple of 4 */
    "AAAA AAAAAA=",       /* whitespace */
    "AAAAAAAAAA==AAAA",   /* padding in the middle */
    "AAAAAAAA=AA=",
    "AAAAAAAA-AA=",       /* URL-safe alphabet */
    "AAAAAAAA_AA=",
    "AAAAAAAAAAB=",       /* non-zero pad bits */
    "AAAAAAAAAB==",
    "====",
    "A===",
    "AAAAAAA\\nAAAA",     /* an escaped newline inside */
    NULL
  };

  for (int i = 0; bad[i] != NULL; i++) {
    g_autofree char *body = share_test_audio_body_with_data (bad[i], 44100, 1, 0);

    assert_audio_error (body, ECHO_SHARE_ERROR_INVALID_FIELD, "data must be base64");
  }
  {
    g_autofree char *body = share_test_audio_body_with_data ("", 44100, 1, 0);

    assert_audio_error (body, ECHO_SHARE_ERROR_INVALID_FIELD, "data must not be empty");
  }
}

static void
test_audio_frames_and_size (void)
{
  guchar raw[12] = { 0 };
  g_autofree char *ten = g_base64_encode (raw, 10);     /* not whole floats */
  g_autofree char *twelve = g_base64_encode (raw, 12);  /* 3 floats: not whole stereo frames */
  g_autofree char *body1 = share_test_audio_body_with_data (ten, 44100, 1, 0);
  g_autofree char *body2 = share_test_audio_body_with_data (twelve, 44100, 2, 0);
  g_autofree char *body3 = share_test_audio_body_with_data (twelve, 44100, 3, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareAudioRequest) request = NULL;
  g_autofree char *big = NULL;
  g_autofree char *huge = NULL;

  assert_audio_error (body1, ECHO_SHARE_ERROR_INVALID_FIELD, "whole frames");
  assert_audio_error (body2, ECHO_SHARE_ERROR_INVALID_FIELD,
      "12 bytes is not a multiple of 8");
  request = echo_share_request_parse_audio (body3, strlen (body3), MAX_CHUNK, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (request->n_frames, ==, 1);
  g_clear_pointer (&request, echo_share_audio_request_free);

  /* Decoded size limit: exactly the limit passes, one frame more is 413. */
  big = share_test_audio_body (0, 48000, 1, 1024, 0);
  request = echo_share_request_parse_audio (big, strlen (big), 4096, &error);
  g_assert_no_error (error);
  g_clear_pointer (&request, echo_share_audio_request_free);
  request = echo_share_request_parse_audio (big, strlen (big), 4092, &error);
  g_assert_null (request);
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "4096"));
  g_clear_error (&error);

  /* A body far beyond any chunk is refused before it is parsed. */
  huge = share_test_audio_body (0, 48000, 1, 300000, 0);
  request = echo_share_request_parse_audio (huge, strlen (huge), MAX_CHUNK, &error);
  g_assert_null (request);
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE);
  g_assert_cmpuint (strlen (huge), >, echo_share_request_max_audio_body (MAX_CHUNK));
}

static void
assert_metadata_error (const char *body, int code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareMetadataRequest) request =
      echo_share_request_parse_metadata (body, strlen (body), 5242880, &error);

  g_assert_null (request);
  g_assert_error (error, ECHO_SHARE_ERROR, code);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("'%s': message '%s' lacks '%s'", body, error->message, message_part);
}

static void
test_metadata (void)
{
  const char *seed = "{\n  \"title\": \"Song Title\",\n  \"artist\": \"Artist Name\",\n"
      "  \"lyrics\": \"[00:12.50]Lyrics line 1\\n[00:15.80]Lyrics line 2\",\n"
      "  \"hasSyncedLyrics\": true,\n  \"elapsedSeconds\": 45.2,\n  \"totalSeconds\": 180.5,\n"
      "  \"thumbnailData\": null,\n  \"timestamp\": 1234567890123,\n  \"extra\": {\"a\": [1]}\n}";
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareMetadataRequest) request = NULL;
  g_autofree char *padded = g_strdup_printf ("  %s \n", seed);
  g_autofree char *big = NULL;

  request = echo_share_request_parse_metadata (padded, strlen (padded), 5242880, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (request->json, ==, seed);      /* kept as posted, 45.2 stays 45.2 */
  g_assert_cmpuint (request->json_len, ==, strlen (seed));
  g_assert_cmpstr (request->title, ==, "Song Title");
  g_assert_cmpstr (request->artist, ==, "Artist Name");
  g_clear_pointer (&request, echo_share_metadata_request_free);

  request = echo_share_request_parse_metadata ("{}", 2, 5242880, &error);
  g_assert_no_error (error);
  g_assert_null (request->title);
  g_clear_pointer (&request, echo_share_metadata_request_free);

  request = echo_share_request_parse_metadata ("{\"title\":null,\"elapsedSeconds\":0}", 33,
      5242880, &error);
  g_assert_no_error (error);
  g_assert_null (request->title);
  g_clear_pointer (&request, echo_share_metadata_request_free);

  assert_metadata_error ("{\"title\":5}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "title must be a string or null");
  assert_metadata_error ("{\"artist\":[]}", ECHO_SHARE_ERROR_INVALID_FIELD, "artist");
  assert_metadata_error ("{\"lyrics\":{}}", ECHO_SHARE_ERROR_INVALID_FIELD, "lyrics");
  assert_metadata_error ("{\"thumbnailData\":true}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "thumbnailData");
  assert_metadata_error ("{\"hasSyncedLyrics\":\"yes\"}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "hasSyncedLyrics must be true or false");
  assert_metadata_error ("{\"hasSyncedLyrics\":1}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "hasSyncedLyrics");
  assert_metadata_error ("{\"elapsedSeconds\":-0.5}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "elapsedSeconds must be a number >= 0");
  assert_metadata_error ("{\"totalSeconds\":\"180\"}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "totalSeconds");
  assert_metadata_error ("{\"timestamp\":1.5}", ECHO_SHARE_ERROR_INVALID_FIELD,
      "timestamp must be an integer");
  assert_metadata_error ("{\"title\":\"a\",\"title\":5}", ECHO_SHARE_ERROR_INVALID_JSON,
      "more than once");
  assert_metadata_error ("\"just a string\"", ECHO_SHARE_ERROR_INVALID_JSON, "object");

  /* Size limit: the whole body counts. */
  big = g_strdup_printf ("{\"thumbnailData\":\"%0*d\"}", 100, 0);
  request = echo_share_request_parse_metadata (big, strlen (big), strlen (big), &error);
  g_assert_no_error (error);
  g_clear_pointer (&request, echo_share_metadata_request_free);
  request = echo_share_request_parse_metadata (big, strlen (big), strlen (big) - 1, &error);
  g_assert_null (request);
  g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE);
}

static void
test_audio_query (void)
{
  g_autoptr (GHashTable) query = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  EchoShareAudioQuery out;
  const char *bad[][2] = {
    { "since", "-2" }, { "since", "abc" }, { "since", "" }, { "since", "1.5" },
    { "since", "99999999999999999999" }, { "limit", "0" }, { "limit", "11" },
    { "limit", "-1" }, { "format", "mp3" }, { "format", "" }, { NULL, NULL }
  };

  g_assert_true (echo_share_request_parse_audio_query (NULL, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out.since, ==, -1);
  g_assert_cmpuint (out.limit, ==, 10);
  g_assert_cmpint (out.format, ==, ECHO_SHARE_AUDIO_FORMAT_FLOAT);

  g_hash_table_insert (query, "since", "41");
  g_hash_table_insert (query, "limit", "3");
  g_hash_table_insert (query, "format", "opus");
  g_hash_table_insert (query, "_", "1700000000");
  g_assert_true (echo_share_request_parse_audio_query (query, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out.since, ==, 41);
  g_assert_cmpuint (out.limit, ==, 3);
  g_assert_cmpint (out.format, ==, ECHO_SHARE_AUDIO_FORMAT_OPUS);

  for (int i = 0; bad[i][0] != NULL; i++) {
    g_autoptr (GHashTable) q = g_hash_table_new (g_str_hash, g_str_equal);

    g_hash_table_insert (q, (gpointer) bad[i][0], (gpointer) bad[i][1]);
    g_assert_false (echo_share_request_parse_audio_query (q, &out, &error));
    g_assert_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_PARAMETER);
    g_assert_nonnull (strstr (error->message, bad[i][0]));
    g_clear_error (&error);
  }
}

static void
test_error_mapping (void)
{
  struct {
    int code;
    guint status;
    const char *name;
  } expected[] = {
    { ECHO_SHARE_ERROR_SESSION_NOT_FOUND, 404, "SESSION_NOT_FOUND" },
    { ECHO_SHARE_ERROR_SESSION_ENDED, 404, "SESSION_ENDED" },
    { ECHO_SHARE_ERROR_SESSION_EXISTS, 409, "SESSION_EXISTS" },
    { ECHO_SHARE_ERROR_INVALID_SESSION_ID, 400, "INVALID_SESSION_ID" },
    { ECHO_SHARE_ERROR_INVALID_JSON, 400, "INVALID_JSON" },
    { ECHO_SHARE_ERROR_INVALID_FIELD, 400, "INVALID_FIELD" },
    { ECHO_SHARE_ERROR_FORMAT_CHANGED, 400, "FORMAT_CHANGED" },
    { ECHO_SHARE_ERROR_SEQUENCE_BACKWARDS, 400, "SEQUENCE_BACKWARDS" },
    { ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE, 413, "PAYLOAD_TOO_LARGE" },
    { ECHO_SHARE_ERROR_RATE_LIMITED, 429, "RATE_LIMITED" },
    { ECHO_SHARE_ERROR_SESSION_LIMIT, 503, "SESSION_LIMIT" },
    { ECHO_SHARE_ERROR_STORE_FAILED, 500, "STORE_FAILED" },
    { ECHO_SHARE_ERROR_METADATA_NOT_FOUND, 404, "METADATA_NOT_FOUND" },
    { ECHO_SHARE_ERROR_INVALID_PARAMETER, 400, "INVALID_PARAMETER" },
  };
  g_autoptr (GError) limited = NULL;
  g_autoptr (GError) ended = NULL;
  g_autoptr (GError) copy = NULL;
  gint64 ended_at = 0;
  const char *reason = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_assert_cmpuint (echo_share_error_http_status (expected[i].code), ==, expected[i].status);
    g_assert_cmpstr (echo_share_error_code_name (expected[i].code), ==, expected[i].name);
  }
  g_assert_cmpuint (echo_share_error_http_status (999), ==, 500);

  echo_share_error_set_rate_limited (&limited, 3, "audio");
  g_assert_cmpuint (echo_share_error_get_retry_after (limited), ==, 3);
  g_assert_false (echo_share_error_get_ended (limited, NULL, NULL));
  echo_share_error_set_ended (&ended, "123456", 1700000000123, "timeout");
  g_assert_cmpuint (echo_share_error_get_retry_after (ended), ==, 0);
  copy = g_error_copy (ended);
  g_assert_true (echo_share_error_get_ended (copy, &ended_at, &reason));
  g_assert_cmpint (ended_at, ==, 1700000000123);
  g_assert_cmpstr (reason, ==, "timeout");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/share/request/session-id", test_session_id_rules);
  g_test_add_func ("/share/request/json-gate", test_json_gate);
  g_test_add_func ("/share/request/audio-valid", test_audio_valid);
  g_test_add_func ("/share/request/audio-fields", test_audio_fields);
  g_test_add_func ("/share/request/audio-base64", test_audio_base64);
  g_test_add_func ("/share/request/audio-frames-and-size", test_audio_frames_and_size);
  g_test_add_func ("/share/request/metadata", test_metadata);
  g_test_add_func ("/share/request/audio-query", test_audio_query);
  g_test_add_func ("/share/request/error-mapping", test_error_mapping);
  return g_test_run ();
}
