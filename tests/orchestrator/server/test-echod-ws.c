/* test-echod-ws.c: GET /api/share/{id}/ws of a real echod. It proves:
 *  - a receiver gets hello, the current metadata, the newest buffered chunks, then every
 *    metadata update and chunk as the sharer posts them, in order and bit for bit, then
 *    "ended" and a normal close when the sharer stops;
 *  - since=N replays what is buffered after N first; format=opus streams the Opus packets
 *    of the session's media pipeline, which encodes them from when the client connects
 *    (test-echod-opus.c has the details of that);
 *  - a WebSocket client counts as a listener (status and listenersNotified);
 *  - no credentials: no upgrade (401); ?access_token= works where headers cannot be set;
 *    an unknown session is 404 before any upgrade;
 *  - a client that stops reading gets its audio dropped (counted), never buffered without
 *    bound, and echod keeps serving everyone else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "echod-test-util.h"

#define RATE 48000
#define CHANNELS 2
#define FRAMES 960
#define MESSAGE_TIMEOUT_MS 20000

static JsonObject *
next_message (EchodSocket *ws, const char *type)
{
  JsonObject *msg = echod_socket_next (ws, MESSAGE_TIMEOUT_MS);

  if (msg == NULL)
    g_error ("no '%s' message within %d ms", type, MESSAGE_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (msg, "type"), ==, type);
  return msg;
}

static void
assert_audio (EchodSocket *ws, gint64 sequence)
{
  g_autoptr (JsonObject) msg = next_message (ws, "audio");
  JsonObject *chunk = json_object_get_object_member (msg, "chunk");

  g_assert_cmpint (json_object_get_int_member (chunk, "sequenceNumber"), ==, sequence);
  echod_test_assert_chunk (chunk, RATE, CHANNELS, FRAMES);
}

static void
test_push_in_order (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\naudio-burst=100\n"
      "metadata-burst=100\n", 0);
  g_autoptr (EchodSocket) ws = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) hello = NULL;
  g_autoptr (JsonObject) meta = NULL;
  g_autoptr (JsonObject) ended = NULL;
  g_autofree char *close_reason = NULL;
  gushort close_code = 0;
  gint64 seq;

  echod_test_start_session (h, "123456");
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/123456/metadata", "{\"title\":\"First\"}");
    g_assert_cmpuint (reply->status, ==, 200);
  }
  for (seq = 0; seq < 3; seq++)
    echod_test_post_chunk_ok (h, "123456", seq, RATE, CHANNELS, FRAMES);

  ws = echod_harness_ws_connect (h, "/api/share/123456/ws", NULL, &error);
  g_assert_no_error (error);
  hello = next_message (ws, "hello");
  g_assert_cmpstr (json_object_get_string_member (hello, "sessionId"), ==, "123456");
  g_assert_true (json_object_get_boolean_member (hello, "isActive"));
  g_assert_cmpint (json_object_get_int_member (hello, "serverTime"), >,
      G_GINT64_CONSTANT (1600000000000));
  meta = next_message (ws, "metadata");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (meta,
              "metadata"), "title"), ==, "First");
  for (seq = 0; seq < 3; seq++)
    assert_audio (ws, seq);

  /* live: a metadata update between chunks arrives between them */
  echod_test_post_chunk_ok (h, "123456", 3, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/123456/metadata", "{\"title\":\"Second\",\"artist\":\"B\"}");

    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_cmpint (echod_test_member_int (reply, "listenersNotified"), >=, 1);
  }
  for (seq = 4; seq < 20; seq++)
    echod_test_post_chunk_ok (h, "123456", seq, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/123456/status",
        NULL);
    g_assert_cmpint (echod_test_member_int (reply, "listenerCount"), ==, 1);
  }

  assert_audio (ws, 3);
  {
    g_autoptr (JsonObject) update = next_message (ws, "metadata");
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (update,
                "metadata"), "artist"), ==, "B");
  }
  for (seq = 4; seq < 20; seq++)
    assert_audio (ws, seq);

  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/123456/stop",
        NULL);
    g_assert_cmpuint (reply->status, ==, 200);
  }
  ended = next_message (ws, "ended");
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "stopped");
  g_assert_cmpint (json_object_get_int_member (ended, "endedAt"), >,
      G_GINT64_CONSTANT (1600000000000));
  g_assert_true (echod_socket_wait_closed (ws, MESSAGE_TIMEOUT_MS, &close_code, &close_reason));
  g_assert_cmpuint (close_code, ==, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_assert_nonnull (strstr (close_reason, "stopped"));
}

static void
test_since_and_opus (void)
{
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\naudio-burst=100\naudio-rate=100\n", 0);
  g_autoptr (EchodSocket) replay = NULL;
  g_autoptr (EchodSocket) opus = NULL;
  g_autoptr (GError) error = NULL;
  gint64 seq, last_float, last_opus = -1;
  guint opus_packets = 0;

  echod_test_start_session (h, "234567");
  for (seq = 0; seq < 25; seq++)
    echod_test_post_chunk_ok (h, "234567", seq, RATE, CHANNELS, FRAMES);

  /* more than one GET's worth after 5 */
  replay = echod_harness_ws_connect (h, "/api/share/234567/ws?since=5", NULL, &error);
  g_assert_no_error (error);
  json_object_unref (next_message (replay, "hello"));
  for (seq = 6; seq < 25; seq++)
    assert_audio (replay, seq);

  opus = echod_harness_ws_connect (h, "/api/share/234567/ws?format=opus&since=-1", NULL,
      &error);
  g_assert_no_error (error);
  json_object_unref (next_message (opus, "hello"));
  /* Opus is encoded from now on: chunks in real time (20 ms each; the pipeline drops
   * audio that comes far ahead of its time) until the encoder delivered over 10 packets */
  for (seq = 25; opus_packets < 10; seq++) {
    g_autoptr (JsonObject) msg = NULL;
    JsonObject *chunk;
    g_autofree guchar *packet = NULL;
    gsize len = 0;

    g_assert_cmpint (seq, <, 25 + 500);
    echod_test_post_chunk_ok (h, "234567", seq, RATE, CHANNELS, FRAMES);
    msg = echod_socket_next (opus, 20);
    if (msg == NULL)
      continue;
    g_assert_cmpstr (json_object_get_string_member (msg, "type"), ==, "audio");
    chunk = json_object_get_object_member (msg, "chunk");

    g_assert_cmpstr (json_object_get_string_member (chunk, "encoding"), ==, "opus");
    g_assert_cmpint (json_object_get_int_member (chunk, "sampleRate"), ==, 48000);
    g_assert_cmpint (json_object_get_int_member (chunk, "channels"), ==, CHANNELS);
    g_assert_cmpint (json_object_get_int_member (chunk, "frames"), >, 0);
    g_assert_cmpint (json_object_get_int_member (chunk, "sequenceNumber"), >, last_opus);
    last_opus = json_object_get_int_member (chunk, "sequenceNumber");
    packet = g_base64_decode (json_object_get_string_member (chunk, "data"), &len);
    g_assert_cmpuint (len, >, 0);
    opus_packets++;
  }
  /* the float client got none of them */
  last_float = seq;
  for (seq = 25; seq < last_float; seq++)
    assert_audio (replay, seq);
}

static void
test_auth_and_unknown (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchodSocket) ws = NULL;
  g_autofree char *path = NULL;
  g_autofree char *escaped = g_uri_escape_string (ECHOD_TEST_TOKEN, NULL, FALSE);

  echod_test_start_session (h, "345678");
  ws = echod_harness_ws_connect (h, "/api/share/345678/ws", "", &error);
  g_assert_null (ws);
  g_assert_nonnull (error);
  g_test_message ("without a token: %s", error->message);
  g_clear_error (&error);
  {
    g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET",
        "/api/share/345678/ws", "", NULL, 0, NULL);
    echod_reply_assert_error (reply, 401, "UNAUTHORIZED");
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/999999/ws",
        NULL);
    echod_reply_assert_error (reply, 404, "SESSION_NOT_FOUND");
  }
  /* a plain GET is not an upgrade */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/345678/ws",
        NULL);
    g_assert_cmpuint (reply->status, ==, 400);
  }

  path = g_strdup_printf ("/api/share/345678/ws?access_token=%s", escaped);
  ws = echod_harness_ws_connect (h, path, "", &error);
  g_assert_no_error (error);
  json_object_unref (next_message (ws, "hello"));
}

/* A WebSocket client that completes the handshake and then never reads, with a small
 * receive buffer so the backlog builds up at the server quickly. */
static GSocket *
stalled_client (guint16 port, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autofree char *request = NULL;
  GSocket *socket;
  char reply[1024];
  gssize n;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
      &error);
  g_assert_no_error (error);
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, 4096, &error);
  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Authorization: %s\r\n\r\n", path, port, ECHOD_TEST_TOKEN);
  g_socket_send (socket, request, strlen (request), NULL, &error);
  g_assert_no_error (error);
  /* the 101 response (and perhaps the start of hello) */
  n = g_socket_receive (socket, reply, sizeof reply - 1, NULL, &error);
  g_assert_no_error (error);
  reply[n] = '\0';
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 101"));
  return socket;
}

static void
test_slow_client (void)
{
  /* 1 s of 48 kHz stereo per chunk (~500 KB of JSON): a few seconds of audio go well
   * beyond the stalled client's buffers */
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\naudio-burst=1000\naudio-rate=1000\n"
      "audio-buffer-seconds=5\n", 0);
  g_autoptr (GSocket) stalled = NULL;
  g_autoptr (EchodSocket) healthy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *metrics = NULL;
  gint64 seq;
  guint big = RATE;

  echod_test_start_session (h, "456789");
  stalled = stalled_client (echod_harness_port (h), "/api/share/456789/ws");
  healthy = echod_harness_ws_connect (h, "/api/share/456789/ws", NULL, &error);
  g_assert_no_error (error);
  json_object_unref (next_message (healthy, "hello"));

  for (seq = 0; seq < 20; seq++) {
    g_autofree float *samples = echod_test_samples ((guint) seq, (gsize) big * CHANNELS);
    g_autoptr (EchodReply) reply = echod_test_post_chunk (h, "456789", seq, RATE, CHANNELS,
        samples, big);

    g_assert_cmpuint (reply->status, ==, 200);
    /* the healthy client keeps up */
    {
      g_autoptr (JsonObject) msg = next_message (healthy, "audio");
      g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (msg,
                  "chunk"), "sequenceNumber"), ==, seq);
    }
  }

  metrics = echod_test_metrics (h);
  g_test_message ("dropped for the stalled client: %g",
      echod_metrics_value (metrics, "echo_websocket_dropped_messages_total"));
  g_assert_cmpfloat (echod_metrics_value (metrics, "echo_websocket_dropped_messages_total"),
      >=, 1);
  g_assert_cmpfloat (echod_metrics_value (metrics, "echo_websocket_clients"), ==, 2);
  /* echod answers as usual */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/health", NULL);
    g_assert_cmpuint (reply->status, ==, 200);
  }
  g_socket_close (stalled, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod/ws/push-in-order", test_push_in_order);
  g_test_add_func ("/echod/ws/since-and-opus", test_since_and_opus);
  g_test_add_func ("/echod/ws/auth-and-unknown", test_auth_and_unknown);
  g_test_add_func ("/echod/ws/slow-client", test_slow_client);
  return g_test_run ();
}
