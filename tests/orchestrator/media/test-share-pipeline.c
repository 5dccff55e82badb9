/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-share-pipeline.c: EchoSharePipeline built from the shipped pipelines/share.pipeline,
 * with real GStreamer elements end to end. It proves that:
 *  - float chunks pushed at the sharer's 93 ms cadence reach a real receiver,
 *    `echosyncsrc uri=echo://127.0.0.1:PORT/SESSION ! appsink`, in the same process: the
 *    audio arrives at 48 kHz stereo, is not silent and is still the 440 Hz tone; the relay
 *    counts the receiver;
 *  - the Opus callback runs on the main thread with 20 ms packets (960 samples) whose
 *    size fits the bitrate (96 kb/s: about 240 bytes), dated within the sharer timestamps
 *    pushed;
 *  - the Opus branch encodes only while enabled: no packet while its valve is closed
 *    (beyond those already past it), packets again once reopened, dated from the audio
 *    pushed after reopening (the encoder restarts its timeline, it does not stretch the
 *    old one over the gap; only the tail it held back before closing comes first, in
 *    its own time); the state survives a restart;
 *  - more than two channels are mixed down to a stereo relay and stereo Opus;
 *  - a stall longer than the margin re-anchors the timeline; a burst far ahead of it is
 *    dropped beyond twice the margin;
 *  - a pipeline that fails at run time reaches the error callback, serves no port and
 *    takes no data; it may be freed or restarted (same port, data flows again) from
 *    inside that callback; one that cannot start is an error from _new();
 *  - a restart keeps the relay's UDP port and produces packets again;
 *  - the Opus callback may free the pipeline;
 *  - with announce on (inside tests/lib/mdns-sandbox only), the session resolves by mDNS
 *    to the relay's port, with its channels and token requirement.
 * Durations are only generous upper bounds of waits; nothing asserts timing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <gst/app/app.h>
#include <gst/audio/audio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "echo-share-pipeline.h"
#include "echodiscovery.h"

#define SHARER_RATE 44100
#define CHUNK_FRAMES 4096       /* 92.9 ms at 44.1 kHz: the seed's chunk */
#define CHUNK_INTERVAL_MS 93
#define TONE_HZ 440.0
#define TONE_AMPLITUDE 0.5
#define WAIT_TIMEOUT_S 20

static EchoPipelineFactory *
shipped_factory (void)
{
  g_autofree char *dir = g_build_filename (g_getenv ("ECHO_SOURCE_ROOT"), "pipelines",
      NULL);
  g_autoptr (GError) error = NULL;
  EchoPipelineFactory *factory = echo_pipeline_factory_new (dir, &error);

  g_assert_no_error (error);
  return factory;
}

/* The sharer: a continuous 440 Hz tone in 4096-frame chunks. */
typedef struct
{
  guint channels;
  guint64 frame;
  float *chunk;
} Sharer;

static void
sharer_init (Sharer * s, guint channels)
{
  s->channels = channels;
  s->frame = 0;
  s->chunk = g_new (float, CHUNK_FRAMES * channels);
}

static const float *
sharer_next (Sharer * s)
{
  guint i, c;

  for (i = 0; i < CHUNK_FRAMES; i++, s->frame++) {
    float v = (float) (TONE_AMPLITUDE * sin (2 * G_PI * TONE_HZ * (double) s->frame /
            SHARER_RATE));

    for (c = 0; c < s->channels; c++)
      s->chunk[i * s->channels + c] = v;
  }
  return s->chunk;
}

static void
sharer_clear (Sharer * s)
{
  g_free (s->chunk);
}

/* What the Opus callback saw (main thread only). */
typedef struct
{
  GThread *main_thread;
  guint packets;
  guint64 bytes;
  guint min_len, max_len;
  guint bad_frames;             /* packets not of 960 samples */
  gint64 first_ts, last_ts;
  gboolean ts_backwards;
  gint64 dated_from;            /* set: packets dated before it are counted in early */
  guint early;
  EchoSharePipeline **free_on_packet;   /* set: free *it on the first packet */
} OpusSeen;

static void
on_opus (EchoSharePipeline * p, const guint8 * packet, gsize len, guint frames,
    gint64 timestamp_ms, gpointer user_data)
{
  OpusSeen *seen = user_data;

  g_assert_true (g_thread_self () == seen->main_thread);
  g_assert_nonnull (packet);
  if (seen->packets == 0) {
    seen->first_ts = timestamp_ms;
    seen->min_len = seen->max_len = (guint) len;
  } else if (timestamp_ms < seen->last_ts) {
    seen->ts_backwards = TRUE;
  }
  seen->last_ts = timestamp_ms;
  if (seen->dated_from != 0 && timestamp_ms < seen->dated_from)
    seen->early++;
  seen->packets++;
  seen->bytes += len;
  seen->min_len = MIN (seen->min_len, (guint) len);
  seen->max_len = MAX (seen->max_len, (guint) len);
  if (frames != 960)
    seen->bad_frames++;
  if (seen->free_on_packet != NULL && *seen->free_on_packet != NULL) {
    g_assert_true (*seen->free_on_packet == p);
    g_clear_pointer (seen->free_on_packet, echo_share_pipeline_free);
  }
}

/* ---------------------------------------------------------------------------------- */
/* The receiver: echosyncsrc ! appsink, counting on the streaming thread                */

typedef struct
{
  GMutex lock;
  gint rate, channels;
  guint64 frames;
  guint64 loud_frames;          /* in buffers whose RMS is clearly not silence */
  double loud_sum_sq;
  guint64 rising_crossings;     /* of channel 0, with hysteresis, in loud buffers */
  gboolean below;               /* hysteresis state */
} Received;

static GstFlowReturn
on_received (GstAppSink * sink, gpointer user_data)
{
  Received *r = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstCaps *caps;
  GstStructure *s;
  GstBuffer *buf;
  GstMapInfo map;
  gint rate = 0, channels = 0;
  gsize frames, i;
  const float *x;
  double sum_sq = 0;

  if (sample == NULL)
    return GST_FLOW_FLUSHING;
  caps = gst_sample_get_caps (sample);
  s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "rate", &rate);
  gst_structure_get_int (s, "channels", &channels);
  g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, GST_AUDIO_NE (F32));
  buf = gst_sample_get_buffer (sample);
  if (channels <= 0 || !gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  x = (const float *) map.data;
  frames = map.size / sizeof (float) / channels;
  for (i = 0; i < frames * channels; i++)
    sum_sq += (double) x[i] * x[i];

  g_mutex_lock (&r->lock);
  r->rate = rate;
  r->channels = channels;
  r->frames += frames;
  if (frames > 0 && sqrt (sum_sq / (frames * channels)) > 0.05) {
    r->loud_frames += frames;
    r->loud_sum_sq += sum_sq / channels;
    for (i = 0; i < frames; i++) {
      float v = x[i * channels];

      if (v < -0.1f) {
        r->below = TRUE;
      } else if (v > 0.1f && r->below) {
        r->below = FALSE;
        r->rising_crossings++;
      }
    }
  }
  g_mutex_unlock (&r->lock);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

static GstElement *
start_receiver (guint16 port, const char *session, Received * r)
{
  g_autofree char *description = g_strdup_printf ("echosyncsrc "
      "uri=echo://127.0.0.1:%u/%s ! appsink name=sink sync=false", port, session);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_autoptr (GstElement) sink = NULL;
  GstAppSinkCallbacks callbacks = {.new_sample = on_received };

  g_assert_no_error (error);
  gst_object_ref_sink (pipeline);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, r, NULL);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  return pipeline;
}

static void
stop_receiver (GstElement * pipeline)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (msg, &error, NULL);
    g_error ("receiver: %s", error->message);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

/* ---------------------------------------------------------------------------------- */
/* Pushing at the sharer's cadence from the main loop                                   */

typedef struct
{
  EchoSharePipeline *pipeline;
  Sharer sharer;
  guint chunks_left;
  gint64 first_sharer_ts, last_sharer_ts;
  GMainLoop *loop;
} Feeder;

static gboolean
feed_chunk (gpointer user_data)
{
  Feeder *f = user_data;
  gint64 ts = g_get_real_time () / 1000;

  if (f->chunks_left == 0) {
    g_main_loop_quit (f->loop);
    return G_SOURCE_REMOVE;
  }
  if (f->first_sharer_ts == 0)
    f->first_sharer_ts = ts;
  f->last_sharer_ts = ts;
  g_assert_true (echo_share_pipeline_push (f->pipeline, sharer_next (&f->sharer),
          CHUNK_FRAMES, ts));
  f->chunks_left--;
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* Feeds @chunks chunks in real time, then runs the loop @tail_ms more. */
static void
feed (EchoSharePipeline * pipeline, guint channels, guint chunks, guint tail_ms,
    gint64 * first_ts, gint64 * last_ts)
{
  Feeder f = { 0, };
  GSource *timeout;

  f.pipeline = pipeline;
  sharer_init (&f.sharer, channels);
  f.chunks_left = chunks;
  f.loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add (CHUNK_INTERVAL_MS, feed_chunk, &f);
  g_main_loop_run (f.loop);
  timeout = g_timeout_source_new (tail_ms);
  g_source_set_callback (timeout, quit_loop, f.loop, NULL);
  g_source_attach (timeout, NULL);
  g_main_loop_run (f.loop);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_main_loop_unref (f.loop);
  sharer_clear (&f.sharer);
  if (first_ts != NULL)
    *first_ts = f.first_sharer_ts;
  if (last_ts != NULL)
    *last_ts = f.last_sharer_ts;
}

/* One non-blocking turn of the default context; a short sleep when it had nothing. */
static void
iterate_once (void)
{
  if (!g_main_context_iteration (NULL, FALSE))
    g_usleep (5000);
}

/* A generous bound on waits, only against hanging forever. */
static gint64
wait_deadline (void)
{
  return g_get_monotonic_time () + WAIT_TIMEOUT_S * G_TIME_SPAN_SECOND;
}

/* One turn of the default context; FALSE (and no turn) once @deadline has passed. */
static gboolean
iterate_before (gint64 deadline)
{
  if (g_get_monotonic_time () >= deadline)
    return FALSE;
  iterate_once ();
  return TRUE;
}

static EchoSharePipelineOptions
test_options (void)
{
  EchoSharePipelineOptions o = ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT;

  /* never announce on the machine's network from a test */
  o.announce = FALSE;
  /* most cases look at the Opus packets; the gate has a case of its own */
  o.opus_enabled = TRUE;
  return o;
}

/* ---------------------------------------------------------------------------------- */

static void
test_end_to_end (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  EchoSharePipelineStats stats;
  OpusSeen seen = {.main_thread = g_thread_self () };
  Received r = { 0, };
  GstElement *receiver;
  gint64 first_ts = 0, last_ts = 0;
  guint16 port;
  double mean_len, tone_hz, rms;
  guint chunks = 30;            /* 2.8 s */

  g_mutex_init (&r.lock);
  pipeline = echo_share_pipeline_new (factory, "314159", SHARER_RATE, 2, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pipeline);
  echo_share_pipeline_set_callbacks (pipeline, on_opus, NULL, &seen, NULL);
  g_assert_cmpstr (echo_share_pipeline_get_session_id (pipeline), ==, "314159");
  g_assert_cmpuint (echo_share_pipeline_get_out_channels (pipeline), ==, 2);
  port = echo_share_pipeline_get_port (pipeline);
  g_assert_cmpuint (port, >, 0);

  receiver = start_receiver (port, "314159", &r);
  feed (pipeline, 2, chunks, 1500, &first_ts, &last_ts);

  echo_share_pipeline_get_stats (pipeline, &stats);
  stop_receiver (receiver);

  g_assert_cmpuint (stats.frames_in, ==, (guint64) chunks * CHUNK_FRAMES);
  g_assert_cmpuint (stats.bytes_in, ==, (guint64) chunks * CHUNK_FRAMES * 2 * 4);
  g_assert_cmpuint (stats.receivers, ==, 1);
  g_assert_cmpuint (stats.relay_packets, >, 0);
  g_assert_cmpuint (stats.relay_bytes, >, 0);
  g_assert_cmpuint (stats.restarts, ==, 0);
  g_test_message ("relay: %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT
      " bytes; %" G_GUINT64_FORMAT " re-anchors", stats.relay_packets, stats.relay_bytes,
      stats.reanchors);

  /* the receiver heard the tone */
  g_mutex_lock (&r.lock);
  g_test_message ("received %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
      " loud), %d Hz, %d channels, %" G_GUINT64_FORMAT " rising crossings", r.frames,
      r.loud_frames, r.rate, r.channels, r.rising_crossings);
  g_assert_cmpint (r.rate, ==, 48000);
  g_assert_cmpint (r.channels, ==, 2);
  /* 2.8 s were sent; at least a second must have been heard loud and clear */
  g_assert_cmpuint (r.loud_frames, >=, 48000);
  rms = sqrt (r.loud_sum_sq / r.loud_frames);
  tone_hz = r.rising_crossings * 48000.0 / r.loud_frames;
  g_test_message ("tone: RMS %.3f, %.1f Hz", rms, tone_hz);
  g_assert_cmpfloat (rms, >, 0.2);      /* 0.354 for the sine */
  g_assert_cmpfloat (rms, <, 0.5);
  g_assert_cmpfloat (tone_hz, >, 400);
  g_assert_cmpfloat (tone_hz, <, 480);
  g_mutex_unlock (&r.lock);
  g_mutex_clear (&r.lock);

  /* Opus packets: 20 ms each, sized for 96 kb/s (240 bytes) */
  g_assert_cmpuint (stats.opus_packets, ==, seen.packets);
  g_assert_cmpuint (seen.packets, >=, 50);      /* of about 140 */
  g_assert_cmpuint (seen.packets, <=,
      (guint64) chunks * CHUNK_FRAMES * 48000 / SHARER_RATE / 960 + 2);
  g_assert_cmpuint (seen.bad_frames, ==, 0);
  mean_len = (double) seen.bytes / seen.packets;
  g_test_message ("Opus: %u packets, %.1f bytes on average (%u..%u)", seen.packets,
      mean_len, seen.min_len, seen.max_len);
  g_assert_cmpfloat (mean_len, >, 120);
  g_assert_cmpfloat (mean_len, <, 400);
  g_assert_false (seen.ts_backwards);
  /* dated in the sharer's time, within what was pushed (plus a chunk) */
  g_assert_cmpint (seen.first_ts, >=, first_ts - 1000);
  g_assert_cmpint (seen.last_ts, <=, last_ts + 1000);
  g_assert_cmpint (seen.last_ts - seen.first_ts, >=, 1000);
}

static void
test_multichannel (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  OpusSeen seen = {.main_thread = g_thread_self () };
  Received r = { 0, };
  GstElement *receiver;

  g_mutex_init (&r.lock);
  pipeline = echo_share_pipeline_new (factory, "600006", SHARER_RATE, 6, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (echo_share_pipeline_get_out_channels (pipeline), ==, 2);
  echo_share_pipeline_set_callbacks (pipeline, on_opus, NULL, &seen, NULL);
  receiver = start_receiver (echo_share_pipeline_get_port (pipeline), "600006", &r);
  feed (pipeline, 6, 15, 1500, NULL, NULL);
  stop_receiver (receiver);

  g_assert_cmpuint (seen.packets, >, 10);
  g_assert_cmpuint (seen.bad_frames, ==, 0);
  g_assert_cmpint (r.channels, ==, 2);
  g_assert_cmpuint (r.loud_frames, >, 0);
  g_mutex_clear (&r.lock);
}

static void
test_reanchor (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  EchoSharePipelineStats stats;
  Sharer sharer;
  gint64 ts = 1000000;
  guint i;

  options.anchor_margin_ms = 200;
  pipeline = echo_share_pipeline_new (factory, "271828", SHARER_RATE, 1, &options, &error);
  g_assert_no_error (error);
  sharer_init (&sharer, 1);

  g_assert_true (echo_share_pipeline_push (pipeline, sharer_next (&sharer), CHUNK_FRAMES,
          ts));
  /* a stall of a second, five times the margin: the next chunk is late */
  g_usleep (G_USEC_PER_SEC);
  g_assert_true (echo_share_pipeline_push (pipeline, sharer_next (&sharer), CHUNK_FRAMES,
          ts += 1000));
  echo_share_pipeline_get_stats (pipeline, &stats);
  g_assert_cmpuint (stats.reanchors, >=, 1);

  /* a burst: 20 chunks (1.9 s of audio) at once pile up beyond twice the margin; the
   * excess is dropped, the timeline is not moved back */
  for (i = 0; i < 20; i++)
    g_assert_true (echo_share_pipeline_push (pipeline, sharer_next (&sharer),
            CHUNK_FRAMES, ts += CHUNK_INTERVAL_MS));
  echo_share_pipeline_get_stats (pipeline, &stats);
  g_test_message ("%" G_GUINT64_FORMAT " re-anchors, %" G_GUINT64_FORMAT
      " frames dropped", stats.reanchors, stats.dropped_frames);
  g_assert_cmpuint (stats.dropped_frames, >=, 10 * CHUNK_FRAMES);
  g_assert_cmpuint (stats.dropped_frames % CHUNK_FRAMES, ==, 0);
  g_assert_cmpuint (stats.frames_in + stats.dropped_frames, ==, 22 * CHUNK_FRAMES);
  g_assert_cmpuint (stats.bytes_in, ==, stats.frames_in * sizeof (float));
  sharer_clear (&sharer);
}

/* ---------------------------------------------------------------------------------- */
/* Failures                                                                             */

/* The shipped layout, except that the Opus branch has an element that posts an ERROR
 * (and stops streaming) at its second buffer: the template is valid and the pipeline
 * starts; it fails once data flows. (Caps that cannot work are refused at parse time
 * already, when the elements are linked.) */
#define FAILING_TEMPLATE \
  "appsrc name=input format=time is-live=true\n" \
  "  caps=\"audio/x-raw,format=F32LE,layout=interleaved,rate={rate},channels={channels}," \
  "channel-mask=(bitmask){channel_mask}\"\n" \
  "  ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels={out_channels}\n" \
  "  ! tee name=t\n" \
  "t. ! queue ! sharerelay name=relay session={session} port=0 latency={latency}\n" \
  "     announce={announce} token={token} channels={out_channels}\n" \
  "t. ! valve name=opusgate ! queue ! identity error-after=2\n" \
  "  ! opusenc bitrate={opus_bitrate} ! appsink name=opus\n"

static char *
write_template_dir (const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp (NULL, &error);
  g_autofree char *path = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "share.pipeline", NULL);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return dir;
}

static void
remove_template_dir (char *dir)
{
  g_autofree char *path = g_build_filename (dir, "share.pipeline", NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (dir);
}

typedef enum
{
  ON_ERROR_RECORD,
  ON_ERROR_FREE,                /* free the pipeline from the callback */
  ON_ERROR_RESTART,             /* restart it from the callback */
} OnErrorAction;

typedef struct
{
  guint calls;
  GError *error;                /* the first one */
  OnErrorAction action;
  EchoSharePipeline **pipeline;
  guint16 port_before, port_after;
  gboolean restarted;
} ErrorSeen;

static void
on_error (EchoSharePipeline * p, const GError * error, gpointer user_data)
{
  ErrorSeen *seen = user_data;

  g_assert_true (*seen->pipeline == p);
  if (seen->calls++ == 0)
    seen->error = g_error_copy (error);
  /* once failed, a pipeline serves no port until it is restarted */
  g_assert_cmpuint (echo_share_pipeline_get_port (p), ==, 0);
  switch (seen->action) {
    case ON_ERROR_RECORD:
      break;
    case ON_ERROR_FREE:
      g_clear_pointer (seen->pipeline, echo_share_pipeline_free);
      break;
    case ON_ERROR_RESTART:{
      g_autoptr (GError) restart_error = NULL;

      if (seen->restarted)
        break;
      seen->restarted = echo_share_pipeline_restart (p, &restart_error);
      g_assert_no_error (restart_error);
      seen->port_after = echo_share_pipeline_get_port (p);
      break;
    }
  }
}

static void
push_chunks (EchoSharePipeline * pipeline, Sharer * sharer, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    g_assert_true (echo_share_pipeline_push (pipeline, sharer_next (sharer),
            CHUNK_FRAMES, i));
}

static void
run_failing_pipeline (OnErrorAction action)
{
  char *dir = write_template_dir (FAILING_TEMPLATE);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoPipelineFactory) factory = echo_pipeline_factory_new (dir, &error);
  EchoSharePipelineOptions options = test_options ();
  EchoSharePipeline *pipeline;
  EchoSharePipelineStats stats;
  ErrorSeen seen = { 0, };
  Sharer sharer;
  gint64 deadline;

  g_assert_no_error (error);
  pipeline = echo_share_pipeline_new (factory, "161803", SHARER_RATE, 2, &options, &error);
  g_assert_no_error (error);
  seen.action = action;
  seen.pipeline = &pipeline;
  seen.port_before = echo_share_pipeline_get_port (pipeline);
  echo_share_pipeline_set_callbacks (pipeline, NULL, on_error, &seen, NULL);

  sharer_init (&sharer, 2);
  push_chunks (pipeline, &sharer, 3);
  deadline = wait_deadline ();
  while (seen.calls < 1 && iterate_before (deadline))
    continue;
  g_assert_cmpuint (seen.calls, ==, 1);
  g_assert_error (seen.error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED);
  g_test_message ("error: %s", seen.error->message);
  g_assert_nonnull (strstr (seen.error->message, "161803"));

  switch (action) {
    case ON_ERROR_RECORD:
      /* stopped: no data taken, no port served, until a restart */
      g_assert_false (echo_share_pipeline_push (pipeline, sharer_next (&sharer),
              CHUNK_FRAMES, 9));
      g_assert_cmpuint (echo_share_pipeline_get_port (pipeline), ==, 0);
      echo_share_pipeline_free (pipeline);
      break;
    case ON_ERROR_FREE:
      g_assert_null (pipeline);
      break;
    case ON_ERROR_RESTART:
      /* rebuilt from the callback, on the same port, taking data again; the same
       * template fails again, and is reported again */
      g_assert_true (seen.restarted);
      g_assert_cmpuint (seen.port_after, ==, seen.port_before);
      push_chunks (pipeline, &sharer, 3);
      deadline = wait_deadline ();
      while (seen.calls < 2 && iterate_before (deadline))
        continue;
      g_assert_cmpuint (seen.calls, ==, 2);
      echo_share_pipeline_get_stats (pipeline, &stats);
      g_assert_cmpuint (stats.restarts, ==, 1);
      echo_share_pipeline_free (pipeline);
      break;
  }
  g_error_free (seen.error);
  sharer_clear (&sharer);
  remove_template_dir (dir);
}

static void
test_runtime_error (void)
{
  run_failing_pipeline (ON_ERROR_RECORD);
}

static void
test_runtime_error_free_in_callback (void)
{
  run_failing_pipeline (ON_ERROR_FREE);
}

static void
test_runtime_error_restart_in_callback (void)
{
  run_failing_pipeline (ON_ERROR_RESTART);
}

static void
test_start_error (void)
{
  /* an address this host does not have: binding the relay's socket fails */
  char *dir = write_template_dir ("appsrc name=input format=time is-live=true\n"
      "  caps=\"audio/x-raw,format=F32LE,layout=interleaved,rate={rate},channels={channels}\"\n"
      "  ! tee name=t\n"
      "t. ! queue ! sharerelay name=relay session={session} address=192.0.2.1\n"
      "     announce=false\n"
      "t. ! valve name=opusgate ! queue ! opusenc ! appsink name=opus\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoPipelineFactory) factory = echo_pipeline_factory_new (dir, &error);
  EchoSharePipeline *pipeline;

  g_assert_no_error (error);
  pipeline = echo_share_pipeline_new (factory, "112358", SHARER_RATE, 2, NULL, &error);
  g_assert_null (pipeline);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED);
  g_test_message ("error: %s", error->message);
  g_assert_nonnull (strstr (error->message, "112358"));
  remove_template_dir (dir);
}

static void
test_invalid_arguments (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;

  g_assert_null (echo_share_pipeline_new (factory, "12x456", SHARER_RATE, 2, &options,
          &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_null (echo_share_pipeline_new (factory, "123456", 4000, 2, &options, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_null (echo_share_pipeline_new (factory, "123456", SHARER_RATE, 9, &options,
          &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  options.anchor_margin_ms = 0;
  g_assert_null (echo_share_pipeline_new (factory, "123456", SHARER_RATE, 2, &options,
          &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
}

static void
test_restart (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  OpusSeen seen = {.main_thread = g_thread_self () };
  EchoSharePipelineStats stats;
  guint16 port;

  pipeline = echo_share_pipeline_new (factory, "141421", SHARER_RATE, 2, &options, &error);
  g_assert_no_error (error);
  echo_share_pipeline_set_callbacks (pipeline, on_opus, NULL, &seen, NULL);
  port = echo_share_pipeline_get_port (pipeline);
  feed (pipeline, 2, 5, 300, NULL, NULL);

  g_assert_true (echo_share_pipeline_restart (pipeline, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (echo_share_pipeline_get_port (pipeline), ==, port);
  memset (&seen, 0, sizeof (seen));
  seen.main_thread = g_thread_self ();
  feed (pipeline, 2, 10, 500, NULL, NULL);
  echo_share_pipeline_get_stats (pipeline, &stats);
  g_assert_cmpuint (stats.restarts, ==, 1);
  g_assert_cmpuint (seen.packets, >, 10);
  g_assert_cmpuint (seen.bad_frames, ==, 0);
}

static void
test_free_in_opus_callback (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  EchoSharePipeline *pipeline;
  OpusSeen seen = {.main_thread = g_thread_self () };
  Sharer sharer;
  gint64 deadline;
  guint i;

  pipeline = echo_share_pipeline_new (factory, "173205", SHARER_RATE, 2, &options, &error);
  g_assert_no_error (error);
  seen.free_on_packet = &pipeline;
  echo_share_pipeline_set_callbacks (pipeline, on_opus, NULL, &seen, NULL);
  sharer_init (&sharer, 2);
  /* several chunks at once: packets queue up behind the one that frees */
  push_chunks (pipeline, &sharer, 4);
  deadline = wait_deadline ();
  while (pipeline != NULL && iterate_before (deadline))
    continue;
  g_assert_null (pipeline);
  g_assert_cmpuint (seen.packets, ==, 1);
  /* nothing is dispatched for the freed pipeline afterwards */
  for (i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (seen.packets, ==, 1);
  sharer_clear (&sharer);
}

static guint
packets_after (EchoSharePipeline * pipeline, OpusSeen * seen, guint chunks)
{
  guint before = seen->packets;

  feed (pipeline, 2, chunks, 500, NULL, NULL);
  return seen->packets - before;
}

static void
test_opus_gate (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = test_options ();
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  OpusSeen seen = {.main_thread = g_thread_self () };
  EchoSharePipelineStats stats;
  gint64 closed_last_ts, reopened_at_ts;
  guint n;

  options.opus_enabled = FALSE;
  pipeline = echo_share_pipeline_new (factory, "662607", SHARER_RATE, 2, &options, &error);
  g_assert_no_error (error);
  echo_share_pipeline_set_callbacks (pipeline, on_opus, NULL, &seen, NULL);
  g_assert_false (echo_share_pipeline_get_opus_enabled (pipeline));

  /* closed from the start: the audio goes through (to the relay), no Opus */
  n = packets_after (pipeline, &seen, 8);
  echo_share_pipeline_get_stats (pipeline, &stats);
  g_assert_cmpuint (stats.frames_in, ==, 8 * CHUNK_FRAMES);
  g_assert_cmpuint (n, ==, 0);

  /* opened: about 37 packets for 8 chunks (743 ms) */
  echo_share_pipeline_set_opus_enabled (pipeline, TRUE);
  g_assert_true (echo_share_pipeline_get_opus_enabled (pipeline));
  n = packets_after (pipeline, &seen, 8);
  g_test_message ("open: %u packets", n);
  g_assert_cmpuint (n, >=, 20);
  g_assert_cmpuint (seen.bad_frames, ==, 0);

  /* closed again: at most what was past the valve already (none here: feed() waited
   * half a second after the last chunk) */
  echo_share_pipeline_set_opus_enabled (pipeline, FALSE);
  closed_last_ts = seen.last_ts;
  n = packets_after (pipeline, &seen, 8);
  g_test_message ("closed: %u packets", n);
  g_assert_cmpuint (n, <=, 2);

  /* reopened: packets again, dated from the audio after reopening (chunks are dated
   * when pushed), except the partial frame the encoder held back when it closed: it
   * comes first, right after the last packet before closing */
  echo_share_pipeline_set_opus_enabled (pipeline, TRUE);
  reopened_at_ts = g_get_real_time () / 1000;
  seen.dated_from = reopened_at_ts;
  seen.packets = 0;
  n = packets_after (pipeline, &seen, 8);
  g_test_message ("reopened: %u packets, %u dated before reopening; the first %"
      G_GINT64_FORMAT " ms after the last before closing, the last %" G_GINT64_FORMAT
      " ms after reopening", n, seen.early, seen.first_ts - closed_last_ts,
      seen.last_ts - reopened_at_ts);
  g_assert_cmpuint (n, >=, 20);
  g_assert_cmpuint (seen.early, <=, 1);
  g_assert_cmpint (seen.last_ts - reopened_at_ts, >=, 500);
  g_assert_false (seen.ts_backwards);

  /* the state survives a restart */
  echo_share_pipeline_set_opus_enabled (pipeline, FALSE);
  g_assert_true (echo_share_pipeline_restart (pipeline, &error));
  g_assert_no_error (error);
  g_assert_false (echo_share_pipeline_get_opus_enabled (pipeline));
  n = packets_after (pipeline, &seen, 6);
  g_assert_cmpuint (n, <=, 2);
}

/* Only inside tests/lib/mdns-sandbox (meson runs this case there on its own). */
static void
test_announce (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  EchoSharePipelineOptions options = ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSharePipeline) pipeline = NULL;
  g_autoptr (EchoDiscoveryResult) found = NULL;

  if (g_getenv ("ECHO_MDNS_SANDBOX") == NULL) {
    g_test_skip ("needs the private avahi-daemon of tests/lib/mdns-sandbox");
    return;
  }
  g_assert_true (options.announce);
  options.token = "s3cret";
  pipeline = echo_share_pipeline_new (factory, "577215", SHARER_RATE, 1, &options, &error);
  g_assert_no_error (error);

  /* what `echosyncsrc session=577215` does first */
  found = echo_discovery_resolve ("577215", 20000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->port, ==, echo_share_pipeline_get_port (pipeline));
  g_assert_cmpstr (g_hash_table_lookup (found->txt, "channels"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (found->txt, "auth"), ==, "token");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/share-pipeline/end-to-end", test_end_to_end);
  g_test_add_func ("/share-pipeline/multichannel", test_multichannel);
  g_test_add_func ("/share-pipeline/reanchor", test_reanchor);
  g_test_add_func ("/share-pipeline/error/runtime", test_runtime_error);
  g_test_add_func ("/share-pipeline/error/runtime-free-in-callback",
      test_runtime_error_free_in_callback);
  g_test_add_func ("/share-pipeline/error/runtime-restart-in-callback",
      test_runtime_error_restart_in_callback);
  g_test_add_func ("/share-pipeline/error/start", test_start_error);
  g_test_add_func ("/share-pipeline/error/invalid-arguments", test_invalid_arguments);
  g_test_add_func ("/share-pipeline/restart", test_restart);
  g_test_add_func ("/share-pipeline/free-in-opus-callback", test_free_in_opus_callback);
  g_test_add_func ("/share-pipeline/opus-gate", test_opus_gate);
  g_test_add_func ("/share-pipeline/announce", test_announce);

  return g_test_run ();
}
