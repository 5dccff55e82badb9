/* echo-wake-source.h: a GSource other threads wake, so streaming threads can hand work
 * (Opus packets, player events) to the main context without a timer or a pipe.
 *
 * echo_wake_source_wake () may be called from any thread; several wakes before the
 * callback runs make one dispatch, so the callback drains whatever queue it serves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A source named @name calling @callback (@data) when woken, attached to @context. */
GSource *echo_wake_source_new (const char *name, GSourceFunc callback, gpointer data,
    GMainContext * context);

/* Makes the source dispatch soon; thread-safe. */
void echo_wake_source_wake (GSource * source);

G_END_DECLS
