/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: the ICY byte-stream splitter, fed in pieces of varying size. Checks what
 * must hold for any input: audio chunks are contiguous in the audio stream, in-input
 * chunks point into the piece just fed, nothing is handed out twice, and every byte is
 * accounted for at the end.
 *
 * Input: bytes 0-1 the interval (big endian, 0 = none), byte 2 the piece-size seed, then
 * the stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include "fuzz.h"
#include "icystream.h"

typedef struct
{
  guint64 audio;                /* audio bytes handed out */
  guint64 accounted;            /* audio + length bytes + blocks */
  guint lost;
} Totals;

static void
check_chunk (const IcyChunk * c, const guint8 * piece, gsize piece_size,
    Totals * t)
{
  switch (c->kind) {
    case ICY_CHUNK_AUDIO:
      if (c->audio_offset != t->audio || c->size == 0)
        abort ();
      if (c->in_input && (c->data != piece + c->input_offset
              || c->input_offset + c->size > piece_size))
        abort ();
      t->audio += c->size;
      t->accounted += c->size;
      break;
    case ICY_CHUNK_METADATA:
      if (c->size == 0 || c->size > ICY_MAX_BLOCK_SIZE || c->size % 16 != 0
          || !icy_block_is_plausible (c->data, c->size))
        abort ();
      t->accounted += 1 + c->size;
      break;
    case ICY_CHUNK_LOST_SYNC:
      t->lost++;
      break;
    case ICY_CHUNK_FOUND_SYNC:
      break;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  IcyStream s;
  IcyChunk chunk;
  guint metaint;
  guint seed;
  gsize pos = 0;
  gboolean truncated = FALSE;
  Totals t = { 0 };

  if (size < 3)
    return 0;
  metaint = (data[0] << 8) | data[1];
  seed = data[2];
  data += 3;
  size -= 3;

  icy_stream_init (&s, metaint);
  for (guint i = 0; pos < size; i++) {
    /* piece sizes 1..256, varying with the seed */
    gsize n = MIN (size - pos, (gsize) ((seed * (i + 7) * 31) % 256) + 1);

    /* as the element does: audio-only pieces are accounted without being read */
    if ((seed & 1) && icy_stream_take_audio (&s, n, &chunk)) {
      if (chunk.size != n || chunk.audio_offset != t.audio)
        abort ();
      t.audio += n;
      t.accounted += n;
      pos += n;
      continue;
    }
    icy_stream_feed (&s, data + pos, n);
    while (icy_stream_next (&s, &chunk))
      check_chunk (&chunk, data + pos, n, &t);
    pos += n;
  }
  while (icy_stream_finish (&s, &chunk, &truncated))
    check_chunk (&chunk, NULL, 0, &t);

  /* Without a lost sync or a truncated block, every byte is audio, a length byte or a
   * block; length bytes of empty blocks are the only bytes not counted above. */
  if (t.accounted > size)
    abort ();
  if (metaint == 0 && t.audio != size)
    abort ();
  icy_stream_clear (&s);
  return 0;
}
