/* The PostgreSQL store: documents in one table, reached through libpq on one
 * connection, every statement parameterized (PQexecParams) and committed on its own.
 *
 * Schema migrations are the numbered steps in pg_migrations[] below. At open, in one
 * transaction that first takes a transaction-scoped advisory lock (so several echod
 * starting against the same database apply each step exactly once), the store creates
 * schema_migrations if needed, reads the highest version applied, refuses a database that
 * is newer than this binary and applies the missing steps. Tables are named without a
 * schema, so they live in the first schema of the connection's search_path.
 *
 * A lost connection (a server restart, a killed backend) is re-established once per call
 * (PQreset) and the statement retried; every statement is idempotent, so a retry after a
 * commit whose reply was lost does no harm. When that fails too, the call fails with
 * ECHO_STORE_ERROR_UNAVAILABLE and the next call tries again.
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "echo-store-backend.h"

#include <libpq-fe.h>
#include <string.h>

/* The advisory lock that serializes migrations: "echo" in ASCII. */
#define MIGRATION_LOCK_KEY "1701013615"

typedef struct {
  int version;
  const char *description;
  /* one SQL statement each (the extended protocol takes one at a time) */
  const char *const *statements;
} PgMigration;

static const char *const migration_1[] = {
  "CREATE TABLE documents ("
  "  collection text NOT NULL,"
  "  id text NOT NULL,"
  "  body jsonb NOT NULL,"
  "  updated_at timestamptz NOT NULL DEFAULT now(),"
  "  PRIMARY KEY (collection, id))",
  NULL
};

static const PgMigration pg_migrations[] = {
  { 1, "documents table", migration_1 },
};

#define PG_SCHEMA_VERSION ((int) G_N_ELEMENTS (pg_migrations))

typedef struct {
  EchoStore parent;
  PGconn *conn;
  /* "PostgreSQL at HOST:PORT", for messages (never the password) */
  char *server;
  /* the URL's password, if any, to scrub from libpq's messages */
  char *password;
} EchoStorePg;

/* The password a URL carries in its user info or as a password= parameter, so that it
 * can be kept out of error messages; NULL when there is none. */
static char *
url_password (const char *url)
{
  const char *authority = strstr (url, "://");
  const char *end, *at, *colon, *param;

  if (authority == NULL)
    return NULL;
  authority += 3;
  end = authority + strcspn (authority, "/?");
  at = g_strstr_len (authority, end - authority, "@");
  if (at != NULL) {
    colon = memchr (authority, ':', at - authority);
    if (colon != NULL && at > colon + 1)
      return g_strndup (colon + 1, at - colon - 1);
  }
  param = strstr (end, "password=");
  if (param != NULL && (param[-1] == '?' || param[-1] == '&')) {
    gsize len;

    param += strlen ("password=");
    len = strcspn (param, "&");
    if (len > 0)
      return g_strndup (param, len);
  }
  return NULL;
}

/* libpq's message without the trailing newline and without the password. */
static char *
clean_message (EchoStorePg *self, const char *message)
{
  g_autofree char *text = g_strstrip (g_strdup (message ? message : "unknown error"));

  if (self->password != NULL && self->password[0] != '\0' && strstr (text, self->password)) {
    g_auto (GStrv) parts = g_strsplit (text, self->password, -1);
    return g_strjoinv ("***", parts);
  }
  return g_steal_pointer (&text);
}

static void
notice_to_debug (void *arg, const char *message)
{
  g_autofree char *text = g_strstrip (g_strdup (message));

  g_debug ("PostgreSQL: %s", text);
}

/* Sets @error from a failed statement. SQL errors are FAILED, except data errors (bad
 * JSON as PostgreSQL sees it) which are INVALID, and lost connections or a server
 * shutting down, which are UNAVAILABLE. */
static void
set_statement_error (EchoStorePg *self, PGresult *result, GError **error)
{
  const char *sqlstate = result ? PQresultErrorField (result, PG_DIAG_SQLSTATE) : NULL;
  const char *message = result && PQresultErrorMessage (result)[0]
      ? PQresultErrorMessage (result) : PQerrorMessage (self->conn);
  g_autofree char *text = clean_message (self, message);
  int code = ECHO_STORE_ERROR_FAILED;

  if (PQstatus (self->conn) == CONNECTION_BAD
      || (sqlstate && (g_str_has_prefix (sqlstate, "08") || g_str_has_prefix (sqlstate, "57P"))))
    code = ECHO_STORE_ERROR_UNAVAILABLE;
  else if (sqlstate && g_str_has_prefix (sqlstate, "22"))
    code = ECHO_STORE_ERROR_INVALID;
  g_set_error (error, ECHO_STORE_ERROR, code, "%s: %s", self->server, text);
}

/* Runs one statement on the connection as it is. */
static PGresult *
exec_once (EchoStorePg *self, const char *sql, int n_params, const char *const *params,
    ExecStatusType expected, GError **error)
{
  PGresult *result = PQexecParams (self->conn, sql, n_params, NULL, params, NULL, NULL, 0);

  if (result != NULL && PQresultStatus (result) == expected)
    return result;
  set_statement_error (self, result, error);
  PQclear (result);
  return NULL;
}

/* Runs one statement, re-establishing a lost connection once per call. */
static PGresult *
exec_reconnecting (EchoStorePg *self, const char *sql, int n_params,
    const char *const *params, ExecStatusType expected, GError **error)
{
  gboolean reset_done = FALSE;

  for (;;) {
    g_autoptr (GError) local_error = NULL;
    PGresult *result;

    if (PQstatus (self->conn) != CONNECTION_OK) {
      if (reset_done) {
        g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
            "lost the connection to %s", self->server);
        return NULL;
      }
      g_debug ("reconnecting to %s", self->server);
      PQreset (self->conn);
      reset_done = TRUE;
      if (PQstatus (self->conn) != CONNECTION_OK) {
        g_autofree char *text = clean_message (self, PQerrorMessage (self->conn));
        g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
            "lost the connection to %s and cannot reconnect: %s", self->server, text);
        return NULL;
      }
    }
    result = exec_once (self, sql, n_params, params, expected, &local_error);
    if (result != NULL)
      return result;
    if (PQstatus (self->conn) != CONNECTION_OK && !reset_done)
      continue;
    g_propagate_error (error, g_steal_pointer (&local_error));
    return NULL;
  }
}

static gboolean
exec_command (EchoStorePg *self, const char *sql, int n_params, const char *const *params,
    GError **error)
{
  PGresult *result = exec_once (self, sql, n_params, params, PGRES_COMMAND_OK, error);

  PQclear (result);
  return result != NULL;
}

/* Applies the missing migrations in one transaction under the advisory lock. */
static gboolean
migrate (EchoStorePg *self, GError **error)
{
  const char *lock_params[] = { MIGRATION_LOCK_KEY };
  PGresult *result;
  int current;
  gsize i, j;

  if (!exec_command (self, "BEGIN", 0, NULL, error))
    return FALSE;
  result = exec_once (self, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params,
      PGRES_TUPLES_OK, error);
  if (result == NULL)
    goto rollback;
  PQclear (result);
  if (!exec_command (self, "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "  version integer PRIMARY KEY,"
          "  applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, error))
    goto rollback;
  result = exec_once (self, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
      0, NULL, PGRES_TUPLES_OK, error);
  if (result == NULL)
    goto rollback;
  current = (int) g_ascii_strtoll (PQgetvalue (result, 0, 0), NULL, 10);
  PQclear (result);

  if (current > PG_SCHEMA_VERSION) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_VERSION,
        "the database at %s has schema version %d, but this echod knows versions up to "
        "%d; it was migrated by a newer echod", self->server, current, PG_SCHEMA_VERSION);
    goto rollback;
  }
  for (i = 0; i < G_N_ELEMENTS (pg_migrations); i++) {
    const PgMigration *m = &pg_migrations[i];
    g_autofree char *version = g_strdup_printf ("%d", m->version);
    const char *version_params[] = { version };

    if (m->version <= current)
      continue;
    for (j = 0; m->statements[j] != NULL; j++) {
      if (!exec_command (self, m->statements[j], 0, NULL, error)) {
        g_prefix_error (error, "schema migration %d (%s): ", m->version, m->description);
        goto rollback;
      }
    }
    if (!exec_command (self,
            "INSERT INTO schema_migrations (version) VALUES ($1::integer)", 1,
            version_params, error))
      goto rollback;
    g_debug ("%s: applied schema migration %d (%s)", self->server, m->version,
        m->description);
  }
  if (!exec_command (self, "COMMIT", 0, NULL, error))
    return FALSE;
  self->parent.schema_version = MAX (current, PG_SCHEMA_VERSION);
  return TRUE;

rollback:
  PQclear (PQexecParams (self->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
  return FALSE;
}

static gboolean
pg_put (EchoStore *store, const char *collection, const char *id, const char *json,
    GError **error)
{
  const char *params[] = { collection, id, json };
  PGresult *result = exec_reconnecting ((EchoStorePg *) store,
      "INSERT INTO documents (collection, id, body) VALUES ($1, $2, $3::jsonb) "
      "ON CONFLICT (collection, id) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
      3, params, PGRES_COMMAND_OK, error);

  PQclear (result);
  return result != NULL;
}

static char *
pg_get (EchoStore *store, const char *collection, const char *id, GError **error)
{
  const char *params[] = { collection, id };
  PGresult *result = exec_reconnecting ((EchoStorePg *) store,
      "SELECT body::text FROM documents WHERE collection = $1 AND id = $2",
      2, params, PGRES_TUPLES_OK, error);
  char *json;

  if (result == NULL)
    return NULL;
  json = PQntuples (result) > 0 ? g_strdup (PQgetvalue (result, 0, 0)) : NULL;
  PQclear (result);
  return json;
}

static gboolean
pg_delete (EchoStore *store, const char *collection, const char *id, GError **error)
{
  const char *params[] = { collection, id };
  PGresult *result = exec_reconnecting ((EchoStorePg *) store,
      "DELETE FROM documents WHERE collection = $1 AND id = $2",
      2, params, PGRES_COMMAND_OK, error);

  PQclear (result);
  return result != NULL;
}

static GPtrArray *
pg_list (EchoStore *store, const char *collection, GError **error)
{
  const char *params[] = { collection };
  PGresult *result = exec_reconnecting ((EchoStorePg *) store,
      "SELECT id, body::text FROM documents WHERE collection = $1 ORDER BY id COLLATE \"C\"",
      1, params, PGRES_TUPLES_OK, error);
  GPtrArray *list;
  int i, n;

  if (result == NULL)
    return NULL;
  n = PQntuples (result);
  list = g_ptr_array_new_full (n, (GDestroyNotify) echo_store_document_free);
  for (i = 0; i < n; i++)
    g_ptr_array_add (list, echo_store_document_new_take (g_strdup (PQgetvalue (result, i, 0)),
            g_strdup (PQgetvalue (result, i, 1))));
  PQclear (result);
  return list;
}

static void
pg_free (EchoStore *store)
{
  EchoStorePg *self = (EchoStorePg *) store;

  PQfinish (self->conn);
  g_free (self->server);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_free (self);
}

static const EchoStoreBackend pg_backend = {
  .name = "postgresql",
  .free = pg_free,
  .put = pg_put,
  .get = pg_get,
  .delete = pg_delete,
  .list = pg_list,
};

EchoStore *
echo_store_pg_open (const char *database_url, GError **error)
{
  /* Later keywords override what the URL says; connect_timeout comes first so that a
   * URL may set its own. The store speaks UTF-8 whatever the server's encoding. */
  const char *const keywords[] = { "connect_timeout", "dbname",
    "fallback_application_name", "client_encoding", NULL };
  const char *const values[] = { "10", database_url, "echod", "UTF8", NULL };
  EchoStorePg *self = g_new0 (EchoStorePg, 1);
  const char *host, *port;

  self->parent.backend = &pg_backend;
  self->password = url_password (database_url);
  self->conn = PQconnectdbParams (keywords, values, 1);
  if (self->conn == NULL) {
    g_set_error_literal (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "cannot allocate a PostgreSQL connection");
    goto fail;
  }
  host = PQhost (self->conn);
  port = PQport (self->conn);
  self->server = host && host[0]
      ? g_strdup_printf ("PostgreSQL at %s:%s", host, port && port[0] ? port : "5432")
      : g_strdup ("PostgreSQL");
  if (PQstatus (self->conn) != CONNECTION_OK) {
    g_autofree char *text = clean_message (self, PQerrorMessage (self->conn));
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
        "cannot connect to %s: %s", self->server, text);
    goto fail;
  }
  PQsetNoticeProcessor (self->conn, notice_to_debug, NULL);
  if (!migrate (self, error))
    goto fail;
  g_debug ("%s: schema version %d", self->server, self->parent.schema_version);
  return &self->parent;

fail:
  pg_free (&self->parent);
  return NULL;
}
