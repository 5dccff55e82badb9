/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-player.c: decoding tracks and feeding them, on one continuous timeline,
 * into a music session's pipeline.
 *
 * Decoders
 * --------
 * Each track has its own small pipeline, uridecodebin ! audioconvert ! audioresample !
 * appsink (echo-decode-chain.h), producing F32LE 48 kHz stereo: the relay's format. It is not synced to any
 * clock: it decodes ahead until its appsink holds DECODER_MAX_BUFFERS, then waits. It
 * prerolls (PAUSED), seeks when the track starts later than 0, and is set PLAYING: then
 * it is READY and the feeder may take its audio. A queued next track's decoder does all
 * that while the current one plays, so its first audio is waiting when the current one
 * runs out. Its bus is watched on the owner's context (errors, preroll).
 *
 * The timeline
 * ------------
 * The music pipeline, its feeder thread and the timeline are the relay output's
 * (echo-relay-output.h). The feeder pushes decoded audio into the pipeline's appsrc
 * `tracks` with timestamps (running time on the pipeline's clock, the relay's session
 * clock) computed from a sample count since an anchor:
 *
 *     PTS = anchor + (frames fed since the anchor) / 48000
 *
 * It keeps the audio fed ECHO_MUSIC_PLAYER_LEAD_MS ahead of the clock. When the current
 * track's decoder is at its end, the next track's first frame is simply the next frame
 * of the count: the join has no gap and no overlap by construction, whatever the
 * decoders' own timestamps say. The anchor is taken afresh (now + lead, flagged DISCONT
 * for the mixer) only after a real gap: a start, a resume, a seek, a decoder that was not
 * ready in time, or a feeder stall that let the timeline fall behind the clock. Between
 * gaps the mixer also gets a live silence source, so the relay's timeline never stops.
 *
 * Each stretch of fed audio records (item, PTS of its first frame, track position of
 * that frame, frames): the position audible now is read off the stretch the clock is in,
 * and `started`/`ended` are timed events fired when the clock reaches their PTS, so they
 * say when things are heard at the relay, not when they were decoded.
 *
 * Threads
 * -------
 * The output's lock guards the decoders' roles (current, next), the timeline, the
 * stretches and the timed events; the feeder holds it while it works (every 10 ms; it
 * never blocks inside: appsink pulls and appsrc pushes do not wait). Callbacks reach the
 * owner through an event queue (echo-event-queue.h) on its context; so do decoders the
 * feeder is done with, which are stopped there (the owner's thread stops every
 * pipeline).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-music-player.h"

#include <gst/app/app.h>
#include <string.h>

#include "echo-decode-chain.h"
#include "echo-event-queue.h"
#include "echo-relay-output.h"

#define RATE ECHO_RELAY_OUTPUT_RATE
#define CHANNELS ECHO_RELAY_OUTPUT_CHANNELS
#define FRAME_BYTES ECHO_RELAY_OUTPUT_FRAME_BYTES
#define DECODER_MAX_BUFFERS 32
/* at most this much per buffer fed: keeps pause and fades fine-grained */
#define CHUNK_FRAMES 960
#define ITEM_ID_MAX 128

/* ---------------------------------------------------------------------------------- */
/* Decoders                                                                             */

typedef enum
{
  DECODER_PREROLLING,
  DECODER_SEEKING,
  DECODER_READY,
  DECODER_FAILED,
} DecoderState;

typedef struct
{
  EchoMusicPlayer *player;      /* the bus watch's; the watch dies before the player */
  char *item_id;
  char *uri;
  gint64 start_ms;
  GstElement *pipeline;
  EchoDecodeChain *chain;
  GstAppSink *sink;             /* the chain's */
  GSource *bus_source;

  /* under the player's lock */
  DecoderState state;
  char *error;
  gboolean announce;            /* fire `started` at its first audio */
  gboolean begun;               /* some of its audio was fed */
  GstSample *pending;           /* pulled, partly fed */
  GstMapInfo pending_map;
  gsize pending_offset, pending_frames;
  gint64 pos_frames;            /* the track position of the next frame to feed */
} Decoder;

static void
decoder_drop_pending (Decoder * d)
{
  if (d->pending == NULL)
    return;
  gst_buffer_unmap (gst_sample_get_buffer (d->pending), &d->pending_map);
  g_clear_pointer (&d->pending, gst_sample_unref);
}

/* A decoder has one owner at a time (a role in the player, an event, a local); it is
 * stopped and freed on the owner's thread only. */

/* Stops its pipeline (joins its threads) and its bus watch. */
static void
decoder_stop (Decoder * d)
{
  if (d->bus_source != NULL) {
    g_source_destroy (d->bus_source);
    g_clear_pointer (&d->bus_source, g_source_unref);
  }
  if (d->pipeline != NULL)
    gst_element_set_state (d->pipeline, GST_STATE_NULL);
}

static void
decoder_free (Decoder * d)
{
  if (d == NULL)
    return;
  decoder_stop (d);
  decoder_drop_pending (d);
  g_clear_pointer (&d->chain, echo_decode_chain_free);
  g_clear_object (&d->pipeline);
  g_free (d->item_id);
  g_free (d->uri);
  g_free (d->error);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Decoder, decoder_free)

/* ---------------------------------------------------------------------------------- */
/* Events for the owner                                                                 */

typedef enum
{
  EVENT_STARTED,
  EVENT_ENDED,
  EVENT_FAILED,
  EVENT_RETIRE,                 /* a decoder the feeder is done with: stop it */
} EventType;

typedef struct
{
  EventType type;
  GstClockTime pts;             /* timed events: fire when the clock reaches it */
  char *item_id;
  char *message;
  Decoder *decoder;             /* EVENT_RETIRE */
  guint generation;
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;

  g_free (ev->item_id);
  g_free (ev->message);
  if (ev->decoder != NULL)
    decoder_free (ev->decoder);
  g_free (ev);
}

typedef struct
{
  char *item_id;
  GstClockTime pts0;
  gint64 pos0_frames;
  guint64 frames;
} Stretch;

static void
stretch_free (gpointer data)
{
  Stretch *s = data;

  g_free (s->item_id);
  g_free (s);
}

struct _EchoMusicPlayer
{
  char *session_id;
  GMainContext *context;        /* the decoders' bus watches' */
  EchoMusicPlayerCallbacks callbacks;

  /* owner's thread */
  EchoRelayOutput *output;      /* the music pipeline, the timeline, the feeder */
  guint volume_percent;
  EchoEventQueue *events;       /* of Event, for the owner */

  /* under the output's lock */
  Decoder *current, *next;
  gboolean paused;
  gboolean need_anchor;
  double gain, gain_step;       /* the fade: gain moves by gain_step for fade_left frames */
  guint fade_left;
  double gain_target;
  Stretch *open_stretch;        /* the stretch being fed, in `stretches` */
  GQueue stretches;
  GQueue timed;                 /* of Event, by pts */
  char *started_item;           /* the last item `started` fired for */
  guint generation;             /* +1 on play/stop: older events are stale */
};

static void
post_event (EchoMusicPlayer * p, Event * ev)
{
  echo_event_queue_post (p->events, ev);
}

/* Under lock. */
static void
retire_decoder (EchoMusicPlayer * p, Decoder * d)
{
  Event *ev;

  if (d == NULL)
    return;
  ev = g_new0 (Event, 1);
  ev->type = EVENT_RETIRE;
  ev->decoder = d;              /* takes it */
  post_event (p, ev);
}

/* For g_queue_insert_sorted(), which inserts before the first element this is not
 * negative for: events at the same time stay in the order they were added. */
static gint
compare_pts_stable (gconstpointer queued, gconstpointer added, gpointer user_data)
{
  const Event *x = queued, *y = added;

  return x->pts <= y->pts ? -1 : 1;
}

/* Under lock. */
static void
add_timed (EchoMusicPlayer * p, EventType type, GstClockTime pts, const char *item_id,
    const char *message)
{
  Event *ev = g_new0 (Event, 1);

  ev->type = type;
  ev->pts = pts;
  ev->item_id = g_strdup (item_id);
  ev->message = g_strdup (message);
  g_queue_insert_sorted (&p->timed, ev, compare_pts_stable, NULL);
}

static void
clear_timed (EchoMusicPlayer * p)
{
  g_queue_clear_full (&p->timed, event_free);
}

static void
clear_stretches (EchoMusicPlayer * p)
{
  g_queue_clear_full (&p->stretches, stretch_free);
  p->open_stretch = NULL;
}

/* ---------------------------------------------------------------------------------- */
/* The feeder thread                                                                    */

static GstClockTime
next_pts (EchoMusicPlayer * p)
{
  return echo_relay_output_next_pts (p->output);
}

/* The decoder's next unfed frames (at most what its pending buffer holds), or 0. */
static gsize
decoder_peek (Decoder * d, const float **data)
{
  while (d->pending == NULL) {
    GstSample *sample = gst_app_sink_try_pull_sample (d->sink, 0);
    GstBuffer *buf;
    const GstSegment *segment;
    GstClockTime pts;

    if (sample == NULL)
      return 0;
    buf = gst_sample_get_buffer (sample);
    if (buf == NULL || gst_buffer_get_size (buf) < FRAME_BYTES
        || !gst_buffer_map (buf, &d->pending_map, GST_MAP_READ)) {
      gst_sample_unref (sample);
      continue;
    }
    /* the position from the decoder's own timeline: exact after an accurate seek */
    segment = gst_sample_get_segment (sample);
    pts = GST_BUFFER_PTS (buf);
    if (segment != NULL && segment->format == GST_FORMAT_TIME
        && GST_CLOCK_TIME_IS_VALID (pts)) {
      guint64 st = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, pts);

      if (GST_CLOCK_TIME_IS_VALID (st))
        d->pos_frames = (gint64) gst_util_uint64_scale_round (st, RATE, GST_SECOND);
    }
    d->pending = sample;
    d->pending_offset = 0;
    d->pending_frames = d->pending_map.size / FRAME_BYTES;
  }
  *data = (const float *) d->pending_map.data + d->pending_offset * CHANNELS;
  return d->pending_frames - d->pending_offset;
}

static void
decoder_consume (Decoder * d, gsize frames)
{
  d->pending_offset += frames;
  d->pos_frames += frames;
  if (d->pending_offset >= d->pending_frames)
    decoder_drop_pending (d);
}

static void
start_fade (EchoMusicPlayer * p, double target)
{
  guint frames = ECHO_MUSIC_PLAYER_FADE_MS * RATE / 1000;

  p->gain_target = target;
  p->fade_left = frames;
  p->gain_step = (target - p->gain) / frames;
}

static void
open_stretch (EchoMusicPlayer * p, Decoder * d)
{
  Stretch *s = g_new0 (Stretch, 1);

  s->item_id = g_strdup (d->item_id);
  s->pts0 = next_pts (p);
  s->pos0_frames = d->pos_frames;
  g_queue_push_tail (&p->stretches, s);
  p->open_stretch = s;
}

/* The current decoder is done (end of stream or failure): its end is timed where its
 * fed audio ends, and the next decoder takes its place on the same timeline. */
static void
end_current (EchoMusicPlayer * p, GstClockTime now)
{
  Decoder *d = p->current;
  GstClockTime at = echo_relay_output_has_timeline (p->output) ?
      MAX (next_pts (p), now) : now;

  if (d->state == DECODER_FAILED)
    add_timed (p, EVENT_FAILED, at, d->item_id, d->error);
  else
    add_timed (p, EVENT_ENDED, at, d->item_id, NULL);
  p->current = p->next;
  p->next = NULL;
  p->open_stretch = NULL;
  retire_decoder (p, d);
}

/* Feeds until the audio is ECHO_MUSIC_PLAYER_LEAD_MS ahead of @now, or nothing is
 * ready. Under lock. */
static void
feed (EchoMusicPlayer * p, GstClockTime now)
{
  const GstClockTime lead = ECHO_MUSIC_PLAYER_LEAD_MS * GST_MSECOND;
  EchoRelayOutput *o = p->output;

  for (;;) {
    Decoder *d = p->current;
    const float *data;
    gsize frames, n, i;
    GstBuffer *buf;
    GstMapInfo map;
    float *out;
    gboolean pushed;

    if (d == NULL)
      return;
    if (d->state == DECODER_FAILED) {
      end_current (p, now);
      continue;
    }
    if (d->state != DECODER_READY)
      return;
    if (p->paused && p->gain <= 0.0)
      return;
    /* a stall: the timeline is re-anchored */
    if (!p->need_anchor && echo_relay_output_is_behind (o, now)) {
      if (d->begun)
        echo_relay_output_log_behind (o, now);
      p->need_anchor = TRUE;
    }
    if (echo_relay_output_has_timeline (o) && !p->need_anchor && next_pts (p) >= now + lead)
      return;

    frames = decoder_peek (d, &data);
    if (frames == 0) {
      if (gst_app_sink_is_eos (d->sink)) {
        end_current (p, now);
        continue;
      }
      return;                   /* still decoding: a late join re-anchors */
    }

    if (p->need_anchor || !echo_relay_output_has_timeline (o)) {
      GstClockTime base = now + lead;

      if (echo_relay_output_has_timeline (o) && next_pts (p) > base)
        base = next_pts (p);    /* after audio already fed: no overlap */
      echo_relay_output_anchor (o, base);
      p->need_anchor = FALSE;
      p->gain = 0.0;
      start_fade (p, 1.0);
      open_stretch (p, d);
    } else if (p->open_stretch == NULL
        || strcmp (p->open_stretch->item_id, d->item_id) != 0) {
      open_stretch (p, d);      /* a gapless join */
    }
    if (!d->begun) {
      d->begun = TRUE;
      if (d->announce)
        add_timed (p, EVENT_STARTED, next_pts (p), d->item_id, NULL);
    }

    n = MIN (frames, CHUNK_FRAMES);
    if (p->fade_left > 0 && p->gain_target <= 0.0)
      n = MIN (n, p->fade_left);        /* stop exactly where the fade-out ends */
    buf = gst_buffer_new_allocate (NULL, n * FRAME_BYTES, NULL);
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    out = (float *) map.data;
    if (p->fade_left == 0 && p->gain == 1.0) {
      memcpy (out, data, n * FRAME_BYTES);
    } else {
      for (i = 0; i < n; i++) {
        if (p->fade_left > 0) {
          p->gain += p->gain_step;
          if (--p->fade_left == 0)
            p->gain = p->gain_target;
        }
        out[i * CHANNELS] = (float) (data[i * CHANNELS] * p->gain);
        out[i * CHANNELS + 1] = (float) (data[i * CHANNELS + 1] * p->gain);
      }
    }
    gst_buffer_unmap (buf, &map);
    pushed = echo_relay_output_push (o, buf);
    decoder_consume (d, n);
    p->open_stretch->frames += n;
    if (!pushed)
      return;                   /* flushing: the pipeline is stopping */
    if (p->paused && p->gain <= 0.0) {
      p->need_anchor = TRUE;    /* faded out: a resume starts a new stretch */
      return;
    }
  }
}

/* Under lock: hands the events that are due to the owner. */
static void
fire_due (EchoMusicPlayer * p, GstClockTime now)
{
  Event *ev;

  while ((ev = g_queue_peek_head (&p->timed)) != NULL && ev->pts <= now) {
    g_queue_pop_head (&p->timed);
    if (ev->type == EVENT_STARTED) {
      g_free (p->started_item);
      p->started_item = g_strdup (ev->item_id);
    }
    ev->generation = p->generation;
    post_event (p, ev);
  }
}

/* Under lock: drops stretches a later one has replaced at @now. */
static void
prune_stretches (EchoMusicPlayer * p, GstClockTime now)
{
  GList *second;

  while ((second = g_queue_peek_head_link (&p->stretches)) != NULL
      && (second = second->next) != NULL && ((Stretch *) second->data)->pts0 <= now) {
    Stretch *s = g_queue_pop_head (&p->stretches);

    if (p->open_stretch == s)
      p->open_stretch = NULL;
    stretch_free (s);
  }
}

/* The feeder thread's work, under the output's lock. */
static gboolean
feeder_tick (EchoRelayOutput * o, gpointer user_data)
{
  EchoMusicPlayer *p = user_data;
  GstClockTime now = echo_relay_output_now (o);

  if (GST_CLOCK_TIME_IS_VALID (now)) {
    feed (p, now);
    fire_due (p, now);
    prune_stretches (p, now);
  }
  return p->current != NULL || !g_queue_is_empty (&p->timed);
}

/* ---------------------------------------------------------------------------------- */
/* The owner's side of events                                                           */

/* One event (which the queue frees); retired decoders are stopped as they are freed. */
static void
dispatch_event (gpointer event, gpointer user_data)
{
  EchoMusicPlayer *p = user_data;
  Event *ev = event;
  const EchoMusicPlayerCallbacks *cb = &p->callbacks;

  if (ev->type == EVENT_RETIRE || ev->generation != p->generation)
    return;
  if (ev->type == EVENT_STARTED && cb->started != NULL)
    cb->started (p, ev->item_id, cb->user_data);
  else if (ev->type == EVENT_ENDED && cb->ended != NULL)
    cb->ended (p, ev->item_id, cb->user_data);
  else if (ev->type == EVENT_FAILED) {
    if (cb->failed != NULL)
      cb->failed (p, ev->item_id, ev->message, cb->user_data);
    else
      g_message ("music session %s: item %s failed: %s", p->session_id, ev->item_id,
          ev->message);
  }
}

/* ---------------------------------------------------------------------------------- */
/* Building decoders                                                                    */

static void
on_no_more_pads (GstElement * decodebin, gpointer user_data)
{
  Decoder *d = user_data;

  if (!echo_decode_chain_has_audio (d->chain))
    GST_ELEMENT_ERROR (decodebin, STREAM, WRONG_TYPE, ("no audio stream"), (NULL));
}

static void
decoder_fail (EchoMusicPlayer * p, Decoder * d, const char *message)
{
  echo_relay_output_lock (p->output);
  if (d->state != DECODER_FAILED) {
    d->state = DECODER_FAILED;
    g_free (d->error);
    d->error = g_strdup (message);
  }
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
}

static void
decoder_start_playing (EchoMusicPlayer * p, Decoder * d)
{
  echo_relay_output_lock (p->output);
  if (d->state != DECODER_FAILED)
    d->state = DECODER_READY;
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
  /* a non-live pipeline goes PLAYING at once; its appsink then fills up and waits */
  if (gst_element_set_state (d->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    decoder_fail (p, d, "the decoder did not start");
}

static gboolean
on_decoder_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Decoder *d = user_data;
  EchoMusicPlayer *p = d->player;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = NULL;
      g_autofree char *debug = NULL;

      gst_message_parse_error (msg, &error, &debug);
      g_info ("music session %s: item %s (%s): %s: %s", p->session_id, d->item_id,
          d->uri, GST_MESSAGE_SRC_NAME (msg), debug != NULL ? debug : error->message);
      decoder_fail (p, d, error->message);
      break;
    }
    case GST_MESSAGE_ASYNC_DONE:{
      DecoderState state;

      if (GST_MESSAGE_SRC (msg) != GST_OBJECT (d->pipeline))
        break;
      echo_relay_output_lock (p->output);
      state = d->state;
      if (state == DECODER_PREROLLING && d->start_ms > 0)
        d->state = DECODER_SEEKING;
      echo_relay_output_unlock (p->output);
      if (state == DECODER_PREROLLING && d->start_ms > 0) {
        /* prerolled: seek there (the flushing seek prerolls again: ASYNC_DONE) */
        if (gst_element_seek_simple (d->pipeline, GST_FORMAT_TIME,
                GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, d->start_ms * GST_MSECOND))
          break;
        g_info ("music session %s: item %s cannot seek to %" G_GINT64_FORMAT " ms; "
            "playing it from the start", p->session_id, d->item_id, d->start_ms);
        decoder_start_playing (p, d);
      } else if (state == DECODER_PREROLLING || state == DECODER_SEEKING) {
        decoder_start_playing (p, d);
      }
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
valid_item_id (const char *id)
{
  const char *c;

  if (id == NULL || *id == '\0' || strlen (id) > ITEM_ID_MAX)
    return FALSE;
  for (c = id; *c != '\0'; c++) {
    if (*c < 0x20 || *c > 0x7e)
      return FALSE;
  }
  return TRUE;
}

static gboolean
check_track (const char *item_id, const char *uri, GError ** error)
{
  g_autofree char *scheme = NULL;

  if (!valid_item_id (item_id)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "an item id is 1 to %d printable ASCII characters", ITEM_ID_MAX);
    return FALSE;
  }
  scheme = uri != NULL ? g_uri_parse_scheme (uri) : NULL;
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "file") != 0
          && g_ascii_strcasecmp (scheme, "http") != 0
          && g_ascii_strcasecmp (scheme, "https") != 0)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "item %s: the player plays file://, http:// and https:// URIs only", item_id);
    return FALSE;
  }
  return TRUE;
}

/* A decoder for @uri, prerolling (asynchronously) from @start_ms. */
static Decoder *
decoder_new (EchoMusicPlayer * p, const char *item_id, const char *uri, gint64 start_ms,
    GError ** error)
{
  g_autoptr (Decoder) d = g_new0 (Decoder, 1);
  g_autoptr (GstBus) bus = NULL;
  GstElement *src;

  d->player = p;
  d->item_id = g_strdup (item_id);
  d->uri = g_strdup (uri);
  d->start_ms = start_ms;
  d->pos_frames = start_ms * RATE / 1000;
  d->state = DECODER_PREROLLING;

  d->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  d->chain = echo_decode_chain_new (GST_BIN (d->pipeline), "uridecodebin",
      DECODER_MAX_BUFFERS, error);
  if (d->chain == NULL)
    return NULL;
  d->sink = echo_decode_chain_get_sink (d->chain);
  src = echo_decode_chain_get_decoder (d->chain);
  g_object_set (src, "uri", uri, NULL);
  g_signal_connect (src, "no-more-pads", G_CALLBACK (on_no_more_pads), d);

  bus = gst_pipeline_get_bus (GST_PIPELINE (d->pipeline));
  d->bus_source = gst_bus_create_watch (bus);
  /* no reference: the last unref (on this context) destroys the watch first */
  g_source_set_callback (d->bus_source, G_SOURCE_FUNC (on_decoder_message), d, NULL);
  g_source_attach (d->bus_source, p->context);

  /* a missing file fails here and posts an ERROR, which the watch reports */
  if (gst_element_set_state (d->pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    d->state = DECODER_FAILED;
    d->error = g_strdup ("the decoder did not start");
  }
  return g_steal_pointer (&d);
}

/* ---------------------------------------------------------------------------------- */
/* The music pipeline                                                                   */

static void stop_tracks (EchoMusicPlayer * p, gboolean failed, const char *message);

/* The pipeline is down (the next play() builds it again): the tracks fail. */
static void
on_output_failed (EchoRelayOutput * o, const GError * failure, gpointer user_data)
{
  EchoMusicPlayer *p = user_data;

  stop_tracks (p, TRUE, failure->message);
}

static void finish_free (gpointer data);
static void stop_playing (gpointer data);

EchoMusicPlayer *
echo_music_player_new (EchoPipelineFactory * factory, const char *session_id,
    const char *token, gboolean announce, const EchoMusicPlayerCallbacks * callbacks,
    GError ** error)
{
  EchoMusicPlayer *p;
  EchoRelayOutputSpec spec = {
    .factory = factory,
    .kind = ECHO_PIPELINE_KIND_MUSIC,
    .session_id = session_id,
    .latency_ms = ECHO_MUSIC_PLAYER_LATENCY_MS,
    .token = token,
    .announce = announce,
    .input = ECHO_PIPELINE_ELEMENT_TRACKS,
    .thread_name = "echo-music-feed",
    .tick = feeder_tick,
    .failed = on_output_failed,
  };

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = g_new0 (EchoMusicPlayer, 1);
  p->session_id = g_strdup (session_id);
  p->context = g_main_context_ref_thread_default ();
  if (callbacks != NULL)
    p->callbacks = *callbacks;
  p->volume_percent = 100;
  p->gain = 1.0;
  p->gain_target = 1.0;
  g_queue_init (&p->stretches);
  g_queue_init (&p->timed);

  p->events = echo_event_queue_new ("echo music player: events", p->context,
      dispatch_event, event_free, finish_free, p);
  spec.owner = p;
  p->output = echo_relay_output_new (&spec);

  if (!echo_relay_output_start (p->output, error)) {
    echo_music_player_free (p);
    return NULL;
  }
  return p;
}

/* ---------------------------------------------------------------------------------- */
/* Control                                                                              */

/* Drops the current and next decoders (stopping them here), the timed events and the
 * stretches. With @failed, the current item is reported failed with @message. */
static void
stop_tracks (EchoMusicPlayer * p, gboolean failed, const char *message)
{
  Decoder *current, *next;

  echo_relay_output_lock (p->output);
  current = g_steal_pointer (&p->current);
  next = g_steal_pointer (&p->next);
  clear_timed (p);
  clear_stretches (p);
  p->generation++;
  p->need_anchor = TRUE;
  p->paused = FALSE;
  if (failed && current != NULL) {
    Event *ev = g_new0 (Event, 1);

    ev->type = EVENT_FAILED;
    ev->item_id = g_strdup (current->item_id);
    ev->message = g_strdup (message);
    ev->generation = p->generation;
    post_event (p, ev);
  }
  echo_relay_output_unlock (p->output);
  decoder_free (current);
  decoder_free (next);
}

static gboolean
ensure_pipeline (EchoMusicPlayer * p, GError ** error)
{
  return echo_relay_output_start (p->output, error);
}

gboolean
echo_music_player_play (EchoMusicPlayer * p, const char *item_id, const char *uri,
    gint64 start_ms, GError ** error)
{
  Decoder *d;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_track (item_id, uri, error))
    return FALSE;
  if (start_ms < 0) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "a start position is >= 0 ms");
    return FALSE;
  }
  if (!ensure_pipeline (p, error))
    return FALSE;
  d = decoder_new (p, item_id, uri, start_ms, error);
  if (d == NULL)
    return FALSE;
  d->announce = TRUE;

  stop_tracks (p, FALSE, NULL);
  echo_relay_output_lock (p->output);
  p->current = d;
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
  return TRUE;
}

gboolean
echo_music_player_queue_next (EchoMusicPlayer * p, const char *item_id, const char *uri,
    GError ** error)
{
  Decoder *d, *old = NULL;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_track (item_id, uri, error))
    return FALSE;
  if (!ensure_pipeline (p, error))
    return FALSE;
  d = decoder_new (p, item_id, uri, 0, error);
  if (d == NULL)
    return FALSE;
  d->announce = TRUE;

  echo_relay_output_lock (p->output);
  if (p->current == NULL) {
    /* nothing plays (any more): this starts now, after audio still playing out; the
     * ended event of the previous item, if still due, keeps its time */
    p->current = d;
    p->need_anchor = TRUE;
    p->paused = FALSE;
  } else {
    old = p->next;
    p->next = d;
  }
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
  decoder_free (old);
  return TRUE;
}

void
echo_music_player_clear_next (EchoMusicPlayer * p)
{
  Decoder *old;

  g_return_if_fail (p != NULL);

  echo_relay_output_lock (p->output);
  old = g_steal_pointer (&p->next);
  echo_relay_output_unlock (p->output);
  decoder_free (old);
}

void
echo_music_player_pause (EchoMusicPlayer * p)
{
  g_return_if_fail (p != NULL);

  echo_relay_output_lock (p->output);
  if (!p->paused) {
    p->paused = TRUE;
    if (p->open_stretch != NULL && p->gain > 0.0 && !p->need_anchor)
      start_fade (p, 0.0);
    else
      p->gain = 0.0;            /* nothing audible yet: stop at once */
    echo_relay_output_wake (p->output);
  }
  echo_relay_output_unlock (p->output);
}

void
echo_music_player_resume (EchoMusicPlayer * p)
{
  g_return_if_fail (p != NULL);

  echo_relay_output_lock (p->output);
  if (p->paused) {
    p->paused = FALSE;
    if (p->gain > 0.0 && !p->need_anchor)
      start_fade (p, 1.0);      /* resumed during the fade-out: back up */
    else
      p->need_anchor = TRUE;
    echo_relay_output_wake (p->output);
  }
  echo_relay_output_unlock (p->output);
}

gboolean
echo_music_player_is_paused (EchoMusicPlayer * p)
{
  gboolean paused;

  g_return_val_if_fail (p != NULL, FALSE);

  echo_relay_output_lock (p->output);
  paused = p->paused;
  echo_relay_output_unlock (p->output);
  return paused;
}

gboolean
echo_music_player_seek (EchoMusicPlayer * p, gint64 position_ms, GError ** error)
{
  g_autofree char *item = NULL;
  g_autofree char *uri = NULL;
  Decoder *d, *old;
  GList *l;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (position_ms < 0) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "a seek position is >= 0 ms");
    return FALSE;
  }
  echo_relay_output_lock (p->output);
  if (p->current != NULL) {
    item = g_strdup (p->current->item_id);
    uri = g_strdup (p->current->uri);
  }
  echo_relay_output_unlock (p->output);
  if (item == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND,
        "nothing plays: there is nothing to seek in");
    return FALSE;
  }
  d = decoder_new (p, item, uri, position_ms, error);
  if (d == NULL)
    return FALSE;

  echo_relay_output_lock (p->output);
  old = p->current;
  if (old == NULL || strcmp (old->item_id, item) != 0) {
    /* it ended meanwhile: nothing to seek in any more */
    echo_relay_output_unlock (p->output);
    decoder_free (d);
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND,
        "item %s ended before the seek", item);
    return FALSE;
  }
  /* `started` still owed when it has not fired (or is pending) yet */
  d->announce = g_strcmp0 (p->started_item, item) != 0;
  for (l = p->timed.head; l != NULL;) {
    GList *following = l->next;
    Event *ev = l->data;

    if (ev->type == EVENT_STARTED && strcmp (ev->item_id, item) == 0) {
      event_free (ev);
      g_queue_delete_link (&p->timed, l);
      d->announce = TRUE;
    }
    l = following;
  }
  /* the position jumps: this item's stretches no longer tell it */
  for (l = p->stretches.head; l != NULL;) {
    GList *following = l->next;
    Stretch *s = l->data;

    if (strcmp (s->item_id, item) == 0) {
      if (p->open_stretch == s)
        p->open_stretch = NULL;
      stretch_free (s);
      g_queue_delete_link (&p->stretches, l);
    }
    l = following;
  }
  p->current = d;
  p->need_anchor = TRUE;
  if (p->paused)
    p->gain = 0.0;
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
  decoder_free (old);
  return TRUE;
}

void
echo_music_player_set_volume (EchoMusicPlayer * p, guint volume)
{
  g_return_if_fail (p != NULL);

  volume = MIN (volume, 100);
  echo_relay_output_set_volume (p->output, volume / 100.0);
  p->volume_percent = volume;
}

guint
echo_music_player_get_volume (EchoMusicPlayer * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return p->volume_percent;
}

void
echo_music_player_stop (EchoMusicPlayer * p)
{
  g_return_if_fail (p != NULL);

  stop_tracks (p, FALSE, NULL);
}

gint64
echo_music_player_get_position_ms (EchoMusicPlayer * p, char **item_id)
{
  GstClockTime now;
  const Stretch *audible = NULL;
  gint64 position = -1;
  GList *l;

  g_return_val_if_fail (p != NULL, -1);

  if (item_id != NULL)
    *item_id = NULL;
  echo_relay_output_lock (p->output);
  now = echo_relay_output_now (p->output);
  if (GST_CLOCK_TIME_IS_VALID (now)) {
    for (l = p->stretches.head; l != NULL; l = l->next) {
      const Stretch *s = l->data;

      if (s->pts0 > now)
        break;
      audible = s;
    }
  }
  /* an item that has played out and is no longer current is not playing */
  if (audible != NULL && gst_util_uint64_scale (now - audible->pts0, RATE, GST_SECOND)
      >= audible->frames && (p->current == NULL
          || strcmp (p->current->item_id, audible->item_id) != 0))
    audible = NULL;
  if (audible != NULL) {
    guint64 into = gst_util_uint64_scale (now - audible->pts0, RATE, GST_SECOND);

    position = (audible->pos0_frames + (gint64) MIN (into, audible->frames)) * 1000 / RATE;
    if (item_id != NULL)
      *item_id = g_strdup (audible->item_id);
  } else if (p->current != NULL) {
    /* loading, or its audio is still ahead of the clock */
    position = p->current->pos_frames * 1000 / RATE;
    if (item_id != NULL)
      *item_id = g_strdup (p->current->item_id);
  }
  echo_relay_output_unlock (p->output);
  return position;
}

guint16
echo_music_player_get_relay_port (EchoMusicPlayer * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return echo_relay_output_get_port (p->output);
}

GstPipeline *
echo_music_player_get_pipeline (EchoMusicPlayer * p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return echo_relay_output_get_pipeline (p->output);
}

/* ---------------------------------------------------------------------------------- */
/* Freeing                                                                              */

/* Frees what is left once no callback of ours runs (the event queue's finish). */
static void
finish_free (gpointer data)
{
  EchoMusicPlayer *p = data;

  stop_playing (p);
  /* joins the feeder */
  g_clear_pointer (&p->output, echo_relay_output_free);
  /* the retired decoders still queued are stopped as they are freed */
  echo_event_queue_free (p->events);
  g_free (p->started_item);
  g_main_context_unref (p->context);
  g_free (p->session_id);
  g_free (p);
}

/* What a free from inside a callback stops at once. */
static void
stop_playing (gpointer data)
{
  EchoMusicPlayer *p = data;

  stop_tracks (p, FALSE, NULL);
  echo_relay_output_stop (p->output);
}

void
echo_music_player_free (EchoMusicPlayer * p)
{
  if (p == NULL)
    return;
  echo_event_queue_finish (p->events, stop_playing);
}
