/* The clock estimator against synthetic networks: a remote clock with a known offset and
 * rate, one-way delays with heavy jitter. Deterministic (fixed seeds). */
#include "echoclockest.h"

#include <math.h>

typedef struct {
  double offset_ns;             /* remote - local at local 0 */
  double skew_ppm;
  double base_delay_ns;
  double jitter_ns;             /* delays are base + uniform(0, jitter) */
  double rate_hz;               /* samples per second per direction */
} Network;

static double
remote_at (const Network * n, double local)
{
  return local + n->offset_ns + local * n->skew_ppm * 1e-6;
}

/* Feeds samples from t=start for @seconds and returns |offset error| at the end (ns). */
static double
run (EchoClockEstimator * est, const Network * n, GRand * rand, double start,
    double seconds, EchoClockEstimate * e)
{
  double step = 1e9 / n->rate_hz, t;
  guint64 now;

  for (t = start; t < start + seconds * 1e9; t += step) {
    double d_f = n->base_delay_ns + g_rand_double (rand) * n->jitter_ns;
    double d_b = n->base_delay_ns + g_rand_double (rand) * n->jitter_ns;
    /* forward: sent at remote time of local t, received d_f later */
    echo_clock_estimator_add_forward (est, (guint64) (t + d_f),
        (guint64) remote_at (n, t));
    /* backward: sent at local t + step/2, received d_b later at the remote */
    echo_clock_estimator_add_backward (est, (guint64) (t + step / 2),
        (guint64) remote_at (n, t + step / 2 + d_b));
  }
  now = (guint64) (start + seconds * 1e9 + 10e6);
  g_assert_true (echo_clock_estimator_estimate (est, now, e));
  return fabs ((double) e->remote_ref - remote_at (n, (double) e->local_ref));
}

static void
test_no_jitter_is_exact (void)
{
  Network n = { 1234567890.0, 37.0, 100000, 0, 100 };
  g_autoptr (EchoClockEstimator) est = echo_clock_estimator_new ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  EchoClockEstimate e;
  double err = run (est, &n, rand, 1e12, 10, &e);

  g_assert_cmpfloat (err, <, 1000);
  g_assert_true (e.rate_valid);
  g_assert_cmpfloat (fabs ((e.rate - 1) * 1e6 - 37.0), <, 0.1);
}

/* The benchmark's network: 5 ms +- 5 ms each way. */
static void
test_heavy_jitter_converges (void)
{
  Network n = { -987654321.0, -123.0, 50000, 10e6, 100 };
  g_autoptr (EchoClockEstimator) est = echo_clock_estimator_new ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  EchoClockEstimate e;
  double t = 5e12, err;
  int seconds[] = { 1, 1, 3, 5, 20, 30 }, elapsed = 0;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (seconds); i++) {
    err = run (est, &n, rand, t, seconds[i], &e);
    t += seconds[i] * 1e9;
    elapsed += seconds[i];
    g_test_message ("after %2d s: offset error %7.1f us, rate %s %+.3f ppm (true %+.1f)",
        elapsed, err / 1000, e.rate_valid ? "valid" : "unset",
        (e.rate - 1) * 1e6, n.skew_ppm);
    /* statistical bounds, far from what the estimator achieves with this seed */
    if (elapsed >= 2)
      g_assert_cmpfloat (err, <, 1e6);
    if (elapsed >= 5)
      g_assert_cmpfloat (err, <, 200e3);
    if (elapsed >= 30) {
      g_assert_cmpfloat (err, <, 50e3);
      g_assert_cmpfloat (fabs ((e.rate - 1) * 1e6 - n.skew_ppm), <, 5);
    }
  }
}

/* Before the rate is trusted, an unknown drift must not pile up over the whole span;
 * between 3 and 20 s the rate comes from the segment minima. 200 ppm makes the
 * difference large: 2.5 s of minima over everything would be ~250 us off. */
static void
test_early_phase (void)
{
  Network n = { 555555555.0, 200.0, 50000, 10e6, 250 };
  double worst_pre = 0, worst_rate = 0;
  guint32 seed;

  for (seed = 1; seed <= 20; seed++) {
    g_autoptr (EchoClockEstimator) est = echo_clock_estimator_new ();
    g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
    EchoClockEstimate e;
    double err = run (est, &n, rand, 7e12, 2.5, &e);

    g_assert_false (e.rate_valid);
    worst_pre = MAX (worst_pre, err);
    run (est, &n, rand, 7e12 + 2.5e9, 5, &e);
    g_assert_true (e.rate_valid);
    worst_rate = MAX (worst_rate, fabs ((e.rate - 1) * 1e6 - n.skew_ppm));
  }
  g_test_message ("worst offset error at 2.5 s: %.1f us; worst rate error at 7.5 s: "
      "%.2f ppm", worst_pre / 1000, worst_rate);
  /* drift over half the 1 s window is 100 us; the minima add their own tens of us */
  g_assert_cmpfloat (worst_pre, <, 250e3);
  g_assert_cmpfloat (worst_rate, <, 18);
}

static void
test_needs_both_directions (void)
{
  g_autoptr (EchoClockEstimator) est = echo_clock_estimator_new ();
  EchoClockEstimate e;
  int i;

  for (i = 0; i < 100; i++)
    echo_clock_estimator_add_forward (est, 1000000 + i * 1000, 500 + i * 1000);
  g_assert_false (echo_clock_estimator_estimate (est, 2000000, &e));
  echo_clock_estimator_reset (est);
  g_assert_false (echo_clock_estimator_estimate (est, 2000000, &e));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clockest/no-jitter-is-exact", test_no_jitter_is_exact);
  g_test_add_func ("/clockest/heavy-jitter-converges", test_heavy_jitter_converges);
  g_test_add_func ("/clockest/early-phase", test_early_phase);
  g_test_add_func ("/clockest/needs-both-directions", test_needs_both_directions);
  return g_test_run ();
}
