/* echo-share-pool.h: all Music Share sessions of one echod, their limits and their persistence.
 *
 * The pool admits sessions (id rules, 409, max-sessions), finds them for the routes, ends them
 * on inactivity, remembers ended ones for ended-retention-minutes (tombstones), and keeps each
 * session's document in the store (collection "share_sessions") so a restarted echod restores
 * them: active sessions come back active with empty audio rings, tombstones keep their expiry.
 *
 * Writes to the store: on start, stop/timeout, metadata POST, format fixed (first chunk), and
 * at most every 5 s while a session's counters changed; a tombstone's document is deleted when
 * it expires. Start, stop and metadata POST persist before they succeed (else STORE_FAILED).
 *
 * Housekeeping runs in echo_share_pool_tick(), which the pool calls from its own 1 s timeout
 * source on the thread-default main context of the thread that created it (tests may call it
 * directly). Main thread only, like the store.
 *
 * Signals (connect before echo_share_pool_restore() to see restored sessions):
 *   "session-started" (EchoSharePool *pool, EchoShareSession *session): a session became
 *       active (started, or restored from the store).
 *   "session-ended" (EchoSharePool *pool, EchoShareSession *session, const char *reason):
 *       emitted after the session's own listeners got their ended callback.
 *
 * Time: everything reads the pool's clock, which is echo-core's echo_clock_now_ms() and
 * echo_clock_monotonic_us() (so ECHO_TEST_TIME_SCALE applies) unless a test installs its own
 * with echo_share_pool_set_clock(). */
#pragma once

#include <glib-object.h>

#include "echo-share-error.h"
#include "echo-share-request.h"
#include "echo-share-session.h"
#include "echo-store.h"

G_BEGIN_DECLS

/* The [share] configuration. */
typedef struct {
  guint max_sessions;              /* max-sessions (50): active sessions at once */
  guint audio_buffer_seconds;      /* audio-buffer-seconds (5): per ring */
  guint session_timeout_minutes;   /* session-timeout-minutes (15): no sharer POST -> ended */
  guint ended_retention_minutes;   /* ended-retention-minutes (5): tombstone lifetime */
  guint metadata_ttl_seconds;      /* metadata-ttl-seconds (30) */
  gsize max_chunk_bytes;           /* max-chunk-bytes (1048576): decoded audio per chunk */
  gsize max_metadata_bytes;        /* max-metadata-bytes (5242880): metadata body */
  double audio_rate;               /* audio-rate (12): audio POSTs per second per session */
  guint audio_burst;               /* audio-burst (12) */
  double metadata_rate;            /* metadata-rate (2) */
  guint metadata_burst;            /* metadata-burst (4) */
} EchoShareLimits;

/* Fills @limits with the defaults above. */
void echo_share_limits_init_defaults (EchoShareLimits *limits);

#define ECHO_SHARE_STORE_COLLECTION "share_sessions"

#define ECHO_TYPE_SHARE_POOL (echo_share_pool_get_type ())
G_DECLARE_FINAL_TYPE (EchoSharePool, echo_share_pool, ECHO, SHARE_POOL, GObject)

/* @limits is copied. @store (nullable: nothing is persisted) is borrowed and must outlive the
 * pool. Installs the 1 s housekeeping source. */
EchoSharePool    *echo_share_pool_new (const EchoShareLimits *limits, EchoStore *store);

const EchoShareLimits *echo_share_pool_get_limits (EchoSharePool *pool);

/* Loads the sessions saved in the store (call once, before serving). Active ones come back
 * active ("session-started" is emitted for each) with empty rings; tombstones come back until
 * their original expiry; expired tombstones are deleted from the store; sessions idle for
 * longer than the timeout end at once with reason "timeout". A document that cannot be read is
 * logged and skipped. Fails only when the store cannot be listed (STORE_FAILED). No-op without
 * a store. */
gboolean          echo_share_pool_restore (EchoSharePool *pool, GError **error);

/* Starts session @session_id (the start body's id; see echo_share_request_parse_start()).
 * A tombstoned id starts afresh (the tombstone is replaced). Returns the new session (transfer
 * none). Errors: INVALID_SESSION_ID, SESSION_EXISTS ("Session ID already in use"),
 * SESSION_LIMIT, STORE_FAILED. */
EchoShareSession *echo_share_pool_start (EchoSharePool *pool, const char *session_id,
                                         GError **error);

/* The active session @session_id (transfer none). Errors: INVALID_SESSION_ID,
 * SESSION_NOT_FOUND ("Session not found"), SESSION_ENDED (with echo_share_error_get_ended()
 * data, for the status route's ended body). */
EchoShareSession *echo_share_pool_lookup (EchoSharePool *pool, const char *session_id,
                                          GError **error);

/* Figures for /health and /metrics. Totals count since the pool was created. */
typedef struct {
  guint active_sessions;       /* echo_share_sessions */
  guint listeners;             /* echo_share_listeners: sum of listener counts, active sessions */
  guint ended_sessions;        /* tombstones held */
  guint64 audio_bytes_in;      /* echo_share_audio_bytes_in_total: decoded audio accepted */
  guint64 audio_bytes_out;     /* echo_share_audio_bytes_out_total: audio reply text sent */
  guint64 buffer_overflows;    /* echo_share_buffer_overflows_total */
  guint64 sequence_gaps;       /* forward jumps in sequenceNumber */
} EchoSharePoolStats;

guint             echo_share_pool_get_active_count (EchoSharePool *pool);
void              echo_share_pool_get_stats (EchoSharePool *pool, EchoSharePoolStats *stats);

/* Housekeeping, also run by the pool's own timeout source every second: inactivity timeouts,
 * tombstone expiry, metadata expiry, forgetting stale pollers, flushing changed counters. */
void              echo_share_pool_tick (EchoSharePool *pool);

/* For tests: replaces the pool's clock (wall Unix ms and monotonic us). Call before starting
 * or restoring sessions. NULL functions restore echo-core's clock. */
typedef gint64 (*EchoShareClockFunc) (gpointer user_data);
void              echo_share_pool_set_clock (EchoSharePool *pool, EchoShareClockFunc now_ms,
                                             EchoShareClockFunc monotonic_us,
                                             gpointer user_data);

G_END_DECLS
