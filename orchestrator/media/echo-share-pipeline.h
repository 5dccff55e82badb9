/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-share-pipeline.h: the running GStreamer pipeline of one Music Share session.
 *
 * Built from the factory's "share" template (pipelines/share.pipeline): the sharer's
 * float chunks go in through an appsrc; `sharerelay` serves them to `echosyncsrc`
 * receivers over UDP (and announces the session by mDNS when asked); an Opus branch
 * (opusenc, 48 kHz, 20 ms frames) hands every packet back to the owner, who feeds the
 * session's Opus ring with it. The Opus branch runs only while the owner enables it
 * (echo_share_pipeline_set_opus_enabled()): its valve `opusgate` drops the audio before
 * the encoder otherwise, so a session nobody asks Opus of costs no encoding.
 *
 * Threading: everything here is called from one thread, the one whose thread-default
 * GMainContext was current in echo_share_pipeline_new() (echod's main thread). The Opus
 * and error callbacks are dispatched on that context too, never on a streaming thread.
 * A callback may call echo_share_pipeline_restart() or echo_share_pipeline_free().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "echo-pipeline-factory.h"

G_BEGIN_DECLS

typedef struct _EchoSharePipeline EchoSharePipeline;

/* The Opus branch's format. */
#define ECHO_SHARE_PIPELINE_OPUS_RATE 48000

typedef struct
{
  guint latency_ms;             /* sharerelay's session latency {latency}, 20..5000 */
  guint opus_bitrate;           /* {opus_bitrate}, bit/s, 6000..510000 */
  gboolean announce;            /* {announce}: announce the session by mDNS */
  const char *token;            /* {token}: receivers must know it; NULL or "": open */
  guint anchor_margin_ms;       /* jitter allowance of the timestamps, see the .c; > 0 */
  gboolean opus_enabled;        /* the Opus branch encodes from the start */
} EchoSharePipelineOptions;

#define ECHO_SHARE_PIPELINE_DEFAULT_LATENCY_MS 100
#define ECHO_SHARE_PIPELINE_DEFAULT_OPUS_BITRATE 96000
#define ECHO_SHARE_PIPELINE_DEFAULT_ANCHOR_MARGIN_MS 200

/* Options with every field at its default (announce on, no token, Opus off). */
#define ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT { \
    .latency_ms = ECHO_SHARE_PIPELINE_DEFAULT_LATENCY_MS, \
    .opus_bitrate = ECHO_SHARE_PIPELINE_DEFAULT_OPUS_BITRATE, \
    .announce = TRUE, \
    .token = NULL, \
    .anchor_margin_ms = ECHO_SHARE_PIPELINE_DEFAULT_ANCHOR_MARGIN_MS, \
    .opus_enabled = FALSE, \
  }

/**
 * EchoSharePipelineOpusFunc:
 * @packet: one Opus packet (valid during the call only)
 * @frames: its duration in samples at 48 kHz (960 for 20 ms)
 * @timestamp_ms: the sharer's timestamp of its first sample: the chunk timestamps given
 *   to echo_share_pipeline_push(), carried along the sample count
 */
typedef void (*EchoSharePipelineOpusFunc) (EchoSharePipeline * pipeline,
    const guint8 * packet, gsize len, guint frames, gint64 timestamp_ms,
    gpointer user_data);

/**
 * EchoSharePipelineErrorFunc:
 * @error: an ECHO_PIPELINE_ERROR_FAILED error: the failing element and GStreamer's
 *   message (and debug text)
 *
 * The pipeline posted an ERROR and has stopped working. The owner decides: restart it
 * once (echo_share_pipeline_restart()), or free it and carry on without it.
 */
typedef void (*EchoSharePipelineErrorFunc) (EchoSharePipeline * pipeline,
    const GError * error, gpointer user_data);

typedef struct
{
  guint64 frames_in;            /* sample frames pushed */
  guint64 bytes_in;             /* float bytes pushed */
  guint64 reanchors;            /* timeline re-anchors after a stall (late chunks) */
  guint64 dropped_frames;       /* frames of chunks dropped for arriving too early */
  guint64 opus_packets;         /* Opus packets handed to the callback */
  guint64 opus_bytes;
  guint receivers;              /* sharerelay: current echosyncsrc subscriptions */
  guint64 relay_packets;        /* sharerelay: Opus frames encoded */
  guint64 relay_bytes;          /* sharerelay: bytes sent to receivers */
  guint restarts;
} EchoSharePipelineStats;

/**
 * echo_share_pipeline_new:
 * @factory: the loaded templates
 * @session_id: the share session id (digits; also sharerelay's session name)
 * @rate: the sharer's sample rate, 8000..192000
 * @channels: the sharer's channels, 1..8 (the relay and Opus carry at most 2: more are
 *   mixed down with the WAVE/Web Audio channel order)
 * @options: (nullable): NULL for ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT
 * @error: return location for an ECHO_PIPELINE_ERROR
 *
 * Builds the pipeline and sets it PLAYING: the relay's UDP port is bound on return.
 *
 * Returns: (transfer full): the pipeline, or NULL with @error set
 */
EchoSharePipeline *echo_share_pipeline_new (EchoPipelineFactory * factory,
    const char *session_id, guint rate, guint channels,
    const EchoSharePipelineOptions * options, GError ** error);

/* Replaces the callbacks; @destroy is called on @user_data when they are replaced or
 * the pipeline is freed. Packets arriving before this is called are kept for it. */
void echo_share_pipeline_set_callbacks (EchoSharePipeline * pipeline,
    EchoSharePipelineOpusFunc on_opus, EchoSharePipelineErrorFunc on_error,
    gpointer user_data, GDestroyNotify destroy);

/**
 * echo_share_pipeline_push:
 * @samples: @n_frames interleaved frames of native floats at the session's rate and
 *   channels (copied)
 * @sharer_timestamp_ms: the chunk's timestamp from the sharer (its own clock)
 *
 * Feeds one chunk as it arrives. The chunk's time in the pipeline comes from the sample
 * count since an anchor taken at arrival, not from @sharer_timestamp_ms (see the .c); a
 * chunk arriving far ahead of that timeline (a burst) is dropped, which is counted in
 * the stats and still returns TRUE.
 *
 * Returns: FALSE when the pipeline does not accept data (it failed or is restarting)
 */
gboolean echo_share_pipeline_push (EchoSharePipeline * pipeline, const float *samples,
    guint n_frames, gint64 sharer_timestamp_ms);

/**
 * echo_share_pipeline_restart:
 *
 * Tears the pipeline down and builds it again from the same template and values,
 * keeping the relay's UDP port when it is still free (receivers given an echo:// URI
 * follow the restarted relay). The timestamps are anchored afresh.
 *
 * Returns: FALSE with @error set when the new pipeline does not start; the object then
 *   has no pipeline (pushes return FALSE) until a later restart succeeds
 */
gboolean echo_share_pipeline_restart (EchoSharePipeline * pipeline, GError ** error);

/**
 * echo_share_pipeline_set_opus_enabled:
 *
 * Opens (TRUE) or closes the valve before the Opus encoder. Audio reaching it while closed
 * is dropped; the first buffer after it reopens is flagged DISCONT, so the encoder starts
 * a fresh timeline instead of stretching the old one over the gap. The state survives
 * restarts. Packets already past the valve when it closes are still delivered.
 */
void echo_share_pipeline_set_opus_enabled (EchoSharePipeline * pipeline,
    gboolean enabled);
gboolean echo_share_pipeline_get_opus_enabled (EchoSharePipeline * pipeline);

/* The UDP port sharerelay serves the session on (echo://HOST:PORT/SESSION), 0 when it
 * has no running pipeline. */
guint16 echo_share_pipeline_get_port (EchoSharePipeline * pipeline);

const char *echo_share_pipeline_get_session_id (EchoSharePipeline * pipeline);

/* The channels of the relay's stream and of the Opus packets: MIN (channels, 2). */
guint echo_share_pipeline_get_out_channels (EchoSharePipeline * pipeline);

void echo_share_pipeline_get_stats (EchoSharePipeline * pipeline,
    EchoSharePipelineStats * stats);

/* Stops at once (no EOS, no draining) and frees; NULL is allowed. */
void echo_share_pipeline_free (EchoSharePipeline * pipeline);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoSharePipeline, echo_share_pipeline_free)

G_END_DECLS
