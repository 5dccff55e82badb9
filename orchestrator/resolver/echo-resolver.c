/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-resolver.c: the resolver object: configuration, whitelists, the Spotify token
 * cache's lock, and one resolution as a GTask (detection on the caller's thread, requests
 * in a worker thread, a watchdog on the caller's context bounding the whole of it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-music-error.h"

G_DEFINE_FINAL_TYPE (EchoResolver, echo_resolver, G_TYPE_OBJECT)

/* The providers' own API hosts: always on the API whitelist, whatever the base URLs. */
static const char *const provider_api_hosts[] = {
  "www.googleapis.com", "youtube.googleapis.com", "www.youtube.com",
  "api.spotify.com", "accounts.spotify.com", "open.spotify.com",
  "api.music.apple.com", "soundcloud.com",
};

void
echo_resolver_config_init (EchoResolverConfig *config)
{
  g_return_if_fail (config != NULL);

  memset (config, 0, sizeof *config);
  config->youtube_api_base = "https://www.googleapis.com/youtube/v3";
  config->youtube_oembed_base = "https://www.youtube.com/oembed";
  config->spotify_api_base = "https://api.spotify.com/v1";
  config->spotify_accounts_base = "https://accounts.spotify.com";
  config->spotify_oembed_base = "https://open.spotify.com/oembed";
  config->apple_music_base = "https://api.music.apple.com/v1";
  config->soundcloud_oembed_base = "https://soundcloud.com/oembed";
  config->timeout_ms = ECHO_RESOLVER_DEFAULT_TIMEOUT_MS;
  config->max_playlist_tracks = ECHO_RESOLVER_DEFAULT_MAX_PLAYLIST_TRACKS;
}

static void
echo_resolver_finalize (GObject *object)
{
  EchoResolver *self = ECHO_RESOLVER (object);

  g_free (self->youtube_api_key);
  g_free (self->youtube_api_base);
  g_free (self->youtube_oembed_base);
  g_free (self->spotify_client_id);
  g_free (self->spotify_client_secret);
  g_free (self->spotify_api_base);
  g_free (self->spotify_accounts_base);
  g_free (self->spotify_oembed_base);
  g_free (self->apple_music_token);
  g_free (self->apple_music_base);
  g_free (self->soundcloud_oembed_base);
  echo_url_guard_free (self->api_guard);
  echo_url_guard_free (self->audio_guard);
  g_free (self->spotify_token);
  g_mutex_clear (&self->token_lock);
  G_OBJECT_CLASS (echo_resolver_parent_class)->finalize (object);
}

static void
echo_resolver_class_init (EchoResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = echo_resolver_finalize;
}

static void
echo_resolver_init (EchoResolver *self)
{
  g_mutex_init (&self->token_lock);
}

static char *
optional (const char *text)
{
  return text != NULL && text[0] != '\0' ? g_strdup (text) : NULL;
}

/* An absolute http(s) base URL without its trailing slashes; @fallback when unset. */
static gboolean
copy_base (const char *name, const char *value, char **out, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  char *copy;
  gsize len;

  uri = value != NULL ? g_uri_parse (value, G_URI_FLAGS_ENCODED, NULL) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0' ||
      (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0 &&
          g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0) ||
      g_uri_get_query (uri) != NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "resolver: %s \"%s\" is not an absolute http(s) URL without a query", name,
        value != NULL ? value : "");
    return FALSE;
  }
  copy = g_strdup (value);
  len = strlen (copy);
  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  *out = copy;
  return TRUE;
}

EchoResolver *
echo_resolver_new (const EchoResolverConfig *config, GError **error)
{
  g_autoptr (EchoResolver) self = NULL;
  char **bases[7];

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (ECHO_TYPE_RESOLVER, NULL);
  if (!copy_base ("youtube_api_base", config->youtube_api_base, &self->youtube_api_base, error) ||
      !copy_base ("youtube_oembed_base", config->youtube_oembed_base,
          &self->youtube_oembed_base, error) ||
      !copy_base ("spotify_api_base", config->spotify_api_base, &self->spotify_api_base, error) ||
      !copy_base ("spotify_accounts_base", config->spotify_accounts_base,
          &self->spotify_accounts_base, error) ||
      !copy_base ("spotify_oembed_base", config->spotify_oembed_base,
          &self->spotify_oembed_base, error) ||
      !copy_base ("apple_music_base", config->apple_music_base, &self->apple_music_base, error) ||
      !copy_base ("soundcloud_oembed_base", config->soundcloud_oembed_base,
          &self->soundcloud_oembed_base, error))
    return NULL;
  self->youtube_api_key = optional (config->youtube_api_key);
  self->spotify_client_id = optional (config->spotify_client_id);
  self->spotify_client_secret = optional (config->spotify_client_secret);
  self->apple_music_token = optional (config->apple_music_token);
  self->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms :
      ECHO_RESOLVER_DEFAULT_TIMEOUT_MS;
  self->max_playlist_tracks = config->max_playlist_tracks > 0 ?
      config->max_playlist_tracks : ECHO_RESOLVER_DEFAULT_MAX_PLAYLIST_TRACKS;

  if (config->allow_private)
    g_warning ("resolver: allow_private is set: provider and audio requests may reach "
        "loopback and private addresses (meant for tests only)");
  self->api_guard = echo_url_guard_new (config->allow_private);
  for (guint i = 0; i < G_N_ELEMENTS (provider_api_hosts); i++)
    echo_url_guard_add_host (self->api_guard, provider_api_hosts[i]);
  bases[0] = &self->youtube_api_base;
  bases[1] = &self->youtube_oembed_base;
  bases[2] = &self->spotify_api_base;
  bases[3] = &self->spotify_accounts_base;
  bases[4] = &self->spotify_oembed_base;
  bases[5] = &self->apple_music_base;
  bases[6] = &self->soundcloud_oembed_base;
  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    echo_url_guard_add_host_of_url (self->api_guard, *bases[i]);

  self->audio_guard = echo_url_guard_new (config->allow_private);
  for (guint i = 0; config->http_audio_hosts != NULL && config->http_audio_hosts[i] != NULL; i++)
    echo_url_guard_add_host (self->audio_guard, config->http_audio_hosts[i]);
  return g_steal_pointer (&self);
}

void
echo_resolver_forget_tokens (EchoResolver *resolver)
{
  g_return_if_fail (ECHO_IS_RESOLVER (resolver));

  g_mutex_lock (&resolver->token_lock);
  g_clear_pointer (&resolver->spotify_token, g_free);
  g_mutex_unlock (&resolver->token_lock);
}

/* One resolution. Owned by the caller-facing task; the worker reads url/match only. */
typedef struct
{
  char *url;
  EchoUrlMatch match;
  GCancellable *cancellable;    /* the worker's: the caller's cancellable or the watchdog */
  gulong caller_handler;
  GCancellable *caller_cancellable;
  GSource *watchdog;
  gboolean timed_out;           /* caller's thread only */
} Resolution;

static void
resolution_free (Resolution *res)
{
  if (res->watchdog != NULL) {
    g_source_destroy (res->watchdog);
    g_source_unref (res->watchdog);
  }
  if (res->caller_cancellable != NULL) {
    g_cancellable_disconnect (res->caller_cancellable, res->caller_handler);
    g_object_unref (res->caller_cancellable);
  }
  g_clear_object (&res->cancellable);
  echo_url_match_clear (&res->match);
  g_free (res->url);
  g_free (res);
}

static void
resolve_in_thread (GTask *task, gpointer source_object, gpointer task_data,
    GCancellable *cancellable)
{
  EchoResolver *resolver = source_object;
  Resolution *res = task_data;
  g_autoptr (SoupSession) session = echo_guarded_session_new (resolver->timeout_ms);
  EchoResolveJob job = {
    .resolver = resolver, .session = session, .cancellable = cancellable,
    .match = &res->match, .original_url = res->url, .now_ms = echo_clock_now_ms (),
  };
  EchoResolveResult *result = NULL;
  GError *error = NULL;

  switch (res->match.source) {
    case ECHO_TRACK_SOURCE_YOUTUBE:
      result = echo_provider_youtube_resolve (&job, &error);
      break;
    case ECHO_TRACK_SOURCE_SPOTIFY:
      result = echo_provider_spotify_resolve (&job, &error);
      break;
    case ECHO_TRACK_SOURCE_APPLE_MUSIC:
      result = echo_provider_apple_resolve (&job, &error);
      break;
    case ECHO_TRACK_SOURCE_SOUNDCLOUD:
      result = echo_provider_soundcloud_resolve (&job, &error);
      break;
    case ECHO_TRACK_SOURCE_HTTP:
      result = echo_provider_http_resolve (&job, &error);
      break;
    case ECHO_TRACK_SOURCE_UPLOADED:
      g_set_error (&error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
          "uploads are not resolved from URLs");
      break;
  }
  if (result != NULL)
    g_task_return_pointer (task, result, (GDestroyNotify) echo_resolve_result_free);
  else
    g_task_return_error (task, error);
}

static gboolean
on_watchdog (gpointer user_data)
{
  Resolution *res = user_data;

  res->timed_out = TRUE;
  g_cancellable_cancel (res->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *caller, gpointer worker_cancellable)
{
  g_cancellable_cancel (worker_cancellable);
}

/* The worker is done: its result becomes the caller's, a watchdog cancellation a
 * PROVIDER timeout. */
static void
on_worker_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) outer = user_data;
  Resolution *res = g_task_get_task_data (outer);
  EchoResolver *resolver = ECHO_RESOLVER (source);
  GError *error = NULL;
  EchoResolveResult *value;

  g_source_destroy (res->watchdog);
  value = g_task_propagate_pointer (G_TASK (result), &error);
  if (value != NULL) {
    g_task_return_pointer (outer, value, (GDestroyNotify) echo_resolve_result_free);
    return;
  }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && res->timed_out &&
      !g_cancellable_is_cancelled (res->caller_cancellable)) {
    g_clear_error (&error);
    g_set_error (&error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "%s did not answer within %u ms",
        echo_track_source_to_string (res->match.source), resolver->timeout_ms);
  }
  g_task_return_error (outer, error);
}

void
echo_resolver_resolve_async (EchoResolver *resolver, const char *url,
    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) outer = NULL;
  g_autoptr (GTask) worker = NULL;
  Resolution *res;

  g_return_if_fail (ECHO_IS_RESOLVER (resolver));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  outer = g_task_new (resolver, cancellable, callback, user_data);
  g_task_set_source_tag (outer, echo_resolver_resolve_async);
  g_task_set_check_cancellable (outer, FALSE);

  res = g_new0 (Resolution, 1);
  g_task_set_task_data (outer, res, (GDestroyNotify) resolution_free);
  if (url == NULL || !echo_url_detect (url, &res->match)) {
    g_autoptr (GUri) uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;

    if (uri == NULL)
      g_task_return_new_error (outer, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
          "not a URL of a track, album or playlist");
    else
      g_task_return_new_error (outer, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED,
          "no supported provider or URL form for this URL");
    return;
  }
  res->url = g_strstrip (g_strdup (url));
  res->cancellable = g_cancellable_new ();
  if (cancellable != NULL) {
    res->caller_cancellable = g_object_ref (cancellable);
    res->caller_handler = g_cancellable_connect (cancellable,
        G_CALLBACK (on_caller_cancelled), res->cancellable, NULL);
  }
  res->watchdog = g_timeout_source_new (resolver->timeout_ms);
  g_source_set_callback (res->watchdog, on_watchdog, res, NULL);
  g_source_attach (res->watchdog, g_main_context_get_thread_default ());

  worker = g_task_new (resolver, res->cancellable, on_worker_done, g_object_ref (outer));
  g_task_set_task_data (worker, res, NULL);
  g_task_set_check_cancellable (worker, FALSE);
  g_task_run_in_thread (worker, resolve_in_thread);
}

EchoResolveResult *
echo_resolver_resolve_finish (EchoResolver *resolver, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, resolver), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
      echo_resolver_resolve_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
