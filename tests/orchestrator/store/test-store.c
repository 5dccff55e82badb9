/* EchoStore against a real backend: the same cases for both, plus what only one of them
 * has. The backend is chosen by `--backend file|postgresql`, or without it by the
 * environment: PostgreSQL when ECHO_TEST_DATABASE_URL is set (tests/lib/pg-sandbox sets
 * it), else the file store.
 *
 * Every case gets fresh storage: a new temporary data directory for the file store, a
 * new schema (as the connection's search_path) in the test database for PostgreSQL,
 * dropped afterwards. Cases that need other processes (a lock held elsewhere, daemons
 * starting together, a crash after a put) fork; children report through their exit
 * status and never touch the parent's database connection.
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "echo-store.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* NULL: the file backend */
static const char *database_url;
static guint schema_counter;

typedef struct {
  char *data_dir;
  /* PostgreSQL only: */
  char *schema;
  char *url;
  PGconn *admin;
} Fixture;

static void
quiet_notice (void *arg, const char *message)
{
}

static void
admin_exec (Fixture *f, const char *sql)
{
  PGresult *result = PQexec (f->admin, sql);

  if (PQresultStatus (result) != PGRES_COMMAND_OK && PQresultStatus (result) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQresultErrorMessage (result));
  PQclear (result);
}

/* The single value a query in the fixture's schema returns, as an integer. */
static gint64
admin_query_int (Fixture *f, const char *sql)
{
  g_autofree char *set_path = g_strdup_printf ("SET search_path TO %s", f->schema);
  PGresult *result;
  gint64 value;

  admin_exec (f, set_path);
  result = PQexec (f->admin, sql);
  if (PQresultStatus (result) != PGRES_TUPLES_OK || PQntuples (result) != 1)
    g_error ("%s: %s", sql, PQresultErrorMessage (result));
  value = g_ascii_strtoll (PQgetvalue (result, 0, 0), NULL, 10);
  PQclear (result);
  admin_exec (f, "RESET search_path");
  return value;
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
    g_dir_close (dir);
  }
  g_remove (path);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->data_dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  if (database_url != NULL) {
    g_autofree char *create = NULL;

    f->admin = PQconnectdb (database_url);
    if (PQstatus (f->admin) != CONNECTION_OK)
      g_error ("cannot connect to the test database: %s", PQerrorMessage (f->admin));
    PQsetNoticeProcessor (f->admin, quiet_notice, NULL);
    f->schema = g_strdup_printf ("echo_test_%ld_%u", (long) getpid (), ++schema_counter);
    create = g_strdup_printf ("CREATE SCHEMA %s", f->schema);
    admin_exec (f, create);
    /* The schema also names the store's connections (application_name), so a case can
     * find and end them. */
    f->url = g_strdup_printf ("%s%coptions=-csearch_path%%3D%s&application_name=%s",
        database_url, strchr (database_url, '?') ? '&' : '?', f->schema, f->schema);
  }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->admin != NULL) {
    g_autofree char *drop = g_strdup_printf ("DROP SCHEMA %s CASCADE", f->schema);
    admin_exec (f, drop);
    PQfinish (f->admin);
  }
  remove_tree (f->data_dir);
  g_free (f->data_dir);
  g_free (f->schema);
  g_free (f->url);
}

static EchoStore *
open_store (Fixture *f, GError **error)
{
  return echo_store_open (f->data_dir, f->url, error);
}

static EchoStore *
open_store_ok (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  EchoStore *store = open_store (f, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
put_ok (EchoStore *store, const char *collection, const char *id, const char *json)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (echo_store_put (store, collection, id, json, &error));
  g_assert_no_error (error);
}

static void
assert_same_json (const char *actual, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) a = NULL;
  g_autoptr (JsonNode) e = NULL;

  g_assert_nonnull (actual);
  a = json_from_string (actual, &error);
  g_assert_no_error (error);
  e = json_from_string (expected, &error);
  g_assert_no_error (error);
  if (!json_node_equal (a, e))
    g_error ("stored %s, got back %s", expected, actual);
}

static void
assert_document (EchoStore *store, const char *collection, const char *id,
    const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = echo_store_get (store, collection, id, &error);

  g_assert_no_error (error);
  assert_same_json (json, expected);
}

static void
assert_absent (EchoStore *store, const char *collection, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = echo_store_get (store, collection, id, &error);

  g_assert_no_error (error);
  g_assert_null (json);
}

static GPtrArray *
list_ok (EchoStore *store, const char *collection)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *list = echo_store_list (store, collection, &error);

  g_assert_no_error (error);
  g_assert_nonnull (list);
  return list;
}

/* Forks a child that runs @body and exits with its status; returns the child's pid. The
 * child ends with _exit: no atexit handlers, no stdio flush, nothing of the parent's
 * state (such as its database connection) is touched on the way out. */
static pid_t
fork_child (int (*body) (Fixture *f, gpointer data), Fixture *f, gpointer data)
{
  pid_t pid;

  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (body (f, data));
  return pid;
}

static int
wait_child (pid_t pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* --- both backends ------------------------------------------------------------------ */

static void
test_put_get_list_delete (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GPtrArray) empty = NULL;
  g_autoptr (GError) error = NULL;
  EchoStoreDocument *doc;

  g_assert_cmpstr (echo_store_backend_name (store), ==,
      database_url ? "postgresql" : "file");
  assert_absent (store, "things", "a");

  put_ok (store, "things", "b", "{\"n\": 2, \"tags\": [\"x\", null, true]}");
  put_ok (store, "things", "a", "{\"n\": 1, \"nested\": {\"deep\": {\"x\": -1.5}}}");
  put_ok (store, "others", "a", "{\"other\": true}");
  assert_document (store, "things", "a", "{\"n\": 1, \"nested\": {\"deep\": {\"x\": -1.5}}}");
  assert_document (store, "things", "b", "{\"n\": 2, \"tags\": [\"x\", null, true]}");
  assert_document (store, "others", "a", "{\"other\": true}");

  list = list_ok (store, "things");
  g_assert_cmpuint (list->len, ==, 2);
  doc = g_ptr_array_index (list, 0);
  g_assert_cmpstr (doc->id, ==, "a");
  assert_same_json (doc->json, "{\"n\": 1, \"nested\": {\"deep\": {\"x\": -1.5}}}");
  doc = g_ptr_array_index (list, 1);
  g_assert_cmpstr (doc->id, ==, "b");

  g_assert_true (echo_store_delete (store, "things", "a", &error));
  g_assert_no_error (error);
  assert_absent (store, "things", "a");
  assert_document (store, "others", "a", "{\"other\": true}");
  /* deleting what is not there succeeds */
  g_assert_true (echo_store_delete (store, "things", "a", &error));
  g_assert_no_error (error);
  g_assert_true (echo_store_delete (store, "nothing_here", "zzz", &error));
  g_assert_no_error (error);

  empty = list_ok (store, "nothing_here");
  g_assert_cmpuint (empty->len, ==, 0);
}

static void
test_overwrite (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GPtrArray) list = NULL;

  put_ok (store, "share_sessions", "123456", "{\"state\": \"active\", \"bytes\": 0}");
  put_ok (store, "share_sessions", "123456", "{\"state\": \"ended\", \"reason\": \"stopped\"}");
  assert_document (store, "share_sessions", "123456",
      "{\"state\": \"ended\", \"reason\": \"stopped\"}");
  list = list_ok (store, "share_sessions");
  g_assert_cmpuint (list->len, ==, 1);
}

static void
test_many_documents (Fixture *f, gconstpointer data)
{
  const guint n = 300;
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GPtrArray) after = NULL;
  guint i;

  for (i = 0; i < n; i++)
    g_array_append_val (order, i);
  for (i = n - 1; i > 0; i--) {
    guint j = g_rand_int_range (rand, 0, i + 1), t = g_array_index (order, guint, i);
    g_array_index (order, guint, i) = g_array_index (order, guint, j);
    g_array_index (order, guint, j) = t;
  }
  for (i = 0; i < n; i++) {
    guint k = g_array_index (order, guint, i);
    g_autofree char *id = g_strdup_printf ("doc-%04u", k);
    g_autofree char *json = g_strdup_printf ("{\"k\": %u, \"square\": %u}", k, k * k);
    put_ok (store, "many", id, json);
  }
  put_ok (store, "many_other", "doc-0000", "{\"k\": -1}");

  list = list_ok (store, "many");
  g_assert_cmpuint (list->len, ==, n);
  for (i = 0; i < n; i++) {
    EchoStoreDocument *doc = g_ptr_array_index (list, i);
    g_autofree char *id = g_strdup_printf ("doc-%04u", i);
    g_autofree char *json = g_strdup_printf ("{\"k\": %u, \"square\": %u}", i, i * i);
    g_assert_cmpstr (doc->id, ==, id);
    assert_same_json (doc->json, json);
  }

  for (i = 0; i < n; i += 2) {
    g_autofree char *id = g_strdup_printf ("doc-%04u", i);
    g_autoptr (GError) error = NULL;
    g_assert_true (echo_store_delete (store, "many", id, &error));
    g_assert_no_error (error);
  }
  g_clear_pointer (&store, echo_store_free);
  store = open_store_ok (f);
  after = list_ok (store, "many");
  g_assert_cmpuint (after->len, ==, n / 2);
  for (i = 0; i < after->len; i++) {
    EchoStoreDocument *doc = g_ptr_array_index (after, i);
    g_autofree char *id = g_strdup_printf ("doc-%04u", 2 * i + 1);
    g_assert_cmpstr (doc->id, ==, id);
  }
  assert_document (store, "many_other", "doc-0000", "{\"k\": -1}");
}

/* Puts, gets and lists from several threads at once: each call runs whole (the store
 * serializes them), so every document arrives, intact, and survives a reopen. */
#define THREADS 4
#define PUTS_PER_THREAD 150

typedef struct {
  EchoStore *store;
  guint thread;
} ThreadArgs;

static gpointer
put_from_thread (gpointer data)
{
  ThreadArgs *args = data;
  guint i;

  for (i = 0; i < PUTS_PER_THREAD; i++) {
    g_autofree char *id = g_strdup_printf ("t%u-%03u", args->thread, i);
    g_autofree char *json = g_strdup_printf ("{\"thread\": %u, \"i\": %u}", args->thread,
        i);
    g_autofree char *back = NULL;
    g_autoptr (GPtrArray) list = NULL;

    put_ok (args->store, "threads", id, json);
    back = echo_store_get (args->store, "threads", id, NULL);
    assert_same_json (back, json);
    if (i % 50 == 0) {
      list = list_ok (args->store, "threads");
      g_assert_cmpuint (list->len, >=, i + 1);
    }
  }
  return NULL;
}

static void
test_threads (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GPtrArray) list = NULL;
  ThreadArgs args[THREADS];
  GThread *threads[THREADS];
  guint t, i;

  for (t = 0; t < THREADS; t++) {
    args[t].store = store;
    args[t].thread = t;
    threads[t] = g_thread_new ("put", put_from_thread, &args[t]);
  }
  for (t = 0; t < THREADS; t++)
    g_thread_join (threads[t]);

  g_clear_pointer (&store, echo_store_free);
  store = open_store_ok (f);
  list = list_ok (store, "threads");
  g_assert_cmpuint (list->len, ==, THREADS * PUTS_PER_THREAD);
  for (t = 0; t < THREADS; t++) {
    for (i = 0; i < PUTS_PER_THREAD; i++) {
      EchoStoreDocument *doc = g_ptr_array_index (list, t * PUTS_PER_THREAD + i);
      g_autofree char *id = g_strdup_printf ("t%u-%03u", t, i);
      g_autofree char *json = g_strdup_printf ("{\"thread\": %u, \"i\": %u}", t, i);

      g_assert_cmpstr (doc->id, ==, id);
      assert_same_json (doc->json, json);
    }
  }
}

static void
test_unicode (Fixture *f, gconstpointer data)
{
  /* Raw UTF-8 and \u escapes (including a surrogate pair) for the same characters. */
  const char *raw = "{\"title\": \"Grüße – 日本語 🎵\", \"artist\": \"שלום e\xcc\x81\"}";
  const char *escaped = "{\"title\": \"Gr\\u00fc\\u00dfe \\u2013 \\u65e5\\u672c\\u8a9e "
      "\\ud83c\\udfb5\", \"artist\": \"\\u05e9\\u05dc\\u05d5\\u05dd e\\u0301\"}";
  const char *id = " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~";
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *json = NULL;
  g_autoptr (GPtrArray) list = NULL;
  JsonObject *object;

  put_ok (store, "unicode", "raw", raw);
  put_ok (store, "unicode", "escaped", escaped);
  put_ok (store, "unicode", id, raw);
  g_clear_pointer (&store, echo_store_free);
  store = open_store_ok (f);

  assert_document (store, "unicode", "raw", raw);
  assert_document (store, "unicode", "escaped", raw);
  assert_document (store, "unicode", id, raw);
  json = echo_store_get (store, "unicode", "escaped", &error);
  g_assert_no_error (error);
  node = json_from_string (json, &error);
  g_assert_no_error (error);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "title"), ==,
      "Grüße – 日本語 🎵");
  g_assert_cmpstr (json_object_get_string_member (object, "artist"), ==,
      "שלום e\xcc\x81");

  list = list_ok (store, "unicode");
  g_assert_cmpuint (list->len, ==, 3);
  /* byte order: ' ' < 'e' < 'r' */
  g_assert_cmpstr (((EchoStoreDocument *) g_ptr_array_index (list, 0))->id, ==, id);
  g_assert_cmpstr (((EchoStoreDocument *) g_ptr_array_index (list, 1))->id, ==, "escaped");
  g_assert_cmpstr (((EchoStoreDocument *) g_ptr_array_index (list, 2))->id, ==, "raw");
}

static void
expect_invalid_put (EchoStore *store, const char *collection, const char *id,
    const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *shown_collection = g_strescape (collection, NULL);
  g_autofree char *shown_id = g_strescape (id, NULL);
  g_autofree char *shown_json = g_strescape (json, NULL);

  g_assert_false (echo_store_put (store, collection, id, json, &error));
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
  g_test_message ("put \"%s\"/\"%s\" \"%s\": %s", shown_collection, shown_id, shown_json,
      error->message);
}

static void
test_invalid_input (Fixture *f, gconstpointer data)
{
  static const char *const bad_collections[] = {
    "", "Sessions", "share-sessions", "share sessions", "a1",
    "abcdefghijklmnopqrstuvwxyzabcdefg" /* 33 */, "caf\xc3\xa9",
  };
  static const char *const bad_jsons[] = {
    "", "   ", "[1, 2]", "\"text\"", "42", "null", "true", "{\"a\": }", "{\"a\": 1",
    "{\"a\": \"\xff\xfe\"}", "not json at all",
  };
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autofree char *long_id = g_strnfill (ECHO_STORE_MAX_ID_LEN + 1, 'i');
  g_autofree char *longest_id = g_strnfill (ECHO_STORE_MAX_ID_LEN, 'i');
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *got = NULL;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad_collections); i++) {
    g_autoptr (GError) list_error = NULL;
    g_autoptr (GPtrArray) bad_list = NULL;

    expect_invalid_put (store, bad_collections[i], "x", "{}");
    bad_list = echo_store_list (store, bad_collections[i], &list_error);
    g_assert_null (bad_list);
    g_assert_error (list_error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
  }
  expect_invalid_put (store, "things", "", "{}");
  expect_invalid_put (store, "things", long_id, "{}");
  expect_invalid_put (store, "things", "tab\there", "{}");
  expect_invalid_put (store, "things", "new\nline", "{}");
  expect_invalid_put (store, "things", "caf\xc3\xa9", "{}");
  expect_invalid_put (store, "things", "del\x7f", "{}");
  for (i = 0; i < G_N_ELEMENTS (bad_jsons); i++)
    expect_invalid_put (store, "things", "x", bad_jsons[i]);

  got = echo_store_get (store, "things", "", &error);
  g_assert_null (got);
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (echo_store_delete (store, "Things", "x", &error));
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* nothing of the above was written; the limits themselves are accepted */
  list = list_ok (store, "things");
  g_assert_cmpuint (list->len, ==, 0);
  put_ok (store, "abcdefghijklmnopqrstuvwxyzabcdef", longest_id, "{}");
  assert_document (store, "abcdefghijklmnopqrstuvwxyzabcdef", longest_id, "{}");
}

static void
test_reopen_persists (Fixture *f, gconstpointer data)
{
  EchoStore *store = open_store_ok (f);
  g_autoptr (GError) error = NULL;

  put_ok (store, "share_sessions", "111111", "{\"v\": 1}");
  put_ok (store, "share_sessions", "222222", "{\"v\": 2}");
  put_ok (store, "share_sessions", "111111", "{\"v\": 3}");
  echo_store_free (store);

  store = open_store_ok (f);
  assert_document (store, "share_sessions", "111111", "{\"v\": 3}");
  assert_document (store, "share_sessions", "222222", "{\"v\": 2}");
  g_assert_true (echo_store_delete (store, "share_sessions", "222222", &error));
  g_assert_no_error (error);
  echo_store_free (store);

  store = open_store_ok (f);
  assert_document (store, "share_sessions", "111111", "{\"v\": 3}");
  assert_absent (store, "share_sessions", "222222");
  echo_store_free (store);
}

static void
test_schema_version (Fixture *f, gconstpointer data)
{
  EchoStore *store = open_store_ok (f);

  g_assert_cmpint (echo_store_schema_version (store), ==, 1);
  echo_store_free (store);
  store = open_store_ok (f);
  g_assert_cmpint (echo_store_schema_version (store), ==, 1);
  echo_store_free (store);
}

static int
put_then_crash (Fixture *f, gpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoStore *store = open_store (f, &error);

  if (store == NULL || !echo_store_put (store, "crash", "survivor", "{\"ok\": true}", &error)) {
    g_printerr ("child: %s\n", error->message);
    return 1;
  }
  /* no echo_store_free: the process dies holding the store */
  kill (getpid (), SIGKILL);
  return 2;
}

static void
test_put_survives_crash (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = NULL;
  pid_t pid = fork_child (put_then_crash, f, NULL);
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  store = open_store_ok (f);
  assert_document (store, "crash", "survivor", "{\"ok\": true}");
}

static void
test_unsupported_url (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoStore) store = echo_store_open ("/nonexistent", "mysql://user:hunter2@db/x",
      &error);

  g_assert_null (store);
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "mysql"));
  g_assert_null (strstr (error->message, "hunter2"));
}

/* No server needed: the socket directory does not exist. */
static void
test_pg_connect_error (void)
{
  static const char *const urls[] = {
    "postgresql://echo:hunter2@/echo?host=/nonexistent-echo-socket-dir&port=5999",
    "postgres:///echo?host=/nonexistent-echo-socket-dir&port=5999&user=echo&password=hunter2",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoStore) store = echo_store_open (NULL, urls[i], &error);

    g_assert_null (store);
    g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "/nonexistent-echo-socket-dir:5999"));
    g_assert_null (strstr (error->message, "hunter2"));
  }
}

/* --- the file backend --------------------------------------------------------------- */

static char *
log_path (Fixture *f)
{
  return g_build_filename (f->data_dir, "echo-store.log", NULL);
}

static gsize
log_size (Fixture *f)
{
  g_autofree char *path = log_path (f);
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* Opens the store, puts one document, closes it: the log grows by exactly that record
 * (a log without garbage is not rewritten at open). Returns the log's size before. */
static gsize
append_one (Fixture *f, const char *id, const char *json)
{
  EchoStore *store = open_store_ok (f);
  gsize before = log_size (f);

  put_ok (store, "log", id, json);
  echo_store_free (store);
  g_assert_cmpuint (log_size (f), >, before);
  return before;
}

static void
rewrite_log (Fixture *f, void (*edit) (GByteArray *log, gpointer data), gpointer data)
{
  g_autofree char *path = log_path (f);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) log = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  log = g_byte_array_new_take ((guint8 *) g_steal_pointer (&contents), len);
  edit (log, data);
  g_assert_true (g_file_set_contents (path, (const char *) log->data, log->len, &error));
  g_assert_no_error (error);
}

static void
edit_truncate (GByteArray *log, gpointer data)
{
  g_byte_array_set_size (log, GPOINTER_TO_SIZE (data));
}

static void
edit_flip_byte (GByteArray *log, gpointer data)
{
  gsize at = GPOINTER_TO_SIZE (data);

  g_assert_cmpuint (at, <, log->len);
  log->data[at] ^= 0x5a;
}

static void
edit_append_zeros (GByteArray *log, gpointer data)
{
  guint8 zeros[100] = { 0 };

  g_byte_array_append (log, zeros, sizeof (zeros));
}

static void
edit_set_version (GByteArray *log, gpointer data)
{
  /* the documented header: "ECHOSTOR", then the format version as u32 little-endian */
  guint32 version = GPOINTER_TO_UINT (data);

  log->data[8] = version & 0xff;
  log->data[9] = (version >> 8) & 0xff;
  log->data[10] = (version >> 16) & 0xff;
  log->data[11] = (version >> 24) & 0xff;
}

static EchoStore *
open_expecting_torn_tail (Fixture *f)
{
  EchoStore *store;

  g_test_expect_message ("echo-store", G_LOG_LEVEL_WARNING, "*incomplete last record*");
  store = open_store_ok (f);
  g_test_assert_expected_messages ();
  return store;
}

static void
test_file_torn_tail (Fixture *f, gconstpointer data)
{
  EchoStore *store;
  gsize second, end;

  append_one (f, "first", "{\"n\": 1}");
  second = append_one (f, "second", "{\"n\": 2, \"padding\": \"................\"}");
  end = log_size (f);

  /* the second record cut in half: dropped with a warning, the first one kept */
  rewrite_log (f, edit_truncate, GSIZE_TO_POINTER (second + (end - second) / 2));
  store = open_expecting_torn_tail (f);
  assert_document (store, "log", "first", "{\"n\": 1}");
  assert_absent (store, "log", "second");
  /* the tail is gone for good: new records land after the first one */
  put_ok (store, "log", "third", "{\"n\": 3}");
  echo_store_free (store);
  store = open_store_ok (f);    /* no warning this time */
  assert_document (store, "log", "first", "{\"n\": 1}");
  assert_document (store, "log", "third", "{\"n\": 3}");
  assert_absent (store, "log", "second");
  echo_store_free (store);

  /* only the record header made it */
  second = append_one (f, "fourth", "{\"n\": 4}");
  rewrite_log (f, edit_truncate, GSIZE_TO_POINTER (second + 5));
  store = open_expecting_torn_tail (f);
  assert_absent (store, "log", "fourth");
  assert_document (store, "log", "third", "{\"n\": 3}");
  echo_store_free (store);

  /* the last record complete in length but its last byte wrong */
  append_one (f, "fifth", "{\"n\": 5}");
  rewrite_log (f, edit_flip_byte, GSIZE_TO_POINTER (log_size (f) - 1));
  store = open_expecting_torn_tail (f);
  assert_absent (store, "log", "fifth");
  assert_document (store, "log", "third", "{\"n\": 3}");
  echo_store_free (store);

  /* the file grew but the data never arrived */
  rewrite_log (f, edit_append_zeros, NULL);
  store = open_expecting_torn_tail (f);
  assert_document (store, "log", "first", "{\"n\": 1}");
  assert_document (store, "log", "third", "{\"n\": 3}");
  echo_store_free (store);
}

static void
expect_open_error (Fixture *f, int code, const char *substring)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoStore) store = open_store (f, &error);

  g_assert_null (store);
  g_assert_error (error, ECHO_STORE_ERROR, code);
  g_test_message ("%s", error->message);
  if (strstr (error->message, substring) == NULL)
    g_error ("expected \"%s\" in: %s", substring, error->message);
}

static void
test_file_corruption (Fixture *f, gconstpointer data)
{
  g_autofree char *path = log_path (f);
  g_autofree char *pristine = NULL;
  g_autofree char *at_second = NULL;
  g_autoptr (GError) error = NULL;
  gsize second, third, pristine_len;

  append_one (f, "first", "{\"n\": 1}");
  second = append_one (f, "second", "{\"n\": 2}");
  third = append_one (f, "third", "{\"n\": 3}");
  g_assert_true (g_file_get_contents (path, &pristine, &pristine_len, &error));
  g_assert_no_error (error);
  at_second = g_strdup_printf ("at byte %" G_GSIZE_FORMAT ":", second);

  /* damage inside the second record's body: not the last record, so not a torn tail */
  rewrite_log (f, edit_flip_byte, GSIZE_TO_POINTER (third - 2));
  expect_open_error (f, ECHO_STORE_ERROR_CORRUPT, at_second);

  /* a damaged length is damage, not a tail cut short */
  g_assert_true (g_file_set_contents (path, pristine, pristine_len, &error));
  g_assert_no_error (error);
  rewrite_log (f, edit_flip_byte, GSIZE_TO_POINTER (second));
  expect_open_error (f, ECHO_STORE_ERROR_CORRUPT, at_second);

  /* not an echo store log at all */
  g_assert_true (g_file_set_contents (path, "hello, world\n", -1, &error));
  g_assert_no_error (error);
  expect_open_error (f, ECHO_STORE_ERROR_CORRUPT, "at byte 0:");

  /* written by a newer echod */
  g_assert_true (g_file_set_contents (path, pristine, pristine_len, &error));
  g_assert_no_error (error);
  rewrite_log (f, edit_set_version, GUINT_TO_POINTER (2));
  expect_open_error (f, ECHO_STORE_ERROR_VERSION, "format version 2");

  /* the original opens and nothing was rewritten by the failed opens */
  g_assert_true (g_file_set_contents (path, pristine, pristine_len, &error));
  g_assert_no_error (error);
  {
    g_autoptr (EchoStore) store = open_store_ok (f);
    assert_document (store, "log", "first", "{\"n\": 1}");
    assert_document (store, "log", "second", "{\"n\": 2}");
    assert_document (store, "log", "third", "{\"n\": 3}");
  }
}

static void
test_file_compaction (Fixture *f, gconstpointer data)
{
  const guint overwrites = 400;
  g_autofree char *padding = g_strnfill (2000, 'p');
  EchoStore *store = open_store_ok (f);
  gsize written = 0, before_reopen;
  guint i;

  put_ok (store, "keep", "a", "{\"kept\": \"a\"}");
  for (i = 0; i < overwrites; i++) {
    g_autofree char *json = g_strdup_printf ("{\"version\": %u, \"padding\": \"%s\"}", i,
        padding);
    put_ok (store, "hot", "doc", json);
    written += strlen (json);
  }
  /* without compaction the log would hold every version (about 800 kB) */
  g_assert_cmpuint (log_size (f), <, written / 4);
  {
    g_autofree char *json = g_strdup_printf ("{\"version\": %u, \"padding\": \"%s\"}",
        overwrites - 1, padding);
    assert_document (store, "hot", "doc", json);
  }
  assert_document (store, "keep", "a", "{\"kept\": \"a\"}");

  /* deletes leave garbage below the runtime threshold; the next open compacts it */
  for (i = 0; i < 40; i++) {
    g_autofree char *id = g_strdup_printf ("small-%02u", i);
    put_ok (store, "small", id, "{\"x\": 1}");
  }
  for (i = 0; i < 40; i += 4) {
    g_autofree char *id = g_strdup_printf ("small-%02u", i);
    g_autoptr (GError) error = NULL;
    g_assert_true (echo_store_delete (store, "small", id, &error));
    g_assert_no_error (error);
  }
  echo_store_free (store);
  before_reopen = log_size (f);
  store = open_store_ok (f);
  g_assert_cmpuint (log_size (f), <, before_reopen);
  {
    g_autoptr (GPtrArray) small = list_ok (store, "small");
    g_autofree char *json = g_strdup_printf ("{\"version\": %u, \"padding\": \"%s\"}",
        overwrites - 1, padding);
    g_assert_cmpuint (small->len, ==, 30);
    assert_document (store, "hot", "doc", json);
    assert_document (store, "keep", "a", "{\"kept\": \"a\"}");
  }
  echo_store_free (store);

  /* the compacted log reopens unchanged */
  before_reopen = log_size (f);
  store = open_store_ok (f);
  g_assert_cmpuint (log_size (f), ==, before_reopen);
  echo_store_free (store);
}

static int
open_expecting_lock_conflict (Fixture *f, gpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoStore *store = open_store (f, &error);

  if (store != NULL) {
    g_printerr ("child: opened a data directory another process holds\n");
    return 1;
  }
  if (!g_error_matches (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE)
      || strstr (error->message, "data directory in use by another process") == NULL) {
    g_printerr ("child: unexpected error: %s\n", error->message);
    return 1;
  }
  return 0;
}

static int
open_and_put (Fixture *f, gpointer data)
{
  g_autoptr (GError) error = NULL;
  EchoStore *store = open_store (f, &error);

  if (store == NULL || !echo_store_put (store, "procs", data, "{\"child\": true}", &error)) {
    g_printerr ("child %s: %s\n", (const char *) data, error->message);
    return 1;
  }
  echo_store_free (store);
  return 0;
}

static void
test_file_lock (Fixture *f, gconstpointer data)
{
  EchoStore *store = open_store_ok (f);
  g_autoptr (GError) error = NULL;
  EchoStore *second;

  g_assert_cmpint (wait_child (fork_child (open_expecting_lock_conflict, f, NULL)), ==, 0);
  /* the same process opening it twice is refused as well */
  second = open_store (f, &error);
  g_assert_null (second);
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE);
  echo_store_free (store);

  /* released on close */
  g_assert_cmpint (wait_child (fork_child (open_and_put, f, "after-close")), ==, 0);
  store = open_store_ok (f);
  assert_document (store, "procs", "after-close", "{\"child\": true}");
  echo_store_free (store);
}

/* In a child, because the file size limit is per process. */
static int
put_past_file_size_limit (Fixture *f, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *padding = g_strnfill (1000, 'p');
  g_autofree char *big = g_strdup_printf ("{\"padding\": \"%s\"}", padding);
  EchoStore *store = open_store (f, &error);
  struct rlimit limit;

  if (store == NULL || !echo_store_put (store, "log", "before", "{\"n\": 1}", &error)) {
    g_printerr ("child: %s\n", error->message);
    return 1;
  }
  /* the next record gets 100 bytes into the file, then the write fails */
  signal (SIGXFSZ, SIG_IGN);
  limit.rlim_cur = limit.rlim_max = log_size (f) + 100;
  if (setrlimit (RLIMIT_FSIZE, &limit) != 0) {
    g_printerr ("child: setrlimit: %s\n", g_strerror (errno));
    return 1;
  }
  if (echo_store_put (store, "log", "big", big, &error)
      || !g_error_matches (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED)) {
    g_printerr ("child: the put past the limit did not fail as expected\n");
    return 1;
  }
  g_clear_error (&error);
  /* the partial record was cut off, so a small record fits and lands where it should */
  if (!echo_store_put (store, "log", "after", "{\"n\": 2}", &error)) {
    g_printerr ("child: %s\n", error->message);
    return 1;
  }
  echo_store_free (store);
  return 0;
}

static void
test_file_write_failure (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = NULL;

  g_assert_cmpint (wait_child (fork_child (put_past_file_size_limit, f, NULL)), ==, 0);
  store = open_store_ok (f);    /* no torn tail, no damage */
  assert_document (store, "log", "before", "{\"n\": 1}");
  assert_document (store, "log", "after", "{\"n\": 2}");
  assert_absent (store, "log", "big");
}

static void
test_file_creates_data_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->data_dir, "var", "lib", "echo", NULL);
  g_autoptr (GError) error = NULL;
  EchoStore *store = echo_store_open (dir, NULL, &error);
  g_autofree char *stale = g_build_filename (dir, "echo-store.log.tmp", NULL);
  GStatBuf st;

  g_assert_no_error (error);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  put_ok (store, "dir", "x", "{}");
  echo_store_free (store);

  /* a compaction that crashed before its rename leaves a temporary file: ignored */
  g_assert_true (g_file_set_contents (stale, "half a compaction", -1, &error));
  g_assert_no_error (error);
  store = echo_store_open (dir, "", &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  assert_document (store, "dir", "x", "{}");
  echo_store_free (store);

  store = echo_store_open ("", NULL, &error);
  g_assert_null (store);
  g_assert_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID);
}

/* --- the PostgreSQL backend --------------------------------------------------------- */

static void
test_pg_migrations_idempotent (Fixture *f, gconstpointer data)
{
  EchoStore *store = open_store_ok (f);

  g_assert_cmpint (admin_query_int (f, "SELECT count(*) FROM schema_migrations"), ==, 1);
  put_ok (store, "mig", "a", "{\"a\": 1}");
  echo_store_free (store);

  store = open_store_ok (f);
  g_assert_cmpint (echo_store_schema_version (store), ==, 1);
  g_assert_cmpint (admin_query_int (f, "SELECT count(*) FROM schema_migrations"), ==, 1);
  g_assert_cmpint (admin_query_int (f, "SELECT max(version) FROM schema_migrations"), ==, 1);
  assert_document (store, "mig", "a", "{\"a\": 1}");
  echo_store_free (store);
}

typedef struct {
  int barrier[2];               /* a pipe: EOF on its read end means "go" */
  char id[32];
} RacerData;

static int
race_open_and_put (Fixture *f, gpointer data)
{
  RacerData *racer = data;
  char byte;

  /* all children wait here until the parent closes the write end (the last one open) */
  close (racer->barrier[1]);
  while (read (racer->barrier[0], &byte, 1) > 0)
    ;
  return open_and_put (f, racer->id);
}

static void
test_pg_concurrent_open (Fixture *f, gconstpointer data)
{
  enum { N_RACERS = 6 };
  pid_t pids[N_RACERS];
  int barrier[2], i;

  g_assert_cmpint (pipe (barrier), ==, 0);
  for (i = 0; i < N_RACERS; i++) {
    RacerData racer = { .barrier = { barrier[0], barrier[1] } };

    g_snprintf (racer.id, sizeof (racer.id), "racer-%d", i);
    pids[i] = fork_child (race_open_and_put, f, &racer);
  }
  close (barrier[0]);
  close (barrier[1]);
  for (i = 0; i < N_RACERS; i++)
    g_assert_cmpint (wait_child (pids[i]), ==, 0);

  g_assert_cmpint (admin_query_int (f, "SELECT count(*) FROM schema_migrations"), ==, 1);
  g_assert_cmpint (admin_query_int (f,
          "SELECT count(*) FROM documents WHERE collection = 'procs'"), ==, N_RACERS);
}

static void
test_pg_newer_schema (Fixture *f, gconstpointer data)
{
  EchoStore *store = open_store_ok (f);
  g_autofree char *insert = g_strdup_printf (
      "INSERT INTO %s.schema_migrations (version) VALUES (1000)", f->schema);

  echo_store_free (store);
  admin_exec (f, insert);
  expect_open_error (f, ECHO_STORE_ERROR_VERSION, "schema version 1000");
}

/* Ends the store's server process (found by the application_name the fixture gave it)
 * and waits until it is gone. */
static void
kill_store_backend (Fixture *f)
{
  const char *params[] = { f->schema };
  PGresult *result = PQexecParams (f->admin,
      "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
      "WHERE application_name = $1", 1, NULL, params, NULL, NULL, 0);

  g_assert_cmpint (PQresultStatus (result), ==, PGRES_TUPLES_OK);
  g_assert_cmpint (PQntuples (result), ==, 1);
  g_assert_cmpstr (PQgetvalue (result, 0, 0), ==, "t");
  PQclear (result);
}

static void
test_pg_reconnect (Fixture *f, gconstpointer data)
{
  g_autoptr (EchoStore) store = open_store_ok (f);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;

  put_ok (store, "reconnect", "a", "{\"a\": 1}");
  kill_store_backend (f);
  assert_document (store, "reconnect", "a", "{\"a\": 1}");
  kill_store_backend (f);
  put_ok (store, "reconnect", "b", "{\"b\": 2}");
  kill_store_backend (f);
  list = list_ok (store, "reconnect");
  g_assert_cmpuint (list->len, ==, 2);
  kill_store_backend (f);
  g_assert_true (echo_store_delete (store, "reconnect", "a", &error));
  g_assert_no_error (error);
  assert_absent (store, "reconnect", "a");
}

/* --- registration ------------------------------------------------------------------- */

static void
add_test (const char *path, void (*func) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown);
}

int
main (int argc, char **argv)
{
  const char *backend = NULL;
  int i, j;

  /* --backend file|postgresql, taken out before g_test_init sees the arguments */
  for (i = 1, j = 1; i < argc; i++) {
    if (g_str_equal (argv[i], "--backend") && i + 1 < argc)
      backend = argv[++i];
    else
      argv[j++] = argv[i];
  }
  argc = j;
  argv[argc] = NULL;

  g_test_init (&argc, &argv, NULL);

  database_url = g_getenv ("ECHO_TEST_DATABASE_URL");
  if (database_url != NULL && database_url[0] == '\0')
    database_url = NULL;
  if (g_strcmp0 (backend, "file") == 0) {
    database_url = NULL;
  } else if (g_strcmp0 (backend, "postgresql") == 0) {
    if (database_url == NULL) {
      g_printerr ("--backend postgresql needs ECHO_TEST_DATABASE_URL "
          "(run under tests/lib/pg-sandbox)\n");
      return 1;
    }
  } else if (backend != NULL) {
    g_printerr ("unknown backend %s\n", backend);
    return 1;
  }

  add_test ("/store/put-get-list-delete", test_put_get_list_delete);
  add_test ("/store/overwrite", test_overwrite);
  add_test ("/store/many-documents", test_many_documents);
  add_test ("/store/threads", test_threads);
  add_test ("/store/unicode", test_unicode);
  add_test ("/store/invalid-input", test_invalid_input);
  add_test ("/store/reopen-persists", test_reopen_persists);
  add_test ("/store/schema-version", test_schema_version);
  add_test ("/store/put-survives-crash", test_put_survives_crash);
  g_test_add_func ("/store/unsupported-url", test_unsupported_url);
  g_test_add_func ("/store/postgresql/connect-error", test_pg_connect_error);

  if (database_url == NULL) {
    add_test ("/store/file/torn-tail", test_file_torn_tail);
    add_test ("/store/file/corruption", test_file_corruption);
    add_test ("/store/file/compaction", test_file_compaction);
    add_test ("/store/file/lock", test_file_lock);
    add_test ("/store/file/write-failure", test_file_write_failure);
    add_test ("/store/file/creates-data-dir", test_file_creates_data_dir);
  } else {
    add_test ("/store/postgresql/migrations-idempotent", test_pg_migrations_idempotent);
    add_test ("/store/postgresql/concurrent-open", test_pg_concurrent_open);
    add_test ("/store/postgresql/newer-schema", test_pg_newer_schema);
    add_test ("/store/postgresql/reconnect", test_pg_reconnect);
  }
  return g_test_run ();
}
