/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-pool.h: every music session of one echod (at most one per voice channel), the
 * Track cache (unique by source and sourceId, so resolved metadata is reused and every track
 * has a stable id), per-user rate limits, and their persistence.
 *
 * Persistence. Sessions live in the store's collection "music_sessions" (one document per
 * session, id = session id) and tracks in "music_tracks" (id = track id). Changes are not
 * written one by one: the caller marks a session dirty after it changed it, and dirty
 * sessions and new or updated tracks are written together at most flush_interval_ms later,
 * from a timeout on the thread-default main context of the thread that created the pool.
 * So a burst of 1000 queue operations a second costs one store write per session per
 * interval instead of 1000 fsyncs; the trade: a crash loses at most the last interval's
 * changes (50 ms by default). echo_music_pool_flush() writes at once (shutdown, tests), and
 * freeing the pool flushes. Ending a session deletes its document at once. A failed write
 * is logged and retried at the next interval.
 *
 * On creation the pool reads both collections back; a document that cannot be read (or a
 * second session for a channel that already has one) is logged and skipped, never fatal.
 * See echo_music_session_from_store_json() for how playing sessions come back.
 *
 * Main thread only, like the store. Time is a parameter everywhere except in
 * echo_music_pool_new(), which restores sessions at echo-core's echo_clock_now_ms().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "echo-music-session.h"
#include "echo-store.h"
#include "echo-track.h"

G_BEGIN_DECLS

#define ECHO_MUSIC_SESSIONS_COLLECTION "music_sessions"
#define ECHO_MUSIC_TRACKS_COLLECTION "music_tracks"

/* The [music] configuration's limits. Rates are requests per second per user (> 0), bursts
 * the bucket sizes (>= 1). */
typedef struct
{
  guint max_sessions;           /* 1000: sessions at once */
  guint max_items;              /* 500: queued items per session */
  guint history_limit;          /* 100: history per session */
  gint64 start_lead_ms;         /* 750: see echo-music-session.h */
  guint flush_interval_ms;      /* 50: longest delay before a change reaches the store */
  double resolve_rate;          /* 2 */
  guint resolve_burst;          /* 5 */
  double upload_rate;           /* 1 */
  guint upload_burst;           /* 3 */
  double queue_rate;            /* 10 */
  guint queue_burst;            /* 20 */
  double control_rate;          /* 10 */
  guint control_burst;          /* 20 */
} EchoMusicLimits;

void echo_music_limits_init_defaults (EchoMusicLimits *limits);

/* The session settings the limits imply. */
void echo_music_limits_get_session_config (const EchoMusicLimits *limits,
                                           EchoMusicSessionConfig *config);

typedef enum
{
  ECHO_MUSIC_RATE_RESOLVE,
  ECHO_MUSIC_RATE_UPLOAD,
  ECHO_MUSIC_RATE_QUEUE,
  ECHO_MUSIC_RATE_CONTROL,
} EchoMusicRateKind;

typedef struct _EchoMusicPool EchoMusicPool;

/* @store: borrowed, must outlive the pool; NULL keeps everything in memory. @limits: copied;
 * NULL: the defaults. Fails with INVALID (ECHO_MUSIC_ERROR) for limits out of range, or with
 * the store's error when a collection cannot be listed. */
EchoMusicPool    *echo_music_pool_new (EchoStore *store, const EchoMusicLimits *limits,
                                       GError **error);
/* Flushes (logging a failure) and frees every session. */
void              echo_music_pool_free (EchoMusicPool *pool);

const EchoMusicLimits *echo_music_pool_get_limits (EchoMusicPool *pool);

/* Seed 000's "create or get": the session of that voice channel when there is one
 * (*@created = FALSE), else a new one by @creator (*@created = TRUE, written at the next
 * flush). The ids must be 1..128 printable ASCII characters without spaces (INVALID).
 * CONFLICT ("too many music sessions") at max_sessions: like a queue at its maximum, the
 * request conflicts with the daemon's state and succeeds once a session ends. */
EchoMusicSession *echo_music_pool_session_start (EchoMusicPool *pool, const char *server_id,
                                                 const char *voice_channel_id,
                                                 const char *creator, gint64 now_ms,
                                                 gboolean *created, GError **error);

/* The session @session_id (the pool's); NOT_FOUND ("no music session ...") otherwise. */
EchoMusicSession *echo_music_pool_lookup (EchoMusicPool *pool, const char *session_id,
                                          GError **error);
/* The session of that channel, or NULL. */
EchoMusicSession *echo_music_pool_lookup_channel (EchoMusicPool *pool, const char *server_id,
                                                  const char *voice_channel_id);

/* Ends the session: its document is deleted from the store at once, then it is freed (the
 * caller's pointers to it die). NOT_FOUND for an unknown id; the store's error (nothing
 * changed) when the delete fails. */
gboolean          echo_music_pool_end (EchoMusicPool *pool, const char *session_id,
                                       GError **error);

/* Every session, oldest first (then by id): a new array of the pool's sessions. */
GPtrArray        *echo_music_pool_list (EchoMusicPool *pool);
guint             echo_music_pool_get_count (EchoMusicPool *pool);

/* @session changed: write it at the next flush, which runs flush_interval_ms later in a
 * background thread (the store's puts block on fsync or a commit). */
void              echo_music_pool_mark_dirty (EchoMusicPool *pool, EchoMusicSession *session);

/* Waits for a background write in flight, then writes every dirty session and track now,
 * in this thread. On failure what was not written stays dirty (and the store's error is
 * returned). */
gboolean          echo_music_pool_flush (EchoMusicPool *pool, GError **error);

/* Whether changes wait for a flush or a background write (for tests and shutdown
 * logging). */
gboolean          echo_music_pool_has_pending (EchoMusicPool *pool);

/* The cached track for @track's (source, sourceId): an existing entry takes @track's fresh
 * metadata and keeps its id and createdAt; a new one is a copy with a new uuid (and
 * createdAt from @track, or @now_ms when that is 0). Written at the next flush. INVALID for
 * an empty sourceId or title. Returns the pool's track, valid while the pool lives. */
const EchoTrack  *echo_music_pool_track_intern (EchoMusicPool *pool, const EchoTrack *track,
                                                gint64 now_ms, GError **error);
/* The cached track @track_id, or NULL. */
const EchoTrack  *echo_music_pool_track_lookup (EchoMusicPool *pool, const char *track_id);
guint             echo_music_pool_get_track_count (EchoMusicPool *pool);

/* Takes one token from @user's bucket of @kind (created full on first use). RATE_LIMITED
 * with *@retry_after_s (whole seconds, >= 1; may be NULL) when the bucket is empty. Buckets
 * that have been idle long enough to be full again are pruned (a pruned bucket and a fresh
 * one behave alike). @now_us: monotonic microseconds. */
gboolean          echo_music_pool_check_rate (EchoMusicPool *pool, const char *user,
                                              EchoMusicRateKind kind, gint64 now_us,
                                              guint *retry_after_s, GError **error);
/* Buckets held (for tests of the pruning). */
guint             echo_music_pool_get_rate_bucket_count (EchoMusicPool *pool);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicPool, echo_music_pool_free)

G_END_DECLS
