/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-url-detect.h: which provider a URL a user pasted belongs to, whether it names a
 * track, an album or a playlist, and the provider's id for it. Pure string work: no I/O.
 *
 * Recognised (scheme optional for the providers' own hosts, http or https):
 *   YouTube     youtube.com|www.|m.|music.youtube.com /watch?v=ID, /shorts/ID, /embed/ID,
 *               /live/ID, /playlist?list=ID; youtu.be/ID (ID: 11 of [A-Za-z0-9_-])
 *   Spotify     open.spotify.com/(intl-xx/)(embed/)track|album|playlist/ID and
 *               spotify:track|album|playlist:ID (ID: 22 base62 characters)
 *   Apple Music music.apple.com/CC/song/(NAME/)ID, /album/(NAME/)ID (?i=TRACK: that track),
 *               /playlist/(NAME/)pl.ID (CC: two-letter storefront, ids numeric)
 *   SoundCloud  soundcloud.com|www.|m.soundcloud.com/USER/TRACK and /USER/sets/NAME
 *   HTTP        any other http(s) URL with a host and no user info: a direct audio URL,
 *               checked when resolved.
 * A URL on a provider's host that is none of the above (a channel, an artist, a search) is
 * not detected at all: it never falls back to HTTP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "echo-track.h"

G_BEGIN_DECLS

/* Longer URLs are refused outright. */
#define ECHO_URL_MAX_LENGTH 2048

typedef enum
{
  ECHO_URL_KIND_TRACK,
  ECHO_URL_KIND_PLAYLIST,
  ECHO_URL_KIND_ALBUM,
} EchoUrlKind;

typedef struct
{
  EchoTrackSource source;
  EchoUrlKind kind;
  char *id;                     /* YouTube/Spotify/Apple id; SoundCloud "user/track" or
                                 * "user/sets/name"; HTTP: the normalised URL */
  char *storefront;             /* Apple Music's two-letter storefront; else NULL */
  char *canonical_url;          /* the provider's plain URL for @id (what oEmbed is asked
                                 * about); HTTP: the same as @id */
} EchoUrlMatch;

/* TRUE and @out filled when @url is recognised (clear @out with echo_url_match_clear());
 * FALSE and @out zeroed otherwise. */
gboolean    echo_url_detect (const char *url, EchoUrlMatch *out);

void        echo_url_match_clear (EchoUrlMatch *match);

/* "track", "playlist", "album" */
const char *echo_url_kind_to_string (EchoUrlKind kind);

G_END_DECLS
