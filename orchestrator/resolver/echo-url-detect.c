/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-url-detect.c: URL forms of the four providers, their id syntax, and the plain HTTP
 * fallback. Every id is checked against its provider's character set and length before it
 * is accepted, so what leaves this file can be put into a provider's API path as it is.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-url-detect.h"

#include <string.h>

/* Hosts whose URLs are a provider's: a URL there that names no track is not detected. */
static const char *const youtube_hosts[] = {
  "youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com",
  "youtube-nocookie.com", "www.youtube-nocookie.com",
};
static const char *const spotify_hosts[] = { "open.spotify.com", "play.spotify.com" };
static const char *const apple_hosts[] = { "music.apple.com" };
static const char *const soundcloud_hosts[] = {
  "soundcloud.com", "www.soundcloud.com", "m.soundcloud.com",
};

/* SoundCloud's own pages that look like /USER/TRACK but are not tracks. */
static const char *const soundcloud_reserved_users[] = {
  "discover", "search", "stream", "you", "upload", "charts", "settings", "pages",
  "mobile", "messages", "notifications", "people", "tags", "terms-of-use", "jobs",
  "imprint", "popular", "signin", "logout", "connect", "feed", "apps",
};
static const char *const soundcloud_reserved_pages[] = {
  "likes", "tracks", "albums", "sets", "reposts", "followers", "following",
  "popular-tracks", "comments", "spotlight", "toptracks",
};

void
echo_url_match_clear (EchoUrlMatch *match)
{
  if (match == NULL)
    return;
  g_clear_pointer (&match->id, g_free);
  g_clear_pointer (&match->storefront, g_free);
  g_clear_pointer (&match->canonical_url, g_free);
}

const char *
echo_url_kind_to_string (EchoUrlKind kind)
{
  switch (kind) {
    case ECHO_URL_KIND_TRACK:
      return "track";
    case ECHO_URL_KIND_PLAYLIST:
      return "playlist";
    case ECHO_URL_KIND_ALBUM:
      return "album";
  }
  g_return_val_if_reached (NULL);
}

static gboolean
in_list (const char *text, const char *const *list, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (strcmp (text, list[i]) == 0)
      return TRUE;
  return FALSE;
}

#define IN_LIST(text, list) in_list ((text), (list), G_N_ELEMENTS (list))

/* @text is @min..@max characters, each alphanumeric or in @extra. */
static gboolean
id_is_valid (const char *text, gsize min, gsize max, const char *extra)
{
  gsize len;

  if (text == NULL)
    return FALSE;
  len = strlen (text);
  if (len < min || len > max)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && (extra == NULL || strchr (extra, *p) == NULL))
      return FALSE;
  return TRUE;
}

static gboolean
digits_are_valid (const char *text)
{
  gsize len = text != NULL ? strlen (text) : 0;

  if (len < 1 || len > 19)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
youtube_video_id_is_valid (const char *id)
{
  return id_is_valid (id, 11, 11, "_-");
}

static gboolean
youtube_playlist_id_is_valid (const char *id)
{
  return id_is_valid (id, 12, 64, "_-");
}

static gboolean
spotify_id_is_valid (const char *id)
{
  return id_is_valid (id, 22, 22, NULL);
}

static gboolean
soundcloud_name_is_valid (const char *name)
{
  return id_is_valid (name, 1, 100, "_-");
}

static void
set_match (EchoUrlMatch *out, EchoTrackSource source, EchoUrlKind kind, const char *id,
    char *canonical_url)
{
  out->source = source;
  out->kind = kind;
  out->id = g_strdup (id);
  out->canonical_url = canonical_url;
}

/* The non-empty segments of @path (still percent-encoded). */
static GStrv
path_segments (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

/* The decoded value of query parameter @name, or NULL. */
static const char *
query_param (GHashTable *params, const char *name)
{
  return params != NULL ? g_hash_table_lookup (params, name) : NULL;
}

static gboolean
detect_youtube (const char *host, GStrv seg, GHashTable *params, EchoUrlMatch *out)
{
  guint n = g_strv_length (seg);
  const char *id = NULL;

  if (strcmp (host, "youtu.be") == 0) {
    if (n == 1)
      id = seg[0];
  } else if (n == 1 && strcmp (seg[0], "watch") == 0) {
    id = query_param (params, "v");
  } else if (n == 1 && strcmp (seg[0], "playlist") == 0) {
    const char *list = query_param (params, "list");

    if (!youtube_playlist_id_is_valid (list))
      return FALSE;
    set_match (out, ECHO_TRACK_SOURCE_YOUTUBE, ECHO_URL_KIND_PLAYLIST, list,
        g_strconcat ("https://www.youtube.com/playlist?list=", list, NULL));
    return TRUE;
  } else if (n == 2 && (strcmp (seg[0], "shorts") == 0 || strcmp (seg[0], "embed") == 0 ||
          strcmp (seg[0], "live") == 0 || strcmp (seg[0], "v") == 0)) {
    id = seg[1];
  }
  if (!youtube_video_id_is_valid (id))
    return FALSE;
  set_match (out, ECHO_TRACK_SOURCE_YOUTUBE, ECHO_URL_KIND_TRACK, id,
      g_strconcat ("https://www.youtube.com/watch?v=", id, NULL));
  return TRUE;
}

static gboolean
spotify_kind (const char *word, EchoUrlKind *kind)
{
  if (strcmp (word, "track") == 0)
    *kind = ECHO_URL_KIND_TRACK;
  else if (strcmp (word, "album") == 0)
    *kind = ECHO_URL_KIND_ALBUM;
  else if (strcmp (word, "playlist") == 0)
    *kind = ECHO_URL_KIND_PLAYLIST;
  else
    return FALSE;
  return TRUE;
}

static gboolean
set_spotify_match (EchoUrlMatch *out, const char *kind_word, const char *id)
{
  EchoUrlKind kind;

  if (!spotify_kind (kind_word, &kind) || !spotify_id_is_valid (id))
    return FALSE;
  set_match (out, ECHO_TRACK_SOURCE_SPOTIFY, kind, id,
      g_strconcat ("https://open.spotify.com/", kind_word, "/", id, NULL));
  return TRUE;
}

static gboolean
detect_spotify (GStrv seg, EchoUrlMatch *out)
{
  guint i = 0;

  /* Localised links: /intl-de/track/ID, /intl-pt-br/... */
  if (seg[i] != NULL && g_str_has_prefix (seg[i], "intl-") &&
      id_is_valid (seg[i] + 5, 2, 5, "-"))
    i++;
  if (seg[i] != NULL && strcmp (seg[i], "embed") == 0)
    i++;
  if (seg[i] == NULL || seg[i + 1] == NULL || seg[i + 2] != NULL)
    return FALSE;
  return set_spotify_match (out, seg[i], seg[i + 1]);
}

/* spotify:track:ID */
static gboolean
detect_spotify_uri (const char *url, EchoUrlMatch *out)
{
  g_auto (GStrv) parts = g_strsplit (url, ":", -1);

  if (g_strv_length (parts) != 3)
    return FALSE;
  return set_spotify_match (out, parts[1], parts[2]);
}

static gboolean
apple_storefront_is_valid (const char *cc)
{
  return strlen (cc) == 2 && g_ascii_islower (cc[0]) && g_ascii_islower (cc[1]);
}

static gboolean
detect_apple (GStrv seg, GHashTable *params, EchoUrlMatch *out)
{
  guint n = g_strv_length (seg);
  const char *cc, *what, *id;

  /* CC/KIND/ID or CC/KIND/NAME/ID; the NAME is decoration and may be anything. */
  if (n != 3 && n != 4)
    return FALSE;
  cc = seg[0];
  what = seg[1];
  id = seg[n - 1];
  if (!apple_storefront_is_valid (cc))
    return FALSE;
  if (strcmp (what, "song") == 0) {
    if (!digits_are_valid (id))
      return FALSE;
    set_match (out, ECHO_TRACK_SOURCE_APPLE_MUSIC, ECHO_URL_KIND_TRACK, id,
        g_strdup_printf ("https://music.apple.com/%s/song/%s", cc, id));
  } else if (strcmp (what, "album") == 0) {
    const char *track = query_param (params, "i");

    if (!digits_are_valid (id))
      return FALSE;
    if (track != NULL) {
      if (!digits_are_valid (track))
        return FALSE;
      set_match (out, ECHO_TRACK_SOURCE_APPLE_MUSIC, ECHO_URL_KIND_TRACK, track,
          g_strdup_printf ("https://music.apple.com/%s/song/%s", cc, track));
    } else {
      set_match (out, ECHO_TRACK_SOURCE_APPLE_MUSIC, ECHO_URL_KIND_ALBUM, id,
          g_strdup_printf ("https://music.apple.com/%s/album/%s", cc, id));
    }
  } else if (strcmp (what, "playlist") == 0) {
    if (!g_str_has_prefix (id, "pl.") || !id_is_valid (id + 3, 1, 100, "-"))
      return FALSE;
    set_match (out, ECHO_TRACK_SOURCE_APPLE_MUSIC, ECHO_URL_KIND_PLAYLIST, id,
        g_strdup_printf ("https://music.apple.com/%s/playlist/%s", cc, id));
  } else {
    return FALSE;
  }
  out->storefront = g_strdup (cc);
  return TRUE;
}

static gboolean
detect_soundcloud (GStrv seg, EchoUrlMatch *out)
{
  guint n = g_strv_length (seg);
  g_autofree char *user = NULL;
  g_autofree char *name = NULL;
  g_autofree char *id = NULL;
  EchoUrlKind kind;

  if (n < 2 || !soundcloud_name_is_valid (seg[0]) || !soundcloud_name_is_valid (seg[n - 1]))
    return FALSE;
  /* Permalinks are lower case (the site redirects other spellings to them): compare and
   * keep them that way. */
  user = g_ascii_strdown (seg[0], -1);
  name = g_ascii_strdown (seg[n - 1], -1);
  if (IN_LIST (user, soundcloud_reserved_users))
    return FALSE;
  if (n == 2) {
    if (IN_LIST (name, soundcloud_reserved_pages))
      return FALSE;
    kind = ECHO_URL_KIND_TRACK;
    id = g_strdup_printf ("%s/%s", user, name);
  } else if (n == 3 && g_ascii_strcasecmp (seg[1], "sets") == 0) {
    kind = ECHO_URL_KIND_PLAYLIST;
    id = g_strdup_printf ("%s/sets/%s", user, name);
  } else {
    return FALSE;
  }
  set_match (out, ECHO_TRACK_SOURCE_SOUNDCLOUD, kind, id,
      g_strconcat ("https://soundcloud.com/", id, NULL));
  return TRUE;
}

/* A DNS name or an IP literal: what a direct audio URL may name. */
static gboolean
http_host_is_valid (const char *host)
{
  if (strchr (host, ':') != NULL)
    return g_hostname_is_ip_address (host);
  return id_is_valid (host, 1, 253, ".-_") && host[0] != '.' && strstr (host, "..") == NULL;
}

static gboolean
detect_http (GUri *uri, EchoUrlMatch *out)
{
  g_autofree char *normalised = NULL;

  if (!http_host_is_valid (g_uri_get_host (uri)))
    return FALSE;
  normalised = g_uri_to_string_partial (uri, G_URI_HIDE_FRAGMENT);
  set_match (out, ECHO_TRACK_SOURCE_HTTP, ECHO_URL_KIND_TRACK, normalised,
      g_strdup (normalised));
  return TRUE;
}

static gboolean
is_provider_host (const char *host)
{
  return IN_LIST (host, youtube_hosts) || strcmp (host, "youtu.be") == 0 ||
      IN_LIST (host, spotify_hosts) || IN_LIST (host, apple_hosts) ||
      IN_LIST (host, soundcloud_hosts);
}

/* "youtu.be/ID" as people paste it: the scheme is implied for the providers' hosts only. */
static char *
with_scheme (const char *url)
{
  g_autofree char *host = NULL;
  const char *end;

  if (strstr (url, "://") != NULL)
    return g_strdup (url);
  end = url + strcspn (url, "/?#");
  host = g_ascii_strdown (url, end - url);
  if (!is_provider_host (host))
    return NULL;
  return g_strconcat ("https://", url, NULL);
}

static gboolean
detect_uri (GUri *uri, EchoUrlMatch *out)
{
  g_autofree char *host = NULL;
  g_auto (GStrv) seg = NULL;
  g_autoptr (GHashTable) params = NULL;
  const char *scheme = g_uri_get_scheme (uri);
  gsize len;

  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return FALSE;
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0' ||
      g_uri_get_userinfo (uri) != NULL)
    return FALSE;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  len = strlen (host);
  if (len > 1 && host[len - 1] == '.')
    host[len - 1] = '\0';
  if (!is_provider_host (host))
    return detect_http (uri, out);

  seg = path_segments (g_uri_get_path (uri));
  if (g_uri_get_query (uri) != NULL)
    params = g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_NONE, NULL);
  if (IN_LIST (host, youtube_hosts) || strcmp (host, "youtu.be") == 0)
    return detect_youtube (host, seg, params, out);
  if (IN_LIST (host, spotify_hosts))
    return detect_spotify (seg, out);
  if (IN_LIST (host, apple_hosts))
    return detect_apple (seg, params, out);
  return detect_soundcloud (seg, out);
}

gboolean
echo_url_detect (const char *url, EchoUrlMatch *out)
{
  g_autofree char *trimmed = NULL;
  g_autofree char *full = NULL;
  g_autoptr (GUri) uri = NULL;
  gboolean found;

  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  if (url == NULL || strlen (url) > ECHO_URL_MAX_LENGTH || !g_utf8_validate (url, -1, NULL))
    return FALSE;
  trimmed = g_strstrip (g_strdup (url));
  /* Whatever a URL may contain, it is printable ASCII once encoded. */
  for (const char *p = trimmed; *p != '\0'; p++)
    if ((guchar) * p <= 0x20 || (guchar) * p >= 0x7f)
      return FALSE;
  if (trimmed[0] == '\0')
    return FALSE;

  if (g_ascii_strncasecmp (trimmed, "spotify:", 8) == 0)
    found = detect_spotify_uri (trimmed, out);
  else {
    full = with_scheme (trimmed);
    if (full == NULL)
      return FALSE;
    uri = g_uri_parse (full, G_URI_FLAGS_ENCODED, NULL);
    found = uri != NULL && detect_uri (uri, out);
  }
  if (!found)
    echo_url_match_clear (out);
  return found;
}
