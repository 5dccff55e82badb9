/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-resolver.h: turns a URL a user pasted into tracks with metadata (seed 000's
 * POST /api/music/resolve). The URL is detected (echo-url-detect.h), then its provider is
 * asked: YouTube Data API v3 (oEmbed without a key), Spotify Web API with client
 * credentials (oEmbed without them), Apple Music's catalog API with a developer token,
 * SoundCloud oEmbed; a plain HTTP(S) URL is probed for an audio Content-Type. Every request
 * goes through the SSRF guard (echo-url-guard.h): provider requests to the providers' API
 * hosts and the configured base URLs' hosts, direct audio URLs to http_audio_hosts only.
 *
 * Errors (ECHO_MUSIC_ERROR), which the API maps to HTTP statuses:
 *   INVALID      not a URL at all
 *   UNSUPPORTED  a URL of no supported kind (also a provider URL whose id is malformed, or
 *                one naming a channel/artist/search), a provider the configuration cannot ask
 *                (Apple Music without a token, a YouTube playlist without a key, a Spotify
 *                album/playlist without credentials), a direct URL that is not audio
 *   FORBIDDEN    the SSRF guard refused: host not whitelisted, a non-public address, a
 *                redirect off the whitelist (a policy decision, hence 403, not 415)
 *   NOT_FOUND    the provider has no such track/album/playlist, or it has no playable item
 *   PROVIDER     timeout, 5xx, refused credentials, malformed or wrongly typed replies,
 *                too many redirects
 * and G_IO_ERROR_CANCELLED when the caller's cancellable fired.
 *
 * timeout_ms bounds one whole resolution (every request of it, token exchange and pages
 * included). It is real time: ECHO_TEST_TIME_SCALE does not shorten it.
 *
 * Thread-safety: the resolver is immutable after creation except for the Spotify token
 * cache (locked); each resolution runs its requests in a GTask worker thread with its own
 * SoupSession and completes on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "echo-track.h"

G_BEGIN_DECLS

#define ECHO_RESOLVER_DEFAULT_TIMEOUT_MS 8000
#define ECHO_RESOLVER_DEFAULT_MAX_PLAYLIST_TRACKS 100

/* Borrowed strings: echo_resolver_new() copies what it keeps. NULL or "" keys mean
 * "not configured". */
typedef struct
{
  const char *youtube_api_key;
  const char *youtube_api_base;         /* https://www.googleapis.com/youtube/v3 */
  const char *youtube_oembed_base;      /* https://www.youtube.com/oembed */
  const char *spotify_client_id;
  const char *spotify_client_secret;
  const char *spotify_api_base;         /* https://api.spotify.com/v1 */
  const char *spotify_accounts_base;    /* https://accounts.spotify.com */
  const char *spotify_oembed_base;      /* https://open.spotify.com/oembed */
  const char *apple_music_token;        /* developer token (a JWT made elsewhere) */
  const char *apple_music_base;         /* https://api.music.apple.com/v1 */
  const char *soundcloud_oembed_base;   /* https://soundcloud.com/oembed */
  const char *const *http_audio_hosts;  /* NULL-terminated whitelist for direct audio
                                         * URLs ("*.example.com" allowed); NULL: none */
  guint timeout_ms;                     /* 8000 */
  guint max_playlist_tracks;            /* 100 */
  gboolean allow_private;               /* tests only: loopback/private peers allowed */
} EchoResolverConfig;

/* The defaults above, no keys, no audio hosts, allow_private FALSE. */
void        echo_resolver_config_init (EchoResolverConfig *config);

typedef struct
{
  EchoTrack *track;             /* the track, or a playlist's first track (a copy) */
  GPtrArray *playlist;          /* of EchoTrack*, in order; empty for a single track */
  char *playlist_title;         /* album/playlist name; NULL for a single track */
} EchoResolveResult;

void        echo_resolve_result_free (EchoResolveResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoResolveResult, echo_resolve_result_free)

#define ECHO_TYPE_RESOLVER (echo_resolver_get_type ())
G_DECLARE_FINAL_TYPE (EchoResolver, echo_resolver, ECHO, RESOLVER, GObject)

/* FALSE (INVALID) for a base URL that is not an absolute http(s) URL. */
EchoResolver *echo_resolver_new (const EchoResolverConfig *config, GError **error);

void        echo_resolver_resolve_async (EchoResolver *resolver, const char *url,
    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
EchoResolveResult *echo_resolver_resolve_finish (EchoResolver *resolver, GAsyncResult *result,
    GError **error);

/* Forgets the cached Spotify token (the next Spotify request exchanges credentials). */
void        echo_resolver_forget_tokens (EchoResolver *resolver);

G_END_DECLS
