/* echo-server.c: echod's HTTP and WebSocket front; see echo-server.h.
 *
 * libsoup calls us three times per request: "request-started" (nothing read yet: the
 * EchoRequest is created and the clock starts), the early handler when the headers are in
 * (routing, CORS, auth and the body limit: anything refused here is answered without its
 * body being kept), and the normal handler when the body is in (the route's handler).
 * "request-finished"/"request-aborted" then count and log it. A WebSocket upgrade takes
 * the connection away from libsoup's HTTP machinery, so it is counted when it opens.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "config.h"
#include "echo-auth.h"
#include "echo-clock.h"
#include "echo-cors.h"
#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-router.h"

#define ECHO_REQUEST_KEY "echo-request"
#define ALLOWED_REQUEST_HEADERS "Authorization, Content-Type, X-Echo-Listener, X-Echo-User, X-Echo-Roles"
#define EXPOSED_RESPONSE_HEADERS "Retry-After, WWW-Authenticate"
#define PREFLIGHT_MAX_AGE "600"
/* the route label of requests no route matched (bounded label values) */
#define UNMATCHED_ROUTE "unmatched"

typedef struct {
  EchoServer *server;
  EchoRouteAuth auth;
  gsize body_limit;
  EchoRouteHandler handler;   /* for a WebSocket route: its check */
  EchoSocketHandler open;     /* WebSocket routes only */
  gboolean stream;            /* handled when the head is in (echo_server_add_stream_route) */
  gpointer user_data;
} EchoRouteEntry;

struct _EchoServer {
  const EchoConfig *config;
  SoupServer *soup;
  EchoRouter *router;
  EchoRouter *fallback_router;  /* stream routes for paths no other route has */
  EchoCors *cors;
  GPtrArray *routes;          /* of EchoRouteEntry*, owned */
  gint64 start_time_us;
  gboolean log_requests;      /* debug records are shown: log every request */
  char *address;
  guint16 port;
  int listen_backlog;
};

struct _EchoRequest {
  EchoServer *server;
  SoupServerMessage *msg;     /* owns this request (object data) */
  gint64 received_us;         /* real monotonic time: latency is not scaled for tests */
  EchoRouteResult route;
  EchoRouteEntry *entry;      /* NULL until routed */
  GHashTable *query;          /* NULL when the URI has no query */
  GByteArray *body;           /* while it arrives; NULL until its first bytes */
  gsize body_expected;        /* its Content-Length when known and within the limit */
  GBytes *body_bytes;         /* once a handler asked for it */
  gboolean body_too_large;
  gboolean replied;
  gboolean upgraded;          /* WebSocket, or a stolen connection: counted already */
  gboolean deferred;          /* echo_request_defer (): the message is paused */
  gboolean aborted;           /* the client went away */
  gboolean keep_alive_fixed;  /* keep_alive_without_body is connected */
  char *session_id;
  char *error_code;           /* the code of an error reply, for the log */
  EchoIdentity *identity;     /* ECHO_ROUTE_AUTH_USER routes, once authorized */
};

static void
echo_request_free (gpointer data)
{
  EchoRequest *request = data;

  echo_route_result_clear (&request->route);
  g_clear_pointer (&request->query, g_hash_table_unref);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_clear_pointer (&request->body_bytes, g_bytes_unref);
  g_free (request->session_id);
  g_free (request->error_code);
  echo_identity_free (request->identity);
  g_free (request);
}

static EchoRequest *
request_of (SoupServerMessage *msg)
{
  return g_object_get_data (G_OBJECT (msg), ECHO_REQUEST_KEY);
}

static const char *
route_label (EchoRequest *request)
{
  return request->route.pattern != NULL ? request->route.pattern : UNMATCHED_ROUTE;
}

/* --- replies --- */

void
echo_request_set_header (EchoRequest *request, const char *name, const char *value)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (request->msg),
      name, value);
}

void
echo_request_reply_bytes (EchoRequest *request, guint status, GBytes *json)
{
  SoupMessageBody *body = soup_server_message_get_response_body (request->msg);

  soup_server_message_set_status (request->msg, status, NULL);
  soup_message_headers_set_content_type (soup_server_message_get_response_headers
      (request->msg), "application/json", NULL);
  soup_message_body_truncate (body);
  soup_message_body_append_bytes (body, json);
  request->replied = TRUE;
}

void
echo_request_reply_json (EchoRequest *request, guint status, const char *json, gssize len)
{
  g_autoptr (GBytes) bytes = g_bytes_new (json, len < 0 ? strlen (json) : (gsize) len);

  echo_request_reply_bytes (request, status, bytes);
}

void
echo_request_reply_take (EchoRequest *request, guint status, char *json, gssize len)
{
  g_autoptr (GBytes) bytes = g_bytes_new_take (json, len < 0 ? strlen (json) : (gsize) len);

  echo_request_reply_bytes (request, status, bytes);
}

void
echo_request_reply_node (EchoRequest *request, guint status, JsonNode *node)
{
  echo_request_reply_take (request, status, json_to_string (node, FALSE), -1);
}

/* libsoup 3.2 removes the Content-Length of a 204 (or 304) as it writes the head, which
 * leaves the response's encoding "until EOF": it then closes the connection after every
 * such reply. No body follows either way, so the encoding is set back to "none" once the
 * head is out; the connection stays open for the client's next request. */
static void
keep_alive_without_body (SoupServerMessage *msg, gpointer data)
{
  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
      SOUP_ENCODING_NONE);
}

void
echo_request_reply_empty (EchoRequest *request, guint status)
{
  soup_server_message_set_status (request->msg, status, NULL);
  soup_message_body_truncate (soup_server_message_get_response_body (request->msg));
  if ((status == SOUP_STATUS_NO_CONTENT || status == SOUP_STATUS_NOT_MODIFIED) &&
      !request->keep_alive_fixed) {
    g_signal_connect (request->msg, "wrote-headers", G_CALLBACK (keep_alive_without_body),
        NULL);
    request->keep_alive_fixed = TRUE;
  }
  request->replied = TRUE;
}

void
echo_request_reply_text (EchoRequest *request, guint status, const char *content_type,
    const char *text)
{
  soup_server_message_set_status (request->msg, status, NULL);
  soup_server_message_set_response (request->msg, content_type, SOUP_MEMORY_COPY, text,
      strlen (text));
  request->replied = TRUE;
}

gboolean
echo_request_has_reply (EchoRequest *request)
{
  return request->replied;
}

void
echo_request_reply_error (EchoRequest *request, guint status, const char *code,
    const char *message, JsonObject *extra)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  if (extra != NULL) {
    g_autoptr (GList) members = json_object_get_members (extra);
    GList *l;

    for (l = members; l != NULL; l = l->next) {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_value (builder, json_object_dup_member (extra, l->data));
    }
  }
  json_builder_set_member_name (builder, "success");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_int_value (builder, echo_clock_now_ms ());
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  echo_request_reply_node (request, status, root);
  g_free (request->error_code);
  request->error_code = g_strdup (code);
  echo_metric_inc (echo_front_metrics ()->errors, (const char *[]) { code });
  /* server faults and refused credentials are what an operator must notice */
  echo_log_event (status >= 500 || status == SOUP_STATUS_UNAUTHORIZED ? G_LOG_LEVEL_WARNING :
      G_LOG_LEVEL_INFO, request->session_id, route_label (request), status,
      "%s %s from %s: %u %s: %s", soup_server_message_get_method (request->msg),
      g_uri_get_path (soup_server_message_get_uri (request->msg)),
      echo_request_get_remote_host (request), status, code, message);
}

EchoRequest *
echo_request_defer (EchoRequest *request)
{
  g_return_val_if_fail (!request->replied && !request->deferred, request);

  request->deferred = TRUE;
  g_object_ref (request->msg);
  soup_server_message_pause (request->msg);
  return request;
}

void
echo_request_finish (EchoRequest *request)
{
  SoupServerMessage *msg = request->msg;

  g_return_if_fail (request->deferred);

  if (!request->replied)
    echo_request_reply_error (request, SOUP_STATUS_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
        "The server failed to answer", NULL);
  request->deferred = FALSE;
  if (!request->aborted)
    soup_server_message_unpause (msg);
  g_object_unref (msg);       /* may free the request */
}

/* --- accessors --- */

const EchoIdentity *
echo_request_get_identity (EchoRequest *request)
{
  return request->identity;
}

SoupServerMessage *
echo_request_get_message (EchoRequest *request)
{
  return request->msg;
}

const char *
echo_request_get_method (EchoRequest *request)
{
  return soup_server_message_get_method (request->msg);
}

const char *
echo_request_get_route (EchoRequest *request)
{
  return route_label (request);
}

const char *
echo_request_get_param (EchoRequest *request, const char *name)
{
  return request->route.params != NULL ? g_hash_table_lookup (request->route.params, name)
      : NULL;
}

const char *
echo_request_get_query (EchoRequest *request, const char *name)
{
  return request->query != NULL ? g_hash_table_lookup (request->query, name) : NULL;
}

const char *
echo_request_get_header (EchoRequest *request, const char *name)
{
  return soup_message_headers_get_one (soup_server_message_get_request_headers (request->msg),
      name);
}

GBytes *
echo_request_get_body (EchoRequest *request)
{
  /* handed over without a copy (an audio body is up to 1.4 MB); later calls share it */
  if (request->body_bytes == NULL)
    request->body_bytes = request->body != NULL ?
        g_byte_array_free_to_bytes (g_steal_pointer (&request->body)) : g_bytes_new (NULL, 0);
  return g_bytes_ref (request->body_bytes);
}

JsonNode *
echo_request_get_json_object (EchoRequest *request, GError **error)
{
  GBytes *body = echo_request_get_body (request);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  if (len == 0)
    return json_node_init_object (json_node_alloc (), json_object_new ());
  if (!g_utf8_validate (data, len, NULL) ||
      !json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the body must be a JSON object");
    return NULL;
  }
  return json_parser_steal_root (parser);
}

const char *
echo_request_get_remote_host (EchoRequest *request)
{
  const char *host = soup_server_message_get_remote_host (request->msg);

  return host != NULL ? host : "unknown";
}

void
echo_request_set_session (EchoRequest *request, const char *session_id)
{
  g_free (request->session_id);
  request->session_id = g_strdup (session_id);
}

/* --- the request's steps --- */

static void
request_started (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  EchoRequest *request = g_new0 (EchoRequest, 1);

  request->server = data;
  request->msg = msg;
  request->received_us = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (msg), ECHO_REQUEST_KEY, request, echo_request_free);
}

/* Keeps the body ourselves, up to the route's limit: libsoup's own accumulation has no
 * limit. libsoup hands it over in pieces of at most 8 KiB; with the Content-Length known
 * the buffer is allocated once at its full size, not grown (and copied) piece by piece. */
static void
request_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  EchoRequest *request = data;
  gsize limit = request->entry != NULL ? request->entry->body_limit : 0;
  gsize len = g_bytes_get_size (chunk);
  gsize have = request->body != NULL ? request->body->len : 0;

  if (request->body_too_large || request->body_bytes != NULL)
    return;
  if (have + len > limit) {
    request->body_too_large = TRUE;
    g_clear_pointer (&request->body, g_byte_array_unref);
    return;
  }
  if (request->body == NULL)
    request->body = g_byte_array_sized_new ((guint) MAX (request->body_expected, len));
  g_byte_array_append (request->body, g_bytes_get_data (chunk, NULL), (guint) len);
}

static void
add_cors_headers (EchoRequest *request, gboolean preflight)
{
  const char *origin = echo_request_get_header (request, "Origin");
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (request->msg);

  if (origin == NULL)
    return;
  soup_message_headers_append (headers, "Vary", "Origin");
  if (!echo_cors_origin_allowed (request->server->cors, origin))
    return;

  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace (headers, "Access-Control-Expose-Headers",
      EXPOSED_RESPONSE_HEADERS);
  if (preflight) {
    soup_message_headers_replace (headers, "Access-Control-Allow-Headers",
        ALLOWED_REQUEST_HEADERS);
    soup_message_headers_replace (headers, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
  }
}

static gboolean
check_auth (EchoRequest *request)
{
  const EchoConfig *config = request->server->config;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  switch (request->entry->auth) {
    case ECHO_ROUTE_AUTH_NONE:
      return TRUE;
    case ECHO_ROUTE_AUTH_METRICS:
      if (config->metrics_public)
        return TRUE;
      break;
    case ECHO_ROUTE_AUTH_BEARER:
      break;
    case ECHO_ROUTE_AUTH_USER:
      request->identity = echo_auth_identify (config->bearer_token, config->jwt_secret,
          echo_request_get_header (request, "Authorization"),
          request->entry->open != NULL ? echo_request_get_query (request, "access_token") :
          NULL, echo_request_get_header (request, "X-Echo-User"),
          echo_request_get_header (request, "X-Echo-Roles"), &error);
      if (request->identity != NULL)
        return TRUE;
      echo_metric_inc (echo_front_metrics ()->auth_failures, NULL);
      if (g_error_matches (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_FORBIDDEN)) {
        echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN", error->message,
            NULL);
        return FALSE;
      }
      echo_request_set_header (request, "WWW-Authenticate", "Bearer realm=\"echod\"");
      echo_request_reply_error (request, SOUP_STATUS_UNAUTHORIZED, "UNAUTHORIZED",
          error->message, NULL);
      return FALSE;
  }

  if (request->entry->open != NULL)
    ok = echo_auth_check_request (config->bearer_token,
        echo_request_get_header (request, "Authorization"),
        echo_request_get_query (request, "access_token"), &error);
  else
    ok = echo_auth_check_bearer (config->bearer_token,
        echo_request_get_header (request, "Authorization"), &error);
  if (ok)
    return TRUE;

  echo_metric_inc (echo_front_metrics ()->auth_failures, NULL);
  echo_request_set_header (request, "WWW-Authenticate", "Bearer realm=\"echod\"");
  echo_request_reply_error (request, SOUP_STATUS_UNAUTHORIZED, "UNAUTHORIZED",
      g_error_matches (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING) ?
      "Missing bearer token" : "Invalid bearer token", NULL);
  return FALSE;
}

static void
too_large (EchoRequest *request)
{
  g_autofree char *message = g_strdup_printf ("Request body exceeds %" G_GSIZE_FORMAT " bytes",
      request->entry->body_limit);

  echo_request_reply_error (request, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "PAYLOAD_TOO_LARGE",
      message, NULL);
}

static void record_request (EchoRequest *request, guint status, gboolean aborted);

GIOStream *
echo_request_steal_connection (EchoRequest *request, guint status)
{
  g_return_val_if_fail (request->entry != NULL && request->entry->stream, NULL);
  g_return_val_if_fail (!request->replied && !request->upgraded, NULL);

  request->upgraded = TRUE;
  record_request (request, status, FALSE);
  /* the message stays alive until the early handler returns (libsoup holds it while it
   * runs), so the request's data is still there for the caller until then */
  return soup_server_message_steal_connection (request->msg);
}

/* A stream route's handler, with the head in and nothing of the body read. */
static void
run_stream_route (EchoRequest *request)
{
  request->entry->handler (request, request->entry->user_data);
  if (request->upgraded)
    return;
  if (!request->replied) {
    g_critical ("route %s returned without a reply", route_label (request));
    echo_request_reply_error (request, SOUP_STATUS_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
        "The server failed to answer", NULL);
  }
  /* a body may follow that was never read, or not be sent at all (Expect: 100-continue
   * was answered with the error): either way this connection cannot take another request */
  echo_request_set_header (request, "Connection", "close");
}

/* Headers are in, the body is not: decide everything that does not need the body. */
static void
early_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer data)
{
  EchoServer *server = data;
  EchoRequest *request = request_of (msg);
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  EchoRouteMatch match;

  g_return_if_fail (request != NULL);

  /* we keep the body (request_got_chunk), never libsoup */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (request_got_chunk), request);
  if (query != NULL)
    request->query = g_hash_table_ref (query);

  if (strcmp (method, "OPTIONS") == 0) {
    match = echo_router_match (server->router, method, path, &request->route);
    if (match == ECHO_ROUTE_NOT_FOUND) {
      echo_request_reply_error (request, SOUP_STATUS_NOT_FOUND, "ROUTE_NOT_FOUND",
          "No such route", NULL);
      return;
    }
    /* every route of the path is "another method" for OPTIONS: that is the Allow list */
    add_cors_headers (request, TRUE);
    if (request->route.allow != NULL) {
      echo_request_set_header (request, "Allow", request->route.allow);
      if (soup_message_headers_get_one (soup_server_message_get_response_headers (msg),
              "Access-Control-Allow-Origin") != NULL)
        echo_request_set_header (request, "Access-Control-Allow-Methods", request->route.allow);
    }
    /* the route label of a preflight is its path's pattern */
    echo_route_result_clear (&request->route);
    echo_router_match (server->router, "GET", path, &request->route);
    if (request->route.pattern == NULL)
      echo_router_match (server->router, "POST", path, &request->route);
    echo_request_reply_empty (request, SOUP_STATUS_NO_CONTENT);
    return;
  }

  match = echo_router_match (server->router, method, path, &request->route);
  if (match == ECHO_ROUTE_NOT_FOUND) {
    echo_route_result_clear (&request->route);
    if (echo_router_match (server->fallback_router, method, path, &request->route) !=
        ECHO_ROUTE_MATCHED)
      echo_route_result_clear (&request->route);
    else
      match = ECHO_ROUTE_MATCHED;
  }
  add_cors_headers (request, FALSE);
  if (match == ECHO_ROUTE_NOT_FOUND) {
    echo_request_reply_error (request, SOUP_STATUS_NOT_FOUND, "ROUTE_NOT_FOUND",
        "No such route", NULL);
    return;
  }
  if (match == ECHO_ROUTE_WRONG_METHOD) {
    g_autofree char *message = g_strdup_printf ("Method %s not allowed here (allowed: %s)",
        method, request->route.allow);

    echo_request_set_header (request, "Allow", request->route.allow);
    echo_request_reply_error (request, SOUP_STATUS_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
        message, NULL);
    return;
  }

  request->entry = request->route.route_data;
  if (request->route.params != NULL)
    echo_request_set_session (request, g_hash_table_lookup (request->route.params, "id"));
  if (!check_auth (request))
    return;

  if (request->entry->stream) {
    run_stream_route (request);
    return;
  }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > (goffset) request->entry->body_limit) {
    /* the body is still read (and dropped) so the connection stays usable, but only a
     * client that sent Expect: 100-continue is spared sending it */
    too_large (request);
    return;
  }
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
    request->body_expected = (gsize) soup_message_headers_get_content_length (headers);
}

/* The body is in (and nothing was refused): run the route. */
static void
route_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer data)
{
  EchoRequest *request = request_of (msg);

  g_return_if_fail (request != NULL && request->entry != NULL);

  if (request->body_too_large) {
    too_large (request);
    return;
  }

  request->entry->handler (request, request->entry->user_data);
  if (request->deferred)
    return;
  if (request->entry->open != NULL) {
    g_autoptr (GError) error = NULL;

    if (request->replied)
      return;
    if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error)) {
      echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "WEBSOCKET_REQUIRED",
          error->message, NULL);
    }
    /* otherwise no status: libsoup completes the handshake and calls websocket_opened */
    return;
  }

  if (!request->replied) {
    g_critical ("route %s returned without a reply", route_label (request));
    echo_request_reply_error (request, SOUP_STATUS_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
        "The server failed to answer", NULL);
  }
}

static void
record_request (EchoRequest *request, guint status, gboolean aborted)
{
  double seconds = (g_get_monotonic_time () - request->received_us) / 1e6;
  const char *method = soup_server_message_get_method (request->msg);
  char status_text[16];

  if (method == NULL)
    return;                   /* the connection closed before a request line */
  g_snprintf (status_text, sizeof status_text, "%u", status);
  echo_metric_inc (echo_front_metrics ()->http_requests,
      (const char *[]) { method, route_label (request), status_text });
  echo_metric_observe (echo_front_metrics ()->http_duration,
      (const char *[]) { route_label (request) }, seconds);
  /* thousands a second under load: not even formatted unless someone reads them */
  if (request->error_code == NULL && request->server->log_requests)
    echo_log_event (G_LOG_LEVEL_DEBUG, request->session_id, route_label (request), status,
        "%s %s -> %u in %.1f ms%s", method,
        g_uri_get_path (soup_server_message_get_uri (request->msg)), status, seconds * 1e3,
        aborted ? " (aborted)" : "");
}

static void
request_done (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  EchoRequest *request = request_of (msg);

  if (request != NULL && !request->upgraded)
    record_request (request, soup_server_message_get_status (msg), FALSE);
}

static void
request_aborted (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  EchoRequest *request = request_of (msg);

  if (request != NULL)
    request->aborted = TRUE;
  if (request != NULL && !request->upgraded)
    record_request (request, soup_server_message_get_status (msg), TRUE);
}

static void
websocket_opened (SoupServer *soup, SoupServerMessage *msg, const char *path,
    SoupWebsocketConnection *conn, gpointer data)
{
  EchoRequest *request = request_of (msg);
  GSocket *socket = soup_server_message_get_socket (msg);

  g_return_if_fail (request != NULL && request->entry != NULL && request->entry->open != NULL);

  /* A WebSocket carries events and time answers as they happen: without this, Nagle's
   * algorithm holds a small message back while the previous one is unacknowledged, up to
   * the client's delayed ACK (40 ms on Linux), which shows as event delay and skews the
   * round trips the clients' clock sync measures. */
  if (socket != NULL && g_socket_get_family (socket) != G_SOCKET_FAMILY_UNIX)
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  request->upgraded = TRUE;
  record_request (request, SOUP_STATUS_SWITCHING_PROTOCOLS, FALSE);
  request->entry->open (request, conn, request->entry->user_data);
}

/* "OPTIONS * HTTP/1.1" asks about the server, not a path (libshout sends it first, to learn
 * whether it may upgrade to TLS, and gives up on a 404): answered 200 with what the server
 * takes, no upgrade offered. */
static void
options_ping_handler (SoupServer *soup, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer data)
{
  EchoRequest *request = request_of (msg);

  g_return_if_fail (request != NULL);

  echo_request_set_header (request, "Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
  echo_request_reply_empty (request, SOUP_STATUS_OK);
}

/* --- the server --- */

static void
handle_metrics (EchoRequest *request, gpointer data)
{
  GString *text = g_string_new (NULL);
  gsize len;

  echo_metrics_render (echo_metrics_default (), text);
  len = text->len;
  soup_server_message_set_status (request->msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (request->msg, "text/plain; version=0.0.4; charset=utf-8",
      SOUP_MEMORY_TAKE, g_string_free (text, FALSE), len);
  request->replied = TRUE;
}

EchoServer *
echo_server_new (const EchoConfig *config, GError **error)
{
  EchoServer *server;
  EchoCors *cors;

  g_return_val_if_fail (config != NULL, NULL);

  cors = echo_cors_new ((const char *const *) config->cors_origins, error);
  if (cors == NULL)
    return NULL;

  echo_front_metrics ();
  server = g_new0 (EchoServer, 1);
  server->config = config;
  server->start_time_us = echo_clock_monotonic_us ();
  server->log_requests = g_strcmp0 (config->log_level, "debug") == 0 ||
      !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  server->router = echo_router_new ();
  server->fallback_router = echo_router_new ();
  server->cors = cors;
  server->routes = g_ptr_array_new_with_free_func (g_free);
  server->soup = soup_server_new ("server-header", "echod/" VERSION " ", NULL);
  /* a WebSocket's queued bytes are measured on the wire (echo-tcp-acked.h); compression
   * would make that meaningless, and base64 audio hardly compresses anyway */
  soup_server_remove_websocket_extension (server->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);

  g_signal_connect (server->soup, "request-started", G_CALLBACK (request_started), server);
  g_signal_connect (server->soup, "request-finished", G_CALLBACK (request_done), server);
  g_signal_connect (server->soup, "request-aborted", G_CALLBACK (request_aborted), server);
  soup_server_add_early_handler (server->soup, "/", early_handler, server, NULL);
  soup_server_add_early_handler (server->soup, "*", options_ping_handler, server, NULL);
  soup_server_add_handler (server->soup, "/", route_handler, server, NULL);
  soup_server_add_websocket_handler (server->soup, "/", NULL, NULL, websocket_opened, server,
      NULL);
  echo_server_add_route (server, "GET", "/metrics", ECHO_ROUTE_AUTH_METRICS, 0, handle_metrics,
      server);
  return server;
}

void
echo_server_free (EchoServer *server)
{
  if (server == NULL)
    return;
  echo_server_stop (server);
  g_clear_object (&server->soup);
  echo_router_free (server->router);
  echo_router_free (server->fallback_router);
  echo_cors_free (server->cors);
  g_ptr_array_unref (server->routes);
  g_free (server->address);
  g_free (server);
}

static EchoRouteEntry *
add_entry (EchoServer *server, EchoRouteAuth auth, gsize body_limit, EchoRouteHandler handler,
    EchoSocketHandler open, gpointer user_data)
{
  EchoRouteEntry *entry = g_new0 (EchoRouteEntry, 1);

  entry->server = server;
  entry->auth = auth;
  entry->body_limit = body_limit;
  entry->handler = handler;
  entry->open = open;
  entry->user_data = user_data;
  g_ptr_array_add (server->routes, entry);
  return entry;
}

void
echo_server_add_route (EchoServer *server, const char *method, const char *pattern,
    EchoRouteAuth auth, gsize body_limit, EchoRouteHandler handler, gpointer user_data)
{
  g_return_if_fail (server != NULL && handler != NULL);

  echo_router_add (server->router, method, pattern,
      add_entry (server, auth, body_limit, handler, NULL, user_data));
}

void
echo_server_add_websocket_route (EchoServer *server, const char *pattern, EchoRouteAuth auth,
    EchoRouteHandler check, EchoSocketHandler open, gpointer user_data)
{
  g_return_if_fail (server != NULL && check != NULL && open != NULL);

  echo_router_add (server->router, "GET", pattern,
      add_entry (server, auth, 0, check, open, user_data));
}

void
echo_server_add_stream_route (EchoServer *server, const char *method, const char *pattern,
    EchoRouteAuth auth, gboolean fallback, EchoRouteHandler handler, gpointer user_data)
{
  EchoRouteEntry *entry;

  g_return_if_fail (server != NULL && handler != NULL);

  entry = add_entry (server, auth, 0, handler, NULL, user_data);
  entry->stream = TRUE;
  echo_router_add (fallback ? server->fallback_router : server->router, method, pattern, entry);
}

/* The kernel's cap on listen backlogs (net.core.somaxconn), or 4096 (its default since
 * Linux 5.4) when it cannot be read. */
static int
somaxconn (void)
{
  g_autofree char *text = NULL;
  gint64 value;

  if (!g_file_get_contents ("/proc/sys/net/core/somaxconn", &text, NULL, NULL))
    return 4096;
  value = g_ascii_strtoll (text, NULL, 10);
  return value > 0 && value <= G_MAXINT ? (int) value : 4096;
}

/* A bound, listening TCP socket with a backlog for a crowd: libsoup's own listeners keep
 * GLib's default of 10 pending connections, and a few hundred clients connecting at once
 * (the share receivers of a busy echod) would see SYNs dropped and retried a second later. */
static GSocket *
listening_socket (GSocketAddress *address, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  GSocketFamily family = g_socket_address_get_family (address);

  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV6 &&
      !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
    return NULL;
  if (!g_socket_bind (socket, address, TRUE, error))
    return NULL;
  g_socket_set_listen_backlog (socket, MIN (ECHO_SERVER_LISTEN_BACKLOG, somaxconn ()));
  if (!g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

gboolean
echo_server_listen (EchoServer *server, GError **error)
{
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bound = NULL;

  inet = g_inet_address_new_from_string (server->config->address);
  if (inet == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "[server] address: '%s' is not an IP address", server->config->address);
    return FALSE;
  }
  address = g_inet_socket_address_new (inet, (guint16) server->config->port);
  socket = listening_socket (address, error);
  if (socket == NULL || !soup_server_listen_socket (server->soup, socket, 0, error)) {
    g_prefix_error (error, "cannot listen on %s port %u: ", server->config->address,
        server->config->port);
    return FALSE;
  }

  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return FALSE;
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_free (server->address);
  server->address = g_inet_address_to_string (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (bound)));
  server->listen_backlog = g_socket_get_listen_backlog (socket);
  return TRUE;
}

int
echo_server_get_listen_backlog (EchoServer *server)
{
  return server->listen_backlog;
}

guint16
echo_server_get_port (EchoServer *server)
{
  return server->port;
}

const char *
echo_server_get_address (EchoServer *server)
{
  return server->address;
}

void
echo_server_stop (EchoServer *server)
{
  if (server->soup != NULL)
    soup_server_disconnect (server->soup);
}

gint64
echo_server_get_start_time_us (EchoServer *server)
{
  return server->start_time_us;
}
