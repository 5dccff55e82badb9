/* The relay's session clock (see echosessionclock.h). */
#include "echosessionclock.h"

#include <math.h>

GstClock *
echo_session_clock_new (const char *name)
{
  GstClock *clock = g_object_new (GST_TYPE_SYSTEM_CLOCK, "name", name,
      "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
  const char *sim = g_getenv ("ECHO_SESSION_CLOCK_SIM");

  gst_object_ref_sink (clock);
  if (sim && *sim) {
    g_auto (GStrv) parts = g_strsplit (sim, ":", 2);
    guint64 offset = 0;
    double skew = 0;

    if (g_strv_length (parts) == 2) {
      offset = g_ascii_strtoull (parts[0], NULL, 10);
      skew = g_ascii_strtod (parts[1], NULL);
    } else {
      g_warning ("ECHO_SESSION_CLOCK_SIM='%s' is not OFFSET_NS:SKEW_PPM; ignored", sim);
    }
    /* external = (internal - 0) * num / denom + offset */
    gst_clock_set_calibration (clock, 0, offset,
        (GstClockTime) llround (1e9 + skew * 1e3), 1000000000);
  }
  return clock;
}

GstClockTime
echo_session_clock_from_monotonic (GstClock * clock, guint64 mono_ns)
{
  GstClockTime cint, cext, num, denom;

  gst_clock_get_calibration (clock, &cint, &cext, &num, &denom);
  return gst_clock_adjust_with_calibration (clock, mono_ns, cint, cext, num, denom);
}
