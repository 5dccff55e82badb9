/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "icymeta.h"
#include "icystream.h"

G_BEGIN_DECLS

#define GST_TYPE_ICY_META_DEMUX (gst_icy_meta_demux_get_type ())
G_DECLARE_FINAL_TYPE (GstIcyMetaDemux, gst_icy_meta_demux, GST, ICY_META_DEMUX,
    GstElement);

G_END_DECLS
