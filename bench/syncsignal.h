/* The sync benchmark's test signal, shared by every sender and by the analyser.
 *
 * Two tones whose phases at session sample index k are known exactly: 1000 Hz gives the
 * fine timing (one period = 1 ms), 93.75 Hz (512 samples at 48 kHz) resolves which
 * millisecond, so a 10 ms window of rendered audio tells which source sample was playing
 * to well under a microsecond, unambiguously within +-5.33 ms. */
#pragma once

#include <math.h>
#include <glib.h>

#define ECHO_SYNC_SIGNAL_RATE 48000
#define ECHO_SYNC_SIGNAL_F1 1000.0   /* Hz: fine phase */
#define ECHO_SYNC_SIGNAL_F2 93.75    /* Hz: coarse phase */
#define ECHO_SYNC_SIGNAL_AMPLITUDE 0.35

/* The signal at fractional source time t (seconds since sample index 0). */
static inline double
echo_sync_signal_at (double t)
{
  return ECHO_SYNC_SIGNAL_AMPLITUDE * (sin (2.0 * G_PI * ECHO_SYNC_SIGNAL_F1 * t) +
      sin (2.0 * G_PI * ECHO_SYNC_SIGNAL_F2 * t));
}

/* The signal repeats every 1536 samples at 48 kHz (32 periods of 1000 Hz, 3 of 93.75 Hz). */
#define ECHO_SYNC_SIGNAL_PERIOD_SAMPLES 1536

/* Sample k at ECHO_SYNC_SIGNAL_RATE. Reducing k by the common period first keeps the sine
 * arguments small, so the value stays exact over hours. */
static inline double
echo_sync_signal_sample (guint64 k)
{
  return echo_sync_signal_at ((double) (k % ECHO_SYNC_SIGNAL_PERIOD_SAMPLES) /
      ECHO_SYNC_SIGNAL_RATE);
}
