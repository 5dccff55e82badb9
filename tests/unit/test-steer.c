/* The steering law of echoclocksink against a simulated device: whatever the device's
 * crystal error, the play position converges onto the timeline, and the correction stays
 * within its bound (no sample is dropped or repeated: only the ratio moves). */
#include "echosteer.h"

#include <math.h>

/* Simulates 20 s of a device at @skew_ppm starting @initial_error_ns off, measured every
 * 10 ms; returns the final error (ns). */
static double
simulate (double skew_ppm, double initial_error_ns, double *max_corr)
{
  EchoSteer s;
  double rate = 48000, dev_rate = rate * (1 + skew_ppm * 1e-6);
  double t = 1e12, pos = 0, in_pos = -initial_error_ns * rate / 1e9, err = 0;
  int i;

  echo_steer_init (&s, rate, rate, 1000e-6);
  *max_corr = 0;
  for (i = 0; i < 2000; i++) {
    /* error: session time minus the render time of what is heard */
    err = (t - 1e12) - in_pos / rate * 1e9;
    echo_steer_update (&s, t, pos, err);
    *max_corr = MAX (*max_corr, fabs (s.correction));
    /* 10 ms pass: the device plays dev_rate * 0.01 samples of output, which carry
     * ratio input samples each */
    pos += dev_rate * 0.01;
    in_pos += dev_rate * 0.01 * s.ratio;
    t += 10e6;
  }
  return err;
}

static void
test_converges (void)
{
  double skews[] = { -500, -120, 0, 37, 250, 500 }, errors[] = { 0, 800e3, -600e3 };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (skews); i++)
    for (j = 0; j < G_N_ELEMENTS (errors); j++) {
      double max_corr, err = simulate (skews[i], errors[j], &max_corr);
      g_test_message ("skew %+.0f ppm, start %+.0f us: end error %.3f us, max "
          "correction %.0f ppm", skews[i], errors[j] / 1e3, err / 1e3, max_corr * 1e6);
      g_assert_cmpfloat (fabs (err), <, 1000);   /* 1 us after 20 s */
      g_assert_cmpfloat (max_corr, <=, 1000e-6 + 1e-12);
    }
}

static void
test_measures_device_rate (void)
{
  EchoSteer s;
  int i;

  echo_steer_init (&s, 48000, 48000, 1000e-6);
  g_assert_cmpfloat (echo_steer_drift_ppm (&s), ==, 0);
  for (i = 0; i < 100; i++)
    echo_steer_update (&s, 5e12 + i * 10e6, i * 480 * (1 - 321e-6), 0);
  g_assert_cmpfloat (fabs (echo_steer_drift_ppm (&s) + 321), <, 0.01);
  g_assert_cmpfloat (fabs (s.ratio - 1 / (1 - 321e-6)), <, 1e-9);
  echo_steer_reset (&s);
  g_assert_cmpfloat (echo_steer_drift_ppm (&s), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/steer/converges", test_converges);
  g_test_add_func ("/steer/measures-device-rate", test_measures_device_rate);
  return g_test_run ();
}
