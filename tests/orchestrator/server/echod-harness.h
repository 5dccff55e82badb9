/* echod-harness.h: a real echod for tests, and a client to talk to it.
 *
 * The harness runs the echod built in this tree ($ECHO_BUILD_ROOT/orchestrator/server/echod)
 * with a private temporary data directory, `--port 0` on 127.0.0.1 and a known bearer
 * token, reads the port from echod's first stdout line, and offers synchronous HTTP
 * requests (libsoup) and WebSocket connections against it. echod may be stopped with any
 * signal and started again on the same data directory (and database). Under
 * tests/lib/pg-sandbox echod uses PostgreSQL, otherwise its file store (see
 * echod_harness_uses_postgresql ()).
 *
 * echod dies with the test process (PR_SET_PDEATHSIG) however the test ends. Its stderr
 * (the log) goes to the test's stderr. All calls come from the test's main thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define ECHOD_TEST_TOKEN "Bearer echo-test-token"

typedef struct _EchodHarness EchodHarness;

typedef struct {
  guint status;
  GBytes *body;
  char *text;                 /* the body, NUL-terminated */
  JsonNode *json;             /* the body parsed, when it was JSON; else NULL */
  SoupMessageHeaders *headers;
} EchodReply;

/* A harness with a fresh data directory; echod is not running yet. */
EchodHarness *echod_harness_new (void);
void echod_harness_free (EchodHarness *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchodHarness, echod_harness_free)

/* Writes a key file (text) that later starts pass with --config. */
void echod_harness_set_config (EchodHarness *h, const char *keyfile_text);
/* An environment variable for later starts (value NULL unsets it for echod). */
void echod_harness_setenv (EchodHarness *h, const char *name, const char *value);
/* An extra command-line argument for later starts. */
void echod_harness_add_arg (EchodHarness *h, const char *arg);

const char *echod_harness_data_dir (EchodHarness *h);
/* Whether the tests run against PostgreSQL (tests/lib/pg-sandbox set ECHO_TEST_DATABASE_URL):
 * then each harness gets a database of its own, passed to echod as DATABASE_URL; otherwise
 * DATABASE_URL is unset for echod and it uses its file store. */
gboolean echod_harness_uses_postgresql (void);
/* NULL with the file store. */
const char *echod_harness_database_url (EchodHarness *h);
char *echod_harness_binary_path (void);

/* Starts echod and waits for its "listening" line; FALSE with error when it exited or
 * printed something else first. */
gboolean echod_harness_start (EchodHarness *h, GError **error);
/* Sends signum and waits for the exit; returns the wait status (as g_spawn_check_wait_status
 * reads it), or -1 when echod was not running. */
int echod_harness_stop (EchodHarness *h, int signum);
gboolean echod_harness_is_running (EchodHarness *h);
guint16 echod_harness_port (EchodHarness *h);
/* echod's process id while it runs, else 0. */
GPid echod_harness_pid (EchodHarness *h);
/* The lines echod printed on stdout after the listening line, so far. */
const char *echod_harness_banner (EchodHarness *h);

/* Runs echod with args (plus the harness's env, not its --port/--config) to its exit;
 * returns the wait status and what it printed. */
int echod_harness_run_to_exit (EchodHarness *h, const char *const *args, char **out_stdout,
    char **out_stderr);

/* Synchronous request. path includes the query. auth: NULL sends ECHOD_TEST_TOKEN, "" sends
 * no Authorization header, anything else is sent verbatim. body may be NULL; it is sent
 * as application/json. extra_headers: NULL or NULL-terminated name, value pairs. */
EchodReply *echod_harness_request_full (EchodHarness *h, const char *method, const char *path,
    const char *auth, const char *body, gssize body_len, const char *const *extra_headers);
EchodReply *echod_harness_request (EchodHarness *h, const char *method, const char *path,
    const char *body);
void echod_reply_free (EchodReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchodReply, echod_reply_free)

/* Field access on a reply whose body is a JSON object (asserting that it is). */
JsonObject *echod_reply_object (EchodReply *reply);
/* Asserts the seed's error body: success false, the code, a message, a timestamp. */
void echod_reply_assert_error (EchodReply *reply, guint status, const char *code);

/* The JSON body of an audio POST. samples: n_frames * channels floats. */
char *echod_audio_body (const float *samples, guint n_frames, guint rate, guint channels,
    gint64 sequence, gint64 timestamp);
/* Decodes a chunk object's "data" into floats (asserting a whole number of floats). */
float *echod_chunk_samples (JsonObject *chunk, gsize *n_floats);

/* The value of one Prometheus series line ("name{labels}" exactly as printed), or -1 when
 * the text has no such line. */
double echod_metrics_value (const char *metrics_text, const char *series);

typedef struct _EchodSocket EchodSocket;

/* Opens a WebSocket to path (with query); auth as for requests. */
EchodSocket *echod_harness_ws_connect (EchodHarness *h, const char *path, const char *auth,
    GError **error);
/* The next text message parsed as a JSON object (a new reference), or NULL when none came
 * within timeout_ms or the connection closed. */
JsonObject *echod_socket_next (EchodSocket *ws, guint timeout_ms);
/* Whether the connection closed within timeout_ms; the close code and reason then. */
gboolean echod_socket_wait_closed (EchodSocket *ws, guint timeout_ms, gushort *code,
    char **reason);
void echod_socket_free (EchodSocket *ws);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchodSocket, echod_socket_free)

/* Iterates the default main context for ms milliseconds. */
void echod_harness_spin (guint ms);

G_END_DECLS
