/* echo-rate-limit.h: a token bucket.
 *
 * The bucket holds at most @burst tokens and refills at @rate tokens per second; each request
 * takes one. A steady cadence at or below @rate is never refused, and up to @burst requests
 * may arrive at once. Time comes from the caller (monotonic microseconds) so the owner decides
 * which clock drives it. A plain struct: embed it, no allocation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  double rate;        /* tokens per second, > 0 */
  double burst;       /* bucket size, >= 1 */
  double tokens;
  gint64 last_us;     /* monotonic time of the last refill */
} EchoRateLimit;

/* Starts full. */
void     echo_rate_limit_init (EchoRateLimit *limit, double rate, double burst, gint64 now_us);

/* Takes one token: TRUE if one was available. When FALSE and @retry_after_s is not NULL, it
 * receives the whole seconds (>= 1) until a token will be available. */
gboolean echo_rate_limit_take (EchoRateLimit *limit, gint64 now_us, guint *retry_after_s);

G_END_DECLS
