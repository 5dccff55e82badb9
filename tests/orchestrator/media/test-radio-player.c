/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-radio-player.c: EchoRadioPlayer on the shipped pipelines/radio.pipeline with real
 * parts: a real Icecast 2.4 on loopback (tests/lib/icecast.h) fed by a real ffmpeg, MP3
 * and Ogg/Opus files made by ffmpeg and pushed in chunks at their real-time rate, and a
 * real `echosyncsrc` receiver whose output is analysed in 10 ms blocks (energy,
 * frequency by zero crossings, the largest step between two consecutive samples). It
 * proves that:
 *  - a pulled Icecast station is heard by the receiver, and an /admin/metadata title
 *    update arrives through the `title` callback with the station's ICY headers;
 *  - killing the source client makes the player play its fallback file (another tone)
 *    with no gap and no click, reconnect with backoff, and switch back when the source
 *    is back; the receiver hears one continuous stream throughout;
 *  - a pushed MP3 plays, and a title pushed between two tones is announced when its
 *    tone is rendered: the test prints the delay between the callback and the render
 *    time of the new tone at the receiver;
 *  - random bytes injected into a pushed MP3 never reach the receiver as noise;
 *  - a pushed Ogg/Opus stream plays; bad URLs, headers and content types are refused.
 * Skipped when icecast2 or ffmpeg is missing. Durations are generous bounds of waits;
 * no timing threshold decides a result except what the behaviour itself guarantees.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/app.h>
#include <gst/gst.h>
#include <math.h>
#include <string.h>

#include "echo-radio-player.h"
#include "icecast.h"

#define RATE 48000
#define SESSION "7d3f0e2a-5b6c-4d8e-9f10-a1b2c3d4e5f6"
#define MOUNT "/live.mp3"
#define WAIT_S 30
#define BLOCK_FRAMES 480
#define LOUD 0.02
/* the largest step between consecutive samples of a clean tone: a 880 Hz sine of
 * amplitude 0.5 moves at most 0.058 per sample; noise or a click jumps far more */
#define CLICK_STEP 0.2

/* ---------------------------------------------------------------------------------- */
/* The receiver: echosyncsrc ! appsink, analysed in blocks                              */

typedef struct
{
  GstClockTime render;          /* session clock time its first sample is rendered */
  double rms;
  guint crossings;
  double max_step;
} Block;

typedef struct
{
  GstElement *pipeline;
  GMutex lock;
  GArray *blocks;               /* of Block */
  float last;
  gboolean have_last;
  /* a partial block */
  Block cur;
  guint cur_frames;
  double cur_sum;
} Receiver;

static GstFlowReturn
on_received (GstAppSink * sink, gpointer user_data)
{
  Receiver *r = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  GstMapInfo map;
  GstClockTime base;
  const float *x;
  gsize n, i;

  if (sample == NULL)
    return GST_FLOW_FLUSHING;
  buf = gst_sample_get_buffer (sample);
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  base = gst_element_get_base_time (r->pipeline);
  x = (const float *) map.data;
  n = map.size / (2 * sizeof (float));
  g_mutex_lock (&r->lock);
  for (i = 0; i < n; i++) {
    float v = x[i * 2];

    if (r->cur_frames == 0) {
      memset (&r->cur, 0, sizeof (r->cur));
      r->cur_sum = 0;
      r->cur.render = base + GST_BUFFER_PTS (buf) + gst_util_uint64_scale_int (i,
          GST_SECOND, RATE);
    }
    if (r->have_last) {
      r->cur.max_step = MAX (r->cur.max_step, fabs ((double) v - r->last));
      if (r->last < 0 && v >= 0)
        r->cur.crossings++;
    }
    r->last = v;
    r->have_last = TRUE;
    r->cur_sum += (double) v * v;
    if (++r->cur_frames == BLOCK_FRAMES) {
      r->cur.rms = sqrt (r->cur_sum / BLOCK_FRAMES);
      g_array_append_val (r->blocks, r->cur);
      r->cur_frames = 0;
    }
  }
  g_mutex_unlock (&r->lock);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

static void
receiver_start (Receiver * r, guint16 port)
{
  g_autofree char *description = g_strdup_printf ("echosyncsrc "
      "uri=echo://127.0.0.1:%u/%s ! appsink name=sink sync=false", port, SESSION);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) sink = NULL;
  GstAppSinkCallbacks callbacks = {.new_sample = on_received };

  memset (r, 0, sizeof (*r));
  g_mutex_init (&r->lock);
  r->blocks = g_array_new (FALSE, FALSE, sizeof (Block));
  r->pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &error);
  g_assert_no_error (error);
  gst_object_ref_sink (r->pipeline);
  sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, r, NULL);
  g_assert_cmpint (gst_element_set_state (r->pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
}

static void
receiver_stop (Receiver * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->pipeline);
  g_array_unref (r->blocks);
  g_mutex_clear (&r->lock);
}

/* The index of the first block rendered at or after @t. */
static guint
receiver_index (Receiver * r, GstClockTime t)
{
  guint i;

  for (i = 0; i < r->blocks->len; i++) {
    if (g_array_index (r->blocks, Block, i).render >= t)
      break;
  }
  return i;
}

typedef struct
{
  double rms, freq, max_step;
  guint blocks;
  guint longest_quiet;          /* blocks */
} Span;

/* Analysis of the blocks rendered in [from, to). */
static Span
receiver_span (Receiver * r, GstClockTime from, GstClockTime to)
{
  Span s = { 0, };
  double sum = 0;
  guint64 crossings = 0;
  guint i, quiet = 0;

  g_mutex_lock (&r->lock);
  for (i = receiver_index (r, from); i < r->blocks->len; i++) {
    const Block *b = &g_array_index (r->blocks, Block, i);

    if (b->render >= to)
      break;
    sum += b->rms * b->rms;
    crossings += b->crossings;
    s.max_step = MAX (s.max_step, b->max_step);
    s.blocks++;
    quiet = b->rms < LOUD ? quiet + 1 : 0;
    s.longest_quiet = MAX (s.longest_quiet, quiet);
  }
  g_mutex_unlock (&r->lock);
  if (s.blocks > 0) {
    s.rms = sqrt (sum / s.blocks);
    s.freq = (double) crossings * RATE / (s.blocks * BLOCK_FRAMES);
  }
  return s;
}

/* The render time of the first block from @from on whose frequency (over this block
 * and the next 4) is within 15% of @freq, or GST_CLOCK_TIME_NONE. */
static GstClockTime
receiver_find_tone (Receiver * r, GstClockTime from, double freq)
{
  GstClockTime found = GST_CLOCK_TIME_NONE;
  guint i, k;

  g_mutex_lock (&r->lock);
  for (i = receiver_index (r, from); i + 5 <= r->blocks->len; i++) {
    guint64 crossings = 0;
    gboolean loud = TRUE;

    for (k = 0; k < 5; k++) {
      crossings += g_array_index (r->blocks, Block, i + k).crossings;
      loud = loud && g_array_index (r->blocks, Block, i + k).rms > LOUD;
    }
    if (loud && fabs ((double) crossings * RATE / (5 * BLOCK_FRAMES) - freq) < freq * 0.15) {
      found = g_array_index (r->blocks, Block, i).render;
      break;
    }
  }
  g_mutex_unlock (&r->lock);
  return found;
}

/* ---------------------------------------------------------------------------------- */
/* The player under test                                                                */

typedef struct
{
  EchoPipelineFactory *factory;
  EchoRadioPlayer *player;
  GThread *main_thread;
  GPtrArray *states;            /* "state:detail" */
  GPtrArray *titles;            /* GstTagList */
  GArray *title_times;          /* GstClockTime: the relay's clock at each title */
  guint failures;
  char *dir;
  Receiver rx;
} Fixture;

static void
on_title (EchoRadioPlayer * player, const GstTagList * tags, gpointer data)
{
  Fixture *f = data;
  GstPipeline *pipeline = echo_radio_player_get_pipeline (player);
  g_autoptr (GstClock) clock = gst_pipeline_get_clock (pipeline);
  GstClockTime now = gst_clock_get_time (clock);
  g_autofree char *text = gst_tag_list_to_string (tags);

  g_assert_true (g_thread_self () == f->main_thread);
  g_test_message ("title: %s", text);
  g_ptr_array_add (f->titles, gst_tag_list_copy (tags));
  g_array_append_val (f->title_times, now);
}

static void
on_state (EchoRadioPlayer * player, EchoRadioPlayerState state, const char *detail,
    gpointer data)
{
  Fixture *f = data;

  g_assert_true (g_thread_self () == f->main_thread);
  g_test_message ("state: %s (%s)", echo_radio_player_state_to_string (state), detail);
  g_ptr_array_add (f->states, g_strdup (echo_radio_player_state_to_string (state)));
}

static void
on_failed (EchoRadioPlayer * player, const GError * error, gpointer data)
{
  Fixture *f = data;

  g_test_message ("failed: %s", error->message);
  f->failures++;
}

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

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  EchoRadioPlayerCallbacks cb = { on_title, on_state, on_failed };
  g_autoptr (GError) error = NULL;

  f->factory = shipped_factory ();
  f->main_thread = g_thread_self ();
  f->states = g_ptr_array_new_with_free_func (g_free);
  f->titles = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_tag_list_unref);
  f->title_times = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  f->player = echo_radio_player_new (f->factory, SESSION, NULL, FALSE, &cb, f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->player);
  g_assert_cmpuint (echo_radio_player_get_relay_port (f->player), >, 0);
  f->dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  receiver_start (&f->rx, echo_radio_player_get_relay_port (f->player));
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  receiver_stop (&f->rx);
  echo_radio_player_free (f->player);
  g_ptr_array_unref (f->states);
  g_ptr_array_unref (f->titles);
  g_array_unref (f->title_times);
  echo_pipeline_factory_free (f->factory);
  remove_dir (f->dir);
  g_free (f->dir);
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

static guint
count_states (Fixture * f, const char *state)
{
  guint i, n = 0;

  for (i = 0; i < f->states->len; i++)
    n += strcmp (g_ptr_array_index (f->states, i), state) == 0;
  return n;
}

/* Spins until the `state` callback said @state at least @count times. */
static void
wait_state (Fixture * f, const char *state, guint count)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  while (count_states (f, state) < count) {
    if (g_get_monotonic_time () > deadline)
      g_error ("no state '%s' (#%u) within %d s", state, count, WAIT_S);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (2000);
  }
}

/* Spins until a title with @title arrived; returns its index. */
static guint
wait_title (Fixture * f, const char *title)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  for (;;) {
    guint i;

    for (i = 0; i < f->titles->len; i++) {
      g_autofree char *t = NULL;

      if (gst_tag_list_get_string (g_ptr_array_index (f->titles, i), GST_TAG_TITLE, &t)
          && strcmp (t, title) == 0)
        return i;
    }
    if (g_get_monotonic_time () > deadline)
      g_error ("no title '%s' within %d s", title, WAIT_S);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (2000);
  }
}

/* The relay's clock now: the session clock the receiver follows. */
static GstClockTime
session_now (Fixture * f)
{
  g_autoptr (GstClock) clock =
      gst_pipeline_get_clock (echo_radio_player_get_pipeline (f->player));

  return gst_clock_get_time (clock);
}

/* ---------------------------------------------------------------------------------- */
/* Media made by ffmpeg                                                                 */

static gboolean
have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  return path != NULL;
}

/* Runs ffmpeg to make @name in the fixture's directory from lavfi @source. */
static char *
make_media (Fixture * f, const char *name, const char *source, const char *const *codec)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  gint status = 0;
  gsize i;

  g_ptr_array_add (argv, "ffmpeg");
  g_ptr_array_add (argv, "-nostdin");
  g_ptr_array_add (argv, "-loglevel");
  g_ptr_array_add (argv, "error");
  g_ptr_array_add (argv, "-y");
  g_ptr_array_add (argv, "-f");
  g_ptr_array_add (argv, "lavfi");
  g_ptr_array_add (argv, "-i");
  g_ptr_array_add (argv, (gpointer) source);
  for (i = 0; codec[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) codec[i]);
  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH
          | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("ffmpeg failed making %s: %s", name, err);
  return path;
}

/* MP3 for concatenation: no ID3 tag, no Xing frame, so files join frame by frame. */
static const char *const mp3_codec[] = { "-ac", "2", "-c:a", "libmp3lame", "-b:a",
  "128k", "-id3v2_version", "0", "-write_xing", "0", "-f", "mp3", NULL
};

static char *
make_tone_mp3 (Fixture * f, const char *name, guint freq, double seconds)
{
  g_autofree char *source = g_strdup_printf ("sine=frequency=%u:sample_rate=48000:"
      "duration=%g,volume=3", freq, seconds);

  return make_media (f, name, source, mp3_codec);
}

static GBytes *
read_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

/* A 48 kHz stereo 16-bit WAV of @seconds of a @freq sine, amplitude 0.5. */
static char *
write_wav (Fixture * f, const char *name, double seconds, double freq)
{
  char *path = g_build_filename (f->dir, name, NULL);
  guint32 frames = (guint32) (seconds * RATE);
  gsize size = 44 + (gsize) frames * 4;
  g_autofree guint8 *d = g_malloc0 (size);
  guint32 i;

  memcpy (d, "RIFF", 4);
  GST_WRITE_UINT32_LE (d + 4, size - 8);
  memcpy (d + 8, "WAVEfmt ", 8);
  GST_WRITE_UINT32_LE (d + 16, 16);
  GST_WRITE_UINT16_LE (d + 20, 1);
  GST_WRITE_UINT16_LE (d + 22, 2);
  GST_WRITE_UINT32_LE (d + 24, RATE);
  GST_WRITE_UINT32_LE (d + 28, RATE * 4);
  GST_WRITE_UINT16_LE (d + 32, 4);
  GST_WRITE_UINT16_LE (d + 34, 16);
  memcpy (d + 36, "data", 4);
  GST_WRITE_UINT32_LE (d + 40, frames * 4);
  for (i = 0; i < frames; i++) {
    gint16 v = (gint16) lrint (sin (2 * G_PI * freq * i / RATE) * 0.5 * 32767);

    GST_WRITE_UINT16_LE (d + 44 + i * 4, (guint16) v);
    GST_WRITE_UINT16_LE (d + 44 + i * 4 + 2, (guint16) v);
  }
  g_assert_true (g_file_set_contents (path, (const char *) d, size, NULL));
  return path;
}

/* Pushes @bytes in pieces at @bytes_per_s (real time for the stream), spinning the
 * main context; @inject (optional) is pushed once after @inject_at bytes. */
static void
push_paced (Fixture * f, GBytes * bytes, guint bytes_per_s, gsize inject_at,
    GBytes * inject)
{
  gsize size = g_bytes_get_size (bytes), off = 0;
  const gsize piece = bytes_per_s / 20;        /* every 50 ms */
  gint64 start = g_get_monotonic_time ();
  gboolean injected = inject == NULL;

  while (off < size) {
    gsize n = MIN (piece, size - off);
    g_autoptr (GBytes) part = NULL;
    gint64 due;

    if (!injected && off + n > inject_at) {
      n = inject_at > off ? inject_at - off : 0;
      if (n == 0) {
        echo_radio_player_push_bytes (f->player, inject);
        injected = TRUE;
        continue;
      }
    }
    part = g_bytes_new_from_bytes (bytes, off, n);
    echo_radio_player_push_bytes (f->player, part);
    off += n;
    due = start + (gint64) off * G_TIME_SPAN_SECOND / bytes_per_s;
    while (g_get_monotonic_time () < due) {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  }
}

/* ---------------------------------------------------------------------------------- */
/* Pull from a real Icecast                                                             */

typedef struct
{
  EchoIcecast *ic;
  GSubprocess *source;          /* ffmpeg, restartable */
} Station;

static void
station_start_source (Station * s, guint freq)
{
  g_autofree char *target = g_strdup_printf ("icecast://source:%s@127.0.0.1:%u" MOUNT,
      echo_icecast_get_source_password (s->ic), echo_icecast_get_port (s->ic));
  g_autofree char *sine = g_strdup_printf ("sine=frequency=%u:sample_rate=44100,volume=3",
      freq);
  g_autoptr (GError) error = NULL;
  /* bounded, so it cannot outlive a crashed test for long */
  const char *argv[] = { "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
    "-re", "-f", "lavfi", "-t", "180", "-i", sine, "-ac", "2", "-c:a", "libmp3lame",
    "-b:a", "128k", "-content_type", "audio/mpeg", "-ice_name", "Echo Test Radio",
    "-ice_genre", "Tones", "-f", "mp3", target, NULL
  };

  s->source = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error (error);
  g_assert_true (echo_icecast_wait_mount (s->ic, MOUNT, WAIT_S * 1000, &error));
  g_assert_no_error (error);
}

static void
station_kill_source (Station * s)
{
  g_subprocess_force_exit (s->source);
  g_subprocess_wait (s->source, NULL, NULL);
  g_clear_object (&s->source);
}

static gboolean
station_start (Station * s)
{
  g_autofree char *icecast = echo_icecast_find_binary ();
  g_autoptr (GError) error = NULL;

  memset (s, 0, sizeof (*s));
  if (icecast == NULL || !have_program ("ffmpeg")) {
    g_test_skip (icecast == NULL ? "icecast2 is not installed" :
        "ffmpeg is not installed");
    return FALSE;
  }
  s->ic = echo_icecast_new ();
  if (!echo_icecast_start (s->ic, &error)) {
    g_autofree char *logs = echo_icecast_get_logs (s->ic);

    g_error ("Icecast did not start: %s\n%s", error->message, logs);
  }
  station_start_source (s, 440);
  return TRUE;
}

static void
station_stop (Station * s)
{
  if (s->source != NULL)
    station_kill_source (s);
  if (s->ic != NULL)
    echo_icecast_free (s->ic);
}

static void
test_pull_icecast (Fixture * f, gconstpointer data)
{
  Station st;
  g_autofree char *url = NULL;
  const char *const headers[] = { "X-Echo-Test: 1", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL, *artist = NULL, *org = NULL, *genre = NULL;
  g_autoptr (GstTagList) now_playing = NULL;
  GstClockTime t0;
  Span s;
  guint i;

  if (!station_start (&st))
    return;
  url = echo_icecast_get_url (st.ic, MOUNT);
  g_assert_true (echo_radio_player_play_url (f->player, url, headers, &error));
  g_assert_no_error (error);
  wait_state (f, "playing", 1);
  spin (1000);
  t0 = session_now (f);
  spin (1500);
  s = receiver_span (&f->rx, t0, t0 + GST_SECOND);
  g_test_message ("receiver: rms %.3f, %.0f Hz, max step %.3f", s.rms, s.freq,
      s.max_step);
  g_assert_cmpuint (s.blocks, >, 50);
  g_assert_cmpfloat (s.rms, >, 0.1);
  g_assert_cmpfloat (fabs (s.freq - 440), <, 30);
  g_assert_cmpuint (s.longest_quiet, ==, 0);

  g_assert_true (echo_icecast_set_song (st.ic, MOUNT, "Artist One - Song A", "UTF-8",
          &error));
  g_assert_no_error (error);
  i = wait_title (f, "Song A");
  g_assert_true (gst_tag_list_get_string (g_ptr_array_index (f->titles, i),
          GST_TAG_ARTIST, &artist));
  g_assert_cmpstr (artist, ==, "Artist One");
  g_assert_true (gst_tag_list_get_string (g_ptr_array_index (f->titles, i),
          GST_TAG_ORGANIZATION, &org));
  g_assert_cmpstr (org, ==, "Echo Test Radio");
  g_assert_true (gst_tag_list_get_string (g_ptr_array_index (f->titles, i),
          GST_TAG_GENRE, &genre));
  g_assert_cmpstr (genre, ==, "Tones");
  now_playing = echo_radio_player_get_title (f->player);
  g_assert_nonnull (now_playing);
  g_assert_true (gst_tag_list_get_string (now_playing, GST_TAG_TITLE, &title));
  g_assert_cmpstr (title, ==, "Song A");
  g_assert_cmpint (echo_radio_player_get_state (f->player), ==,
      ECHO_RADIO_PLAYER_STATE_PLAYING);
  g_assert_cmpuint (f->failures, ==, 0);
  station_stop (&st);
}

static void
test_failover (Fixture * f, gconstpointer data)
{
  Station st;
  g_autofree char *url = NULL;
  g_autofree char *fallback = NULL;
  g_autoptr (GError) error = NULL;
  GstClockTime t_kill, t_fallback, t_back, t_end;
  Span before, during, after, whole;

  if (!station_start (&st))
    return;
  fallback = write_wav (f, "fallback.wav", 1.5, 660);
  echo_radio_player_set_fallback_file (f->player, fallback);
  url = echo_icecast_get_url (st.ic, MOUNT);
  g_assert_true (echo_radio_player_play_url (f->player, url, NULL, &error));
  wait_state (f, "playing", 1);
  spin (1500);

  /* the source dies: its audio plays out, then the fallback (a looping 660 Hz file) */
  t_kill = session_now (f);
  station_kill_source (&st);
  wait_state (f, "reconnecting", 1);
  wait_state (f, "fallback", 1);
  t_fallback = session_now (f);
  spin (3500);                  /* several reconnection attempts, the file loops twice */
  g_assert_cmpuint (count_states (f, "reconnecting"), >=, 2);

  /* the source is back: the player reconnects and switches back */
  station_start_source (&st, 440);
  wait_state (f, "playing", 2);
  t_back = session_now (f);
  spin (2500);
  t_end = session_now (f);

  before = receiver_span (&f->rx, t_kill - GST_SECOND, t_kill);
  during = receiver_span (&f->rx, t_fallback + 500 * GST_MSECOND,
      t_fallback + 3000 * GST_MSECOND);
  after = receiver_span (&f->rx, t_back + 1000 * GST_MSECOND, t_end);
  whole = receiver_span (&f->rx, t_kill - GST_SECOND, t_end);
  g_test_message ("before: %.0f Hz rms %.3f; fallback: %.0f Hz rms %.3f; after: %.0f Hz "
      "rms %.3f; whole: longest quiet run %u ms, max step %.3f", before.freq,
      before.rms, during.freq, during.rms, after.freq, after.rms,
      whole.longest_quiet * 10, whole.max_step);
  g_assert_cmpfloat (fabs (before.freq - 440), <, 30);
  g_assert_cmpfloat (fabs (during.freq - 660), <, 40);
  g_assert_cmpfloat (fabs (after.freq - 440), <, 30);
  g_assert_cmpfloat (during.rms, >, 0.2);
  /* continuous: the switches are fades of 20 ms out and in, the file's loop a splice */
  g_assert_cmpuint (whole.longest_quiet, <=, 8);
  g_assert_cmpfloat (whole.max_step, <, CLICK_STEP);
  g_assert_cmpuint (f->failures, ==, 0);
  station_stop (&st);
}

/* ---------------------------------------------------------------------------------- */
/* Push                                                                                 */

static void
test_push_titles (Fixture * f, gconstpointer data)
{
  g_autofree char *a = NULL, *b = NULL;
  g_autoptr (GBytes) ba = NULL, bb = NULL;
  g_autoptr (GstTagList) first = gst_tag_list_new (GST_TAG_TITLE, "Tone A",
      GST_TAG_ARTIST, "Sine", GST_TAG_ORGANIZATION, "Echo Push", NULL);
  g_autoptr (GstTagList) second = gst_tag_list_new (GST_TAG_TITLE, "Tone B",
      GST_TAG_ARTIST, "Sine", GST_TAG_ORGANIZATION, "Echo Push", NULL);
  g_autoptr (GError) error = NULL;
  GstClockTime callback_at, rendered_at, pushed_at;
  guint i;
  double delay_ms;

  if (!have_program ("ffmpeg")) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  a = make_tone_mp3 (f, "a.mp3", 440, 3.0);
  b = make_tone_mp3 (f, "b.mp3", 880, 3.0);
  ba = read_file (a);
  bb = read_file (b);

  g_assert_true (echo_radio_player_push_open (f->player, "audio/mpeg", &error));
  g_assert_no_error (error);
  echo_radio_player_push_metadata (f->player, first);
  push_paced (f, ba, 16000, 0, NULL);
  i = wait_title (f, "Tone A");
  pushed_at = session_now (f);
  echo_radio_player_push_metadata (f->player, second);
  push_paced (f, bb, 16000, 0, NULL);
  i = wait_title (f, "Tone B");
  callback_at = g_array_index (f->title_times, GstClockTime, i);
  spin (500);
  rendered_at = receiver_find_tone (&f->rx, pushed_at, 880);
  g_assert_true (GST_CLOCK_TIME_IS_VALID (rendered_at));
  delay_ms = ((double) callback_at - (double) rendered_at) / GST_MSECOND;
  /* print the figure; the bound only catches a title tied to the wrong audio */
  g_print ("# title delay: callback %.1f ms after the tagged audio was rendered at the "
      "receiver (negative: before; MP3 encoder delay of the new tone ~ -24 ms)\n",
      delay_ms);
  g_assert_cmpfloat (fabs (delay_ms), <, 400);
  g_assert_cmpuint (f->failures, ==, 0);

  /* the source leaves: what it sent plays out, then the fallback (silence) */
  echo_radio_player_push_close (f->player);
  wait_state (f, "fallback", 1);
}

static void
test_push_garbage (Fixture * f, gconstpointer data)
{
  g_autofree char *a = NULL;
  g_autoptr (GBytes) ba = NULL, junk = NULL;
  g_autoptr (GError) error = NULL;
  GRand *rand = g_rand_new_with_seed (6);
  guint8 noise[3000];
  GstClockTime t0, t1;
  Span s;
  gsize i;

  if (!have_program ("ffmpeg")) {
    g_test_skip ("ffmpeg is not installed");
    g_rand_free (rand);
    return;
  }
  a = make_tone_mp3 (f, "a.mp3", 440, 6.0);
  ba = read_file (a);
  for (i = 0; i < sizeof (noise); i++)
    noise[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  junk = g_bytes_new (noise, sizeof (noise));

  g_assert_true (echo_radio_player_push_open (f->player, "audio/mpeg; charset=x", &error));
  g_assert_no_error (error);
  t0 = session_now (f);
  /* random bytes in the middle of a frame, 3 s in */
  push_paced (f, ba, 16000, 48000 + 123, junk);
  /* what was pushed last plays out within the prebuffer */
  t1 = session_now (f);
  spin (1000);
  wait_state (f, "playing", 1);
  s = receiver_span (&f->rx, t0 + GST_SECOND, t1);
  g_test_message ("with garbage: rms %.3f, %.0f Hz, longest quiet run %u ms, max step "
      "%.3f", s.rms, s.freq, s.longest_quiet * 10, s.max_step);
  g_assert_cmpfloat (fabs (s.freq - 440), <, 30);
  g_assert_cmpfloat (s.max_step, <, CLICK_STEP);
  /* at most the concealed stretch around the bad frame is quiet */
  g_assert_cmpuint (s.longest_quiet, <=, 15);
  g_assert_cmpuint (f->failures, ==, 0);
}

static void
test_push_opus (Fixture * f, gconstpointer data)
{
  static const char *const opus_codec[] = { "-ac", "2", "-c:a", "libopus", "-b:a",
    "96k", "-f", "ogg", NULL
  };
  g_autofree char *path = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  GstClockTime t0;
  Span s;

  if (!have_program ("ffmpeg")) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  path = make_media (f, "a.opus", "sine=frequency=660:sample_rate=48000:duration=4,"
      "volume=3", opus_codec);
  bytes = read_file (path);
  g_assert_true (echo_radio_player_push_open (f->player, "application/ogg", &error));
  g_assert_no_error (error);
  push_paced (f, bytes, (guint) (g_bytes_get_size (bytes) / 4), 0, NULL);
  t0 = session_now (f);
  spin (200);
  s = receiver_span (&f->rx, t0 - 2 * GST_SECOND, t0);
  g_test_message ("ogg/opus: rms %.3f, %.0f Hz, max step %.3f", s.rms, s.freq,
      s.max_step);
  g_assert_cmpfloat (s.rms, >, 0.1);
  g_assert_cmpfloat (fabs (s.freq - 660), <, 40);
  g_assert_cmpfloat (s.max_step, <, CLICK_STEP);
  wait_state (f, "playing", 1);
}

/* ---------------------------------------------------------------------------------- */
/* Refusals                                                                             */

static void
test_refusals (Fixture * f, gconstpointer data)
{
  const char *const bad_header[] = { "X-Fine: yes", "No colon here", NULL };
  const char *const bad_name[] = { "Bad Name: x", NULL };
  g_autofree char *long_url = g_strnfill (3000, 'a');
  g_autoptr (GError) error = NULL;

  g_assert_false (echo_radio_player_play_url (f->player, "rtsp://example/x", NULL,
          &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_radio_player_play_url (f->player, "http://exa mple/", NULL,
          &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_radio_player_play_url (f->player, long_url, NULL, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_radio_player_play_url (f->player, "http://127.0.0.1:9/x",
          bad_header, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_radio_player_play_url (f->player, "http://127.0.0.1:9/x",
          bad_name, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (echo_radio_player_push_open (f->player, "text/html", &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  /* AAC needs a decoder Debian's GStreamer may lack (avdec_aac, faad, fdkaacdec) */
  if (!echo_radio_player_push_open (f->player, "audio/aac", &error)) {
    g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND);
    g_test_message ("audio/aac: %s", error->message);
    g_clear_error (&error);
  }
  /* nothing listens there: the player reconnects (state), it does not fail */
  g_assert_true (echo_radio_player_play_url (f->player, "http://127.0.0.1:9/none", NULL,
          &error));
  g_assert_no_error (error);
  wait_state (f, "reconnecting", 1);
  g_assert_cmpuint (f->failures, ==, 0);
  /* a missing fallback file is a failure the caller hears of */
  echo_radio_player_set_fallback_file (f->player, "/nonexistent/echo-fallback.wav");
  wait_state (f, "reconnecting", 2);
  spin (300);
  g_assert_cmpuint (f->failures, ==, 1);
}

static void
test_factory_kind (void)
{
  g_autoptr (EchoPipelineFactory) factory = shipped_factory ();
  g_autoptr (GHashTable) values = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPipeline) pipeline = NULL;
  g_autoptr (GstElement) station = NULL;
  g_autofree char *share_only = NULL, *src = NULL, *dst = NULL, *contents = NULL;
  g_autoptr (EchoPipelineFactory) share_factory = NULL;
  EchoRadioPlayer *player;

  g_assert_nonnull (echo_pipeline_factory_get_path (factory, ECHO_PIPELINE_KIND_RADIO));
  g_hash_table_insert (values, "session", "1 ! fakesink");
  g_hash_table_insert (values, "latency", "100");
  g_hash_table_insert (values, "token", "");
  g_hash_table_insert (values, "announce", "false");
  g_assert_null (echo_pipeline_factory_build (factory, "radio", values, &error));
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_hash_table_insert (values, "session", SESSION);
  pipeline = echo_pipeline_factory_build (factory, "radio", values, &error);
  g_assert_no_error (error);
  station = gst_bin_get_by_name (GST_BIN (pipeline), "station");
  g_assert_nonnull (station);
  g_assert_true (GST_IS_BIN (station));

  /* radio.pipeline is optional: a share-only directory loads, and has no radio */
  share_only = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  src = g_build_filename (g_getenv ("ECHO_SOURCE_ROOT"), "pipelines", "share.pipeline",
      NULL);
  dst = g_build_filename (share_only, "share.pipeline", NULL);
  g_assert_true (g_file_get_contents (src, &contents, NULL, NULL));
  g_assert_true (g_file_set_contents (dst, contents, -1, NULL));
  share_factory = echo_pipeline_factory_new (share_only, &error);
  g_assert_no_error (error);
  player = echo_radio_player_new (share_factory, SESSION, NULL, FALSE, NULL, NULL, &error);
  g_assert_null (player);
  g_assert_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND);
  remove_dir (share_only);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/radio-player/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("pull-icecast", test_pull_icecast);
  ADD ("failover", test_failover);
  ADD ("push-titles", test_push_titles);
  ADD ("push-garbage", test_push_garbage);
  ADD ("push-opus", test_push_opus);
  ADD ("refusals", test_refusals);
#undef ADD
  g_test_add_func ("/radio-player/factory-kind", test_factory_kind);

  ret = g_test_run ();
  /* no thread may be winding down while LeakSanitizer stops the world at exit: its
   * tracer crashes on a thread that exits under it */
  g_thread_pool_stop_unused_threads ();
  gst_deinit ();
  return ret;
}
