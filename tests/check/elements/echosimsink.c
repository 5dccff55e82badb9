/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echosimsink element tests: the play-out timeline it records is exact for its skew, the
 * samples are recorded as they were written, underruns and stops are where the recording
 * says, and the clock of GstAudioBaseSink runs at the device's rate.
 *
 * Wall-clock behaviour is checked with generous bounds only (shared, noisy machines).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "elementcheck.h"
#include <gst/app/gstappsrc.h>
#include <gst/audio/audio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncanalysis.h"
#include "syncrec.h"
#include "syncsignal.h"

static gchar *
tmp_recording (void)
{
  GError *error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp (NULL, &path, &error);

  fail_unless (fd >= 0, "no temporary file: %s", error ? error->message : "");
  close (fd);
  return path;
}

static EchoSyncRec *
load (const gchar * path, EchoSyncRecLoadFlags flags)
{
  GError *error = NULL;
  EchoSyncRec *rec = echo_sync_rec_load (path, flags, &error);

  fail_unless (rec != NULL, "cannot read the recording: %s",
      error ? error->message : "");
  return rec;
}

static gint64
recording_end_ns (const EchoSyncRec * rec)
{
  const EchoSyncRecBlock *b;

  fail_unless (rec->blocks->len > 0);
  b = &g_array_index (rec->blocks, EchoSyncRecBlock, rec->blocks->len - 1);
  return b->host_ns + (gint64) llround (echo_sync_rec_frame_offset_ns (rec,
          b->frames));
}

/* Every block starts exactly where the device's timeline puts it: the anchor (first
 * block, or a block after a gap) plus frames * 1e9 / (rate * (1 + skew)). Returns the
 * number of gaps. */
static guint
assert_exact_timeline (const EchoSyncRec * rec)
{
  gdouble rate = echo_sync_rec_device_rate (&rec->header);
  gint64 anchor = 0, previous_end = G_MININT64;
  guint64 since = 0;
  guint i, gaps = 0;

  for (i = 0; i < rec->blocks->len; i++) {
    const EchoSyncRecBlock *b = &g_array_index (rec->blocks, EchoSyncRecBlock,
        i);

    if (i == 0 || (b->flags & ECHO_SYNC_REC_FLAG_GAP)) {
      if (i > 0) {
        gaps++;
        fail_unless (b->host_ns > previous_end);
      }
      anchor = b->host_ns;
      since = 0;
    } else {
      gint64 expect = anchor + (gint64) llround ((gdouble) since * 1e9 / rate);

      fail_unless (llabs (b->host_ns - expect) <= 1,
          "block %u at %" G_GINT64_FORMAT " ns, the timeline says %"
          G_GINT64_FORMAT, i, b->host_ns, expect);
    }
    since += b->frames;
    previous_end = b->host_ns + (gint64) (b->frames * 1e9 / rate);
  }
  return gaps;
}

/* Runs @pipe until EOS; fails on an error message. */
static void
run_to_eos (GstElement * pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;

  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no EOS");
  echo_check_not_error (msg);
  gst_message_unref (msg);
  gst_object_unref (bus);
}

static void
assert_no_error (GstElement * pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);

  echo_check_bus_has_no_error (bus);
  gst_object_unref (bus);
}

/* With sync=false, EOS comes as soon as the last sample is in the ring buffer. Waits
 * until the device (its clock, so not the wall clock) has played @duration more. */
static void
wait_played (GstElement * sink, GstClockTime duration)
{
  GstClock *clock = gst_element_provide_clock (sink);
  GstClockTime start = gst_clock_get_internal_time (clock);
  gint64 deadline = echo_sync_rec_now_ns () + 60 * GST_SECOND;

  while (gst_clock_get_internal_time (clock) < start + duration) {
    fail_unless (echo_sync_rec_now_ns () < deadline, "the device stopped");
    g_usleep (10 * 1000);
  }
  gst_object_unref (clock);
}

GST_START_TEST (test_loaded_from_build_tree)
{
  GstElementFactory *factory = gst_element_factory_find ("echosimsink");
  GstPlugin *plugin;

  echo_check_element_from_build_tree ("echosimsink", "Sink/Audio",
      "/elements/echosimsink.md");
  plugin = GST_PLUGIN (gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE
          (factory)));
  fail_unless_equals_string (gst_plugin_get_name (plugin), "echosim");
  gst_object_unref (plugin);
  gst_object_unref (factory);
}

GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *sink = gst_element_factory_make ("echosimsink", NULL);
  gdouble skew;
  gint64 buffer_time;
  gchar *location;
  guint underruns;
  gboolean provide_clock;

  fail_unless (GST_IS_AUDIO_SINK (sink));
  g_object_get (sink, "skew-ppm", &skew, "device-buffer-time", &buffer_time,
      "location", &location, "underruns", &underruns, "provide-clock",
      &provide_clock, NULL);
  fail_unless_equals_float (skew, 0.0);
  fail_unless_equals_int64 (buffer_time, 10000);
  fail_unless (location == NULL);
  fail_unless_equals_int (underruns, 0);
  fail_unless (provide_clock);
  g_object_set (sink, "skew-ppm", -250.5, "device-buffer-time",
      (gint64) 2500, "location", "/tmp/x.bin", NULL);
  g_object_get (sink, "skew-ppm", &skew, "device-buffer-time", &buffer_time,
      "location", &location, NULL);
  fail_unless_equals_float (skew, -250.5);
  fail_unless_equals_int64 (buffer_time, 2500);
  fail_unless_equals_string (location, "/tmp/x.bin");
  g_free (location);
  fail_if (g_object_class_find_property (G_OBJECT_GET_CLASS (sink),
          "underruns")->flags & G_PARAM_WRITABLE);
  gst_object_unref (sink);
}

GST_END_TEST;

/* ~1.5 s of a tone, paced by the device alone (sync=false). */
static void
check_skew (gdouble skew_ppm)
{
  gchar *path = tmp_recording ();
  gchar *desc = g_strdup_printf ("audiotestsrc num-buffers=150 "
      "samplesperbuffer=480 ! audio/x-raw,format=F32LE,rate=48000,channels=2 ! "
      "echosimsink name=sink sync=false skew-ppm=%g location=%s", skew_ppm,
      path);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  EchoSyncRec *rec;
  gint64 t0, t1, t_stopped;
  gdouble elapsed;
  guint underruns, gaps;

  fail_unless (pipe != NULL);
  t0 = echo_sync_rec_now_ns ();
  run_to_eos (pipe);
  t1 = echo_sync_rec_now_ns ();
  /* the ring buffer (200 ms) plays out */
  wait_played (sink, 300 * GST_MSECOND);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  t_stopped = echo_sync_rec_now_ns ();
  g_object_get (sink, "underruns", &underruns, NULL);

  rec = load (path, ECHO_SYNC_REC_LOAD_ALL_CHANNELS);
  fail_unless_equals_int (rec->header.rate, 48000);
  fail_unless_equals_int (rec->header.channels, 2);
  fail_unless_equals_float (rec->header.skew_ppm, skew_ppm);
  fail_unless (rec->header.open_host_ns >= t0 &&
      rec->header.open_host_ns <= t1);
  fail_unless (g_array_index (rec->blocks, EchoSyncRecBlock, 0).host_ns >=
      rec->header.open_host_ns);
  /* every frame of the stream played (and silence after it, until the stop) */
  fail_unless (rec->n_frames >= 150 * 480, "only %" G_GUINT64_FORMAT
      " frames", rec->n_frames);

  /* exact by construction */
  gaps = assert_exact_timeline (rec);
  fail_unless_equals_int (gaps, underruns);

  /* the stop dropped what the device still held: nothing plays after it */
  fail_unless (recording_end_ns (rec) <= t_stopped);
  fail_unless (rec->n_drops <= 1);

  /* and the device really is the pace: 1.5 s / (1 + skew) of wall clock, roughly
   * (EOS came when the last 200 ms were in the ring buffer) */
  elapsed = (t1 - t0) / 1e9;
  fail_unless (elapsed > 0.5 * 1.5 / (1 + skew_ppm * 1e-6) &&
      elapsed < 2.0 * 1.5 / (1 + skew_ppm * 1e-6), "1.5 s played in %.3f s",
      elapsed);

  echo_sync_rec_free (rec);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_unlink (path);
  g_free (path);
  g_free (desc);
}

GST_START_TEST (test_skew_fast)
{
  check_skew (1000);
}

GST_END_TEST;

GST_START_TEST (test_skew_slow)
{
  check_skew (-1000);
}

GST_END_TEST;

/* Pushes @n_frames of @format from a pattern through appsrc, with a pause of @pause_ms
 * after @pause_after frames; returns the recording. */
static EchoSyncRec *
play_pattern (GstAudioFormat format, guint rate, guint channels,
    guint n_frames, guint pause_after, guint pause_ms, const gchar * extra,
    gconstpointer data)
{
  gchar *path = tmp_recording ();
  GstAudioInfo info;
  GstCaps *caps;
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "echosimsink name=sink sync=false %s location=%s", extra, path);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;
  guint bpf, chunk = rate / 100, done = 0;
  EchoSyncRec *rec;

  gst_audio_info_set_format (&info, format, rate, channels, NULL);
  bpf = GST_AUDIO_INFO_BPF (&info);
  caps = gst_audio_info_to_caps (&info);
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);

  while (done < n_frames) {
    guint n = MIN (chunk, n_frames - done);
    GstBuffer *buf;

    if (pause_ms && done == pause_after) {
      /* wait until the first part has played, then some */
      g_usleep (pause_ms * 1000);
    }
    if (pause_ms && done < pause_after)
      n = MIN (n, pause_after - done);
    buf = gst_buffer_new_memdup ((const guint8 *) data + (gsize) done * bpf,
        (gsize) n * bpf);
    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (done, GST_SECOND, rate);
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (n, GST_SECOND, rate);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), buf),
        GST_FLOW_OK);
    done += n;
    if (pause_ms && done == pause_after) {
      /* let it play out before the pause starts counting */
      g_usleep (gst_util_uint64_scale (pause_after, G_USEC_PER_SEC, rate));
    }
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  wait_played (sink, 300 * GST_MSECOND);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);

  rec = load (path, ECHO_SYNC_REC_LOAD_ALL_CHANNELS);
  fail_unless_equals_int (rec->header.rate, rate);
  fail_unless_equals_int (rec->header.channels, channels);
  assert_exact_timeline (rec);

  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_unlink (path);
  g_free (path);
  g_free (desc);
  return rec;
}

/* Index of the first frame at or after @from whose first channel is not silent. */
static guint64
first_sound (const EchoSyncRec * rec, guint64 from)
{
  guint64 i;

  for (i = from; i < rec->n_frames; i++)
    if (rec->samples[i * rec->channels] != 0.0f)
      return i;
  fail ("no sound after frame %" G_GUINT64_FORMAT, from);
  return 0;
}

static void
assert_frames_equal (const EchoSyncRec * rec, guint64 at, const gfloat * expect,
    guint n_frames)
{
  guint i;

  fail_unless (at + n_frames <= rec->n_frames, "recording too short");
  for (i = 0; i < n_frames * rec->channels; i++)
    fail_unless (rec->samples[at * rec->channels + i] == expect[i],
        "sample %u: recorded %.9g, written %.9g", i,
        rec->samples[at * rec->channels + i], expect[i]);
}

GST_START_TEST (test_records_s16_and_f32)
{
  const guint n = 13230;        /* 0.3 s at 44.1 kHz */
  gint16 *s16 = g_new (gint16, n);
  gfloat *s16_as_f32 = g_new (gfloat, n);
  gfloat *f32 = g_new (gfloat, 2 * n);
  EchoSyncRec *rec;
  guint i;

  for (i = 0; i < n; i++) {
    /* never 0, both extremes */
    s16[i] = i == 1 ? -32768 : i == 2 ? 32767 : (gint16) (((i * 7919) % 65000)
        - 32500) | 1;
    s16_as_f32[i] = s16[i] / 32768.0f;
    f32[2 * i] = (gfloat) (0.9 * sin (i * 0.01) + 1e-3);
    f32[2 * i + 1] = -(gfloat) i / n;
  }
  for (i = 0; i < n; i++)
    s16[i] = GINT16_TO_LE (s16[i]);

  rec = play_pattern (GST_AUDIO_FORMAT_S16LE, 44100, 1, n, 0, 0, "", s16);
  assert_frames_equal (rec, first_sound (rec, 0), s16_as_f32, n);
  echo_sync_rec_free (rec);

  rec = play_pattern (GST_AUDIO_FORMAT_F32LE, 48000, 2, n, 0, 0, "", f32);
  assert_frames_equal (rec, first_sound (rec, 0), f32, n);
  echo_sync_rec_free (rec);

  g_free (s16);
  g_free (s16_as_f32);
  g_free (f32);
}

GST_END_TEST;

/* Upstream late: GstAudioBaseSink's ring buffer plays silence into the device, which keeps
 * running; the recording shows the silence, and both parts are intact. */
GST_START_TEST (test_upstream_gap_is_recorded_silence)
{
  const guint n = 19200, half = 9600;   /* 2 x 200 ms */
  gfloat *f32 = g_new (gfloat, n);
  EchoSyncRec *rec;
  guint64 a, b, z;
  guint i;

  for (i = 0; i < n; i++)
    f32[i] = (gfloat) (0.5 * sin (i * 0.05) + 0.01);
  rec = play_pattern (GST_AUDIO_FORMAT_F32LE, 48000, 1, n, half, 150,
      "buffer-time=40000 latency-time=5000", f32);
  a = first_sound (rec, 0);
  assert_frames_equal (rec, a, f32, half);
  /* at least 50 ms of silence before the second part (150 ms pause, less what the
   * ring buffer held) */
  for (z = a + half; z < rec->n_frames && rec->samples[z] == 0.0f; z++);
  fail_unless (z - (a + half) >= 2400, "%" G_GUINT64_FORMAT
      " frames of silence", z - (a + half));
  b = first_sound (rec, a + half);
  assert_frames_equal (rec, b, f32 + half, half);
  echo_sync_rec_free (rec);
  g_free (f32);
}

GST_END_TEST;

/* Pausing stops the writes; the device plays out what it holds and runs dry, so the
 * first write after resuming is an underrun, flagged and counted. */
GST_START_TEST (test_underrun_after_pause)
{
  gchar *path = tmp_recording ();
  gchar *desc = g_strdup_printf ("audiotestsrc ! "
      "audio/x-raw,format=S16LE,rate=32000,channels=1 ! "
      "echosimsink name=sink sync=false skew-ppm=-40 location=%s", path);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  EchoSyncRec *rec;
  gint64 paused_at;
  guint underruns, gaps, i, big_gaps = 0;
  gdouble rate;

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (gst_element_get_state (pipe, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
  g_usleep (300 * 1000);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipe, NULL, NULL,
          GST_CLOCK_TIME_NONE) == GST_STATE_CHANGE_SUCCESS);
  paused_at = echo_sync_rec_now_ns ();
  g_usleep (100 * 1000);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipe, NULL, NULL,
          GST_CLOCK_TIME_NONE) == GST_STATE_CHANGE_SUCCESS);
  g_usleep (300 * 1000);
  assert_no_error (pipe);
  g_object_get (sink, "underruns", &underruns, NULL);
  fail_unless (underruns >= 1);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);

  rec = load (path, ECHO_SYNC_REC_LOAD_ALL_CHANNELS);
  gaps = assert_exact_timeline (rec);
  fail_unless_equals_int (gaps, underruns);
  /* one of them spans the pause: the device was dry for most of its 100 ms */
  rate = echo_sync_rec_device_rate (&rec->header);
  for (i = 1; i < rec->blocks->len; i++) {
    const EchoSyncRecBlock *prev = &g_array_index (rec->blocks,
        EchoSyncRecBlock, i - 1);
    const EchoSyncRecBlock *b = &g_array_index (rec->blocks,
        EchoSyncRecBlock, i);
    gint64 silence = b->host_ns - prev->host_ns -
        (gint64) (prev->frames * 1e9 / rate);

    if ((b->flags & ECHO_SYNC_REC_FLAG_GAP) && silence > 50 * GST_MSECOND) {
      big_gaps++;
      fail_unless (b->host_ns > paused_at);
    }
  }
  fail_unless_equals_int (big_gaps, 1);
  /* the underrun count is the device's since opening: reopening starts over */
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  g_object_get (sink, "underruns", &underruns, NULL);
  fail_unless_equals_int (underruns, 0);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);

  echo_sync_rec_free (rec);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_unlink (path);
  g_free (path);
  g_free (desc);
}

GST_END_TEST;

/* The whole chain: the sync signal played on a skewed device, analysed against the
 * nominal timeline from its first frame, shows the device's drift: a device s ppm fast
 * plays (h - h0) * s early at host time h. */
GST_START_TEST (test_analyser_measures_device_drift)
{
  const guint n = 48000;
  const gdouble skew = 200;
  gfloat *signal = g_new (gfloat, n);
  EchoSyncRec *rec;
  EchoSyncReceiver *r;
  EchoSyncParams params;
  const EchoSyncRecBlock *b;
  guint64 first, end = G_MAXUINT64;
  gchar *extra = g_strdup_printf ("skew-ppm=%g", skew);
  guint i, checked = 0;

  /* from sample 1: sample 0 is 0, indistinguishable from silence */
  for (i = 0; i < n; i++)
    signal[i] = (gfloat) echo_sync_signal_sample (i + 1);
  rec = play_pattern (GST_AUDIO_FORMAT_F32LE, 48000, 1, n, 0, 0, extra,
      signal);
  first = first_sound (rec, 0);
  assert_frames_equal (rec, first, signal, n);

  /* where sample 1 played, exactly */
  for (i = 0; i < rec->blocks->len; i++) {
    b = &g_array_index (rec->blocks, EchoSyncRecBlock, i);
    if (first >= b->first && first < b->first + b->frames)
      break;
  }
  fail_unless (i < rec->blocks->len);
  echo_sync_params_init (&params);
  params.anchor_index = 1;
  params.anchor_capture_ns = b->host_ns + (gint64) llround
      (echo_sync_rec_frame_offset_ns (rec, first - b->first));
  /* up to an underrun, if the machine caused one: the drift is then interrupted */
  for (i++; i < rec->blocks->len; i++) {
    if (g_array_index (rec->blocks, EchoSyncRecBlock, i).flags &
        ECHO_SYNC_REC_FLAG_GAP) {
      end = g_array_index (rec->blocks, EchoSyncRecBlock, i).first;
      break;
    }
  }

  r = echo_sync_analyse (rec, "sim", &params);
  for (i = 0; i < r->windows->len; i++) {
    const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, i);
    gdouble expect = -(w->centre_ns - params.anchor_capture_ns) / 1e3 * skew *
        1e-6;

    if (w->first_frame < first || w->first_frame + r->window_frames > end ||
        w->first_frame + r->window_frames > first + n)
      continue;
    fail_unless (fabs (w->d_us - expect) < 0.5,
        "window %u: d %.3f us, the device drifted %.3f us", i, w->d_us, expect);
    checked++;
  }
  fail_unless (checked > 0);

  echo_sync_receiver_free (r);
  echo_sync_rec_free (rec);
  g_free (signal);
  g_free (extra);
}

GST_END_TEST;

/* One reading of @clock's internal time, bracketed by CLOCK_MONOTONIC: the tightest
 * of several, so that a preemption does not count. */
static void
read_clock (GstClock * clock, gint64 * mono, GstClockTime * internal)
{
  gint64 best = G_MAXINT64;
  guint i;

  for (i = 0; i < 50; i++) {
    gint64 before = echo_sync_rec_now_ns ();
    GstClockTime t = gst_clock_get_internal_time (clock);
    gint64 after = echo_sync_rec_now_ns ();

    if (after - before < best) {
      best = after - before;
      *mono = before + (after - before) / 2;
      *internal = t;
    }
    g_usleep (200);
  }
}

/* The clock GstAudioBaseSink derives from delay() runs at the device's rate. A device that
 * ran dry meanwhile (the ring thread held up on a loaded machine: a sanitizer build beside
 * other jobs) plays silence that the clock does not count, so such a measurement says
 * nothing about the rate and is taken again. The device holds 100 ms, so that takes a
 * stall of that length. */
static void
check_clock_rate (gdouble skew_ppm)
{
  gchar *desc = g_strdup_printf ("audiotestsrc ! "
      "audio/x-raw,format=F32LE,rate=48000,channels=1 ! "
      "echosimsink name=sink sync=false skew-ppm=%g device-buffer-time=100000", skew_ppm);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstClock *clock;
  gint64 m0, m1;
  GstClockTime c0, c1, c, last = 0;
  gdouble slope = 0;
  guint i, attempt, underruns_before, underruns_after = 1;

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (gst_element_get_state (pipe, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
  clock = gst_element_provide_clock (sink);
  fail_unless (GST_IS_AUDIO_CLOCK (clock));
  g_usleep (200 * 1000);

  for (attempt = 0; attempt < 5; attempt++) {
    g_object_get (sink, "underruns", &underruns_before, NULL);
    read_clock (clock, &m0, &c0);
    /* never backwards, while segments are being written */
    for (i = 0; i < 2000; i++) {
      c = gst_clock_get_internal_time (clock);
      fail_unless (c >= last);
      last = c;
      g_usleep (500);
    }
    read_clock (clock, &m1, &c1);
    g_object_get (sink, "underruns", &underruns_after, NULL);
    slope = (gdouble) (c1 - c0) / (gdouble) (m1 - m0);
    if (underruns_after == underruns_before)
      break;
    GST_INFO ("the device ran dry during measurement %u (clock %.6f s per s): again",
        attempt, slope);
  }
  assert_no_error (pipe);
  fail_unless (underruns_after == underruns_before,
      "the device ran dry during each of 5 measurements");
  /* half the skew: a clock that ignored the device would be off by all of it, and the
   * ring thread may still be a millisecond late at either end of this ~1.2 s span */
  fail_unless (fabs (slope - (1 + skew_ppm * 1e-6)) < fabs (skew_ppm) / 2 * 1e-6,
      "clock ran %.6f s per s, the device %.6f", slope, 1 + skew_ppm * 1e-6);

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (clock);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_free (desc);
}

GST_START_TEST (test_clock_follows_device)
{
  check_clock_rate (5000);
  check_clock_rate (-5000);
}

GST_END_TEST;

static Suite *
echosimsink_suite (void)
{
  Suite *s = suite_create ("echosimsink");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loaded_from_build_tree);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_skew_fast);
  tcase_add_test (tc, test_skew_slow);
  tcase_add_test (tc, test_records_s16_and_f32);
  tcase_add_test (tc, test_upstream_gap_is_recorded_silence);
  tcase_add_test (tc, test_underrun_after_pause);
  tcase_add_test (tc, test_clock_follows_device);
  tcase_add_test (tc, test_analyser_measures_device_drift);
  return s;
}

GST_CHECK_MAIN (echosimsink);
