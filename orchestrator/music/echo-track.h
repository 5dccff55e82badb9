/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-track.h: a playable track as music sessions know it (seed 000's Track model):
 * where it comes from (source + sourceId, unique together, so resolved metadata is
 * cached), what to show (title, artist, album, artwork, duration) and the provider's own
 * extra metadata. A plain struct with public fields; strings never NULL except where
 * said; JSON in the seeds' camelCase.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  ECHO_TRACK_SOURCE_YOUTUBE,
  ECHO_TRACK_SOURCE_SPOTIFY,
  ECHO_TRACK_SOURCE_APPLE_MUSIC,
  ECHO_TRACK_SOURCE_SOUNDCLOUD,
  ECHO_TRACK_SOURCE_UPLOADED,
  ECHO_TRACK_SOURCE_HTTP,       /* a plain HTTP(S) audio URL, played server-side */
} EchoTrackSource;

#define ECHO_TRACK_SOURCE_LAST ECHO_TRACK_SOURCE_HTTP

typedef struct
{
  char *id;                     /* echod's id (uuid); "" until the store gave it one */
  EchoTrackSource source;
  char *source_id;              /* video id, Spotify track id, upload id, the URL itself... */
  char *title;
  char *artist;                 /* NULL: unknown */
  char *album;                  /* NULL: unknown */
  char *artwork_url;            /* NULL: none */
  gint64 duration_ms;           /* 0: unknown (a live stream, a provider that did not say) */
  char *original_url;           /* what the user gave; "" for uploads */
  char *uploaded_file;          /* uploads: file name in the data directory; else NULL */
  char *uploaded_by;            /* uploads: user id; else NULL */
  JsonNode *metadata;           /* provider extras (an object) or NULL */
  gint64 created_at_ms;         /* Unix ms */
} EchoTrack;

EchoTrack  *echo_track_new (EchoTrackSource source, const char *source_id, const char *title);
EchoTrack  *echo_track_copy (const EchoTrack *track);
void        echo_track_free (EchoTrack *track);

/* "YOUTUBE", "SPOTIFY", "APPLE_MUSIC", "SOUNDCLOUD", "UPLOADED", "HTTP" */
const char *echo_track_source_to_string (EchoTrackSource source);
gboolean    echo_track_source_from_string (const char *text, EchoTrackSource *source);

/* Server-side playable: the session pipeline decodes it (uploads, plain HTTP URLs); the
 * others play in the clients' own official players, echod being their clock. */
gboolean    echo_track_source_is_server_side (EchoTrackSource source);

/* {"id","source","sourceId","title","artist","album","thumbnailUrl","durationMs",
 *  "originalUrl","metadata","createdAt"} (null for unknown fields; createdAt ISO 8601).
 * uploadedFile/uploadedBy are internal and left out. */
JsonNode   *echo_track_to_json (const EchoTrack *track);

/* Everything, internal fields included, for the store: as a JSON object (to embed in a
 * larger document, e.g. a queue item) or as text. Reading refuses malformed members with
 * ECHO_MUSIC_ERROR_INVALID. */
JsonNode   *echo_track_to_store_json (const EchoTrack *track);
EchoTrack  *echo_track_from_store_json (JsonObject *obj, GError **error);
char       *echo_track_serialize (const EchoTrack *track);
EchoTrack  *echo_track_deserialize (const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoTrack, echo_track_free)

G_END_DECLS
