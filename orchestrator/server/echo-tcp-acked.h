/* echo-tcp-acked.h: how many bytes the peer of a TCP socket has acknowledged.
 *
 * libsoup 3.2 does not tell how much a WebSocket connection still has queued, so the
 * WebSocket front counts what it hands libsoup and subtracts what the client's TCP stack
 * acknowledged (Linux TCP_INFO tcpi_bytes_acked): the difference is what a slow client
 * has not taken yet, wherever it sits (libsoup's queue, the kernel's send buffer, the
 * wire). Kept apart because <linux/tcp.h> does not mix with the libc socket headers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* FALSE when the descriptor is not a (Linux) TCP socket or is closed. */
gboolean echo_tcp_bytes_acked (int fd, guint64 *acked);

G_END_DECLS
