/* echo-rate-limit.c: a token bucket (see the header). */
#include "echo-rate-limit.h"

#include <math.h>

void
echo_rate_limit_init (EchoRateLimit *limit, double rate, double burst, gint64 now_us)
{
  g_return_if_fail (limit != NULL);
  g_return_if_fail (rate > 0);

  limit->rate = rate;
  limit->burst = MAX (burst, 1.0);
  limit->tokens = limit->burst;
  limit->last_us = now_us;
}

gboolean
echo_rate_limit_take (EchoRateLimit *limit, gint64 now_us, guint *retry_after_s)
{
  double wait_s;

  g_return_val_if_fail (limit != NULL, FALSE);

  /* A clock that stepped back (it should not; it is monotonic) just refills nothing. */
  if (now_us > limit->last_us) {
    limit->tokens = MIN (limit->burst,
        limit->tokens + (double) (now_us - limit->last_us) * limit->rate / G_USEC_PER_SEC);
    limit->last_us = now_us;
  }
  if (limit->tokens >= 1.0) {
    limit->tokens -= 1.0;
    return TRUE;
  }
  if (retry_after_s != NULL) {
    wait_s = (1.0 - limit->tokens) / limit->rate;
    *retry_after_s = (guint) MAX (1.0, ceil (wait_s));
  }
  return FALSE;
}
