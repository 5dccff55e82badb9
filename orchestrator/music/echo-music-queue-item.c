/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-queue-item.c: queue items, the names of their statuses and loop modes, and
 * their API and store JSON forms.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-queue-item.h"

#include <string.h>

#include "echo-music-error.h"
#include "echo-music-json.h"

static const char *const loop_mode_names[] = {
  [ECHO_LOOP_OFF] = "OFF",
  [ECHO_LOOP_ONE] = "ONE",
  [ECHO_LOOP_ALL] = "ALL",
};

static const char *const status_names[] = {
  [ECHO_QUEUE_QUEUED] = "queued",
  [ECHO_QUEUE_PLAYING] = "playing",
  [ECHO_QUEUE_PLAYED] = "played",
  [ECHO_QUEUE_SKIPPED] = "skipped",
};

static gboolean
name_index (const char *const *names, guint n_names, const char *text, guint * index)
{
  guint i;

  if (text == NULL)
    return FALSE;
  for (i = 0; i < n_names; i++) {
    if (strcmp (text, names[i]) == 0) {
      *index = i;
      return TRUE;
    }
  }
  return FALSE;
}

const char *
echo_loop_mode_to_string (EchoLoopMode mode)
{
  g_return_val_if_fail (mode <= ECHO_LOOP_ALL, NULL);
  return loop_mode_names[mode];
}

gboolean
echo_loop_mode_from_string (const char *text, EchoLoopMode *mode)
{
  guint index;

  g_return_val_if_fail (mode != NULL, FALSE);

  if (!name_index (loop_mode_names, G_N_ELEMENTS (loop_mode_names), text, &index))
    return FALSE;
  *mode = (EchoLoopMode) index;
  return TRUE;
}

const char *
echo_queue_status_to_string (EchoQueueStatus status)
{
  g_return_val_if_fail (status <= ECHO_QUEUE_SKIPPED, NULL);
  return status_names[status];
}

gboolean
echo_queue_status_from_string (const char *text, EchoQueueStatus *status)
{
  guint index;

  g_return_val_if_fail (status != NULL, FALSE);

  if (!name_index (status_names, G_N_ELEMENTS (status_names), text, &index))
    return FALSE;
  *status = (EchoQueueStatus) index;
  return TRUE;
}

static EchoQueueItem *
item_alloc (void)
{
  EchoQueueItem *item = g_new0 (EchoQueueItem, 1);

  item->voters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return item;
}

EchoQueueItem *
echo_queue_item_new (const EchoTrack *track, const char *added_by, gint64 requested_at_ms)
{
  EchoQueueItem *item;

  g_return_val_if_fail (track != NULL, NULL);
  g_return_val_if_fail (added_by != NULL, NULL);

  item = item_alloc ();
  item->id = g_uuid_string_random ();
  item->track = echo_track_copy (track);
  item->added_by = g_strdup (added_by);
  item->requested_at_ms = requested_at_ms;
  item->status = ECHO_QUEUE_QUEUED;
  return item;
}

void
echo_queue_item_free (EchoQueueItem *item)
{
  if (item == NULL)
    return;
  g_free (item->id);
  echo_track_free (item->track);
  g_free (item->added_by);
  g_hash_table_unref (item->voters);
  g_free (item->requeued_as);
  g_free (item->api_text);
  g_free (item);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
echo_queue_item_sorted_voters (const EchoQueueItem *item)
{
  GPtrArray *voters;
  GHashTableIter iter;
  gpointer user;

  g_return_val_if_fail (item != NULL, NULL);

  voters = g_ptr_array_sized_new (g_hash_table_size (item->voters));
  g_hash_table_iter_init (&iter, item->voters);
  while (g_hash_table_iter_next (&iter, &user, NULL))
    g_ptr_array_add (voters, user);
  g_ptr_array_sort (voters, compare_strings);
  return voters;
}

static void
add_time_or_null (JsonBuilder * b, const char *name, gint64 unix_ms)
{
  json_builder_set_member_name (b, name);
  if (unix_ms != 0) {
    g_autofree char *text = echo_music_json_format_time_ms (unix_ms);
    json_builder_add_string_value (b, text);
  } else {
    json_builder_add_null_value (b);
  }
}

JsonNode *
echo_queue_item_to_json (const EchoQueueItem *item)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) voters = NULL;
  g_autofree char *requested = NULL;
  guint i;

  g_return_val_if_fail (item != NULL, NULL);

  voters = echo_queue_item_sorted_voters (item);
  requested = echo_music_json_format_time_ms (item->requested_at_ms);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, item->id);
  json_builder_set_member_name (b, "trackId");
  json_builder_add_string_value (b, item->track->id);
  json_builder_set_member_name (b, "track");
  json_builder_add_value (b, echo_track_to_json (item->track));
  json_builder_set_member_name (b, "addedById");
  json_builder_add_string_value (b, item->added_by);
  json_builder_set_member_name (b, "requestedAt");
  json_builder_add_string_value (b, requested);
  json_builder_set_member_name (b, "votes");
  json_builder_add_int_value (b, item->votes);
  json_builder_set_member_name (b, "voters");
  json_builder_begin_array (b);
  for (i = 0; i < voters->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (voters, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "position");
  json_builder_add_int_value (b, item->position);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, echo_queue_status_to_string (item->status));
  add_time_or_null (b, "startedAt", item->started_at_ms);
  add_time_or_null (b, "endedAt", item->ended_at_ms);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

const char *
echo_queue_item_to_json_text (EchoQueueItem *item)
{
  g_autoptr (JsonNode) node = NULL;

  g_return_val_if_fail (item != NULL, NULL);

  if (item->api_text == NULL || item->api_text_revision != item->revision ||
      item->api_text_position != item->position) {
    node = echo_queue_item_to_json (item);
    g_free (item->api_text);
    item->api_text = json_to_string (node, FALSE);
    item->api_text_revision = item->revision;
    item->api_text_position = item->position;
  }
  return item->api_text;
}

void
echo_queue_item_changed (EchoQueueItem *item)
{
  g_return_if_fail (item != NULL);

  item->revision++;
}

JsonNode *
echo_queue_item_to_store_json (const EchoQueueItem *item)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) voters = NULL;
  JsonNode *track_node;
  guint i;

  g_return_val_if_fail (item != NULL, NULL);

  /* The track's store form is echo-track's to define: embed it as is. */
  track_node = echo_track_to_store_json (item->track);
  voters = echo_queue_item_sorted_voters (item);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, item->id);
  json_builder_set_member_name (b, "track");
  json_builder_add_value (b, track_node);
  json_builder_set_member_name (b, "addedBy");
  json_builder_add_string_value (b, item->added_by);
  json_builder_set_member_name (b, "requestedAtMs");
  json_builder_add_int_value (b, item->requested_at_ms);
  json_builder_set_member_name (b, "votes");
  json_builder_add_int_value (b, item->votes);
  json_builder_set_member_name (b, "voters");
  json_builder_begin_object (b);
  for (i = 0; i < voters->len; i++) {
    const char *user = g_ptr_array_index (voters, i);
    json_builder_set_member_name (b, user);
    json_builder_add_int_value (b, GPOINTER_TO_INT (g_hash_table_lookup (item->voters, user)));
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, echo_queue_status_to_string (item->status));
  json_builder_set_member_name (b, "startedAtMs");
  json_builder_add_int_value (b, item->started_at_ms);
  json_builder_set_member_name (b, "endedAtMs");
  json_builder_add_int_value (b, item->ended_at_ms);
  json_builder_set_member_name (b, "serial");
  json_builder_add_int_value (b, (gint64) item->serial);
  json_builder_set_member_name (b, "round");
  json_builder_add_int_value (b, item->round);
  json_builder_set_member_name (b, "requeuedAs");
  if (item->requeued_as != NULL)
    json_builder_add_string_value (b, item->requeued_as);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The voters object: user id -> +1 or -1; their sum goes to *@sum. */
static gboolean
read_voters (EchoQueueItem * item, JsonObject * voters, gint64 * sum, GError ** error)
{
  JsonObjectIter iter;
  const char *user;
  JsonNode *node;

  *sum = 0;
  json_object_iter_init (&iter, voters);
  while (json_object_iter_next (&iter, &user, &node)) {
    gint64 value;

    if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
        json_node_get_value_type (node) != G_TYPE_INT64 ||
        ((value = json_node_get_int (node)) != 1 && value != -1)) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
          "voter \"%s\": the vote is not 1 or -1", user);
      return FALSE;
    }
    if (*user == '\0') {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "a voter has no id");
      return FALSE;
    }
    g_hash_table_insert (item->voters, g_strdup (user), GINT_TO_POINTER ((int) value));
    *sum += value;
  }
  return TRUE;
}

EchoQueueItem *
echo_queue_item_from_store_json (JsonNode *node, GError **error)
{
  g_autoptr (EchoQueueItem) item = item_alloc ();
  g_autofree char *status = NULL;
  g_autoptr (GError) track_error = NULL;
  JsonObject *obj, *track_obj, *voters;
  gint64 votes, voter_sum, serial, round;

  g_return_val_if_fail (node != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "an item is not an object");
    return NULL;
  }
  obj = json_node_get_object (node);
  if (!echo_music_json_get_string (obj, "id", TRUE, &item->id, error) ||
      !echo_music_json_get_object (obj, "track", FALSE, &track_obj, error) ||
      !echo_music_json_get_string (obj, "addedBy", TRUE, &item->added_by, error) ||
      !echo_music_json_get_int (obj, "requestedAtMs", G_MININT64, G_MAXINT64,
          &item->requested_at_ms, error) ||
      !echo_music_json_get_int (obj, "votes", G_MININT, G_MAXINT, &votes, error) ||
      !echo_music_json_get_object (obj, "voters", FALSE, &voters, error) ||
      !echo_music_json_get_string (obj, "status", TRUE, &status, error) ||
      !echo_music_json_get_int (obj, "startedAtMs", G_MININT64, G_MAXINT64,
          &item->started_at_ms, error) ||
      !echo_music_json_get_int (obj, "endedAtMs", G_MININT64, G_MAXINT64,
          &item->ended_at_ms, error) ||
      !echo_music_json_get_int (obj, "serial", 0, G_MAXINT64, &serial, error) ||
      !echo_music_json_get_int (obj, "round", 0, G_MAXUINT, &round, error) ||
      !echo_music_json_get_string (obj, "requeuedAs", FALSE, &item->requeued_as, error))
    return NULL;
  if (*item->id == '\0') {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "an item has no id");
    return NULL;
  }
  if (!echo_queue_status_from_string (status, &item->status)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "item %s: unknown status \"%s\"", item->id, status);
    return NULL;
  }
  if (!read_voters (item, voters, &voter_sum, error))
    return NULL;
  if (voter_sum != votes) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "item %s: votes %" G_GINT64_FORMAT " are not the voters' sum %" G_GINT64_FORMAT,
        item->id, votes, voter_sum);
    return NULL;
  }
  item->votes = (int) votes;
  item->serial = (guint64) serial;
  item->round = (guint) round;

  /* The track's own reader checks the track's members. */
  item->track = echo_track_from_store_json (track_obj, &track_error);
  if (item->track == NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "item %s: %s", item->id, track_error->message);
    return NULL;
  }
  return g_steal_pointer (&item);
}
