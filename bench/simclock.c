/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * simclock.c: the sync benchmark's simulated session clock as a GstClock.
 *
 * GstClock's calibration maps its internal time to the time it reports as
 *
 *   external = (internal - cinternal) * num / denom + cexternal
 *
 * and a GstSystemClock of type MONOTONIC has internal = CLOCK_MONOTONIC. With
 * num / denom = 1 + skew_ppm * 1e-6 (denom 1e12, so the rate is exact to 1e-6 ppm) and
 * (cinternal, cexternal) = (0, offset_ns), external = S(h) = h + offset_ns +
 * h * skew_ppm * 1e-6. A negative offset cannot be a (unsigned) cexternal, so then the
 * calibration is anchored at the current internal time h0 instead: (h0, S(h0)), which is
 * the same line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "simclock.h"

#include <gio/gio.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_DENOM G_GUINT64_CONSTANT (1000000000000)

gboolean
echo_sim_clock_parse (const char *value, gint64 * offset_ns, double *skew_ppm,
    GError ** error)
{
  const char *colon;
  g_autofree gchar *offset_str = NULL;
  gchar *end = NULL;
  gint64 offset;
  double skew;

  *offset_ns = 0;
  *skew_ppm = 0.0;
  if (value == NULL || value[0] == '\0')
    return TRUE;

  colon = strchr (value, ':');
  if (colon == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "simulated clock '%s' is not OFFSET_NS:SKEW_PPM", value);
    return FALSE;
  }

  offset_str = g_strndup (value, colon - value);
  errno = 0;
  offset = g_ascii_strtoll (offset_str, &end, 10);
  if (offset_str[0] == '\0' || *end != '\0' || errno != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "simulated clock '%s': offset '%s' is not an integer number of ns",
        value, offset_str);
    return FALSE;
  }

  errno = 0;
  skew = g_ascii_strtod (colon + 1, &end);
  if (colon[1] == '\0' || *end != '\0' || errno != 0 || !isfinite (skew)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "simulated clock '%s': skew '%s' is not a number of ppm", value,
        colon + 1);
    return FALSE;
  }
  if (fabs (skew) > ECHO_SIM_CLOCK_MAX_SKEW_PPM) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "simulated clock '%s': |skew| must be at most %.0f ppm", value,
        ECHO_SIM_CLOCK_MAX_SKEW_PPM);
    return FALSE;
  }

  *offset_ns = offset;
  *skew_ppm = skew;
  return TRUE;
}

gint64
echo_sim_clock_map (gint64 offset_ns, double skew_ppm, guint64 monotonic_ns)
{
  return (gint64) monotonic_ns + offset_ns +
      (gint64) llround ((double) monotonic_ns * skew_ppm * 1e-6);
}

guint64
echo_sim_clock_monotonic_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) +
      (guint64) ts.tv_nsec;
}

GstClock *
echo_sim_clock_new_from_env (const char *env_value, GError ** error)
{
  GstClock *clock;
  gint64 offset_ns;
  double skew_ppm;
  GstClockTime num;

  if (!echo_sim_clock_parse (env_value, &offset_ns, &skew_ppm, error))
    return NULL;

  clock = g_object_new (GST_TYPE_SYSTEM_CLOCK, "clock-type",
      GST_CLOCK_TYPE_MONOTONIC, "name", "echo-sim-clock", NULL);
  /* g_object_new () returns a floating GstObject: own it */
  gst_object_ref_sink (clock);

  if (offset_ns == 0 && skew_ppm == 0.0)
    return clock;

  num = (GstClockTime) ((gint64) RATE_DENOM + llround (skew_ppm * 1e6));
  if (offset_ns >= 0) {
    gst_clock_set_calibration (clock, 0, (GstClockTime) offset_ns, num,
        RATE_DENOM);
  } else {
    GstClockTime h0 = gst_clock_get_internal_time (clock);
    gint64 s0 = echo_sim_clock_map (offset_ns, skew_ppm, h0);

    if (s0 < 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "simulated clock '%s': offset %" G_GINT64_FORMAT " ns makes the "
          "clock negative now (monotonic time is only %" G_GUINT64_FORMAT
          " ns)", env_value, offset_ns, (guint64) h0);
      gst_object_unref (clock);
      return NULL;
    }
    gst_clock_set_calibration (clock, h0, (GstClockTime) s0, num, RATE_DENOM);
  }
  return clock;
}

gint64
echo_sim_clock_self_check (const char *env_value, guint rounds, GError ** error)
{
  g_autoptr (GstClock) clock = NULL;
  gint64 offset_ns;
  double skew_ppm;
  gint64 worst = 0;
  guint i;

  if (!echo_sim_clock_parse (env_value, &offset_ns, &skew_ppm, error))
    return -1;
  clock = echo_sim_clock_new_from_env (env_value, error);
  if (clock == NULL)
    return -1;

  for (i = 0; i < rounds; i++) {
    guint64 h1, h2;
    GstClockTime t;
    gint64 expected, diff;

    h1 = echo_sim_clock_monotonic_now ();
    t = gst_clock_get_time (clock);
    h2 = echo_sim_clock_monotonic_now ();
    expected = echo_sim_clock_map (offset_ns, skew_ppm, h1 + (h2 - h1) / 2);
    /* the read itself happened somewhere in [h1, h2], normally a few hundred ns wide;
     * a round preempted in between says nothing */
    diff = (gint64) t - expected;
    if (h2 - h1 <= 2 * GST_USECOND)
      worst = MAX (worst, ABS (diff));
    if (i + 1 < rounds)
      g_usleep (1000);
  }
  return worst;
}
