/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-relay-output.h: the output side of a server-side player: a session pipeline from
 * the factory whose appsrc feeds sharerelay, the timeline the player's audio is stamped
 * on, the feeder thread that keeps it fed, and the volume ramp.
 *
 * The pipeline
 * ------------
 * Built from the factory's template of the given kind (music, radio) with the session's
 * values ({session}, {latency}, {token}, {announce}), it holds an appsrc (the spec's
 * `input`, set block=false: pushes never wait), a `volume` element and the sharerelay
 * `relay`. echo_relay_output_start() sets it PLAYING; the relay's bound port is kept, so
 * a pipeline built again (after an error) serves on the same port and receivers keep
 * their subscription target. An ERROR on its bus is logged, the pipeline is torn down and
 * the owner's `failed` is called (on the owner's context); warnings are logged.
 *
 * The timeline
 * ------------
 * Audio is pushed as F32LE 48 kHz stereo (ECHO_RELAY_OUTPUT_CAPS) stamped
 *
 *     PTS = anchor + (frames pushed since the anchor) / 48000
 *
 * in running time of the pipeline's clock. The owner anchors the timeline (the first
 * buffer after an anchor is flagged DISCONT: the mixer places audio by its timestamps
 * only after one), and re-anchors when it fell behind the clock (is_behind). A new
 * pipeline starts without a timeline.
 *
 * The feeder
 * ----------
 * One thread calls the owner's `tick` with the output's lock held every 10 ms (every
 * second while `tick` says it has nothing to do), from the first start to the free. The
 * lock guards the timeline and whatever of the owner's state the tick works on: the owner
 * takes it with echo_relay_output_lock() and wakes the feeder with
 * echo_relay_output_wake().
 *
 * Threading: new, start, stop, free, set_volume and the getters are called on the owner's
 * thread (whose thread-default context is current at new); the functions marked "under
 * the lock" from the tick or with the lock held.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/app/app.h>
#include <gst/gst.h>

#include "echo-pipeline-factory.h"

G_BEGIN_DECLS

/* The relay's audio format. */
#define ECHO_RELAY_OUTPUT_RATE 48000
#define ECHO_RELAY_OUTPUT_CHANNELS 2
#define ECHO_RELAY_OUTPUT_FRAME_BYTES (ECHO_RELAY_OUTPUT_CHANNELS * sizeof (float))
#define ECHO_RELAY_OUTPUT_CAPS \
  "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved"

/* Fed audio must be at least this far ahead of the clock, else the mixer may drop it. */
#define ECHO_RELAY_OUTPUT_MIN_MARGIN (20 * GST_MSECOND)

typedef struct _EchoRelayOutput EchoRelayOutput;

/* Under the lock; TRUE: call again in 10 ms, FALSE: nothing to do but wait (1 s or a
 * wake). */
typedef gboolean (*EchoRelayOutputTick) (EchoRelayOutput * output, gpointer owner);

/* The pipeline failed and is torn down; @failure (ECHO_PIPELINE_ERROR_FAILED) says how.
 * On the owner's context; the owner may free the output (and itself) in it. */
typedef void (*EchoRelayOutputFailed) (EchoRelayOutput * output, const GError * failure,
    gpointer owner);

typedef struct
{
  EchoPipelineFactory *factory; /* must outlive the output */
  const char *kind;             /* the template: ECHO_PIPELINE_KIND_MUSIC, ..._RADIO */
  const char *session_id;
  guint latency_ms;
  const char *token;            /* nullable */
  gboolean announce;
  const char *input;            /* the appsrc fed: ECHO_PIPELINE_ELEMENT_TRACKS, ... */
  /* nullable: a top-level bin of the template taken out of the pipeline before it
   * starts (radio's `station`, built per connection by the player) */
  const char *detached;
  const char *thread_name;
  EchoRelayOutputTick tick;
  EchoRelayOutputFailed failed;
  gpointer owner;
} EchoRelayOutputSpec;

/* An output for @spec (copied): no pipeline and no feeder yet. */
EchoRelayOutput *echo_relay_output_new (const EchoRelayOutputSpec * spec);

/* Stops the pipeline and the feeder (joined: no tick after this) and frees. NULL is
 * allowed. */
void echo_relay_output_free (EchoRelayOutput * output);

/**
 * echo_relay_output_start:
 * @error: ECHO_PIPELINE_ERROR_* from the factory, _TEMPLATE for a missing element,
 *   _FAILED when the pipeline does not start
 *
 * Unless the pipeline runs: builds it and sets it PLAYING (the relay's port is bound on
 * return), and starts the feeder if it is not running yet.
 */
gboolean echo_relay_output_start (EchoRelayOutput * output, GError ** error);

/* Stops the pipeline at once and drops it (and the timeline); the port is kept for the
 * next start. The feeder keeps ticking (with no time). */
void echo_relay_output_stop (EchoRelayOutput * output);

/* The gain 0..1 (clamped), reached by a 50 ms linear ramp from wherever the volume is
 * now; kept for pipelines built later. */
void echo_relay_output_set_volume (EchoRelayOutput * output, double gain);

/* Another instance of the template with the session's values (transfer full), not
 * started: for parts of it the owner runs on its own (radio's `station`). */
GstPipeline *echo_relay_output_build_template (EchoRelayOutput * output, GError ** error);

/* The UDP port sharerelay serves on; 0 while no pipeline runs. */
guint16 echo_relay_output_get_port (EchoRelayOutput * output);

/* The running pipeline (transfer none), NULL while none runs. */
GstPipeline *echo_relay_output_get_pipeline (EchoRelayOutput * output);

void echo_relay_output_lock (EchoRelayOutput * output);
void echo_relay_output_unlock (EchoRelayOutput * output);
/* Under the lock: the feeder ticks now. */
void echo_relay_output_wake (EchoRelayOutput * output);

/* Under the lock. The pipeline's running time now; GST_CLOCK_TIME_NONE while no
 * pipeline runs or its clock has no time yet. */
GstClockTime echo_relay_output_now (EchoRelayOutput * output);

/* Under the lock. Whether there is a timeline (an anchor since the pipeline started). */
gboolean echo_relay_output_has_timeline (EchoRelayOutput * output);

/* Under the lock. The PTS of the next frame pushed (with a timeline). */
GstClockTime echo_relay_output_next_pts (EchoRelayOutput * output);

/* Under the lock. Whether there is a timeline and its audio ends less than
 * ECHO_RELAY_OUTPUT_MIN_MARGIN ahead of @now: the next push would come too late. */
gboolean echo_relay_output_is_behind (EchoRelayOutput * output, GstClockTime now);

/* Under the lock. Logs (info) that the timeline fell behind @now and is re-anchored. */
void echo_relay_output_log_behind (EchoRelayOutput * output, GstClockTime now);

/* Under the lock. Starts the timeline afresh at @pts; the next buffer is DISCONT. */
void echo_relay_output_anchor (EchoRelayOutput * output, GstClockTime pts);

/* Under the lock, with a timeline and a pipeline (a valid now). Stamps @buf (whole
 * frames of the relay's format: takes it) at the next PTS, advances the timeline and
 * pushes it; never blocks. FALSE: the pipeline is flushing (stopping). */
gboolean echo_relay_output_push (EchoRelayOutput * output, GstBuffer * buf);

G_END_DECLS
