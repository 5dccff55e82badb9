/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "icytest.h"

#include <string.h>

/* Appends a length byte and the text padded with NULs to a multiple of 16. */
void
icy_test_append_block (GByteArray * out, const gchar * text)
{
  gsize len = strlen (text);
  guint8 blocks = (guint8) ((len + 15) / 16);
  static const guint8 zeros[16];

  g_assert (len <= 255 * 16);
  g_byte_array_append (out, &blocks, 1);
  g_byte_array_append (out, (const guint8 *) text, len);
  g_byte_array_append (out, zeros, blocks * 16 - len);
}

/**
 * icy_test_stream_new:
 * @metaint: bytes of audio between blocks
 * @audio_len: how many audio bytes
 * @audio: (nullable): the audio bytes; %NULL for pseudo-random bytes (fixed seed)
 * @texts: (nullable): metadata texts, used in turn
 * @title_every: a non-empty block every this many boundaries (the others are empty,
 *   as Icecast sends them); 0 for none
 */
IcyTestStream *
icy_test_stream_new (guint metaint, gsize audio_len, const guint8 * audio,
    const gchar * const *texts, guint title_every)
{
  IcyTestStream *s = g_new0 (IcyTestStream, 1);
  guint n_texts = texts ? g_strv_length ((gchar **) texts) : 0;
  guint boundary = 0, next_text = 0;

  s->stream = g_byte_array_new ();
  s->audio = g_byte_array_sized_new (audio_len);
  s->block_audio_offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  s->block_texts = g_ptr_array_new_with_free_func (g_free);

  if (audio != NULL) {
    g_byte_array_append (s->audio, audio, audio_len);
  } else {
    GRand *rand = g_rand_new_with_seed (0x1c7);

    g_byte_array_set_size (s->audio, audio_len);
    for (gsize i = 0; i < audio_len; i++)
      s->audio->data[i] = g_rand_int_range (rand, 0, 256);
    g_rand_free (rand);
  }

  for (gsize pos = 0; pos < audio_len;) {
    gsize n = metaint ? MIN (metaint, audio_len - pos) : audio_len;

    g_byte_array_append (s->stream, s->audio->data + pos, n);
    pos += n;
    if (metaint == 0 || n < metaint)
      break;
    if (n_texts > 0 && title_every > 0 && boundary % title_every == 0) {
      const gchar *text = texts[next_text++ % n_texts];
      guint64 at = pos;

      icy_test_append_block (s->stream, text);
      g_array_append_val (s->block_audio_offsets, at);
      g_ptr_array_add (s->block_texts, g_strdup (text));
    } else {
      icy_test_append_block (s->stream, "");
    }
    boundary++;
  }
  return s;
}

void
icy_test_stream_free (IcyTestStream * s)
{
  if (s == NULL)
    return;
  g_byte_array_unref (s->stream);
  g_byte_array_unref (s->audio);
  g_array_unref (s->block_audio_offsets);
  g_ptr_array_unref (s->block_texts);
  g_free (s);
}
