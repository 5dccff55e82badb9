/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-provider-youtube.c: YouTube. With an API key: Data API v3 videos.list
 * (part=snippet,contentDetails) for videos; playlists.list for a playlist's title, then
 * playlistItems.list pages (50 each) for its video ids, then videos.list again for their
 * durations (deleted and private videos drop out there). Without a key: oEmbed (no
 * duration); playlists need the key.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-music-error.h"

#define PROVIDER "YouTube"
#define PAGE_SIZE 50

static const char *
best_thumbnail (JsonObject *snippet)
{
  static const char *const sizes[] = { "maxres", "standard", "high", "medium", "default" };
  JsonObject *thumbnails = echo_json_object (snippet, "thumbnails");

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    const char *url = echo_json_string (echo_json_object (thumbnails, sizes[i]), "url");

    if (url != NULL)
      return url;
  }
  return NULL;
}

static char *
watch_url (const char *id)
{
  return g_strconcat ("https://www.youtube.com/watch?v=", id, NULL);
}

/* One videos.list item. */
static EchoTrack *
video_to_track (EchoResolveJob *job, JsonObject *video, const char *original_url,
    GError **error)
{
  const char *id = echo_json_string (video, "id");
  JsonObject *snippet = echo_json_object (video, "snippet");
  JsonObject *details = echo_json_object (video, "contentDetails");
  const char *title = echo_json_string (snippet, "title");
  const char *duration = echo_json_string (details, "duration");
  g_autofree char *url = NULL;
  EchoTrack *track;
  gint64 ms;

  if (id == NULL || strlen (id) != 11)
    return echo_resolve_malformed (error, PROVIDER, "a video without a valid \"id\"");
  if (title == NULL)
    return echo_resolve_malformed (error, PROVIDER, "a video without \"snippet.title\"");
  if (duration == NULL || !echo_iso8601_duration_to_ms (duration, &ms))
    return echo_resolve_malformed (error, PROVIDER,
        "a video without a valid \"contentDetails.duration\"");
  url = watch_url (id);
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_YOUTUBE, id, title,
      original_url != NULL ? original_url : url);
  track->artist = g_strdup (echo_json_string (snippet, "channelTitle"));
  track->artwork_url = g_strdup (best_thumbnail (snippet));
  track->duration_ms = ms;
  echo_track_add_metadata_string (track, "channelId", echo_json_string (snippet, "channelId"));
  echo_track_add_metadata_string (track, "publishedAt",
      echo_json_string (snippet, "publishedAt"));
  echo_track_add_metadata_string (track, "liveBroadcastContent",
      echo_json_string (snippet, "liveBroadcastContent"));
  return track;
}

/* videos.list for @ids (at most 50): a table id -> EchoTrack. */
static GHashTable *
fetch_videos (EchoResolveJob *job, GPtrArray *ids, GError **error)
{
  EchoResolver *r = job->resolver;
  g_autoptr (GHashTable) tracks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) echo_track_free);
  g_autoptr (GString) joined = g_string_new (NULL);
  g_autofree char *key = g_uri_escape_string (r->youtube_api_key, NULL, FALSE);
  g_autofree char *url = NULL;
  g_autoptr (JsonObject) root = NULL;
  JsonArray *items;

  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (joined, "%s%s", i > 0 ? "," : "",
        (const char *) g_ptr_array_index (ids, i));
  url = g_strdup_printf ("%s/videos?part=snippet,contentDetails&id=%s&maxResults=%d&key=%s",
      r->youtube_api_base, joined->str, PAGE_SIZE, key);
  root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, NULL, NULL, NULL, NULL,
      error);
  if (root == NULL)
    return NULL;
  items = echo_json_array (root, "items");
  if (items == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"items\" array");
  for (guint i = 0; i < json_array_get_length (items); i++) {
    JsonObject *video = echo_json_array_object (items, i);
    const char *original = ids->len == 1 && i == 0 ? job->original_url : NULL;
    EchoTrack *track;

    if (video == NULL)
      return echo_resolve_malformed (error, PROVIDER, "an item that is not an object");
    track = video_to_track (job, video, original, error);
    if (track == NULL)
      return NULL;
    g_hash_table_replace (tracks, track->source_id, track);
  }
  return g_steal_pointer (&tracks);
}

static EchoResolveResult *
resolve_video (EchoResolveJob *job, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  g_autoptr (GHashTable) tracks = NULL;
  EchoTrack *track;

  g_ptr_array_add (ids, job->match->id);
  tracks = fetch_videos (job, ids, error);
  if (tracks == NULL)
    return NULL;
  if (!g_hash_table_steal_extended (tracks, job->match->id, NULL, (gpointer *) & track)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "YouTube has no video %s (or it is private)", job->match->id);
    return NULL;
  }
  return echo_resolve_result_new_single (track);
}

/* playlists.list: the title; NOT_FOUND when YouTube has no such playlist. */
static char *
fetch_playlist_title (EchoResolveJob *job, const char *key, GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s/playlists?part=snippet&id=%s&key=%s",
      job->resolver->youtube_api_base, job->match->id, key);
  g_autoptr (JsonObject) root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url,
      NULL, NULL, NULL, NULL, error);
  JsonArray *items;
  const char *title;

  if (root == NULL)
    return NULL;
  items = echo_json_array (root, "items");
  if (items == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"items\" array");
  if (json_array_get_length (items) == 0) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "YouTube has no playlist %s (or it is private)", job->match->id);
    return NULL;
  }
  title = echo_json_string (echo_json_object (echo_json_array_object (items, 0), "snippet"),
      "title");
  if (title == NULL)
    return echo_resolve_malformed (error, PROVIDER, "a playlist without \"snippet.title\"");
  return g_strdup (title);
}

/* The video ids of the playlist, in order, at most max_playlist_tracks. */
static GPtrArray *
fetch_playlist_video_ids (EchoResolveJob *job, const char *key, GError **error)
{
  EchoResolver *r = job->resolver;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *page_token = NULL;

  do {
    g_autofree char *token_param = NULL;
    g_autofree char *url = NULL;
    g_autoptr (JsonObject) root = NULL;
    JsonArray *items;

    if (page_token != NULL) {
      g_autofree char *escaped = g_uri_escape_string (page_token, NULL, FALSE);

      token_param = g_strconcat ("&pageToken=", escaped, NULL);
    }
    url = g_strdup_printf ("%s/playlistItems?part=snippet,contentDetails&playlistId=%s"
        "&maxResults=%d&key=%s%s", r->youtube_api_base, job->match->id, PAGE_SIZE, key,
        token_param != NULL ? token_param : "");
    root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, NULL, NULL, NULL, NULL,
        error);
    if (root == NULL)
      return NULL;
    items = echo_json_array (root, "items");
    if (items == NULL)
      return echo_resolve_malformed (error, PROVIDER, "no \"items\" array");
    for (guint i = 0; i < json_array_get_length (items) && ids->len < r->max_playlist_tracks;
        i++) {
      JsonObject *item = echo_json_array_object (items, i);
      const char *id = echo_json_string (echo_json_object (item, "contentDetails"), "videoId");
      EchoUrlMatch check;

      if (id == NULL)
        id = echo_json_string (echo_json_object (echo_json_object (item, "snippet"),
                "resourceId"), "videoId");
      /* An id goes into the next request's URL: only well-formed ones. */
      if (id == NULL || strlen (id) != 11)
        continue;
      {
        g_autofree char *probe = watch_url (id);

        if (!echo_url_detect (probe, &check))
          continue;
        echo_url_match_clear (&check);
      }
      g_ptr_array_add (ids, g_strdup (id));
    }
    g_clear_pointer (&page_token, g_free);
    page_token = g_strdup (echo_json_string (root, "nextPageToken"));
  } while (page_token != NULL && ids->len < r->max_playlist_tracks);
  return g_steal_pointer (&ids);
}

static EchoResolveResult *
resolve_playlist (EchoResolveJob *job, GError **error)
{
  g_autofree char *key = g_uri_escape_string (job->resolver->youtube_api_key, NULL, FALSE);
  g_autofree char *title = NULL;
  g_autoptr (GPtrArray) ids = NULL;
  g_autoptr (GPtrArray) tracks = g_ptr_array_new_with_free_func (
      (GDestroyNotify) echo_track_free);

  title = fetch_playlist_title (job, key, error);
  if (title == NULL)
    return NULL;
  ids = fetch_playlist_video_ids (job, key, error);
  if (ids == NULL)
    return NULL;
  for (guint start = 0; start < ids->len; start += PAGE_SIZE) {
    g_autoptr (GPtrArray) page = g_ptr_array_new ();
    g_autoptr (GHashTable) found = NULL;

    for (guint i = start; i < ids->len && i < start + PAGE_SIZE; i++)
      g_ptr_array_add (page, g_ptr_array_index (ids, i));
    found = fetch_videos (job, page, error);
    if (found == NULL)
      return NULL;
    for (guint i = 0; i < page->len; i++) {
      EchoTrack *track;

      if (g_hash_table_steal_extended (found, g_ptr_array_index (page, i), NULL,
              (gpointer *) & track)) {
        /* A single-id page gave the user's URL; a playlist item gets its own. */
        g_free (track->original_url);
        track->original_url = watch_url (track->source_id);
        g_ptr_array_add (tracks, track);
      }
    }
  }
  return echo_resolve_result_new_list (g_steal_pointer (&tracks), g_steal_pointer (&title),
      "YouTube playlist", error);
}

/* No key: oEmbed knows title, channel and thumbnail; private videos answer 401/403. */
static EchoResolveResult *
resolve_oembed (EchoResolveJob *job, GError **error)
{
  g_autofree char *target = g_uri_escape_string (job->match->canonical_url, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s?url=%s&format=json",
      job->resolver->youtube_oembed_base, target);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonObject) root = NULL;
  const char *title;
  EchoTrack *track;
  guint status;

  root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, NULL, NULL, NULL, &status,
      &local);
  if (root == NULL) {
    if (status == 400 || status == 401 || status == 403)
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "YouTube has no public video %s", job->match->id);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  title = echo_json_string (root, "title");
  if (title == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"title\" in the oEmbed reply");
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_YOUTUBE, job->match->id, title,
      job->original_url);
  track->artist = g_strdup (echo_json_string (root, "author_name"));
  track->artwork_url = g_strdup (echo_json_string (root, "thumbnail_url"));
  echo_track_add_metadata_string (track, "authorUrl", echo_json_string (root, "author_url"));
  echo_track_add_metadata_string (track, "via", "oembed");
  return echo_resolve_result_new_single (track);
}

EchoResolveResult *
echo_provider_youtube_resolve (EchoResolveJob *job, GError **error)
{
  gboolean has_key = job->resolver->youtube_api_key != NULL;

  if (job->match->kind == ECHO_URL_KIND_TRACK)
    return has_key ? resolve_video (job, error) : resolve_oembed (job, error);
  if (!has_key) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
        "YouTube playlists need a YouTube Data API key (youtube_api_key)");
    return NULL;
  }
  return resolve_playlist (job, error);
}
