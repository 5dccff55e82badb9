/* echo-share-socket.c: the share WebSocket; see echo-share-socket.h.
 *
 * Flow control: libsoup 3.2 queues whatever is sent and does not say how much is queued,
 * so each client counts the bytes handed to libsoup (payload plus frame header) and the
 * kernel says how many the peer has acknowledged (echo-tcp-acked.h). The difference is the
 * client's backlog wherever it sits. The limit is expressed in audio time: the backlog
 * may hold about MAX_BACKLOG_SECONDS of audio messages of the size and duration of the
 * one about to be sent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-share-socket.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-share-api.h"
#include "echo-tcp-acked.h"

#define ROUTE "/api/share/{id}/ws"
#define MAX_BACKLOG_SECONDS 2.0
/* the backlog always allowed, whatever the audio rate (TCP windows on loopback) */
#define MIN_BACKLOG_BYTES (64 * 1024)
#define KEEPALIVE_SECONDS 30
/* clients only ever send control frames and maybe a short message we ignore */
#define MAX_INCOMING_PAYLOAD 4096
#define OPUS_RATE 48000

struct _EchoShareSocket {
  EchoServer *server;
  EchoSharePool *pool;
  EchoShareMedia *media;      /* nullable */
  GPtrArray *clients;         /* of EchoShareClient*, owned */
};

typedef struct {
  EchoShareSocket *owner;
  SoupWebsocketConnection *conn;
  EchoShareSession *session;  /* a reference */
  char *session_id;
  guint listener_id;
  EchoShareAudioFormat format;
  guint opus_hold;            /* of the session's Opus encoding (format=opus), or 0 */
  GSocket *socket;            /* a reference; NULL when its backlog cannot be measured */
  guint64 sent;               /* bytes handed to libsoup, frame headers included */
  guint64 acked_base;         /* the peer's acknowledged bytes when it was opened */
  gboolean dropping;          /* in a streak of dropped audio messages */
  guint64 dropped;
} EchoShareClient;

static void
client_free (gpointer data)
{
  EchoShareClient *client = data;

  if (client->listener_id != 0)
    echo_share_session_remove_listener (client->session, client->listener_id);
  if (client->opus_hold != 0 && client->owner->media != NULL)
    echo_share_media_release_opus (client->owner->media, client->session_id,
        client->opus_hold);
  g_signal_handlers_disconnect_by_data (client->conn, client);
  if (soup_websocket_connection_get_state (client->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
  g_object_unref (client->conn);
  g_clear_object (&client->session);
  g_clear_object (&client->socket);
  g_free (client->session_id);
  g_free (client);
  echo_metric_add (echo_front_metrics ()->websocket_clients, NULL, -1);
}

/* The bytes a server frame of this payload takes on the wire (RFC 6455 5.2, unmasked). */
static guint64
frame_size (gsize payload)
{
  return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
}

/* Bytes sent but not yet acknowledged by the client; G_MAXUINT64 when unknown. */
static guint64
client_backlog (EchoShareClient *client)
{
  guint64 acked;

  if (client->socket == NULL || g_socket_is_closed (client->socket) ||
      !echo_tcp_bytes_acked (g_socket_get_fd (client->socket), &acked))
    return G_MAXUINT64;
  acked -= MIN (acked, client->acked_base);
  return client->sent > acked ? client->sent - acked : 0;
}

static void
client_send (EchoShareClient *client, const char *text, gsize len)
{
  if (soup_websocket_connection_get_state (client->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_text (client->conn, text);
  client->sent += frame_size (len);
}

/* Sends {"type":"audio","chunk":chunk_json} unless the client is too far behind. */
static void
client_send_audio (EchoShareClient *client, const char *chunk_json, guint n_frames)
{
  static const char prefix[] = "{\"type\":\"audio\",\"chunk\":";
  g_autoptr (GString) message = NULL;
  guint rate = OPUS_RATE;
  double seconds;
  guint64 limit, backlog;

  if (client->format == ECHO_SHARE_AUDIO_FORMAT_FLOAT)
    echo_share_session_get_format (client->session, &rate, NULL);
  message = g_string_sized_new (strlen (chunk_json) + sizeof prefix + 1);
  g_string_append (message, prefix);
  g_string_append (message, chunk_json);
  g_string_append_c (message, '}');

  seconds = rate > 0 && n_frames > 0 ? (double) n_frames / rate : 0.1;
  limit = MAX (MIN_BACKLOG_BYTES, (guint64) (message->len * MAX_BACKLOG_SECONDS / seconds));
  backlog = client_backlog (client);
  if (backlog != G_MAXUINT64 && backlog > limit) {
    client->dropped++;
    echo_metric_inc (echo_front_metrics ()->websocket_dropped, NULL);
    if (!client->dropping)
      echo_log_event (G_LOG_LEVEL_INFO, client->session_id, ROUTE, 0,
          "WebSocket client %s is %" G_GUINT64_FORMAT " bytes behind: dropping its audio "
          "until it catches up", soup_websocket_connection_get_origin (client->conn) ?
          soup_websocket_connection_get_origin (client->conn) : "", backlog);
    client->dropping = TRUE;
    return;
  }
  if (client->dropping)
    echo_log_event (G_LOG_LEVEL_INFO, client->session_id, ROUTE, 0,
        "WebSocket client caught up after %" G_GUINT64_FORMAT " dropped audio messages",
        client->dropped);
  client->dropping = FALSE;
  client_send (client, message->str, message->len);
  echo_share_session_add_bytes_out (client->session, message->len);
}

static void
client_send_metadata (EchoShareClient *client, const char *metadata_json)
{
  static const char prefix[] = "{\"type\":\"metadata\",\"metadata\":";
  g_autoptr (GString) message = g_string_sized_new (strlen (metadata_json) + sizeof prefix + 1);

  g_string_append (message, prefix);
  g_string_append (message, metadata_json);
  g_string_append_c (message, '}');
  client_send (client, message->str, message->len);
}

static void
on_metadata (EchoShareSession *session, const char *metadata_json, gpointer data)
{
  client_send_metadata (data, metadata_json);
}

static void
on_audio_chunk (EchoShareSession *session, const float *samples, guint n_frames,
    gint64 timestamp, const char *chunk_json, gpointer data)
{
  EchoShareClient *client = data;

  if (client->format == ECHO_SHARE_AUDIO_FORMAT_FLOAT)
    client_send_audio (client, chunk_json, n_frames);
}

static void
on_opus_packet (EchoShareSession *session, const guint8 *packet, gsize len, guint n_frames,
    const char *packet_json, gpointer data)
{
  EchoShareClient *client = data;

  if (client->format == ECHO_SHARE_AUDIO_FORMAT_OPUS)
    client_send_audio (client, packet_json, n_frames);
}

static void
client_send_ended (EchoShareClient *client, const char *reason, gint64 ended_at_ms)
{
  g_autofree char *message = g_strdup_printf ("{\"type\":\"ended\",\"reason\":\"%s\","
      "\"endedAt\":%" G_GINT64_FORMAT "}", reason, ended_at_ms);
  g_autofree char *close_reason = g_strdup_printf ("session ended: %s", reason);

  client_send (client, message, strlen (message));
  if (soup_websocket_connection_get_state (client->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, close_reason);
}

static void
on_ended (EchoShareSession *session, const char *reason, gint64 ended_at_ms, gpointer data)
{
  EchoShareClient *client = data;

  /* the session removes the listener after this returns */
  client->listener_id = 0;
  client_send_ended (client, reason, ended_at_ms);
}

static void
on_closed (SoupWebsocketConnection *conn, gpointer data)
{
  EchoShareClient *client = data;

  echo_log_event (G_LOG_LEVEL_DEBUG, client->session_id, ROUTE, 0,
      "WebSocket client closed (code %u)", soup_websocket_connection_get_close_code (conn));
  g_ptr_array_remove_fast (client->owner->clients, client);
}

/* The chunks a newly opened client is owed: what GET audio?since= would return, repeated
 * until the ring has nothing newer. */
static void
send_backlog (EchoShareClient *client, gint64 since)
{
  gint64 last = since;
  guint rounds;

  /* each round moves past at least one chunk; the bound only guards against a surprise */
  for (rounds = 0; rounds < 1000; rounds++) {
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autofree char *json = NULL;
    JsonArray *chunks;
    guint i, n;

    if (!echo_share_session_get_audio_json (client->session, last,
            ECHO_SHARE_MAX_CHUNKS_PER_REPLY, client->format, &json, NULL) || json == NULL)
      return;
    if (!json_parser_load_from_data (parser, json, -1, NULL) ||
        !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
      return;
    chunks = json_node_get_array (json_parser_get_root (parser));
    n = json_array_get_length (chunks);
    for (i = 0; i < n; i++) {
      JsonNode *chunk = json_array_get_element (chunks, i);
      JsonObject *object = json_node_get_object (chunk);
      g_autofree char *text = json_to_string (chunk, FALSE);

      client_send_audio (client, text, (guint) json_object_get_int_member_with_default (object,
              "frames", 0));
      last = json_object_get_int_member_with_default (object, "sequenceNumber", last);
    }
    /* since=-1 asked for the newest chunks only */
    if (since < 0 || n < ECHO_SHARE_MAX_CHUNKS_PER_REPLY)
      return;
  }
}

/* Before the upgrade: the session exists and the query is valid. */
static void
check_socket (EchoRequest *request, gpointer data)
{
  EchoShareSocket *sockets = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) query = NULL;
  GUri *uri = soup_server_message_get_uri (echo_request_get_message (request));
  EchoShareAudioQuery audio_query;

  if (g_uri_get_query (uri) != NULL)
    query = soup_form_decode (g_uri_get_query (uri));
  if (!echo_share_request_parse_audio_query (query, &audio_query, &error) ||
      echo_share_pool_lookup (sockets->pool, echo_request_get_param (request, "id"),
          &error) == NULL)
    echo_share_api_reply_error (request, error, FALSE);
}

static void
open_socket (EchoRequest *request, SoupWebsocketConnection *conn, gpointer data)
{
  EchoShareSocket *sockets = data;
  static const EchoShareListenerCallbacks callbacks = {
    .metadata = on_metadata,
    .audio_chunk = on_audio_chunk,
    .opus_packet = on_opus_packet,
    .ended = on_ended,
    .is_receiver = TRUE,
  };
  g_autoptr (GHashTable) query = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *hello = NULL;
  g_autoptr (GBytes) metadata = NULL;
  GUri *uri = soup_server_message_get_uri (echo_request_get_message (request));
  GSocket *socket = soup_server_message_get_socket (echo_request_get_message (request));
  EchoShareAudioQuery audio_query = { .since = -1, .limit = 10,
    .format = ECHO_SHARE_AUDIO_FORMAT_FLOAT };
  EchoShareSession *session;
  EchoShareClient *client;

  if (g_uri_get_query (uri) != NULL)
    query = soup_form_decode (g_uri_get_query (uri));
  echo_share_request_parse_audio_query (query, &audio_query, NULL);

  client = g_new0 (EchoShareClient, 1);
  client->owner = sockets;
  client->conn = g_object_ref (conn);
  client->session_id = g_strdup (echo_request_get_param (request, "id"));
  client->format = audio_query.format;
  if (socket != NULL && echo_tcp_bytes_acked (g_socket_get_fd (socket), &client->acked_base))
    client->socket = g_object_ref (socket);
  echo_metric_add (echo_front_metrics ()->websocket_clients, NULL, 1);
  g_ptr_array_add (sockets->clients, client);

  soup_websocket_connection_set_keepalive_interval (conn, KEEPALIVE_SECONDS);
  soup_websocket_connection_set_max_incoming_payload_size (conn, MAX_INCOMING_PAYLOAD);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), client);

  session = echo_share_pool_lookup (sockets->pool, client->session_id, &error);
  if (session == NULL) {
    gint64 ended_at = echo_clock_now_ms ();
    const char *reason = "not found";

    /* it ended between the check and the upgrade */
    echo_share_error_get_ended (error, &ended_at, &reason);
    client->session = NULL;
    client_send_ended (client, reason, ended_at);
    return;
  }
  client->session = g_object_ref (session);

  hello = g_strdup_printf ("{\"type\":\"hello\",\"sessionId\":\"%s\",\"serverTime\":%"
      G_GINT64_FORMAT ",\"isActive\":true}", client->session_id, echo_clock_now_ms ());
  client_send (client, hello, strlen (hello));
  metadata = echo_share_session_get_metadata_json (session, NULL);
  /* the bytes are NUL-terminated (echo-share-session.h) */
  if (metadata != NULL)
    client_send_metadata (client, g_bytes_get_data (metadata, NULL));
  send_backlog (client, audio_query.since);

  client->listener_id = echo_share_session_add_listener (session, &callbacks, client, NULL);
  if (client->format == ECHO_SHARE_AUDIO_FORMAT_OPUS && sockets->media != NULL)
    client->opus_hold = echo_share_media_hold_opus (sockets->media, client->session_id);
  echo_log_event (G_LOG_LEVEL_INFO, client->session_id, ROUTE, 101,
      "WebSocket receiver %s joined (%s)", echo_request_get_remote_host (request),
      client->format == ECHO_SHARE_AUDIO_FORMAT_OPUS ? "opus" : "float");
}

EchoShareSocket *
echo_share_socket_new (EchoServer *server, EchoSharePool *pool, EchoShareMedia *media)
{
  EchoShareSocket *sockets = g_new0 (EchoShareSocket, 1);

  sockets->server = server;
  sockets->pool = pool;
  sockets->media = media;
  sockets->clients = g_ptr_array_new_with_free_func (client_free);
  echo_server_add_websocket_route (server, ROUTE, ECHO_ROUTE_AUTH_BEARER, check_socket,
      open_socket, sockets);
  return sockets;
}

void
echo_share_socket_free (EchoShareSocket *sockets)
{
  if (sockets == NULL)
    return;
  g_ptr_array_unref (sockets->clients);
  g_free (sockets);
}

guint
echo_share_socket_get_client_count (EchoShareSocket *sockets)
{
  return sockets->clients->len;
}
