/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-pool.c: the music sessions of one echod, the Track cache, per-user rate limits,
 * and batched persistence.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-pool.h"

#include <math.h>
#include <string.h>

#include "echo-clock.h"
#include "echo-music-error.h"
#include "echo-music-id.h"
#include "echo-rate-limit.h"

/* Idle rate-limit buckets are looked for at most this often. */
#define PRUNE_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef struct _FlushBatch FlushBatch;

struct _EchoMusicPool
{
  EchoStore *store;             /* borrowed; NULL: memory only */
  EchoMusicLimits limits;
  EchoMusicSessionConfig session_config;

  GHashTable *sessions;         /* session id -> EchoMusicSession*, owned */
  GHashTable *channels;         /* channel_key() -> EchoMusicSession*, borrowed */
  GHashTable *tracks;           /* track id -> EchoTrack*, owned */
  GHashTable *track_keys;       /* track_key() -> EchoTrack*, borrowed */

  GHashTable *dirty_sessions;   /* session ids to write */
  GHashTable *dirty_tracks;     /* track ids to write */
  GMainContext *context;
  GSource *flush_source;        /* pending flush, or NULL */
  FlushBatch *batch;            /* the write in a background thread, or NULL */

  GHashTable *buckets;          /* bucket_key() -> EchoRateLimit* */
  gint64 last_prune_us;
};

void
echo_music_limits_init_defaults (EchoMusicLimits *limits)
{
  g_return_if_fail (limits != NULL);
  limits->max_sessions = 1000;
  limits->max_items = ECHO_MUSIC_QUEUE_DEFAULT_MAX_ITEMS;
  limits->history_limit = ECHO_MUSIC_QUEUE_DEFAULT_HISTORY_LIMIT;
  limits->start_lead_ms = ECHO_MUSIC_SESSION_DEFAULT_START_LEAD_MS;
  limits->flush_interval_ms = 50;
  limits->resolve_rate = 2;
  limits->resolve_burst = 5;
  limits->upload_rate = 1;
  limits->upload_burst = 3;
  limits->queue_rate = 10;
  limits->queue_burst = 20;
  limits->control_rate = 10;
  limits->control_burst = 20;
}

void
echo_music_limits_get_session_config (const EchoMusicLimits *limits,
    EchoMusicSessionConfig *config)
{
  g_return_if_fail (limits != NULL);
  g_return_if_fail (config != NULL);
  config->max_items = limits->max_items;
  config->history_limit = limits->history_limit;
  config->start_lead_ms = limits->start_lead_ms;
}

static gboolean
check_rate_limit (const char *name, double rate, guint burst, GError ** error)
{
  if (isfinite (rate) && rate > 0 && rate <= 1e6 && burst >= 1)
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "%s rate limit: the rate must be in (0, 1e6] per second and the burst at least 1",
      name);
  return FALSE;
}

static gboolean
check_limits (const EchoMusicLimits * limits, GError ** error)
{
  if (limits->max_sessions < 1 || limits->max_items < 1) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "max sessions and max queue items must be at least 1");
    return FALSE;
  }
  if (limits->start_lead_ms < 0 || limits->start_lead_ms > 60000 ||
      limits->flush_interval_ms > 60000) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "the start lead and the flush interval must be within 0..60000 ms");
    return FALSE;
  }
  return check_rate_limit ("resolve", limits->resolve_rate, limits->resolve_burst, error) &&
      check_rate_limit ("upload", limits->upload_rate, limits->upload_burst, error) &&
      check_rate_limit ("queue", limits->queue_rate, limits->queue_burst, error) &&
      check_rate_limit ("control", limits->control_rate, limits->control_burst, error);
}

/* Outside ids hold no spaces or control characters, so a newline separates them safely. */
static char *
channel_key (const char *server_id, const char *voice_channel_id)
{
  return g_strconcat (server_id, "\n", voice_channel_id, NULL);
}

static char *
track_key (const EchoTrack * track)
{
  return g_strdup_printf ("%s\n%s", echo_track_source_to_string (track->source),
      track->source_id);
}

static void
add_session (EchoMusicPool * pool, EchoMusicSession * session)
{
  g_hash_table_insert (pool->sessions, g_strdup (echo_music_session_get_id (session)),
      session);
  g_hash_table_insert (pool->channels,
      channel_key (echo_music_session_get_server_id (session),
          echo_music_session_get_voice_channel_id (session)), session);
}

static void
restore_session (EchoMusicPool * pool, EchoStoreDocument * doc, gint64 now_ms)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMusicSession) session = NULL;
  g_autofree char *key = NULL;
  EchoMusicSession *other;

  session = echo_music_session_from_store_json (doc->json, &pool->session_config, now_ms,
      &error);
  if (session == NULL) {
    g_warning ("music session document %s skipped: %s", doc->id, error->message);
    return;
  }
  if (strcmp (echo_music_session_get_id (session), doc->id) != 0) {
    g_warning ("music session document %s skipped: it holds session %s", doc->id,
        echo_music_session_get_id (session));
    return;
  }
  key = channel_key (echo_music_session_get_server_id (session),
      echo_music_session_get_voice_channel_id (session));
  other = g_hash_table_lookup (pool->channels, key);
  if (other != NULL) {
    /* Two sessions for one channel (hand-edited data, or two daemons sharing a database):
     * the one changed last wins. */
    if (echo_music_session_get_updated_at_ms (session) <=
        echo_music_session_get_updated_at_ms (other)) {
      g_warning ("music session %s skipped: its voice channel has a newer session",
          echo_music_session_get_id (session));
      return;
    }
    g_warning ("music session %s skipped: its voice channel has a newer session",
        echo_music_session_get_id (other));
    g_hash_table_remove (pool->channels, key);
    g_hash_table_remove (pool->sessions, echo_music_session_get_id (other));
  }
  add_session (pool, g_steal_pointer (&session));
}

static void
restore_track (EchoMusicPool * pool, EchoStoreDocument * doc)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoTrack) track = echo_track_deserialize (doc->json, &error);
  g_autofree char *key = NULL;
  EchoTrack *cached;

  if (track == NULL) {
    g_warning ("music track document %s skipped: %s", doc->id, error->message);
    return;
  }
  if (strcmp (track->id, doc->id) != 0) {
    g_warning ("music track document %s skipped: it holds track \"%s\"", doc->id, track->id);
    return;
  }
  key = track_key (track);
  if (g_hash_table_contains (pool->track_keys, key)) {
    g_warning ("music track %s skipped: another track has the same source and id", doc->id);
    return;
  }
  cached = g_steal_pointer (&track);
  g_hash_table_insert (pool->track_keys, g_steal_pointer (&key), cached);
  g_hash_table_insert (pool->tracks, g_strdup (cached->id), cached);
}

static gboolean
restore (EchoMusicPool * pool, GError ** error)
{
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (GPtrArray) tracks = NULL;
  gint64 now_ms = echo_clock_now_ms ();
  guint i;

  tracks = echo_store_list (pool->store, ECHO_MUSIC_TRACKS_COLLECTION, error);
  if (tracks == NULL)
    return FALSE;
  sessions = echo_store_list (pool->store, ECHO_MUSIC_SESSIONS_COLLECTION, error);
  if (sessions == NULL)
    return FALSE;
  for (i = 0; i < tracks->len; i++)
    restore_track (pool, g_ptr_array_index (tracks, i));
  for (i = 0; i < sessions->len; i++)
    restore_session (pool, g_ptr_array_index (sessions, i), now_ms);
  return TRUE;
}

EchoMusicPool *
echo_music_pool_new (EchoStore *store, const EchoMusicLimits *limits, GError **error)
{
  g_autoptr (EchoMusicPool) pool = NULL;
  EchoMusicLimits defaults;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (limits == NULL) {
    echo_music_limits_init_defaults (&defaults);
    limits = &defaults;
  }
  if (!check_limits (limits, error))
    return NULL;

  pool = g_new0 (EchoMusicPool, 1);
  pool->store = store;
  pool->limits = *limits;
  echo_music_limits_get_session_config (limits, &pool->session_config);
  pool->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) echo_music_session_free);
  pool->channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pool->tracks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) echo_track_free);
  pool->track_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pool->dirty_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pool->dirty_tracks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pool->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pool->context = g_main_context_ref_thread_default ();

  if (store != NULL && !restore (pool, error))
    return NULL;
  return g_steal_pointer (&pool);
}

static void
cancel_flush (EchoMusicPool * pool)
{
  if (pool->flush_source != NULL) {
    g_source_destroy (pool->flush_source);
    g_clear_pointer (&pool->flush_source, g_source_unref);
  }
}

void
echo_music_pool_free (EchoMusicPool *pool)
{
  g_autoptr (GError) error = NULL;

  if (pool == NULL)
    return;
  /* Half-built pools (a failed restore) have nothing dirty; a batch in flight counts as
   * pending, and the flush waits for it. */
  if (pool->sessions != NULL && echo_music_pool_has_pending (pool) &&
      !echo_music_pool_flush (pool, &error))
    g_warning ("music sessions not saved at shutdown: %s", error->message);
  cancel_flush (pool);
  g_clear_pointer (&pool->channels, g_hash_table_unref);
  g_clear_pointer (&pool->sessions, g_hash_table_unref);
  g_clear_pointer (&pool->track_keys, g_hash_table_unref);
  g_clear_pointer (&pool->tracks, g_hash_table_unref);
  g_clear_pointer (&pool->dirty_sessions, g_hash_table_unref);
  g_clear_pointer (&pool->dirty_tracks, g_hash_table_unref);
  g_clear_pointer (&pool->buckets, g_hash_table_unref);
  g_clear_pointer (&pool->context, g_main_context_unref);
  g_free (pool);
}

const EchoMusicLimits *
echo_music_pool_get_limits (EchoMusicPool *pool)
{
  g_return_val_if_fail (pool != NULL, NULL);
  return &pool->limits;
}

/* Persistence ------------------------------------------------------------------------------
 *
 * Changes mark their session or track dirty; a flush, at most flush_interval_ms later,
 * serializes the dirty documents on the main thread and hands them to a thread that puts
 * them in the store, so the loop that serves the API never waits for a disk's fsync or a
 * database's commit. One batch is in flight at a time: a batch is written whole before the
 * next starts, so a document's older text cannot land after its newer one. What a failed
 * batch did not write is dirty again and retried at the next flush. */

typedef struct {
  gboolean session;             /* a session's document, else a track's */
  char *id;
  char *json;
} PendingDocument;

struct _FlushBatch
{
  EchoStore *store;
  GMainContext *context;
  GPtrArray *documents;         /* of PendingDocument*, written in order */
  guint written;                /* how many were, before an error */
  GError *error;

  GMutex lock;
  GCond cond;
  gboolean done;                /* under lock */

  EchoMusicPool *pool;          /* main thread only: NULL once the pool took the result */
};

static void
pending_document_free (gpointer data)
{
  PendingDocument *document = data;

  g_free (document->id);
  g_free (document->json);
  g_free (document);
}

static void
flush_batch_clear (gpointer data)
{
  FlushBatch *batch = data;

  g_ptr_array_unref (batch->documents);
  g_clear_error (&batch->error);
  g_main_context_unref (batch->context);
  g_mutex_clear (&batch->lock);
  g_cond_clear (&batch->cond);
}

static void
flush_batch_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, flush_batch_clear);
}

/* Serializes @dirty's documents (a session or track each; one that is gone has nothing to
 * write) into @documents and forgets them. */
static void
take_dirty (EchoMusicPool * pool, GHashTable * dirty, gboolean sessions,
    GPtrArray * documents)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, dirty);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    const char *id = key;
    char *json;

    if (sessions) {
      EchoMusicSession *session = g_hash_table_lookup (pool->sessions, id);

      json = session != NULL ? echo_music_session_to_store_json (session) : NULL;
    } else {
      EchoTrack *track = g_hash_table_lookup (pool->tracks, id);

      json = track != NULL ? echo_track_serialize (track) : NULL;
    }
    if (json != NULL) {
      PendingDocument *document = g_new (PendingDocument, 1);

      document->session = sessions;
      document->id = g_strdup (id);
      document->json = json;
      g_ptr_array_add (documents, document);
    }
    g_hash_table_iter_remove (&iter);
  }
}

static GPtrArray *
take_all_dirty (EchoMusicPool * pool)
{
  GPtrArray *documents = g_ptr_array_new_with_free_func (pending_document_free);

  /* Tracks first: a session's queue refers to them by id. */
  take_dirty (pool, pool->dirty_tracks, FALSE, documents);
  take_dirty (pool, pool->dirty_sessions, TRUE, documents);
  return documents;
}

/* Any thread. Puts @documents in order; returns how many it put before an error. */
static guint
write_documents (EchoStore * store, GPtrArray * documents, GError ** error)
{
  guint i;

  for (i = 0; i < documents->len; i++) {
    PendingDocument *document = g_ptr_array_index (documents, i);

    if (!echo_store_put (store, document->session ? ECHO_MUSIC_SESSIONS_COLLECTION :
            ECHO_MUSIC_TRACKS_COLLECTION, document->id, document->json, error))
      break;
  }
  return i;
}

/* Marks what a failed write left unwritten dirty again (a document changed since is
 * already). */
static void
requeue_unwritten (EchoMusicPool * pool, GPtrArray * documents, guint written)
{
  guint i;

  for (i = written; i < documents->len; i++) {
    PendingDocument *document = g_ptr_array_index (documents, i);

    g_hash_table_add (document->session ? pool->dirty_sessions : pool->dirty_tracks,
        g_strdup (document->id));
  }
}

static void schedule_flush (EchoMusicPool * pool);

/* Main thread, once the batch's thread is done: takes its result. */
static void
finish_batch (EchoMusicPool * pool)
{
  FlushBatch *batch = g_steal_pointer (&pool->batch);

  batch->pool = NULL;
  if (batch->error != NULL) {
    g_warning ("music sessions not saved, retrying: %s", batch->error->message);
    requeue_unwritten (pool, batch->documents, batch->written);
  }
  flush_batch_unref (batch);
  if (echo_music_pool_has_pending (pool))
    schedule_flush (pool);
}

static gboolean
batch_done_cb (gpointer data)
{
  FlushBatch *batch = data;

  /* NULL when the pool already waited for this batch (a synchronous flush, an end, its
   * free) */
  if (batch->pool != NULL)
    finish_batch (batch->pool);
  return G_SOURCE_REMOVE;
}

static gpointer
batch_thread (gpointer data)
{
  FlushBatch *batch = data;
  GSource *source;

  batch->written = write_documents (batch->store, batch->documents, &batch->error);
  g_mutex_lock (&batch->lock);
  batch->done = TRUE;
  g_cond_signal (&batch->cond);
  g_mutex_unlock (&batch->lock);
  /* Back to the pool's context; the thread's reference goes to the callback. (Not
   * g_main_context_invoke(): it would run the callback here when this thread can
   * acquire the context.) */
  source = g_idle_source_new ();
  g_source_set_callback (source, batch_done_cb, batch, flush_batch_unref);
  g_source_set_name (source, "echo-music-pool saved");
  g_source_attach (source, batch->context);
  g_source_unref (source);
  return NULL;
}

/* Blocks until the batch in flight, if any, is written, and takes its result. */
static void
wait_batch (EchoMusicPool * pool)
{
  FlushBatch *batch = pool->batch;

  if (batch == NULL)
    return;
  g_mutex_lock (&batch->lock);
  while (!batch->done)
    g_cond_wait (&batch->cond, &batch->lock);
  g_mutex_unlock (&batch->lock);
  finish_batch (pool);
}

static void
start_batch (EchoMusicPool * pool)
{
  g_autoptr (GPtrArray) documents = take_all_dirty (pool);
  g_autoptr (GError) error = NULL;
  g_autoptr (GThread) thread = NULL;
  FlushBatch *batch;

  if (documents->len == 0)
    return;
  batch = g_atomic_rc_box_new0 (FlushBatch);
  batch->store = pool->store;
  batch->context = g_main_context_ref (pool->context);
  batch->documents = g_steal_pointer (&documents);
  g_mutex_init (&batch->lock);
  g_cond_init (&batch->cond);
  batch->pool = pool;
  pool->batch = batch;
  thread = g_thread_try_new ("echo-music-save", batch_thread,
      g_atomic_rc_box_acquire (batch), &error);
  if (thread == NULL) {
    /* no thread to spare: write here, as a synchronous flush does */
    flush_batch_unref (batch);
    batch->written = write_documents (batch->store, batch->documents, &batch->error);
    finish_batch (pool);
  }
}

static gboolean
flush_cb (gpointer user_data)
{
  EchoMusicPool *pool = user_data;

  g_clear_pointer (&pool->flush_source, g_source_unref);
  /* With a batch in flight, its end schedules the next flush. */
  if (pool->batch == NULL)
    start_batch (pool);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (EchoMusicPool * pool)
{
  if (pool->store == NULL || pool->flush_source != NULL)
    return;
  pool->flush_source = g_timeout_source_new (pool->limits.flush_interval_ms);
  g_source_set_callback (pool->flush_source, flush_cb, pool, NULL);
  g_source_set_name (pool->flush_source, "echo-music-pool flush");
  g_source_attach (pool->flush_source, pool->context);
}

void
echo_music_pool_mark_dirty (EchoMusicPool *pool, EchoMusicSession *session)
{
  g_return_if_fail (pool != NULL);
  g_return_if_fail (session != NULL);

  if (pool->store == NULL)
    return;
  g_hash_table_add (pool->dirty_sessions, g_strdup (echo_music_session_get_id (session)));
  schedule_flush (pool);
}

static void
mark_track_dirty (EchoMusicPool * pool, const EchoTrack * track)
{
  if (pool->store == NULL)
    return;
  g_hash_table_add (pool->dirty_tracks, g_strdup (track->id));
  schedule_flush (pool);
}

gboolean
echo_music_pool_has_pending (EchoMusicPool *pool)
{
  g_return_val_if_fail (pool != NULL, FALSE);
  return pool->batch != NULL || g_hash_table_size (pool->dirty_sessions) > 0 ||
      g_hash_table_size (pool->dirty_tracks) > 0;
}

gboolean
echo_music_pool_flush (EchoMusicPool *pool, GError **error)
{
  g_autoptr (GPtrArray) documents = NULL;
  guint written;

  g_return_val_if_fail (pool != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* (without a store nothing is ever scheduled) */
  if (pool->store == NULL)
    return TRUE;
  /* What the batch failed to write is dirty again, and written here: the flush its end
   * may have scheduled is not needed. */
  wait_batch (pool);
  cancel_flush (pool);
  documents = take_all_dirty (pool);
  written = write_documents (pool->store, documents, error);
  if (written == documents->len)
    return TRUE;
  requeue_unwritten (pool, documents, written);
  schedule_flush (pool);
  return FALSE;
}

/* Sessions -------------------------------------------------------------------------------- */

EchoMusicSession *
echo_music_pool_session_start (EchoMusicPool *pool, const char *server_id,
    const char *voice_channel_id, const char *creator, gint64 now_ms, gboolean *created,
    GError **error)
{
  EchoMusicSession *session;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (created != NULL)
    *created = FALSE;
  if (!echo_music_check_id ("serverId", server_id, error) ||
      !echo_music_check_id ("voiceChannelId", voice_channel_id, error) ||
      !echo_music_check_id ("user id", creator, error))
    return NULL;
  session = echo_music_pool_lookup_channel (pool, server_id, voice_channel_id);
  if (session != NULL)
    return session;
  if (g_hash_table_size (pool->sessions) >= pool->limits.max_sessions) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
        "too many music sessions (at most %u)", pool->limits.max_sessions);
    return NULL;
  }
  session = echo_music_session_new (server_id, voice_channel_id, creator,
      &pool->session_config, now_ms);
  add_session (pool, session);
  echo_music_pool_mark_dirty (pool, session);
  if (created != NULL)
    *created = TRUE;
  return session;
}

EchoMusicSession *
echo_music_pool_lookup (EchoMusicPool *pool, const char *session_id, GError **error)
{
  EchoMusicSession *session;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  session = session_id != NULL ? g_hash_table_lookup (pool->sessions, session_id) : NULL;
  if (session == NULL)
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "no music session %s", session_id != NULL ? session_id : "(null)");
  return session;
}

EchoMusicSession *
echo_music_pool_lookup_channel (EchoMusicPool *pool, const char *server_id,
    const char *voice_channel_id)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (pool != NULL, NULL);

  if (server_id == NULL || voice_channel_id == NULL)
    return NULL;
  key = channel_key (server_id, voice_channel_id);
  return g_hash_table_lookup (pool->channels, key);
}

gboolean
echo_music_pool_end (EchoMusicPool *pool, const char *session_id, GError **error)
{
  EchoMusicSession *session;
  g_autofree char *key = NULL;

  g_return_val_if_fail (pool != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  session = echo_music_pool_lookup (pool, session_id, error);
  if (session == NULL)
    return FALSE;
  /* A put of this session in flight must not land after the delete. */
  wait_batch (pool);
  if (pool->store != NULL &&
      !echo_store_delete (pool->store, ECHO_MUSIC_SESSIONS_COLLECTION, session_id, error))
    return FALSE;
  key = channel_key (echo_music_session_get_server_id (session),
      echo_music_session_get_voice_channel_id (session));
  g_hash_table_remove (pool->channels, key);
  g_hash_table_remove (pool->dirty_sessions, session_id);
  /* Last: @session_id may be the session's own string. */
  g_hash_table_remove (pool->sessions, echo_music_session_get_id (session));
  return TRUE;
}

static int
compare_sessions (gconstpointer pa, gconstpointer pb)
{
  EchoMusicSession *a = *(EchoMusicSession * const *) pa;
  EchoMusicSession *b = *(EchoMusicSession * const *) pb;
  gint64 ta = echo_music_session_get_created_at_ms (a);
  gint64 tb = echo_music_session_get_created_at_ms (b);

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return strcmp (echo_music_session_get_id (a), echo_music_session_get_id (b));
}

GPtrArray *
echo_music_pool_list (EchoMusicPool *pool)
{
  GPtrArray *list;
  GHashTableIter iter;
  gpointer session;

  g_return_val_if_fail (pool != NULL, NULL);

  list = g_ptr_array_sized_new (g_hash_table_size (pool->sessions));
  g_hash_table_iter_init (&iter, pool->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &session))
    g_ptr_array_add (list, session);
  g_ptr_array_sort (list, compare_sessions);
  return list;
}

guint
echo_music_pool_get_count (EchoMusicPool *pool)
{
  g_return_val_if_fail (pool != NULL, 0);
  return g_hash_table_size (pool->sessions);
}

/* Tracks ---------------------------------------------------------------------------------- */

const EchoTrack *
echo_music_pool_track_intern (EchoMusicPool *pool, const EchoTrack *track, gint64 now_ms,
    GError **error)
{
  g_autofree char *key = NULL;
  EchoTrack *cached, *fresh;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (track != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (track->source > ECHO_TRACK_SOURCE_LAST || track->source_id == NULL ||
      *track->source_id == '\0' || track->title == NULL || *track->title == '\0') {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "a track needs a source, a sourceId and a title");
    return NULL;
  }
  fresh = echo_track_copy (track);
  key = track_key (track);
  cached = g_hash_table_lookup (pool->track_keys, key);
  if (cached != NULL) {
    EchoTrack old;

    /* Swap the contents, so pointers to the cached track stay valid and see the fresh
     * metadata; the id and creation time stay the cached ones. */
    g_free (fresh->id);
    fresh->id = g_strdup (cached->id);
    fresh->created_at_ms = cached->created_at_ms;
    old = *cached;
    *cached = *fresh;
    *fresh = old;
    echo_track_free (fresh);
  } else {
    g_free (fresh->id);
    fresh->id = g_uuid_string_random ();
    if (fresh->created_at_ms == 0)
      fresh->created_at_ms = now_ms;
    cached = fresh;
    g_hash_table_insert (pool->track_keys, g_steal_pointer (&key), cached);
    g_hash_table_insert (pool->tracks, g_strdup (cached->id), cached);
  }
  mark_track_dirty (pool, cached);
  return cached;
}

const EchoTrack *
echo_music_pool_track_lookup (EchoMusicPool *pool, const char *track_id)
{
  g_return_val_if_fail (pool != NULL, NULL);
  return track_id != NULL ? g_hash_table_lookup (pool->tracks, track_id) : NULL;
}

guint
echo_music_pool_get_track_count (EchoMusicPool *pool)
{
  g_return_val_if_fail (pool != NULL, 0);
  return g_hash_table_size (pool->tracks);
}

/* Rate limits ----------------------------------------------------------------------------- */

static void
rate_of (EchoMusicPool * pool, EchoMusicRateKind kind, double *rate, guint * burst)
{
  switch (kind) {
    case ECHO_MUSIC_RATE_RESOLVE:
      *rate = pool->limits.resolve_rate;
      *burst = pool->limits.resolve_burst;
      break;
    case ECHO_MUSIC_RATE_UPLOAD:
      *rate = pool->limits.upload_rate;
      *burst = pool->limits.upload_burst;
      break;
    case ECHO_MUSIC_RATE_QUEUE:
      *rate = pool->limits.queue_rate;
      *burst = pool->limits.queue_burst;
      break;
    case ECHO_MUSIC_RATE_CONTROL:
    default:
      *rate = pool->limits.control_rate;
      *burst = pool->limits.control_burst;
      break;
  }
}

/* A bucket that would be full by now holds no information: dropping it is lossless. */
static gboolean
bucket_is_idle (gpointer key, gpointer value, gpointer user_data)
{
  EchoRateLimit *limit = value;
  gint64 now_us = *(gint64 *) user_data;

  (void) key;
  return limit->tokens + (double) (now_us - limit->last_us) / G_USEC_PER_SEC * limit->rate >=
      limit->burst;
}

gboolean
echo_music_pool_check_rate (EchoMusicPool *pool, const char *user, EchoMusicRateKind kind,
    gint64 now_us, guint *retry_after_s, GError **error)
{
  g_autofree char *key = NULL;
  EchoRateLimit *limit;
  guint retry = 0;
  double rate;
  guint burst;

  g_return_val_if_fail (pool != NULL, FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (kind <= ECHO_MUSIC_RATE_CONTROL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (retry_after_s != NULL)
    *retry_after_s = 0;
  if (now_us - pool->last_prune_us >= PRUNE_INTERVAL_US) {
    g_hash_table_foreach_remove (pool->buckets, bucket_is_idle, &now_us);
    pool->last_prune_us = now_us;
  }
  key = g_strdup_printf ("%d\n%s", (int) kind, user);
  limit = g_hash_table_lookup (pool->buckets, key);
  if (limit == NULL) {
    rate_of (pool, kind, &rate, &burst);
    limit = g_new (EchoRateLimit, 1);
    echo_rate_limit_init (limit, rate, burst, now_us);
    g_hash_table_insert (pool->buckets, g_steal_pointer (&key), limit);
  }
  if (echo_rate_limit_take (limit, now_us, &retry))
    return TRUE;
  if (retry_after_s != NULL)
    *retry_after_s = retry;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_RATE_LIMITED,
      "too many requests: retry in %u s", retry);
  return FALSE;
}

guint
echo_music_pool_get_rate_bucket_count (EchoMusicPool *pool)
{
  g_return_val_if_fail (pool != NULL, 0);
  return g_hash_table_size (pool->buckets);
}
