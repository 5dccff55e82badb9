/* echod-music-util.h: what the music end-to-end tests share (test-echod-music*.c): a real
 * echod whose resolver talks to a provider replay server (tests/orchestrator/resolver)
 * running on a thread of its own, calls as the host application, as a user through
 * X-Echo-User, or with a user JWT made by `echod token`, a WebSocket client of
 * /api/music/ws that also sends, and audio files made with gst-launch-1.0.
 *
 * The replay server knows these provider answers:
 *  - YouTube videos (Data API v3, with a key) MUSIC_YT_SHORT1..3 (1 s long),
 *    MUSIC_YT_LONG1..3 (10 min), and MUSIC_YT_DOWN (the provider answers 500);
 *  - the Spotify track MUSIC_SP_TRACK (213573 ms), with a client-credentials token.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echod-test-util.h"

G_BEGIN_DECLS

#define MUSIC_YT_SHORT1 "short000001"
#define MUSIC_YT_SHORT2 "short000002"
#define MUSIC_YT_SHORT3 "short000003"
#define MUSIC_YT_LONG1 "long0000001"
#define MUSIC_YT_LONG2 "long0000002"
#define MUSIC_YT_LONG3 "long0000003"
#define MUSIC_YT_DOWN "down0000001"
#define MUSIC_SP_TRACK "4cOdK2wGLETKBW3PvgPWqT"
#define MUSIC_SP_DURATION_MS 213573
#define MUSIC_JWT_SECRET "music-e2e-jwt-secret-0123456789abcdef"
/* generous: a shared 2-core machine, sanitizers */
#define MUSIC_TIMEOUT_MS 20000

typedef struct _MusicEchod MusicEchod;

/* The replay server and an echod started with the resolver pointed at it, the JWT secret,
 * and @extra_config appended (later keys of a group win in a key file only when the group is
 * not repeated, so give [music] keys here and nowhere else). */
MusicEchod *music_echod_start (const char *music_config);
void music_echod_free (MusicEchod *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MusicEchod, music_echod_free)

EchodHarness *music_echod_harness (MusicEchod *m);
/* Stops echod (SIGTERM, asserting a clean exit) and starts it again on the same data. */
void music_echod_restart (MusicEchod *m);

/* A request. @as: NULL, the host application as itself; "Bearer ..." sent as the
 * Authorization (a user JWT); anything else, the host application acting for that user
 * (X-Echo-User). @body may be NULL. */
EchodReply *music_call (MusicEchod *m, const char *method, const char *path, const char *as,
    const char *body);
/* The same with a printf-style path, expecting @status (g_error with the body otherwise). */
EchodReply *music_expect (MusicEchod *m, guint status, const char *method, const char *as,
    const char *body, const char *path_format, ...) G_GNUC_PRINTF (6, 7);

/* "Bearer <jwt>" for @sub with @roles (NULL-terminated, may be NULL), from `echod token`. */
char *music_token (MusicEchod *m, const char *sub, const char *const *roles);

/* POST /session/start for serverId/voiceChannelId as @user; returns the session id. */
char *music_start_session (MusicEchod *m, const char *user, const char *server_id,
    const char *channel_id);
/* PUT /session/{id}/members/{user} as the host application. */
void music_add_member (MusicEchod *m, const char *session_id, const char *user,
    const char *roles_json);
/* POST /resolve of @url as @as; returns the track id. */
char *music_resolve (MusicEchod *m, const char *as, const char *url);
/* POST /queue/add of @track_id as @as; returns the new item's id. */
char *music_add (MusicEchod *m, const char *session_id, const char *as, const char *track_id);
/* GET /session/{id}/state (a new reference to the reply's object). */
JsonObject *music_state (MusicEchod *m, const char *session_id);
/* The state's session.state. */
char *music_state_name (MusicEchod *m, const char *session_id);
/* Waits until the session's state is @state (polling); g_error after MUSIC_TIMEOUT_MS. */
void music_wait_state (MusicEchod *m, const char *session_id, const char *state);
/* The current track id of the session, or NULL. */
char *music_current_track (MusicEchod *m, const char *session_id);
/* Upload: init as @as with @filename/@mime and the file's size, PUT the bytes to the signed
 * URL; returns the PUT's reply and the track id in @track_id. */
EchodReply *music_upload (MusicEchod *m, const char *as, const char *filename,
    const char *mime, GBytes *bytes, char **track_id);
/* PUT @bytes to @url (absolute, as echod gave it) without any credential. */
EchodReply *music_put_url (MusicEchod *m, const char *url, GBytes *bytes);

/* A tone file made with gst-launch-1.0: @seconds of 440 Hz, "wav" or "mp3". */
GBytes *music_make_tone (const char *format, double seconds);

/* A member of a JSON object as text, for messages. */
const char *music_str (JsonObject *obj, const char *member);
gint64 music_int (JsonObject *obj, const char *member);
/* The queue array's item ids (a NULL-terminated vector) / track ids. */
char **music_queue_ids (JsonArray *queue, const char *member);

typedef struct _MusicWs MusicWs;

/* A WebSocket to /api/music/ws (@as as for music_call). */
MusicWs *music_ws_connect (MusicEchod *m, const char *as);
void music_ws_free (MusicWs *ws);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MusicWs, music_ws_free)
void music_ws_send (MusicWs *ws, const char *text);
/* The next message (new reference) or NULL after @timeout_ms; @received_ms (may be NULL):
 * the wall clock (ms, fractions) when it arrived. */
JsonObject *music_ws_next (MusicWs *ws, guint timeout_ms, double *received_ms);
/* Skips messages until one of @type arrives whose @member (NULL: any) has the string
 * @value; g_error after MUSIC_TIMEOUT_MS. */
JsonObject *music_ws_wait (MusicWs *ws, const char *type, const char *member,
    const char *value);
/* Whether a message of @type arrives within @ms (skipping others, which are dropped). */
gboolean music_ws_sees (MusicWs *ws, const char *type, guint ms);
/* music:join_session, returning the session_state it answers with. */
JsonObject *music_ws_join (MusicWs *ws, const char *session_id);
/* Drops whatever arrived so far. */
void music_ws_drain (MusicWs *ws);

G_END_DECLS
