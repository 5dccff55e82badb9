/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-music-player.c: EchoMusicPlayer on the shipped pipelines/music.pipeline, with real
 * decoders and a real relay. The audio is recorded where it enters sharerelay (a pad
 * probe: every sample with its running time). WAV files are written here, so their
 * content is known sample for sample. It proves that:
 *  - two tracks join without a gap: from the first loud sample to the last there is no
 *    run of silence longer than a sine's zero crossing, the loud span is the two tracks'
 *    length, and started/ended come in order, on the main thread;
 *  - pause silences the output and freezes the position; resume continues where it
 *    stopped: the loud audio in total is the track's length (nothing lost or repeated);
 *  - seek jumps (the second half's frequency is heard, the position follows);
 *  - the volume scales the output (50 -> half the amplitude);
 *  - a file that is not audio, and a missing one, reach `failed` (a queued one after the
 *    current item ended), and the player plays the next file afterwards; stop silences
 *    without callbacks;
 *  - an `echosyncsrc` receiver hears the session over loopback;
 *  - the factory's "music" kind: optional, values checked.
 * Durations are generous bounds of waits; assertions allow for fades and scheduling.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <gst/app/app.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "echo-music-player.h"

#define RATE 48000
#define SESSION "5f0c6d3e-8a51-4b8e-9c1f-2d7e4a6b9c01"
#define AMPLITUDE 0.5
#define LOUD 0.05
#define WAIT_S 20

/* ---------------------------------------------------------------------------------- */
/* Files                                                                                */

typedef double (*FreqFunc) (double t);

static double
freq_440 (double t)
{
  return 440.0;
}

static double
freq_660 (double t)
{
  return 660.0;
}

static double
freq_440_then_880 (double t)
{
  return t < 2.0 ? 440.0 : 880.0;
}

static void
put_le32 (guint8 * p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

/* A 48 kHz stereo 16-bit WAV of @seconds of a sine whose frequency @freq gives. */
static char *
write_wav (const char *dir, const char *name, double seconds, FreqFunc freq)
{
  char *path = g_build_filename (dir, name, NULL);
  guint32 frames = (guint32) (seconds * RATE);
  gsize size = 44 + (gsize) frames * 4;
  g_autofree guint8 *data = g_malloc0 (size);
  g_autoptr (GError) error = NULL;
  double phase = 0;
  guint32 i;

  memcpy (data, "RIFF", 4);
  put_le32 (data + 4, (guint32) size - 8);
  memcpy (data + 8, "WAVEfmt ", 8);
  put_le32 (data + 16, 16);
  data[20] = 1;                 /* PCM */
  data[22] = 2;                 /* channels */
  put_le32 (data + 24, RATE);
  put_le32 (data + 28, RATE * 4);
  data[32] = 4;                 /* block align */
  data[34] = 16;                /* bits */
  memcpy (data + 36, "data", 4);
  put_le32 (data + 40, frames * 4);
  for (i = 0; i < frames; i++) {
    gint16 v = (gint16) lrint (sin (phase) * AMPLITUDE * 32767);

    phase += 2 * G_PI * freq ((double) i / RATE) / RATE;
    data[44 + i * 4] = data[44 + i * 4 + 2] = v & 0xff;
    data[44 + i * 4 + 1] = data[44 + i * 4 + 3] = (v >> 8) & 0xff;
  }
  g_assert_true (g_file_set_contents (path, (const char *) data, size, &error));
  g_assert_no_error (error);
  return path;
}

static char *
uri_of (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *uri = g_filename_to_uri (path, NULL, &error);

  g_assert_no_error (error);
  return uri;
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);

    g_assert_cmpint (g_remove (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ---------------------------------------------------------------------------------- */
/* The recording at the relay's input                                                   */

typedef struct
{
  GstClockTime rt;              /* running time of its first sample */
  guint frames;
  double rms;                   /* of channel 0 */
  guint crossings;              /* rising zero crossings of channel 0 */
} Block;

typedef struct
{
  GMutex lock;
  GArray *samples;              /* float, channel 0, from the first loud buffer on */
  GArray *blocks;               /* of Block */
  gboolean started;
  float last;
} Recording;

static GstPadProbeReturn
on_relay_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Recording *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstEvent) seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstSegment *segment = NULL;
  GstMapInfo map;
  Block b = { 0, };
  const float *x;
  double sum = 0;
  guint i;

  if (seg_event != NULL)
    gst_event_parse_segment (seg_event, &segment);
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  x = (const float *) map.data;
  b.frames = map.size / 8;
  b.rt = segment != NULL ? gst_segment_to_running_time (segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf)) : GST_BUFFER_PTS (buf);
  g_mutex_lock (&r->lock);
  for (i = 0; i < b.frames; i++) {
    float v = x[i * 2];

    sum += (double) v * v;
    if (r->last < 0 && v >= 0)
      b.crossings++;
    r->last = v;
  }
  b.rms = b.frames > 0 ? sqrt (sum / b.frames) : 0;
  if (b.rms > LOUD)
    r->started = TRUE;
  if (r->started) {
    for (i = 0; i < b.frames; i++)
      g_array_append_val (r->samples, x[i * 2]);
  }
  g_array_append_val (r->blocks, b);
  g_mutex_unlock (&r->lock);
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

static void
recording_attach (Recording * r, EchoMusicPlayer * player)
{
  GstPipeline *pipeline = echo_music_player_get_pipeline (player);
  g_autoptr (GstElement) relay = gst_bin_get_by_name (GST_BIN (pipeline), "relay");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (relay, "sink");

  g_mutex_init (&r->lock);
  r->samples = g_array_new (FALSE, FALSE, sizeof (float));
  r->blocks = g_array_new (FALSE, FALSE, sizeof (Block));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_relay_buffer, r, NULL);
}

static void
recording_clear (Recording * r)
{
  g_array_unref (r->samples);
  g_array_unref (r->blocks);
  g_mutex_clear (&r->lock);
}

/* RMS and the frequency of channel 0 over the blocks in [from, to) of running time. */
static double
recording_rms (Recording * r, GstClockTime from, GstClockTime to, double *freq)
{
  double sum = 0;
  guint64 frames = 0, crossings = 0;
  guint i;

  g_mutex_lock (&r->lock);
  for (i = 0; i < r->blocks->len; i++) {
    const Block *b = &g_array_index (r->blocks, Block, i);

    if (b->rt < from || b->rt >= to)
      continue;
    sum += b->rms * b->rms * b->frames;
    frames += b->frames;
    crossings += b->crossings;
  }
  g_mutex_unlock (&r->lock);
  g_assert_cmpuint (frames, >, 0);
  if (freq != NULL)
    *freq = (double) crossings * RATE / frames;
  return sqrt (sum / frames);
}

/* Frames of the loud blocks. */
static guint64
recording_loud_frames (Recording * r)
{
  guint64 frames = 0;
  guint i;

  g_mutex_lock (&r->lock);
  for (i = 0; i < r->blocks->len; i++) {
    const Block *b = &g_array_index (r->blocks, Block, i);

    if (b->rms > LOUD)
      frames += b->frames;
  }
  g_mutex_unlock (&r->lock);
  return frames;
}

/* ---------------------------------------------------------------------------------- */
/* The player's callbacks                                                               */

typedef struct
{
  GPtrArray *log;               /* "started:ID", "ended:ID", "failed:ID" */
  GThread *main_thread;
} Calls;

static void
on_started (EchoMusicPlayer * player, const char *item, gpointer user_data)
{
  Calls *c = user_data;

  g_assert_true (g_thread_self () == c->main_thread);
  g_ptr_array_add (c->log, g_strdup_printf ("started:%s", item));
}

static void
on_ended (EchoMusicPlayer * player, const char *item, gpointer user_data)
{
  Calls *c = user_data;

  g_assert_true (g_thread_self () == c->main_thread);
  g_ptr_array_add (c->log, g_strdup_printf ("ended:%s", item));
}

static void
on_failed (EchoMusicPlayer * player, const char *item, const char *message,
    gpointer user_data)
{
  Calls *c = user_data;

  g_assert_true (g_thread_self () == c->main_thread);
  g_assert_nonnull (message);
  g_assert_cmpstr (message, !=, "");
  g_test_message ("failed %s: %s", item, message);
  g_ptr_array_add (c->log, g_strdup_printf ("failed:%s", item));
}

typedef struct
{
  EchoPipelineFactory *factory;
  EchoMusicPlayer *player;
  Calls calls;
  Recording rec;
  char *dir;
} Fixture;

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

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  EchoMusicPlayerCallbacks cb = { on_started, on_ended, on_failed, &f->calls };
  g_autoptr (GError) error = NULL;

  f->factory = shipped_factory ();
  f->calls.log = g_ptr_array_new_with_free_func (g_free);
  f->calls.main_thread = g_thread_self ();
  f->player = echo_music_player_new (f->factory, SESSION, NULL, FALSE, &cb, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->player);
  g_assert_cmpuint (echo_music_player_get_relay_port (f->player), >, 0);
  recording_attach (&f->rec, f->player);
  f->dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  echo_music_player_free (f->player);
  recording_clear (&f->rec);
  g_ptr_array_unref (f->calls.log);
  echo_pipeline_factory_free (f->factory);
  remove_dir (f->dir);
  g_free (f->dir);
}

static gboolean
logged (Fixture * f, const char *entry)
{
  guint i;

  for (i = 0; i < f->calls.log->len; i++) {
    if (strcmp (g_ptr_array_index (f->calls.log, i), entry) == 0)
      return TRUE;
  }
  return FALSE;
}

static void
wait_for (Fixture * f, const char *entry)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  while (!logged (f, entry)) {
    if (g_get_monotonic_time () > deadline)
      g_error ("no '%s' within %d s", entry, WAIT_S);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (2000);
  }
}

static void
spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < until) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (2000);
  }
}

static GstClockTime
now_rt (Fixture * f)
{
  return gst_element_get_current_running_time (GST_ELEMENT
      (echo_music_player_get_pipeline (f->player)));
}

static void
assert_log (Fixture * f, const char *const *expected)
{
  guint i;

  for (i = 0; expected[i] != NULL; i++) {
    g_assert_cmpuint (i, <, f->calls.log->len);
    g_assert_cmpstr (g_ptr_array_index (f->calls.log, i), ==, expected[i]);
  }
  g_assert_cmpuint (f->calls.log->len, ==, i);
}

/* ---------------------------------------------------------------------------------- */
/* Tests                                                                                */

static void
test_gapless (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 1.0, freq_440);
  g_autofree char *b = write_wav (f->dir, "b.wav", 1.0, freq_660);
  g_autofree char *ua = uri_of (a), *ub = uri_of (b);
  const char *const expected[] = { "started:A", "ended:A", "started:B", "ended:B", NULL };
  g_autoptr (GError) error = NULL;
  guint i, run = 0, max_run = 0, first = 0, last = 0;
  gboolean seen = FALSE;

  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  g_assert_no_error (error);
  g_assert_true (echo_music_player_queue_next (f->player, "B", ub, &error));
  g_assert_no_error (error);
  wait_for (f, "ended:B");
  spin (100);
  assert_log (f, expected);

  g_mutex_lock (&f->rec.lock);
  for (i = 0; i < f->rec.samples->len; i++) {
    float v = fabsf (g_array_index (f->rec.samples, float, i));

    if (v > LOUD) {
      if (!seen)
        first = i;
      seen = TRUE;
      last = i;
    }
  }
  g_assert_true (seen);
  for (i = first; i <= last; i++) {
    if (fabsf (g_array_index (f->rec.samples, float, i)) < 0.02f) {
      run++;
      max_run = MAX (max_run, run);
    } else {
      run = 0;
    }
  }
  g_mutex_unlock (&f->rec.lock);
  g_test_message ("loud span %u frames, longest quiet run %u frames", last - first + 1,
      max_run);
  /* a sine of amplitude 0.5 stays below 0.02 for about 1 sample around a crossing */
  g_assert_cmpuint (max_run, <=, 8);
  /* 2 s of audio; the 20 ms fade-in's first samples are quiet */
  g_assert_cmpuint (last - first + 1, >=, 2 * RATE - RATE / 40);
  g_assert_cmpuint (last - first + 1, <=, 2 * RATE + RATE / 100);
  g_assert_cmpint (echo_music_player_get_position_ms (f->player, NULL), ==, -1);
}

static void
test_pause_resume (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 3.0, freq_440);
  g_autofree char *ua = uri_of (a);
  g_autoptr (GError) error = NULL;
  g_autofree char *item = NULL;
  GstClockTime paused_at, resumed_at;
  gint64 p1, p2, p3;
  guint64 loud;

  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  wait_for (f, "started:A");
  spin (700);
  paused_at = now_rt (f);
  echo_music_player_pause (f->player);
  echo_music_player_pause (f->player);  /* idempotent */
  g_assert_true (echo_music_player_is_paused (f->player));
  spin (400);
  p1 = echo_music_player_get_position_ms (f->player, &item);
  g_assert_cmpstr (item, ==, "A");
  g_assert_cmpint (p1, >=, 500);
  g_assert_cmpint (p1, <=, 2000);
  spin (800);
  p2 = echo_music_player_get_position_ms (f->player, NULL);
  g_assert_cmpint (p2, ==, p1);
  resumed_at = now_rt (f);
  echo_music_player_resume (f->player);
  g_assert_false (echo_music_player_is_paused (f->player));
  spin (700);
  p3 = echo_music_player_get_position_ms (f->player, NULL);
  g_assert_cmpint (p3, >, p1 + 300);
  g_assert_cmpint (p3, <, p1 + 1200);
  wait_for (f, "ended:A");

  /* silent while paused (after the audio already fed and the fade), loud again after */
  g_assert_cmpfloat (recording_rms (&f->rec, paused_at + 300 * GST_MSECOND,
          resumed_at, NULL), <, 0.001);
  g_assert_cmpfloat (recording_rms (&f->rec, resumed_at + 300 * GST_MSECOND,
          resumed_at + 600 * GST_MSECOND, NULL), >, 0.3);
  /* nothing lost, nothing repeated: 3 s of loud audio (fades blur a block or two) */
  loud = recording_loud_frames (&f->rec);
  g_test_message ("loud frames %" G_GUINT64_FORMAT, loud);
  g_assert_cmpuint (loud, >=, 3 * RATE - RATE / 20);
  g_assert_cmpuint (loud, <=, 3 * RATE + RATE / 20);
}

static void
test_seek (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 4.0, freq_440_then_880);
  g_autofree char *ua = uri_of (a);
  g_autoptr (GError) error = NULL;
  GstClockTime before, seek_at;
  double freq = 0;
  gint64 pos;

  g_assert_false (echo_music_player_seek (f->player, 1000, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  wait_for (f, "started:A");
  before = now_rt (f);
  spin (500);
  recording_rms (&f->rec, before + 100 * GST_MSECOND, before + 400 * GST_MSECOND, &freq);
  g_assert_cmpfloat (fabs (freq - 440), <, 30);

  g_assert_false (echo_music_player_seek (f->player, -1, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  seek_at = now_rt (f);
  g_assert_true (echo_music_player_seek (f->player, 2500, &error));
  g_assert_no_error (error);
  spin (600);
  pos = echo_music_player_get_position_ms (f->player, NULL);
  g_assert_cmpint (pos, >=, 2500);
  g_assert_cmpint (pos, <=, 3300);
  recording_rms (&f->rec, seek_at + 350 * GST_MSECOND, seek_at + 600 * GST_MSECOND, &freq);
  g_assert_cmpfloat (fabs (freq - 880), <, 50);
  wait_for (f, "ended:A");
  /* started once: not again after the seek */
  g_assert_cmpuint (f->calls.log->len, ==, 2);
}

static void
test_volume (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 3.0, freq_440);
  g_autofree char *ua = uri_of (a);
  g_autoptr (GError) error = NULL;
  GstClockTime t0, t1;
  double full, half;

  g_assert_cmpuint (echo_music_player_get_volume (f->player), ==, 100);
  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  wait_for (f, "started:A");
  t0 = now_rt (f);
  spin (500);
  full = recording_rms (&f->rec, t0 + 100 * GST_MSECOND, t0 + 400 * GST_MSECOND, NULL);
  t1 = now_rt (f);
  echo_music_player_set_volume (f->player, 50);
  g_assert_cmpuint (echo_music_player_get_volume (f->player), ==, 50);
  spin (600);
  half = recording_rms (&f->rec, t1 + 200 * GST_MSECOND, t1 + 500 * GST_MSECOND, NULL);
  g_test_message ("rms at 100: %f, at 50: %f", full, half);
  g_assert_cmpfloat (full, >, AMPLITUDE / G_SQRT2 * 0.9);
  g_assert_cmpfloat (half / full, >, 0.45);
  g_assert_cmpfloat (half / full, <, 0.55);
  echo_music_player_set_volume (f->player, 1000);
  g_assert_cmpuint (echo_music_player_get_volume (f->player), ==, 100);
  echo_music_player_stop (f->player);
}

static void
test_failures (Fixture * f, gconstpointer data)
{
  g_autofree char *text = g_build_filename (f->dir, "notes.txt", NULL);
  g_autofree char *a = write_wav (f->dir, "a.wav", 0.5, freq_440);
  g_autofree char *missing = g_build_filename (f->dir, "missing.wav", NULL);
  g_autofree char *utext = NULL, *ua = uri_of (a), *umissing = NULL;
  const char *const expected[] = { "failed:T", "started:A", "ended:A", "failed:M",
    "started:A2", NULL
  };
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (text, "just some words, not a song\n", -1, NULL));
  utext = uri_of (text);
  umissing = uri_of (missing);

  /* refused up front: bad ids and URIs */
  g_assert_false (echo_music_player_play (f->player, "", ua, 0, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_music_player_play (f->player, "X", "rtsp://example/x", 0, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_music_player_play (f->player, "X", ua, -5, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);

  /* not audio: failed, and the player goes on */
  g_assert_true (echo_music_player_play (f->player, "T", utext, 0, &error));
  g_assert_no_error (error);
  wait_for (f, "failed:T");
  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  /* a missing file queued next fails when A has ended */
  g_assert_true (echo_music_player_queue_next (f->player, "M", umissing, &error));
  wait_for (f, "failed:M");
  /* queued with nothing playing: plays at once */
  g_assert_true (echo_music_player_queue_next (f->player, "A2", ua, &error));
  wait_for (f, "started:A2");
  echo_music_player_stop (f->player);
  spin (800);
  assert_log (f, expected);
  g_assert_cmpint (echo_music_player_get_position_ms (f->player, NULL), ==, -1);
}

static void
test_stop_and_replace (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 3.0, freq_440);
  g_autofree char *b = write_wav (f->dir, "b.wav", 0.5, freq_660);
  g_autofree char *ua = uri_of (a), *ub = uri_of (b);
  const char *const expected[] = { "started:A", "started:B", "ended:B", NULL };
  g_autoptr (GError) error = NULL;
  GstClockTime stopped_at;
  g_autofree char *item = NULL;

  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  wait_for (f, "started:A");
  spin (300);
  /* play replaces: A never ends */
  g_assert_true (echo_music_player_play (f->player, "B", ub, 0, &error));
  g_assert_true (echo_music_player_queue_next (f->player, "C", ua, &error));
  echo_music_player_clear_next (f->player);
  wait_for (f, "ended:B");
  spin (200);
  assert_log (f, expected);

  g_assert_true (echo_music_player_play (f->player, "A", ua, 1000, &error));
  g_assert_cmpint (echo_music_player_get_position_ms (f->player, &item), >=, 1000);
  g_assert_cmpstr (item, ==, "A");
  wait_for (f, "started:A");
  spin (300);
  stopped_at = now_rt (f);
  echo_music_player_stop (f->player);
  spin (700);
  g_assert_cmpfloat (recording_rms (&f->rec, stopped_at + 250 * GST_MSECOND,
          stopped_at + 600 * GST_MSECOND, NULL), <, 0.001);
  g_assert_cmpint (echo_music_player_get_position_ms (f->player, NULL), ==, -1);
  g_assert_false (logged (f, "ended:A"));
}

/* echosyncsrc ! appsink: loud buffers arrive while a track plays */
static GstFlowReturn
on_received (GstAppSink * sink, gpointer user_data)
{
  gint *loud = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  GstMapInfo map;
  double sum = 0;
  gsize i, n;

  if (sample == NULL)
    return GST_FLOW_FLUSHING;
  buf = gst_sample_get_buffer (sample);
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  n = map.size / sizeof (float);
  for (i = 0; i < n; i++)
    sum += (double) ((const float *) map.data)[i] * ((const float *) map.data)[i];
  if (n > 0 && sqrt (sum / n) > LOUD)
    g_atomic_int_inc (loud);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

static void
test_receiver (Fixture * f, gconstpointer data)
{
  g_autofree char *a = write_wav (f->dir, "a.wav", 2.0, freq_440);
  g_autofree char *ua = uri_of (a);
  g_autofree char *description = g_strdup_printf ("echosyncsrc "
      "uri=echo://127.0.0.1:%u/%s ! appsink name=sink sync=false",
      echo_music_player_get_relay_port (f->player), SESSION);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) receiver = NULL;
  g_autoptr (GstElement) sink = NULL;
  GstAppSinkCallbacks callbacks = {.new_sample = on_received };
  gint loud = 0;

  receiver = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &error);
  g_assert_no_error (error);
  gst_object_ref_sink (receiver);
  sink = gst_bin_get_by_name (GST_BIN (receiver), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, &loud, NULL);
  g_assert_cmpint (gst_element_set_state (receiver, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  spin (500);                   /* subscribed before the track starts */
  g_assert_true (echo_music_player_play (f->player, "A", ua, 0, &error));
  wait_for (f, "ended:A");
  spin (500);
  gst_element_set_state (receiver, GST_STATE_NULL);
  g_test_message ("loud buffers received: %d", g_atomic_int_get (&loud));
  g_assert_cmpint (g_atomic_int_get (&loud), >, 20);
}

static void
test_factory_kind (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  g_autoptr (GHashTable) values = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPipeline) pipeline = NULL;
  g_autofree char *share_only = NULL;
  g_autofree char *share_src = NULL;
  g_autofree char *share_dst = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (EchoPipelineFactory) share_factory = NULL;
  EchoMusicPlayer *player;

  g_assert_nonnull (echo_pipeline_factory_get_path (factory, ECHO_PIPELINE_KIND_MUSIC));
  g_hash_table_insert (values, "session", "ABC");
  g_hash_table_insert (values, "latency", "100");
  g_hash_table_insert (values, "token", "");
  g_hash_table_insert (values, "announce", "false");
  pipeline = echo_pipeline_factory_build (factory, "music", values, &error);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_assert_null (pipeline);
  g_clear_error (&error);
  g_hash_table_insert (values, "session", "1 ! fakesink");
  g_assert_null (echo_pipeline_factory_build (factory, "music", values, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_hash_table_insert (values, "session", SESSION);
  pipeline = echo_pipeline_factory_build (factory, "music", values, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pipeline);

  /* music.pipeline is optional: a share-only directory loads, and has no player */
  share_only = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  share_src = g_build_filename (g_getenv ("ECHO_SOURCE_ROOT"), "pipelines",
      "share.pipeline", NULL);
  share_dst = g_build_filename (share_only, "share.pipeline", NULL);
  g_assert_true (g_file_get_contents (share_src, &contents, NULL, NULL));
  g_assert_true (g_file_set_contents (share_dst, contents, -1, NULL));
  share_factory = echo_pipeline_factory_new (share_only, &error);
  g_assert_no_error (error);
  g_assert_null (echo_pipeline_factory_get_path (share_factory, "music"));
  player = echo_music_player_new (share_factory, SESSION, NULL, FALSE, NULL, &error);
  g_assert_null (player);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND);
  remove_dir (share_only);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/music-player/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("gapless", test_gapless);
  ADD ("pause-resume", test_pause_resume);
  ADD ("seek", test_seek);
  ADD ("volume", test_volume);
  ADD ("failures", test_failures);
  ADD ("stop-and-replace", test_stop_and_replace);
  ADD ("receiver", test_receiver);
#undef ADD
  g_test_add_func ("/music-player/factory-kind", test_factory_kind);

  return g_test_run ();
}
