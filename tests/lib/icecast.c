/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icecast.c: a private Icecast server for tests. See icecast.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "icecast.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define START_ATTEMPTS 5
#define READY_TIMEOUT_MS 10000
#define POLL_INTERVAL_MS 50
#define STOP_TIMEOUT_MS 10000
#define LOG_TAIL_LINES 25

/* ---- child processes ----------------------------------------------------------------- */

/* What the test's own environment sets up for itself (tests/meson.build) and a child must
 * not inherit: gst-launch-1.0 would otherwise load the build tree's plugins into a private
 * registry, or try to load the sanitizer runtime. */
static const gchar *const test_only_env[] = {
  "GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0",
  "GST_PLUGIN_SYSTEM_PATH", "GST_PLUGIN_SYSTEM_PATH_1_0",
  "GST_REGISTRY", "GST_REGISTRY_1_0", "GST_REGISTRY_FORK",
  "LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
  NULL
};

/* The watchdog's standard input is a pipe whose other end only the test process holds:
 * end of file means the test is gone, so it terminates the child as echo_icecast_stop()
 * would. A pipe rather than PR_SET_PDEATHSIG, which Icecast's own switch to user nobody
 * clears. */
static const gchar watchdog_script[] =
    "read _; kill -TERM \"$1\" 2>/dev/null || exit 0; "
    "for i in $(seq 100); do "
    "  kill -0 \"$1\" 2>/dev/null || exit 0; sleep 0.1; "
    "done; kill -KILL \"$1\" 2>/dev/null";

typedef struct
{
  gchar *name;
  gchar *log_path;              /* its standard output and error */
  GSubprocess *proc;
  GSubprocess *watchdog;
} Child;

static void child_free (Child * child);

static GSubprocessLauncher *
clean_launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  for (const gchar * const *v = test_only_env; *v; v++)
    g_subprocess_launcher_unsetenv (launcher, *v);
  return launcher;
}

static Child *
child_spawn (const gchar * name, const gchar * const *argv,
    const gchar * log_path, GError ** error)
{
  g_autoptr (GSubprocessLauncher) launcher =
      clean_launcher (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GSubprocessLauncher) wd_launcher =
      clean_launcher (G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GSubprocess) proc = NULL;
  const gchar *wd_argv[] = { "/bin/sh", "-c", watchdog_script, "echo-watchdog",
    NULL, NULL
  };
  Child *child;

  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    return NULL;

  child = g_new0 (Child, 1);
  child->name = g_strdup (name);
  child->log_path = g_strdup (log_path);
  child->proc = g_steal_pointer (&proc);
  wd_argv[4] = g_subprocess_get_identifier (child->proc);
  if (wd_argv[4] == NULL)       /* it has exited already */
    return child;
  child->watchdog = g_subprocess_launcher_spawnv (wd_launcher, wd_argv, error);
  if (child->watchdog == NULL) {
    child_free (child);
    return NULL;
  }
  return child;
}

typedef struct
{
  gboolean done;
  gboolean exited;
} WaitState;

static void
wait_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  WaitState *state = user_data;

  state->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result,
      NULL);
  state->done = TRUE;
}

static gboolean
cancel_cb (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

/* Waits up to @timeout_ms for @proc to exit; TRUE if it has. Also serves as the pause
 * between two polls of something else: it ends early when the process dies. */
static gboolean
wait_exit (GSubprocess * proc, guint timeout_ms)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GSource) timeout = g_timeout_source_new (timeout_ms);
  WaitState state = { FALSE, FALSE };

  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, cancel_cb, cancellable, NULL);
  g_source_attach (timeout, context);
  g_subprocess_wait_async (proc, cancellable, wait_done, &state);
  while (!state.done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
  return state.exited;
}

static gboolean
child_running (Child * child)
{
  return g_subprocess_get_identifier (child->proc) != NULL;
}

/* SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_MS. */
static void
child_stop (Child * child)
{
  g_subprocess_send_signal (child->proc, SIGTERM);
  if (!wait_exit (child->proc, STOP_TIMEOUT_MS)) {
    g_printerr ("%s ignored SIGTERM, killing it\n", child->name);
    g_subprocess_force_exit (child->proc);
    wait_exit (child->proc, STOP_TIMEOUT_MS);
  }
  if (child->watchdog != NULL) {
    g_subprocess_force_exit (child->watchdog);
    wait_exit (child->watchdog, STOP_TIMEOUT_MS);
  }
}

static void
child_free (Child * child)
{
  if (child == NULL)
    return;
  child_stop (child);
  g_clear_object (&child->proc);
  g_clear_object (&child->watchdog);
  g_free (child->name);
  g_free (child->log_path);
  g_free (child);
}

static gchar *
child_describe_exit (Child * child)
{
  if (g_subprocess_get_if_signaled (child->proc))
    return g_strdup_printf ("%s was killed by signal %d", child->name,
        g_subprocess_get_term_sig (child->proc));
  return g_strdup_printf ("%s exited with status %d", child->name,
      g_subprocess_get_exit_status (child->proc));
}

/* ---- the server ---------------------------------------------------------------------- */

struct _EchoIcecast
{
  gchar *dir;                   /* temporary: configuration and logs */
  gchar *source_password;
  gchar *admin_password;
  GString *mounts_xml;          /* <mount> sections */
  guint16 port;
  Child *server;
  GPtrArray *sources;           /* Child*, in start order */
  SoupSession *session;
};

/**
 * echo_icecast_find_binary:
 *
 * Returns: (transfer full) (nullable): the Icecast server binary: "icecast2" as Debian
 * names it, or "icecast".
 */
gchar *
echo_icecast_find_binary (void)
{
  gchar *path = g_find_program_in_path ("icecast2");

  return path ? path : g_find_program_in_path ("icecast");
}

EchoIcecast *
echo_icecast_new (void)
{
  EchoIcecast *ic = g_new0 (EchoIcecast, 1);

  ic->source_password = g_strdup_printf ("source-%08x", g_random_int ());
  ic->admin_password = g_strdup_printf ("admin-%08x", g_random_int ());
  ic->mounts_xml = g_string_new (NULL);
  ic->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  ic->session = soup_session_new_with_options ("timeout", 10,
      "proxy-resolver", NULL, "user-agent", "echo-tests", NULL);
  return ic;
}

/**
 * echo_icecast_set_mount_charset:
 *
 * Declares @mount with a <charset>: the encoding Icecast converts titles to before sending
 * them in-band (for MP3; ISO-8859-1 when not set). Call before echo_icecast_start().
 */
void
echo_icecast_set_mount_charset (EchoIcecast * ic, const gchar * mount,
    const gchar * charset)
{
  g_autofree gchar *xml = g_markup_printf_escaped ("  <mount>\n"
      "    <mount-name>%s</mount-name>\n"
      "    <charset>%s</charset>\n" "  </mount>\n", mount, charset);

  g_return_if_fail (ic->server == NULL);
  g_string_append (ic->mounts_xml, xml);
}

static guint16
pick_free_port (GError ** error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL || !g_socket_bind (socket, any, FALSE, error)
      || (bound = g_socket_get_local_address (socket, error)) == NULL)
    return 0;
  g_socket_close (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Fills tests/data/icecast.xml.in, the one Icecast configuration of the project (the demo
 * and the examples use it too). */
static gchar *
make_config (EchoIcecast * ic, const gchar * logdir, const gchar * user,
    const gchar * group, GError ** error)
{
  const gchar *root = g_getenv ("ECHO_SOURCE_ROOT");
  g_autofree gchar *path = NULL;
  g_autofree gchar *template = NULL;
  g_autofree gchar *port = g_strdup_printf ("%u", ic->port);
  g_autofree gchar *security = NULL;
  g_autoptr (GString) xml = NULL;
  const gchar *fill[][2] = {
    {"@PORT@", port},
    {"@SOURCE_PASSWORD@", ic->source_password},
    {"@ADMIN_PASSWORD@", ic->admin_password},
    {"@LOGDIR@", logdir},
    {"@MOUNTS@", ic->mounts_xml->str},
    {"@SECURITY@", NULL},
  };

  if (root == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "ECHO_SOURCE_ROOT is not set: run the test through meson test");
    return NULL;
  }
  path = g_build_filename (root, "tests", "data", "icecast.xml.in", NULL);
  if (!g_file_get_contents (path, &template, NULL, error))
    return NULL;

  /* Icecast refuses to run as root; it drops to @user itself once it listens. */
  security = user ? g_markup_printf_escaped ("  <security>\n"
      "    <chroot>0</chroot>\n"
      "    <changeowner><user>%s</user><group>%s</group></changeowner>\n"
      "  </security>", user, group) : g_strdup ("");
  fill[G_N_ELEMENTS (fill) - 1][1] = security;

  xml = g_string_new (template);
  for (guint i = 0; i < G_N_ELEMENTS (fill); i++)
    g_string_replace (xml, fill[i][0], fill[i][1], 0);
  return g_strdup (xml->str);
}

/* Logs must be writable by the user Icecast switches to when started as root. */
static gboolean
prepare_dir (EchoIcecast * ic, gchar ** user, gchar ** group, GError ** error)
{
  g_autofree gchar *logdir = NULL;
  struct passwd *pw;
  struct group *gr;

  ic->dir = g_dir_make_tmp (NULL, error);
  if (ic->dir == NULL)
    return FALSE;
  logdir = g_build_filename (ic->dir, "log", NULL);
  g_mkdir (logdir, 0755);
  if (getuid () != 0)
    return TRUE;

  if ((pw = getpwnam ("nobody")) == NULL
      || (gr = getgrgid (pw->pw_gid)) == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "running as root, and there is no user \"nobody\" for Icecast");
    return FALSE;
  }
  *user = g_strdup (pw->pw_name);
  *group = g_strdup (gr->gr_name);
  if (g_chmod (ic->dir, 0711) != 0
      || chown (logdir, pw->pw_uid, pw->pw_gid) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "cannot give %s to %s: %s", logdir, pw->pw_name, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static gchar *
http_get (EchoIcecast * ic, const gchar * path, gboolean admin, guint * status,
    GError ** error)
{
  g_autofree gchar *url = echo_icecast_get_url (ic, path);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  g_autoptr (GBytes) body = NULL;

  if (admin) {
    g_autofree gchar *credentials = g_strdup_printf ("admin:%s",
        ic->admin_password);
    g_autofree gchar *encoded = g_base64_encode ((const guchar *) credentials,
        strlen (credentials));
    g_autofree gchar *value = g_strconcat ("Basic ", encoded, NULL);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", value);
  }
  body = soup_session_send_and_read (ic->session, msg, NULL, error);
  if (body == NULL)
    return NULL;
  *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* TRUE once the server answers; FALSE with @error unset if it exited (a port taken since
 * it was picked), or with @error set. */
static gboolean
wait_ready (EchoIcecast * ic, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + READY_TIMEOUT_MS * 1000;

  while (g_get_monotonic_time () < deadline) {
    guint status = 0;
    g_autofree gchar *body = http_get (ic, "/status-json.xsl", FALSE, &status,
        NULL);

    if (body != NULL && status == SOUP_STATUS_OK && strstr (body, "Icecast"))
      return TRUE;
    if (wait_exit (ic->server->proc, POLL_INTERVAL_MS))
      return FALSE;
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
      "Icecast did not answer on port %u within %d ms", ic->port,
      READY_TIMEOUT_MS);
  return FALSE;
}

/**
 * echo_icecast_start:
 *
 * Starts the server on a free port, and waits until it answers. A port that another
 * process takes between being picked and being bound makes Icecast exit; another port is
 * tried then.
 */
gboolean
echo_icecast_start (EchoIcecast * ic, GError ** error)
{
  g_autofree gchar *binary = echo_icecast_find_binary ();
  g_autofree gchar *user = NULL;
  g_autofree gchar *group = NULL;
  g_autofree gchar *logdir = NULL;
  g_autofree gchar *config_path = NULL;
  g_autofree gchar *log_path = NULL;

  g_return_val_if_fail (ic->server == NULL && ic->dir == NULL, FALSE);

  if (binary == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "no icecast2 or icecast binary in PATH");
    return FALSE;
  }
  if (!prepare_dir (ic, &user, &group, error))
    return FALSE;
  logdir = g_build_filename (ic->dir, "log", NULL);
  config_path = g_build_filename (ic->dir, "icecast.xml", NULL);
  log_path = g_build_filename (ic->dir, "icecast.out", NULL);

  for (gint attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const gchar *argv[] = { binary, "-c", config_path, NULL };
    g_autofree gchar *config = NULL;
    g_autoptr (GError) local_error = NULL;

    if ((ic->port = pick_free_port (error)) == 0)
      return FALSE;
    config = make_config (ic, logdir, user, group, error);
    if (config == NULL || !g_file_set_contents (config_path, config, -1, error))
      return FALSE;
    ic->server = child_spawn ("icecast", argv, log_path, error);
    if (ic->server == NULL)
      return FALSE;
    if (wait_ready (ic, &local_error))
      return TRUE;
    if (local_error != NULL) {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
    g_printerr ("Icecast exited on port %u, trying another one\n", ic->port);
    g_clear_pointer (&ic->server, child_free);
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
      "Icecast exited %d times in a row; see %s", START_ATTEMPTS, log_path);
  return FALSE;
}

guint16
echo_icecast_get_port (EchoIcecast * ic)
{
  return ic->port;
}

const gchar *
echo_icecast_get_source_password (EchoIcecast * ic)
{
  return ic->source_password;
}

/* @path: absolute, e.g. "/live.mp3" */
gchar *
echo_icecast_get_url (EchoIcecast * ic, const gchar * path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", ic->port, path);
}

/**
 * echo_icecast_spawn_source:
 * @name: a short name, for logs ("ffmpeg")
 * @argv: the source client's command line
 *
 * Starts a source client, in the environment of a normal GStreamer program (see
 * test_only_env); its output goes to @name.log in the server's directory. It is stopped
 * by echo_icecast_stop(), before the server.
 */
gboolean
echo_icecast_spawn_source (EchoIcecast * ic, const gchar * name,
    const gchar * const *argv, GError ** error)
{
  g_autofree gchar *log_name = g_strconcat (name, ".log", NULL);
  g_autofree gchar *log_path = g_build_filename (ic->dir, log_name, NULL);
  Child *child;

  g_return_val_if_fail (ic->server != NULL, FALSE);
  child = child_spawn (name, argv, log_path, error);
  if (child == NULL)
    return FALSE;
  g_ptr_array_add (ic->sources, child);
  return TRUE;
}

static gboolean
check_running (EchoIcecast * ic, GError ** error)
{
  g_autofree gchar *what = NULL;

  if (!child_running (ic->server))
    what = child_describe_exit (ic->server);
  for (guint i = 0; what == NULL && i < ic->sources->len; i++)
    if (!child_running (g_ptr_array_index (ic->sources, i)))
      what = child_describe_exit (g_ptr_array_index (ic->sources, i));
  if (what == NULL)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", what);
  return FALSE;
}

/**
 * echo_icecast_wait_mount:
 *
 * Waits until @mount plays, that is a source is connected to it. Fails early when the
 * server or a source client exits.
 */
gboolean
echo_icecast_wait_mount (EchoIcecast * ic, const gchar * mount,
    guint timeout_ms, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint status = 0;

  while (check_running (ic, error)) {
    g_autofree gchar *url = echo_icecast_get_url (ic, mount);
    g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
    g_autoptr (GInputStream) stream = soup_session_send (ic->session, msg,
        NULL, NULL);

    if (stream != NULL) {
      /* the response head is enough; closing drops the connection */
      status = soup_message_get_status (msg);
      g_input_stream_close (stream, NULL, NULL);
      if (status == SOUP_STATUS_OK)
        return TRUE;
    }
    if (g_get_monotonic_time () >= deadline) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "%s is not live after %u ms (last status %u)", mount, timeout_ms,
          status);
      return FALSE;
    }
    wait_exit (ic->server->proc, POLL_INTERVAL_MS);
  }
  return FALSE;
}

/**
 * echo_icecast_set_song:
 * @song: the title, as bytes: UTF-8, or in any encoding to show what the server does
 * @charset: (nullable): passed as the request's charset= parameter
 *
 * Sets the title of @mount through the admin API (/admin/metadata?mode=updinfo), which
 * the server sends in-band to its listeners from the next metadata interval.
 */
gboolean
echo_icecast_set_song (EchoIcecast * ic, const gchar * mount,
    const gchar * song, const gchar * charset, GError ** error)
{
  g_autofree gchar *m = g_uri_escape_string (mount, NULL, FALSE);
  g_autofree gchar *s = g_uri_escape_string (song, NULL, FALSE);
  g_autofree gchar *c = charset ? g_uri_escape_string (charset, NULL, FALSE)
      : NULL;
  g_autofree gchar *path = g_strdup_printf
      ("/admin/metadata?mount=%s&mode=updinfo&song=%s%s%s", m, s,
      c ? "&charset=" : "", c ? c : "");
  g_autofree gchar *body = NULL;
  guint status = 0;

  body = http_get (ic, path, TRUE, &status, error);
  if (body == NULL)
    return FALSE;
  if (status != SOUP_STATUS_OK || strstr (body, "<return>1</return>") == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "GET %s: status %u: %s", path, status, body);
    return FALSE;
  }
  return TRUE;
}

static void
append_log_tail (GString * out, const gchar * title, const gchar * path)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint n;

  g_string_append_printf (out, "---- %s: %s\n", title, path);
  if (!g_file_get_contents (path, &text, NULL, NULL)) {
    g_string_append (out, "(none)\n");
    return;
  }
  lines = g_strsplit (g_strchomp (text), "\n", -1);
  n = g_strv_length (lines);
  for (guint i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++)
    g_string_append_printf (out, "%s\n", lines[i]);
}

/**
 * echo_icecast_get_logs:
 *
 * Returns: the last lines of the server's logs and of every source client's output, for
 * a failure report.
 */
gchar *
echo_icecast_get_logs (EchoIcecast * ic)
{
  GString *out = g_string_new (NULL);
  g_autofree gchar *error_log = NULL;

  if (ic->dir == NULL)
    return g_string_free (out, FALSE);
  error_log = g_build_filename (ic->dir, "log", "error.log", NULL);
  if (ic->server != NULL)
    append_log_tail (out, "icecast output", ic->server->log_path);
  append_log_tail (out, "icecast error.log", error_log);
  for (guint i = 0; i < ic->sources->len; i++) {
    Child *child = g_ptr_array_index (ic->sources, i);

    append_log_tail (out, child->name, child->log_path);
  }
  return g_string_free (out, FALSE);
}

/**
 * echo_icecast_stop:
 *
 * Stops the source clients, last started first, then the server: SIGTERM, and SIGKILL
 * for a process still there after 10 s. Does nothing the second time.
 */
void
echo_icecast_stop (EchoIcecast * ic)
{
  while (ic->sources->len > 0)
    g_ptr_array_remove_index (ic->sources, ic->sources->len - 1);
  g_clear_pointer (&ic->server, child_free);
}

static void
remove_tree (const gchar * path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR)
        && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

/* Stops everything and removes the temporary directory. */
void
echo_icecast_free (EchoIcecast * ic)
{
  if (ic == NULL)
    return;
  echo_icecast_stop (ic);
  if (ic->dir != NULL)
    remove_tree (ic->dir);
  g_free (ic->dir);
  g_free (ic->source_password);
  g_free (ic->admin_password);
  g_string_free (ic->mounts_xml, TRUE);
  g_ptr_array_unref (ic->sources);
  g_object_unref (ic->session);
  g_free (ic);
}
