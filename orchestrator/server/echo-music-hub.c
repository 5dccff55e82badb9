/* The music API's WebSocket: rooms, broadcasts, the time exchange (see echo-music-hub.h). */
#include "echo-music-hub.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-metrics.h"
#include "echo-music-error.h"
#include "echo-music-sync.h"
#include "echo-tcp-acked.h"

#define ROUTE "/api/music/ws"
#define KEEPALIVE_SECONDS 30
/* client messages are small commands */
#define MAX_INCOMING_PAYLOAD 4096
/* a client this far behind (unacknowledged bytes) is closed rather than buffered for */
#define MAX_BACKLOG (1024 * 1024)
#define MAX_ROOMS_PER_CLIENT 16

struct _EchoMusicHub {
  EchoServer *server;
  EchoMusicHubCallbacks callbacks;
  gpointer user_data;
  GHashTable *rooms;          /* name -> GPtrArray of EchoMusicClient* (not owned) */
  GPtrArray *clients;         /* of EchoMusicClient*, owned */
  GPtrArray *handlers;        /* of PrefixHandler*, owned */
};

typedef struct {
  char *prefix;
  EchoMusicHubHandler handler;
  gpointer user_data;
} PrefixHandler;

static void
prefix_handler_free (gpointer data)
{
  PrefixHandler *handler = data;

  g_free (handler->prefix);
  g_free (handler);
}

struct _EchoMusicClient {
  EchoMusicHub *hub;
  SoupWebsocketConnection *conn;
  EchoIdentity identity;
  GPtrArray *rooms;           /* of char*, the rooms it is in */
  GSocket *socket;            /* a reference; NULL when its backlog cannot be measured */
  guint64 sent;               /* bytes handed to libsoup, frame headers included */
  guint64 acked_base;
  guint64 acked;              /* bytes acknowledged at the last look (relative to the base) */
  gboolean closed;
  guint reap_source;
};

static void
room_remove (EchoMusicHub *hub, const char *room, EchoMusicClient *client)
{
  GPtrArray *members = g_hash_table_lookup (hub->rooms, room);

  if (members == NULL)
    return;
  g_ptr_array_remove_fast (members, client);
  if (members->len == 0)
    g_hash_table_remove (hub->rooms, room);
}

static void
client_free (gpointer data)
{
  EchoMusicClient *client = data;
  guint i;

  for (i = 0; i < client->rooms->len; i++)
    room_remove (client->hub, g_ptr_array_index (client->rooms, i), client);
  g_ptr_array_unref (client->rooms);
  g_clear_handle_id (&client->reap_source, g_source_remove);
  g_signal_handlers_disconnect_by_data (client->conn, client);
  if (soup_websocket_connection_get_state (client->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
  g_object_unref (client->conn);
  g_clear_object (&client->socket);
  g_free (client->identity.user);
  g_strfreev (client->identity.roles);
  g_free (client);
  echo_metric_add (echo_front_metrics ()->websocket_clients, NULL, -1);
}

/* The bytes a server frame of this payload takes on the wire (RFC 6455 5.2, unmasked). */
static guint64
frame_size (gsize payload)
{
  return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
}

/* Unacknowledged bytes. Acknowledgements only grow, so while what was sent is within
 * MAX_BACKLOG of the last count no client can be over it: the kernel is asked (one
 * getsockopt) only when it could be, not on every send of every broadcast. */
static guint64
client_backlog (EchoMusicClient *client)
{
  guint64 acked;

  if (client->sent - MIN (client->sent, client->acked) <= MAX_BACKLOG)
    return client->sent - MIN (client->sent, client->acked);
  if (client->socket == NULL || g_socket_is_closed (client->socket) ||
      !echo_tcp_bytes_acked (g_socket_get_fd (client->socket), &acked))
    return 0;
  client->acked = acked - MIN (acked, client->acked_base);
  return client->sent - MIN (client->sent, client->acked);
}

static void
client_send_text (EchoMusicClient *client, const char *text, gsize len)
{
  guint64 backlog;

  if (client->closed ||
      soup_websocket_connection_get_state (client->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  if ((backlog = client_backlog (client)) > MAX_BACKLOG) {
    echo_log_event (G_LOG_LEVEL_WARNING, NULL, ROUTE, 1008,
        "closing a music WebSocket client that is %" G_GUINT64_FORMAT " bytes behind",
        backlog);
    soup_websocket_connection_close (client->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
        "too slow");
    return;
  }
  soup_websocket_connection_send_text (client->conn, text);
  client->sent += frame_size (len);
}

/* {"type":type, ...fields} as text: the fields object serialized as it is (no copy),
 * "type" spliced in front. */
static char *
event_text (const char *type, JsonNode *fields, gsize *len)
{
  g_autofree char *members = NULL;
  char *text;

  if (fields != NULL && JSON_NODE_HOLDS_OBJECT (fields) &&
      json_object_get_size (json_node_get_object (fields)) > 0)
    members = json_to_string (fields, FALSE);
  /* members is "{...}": keep what follows its brace */
  text = members != NULL ? g_strconcat ("{\"type\":\"", type, "\",", members + 1, NULL) :
      g_strconcat ("{\"type\":\"", type, "\"}", NULL);
  *len = strlen (text);
  return text;
}

void
echo_music_client_send (EchoMusicClient *client, const char *type, JsonNode *fields)
{
  gsize len;
  g_autofree char *text = event_text (type, fields, &len);

  client_send_text (client, text, len);
}

void
echo_music_client_send_text (EchoMusicClient *client, const char *text, gsize len)
{
  client_send_text (client, text, len);
}

void
echo_music_client_send_error (EchoMusicClient *client, const GError *error)
{
  g_autoptr (JsonNode) fields = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();
  const char *code = error->domain == ECHO_MUSIC_ERROR ?
      echo_music_error_code_name ((EchoMusicError) error->code) : "INTERNAL_ERROR";

  json_object_set_string_member (object, "code", code);
  json_object_set_string_member (object, "error", error->message);
  json_node_take_object (fields, object);
  echo_music_client_send (client, "music:error", fields);
}

const EchoIdentity *
echo_music_client_get_identity (EchoMusicClient *client)
{
  return &client->identity;
}

gboolean
echo_music_client_in_room (EchoMusicClient *client, const char *room)
{
  guint i;

  for (i = 0; i < client->rooms->len; i++)
    if (strcmp (g_ptr_array_index (client->rooms, i), room) == 0)
      return TRUE;
  return FALSE;
}

gboolean
echo_music_client_join_room (EchoMusicClient *client, const char *room, GError **error)
{
  GPtrArray *members;

  if (echo_music_client_in_room (client, room))
    return TRUE;
  if (client->rooms->len >= MAX_ROOMS_PER_CLIENT) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
        "a socket may be in at most %d rooms", MAX_ROOMS_PER_CLIENT);
    return FALSE;
  }
  members = g_hash_table_lookup (client->hub->rooms, room);
  if (members == NULL) {
    members = g_ptr_array_new ();
    g_hash_table_insert (client->hub->rooms, g_strdup (room), members);
  }
  g_ptr_array_add (members, client);
  g_ptr_array_add (client->rooms, g_strdup (room));
  return TRUE;
}

/* Leaves @room and its sub-rooms ("ROOM#..."). */
static void
client_leave_room (EchoMusicClient *client, const char *room)
{
  gsize n = strlen (room);
  guint i = 0;

  while (i < client->rooms->len) {
    const char *name = g_ptr_array_index (client->rooms, i);

    if (strncmp (name, room, n) == 0 && (name[n] == '\0' || name[n] == '#')) {
      room_remove (client->hub, name, client);
      g_ptr_array_remove_index_fast (client->rooms, i);
    } else {
      i++;
    }
  }
}

void
echo_music_client_leave_room (EchoMusicClient *client, const char *room)
{
  client_leave_room (client, room);
}

/* A string member that names something: 1..128 printable ASCII. */
static const char *
name_member (JsonObject *message, const char *member, GError **error)
{
  JsonNode *node = json_object_get_member (message, member);
  const char *value;
  gsize i;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s must be a string", member);
    return NULL;
  }
  value = json_node_get_string (node);
  for (i = 0; value[i] != '\0'; i++)
    if (value[i] <= ' ' || value[i] > '~')
      break;
  if (value[i] != '\0' || i == 0 || i > 128) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s must be 1..128 printable ASCII characters", member);
    return NULL;
  }
  return value;
}

static gboolean
answer_time (EchoMusicClient *client, JsonObject *message, double t1, GError **error)
{
  g_autofree char *text = NULL;
  double t0;

  if (!echo_music_sync_parse_time_request (message, &t0, error))
    return FALSE;
  text = echo_music_sync_format_time_reply (t0, t1, echo_clock_now_us () / 1000.0);
  client_send_text (client, text, strlen (text));
  return TRUE;
}

static gboolean
handle_message (EchoMusicClient *client, JsonObject *message, double t1, GError **error)
{
  EchoMusicHub *hub = client->hub;
  JsonNode *type_node = json_object_get_member (message, "type");
  const char *type, *id;
  g_autofree char *room = NULL;

  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "a message needs a string \"type\"");
    return FALSE;
  }
  type = json_node_get_string (type_node);
  if (strcmp (type, "music:time") == 0)
    return answer_time (client, message, t1, error);
  if (strcmp (type, "music:join_session") == 0) {
    if ((id = name_member (message, "sessionId", error)) == NULL)
      return FALSE;
    if (hub->callbacks.join == NULL) {
      g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "no music sessions here");
      return FALSE;
    }
    /* in the room first, so the state the owner sends and every later event arrive */
    if (!echo_music_client_join_room (client, id, error))
      return FALSE;
    if (!hub->callbacks.join (client, id, message, error, hub->user_data)) {
      client_leave_room (client, id);
      return FALSE;
    }
    return TRUE;
  }
  if (strcmp (type, "music:leave_session") == 0) {
    if ((id = name_member (message, "sessionId", error)) == NULL)
      return FALSE;
    client_leave_room (client, id);
    return TRUE;
  }
  if (strcmp (type, "overlay:subscribe") == 0) {
    if ((id = name_member (message, "serverId", error)) == NULL)
      return FALSE;
    room = g_strconcat ("overlay:", id, NULL);
    return echo_music_client_join_room (client, room, error);
  }
  for (guint i = 0; i < hub->handlers->len; i++) {
    PrefixHandler *handler = g_ptr_array_index (hub->handlers, i);

    if (g_str_has_prefix (type, handler->prefix))
      return handler->handler (client, type, message, error, handler->user_data);
  }
  if (hub->callbacks.message != NULL)
    return hub->callbacks.message (client, type, message, error, hub->user_data);
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "unknown message type \"%s\"", type);
  return FALSE;
}

static void
on_message (SoupWebsocketConnection *conn, gint kind, GBytes *data, gpointer user_data)
{
  EchoMusicClient *client = user_data;
  double t1 = echo_clock_now_us () / 1000.0;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  gsize len;
  const char *text = g_bytes_get_data (data, &len);

  if (kind != SOUP_WEBSOCKET_DATA_TEXT) {
    g_set_error_literal (&error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "messages are JSON text");
  } else if (!g_utf8_validate (text, len, NULL) ||
      !json_parser_load_from_data (parser, text, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error_literal (&error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "a message must be a JSON object");
  } else {
    handle_message (client, json_node_get_object (json_parser_get_root (parser)), t1,
        &error);
  }
  if (error != NULL)
    echo_music_client_send_error (client, error);
}

static gboolean
reap_client (gpointer data)
{
  EchoMusicClient *client = data;

  client->reap_source = 0;
  g_ptr_array_remove_fast (client->hub->clients, client);
  return G_SOURCE_REMOVE;
}

/* Freed from an idle callback: "closed" can be emitted while a broadcast walks a room. */
static void
on_closed (SoupWebsocketConnection *conn, gpointer data)
{
  EchoMusicClient *client = data;

  client->closed = TRUE;
  if (client->reap_source == 0)
    client->reap_source = g_idle_add (reap_client, client);
}

/* Authentication (the route's) is all a client needs to connect. */
static void
check_socket (EchoRequest *request, gpointer data)
{
}

static void
open_socket (EchoRequest *request, SoupWebsocketConnection *conn, gpointer data)
{
  EchoMusicHub *hub = data;
  const EchoIdentity *identity = echo_request_get_identity (request);
  GSocket *socket = soup_server_message_get_socket (echo_request_get_message (request));
  EchoMusicClient *client = g_new0 (EchoMusicClient, 1);

  client->hub = hub;
  client->conn = g_object_ref (conn);
  client->identity.user = g_strdup (identity->user);
  client->identity.roles = g_strdupv (identity->roles);
  client->identity.service = identity->service;
  client->rooms = g_ptr_array_new_with_free_func (g_free);
  if (socket != NULL && echo_tcp_bytes_acked (g_socket_get_fd (socket), &client->acked_base))
    client->socket = g_object_ref (socket);
  echo_metric_add (echo_front_metrics ()->websocket_clients, NULL, 1);
  g_ptr_array_add (hub->clients, client);

  soup_websocket_connection_set_keepalive_interval (conn, KEEPALIVE_SECONDS);
  soup_websocket_connection_set_max_incoming_payload_size (conn, MAX_INCOMING_PAYLOAD);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), client);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), client);
  echo_log_event (G_LOG_LEVEL_DEBUG, NULL, ROUTE, 101, "music WebSocket client %s (%s)",
      echo_request_get_remote_host (request),
      identity->user != NULL ? identity->user : "host application");
}

EchoMusicHub *
echo_music_hub_new (EchoServer *server, const EchoMusicHubCallbacks *callbacks,
    gpointer user_data)
{
  EchoMusicHub *hub = g_new0 (EchoMusicHub, 1);

  hub->server = server;
  hub->callbacks = *callbacks;
  hub->user_data = user_data;
  hub->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_ptr_array_unref);
  hub->clients = g_ptr_array_new_with_free_func (client_free);
  hub->handlers = g_ptr_array_new_with_free_func (prefix_handler_free);
  echo_server_add_websocket_route (server, ROUTE, ECHO_ROUTE_AUTH_USER, check_socket,
      open_socket, hub);
  return hub;
}

void
echo_music_hub_free (EchoMusicHub *hub)
{
  if (hub == NULL)
    return;
  g_ptr_array_unref (hub->clients);
  g_ptr_array_unref (hub->handlers);
  g_hash_table_unref (hub->rooms);
  g_free (hub);
}

void
echo_music_hub_broadcast_text (EchoMusicHub *hub, const char *room, const char *text,
    gsize len)
{
  GPtrArray *members = g_hash_table_lookup (hub->rooms, room);
  g_autoptr (GPtrArray) snapshot = NULL;
  guint i;

  if (members == NULL || members->len == 0)
    return;
  /* sending may close a slow client, which edits the room */
  snapshot = g_ptr_array_copy (members, NULL, NULL);
  for (i = 0; i < snapshot->len; i++)
    client_send_text (g_ptr_array_index (snapshot, i), text, len);
}

void
echo_music_hub_broadcast (EchoMusicHub *hub, const char *room, const char *type,
    JsonNode *fields)
{
  g_autofree char *text = NULL;
  gsize len;

  if (echo_music_hub_room_size (hub, room) == 0)
    return;
  text = event_text (type, fields, &len);
  echo_music_hub_broadcast_text (hub, room, text, len);
}

guint
echo_music_hub_room_size (EchoMusicHub *hub, const char *room)
{
  GPtrArray *members = g_hash_table_lookup (hub->rooms, room);

  return members != NULL ? members->len : 0;
}

void
echo_music_hub_add_handler (EchoMusicHub *hub, const char *prefix,
    EchoMusicHubHandler handler, gpointer user_data)
{
  PrefixHandler *entry = g_new0 (PrefixHandler, 1);

  entry->prefix = g_strdup (prefix);
  entry->handler = handler;
  entry->user_data = user_data;
  g_ptr_array_add (hub->handlers, entry);
}

guint
echo_music_hub_client_count (EchoMusicHub *hub)
{
  return hub->clients->len;
}
