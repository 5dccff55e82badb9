/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * host-stall-monitor.c: records when this machine stops running its threads.
 *
 * A thread at real-time priority (run it under chrt) sleeps until absolute 1 ms
 * deadlines on CLOCK_MONOTONIC and notes every wake-up later than --threshold-us. At
 * real-time priority on an otherwise working machine such a thread wakes within tens of
 * microseconds; when it does not, nothing else ran either: the virtual machine was
 * descheduled by its host, or the kernel held every CPU. bench/run-sync-bench runs one
 * beside the receivers, and sync-analyze --host-stalls tells glitches that coincide with
 * such a stall from the others.
 *
 *   host-stall-monitor --out FILE [--threshold-us 2000] [--period-us 1000]
 *
 * FILE gets one line per stall, written as it ends:
 *   stall start_ns=<CLOCK_MONOTONIC ns of the missed deadline> end_ns=<wake-up> us=<late by>
 * and on SIGINT/SIGTERM a last line:
 *   summary seconds=<watched> stalls=<n> longest_us=<max> late_p99_us=<of every wake-up>
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void
on_signal (int sig)
{
  (void) sig;
  stop = 1;
}

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* late-by histogram in 10 us bins up to 100 ms, for the p99 */
#define BIN_US 10
#define N_BINS 10000

int
main (int argc, char **argv)
{
  gchar *out_path = NULL;
  gint threshold_us = 2000, period_us = 1000;
  GOptionEntry entries[] = {
    {"out", 0, 0, G_OPTION_ARG_FILENAME, &out_path, "Where to write the stalls", "FILE"},
    {"threshold-us", 0, 0, G_OPTION_ARG_INT, &threshold_us,
        "A wake-up this late is a stall (default 2000)", "US"},
    {"period-us", 0, 0, G_OPTION_ARG_INT, &period_us,
        "Time between deadlines (default 1000)", "US"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- record host stalls");
  g_autoptr (GError) error = NULL;
  g_autofree guint64 *bins = g_new0 (guint64, N_BINS);
  struct sigaction sa = { 0 };
  guint64 wakeups = 0, stalls = 0, seen = 0;
  gint64 start, deadline, longest_us = 0;
  gint p99_bin = 0;
  FILE *out;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || out_path == NULL ||
      threshold_us <= 0 || period_us <= 0) {
    g_printerr ("host-stall-monitor: %s\n", error != NULL ? error->message :
        "--out FILE is needed; --threshold-us and --period-us above 0");
    return 2;
  }
  out = fopen (out_path, "w");
  if (out == NULL) {
    g_printerr ("host-stall-monitor: %s: %s\n", out_path, g_strerror (errno));
    return 1;
  }
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  start = deadline = now_ns ();
  while (!stop) {
    struct timespec ts;
    gint64 woke, late_us;

    deadline += (gint64) period_us * 1000;
    ts.tv_sec = deadline / 1000000000;
    ts.tv_nsec = deadline % 1000000000;
    if (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
      continue;
    woke = now_ns ();
    late_us = (woke - deadline) / 1000;
    wakeups++;
    bins[MIN (MAX (late_us, 0) / BIN_US, N_BINS - 1)]++;
    if (late_us >= threshold_us) {
      stalls++;
      longest_us = MAX (longest_us, late_us);
      fprintf (out, "stall start_ns=%" G_GINT64_FORMAT " end_ns=%" G_GINT64_FORMAT
          " us=%" G_GINT64_FORMAT "\n", deadline, woke, late_us);
      fflush (out);
    }
    /* a stall spans many deadlines: start again from now rather than catching up */
    if (woke - deadline > (gint64) period_us * 1000)
      deadline = woke;
  }
  for (p99_bin = 0; p99_bin < N_BINS; p99_bin++) {
    seen += bins[p99_bin];
    if (seen * 100 >= wakeups * 99)
      break;
  }
  fprintf (out, "summary seconds=%.1f stalls=%" G_GUINT64_FORMAT " longest_us=%"
      G_GINT64_FORMAT " late_p99_us=%d\n", (now_ns () - start) / 1e9, stalls, longest_us,
      (p99_bin + 1) * BIN_US);
  fclose (out);
  g_free (out_path);
  return 0;
}
