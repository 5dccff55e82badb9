/* echo-radio-format.h: the audio containers a radio source may send, and what the relay needs
 * to know about their bytes without decoding them: the format from a Content-Type or the first
 * bytes, and where a frame (MP3, ADTS) or page (Ogg) starts, so a new listener's first byte is
 * one a player can start on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  ECHO_RADIO_FORMAT_UNKNOWN,
  ECHO_RADIO_FORMAT_MP3,      /* MPEG-1/2/2.5 audio, layers I..III */
  ECHO_RADIO_FORMAT_AAC,      /* ADTS */
  ECHO_RADIO_FORMAT_OGG,      /* Vorbis, Opus, FLAC in Ogg */
  ECHO_RADIO_FORMAT_FLAC,
  ECHO_RADIO_FORMAT_WEBM,
} EchoRadioFormat;

/* A source's Content-Type ("audio/mpeg; charset=x" style) -> the canonical media type
 * (static: audio/mpeg, audio/ogg, application/ogg, audio/aac, audio/aacp, audio/flac,
 * audio/webm) and its format; NULL (ECHO_RADIO_ERROR_UNSUPPORTED_TYPE) for anything else,
 * a missing header included. */
const char *echo_radio_source_content_type (const char *header, EchoRadioFormat *format,
    GError **error);

/* What a stream's first bytes are when they say it (Ogg, FLAC, WebM by their magic; MP3 and
 * ADTS by two consecutive frame headers); UNKNOWN otherwise. */
EchoRadioFormat echo_radio_format_sniff (const guint8 *data, gsize len);
/* The media type a listener gets for a format (e.g. "audio/ogg"); NULL for UNKNOWN. */
const char *echo_radio_format_content_type (EchoRadioFormat format);
/* The codec name for GST_TAG_AUDIO_CODEC, e.g. "MPEG-1 Layer 3 (MP3)"; NULL for UNKNOWN. */
const char *echo_radio_format_codec_name (EchoRadioFormat format);
/* Whether listeners get in-band ICY metadata on this format (MP3 and AAC, as Icecast). */
gboolean echo_radio_format_has_icy (EchoRadioFormat format);

/* The length of the MP3 frame / ADTS frame / Ogg page whose header starts at data, or 0 when
 * no valid header starts there (or it is cut off by len). */
gsize echo_radio_format_unit_length (EchoRadioFormat format, const guint8 *data, gsize len);

/* The samples and sample rate of the MP3 or ADTS frame whose header starts at data; FALSE
 * for other formats and when no valid header starts there. */
gboolean echo_radio_format_unit_duration (EchoRadioFormat format, const guint8 *data,
    gsize len, guint *samples, guint *rate);

/* The first offset in data[0..len) where a unit (frame or page) starts, checked by the next
 * unit's header when it lies within len; -1 when there is none (UNKNOWN, FLAC and WebM have
 * no units here: 0 is returned, the stream is relayed from where it is). */
gssize echo_radio_format_find_unit (EchoRadioFormat format, const guint8 *data, gsize len);

G_END_DECLS
