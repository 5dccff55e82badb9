/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-poll-pacer.c: wake-up pacing for the main loop.
 *
 * GLib's main loop pays for every wake-up in proportion to what it watches: each poll()
 * hands all its file descriptors to the kernel, and prepare/check walk every source. echod
 * watches one descriptor per keep-alive connection; under the Music Share benchmark (300
 * connections, ~3,600 requests/s) it woke up about once per request, and those walks were
 * a third of its CPU. The pacer holds the next poll() back until the interval has passed
 * since the previous one returned, so a busy loop wakes at most once per interval and each
 * wake-up serves every connection that became ready in between.
 *
 * What it costs: a request that arrives while the loop is held waits up to the interval
 * (1 ms by default) longer. An idle loop sleeps in poll() as before and the first request
 * after a quiet spell is served at once: only a loop woken again within the interval waits.
 * A timeout GLib asks for (a timer due sooner) is never extended: the wait is capped by it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-poll-pacer.h"

#include <poll.h>

static gint64 interval_us;
static gint64 last_return_us;

static gint
paced_poll (GPollFD * fds, guint nfds, gint timeout_ms)
{
  gint64 since = g_get_monotonic_time () - last_return_us;
  gint ret;

  /* timeout 0: something is ready already; dispatch it without waiting */
  if (timeout_ms != 0 && since < interval_us) {
    gint64 wait_us = interval_us - since;

    if (timeout_ms > 0)
      wait_us = MIN (wait_us, (gint64) timeout_ms * 1000);
    g_usleep ((gulong) wait_us);
    /* what is ready now is found by a non-blocking poll below, or the loop's timeout
     * has been spent waiting */
    if (timeout_ms > 0)
      timeout_ms = (gint) MAX (0, timeout_ms - (wait_us + 999) / 1000);
  }
  /* GPollFD and struct pollfd have the same layout on Unix (GLib relies on it) */
  ret = poll ((struct pollfd *) fds, nfds, timeout_ms);
  last_return_us = g_get_monotonic_time ();
  return ret;
}

void
echo_poll_pacer_install (GMainContext *context, guint interval)
{
  interval_us = interval;
  last_return_us = 0;
  g_main_context_set_poll_func (context, interval > 0 ? paced_poll : g_poll);
}

