/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: the ICY metadata text parser and the response-head parser, with the
 * element's options. Checks what must hold for any input: no crash, no leak, and every
 * string handed out is valid UTF-8.
 *
 * Input: byte 0 picks the charset and separator; the rest is the block or head.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include "fuzz.h"
#include "icymeta.h"

static void
check_utf8 (const gchar * s)
{
  if (s != NULL && !g_utf8_validate (s, -1, NULL))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const gchar *charsets[] =
      { ICY_CHARSET_AUTO, "UTF-8", "windows-1251", "ISO-8859-2", "cp1252",
    "no-such-charset", "SHIFT_JIS", NULL
  };
  IcyParseOptions options;
  IcyMetadata *m;
  IcyResponseHead *head = NULL;
  GHashTableIter iter;
  gpointer value;

  if (size < 1)
    return 0;
  options.charset = charsets[data[0] % G_N_ELEMENTS (charsets)];
  options.separator = (data[0] & 0x80) ? " - " : NULL;
  data++;
  size--;

  (void) icy_block_is_plausible (data, size);
  if (size <= ICY_MAX_BLOCK_SIZE) {
    m = icy_metadata_parse (data, size, &options);
    check_utf8 (m->raw);
    check_utf8 (m->stream_title);
    check_utf8 (m->stream_url);
    check_utf8 (m->artist);
    check_utf8 (m->title);
    if (m->keys->len != m->values->len)
      abort ();
    for (guint i = 0; i < m->keys->len; i++) {
      check_utf8 (g_ptr_array_index (m->keys, i));
      check_utf8 (g_ptr_array_index (m->values, i));
    }
    icy_metadata_free (m);
  }

  if (icy_response_head_parse (data, size, options.charset,
          &head) == ICY_HEAD_COMPLETE) {
    if (head->length > size || head->metaint < 0)
      abort ();
    g_hash_table_iter_init (&iter, head->headers);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      check_utf8 (value);
    icy_response_head_free (head);
  }
  return 0;
}
