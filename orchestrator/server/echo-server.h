/* echo-server.h: echod's HTTP and WebSocket front (libsoup 3).
 *
 * One SoupServer on the configured address and port. Every request goes through the same
 * steps, in this order, before a route's handler sees it:
 *   1. routing (echo-router.h): unknown path -> 404 ROUTE_NOT_FOUND, known path with another
 *      method -> 405 METHOD_NOT_ALLOWED with Allow; OPTIONS on a known path is a CORS
 *      preflight answered 204;
 *   2. CORS (echo-cors.h): allowed origins get Access-Control-* headers, others none;
 *   3. auth: routes declared ECHO_ROUTE_AUTH_BEARER need the share API's bearer token
 *      (header, or ?access_token= on WebSocket routes); ECHO_ROUTE_AUTH_USER routes find
 *      who the request acts as (echo_auth_identify ()); failures are 401 with
 *      WWW-Authenticate: Bearer (403 for a user token naming another user), counted and
 *      logged;
 *   4. body limit: a Content-Length over the route's limit is 413 before the body is read;
 *      a chunked body is counted as it arrives, never kept past the limit, and is 413 too.
 * All of that happens when the headers arrive, so a refused request never has its body
 * buffered. Replies are JSON (application/json), errors in the seed's shape
 * {"success":false,"error":message,"code":CODE,"timestamp":ms}. Each request is counted
 * (method, route pattern, status) and timed from its first byte to the end of the reply.
 *
 * The server itself serves GET /metrics (Prometheus text, echo_metrics_default ()).
 *
 * Handlers run on the main loop and reply before returning, except those that defer their
 * reply to an asynchronous job (echo_request_defer ()): their message is paused until
 * echo_request_finish ().
 *
 * Stream routes (echo_server_add_stream_route ()) are for protocols whose request body or
 * reply never ends, the Icecast ones: a source's PUT/SOURCE and a radio listener's GET. Their
 * handler runs in step 4's place, when the head is in and no body byte was read; it replies
 * like any handler (the connection then closes after the reply, as the unread body cannot be
 * told from a next request), or takes the connection over with
 * echo_request_steal_connection () and speaks the protocol itself.
 *
 * Connections: HTTP/1.1 keep-alive for every reply, 204s included (see
 * echo_request_reply_empty ()); the listening socket's backlog is
 * ECHO_SERVER_LISTEN_BACKLOG, so a few hundred clients connecting at once are not
 * dropped. Memory per request: its body (at most the route's limit; allocated once at
 * its Content-Length) and its reply, both freed when the reply has been written.
 * Request logs are debug records, formatted only when debug output is on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "echo-auth.h"
#include "echo-config.h"

G_BEGIN_DECLS

typedef struct _EchoServer EchoServer;
typedef struct _EchoRequest EchoRequest;

typedef enum {
  ECHO_ROUTE_AUTH_NONE,       /* public (/health) */
  ECHO_ROUTE_AUTH_BEARER,     /* the share API's bearer token */
  ECHO_ROUTE_AUTH_METRICS,    /* public when metrics-public, else the bearer token */
  ECHO_ROUTE_AUTH_USER,       /* user APIs: echo_auth_identify () (the bearer token, with
                               * or without X-Echo-User, or a user JWT); 401, or 403 when a
                               * user token names another user */
} EchoRouteAuth;

/* Handles a routed, authorized request whose body (if any) was read in full. It must reply
 * (echo_request_reply_*) before returning, except on a WebSocket route, where not replying
 * lets the upgrade go ahead. */
typedef void (*EchoRouteHandler) (EchoRequest *request, gpointer user_data);

/* A WebSocket route's connection, once upgraded. The handler takes its own reference on
 * conn if it keeps it. */
typedef void (*EchoSocketHandler) (EchoRequest *request, SoupWebsocketConnection *conn,
    gpointer user_data);

/* Fails (G_IO_ERROR_INVALID_ARGUMENT) when the CORS origins are not origin patterns. */
EchoServer *echo_server_new (const EchoConfig *config, GError **error);
void echo_server_free (EchoServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoServer, echo_server_free)

/* body_limit: the largest request body accepted, 0 for "no body expected" (then any
 * non-empty body is 413). */
void echo_server_add_route (EchoServer *server, const char *method, const char *pattern,
    EchoRouteAuth auth, gsize body_limit, EchoRouteHandler handler, gpointer user_data);

/* A GET route that upgrades to a WebSocket. check runs first, as a normal handler: when it
 * replies (an error), there is no upgrade; when it does not, the handshake is validated
 * and, if it succeeds, open gets the connection. */
void echo_server_add_websocket_route (EchoServer *server, const char *pattern,
    EchoRouteAuth auth, EchoRouteHandler check, EchoSocketHandler open, gpointer user_data);

/* A stream route (see above): method and pattern as for echo_server_add_route (), any
 * method name libsoup parses (e.g. Icecast's SOURCE). fallback: the route only serves
 * paths that no other route has, so a catch-all like "/{mount}" leaves every other path's
 * 404 (and another method's 404) as it was. */
void echo_server_add_stream_route (EchoServer *server, const char *method, const char *pattern,
    EchoRouteAuth auth, gboolean fallback, EchoRouteHandler handler, gpointer user_data);

/* How many connections may wait to be accepted; the kernel caps it at net.core.somaxconn. */
#define ECHO_SERVER_LISTEN_BACKLOG 1024

/* Binds the configured address and port (0: a free one) and listens with a backlog of
 * ECHO_SERVER_LISTEN_BACKLOG (at most somaxconn). */
gboolean echo_server_listen (EchoServer *server, GError **error);
/* The backlog in effect (after listen). */
int echo_server_get_listen_backlog (EchoServer *server);
/* The bound port (after listen). */
guint16 echo_server_get_port (EchoServer *server);
/* The bound address as text (after listen), e.g. "127.0.0.1". */
const char *echo_server_get_address (EchoServer *server);
/* Stops accepting connections and drops the open ones. */
void echo_server_stop (EchoServer *server);

/* Monotonic microseconds (echo-clock) when the server was created. */
gint64 echo_server_get_start_time_us (EchoServer *server);

/* --- a request, inside a handler --- */

SoupServerMessage *echo_request_get_message (EchoRequest *request);
/* Who the request acts as, on ECHO_ROUTE_AUTH_USER routes (NULL on others). */
const EchoIdentity *echo_request_get_identity (EchoRequest *request);
const char *echo_request_get_method (EchoRequest *request);
/* The matched route's pattern, e.g. "/api/share/{id}/audio". */
const char *echo_request_get_route (EchoRequest *request);
/* A {name} placeholder's value from the path. */
const char *echo_request_get_param (EchoRequest *request, const char *name);
/* A query parameter's decoded value, or NULL. */
const char *echo_request_get_query (EchoRequest *request, const char *name);
/* A request header's value, or NULL. */
const char *echo_request_get_header (EchoRequest *request, const char *name);
/* The body (empty when there was none). */
GBytes *echo_request_get_body (EchoRequest *request);
/* The body as a JSON object node (an empty body is an empty object), or NULL with
 * G_IO_ERROR_INVALID_DATA ("the body must be a JSON object") for anything else. */
JsonNode *echo_request_get_json_object (EchoRequest *request, GError **error);
/* The client's address as text. */
const char *echo_request_get_remote_host (EchoRequest *request);
/* Names the session the request is about, for its log line. */
void echo_request_set_session (EchoRequest *request, const char *session_id);

void echo_request_set_header (EchoRequest *request, const char *name, const char *value);
/* Replies with a JSON text (copied). */
void echo_request_reply_json (EchoRequest *request, guint status, const char *json,
    gssize len);
/* Replies with a JSON text held in bytes (not copied). */
void echo_request_reply_bytes (EchoRequest *request, guint status, GBytes *json);
/* Replies with a JSON text it takes ownership of (len -1: NUL-terminated). */
void echo_request_reply_take (EchoRequest *request, guint status, char *json, gssize len);
/* Replies with a JSON node (serialized compactly). */
void echo_request_reply_node (EchoRequest *request, guint status, JsonNode *node);
/* Replies with a status and no body (204). */
void echo_request_reply_empty (EchoRequest *request, guint status);
/* Replies with the error body; extra (nullable) members come first in the object (e.g.
 * "isActive"). Logs the error and counts it by code. */
void echo_request_reply_error (EchoRequest *request, guint status, const char *code,
    const char *message, JsonObject *extra);
/* Replies with a text of any media type (copied), e.g. Icecast's XML. */
void echo_request_reply_text (EchoRequest *request, guint status, const char *content_type,
    const char *text);

/* Inside a stream route's handler: takes the request's connection away from the HTTP
 * server, which forgets it (no keep-alive, no reply, not closed by echo_server_stop ()).
 * Whatever the client sent after the request head (the start of a source's body) is the
 * first thing the stream's input reads. status: what the caller will answer on the
 * connection itself, for the request count and log. The request is not usable after the
 * handler returns; read what is needed (headers, remote host) before. */
GIOStream *echo_request_steal_connection (EchoRequest *request, guint status);

/* Whether a reply was set. */
gboolean echo_request_has_reply (EchoRequest *request);

/* The handler replies later, from an asynchronous job: the message is paused and the
 * request stays valid (with its identity, parameters and body) until
 * echo_request_finish (). Returns @request, for the job to keep. */
EchoRequest *echo_request_defer (EchoRequest *request);
/* Sends the reply the job set (echo_request_reply_*) and releases the request. When the
 * client went away meanwhile, the reply is dropped. */
void echo_request_finish (EchoRequest *request);

G_END_DECLS
