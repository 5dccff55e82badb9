/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echoclocksink element tests: on the simulated audio device (echosimsink, whose crystal
 * runs skew-ppm fast), the sink locks onto the pipeline clock, measures the device's
 * drift and keeps the play position on time; a device that is not an audio sink plays
 * open loop with a warning; a device that cannot be built fails the state change; and the
 * sink never hands its device's clock to the pipeline.
 *
 * Wall-clock behaviour is checked with generous bounds only (shared, noisy machines).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "elementcheck.h"
#include <gst/audio/audio.h>
#include <math.h>
#include <string.h>

#define LIVE_SOURCE "audiotestsrc name=src is-live=true wave=sine ! " \
    "audio/x-raw,format=F32LE,rate=48000,channels=2"
/* How long before its render time each buffer reaches the sink (see give_headroom). */
#define HEADROOM (100 * GST_MSECOND)
/* The simulated device's own buffer (us). Its default, 10 ms, runs dry whenever the
 * device's writer thread is starved that long (a loaded machine); every such underrun
 * shifts the device's timeline and spoils the drift measurement for seconds. */
#define SIM_DEVICE "echosimsink name=dev skew-ppm=400 device-buffer-time=50000"

typedef struct
{
  GstElement *pipe;
  GstElement *sink;
  GstBus *bus;
} Player;

/* "@source ! echoclocksink @props" on the system clock, not started. */
static void
player_new (Player * p, const gchar * source, const gchar * props)
{
  GError *error = NULL;
  gchar *desc = g_strdup_printf ("%s ! echoclocksink name=sink %s", source, props);
  GstClock *clock = gst_system_clock_obtain ();

  memset (p, 0, sizeof (*p));
  p->pipe = gst_parse_launch (desc, &error);
  fail_unless (p->pipe != NULL, "cannot build '%s': %s", desc,
      error ? error->message : "");
  g_clear_error (&error);
  p->sink = gst_bin_get_by_name (GST_BIN (p->pipe), "sink");
  p->bus = gst_element_get_bus (p->pipe);
  gst_pipeline_use_clock (GST_PIPELINE (p->pipe), clock);
  gst_object_unref (clock);
  g_free (desc);
}

static void
player_free (Player * p)
{
  gst_element_set_state (p->pipe, GST_STATE_NULL);
  gst_object_unref (p->bus);
  gst_object_unref (p->sink);
  gst_object_unref (p->pipe);
}

static void
player_assert_no_error (Player * p)
{
  echo_check_bus_has_no_error (p->bus);
}

static GstPadProbeReturn
shift_pts (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));

  GST_BUFFER_PTS (buf) += HEADROOM;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* A live source pushes each buffer when its first sample is captured, and its render
 * time is only its latency (one buffer, 21 ms) later: less than the device's buffering
 * (ring buffer 30 ms + the device's own, see SIM_DEVICE). echoclocksink is made for a
 * source that delivers buffers a render margin ahead of their render time, as
 * echosyncsrc does (render-margin); this gives audiotestsrc's buffers such a margin. */
static void
give_headroom (Player * p)
{
  GstElement *src = gst_bin_get_by_name (GST_BIN (p->pipe), "src");
  GstPad *pad = gst_element_get_static_pad (src, "src");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, shift_pts, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (src);
}

/* The pipeline's running time. */
static GstClockTime
running_time (Player * p)
{
  GstClock *clock = gst_pipeline_get_clock (GST_PIPELINE (p->pipe));
  GstClockTime now = gst_clock_get_time (clock);

  gst_object_unref (clock);
  return now - gst_element_get_base_time (p->pipe);
}

GST_START_TEST (test_loaded_from_build_tree)
{
  echo_check_element_from_build_tree ("echoclocksink", "Sink/Audio", NULL);
}

GST_END_TEST;

static void
assert_uint_property (GstElement * e, const gchar * name, guint min, guint max,
    guint def)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), name);
  GParamSpecUInt *u;

  fail_unless (pspec != NULL, "no property %s", name);
  fail_unless (G_IS_PARAM_SPEC_UINT (pspec));
  u = G_PARAM_SPEC_UINT (pspec);
  fail_unless_equals_int (u->minimum, min);
  fail_unless_equals_uint64 (u->maximum, max);
  fail_unless_equals_int (u->default_value, def);
}

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("echoclocksink", NULL);
  GParamSpec *pspec;
  GstStructure *s;
  gchar *device;

  fail_unless (GST_IS_BIN (e));
  fail_unless (GST_OBJECT_FLAG_IS_SET (e, GST_ELEMENT_FLAG_SINK));
  g_object_get (e, "device", &device, NULL);
  fail_unless_equals_string (device, "autoaudiosink");
  g_free (device);
  /* empty: the default again */
  g_object_set (e, "device", "", NULL);
  g_object_get (e, "device", &device, NULL);
  fail_unless_equals_string (device, "autoaudiosink");
  g_free (device);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "latency-offset");
  fail_unless (G_IS_PARAM_SPEC_INT64 (pspec));
  fail_unless_equals_int64 (G_PARAM_SPEC_INT64 (pspec)->minimum, -GST_SECOND);
  fail_unless_equals_int64 (G_PARAM_SPEC_INT64 (pspec)->maximum, GST_SECOND);
  fail_unless_equals_int64 (G_PARAM_SPEC_INT64 (pspec)->default_value, 0);
  assert_uint_property (e, "buffer-time", 2000, 1000000, 30000);
  assert_uint_property (e, "period-time", 1000, 100000, 10000);
  assert_uint_property (e, "max-correction", 1, 10000, 1000);
  assert_uint_property (e, "stats-interval", 0, G_MAXUINT, 1000);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "stats");
  fail_unless (pspec != NULL);
  fail_if (pspec->flags & G_PARAM_WRITABLE);
  /* before anything played: not locked, nothing counted */
  g_object_get (e, "stats", &s, NULL);
  fail_unless (gst_structure_has_name (s, "echo-sync-stats"));
  fail_unless (gst_structure_has_field_typed (s, "offset", G_TYPE_INT64));
  fail_unless (gst_structure_has_field_typed (s, "drift-ppm", G_TYPE_DOUBLE));
  fail_unless (gst_structure_has_field_typed (s, "ratio", G_TYPE_DOUBLE));
  fail_unless (gst_structure_has_field_typed (s, "correction-ppm", G_TYPE_DOUBLE));
  fail_unless (gst_structure_has_field_typed (s, "underruns", G_TYPE_UINT));
  fail_unless (gst_structure_has_field_typed (s, "corrections", G_TYPE_UINT));
  fail_unless (gst_structure_has_field_typed (s, "locked", G_TYPE_BOOLEAN));
  fail_unless_equals_int (gst_structure_n_fields (s), 7);
  {
    gboolean locked = TRUE;
    guint corrections = 1;

    gst_structure_get_boolean (s, "locked", &locked);
    gst_structure_get_uint (s, "corrections", &corrections);
    fail_if (locked);
    fail_unless_equals_int (corrections, 0);
  }
  gst_structure_free (s);
  gst_object_unref (e);
}

GST_END_TEST;

/* The device runs 400 ppm fast against the pipeline clock: after a few seconds the sink
 * has measured that, holds the play position on time, and locked exactly once.
 *
 * BUG (reported to the lead, plugins/sync/gstechoclocksink.c, lock_onto): with a device
 * whose own buffer is deeper than its period (SIM_DEVICE: 50 ms), the first lock lands
 * 30-40 ms late in about half the runs ("first sample at output 8747" instead of ~6830
 * for the same device position), the follower finds itself "39.9 ms off: locking again"
 * ~80 ms later, and corrections is 2. */
GST_START_TEST (test_follows_a_fast_device)
{
  Player p;
  GstMessage *msg;
  GstStructure *s;
  gboolean locked = FALSE, posted = FALSE;
  guint corrections = 0, underruns = 0;
  gdouble drift = 0;
  gint64 offset = 0;
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;

  player_new (&p, LIVE_SOURCE, "device=\"" SIM_DEVICE "\" stats-interval=250");
  give_headroom (&p);
  fail_unless (gst_element_set_state (p.pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  /* ~3 s of the pipeline's time, by the stats messages */
  for (;;) {
    msg = gst_bus_timed_pop_filtered (p.bus, GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    player_assert_no_error (&p);
    fail_unless (g_get_monotonic_time () < deadline, "3 s never played");
    if (msg) {
      fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
      if (gst_structure_has_name (gst_message_get_structure (msg), "echo-sync-stats")) {
        fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (p.sink));
        posted = TRUE;
      }
      gst_message_unref (msg);
    }
    if (GST_STATE (p.pipe) == GST_STATE_PLAYING && running_time (&p) > 3 * GST_SECOND)
      break;
  }
  fail_unless (posted, "no echo-sync-stats message");
  {
    GstElement *device = gst_bin_get_by_name (GST_BIN (p.sink), "dev");
    guint device_underruns = 0;

    g_object_get (device, "underruns", &device_underruns, NULL);
    gst_object_unref (device);
    /* not the sink's doing: its writer thread was starved (see SIM_DEVICE) */
    fail_unless_equals_int (device_underruns, 0);
  }
  g_object_get (p.sink, "stats", &s, NULL);
  fail_unless (gst_structure_get_boolean (s, "locked", &locked));
  fail_unless (gst_structure_get_uint (s, "corrections", &corrections));
  fail_unless (gst_structure_get_uint (s, "underruns", &underruns));
  fail_unless (gst_structure_get_double (s, "drift-ppm", &drift));
  fail_unless (gst_structure_get_int64 (s, "offset", &offset));
  gst_structure_free (s);
  fail_unless (locked, "not locked");
  fail_unless_equals_int (underruns, 0);
  fail_unless_equals_int (corrections, 1);
  fail_unless (fabs (drift - 400) < 20, "measured %+.1f ppm, the device runs +400",
      drift);
  fail_unless (ABS (offset) < GST_MSECOND, "%" G_GINT64_FORMAT " ns off", offset);
  player_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_does_not_provide_clock)
{
  Player p;
  GstElement *device;
  GstClock *clock;

  player_new (&p, LIVE_SOURCE, "device=\"echosimsink name=dev\"");
  fail_unless (gst_element_set_state (p.pipe, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  /* the device is an audio sink, which would provide its clock... */
  device = gst_element_factory_make ("echosimsink", NULL);
  fail_unless (GST_OBJECT_FLAG_IS_SET (device, GST_ELEMENT_FLAG_PROVIDE_CLOCK));
  gst_object_unref (device);
  /* ...but not in echoclocksink, which follows the pipeline clock instead */
  device = gst_bin_get_by_name (GST_BIN (p.sink), "dev");
  fail_unless (device != NULL);
  fail_unless (GST_IS_AUDIO_BASE_SINK (device));
  {
    gboolean provide = TRUE;

    g_object_get (device, "provide-clock", &provide, NULL);
    fail_if (provide);
  }
  gst_object_unref (device);
  fail_unless (gst_element_provide_clock (p.sink) == NULL);
  gst_pipeline_auto_clock (GST_PIPELINE (p.pipe));
  fail_unless (gst_element_set_state (p.pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (p.pipe, NULL, NULL, 10 * GST_SECOND) ==
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_provide_clock (p.sink) == NULL);
  /* so the pipeline does not run on the device's clock */
  clock = gst_pipeline_get_clock (GST_PIPELINE (p.pipe));
  fail_unless (clock != NULL);
  fail_if (GST_IS_AUDIO_CLOCK (clock), "the pipeline runs on %s",
      GST_OBJECT_NAME (clock));
  gst_object_unref (clock);
  player_assert_no_error (&p);
  player_free (&p);
}

GST_END_TEST;

static GstPadProbeReturn
count_buffers (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_not_an_audio_sink_plays_open_loop)
{
  Player p;
  GstElement *device;
  GstPad *pad;
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;
  gint n_buffers = 0;
  gint64 deadline;

  player_new (&p, LIVE_SOURCE, "device=\"fakesink name=dev sync=true\"");
  fail_unless (gst_element_set_state (p.pipe, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  msg = gst_bus_pop_filtered (p.bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (p.sink));
  gst_message_parse_warning (msg, &err, &dbg);
  fail_unless (strstr (err->message, "play position") != NULL, "warning '%s'",
      err->message);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);

  device = gst_bin_get_by_name (GST_BIN (p.sink), "dev");
  fail_unless (device != NULL);
  pad = gst_element_get_static_pad (device, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, &n_buffers, NULL);
  fail_unless (gst_element_set_state (p.pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (g_atomic_int_get (&n_buffers) < 20) {
    player_assert_no_error (&p);
    fail_unless (g_get_monotonic_time () < deadline, "no audio reaches the device");
    g_usleep (10 * 1000);
  }
  player_assert_no_error (&p);
  player_free (&p);
  gst_object_unref (pad);
  gst_object_unref (device);
}

GST_END_TEST;

GST_START_TEST (test_unparsable_device_fails)
{
  static const gchar *const bad[] = {
    "echosimsink ! ! (",
    "no-such-audio-sink-element",
    NULL
  };
  guint i;

  for (i = 0; bad[i]; i++) {
    Player p;
    gchar *props = g_strdup_printf ("device=\"%s\"", bad[i]);
    GstMessage *msg;

    player_new (&p, LIVE_SOURCE, props);
    fail_unless_equals_int (gst_element_set_state (p.pipe, GST_STATE_PLAYING),
        GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered (p.bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no error for device '%s'", bad[i]);
    fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (p.sink));
    gst_message_unref (msg);
    player_free (&p);
    g_free (props);
  }
}

GST_END_TEST;

static Suite *
echoclocksink_suite (void)
{
  Suite *s = suite_create ("echoclocksink");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loaded_from_build_tree);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_follows_a_fast_device);
  tcase_add_test (tc, test_does_not_provide_clock);
  tcase_add_test (tc, test_not_an_audio_sink_plays_open_loop);
  tcase_add_test (tc, test_unparsable_device_fails);
  return s;
}

GST_CHECK_MAIN (echoclocksink);
