/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-echosimsink
 * @title: echosimsink
 * @see_also: fakeaudiosink, alsasink
 *
 * A sound card that does not exist, for measuring synchronisation: it plays audio against
 * CLOCK_MONOTONIC through a crystal that runs #GstEchoSimSink:skew-ppm fast or slow, and
 * can record exactly when each frame played (#GstEchoSimSink:location). Several receivers
 * on one host, each with its own echosimsink, can then be compared sample by sample with
 * `sync-analyze` (bench/), since CLOCK_MONOTONIC is the common truth.
 *
 * ## The device
 *
 * The device consumes rate * (1 + skew-ppm * 1e-6) frames per second of CLOCK_MONOTONIC.
 * It holds at most #GstEchoSimSink:device-buffer-time of frames beyond what it has played;
 * a write blocks until there is room, appending the segment as room frees up (as a real
 * device does with a period larger than its free space). The delay it reports is computed
 * from the virtual clock at the moment of the call, to the nearest frame, so the clock of
 * #GstAudioBaseSink runs exactly at the device's rate.
 *
 * When the device has played everything it was given before the next write arrives, it
 * plays silence meanwhile (an underrun, counted in #GstEchoSimSink:underruns) and the next
 * frame written starts playing the moment it is written. A play-out is therefore exact by
 * construction: frame j after an anchor (the first frame after opening, an underrun or a
 * reset) plays at anchor + j * 1e9 / (rate * (1 + skew-ppm * 1e-6)) ns.
 *
 * The device cannot pause. When the sink pauses (PLAYING to PAUSED, or a flush) writing
 * stops, the device plays out what it holds and then runs dry, so resuming after more than
 * device-buffer-time counts an underrun. Stopping the sink (PAUSED to READY) drops the
 * frames it still holds. Upstream running late does not underrun the device: the
 * #GstAudioBaseSink ring buffer then writes silence, which is recorded as such.
 *
 * All #GstAudioBaseSink properties (sync, slave-method, buffer-time, latency-time,
 * provide-clock...) behave as in any #GstAudioSink.
 *
 * ## Recording
 *
 * With #GstEchoSimSink:location set, every write becomes a block of a binary recording:
 * the CLOCK_MONOTONIC time at which its first frame plays, its frame count, whether the
 * device ran dry just before it, and its samples as 32-bit floats (S16 input divided by
 * 32768). The header holds the rate, channels, skew and the time the sink was opened. The
 * format is specified in bench/syncrec.h and docs/elements/echosimsink.md. The file is
 * written by a thread of its own: the device thread only copies the samples into a
 * queue, so a slow disk (writeback of a busy file system can hold a write() for tens of
 * milliseconds) never makes the device run dry, which a real sound card would not.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 audiotestsrc ! echosimsink skew-ppm=250 location=/tmp/rec.bin
 * ]| Plays a test tone on a device running 250 ppm fast and records the play-out.
 * |[
 * gst-launch-1.0 audiotestsrc num-buffers=300 ! audio/x-raw,format=S16LE,rate=44100 ! echosimsink sync=false skew-ppm=-80
 * ]| Lets the device pace the stream (no synchronisation to the pipeline clock).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <pthread.h>
#include <time.h>

#include "gstechosimsink.h"
#include "syncrec.h"

GST_DEBUG_CATEGORY_STATIC (echo_sim_sink_debug);
#define GST_CAT_DEFAULT echo_sim_sink_debug

#define DEFAULT_SKEW_PPM 0.0
#define DEFAULT_DEVICE_BUFFER_TIME 10000        /* us */
#define DEFAULT_LOCATION NULL

enum
{
  PROP_0,
  PROP_SKEW_PPM,
  PROP_DEVICE_BUFFER_TIME,
  PROP_LOCATION,
  PROP_UNDERRUNS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

/* A contiguous part of one write(): one recording block. */
typedef struct
{
  guint64 offset;               /* frames into the written data */
  guint32 frames;
  guint32 flags;
  gint64 host_ns;
} Run;

struct _GstEchoSimSink
{
  GstAudioSink parent;

  /* properties, under the object lock */
  gdouble skew_ppm;
  gint64 device_buffer_time;
  gchar *location;

  /* the virtual device, under dev_lock; dev_cond wakes a write() waiting for room */
  pthread_mutex_t dev_lock;
  pthread_cond_t dev_cond;
  guint bpf;
  gdouble device_rate;          /* frames per second of CLOCK_MONOTONIC */
  guint64 capacity;             /* frames */
  gboolean anchored;            /* FALSE: nothing played since opening or a reset */
  gint64 anchor_ns;             /* when frame 0 after the anchor plays */
  guint64 appended;             /* frames given to the device since the anchor */
  guint64 in_write;             /* of those, given by the write() in progress */
  gboolean interrupted;         /* paused or reset: write() returns at once */
  gboolean gap_pending;         /* the next anchor follows a reset */
  gboolean drop_pending;        /* a reset dropped frames at drop_ns, not yet recorded */
  gint64 drop_ns;
  guint underruns;

  /* the recording, under rec_lock: written by rec_thread from rec_queue (RecJob), the
   * header by prepare() before any block is queued */
  GThread *rec_thread;
  GAsyncQueue *rec_queue;
  GMutex rec_lock;
  EchoSyncRecWriter *rec;
  gboolean rec_failed;
  EchoSyncRecSamples rec_format;
  EchoSyncRecHeader rec_header; /* what the header says, once written */
  gint64 open_ns;
  GArray *runs;                 /* Run, of the current write(); device thread only */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, "
        "format = (string) { F32LE, S16LE }, "
        "layout = (string) interleaved, "
        "rate = (int) [ 8000, 192000 ], " "channels = (int) [ 1, 8 ]"));

#define gst_echo_sim_sink_parent_class parent_class
G_DEFINE_TYPE (GstEchoSimSink, gst_echo_sim_sink, GST_TYPE_AUDIO_SINK);
GST_ELEMENT_REGISTER_DEFINE (echosimsink, "echosimsink", GST_RANK_NONE,
    GST_TYPE_ECHO_SIM_SINK);

/* ---- the virtual device (call with dev_lock) ---- */

/* Frames played since the anchor at @now, fractional. */
static gdouble
device_position (GstEchoSimSink * self, gint64 now)
{
  return (gdouble) (now - self->anchor_ns) * self->device_rate / 1e9;
}

/* When frame @j after the anchor plays (what the recording's reader computes). */
static gint64
device_frame_time (GstEchoSimSink * self, guint64 j)
{
  return self->anchor_ns + (gint64) llround ((gdouble) j * 1e9 /
      self->device_rate);
}

static gboolean
device_is_dry (GstEchoSimSink * self, gint64 now)
{
  return !self->anchored ||
      device_position (self, now) >= (gdouble) self->appended;
}

static void
timespec_from_ns (struct timespec *ts, gint64 ns)
{
  ts->tv_sec = ns / GST_SECOND;
  ts->tv_nsec = ns % GST_SECOND;
}

/* ---- recording ---- */

/* What the device thread hands the recording thread. */
typedef enum
{
  REC_JOB_BLOCK,
  REC_JOB_DROP,
  REC_JOB_SYNC,                 /* everything before it is written: signal the waiter */
  REC_JOB_QUIT,
} RecJobKind;

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
} RecSync;

typedef struct
{
  RecJobKind kind;
  gint64 host_ns;
  guint32 flags;
  EchoSyncRecSamples format;
  guint32 frames;
  guint8 *data;
  RecSync *sync;
} RecJob;

static void record_failed (GstEchoSimSink * self, GError * error);

static void
rec_job_free (RecJob * job)
{
  g_free (job->data);
  g_free (job);
}

static gpointer
record_thread (gpointer user_data)
{
  GstEchoSimSink *self = user_data;

  for (;;) {
    RecJob *job = g_async_queue_pop (self->rec_queue);
    GError *error = NULL;
    gboolean ok = TRUE;

    if (job->kind == REC_JOB_QUIT) {
      rec_job_free (job);
      break;
    }
    if (job->kind == REC_JOB_SYNC) {
      g_mutex_lock (&job->sync->lock);
      job->sync->done = TRUE;
      g_cond_signal (&job->sync->cond);
      g_mutex_unlock (&job->sync->lock);
      rec_job_free (job);
      continue;
    }
    g_mutex_lock (&self->rec_lock);
    if (self->rec && !self->rec_failed) {
      if (job->kind == REC_JOB_BLOCK)
        ok = echo_sync_rec_writer_add_block (self->rec, job->host_ns, job->flags,
            job->format, job->data, job->frames, &error);
      else if (echo_sync_rec_writer_has_header (self->rec))
        ok = echo_sync_rec_writer_add_drop (self->rec, job->host_ns, &error);
      if (!ok) {
        record_failed (self, error);
        g_clear_error (&error);
      }
    }
    g_mutex_unlock (&self->rec_lock);
    rec_job_free (job);
  }
  return NULL;
}

static void
record_push (GstEchoSimSink * self, RecJob * job)
{
  if (self->rec_queue != NULL)
    g_async_queue_push (self->rec_queue, job);
  else
    rec_job_free (job);
}

/* Waits until every queued block is in the writer. */
static void
record_sync (GstEchoSimSink * self)
{
  RecSync sync;
  RecJob *job;

  if (self->rec_queue == NULL)
    return;
  g_mutex_init (&sync.lock);
  g_cond_init (&sync.cond);
  sync.done = FALSE;
  job = g_new0 (RecJob, 1);
  job->kind = REC_JOB_SYNC;
  job->sync = &sync;
  g_async_queue_push (self->rec_queue, job);
  g_mutex_lock (&sync.lock);
  while (!sync.done)
    g_cond_wait (&sync.cond, &sync.lock);
  g_mutex_unlock (&sync.lock);
  g_mutex_clear (&sync.lock);
  g_cond_clear (&sync.cond);
}

static void
record_stop (GstEchoSimSink * self)
{
  RecJob *job;

  if (self->rec_thread == NULL)
    return;
  job = g_new0 (RecJob, 1);
  job->kind = REC_JOB_QUIT;
  g_async_queue_push (self->rec_queue, job);
  g_thread_join (self->rec_thread);
  self->rec_thread = NULL;
  g_clear_pointer (&self->rec_queue, g_async_queue_unref);
}

static void
record_failed (GstEchoSimSink * self, GError * error)
{
  /* with rec_lock */
  if (!self->rec_failed)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write the recording."), ("%s", error->message));
  self->rec_failed = TRUE;
}

static void
record_pending_drop (GstEchoSimSink * self)
{
  gboolean drop;
  gint64 drop_ns;
  RecJob *job;

  pthread_mutex_lock (&self->dev_lock);
  drop = self->drop_pending;
  drop_ns = self->drop_ns;
  self->drop_pending = FALSE;
  pthread_mutex_unlock (&self->dev_lock);
  if (!drop)
    return;

  job = g_new0 (RecJob, 1);
  job->kind = REC_JOB_DROP;
  job->host_ns = drop_ns;
  record_push (self, job);
}

static void
record_runs (GstEchoSimSink * self, const guint8 * data)
{
  guint i;

  /* set in open(), before the device thread runs */
  if (self->rec_queue == NULL)
    return;
  for (i = 0; i < self->runs->len; i++) {
    const Run *run = &g_array_index (self->runs, Run, i);
    RecJob *job = g_new0 (RecJob, 1);

    job->kind = REC_JOB_BLOCK;
    job->host_ns = run->host_ns;
    job->flags = run->flags;
    job->format = self->rec_format;
    job->frames = run->frames;
    job->data = g_memdup2 (data + run->offset * self->bpf,
        (gsize) run->frames * self->bpf);
    record_push (self, job);
  }
}

/* ---- GstAudioSink ---- */

static gboolean
gst_echo_sim_sink_open (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  g_autofree gchar *location = NULL;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);

  pthread_mutex_lock (&self->dev_lock);
  self->anchored = FALSE;
  self->gap_pending = FALSE;
  self->drop_pending = FALSE;
  self->interrupted = FALSE;
  self->underruns = 0;
  self->open_ns = echo_sync_rec_now_ns ();
  pthread_mutex_unlock (&self->dev_lock);

  if (location == NULL)
    return TRUE;

  g_mutex_lock (&self->rec_lock);
  self->rec = echo_sync_rec_writer_open (location, &error);
  self->rec_failed = FALSE;
  g_mutex_unlock (&self->rec_lock);
  if (self->rec == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not open \"%s\" to record the play-out.", location),
        ("%s", error->message));
    g_clear_error (&error);
    return FALSE;
  }
  self->rec_queue = g_async_queue_new ();
  self->rec_thread = g_thread_new ("echosimsink-rec", record_thread, self);
  GST_INFO_OBJECT (self, "recording to %s", location);
  return TRUE;
}

static gboolean
gst_echo_sim_sink_prepare (GstAudioSink * sink, GstAudioRingBufferSpec * spec)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  GstAudioFormat format = GST_AUDIO_INFO_FORMAT (&spec->info);
  guint rate = GST_AUDIO_INFO_RATE (&spec->info);
  guint channels = GST_AUDIO_INFO_CHANNELS (&spec->info);
  EchoSyncRecSamples rec_format;
  gdouble skew;
  gint64 buffer_time;
  gboolean ok = TRUE;

  if (format == GST_AUDIO_FORMAT_F32LE)
    rec_format = ECHO_SYNC_REC_SAMPLES_F32LE;
  else if (format == GST_AUDIO_FORMAT_S16LE)
    rec_format = ECHO_SYNC_REC_SAMPLES_S16LE;
  else
    g_return_val_if_reached (FALSE);

  GST_OBJECT_LOCK (self);
  skew = self->skew_ppm;
  buffer_time = self->device_buffer_time;
  GST_OBJECT_UNLOCK (self);

  pthread_mutex_lock (&self->dev_lock);
  self->bpf = GST_AUDIO_INFO_BPF (&spec->info);
  self->device_rate = rate * (1.0 + skew * 1e-6);
  self->capacity = MAX (1, gst_util_uint64_scale_round (buffer_time, rate,
          G_USEC_PER_SEC));
  self->interrupted = FALSE;
  self->in_write = 0;
  pthread_mutex_unlock (&self->dev_lock);

  GST_INFO_OBJECT (self, "%s, %u Hz, %u channels, skew %+.3f ppm, device "
      "buffer %" G_GUINT64_FORMAT " frames, segment %d bytes",
      gst_audio_format_to_string (format), rate, channels, skew,
      self->capacity, spec->segsize);

  g_mutex_lock (&self->rec_lock);
  if (self->rec && !echo_sync_rec_writer_has_header (self->rec)) {
    GError *error = NULL;

    self->rec_format = rec_format;
    self->rec_header.version = ECHO_SYNC_REC_VERSION;
    self->rec_header.rate = rate;
    self->rec_header.channels = channels;
    self->rec_header.skew_ppm = skew;
    self->rec_header.open_host_ns = self->open_ns;
    if (!echo_sync_rec_writer_write_header (self->rec, &self->rec_header,
            &error)) {
      record_failed (self, error);
      g_clear_error (&error);
      ok = FALSE;
    }
  } else if (self->rec && (self->rec_header.rate != rate ||
          self->rec_header.channels != channels ||
          self->rec_header.skew_ppm != skew)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("A recording cannot change format."),
        ("recording has %u Hz, %u channels, %g ppm; now %u Hz, %u channels, "
            "%g ppm", self->rec_header.rate, self->rec_header.channels,
            self->rec_header.skew_ppm, rate, channels, skew));
    ok = FALSE;
  } else {
    self->rec_format = rec_format;
  }
  g_mutex_unlock (&self->rec_lock);
  return ok;
}

static gboolean
gst_echo_sim_sink_unprepare (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  GError *error = NULL;

  record_pending_drop (self);
  record_sync (self);
  g_mutex_lock (&self->rec_lock);
  if (self->rec && !self->rec_failed &&
      !echo_sync_rec_writer_flush (self->rec, &error)) {
    record_failed (self, error);
    g_clear_error (&error);
  }
  g_mutex_unlock (&self->rec_lock);
  return TRUE;
}

static gboolean
gst_echo_sim_sink_close (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  GError *error = NULL;
  gboolean ok = TRUE;

  record_pending_drop (self);
  record_stop (self);
  g_mutex_lock (&self->rec_lock);
  if (self->rec) {
    ok = echo_sync_rec_writer_close (self->rec, &error) || self->rec_failed;
    self->rec = NULL;
  }
  g_mutex_unlock (&self->rec_lock);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, CLOSE,
        ("Could not write the recording."), ("%s", error->message));
    g_clear_error (&error);
  }
  g_clear_error (&error);
  return ok;
}

static gint
gst_echo_sim_sink_write (GstAudioSink * sink, gpointer data, guint length)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  guint64 total, done = 0;
  gint current = -1;            /* index of the run being extended */

  record_pending_drop (self);
  g_array_set_size (self->runs, 0);

  pthread_mutex_lock (&self->dev_lock);
  total = length / self->bpf;
  while (done < total && !self->interrupted) {
    gint64 now = echo_sync_rec_now_ns ();
    guint64 room, need;

    if (device_is_dry (self, now)) {
      Run run = { done, 0, 0, now };

      /* nothing left to play: the next frame plays now */
      if (self->anchored) {
        self->underruns++;
        run.flags = ECHO_SYNC_REC_FLAG_GAP;
        GST_DEBUG_OBJECT (self, "underrun %u: device dry for %" G_GINT64_FORMAT
            " ns", self->underruns,
            now - device_frame_time (self, self->appended));
      } else if (self->gap_pending) {
        run.flags = ECHO_SYNC_REC_FLAG_GAP;
      }
      self->gap_pending = FALSE;
      self->anchored = TRUE;
      self->anchor_ns = now;
      self->appended = 0;
      g_array_append_val (self->runs, run);
      current = self->runs->len - 1;
      room = self->capacity;
    } else {
      guint64 played = (guint64) device_position (self, now);
      guint64 queued = self->appended - MIN (played, self->appended);

      room = queued >= self->capacity ? 0 : self->capacity - queued;
    }

    /* a segment larger than half the device goes in parts, so the device never has to
     * run empty before the rest fits */
    need = MIN (total - done, MAX (self->capacity / 2, 1));
    if (room >= need) {
      guint64 n = MIN (room, total - done);
      Run *run;

      if (current < 0) {
        Run next = { done, 0, 0, device_frame_time (self, self->appended) };

        g_array_append_val (self->runs, next);
        current = self->runs->len - 1;
      }
      run = &g_array_index (self->runs, Run, current);
      run->frames += n;
      self->appended += n;
      self->in_write += n;
      done += n;
    } else {
      /* sleep until frame (appended + need - capacity) has started playing */
      guint64 target = self->appended + need - self->capacity;
      gint64 wake = self->anchor_ns +
          (gint64) ceil ((gdouble) target * 1e9 / self->device_rate) + 1;
      struct timespec ts;

      timespec_from_ns (&ts, MAX (wake, now + 1000));
      pthread_cond_timedwait (&self->dev_cond, &self->dev_lock, &ts);
    }
  }
  self->in_write = 0;
  pthread_mutex_unlock (&self->dev_lock);

  record_runs (self, data);
  record_pending_drop (self);
  return (gint) (done * self->bpf);
}

static guint
gst_echo_sim_sink_delay (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  gdouble queued = 0;

  pthread_mutex_lock (&self->dev_lock);
  /* frames of finished writes not played yet; the write in progress is not counted by
   * the ring buffer yet either */
  if (self->anchored)
    queued = (gdouble) (self->appended - self->in_write) -
        device_position (self, echo_sync_rec_now_ns ());
  pthread_mutex_unlock (&self->dev_lock);

  return queued > 0 ? (guint) llround (queued) : 0;
}

static void
gst_echo_sim_sink_pause (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);

  /* the device keeps playing what it holds; only the writing stops */
  pthread_mutex_lock (&self->dev_lock);
  self->interrupted = TRUE;
  pthread_cond_broadcast (&self->dev_cond);
  pthread_mutex_unlock (&self->dev_lock);
}

static void
gst_echo_sim_sink_resume (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);

  pthread_mutex_lock (&self->dev_lock);
  self->interrupted = FALSE;
  pthread_mutex_unlock (&self->dev_lock);
}

static void
gst_echo_sim_sink_reset (GstAudioSink * sink)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (sink);
  gint64 now = echo_sync_rec_now_ns ();

  pthread_mutex_lock (&self->dev_lock);
  if (!device_is_dry (self, now)) {
    GST_DEBUG_OBJECT (self, "dropping %.0f queued frames",
        self->appended - device_position (self, now));
    self->drop_pending = TRUE;
    self->drop_ns = now;
  }
  if (self->anchored)
    self->gap_pending = TRUE;
  self->anchored = FALSE;
  self->interrupted = TRUE;
  pthread_cond_broadcast (&self->dev_cond);
  pthread_mutex_unlock (&self->dev_lock);
}

/* ---- GObject ---- */

static void
gst_echo_sim_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (object);

  switch (prop_id) {
    case PROP_SKEW_PPM:
      GST_OBJECT_LOCK (self);
      self->skew_ppm = g_value_get_double (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DEVICE_BUFFER_TIME:
      GST_OBJECT_LOCK (self);
      self->device_buffer_time = g_value_get_int64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      if (GST_STATE (self) != GST_STATE_NULL) {
        GST_OBJECT_UNLOCK (self);
        g_warning ("echosimsink: location can only be set in the NULL state");
        break;
      }
      g_free (self->location);
      self->location = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_echo_sim_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (object);

  switch (prop_id) {
    case PROP_SKEW_PPM:
      GST_OBJECT_LOCK (self);
      g_value_set_double (value, self->skew_ppm);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DEVICE_BUFFER_TIME:
      GST_OBJECT_LOCK (self);
      g_value_set_int64 (value, self->device_buffer_time);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->location);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_UNDERRUNS:
      pthread_mutex_lock (&self->dev_lock);
      g_value_set_uint (value, self->underruns);
      pthread_mutex_unlock (&self->dev_lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_echo_sim_sink_finalize (GObject * object)
{
  GstEchoSimSink *self = GST_ECHO_SIM_SINK (object);

  record_stop (self);
  if (self->rec)
    echo_sync_rec_writer_close (self->rec, NULL);
  g_free (self->location);
  g_array_unref (self->runs);
  g_mutex_clear (&self->rec_lock);
  pthread_cond_destroy (&self->dev_cond);
  pthread_mutex_destroy (&self->dev_lock);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_echo_sim_sink_class_init (GstEchoSimSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAudioSinkClass *audio_sink_class = GST_AUDIO_SINK_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (echo_sim_sink_debug, "echosimsink", 0,
      "Simulated audio device with a skewed crystal");

  gobject_class->set_property = gst_echo_sim_sink_set_property;
  gobject_class->get_property = gst_echo_sim_sink_get_property;
  gobject_class->finalize = gst_echo_sim_sink_finalize;

  /**
   * GstEchoSimSink:skew-ppm:
   *
   * How fast the device's crystal runs against CLOCK_MONOTONIC, in parts per million:
   * the device plays rate * (1 + skew-ppm * 1e-6) frames per second. Read when the
   * device is prepared (READY to PAUSED).
   */
  properties[PROP_SKEW_PPM] =
      g_param_spec_double ("skew-ppm", "Skew (ppm)",
      "Crystal error of the simulated device: it plays rate * (1 + skew-ppm / 1e6) "
      "frames per second of CLOCK_MONOTONIC (positive = fast)",
      -10000.0, 10000.0, DEFAULT_SKEW_PPM,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstEchoSimSink:device-buffer-time:
   *
   * How much the device holds beyond what it has played, in microseconds: a write
   * blocks until there is room. Read when the device is prepared.
   */
  properties[PROP_DEVICE_BUFFER_TIME] =
      g_param_spec_int64 ("device-buffer-time", "Device buffer time",
      "Most audio the simulated device holds beyond what it has played, in "
      "microseconds (writes block until there is room)",
      1, 10 * G_USEC_PER_SEC, DEFAULT_DEVICE_BUFFER_TIME,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstEchoSimSink:location:
   *
   * Where to record the play-out (format in bench/syncrec.h), created when the sink
   * opens (NULL to READY); %NULL records nothing.
   */
  properties[PROP_LOCATION] =
      g_param_spec_string ("location", "Recording location",
      "File recording which frames played at which CLOCK_MONOTONIC time "
      "(NULL = no recording); set in the NULL state", DEFAULT_LOCATION,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  /**
   * GstEchoSimSink:underruns:
   *
   * How many times the device played everything it held before the next write
   * arrived, since it was opened.
   */
  properties[PROP_UNDERRUNS] =
      g_param_spec_uint ("underruns", "Underruns",
      "Times the device ran dry before the next write arrived, since opening "
      "(read-only)", 0, G_MAXUINT, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  audio_sink_class->open = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_open);
  audio_sink_class->prepare = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_prepare);
  audio_sink_class->unprepare = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_unprepare);
  audio_sink_class->close = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_close);
  audio_sink_class->write = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_write);
  audio_sink_class->delay = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_delay);
  audio_sink_class->reset = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_reset);
  audio_sink_class->pause = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_pause);
  audio_sink_class->resume = GST_DEBUG_FUNCPTR (gst_echo_sim_sink_resume);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Simulated audio device", "Sink/Audio",
      "Plays audio on a virtual sound card whose crystal runs at a set skew "
      "against CLOCK_MONOTONIC, and records when each frame played",
      "Echo contributors");
  gst_element_class_add_static_metadata (element_class,
      GST_ELEMENT_METADATA_DOC_URI, ECHO_ELEMENT_DOCS_URI "/echosimsink.md");
}

static void
gst_echo_sim_sink_init (GstEchoSimSink * self)
{
  pthread_condattr_t attr;

  self->skew_ppm = DEFAULT_SKEW_PPM;
  self->device_buffer_time = DEFAULT_DEVICE_BUFFER_TIME;
  self->location = g_strdup (DEFAULT_LOCATION);

  pthread_mutex_init (&self->dev_lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&self->dev_cond, &attr);
  pthread_condattr_destroy (&attr);
  g_mutex_init (&self->rec_lock);
  self->runs = g_array_new (FALSE, FALSE, sizeof (Run));
  self->bpf = 1;
  self->device_rate = 48000;
}
