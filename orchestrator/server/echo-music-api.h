/* echo-music-api.h: the music sessions' REST routes and their live side (seeds 000 and 001).
 *
 * Routes (all under /api/music, ECHO_ROUTE_AUTH_USER: the host application's bearer token,
 * optionally acting for X-Echo-User, or a user JWT), JSON in and out, errors in the server's
 * shape with the codes of echo-music-error.h:
 *   POST   /resolve                        {url} -> {track, playlist, playlistTitle}
 *   POST   /upload                         {filename,size,mimeType} -> {uploadUrl,trackId,
 *                                          expiresAt}; the bytes go to the signed uploadUrl:
 *   PUT    /upload/{uploadId}?expires=&signature=   (no other credential) -> {track}
 *   GET    /tracks/{trackId}
 *   POST   /session/start                  {serverId,voiceChannelId} -> {session,created}
 *   GET    /sessions                       (host application only)
 *   GET    /session/{id}/state             -> {session, queue, receivers}
 *   DELETE /session/{id}
 *   GET    /session/{id}/queue
 *   POST   /session/{id}/queue/add         {trackId} | {trackIds:[...]} -> {queue, added}
 *   POST   /session/{id}/queue/remove      {itemId}
 *   POST   /session/{id}/queue/reorder     {itemId, position}
 *   POST   /session/{id}/queue/vote        {itemId, value: 1 | -1}
 *   POST   /session/{id}/queue/clear
 *   GET    /session/{id}/history?limit=    GET /session/{id}/stats?top=
 *   POST   /session/{id}/control           {action, value?, ifVersion?} -> {session}
 *   PATCH  /session/{id}/settings          {volume?,loopMode?,shuffle?,djMode?,voting?,
 *                                          ifVersion?} (all or nothing)
 *   PUT    /session/{id}/members/{userId}  {roles?}   DELETE: leaves (host application only)
 *   PUT    /session/{id}/permissions/{userId} {canControl}
 *   GET    /ws                             the WebSocket (echo-music-hub.h)
 * Every command that changes a session takes an optional ifVersion (409 CONFLICT when
 * stale); rate limits per user (resolve, upload, queue operations, control) answer 429
 * with Retry-After.
 *
 * Live side. Each command runs to completion on the main loop (commands on one session
 * are serialised: no lost update), then what it changed is pushed: WebSocket events to the
 * session's room (music:session_state, music:queue_updated, music:now_playing,
 * music:control_ack) and the overlay room of its community (overlay:now_playing); the
 * session is written to the store within the pool's flush interval. Server-side tracks
 * (uploads, HTTP audio URLs) play in the session's EchoMusicPlayer (music.pipeline into
 * sharerelay: `echosyncsrc session=<session id>` receivers hear them), joined gaplessly
 * when the next item is known; client-played tracks end at their deadline on the server's
 * clock. Every sync-ping-seconds each playing session's room gets music:sync_ping, and a
 * client's music:heartbeat whose drift passes the thresholds gets music:sync_command
 * {action: "seek" | "resync"}.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-config.h"
#include "echo-music-hub.h"
#include "echo-music-pool.h"
#include "echo-pipeline-factory.h"
#include "echo-resolver.h"
#include "echo-server.h"

G_BEGIN_DECLS

typedef struct _EchoMusicApi EchoMusicApi;

/* Registers the routes on @server. Everything is borrowed and must outlive the API;
 * @factory may lack a music template (server-side tracks then fail to play, each with a
 * music:error). Fails when the uploads directory (data-dir/uploads) cannot be made. */
EchoMusicApi *echo_music_api_new (EchoServer *server, EchoMusicPool *pool,
    EchoResolver *resolver, EchoPipelineFactory *factory, const EchoConfig *config,
    GError **error);
/* Stops the players and closes the WebSocket clients. */
void echo_music_api_free (EchoMusicApi *api);

/* The WebSocket hub the music API serves (other parts of echod send their events on it). */
EchoMusicHub *echo_music_api_get_hub (EchoMusicApi *api);

/* For the mode controller (music and radio are exclusive in a community): pauses every
 * PLAYING session of community @server_id as the host application would, and
 * returns their ids (a new array, possibly empty). */
GPtrArray *echo_music_api_pause_community (EchoMusicApi *api, const char *server_id);
/* Resumes those of @session_ids that are still PAUSED. */
void echo_music_api_resume_sessions (EchoMusicApi *api, GPtrArray *session_ids);

/* Called when a command (control play, a queue add to an idle session) succeeded and made a
 * silent session of community @server_id sound, before its player starts: the mode
 * controller switches the community from radio to music. */
typedef void (*EchoMusicPlayHook) (const char *server_id, gpointer user_data);
void echo_music_api_set_play_hook (EchoMusicApi *api, EchoMusicPlayHook hook,
    gpointer user_data);

/* The resolver settings of @config (strings borrowed from it). */
void echo_music_api_resolver_config (const EchoConfig *config, EchoResolverConfig *out);
/* The pool limits of @config. */
void echo_music_api_limits (const EchoConfig *config, EchoMusicLimits *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicApi, echo_music_api_free)

G_END_DECLS
