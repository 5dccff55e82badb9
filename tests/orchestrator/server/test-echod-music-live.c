/* test-echod-music-live.c: the live side of a real echod's music sessions: WebSocket events,
 * the sync protocol, and server-side playback heard by an echosyncsrc receiver. It proves:
 *  - a client in a session's room gets music:session_state, music:queue_updated,
 *    music:now_playing and music:control_ack as commands change the session; the overlay
 *    room gets overlay:now_playing; malformed messages get music:error and the socket lives;
 *  - a client joining with "queue":"delta" gets music:queue_delta events chained by version;
 *  - a client joining mid-track gets startedAt/offsetMs from which its position is right;
 *  - music:time gives a sane clock offset; music:sync_ping arrives while playing;
 *  - heartbeats drifting 800 ms get music:sync_command seek, 4 s resync, 100 ms nothing;
 *    one measured before a pause, or just after it, is not judged;
 *  - client-played tracks advance at their deadline on the server's clock;
 *  - an uploaded file plays in the session's pipeline: `echosyncsrc session=ID` on the
 *    port GET state gives hears it; pause and skip silence it, play resumes it; it ends by
 *    itself into history.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <math.h>
#include <string.h>

#include "echod-music-util.h"

#define YT(id) "https://www.youtube.com/watch?v=" id
#define WAIT_EVENT_MS 10000
#define SP_URL "https://open.spotify.com/track/" MUSIC_SP_TRACK

static double
now_ms (void)
{
  return g_get_real_time () / 1000.0;
}

static JsonObject *
session_of (JsonObject *state)
{
  return json_object_get_object_member (state, "session");
}

static void
control (MusicEchod *m, const char *sid, const char *as, const char *body, guint status)
{
  g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, status, "POST", as, body,
      "/api/music/session/%s/control", sid);
}

/* --- events --- */

static void
test_events (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *bob_token = music_token (m, "bob", NULL);
  g_autoptr (MusicWs) alice = NULL;
  g_autoptr (MusicWs) bob = NULL;
  g_autoptr (MusicWs) overlay = NULL;
  g_autofree char *i1 = NULL, *i2 = NULL;

  music_add_member (m, sid, "bob", NULL);
  alice = music_ws_connect (m, "alice");
  bob = music_ws_connect (m, bob_token);
  overlay = music_ws_connect (m, bob_token);
  {
    g_autoptr (JsonObject) state = music_ws_join (alice, sid);
    g_autoptr (JsonObject) queue = music_ws_wait (alice, "music:queue_updated", "sessionId",
        sid);

    g_assert_cmpstr (music_str (state, "state"), ==, "IDLE");
    g_assert_cmpstr (music_str (state, "id"), ==, sid);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (queue, "queue")),
        ==, 0);
  }
  {
    g_autoptr (JsonObject) state G_GNUC_UNUSED = music_ws_join (bob, sid);
  }
  music_ws_send (overlay, "{\"type\":\"overlay:subscribe\",\"serverId\":\"guild-1\"}");
  echod_harness_spin (200);
  music_ws_drain (bob);

  /* add to an idle session: it starts, and everyone in the room hears of it */
  i1 = music_add (m, sid, "alice", l1);
  {
    g_autoptr (JsonObject) state = music_ws_wait (alice, "music:session_state", "state",
        "PLAYING");
    g_autoptr (JsonObject) playing = music_ws_wait (alice, "music:now_playing", "itemId", i1);
    g_autoptr (JsonObject) bob_playing = music_ws_wait (bob, "music:now_playing", "itemId",
        i1);
    g_autoptr (JsonObject) shown = music_ws_wait (overlay, "overlay:now_playing", "itemId",
        i1);

    g_assert_cmpstr (music_str (json_object_get_object_member (state, "currentTrack"), "id"),
        ==, l1);
    g_assert_cmpstr (music_str (json_object_get_object_member (playing, "track"), "id"), ==,
        l1);
    g_assert_cmpint (music_int (playing, "startedAt"), >, 0);
    g_assert_cmpint (music_int (playing, "startedAt"), ==, music_int (state, "startedAt"));
    g_assert_cmpint (music_int (bob_playing, "startedAt"), ==, music_int (state,
            "startedAt"));
    g_assert_cmpint (music_int (playing, "offsetMs"), ==, 0);
    g_assert_cmpstr (music_str (shown, "serverId"), ==, "guild-1");
  }
  i2 = music_add (m, sid, "bob", l2);
  {
    g_autoptr (JsonObject) queue = music_ws_wait (alice, "music:queue_updated", NULL, NULL);
    JsonArray *items = json_object_get_array_member (queue, "queue");

    g_assert_cmpuint (json_array_get_length (items), ==, 1);
    g_assert_cmpstr (music_str (json_array_get_object_element (items, 0), "id"), ==, i2);
    g_assert_cmpstr (music_str (json_array_get_object_element (items, 0), "addedById"), ==,
        "bob");
  }
  /* control: the new state to the room, then the ack */
  control (m, sid, "alice", "{\"action\":\"pause\"}", 200);
  {
    g_autoptr (JsonObject) state = music_ws_wait (bob, "music:session_state", "state",
        "PAUSED");
    g_autoptr (JsonObject) ack = music_ws_wait (bob, "music:control_ack", "action", "pause");

    g_assert_cmpstr (music_str (ack, "by"), ==, "alice");
    g_assert_cmpstr (music_str (ack, "state"), ==, "PAUSED");
    g_assert_true (json_object_get_boolean_member (ack, "changed"));
    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (state, "startedAt")));
  }
  control (m, sid, "bob", "{\"action\":\"play\"}", 200);
  {
    g_autoptr (JsonObject) ack = music_ws_wait (alice, "music:control_ack", "action", "play");

    g_assert_cmpstr (music_str (ack, "by"), ==, "bob");
    g_assert_cmpint (music_int (ack, "startedAt"), >, 0);
  }
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  {
    g_autoptr (JsonObject) playing G_GNUC_UNUSED = music_ws_wait (bob, "music:now_playing", "itemId", i2);
    g_autoptr (JsonObject) shown G_GNUC_UNUSED = music_ws_wait (overlay, "overlay:now_playing", "itemId",
        i2);
  }
  /* bad messages: music:error, and the socket keeps working */
  {
    g_autoptr (JsonObject) e1 = NULL;
    g_autoptr (JsonObject) e2 = NULL;
    g_autoptr (JsonObject) e3 = NULL;
    g_autoptr (JsonObject) reply = NULL;

    music_ws_drain (alice);
    music_ws_send (alice, "not json");
    e1 = music_ws_wait (alice, "music:error", NULL, NULL);
    music_ws_send (alice, "{\"type\":\"music:dance\"}");
    e2 = music_ws_wait (alice, "music:error", NULL, NULL);
    music_ws_send (alice, "{\"type\":\"music:join_session\",\"sessionId\":\"no-such\"}");
    e3 = music_ws_wait (alice, "music:error", NULL, NULL);
    g_assert_cmpstr (music_str (e1, "code"), ==, "INVALID_REQUEST");
    g_assert_cmpstr (music_str (e2, "code"), ==, "INVALID_REQUEST");
    g_assert_cmpstr (music_str (e3, "code"), ==, "NOT_FOUND");
    music_ws_send (alice, "{\"type\":\"music:time\",\"t0\":1}");
    reply = music_ws_wait (alice, "music:time", NULL, NULL);
  }
  /* leaving the room: no more events */
  {
    g_autofree char *leave = g_strdup_printf ("{\"type\":\"music:leave_session\","
        "\"sessionId\":\"%s\"}", sid);

    music_ws_send (bob, leave);
    echod_harness_spin (300);
    music_ws_drain (bob);
    control (m, sid, "alice", "{\"action\":\"pause\"}", 200);
    {
      g_autoptr (JsonObject) ack G_GNUC_UNUSED = music_ws_wait (alice, "music:control_ack", "action",
          "pause");
    }
    g_assert_false (music_ws_sees (bob, "music:control_ack", 1000));
  }
}

/* --- late join, the time exchange, sync pings and drift --- */

/* Sends a heartbeat at @position measured at @at (our clock: the server's, on one
 * machine), then a music:time fence; returns the sync_command action seen before the
 * fence (or NULL), whose drift must be @drift_ms. */
static char *
heartbeat_at (MusicWs *ws, const char *sid, double at, double position, double drift_ms)
{
  g_autofree char *text = NULL;
  char pos[G_ASCII_DTOSTR_BUF_SIZE], when[G_ASCII_DTOSTR_BUF_SIZE];
  char drift[G_ASCII_DTOSTR_BUF_SIZE];
  gint64 until = g_get_monotonic_time () + MUSIC_TIMEOUT_MS * 1000;
  char *action = NULL;

  text = g_strdup_printf ("{\"type\":\"music:heartbeat\",\"sessionId\":\"%s\","
      "\"clientOffset\":%s,\"drift\":%s,\"clientTime\":%s}", sid,
      g_ascii_dtostr (pos, sizeof pos, position), g_ascii_dtostr (drift, sizeof drift,
          drift_ms), g_ascii_dtostr (when, sizeof when, at));
  music_ws_send (ws, text);
  music_ws_send (ws, "{\"type\":\"music:time\",\"t0\":12345}");
  while (g_get_monotonic_time () < until) {
    g_autoptr (JsonObject) msg = music_ws_next (ws, 1000, NULL);
    const char *type;

    if (msg == NULL)
      continue;
    type = music_str (msg, "type");
    if (strcmp (type, "music:time") == 0)
      return action;
    if (strcmp (type, "music:sync_command") == 0) {
      g_assert_null (action);
      g_assert_cmpstr (music_str (msg, "sessionId"), ==, sid);
      g_assert_cmpfloat (fabs (json_object_get_double_member (msg, "drift") - drift_ms), <,
          250);
      action = g_strdup (music_str (msg, "action"));
    } else if (strcmp (type, "music:error") == 0) {
      g_error ("heartbeat refused: %s", music_str (msg, "error"));
    }
  }
  g_error ("no answer to music:time");
  return NULL;
}

/* A heartbeat measured now, @drift_ms off the playing timeline. */
static char *
heartbeat (MusicWs *ws, const char *sid, gint64 started_at, gint64 offset, double drift_ms)
{
  double at = now_ms ();

  return heartbeat_at (ws, sid, at, offset + (at - started_at) + drift_ms, drift_ms);
}

static void
test_sync (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\nsync-ping-seconds=1\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *sp = music_resolve (m, "alice", SP_URL);
  g_autoptr (MusicWs) ws = NULL;
  g_autoptr (MusicWs) outsider = NULL;
  gint64 started_at, offset;
  double added_at;

  added_at = now_ms ();
  g_free (music_add (m, sid, "alice", sp));
  echod_harness_spin (1500);

  /* a late join: the state says where the track is */
  ws = music_ws_connect (m, "alice");
  {
    g_autoptr (JsonObject) state = music_ws_join (ws, sid);
    g_autoptr (JsonObject) playing = music_ws_wait (ws, "music:now_playing", NULL, NULL);
    double joined_at = now_ms ();
    gint64 position, server_time;

    g_assert_cmpstr (music_str (state, "state"), ==, "PLAYING");
    started_at = music_int (state, "startedAt");
    offset = music_int (state, "offsetMs");
    position = music_int (state, "positionMs");
    server_time = music_int (state, "serverTime");
    g_assert_cmpint (offset, ==, 0);
    /* the client's formula: position = offsetMs + (serverTime - startedAt) */
    g_assert_cmpint (position, ==, offset + server_time - started_at);
    /* the track started after the add plus the lead, and before we joined */
    g_assert_cmpfloat (started_at, >=, added_at);
    g_assert_cmpfloat (started_at, <=, joined_at);
    g_assert_cmpint (position, >=, 1000);
    g_assert_cmpfloat (position, <=, joined_at - added_at);
    g_assert_cmpint (music_int (playing, "startedAt"), ==, started_at);
  }
  /* the time exchange: one machine, one clock: the offset is small, the order right */
  {
    double t0 = now_ms (), t3 = 0, offset_ms, rtt;
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    g_autofree char *request = g_strdup_printf ("{\"type\":\"music:time\",\"t0\":%s}",
        g_ascii_dtostr (text, sizeof text, t0));
    g_autoptr (JsonObject) reply = NULL;
    double t1, t2;

    music_ws_drain (ws);
    music_ws_send (ws, request);
    while (reply == NULL) {
      g_autoptr (JsonObject) msg = music_ws_next (ws, MUSIC_TIMEOUT_MS, &t3);

      g_assert_nonnull (msg);
      if (strcmp (music_str (msg, "type"), "music:time") == 0)
        reply = g_steal_pointer (&msg);
    }
    g_assert_cmpfloat (json_object_get_double_member (reply, "t0"), ==, t0);
    t1 = json_object_get_double_member (reply, "t1");
    t2 = json_object_get_double_member (reply, "t2");
    g_assert_cmpfloat (t1, <=, t2);
    offset_ms = ((t1 - t0) + (t2 - t3)) / 2;
    rtt = (t3 - t0) - (t2 - t1);
    g_test_message ("time exchange: offset %.3f ms, rtt %.3f ms", offset_ms, rtt);
    g_assert_cmpfloat (fabs (offset_ms), <, 1000);
    g_assert_cmpfloat (rtt, >, -1);
    g_assert_cmpfloat (t1, >=, t0 - 1000);
    g_assert_cmpfloat (t2, <=, t3 + 1000);
  }
  /* sync pings while playing */
  {
    g_autoptr (JsonObject) ping = music_ws_wait (ws, "music:sync_ping", "sessionId", sid);
    gint64 expected = music_int (ping, "expectedOffset");

    g_assert_cmpint (expected, ==, offset + music_int (ping, "serverTime") - started_at);
  }
  /* drift: 100 ms nothing, 800 ms seek, 4 s resync, either way */
  {
    g_autofree char *a1 = heartbeat (ws, sid, started_at, offset, 100);
    g_autofree char *a2 = heartbeat (ws, sid, started_at, offset, 800);
    g_autofree char *a3 = heartbeat (ws, sid, started_at, offset, -800);
    g_autofree char *a4 = heartbeat (ws, sid, started_at, offset, 4000);
    g_autofree char *a5 = heartbeat (ws, sid, started_at, offset, -100);

    g_assert_null (a1);
    g_assert_cmpstr (a2, ==, "seek");
    g_assert_cmpstr (a3, ==, "seek");
    g_assert_cmpstr (a4, ==, "resync");
    g_assert_null (a5);
  }
  /* heartbeats need the room; bad ones are refused */
  outsider = music_ws_connect (m, "alice");
  {
    g_autofree char *text = g_strdup_printf ("{\"type\":\"music:heartbeat\",\"sessionId\":"
        "\"%s\",\"clientOffset\":1000,\"drift\":0}", sid);
    g_autoptr (JsonObject) e1 = NULL;
    g_autoptr (JsonObject) e2 = NULL;

    music_ws_send (outsider, text);
    e1 = music_ws_wait (outsider, "music:error", NULL, NULL);
    g_assert_cmpstr (music_str (e1, "code"), ==, "CONFLICT");
    music_ws_send (ws, "{\"type\":\"music:heartbeat\",\"sessionId\":\"x\","
        "\"clientOffset\":\"far\",\"drift\":0}");
    e2 = music_ws_wait (ws, "music:error", NULL, NULL);
    g_assert_cmpstr (music_str (e2, "code"), ==, "INVALID_REQUEST");
  }
  /* Paused: the expected position stands still, and drift is still judged; but not in a
   * heartbeat measured before the pause, or so soon after it that its client may not
   * have heard of it (it shows the old timeline's position: no false seek). */
  {
    double before = now_ms ();
    double playing_position = offset + (before - started_at);
    gint64 paused_at;
    g_autofree char *a1 = NULL, *a2 = NULL;

    control (m, sid, "alice", "{\"action\":\"pause\"}", 200);
    {
      g_autoptr (JsonObject) state = music_state (m, sid);

      paused_at = music_int (session_of (state), "offsetMs");
    }
    /* paused after @before: the second heartbeat's 600 ms further on the old timeline
     * would be a drift beyond seek-threshold-ms (500) */
    g_assert_cmpfloat (paused_at, >=, playing_position - 1);
    echod_harness_spin (600);
    a1 = heartbeat_at (ws, sid, before, playing_position, 0);
    a2 = heartbeat_at (ws, sid, now_ms (), playing_position + (now_ms () - before), 0);
    g_assert_null (a1);
    g_assert_null (a2);
    echod_harness_spin (1100);
    music_ws_drain (ws);
  }
  {
    g_autoptr (JsonObject) state = music_state (m, sid);
    gint64 paused_at = music_int (session_of (state), "offsetMs");
    g_autofree char *text = g_strdup_printf ("{\"type\":\"music:heartbeat\",\"sessionId\":"
        "\"%s\",\"clientOffset\":%" G_GINT64_FORMAT ",\"drift\":0}", sid, paused_at + 5000);
    g_autoptr (JsonObject) cmd = NULL;

    music_ws_send (ws, text);
    cmd = music_ws_wait (ws, "music:sync_command", NULL, NULL);
    g_assert_cmpstr (music_str (cmd, "action"), ==, "resync");
    g_assert_cmpstr (music_str (cmd, "state"), ==, "PAUSED");
    g_assert_cmpint (music_int (cmd, "positionMs"), ==, paused_at);
  }
}

/* --- client-played tracks end at their deadline --- */

static void
test_auto_advance (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *s1 = music_resolve (m, "alice", YT (MUSIC_YT_SHORT1));
  g_autofree char *s2 = music_resolve (m, "alice", YT (MUSIC_YT_SHORT2));
  g_autoptr (MusicWs) ws = music_ws_connect (m, "alice");
  g_autofree char *i1 = NULL, *i2 = NULL;
  g_autoptr (JsonObject) joined G_GNUC_UNUSED = music_ws_join (ws, sid);
  g_autoptr (JsonObject) p1 = NULL;
  g_autoptr (JsonObject) p2 = NULL;
  g_autoptr (JsonObject) idle = NULL;
  g_autoptr (JsonObject) none G_GNUC_UNUSED = NULL;

  i1 = music_add (m, sid, "alice", s1);
  i2 = music_add (m, sid, "alice", s2);
  p1 = music_ws_wait (ws, "music:now_playing", "itemId", i1);
  p2 = music_ws_wait (ws, "music:now_playing", "itemId", i2);
  idle = music_ws_wait (ws, "music:session_state", "state", "IDLE");
  /* each began once the one before had had its whole duration */
  g_assert_cmpint (music_int (p2, "startedAt") - music_int (p1, "startedAt"), >=, 1000);
  g_assert_cmpint (music_int (idle, "serverTime") - music_int (p2, "startedAt"), >=, 1000);
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/session/%s/history", sid);
    JsonArray *history = json_object_get_array_member (echod_reply_object (reply), "history");

    g_assert_cmpuint (json_array_get_length (history), ==, 2);
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "id"), ==, i2);
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "status"), ==,
        "played");
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 1), "id"), ==, i1);
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 1), "status"), ==,
        "played");
  }
}

/* --- server-side tracks, heard by echosyncsrc --- */

#define LOUD 0.05

typedef struct {
  gint loud;                  /* buffers louder than LOUD */
  gint buffers;
} Hearing;

static GstFlowReturn
on_sample (GstAppSink *sink, gpointer data)
{
  Hearing *hearing = data;
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
  g_atomic_int_inc (&hearing->buffers);
  if (n > 0 && sqrt (sum / n) > LOUD)
    g_atomic_int_inc (&hearing->loud);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

/* Waits until at least @n loud buffers more than @from were heard. */
static void
wait_loud (Hearing *hearing, gint from, gint n)
{
  gint64 until = g_get_monotonic_time () + MUSIC_TIMEOUT_MS * 1000;

  while (g_atomic_int_get (&hearing->loud) < from + n && g_get_monotonic_time () < until)
    echod_harness_spin (50);
  if (g_atomic_int_get (&hearing->loud) < from + n)
    g_error ("the receiver heard %d loud buffers, wanted %d more",
        g_atomic_int_get (&hearing->loud) - from, n);
}

/* After it settles, a second of nothing loud. */
static void
assert_silent (Hearing *hearing)
{
  gint before;

  echod_harness_spin (1000);
  before = g_atomic_int_get (&hearing->loud);
  echod_harness_spin (1000);
  g_assert_cmpint (g_atomic_int_get (&hearing->loud), ==, before);
}

static void
test_server_side (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autoptr (GBytes) long_tone = music_make_tone ("wav", 30.0);
  g_autoptr (GBytes) short_tone = music_make_tone ("wav", 1.5);
  g_autofree char *long_id = NULL, *short_id = NULL, *item = NULL, *short_item = NULL;
  g_autofree char *description = NULL;
  g_autoptr (MusicWs) ws = music_ws_connect (m, "alice");
  g_autoptr (JsonObject) joined G_GNUC_UNUSED = music_ws_join (ws, sid);
  g_autoptr (GstElement) receiver = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GError) error = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_sample };
  Hearing hearing = { 0 };
  gint64 port;

  {
    g_autoptr (EchodReply) r1 = music_upload (m, "alice", "long.wav", "audio/wav", long_tone,
        &long_id);
    g_autoptr (EchodReply) r2 = music_upload (m, "alice", "short.wav", "audio/wav",
        short_tone, &short_id);

    g_assert_cmpuint (r1->status, ==, 200);
    g_assert_cmpuint (r2->status, ==, 200);
  }
  {
    g_autoptr (JsonObject) state = music_state (m, sid);

    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (json_object_get_object_member (
                    state, "receivers"), "port")));
  }
  item = music_add (m, sid, "alice", long_id);
  {
    g_autoptr (JsonObject) playing = music_ws_wait (ws, "music:session_state", "state",
        "PLAYING");

    g_assert_cmpint (music_int (playing, "startedAt"), >, 0);
  }
  {
    g_autoptr (JsonObject) state = music_state (m, sid);
    JsonObject *receivers = json_object_get_object_member (state, "receivers");

    port = music_int (receivers, "port");
    g_assert_cmpint (port, >, 0);
    g_assert_cmpstr (music_str (receivers, "session"), ==, sid);
    g_assert_false (json_object_get_boolean_member (receivers, "tokenRequired"));
  }
  description = g_strdup_printf ("echosyncsrc session=%s host=127.0.0.1 port=%"
      G_GINT64_FORMAT " ! appsink name=sink sync=false", sid, port);
  receiver = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_assert_no_error (error);
  gst_object_ref_sink (receiver);
  sink = gst_bin_get_by_name (GST_BIN (receiver), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, &hearing, NULL);
  g_assert_cmpint (gst_element_set_state (receiver, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);

  /* the tone arrives */
  wait_loud (&hearing, 0, 20);
  /* pause reaches the pipeline: silence; play brings it back */
  control (m, sid, "alice", "{\"action\":\"pause\"}", 200);
  music_wait_state (m, sid, "PAUSED");
  assert_silent (&hearing);
  control (m, sid, "alice", "{\"action\":\"play\"}", 200);
  music_wait_state (m, sid, "PLAYING");
  wait_loud (&hearing, g_atomic_int_get (&hearing.loud), 20);
  /* skip with nothing queued: idle and silent */
  control (m, sid, "alice", "{\"action\":\"skip\"}", 200);
  music_wait_state (m, sid, "IDLE");
  assert_silent (&hearing);

  /* a short upload plays through by itself into history */
  {
    gint from = g_atomic_int_get (&hearing.loud);
    g_autoptr (JsonObject) started = NULL;

    short_item = music_add (m, sid, "alice", short_id);
    started = music_ws_wait (ws, "music:now_playing", "itemId", short_item);
    music_wait_state (m, sid, "IDLE");
    g_assert_cmpint (g_atomic_int_get (&hearing.loud), >, from);
  }
  {
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/session/%s/history", sid);
    JsonArray *history = json_object_get_array_member (echod_reply_object (reply), "history");

    g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "id"), ==,
        short_item);
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 0), "status"), ==,
        "played");
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 1), "id"), ==, item);
    g_assert_cmpstr (music_str (json_array_get_object_element (history, 1), "status"), ==,
        "skipped");
  }
  gst_element_set_state (receiver, GST_STATE_NULL);
  g_test_message ("receiver: %d buffers, %d loud", g_atomic_int_get (&hearing.buffers),
      g_atomic_int_get (&hearing.loud));
}

/* A client that joins with "queue":"delta" gets music:queue_delta (what changed, from the
 * version it holds) instead of the whole queue, an empty one when only the version moved;
 * a default client still gets music:queue_updated; an unknown mode is refused. */
static void
test_queue_delta (void)
{
  g_autoptr (MusicEchod) m = music_echod_start ("start-lead-ms=100\n");
  g_autofree char *sid = music_start_session (m, "alice", "guild-1", "vc-1");
  g_autofree char *l1 = music_resolve (m, "alice", YT (MUSIC_YT_LONG1));
  g_autofree char *l2 = music_resolve (m, "alice", YT (MUSIC_YT_LONG2));
  g_autofree char *l3 = music_resolve (m, "alice", YT (MUSIC_YT_LONG3));
  g_autofree char *join = NULL;
  g_autofree char *i1 = NULL, *i2 = NULL, *i3 = NULL;
  g_autoptr (MusicWs) alice = music_ws_connect (m, "alice");
  g_autoptr (MusicWs) full = music_ws_connect (m, "alice");
  gint64 held;

  join = g_strdup_printf ("{\"type\":\"music:join_session\",\"sessionId\":\"%s\","
      "\"queue\":\"sideways\"}", sid);
  music_ws_send (alice, join);
  {
    g_autoptr (JsonObject) error = music_ws_wait (alice, "music:error", NULL, NULL);

    g_assert_cmpstr (music_str (error, "code"), ==, "INVALID_REQUEST");
  }
  g_free (join);
  join = g_strdup_printf ("{\"type\":\"music:join_session\",\"sessionId\":\"%s\","
      "\"queue\":\"delta\"}", sid);
  music_ws_send (alice, join);
  {
    /* the whole queue once, on joining */
    g_autoptr (JsonObject) queue = music_ws_wait (alice, "music:queue_updated", "sessionId",
        sid);

    held = music_int (queue, "version");
  }
  {
    g_autoptr (JsonObject) state G_GNUC_UNUSED = music_ws_join (full, sid);
  }
  i1 = music_add (m, sid, "alice", l1);  /* starts playing: leaves the queue at once */
  {
    /* the queue a client shows did not change, its version did: an empty delta */
    g_autoptr (JsonObject) delta = music_ws_wait (alice, "music:queue_delta", NULL, NULL);
    g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
        "/api/music/session/%s/queue", sid);

    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (delta, "items")),
        ==, 0);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (delta,
                "removed")), ==, 0);
    g_assert_cmpint (music_int (delta, "since"), ==, held);
    held = music_int (delta, "version");
    g_assert_cmpint (held, ==, music_int (echod_reply_object (reply), "version"));
  }
  i2 = music_add (m, sid, "alice", l2);
  i3 = music_add (m, sid, "alice", l3);
  {
    /* deltas chain from version to version and name only the new items */
    GString *seen = g_string_new (NULL);
    g_autofree char *ids = NULL;

    while (!strstr (seen->str, i3)) {
      g_autoptr (JsonObject) delta = music_ws_wait (alice, "music:queue_delta", NULL, NULL);
      JsonArray *items = json_object_get_array_member (delta, "items");
      guint i;

      g_assert_cmpint (music_int (delta, "since"), <=, held);
      g_assert_cmpint (music_int (delta, "version"), >, held);
      held = music_int (delta, "version");
      for (i = 0; i < json_array_get_length (items); i++)
        g_string_append_printf (seen, "%s;",
            music_str (json_array_get_object_element (items, i), "id"));
    }
    ids = g_string_free (seen, FALSE);
    g_assert_nonnull (strstr (ids, i2));
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"itemId\":\"%s\"}", i2);
    g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "POST", "alice", body,
        "/api/music/session/%s/queue/remove", sid);
    g_autoptr (JsonObject) delta = music_ws_wait (alice, "music:queue_delta", NULL, NULL);
    JsonArray *removed = json_object_get_array_member (delta, "removed");

    g_assert_cmpuint (json_array_get_length (removed), ==, 1);
    g_assert_cmpstr (json_array_get_string_element (removed, 0), ==, i2);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (delta, "items")),
        ==, 0);
    g_assert_false (json_object_has_member (delta, "order"));
    g_assert_cmpint (music_int (delta, "since"), <=, held);
  }
  {
    /* the default client got whole queues, never a delta */
    g_autoptr (JsonObject) queue = music_ws_wait (full, "music:queue_updated", NULL, NULL);

    g_assert_true (json_object_has_member (queue, "queue"));
    g_assert_false (music_ws_sees (full, "music:queue_delta", 300));
  }
  {
    /* joining again with the default switches the kind: whole queues only */
    g_autofree char *again = g_strdup_printf ("{\"type\":\"music:join_session\","
        "\"sessionId\":\"%s\"}", sid);

    music_ws_send (alice, again);
    g_assert_true (music_ws_sees (alice, "music:queue_updated", WAIT_EVENT_MS));
    music_ws_drain (alice);
    g_free (music_add (m, sid, "alice", l2));
    g_assert_true (music_ws_sees (alice, "music:queue_updated", WAIT_EVENT_MS));
    g_assert_false (music_ws_sees (alice, "music:queue_delta", 300));
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod-music-live/events", test_events);
  g_test_add_func ("/echod-music-live/sync", test_sync);
  g_test_add_func ("/echod-music-live/queue-delta", test_queue_delta);
  g_test_add_func ("/echod-music-live/auto-advance", test_auto_advance);
  g_test_add_func ("/echod-music-live/server-side", test_server_side);
  return echod_test_exit (g_test_run ());
}
