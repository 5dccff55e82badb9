/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-provider-apple.c: Apple Music's catalog API with the developer token (Bearer):
 * catalog/{storefront}/songs/{id}, albums/{id} and playlists/{id} (their first tracks come
 * inside relationships.tracks; later ones from .../tracks?offset=N while "next" says
 * there are more). Music videos in albums and playlists are left out.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-music-error.h"

#define PROVIDER "Apple Music"
#define ARTWORK_SIZE "600"

static JsonObject *
api_get (EchoResolveJob *job, const char *path, GError **error)
{
  EchoResolver *r = job->resolver;
  g_autofree char *url = g_strdup_printf ("%s/catalog/%s/%s", r->apple_music_base,
      job->match->storefront, path);
  g_autofree char *bearer = g_strconcat ("Bearer ", r->apple_music_token, NULL);
  const char *headers[] = { "Authorization", bearer, NULL };
  g_autoptr (GError) local = NULL;
  JsonObject *root;
  guint status;

  root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, headers, NULL, NULL,
      &status, &local);
  if (root != NULL)
    return root;
  if (status == 401 || status == 403)
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "Apple Music refused the developer token (%s)", local->message);
  else
    g_propagate_error (error, g_steal_pointer (&local));
  return NULL;
}

/* "https://.../{w}x{h}bb.jpg" at ARTWORK_SIZE square. */
static char *
artwork_url (JsonObject *attributes)
{
  const char *url = echo_json_string (echo_json_object (attributes, "artwork"), "url");
  g_auto (GStrv) parts_w = NULL;
  g_auto (GStrv) parts_h = NULL;
  g_autofree char *with_w = NULL;

  if (url == NULL)
    return NULL;
  parts_w = g_strsplit (url, "{w}", -1);
  with_w = g_strjoinv (ARTWORK_SIZE, parts_w);
  parts_h = g_strsplit (with_w, "{h}", -1);
  return g_strjoinv (ARTWORK_SIZE, parts_h);
}

/* A "songs" resource; NULL without error for other types (music videos). */
static EchoTrack *
song_to_track (EchoResolveJob *job, JsonObject *resource, const char *original_url,
    GError **error)
{
  const char *type = echo_json_string (resource, "type");
  const char *id = echo_json_string (resource, "id");
  JsonObject *attributes = echo_json_object (resource, "attributes");
  const char *name = echo_json_string (attributes, "name");
  const char *url = echo_json_string (attributes, "url");
  g_autofree char *own_url = NULL;
  EchoTrack *track;
  gint64 duration = 0;

  if (type != NULL && strcmp (type, "songs") != 0)
    return NULL;
  if (id == NULL || name == NULL || strlen (id) > 19 || strspn (id, "0123456789") != strlen (id))
    return echo_resolve_malformed (error, PROVIDER, "a song without a numeric \"id\" and "
        "\"attributes.name\"");
  echo_json_count (attributes, "durationInMillis", &duration);
  own_url = g_strdup_printf ("https://music.apple.com/%s/song/%s", job->match->storefront, id);
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_APPLE_MUSIC, id, name,
      original_url != NULL ? original_url : own_url);
  track->artist = g_strdup (echo_json_string (attributes, "artistName"));
  track->album = g_strdup (echo_json_string (attributes, "albumName"));
  track->artwork_url = artwork_url (attributes);
  track->duration_ms = duration;
  echo_track_add_metadata_string (track, "storefront", job->match->storefront);
  echo_track_add_metadata_string (track, "isrc", echo_json_string (attributes, "isrc"));
  echo_track_add_metadata_string (track, "url", url);
  return track;
}

/* The first resource of a {"data":[...]} document; NOT_FOUND when empty. */
static JsonObject *
first_resource (JsonObject *root, GError **error)
{
  JsonArray *data = echo_json_array (root, "data");
  JsonObject *first;

  if (data == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"data\" array");
  if (json_array_get_length (data) == 0) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "Apple Music has no such item");
    return NULL;
  }
  first = echo_json_array_object (data, 0);
  if (first == NULL)
    return echo_resolve_malformed (error, PROVIDER, "a resource that is not an object");
  return first;
}

static EchoResolveResult *
resolve_song (EchoResolveJob *job, GError **error)
{
  g_autofree char *path = g_strconcat ("songs/", job->match->id, NULL);
  g_autoptr (JsonObject) root = api_get (job, path, error);
  JsonObject *song;
  GError *local = NULL;
  EchoTrack *track;

  if (root == NULL || (song = first_resource (root, error)) == NULL)
    return NULL;
  track = song_to_track (job, song, job->original_url, &local);
  if (track == NULL) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "Apple Music item %s is not a song", job->match->id);
    return NULL;
  }
  return echo_resolve_result_new_single (track);
}

/* Adds the songs of @data to @tracks. */
static gboolean
add_songs (EchoResolveJob *job, JsonArray *data, GPtrArray *tracks, guint *seen,
    GError **error)
{
  if (data == NULL) {
    echo_resolve_malformed (error, PROVIDER, "a track list without \"data\"");
    return FALSE;
  }
  for (guint i = 0; i < json_array_get_length (data) &&
      tracks->len < job->resolver->max_playlist_tracks; i++) {
    JsonObject *resource = echo_json_array_object (data, i);
    GError *local = NULL;
    EchoTrack *track;

    (*seen)++;
    if (resource == NULL)
      continue;
    track = song_to_track (job, resource, NULL, &local);
    if (local != NULL) {
      g_propagate_error (error, local);
      return FALSE;
    }
    if (track != NULL)
      g_ptr_array_add (tracks, track);
  }
  return TRUE;
}

static EchoResolveResult *
resolve_list (EchoResolveJob *job, const char *collection, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", collection, job->match->id);
  g_autoptr (JsonObject) root = api_get (job, path, error);
  g_autoptr (GPtrArray) tracks = g_ptr_array_new_with_free_func (
      (GDestroyNotify) echo_track_free);
  JsonObject *resource, *relation;
  const char *name;
  gboolean more;
  guint seen = 0;

  if (root == NULL || (resource = first_resource (root, error)) == NULL)
    return NULL;
  name = echo_json_string (echo_json_object (resource, "attributes"), "name");
  relation = echo_json_object (echo_json_object (resource, "relationships"), "tracks");
  if (name == NULL || relation == NULL)
    return echo_resolve_malformed (error, PROVIDER,
        "no \"attributes.name\" or \"relationships.tracks\"");
  if (!add_songs (job, echo_json_array (relation, "data"), tracks, &seen, error))
    return NULL;
  more = echo_json_string (relation, "next") != NULL;
  while (more && tracks->len < job->resolver->max_playlist_tracks) {
    g_autofree char *page_path = g_strdup_printf ("%s/%s/tracks?offset=%u", collection,
        job->match->id, seen);
    g_autoptr (JsonObject) page = api_get (job, page_path, error);
    guint before = seen;

    if (page == NULL || !add_songs (job, echo_json_array (page, "data"), tracks, &seen, error))
      return NULL;
    more = echo_json_string (page, "next") != NULL && seen > before;
  }
  return echo_resolve_result_new_list (g_steal_pointer (&tracks), g_strdup (name),
      strcmp (collection, "albums") == 0 ? "Apple Music album" : "Apple Music playlist",
      error);
}

EchoResolveResult *
echo_provider_apple_resolve (EchoResolveJob *job, GError **error)
{
  if (job->resolver->apple_music_token == NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
        "Apple Music needs a developer token (apple_music_token)");
    return NULL;
  }
  switch (job->match->kind) {
    case ECHO_URL_KIND_TRACK:
      return resolve_song (job, error);
    case ECHO_URL_KIND_ALBUM:
      return resolve_list (job, "albums", error);
    case ECHO_URL_KIND_PLAYLIST:
      return resolve_list (job, "playlists", error);
  }
  g_return_val_if_reached (NULL);
}
