/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-url-guard.h: the resolver's SSRF policy. A request may go only to a host on the
 * guard's whitelist, over http or https, and only to public addresses: every address the
 * host resolves to (GResolver) must be public, and so must the peer libsoup actually
 * connected to (checked again at connect time, against DNS rebinding). Private,
 * loopback, link-local, CGNAT, multicast, unspecified, reserved and documentation ranges,
 * and IPv6 forms embedding such an IPv4 address, are refused unless allow_private is set
 * (tests only: their provider replays listen on 127.0.0.1).
 *
 * Thread-safe once built: the resolver's worker threads share one guard.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _EchoUrlGuard EchoUrlGuard;

/* An empty whitelist: nothing allowed until hosts are added. */
EchoUrlGuard *echo_url_guard_new (gboolean allow_private);
void        echo_url_guard_free (EchoUrlGuard *guard);

/* @host: a host name (case-insensitive), an IP literal, or "*.example.com" for every
 * subdomain of example.com (not example.com itself). Not thread-safe: add hosts before
 * sharing the guard. */
void        echo_url_guard_add_host (EchoUrlGuard *guard, const char *host);

/* Adds the host of @url (an absolute URL); nothing when it has none or does not parse. */
void        echo_url_guard_add_host_of_url (EchoUrlGuard *guard, const char *url);

gboolean    echo_url_guard_allows_private (const EchoUrlGuard *guard);

gboolean    echo_url_guard_host_is_listed (const EchoUrlGuard *guard, const char *host);

/* TRUE when @address is in no refused range: a public unicast address. */
gboolean    echo_url_guard_address_is_public (GInetAddress *address);

/* Scheme http/https, a host on the whitelist, no user info. ECHO_MUSIC_ERROR_FORBIDDEN
 * otherwise. */
gboolean    echo_url_guard_check_uri (const EchoUrlGuard *guard, GUri *uri, GError **error);

/* @address is acceptable as a peer (always, with allow_private). FORBIDDEN otherwise. */
gboolean    echo_url_guard_check_address (const EchoUrlGuard *guard, GInetAddress *address,
    GError **error);

/* Resolves @host (blocking: call from a worker thread) and checks every address it has:
 * one refused address refuses the host. FORBIDDEN for refused addresses, PROVIDER when
 * the name does not resolve, G_IO_ERROR_CANCELLED when @cancellable fired. */
gboolean    echo_url_guard_check_host_addresses (const EchoUrlGuard *guard, const char *host,
    GCancellable *cancellable, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoUrlGuard, echo_url_guard_free)

G_END_DECLS
