/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/audio/gstaudiosink.h>

G_BEGIN_DECLS

#define GST_TYPE_ECHO_SIM_SINK (gst_echo_sim_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstEchoSimSink, gst_echo_sim_sink, GST, ECHO_SIM_SINK,
    GstAudioSink);

GST_ELEMENT_REGISTER_DECLARE (echosimsink);

G_END_DECLS
