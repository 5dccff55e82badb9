/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-decode-chain.c: decoder ~> audioconvert ! audioresample ! capsfilter ! appsink.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-decode-chain.h"

#include "echo-pipeline-factory.h"
#include "echo-relay-output.h"

struct _EchoDecodeChain
{
  GstBin *bin;
  GstElement *decoder;
  GstElement *convert;          /* where the audio pad links */
  GstAppSink *sink;
  gint audio_linked;            /* atomic: set on a streaming thread */
};

static void
on_pad_added (GstElement * decoder, GstPad * pad, gpointer user_data)
{
  EchoDecodeChain *chain = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstPad) sinkpad = NULL;
  const char *name;
  GstElement *fakesink;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  name = gst_caps_get_size (caps) > 0 ?
      gst_structure_get_name (gst_caps_get_structure (caps, 0)) : "";
  if (g_str_has_prefix (name, "audio/x-raw") && !g_atomic_int_get (&chain->audio_linked)) {
    sinkpad = gst_element_get_static_pad (chain->convert, "sink");
    if (gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK) {
      g_atomic_int_set (&chain->audio_linked, 1);
      return;
    }
    g_clear_object (&sinkpad);
  }
  /* other streams (video, a second audio stream) are decoded into nothing */
  fakesink = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fakesink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (chain->bin, fakesink);
  gst_element_sync_state_with_parent (fakesink);
  sinkpad = gst_element_get_static_pad (fakesink, "sink");
  gst_pad_link (pad, sinkpad);
}

EchoDecodeChain *
echo_decode_chain_new (GstBin * bin, const char *decoder_factory, guint max_buffers,
    GError ** error)
{
  g_autoptr (EchoDecodeChain) chain = NULL;
  g_autoptr (GstCaps) caps = gst_caps_from_string (ECHO_RELAY_OUTPUT_CAPS);
  GstElement *decoder, *convert, *resample, *filter, *sink;

  g_return_val_if_fail (GST_IS_BIN (bin), NULL);
  g_return_val_if_fail (decoder_factory != NULL, NULL);

  decoder = gst_element_factory_make (decoder_factory, NULL);
  convert = gst_element_factory_make ("audioconvert", NULL);
  resample = gst_element_factory_make ("audioresample", NULL);
  filter = gst_element_factory_make ("capsfilter", NULL);
  sink = gst_element_factory_make ("appsink", NULL);
  if (decoder == NULL || convert == NULL || resample == NULL || filter == NULL
      || sink == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "a decoder needs %s, audioconvert, audioresample, capsfilter and appsink; one "
        "is not installed", decoder_factory);
    gst_clear_object (&decoder);
    gst_clear_object (&convert);
    gst_clear_object (&resample);
    gst_clear_object (&filter);
    gst_clear_object (&sink);
    return NULL;
  }
  chain = g_new0 (EchoDecodeChain, 1);
  chain->bin = GST_BIN (gst_object_ref (bin));
  chain->decoder = gst_object_ref (decoder);
  chain->convert = gst_object_ref (convert);
  chain->sink = GST_APP_SINK (gst_object_ref (sink));
  g_object_set (filter, "caps", caps, NULL);
  g_object_set (sink, "sync", FALSE, "max-buffers", max_buffers, "drop", FALSE, NULL);
  gst_bin_add_many (bin, decoder, convert, resample, filter, sink, NULL);
  if (!gst_element_link_many (convert, resample, filter, sink, NULL)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "the decoder's elements do not link");
    return NULL;
  }
  g_signal_connect (decoder, "pad-added", G_CALLBACK (on_pad_added), chain);
  return g_steal_pointer (&chain);
}

void
echo_decode_chain_free (EchoDecodeChain * chain)
{
  if (chain == NULL)
    return;
  /* the handler must not outlive the chain, whatever the bin's state */
  g_signal_handlers_disconnect_by_data (chain->decoder, chain);
  gst_object_unref (chain->sink);
  gst_object_unref (chain->convert);
  gst_object_unref (chain->decoder);
  gst_object_unref (chain->bin);
  g_free (chain);
}

GstElement *
echo_decode_chain_get_decoder (EchoDecodeChain * chain)
{
  return chain->decoder;
}

GstAppSink *
echo_decode_chain_get_sink (EchoDecodeChain * chain)
{
  return chain->sink;
}

gboolean
echo_decode_chain_has_audio (EchoDecodeChain * chain)
{
  return g_atomic_int_get (&chain->audio_linked) != 0;
}
