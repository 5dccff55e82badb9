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
/* Until the rate is trusted the offset comes from the last second only: the unknown
 * drift (tens of ppm between two crystals) then costs at most half a second of it,
 * where minima over everything received let it grow for the whole span (receivers
 * drifted ~70 us apart in their first 3 s at 37.5 ppm). */
#define PRE_RATE_WINDOW_NS (1 * G_GUINT64_CONSTANT (1000000000))
/* Over the first 20 s the rate comes from a least-squares line through the lowest point
 * of each quarter of the span, both directions fitted at once; later from the hull edge.
 * On short spans the hull edge at the mean time is often a short edge between two lucky
 * points and its slope swings by tens of ppm; four minima, each the best of a quarter of
 * the samples, are steadier. On long spans the hull edge wins (it uses the very lowest
 * points). Simulated, 60 receivers, 5 +- 5 ms jitter: offset error from 3 to 8 s p99
 * 161 -> 85 us, and the worst error after 8 s 108 -> 42 us; p99 after 8 s unchanged. */
#define EARLY_RATE_SPAN_NS (20 * G_GUINT64_CONSTANT (1000000000))
#define EARLY_RATE_SEGMENTS 4
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

/* The lowest point of each of EARLY_RATE_SEGMENTS equal parts of [start, now], in
 * coordinates relative to (start, y0); returns how many parts held a point. */
static guint
cloud_segment_minima (const Cloud * c, guint64 start, guint64 now, gint64 y0,
    double *xs, double *ys)
{
  const Point *pts = (const Point *) c->points->data;
  double len = (double) (now - start) / EARLY_RATE_SEGMENTS;
  double seg_x[EARLY_RATE_SEGMENTS], seg_y[EARLY_RATE_SEGMENTS];
  guint i, n = 0;

  for (i = 0; i < EARLY_RATE_SEGMENTS; i++)
    seg_y[i] = G_MAXDOUBLE;
  for (i = 0; i < c->points->len; i++) {
    double x = (double) (gint64) (pts[i].t - start), y = (double) (pts[i].y - y0);
    gint s = (gint) (x / len);

    if (x < 0 || s >= EARLY_RATE_SEGMENTS || y >= seg_y[s])
      continue;
    seg_x[s] = x;
    seg_y[s] = y;
  }
  for (i = 0; i < EARLY_RATE_SEGMENTS; i++) {
    if (seg_y[i] == G_MAXDOUBLE)
      continue;
    xs[n] = seg_x[i];
    ys[n] = seg_y[i];
    n++;
  }
  return n;
}

/* Drift d(offset)/dt from the segment minima of both clouds: forward minima lie on
 * a_f - d x, backward minima on a_b + d x; least squares with one slope and two
 * intercepts. */
static gboolean
early_drift (const Cloud * f, const Cloud * b, guint64 start, guint64 now,
    double *drift)
{
  double xs[2][EARLY_RATE_SEGMENTS], ys[2][EARLY_RATE_SEGMENTS];
  const Cloud *clouds[2] = { f, b };
  const double sign[2] = { -1, 1 };
  double num = 0, den = 0;
  guint k, i;

  for (k = 0; k < 2; k++) {
    const Point *first = &g_array_index (clouds[k]->points, Point, 0);
    guint n = cloud_segment_minima (clouds[k], start, now, first->y, xs[k], ys[k]);
    double mx = 0, my = 0;

    if (n < EARLY_RATE_SEGMENTS - 1)
      return FALSE;
    for (i = 0; i < n; i++) {
      mx += xs[k][i];
      my += ys[k][i];
    }
    mx /= n;
    my /= n;
    for (i = 0; i < n; i++) {
      num += sign[k] * (xs[k][i] - mx) * (ys[k][i] - my);
      den += (xs[k][i] - mx) * (xs[k][i] - mx);
    }
  }
  if (den <= 0)
    return FALSE;
  *drift = num / den;
  return TRUE;
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
  /* forward y = d_f - offset(t), backward y = d_b + offset(t) */
  if (span < rate_span) {
    /* not yet: drift stays 0 */
  } else if (span < EARLY_RATE_SPAN_NS) {
    out->rate_valid = early_drift (f, b, first, now, &drift);
  } else if (cloud_envelope_slope (f, &slope_f) &&
      cloud_envelope_slope (b, &slope_b)) {
    drift = (slope_b - slope_f) / 2;
    out->rate_valid = TRUE;
  }

  window = out->rate_valid ? CLAMP (span / OFFSET_WINDOW_SPAN_DIVISOR,
      OFFSET_WINDOW_MIN_NS, OFFSET_WINDOW_MAX_NS) : PRE_RATE_WINDOW_NS;
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
