/* Tests of the token bucket: the seed's cadences pass, floods do not. */
#include "echo-rate-limit.h"

static void
test_cadence_never_refused (void)
{
  EchoRateLimit limit;
  gint64 now = 5 * G_USEC_PER_SEC;

  /* The seed's audio cadence: 4096 frames at 44.1 kHz = 92.9 ms, i.e. 10.75 chunks/s. */
  echo_rate_limit_init (&limit, 12, 12, now);
  for (int i = 0; i < 100000; i++) {
    g_assert_true (echo_rate_limit_take (&limit, now, NULL));
    now += 92880;
  }
  /* Its metadata cadence: every 500 ms against 2/s. */
  echo_rate_limit_init (&limit, 2, 4, now);
  for (int i = 0; i < 10000; i++) {
    g_assert_true (echo_rate_limit_take (&limit, now, NULL));
    now += 500000;
  }
}

static void
test_flood_refused_after_burst (void)
{
  EchoRateLimit limit;
  gint64 now = 0;
  guint accepted = 0, retry_after = 0;

  echo_rate_limit_init (&limit, 12, 12, now);
  for (int i = 0; i < 100; i++) {
    if (echo_rate_limit_take (&limit, now, &retry_after))
      accepted++;
  }
  g_assert_cmpuint (accepted, ==, 12);
  g_assert_cmpuint (retry_after, ==, 1);

  /* One second later another 12 are allowed, not more. */
  now += G_USEC_PER_SEC;
  accepted = 0;
  for (int i = 0; i < 100; i++) {
    if (echo_rate_limit_take (&limit, now, NULL))
      accepted++;
  }
  g_assert_cmpuint (accepted, ==, 12);

  /* A slow bucket says how long to wait. */
  echo_rate_limit_init (&limit, 0.25, 1, now);
  g_assert_true (echo_rate_limit_take (&limit, now, NULL));
  g_assert_false (echo_rate_limit_take (&limit, now, &retry_after));
  g_assert_cmpuint (retry_after, ==, 4);
  now += 3 * G_USEC_PER_SEC;
  g_assert_false (echo_rate_limit_take (&limit, now, &retry_after));
  g_assert_cmpuint (retry_after, ==, 1);
  now += G_USEC_PER_SEC;
  g_assert_true (echo_rate_limit_take (&limit, now, NULL));
}

static void
test_sustained_rate (void)
{
  EchoRateLimit limit;
  gint64 now = 0;
  guint accepted = 0;

  /* Over 100 s of a 1 ms-apart flood, about rate * 100 + burst get through. */
  echo_rate_limit_init (&limit, 12, 12, now);
  for (int i = 0; i < 100000; i++) {
    if (echo_rate_limit_take (&limit, now, NULL))
      accepted++;
    now += 1000;
  }
  g_assert_cmpuint (accepted, >=, 1200);
  g_assert_cmpuint (accepted, <=, 1200 + 12 + 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/share/rate-limit/cadence", test_cadence_never_refused);
  g_test_add_func ("/share/rate-limit/flood", test_flood_refused_after_burst);
  g_test_add_func ("/share/rate-limit/sustained", test_sustained_rate);
  return g_test_run ();
}
