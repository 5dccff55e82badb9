/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Unit tests of the sync benchmark's recordings (bench/syncrec.c) and analysis
 * (bench/syncanalysis.c), on synthetic recordings of the sync signal rendered at known
 * timing errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "syncanalysis.h"
#include "syncrec.h"
#include "syncsignal.h"

/* a realistic CLOCK_MONOTONIC (a day and a bit after boot) */
#define START_NS G_GINT64_CONSTANT (93784123456789)

static gchar *tmp_dir;

/* The ideal timeline of these tests: sample K0 captured at C0, played LAT later. */
#define K0 12345
#define C0 (START_NS - 3 * G_GINT64_CONSTANT (1000000))
#define LAT G_GINT64_CONSTANT (7000000)

static void
test_params (EchoSyncParams * p)
{
  echo_sync_params_init (p);
  p->anchor_index = K0;
  p->anchor_capture_ns = C0;
  p->latency_ns = LAT;
}

typedef gdouble (*DelayFunc) (gdouble t, gconstpointer data);

/* A receiver to synthesise: what it renders, when, and how. */
typedef struct
{
  guint rate;
  guint channels;
  gdouble skew_ppm;             /* of its device */
  gdouble seconds;
  DelayFunc delay;              /* timing error (s) at t s after the first frame */
  gconstpointer delay_data;
  gdouble silence_from, silence_to;     /* zeros rendered in [from, to) s */
  gdouble gap_at, gap_s;        /* the device runs dry at gap_at s for gap_s s */
  gint64 session_offset_ns;
  gdouble session_skew_ppm;
} Synth;

static void
synth_init (Synth * s)
{
  memset (s, 0, sizeof (*s));
  s->rate = 48000;
  s->channels = 2;
  s->seconds = 2.0;
}

static gdouble
constant_delay (gdouble t, gconstpointer data)
{
  return *(const gdouble *) data;
}

/* What the ideal source time is at host time start + offset_ns (long double: independent
 * of the analyser's modular arithmetic). */
static gdouble
ideal_tau (gint64 start, long double offset_ns, const Synth * s)
{
  long double h = (long double) start + offset_ns;
  long double session = h + s->session_offset_ns +
      h * (long double) s->session_skew_ppm * 1e-6L;

  return (gdouble) ((long double) K0 / ECHO_SYNC_SIGNAL_RATE +
      (session - LAT - C0) / 1e9L);
}

/* Writes the recording: blocks of 10 ms, as the sink writes them. */
static gchar *
synth_write (const Synth * s, const gchar * name)
{
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  GError *error = NULL;
  EchoSyncRecWriter *w = echo_sync_rec_writer_open (path, &error);
  EchoSyncRecHeader h = { ECHO_SYNC_REC_VERSION, s->rate, s->channels,
    s->skew_ppm, START_NS - 250 * G_GINT64_CONSTANT (1000000)
  };
  gdouble device_rate = s->rate * (1 + s->skew_ppm * 1e-6);
  guint64 total = (guint64) llround (s->seconds * s->rate), j0;
  guint block = s->rate / 100, c;
  gint64 anchor = START_NS;
  guint64 anchor_frame = 0;
  gboolean gapped = s->gap_s <= 0;
  gfloat *samples = g_new (gfloat, block * s->channels);

  g_assert_no_error (error);
  g_assert_true (echo_sync_rec_writer_write_header (w, &h, &error));
  for (j0 = 0; j0 < total; j0 += block) {
    guint n = (guint) MIN (block, total - j0), j;
    guint32 flags = 0;
    gint64 host;

    if (!gapped && j0 >= s->gap_at * s->rate) {
      /* the device ran dry: the next block plays gap_s later than it would have */
      anchor = anchor + (gint64) llround ((j0 - anchor_frame) * 1e9 /
          device_rate) + (gint64) (s->gap_s * 1e9);
      anchor_frame = j0;
      flags = ECHO_SYNC_REC_FLAG_GAP;
      gapped = TRUE;
    }
    host = anchor + (gint64) llround ((j0 - anchor_frame) * 1e9 / device_rate);
    for (j = 0; j < n; j++) {
      /* exactly the host time the reader computes for this frame */
      long double off = (long double) (host - START_NS) + j * 1e9L / device_rate;
      gdouble t = (gdouble) (off / 1e9L);
      gdouble v = 0;

      if (!(t >= s->silence_from && t < s->silence_to))
        v = echo_sync_signal_at (ideal_tau (START_NS, off, s) -
            (s->delay ? s->delay (t, s->delay_data) : 0));
      for (c = 0; c < s->channels; c++)
        samples[j * s->channels + c] = (gfloat) (c == 0 ? v : -0.5 * v);
    }
    g_assert_true (echo_sync_rec_writer_add_block (w, host, flags,
            ECHO_SYNC_REC_SAMPLES_F32, samples, n, &error));
  }
  g_assert_true (echo_sync_rec_writer_close (w, &error));
  g_assert_no_error (error);
  g_free (samples);
  return path;
}

static EchoSyncReceiver *
synth_analyse (const Synth * s, const gchar * name, const EchoSyncParams * p)
{
  g_autofree gchar *path = synth_write (s, name);
  GError *error = NULL;
  g_autoptr (EchoSyncRec) rec = echo_sync_rec_load (path,
      ECHO_SYNC_REC_LOAD_FIRST_CHANNEL, &error);

  g_assert_no_error (error);
  g_unlink (path);
  return echo_sync_analyse (rec, name, p);
}

static EchoSyncReceiver *
analyse_constant (gdouble delay_s, guint rate, gdouble skew_ppm,
    const gchar * name)
{
  Synth s;
  EchoSyncParams p;

  synth_init (&s);
  s.rate = rate;
  s.skew_ppm = skew_ppm;
  s.delay = constant_delay;
  s.delay_data = &delay_s;
  test_params (&p);
  return synth_analyse (&s, name, &p);
}

/* Every window's delay, and that nothing else happened. */
static void
assert_clean (const EchoSyncReceiver * r, gdouble d_us)
{
  guint i;

  g_assert_cmpuint (r->windows->len, ==, 200);
  g_assert_cmpuint (r->n_analysed, ==, 200);
  for (i = 0; i < r->windows->len; i++) {
    const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, i);

    g_assert_false (w->bad);
    g_assert_cmpfloat_with_epsilon (w->d_us, d_us, 0.5);
    g_assert_cmpfloat (w->residual, <, 1e-4);
  }
  g_assert_cmpuint (r->glitches, ==, 0);
  /* converged from the first window (if at all): its centre is 5 ms after the first
   * frame, which is 250 ms after joining */
  g_assert_cmpint (r->converge_100us, ==, fabs (d_us) < 100 ? 0 : -1);
  if (fabs (d_us) >= 1000) {
    g_assert_cmpint (r->converge_1ms, ==, -1);
    g_assert_cmpuint (r->good_windows, ==, 0);
    return;
  }
  g_assert_cmpint (r->converge_1ms, ==, 0);
  g_assert_cmpfloat_with_epsilon (r->converge_1ms_ms, 255.0, 0.1);
  g_assert_cmpuint (r->good_windows, ==, 200);
  g_assert_cmpfloat_with_epsilon (r->median_d_us, d_us, 0.5);
  g_assert_cmpfloat_with_epsilon (r->e2e_ms, LAT / 1e6 + d_us / 1e3, 0.0005);
  g_assert_cmpfloat_with_epsilon (r->abs_p99_us, fabs (d_us), 0.5);
}

static void
test_clean_delays (void)
{
  static const gdouble delays_us[] = { 37, -12, 0, 499.9, -500.2, 1234.5,
    -4321.0, 5200.0, -5300.0
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (delays_us); i++) {
    g_autoptr (EchoSyncReceiver) r =
        analyse_constant (delays_us[i] * 1e-6, 48000, 0, "r");

    assert_clean (r, delays_us[i]);
  }
}

static void
test_skewed_device (void)
{
  /* a device 300 ppm fast that still renders the ideal timeline: no error */
  g_autoptr (EchoSyncReceiver) fast = analyse_constant (0, 48000, 300, "fast");
  g_autoptr (EchoSyncReceiver) slow = analyse_constant (25e-6, 48000, -750,
      "slow");

  assert_clean (fast, 0);
  assert_clean (slow, 25);
}

static void
test_other_rates (void)
{
  g_autoptr (EchoSyncReceiver) r44 = analyse_constant (-80e-6, 44100, 0, "r");
  g_autoptr (EchoSyncReceiver) r96 = analyse_constant (3e-6, 96000, 120, "r");

  assert_clean (r44, -80);
  assert_clean (r96, 3);
  g_assert_cmpuint (r44->window_frames, ==, 441);
  g_assert_cmpuint (r96->window_frames, ==, 960);
}

static void
test_pair_offsets (void)
{
  g_autoptr (EchoSyncReceiver) a = analyse_constant (37e-6, 48000, 0, "a");
  g_autoptr (EchoSyncReceiver) b = analyse_constant (-12e-6, 48000, 0, "b");
  g_autoptr (EchoSyncReceiver) c = analyse_constant (0, 44100, 300, "c");
  EchoSyncReceiver *pair[] = { a, b };
  EchoSyncReceiver *three[] = { a, b, c };
  EchoSyncSummary s;

  echo_sync_summarise (pair, 2, &s);
  g_assert_false (s.single);
  /* every window centre of a but the last has b's windows around it */
  g_assert_cmpuint (s.n, >=, 198);
  g_assert_cmpfloat_with_epsilon (s.p50_us, 49.0, 1.0);
  g_assert_cmpfloat_with_epsilon (s.p99_us, 49.0, 1.0);
  g_assert_cmpfloat_with_epsilon (s.max_us, 49.0, 1.0);
  g_assert_cmpuint (s.glitches, ==, 0);
  g_assert_cmpfloat_with_epsilon (s.converge_1ms_ms, 255.0, 0.1);

  /* pooled: a-b 49, a-c 37, b-c 12 */
  echo_sync_summarise (three, 3, &s);
  g_assert_cmpfloat_with_epsilon (s.p50_us, 37.0, 1.0);
  g_assert_cmpfloat_with_epsilon (s.max_us, 49.0, 1.0);
}

static void
test_single_receiver (void)
{
  g_autoptr (EchoSyncReceiver) a = analyse_constant (-23e-6, 48000, 0, "a");
  EchoSyncReceiver *one[] = { a };
  EchoSyncSummary s;

  echo_sync_summarise (one, 1, &s);
  g_assert_true (s.single);
  g_assert_cmpuint (s.n, ==, 200);
  g_assert_cmpfloat_with_epsilon (s.p50_us, 23.0, 0.5);
  g_assert_cmpfloat_with_epsilon (s.max_us, 23.0, 0.5);
}

typedef struct
{
  gdouble at, by;
} Step;

static gdouble
step_delay (gdouble t, gconstpointer data)
{
  const Step *step = data;

  return t >= step->at ? step->by : 0;
}

static void
check_one_sample_jump (gdouble at)
{
  Step step = { at, 1.0 / ECHO_SYNC_SIGNAL_RATE };
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;
  guint i, jumps = 0;

  synth_init (&s);
  s.delay = step_delay;
  s.delay_data = &step;
  test_params (&p);
  r = synth_analyse (&s, "jump", &p);

  g_assert_cmpuint (r->glitches, ==, 1);
  g_assert_cmpint (r->converge_1ms, ==, 0);
  for (i = 0; i < r->windows->len; i++) {
    const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, i);
    gdouble t_start = (w->start_ns - START_NS) / 1e9;
    gdouble t_end = (w->end_ns - START_NS) / 1e9;

    if (w->bad) {
      /* only next to the jump */
      g_assert_cmpfloat (t_end, >, at - 0.025);
      g_assert_cmpfloat (t_start, <, at + 0.025);
      jumps++;
    } else if (t_end < at) {
      g_assert_cmpfloat_with_epsilon (w->d_us, 0, 0.5);
    } else if (t_start >= at) {
      g_assert_cmpfloat_with_epsilon (w->d_us, 1e6 / 48000, 0.5);
    }
  }
  g_assert_cmpuint (jumps, >=, 1);
  g_assert_cmpuint (r->glitch_windows, ==, jumps);
}

static void
test_jump_at_window_boundary (void)
{
  check_one_sample_jump (1.0);
}

static void
test_jump_inside_window (void)
{
  check_one_sample_jump (1.0043);
  check_one_sample_jump (0.5001);
  check_one_sample_jump (1.4099);
}

static void
test_inserted_silence (void)
{
  gdouble zero = 0;
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;
  EchoSyncReceiver *one[1];
  EchoSyncSummary sum;
  guint i, silent = 0;

  synth_init (&s);
  s.delay = constant_delay;
  s.delay_data = &zero;
  s.silence_from = 1.2037;
  s.silence_to = 1.2537;
  test_params (&p);
  r = synth_analyse (&s, "dropout", &p);

  for (i = 0; i < r->windows->len; i++)
    silent += g_array_index (r->windows, EchoSyncWindow, i).silent;
  g_assert_cmpuint (silent, >=, 4);
  g_assert_cmpuint (r->glitches, ==, 1);
  g_assert_cmpint (r->converge_1ms, ==, 0);
  /* the windows around it are good again, and the statistics skip the glitch */
  g_assert_cmpuint (r->good_windows, ==, 200 - r->glitch_windows);
  g_assert_cmpfloat (r->abs_max_us, <, 0.5);
  one[0] = r;
  echo_sync_summarise (one, 1, &sum);
  g_assert_cmpuint (sum.glitches, ==, 1);
}

static void
test_trailing_and_leading_silence (void)
{
  gdouble d = 10e-6;
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;

  /* silence before the audio (not yet started) and after it (stream ended) */
  synth_init (&s);
  s.delay = constant_delay;
  s.delay_data = &d;
  s.silence_from = 1.7;
  s.silence_to = 10;
  test_params (&p);
  r = synth_analyse (&s, "tail", &p);
  g_assert_cmpuint (r->glitches, ==, 0);
  g_assert_cmpuint (r->n_analysed, ==, 170);

  s.silence_from = -1;
  s.silence_to = 0.3013;
  g_clear_pointer (&r, echo_sync_receiver_free);
  r = synth_analyse (&s, "head", &p);
  g_assert_cmpuint (r->glitches, ==, 0);
  g_assert_cmpint (r->first_audio, ==, 30);
  /* the window with the start in it fits badly; the next one is the first good one */
  g_assert_cmpint (r->converge_1ms, ==, 31);
  g_assert_cmpfloat_with_epsilon (r->converge_1ms_ms, 250 + 315.0, 0.1);
}

static gdouble
ramp_delay (gdouble t, gconstpointer data)
{
  return t < 2.0 ? 3e-3 * (1 - t / 2.0) : 0;
}

static void
test_converging_ramp (void)
{
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;
  guint i;

  synth_init (&s);
  s.seconds = 3.0;
  s.delay = ramp_delay;
  test_params (&p);
  r = synth_analyse (&s, "ramp", &p);

  /* under 1 ms from t = 4/3 s, under 100 us from t = 29/15 s; join is 250 ms earlier */
  g_assert_cmpuint (r->glitches, ==, 0);
  g_assert_cmpfloat_with_epsilon (r->converge_1ms_ms, 250 + 1333.33, 10.0);
  g_assert_cmpfloat_with_epsilon (r->converge_100us_ms, 250 + 1933.33, 10.0);
  /* the fit follows the ramp: each window sees the delay at its centre */
  for (i = 0; i < r->windows->len; i++) {
    const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, i);
    gdouble t = (w->centre_ns - START_NS) / 1e9;

    if (fabs (t - 2.0) > 0.01)
      g_assert_cmpfloat_with_epsilon (w->d_us, ramp_delay (t, NULL) * 1e6, 0.5);
  }
}

static gdouble
excursion_delay (gdouble t, gconstpointer data)
{
  return t >= 6.5 && t < 6.56 ? 2e-3 : 0;
}

/* A receiver in sync from the start that leaves it for 60 ms (a relock, say) more than
 * 5 s later is still converged from the start: the excursion is a glitch and shows in
 * its figures. */
static void
test_excursion_after_convergence (void)
{
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;

  synth_init (&s);
  s.seconds = 8.0;
  s.delay = excursion_delay;
  test_params (&p);
  r = synth_analyse (&s, "excursion", &p);

  g_assert_cmpint (r->converge_1ms, ==, 0);
  g_assert_cmpint (r->converge_100us, ==, 0);
  g_assert_cmpuint (r->glitches, >=, 1);
  g_assert_cmpfloat (r->abs_max_us, >, 1900);
}

static void
test_underrun_flag (void)
{
  gdouble zero = 0;
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;
  guint i, gaps = 0;

  /* the device ran dry for 20 ms; the receiver then resumed on the ideal timeline */
  synth_init (&s);
  s.delay = constant_delay;
  s.delay_data = &zero;
  s.gap_at = 1.1;
  s.gap_s = 0.020;
  test_params (&p);
  r = synth_analyse (&s, "underrun", &p);

  for (i = 0; i < r->windows->len; i++)
    gaps += g_array_index (r->windows, EchoSyncWindow, i).gap;
  g_assert_cmpuint (gaps, ==, 1);
  g_assert_cmpuint (r->glitches, ==, 1);
  g_assert_cmpint (r->converge_1ms, ==, 0);
}

/* A glitch that begins during a host stall (or just after it) is counted apart; one
 * elsewhere is not. */
static void
test_host_stall_attribution (void)
{
  gdouble zero = 0;
  const gint64 ms = G_GINT64_CONSTANT (1000000);
  const EchoSyncStall at_gap[] = {
    {START_NS + 300 * ms, START_NS + 310 * ms},
    {START_NS + 1080 * ms, START_NS + 1095 * ms},
  };
  const EchoSyncStall elsewhere[] = {
    {START_NS + 300 * ms, START_NS + 310 * ms},
  };
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) with = NULL;
  g_autoptr (EchoSyncReceiver) without = NULL;
  EchoSyncReceiver *both[2];
  EchoSyncSummary sum;

  synth_init (&s);
  s.delay = constant_delay;
  s.delay_data = &zero;
  s.gap_at = 1.1;
  s.gap_s = 0.020;
  test_params (&p);
  p.stalls = at_gap;
  p.n_stalls = G_N_ELEMENTS (at_gap);
  with = synth_analyse (&s, "stalled", &p);
  g_assert_cmpuint (with->glitches, ==, 1);
  g_assert_cmpuint (with->stall_glitches, ==, 1);

  p.stalls = elsewhere;
  p.n_stalls = G_N_ELEMENTS (elsewhere);
  without = synth_analyse (&s, "not-stalled", &p);
  g_assert_cmpuint (without->glitches, ==, 1);
  g_assert_cmpuint (without->stall_glitches, ==, 0);
  /* both leave out the windows of the stall at 300 ms; the first also those at the gap */
  g_assert_cmpuint (with->good_windows, <, without->good_windows);

  both[0] = with;
  both[1] = without;
  echo_sync_summarise (both, 2, &sum);
  g_assert_cmpuint (sum.glitches, ==, 2);
  g_assert_cmpuint (sum.stall_glitches, ==, 1);
}

static void
test_session_clock (void)
{
  gdouble d = -3e-6;
  Synth s;
  EchoSyncParams p;
  g_autoptr (EchoSyncReceiver) r = NULL;

  /* receivers rendering the timeline of a session clock that is offset and skewed */
  synth_init (&s);
  s.delay = constant_delay;
  s.delay_data = &d;
  s.session_offset_ns = -G_GINT64_CONSTANT (5123456789);
  s.session_skew_ppm = 180.5;
  test_params (&p);
  p.session_offset_ns = s.session_offset_ns;
  p.session_skew_ppm = s.session_skew_ppm;
  r = synth_analyse (&s, "session", &p);
  assert_clean (r, -3);

  /* analysed against the plain host timeline, it is far off */
  p.session_offset_ns = 0;
  p.session_skew_ppm = 0;
  g_clear_pointer (&r, echo_sync_receiver_free);
  r = synth_analyse (&s, "session", &p);
  g_assert_cmpint (r->converge_1ms, ==, -1);
  g_assert_true (isinf (r->converge_1ms_ms));
}

static void
test_never_converges (void)
{
  g_autoptr (EchoSyncReceiver) r = analyse_constant (2e-3, 48000, 0, "late");
  EchoSyncReceiver *one[] = { r };
  EchoSyncSummary s;

  g_assert_cmpint (r->converge_1ms, ==, -1);
  g_assert_cmpint (r->converge_100us, ==, -1);
  g_assert_true (isnan (r->e2e_ms));
  g_assert_cmpuint (r->good_windows, ==, 0);
  echo_sync_summarise (one, 1, &s);
  g_assert_true (isinf (s.converge_1ms_ms));
  g_assert_cmpuint (s.n, ==, 0);
  g_assert_true (isnan (s.p50_us));
}

static void
test_interpolation (void)
{
  g_autoptr (EchoSyncReceiver) r = NULL;
  Synth s;
  EchoSyncParams p;
  const EchoSyncWindow *w0, *w1;
  gdouble d;

  synth_init (&s);
  s.seconds = 3.0;
  s.delay = ramp_delay;
  test_params (&p);
  r = synth_analyse (&s, "ramp", &p);
  w0 = &g_array_index (r->windows, EchoSyncWindow, 150);
  w1 = &g_array_index (r->windows, EchoSyncWindow, 151);
  g_assert_true (echo_sync_receiver_d_at (r, w0->centre_ns, &d));
  g_assert_cmpfloat (d, ==, w0->d_us);
  g_assert_true (echo_sync_receiver_d_at (r, (w0->centre_ns + w1->centre_ns) / 2,
          &d));
  g_assert_cmpfloat_with_epsilon (d, (w0->d_us + w1->d_us) / 2, 0.01);
  /* before convergence and outside the recording: nothing */
  g_assert_false (echo_sync_receiver_d_at (r, START_NS, &d));
  g_assert_false (echo_sync_receiver_d_at (r, START_NS + 10 * G_GINT64_CONSTANT (1000000000),
          &d));
}

/* ---- the recording format ---- */

static void
test_roundtrip_and_formats (void)
{
  g_autofree gchar *path = g_build_filename (tmp_dir, "formats.bin", NULL);
  GError *error = NULL;
  EchoSyncRecWriter *w = echo_sync_rec_writer_open (path, &error);
  EchoSyncRecHeader h = { ECHO_SYNC_REC_VERSION, 44100, 2, -12.5, 1000 };
  const gfloat f[] = { 0.5f, -0.25f, 1.0f, -1.0f };
  const guint8 s16[] = { 0x00, 0x80, 0xff, 0x7f, 0x01, 0x00, 0xff, 0xff };
  g_autoptr (EchoSyncRec) rec = NULL;
  g_autoptr (EchoSyncRec) first = NULL;
  const EchoSyncRecBlock *b;

  g_assert_no_error (error);
  g_assert_true (echo_sync_rec_writer_write_header (w, &h, &error));
  g_assert_true (echo_sync_rec_writer_add_block (w, 2000, 0,
          ECHO_SYNC_REC_SAMPLES_F32, f, 2, &error));
  g_assert_true (echo_sync_rec_writer_add_block (w, 500000000, 1,
          ECHO_SYNC_REC_SAMPLES_S16LE, s16, 2, &error));
  g_assert_true (echo_sync_rec_writer_add_block (w, 600000000, 0,
          ECHO_SYNC_REC_SAMPLES_F32LE, f, 1, &error));
  g_assert_true (echo_sync_rec_writer_close (w, &error));
  g_assert_no_error (error);

  rec = echo_sync_rec_load (path, ECHO_SYNC_REC_LOAD_ALL_CHANNELS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rec->header.rate, ==, 44100);
  g_assert_cmpuint (rec->header.channels, ==, 2);
  g_assert_cmpfloat (rec->header.skew_ppm, ==, -12.5);
  g_assert_cmpint (rec->header.open_host_ns, ==, 1000);
  g_assert_cmpuint (rec->channels, ==, 2);
  g_assert_cmpuint (rec->n_frames, ==, 5);
  g_assert_cmpuint (rec->blocks->len, ==, 3);
  b = &g_array_index (rec->blocks, EchoSyncRecBlock, 1);
  g_assert_cmpint (b->host_ns, ==, 500000000);
  g_assert_cmpuint (b->flags, ==, ECHO_SYNC_REC_FLAG_GAP);
  g_assert_cmpuint (b->first, ==, 2);
  g_assert_cmpuint (b->offset, ==, 40 + 16 + 2 * 2 * 4);
  g_assert_cmpfloat (rec->samples[0], ==, 0.5f);
  g_assert_cmpfloat (rec->samples[3], ==, -1.0f);
  g_assert_cmpfloat (rec->samples[4], ==, -1.0f);
  g_assert_cmpfloat (rec->samples[5], ==, 32767 / 32768.0f);
  g_assert_cmpfloat (rec->samples[6], ==, 1 / 32768.0f);
  g_assert_cmpfloat (rec->samples[7], ==, -1 / 32768.0f);
  g_assert_cmpfloat (rec->samples[8], ==, 0.5f);
  g_assert_cmpfloat (rec->samples[9], ==, -0.25f);

  first = echo_sync_rec_load (path, ECHO_SYNC_REC_LOAD_FIRST_CHANNEL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (first->channels, ==, 1);
  g_assert_cmpfloat (first->samples[1], ==, 1.0f);
  g_assert_cmpfloat (first->samples[2], ==, -1.0f);
  g_assert_cmpfloat (first->samples[4], ==, 0.5f);
  g_unlink (path);
}

static void
test_drop_marker (void)
{
  g_autofree gchar *path = g_build_filename (tmp_dir, "drop.bin", NULL);
  GError *error = NULL;
  EchoSyncRecWriter *w = echo_sync_rec_writer_open (path, &error);
  /* 1000 frames per second: frame j of a block plays j ms after its start */
  EchoSyncRecHeader h = { ECHO_SYNC_REC_VERSION, 1000, 1, 0, 0 };
  gfloat samples[100];
  g_autoptr (EchoSyncRec) rec = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (samples); i++)
    samples[i] = i;
  g_assert_true (echo_sync_rec_writer_write_header (w, &h, &error));
  /* [0, 100 ms), [100, 200 ms), [200, 300 ms); stopped at 150.5 ms */
  for (i = 0; i < 3; i++)
    g_assert_true (echo_sync_rec_writer_add_block (w, i * 100000000, 0,
            ECHO_SYNC_REC_SAMPLES_F32, samples, 100, &error));
  g_assert_true (echo_sync_rec_writer_add_drop (w, 150500000, &error));
  /* restarted at 400 ms */
  g_assert_true (echo_sync_rec_writer_add_block (w, 400000000,
          ECHO_SYNC_REC_FLAG_GAP, ECHO_SYNC_REC_SAMPLES_F32, samples, 10,
          &error));
  g_assert_true (echo_sync_rec_writer_close (w, &error));
  g_assert_no_error (error);

  rec = echo_sync_rec_load (path, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rec->n_drops, ==, 1);
  /* frames 150..299 never played (150 started at 150 ms, before the stop) */
  g_assert_cmpuint (rec->dropped_frames, ==, 149);
  g_assert_cmpuint (rec->n_frames, ==, 161);
  g_assert_cmpuint (rec->blocks->len, ==, 3);
  g_assert_cmpuint (g_array_index (rec->blocks, EchoSyncRecBlock, 1).frames,
      ==, 51);
  g_assert_cmpfloat (rec->samples[150], ==, 50);
  g_assert_cmpfloat (rec->samples[151], ==, 0);
  g_assert_cmpuint (g_array_index (rec->blocks, EchoSyncRecBlock, 2).first,
      ==, 151);
  g_unlink (path);
}

static void
write_file (const gchar * path, const guint8 * data, gsize len)
{
  GError *error = NULL;

  g_assert_true (g_file_set_contents (path, (const gchar *) data, len,
          &error));
}

static void
assert_bad (const gchar * path, const gchar * what, guint64 offset)
{
  GError *error = NULL;
  EchoSyncRec *rec = echo_sync_rec_load (path, 0, &error);
  g_autofree gchar *at = g_strdup_printf ("%s: offset %" G_GUINT64_FORMAT ": ",
      path, offset);

  g_assert_null (rec);
  g_assert_error (error, ECHO_SYNC_REC_ERROR, ECHO_SYNC_REC_ERROR_FORMAT);
  if (!g_str_has_prefix (error->message, at) ||
      strstr (error->message, what) == NULL)
    g_error ("unexpected message \"%s\" (wanted \"%s...%s\")", error->message,
        at, what);
  g_error_free (error);
}

static void
test_bad_files (void)
{
  g_autofree gchar *path = g_build_filename (tmp_dir, "bad.bin", NULL);
  g_autofree gchar *good = g_build_filename (tmp_dir, "good.bin", NULL);
  GError *error = NULL;
  EchoSyncRecWriter *w = echo_sync_rec_writer_open (good, &error);
  EchoSyncRecHeader h = { ECHO_SYNC_REC_VERSION, 48000, 2, 0, 0 };
  gfloat samples[20] = { 0 };
  gchar *data;
  gsize len;
  guint8 *copy;

  g_assert_true (echo_sync_rec_writer_write_header (w, &h, &error));
  g_assert_true (echo_sync_rec_writer_add_block (w, 1000000, 0,
          ECHO_SYNC_REC_SAMPLES_F32, samples, 10, &error));
  g_assert_true (echo_sync_rec_writer_add_block (w, 2000000, 0,
          ECHO_SYNC_REC_SAMPLES_F32, samples, 10, &error));
  g_assert_true (echo_sync_rec_writer_close (w, &error));
  g_assert_true (g_file_get_contents (good, &data, &len, &error));
  g_assert_cmpuint (len, ==, 40 + 2 * (16 + 80));
  copy = g_memdup2 (data, len);

  write_file (path, copy, 20);
  assert_bad (path, "truncated header", 20);
  copy[0] = 'X';
  write_file (path, copy, len);
  assert_bad (path, "magic", 0);
  memcpy (copy, data, len);
  copy[8] = 2;
  write_file (path, copy, len);
  assert_bad (path, "unsupported version 2", 8);
  memcpy (copy, data, len);
  memset (copy + 16, 0, 4);
  write_file (path, copy, len);
  assert_bad (path, "channel count 0", 16);
  memcpy (copy, data, len);
  /* the second block, cut inside its samples */
  write_file (path, copy, len - 3);
  assert_bad (path, "truncated block", 136);
  write_file (path, copy, 136 + 7);
  assert_bad (path, "truncated block header", 136);
  /* a frame count that would need gigabytes */
  memset (copy + 136 + 8, 0xff, 4);
  write_file (path, copy, len);
  assert_bad (path, "4294967295 frames", 136);
  memcpy (copy, data, len);
  copy[136 + 12] = 0x10;
  write_file (path, copy, len);
  assert_bad (path, "unknown block flags", 136);
  memcpy (copy, data, len);
  /* the second block starting before the first ends (10 frames = 208333 ns) */
  copy[136] = 0x40;
  copy[137] = 0x42;
  copy[138] = 0x0f;
  write_file (path, copy, len);
  assert_bad (path, "before the previous block ends", 136);

  g_free (data);
  g_free (copy);
  g_unlink (path);
  g_unlink (good);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp (NULL, NULL);
  g_assert_nonnull (tmp_dir);

  g_test_add_func ("/syncrec/roundtrip-and-formats",
      test_roundtrip_and_formats);
  g_test_add_func ("/syncrec/drop-marker", test_drop_marker);
  g_test_add_func ("/syncrec/bad-files", test_bad_files);
  g_test_add_func ("/sync-analyze/clean-delays", test_clean_delays);
  g_test_add_func ("/sync-analyze/skewed-device", test_skewed_device);
  g_test_add_func ("/sync-analyze/other-rates", test_other_rates);
  g_test_add_func ("/sync-analyze/pair-offsets", test_pair_offsets);
  g_test_add_func ("/sync-analyze/single-receiver", test_single_receiver);
  g_test_add_func ("/sync-analyze/jump-at-window-boundary",
      test_jump_at_window_boundary);
  g_test_add_func ("/sync-analyze/jump-inside-window", test_jump_inside_window);
  g_test_add_func ("/sync-analyze/inserted-silence", test_inserted_silence);
  g_test_add_func ("/sync-analyze/leading-and-trailing-silence",
      test_trailing_and_leading_silence);
  g_test_add_func ("/sync-analyze/converging-ramp", test_converging_ramp);
  g_test_add_func ("/sync-analyze/underrun-flag", test_underrun_flag);
  g_test_add_func ("/sync-analyze/excursion-after-convergence",
      test_excursion_after_convergence);
  g_test_add_func ("/sync-analyze/host-stall-attribution", test_host_stall_attribution);
  g_test_add_func ("/sync-analyze/session-clock", test_session_clock);
  g_test_add_func ("/sync-analyze/never-converges", test_never_converges);
  g_test_add_func ("/sync-analyze/interpolation", test_interpolation);
  ret = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return ret;
}
