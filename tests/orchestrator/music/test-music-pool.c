/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-music-pool.c: the session pool: create-or-get per voice channel, id rules, the
 * session limit, lookups and ending; the Track cache (unique by source and sourceId, ids
 * kept, metadata refreshed); per-user rate limits and the pruning of idle buckets; and
 * persistence through the real file store in a temporary directory: batched writes by the
 * pool's own timeout in a background thread, explicit flushes, the last state winning over
 * writes in flight, an end during a write, restore after reopening, corrupt documents
 * skipped, two sessions for one channel resolved.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "echo-music-error.h"
#include "echo-music-pool.h"

#define T0 G_GINT64_CONSTANT (1700000000000)

static const EchoMusicActor alice = { "alice", NULL, FALSE };

static EchoTrack *
make_track (EchoTrackSource source, const char *source_id, const char *title)
{
  EchoTrack *track = echo_track_new (source, source_id, title);

  track->duration_ms = 200000;
  return track;
}

/* A fresh temporary data directory, removed (with the store's files) by the test. */
static char *
make_data_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp (NULL, &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

static EchoStore *
open_store (const char *dir)
{
  g_autoptr (GError) error = NULL;
  EchoStore *store = echo_store_open (dir, NULL, &error);

  g_assert_no_error (error);
  return store;
}

static void
test_start_and_lookup (void)
{
  g_autoptr (EchoMusicPool) pool = echo_music_pool_new (NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  EchoMusicSession *a, *again, *b;
  gboolean created = FALSE;
  g_autofree char *a_id = NULL;

  g_assert_nonnull (pool);
  g_assert_cmpuint (echo_music_pool_get_limits (pool)->max_sessions, ==, 1000);
  a = echo_music_pool_session_start (pool, "guild", "vc-1", "alice", T0, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpstr (echo_music_session_get_created_by (a), ==, "alice");
  /* Create or get: the same channel gives the same session, whoever asks. */
  again = echo_music_pool_session_start (pool, "guild", "vc-1", "bob", T0 + 1, &created,
      &error);
  g_assert_true (again == a);
  g_assert_false (created);
  g_assert_cmpstr (echo_music_session_get_created_by (again), ==, "alice");
  b = echo_music_pool_session_start (pool, "guild", "vc-2", "bob", T0 + 2, &created, &error);
  g_assert_true (created);
  g_assert_true (b != a);

  g_assert_true (echo_music_pool_lookup (pool, echo_music_session_get_id (a), &error) == a);
  g_assert_true (echo_music_pool_lookup_channel (pool, "guild", "vc-2") == b);
  g_assert_null (echo_music_pool_lookup_channel (pool, "guild", "vc-3"));
  g_assert_null (echo_music_pool_lookup_channel (pool, "guild\nvc", "1"));
  g_assert_null (echo_music_pool_lookup (pool, "nope", &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  list = echo_music_pool_list (pool);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_true (g_ptr_array_index (list, 0) == a);
  g_assert_true (g_ptr_array_index (list, 1) == b);
  g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 2);

  /* Bad ids. */
  {
    static const char *const bad[][3] = {
      { "", "vc", "u" }, { "g", "", "u" }, { "g", "vc", "" }, { "g g", "vc", "u" },
      { "g", "v\tc", "u" }, { "g", "vc", "\xc3\xa9" },
    };
    g_autofree char *long_id = g_strnfill (129, 'x');
    guint i;

    for (i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_assert_null (echo_music_pool_session_start (pool, bad[i][0], bad[i][1], bad[i][2],
              T0, &created, &error));
      g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
      g_clear_error (&error);
    }
    g_assert_null (echo_music_pool_session_start (pool, long_id, "vc", "u", T0, NULL,
            &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    g_clear_error (&error);
    long_id[128] = '\0';
    g_assert_nonnull (echo_music_pool_session_start (pool, long_id, "vc", "u", T0, NULL,
            &error));
    g_assert_no_error (error);
  }

  /* Ending frees the channel for a new session. */
  a_id = g_strdup (echo_music_session_get_id (a));
  g_assert_true (echo_music_pool_end (pool, a_id, &error));
  g_assert_no_error (error);
  g_assert_null (echo_music_pool_lookup_channel (pool, "guild", "vc-1"));
  g_assert_false (echo_music_pool_end (pool, a_id, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  a = echo_music_pool_session_start (pool, "guild", "vc-1", "carol", T0 + 3, &created,
      &error);
  g_assert_true (created);
  g_assert_cmpstr (echo_music_session_get_id (a), !=, a_id);
}

static void
test_limits (void)
{
  EchoMusicLimits limits;
  g_autoptr (EchoMusicPool) pool = NULL;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session;
  g_autoptr (EchoTrack) track = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "abc", "A");
  g_autoptr (GPtrArray) tracks = g_ptr_array_new ();
  g_autoptr (GPtrArray) items = NULL;

  echo_music_limits_init_defaults (&limits);
  limits.max_sessions = 2;
  limits.max_items = 1;
  limits.start_lead_ms = 100;
  pool = echo_music_pool_new (NULL, &limits, &error);
  g_assert_no_error (error);
  g_assert_nonnull (echo_music_pool_session_start (pool, "g", "1", "u", T0, NULL, &error));
  session = echo_music_pool_session_start (pool, "g", "2", "alice", T0, NULL, &error);
  g_assert_nonnull (session);
  g_assert_null (echo_music_pool_session_start (pool, "g", "3", "u", T0, NULL, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
  g_clear_error (&error);
  /* An existing channel still answers at the limit. */
  g_assert_true (echo_music_pool_session_start (pool, "g", "2", "u", T0, NULL, &error) ==
      session);

  /* The sessions take the limits' queue size and start lead. */
  g_ptr_array_add (tracks, track);
  g_ptr_array_add (tracks, track);
  g_assert_null (echo_music_session_queue_add (session, &alice, tracks, T0, NULL, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_QUEUE_FULL);
  g_clear_error (&error);
  g_ptr_array_set_size (tracks, 1);
  items = echo_music_session_queue_add (session, &alice, tracks, T0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, T0 + 100);

  /* Bad limits are refused. */
  {
    EchoMusicLimits bad;
    EchoMusicPool *none;

    echo_music_limits_init_defaults (&bad);
    bad.queue_rate = 0;
    none = echo_music_pool_new (NULL, &bad, &error);
    g_assert_null (none);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    g_clear_error (&error);
    echo_music_limits_init_defaults (&bad);
    bad.upload_burst = 0;
    g_assert_null (echo_music_pool_new (NULL, &bad, &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    g_clear_error (&error);
    echo_music_limits_init_defaults (&bad);
    bad.max_sessions = 0;
    g_assert_null (echo_music_pool_new (NULL, &bad, &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_track_cache (void)
{
  g_autoptr (EchoMusicPool) pool = echo_music_pool_new (NULL, NULL, NULL);
  g_autoptr (EchoTrack) first = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "dQw4w9WgXcQ", "Old");
  g_autoptr (EchoTrack) fresh = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "dQw4w9WgXcQ", "New");
  g_autoptr (EchoTrack) other_source = make_track (ECHO_TRACK_SOURCE_SOUNDCLOUD,
      "dQw4w9WgXcQ", "Other");
  g_autoptr (EchoTrack) untitled = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "x", "");
  g_autoptr (GError) error = NULL;
  const EchoTrack *a, *b, *c;
  g_autofree char *a_id = NULL;

  a = echo_music_pool_track_intern (pool, first, T0, &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (a->id));
  g_assert_cmpint (a->created_at_ms, ==, T0);
  g_assert_cmpstr (first->id, ==, "");  /* the caller's track is not touched */
  a_id = g_strdup (a->id);

  fresh->artist = g_strdup ("Rick");
  b = echo_music_pool_track_intern (pool, fresh, T0 + 1000, &error);
  g_assert_no_error (error);
  /* Same entry: same pointer and id, fresh metadata, original creation time. */
  g_assert_true (b == a);
  g_assert_cmpstr (b->id, ==, a_id);
  g_assert_cmpstr (b->title, ==, "New");
  g_assert_cmpstr (b->artist, ==, "Rick");
  g_assert_cmpint (b->created_at_ms, ==, T0);

  c = echo_music_pool_track_intern (pool, other_source, T0, &error);
  g_assert_true (c != a);
  g_assert_cmpstr (c->id, !=, a_id);
  g_assert_cmpuint (echo_music_pool_get_track_count (pool), ==, 2);
  g_assert_true (echo_music_pool_track_lookup (pool, a_id) == a);
  g_assert_null (echo_music_pool_track_lookup (pool, "nope"));

  g_assert_null (echo_music_pool_track_intern (pool, untitled, T0, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_assert_cmpuint (echo_music_pool_get_track_count (pool), ==, 2);
}

static void
test_rate_limits (void)
{
  g_autoptr (EchoMusicPool) pool = echo_music_pool_new (NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  gint64 now = 1000 * G_USEC_PER_SEC;
  guint retry = 0, i;

  /* resolve: burst 5, then refused with a retry-after; 2/s refill. */
  for (i = 0; i < 5; i++) {
    g_assert_true (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE, now,
            &retry, &error));
    g_assert_no_error (error);
  }
  g_assert_false (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE, now,
          &retry, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_RATE_LIMITED);
  g_clear_error (&error);
  g_assert_cmpuint (retry, >=, 1);
  /* Other kinds and other users have their own buckets. */
  g_assert_true (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_QUEUE, now,
          NULL, &error));
  g_assert_true (echo_music_pool_check_rate (pool, "bob", ECHO_MUSIC_RATE_RESOLVE, now,
          NULL, &error));
  /* Half a second later one token is back (2/s). */
  g_assert_true (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE,
          now + G_USEC_PER_SEC / 2, NULL, &error));
  g_assert_false (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE,
          now + G_USEC_PER_SEC / 2, NULL, &error));
  g_clear_error (&error);

  /* upload: burst 3 at 1/s; control: burst 20. */
  for (i = 0; i < 3; i++)
    g_assert_true (echo_music_pool_check_rate (pool, "carol", ECHO_MUSIC_RATE_UPLOAD, now,
            NULL, NULL));
  g_assert_false (echo_music_pool_check_rate (pool, "carol", ECHO_MUSIC_RATE_UPLOAD, now,
          &retry, NULL));
  g_assert_cmpuint (retry, ==, 1);
  for (i = 0; i < 20; i++)
    g_assert_true (echo_music_pool_check_rate (pool, "carol", ECHO_MUSIC_RATE_CONTROL, now,
            NULL, NULL));
  g_assert_false (echo_music_pool_check_rate (pool, "carol", ECHO_MUSIC_RATE_CONTROL, now,
          NULL, NULL));

  /* Idle buckets go once they would be full again; busy ones stay. */
  g_assert_cmpuint (echo_music_pool_get_rate_bucket_count (pool), ==, 5);
  for (i = 0; i < 20; i++)
    g_assert_true (echo_music_pool_check_rate (pool, "dave", ECHO_MUSIC_RATE_QUEUE,
            now + 60 * G_USEC_PER_SEC, NULL, NULL));
  /* Pruned: all but dave's (just emptied). */
  g_assert_cmpuint (echo_music_pool_get_rate_bucket_count (pool), ==, 1);
  /* A pruned user starts with a full bucket again. */
  for (i = 0; i < 5; i++)
    g_assert_true (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE,
            now + 61 * G_USEC_PER_SEC, NULL, NULL));
  g_assert_false (echo_music_pool_check_rate (pool, "alice", ECHO_MUSIC_RATE_RESOLVE,
          now + 61 * G_USEC_PER_SEC, NULL, NULL));
  g_assert_cmpuint (echo_music_pool_get_rate_bucket_count (pool), ==, 2);
}

/* A session with tracks, settings and a member, through the pool's track cache. */
static EchoMusicSession *
populate (EchoMusicPool * pool)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) tracks = g_ptr_array_new ();
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (EchoTrack) a = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "aaa", "A");
  g_autoptr (EchoTrack) b = make_track (ECHO_TRACK_SOURCE_UPLOADED, "bbb", "B");
  EchoMusicSession *session;

  session = echo_music_pool_session_start (pool, "guild", "vc", "alice", T0, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (tracks, (gpointer) echo_music_pool_track_intern (pool, a, T0, &error));
  g_ptr_array_add (tracks, (gpointer) echo_music_pool_track_intern (pool, b, T0, &error));
  g_assert_no_error (error);
  items = echo_music_session_queue_add (session, &alice, tracks, T0 + 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (echo_music_session_member_join (session, "bob", NULL, T0 + 20, NULL,
          &error));
  g_assert_true (echo_music_session_set_volume (session, &alice, 70, T0 + 30, NULL, &error));
  echo_music_pool_mark_dirty (pool, session);
  return session;
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until the pool's writes are done (a generous bound: a loaded
 * machine). */
static void
drain_pool (EchoMusicPool * pool)
{
  gboolean timed_out = FALSE;
  guint timer = g_timeout_add_seconds (30, timeout_cb, &timed_out);

  while (echo_music_pool_has_pending (pool) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timer);
}

static void
test_persistence (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr (GError) error = NULL;
  g_autofree char *session_id = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *track_id = NULL;
  g_autofree char *stored = NULL;

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = echo_music_pool_new (store, NULL, &error);
    EchoMusicSession *session;

    g_assert_no_error (error);
    g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 0);
    session = populate (pool);
    session_id = g_strdup (echo_music_session_get_id (session));
    g_assert_true (echo_music_pool_has_pending (pool));
    /* Nothing is written before the flush interval... */
    stored = echo_store_get (store, ECHO_MUSIC_SESSIONS_COLLECTION, session_id, &error);
    g_assert_no_error (error);
    g_assert_null (stored);

    /* ... and the pool's own timeout writes it, in the background. */
    drain_pool (pool);
    stored = echo_store_get (store, ECHO_MUSIC_SESSIONS_COLLECTION, session_id, &error);
    g_assert_no_error (error);
    g_assert_nonnull (stored);

    /* A later change, written by an explicit flush. */
    g_assert_true (echo_music_session_set_loop (session, &alice, ECHO_LOOP_ALL, T0 + 40, NULL,
            &error));
    echo_music_pool_mark_dirty (pool, session);
    g_assert_true (echo_music_pool_flush (pool, &error));
    g_assert_no_error (error);
    g_assert_false (echo_music_pool_has_pending (pool));
    saved = echo_music_session_to_store_json (session);
    track_id = g_strdup (echo_music_session_get_current (session)->track->id);
    g_assert_true (g_uuid_string_is_valid (track_id));
  }

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = echo_music_pool_new (store, NULL, &error);
    EchoMusicSession *session;
    g_autofree char *restored = NULL;
    const EchoTrack *track;
    g_autoptr (EchoTrack) again = make_track (ECHO_TRACK_SOURCE_YOUTUBE, "aaa", "A2");

    g_assert_no_error (error);
    g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 1);
    g_assert_cmpuint (echo_music_pool_get_track_count (pool), ==, 2);
    session = echo_music_pool_lookup (pool, session_id, &error);
    g_assert_no_error (error);
    g_assert_true (echo_music_pool_lookup_channel (pool, "guild", "vc") == session);
    restored = echo_music_session_to_store_json (session);
    /* A client-played track: the timeline is restored unchanged. */
    g_assert_cmpstr (restored, ==, saved);
    g_assert_cmpint (echo_music_session_get_loop (session), ==, ECHO_LOOP_ALL);
    g_assert_true (echo_music_session_is_member (session, "bob"));
    /* The track cache came back with its ids: interning the same track keeps the id. */
    track = echo_music_pool_track_intern (pool, again, T0, &error);
    g_assert_cmpstr (track->id, ==, track_id);
    g_assert_cmpstr (echo_music_pool_track_lookup (pool, track_id)->title, ==, "A2");

    /* Ending deletes the document at once. */
    g_assert_true (echo_music_pool_end (pool, session_id, &error));
    g_assert_no_error (error);
    g_clear_pointer (&stored, g_free);
    stored = echo_store_get (store, ECHO_MUSIC_SESSIONS_COLLECTION, session_id, &error);
    g_assert_no_error (error);
    g_assert_null (stored);
    /* Freeing the pool flushes the re-interned track. */
  }

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = echo_music_pool_new (store, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 0);
    g_assert_cmpstr (echo_music_pool_track_lookup (pool, track_id)->title, ==, "A2");
  }
  remove_tree (dir);
}

static EchoMusicPool *
new_pool_flushing_at_once (EchoStore * store)
{
  g_autoptr (GError) error = NULL;
  EchoMusicLimits limits;
  EchoMusicPool *pool;

  echo_music_limits_init_defaults (&limits);
  limits.flush_interval_ms = 0;
  pool = echo_music_pool_new (store, &limits, &error);
  g_assert_no_error (error);
  return pool;
}

/* Saving runs in a background thread while the loop goes on changing the session: what
 * the store holds at the end is the last state, never an older batch landing late. */
static void
test_background_saves (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr (GError) error = NULL;
  g_autofree char *last = NULL;
  g_autofree char *session_id = NULL;

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = new_pool_flushing_at_once (store);
    g_autofree char *stored = NULL;
    EchoMusicSession *session = populate (pool);
    guint i;

    session_id = g_strdup (echo_music_session_get_id (session));
    for (i = 0; i < 200; i++) {
      g_assert_true (echo_music_session_set_volume (session, &alice, i % 101, T0 + 100 + i,
              NULL, &error));
      g_assert_no_error (error);
      echo_music_pool_mark_dirty (pool, session);
      /* let a flush start now and then, so changes land during writes */
      if (i % 3 == 0)
        g_main_context_iteration (NULL, FALSE);
    }
    last = echo_music_session_to_store_json (session);
    drain_pool (pool);
    stored = echo_store_get (store, ECHO_MUSIC_SESSIONS_COLLECTION, session_id, &error);
    g_assert_no_error (error);
    g_assert_nonnull (stored);
  }

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = echo_music_pool_new (store, NULL, &error);
    g_autofree char *restored = NULL;

    g_assert_no_error (error);
    restored = echo_music_session_to_store_json (echo_music_pool_lookup (pool, session_id,
            NULL));
    g_assert_cmpstr (restored, ==, last);
  }
  remove_tree (dir);
}

/* Ending a session whose document is being written waits for that write: the delete is
 * the last word, and the session does not come back at the next start. */
static void
test_end_during_save (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr (GError) error = NULL;
  guint round;

  for (round = 0; round < 20; round++) {
    g_autofree char *session_id = NULL;

    {
      g_autoptr (EchoStore) store = open_store (dir);
      g_autoptr (EchoMusicPool) pool = new_pool_flushing_at_once (store);
      EchoMusicSession *session = populate (pool);

      session_id = g_strdup (echo_music_session_get_id (session));
      /* the zero-interval flush starts its background write in this iteration */
      while (!g_main_context_iteration (NULL, FALSE));
      g_assert_true (echo_music_pool_has_pending (pool));
      g_assert_true (echo_music_pool_end (pool, session_id, &error));
      g_assert_no_error (error);
      drain_pool (pool);
    }
    {
      g_autoptr (EchoStore) store = open_store (dir);
      g_autoptr (EchoMusicPool) pool = echo_music_pool_new (store, NULL, &error);

      g_assert_no_error (error);
      g_assert_null (echo_music_pool_lookup (pool, session_id, NULL));
      g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 0);
    }
  }
  remove_tree (dir);
}

static void
test_restore_skips_bad_documents (void)
{
  g_autofree char *dir = make_data_dir ();
  g_autoptr (GError) error = NULL;
  g_autofree char *good_text = NULL;
  g_autofree char *good_id = NULL;
  g_autofree char *older_id = NULL;

  /* Two sessions of one channel (made in separate pools), and one good session. */
  {
    g_autoptr (EchoMusicPool) pool = echo_music_pool_new (NULL, NULL, NULL);
    g_autoptr (EchoMusicPool) pool2 = echo_music_pool_new (NULL, NULL, NULL);
    EchoMusicSession *good = echo_music_pool_session_start (pool, "g", "good", "u", T0, NULL,
        NULL);
    EchoMusicSession *older = echo_music_pool_session_start (pool, "g", "dup", "u", T0, NULL,
        NULL);
    EchoMusicSession *newer = echo_music_pool_session_start (pool2, "g", "dup", "alice", T0,
        NULL, NULL);
    g_autoptr (EchoStore) store = open_store (dir);
    g_autofree char *older_store = echo_music_session_to_store_json (older);
    g_autofree char *newer_store = NULL;

    g_assert_true (echo_music_session_set_volume (newer, &alice, 1, T0 + 5, NULL, NULL));
    newer_store = echo_music_session_to_store_json (newer);
    good_text = echo_music_session_to_store_json (good);
    good_id = g_strdup (echo_music_session_get_id (good));
    older_id = g_strdup (echo_music_session_get_id (older));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_SESSIONS_COLLECTION, good_id, good_text,
            &error));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_SESSIONS_COLLECTION,
            echo_music_session_get_id (older), older_store, &error));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_SESSIONS_COLLECTION,
            echo_music_session_get_id (newer), newer_store, &error));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_SESSIONS_COLLECTION, "zz-broken",
            "{\"formatVersion\":1,\"id\":\"zz-broken\"}", &error));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_SESSIONS_COLLECTION, "zz-misfiled",
            good_text, &error));
    g_assert_true (echo_store_put (store, ECHO_MUSIC_TRACKS_COLLECTION, "t-broken",
            "{\"id\":7}", &error));
    g_assert_no_error (error);
  }

  {
    g_autoptr (EchoStore) store = open_store (dir);
    g_autoptr (EchoMusicPool) pool = NULL;
    EchoMusicSession *dup;

    g_test_expect_message ("echo-music", G_LOG_LEVEL_WARNING, "*t-broken skipped*");
    /* Sessions load in id order: the uuids before the "zz-" documents. */
    g_test_expect_message ("echo-music", G_LOG_LEVEL_WARNING, "*skipped*newer session*");
    g_test_expect_message ("echo-music", G_LOG_LEVEL_WARNING, "*zz-broken skipped*");
    g_test_expect_message ("echo-music", G_LOG_LEVEL_WARNING, "*zz-misfiled skipped*");
    pool = echo_music_pool_new (store, NULL, &error);
    g_test_assert_expected_messages ();
    g_assert_no_error (error);
    g_assert_cmpuint (echo_music_pool_get_count (pool), ==, 2);
    g_assert_nonnull (echo_music_pool_lookup (pool, good_id, NULL));
    dup = echo_music_pool_lookup_channel (pool, "g", "dup");
    g_assert_nonnull (dup);
    /* The one changed last won. */
    g_assert_cmpuint (echo_music_session_get_volume (dup), ==, 1);
    g_assert_null (echo_music_pool_lookup (pool, older_id, NULL));
  }
  remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/music/pool/start-and-lookup", test_start_and_lookup);
  g_test_add_func ("/music/pool/limits", test_limits);
  g_test_add_func ("/music/pool/track-cache", test_track_cache);
  g_test_add_func ("/music/pool/rate-limits", test_rate_limits);
  g_test_add_func ("/music/pool/persistence", test_persistence);
  g_test_add_func ("/music/pool/background-saves", test_background_saves);
  g_test_add_func ("/music/pool/end-during-save", test_end_during_save);
  g_test_add_func ("/music/pool/restore-skips-bad-documents",
      test_restore_skips_bad_documents);
  return g_test_run ();
}
