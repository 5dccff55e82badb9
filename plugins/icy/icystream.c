/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icystream.c: the ICY byte-stream state machine (see icystream.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "icystream.h"

#include <string.h>

void
icy_stream_init (IcyStream * s, guint metaint)
{
  memset (s, 0, sizeof (*s));
  s->held = g_byte_array_new ();
  icy_stream_reset (s, metaint);
}

void
icy_stream_clear (IcyStream * s)
{
  g_clear_pointer (&s->held, g_byte_array_unref);
}

/* Starts over at an interval boundary (a new connection, a flush, a new interval). Held
 * bytes are dropped: drain them with icy_stream_finish() first to keep them. */
void
icy_stream_reset (IcyStream * s, guint metaint)
{
  s->metaint = metaint;
  s->state = ICY_STATE_AUDIO;
  s->audio_left = metaint;
  s->block_size = s->block_fill = 0;
  g_byte_array_set_size (s->held, 0);
  s->held_pos = s->flush_to = s->scan_from = 0;
  s->input = NULL;
  s->input_size = s->input_pos = 0;
}

void
icy_stream_feed (IcyStream * s, const guint8 * data, gsize size)
{
  g_return_if_fail (s->input_pos == s->input_size);

  s->input = data;
  s->input_size = size;
  s->input_pos = 0;
}

/* Bytes are read from the held array while it has some (after a resync), else from the
 * piece being fed. */
static const guint8 *
source (IcyStream * s, gsize * avail, gboolean * in_input)
{
  if (s->state != ICY_STATE_RESYNC && s->held_pos < s->held->len) {
    *avail = s->held->len - s->held_pos;
    *in_input = FALSE;
    return s->held->data + s->held_pos;
  }
  *avail = s->input_size - s->input_pos;
  *in_input = TRUE;
  return s->input + s->input_pos;
}

static void
consume (IcyStream * s, gsize n, gboolean in_input)
{
  if (in_input)
    s->input_pos += n;
  else
    s->held_pos += n;
  s->raw_offset += n;
}

typedef enum
{
  CHAIN_FITS,
  CHAIN_BROKEN,
  CHAIN_NEED_MORE,
} ChainResult;

/* Do ICY_RESYNC_BOUNDARIES boundaries, the first at @p, fit the interval? */
static ChainResult
check_chain (const guint8 * d, gsize n, gsize p, guint metaint)
{
  for (guint i = 0; i < ICY_RESYNC_BOUNDARIES; i++) {
    gsize size;

    if (p >= n)
      return CHAIN_NEED_MORE;
    size = (gsize) d[p] * 16;
    if (p + 1 + size > n)
      return CHAIN_NEED_MORE;
    if (!icy_block_is_plausible (d + p + 1, size))
      return CHAIN_BROKEN;
    p += 1 + size + metaint;
  }
  return CHAIN_FITS;
}

/* Searches the held bytes for the next boundary. A boundary must start within any
 * metaint + 1 + ICY_MAX_BLOCK_SIZE bytes; when none of those positions can start a fitting
 * chain, they are all audio (or garbage nobody can place) and are passed on. */
static gboolean
resync_step (IcyStream * s, IcyChunk * chunk)
{
  const guint8 *d = s->held->data + s->held_pos;
  gsize n = s->held->len - s->held_pos;
  gsize window = (gsize) s->metaint + 1 + ICY_MAX_BLOCK_SIZE;

  for (; s->scan_from < window; s->scan_from++) {
    ChainResult r = check_chain (d, n, s->scan_from, s->metaint);

    if (r == CHAIN_NEED_MORE)
      return FALSE;
    if (r == CHAIN_FITS) {
      s->flush_to = s->held_pos + s->scan_from;
      s->scan_from = 0;
      s->state = ICY_STATE_LENGTH;
      memset (chunk, 0, sizeof (*chunk));
      chunk->kind = ICY_CHUNK_FOUND_SYNC;
      chunk->audio_offset = s->audio_offset;
      chunk->raw_offset = s->raw_offset + (s->flush_to - s->held_pos);
      return TRUE;
    }
  }
  s->flush_to = s->held_pos + window;
  s->scan_from = 0;
  return FALSE;
}

static void
audio_chunk (IcyStream * s, IcyChunk * chunk, const guint8 * data, gsize size,
    gboolean in_input)
{
  chunk->kind = ICY_CHUNK_AUDIO;
  chunk->data = data;
  chunk->size = size;
  chunk->in_input = in_input;
  chunk->input_offset = in_input ? s->input_pos : 0;
  chunk->audio_offset = s->audio_offset;
  chunk->raw_offset = s->raw_offset;
  consume (s, size, in_input);
  s->audio_offset += size;
}

static void
lose_sync (IcyStream * s, IcyChunk * chunk)
{
  gsize block_bytes = 1 + s->block_size;

  /* The length byte and the block were probably audio; they go back in front of whatever
   * is still unread, and the search starts from them. */
  g_byte_array_remove_range (s->held, 0, s->held_pos);
  s->held_pos = s->flush_to = s->scan_from = 0;
  g_byte_array_prepend (s->held, s->block, block_bytes);
  s->raw_offset -= block_bytes;
  s->state = ICY_STATE_RESYNC;

  memset (chunk, 0, sizeof (*chunk));
  chunk->kind = ICY_CHUNK_LOST_SYNC;
  chunk->data = s->block + 1;
  chunk->size = s->block_size;
  chunk->audio_offset = s->audio_offset;
  chunk->raw_offset = s->raw_offset;
}

/**
 * icy_stream_next:
 *
 * Hands back the next chunk of the piece fed last. Call until it returns %FALSE, then feed
 * the next piece. The chunk's data stays valid until the next call.
 */
gboolean
icy_stream_next (IcyStream * s, IcyChunk * chunk)
{
  for (;;) {
    const guint8 *p;
    gsize avail, n;
    gboolean in_input;

    /* audio passed on from held bytes after a resync step */
    if (s->flush_to > s->held_pos) {
      gsize size = s->flush_to - s->held_pos;

      audio_chunk (s, chunk, s->held->data + s->held_pos, size, FALSE);
      return TRUE;
    }
    if (s->held_pos > 0 && s->held_pos == s->held->len) {
      g_byte_array_set_size (s->held, 0);
      s->held_pos = s->flush_to = 0;
    }

    if (s->state == ICY_STATE_RESYNC) {
      if (s->held_pos > 0) {
        g_byte_array_remove_range (s->held, 0, s->held_pos);
        s->held_pos = s->flush_to = 0;
      }
      if (s->input_pos < s->input_size) {
        g_byte_array_append (s->held, s->input + s->input_pos,
            s->input_size - s->input_pos);
        s->input_pos = s->input_size;
      }
      if (resync_step (s, chunk))
        return TRUE;
      if (s->flush_to > s->held_pos)
        continue;
      return FALSE;
    }

    p = source (s, &avail, &in_input);
    if (avail == 0)
      return FALSE;

    switch (s->state) {
      case ICY_STATE_AUDIO:
        if (s->metaint > 0 && s->audio_left == 0) {
          s->state = ICY_STATE_LENGTH;
          continue;
        }
        n = s->metaint > 0 ? MIN (avail, s->audio_left) : avail;
        audio_chunk (s, chunk, p, n, in_input);
        if (s->metaint > 0)
          s->audio_left -= n;
        return TRUE;

      case ICY_STATE_LENGTH:
        s->block[0] = p[0];
        consume (s, 1, in_input);
        if (p[0] == 0) {
          /* metadata unchanged */
          s->state = ICY_STATE_AUDIO;
          s->audio_left = s->metaint;
        } else {
          s->block_size = (gsize) p[0] * 16;
          s->block_fill = 0;
          s->state = ICY_STATE_BLOCK;
        }
        continue;

      case ICY_STATE_BLOCK:
        n = MIN (avail, s->block_size - s->block_fill);
        memcpy (s->block + 1 + s->block_fill, p, n);
        consume (s, n, in_input);
        s->block_fill += n;
        if (s->block_fill < s->block_size)
          continue;
        if (!icy_block_is_plausible (s->block + 1, s->block_size)) {
          lose_sync (s, chunk);
          return TRUE;
        }
        s->state = ICY_STATE_AUDIO;
        s->audio_left = s->metaint;
        memset (chunk, 0, sizeof (*chunk));
        chunk->kind = ICY_CHUNK_METADATA;
        chunk->data = s->block + 1;
        chunk->size = s->block_size;
        chunk->audio_offset = s->audio_offset;
        chunk->raw_offset = s->raw_offset - 1 - s->block_size;
        return TRUE;

      case ICY_STATE_RESYNC:
        g_assert_not_reached ();
    }
  }
}

/**
 * icy_stream_take_audio:
 *
 * When the next @size input bytes are all audio (no boundary among them, nothing held),
 * accounts for them without looking at them and returns %TRUE with @chunk describing
 * them; otherwise does nothing and returns %FALSE: feed them instead. Most pieces of a
 * real stream are audio only, so this spares the caller mapping them.
 */
gboolean
icy_stream_take_audio (IcyStream * s, gsize size, IcyChunk * chunk)
{
  g_return_val_if_fail (s->input_pos == s->input_size, FALSE);

  if (size == 0 || s->state != ICY_STATE_AUDIO || s->held_pos < s->held->len
      || (s->metaint > 0 && s->audio_left < size))
    return FALSE;

  memset (chunk, 0, sizeof (*chunk));
  chunk->kind = ICY_CHUNK_AUDIO;
  chunk->size = size;
  chunk->in_input = TRUE;
  chunk->audio_offset = s->audio_offset;
  chunk->raw_offset = s->raw_offset;
  s->raw_offset += size;
  s->audio_offset += size;
  if (s->metaint > 0)
    s->audio_left -= size;
  return TRUE;
}

/**
 * icy_stream_finish:
 * @truncated: (out): set to %TRUE when the stream ended inside a metadata block
 *
 * At the end of the stream: hands back the bytes still held as audio (call until it returns
 * %FALSE), then starts over as icy_stream_reset() with the same interval.
 */
gboolean
icy_stream_finish (IcyStream * s, IcyChunk * chunk, gboolean * truncated)
{
  if (s->state == ICY_STATE_BLOCK && s->block_fill < s->block_size) {
    *truncated = TRUE;
    s->block_fill = s->block_size;      /* report it once */
  }
  if (s->held_pos < s->held->len) {
    audio_chunk (s, chunk, s->held->data + s->held_pos,
        s->held->len - s->held_pos, FALSE);
    return TRUE;
  }
  icy_stream_reset (s, s->metaint);
  return FALSE;
}
