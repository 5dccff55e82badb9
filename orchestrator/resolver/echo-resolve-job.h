/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-resolve-job.h: what one resolution's providers share (inside the resolver only):
 * the job (configuration, the worker thread's session, cancellation, the detected URL),
 * guarded JSON requests with provider errors mapped to ECHO_MUSIC_ERROR, defensive readers
 * of provider JSON (wrong type = absent), and the provider entry points.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "echo-guarded-fetch.h"
#include "echo-resolver.h"
#include "echo-url-detect.h"

G_BEGIN_DECLS

/* Provider replies larger than this are refused (PROVIDER). */
#define ECHO_RESOLVE_MAX_JSON_BYTES (4 * 1024 * 1024)

struct _EchoResolver
{
  GObject parent_instance;

  char *youtube_api_key;        /* NULL: not configured */
  char *youtube_api_base;       /* no trailing slash */
  char *youtube_oembed_base;
  char *spotify_client_id;
  char *spotify_client_secret;
  char *spotify_api_base;
  char *spotify_accounts_base;
  char *spotify_oembed_base;
  char *apple_music_token;
  char *apple_music_base;
  char *soundcloud_oembed_base;
  guint timeout_ms;
  guint max_playlist_tracks;
  EchoUrlGuard *api_guard;      /* providers' hosts and the base URLs' hosts */
  EchoUrlGuard *audio_guard;    /* http_audio_hosts */

  GMutex token_lock;            /* guards the two fields below (worker threads) */
  char *spotify_token;
  gint64 spotify_token_expires_us;      /* echo_clock_monotonic_us () */
};

typedef struct
{
  EchoResolver *resolver;
  SoupSession *session;
  GCancellable *cancellable;
  const EchoUrlMatch *match;
  const char *original_url;     /* as the user gave it (trimmed) */
  gint64 now_ms;                /* created_at of the tracks */
} EchoResolveJob;

/* A request to a provider's API under the API guard. 2xx with a JSON object: that object
 * (a new reference). Otherwise an error: 404/410 NOT_FOUND, any other status PROVIDER
 * (the provider's own error message quoted when it gave one); @status (may be NULL) gets
 * the HTTP status, 0 when there was none. */
JsonObject *echo_resolve_job_fetch_json (EchoResolveJob *job, const char *provider,
    const char *method, const char *url, const char *const *headers, GBytes *body,
    const char *body_type, guint *status, GError **error);

/* A track of the job's time, source_id/title copied. */
EchoTrack  *echo_resolve_job_new_track (EchoResolveJob *job, EchoTrackSource source,
    const char *source_id, const char *title, const char *original_url);

/* Takes @track. */
EchoResolveResult *echo_resolve_result_new_single (EchoTrack *track);

/* Takes @tracks (EchoTrack*, free func set) and @title; NOT_FOUND when @tracks is empty. */
EchoResolveResult *echo_resolve_result_new_list (GPtrArray *tracks, char *title,
    const char *provider, GError **error);

/* Readers that treat a member of the wrong type as absent. */
const char *echo_json_string (JsonObject *obj, const char *name);      /* non-empty only */
JsonObject *echo_json_object (JsonObject *obj, const char *name);
JsonArray  *echo_json_array (JsonObject *obj, const char *name);
/* An integer (or an integral number) in 0..G_MAXINT64/2: TRUE and @out set. */
gboolean    echo_json_count (JsonObject *obj, const char *name, gint64 *out);
gboolean    echo_json_bool (JsonObject *obj, const char *name, gboolean *out);
/* Element @i of @array when it is an object, else NULL. */
JsonObject *echo_json_array_object (JsonArray *array, guint i);

/* Adds @value to @metadata (a JSON object node, created on first use) under @name. */
void        echo_track_add_metadata_string (EchoTrack *track, const char *name,
    const char *value);
void        echo_track_add_metadata_int (EchoTrack *track, const char *name, gint64 value);
void        echo_track_add_metadata_bool (EchoTrack *track, const char *name,
    gboolean value);

/* A PROVIDER error: "@provider sent a malformed reply: @what". Returns NULL. */
gpointer    echo_resolve_malformed (GError **error, const char *provider, const char *what);

/* The providers: each resolves job->match (of its source). */
EchoResolveResult *echo_provider_youtube_resolve (EchoResolveJob *job, GError **error);
EchoResolveResult *echo_provider_spotify_resolve (EchoResolveJob *job, GError **error);
EchoResolveResult *echo_provider_apple_resolve (EchoResolveJob *job, GError **error);
EchoResolveResult *echo_provider_soundcloud_resolve (EchoResolveJob *job, GError **error);
EchoResolveResult *echo_provider_http_resolve (EchoResolveJob *job, GError **error);

/* ISO 8601 durations as YouTube gives them ("PT1H2M3S", "P1DT2S", "P0D"): FALSE when
 * malformed. Exposed for tests. */
gboolean    echo_iso8601_duration_to_ms (const char *text, gint64 *ms);

G_END_DECLS
