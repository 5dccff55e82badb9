/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * syncrec.c: writes and reads echosimsink recordings (format in syncrec.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "syncrec.h"

G_DEFINE_QUARK (echo-sync-rec-error-quark, echo_sync_rec_error);

/* samples converted per fwrite when they need converting */
#define CONVERT_CHUNK 1024

struct _EchoSyncRecWriter
{
  FILE *file;
  gchar *path;
  gboolean has_header;
  guint32 channels;
  gboolean failed;
};

static void
put_u32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static void
put_u64 (guint8 * p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static void
put_f32 (guint8 * p, gfloat f)
{
  guint32 v;

  memcpy (&v, &f, 4);
  put_u32 (p, v);
}

static guint32
get_u32 (const guint8 * p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (const guint8 * p)
{
  guint64 v;

  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

static gboolean
writer_put (EchoSyncRecWriter * w, const void *data, gsize size, GError ** error)
{
  if (w->failed || fwrite (data, 1, size, w->file) != size) {
    int err = errno;

    if (!w->failed)
      g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
          "%s: write failed: %s", w->path, g_strerror (err));
    else
      g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
          "%s: an earlier write failed", w->path);
    w->failed = TRUE;
    return FALSE;
  }
  return TRUE;
}

EchoSyncRecWriter *
echo_sync_rec_writer_open (const gchar * path, GError ** error)
{
  EchoSyncRecWriter *w;
  FILE *file = fopen (path, "wb");

  if (file == NULL) {
    int err = errno;

    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: cannot create: %s", path, g_strerror (err));
    return NULL;
  }
  /* a large buffer: write() runs in the device thread and should rarely hit the disk */
  setvbuf (file, NULL, _IOFBF, 256 * 1024);
  w = g_new0 (EchoSyncRecWriter, 1);
  w->file = file;
  w->path = g_strdup (path);
  return w;
}

gboolean
echo_sync_rec_writer_has_header (const EchoSyncRecWriter * writer)
{
  return writer->has_header;
}

gboolean
echo_sync_rec_writer_write_header (EchoSyncRecWriter * w,
    const EchoSyncRecHeader * header, GError ** error)
{
  guint8 h[ECHO_SYNC_REC_HEADER_SIZE];
  guint64 skew_bits;

  g_return_val_if_fail (!w->has_header, FALSE);
  g_return_val_if_fail (header->channels > 0 && header->rate > 0, FALSE);

  memcpy (h, ECHO_SYNC_REC_MAGIC, 8);
  put_u32 (h + 8, ECHO_SYNC_REC_VERSION);
  put_u32 (h + 12, header->rate);
  put_u32 (h + 16, header->channels);
  put_u32 (h + 20, 0);
  memcpy (&skew_bits, &header->skew_ppm, 8);
  put_u64 (h + 24, skew_bits);
  put_u64 (h + 32, (guint64) header->open_host_ns);
  if (!writer_put (w, h, sizeof (h), error))
    return FALSE;
  w->has_header = TRUE;
  w->channels = header->channels;
  return TRUE;
}

static gboolean
put_block_header (EchoSyncRecWriter * w, gint64 host_ns, guint32 frames,
    guint32 flags, GError ** error)
{
  guint8 h[ECHO_SYNC_REC_BLOCK_HEADER_SIZE];

  put_u64 (h, (guint64) host_ns);
  put_u32 (h + 8, frames);
  put_u32 (h + 12, flags);
  return writer_put (w, h, sizeof (h), error);
}

gboolean
echo_sync_rec_writer_add_block (EchoSyncRecWriter * w, gint64 host_ns,
    guint32 flags, EchoSyncRecSamples format, gconstpointer data,
    guint32 frames, GError ** error)
{
  gsize n, i, done;
  guint8 out[CONVERT_CHUNK * 4];

  g_return_val_if_fail (w->has_header, FALSE);
  g_return_val_if_fail ((flags & ~ECHO_SYNC_REC_FLAG_GAP) == 0, FALSE);

  if (!put_block_header (w, host_ns, frames, flags, error))
    return FALSE;
  n = (gsize) frames * w->channels;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (format == ECHO_SYNC_REC_SAMPLES_F32 || format == ECHO_SYNC_REC_SAMPLES_F32LE)
    return writer_put (w, data, n * 4, error);
#else
  if (format == ECHO_SYNC_REC_SAMPLES_F32LE)
    return writer_put (w, data, n * 4, error);
#endif

  for (done = 0; done < n;) {
    gsize chunk = MIN (n - done, CONVERT_CHUNK);

    for (i = 0; i < chunk; i++) {
      gfloat f;

      switch (format) {
        case ECHO_SYNC_REC_SAMPLES_S16LE:{
          guint16 u;

          memcpy (&u, (const guint8 *) data + 2 * (done + i), 2);
          f = (gint16) GUINT16_FROM_LE (u) / 32768.0f;
          break;
        }
        case ECHO_SYNC_REC_SAMPLES_F32:
          f = ((const gfloat *) data)[done + i];
          break;
        default:
          g_return_val_if_reached (FALSE);
      }
      put_f32 (out + 4 * i, f);
    }
    if (!writer_put (w, out, chunk * 4, error))
      return FALSE;
    done += chunk;
  }
  return TRUE;
}

gboolean
echo_sync_rec_writer_add_drop (EchoSyncRecWriter * w, gint64 host_ns,
    GError ** error)
{
  g_return_val_if_fail (w->has_header, FALSE);
  return put_block_header (w, host_ns, 0, ECHO_SYNC_REC_FLAG_DROP, error);
}

gboolean
echo_sync_rec_writer_flush (EchoSyncRecWriter * w, GError ** error)
{
  if (!w->failed && fflush (w->file) != 0) {
    int err = errno;

    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: write failed: %s", w->path, g_strerror (err));
    w->failed = TRUE;
  } else if (w->failed) {
    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: an earlier write failed", w->path);
  }
  return !w->failed;
}

gboolean
echo_sync_rec_writer_close (EchoSyncRecWriter * w, GError ** error)
{
  gboolean ok = echo_sync_rec_writer_flush (w, error);

  if (fclose (w->file) != 0 && ok) {
    int err = errno;

    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: close failed: %s", w->path, g_strerror (err));
    ok = FALSE;
  }
  g_free (w->path);
  g_free (w);
  return ok;
}

/* ---- reading ---- */

static gboolean G_GNUC_PRINTF (4, 5)
    bad_input (GError ** error, const gchar * path, guint64 offset,
    const gchar * format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_FORMAT,
      "%s: offset %" G_GUINT64_FORMAT ": %s", path, offset, msg);
  g_free (msg);
  return FALSE;
}

/* Reads exactly @size bytes; FALSE at a clean end of file (nothing read) or on a short
 * read, which *@got tells apart. */
static gboolean
read_exact (FILE * f, void *buf, gsize size, gsize * got)
{
  *got = fread (buf, 1, size, f);
  return *got == size;
}

static void
ensure_capacity (EchoSyncRec * rec, guint64 * capacity, guint64 frames)
{
  guint64 need = rec->n_frames + frames;

  if (need <= *capacity)
    return;
  *capacity = MAX (need, MAX (*capacity * 2, 48000));
  rec->samples = g_realloc_n (rec->samples, *capacity * rec->channels,
      sizeof (gfloat));
}

/* Applies a DROP marker at @host_ns: removes the frames playing at or after it. */
static void
apply_drop (EchoSyncRec * rec, gint64 host_ns)
{
  gdouble per_ns = echo_sync_rec_device_rate (&rec->header) / 1e9;
  guint64 before = rec->n_frames;

  while (rec->blocks->len > 0) {
    EchoSyncRecBlock *b = &g_array_index (rec->blocks, EchoSyncRecBlock,
        rec->blocks->len - 1);
    gdouble keep;

    if (b->host_ns >= host_ns) {
      rec->n_frames = b->first;
      g_array_set_size (rec->blocks, rec->blocks->len - 1);
      continue;
    }
    /* frames starting strictly before host_ns played */
    keep = ceil ((gdouble) (host_ns - b->host_ns) * per_ns);
    if (keep < b->frames) {
      b->frames = (guint32) keep;
      rec->n_frames = b->first + b->frames;
    }
    break;
  }
  rec->dropped_frames += before - rec->n_frames;
  rec->n_drops++;
}

static gboolean
load_blocks (EchoSyncRec * rec, FILE * f, guint64 file_size, GError ** error)
{
  guint64 offset = ECHO_SYNC_REC_HEADER_SIZE, capacity = 0;
  guint channels = rec->header.channels;
  gsize frame_bytes = (gsize) channels * 4;
  gdouble per_ns = echo_sync_rec_device_rate (&rec->header) / 1e9;
  gboolean have_end = FALSE;
  gint64 end_host = 0;
  gdouble end_frac = 0;
  guint8 *chunk = g_malloc (frame_bytes * CONVERT_CHUNK);
  gboolean ok = TRUE;

  while (ok) {
    guint8 h[ECHO_SYNC_REC_BLOCK_HEADER_SIZE];
    gsize got;
    EchoSyncRecBlock b;
    guint64 left;

    if (!read_exact (f, h, sizeof (h), &got)) {
      if (got != 0 || ferror (f))
        ok = bad_input (error, rec->path, offset,
            "truncated block header (%" G_GSIZE_FORMAT " of %d bytes)", got,
            ECHO_SYNC_REC_BLOCK_HEADER_SIZE);
      break;
    }
    b.host_ns = (gint64) get_u64 (h);
    b.frames = get_u32 (h + 8);
    b.flags = get_u32 (h + 12);
    b.offset = offset;
    b.first = rec->n_frames;

    if (b.flags & ~ECHO_SYNC_REC_KNOWN_FLAGS) {
      ok = bad_input (error, rec->path, offset, "unknown block flags 0x%x",
          b.flags);
      break;
    }
    if ((b.flags & ECHO_SYNC_REC_FLAG_DROP) && b.frames != 0) {
      ok = bad_input (error, rec->path, offset,
          "drop marker with %u frames", b.frames);
      break;
    }
    /* blocks follow each other in time (1 ns: the start is rounded to whole ns) */
    if (have_end && !(b.flags & ECHO_SYNC_REC_FLAG_DROP) &&
        (gdouble) (b.host_ns - end_host) < end_frac - 1.0) {
      ok = bad_input (error, rec->path, offset,
          "block starts at host time %" G_GINT64_FORMAT
          " ns, before the previous block ends (%.0f ns)", b.host_ns,
          end_host + end_frac);
      break;
    }
    offset += sizeof (h);

    if (b.flags & ECHO_SYNC_REC_FLAG_DROP) {
      apply_drop (rec, b.host_ns);
      /* what still plays ends before the marker; later blocks start after it */
      have_end = TRUE;
      end_host = b.host_ns;
      end_frac = 0;
      continue;
    }

    /* checked before allocating: a corrupt count must not allocate gigabytes */
    if ((guint64) b.frames * frame_bytes > file_size - MIN (offset, file_size)) {
      ok = bad_input (error, rec->path, b.offset,
          "truncated block: %u frames of %u channels announced, the file ends "
          "after %" G_GUINT64_FORMAT " more bytes", b.frames, channels,
          file_size - MIN (offset, file_size));
      break;
    }
    ensure_capacity (rec, &capacity, b.frames);
    for (left = b.frames; left > 0;) {
      gsize n = (gsize) MIN (left, CONVERT_CHUNK), i, c;
      gfloat *out = rec->samples + rec->n_frames * rec->channels;

      if (!read_exact (f, chunk, n * frame_bytes, &got)) {
        ok = bad_input (error, rec->path, offset,
            "truncated block: %u frames of %u channels announced at offset %"
            G_GUINT64_FORMAT ", the file ends after %" G_GUINT64_FORMAT
            " more bytes", b.frames, channels, b.offset,
            (guint64) (b.frames - left) * frame_bytes + got);
        break;
      }
      for (i = 0; i < n; i++) {
        for (c = 0; c < rec->channels; c++) {
          guint32 v = get_u32 (chunk + i * frame_bytes + c * 4);

          memcpy (&out[i * rec->channels + c], &v, 4);
        }
      }
      rec->n_frames += n;
      offset += n * frame_bytes;
      left -= n;
    }
    if (!ok)
      break;
    if (b.frames > 0)
      g_array_append_val (rec->blocks, b);
    have_end = TRUE;
    end_host = b.host_ns;
    end_frac = b.frames / per_ns;
  }
  g_free (chunk);
  return ok;
}

EchoSyncRec *
echo_sync_rec_load (const gchar * path, EchoSyncRecLoadFlags flags,
    GError ** error)
{
  g_autoptr (EchoSyncRec) rec = NULL;
  guint8 h[ECHO_SYNC_REC_HEADER_SIZE];
  guint64 skew_bits;
  gsize got;
  FILE *f;
  struct stat st;
  gboolean ok;

  f = fopen (path, "rb");
  if (f == NULL) {
    int err = errno;

    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: cannot open: %s", path, g_strerror (err));
    return NULL;
  }

  rec = g_new0 (EchoSyncRec, 1);
  rec->path = g_strdup (path);
  rec->blocks = g_array_new (FALSE, FALSE, sizeof (EchoSyncRecBlock));

  if (!read_exact (f, h, sizeof (h), &got)) {
    bad_input (error, path, got, "truncated header (%" G_GSIZE_FORMAT
        " of %d bytes)", got, ECHO_SYNC_REC_HEADER_SIZE);
    goto fail;
  }
  if (memcmp (h, ECHO_SYNC_REC_MAGIC, 8) != 0) {
    bad_input (error, path, 0, "not an Echo sync recording (no \"%s\" magic)",
        ECHO_SYNC_REC_MAGIC);
    goto fail;
  }
  rec->header.version = get_u32 (h + 8);
  rec->header.rate = get_u32 (h + 12);
  rec->header.channels = get_u32 (h + 16);
  skew_bits = get_u64 (h + 24);
  memcpy (&rec->header.skew_ppm, &skew_bits, 8);
  rec->header.open_host_ns = (gint64) get_u64 (h + 32);

  if (rec->header.version != ECHO_SYNC_REC_VERSION) {
    bad_input (error, path, 8, "unsupported version %u (this reader: %d)",
        rec->header.version, ECHO_SYNC_REC_VERSION);
    goto fail;
  }
  if (rec->header.rate == 0 || rec->header.rate > ECHO_SYNC_REC_MAX_RATE) {
    bad_input (error, path, 12, "implausible rate %u", rec->header.rate);
    goto fail;
  }
  if (rec->header.channels == 0 ||
      rec->header.channels > ECHO_SYNC_REC_MAX_CHANNELS) {
    bad_input (error, path, 16, "implausible channel count %u",
        rec->header.channels);
    goto fail;
  }
  if (!isfinite (rec->header.skew_ppm) || fabs (rec->header.skew_ppm) >= 1e5) {
    bad_input (error, path, 24, "implausible skew %g ppm",
        rec->header.skew_ppm);
    goto fail;
  }
  rec->channels = (flags & ECHO_SYNC_REC_LOAD_FIRST_CHANNEL) ? 1 :
      rec->header.channels;

  if (fstat (fileno (f), &st) != 0) {
    int err = errno;

    g_set_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_IO,
        "%s: cannot stat: %s", path, g_strerror (err));
    goto fail;
  }
  ok = load_blocks (rec, f, (guint64) st.st_size, error);
  fclose (f);
  if (!ok)
    return NULL;
  return g_steal_pointer (&rec);

fail:
  fclose (f);
  return NULL;
}

void
echo_sync_rec_free (EchoSyncRec * rec)
{
  if (rec == NULL)
    return;
  g_free (rec->path);
  g_array_unref (rec->blocks);
  g_free (rec->samples);
  g_free (rec);
}
