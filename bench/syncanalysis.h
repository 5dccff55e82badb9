/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * syncanalysis.h: how far from the ideal timeline each receiver rendered the sync signal
 * (bench/syncsignal.h), from echosimsink recordings. sync-analyze prints it; the method is
 * described in docs/tools/sync-analyze.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "syncrec.h"

G_BEGIN_DECLS

/* The signal repeats every 1536 samples at 48 kHz: 32 ms. */
#define ECHO_SYNC_SIGNAL_PERIOD_NS G_GINT64_CONSTANT (32000000)

/* A span during which the host ran no thread (bench/host-stall-monitor), host ns. */
typedef struct
{
  gint64 start_ns;
  gint64 end_ns;
} EchoSyncStall;

typedef struct
{
  /* the ideal timeline: source sample k plays at session time
   * anchor_capture_ns + (k - anchor_index) / 48000 s + latency_ns, where session time is
   * S(h) = h + session_offset_ns + h * session_skew_ppm * 1e-6 for CLOCK_MONOTONIC h */
  gint64 anchor_index;
  gint64 anchor_capture_ns;
  gint64 latency_ns;
  gint64 session_offset_ns;
  gdouble session_skew_ppm;

  gdouble window_ms;            /* window length (recorded frames) */
  gdouble glitch_threshold;     /* residual ratio above which a window is a glitch */
  gdouble jump_us;              /* change of delay between windows that is a glitch */
  gdouble silence_rms;          /* windows quieter than this are silent */

  /* host stalls (not owned; may be NULL): a glitch that starts between a stall's start and
   * its end + stall_margin_ns is counted in stall_glitches as well, and windows in that
   * span do not count in the offset figures (the host played them, not the receiver) */
  const EchoSyncStall *stalls;
  guint n_stalls;
  gint64 stall_margin_ns;       /* default 100 ms: a device refills after the stall */
} EchoSyncParams;

void echo_sync_params_init (EchoSyncParams * params);

typedef struct
{
  guint64 first_frame;          /* in the recording */
  gint64 start_ns;              /* host time of its first frame */
  gint64 centre_ns;             /* halfway between its first and last frame */
  gint64 end_ns;                /* host time of its last frame */
  gdouble rms;                  /* of the rendered samples */
  gdouble d_us;                 /* timing error, > 0 = plays late; NaN if silent or unfit */
  gdouble d1_us;                /* 1000 Hz delay, in (-500, 500] us */
  gdouble d2_us;                /* 93.75 Hz delay, in (-5333, 5333] us */
  gdouble amplitude1, amplitude2;
  gdouble residual;             /* rms (v - fit) / rms (fit); NaN if silent or unfit */
  gboolean silent;
  gboolean gap;                 /* a block starting in it follows an underrun or reset */
  gboolean jump;                /* its delay jumped */
  gboolean bad;                 /* silent, unfit, residual, gap or jump: a glitch window */
  gboolean stalled;             /* overlaps a host stall or its margin (params.stalls) */
} EchoSyncWindow;

typedef struct
{
  gchar *name;
  gint64 join_ns;               /* the recording's open_host_ns */
  guint window_frames;
  GArray *windows;              /* EchoSyncWindow, every full window of the recording */
  guint n_analysed;             /* windows up to the last good one (then: end of stream) */
  gint first_audio;             /* first non-silent window, -1 if none */

  gint converge_1ms;            /* window index: the first good window from which the
                                 * receiver stays within 1 ms for 5 s; -1 = never */
  gint settled;                 /* where offsets are counted from: converge_1ms, or for a
                                 * receiver that never gets within 1 ms, 5 s after its
                                 * first audio (so a poor receiver still has figures) */
  gint converge_100us;
  gdouble converge_1ms_ms;      /* its centre - join_ns, ms; INFINITY if never */
  gdouble converge_100us_ms;
  guint glitches;               /* runs of bad windows from converge_1ms on */
  guint glitch_windows;         /* bad windows in those runs */
  guint stall_glitches;         /* of the glitches, those that began in a host stall */

  guint good_windows;           /* after converge_1ms and not bad: the statistics below */
  gdouble median_d_us;          /* NaN without good windows */
  gdouble e2e_ms;               /* latency_ns + median_d_us */
  gdouble abs_mean_us;
  gdouble abs_p50_us;
  gdouble abs_p99_us;
  gdouble abs_max_us;
} EchoSyncReceiver;

/* Analyses one recording (its first channel). Never fails: an unusable recording is all
 * bad windows and never converges. */
EchoSyncReceiver *echo_sync_analyse (const EchoSyncRec * rec,
    const gchar * name, const EchoSyncParams * params);
void echo_sync_receiver_free (EchoSyncReceiver * receiver);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoSyncReceiver, echo_sync_receiver_free);

/* Whether window @i counts: analysed, at or after converge_1ms, not bad and not in a
 * host stall. */
gboolean echo_sync_receiver_window_usable (const EchoSyncReceiver * receiver,
    guint i);

/* The receiver's delay at @host_ns, interpolated linearly between the centres of the two
 * usable windows around it; FALSE where there are none. */
gboolean echo_sync_receiver_d_at (const EchoSyncReceiver * receiver,
    gint64 host_ns, gdouble * d_us);

typedef struct
{
  gboolean single;              /* one receiver: the statistics are its own |d| */
  guint n;                      /* pooled samples */
  gdouble p50_us, p99_us, max_us;       /* NaN when n == 0 */
  gdouble converge_1ms_ms;      /* max over receivers; INFINITY if any never converged */
  gdouble converge_100us_ms;
  guint glitches;               /* sum */
  guint stall_glitches;         /* sum */
} EchoSyncSummary;

/* Inter-receiver offsets: for each pair (a, b), a < b, |d_a - d_b| at a's usable window
 * centres, b interpolated (echo_sync_receiver_d_at), pooled over all pairs. */
void echo_sync_summarise (EchoSyncReceiver * const *receivers, guint n,
    EchoSyncSummary * summary);

/* The p-quantile (0..1) of @values, linear between order statistics; sorts @values. */
gdouble echo_sync_percentile (gdouble * values, guint n, gdouble p);

G_END_DECLS
