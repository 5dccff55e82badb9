/* A GSource other threads wake (see echo-wake-source.h). */
#include "echo-wake-source.h"

/* Ready whenever its ready time was set to 0; dispatching sets it back to "never". */
static gboolean
wake_source_dispatch (GSource * source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs wake_source_funcs = {
  .dispatch = wake_source_dispatch,
};

GSource *
echo_wake_source_new (const char *name, GSourceFunc callback, gpointer data,
    GMainContext * context)
{
  GSource *source = g_source_new (&wake_source_funcs, sizeof (GSource));

  g_source_set_name (source, name);
  g_source_set_callback (source, callback, data, NULL);
  g_source_attach (source, context);
  return source;
}

void
echo_wake_source_wake (GSource * source)
{
  g_source_set_ready_time (source, 0);
}
