/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * sync-sender.c: the sync benchmark's sender. It plays the test signal of syncsignal.h as a
 * live source (like a capture device with 10 ms periods: the buffer holding samples
 * [k, k + 480) is pushed when the pipeline clock reaches base_time + (k + 480) / R, with
 * PTS k / R and offset k) and sends it either
 *
 *   --mode echo: appsrc ! sharerelay session=NAME port=P latency=L
 *     sharerelay provides the pipeline clock (its session clock, which it simulates from
 *     ECHO_SESSION_CLOCK_SIM, see simclock.h);
 *
 *   --mode rtp: the stock-GStreamer way to play synchronised on several hosts: the
 *     pipeline clock is the simulated session clock, published with a GstNetTimeProvider;
 *       appsrc ! audioconvert ! opusenc bitrate=128000 frame-size=10 ! rtpopuspay
 *         ! rtpbin (ntp-time-source=clock-time rtcp-sync-send-time=false)
 *     so that the NTP times of the RTCP sender reports are capture times on that clock;
 *     RTP and RTCP go to every receiver (--port / --rtcp-port take comma-separated lists).
 *     The base time is fixed (--base-time, default now + 200 ms) so that the receivers
 *     (sync-baseline-receiver) can use the same one.
 *
 * Once PLAYING it prints, and flushes,
 *   anchor index=0 capture_ns=<base time: session-clock time of sample 0>
 *   clock offset_ns=<o> skew_ppm=<s>
 * and runs until SIGINT/SIGTERM (or --duration). Exit status: 0 ok, 1 runtime error,
 * 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/net/gstnet.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simclock.h"
#include "syncsignal.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define CHANNELS 2
#define FRAMES_PER_BUFFER 480   /* 10 ms at 48 kHz */
#define DEFAULT_START_DELAY (200 * GST_MSECOND)
#define CLOCK_CHECK_ROUNDS 200
#define CLOCK_CHECK_MAX_ERROR_NS 5000

/* ---- options ------------------------------------------------------------------------- */

static gchar *opt_mode = NULL;
static gchar *opt_session = NULL;
static gchar *opt_port = NULL;
static gint opt_latency_ms = 100;
static gchar *opt_extra = NULL;
static gchar *opt_host = NULL;
static gchar *opt_rtcp_port = NULL;
static gint opt_clock_port = -1;
static gint opt_rtcp_recv_port = 0;
static gchar *opt_base_time = NULL;
static gchar *opt_clock_sim = NULL;
static gint opt_duration_s = 0;
static gboolean opt_check_clock = FALSE;

static GOptionEntry entries[] = {
  {"mode", 'm', 0, G_OPTION_ARG_STRING, &opt_mode,
      "echo (sharerelay) or rtp (stock RTP + net clock baseline)", "MODE"},
  {"session", 's', 0, G_OPTION_ARG_STRING, &opt_session,
      "echo: session name", "NAME"},
  {"port", 'p', 0, G_OPTION_ARG_STRING, &opt_port,
        "echo: the relay's UDP port (0: any, printed as 'relay-port port=N'); rtp: RTP "
        "destination port(s), comma-separated, one per receiver", "P[,P...]"},
  {"latency-ms", 'l', 0, G_OPTION_ARG_INT, &opt_latency_ms,
      "echo: the relay's playout latency (default 100)", "MS"},
  {"extra", 'x', 0, G_OPTION_ARG_STRING, &opt_extra,
      "echo: more sharerelay properties, 'prop=value ...'", "PROPS"},
  {"host", 'H', 0, G_OPTION_ARG_STRING, &opt_host,
      "rtp: destination host (default 127.0.0.1)", "HOST"},
  {"rtcp-port", 'r', 0, G_OPTION_ARG_STRING, &opt_rtcp_port,
        "rtp: RTCP destination port(s), one per --port entry (default: each RTP port + 1)",
      "Q[,Q...]"},
  {"clock-port", 'c', 0, G_OPTION_ARG_INT, &opt_clock_port,
        "rtp: UDP port of the network time provider on 127.0.0.1 (0: any free port, printed "
        "as 'clock-port port=N')", "C"},
  {"rtcp-recv-port", 0, 0, G_OPTION_ARG_INT, &opt_rtcp_recv_port,
      "rtp: also receive the receivers' RTCP on this port (default: none)", "R"},
  {"base-time", 'b', 0, G_OPTION_ARG_STRING, &opt_base_time,
        "rtp: pipeline base time in session-clock ns (default: now + 200 ms on that clock)",
      "NS"},
  {"clock-sim", 0, 0, G_OPTION_ARG_STRING, &opt_clock_sim,
        "Simulated session clock OFFSET_NS:SKEW_PPM (default: $" ECHO_SIM_CLOCK_ENV
        "; echo mode passes it to the relay through that variable)", "O:S"},
  {"duration", 'd', 0, G_OPTION_ARG_INT, &opt_duration_s,
      "Stop after this many seconds (default 0: until SIGINT/SIGTERM)", "S"},
  {"check-clock", 0, 0, G_OPTION_ARG_NONE, &opt_check_clock,
        "Only check the simulated clock against S(CLOCK_MONOTONIC), print the largest "
        "error and exit (1 if above 5 us)", NULL},
  {NULL}
};

/* ---- state --------------------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstAppSrc *appsrc;
  GstElement *relay;            /* echo mode */
  guint relay_port;
  int exit_code;
  gboolean started;

  /* the pushing thread */
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stopping;
  GstClockID wait_id;

  gint64 sim_offset_ns;
  double sim_skew_ppm;
} Sender;

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
  g_printerr ("sync-sender: %s\n(see sync-sender --help)\n", msg);
  g_option_context_free (ctx);
  exit (EXIT_USAGE);
}

/* "5000,5002" -> array of ports; ports must be in min_port..65535. */
static GArray *
parse_port_list (const char *list, guint min_port, GError ** error)
{
  g_auto (GStrv) parts = NULL;
  GArray *ports = g_array_new (FALSE, FALSE, sizeof (guint));
  guint i;

  parts = g_strsplit (list, ",", -1);
  for (i = 0; parts[i] != NULL; i++) {
    guint64 v;
    guint port;

    if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, min_port, 65535, &v,
            error)) {
      g_array_unref (ports);
      return NULL;
    }
    port = (guint) v;
    g_array_append_val (ports, port);
  }
  if (ports->len == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no port");
    g_array_unref (ports);
    return NULL;
  }
  return ports;
}

/* ---- the live source ------------------------------------------------------------------ */

static GstBuffer *
make_signal_buffer (guint64 k)
{
  GstBuffer *buf;
  GstMapInfo map;
  gfloat *out;
  guint i;
  GstClockTime pts, end;

  buf = gst_buffer_new_allocate (NULL,
      FRAMES_PER_BUFFER * CHANNELS * sizeof (gfloat), NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  out = (gfloat *) map.data;
  for (i = 0; i < FRAMES_PER_BUFFER; i++) {
    gfloat v = (gfloat) echo_sync_signal_sample (k + i);

    out[i * CHANNELS] = v;
    out[i * CHANNELS + 1] = v;
  }
  gst_buffer_unmap (buf, &map);

  pts = gst_util_uint64_scale (k, GST_SECOND, ECHO_SYNC_SIGNAL_RATE);
  end = gst_util_uint64_scale (k + FRAMES_PER_BUFFER, GST_SECOND,
      ECHO_SYNC_SIGNAL_RATE);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = end - pts;
  GST_BUFFER_OFFSET (buf) = k;
  GST_BUFFER_OFFSET_END (buf) = k + FRAMES_PER_BUFFER;
  if (k == 0)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  return buf;
}

/* Waits until @clock reads @target or the sender stops. FALSE when stopping. */
static gboolean
wait_for_clock (Sender * s, GstClock * clock, GstClockTime target)
{
  for (;;) {
    GstClockID id;
    GstClockReturn ret;
    GstClockTime now;
    gint64 deadline;

    g_mutex_lock (&s->lock);
    if (s->stopping) {
      g_mutex_unlock (&s->lock);
      return FALSE;
    }
    id = gst_clock_new_single_shot_id (clock, target);
    s->wait_id = id;
    g_mutex_unlock (&s->lock);

    ret = gst_clock_id_wait (id, NULL);

    g_mutex_lock (&s->lock);
    s->wait_id = NULL;
    g_mutex_unlock (&s->lock);
    gst_clock_id_unref (id);

    if (ret == GST_CLOCK_OK || ret == GST_CLOCK_EARLY)
      return TRUE;
    if (ret == GST_CLOCK_UNSCHEDULED)
      continue;                 /* stopping is checked above */

    /* a clock that cannot wait: sleep in short steps */
    now = gst_clock_get_time (clock);
    if (now >= target)
      return TRUE;
    deadline = g_get_monotonic_time () +
        MIN ((gint64) ((target - now) / GST_USECOND), 2000);
    g_mutex_lock (&s->lock);
    while (!s->stopping && g_get_monotonic_time () < deadline)
      g_cond_wait_until (&s->cond, &s->lock, deadline);
    g_mutex_unlock (&s->lock);
  }
}

static gpointer
push_thread (gpointer data)
{
  Sender *s = data;
  g_autoptr (GstClock) clock = gst_element_get_clock (s->pipeline);
  GstClockTime base = gst_element_get_base_time (s->pipeline);
  GstClockTime now;
  guint64 k = 0;

  if (clock == NULL) {
    g_printerr ("sync-sender: the pipeline has no clock\n");
    return NULL;
  }

  /* a capture device started late starts at the current period */
  now = gst_clock_get_time (clock);
  if (now > base)
    k = gst_util_uint64_scale (now - base, ECHO_SYNC_SIGNAL_RATE,
        GST_SECOND) / FRAMES_PER_BUFFER * FRAMES_PER_BUFFER;

  for (;;) {
    GstClockTime ready = base + gst_util_uint64_scale (k + FRAMES_PER_BUFFER,
        GST_SECOND, ECHO_SYNC_SIGNAL_RATE);
    GstFlowReturn flow;

    if (!wait_for_clock (s, clock, ready))
      break;
    flow = gst_app_src_push_buffer (s->appsrc, make_signal_buffer (k));
    if (flow != GST_FLOW_OK) {
      if (flow != GST_FLOW_FLUSHING && flow != GST_FLOW_EOS)
        g_printerr ("sync-sender: pushing failed: %s\n",
            gst_flow_get_name (flow));
      break;
    }
    k += FRAMES_PER_BUFFER;
  }
  return NULL;
}

static void
stop_push_thread (Sender * s)
{
  if (s->thread == NULL)
    return;
  g_mutex_lock (&s->lock);
  s->stopping = TRUE;
  if (s->wait_id != NULL)
    gst_clock_id_unschedule (s->wait_id);
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  g_thread_join (s->thread);
  s->thread = NULL;
}

/* ---- bus, signals -------------------------------------------------------------------- */

/* Prints the anchor and starts the live source, once the pipeline has its clock and
 * base time. */
static void
start_streaming (Sender * s)
{
  gchar skew[G_ASCII_DTOSTR_BUF_SIZE];

  if (s->started)
    return;
  s->started = TRUE;

  g_ascii_formatd (skew, sizeof (skew), "%.9g", s->sim_skew_ppm);
  g_print ("anchor index=0 capture_ns=%" G_GUINT64_FORMAT "\n",
      (guint64) gst_element_get_base_time (s->pipeline));
  g_print ("clock offset_ns=%" G_GINT64_FORMAT " skew_ppm=%s\n",
      s->sim_offset_ns, skew);
  if (s->relay != NULL && s->relay_port == 0 && g_object_class_find_property
      (G_OBJECT_GET_CLASS (s->relay), "bound-port") != NULL) {
    guint bound = 0;

    g_object_get (s->relay, "bound-port", &bound, NULL);
    g_print ("relay-port port=%u\n", bound);
  }
  fflush (stdout);

  s->thread = g_thread_new ("sync-sender-push", push_thread, s);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Sender *s = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;
      g_autofree gchar *path = gst_object_get_path_string (msg->src);

      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("sync-sender: error from %s: %s\n%s%s", path, err->message,
          debug ? debug : "", debug ? "\n" : "");
      s->exit_code = EXIT_RUNTIME;
      g_main_loop_quit (s->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;
      g_autofree gchar *path = gst_object_get_path_string (msg->src);

      gst_message_parse_warning (msg, &err, &debug);
      g_printerr ("sync-sender: warning from %s: %s%s%s\n", path, err->message,
          debug ? "\n" : "", debug ? debug : "");
      break;
    }
    case GST_MESSAGE_EOS:
      g_printerr ("sync-sender: unexpected end of stream\n");
      s->exit_code = EXIT_RUNTIME;
      g_main_loop_quit (s->loop);
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (msg->src == GST_OBJECT (s->pipeline)) {
        GstState new_state;

        gst_message_parse_state_changed (msg, NULL, &new_state, NULL);
        if (new_state == GST_STATE_PLAYING)
          start_streaming (s);
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
  Sender *s = data;

  g_main_loop_quit (s->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_duration_elapsed (gpointer data)
{
  Sender *s = data;

  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

/* ---- pipelines ----------------------------------------------------------------------- */

static GstElement *
make_appsrc (void)
{
  GstElement *src = gst_element_factory_make ("appsrc", "src");
  g_autoptr (GstCaps) caps = NULL;

  caps = gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE",
      "layout", G_TYPE_STRING, "interleaved",
      "rate", G_TYPE_INT, ECHO_SYNC_SIGNAL_RATE,
      "channels", G_TYPE_INT, CHANNELS,
      "channel-mask", GST_TYPE_BITMASK, (guint64) 0x3, NULL);
  /* like a capture device with 10 ms periods; appsrc's own queue buffers more */
  g_object_set (src, "caps", caps, "is-live", TRUE, "format", GST_FORMAT_TIME,
      "do-timestamp", FALSE, "block", FALSE,
      "min-latency", (gint64) gst_util_uint64_scale (FRAMES_PER_BUFFER,
          GST_SECOND, ECHO_SYNC_SIGNAL_RATE),
      "max-latency", (gint64) - 1, NULL);
  return src;
}

/* Sets sharerelay's latency whatever its unit: a 64-bit property is a GstClockTime in ns
 * (GStreamer's convention), a 32-bit one is in ms (as rtpbin's). */
static gboolean
set_relay_latency (GstElement * relay, gint latency_ms, GError ** error)
{
  GParamSpec *pspec =
      g_object_class_find_property (G_OBJECT_GET_CLASS (relay), "latency");
  GType type;

  if (pspec == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "sharerelay has no 'latency' property");
    return FALSE;
  }
  type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  if (type == G_TYPE_UINT64)
    g_object_set (relay, "latency", (guint64) latency_ms * GST_MSECOND, NULL);
  else if (type == G_TYPE_INT64)
    g_object_set (relay, "latency", (gint64) latency_ms * GST_MSECOND, NULL);
  else if (type == G_TYPE_UINT)
    g_object_set (relay, "latency", (guint) latency_ms, NULL);
  else if (type == G_TYPE_INT)
    g_object_set (relay, "latency", latency_ms, NULL);
  else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "sharerelay's 'latency' property has an unexpected type %s",
        g_type_name (type));
    return FALSE;
  }
  return TRUE;
}

static GstElement *
build_echo_pipeline (Sender * s, guint port, GError ** error)
{
  g_autoptr (GstElement) pipeline = gst_pipeline_new ("sync-sender");
  GstElement *src, *relay;
  g_auto (GStrv) props = NULL;
  guint i;

  relay = gst_element_factory_make ("sharerelay", "relay");
  if (relay == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "no 'sharerelay' element: build Echo and point GST_PLUGIN_PATH at "
        "build/plugins/sync");
    return NULL;
  }
  src = make_appsrc ();
  gst_bin_add_many (GST_BIN (pipeline), src, relay, NULL);

  g_object_set (relay, "session", opt_session, "port", port, NULL);
  if (!set_relay_latency (relay, opt_latency_ms, error))
    return NULL;

  if (opt_extra != NULL && opt_extra[0] != '\0') {
    if (!g_shell_parse_argv (opt_extra, NULL, &props, error))
      return NULL;
    for (i = 0; props[i] != NULL; i++) {
      gchar *eq = strchr (props[i], '=');

      if (eq == NULL || eq == props[i]) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
            "--extra: '%s' is not prop=value", props[i]);
        return NULL;
      }
      *eq = '\0';
      if (g_object_class_find_property (G_OBJECT_GET_CLASS (relay),
              props[i]) == NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
            "--extra: sharerelay has no property '%s'", props[i]);
        return NULL;
      }
      gst_util_set_object_arg (G_OBJECT (relay), props[i], eq + 1);
    }
  }

  if (!gst_element_link (src, relay)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "cannot link appsrc to sharerelay");
    return NULL;
  }
  s->appsrc = GST_APP_SRC (src);
  s->relay = relay;
  s->relay_port = port;
  return g_steal_pointer (&pipeline);
}

static gchar *
clients_string (const char *host, GArray * ports)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < ports->len; i++)
    g_string_append_printf (str, "%s%s:%u", i ? "," : "", host,
        g_array_index (ports, guint, i));
  return g_string_free (str, FALSE);
}

static GstElement *
build_rtp_pipeline (Sender * s, GArray * rtp_ports, GArray * rtcp_ports,
    GError ** error)
{
  g_autofree gchar *rtp_clients = clients_string (opt_host, rtp_ports);
  g_autofree gchar *rtcp_clients = clients_string (opt_host, rtcp_ports);
  g_autofree gchar *desc = NULL;
  g_autofree gchar *rtcp_in = NULL;
  GstElement *pipeline, *src;

  if (opt_rtcp_recv_port > 0)
    rtcp_in = g_strdup_printf ("udpsrc name=rtcpsrc address=127.0.0.1 port=%d "
        "! rtpbin.recv_rtcp_sink_0", opt_rtcp_recv_port);

  /* RTP and RTCP are sent as soon as they exist: the source is paced by the clock. */
  desc = g_strdup_printf ("rtpbin name=rtpbin ntp-time-source=clock-time "
      "rtcp-sync-send-time=false "
      "audioconvert name=conv ! opusenc bitrate=128000 frame-size=10 "
      "! rtpopuspay pt=96 ! rtpbin.send_rtp_sink_0 "
      "rtpbin.send_rtp_src_0 ! multiudpsink name=rtpsink clients=%s sync=false "
      "async=false "
      "rtpbin.send_rtcp_src_0 ! multiudpsink name=rtcpsink clients=%s "
      "sync=false async=false %s", rtp_clients, rtcp_clients,
      rtcp_in ? rtcp_in : "");
  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      error);
  if (pipeline == NULL)
    return NULL;
  gst_object_set_name (GST_OBJECT (pipeline), "sync-sender");

  src = make_appsrc ();
  gst_bin_add (GST_BIN (pipeline), src);
  {
    g_autoptr (GstElement) conv =
        gst_bin_get_by_name (GST_BIN (pipeline), "conv");

    if (!gst_element_link (src, conv)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "cannot link appsrc to audioconvert");
      gst_object_unref (pipeline);
      return NULL;
    }
  }
  s->appsrc = GST_APP_SRC (src);
  return pipeline;
}

/* ---- main ---------------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  GOptionContext *ctx;
  g_autoptr (GError) error = NULL;
  Sender s = { 0, };
  const gchar *sim_value;
  gboolean rtp;
  g_autoptr (GstClock) sim_clock = NULL;
  g_autoptr (GstNetTimeProvider) provider = NULL;
  g_autoptr (GArray) rtp_ports = NULL;
  g_autoptr (GArray) rtcp_ports = NULL;
  GstClockTime base_time = GST_CLOCK_TIME_NONE;
  GstBus *bus;
  guint bus_watch, sigint_id, sigterm_id;
  GstStateChangeReturn sret;

  ctx = g_option_context_new ("- sync benchmark sender");
  g_option_context_set_summary (ctx,
      "Sends the sync benchmark's test signal (bench/syncsignal.h) live, 48 kHz stereo "
      "F32 in 10 ms buffers,\n"
      "through Echo's sharerelay (--mode echo) or stock RTP/Opus with RTCP and a network\n"
      "clock (--mode rtp). Prints 'anchor index=0 capture_ns=N' and "
      "'clock offset_ns=O skew_ppm=S'\n"
      "once playing; runs until SIGINT/SIGTERM.\n\n"
      "  sync-sender --mode echo --session bench --port 5000 --latency-ms 100\n"
      "  sync-sender --mode rtp --port 5002,5004 --clock-port 5010 --base-time NS");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    usage_error (ctx, "%s", error->message);
  if (argc > 1)
    usage_error (ctx, "unexpected argument '%s'", argv[1]);

  sim_value = opt_clock_sim ? opt_clock_sim : g_getenv (ECHO_SIM_CLOCK_ENV);
  if (!echo_sim_clock_parse (sim_value, &s.sim_offset_ns, &s.sim_skew_ppm,
          &error))
    usage_error (ctx, "%s", error->message);

  if (opt_check_clock) {
    gint64 worst;

    g_option_context_free (ctx);
    worst = echo_sim_clock_self_check (sim_value, CLOCK_CHECK_ROUNDS, &error);
    if (worst < 0) {
      g_printerr ("sync-sender: %s\n", error->message);
      return EXIT_RUNTIME;
    }
    g_print ("clock-check offset_ns=%" G_GINT64_FORMAT " max_error_ns=%"
        G_GINT64_FORMAT " rounds=%d\n", s.sim_offset_ns, worst,
        CLOCK_CHECK_ROUNDS);
    return worst <= CLOCK_CHECK_MAX_ERROR_NS ? 0 : EXIT_RUNTIME;
  }

  if (opt_mode == NULL)
    usage_error (ctx, "--mode echo|rtp is required");
  if (g_strcmp0 (opt_mode, "echo") != 0 && g_strcmp0 (opt_mode, "rtp") != 0)
    usage_error (ctx, "--mode must be echo or rtp, not '%s'", opt_mode);
  if (opt_port == NULL)
    usage_error (ctx, "--port is required");
  if (opt_latency_ms < 0)
    usage_error (ctx, "--latency-ms must not be negative");
  if (opt_duration_s < 0)
    usage_error (ctx, "--duration must not be negative");
  rtp = g_str_equal (opt_mode, "rtp");
  rtp_ports = parse_port_list (opt_port, rtp ? 1 : 0, &error);
  if (rtp_ports == NULL)
    usage_error (ctx, "--port '%s': %s", opt_port, error->message);

  if (rtp) {
    if (opt_session != NULL || opt_extra != NULL)
      usage_error (ctx, "--session and --extra are for --mode echo");
    if (opt_clock_port < 0 || opt_clock_port > 65535)
      usage_error (ctx, "--mode rtp needs --clock-port (0..65535)");
    if (opt_rtcp_recv_port < 0 || opt_rtcp_recv_port > 65535)
      usage_error (ctx, "--rtcp-recv-port must be in 0..65535");
    if (opt_host == NULL)
      opt_host = g_strdup ("127.0.0.1");
    if (opt_rtcp_port != NULL) {
      rtcp_ports = parse_port_list (opt_rtcp_port, 1, &error);
      if (rtcp_ports == NULL)
        usage_error (ctx, "--rtcp-port '%s': %s", opt_rtcp_port,
            error->message);
      if (rtcp_ports->len != rtp_ports->len)
        usage_error (ctx, "--rtcp-port needs one port per --port entry");
    } else {
      guint i;

      rtcp_ports = g_array_new (FALSE, FALSE, sizeof (guint));
      for (i = 0; i < rtp_ports->len; i++) {
        guint q = g_array_index (rtp_ports, guint, i) + 1;

        if (q > 65535)
          usage_error (ctx, "RTP port 65535 has no default RTCP port");
        g_array_append_val (rtcp_ports, q);
      }
    }
    if (opt_base_time != NULL) {
      guint64 v;

      if (!g_ascii_string_to_unsigned (opt_base_time, 10, 0,
              G_MAXUINT64 - 1, &v, &error))
        usage_error (ctx, "--base-time: %s", error->message);
      base_time = v;
    }
  } else {
    if (opt_session == NULL || opt_session[0] == '\0')
      usage_error (ctx, "--mode echo needs --session");
    if (rtp_ports->len != 1)
      usage_error (ctx, "--mode echo takes one --port");
    if (opt_host != NULL || opt_rtcp_port != NULL || opt_clock_port >= 0
        || opt_base_time != NULL || opt_rtcp_recv_port != 0)
      usage_error (ctx, "--host, --rtcp-port, --clock-port, --rtcp-recv-port "
          "and --base-time are for --mode rtp");
  }
  g_option_context_free (ctx);

  if (rtp) {
    sim_clock = echo_sim_clock_new_from_env (sim_value, &error);
    if (sim_clock == NULL) {
      g_printerr ("sync-sender: %s\n", error->message);
      return EXIT_RUNTIME;
    }
    s.pipeline = build_rtp_pipeline (&s, rtp_ports, rtcp_ports, &error);
  } else {
    /* the relay simulates its session clock from the environment */
    if (opt_clock_sim != NULL)
      g_setenv (ECHO_SIM_CLOCK_ENV, opt_clock_sim, TRUE);
    s.pipeline = build_echo_pipeline (&s, g_array_index (rtp_ports, guint, 0),
        &error);
  }
  if (s.pipeline == NULL) {
    g_printerr ("sync-sender: %s\n", error->message);
    return EXIT_RUNTIME;
  }

  if (rtp) {
    gint clock_port;

    provider = gst_net_time_provider_new (sim_clock, "127.0.0.1",
        opt_clock_port);
    if (provider == NULL) {
      g_printerr ("sync-sender: cannot serve the clock on 127.0.0.1:%d\n",
          opt_clock_port);
      gst_object_unref (s.pipeline);
      return EXIT_RUNTIME;
    }
    g_object_get (provider, "port", &clock_port, NULL);
    if (opt_clock_port == 0) {
      g_print ("clock-port port=%d\n", clock_port);
      fflush (stdout);
    }

    gst_pipeline_use_clock (GST_PIPELINE (s.pipeline), sim_clock);
    if (!GST_CLOCK_TIME_IS_VALID (base_time))
      base_time = gst_clock_get_time (sim_clock) + DEFAULT_START_DELAY;
    gst_element_set_start_time (s.pipeline, GST_CLOCK_TIME_NONE);
    gst_element_set_base_time (s.pipeline, base_time);
  }

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  s.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (s.pipeline);
  bus_watch = gst_bus_add_watch (bus, on_bus_message, &s);
  sigint_id = g_unix_signal_add (SIGINT, on_unix_signal, &s);
  sigterm_id = g_unix_signal_add (SIGTERM, on_unix_signal, &s);
  if (opt_duration_s > 0)
    g_timeout_add_seconds (opt_duration_s, on_duration_elapsed, &s);

  sret = gst_element_set_state (s.pipeline, GST_STATE_PLAYING);
  if (sret == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("sync-sender: the pipeline cannot start\n");
    s.exit_code = EXIT_RUNTIME;
    /* the bus watch reports the error message, if any */
    while (g_main_context_iteration (NULL, FALSE));
  } else {
    g_autoptr (GstClock) clock = gst_element_get_clock (s.pipeline);

    /* A live pipeline has its clock and base time as soon as it has gone through
     * PAUSED -> PLAYING, but it only posts PLAYING once every sink is prerolled: an
     * async sink (sharerelay) needs data first, so stream now. */
    if (clock != NULL)
      start_streaming (&s);
    g_main_loop_run (s.loop);
  }

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (bus_watch);

  /* stop: no more buffers, end the stream (RTCP BYE, relay shutdown), then tear down */
  stop_push_thread (&s);
  if (s.started && s.exit_code == 0) {
    g_autoptr (GstMessage) msg = NULL;

    gst_app_src_end_of_stream (s.appsrc);
    msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  }
  gst_element_set_state (s.pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (s.pipeline);
  g_main_loop_unref (s.loop);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
  g_free (opt_mode);
  g_free (opt_session);
  g_free (opt_port);
  g_free (opt_extra);
  g_free (opt_host);
  g_free (opt_rtcp_port);
  g_free (opt_base_time);
  g_free (opt_clock_sim);
  return s.exit_code;
}
