/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icy-throughput.c: how fast icymetademux strips ICY metadata, side by side with
 * gst-plugins-good's icydemux and a plain passthrough, in the same run.
 *
 * A large synthetic ICY stream is built in memory once: real MP3 (a few seconds encoded
 * in-process with lamemp3enc, repeated to the target size), a metadata block after every
 * interval, zero-length blocks between title changes as Icecast sends them (or the title
 * repeated in every block as Shoutcast does, with --repeat-metadata). Every contender then
 * runs
 *
 *   appsrc ! <contender> ! fakesink sync=false
 *
 * on exactly the same bytes: the stream is cut into --blocksize buffers (souphttpsrc's
 * default is 4096) that are sub-buffers of one big buffer, pushed from appsrc's own
 * streaming thread in its need-data callback, so that the whole pipeline runs in one thread
 * and pushing costs the same for every contender. Every contender gets the same caps,
 * application/x-icy with metadata-interval and content-type=audio/mpeg, except the
 * "typefind" run of icymetademux, whose caps leave content-type out.
 *
 * One untimed round first checks every contender (and warms up): the output must be
 * exactly the audio bytes (the whole stream for identity) and the titles seen by the sink
 * must be the title changes in the stream. Then --rounds timed rounds run every contender
 * once each, in an order rotated every round; the table shows the median. Throughput is
 * input (ICY stream) bytes per second of wall-clock time and per second of process CPU
 * time. Any failed check makes the exit status nonzero.
 *
 * Run it with bench/run-icy-bench, which sets up the plugin environment.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "icytest.h"

#ifdef HAVE_VALGRIND_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(name) ((void) (name))
#endif

#define MIB (1024.0 * 1024.0)
/* buffers pushed into appsrc per need-data call */
#define PUSH_BATCH 16

/* ---- options ------------------------------------------------------------------------- */

static gint opt_size_mib = 256;
static gint opt_metaint = 16000;
static gint opt_blocksize = 4096;
static gint opt_title_every = 200;
static gint opt_rounds = 9;
static gint opt_mp3_seconds = 10;
static gboolean opt_repeat_metadata = FALSE;
static gboolean opt_verbose = FALSE;
static gchar *opt_only = NULL;

static GOptionEntry entries[] = {
  {"size", 's', 0, G_OPTION_ARG_INT, &opt_size_mib,
      "MiB of audio in the stream (default 256)", "MIB"},
  {"metaint", 'm', 0, G_OPTION_ARG_INT, &opt_metaint,
      "Audio bytes between metadata blocks (default 16000)", "BYTES"},
  {"blocksize", 'b', 0, G_OPTION_ARG_INT, &opt_blocksize,
      "Size of the buffers appsrc pushes (default 4096, as souphttpsrc)",
      "BYTES"},
  {"title-every", 't', 0, G_OPTION_ARG_INT, &opt_title_every,
        "The title changes every N metadata blocks (default 200: 200 s at 128 kbit/s "
        "and metaint 16000)", "N"},
  {"repeat-metadata", 0, 0, G_OPTION_ARG_NONE, &opt_repeat_metadata,
        "Send the current title in every block (Shoutcast) instead of zero-length "
        "blocks between changes (Icecast)", NULL},
  {"rounds", 'r', 0, G_OPTION_ARG_INT, &opt_rounds,
      "Timed rounds; each runs every contender once (default 9)", "N"},
  {"mp3-seconds", 0, 0, G_OPTION_ARG_INT, &opt_mp3_seconds,
      "Seconds of MP3 to encode before repeating it (default 10)", "S"},
  {"only", 0, 0, G_OPTION_ARG_STRING, &opt_only,
        "Comma-separated contenders to run (floor, identity, icydemux, "
        "icymetademux, icymetademux-typefind); default all", "LIST"},
  {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "Print every timed run", NULL},
  {NULL}
};

/* ---- contenders ------------------------------------------------------------------------ */

typedef struct
{
  const gchar *key;             /* for --only */
  const gchar *label;           /* in the table */
  const gchar *element;         /* launch fragment between appsrc and fakesink, or NULL */
  gboolean content_type;        /* caps carry content-type=audio/mpeg */
  gboolean demuxer;             /* output is the audio alone, titles become tags */
} Contender;

static const Contender contenders[] = {
  {"floor", "(none) appsrc ! fakesink", NULL, TRUE, FALSE},
  {"identity", "identity (passthrough)",
      "identity silent=true signal-handoffs=false", TRUE, FALSE},
  {"icydemux", "icydemux (-good)", "icydemux", TRUE, TRUE},
  {"icymetademux", "icymetademux", "icymetademux", TRUE, TRUE},
  {"icymetademux-typefind", "icymetademux, typefinding", "icymetademux",
      FALSE, TRUE},
};

#define N_CONTENDERS G_N_ELEMENTS (contenders)
#define PASSTHROUGH 1           /* index of the reference in contenders[] */

/* ---- the workload ------------------------------------------------------------------------ */

typedef struct
{
  guint8 *audio;                /* the audio bytes alone */
  gsize audio_size;
  guint8 *stream;               /* audio with the metadata blocks */
  gsize stream_size;
  GstBuffer *stream_buffer;     /* wraps stream; pushed as sub-buffers */
  gsize mp3_size;
  guint n_blocks;               /* metadata blocks (length bytes) in the stream */
  guint n_nonzero_blocks;
  guint n_titles;               /* title changes */
  gchar *last_title;            /* the last StreamTitle */
} Workload;

/* Real songs, with the apostrophes and non-ASCII letters stations send. */
static const struct
{
  const gchar *artist;
  const gchar *title;
} songs[] = {
  {"Sinéad O'Connor", "Nothing Compares 2 U"},
  {"Guns N' Roses", "Sweet Child O' Mine"},
  {"Motörhead", "Ace of Spades"},
  {"Queen", "Don't Stop Me Now"},
  {"Édith Piaf", "Non, je ne regrette rien"},
  {"Sigur Rós", "Hoppípolla"},
  {"Björk", "It's Oh So Quiet"},
  {"The B-52's", "Love Shack"},
  {"AC/DC", "Rock 'n' Roll Train"},
  {"Daft Punk feat. Pharrell Williams", "Get Lucky (Radio Edit)"},
  {"Florence + The Machine", "Dog Days Are Over"},
  {"Sade", "Smooth Operator"},
  {"Simon & Garfunkel", "Bridge Over Troubled Water"},
  {"Mötley Crüe", "Kickstart My Heart"},
  {"Die Ärzte", "Schrei nach Liebe"},
  {"Beyoncé", "Déjà Vu"},
  {"Celia Cruz", "La vida es un carnaval"},
};

static gchar *
stream_title (guint change)
{
  guint i = change % G_N_ELEMENTS (songs);

  return g_strdup_printf ("%s - %s", songs[i].artist, songs[i].title);
}

/* A few seconds of real MP3, encoded in-process. */
static GBytes *
encode_mp3 (guint seconds, GError ** error)
{
  g_autofree gchar *desc = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  g_autoptr (GByteArray) mp3 = g_byte_array_new ();
  GstSample *sample;

  desc = g_strdup_printf ("audiotestsrc wave=sine freq=440 volume=0.5 "
      "samplesperbuffer=4410 num-buffers=%u "
      "! audio/x-raw,rate=44100,channels=2 ! audioconvert "
      "! lamemp3enc target=bitrate bitrate=128 cbr=true "
      "! appsink name=sink sync=false", seconds * 10);
  pipeline = gst_parse_launch (desc, error);
  if (pipeline == NULL)
    return NULL;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstMapInfo map;
    GstBuffer *buf = gst_sample_get_buffer (sample);

    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      g_byte_array_append (mp3, map.data, map.size);
      gst_buffer_unmap (buf, &map);
    }
    gst_sample_unref (sample);
  }
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (msg != NULL) {
    gst_message_parse_error (msg, error, NULL);
    return NULL;
  }
  if (mp3->len == 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_ENCODE,
        "lamemp3enc produced nothing");
    return NULL;
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&mp3));
}

static gboolean
build_workload (Workload * w, GError ** error)
{
  g_autoptr (GBytes) mp3 = NULL;
  const guint8 *mp3_data;
  gsize mp3_size, pos, audio_pos = 0;
  g_autoptr (GByteArray) out = NULL;
  g_autofree gchar *current = NULL;
  guint block = 0;

  mp3 = encode_mp3 (opt_mp3_seconds, error);
  if (mp3 == NULL)
    return FALSE;
  mp3_data = g_bytes_get_data (mp3, &mp3_size);
  w->mp3_size = mp3_size;

  w->audio_size = (gsize) opt_size_mib * 1024 * 1024;
  w->audio = g_malloc (w->audio_size);
  for (pos = 0; pos < w->audio_size; pos += mp3_size)
    memcpy (w->audio + pos, mp3_data, MIN (mp3_size, w->audio_size - pos));

  /* A block after every full interval that more audio follows: a title change at the
   * very end would have no audio to be placed before. */
  out = g_byte_array_sized_new (w->audio_size + w->audio_size / 100 + 4096);
  while (audio_pos < w->audio_size) {
    gsize n = MIN ((gsize) opt_metaint, w->audio_size - audio_pos);

    g_byte_array_append (out, w->audio + audio_pos, n);
    audio_pos += n;
    if (audio_pos == w->audio_size)
      break;

    if (block % opt_title_every == 0) {
      g_free (current);
      current = stream_title (w->n_titles++);
      g_free (w->last_title);
      w->last_title = g_strdup (current);
    }
    if (block % opt_title_every == 0 || opt_repeat_metadata) {
      g_autofree gchar *text =
          g_strdup_printf ("StreamTitle='%s';StreamUrl='';", current);

      icy_test_append_block (out, text);
      w->n_nonzero_blocks++;
    } else {
      icy_test_append_block (out, "");
    }
    block++;
  }
  w->n_blocks = block;
  w->stream_size = out->len;
  w->stream = g_byte_array_steal (out, NULL);
  w->stream_buffer = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
      w->stream, w->stream_size, 0, w->stream_size, NULL, NULL);
  return TRUE;
}

static void
workload_clear (Workload * w)
{
  gst_clear_buffer (&w->stream_buffer);
  g_clear_pointer (&w->stream, g_free);
  g_clear_pointer (&w->audio, g_free);
  g_clear_pointer (&w->last_title, g_free);
}

/* ---- one run ------------------------------------------------------------------------------ */

typedef struct
{
  const Workload *w;
  const Contender *c;
  gboolean verify;

  /* feeding, in appsrc's streaming thread */
  gsize push_offset;
  gboolean eos_sent;

  /* what the sink saw: tags from the bus sync handler, bytes from a probe (verify only) */
  GstElement *sink;
  gchar *last_title;
  guint titles;
  guint64 out_bytes;
  gboolean out_mismatch;
  guint64 first_mismatch;

  /* results */
  gdouble wall, cpu;
  gboolean ok;
} Run;

static void
need_data (GstAppSrc * src, guint length, gpointer user_data)
{
  Run *run = user_data;
  const Workload *w = run->w;

  for (guint i = 0; i < PUSH_BATCH && run->push_offset < w->stream_size; i++) {
    gsize n = MIN ((gsize) opt_blocksize, w->stream_size - run->push_offset);
    GstBuffer *buf = gst_buffer_copy_region (w->stream_buffer,
        GST_BUFFER_COPY_MEMORY, run->push_offset, n);

    run->push_offset += n;
    if (gst_app_src_push_buffer (src, buf) != GST_FLOW_OK)
      return;
  }
  if (run->push_offset == w->stream_size && !run->eos_sent) {
    run->eos_sent = TRUE;
    gst_app_src_end_of_stream (src);
  }
}

/* In the streaming thread: a title counts when it differs from the last one the sink got.
 * icydemux puts the whole StreamTitle in the title tag, icymetademux splits off the
 * artist; either way the text shown is "artist - title". */
static GstBusSyncReply
bus_sync (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Run *run = user_data;
  GstTagList *tags;
  gchar *title = NULL, *artist = NULL, *shown;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT)
    return GST_BUS_DROP;        /* icymetademux's icy-metadata messages */
  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_TAG)
    return GST_BUS_PASS;
  if (GST_MESSAGE_SRC (msg) != GST_OBJECT_CAST (run->sink))
    return GST_BUS_DROP;

  gst_message_parse_tag (msg, &tags);
  gst_tag_list_get_string (tags, GST_TAG_TITLE, &title);
  gst_tag_list_get_string (tags, GST_TAG_ARTIST, &artist);
  gst_tag_list_unref (tags);
  if (title == NULL) {
    g_free (artist);
    return GST_BUS_DROP;
  }
  shown = artist ? g_strdup_printf ("%s - %s", artist, title) : g_strdup (title);
  if (g_strcmp0 (shown, run->last_title) != 0) {
    run->titles++;
    g_free (run->last_title);
    run->last_title = shown;
  } else {
    g_free (shown);
  }
  g_free (title);
  g_free (artist);
  return GST_BUS_DROP;
}

/* Verification round only: the sink must get exactly the expected bytes, in order. */
static GstPadProbeReturn
check_output (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Run *run = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const guint8 *expected = run->c->demuxer ? run->w->audio : run->w->stream;
  gsize expected_size =
      run->c->demuxer ? run->w->audio_size : run->w->stream_size;
  GstMapInfo map;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    run->out_mismatch = TRUE;
    return GST_PAD_PROBE_OK;
  }
  if (!run->out_mismatch && (run->out_bytes + map.size > expected_size
          || memcmp (expected + run->out_bytes, map.data, map.size) != 0)) {
    gsize i = 0;

    while (i < map.size && run->out_bytes + i < expected_size
        && expected[run->out_bytes + i] == map.data[i])
      i++;
    run->out_mismatch = TRUE;
    run->first_mismatch = run->out_bytes + i;
  }
  run->out_bytes += map.size;
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

static gdouble
clock_seconds (clockid_t id)
{
  struct timespec ts;

  clock_gettime (id, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gboolean
run_contender (Run * run)
{
  g_autofree gchar *desc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  g_autoptr (GstCaps) caps = NULL;
  GstAppSrcCallbacks callbacks = { need_data, NULL, NULL };
  gdouble wall0, cpu0;

  desc = g_strdup_printf ("appsrc name=src format=bytes stream-type=stream "
      "is-live=false emit-signals=false max-bytes=%u ! %s%s"
      "fakesink name=sink sync=false silent=true enable-last-sample=false",
      8 * 1024 * 1024, run->c->element ? run->c->element : "",
      run->c->element ? " ! " : "");
  pipeline = gst_parse_launch (desc, &error);
  if (pipeline == NULL) {
    g_printerr ("%s: %s\n", run->c->label, error->message);
    return FALSE;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  run->sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  caps = gst_caps_new_simple ("application/x-icy",
      "metadata-interval", G_TYPE_INT, opt_metaint, NULL);
  if (run->c->content_type)
    gst_caps_set_simple (caps, "content-type", G_TYPE_STRING, "audio/mpeg",
        NULL);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  gst_app_src_set_callbacks (GST_APP_SRC (src), &callbacks, run, NULL);

  if (run->verify) {
    GstPad *pad = gst_element_get_static_pad (run->sink, "sink");

    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, check_output, run,
        NULL);
    gst_object_unref (pad);
  }

  bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, bus_sync, run, NULL);

  CALLGRIND_ZERO_STATS;
  wall0 = clock_seconds (CLOCK_MONOTONIC);
  cpu0 = clock_seconds (CLOCK_PROCESS_CPUTIME_ID);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  run->cpu = clock_seconds (CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  run->wall = clock_seconds (CLOCK_MONOTONIC) - wall0;
  CALLGRIND_DUMP_STATS_AT (run->c->key);

  run->ok = TRUE;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    g_printerr ("%s: error: %s (%s)\n", run->c->label, err->message,
        dbg ? dbg : "");
    run->ok = FALSE;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_clear_object (&run->sink);
  return run->ok;
}

static void
run_clear (Run * run)
{
  g_clear_pointer (&run->last_title, g_free);
}

/* ---- checks and report ---------------------------------------------------------------------- */

static gboolean
check_titles (const Workload * w, const Contender * c, const Run * run)
{
  guint expected = c->demuxer ? w->n_titles : 0;

  if (run->titles != expected) {
    g_printerr ("FAIL %s: the sink saw %u title changes, the stream has %u\n",
        c->label, run->titles, expected);
    return FALSE;
  }
  if (c->demuxer && g_strcmp0 (run->last_title, w->last_title) != 0) {
    g_printerr ("FAIL %s: last title \"%s\", the stream's is \"%s\"\n",
        c->label, run->last_title, w->last_title);
    return FALSE;
  }
  return TRUE;
}

static gboolean
verify_contender (const Workload * w, const Contender * c, guint64 * out_bytes)
{
  Run run = { 0, };
  gsize expected = c->demuxer ? w->audio_size : w->stream_size;
  gboolean ok;

  run.w = w;
  run.c = c;
  run.verify = TRUE;
  ok = run_contender (&run);
  if (ok && run.out_mismatch) {
    g_printerr ("FAIL %s: output differs from the expected bytes at byte %"
        G_GUINT64_FORMAT "\n", c->label, run.first_mismatch);
    ok = FALSE;
  }
  if (ok && run.out_bytes != expected) {
    g_printerr ("FAIL %s: output %" G_GUINT64_FORMAT " bytes, expected %"
        G_GSIZE_FORMAT "\n", c->label, run.out_bytes, expected);
    ok = FALSE;
  }
  if (ok)
    ok = check_titles (w, c, &run);
  *out_bytes = run.out_bytes;
  run_clear (&run);
  return ok;
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

static gdouble
median (gdouble * v, guint n)
{
  qsort (v, n, sizeof (gdouble), compare_doubles);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static gboolean
selected (const Contender * c)
{
  g_auto (GStrv) keys = NULL;

  if (opt_only == NULL)
    return TRUE;
  keys = g_strsplit (opt_only, ",", -1);
  return g_strv_contains ((const gchar * const *) keys, c->key);
}

static const gchar *
plugin_file (const gchar * factory_name)
{
  g_autoptr (GstElementFactory) f = gst_element_factory_find (factory_name);
  g_autoptr (GstPlugin) p = NULL;
  static gchar buf[3][1024];
  static guint next;
  gchar *out = buf[next++ % 3];

  if (f == NULL)
    return "(not found)";
  p = GST_PLUGIN (gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE (f)));
  g_snprintf (out, sizeof (buf[0]), "%s %s", gst_plugin_get_filename (p),
      gst_plugin_get_version (p));
  return out;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *gst_version = NULL;
  Workload w = { 0, };
  gboolean use[N_CONTENDERS];
  guint64 out_bytes[N_CONTENDERS] = { 0, };
  guint titles[N_CONTENDERS] = { 0, };
  gdouble *wall[N_CONTENDERS], *cpu[N_CONTENDERS];
  gdouble med_wall[N_CONTENDERS], med_cpu[N_CONTENDERS];
  gdouble min_wall[N_CONTENDERS], max_wall[N_CONTENDERS];
  gboolean all_ok = TRUE;
  guint n_buffers;

  ctx = g_option_context_new ("- ICY metadata removal throughput: "
      "icymetademux, icydemux and a passthrough on the same stream");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (opt_size_mib < 1 || opt_metaint < 1 || opt_blocksize < 1
      || opt_title_every < 1 || opt_rounds < 1 || opt_mp3_seconds < 1) {
    g_printerr ("sizes, counts and intervals must be positive\n");
    return 2;
  }
  gst_init (&argc, &argv);

  for (guint i = 0; i < N_CONTENDERS; i++) {
    use[i] = selected (&contenders[i]);
    if (use[i] && contenders[i].element != NULL) {
      g_autofree gchar *factory = g_strdup (contenders[i].element);
      gchar *space = strchr (factory, ' ');

      if (space != NULL)
        *space = '\0';
      if (gst_element_factory_find (factory) == NULL) {
        g_printerr ("element %s not found: run this through bench/run-icy-bench, "
            "or set GST_PLUGIN_PATH_1_0\n", factory);
        return 2;
      }
    }
  }

  if (!build_workload (&w, &error)) {
    g_printerr ("could not build the stream: %s\n", error->message);
    return 2;
  }
  n_buffers = (w.stream_size + opt_blocksize - 1) / opt_blocksize;
  gst_version = gst_version_string ();

  g_print ("ICY stream: %" G_GSIZE_FORMAT " bytes (%.1f MiB) = %" G_GSIZE_FORMAT
      " audio bytes (%" G_GSIZE_FORMAT " bytes of 128 kbit/s lamemp3enc MP3, "
      "repeated) + %u metadata blocks\n", w.stream_size, w.stream_size / MIB,
      w.audio_size, w.mp3_size, w.n_blocks);
  g_print ("  metaint %d; %u title changes (every %d blocks); %s; "
      "%u non-empty blocks\n", opt_metaint, w.n_titles, opt_title_every,
      opt_repeat_metadata ? "title repeated in every block (Shoutcast)"
      : "zero-length blocks between changes (Icecast)", w.n_nonzero_blocks);
  g_print ("  pushed as %u buffers of %d bytes; 1 verification round, then %d "
      "timed round%s\n", n_buffers, opt_blocksize, opt_rounds,
      opt_rounds > 1 ? "s" : "");
  g_print ("%s\n  icymetademux: %s\n  icydemux:     %s\n\n", gst_version,
      plugin_file ("icymetademux"), plugin_file ("icydemux"));

  /* verification round: also the warm-up */
  for (guint i = 0; i < N_CONTENDERS; i++) {
    if (!use[i])
      continue;
    if (!verify_contender (&w, &contenders[i], &out_bytes[i]))
      all_ok = FALSE;
  }

  for (guint i = 0; i < N_CONTENDERS; i++) {
    wall[i] = g_new0 (gdouble, opt_rounds);
    cpu[i] = g_new0 (gdouble, opt_rounds);
  }
  for (gint r = 0; r < opt_rounds; r++) {
    for (guint k = 0; k < N_CONTENDERS; k++) {
      guint i = (k + r) % N_CONTENDERS;
      Run run = { 0, };

      if (!use[i])
        continue;
      run.w = &w;
      run.c = &contenders[i];
      if (!run_contender (&run) || !check_titles (&w, run.c, &run))
        all_ok = FALSE;
      titles[i] = run.titles;
      wall[i][r] = run.wall;
      cpu[i][r] = run.cpu;
      if (opt_verbose)
        g_print ("  round %d  %-28s wall %.4f s  cpu %.4f s\n", r + 1,
            run.c->label, run.wall, run.cpu);
      run_clear (&run);
    }
  }

  for (guint i = 0; i < N_CONTENDERS; i++) {
    if (!use[i])
      continue;
    min_wall[i] = max_wall[i] = wall[i][0];
    for (gint r = 1; r < opt_rounds; r++) {
      min_wall[i] = MIN (min_wall[i], wall[i][r]);
      max_wall[i] = MAX (max_wall[i], wall[i][r]);
    }
    med_wall[i] = median (wall[i], opt_rounds);
    med_cpu[i] = median (cpu[i], opt_rounds);
  }

  g_print ("%-28s %10s %10s %9s %9s %9s %12s %7s\n", "contender",
      "wall MiB/s", "CPU MiB/s", "wall", "CPU", "CPU ns", "output", "titles");
  g_print ("%-28s %10s %10s %9s %9s %9s %12s %7s\n", "", "(median)",
      "(median)", "vs ident", "vs ident", "/buffer", "bytes", "seen");
  for (guint i = 0; i < N_CONTENDERS; i++) {
    gchar wall_rel[16] = "-", cpu_rel[16] = "-";

    if (!use[i])
      continue;
    if (use[PASSTHROUGH]) {
      g_snprintf (wall_rel, sizeof (wall_rel), "%.1f%%",
          100.0 * med_wall[PASSTHROUGH] / med_wall[i]);
      g_snprintf (cpu_rel, sizeof (cpu_rel), "%.1f%%",
          100.0 * med_cpu[PASSTHROUGH] / med_cpu[i]);
    }
    g_print ("%-28s %10.0f %10.0f %9s %9s %9.0f %12" G_GUINT64_FORMAT " %7u\n",
        contenders[i].label, w.stream_size / MIB / med_wall[i],
        w.stream_size / MIB / med_cpu[i], wall_rel, cpu_rel,
        med_cpu[i] * 1e9 / n_buffers, out_bytes[i], titles[i]);
  }
  g_print ("\nwall MiB/s over the %d rounds, min .. max:\n", opt_rounds);
  for (guint i = 0; i < N_CONTENDERS; i++) {
    if (use[i])
      g_print ("  %-28s %6.0f .. %.0f\n", contenders[i].label,
          w.stream_size / MIB / max_wall[i], w.stream_size / MIB / min_wall[i]);
  }
  g_print ("\nMiB/s counts input bytes (audio and metadata); \"vs ident\" is the "
      "passthrough's time over the contender's (100%% = as fast as identity).\n");
  g_print ("checks (exact audio bytes out, %u titles seen by the sink): %s\n",
      w.n_titles, all_ok ? "ok" : "FAILED");

  for (guint i = 0; i < N_CONTENDERS; i++) {
    g_free (wall[i]);
    g_free (cpu[i]);
  }
  workload_clear (&w);
  g_free (opt_only);
  return all_ok ? 0 : 1;
}
