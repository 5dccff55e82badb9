/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-pipeline-factory.h: echod's GStreamer pipelines, built from the operator-editable
 * templates in the pipelines directory (pipelines/NAME.pipeline, installed to
 * <datadir>/echo/pipelines).
 *
 * A template is a gst-launch-1.0 description spread over lines. Lines whose first
 * non-blank character is '#' are comments; the other lines are joined with spaces into
 * one description. `{name}` (a lower-case identifier in braces) is a placeholder that
 * echod fills in per session; any other brace (a caps list such as `{ S16LE, F32LE }`) is
 * left alone. The file name says the kind of pipeline (share.pipeline is kind "share"),
 * and each kind has a fixed set of placeholders and of named elements echod drives:
 *
 *   share: placeholders {session} {rate} {channels} {out_channels} {channel_mask}
 *          {latency} {token} {announce} {opus_bitrate};
 *          elements appsrc name=input, sharerelay name=relay, appsink name=opus,
 *          valve name=opusgate (on the Opus branch, before the encoder).
 *   music: placeholders {session} {latency} {token} {announce};
 *          elements appsrc name=tracks, volume name=volume, sharerelay name=relay.
 *          Optional: a directory without music.pipeline loads, and building a music
 *          pipeline from it is ECHO_PIPELINE_ERROR_NOT_FOUND (echod then plays no
 *          server-side music).
 *   radio: placeholders {session} {latency} {token} {announce}, as music;
 *          elements: the bin `( name=station ... )` holding souphttpsrc name=http and
 *          ending in appsink name=decoded (the chain of one upstream connection: echod
 *          builds the template once per connection and keeps only this bin, in its own
 *          pipeline), and outside it appsrc name=stream, volume name=volume,
 *          sharerelay name=relay (the session's output: built once per session, without
 *          the bin). Optional like music (echod then plays no radio).
 *
 * Values are checked and escaped before they go into the description, so no value can
 * add elements or properties: numbers must parse and lie in their range, a share session
 * id is digits only, a music session id lower-case hex digits and '-' (a uuid), a boolean is "true" or "false", and a string (the token) must be printable
 * ASCII and is substituted as a double-quoted, backslash-escaped gst-launch string,
 * quotes included (write `token={token}`, not `token="{token}"`).
 *
 * The factory owns the parsed templates; it is immutable after echo_pipeline_factory_new()
 * and may be used from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define ECHO_PIPELINE_ERROR (echo_pipeline_error_quark ())
GQuark echo_pipeline_error_quark (void);

typedef enum
{
  /* a template file is unreadable, unknown, or invalid: the message names the file */
  ECHO_PIPELINE_ERROR_TEMPLATE,
  /* no template of the requested kind */
  ECHO_PIPELINE_ERROR_NOT_FOUND,
  /* a value for a placeholder is missing, unknown or out of its range */
  ECHO_PIPELINE_ERROR_INVALID_VALUE,
  /* a running pipeline failed (state change, an ERROR message on its bus) */
  ECHO_PIPELINE_ERROR_FAILED,
} EchoPipelineError;

/* The kind of the share pipeline (share.pipeline) and its placeholders. */
#define ECHO_PIPELINE_KIND_SHARE "share"

#define ECHO_PIPELINE_VALUE_SESSION      "session"        /* digits, 1..64 */
#define ECHO_PIPELINE_VALUE_RATE         "rate"           /* 8000..192000 Hz */
#define ECHO_PIPELINE_VALUE_CHANNELS     "channels"       /* 1..8, the sharer's */
#define ECHO_PIPELINE_VALUE_OUT_CHANNELS "out_channels"   /* 1..2, relay and Opus */
#define ECHO_PIPELINE_VALUE_CHANNEL_MASK "channel_mask"   /* unsigned 64-bit, as 0x... */
#define ECHO_PIPELINE_VALUE_LATENCY      "latency"        /* 20..5000 ms */
#define ECHO_PIPELINE_VALUE_TOKEN        "token"          /* printable ASCII, may be "" */
#define ECHO_PIPELINE_VALUE_ANNOUNCE     "announce"       /* true/false */
#define ECHO_PIPELINE_VALUE_OPUS_BITRATE "opus_bitrate"   /* 6000..510000 bit/s */

/* The kind of the music session player (music.pipeline). Its placeholders are
 * {session} (ECHO_PIPELINE_VALUE_SESSION, here [0-9a-f-], 1..64: the music session's
 * uuid), {latency}, {token} and {announce}, as for share. */
#define ECHO_PIPELINE_KIND_MUSIC "music"

/* The names of the elements echod drives in a share pipeline. */
#define ECHO_PIPELINE_ELEMENT_INPUT "input"
#define ECHO_PIPELINE_ELEMENT_RELAY "relay"
#define ECHO_PIPELINE_ELEMENT_OPUS  "opus"
#define ECHO_PIPELINE_ELEMENT_OPUS_GATE "opusgate"
/* ... and in a music pipeline (besides "relay"): the decoded tracks enter at the appsrc
 * "tracks"; "volume" is the session's volume. */
#define ECHO_PIPELINE_ELEMENT_TRACKS "tracks"
#define ECHO_PIPELINE_ELEMENT_VOLUME "volume"

/* The kind of the radio session player (radio.pipeline). Its placeholders are the music
 * pipeline's. */
#define ECHO_PIPELINE_KIND_RADIO "radio"

/* The names of the elements echod drives in a radio pipeline (besides "relay" and
 * "volume"): the bin "station" is one upstream connection: its souphttpsrc "http" gets
 * the URL and request headers, its appsink "decoded" gives F32LE 48 kHz stereo; the
 * appsrc "stream" takes the audio the relay plays. */
#define ECHO_PIPELINE_ELEMENT_STATION "station"
#define ECHO_PIPELINE_ELEMENT_HTTP "http"
#define ECHO_PIPELINE_ELEMENT_DECODED "decoded"
#define ECHO_PIPELINE_ELEMENT_STREAM "stream"

typedef struct _EchoPipelineFactory EchoPipelineFactory;

/**
 * echo_pipeline_factory_new:
 * @dir: the pipelines directory
 * @error: return location for an ECHO_PIPELINE_ERROR_TEMPLATE error
 *
 * Loads every `*.pipeline` file in @dir and validates each: its kind is known, every
 * placeholder is one of its kind's (an unknown one is reported as FILE:LINE), a sample
 * instantiation parses with gst_parse_launch_full() (GST_PARSE_FLAG_FATAL_ERRORS: every
 * element and property exists) into a pipeline, and the named elements echod needs are
 * there with the right element factories. Every known kind must have a template, except
 * the optional "music" and "radio".
 * Needs gst_init() and the Echo plugins on the plugin path.
 *
 * Returns: (transfer full): the factory, or NULL with @error naming the file at fault
 */
EchoPipelineFactory *echo_pipeline_factory_new (const char *dir, GError ** error);

void echo_pipeline_factory_free (EchoPipelineFactory * factory);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoPipelineFactory, echo_pipeline_factory_free)

/* The file @kind was loaded from, or NULL when there is no such template. */
const char *echo_pipeline_factory_get_path (EchoPipelineFactory * factory,
    const char *kind);

/**
 * echo_pipeline_factory_expand:
 * @factory: a factory
 * @kind: the pipeline kind, e.g. ECHO_PIPELINE_KIND_SHARE
 * @values: placeholder name -> value (char * -> char *); every placeholder the template
 *   uses needs one, and names the kind does not have are refused
 * @error: return location for an ECHO_PIPELINE_ERROR
 *
 * The gst-launch description @kind's template gives with @values checked and escaped.
 *
 * Returns: (transfer full): the description, or NULL with @error set
 */
char *echo_pipeline_factory_expand (EchoPipelineFactory * factory, const char *kind,
    GHashTable * values, GError ** error);

/**
 * echo_pipeline_factory_build:
 *
 * echo_pipeline_factory_expand(), parsed into a new pipeline in state NULL whose named
 * elements are checked as at load time.
 *
 * Returns: (transfer full): the pipeline, or NULL with @error set
 */
GstPipeline *echo_pipeline_factory_build (EchoPipelineFactory * factory,
    const char *kind, GHashTable * values, GError ** error);

G_END_DECLS
