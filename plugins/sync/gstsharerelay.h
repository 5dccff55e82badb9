/* sharerelay: encode a session's audio, stamp it on the session clock, keep a circular
 * buffer, serve the clock and fan out to subscribed receivers. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_SHARE_RELAY (gst_share_relay_get_type ())
G_DECLARE_FINAL_TYPE (GstShareRelay, gst_share_relay, GST, SHARE_RELAY, GstBaseSink)

G_END_DECLS
