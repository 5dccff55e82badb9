/* echo-clock.c: scaled wall and monotonic clocks (see echo-clock.h). */
#include "echo-clock.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

typedef struct
{
  double scale;
  gint64 base_monotonic_us; /* real monotonic time when the scale took effect */
  gint64 base_wall_us;      /* real wall time at that same moment */
} EchoClockState;

static EchoClockState clock_state;

static double
parse_time_scale (const char *text)
{
  char *end = NULL;
  double value;

  if (text == NULL || *text == '\0')
    return 1.0;
  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite (value) || value <= 0.0)
    {
      g_warning ("ECHO_TEST_TIME_SCALE=%s is not a number > 0; time runs at normal speed", text);
      return 1.0;
    }
  return value;
}

static const EchoClockState *
clock_get_state (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      clock_state.scale = parse_time_scale (g_getenv ("ECHO_TEST_TIME_SCALE"));
      clock_state.base_monotonic_us = g_get_monotonic_time ();
      clock_state.base_wall_us = g_get_real_time ();
      g_once_init_leave (&initialised, 1);
    }
  return &clock_state;
}

/* Time elapsed since the base, scaled; only meaningful when scale != 1. */
static gint64
scaled_elapsed_us (const EchoClockState *state)
{
  gint64 elapsed = g_get_monotonic_time () - state->base_monotonic_us;

  return (gint64) ((double) elapsed * state->scale);
}

double
echo_clock_time_scale (void)
{
  return clock_get_state ()->scale;
}

gint64
echo_clock_monotonic_us (void)
{
  const EchoClockState *state = clock_get_state ();

  if (state->scale == 1.0)
    return g_get_monotonic_time ();
  return state->base_monotonic_us + scaled_elapsed_us (state);
}

gint64
echo_clock_now_us (void)
{
  const EchoClockState *state = clock_get_state ();

  /* Unscaled, follow the real wall clock (NTP adjustments included). */
  if (state->scale == 1.0)
    return g_get_real_time ();
  return state->base_wall_us + scaled_elapsed_us (state);
}

gint64
echo_clock_now_ms (void)
{
  return echo_clock_now_us () / 1000;
}
