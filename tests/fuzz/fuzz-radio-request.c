/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: what Icecast clients send to echod's radio front, through the parsers of
 * orchestrator/radio (echo-radio-request.h, echo-radio-format.h, echo-radio-ogg.h,
 * echo-radio-icy.h). Checks what must hold for any input: no crash, no leak, every error
 * an ECHO_RADIO_ERROR with a 4xx status and a UTF-8 message, every accepted text UTF-8
 * without control characters, mount names valid, ICY blocks well formed, frame and page
 * offsets inside the input.
 *
 * Input: byte 0 picks the parser (low 3 bits); the rest is its text or bytes.
 *   0 Basic credentials   1 /admin/metadata query   2 a source head's Content-Type and
 *   ice-* values (split at '\n')   3 stream bytes: format sniffing, frame/page finding, Ogg
 *   header pages fed in pieces whose sizes come from the input   4 a title for an ICY block
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "echo-radio-format.h"
#include "echo-radio-icy.h"
#include "echo-radio-ogg.h"
#include "echo-radio-request.h"
#include "fuzz.h"

static void
check_error (GError *error)
{
  if (error == NULL || error->domain != ECHO_RADIO_ERROR ||
      !g_utf8_validate (error->message, -1, NULL))
    abort ();
  if (echo_radio_error_http_status (error->code) < 400 ||
      echo_radio_error_http_status (error->code) >= 500)
    abort ();
}

static void
check_text (const char *text)
{
  const char *p;

  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    abort ();
  for (p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      abort ();
  }
}

static void
check_tags (const GstTagList *tags)
{
  gint i, n = gst_tag_list_n_tags (tags);

  for (i = 0; i < n; i++) {
    const char *name = gst_tag_list_nth_tag_name (tags, (guint) i);
    const char *value = NULL;

    if (gst_tag_get_type (name) == G_TYPE_STRING &&
        gst_tag_list_peek_string_index (tags, name, 0, &value))
      check_text (value);
  }
}

static void
fuzz_basic_auth (const char *text)
{
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  if (echo_radio_parse_basic_auth (text, &user, &password)) {
    if (!g_utf8_validate (user, -1, NULL) || !g_utf8_validate (password, -1, NULL))
      abort ();
  } else if (user != NULL || password != NULL) {
    abort ();
  }
}

static void
fuzz_metadata_query (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoRadioMetadataUpdate) update = echo_radio_parse_metadata_query (text, &error);
  g_autofree char *mount = echo_radio_query_value (text, "mount");

  if (mount != NULL && !g_utf8_validate (mount, -1, NULL))
    abort ();
  if (update == NULL) {
    check_error (error);
    return;
  }
  if (error != NULL || !echo_radio_mount_is_valid (update->mount))
    abort ();
  check_tags (update->tags);
}

static void
fuzz_source_head (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", 8);
  const char *values[7] = { NULL };
  EchoRadioIceHeaders ice;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstTagList) tags = NULL;
  EchoRadioFormat format = ECHO_RADIO_FORMAT_UNKNOWN;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (values) && lines[i] != NULL; i++)
    values[i] = lines[i];
  if (echo_radio_source_content_type (values[0], &format, &error) == NULL)
    check_error (error);
  ice.name = values[1];
  ice.genre = values[2];
  ice.description = values[3];
  ice.url = values[4];
  ice.bitrate = values[5];
  ice.audio_info = values[6];
  tags = echo_radio_station_tags (&ice, format);
  check_tags (tags);
}

static void
fuzz_stream (const guint8 *data, gsize size)
{
  static const EchoRadioFormat formats[] = { ECHO_RADIO_FORMAT_MP3, ECHO_RADIO_FORMAT_AAC,
    ECHO_RADIO_FORMAT_OGG, ECHO_RADIO_FORMAT_FLAC };
  g_autoptr (EchoRadioOgg) ogg = echo_radio_ogg_new ();
  g_autoptr (GBytes) headers = NULL;
  guint64 start = 0, end = 0;
  gsize at = 0;
  guint i;

  echo_radio_format_sniff (data, size);
  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gssize found = echo_radio_format_find_unit (formats[i], data, size);

    if (found >= 0 && (gsize) found > size)
      abort ();
    if (found > 0 || (found == 0 && size > 0))
      echo_radio_format_unit_length (formats[i], data + found, size - (gsize) found);
  }
  /* piece sizes from the data itself, so cuts fall everywhere */
  while (at < size) {
    gsize piece = 1 + data[at] % 61;

    piece = MIN (piece, size - at);
    echo_radio_ogg_feed (ogg, data + at, piece, at);
    at += piece;
  }
  headers = echo_radio_ogg_get_headers (ogg, &start, &end);
  if (headers != NULL && (end <= start || end > size || g_bytes_get_size (headers) > end - start))
    abort ();
}

static void
fuzz_icy_block (const char *text)
{
  g_autoptr (GstTagList) tags = gst_tag_list_new_empty ();
  g_autoptr (GBytes) block = NULL;
  const guint8 *bytes;
  gsize len;

  if (g_utf8_validate (text, -1, NULL) && text[0] != '\0')
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, text, GST_TAG_HOMEPAGE, text,
        NULL);
  block = echo_radio_icy_block (tags);
  bytes = g_bytes_get_data (block, &len);
  if (len != 1 + 16 * (gsize) bytes[0] || len > 1 + 255 * 16 ||
      !g_utf8_validate ((const char *) bytes + 1, -1, NULL))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;

  if (size < 1)
    return 0;
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  text = g_strndup ((const char *) data + 1, size - 1);
  switch (data[0] & 7) {
    case 0:
      fuzz_basic_auth (text);
      break;
    case 1:
      fuzz_metadata_query (text);
      break;
    case 2:
      fuzz_source_head (text);
      break;
    case 3:
      fuzz_stream (data + 1, size - 1);
      break;
    default:
      fuzz_icy_block (text);
      break;
  }
  return 0;
}
