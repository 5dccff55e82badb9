/* echo-radio-icy.c: see echo-radio-icy.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-icy.h"

#include <string.h>

#define ICY_BLOCK_MAX (255 * 16)

char *
echo_radio_icy_stream_title (const GstTagList *tags)
{
  const char *title = NULL;
  const char *artist = NULL;

  if (tags != NULL) {
    gst_tag_list_peek_string_index (tags, GST_TAG_TITLE, 0, &title);
    gst_tag_list_peek_string_index (tags, GST_TAG_ARTIST, 0, &artist);
  }
  if (title != NULL && artist != NULL)
    return g_strdup_printf ("%s - %s", artist, title);
  return g_strdup (title != NULL ? title : artist != NULL ? artist : "");
}

/* Appends text, cut at a character boundary so the string stays within limit bytes. */
static void
append_cut (GString *out, const char *text, gsize limit)
{
  const char *end = text;

  while (*end != '\0') {
    const char *next = g_utf8_next_char (end);

    if (out->len + (gsize) (next - text) > limit)
      break;
    end = next;
  }
  g_string_append_len (out, text, end - text);
}

GBytes *
echo_radio_icy_block (const GstTagList *tags)
{
  g_autofree char *title = echo_radio_icy_stream_title (tags);
  const char *url = NULL;
  GString *text = g_string_sized_new (64);
  gsize units;

  if (tags != NULL)
    gst_tag_list_peek_string_index (tags, GST_TAG_HOMEPAGE, 0, &url);

  /* the length byte first; the room a URL needs is kept for it */
  g_string_append_c (text, '\0');
  g_string_append (text, "StreamTitle='");
  append_cut (text, title, ICY_BLOCK_MAX + 1 - strlen ("';") -
      (url != NULL ? strlen ("StreamUrl='';") + MIN (strlen (url), 512) : 0));
  g_string_append (text, "';");
  if (url != NULL) {
    g_string_append (text, "StreamUrl='");
    append_cut (text, url, ICY_BLOCK_MAX + 1 - strlen ("';"));
    g_string_append (text, "';");
  }
  units = (text->len - 1 + 15) / 16;
  text->str[0] = (char) units;
  while (text->len < 1 + units * 16)
    g_string_append_c (text, '\0');
  return g_string_free_to_bytes (text);
}

GBytes *
echo_radio_icy_unchanged_block (void)
{
  static const guint8 zero = 0;
  static GBytes *block;
  static gsize initialized;

  if (g_once_init_enter (&initialized)) {
    block = g_bytes_new_static (&zero, 1);
    g_once_init_leave (&initialized, 1);
  }
  return g_bytes_ref (block);
}

guint
echo_radio_icy_metaint_for_rate (guint bytes_per_second)
{
  guint64 metaint = (guint64) bytes_per_second * ECHO_RADIO_ICY_METAINT_TARGET_MS / 1000;

  metaint -= metaint % 16;
  return (guint) CLAMP (metaint, ECHO_RADIO_ICY_METAINT_MIN, ECHO_RADIO_ICY_METAINT_MAX);
}
