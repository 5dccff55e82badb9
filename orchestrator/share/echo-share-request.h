/* echo-share-request.h: parsing and validating what clients send to the share API.
 *
 * Every request body and query of /api/share is turned into checked values here and nowhere
 * else, so this file is what tests/fuzz/fuzz-share-request.c drives. The parsers accept
 * arbitrary bytes: invalid UTF-8, deep nesting, huge numbers, duplicate keys and wrong types
 * all end in a GError (ECHO_SHARE_ERROR), never in a crash or a silently changed value.
 *
 * JSON bodies pass a strict lexical gate before json-glib sees them, because json-glib 1.6 is
 * lenient in ways that would change values: integers beyond 64 bits wrap (-18446744073709507516
 * parses as 44100), "\u0000" truncates a string, and it accepts comments, single quotes and
 * hex numbers. The gate requires: valid UTF-8; plain RFC 8259 tokens (no comments, no bare
 * words other than true/false/null); integers that fit in 64 bits; finite numbers; no NUL or
 * raw control characters in strings; nesting at most ECHO_SHARE_REQUEST_MAX_DEPTH; and no
 * duplicate member names in the top-level object. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_SHARE_REQUEST_MAX_DEPTH 64
#define ECHO_SHARE_MIN_SAMPLE_RATE 8000
#define ECHO_SHARE_MAX_SAMPLE_RATE 192000
#define ECHO_SHARE_MAX_CHANNELS 8
#define ECHO_SHARE_MAX_CHUNKS_PER_REPLY 10

/* TRUE when @id is exactly 6 ASCII digits. */
gboolean echo_share_session_id_is_valid (const char *id);

/* The same check as a GError (INVALID_SESSION_ID), for ids taken from a URL path. */
gboolean echo_share_request_check_session_id (const char *id, GError **error);

/* POST /api/share/start: {"sessionId":"123456"}. Returns the id (6 digits), or NULL with
 * INVALID_JSON, INVALID_FIELD (missing / not a string) or INVALID_SESSION_ID. */
char *echo_share_request_parse_start (const char *body, gsize len, GError **error);

/* POST /api/share/{id}/audio. */
typedef struct {
  GBytes *samples;        /* decoded samples, float32 interleaved, in host byte order */
  char *data_base64;      /* the "data" text, canonical base64 (checked), for the cached reply */
  guint sample_rate;      /* 8000..192000 */
  guint channels;         /* 1..8 */
  guint n_frames;         /* samples / channels, >= 1 */
  gint64 timestamp;       /* as sent (the sharer's clock) */
  gint64 sequence_number; /* >= 0 */
} EchoShareAudioRequest;

/* The largest audio body worth parsing for @max_chunk_bytes of decoded audio: base64 of the
 * chunk plus room for the other fields. The server may refuse longer bodies from
 * Content-Length alone (413). */
gsize echo_share_request_max_audio_body (gsize max_chunk_bytes);

/* Body {data, sampleRate, channels, timestamp, sequenceNumber}; all five are required. data is
 * strict base64 (RFC 4648 alphabet, '=' padding only at the end, zero pad bits, no whitespace)
 * of little-endian float32 samples, a non-zero whole number of frames. Errors: INVALID_JSON,
 * INVALID_FIELD (naming the field), PAYLOAD_TOO_LARGE (decoded > @max_chunk_bytes or body
 * longer than echo_share_request_max_audio_body()). */
EchoShareAudioRequest *echo_share_request_parse_audio (const char *body, gsize len,
                                                       gsize max_chunk_bytes, GError **error);
void echo_share_audio_request_free (EchoShareAudioRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareAudioRequest, echo_share_audio_request_free)

/* POST /api/share/{id}/metadata. */
typedef struct {
  char *json;     /* the object exactly as posted, without surrounding whitespace */
  gsize json_len;
  char *title;    /* NULL when absent or null */
  char *artist;   /* NULL when absent or null */
} EchoShareMetadataRequest;

/* A JSON object of at most @max_metadata_bytes (else PAYLOAD_TOO_LARGE). Typed fields are
 * checked when present: title, artist, lyrics, thumbnailData string or null; hasSyncedLyrics
 * boolean; elapsedSeconds, totalSeconds number >= 0; timestamp integer. Other members are kept
 * as they are. The text is stored and served as posted (so 45.2 stays 45.2). */
EchoShareMetadataRequest *echo_share_request_parse_metadata (const char *body, gsize len,
                                                             gsize max_metadata_bytes,
                                                             GError **error);
void echo_share_metadata_request_free (EchoShareMetadataRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareMetadataRequest, echo_share_metadata_request_free)

/* GET /api/share/{id}/audio and the WebSocket's query. */
typedef enum {
  ECHO_SHARE_AUDIO_FORMAT_FLOAT,  /* the sharer's chunks, as posted */
  ECHO_SHARE_AUDIO_FORMAT_OPUS,   /* Opus packets from the media pipeline, own numbering */
} EchoShareAudioFormat;

typedef struct {
  gint64 since;                 /* -1 (the default): the newest chunks; else seq > since */
  guint limit;                  /* 1..10, default 10 */
  EchoShareAudioFormat format;  /* "float" (default) or "opus" */
} EchoShareAudioQuery;

/* @query: decoded query parameters (char* -> char*, e.g. from g_uri_parse_params()), NULL for
 * none. Unknown parameters are ignored (cache busters, access_token). Errors:
 * INVALID_PARAMETER naming the parameter. */
gboolean echo_share_request_parse_audio_query (GHashTable *query, EchoShareAudioQuery *out,
                                               GError **error);

G_END_DECLS
