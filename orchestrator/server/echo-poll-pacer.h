/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-poll-pacer.h: spaces a busy main loop's wake-ups out, so one wake-up serves every
 * connection that became ready meanwhile.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Makes @context (NULL: the default one) start a poll() no sooner than @interval_us after
 * the previous poll() returned; 0 restores GLib's own poll. One context per process: the
 * pacer's state is global (echod has one main loop). */
void        echo_poll_pacer_install (GMainContext *context, guint interval_us);

G_END_DECLS
