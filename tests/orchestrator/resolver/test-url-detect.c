/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-url-detect: the URL forms of every provider, their canonical URLs, the HTTP
 * fallback, and what must not be detected (malformed ids, other pages of the providers,
 * other schemes, garbage).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echo-url-detect.h"

typedef struct
{
  const char *url;
  EchoTrackSource source;
  EchoUrlKind kind;
  const char *id;
  const char *storefront;
  const char *canonical;
} Positive;

#define YT ECHO_TRACK_SOURCE_YOUTUBE
#define SP ECHO_TRACK_SOURCE_SPOTIFY
#define AM ECHO_TRACK_SOURCE_APPLE_MUSIC
#define SC ECHO_TRACK_SOURCE_SOUNDCLOUD
#define HT ECHO_TRACK_SOURCE_HTTP
#define TRACK ECHO_URL_KIND_TRACK
#define PLAYLIST ECHO_URL_KIND_PLAYLIST
#define ALBUM ECHO_URL_KIND_ALBUM

#define RICK "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
#define PL "PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI"
#define SP_TRACK "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPWqT"

static const Positive positives[] = {
  /* YouTube */
  { "https://www.youtube.com/watch?v=dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "http://youtube.com/watch?v=dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share", YT, TRACK, "dQw4w9WgXcQ", NULL,
    RICK },
  { "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVMdQw4w9WgXcQ", YT, TRACK,
    "dQw4w9WgXcQ", NULL, RICK },
  { "https://www.youtube.com/watch?feature=youtu.be&t=42&v=dQw4w9WgXcQ#t=1", YT, TRACK,
    "dQw4w9WgXcQ", NULL, RICK },
  { "https://WWW.YouTube.COM./watch?v=dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://youtu.be/dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://youtu.be/dQw4w9WgXcQ?si=abcdef&t=10", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "youtu.be/dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "  www.youtube.com/watch?v=dQw4w9WgXcQ\n", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://www.youtube.com/shorts/aqz-KE-bpKQ", YT, TRACK, "aqz-KE-bpKQ", NULL,
    "https://www.youtube.com/watch?v=aqz-KE-bpKQ" },
  { "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", YT, TRACK, "dQw4w9WgXcQ", NULL, RICK },
  { "https://www.youtube.com/live/jfKfPfyJRdk", YT, TRACK, "jfKfPfyJRdk", NULL,
    "https://www.youtube.com/watch?v=jfKfPfyJRdk" },
  { "https://www.youtube.com/playlist?list=" PL, YT, PLAYLIST, PL, NULL,
    "https://www.youtube.com/playlist?list=" PL },
  { "https://music.youtube.com/playlist?list=OLAK5uy_kRGfVqEJ9bYbKJmaqm6sOrGkVnMWuzn5M", YT,
    PLAYLIST, "OLAK5uy_kRGfVqEJ9bYbKJmaqm6sOrGkVnMWuzn5M", NULL,
    "https://www.youtube.com/playlist?list=OLAK5uy_kRGfVqEJ9bYbKJmaqm6sOrGkVnMWuzn5M" },
  /* Spotify */
  { SP_TRACK, SP, TRACK, "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { SP_TRACK "?si=1a2b3c4d5e6f", SP, TRACK, "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { "https://open.spotify.com/intl-de/track/4cOdK2wGLETKBW3PvgPWqT", SP, TRACK,
    "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { "https://open.spotify.com/intl-pt-br/track/4cOdK2wGLETKBW3PvgPWqT", SP, TRACK,
    "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { "https://open.spotify.com/embed/track/4cOdK2wGLETKBW3PvgPWqT", SP, TRACK,
    "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { "open.spotify.com/track/4cOdK2wGLETKBW3PvgPWqT", SP, TRACK, "4cOdK2wGLETKBW3PvgPWqT", NULL,
    SP_TRACK },
  { "spotify:track:4cOdK2wGLETKBW3PvgPWqT", SP, TRACK, "4cOdK2wGLETKBW3PvgPWqT", NULL, SP_TRACK },
  { "https://open.spotify.com/album/6N9PS4QXF1D0OWPk0Sxtb4", SP, ALBUM, "6N9PS4QXF1D0OWPk0Sxtb4",
    NULL, "https://open.spotify.com/album/6N9PS4QXF1D0OWPk0Sxtb4" },
  { "spotify:album:6N9PS4QXF1D0OWPk0Sxtb4", SP, ALBUM, "6N9PS4QXF1D0OWPk0Sxtb4", NULL,
    "https://open.spotify.com/album/6N9PS4QXF1D0OWPk0Sxtb4" },
  { "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M?si=x", SP, PLAYLIST,
    "37i9dQZF1DXcBWIGoYBM5M", NULL, "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M" },
  { "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M", SP, PLAYLIST, "37i9dQZF1DXcBWIGoYBM5M", NULL,
    "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M" },
  /* Apple Music */
  { "https://music.apple.com/us/song/never-gonna-give-you-up/1440857795", AM, TRACK,
    "1440857795", "us", "https://music.apple.com/us/song/1440857795" },
  { "https://music.apple.com/gb/song/1440857795", AM, TRACK, "1440857795", "gb",
    "https://music.apple.com/gb/song/1440857795" },
  { "https://music.apple.com/us/album/whenever-you-need-somebody/1440857781?i=1440857795", AM,
    TRACK, "1440857795", "us", "https://music.apple.com/us/song/1440857795" },
  { "https://music.apple.com/us/album/whenever-you-need-somebody/1440857781", AM, ALBUM,
    "1440857781", "us", "https://music.apple.com/us/album/1440857781" },
  { "https://music.apple.com/de/album/1440857781?l=en", AM, ALBUM, "1440857781", "de",
    "https://music.apple.com/de/album/1440857781" },
  { "https://music.apple.com/us/playlist/todays-hits/pl.f4d106fed2bd41149aaacabb233eb5eb", AM,
    PLAYLIST, "pl.f4d106fed2bd41149aaacabb233eb5eb", "us",
    "https://music.apple.com/us/playlist/pl.f4d106fed2bd41149aaacabb233eb5eb" },
  { "https://music.apple.com/us/playlist/my-mix/pl.u-76oNlPdCvx6K3V", AM, PLAYLIST,
    "pl.u-76oNlPdCvx6K3V", "us", "https://music.apple.com/us/playlist/pl.u-76oNlPdCvx6K3V" },
  /* SoundCloud */
  { "https://soundcloud.com/forss/flickermood", SC, TRACK, "forss/flickermood", NULL,
    "https://soundcloud.com/forss/flickermood" },
  { "https://m.soundcloud.com/Forss/Flickermood?in=x", SC, TRACK, "forss/flickermood", NULL,
    "https://soundcloud.com/forss/flickermood" },
  { "https://www.soundcloud.com/the_artist-1/track_name-2/", SC, TRACK,
    "the_artist-1/track_name-2", NULL, "https://soundcloud.com/the_artist-1/track_name-2" },
  { "https://soundcloud.com/forss/sets/soulhack", SC, PLAYLIST, "forss/sets/soulhack", NULL,
    "https://soundcloud.com/forss/sets/soulhack" },
  /* Direct audio URLs */
  { "https://cdn.example.com/music/song.mp3", HT, TRACK, "https://cdn.example.com/music/song.mp3",
    NULL, "https://cdn.example.com/music/song.mp3" },
  { "http://radio.example.org:8000/stream.ogg?x=1#frag", HT, TRACK,
    "http://radio.example.org:8000/stream.ogg?x=1", NULL,
    "http://radio.example.org:8000/stream.ogg?x=1" },
  { "https://example.com/My%20Song.flac", HT, TRACK, "https://example.com/My%20Song.flac", NULL,
    "https://example.com/My%20Song.flac" },
  { "http://127.0.0.1:8080/a.wav", HT, TRACK, "http://127.0.0.1:8080/a.wav", NULL,
    "http://127.0.0.1:8080/a.wav" },
  { "http://[2001:db8::1]/a.opus", HT, TRACK, "http://[2001:db8::1]/a.opus", NULL,
    "http://[2001:db8::1]/a.opus" },
};

static const char *const negatives[] = {
  NULL, "", "   ", "not a url", "dQw4w9WgXcQ", "ftp://example.com/song.mp3",
  "file:///etc/passwd", "javascript:alert(1)", "data:audio/mp3;base64,AAAA",
  "https://", "http:///path", "https://user:pass@example.com/song.mp3",
  "https://exa mple.com/x.mp3", "https://example.com/\xc3\xa9.mp3",
  "example.com/song.mp3",     /* no scheme: implied only for providers */
  /* YouTube pages that are not a video or playlist, malformed ids */
  "https://www.youtube.com/", "https://www.youtube.com/watch", "https://www.youtube.com/watch?v=",
  "https://www.youtube.com/watch?v=dQw4w9WgXc", "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",
  "https://www.youtube.com/watch?v=dQw4w9WgX%cQ", "https://www.youtube.com/watch?v=dQw4w9WgX.Q",
  "https://www.youtube.com/@RickAstleyYT",
  "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
  "https://www.youtube.com/results?search_query=rick", "https://www.youtube.com/feed/trending",
  "https://www.youtube.com/playlist?list=WL", "https://www.youtube.com/playlist?list=PL<script>",
  "https://youtu.be/", "https://youtu.be/dQw4w9WgXcQ/extra", "https://www.youtube.com/shorts/",
  "https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=%ZZ",
  /* Spotify */
  "https://open.spotify.com/artist/0gxyHStUsqpMadRV0Di1Qt", "https://open.spotify.com/track/",
  "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPWq",
  "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPWqT/x",
  "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPW_T", "spotify:track:",
  "spotify:artist:0gxyHStUsqpMadRV0Di1Qt", "spotify:track:4cOdK2wGLETKBW3PvgPWqT:x",
  "https://open.spotify.com/intl-/track/4cOdK2wGLETKBW3PvgPWqT",
  /* Apple Music */
  "https://music.apple.com/us/artist/rick-astley/669771", "https://music.apple.com/usa/song/x/1",
  "https://music.apple.com/US/song/x/1", "https://music.apple.com/us/song/x/abc",
  "https://music.apple.com/us/album/x/1440857781?i=abc",
  "https://music.apple.com/us/playlist/x/12345",
  "https://music.apple.com/us/song/a/b/1", "https://music.apple.com/us/song/x/12345678901234567890",
  "https://music.apple.com/us/playlist/x/pl.", "https://music.apple.com/",
  /* SoundCloud */
  "https://soundcloud.com/forss", "https://soundcloud.com/discover/sets/x",
  "https://soundcloud.com/Discover/sets/x", "https://soundcloud.com/forss/LIKES",
  "https://soundcloud.com/forss/likes", "https://soundcloud.com/forss/sets",
  "https://soundcloud.com/search/sounds", "https://soundcloud.com/forss/flicker.mood",
  "https://soundcloud.com/forss/flickermood/s-secret", "https://soundcloud.com/forss/albums",
};

static void
test_positives (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (positives); i++) {
    const Positive *p = &positives[i];
    EchoUrlMatch m;

    g_test_message ("%s", p->url);
    g_assert_true (echo_url_detect (p->url, &m));
    g_assert_cmpint (m.source, ==, p->source);
    g_assert_cmpint (m.kind, ==, p->kind);
    g_assert_cmpstr (m.id, ==, p->id);
    g_assert_cmpstr (m.storefront, ==, p->storefront);
    g_assert_cmpstr (m.canonical_url, ==, p->canonical);
    echo_url_match_clear (&m);
  }
}

static void
test_negatives (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (negatives); i++) {
    EchoUrlMatch m;

    g_test_message ("%s", negatives[i] != NULL ? negatives[i] : "(null)");
    g_assert_false (echo_url_detect (negatives[i], &m));
    g_assert_null (m.id);
    g_assert_null (m.canonical_url);
  }
}

/* Detecting a canonical URL gives the same match: what the resolver sends to oEmbed is
 * what the user meant. */
static void
test_canonical_is_stable (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (positives); i++) {
    EchoUrlMatch first, again;

    g_assert_true (echo_url_detect (positives[i].url, &first));
    g_assert_true (echo_url_detect (first.canonical_url, &again));
    g_assert_cmpint (again.source, ==, first.source);
    g_assert_cmpint (again.kind, ==, first.kind);
    g_assert_cmpstr (again.id, ==, first.id);
    g_assert_cmpstr (again.canonical_url, ==, first.canonical_url);
    echo_url_match_clear (&first);
    echo_url_match_clear (&again);
  }
}

static void
test_length_limit (void)
{
  g_autoptr (GString) url = g_string_new ("https://cdn.example.com/");
  EchoUrlMatch m;

  while (url->len < ECHO_URL_MAX_LENGTH)
    g_string_append_c (url, 'a');
  g_assert_true (echo_url_detect (url->str, &m));
  echo_url_match_clear (&m);
  g_string_append_c (url, 'a');
  g_assert_false (echo_url_detect (url->str, &m));
}

static void
test_kind_names (void)
{
  g_assert_cmpstr (echo_url_kind_to_string (ECHO_URL_KIND_TRACK), ==, "track");
  g_assert_cmpstr (echo_url_kind_to_string (ECHO_URL_KIND_PLAYLIST), ==, "playlist");
  g_assert_cmpstr (echo_url_kind_to_string (ECHO_URL_KIND_ALBUM), ==, "album");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/url-detect/positives", test_positives);
  g_test_add_func ("/url-detect/negatives", test_negatives);
  g_test_add_func ("/url-detect/canonical-is-stable", test_canonical_is_stable);
  g_test_add_func ("/url-detect/length-limit", test_length_limit);
  g_test_add_func ("/url-detect/kind-names", test_kind_names);
  return g_test_run ();
}
