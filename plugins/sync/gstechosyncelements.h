/* The elements of the Echo sync plugin. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (sharerelay);
GST_ELEMENT_REGISTER_DECLARE (echosyncsrc);
GST_ELEMENT_REGISTER_DECLARE (echoclocksink);

G_END_DECLS
