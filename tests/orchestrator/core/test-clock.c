/* Tests for echo-clock: ECHO_TEST_TIME_SCALE speeds up both clocks together. */
#include <glib.h>

#include "echo-clock.h"

static void
test_clock_unscaled (void)
{
  gint64 before, now, after;

  if (g_test_subprocess ())
    {
      g_unsetenv ("ECHO_TEST_TIME_SCALE");
      g_assert_cmpfloat (echo_clock_time_scale (), ==, 1.0);
      before = g_get_monotonic_time ();
      now = echo_clock_monotonic_us ();
      after = g_get_monotonic_time ();
      g_assert_cmpint (now, >=, before);
      g_assert_cmpint (now, <=, after);
      before = g_get_real_time () / 1000;
      now = echo_clock_now_ms ();
      after = g_get_real_time () / 1000;
      g_assert_cmpint (now, >=, before);
      g_assert_cmpint (now, <=, after);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_clock_scaled (void)
{
  if (g_test_subprocess ())
    {
      gint64 real_wall_start = g_get_real_time () / 1000;
      gint64 mono0, wall0, mono1, wall1;

      g_setenv ("ECHO_TEST_TIME_SCALE", "60", TRUE);
      g_assert_cmpfloat (echo_clock_time_scale (), ==, 60.0);
      mono0 = echo_clock_monotonic_us ();
      wall0 = echo_clock_now_ms ();
      /* The scaled wall clock starts from the real one. */
      g_assert_cmpint (wall0, >=, real_wall_start);
      g_usleep (100 * 1000);
      mono1 = echo_clock_monotonic_us ();
      wall1 = echo_clock_now_ms ();
      /* At least 100 ms of real time passed: at least 6 s of scaled time. */
      g_assert_cmpint (mono1 - mono0, >=, 6 * G_USEC_PER_SEC);
      g_assert_cmpint (wall1 - wall0, >=, 6000);
      /* Both advance from the same scaled source: wall (read after mono) has moved at least as far. */
      g_assert_cmpint ((wall1 - wall0) * 1000 + 1000, >=, mono1 - mono0);
      /* And the scaled wall clock is ahead of the real one. */
      g_assert_cmpint (wall1, >=, g_get_real_time () / 1000 + 5000);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_clock_invalid_scale (gconstpointer data)
{
  const char *value = data;

  if (g_test_subprocess ())
    {
      g_setenv ("ECHO_TEST_TIME_SCALE", value, TRUE);
      g_test_expect_message ("echo-core", G_LOG_LEVEL_WARNING, "*ECHO_TEST_TIME_SCALE*");
      g_assert_cmpfloat (echo_clock_time_scale (), ==, 1.0);
      g_test_assert_expected_messages ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  static const char *const invalid[] = { "0", "-2", "abc", "1.5x", "inf", "nan" };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/clock/unscaled", test_clock_unscaled);
  g_test_add_func ("/core/clock/scaled", test_clock_scaled);
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/clock/invalid-scale/%zu", i);

      g_test_add_data_func (path, invalid[i], test_clock_invalid_scale);
    }
  return g_test_run ();
}
