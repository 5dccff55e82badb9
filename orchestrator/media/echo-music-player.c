/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-player.c: decoding tracks and feeding them, on one continuous timeline,
 * into a music session's pipeline.
 *
 * Decoders
 * --------
 * Each track has its own small pipeline, uridecodebin ! audioconvert ! audioresample !
 * appsink, producing F32LE 48 kHz stereo: the relay's format. It is not synced to any
 * clock: it decodes ahead until its appsink holds DECODER_MAX_BUFFERS, then waits. It
 * prerolls (PAUSED), seeks when the track starts later than 0, and is set PLAYING: then
 * it is READY and the feeder may take its audio. A queued next track's decoder does all
 * that while the current one plays, so its first audio is waiting when the current one
 * runs out. Its bus is watched on the owner's context (errors, preroll).
 *
 * The timeline
 * ------------
 * The feeder thread pushes decoded audio into the pipeline's appsrc `tracks` with
 * timestamps (running time on the pipeline's clock, the relay's session clock) computed
 * from a sample count since an anchor:
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
 * `lock` guards the decoders' roles (current, next), the timeline, the stretches and the
 * timed events; the feeder holds it while it works (every 10 ms; it never blocks inside:
 * appsink pulls and appsrc pushes do not wait). Callbacks reach the owner through a
 * GAsyncQueue dispatched by a GSource on its context; so do decoders the feeder is done
 * with, which are stopped there (the owner's thread stops every pipeline).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-music-player.h"

#include <gst/app/app.h>
#include <gst/audio/audio.h>
#include <gst/controller/controller.h>
#include <string.h>

#include "echo-wake-source.h"

#define RATE 48000
#define CHANNELS 2
#define FRAME_BYTES (CHANNELS * sizeof (float))
#define DECODER_CAPS "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved"
#define DECODER_MAX_BUFFERS 32
/* at most this much per buffer fed: keeps pause and fades fine-grained */
#define CHUNK_FRAMES 960
/* fed audio must be at least this far ahead of the clock, else the mixer may drop it:
 * the timeline is re-anchored (a stall) */
#define MIN_MARGIN (20 * GST_MSECOND)
#define TICK_US (10 * G_TIME_SPAN_MILLISECOND)
#define IDLE_TICK_US (G_TIME_SPAN_SECOND)
#define VOLUME_RAMP (50 * GST_MSECOND)
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
  GstElement *convert;          /* where the audio pad links */
  GstAppSink *sink;
  GSource *bus_source;
  gint audio_linked;            /* atomic: set on a streaming thread */

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
  g_clear_object (&d->sink);
  g_clear_object (&d->convert);
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
  EchoPipelineFactory *factory; /* not owned */
  char *session_id;
  GHashTable *values;           /* the template's values, for rebuilds */
  GMainContext *context;
  EchoMusicPlayerCallbacks callbacks;

  /* owner's thread */
  GstPipeline *pipeline;
  GstElement *volume;
  GstElement *relay;
  GstControlSource *volume_cs;
  GSource *bus_source;
  guint16 port;
  guint volume_percent;
  GAsyncQueue *events;          /* of Event, for the owner */
  GSource *event_source;
  guint busy;
  gboolean doomed;

  GMutex lock;
  GCond cond;
  GThread *feeder;
  /* under lock */
  gboolean quit;
  GstElement *feed_pipeline;    /* the feeder's references to the pipeline */
  GstAppSrc *feed_src;
  Decoder *current, *next;
  gboolean paused;
  gboolean have_timeline;
  gboolean need_anchor;
  gboolean discont;
  GstClockTime anchor_pts;
  guint64 anchor_frames;
  double gain, gain_step;       /* the fade: gain moves by gain_step for fade_left frames */
  guint fade_left;
  double gain_target;
  Stretch *open_stretch;        /* the stretch being fed, in `stretches` */
  GQueue stretches;
  GQueue timed;                 /* of Event, by pts */
  char *started_item;           /* the last item `started` fired for */
  guint generation;             /* +1 on play/stop: older events are stale */
};

static void finish_free (EchoMusicPlayer * p);

static void
post_event (EchoMusicPlayer * p, Event * ev)
{
  g_async_queue_push (p->events, ev);
  echo_wake_source_wake (p->event_source);
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
  return p->anchor_pts + gst_util_uint64_scale_int (p->anchor_frames, GST_SECOND, RATE);
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
  GstClockTime at = p->have_timeline ? MAX (next_pts (p), now) : now;

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

  for (;;) {
    Decoder *d = p->current;
    const float *data;
    gsize frames, n, i;
    GstBuffer *buf;
    GstMapInfo map;
    float *out;
    GstClockTime pts;

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
    if (p->have_timeline && !p->need_anchor && next_pts (p) < now + MIN_MARGIN) {
      if (d->begun)
        g_info ("music session %s: the feed fell behind the clock by %" G_GINT64_FORMAT
            " ms; re-anchoring", p->session_id,
            (gint64) (now - next_pts (p)) / (gint64) GST_MSECOND);
      p->need_anchor = TRUE;
    }
    if (p->have_timeline && !p->need_anchor && next_pts (p) >= now + lead)
      return;

    frames = decoder_peek (d, &data);
    if (frames == 0) {
      if (gst_app_sink_is_eos (d->sink)) {
        end_current (p, now);
        continue;
      }
      return;                   /* still decoding: a late join re-anchors */
    }

    if (p->need_anchor || !p->have_timeline) {
      GstClockTime base = now + lead;

      if (p->have_timeline && next_pts (p) > base)
        base = next_pts (p);    /* after audio already fed: no overlap */
      p->anchor_pts = base;
      p->anchor_frames = 0;
      p->have_timeline = TRUE;
      p->need_anchor = FALSE;
      p->discont = TRUE;
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
    pts = next_pts (p);
    GST_BUFFER_PTS (buf) = pts;
    GST_BUFFER_DURATION (buf) = p->anchor_pts + gst_util_uint64_scale_int (p->anchor_frames
        + n, GST_SECOND, RATE) - pts;
    GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET_NONE;
    if (p->discont) {
      /* the mixer places audio by its timestamps only after a DISCONT; without it, it
       * would wait (discont-wait) before believing a jump */
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
      p->discont = FALSE;
    }
    decoder_consume (d, n);
    p->anchor_frames += n;
    p->open_stretch->frames += n;
    /* never blocks: appsrc queues without limit (block=false), the lead bounds it */
    if (gst_app_src_push_buffer (p->feed_src, buf) != GST_FLOW_OK)
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

static gpointer
feeder_main (gpointer user_data)
{
  EchoMusicPlayer *p = user_data;

  g_mutex_lock (&p->lock);
  while (!p->quit) {
    gboolean busy = FALSE;

    if (p->feed_pipeline != NULL) {
      GstClockTime now = gst_element_get_current_running_time (p->feed_pipeline);

      if (GST_CLOCK_TIME_IS_VALID (now)) {
        feed (p, now);
        fire_due (p, now);
        prune_stretches (p, now);
      }
      busy = p->current != NULL || !g_queue_is_empty (&p->timed);
    }
    g_cond_wait_until (&p->cond, &p->lock, g_get_monotonic_time () +
        (busy ? TICK_US : IDLE_TICK_US));
  }
  g_mutex_unlock (&p->lock);
  return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* The owner's side of events                                                           */

static gboolean
dispatch_events (gpointer user_data)
{
  EchoMusicPlayer *p = user_data;
  Event *ev;

  p->busy++;
  while (!p->doomed && (ev = g_async_queue_try_pop (p->events)) != NULL) {
    const EchoMusicPlayerCallbacks *cb = &p->callbacks;

    if (ev->type == EVENT_RETIRE || ev->generation != p->generation) {
      event_free (ev);
      continue;
    }
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
    event_free (ev);
  }
  p->busy--;
  if (p->doomed && p->busy == 0)
    finish_free (p);
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------------------------- */
/* Building decoders                                                                    */

static void
on_pad_added (GstElement * decodebin, GstPad * pad, gpointer user_data)
{
  Decoder *d = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const char *name;
  GstElement *fakesink;
  g_autoptr (GstPad) sinkpad = NULL;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  name = gst_caps_get_size (caps) > 0 ?
      gst_structure_get_name (gst_caps_get_structure (caps, 0)) : "";
  if (g_str_has_prefix (name, "audio/x-raw") && !g_atomic_int_get (&d->audio_linked)) {
    sinkpad = gst_element_get_static_pad (d->convert, "sink");
    if (gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK) {
      g_atomic_int_set (&d->audio_linked, 1);
      return;
    }
    g_clear_object (&sinkpad);
  }
  /* other streams (video, a second audio track) are decoded into nothing */
  fakesink = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fakesink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (d->pipeline), fakesink);
  gst_element_sync_state_with_parent (fakesink);
  sinkpad = gst_element_get_static_pad (fakesink, "sink");
  gst_pad_link (pad, sinkpad);
}

static void
on_no_more_pads (GstElement * decodebin, gpointer user_data)
{
  Decoder *d = user_data;

  if (!g_atomic_int_get (&d->audio_linked))
    GST_ELEMENT_ERROR (decodebin, STREAM, WRONG_TYPE, ("no audio stream"), (NULL));
}

static void
decoder_fail (EchoMusicPlayer * p, Decoder * d, const char *message)
{
  g_mutex_lock (&p->lock);
  if (d->state != DECODER_FAILED) {
    d->state = DECODER_FAILED;
    g_free (d->error);
    d->error = g_strdup (message);
  }
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
}

static void
decoder_start_playing (EchoMusicPlayer * p, Decoder * d)
{
  g_mutex_lock (&p->lock);
  if (d->state != DECODER_FAILED)
    d->state = DECODER_READY;
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
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
      g_mutex_lock (&p->lock);
      state = d->state;
      if (state == DECODER_PREROLLING && d->start_ms > 0)
        d->state = DECODER_SEEKING;
      g_mutex_unlock (&p->lock);
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
  g_autoptr (GstCaps) caps = gst_caps_from_string (DECODER_CAPS);
  GstElement *src, *resample, *filter, *sink;

  d->player = p;
  d->item_id = g_strdup (item_id);
  d->uri = g_strdup (uri);
  d->start_ms = start_ms;
  d->pos_frames = start_ms * RATE / 1000;
  d->state = DECODER_PREROLLING;

  d->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  src = gst_element_factory_make ("uridecodebin", NULL);
  d->convert = gst_element_factory_make ("audioconvert", NULL);
  resample = gst_element_factory_make ("audioresample", NULL);
  filter = gst_element_factory_make ("capsfilter", NULL);
  sink = gst_element_factory_make ("appsink", NULL);
  if (src == NULL || d->convert == NULL || resample == NULL || filter == NULL
      || sink == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "a decoder needs uridecodebin, audioconvert, audioresample, capsfilter and "
        "appsink; one is not installed");
    gst_clear_object (&src);
    gst_clear_object (&resample);
    gst_clear_object (&filter);
    gst_clear_object (&sink);
    return NULL;
  }
  gst_object_ref (d->convert);
  d->sink = GST_APP_SINK (gst_object_ref (sink));
  g_object_set (src, "uri", uri, NULL);
  g_object_set (filter, "caps", caps, NULL);
  g_object_set (sink, "sync", FALSE, "max-buffers", DECODER_MAX_BUFFERS, "drop", FALSE,
      NULL);
  gst_bin_add_many (GST_BIN (d->pipeline), src, d->convert, resample, filter, sink, NULL);
  if (!gst_element_link_many (d->convert, resample, filter, sink, NULL)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "the decoder's elements do not link");
    return NULL;
  }
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), d);
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

static void
teardown_pipeline (EchoMusicPlayer * p)
{
  GstElement *feed_pipeline;
  GstAppSrc *feed_src;

  g_mutex_lock (&p->lock);
  feed_pipeline = g_steal_pointer (&p->feed_pipeline);
  feed_src = g_steal_pointer (&p->feed_src);
  p->have_timeline = FALSE;
  g_mutex_unlock (&p->lock);
  gst_clear_object (&feed_pipeline);
  gst_clear_object (&feed_src);

  if (p->bus_source != NULL) {
    g_source_destroy (p->bus_source);
    g_clear_pointer (&p->bus_source, g_source_unref);
  }
  if (p->pipeline != NULL)
    gst_element_set_state (GST_ELEMENT (p->pipeline), GST_STATE_NULL);
  g_clear_object (&p->volume_cs);
  g_clear_object (&p->volume);
  g_clear_object (&p->relay);
  g_clear_object (&p->pipeline);
}

static void stop_tracks (EchoMusicPlayer * p, gboolean failed, const char *message);

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  EchoMusicPlayer *p = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = NULL;
      g_autofree char *debug = NULL;
      g_autofree char *message = NULL;

      gst_message_parse_error (msg, &error, &debug);
      message = g_strdup_printf ("the music pipeline failed: %s: %s",
          GST_MESSAGE_SRC_NAME (msg), error->message);
      g_message ("music session %s: %s (%s)", p->session_id, message,
          debug != NULL ? debug : "");
      /* the next play() builds it again */
      teardown_pipeline (p);
      stop_tracks (p, TRUE, message);
      return G_SOURCE_CONTINUE;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) warning = NULL;

      gst_message_parse_warning (msg, &warning, NULL);
      g_message ("music session %s: %s: %s", p->session_id, GST_MESSAGE_SRC_NAME (msg),
          warning->message);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_pipeline (EchoMusicPlayer * p, GError ** error)
{
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstElement) tracks = NULL;
  GstControlBinding *binding;
  guint bound = 0;

  p->pipeline = echo_pipeline_factory_build (p->factory, ECHO_PIPELINE_KIND_MUSIC,
      p->values, error);
  if (p->pipeline == NULL)
    return FALSE;
  /* the factory checked that these exist with the right element factories */
  tracks = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_TRACKS);
  p->volume = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_VOLUME);
  p->relay = gst_bin_get_by_name (GST_BIN (p->pipeline), ECHO_PIPELINE_ELEMENT_RELAY);
  if (p->port != 0)
    g_object_set (p->relay, "port", (guint) p->port, NULL);
  g_object_set (tracks, "block", FALSE, NULL);

  /* volume changes ramp: a control source the volume element reads per sample */
  p->volume_cs = gst_interpolation_control_source_new ();
  g_object_set (p->volume_cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  gst_timed_value_control_source_set (GST_TIMED_VALUE_CONTROL_SOURCE (p->volume_cs), 0,
      p->volume_percent / 100.0);
  binding = gst_direct_control_binding_new_absolute (GST_OBJECT (p->volume), "volume",
      p->volume_cs);
  gst_object_add_control_binding (GST_OBJECT (p->volume), binding);

  bus = gst_pipeline_get_bus (p->pipeline);
  p->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (p->bus_source, G_SOURCE_FUNC (on_bus_message), p, NULL);
  g_source_attach (p->bus_source, p->context);

  if (gst_element_set_state (GST_ELEMENT (p->pipeline),
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg != NULL) {
      g_autoptr (GError) gst_error = NULL;

      gst_message_parse_error (msg, &gst_error, NULL);
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "music pipeline of session %s: %s: %s", p->session_id,
          GST_MESSAGE_SRC_NAME (msg), gst_error->message);
    } else {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
          "music pipeline of session %s did not start", p->session_id);
    }
    teardown_pipeline (p);
    return FALSE;
  }
  g_object_get (p->relay, "bound-port", &bound, NULL);
  p->port = (guint16) bound;

  g_mutex_lock (&p->lock);
  p->feed_pipeline = gst_object_ref (GST_ELEMENT (p->pipeline));
  p->feed_src = GST_APP_SRC (g_steal_pointer (&tracks));
  p->have_timeline = FALSE;
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
  g_debug ("music session %s: pipeline playing, relay on UDP port %u", p->session_id,
      bound);
  return TRUE;
}

EchoMusicPlayer *
echo_music_player_new (EchoPipelineFactory * factory, const char *session_id,
    const char *token, gboolean announce, const EchoMusicPlayerCallbacks * callbacks,
    GError ** error)
{
  EchoMusicPlayer *p;

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = g_new0 (EchoMusicPlayer, 1);
  p->factory = factory;
  p->session_id = g_strdup (session_id);
  p->context = g_main_context_ref_thread_default ();
  if (callbacks != NULL)
    p->callbacks = *callbacks;
  p->volume_percent = 100;
  p->gain = 1.0;
  p->gain_target = 1.0;
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  g_queue_init (&p->stretches);
  g_queue_init (&p->timed);

  /* the factory checks and escapes every value */
  p->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_SESSION, g_strdup (session_id));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_LATENCY,
      g_strdup_printf ("%u", ECHO_MUSIC_PLAYER_LATENCY_MS));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_TOKEN,
      g_strdup (token != NULL ? token : ""));
  g_hash_table_insert (p->values, ECHO_PIPELINE_VALUE_ANNOUNCE,
      g_strdup (announce ? "true" : "false"));

  p->events = g_async_queue_new_full (event_free);
  p->event_source = echo_wake_source_new ("echo music player: events", dispatch_events,
      p, p->context);

  p->feeder = g_thread_new ("echo-music-feed", feeder_main, p);

  if (!start_pipeline (p, error)) {
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

  g_mutex_lock (&p->lock);
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
  g_mutex_unlock (&p->lock);
  decoder_free (current);
  decoder_free (next);
}

static gboolean
ensure_pipeline (EchoMusicPlayer * p, GError ** error)
{
  if (p->pipeline != NULL)
    return TRUE;
  return start_pipeline (p, error);
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
  g_mutex_lock (&p->lock);
  p->current = d;
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
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

  g_mutex_lock (&p->lock);
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
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
  decoder_free (old);
  return TRUE;
}

void
echo_music_player_clear_next (EchoMusicPlayer * p)
{
  Decoder *old;

  g_return_if_fail (p != NULL);

  g_mutex_lock (&p->lock);
  old = g_steal_pointer (&p->next);
  g_mutex_unlock (&p->lock);
  decoder_free (old);
}

void
echo_music_player_pause (EchoMusicPlayer * p)
{
  g_return_if_fail (p != NULL);

  g_mutex_lock (&p->lock);
  if (!p->paused) {
    p->paused = TRUE;
    if (p->open_stretch != NULL && p->gain > 0.0 && !p->need_anchor)
      start_fade (p, 0.0);
    else
      p->gain = 0.0;            /* nothing audible yet: stop at once */
    g_cond_signal (&p->cond);
  }
  g_mutex_unlock (&p->lock);
}

void
echo_music_player_resume (EchoMusicPlayer * p)
{
  g_return_if_fail (p != NULL);

  g_mutex_lock (&p->lock);
  if (p->paused) {
    p->paused = FALSE;
    if (p->gain > 0.0 && !p->need_anchor)
      start_fade (p, 1.0);      /* resumed during the fade-out: back up */
    else
      p->need_anchor = TRUE;
    g_cond_signal (&p->cond);
  }
  g_mutex_unlock (&p->lock);
}

gboolean
echo_music_player_is_paused (EchoMusicPlayer * p)
{
  gboolean paused;

  g_return_val_if_fail (p != NULL, FALSE);

  g_mutex_lock (&p->lock);
  paused = p->paused;
  g_mutex_unlock (&p->lock);
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
  g_mutex_lock (&p->lock);
  if (p->current != NULL) {
    item = g_strdup (p->current->item_id);
    uri = g_strdup (p->current->uri);
  }
  g_mutex_unlock (&p->lock);
  if (item == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND,
        "nothing plays: there is nothing to seek in");
    return FALSE;
  }
  d = decoder_new (p, item, uri, position_ms, error);
  if (d == NULL)
    return FALSE;

  g_mutex_lock (&p->lock);
  old = p->current;
  if (old == NULL || strcmp (old->item_id, item) != 0) {
    /* it ended meanwhile: nothing to seek in any more */
    g_mutex_unlock (&p->lock);
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
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
  decoder_free (old);
  return TRUE;
}

void
echo_music_player_set_volume (EchoMusicPlayer * p, guint volume)
{
  GstTimedValueControlSource *cs;
  GstClockTime now;
  gdouble from;

  g_return_if_fail (p != NULL);

  volume = MIN (volume, 100);
  if (p->pipeline != NULL && p->volume_cs != NULL) {
    cs = GST_TIMED_VALUE_CONTROL_SOURCE (p->volume_cs);
    now = gst_element_get_current_running_time (GST_ELEMENT (p->pipeline));
    if (!GST_CLOCK_TIME_IS_VALID (now))
      now = 0;
    /* from wherever a ramp still under way is now */
    if (!gst_control_source_get_value (p->volume_cs, now, &from))
      from = p->volume_percent / 100.0;
    gst_timed_value_control_source_unset_all (cs);
    gst_timed_value_control_source_set (cs, now, from);
    gst_timed_value_control_source_set (cs, now + VOLUME_RAMP, volume / 100.0);
  }
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
  GstClockTime now = GST_CLOCK_TIME_NONE;
  const Stretch *audible = NULL;
  gint64 position = -1;
  GList *l;

  g_return_val_if_fail (p != NULL, -1);

  if (item_id != NULL)
    *item_id = NULL;
  g_mutex_lock (&p->lock);
  if (p->feed_pipeline != NULL)
    now = gst_element_get_current_running_time (p->feed_pipeline);
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
  g_mutex_unlock (&p->lock);
  return position;
}

guint16
echo_music_player_get_relay_port (EchoMusicPlayer * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return p->pipeline != NULL ? p->port : 0;
}

GstPipeline *
echo_music_player_get_pipeline (EchoMusicPlayer * p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return p->pipeline;
}

/* ---------------------------------------------------------------------------------- */
/* Freeing                                                                              */

static void
finish_free (EchoMusicPlayer * p)
{
  stop_tracks (p, FALSE, NULL);
  teardown_pipeline (p);
  g_mutex_lock (&p->lock);
  p->quit = TRUE;
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
  g_thread_join (p->feeder);
  /* the retired decoders still queued are stopped as they are freed */
  g_source_destroy (p->event_source);
  g_source_unref (p->event_source);
  g_async_queue_unref (p->events);
  g_free (p->started_item);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_hash_table_unref (p->values);
  g_main_context_unref (p->context);
  g_free (p->session_id);
  g_free (p);
}

void
echo_music_player_free (EchoMusicPlayer * p)
{
  if (p == NULL)
    return;
  if (p->busy > 0) {
    /* inside one of our callbacks: stop now, free when it returns */
    p->doomed = TRUE;
    stop_tracks (p, FALSE, NULL);
    teardown_pipeline (p);
    return;
  }
  finish_free (p);
}
