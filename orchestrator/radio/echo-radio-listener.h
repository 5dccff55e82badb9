/* echo-radio-listener.h: one listener of a mount, writing the mount's bytes to its
 * connection.
 *
 * A listener reads the mount's ring (echo-radio-ring.h) at its own offset: it writes the
 * response head, then (Ogg) the stream's header pages, then the audio from its start offset
 * on, with an ICY metadata block after every metaint audio bytes when it asked for them
 * (written together with the audio that follows it, so it carries the title in effect at
 * that audio's first byte).
 * Every write is a non-blocking writev of slices of the ring's chunks and the shared title
 * blocks: no payload is copied per listener. When the socket is full the listener waits for
 * it to drain (a GSource on the main context) while the ring moves on without it; it is
 * dropped when the audio it is at gets older than the mount's lag limit, or has left the ring.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "echo-radio-ring.h"

G_BEGIN_DECLS

typedef struct _EchoRadioListener EchoRadioListener;

typedef enum {
  ECHO_RADIO_LISTENER_CLOSED,     /* the client went away (or a write failed) */
  ECHO_RADIO_LISTENER_TOO_SLOW,   /* it fell behind the lag limit */
} EchoRadioListenerEnd;

/* Called once when the listener stops writing; the callee frees it (it is not used after). */
typedef void (*EchoRadioListenerDone) (EchoRadioListener *listener, EchoRadioListenerEnd end,
    gpointer data);

/* stream: the connection (a reference is kept; closed when the listener is freed).
 * head: the HTTP response head. prefix: bytes before the audio (Ogg header pages) or NULL.
 * start: the ring offset of the first audio byte. metaint: 0 for no ICY metadata.
 * bytes_out: a counter every written byte is added to. */
EchoRadioListener *echo_radio_listener_new (GIOStream *stream, EchoRadioRing *ring,
    GBytes *head, GBytes *prefix, guint64 start, guint metaint, guint64 *bytes_out,
    EchoRadioListenerDone done, gpointer data);
void echo_radio_listener_free (EchoRadioListener *listener);

/* The ring has new bytes (or time passed): write what the socket takes, or, while waiting
 * for it to drain, check the lag. now_us/max_lag_us: monotonic time and the lag limit.
 * May call done (then the listener must not be used by the caller any more). Returns FALSE
 * when it did. */
gboolean echo_radio_listener_wake (EchoRadioListener *listener, gint64 now_us,
    gint64 max_lag_us);

/* The ring offset of the next audio byte it will write. */
guint64 echo_radio_listener_get_position (EchoRadioListener *listener);

G_END_DECLS
