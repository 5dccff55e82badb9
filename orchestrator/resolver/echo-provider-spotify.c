/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-provider-spotify.c: Spotify. With client credentials: a client-credentials token
 * (POST accounts/api/token, HTTP Basic; cached until shortly before it expires, exchanged
 * again once when the API answers 401), then tracks/{id}, albums/{id} (+ albums/{id}/tracks
 * pages) or playlists/{id} (+ playlists/{id}/tracks pages). Without credentials: oEmbed for
 * tracks (title and artwork only); albums and playlists need the credentials.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-music-error.h"

#define PROVIDER "Spotify"
/* A token is renewed this long before Spotify says it expires. */
#define TOKEN_MARGIN_S 60

static gboolean
spotify_id_is_valid (const char *id)
{
  if (id == NULL || strlen (id) != 22)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

static char *
exchange_token (EchoResolveJob *job, GError **error)
{
  EchoResolver *r = job->resolver;
  g_autofree char *pair = g_strconcat (r->spotify_client_id, ":", r->spotify_client_secret,
      NULL);
  g_autofree char *basic = g_base64_encode ((const guchar *) pair, strlen (pair));
  g_autofree char *authorization = g_strconcat ("Basic ", basic, NULL);
  g_autofree char *url = g_strconcat (r->spotify_accounts_base, "/api/token", NULL);
  const char *headers[] = { "Authorization", authorization, NULL };
  static const char form[] = "grant_type=client_credentials";
  g_autoptr (GBytes) body = g_bytes_new_static (form, sizeof form - 1);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonObject) root = NULL;
  const char *token;
  gint64 expires_in;
  guint status;

  root = echo_resolve_job_fetch_json (job, PROVIDER, "POST", url, headers, body,
      "application/x-www-form-urlencoded", &status, &local);
  if (root == NULL) {
    /* Whatever the status (400 invalid_client included): the credentials are the problem,
     * never the user's URL. */
    if (local->domain == ECHO_MUSIC_ERROR && status != 0)
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
          "Spotify refused the client credentials (%s)", local->message);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  token = echo_json_string (root, "access_token");
  if (token == NULL || !echo_json_count (root, "expires_in", &expires_in))
    return echo_resolve_malformed (error, PROVIDER,
        "a token reply without \"access_token\" and \"expires_in\"");

  g_mutex_lock (&r->token_lock);
  g_free (r->spotify_token);
  r->spotify_token = g_strdup (token);
  r->spotify_token_expires_us = echo_clock_monotonic_us () +
      MAX (0, MIN (expires_in, G_GINT64_CONSTANT (86400)) - TOKEN_MARGIN_S) * G_USEC_PER_SEC;
  g_mutex_unlock (&r->token_lock);
  return g_strdup (token);
}

static char *
get_token (EchoResolveJob *job, GError **error)
{
  EchoResolver *r = job->resolver;
  char *token = NULL;

  g_mutex_lock (&r->token_lock);
  if (r->spotify_token != NULL && echo_clock_monotonic_us () < r->spotify_token_expires_us)
    token = g_strdup (r->spotify_token);
  g_mutex_unlock (&r->token_lock);
  return token != NULL ? token : exchange_token (job, error);
}

/* GET {api}/@path with the bearer token; a 401 (revoked or expired early) exchanges the
 * credentials once more and retries. */
static JsonObject *
api_get (EchoResolveJob *job, const char *path, GError **error)
{
  g_autofree char *url = g_strconcat (job->resolver->spotify_api_base, path, NULL);

  for (guint attempt = 0;; attempt++) {
    g_autofree char *token = get_token (job, error);
    g_autofree char *bearer = NULL;
    const char *headers[] = { "Authorization", NULL, NULL };
    g_autoptr (GError) local = NULL;
    JsonObject *root;
    guint status;

    if (token == NULL)
      return NULL;
    bearer = g_strconcat ("Bearer ", token, NULL);
    headers[1] = bearer;
    root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, headers, NULL, NULL,
        &status, &local);
    if (root != NULL)
      return root;
    if (status == 401 && attempt == 0) {
      echo_resolver_forget_tokens (job->resolver);
      continue;
    }
    /* 400: Spotify's answer to an id it cannot parse; ours are well-formed, so the id does
     * not exist in any form it knows. */
    if (status == 400)
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND, "%s", local->message);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
}

static const char *
first_image (JsonObject *obj)
{
  return echo_json_string (echo_json_array_object (echo_json_array (obj, "images"), 0), "url");
}

/* "A, B" from an array of {"name"} objects; NULL when none. */
static char *
join_artists (JsonObject *obj)
{
  JsonArray *artists = echo_json_array (obj, "artists");
  g_autoptr (GString) names = g_string_new (NULL);

  for (guint i = 0; artists != NULL && i < json_array_get_length (artists); i++) {
    const char *name = echo_json_string (echo_json_array_object (artists, i), "name");

    if (name != NULL)
      g_string_append_printf (names, "%s%s", names->len > 0 ? ", " : "", name);
  }
  return names->len > 0 ? g_string_free (g_steal_pointer (&names), FALSE) : NULL;
}

/* A track object (full, or simplified inside an album: then @album gives the album).
 * NULL without error for what cannot play (local files, episodes, ids Spotify lost). */
static EchoTrack *
track_from_json (EchoResolveJob *job, JsonObject *obj, JsonObject *album,
    const char *original_url, GError **error)
{
  const char *id = echo_json_string (obj, "id");
  const char *name = echo_json_string (obj, "name");
  const char *type = echo_json_string (obj, "type");
  g_autofree char *url = NULL;
  gboolean flag;
  gint64 duration;
  EchoTrack *track;

  if ((type != NULL && strcmp (type, "track") != 0) ||
      (echo_json_bool (obj, "is_local", &flag) && flag) || !spotify_id_is_valid (id))
    return NULL;
  if (name == NULL || !echo_json_count (obj, "duration_ms", &duration)) {
    echo_resolve_malformed (error, PROVIDER, "a track without \"name\" or \"duration_ms\"");
    return NULL;
  }
  if (album == NULL)
    album = echo_json_object (obj, "album");
  url = g_strconcat ("https://open.spotify.com/track/", id, NULL);
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_SPOTIFY, id, name,
      original_url != NULL ? original_url : url);
  track->artist = join_artists (obj);
  track->album = g_strdup (echo_json_string (album, "name"));
  track->artwork_url = g_strdup (first_image (album));
  track->duration_ms = duration;
  echo_track_add_metadata_string (track, "uri", echo_json_string (obj, "uri"));
  echo_track_add_metadata_string (track, "isrc",
      echo_json_string (echo_json_object (obj, "external_ids"), "isrc"));
  echo_track_add_metadata_string (track, "previewUrl", echo_json_string (obj, "preview_url"));
  if (echo_json_bool (obj, "explicit", &flag))
    echo_track_add_metadata_bool (track, "explicit", flag);
  return track;
}

static EchoResolveResult *
resolve_track (EchoResolveJob *job, GError **error)
{
  g_autofree char *path = g_strconcat ("/tracks/", job->match->id, NULL);
  g_autoptr (JsonObject) root = api_get (job, path, error);
  GError *local = NULL;
  EchoTrack *track;

  if (root == NULL)
    return NULL;
  track = track_from_json (job, root, NULL, job->original_url, &local);
  if (track == NULL) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "Spotify track %s is not playable", job->match->id);
    return NULL;
  }
  return echo_resolve_result_new_single (track);
}

/* Adds the playable tracks of a paging object's items to @tracks; @wrapped: playlist
 * items ({"track": {...}}) rather than tracks. */
static gboolean
add_page (EchoResolveJob *job, JsonObject *paging, JsonObject *album, gboolean wrapped,
    GPtrArray *tracks, guint *seen, GError **error)
{
  JsonArray *items = echo_json_array (paging, "items");

  if (items == NULL) {
    echo_resolve_malformed (error, PROVIDER, "a page without \"items\"");
    return FALSE;
  }
  for (guint i = 0; i < json_array_get_length (items) &&
      tracks->len < job->resolver->max_playlist_tracks; i++) {
    JsonObject *item = echo_json_array_object (items, i);
    EchoTrack *track;

    (*seen)++;
    if (wrapped)
      item = echo_json_object (item, "track");
    if (item == NULL)
      continue;
    track = track_from_json (job, item, album, NULL, error);
    if (track != NULL)
      g_ptr_array_add (tracks, track);
    else if (*error != NULL)
      return FALSE;
  }
  return TRUE;
}

/* albums/{id} or playlists/{id}, then its tracks pages by offset. */
static EchoResolveResult *
resolve_list (EchoResolveJob *job, const char *collection, gboolean is_album, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/%s/%s", collection, job->match->id);
  g_autoptr (JsonObject) root = NULL;
  g_autoptr (GPtrArray) tracks = g_ptr_array_new_with_free_func (
      (GDestroyNotify) echo_track_free);
  JsonObject *paging;
  const char *name;
  gint64 total = 0;
  guint seen = 0;
  GError *local = NULL;

  root = api_get (job, path, error);
  if (root == NULL)
    return NULL;
  name = echo_json_string (root, "name");
  paging = echo_json_object (root, "tracks");
  if (name == NULL || paging == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"name\" or \"tracks\"");
  if (!add_page (job, paging, is_album ? root : NULL, !is_album, tracks, &seen, &local)) {
    g_propagate_error (error, local);
    return NULL;
  }
  echo_json_count (paging, "total", &total);
  while (tracks->len < job->resolver->max_playlist_tracks && (gint64) seen < total) {
    g_autofree char *page_path = g_strdup_printf ("/%s/%s/tracks?offset=%u&limit=%d",
        collection, job->match->id, seen, is_album ? 50 : 100);
    g_autoptr (JsonObject) page = api_get (job, page_path, error);
    guint before = seen;

    if (page == NULL)
      return NULL;
    if (!add_page (job, page, is_album ? root : NULL, !is_album, tracks, &seen, &local)) {
      g_propagate_error (error, local);
      return NULL;
    }
    if (seen == before)
      break;                    /* an empty page before "total": stop, do not spin */
  }
  return echo_resolve_result_new_list (g_steal_pointer (&tracks), g_strdup (name),
      is_album ? "Spotify album" : "Spotify playlist", error);
}

static EchoResolveResult *
resolve_oembed (EchoResolveJob *job, GError **error)
{
  g_autofree char *target = g_uri_escape_string (job->match->canonical_url, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s?url=%s", job->resolver->spotify_oembed_base,
      target);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonObject) root = NULL;
  const char *title;
  EchoTrack *track;
  guint status;

  root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, NULL, NULL, NULL, &status,
      &local);
  if (root == NULL) {
    if (status == 400)
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "Spotify has no track %s", job->match->id);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  title = echo_json_string (root, "title");
  if (title == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"title\" in the oEmbed reply");
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_SPOTIFY, job->match->id, title,
      job->original_url);
  track->artwork_url = g_strdup (echo_json_string (root, "thumbnail_url"));
  echo_track_add_metadata_string (track, "via", "oembed");
  return echo_resolve_result_new_single (track);
}

EchoResolveResult *
echo_provider_spotify_resolve (EchoResolveJob *job, GError **error)
{
  EchoResolver *r = job->resolver;

  if (r->spotify_client_id == NULL || r->spotify_client_secret == NULL) {
    if (job->match->kind == ECHO_URL_KIND_TRACK)
      return resolve_oembed (job, error);
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
        "Spotify albums and playlists need client credentials "
        "(spotify_client_id, spotify_client_secret)");
    return NULL;
  }
  switch (job->match->kind) {
    case ECHO_URL_KIND_TRACK:
      return resolve_track (job, error);
    case ECHO_URL_KIND_ALBUM:
      return resolve_list (job, "albums", TRUE, error);
    case ECHO_URL_KIND_PLAYLIST:
      return resolve_list (job, "playlists", FALSE, error);
  }
  g_return_val_if_reached (NULL);
}
