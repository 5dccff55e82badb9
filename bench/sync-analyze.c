/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * sync-analyze: how closely receivers rendered the sync signal to its ideal timeline, from
 * their echosimsink recordings. The analysis is in syncanalysis.c; this parses options and
 * prints. See docs/tools/sync-analyze.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncanalysis.h"

#define EXIT_USAGE 1
#define EXIT_BAD_INPUT 2

/* Numbers as the machine lines spell them: inf and nan without sign or padding. */
static gchar *
num (gdouble x, gint decimals)
{
  if (isnan (x))
    return g_strdup ("nan");
  if (isinf (x))
    return g_strdup (x > 0 ? "inf" : "-inf");
  return g_strdup_printf ("%.*f", decimals, x);
}

static void
print_table (EchoSyncReceiver * const *rx, guint n, const EchoSyncSummary * s)
{
  guint i;

  printf ("%-16s %10s %10s %8s %6s %10s %9s %9s %9s %9s %8s\n", "receiver",
      "conv<1ms", "conv<100us", "glitches", "stall", "e2e", "|d| mean", "p50", "p99",
      "max", "windows");
  printf ("%-16s %10s %10s %8s %6s %10s %9s %9s %9s %9s %8s\n", "", "ms", "ms",
      "", "(of)", "ms", "us", "us", "us", "us", "used");
  for (i = 0; i < n; i++) {
    const EchoSyncReceiver *r = rx[i];
    g_autofree gchar *c1 = num (r->converge_1ms_ms, 1);
    g_autofree gchar *c2 = num (r->converge_100us_ms, 1);
    g_autofree gchar *e2e = num (r->e2e_ms, 3);
    g_autofree gchar *mean = num (r->abs_mean_us, 2);
    g_autofree gchar *p50 = num (r->abs_p50_us, 2);
    g_autofree gchar *p99 = num (r->abs_p99_us, 2);
    g_autofree gchar *max = num (r->abs_max_us, 2);

    printf ("%-16s %10s %10s %8u %6u %10s %9s %9s %9s %9s %8u\n", r->name, c1, c2,
        r->glitches, r->stall_glitches, e2e, mean, p50, p99, max, r->good_windows);
  }
  printf ("(convergence is counted from when each receiver opened its device; "
      "|d| after convergence, glitch windows excluded; \"stall\": glitches that began "
      "during a host stall, --host-stalls)\n\n");
  {
    g_autofree gchar *p50 = num (s->p50_us, 2);
    g_autofree gchar *p99 = num (s->p99_us, 2);
    g_autofree gchar *max = num (s->max_us, 2);

    if (s->single)
      printf ("single recording: no pairs; the pairs line below shows the "
          "receiver's own |d| (%u windows): p50 %s us, p99 %s us, max %s us\n\n",
          s->n, p50, p99, max);
    else
      printf ("inter-receiver offset |d_a - d_b|, %u pairs, %u samples: "
          "p50 %s us, p99 %s us, max %s us\n\n", n * (n - 1) / 2, s->n, p50,
          p99, max);
  }
}

static void
print_machine_lines (EchoSyncReceiver * const *rx, guint n,
    const EchoSyncSummary * s)
{
  guint i;

  for (i = 0; i < n; i++) {
    const EchoSyncReceiver *r = rx[i];
    g_autofree gchar *c1 = num (r->converge_1ms_ms, 3);
    g_autofree gchar *c2 = num (r->converge_100us_ms, 3);
    g_autofree gchar *e2e = num (r->e2e_ms, 6);
    g_autofree gchar *p99 = num (r->abs_p99_us, 3);
    g_autofree gchar *p50 = num (r->abs_p50_us, 3);
    g_autofree gchar *mean = num (r->abs_mean_us, 3);
    g_autofree gchar *max = num (r->abs_max_us, 3);

    printf ("receiver name=%s converge1ms=%s converge100us=%s glitches=%u "
        "stall_glitches=%u e2e_ms=%s p99_abs_us=%s mean_abs_us=%s p50_abs_us=%s "
        "max_abs_us=%s windows=%u\n", r->name, c1, c2, r->glitches, r->stall_glitches,
        e2e, p99, mean, p50, max, r->good_windows);
  }
  {
    g_autofree gchar *p50 = num (s->p50_us, 3);
    g_autofree gchar *p99 = num (s->p99_us, 3);
    g_autofree gchar *max = num (s->max_us, 3);
    g_autofree gchar *c1 = num (s->converge_1ms_ms, 3);
    g_autofree gchar *c2 = num (s->converge_100us_ms, 3);

    printf ("pairs p50=%s p99=%s max=%s converge1ms=%s converge100us=%s "
        "glitches=%u stall_glitches=%u\n", p50, p99, max, c1, c2, s->glitches,
        s->stall_glitches);
  }
}

/* The "stall start_ns=A end_ns=B ..." lines of a host-stall-monitor file. */
static GArray *
load_stalls (const gchar * path, GError ** error)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GArray) stalls = g_array_new (FALSE, FALSE, sizeof (EchoSyncStall));
  guint i;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++) {
    EchoSyncStall stall;

    if (!g_str_has_prefix (lines[i], "stall "))
      continue;
    if (sscanf (lines[i], "stall start_ns=%" G_GINT64_FORMAT " end_ns=%"
            G_GINT64_FORMAT, &stall.start_ns, &stall.end_ns) != 2 ||
        stall.end_ns < stall.start_ns) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "%s:%u: not a stall line: %s", path, i + 1, lines[i]);
      return NULL;
    }
    g_array_append_val (stalls, stall);
  }
  return g_steal_pointer (&stalls);
}

static gboolean
write_csv (const gchar * path, EchoSyncReceiver * const *rx, guint n,
    GError ** error)
{
  FILE *f = fopen (path, "w");
  guint i, k;
  gboolean ok;

  if (f == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s: cannot create: %s", path, g_strerror (errno));
    return FALSE;
  }
  fprintf (f, "receiver,window,host_ns,t_ms,d_us,d1_us,d2_us,residual,rms,"
      "silent,gap,jump,bad,usable\n");
  for (i = 0; i < n; i++) {
    const EchoSyncReceiver *r = rx[i];

    for (k = 0; k < r->windows->len; k++) {
      const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, k);
      g_autofree gchar *d = num (w->d_us, 4);
      g_autofree gchar *d1 = num (w->d1_us, 4);
      g_autofree gchar *d2 = num (w->d2_us, 4);
      g_autofree gchar *res = num (w->residual, 6);

      fprintf (f, "%s,%u,%" G_GINT64_FORMAT ",%.3f,%s,%s,%s,%s,%.6f,%d,%d,%d,"
          "%d,%d\n", r->name, k, w->centre_ns,
          (w->centre_ns - r->join_ns) / 1e6, d, d1, d2, res, w->rms,
          w->silent, w->gap, w->jump, w->bad,
          echo_sync_receiver_window_usable (r, k));
    }
  }
  ok = !ferror (f);
  if (fclose (f) != 0)
    ok = FALSE;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s: write failed", path);
  return ok;
}

int
main (int argc, char **argv)
{
  EchoSyncParams params;
  gint64 anchor_capture = G_MININT64;
  g_autofree gchar *csv = NULL;
  g_autofree gchar *stalls_path = NULL;
  g_autoptr (GArray) stalls = NULL;
  g_autofree gchar *names_arg = NULL;
  g_auto (GStrv) files = NULL;
  g_auto (GStrv) names = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) receivers =
      g_ptr_array_new_with_free_func ((GDestroyNotify) echo_sync_receiver_free);
  EchoSyncSummary summary;
  guint n, i;

  echo_sync_params_init (&params);
  {
    GOptionEntry entries[] = {
      {"anchor-index", 0, 0, G_OPTION_ARG_INT64, &params.anchor_index,
          "Source sample index k0 of the anchor (default 0)", "K0"},
      {"anchor-capture-ns", 0, 0, G_OPTION_ARG_INT64, &anchor_capture,
          "Session time at which sample k0 was captured (required)", "C0"},
      {"latency-ns", 0, 0, G_OPTION_ARG_INT64, &params.latency_ns,
          "Target latency L: sample k0 should play at C0 + L", "L"},
      {"session-offset-ns", 0, 0, G_OPTION_ARG_INT64,
            &params.session_offset_ns,
          "Session time minus CLOCK_MONOTONIC at host time 0", "NS"},
      {"session-skew-ppm", 0, 0, G_OPTION_ARG_DOUBLE, &params.session_skew_ppm,
          "How fast the session clock runs against CLOCK_MONOTONIC", "PPM"},
      {"window-ms", 0, 0, G_OPTION_ARG_DOUBLE, &params.window_ms,
          "Analysis window, ms of recorded audio (default 10)", "MS"},
      {"glitch-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &params.glitch_threshold,
          "Residual ratio above which a window is a glitch (default 0.1)",
          "RATIO"},
      {"jump-us", 0, 0, G_OPTION_ARG_DOUBLE, &params.jump_us,
          "Delay change between windows that is a glitch (default 20)", "US"},
      {"host-stalls", 0, 0, G_OPTION_ARG_FILENAME, &stalls_path,
          "bench/host-stall-monitor output: count the glitches that began in "
            "a host stall apart", "FILE"},
      {"csv", 0, 0, G_OPTION_ARG_FILENAME, &csv,
          "Write the per-window series to this CSV file", "PATH"},
      {"names", 0, 0, G_OPTION_ARG_STRING, &names_arg,
          "Receiver names, comma-separated, in the order of the recordings",
          "A,B,..."},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL,
          "RECORDING..."},
      {NULL}
    };

    ctx = g_option_context_new ("RECORDING... - timing error of rendered "
        "sync signal");
    g_option_context_set_summary (ctx, "Reads echosimsink recordings of the "
        "sync signal (bench/syncsignal.h) and prints, per receiver, when it "
        "converged, its glitches, latency and timing error, and the offsets "
        "between receivers. Exit status: 0 done, 1 bad usage, 2 unreadable "
        "recording.");
    g_option_context_add_main_entries (ctx, entries, NULL);
    if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
      g_printerr ("sync-analyze: %s\n", error->message);
      return EXIT_USAGE;
    }
  }
  if (files == NULL || files[0] == NULL) {
    g_printerr ("sync-analyze: no recordings given (see --help)\n");
    return EXIT_USAGE;
  }
  if (anchor_capture == G_MININT64) {
    g_printerr ("sync-analyze: --anchor-capture-ns is required\n");
    return EXIT_USAGE;
  }
  params.anchor_capture_ns = anchor_capture;
  if (!(params.window_ms > 0) || !(params.jump_us > 0) ||
      !(params.glitch_threshold > 0)) {
    g_printerr ("sync-analyze: --window-ms, --jump-us and --glitch-threshold "
        "must be positive\n");
    return EXIT_USAGE;
  }
  if (stalls_path != NULL) {
    stalls = load_stalls (stalls_path, &error);
    if (stalls == NULL) {
      g_printerr ("sync-analyze: %s\n", error->message);
      return EXIT_BAD_INPUT;
    }
    params.stalls = (const EchoSyncStall *) stalls->data;
    params.n_stalls = stalls->len;
  }
  n = g_strv_length (files);
  if (names_arg) {
    names = g_strsplit (names_arg, ",", -1);
    if (g_strv_length (names) != n) {
      g_printerr ("sync-analyze: %u names for %u recordings\n",
          g_strv_length (names), n);
      return EXIT_USAGE;
    }
    for (i = 0; i < n; i++) {
      if (names[i][0] == '\0' || strpbrk (names[i], " \t\n=") != NULL) {
        g_printerr ("sync-analyze: bad name \"%s\" (no spaces or '=')\n",
            names[i]);
        return EXIT_USAGE;
      }
    }
  }

  for (i = 0; i < n; i++) {
    g_autoptr (EchoSyncRec) rec = echo_sync_rec_load (files[i],
        ECHO_SYNC_REC_LOAD_FIRST_CHANNEL, &error);
    g_autofree gchar *base = NULL;

    if (rec == NULL) {
      g_printerr ("sync-analyze: %s\n", error->message);
      return EXIT_BAD_INPUT;
    }
    if (names == NULL) {
      gchar *space;

      base = g_path_get_basename (files[i]);
      while ((space = strpbrk (base, " \t\n=")) != NULL)
        *space = '_';
    }
    g_ptr_array_add (receivers, echo_sync_analyse (rec,
            names ? names[i] : base, &params));
  }

  echo_sync_summarise ((EchoSyncReceiver * const *) receivers->pdata, n,
      &summary);
  print_table ((EchoSyncReceiver * const *) receivers->pdata, n, &summary);
  print_machine_lines ((EchoSyncReceiver * const *) receivers->pdata, n,
      &summary);
  if (csv && !write_csv (csv, (EchoSyncReceiver * const *) receivers->pdata,
          n, &error)) {
    g_printerr ("sync-analyze: %s\n", error->message);
    return EXIT_USAGE;
  }
  return 0;
}
