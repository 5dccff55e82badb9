/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: the Music Share request parsers (orchestrator/share/echo-share-request.c) and a
 * session fed with what they accept. Checks what must hold for any input: no crash, no leak,
 * every error is an ECHO_SHARE_ERROR with a UTF-8 message, and what a parser accepts is
 * consistent (whole frames, canonical base64 that re-encodes to the same text, a metadata
 * text that is a JSON object).
 *
 * Input: byte 0 picks the parser (low 3 bits) and a variant (bit 7: small limits, or a ring
 * of 0 s); the rest is the body. Mode 4 runs a session: the rest is split at 0xff bytes (never
 * part of UTF-8 text) into requests whose first byte picks the operation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "echo-share-pool.h"
#include "echo-share-request.h"
#include "fuzz.h"

static void
check_error (GError *error)
{
  if (error == NULL || error->domain != ECHO_SHARE_ERROR ||
      !g_utf8_validate (error->message, -1, NULL))
    abort ();
  if (echo_share_error_http_status (error->code) < 400)
    abort ();
}

static void
fuzz_start (const char *body, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = echo_share_request_parse_start (body, len, &error);

  if (id == NULL)
    check_error (error);
  else if (!echo_share_session_id_is_valid (id) || error != NULL)
    abort ();
}

static void
fuzz_audio (const char *body, gsize len, gsize max_chunk)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareAudioRequest) request =
      echo_share_request_parse_audio (body, len, max_chunk, &error);
  g_autofree char *again = NULL;
  gsize size;

  if (request == NULL) {
    check_error (error);
    return;
  }
  size = g_bytes_get_size (request->samples);
  if (size == 0 || size > max_chunk || size != (gsize) request->n_frames * request->channels * 4 ||
      request->sample_rate < ECHO_SHARE_MIN_SAMPLE_RATE ||
      request->sample_rate > ECHO_SHARE_MAX_SAMPLE_RATE || request->channels < 1 ||
      request->channels > ECHO_SHARE_MAX_CHANNELS || request->sequence_number < 0)
    abort ();
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  /* Strict base64 is canonical: decoding and encoding again gives the same text. */
  again = g_base64_encode (g_bytes_get_data (request->samples, NULL), size);
  if (strcmp (again, request->data_base64) != 0)
    abort ();
#endif
}

static void
fuzz_metadata (const char *body, gsize len, gsize max_bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoShareMetadataRequest) request =
      echo_share_request_parse_metadata (body, len, max_bytes, &error);
  g_autoptr (JsonParser) parser = NULL;

  if (request == NULL) {
    check_error (error);
    return;
  }
  if (request->json_len > len || strlen (request->json) != request->json_len ||
      (request->title != NULL && !g_utf8_validate (request->title, -1, NULL)))
    abort ();
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, request->json, (gssize) request->json_len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    abort ();
}

static void
fuzz_query (const char *text, gsize len)
{
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GError) error = NULL;
  EchoShareAudioQuery query;

  params = g_uri_parse_params (text, (gssize) len, "&", G_URI_PARAMS_NONE, NULL);
  if (params == NULL)
    return;
  if (echo_share_request_parse_audio_query (params, &query, &error)) {
    if (query.since < -1 || query.limit < 1 || query.limit > ECHO_SHARE_MAX_CHUNKS_PER_REPLY)
      abort ();
  } else {
    check_error (error);
  }
}

/* One request of mode 4 against @session. */
static void
fuzz_session_op (EchoShareSession *session, const char *op, gsize len)
{
  g_autoptr (GError) error = NULL;
  const char *body = op + 1;
  gsize body_len = len - 1;
  guint8 kind = (guint8) op[0];

  switch (kind % 6) {
    case 0: {
      gboolean buffered;

      if (!echo_share_session_post_audio (session, body, body_len, &buffered, &error))
        check_error (error);
      break;
    }
    case 1: {
      guint notified;

      if (!echo_share_session_post_metadata (session, body, body_len, &notified, &error))
        check_error (error);
      break;
    }
    case 2: {
      g_autofree char *json = NULL;
      gint64 since = body_len > 0 ? (gint64) (guint8) body[0] - 2 : -1;

      if (echo_share_session_get_audio_json (session, since, 1 + kind / 6 % 10,
              kind & 0x80 ? ECHO_SHARE_AUDIO_FORMAT_OPUS : ECHO_SHARE_AUDIO_FORMAT_FLOAT,
              &json, &error)) {
        if (json != NULL && (json[0] != '[' || !g_utf8_validate (json, -1, NULL)))
          abort ();
      } else {
        check_error (error);
      }
      break;
    }
    case 3: {
      g_autoptr (GBytes) metadata = echo_share_session_get_metadata_json (session, &error);
      g_autofree char *status = NULL;

      if (metadata == NULL)
        check_error (error);
      g_clear_error (&error);
      status = echo_share_session_status_json (session, &error);
      if (status == NULL)
        check_error (error);
      break;
    }
    case 4:
      echo_share_session_push_opus (session, (const guint8 *) body, body_len,
          body_len > 0 ? (guint8) body[0] * 10 : 0, (gint64) body_len);
      break;
    default: {
      double duration;
      guint64 bytes;

      if (!echo_share_session_stop (session, &duration, &bytes, &error))
        check_error (error);
      break;
    }
  }
}

static void
fuzz_session (const char *data, gsize size, gboolean tiny_ring)
{
  EchoShareLimits limits;
  g_autoptr (EchoSharePool) pool = NULL;
  g_autoptr (GError) error = NULL;
  EchoShareSession *session;
  gsize start = 0;

  echo_share_limits_init_defaults (&limits);
  /* Small rings so eviction happens within short inputs (0 s keeps only the newest chunk);
   * no rate limit in the way of coverage. */
  limits.audio_buffer_seconds = tiny_ring ? 0 : 1;
  limits.audio_rate = 1e9;
  limits.audio_burst = 1000000;
  limits.metadata_rate = 1e9;
  limits.metadata_burst = 1000000;
  limits.max_chunk_bytes = 65536;
  pool = echo_share_pool_new (&limits, NULL);
  session = echo_share_pool_start (pool, "123456", &error);
  if (session == NULL)
    abort ();
  for (gsize i = 0; i <= size; i++) {
    if (i == size || (guchar) data[i] == 0xff) {
      if (i > start)
        fuzz_session_op (session, data + start, i - start);
      start = i + 1;
    }
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  const char *body;
  gsize len;
  gboolean small;

  if (size < 1)
    return 0;
  small = (data[0] & 0x80) != 0;
  body = (const char *) data + 1;
  len = size - 1;

  switch (data[0] & 0x07) {
    case 0:
      fuzz_start (body, len);
      break;
    case 1:
      fuzz_audio (body, len, small ? 64 : 1048576);
      break;
    case 2:
      fuzz_metadata (body, len, small ? 100 : 5242880);
      break;
    case 3:
      fuzz_query (body, len);
      break;
    case 4:
      fuzz_session (body, len, small);
      break;
    default:
      /* Every parser on the same bytes. */
      fuzz_start (body, len);
      fuzz_audio (body, len, 1048576);
      fuzz_metadata (body, len, 5242880);
      break;
  }
  return 0;
}
