/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-track.c: the Track model, its names and its two JSON forms (the API's and the
 * store's).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-track.h"

#include <string.h>

#include "echo-music-error.h"
#include "echo-music-json.h"

static const char *const source_names[] = {
  [ECHO_TRACK_SOURCE_YOUTUBE] = "YOUTUBE",
  [ECHO_TRACK_SOURCE_SPOTIFY] = "SPOTIFY",
  [ECHO_TRACK_SOURCE_APPLE_MUSIC] = "APPLE_MUSIC",
  [ECHO_TRACK_SOURCE_SOUNDCLOUD] = "SOUNDCLOUD",
  [ECHO_TRACK_SOURCE_UPLOADED] = "UPLOADED",
  [ECHO_TRACK_SOURCE_HTTP] = "HTTP",
};

G_STATIC_ASSERT (G_N_ELEMENTS (source_names) == ECHO_TRACK_SOURCE_LAST + 1);

EchoTrack *
echo_track_new (EchoTrackSource source, const char *source_id, const char *title)
{
  EchoTrack *track;

  g_return_val_if_fail (source <= ECHO_TRACK_SOURCE_LAST, NULL);
  g_return_val_if_fail (source_id != NULL, NULL);
  g_return_val_if_fail (title != NULL, NULL);

  track = g_new0 (EchoTrack, 1);
  track->id = g_strdup ("");
  track->source = source;
  track->source_id = g_strdup (source_id);
  track->title = g_strdup (title);
  track->original_url = g_strdup ("");
  return track;
}

EchoTrack *
echo_track_copy (const EchoTrack *track)
{
  EchoTrack *copy;

  g_return_val_if_fail (track != NULL, NULL);

  copy = g_new0 (EchoTrack, 1);
  copy->id = g_strdup (track->id);
  copy->source = track->source;
  copy->source_id = g_strdup (track->source_id);
  copy->title = g_strdup (track->title);
  copy->artist = g_strdup (track->artist);
  copy->album = g_strdup (track->album);
  copy->artwork_url = g_strdup (track->artwork_url);
  copy->duration_ms = track->duration_ms;
  copy->original_url = g_strdup (track->original_url);
  copy->uploaded_file = g_strdup (track->uploaded_file);
  copy->uploaded_by = g_strdup (track->uploaded_by);
  copy->metadata = track->metadata != NULL ? echo_music_json_freeze (track->metadata) : NULL;
  copy->created_at_ms = track->created_at_ms;
  return copy;
}

void
echo_track_free (EchoTrack *track)
{
  if (track == NULL)
    return;
  g_free (track->id);
  g_free (track->source_id);
  g_free (track->title);
  g_free (track->artist);
  g_free (track->album);
  g_free (track->artwork_url);
  g_free (track->original_url);
  g_free (track->uploaded_file);
  g_free (track->uploaded_by);
  g_clear_pointer (&track->metadata, json_node_unref);
  g_free (track);
}

const char *
echo_track_source_to_string (EchoTrackSource source)
{
  g_return_val_if_fail (source <= ECHO_TRACK_SOURCE_LAST, NULL);
  return source_names[source];
}

gboolean
echo_track_source_from_string (const char *text, EchoTrackSource *source)
{
  guint i;

  g_return_val_if_fail (source != NULL, FALSE);

  if (text == NULL)
    return FALSE;
  for (i = 0; i < G_N_ELEMENTS (source_names); i++) {
    if (strcmp (text, source_names[i]) == 0) {
      *source = (EchoTrackSource) i;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
echo_track_source_is_server_side (EchoTrackSource source)
{
  return source == ECHO_TRACK_SOURCE_UPLOADED || source == ECHO_TRACK_SOURCE_HTTP;
}

static void
add_nullable (JsonBuilder * b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* The members both JSON forms share. */
static void
add_public_members (JsonBuilder * b, const EchoTrack * track)
{
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, track->id);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, echo_track_source_to_string (track->source));
  json_builder_set_member_name (b, "sourceId");
  json_builder_add_string_value (b, track->source_id);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, track->title);
  add_nullable (b, "artist", track->artist);
  add_nullable (b, "album", track->album);
  add_nullable (b, "thumbnailUrl", track->artwork_url);
  json_builder_set_member_name (b, "durationMs");
  json_builder_add_int_value (b, track->duration_ms);
  json_builder_set_member_name (b, "originalUrl");
  json_builder_add_string_value (b, track->original_url);
  json_builder_set_member_name (b, "metadata");
  if (track->metadata != NULL)
    json_builder_add_value (b, echo_music_json_freeze (track->metadata));
  else
    json_builder_add_null_value (b);
}

JsonNode *
echo_track_to_json (const EchoTrack *track)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *created = NULL;

  g_return_val_if_fail (track != NULL, NULL);

  created = echo_music_json_format_time_ms (track->created_at_ms);
  json_builder_begin_object (b);
  add_public_members (b, track);
  json_builder_set_member_name (b, "createdAt");
  json_builder_add_string_value (b, created);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
echo_track_to_store_json (const EchoTrack *track)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (track != NULL, NULL);

  json_builder_begin_object (b);
  add_public_members (b, track);
  json_builder_set_member_name (b, "createdAtMs");
  json_builder_add_int_value (b, track->created_at_ms);
  add_nullable (b, "uploadedFile", track->uploaded_file);
  add_nullable (b, "uploadedBy", track->uploaded_by);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
echo_track_serialize (const EchoTrack *track)
{
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (track != NULL, NULL);

  root = echo_track_to_store_json (track);
  return json_to_string (root, FALSE);
}

/* An integer member that may be absent or null (unknown): 0 then. */
static gboolean
get_optional_int (JsonObject * obj, const char *name, gint64 min, gint64 * out,
    GError ** error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = 0;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  return echo_music_json_get_int (obj, name, min, G_MAXINT64, out, error);
}

EchoTrack *
echo_track_from_store_json (JsonObject *obj, GError **error)
{
  g_autoptr (EchoTrack) track = g_new0 (EchoTrack, 1);
  g_autofree char *source = NULL;
  JsonNode *metadata;

  g_return_val_if_fail (obj != NULL, NULL);
  if (!echo_music_json_get_string (obj, "id", TRUE, &track->id, error) ||
      !echo_music_json_get_string (obj, "source", TRUE, &source, error) ||
      !echo_music_json_get_string (obj, "sourceId", TRUE, &track->source_id, error) ||
      !echo_music_json_get_string (obj, "title", TRUE, &track->title, error) ||
      !echo_music_json_get_string (obj, "artist", FALSE, &track->artist, error) ||
      !echo_music_json_get_string (obj, "album", FALSE, &track->album, error) ||
      !echo_music_json_get_string (obj, "thumbnailUrl", FALSE, &track->artwork_url, error) ||
      !echo_music_json_get_string (obj, "originalUrl", TRUE, &track->original_url, error) ||
      !echo_music_json_get_string (obj, "uploadedFile", FALSE, &track->uploaded_file, error) ||
      !echo_music_json_get_string (obj, "uploadedBy", FALSE, &track->uploaded_by, error) ||
      !get_optional_int (obj, "durationMs", 0, &track->duration_ms, error) ||
      !get_optional_int (obj, "createdAtMs", G_MININT64, &track->created_at_ms, error))
    return NULL;
  if (!echo_track_source_from_string (source, &track->source)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "stored track: unknown source \"%s\"", source);
    return NULL;
  }
  metadata = json_object_get_member (obj, "metadata");
  if (metadata != NULL && !JSON_NODE_HOLDS_NULL (metadata)) {
    if (!JSON_NODE_HOLDS_OBJECT (metadata)) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
          "stored track: \"metadata\" is not an object");
      return NULL;
    }
    track->metadata = echo_music_json_freeze (metadata);
  }
  return g_steal_pointer (&track);
}

EchoTrack *
echo_track_deserialize (const char *text, GError **error)
{
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  root = echo_music_json_parse_object (text, "stored track", error);
  if (root == NULL)
    return NULL;
  return echo_track_from_store_json (json_node_get_object (root), error);
}
