/**
 * SECTION:element-echoclocksink
 * @title: echoclocksink
 *
 * echoclocksink plays audio on a real device so that each sample is heard when the
 * pipeline clock (with echosyncsrc: the session clock) says it should be, and keeps it
 * so although the device's crystal runs at its own rate.
 *
 * It wraps any audio sink as its #GstEchoClockSink:device (default `autoaudiosink`) and
 * runs it free (sync=false), reading the device's play position from its ring buffer.
 * It measures the device's real consumption rate against the pipeline clock and steers a
 * high-quality variable-rate resampler (GStreamer's #GstAudioResampler, Kaiser-windowed
 * sinc with interpolated filter taps) so that the sample being heard is the one whose
 * render time is now. Samples are never dropped or repeated after the initial lock; the
 * correction is limited to #GstEchoClockSink:max-correction (1000 ppm = 1.7 cents by
 * default, inaudible).
 *
 * The render time of a sample is its buffer running time + base time + the upstream
 * latency - #GstEchoClockSink:latency-offset; the latency offset compensates delay
 * added after the device (amplifier, speaker processing, HDMI).
 *
 * A device that is not a #GstAudioBaseSink cannot report its play position; it is then
 * used with its own clock synchronisation and a warning.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 echosyncsrc session=demo ! echoclocksink
 * gst-launch-1.0 echosyncsrc session=demo ! echoclocksink device="alsasink device=hw:1" latency-offset=3000000
 * ]|
 *
 * ## Statistics
 * Every #GstEchoClockSink:stats-interval the element posts an `echo-sync-stats` element
 * message, also readable as the #GstEchoClockSink:stats property, with: `offset`
 * (gint64, ns: how late the sample being heard is versus its render time; > 0 late),
 * `drift-ppm` (gdouble: the device's measured rate minus nominal, versus the pipeline
 * clock), `ratio` (gdouble: resampling ratio, input samples per output sample),
 * `correction-ppm` (gdouble: the part of the ratio that corrects the offset),
 * `underruns` (guint: the device ran dry), `corrections` (guint: locks, i.e. the first
 * one plus relocks after an underrun, a discontinuity, an offset beyond 1 ms or one that
 * stepped by more than 200 us between two readings: the device position jumped),
 * `locked` (gboolean).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstechoclocksink.h"
#include "gstechosyncelements.h"
#include "echosteer.h"

#include <gst/audio/audio.h>
#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (echo_clock_sink_debug);
#define GST_CAT_DEFAULT echo_clock_sink_debug

#define DEFAULT_DEVICE "autoaudiosink"
#define DEFAULT_LATENCY_OFFSET 0
#define DEFAULT_STATS_INTERVAL_MS 1000
#define DEFAULT_BUFFER_TIME_US 30000
#define DEFAULT_PERIOD_TIME_US 10000
#define DEFAULT_MAX_CORRECTION_PPM 1000
/* Beyond this the device position jumped (an xrun, a device-side underrun): following by
 * resampling would take seconds at max-correction, so lock again at once. Steady errors
 * are tens of microseconds and the session clock only slews, so this never fires on
 * drift. */
#define RELOCK_THRESHOLD_NS (1 * GST_MSECOND)
/* An error that moved this much since the previous reading (10 ms earlier, when drift can
 * move it by 10 us at most and readings scatter by about 10 us) is the device position
 * jumping too: a host stall the device covered with a few hundred microseconds of
 * silence. That is already a glitch, so lock again at once as well: slewing it back at
 * max-correction kept the receiver hundreds of microseconds off for a third of a second. */
#define RELOCK_STEP_NS (200 * GST_USECOND)
/* Input timestamps may wobble by this much and still count as continuous. */
#define CONTINUITY_NS (1 * GST_MSECOND)
/* Rate resolution of the resampler: rates are expressed as rate * this. */
#define RATE_SCALE 1000
#define HISTORY 64

/* ---- the follower: resamples towards the session timeline ---- */

#define ECHO_TYPE_CLOCK_FOLLOWER (echo_clock_follower_get_type ())
G_DECLARE_FINAL_TYPE (EchoClockFollower, echo_clock_follower, ECHO, CLOCK_FOLLOWER,
    GstElement)

typedef struct {
  double out_start;             /* output position (samples since the device started) */
  double in_start;              /* input position heard at out_start */
  double in_per_out;
} Segment;

struct _EchoClockFollower {
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;
  GstEchoClockSink *owner;

  GstAudioInfo info;
  GstAudioBaseSink *device;     /* not owned */
  GstAudioResampler *resampler;
  EchoSteer steer;
  gint64 latency_offset;
  double max_correction;
  GstClockTime upstream_latency;

  gboolean locked;
  gboolean have_error;          /* last_error holds the previous reading since the lock */
  double last_error;
  guint64 out_next;             /* output position of the next sample we push */
  double target0;               /* render time (ns) of input position 0 */
  double in_fed;                /* input samples since the lock, including skipped */
  double origin;                /* input position of the resampler's first input */
  double in_out_pos;            /* input advance of the resampler's outputs so far */
  gint in_rate, out_rate;
  Segment history[HISTORY];
  guint hist_head, hist_count;

  /* stats, under the object lock */
  gint64 offset_ns;
  guint underruns;
  guint corrections;
};

G_DEFINE_TYPE (EchoClockFollower, echo_clock_follower, GST_TYPE_ELEMENT);

/* The device's play position (samples since its ring buffer started) and whether it is
 * running. The two reads race with the ring buffer thread; a position that moved while
 * reading is read again. */
static gboolean
device_position (EchoClockFollower * self, guint64 * played, guint64 * done)
{
  GstAudioRingBuffer *rb = self->device->ringbuffer;
  guint64 before, after;
  guint delay;
  int tries;

  if (!rb || g_atomic_int_get (&rb->state) != GST_AUDIO_RING_BUFFER_STATE_STARTED)
    return FALSE;
  for (tries = 0; tries < 3; tries++) {
    before = gst_audio_ring_buffer_samples_done (rb);
    delay = gst_audio_ring_buffer_delay (rb);
    after = gst_audio_ring_buffer_samples_done (rb);
    if (before == after)
      break;
  }
  *done = after;
  *played = after > delay ? after - delay : 0;
  return TRUE;
}

/* The device position together with the pipeline-clock time it was read at. A reading
 * that took long (the thread was preempted between the two clocks) is taken again, so
 * one scheduling hiccup does not look like the device jumping. */
static gboolean
measure (EchoClockFollower * self, double *now, guint64 * played, guint64 * done)
{
  GstClock *clock = GST_ELEMENT_CLOCK (self);
  GstClockTime a, b = 0;
  int tries;

  if (!clock)
    return FALSE;
  for (tries = 0; tries < 5; tries++) {
    a = gst_clock_get_time (clock);
    if (!device_position (self, played, done))
      return FALSE;
    b = gst_clock_get_time (clock);
    if (b - a < 50 * GST_USECOND)
      break;
  }
  *now = ((double) a + (double) b) / 2;
  return TRUE;
}

/* Where the device will put the next sample we push (GstAudioBaseSink's next_sample, a
 * protected field read under its lock), or -1 before the first. With sync=false it
 * appends there unless that position has already been played (then it moves on to the
 * next free segment): reading it keeps our count of output positions exact. */
static gint64
device_next_sample (EchoClockFollower * self)
{
  guint64 next;

  GST_OBJECT_LOCK (self->device);
  next = self->device->next_sample;
  GST_OBJECT_UNLOCK (self->device);
  return next == (guint64) - 1 ? -1 : (gint64) next;
}

static GstClockTime
clock_now (EchoClockFollower * self)
{
  GstClock *clock = GST_ELEMENT_CLOCK (self);
  return clock ? gst_clock_get_time (clock) : GST_CLOCK_TIME_NONE;
}

static GstFlowReturn
push_silence (EchoClockFollower * self, guint64 frames)
{
  GstFlowReturn ret = GST_FLOW_OK;
  guint bpf = GST_AUDIO_INFO_BPF (&self->info);

  while (frames > 0 && ret == GST_FLOW_OK) {
    guint n = MIN (frames, (guint64) GST_AUDIO_INFO_RATE (&self->info) / 100);
    GstBuffer *buf = gst_buffer_new_allocate (NULL, n * bpf, NULL);

    gst_buffer_memset (buf, 0, 0, n * bpf);
    GST_BUFFER_OFFSET (buf) = self->out_next;
    frames -= n;
    ret = gst_pad_push (self->srcpad, buf);
    self->out_next = MAX (device_next_sample (self), 0);
  }
  return ret;
}

static void
history_add (EchoClockFollower * self, double out_start, double in_start,
    double in_per_out)
{
  Segment *s = &self->history[self->hist_head];

  s->out_start = out_start;
  s->in_start = in_start;
  s->in_per_out = in_per_out;
  self->hist_head = (self->hist_head + 1) % HISTORY;
  if (self->hist_count < HISTORY)
    self->hist_count++;
}

/* Input position being heard at output position @out, or FALSE if that is older than
 * the history (or not played yet from this lock). */
static gboolean
heard_input (EchoClockFollower * self, double out, double *in)
{
  guint i;

  for (i = 1; i <= self->hist_count; i++) {
    const Segment *s = &self->history[(self->hist_head + HISTORY - i) % HISTORY];
    if (s->out_start <= out) {
      *in = s->in_start + (out - s->out_start) * s->in_per_out;
      return TRUE;
    }
  }
  return FALSE;
}

static void
reset_resampler (EchoClockFollower * self)
{
  GstStructure *options = gst_structure_new_empty ("options");
  gint rate = GST_AUDIO_INFO_RATE (&self->info);

  g_clear_pointer (&self->resampler, gst_audio_resampler_free);
  gst_audio_resampler_options_set_quality (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      GST_AUDIO_RESAMPLER_QUALITY_DEFAULT, rate, rate, options);
  /* Interpolated taps, always: with the rate expressed to 1/1000 Hz the "full" mode that
   * auto picks while in == out would cache taps for millions of phases, computing one
   * set per output sample (a third of a core, gigabytes of address space) */
  gst_structure_set (options, GST_AUDIO_RESAMPLER_OPT_FILTER_MODE,
      GST_TYPE_AUDIO_RESAMPLER_FILTER_MODE, GST_AUDIO_RESAMPLER_FILTER_MODE_INTERPOLATED,
      NULL);
  self->out_rate = rate * RATE_SCALE;
  self->in_rate = self->out_rate + 1;
  self->resampler = gst_audio_resampler_new (GST_AUDIO_RESAMPLER_METHOD_KAISER,
      GST_AUDIO_RESAMPLER_FLAG_VARIABLE_RATE, GST_AUDIO_INFO_FORMAT (&self->info),
      GST_AUDIO_INFO_CHANNELS (&self->info), self->in_rate, self->out_rate, options);
  gst_structure_free (options);
}

static void
query_upstream_latency (EchoClockFollower * self)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min = 0, max;

  if (gst_pad_peer_query (self->sinkpad, q))
    gst_query_parse_latency (q, &live, &min, &max);
  gst_query_unref (q);
  self->upstream_latency = GST_CLOCK_TIME_IS_VALID (min) ? min : 0;
}

/* Render time (pipeline clock, ns) of @buf's first sample. */
static gboolean
buffer_target (EchoClockFollower * self, GstBuffer * buf, const GstSegment * segment,
    double *target)
{
  GstClockTime rt;

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return FALSE;
  rt = gst_segment_to_running_time (segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (!GST_CLOCK_TIME_IS_VALID (rt))
    return FALSE;
  *target = (double) rt + (double) gst_element_get_base_time (GST_ELEMENT (self)) +
      (double) self->upstream_latency - (double) self->latency_offset;
  return TRUE;
}

/* First buffer after start or after losing the timeline: place it exactly. Returns the
 * number of its frames to skip (it is already late for them), or -1 to drop it. */
static gint64
lock_onto (EchoClockFollower * self, double target, guint frames, GstFlowReturn * ret)
{
  double rate = GST_AUDIO_INFO_RATE (&self->info), q0, now;
  guint64 played, done;
  gint64 skip = 0;

  *ret = GST_FLOW_OK;
  query_upstream_latency (self);
  /* the device starts once its ring buffer is full: fill it with silence, then measure
   * once it has really played something (right after starting, its position can still
   * be the one from before its first period) */
  while (!measure (self, &now, &played, &done) || played == 0) {
    *ret = push_silence (self, (guint64) rate / 100);
    if (*ret != GST_FLOW_OK)
      return -1;
  }
  reset_resampler (self);
  /* Fill with silence up to the output position where input position 0 must be heard,
   * measuring again after every period: a device that skips ahead while it is being
   * filled moves that position. GstAudioResampler centres its filter on zero history,
   * so its output sample 0 is input sample 0: no delay to account for. */
  for (;;) {
    guint64 chunk = (guint64) rate / 100;

    q0 = (double) played + (target - now) * rate / 1e9;
    if (q0 < (double) (self->out_next + chunk))
      break;
    *ret = push_silence (self, chunk);
    if (*ret != GST_FLOW_OK || !measure (self, &now, &played, &done))
      return -1;
  }
  if (q0 >= self->out_next) {
    *ret = push_silence (self, (guint64) (q0 - self->out_next));
  } else {
    skip = (gint64) ceil (self->out_next - q0);
    if (skip >= frames)
      return -1;
  }
  self->origin = skip;
  self->in_fed = 0;
  self->in_out_pos = 0;
  self->target0 = target;
  self->hist_head = self->hist_count = 0;
  echo_steer_reset (&self->steer);
  self->locked = TRUE;
  self->have_error = FALSE;
  GST_OBJECT_LOCK (self->owner);
  self->corrections++;
  GST_OBJECT_UNLOCK (self->owner);
  GST_INFO_OBJECT (self, "locked: first sample at output %" G_GUINT64_FORMAT
      ", %" G_GINT64_FORMAT " frames skipped, device at %" G_GUINT64_FORMAT,
      self->out_next, skip, played);
  return skip;
}

static void
post_stats_if_due (EchoClockFollower * self);

static GstFlowReturn
follower_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  EchoClockFollower *self = ECHO_CLOCK_FOLLOWER (parent);
  GstSegment segment;
  GstEvent *seg_event;
  guint frames = gst_buffer_get_size (buf) / GST_AUDIO_INFO_BPF (&self->info);
  double rate = GST_AUDIO_INFO_RATE (&self->info), target, heard_in, error = 0, ratio;
  double now;
  guint64 played, done;
  gint64 skip = 0;
  GstFlowReturn ret = GST_FLOW_OK;
  GstBuffer *out;
  GstMapInfo in_map, out_map;
  gsize out_frames;
  gpointer in_ptrs[1], out_ptrs[1];

  if (!self->device)
    return gst_pad_push (self->srcpad, buf);      /* open loop: the device syncs */

  seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (!seg_event) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  gst_event_copy_segment (seg_event, &segment);
  gst_event_unref (seg_event);
  if (frames == 0 || !buffer_target (self, buf, &segment, &target)) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }

  if (self->locked) {
    double expected = self->target0 + self->in_fed * 1e9 / rate;

    if (fabs (target - expected) > CONTINUITY_NS) {
      if (target > expected && target - expected < GST_SECOND) {
        /* a gap in the input: play silence for it, the timeline stays continuous */
        guint64 gap = (guint64) llround ((target - expected) * rate / 1e9);
        GstBuffer *silence = gst_buffer_new_allocate (NULL,
            gap * GST_AUDIO_INFO_BPF (&self->info), NULL);

        gst_buffer_memset (silence, 0, 0, gst_buffer_get_size (silence));
        GST_BUFFER_PTS (silence) = GST_BUFFER_PTS (buf) -
            gst_util_uint64_scale (gap, GST_SECOND, (guint64) rate);
        GST_BUFFER_FLAG_SET (silence, GST_BUFFER_FLAG_GAP);
        ret = follower_chain (pad, parent, silence);
        if (ret != GST_FLOW_OK) {
          gst_buffer_unref (buf);
          return ret;
        }
      } else {
        GST_INFO_OBJECT (self, "input jumped by %.3f ms: locking again",
            (target - expected) / 1e6);
        self->locked = FALSE;
      }
    }
  }
  if (!self->locked) {
    skip = lock_onto (self, target, frames, &ret);
    if (skip < 0) {
      gst_buffer_unref (buf);
      return ret;
    }
  }

  /* where are we? the sample being heard versus its render time */
  if (measure (self, &now, &played, &done) && heard_input (self, played, &heard_in)) {
    error = now - (self->target0 + heard_in * 1e9 / rate);
    if (fabs (error) > RELOCK_THRESHOLD_NS ||
        (self->have_error && fabs (error - self->last_error) > RELOCK_STEP_NS)) {
      GST_WARNING_OBJECT (self, "%.3f ms off (%.3f ms before): locking again", error / 1e6,
          self->have_error ? self->last_error / 1e6 : 0.0);
      self->locked = FALSE;
      skip = lock_onto (self, target, frames, &ret);
      if (skip < 0) {
        gst_buffer_unref (buf);
        return ret;
      }
      error = 0;
    } else {
      echo_steer_update (&self->steer, now, played, error);
      self->last_error = error;
      self->have_error = TRUE;
    }
    GST_OBJECT_LOCK (self->owner);
    self->offset_ns = (gint64) error;
    GST_OBJECT_UNLOCK (self->owner);
  }
  ratio = self->steer.ratio;
  self->in_rate = (gint) llround (self->out_rate * ratio);
  /* equal rates switch GstAudioResampler to a path that delays by its latency instead of
   * centring the filter: stay 0.02 ppm away from it */
  if (self->in_rate == self->out_rate)
    self->in_rate++;
  gst_audio_resampler_update (self->resampler, self->in_rate, self->out_rate, NULL);

  if (device_next_sample (self) >= 0)
    self->out_next = device_next_sample (self);
  self->in_fed += frames;
  frames -= skip;
  out_frames = gst_audio_resampler_get_out_frames (self->resampler, frames);
  out = gst_buffer_new_allocate (NULL, out_frames * GST_AUDIO_INFO_BPF (&self->info),
      NULL);
  gst_buffer_map (buf, &in_map, GST_MAP_READ);
  gst_buffer_map (out, &out_map, GST_MAP_WRITE);
  in_ptrs[0] = in_map.data + skip * GST_AUDIO_INFO_BPF (&self->info);
  out_ptrs[0] = out_map.data;
  gst_audio_resampler_resample (self->resampler, in_ptrs, frames, out_ptrs, out_frames);
  gst_buffer_unmap (out, &out_map);
  gst_buffer_unmap (buf, &in_map);
  gst_buffer_unref (buf);

  /* output sample out_next + j plays input position origin + in_out_pos + j * r */
  history_add (self, self->out_next, self->origin + self->in_out_pos,
      (double) self->in_rate / self->out_rate);
  self->in_out_pos += (double) out_frames * self->in_rate / self->out_rate;
  GST_BUFFER_OFFSET (out) = self->out_next;
  self->out_next += out_frames;
  post_stats_if_due (self);
  if (out_frames == 0) {
    gst_buffer_unref (out);
    return GST_FLOW_OK;
  }
  ret = gst_pad_push (self->srcpad, out);
  if (ret == GST_FLOW_OK && device_next_sample (self) != (gint64) self->out_next) {
    /* the device put it elsewhere: it had already played past that position */
    GST_WARNING_OBJECT (self, "the device skipped ahead by %" G_GINT64_FORMAT
        " samples", device_next_sample (self) - (gint64) self->out_next);
    GST_OBJECT_LOCK (self->owner);
    self->underruns++;
    GST_OBJECT_UNLOCK (self->owner);
    self->out_next = MAX (device_next_sample (self), 0);
    self->locked = FALSE;
  }
  return ret;
}

static gboolean
follower_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  EchoClockFollower *self = ECHO_CLOCK_FOLLOWER (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      if (!gst_audio_info_from_caps (&self->info, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      echo_steer_init (&self->steer, GST_AUDIO_INFO_RATE (&self->info),
          GST_AUDIO_INFO_RATE (&self->info), self->max_correction);
      self->locked = FALSE;
      break;
    }
    case GST_EVENT_SEGMENT:
    case GST_EVENT_FLUSH_STOP:
      self->locked = FALSE;
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
follower_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  EchoClockFollower *self = ECHO_CLOCK_FOLLOWER (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY && self->device) {
    /* the device runs free and is compensated here: it adds no latency */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static void
echo_clock_follower_finalize (GObject * object)
{
  EchoClockFollower *self = ECHO_CLOCK_FOLLOWER (object);

  g_clear_pointer (&self->resampler, gst_audio_resampler_free);
  G_OBJECT_CLASS (echo_clock_follower_parent_class)->finalize (object);
}

static GstStaticPadTemplate follower_sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) { " GST_AUDIO_NE (F32) ", "
        GST_AUDIO_NE (S16) " }, layout = (string) interleaved, "
        "rate = (int) [ 8000, 192000 ], channels = (int) [ 1, 8 ]"));
static GstStaticPadTemplate follower_src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) { " GST_AUDIO_NE (F32) ", "
        GST_AUDIO_NE (S16) " }, layout = (string) interleaved, "
        "rate = (int) [ 8000, 192000 ], channels = (int) [ 1, 8 ]"));

static void
echo_clock_follower_class_init (EchoClockFollowerClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = echo_clock_follower_finalize;
  gst_element_class_add_static_pad_template (element_class, &follower_sink_template);
  gst_element_class_add_static_pad_template (element_class, &follower_src_template);
  gst_element_class_set_static_metadata (element_class, "Echo clock follower",
      "Filter/Audio", "echoclocksink's resampling core", "Echo developers");
}

static void
echo_clock_follower_init (EchoClockFollower * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&follower_sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, follower_chain);
  gst_pad_set_event_function (self->sinkpad, follower_sink_event);
  gst_pad_set_query_function (self->sinkpad, follower_sink_query);
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&follower_src_template, "src");
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  self->max_correction = DEFAULT_MAX_CORRECTION_PPM * 1e-6;
}

/* ---- the bin ---- */

struct _GstEchoClockSink {
  GstBin parent;

  EchoClockFollower *follower;
  GstElement *convert;
  GstElement *device;
  GstPad *ghost;

  /* properties, under the object lock */
  gchar *device_desc;
  gint64 latency_offset;
  guint stats_interval_ms;
  guint buffer_time_us;
  guint period_time_us;
  guint max_correction_ppm;
  GstClockTime next_stats;
  gboolean warned_open_loop;
};

enum {
  PROP_0,
  PROP_DEVICE,
  PROP_LATENCY_OFFSET,
  PROP_BUFFER_TIME,
  PROP_PERIOD_TIME,
  PROP_MAX_CORRECTION,
  PROP_STATS_INTERVAL,
  PROP_STATS,
};

#define gst_echo_clock_sink_parent_class parent_class
G_DEFINE_TYPE (GstEchoClockSink, gst_echo_clock_sink, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (echoclocksink, "echoclocksink", GST_RANK_NONE,
    GST_TYPE_ECHO_CLOCK_SINK);

static GstStructure *
sink_stats (GstEchoClockSink * self)
{
  EchoClockFollower *f = self->follower;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("echo-sync-stats",
      "offset", G_TYPE_INT64, f->offset_ns,
      "drift-ppm", G_TYPE_DOUBLE, echo_steer_drift_ppm (&f->steer),
      "ratio", G_TYPE_DOUBLE, f->steer.ratio,
      "correction-ppm", G_TYPE_DOUBLE, f->steer.correction * 1e6,
      "underruns", G_TYPE_UINT, f->underruns,
      "corrections", G_TYPE_UINT, f->corrections,
      "locked", G_TYPE_BOOLEAN, f->locked, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
post_stats_if_due (EchoClockFollower * f)
{
  GstEchoClockSink *self = f->owner;
  GstClockTime now = clock_now (f);
  gboolean due;

  GST_OBJECT_LOCK (self);
  due = self->stats_interval_ms && GST_CLOCK_TIME_IS_VALID (now) &&
      (!GST_CLOCK_TIME_IS_VALID (self->next_stats) || now >= self->next_stats);
  if (due)
    self->next_stats = now + self->stats_interval_ms * GST_MSECOND;
  GST_OBJECT_UNLOCK (self);
  if (due)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), sink_stats (self)));
}

static GstAudioBaseSink *
find_audio_sink (GstElement * element)
{
  GstAudioBaseSink *found = NULL;
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (GST_IS_AUDIO_BASE_SINK (element))
    return GST_AUDIO_BASE_SINK (element);
  if (!GST_IS_BIN (element))
    return NULL;
  it = gst_bin_iterate_recurse (GST_BIN (element));
  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *child = g_value_get_object (&item);
    if (GST_IS_AUDIO_BASE_SINK (child))
      found = GST_AUDIO_BASE_SINK (child);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

static gboolean
build_device (GstEchoClockSink * self)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = NULL;

  if (self->device)
    return TRUE;
  GST_OBJECT_LOCK (self);
  desc = g_strdup (self->device_desc);
  GST_OBJECT_UNLOCK (self);
  self->device = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_NONE, &error);
  if (!self->device) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Cannot create the audio device '%s': %s", desc, error->message), (NULL));
    return FALSE;
  }
  if (!gst_bin_add (GST_BIN (self), self->device) ||
      !gst_element_link (self->convert, self->device)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The device '%s' is not an audio sink with one sink pad", desc), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* Once the device exists (autoaudiosink creates its child on READY), put it in free-run
 * mode and hand it to the follower. */
static void
configure_device (GstEchoClockSink * self)
{
  GstAudioBaseSink *abs = find_audio_sink (self->device);
  gint64 buffer_time, period_time;

  if (!abs) {
    if (self->warned_open_loop)
      return;
    self->warned_open_loop = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("The device does not report its play position; playing without drift "
            "correction"), ("%s is not a GstAudioBaseSink",
            G_OBJECT_TYPE_NAME (self->device)));
    self->follower->device = NULL;
    return;
  }
  GST_OBJECT_LOCK (self);
  buffer_time = self->buffer_time_us;
  period_time = self->period_time_us;
  self->follower->latency_offset = self->latency_offset;
  self->follower->max_correction = self->max_correction_ppm * 1e-6;
  GST_OBJECT_UNLOCK (self);
  /* not under our lock: property notifications walk up to us */
  g_object_set (abs, "sync", FALSE, "buffer-time", buffer_time,
      "latency-time", period_time, "provide-clock", FALSE, NULL);
  self->follower->device = abs;
}

static GstStateChangeReturn
gst_echo_clock_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstEchoClockSink *self = GST_ECHO_CLOCK_SINK (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !build_device (self))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    configure_device (self);
    self->follower->locked = FALSE;
    self->follower->out_next = 0;
    self->next_stats = GST_CLOCK_TIME_NONE;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && ret != GST_STATE_CHANGE_FAILURE)
    configure_device (self);
  return ret;
}

static GstClock *
gst_echo_clock_sink_provide_clock (GstElement * element)
{
  /* the device runs on its own clock and is followed; it must not become the
   * pipeline's clock */
  return NULL;
}

static void
gst_echo_clock_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstEchoClockSink *self = GST_ECHO_CLOCK_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEVICE:
      g_free (self->device_desc);
      self->device_desc = g_value_dup_string (value);
      if (!self->device_desc || !*self->device_desc) {
        g_free (self->device_desc);
        self->device_desc = g_strdup (DEFAULT_DEVICE);
      }
      break;
    case PROP_LATENCY_OFFSET:
      self->latency_offset = g_value_get_int64 (value);
      self->follower->latency_offset = self->latency_offset;
      break;
    case PROP_BUFFER_TIME:
      self->buffer_time_us = g_value_get_uint (value);
      break;
    case PROP_PERIOD_TIME:
      self->period_time_us = g_value_get_uint (value);
      break;
    case PROP_MAX_CORRECTION:
      self->max_correction_ppm = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_echo_clock_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstEchoClockSink *self = GST_ECHO_CLOCK_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, sink_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEVICE:
      g_value_set_string (value, self->device_desc);
      break;
    case PROP_LATENCY_OFFSET:
      g_value_set_int64 (value, self->latency_offset);
      break;
    case PROP_BUFFER_TIME:
      g_value_set_uint (value, self->buffer_time_us);
      break;
    case PROP_PERIOD_TIME:
      g_value_set_uint (value, self->period_time_us);
      break;
    case PROP_MAX_CORRECTION:
      g_value_set_uint (value, self->max_correction_ppm);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_echo_clock_sink_finalize (GObject * object)
{
  GstEchoClockSink *self = GST_ECHO_CLOCK_SINK (object);

  g_free (self->device_desc);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) { " GST_AUDIO_NE (F32) ", "
        GST_AUDIO_NE (S16) " }, layout = (string) interleaved, "
        "rate = (int) [ 8000, 192000 ], channels = (int) [ 1, 8 ]"));

static void
gst_echo_clock_sink_class_init (GstEchoClockSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_echo_clock_sink_set_property;
  gobject_class->get_property = gst_echo_clock_sink_get_property;
  gobject_class->finalize = gst_echo_clock_sink_finalize;

  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "The audio sink to play on, as a launch-line description "
          "(e.g. \"alsasink device=hw:1\")", DEFAULT_DEVICE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LATENCY_OFFSET,
      g_param_spec_int64 ("latency-offset", "Latency offset (ns)",
          "Delay after the device (amplifier, speaker, HDMI): samples are sent this "
          "much earlier so they are heard on time", -GST_SECOND, GST_SECOND,
          DEFAULT_LATENCY_OFFSET, rw));
  g_object_class_install_property (gobject_class, PROP_BUFFER_TIME,
      g_param_spec_uint ("buffer-time", "Device buffer time (us)",
          "The device's ring buffer; the upstream render margin must exceed it",
          2000, 1000000, DEFAULT_BUFFER_TIME_US, rw));
  g_object_class_install_property (gobject_class, PROP_PERIOD_TIME,
      g_param_spec_uint ("period-time", "Device period time (us)",
          "The device's period (latency-time)", 1000, 100000, DEFAULT_PERIOD_TIME_US,
          rw));
  g_object_class_install_property (gobject_class, PROP_MAX_CORRECTION,
      g_param_spec_uint ("max-correction", "Max correction (ppm)",
          "The largest resampling correction beyond the measured device rate",
          1, 10000, DEFAULT_MAX_CORRECTION_PPM, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval (ms)",
          "Post an echo-sync-stats element message this often (0: never)", 0,
          G_MAXUINT, DEFAULT_STATS_INTERVAL_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "offset, drift-ppm, ratio, correction-ppm, underruns, corrections, locked "
          "(see the element documentation)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Echo clock-following sink",
      "Sink/Audio",
      "Plays audio on a device in sync with the pipeline clock, correcting the "
      "device's drift by adaptive resampling", "Echo developers");
  gst_element_class_add_metadata (element_class, "doc-uri",
      ECHO_ELEMENT_DOCS_URI "/echoclocksink.md");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_echo_clock_sink_change_state);
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_echo_clock_sink_provide_clock);

  GST_DEBUG_CATEGORY_INIT (echo_clock_sink_debug, "echoclocksink", 0,
      "Echo clock-following sink");
}

static void
gst_echo_clock_sink_init (GstEchoClockSink * self)
{
  GstPad *target;

  self->device_desc = g_strdup (DEFAULT_DEVICE);
  self->latency_offset = DEFAULT_LATENCY_OFFSET;
  self->stats_interval_ms = DEFAULT_STATS_INTERVAL_MS;
  self->buffer_time_us = DEFAULT_BUFFER_TIME_US;
  self->period_time_us = DEFAULT_PERIOD_TIME_US;
  self->max_correction_ppm = DEFAULT_MAX_CORRECTION_PPM;
  self->next_stats = GST_CLOCK_TIME_NONE;

  self->follower = g_object_new (ECHO_TYPE_CLOCK_FOLLOWER, "name", "follower", NULL);
  self->follower->owner = self;
  self->convert = gst_element_factory_make ("audioconvert", "convert");
  gst_bin_add_many (GST_BIN (self), GST_ELEMENT (self->follower), self->convert, NULL);
  gst_element_link (GST_ELEMENT (self->follower), self->convert);

  target = gst_element_get_static_pad (GST_ELEMENT (self->follower), "sink");
  self->ghost = gst_ghost_pad_new ("sink", target);
  gst_object_unref (target);
  gst_element_add_pad (GST_ELEMENT (self), self->ghost);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}
