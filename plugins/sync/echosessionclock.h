/* The relay's session clock: its host's CLOCK_MONOTONIC.
 *
 * For tests and benchmarks that run relay and receivers on one host, the environment
 * variable ECHO_SESSION_CLOCK_SIM="OFFSET_NS:SKEW_PPM" makes the relay's session clock
 * behave like another host's: S(h) = h + OFFSET_NS + h * SKEW_PPM * 1e-6, where h is this
 * host's CLOCK_MONOTONIC in ns (OFFSET_NS >= 0). Without it, S(h) = h. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* A new GstSystemClock (monotonic) calibrated as described above. */
GstClock *echo_session_clock_new (const char *name);

/* The session-clock time of a CLOCK_MONOTONIC reading. */
GstClockTime echo_session_clock_from_monotonic (GstClock * session_clock, guint64 mono_ns);

G_END_DECLS
