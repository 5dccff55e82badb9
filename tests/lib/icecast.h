/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icecast.h: a private Icecast server for tests.
 *
 * Starts the system's Icecast 2.4 (Debian's icecast2) with a generated configuration in a
 * temporary directory, listening on a free port on 127.0.0.1 only, with no burst on
 * connect. Source clients (ffmpeg, gst-launch-1.0 ... ! shout2send) are spawned through it,
 * with GStreamer's usual environment, so they use the system plugins whatever the test's
 * environment is, and are stopped before the server. The titles the server sends in-band
 * are set through its admin API, the way a station's playout software does.
 *
 * No process started here outlives the test: each has a watchdog that terminates it when
 * the test process is gone, however it ended (failed assertion, sanitizer report, kill).
 *
 * All calls are synchronous and must come from one thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoIcecast EchoIcecast;

gchar *echo_icecast_find_binary (void);

EchoIcecast *echo_icecast_new (void);
void echo_icecast_set_mount_charset (EchoIcecast * ic, const gchar * mount,
    const gchar * charset);
gboolean echo_icecast_start (EchoIcecast * ic, GError ** error);

guint16 echo_icecast_get_port (EchoIcecast * ic);
const gchar *echo_icecast_get_source_password (EchoIcecast * ic);
gchar *echo_icecast_get_url (EchoIcecast * ic, const gchar * path);

gboolean echo_icecast_spawn_source (EchoIcecast * ic, const gchar * name,
    const gchar * const *argv, GError ** error);
gboolean echo_icecast_wait_mount (EchoIcecast * ic, const gchar * mount,
    guint timeout_ms, GError ** error);
gboolean echo_icecast_set_song (EchoIcecast * ic, const gchar * mount,
    const gchar * song, const gchar * charset, GError ** error);

gchar *echo_icecast_get_logs (EchoIcecast * ic);
void echo_icecast_stop (EchoIcecast * ic);
void echo_icecast_free (EchoIcecast * ic);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoIcecast, echo_icecast_free);

G_END_DECLS
