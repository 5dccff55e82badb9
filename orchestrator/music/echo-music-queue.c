/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-queue.c: a music session's queue: order (votes or manual), playing, loop and
 * shuffle, back, history, stats and the store form.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-queue.h"

#include <string.h>

#include "echo-music-error.h"
#include "echo-music-json.h"

#define STORE_VERSION 1

struct _EchoMusicQueue
{
  guint max_items;
  guint history_limit;
  gboolean voting;

  GPtrArray *queued;            /* EchoQueueItem*, owned, in play order */
  EchoQueueItem *current;       /* owned; NULL when nothing plays */
  GQueue *history;              /* EchoQueueItem*, owned, newest at the head */

  guint64 next_serial;
  guint round;                  /* the round of the item started last */

  guint played;
  guint skipped;
  gint64 total_played_ms;
  GHashTable *requests;         /* user id -> GUINT_TO_POINTER (tracks added) */
};

EchoMusicQueue *
echo_music_queue_new (guint max_items, guint history_limit)
{
  EchoMusicQueue *queue;

  g_return_val_if_fail (max_items >= 1, NULL);

  queue = g_new0 (EchoMusicQueue, 1);
  queue->max_items = max_items;
  queue->history_limit = history_limit;
  queue->queued = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_queue_item_free);
  queue->history = g_queue_new ();
  queue->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return queue;
}

void
echo_music_queue_free (EchoMusicQueue *queue)
{
  if (queue == NULL)
    return;
  g_ptr_array_unref (queue->queued);
  echo_queue_item_free (queue->current);
  g_queue_free_full (queue->history, (GDestroyNotify) echo_queue_item_free);
  g_hash_table_unref (queue->requests);
  g_free (queue);
}

guint
echo_music_queue_get_max_items (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  return queue->max_items;
}

guint
echo_music_queue_get_history_limit (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  return queue->history_limit;
}

guint
echo_music_queue_get_length (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  return queue->queued->len;
}

/* Vote order: most votes, then earliest request, then arrival; the id only makes the order
 * total for hand-edited documents with equal serials. */
static int
compare_vote_order (gconstpointer pa, gconstpointer pb)
{
  const EchoQueueItem *a = *(const EchoQueueItem * const *) pa;
  const EchoQueueItem *b = *(const EchoQueueItem * const *) pb;

  if (a->votes != b->votes)
    return a->votes > b->votes ? -1 : 1;
  if (a->requested_at_ms != b->requested_at_ms)
    return a->requested_at_ms < b->requested_at_ms ? -1 : 1;
  if (a->serial != b->serial)
    return a->serial < b->serial ? -1 : 1;
  return strcmp (a->id, b->id);
}

/* Restores the invariants after a change: sorted by votes when voting, positions = indexes. */
static void
settle_order (EchoMusicQueue * queue)
{
  guint i;

  if (queue->voting)
    g_ptr_array_sort (queue->queued, compare_vote_order);
  for (i = 0; i < queue->queued->len; i++)
    ((EchoQueueItem *) g_ptr_array_index (queue->queued, i))->position = i;
}

gboolean
echo_music_queue_get_voting (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  return queue->voting;
}

void
echo_music_queue_set_voting (EchoMusicQueue *queue, gboolean voting)
{
  g_return_if_fail (queue != NULL);

  queue->voting = !!voting;
  settle_order (queue);
}

static gboolean
find_queued (EchoMusicQueue * queue, const char *item_id, guint * index)
{
  guint i;

  for (i = 0; i < queue->queued->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (queue->queued, i);

    if (strcmp (item->id, item_id) == 0) {
      *index = i;
      return TRUE;
    }
  }
  return FALSE;
}

static EchoQueueItem *
find_in_history (EchoMusicQueue * queue, const char *item_id)
{
  GList *l;

  for (l = queue->history->head; l != NULL; l = l->next) {
    EchoQueueItem *item = l->data;

    if (strcmp (item->id, item_id) == 0)
      return item;
  }
  return NULL;
}

EchoQueueItem *
echo_music_queue_lookup (EchoMusicQueue *queue, const char *item_id)
{
  guint index;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (item_id != NULL, NULL);

  if (find_queued (queue, item_id, &index))
    return g_ptr_array_index (queue->queued, index);
  if (queue->current != NULL && strcmp (queue->current->id, item_id) == 0)
    return queue->current;
  return find_in_history (queue, item_id);
}

/* The index of the queued item @item_id for an operation (@what) that only queued items
 * allow: NOT_FOUND when the id is unknown, CONFLICT when it is playing or ended. */
static gboolean
find_queued_for (EchoMusicQueue * queue, const char *item_id, const char *what,
    guint * index, GError ** error)
{
  EchoQueueItem *item;

  if (find_queued (queue, item_id, index))
    return TRUE;
  item = echo_music_queue_lookup (queue, item_id);
  if (item == NULL)
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "no queue item \"%s\"", item_id);
  else
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
        "cannot %s queue item \"%s\": it is %s", what, item_id,
        echo_queue_status_to_string (item->status));
  return FALSE;
}

static gboolean
check_user (const char *user_id, GError ** error)
{
  if (*user_id != '\0')
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "the user id is empty");
  return FALSE;
}

static gboolean
check_room (EchoMusicQueue * queue, guint n_new, GError ** error)
{
  if (queue->queued->len <= queue->max_items &&
      n_new <= queue->max_items - queue->queued->len)
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_QUEUE_FULL,
      "the queue holds at most %u items (%u queued, %u more asked)",
      queue->max_items, queue->queued->len, n_new);
  return FALSE;
}

/* A new queued item, numbered in arrival order, in the current round. */
static EchoQueueItem *
new_item (EchoMusicQueue * queue, const EchoTrack * track, const char *user_id,
    gint64 requested_at_ms)
{
  EchoQueueItem *item = echo_queue_item_new (track, user_id, requested_at_ms);

  item->serial = queue->next_serial++;
  item->round = queue->round;
  return item;
}

static void
count_request (EchoMusicQueue * queue, const char *user_id)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (queue->requests, user_id));

  if (count < G_MAXUINT)
    count++;
  g_hash_table_insert (queue->requests, g_strdup (user_id), GUINT_TO_POINTER (count));
}

EchoQueueItem *
echo_music_queue_add (EchoMusicQueue *queue, const EchoTrack *track, const char *user_id,
    gint64 now_ms, GError **error)
{
  EchoQueueItem *item;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (track != NULL, NULL);
  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_user (user_id, error) || !check_room (queue, 1, error))
    return NULL;
  item = new_item (queue, track, user_id, now_ms);
  g_ptr_array_add (queue->queued, item);
  count_request (queue, user_id);
  settle_order (queue);
  return item;
}

GPtrArray *
echo_music_queue_add_many (EchoMusicQueue *queue, GPtrArray *tracks, const char *user_id,
    gint64 now_ms, GError **error)
{
  GPtrArray *items;
  guint i;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (tracks != NULL, NULL);
  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  for (i = 0; i < tracks->len; i++)
    g_return_val_if_fail (g_ptr_array_index (tracks, i) != NULL, NULL);

  if (!check_user (user_id, error) || !check_room (queue, tracks->len, error))
    return NULL;
  items = g_ptr_array_sized_new (tracks->len);
  for (i = 0; i < tracks->len; i++) {
    EchoQueueItem *item = new_item (queue, g_ptr_array_index (tracks, i), user_id, now_ms);

    g_ptr_array_add (queue->queued, item);
    g_ptr_array_add (items, item);
    count_request (queue, user_id);
  }
  settle_order (queue);
  return items;
}

gboolean
echo_music_queue_remove (EchoMusicQueue *queue, const char *item_id, GError **error)
{
  guint index;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!find_queued_for (queue, item_id, "remove", &index, error))
    return FALSE;
  g_ptr_array_remove_index (queue->queued, index);
  settle_order (queue);
  return TRUE;
}

gboolean
echo_music_queue_reorder (EchoMusicQueue *queue, const char *item_id, guint new_position,
    GError **error)
{
  guint index;
  gpointer item;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (queue->voting) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
        "voting is on: votes decide the order");
    return FALSE;
  }
  if (!find_queued_for (queue, item_id, "reorder", &index, error))
    return FALSE;
  if (new_position >= queue->queued->len) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "position %u is out of range (0..%u)", new_position, queue->queued->len - 1);
    return FALSE;
  }
  item = g_ptr_array_steal_index (queue->queued, index);
  g_ptr_array_insert (queue->queued, (gint) new_position, item);
  settle_order (queue);
  return TRUE;
}

gboolean
echo_music_queue_vote (EchoMusicQueue *queue, const char *item_id, const char *user_id,
    int value, GError **error)
{
  EchoQueueItem *item;
  guint index;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (user_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (value != 1 && value != -1) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "a vote is +1 or -1, not %d", value);
    return FALSE;
  }
  if (!check_user (user_id, error) ||
      !find_queued_for (queue, item_id, "vote for", &index, error))
    return FALSE;
  item = g_ptr_array_index (queue->queued, index);
  if (g_hash_table_contains (item->voters, user_id))
    return FALSE;
  g_hash_table_insert (item->voters, g_strdup (user_id), GINT_TO_POINTER (value));
  item->votes += value;
  echo_queue_item_changed (item);
  settle_order (queue);
  return TRUE;
}

GPtrArray *
echo_music_queue_upcoming (EchoMusicQueue *queue)
{
  GPtrArray *items;
  guint i;

  g_return_val_if_fail (queue != NULL, NULL);

  items = g_ptr_array_sized_new (queue->queued->len);
  for (i = 0; i < queue->queued->len; i++)
    g_ptr_array_add (items, g_ptr_array_index (queue->queued, i));
  return items;
}

EchoQueueItem *
echo_music_queue_current (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, NULL);
  return queue->current;
}

static void
mark_playing (EchoMusicQueue * queue, EchoQueueItem * item, gint64 now_ms)
{
  item->status = ECHO_QUEUE_PLAYING;
  item->started_at_ms = now_ms;
  item->ended_at_ms = 0;
  echo_queue_item_changed (item);
  queue->current = item;
  queue->round = item->round;
}

/* The index of the next item to play: the first in play order, or with @shuffle one drawn
 * uniformly among those of the lowest round (the items not yet played in this cycle). */
static guint
pick_next (EchoMusicQueue * queue, gboolean shuffle, GRand * rand)
{
  guint lowest = G_MAXUINT, n_candidates = 0, draw, i;

  if (!shuffle)
    return 0;
  for (i = 0; i < queue->queued->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (queue->queued, i);

    if (item->round < lowest) {
      lowest = item->round;
      n_candidates = 0;
    }
    if (item->round == lowest)
      n_candidates++;
  }
  /* The queue holds far fewer than G_MAXINT32 items (max_items is a guint, but each one is a
   * heap allocation of a track), so the range fits a gint32. */
  draw = rand != NULL ? (guint) g_rand_int_range (rand, 0, (gint32) n_candidates)
      : (guint) g_random_int_range (0, (gint32) n_candidates);
  for (i = 0; i < queue->queued->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (queue->queued, i);

    if (item->round == lowest && draw-- == 0)
      return i;
  }
  g_assert_not_reached ();
}

static EchoQueueItem *
start_next (EchoMusicQueue * queue, gboolean shuffle, GRand * rand, gint64 now_ms)
{
  EchoQueueItem *item;

  if (queue->queued->len == 0)
    return NULL;
  item = g_ptr_array_steal_index (queue->queued, pick_next (queue, shuffle, rand));
  settle_order (queue);
  mark_playing (queue, item, now_ms);
  return item;
}

EchoQueueItem *
echo_music_queue_start (EchoMusicQueue *queue, gboolean shuffle, GRand *rand, gint64 now_ms)
{
  g_return_val_if_fail (queue != NULL, NULL);

  if (queue->current != NULL)
    return queue->current;
  return start_next (queue, shuffle, rand, now_ms);
}

static void
push_history (EchoMusicQueue * queue, EchoQueueItem * item)
{
  g_queue_push_head (queue->history, item);
  while (g_queue_get_length (queue->history) > queue->history_limit)
    echo_queue_item_free (g_queue_pop_tail (queue->history));
}

/* A fresh item playing the same track for the same requester (loop ONE, loop ALL). */
static EchoQueueItem *
replay_of (EchoMusicQueue * queue, const EchoQueueItem * item, gint64 requested_at_ms)
{
  EchoQueueItem *copy = new_item (queue, item->track, item->added_by, requested_at_ms);

  copy->round = item->round;
  return copy;
}

/* The playing item ends with @end: counters, loop ALL's copy at the back, history. */
static void
end_current (EchoMusicQueue * queue, EchoQueueStatus end, EchoLoopMode loop, gint64 now_ms)
{
  EchoQueueItem *item = queue->current;
  gint64 listened;

  queue->current = NULL;
  item->status = end;
  item->ended_at_ms = now_ms;
  echo_queue_item_changed (item);
  if (end == ECHO_QUEUE_PLAYED)
    queue->played += queue->played < G_MAXUINT;
  else
    queue->skipped += queue->skipped < G_MAXUINT;
  listened = CLAMP (now_ms - item->started_at_ms, 0, G_MAXINT64 / 2);
  if (item->track->duration_ms > 0)
    listened = MIN (listened, item->track->duration_ms);
  if (queue->total_played_ms <= G_MAXINT64 - listened)
    queue->total_played_ms += listened;

  if (loop == ECHO_LOOP_ALL) {
    EchoQueueItem *copy = replay_of (queue, item, now_ms);

    copy->round = item->round + 1;
    g_ptr_array_add (queue->queued, copy);
    settle_order (queue);
    g_free (item->requeued_as);
    item->requeued_as = g_strdup (copy->id);
  }
  push_history (queue, item);
}

EchoQueueItem *
echo_music_queue_advance (EchoMusicQueue *queue, EchoQueueStatus end, EchoLoopMode loop,
    gboolean shuffle, GRand *rand, gint64 now_ms)
{
  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (end == ECHO_QUEUE_PLAYED || end == ECHO_QUEUE_SKIPPED, NULL);
  g_return_val_if_fail (loop <= ECHO_LOOP_ALL, NULL);

  if (queue->current != NULL) {
    if (loop == ECHO_LOOP_ONE && end == ECHO_QUEUE_PLAYED) {
      EchoQueueItem *replay = replay_of (queue, queue->current,
          queue->current->requested_at_ms);

      end_current (queue, end, loop, now_ms);
      mark_playing (queue, replay, now_ms);
      return replay;
    }
    end_current (queue, end, loop, now_ms);
  }
  return start_next (queue, shuffle, rand, now_ms);
}

EchoQueueItem *
echo_music_queue_back (EchoMusicQueue *queue, gint64 now_ms, GError **error)
{
  EchoQueueItem *previous;
  guint index;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_queue_is_empty (queue->history)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "nothing played before");
    return NULL;
  }
  previous = g_queue_pop_head (queue->history);

  /* Under loop ALL the previous item left a copy of itself to play again later: playing the
   * item itself now replaces that copy, wherever it is (queued, or already playing). */
  if (previous->requeued_as != NULL) {
    if (find_queued (queue, previous->requeued_as, &index))
      g_ptr_array_remove_index (queue->queued, index);
    else if (queue->current != NULL &&
        strcmp (queue->current->id, previous->requeued_as) == 0)
      g_clear_pointer (&queue->current, echo_queue_item_free);
    g_clear_pointer (&previous->requeued_as, g_free);
  }
  if (queue->current != NULL) {
    EchoQueueItem *item = g_steal_pointer (&queue->current);

    item->status = ECHO_QUEUE_QUEUED;
    item->started_at_ms = 0;
    item->ended_at_ms = 0;
    echo_queue_item_changed (item);
    g_ptr_array_insert (queue->queued, 0, item);
  }
  settle_order (queue);
  mark_playing (queue, previous, now_ms);
  return previous;
}

guint
echo_music_queue_clear (EchoMusicQueue *queue)
{
  guint removed;

  g_return_val_if_fail (queue != NULL, 0);

  removed = queue->queued->len;
  g_ptr_array_set_size (queue->queued, 0);
  return removed;
}

GPtrArray *
echo_music_queue_history (EchoMusicQueue *queue, guint limit)
{
  GPtrArray *items;
  GList *l;

  g_return_val_if_fail (queue != NULL, NULL);

  items = g_ptr_array_new ();
  for (l = queue->history->head; l != NULL && (limit == 0 || items->len < limit); l = l->next)
    g_ptr_array_add (items, l->data);
  return items;
}

static void
requester_free (EchoQueueRequester * requester)
{
  g_free (requester->user_id);
  g_free (requester);
}

static int
compare_requesters (gconstpointer pa, gconstpointer pb)
{
  const EchoQueueRequester *a = *(const EchoQueueRequester * const *) pa;
  const EchoQueueRequester *b = *(const EchoQueueRequester * const *) pb;

  if (a->count != b->count)
    return a->count > b->count ? -1 : 1;
  return strcmp (a->user_id, b->user_id);
}

EchoQueueStats *
echo_music_queue_stats (EchoMusicQueue *queue, guint top)
{
  EchoQueueStats *stats;
  GHashTableIter iter;
  gpointer user, count;

  g_return_val_if_fail (queue != NULL, NULL);

  stats = g_new0 (EchoQueueStats, 1);
  stats->played = queue->played;
  stats->skipped = queue->skipped;
  stats->total_played_ms = queue->total_played_ms;
  stats->top_requesters = g_ptr_array_new_with_free_func ((GDestroyNotify) requester_free);
  g_hash_table_iter_init (&iter, queue->requests);
  while (g_hash_table_iter_next (&iter, &user, &count)) {
    EchoQueueRequester *requester = g_new0 (EchoQueueRequester, 1);

    requester->user_id = g_strdup (user);
    requester->count = GPOINTER_TO_UINT (count);
    g_ptr_array_add (stats->top_requesters, requester);
  }
  g_ptr_array_sort (stats->top_requesters, compare_requesters);
  if (top > 0 && stats->top_requesters->len > top)
    g_ptr_array_set_size (stats->top_requesters, top);
  return stats;
}

void
echo_queue_stats_free (EchoQueueStats *stats)
{
  if (stats == NULL)
    return;
  g_ptr_array_unref (stats->top_requesters);
  g_free (stats);
}

JsonNode *
echo_queue_stats_to_json (const EchoQueueStats *stats)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint i;

  g_return_val_if_fail (stats != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "played");
  json_builder_add_int_value (b, stats->played);
  json_builder_set_member_name (b, "skipped");
  json_builder_add_int_value (b, stats->skipped);
  json_builder_set_member_name (b, "totalPlayedMs");
  json_builder_add_int_value (b, stats->total_played_ms);
  json_builder_set_member_name (b, "topRequesters");
  json_builder_begin_array (b);
  for (i = 0; i < stats->top_requesters->len; i++) {
    const EchoQueueRequester *requester = g_ptr_array_index (stats->top_requesters, i);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "userId");
    json_builder_add_string_value (b, requester->user_id);
    json_builder_set_member_name (b, "count");
    json_builder_add_int_value (b, requester->count);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
items_to_json (GPtrArray * items, JsonNode * (*to_json) (const EchoQueueItem *))
{
  JsonArray *array = json_array_sized_new (items->len);
  JsonNode *node = json_node_alloc ();
  guint i;

  for (i = 0; i < items->len; i++)
    json_array_add_element (array, to_json (g_ptr_array_index (items, i)));
  json_node_init_array (node, array);
  json_array_unref (array);
  return node;
}

JsonNode *
echo_music_queue_to_json (EchoMusicQueue *queue)
{
  g_return_val_if_fail (queue != NULL, NULL);
  return items_to_json (queue->queued, echo_queue_item_to_json);
}

/* Appends the items' texts as a JSON array. */
static void
append_items_text (GString * out, GPtrArray * items)
{
  guint i;

  g_string_append_c (out, '[');
  for (i = 0; i < items->len; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, echo_queue_item_to_json_text (g_ptr_array_index (items, i)));
  }
  g_string_append_c (out, ']');
}

char *
echo_music_queue_to_json_text (EchoMusicQueue *queue)
{
  GString *out;

  g_return_val_if_fail (queue != NULL, NULL);

  out = g_string_sized_new (256 * (queue->queued->len + 1));
  append_items_text (out, queue->queued);
  return g_string_free (out, FALSE);
}

struct _EchoMusicQueueMark
{
  GPtrArray *ids;               /* char*, owned, in play order */
  GHashTable *revisions;        /* id (in ids) -> guint64* revision */
};

EchoMusicQueueMark *
echo_music_queue_mark_new (EchoMusicQueue *queue)
{
  EchoMusicQueueMark *mark;
  guint i;

  g_return_val_if_fail (queue != NULL, NULL);

  mark = g_new0 (EchoMusicQueueMark, 1);
  mark->ids = g_ptr_array_new_full (queue->queued->len, g_free);
  mark->revisions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  for (i = 0; i < queue->queued->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (queue->queued, i);
    char *id = g_strdup (item->id);

    g_ptr_array_add (mark->ids, id);
    g_hash_table_insert (mark->revisions, id, g_memdup2 (&item->revision,
            sizeof item->revision));
  }
  return mark;
}

void
echo_music_queue_mark_free (EchoMusicQueueMark *mark)
{
  if (mark == NULL)
    return;
  g_hash_table_unref (mark->revisions);
  g_ptr_array_unref (mark->ids);
  g_free (mark);
}

char *
echo_music_queue_delta_text (EchoMusicQueue *queue, const EchoMusicQueueMark *mark)
{
  g_autoptr (GHashTable) now = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) changed = g_ptr_array_new ();
  g_autoptr (GPtrArray) result = g_ptr_array_new ();   /* the order a client gets, ids */
  GString *out;
  gboolean removed_any = FALSE, in_order = TRUE;
  guint i;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (mark != NULL, NULL);

  for (i = 0; i < queue->queued->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (queue->queued, i);
    const guint64 *revision = g_hash_table_lookup (mark->revisions, item->id);

    g_hash_table_insert (now, item->id, item);
    if (revision == NULL || *revision != item->revision)
      g_ptr_array_add (changed, item);
  }

  out = g_string_new ("\"removed\":[");
  for (i = 0; i < mark->ids->len; i++) {
    const char *id = g_ptr_array_index (mark->ids, i);

    if (g_hash_table_contains (now, id)) {
      g_ptr_array_add (result, (gpointer) id);
      continue;
    }
    if (removed_any)
      g_string_append_c (out, ',');
    echo_music_json_append_string (out, id);
    removed_any = TRUE;
  }
  g_string_append (out, "],\"items\":");
  append_items_text (out, changed);
  /* what the client's procedure gives: kept ids in their old order, new ones appended */
  for (i = 0; i < changed->len; i++) {
    EchoQueueItem *item = g_ptr_array_index (changed, i);

    if (!g_hash_table_contains (mark->revisions, item->id))
      g_ptr_array_add (result, item->id);
  }
  for (i = 0; i < result->len && in_order; i++)
    in_order = strcmp (g_ptr_array_index (result, i),
        ((EchoQueueItem *) g_ptr_array_index (queue->queued, i))->id) == 0;
  if (!removed_any && changed->len == 0 && in_order) {
    g_string_free (out, TRUE);
    return NULL;
  }
  if (!in_order) {
    g_string_append (out, ",\"order\":[");
    for (i = 0; i < queue->queued->len; i++) {
      if (i > 0)
        g_string_append_c (out, ',');
      echo_music_json_append_string (out, ((EchoQueueItem *) g_ptr_array_index (queue->queued, i))->id);
    }
    g_string_append_c (out, ']');
  }
  return g_string_free (out, FALSE);
}

JsonNode *
echo_music_queue_history_to_json (EchoMusicQueue *queue, guint limit)
{
  g_autoptr (GPtrArray) history = NULL;

  g_return_val_if_fail (queue != NULL, NULL);

  history = echo_music_queue_history (queue, limit);
  return items_to_json (history, echo_queue_item_to_json);
}

static int
compare_user_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
echo_music_queue_serialize (EchoMusicQueue *queue)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) users = NULL;
  g_autoptr (GPtrArray) history = NULL;
  GHashTableIter iter;
  gpointer user;
  guint i;

  g_return_val_if_fail (queue != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, STORE_VERSION);
  json_builder_set_member_name (b, "maxItems");
  json_builder_add_int_value (b, queue->max_items);
  json_builder_set_member_name (b, "historyLimit");
  json_builder_add_int_value (b, queue->history_limit);
  json_builder_set_member_name (b, "voting");
  json_builder_add_boolean_value (b, queue->voting);
  json_builder_set_member_name (b, "nextSerial");
  json_builder_add_int_value (b, (gint64) queue->next_serial);
  json_builder_set_member_name (b, "round");
  json_builder_add_int_value (b, queue->round);
  json_builder_set_member_name (b, "played");
  json_builder_add_int_value (b, queue->played);
  json_builder_set_member_name (b, "skipped");
  json_builder_add_int_value (b, queue->skipped);
  json_builder_set_member_name (b, "totalPlayedMs");
  json_builder_add_int_value (b, queue->total_played_ms);

  /* Sorted, so equal queues serialize to equal texts. */
  users = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, queue->requests);
  while (g_hash_table_iter_next (&iter, &user, NULL))
    g_ptr_array_add (users, user);
  g_ptr_array_sort (users, compare_user_ids);
  json_builder_set_member_name (b, "requests");
  json_builder_begin_object (b);
  for (i = 0; i < users->len; i++) {
    const char *id = g_ptr_array_index (users, i);

    json_builder_set_member_name (b, id);
    json_builder_add_int_value (b, GPOINTER_TO_UINT (g_hash_table_lookup (queue->requests, id)));
  }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "current");
  if (queue->current != NULL)
    json_builder_add_value (b, echo_queue_item_to_store_json (queue->current));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "queue");
  json_builder_add_value (b, items_to_json (queue->queued, echo_queue_item_to_store_json));
  history = echo_music_queue_history (queue, 0);
  json_builder_set_member_name (b, "history");
  json_builder_add_value (b, items_to_json (history, echo_queue_item_to_store_json));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* One stored item found at @where, whose status must be one of @allowed_statuses (a bit
 * per status) and whose id must be new to @ids (which it joins). */
static EchoQueueItem *
read_item (JsonNode * node, const char *where, guint allowed_statuses, GHashTable * ids,
    guint64 * max_serial, GError ** error)
{
  g_autoptr (GError) item_error = NULL;
  EchoQueueItem *item;

  item = echo_queue_item_from_store_json (node, &item_error);
  if (item == NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "%s: %s", where,
        item_error->message);
    return NULL;
  }
  if (!(allowed_statuses & (1u << item->status))) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s: item %s cannot be %s there", where, item->id,
        echo_queue_status_to_string (item->status));
    echo_queue_item_free (item);
    return NULL;
  }
  if (!g_hash_table_add (ids, g_strdup (item->id))) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s: item id %s appears twice", where, item->id);
    echo_queue_item_free (item);
    return NULL;
  }
  *max_serial = MAX (*max_serial, item->serial);
  return item;
}

static gboolean
read_item_array (JsonArray * array, const char *where, guint allowed_statuses,
    GHashTable * ids, guint64 * max_serial, GPtrArray * into, GError ** error)
{
  guint i;

  for (i = 0; i < json_array_get_length (array); i++) {
    EchoQueueItem *item = read_item (json_array_get_element (array, i), where,
        allowed_statuses, ids, max_serial, error);

    if (item == NULL)
      return FALSE;
    g_ptr_array_add (into, item);
  }
  return TRUE;
}

static gboolean
read_requests (EchoMusicQueue * queue, JsonObject * requests, GError ** error)
{
  JsonObjectIter iter;
  const char *user;
  JsonNode *node;

  json_object_iter_init (&iter, requests);
  while (json_object_iter_next (&iter, &user, &node)) {
    gint64 count = 0;

    if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
        json_node_get_value_type (node) == G_TYPE_INT64)
      count = json_node_get_int (node);
    if (*user == '\0' || count < 1 || count > G_MAXUINT) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
          "requests: \"%s\" needs a user id and a count >= 1", user);
      return FALSE;
    }
    g_hash_table_insert (queue->requests, g_strdup (user), GUINT_TO_POINTER ((guint) count));
  }
  return TRUE;
}

static EchoMusicQueue *
read_queue (JsonObject * obj, GError ** error)
{
  g_autoptr (EchoMusicQueue) queue = NULL;
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) history = g_ptr_array_new_with_free_func ((GDestroyNotify)
      echo_queue_item_free);
  gint64 version, max_items, history_limit, next_serial, round, played, skipped, total;
  gboolean voting;
  JsonObject *requests, *current;
  JsonArray *queued, *history_array;
  guint64 max_serial = 0;
  guint i;

  if (!echo_music_json_get_int (obj, "version", G_MININT64, G_MAXINT64, &version, error))
    return NULL;
  if (version != STORE_VERSION) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "version %" G_GINT64_FORMAT " is not %d", version, STORE_VERSION);
    return NULL;
  }
  if (!echo_music_json_get_int (obj, "maxItems", 1, G_MAXUINT, &max_items, error) ||
      !echo_music_json_get_int (obj, "historyLimit", 0, G_MAXUINT, &history_limit, error) ||
      !echo_music_json_get_boolean (obj, "voting", &voting, error) ||
      !echo_music_json_get_int (obj, "nextSerial", 0, G_MAXINT64, &next_serial, error) ||
      !echo_music_json_get_int (obj, "round", 0, G_MAXUINT, &round, error) ||
      !echo_music_json_get_int (obj, "played", 0, G_MAXUINT, &played, error) ||
      !echo_music_json_get_int (obj, "skipped", 0, G_MAXUINT, &skipped, error) ||
      !echo_music_json_get_int (obj, "totalPlayedMs", 0, G_MAXINT64, &total, error) ||
      !echo_music_json_get_object (obj, "requests", FALSE, &requests, error) ||
      !echo_music_json_get_object (obj, "current", TRUE, &current, error) ||
      !echo_music_json_get_array (obj, "queue", &queued, error) ||
      !echo_music_json_get_array (obj, "history", &history_array, error))
    return NULL;

  queue = echo_music_queue_new ((guint) max_items, (guint) history_limit);
  queue->voting = voting;
  queue->round = (guint) round;
  queue->played = (guint) played;
  queue->skipped = (guint) skipped;
  queue->total_played_ms = total;
  if (!read_requests (queue, requests, error))
    return NULL;
  if (current != NULL) {
    JsonNode *node = json_object_get_member (obj, "current");

    queue->current = read_item (node, "current", 1u << ECHO_QUEUE_PLAYING, ids, &max_serial,
        error);
    if (queue->current == NULL)
      return NULL;
  }
  if (!read_item_array (queued, "queue", 1u << ECHO_QUEUE_QUEUED, ids, &max_serial,
          queue->queued, error) ||
      !read_item_array (history_array, "history",
          (1u << ECHO_QUEUE_PLAYED) | (1u << ECHO_QUEUE_SKIPPED), ids, &max_serial, history,
          error))
    return NULL;
  if (history->len > queue->history_limit) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "history: %u items, more than its limit %u", history->len, queue->history_limit);
    return NULL;
  }
  for (i = 0; i < history->len; i++)
    g_queue_push_tail (queue->history, g_ptr_array_index (history, i));
  g_ptr_array_set_free_func (history, NULL);

  /* A hand-edited serial must not make new items collide with stored ones. */
  queue->next_serial = (guint64) next_serial;
  if (queue->queued->len + (queue->current != NULL) + g_queue_get_length (queue->history) > 0
      && max_serial >= queue->next_serial && max_serial < G_MAXUINT64)
    queue->next_serial = max_serial + 1;
  settle_order (queue);
  return g_steal_pointer (&queue);
}

EchoMusicQueue *
echo_music_queue_deserialize (const char *text, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) read_error = NULL;
  EchoMusicQueue *queue;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = echo_music_json_parse_object (text, "stored queue", error);
  if (root == NULL)
    return NULL;
  queue = read_queue (json_node_get_object (root), &read_error);
  if (queue == NULL)
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "stored queue: %s",
        read_error->message);
  return queue;
}
