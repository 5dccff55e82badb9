/* echo-share-socket.h: GET /api/share/{id}/ws, receivers that are pushed to instead of
 * polling.
 *
 * Query: format=float (default) | opus, since=N (default -1), access_token=... for
 * clients that cannot set an Authorization header. After the upgrade the client gets JSON
 * text messages:
 *   {"type":"hello","sessionId","serverTime","isActive":true}
 *   {"type":"metadata","metadata":{...as posted...}}   the current one first, if any
 *   {"type":"audio","chunk":{...}}                     the same object GET audio returns
 *   {"type":"ended","reason","endedAt"}                then a close (1000, "session ended")
 * Audio starts with what GET audio?since= would return (since=-1: the newest chunks; N: every
 * buffered chunk after N), then each chunk as it arrives, in order.
 *
 * A client that does not keep up is never buffered for without bound: when what it has not
 * acknowledged on the wire exceeds about 2 s of its audio stream, audio messages for it are
 * dropped (counted in echo_websocket_dropped_messages_total) until it catches up; metadata
 * and ended messages are always sent. Clients count as session listeners while open.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-server.h"
#include "echo-share-media.h"
#include "echo-share-pool.h"

G_BEGIN_DECLS

typedef struct _EchoShareSocket EchoShareSocket;

/* Registers the route on server; pool is borrowed. */
/* media (nullable, borrowed: freed after this object) is told about format=opus clients,
 * which keep their session's Opus encoding on while they are connected. */
EchoShareSocket *echo_share_socket_new (EchoServer *server, EchoSharePool *pool,
    EchoShareMedia *media);
/* Closes every client (1001, going away). */
void echo_share_socket_free (EchoShareSocket *sockets);

guint echo_share_socket_get_client_count (EchoShareSocket *sockets);

G_END_DECLS
