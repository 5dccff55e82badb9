/* The resampling control law of echoclocksink (see echosteer.h). */
#include "echosteer.h"

#include <math.h>

/* The device rate is measured once this much session time is covered. */
#define MIN_SPAN_NS 300e6

void
echo_steer_init (EchoSteer * s, double rate_in, double rate_out, double max_correction)
{
  s->rate_in = rate_in;
  s->rate_out = rate_out;
  /* position errors decay with a 0.25 s time constant: fast enough to follow the
   * session clock's slewing (at most 200 ppm: 50 us behind), slow enough that measurement
   * noise moves the pitch by a few ppm only. No integral term: the measured device rate
   * already removes the steady drift, and an integral would only add a slow overshoot */
  s->kp = 4.0;
  s->max_correction = max_correction;
  echo_steer_reset (s);
}

void
echo_steer_reset (EchoSteer * s)
{
  s->head = s->count = 0;
  s->device_rate = 0;
  s->correction = 0;
  s->ratio = s->rate_in / s->rate_out;
}

static void
fit_device_rate (EchoSteer * s)
{
  double mt = 0, mp = 0, stt = 0, stp = 0, span, slope;
  guint i, first = (s->head + ECHO_STEER_HISTORY - s->count) % ECHO_STEER_HISTORY;

  span = s->t[(s->head + ECHO_STEER_HISTORY - 1) % ECHO_STEER_HISTORY] - s->t[first];
  if (s->count < 8 || span < MIN_SPAN_NS)
    return;
  /* centred sums: the window is seconds long, the timeline may be hours */
  for (i = 0; i < s->count; i++) {
    guint k = (first + i) % ECHO_STEER_HISTORY;
    mt += s->t[k];
    mp += s->pos[k];
  }
  mt /= s->count;
  mp /= s->count;
  for (i = 0; i < s->count; i++) {
    guint k = (first + i) % ECHO_STEER_HISTORY;
    stt += (s->t[k] - mt) * (s->t[k] - mt);
    stp += (s->t[k] - mt) * (s->pos[k] - mp);
  }
  slope = stp / stt;            /* samples per ns */
  /* a measurement far from nominal is a glitch, not a crystal */
  if (fabs (slope * 1e9 / s->rate_out - 1) < 0.01)
    s->device_rate = slope * 1e9;
}

double
echo_steer_update (EchoSteer * s, double session_ns, double device_pos, double error_ns)
{
  double base, u;

  if (s->count == 0) {
    s->t0 = session_ns;
    s->pos0 = device_pos;
  }
  s->t[s->head] = session_ns - s->t0;
  s->pos[s->head] = device_pos - s->pos0;
  s->head = (s->head + 1) % ECHO_STEER_HISTORY;
  if (s->count < ECHO_STEER_HISTORY)
    s->count++;
  fit_device_rate (s);

  u = s->kp * (error_ns / 1e9);
  s->correction = CLAMP (u, -s->max_correction, s->max_correction);
  base = s->device_rate > 0 ? s->device_rate : s->rate_out;
  s->ratio = s->rate_in / base * (1 + s->correction);
  return s->ratio;
}

double
echo_steer_drift_ppm (const EchoSteer * s)
{
  return s->device_rate > 0 ? (s->device_rate / s->rate_out - 1) * 1e6 : 0;
}
