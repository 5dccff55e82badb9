/* echod-harness.c: see echod-harness.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echod-harness.h"

#include <glib/gstdio.h>
#include <gio/gio.h>
#include <libpq-fe.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* generous: echod under AddressSanitizer on a busy machine, with PostgreSQL */
#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000
#define REQUEST_TIMEOUT_S 30

struct _EchodHarness {
  char *tmp_dir;
  char *data_dir;
  char *config_path;          /* NULL until set_config */
  GPtrArray *extra_args;      /* of char* */
  GHashTable *env;            /* name -> value (NULL: unset) */

  GSubprocess *proc;
  GDataInputStream *out;
  GCancellable *out_cancel;
  GString *banner;
  guint16 port;
  char *base_url;

  SoupSession *session;
  char *database_url;         /* this harness's own database, or NULL (file store) */
};

struct _EchodSocket {
  SoupWebsocketConnection *conn;
  GQueue messages;            /* of JsonObject* */
  gboolean closed;
};

void
echod_harness_spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < until) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
  }
}

static gboolean
flag_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default context until *done or timeout_ms passed; whether *done. */
static gboolean
spin_until (const gboolean *done, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, flag_timeout, &timed_out);

  while (!*done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return *done;
}

/* A fresh database on the cluster tests/lib/pg-sandbox started, so no test sees another
 * test's sessions; its URL (the sandbox's with dbname replaced). */
static char *
create_database (const char *cluster_url)
{
  static guint counter;
  g_autofree char *name = g_strdup_printf ("echod_test_%d_%u", (int) getpid (), ++counter);
  g_autofree char *sql = g_strdup_printf ("CREATE DATABASE %s", name);
  PGconn *conn = PQconnectdb (cluster_url);
  PGresult *result;

  if (PQstatus (conn) != CONNECTION_OK)
    g_error ("cannot connect to %s: %s", cluster_url, PQerrorMessage (conn));
  result = PQexec (conn, sql);
  if (PQresultStatus (result) != PGRES_COMMAND_OK)
    g_error ("%s: %s", sql, PQerrorMessage (conn));
  PQclear (result);
  PQfinish (conn);
  /* libpq takes the last dbname given, and a URI's query parameters come after its path */
  return g_strdup_printf ("%s%sdbname=%s", cluster_url, strchr (cluster_url, '?') ? "&" : "?",
      name);
}

gboolean
echod_harness_uses_postgresql (void)
{
  const char *url = g_getenv ("ECHO_TEST_DATABASE_URL");

  return url != NULL && url[0] != '\0';
}

const char *
echod_harness_database_url (EchodHarness *h)
{
  return h->database_url;
}

EchodHarness *
echod_harness_new (void)
{
  g_autoptr (GError) error = NULL;
  EchodHarness *h = g_new0 (EchodHarness, 1);

  /* NULL: GLib's own name template */
  h->tmp_dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  h->data_dir = g_build_filename (h->tmp_dir, "data", NULL);
  h->extra_args = g_ptr_array_new_with_free_func (g_free);
  h->env = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->banner = g_string_new (NULL);
  h->session = soup_session_new_with_options ("timeout", REQUEST_TIMEOUT_S,
      "idle-timeout", REQUEST_TIMEOUT_S, "user-agent", "echod-harness", NULL);

  /* the defaults every test wants: loopback, a known token, no mDNS, the pipelines of
   * this source tree */
  echod_harness_setenv (h, "BEARER_TOKEN", ECHOD_TEST_TOKEN);
  if (g_getenv ("ECHO_SOURCE_ROOT") != NULL) {
    g_autofree char *pipelines = g_build_filename (g_getenv ("ECHO_SOURCE_ROOT"), "pipelines",
        NULL);
    echod_harness_setenv (h, "ECHO_PIPELINES_DIR", pipelines);
  }
  if (g_getenv ("LOG_LEVEL") == NULL)
    echod_harness_setenv (h, "LOG_LEVEL", "info");
  /* only the sandbox's database, never one a developer's DATABASE_URL names */
  if (echod_harness_uses_postgresql ())
    h->database_url = create_database (g_getenv ("ECHO_TEST_DATABASE_URL"));
  echod_harness_setenv (h, "DATABASE_URL", h->database_url);
  return h;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
      G_FILE_ATTRIBUTE_STANDARD_TYPE, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
      (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL) {
    g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

    if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
      remove_tree (child);
    else
      g_unlink (child);
    g_object_unref (info);
  }
  g_rmdir (path);
}

void
echod_harness_free (EchodHarness *h)
{
  if (h == NULL)
    return;
  /* a clean shutdown is part of every test: it exits 0, and under the sanitizers that
   * also means it leaked nothing */
  if (echod_harness_is_running (h)) {
    int status = echod_harness_stop (h, SIGTERM);

    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
      g_error ("echod did not shut down cleanly on SIGTERM (wait status 0x%x)", status);
  }
  g_clear_object (&h->session);
  if (g_getenv ("ECHOD_TEST_KEEP") == NULL)
    remove_tree (h->tmp_dir);
  g_free (h->tmp_dir);
  g_free (h->data_dir);
  g_free (h->config_path);
  g_free (h->base_url);
  g_free (h->database_url);
  g_ptr_array_unref (h->extra_args);
  g_hash_table_unref (h->env);
  g_string_free (h->banner, TRUE);
  g_free (h);
}

void
echod_harness_set_config (EchodHarness *h, const char *keyfile_text)
{
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&h->config_path, g_free);
  h->config_path = g_build_filename (h->tmp_dir, "echod.conf", NULL);
  g_file_set_contents (h->config_path, keyfile_text, -1, &error);
  g_assert_no_error (error);
}

void
echod_harness_setenv (EchodHarness *h, const char *name, const char *value)
{
  g_hash_table_insert (h->env, g_strdup (name), g_strdup (value));
}

void
echod_harness_add_arg (EchodHarness *h, const char *arg)
{
  g_ptr_array_add (h->extra_args, g_strdup (arg));
}

const char *
echod_harness_data_dir (EchodHarness *h)
{
  return h->data_dir;
}

char *
echod_harness_binary_path (void)
{
  const char *root = g_getenv ("ECHO_BUILD_ROOT");

  g_assert_nonnull (root);
  return g_build_filename (root, "orchestrator", "server", "echod", NULL);
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *
make_launcher (EchodHarness *h, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  GHashTableIter iter;
  gpointer name, value;

  g_hash_table_iter_init (&iter, h->env);
  while (g_hash_table_iter_next (&iter, &name, &value)) {
    if (value != NULL)
      g_subprocess_launcher_setenv (launcher, name, value, TRUE);
    else
      g_subprocess_launcher_unsetenv (launcher, name);
  }
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

static void banner_read_next (EchodHarness *h);

static void
banner_line_read (GObject *source, GAsyncResult *result, gpointer data)
{
  EchodHarness *h = data;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
      NULL, NULL);
  if (line == NULL)
    return;                   /* EOF, error or cancelled (h may be gone then) */
  g_string_append_printf (h->banner, "%s\n", line);
  banner_read_next (h);
}

static void
banner_read_next (EchodHarness *h)
{
  g_data_input_stream_read_line_async (h->out, G_PRIORITY_DEFAULT, h->out_cancel,
      banner_line_read, h);
}

typedef struct {
  gboolean done;
  char *line;
  GError *error;
} LineResult;

static void
first_line_read (GObject *source, GAsyncResult *result, gpointer data)
{
  LineResult *lr = data;

  lr->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
      NULL, &lr->error);
  lr->done = TRUE;
}

gboolean
echod_harness_start (EchodHarness *h, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  LineResult lr = { 0 };
  const char *prefix = "echod: listening on http://";
  const char *port_text;
  guint i;

  g_return_val_if_fail (h->proc == NULL, FALSE);

  g_ptr_array_add (argv, echod_harness_binary_path ());
  g_ptr_array_add (argv, g_strdup ("--address=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--port=0"));
  g_ptr_array_add (argv, g_strdup_printf ("--data-dir=%s", h->data_dir));
  g_ptr_array_add (argv, g_strdup ("--no-discovery"));
  if (h->config_path != NULL)
    g_ptr_array_add (argv, g_strdup_printf ("--config=%s", h->config_path));
  for (i = 0; i < h->extra_args->len; i++)
    g_ptr_array_add (argv, g_strdup (g_ptr_array_index (h->extra_args, i)));
  g_ptr_array_add (argv, NULL);

  launcher = make_launcher (h, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  h->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
  if (h->proc == NULL)
    return FALSE;

  h->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (h->proc));
  h->out_cancel = g_cancellable_new ();
  g_string_truncate (h->banner, 0);

  g_data_input_stream_read_line_async (h->out, G_PRIORITY_DEFAULT, h->out_cancel,
      first_line_read, &lr);
  if (!spin_until (&lr.done, START_TIMEOUT_MS)) {
    g_cancellable_cancel (h->out_cancel);
    spin_until (&lr.done, START_TIMEOUT_MS);
    g_clear_error (&lr.error);
    g_free (lr.line);
    echod_harness_stop (h, SIGKILL);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "echod did not start in %d ms",
        START_TIMEOUT_MS);
    return FALSE;
  }
  if (lr.line == NULL || !g_str_has_prefix (lr.line, prefix)) {
    if (lr.error != NULL)
      g_propagate_error (error, lr.error);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "echod's first line was '%s'",
          lr.line ? lr.line : "(end of output)");
    g_free (lr.line);
    echod_harness_stop (h, SIGKILL);
    return FALSE;
  }

  port_text = strrchr (lr.line, ':') + 1;
  h->port = (guint16) g_ascii_strtoull (port_text, NULL, 10);
  g_free (h->base_url);
  h->base_url = g_strdup_printf ("http://127.0.0.1:%u", h->port);
  g_free (lr.line);
  g_assert_cmpuint (h->port, >, 0);
  banner_read_next (h);
  return TRUE;
}

static void
wait_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

static gboolean
wait_exit (GSubprocess *proc, guint timeout_ms)
{
  gboolean done = FALSE;

  g_subprocess_wait_async (proc, NULL, wait_done, &done);
  return spin_until (&done, timeout_ms);
}

int
echod_harness_stop (EchodHarness *h, int signum)
{
  int status;

  if (h->proc == NULL)
    return -1;

  g_subprocess_send_signal (h->proc, signum);
  if (!wait_exit (h->proc, STOP_TIMEOUT_MS)) {
    g_test_message ("echod did not exit within %d ms of signal %d; killing it",
        STOP_TIMEOUT_MS, signum);
    g_subprocess_force_exit (h->proc);
    wait_exit (h->proc, STOP_TIMEOUT_MS);
  }
  status = g_subprocess_get_status (h->proc);

  g_cancellable_cancel (h->out_cancel);
  /* let the cancelled read report, so nothing refers to h afterwards */
  echod_harness_spin (20);
  g_clear_object (&h->out_cancel);
  g_clear_object (&h->out);
  g_clear_object (&h->proc);
  h->port = 0;
  return status;
}

gboolean
echod_harness_is_running (EchodHarness *h)
{
  return h->proc != NULL;
}

guint16
echod_harness_port (EchodHarness *h)
{
  return h->port;
}

GPid
echod_harness_pid (EchodHarness *h)
{
  const char *id = h->proc != NULL ? g_subprocess_get_identifier (h->proc) : NULL;

  return id != NULL ? (GPid) g_ascii_strtoll (id, NULL, 10) : 0;
}

const char *
echod_harness_banner (EchodHarness *h)
{
  return h->banner->str;
}

int
echod_harness_run_to_exit (EchodHarness *h, const char *const *args, char **out_stdout,
    char **out_stderr)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  g_ptr_array_add (argv, echod_harness_binary_path ());
  for (; args != NULL && *args != NULL; args++)
    g_ptr_array_add (argv, g_strdup (*args));
  g_ptr_array_add (argv, NULL);

  launcher = make_launcher (h, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out_stdout, out_stderr, &error);
  g_assert_no_error (error);
  return g_subprocess_get_status (proc);
}

EchodReply *
echod_harness_request_full (EchodHarness *h, const char *method, const char *path,
    const char *auth, const char *body, gssize body_len, const char *const *extra_headers)
{
  g_autofree char *url = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  SoupMessageHeaders *headers;
  EchodReply *reply;
  gsize len;

  g_assert_nonnull (h->base_url);
  url = g_strconcat (h->base_url, path, NULL);
  msg = soup_message_new (method, url);
  g_assert_nonnull (msg);
  headers = soup_message_get_request_headers (msg);
  if (auth == NULL)
    soup_message_headers_replace (headers, "Authorization", ECHOD_TEST_TOKEN);
  else if (auth[0] != '\0')
    soup_message_headers_replace (headers, "Authorization", auth);
  for (; extra_headers != NULL && extra_headers[0] != NULL; extra_headers += 2)
    soup_message_headers_replace (headers, extra_headers[0], extra_headers[1]);
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, body_len < 0 ? strlen (body) : (gsize) body_len);
    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }

  reply = g_new0 (EchodReply, 1);
  reply->body = soup_session_send_and_read (h->session, msg, NULL, &error);
  g_assert_no_error (error);
  reply->status = soup_message_get_status (msg);
  reply->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  reply->text = g_strndup (g_bytes_get_data (reply->body, &len), g_bytes_get_size (reply->body));

  if (len > 0) {
    g_autoptr (JsonParser) parser = json_parser_new ();

    if (json_parser_load_from_data (parser, reply->text, -1, NULL))
      reply->json = json_node_copy (json_parser_get_root (parser));
  }
  return reply;
}

EchodReply *
echod_harness_request (EchodHarness *h, const char *method, const char *path,
    const char *body)
{
  return echod_harness_request_full (h, method, path, NULL, body, -1, NULL);
}

void
echod_reply_free (EchodReply *reply)
{
  if (reply == NULL)
    return;
  g_bytes_unref (reply->body);
  g_free (reply->text);
  if (reply->json != NULL)
    json_node_unref (reply->json);
  soup_message_headers_unref (reply->headers);
  g_free (reply);
}

JsonObject *
echod_reply_object (EchodReply *reply)
{
  if (reply->json == NULL || !JSON_NODE_HOLDS_OBJECT (reply->json))
    g_error ("reply %u is not a JSON object: '%.200s'", reply->status, reply->text);
  return json_node_get_object (reply->json);
}

void
echod_reply_assert_error (EchodReply *reply, guint status, const char *code)
{
  JsonObject *obj;

  if (reply->status != status)
    g_error ("expected status %u (%s), got %u: '%.300s'", status, code, reply->status,
        reply->text);
  obj = echod_reply_object (reply);
  g_assert_true (json_object_has_member (obj, "success"));
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_cmpstr (json_object_get_string_member_with_default (obj, "code", ""), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member_with_default (obj, "error", "")),
      >, 0);
  g_assert_cmpint (json_object_get_int_member_with_default (obj, "timestamp", 0), >,
      G_GINT64_CONSTANT (1600000000000));
  g_assert_cmpstr (soup_message_headers_get_content_type (reply->headers, NULL), ==,
      "application/json");
}

char *
echod_audio_body (const float *samples, guint n_frames, guint rate, guint channels,
    gint64 sequence, gint64 timestamp)
{
  g_autofree char *data = g_base64_encode ((const guchar *) samples,
      (gsize) n_frames * channels * sizeof (float));

  return g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":%u,\"channels\":%u,"
      "\"timestamp\":%" G_GINT64_FORMAT ",\"sequenceNumber\":%" G_GINT64_FORMAT "}",
      data, rate, channels, timestamp, sequence);
}

float *
echod_chunk_samples (JsonObject *chunk, gsize *n_floats)
{
  const char *data = json_object_get_string_member (chunk, "data");
  gsize len = 0;
  guchar *bytes;

  g_assert_nonnull (data);
  bytes = g_base64_decode (data, &len);
  g_assert_cmpuint (len % sizeof (float), ==, 0);
  *n_floats = len / sizeof (float);
  return (float *) bytes;
}

double
echod_metrics_value (const char *metrics_text, const char *series)
{
  g_auto (GStrv) lines = g_strsplit (metrics_text, "\n", -1);
  gsize len = strlen (series);
  guint i;

  for (i = 0; lines[i] != NULL; i++) {
    if (strncmp (lines[i], series, len) == 0 && lines[i][len] == ' ')
      return g_ascii_strtod (lines[i] + len + 1, NULL);
  }
  return -1;
}

static void
socket_message (SoupWebsocketConnection *conn, gint type, GBytes *message, gpointer data)
{
  EchodSocket *ws = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len;
  const char *text = g_bytes_get_data (message, &len);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_error ("WebSocket message is not a JSON object: '%.*s'", (int) MIN (len, 200), text);
  g_queue_push_tail (&ws->messages,
      json_object_ref (json_node_get_object (json_parser_get_root (parser))));
}

static void
socket_closed (SoupWebsocketConnection *conn, gpointer data)
{
  ((EchodSocket *) data)->closed = TRUE;
}

typedef struct {
  gboolean done;
  SoupWebsocketConnection *conn;
  GError *error;
} ConnectResult;

static void
ws_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  ConnectResult *cr = data;

  cr->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &cr->error);
  cr->done = TRUE;
}

EchodSocket *
echod_harness_ws_connect (EchodHarness *h, const char *path, const char *auth, GError **error)
{
  g_autofree char *url = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  ConnectResult cr = { 0 };
  EchodSocket *ws;

  url = g_strdup_printf ("ws://127.0.0.1:%u%s", h->port, path);
  msg = soup_message_new ("GET", url);
  g_assert_nonnull (msg);
  if (auth == NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
        ECHOD_TEST_TOKEN);
  else if (auth[0] != '\0')
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);

  soup_session_websocket_connect_async (h->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
      ws_connected, &cr);
  spin_until (&cr.done, REQUEST_TIMEOUT_S * 1000);
  g_assert_true (cr.done);
  if (cr.conn == NULL) {
    g_propagate_error (error, cr.error);
    return NULL;
  }

  ws = g_new0 (EchodSocket, 1);
  ws->conn = cr.conn;
  /* like a browser: no limit on what the server may send in one message */
  soup_websocket_connection_set_max_incoming_payload_size (ws->conn, 0);
  g_queue_init (&ws->messages);
  g_signal_connect (ws->conn, "message", G_CALLBACK (socket_message), ws);
  g_signal_connect (ws->conn, "closed", G_CALLBACK (socket_closed), ws);
  return ws;
}

static gboolean
socket_has_message_or_closed (EchodSocket *ws)
{
  return !g_queue_is_empty (&ws->messages) || ws->closed;
}

JsonObject *
echod_socket_next (EchodSocket *ws, guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!socket_has_message_or_closed (ws) && g_get_monotonic_time () < until) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  }
  return g_queue_pop_head (&ws->messages);
}

gboolean
echod_socket_wait_closed (EchodSocket *ws, guint timeout_ms, gushort *code, char **reason)
{
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!ws->closed && g_get_monotonic_time () < until) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  }
  if (!ws->closed)
    return FALSE;
  if (code != NULL)
    *code = soup_websocket_connection_get_close_code (ws->conn);
  if (reason != NULL)
    *reason = g_strdup (soup_websocket_connection_get_close_data (ws->conn));
  return TRUE;
}

void
echod_socket_free (EchodSocket *ws)
{
  if (ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ws->conn, ws);
  if (soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_object_unref (ws->conn);
  g_queue_clear_full (&ws->messages, (GDestroyNotify) json_object_unref);
  g_free (ws);
}
