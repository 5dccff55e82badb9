#include <gst/check/gstcheck.h>

static Suite *
echosyncsrc_suite (void)
{
  Suite *s = suite_create ("echosyncsrc");
  return s;
}

GST_CHECK_MAIN (echosyncsrc);
