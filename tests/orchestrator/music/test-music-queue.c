/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-music-queue.c: the session queue's rules: order (votes with their ties, manual
 * reorder), limits, every failure changing nothing (the serialized queue is compared before
 * and after), playing with loop and shuffle (seeded), back, history, stats, the API JSON and
 * the store form (round trips; truncated and wrong-typed documents refused).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "echo-music-error.h"
#include "echo-music-json.h"
#include "echo-music-queue.h"

#define T0 G_GINT64_CONSTANT (1700000000000)

static EchoTrack *
make_track (guint n)
{
  g_autofree char *source_id = g_strdup_printf ("vid%05u", n);
  g_autofree char *title = g_strdup_printf ("Track %u", n);
  EchoTrack *track = echo_track_new (ECHO_TRACK_SOURCE_YOUTUBE, source_id, title);

  track->duration_ms = 60000;
  return track;
}

/* Adds track @n for @user at T0 + @n seconds; the item's track title is "Track n". */
static EchoQueueItem *
add_track (EchoMusicQueue * queue, guint n, const char *user)
{
  g_autoptr (EchoTrack) track = make_track (n);
  g_autoptr (GError) error = NULL;
  EchoQueueItem *item = echo_music_queue_add (queue, track, user, T0 + n * 1000, &error);

  g_assert_no_error (error);
  g_assert_nonnull (item);
  return item;
}

/* The upcoming titles as "Track 1,Track 2,...". */
static char *
upcoming_titles (EchoMusicQueue * queue)
{
  g_autoptr (GPtrArray) items = echo_music_queue_upcoming (queue);
  GString *titles = g_string_new (NULL);
  guint i;

  for (i = 0; i < items->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (items, i);

    g_assert_cmpuint (item->position, ==, i);
    g_assert_cmpint (item->status, ==, ECHO_QUEUE_QUEUED);
    g_string_append_printf (titles, "%s%s", i > 0 ? "," : "", item->track->title);
  }
  return g_string_free (titles, FALSE);
}

static EchoQueueItem *
upcoming_at (EchoMusicQueue * queue, guint index)
{
  g_autoptr (GPtrArray) items = echo_music_queue_upcoming (queue);

  g_assert_cmpuint (index, <, items->len);
  return g_ptr_array_index (items, index);
}

#define assert_upcoming(queue, expected) G_STMT_START { \
    g_autofree char *titles_ = upcoming_titles (queue); \
    g_assert_cmpstr (titles_, ==, expected); \
  } G_STMT_END

/* Runs a failing operation between two snapshots of the queue: they must be equal. */
#define assert_unchanged(queue, failing_call) G_STMT_START { \
    g_autofree char *before_ = echo_music_queue_serialize (queue); \
    g_autofree char *after_ = NULL; \
    failing_call; \
    after_ = echo_music_queue_serialize (queue); \
    g_assert_cmpstr (before_, ==, after_); \
  } G_STMT_END

static void
test_add_in_order (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (ECHO_MUSIC_QUEUE_DEFAULT_MAX_ITEMS,
      ECHO_MUSIC_QUEUE_DEFAULT_HISTORY_LIMIT);
  EchoQueueItem *a, *b, *c;

  g_assert_cmpuint (echo_music_queue_get_max_items (queue), ==, 500);
  g_assert_cmpuint (echo_music_queue_get_history_limit (queue), ==, 100);
  g_assert_false (echo_music_queue_get_voting (queue));
  g_assert_null (echo_music_queue_current (queue));
  a = add_track (queue, 1, "alice");
  b = add_track (queue, 2, "bob");
  c = add_track (queue, 3, "alice");
  assert_upcoming (queue, "Track 1,Track 2,Track 3");
  g_assert_cmpuint (echo_music_queue_get_length (queue), ==, 3);

  g_assert_cmpuint (strlen (a->id), ==, 36);    /* a uuid */
  g_assert_cmpstr (a->id, !=, b->id);
  g_assert_cmpstr (b->id, !=, c->id);
  g_assert_cmpstr (a->id, !=, c->id);
  g_assert_cmpstr (b->added_by, ==, "bob");
  g_assert_cmpint (b->requested_at_ms, ==, T0 + 2000);
  g_assert_cmpint (b->votes, ==, 0);
  g_assert_cmpuint (g_hash_table_size (b->voters), ==, 0);
  g_assert_cmpint (b->started_at_ms, ==, 0);
  g_assert_cmpint (b->ended_at_ms, ==, 0);
  g_assert_true (echo_music_queue_lookup (queue, b->id) == b);
  g_assert_null (echo_music_queue_lookup (queue, "nope"));
}

static void
test_add_copies_the_track (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (EchoTrack) track = make_track (1);
  EchoQueueItem *item = echo_music_queue_add (queue, track, "alice", T0, NULL);

  g_assert_true (item->track != track);
  g_free (track->title);
  track->title = g_strdup ("changed");
  g_assert_cmpstr (item->track->title, ==, "Track 1");
}

static void
test_add_validates (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (EchoTrack) track = make_track (1);
  g_autoptr (GPtrArray) tracks = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;

  add_track (queue, 9, "alice");
  g_ptr_array_add (tracks, track);
  assert_unchanged (queue, g_assert_null (echo_music_queue_add (queue, track, "", T0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_null (echo_music_queue_add_many (queue, tracks, "", T0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
}

static void
test_limits (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (4, 10);
  g_autoptr (GPtrArray) tracks = g_ptr_array_new_with_free_func ((GDestroyNotify)
      echo_track_free);
  g_autoptr (GPtrArray) empty = g_ptr_array_new ();
  g_autoptr (GPtrArray) added = NULL;
  g_autoptr (GPtrArray) none = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoTrack) extra = make_track (99);
  guint i;

  for (i = 0; i < 3; i++)
    g_ptr_array_add (tracks, make_track (10 + i));
  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");

  /* Three do not fit beside two: none is added. */
  assert_unchanged (queue, g_assert_null (echo_music_queue_add_many (queue, tracks, "bob",
              T0, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_QUEUE_FULL);
  g_clear_error (&error);

  g_ptr_array_set_size (tracks, 2);
  added = echo_music_queue_add_many (queue, tracks, "bob", T0 + 50000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added->len, ==, 2);
  g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (added, 0))->track->title, ==,
      "Track 10");
  g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (added, 1))->track->title, ==,
      "Track 11");
  assert_upcoming (queue, "Track 1,Track 2,Track 10,Track 11");

  assert_unchanged (queue, g_assert_null (echo_music_queue_add (queue, extra, "carol",
              T0, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_QUEUE_FULL);
  g_clear_error (&error);

  /* Nothing to add always fits. */
  none = echo_music_queue_add_many (queue, empty, "carol", T0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);

  /* The playing item does not count: starting one makes room for one more. */
  g_assert_nonnull (echo_music_queue_start (queue, FALSE, NULL, T0));
  g_assert_nonnull (echo_music_queue_add (queue, extra, "carol", T0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (echo_music_queue_get_length (queue), ==, 4);
}

static void
test_remove (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GError) error = NULL;
  g_autofree char *first_id = NULL;
  EchoQueueItem *b, *playing;

  add_track (queue, 1, "alice");
  b = add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  add_track (queue, 4, "alice");
  g_assert_true (echo_music_queue_remove (queue, b->id, &error));
  g_assert_no_error (error);
  assert_upcoming (queue, "Track 1,Track 3,Track 4");

  assert_unchanged (queue, g_assert_false (echo_music_queue_remove (queue, "no-such-id",
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  playing = echo_music_queue_start (queue, FALSE, NULL, T0);
  first_id = g_strdup (playing->id);
  assert_unchanged (queue, g_assert_false (echo_music_queue_remove (queue, first_id, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
  g_clear_error (&error);

  /* An ended item is history, not the queue's to remove. */
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 1);
  assert_unchanged (queue, g_assert_false (echo_music_queue_remove (queue, first_id, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
  assert_upcoming (queue, "Track 4");
}

static void
test_reorder (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GError) error = NULL;
  EchoQueueItem *a, *d, *playing;

  a = add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  d = add_track (queue, 4, "alice");

  g_assert_true (echo_music_queue_reorder (queue, d->id, 0, &error));
  assert_upcoming (queue, "Track 4,Track 1,Track 2,Track 3");
  g_assert_true (echo_music_queue_reorder (queue, a->id, 3, &error));
  assert_upcoming (queue, "Track 4,Track 2,Track 3,Track 1");
  g_assert_true (echo_music_queue_reorder (queue, a->id, 2, &error));
  assert_upcoming (queue, "Track 4,Track 2,Track 1,Track 3");
  g_assert_true (echo_music_queue_reorder (queue, a->id, 2, &error));
  assert_upcoming (queue, "Track 4,Track 2,Track 1,Track 3");
  g_assert_no_error (error);

  assert_unchanged (queue, g_assert_false (echo_music_queue_reorder (queue, a->id, 4,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_false (echo_music_queue_reorder (queue, a->id, G_MAXUINT,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_false (echo_music_queue_reorder (queue, "nope", 0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  playing = echo_music_queue_start (queue, FALSE, NULL, T0);
  g_assert_cmpstr (playing->track->title, ==, "Track 4");
  assert_unchanged (queue, g_assert_false (echo_music_queue_reorder (queue, playing->id, 0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
  g_clear_error (&error);

  /* Votes decide the order while voting is on. */
  echo_music_queue_set_voting (queue, TRUE);
  assert_unchanged (queue, g_assert_false (echo_music_queue_reorder (queue, a->id, 0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
}

static gboolean
vote (EchoMusicQueue * queue, EchoQueueItem * item, const char *user, int value)
{
  g_autoptr (GError) error = NULL;
  gboolean counted = echo_music_queue_vote (queue, item->id, user, value, &error);

  g_assert_no_error (error);
  return counted;
}

static void
test_vote_order_and_ties (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  EchoQueueItem *a, *b, *c, *d;

  echo_music_queue_set_voting (queue, TRUE);
  a = add_track (queue, 1, "alice");
  b = add_track (queue, 2, "bob");
  c = add_track (queue, 3, "carol");
  d = add_track (queue, 4, "dave");
  /* Equal votes: earliest request first. */
  assert_upcoming (queue, "Track 1,Track 2,Track 3,Track 4");

  g_assert_true (vote (queue, c, "u1", +1));
  assert_upcoming (queue, "Track 3,Track 1,Track 2,Track 4");
  g_assert_true (vote (queue, b, "u1", +1));
  /* b and c tie on one vote: b was requested first. */
  assert_upcoming (queue, "Track 2,Track 3,Track 1,Track 4");
  g_assert_true (vote (queue, a, "u2", -1));
  assert_upcoming (queue, "Track 2,Track 3,Track 4,Track 1");
  g_assert_true (vote (queue, d, "u1", +1));
  g_assert_true (vote (queue, d, "u2", +1));
  assert_upcoming (queue, "Track 4,Track 2,Track 3,Track 1");
  g_assert_cmpint (d->votes, ==, 2);
  g_assert_cmpint (a->votes, ==, -1);
  /* Votes can go negative and back up: -1 +1 +1 = 1 ties with b and c, requested earlier. */
  g_assert_true (vote (queue, a, "u1", +1));
  g_assert_true (vote (queue, a, "u3", +1));
  assert_upcoming (queue, "Track 4,Track 1,Track 2,Track 3");
}

static void
test_vote_ties_same_time_keep_arrival (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (50, 10);
  g_autoptr (GPtrArray) tracks = g_ptr_array_new_with_free_func ((GDestroyNotify)
      echo_track_free);
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GString) expected = g_string_new (NULL);
  guint i;

  /* A playlist added at one instant keeps its order under voting (ties past requestedAt
   * fall to arrival, not to the random ids). */
  echo_music_queue_set_voting (queue, TRUE);
  for (i = 0; i < 20; i++) {
    g_ptr_array_add (tracks, make_track (i));
    g_string_append_printf (expected, "%sTrack %u", i > 0 ? "," : "", i);
  }
  items = echo_music_queue_add_many (queue, tracks, "alice", T0, NULL);
  g_assert_nonnull (items);
  assert_upcoming (queue, expected->str);
  g_assert_true (vote (queue, g_ptr_array_index (items, 19), "u", +1));
  g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (items, 19))->track->title, ==,
      "Track 19");
  g_assert_cmpuint (((EchoQueueItem *) g_ptr_array_index (items, 19))->position, ==, 0);
}

static void
test_duplicate_votes_ignored (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GError) error = NULL;
  EchoQueueItem *a, *b;

  echo_music_queue_set_voting (queue, TRUE);
  a = add_track (queue, 1, "alice");
  b = add_track (queue, 2, "bob");
  g_assert_true (vote (queue, b, "carol", +1));
  assert_upcoming (queue, "Track 2,Track 1");

  /* A second vote of the same user for the same item is ignored, whatever its sign. */
  assert_unchanged (queue, g_assert_false (vote (queue, b, "carol", +1)));
  assert_unchanged (queue, g_assert_false (vote (queue, b, "carol", -1)));
  g_assert_cmpint (b->votes, ==, 1);
  g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (b->voters, "carol")), ==, 1);
  /* The same user may vote for another item. */
  g_assert_true (vote (queue, a, "carol", +1));
  g_assert_true (vote (queue, a, "dave", +1));
  assert_upcoming (queue, "Track 1,Track 2");
  g_assert_cmpuint (g_hash_table_size (a->voters), ==, 2);

  /* Invalid votes fail and change nothing. */
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, a->id, "erin", 0,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, a->id, "erin", 2,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, a->id, "", 1,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_clear_error (&error);
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, "nope", "erin", 1,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
}

static void
test_vote_only_queued (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GError) error = NULL;
  g_autofree char *first_id = NULL;
  EchoQueueItem *playing;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  playing = echo_music_queue_start (queue, FALSE, NULL, T0);
  first_id = g_strdup (playing->id);
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, first_id, "bob", 1,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
  g_clear_error (&error);
  echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 5);
  assert_unchanged (queue, g_assert_false (echo_music_queue_vote (queue, first_id, "bob", 1,
              &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT);
}

static void
test_voting_switch (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  EchoQueueItem *a, *c;

  a = add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  c = add_track (queue, 3, "alice");
  /* Votes count with voting off too, but do not move anything. */
  g_assert_true (vote (queue, c, "u1", +1));
  g_assert_true (vote (queue, a, "u1", -1));
  assert_upcoming (queue, "Track 1,Track 2,Track 3");

  echo_music_queue_set_voting (queue, TRUE);
  g_assert_true (echo_music_queue_get_voting (queue));
  assert_upcoming (queue, "Track 3,Track 2,Track 1");
  g_assert_cmpuint (echo_music_queue_get_length (queue), ==, 3);

  /* Off again: the order the votes made stays, and manual order works from there. */
  echo_music_queue_set_voting (queue, FALSE);
  assert_upcoming (queue, "Track 3,Track 2,Track 1");
  g_assert_true (echo_music_queue_reorder (queue, a->id, 0, NULL));
  assert_upcoming (queue, "Track 1,Track 3,Track 2");
  add_track (queue, 4, "bob");
  assert_upcoming (queue, "Track 1,Track 3,Track 2,Track 4");
  echo_music_queue_set_voting (queue, TRUE);
  assert_upcoming (queue, "Track 3,Track 2,Track 4,Track 1");
}

static const char *
title_of (EchoQueueItem * item)
{
  return item != NULL ? item->track->title : "(none)";
}

static void
test_start_and_advance (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GPtrArray) history = NULL;
  EchoQueueItem *item, *first;

  g_assert_null (echo_music_queue_start (queue, FALSE, NULL, T0));
  g_assert_null (echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_ALL, TRUE,
          NULL, T0));
  add_track (queue, 1, "alice");
  add_track (queue, 2, "bob");
  add_track (queue, 3, "alice");

  first = echo_music_queue_start (queue, FALSE, NULL, T0 + 10000);
  g_assert_cmpstr (title_of (first), ==, "Track 1");
  g_assert_cmpint (first->status, ==, ECHO_QUEUE_PLAYING);
  g_assert_cmpint (first->started_at_ms, ==, T0 + 10000);
  g_assert_true (echo_music_queue_current (queue) == first);
  assert_upcoming (queue, "Track 2,Track 3");
  /* start() while playing changes nothing. */
  assert_unchanged (queue, g_assert_true (echo_music_queue_start (queue, TRUE, NULL,
              T0 + 20000) == first));

  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL,
      T0 + 70000);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  g_assert_cmpint (item->started_at_ms, ==, T0 + 70000);
  item = echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_OFF, FALSE, NULL,
      T0 + 80000);
  g_assert_cmpstr (title_of (item), ==, "Track 3");
  assert_upcoming (queue, "");
  g_assert_null (echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE,
          NULL, T0 + 140000));
  g_assert_null (echo_music_queue_current (queue));

  history = echo_music_queue_history (queue, 0);
  g_assert_cmpuint (history->len, ==, 3);
  item = g_ptr_array_index (history, 0);
  g_assert_cmpstr (title_of (item), ==, "Track 3");
  g_assert_cmpint (item->status, ==, ECHO_QUEUE_PLAYED);
  g_assert_cmpint (item->ended_at_ms, ==, T0 + 140000);
  item = g_ptr_array_index (history, 1);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  g_assert_cmpint (item->status, ==, ECHO_QUEUE_SKIPPED);
  g_assert_cmpint (item->started_at_ms, ==, T0 + 70000);
  g_assert_cmpint (item->ended_at_ms, ==, T0 + 80000);
  g_assert_true (g_ptr_array_index (history, 2) == first);
  g_assert_cmpint (first->status, ==, ECHO_QUEUE_PLAYED);
  g_assert_true (echo_music_queue_lookup (queue, first->id) == first);
}

static void
test_advance_follows_votes (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  EchoQueueItem *c;

  echo_music_queue_set_voting (queue, TRUE);
  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  c = add_track (queue, 3, "alice");
  g_assert_true (vote (queue, c, "bob", +1));
  g_assert_cmpstr (title_of (echo_music_queue_start (queue, FALSE, NULL, T0)), ==, "Track 3");
  g_assert_cmpstr (title_of (echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED,
              ECHO_LOOP_OFF, FALSE, NULL, T0 + 1)), ==, "Track 1");
}

static void
test_loop_one (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GPtrArray) history = NULL;
  g_autofree char *first_id = NULL;
  EchoQueueItem *item;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "bob");
  item = echo_music_queue_start (queue, FALSE, NULL, T0);
  first_id = g_strdup (item->id);

  /* A natural end replays the same track, as a fresh item. */
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ONE, FALSE, NULL,
      T0 + 60000);
  g_assert_cmpstr (title_of (item), ==, "Track 1");
  g_assert_cmpstr (item->id, !=, first_id);
  g_assert_cmpstr (item->added_by, ==, "alice");
  g_assert_cmpint (item->started_at_ms, ==, T0 + 60000);
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ONE, TRUE, NULL,
      T0 + 120000);
  g_assert_cmpstr (title_of (item), ==, "Track 1");
  assert_upcoming (queue, "Track 2");

  /* A skip moves on. */
  item = echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_ONE, FALSE, NULL,
      T0 + 130000);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  assert_upcoming (queue, "");
  history = echo_music_queue_history (queue, 0);
  g_assert_cmpuint (history->len, ==, 3);
  g_assert_cmpint (((EchoQueueItem *) g_ptr_array_index (history, 0))->status, ==,
      ECHO_QUEUE_SKIPPED);
  g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (history, 2))->id, ==, first_id);
}

static void
test_loop_all_never_runs_dry (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  static const char *const expected[] = { "Track 1", "Track 2", "Track 3", "Track 1",
    "Track 2", "Track 3", "Track 1"
  };
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  EchoQueueItem *item;
  guint i;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  item = echo_music_queue_start (queue, FALSE, NULL, T0);
  for (i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_assert_cmpstr (title_of (item), ==, expected[i]);
    /* Every play is its own item. */
    g_assert_true (g_hash_table_add (seen, g_strdup (item->id)));
    g_assert_cmpuint (echo_music_queue_get_length (queue), ==, 2);
    item = echo_music_queue_advance (queue, i % 2 ? ECHO_QUEUE_SKIPPED : ECHO_QUEUE_PLAYED,
        ECHO_LOOP_ALL, FALSE, NULL, T0 + (i + 1) * 1000);
  }

  /* A single track loops on its own. */
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  echo_music_queue_clear (queue);
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 100000);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  item = echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 200000);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  g_assert_cmpuint (echo_music_queue_get_length (queue), ==, 0);
}

static void
test_shuffle_plays_each_once (void)
{
  guint seed;
  GHashTable *orders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (seed = 1; seed <= 20; seed++) {
    g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
    g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
    g_autoptr (GHashTable) played = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        NULL);
    GString *order = g_string_new (NULL);
    EchoQueueItem *item;
    guint i;

    for (i = 1; i <= 6; i++)
      add_track (queue, i, "alice");
    item = echo_music_queue_start (queue, TRUE, rand, T0);
    for (i = 0; i < 6; i++) {
      g_assert_nonnull (item);
      g_assert_true (g_hash_table_add (played, g_strdup (item->track->title)));
      g_string_append_printf (order, "%s;", item->track->title);
      item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, TRUE, rand,
          T0 + i + 1);
    }
    g_assert_null (item);
    g_hash_table_add (orders, g_string_free (order, FALSE));
  }
  /* Shuffled: twenty seeds do not all give the same order (20 draws of 720 orders). */
  g_assert_cmpuint (g_hash_table_size (orders), >, 10);
  g_hash_table_unref (orders);
}

static void
test_shuffle_loop_all_cycles (void)
{
  guint seed;

  for (seed = 1; seed <= 10; seed++) {
    g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
    g_autoptr (GRand) rand = g_rand_new_with_seed (seed * 7919);
    EchoQueueItem *item;
    guint cycle, i;

    for (i = 1; i <= 5; i++)
      add_track (queue, i, "alice");
    item = echo_music_queue_start (queue, TRUE, rand, T0);
    /* Every cycle of five plays holds each track exactly once, skips included. */
    for (cycle = 0; cycle < 4; cycle++) {
      g_autoptr (GHashTable) played = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
          NULL);

      for (i = 0; i < 5; i++) {
        g_assert_nonnull (item);
        g_assert_true (g_hash_table_add (played, g_strdup (item->track->title)));
        item = echo_music_queue_advance (queue,
            (cycle + i) % 3 ? ECHO_QUEUE_PLAYED : ECHO_QUEUE_SKIPPED, ECHO_LOOP_ALL, TRUE,
            rand, T0 + cycle * 10 + i + 1);
      }
      g_assert_cmpuint (g_hash_table_size (played), ==, 5);
    }
  }
}

static void
test_shuffle_uniform (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (424242);
  guint counts[5] = { 0 };
  guint run, i;

  /* The first pick among five, 2500 times: each near 500 (generous bounds, seeded). */
  for (run = 0; run < 2500; run++) {
    g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 0);
    EchoQueueItem *item;
    guint n;

    for (i = 0; i < 5; i++)
      add_track (queue, i, "alice");
    item = echo_music_queue_start (queue, TRUE, rand, T0);
    g_assert_true (sscanf (item->track->title, "Track %u", &n) == 1);
    g_assert_cmpuint (n, <, 5);
    counts[n]++;
  }
  for (i = 0; i < 5; i++) {
    g_test_message ("track %u first %u times", i, counts[i]);
    g_assert_cmpuint (counts[i], >, 350);
    g_assert_cmpuint (counts[i], <, 650);
  }
}

static void
test_back (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autofree char *a_id = NULL;
  EchoQueueItem *item;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  assert_unchanged (queue, g_assert_null (echo_music_queue_back (queue, T0, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  item = echo_music_queue_start (queue, FALSE, NULL, T0);
  a_id = g_strdup (item->id);
  assert_unchanged (queue, g_assert_null (echo_music_queue_back (queue, T0, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 60000);
  echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_OFF, FALSE, NULL,
      T0 + 70000);
  g_assert_cmpstr (title_of (echo_music_queue_current (queue)), ==, "Track 3");

  /* Back: Track 2 (the newest in history) plays again, Track 3 returns to the front. */
  item = echo_music_queue_back (queue, T0 + 80000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  g_assert_cmpint (item->status, ==, ECHO_QUEUE_PLAYING);
  g_assert_cmpint (item->started_at_ms, ==, T0 + 80000);
  g_assert_cmpint (item->ended_at_ms, ==, 0);
  assert_upcoming (queue, "Track 3");
  item = upcoming_at (queue, 0);
  g_assert_cmpint (item->started_at_ms, ==, 0);
  g_assert_cmpint (item->ended_at_ms, ==, 0);

  /* And again: Track 1, the same item as before (same id). */
  item = echo_music_queue_back (queue, T0 + 90000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (item->id, ==, a_id);
  assert_upcoming (queue, "Track 2,Track 3");
  history = echo_music_queue_history (queue, 0);
  g_assert_cmpuint (history->len, ==, 0);
  assert_unchanged (queue, g_assert_null (echo_music_queue_back (queue, T0, &error)));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);

  /* The stats keep the plays that back() undid from history. */
  {
    g_autoptr (EchoQueueStats) stats = echo_music_queue_stats (queue, 0);

    g_assert_cmpuint (stats->played, ==, 1);
    g_assert_cmpuint (stats->skipped, ==, 1);
  }
}

static void
test_back_with_voting_and_nothing_playing (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  EchoQueueItem *item, *c;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  c = add_track (queue, 3, "alice");
  echo_music_queue_start (queue, FALSE, NULL, T0);
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 1);
  echo_music_queue_set_voting (queue, TRUE);
  g_assert_true (vote (queue, c, "bob", +1));
  /* With voting on, the returning item goes where its votes put it. */
  item = echo_music_queue_back (queue, T0 + 2, NULL);
  g_assert_cmpstr (title_of (item), ==, "Track 1");
  assert_upcoming (queue, "Track 3,Track 2");

  /* Back with nothing playing (the queue ran dry) plays the last one again. */
  echo_music_queue_clear (queue);
  g_assert_null (echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE,
          NULL, T0 + 3));
  item = echo_music_queue_back (queue, T0 + 4, NULL);
  g_assert_cmpstr (title_of (item), ==, "Track 1");
  assert_upcoming (queue, "");
}

static void
test_back_under_loop_all (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  EchoQueueItem *item;

  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  echo_music_queue_start (queue, FALSE, NULL, T0);
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 1);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  assert_upcoming (queue, "Track 3,Track 1");
  /* Track 1 plays now instead of later: its copy at the back goes. */
  item = echo_music_queue_back (queue, T0 + 2, NULL);
  g_assert_cmpstr (title_of (item), ==, "Track 1");
  assert_upcoming (queue, "Track 2,Track 3");
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 3);
  assert_upcoming (queue, "Track 3,Track 1");

  /* One track looping: back replaces the copy that is already playing. */
  echo_music_queue_clear (queue);
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 4);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  item = echo_music_queue_back (queue, T0 + 5, NULL);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  assert_upcoming (queue, "");
  item = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL,
      T0 + 6);
  g_assert_cmpstr (title_of (item), ==, "Track 2");
  assert_upcoming (queue, "");
}

static void
test_clear (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);

  g_assert_cmpuint (echo_music_queue_clear (queue), ==, 0);
  add_track (queue, 1, "alice");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "alice");
  echo_music_queue_start (queue, FALSE, NULL, T0);
  g_assert_cmpuint (echo_music_queue_clear (queue), ==, 2);
  assert_upcoming (queue, "");
  g_assert_cmpstr (title_of (echo_music_queue_current (queue)), ==, "Track 1");
}

static void
test_history_limit (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 2);
  g_autoptr (EchoMusicQueue) no_history = echo_music_queue_new (10, 0);
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (GPtrArray) newest = NULL;
  g_autoptr (GError) error = NULL;
  guint i;

  for (i = 1; i <= 5; i++)
    add_track (queue, i, "alice");
  echo_music_queue_start (queue, FALSE, NULL, T0);
  for (i = 0; i < 4; i++)
    echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + i);
  history = echo_music_queue_history (queue, 0);
  g_assert_cmpuint (history->len, ==, 2);
  g_assert_cmpstr (title_of (g_ptr_array_index (history, 0)), ==, "Track 4");
  g_assert_cmpstr (title_of (g_ptr_array_index (history, 1)), ==, "Track 3");
  newest = echo_music_queue_history (queue, 1);
  g_assert_cmpuint (newest->len, ==, 1);
  g_assert_cmpstr (title_of (g_ptr_array_index (newest, 0)), ==, "Track 4");

  add_track (no_history, 1, "alice");
  add_track (no_history, 2, "alice");
  echo_music_queue_start (no_history, FALSE, NULL, T0);
  echo_music_queue_advance (no_history, ECHO_QUEUE_PLAYED, ECHO_LOOP_ONE, FALSE, NULL, T0 + 1);
  g_assert_cmpstr (title_of (echo_music_queue_current (no_history)), ==, "Track 1");
  echo_music_queue_advance (no_history, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 2);
  g_assert_null (echo_music_queue_back (no_history, T0 + 3, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND);
}

static void
test_stats (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (20, 10);
  g_autoptr (EchoQueueStats) stats = NULL;
  g_autoptr (EchoQueueStats) top2 = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *json = NULL;
  EchoQueueRequester *r;
  EchoQueueItem *item;

  add_track (queue, 1, "bob");
  add_track (queue, 2, "alice");
  add_track (queue, 3, "carol");
  add_track (queue, 4, "alice");
  add_track (queue, 5, "bob");
  add_track (queue, 6, "alice");
  add_track (queue, 7, "dave");

  stats = echo_music_queue_stats (queue, 0);
  g_assert_cmpuint (stats->played, ==, 0);
  g_assert_cmpuint (stats->skipped, ==, 0);
  g_assert_cmpint (stats->total_played_ms, ==, 0);
  g_clear_pointer (&stats, echo_queue_stats_free);

  echo_music_queue_start (queue, FALSE, NULL, T0);
  /* Played 30 s of a 60 s track: 30 s. */
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 30000);
  /* Ran 100 s (paused, say): capped at the 60 s duration. */
  echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_OFF, FALSE, NULL,
      T0 + 130000);
  /* A track of unknown duration counts its wall time. */
  item = echo_music_queue_current (queue);
  item->track->duration_ms = 0;
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_OFF, FALSE, NULL,
      T0 + 230000);
  /* Loop ONE's replay counts as a play of its own. */
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ONE, FALSE, NULL,
      T0 + 240000);
  echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_ONE, FALSE, NULL,
      T0 + 245000);

  stats = echo_music_queue_stats (queue, 0);
  g_assert_cmpuint (stats->played, ==, 3);
  g_assert_cmpuint (stats->skipped, ==, 2);
  g_assert_cmpint (stats->total_played_ms, ==, 30000 + 60000 + 100000 + 10000 + 5000);
  /* Requests: alice 3, bob 2, then carol and dave with 1 (ties by id); replays not counted. */
  g_assert_cmpuint (stats->top_requesters->len, ==, 4);
  r = g_ptr_array_index (stats->top_requesters, 0);
  g_assert_cmpstr (r->user_id, ==, "alice");
  g_assert_cmpuint (r->count, ==, 3);
  r = g_ptr_array_index (stats->top_requesters, 1);
  g_assert_cmpstr (r->user_id, ==, "bob");
  g_assert_cmpuint (r->count, ==, 2);
  g_assert_cmpstr (((EchoQueueRequester *) g_ptr_array_index (stats->top_requesters, 2))->
      user_id, ==, "carol");
  g_assert_cmpstr (((EchoQueueRequester *) g_ptr_array_index (stats->top_requesters, 3))->
      user_id, ==, "dave");

  top2 = echo_music_queue_stats (queue, 2);
  g_assert_cmpuint (top2->top_requesters->len, ==, 2);
  node = echo_queue_stats_to_json (top2);
  json = json_to_string (node, FALSE);
  g_assert_cmpstr (json, ==, "{\"played\":3,\"skipped\":2,\"totalPlayedMs\":205000,"
      "\"topRequesters\":[{\"userId\":\"alice\",\"count\":3},{\"userId\":\"bob\",\"count\":2}]}");
}

static void
test_names (void)
{
  static const char *const loops[] = { "OFF", "ONE", "ALL" };
  static const char *const statuses[] = { "queued", "playing", "played", "skipped" };
  EchoLoopMode loop;
  EchoQueueStatus status;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (loops); i++) {
    g_assert_cmpstr (echo_loop_mode_to_string ((EchoLoopMode) i), ==, loops[i]);
    g_assert_true (echo_loop_mode_from_string (loops[i], &loop));
    g_assert_cmpint (loop, ==, i);
  }
  for (i = 0; i < G_N_ELEMENTS (statuses); i++) {
    g_assert_cmpstr (echo_queue_status_to_string ((EchoQueueStatus) i), ==, statuses[i]);
    g_assert_true (echo_queue_status_from_string (statuses[i], &status));
    g_assert_cmpint (status, ==, i);
  }
  g_assert_false (echo_loop_mode_from_string ("off", &loop));
  g_assert_false (echo_loop_mode_from_string (NULL, &loop));
  g_assert_false (echo_queue_status_from_string ("QUEUED", &status));
  g_assert_false (echo_queue_status_from_string ("", &status));
}

static void
test_api_json (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (JsonNode) array = NULL;
  g_autoptr (JsonNode) history = NULL;
  EchoQueueItem *a, *b;
  JsonObject *obj;
  JsonArray *voters;

  a = add_track (queue, 1, "alice");
  b = add_track (queue, 2, "bob");
  g_free (b->track->id);
  b->track->id = g_strdup ("track-uuid-2");
  g_assert_true (vote (queue, b, "zoe", +1));
  g_assert_true (vote (queue, b, "adam", +1));
  g_assert_true (vote (queue, b, "mia", -1));
  g_assert_true (echo_music_queue_reorder (queue, a->id, 1, NULL));

  array = echo_music_queue_to_json (queue);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (array));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (array)), ==, 2);
  obj = json_array_get_object_element (json_node_get_array (array), 0);
  g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==, b->id);
  g_assert_cmpstr (json_object_get_string_member (obj, "trackId"), ==, "track-uuid-2");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "track"),
          "title"), ==, "Track 2");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "track"),
          "source"), ==, "YOUTUBE");
  g_assert_cmpstr (json_object_get_string_member (obj, "addedById"), ==, "bob");
  g_assert_cmpstr (json_object_get_string_member (obj, "requestedAt"), ==,
      "2023-11-14T22:13:22.000Z");
  g_assert_cmpint (json_object_get_int_member (obj, "votes"), ==, 1);
  voters = json_object_get_array_member (obj, "voters");
  g_assert_cmpuint (json_array_get_length (voters), ==, 3);
  g_assert_cmpstr (json_array_get_string_element (voters, 0), ==, "adam");
  g_assert_cmpstr (json_array_get_string_element (voters, 1), ==, "mia");
  g_assert_cmpstr (json_array_get_string_element (voters, 2), ==, "zoe");
  g_assert_cmpint (json_object_get_int_member (obj, "position"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "queued");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "startedAt")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "endedAt")));
  /* Bookkeeping stays internal. */
  g_assert_false (json_object_has_member (obj, "serial"));
  g_assert_false (json_object_has_member (obj, "round"));
  obj = json_array_get_object_element (json_node_get_array (array), 1);
  g_assert_cmpstr (json_object_get_string_member (obj, "trackId"), ==, "");
  g_assert_cmpint (json_object_get_int_member (obj, "position"), ==, 1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "voters")), ==,
      0);

  echo_music_queue_start (queue, FALSE, NULL, T0 + 5123);
  echo_music_queue_advance (queue, ECHO_QUEUE_SKIPPED, ECHO_LOOP_OFF, FALSE, NULL, T0 + 9000);
  history = echo_music_queue_history_to_json (queue, 5);
  obj = json_array_get_object_element (json_node_get_array (history), 0);
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "skipped");
  g_assert_cmpstr (json_object_get_string_member (obj, "startedAt"), ==,
      "2023-11-14T22:13:25.123Z");
  g_assert_cmpstr (json_object_get_string_member (obj, "endedAt"), ==,
      "2023-11-14T22:13:29.000Z");
  {
    g_autoptr (JsonNode) playing = echo_queue_item_to_json (echo_music_queue_current (queue));

    obj = json_node_get_object (playing);
    g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==, a->id);
    g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "playing");
    g_assert_cmpstr (json_object_get_string_member (obj, "startedAt"), ==,
        "2023-11-14T22:13:29.000Z");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "endedAt")));
  }
}

static void
test_iso8601 (void)
{
  static const struct
  {
    gint64 ms;
    const char *text;
  } table[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {G_GINT64_CONSTANT (1700000000999), "2023-11-14T22:13:20.999Z"},
    {G_GINT64_CONSTANT (951782400000), "2000-02-29T00:00:00.000Z"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (table); i++) {
    g_autofree char *text = echo_music_json_format_time_ms (table[i].ms);

    g_assert_cmpstr (text, ==, table[i].text);
  }
}

/* A queue with a bit of everything: voting, votes, a playing item, loop ALL copies, history
 * with played and skipped items, requests of several users, a track with metadata. */
static EchoMusicQueue *
busy_queue (void)
{
  EchoMusicQueue *queue = echo_music_queue_new (30, 5);
  EchoQueueItem *item;
  guint i;

  for (i = 1; i <= 8; i++)
    add_track (queue, i, i % 3 ? "alice" : "bob");
  item = upcoming_at (queue, 2);
  item->track->metadata = json_from_string ("{\"channelId\":\"UC1\",\"tags\":[\"a\",\"b\"]}",
      NULL);
  item->track->artist = g_strdup ("Someone \xc3\xa9");
  echo_music_queue_start (queue, FALSE, NULL, T0 + 100000);
  for (i = 0; i < 3; i++)
    echo_music_queue_advance (queue, i == 1 ? ECHO_QUEUE_SKIPPED : ECHO_QUEUE_PLAYED,
        ECHO_LOOP_ALL, FALSE, NULL, T0 + 200000 + i * 1000);
  echo_music_queue_set_voting (queue, TRUE);
  item = upcoming_at (queue, 4);
  vote (queue, item, "carol", +1);
  vote (queue, item, "dave", -1);
  vote (queue, item, "erin", +1);
  return queue;
}

static void
test_store_round_trip (void)
{
  g_autoptr (EchoMusicQueue) queue = busy_queue ();
  g_autoptr (EchoMusicQueue) empty = echo_music_queue_new (1, 0);
  g_autofree char *text = echo_music_queue_serialize (queue);
  g_autofree char *empty_text = echo_music_queue_serialize (empty);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMusicQueue) back = echo_music_queue_deserialize (text, &error);
  g_autoptr (EchoMusicQueue) empty_back = NULL;
  g_autoptr (GRand) rand_a = g_rand_new_with_seed (5);
  g_autoptr (GRand) rand_b = g_rand_new_with_seed (5);
  g_autofree char *again = NULL;
  g_autofree char *api_a = NULL;
  g_autofree char *api_b = NULL;
  guint i;

  g_assert_no_error (error);
  g_assert_nonnull (back);
  again = echo_music_queue_serialize (back);
  g_assert_cmpstr (text, ==, again);
  {
    g_autoptr (JsonNode) a = echo_music_queue_to_json (queue);
    g_autoptr (JsonNode) b = echo_music_queue_to_json (back);

    api_a = json_to_string (a, FALSE);
    api_b = json_to_string (b, FALSE);
    g_assert_cmpstr (api_a, ==, api_b);
  }
  g_assert_true (echo_music_queue_get_voting (back));
  g_assert_cmpuint (echo_music_queue_get_max_items (back), ==, 30);
  g_assert_cmpuint (echo_music_queue_get_history_limit (back), ==, 5);

  /* Restored, it behaves as the original would: same plays, same back, same store text. */
  for (i = 0; i < 12; i++) {
    EchoQueueItem *a = echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL,
        TRUE, rand_a, T0 + 300000 + i);
    EchoQueueItem *b = echo_music_queue_advance (back, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL,
        TRUE, rand_b, T0 + 300000 + i);

    g_assert_cmpstr (title_of (a), ==, title_of (b));
  }
  g_assert_cmpstr (title_of (echo_music_queue_back (queue, T0 + 400000, NULL)), ==,
      title_of (echo_music_queue_back (back, T0 + 400000, NULL)));

  empty_back = echo_music_queue_deserialize (empty_text, &error);
  g_assert_no_error (error);
  g_clear_pointer (&again, g_free);
  again = echo_music_queue_serialize (empty_back);
  g_assert_cmpstr (empty_text, ==, again);
}

static void
assert_refused (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_deserialize (text, &error);

  g_assert_null (queue);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
}

/* Small (the damage tests parse it thousands of times) but with every part of the store
 * form: a playing item, a queued one with a vote, an ended one with its loop ALL copy,
 * requests. */
static char *
small_queue_text (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);

  add_track (queue, 1, "alice");
  add_track (queue, 2, "bob");
  echo_music_queue_start (queue, FALSE, NULL, T0);
  echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED, ECHO_LOOP_ALL, FALSE, NULL, T0 + 1);
  vote (queue, upcoming_at (queue, 0), "carol", -1);
  return echo_music_queue_serialize (queue);
}

static void
test_store_truncated (void)
{
  g_autofree char *text = small_queue_text ();
  gsize len = strlen (text), i;

  /* Every proper prefix is refused. */

  for (i = 0; i < len; i++) {
    g_autofree char *prefix = g_strndup (text, i);

    assert_refused (prefix);
  }
}

static void
test_store_random_corruption (void)
{
  static const char replacements[] = "{}[]\",:0123456789-.etrufalsn \\x\xc3";
  g_autofree char *text = small_queue_text ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (20260101);
  gsize len = strlen (text);
  guint run, accepted = 0;

  /* Seeded random damage (1 to 4 bytes replaced, or a chunk cut out): the reader either
   * refuses with INVALID or reads a queue that serializes and reads back to itself. */
  for (run = 0; run < 1000; run++) {
    g_autofree char *damaged = g_strdup (text);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoMusicQueue) back = NULL;
    guint n, k;

    if (run % 5 == 4) {
      gsize from = g_rand_int_range (rand, 0, (gint32) len);
      gsize cut = (gsize) g_rand_int_range (rand, 1, 64);

      cut = MIN (cut, len - from);

      memmove (damaged + from, damaged + from + cut, len - from - cut + 1);
    } else {
      n = g_rand_int_range (rand, 1, 5);
      for (k = 0; k < n; k++)
        damaged[g_rand_int_range (rand, 0, (gint32) len)] =
            replacements[g_rand_int_range (rand, 0, sizeof (replacements) - 1)];
    }
    back = echo_music_queue_deserialize (damaged, &error);
    if (back == NULL) {
      g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    } else {
      g_autofree char *again = echo_music_queue_serialize (back);
      g_autoptr (EchoMusicQueue) twice = echo_music_queue_deserialize (again, &error);
      g_autofree char *thrice = NULL;

      g_assert_no_error (error);
      thrice = echo_music_queue_serialize (twice);
      g_assert_cmpstr (again, ==, thrice);
      accepted++;
    }
  }
  g_test_message ("%u of 1000 damaged documents were still valid", accepted);
}

/* The busy queue's store text with one change made by @edit on the parsed document. */
static char *
edited (void (*edit) (JsonObject * root, const char *member, const char *value),
    const char *member, const char *value)
{
  g_autoptr (EchoMusicQueue) queue = busy_queue ();
  g_autofree char *text = echo_music_queue_serialize (queue);
  g_autoptr (JsonNode) root = json_from_string (text, NULL);

  edit (json_node_get_object (root), member, value);
  return json_to_string (root, FALSE);
}

static void
set_member (JsonObject * obj, const char *member, const char *value)
{
  if (value == NULL)
    json_object_remove_member (obj, member);
  else
    json_object_set_member (obj, member, json_from_string (value, NULL));
}

static void
edit_top (JsonObject * root, const char *member, const char *value)
{
  set_member (root, member, value);
}

static void
edit_current (JsonObject * root, const char *member, const char *value)
{
  set_member (json_object_get_object_member (root, "current"), member, value);
}

static void
edit_queued (JsonObject * root, const char *member, const char *value)
{
  set_member (json_array_get_object_element (json_object_get_array_member (root, "queue"), 1),
      member, value);
}

static void
edit_history (JsonObject * root, const char *member, const char *value)
{
  set_member (json_array_get_object_element (json_object_get_array_member (root, "history"),
          0), member, value);
}

static void
edit_track (JsonObject * root, const char *member, const char *value)
{
  JsonObject *item = json_array_get_object_element (json_object_get_array_member (root,
          "queue"), 0);

  set_member (json_object_get_object_member (item, "track"), member, value);
}

/* Gives the first queued item the id of the playing one. */
static void
duplicate_id (JsonObject * root, const char *member, const char *value)
{
  const char *id = json_object_get_string_member (json_object_get_object_member (root,
          "current"), "id");
  JsonObject *item = json_array_get_object_element (json_object_get_array_member (root,
          "queue"), 0);

  json_object_set_string_member (item, "id", id);
}

/* Appends a copy of the first element of the array @member. */
static void
append_copy (JsonObject * root, const char *member, const char *value)
{
  JsonArray *array = json_object_get_array_member (root, member);

  json_array_add_element (array, json_node_copy (json_array_get_element (array, 0)));
}

static void
test_store_rejects_wrong_types (void)
{
  static const struct
  {
    void (*edit) (JsonObject *, const char *, const char *);
    const char *member;
    const char *value;
  } bad[] = {
    {edit_top, "version", NULL}, {edit_top, "version", "2"}, {edit_top, "version", "\"1\""},
    {edit_top, "maxItems", "0"}, {edit_top, "maxItems", "-5"}, {edit_top, "maxItems", "1.5"},
    {edit_top, "maxItems", "4294967296"}, {edit_top, "historyLimit", "\"5\""},
    {edit_top, "historyLimit", "2"},    /* fewer than the history holds */
    {edit_top, "voting", "1"}, {edit_top, "voting", NULL}, {edit_top, "nextSerial", "-1"},
    {edit_top, "round", "true"}, {edit_top, "played", "-1"}, {edit_top, "skipped", "[]"},
    {edit_top, "totalPlayedMs", "null"}, {edit_top, "requests", "[]"},
    {edit_top, "requests", "{\"alice\":0}"}, {edit_top, "requests", "{\"\":3}"},
    {edit_top, "requests", "{\"alice\":\"3\"}"}, {edit_top, "current", NULL},
    {edit_top, "current", "[]"}, {edit_top, "current", "7"}, {edit_top, "queue", "{}"},
    {edit_top, "queue", NULL}, {edit_top, "queue", "[1]"}, {edit_top, "queue", "[null]"},
    {edit_top, "history", "null"}, {edit_top, "history", "[\"x\"]"},
    {edit_current, "status", "\"queued\""}, {edit_current, "status", "\"PLAYING\""},
    {edit_current, "id", "\"\""}, {edit_current, "id", "5"}, {edit_current, "track", NULL},
    {edit_current, "track", "\"t\""}, {edit_current, "addedBy", "null"},
    {edit_queued, "status", "\"playing\""}, {edit_queued, "votes", "2"},
    {edit_queued, "votes", "\"1\""}, {edit_queued, "voters", "[\"carol\"]"},
    {edit_queued, "voters", "{\"carol\":2}"}, {edit_queued, "voters", "{\"carol\":\"1\"}"},
    {edit_queued, "voters", "{\"\":1}"}, {edit_queued, "requestedAtMs", "\"now\""},
    {edit_queued, "startedAtMs", "1e3"}, {edit_queued, "serial", "-3"},
    {edit_queued, "round", "-1"}, {edit_queued, "requeuedAs", "7"},
    {edit_history, "status", "\"queued\""}, {edit_history, "status", "\"playing\""},
    {edit_history, "endedAtMs", NULL}, {edit_history, "votes", "9999999999"},
    {edit_track, "source", "\"NAPSTER\""}, {edit_track, "title", "3"},
    {edit_track, "sourceId", NULL}, {edit_track, "durationMs", "\"long\""},
    {duplicate_id, NULL, NULL}, {append_copy, "history", NULL}, {append_copy, "queue", NULL},
  };
  static const char *const not_queues[] = { "", " ", "null", "[]", "\"queue\"", "{}", "{\"version\":1}",
    "{\"version\":1,\"maxItems\":1,\"historyLimit\":0,\"voting\":false,\"nextSerial\":0,"
        "\"round\":0,\"played\":0,\"skipped\":0,\"totalPlayedMs\":0,\"requests\":{},"
        "\"current\":null,\"queue\":[]}",
  };
  g_autoptr (EchoMusicQueue) queue = busy_queue ();
  g_autofree char *valid = echo_music_queue_serialize (queue);
  guint i;

  /* The edits themselves are sound: an edit that keeps the value changes nothing. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *same = edited (edit_top, "voting", "true");
    g_autoptr (EchoMusicQueue) back = echo_music_queue_deserialize (same, &error);

    g_assert_no_error (error);
    g_assert_nonnull (back);
  }
  /* Without its opening brace. */
  assert_refused (valid + 1);
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *text = edited (bad[i].edit, bad[i].member, bad[i].value);

    g_test_message ("case %u: %s = %s", i, bad[i].member ? bad[i].member : "-",
        bad[i].value ? bad[i].value : "(absent)");
    assert_refused (text);
  }
  for (i = 0; i < G_N_ELEMENTS (not_queues); i++)
    assert_refused (not_queues[i]);
}

/* --- deltas --- */

/* What a client does with a delta (echo-music-queue.h): @held is the queue it holds (a
 * JsonArray of item objects), changed in place. */
static void
apply_delta (JsonArray * held, const char *members)
{
  g_autofree char *text = g_strconcat ("{", members, "}", NULL);
  g_autoptr (JsonNode) root = json_from_string (text, NULL);
  JsonObject *delta;
  JsonArray *removed, *items, *order;
  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  guint i, j;

  g_assert_nonnull (root);
  delta = json_node_get_object (root);
  removed = json_object_get_array_member (delta, "removed");
  items = json_object_get_array_member (delta, "items");
  order = json_object_has_member (delta, "order") ?
      json_object_get_array_member (delta, "order") : NULL;

  for (i = 0; i < json_array_get_length (held); i++) {
    JsonNode *node = json_array_get_element (held, i);
    const char *id = json_object_get_string_member (json_node_get_object (node), "id");
    gboolean gone = FALSE;

    for (j = 0; j < json_array_get_length (removed); j++)
      gone |= strcmp (json_array_get_string_element (removed, j), id) == 0;
    if (!gone)
      g_ptr_array_add (kept, json_node_copy (node));
  }
  for (i = 0; i < json_array_get_length (items); i++) {
    JsonNode *item = json_array_get_element (items, i);
    const char *id = json_object_get_string_member (json_node_get_object (item), "id");
    gboolean replaced = FALSE;

    for (j = 0; j < kept->len && !replaced; j++) {
      JsonObject *old = json_node_get_object (g_ptr_array_index (kept, j));

      if (strcmp (json_object_get_string_member (old, "id"), id) == 0) {
        json_node_unref (g_ptr_array_index (kept, j));
        kept->pdata[j] = json_node_copy (item);
        replaced = TRUE;
      }
    }
    if (!replaced)
      g_ptr_array_add (kept, json_node_copy (item));
  }
  while (json_array_get_length (held) > 0)
    json_array_remove_element (held, 0);
  if (order != NULL) {
    g_assert_cmpuint (json_array_get_length (order), ==, kept->len);
    for (i = 0; i < json_array_get_length (order); i++)
      for (j = 0; j < kept->len; j++) {
        JsonObject *item = json_node_get_object (g_ptr_array_index (kept, j));

        if (strcmp (json_object_get_string_member (item, "id"),
                json_array_get_string_element (order, i)) == 0)
          json_array_add_element (held, json_node_copy (g_ptr_array_index (kept, j)));
      }
  } else {
    for (j = 0; j < kept->len; j++)
      json_array_add_element (held, json_node_copy (g_ptr_array_index (kept, j)));
  }
  g_assert_cmpuint (json_array_get_length (held), ==, kept->len);
  for (i = 0; i < json_array_get_length (held); i++)
    json_object_set_int_member (json_array_get_object_element (held, i), "position", i);
}

static char *
array_text (JsonArray * array)
{
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), array);

  return json_to_string (node, FALSE);
}

/* Random commands in random bursts; after each burst, a client holding the queue of the
 * previous mark and applying the delta holds exactly the queue's full form. */
static void
test_delta_random (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (40, 10);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261122);
  g_autoptr (JsonArray) held = json_array_new ();
  g_autoptr (EchoMusicQueueMark) mark = echo_music_queue_mark_new (queue);
  guint burst, n = 0, deltas = 0, orders = 0, none = 0;

  for (burst = 0; burst < 400; burst++) {
    guint steps = g_rand_int_range (rand, 1, 5), step;
    g_autofree char *delta = NULL;
    g_autofree char *full = NULL;
    g_autofree char *applied = NULL;

    for (step = 0; step < steps; step++) {
      guint len = echo_music_queue_get_length (queue);
      guint what = g_rand_int_range (rand, 0, 100);
      g_autofree char *user = g_strdup_printf ("user%u", g_rand_int_range (rand, 0, 30));

      if (len == 0 || what < 30) {
        if (len < 40)
          add_track (queue, n++, user);
      } else if (what < 45) {
        (void) echo_music_queue_remove (queue,
            upcoming_at (queue, g_rand_int_range (rand, 0, len))->id, NULL);
      } else if (what < 60) {
        if (!echo_music_queue_get_voting (queue))
          (void) echo_music_queue_reorder (queue,
              upcoming_at (queue, g_rand_int_range (rand, 0, len))->id,
              g_rand_int_range (rand, 0, len), NULL);
      } else if (what < 80) {
        (void) echo_music_queue_vote (queue,
            upcoming_at (queue, g_rand_int_range (rand, 0, len))->id, user,
            g_rand_boolean (rand) ? 1 : -1, NULL);
      } else if (what < 92) {
        (void) echo_music_queue_advance (queue, ECHO_QUEUE_PLAYED,
            (EchoLoopMode) g_rand_int_range (rand, 0, 3), g_rand_boolean (rand), rand,
            T0 + burst);
      } else if (what < 96) {
        echo_music_queue_set_voting (queue, !echo_music_queue_get_voting (queue));
      } else if (what < 98) {
        (void) echo_music_queue_back (queue, T0 + burst, NULL);
      } else {
        echo_music_queue_clear (queue);
      }
    }
    delta = echo_music_queue_delta_text (queue, mark);
    if (delta != NULL) {
      apply_delta (held, delta);
      deltas++;
      orders += strstr (delta, "\"order\"") != NULL;
    } else {
      none++;
    }
    full = echo_music_queue_to_json_text (queue);
    applied = array_text (held);
    g_assert_cmpstr (applied, ==, full);
    g_clear_pointer (&mark, echo_music_queue_mark_free);
    mark = echo_music_queue_mark_new (queue);
  }
  /* the run exercised every kind of delta */
  g_assert_cmpuint (deltas, >, 200);
  g_assert_cmpuint (orders, >, 10);
  g_assert_cmpuint (orders, <, deltas);
  g_assert_cmpuint (none, >, 0);
}

/* A vote that moves nothing sends that item only; an append needs no order. */
static void
test_delta_small (void)
{
  g_autoptr (EchoMusicQueue) queue = echo_music_queue_new (10, 10);
  g_autoptr (EchoMusicQueueMark) mark = NULL;
  g_autofree char *delta = NULL;
  g_autofree char *first = NULL;
  EchoQueueItem *a, *b;

  echo_music_queue_set_voting (queue, TRUE);
  a = add_track (queue, 1, "u1");
  b = add_track (queue, 2, "u1");
  mark = echo_music_queue_mark_new (queue);
  g_assert_null (echo_music_queue_delta_text (queue, mark));
  g_assert_true (echo_music_queue_vote (queue, a->id, "u2", 1, NULL));
  delta = echo_music_queue_delta_text (queue, mark);
  first = g_strdup_printf ("\"removed\":[],\"items\":[%s]", echo_queue_item_to_json_text (a));
  g_assert_cmpstr (delta, ==, first);
  g_clear_pointer (&mark, echo_music_queue_mark_free);
  g_clear_pointer (&delta, g_free);

  mark = echo_music_queue_mark_new (queue);
  g_assert_true (echo_music_queue_vote (queue, b->id, "u2", 1, NULL));
  g_assert_true (echo_music_queue_vote (queue, b->id, "u3", 1, NULL));
  delta = echo_music_queue_delta_text (queue, mark);
  /* b overtook a: b's new form (a's position changed, which the order says) and the order */
  g_clear_pointer (&first, g_free);
  first = g_strdup_printf ("\"removed\":[],\"items\":[%s],\"order\":[\"%s\",\"%s\"]",
      echo_queue_item_to_json_text (b), b->id, a->id);
  g_assert_cmpstr (delta, ==, first);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/music/queue/add-in-order", test_add_in_order);
  g_test_add_func ("/music/queue/delta-random", test_delta_random);
  g_test_add_func ("/music/queue/delta-small", test_delta_small);
  g_test_add_func ("/music/queue/add-copies-the-track", test_add_copies_the_track);
  g_test_add_func ("/music/queue/add-validates", test_add_validates);
  g_test_add_func ("/music/queue/limits", test_limits);
  g_test_add_func ("/music/queue/remove", test_remove);
  g_test_add_func ("/music/queue/reorder", test_reorder);
  g_test_add_func ("/music/queue/vote-order-and-ties", test_vote_order_and_ties);
  g_test_add_func ("/music/queue/vote-ties-same-time-keep-arrival",
      test_vote_ties_same_time_keep_arrival);
  g_test_add_func ("/music/queue/duplicate-votes-ignored", test_duplicate_votes_ignored);
  g_test_add_func ("/music/queue/vote-only-queued", test_vote_only_queued);
  g_test_add_func ("/music/queue/voting-switch", test_voting_switch);
  g_test_add_func ("/music/queue/start-and-advance", test_start_and_advance);
  g_test_add_func ("/music/queue/advance-follows-votes", test_advance_follows_votes);
  g_test_add_func ("/music/queue/loop-one", test_loop_one);
  g_test_add_func ("/music/queue/loop-all-never-runs-dry", test_loop_all_never_runs_dry);
  g_test_add_func ("/music/queue/shuffle-plays-each-once", test_shuffle_plays_each_once);
  g_test_add_func ("/music/queue/shuffle-loop-all-cycles", test_shuffle_loop_all_cycles);
  g_test_add_func ("/music/queue/shuffle-uniform", test_shuffle_uniform);
  g_test_add_func ("/music/queue/back", test_back);
  g_test_add_func ("/music/queue/back-with-voting-and-nothing-playing",
      test_back_with_voting_and_nothing_playing);
  g_test_add_func ("/music/queue/back-under-loop-all", test_back_under_loop_all);
  g_test_add_func ("/music/queue/clear", test_clear);
  g_test_add_func ("/music/queue/history-limit", test_history_limit);
  g_test_add_func ("/music/queue/stats", test_stats);
  g_test_add_func ("/music/queue/names", test_names);
  g_test_add_func ("/music/queue/api-json", test_api_json);
  g_test_add_func ("/music/queue/iso8601", test_iso8601);
  g_test_add_func ("/music/queue/store-round-trip", test_store_round_trip);
  g_test_add_func ("/music/queue/store-truncated", test_store_truncated);
  g_test_add_func ("/music/queue/store-rejects-wrong-types", test_store_rejects_wrong_types);
  g_test_add_func ("/music/queue/store-random-corruption", test_store_random_corruption);
  return g_test_run ();
}
