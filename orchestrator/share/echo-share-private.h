/* echo-share-private.h: what the pool and its sessions tell each other (not installed, not
 * for other parts of echod). */
#pragma once

#include "echo-log.h"
#include "echo-share-pool.h"
#include "echo-share-session.h"

G_BEGIN_DECLS

/* Log records carry the session id as ECHO_SESSION (echo-log's field). */
#define echo_share_log(level, session_id, ...) \
  echo_log_event ((level), (session_id), NULL, 0, __VA_ARGS__)

/* ---- the pool, for its sessions ---- */

gint64              echo_share_pool_now_ms (EchoSharePool *pool);
gint64              echo_share_pool_monotonic_us (EchoSharePool *pool);
/* The running totals (the gauges in it are filled by get_stats only). */
EchoSharePoolStats *echo_share_pool_counters (EchoSharePool *pool);
/* Writes @document for @session_id; TRUE without a store. STORE_FAILED on failure. */
gboolean            echo_share_pool_save (EchoSharePool *pool, const char *session_id,
                                          const char *document, GError **error);
/* Emits "session-ended". */
void                echo_share_pool_emit_ended (EchoSharePool *pool, EchoShareSession *session,
                                                const char *reason);

/* ---- sessions, for the pool ---- */

/* A new active session started now. */
EchoShareSession   *echo_share_session_new (EchoSharePool *pool, const char *session_id);
/* A session from its stored document (see echo-share-session.c for the fields). */
EchoShareSession   *echo_share_session_new_from_document (EchoSharePool *pool,
                                                          const char *session_id,
                                                          const char *document, GError **error);
/* The session's document as it is now. */
char               *echo_share_session_to_document (EchoShareSession *session);

/* Ends an active session for @reason after the fact (inactivity): marks it ended, tries to
 * persist (a failure is logged and retried by flush), tells the listeners, then the pool. */
void                echo_share_session_end (EchoShareSession *session, const char *reason);

/* Monotonic us of the last sharer POST (active) / of the end (ended). */
gint64              echo_share_session_get_last_activity_us (EchoShareSession *session);
gint64              echo_share_session_get_ended_us (EchoShareSession *session);

/* Drops expired metadata and pollers not seen for 5 s. */
void                echo_share_session_expire (EchoShareSession *session, gint64 now_us);

/* Persists the document if it changed and the last write is at least @min_interval_us old. */
void                echo_share_session_flush (EchoShareSession *session, gint64 now_us,
                                              gint64 min_interval_us);

/* TRUE when active; else SESSION_ENDED (with its end data) or SESSION_NOT_FOUND (detached). */
gboolean            echo_share_session_check_active (EchoShareSession *session, GError **error);

/* Cuts the session off its pool (which is going away, or forgets it): listeners dropped
 * without an ended callback, and with @flush a last save of changed counters first. */
void                echo_share_session_detach (EchoShareSession *session, gboolean flush);

G_END_DECLS
