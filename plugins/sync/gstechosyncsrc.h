/* echosyncsrc: receive an Echo session on the session's timeline. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_ECHO_SYNC_SRC (gst_echo_sync_src_get_type ())
G_DECLARE_FINAL_TYPE (GstEchoSyncSrc, gst_echo_sync_src, GST, ECHO_SYNC_SRC, GstPushSrc)

G_END_DECLS
