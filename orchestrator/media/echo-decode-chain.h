/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-decode-chain.h: a decoder (decodebin, uridecodebin) and the tail that turns its
 * audio into the relay's format in an appsink:
 *
 *     decoder ~> audioconvert ! audioresample ! capsfilter (ECHO_RELAY_OUTPUT_CAPS) ! appsink
 *
 * The decoder's first raw audio pad is linked to audioconvert when it appears; its other
 * streams (video, a second audio stream) are decoded into fakesinks. The appsink does not
 * sync (the player reads it as fast as it needs) and holds at most `max_buffers`, which
 * holds a faster-than-real-time decoder back.
 *
 * The chain owns: its references to the convert element and the appsink, and the state of
 * the pad linking. The elements belong to the bin given; the chain must be freed only
 * once that bin's pipeline is in the NULL state (its pad-added handler uses the chain).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/app/app.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _EchoDecodeChain EchoDecodeChain;

/**
 * echo_decode_chain_new:
 * @bin: where the elements go
 * @decoder_factory: "decodebin" or "uridecodebin"
 * @max_buffers: the appsink's max-buffers
 * @error: ECHO_PIPELINE_ERROR_FAILED when an element is not installed or does not link
 *
 * Returns: (transfer full): the chain, or NULL with @error set (elements it made may be
 *   left in @bin)
 */
EchoDecodeChain *echo_decode_chain_new (GstBin * bin, const char *decoder_factory,
    guint max_buffers, GError ** error);

void echo_decode_chain_free (EchoDecodeChain * chain);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoDecodeChain, echo_decode_chain_free)

/* The decoder (transfer none): for its "uri", or to link an upstream to it. */
GstElement *echo_decode_chain_get_decoder (EchoDecodeChain * chain);

/* The appsink with the decoded audio (transfer none). */
GstAppSink *echo_decode_chain_get_sink (EchoDecodeChain * chain);

/* Whether an audio stream was linked; thread-safe. */
gboolean echo_decode_chain_has_audio (EchoDecodeChain * chain);

G_END_DECLS
