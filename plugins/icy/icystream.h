/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icystream.h: splits an ICY byte stream into audio ranges and metadata blocks.
 *
 * An ICY stream is metaint audio bytes, one length byte L, L * 16 bytes of metadata, then
 * metaint audio bytes again, and so on. The splitter takes the stream in pieces of any size
 * and hands back what each byte is. Audio that lies in the piece just fed is reported as an
 * offset into that piece, so the caller can pass it on without copying.
 *
 * When a metadata block is not plausible text, the splitter has lost its place (truncated
 * capture, corrupted data, wrong interval). It reports that once per loss, then holds the
 * bytes while it searches for a run of boundaries that fit the interval, passes everything
 * before the first of them as audio, and goes on from there.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "icymeta.h"

G_BEGIN_DECLS

/* How many consecutive boundaries must fit before the splitter trusts a new alignment. */
#define ICY_RESYNC_BOUNDARIES 3

typedef enum
{
  ICY_CHUNK_AUDIO,              /* audio bytes */
  ICY_CHUNK_METADATA,           /* a complete, plausible metadata block (L > 0) */
  ICY_CHUNK_LOST_SYNC,          /* a block was not metadata; searching for the boundaries */
  ICY_CHUNK_FOUND_SYNC,         /* boundaries found again */
} IcyChunkKind;

typedef struct
{
  IcyChunkKind kind;
  const guint8 *data;           /* valid until the next call into the splitter */
  gsize size;
  /* AUDIO only: TRUE when data lies in the piece given to icy_stream_feed(), at
   * input_offset; FALSE when it comes from bytes the splitter held back. */
  gboolean in_input;
  gsize input_offset;
  /* where this chunk starts: in the audio-only stream, and in the input stream */
  guint64 audio_offset;
  guint64 raw_offset;
} IcyChunk;

typedef enum
{
  ICY_STATE_AUDIO,
  ICY_STATE_LENGTH,
  ICY_STATE_BLOCK,
  ICY_STATE_RESYNC,
} IcyState;

typedef struct
{
  guint metaint;                /* 0: no metadata, every byte is audio */
  IcyState state;
  gsize audio_left;             /* AUDIO: bytes until the next length byte */
  guint8 length_byte;
  gsize block_size, block_fill; /* BLOCK */
  guint8 block[1 + ICY_MAX_BLOCK_SIZE]; /* length byte + block, for resync */

  /* RESYNC: bytes held back, and candidate positions already ruled out */
  GByteArray *held;
  gsize held_pos;               /* bytes of held already handed out */
  gsize flush_to;               /* held bytes up to here are audio still to hand out */
  gsize scan_from;

  /* the piece being fed */
  const guint8 *input;
  gsize input_size, input_pos;

  guint64 audio_offset, raw_offset;
} IcyStream;

void icy_stream_init (IcyStream * s, guint metaint);
void icy_stream_clear (IcyStream * s);
void icy_stream_reset (IcyStream * s, guint metaint);
void icy_stream_feed (IcyStream * s, const guint8 * data, gsize size);
gboolean icy_stream_next (IcyStream * s, IcyChunk * chunk);
gboolean icy_stream_take_audio (IcyStream * s, gsize size, IcyChunk * chunk);
gboolean icy_stream_finish (IcyStream * s, IcyChunk * chunk,
    gboolean * truncated);

G_END_DECLS
