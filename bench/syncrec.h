/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * syncrec.h: the recording format of echosimsink, read by sync-analyze.
 *
 * A recording says which sample values a simulated sound card played, and at which
 * CLOCK_MONOTONIC instant each frame played. All numbers are little-endian.
 *
 *   header (40 bytes)
 *     char   magic[8]       "ECHOREC1"
 *     u32    version        1
 *     u32    rate           frames per second of the stream (nominal)
 *     u32    channels
 *     u32    reserved       0
 *     f64    skew_ppm       the device's crystal error: it plays rate * (1 + skew_ppm * 1e-6)
 *                           frames per second of CLOCK_MONOTONIC
 *     i64    open_host_ns   CLOCK_MONOTONIC when the sink was opened (the receiver joined)
 *   then blocks, each
 *     i64    host_ns        CLOCK_MONOTONIC at which the block's first frame plays
 *     u32    frames
 *     u32    flags          ECHO_SYNC_REC_FLAG_*
 *     f32    samples[frames * channels]   interleaved; S16 input is stored as s / 32768
 *
 * Frame j of a block plays at host_ns + j * 1e9 / (rate * (1 + skew_ppm * 1e-6)). Blocks
 * follow each other in time: a block starts where the previous one ends (same device
 * timeline) or later (the device played silence in between, and the block is flagged GAP).
 *
 * A block with ECHO_SYNC_REC_FLAG_DROP has no frames: the device discarded what it still
 * held at host_ns (the sink was stopped), so frames of earlier blocks that would have
 * played at or after host_ns never played. The reader removes them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <time.h>
#include <glib.h>

G_BEGIN_DECLS

#define ECHO_SYNC_REC_MAGIC "ECHOREC1"
#define ECHO_SYNC_REC_VERSION 1
#define ECHO_SYNC_REC_HEADER_SIZE 40
#define ECHO_SYNC_REC_BLOCK_HEADER_SIZE 16
/* what the reader accepts */
#define ECHO_SYNC_REC_MAX_RATE 1000000
#define ECHO_SYNC_REC_MAX_CHANNELS 256

typedef enum
{
  /* the device ran dry (or was reset) right before this block: silence played before it */
  ECHO_SYNC_REC_FLAG_GAP = 1 << 0,
  /* a zero-frame marker: frames of earlier blocks playing at or after host_ns were dropped */
  ECHO_SYNC_REC_FLAG_DROP = 1 << 1,
} EchoSyncRecFlags;

#define ECHO_SYNC_REC_KNOWN_FLAGS (ECHO_SYNC_REC_FLAG_GAP | ECHO_SYNC_REC_FLAG_DROP)

typedef struct
{
  guint32 version;
  guint32 rate;
  guint32 channels;
  gdouble skew_ppm;
  gint64 open_host_ns;
} EchoSyncRecHeader;

/* CLOCK_MONOTONIC in nanoseconds: the host time of every recording. */
static inline gint64
echo_sync_rec_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Frames per second of CLOCK_MONOTONIC that a device of this header plays. */
static inline gdouble
echo_sync_rec_device_rate (const EchoSyncRecHeader * header)
{
  return header->rate * (1.0 + header->skew_ppm * 1e-6);
}

#define ECHO_SYNC_REC_ERROR (echo_sync_rec_error_quark ())
GQuark echo_sync_rec_error_quark (void);

typedef enum
{
  ECHO_SYNC_REC_ERROR_FORMAT,   /* not a valid recording; the message names file and offset */
  ECHO_SYNC_REC_ERROR_IO,
} EchoSyncRecError;

/* ---- writing ---- */

typedef enum
{
  ECHO_SYNC_REC_SAMPLES_F32,    /* native floats */
  ECHO_SYNC_REC_SAMPLES_F32LE,  /* raw little-endian float bytes */
  ECHO_SYNC_REC_SAMPLES_S16LE,  /* raw little-endian signed 16-bit bytes */
} EchoSyncRecSamples;

typedef struct _EchoSyncRecWriter EchoSyncRecWriter;

/* Creates (truncates) the file; nothing is written before the header. */
EchoSyncRecWriter *echo_sync_rec_writer_open (const gchar * path, GError ** error);
gboolean echo_sync_rec_writer_write_header (EchoSyncRecWriter * writer,
    const EchoSyncRecHeader * header, GError ** error);
gboolean echo_sync_rec_writer_has_header (const EchoSyncRecWriter * writer);
/* One block of @frames frames (header's channel count); @data is in @format. */
gboolean echo_sync_rec_writer_add_block (EchoSyncRecWriter * writer,
    gint64 host_ns, guint32 flags, EchoSyncRecSamples format,
    gconstpointer data, guint32 frames, GError ** error);
/* The zero-frame ECHO_SYNC_REC_FLAG_DROP marker. */
gboolean echo_sync_rec_writer_add_drop (EchoSyncRecWriter * writer,
    gint64 host_ns, GError ** error);
gboolean echo_sync_rec_writer_flush (EchoSyncRecWriter * writer, GError ** error);
/* Flushes, closes and frees; FALSE (and @error) when anything failed to reach the file. */
gboolean echo_sync_rec_writer_close (EchoSyncRecWriter * writer, GError ** error);

/* ---- reading ---- */

typedef struct
{
  gint64 host_ns;
  guint32 frames;
  guint32 flags;                /* ECHO_SYNC_REC_FLAG_GAP only: DROP markers are applied */
  guint64 first;                /* index of its first frame in EchoSyncRec.samples */
  guint64 offset;               /* byte offset of the block in the file */
} EchoSyncRecBlock;

typedef struct
{
  gchar *path;
  EchoSyncRecHeader header;
  guint channels;               /* channels in samples: header's, or 1 (first channel only) */
  GArray *blocks;               /* EchoSyncRecBlock, without empty ones */
  gfloat *samples;              /* n_frames * channels, interleaved */
  guint64 n_frames;
  guint n_drops;                /* DROP markers seen */
  guint64 dropped_frames;       /* frames they removed */
} EchoSyncRec;

typedef enum
{
  ECHO_SYNC_REC_LOAD_ALL_CHANNELS = 0,
  ECHO_SYNC_REC_LOAD_FIRST_CHANNEL = 1 << 0,
} EchoSyncRecLoadFlags;

EchoSyncRec *echo_sync_rec_load (const gchar * path, EchoSyncRecLoadFlags flags,
    GError ** error);
void echo_sync_rec_free (EchoSyncRec * rec);

/* Frame j of a block plays at block->host_ns + echo_sync_rec_frame_offset_ns (rec, j): the
 * integer start and the fraction are kept apart so that large CLOCK_MONOTONIC values lose no
 * precision. j = block->frames gives the instant the block has finished playing. */
static inline gdouble
echo_sync_rec_frame_offset_ns (const EchoSyncRec * rec, guint64 j)
{
  return (gdouble) j * 1e9 / echo_sync_rec_device_rate (&rec->header);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoSyncRec, echo_sync_rec_free);

G_END_DECLS
