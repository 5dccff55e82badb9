/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-radio-player.c: one radio session: upstream connections, their decoded audio, and
 * the continuous timeline that feeds the relay.
 *
 * Feeds and connections
 * ---------------------
 * A *feed* is a source of decoded audio with a role: the primary (the station: pulled or
 * pushed) or the fallback (a looping file or another station). It owns a queue of
 * decoded audio (F32LE 48 kHz stereo) with title markers between the buffers, and at most
 * one *connection*: a pipeline that decodes into an appsink (the template's `station` bin
 * for a URL; appsrc ! decodebin for pushed bytes; uridecodebin for a file). A connection
 * that dies (error, end of stream, stall) is stopped and replaced after a backoff, but
 * the feed and its queue stay: audio already received plays out, and a reconnection's
 * audio continues the same queue after a faded splice. A feed that is no longer wanted
 * while it is heard becomes the *orphan*: it fades out, then the owner frees it.
 *
 * The timeline
 * ------------
 * The relay pipeline, the feeder thread and the timeline are the relay output's
 * (echo-relay-output.h). The feeder, every 10 ms, empties the connections' appsinks into
 * the queues and feeds the relay's appsrc `stream` up to ECHO_RADIO_PLAYER_LEAD_MS ahead of the clock,
 * in 10 ms buffers stamped PTS = anchor + frames fed / 48000: from the audible feed, with
 * the fades of a switch, or zeros (silence is fed too, so the timeline only re-anchors
 * after a feeder stall). At each buffer it picks the feed that should be heard: the
 * primary once it holds ECHO_RADIO_PLAYER_PREBUFFER_MS (until it runs dry), else the
 * fallback under the same rule, else silence (also while paused).
 *
 * Titles
 * ------
 * Tag events reaching a connection's appsink become markers in the queue, in order with
 * the audio. When the audible feed's read position passes a marker, a title event is
 * timed at that audio's PTS + the session latency (when receivers render it); the feeder
 * hands it to the owner when the relay's clock gets there.
 *
 * Threads
 * -------
 * The output's lock guards the feeds' queues and connection states, the roles, and the
 * timeline; the feeder holds it while it works (it never blocks inside: appsink pulls and
 * appsrc pushes do not wait). Pipelines are built, started and stopped on the owner's
 * thread only; the feeder reports dead connections, switches and titles through an event
 * queue (echo-event-queue.h) dispatched on the owner's context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-radio-player.h"

#include <gst/app/app.h>
#include <math.h>
#include <string.h>

#include "echo-decode-chain.h"
#include "echo-event-queue.h"
#include "echo-relay-output.h"

#define RATE ECHO_RELAY_OUTPUT_RATE
#define CHANNELS ECHO_RELAY_OUTPUT_CHANNELS
#define FRAME_BYTES ECHO_RELAY_OUTPUT_FRAME_BYTES
#define MS_FRAMES(ms) ((guint64) (ms) * RATE / 1000)
#define CHUNK_FRAMES 480
#define FADE_FRAMES MS_FRAMES (ECHO_RADIO_PLAYER_FADE_MS)
#define PREBUFFER_FRAMES MS_FRAMES (ECHO_RADIO_PLAYER_PREBUFFER_MS)
#define MAX_QUEUE_FRAMES MS_FRAMES (ECHO_RADIO_PLAYER_MAX_QUEUE_MS)
#define FILE_AHEAD_FRAMES (2 * PREBUFFER_FRAMES)
/* a splice (decoder discontinuity, bad samples, a new connection): the audio of the
 * last ~2 MP3 frames before it is suspect and dropped; both sides fade */
#define CONCEAL_DROP_FRAMES MS_FRAMES (60)
#define SPLICE_FADE_FRAMES MS_FRAMES (5)
/* decoded samples beyond this are garbage, not audio */
#define SAMPLE_LIMIT 2.0f
#define CONNECT_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)
#define STALL_US (ECHO_RADIO_PLAYER_STALL_MS * G_TIME_SPAN_MILLISECOND)
/* a pushed stream whose bytes keep coming but no longer decode gets a new decoder */
#define PUSH_UNDECODED_BYTES (16 * 1024)
#define PUSH_MAX_BYTES (2 * 1024 * 1024)
#define CONN_MAX_BUFFERS 64
#define URL_MAX 2048
#define HEADER_MAX 1024
#define REASON_ENDED "the stream ended"

G_STATIC_ASSERT (FADE_FRAMES > 0);

const char *
echo_radio_player_state_to_string (EchoRadioPlayerState state)
{
  switch (state) {
    case ECHO_RADIO_PLAYER_STATE_CONNECTING:
      return "connecting";
    case ECHO_RADIO_PLAYER_STATE_PLAYING:
      return "playing";
    case ECHO_RADIO_PLAYER_STATE_RECONNECTING:
      return "reconnecting";
    case ECHO_RADIO_PLAYER_STATE_FALLBACK:
      return "fallback";
  }
  return "unknown";
}

/* ---------------------------------------------------------------------------------- */
/* Feeds, connections, queued audio                                                     */

typedef enum
{
  FEED_URL,
  FEED_PUSH,
  FEED_FILE,
} FeedKind;

typedef struct _Feed Feed;

typedef struct
{
  float *data;                  /* NULL: a title marker */
  gsize offset, frames;         /* unread frames: data[offset .. offset + frames) */
  GstTagList *tags;             /* a marker's */
} Item;

typedef struct
{
  Feed *feed;                   /* outlives it */
  guint serial;
  GstElement *pipeline;
  GstAppSink *sink;
  GstAppSrc *push_src;          /* FEED_PUSH */
  EchoDecodeChain *chain;       /* FEED_PUSH, FEED_FILE: the player's decoder */
  GSource *bus_source;

  /* under the player's lock */
  gint64 created_us, last_audio_us;     /* monotonic; last_audio_us 0: none yet */
  guint64 undecoded_bytes;      /* FEED_PUSH: pushed since the last decoded audio */
  gboolean had_audio;
  gboolean eos;
  gboolean dead;                /* reported to the owner */
} Conn;

struct _Feed
{
  EchoRadioPlayer *player;
  guint id;
  FeedKind kind;
  gboolean primary;
  char *location;               /* URL, path, or content type */
  GstStructure *headers;        /* FEED_URL: souphttpsrc extra-headers, or NULL */

  /* owner's thread */
  guint attempt;
  GSource *retry_source;
  gboolean closed;              /* FEED_PUSH: the source is gone, nothing follows */
  gboolean failure_reported;

  /* under lock */
  Conn *conn;
  GQueue items;
  guint64 frames;
  gboolean primed;
  gboolean splice_next;         /* the next audio queued starts after a splice */
  guint fade_in_left;           /* frames of newly queued audio still to fade in */
  GstTagList *last_marked;      /* the tags of the last marker queued */
  GstTagList *read_tags;        /* the tags at the read position */
};

static void
item_free (gpointer data)
{
  Item *item = data;

  g_free (item->data);
  if (item->tags != NULL)
    gst_tag_list_unref (item->tags);
  g_free (item);
}

/* ---------------------------------------------------------------------------------- */
/* Events for the owner                                                                 */

typedef enum
{
  EVENT_TITLE,
  EVENT_STATE,
  EVENT_CONN_DEAD,
  EVENT_PRIMARY_AUDIBLE,
  EVENT_RETIRE_ORPHAN,
} EventType;

typedef struct
{
  EventType type;
  GstClockTime pts;             /* EVENT_TITLE: fires when the clock reaches it */
  GstTagList *tags;
  EchoRadioPlayerState state;
  char *detail;
  guint feed_id;                /* EVENT_CONN_DEAD */
  guint serial;
  guint generation;
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;

  if (ev->tags != NULL)
    gst_tag_list_unref (ev->tags);
  g_free (ev->detail);
  g_free (ev);
}

struct _EchoRadioPlayer
{
  EchoPipelineFactory *factory; /* not owned */
  char *session_id;
  GMainContext *context;        /* the connections' bus watches' and retries' */
  EchoRadioPlayerCallbacks callbacks;
  gpointer data;

  /* owner's thread */
  EchoRelayOutput *output;      /* the radio pipeline, the timeline, the feeder */
  gboolean rebuilt;
  EchoEventQueue *events;
  guint next_serial;
  char *fallback_file, *fallback_url;
  GstTagList *title;
  EchoRadioPlayerState state;
  char *state_detail;

  /* under the output's lock */
  Feed *primary, *fallback, *orphan;
  Feed *active;                 /* heard now (or fading out): one of the three, or NULL */
  gboolean fading_out;
  double gain;                  /* of the active feed, 0..1 */
  gboolean paused;
  gboolean primary_played;      /* the primary was heard since it was set */
  GQueue timed;                 /* of Event (titles), by pts */
  GstTagList *last_scheduled;   /* the last title timed */
  guint generation;             /* +1 when the primary is replaced */
};

static void connect_feed (EchoRadioPlayer * p, Feed * f);

static void
post_event (EchoRadioPlayer * p, Event * ev)
{
  echo_event_queue_post (p->events, ev);
}

static void
post_state (EchoRadioPlayer * p, EchoRadioPlayerState state, const char *detail)
{
  Event *ev = g_new0 (Event, 1);

  ev->type = EVENT_STATE;
  ev->state = state;
  ev->detail = g_strdup (detail);
  post_event (p, ev);
}

/* The tags of a title: only what a listener is shown. */
static GstTagList *
title_tags (const GstTagList * tags)
{
  static const char *const keep[] = { GST_TAG_TITLE, GST_TAG_ARTIST, GST_TAG_HOMEPAGE,
    GST_TAG_ORGANIZATION, GST_TAG_GENRE, GST_TAG_NOMINAL_BITRATE, GST_TAG_AUDIO_CODEC
  };
  GstTagList *out = gst_tag_list_new_empty ();
  gsize i;

  gst_tag_list_set_scope (out, GST_TAG_SCOPE_STREAM);
  for (i = 0; tags != NULL && i < G_N_ELEMENTS (keep); i++) {
    const GValue *v = gst_tag_list_get_value_index (tags, keep[i], 0);

    if (v != NULL)
      gst_tag_list_add_value (out, GST_TAG_MERGE_REPLACE, keep[i], v);
  }
  return out;
}

/* Whether two title tag lists show the same thing (bitrate and codec aside: decoders
 * re-send those all the time). */
static gboolean
same_title (const GstTagList * a, const GstTagList * b)
{
  static const char *const shown[] = { GST_TAG_TITLE, GST_TAG_ARTIST, GST_TAG_HOMEPAGE,
    GST_TAG_ORGANIZATION, GST_TAG_GENRE
  };
  gsize i;

  if (a == NULL || b == NULL)
    return a == b;
  for (i = 0; i < G_N_ELEMENTS (shown); i++) {
    const GValue *va = gst_tag_list_get_value_index (a, shown[i], 0);
    const GValue *vb = gst_tag_list_get_value_index (b, shown[i], 0);

    if ((va == NULL) != (vb == NULL))
      return FALSE;
    if (va != NULL && gst_value_compare (va, vb) != GST_VALUE_EQUAL)
      return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------------------------- */
/* The feeder: queues                                                                   */

/* Under lock. Applies a gain ramp over the last @n queued frames, down to 0 at the end. */
static void
fade_out_tail (Feed * f, guint64 n)
{
  GList *l;
  guint64 total = MIN (n, f->frames);
  guint64 back = 0;             /* frames from the end: the last one is 0, gain 0 */

  for (l = f->items.tail; l != NULL && back < total; l = l->prev) {
    Item *item = l->data;
    gsize i;

    if (item->data == NULL)
      continue;
    for (i = item->offset + item->frames; i > item->offset && back < total; i--, back++) {
      float g = (float) back / (float) total;

      item->data[(i - 1) * CHANNELS] *= g;
      item->data[(i - 1) * CHANNELS + 1] *= g;
    }
  }
}

/* Under lock. Drops up to @n frames from the end of the queue (titles stay). */
static void
drop_tail (Feed * f, guint64 n)
{
  GList *l = f->items.tail;

  while (l != NULL && n > 0) {
    GList *prev = l->prev;
    Item *item = l->data;

    if (item->data != NULL) {
      gsize k = MIN (item->frames, n);

      item->frames -= k;
      f->frames -= k;
      n -= k;
      if (item->frames == 0) {
        item_free (item);
        g_queue_delete_link (&f->items, l);
      }
    }
    l = prev;
  }
}

/* Under lock: a title marker was read (played or dropped). */
static void
read_marker (Feed * f, Item * item)
{
  if (f->read_tags != NULL)
    gst_tag_list_unref (f->read_tags);
  f->read_tags = gst_tag_list_ref (item->tags);
}

/* Under lock. Drops @n frames from the head (the oldest). */
static void
drop_head (Feed * f, guint64 n)
{
  Item *item;

  while (n > 0 && (item = g_queue_peek_head (&f->items)) != NULL) {
    if (item->data == NULL) {
      read_marker (f, item);
    } else {
      gsize k = MIN (item->frames, n);

      item->offset += k;
      item->frames -= k;
      f->frames -= k;
      n -= k;
      if (item->frames > 0)
        break;
    }
    item_free (g_queue_pop_head (&f->items));
  }
}

/* Under lock. A splice at the end of the queue: @drop frames before it are suspect. The
 * audio before it fades out, the audio after it fades in. */
static void
splice (Feed * f, guint64 drop)
{
  drop_tail (f, drop);
  fade_out_tail (f, SPLICE_FADE_FRAMES);
  f->fade_in_left = SPLICE_FADE_FRAMES;
}

/* Under lock. Queues one decoded buffer; FALSE when it is not audio (dropped). */
static gboolean
queue_audio (Feed * f, GstBuffer * buf)
{
  GstMapInfo map;
  gsize n, i;
  float *data;
  gboolean bad = FALSE;
  Item *item;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return TRUE;
  n = map.size / FRAME_BYTES;
  if (n == 0) {
    gst_buffer_unmap (buf, &map);
    return TRUE;
  }
  data = g_memdup2 (map.data, n * FRAME_BYTES);
  gst_buffer_unmap (buf, &map);
  for (i = 0; i < n * CHANNELS && !bad; i++) {
    if (!isfinite (data[i]) || fabsf (data[i]) > SAMPLE_LIMIT)
      bad = TRUE;
  }
  if (bad) {
    g_free (data);
    return FALSE;
  }
  for (i = 0; i < n && f->fade_in_left > 0; i++, f->fade_in_left--) {
    float g = 1.0f - (float) f->fade_in_left / SPLICE_FADE_FRAMES;

    data[i * CHANNELS] *= g;
    data[i * CHANNELS + 1] *= g;
  }
  item = g_new0 (Item, 1);
  item->data = data;
  item->frames = n;
  g_queue_push_tail (&f->items, item);
  f->frames += n;
  return TRUE;
}

/* Under lock. A tag event from a connection: a marker when what it shows changed. */
static void
queue_tags (Feed * f, GstEvent * event)
{
  GstTagList *tags = NULL;
  GstTagList *title;
  Item *item;

  gst_event_parse_tag (event, &tags);
  if (gst_tag_list_get_scope (tags) != GST_TAG_SCOPE_STREAM)
    return;
  title = title_tags (tags);
  if (f->last_marked != NULL && same_title (f->last_marked, title)) {
    gst_tag_list_unref (title);
    return;
  }
  if (f->last_marked != NULL)
    gst_tag_list_unref (f->last_marked);
  f->last_marked = gst_tag_list_ref (title);
  item = g_new0 (Item, 1);
  item->tags = title;
  g_queue_push_tail (&f->items, item);
}

/* Under lock: empties a connection's appsink into its feed's queue. */
static void
drain (EchoRadioPlayer * p, Feed * f, gint64 now_us)
{
  Conn *c = f->conn;
  GstMiniObject *obj;

  if (c == NULL || c->dead || c->eos)
    return;
  /* a file decodes faster than real time: read it only as far as needed (its appsink
   * then holds the decoder back); a live upstream is read as it comes */
  while ((f->kind != FEED_FILE || f->frames < FILE_AHEAD_FRAMES)
      && (obj = gst_app_sink_try_pull_object (c->sink, 0)) != NULL) {
    if (GST_IS_SAMPLE (obj)) {
      GstBuffer *buf = gst_sample_get_buffer (GST_SAMPLE (obj));

      if (buf != NULL) {
        gboolean discont = GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT);

        if (!c->had_audio) {
          /* a new connection continues an older one's audio: splice, nothing suspect */
          if (f->frames > 0)
            splice (f, 0);
        } else if (discont || f->splice_next) {
          /* the decoder lost sync (corrupt data): conceal around it */
          splice (f, CONCEAL_DROP_FRAMES);
        }
        f->splice_next = FALSE;
        if (queue_audio (f, buf)) {
          c->had_audio = TRUE;
          c->last_audio_us = now_us;
          c->undecoded_bytes = 0;
        } else {
          GST_DEBUG ("radio session %s: dropped a decoded buffer that is not audio",
              p->session_id);
          f->splice_next = TRUE;
        }
      }
    } else if (GST_IS_EVENT (obj) && GST_EVENT_TYPE (obj) == GST_EVENT_TAG) {
      queue_tags (f, GST_EVENT (obj));
    }
    gst_mini_object_unref (obj);
  }
  if (f->frames < FILE_AHEAD_FRAMES || f->kind != FEED_FILE) {
    if (gst_app_sink_is_eos (c->sink))
      c->eos = TRUE;
  }

  /* live audio does not wait: keep the queue bounded (and short while paused) */
  if (f->frames > MAX_QUEUE_FRAMES)
    drop_head (f, f->frames - MAX_QUEUE_FRAMES);
  if (p->paused && f->frames > PREBUFFER_FRAMES && f != p->active)
    drop_head (f, f->frames - PREBUFFER_FRAMES);
}

/* Under lock: reports a connection that ended, failed or stalled to the owner (once). */
static void
check_conn (EchoRadioPlayer * p, Feed * f, gint64 now_us)
{
  Conn *c = f->conn;
  const char *reason = NULL;
  Event *ev;

  if (c == NULL || c->dead)
    return;
  if (c->eos && !c->had_audio)
    reason = "the stream has no audio";
  else if (c->eos)
    reason = f->kind == FEED_PUSH ? "the source closed" : REASON_ENDED;
  else if (f->kind == FEED_URL && !c->had_audio && now_us - c->created_us > CONNECT_TIMEOUT_US)
    reason = "no audio within 10 s of connecting";
  else if (f->kind == FEED_URL && c->had_audio && now_us - c->last_audio_us > STALL_US)
    reason = "no audio for 3 s";
  else if (f->kind == FEED_PUSH && c->undecoded_bytes > PUSH_UNDECODED_BYTES
      && now_us - MAX (c->last_audio_us, c->created_us) > STALL_US)
    reason = "the pushed bytes no longer decode";
  if (reason == NULL)
    return;
  c->dead = TRUE;
  ev = g_new0 (Event, 1);
  ev->type = EVENT_CONN_DEAD;
  ev->feed_id = f->id;
  ev->serial = c->serial;
  ev->detail = g_strdup (reason);
  post_event (p, ev);
}

/* ---------------------------------------------------------------------------------- */
/* The feeder: the timeline                                                             */

static GstClockTime
next_pts (EchoRadioPlayer * p)
{
  return echo_relay_output_next_pts (p->output);
}

/* Under lock: whether @f may be heard now. */
static gboolean
feed_usable (EchoRadioPlayer * p, Feed * f)
{
  gboolean finishing;

  if (f == NULL)
    return FALSE;
  if (!f->primed) {
    /* nothing more will come soon: what there is may play */
    finishing = f->conn == NULL || f->conn->eos || f->conn->dead;
    if (f->frames >= PREBUFFER_FRAMES || (finishing && f->frames >= 2 * FADE_FRAMES))
      f->primed = TRUE;
  }
  return f->primed;
}

static Feed *
choose (EchoRadioPlayer * p)
{
  if (p->paused)
    return NULL;
  if (feed_usable (p, p->primary))
    return p->primary;
  if (feed_usable (p, p->fallback))
    return p->fallback;
  return NULL;
}

static void
schedule_title (EchoRadioPlayer * p, const GstTagList * tags, GstClockTime pts)
{
  g_autoptr (GstTagList) title = tags != NULL ? gst_tag_list_copy (tags) :
      gst_tag_list_new_empty ();
  Event *ev;

  if (p->last_scheduled != NULL && same_title (p->last_scheduled, title))
    return;
  if (p->last_scheduled != NULL)
    gst_tag_list_unref (p->last_scheduled);
  p->last_scheduled = gst_tag_list_ref (title);
  ev = g_new0 (Event, 1);
  ev->type = EVENT_TITLE;
  /* receivers render audio stamped pts at pts + latency */
  ev->pts = pts + ECHO_RADIO_PLAYER_LATENCY_MS * GST_MSECOND;
  ev->tags = g_steal_pointer (&title);
  ev->generation = p->generation;
  g_queue_push_tail (&p->timed, ev);       /* pts only grows */
}

static const char *
feed_description (EchoRadioPlayer * p, Feed * f, char **out)
{
  if (f == NULL)
    *out = g_strdup ("silence");
  else if (f->kind == FEED_FILE)
    *out = g_strdup_printf ("file %s", f->location);
  else if (f->kind == FEED_PUSH)
    *out = g_strdup_printf ("pushed %s", f->location);
  else
    *out = g_strdup (f->location);
  return *out;
}

/* Under lock: @f becomes the heard feed at @pts, fading in. */
static void
switch_to (EchoRadioPlayer * p, Feed * f, GstClockTime pts)
{
  Feed *was = p->active;
  g_autofree char *what = NULL;

  if (was != NULL && was == p->orphan && was != f) {
    Event *ev = g_new0 (Event, 1);

    ev->type = EVENT_RETIRE_ORPHAN;
    post_event (p, ev);
  }
  p->active = f;
  p->fading_out = FALSE;
  p->gain = 0.0;
  if (f == NULL && p->paused)
    return;                     /* a pause: neither the title nor the upstream changed */
  schedule_title (p, f != NULL ? f->read_tags : NULL, pts);
  if (f != NULL && f == p->primary) {
    Event *ev = g_new0 (Event, 1);

    p->primary_played = TRUE;
    ev->type = EVENT_PRIMARY_AUDIBLE;
    post_event (p, ev);
    post_state (p, ECHO_RADIO_PLAYER_STATE_PLAYING, feed_description (p, f, &what));
  } else if (p->primary_played || f != NULL) {
    /* away from the primary (or another source before it ever played) */
    post_state (p, ECHO_RADIO_PLAYER_STATE_FALLBACK, feed_description (p, f, &what));
  }
}

/* Under lock: fills @out (@n frames starting at @pts0) from the heard feed. */
static void
fill_chunk (EchoRadioPlayer * p, float *out, guint n, GstClockTime pts0)
{
  const double step = 1.0 / FADE_FRAMES;
  Feed *want;
  guint done = 0;

  /* about to run dry: fade out on what is left, re-buffer before playing it again */
  if (p->active != NULL && !p->fading_out && p->active->frames < FADE_FRAMES + n)
    p->active->primed = FALSE;
  want = choose (p);
  if (want != p->active && !p->fading_out) {
    if (p->active != NULL && p->gain > 0.0)
      p->fading_out = TRUE;
    else
      switch_to (p, want, pts0);
  }

  while (done < n) {
    GstClockTime at = pts0 + gst_util_uint64_scale_int (done, GST_SECOND, RATE);
    Feed *f;
    Item *item;
    guint m, i;
    const float *in;

    if (p->fading_out && p->gain <= 0.0)
      switch_to (p, choose (p), at);
    f = p->active;
    if (f == NULL)
      break;
    item = g_queue_peek_head (&f->items);
    if (item == NULL) {
      /* ran dry (a fade-out cut short): it re-buffers; the next choice takes over */
      f->primed = FALSE;
      p->gain = 0.0;
      switch_to (p, choose (p), at);
      continue;
    }
    if (item->data == NULL) {
      read_marker (f, item);
      if (!p->fading_out)
        schedule_title (p, item->tags, at);
      item_free (g_queue_pop_head (&f->items));
      continue;
    }
    m = MIN (n - done, item->frames);
    in = item->data + item->offset * CHANNELS;
    for (i = 0; i < m; i++) {
      if (p->fading_out) {
        p->gain = MAX (0.0, p->gain - step);
      } else if (p->gain < 1.0) {
        p->gain = MIN (1.0, p->gain + step);
      }
      out[(done + i) * CHANNELS] = (float) (in[i * CHANNELS] * p->gain);
      out[(done + i) * CHANNELS + 1] = (float) (in[i * CHANNELS + 1] * p->gain);
      if (p->fading_out && p->gain <= 0.0) {
        i++;
        break;
      }
    }
    item->offset += i;
    item->frames -= i;
    f->frames -= i;
    done += i;
    if (item->frames == 0)
      item_free (g_queue_pop_head (&f->items));
  }
  if (done < n)
    memset (out + done * CHANNELS, 0, (n - done) * FRAME_BYTES);
}

/* Under lock: feeds the relay up to the lead. */
static void
produce (EchoRadioPlayer * p, GstClockTime now)
{
  const GstClockTime lead = ECHO_RADIO_PLAYER_LEAD_MS * GST_MSECOND;
  EchoRelayOutput *o = p->output;

  /* silence is fed too: only a stall re-anchors */
  if (!echo_relay_output_has_timeline (o) || echo_relay_output_is_behind (o, now)) {
    if (echo_relay_output_has_timeline (o))
      echo_relay_output_log_behind (o, now);
    echo_relay_output_anchor (o, now + lead);
  }
  while (next_pts (p) < now + lead) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, CHUNK_FRAMES * FRAME_BYTES, NULL);
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    fill_chunk (p, (float *) map.data, CHUNK_FRAMES, next_pts (p));
    gst_buffer_unmap (buf, &map);
    if (!echo_relay_output_push (o, buf))
      return;                   /* flushing: the pipeline is stopping */
  }
}

static void
fire_due (EchoRadioPlayer * p, GstClockTime now)
{
  Event *ev;

  while ((ev = g_queue_peek_head (&p->timed)) != NULL && ev->pts <= now)
    post_event (p, g_queue_pop_head (&p->timed));
}

/* The feeder thread's work, under the output's lock: every 10 ms. */
static gboolean
feeder_tick (EchoRelayOutput * o, gpointer user_data)
{
  EchoRadioPlayer *p = user_data;
  gint64 now_us = g_get_monotonic_time ();
  Feed *feeds[3] = { p->primary, p->fallback, p->orphan };
  GstClockTime now;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (feeds); i++) {
    if (feeds[i] != NULL) {
      drain (p, feeds[i], now_us);
      if (feeds[i] != p->orphan)
        check_conn (p, feeds[i], now_us);
    }
  }
  now = echo_relay_output_now (o);
  if (GST_CLOCK_TIME_IS_VALID (now)) {
    produce (p, now);
    fire_due (p, now);
  }
  return TRUE;
}

/* ---------------------------------------------------------------------------------- */
/* Connections (owner's thread)                                                         */

static void
conn_free (Conn * c)
{
  if (c == NULL)
    return;
  if (c->bus_source != NULL) {
    g_source_destroy (c->bus_source);
    g_source_unref (c->bus_source);
  }
  if (c->pipeline != NULL)
    gst_element_set_state (c->pipeline, GST_STATE_NULL);
  gst_clear_object (&c->sink);
  gst_clear_object (&c->push_src);
  g_clear_pointer (&c->chain, echo_decode_chain_free);
  gst_clear_object (&c->pipeline);
  g_free (c);
}

/* Takes @f's connection away from the feeder and stops it. */
static void
feed_disconnect (EchoRadioPlayer * p, Feed * f)
{
  Conn *c;

  echo_relay_output_lock (p->output);
  c = g_steal_pointer (&f->conn);
  echo_relay_output_unlock (p->output);
  conn_free (c);
}

static void
feed_free (EchoRadioPlayer * p, Feed * f)
{
  if (f == NULL)
    return;
  feed_disconnect (p, f);
  if (f->retry_source != NULL) {
    g_source_destroy (f->retry_source);
    g_source_unref (f->retry_source);
  }
  g_queue_clear_full (&f->items, item_free);
  if (f->last_marked != NULL)
    gst_tag_list_unref (f->last_marked);
  if (f->read_tags != NULL)
    gst_tag_list_unref (f->read_tags);
  if (f->headers != NULL)
    gst_structure_free (f->headers);
  g_free (f->location);
  g_free (f);
}

static Feed *
feed_new (EchoRadioPlayer * p, FeedKind kind, gboolean primary, const char *location)
{
  Feed *f = g_new0 (Feed, 1);

  f->player = p;
  f->id = ++p->next_serial;
  f->kind = kind;
  f->primary = primary;
  f->location = g_strdup (location);
  g_queue_init (&f->items);
  return f;
}

/* Removes @f from its role (under lock by the caller): it fades out first when heard. */
static void
feed_drop_locked (EchoRadioPlayer * p, Feed * f, Feed ** orphan_to_free)
{
  if (f == NULL)
    return;
  if (f == p->active) {
    if (p->orphan != NULL && p->orphan != p->active)
      *orphan_to_free = p->orphan;
    p->orphan = f;
  } else {
    *orphan_to_free = f;
  }
}

/* @factory ~> audioconvert ! audioresample ! capsfilter ! appsink in c->pipeline. */
static GstElement *
build_decoder (Conn * c, const char *factory, GError ** error)
{
  c->chain = echo_decode_chain_new (GST_BIN (c->pipeline), factory, CONN_MAX_BUFFERS,
      error);
  if (c->chain == NULL)
    return NULL;
  c->sink = GST_APP_SINK (gst_object_ref (echo_decode_chain_get_sink (c->chain)));
  return echo_decode_chain_get_decoder (c->chain);
}

/* The template's `station` bin, alone in a new pipeline. */
static gboolean
build_url_conn (EchoRadioPlayer * p, Conn * c, Feed * f, GError ** error)
{
  g_autoptr (GstPipeline) whole = NULL;
  g_autoptr (GstElement) station = NULL;
  g_autoptr (GstElement) http = NULL;
  g_autoptr (GstElement) sink = NULL;

  whole = echo_relay_output_build_template (p->output, error);
  if (whole == NULL)
    return FALSE;
  station = gst_bin_get_by_name (GST_BIN (whole), ECHO_PIPELINE_ELEMENT_STATION);
  http = gst_bin_get_by_name (GST_BIN (station), ECHO_PIPELINE_ELEMENT_HTTP);
  sink = gst_bin_get_by_name (GST_BIN (station), ECHO_PIPELINE_ELEMENT_DECODED);
  if (http == NULL || sink == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_TEMPLATE,
        "%s: `http` and `decoded` must be inside the bin `station`",
        echo_pipeline_factory_get_path (p->factory, ECHO_PIPELINE_KIND_RADIO));
    return FALSE;
  }
  gst_bin_remove (GST_BIN (whole), station);
  c->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  gst_bin_add (GST_BIN (c->pipeline), station);
  g_object_set (http, "location", f->location, NULL);
  if (f->headers != NULL)
    g_object_set (http, "extra-headers", f->headers, NULL);
  c->sink = GST_APP_SINK (g_steal_pointer (&sink));
  return TRUE;
}

static gboolean
build_push_conn (Conn * c, GError ** error)
{
  GstElement *src = gst_element_factory_make ("appsrc", NULL);
  GstElement *decoder;

  c->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  if (src == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "appsrc is not installed");
    return FALSE;
  }
  /* bytes as they come; beyond 2 MB waiting the oldest are dropped (never blocks) */
  g_object_set (src, "format", GST_FORMAT_BYTES, "is-live", FALSE, "block", FALSE,
      "max-bytes", (guint64) PUSH_MAX_BYTES, "leaky-type", 2 /* downstream */ , NULL);
  c->push_src = GST_APP_SRC (gst_object_ref (src));
  gst_bin_add (GST_BIN (c->pipeline), src);
  decoder = build_decoder (c, "decodebin", error);
  if (decoder == NULL)
    return FALSE;
  if (!gst_element_link (src, decoder)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
        "the push decoder does not link");
    return FALSE;
  }
  return TRUE;
}

static gboolean
build_file_conn (Conn * c, Feed * f, GError ** error)
{
  GstElement *decoder;
  g_autofree char *uri = NULL;

  c->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  uri = g_filename_to_uri (f->location, NULL, NULL);
  if (uri == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "%s is not an absolute file name", f->location);
    return FALSE;
  }
  decoder = build_decoder (c, "uridecodebin", error);
  if (decoder == NULL)
    return FALSE;
  g_object_set (decoder, "uri", uri, NULL);
  return TRUE;
}

static void conn_died (EchoRadioPlayer * p, Feed * f, guint serial, const char *reason);

static gboolean
on_conn_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Conn *c = user_data;
  Feed *f = c->feed;
  EchoRadioPlayer *p = f->player;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = NULL;
    g_autofree char *debug = NULL;
    g_autofree char *reason = NULL;

    gst_message_parse_error (msg, &error, &debug);
    g_info ("radio session %s: %s: %s: %s", p->session_id, f->location,
        GST_MESSAGE_SRC_NAME (msg), debug != NULL ? debug : error->message);
    reason = g_strdup (error->message);
    /* frees c: nothing of it after this */
    echo_event_queue_enter (p->events);
    conn_died (p, f, c->serial, reason);
    echo_event_queue_leave (p->events);
  }
  return G_SOURCE_CONTINUE;
}

/* Starts a new connection for @f; a failure to build one is a dead connection. */
static void
connect_feed (EchoRadioPlayer * p, Feed * f)
{
  Conn *c = g_new0 (Conn, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;
  gboolean ok;

  c->feed = f;
  c->serial = ++p->next_serial;
  c->created_us = g_get_monotonic_time ();
  switch (f->kind) {
    case FEED_URL:
      ok = build_url_conn (p, c, f, &error);
      break;
    case FEED_PUSH:
      ok = build_push_conn (c, &error);
      break;
    case FEED_FILE:
    default:
      ok = build_file_conn (c, f, &error);
      break;
  }
  if (ok) {
    bus = gst_pipeline_get_bus (GST_PIPELINE (c->pipeline));
    c->bus_source = gst_bus_create_watch (bus);
    g_source_set_callback (c->bus_source, G_SOURCE_FUNC (on_conn_message), c, NULL);
    g_source_attach (c->bus_source, p->context);
    ok = gst_element_set_state (c->pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
    if (!ok) {
      g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

      if (msg != NULL)
        gst_message_parse_error (msg, &error, NULL);
      else
        g_set_error (&error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
            "the connection did not start");
    }
  }
  if (!ok) {
    g_info ("radio session %s: %s: %s", p->session_id, f->location, error->message);
    conn_free (c);
    /* retried like any other dead connection, from the main loop */
    {
      Event *ev = g_new0 (Event, 1);

      ev->type = EVENT_CONN_DEAD;
      ev->feed_id = f->id;
      ev->serial = 0;
      ev->detail = g_strdup (error->message);
      post_event (p, ev);
    }
    return;
  }
  echo_relay_output_lock (p->output);
  g_assert (f->conn == NULL);
  f->conn = c;
  echo_relay_output_unlock (p->output);
}

static gboolean
retry_due (gpointer user_data)
{
  Feed *f = user_data;

  g_clear_pointer (&f->retry_source, g_source_unref);
  connect_feed (f->player, f);
  return G_SOURCE_REMOVE;
}

/* The next reconnection delay of @f, ms: 1 s doubling to 30 s, +-20%. */
static guint
backoff_ms (Feed * f)
{
  guint shift = MIN (f->attempt > 0 ? f->attempt - 1 : 0, 5);
  double base = MIN ((double) ECHO_RADIO_PLAYER_BACKOFF_MIN_MS * (1u << shift),
      (double) ECHO_RADIO_PLAYER_BACKOFF_MAX_MS);

  return (guint) (base * g_random_double_range (0.8, 1.2));
}

static void
schedule_retry (EchoRadioPlayer * p, Feed * f, guint delay_ms)
{
  if (f->retry_source != NULL)
    return;
  f->retry_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (f->retry_source, retry_due, f, NULL);
  g_source_attach (f->retry_source, p->context);
}

static void report_state (EchoRadioPlayer * p, EchoRadioPlayerState state,
    const char *detail);
static void report_failure (EchoRadioPlayer * p, const GError * error);

static void
ensure_fallback (EchoRadioPlayer * p)
{
  Feed *f;

  if (p->fallback != NULL || (p->fallback_file == NULL && p->fallback_url == NULL))
    return;
  if (p->fallback_file != NULL)
    f = feed_new (p, FEED_FILE, FALSE, p->fallback_file);
  else
    f = feed_new (p, FEED_URL, FALSE, p->fallback_url);
  echo_relay_output_lock (p->output);
  p->fallback = f;
  echo_relay_output_unlock (p->output);
  connect_feed (p, f);
}

/* A connection of @f died (@serial 0: it never started): stop it, then reconnect as its
 * kind wants. */
static void
conn_died (EchoRadioPlayer * p, Feed * f, guint serial, const char *reason)
{
  g_autofree char *detail = NULL;
  g_autoptr (GError) failure = NULL;
  guint delay;

  if (serial != 0 && (f->conn == NULL || f->conn->serial != serial))
    return;                     /* an older connection's news */
  feed_disconnect (p, f);

  /* the callbacks come last: they may free the player */
  switch (f->kind) {
    case FEED_URL:
      f->attempt++;
      delay = backoff_ms (f);
      schedule_retry (p, f, delay);
      if (f->primary) {
        detail = g_strdup_printf ("attempt %u, next in %.1f s: %s", f->attempt,
            delay / 1000.0, reason);
        g_message ("radio session %s: %s: %s", p->session_id, f->location, detail);
        ensure_fallback (p);
        report_state (p, ECHO_RADIO_PLAYER_STATE_RECONNECTING, detail);
      }
      break;
    case FEED_PUSH:
      if (f->closed)
        break;                  /* the source is gone: nothing follows */
      /* a new decoder for the bytes that follow (a format change, garbage) */
      f->attempt++;
      g_message ("radio session %s: pushed stream: %s; restarting its decoder",
          p->session_id, reason);
      ensure_fallback (p);
      if (f->attempt <= 1)
        connect_feed (p, f);
      else
        schedule_retry (p, f, backoff_ms (f));
      break;
    case FEED_FILE:
      if (g_strcmp0 (reason, REASON_ENDED) == 0) {
        connect_feed (p, f);    /* a loop */
        break;
      }
      f->attempt++;
      schedule_retry (p, f, backoff_ms (f));
      if (!f->failure_reported) {
        f->failure_reported = TRUE;
        failure = g_error_new (ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_FAILED,
            "fallback file %s: %s", f->location, reason);
        report_failure (p, failure);
      }
      break;
  }
}

/* ---------------------------------------------------------------------------------- */
/* The owner's side of events                                                           */

static void
report_state (EchoRadioPlayer * p, EchoRadioPlayerState state, const char *detail)
{
  if (p->state == state && g_strcmp0 (p->state_detail, detail) == 0)
    return;
  p->state = state;
  g_free (p->state_detail);
  p->state_detail = g_strdup (detail);
  if (p->callbacks.state != NULL)
    p->callbacks.state (p, state, detail, p->data);
}

static void
report_failure (EchoRadioPlayer * p, const GError * error)
{
  if (p->callbacks.failed != NULL)
    p->callbacks.failed (p, error, p->data);
  else
    g_message ("radio session %s: %s", p->session_id, error->message);
}

static void
retire_orphan (EchoRadioPlayer * p)
{
  Feed *orphan = NULL;

  echo_relay_output_lock (p->output);
  if (p->orphan != NULL && p->orphan != p->active)
    orphan = g_steal_pointer (&p->orphan);
  echo_relay_output_unlock (p->output);
  feed_free (p, orphan);
}

/* One event (which the queue frees). */
static void
dispatch_event (gpointer event, gpointer user_data)
{
  EchoRadioPlayer *p = user_data;
  Event *ev = event;

  switch (ev->type) {
    case EVENT_TITLE:
      if (ev->generation != p->generation)
        break;
      if (p->title != NULL)
        gst_tag_list_unref (p->title);
      p->title = gst_tag_list_ref (ev->tags);
      if (p->callbacks.title != NULL)
        p->callbacks.title (p, ev->tags, p->data);
      break;
    case EVENT_STATE:
      report_state (p, ev->state, ev->detail);
      break;
    case EVENT_CONN_DEAD:
      if (p->primary != NULL && p->primary->id == ev->feed_id)
        conn_died (p, p->primary, ev->serial, ev->detail);
      else if (p->fallback != NULL && p->fallback->id == ev->feed_id)
        conn_died (p, p->fallback, ev->serial, ev->detail);
      break;
    case EVENT_PRIMARY_AUDIBLE:{
      Feed *fallback = NULL;

      if (p->primary != NULL)
        p->primary->attempt = 0;
      echo_relay_output_lock (p->output);
      feed_drop_locked (p, g_steal_pointer (&p->fallback), &fallback);
      echo_relay_output_unlock (p->output);
      feed_free (p, fallback);
      break;
    }
    case EVENT_RETIRE_ORPHAN:
      retire_orphan (p);
      break;
  }
}

/* ---------------------------------------------------------------------------------- */
/* The relay pipeline                                                                   */

/* Stops the relay pipeline; the titles timed on it will not be heard. */
static void
teardown_pipeline (EchoRadioPlayer * p)
{
  echo_relay_output_stop (p->output);
  echo_relay_output_lock (p->output);
  g_queue_clear_full (&p->timed, event_free);
  echo_relay_output_unlock (p->output);
}

static void
on_output_failed (EchoRelayOutput * o, const GError * failure, gpointer user_data)
{
  EchoRadioPlayer *p = user_data;
  g_autoptr (GError) rebuild_error = NULL;

  teardown_pipeline (p);
  /* rebuilt once (same port: receivers keep their subscription target) */
  if (!p->rebuilt) {
    p->rebuilt = TRUE;
    echo_relay_output_start (o, &rebuild_error);
  }
  echo_event_queue_enter (p->events);
  report_failure (p, failure);
  if (rebuild_error != NULL && !echo_event_queue_is_doomed (p->events))
    report_failure (p, rebuild_error);
  echo_event_queue_leave (p->events);
}

static void finish_free (gpointer data);
static void stop_playing (gpointer data);

EchoRadioPlayer *
echo_radio_player_new (EchoPipelineFactory * factory, const char *session_id,
    const char *token, gboolean announce, const EchoRadioPlayerCallbacks * callbacks,
    gpointer data, GError ** error)
{
  EchoRadioPlayer *p;
  EchoRelayOutputSpec spec = {
    .factory = factory,
    .kind = ECHO_PIPELINE_KIND_RADIO,
    .session_id = session_id,
    .latency_ms = ECHO_RADIO_PLAYER_LATENCY_MS,
    .token = token,
    .announce = announce,
    .input = ECHO_PIPELINE_ELEMENT_STREAM,
    /* the station chain is built per connection, not in the relay pipeline */
    .detached = ECHO_PIPELINE_ELEMENT_STATION,
    .thread_name = "echo-radio-feed",
    .tick = feeder_tick,
    .failed = on_output_failed,
  };

  g_return_val_if_fail (factory != NULL, NULL);
  g_return_val_if_fail (session_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = g_new0 (EchoRadioPlayer, 1);
  p->factory = factory;
  p->session_id = g_strdup (session_id);
  p->context = g_main_context_ref_thread_default ();
  if (callbacks != NULL)
    p->callbacks = *callbacks;
  p->data = data;
  p->state = ECHO_RADIO_PLAYER_STATE_FALLBACK;
  p->state_detail = g_strdup ("idle");
  g_queue_init (&p->timed);

  p->events = echo_event_queue_new ("echo radio player: events", p->context,
      dispatch_event, event_free, finish_free, p);
  spec.owner = p;
  p->output = echo_relay_output_new (&spec);

  if (!echo_relay_output_start (p->output, error)) {
    echo_radio_player_free (p);
    return NULL;
  }
  return p;
}

/* ---------------------------------------------------------------------------------- */
/* Control                                                                              */

/* Replaces the primary feed (NULL: none), dropping the fallback and pending titles. */
static void
set_primary (EchoRadioPlayer * p, Feed * f)
{
  Feed *old_primary = NULL, *old_fallback = NULL;

  echo_relay_output_lock (p->output);
  feed_drop_locked (p, g_steal_pointer (&p->primary), &old_primary);
  feed_drop_locked (p, g_steal_pointer (&p->fallback), &old_fallback);
  p->primary = f;
  p->primary_played = FALSE;
  p->generation++;
  g_queue_clear_full (&p->timed, event_free);
  g_clear_pointer (&p->last_scheduled, gst_tag_list_unref);
  echo_relay_output_unlock (p->output);
  feed_free (p, old_primary);
  feed_free (p, old_fallback);
  /* an orphan still heard keeps its connection until it has faded out; not needed */
  if (p->orphan != NULL)
    feed_disconnect (p, p->orphan);
}

static gboolean
ensure_pipeline (EchoRadioPlayer * p, GError ** error)
{
  return echo_relay_output_start (p->output, error);
}

static gboolean
printable_ascii (const char *s, gsize max)
{
  const char *c;

  if (strlen (s) > max)
    return FALSE;
  for (c = s; *c != '\0'; c++) {
    if (*c < 0x20 || *c > 0x7e)
      return FALSE;
  }
  return TRUE;
}

static gboolean
check_url (const char *url, GError ** error)
{
  g_autofree char *scheme = NULL;

  if (url == NULL || *url == '\0' || !printable_ascii (url, URL_MAX)
      || strchr (url, ' ') != NULL || !g_uri_is_valid (url, G_URI_FLAGS_NONE, NULL)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "a station URL is an http:// or https:// URL of at most %d characters", URL_MAX);
    return FALSE;
  }
  scheme = g_uri_parse_scheme (url);
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "http") != 0
          && g_ascii_strcasecmp (scheme, "https") != 0)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "a station URL is http:// or https://");
    return FALSE;
  }
  return TRUE;
}

/* "Name: value" lines into souphttpsrc's extra-headers structure. */
static GstStructure *
parse_headers (const char *const *headers, GError ** error)
{
  g_autoptr (GstStructure) s = gst_structure_new_empty ("extra-headers");
  gsize i;

  for (i = 0; headers != NULL && headers[i] != NULL; i++) {
    const char *colon = strchr (headers[i], ':');
    g_autofree char *name = NULL;
    g_autofree char *value = NULL;
    const char *c;
    gboolean ok = colon != NULL && colon != headers[i]
        && printable_ascii (headers[i], HEADER_MAX);

    if (ok) {
      name = g_strndup (headers[i], colon - headers[i]);
      for (c = name; *c != '\0' && ok; c++)
        ok = g_ascii_isalnum (*c) || strchr ("!#$%&'*+-.^_`|~", *c) != NULL;
      value = g_strstrip (g_strdup (colon + 1));
    }
    if (!ok) {
      g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
          "request header %" G_GSIZE_FORMAT " is not \"Name: value\" in printable ASCII",
          i + 1);
      return NULL;
    }
    gst_structure_set (s, name, G_TYPE_STRING, value, NULL);
  }
  return g_steal_pointer (&s);
}

gboolean
echo_radio_player_play_url (EchoRadioPlayer * p, const char *url,
    const char *const *headers, GError ** error)
{
  GstStructure *extra = NULL;
  Feed *f;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_url (url, error))
    return FALSE;
  if (headers != NULL && headers[0] != NULL) {
    extra = parse_headers (headers, error);
    if (extra == NULL)
      return FALSE;
  }
  if (!ensure_pipeline (p, error)) {
    if (extra != NULL)
      gst_structure_free (extra);
    return FALSE;
  }
  f = feed_new (p, FEED_URL, TRUE, url);
  f->headers = extra;
  set_primary (p, f);
  report_state (p, ECHO_RADIO_PLAYER_STATE_CONNECTING, url);
  connect_feed (p, f);
  return TRUE;
}

/* The caps a content type stands for, NULL for an unknown one. */
static const char *
content_type_caps (const char *content_type)
{
  static const struct
  {
    const char *type, *caps;
  } known[] = {
    {"audio/mpeg", "audio/mpeg, mpegversion=(int)1"},
    {"audio/aac", "audio/mpeg, mpegversion=(int)4"},
    {"audio/aacp", "audio/mpeg, mpegversion=(int)4"},
    {"audio/ogg", "application/ogg"},
    {"application/ogg", "application/ogg"},
    {"audio/flac", "audio/x-flac"},
    {"audio/webm", "audio/webm"},
  };
  g_autofree char *bare = g_strstrip (g_strndup (content_type,
          strcspn (content_type, ";")));
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (known); i++) {
    if (g_ascii_strcasecmp (bare, known[i].type) == 0)
      return known[i].caps;
  }
  return NULL;
}

/* Whether an installed decoder or demuxer takes @caps. */
static gboolean
have_decoder (const char *caps_string)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string (caps_string);
  GList *all = gst_element_factory_list_get_elements (GST_ELEMENT_FACTORY_TYPE_DECODER
      | GST_ELEMENT_FACTORY_TYPE_DEMUXER, GST_RANK_MARGINAL);
  GList *fitting = gst_element_factory_list_filter (all, caps, GST_PAD_SINK, FALSE);
  gboolean found = fitting != NULL;

  gst_plugin_feature_list_free (fitting);
  gst_plugin_feature_list_free (all);
  return found;
}

gboolean
echo_radio_player_push_open (EchoRadioPlayer * p, const char *content_type,
    GError ** error)
{
  const char *caps;
  Feed *f;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  caps = content_type != NULL ? content_type_caps (content_type) : NULL;
  if (caps == NULL) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_INVALID_VALUE,
        "a pushed stream is audio/mpeg, audio/ogg, application/ogg, audio/aac, "
        "audio/aacp, audio/flac or audio/webm");
    return FALSE;
  }
  if (!have_decoder (caps)) {
    g_set_error (error, ECHO_PIPELINE_ERROR, ECHO_PIPELINE_ERROR_NOT_FOUND,
        "no installed GStreamer decoder plays %s", content_type);
    return FALSE;
  }
  if (!ensure_pipeline (p, error))
    return FALSE;
  f = feed_new (p, FEED_PUSH, TRUE, content_type);
  set_primary (p, f);
  report_state (p, ECHO_RADIO_PLAYER_STATE_CONNECTING, content_type);
  connect_feed (p, f);
  return TRUE;
}

void
echo_radio_player_push_bytes (EchoRadioPlayer * p, GBytes * bytes)
{
  Feed *f;
  GstBuffer *buf;

  g_return_if_fail (p != NULL);
  g_return_if_fail (bytes != NULL);

  f = p->primary;
  if (f == NULL || f->kind != FEED_PUSH || f->closed || f->conn == NULL
      || g_bytes_get_size (bytes) == 0)
    return;
  echo_relay_output_lock (p->output);
  f->conn->undecoded_bytes += g_bytes_get_size (bytes);
  echo_relay_output_unlock (p->output);
  buf = gst_buffer_new_wrapped_bytes (bytes);
  gst_app_src_push_buffer (f->conn->push_src, buf);
}

void
echo_radio_player_push_metadata (EchoRadioPlayer * p, const GstTagList * tags)
{
  Feed *f;
  GstTagList *title;

  g_return_if_fail (p != NULL);
  g_return_if_fail (tags != NULL);

  f = p->primary;
  if (f == NULL || f->kind != FEED_PUSH || f->closed || f->conn == NULL)
    return;
  title = title_tags (tags);
  /* serialized: appsrc queues it after the bytes already pushed */
  gst_element_send_event (GST_ELEMENT (f->conn->push_src), gst_event_new_tag (title));
}

void
echo_radio_player_push_close (EchoRadioPlayer * p)
{
  Feed *f;

  g_return_if_fail (p != NULL);

  f = p->primary;
  if (f == NULL || f->kind != FEED_PUSH || f->closed)
    return;
  f->closed = TRUE;
  if (f->retry_source != NULL) {
    g_source_destroy (f->retry_source);
    g_clear_pointer (&f->retry_source, g_source_unref);
  }
  if (f->conn != NULL)
    gst_app_src_end_of_stream (f->conn->push_src);
  ensure_fallback (p);
}

static void
set_fallback (EchoRadioPlayer * p, const char *file, const char *url)
{
  Feed *old = NULL;
  gboolean needed;

  g_free (p->fallback_file);
  g_free (p->fallback_url);
  p->fallback_file = g_strdup (file);
  p->fallback_url = g_strdup (url);
  echo_relay_output_lock (p->output);
  needed = p->fallback != NULL;
  feed_drop_locked (p, g_steal_pointer (&p->fallback), &old);
  echo_relay_output_unlock (p->output);
  feed_free (p, old);
  if (needed)
    ensure_fallback (p);
}

void
echo_radio_player_set_fallback_file (EchoRadioPlayer * p, const char *path)
{
  g_return_if_fail (p != NULL);

  set_fallback (p, path, NULL);
}

void
echo_radio_player_set_fallback_url (EchoRadioPlayer * p, const char *url)
{
  g_return_if_fail (p != NULL);

  if (url != NULL && !check_url (url, NULL)) {
    g_message ("radio session %s: fallback URL refused: not an http(s) URL",
        p->session_id);
    url = NULL;
  }
  set_fallback (p, NULL, url);
}

void
echo_radio_player_set_volume (EchoRadioPlayer * p, double volume)
{
  g_return_if_fail (p != NULL);

  echo_relay_output_set_volume (p->output, volume);
}

void
echo_radio_player_pause (EchoRadioPlayer * p)
{
  g_return_if_fail (p != NULL);

  echo_relay_output_lock (p->output);
  p->paused = TRUE;
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
}

void
echo_radio_player_resume (EchoRadioPlayer * p)
{
  g_return_if_fail (p != NULL);

  echo_relay_output_lock (p->output);
  p->paused = FALSE;
  echo_relay_output_wake (p->output);
  echo_relay_output_unlock (p->output);
}

guint16
echo_radio_player_get_relay_port (EchoRadioPlayer * p)
{
  g_return_val_if_fail (p != NULL, 0);

  return echo_relay_output_get_port (p->output);
}

GstTagList *
echo_radio_player_get_title (EchoRadioPlayer * p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return p->title != NULL ? gst_tag_list_ref (p->title) : NULL;
}

EchoRadioPlayerState
echo_radio_player_get_state (EchoRadioPlayer * p)
{
  g_return_val_if_fail (p != NULL, ECHO_RADIO_PLAYER_STATE_FALLBACK);

  return p->state;
}

GstPipeline *
echo_radio_player_get_pipeline (EchoRadioPlayer * p)
{
  g_return_val_if_fail (p != NULL, NULL);

  return echo_relay_output_get_pipeline (p->output);
}

/* ---------------------------------------------------------------------------------- */
/* Freeing                                                                              */

static void
stop_all (EchoRadioPlayer * p)
{
  Feed *feeds[3];
  gsize i;

  echo_relay_output_lock (p->output);
  feeds[0] = g_steal_pointer (&p->primary);
  feeds[1] = g_steal_pointer (&p->fallback);
  feeds[2] = g_steal_pointer (&p->orphan);
  p->active = NULL;
  p->generation++;
  echo_relay_output_unlock (p->output);
  for (i = 0; i < G_N_ELEMENTS (feeds); i++)
    feed_free (p, feeds[i]);
}

/* Frees what is left once no callback of ours runs (the event queue's finish). */
static void
finish_free (gpointer data)
{
  EchoRadioPlayer *p = data;

  stop_playing (p);
  /* joins the feeder */
  g_clear_pointer (&p->output, echo_relay_output_free);
  echo_event_queue_free (p->events);
  g_clear_pointer (&p->last_scheduled, gst_tag_list_unref);
  g_clear_pointer (&p->title, gst_tag_list_unref);
  g_free (p->state_detail);
  g_free (p->fallback_file);
  g_free (p->fallback_url);
  g_main_context_unref (p->context);
  g_free (p->session_id);
  g_free (p);
}

/* What a free from inside a callback stops at once. */
static void
stop_playing (gpointer data)
{
  EchoRadioPlayer *p = data;

  stop_all (p);
  teardown_pipeline (p);
}

void
echo_radio_player_free (EchoRadioPlayer * p)
{
  if (p == NULL)
    return;
  echo_event_queue_finish (p->events, stop_playing);
}
