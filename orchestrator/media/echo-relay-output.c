/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-relay-output.c: a player's session pipeline (appsrc ... volume ... sharerelay),
 * its timeline and its feeder thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-relay-output.h"

#include <gst/controller/controller.h>

#define TICK_US (10 * G_TIME_SPAN_MILLISECOND)
#define IDLE_TICK_US (G_TIME_SPAN_SECOND)
#define VOLUME_RAMP (50 * GST_MSECOND)

struct _EchoRelayOutput
{
  EchoPipelineFactory *factory; /* not owned */
  char *kind;
  char *session_id;
  char *input;
  char *detached;
  char *thread_name;
  EchoRelayOutputTick tick;
  EchoRelayOutputFailed failed;
  gpointer owner;
  GHashTable *values;           /* the template's values, for rebuilds */
  GMainContext *context;

  /* owner's thread */
  GstPipeline *pipeline;
  GstElement *volume;
  GstControlSource *volume_cs;
  GSource *bus_source;
  guint16 port;
  double gain;

  GMutex lock;
  GCond cond;
  GThread *feeder;
  /* under lock */
  gboolean quit;
  GstElement *feed_pipeline;    /* the feeder's references to the pipeline */
  GstAppSrc *feed_src;
  gboolean have_timeline;
  gboolean discont;
  GstClockTime anchor_pts;
  guint64 anchor_frames;
};

EchoRelayOutput *
echo_relay_output_new (const EchoRelayOutputSpec * spec)
{
  EchoRelayOutput *o;

  g_return_val_if_fail (spec != NULL && spec->factory != NULL, NULL);
  g_return_val_if_fail (spec->kind != NULL && spec->session_id != NULL, NULL);
  g_return_val_if_fail (spec->input != NULL && spec->tick != NULL, NULL);

  o = g_new0 (EchoRelayOutput, 1);
  o->factory = spec->factory;
  o->kind = g_strdup (spec->kind);
  o->session_id = g_strdup (spec->session_id);
  o->input = g_strdup (spec->input);
  o->detached = g_strdup (spec->detached);
  o->thread_name = g_strdup (spec->thread_name != NULL ? spec->thread_name : "echo-feed");
  o->tick = spec->tick;
  o->failed = spec->failed;
  o->owner = spec->owner;
  o->context = g_main_context_ref_thread_default ();
  o->gain = 1.0;
  g_mutex_init (&o->lock);
  g_cond_init (&o->cond);

  /* the factory checks and escapes every value */
  o->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (o->values, ECHO_PIPELINE_VALUE_SESSION, g_strdup (spec->session_id));
  g_hash_table_insert (o->values, ECHO_PIPELINE_VALUE_LATENCY,
      g_strdup_printf ("%u", spec->latency_ms));
  g_hash_table_insert (o->values, ECHO_PIPELINE_VALUE_TOKEN,
      g_strdup (spec->token != NULL ? spec->token : ""));
  g_hash_table_insert (o->values, ECHO_PIPELINE_VALUE_ANNOUNCE,
      g_strdup (spec->announce ? "true" : "false"));
  return o;
}

/* ---------------------------------------------------------------------------------- */
/* The feeder                                                                           */

static gpointer
feeder_main (gpointer user_data)
{
  EchoRelayOutput *o = user_data;

  g_mutex_lock (&o->lock);
  while (!o->quit) {
    gboolean busy = o->tick (o, o->owner);

    g_cond_wait_until (&o->cond, &o->lock, g_get_monotonic_time () +
        (busy ? TICK_US : IDLE_TICK_US));
  }
  g_mutex_unlock (&o->lock);
  return NULL;
}

void
echo_relay_output_lock (EchoRelayOutput * o)
{
  g_mutex_lock (&o->lock);
}

void
echo_relay_output_unlock (EchoRelayOutput * o)
{
  g_mutex_unlock (&o->lock);
}

void
echo_relay_output_wake (EchoRelayOutput * o)
{
  g_cond_signal (&o->cond);
}

GstClockTime
echo_relay_output_now (EchoRelayOutput * o)
{
  if (o->feed_pipeline == NULL)
    return GST_CLOCK_TIME_NONE;
  return gst_element_get_current_running_time (o->feed_pipeline);
}

gboolean
echo_relay_output_has_timeline (EchoRelayOutput * o)
{
  return o->have_timeline;
}

GstClockTime
echo_relay_output_next_pts (EchoRelayOutput * o)
{
  return o->anchor_pts + gst_util_uint64_scale_int (o->anchor_frames, GST_SECOND,
      ECHO_RELAY_OUTPUT_RATE);
}

gboolean
echo_relay_output_is_behind (EchoRelayOutput * o, GstClockTime now)
{
  return o->have_timeline
      && echo_relay_output_next_pts (o) < now + ECHO_RELAY_OUTPUT_MIN_MARGIN;
}

void
echo_relay_output_log_behind (EchoRelayOutput * o, GstClockTime now)
{
  g_info ("%s session %s: the feed fell behind the clock by %" G_GINT64_FORMAT
      " ms; re-anchoring", o->kind, o->session_id,
      ((gint64) now - (gint64) echo_relay_output_next_pts (o)) / (gint64) GST_MSECOND);
}

void
echo_relay_output_anchor (EchoRelayOutput * o, GstClockTime pts)
{
  o->anchor_pts = pts;
  o->anchor_frames = 0;
  o->have_timeline = TRUE;
  o->discont = TRUE;
}

gboolean
echo_relay_output_push (EchoRelayOutput * o, GstBuffer * buf)
{
  GstClockTime pts = echo_relay_output_next_pts (o);

  g_return_val_if_fail (o->feed_src != NULL, FALSE);

  o->anchor_frames += gst_buffer_get_size (buf) / ECHO_RELAY_OUTPUT_FRAME_BYTES;
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = echo_relay_output_next_pts (o) - pts;
  GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET_NONE;
  if (o->discont) {
    /* the mixer places audio by its timestamps only after a DISCONT; without it, it
     * would wait (discont-wait) before believing a jump */
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    o->discont = FALSE;
  }
  /* never blocks: appsrc queues without limit (block=false), the owner's lead bounds it */
  return gst_app_src_push_buffer (o->feed_src, buf) == GST_FLOW_OK;
}

/* ---------------------------------------------------------------------------------- */
/* The pipeline                                                                         */

void
echo_relay_output_stop (EchoRelayOutput * o)
{
  GstElement *feed_pipeline;
  GstAppSrc *feed_src;

  g_return_if_fail (o != NULL);

  g_mutex_lock (&o->lock);
  feed_pipeline = g_steal_pointer (&o->feed_pipeline);
  feed_src = g_steal_pointer (&o->feed_src);
  o->have_timeline = FALSE;
  g_mutex_unlock (&o->lock);
  gst_clear_object (&feed_pipeline);
  gst_clear_object (&feed_src);

  if (o->bus_source != NULL) {
    g_source_destroy (o->bus_source);
    g_clear_pointer (&o->bus_source, g_source_unref);
  }
  if (o->pipeline != NULL)
    gst_element_set_state (GST_ELEMENT (o->pipeline), GST_STATE_NULL);
  g_clear_object (&o->volume_cs);
  g_clear_object (&o->volume);
  g_clear_object (&o->pipeline);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  EchoRelayOutput *o = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) failure = NULL;
      g_autofree char *debug = NULL;

      gst_message_parse_error (msg, &error, &debug);
      failure = g_error_new (ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "the %s pipeline failed: %s: %s", o->kind, GST_MESSAGE_SRC_NAME (msg),
          error->message);
      g_message ("%s session %s: %s (%s)", o->kind, o->session_id, failure->message,
          debug != NULL ? debug : "");
      echo_relay_output_stop (o);
      /* last: it may free the output */
      if (o->failed != NULL)
        o->failed (o, failure, o->owner);
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) warning = NULL;

      gst_message_parse_warning (msg, &warning, NULL);
      g_message ("%s session %s: %s: %s", o->kind, o->session_id,
          GST_MESSAGE_SRC_NAME (msg), warning->message);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* A ramp's control source on the volume element, at the current gain. */
static void
bind_volume (EchoRelayOutput * o)
{
  GstControlBinding *binding;

  /* volume changes ramp: a control source the volume element reads per sample */
  o->volume_cs = gst_interpolation_control_source_new ();
  g_object_set (o->volume_cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  gst_timed_value_control_source_set (GST_TIMED_VALUE_CONTROL_SOURCE (o->volume_cs), 0,
      o->gain);
  binding = gst_direct_control_binding_new_absolute (GST_OBJECT (o->volume), "volume",
      o->volume_cs);
  gst_object_add_control_binding (GST_OBJECT (o->volume), binding);
}

gboolean
echo_relay_output_start (EchoRelayOutput * o, GError ** error)
{
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstElement) input = NULL;
  g_autoptr (GstElement) relay = NULL;
  guint bound = 0;

  g_return_val_if_fail (o != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (o->feeder == NULL)
    o->feeder = g_thread_new (o->thread_name, feeder_main, o);
  if (o->pipeline != NULL)
    return TRUE;

  o->pipeline = echo_pipeline_factory_build (o->factory, o->kind, o->values, error);
  if (o->pipeline == NULL)
    return FALSE;
  if (o->detached != NULL) {
    g_autoptr (GstElement) detached = gst_bin_get_by_name (GST_BIN (o->pipeline),
        o->detached);

    if (detached != NULL)
      gst_bin_remove (GST_BIN (o->pipeline), detached);
  }
  /* the factory checked that these exist with the right element factories */
  input = gst_bin_get_by_name (GST_BIN (o->pipeline), o->input);
  o->volume = gst_bin_get_by_name (GST_BIN (o->pipeline), ECHO_PIPELINE_ELEMENT_VOLUME);
  relay = gst_bin_get_by_name (GST_BIN (o->pipeline), ECHO_PIPELINE_ELEMENT_RELAY);
  if (input == NULL || o->volume == NULL || relay == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: `%s`, `%s` and `%s` must be outside the bin `%s`",
        echo_pipeline_factory_get_path (o->factory, o->kind), o->input,
        ECHO_PIPELINE_ELEMENT_VOLUME, ECHO_PIPELINE_ELEMENT_RELAY,
        o->detached != NULL ? o->detached : "");
    echo_relay_output_stop (o);
    return FALSE;
  }
  if (o->port != 0)
    g_object_set (relay, "port", (guint) o->port, NULL);
  g_object_set (input, "block", FALSE, NULL);
  bind_volume (o);

  bus = gst_pipeline_get_bus (o->pipeline);
  o->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (o->bus_source, G_SOURCE_FUNC (on_bus_message), o, NULL);
  g_source_attach (o->bus_source, o->context);

  if (gst_element_set_state (GST_ELEMENT (o->pipeline),
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg != NULL) {
      g_autoptr (GError) gst_error = NULL;

      gst_message_parse_error (msg, &gst_error, NULL);
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "%s pipeline of session %s: %s: %s", o->kind, o->session_id,
          GST_MESSAGE_SRC_NAME (msg), gst_error->message);
    } else {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "%s pipeline of session %s did not start", o->kind, o->session_id);
    }
    echo_relay_output_stop (o);
    return FALSE;
  }
  g_object_get (relay, "bound-port", &bound, NULL);
  o->port = (guint16) bound;

  g_mutex_lock (&o->lock);
  o->feed_pipeline = gst_object_ref (GST_ELEMENT (o->pipeline));
  o->feed_src = GST_APP_SRC (g_steal_pointer (&input));
  o->have_timeline = FALSE;
  g_cond_signal (&o->cond);
  g_mutex_unlock (&o->lock);
  g_debug ("%s session %s: pipeline playing, relay on UDP port %u", o->kind,
      o->session_id, bound);
  return TRUE;
}

void
echo_relay_output_set_volume (EchoRelayOutput * o, double gain)
{
  GstTimedValueControlSource *cs;
  GstClockTime now;
  gdouble from;

  g_return_if_fail (o != NULL);

  gain = CLAMP (gain, 0.0, 1.0);
  if (o->pipeline != NULL && o->volume_cs != NULL) {
    cs = GST_TIMED_VALUE_CONTROL_SOURCE (o->volume_cs);
    now = gst_element_get_current_running_time (GST_ELEMENT (o->pipeline));
    if (!GST_CLOCK_TIME_IS_VALID (now))
      now = 0;
    /* from wherever a ramp still under way is now */
    if (!gst_control_source_get_value (o->volume_cs, now, &from))
      from = o->gain;
    gst_timed_value_control_source_unset_all (cs);
    gst_timed_value_control_source_set (cs, now, from);
    gst_timed_value_control_source_set (cs, now + VOLUME_RAMP, gain);
  }
  o->gain = gain;
}

GstPipeline *
echo_relay_output_build_template (EchoRelayOutput * o, GError ** error)
{
  g_return_val_if_fail (o != NULL, NULL);

  return echo_pipeline_factory_build (o->factory, o->kind, o->values, error);
}

guint16
echo_relay_output_get_port (EchoRelayOutput * o)
{
  g_return_val_if_fail (o != NULL, 0);

  return o->pipeline != NULL ? o->port : 0;
}

GstPipeline *
echo_relay_output_get_pipeline (EchoRelayOutput * o)
{
  g_return_val_if_fail (o != NULL, NULL);

  return o->pipeline;
}

void
echo_relay_output_free (EchoRelayOutput * o)
{
  if (o == NULL)
    return;
  echo_relay_output_stop (o);
  if (o->feeder != NULL) {
    g_mutex_lock (&o->lock);
    o->quit = TRUE;
    g_cond_signal (&o->cond);
    g_mutex_unlock (&o->lock);
    g_thread_join (o->feeder);
  }
  g_mutex_clear (&o->lock);
  g_cond_clear (&o->cond);
  g_hash_table_unref (o->values);
  g_main_context_unref (o->context);
  g_free (o->kind);
  g_free (o->session_id);
  g_free (o->input);
  g_free (o->detached);
  g_free (o->thread_name);
  g_free (o);
}
