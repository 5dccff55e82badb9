/* echo-radio-request.h: reading what Icecast clients send, as pure functions over text (no
 * sockets, no state), so each can be fuzzed: mount names, Basic credentials, a source's
 * ice-* headers, and the /admin/metadata query.
 *
 * Every function accepts any input; invalid input is an ECHO_RADIO_ERROR (or FALSE/NULL),
 * never a crash, and nothing returned is invalid UTF-8.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

#include "echo-radio-error.h"
#include "echo-radio-format.h"

G_BEGIN_DECLS

/* The longest mount name after its '/'. */
#define ECHO_RADIO_MOUNT_MAX 64
/* The longest metadata value /admin/metadata takes (bytes, as sent, after %-decoding). */
#define ECHO_RADIO_METADATA_MAX 1024

/* A mount is '/' then 1..64 of [A-Za-z0-9._-], and not "/." or "/..". */
gboolean echo_radio_mount_is_valid (const char *mount);

/* "Basic base64(user:password)" (scheme case-insensitive). FALSE when the header is absent or
 * malformed, or the decoded text is not UTF-8 or has a NUL; otherwise the parts (free them). */
gboolean echo_radio_parse_basic_auth (const char *header, char **user, char **password);

/* A source's ice-* (and icy-*) headers, as sent; any may be NULL. */
typedef struct {
  const char *name;           /* ice-name */
  const char *genre;          /* ice-genre */
  const char *description;    /* ice-description */
  const char *url;            /* ice-url */
  const char *bitrate;        /* ice-bitrate (kbit/s) */
  const char *audio_info;     /* ice-audio-info: "bitrate=128;channels=2;samplerate=44100" */
} EchoRadioIceHeaders;

/* The station's tags: GST_TAG_ORGANIZATION (name), GST_TAG_GENRE, GST_TAG_DESCRIPTION,
 * GST_TAG_HOMEPAGE (url), GST_TAG_NOMINAL_BITRATE (bit/s, from ice-bitrate or the bitrate
 * of ice-audio-info), GST_TAG_AUDIO_CODEC (from format). Values that are empty, not UTF-8
 * (Latin-1 is converted) or longer than ECHO_RADIO_METADATA_MAX are left out. Never NULL. */
GstTagList *echo_radio_station_tags (const EchoRadioIceHeaders *headers,
    EchoRadioFormat format);

/* A parsed /admin/metadata request. */
typedef struct {
  char *mount;                /* the mount=, validated */
  GstTagList *tags;           /* GST_TAG_TITLE (song=, or title=), GST_TAG_ARTIST (artist=,
                               * when song= is absent), GST_TAG_HOMEPAGE (url=); UTF-8 */
} EchoRadioMetadataUpdate;

/* Parses the raw (still %-encoded) query of GET /admin/metadata (or the form body of a POST,
 * as libshout sends it to servers that allow POST): mode=updinfo, mount=,
 * song= (or artist= and title=), url=, charset= (default ISO-8859-1, as Icecast; UTF-8 and
 * anything iconv knows). ECHO_RADIO_ERROR_INVALID for: another mode, a missing or invalid
 * mount, no song/title/artist, a value over ECHO_RADIO_METADATA_MAX bytes, bad %-escapes,
 * text that does not decode in its charset, or control characters (C0, DEL, C1) in it. */
EchoRadioMetadataUpdate *echo_radio_parse_metadata_query (const char *query, GError **error);
void echo_radio_metadata_update_free (EchoRadioMetadataUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioMetadataUpdate, echo_radio_metadata_update_free)

/* One parameter of a raw query (the last one of that name), %-decoded; NULL when absent,
 * malformed, or not a NUL-free UTF-8 text. */
char *echo_radio_query_value (const char *query, const char *name);

/* Decodes application/x-www-form-urlencoded text ('+' is a space) into bytes; NULL for a
 * malformed %-escape. */
GBytes *echo_radio_form_decode (const char *text, gsize len);

G_END_DECLS
