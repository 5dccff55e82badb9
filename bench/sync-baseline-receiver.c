/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * sync-baseline-receiver.c: the sync benchmark's stock-GStreamer baseline receiver, for
 * sync-sender --mode rtp. It is GStreamer's own recipe for synchronised playback on
 * several hosts (see gst-rtsp-server's test-netclock-client.c):
 *
 *   - the pipeline clock is a GstNetClientClock following the sender's clock;
 *   - every receiver uses the sender's base time (--base-time) and the same fixed pipeline
 *     latency (--latency-ms), so running time r renders at base + r + latency on that clock;
 *   - rtpbin with ntp-sync=true, ntp-time-source=clock-time and buffer-mode=synced sets
 *     the jitterbuffer's ts-offset from the RTCP sender reports so that an RTP timestamp
 *     gets the running time it was captured at on the sender;
 *
 *   udpsrc (RTP) ! rtpbin ! rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample
 *     ! <device>
 *   udpsrc (RTCP) ! rtpbin [! udpsink (RTCP receiver reports, --rtcp-send-port)]
 *
 * The device keeps GstAudioBaseSink's default slave-method (skew), which is what the
 * benchmark compares against. Prints "joined" once PLAYING and runs until SIGINT/SIGTERM
 * (or --duration). --check-timestamps reports, once a second on stderr, how many samples
 * the audio reaching the device is away from where the sender's running time says it must
 * be (0 = sample k at running time k / R), found by matching the test signal.
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/audio/audio.h>
#include <gst/net/gstnet.h>
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncsignal.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define CLOCK_SYNC_TIMEOUT (10 * GST_SECOND)
#define CLOCK_POLL_MS 10
/* rtpbin's buffer-mode "synced": sender and receiver clocks are synchronised */
#define RTP_JITTER_BUFFER_MODE_SYNCED 4
/* --check-timestamps searches this many samples either side (+-16 ms) */
#define CHECK_SEARCH 768
#define CHECK_WINDOW 480

/* ---- options ------------------------------------------------------------------------- */

static gint opt_rtp_port = -1;
static gint opt_rtcp_port = -1;
static gchar *opt_clock_host = NULL;
static gint opt_clock_port = -1;
static gchar *opt_base_time = NULL;
static gint opt_latency_ms = 100;
static gint opt_jitterbuffer_ms = -1;
static gchar *opt_device = NULL;
static gchar *opt_rtcp_send_host = NULL;
static gint opt_rtcp_send_port = 0;
static gint opt_duration_s = 0;
static gboolean opt_check_ts = FALSE;

static GOptionEntry entries[] = {
  {"rtp-port", 'p', 0, G_OPTION_ARG_INT, &opt_rtp_port,
      "UDP port to receive RTP on (0: any, printed as 'ports rtp=N rtcp=M')", "P"},
  {"rtcp-port", 'r', 0, G_OPTION_ARG_INT, &opt_rtcp_port,
      "UDP port to receive RTCP on (0: any)", "Q"},
  {"clock-host", 'C', 0, G_OPTION_ARG_STRING, &opt_clock_host,
      "Host of the sender's network time provider (default 127.0.0.1)", "HOST"},
  {"clock-port", 'c', 0, G_OPTION_ARG_INT, &opt_clock_port,
      "Port of the sender's network time provider", "C"},
  {"base-time", 'b', 0, G_OPTION_ARG_STRING, &opt_base_time,
      "The sender's pipeline base time, in its clock's ns (its anchor capture_ns)",
      "NS"},
  {"latency-ms", 'l', 0, G_OPTION_ARG_INT, &opt_latency_ms,
        "Pipeline latency: sample k renders at base + k/R + latency (default 100)",
      "MS"},
  {"jitterbuffer-ms", 'j', 0, G_OPTION_ARG_INT, &opt_jitterbuffer_ms,
        "rtpbin's jitterbuffer latency; must leave room for the decoder and the device "
        "within --latency-ms (default: latency / 2)", "MS"},
  {"device", 'd', 0, G_OPTION_ARG_STRING, &opt_device,
        "The audio sink, as a gst-launch description (e.g. 'echosimsink skew-ppm=30 "
        "location=r1.raw')", "DESC"},
  {"rtcp-send-host", 0, 0, G_OPTION_ARG_STRING, &opt_rtcp_send_host,
      "Host to send RTCP receiver reports to (default: --clock-host)", "HOST"},
  {"rtcp-send-port", 0, 0, G_OPTION_ARG_INT, &opt_rtcp_send_port,
      "Port to send RTCP receiver reports to (default 0: do not send)", "R"},
  {"duration", 0, 0, G_OPTION_ARG_INT, &opt_duration_s,
      "Stop after this many seconds (default 0: until SIGINT/SIGTERM)", "S"},
  {"check-timestamps", 0, 0, G_OPTION_ARG_NONE, &opt_check_ts,
        "Report on stderr, once a second, the offset in samples between the audio "
        "reaching the device and its running time", NULL},
  {NULL}
};

/* ---- state --------------------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *depay;
  int exit_code;
  GstClock *net_clock;
  GstClockTime base_time;
  gint64 clock_deadline;        /* g_get_monotonic_time () */
  gboolean joined;
  gboolean linked;

  /* --check-timestamps, in the streaming thread */
  GstClockTime last_check;
  guint64 checked;
} Receiver;

static void
usage_error (GOptionContext * ctx, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
usage_error (GOptionContext * ctx, const char *fmt, ...)
{
  va_list args;
  g_autofree gchar *msg = NULL;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_printerr ("sync-baseline-receiver: %s\n(see sync-baseline-receiver --help)\n",
      msg);
  g_option_context_free (ctx);
  exit (EXIT_USAGE);
}

/* ---- --check-timestamps -------------------------------------------------------------- */

/* Finds d such that the samples @x best match the signal at k0 + d + i; returns d and the
 * RMS residual in @rms. */
static gint
find_signal_offset (const double *x, guint n, gint64 k0, double *rms)
{
  gint best_d = 0;
  double best = G_MAXDOUBLE;
  gint d;

  for (d = -CHECK_SEARCH; d <= CHECK_SEARCH; d++) {
    double err = 0.0;
    guint i;

    if (k0 + d < 0)
      continue;
    for (i = 0; i < n && err < best; i++) {
      double e = x[i] - echo_sync_signal_sample ((guint64) (k0 + d + i));

      err += e * e;
    }
    if (err < best) {
      best = err;
      best_d = d;
    }
  }
  *rms = sqrt (best / n);
  return best_d;
}

static GstPadProbeReturn
check_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Receiver *r = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstCaps) caps = NULL;
  GstAudioInfo ainfo;
  GstSegment segment;
  g_autoptr (GstEvent) seg_event = NULL;
  GstClockTime rt;
  GstMapInfo map;
  GstAudioFormat format;
  gint64 k0;
  gint d;
  double rms;
  guint n;

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return GST_PAD_PROBE_OK;
  caps = gst_pad_get_current_caps (pad);
  seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (caps == NULL || seg_event == NULL || !gst_audio_info_from_caps (&ainfo,
          caps))
    return GST_PAD_PROBE_OK;
  format = GST_AUDIO_INFO_FORMAT (&ainfo);
  if ((format != GST_AUDIO_FORMAT_F32LE && format != GST_AUDIO_FORMAT_S16LE)
      || GST_AUDIO_INFO_RATE (&ainfo) != ECHO_SYNC_SIGNAL_RATE
      || GST_AUDIO_INFO_LAYOUT (&ainfo) != GST_AUDIO_LAYOUT_INTERLEAVED)
    return GST_PAD_PROBE_OK;
  gst_event_copy_segment (seg_event, &segment);
  rt = gst_segment_to_running_time (&segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf));
  if (!GST_CLOCK_TIME_IS_VALID (rt))
    return GST_PAD_PROBE_OK;
  if (GST_CLOCK_TIME_IS_VALID (r->last_check) && rt < r->last_check + GST_SECOND
      && rt >= r->last_check)
    return GST_PAD_PROBE_OK;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  n = map.size / GST_AUDIO_INFO_BPF (&ainfo);
  if (n >= CHECK_WINDOW) {
    double x[CHECK_WINDOW];
    guint channels = GST_AUDIO_INFO_CHANNELS (&ainfo);
    guint i;

    /* the first channel */
    for (i = 0; i < CHECK_WINDOW; i++) {
      if (format == GST_AUDIO_FORMAT_F32LE)
        x[i] = GFLOAT_FROM_LE (((const gfloat *) map.data)[i * channels]);
      else
        x[i] = (gint16) GINT16_FROM_LE (((const gint16 *) map.data)[i *
                channels]) / 32768.0;
    }
    k0 = (gint64) gst_util_uint64_scale_round (rt, ECHO_SYNC_SIGNAL_RATE,
        GST_SECOND);
    d = find_signal_offset (x, CHECK_WINDOW, k0, &rms);
    g_printerr ("ts-check running_time=%" GST_TIME_FORMAT " offset_samples=%d "
        "rms=%.4f%s\n", GST_TIME_ARGS (rt), d, rms,
        rms > 0.05 ? " (no clear match)" : "");
    r->last_check = rt;
    r->checked++;
  }
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

/* ---- rtpbin -------------------------------------------------------------------------- */

static void
on_rtpbin_pad_added (GstElement * rtpbin, GstPad * pad, gpointer data)
{
  Receiver *r = data;
  g_autoptr (GstPad) sinkpad = NULL;
  g_autofree gchar *name = gst_pad_get_name (pad);
  GstPadLinkReturn ret;

  if (!g_str_has_prefix (name, "recv_rtp_src_"))
    return;
  if (r->linked) {
    /* a new SSRC (sender restarted): the first stream keeps the decoder */
    g_printerr ("sync-baseline-receiver: ignoring extra stream %s\n", name);
    return;
  }
  sinkpad = gst_element_get_static_pad (r->depay, "sink");
  ret = gst_pad_link (pad, sinkpad);
  if (GST_PAD_LINK_FAILED (ret)) {
    g_printerr ("sync-baseline-receiver: cannot link %s: %s\n", name,
        gst_pad_link_get_name (ret));
    return;
  }
  r->linked = TRUE;
}

/* rtpbin asks which caps a payload type has: the udpsrc's caps also cover it, this only
 * helps when a stream changes pt. */
static GstCaps *
on_request_pt_map (GstElement * rtpbin, guint session, guint pt, gpointer data)
{
  return gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, "audio",
      "clock-rate", G_TYPE_INT, ECHO_SYNC_SIGNAL_RATE,
      "encoding-name", G_TYPE_STRING, "OPUS",
      "payload", G_TYPE_INT, (gint) pt, NULL);
}

/* ---- bus, signals -------------------------------------------------------------------- */

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Receiver *r = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;
      g_autofree gchar *path = gst_object_get_path_string (msg->src);

      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("sync-baseline-receiver: error from %s: %s\n%s%s", path,
          err->message, debug ? debug : "", debug ? "\n" : "");
      r->exit_code = EXIT_RUNTIME;
      g_main_loop_quit (r->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;
      g_autofree gchar *path = gst_object_get_path_string (msg->src);

      gst_message_parse_warning (msg, &err, &debug);
      g_printerr ("sync-baseline-receiver: warning from %s: %s%s%s\n", path,
          err->message, debug ? "\n" : "", debug ? debug : "");
      break;
    }
    case GST_MESSAGE_EOS:
      g_printerr ("sync-baseline-receiver: end of stream\n");
      g_main_loop_quit (r->loop);
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (msg->src == GST_OBJECT (r->pipeline)) {
        GstState new_state;

        gst_message_parse_state_changed (msg, NULL, &new_state, NULL);
        if (new_state == GST_STATE_PLAYING && !r->joined) {
          r->joined = TRUE;
          g_print ("joined\n");
          fflush (stdout);
        }
      }
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_unix_signal (gpointer data)
{
  Receiver *r = data;

  g_main_loop_quit (r->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_duration_elapsed (gpointer data)
{
  Receiver *r = data;

  g_main_loop_quit (r->loop);
  return G_SOURCE_REMOVE;
}

/* Once the network clock has synchronised: clock, base time and latency, then PLAYING. */
static gboolean
poll_clock_sync (gpointer data)
{
  Receiver *r = data;

  if (!gst_clock_is_synced (r->net_clock)) {
    if (g_get_monotonic_time () < r->clock_deadline)
      return G_SOURCE_CONTINUE;
    g_printerr ("sync-baseline-receiver: the network clock at %s:%d did not "
        "synchronise within %" G_GUINT64_FORMAT " s\n", opt_clock_host,
        opt_clock_port, (guint64) (CLOCK_SYNC_TIMEOUT / GST_SECOND));
    r->exit_code = EXIT_RUNTIME;
    g_main_loop_quit (r->loop);
    return G_SOURCE_REMOVE;
  }

  gst_pipeline_use_clock (GST_PIPELINE (r->pipeline), r->net_clock);
  gst_element_set_start_time (r->pipeline, GST_CLOCK_TIME_NONE);
  gst_element_set_base_time (r->pipeline, r->base_time);
  gst_pipeline_set_latency (GST_PIPELINE (r->pipeline),
      (GstClockTime) opt_latency_ms * GST_MSECOND);
  if (gst_element_set_state (r->pipeline,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("sync-baseline-receiver: the pipeline cannot start\n");
    r->exit_code = EXIT_RUNTIME;
    g_main_loop_quit (r->loop);
    return G_SOURCE_REMOVE;
  }
  if (opt_duration_s > 0)
    g_timeout_add_seconds (opt_duration_s, on_duration_elapsed, r);
  return G_SOURCE_REMOVE;
}

/* ---- pipeline ------------------------------------------------------------------------ */

static GstElement *
build_pipeline (Receiver * r, GError ** error)
{
  g_autofree gchar *desc = NULL;
  g_autofree gchar *rtcp_out = NULL;
  g_autoptr (GstElement) rtpbin = NULL;
  GstElement *pipeline;

  if (opt_rtcp_send_port > 0)
    rtcp_out = g_strdup_printf ("rtpbin.send_rtcp_src_0 ! udpsink name=rtcpsink "
        "host=%s port=%d sync=false async=false", opt_rtcp_send_host,
        opt_rtcp_send_port);

  /* The payloader's caps: Opus in RTP is always 48 kHz, encoding-params 2; sender uses
   * pt 96. */
  desc = g_strdup_printf ("rtpbin name=rtpbin latency=%d ntp-sync=true "
      "ntp-time-source=clock-time rtcp-sync-send-time=false buffer-mode=%d "
      "do-lost=true "
      "udpsrc name=rtpsrc address=127.0.0.1 port=%d caps=\"application/x-rtp, "
      "media=(string)audio, clock-rate=(int)48000, encoding-name=(string)OPUS, "
      "payload=(int)96, encoding-params=(string)2, sprop-stereo=(string)1\" "
      "! rtpbin.recv_rtp_sink_0 "
      "udpsrc name=rtcpsrc address=127.0.0.1 port=%d caps=\"application/x-rtcp\" "
      "! rtpbin.recv_rtcp_sink_0 "
      "%s "
      "rtpopusdepay name=depay ! opusdec plc=true ! audioconvert ! audioresample "
      "! capsfilter caps=\"audio/x-raw, rate=(int)48000, channels=(int)2\" "
      "! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 "
      "! %s", opt_jitterbuffer_ms, RTP_JITTER_BUFFER_MODE_SYNCED,
      opt_rtp_port, opt_rtcp_port, rtcp_out ? rtcp_out : "", opt_device);

  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      error);
  if (pipeline == NULL)
    return NULL;
  if (!GST_IS_PIPELINE (pipeline)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "not a pipeline");
    gst_object_unref (pipeline);
    return NULL;
  }
  gst_object_set_name (GST_OBJECT (pipeline), "sync-baseline-receiver");

  rtpbin = gst_bin_get_by_name (GST_BIN (pipeline), "rtpbin");
  r->depay = gst_bin_get_by_name (GST_BIN (pipeline), "depay");
  g_signal_connect (rtpbin, "pad-added", G_CALLBACK (on_rtpbin_pad_added), r);
  g_signal_connect (rtpbin, "request-pt-map", G_CALLBACK (on_request_pt_map),
      r);

  if (opt_check_ts) {
    g_autoptr (GstPad) srcpad = NULL;
    g_autoptr (GstElement) queue = NULL;
    GstIterator *it;
    GValue v = G_VALUE_INIT;

    /* the probe sits on the queue's src pad: what the device receives */
    it = gst_bin_iterate_elements (GST_BIN (pipeline));
    while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
      GstElement *e = g_value_get_object (&v);
      GstElementFactory *f = gst_element_get_factory (e);

      if (f != NULL && g_str_equal (GST_OBJECT_NAME (f), "queue"))
        queue = gst_object_ref (e);
      g_value_reset (&v);
    }
    g_value_unset (&v);
    gst_iterator_free (it);
    if (queue != NULL) {
      srcpad = gst_element_get_static_pad (queue, "src");
      gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, check_probe, r,
          NULL);
    }
  }
  return pipeline;
}

static gint
bound_port (GstElement * pipeline, const char *name)
{
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), name);
  gint port = 0;

  g_object_get (src, "port", &port, NULL);
  return port;
}

/* ---- main ---------------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  GOptionContext *ctx;
  g_autoptr (GError) error = NULL;
  Receiver r = { 0, };
  GstClockTime base_time;
  guint64 v;
  GstBus *bus;
  guint bus_watch, sigint_id, sigterm_id;

  ctx = g_option_context_new ("- sync benchmark stock-GStreamer receiver");
  g_option_context_set_summary (ctx,
      "Plays sync-sender --mode rtp's stream the stock GStreamer way: network client "
      "clock,\nshared base time and latency, rtpbin ntp-sync with buffer-mode synced.\n"
      "Prints 'joined' once playing; runs until SIGINT/SIGTERM.\n\n"
      "  sync-baseline-receiver --rtp-port 5002 --rtcp-port 5003 --clock-port 5010 \\\n"
      "    --base-time NS --latency-ms 100 --device 'echosimsink location=r1.raw'");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    usage_error (ctx, "%s", error->message);
  if (argc > 1)
    usage_error (ctx, "unexpected argument '%s'", argv[1]);

  if (opt_rtp_port < 0 || opt_rtp_port > 65535)
    usage_error (ctx, "--rtp-port (0..65535) is required");
  if (opt_rtcp_port < 0 || opt_rtcp_port > 65535)
    usage_error (ctx, "--rtcp-port (0..65535) is required");
  if (opt_clock_port <= 0 || opt_clock_port > 65535)
    usage_error (ctx, "--clock-port (1..65535) is required");
  if (opt_base_time == NULL)
    usage_error (ctx, "--base-time is required (the sender's anchor capture_ns)");
  if (!g_ascii_string_to_unsigned (opt_base_time, 10, 0, G_MAXUINT64 - 1, &v,
          &error))
    usage_error (ctx, "--base-time: %s", error->message);
  base_time = v;
  if (opt_latency_ms <= 0)
    usage_error (ctx, "--latency-ms must be positive");
  if (opt_jitterbuffer_ms < 0)
    opt_jitterbuffer_ms = opt_latency_ms / 2;
  if (opt_jitterbuffer_ms >= opt_latency_ms)
    usage_error (ctx, "--jitterbuffer-ms must be below --latency-ms");
  if (opt_device == NULL || opt_device[0] == '\0')
    usage_error (ctx, "--device is required (e.g. 'fakesink sync=true')");
  if (opt_rtcp_send_port < 0 || opt_rtcp_send_port > 65535)
    usage_error (ctx, "--rtcp-send-port must be in 0..65535");
  if (opt_duration_s < 0)
    usage_error (ctx, "--duration must not be negative");
  if (opt_clock_host == NULL)
    opt_clock_host = g_strdup ("127.0.0.1");
  if (opt_rtcp_send_host == NULL)
    opt_rtcp_send_host = g_strdup (opt_clock_host);
  g_option_context_free (ctx);

  r.last_check = GST_CLOCK_TIME_NONE;
  r.pipeline = build_pipeline (&r, &error);
  if (r.pipeline == NULL) {
    g_printerr ("sync-baseline-receiver: %s\n", error->message);
    return EXIT_RUNTIME;
  }

  r.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (r.pipeline);
  bus_watch = gst_bus_add_watch (bus, on_bus_message, &r);
  sigint_id = g_unix_signal_add (SIGINT, on_unix_signal, &r);
  sigterm_id = g_unix_signal_add (SIGTERM, on_unix_signal, &r);

  /* READY binds the sockets: their ports are known before the clock is */
  if (gst_element_set_state (r.pipeline,
          GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("sync-baseline-receiver: the pipeline cannot start\n");
    r.exit_code = EXIT_RUNTIME;
    while (g_main_context_iteration (NULL, FALSE));
  } else {
    if (opt_rtp_port == 0 || opt_rtcp_port == 0) {
      g_print ("ports rtp=%d rtcp=%d\n", bound_port (r.pipeline, "rtpsrc"),
          bound_port (r.pipeline, "rtcpsrc"));
      fflush (stdout);
    }

    r.base_time = base_time;
    r.net_clock = gst_net_client_clock_new (NULL, opt_clock_host,
        opt_clock_port, 0);
    if (r.net_clock == NULL) {
      g_printerr ("sync-baseline-receiver: no network clock for %s:%d\n",
          opt_clock_host, opt_clock_port);
      r.exit_code = EXIT_RUNTIME;
    } else {
      r.clock_deadline = g_get_monotonic_time () +
          (gint64) (CLOCK_SYNC_TIMEOUT / GST_USECOND);
      g_timeout_add (CLOCK_POLL_MS, poll_clock_sync, &r);
      g_main_loop_run (r.loop);
    }
  }

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (bus_watch);
  gst_element_set_state (r.pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_clear_object (&r.depay);
  gst_clear_object (&r.net_clock);
  gst_object_unref (r.pipeline);
  g_main_loop_unref (r.loop);
  g_free (opt_clock_host);
  g_free (opt_base_time);
  g_free (opt_device);
  g_free (opt_rtcp_send_host);
  return r.exit_code;
}
