/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-daemon-discovery.c: echod's own mDNS announcement, over echodiscovery.
 *
 * echodiscovery reports an absent avahi-daemon when the publisher is created and copes
 * with daemon restarts afterwards. This file covers the start-up case: it watches the
 * system bus for avahi-daemon's name (org.freedesktop.Avahi) and tries again when it
 * appears; a timer also retries, because a bus that was not running cannot be watched.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-daemon-discovery.h"

#include <gio/gio.h>

#include "echodiscovery.h"

#define AVAHI_BUS_NAME "org.freedesktop.Avahi"

struct _EchoDaemonDiscovery
{
  char *name;
  guint16 port;
  char *version;
  EchoDiscoveryPublisher *publisher;    /* NULL until announced */
  guint bus_watch;              /* while waiting for avahi-daemon */
  GSource *retry;               /* likewise */
  GMainContext *context;
};

static char *
expand_name (const char *name)
{
  GString *s = g_string_new (NULL);
  const char *c;

  for (c = name; *c != '\0'; c++) {
    if (c[0] == '%' && c[1] == 'h') {
      g_string_append (s, g_get_host_name ());
      c++;
    } else if (c[0] == '%' && c[1] == '%') {
      g_string_append_c (s, '%');
      c++;
    } else {
      g_string_append_c (s, *c);
    }
  }
  return g_string_free (s, FALSE);
}

static void
stop_waiting (EchoDaemonDiscovery * d)
{
  if (d->bus_watch != 0) {
    g_bus_unwatch_name (d->bus_watch);
    d->bus_watch = 0;
  }
  if (d->retry != NULL) {
    g_source_destroy (d->retry);
    g_clear_pointer (&d->retry, g_source_unref);
  }
}

/* Announces; FALSE with @error set when that failed. */
static gboolean
try_publish (EchoDaemonDiscovery * d, GError ** error)
{
  const char *txt[] = {
    "version", d->version,
    "path", ECHO_DAEMON_DISCOVERY_API_PATH,
    NULL,
  };

  d->publisher = echo_discovery_publish_service (ECHO_DAEMON_DISCOVERY_SERVICE_TYPE,
      d->name, d->port, txt, error);
  return d->publisher != NULL;
}

static gboolean
is_unavailable (const GError * error)
{
  return g_error_matches (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE);
}

static void
retry_publish (EchoDaemonDiscovery * d)
{
  g_autoptr (GError) error = NULL;

  if (d->publisher != NULL)
    return;
  if (try_publish (d, &error)) {
    g_message ("avahi-daemon is reachable: announcing '%s' (%s) on port %u", d->name,
        ECHO_DAEMON_DISCOVERY_SERVICE_TYPE, d->port);
    stop_waiting (d);
  } else if (is_unavailable (error)) {
    g_debug ("still not announcing echod: %s", error->message);
  } else {
    g_warning ("not announcing echod by mDNS: %s", error->message);
    stop_waiting (d);
  }
}

static void
on_avahi_appeared (GDBusConnection * connection, const char *name, const char *owner,
    gpointer user_data)
{
  retry_publish (user_data);
}

static gboolean
on_retry (gpointer user_data)
{
  retry_publish (user_data);
  return G_SOURCE_CONTINUE;
}

EchoDaemonDiscovery *
echo_daemon_discovery_new (const char *name, guint16 port, const char *version)
{
  EchoDaemonDiscovery *d;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (port != 0, NULL);
  g_return_val_if_fail (version != NULL, NULL);

  d = g_new0 (EchoDaemonDiscovery, 1);
  d->name = expand_name (name);
  d->port = port;
  d->version = g_strdup (version);
  d->context = g_main_context_ref_thread_default ();

  if (try_publish (d, &error)) {
    g_debug ("announcing '%s' (%s) on port %u", d->name,
        ECHO_DAEMON_DISCOVERY_SERVICE_TYPE, d->port);
    return d;
  }
  if (!is_unavailable (error)) {
    g_warning ("not announcing echod by mDNS: %s", error->message);
    return d;
  }

  g_warning ("echod is not announced by mDNS yet: %s; announcing it once avahi-daemon "
      "is running", error->message);
  /* the watch and the timer attach to the thread-default context, as _new() promises */
  d->bus_watch = g_bus_watch_name (G_BUS_TYPE_SYSTEM, AVAHI_BUS_NAME,
      G_BUS_NAME_WATCHER_FLAGS_NONE, on_avahi_appeared, NULL, d, NULL);
  d->retry = g_timeout_source_new_seconds (ECHO_DAEMON_DISCOVERY_RETRY_S);
  g_source_set_callback (d->retry, on_retry, d, NULL);
  g_source_attach (d->retry, d->context);
  return d;
}

gboolean
echo_daemon_discovery_is_announced (EchoDaemonDiscovery * d)
{
  g_return_val_if_fail (d != NULL, FALSE);

  return d->publisher != NULL;
}

const char *
echo_daemon_discovery_get_name (EchoDaemonDiscovery * d)
{
  g_return_val_if_fail (d != NULL, NULL);

  return d->name;
}

void
echo_daemon_discovery_free (EchoDaemonDiscovery * d)
{
  if (d == NULL)
    return;
  stop_waiting (d);
  echo_discovery_publisher_free (d->publisher);
  g_main_context_unref (d->context);
  g_free (d->name);
  g_free (d->version);
  g_free (d);
}
