/* echo-clock.h: the one source of "now" for echod.
 *
 * Every part of echod asks this file for the time so tests can run timeouts faster: when the
 * environment variable ECHO_TEST_TIME_SCALE holds a float > 0 (read once, on first use), both
 * clocks advance that many times faster than real time from that first use on. Wall time is
 * derived from the same scaled monotonic clock, so TTLs computed from monotonic time and the
 * timestamps written into JSON stay consistent with each other. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Unix wall-clock time in milliseconds (for JSON timestamps). */
gint64 echo_clock_now_ms (void);

/* The same clock in microseconds (the music API's time exchange needs sub-ms precision). */
gint64 echo_clock_now_us (void);

/* Monotonic time in microseconds (for every timeout and rate). */
gint64 echo_clock_monotonic_us (void);

/* The scale in effect: 1.0 unless ECHO_TEST_TIME_SCALE set a valid other value. */
double echo_clock_time_scale (void);

G_END_DECLS
