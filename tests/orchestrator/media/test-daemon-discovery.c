/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-daemon-discovery.c: echod's own mDNS announcement (_echo-api._tcp).
 *
 * meson runs the cases that need avahi-daemon inside tests/lib/mdns-sandbox (a private
 * network namespace with only `lo`, a private system bus and avahi-daemon); they skip
 * unless ECHO_MDNS_SANDBOX is set, so nothing is ever announced on a real network. The
 * announcement is checked from outside the process with avahi-browse. It proves that:
 *  - echod is announced under its name with "%h" expanded, its port, and TXT
 *    version=... and path=/api, and withdrawn when freed;
 *  - with avahi-daemon stopped at start-up, creating the announcement only warns, and it
 *    is made by itself once avahi-daemon starts;
 *  - without any reachable system bus (a subprocess whose bus address points nowhere,
 *    runs everywhere) it warns and carries on; an invalid name warns and never retries.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <string.h>

#include "echo-daemon-discovery.h"

/* how long an eventually-consistent change may take to show */
#define SETTLE_S 30

static gboolean
need_sandbox (void)
{
  g_autofree char *browse = NULL;

  if (g_getenv ("ECHO_MDNS_SANDBOX") == NULL) {
    g_test_skip ("needs the private avahi-daemon of tests/lib/mdns-sandbox");
    return FALSE;
  }
  browse = g_find_program_in_path ("avahi-browse");
  if (browse == NULL) {
    g_test_skip ("needs avahi-browse (avahi-utils)");
    return FALSE;
  }
  return TRUE;
}

static void
sandbox_command (const char *what)
{
  const char *argv[] = { "bash", g_getenv ("ECHO_MDNS_SANDBOX"), what, NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
          NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* The avahi-browse line (-p format, resolved) announcing @port, or NULL. */
static char *
browse_for_port (guint16 port)
{
  const char *argv[] = { "avahi-browse", "--resolve", "--parsable", "--terminate",
    "--no-db-lookup", "_echo-api._tcp", NULL
  };
  g_autofree char *out = NULL;
  g_autofree char *needle = g_strdup_printf (";%u;", port);
  g_auto (GStrv) lines = NULL;
  int status = 0;
  guint i;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, NULL))
    return NULL;
  lines = g_strsplit (out, "\n", -1);
  for (i = 0; lines[i] != NULL; i++) {
    if (lines[i][0] == '=' && strstr (lines[i], needle) != NULL
        && strstr (lines[i], ";IPv4;") != NULL)
      return g_strdup (lines[i]);
  }
  return NULL;
}

/* Waits until the announcement of @port is visible (@present) or gone (!@present). */
static char *
wait_browse (guint16 port, gboolean present)
{
  gint64 deadline = g_get_monotonic_time () + SETTLE_S * G_TIME_SPAN_SECOND;

  do {
    char *line = browse_for_port (port);

    if ((line != NULL) == present)
      return line != NULL ? line : g_strdup ("");
    g_free (line);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (200 * 1000);
  } while (g_get_monotonic_time () < deadline);
  return NULL;
}

static void
test_announce (void)
{
  g_autoptr (EchoDaemonDiscovery) d = NULL;
  g_autofree char *line = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *expected_name = NULL;
  guint16 port = 45123;

  if (!need_sandbox ())
    return;
  d = echo_daemon_discovery_new ("echod test on %h %%", port, "9.8.7");
  g_assert_true (echo_daemon_discovery_is_announced (d));
  expected_name = g_strdup_printf ("echod test on %s %%", g_get_host_name ());
  g_assert_cmpstr (echo_daemon_discovery_get_name (d), ==, expected_name);

  line = wait_browse (port, TRUE);
  g_assert_nonnull (line);
  g_test_message ("%s", line);
  /* avahi-browse escapes the spaces of the instance name */
  g_assert_nonnull (strstr (line, "echod\\032test\\032on"));
  g_assert_nonnull (strstr (line, ";_echo-api._tcp;"));
  g_assert_nonnull (strstr (line, ";127.0.0.1;45123;"));
  g_assert_nonnull (strstr (line, "\"path=/api\""));
  g_assert_nonnull (strstr (line, "\"version=9.8.7\""));

  g_clear_pointer (&d, echo_daemon_discovery_free);
  gone = wait_browse (port, FALSE);
  g_assert_nonnull (gone);
}

static void
test_avahi_appears_later (void)
{
  g_autoptr (EchoDaemonDiscovery) d = NULL;
  g_autofree char *line = NULL;
  gint64 deadline;
  guint16 port = 45124;

  if (!need_sandbox ())
    return;
  sandbox_command ("--avahi-stop");
  g_test_expect_message ("echo-media", G_LOG_LEVEL_WARNING,
      "*not announced by mDNS yet*avahi-daemon*");
  d = echo_daemon_discovery_new ("echod later", port, "1.0");
  g_test_assert_expected_messages ();
  g_assert_false (echo_daemon_discovery_is_announced (d));

  sandbox_command ("--avahi-start");
  /* avahi-daemon's name appears on the system bus: announced without a restart */
  deadline = g_get_monotonic_time () + SETTLE_S * G_TIME_SPAN_SECOND;
  while (!echo_daemon_discovery_is_announced (d) && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10 * 1000);
  }
  g_assert_true (echo_daemon_discovery_is_announced (d));
  line = wait_browse (port, TRUE);
  g_assert_nonnull (line);
  g_assert_nonnull (strstr (line, "\"path=/api\""));
}

static void
test_no_bus (void)
{
  if (g_test_subprocess ()) {
    EchoDaemonDiscovery *d;

    g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/echo-test-bus", TRUE);
    g_test_expect_message ("echo-media", G_LOG_LEVEL_WARNING, "*not announced by mDNS*");
    d = echo_daemon_discovery_new ("echod", 5000, "1.0");
    g_test_assert_expected_messages ();
    g_assert_nonnull (d);
    g_assert_false (echo_daemon_discovery_is_announced (d));
    /* the bus watch reports the bus missing; nothing else happens */
    g_main_context_iteration (NULL, FALSE);
    echo_daemon_discovery_free (d);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_invalid_name (void)
{
  g_autofree char *name = g_strnfill (70, 'x');
  EchoDaemonDiscovery *d;

  g_test_expect_message ("echo-media", G_LOG_LEVEL_WARNING, "*not announcing echod*");
  d = echo_daemon_discovery_new (name, 5000, "1.0");
  g_test_assert_expected_messages ();
  g_assert_false (echo_daemon_discovery_is_announced (d));
  echo_daemon_discovery_free (d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/daemon-discovery/announce", test_announce);
  g_test_add_func ("/daemon-discovery/avahi-appears-later", test_avahi_appears_later);
  g_test_add_func ("/daemon-discovery/no-bus", test_no_bus);
  g_test_add_func ("/daemon-discovery/invalid-name", test_invalid_name);

  return g_test_run ();
}
