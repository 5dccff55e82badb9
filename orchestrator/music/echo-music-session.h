/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-session.h: one music session (seed 000's MusicSession): a voice channel's shared
 * queue, what plays now and where on the server's clock, the playback settings, who is in the
 * channel and who may do what. Pure logic: no I/O, no clock ("now" is a parameter, Unix ms).
 * Not thread-safe (one session, one thread: the daemon's main loop serialises commands).
 *
 * Timeline. While PLAYING, position(now) = offset_ms + (now - started_at_ms); while PAUSED or
 * LOADING the position is offset_ms and started_at_ms is 0. A client-played track (YouTube,
 * Spotify, Apple Music, SoundCloud) starts PLAYING with started_at = now + start_lead_ms, so
 * its position is negative for that lead: the clients' own players need time to load, and
 * everyone starts at the same instant. A server-side track (an upload, a plain HTTP URL)
 * starts LOADING; the server's player decodes it and playback_started() moves it to PLAYING
 * at the moment its audio really begins. The reported position never exceeds a known
 * duration (the track may outlive it by a timer tick before track_ended() comes).
 *
 * LOADING is also the server's cue: whenever an operation leaves the session LOADING with
 * ECHO_MUSIC_CHANGED_STATE set, the server (re)starts its player on the current item at
 * offset_ms.
 *
 * Members and permissions. echod never invents users: the host application tells it who is in
 * the voice channel (member_join/member_leave, with the roles it knows) and sets per-user
 * canControl (absent: TRUE). The creator is a member from the start. A DJ is the creator or
 * anyone whose roles (the caller's, e.g. from its JWT, or its member entry's) contain "admin",
 * "moderator", "mod" or "dj". Rules, for every operation that takes an actor:
 *  - membership: the actor must be in the voice channel, except an "admin" (acts from
 *    anywhere);
 *  - adding to the queue and voting: membership;
 *  - removing a queued item: membership, and being the user who added it or a DJ;
 *  - control (play/pause/skip/back/seek/stop, volume, loop, shuffle): membership and
 *    canControl, and being a DJ while djMode is on;
 *  - settings (djMode, voting, permissions, clear, reorder): membership and being a DJ.
 * A service actor (the host application itself, authenticated by the bearer token) passes
 * every check. A refusal is ECHO_MUSIC_ERROR_FORBIDDEN naming the rule.
 *
 * Operations validate first and change nothing when they fail (GError in ECHO_MUSIC_ERROR).
 * On success they report what changed as an EchoMusicChange mask (0: nothing changed, e.g.
 * PLAY while playing), which tells the server which WebSocket events to send; every change
 * bumps the session's version (and updated_at), which the API returns and checks against an
 * optional ifVersion (echo_music_session_check_version()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "echo-music-queue.h"
#include "echo-track.h"

G_BEGIN_DECLS

typedef enum
{
  ECHO_MUSIC_STATE_IDLE,        /* nothing plays (no current item) */
  ECHO_MUSIC_STATE_LOADING,     /* a server-side track is being prepared */
  ECHO_MUSIC_STATE_PLAYING,
  ECHO_MUSIC_STATE_PAUSED,
} EchoMusicState;

/* "IDLE", "LOADING", "PLAYING", "PAUSED" */
const char *echo_music_state_to_string (EchoMusicState state);
gboolean    echo_music_state_from_string (const char *text, EchoMusicState *state);

typedef enum
{
  ECHO_MUSIC_ACTION_PLAY,
  ECHO_MUSIC_ACTION_PAUSE,
  ECHO_MUSIC_ACTION_SKIP,
  ECHO_MUSIC_ACTION_BACK,
  ECHO_MUSIC_ACTION_SEEK,
  ECHO_MUSIC_ACTION_STOP,
} EchoMusicAction;

/* "play", "pause", "skip", "back", "seek", "stop" (reading ignores ASCII case) */
const char *echo_music_action_to_string (EchoMusicAction action);
gboolean    echo_music_action_from_string (const char *text, EchoMusicAction *action);

typedef enum
{
  ECHO_MUSIC_CHANGED_STATE = 1 << 0,        /* state or timeline (startedAt, offsetMs) */
  ECHO_MUSIC_CHANGED_QUEUE = 1 << 1,        /* the queued items or their order/votes */
  ECHO_MUSIC_CHANGED_NOW_PLAYING = 1 << 2,  /* another item became current (or none) */
  ECHO_MUSIC_CHANGED_SETTINGS = 1 << 3,     /* volume, loop, shuffle, djMode, voting,
                                             * permissions */
  ECHO_MUSIC_CHANGED_MEMBERS = 1 << 4,      /* who is in the voice channel */
} EchoMusicChange;

/* Who asks. @user: the user id (may be NULL only for a service actor that acts on nobody's
 * behalf); @roles: NULL-terminated, may be NULL; @service: the host application itself. */
typedef struct
{
  const char *user;
  const char *const *roles;
  gboolean service;
} EchoMusicActor;

/* Per-session settings from the [music] configuration. */
typedef struct
{
  guint max_items;              /* the queue's (ECHO_MUSIC_QUEUE_DEFAULT_MAX_ITEMS) */
  guint history_limit;          /* the queue's (ECHO_MUSIC_QUEUE_DEFAULT_HISTORY_LIMIT) */
  gint64 start_lead_ms;         /* client-played tracks start this late (750) */
} EchoMusicSessionConfig;

#define ECHO_MUSIC_SESSION_DEFAULT_START_LEAD_MS 750

void echo_music_session_config_init_defaults (EchoMusicSessionConfig *config);

typedef struct _EchoMusicSession EchoMusicSession;

/* A new IDLE session with a fresh uuid, volume 100, loop OFF, @creator a member with no
 * roles. @config NULL: the defaults. The ids are not validated here (the pool does). */
EchoMusicSession *echo_music_session_new (const char *server_id, const char *voice_channel_id,
                                          const char *creator,
                                          const EchoMusicSessionConfig *config,
                                          gint64 now_ms);
void              echo_music_session_free (EchoMusicSession *session);

/* Shuffle's generator is the session's own, seeded randomly; tests seed it. */
void              echo_music_session_set_random_seed (EchoMusicSession *session, guint32 seed);

const char       *echo_music_session_get_id (EchoMusicSession *session);
const char       *echo_music_session_get_server_id (EchoMusicSession *session);
const char       *echo_music_session_get_voice_channel_id (EchoMusicSession *session);
const char       *echo_music_session_get_created_by (EchoMusicSession *session);
EchoMusicState    echo_music_session_get_state (EchoMusicSession *session);
/* The queue is the session's; change it only through the session's operations. */
EchoMusicQueue   *echo_music_session_get_queue (EchoMusicSession *session);
/* The current item (NULL when IDLE); the queue's, valid until the session next changes. */
EchoQueueItem    *echo_music_session_get_current (EchoMusicSession *session);
gint64            echo_music_session_get_started_at_ms (EchoMusicSession *session);
gint64            echo_music_session_get_offset_ms (EchoMusicSession *session);
/* See "Timeline" above: negative during the start lead, at most a known duration. */
gint64            echo_music_session_get_position_ms (EchoMusicSession *session, gint64 now_ms);
EchoLoopMode      echo_music_session_get_loop (EchoMusicSession *session);
gboolean          echo_music_session_get_shuffle (EchoMusicSession *session);
guint             echo_music_session_get_volume (EchoMusicSession *session);
gboolean          echo_music_session_get_dj_mode (EchoMusicSession *session);
gboolean          echo_music_session_get_voting (EchoMusicSession *session);
gint64            echo_music_session_get_created_at_ms (EchoMusicSession *session);
gint64            echo_music_session_get_updated_at_ms (EchoMusicSession *session);
guint64           echo_music_session_get_version (EchoMusicSession *session);

/* CONFLICT ("version N is stale, the session is at M") unless @if_version is the current
 * version. */
gboolean          echo_music_session_check_version (EchoMusicSession *session,
                                                    guint64 if_version, GError **error);

/* Membership and permissions as the rules above see them. */
gboolean          echo_music_session_is_member (EchoMusicSession *session, const char *user);
gboolean          echo_music_session_can_control (EchoMusicSession *session, const char *user);
gboolean          echo_music_session_is_dj (EchoMusicSession *session,
                                            const EchoMusicActor *actor);

/* The host application's word on the voice channel (no actor: the server allows these to
 * service actors only). Joining again replaces the roles. @roles NULL-terminated or NULL.
 * INVALID for an empty user. Leaving is NOT_FOUND for a user who is not a member; the
 * creator may leave like anyone (and stays a DJ). */
gboolean          echo_music_session_member_join (EchoMusicSession *session, const char *user,
                                                  const char *const *roles, gint64 now_ms,
                                                  EchoMusicChange *changed, GError **error);
gboolean          echo_music_session_member_leave (EchoMusicSession *session,
                                                   const char *user, gint64 now_ms,
                                                   EchoMusicChange *changed, GError **error);

/* Queues @tracks (EchoTrack*, 1..n, all or none; the session stores copies) as @actor's
 * requests; the actor needs a user (INVALID otherwise). When the session is IDLE the first
 * item in play order starts (seed 000: "if session idle, auto-start"). Returns the new items
 * (a new array of the queue's items, in the order of @tracks). */
GPtrArray        *echo_music_session_queue_add (EchoMusicSession *session,
                                                const EchoMusicActor *actor,
                                                GPtrArray *tracks, gint64 now_ms,
                                                EchoMusicChange *changed, GError **error);
gboolean          echo_music_session_queue_remove (EchoMusicSession *session,
                                                   const EchoMusicActor *actor,
                                                   const char *item_id, gint64 now_ms,
                                                   EchoMusicChange *changed, GError **error);
gboolean          echo_music_session_queue_reorder (EchoMusicSession *session,
                                                    const EchoMusicActor *actor,
                                                    const char *item_id, guint new_position,
                                                    gint64 now_ms, EchoMusicChange *changed,
                                                    GError **error);
/* A repeated vote by the same user succeeds with *@changed = 0 (seed 001: ignored). */
gboolean          echo_music_session_queue_vote (EchoMusicSession *session,
                                                 const EchoMusicActor *actor,
                                                 const char *item_id, int value,
                                                 gint64 now_ms, EchoMusicChange *changed,
                                                 GError **error);
/* *@removed (may be NULL): how many queued items went. */
gboolean          echo_music_session_queue_clear (EchoMusicSession *session,
                                                  const EchoMusicActor *actor, gint64 now_ms,
                                                  guint *removed, EchoMusicChange *changed,
                                                  GError **error);

/* Playback control. @value_ms: SEEK's target, ignored otherwise.
 * PLAY: PAUSED -> PLAYING (offset kept, started_at = now; a server-side track whose player
 *   is gone, after a restore, goes LOADING instead); IDLE with queued items -> start; IDLE
 *   and nothing queued -> CONFLICT; PLAYING or LOADING -> nothing changes.
 * PAUSE: PLAYING -> PAUSED at position(now); otherwise CONFLICT.
 * SKIP: the current item ends SKIPPED, the next starts (or IDLE); CONFLICT when IDLE.
 * BACK: the newest history item plays again (see echo_music_queue_back()); NOT_FOUND when
 *   nothing played before.
 * SEEK: 0 <= value_ms <= the duration when known (else INVALID); offset = value_ms,
 *   started_at = now when PLAYING; CONFLICT when IDLE.
 * STOP: the current item ends SKIPPED; with nothing queued the session becomes IDLE; with
 *   items queued the next one is cued PAUSED at 0 (the queue cannot end an item without
 *   starting the next); CONFLICT when IDLE. */
gboolean          echo_music_session_control (EchoMusicSession *session,
                                              const EchoMusicActor *actor,
                                              EchoMusicAction action, gint64 value_ms,
                                              gint64 now_ms, EchoMusicChange *changed,
                                              GError **error);

/* Control-class settings (volume 0..100, else INVALID). */
gboolean          echo_music_session_set_volume (EchoMusicSession *session,
                                                 const EchoMusicActor *actor, guint volume,
                                                 gint64 now_ms, EchoMusicChange *changed,
                                                 GError **error);
gboolean          echo_music_session_set_loop (EchoMusicSession *session,
                                               const EchoMusicActor *actor, EchoLoopMode loop,
                                               gint64 now_ms, EchoMusicChange *changed,
                                               GError **error);
gboolean          echo_music_session_set_shuffle (EchoMusicSession *session,
                                                  const EchoMusicActor *actor,
                                                  gboolean shuffle, gint64 now_ms,
                                                  EchoMusicChange *changed, GError **error);

/* DJ-only settings. */
gboolean          echo_music_session_set_dj_mode (EchoMusicSession *session,
                                                  const EchoMusicActor *actor,
                                                  gboolean dj_mode, gint64 now_ms,
                                                  EchoMusicChange *changed, GError **error);
gboolean          echo_music_session_set_voting (EchoMusicSession *session,
                                                 const EchoMusicActor *actor, gboolean voting,
                                                 gint64 now_ms, EchoMusicChange *changed,
                                                 GError **error);
gboolean          echo_music_session_set_permission (EchoMusicSession *session,
                                                     const EchoMusicActor *actor,
                                                     const char *user, gboolean can_control,
                                                     gint64 now_ms, EchoMusicChange *changed,
                                                     GError **error);

/* Events from the players. Each is ignored (returns 0) when @item_id is not the current
 * item: a stale event about a track that already went.
 * track_ended: a natural end (pipeline EOS, or the deadline of a client-played track): the
 *   item ends PLAYED and the next starts honouring loop and shuffle. Honoured while PLAYING,
 *   and for server-side tracks also while PAUSED or LOADING (their EOS is authoritative).
 * playback_started: LOADING -> PLAYING with started_at = now.
 * playback_failed: the item ends SKIPPED and the next starts (a broken file must not stall
 *   the session). */
EchoMusicChange   echo_music_session_track_ended (EchoMusicSession *session,
                                                  const char *item_id, gint64 now_ms);
EchoMusicChange   echo_music_session_playback_started (EchoMusicSession *session,
                                                       const char *item_id, gint64 now_ms);
EchoMusicChange   echo_music_session_playback_failed (EchoMusicSession *session,
                                                      const char *item_id, gint64 now_ms);

/* When track_ended() is due for a client-played current track (started_at + duration -
 * offset, Unix ms), or 0: not PLAYING, unknown duration, server-side track (its pipeline
 * says when). */
gint64            echo_music_session_next_deadline_ms (EchoMusicSession *session);

/* The API form: {"id","serverId","voiceChannelId","createdById","state","currentTrack"
 * (echo_track_to_json or null),"currentItemId" (or null),"startedAt" (Unix ms or null),
 * "offsetMs","positionMs" (at @now_ms),"serverTime" (@now_ms),"loopMode","shuffle","volume",
 * "djMode","voting","version","createdAt","updatedAt" (ISO 8601),"members":[{"userId",
 * "roles","canControl"}] (by user id),"permissions":[{"profileId","canControl"}] (by id)}.
 * The queue is not included (echo_music_queue_to_json()). */
JsonNode         *echo_music_session_to_json (EchoMusicSession *session, gint64 now_ms);

/* The store form: everything, the queue included (as the object of
 * echo_music_queue_serialize()); deterministic. */
char             *echo_music_session_to_store_json (EchoMusicSession *session);

/* Reads the store form back (INVALID for anything malformed or inconsistent; never crashes).
 * A PLAYING client-played track keeps its timeline (its deadline may already have passed:
 * the server ends it at once). A server-side track (PLAYING or LOADING) comes back PAUSED
 * at its position at @now_ms (clamped to its duration): its player went away with the old
 * process, and PLAY loads it again. @config gives start_lead_ms (the queue keeps its stored
 * limits); NULL: defaults. */
EchoMusicSession *echo_music_session_from_store_json (const char *text,
                                                      const EchoMusicSessionConfig *config,
                                                      gint64 now_ms, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicSession, echo_music_session_free)

G_END_DECLS
