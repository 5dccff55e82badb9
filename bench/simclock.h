/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * simclock.h: the sync benchmark's simulated "other host" session clock.
 *
 * Every process of the benchmark runs on one host, so to give clock-rate estimation
 * something to estimate, the sender's session clock is a simulated clock of another host:
 *
 *   S(h) = h + offset_ns + h * skew_ppm * 1e-6
 *
 * where h is CLOCK_MONOTONIC in ns. Echo's relay reads it from the environment variable
 * ECHO_SESSION_CLOCK_SIM="OFFSET_NS:SKEW_PPM"; the stock-GStreamer baseline sender builds
 * the same clock as a GstClock with echo_sim_clock_new_from_env().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define ECHO_SIM_CLOCK_ENV "ECHO_SESSION_CLOCK_SIM"

/* Largest accepted |skew_ppm|: 10 %, far beyond any real oscillator. */
#define ECHO_SIM_CLOCK_MAX_SKEW_PPM 100000.0

/* Parses "OFFSET_NS:SKEW_PPM" (e.g. "-2500000000:37.5"). NULL or "" is the identity clock
 * (0, 0). Returns FALSE with @error set on malformed input. */
gboolean echo_sim_clock_parse (const char *value, gint64 * offset_ns,
    double *skew_ppm, GError ** error);

/* S(h) for the monotonic time @monotonic_ns, as the GstClock from
 * echo_sim_clock_new_from_env() computes it (to within a nanosecond). */
gint64 echo_sim_clock_map (gint64 offset_ns, double skew_ppm,
    guint64 monotonic_ns);

/* CLOCK_MONOTONIC now, in ns. */
guint64 echo_sim_clock_monotonic_now (void);

/* A new (non-singleton) monotonic GstSystemClock calibrated to read S(h). NULL or ""
 * gives a plain monotonic system clock. NULL with @error set on malformed input or on an
 * offset so negative that S(now) < 0. Free with gst_object_unref(). */
GstClock *echo_sim_clock_new_from_env (const char *env_value, GError ** error);

/* Checks a clock from echo_sim_clock_new_from_env(@env_value) against S(CLOCK_MONOTONIC)
 * @rounds times; returns the largest |difference| in ns seen, or -1 with @error set. */
gint64 echo_sim_clock_self_check (const char *env_value, guint rounds,
    GError ** error);

G_END_DECLS
