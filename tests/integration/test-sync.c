/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-sync.c: synchronized playback end to end, over an impaired network.
 *
 * The sender is in this process: an appsrc that plays the sync benchmark's two-tone signal
 * (bench/syncsignal.h) live, 48 kHz stereo F32 in 10 ms buffers with PTS k / R, into
 *
 *   appsrc is-live=true ! sharerelay address=127.0.0.1 port=P latency=100
 *
 * sharerelay provides the pipeline clock (its session clock: CLOCK_MONOTONIC, since
 * ECHO_SESSION_CLOCK_SIM is unset here), so source sample k is captured at
 * base_time + k / R, and every receiver must play it at that time + the latency. Each
 * receiver is a pipeline of its own in this process,
 *
 *   echosyncsrc host=127.0.0.1 port=P' session=S ! echoclocksink device="echosimsink ..."
 *
 * running on its echosyncsrc's clock, with a simulated sound card whose crystal is off by
 * skew-ppm and which records when each frame played (bench/syncrec.h). The recordings are
 * analysed with bench/syncanalysis.h against the ideal timeline of the relay that was
 * playing. Network impairments come from echo-netem proxies (child processes) between the
 * receivers and the relay.
 *
 * Cases:
 *  /sync/impaired-network: two receivers, each through its own proxy (5 ms +- 5 ms,
 *    2 % loss, 1 % reorder, different seeds), devices at -300 and +400 ppm, 12 s: after
 *    3 s every window of both is within 2 ms of the ideal timeline, and the offset
 *    between them (p99) is under 2 ms;
 *  /sync/late-joiner: the second receiver joins 5 s after the first, converges within 3 s
 *    and plays within 2 ms of the first;
 *  /sync/relay-restart: the relay stops and a new one starts on the same port 1 s later;
 *    the receivers warn, resync by themselves (stats resyncs == 1) and, 3 s after the
 *    restart, play the new relay's timeline in sync again;
 *  /sync/malformed-traffic: while a receiver plays, the relay's port gets garbage,
 *    truncated, oversize and foreign-session datagrams and forged NACK / TIME_REQUEST
 *    packets from another socket: the relay counts every one as dropped and the receiver
 *    keeps playing in sync;
 *  /sync/token: a relay with a token; the right token plays, a wrong or missing one gets
 *    an ERROR;
 *  /sync/discovery: only inside tests/lib/mdns-sandbox (meson runs it there as a test of
 *    its own; elsewhere it skips): a receiver given only the session name finds an
 *    announced relay by mDNS and plays, and one for a session nobody announces fails with
 *    an ERROR naming it within its discovery-timeout.
 *
 * Two measures of timing are checked. The two-tone fit (per 10 ms window) is precise but
 * knows the delay only modulo the coarse tone's period, 10.67 ms: an error of 20 ms reads
 * as -1 ms. So the sender is silent for its first second, and where the sound starts in
 * each recording is also compared with the ideal timeline (to within 2 ms, whatever the
 * error). Each relay is analysed with its own anchor: the session-clock time of its sample
 * 0 is its pipeline's base time.
 *
 * The bounds are generous (milliseconds where the system achieves microseconds) so that a
 * loaded machine does not make them flaky; the measured figures are printed with
 * g_test_message. Measurements are non-fatal assertions: a case reports every bound it
 * misses, and the other cases still run.
 *
 * Usage: test-sync [GTest options] [PATH-TO-echo-netem]; the case that needs the proxy
 * skips without it. ECHO_TEST_SYNC_KEEP=1 keeps the recordings (their paths are printed)
 * for bench's sync-analyze.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "echoproto.h"
#include "syncanalysis.h"
#include "syncsignal.h"

#define CHANNELS 2
#define FRAMES_PER_BUFFER 480   /* 10 ms at 48 kHz */
#define LATENCY_MS 100
/* The sender is silent before this sample index (1 s): where the sound starts in a
 * recording gives the receiver's absolute timing, which the two-tone analysis knows only
 * modulo the coarse tone's period (10.67 ms) */
#define ONSET_INDEX 48000
#define ONSET_THRESHOLD 0.1
#define ONSET_SUSTAIN_NS (500 * GST_MSECOND)
#define ONSET_PAUSE_NS (20 * GST_MSECOND)
/* the bounds every case asserts */
#define SYNC_LIMIT_US 2000.0
#define SETTLE_NS (3 * GST_SECOND)
#define MAX_GLITCHES 2
/* generous waits for things that normally take milliseconds */
#define STATE_TIMEOUT (10 * GST_SECOND)
#define WAIT_TIMEOUT_MS 20000

static const gchar *netem_path = NULL;
static gchar *netem_abs = NULL;
static gchar *work_dir = NULL;
/* ECHO_TEST_SYNC_KEEP set: the recordings stay (for sync-analyze --csv) */
static gboolean keep_recordings = FALSE;

/* ---- pipelines and their bus messages ---------------------------------------------- */

typedef struct
{
  gchar *name;
  GstElement *pipeline;
  GPtrArray *errors;            /* gchar*: "element: message" */
  GPtrArray *warnings;
  GPtrArray *infos;
} Watched;

/* every pipeline that runs now: run_for () reads their buses */
static GPtrArray *watched = NULL;

static void
watched_init (Watched * w, const gchar * name, GstElement * pipeline)
{
  w->name = g_strdup (name);
  w->pipeline = pipeline;
  w->errors = g_ptr_array_new_with_free_func (g_free);
  w->warnings = g_ptr_array_new_with_free_func (g_free);
  w->infos = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (watched, w);
}

static void
watched_drain (Watched * w)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (w->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING |
              GST_MESSAGE_INFO)) != NULL) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *debug = NULL;
    g_autofree gchar *src = gst_object_get_name (GST_MESSAGE_SRC (msg));
    GPtrArray *into;
    const gchar *kind;

    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, &debug);
        into = w->errors;
        kind = "ERROR";
        break;
      case GST_MESSAGE_WARNING:
        gst_message_parse_warning (msg, &err, &debug);
        into = w->warnings;
        kind = "WARNING";
        break;
      default:
        gst_message_parse_info (msg, &err, &debug);
        into = w->infos;
        kind = "INFO";
        break;
    }
    g_test_message ("%s: %s from %s: %s (%s)", w->name, kind, src, err->message,
        debug ? debug : "no details");
    g_ptr_array_add (into, g_strdup_printf ("%s: %s", src, err->message));
    gst_message_unref (msg);
  }
}

static void
watched_clear (Watched * w)
{
  watched_drain (w);
  g_ptr_array_remove (watched, w);
  g_free (w->name);
  g_ptr_array_unref (w->errors);
  g_ptr_array_unref (w->warnings);
  g_ptr_array_unref (w->infos);
}

static void
drain_all (void)
{
  guint i;

  for (i = 0; i < watched->len; i++)
    watched_drain (g_ptr_array_index (watched, i));
}

/* Lets everything run for @ms, reading the buses. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * G_TIME_SPAN_MILLISECOND;
  gint64 now;

  while ((now = g_get_monotonic_time ()) < end) {
    drain_all ();
    g_usleep (MIN (20 * G_TIME_SPAN_MILLISECOND, end - now));
  }
  drain_all ();
}

static void
set_state_checked (Watched * w, GstState state)
{
  GstStateChangeReturn ret = gst_element_set_state (w->pipeline, state);

  if (ret == GST_STATE_CHANGE_FAILURE)
    watched_drain (w);
  g_assert_cmpint (ret, !=, GST_STATE_CHANGE_FAILURE);
}

static gint64
monotonic_ns (void)
{
  return echo_sync_rec_now_ns ();
}

/* ---- the sender: the signal, live, into sharerelay ---------------------------------- */

typedef struct
{
  Watched w;
  GstElement *relay;
  GstAppSrc *appsrc;
  GstClock *clock;
  GstClockTime base_time;
  guint port;

  GThread *thread;
  GMutex lock;
  gboolean stopping;
  GstClockID wait_id;
} Relay;

static GstBuffer *
signal_buffer (guint64 k)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL,
      FRAMES_PER_BUFFER * CHANNELS * sizeof (gfloat), NULL);
  GstMapInfo map;
  gfloat *out;
  guint i;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  out = (gfloat *) map.data;
  for (i = 0; i < FRAMES_PER_BUFFER; i++) {
    gfloat v = k + i < ONSET_INDEX ? 0.0f : (gfloat) echo_sync_signal_sample (k + i);

    out[i * CHANNELS] = v;
    out[i * CHANNELS + 1] = v;
  }
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (k, GST_SECOND, ECHO_SYNC_SIGNAL_RATE);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (k + FRAMES_PER_BUFFER, GST_SECOND,
      ECHO_SYNC_SIGNAL_RATE) - GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = k;
  GST_BUFFER_OFFSET_END (buf) = k + FRAMES_PER_BUFFER;
  if (k == 0)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  return buf;
}

/* Like a capture device with 10 ms periods: samples [k, k + 480) are pushed when the
 * clock reaches base_time + (k + 480) / R. */
static gpointer
relay_push_thread (gpointer data)
{
  Relay *r = data;
  guint64 k = 0;

  for (;;) {
    GstClockTime ready = r->base_time + gst_util_uint64_scale (k + FRAMES_PER_BUFFER,
        GST_SECOND, ECHO_SYNC_SIGNAL_RATE);
    GstClockID id;
    GstClockReturn cret;
    GstFlowReturn flow;

    g_mutex_lock (&r->lock);
    if (r->stopping) {
      g_mutex_unlock (&r->lock);
      break;
    }
    id = r->wait_id = gst_clock_new_single_shot_id (r->clock, ready);
    g_mutex_unlock (&r->lock);
    cret = gst_clock_id_wait (id, NULL);
    g_mutex_lock (&r->lock);
    r->wait_id = NULL;
    g_mutex_unlock (&r->lock);
    gst_clock_id_unref (id);
    if (cret == GST_CLOCK_UNSCHEDULED)
      continue;
    flow = gst_app_src_push_buffer (r->appsrc, signal_buffer (k));
    if (flow != GST_FLOW_OK)
      break;
    k += FRAMES_PER_BUFFER;
  }
  return NULL;
}

/* A relay of @session on 127.0.0.1:@port (0: any free port), playing. */
static Relay *
relay_start (const gchar * session, guint port, const gchar * token,
    gboolean announce)
{
  Relay *r = g_new0 (Relay, 1);
  GstElement *pipeline = gst_pipeline_new ("sender");
  GstElement *src = gst_element_factory_make ("appsrc", "src");
  g_autoptr (GstCaps) caps = NULL;
  GstClockTime frames_ns = gst_util_uint64_scale (FRAMES_PER_BUFFER, GST_SECOND,
      ECHO_SYNC_SIGNAL_RATE);

  r->relay = gst_element_factory_make ("sharerelay", "relay");
  /* g_assert (): what the case cannot go on without fails it at once, whereas the
   * measurements are checked with non-fatal assertions */
  g_assert (src != NULL && r->relay != NULL);
  caps = gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE",
      "layout", G_TYPE_STRING, "interleaved",
      "rate", G_TYPE_INT, ECHO_SYNC_SIGNAL_RATE,
      "channels", G_TYPE_INT, CHANNELS,
      "channel-mask", GST_TYPE_BITMASK, (guint64) 0x3, NULL);
  /* as a capture device: a period of latency, a few periods of buffering */
  g_object_set (src, "caps", caps, "is-live", TRUE, "format", GST_FORMAT_TIME,
      "do-timestamp", FALSE, "block", FALSE, "min-latency", (gint64) frames_ns,
      "max-latency", (gint64) (4 * frames_ns), NULL);
  g_object_set (r->relay, "session", session, "address", "127.0.0.1", "port", port,
      "latency", (guint) LATENCY_MS, "announce", announce, "stats-interval", 0, NULL);
  if (token)
    g_object_set (r->relay, "token", token, NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, r->relay, NULL);
  g_assert (gst_element_link (src, r->relay));
  r->appsrc = GST_APP_SRC (src);
  g_mutex_init (&r->lock);
  watched_init (&r->w, "relay", pipeline);

  set_state_checked (&r->w, GST_STATE_PLAYING);
  /* the pipeline has chosen its clock (the relay's) and base time once PLAYING was asked
   * for; the sink completes the state change with the first buffer */
  r->clock = gst_element_get_clock (pipeline);
  g_assert (r->clock != NULL);
  g_assert_cmpstr (GST_OBJECT_NAME (r->clock), ==, "sharerelay-session-clock");
  r->base_time = gst_element_get_base_time (pipeline);
  g_object_get (r->relay, "bound-port", &r->port, NULL);
  g_assert (r->port > 0);
  if (port)
    g_assert_cmpuint (r->port, ==, port);
  r->thread = g_thread_new ("sender", relay_push_thread, r);
  g_assert_cmpint (gst_element_get_state (pipeline, NULL, NULL, STATE_TIMEOUT), ==,
      GST_STATE_CHANGE_SUCCESS);
  g_test_message ("relay '%s' on port %u, base time (capture time of sample 0) %"
      G_GUINT64_FORMAT " ns", session, r->port, (guint64) r->base_time);
  return r;
}

static guint64
relay_stat (Relay * r, const gchar * field)
{
  GstStructure *s = NULL;
  guint64 v = 0;

  g_object_get (r->relay, "stats", &s, NULL);
  g_assert (s != NULL);
  g_assert_true (gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}

static void
relay_free (Relay * r)
{
  g_mutex_lock (&r->lock);
  r->stopping = TRUE;
  if (r->wait_id)
    gst_clock_id_unschedule (r->wait_id);
  g_mutex_unlock (&r->lock);
  g_thread_join (r->thread);
  set_state_checked (&r->w, GST_STATE_NULL);
  g_assert_cmpuint (r->w.errors->len, ==, 0);
  watched_clear (&r->w);
  gst_object_unref (r->clock);
  gst_object_unref (r->w.pipeline);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* ---- receivers ---------------------------------------------------------------------- */

typedef struct
{
  Watched w;
  GstElement *src;
  gchar *rec_path;
  gdouble skew_ppm;
  gboolean stopped;
} Receiver;

typedef struct
{
  const gchar *host;            /* NULL: find the session by mDNS */
  guint port;
  const gchar *session;
  const gchar *token;
  gdouble skew_ppm;
  guint discovery_timeout_ms;   /* 0: the default */
} ReceiverConfig;

static Receiver *
receiver_start (const gchar * name, const ReceiverConfig * cfg)
{
  Receiver *r = g_new0 (Receiver, 1);
  GstElement *pipeline = gst_pipeline_new (name);
  GstElement *sink = gst_element_factory_make ("echoclocksink", "sink");
  g_autofree gchar *device = NULL;
  gchar skew[G_ASCII_DTOSTR_BUF_SIZE];

  r->src = gst_element_factory_make ("echosyncsrc", "src");
  g_assert (r->src != NULL && sink != NULL);
  r->skew_ppm = cfg->skew_ppm;
  r->rec_path = g_strdup_printf ("%s/%s.rec", work_dir, name);
  g_ascii_formatd (skew, sizeof (skew), "%.3f", cfg->skew_ppm);
  /* 20 ms of device buffer with echoclocksink's 20 ms ring: the same 40 ms in all as the
   * defaults (30 + 10), but the device's writer thread may now be starved for 20 ms
   * instead of 10 before the card runs dry, which a sanitizer build starting a second
   * pipeline in this process did */
  device = g_strdup_printf ("echosimsink skew-ppm=%s device-buffer-time=20000 "
      "location=\"%s\"", skew, r->rec_path);
  g_object_set (sink, "buffer-time", 20000, NULL);
  g_object_set (r->src, "session", cfg->session, "stats-interval", 0, NULL);
  if (cfg->host)
    g_object_set (r->src, "host", cfg->host, "port", cfg->port, NULL);
  if (cfg->token)
    g_object_set (r->src, "token", cfg->token, NULL);
  if (cfg->discovery_timeout_ms)
    g_object_set (r->src, "discovery-timeout", cfg->discovery_timeout_ms, NULL);
  g_object_set (sink, "device", device, "stats-interval", 0, NULL);
  gst_bin_add_many (GST_BIN (pipeline), r->src, sink, NULL);
  g_assert (gst_element_link (r->src, sink));
  watched_init (&r->w, name, pipeline);
  set_state_checked (&r->w, GST_STATE_PLAYING);
  g_test_message ("%s: %s:%u session '%s', device at %s ppm", name,
      cfg->host ? cfg->host : "(mDNS)", cfg->host ? cfg->port : 0, cfg->session, skew);
  return r;
}

static GstStructure *
receiver_stats (Receiver * r)
{
  GstStructure *s = NULL;

  g_object_get (r->src, "stats", &s, NULL);
  g_assert (s != NULL);
  return s;
}

static guint64
receiver_stat_u64 (Receiver * r, const gchar * field)
{
  GstStructure *s = receiver_stats (r);
  guint64 v = 0;

  g_assert_true (gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}

static void
receiver_print_stats (Receiver * r)
{
  GstStructure *s = receiver_stats (r);
  g_autofree gchar *str = gst_structure_to_string (s);

  g_test_message ("%s: %s", r->w.name, str);
  gst_structure_free (s);
}

/* Stops the pipeline: the recording is complete afterwards. */
static void
receiver_stop (Receiver * r)
{
  if (r->stopped)
    return;
  receiver_print_stats (r);
  set_state_checked (&r->w, GST_STATE_NULL);
  watched_drain (&r->w);
  r->stopped = TRUE;
}

static void
receiver_free (Receiver * r)
{
  receiver_stop (r);
  if (keep_recordings)
    g_test_message ("%s: recording kept in %s", r->w.name, r->rec_path);
  else
    g_unlink (r->rec_path);
  watched_clear (&r->w);
  gst_object_unref (r->w.pipeline);
  g_free (r->rec_path);
  g_free (r);
}

/* Waits until @r has received audio; FALSE if it did not within the timeout or failed. */
static gboolean
receiver_wait_playing (Receiver * r)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end) {
    run_for (50);
    if (r->w.errors->len > 0)
      return FALSE;
    if (receiver_stat_u64 (r, "received") > 0)
      return TRUE;
  }
  return FALSE;
}

/* Waits until @r posted an ERROR; returns how long that took (ms), or -1. */
static gdouble
receiver_wait_error (Receiver * r)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + WAIT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end) {
    run_for (20);
    if (r->w.errors->len > 0)
      return (g_get_monotonic_time () - start) / 1000.0;
  }
  return -1;
}

/* ---- echo-netem ----------------------------------------------------------------------- */

typedef struct
{
  GSubprocess *proc;
  guint port;
  gchar *port_file;
  gchar *stats_file;
} Netem;

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static Netem *
netem_start (guint upstream_port, guint64 seed)
{
  Netem *n = g_new0 (Netem, 1);
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *upstream = g_strdup_printf ("127.0.0.1:%u", upstream_port);
  g_autofree gchar *seed_str = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  gint64 end;

  n->port_file = g_strdup_printf ("%s/netem-%s.port", work_dir, seed_str);
  n->stats_file = g_strdup_printf ("%s/netem-%s.stats", work_dir, seed_str);
  /* the proxy must not outlive a test that aborts */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  n->proc = g_subprocess_launcher_spawn (launcher, &error, netem_path,
      "--listen", "127.0.0.1:0", "--upstream", upstream, "--delay-ms", "5",
      "--jitter-ms", "5", "--loss", "2", "--reorder", "1", "--seed", seed_str,
      "--port-file", n->port_file, "--stats-file", n->stats_file, NULL);
  g_assert_no_error (error);
  g_assert (n->proc != NULL);
  end = g_get_monotonic_time () + WAIT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < end) {
    g_autofree gchar *contents = NULL;

    if (g_file_get_contents (n->port_file, &contents, NULL, NULL)) {
      n->port = (guint) g_ascii_strtoull (contents, NULL, 10);
      break;
    }
    /* a proxy that exited (a bad option) never writes the file */
    g_assert (g_subprocess_get_identifier (n->proc) != NULL);
    g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  }
  g_assert (n->port > 0);
  g_test_message ("echo-netem seed %s: 127.0.0.1:%u -> %s", seed_str, n->port,
      upstream);
  return n;
}

static void
netem_free (Netem * n)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *stats = NULL;

  g_subprocess_send_signal (n->proc, SIGTERM);
  g_assert_true (g_subprocess_wait (n->proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (n->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (n->proc), ==, 0);
  if (g_file_get_contents (n->stats_file, &stats, NULL, NULL))
    g_test_message ("echo-netem on port %u: %s", n->port, g_strstrip (stats));
  g_unlink (n->port_file);
  g_unlink (n->stats_file);
  g_object_unref (n->proc);
  g_free (n->port_file);
  g_free (n->stats_file);
  g_free (n);
}

static gboolean
need_netem (void)
{
  if (netem_path == NULL) {
    g_test_skip ("needs the path of echo-netem as an argument");
    return FALSE;
  }
  return TRUE;
}

/* ---- analysis ------------------------------------------------------------------------- */

static EchoSyncReceiver *
analyse (Receiver * r, GstClockTime anchor_capture)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSyncRec) rec = NULL;
  EchoSyncParams params;
  EchoSyncReceiver *a;

  g_assert (r->stopped);
  rec = echo_sync_rec_load (r->rec_path, ECHO_SYNC_REC_LOAD_FIRST_CHANNEL, &error);
  g_assert_no_error (error);
  g_assert (rec != NULL);
  g_assert_cmpfloat (rec->header.skew_ppm, ==, r->skew_ppm);
  echo_sync_params_init (&params);
  params.anchor_index = 0;
  params.anchor_capture_ns = (gint64) anchor_capture;
  params.latency_ns = (gint64) LATENCY_MS * GST_MSECOND;
  a = echo_sync_analyse (rec, r->w.name, &params);
  g_test_message ("%s: %" G_GUINT64_FORMAT " frames recorded, %u windows, %u analysed; "
      "converged to 1 ms after %.1f ms, to 100 us after %.1f ms; %u glitches "
      "(%u windows); |d| p50 %.1f us, p99 %.1f us, max %.1f us over %u windows",
      a->name, rec->n_frames, a->windows->len, a->n_analysed, a->converge_1ms_ms,
      a->converge_100us_ms, a->glitches, a->glitch_windows, a->abs_p50_us,
      a->abs_p99_us, a->abs_max_us, a->good_windows);
  return a;
}

/* Asserts that the sound of the relay whose sample 0 was captured at @anchor started
 * playing on @r when it should, and that nothing was heard before it after @from_ns: the
 * start of the first stretch of sound after @from_ns that lasts ONSET_SUSTAIN_NS (samples
 * above the threshold, no pause longer than ONSET_PAUSE_NS), against the first sample of
 * the signal above the threshold (at or after ONSET_INDEX) on the ideal timeline. A
 * coarse check (Opus may smear the onset by a few samples) that, unlike the window
 * analysis, sees an error however large. Shorter bursts of sound before it are audio the
 * session did not contain at that time: they are reported and fail the check. */
static void
assert_onset (Receiver * r, GstClockTime anchor, gint64 from_ns, const gchar * what)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoSyncRec) rec = NULL;
  gint64 expected_ns, start = -1, last = -1, stray_first = -1, stray_ns = 0;
  guint64 k;
  guint b, stray_bursts = 0;
  gboolean found = FALSE;

  g_assert (r->stopped);
  rec = echo_sync_rec_load (r->rec_path, ECHO_SYNC_REC_LOAD_FIRST_CHANNEL, &error);
  g_assert_no_error (error);
  g_assert (rec != NULL);
  k = ONSET_INDEX;
  while (fabs (echo_sync_signal_sample (k)) <= ONSET_THRESHOLD)
    k++;
  expected_ns = (gint64) anchor + (gint64) gst_util_uint64_scale (k, GST_SECOND,
      ECHO_SYNC_SIGNAL_RATE) + (gint64) LATENCY_MS * GST_MSECOND;

  for (b = 0; b < rec->blocks->len && !found; b++) {
    const EchoSyncRecBlock *block = &g_array_index (rec->blocks, EchoSyncRecBlock, b);
    guint32 j;

    for (j = 0; j < block->frames && !found; j++) {
      gint64 t = block->host_ns + (gint64) llround (echo_sync_rec_frame_offset_ns (rec,
              j));

      if (t < from_ns ||
          fabs (rec->samples[(block->first + j) * rec->channels]) <= ONSET_THRESHOLD)
        continue;
      if (start >= 0 && t - last > ONSET_PAUSE_NS) {
        /* the stretch from start to last was a burst, not the onset */
        if (stray_first < 0)
          stray_first = start;
        stray_bursts++;
        stray_ns += last - start;
        start = -1;
      }
      if (start < 0)
        start = t;
      last = t;
      found = last - start >= ONSET_SUSTAIN_NS;
    }
  }
  if (stray_bursts > 0)
    g_test_message ("%s, %s: %u bursts of sound (%.1f ms in all) before the sound "
        "started, the first %.3f ms before its ideal time", r->w.name, what,
        stray_bursts, stray_ns / 1e6, (expected_ns - stray_first) / 1e6);
  g_assert_cmpuint (stray_bursts, ==, 0);
  if (!found) {
    g_test_message ("%s, %s: the sound never started", r->w.name, what);
    g_test_fail ();
    return;
  }
  g_test_message ("%s, %s: the sound started %.3f ms %s its ideal time", r->w.name,
      what, ABS (start - expected_ns) / 1e6, start >= expected_ns ? "after" : "before");
  g_assert_cmpfloat (fabs ((gdouble) (start - expected_ns)), <, SYNC_LIMIT_US * 1000);
}

typedef struct
{
  guint good;                   /* windows in the range that were not bad */
  guint bad;
  guint glitches;               /* runs of bad windows */
  gdouble max_abs_us;           /* of the good ones */
  gdouble p99_abs_us;
  gdouble mean_us;
} RangeStats;

/* The analysed windows of @a whose centres are in [@from_ns, @to_ns). */
static void
range_stats (const EchoSyncReceiver * a, gint64 from_ns, gint64 to_ns, RangeStats * st)
{
  g_autofree gdouble *abs_d = g_new (gdouble, MAX (1, a->n_analysed));
  gdouble sum = 0;
  gboolean in_glitch = FALSE;
  guint i;

  memset (st, 0, sizeof (*st));
  for (i = 0; i < a->n_analysed; i++) {
    const EchoSyncWindow *w = &g_array_index (a->windows, EchoSyncWindow, i);

    if (w->centre_ns < from_ns || w->centre_ns >= to_ns)
      continue;
    if (w->bad) {
      st->bad++;
      if (!in_glitch)
        st->glitches++;
      in_glitch = TRUE;
      continue;
    }
    in_glitch = FALSE;
    abs_d[st->good++] = fabs (w->d_us);
    sum += w->d_us;
    st->max_abs_us = MAX (st->max_abs_us, fabs (w->d_us));
  }
  st->mean_us = st->good ? sum / st->good : NAN;
  st->p99_abs_us = echo_sync_percentile (abs_d, st->good, 0.99);
}

/* Asserts that @a played in sync from @from_ns on: every good window within the limit,
 * few glitches, and enough good windows to cover most of the time. */
static void
assert_in_sync (const EchoSyncReceiver * a, gint64 from_ns, gint64 to_ns,
    const gchar * what)
{
  RangeStats st;
  guint expected;

  range_stats (a, from_ns, to_ns, &st);
  g_test_message ("%s, %s: %u good windows, %u bad in %u glitches; d mean %.1f us, "
      "|d| p99 %.1f us, max %.1f us", a->name, what, st.good, st.bad, st.glitches,
      st.mean_us, st.p99_abs_us, st.max_abs_us);
  /* the windows the range should hold: 10 ms each, up to the end of the analysis */
  {
    gint64 last = a->n_analysed ? g_array_index (a->windows, EchoSyncWindow,
        a->n_analysed - 1).centre_ns : from_ns;

    expected = (guint) (MAX (0, MIN (to_ns, last) - from_ns) / (10 * GST_MSECOND));
  }
  g_assert_cmpuint (st.good, >, 0);
  g_assert_cmpuint (st.good + st.bad, >=, expected * 9 / 10);
  g_assert_cmpuint (st.good, >=, expected * 9 / 10);
  g_assert_cmpfloat (st.max_abs_us, <, SYNC_LIMIT_US);
  g_assert_cmpuint (st.glitches, <=, MAX_GLITCHES);
}

/* For the good windows of @a in [@from_ns, @to_ns): |d_a - d_b| against the good window
 * of @b nearest in time (at most one window away). */
static void
assert_pair_in_sync (const EchoSyncReceiver * a, const EchoSyncReceiver * b,
    gint64 from_ns, gint64 to_ns)
{
  g_autofree gdouble *diff = g_new (gdouble, MAX (1, a->n_analysed));
  guint i, j = 0, n = 0;
  gdouble p50, p99, max;

  for (i = 0; i < a->n_analysed; i++) {
    const EchoSyncWindow *wa = &g_array_index (a->windows, EchoSyncWindow, i);
    const EchoSyncWindow *wb;

    if (wa->bad || wa->centre_ns < from_ns || wa->centre_ns >= to_ns)
      continue;
    while (j + 1 < b->n_analysed &&
        g_array_index (b->windows, EchoSyncWindow, j + 1).centre_ns <= wa->centre_ns)
      j++;
    if (j + 1 < b->n_analysed &&
        ABS (g_array_index (b->windows, EchoSyncWindow, j + 1).centre_ns -
            wa->centre_ns) <
        ABS (g_array_index (b->windows, EchoSyncWindow, j).centre_ns - wa->centre_ns))
      wb = &g_array_index (b->windows, EchoSyncWindow, j + 1);
    else if (j < b->n_analysed)
      wb = &g_array_index (b->windows, EchoSyncWindow, j);
    else
      continue;
    if (wb->bad || ABS (wb->centre_ns - wa->centre_ns) > 10 * GST_MSECOND)
      continue;
    diff[n++] = fabs (wa->d_us - wb->d_us);
  }
  p50 = echo_sync_percentile (diff, n, 0.5);
  p99 = echo_sync_percentile (diff, n, 0.99);
  max = echo_sync_percentile (diff, n, 1.0);
  g_test_message ("offset %s - %s: %u pairs of windows, |offset| p50 %.1f us, "
      "p99 %.1f us, max %.1f us", a->name, b->name, n, p50, p99, max);
  g_assert_cmpuint (n, >, 100);
  g_assert_cmpfloat (p99, <, SYNC_LIMIT_US);
}

/* ---- cases ---------------------------------------------------------------------------- */

static gchar *
unique_session (const gchar * prefix)
{
  return g_strdup_printf ("%s-%u-%u", prefix, (guint) getpid (), g_random_int ());
}


/* The centre of the window where @a converged to 1 ms; if it never did (a failure the
 * caller checks), 3 s after it joined. */
static gint64
converged_at (const EchoSyncReceiver * a)
{
  if (a->converge_1ms < 0)
    return a->join_ns + SETTLE_NS;
  return g_array_index (a->windows, EchoSyncWindow, a->converge_1ms).centre_ns;
}

static void
test_impaired_network (void)
{
  g_autofree gchar *session = unique_session ("impaired");
  g_autoptr (EchoSyncReceiver) ra = NULL;
  g_autoptr (EchoSyncReceiver) rb = NULL;
  ReceiverConfig cfg = { "127.0.0.1", 0, session, NULL, 0, 0 };
  EchoSyncReceiver *both[2];
  EchoSyncSummary summary;
  GstClockTime anchor;
  Relay *relay;
  Netem *netem_a, *netem_b;
  Receiver *a, *b;

  if (!need_netem ())
    return;
  relay = relay_start (session, 0, NULL, FALSE);
  anchor = relay->base_time;
  netem_a = netem_start (relay->port, 11);
  netem_b = netem_start (relay->port, 23);

  cfg.port = netem_a->port;
  cfg.skew_ppm = -300;
  a = receiver_start ("impaired-a", &cfg);
  cfg.port = netem_b->port;
  cfg.skew_ppm = 400;
  b = receiver_start ("impaired-b", &cfg);
  run_for (12000);

  receiver_stop (a);
  receiver_stop (b);
  netem_free (netem_a);
  netem_free (netem_b);
  g_test_message ("relay: %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT
      " repairs sent", relay_stat (relay, "packets"), relay_stat (relay, "repairs"));
  relay_free (relay);
  g_assert_cmpuint (a->w.errors->len, ==, 0);
  g_assert_cmpuint (b->w.errors->len, ==, 0);

  ra = analyse (a, anchor);
  rb = analyse (b, anchor);
  both[0] = ra;
  both[1] = rb;
  echo_sync_summarise (both, 2, &summary);
  g_test_message ("whole run: offset between the receivers p50 %.1f us, p99 %.1f us, "
      "max %.1f us (%u samples); %u glitches", summary.p50_us, summary.p99_us,
      summary.max_us, summary.n, summary.glitches);
  assert_onset (a, anchor, 0, "onset");
  assert_onset (b, anchor, 0, "onset");
  assert_in_sync (ra, ra->join_ns + SETTLE_NS, G_MAXINT64, "after 3 s");
  assert_in_sync (rb, rb->join_ns + SETTLE_NS, G_MAXINT64, "after 3 s");
  assert_pair_in_sync (ra, rb, MAX (ra->join_ns, rb->join_ns) + SETTLE_NS, G_MAXINT64);
  receiver_free (a);
  receiver_free (b);
}

static void
test_late_joiner (void)
{
  g_autofree gchar *session = unique_session ("late");
  g_autoptr (EchoSyncReceiver) ra = NULL;
  g_autoptr (EchoSyncReceiver) rb = NULL;
  ReceiverConfig cfg = { "127.0.0.1", 0, session, NULL, 0, 0 };
  GstClockTime anchor;
  Relay *relay;
  Receiver *a, *b;

  relay = relay_start (session, 0, NULL, FALSE);
  anchor = relay->base_time;
  cfg.port = relay->port;
  cfg.skew_ppm = 150;
  a = receiver_start ("first", &cfg);
  run_for (5000);
  cfg.skew_ppm = -250;
  b = receiver_start ("late", &cfg);
  run_for (7000);
  receiver_stop (a);
  receiver_stop (b);
  relay_free (relay);
  g_assert_cmpuint (a->w.errors->len, ==, 0);
  g_assert_cmpuint (b->w.errors->len, ==, 0);

  ra = analyse (a, anchor);
  rb = analyse (b, anchor);
  g_test_message ("the late receiver joined %.3f s after the first and converged to "
      "1 ms %.1f ms after joining", (rb->join_ns - ra->join_ns) / 1e9,
      rb->converge_1ms_ms);
  g_assert_true (isfinite (rb->converge_1ms_ms));
  g_assert_cmpfloat (rb->converge_1ms_ms, <, 3000);
  assert_onset (a, anchor, 0, "onset");
  assert_in_sync (ra, ra->join_ns + SETTLE_NS, G_MAXINT64, "after 3 s");
  assert_in_sync (rb, converged_at (rb), G_MAXINT64, "from its convergence");
  assert_pair_in_sync (rb, ra, converged_at (rb), G_MAXINT64);
  receiver_free (a);
  receiver_free (b);
}

static void
test_relay_restart (void)
{
  g_autofree gchar *session = unique_session ("restart");
  ReceiverConfig cfg = { "127.0.0.1", 0, session, NULL, 0, 0 };
  Receiver *rx[2];
  EchoSyncReceiver *before[2], *after[2];
  GstClockTime anchor1, anchor2;
  gint64 stop_ns, restart_ns;
  guint resyncs[2];
  Relay *relay;
  guint port, i;

  relay = relay_start (session, 0, NULL, FALSE);
  anchor1 = relay->base_time;
  port = relay->port;
  cfg.port = port;
  cfg.skew_ppm = -200;
  rx[0] = receiver_start ("restart-a", &cfg);
  cfg.skew_ppm = 300;
  rx[1] = receiver_start ("restart-b", &cfg);
  run_for (5000);

  stop_ns = monotonic_ns ();
  relay_free (relay);
  g_test_message ("relay stopped");
  run_for (1000);
  relay = relay_start (session, port, NULL, FALSE);
  restart_ns = monotonic_ns ();
  anchor2 = relay->base_time;
  run_for (7000);

  for (i = 0; i < 2; i++) {
    GstStructure *s = receiver_stats (rx[i]);

    g_assert_true (gst_structure_get_uint (s, "resyncs", &resyncs[i]));
    gst_structure_free (s);
    receiver_stop (rx[i]);
  }
  relay_free (relay);

  for (i = 0; i < 2; i++) {
    g_test_message ("%s: %u warnings, %u infos, resyncs %u", rx[i]->w.name,
        rx[i]->w.warnings->len, rx[i]->w.infos->len, resyncs[i]);
    g_assert_cmpuint (rx[i]->w.errors->len, ==, 0);
    g_assert_cmpuint (resyncs[i], ==, 1);
    before[i] = analyse (rx[i], anchor1);
    after[i] = analyse (rx[i], anchor2);
    assert_onset (rx[i], anchor1, 0, "first relay's onset");
    assert_onset (rx[i], anchor2, restart_ns, "second relay's onset");
    assert_in_sync (before[i], before[i]->join_ns + SETTLE_NS, stop_ns,
        "first relay, after 3 s");
    assert_in_sync (after[i], restart_ns + SETTLE_NS, G_MAXINT64,
        "second relay, 3 s after the restart");
  }
  assert_pair_in_sync (before[0], before[1], before[0]->join_ns + SETTLE_NS, stop_ns);
  assert_pair_in_sync (after[0], after[1], restart_ns + SETTLE_NS, G_MAXINT64);
  /* the source warns when its relay goes away (echosyncsrc documentation) */
  for (i = 0; i < 2; i++)
    g_assert_cmpuint (rx[i]->w.warnings->len, >=, 1);
  for (i = 0; i < 2; i++) {
    echo_sync_receiver_free (before[i]);
    echo_sync_receiver_free (after[i]);
    receiver_free (rx[i]);
  }
}

/* ---- malformed traffic ---------------------------------------------------------------- */

static void
send_datagram (GSocket * sock, GSocketAddress * dest, const guint8 * data, gsize len,
    guint * sent)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_socket_send_to (sock, dest, (const gchar *) data, len, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) len);
  (*sent)++;
}

static void
random_bytes (guint8 * buf, gsize len)
{
  gsize i;

  for (i = 0; i < len; i++)
    buf[i] = (guint8) g_random_int_range (0, 256);
}

/* Sends @rounds rounds of datagrams the relay must drop, each kind once per round, from a
 * socket of its own. Returns how many were sent. */
static guint
blast_relay (guint port, const gchar * session, guint rounds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) dest = g_inet_socket_address_new (lo, port);
  guint64 sid = echo_session_id (session);
  guint64 foreign = echo_session_id ("somebody-else's-session");
  guint8 buf[3000];
  guint sent = 0, r, counts[8] = { 0 };

  g_assert_no_error (error);
  g_assert (sock != NULL);
  g_assert (g_socket_bind (sock, any, FALSE, &error));

  for (r = 0; r < rounds; r++) {
    EchoPacket p;
    gsize len;
    guint8 dummy[ECHO_COOKIE_SIZE] = { 0 };

    /* 1: garbage, without the magic */
    len = 1 + g_random_int_range (0, 400);
    random_bytes (buf, len);
    buf[0] = 0xff;
    send_datagram (sock, dest, buf, len, &counts[0]);

    /* 2: a HELLO of this session, truncated below its padded size */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_HELLO;
    p.session_id = sid;
    p.hello.nonce = g_random_int ();
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    g_assert_cmpuint (len, ==, ECHO_HELLO_SIZE);
    send_datagram (sock, dest, buf, 1 + g_random_int_range (0, len - 1), &counts[1]);

    /* 3: a SUBSCRIBE of this session, truncated */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_SUBSCRIBE;
    p.session_id = sid;
    p.subscribe.nonce = g_random_int ();
    memcpy (p.subscribe.cookie, dummy, sizeof (dummy));
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    g_assert_cmpuint (len, >=, ECHO_SUBSCRIBE_SIZE);
    send_datagram (sock, dest, buf, 1 + g_random_int_range (0, ECHO_SUBSCRIBE_SIZE - 1),
        &counts[2]);

    /* 4: a well-formed HELLO of another session */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_HELLO;
    p.session_id = foreign;
    p.hello.nonce = g_random_int ();
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    send_datagram (sock, dest, buf, len, &counts[3]);

    /* 5: a NACK for a subscription that is not ours */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_NACK;
    p.session_id = sid;
    p.nack.subscription = ((guint64) g_random_int () << 32) | g_random_int ();
    p.nack.count = 3;
    p.nack.seqs[0] = g_random_int ();
    p.nack.seqs[1] = p.nack.seqs[0] + 1;
    p.nack.seqs[2] = p.nack.seqs[0] + 2;
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    g_assert_cmpuint (len, >, 0);
    send_datagram (sock, dest, buf, len, &counts[4]);

    /* 6: a TIME_REQUEST for a subscription that is not ours */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_TIME_REQUEST;
    p.session_id = sid;
    p.time_request.subscription = ((guint64) g_random_int () << 32) | g_random_int ();
    p.time_request.request_id = r + 1;
    p.time_request.t1 = g_get_monotonic_time () * 1000;
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    g_assert_cmpuint (len, ==, ECHO_TIME_REQUEST_SIZE);
    send_datagram (sock, dest, buf, len, &counts[5]);

    /* 7: a valid header followed by more than a datagram may hold */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_HELLO;
    p.session_id = sid;
    len = echo_packet_write (&p, NULL, buf, sizeof (buf));
    len = ECHO_MAX_PACKET + 1 + g_random_int_range (0, sizeof (buf) - ECHO_MAX_PACKET - 1);
    memset (buf + ECHO_HEADER_SIZE + 8, 0, len - ECHO_HEADER_SIZE - 8);
    send_datagram (sock, dest, buf, len, &counts[6]);

    /* 8: a BYE for a subscription that is not ours, tagged with a key nobody has */
    memset (&p, 0, sizeof (p));
    p.type = ECHO_PACKET_BYE;
    p.session_id = sid;
    p.bye.subscription = ((guint64) g_random_int () << 32) | g_random_int ();
    random_bytes (buf + 2000, ECHO_KEY_SIZE);
    len = echo_packet_write (&p, buf + 2000, buf, 2000);
    g_assert_cmpuint (len, >, 0);
    send_datagram (sock, dest, buf, len, &counts[7]);

    /* paced, so that no socket buffer overflows */
    g_usleep (3 * G_TIME_SPAN_MILLISECOND);
  }
  for (r = 0; r < G_N_ELEMENTS (counts); r++)
    sent += counts[r];
  g_test_message ("sent %u bad datagrams: %u garbage, %u truncated HELLO, %u truncated "
      "SUBSCRIBE, %u foreign-session, %u forged NACK, %u forged TIME_REQUEST, %u "
      "oversize, %u forged BYE", sent, counts[0], counts[1], counts[2], counts[3],
      counts[4], counts[5], counts[6], counts[7]);
  return sent;
}

static void
test_malformed_traffic (void)
{
  g_autofree gchar *session = unique_session ("malformed");
  g_autoptr (EchoSyncReceiver) ra = NULL;
  ReceiverConfig cfg = { "127.0.0.1", 0, session, NULL, 120, 0 };
  guint64 dropped_before, dropped_after, subscriptions;
  gint64 blast_start, blast_end;
  GstClockTime anchor;
  guint sent;
  Relay *relay;
  Receiver *a;

  relay = relay_start (session, 0, NULL, FALSE);
  anchor = relay->base_time;
  cfg.port = relay->port;
  a = receiver_start ("under-attack", &cfg);
  g_assert_true (receiver_wait_playing (a));
  run_for (3000);

  dropped_before = relay_stat (relay, "dropped");
  blast_start = monotonic_ns ();
  sent = blast_relay (relay->port, session, 100);
  blast_end = monotonic_ns ();
  run_for (500);
  dropped_after = relay_stat (relay, "dropped");
  subscriptions = relay_stat (relay, "subscriptions");
  g_test_message ("relay: dropped %" G_GUINT64_FORMAT " before, %" G_GUINT64_FORMAT
      " after %u bad datagrams in %.0f ms; %" G_GUINT64_FORMAT " subscriptions",
      dropped_before, dropped_after, sent, (blast_end - blast_start) / 1e6,
      subscriptions);
  g_assert_cmpuint (dropped_after - dropped_before, >=, sent);
  g_assert_cmpuint (subscriptions, ==, 1);
  run_for (3000);

  receiver_stop (a);
  relay_free (relay);
  g_assert_cmpuint (a->w.errors->len, ==, 0);
  ra = analyse (a, anchor);
  assert_onset (a, anchor, 0, "onset");
  assert_in_sync (ra, ra->join_ns + SETTLE_NS, G_MAXINT64, "after 3 s");
  assert_in_sync (ra, blast_start, blast_end + GST_SECOND, "during the attack");
  receiver_free (a);
}

/* ---- token ---------------------------------------------------------------------------- */

static void
assert_refused (Receiver * r)
{
  gdouble ms = receiver_wait_error (r);

  g_test_message ("%s: ERROR after %.0f ms", r->w.name, ms);
  g_assert_cmpfloat (ms, >=, 0);
  if (r->w.errors->len > 0)
    g_assert_nonnull (strstr (g_ptr_array_index (r->w.errors, 0), "token"));
  g_assert_cmpuint (receiver_stat_u64 (r, "received"), ==, 0);
}

static void
test_token (void)
{
  g_autofree gchar *session = unique_session ("token");
  g_autoptr (EchoSyncReceiver) ra = NULL;
  ReceiverConfig cfg = { "127.0.0.1", 0, session, "s3cret", 0, 0 };
  GstClockTime anchor;
  Relay *relay;
  Receiver *right, *wrong, *missing;

  relay = relay_start (session, 0, "s3cret", FALSE);
  anchor = relay->base_time;
  cfg.port = relay->port;
  right = receiver_start ("token-right", &cfg);
  cfg.token = "s3cret!";
  wrong = receiver_start ("token-wrong", &cfg);
  cfg.token = NULL;
  missing = receiver_start ("token-missing", &cfg);

  assert_refused (wrong);
  assert_refused (missing);
  receiver_free (wrong);
  receiver_free (missing);

  g_assert_true (receiver_wait_playing (right));
  run_for (5000);
  receiver_stop (right);
  g_test_message ("relay: %" G_GUINT64_FORMAT " refused, %" G_GUINT64_FORMAT
      " subscriptions", relay_stat (relay, "refused"), relay_stat (relay,
          "subscriptions"));
  g_assert_cmpuint (relay_stat (relay, "refused"), >=, 2);
  g_assert_cmpuint (relay_stat (relay, "subscriptions"), ==, 1);
  relay_free (relay);
  g_assert_cmpuint (right->w.errors->len, ==, 0);
  ra = analyse (right, anchor);
  assert_onset (right, anchor, 0, "onset");
  assert_in_sync (ra, ra->join_ns + SETTLE_NS, G_MAXINT64, "after 3 s");
  receiver_free (right);
}

/* ---- mDNS ----------------------------------------------------------------------------- */

static void
test_discovery (void)
{
  g_autofree gchar *session = NULL;
  g_autofree gchar *missing_session = NULL;
  ReceiverConfig cfg = { NULL, 0, NULL, NULL, 0, 10000 };
  Relay *relay;
  Receiver *found, *missing;
  gdouble ms;

  /* never announce or browse on a real network */
  if (g_getenv ("ECHO_MDNS_SANDBOX") == NULL) {
    g_test_skip ("runs only inside tests/lib/mdns-sandbox (its own meson test)");
    return;
  }
  session = unique_session ("disc");
  missing_session = unique_session ("disc-nobody");
  relay = relay_start (session, 0, NULL, TRUE);
  cfg.session = session;
  found = receiver_start ("discovering", &cfg);
  g_assert_true (receiver_wait_playing (found));
  run_for (2000);
  g_test_message ("%s: %" G_GUINT64_FORMAT " packets received", found->w.name,
      receiver_stat_u64 (found, "received"));
  g_assert_cmpuint (receiver_stat_u64 (found, "received"), >, 0);

  cfg.session = missing_session;
  cfg.discovery_timeout_ms = 1000;
  missing = receiver_start ("discovering-nothing", &cfg);
  ms = receiver_wait_error (missing);
  g_test_message ("%s: ERROR after %.0f ms (discovery-timeout 1000 ms)",
      missing->w.name, ms);
  g_assert_cmpfloat (ms, >=, 0);
  if (missing->w.errors->len > 0)
    g_assert_nonnull (strstr (g_ptr_array_index (missing->w.errors, 0),
            missing_session));
  /* generous: the error is due after 1 s */
  g_assert_cmpfloat (ms, <, 10000);

  receiver_free (missing);
  receiver_stop (found);
  g_assert_cmpuint (found->w.errors->len, ==, 0);
  /* a relay that cannot announce warns */
  g_assert_cmpuint (relay->w.warnings->len, ==, 0);
  relay_free (relay);
  receiver_free (found);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  /* the session clock is CLOCK_MONOTONIC: the analysis's ideal timeline assumes it */
  g_unsetenv ("ECHO_SESSION_CLOCK_SIM");
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* a failed check fails its case, and the other cases still run and report */
  g_test_set_nonfatal_assertions ();
  if (argc > 1)
    netem_path = netem_abs = g_canonicalize_filename (argv[1], NULL);

  keep_recordings = g_getenv ("ECHO_TEST_SYNC_KEEP") != NULL;
  watched = g_ptr_array_new ();
  work_dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  g_assert (work_dir != NULL);

  g_test_add_func ("/sync/impaired-network", test_impaired_network);
  g_test_add_func ("/sync/late-joiner", test_late_joiner);
  g_test_add_func ("/sync/relay-restart", test_relay_restart);
  g_test_add_func ("/sync/malformed-traffic", test_malformed_traffic);
  g_test_add_func ("/sync/token", test_token);
  g_test_add_func ("/sync/discovery", test_discovery);
  ret = g_test_run ();

  if (!keep_recordings)
    g_rmdir (work_dir);
  g_free (work_dir);
  g_ptr_array_unref (watched);
  g_free (netem_abs);
  gst_deinit ();
  return ret;
}
