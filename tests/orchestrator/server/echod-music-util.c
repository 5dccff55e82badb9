/* echod-music-util.c: see echod-music-util.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echod-music-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "provider-replay.h"

/* --- the provider replay server, on a thread of its own ---
 * The harness's requests are synchronous (they do not iterate the test's main context), and
 * echod resolves while the test waits for its reply: the replay server must run elsewhere. */

typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  ProviderReplay *replay;
  char *origin;
  GMutex lock;
  GCond cond;
  gboolean ready;
} ReplayThread;

static const struct {
  const char *id;
  const char *title;
  const char *duration;
} videos[] = {
  { MUSIC_YT_SHORT1, "Short One", "PT1S" },
  { MUSIC_YT_SHORT2, "Short Two", "PT1S" },
  { MUSIC_YT_SHORT3, "Short Three", "PT1S" },
  { MUSIC_YT_LONG1, "Long One", "PT10M" },
  { MUSIC_YT_LONG2, "Long Two", "PT10M" },
  { MUSIC_YT_LONG3, "Long Three", "PT10M" },
};

static void
add_rules (ProviderReplay *replay)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (videos); i++) {
    g_autofree char *query = g_strconcat ("id=", videos[i].id, NULL);
    g_autofree char *body = g_strdup_printf ("{\"kind\":\"youtube#videoListResponse\","
        "\"items\":[{\"kind\":\"youtube#video\",\"id\":\"%s\",\"snippet\":{\"title\":\"%s\","
        "\"channelId\":\"UCtest\",\"channelTitle\":\"Test Channel\",\"thumbnails\":{"
        "\"default\":{\"url\":\"https://i.ytimg.com/vi/%s/default.jpg\",\"width\":120,"
        "\"height\":90}}},\"contentDetails\":{\"duration\":\"%s\"}}],"
        "\"pageInfo\":{\"totalResults\":1,\"resultsPerPage\":1}}", videos[i].id,
        videos[i].title, videos[i].id, videos[i].duration);

    provider_replay_add_body (replay, "GET", "/youtube/v3/videos", query, 200,
        "application/json; charset=utf-8", body, FALSE);
  }
  provider_replay_add_body (replay, "GET", "/youtube/v3/videos", "id=" MUSIC_YT_DOWN, 500,
      "text/html", "<html>backend error</html>", FALSE);
  provider_replay_add_fixture (replay, "POST", "/spotify/accounts/api/token", NULL, 200,
      "spotify-token.json");
  provider_replay_add_fixture (replay, "GET", "/spotify/v1/tracks/" MUSIC_SP_TRACK, NULL, 200,
      "spotify-track.json");
}

static gpointer
replay_main (gpointer data)
{
  ReplayThread *rt = data;

  g_main_context_push_thread_default (rt->context);
  rt->replay = provider_replay_new ();
  add_rules (rt->replay);
  g_mutex_lock (&rt->lock);
  rt->origin = g_strdup (provider_replay_origin (rt->replay));
  rt->ready = TRUE;
  g_cond_signal (&rt->cond);
  g_mutex_unlock (&rt->lock);
  g_main_loop_run (rt->loop);
  provider_replay_free (rt->replay);
  g_main_context_pop_thread_default (rt->context);
  return NULL;
}

static ReplayThread *
replay_thread_new (void)
{
  ReplayThread *rt = g_new0 (ReplayThread, 1);

  g_mutex_init (&rt->lock);
  g_cond_init (&rt->cond);
  rt->context = g_main_context_new ();
  rt->loop = g_main_loop_new (rt->context, FALSE);
  rt->thread = g_thread_new ("provider-replay", replay_main, rt);
  g_mutex_lock (&rt->lock);
  while (!rt->ready)
    g_cond_wait (&rt->cond, &rt->lock);
  g_mutex_unlock (&rt->lock);
  return rt;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
replay_thread_free (ReplayThread *rt)
{
  g_main_context_invoke (rt->context, quit_loop, rt->loop);
  g_thread_join (rt->thread);
  g_main_loop_unref (rt->loop);
  g_main_context_unref (rt->context);
  g_mutex_clear (&rt->lock);
  g_cond_clear (&rt->cond);
  g_free (rt->origin);
  g_free (rt);
}

/* --- echod --- */

struct _MusicEchod {
  EchodHarness *h;
  ReplayThread *replay;
};

MusicEchod *
music_echod_start (const char *music_config)
{
  MusicEchod *m = g_new0 (MusicEchod, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  const char *o;

  m->replay = replay_thread_new ();
  o = m->replay->origin;
  config = g_strdup_printf ("[resolver]\n"
      "youtube-api-key=music-e2e-key\n"
      "youtube-api-base=%s/youtube/v3\n"
      "youtube-oembed-base=%s/youtube/oembed\n"
      "spotify-client-id=client-id\n"
      "spotify-client-secret=client-secret\n"
      "spotify-api-base=%s/spotify/v1/\n"
      "spotify-accounts-base=%s/spotify/accounts\n"
      "spotify-oembed-base=%s/spotify/oembed\n"
      "timeout-ms=10000\n"
      "allow-private=true\n"
      "[music]\n"
      /* the tests resolve and queue quickly; test-echod-music's bad-input proves the limits */
      "resolve-rate=50\nresolve-burst=50\nqueue-rate=50\nqueue-burst=100\n"
      "%s\n", o, o, o, o, o, music_config != NULL ? music_config : "");
  m->h = echod_harness_new ();
  echod_harness_set_config (m->h, config);
  echod_harness_setenv (m->h, "ECHO_JWT_SECRET", MUSIC_JWT_SECRET);
  if (!echod_harness_start (m->h, &error))
    g_error ("echod did not start: %s", error->message);
  return m;
}

void
music_echod_free (MusicEchod *m)
{
  if (m == NULL)
    return;
  echod_harness_free (m->h);
  replay_thread_free (m->replay);
  g_free (m);
}

EchodHarness *
music_echod_harness (MusicEchod *m)
{
  return m->h;
}

void
music_echod_restart (MusicEchod *m)
{
  g_autoptr (GError) error = NULL;
  int status = echod_harness_stop (m->h, SIGTERM);

  g_assert_true (g_spawn_check_wait_status (status, NULL));
  if (!echod_harness_start (m->h, &error))
    g_error ("echod did not start again: %s", error->message);
}

EchodReply *
music_call (MusicEchod *m, const char *method, const char *path, const char *as,
    const char *body)
{
  const char *headers[] = { "X-Echo-User", as, NULL };

  if (as != NULL && g_str_has_prefix (as, "Bearer "))
    return echod_harness_request_full (m->h, method, path, as, body, -1, NULL);
  return echod_harness_request_full (m->h, method, path, NULL, body, -1,
      as != NULL ? headers : NULL);
}

EchodReply *
music_expect (MusicEchod *m, guint status, const char *method, const char *as,
    const char *body, const char *path_format, ...)
{
  g_autofree char *path = NULL;
  EchodReply *reply;
  va_list args;

  va_start (args, path_format);
  path = g_strdup_vprintf (path_format, args);
  va_end (args);
  reply = music_call (m, method, path, as, body);
  if (reply->status != status)
    g_error ("%s %s (as %s, body %s): expected %u, got %u: %.500s", method, path,
        as != NULL ? as : "host", body != NULL ? body : "none", status, reply->status,
        reply->text);
  return reply;
}

char *
music_token (MusicEchod *m, const char *sub, const char *const *roles)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_ptr_array_add (args, (gpointer) "token");
  g_ptr_array_add (args, (gpointer) "--sub");
  g_ptr_array_add (args, (gpointer) sub);
  for (; roles != NULL && *roles != NULL; roles++) {
    g_ptr_array_add (args, (gpointer) "--role");
    g_ptr_array_add (args, (gpointer) *roles);
  }
  g_ptr_array_add (args, NULL);
  status = echod_harness_run_to_exit (m->h, (const char *const *) args->pdata, &out, &err);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("echod token failed: %s", err);
  return g_strconcat ("Bearer ", g_strstrip (out), NULL);
}

const char *
music_str (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    g_error ("member %s is not a string", member);
  return json_node_get_string (node);
}

gint64
music_int (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    g_error ("member %s is not an integer", member);
  return json_node_get_int (node);
}

char **
music_queue_ids (JsonArray *queue, const char *member)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  char **ids;
  guint i;

  for (i = 0; i < json_array_get_length (queue); i++)
    g_strv_builder_add (builder, music_str (json_array_get_object_element (queue, i), member));
  ids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return ids;
}

char *
music_start_session (MusicEchod *m, const char *user, const char *server_id,
    const char *channel_id)
{
  g_autofree char *body = g_strdup_printf ("{\"serverId\":\"%s\",\"voiceChannelId\":\"%s\"}",
      server_id, channel_id);
  g_autoptr (EchodReply) reply = music_call (m, "POST", "/api/music/session/start", user, body);
  JsonObject *session;

  if (reply->status != 201 && reply->status != 200)
    g_error ("session/start: %u %s", reply->status, reply->text);
  session = json_object_get_object_member (echod_reply_object (reply), "session");
  return g_strdup (music_str (session, "id"));
}

void
music_add_member (MusicEchod *m, const char *session_id, const char *user,
    const char *roles_json)
{
  g_autofree char *body = g_strdup_printf ("{\"roles\":%s}",
      roles_json != NULL ? roles_json : "[]");
  g_autoptr (EchodReply) reply G_GNUC_UNUSED = music_expect (m, 200, "PUT", NULL, body,
      "/api/music/session/%s/members/%s", session_id, user);
}

char *
music_resolve (MusicEchod *m, const char *as, const char *url)
{
  g_autofree char *body = g_strdup_printf ("{\"url\":\"%s\"}", url);
  g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", as, body,
      "/api/music/resolve");

  return g_strdup (music_str (json_object_get_object_member (echod_reply_object (reply),
              "track"), "id"));
}

char *
music_add (MusicEchod *m, const char *session_id, const char *as, const char *track_id)
{
  g_autofree char *body = g_strdup_printf ("{\"trackId\":\"%s\"}", track_id);
  g_autoptr (EchodReply) reply = music_expect (m, 200, "POST", as, body,
      "/api/music/session/%s/queue/add", session_id);
  JsonArray *added = json_object_get_array_member (echod_reply_object (reply), "added");

  g_assert_cmpuint (json_array_get_length (added), ==, 1);
  return g_strdup (music_str (json_array_get_object_element (added, 0), "id"));
}

JsonObject *
music_state (MusicEchod *m, const char *session_id)
{
  g_autoptr (EchodReply) reply = music_expect (m, 200, "GET", NULL, NULL,
      "/api/music/session/%s/state", session_id);

  return json_object_ref (echod_reply_object (reply));
}

char *
music_state_name (MusicEchod *m, const char *session_id)
{
  g_autoptr (JsonObject) state = music_state (m, session_id);

  return g_strdup (music_str (json_object_get_object_member (state, "session"), "state"));
}

void
music_wait_state (MusicEchod *m, const char *session_id, const char *state)
{
  gint64 until = g_get_monotonic_time () + MUSIC_TIMEOUT_MS * 1000;
  g_autofree char *now = NULL;

  while (g_get_monotonic_time () < until) {
    g_free (now);
    now = music_state_name (m, session_id);
    if (strcmp (now, state) == 0)
      return;
    echod_harness_spin (50);
  }
  g_error ("session %s stayed %s, never %s", session_id, now, state);
}

char *
music_current_track (MusicEchod *m, const char *session_id)
{
  g_autoptr (JsonObject) state = music_state (m, session_id);
  JsonObject *session = json_object_get_object_member (state, "session");
  JsonNode *track = json_object_get_member (session, "currentTrack");

  if (track == NULL || JSON_NODE_HOLDS_NULL (track))
    return NULL;
  return g_strdup (music_str (json_node_get_object (track), "id"));
}

EchodReply *
music_put_url (MusicEchod *m, const char *url, GBytes *bytes)
{
  g_autofree char *origin = g_strdup_printf ("http://127.0.0.1:%u",
      echod_harness_port (m->h));
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  /* echod builds the URL from the Host it was called with: ours */
  if (!g_str_has_prefix (url, origin))
    g_error ("upload URL %s is not on %s", url, origin);
  return echod_harness_request_full (m->h, "PUT", url + strlen (origin), "", data,
      (gssize) len, NULL);
}

EchodReply *
music_upload (MusicEchod *m, const char *as, const char *filename, const char *mime,
    GBytes *bytes, char **track_id)
{
  g_autofree char *body = g_strdup_printf ("{\"filename\":\"%s\",\"size\":%" G_GSIZE_FORMAT
      ",\"mimeType\":\"%s\"}", filename, g_bytes_get_size (bytes), mime);
  g_autoptr (EchodReply) init = music_expect (m, 200, "POST", as, body, "/api/music/upload");
  JsonObject *obj = echod_reply_object (init);

  if (track_id != NULL)
    *track_id = g_strdup (music_str (obj, "trackId"));
  return music_put_url (m, music_str (obj, "uploadUrl"), bytes);
}

GBytes *
music_make_tone (const char *format, double seconds)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp (NULL, &error);
  g_autofree char *path = NULL, *location = NULL, *buffers = NULL, *err = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  int status;
  /* 0.1 s buffers: an exact number of them */
  const char *wav[] = { "gst-launch-1.0", "-q", "audiotestsrc", NULL, "samplesperbuffer=2205",
    "freq=440", "volume=0.5", "!", "audio/x-raw,rate=22050,channels=1,format=S16LE", "!",
    "wavenc", "!", "filesink", NULL, NULL };
  const char *mp3[] = { "gst-launch-1.0", "-q", "audiotestsrc", NULL, "samplesperbuffer=4410",
    "freq=440", "volume=0.5", "!", "audio/x-raw,rate=44100,channels=1", "!", "audioconvert",
    "!", "lamemp3enc", "target=bitrate", "bitrate=128", "cbr=true", "!", "filesink", NULL,
    NULL };
  const char **argv = strcmp (format, "mp3") == 0 ? mp3 : wav;

  g_assert_no_error (error);
  path = g_build_filename (dir, strcmp (format, "mp3") == 0 ? "tone.mp3" : "tone.wav", NULL);
  buffers = g_strdup_printf ("num-buffers=%d", (int) (seconds * 10 + 0.5));
  location = g_strconcat ("location=", path, NULL);
  argv[3] = buffers;
  argv[g_strv_length ((char **) argv)] = location;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &error))
    g_error ("gst-launch-1.0: %s", error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("gst-launch-1.0 could not make a %s file: %s", format, err);
  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  g_unlink (path);
  g_rmdir (dir);
  return g_bytes_new_take (g_steal_pointer (&contents), len);
}

/* --- the WebSocket client --- */

typedef struct {
  JsonObject *obj;
  double received_ms;
} Message;

struct _MusicWs {
  SoupSession *session;
  SoupWebsocketConnection *conn;
  GQueue messages;            /* of Message* */
  gboolean closed;
};

static void
message_free (gpointer data)
{
  Message *msg = data;

  json_object_unref (msg->obj);
  g_free (msg);
}

static void
ws_message (SoupWebsocketConnection *conn, gint kind, GBytes *data, gpointer user_data)
{
  MusicWs *ws = user_data;
  double now = g_get_real_time () / 1000.0;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len;
  const char *text = g_bytes_get_data (data, &len);
  Message *msg;

  if (kind != SOUP_WEBSOCKET_DATA_TEXT || !json_parser_load_from_data (parser, text, len,
          NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_error ("the music WebSocket sent something that is not a JSON object");
  msg = g_new0 (Message, 1);
  msg->obj = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  msg->received_ms = now;
  g_queue_push_tail (&ws->messages, msg);
}

static void
ws_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  ((MusicWs *) user_data)->closed = TRUE;
}

typedef struct {
  SoupWebsocketConnection *conn;
  GError *error;
  gboolean done;
} Connecting;

static void
ws_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Connecting *c = data;

  c->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &c->error);
  c->done = TRUE;
}

MusicWs *
music_ws_connect (MusicEchod *m, const char *as)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/api/music/ws",
      echod_harness_port (m->h));
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  gint64 until = g_get_monotonic_time () + MUSIC_TIMEOUT_MS * 1000;
  Connecting c = { 0 };
  MusicWs *ws;

  if (as != NULL && g_str_has_prefix (as, "Bearer ")) {
    soup_message_headers_replace (headers, "Authorization", as);
  } else {
    soup_message_headers_replace (headers, "Authorization", ECHOD_TEST_TOKEN);
    if (as != NULL)
      soup_message_headers_replace (headers, "X-Echo-User", as);
  }
  ws = g_new0 (MusicWs, 1);
  ws->session = soup_session_new ();
  g_queue_init (&ws->messages);
  soup_session_websocket_connect_async (ws->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
      NULL, ws_connected, &c);
  while (!c.done && g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  if (!c.done)
    g_error ("the music WebSocket did not connect");
  if (c.conn == NULL)
    g_error ("the music WebSocket did not connect: %s", c.error->message);
  ws->conn = c.conn;
  soup_websocket_connection_set_max_incoming_payload_size (ws->conn, 0);
  g_signal_connect (ws->conn, "message", G_CALLBACK (ws_message), ws);
  g_signal_connect (ws->conn, "closed", G_CALLBACK (ws_closed), ws);
  return ws;
}

void
music_ws_free (MusicWs *ws)
{
  if (ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ws->conn, ws);
  if (soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN) {
    gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    while (soup_websocket_connection_get_state (ws->conn) != SOUP_WEBSOCKET_STATE_CLOSED &&
        g_get_monotonic_time () < until)
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
  }
  g_object_unref (ws->conn);
  g_object_unref (ws->session);
  g_queue_clear_full (&ws->messages, message_free);
  g_free (ws);
}

void
music_ws_send (MusicWs *ws, const char *text)
{
  g_assert_false (ws->closed);
  soup_websocket_connection_send_text (ws->conn, text);
}

JsonObject *
music_ws_next (MusicWs *ws, guint timeout_ms, double *received_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  Message *msg;
  JsonObject *obj;

  while (g_queue_is_empty (&ws->messages) && !ws->closed &&
      g_get_monotonic_time () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
  msg = g_queue_pop_head (&ws->messages);
  if (msg == NULL)
    return NULL;
  if (received_ms != NULL)
    *received_ms = msg->received_ms;
  obj = json_object_ref (msg->obj);
  message_free (msg);
  return obj;
}

JsonObject *
music_ws_wait (MusicWs *ws, const char *type, const char *member, const char *value)
{
  gint64 until = g_get_monotonic_time () + MUSIC_TIMEOUT_MS * 1000;

  while (g_get_monotonic_time () < until) {
    gint64 left = (until - g_get_monotonic_time ()) / 1000;
    g_autoptr (JsonObject) msg = music_ws_next (ws, (guint) MAX (left, 1), NULL);
    JsonNode *node;

    if (msg == NULL)
      break;
    if (g_strcmp0 (json_object_get_string_member_with_default (msg, "type", ""), type) != 0)
      continue;
    if (member == NULL)
      return g_steal_pointer (&msg);
    node = json_object_get_member (msg, member);
    if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
        json_node_get_value_type (node) == G_TYPE_STRING &&
        g_strcmp0 (json_node_get_string (node), value) == 0)
      return g_steal_pointer (&msg);
  }
  g_error ("no %s message%s%s%s%s within %d ms%s", type, member != NULL ? " with " : "",
      member != NULL ? member : "", member != NULL ? "=" : "", member != NULL ? value : "",
      MUSIC_TIMEOUT_MS, ws->closed ? " (the socket closed)" : "");
  return NULL;
}

gboolean
music_ws_sees (MusicWs *ws, const char *type, guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < until) {
    gint64 left = (until - g_get_monotonic_time ()) / 1000;
    g_autoptr (JsonObject) msg = music_ws_next (ws, (guint) MAX (left, 1), NULL);

    if (msg == NULL)
      return FALSE;
    if (g_strcmp0 (json_object_get_string_member_with_default (msg, "type", ""), type) == 0)
      return TRUE;
  }
  return FALSE;
}

JsonObject *
music_ws_join (MusicWs *ws, const char *session_id)
{
  g_autofree char *text = g_strdup_printf ("{\"type\":\"music:join_session\","
      "\"sessionId\":\"%s\"}", session_id);
  JsonObject *state;

  music_ws_send (ws, text);
  state = music_ws_wait (ws, "music:session_state", "sessionId", session_id);
  return state;
}

void
music_ws_drain (MusicWs *ws)
{
  while (g_main_context_iteration (NULL, FALSE));
  g_queue_clear_full (&ws->messages, message_free);
  g_queue_init (&ws->messages);
}
