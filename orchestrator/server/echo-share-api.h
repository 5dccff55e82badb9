/* echo-share-api.h: the Music Share routes and GET /health, on an EchoServer.
 *
 *   POST /api/share/start              {"sessionId"} -> 200 {success, sessionId, timestamp}
 *   POST /api/share/{id}/metadata      -> 200 {success, listenersNotified}
 *   GET  /api/share/{id}/metadata      -> 200 the metadata as posted
 *   POST /api/share/{id}/audio         -> 200 {success, buffered}
 *   GET  /api/share/{id}/audio         ?since=N&limit=L&format=float|opus -> 200 [chunks] | 204
 *   POST /api/share/{id}/stop          -> 200 {success, sessionDuration, bytesTransferred}
 *   GET  /api/share/{id}/status        -> 200 {isActive:true, ...} | 404 {isActive:false, ...}
 *   GET  /health                       -> 200 {status, activeSessions, uptime, memoryUsage}
 *
 * Each route maps to one EchoSharePool/EchoShareSession call; an ECHO_SHARE_ERROR becomes
 * its HTTP status and code in the seed's error body (429 with Retry-After; an ended
 * session's 404 carries ended/endedAt/reason). Receivers that poll are counted as listeners
 * by address plus X-Echo-Listener (or User-Agent). The status of a session whose media
 * pipeline runs also tells where echosyncsrc finds it: "syncPort" (UDP, same host).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-config.h"
#include "echo-server.h"
#include "echo-share-media.h"
#include "echo-share-pool.h"

G_BEGIN_DECLS

typedef struct _EchoShareApi EchoShareApi;

/* Registers the routes on server. media is nullable (no pipelines: no syncPort). All
 * borrowed; they must outlive the API object. */
EchoShareApi *echo_share_api_new (EchoServer *server, EchoSharePool *pool,
    EchoShareMedia *media, const EchoConfig *config);
void echo_share_api_free (EchoShareApi *api);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareApi, echo_share_api_free)

/* Renders an ECHO_SHARE_ERROR (or any other error, as 500 INTERNAL_ERROR) as the reply;
 * for_status adds the status route's "isActive":false. Shared with the WebSocket route. */
void echo_share_api_reply_error (EchoRequest *request, const GError *error,
    gboolean for_status);

/* The key a polling client is counted under: its address and X-Echo-Listener, or
 * User-Agent. */
char *echo_share_api_listener_key (EchoRequest *request);

G_END_DECLS
