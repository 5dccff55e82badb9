/* Small UDP helpers shared by the relay and the receiver: sockets with kernel receive
 * timestamps, and a poll that a second thread can wake. Linux (SO_TIMESTAMPNS, eventfd). */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* CLOCK_MONOTONIC in ns: the local time base of everything in the sync plugin. */
guint64 echo_net_monotonic_ns (void);

/* A UDP socket bound to @address:@port (port 0: any), with kernel receive timestamps.
 * Returns the fd, or -1 with @error set. @bound_port receives the actual port. */
int echo_net_bind (const char *address, guint port, guint * bound_port, GError ** error);

/* A UDP socket connected to @host:@port (name or numeric), so the kernel drops datagrams
 * from anyone else. Returns the fd, or -1 with @error set. */
int echo_net_connect (const char *host, guint port, GError ** error);

/* Receives one datagram without blocking. Returns its length (0..@size), or -1 when there
 * is nothing to read (or on error). @rx_mono_ns: the kernel's receive time, converted to
 * CLOCK_MONOTONIC (falls back to the time of the call). @truncated: the datagram was
 * larger than @size. */
gssize echo_net_recv (int fd, guint8 * buf, gsize size, struct sockaddr_storage *from,
    socklen_t * from_len, guint64 * rx_mono_ns, gboolean * truncated);

/* Waits until @fd is readable, @wake_fd is signalled, or @timeout_ns passes.
 * Returns TRUE if @fd is readable. */
gboolean echo_net_wait (int fd, int wake_fd, guint64 timeout_ns);

int echo_net_wake_new (void);
void echo_net_wake (int wake_fd);
void echo_net_wake_clear (int wake_fd);

gboolean echo_net_same_address (const struct sockaddr_storage *a,
    const struct sockaddr_storage *b);
char *echo_net_address_to_string (const struct sockaddr_storage *addr);

G_END_DECLS
