/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-resolver: every provider against the replay server (recorded replies from
 * fixtures/): tracks,
 * playlists and albums, the no-key fallbacks, what the resolver asked (query keys, tokens,
 * Authorization), NOT_FOUND / PROVIDER / UNSUPPORTED / FORBIDDEN cases, redirects checked
 * by hand, a private address refused, timeouts and cancellation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echo-music-error.h"
#include "echo-resolve-job.h"     /* echo_iso8601_duration_to_ms */
#include "echo-resolver.h"
#include "provider-replay.h"

#define RICK_URL "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
#define YT_PL "PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI"
#define SP_TRACK "4cOdK2wGLETKBW3PvgPWqT"
#define SP_ALBUM "6N9PS4QXF1D0OWPk0Sxtb4"
#define SP_PLAYLIST "37i9dQZF1DXcBWIGoYBM5M"
#define APPLE_PL "pl.f4d106fed2bd41149aaacabb233eb5eb"

typedef struct
{
  gboolean youtube_key;
  gboolean spotify_credentials;
  gboolean apple_token;
  gboolean allow_private;
  guint timeout_ms;             /* 0: the default */
  guint max_tracks;             /* 0: the default */
} Options;

static const Options all_keys = { TRUE, TRUE, TRUE, TRUE, 0, 0 };
static const Options no_keys = { FALSE, FALSE, FALSE, TRUE, 0, 0 };

static EchoResolver *
make_resolver (ProviderReplay *replay, const Options *options)
{
  const char *origin = provider_replay_origin (replay);
  g_autofree char *yt = g_strconcat (origin, "/youtube/v3", NULL);
  g_autofree char *yt_oembed = g_strconcat (origin, "/youtube/oembed", NULL);
  g_autofree char *sp = g_strconcat (origin, "/spotify/v1/", NULL);
  g_autofree char *sp_accounts = g_strconcat (origin, "/spotify/accounts", NULL);
  g_autofree char *sp_oembed = g_strconcat (origin, "/spotify/oembed", NULL);
  g_autofree char *apple = g_strconcat (origin, "/apple/v1", NULL);
  /* "localhost" here puts a second name for the replay server on the API whitelist: the
   * cross-origin redirect test needs one. */
  g_autofree char *sc = g_strdup_printf ("http://localhost:%u/soundcloud/oembed",
      provider_replay_port (replay));
  const char *audio_hosts[] = { "127.0.0.1", NULL };
  EchoResolverConfig config;
  g_autoptr (GError) error = NULL;
  EchoResolver *resolver;

  echo_resolver_config_init (&config);
  config.youtube_api_key = options->youtube_key ? "yt-key/+=" : NULL;
  config.youtube_api_base = yt;
  config.youtube_oembed_base = yt_oembed;
  config.spotify_client_id = options->spotify_credentials ? "client-id" : NULL;
  config.spotify_client_secret = options->spotify_credentials ? "client-secret" : NULL;
  config.spotify_api_base = sp;
  config.spotify_accounts_base = sp_accounts;
  config.spotify_oembed_base = sp_oembed;
  config.apple_music_token = options->apple_token ? "apple-dev-token" : NULL;
  config.apple_music_base = apple;
  config.soundcloud_oembed_base = sc;
  config.http_audio_hosts = audio_hosts;
  config.allow_private = options->allow_private;
  if (options->timeout_ms > 0)
    config.timeout_ms = options->timeout_ms;
  if (options->max_tracks > 0)
    config.max_playlist_tracks = options->max_tracks;
  resolver = echo_resolver_new (&config, &error);
  g_assert_no_error (error);
  return resolver;
}

typedef struct
{
  EchoResolveResult *result;
  GError *error;
  gboolean done;
} Wait;

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Wait *wait = user_data;

  wait->result = echo_resolver_resolve_finish (ECHO_RESOLVER (source), res, &wait->error);
  wait->done = TRUE;
}

static EchoResolveResult *
resolve_with (EchoResolver *resolver, const char *url, GCancellable *cancellable,
    GError **error)
{
  Wait wait = { NULL, NULL, FALSE };

  echo_resolver_resolve_async (resolver, url, cancellable, on_resolved, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true ((wait.result == NULL) != (wait.error == NULL));
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.result;
}

static EchoResolveResult *
resolve (EchoResolver *resolver, const char *url, GError **error)
{
  return resolve_with (resolver, url, NULL, error);
}

static void
assert_fails (EchoResolver *resolver, const char *url, EchoMusicError code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = resolve (resolver, url, &error);

  g_test_message ("%s -> %s", url, error != NULL ? error->message : "(success)");
  g_assert_null (result);
  g_assert_error (error, ECHO_MUSIC_ERROR, (int) code);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static const char *
metadata_string (const EchoTrack *track, const char *name)
{
  g_assert_nonnull (track->metadata);
  return json_object_get_string_member_with_default (json_node_get_object (track->metadata),
      name, NULL);
}

static EchoTrack *
playlist_track (EchoResolveResult *result, guint i)
{
  g_assert_cmpuint (i, <, result->playlist->len);
  return g_ptr_array_index (result->playlist, i);
}

/* --- YouTube --- */

static void
test_youtube_video (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  const ReplayRequest *req;

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", "id=dQw4w9WgXcQ", 200,
      "youtube-videos.json");
  result = resolve (resolver, "https://youtu.be/dQw4w9WgXcQ?t=5", &error);
  g_assert_no_error (error);
  g_assert_cmpint (result->track->source, ==, ECHO_TRACK_SOURCE_YOUTUBE);
  g_assert_cmpstr (result->track->source_id, ==, "dQw4w9WgXcQ");
  g_assert_cmpstr (result->track->title, ==,
      "Rick Astley - Never Gonna Give You Up (Official Music Video)");
  g_assert_cmpstr (result->track->artist, ==, "Rick Astley");
  g_assert_cmpint (result->track->duration_ms, ==, 213000);
  g_assert_cmpstr (result->track->artwork_url, ==,
      "https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg");
  g_assert_cmpstr (result->track->original_url, ==, "https://youtu.be/dQw4w9WgXcQ?t=5");
  g_assert_cmpstr (metadata_string (result->track, "channelId"), ==, "UCuAXFkgsw1L7xaCfnd5JJOw");
  g_assert_cmpint (result->track->created_at_ms, >, 0);
  g_assert_cmpuint (result->playlist->len, ==, 0);
  g_assert_null (result->playlist_title);

  req = provider_replay_last (replay, "/youtube/v3/videos");
  g_assert_nonnull (req);
  g_assert_cmpstr (g_hash_table_lookup (req->query, "part"), ==, "snippet,contentDetails");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "id"), ==, "dQw4w9WgXcQ");
  /* The key is escaped in the URL and arrives intact. */
  g_assert_cmpstr (g_hash_table_lookup (req->query, "key"), ==, "yt-key/+=");
  g_assert_null (req->authorization);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 1);
}

static void
test_youtube_playlist (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  const ReplayRequest *req;
  const char *expected[] = { "kJQP7kiw5Fk", "9bZkp7q19f0", "JGwWNGJdvx8" };

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlists", "id=" YT_PL, 200,
      "youtube-playlists.json");
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlistItems", "playlistId=" YT_PL,
      200, "youtube-playlist-items-1.json");
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlistItems",
      "playlistId=" YT_PL "&pageToken=EAAaBlBUOkNBTQ", 200, "youtube-playlist-items-2.json");
  /* The deleted video is asked about and simply not answered, as YouTube does. */
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos",
      "id=kJQP7kiw5Fk,Zz0deletedZ,9bZkp7q19f0,JGwWNGJdvx8", 200, "youtube-videos-playlist.json");

  result = resolve (resolver, "https://www.youtube.com/playlist?list=" YT_PL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->playlist_title, ==, "Top 100 Music Videos");
  g_assert_cmpuint (result->playlist->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_autofree char *url = g_strconcat ("https://www.youtube.com/watch?v=", expected[i], NULL);

    g_assert_cmpstr (playlist_track (result, i)->source_id, ==, expected[i]);
    g_assert_cmpstr (playlist_track (result, i)->original_url, ==, url);
  }
  g_assert_cmpint (playlist_track (result, 2)->duration_ms, ==, 3723000);
  /* No maxres thumbnail: the next best one. */
  g_assert_cmpstr (playlist_track (result, 1)->artwork_url, ==,
      "https://i.ytimg.com/vi/9bZkp7q19f0/sddefault.jpg");
  g_assert_cmpstr (result->track->source_id, ==, "kJQP7kiw5Fk");
  g_assert_true (result->track != playlist_track (result, 0));

  g_assert_cmpuint (provider_replay_count (replay, "/youtube/v3/playlistItems"), ==, 2);
  req = provider_replay_last (replay, "/youtube/v3/playlistItems");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "pageToken"), ==, "EAAaBlBUOkNBTQ");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "maxResults"), ==, "50");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "key"), ==, "yt-key/+=");
  g_assert_cmpuint (provider_replay_count (replay, "/youtube/v3/videos"), ==, 1);
}

static void
test_youtube_playlist_cap (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  Options capped = all_keys;
  g_autoptr (EchoResolver) resolver = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;

  capped.max_tracks = 2;
  resolver = make_resolver (replay, &capped);
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlists", NULL, 200,
      "youtube-playlists.json");
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlistItems", NULL, 200,
      "youtube-playlist-items-1.json");
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", NULL, 200,
      "youtube-videos-playlist.json");
  result = resolve (resolver, "https://www.youtube.com/playlist?list=" YT_PL, &error);
  g_assert_no_error (error);
  /* Two ids asked for (one of them deleted), the second page never fetched. */
  g_assert_cmpuint (provider_replay_count (replay, "/youtube/v3/playlistItems"), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (provider_replay_last (replay, "/youtube/v3/videos")->query,
          "id"), ==, "kJQP7kiw5Fk,Zz0deletedZ");
  g_assert_cmpuint (result->playlist->len, ==, 1);
}

static void
test_youtube_oembed (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  const ReplayRequest *req;

  provider_replay_add_fixture (replay, "GET", "/youtube/oembed", NULL, 200, "youtube-oembed.json");
  result = resolve (resolver, "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->track->title, ==,
      "Rick Astley - Never Gonna Give You Up (Official Music Video)");
  g_assert_cmpstr (result->track->artist, ==, "Rick Astley");
  g_assert_cmpint (result->track->duration_ms, ==, 0);
  g_assert_cmpstr (result->track->artwork_url, ==,
      "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg");
  g_assert_cmpstr (metadata_string (result->track, "via"), ==, "oembed");
  req = provider_replay_last (replay, "/youtube/oembed");
  /* oEmbed is asked about the canonical URL, not whatever the user pasted. */
  g_assert_cmpstr (g_hash_table_lookup (req->query, "url"), ==, RICK_URL);
  g_assert_cmpstr (g_hash_table_lookup (req->query, "format"), ==, "json");
  g_assert_cmpuint (provider_replay_count (replay, "/youtube/v3/videos"), ==, 0);

  /* Private videos answer 401 there; playlists need the key. */
  provider_replay_add_body (replay, "GET", "/youtube/oembed", NULL, 401, "text/plain",
      "Unauthorized", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_forget_requests (replay);
  assert_fails (resolver, "https://www.youtube.com/playlist?list=" YT_PL,
      ECHO_MUSIC_ERROR_UNSUPPORTED);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

static void
test_youtube_failures (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", NULL, 200,
      "youtube-videos-empty.json");
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_NOT_FOUND);

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/playlists", NULL, 200,
      "youtube-playlists-empty.json");
  assert_fails (resolver, "https://www.youtube.com/playlist?list=" YT_PL,
      ECHO_MUSIC_ERROR_NOT_FOUND);

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", NULL, 200,
      "youtube-videos-wrong-type.json");
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);

  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", NULL, 403,
      "youtube-error-quota.json");
  result = resolve (resolver, RICK_URL, &error);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER);
  g_assert_nonnull (strstr (error->message, "exceeded your"));
  g_assert_nonnull (strstr (error->message, "403"));

  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 500, "text/html",
      "<h1>Internal error</h1>", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 200, "application/json",
      "{\"items\": [{\"id\": \"dQw4w9WgXcQ\", \"snippet\": {\"title\"", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 200, "application/json",
      "[1, 2, 3]", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 200, "application/json",
      "{\"items\": {}}", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 200, "application/json",
      "{\"items\": [{\"id\": \"dQw4w9WgXcQ\", \"snippet\": {\"title\": \"t\"},"
      " \"contentDetails\": {\"duration\": \"3 minutes\"}}]}", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", NULL, 200, "application/json",
      "{\"items\": [\"dQw4w9WgXcQ\"]}", FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_PROVIDER);
}

/* --- Spotify --- */

static void
add_spotify_token (ProviderReplay *replay)
{
  provider_replay_add_fixture (replay, "POST", "/spotify/accounts/api/token", NULL, 200,
      "spotify-token.json");
}

static void
test_spotify_track (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  g_autoptr (EchoResolveResult) again = NULL;
  g_autofree char *basic = g_base64_encode ((const guchar *) "client-id:client-secret", 23);
  g_autofree char *expected_basic = g_strconcat ("Basic ", basic, NULL);
  const ReplayRequest *req;

  add_spotify_token (replay);
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/tracks/" SP_TRACK, NULL, 200,
      "spotify-track.json");
  result = resolve (resolver, "https://open.spotify.com/intl-de/track/" SP_TRACK "?si=abc",
      &error);
  g_assert_no_error (error);
  g_assert_cmpint (result->track->source, ==, ECHO_TRACK_SOURCE_SPOTIFY);
  g_assert_cmpstr (result->track->source_id, ==, SP_TRACK);
  g_assert_cmpstr (result->track->title, ==, "Never Gonna Give You Up");
  g_assert_cmpstr (result->track->artist, ==, "Rick Astley");
  g_assert_cmpstr (result->track->album, ==, "Whenever You Need Somebody");
  g_assert_cmpint (result->track->duration_ms, ==, 213573);
  g_assert_cmpstr (result->track->artwork_url, ==,
      "https://i.scdn.co/image/ab67616d0000b27315ebbedaacef61af244262a8");
  g_assert_cmpstr (metadata_string (result->track, "isrc"), ==, "GBARL9300135");
  g_assert_cmpstr (metadata_string (result->track, "uri"), ==, "spotify:track:" SP_TRACK);

  req = provider_replay_last (replay, "/spotify/accounts/api/token");
  g_assert_cmpstr (req->method, ==, "POST");
  g_assert_cmpstr (req->authorization, ==, expected_basic);
  g_assert_cmpstr (req->body, ==, "grant_type=client_credentials");
  req = provider_replay_last (replay, "/spotify/v1/tracks/" SP_TRACK);
  g_assert_cmpstr (req->authorization, ==, "Bearer BQDxA1b2C3test-token");

  /* The token is cached: a second resolution exchanges nothing. */
  again = resolve (resolver, "spotify:track:" SP_TRACK, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/accounts/api/token"), ==, 1);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/v1/tracks/" SP_TRACK), ==, 2);
}

static void
test_spotify_token_refresh (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;

  add_spotify_token (replay);
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/tracks/" SP_TRACK, NULL, 200,
      "spotify-track.json");
  provider_replay_add_body (replay, "GET", "/spotify/v1/tracks/" SP_TRACK, NULL, 401,
      "application/json", "{\"error\":{\"status\":401,\"message\":\"The access token expired\"}}",
      TRUE);
  /* 401 once: the credentials are exchanged again and the request retried. */
  result = resolve (resolver, "spotify:track:" SP_TRACK, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/accounts/api/token"), ==, 2);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/v1/tracks/" SP_TRACK), ==, 2);

  /* 401 for good: one retry only, then PROVIDER. */
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/tracks/" SP_TRACK, NULL, 401,
      "spotify-unauthorized.json");
  provider_replay_forget_requests (replay);
  assert_fails (resolver, "spotify:track:" SP_TRACK, ECHO_MUSIC_ERROR_PROVIDER);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/v1/tracks/" SP_TRACK), ==, 2);

  /* Credentials refused: PROVIDER, whatever the status. */
  echo_resolver_forget_tokens (resolver);
  provider_replay_add_fixture (replay, "POST", "/spotify/accounts/api/token", NULL, 400,
      "spotify-token-invalid.json");
  {
    g_autoptr (GError) refused = NULL;
    g_autoptr (EchoResolveResult) none = resolve (resolver, "spotify:track:" SP_TRACK, &refused);

    g_assert_null (none);
    g_assert_error (refused, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER);
    g_assert_nonnull (strstr (refused->message, "Invalid client secret"));
  }
  provider_replay_add_body (replay, "POST", "/spotify/accounts/api/token", NULL, 200,
      "application/json", "{\"access_token\": 12, \"expires_in\": \"soon\"}", FALSE);
  assert_fails (resolver, "spotify:track:" SP_TRACK, ECHO_MUSIC_ERROR_PROVIDER);
}

static void
test_spotify_album_and_playlist (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) album = NULL;
  g_autoptr (EchoResolveResult) playlist = NULL;
  EchoTrack *track;

  add_spotify_token (replay);
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/albums/" SP_ALBUM, NULL, 200,
      "spotify-album.json");
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/playlists/" SP_PLAYLIST, NULL, 200,
      "spotify-playlist.json");

  album = resolve (resolver, "https://open.spotify.com/album/" SP_ALBUM, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (album->playlist_title, ==, "Whenever You Need Somebody");
  g_assert_cmpuint (album->playlist->len, ==, 3);
  track = playlist_track (album, 2);
  g_assert_cmpstr (track->title, ==, "Together Forever");
  /* Album tracks are simplified: album name and artwork come from the album. */
  g_assert_cmpstr (track->album, ==, "Whenever You Need Somebody");
  g_assert_cmpstr (track->artwork_url, ==,
      "https://i.scdn.co/image/ab67616d0000b27315ebbedaacef61af244262a8");
  g_assert_cmpstr (track->original_url, ==,
      "https://open.spotify.com/track/3Xdpy8zOp0GuZJJwQOIE8u");

  /* A removed track (null), a local file and a podcast episode are left out. */
  playlist = resolve (resolver, "spotify:playlist:" SP_PLAYLIST, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (playlist->playlist_title, ==, "Today's Top Hits");
  g_assert_cmpuint (playlist->playlist->len, ==, 2);
  g_assert_cmpstr (playlist_track (playlist, 0)->artist, ==, "Luis Fonsi, Daddy Yankee");
  g_assert_cmpstr (playlist_track (playlist, 1)->title, ==, "Shape of You");
  g_assert_cmpstr (playlist->track->title, ==, "Despacito");
  /* "total" counts the 5 items: everything was on the first page, no second request. */
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/v1/playlists/" SP_PLAYLIST "/tracks"),
      ==, 0);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/accounts/api/token"), ==, 1);

  provider_replay_add_fixture (replay, "GET", "/spotify/v1/tracks/" SP_TRACK, NULL, 404,
      "spotify-not-found.json");
  assert_fails (resolver, "spotify:track:" SP_TRACK, ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_body (replay, "GET", "/spotify/v1/albums/" SP_ALBUM, NULL, 503, NULL, NULL,
      FALSE);
  assert_fails (resolver, "spotify:album:" SP_ALBUM, ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/spotify/v1/albums/" SP_ALBUM, NULL, 200,
      "application/json", "{\"name\": \"x\", \"tracks\": {\"items\": [], \"total\": 0}}", FALSE);
  assert_fails (resolver, "spotify:album:" SP_ALBUM, ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_body (replay, "GET", "/spotify/v1/albums/" SP_ALBUM, NULL, 200,
      "application/json", "{\"name\": \"x\", \"tracks\": {\"items\": [{\"id\": \""
      SP_TRACK "\", \"name\": \"t\", \"duration_ms\": -5}], \"total\": 1}}", FALSE);
  assert_fails (resolver, "spotify:album:" SP_ALBUM, ECHO_MUSIC_ERROR_PROVIDER);
}

static void
test_spotify_pages (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  const ReplayRequest *req;

  add_spotify_token (replay);
  provider_replay_add_body (replay, "GET", "/spotify/v1/albums/" SP_ALBUM, NULL, 200,
      "application/json", "{\"name\": \"Long\", \"images\": [], \"tracks\": {\"total\": 2,"
      " \"items\": [{\"id\": \"" SP_TRACK "\", \"name\": \"one\", \"duration_ms\": 1000}]}}",
      FALSE);
  provider_replay_add_body (replay, "GET", "/spotify/v1/albums/" SP_ALBUM "/tracks", "offset=1",
      200, "application/json", "{\"total\": 2, \"items\": [{\"id\": \"6iQhBnZ0vxMbvPcLGWHDLy\","
      " \"name\": \"two\", \"duration_ms\": 2000.0}]}", FALSE);
  result = resolve (resolver, "spotify:album:" SP_ALBUM, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->playlist->len, ==, 2);
  g_assert_cmpstr (playlist_track (result, 1)->title, ==, "two");
  g_assert_cmpint (playlist_track (result, 1)->duration_ms, ==, 2000);
  req = provider_replay_last (replay, "/spotify/v1/albums/" SP_ALBUM "/tracks");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "limit"), ==, "50");
}

static void
test_spotify_oembed (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;

  provider_replay_add_fixture (replay, "GET", "/spotify/oembed",
      "url=https://open.spotify.com/track/" SP_TRACK, 200, "spotify-oembed.json");
  result = resolve (resolver, "https://open.spotify.com/track/" SP_TRACK "?si=x", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->track->title, ==, "Never Gonna Give You Up");
  g_assert_null (result->track->artist);
  g_assert_cmpint (result->track->duration_ms, ==, 0);
  g_assert_nonnull (result->track->artwork_url);
  g_assert_cmpuint (provider_replay_count (replay, "/spotify/accounts/api/token"), ==, 0);
  assert_fails (resolver, "spotify:album:" SP_ALBUM, ECHO_MUSIC_ERROR_UNSUPPORTED);
  assert_fails (resolver, "spotify:playlist:" SP_PLAYLIST, ECHO_MUSIC_ERROR_UNSUPPORTED);
  provider_replay_add_body (replay, "GET", "/spotify/oembed", NULL, 404, "text/plain", "Not Found",
      FALSE);
  assert_fails (resolver, "spotify:track:" SP_TRACK, ECHO_MUSIC_ERROR_NOT_FOUND);
}

/* --- Apple Music --- */

static void
test_apple_music (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) song = NULL;
  g_autoptr (EchoResolveResult) album = NULL;
  g_autoptr (EchoResolveResult) playlist = NULL;
  const ReplayRequest *req;

  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/songs/1440857795", NULL, 200,
      "apple-song.json");
  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/albums/1440857781", NULL, 200,
      "apple-album.json");
  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/playlists/" APPLE_PL, NULL, 200,
      "apple-playlist.json");
  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/playlists/" APPLE_PL "/tracks",
      "offset=2", 200, "apple-playlist-tracks-2.json");

  song = resolve (resolver,
      "https://music.apple.com/us/album/whenever-you-need-somebody/1440857781?i=1440857795",
      &error);
  g_assert_no_error (error);
  g_assert_cmpint (song->track->source, ==, ECHO_TRACK_SOURCE_APPLE_MUSIC);
  g_assert_cmpstr (song->track->source_id, ==, "1440857795");
  g_assert_cmpstr (song->track->title, ==, "Never Gonna Give You Up");
  g_assert_cmpstr (song->track->artist, ==, "Rick Astley");
  g_assert_cmpstr (song->track->album, ==, "Whenever You Need Somebody");
  g_assert_cmpint (song->track->duration_ms, ==, 213573);
  g_assert_cmpstr (song->track->artwork_url, ==,
      "https://is1-ssl.mzstatic.com/image/thumb/Music/v4/abc/source/600x600bb.jpg");
  g_assert_cmpstr (metadata_string (song->track, "storefront"), ==, "us");
  req = provider_replay_last (replay, "/apple/v1/catalog/us/songs/1440857795");
  g_assert_cmpstr (req->authorization, ==, "Bearer apple-dev-token");

  /* The music video in the album is not a song. */
  album = resolve (resolver, "https://music.apple.com/us/album/x/1440857781", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (album->playlist_title, ==, "Whenever You Need Somebody");
  g_assert_cmpuint (album->playlist->len, ==, 2);
  g_assert_cmpstr (playlist_track (album, 1)->source_id, ==, "1440857800");
  g_assert_cmpstr (playlist_track (album, 1)->original_url, ==,
      "https://music.apple.com/us/song/1440857800");

  /* "next" leads to a second page at offset 2. */
  playlist = resolve (resolver, "https://music.apple.com/us/playlist/todays-hits/" APPLE_PL,
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (playlist->playlist_title, ==, "Today's Hits");
  g_assert_cmpuint (playlist->playlist->len, ==, 3);
  g_assert_cmpstr (playlist_track (playlist, 2)->title, ==, "As It Was");
  req = provider_replay_last (replay, "/apple/v1/catalog/us/playlists/" APPLE_PL "/tracks");
  g_assert_cmpstr (req->authorization, ==, "Bearer apple-dev-token");

  assert_fails (resolver, "https://music.apple.com/gb/song/x/1440857795",
      ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/songs/1440857795", NULL, 404,
      "apple-not-found.json");
  assert_fails (resolver, "https://music.apple.com/us/song/x/1440857795",
      ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_fixture (replay, "GET", "/apple/v1/catalog/us/songs/1440857795", NULL, 401,
      "apple-unauthorized.json");
  assert_fails (resolver, "https://music.apple.com/us/song/x/1440857795",
      ECHO_MUSIC_ERROR_PROVIDER);
  provider_replay_add_body (replay, "GET", "/apple/v1/catalog/us/songs/1440857795", NULL, 200,
      "application/json", "{\"data\": []}", FALSE);
  assert_fails (resolver, "https://music.apple.com/us/song/x/1440857795",
      ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_body (replay, "GET", "/apple/v1/catalog/us/songs/1440857795", NULL, 200,
      "application/json", "{\"data\": [{\"id\": 1440857795, \"attributes\": {}}]}", FALSE);
  assert_fails (resolver, "https://music.apple.com/us/song/x/1440857795",
      ECHO_MUSIC_ERROR_PROVIDER);
}

static void
test_apple_music_without_token (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);

  assert_fails (resolver, "https://music.apple.com/us/song/x/1440857795",
      ECHO_MUSIC_ERROR_UNSUPPORTED);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

/* A redirect to another origin (still whitelisted) must not carry the token along. */
static void
test_authorization_stays_home (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  g_autofree char *elsewhere = g_strdup_printf ("http://localhost:%u/moved/song.json",
      provider_replay_port (replay));
  const ReplayRequest *req;

  provider_replay_add_redirect (replay, "/apple/v1/catalog/us/songs/1440857795", 307, elsewhere);
  provider_replay_add_fixture (replay, "GET", "/moved/song.json", NULL, 200, "apple-song.json");
  result = resolve (resolver, "https://music.apple.com/us/song/x/1440857795", &error);
  g_assert_no_error (error);
  req = provider_replay_last (replay, "/apple/v1/catalog/us/songs/1440857795");
  g_assert_cmpstr (req->authorization, ==, "Bearer apple-dev-token");
  req = provider_replay_last (replay, "/moved/song.json");
  g_assert_nonnull (req);
  g_assert_null (req->authorization);
}

/* --- SoundCloud --- */

static void
test_soundcloud (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) track = NULL;
  g_autoptr (EchoResolveResult) set = NULL;
  const ReplayRequest *req;

  provider_replay_add_fixture (replay, "GET", "/soundcloud/oembed",
      "url=https://soundcloud.com/forss/flickermood", 200, "soundcloud-oembed.json");
  provider_replay_add_fixture (replay, "GET", "/soundcloud/oembed",
      "url=https://soundcloud.com/forss/sets/soulhack", 200, "soundcloud-oembed-set.json");
  track = resolve (resolver, "https://m.soundcloud.com/Forss/Flickermood", &error);
  g_assert_no_error (error);
  g_assert_cmpint (track->track->source, ==, ECHO_TRACK_SOURCE_SOUNDCLOUD);
  g_assert_cmpstr (track->track->source_id, ==, "forss/flickermood");
  g_assert_cmpstr (track->track->title, ==, "Flickermood");
  g_assert_cmpstr (track->track->artist, ==, "Forss");
  g_assert_cmpstr (track->track->artwork_url, ==,
      "https://i1.sndcdn.com/artworks-000067273316-smsiqx-t500x500.jpg");
  g_assert_cmpstr (metadata_string (track->track, "kind"), ==, "track");
  req = provider_replay_last (replay, "/soundcloud/oembed");
  g_assert_cmpstr (g_hash_table_lookup (req->query, "format"), ==, "json");

  set = resolve (resolver, "https://soundcloud.com/forss/sets/soulhack", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (set->track->title, ==, "Soulhack");
  g_assert_cmpstr (metadata_string (set->track, "kind"), ==, "set");
  g_assert_cmpuint (set->playlist->len, ==, 0);

  assert_fails (resolver, "https://soundcloud.com/forss/missing", ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_body (replay, "GET", "/soundcloud/oembed", NULL, 200, "application/json",
      "{\"title\": null, \"author_name\": \"Forss\"}", FALSE);
  assert_fails (resolver, "https://soundcloud.com/forss/flickermood", ECHO_MUSIC_ERROR_PROVIDER);
}

/* --- Direct audio URLs --- */

static char *
replay_url (ProviderReplay *replay, const char *host, const char *path)
{
  return g_strdup_printf ("http://%s:%u%s", host, provider_replay_port (replay), path);
}

static void
test_http_audio (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  g_autoptr (EchoResolveResult) ranged = NULL;
  g_autofree char *song = replay_url (replay, "127.0.0.1", "/music/My%20Song.mp3");
  g_autofree char *ogg = replay_url (replay, "127.0.0.1", "/music/live.ogg");
  g_autofree char *page = replay_url (replay, "127.0.0.1", "/music/index.html");
  g_autofree char *missing = replay_url (replay, "127.0.0.1", "/music/missing.mp3");
  g_autofree char *broken = replay_url (replay, "127.0.0.1", "/music/broken.mp3");
  g_autofree char *other_host = replay_url (replay, "localhost", "/music/My%20Song.mp3");
  const ReplayRequest *req;

  provider_replay_add_body (replay, "HEAD", "/music/My Song.mp3", NULL, 200, "audio/mpeg",
      "0123456789", FALSE);
  result = resolve (resolver, song, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result->track->source, ==, ECHO_TRACK_SOURCE_HTTP);
  g_assert_cmpstr (result->track->source_id, ==, song);
  g_assert_cmpstr (result->track->title, ==, "My Song");
  g_assert_cmpstr (metadata_string (result->track, "contentType"), ==, "audio/mpeg");
  g_assert_true (echo_track_source_is_server_side (result->track->source));
  g_assert_cmpstr (provider_replay_last (replay, "/music/My Song.mp3")->method, ==, "HEAD");

  /* A server that refuses HEAD gets a one-byte ranged GET. */
  provider_replay_add_body (replay, "HEAD", "/music/live.ogg", NULL, 405, "text/plain", "no",
      FALSE);
  provider_replay_add_body (replay, "GET", "/music/live.ogg", NULL, 206, "application/ogg", "O",
      FALSE);
  ranged = resolve (resolver, ogg, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ranged->track->title, ==, "live");
  req = provider_replay_last (replay, "/music/live.ogg");
  g_assert_cmpstr (req->method, ==, "GET");
  g_assert_cmpstr (req->range, ==, "bytes=0-0");

  provider_replay_add_body (replay, "HEAD", "/music/index.html", NULL, 200, "text/html", "<p>",
      FALSE);
  assert_fails (resolver, page, ECHO_MUSIC_ERROR_UNSUPPORTED);
  assert_fails (resolver, missing, ECHO_MUSIC_ERROR_NOT_FOUND);
  provider_replay_add_body (replay, "HEAD", "/music/broken.mp3", NULL, 500, "text/plain", "x",
      FALSE);
  assert_fails (resolver, broken, ECHO_MUSIC_ERROR_PROVIDER);

  /* Hosts off the audio whitelist are never asked (here: the replay server under another
   * name). */
  provider_replay_forget_requests (replay);
  assert_fails (resolver, other_host, ECHO_MUSIC_ERROR_FORBIDDEN);
  assert_fails (resolver, "https://cdn.example.com/song.mp3", ECHO_MUSIC_ERROR_FORBIDDEN);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

static void
test_redirects (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &no_keys);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;
  g_autofree char *start = replay_url (replay, "127.0.0.1", "/r/start.mp3");
  g_autofree char *target = replay_url (replay, "127.0.0.1", "/r/target.mp3");
  g_autofree char *away = replay_url (replay, "127.0.0.1", "/r/away.mp3");
  g_autofree char *off_list = replay_url (replay, "localhost", "/r/target.mp3");
  g_autofree char *loop = replay_url (replay, "127.0.0.1", "/r/loop.mp3");

  /* Followed by hand while the target is whitelisted (a relative Location too). */
  provider_replay_add_redirect (replay, "/r/start.mp3", 302, "/r/middle.mp3");
  provider_replay_add_redirect (replay, "/r/middle.mp3", 301, target);
  provider_replay_add_body (replay, "HEAD", "/r/target.mp3", NULL, 200, "audio/flac", NULL, FALSE);
  result = resolve (resolver, start, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (metadata_string (result->track, "finalUrl"), ==, target);
  g_assert_cmpstr (result->track->title, ==, "start");

  /* Off the whitelist: refused, and the target never asked. */
  provider_replay_forget_requests (replay);
  provider_replay_add_redirect (replay, "/r/away.mp3", 302, off_list);
  assert_fails (resolver, away, ECHO_MUSIC_ERROR_FORBIDDEN);
  g_assert_cmpuint (provider_replay_count (replay, "/r/away.mp3"), ==, 1);
  g_assert_cmpuint (provider_replay_count (replay, "/r/target.mp3"), ==, 0);
  provider_replay_add_redirect (replay, "/r/away.mp3", 302, "file:///etc/passwd");
  assert_fails (resolver, away, ECHO_MUSIC_ERROR_FORBIDDEN);

  /* A loop ends after the limit: the first request and five redirects. */
  provider_replay_forget_requests (replay);
  provider_replay_add_redirect (replay, "/r/loop.mp3", 307, "/r/loop.mp3");
  assert_fails (resolver, loop, ECHO_MUSIC_ERROR_PROVIDER);
  g_assert_cmpuint (provider_replay_count (replay, "/r/loop.mp3"), ==, 6);
}

/* With allow_private off, the replay server on 127.0.0.1 is out of reach even though its host is
 * whitelisted (it is every base URL's host). */
static void
test_private_address_refused (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  Options strict = all_keys;
  g_autoptr (EchoResolver) resolver = NULL;
  g_autofree char *audio = replay_url (replay, "127.0.0.1", "/music/a.mp3");

  strict.allow_private = FALSE;
  resolver = make_resolver (replay, &strict);
  provider_replay_add_fixture (replay, "GET", "/youtube/v3/videos", NULL, 200,
      "youtube-videos.json");
  provider_replay_add_body (replay, "HEAD", "/music/a.mp3", NULL, 200, "audio/mpeg", NULL, FALSE);
  assert_fails (resolver, RICK_URL, ECHO_MUSIC_ERROR_FORBIDDEN);
  assert_fails (resolver, "spotify:track:" SP_TRACK, ECHO_MUSIC_ERROR_FORBIDDEN);
  assert_fails (resolver, "https://soundcloud.com/forss/flickermood", ECHO_MUSIC_ERROR_FORBIDDEN);
  assert_fails (resolver, audio, ECHO_MUSIC_ERROR_FORBIDDEN);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

static void
test_timeout (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  Options quick = all_keys;
  g_autoptr (EchoResolver) resolver = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) result = NULL;

  quick.timeout_ms = 300;
  resolver = make_resolver (replay, &quick);
  provider_replay_add_silence (replay, "/youtube/v3/videos");
  result = resolve (resolver, RICK_URL, &error);
  g_assert_null (result);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER);
  g_assert_nonnull (strstr (error->message, "300 ms"));
  g_assert_cmpuint (provider_replay_count (replay, "/youtube/v3/videos"), ==, 1);
}

static void
test_cancel (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) early = NULL;
  g_autoptr (EchoResolveResult) none = NULL;
  Wait wait = { NULL, NULL, FALSE };

  provider_replay_add_silence (replay, "/youtube/v3/videos");
  echo_resolver_resolve_async (resolver, RICK_URL, cancellable, on_resolved, &wait);
  /* Cancel once the request is in flight. */
  while (provider_replay_count (replay, "/youtube/v3/videos") == 0)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (cancellable);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (wait.result);
  g_assert_error (wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&wait.error);

  /* Cancelled before it starts: no request at all. */
  provider_replay_forget_requests (replay);
  none = resolve_with (resolver, RICK_URL, cancellable, &early);
  g_assert_error (early, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (none);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

static void
test_not_resolvable (void)
{
  g_autoptr (ProviderReplay) replay = provider_replay_new ();
  g_autoptr (EchoResolver) resolver = make_resolver (replay, &all_keys);

  assert_fails (resolver, "not a url", ECHO_MUSIC_ERROR_INVALID);
  assert_fails (resolver, "", ECHO_MUSIC_ERROR_INVALID);
  assert_fails (resolver, "ftp://example.com/song.mp3", ECHO_MUSIC_ERROR_UNSUPPORTED);
  assert_fails (resolver, "https://www.youtube.com/feed/trending", ECHO_MUSIC_ERROR_UNSUPPORTED);
  assert_fails (resolver, "https://www.youtube.com/watch?v=short", ECHO_MUSIC_ERROR_UNSUPPORTED);
  assert_fails (resolver, "https://open.spotify.com/artist/0gxyHStUsqpMadRV0Di1Qt",
      ECHO_MUSIC_ERROR_UNSUPPORTED);
  g_assert_cmpuint (provider_replay_requests (replay)->len, ==, 0);
}

static void
test_bad_config (void)
{
  EchoResolverConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolver) resolver = NULL;

  echo_resolver_config_init (&config);
  g_assert_cmpuint (config.timeout_ms, ==, 8000);
  g_assert_cmpstr (config.youtube_api_base, ==, "https://www.googleapis.com/youtube/v3");
  resolver = echo_resolver_new (&config, &error);
  g_assert_no_error (error);
  g_clear_object (&resolver);
  config.spotify_api_base = "ftp://api.example.com/v1";
  resolver = echo_resolver_new (&config, &error);
  g_assert_null (resolver);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "spotify_api_base"));
}

static void
test_iso8601_durations (void)
{
  const struct { const char *text; gint64 ms; } good[] = {
    { "PT3M33S", 213000 }, { "PT1H2M3S", 3723000 }, { "PT45S", 45000 }, { "P0D", 0 },
    { "P1DT1S", 86401000 }, { "PT10M", 600000 }, { "P1W", 604800000 }, { "PT0S", 0 },
  };
  const char *const bad[] = { NULL, "", "P", "PT", "3M33S", "PT3.5S", "P1M", "PT1Y",
    "PTT1S", "PT-1S", "PT1S2", "PT9999999999999S", "P99999999999D" };
  gint64 ms;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_assert_true (echo_iso8601_duration_to_ms (good[i].text, &ms));
    g_assert_cmpint (ms, ==, good[i].ms);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("%s", bad[i] != NULL ? bad[i] : "(null)");
    g_assert_false (echo_iso8601_duration_to_ms (bad[i], &ms));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* allow_private's loud warning is expected here. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_log_set_fatal_mask ("echo-resolver", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_test_add_func ("/resolver/youtube/video", test_youtube_video);
  g_test_add_func ("/resolver/youtube/playlist", test_youtube_playlist);
  g_test_add_func ("/resolver/youtube/playlist-cap", test_youtube_playlist_cap);
  g_test_add_func ("/resolver/youtube/oembed", test_youtube_oembed);
  g_test_add_func ("/resolver/youtube/failures", test_youtube_failures);
  g_test_add_func ("/resolver/spotify/track", test_spotify_track);
  g_test_add_func ("/resolver/spotify/token-refresh", test_spotify_token_refresh);
  g_test_add_func ("/resolver/spotify/album-and-playlist", test_spotify_album_and_playlist);
  g_test_add_func ("/resolver/spotify/pages", test_spotify_pages);
  g_test_add_func ("/resolver/spotify/oembed", test_spotify_oembed);
  g_test_add_func ("/resolver/apple-music/catalog", test_apple_music);
  g_test_add_func ("/resolver/apple-music/without-token", test_apple_music_without_token);
  g_test_add_func ("/resolver/authorization-stays-home", test_authorization_stays_home);
  g_test_add_func ("/resolver/soundcloud", test_soundcloud);
  g_test_add_func ("/resolver/http/audio", test_http_audio);
  g_test_add_func ("/resolver/http/redirects", test_redirects);
  g_test_add_func ("/resolver/private-address-refused", test_private_address_refused);
  g_test_add_func ("/resolver/timeout", test_timeout);
  g_test_add_func ("/resolver/cancel", test_cancel);
  g_test_add_func ("/resolver/not-resolvable", test_not_resolvable);
  g_test_add_func ("/resolver/bad-config", test_bad_config);
  g_test_add_func ("/resolver/iso8601-durations", test_iso8601_durations);
  return g_test_run ();
}
