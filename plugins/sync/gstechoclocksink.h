/* echoclocksink: render on a real audio device in sync with the pipeline (session) clock,
 * following the device's own clock by adaptive resampling. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ECHO_CLOCK_SINK (gst_echo_clock_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstEchoClockSink, gst_echo_clock_sink, GST, ECHO_CLOCK_SINK, GstBin)

G_END_DECLS
