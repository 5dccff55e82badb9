/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echodiscovery.h: finding Echo sessions on the local network by mDNS/DNS-SD (Avahi).
 *
 * A relay (sharerelay) announces each session it serves as a DNS-SD service; a receiver
 * (echosyncsrc) given only a session name finds the relay's address and port with
 * echo_discovery_resolve(). The module talks to avahi-daemon through libavahi-client over
 * the D-Bus system bus. Every publisher and every resolve runs its own AvahiThreadedPoll
 * thread, so all functions may be called from any thread (a GStreamer streaming thread, an
 * application thread) without a GLib main loop.
 *
 * Service type: ECHO_DISCOVERY_SERVICE_TYPE, "_echo-session._udp" (the session's audio and
 * clock traffic is UDP), in the default browse domain (normally "local").
 *
 * Service instance name: the session name. When another host already announces that
 * instance name, Avahi picks an alternative ("name #2"); the TXT key "session" always
 * carries the real session name, and resolving matches on that key first.
 *
 * TXT keys (RFC 6763 key=value strings; keys are case-insensitive and are reported in
 * lower case; every value is a decimal number or a plain token unless stated):
 *
 *  - session:  the session name. The publisher always sets it to the name it was given
 *              (a "session" pair passed by the caller is replaced).
 *  - codec:    how the audio is carried, e.g. "opus" or "pcm" (the relay's caps).
 *  - rate:     sample rate in Hz, e.g. "48000".
 *  - channels: channel count, e.g. "2".
 *  - latency:  the session's playout latency in nanoseconds, e.g. "200000000".
 *  - version:  Echo's session protocol version, e.g. "1"; a receiver refuses versions
 *              it does not speak.
 *  - auth:     present only when the session requires a token; its value is "token".
 *
 * The publisher passes the TXT pairs it is given unchanged apart from "session"; filling
 * them in is the element's job.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __ECHO_DISCOVERY_H__
#define __ECHO_DISCOVERY_H__

#include <gio/gio.h>

G_BEGIN_DECLS

/* The DNS-SD service type of an Echo session. */
#define ECHO_DISCOVERY_SERVICE_TYPE "_echo-session._udp"

/* TXT keys, see the list above. */
#define ECHO_DISCOVERY_TXT_SESSION  "session"
#define ECHO_DISCOVERY_TXT_CODEC    "codec"
#define ECHO_DISCOVERY_TXT_RATE     "rate"
#define ECHO_DISCOVERY_TXT_CHANNELS "channels"
#define ECHO_DISCOVERY_TXT_LATENCY  "latency"
#define ECHO_DISCOVERY_TXT_VERSION  "version"
#define ECHO_DISCOVERY_TXT_AUTH     "auth"
/* The value of the "auth" key when the session requires a token. */
#define ECHO_DISCOVERY_AUTH_TOKEN   "token"

#define ECHO_DISCOVERY_ERROR (echo_discovery_error_quark ())
GQuark echo_discovery_error_quark (void);

typedef enum
{
  /* avahi-daemon (or the D-Bus system bus it is reached through) is not reachable */
  ECHO_DISCOVERY_ERROR_UNAVAILABLE,
  /* echo_discovery_resolve() found no matching session within its timeout */
  ECHO_DISCOVERY_ERROR_TIMEOUT,
  /* echo_discovery_resolve() was cancelled through its GCancellable */
  ECHO_DISCOVERY_ERROR_CANCELLED,
  /* anything else: an invalid name or TXT pair, a browse failure reported by Avahi */
  ECHO_DISCOVERY_ERROR_FAILED,
} EchoDiscoveryError;

typedef struct _EchoDiscoveryPublisher EchoDiscoveryPublisher;

/**
 * echo_discovery_publish:
 * @name: the session name: valid UTF-8, 1 to 63 bytes (one DNS label)
 * @port: the UDP port the relay serves the session on (not 0)
 * @txt: (nullable): NULL-terminated array of alternating keys and values
 *   ("codec", "opus", "rate", "48000", ..., NULL); keys are non-empty printable ASCII
 *   without '=', each "key=value" at most 255 bytes
 * @error: return location for an ECHO_DISCOVERY_ERROR
 *
 * Announces session @name. Returns at once: the announcement is registered with the
 * daemon in the background (a name collision is resolved there as described above).
 * Fails with ECHO_DISCOVERY_ERROR_UNAVAILABLE when avahi-daemon is not reachable now;
 * once created, the publisher survives daemon restarts by registering again when the
 * daemon is back.
 *
 * Returns: (transfer full): the publisher, or NULL with @error set
 */
EchoDiscoveryPublisher *echo_discovery_publish (const char *name, guint16 port,
    const char *const *txt, GError ** error);

/**
 * echo_discovery_publish_service:
 * @type: the DNS-SD service type, "_name._tcp" or "_name._udp"
 * @name: the service instance name, as for echo_discovery_publish()
 * @port: the port the service listens on (not 0)
 * @txt: (nullable): TXT pairs, as for echo_discovery_publish()
 * @error: return location for an ECHO_DISCOVERY_ERROR
 *
 * echo_discovery_publish() for any service type: the same validation, background
 * registration, collision renaming and survival of daemon restarts. For
 * ECHO_DISCOVERY_SERVICE_TYPE the "session" TXT key is filled in exactly as
 * echo_discovery_publish() does; for any other type the TXT pairs are published as they
 * are (none at all is allowed). echo_discovery_publisher_update_txt() and
 * echo_discovery_publisher_free() work on the result as on any publisher. Echo's daemon
 * announces its HTTP API this way ("_echo-api._tcp").
 *
 * Returns: (transfer full): the publisher, or NULL with @error set
 */
EchoDiscoveryPublisher *echo_discovery_publish_service (const char *type,
    const char *name, guint16 port, const char *const *txt, GError ** error);

/**
 * echo_discovery_publisher_update_txt:
 * @p: a publisher
 * @txt: (nullable): the new TXT pairs, as for echo_discovery_publish(); they replace
 *   the previous ones entirely ("session" is kept)
 *
 * Invalid pairs are reported with g_warning() and the previous TXT record stays.
 */
void echo_discovery_publisher_update_txt (EchoDiscoveryPublisher * p,
    const char *const *txt);

/* Withdraws the announcement and frees @p. NULL is allowed. Other daemons drop the
 * session when they receive the goodbye announcement; as mDNS specifies, a cached copy
 * may still resolve for about a second after that. */
void echo_discovery_publisher_free (EchoDiscoveryPublisher * p);

typedef struct
{
  char *host;                   /* numeric address, e.g. "127.0.0.1" or "fe80::1%lo" */
  guint16 port;
  GHashTable *txt;              /* lower-case key -> value (char*), owned; a key sent
                                 * without '=' maps to "" */
  char *service_name;           /* the DNS-SD instance name it was found under */
} EchoDiscoveryResult;

/* NULL is allowed. */
void echo_discovery_result_free (EchoDiscoveryResult * r);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoDiscoveryResult, echo_discovery_result_free)

/**
 * echo_discovery_resolve:
 * @session: the session name to look for
 * @timeout_ms: how long to look, in milliseconds
 * @cancellable: (nullable): cancels the lookup from another thread
 * @error: return location for an ECHO_DISCOVERY_ERROR
 *
 * Browses for ECHO_DISCOVERY_SERVICE_TYPE and resolves what it finds until a service
 * whose TXT "session" equals @session (or, for a service without that key, whose
 * instance name equals it) resolves. An IPv4 address is preferred: an IPv6 one is
 * returned only once the IPv4 lookup of the same service failed, or when the time is up.
 * Blocks the calling thread for about @timeout_ms at most, plus the time avahi-daemon
 * takes to accept the connection (immediate unless the daemon is hung).
 *
 * Errors: ECHO_DISCOVERY_ERROR_UNAVAILABLE (no avahi-daemon),
 * ECHO_DISCOVERY_ERROR_TIMEOUT ("no Echo session 'x' found on the network within N ms"),
 * ECHO_DISCOVERY_ERROR_CANCELLED, ECHO_DISCOVERY_ERROR_FAILED.
 *
 * Returns: (transfer full): the session's address, or NULL with @error set
 */
EchoDiscoveryResult *echo_discovery_resolve (const char *session, guint timeout_ms,
    GCancellable * cancellable, GError ** error);

G_END_DECLS

#endif /* __ECHO_DISCOVERY_H__ */
