/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-discovery.c: echodiscovery (plugins/sync) against a real avahi-daemon.
 *
 * meson runs this program through tests/lib/mdns-sandbox, which gives it a private network
 * namespace with only `lo`, a private system bus and its own avahi-daemon; every case
 * that talks to Avahi skips unless ECHO_MDNS_SANDBOX is set, so running it by hand outside
 * the sandbox never announces anything on a real network. It proves that:
 *  - a published session resolves by name to 127.0.0.1, its port, its TXT record
 *    (with "session" filled in by the publisher) and its instance name;
 *  - two sessions resolve to their own ports; several threads resolving at once all
 *    succeed;
 *  - a session nobody announces gives ECHO_DISCOVERY_ERROR_TIMEOUT after the timeout,
 *    also while other sessions are announced;
 *  - a TXT update is what a later resolve sees;
 *  - a freed publisher's session no longer resolves;
 *  - two publishers of one name get distinct instance names and both resolve by the
 *    session name carried in TXT;
 *  - a resolve blocked in another thread returns ECHO_DISCOVERY_ERROR_CANCELLED when
 *    cancelled, and an already cancelled one returns at once;
 *  - without a reachable daemon publish and resolve fail with
 *    ECHO_DISCOVERY_ERROR_UNAVAILABLE (in a subprocess whose system bus address points
 *    nowhere; this case runs outside the sandbox too), and invalid names and TXT
 *    pairs are refused with ECHO_DISCOVERY_ERROR_FAILED before any daemon is asked;
 *  - a publisher survives an avahi-daemon restart: its session resolves again once the
 *    daemon is back, and resolving while the daemon is down is UNAVAILABLE.
 *
 * The ports are only announced; nothing listens on them.
 * No case asserts a duration beyond generous sanity bounds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "echodiscovery.h"

/* generous: a local resolve normally takes well under a second */
#define FOUND_TIMEOUT_MS 20000
/* for sessions expected to be absent */
#define MISSING_TIMEOUT_MS 1500
/* how long an eventually-consistent change (TXT update, withdrawal, daemon restart)
 * may take to show */
#define SETTLE_S 30

static gboolean
need_sandbox (void)
{
  if (g_getenv ("ECHO_MDNS_SANDBOX") == NULL) {
    g_test_skip ("needs the private avahi-daemon of tests/lib/mdns-sandbox");
    return FALSE;
  }
  return TRUE;
}

static EchoDiscoveryPublisher *
publish (const char *name, guint16 port, const char *const *txt)
{
  GError *error = NULL;
  EchoDiscoveryPublisher *p = echo_discovery_publish (name, port, txt, &error);

  g_assert_no_error (error);
  g_assert_nonnull (p);
  return p;
}

static EchoDiscoveryResult *
resolve_found (const char *session)
{
  GError *error = NULL;
  EchoDiscoveryResult *r =
      echo_discovery_resolve (session, FOUND_TIMEOUT_MS, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_test_message ("'%s' -> %s port %u (instance '%s')", session, r->host, r->port,
      r->service_name);
  return r;
}

static void
assert_txt (const EchoDiscoveryResult * r, const char *key, const char *value)
{
  g_assert_cmpstr (g_hash_table_lookup (r->txt, key), ==, value);
}

static void
test_publish_resolve (void)
{
  const char *const txt[] = {
    ECHO_DISCOVERY_TXT_CODEC, "opus",
    ECHO_DISCOVERY_TXT_RATE, "48000",
    ECHO_DISCOVERY_TXT_CHANNELS, "2",
    ECHO_DISCOVERY_TXT_LATENCY, "200000000",
    ECHO_DISCOVERY_TXT_VERSION, "1",
    ECHO_DISCOVERY_TXT_AUTH, ECHO_DISCOVERY_AUTH_TOKEN,
    NULL
  };
  EchoDiscoveryPublisher *p;
  g_autoptr (EchoDiscoveryResult) r = NULL;

  if (!need_sandbox ())
    return;

  p = publish ("living room", 40001, txt);
  r = resolve_found ("living room");

  /* the sandbox has IPv4 only, on lo */
  g_assert_cmpstr (r->host, ==, "127.0.0.1");
  g_assert_cmpuint (r->port, ==, 40001);
  g_assert_cmpstr (r->service_name, ==, "living room");
  g_assert_cmpuint (g_hash_table_size (r->txt), ==, 7);
  assert_txt (r, ECHO_DISCOVERY_TXT_SESSION, "living room");
  assert_txt (r, ECHO_DISCOVERY_TXT_CODEC, "opus");
  assert_txt (r, ECHO_DISCOVERY_TXT_RATE, "48000");
  assert_txt (r, ECHO_DISCOVERY_TXT_CHANNELS, "2");
  assert_txt (r, ECHO_DISCOVERY_TXT_LATENCY, "200000000");
  assert_txt (r, ECHO_DISCOVERY_TXT_VERSION, "1");
  assert_txt (r, ECHO_DISCOVERY_TXT_AUTH, "token");

  echo_discovery_publisher_free (p);
}

static void
test_two_sessions (void)
{
  const char *const txt_a[] = { ECHO_DISCOVERY_TXT_CODEC, "opus", NULL };
  const char *const txt_b[] = { ECHO_DISCOVERY_TXT_CODEC, "pcm", NULL };
  EchoDiscoveryPublisher *a, *b;
  g_autoptr (EchoDiscoveryResult) ra = NULL;
  g_autoptr (EchoDiscoveryResult) rb = NULL;

  if (!need_sandbox ())
    return;

  a = publish ("kitchen", 40011, txt_a);
  b = publish ("garden", 40012, txt_b);

  rb = resolve_found ("garden");
  ra = resolve_found ("kitchen");
  g_assert_cmpuint (ra->port, ==, 40011);
  g_assert_cmpstr (ra->service_name, ==, "kitchen");
  assert_txt (ra, ECHO_DISCOVERY_TXT_CODEC, "opus");
  g_assert_cmpuint (rb->port, ==, 40012);
  g_assert_cmpstr (rb->service_name, ==, "garden");
  assert_txt (rb, ECHO_DISCOVERY_TXT_CODEC, "pcm");

  echo_discovery_publisher_free (a);
  echo_discovery_publisher_free (b);
}

#define N_THREADS 4

static gpointer
resolve_thread (gpointer data)
{
  GError *error = NULL;
  EchoDiscoveryResult *r =
      echo_discovery_resolve (data, FOUND_TIMEOUT_MS, NULL, &error);

  g_assert_no_error (error);
  return r;
}

static void
test_concurrent (void)
{
  GThread *threads[N_THREADS];
  EchoDiscoveryPublisher *p;
  int i;

  if (!need_sandbox ())
    return;

  p = publish ("hall", 40021, NULL);
  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("resolve", resolve_thread, (gpointer) "hall");
  for (i = 0; i < N_THREADS; i++) {
    g_autoptr (EchoDiscoveryResult) r = g_thread_join (threads[i]);

    g_assert_nonnull (r);
    g_assert_cmpuint (r->port, ==, 40021);
    /* no TXT given: the publisher still adds "session" */
    g_assert_cmpuint (g_hash_table_size (r->txt), ==, 1);
    assert_txt (r, ECHO_DISCOVERY_TXT_SESSION, "hall");
  }
  echo_discovery_publisher_free (p);
}

static void
test_missing_times_out (void)
{
  EchoDiscoveryPublisher *decoy;
  GError *error = NULL;
  EchoDiscoveryResult *r;
  gint64 start, elapsed_ms;

  if (!need_sandbox ())
    return;

  /* a different session is on the network and must not be taken for it */
  decoy = publish ("attic", 40031, NULL);
  r = resolve_found ("attic");
  echo_discovery_result_free (r);

  start = g_get_monotonic_time ();
  r = echo_discovery_resolve ("cellar", MISSING_TIMEOUT_MS, NULL, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("timed out after %" G_GINT64_FORMAT " ms", elapsed_ms);

  g_assert_null (r);
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_TIMEOUT);
  g_assert_cmpstr (error->message, ==,
      "no Echo session 'cellar' found on the network within 1500 ms");
  /* it waited for the timeout, and not for something unrelated and much longer */
  g_assert_cmpint (elapsed_ms, >=, MISSING_TIMEOUT_MS - 100);
  g_assert_cmpint (elapsed_ms, <, 60000);
  g_error_free (error);

  echo_discovery_publisher_free (decoy);
}

/* Resolves @session until @done says the result is the expected one, for at most
 * SETTLE_S. Returns the last result. */
static EchoDiscoveryResult *
resolve_until (const char *session,
    gboolean (*done) (const EchoDiscoveryResult * r, gconstpointer data),
    gconstpointer data)
{
  gint64 give_up = g_get_monotonic_time () + SETTLE_S * G_TIME_SPAN_SECOND;
  int attempts = 0;

  for (;;) {
    EchoDiscoveryResult *r = resolve_found (session);

    attempts++;
    if (done (r, data) || g_get_monotonic_time () > give_up) {
      g_test_message ("%d resolve(s)", attempts);
      return r;
    }
    echo_discovery_result_free (r);
    g_usleep (100 * 1000);
  }
}

static gboolean
codec_is (const EchoDiscoveryResult * r, gconstpointer codec)
{
  return g_strcmp0 (g_hash_table_lookup (r->txt, ECHO_DISCOVERY_TXT_CODEC),
      codec) == 0;
}

static void
test_update_txt (void)
{
  const char *const before[] = {
    ECHO_DISCOVERY_TXT_CODEC, "opus", ECHO_DISCOVERY_TXT_RATE, "48000", NULL
  };
  const char *const after[] = {
    ECHO_DISCOVERY_TXT_CODEC, "pcm", ECHO_DISCOVERY_TXT_RATE, "96000",
    ECHO_DISCOVERY_TXT_AUTH, ECHO_DISCOVERY_AUTH_TOKEN, NULL
  };
  const char *const invalid[] = { "no=good", "x", NULL };
  EchoDiscoveryPublisher *p;
  EchoDiscoveryResult *r;

  if (!need_sandbox ())
    return;

  p = publish ("study", 40041, before);
  r = resolve_found ("study");
  assert_txt (r, ECHO_DISCOVERY_TXT_CODEC, "opus");
  g_assert_null (g_hash_table_lookup (r->txt, ECHO_DISCOVERY_TXT_AUTH));
  echo_discovery_result_free (r);

  echo_discovery_publisher_update_txt (p, after);
  r = resolve_until ("study", codec_is, "pcm");
  assert_txt (r, ECHO_DISCOVERY_TXT_CODEC, "pcm");
  assert_txt (r, ECHO_DISCOVERY_TXT_RATE, "96000");
  assert_txt (r, ECHO_DISCOVERY_TXT_AUTH, "token");
  assert_txt (r, ECHO_DISCOVERY_TXT_SESSION, "study");
  g_assert_cmpuint (r->port, ==, 40041);
  echo_discovery_result_free (r);

  /* an invalid update is refused with a warning and changes nothing */
  g_test_expect_message ("echo-discovery", G_LOG_LEVEL_WARNING,
      "*study*not updated*'no=good'*");
  echo_discovery_publisher_update_txt (p, invalid);
  g_test_assert_expected_messages ();
  r = resolve_found ("study");
  assert_txt (r, ECHO_DISCOVERY_TXT_CODEC, "pcm");
  echo_discovery_result_free (r);

  echo_discovery_publisher_free (p);
}

/* Resolves @session with a short timeout until it is not found, for at most SETTLE_S. */
static void
assert_disappears (const char *session)
{
  gint64 give_up = g_get_monotonic_time () + SETTLE_S * G_TIME_SPAN_SECOND;
  int attempts = 0;

  for (;;) {
    GError *error = NULL;
    EchoDiscoveryResult *r =
        echo_discovery_resolve (session, MISSING_TIMEOUT_MS, NULL, &error);

    attempts++;
    if (r == NULL) {
      g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_TIMEOUT);
      g_error_free (error);
      g_test_message ("'%s' gone after %d resolve(s)", session, attempts);
      return;
    }
    echo_discovery_result_free (r);
    if (g_get_monotonic_time () > give_up)
      g_error ("'%s' still resolves %d s after it was withdrawn", session, SETTLE_S);
    g_usleep (100 * 1000);
  }
}

static void
test_withdraw (void)
{
  EchoDiscoveryPublisher *p;
  EchoDiscoveryResult *r;

  if (!need_sandbox ())
    return;

  p = publish ("porch", 40051, NULL);
  r = resolve_found ("porch");
  g_assert_cmpuint (r->port, ==, 40051);
  echo_discovery_result_free (r);

  echo_discovery_publisher_free (p);
  assert_disappears ("porch");
}

static gboolean
port_is (const EchoDiscoveryResult * r, gconstpointer port)
{
  return r->port == GPOINTER_TO_UINT (port);
}

static void
test_name_collision (void)
{
  const char *const txt[] = { ECHO_DISCOVERY_TXT_CODEC, "opus", NULL };
  EchoDiscoveryPublisher *p1, *p2;
  EchoDiscoveryResult *first, *second;
  guint other_port;

  if (!need_sandbox ())
    return;

  p1 = publish ("office", 40061, txt);
  p2 = publish ("office", 40062, txt);

  first = resolve_found ("office");
  g_assert_true (first->port == 40061 || first->port == 40062);
  assert_txt (first, ECHO_DISCOVERY_TXT_SESSION, "office");

  /* withdraw the one found: the other must still be found under the session name */
  if (first->port == 40061) {
    echo_discovery_publisher_free (p1);
    p1 = NULL;
    other_port = 40062;
  } else {
    echo_discovery_publisher_free (p2);
    p2 = NULL;
    other_port = 40061;
  }
  second = resolve_until ("office", port_is, GUINT_TO_POINTER (other_port));
  g_assert_cmpuint (second->port, ==, other_port);
  assert_txt (second, ECHO_DISCOVERY_TXT_SESSION, "office");
  assert_txt (second, ECHO_DISCOVERY_TXT_CODEC, "opus");

  /* one kept the name, the other announced under Avahi's alternative */
  g_assert_cmpstr (first->service_name, !=, second->service_name);
  g_assert_true (g_str_equal (first->service_name, "office")
      || g_str_equal (second->service_name, "office"));
  g_assert_true (g_str_has_prefix (first->service_name, "office"));
  g_assert_true (g_str_has_prefix (second->service_name, "office"));

  echo_discovery_result_free (first);
  echo_discovery_result_free (second);
  echo_discovery_publisher_free (p1);
  echo_discovery_publisher_free (p2);
}

typedef struct
{
  GCancellable *cancellable;
  GError *error;
  EchoDiscoveryResult *result;
  gint64 returned;
} CancelData;

static gpointer
cancel_thread (gpointer data)
{
  CancelData *d = data;

  d->result = echo_discovery_resolve ("nowhere", 600000, d->cancellable,
      &d->error);
  d->returned = g_get_monotonic_time ();
  return NULL;
}

static void
test_cancel (void)
{
  CancelData d = { 0, };
  GThread *thread;
  gint64 cancelled_at;
  GError *error = NULL;

  if (!need_sandbox ())
    return;

  d.cancellable = g_cancellable_new ();
  thread = g_thread_new ("resolve", cancel_thread, &d);
  /* let it get into its wait; cancelling earlier is covered below */
  g_usleep (500 * 1000);
  cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (d.cancellable);
  g_thread_join (thread);

  g_assert_null (d.result);
  g_assert_error (d.error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_CANCELLED);
  g_test_message ("returned %" G_GINT64_FORMAT " ms after the cancel",
      (d.returned - cancelled_at) / 1000);
  /* far below the 600 s timeout */
  g_assert_cmpint (d.returned - cancelled_at, <, 60 * G_TIME_SPAN_SECOND);
  g_clear_error (&d.error);

  /* already cancelled: returns at once without asking the daemon */
  g_assert_null (echo_discovery_resolve ("nowhere", 600000, d.cancellable,
          &error));
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_CANCELLED);
  g_clear_error (&error);

  g_object_unref (d.cancellable);
}

static void
test_invalid (void)
{
  const char *const odd[] = { ECHO_DISCOVERY_TXT_CODEC, NULL };
  const char *const empty_key[] = { "", "x", NULL };
  const char *const equals_key[] = { "a=b", "x", NULL };
  g_autofree char *long_value = g_strnfill (250, 'v');
  const char *const too_long[] = { ECHO_DISCOVERY_TXT_CODEC, long_value, NULL };
  g_autofree char *long_name = g_strnfill (64, 'n');
  const char *const *bad_txt[] = { odd, empty_key, equals_key, too_long };
  GError *error = NULL;
  gsize i;

  /* validation happens before any daemon is asked: no sandbox needed */
  for (i = 0; i < G_N_ELEMENTS (bad_txt); i++) {
    g_assert_null (echo_discovery_publish ("den", 40071, bad_txt[i], &error));
    g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  g_assert_null (echo_discovery_publish (long_name, 40071, NULL, &error));
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (echo_discovery_publish ("", 40071, NULL, &error));
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED);
  g_clear_error (&error);
}

static void
test_unavailable (void)
{
  if (g_test_subprocess ()) {
    /* The child is still single-threaded here, so setenv is safe; libavahi-client
     * reads the address when it connects. */
    g_autofree char *dir = g_dir_make_tmp (NULL, NULL);
    g_autofree char *address =
        g_strdup_printf ("unix:path=%s/no-such-bus", dir);
    GError *error = NULL;

    g_assert_nonnull (dir);
    g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);

    g_assert_null (echo_discovery_publish ("void", 40081, NULL, &error));
    g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "avahi-daemon"));
    g_clear_error (&error);

    g_assert_null (echo_discovery_resolve ("void", FOUND_TIMEOUT_MS, NULL, &error));
    g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE);
    g_test_message ("%s", error->message);
    g_clear_error (&error);

    g_rmdir (dir);
    return;
  }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
run_sandbox (const char *what)
{
  const char *argv[] = { g_getenv ("ECHO_MDNS_SANDBOX"), what, NULL };
  GError *error = NULL;
  int status = 0;

  /* its stdout would end up in our TAP output */
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
      NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

static void
test_daemon_restart (void)
{
  EchoDiscoveryPublisher *p;
  EchoDiscoveryResult *r;
  GError *error = NULL;

  if (!need_sandbox ())
    return;

  p = publish ("workshop", 40091, NULL);
  r = resolve_found ("workshop");
  echo_discovery_result_free (r);

  run_sandbox ("--avahi-stop");
  /* the bus is there, the daemon is not */
  g_assert_null (echo_discovery_resolve ("workshop", FOUND_TIMEOUT_MS, NULL,
          &error));
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* a new publisher cannot start either */
  g_assert_null (echo_discovery_publish ("shed", 40092, NULL, &error));
  g_assert_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  run_sandbox ("--avahi-start");
  /* the publisher registers again by itself */
  r = resolve_until ("workshop", port_is, GUINT_TO_POINTER (40091));
  g_assert_cmpuint (r->port, ==, 40091);
  assert_txt (r, ECHO_DISCOVERY_TXT_SESSION, "workshop");
  echo_discovery_result_free (r);

  echo_discovery_publisher_free (p);
  assert_disappears ("workshop");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/discovery/invalid", test_invalid);
  g_test_add_func ("/discovery/unavailable", test_unavailable);
  g_test_add_func ("/discovery/publish-resolve", test_publish_resolve);
  g_test_add_func ("/discovery/two-sessions", test_two_sessions);
  g_test_add_func ("/discovery/concurrent", test_concurrent);
  g_test_add_func ("/discovery/missing-times-out", test_missing_times_out);
  g_test_add_func ("/discovery/update-txt", test_update_txt);
  g_test_add_func ("/discovery/withdraw", test_withdraw);
  g_test_add_func ("/discovery/name-collision", test_name_collision);
  g_test_add_func ("/discovery/cancel", test_cancel);
  /* last: it restarts the daemon the other cases share */
  g_test_add_func ("/discovery/daemon-restart", test_daemon_restart);

  return g_test_run ();
}
