/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-provider-soundcloud.c: SoundCloud through oEmbed (no API key needed): title, author
 * and artwork; no duration. A set (/USER/sets/NAME) resolves to one item that the
 * SoundCloud widget plays as a whole (metadata "kind":"set"): listing a set's tracks
 * needs SoundCloud's API v2 and a client id, which echod does not use.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-music-error.h"

#define PROVIDER "SoundCloud"

/* oEmbed titles read "TRACK by AUTHOR": the track's own title without the suffix. */
static char *
strip_author (const char *title, const char *author)
{
  g_autofree char *suffix = NULL;

  if (author == NULL)
    return g_strdup (title);
  suffix = g_strconcat (" by ", author, NULL);
  if (g_str_has_suffix (title, suffix) && strlen (title) > strlen (suffix))
    return g_strndup (title, strlen (title) - strlen (suffix));
  return g_strdup (title);
}

EchoResolveResult *
echo_provider_soundcloud_resolve (EchoResolveJob *job, GError **error)
{
  g_autofree char *target = g_uri_escape_string (job->match->canonical_url, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s?format=json&url=%s",
      job->resolver->soundcloud_oembed_base, target);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonObject) root = NULL;
  g_autofree char *title = NULL;
  const char *author;
  EchoTrack *track;
  guint status;

  root = echo_resolve_job_fetch_json (job, PROVIDER, "GET", url, NULL, NULL, NULL, &status,
      &local);
  if (root == NULL) {
    /* 403: a private track. */
    if (status == 403)
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "SoundCloud has no public %s %s",
          job->match->kind == ECHO_URL_KIND_TRACK ? "track" : "set", job->match->id);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  if (echo_json_string (root, "title") == NULL)
    return echo_resolve_malformed (error, PROVIDER, "no \"title\" in the oEmbed reply");
  author = echo_json_string (root, "author_name");
  title = strip_author (echo_json_string (root, "title"), author);
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_SOUNDCLOUD, job->match->id,
      title, job->original_url);
  track->artist = g_strdup (author);
  track->artwork_url = g_strdup (echo_json_string (root, "thumbnail_url"));
  echo_track_add_metadata_string (track, "kind",
      job->match->kind == ECHO_URL_KIND_TRACK ? "track" : "set");
  echo_track_add_metadata_string (track, "authorUrl", echo_json_string (root, "author_url"));
  echo_track_add_metadata_string (track, "permalinkUrl", job->match->canonical_url);
  return echo_resolve_result_new_single (track);
}
