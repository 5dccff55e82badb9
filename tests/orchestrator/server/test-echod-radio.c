/* test-echod-radio.c: the radio API of a real echod (orchestrator/server/echo-radio-api.h)
 * end to end, on its real store (file store, or PostgreSQL under tests/lib/pg-sandbox),
 * with real parts: ffmpeg broadcasting into echod as into an Icecast server, a real
 * icecast2 (tests/lib/icecast.h) fed by ffmpeg as a pulled upstream, `echosyncsrc`
 * receivers of the radio sessions analysed in 10 ms blocks (energy, frequency by zero
 * crossings, the largest step between two samples, timeline gaps), an ICY listener on
 * GET /radio/<mount>, WebSocket clients of the radio and overlay rooms, the music
 * sessions of the same community, and a metadata API served by libsoup on loopback.
 * It proves that:
 *  - stations are created with a stream URL or a mount, refused with 400 (and nothing
 *    stored) when malformed, never show their API key, update partially, delete; only the
 *    host application or a manager role may change them; another community's station is
 *    404; stations and the mode survive a restart, the radio session playing again;
 *  - a broadcaster's push plays to an echosyncsrc receiver and to an ICY listener; an
 *    /admin/metadata title reaches radio:now_playing, overlay:now_playing and the ICY
 *    stream (the delays are printed); when the broadcaster dies the upstream goes to
 *    fallback and the receiver hears continuous silence, no garbage; after a restart the
 *    session plays the broadcaster again;
 *  - a station pulled from icecast2 plays, its in-band titles arrive as radio:now_playing;
 *  - the mode controller pauses the community's music for radio and resumes it, a music
 *    play in radio mode switches to music, and mode none; events on every switch;
 *  - a station whose titles come from a JSON API gets them polled (with its API key) and
 *    announced on every change, and only on a change.
 * Skipped parts: pushing and pulling need ffmpeg, pulling icecast2. Waits are generous;
 * no timing threshold decides a result.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "echod-music-util.h"
#include "echod-test-util.h"
#include "icecast.h"

#define SOURCE_PW "radio-e2e-source"
#define ADMIN_PW "radio-e2e-admin"
#define RADIO_CONFIG "start-lead-ms=100\n" \
  "[radio]\nsource-password=" SOURCE_PW "\nadmin-password=" ADMIN_PW "\n" \
  "source-timeout-seconds=5\n"
#define WAIT_MS 30000
#define BLOCK_MS 10
#define LOUD 0.02
/* a clean tone of amplitude 0.4 at 660 Hz moves at most 0.035 per sample at 48 kHz;
 * noise or a click jumps far more */
#define CLICK_STEP 0.2

static double
wall_ms (void)
{
  return g_get_real_time () / 1000.0;
}

static gboolean
have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  return path != NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Calls                                                                                */

static char *
radio_path (const char *community, const char *suffix)
{
  return g_strdup_printf ("/api/radio/%s%s", community, suffix);
}

/* POST a station as the host application, expecting 201; returns its id. */
static char *
create_station (MusicEchod *m, const char *community, const char *body)
{
  g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", NULL, body,
      "/api/radio/%s/stations", community);
  JsonObject *obj = echod_reply_object (reply);

  g_assert_cmpstr (music_str (obj, "communityId"), ==, community);
  return g_strdup (music_str (obj, "id"));
}

static guint
station_count (MusicEchod *m, const char *community)
{
  g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
      "/api/radio/%s/stations", community);

  return json_array_get_length (json_object_get_array_member (echod_reply_object (reply),
          "stations"));
}

static JsonObject *
radio_state (MusicEchod *m, const char *community)
{
  g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
      "/api/radio/%s/state", community);

  return json_object_ref (echod_reply_object (reply));
}

/* POST /mode as @as, expecting @status; the reply's object on 200 (else NULL). */
static JsonObject *
set_mode (MusicEchod *m, const char *community, const char *as, const char *body,
    guint status)
{
  g_autoptr (EchodReply) reply = music_expect (m, status, "POST", as, body,
      "/api/radio/%s/mode", community);

  return status == 200 ? json_object_ref (echod_reply_object (reply)) : NULL;
}

static JsonObject *
set_radio (MusicEchod *m, const char *community, const char *station_id)
{
  g_autofree char *body = g_strdup_printf ("{\"mode\":\"radio\",\"stationId\":\"%s\"}",
      station_id);

  return set_mode (m, community, NULL, body, 200);
}

/* The state's upstream ("playing" ...) or NULL when no radio session plays. */
static char *
upstream_of (JsonObject *state)
{
  JsonNode *node = json_object_get_member (state, "upstream");

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ?
      g_strdup (json_node_get_string (node)) : NULL;
}

/* Polls GET state until the upstream is @upstream. */
static JsonObject *
wait_upstream (MusicEchod *m, const char *community, const char *upstream)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;
  g_autofree char *now = NULL;

  while (g_get_monotonic_time () < until) {
    g_autoptr (JsonObject) state = radio_state (m, community);

    g_free (now);
    now = upstream_of (state);
    if (g_strcmp0 (now, upstream) == 0)
      return g_steal_pointer (&state);
    echod_harness_spin (100);
  }
  g_error ("the radio of %s stayed %s, never %s", community, now, upstream);
  return NULL;
}

static void
wait_sources (MusicEchod *m, double count)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < until) {
    g_autofree char *metrics = echod_test_metrics (music_echod_harness (m));

    if (echod_metrics_value (metrics, "echo_radio_sources") == count)
      return;
    echod_harness_spin (100);
  }
  g_error ("echod never had %g radio sources", count);
}

/* /admin/metadata updinfo as the admin; asserts Icecast's success reply. */
static void
updinfo (MusicEchod *m, const char *mount, const char *song)
{
  g_autofree char *credentials = g_base64_encode ((const guchar *) "admin:" ADMIN_PW,
      strlen ("admin:" ADMIN_PW));
  g_autofree char *auth = g_strconcat ("Basic ", credentials, NULL);
  g_autofree char *m_esc = g_uri_escape_string (mount, NULL, FALSE);
  g_autofree char *s_esc = g_uri_escape_string (song, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/admin/metadata?mount=%s&mode=updinfo&song=%s"
      "&charset=UTF-8", m_esc, s_esc);
  g_autoptr (EchodReply) reply = echod_harness_request_full (music_echod_harness (m), "GET",
      path, auth, NULL, 0, NULL);

  g_assert_cmpuint (reply->status, ==, 200);
  g_assert_nonnull (strstr (reply->text, "<return>1</return>"));
}

/* ---------------------------------------------------------------------------------- */
/* WebSocket rooms                                                                      */

static MusicWs *
radio_ws (MusicEchod *m, const char *community)
{
  MusicWs *ws = music_ws_connect (m, NULL);
  g_autofree char *text = g_strdup_printf ("{\"type\":\"radio:subscribe\","
      "\"communityId\":\"%s\"}", community);
  g_autoptr (JsonObject) state = NULL;

  music_ws_send (ws, text);
  state = music_ws_wait (ws, "radio:state", "communityId", community);
  return ws;
}

static MusicWs *
overlay_ws (MusicEchod *m, const char *community)
{
  MusicWs *ws = music_ws_connect (m, NULL);
  g_autofree char *text = g_strdup_printf ("{\"type\":\"overlay:subscribe\","
      "\"serverId\":\"%s\"}", community);
  g_autoptr (JsonObject) reply = NULL;

  music_ws_send (ws, text);
  /* the subscription has no answer of its own: a time exchange behind it fences it */
  music_ws_send (ws, "{\"type\":\"music:time\",\"t0\":1}");
  reply = music_ws_wait (ws, "music:time", NULL, NULL);
  return ws;
}

static const char *
now_playing_member (JsonObject *msg, const char *member)
{
  JsonObject *np = json_object_get_object_member (msg, "nowPlaying");

  return np != NULL ? json_object_get_string_member_with_default (np, member, NULL) : NULL;
}

/* The next @type message whose nowPlaying.title is @title; @received_ms when it came. */
static JsonObject *
wait_title (MusicWs *ws, const char *type, const char *title, double *received_ms)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < until) {
    g_autoptr (JsonObject) msg = music_ws_next (ws, 1000, received_ms);

    if (msg == NULL || g_strcmp0 (json_object_get_string_member_with_default (msg, "type",
                ""), type) != 0)
      continue;
    if (g_strcmp0 (now_playing_member (msg, "title"), title) == 0)
      return g_steal_pointer (&msg);
    g_test_message ("%s: title '%s', waiting for '%s'", type,
        now_playing_member (msg, "title") != NULL ? now_playing_member (msg, "title") : "",
        title);
  }
  g_error ("no %s with title '%s' within %d ms", type, title, WAIT_MS);
  return NULL;
}

/* The next @type message whose @member is @value (radio:mode_change "mode" ...). */
static JsonObject *
wait_event (MusicWs *ws, const char *type, const char *member, const char *value)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < until) {
    g_autoptr (JsonObject) msg = music_ws_next (ws, 1000, NULL);

    if (msg != NULL && g_strcmp0 (json_object_get_string_member_with_default (msg, "type",
                ""), type) == 0 && g_strcmp0 (json_object_get_string_member_with_default (msg,
                member, ""), value) == 0)
      return g_steal_pointer (&msg);
  }
  g_error ("no %s with %s=%s within %d ms", type, member, value, WAIT_MS);
  return NULL;
}

/* How many @type messages arrive within @ms. */
static guint
count_events (MusicWs *ws, const char *type, guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  guint n = 0;

  while (g_get_monotonic_time () < until) {
    g_autoptr (JsonObject) msg = music_ws_next (ws, 100, NULL);

    if (msg != NULL && g_strcmp0 (json_object_get_string_member_with_default (msg, "type",
                ""), type) == 0)
      n++;
  }
  return n;
}

/* ---------------------------------------------------------------------------------- */
/* Source clients: ffmpeg, never outliving the test                                     */

static const char *const test_only_env[] = {
  "GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0", "GST_PLUGIN_SYSTEM_PATH",
  "GST_PLUGIN_SYSTEM_PATH_1_0", "GST_REGISTRY", "GST_REGISTRY_1_0", "GST_REGISTRY_FORK",
  "LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", NULL
};

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* ffmpeg broadcasting a @freq Hz sine as MP3 to echod's @mount. */
static GSubprocess *
push_source (MusicEchod *m, const char *mount, guint freq)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *target = g_strdup_printf ("icecast://source:" SOURCE_PW
      "@127.0.0.1:%u%s", echod_harness_port (music_echod_harness (m)), mount);
  g_autofree char *sine = g_strdup_printf ("sine=frequency=%u:sample_rate=44100,volume=3",
      freq);
  const char *argv[] = { "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
    "-re", "-f", "lavfi", "-t", "600", "-i", sine, "-ac", "2", "-c:a", "libmp3lame",
    "-b:a", "128k", "-content_type", "audio/mpeg", "-ice_name", "Echo Push FM",
    "-f", "mp3", target, NULL
  };
  g_autoptr (GError) error = NULL;
  const char *const *v;
  GSubprocess *proc;

  for (v = test_only_env; *v != NULL; v++)
    g_subprocess_launcher_unsetenv (launcher, *v);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return proc;
}

static void
kill_source (GSubprocess *proc)
{
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
  g_object_unref (proc);
}

/* ---------------------------------------------------------------------------------- */
/* The receiver: echosyncsrc ! appsink, analysed in blocks                              */

typedef struct {
  GstClockTime render;        /* the receiver clock's time its first sample plays */
  double rms;
  guint crossings;
  double max_step;
  gboolean gap;               /* the timeline jumped within it */
  guint bad;                  /* samples not finite or beyond +-1 */
} Block;

typedef struct {
  GstElement *pipeline;
  GMutex lock;
  GArray *blocks;
  gint rate, channels;
  guint block_frames;
  GstClockTime next_pts;
  float last;
  gboolean have_last;
  Block cur;
  guint cur_frames;
  double cur_sum;
  guint gaps;
} Receiver;

static GstFlowReturn
on_received (GstAppSink *sink, gpointer data)
{
  Receiver *r = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstStructure *s;
  GstBuffer *buf;
  GstMapInfo map;
  GstClockTime base, pts;
  const float *x;
  gsize n, i;

  if (sample == NULL)
    return GST_FLOW_FLUSHING;
  buf = gst_sample_get_buffer (sample);
  s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
  if (r->rate == 0) {
    g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, "F32LE");
    g_assert_true (gst_structure_get_int (s, "rate", &r->rate));
    g_assert_true (gst_structure_get_int (s, "channels", &r->channels));
    r->block_frames = r->rate * BLOCK_MS / 1000;
  }
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  base = gst_element_get_base_time (r->pipeline);
  pts = GST_BUFFER_PTS (buf);
  x = (const float *) map.data;
  n = map.size / (r->channels * sizeof (float));
  g_mutex_lock (&r->lock);
  /* a jump of the timeline (more than a millisecond): the receiver lost audio */
  if (GST_CLOCK_TIME_IS_VALID (r->next_pts) && GST_CLOCK_TIME_IS_VALID (pts) &&
      (pts > r->next_pts + GST_MSECOND || pts + GST_MSECOND < r->next_pts)) {
    r->cur.gap = TRUE;
    r->gaps++;
  }
  r->next_pts = GST_CLOCK_TIME_IS_VALID (pts) ?
      pts + gst_util_uint64_scale_int (n, GST_SECOND, r->rate) : GST_CLOCK_TIME_NONE;
  for (i = 0; i < n; i++) {
    float v = x[i * r->channels];

    if (r->cur_frames == 0) {
      gboolean gap = r->cur.gap;

      memset (&r->cur, 0, sizeof (r->cur));
      r->cur.gap = gap;
      r->cur_sum = 0;
      r->cur.render = base + pts + gst_util_uint64_scale_int (i, GST_SECOND, r->rate);
    }
    if (!isfinite (v) || fabsf (v) > 1.0f) {
      r->cur.bad++;
      v = 0;
    }
    if (r->have_last) {
      r->cur.max_step = MAX (r->cur.max_step, fabs ((double) v - r->last));
      if (r->last < 0 && v >= 0)
        r->cur.crossings++;
    }
    r->last = v;
    r->have_last = TRUE;
    r->cur_sum += (double) v * v;
    if (++r->cur_frames == r->block_frames) {
      r->cur.rms = sqrt (r->cur_sum / r->block_frames);
      g_array_append_val (r->blocks, r->cur);
      r->cur_frames = 0;
      r->cur.gap = FALSE;
    }
  }
  g_mutex_unlock (&r->lock);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

/* A receiver of the community's radio session (receivers.session and .port of @state). */
static Receiver *
receiver_new (JsonObject *state)
{
  JsonObject *receivers = json_object_get_object_member (state, "receivers");
  g_autofree char *description = g_strdup_printf ("echosyncsrc session=%s host=127.0.0.1 "
      "port=%" G_GINT64_FORMAT " ! appsink name=sink sync=false",
      music_str (receivers, "session"), music_int (receivers, "port"));
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) sink = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_received };
  Receiver *r = g_new0 (Receiver, 1);

  g_mutex_init (&r->lock);
  r->blocks = g_array_new (FALSE, FALSE, sizeof (Block));
  r->next_pts = GST_CLOCK_TIME_NONE;
  r->pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &error);
  g_assert_no_error (error);
  gst_object_ref_sink (r->pipeline);
  sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, r, NULL);
  g_assert_cmpint (gst_element_set_state (r->pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  return r;
}

static void
receiver_free (Receiver *r)
{
  if (r == NULL)
    return;
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->pipeline);
  g_array_unref (r->blocks);
  g_mutex_clear (&r->lock);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Receiver, receiver_free)

/* The receiver pipeline's clock now (GST_CLOCK_TIME_NONE before it has one). */
static GstClockTime
receiver_now (Receiver *r)
{
  g_autoptr (GstClock) clock = gst_pipeline_get_clock (GST_PIPELINE (r->pipeline));

  return gst_clock_get_time (clock);
}

typedef struct {
  double rms, freq, max_step;
  guint blocks, gaps, bad;
  guint longest_quiet;        /* blocks */
} Span;

/* The blocks rendered in [from, to). */
static Span
receiver_span (Receiver *r, GstClockTime from, GstClockTime to)
{
  Span s = { 0 };
  double sum = 0;
  guint64 crossings = 0;
  guint i, quiet = 0;

  g_mutex_lock (&r->lock);
  for (i = 0; i < r->blocks->len; i++) {
    const Block *b = &g_array_index (r->blocks, Block, i);

    if (b->render < from)
      continue;
    if (b->render >= to)
      break;
    sum += b->rms * b->rms;
    crossings += b->crossings;
    s.max_step = MAX (s.max_step, b->max_step);
    s.blocks++;
    s.gaps += b->gap;
    s.bad += b->bad;
    quiet = b->rms < LOUD ? quiet + 1 : 0;
    s.longest_quiet = MAX (s.longest_quiet, quiet);
  }
  if (s.blocks > 0) {
    s.rms = sqrt (sum / s.blocks);
    s.freq = (double) crossings * 1000 / (s.blocks * BLOCK_MS);
  }
  g_mutex_unlock (&r->lock);
  return s;
}

/* Waits until the receiver has rendered @ms of audio louder than LOUD in a row. */
static void
receiver_wait_loud (Receiver *r, guint ms)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;
  guint i, run = 0;

  while (g_get_monotonic_time () < until) {
    g_mutex_lock (&r->lock);
    run = 0;
    for (i = 0; i < r->blocks->len; i++)
      run = g_array_index (r->blocks, Block, i).rms > LOUD ? run + 1 : 0;
    g_mutex_unlock (&r->lock);
    if (run * BLOCK_MS >= ms)
      return;
    echod_harness_spin (50);
  }
  g_error ("the receiver never heard %u ms of sound (%u blocks, last loud run %u)", ms,
      r->blocks->len, run);
}

/* Spins @ms, then analyses the second before (the blocks surely arrived by then). */
static Span
receiver_listen (Receiver *r, guint ms)
{
  GstClockTime t0 = receiver_now (r);

  echod_harness_spin (ms);
  return receiver_span (r, t0, t0 + (ms - 500) * GST_MSECOND);
}

static void
assert_tone (Span s, double freq, const char *what)
{
  g_test_message ("%s: %u blocks, rms %.3f, %.0f Hz, max step %.3f, longest quiet %u ms, "
      "gaps %u", what, s.blocks, s.rms, s.freq, s.max_step, s.longest_quiet * BLOCK_MS,
      s.gaps);
  g_assert_cmpuint (s.blocks, >, 50);
  g_assert_cmpfloat (s.rms, >, 0.1);
  g_assert_cmpfloat (fabs (s.freq - freq), <, freq * 0.07);
  g_assert_cmpuint (s.longest_quiet, ==, 0);
  g_assert_cmpuint (s.bad, ==, 0);
  g_assert_cmpfloat (s.max_step, <, CLICK_STEP);
}

/* ---------------------------------------------------------------------------------- */
/* An ICY listener (GET /radio/<mount> with Icy-MetaData: 1), on a thread of its own    */

typedef struct {
  GThread *thread;
  guint16 port;
  char *mount;
  GMutex lock;
  gboolean stop;
  /* results */
  char *status_line;
  guint metaint;
  guint64 audio_bytes;
  guint mp3_frames;           /* MPEG-1 Layer III frames found chained in the first
                               * HEAD_AUDIO bytes of audio (the metadata blocks taken out:
                               * a misplaced block breaks the chain) */
  GPtrArray *titles;          /* StreamTitle values, in order */
  GArray *title_ms;           /* wall clock ms when each arrived */
  char *error;
} IcyListener;

static gboolean
read_exact (GInputStream *in, guint8 *buf, gsize n, GError **error)
{
  gsize got = 0;

  if (!g_input_stream_read_all (in, buf, n, &got, NULL, error))
    return FALSE;
  if (got != n) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "end of stream");
    return FALSE;
  }
  return TRUE;
}

#define HEAD_AUDIO 4096

/* MPEG-1 Layer III frames chained from the first sync in @data. */
static guint
count_mp3_frames (const guint8 *data, gsize len)
{
  static const guint kbps[] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224,
    256, 320, 0 };
  static const guint rates[] = { 44100, 48000, 32000, 0 };
  gsize i, at;
  guint best = 0;

  for (i = 0; i + 4 <= len; i++) {
    guint n = 0;

    for (at = i; at + 4 <= len; n++) {
      guint br, rate;

      if (data[at] != 0xff || (data[at + 1] & 0xfe) != 0xfa)
        break;
      br = kbps[data[at + 2] >> 4];
      rate = rates[(data[at + 2] >> 2) & 3];
      if (br == 0 || rate == 0)
        break;
      at += 144000 * br / rate + ((data[at + 2] >> 1) & 1);
    }
    best = MAX (best, n);
    if (best >= 3)
      break;
  }
  return best;
}

static gpointer
icy_main (gpointer data)
{
  IcyListener *l = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *request = g_strdup_printf ("GET /radio%s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
      "Icy-MetaData: 1\r\nUser-Agent: echo-radio-e2e\r\n\r\n", l->mount);
  g_autofree guint8 *block = NULL;
  g_autoptr (GByteArray) head = g_byte_array_new ();

  g_socket_client_set_timeout (client, 15);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", l->port, NULL, &error);
  if (conn == NULL || !g_output_stream_write_all (g_io_stream_get_output_stream (
              G_IO_STREAM (conn)), request, strlen (request), NULL, NULL, &error))
    goto out;
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (in), 256);
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);

    if (line == NULL)
      goto out;
    g_strchomp (line);
    if (l->status_line == NULL) {
      g_mutex_lock (&l->lock);
      l->status_line = g_strdup (line);
      g_mutex_unlock (&l->lock);
      continue;
    }
    if (line[0] == '\0')
      break;
    if (g_ascii_strncasecmp (line, "icy-metaint:", 12) == 0)
      l->metaint = (guint) g_ascii_strtoull (line + 12, NULL, 10);
  }
  if (l->metaint == 0 || l->metaint > 1 << 20) {
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "no icy-metaint");
    goto out;
  }
  block = g_malloc (MAX (l->metaint, 255 * 16 + 1));
  for (;;) {
    guint8 len;

    g_mutex_lock (&l->lock);
    if (l->stop) {
      g_mutex_unlock (&l->lock);
      break;
    }
    g_mutex_unlock (&l->lock);
    if (!read_exact (G_INPUT_STREAM (in), block, l->metaint, &error))
      break;
    g_mutex_lock (&l->lock);
    l->audio_bytes += l->metaint;
    if (head->len < HEAD_AUDIO) {
      g_byte_array_append (head, block, MIN (l->metaint, HEAD_AUDIO - head->len));
      if (head->len == HEAD_AUDIO)
        l->mp3_frames = count_mp3_frames (head->data, head->len);
    }
    g_mutex_unlock (&l->lock);
    if (!read_exact (G_INPUT_STREAM (in), &len, 1, &error) ||
        (len > 0 && !read_exact (G_INPUT_STREAM (in), block, len * 16, &error)))
      break;
    if (len > 0) {
      g_autofree char *meta = g_strndup ((const char *) block, len * 16);
      const char *start = strstr (meta, "StreamTitle='");
      const char *end = start != NULL ? strstr (start + 13, "';") : NULL;
      double at = wall_ms ();

      if (end != NULL) {
        g_mutex_lock (&l->lock);
        g_ptr_array_add (l->titles, g_strndup (start + 13, end - start - 13));
        g_array_append_val (l->title_ms, at);
        g_mutex_unlock (&l->lock);
      }
    }
  }
out:
  g_mutex_lock (&l->lock);
  if (error != NULL && !l->stop)
    l->error = g_strdup (error->message);
  g_mutex_unlock (&l->lock);
  if (conn != NULL)
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return NULL;
}

static IcyListener *
icy_listener_new (guint16 port, const char *mount)
{
  IcyListener *l = g_new0 (IcyListener, 1);

  g_mutex_init (&l->lock);
  l->port = port;
  l->mount = g_strdup (mount);
  l->titles = g_ptr_array_new_with_free_func (g_free);
  l->title_ms = g_array_new (FALSE, FALSE, sizeof (double));
  l->thread = g_thread_new ("icy-listener", icy_main, l);
  return l;
}

/* Waits for the thread's end (the stream ends when its source does, or after a read
 * timeout once stopped). */
static void
icy_listener_free (IcyListener *l)
{
  if (l == NULL)
    return;
  g_mutex_lock (&l->lock);
  l->stop = TRUE;
  g_mutex_unlock (&l->lock);
  g_thread_join (l->thread);
  g_free (l->mount);
  g_free (l->status_line);
  g_free (l->error);
  g_ptr_array_unref (l->titles);
  g_array_unref (l->title_ms);
  g_mutex_clear (&l->lock);
  g_free (l);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcyListener, icy_listener_free)

/* Waits until the listener saw @title; the wall clock ms when it came. */
static double
icy_wait_title (IcyListener *l, const char *title)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < until) {
    guint i;

    g_mutex_lock (&l->lock);
    for (i = 0; i < l->titles->len; i++)
      if (strcmp (g_ptr_array_index (l->titles, i), title) == 0) {
        double at = g_array_index (l->title_ms, double, i);

        g_mutex_unlock (&l->lock);
        return at;
      }
    if (l->error != NULL)
      g_error ("the ICY listener failed: %s", l->error);
    g_mutex_unlock (&l->lock);
    echod_harness_spin (50);
  }
  g_error ("the ICY listener never saw '%s'", title);
  return 0;
}

static guint64
icy_audio_bytes (IcyListener *l)
{
  guint64 n;

  g_mutex_lock (&l->lock);
  n = l->audio_bytes;
  g_mutex_unlock (&l->lock);
  return n;
}

/* ---------------------------------------------------------------------------------- */
/* 1. Stations: CRUD, validation, permissions, restart                                  */

#define COMM "guild-radio-1"
#define OTHER "guild-radio-2"

static void
assert_refused (MusicEchod *m, const char *body)
{
  g_autofree char *path = radio_path (COMM, "/stations");
  g_autoptr (EchodReply) reply = music_call (m, "POST", path, NULL, body);

  g_test_message ("refused %s: %s", body, reply->text);
  echod_reply_assert_error (reply, 400, "INVALID_REQUEST");
}

static void
test_stations (void)
{
  g_autoptr (MusicEchod) m = music_echod_start (RADIO_CONFIG);
  g_autofree char *admin = NULL, *dj = NULL;
  g_autofree char *url_id = NULL, *mount_id = NULL, *api_id = NULL, *other_id = NULL;
  g_autofree char *jwt_id = NULL, *session = NULL;
  g_autoptr (GHashTable) before = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);

  {
    const char *const admin_roles[] = { "admin", NULL };
    const char *const dj_roles[] = { "dj", NULL };

    admin = music_token (m, "carol", admin_roles);
    dj = music_token (m, "dave", dj_roles);
  }
  g_assert_cmpuint (station_count (m, COMM), ==, 0);

  /* create, with a URL and with a mount */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", NULL,
        "{\"providerType\":\"icecast\",\"name\":\"Pulled FM\","
        "\"streamUrl\":\"http://127.0.0.1:9/stream.mp3\",\"bitrate\":128,\"codec\":\"mp3\","
        "\"customHeaders\":{\"X-Station\":\"one\"}}", "/api/radio/%s/stations", COMM);
    JsonObject *obj = echod_reply_object (reply);

    url_id = g_strdup (music_str (obj, "id"));
    g_assert_cmpstr (music_str (obj, "streamUrl"), ==, "http://127.0.0.1:9/stream.mp3");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "mount")));
    g_assert_cmpstr (music_str (obj, "metadataSource"), ==, "icy");
    g_assert_cmpint (music_int (obj, "pollSeconds"), ==, 30);
    g_assert_cmpint (music_int (obj, "bitrate"), ==, 128);
    g_assert_true (json_object_get_boolean_member (obj, "enabled"));
    g_assert_false (json_object_get_boolean_member (obj, "hasApiKey"));
    g_assert_cmpstr (music_str (json_object_get_object_member (obj, "fallback"), "type"),
        ==, "silence");
    g_assert_cmpint (music_int (obj, "createdAt"), >, 0);
  }
  {
    g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", NULL,
        "{\"providerType\":\"live\",\"name\":\"Pushed FM\",\"mount\":\"/live\","
        "\"fallback\":{\"type\":\"file\",\"value\":\"/nonexistent/fallback.wav\"}}",
        "/api/radio/%s/stations", COMM);
    JsonObject *obj = echod_reply_object (reply);

    mount_id = g_strdup (music_str (obj, "id"));
    g_assert_cmpstr (music_str (obj, "mount"), ==, "/live");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "streamUrl")));
    g_assert_cmpstr (music_str (json_object_get_object_member (obj, "fallback"), "value"),
        ==, "/nonexistent/fallback.wav");
  }
  /* the API key is write-only */
  {
    g_autoptr (EchodReply) reply = music_expect (m, 201, "POST", NULL,
        "{\"providerType\":\"pretzel\",\"name\":\"API FM\","
        "\"streamUrl\":\"https://127.0.0.1:9/api.mp3\",\"metadataSource\":\"api\","
        "\"apiEndpoint\":\"http://127.0.0.1:9/now\",\"apiKey\":\"sekrit-key-123\","
        "\"metadataPaths\":{\"title\":\"data.song.title\"},\"pollSeconds\":5}",
        "/api/radio/%s/stations", COMM);
    JsonObject *obj = echod_reply_object (reply);

    api_id = g_strdup (music_str (obj, "id"));
    g_assert_true (json_object_get_boolean_member (obj, "hasApiKey"));
    g_assert_false (json_object_has_member (obj, "apiKey"));
    g_assert_null (strstr (reply->text, "sekrit-key-123"));
  }
  {
    g_autoptr (EchodReply) one = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, api_id);
    g_autoptr (EchodReply) list = music_expect (m, 200, "GET", "someone", NULL,
        "/api/radio/%s/stations", COMM);

    g_assert_true (json_object_get_boolean_member (echod_reply_object (one), "hasApiKey"));
    g_assert_null (strstr (one->text, "sekrit-key-123"));
    g_assert_null (strstr (list->text, "sekrit-key-123"));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                echod_reply_object (list), "stations")), ==, 3);
  }

  /* a pulled station of the community may stand in for another */
  {
    g_autofree char *body = g_strdup_printf ("{\"providerType\":\"icecast\","
        "\"name\":\"Backed FM\",\"mount\":\"/backed\",\"fallback\":{\"type\":\"station\","
        "\"value\":\"%s\"}}", url_id);
    g_autofree char *backed = create_station (m, COMM, body);
    g_autoptr (EchodReply) del G_GNUC_UNUSED = music_expect (m, 204, "DELETE", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, backed);
  }

  /* validation: 400, nothing stored */
  assert_refused (m, "not json");
  assert_refused (m, "[1,2]");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"color\":\"red\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\","
      "\"streamUrl\":\"http://127.0.0.1/a\",\"mount\":\"/x\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\"}");
  assert_refused (m, "{\"name\":\"X\",\"mount\":\"/x\"}");
  assert_refused (m, "{\"providerType\":\"Ice Cast\",\"name\":\"X\",\"mount\":\"/x\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\","
      "\"streamUrl\":\"ftp://127.0.0.1/a\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\","
      "\"streamUrl\":\"file:///etc/passwd\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"streamUrl\":\"/a\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"live\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/li ve\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/a/b\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"metadataSource\":\"api\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"metadataSource\":\"api\",\"metadataPaths\":{\"title\":\"a.b\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"metadataSource\":\"api\",\"apiEndpoint\":\"http://127.0.0.1/now\","
      "\"metadataPaths\":{\"artist\":\"a.b\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"metadataSource\":\"api\",\"apiEndpoint\":\"http://127.0.0.1/now\","
      "\"metadataPaths\":{\"title\":\"a.b\",\"colour\":\"c\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"metadataSource\":\"rss\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":{\"type\":\"file\",\"value\":\"relative.wav\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":{\"type\":\"file\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":{\"type\":\"jingle\",\"value\":\"x\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":{\"type\":\"silence\",\"value\":\"x\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":\"silence\"}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"fallback\":{\"type\":\"station\",\"value\":\"no-such-station\"}}");
  {
    /* a fallback station must be a pulled one of this community */
    g_autofree char *body = g_strdup_printf ("{\"providerType\":\"icecast\",\"name\":\"X\","
        "\"mount\":\"/x\",\"fallback\":{\"type\":\"station\",\"value\":\"%s\"}}",
        mount_id);

    assert_refused (m, body);
  }
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"pollSeconds\":1}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"customHeaders\":{\"X-A\":\"line\\r\\nbreak\"}}");
  assert_refused (m, "{\"providerType\":\"icecast\",\"name\":\"X\",\"mount\":\"/x\","
      "\"enabled\":\"yes\"}");
  g_assert_cmpuint (station_count (m, COMM), ==, 3);

  /* permissions: a plain user may read but not change; a JWT with role admin may */
  {
    const char *body = "{\"providerType\":\"icecast\",\"name\":\"Nope\",\"mount\":\"/nope\"}";
    g_autofree char *path = radio_path (COMM, "/stations");
    g_autofree char *one = g_strdup_printf ("/api/radio/%s/stations/%s", COMM, url_id);
    g_autoptr (EchodReply) r1 = music_call (m, "POST", path, "bob", body);
    g_autoptr (EchodReply) r2 = music_call (m, "PUT", one, "bob", "{\"name\":\"Bob FM\"}");
    g_autoptr (EchodReply) r3 = music_call (m, "DELETE", one, "bob", NULL);
    g_autoptr (EchodReply) r4 = music_call (m, "POST", path, dj, body);
    g_autoptr (EchodReply) r5 = music_call (m, "GET", one, "bob", NULL);
    g_autoptr (EchodReply) r6 = music_expect (m, 201, "POST", admin,
        "{\"providerType\":\"icecast\",\"name\":\"Carol FM\",\"mount\":\"/carol\"}",
        "/api/radio/%s/stations", COMM);

    echod_reply_assert_error (r1, 403, "FORBIDDEN");
    echod_reply_assert_error (r2, 403, "FORBIDDEN");
    echod_reply_assert_error (r3, 403, "FORBIDDEN");
    echod_reply_assert_error (r4, 403, "FORBIDDEN");
    g_assert_cmpuint (r5->status, ==, 200);
    g_assert_cmpstr (music_str (echod_reply_object (r5), "name"), ==, "Pulled FM");
    jwt_id = g_strdup (music_str (echod_reply_object (r6), "id"));
  }
  /* mode: controllers only (dj is one) */
  {
    g_autoptr (JsonObject) refused G_GNUC_UNUSED = set_mode (m, COMM, "bob",
        "{\"mode\":\"none\"}", 403);
    g_autoptr (JsonObject) ok = set_mode (m, COMM, dj, "{\"mode\":\"none\"}", 200);

    g_assert_cmpstr (music_str (ok, "mode"), ==, "none");
  }

  /* another community's station is not found there */
  other_id = create_station (m, OTHER, "{\"providerType\":\"icecast\",\"name\":\"Other FM\","
      "\"mount\":\"/other\"}");
  {
    g_autoptr (EchodReply) r1 = music_expect (m, 404, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, other_id);
    g_autoptr (EchodReply) r2 G_GNUC_UNUSED =
        music_expect (m, 404, "PUT", NULL, "{\"name\":\"Mine\"}",
        "/api/radio/%s/stations/%s", COMM, other_id);
    g_autoptr (EchodReply) r3 = music_expect (m, 404, "DELETE", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, other_id);
    g_autofree char *body = g_strdup_printf ("{\"mode\":\"radio\",\"stationId\":\"%s\"}",
        other_id);
    g_autoptr (JsonObject) refused G_GNUC_UNUSED = set_mode (m, COMM, NULL, body, 400);
    g_autoptr (EchodReply) r4 = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", OTHER, other_id);

    echod_reply_assert_error (r1, 404, "NOT_FOUND");
    echod_reply_assert_error (r3, 404, "NOT_FOUND");
    g_assert_cmpstr (music_str (echod_reply_object (r4), "name"), ==, "Other FM");
    g_assert_cmpuint (station_count (m, OTHER), ==, 1);
  }

  /* partial update: the members given change, the others stay */
  {
    g_autoptr (EchodReply) was = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, url_id);
    g_autoptr (EchodReply) put = music_expect (m, 200, "PUT", admin,
        "{\"name\":\"Renamed FM\",\"pollSeconds\":60}", "/api/radio/%s/stations/%s", COMM,
        url_id);
    g_autoptr (EchodReply) now = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, url_id);
    JsonObject *a = echod_reply_object (was), *b = echod_reply_object (now);

    g_assert_cmpstr (music_str (b, "name"), ==, "Renamed FM");
    g_assert_cmpint (music_int (b, "pollSeconds"), ==, 60);
    g_assert_cmpstr (music_str (b, "streamUrl"), ==, music_str (a, "streamUrl"));
    g_assert_cmpint (music_int (b, "bitrate"), ==, 128);
    g_assert_cmpstr (music_str (b, "codec"), ==, "mp3");
    g_assert_cmpstr (music_str (json_object_get_object_member (b, "customHeaders"),
            "X-Station"), ==, "one");
    g_assert_cmpint (music_int (b, "createdAt"), ==, music_int (a, "createdAt"));
    g_assert_cmpint (music_int (b, "updatedAt"), >=, music_int (a, "updatedAt"));
    g_assert_cmpstr (put->text, ==, now->text);
  }
  /* a mount replaces the URL; a bad update changes nothing */
  {
    g_autoptr (EchodReply) put = music_expect (m, 200, "PUT", NULL, "{\"mount\":\"/moved\"}",
        "/api/radio/%s/stations/%s", COMM, url_id);
    g_autoptr (EchodReply) was = NULL;
    g_autoptr (EchodReply) bad1 = NULL;
    g_autoptr (EchodReply) bad2 = NULL;
    g_autoptr (EchodReply) bad3 = NULL;
    g_autoptr (EchodReply) now = NULL;
    JsonObject *obj = echod_reply_object (put);

    g_assert_cmpstr (music_str (obj, "mount"), ==, "/moved");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (obj, "streamUrl")));
    was = music_expect (m, 200, "GET", NULL, NULL, "/api/radio/%s/stations/%s", COMM,
        url_id);
    bad1 = music_expect (m, 400, "PUT", NULL, "{\"streamUrl\":\"gopher://x/y\"}",
        "/api/radio/%s/stations/%s", COMM, url_id);
    bad2 = music_expect (m, 400, "PUT", NULL, "{\"hasApiKey\":true}",
        "/api/radio/%s/stations/%s", COMM, url_id);
    bad3 = music_expect (m, 400, "PUT", NULL, "{\"metadataSource\":\"api\"}",
        "/api/radio/%s/stations/%s", COMM, url_id);
    now = music_expect (m, 200, "GET", NULL, NULL, "/api/radio/%s/stations/%s", COMM,
        url_id);
    g_assert_cmpstr (was->text, ==, now->text);
    echod_reply_assert_error (bad1, 400, "INVALID_REQUEST");
  }
  /* the key: kept when not given, cleared with null */
  {
    g_autoptr (EchodReply) kept = music_expect (m, 200, "PUT", NULL, "{\"pollSeconds\":10}",
        "/api/radio/%s/stations/%s", COMM, api_id);
    g_autoptr (EchodReply) cleared = NULL;

    g_assert_true (json_object_get_boolean_member (echod_reply_object (kept), "hasApiKey"));
    g_assert_null (strstr (kept->text, "sekrit-key-123"));
    cleared = music_expect (m, 200, "PUT", NULL, "{\"apiKey\":null}",
        "/api/radio/%s/stations/%s", COMM, api_id);
    g_assert_false (json_object_get_boolean_member (echod_reply_object (cleared),
            "hasApiKey"));
  }
  /* delete */
  {
    g_autoptr (EchodReply) del G_GNUC_UNUSED = music_expect (m, 204, "DELETE", admin, NULL,
        "/api/radio/%s/stations/%s", COMM, jwt_id);
    g_autoptr (EchodReply) gone G_GNUC_UNUSED = music_expect (m, 404, "GET", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, jwt_id);
    g_autoptr (EchodReply) again G_GNUC_UNUSED = music_expect (m, 404, "DELETE", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, jwt_id);

    g_assert_cmpuint (station_count (m, COMM), ==, 3);
  }

  /* radio mode on a pushed station without a source yet: the session exists */
  {
    g_autoptr (JsonObject) state = set_radio (m, COMM, mount_id);
    JsonObject *receivers = json_object_get_object_member (state, "receivers");

    g_assert_cmpstr (music_str (state, "mode"), ==, "radio");
    g_assert_cmpstr (music_str (json_object_get_object_member (state, "station"), "id"), ==,
        mount_id);
    g_assert_cmpint (music_int (receivers, "port"), >, 0);
    session = g_strdup (music_str (receivers, "session"));
  }
  /* every station's stored form, as the API shows it, before the restart */
  {
    g_autoptr (EchodReply) list = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations", COMM);
    JsonArray *stations = json_object_get_array_member (echod_reply_object (list),
        "stations");
    guint i;

    for (i = 0; i < json_array_get_length (stations); i++) {
      JsonNode *node = json_array_get_element (stations, i);

      g_hash_table_insert (before, g_strdup (music_str (json_node_get_object (node), "id")),
          json_to_string (node, FALSE));
    }
  }

  music_echod_restart (m);

  /* stations and mode are back, the radio session playing again on the same session */
  {
    g_autoptr (EchodReply) list = music_expect (m, 200, "GET", NULL, NULL,
        "/api/radio/%s/stations", COMM);
    JsonArray *stations = json_object_get_array_member (echod_reply_object (list),
        "stations");
    g_autoptr (JsonObject) state = radio_state (m, COMM);
    JsonObject *receivers = json_object_get_object_member (state, "receivers");
    g_autofree char *upstream = upstream_of (state);
    guint i;

    g_assert_cmpuint (json_array_get_length (stations), ==, g_hash_table_size (before));
    for (i = 0; i < json_array_get_length (stations); i++) {
      JsonNode *node = json_array_get_element (stations, i);
      g_autofree char *text = json_to_string (node, FALSE);
      const char *id = music_str (json_node_get_object (node), "id");

      g_assert_cmpstr (text, ==, g_hash_table_lookup (before, id));
    }
    g_assert_cmpuint (station_count (m, OTHER), ==, 1);
    g_assert_cmpstr (music_str (state, "mode"), ==, "radio");
    g_assert_cmpstr (music_str (state, "previousMode"), ==, "none");
    g_assert_cmpstr (music_str (json_object_get_object_member (state, "station"), "id"), ==,
        mount_id);
    g_assert_cmpstr (music_str (receivers, "session"), ==, session);
    g_assert_cmpint (music_int (receivers, "port"), >, 0);
    g_assert_nonnull (upstream);
    g_test_message ("after the restart: upstream %s", upstream);
  }
  /* deleting the playing station ends radio mode */
  {
    g_autoptr (EchodReply) del G_GNUC_UNUSED = music_expect (m, 204, "DELETE", NULL, NULL,
        "/api/radio/%s/stations/%s", COMM, mount_id);
    g_autoptr (JsonObject) state = radio_state (m, COMM);

    g_assert_cmpstr (music_str (state, "mode"), ==, "none");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (state, "upstream")));
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (state, "station")));
  }
}

/* ---------------------------------------------------------------------------------- */
/* 2. A broadcaster pushes into echod                                                   */

#define PUSH_COMM "guild-radio-push"

static void
test_push (void)
{
  g_autoptr (MusicEchod) m = NULL;
  g_autoptr (MusicWs) rws = NULL;
  g_autoptr (MusicWs) ows = NULL;
  g_autoptr (Receiver) rx = NULL;
  g_autoptr (IcyListener) icy = NULL;
  g_autoptr (JsonObject) state = NULL;
  g_autofree char *station = NULL;
  GSubprocess *ffmpeg;
  GstClockTime t_kill, t_fallback, t_end;
  Span before, silence, whole;

  if (!have_program ("ffmpeg")) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  m = music_echod_start (RADIO_CONFIG);
  ffmpeg = push_source (m, "/live", 440);
  wait_sources (m, 1);
  station = create_station (m, PUSH_COMM, "{\"providerType\":\"live\",\"name\":\"Push FM\","
      "\"mount\":\"/live\"}");
  rws = radio_ws (m, PUSH_COMM);
  ows = overlay_ws (m, PUSH_COMM);
  {
    g_autoptr (JsonObject) switched G_GNUC_UNUSED = set_radio (m, PUSH_COMM, station);
    g_autoptr (JsonObject) changed G_GNUC_UNUSED =
        wait_event (rws, "radio:mode_change", "mode", "radio");
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_event (ows, "overlay:mode_change", "mode", "radio");
  }
  state = wait_upstream (m, PUSH_COMM, "playing");
  g_assert_cmpstr (music_str (state, "mode"), ==, "radio");
  rx = receiver_new (state);
  receiver_wait_loud (rx, 500);
  assert_tone (receiver_listen (rx, 2000), 440, "pushed tone at the receiver");

  /* an ICY listener gets the MP3 with in-band titles */
  icy = icy_listener_new (echod_harness_port (music_echod_harness (m)), "/live");
  {
    gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

    while (icy_audio_bytes (icy) < 32000 && g_get_monotonic_time () < until)
      echod_harness_spin (50);
    g_mutex_lock (&icy->lock);
    g_test_message ("ICY listener: %s, icy-metaint %u, %" G_GUINT64_FORMAT " bytes, %u MP3 "
        "frames chained", icy->status_line, icy->metaint, icy->audio_bytes, icy->mp3_frames);
    g_assert_null (icy->error);
    g_assert_nonnull (strstr (icy->status_line, " 200"));
    g_assert_cmpuint (icy->metaint, >, 0);
    g_assert_cmpuint (icy->audio_bytes, >=, 32000);
    g_assert_cmpuint (icy->mp3_frames, >=, 3);
    g_mutex_unlock (&icy->lock);
  }

  /* a title: to the radio room, the overlay, the ICY stream */
  {
    double t0, at_radio = 0, at_overlay = 0, at_icy;
    g_autoptr (JsonObject) np = NULL;
    g_autoptr (JsonObject) shown = NULL;
    g_autoptr (JsonObject) now = NULL;

    music_ws_drain (rws);
    music_ws_drain (ows);
    t0 = wall_ms ();
    updinfo (m, "/live", "Echo Artist - Push Title One");
    np = wait_title (rws, "radio:now_playing", "Push Title One", &at_radio);
    shown = wait_title (ows, "overlay:now_playing", "Push Title One", &at_overlay);
    at_icy = icy_wait_title (icy, "Echo Artist - Push Title One");
    g_test_message ("metadata delay from the updinfo request: radio:now_playing %.1f ms, "
        "overlay:now_playing %.1f ms, ICY in-band %.1f ms", at_radio - t0, at_overlay - t0,
        at_icy - t0);
    g_assert_cmpstr (now_playing_member (np, "artist"), ==, "Echo Artist");
    g_assert_cmpstr (music_str (np, "kind"), ==, "radio");
    g_assert_cmpstr (music_str (np, "communityId"), ==, PUSH_COMM);
    g_assert_cmpstr (music_str (np, "stationId"), ==, station);
    g_assert_cmpstr (music_str (np, "stationName"), ==, "Push FM");
    g_assert_cmpstr (music_str (shown, "kind"), ==, "radio");
    g_assert_cmpstr (music_str (shown, "stationId"), ==, station);
    now = radio_state (m, PUSH_COMM);
    g_assert_cmpstr (now_playing_member (now, "title"), ==, "Push Title One");
  }

  /* the broadcaster dies: fallback, continuous silence, no garbage */
  music_ws_drain (rws);
  t_kill = receiver_now (rx);
  kill_source (ffmpeg);
  {
    g_autoptr (JsonObject) fallback = wait_event (rws, "radio:upstream", "upstream",
        "fallback");
    g_autoptr (JsonObject) now G_GNUC_UNUSED = wait_upstream (m, PUSH_COMM, "fallback");

    g_test_message ("upstream: %s (%s)", music_str (fallback, "upstream"),
        json_object_get_string_member_with_default (fallback, "detail", ""));
  }
  t_fallback = receiver_now (rx);
  echod_harness_spin (4000);
  t_end = receiver_now (rx) - 500 * GST_MSECOND;
  before = receiver_span (rx, t_kill - GST_SECOND, t_kill);
  silence = receiver_span (rx, t_fallback + GST_SECOND, t_end);
  whole = receiver_span (rx, t_kill - GST_SECOND, t_end);
  g_test_message ("before the kill: %.0f Hz rms %.3f; fallback: %u blocks rms %.5f; whole: "
      "%u blocks over %.0f ms, max step %.3f, gaps %u (all along %u), bad samples %u",
      before.freq, before.rms, silence.blocks, silence.rms, whole.blocks,
      (double) (t_end - (t_kill - GST_SECOND)) / GST_MSECOND, whole.max_step, whole.gaps,
      rx->gaps, whole.bad);
  g_assert_cmpfloat (fabs (before.freq - 440), <, 30);
  g_assert_cmpfloat (silence.rms, <, 0.001);
  /* continuous: every 10 ms of the timeline was received, without a jump */
  g_assert_cmpuint (whole.gaps, ==, 0);
  g_assert_cmpuint (whole.blocks * BLOCK_MS + 50, >=,
      (t_end - (t_kill - GST_SECOND)) / GST_MSECOND);
  g_assert_cmpuint (silence.blocks, >, 100);
  g_assert_cmpuint (whole.bad, ==, 0);
  g_assert_cmpfloat (whole.max_step, <, CLICK_STEP);
  /* the mount ended: so did the ICY stream */
  g_clear_pointer (&icy, icy_listener_free);
  g_clear_pointer (&rx, receiver_free);
  g_clear_pointer (&rws, music_ws_free);
  g_clear_pointer (&ows, music_ws_free);

  /* after a restart the session is back in radio mode; the broadcaster reconnects */
  {
    g_autofree char *session = g_strdup (music_str (json_object_get_object_member (state,
                "receivers"), "session"));
    g_autoptr (JsonObject) restored = NULL;

    music_echod_restart (m);
    restored = radio_state (m, PUSH_COMM);
    g_assert_cmpstr (music_str (restored, "mode"), ==, "radio");
    g_assert_cmpstr (music_str (json_object_get_object_member (restored, "receivers"),
            "session"), ==, session);
    ffmpeg = push_source (m, "/live", 660);
    g_clear_pointer (&state, json_object_unref);
    state = wait_upstream (m, PUSH_COMM, "playing");
    rx = receiver_new (state);
    receiver_wait_loud (rx, 500);
    assert_tone (receiver_listen (rx, 2000), 660, "after the restart");
    kill_source (ffmpeg);
  }
}

/* ---------------------------------------------------------------------------------- */
/* 3. Pull from a real icecast2                                                         */

#define PULL_COMM "guild-radio-pull"
#define PULL_MOUNT "/pull.mp3"

static void
test_pull (void)
{
  g_autofree char *icecast = echo_icecast_find_binary ();
  g_autoptr (EchoIcecast) ic = NULL;
  g_autoptr (MusicEchod) m = NULL;
  g_autoptr (MusicWs) rws = NULL;
  g_autoptr (MusicWs) ows = NULL;
  g_autoptr (Receiver) rx = NULL;
  g_autoptr (JsonObject) state = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL, *target = NULL, *body = NULL, *station = NULL;

  if (icecast == NULL || !have_program ("ffmpeg")) {
    g_test_skip (icecast == NULL ? "icecast2 is not installed" : "ffmpeg is not installed");
    return;
  }
  ic = echo_icecast_new ();
  if (!echo_icecast_start (ic, &error)) {
    g_autofree char *logs = echo_icecast_get_logs (ic);

    g_error ("Icecast did not start: %s\n%s", error->message, logs);
  }
  target = g_strdup_printf ("icecast://source:%s@127.0.0.1:%u" PULL_MOUNT,
      echo_icecast_get_source_password (ic), echo_icecast_get_port (ic));
  {
    const char *argv[] = { "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
      "-re", "-f", "lavfi", "-t", "600", "-i", "sine=frequency=550:sample_rate=44100,volume=3",
      "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg",
      "-ice_name", "Echo Pull Radio", "-ice_genre", "Tones", "-f", "mp3", target, NULL
    };

    g_assert_true (echo_icecast_spawn_source (ic, "ffmpeg", argv, &error));
    g_assert_no_error (error);
  }
  g_assert_true (echo_icecast_wait_mount (ic, PULL_MOUNT, WAIT_MS, &error));
  g_assert_no_error (error);

  m = music_echod_start (RADIO_CONFIG);
  url = echo_icecast_get_url (ic, PULL_MOUNT);
  body = g_strdup_printf ("{\"providerType\":\"icecast\",\"name\":\"Pulled\","
      "\"streamUrl\":\"%s\",\"customHeaders\":{\"X-Echo-Test\":\"1\"}}", url);
  station = create_station (m, PULL_COMM, body);
  rws = radio_ws (m, PULL_COMM);
  ows = overlay_ws (m, PULL_COMM);
  {
    g_autoptr (JsonObject) switched G_GNUC_UNUSED = set_radio (m, PULL_COMM, station);
  }
  state = wait_upstream (m, PULL_COMM, "playing");
  rx = receiver_new (state);
  receiver_wait_loud (rx, 500);
  assert_tone (receiver_listen (rx, 2000), 550, "pulled tone at the receiver");

  /* titles in-band from Icecast */
  {
    double t0, at_radio = 0, at_overlay = 0;
    g_autoptr (JsonObject) np = NULL;
    g_autoptr (JsonObject) shown = NULL;
    JsonObject *now_playing;

    music_ws_drain (rws);
    t0 = wall_ms ();
    g_assert_true (echo_icecast_set_song (ic, PULL_MOUNT, "Pull Artist - Pull Song",
            "UTF-8", &error));
    g_assert_no_error (error);
    np = wait_title (rws, "radio:now_playing", "Pull Song", &at_radio);
    shown = wait_title (ows, "overlay:now_playing", "Pull Song", &at_overlay);
    g_test_message ("pulled title delay from Icecast's updinfo: radio:now_playing %.1f ms, "
        "overlay:now_playing %.1f ms", at_radio - t0, at_overlay - t0);
    now_playing = json_object_get_object_member (np, "nowPlaying");
    g_assert_cmpstr (music_str (now_playing, "artist"), ==, "Pull Artist");
    g_assert_cmpstr (music_str (now_playing, "station"), ==, "Echo Pull Radio");
    g_assert_cmpstr (music_str (now_playing, "genre"), ==, "Tones");
    g_assert_cmpstr (music_str (np, "stationId"), ==, station);
  }
  g_assert_true (echo_icecast_set_song (ic, PULL_MOUNT, "Pull Artist - Second Song",
          "UTF-8", &error));
  {
    g_autoptr (JsonObject) np G_GNUC_UNUSED =
        wait_title (rws, "radio:now_playing", "Second Song", NULL);
    g_autoptr (JsonObject) now = radio_state (m, PULL_COMM);

    g_assert_cmpstr (now_playing_member (now, "title"), ==, "Second Song");
  }
  {
    g_autoptr (JsonObject) stopped = set_mode (m, PULL_COMM, NULL, "{\"mode\":\"none\"}", 200);

    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (stopped, "upstream")));
  }
}

/* ---------------------------------------------------------------------------------- */
/* 4. The mode controller and the community's music                                     */

#define MODE_COMM "guild-radio-modes"

static void
test_modes (void)
{
  g_autoptr (MusicEchod) m = music_echod_start (RADIO_CONFIG);
  g_autoptr (GBytes) tone = music_make_tone ("wav", 30.0);
  g_autofree char *sid = music_start_session (m, "alice", MODE_COMM, "vc-1");
  g_autofree char *track = NULL, *station = NULL, *item = NULL;
  g_autoptr (MusicWs) mws = music_ws_connect (m, "alice");
  g_autoptr (MusicWs) rws = NULL;
  g_autoptr (MusicWs) ows = NULL;
  g_autoptr (JsonObject) joined G_GNUC_UNUSED = music_ws_join (mws, sid);

  {
    g_autoptr (EchodReply) put = music_upload (m, "alice", "tone.wav", "audio/wav", tone,
        &track);

    g_assert_cmpuint (put->status, ==, 200);
  }
  item = music_add (m, sid, "alice", track);
  {
    g_autoptr (JsonObject) playing G_GNUC_UNUSED =
        music_ws_wait (mws, "music:session_state", "state",
        "PLAYING");
  }
  station = create_station (m, MODE_COMM, "{\"providerType\":\"live\",\"name\":\"Mode FM\","
      "\"mount\":\"/modes\"}");
  rws = radio_ws (m, MODE_COMM);
  ows = overlay_ws (m, MODE_COMM);

  /* radio: the music pauses */
  {
    g_autoptr (JsonObject) state = set_radio (m, MODE_COMM, station);
    g_autoptr (JsonObject) paused G_GNUC_UNUSED =
        music_ws_wait (mws, "music:session_state", "state",
        "PAUSED");
    g_autoptr (JsonObject) changed = wait_event (rws, "radio:mode_change", "mode", "radio");
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_event (ows, "overlay:mode_change", "mode", "radio");
    g_autofree char *name = music_state_name (m, sid);

    g_assert_cmpstr (music_str (state, "mode"), ==, "radio");
    g_assert_true (json_object_get_boolean_member (state, "musicPausedOnSwitch"));
    g_assert_cmpstr (music_str (changed, "previousMode"), ==, "none");
    g_assert_cmpstr (music_str (json_object_get_object_member (changed, "station"), "id"), ==,
        station);
    g_assert_cmpint (music_int (changed, "switchedAt"), >, 0);
    g_assert_cmpstr (name, ==, "PAUSED");
  }
  /* music: the radio stops, the music plays again */
  {
    g_autoptr (JsonObject) state = set_mode (m, MODE_COMM, NULL, "{\"mode\":\"music\"}", 200);
    g_autoptr (JsonObject) playing G_GNUC_UNUSED =
        music_ws_wait (mws, "music:session_state", "state",
        "PLAYING");
    g_autoptr (JsonObject) changed = wait_event (rws, "radio:mode_change", "mode", "music");
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_event (ows, "overlay:mode_change", "mode", "music");
    g_autoptr (JsonObject) now = radio_state (m, MODE_COMM);
    g_autofree char *name = music_state_name (m, sid);

    g_assert_cmpstr (music_str (state, "mode"), ==, "music");
    g_assert_cmpstr (music_str (changed, "previousMode"), ==, "radio");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (now, "upstream")));
    g_assert_false (json_object_get_boolean_member (now, "musicPausedOnSwitch"));
    g_assert_cmpstr (name, ==, "PLAYING");
  }
  /* radio again (the last station), then a music play switches back to music */
  {
    g_autoptr (JsonObject) state = set_mode (m, MODE_COMM, NULL, "{\"mode\":\"radio\"}", 200);
    g_autoptr (JsonObject) paused G_GNUC_UNUSED =
        music_ws_wait (mws, "music:session_state", "state",
        "PAUSED");
    g_autoptr (JsonObject) changed G_GNUC_UNUSED =
        wait_event (rws, "radio:mode_change", "mode", "radio");

    g_assert_cmpstr (music_str (json_object_get_object_member (state, "station"), "id"), ==,
        station);
  }
  {
    g_autoptr (EchodReply) play G_GNUC_UNUSED = music_expect (m, 200, "POST", "alice",
        "{\"action\":\"play\"}", "/api/music/session/%s/control", sid);
    g_autoptr (JsonObject) changed G_GNUC_UNUSED =
        wait_event (rws, "radio:mode_change", "mode", "music");
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_event (ows, "overlay:mode_change", "mode", "music");
    g_autoptr (JsonObject) playing G_GNUC_UNUSED =
        music_ws_wait (mws, "music:session_state", "state",
        "PLAYING");
    g_autoptr (JsonObject) now = radio_state (m, MODE_COMM);

    g_assert_cmpstr (music_str (now, "mode"), ==, "music");
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (now, "upstream")));
    music_wait_state (m, sid, "PLAYING");
  }
  /* none */
  {
    g_autoptr (JsonObject) state = set_mode (m, MODE_COMM, NULL, "{\"mode\":\"none\"}", 200);
    g_autoptr (JsonObject) changed G_GNUC_UNUSED =
        wait_event (rws, "radio:mode_change", "mode", "none");
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_event (ows, "overlay:mode_change", "mode", "none");
    g_autoptr (JsonObject) now = radio_state (m, MODE_COMM);

    g_assert_cmpstr (music_str (state, "mode"), ==, "none");
    g_assert_cmpstr (music_str (now, "mode"), ==, "none");
    g_assert_cmpstr (music_str (now, "previousMode"), ==, "music");
  }
  /* refusals change nothing */
  {
    g_autoptr (JsonObject) r1 G_GNUC_UNUSED = set_mode (m, MODE_COMM, NULL,
        "{\"mode\":\"tv\"}", 400);
    g_autoptr (JsonObject) r2 G_GNUC_UNUSED = set_mode (m, MODE_COMM, NULL,
        "{\"mode\":\"radio\",\"stationId\":\"no-such-station\"}", 400);
    g_autoptr (JsonObject) r3 G_GNUC_UNUSED = set_mode (m, MODE_COMM, NULL,
        "{\"stationId\":\"x\"}", 400);
    g_autoptr (JsonObject) r4 G_GNUC_UNUSED = set_mode (m, MODE_COMM, "bob",
        "{\"mode\":\"radio\"}", 403);
    g_autoptr (JsonObject) now = radio_state (m, MODE_COMM);

    g_assert_cmpstr (music_str (now, "mode"), ==, "none");
  }
  /* a disabled station cannot play */
  {
    g_autoptr (EchodReply) off G_GNUC_UNUSED =
        music_expect (m, 200, "PUT", NULL, "{\"enabled\":false}",
        "/api/radio/%s/stations/%s", MODE_COMM, station);
    g_autofree char *body = g_strdup_printf ("{\"mode\":\"radio\",\"stationId\":\"%s\"}",
        station);
    g_autoptr (JsonObject) refused G_GNUC_UNUSED = set_mode (m, MODE_COMM, NULL, body, 400);
  }
}

/* ---------------------------------------------------------------------------------- */
/* 5. A station whose titles come from a JSON API (libsoup on loopback, own thread)     */

#define API_COMM "guild-radio-api"

typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  guint16 port;
  GMutex lock;
  GCond cond;
  gboolean ready;
  char *title;
  guint polls;
  char *authorization;
} ApiServer;

static void
api_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer data)
{
  ApiServer *a = data;
  g_autofree char *body = NULL;

  if (strcmp (path, "/now") != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  g_mutex_lock (&a->lock);
  a->polls++;
  g_free (a->authorization);
  a->authorization = g_strdup (soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg), "Authorization"));
  body = g_strdup_printf ("{\"data\":{\"song\":{\"title\":\"%s\",\"artist\":\"API Artist\","
      "\"plays\":3}},\"other\":[1,2]}", a->title);
  g_mutex_unlock (&a->lock);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body,
      strlen (body));
}

static gpointer
api_main (gpointer data)
{
  ApiServer *a = data;
  g_autoptr (GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (a->context);
  a->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (a->server, NULL, api_handler, a, NULL);
  if (!soup_server_listen_local (a->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("the metadata API server cannot listen: %s", error->message);
  uris = soup_server_get_uris (a->server);
  g_mutex_lock (&a->lock);
  a->port = (guint16) g_uri_get_port (uris->data);
  a->ready = TRUE;
  g_cond_signal (&a->cond);
  g_mutex_unlock (&a->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (a->loop);
  soup_server_disconnect (a->server);
  g_object_unref (a->server);
  g_main_context_pop_thread_default (a->context);
  return NULL;
}

static ApiServer *
api_server_new (const char *title)
{
  ApiServer *a = g_new0 (ApiServer, 1);

  g_mutex_init (&a->lock);
  g_cond_init (&a->cond);
  a->title = g_strdup (title);
  a->context = g_main_context_new ();
  a->loop = g_main_loop_new (a->context, FALSE);
  a->thread = g_thread_new ("metadata-api", api_main, a);
  g_mutex_lock (&a->lock);
  while (!a->ready)
    g_cond_wait (&a->cond, &a->lock);
  g_mutex_unlock (&a->lock);
  return a;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
api_server_free (ApiServer *a)
{
  g_main_context_invoke (a->context, quit_loop, a->loop);
  g_thread_join (a->thread);
  g_main_loop_unref (a->loop);
  g_main_context_unref (a->context);
  g_mutex_clear (&a->lock);
  g_cond_clear (&a->cond);
  g_free (a->title);
  g_free (a->authorization);
  g_free (a);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ApiServer, api_server_free)

static void
api_set_title (ApiServer *a, const char *title)
{
  g_mutex_lock (&a->lock);
  g_free (a->title);
  a->title = g_strdup (title);
  g_mutex_unlock (&a->lock);
}

static guint
api_polls (ApiServer *a)
{
  guint n;

  g_mutex_lock (&a->lock);
  n = a->polls;
  g_mutex_unlock (&a->lock);
  return n;
}

static void
test_api_titles (void)
{
  g_autoptr (ApiServer) api = api_server_new ("First Song");
  g_autoptr (MusicEchod) m = music_echod_start (RADIO_CONFIG);
  g_autoptr (MusicWs) rws = NULL;
  g_autoptr (MusicWs) ows = NULL;
  g_autofree char *body = NULL, *station = NULL;
  double t0;

  /* the audio comes from a URL that is down (404): the titles are the API's anyway */
  body = g_strdup_printf ("{\"providerType\":\"pretzel\",\"name\":\"API FM\","
      "\"streamUrl\":\"http://127.0.0.1:%u/stream\",\"metadataSource\":\"api\","
      "\"apiEndpoint\":\"http://127.0.0.1:%u/now\",\"apiKey\":\"api-key-42\","
      "\"metadataPaths\":{\"title\":\"data.song.title\",\"artist\":\"data.song.artist\","
      "\"album\":\"other.1\"},\"pollSeconds\":5}", api->port, api->port);
  station = create_station (m, API_COMM, body);
  rws = radio_ws (m, API_COMM);
  ows = overlay_ws (m, API_COMM);
  {
    g_autoptr (JsonObject) switched G_GNUC_UNUSED = set_radio (m, API_COMM, station);
    g_autoptr (JsonObject) np = wait_title (rws, "radio:now_playing", "First Song", NULL);
    g_autoptr (JsonObject) shown G_GNUC_UNUSED =
        wait_title (ows, "overlay:now_playing", "First Song",
        NULL);
    JsonObject *now_playing = json_object_get_object_member (np, "nowPlaying");

    g_assert_cmpstr (music_str (now_playing, "artist"), ==, "API Artist");
    g_assert_cmpstr (music_str (now_playing, "album"), ==, "2");
    g_assert_cmpstr (music_str (now_playing, "station"), ==, "API FM");
    g_assert_cmpstr (music_str (np, "stationId"), ==, station);
  }
  g_mutex_lock (&api->lock);
  g_assert_cmpstr (api->authorization, ==, "Bearer api-key-42");
  g_mutex_unlock (&api->lock);

  /* a change is announced at the next poll */
  t0 = wall_ms ();
  api_set_title (api, "Second Song");
  {
    double at = 0;
    g_autoptr (JsonObject) np G_GNUC_UNUSED =
        wait_title (rws, "radio:now_playing", "Second Song", &at);
    g_autoptr (JsonObject) now = radio_state (m, API_COMM);

    g_test_message ("the API's new title was announced %.0f ms after it changed (polls "
        "every 5 s)", at - t0);
    g_assert_cmpstr (now_playing_member (now, "title"), ==, "Second Song");
  }
  /* unchanged answers announce nothing */
  {
    guint polls = api_polls (api), announced = 0;
    gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

    while (api_polls (api) < polls + 2 && g_get_monotonic_time () < until)
      announced += count_events (rws, "radio:now_playing", 200);
    announced += count_events (rws, "radio:now_playing", 500);
    g_assert_cmpuint (api_polls (api), >=, polls + 2);
    g_assert_cmpuint (announced, ==, 0);
  }
  /* radio off: the polling stops */
  {
    g_autoptr (JsonObject) stopped G_GNUC_UNUSED = set_mode (m, API_COMM, NULL,
        "{\"mode\":\"none\"}", 200);
    guint polls;

    echod_harness_spin (500);
    polls = api_polls (api);
    echod_harness_spin (6000);
    g_assert_cmpuint (api_polls (api), ==, polls);
  }
  /* a pushed mount whose broadcaster is not on air yet: the API's titles are announced
   * all the same (there is no pushed audio for them to travel with) */
  {
    g_autofree char *mount_body = g_strdup_printf ("{\"providerType\":\"pretzel\","
        "\"name\":\"API Live\",\"mount\":\"/apilive\",\"metadataSource\":\"api\","
        "\"apiEndpoint\":\"http://127.0.0.1:%u/now\",\"metadataPaths\":{\"title\":"
        "\"data.song.title\"},\"pollSeconds\":5}", api->port);
    g_autofree char *live = create_station (m, API_COMM, mount_body);
    g_autoptr (JsonObject) switched G_GNUC_UNUSED = NULL;
    g_autoptr (JsonObject) np = NULL;

    api_set_title (api, "Third Song");
    music_ws_drain (rws);
    switched = set_radio (m, API_COMM, live);
    np = wait_title (rws, "radio:now_playing", "Third Song", NULL);
    g_assert_cmpstr (music_str (np, "stationId"), ==, live);
  }
}

/* A metadata API is fetched under the resolver's SSRF guard: without [resolver]
 * allow-private, one on a loopback address is never asked (a community admin must not make
 * echod read its host's or its LAN's services and broadcast what it finds). */
static void
test_api_guard (void)
{
  g_autoptr (ApiServer) api = api_server_new ("Internal Secret");
  g_autoptr (MusicEchod) m = music_echod_start (RADIO_CONFIG
      "[resolver]\nallow-private=false\n");
  g_autoptr (MusicWs) rws = NULL;
  g_autofree char *body = NULL, *station = NULL;

  body = g_strdup_printf ("{\"providerType\":\"pretzel\",\"name\":\"Nosy FM\","
      "\"streamUrl\":\"http://127.0.0.1:%u/stream\",\"metadataSource\":\"api\","
      "\"apiEndpoint\":\"http://127.0.0.1:%u/now\",\"metadataPaths\":{\"title\":"
      "\"data.song.title\"},\"pollSeconds\":5}", api->port, api->port);
  station = create_station (m, API_COMM, body);
  rws = radio_ws (m, API_COMM);
  {
    g_autoptr (JsonObject) switched G_GNUC_UNUSED = set_radio (m, API_COMM, station);
  }
  /* the first poll is due at once: give it time to have happened */
  g_assert_cmpuint (count_events (rws, "radio:now_playing", 3000), ==, 0);
  g_assert_cmpuint (api_polls (api), ==, 0);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod-radio/stations", test_stations);
  g_test_add_func ("/echod-radio/push", test_push);
  g_test_add_func ("/echod-radio/pull", test_pull);
  g_test_add_func ("/echod-radio/modes", test_modes);
  g_test_add_func ("/echod-radio/api-titles", test_api_titles);
  g_test_add_func ("/echod-radio/api-guard", test_api_guard);
  return echod_test_exit (g_test_run ());
}
