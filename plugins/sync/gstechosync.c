/* The Echo sync plugin: sharerelay, echosyncsrc and echoclocksink. Registration only. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstechosyncelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (sharerelay, plugin);
  ret |= GST_ELEMENT_REGISTER (echosyncsrc, plugin);
  ret |= GST_ELEMENT_REGISTER (echoclocksink, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, echosync,
    "Echo: sample-synchronized network audio (relay, receiver, clock-following sink)",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
