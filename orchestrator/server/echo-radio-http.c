/* echo-radio-http.c: see echo-radio-http.h.
 *
 * Source and listener requests are stream routes (echo-server.h): the handler runs with the
 * request head in, checks everything that can be answered in HTTP, then takes the
 * connection over. A source's connection is read here and fed to the mounts; a listener's
 * is handed to the mount, which writes it (echo-radio-listener.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-radio-http.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "config.h"
#include "echo-clock.h"
#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-radio-icy.h"
#include "echo-radio-request.h"

#define SOURCE_READ_SIZE 16384
/* a POSTed updinfo form: a few parameters of at most 1024 bytes each, %-encoded */
#define ADMIN_FORM_LIMIT 16384
/* unsent bytes a listener's socket may hold: the kernel would otherwise take megabytes
 * (send-buffer autotuning) before a listener that stopped reading blocks, so the lag limit
 * would take minutes to notice it, with that much memory held per listener meanwhile */
#define LISTENER_NOTSENT_LOWAT 16384
#define ICECAST_REALM "Basic realm=\"Icecast2 Server\""

struct _EchoRadioHttp {
  EchoRadioMounts *mounts;
  gint64 source_timeout_us;
  GPtrArray *sources;         /* of RadioSource*, a reference each */
  guint reads_in_flight;      /* every read must complete before the front is freed */
};

/* One connected source client, while its connection is read. */
typedef struct {
  EchoRadioHttp *http;        /* outlives every read (echo_radio_http_free () waits) */
  char *mount;
  char *remote;
  GIOStream *stream;
  GCancellable *cancellable;
  gint64 last_data_us;
  guint watchdog;
  gboolean ended;
} RadioSource;

static void
radio_source_clear (gpointer data)
{
  RadioSource *source = data;

  g_free (source->mount);
  g_free (source->remote);
  g_clear_object (&source->stream);
  g_clear_object (&source->cancellable);
}

static void
radio_source_unref (gpointer data)
{
  g_rc_box_release_full (data, radio_source_clear);
}

/* The source is gone (EOF, error, timeout, or echod stopping): its mount ends. */
static void
radio_source_end (RadioSource *source, const char *why)
{
  EchoRadioHttp *http = source->http;

  if (source->ended)
    return;
  source->ended = TRUE;
  g_cancellable_cancel (source->cancellable);
  if (source->watchdog != 0)
    g_source_remove (source->watchdog);
  source->watchdog = 0;
  g_io_stream_close (source->stream, NULL, NULL);
  echo_log_event (G_LOG_LEVEL_INFO, NULL, "/{mount}", 0, "%s: source %s disconnected (%s)",
      source->mount, source->remote, why);
  echo_radio_mounts_source_end (http->mounts, source->mount);
  g_ptr_array_remove (http->sources, source);
}

static void read_next (RadioSource *source);

static void
source_read_done (GObject *stream, GAsyncResult *result, gpointer data)
{
  RadioSource *source = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (stream), result,
      &error);

  source->http->reads_in_flight--;
  if (!source->ended) {
    if (bytes == NULL)
      radio_source_end (source, error->message);
    else if (g_bytes_get_size (bytes) == 0)
      radio_source_end (source, "end of stream");
    else {
      source->last_data_us = echo_clock_monotonic_us ();
      echo_radio_mounts_feed (source->http->mounts, source->mount, bytes);
      read_next (source);
    }
  }
  radio_source_unref (source);
}

static void
read_next (RadioSource *source)
{
  source->http->reads_in_flight++;
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (source->stream),
      SOURCE_READ_SIZE, G_PRIORITY_DEFAULT, source->cancellable, source_read_done,
      g_rc_box_acquire (source));
}

static gboolean
source_watchdog (gpointer data)
{
  RadioSource *source = data;

  if (echo_clock_monotonic_us () - source->last_data_us > source->http->source_timeout_us) {
    source->watchdog = 0;
    radio_source_end (source, "timed out: no data");
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* --- replies in HTTP, before a connection is taken over --- */

static void
reply_radio_error (EchoRequest *request, const GError *error)
{
  guint status = error->domain == ECHO_RADIO_ERROR ?
      echo_radio_error_http_status (error->code) : SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (status == SOUP_STATUS_UNAUTHORIZED) {
    echo_metric_inc (echo_front_metrics ()->auth_failures, NULL);
    echo_request_set_header (request, "WWW-Authenticate", ICECAST_REALM);
  }
  echo_request_reply_error (request, status, error->domain == ECHO_RADIO_ERROR ?
      echo_radio_error_code_name (error->code) : "INTERNAL_ERROR", error->message, NULL);
}

static void
reply_unauthorized (EchoRequest *request)
{
  g_autoptr (GError) error = g_error_new_literal (ECHO_RADIO_ERROR,
      ECHO_RADIO_ERROR_UNAUTHORIZED, "You need to authenticate");

  reply_radio_error (request, error);
}

/* "/" + the {mount} segment, or NULL (400 sent) when it is not a mount name */
static char *
request_mount (EchoRequest *request)
{
  g_autofree char *mount = g_strconcat ("/", echo_request_get_param (request, "mount"), NULL);

  if (!echo_radio_mount_is_valid (mount)) {
    g_autoptr (GError) error = g_error_new_literal (ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "Invalid mount name");

    reply_radio_error (request, error);
    return NULL;
  }
  return g_steal_pointer (&mount);
}

static gboolean
write_now (GIOStream *stream, const char *text)
{
  GPollableOutputStream *out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
  gsize len = strlen (text);
  gssize written;

  /* a few bytes on a connection that has carried nothing yet: the socket takes them */
  written = g_pollable_output_stream_write_nonblocking (out, text, len, NULL, NULL);
  return written == (gssize) len;
}

/* --- PUT / SOURCE /<mount> --- */

static void
handle_source (EchoRequest *request, gpointer data)
{
  EchoRadioHttp *http = data;
  g_autofree char *mount = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  g_autoptr (GstTagList) station = NULL;
  g_autoptr (GError) error = NULL;
  EchoRadioFormat format = ECHO_RADIO_FORMAT_UNKNOWN;
  const char *content_type = echo_request_get_header (request, "Content-Type");
  const char *expect = echo_request_get_header (request, "Expect");
  EchoRadioIceHeaders ice = { 0 };
  RadioSource *source;

  mount = request_mount (request);
  if (mount == NULL)
    return;
  if (!echo_radio_parse_basic_auth (echo_request_get_header (request, "Authorization"), &user,
          &password) || !echo_radio_mounts_check_source (http->mounts, mount, user, password)) {
    reply_unauthorized (request);
    return;
  }
  if (echo_request_get_header (request, "Transfer-Encoding") != NULL) {
    echo_request_reply_error (request, SOUP_STATUS_NOT_IMPLEMENTED, "NOT_IMPLEMENTED",
        "Chunked source bodies are not supported: send the stream as it is", NULL);
    return;
  }
  if (echo_radio_source_content_type (content_type, &format, NULL) != NULL) {
    ice.name = echo_request_get_header (request, "ice-name");
    ice.genre = echo_request_get_header (request, "ice-genre");
    ice.description = echo_request_get_header (request, "ice-description");
    ice.url = echo_request_get_header (request, "ice-url");
    ice.bitrate = echo_request_get_header (request, "ice-bitrate");
    ice.audio_info = echo_request_get_header (request, "ice-audio-info");
    /* legacy clients name them icy-* */
    if (ice.name == NULL)
      ice.name = echo_request_get_header (request, "icy-name");
    if (ice.genre == NULL)
      ice.genre = echo_request_get_header (request, "icy-genre");
    if (ice.url == NULL)
      ice.url = echo_request_get_header (request, "icy-url");
    if (ice.bitrate == NULL)
      ice.bitrate = echo_request_get_header (request, "icy-br");
    station = echo_radio_station_tags (&ice, format);
  }
  if (!echo_radio_mounts_source_start (http->mounts, mount, content_type, station, &error)) {
    reply_radio_error (request, error);
    return;
  }

  source = g_rc_box_new0 (RadioSource);
  source->http = http;
  source->mount = g_steal_pointer (&mount);
  source->remote = g_strdup (echo_request_get_remote_host (request));
  source->cancellable = g_cancellable_new ();
  source->last_data_us = echo_clock_monotonic_us ();
  source->stream = echo_request_steal_connection (request, SOUP_STATUS_OK);
  g_ptr_array_add (http->sources, source);

  /* Icecast 2.4's answer: a client that waits for 100-continue gets it, then 200 OK */
  if (!write_now (source->stream, expect != NULL && strstr (expect, "100-continue") != NULL ?
          "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\nHTTP/1.0 200 OK\r\n\r\n" :
          "HTTP/1.0 200 OK\r\n\r\n")) {
    radio_source_end (source, "could not answer");
    return;
  }
  echo_log_event (G_LOG_LEVEL_INFO, NULL, "/{mount}", 200, "%s: source %s connected (%s)",
      source->mount, source->remote, content_type);
  source->watchdog = g_timeout_add_seconds (1, source_watchdog, source);
  read_next (source);
}

/* --- GET /radio/<mount> --- */

static void
append_icy_header (GString *head, const char *name, const GstTagList *station, const char *tag)
{
  const char *value = NULL;

  if (station != NULL && gst_tag_list_peek_string_index (station, tag, 0, &value))
    g_string_append_printf (head, "%s:%s\r\n", name, value);
}

static GBytes *
listener_head (EchoRequest *request, const char *content_type, const GstTagList *station,
    guint metaint)
{
  GString *head = g_string_new ("HTTP/1.0 200 OK\r\nServer: echod/" VERSION "\r\n");
  const char *origin = soup_message_headers_get_one (soup_server_message_get_response_headers
      (echo_request_get_message (request)), "Access-Control-Allow-Origin");
  guint bitrate = 0;

  g_string_append_printf (head, "Content-Type: %s\r\n", content_type);
  g_string_append (head, "Cache-Control: no-cache, no-store\r\nPragma: no-cache\r\n"
      "Expires: Mon, 26 Jul 1997 05:00:00 GMT\r\nConnection: close\r\n");
  if (origin != NULL)
    g_string_append_printf (head, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
  append_icy_header (head, "icy-name", station, GST_TAG_ORGANIZATION);
  append_icy_header (head, "icy-genre", station, GST_TAG_GENRE);
  append_icy_header (head, "icy-description", station, GST_TAG_DESCRIPTION);
  append_icy_header (head, "icy-url", station, GST_TAG_HOMEPAGE);
  if (station != NULL && gst_tag_list_get_uint (station, GST_TAG_NOMINAL_BITRATE, &bitrate))
    g_string_append_printf (head, "icy-br:%u\r\n", bitrate / 1000);
  g_string_append (head, "icy-pub:0\r\n");
  if (metaint > 0)
    g_string_append_printf (head, "icy-metaint:%u\r\n", metaint);
  g_string_append (head, "\r\n");
  return g_string_free_to_bytes (head);
}

static void
handle_listener (EchoRequest *request, gpointer data)
{
  EchoRadioHttp *http = data;
  g_autofree char *mount = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) head = NULL;
  g_autoptr (GIOStream) stream = NULL;
  const char *content_type = NULL;
  const GstTagList *station = NULL;
  gboolean icy_capable = FALSE;
  gboolean icy;
  GSocket *socket;

  mount = request_mount (request);
  if (mount == NULL)
    return;
  if (!echo_radio_mounts_check_listener (http->mounts, mount, &content_type, &station,
          &icy_capable, &error)) {
    reply_radio_error (request, error);
    return;
  }
  icy = icy_capable && g_strcmp0 (echo_request_get_header (request, "Icy-MetaData"), "1") == 0;
  head = listener_head (request, content_type, station,
      icy ? echo_radio_mounts_get_metaint (http->mounts, mount) : 0);

  if (strcmp (echo_request_get_method (request), "HEAD") == 0) {
    stream = echo_request_steal_connection (request, SOUP_STATUS_OK);
    write_now (stream, g_bytes_get_data (head, NULL));
    g_io_stream_close (stream, NULL, NULL);
    return;
  }
  socket = soup_server_message_get_socket (echo_request_get_message (request));
  if (socket != NULL)
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NOTSENT_LOWAT, LISTENER_NOTSENT_LOWAT, NULL);
  stream = echo_request_steal_connection (request, SOUP_STATUS_OK);
  echo_radio_mounts_add_listener (http->mounts, mount, stream, head, icy);
}

/* --- GET /admin/metadata --- */

static void
handle_metadata (EchoRequest *request, gpointer data)
{
  EchoRadioHttp *http = data;
  g_autoptr (EchoRadioMetadataUpdate) update = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  g_autofree char *title = NULL;
  g_autofree char *form = NULL;
  g_autofree char *mount = NULL;
  const char *query;

  /* GET has the parameters in the query, POST (libshout, when the server allows it) in an
   * application/x-www-form-urlencoded body */
  if (strcmp (echo_request_get_method (request), "POST") == 0) {
    g_autoptr (GBytes) body = echo_request_get_body (request);

    form = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    query = form;
  } else {
    query = g_uri_get_query (soup_server_message_get_uri (echo_request_get_message (request)));
  }
  /* credentials first, as Icecast: the mount named for them is the query's mount= */
  mount = echo_radio_query_value (query, "mount");
  if (!echo_radio_parse_basic_auth (echo_request_get_header (request, "Authorization"), &user,
          &password) || !echo_radio_mounts_check_admin (http->mounts, mount, user, password)) {
    reply_unauthorized (request);
    return;
  }
  update = echo_radio_parse_metadata_query (query, &error);
  if (update == NULL) {
    reply_radio_error (request, error);
    return;
  }
  if (!echo_radio_mounts_feed_metadata (http->mounts, update->mount, update->tags, &error)) {
    /* Icecast answers an updinfo for a mount without a source with 400 */
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "NO_SOURCE",
        "Source does not exist", NULL);
    return;
  }
  title = echo_radio_icy_stream_title (update->tags);
  echo_log_event (G_LOG_LEVEL_INFO, NULL, "/admin/metadata", 200, "%s: title \"%s\"",
      update->mount, title);
  echo_request_reply_text (request, SOUP_STATUS_OK, "text/xml; charset=utf-8",
      "<?xml version=\"1.0\"?>\n<iceresponse><message>Metadata update successful</message>"
      "<return>1</return></iceresponse>\n");
}

/* --- the front --- */

EchoRadioHttp *
echo_radio_http_new (EchoServer *server, EchoRadioMounts *mounts, const EchoConfig *config)
{
  EchoRadioHttp *http = g_new0 (EchoRadioHttp, 1);

  http->mounts = mounts;
  http->source_timeout_us = (gint64) config->radio_source_timeout_seconds * G_USEC_PER_SEC;
  http->sources = g_ptr_array_new_with_free_func (radio_source_unref);

  echo_server_add_stream_route (server, "PUT", "/{mount}", ECHO_ROUTE_AUTH_NONE, TRUE,
      handle_source, http);
  echo_server_add_stream_route (server, "SOURCE", "/{mount}", ECHO_ROUTE_AUTH_NONE, TRUE,
      handle_source, http);
  echo_server_add_stream_route (server, "GET", "/radio/{mount}", ECHO_ROUTE_AUTH_NONE, FALSE,
      handle_listener, http);
  echo_server_add_route (server, "GET", "/admin/metadata", ECHO_ROUTE_AUTH_NONE, 0,
      handle_metadata, http);
  echo_server_add_route (server, "POST", "/admin/metadata", ECHO_ROUTE_AUTH_NONE,
      ADMIN_FORM_LIMIT, handle_metadata, http);
  return http;
}

void
echo_radio_http_free (EchoRadioHttp *http)
{
  if (http == NULL)
    return;
  while (http->sources->len > 0)
    radio_source_end (g_ptr_array_index (http->sources, 0), "echod is stopping");
  /* the cancelled reads complete on the main context: let them, so nothing is left over */
  while (http->reads_in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  g_ptr_array_unref (http->sources);
  g_free (http);
}
