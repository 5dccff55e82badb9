/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-share-pipeline.c: one share session's pipeline: feeding it, hearing from it,
 * rebuilding it.
 *
 * Timestamps
 * ----------
 * The sharer POSTs a chunk about every 93 ms. The chunks arrive with network and
 * scheduling jitter, and the sharer's sample clock is not ours: stamping each chunk with
 * its arrival time would make the audio jump back and forth, and the sharer's own
 * timestamps are on a clock we cannot see. So a chunk's PTS comes from the sample
 * count:
 *
 *     PTS(chunk) = anchor + (frames pushed since the anchor) / rate
 *
 * where the anchor is the running time at which the first chunk arrived plus a margin
 * (anchor_margin_ms, 200 ms by default). While the sharer keeps pace each chunk arrives
 * about a margin before its PTS, the jitter being absorbed by the margin; sharerelay,
 * which syncs on the clock, sends it when its time comes. Two things break the pace:
 *  - the sharer stalls (a network hiccup, a paused tab) or its clock runs slower than
 *    ours: chunks arrive later and later until one arrives after its PTS (slack < 0).
 *    The timeline is re-anchored at "now + margin", and the chunk is flagged DISCONT
 *    (with a log line): receivers hear a gap, then the audio again.
 *  - the sharer runs faster than us, or catches up in a burst after a stall: chunks
 *    arrive earlier and earlier and audio piles up in the pipeline. A chunk arriving more
 *    than twice the margin before its PTS (slack > 2 * margin) is dropped instead (with
 *    a log line per episode, and DISCONT on the next chunk taken) until the backlog is
 *    back within bounds. Re-anchoring backwards here would stamp new
 *    audio over audio already queued; dropping keeps the timeline monotonic and the
 *    latency bounded, and that audio was late anyway.
 * So arrivals may drift at most a margin either way from the sample-count timeline. A
 * drift of 0.1% between the two clocks costs one glitch every few minutes at the
 * default margin; real sound cards drift far less.
 *
 * The pipeline's clock is the one sharerelay provides (its session clock): PTS are in
 * running time on that clock, which is what the relay stamps packets with.
 *
 * Callbacks on the main context
 * -----------------------------
 * The Opus appsink hands packets over on its streaming thread; they go through a
 * GAsyncQueue to a GSource on the owner's context, which calls the Opus callback. ERROR
 * messages reach the owner through a bus watch on the same context. Each build of the
 * pipeline has a generation number, so packets of a torn-down pipeline still in the queue
 * are dropped. A callback may free the object: `busy` counts dispatches in progress and
 * the last one to finish frees it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-share-pipeline.h"

#include <gst/app/app.h>
#include <gst/audio/audio.h>
#include <opus.h>

#include "echo-wake-source.h"

typedef struct
{
  GBytes *data;
  GstClockTime pts;
  guint generation;
} OpusPacket;

static void
opus_packet_free (gpointer data)
{
  OpusPacket *pkt = data;

  g_bytes_unref (pkt->data);
  g_free (pkt);
}

/* What the appsink's streaming thread may touch: its own references, never the owner. */
typedef struct
{
  GAsyncQueue *queue;
  GSource *source;
  guint generation;
} SinkContext;

static void
sink_context_free (gpointer data)
{
  SinkContext *ctx = data;

  g_async_queue_unref (ctx->queue);
  g_source_unref (ctx->source);
  g_free (ctx);
}

struct _EchoSharePipeline
{
  EchoPipelineFactory *factory; /* not owned: outlives every pipeline */
  char *session_id;
  guint rate, channels, out_channels;
  GstClockTime margin;
  GHashTable *values;           /* the template's values, for restarts */
  GMainContext *context;

  /* the running pipeline, NULL after a failure until a restart succeeds */
  GstPipeline *pipeline;
  GstAppSrc *input;
  GstElement *relay;
  GstElement *opus_gate;        /* the valve before the Opus encoder */
  GSource *bus_source;
  guint generation;
  guint16 port;                 /* kept across a failure: a restart reuses it */

  gboolean opus_enabled;        /* the Opus valve is open (kept across restarts) */
  GAsyncQueue *opus_queue;      /* of OpusPacket, filled by the streaming thread */
  GSource *opus_source;         /* dispatches opus_queue on context */

  EchoSharePipelineOpusFunc on_opus;
  EchoSharePipelineErrorFunc on_error;
  gpointer user_data;
  GDestroyNotify destroy;

  /* the sample-count timeline (see the top of the file) */
  gboolean anchored;
  GstClockTime anchor;
  guint64 anchor_frames;
  gboolean discont;
  guint64 dropped_in_episode;   /* frames dropped since the backlog went out of bounds */
  /* the newest chunk: its PTS and the sharer's timestamp, to date Opus packets */
  gboolean have_reference;
  GstClockTime reference_pts;
  gint64 reference_sharer_ms;

  EchoSharePipelineStats stats;
  guint busy;                   /* callbacks in progress */
  gboolean doomed;              /* freed during a callback */
};

static void finish_free (EchoSharePipeline * p);

/* ---------------------------------------------------------------------------------- */
/* Opus packets: streaming thread -> main context                                       */

static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer user_data)
{
  SinkContext *ctx = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  OpusPacket *pkt;
  gpointer data;
  gsize size;

  if (sample == NULL)
    return GST_FLOW_FLUSHING;
  buf = gst_sample_get_buffer (sample);
  if (buf == NULL || gst_buffer_get_size (buf) == 0)
    return GST_FLOW_OK;
  gst_buffer_extract_dup (buf, 0, gst_buffer_get_size (buf), &data, &size);
  pkt = g_new0 (OpusPacket, 1);
  pkt->data = g_bytes_new_take (data, size);
  pkt->pts = GST_BUFFER_PTS (buf);
  pkt->generation = ctx->generation;
  g_async_queue_push (ctx->queue, pkt);
  echo_wake_source_wake (ctx->source);
  return GST_FLOW_OK;
}

/* The owner's clock for an Opus packet: the newest chunk's sharer timestamp, moved by
 * the difference of the two PTS. */
static gint64
packet_timestamp_ms (EchoSharePipeline * p, GstClockTime pts)
{
  if (!p->have_reference || !GST_CLOCK_TIME_IS_VALID (pts))
    return g_get_real_time () / 1000;
  return p->reference_sharer_ms + ((gint64) pts - (gint64) p->reference_pts) /
      (gint64) GST_MSECOND;
}

static gboolean
deliver_opus_packets (gpointer user_data)
{
  EchoSharePipeline *p = user_data;
  OpusPacket *pkt;

  p->busy++;
  while (!p->doomed && (pkt = g_async_queue_try_pop (p->opus_queue)) != NULL) {
    gsize len;
    const guint8 *data = g_bytes_get_data (pkt->data, &len);
    int frames;

    if (pkt->generation != p->generation) {
      opus_packet_free (pkt);
      continue;
    }
    frames = opus_packet_get_nb_samples (data, (opus_int32) len,
        ECHO_SHARE_PIPELINE_OPUS_RATE);
    if (frames <= 0) {
      g_message ("session %s: dropping an invalid Opus packet of %" G_GSIZE_FORMAT
          " bytes: %s", p->session_id, len, opus_strerror (frames));
      opus_packet_free (pkt);
      continue;
    }
    p->stats.opus_packets++;
    p->stats.opus_bytes += len;
    if (p->on_opus != NULL)
      p->on_opus (p, data, len, (guint) frames, packet_timestamp_ms (p, pkt->pts),
          p->user_data);
    opus_packet_free (pkt);
  }
  p->busy--;
  if (p->doomed && p->busy == 0)
    finish_free (p);
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------------------------- */
/* Building and tearing down                                                            */

/* Stops the pipeline at once and drops it; the object stays usable for a restart. */
static void
teardown_pipeline (EchoSharePipeline * p)
{
  if (p->bus_source != NULL) {
    g_source_destroy (p->bus_source);
    g_clear_pointer (&p->bus_source, g_source_unref);
  }
  if (p->pipeline != NULL) {
    /* joins the streaming threads: no packet is queued after this */
    gst_element_set_state (GST_ELEMENT (p->pipeline), GST_STATE_NULL);
  }
  g_clear_object (&p->input);
  g_clear_object (&p->relay);
  g_clear_object (&p->opus_gate);
  g_clear_object (&p->pipeline);
  p->anchored = FALSE;
  p->have_reference = FALSE;
  p->dropped_in_episode = 0;
}

static GError *
error_from_message (EchoSharePipeline * p, GstMessage * msg)
{
  g_autoptr (GError) gst_error = NULL;
  g_autofree char *debug = NULL;
  const char *element;

  gst_message_parse_error (msg, &gst_error, &debug);
  element = GST_MESSAGE_SRC_NAME (msg) != NULL ? GST_MESSAGE_SRC_NAME (msg) : "pipeline";
  if (debug != NULL)
    return g_error_new (ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "share pipeline of session %s: %s: %s (%s)", p->session_id, element,
        gst_error->message, debug);
  return g_error_new (ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
      "share pipeline of session %s: %s: %s", p->session_id, element,
      gst_error->message);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  EchoSharePipeline *p = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = error_from_message (p, msg);

      /* stop it now: pushes fail until the owner restarts it */
      teardown_pipeline (p);
      p->busy++;
      if (p->on_error != NULL)
        p->on_error (p, error, p->user_data);
      else
        g_message ("%s", error->message);
      p->busy--;
      if (p->doomed && p->busy == 0)
        finish_free (p);
      /* this watch may be gone (teardown, restart): GLib allows that */
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) warning = NULL;
      g_autofree char *debug = NULL;

      gst_message_parse_warning (msg, &warning, &debug);
      g_message ("share pipeline of session %s: %s: %s", p->session_id,
          GST_MESSAGE_SRC_NAME (msg), warning->message);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* Builds and starts a pipeline; @port 0: any free port. */
static gboolean
start_pipeline (EchoSharePipeline * p, guint16 port, GError ** error)
{
  GstAppSinkCallbacks callbacks = {.new_sample = on_new_sample };
  g_autoptr (GstElement) opus = NULL;
  g_autoptr (GstBus) bus = NULL;
  SinkContext *ctx;
  guint bound = 0;

  p->pipeline = echo_pipeline_factory_build (p->factory, ECHO_PIPELINE_KIND_SHARE,
      p->values, error);
  if (p->pipeline == NULL)
    return FALSE;
  /* the factory checked that these exist with the right element factories */
  p->input = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p->pipeline),
          ECHO_PIPELINE_ELEMENT_INPUT));
  p->relay = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_RELAY);
  opus = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_OPUS);
  p->opus_gate = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_OPUS_GATE);
  g_object_set (p->opus_gate, "drop", !p->opus_enabled, NULL);
  if (port != 0)
    g_object_set (p->relay, "port", (guint) port, NULL);

  p->generation++;
  ctx = g_new0 (SinkContext, 1);
  ctx->queue = g_async_queue_ref (p->opus_queue);
  ctx->source = g_source_ref (p->opus_source);
  ctx->generation = p->generation;
  gst_app_sink_set_callbacks (GST_APP_SINK (opus), &callbacks, ctx, sink_context_free);

  bus = gst_pipeline_get_bus (p->pipeline);
  p->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (p->bus_source, G_SOURCE_FUNC (on_bus_message), p, NULL);
  g_source_attach (p->bus_source, p->context);

  if (gst_element_set_state (GST_ELEMENT (p->pipeline),
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_autoptr (GstMessage) msg = NULL;

    /* report the ERROR here, not through the watch as well */
    g_source_destroy (p->bus_source);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg != NULL)
      g_propagate_error (error, error_from_message (p, msg));
    else
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "share pipeline of session %s did not start", p->session_id);
    teardown_pipeline (p);
    return FALSE;
  }
  /* bound in READY -> PAUSED, which a live pipeline has passed on return */
  g_object_get (p->relay, "bound-port", &bound, NULL);
  p->port = (guint16) bound;
  g_debug ("session %s: share pipeline playing, relay on UDP port %u", p->session_id,
      bound);
  return TRUE;
}

static guint64
channel_mask_for (guint channels)
{
  /* mono needs no position; stereo and up follow the WAVE order, which is also Web
   * Audio's (L R C LFE SL SR), the sharer's */
  return channels == 1 ? 0 : gst_audio_channel_get_fallback_mask ((gint) channels);
}

EchoSharePipeline *
echo_share_pipeline_new (EchoPipelineFactory * factory, const char *session_id,
    guint rate, guint channels, const EchoSharePipelineOptions * options,
    GError ** error)
{
  const EchoSharePipelineOptions defaults = ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT;
  EchoSharePipeline *p;

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    options = &defaults;
  if (options->anchor_margin_ms == 0) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "the timestamp anchor margin must be above 0 ms");
    return NULL;
  }
  if (channels == 0 || channels > 8) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "%u channels: a share pipeline takes 1 to 8", channels);
    return NULL;
  }

  p = g_new0 (EchoSharePipeline, 1);
  p->factory = factory;
  p->session_id = g_strdup (session_id);
  p->rate = rate;
  p->channels = channels;
  p->out_channels = MIN (channels, 2);
  p->margin = options->anchor_margin_ms * GST_MSECOND;
  p->opus_enabled = options->opus_enabled;
  p->context = g_main_context_ref_thread_default ();

  /* the factory checks and escapes every value */
  p->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_SESSION, g_strdup (session_id));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_RATE, g_strdup_printf ("%u", rate));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_CHANNELS,
      g_strdup_printf ("%u", channels));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_OUT_CHANNELS,
      g_strdup_printf ("%u", p->out_channels));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_CHANNEL_MASK,
      g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", channel_mask_for (channels)));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_LATENCY,
      g_strdup_printf ("%u", options->latency_ms));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_TOKEN,
      g_strdup (options->token != NULL ? options->token : ""));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_ANNOUNCE,
      g_strdup (options->announce ? "true" : "false"));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_OPUS_BITRATE,
      g_strdup_printf ("%u", options->opus_bitrate));

  p->opus_queue = g_async_queue_new_full (opus_packet_free);
  p->opus_source = echo_wake_source_new ("echo share pipeline: Opus packets",
      deliver_opus_packets, p, p->context);

  if (!start_pipeline (p, 0, error)) {
    echo_share_pipeline_free (p);
    return NULL;
  }
  return p;
}

void
echo_share_pipeline_set_callbacks (EchoSharePipeline * p,
    EchoSharePipelineOpusFunc on_opus, EchoSharePipelineErrorFunc on_error,
    gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (p != NULL);

  if (p->destroy != NULL)
    p->destroy (p->user_data);
  p->on_opus = on_opus;
  p->on_error = on_error;
  p->user_data = user_data;
  p->destroy = destroy;
}

/* ---------------------------------------------------------------------------------- */
/* Feeding                                                                              */

gboolean
echo_share_pipeline_push (EchoSharePipeline * p, const float *samples, guint n_frames,
    gint64 sharer_timestamp_ms)
{
  GstClockTime now, pts, end;
  gsize size;
  GstBuffer *buf;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (samples != NULL || n_frames == 0, FALSE);

  if (p->pipeline == NULL)
    return FALSE;
  if (n_frames == 0)
    return TRUE;

  now = gst_element_get_current_running_time (GST_ELEMENT (p->pipeline));
  if (GST_CLOCK_TIME_IS_VALID (now) && p->anchored) {
    gint64 slack = (gint64) (p->anchor + gst_util_uint64_scale_int (p->anchor_frames,
            GST_SECOND, p->rate)) - (gint64) now;

    if (slack < 0) {
      g_info ("session %s: chunk (sharer time %" G_GINT64_FORMAT ") arrived %"
          G_GINT64_FORMAT " ms after its time: the sharer stalled or runs slow; "
          "re-anchoring the timeline", p->session_id, sharer_timestamp_ms,
          -slack / (gint64) GST_MSECOND);
      p->anchored = FALSE;
      p->stats.reanchors++;
    } else if (slack > 2 * (gint64) p->margin) {
      if (p->dropped_in_episode == 0)
        g_info ("session %s: chunk (sharer time %" G_GINT64_FORMAT ") arrived %"
            G_GINT64_FORMAT " ms early: the sharer runs fast or sent a burst; dropping "
            "audio until the backlog is below %" G_GUINT64_FORMAT " ms", p->session_id,
            sharer_timestamp_ms, (slack - (gint64) p->margin) / (gint64) GST_MSECOND,
            2 * p->margin / GST_MSECOND);
      p->dropped_in_episode += n_frames;
      p->stats.dropped_frames += n_frames;
      p->discont = TRUE;
      return TRUE;
    }
  }
  if (p->dropped_in_episode > 0) {
    g_info ("session %s: backlog within bounds again after dropping %" G_GUINT64_FORMAT
        " ms of audio", p->session_id, p->dropped_in_episode * 1000 / p->rate);
    p->dropped_in_episode = 0;
  }
  if (GST_CLOCK_TIME_IS_VALID (now) && !p->anchored) {
    p->anchor = now + p->margin;
    p->anchor_frames = 0;
    p->anchored = TRUE;
    p->discont = TRUE;
  }

  size = (gsize) n_frames * p->channels * sizeof (float);
  buf = gst_buffer_new_memdup (samples, size);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  {
    GstMapInfo map;
    guint32 *w;
    gsize i;

    /* the template's caps say F32LE, the sharer's wire format */
    gst_buffer_map (buf, &map, GST_MAP_READWRITE);
    w = (guint32 *) map.data;
    for (i = 0; i < map.size / 4; i++)
      w[i] = GUINT32_TO_LE (w[i]);
    gst_buffer_unmap (buf, &map);
  }
#endif
  if (p->anchored) {
    pts = p->anchor + gst_util_uint64_scale_int (p->anchor_frames, GST_SECOND, p->rate);
    end = p->anchor + gst_util_uint64_scale_int (p->anchor_frames + n_frames, GST_SECOND,
        p->rate);
    GST_BUFFER_PTS (buf) = pts;
    GST_BUFFER_DURATION (buf) = end - pts;
    p->anchor_frames += n_frames;
    p->have_reference = TRUE;
    p->reference_pts = pts;
    p->reference_sharer_ms = sharer_timestamp_ms;
  }
  /* otherwise no clock yet: sharerelay stamps it with its arrival */
  if (p->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    p->discont = FALSE;
  }

  if (gst_app_src_push_buffer (p->input, buf) != GST_FLOW_OK)
    return FALSE;
  p->stats.frames_in += n_frames;
  p->stats.bytes_in += size;
  return TRUE;
}

/* ---------------------------------------------------------------------------------- */
/* Restarting, reading, freeing                                                         */

gboolean
echo_share_pipeline_restart (EchoSharePipeline * p, GError ** error)
{
  g_autoptr (GError) first_error = NULL;
  guint16 port;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  port = p->port;
  teardown_pipeline (p);
  p->stats.restarts++;
  if (start_pipeline (p, port, port != 0 ? &first_error : error))
    return TRUE;
  if (port == 0)
    return FALSE;
  /* most likely someone else took the port meanwhile */
  g_info ("session %s: restarting on UDP port %u failed (%s), taking any free port",
      p->session_id, port, first_error->message);
  p->port = 0;
  return start_pipeline (p, 0, error);
}

void
echo_share_pipeline_set_opus_enabled (EchoSharePipeline * p, gboolean enabled)
{
  g_return_if_fail (p != NULL);

  enabled = ! !enabled;
  if (p->opus_enabled == enabled)
    return;
  p->opus_enabled = enabled;
  /* the valve flags the first buffer after reopening DISCONT and re-sends the caps and
   * segment it held back, so opusenc resyncs to the new timestamps */
  if (p->opus_gate != NULL)
    g_object_set (p->opus_gate, "drop", !enabled, NULL);
  g_debug ("session %s: Opus encoding %s", p->session_id, enabled ? "on" : "off");
}

gboolean
echo_share_pipeline_get_opus_enabled (EchoSharePipeline * p)
{
  g_return_val_if_fail (p != NULL, FALSE);

  return p->opus_enabled;
}

guint16
echo_share_pipeline_get_port (EchoSharePipeline * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return p->pipeline != NULL ? p->port : 0;
}

const char *
echo_share_pipeline_get_session_id (EchoSharePipeline * p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return p->session_id;
}

guint
echo_share_pipeline_get_out_channels (EchoSharePipeline * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return p->out_channels;
}

void
echo_share_pipeline_get_stats (EchoSharePipeline * p, EchoSharePipelineStats * stats)
{
  g_return_if_fail (p != NULL);
  g_return_if_fail (stats != NULL);

  *stats = p->stats;
  stats->receivers = 0;
  stats->relay_packets = 0;
  stats->relay_bytes = 0;
  if (p->relay != NULL) {
    GstStructure *s = NULL;

    /* sharerelay builds it under its own lock */
    g_object_get (p->relay, "stats", &s, NULL);
    if (s != NULL) {
      gst_structure_get_uint (s, "receivers", &stats->receivers);
      gst_structure_get_uint64 (s, "packets", &stats->relay_packets);
      gst_structure_get_uint64 (s, "bytes", &stats->relay_bytes);
      gst_structure_free (s);
    }
  }
}

static void
finish_free (EchoSharePipeline * p)
{
  teardown_pipeline (p);
  if (p->opus_source != NULL) {
    g_source_destroy (p->opus_source);
    g_source_unref (p->opus_source);
  }
  if (p->opus_queue != NULL)
    g_async_queue_unref (p->opus_queue);
  if (p->destroy != NULL)
    p->destroy (p->user_data);
  g_hash_table_unref (p->values);
  g_main_context_unref (p->context);
  g_free (p->session_id);
  g_free (p);
}

void
echo_share_pipeline_free (EchoSharePipeline * p)
{
  if (p == NULL)
    return;
  if (p->busy > 0) {
    /* inside one of our callbacks: stop now, free when it returns */
    p->doomed = TRUE;
    teardown_pipeline (p);
    return;
  }
  finish_free (p);
}
