#include <gst/check/gstcheck.h>

static Suite *
echoclocksink_suite (void)
{
  Suite *s = suite_create ("echoclocksink");
  return s;
}

GST_CHECK_MAIN (echoclocksink);
