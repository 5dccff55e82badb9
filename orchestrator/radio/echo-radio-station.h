/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-radio-station.h: a radio station of one community (seed 001's music_provider_config).
 *
 * A station is where a radio session's audio comes from and where its titles come from:
 *  - audio: an http(s) stream URL that echod pulls (Icecast, Shoutcast, any HTTP audio
 *    stream), or a mount that a broadcaster pushes into echod itself ("/live": ffmpeg,
 *    shout2send, BUTT or Liquidsoap pointed at echod as at an Icecast server);
 *  - titles: in-band ICY metadata (the default), or, for stations that publish them only
 *    through an HTTP JSON API (seed 001's Pretzel/Epidemic/Monstercat/StreamBeats), the
 *    "api" metadata source: apiEndpoint polled every pollSeconds, the title, artist, album,
 *    artwork and duration read at the dot-separated paths of metadataPaths
 *    ("data.now_playing.song.title"; a number selects an array element: "tracks.0.name").
 * plus what plays while the upstream is down (fallback: silence, a local file, another
 * station). The API key is write-only: the API form never shows it.
 *
 * Pure data and validation, no I/O.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ECHO_RADIO_STATION_ERROR (echo_radio_station_error_quark ())
GQuark echo_radio_station_error_quark (void);

typedef enum {
  ECHO_RADIO_STATION_ERROR_INVALID,   /* a member is missing, mistyped or out of range */
} EchoRadioStationError;

typedef enum {
  ECHO_RADIO_METADATA_ICY,            /* titles in the stream (or /admin/metadata pushes) */
  ECHO_RADIO_METADATA_API,            /* titles polled from apiEndpoint */
} EchoRadioMetadataSource;

typedef enum {
  ECHO_RADIO_FALLBACK_SILENCE,
  ECHO_RADIO_FALLBACK_FILE,           /* fallback_value: a file path on echod's host */
  ECHO_RADIO_FALLBACK_STATION,        /* fallback_value: another station's id */
} EchoRadioFallback;

#define ECHO_RADIO_STATION_DEFAULT_POLL_SECONDS 30
#define ECHO_RADIO_STATION_MAX_HEADERS 16

typedef struct {
  char *id;                   /* uuid */
  char *community_id;
  char *provider_type;        /* "icecast", "pretzel", ... ([a-z0-9_-], 1..32) */
  char *name;
  char *stream_url;           /* http(s) URL, or NULL for a pushed mount */
  char *mount;                /* "/live" for a pushed mount, else NULL */
  EchoRadioMetadataSource metadata_source;
  char *api_endpoint;         /* http(s) URL or NULL */
  char *api_key;              /* NULL: none; sent as "Authorization: Bearer KEY" */
  JsonNode *metadata_paths;   /* object: title, artist, album, thumbnail, duration -> path */
  guint poll_seconds;         /* 5..3600 */
  guint bitrate;              /* kbit/s, 0: unknown */
  char *codec;                /* NULL: unknown */
  JsonNode *custom_headers;   /* object of strings, or NULL */
  EchoRadioFallback fallback;
  char *fallback_value;
  gboolean enabled;
  gint64 created_at_ms;
  gint64 updated_at_ms;
} EchoRadioStation;

void echo_radio_station_free (EchoRadioStation *station);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioStation, echo_radio_station_free)

/* A new station from an API body (POST: every required member; @base NULL) or the update of
 * @base by an API body (PUT: the members given replace @base's, the others stay). Strict:
 * unknown members, wrong types, out-of-range values, a URL that is not http(s), a mount
 * that is not "/" + 1..64 of [A-Za-z0-9._-], neither or both of streamUrl and mount, the
 * api metadata source without apiEndpoint and metadataPaths.title: INVALID naming the
 * member. @id and @community_id are the new station's (ignored with @base). */
EchoRadioStation *echo_radio_station_from_api (JsonObject *body, const EchoRadioStation *base,
    const char *id, const char *community_id, gint64 now_ms, GError **error);

/* The API form (camelCase; apiKey replaced by "hasApiKey"). */
JsonNode *echo_radio_station_to_json (const EchoRadioStation *station);

/* The store form (everything) and back (INVALID for anything malformed). */
char *echo_radio_station_serialize (const EchoRadioStation *station);
EchoRadioStation *echo_radio_station_deserialize (const char *text, GError **error);

/* The value at @path (dot-separated members and array indexes) of @root, as text: strings
 * as they are, integers and doubles printed; NULL when absent or of another type. */
char *echo_radio_json_path_text (JsonNode *root, const char *path);

G_END_DECLS
