/* Remote clock estimation from one-way delay envelopes (see echoclockest.h). */
#include "echoclockest.h"

#include <math.h>

/* How long samples are kept: long windows make the rate exact, and a crystal's rate
 * wanders only slowly (well under 1 ppm per minute). */
#define WINDOW_NS (120 * G_GUINT64_CONSTANT (1000000000))
/* How far back the offset minima look once the rate is known: a third of the time
 * covered, between 5 and 30 s. More samples make each minimum closer to the path's
 * floor, but every second of age multiplies the rate's remaining error, which shrinks
 * as the span grows; with 5 +- 5 ms of jitter a fixed 10 s window left receivers ~40 us
 * apart (p99), this rule ~13 us (simulated, 300 s). The 5 s floor matters in the first
 * half minute, when the rate is still a few ppm off (worst offset error from 8 s on,
 * 12 simulated receivers: 70 us with a 10 s floor, 48 us with 5 s). */
#define OFFSET_WINDOW_MIN_NS (5 * G_GUINT64_CONSTANT (1000000000))
#define OFFSET_WINDOW_MAX_NS (30 * G_GUINT64_CONSTANT (1000000000))
#define OFFSET_WINDOW_SPAN_DIVISOR 3
#define MAX_POINTS 32768
/* The rate is trusted once this much time is covered: 3 s on a path with milliseconds of
 * jitter, proportionally less on a quiet one (a LAN, loopback), never under 300 ms. */
#define RATE_MIN_SPAN_NS (3 * G_GUINT64_CONSTANT (1000000000))
#define RATE_MIN_SPAN_FLOOR_NS (300 * G_GUINT64_CONSTANT (1000000))
#define RATE_JITTER_REF_NS 5e6
#define MIN_POINTS_PER_DIRECTION 4

typedef struct {
  guint64 t;                    /* local time */
  gint64 y;                     /* one-way delay as seen with the two clocks */
} Point;

typedef struct {
  GArray *points;               /* Point, in arrival order (t almost always increasing) */
} Cloud;

struct _EchoClockEstimator {
  Cloud forward;
  Cloud backward;
};

static void
cloud_init (Cloud * c)
{
  c->points = g_array_new (FALSE, FALSE, sizeof (Point));
}

static void
cloud_add (Cloud * c, guint64 t, gint64 y)
{
  Point p = { t, y };
  guint drop = 0;

  g_array_append_val (c->points, p);
  while (drop < c->points->len &&
      (c->points->len - drop > MAX_POINTS ||
          t - g_array_index (c->points, Point, drop).t > WINDOW_NS))
    drop++;
  if (drop)
    g_array_remove_range (c->points, 0, drop);
}

EchoClockEstimator *
echo_clock_estimator_new (void)
{
  EchoClockEstimator *est = g_new0 (EchoClockEstimator, 1);

  cloud_init (&est->forward);
  cloud_init (&est->backward);
  return est;
}

void
echo_clock_estimator_free (EchoClockEstimator * est)
{
  if (!est)
    return;
  g_array_unref (est->forward.points);
  g_array_unref (est->backward.points);
  g_free (est);
}

void
echo_clock_estimator_reset (EchoClockEstimator * est)
{
  g_array_set_size (est->forward.points, 0);
  g_array_set_size (est->backward.points, 0);
}

void
echo_clock_estimator_add_forward (EchoClockEstimator * est, guint64 local_rx,
    guint64 remote_tx)
{
  cloud_add (&est->forward, local_rx, (gint64) (local_rx - remote_tx));
}

void
echo_clock_estimator_add_backward (EchoClockEstimator * est, guint64 local_tx,
    guint64 remote_rx)
{
  cloud_add (&est->backward, local_tx, (gint64) (remote_rx - local_tx));
}

/* Slope (ns per ns) of the line under every point of @c that is highest at the points'
 * mean time: the lower-hull edge spanning that time. Coordinates are taken relative to
 * (t0, y0) so doubles keep sub-nanosecond precision. */
static gboolean
cloud_envelope_slope (const Cloud * c, double *slope)
{
  guint n = c->points->len, i, h = 0;
  const Point *pts = (const Point *) c->points->data;
  double *hx, *hy, mean_t = 0;
  guint64 t0;
  gint64 y0;
  gboolean found = FALSE;

  if (n < 2)
    return FALSE;
  t0 = pts[0].t;
  y0 = pts[0].y;
  hx = g_new (double, n);
  hy = g_new (double, n);
  /* Andrew's monotone chain, lower hull; points arrive in time order, and the rare one
   * that does not (reordered clock reads) is skipped rather than sorted. */
  for (i = 0; i < n; i++) {
    double x = (double) (gint64) (pts[i].t - t0);
    double y = (double) (pts[i].y - y0);

    mean_t += x;
    if (h > 0 && x <= hx[h - 1]) {
      if (x == hx[h - 1] && y < hy[h - 1])
        hy[h - 1] = y;
      continue;
    }
    while (h >= 2 &&
        (hx[h - 1] - hx[h - 2]) * (y - hy[h - 2]) -
        (hy[h - 1] - hy[h - 2]) * (x - hx[h - 2]) <= 0)
      h--;
    hx[h] = x;
    hy[h] = y;
    h++;
  }
  mean_t /= n;
  for (i = 0; i + 1 < h; i++) {
    if (hx[i] <= mean_t && mean_t <= hx[i + 1]) {
      *slope = (hy[i + 1] - hy[i]) / (hx[i + 1] - hx[i]);
      found = TRUE;
      break;
    }
  }
  g_free (hx);
  g_free (hy);
  return found;
}

/* Smallest y over the recent window, with y detrended to time @now by @slope. */
static double
cloud_recent_min (const Cloud * c, guint64 now, double slope, guint64 window)
{
  const Point *pts = (const Point *) c->points->data;
  double best = G_MAXDOUBLE;
  guint i;

  for (i = c->points->len; i-- > 0;) {
    gint64 age = (gint64) (now - pts[i].t);
    double y;

    if (age > (gint64) window)
      break;
    y = (double) pts[i].y + slope * (double) age;
    if (y < best)
      best = y;
  }
  return best;
}

/* Typical queuing on the path: the mean of y above its minimum. */
static double
cloud_jitter (const Cloud * c)
{
  const Point *pts = (const Point *) c->points->data;
  double min = G_MAXDOUBLE, sum = 0;
  guint i;

  for (i = 0; i < c->points->len; i++) {
    sum += pts[i].y;
    min = MIN (min, (double) pts[i].y);
  }
  return c->points->len ? sum / c->points->len - min : 0;
}

static guint64
cloud_first_time (const Cloud * c)
{
  return g_array_index (c->points, Point, 0).t;
}

gboolean
echo_clock_estimator_estimate (EchoClockEstimator * est, guint64 now,
    EchoClockEstimate * out)
{
  const Cloud *f = &est->forward, *b = &est->backward;
  double slope_f, slope_b, drift = 0;       /* drift: d(offset)/dt */
  double min_f, min_b;
  guint64 first, span, window, rate_span;
  double jitter;

  if (f->points->len < MIN_POINTS_PER_DIRECTION ||
      b->points->len < MIN_POINTS_PER_DIRECTION)
    return FALSE;

  first = MAX (cloud_first_time (f), cloud_first_time (b));
  span = now > first ? now - first : 0;
  out->rate_valid = FALSE;
  jitter = MAX (cloud_jitter (f), cloud_jitter (b));
  rate_span = (guint64) CLAMP (RATE_MIN_SPAN_NS * jitter / RATE_JITTER_REF_NS,
      RATE_MIN_SPAN_FLOOR_NS, RATE_MIN_SPAN_NS);
  if (span >= rate_span && cloud_envelope_slope (f, &slope_f) &&
      cloud_envelope_slope (b, &slope_b)) {
    /* forward y = d_f - offset(t), backward y = d_b + offset(t) */
    drift = (slope_b - slope_f) / 2;
    out->rate_valid = TRUE;
  }

  window = out->rate_valid ? CLAMP (span / OFFSET_WINDOW_SPAN_DIVISOR,
      OFFSET_WINDOW_MIN_NS, OFFSET_WINDOW_MAX_NS) : WINDOW_NS;
  /* detrending moves old points to where the drift says they would be now */
  min_f = cloud_recent_min (f, now, -drift, window);
  min_b = cloud_recent_min (b, now, drift, window);

  out->local_ref = now;
  out->remote_ref = (gint64) now + (gint64) llround ((min_b - min_f) / 2);
  out->rate = 1.0 + drift;
  out->n_forward = f->points->len;
  out->n_backward = b->points->len;
  out->span_s = span / 1e9;
  out->min_rtt_ns = min_f + min_b;
  return TRUE;
}
