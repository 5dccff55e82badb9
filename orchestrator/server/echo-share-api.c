/* echo-share-api.c: the Music Share routes; see echo-share-api.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-share-api.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-process-stats.h"
#include "echo-share-socket.h"

/* bodies of routes that take a tiny one ({"sessionId"}) or none (stop) */
#define SMALL_BODY_LIMIT 4096

struct _EchoShareApi {
  EchoServer *server;
  EchoSharePool *pool;
  EchoShareMedia *media;
  const EchoConfig *config;
  EchoShareSocket *sockets;
};

void
echo_share_api_reply_error (EchoRequest *request, const GError *error, gboolean for_status)
{
  g_autoptr (JsonObject) extra = json_object_new ();
  gint64 ended_at = 0;
  const char *reason = NULL;
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  const char *code = "INTERNAL_ERROR";

  if (error->domain == ECHO_SHARE_ERROR) {
    status = echo_share_error_http_status (error->code);
    code = echo_share_error_code_name (error->code);
  }
  if (for_status)
    json_object_set_boolean_member (extra, "isActive", FALSE);
  if (echo_share_error_get_ended (error, &ended_at, &reason)) {
    json_object_set_boolean_member (extra, "ended", TRUE);
    json_object_set_int_member (extra, "endedAt", ended_at);
    json_object_set_string_member (extra, "reason", reason);
  }
  if (g_error_matches (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_RATE_LIMITED)) {
    char seconds[16];

    g_snprintf (seconds, sizeof seconds, "%u", echo_share_error_get_retry_after (error));
    echo_request_set_header (request, "Retry-After", seconds);
  }
  echo_request_reply_error (request, status, code, error->message, extra);
}

char *
echo_share_api_listener_key (EchoRequest *request)
{
  const char *listener = echo_request_get_header (request, "X-Echo-Listener");

  if (listener == NULL)
    listener = echo_request_get_header (request, "User-Agent");
  return g_strdup_printf ("%s|%s", echo_request_get_remote_host (request),
      listener != NULL ? listener : "");
}

/* The session of the request's {id}, or NULL after replying with the error. */
static EchoShareSession *
lookup_session (EchoShareApi *api, EchoRequest *request, gboolean for_status)
{
  g_autoptr (GError) error = NULL;
  EchoShareSession *session;

  session = echo_share_pool_lookup (api->pool, echo_request_get_param (request, "id"), &error);
  if (session == NULL)
    echo_share_api_reply_error (request, error, for_status);
  return session;
}

static void
reply_text (EchoRequest *request, guint status, char *json)
{
  echo_request_reply_take (request, status, json, -1);
}

static void
handle_start (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GBytes) body = echo_request_get_body (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *session_id = NULL;
  EchoShareSession *session;
  gsize len;
  const char *text = g_bytes_get_data (body, &len);

  session_id = echo_share_request_parse_start (text != NULL ? text : "", len, &error);
  if (session_id == NULL) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  echo_request_set_session (request, session_id);
  session = echo_share_pool_start (api->pool, session_id, &error);
  if (session == NULL) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }

  reply_text (request, SOUP_STATUS_OK, g_strdup_printf ("{\"success\":true,\"sessionId\":\"%s\","
      "\"timestamp\":%" G_GINT64_FORMAT "}", session_id,
      echo_share_session_get_start_time_ms (session)));
}

static void
handle_post_metadata (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GBytes) body = echo_request_get_body (request);
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = lookup_session (api, request, FALSE);
  guint notified = 0;
  gsize len;
  const char *text = g_bytes_get_data (body, &len);

  if (session == NULL)
    return;
  if (!echo_share_session_post_metadata (session, text != NULL ? text : "", len, &notified,
          &error)) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  reply_text (request, SOUP_STATUS_OK,
      g_strdup_printf ("{\"success\":true,\"listenersNotified\":%u}", notified));
}

static void
handle_get_metadata (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *listener = NULL;
  g_autoptr (GBytes) json = NULL;
  EchoShareSession *session = lookup_session (api, request, FALSE);

  if (session == NULL)
    return;
  listener = echo_share_api_listener_key (request);
  echo_share_session_note_poller (session, listener);
  json = echo_share_session_get_metadata_json (session, &error);
  if (json == NULL) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  echo_request_reply_bytes (request, SOUP_STATUS_OK, json);
}

static void
handle_post_audio (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GBytes) body = echo_request_get_body (request);
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = lookup_session (api, request, FALSE);
  gboolean buffered = FALSE;
  gsize len;
  const char *text = g_bytes_get_data (body, &len);

  if (session == NULL)
    return;
  if (!echo_share_session_post_audio (session, text != NULL ? text : "", len, &buffered,
          &error)) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  echo_request_reply_json (request, SOUP_STATUS_OK, buffered ?
      "{\"success\":true,\"buffered\":true}" : "{\"success\":true,\"buffered\":false}", -1);
}

/* The query as a table the share parsers read (NULL when the URI had none). */
static GHashTable *
query_table (EchoRequest *request)
{
  GUri *uri = soup_server_message_get_uri (echo_request_get_message (request));

  if (g_uri_get_query (uri) == NULL)
    return NULL;
  return soup_form_decode (g_uri_get_query (uri));
}

static void
handle_get_audio (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) query = query_table (request);
  g_autofree char *listener = NULL;
  EchoShareAudioQuery audio_query;
  EchoShareSession *session;
  char *json = NULL;

  if (!echo_share_request_parse_audio_query (query, &audio_query, &error)) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  session = lookup_session (api, request, FALSE);
  if (session == NULL)
    return;
  listener = echo_share_api_listener_key (request);
  echo_share_session_note_poller (session, listener);
  if (audio_query.format == ECHO_SHARE_AUDIO_FORMAT_OPUS && api->media != NULL)
    echo_share_media_poll_opus (api->media, echo_share_session_get_id (session));
  if (!echo_share_session_get_audio_json (session, audio_query.since, audio_query.limit,
          audio_query.format, &json, &error)) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  if (json == NULL) {
    echo_request_reply_empty (request, SOUP_STATUS_NO_CONTENT);
    return;
  }
  reply_text (request, SOUP_STATUS_OK, json);
}

static void
handle_stop (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoShareSession *session = lookup_session (api, request, FALSE);
  double duration = 0;
  guint64 bytes = 0;
  char duration_text[G_ASCII_DTOSTR_BUF_SIZE];

  if (session == NULL)
    return;
  if (!echo_share_session_stop (session, &duration, &bytes, &error)) {
    echo_share_api_reply_error (request, error, FALSE);
    return;
  }
  g_ascii_formatd (duration_text, sizeof duration_text, "%.1f", duration);
  reply_text (request, SOUP_STATUS_OK, g_strdup_printf ("{\"success\":true,"
      "\"sessionDuration\":%s,\"bytesTransferred\":%" G_GUINT64_FORMAT "}", duration_text,
      bytes));
}

static void
handle_status (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autofree char *json = NULL;
  EchoShareSession *session = lookup_session (api, request, TRUE);
  guint16 sync_port;

  if (session == NULL)
    return;
  json = echo_share_session_status_json (session, &error);
  if (json == NULL) {
    echo_share_api_reply_error (request, error, TRUE);
    return;
  }

  sync_port = api->media != NULL ?
      echo_share_media_get_sync_port (api->media, echo_share_session_get_id (session)) : 0;
  if (sync_port == 0) {
    reply_text (request, SOUP_STATUS_OK, g_steal_pointer (&json));
    return;
  }
  /* where echosyncsrc receives this session: the status is the receiver's first call */
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json, -1, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_critical ("the session's status is not a JSON object: %s", json);
    reply_text (request, SOUP_STATUS_OK, g_steal_pointer (&json));
    return;
  }
  json_object_set_int_member (json_node_get_object (json_parser_get_root (parser)),
      "syncPort", sync_port);
  echo_request_reply_node (request, SOUP_STATUS_OK, json_parser_get_root (parser));
}

static void
handle_health (EchoRequest *request, gpointer data)
{
  EchoShareApi *api = data;
  gint64 uptime_us = echo_clock_monotonic_us () - echo_server_get_start_time_us (api->server);
  guint64 used = 0, total = 0;

  echo_process_memory_mb (&used, &total);
  reply_text (request, SOUP_STATUS_OK, g_strdup_printf ("{\"status\":\"healthy\","
      "\"activeSessions\":%u,\"uptime\":%" G_GINT64_FORMAT ",\"memoryUsage\":{\"used\":%"
      G_GUINT64_FORMAT ",\"total\":%" G_GUINT64_FORMAT "}}",
      echo_share_pool_get_active_count (api->pool), MAX (uptime_us, 0) / G_USEC_PER_SEC,
      used, total));
}

EchoShareApi *
echo_share_api_new (EchoServer *server, EchoSharePool *pool, EchoShareMedia *media,
    const EchoConfig *config)
{
  EchoShareApi *api = g_new0 (EchoShareApi, 1);
  const EchoShareLimits *limits = echo_share_pool_get_limits (pool);

  api->server = server;
  api->pool = pool;
  api->media = media;
  api->config = config;

  echo_server_add_route (server, "GET", "/health", ECHO_ROUTE_AUTH_NONE, 0, handle_health, api);
  echo_server_add_route (server, "POST", "/api/share/start", ECHO_ROUTE_AUTH_BEARER,
      SMALL_BODY_LIMIT, handle_start, api);
  echo_server_add_route (server, "POST", "/api/share/{id}/metadata", ECHO_ROUTE_AUTH_BEARER,
      limits->max_metadata_bytes, handle_post_metadata, api);
  echo_server_add_route (server, "GET", "/api/share/{id}/metadata", ECHO_ROUTE_AUTH_BEARER,
      0, handle_get_metadata, api);
  echo_server_add_route (server, "POST", "/api/share/{id}/audio", ECHO_ROUTE_AUTH_BEARER,
      echo_share_request_max_audio_body (limits->max_chunk_bytes), handle_post_audio, api);
  echo_server_add_route (server, "GET", "/api/share/{id}/audio", ECHO_ROUTE_AUTH_BEARER,
      0, handle_get_audio, api);
  echo_server_add_route (server, "POST", "/api/share/{id}/stop", ECHO_ROUTE_AUTH_BEARER,
      SMALL_BODY_LIMIT, handle_stop, api);
  echo_server_add_route (server, "GET", "/api/share/{id}/status", ECHO_ROUTE_AUTH_BEARER,
      0, handle_status, api);
  api->sockets = echo_share_socket_new (server, pool, media);
  return api;
}

void
echo_share_api_free (EchoShareApi *api)
{
  if (api == NULL)
    return;
  echo_share_socket_free (api->sockets);
  g_free (api);
}
