/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-track.c: EchoTrack's source names, copies, and its two JSON forms: the API form
 * (public members, nulls for unknown fields, ISO createdAt) and the store form (everything,
 * round trips exactly, malformed documents refused).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echo-music-error.h"
#include "echo-track.h"

static EchoTrack *
full_track (void)
{
  EchoTrack *track = echo_track_new (ECHO_TRACK_SOURCE_SPOTIFY, "4uLU6hMCjMI75M1A2tKUQC",
      "Never Gonna Give You Up");
  g_autoptr (JsonNode) metadata = json_from_string ("{\"popularity\":77,\"explicit\":false,"
      "\"external_urls\":{\"spotify\":\"https://open.spotify.com/track/x\"}}", NULL);

  g_free (track->id);
  track->id = g_strdup ("0f8fad5b-d9cb-469f-a165-70867728950e");
  track->artist = g_strdup ("Rick Astley");
  track->album = g_strdup ("Whenever You Need Somebody");
  track->artwork_url = g_strdup ("https://i.scdn.co/image/abc");
  track->duration_ms = 213573;
  g_free (track->original_url);
  track->original_url = g_strdup ("https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC");
  track->metadata = g_steal_pointer (&metadata);
  track->created_at_ms = G_GINT64_CONSTANT (1700000000123);
  return track;
}

static EchoTrack *
upload_track (void)
{
  EchoTrack *track = echo_track_new (ECHO_TRACK_SOURCE_UPLOADED, "up-1", "my song.ogg");

  track->uploaded_file = g_strdup ("uploads/up-1.ogg");
  track->uploaded_by = g_strdup ("user-7");
  track->duration_ms = 5000;
  return track;
}

static void
assert_tracks_equal (const EchoTrack * a, const EchoTrack * b)
{
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpint (a->source, ==, b->source);
  g_assert_cmpstr (a->source_id, ==, b->source_id);
  g_assert_cmpstr (a->title, ==, b->title);
  g_assert_cmpstr (a->artist, ==, b->artist);
  g_assert_cmpstr (a->album, ==, b->album);
  g_assert_cmpstr (a->artwork_url, ==, b->artwork_url);
  g_assert_cmpint (a->duration_ms, ==, b->duration_ms);
  g_assert_cmpstr (a->original_url, ==, b->original_url);
  g_assert_cmpstr (a->uploaded_file, ==, b->uploaded_file);
  g_assert_cmpstr (a->uploaded_by, ==, b->uploaded_by);
  g_assert_cmpint (a->created_at_ms, ==, b->created_at_ms);
  g_assert_true ((a->metadata == NULL) == (b->metadata == NULL));
  if (a->metadata != NULL)
    g_assert_true (json_node_equal (a->metadata, b->metadata));
}

static void
test_source_names (void)
{
  static const struct
  {
    EchoTrackSource source;
    const char *name;
    gboolean server_side;
  } table[] = {
    {ECHO_TRACK_SOURCE_YOUTUBE, "YOUTUBE", FALSE},
    {ECHO_TRACK_SOURCE_SPOTIFY, "SPOTIFY", FALSE},
    {ECHO_TRACK_SOURCE_APPLE_MUSIC, "APPLE_MUSIC", FALSE},
    {ECHO_TRACK_SOURCE_SOUNDCLOUD, "SOUNDCLOUD", FALSE},
    {ECHO_TRACK_SOURCE_UPLOADED, "UPLOADED", TRUE},
    {ECHO_TRACK_SOURCE_HTTP, "HTTP", TRUE},
  };
  static const char *const bad[] = { "", "youtube", "YOUTUBE ", "APPLE", "SPOTIFYX" };
  EchoTrackSource parsed;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (table); i++) {
    g_assert_cmpstr (echo_track_source_to_string (table[i].source), ==, table[i].name);
    g_assert_true (echo_track_source_from_string (table[i].name, &parsed));
    g_assert_cmpint (parsed, ==, table[i].source);
    g_assert_cmpint (echo_track_source_is_server_side (table[i].source), ==,
        table[i].server_side);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    parsed = ECHO_TRACK_SOURCE_HTTP;
    g_assert_false (echo_track_source_from_string (bad[i], &parsed));
    g_assert_cmpint (parsed, ==, ECHO_TRACK_SOURCE_HTTP);
  }
  g_assert_false (echo_track_source_from_string (NULL, &parsed));
}

static void
test_new_and_copy (void)
{
  g_autoptr (EchoTrack) fresh = echo_track_new (ECHO_TRACK_SOURCE_YOUTUBE, "dQw4w9WgXcQ", "T");
  g_autoptr (EchoTrack) track = full_track ();
  g_autoptr (EchoTrack) copy = echo_track_copy (track);

  g_assert_cmpstr (fresh->id, ==, "");
  g_assert_cmpstr (fresh->original_url, ==, "");
  g_assert_null (fresh->artist);
  g_assert_null (fresh->metadata);
  g_assert_cmpint (fresh->duration_ms, ==, 0);

  assert_tracks_equal (track, copy);
  /* The copy owns its strings: changing the original leaves it alone. */
  g_assert_true (copy->title != track->title);
  g_free (track->title);
  track->title = g_strdup ("changed");
  g_assert_cmpstr (copy->title, ==, "Never Gonna Give You Up");
  g_assert_true (copy->metadata != track->metadata);
  /* ... and its metadata too (json_node_copy alone would share the object) */
  json_object_set_int_member (json_node_get_object (track->metadata), "popularity", 1);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (copy->metadata),
          "popularity"), ==, 77);
}

static void
test_api_json (void)
{
  g_autoptr (EchoTrack) track = full_track ();
  g_autoptr (JsonNode) node = echo_track_to_json (track);
  JsonObject *obj;

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  obj = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==, track->id);
  g_assert_cmpstr (json_object_get_string_member (obj, "source"), ==, "SPOTIFY");
  g_assert_cmpstr (json_object_get_string_member (obj, "sourceId"), ==, track->source_id);
  g_assert_cmpstr (json_object_get_string_member (obj, "title"), ==, track->title);
  g_assert_cmpstr (json_object_get_string_member (obj, "artist"), ==, "Rick Astley");
  g_assert_cmpstr (json_object_get_string_member (obj, "album"), ==, track->album);
  g_assert_cmpstr (json_object_get_string_member (obj, "thumbnailUrl"), ==,
      "https://i.scdn.co/image/abc");
  g_assert_cmpint (json_object_get_int_member (obj, "durationMs"), ==, 213573);
  g_assert_cmpstr (json_object_get_string_member (obj, "originalUrl"), ==, track->original_url);
  g_assert_true (json_node_equal (json_object_get_member (obj, "metadata"), track->metadata));
  g_assert_cmpstr (json_object_get_string_member (obj, "createdAt"), ==,
      "2023-11-14T22:13:20.123Z");
  /* The internal members stay out of the API. */
  g_assert_false (json_object_has_member (obj, "uploadedFile"));
  g_assert_false (json_object_has_member (obj, "uploadedBy"));
  g_assert_false (json_object_has_member (obj, "createdAtMs"));
}

static void
test_api_json_unknown_fields_are_null (void)
{
  g_autoptr (EchoTrack) track = upload_track ();
  g_autoptr (JsonNode) node = echo_track_to_json (track);
  JsonObject *obj = json_node_get_object (node);
  static const char *const nullable[] = { "artist", "album", "thumbnailUrl", "metadata" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (nullable); i++) {
    g_assert_true (json_object_has_member (obj, nullable[i]));
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, nullable[i])));
  }
  g_assert_cmpstr (json_object_get_string_member (obj, "source"), ==, "UPLOADED");
  g_assert_cmpstr (json_object_get_string_member (obj, "originalUrl"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (obj, "createdAt"), ==,
      "1970-01-01T00:00:00.000Z");
  g_assert_false (json_object_has_member (obj, "uploadedFile"));
}

static void
round_trip (EchoTrack * track)
{
  g_autofree char *text = echo_track_serialize (track);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoTrack) back = echo_track_deserialize (text, &error);
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (back);
  assert_tracks_equal (track, back);
  again = echo_track_serialize (back);
  g_assert_cmpstr (text, ==, again);
}

static void
test_store_round_trip (void)
{
  g_autoptr (EchoTrack) full = full_track ();
  g_autoptr (EchoTrack) upload = upload_track ();
  g_autoptr (EchoTrack) http = echo_track_new (ECHO_TRACK_SOURCE_HTTP,
      "https://radio.example/stream.ogg", "stream.ogg \xe2\x99\xab \"quoted\"");
  g_autofree char *upload_text = echo_track_serialize (upload);
  g_autoptr (JsonNode) upload_node = json_from_string (upload_text, NULL);

  round_trip (full);
  round_trip (upload);
  http->created_at_ms = -1;     /* odd but representable */
  round_trip (http);

  /* The store form keeps what the API form leaves out. */
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (upload_node),
          "uploadedFile"), ==, "uploads/up-1.ogg");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (upload_node),
          "uploadedBy"), ==, "user-7");
}

/* A valid stored track with member @name replaced by the JSON value @value (NULL: removed). */
static char *
stored_with (const char *name, const char *value)
{
  g_autoptr (EchoTrack) track = full_track ();
  g_autofree char *text = echo_track_serialize (track);
  g_autoptr (JsonNode) root = json_from_string (text, NULL);
  JsonObject *obj = json_node_get_object (root);

  if (value == NULL)
    json_object_remove_member (obj, name);
  else
    json_object_set_member (obj, name, json_from_string (value, NULL));
  return json_to_string (root, FALSE);
}

static void
test_store_rejects_malformed (void)
{
  static const struct
  {
    const char *name;
    const char *value;
  } bad[] = {
    {"id", NULL}, {"id", "1"}, {"source", NULL}, {"source", "\"youtube\""}, {"source", "2"},
    {"sourceId", NULL}, {"sourceId", "[]"}, {"title", NULL}, {"title", "null"},
    {"title", "{}"}, {"artist", "7"}, {"album", "true"}, {"thumbnailUrl", "[\"x\"]"},
    {"originalUrl", NULL}, {"durationMs", "\"213573\""}, {"durationMs", "1.5"},
    {"createdAtMs", "\"now\""}, {"uploadedFile", "3"}, {"uploadedBy", "{}"},
  };
  static const char *const not_objects[] = { "[]", "\"track\"", "42", "null" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *text = stored_with (bad[i].name, bad[i].value);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoTrack) track = echo_track_deserialize (text, &error);

    g_test_message ("%s = %s", bad[i].name, bad[i].value ? bad[i].value : "(absent)");
    g_assert_null (track);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }
  for (i = 0; i < G_N_ELEMENTS (not_objects); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoTrack) track = echo_track_deserialize (not_objects[i], &error);

    g_assert_null (track);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }
}

static void
test_store_optional_members (void)
{
  /* Members that may be unknown can be absent or null. */
  static const char *const optional[] = { "artist", "album", "thumbnailUrl", "metadata",
    "uploadedFile", "uploadedBy", "durationMs", "createdAtMs"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (optional); i++) {
    g_autofree char *absent = stored_with (optional[i], NULL);
    g_autofree char *null = stored_with (optional[i], "null");
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoTrack) a = echo_track_deserialize (absent, &error);
    g_autoptr (EchoTrack) b = NULL;

    g_assert_no_error (error);
    b = echo_track_deserialize (null, &error);
    g_assert_no_error (error);
    assert_tracks_equal (a, b);
  }
}

static void
test_store_truncated (void)
{
  g_autoptr (EchoTrack) track = full_track ();
  g_autofree char *text = echo_track_serialize (track);
  gsize len = strlen (text), i;

  /* Every proper prefix of a stored track is refused, never half-read. */
  for (i = 0; i < len; i++) {
    g_autofree char *prefix = g_strndup (text, i);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoTrack) back = echo_track_deserialize (prefix, &error);

    g_assert_null (back);
    g_assert_nonnull (error);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/music/track/source-names", test_source_names);
  g_test_add_func ("/music/track/new-and-copy", test_new_and_copy);
  g_test_add_func ("/music/track/api-json", test_api_json);
  g_test_add_func ("/music/track/api-json-unknown-fields-are-null",
      test_api_json_unknown_fields_are_null);
  g_test_add_func ("/music/track/store-round-trip", test_store_round_trip);
  g_test_add_func ("/music/track/store-rejects-malformed", test_store_rejects_malformed);
  g_test_add_func ("/music/track/store-optional-members", test_store_optional_members);
  g_test_add_func ("/music/track/store-truncated", test_store_truncated);
  return g_test_run ();
}
