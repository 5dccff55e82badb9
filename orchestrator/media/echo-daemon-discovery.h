/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-daemon-discovery.h: announcing echod's HTTP API on the local network by mDNS.
 *
 * Service type "_echo-api._tcp", instance name from the configuration ([discovery] name,
 * "echod on %h" by default), the HTTP port, TXT records:
 *
 *   version  echod's version, e.g. "0.1.0"
 *   path     "/api", where the API starts
 *
 * Announcing is best effort and never fatal: when avahi-daemon (or the system bus) is
 * not reachable at start-up, one warning is logged and the announcement is made as soon
 * as avahi-daemon appears on the system bus (also retried periodically, for a bus that
 * was absent). Once made, echodiscovery keeps it across avahi-daemon restarts.
 * Main thread only (the retries run on the thread-default main context of _new()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_DAEMON_DISCOVERY_SERVICE_TYPE "_echo-api._tcp"
#define ECHO_DAEMON_DISCOVERY_API_PATH "/api"
/* seconds between attempts while avahi-daemon cannot be reached */
#define ECHO_DAEMON_DISCOVERY_RETRY_S 30

typedef struct _EchoDaemonDiscovery EchoDaemonDiscovery;

/**
 * echo_daemon_discovery_new:
 * @name: the instance name; "%h" is replaced by the host name and "%%" by "%"; the
 *   result must be 1 to 63 bytes of UTF-8
 * @port: the HTTP port echod listens on (not 0)
 * @version: echod's version, for the TXT record
 *
 * Starts announcing. Problems are logged (a warning), never returned: an invalid name
 * is not announced at all, an unreachable avahi-daemon is waited for.
 *
 * Returns: (transfer full): the announcement; free it to withdraw it
 */
EchoDaemonDiscovery *echo_daemon_discovery_new (const char *name, guint16 port,
    const char *version);

/* TRUE once the announcement is registered with avahi-daemon (it may still be probing). */
gboolean echo_daemon_discovery_is_announced (EchoDaemonDiscovery * discovery);

/* The instance name asked for, "%h" expanded. */
const char *echo_daemon_discovery_get_name (EchoDaemonDiscovery * discovery);

/* Withdraws the announcement; NULL is allowed. */
void echo_daemon_discovery_free (EchoDaemonDiscovery * discovery);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoDaemonDiscovery, echo_daemon_discovery_free)

G_END_DECLS
