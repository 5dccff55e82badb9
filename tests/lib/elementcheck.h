/* Checks every element test program makes, in one place. */
#pragma once

#include <gst/check/gstcheck.h>

G_BEGIN_DECLS

/* Fails unless the element @name was loaded from this build tree (ECHO_BUILD_ROOT), and,
 * when given, has classification @klass and a Doc-uri ending in @doc_suffix. */
void echo_check_element_from_build_tree (const gchar * name, const gchar * klass,
    const gchar * doc_suffix);

/* Fails with the error's text if @msg is an ERROR message; otherwise does nothing. */
void echo_check_not_error (GstMessage * msg);

/* Fails with the text of the first ERROR message waiting on @bus, if there is one. */
void echo_check_bus_has_no_error (GstBus * bus);

G_END_DECLS
