/* Estimating a remote clock's offset AND rate from one-way timestamps, robust to jitter.
 *
 * Each datagram from the relay carries the session-clock time it was sent (forward samples:
 * local receive time - remote send time = forward delay - offset); each time response
 * carries the session-clock time the request arrived (backward samples: remote receive time
 * - local send time = backward delay + offset). Queuing only ever adds delay, so the lower
 * envelope of each cloud is the path's minimum delay, shifted by the offset. The estimator
 * fits that envelope:
 *  - rate: the line under all points that is highest at the points' mean time (the linear
 *    program of Moon, Skelly and Towsley; it is an edge of the lower convex hull), per
 *    direction; the two slopes are averaged with opposite signs;
 *  - offset now: both clouds are detrended with that rate and their minima over the recent
 *    window give (min_backward - min_forward) / 2, assuming the minimum delays of both
 *    directions are equal (the usual NTP assumption).
 * GStreamer-free: unit tests drive it with synthetic jitter. Not thread-safe. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoClockEstimator EchoClockEstimator;

typedef struct {
  /* remote(local) = remote_ref + (local - local_ref) * rate */
  guint64 local_ref;
  gint64 remote_ref;
  double rate;
  gboolean rate_valid;        /* FALSE while the window is too short for the path's
                               * jitter (up to 3 s): rate is 1.0 */
  guint n_forward;
  guint n_backward;
  double span_s;              /* time covered by the samples */
  double min_rtt_ns;          /* smallest min_forward + min_backward seen (path RTT floor) */
} EchoClockEstimate;

EchoClockEstimator *echo_clock_estimator_new (void);
void echo_clock_estimator_free (EchoClockEstimator * est);
void echo_clock_estimator_reset (EchoClockEstimator * est);

void echo_clock_estimator_add_forward (EchoClockEstimator * est, guint64 local_rx,
    guint64 remote_tx);
void echo_clock_estimator_add_backward (EchoClockEstimator * est, guint64 local_tx,
    guint64 remote_rx);

/* FALSE until at least a few samples exist in each direction. */
gboolean echo_clock_estimator_estimate (EchoClockEstimator * est, guint64 local_now,
    EchoClockEstimate * out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoClockEstimator, echo_clock_estimator_free)

G_END_DECLS
