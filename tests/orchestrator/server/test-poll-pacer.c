/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-poll-pacer.c: the main-loop pacer holds a busy loop's next poll back by its
 * interval, never holds the first one, and never sleeps past a timer that is due. Only
 * lower bounds on elapsed time, and upper bounds a hundredfold wide, so a loaded machine
 * cannot fail it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib-unix.h>
#include <unistd.h>

#include "echo-poll-pacer.h"

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer user_data)
{
  guint *dispatched = user_data;

  (*dispatched)++;
  return G_SOURCE_CONTINUE;     /* never drained: the pipe stays readable */
}

static gboolean
on_timeout (gpointer user_data)
{
  gboolean *fired = user_data;

  *fired = TRUE;
  return G_SOURCE_REMOVE;
}

/* A readable pipe makes every iteration's poll() return at once: each iteration after the
 * first must have waited out the interval. */
static void
test_busy_loop_is_paced (void)
{
  const guint interval_us = 20000, iterations = 5;
  g_autoptr (GMainContext) context = g_main_context_new ();
  GSource *source;
  int fds[2];
  guint dispatched = 0, i;
  gint64 start, elapsed;

  g_assert_no_errno (pipe (fds));
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  source = g_unix_fd_source_new (fds[0], G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), &dispatched, NULL);
  g_source_attach (source, context);

  echo_poll_pacer_install (context, interval_us);
  /* the first wake-up is not held */
  g_main_context_iteration (context, TRUE);
  start = g_get_monotonic_time ();
  for (i = 0; i < iterations; i++)
    g_main_context_iteration (context, TRUE);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpuint (dispatched, ==, iterations + 1);
  g_assert_cmpint (elapsed, >=, (gint64) (iterations * interval_us) - 1000);

  /* 0 restores GLib's own poll, which keeps dispatching */
  echo_poll_pacer_install (context, 0);
  for (i = 0; i < iterations; i++)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (dispatched, ==, 2 * iterations + 1);

  g_source_destroy (source);
  g_source_unref (source);
  close (fds[0]);
  close (fds[1]);
}

/* A timer due sooner than the interval fires on time, not an interval later. */
static void
test_timer_caps_the_wait (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  GSource *timer;
  gboolean fired = FALSE;
  gint64 start, elapsed;

  echo_poll_pacer_install (context, 10 * G_USEC_PER_SEC);
  /* an iteration that returns, so the next one is within the interval */
  g_main_context_iteration (context, FALSE);
  timer = g_timeout_source_new (20);
  g_source_set_callback (timer, on_timeout, &fired, NULL);
  g_source_attach (timer, context);
  start = g_get_monotonic_time ();
  while (!fired)
    g_main_context_iteration (context, TRUE);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (elapsed, >=, 19000);
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);
  g_source_unref (timer);
  echo_poll_pacer_install (context, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/poll-pacer/busy-loop-is-paced", test_busy_loop_is_paced);
  g_test_add_func ("/poll-pacer/timer-caps-the-wait", test_timer_caps_the_wait);
  return g_test_run ();
}
