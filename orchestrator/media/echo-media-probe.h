/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-media-probe.h: what an uploaded file is, and whether echod plays it.
 *
 * A probe reads the file twice: typefinding on its first bytes names what it is (so a
 * PNG or a text file is refused by name, undecoded), then GstDiscoverer reads its
 * streams, duration and tags. Accepted, and nothing else:
 *   - MP3: audio/mpeg version 1 layer 3 (bare or behind ID3/APE tags);
 *   - AAC: audio/mpeg version 2/4 in MP4/M4A (video/quicktime, audio/x-m4a) or as ADTS;
 *   - Ogg with Opus or Vorbis; FLAC, native or in Ogg;
 *   - WAV (audio/x-wav, PCM).
 * with exactly one audio stream, no video stream and a known duration. Every refusal is
 * ECHO_MUSIC_ERROR_UNSUPPORTED (the API's 415) with a message naming what was found
 * ("video/x-matroska", "text/plain", "no audio stream", ...).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *container;              /* the file's media type: "audio/mpeg", "application/ogg",
                                 * "video/quicktime", "audio/x-flac", "audio/x-wav", ... */
  char *codec;                  /* "mp3", "aac", "opus", "vorbis", "flac" or "pcm" */
  gint64 duration_ms;           /* > 0 */
  guint rate;                   /* Hz */
  guint channels;
  char *title;                  /* tags, NULL when absent */
  char *artist;
  char *album;
} EchoMediaProbe;

void echo_media_probe_free (EchoMediaProbe * probe);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMediaProbe, echo_media_probe_free)

/**
 * echo_media_probe_file:
 * @path: a local file
 * @cancellable: (nullable): checked between the two reads
 * @error: ECHO_MUSIC_ERROR_UNSUPPORTED for anything echod does not play (unreadable,
 *   truncated, not audio, another format), G_IO_ERROR_CANCELLED
 *
 * Probes @path, blocking (up to about 10 s for a pathological file): call it from a
 * worker thread, or use echo_media_probe_file_async(). Needs gst_init().
 *
 * Returns: (transfer full): the probe, or NULL with @error set
 */
EchoMediaProbe *echo_media_probe_file (const char *path, GCancellable * cancellable,
    GError ** error);

/* echo_media_probe_file() in a worker thread; @callback runs on the caller's
 * thread-default main context. */
void echo_media_probe_file_async (const char *path, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data);

/* @out: (out) (transfer full): the probe, set on success only */
gboolean echo_media_probe_file_finish (GAsyncResult * result, EchoMediaProbe ** out,
    GError ** error);

G_END_DECLS
