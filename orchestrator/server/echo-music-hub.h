/* echo-music-hub.h: GET /api/music/ws, the music API's WebSocket (seed 000's events).
 *
 * One socket per client application page or bot; it authenticates like any music request
 * (the host application's token with X-Echo-User, or a user JWT; browsers pass either as
 * ?access_token=). Messages are JSON text objects with a "type"; a message to the client
 * carries its event's fields beside "type":
 *   {"type":"music:session_state","sessionId":...,"state":...}
 *
 * Rooms. A client joins the room of a music session ("music:join_session" {sessionId}; the
 * owner's join callback decides whether it may and sends the current state) and receives
 * every broadcast to it; the owner may put it in sub-rooms named "SESSIONID#..." too (e.g.
 * per kind of queue event), and "music:leave_session" leaves the room and its sub-rooms. The overlay stream is a room too
 * ("overlay:subscribe" {serverId}: now playing and mode changes of one community, for a
 * browser source; any authenticated client may subscribe).
 *
 * Handled here, whatever the owner: "music:time" {t0} (the client's clock, ms) is answered at
 * once with {"type":"music:time","t0","t1","t2"}: t1 when it arrived and t2 when the reply
 * left, server wall clock in ms with microsecond fractions (NTP's four timestamps; the
 * client adds t3 on receipt: offset = ((t1 - t0) + (t2 - t3)) / 2). Malformed messages get
 * {"type":"music:error","code":"INVALID_MESSAGE","error":...}; the socket stays open.
 *
 * Broadcasts serialize their message once, whatever the number of clients (a field named
 * "type" in @fields would repeat the member: callers never set one). A client whose
 * unacknowledged bytes exceed MAX_BACKLOG is closed (1008, "too slow"): events must not be
 * dropped silently, and a client that reconnects gets the current state on joining.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "echo-server.h"

G_BEGIN_DECLS

typedef struct _EchoMusicHub EchoMusicHub;
typedef struct _EchoMusicClient EchoMusicClient;

typedef struct {
  /* A client asks to join a session's room. Return FALSE with @error (ECHO_MUSIC_ERROR) to
   * refuse; on TRUE the hub adds it to the room named @session_id and the owner sends what
   * it needs (echo_music_client_send ()). */
  gboolean (*join) (EchoMusicClient *client, const char *session_id, JsonObject *message,
      GError **error, gpointer user_data);
  /* Any other message with a "type" the hub does not handle itself (e.g.
   * "music:heartbeat"); @message is the parsed object. Return FALSE with @error to answer
   * with music:error. */
  gboolean (*message) (EchoMusicClient *client, const char *type, JsonObject *message,
      GError **error, gpointer user_data);
} EchoMusicHubCallbacks;

/* Registers the route on @server (borrowed). */
EchoMusicHub *echo_music_hub_new (EchoServer *server, const EchoMusicHubCallbacks *callbacks,
    gpointer user_data);
/* Closes every client (1001, going away). */
void echo_music_hub_free (EchoMusicHub *hub);

/* Sends {"type":@type, ...@fields' members} to every client in @room ("overlay:" rooms
 * are named "overlay:SERVERID"). @fields is an object node, not taken. */
void echo_music_hub_broadcast (EchoMusicHub *hub, const char *room, const char *type,
    JsonNode *fields);
/* Sends @text (a whole message, valid UTF-8 JSON) to every client in @room. */
void echo_music_hub_broadcast_text (EchoMusicHub *hub, const char *room, const char *text,
    gsize len);
guint echo_music_hub_room_size (EchoMusicHub *hub, const char *room);
guint echo_music_hub_client_count (EchoMusicHub *hub);

/* Messages whose type starts with @prefix (e.g. "radio:") go to @handler instead of the
 * callbacks' message (another part of echod sharing the socket). */
typedef gboolean (*EchoMusicHubHandler) (EchoMusicClient *client, const char *type,
    JsonObject *message, GError **error, gpointer user_data);
void echo_music_hub_add_handler (EchoMusicHub *hub, const char *prefix,
    EchoMusicHubHandler handler, gpointer user_data);

/* Puts @client in @room (at most 16 rooms per client: CONFLICT beyond). */
gboolean echo_music_client_join_room (EchoMusicClient *client, const char *room,
    GError **error);

/* Takes @client out of @room and its sub-rooms (nothing when it is not in it). */
void echo_music_client_leave_room (EchoMusicClient *client, const char *room);

/* To one client. */
void echo_music_client_send (EchoMusicClient *client, const char *type, JsonNode *fields);
/* A whole message as text. */
void echo_music_client_send_text (EchoMusicClient *client, const char *text, gsize len);
/* {"type":"music:error","code":CODE,"error":message} from an ECHO_MUSIC_ERROR (or any). */
void echo_music_client_send_error (EchoMusicClient *client, const GError *error);
const EchoIdentity *echo_music_client_get_identity (EchoMusicClient *client);
gboolean echo_music_client_in_room (EchoMusicClient *client, const char *room);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicHub, echo_music_hub_free)

G_END_DECLS
