/* Checks every element test program makes (see elementcheck.h). */
#include "elementcheck.h"

void
echo_check_element_from_build_tree (const gchar * name, const gchar * klass,
    const gchar * doc_suffix)
{
  GstElementFactory *factory = gst_element_factory_find (name);
  const gchar *build_root = g_getenv ("ECHO_BUILD_ROOT");
  GstPlugin *plugin;

  fail_unless (factory != NULL, "no element %s", name);
  plugin = GST_PLUGIN (gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE (factory)));
  fail_unless (build_root != NULL);
  fail_unless (g_str_has_prefix (gst_plugin_get_filename (plugin), build_root),
      "%s loaded from %s, not from the build tree %s", name,
      gst_plugin_get_filename (plugin), build_root);
  if (klass)
    fail_unless_equals_string (gst_element_factory_get_metadata (factory,
            GST_ELEMENT_METADATA_KLASS), klass);
  if (doc_suffix)
    fail_unless (g_str_has_suffix (gst_element_factory_get_metadata (factory,
                GST_ELEMENT_METADATA_DOC_URI), doc_suffix));
  gst_object_unref (plugin);
  gst_object_unref (factory);
}

void
echo_check_not_error (GstMessage * msg)
{
  GError *err = NULL;
  gchar *dbg = NULL;

  if (!msg || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ERROR)
    return;
  gst_message_parse_error (msg, &err, &dbg);
  fail ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg), err->message, dbg);
}

void
echo_check_bus_has_no_error (GstBus * bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  echo_check_not_error (msg);
  if (msg)
    gst_message_unref (msg);
}
