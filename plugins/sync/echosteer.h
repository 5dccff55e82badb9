/* Steering a device to the session timeline by resampling: the control law of
 * echoclocksink, GStreamer-free so unit tests can drive it with simulated devices.
 *
 * Each update gives the session time, the device's play position (in output samples,
 * since the device started) and the position error (ns; > 0: the sample being heard is
 * late). The device's real rate is the slope of play position against session time
 * (least squares over the last seconds), and the resampling ratio is
 *   ratio = rate_in / device_rate * (1 + kp * error),
 * the correction clamped to +-max_correction, so the device follows the session
 * timeline without ever dropping or repeating a sample. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_STEER_HISTORY 256

typedef struct {
  double rate_in;               /* input samples per second (session rate) */
  double rate_out;              /* nominal device samples per second */
  double kp;                    /* 1/s */
  double max_correction;        /* e.g. 1000e-6 */

  double t[ECHO_STEER_HISTORY]; /* session ns, relative to t0 */
  double pos[ECHO_STEER_HISTORY];
  guint head, count;
  double t0, pos0;
  double device_rate;           /* measured device samples per session second */
  double correction;            /* the last applied correction */
  double ratio;
} EchoSteer;

void echo_steer_init (EchoSteer * s, double rate_in, double rate_out,
    double max_correction);
void echo_steer_reset (EchoSteer * s);
/* Returns the input-per-output resampling ratio to use from now on. */
double echo_steer_update (EchoSteer * s, double session_ns, double device_pos,
    double error_ns);
/* Device rate deviation from nominal, in ppm (0 until measured). */
double echo_steer_drift_ppm (const EchoSteer * s);

G_END_DECLS
