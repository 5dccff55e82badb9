/* echo-share-pool.c: all share sessions of one echod (see the header). */
#include "echo-share-pool.h"

#include "echo-clock.h"
#include "echo-share-private.h"

#define TICK_INTERVAL_MS 1000
/* Changed counters are written at most this often per session. */
#define FLUSH_INTERVAL_US (5 * G_USEC_PER_SEC)

struct _EchoSharePool {
  GObject parent_instance;

  EchoShareLimits limits;
  EchoStore *store;                 /* borrowed, nullable */
  GHashTable *sessions;             /* id -> EchoShareSession* (active and ended) */
  EchoSharePoolStats counters;      /* totals; gauges filled by get_stats */
  GSource *tick_source;

  EchoShareClockFunc now_ms_func;
  EchoShareClockFunc monotonic_us_func;
  gpointer clock_data;
};

enum {
  SIGNAL_SESSION_STARTED,
  SIGNAL_SESSION_ENDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (EchoSharePool, echo_share_pool, G_TYPE_OBJECT)

void
echo_share_limits_init_defaults (EchoShareLimits *limits)
{
  g_return_if_fail (limits != NULL);

  limits->max_sessions = 50;
  limits->audio_buffer_seconds = 5;
  limits->session_timeout_minutes = 15;
  limits->ended_retention_minutes = 5;
  limits->metadata_ttl_seconds = 30;
  limits->max_chunk_bytes = 1048576;
  limits->max_metadata_bytes = 5242880;
  limits->audio_rate = 12;
  limits->audio_burst = 12;
  limits->metadata_rate = 2;
  limits->metadata_burst = 4;
}

/* ---- clock ---- */

static gint64
default_now_ms (gpointer user_data)
{
  return echo_clock_now_ms ();
}

static gint64
default_monotonic_us (gpointer user_data)
{
  return echo_clock_monotonic_us ();
}

gint64
echo_share_pool_now_ms (EchoSharePool *self)
{
  return self->now_ms_func (self->clock_data);
}

gint64
echo_share_pool_monotonic_us (EchoSharePool *self)
{
  return self->monotonic_us_func (self->clock_data);
}

void
echo_share_pool_set_clock (EchoSharePool *self, EchoShareClockFunc now_ms,
    EchoShareClockFunc monotonic_us, gpointer user_data)
{
  g_return_if_fail (ECHO_IS_SHARE_POOL (self));

  self->now_ms_func = now_ms != NULL ? now_ms : default_now_ms;
  self->monotonic_us_func = monotonic_us != NULL ? monotonic_us : default_monotonic_us;
  self->clock_data = user_data;
}

/* ---- for sessions ---- */

EchoSharePoolStats *
echo_share_pool_counters (EchoSharePool *self)
{
  return &self->counters;
}

gboolean
echo_share_pool_save (EchoSharePool *self, const char *session_id, const char *document,
    GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (self->store == NULL)
    return TRUE;
  if (!echo_store_put (self->store, ECHO_SHARE_STORE_COLLECTION, session_id, document,
          &local_error)) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "Could not save session %s: %s", session_id, local_error->message);
    return FALSE;
  }
  return TRUE;
}

void
echo_share_pool_emit_ended (EchoSharePool *self, EchoShareSession *session, const char *reason)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, session, reason);
}

static void
delete_document (EchoSharePool *self, const char *session_id)
{
  g_autoptr (GError) error = NULL;

  if (self->store != NULL &&
      !echo_store_delete (self->store, ECHO_SHARE_STORE_COLLECTION, session_id, &error))
    echo_share_log (G_LOG_LEVEL_WARNING, session_id,
        "Could not delete the record of ended session %s: %s", session_id, error->message);
}

/* ---- GObject ---- */

static gboolean
tick_cb (gpointer user_data)
{
  echo_share_pool_tick (ECHO_SHARE_POOL (user_data));
  return G_SOURCE_CONTINUE;
}

static void
echo_share_pool_dispose (GObject *object)
{
  EchoSharePool *self = ECHO_SHARE_POOL (object);

  if (self->tick_source != NULL) {
    g_source_destroy (self->tick_source);
    g_clear_pointer (&self->tick_source, g_source_unref);
  }
  if (self->sessions != NULL) {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->sessions);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      echo_share_session_detach (value, TRUE);
    g_clear_pointer (&self->sessions, g_hash_table_unref);
  }
  G_OBJECT_CLASS (echo_share_pool_parent_class)->dispose (object);
}

static void
echo_share_pool_class_init (EchoSharePoolClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = echo_share_pool_dispose;

  signals[SIGNAL_SESSION_STARTED] = g_signal_new ("session-started",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, ECHO_TYPE_SHARE_SESSION);
  signals[SIGNAL_SESSION_ENDED] = g_signal_new ("session-ended",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, ECHO_TYPE_SHARE_SESSION, G_TYPE_STRING);
}

static void
echo_share_pool_init (EchoSharePool *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->now_ms_func = default_now_ms;
  self->monotonic_us_func = default_monotonic_us;
}

EchoSharePool *
echo_share_pool_new (const EchoShareLimits *limits, EchoStore *store)
{
  EchoSharePool *self;
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();

  g_return_val_if_fail (limits != NULL, NULL);
  g_return_val_if_fail (limits->audio_rate > 0 && limits->metadata_rate > 0, NULL);

  self = g_object_new (ECHO_TYPE_SHARE_POOL, NULL);
  self->limits = *limits;
  self->store = store;
  self->tick_source = g_timeout_source_new (TICK_INTERVAL_MS);
  g_source_set_callback (self->tick_source, tick_cb, self, NULL);
  g_source_set_name (self->tick_source, "echo-share-pool tick");
  g_source_attach (self->tick_source, context);
  return self;
}

const EchoShareLimits *
echo_share_pool_get_limits (EchoSharePool *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_POOL (self), NULL);
  return &self->limits;
}

/* ---- sessions ---- */

guint
echo_share_pool_get_active_count (EchoSharePool *self)
{
  GHashTableIter iter;
  gpointer value;
  guint count = 0;

  g_return_val_if_fail (ECHO_IS_SHARE_POOL (self), 0);

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (echo_share_session_is_active (value))
      count++;
  }
  return count;
}

void
echo_share_pool_get_stats (EchoSharePool *self, EchoSharePoolStats *stats)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (ECHO_IS_SHARE_POOL (self));
  g_return_if_fail (stats != NULL);

  *stats = self->counters;
  stats->active_sessions = 0;
  stats->listeners = 0;
  stats->ended_sessions = 0;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (echo_share_session_is_active (value)) {
      stats->active_sessions++;
      stats->listeners += echo_share_session_get_listener_count (value);
    } else {
      stats->ended_sessions++;
    }
  }
}

EchoShareSession *
echo_share_pool_start (EchoSharePool *self, const char *session_id, GError **error)
{
  g_autoptr (EchoShareSession) session = NULL;
  g_autofree char *document = NULL;
  EchoShareSession *existing;

  g_return_val_if_fail (ECHO_IS_SHARE_POOL (self), NULL);

  if (!echo_share_request_check_session_id (session_id, error))
    return NULL;
  existing = g_hash_table_lookup (self->sessions, session_id);
  if (existing != NULL && echo_share_session_is_active (existing)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_EXISTS,
        "Session ID already in use");
    return NULL;
  }
  if (echo_share_pool_get_active_count (self) >= self->limits.max_sessions) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_LIMIT,
        "The server is at its limit of %u active sessions; try again later",
        self->limits.max_sessions);
    return NULL;
  }

  session = echo_share_session_new (self, session_id);
  document = echo_share_session_to_document (session);
  if (!echo_share_pool_save (self, session_id, document, error)) {
    echo_share_session_detach (session, FALSE);
    return NULL;
  }
  /* A tombstone being replaced may still be held (a WebSocket); it keeps answering "ended"
   * but must not reach back into the pool or overwrite the new document. */
  if (existing != NULL)
    echo_share_session_detach (existing, FALSE);
  g_hash_table_replace (self->sessions, g_strdup (session_id), g_object_ref (session));
  echo_share_log (G_LOG_LEVEL_INFO, session_id, "Session %s started", session_id);
  g_signal_emit (self, signals[SIGNAL_SESSION_STARTED], 0, session);
  return session;
}

EchoShareSession *
echo_share_pool_lookup (EchoSharePool *self, const char *session_id, GError **error)
{
  EchoShareSession *session;

  g_return_val_if_fail (ECHO_IS_SHARE_POOL (self), NULL);

  if (!echo_share_request_check_session_id (session_id, error))
    return NULL;
  session = g_hash_table_lookup (self->sessions, session_id);
  if (session == NULL) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND,
        "Session not found");
    return NULL;
  }
  if (!echo_share_session_check_active (session, error))
    return NULL;
  return session;
}

gboolean
echo_share_pool_restore (EchoSharePool *self, GError **error)
{
  g_autoptr (GPtrArray) documents = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 now;
  gint64 retention_us = (gint64) self->limits.ended_retention_minutes * 60 * G_USEC_PER_SEC;

  g_return_val_if_fail (ECHO_IS_SHARE_POOL (self), FALSE);

  if (self->store == NULL)
    return TRUE;
  documents = echo_store_list (self->store, ECHO_SHARE_STORE_COLLECTION, &local_error);
  if (documents == NULL) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "Could not read the saved share sessions: %s", local_error->message);
    return FALSE;
  }
  now = echo_share_pool_monotonic_us (self);
  for (guint i = 0; i < documents->len; i++) {
    EchoStoreDocument *document = g_ptr_array_index (documents, i);
    g_autoptr (EchoShareSession) session = NULL;

    if (g_hash_table_contains (self->sessions, document->id))
      continue;
    session = echo_share_session_new_from_document (self, document->id, document->json,
        &local_error);
    if (session == NULL) {
      echo_share_log (G_LOG_LEVEL_WARNING, document->id,
          "Skipping saved share session %s: %s", document->id, local_error->message);
      g_clear_error (&local_error);
      continue;
    }
    if (!echo_share_session_is_active (session) &&
        now - echo_share_session_get_ended_us (session) >= retention_us) {
      echo_share_session_detach (session, FALSE);
      delete_document (self, document->id);
      continue;
    }
    g_hash_table_replace (self->sessions, g_strdup (document->id), g_object_ref (session));
    if (echo_share_session_is_active (session)) {
      echo_share_log (G_LOG_LEVEL_INFO, document->id, "Session %s restored", document->id);
      g_signal_emit (self, signals[SIGNAL_SESSION_STARTED], 0, session);
    }
  }
  /* Sessions that went idle while echod was down end now. */
  echo_share_pool_tick (self);
  return TRUE;
}

void
echo_share_pool_tick (EchoSharePool *self)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;
  gint64 timeout_us = (gint64) self->limits.session_timeout_minutes * 60 * G_USEC_PER_SEC;
  gint64 retention_us = (gint64) self->limits.ended_retention_minutes * 60 * G_USEC_PER_SEC;

  g_return_if_fail (ECHO_IS_SHARE_POOL (self));

  /* Ending a session runs signal handlers, which may start or stop others: walk a copy. */
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));

  for (guint i = 0; i < ids->len; i++) {
    const char *id = g_ptr_array_index (ids, i);
    EchoShareSession *session = self->sessions != NULL ?
        g_hash_table_lookup (self->sessions, id) : NULL;
    gint64 now = echo_share_pool_monotonic_us (self);

    if (session == NULL)
      continue;
    if (echo_share_session_is_active (session)) {
      if (now - echo_share_session_get_last_activity_us (session) >= timeout_us) {
        echo_share_session_end (session, "timeout");
      } else {
        echo_share_session_expire (session, now);
        echo_share_session_flush (session, now, FLUSH_INTERVAL_US);
      }
    } else if (now - echo_share_session_get_ended_us (session) >= retention_us) {
      echo_share_log (G_LOG_LEVEL_DEBUG, id, "Forgetting ended session %s", id);
      echo_share_session_detach (session, FALSE);
      delete_document (self, id);
      g_hash_table_remove (self->sessions, id);
    } else {
      echo_share_session_flush (session, now, FLUSH_INTERVAL_US);
    }
  }
}
