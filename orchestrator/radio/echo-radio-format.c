/* echo-radio-format.c: see echo-radio-format.h. Frame headers are read as ISO/IEC 11172-3,
 * 13818-3 (MP3) and 13818-7 (ADTS) and RFC 3533 (Ogg) describe them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-format.h"

#include <string.h>

#include "echo-radio-error.h"

static const struct {
  const char *type;
  EchoRadioFormat format;
} source_types[] = {
  { "audio/mpeg", ECHO_RADIO_FORMAT_MP3 },
  { "audio/ogg", ECHO_RADIO_FORMAT_OGG },
  { "application/ogg", ECHO_RADIO_FORMAT_OGG },
  { "audio/aac", ECHO_RADIO_FORMAT_AAC },
  { "audio/aacp", ECHO_RADIO_FORMAT_AAC },
  { "audio/flac", ECHO_RADIO_FORMAT_FLAC },
  { "audio/webm", ECHO_RADIO_FORMAT_WEBM },
};

const char *
echo_radio_source_content_type (const char *header, EchoRadioFormat *format, GError **error)
{
  g_autofree char *type = NULL;
  const char *end;
  guint i;

  if (header == NULL) {
    g_set_error_literal (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_UNSUPPORTED_TYPE,
        "No Content-Type: a source must say what it sends");
    return NULL;
  }
  end = strchr (header, ';');
  type = g_strstrip (g_ascii_strdown (header, end != NULL ? end - header : -1));
  for (i = 0; i < G_N_ELEMENTS (source_types); i++) {
    if (strcmp (type, source_types[i].type) == 0) {
      if (format != NULL)
        *format = source_types[i].format;
      return source_types[i].type;
    }
  }
  g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_UNSUPPORTED_TYPE,
      "Content type not supported: %s", g_utf8_validate (type, -1, NULL) ? type : "(binary)");
  return NULL;
}

const char *
echo_radio_format_content_type (EchoRadioFormat format)
{
  switch (format) {
    case ECHO_RADIO_FORMAT_MP3:
      return "audio/mpeg";
    case ECHO_RADIO_FORMAT_AAC:
      return "audio/aac";
    case ECHO_RADIO_FORMAT_OGG:
      return "audio/ogg";
    case ECHO_RADIO_FORMAT_FLAC:
      return "audio/flac";
    case ECHO_RADIO_FORMAT_WEBM:
      return "audio/webm";
    case ECHO_RADIO_FORMAT_UNKNOWN:
      break;
  }
  return NULL;
}

const char *
echo_radio_format_codec_name (EchoRadioFormat format)
{
  switch (format) {
    case ECHO_RADIO_FORMAT_MP3:
      return "MPEG-1 Layer 3 (MP3)";
    case ECHO_RADIO_FORMAT_AAC:
      return "MPEG-4 AAC";
    case ECHO_RADIO_FORMAT_OGG:
      return "Ogg";
    case ECHO_RADIO_FORMAT_FLAC:
      return "Free Lossless Audio Codec (FLAC)";
    case ECHO_RADIO_FORMAT_WEBM:
      return "WebM";
    case ECHO_RADIO_FORMAT_UNKNOWN:
      break;
  }
  return NULL;
}

gboolean
echo_radio_format_has_icy (EchoRadioFormat format)
{
  return format == ECHO_RADIO_FORMAT_MP3 || format == ECHO_RADIO_FORMAT_AAC;
}

/* kbit/s by [MPEG-1?][layer 1..3][index] */
static const guint16 mp3_bitrates[2][3][15] = {
  { /* MPEG-2 and 2.5 */
    { 0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256 },
    { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 },
    { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 },
  },
  { /* MPEG-1 */
    { 0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448 },
    { 0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384 },
    { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 },
  },
};

/* An MPEG audio frame header's fields, from the 4 bytes at h; FALSE when none starts there. */
typedef struct {
  guint version;                /* 0: 2.5, 2: MPEG-2, 3: MPEG-1 */
  guint layer;                  /* 1..3 */
  guint bitrate;                /* bit/s */
  guint rate;                   /* Hz */
  guint padding;
} Mp3Header;

static gboolean
mp3_header (const guint8 *h, gsize len, Mp3Header *out)
{
  static const guint rates[3] = { 44100, 48000, 32000 };
  guint bitrate_index, rate_index;

  if (len < 4 || h[0] != 0xff || (h[1] & 0xe0) != 0xe0)
    return FALSE;
  out->version = (h[1] >> 3) & 3;   /* 1: reserved */
  out->layer = 4 - ((h[1] >> 1) & 3);       /* 4: reserved */
  bitrate_index = h[2] >> 4;
  rate_index = (h[2] >> 2) & 3;
  out->padding = (h[2] >> 1) & 1;
  if (out->version == 1 || out->layer == 4 || bitrate_index == 0 || bitrate_index == 15 ||
      rate_index == 3)
    return FALSE;
  out->bitrate = mp3_bitrates[out->version == 3][out->layer - 1][bitrate_index] * 1000;
  out->rate = rates[rate_index] >> (out->version == 3 ? 0 : out->version == 2 ? 1 : 2);
  return TRUE;
}

static gsize
mp3_frame_length (const guint8 *h, gsize len)
{
  Mp3Header m;

  if (!mp3_header (h, len, &m))
    return 0;
  if (m.layer == 1)
    return (12 * m.bitrate / m.rate + m.padding) * 4;
  if (m.layer == 3 && m.version != 3)
    return 72 * m.bitrate / m.rate + m.padding;
  return 144 * m.bitrate / m.rate + m.padding;
}

static const guint adts_rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
  22050, 16000, 12000, 11025, 8000, 7350 };

static gsize
adts_frame_length (const guint8 *h, gsize len)
{
  gsize frame;

  if (len < 7 || h[0] != 0xff || (h[1] & 0xf6) != 0xf0 ||
      ((h[2] >> 2) & 0xf) >= G_N_ELEMENTS (adts_rates))
    return 0;
  frame = ((gsize) (h[3] & 3) << 11) | ((gsize) h[4] << 3) | (h[5] >> 5);
  return frame >= 7 ? frame : 0;
}

static gsize
ogg_page_length (const guint8 *h, gsize len)
{
  gsize body = 0;
  guint i, segments;

  if (len < 27 || memcmp (h, "OggS", 4) != 0 || h[4] != 0 || (h[5] & ~7) != 0)
    return 0;
  segments = h[26];
  if (len < 27 + (gsize) segments)
    return 0;
  for (i = 0; i < segments; i++)
    body += h[27 + i];
  return 27 + segments + body;
}

gsize
echo_radio_format_unit_length (EchoRadioFormat format, const guint8 *data, gsize len)
{
  switch (format) {
    case ECHO_RADIO_FORMAT_MP3:
      return mp3_frame_length (data, len);
    case ECHO_RADIO_FORMAT_AAC:
      return adts_frame_length (data, len);
    case ECHO_RADIO_FORMAT_OGG:
      return ogg_page_length (data, len);
    case ECHO_RADIO_FORMAT_FLAC:
    case ECHO_RADIO_FORMAT_WEBM:
    case ECHO_RADIO_FORMAT_UNKNOWN:
      break;
  }
  return 0;
}

/* The most bytes a unit's header may take (Ogg: 27 plus up to 255 lacing values). */
static gsize
longest_header (EchoRadioFormat format)
{
  return format == ECHO_RADIO_FORMAT_OGG ? 27 + 255 : format == ECHO_RADIO_FORMAT_AAC ? 7 : 4;
}

gssize
echo_radio_format_find_unit (EchoRadioFormat format, const guint8 *data, gsize len)
{
  gsize i;

  if (format != ECHO_RADIO_FORMAT_MP3 && format != ECHO_RADIO_FORMAT_AAC &&
      format != ECHO_RADIO_FORMAT_OGG)
    return 0;
  for (i = 0; i < len; i++) {
    gsize unit = echo_radio_format_unit_length (format, data + i, len - i);
    gsize next;

    if (unit == 0)
      continue;
    if (i + unit >= len)
      return i;               /* the next header is not here to confirm it: take it */
    next = echo_radio_format_unit_length (format, data + i + unit, len - i - unit);
    /* a next header cut off by len cannot be checked either */
    if (next != 0 || len - i - unit < longest_header (format))
      return i;
  }
  return -1;
}

EchoRadioFormat
echo_radio_format_sniff (const guint8 *data, gsize len)
{
  gsize unit;

  if (len >= 4 && memcmp (data, "OggS", 4) == 0)
    return ECHO_RADIO_FORMAT_OGG;
  if (len >= 4 && memcmp (data, "fLaC", 4) == 0)
    return ECHO_RADIO_FORMAT_FLAC;
  if (len >= 4 && memcmp (data, "\x1a\x45\xdf\xa3", 4) == 0)
    return ECHO_RADIO_FORMAT_WEBM;
  unit = mp3_frame_length (data, len);
  if (unit != 0 && mp3_frame_length (data + MIN (unit, len), len - MIN (unit, len)) != 0)
    return ECHO_RADIO_FORMAT_MP3;
  unit = adts_frame_length (data, len);
  if (unit != 0 && adts_frame_length (data + MIN (unit, len), len - MIN (unit, len)) != 0)
    return ECHO_RADIO_FORMAT_AAC;
  return ECHO_RADIO_FORMAT_UNKNOWN;
}

gboolean
echo_radio_format_unit_duration (EchoRadioFormat format, const guint8 *data, gsize len,
    guint *samples, guint *rate)
{
  Mp3Header m;

  g_return_val_if_fail (samples != NULL && rate != NULL, FALSE);

  switch (format) {
    case ECHO_RADIO_FORMAT_MP3:
      if (!mp3_header (data, len, &m))
        return FALSE;
      *rate = m.rate;
      *samples = m.layer == 1 ? 384 : m.layer == 2 || m.version == 3 ? 1152 : 576;
      return TRUE;
    case ECHO_RADIO_FORMAT_AAC:
      if (adts_frame_length (data, len) == 0)
        return FALSE;
      *rate = adts_rates[(data[2] >> 2) & 0xf];
      /* 1024 samples per raw data block */
      *samples = 1024 * ((data[6] & 3) + 1);
      return TRUE;
    case ECHO_RADIO_FORMAT_OGG:
    case ECHO_RADIO_FORMAT_FLAC:
    case ECHO_RADIO_FORMAT_WEBM:
    case ECHO_RADIO_FORMAT_UNKNOWN:
      break;
  }
  return FALSE;
}
