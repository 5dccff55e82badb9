/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-provider-http.c: a direct audio URL (played server-side later). Only hosts on
 * http_audio_hosts are asked. A HEAD (a one-byte ranged GET when the server refuses HEAD)
 * must answer 2xx with an audio Content-Type (audio/..., or an Ogg container); the track is
 * titled after the URL's file name. Duration stays unknown until the pipeline probes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-music-error.h"

static const char *const container_types[] = {
  "application/ogg", "application/x-ogg", "video/ogg", "application/x-flac",
};

static gboolean
is_audio_type (const char *type)
{
  if (type == NULL)
    return FALSE;
  if (g_str_has_prefix (type, "audio/") && type[6] != '\0')
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (container_types); i++)
    if (strcmp (type, container_types[i]) == 0)
      return TRUE;
  return FALSE;
}

/* The last path segment, decoded, without a short extension; the host when there is no
 * usable segment. */
static char *
title_from_url (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  const char *path, *slash;
  g_autofree char *decoded = NULL;
  char *dot;

  if (uri == NULL)
    return g_strdup (url);
  path = g_uri_get_path (uri);
  slash = strrchr (path, '/');
  decoded = g_uri_unescape_string (slash != NULL ? slash + 1 : path, "/");
  if (decoded != NULL) {
    dot = strrchr (decoded, '.');
    if (dot != NULL && dot != decoded && strlen (dot + 1) >= 2 && strlen (dot + 1) <= 5)
      *dot = '\0';
  }
  if (decoded == NULL || decoded[0] == '\0' || !g_utf8_validate (decoded, -1, NULL))
    return g_strdup (g_uri_get_host (uri));
  for (char *p = decoded; *p != '\0'; p++)
    if ((guchar) * p < 0x20 || *p == 0x7f)
      *p = ' ';
  return g_steal_pointer (&decoded);
}

static EchoFetchReply *
probe (EchoResolveJob *job, const char *method, const char *const *headers, GError **error)
{
  EchoFetchRequest request = {
    .method = method, .url = job->match->id, .headers = headers, .max_body = 0,
  };

  return echo_guarded_fetch (job->session, job->resolver->audio_guard, &request,
      job->cancellable, error);
}

EchoResolveResult *
echo_provider_http_resolve (EchoResolveJob *job, GError **error)
{
  static const char *const range[] = { "Range", "bytes=0-0", NULL };
  g_autoptr (EchoFetchReply) reply = NULL;
  g_autofree char *title = NULL;
  EchoTrack *track;

  reply = probe (job, "HEAD", NULL, error);
  if (reply != NULL && (reply->status == 405 || reply->status == 501)) {
    g_clear_pointer (&reply, echo_fetch_reply_free);
    reply = probe (job, "GET", range, error);
  }
  if (reply == NULL)
    return NULL;
  if (reply->status == 404 || reply->status == 410) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "%s: the server has no such file (HTTP %u)", job->match->id, reply->status);
    return NULL;
  }
  if (reply->status < 200 || reply->status >= 300) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "%s: the server answered HTTP %u", job->match->id, reply->status);
    return NULL;
  }
  if (!is_audio_type (reply->content_type)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
        "%s is not audio (Content-Type %s)", job->match->id,
        reply->content_type != NULL ? reply->content_type : "missing");
    return NULL;
  }
  title = title_from_url (job->match->id);
  track = echo_resolve_job_new_track (job, ECHO_TRACK_SOURCE_HTTP, job->match->id, title,
      job->original_url);
  echo_track_add_metadata_string (track, "contentType", reply->content_type);
  /* A ranged GET's length is the range's, not the file's. */
  if (reply->content_length >= 0 && reply->status == 200)
    echo_track_add_metadata_int (track, "contentLength", reply->content_length);
  if (strcmp (reply->final_url, job->match->id) != 0)
    echo_track_add_metadata_string (track, "finalUrl", reply->final_url);
  return echo_resolve_result_new_single (track);
}
