/**
 * SECTION:element-echosyncsrc
 * @title: echosyncsrc
 *
 * echosyncsrc receives a session from a sharerelay and outputs it on the session's
 * timeline: every receiver renders session sample k at capture_time(k) + latency.
 *
 * It finds the relay by mDNS when given only #GstEchoSyncSrc:session (or an
 * `echo:///NAME` URI), or uses `echo://HOST:PORT/NAME`. It subscribes (cookie exchange,
 * optional token proof), estimates the offset and the rate of the session clock from
 * kernel receive timestamps (lower-envelope fits of one-way delays in both directions)
 * and provides that estimate as a #GstClock, so the whole pipeline runs on the session
 * timeline. A jitter buffer reorders packets and asks the relay to resend what is missing
 * while the latency budget allows; what still misses its deadline is concealed with Opus
 * in-band FEC or packet loss concealment.
 *
 * Output buffers are timestamped with their render time: PTS = capture_time(k) +
 * latency - base_time, and offsets carry the session sample index. The source reports no
 * latency of its own. Put echoclocksink after it to render on a real device in sync.
 *
 * If the relay disappears the source keeps running (silence, one warning on the bus) and
 * subscribes again by itself when it comes back, relay restarts included. Malformed,
 * forged, foreign-session, oversize and replayed datagrams are dropped and counted.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 echosyncsrc session=demo ! echoclocksink
 * gst-launch-1.0 echosyncsrc uri=echo://192.168.1.20:5004/demo ! echoclocksink device="alsasink device=hw:1"
 * ]|
 *
 * ## Statistics
 * The #GstEchoSyncSrc:stats property and the `echo-receiver-stats` element message (every
 * #GstEchoSyncSrc:stats-interval) carry: `received` (guint64, audio datagrams accepted),
 * `repairs` (guint64, resends received), `duplicates` (guint64), `late` (guint64, arrived
 * after their deadline), `fec` (guint64, frames recovered from FEC), `plc` (guint64,
 * frames concealed), `nacks` (guint64, sequence numbers requested), `dropped` (guint64,
 * malformed, forged, foreign or replayed datagrams), `clock-offset` (gint64, ns, session
 * minus local clock), `clock-rate-ppm` (gdouble), `min-rtt` (guint64, ns),
 * `resyncs` (guint, subscriptions to a new relay instance) and `subscribed` (gboolean).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstechosyncsrc.h"
#include "gstechosyncelements.h"
#include "echoproto.h"
#include "echonet.h"
#include "echoclockest.h"
#include "echodiscovery.h"

#include <gst/audio/audio.h>
#include <opus/opus.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

GST_DEBUG_CATEGORY_STATIC (echo_sync_src_debug);
#define GST_CAT_DEFAULT echo_sync_src_debug

#define DEFAULT_SESSION NULL
#define DEFAULT_PORT 5004
#define DEFAULT_LATENCY -1
#define DEFAULT_RENDER_MARGIN_MS 40
#define DEFAULT_DISCOVERY_TIMEOUT_MS 10000
#define DEFAULT_STATS_INTERVAL_MS 1000
#define DEFAULT_DO_NACK TRUE

/* Jitter buffer slots: enough for 5 s of 2.5 ms frames. */
#define JB_SLOTS 4096
/* The relay counts as gone after this much silence from it. */
#define RELAY_TIMEOUT_NS (1500 * GST_MSECOND)
/* Time requests: 200/s for the first 30 s after subscribing, then 50/s. The rate is
 * estimated from where the samples lie in time (echoclockest.c); while the request rate
 * changes, most samples sit in the dense part and the rate estimate wavers, so the dense
 * part lasts until the rate is known to a few ppm rather than ending after a few
 * seconds. 200 requests/s are about 12 KB/s each way. */
#define TIME_BURST_NS (30 * GST_SECOND)
#define TIME_INTERVAL_BURST_NS (5 * GST_MSECOND)
#define TIME_INTERVAL_NS (20 * GST_MSECOND)
#define TIME_OUTSTANDING 64
/* A missing packet is requested after this much reordering allowance, then again every
 * half smoothed round trip (at least NACK_RETRY_MIN_NS) while a repair could still arrive
 * in time. On a jittery path a repair often takes longer than the average round trip, so
 * waiting a whole one or more between requests left time for only two before the deadline
 * (5 +- 5 ms each way, 40 ms render margin): a frame whose two requests or repairs were
 * both lost was concealed, about once per receiver in 5 min at 2% loss. A request costs
 * 20 bytes and a repair that arrives twice is dropped as a duplicate. */
#define NACK_REORDER_NS (3 * GST_MSECOND)
#define NACK_RETRY_MIN_NS (4 * GST_MSECOND)
#define NACK_MAX_TRIES 8
/* The clock must be this good before output starts: samples in each direction, over at
 * least this long. */
#define LOCK_MIN_SAMPLES 24
#define LOCK_MIN_SPAN_S 0.3
/* After this much concealment in a row, output plain silence. */
#define MAX_CONCEAL_NS (200 * GST_MSECOND)
/* The published clock follows the estimate at most this fast once output started. */
#define SLEW_MAX 200e-6
#define SLEW_TIME_NS (500 * GST_MSECOND)
#define STEP_THRESHOLD_NS (20 * GST_MSECOND)

typedef enum {
  STATE_IDLE,
  STATE_HELLO,
  STATE_SUBSCRIBING,
  STATE_SUBSCRIBED,
} State;

typedef struct {
  gboolean valid;
  guint32 seq;
  guint8 flags;
  guint16 samples;
  guint64 index;
  guint64 capture;
  guint16 len;
  guint8 data[ECHO_MAX_PAYLOAD];
  /* repair bookkeeping for the seq this slot is waiting for */
  guint32 wait_seq;
  guint64 missing_since;
  guint64 last_nack;
  guint nack_tries;
} Slot;

typedef struct {
  guint64 id;
  guint64 t1;
} TimeRequest;

struct _GstEchoSyncSrc {
  GstPushSrc parent;

  /* properties, under the object lock */
  gchar *host;
  guint port;
  gchar *session;
  gchar *token;
  gint latency_ms;
  guint render_margin_ms;
  guint discovery_timeout_ms;
  guint stats_interval_ms;
  gboolean do_nack;

  GstClock *clock;              /* the session clock estimate this element provides */

  int fd;
  int wake_fd;
  GThread *thread;
  gint running;
  GCancellable *cancellable;

  GMutex lock;
  GCond cond;
  /* under the lock */
  gboolean flushing;
  gboolean fatal;
  State state;
  guint64 session_id;
  gchar *token_copy;
  guint64 nonce;
  guint8 cookie[ECHO_COOKIE_SIZE];
  guint64 subscription;
  guint64 epoch;
  gboolean keyed;
  guint8 key[ECHO_KEY_SIZE];
  guint channels;
  guint rate;
  guint frame_samples;
  guint64 latency_ns;
  guint64 margin_ns;
  gint latency_prop_ms;         /* copies of the properties, taken at start() */
  guint margin_prop_ms;
  gboolean do_nack_copy;
  guint lease_ms;
  guint32 oldest_seq;
  guint64 subscribed_at;
  guint64 last_rx;
  guint64 next_send;
  guint64 next_renew;
  guint64 next_time_request;
  gboolean relay_lost;
  guint64 request_counter;
  TimeRequest requests[TIME_OUTSTANDING];
  double srtt_ns;
  EchoClockEstimator *estimator;
  EchoClockEstimate estimate;
  gboolean clock_valid;
  guint64 last_publish;
  Slot *slots;
  gboolean have_anchor;
  guint32 anchor_seq;
  guint64 anchor_capture;
  guint64 anchor_index;
  gboolean started;
  guint32 out_seq;
  guint32 high_seq;             /* one past the highest sequence number received */
  gboolean output_running;      /* buffers have left: the clock only slews from now */
  gboolean need_discont;
  gboolean reset_decoder;
  guint64 st_received, st_repairs, st_duplicates, st_late, st_fec, st_plc, st_nacks;
  guint64 st_dropped;
  guint st_resyncs;

  /* streaming thread only */
  OpusDecoder *decoder;
  guint decoder_channels;
  guint64 concealed_ns;
  guint caps_channels;
  guint caps_rate;
};

enum {
  PROP_0,
  PROP_URI,
  PROP_HOST,
  PROP_PORT,
  PROP_SESSION,
  PROP_TOKEN,
  PROP_LATENCY,
  PROP_RENDER_MARGIN,
  PROP_DISCOVERY_TIMEOUT,
  PROP_STATS_INTERVAL,
  PROP_DO_NACK,
  PROP_STATS,
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) " GST_AUDIO_NE (F32) ", "
        "layout = (string) interleaved, rate = (int) [ 8000, 48000 ], "
        "channels = (int) [ 1, 2 ]"));

static void gst_echo_sync_src_uri_handler_init (gpointer g_iface, gpointer iface_data);

#define gst_echo_sync_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstEchoSyncSrc, gst_echo_sync_src, GST_TYPE_PUSH_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER, gst_echo_sync_src_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (echosyncsrc, "echosyncsrc", GST_RANK_NONE,
    GST_TYPE_ECHO_SYNC_SRC);

static guint64
frame_ns (GstEchoSyncSrc * self)
{
  return gst_util_uint64_scale (self->frame_samples, GST_SECOND, self->rate);
}

static guint64
session_now (GstEchoSyncSrc * self)
{
  return gst_clock_get_time (self->clock);
}

/* ---- the session clock ---- */

/* Moves the provided clock towards the latest estimate. Before output starts it jumps;
 * afterwards it slews (at most SLEW_MAX) so downstream sees no steps. Lock held. */
static void
publish_clock (GstEchoSyncSrc * self, guint64 now_mono)
{
  EchoClockEstimate *e = &self->estimate;
  GstClockTime cint, cext, num, denom, current;
  double target, rate;

  if (!echo_clock_estimator_estimate (self->estimator, now_mono, e))
    return;
  target = (double) e->remote_ref + ((double) now_mono - (double) e->local_ref) * e->rate;
  gst_clock_get_calibration (self->clock, &cint, &cext, &num, &denom);
  current = gst_clock_adjust_with_calibration (self->clock, now_mono, cint, cext, num,
      denom);
  if (!self->output_running || fabs (target - (double) current) > STEP_THRESHOLD_NS) {
    if (self->output_running)
      GST_WARNING_OBJECT (self, "session clock stepped by %.3f ms",
          (target - (double) current) / 1e6);
    rate = e->rate;
    current = (GstClockTime) llround (target);
  } else {
    double correction = (target - (double) current) / SLEW_TIME_NS;
    rate = e->rate + CLAMP (correction, -SLEW_MAX, SLEW_MAX);
  }
  gst_clock_set_calibration (self->clock, now_mono, current,
      (GstClockTime) llround (rate * 1e9), 1000000000);
  self->clock_valid = TRUE;
  self->last_publish = now_mono;
}

/* ---- network thread ---- */

static void
send_packet (GstEchoSyncSrc * self, EchoPacket * p)
{
  guint8 out[ECHO_MAX_PACKET];
  gsize len;

  p->session_id = self->session_id;
  len = echo_packet_write (p, self->keyed && p->type != ECHO_PACKET_HELLO &&
      p->type != ECHO_PACKET_SUBSCRIBE ? self->key : NULL, out, sizeof (out));
  if (len && send (self->fd, out, len, MSG_DONTWAIT) < 0)
    GST_LOG_OBJECT (self, "send failed: %s", g_strerror (errno));
}

static void
send_hello (GstEchoSyncSrc * self)
{
  EchoPacket p = { .type = ECHO_PACKET_HELLO };

  p.hello.nonce = self->nonce;
  send_packet (self, &p);
}

static void
send_subscribe (GstEchoSyncSrc * self)
{
  EchoPacket p = { .type = ECHO_PACKET_SUBSCRIBE };

  p.subscribe.nonce = self->nonce;
  memcpy (p.subscribe.cookie, self->cookie, ECHO_COOKIE_SIZE);
  if (self->token_copy)
    echo_subscribe_proof (self->token_copy, self->session_id, self->nonce, self->cookie,
        p.subscribe.proof);
  send_packet (self, &p);
}

static void
send_time_request (GstEchoSyncSrc * self)
{
  EchoPacket p = { .type = ECHO_PACKET_TIME_REQUEST };
  TimeRequest *r = &self->requests[self->request_counter % TIME_OUTSTANDING];

  r->id = ++self->request_counter;
  r->t1 = echo_net_monotonic_ns ();
  p.time_request.subscription = self->subscription;
  p.time_request.request_id = r->id;
  p.time_request.t1 = r->t1;
  send_packet (self, &p);
}

static void
restart_handshake (GstEchoSyncSrc * self)
{
  self->state = STATE_HELLO;
  self->nonce = ((guint64) g_random_int () << 32) | g_random_int ();
  self->next_send = 0;
}

static void
reset_timeline (GstEchoSyncSrc * self)
{
  guint i;

  for (i = 0; i < JB_SLOTS; i++)
    self->slots[i].valid = FALSE;
  self->have_anchor = FALSE;
  self->started = FALSE;
  self->need_discont = TRUE;
  echo_clock_estimator_reset (self->estimator);
  self->output_running = FALSE;
  self->clock_valid = FALSE;
  /* the decoder's state belongs to the old stream */
  self->reset_decoder = TRUE;
}

/* Decides where output starts once the clock is good and a packet is known: at the
 * earliest frame whose render deadline is still ahead. Lock held. */
static void
maybe_start (GstEchoSyncSrc * self)
{
  guint64 now, fns = frame_ns (self);
  gint64 ahead;
  guint32 start;

  if (self->started || !self->have_anchor || !self->clock_valid ||
      self->estimate.n_backward < LOCK_MIN_SAMPLES ||
      self->estimate.n_forward < LOCK_MIN_SAMPLES ||
      self->estimate.span_s < LOCK_MIN_SPAN_S)
    return;
  now = session_now (self);
  /* frames between the anchor and the first one we can still deliver in time */
  ahead = ((gint64) now + (gint64) self->margin_ns + (gint64) fns / 2 -
      (gint64) (self->anchor_capture + self->latency_ns)) / (gint64) fns;
  start = self->anchor_seq + (gint32) ahead;
  if ((gint32) (start - self->oldest_seq) < 0)
    start = self->oldest_seq;
  self->out_seq = start;
  if ((gint32) (self->high_seq - start) < 0)
    self->high_seq = start;
  self->started = TRUE;
  GST_INFO_OBJECT (self, "output starts at seq %u (anchor %u); clock %+.1f ppm from %u+%u "
      "samples", start, self->anchor_seq, (self->estimate.rate - 1) * 1e6,
      self->estimate.n_forward, self->estimate.n_backward);
  g_cond_broadcast (&self->cond);
}

static gint64
predicted_capture (GstEchoSyncSrc * self, guint32 seq)
{
  return (gint64) self->anchor_capture + (gint64) (gint32) (seq - self->anchor_seq) *
      (gint64) frame_ns (self);
}

static void
handle_audio (GstEchoSyncSrc * self, const EchoPacket * p, guint64 rx)
{
  const EchoAudio *a = &p->audio;
  Slot *slot = &self->slots[a->seq % JB_SLOTS];

  if (self->state != STATE_SUBSCRIBED || a->subscription != self->subscription ||
      a->samples != self->frame_samples) {
    self->st_dropped++;
    return;
  }
  echo_clock_estimator_add_forward (self->estimator, rx, a->send_time);
  self->last_rx = rx;
  if (self->started && (gint32) (a->seq - self->out_seq) < 0) {
    /* already played or concealed: a late repair, a duplicate or a replay */
    self->st_late++;
    return;
  }
  if (self->started && (gint32) (a->seq - self->out_seq) >= JB_SLOTS) {
    self->st_dropped++;
    return;
  }
  if (slot->valid && slot->seq == a->seq) {
    self->st_duplicates++;
    return;
  }
  slot->valid = TRUE;
  slot->seq = a->seq;
  slot->flags = a->flags;
  slot->samples = a->samples;
  slot->index = a->sample_index;
  slot->capture = a->capture_time;
  slot->len = a->payload_len;
  memcpy (slot->data, a->payload, a->payload_len);
  self->st_received++;
  if (a->flags & ECHO_AUDIO_FLAG_REPAIR)
    self->st_repairs++;
  if (!self->have_anchor || (gint32) (a->seq - self->anchor_seq) > 0) {
    self->have_anchor = TRUE;
    self->anchor_seq = a->seq;
    self->anchor_capture = a->capture_time;
    self->anchor_index = a->sample_index;
  }
  if (!self->started || (gint32) (a->seq + 1 - self->high_seq) > 0)
    self->high_seq = a->seq + 1;
  g_cond_broadcast (&self->cond);
}

static void
handle_time_response (GstEchoSyncSrc * self, const EchoPacket * p, guint64 rx)
{
  const EchoTimeResponse *r = &p->time_response;
  TimeRequest *req = &self->requests[(r->request_id - 1) % TIME_OUTSTANDING];
  double rtt;

  if (r->subscription != self->subscription || r->request_id == 0 ||
      req->id != r->request_id || req->t1 != r->t1 || r->t3 < r->t2) {
    /* not a request of ours, or answered already: a replay */
    self->st_dropped++;
    return;
  }
  req->id = 0;
  self->last_rx = rx;
  echo_clock_estimator_add_backward (self->estimator, r->t1, r->t2);
  echo_clock_estimator_add_forward (self->estimator, rx, r->t3);
  rtt = (double) (rx - r->t1) - (double) (r->t3 - r->t2);
  self->srtt_ns = self->srtt_ns > 0 ? 0.9 * self->srtt_ns + 0.1 * rtt : rtt;
}

static void
handle_subscribed (GstEchoSyncSrc * self, const EchoPacket * p, guint64 now)
{
  const EchoSubscribed *s = &p->subscribed;
  gint latency_ms;

  if (self->state == STATE_HELLO || s->nonce != self->nonce) {
    self->st_dropped++;
    return;
  }
  if (s->epoch != self->epoch || s->channels != self->channels ||
      s->frame_samples != self->frame_samples || s->rate != self->rate) {
    if (self->epoch) {
      GST_ELEMENT_INFO (self, RESOURCE, READ, (NULL),
          ("the relay restarted: following the new session timeline"));
      self->st_resyncs++;
    }
    reset_timeline (self);
    self->epoch = s->epoch;
  }
  if (self->state != STATE_SUBSCRIBED) {
    self->subscribed_at = now;
    self->next_time_request = now;
  }
  self->state = STATE_SUBSCRIBED;
  self->subscription = s->subscription;
  self->channels = s->channels;
  self->rate = s->rate;
  self->frame_samples = s->frame_samples;
  latency_ms = self->latency_prop_ms;
  self->latency_ns = latency_ms >= 0 ? (guint64) latency_ms * GST_MSECOND : s->latency;
  self->margin_ns = MIN (self->margin_prop_ms * GST_MSECOND, self->latency_ns / 2);
  self->lease_ms = s->lease_ms;
  self->oldest_seq = s->oldest_seq;
  self->next_renew = now + s->lease_ms * GST_MSECOND / 4;
  self->last_rx = now;
  if (self->relay_lost) {
    self->relay_lost = FALSE;
    GST_ELEMENT_INFO (self, RESOURCE, READ, (NULL), ("the relay is back"));
  }
  if (!self->started && !self->have_anchor && (gint32) (s->next_seq - s->oldest_seq) > 0) {
    /* nothing received yet: the latest frame is known, so a late joiner can ask for
     * what is still renderable right away */
    self->high_seq = s->next_seq;
  }
  g_cond_broadcast (&self->cond);
}

static void
handle_datagram (GstEchoSyncSrc * self, const guint8 * data, gsize len, guint64 rx)
{
  EchoPacket p;
  EchoParseResult res = echo_packet_parse (data, len, &p);

  if (res != ECHO_PARSE_OK || p.session_id != self->session_id) {
    GST_LOG_OBJECT (self, "dropped: %s", res != ECHO_PARSE_OK ?
        echo_parse_result_to_string (res) : "foreign session");
    self->st_dropped++;
    return;
  }
  /* once subscribed with a token, everything from the relay must carry our tag */
  if (self->keyed && p.type != ECHO_PACKET_COOKIE && p.type != ECHO_PACKET_REFUSED &&
      !echo_packet_check_tag (data, len, self->key)) {
    self->st_dropped++;
    return;
  }
  switch (p.type) {
    case ECHO_PACKET_COOKIE:
      if (self->state != STATE_HELLO || p.cookie.nonce != self->nonce) {
        self->st_dropped++;
        break;
      }
      memcpy (self->cookie, p.cookie.cookie, ECHO_COOKIE_SIZE);
      if (self->token_copy) {
        echo_subscription_key (self->token_copy, self->session_id, self->nonce,
            self->cookie, self->key);
        self->keyed = TRUE;
      }
      self->state = STATE_SUBSCRIBING;
      send_subscribe (self);
      self->next_send = rx + 250 * GST_MSECOND;
      break;
    case ECHO_PACKET_SUBSCRIBED:
      handle_subscribed (self, &p, rx);
      break;
    case ECHO_PACKET_REFUSED:
      if (p.refused.nonce != self->nonce && p.refused.nonce != self->subscription) {
        self->st_dropped++;
        break;
      }
      if (p.refused.reason == ECHO_REFUSED_BAD_PROOF) {
        GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
            ("The relay refused the subscription: wrong or missing token"), (NULL));
        self->fatal = TRUE;
        g_cond_broadcast (&self->cond);
        break;
      }
      if (p.refused.reason == ECHO_REFUSED_FULL)
        GST_ELEMENT_WARNING (self, RESOURCE, BUSY,
            ("The relay has no room for another receiver; retrying"), (NULL));
      self->keyed = FALSE;
      restart_handshake (self);
      self->next_send = rx + (p.refused.reason == ECHO_REFUSED_FULL ? GST_SECOND : 0);
      break;
    case ECHO_PACKET_AUDIO:
      handle_audio (self, &p, rx);
      break;
    case ECHO_PACKET_TIME_RESPONSE:
      handle_time_response (self, &p, rx);
      break;
    case ECHO_PACKET_BYE:
      if (p.bye.subscription != self->subscription) {
        self->st_dropped++;
        break;
      }
      if (!self->relay_lost)
        GST_ELEMENT_WARNING (self, RESOURCE, READ,
            ("The relay stopped sending (it ended the session); playing silence and "
                "trying to reconnect"),
            (NULL));
      self->relay_lost = TRUE;
      self->keyed = FALSE;
      restart_handshake (self);
      break;
    default:
      self->st_dropped++;
      break;
  }
}

/* Requests what is missing while its deadline allows. Lock held. */
static void
send_nacks (GstEchoSyncSrc * self, guint64 now_mono)
{
  EchoPacket p = { .type = ECHO_PACKET_NACK };
  guint64 now_s = session_now (self);
  guint64 retry = MAX ((guint64) (self->srtt_ns / 2), NACK_RETRY_MIN_NS);
  /* the fastest a repair has come back: the path's floor, when the clock knows it */
  gint64 fastest = self->estimate.min_rtt_ns > 0 ? (gint64) self->estimate.min_rtt_ns :
      (gint64) (self->srtt_ns / 2);
  guint32 seq;

  if (!self->have_anchor)
    return;
  p.nack.subscription = self->subscription;
  seq = self->started ? self->out_seq : self->high_seq - MIN (self->high_seq -
      self->oldest_seq, 64);
  for (; (gint32) (self->high_seq - seq) > 0 &&
      (gint32) (seq - self->high_seq + JB_SLOTS) > 0; seq++) {
    Slot *slot = &self->slots[seq % JB_SLOTS];
    gint64 deadline;

    if (slot->valid && slot->seq == seq)
      continue;
    deadline = predicted_capture (self, seq) + (gint64) self->latency_ns -
        (gint64) self->margin_ns;
    if (deadline < (gint64) now_s + fastest)
      continue;                 /* a repair could not arrive in time */
    if (slot->wait_seq != seq) {
      slot->wait_seq = seq;
      slot->missing_since = now_mono;
      slot->last_nack = 0;
      slot->nack_tries = 0;
    }
    if (now_mono - slot->missing_since < NACK_REORDER_NS ||
        now_mono - slot->last_nack < retry || slot->nack_tries >= NACK_MAX_TRIES)
      continue;
    slot->last_nack = now_mono;
    slot->nack_tries++;
    p.nack.seqs[p.nack.count++] = seq;
    self->st_nacks++;
    if (p.nack.count == ECHO_NACK_MAX) {
      send_packet (self, &p);
      p.nack.count = 0;
    }
  }
  if (p.nack.count)
    send_packet (self, &p);
}

static GstStructure *
stats_structure (GstEchoSyncSrc * self)
{
  GstStructure *s;

  g_mutex_lock (&self->lock);
  s = gst_structure_new ("echo-receiver-stats",
      "received", G_TYPE_UINT64, self->st_received,
      "repairs", G_TYPE_UINT64, self->st_repairs,
      "duplicates", G_TYPE_UINT64, self->st_duplicates,
      "late", G_TYPE_UINT64, self->st_late,
      "fec", G_TYPE_UINT64, self->st_fec,
      "plc", G_TYPE_UINT64, self->st_plc,
      "nacks", G_TYPE_UINT64, self->st_nacks,
      "dropped", G_TYPE_UINT64, self->st_dropped,
      "clock-offset", G_TYPE_INT64, self->clock_valid ?
      self->estimate.remote_ref - (gint64) self->estimate.local_ref : (gint64) 0,
      "clock-rate-ppm", G_TYPE_DOUBLE, self->clock_valid ?
      (self->estimate.rate - 1) * 1e6 : 0.0,
      "min-rtt", G_TYPE_UINT64, self->clock_valid ?
      (guint64) MAX (0, self->estimate.min_rtt_ns) : (guint64) 0,
      "resyncs", G_TYPE_UINT, self->st_resyncs,
      "subscribed", G_TYPE_BOOLEAN, self->state == STATE_SUBSCRIBED, NULL);
  g_mutex_unlock (&self->lock);
  return s;
}

static gboolean
connect_to_relay (GstEchoSyncSrc * self)
{
  g_autofree gchar *host = NULL, *session = NULL;
  g_autoptr (GError) error = NULL;
  guint port, timeout;

  GST_OBJECT_LOCK (self);
  host = g_strdup (self->host);
  port = self->port;
  session = g_strdup (self->session);
  timeout = self->discovery_timeout_ms;
  GST_OBJECT_UNLOCK (self);

  if (!host || !*host) {
    g_autoptr (EchoDiscoveryResult) found = NULL;

    GST_INFO_OBJECT (self, "looking for session '%s' by mDNS", session);
    found = echo_discovery_resolve (session, timeout, self->cancellable, &error);
    if (!found) {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_cancellable_is_cancelled (self->cancellable))
        GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message),
            ("give the relay's address with uri=echo://HOST:PORT/%s", session));
      return FALSE;
    }
    g_free (host);
    host = g_strdup (found->host);
    port = found->port;
    GST_INFO_OBJECT (self, "session '%s' is at %s port %u", session, host, port);
  }
  self->fd = echo_net_connect (host, port, &error);
  if (self->fd < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE, ("%s", error->message), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gpointer
network_thread (gpointer data)
{
  GstEchoSyncSrc *self = data;
  guint8 buf[2048];
  guint64 next_stats = 0;

  if (!connect_to_relay (self)) {
    g_mutex_lock (&self->lock);
    self->fatal = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    return NULL;
  }
  g_mutex_lock (&self->lock);
  restart_handshake (self);
  g_mutex_unlock (&self->lock);

  while (g_atomic_int_get (&self->running)) {
    guint64 now = echo_net_monotonic_ns (), wake_at, rx;
    gboolean truncated;
    gssize n;

    g_mutex_lock (&self->lock);
    if (self->state == STATE_SUBSCRIBED && now - self->last_rx > RELAY_TIMEOUT_NS) {
      if (!self->relay_lost)
        GST_ELEMENT_WARNING (self, RESOURCE, READ,
            ("The relay stopped sending; playing silence and trying to reconnect"),
            (NULL));
      self->relay_lost = TRUE;
      self->keyed = FALSE;
      restart_handshake (self);
    }
    switch (self->state) {
      case STATE_HELLO:
      case STATE_SUBSCRIBING:
        if (now >= self->next_send) {
          if (self->state == STATE_HELLO)
            send_hello (self);
          else
            send_subscribe (self);
          self->next_send = now + 250 * GST_MSECOND;
        }
        wake_at = self->next_send;
        break;
      case STATE_SUBSCRIBED:
        if (now >= self->next_renew) {
          send_subscribe (self);
          self->next_renew = now + self->lease_ms * GST_MSECOND / 4;
        }
        if (now >= self->next_time_request) {
          send_time_request (self);
          self->next_time_request = now + (now - self->subscribed_at < TIME_BURST_NS ?
              TIME_INTERVAL_BURST_NS : TIME_INTERVAL_NS);
        }
        if (now - self->last_publish >= 20 * GST_MSECOND)
          publish_clock (self, now);
        maybe_start (self);
        if (self->do_nack_copy)
          send_nacks (self, now);
        wake_at = MIN (self->next_renew, self->next_time_request);
        wake_at = MIN (wake_at, now + 2 * GST_MSECOND);
        break;
      default:
        wake_at = now + 100 * GST_MSECOND;
        break;
    }
    g_mutex_unlock (&self->lock);

    if (self->stats_interval_ms && now >= next_stats) {
      if (next_stats)
        gst_element_post_message (GST_ELEMENT (self),
            gst_message_new_element (GST_OBJECT (self), stats_structure (self)));
      next_stats = now + self->stats_interval_ms * GST_MSECOND;
    }

    echo_net_wait (self->fd, self->wake_fd, wake_at > now ? wake_at - now : 0);
    echo_net_wake_clear (self->wake_fd);
    while ((n = echo_net_recv (self->fd, buf, sizeof (buf), NULL, NULL, &rx,
                &truncated)) >= 0) {
      g_mutex_lock (&self->lock);
      if (truncated || n > ECHO_MAX_PACKET)
        self->st_dropped++;
      else
        handle_datagram (self, buf, n, rx);
      g_mutex_unlock (&self->lock);
    }
  }
  return NULL;
}

/* ---- streaming thread ---- */

static gboolean
ensure_decoder (GstEchoSyncSrc * self, guint rate, guint channels)
{
  int err;

  if (self->decoder && self->decoder_channels == channels)
    return TRUE;
  g_clear_pointer (&self->decoder, opus_decoder_destroy);
  self->decoder = opus_decoder_create (rate, channels, &err);
  if (!self->decoder) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, (NULL), ("opus: %s", opus_strerror (err)));
    return FALSE;
  }
  self->decoder_channels = channels;
  return TRUE;
}

static GstFlowReturn
gst_echo_sync_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (psrc);
  guint8 payload[ECHO_MAX_PAYLOAD], fec_payload[ECHO_MAX_PAYLOAD];
  guint payload_len = 0, fec_len = 0;
  guint channels, rate, samples;
  guint64 capture, index, latency, base_time;
  gboolean have = FALSE, discont, reset_decoder;
  GstBuffer *buf;
  GstMapInfo map;
  gint64 pts;
  int decoded;

  base_time = gst_element_get_base_time (GST_ELEMENT (self));
next_frame:
  have = FALSE;
  payload_len = fec_len = 0;
  g_mutex_lock (&self->lock);
  for (;;) {
    Slot *slot, *next;
    gint64 deadline, now_s;

    if (self->flushing) {
      g_mutex_unlock (&self->lock);
      return GST_FLOW_FLUSHING;
    }
    if (self->fatal) {
      g_mutex_unlock (&self->lock);
      return GST_FLOW_ERROR;
    }
    if (!self->started) {
      g_cond_wait_until (&self->cond, &self->lock, g_get_monotonic_time () +
          50 * G_TIME_SPAN_MILLISECOND);
      continue;
    }
    slot = &self->slots[self->out_seq % JB_SLOTS];
    deadline = predicted_capture (self, self->out_seq) + (gint64) self->latency_ns -
        (gint64) self->margin_ns;
    if (slot->valid && slot->seq == self->out_seq) {
      have = TRUE;
      payload_len = slot->len;
      memcpy (payload, slot->data, slot->len);
      capture = slot->capture;
      index = slot->index;
      slot->valid = FALSE;
      if (slot->flags & ECHO_AUDIO_FLAG_DISCONT)
        self->need_discont = TRUE;
      break;
    }
    now_s = (gint64) session_now (self);
    if (now_s >= deadline) {
      /* too late for this frame: conceal it, with the next frame's FEC if it is here */
      next = &self->slots[(self->out_seq + 1) % JB_SLOTS];
      if (next->valid && next->seq == self->out_seq + 1) {
        fec_len = next->len;
        memcpy (fec_payload, next->data, next->len);
      }
      capture = predicted_capture (self, self->out_seq);
      index = self->anchor_index + (gint64) (gint32) (self->out_seq - self->anchor_seq) *
          self->frame_samples;
      /* why a repair did not come: the log that explains a concealed frame */
      GST_INFO_OBJECT (self, "concealing seq %u (%s): %s, %u NACKs, last %" G_GINT64_FORMAT
          " us ago, newest seq %u, srtt %.1f ms", self->out_seq,
          next->valid && next->seq == self->out_seq + 1 ? "FEC" : "PLC",
          slot->wait_seq == self->out_seq ? "missing" : "never seen missing",
          slot->wait_seq == self->out_seq ? slot->nack_tries : 0,
          slot->wait_seq == self->out_seq && slot->last_nack ?
          (gint64) (echo_net_monotonic_ns () - slot->last_nack) / 1000 : -1,
          self->high_seq, self->srtt_ns / 1e6);
      break;
    }
    g_cond_wait_until (&self->cond, &self->lock, g_get_monotonic_time () +
        MAX (1, (deadline - now_s) / 1000));
  }
  self->out_seq++;
  self->output_running = TRUE;
  channels = self->channels;
  rate = self->rate;
  samples = self->frame_samples;
  latency = self->latency_ns;
  discont = self->need_discont;
  self->need_discont = FALSE;
  reset_decoder = self->reset_decoder;
  self->reset_decoder = FALSE;
  if (!have) {
    if (fec_len)
      self->st_fec++;
    else
      self->st_plc++;
  }
  g_mutex_unlock (&self->lock);

  if (channels != self->caps_channels || rate != self->caps_rate) {
    GstCaps *caps = gst_caps_new_simple ("audio/x-raw",
        "format", G_TYPE_STRING, GST_AUDIO_NE (F32),
        "layout", G_TYPE_STRING, "interleaved",
        "rate", G_TYPE_INT, rate, "channels", G_TYPE_INT, channels, NULL);
    gboolean ok = gst_base_src_set_caps (GST_BASE_SRC (self), caps);

    gst_caps_unref (caps);
    if (!ok)
      return GST_FLOW_NOT_NEGOTIATED;
    self->caps_channels = channels;
    self->caps_rate = rate;
  }
  if (!ensure_decoder (self, rate, channels))
    return GST_FLOW_ERROR;
  if (reset_decoder)
    opus_decoder_ctl (self->decoder, OPUS_RESET_STATE);

  buf = gst_buffer_new_allocate (NULL, samples * channels * sizeof (gfloat), NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  if (have) {
    decoded = opus_decode_float (self->decoder, payload, payload_len,
        (float *) map.data, samples, 0);
    self->concealed_ns = 0;
  } else if (self->concealed_ns >= MAX_CONCEAL_NS) {
    decoded = 0;
  } else if (fec_len) {
    decoded = opus_decode_float (self->decoder, fec_payload, fec_len,
        (float *) map.data, samples, 1);
    self->concealed_ns += gst_util_uint64_scale (samples, GST_SECOND, rate);
  } else {
    decoded = opus_decode_float (self->decoder, NULL, 0, (float *) map.data, samples, 0);
    self->concealed_ns += gst_util_uint64_scale (samples, GST_SECOND, rate);
  }
  if (decoded != (int) samples) {
    if (decoded < 0)
      GST_DEBUG_OBJECT (self, "opus: %s", opus_strerror (decoded));
    memset (map.data, 0, map.size);
  }
  gst_buffer_unmap (buf, &map);

  pts = (gint64) capture + (gint64) latency - (gint64) base_time;
  if (pts < 0) {
    /* rendered before this pipeline started: nothing to play */
    gst_buffer_unref (buf);
    goto next_frame;
  }
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (samples, GST_SECOND, rate);
  GST_BUFFER_OFFSET (buf) = index;
  GST_BUFFER_OFFSET_END (buf) = index + samples;
  if (discont)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  if (!have)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_RESYNC);
  *outbuf = buf;
  return GST_FLOW_OK;
}

static gboolean
gst_echo_sync_src_start (GstBaseSrc * bsrc)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (bsrc);
  g_autofree gchar *session = NULL, *token = NULL;
  gint latency_ms;
  guint margin_ms;
  gboolean do_nack;

  GST_OBJECT_LOCK (self);
  session = g_strdup (self->session);
  token = self->token && *self->token ? g_strdup (self->token) : NULL;
  latency_ms = self->latency_ms;
  margin_ms = self->render_margin_ms;
  do_nack = self->do_nack;
  GST_OBJECT_UNLOCK (self);
  if (!session || !*session) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No session given"),
        ("set session=NAME (found by mDNS) or uri=echo://HOST:PORT/NAME"));
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  self->session_id = echo_session_id (session);
  self->token_copy = g_steal_pointer (&token);
  self->latency_prop_ms = latency_ms;
  self->margin_prop_ms = margin_ms;
  self->do_nack_copy = do_nack;
  self->keyed = FALSE;
  self->fatal = FALSE;
  self->flushing = FALSE;
  self->state = STATE_IDLE;
  self->epoch = 0;
  self->subscription = 0;
  self->channels = self->rate = self->frame_samples = 0;
  self->srtt_ns = 0;
  self->relay_lost = FALSE;
  self->request_counter = 0;
  memset (self->requests, 0, sizeof (self->requests));
  self->estimator = echo_clock_estimator_new ();
  self->slots = g_new0 (Slot, JB_SLOTS);
  reset_timeline (self);
  self->st_received = self->st_repairs = self->st_duplicates = self->st_late = 0;
  self->st_fec = self->st_plc = self->st_nacks = self->st_dropped = 0;
  self->st_resyncs = 0;
  g_mutex_unlock (&self->lock);
  self->caps_channels = self->caps_rate = 0;
  self->concealed_ns = 0;

  self->wake_fd = echo_net_wake_new ();
  self->cancellable = g_cancellable_new ();
  g_atomic_int_set (&self->running, 1);
  self->thread = g_thread_new ("echosyncsrc-net", network_thread, self);
  return TRUE;
}

static gboolean
gst_echo_sync_src_stop (GstBaseSrc * bsrc)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (bsrc);

  if (self->thread) {
    g_atomic_int_set (&self->running, 0);
    g_cancellable_cancel (self->cancellable);
    echo_net_wake (self->wake_fd);
    g_thread_join (self->thread);
    self->thread = NULL;
  }
  if (self->fd >= 0) {
    g_mutex_lock (&self->lock);
    if (self->state == STATE_SUBSCRIBED) {
      EchoPacket bye = { .type = ECHO_PACKET_BYE };
      bye.bye.subscription = self->subscription;
      send_packet (self, &bye);
    }
    g_mutex_unlock (&self->lock);
    close (self->fd);
    self->fd = -1;
  }
  if (self->wake_fd >= 0) {
    close (self->wake_fd);
    self->wake_fd = -1;
  }
  g_clear_object (&self->cancellable);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->estimator, echo_clock_estimator_free);
  g_clear_pointer (&self->slots, g_free);
  g_clear_pointer (&self->token_copy, g_free);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->decoder, opus_decoder_destroy);
  return TRUE;
}

static gboolean
gst_echo_sync_src_unlock (GstBaseSrc * bsrc)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (bsrc);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_echo_sync_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (bsrc);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_echo_sync_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* buffers carry their render time already: no latency to add downstream */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

/* The format is the session's, known only once subscribed: create() sets the caps then.
 * Default negotiation would fixate the template to 8 kHz mono before that. */
static gboolean
gst_echo_sync_src_negotiate (GstBaseSrc * bsrc)
{
  return TRUE;
}

static GstClock *
gst_echo_sync_src_provide_clock (GstElement * element)
{
  return gst_object_ref (GST_ECHO_SYNC_SRC (element)->clock);
}

/* ---- URI handler ---- */

static GstURIType
uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { "echo", NULL };
  return protocols;
}

static gchar *
uri_get_uri (GstURIHandler * handler)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (handler);
  gchar *uri;

  GST_OBJECT_LOCK (self);
  if (self->host && *self->host)
    uri = g_strdup_printf ("echo://%s:%u/%s", self->host, self->port,
        self->session ? self->session : "");
  else
    uri = g_strdup_printf ("echo:///%s", self->session ? self->session : "");
  GST_OBJECT_UNLOCK (self);
  return uri;
}

static gboolean
uri_set_uri (GstURIHandler * handler, const gchar * uri, GError ** error)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (handler);
  g_autoptr (GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, error);
  const char *path, *query;
  g_autofree gchar *token = NULL;

  if (!parsed)
    return FALSE;
  if (g_strcmp0 (g_uri_get_scheme (parsed), "echo") != 0) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL,
        "not an echo:// URI: %s", uri);
    return FALSE;
  }
  path = g_uri_get_path (parsed);
  while (path && *path == '/')
    path++;
  if (!path || !*path || strchr (path, '/')) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "expected echo://HOST:PORT/SESSION or echo:///SESSION, got %s", uri);
    return FALSE;
  }
  query = g_uri_get_query (parsed);
  if (query) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
        G_URI_PARAMS_NONE, NULL);
    if (params && g_hash_table_lookup (params, "token"))
      token = g_strdup (g_hash_table_lookup (params, "token"));
  }
  GST_OBJECT_LOCK (self);
  g_free (self->host);
  self->host = g_strdup (g_uri_get_host (parsed));
  self->port = g_uri_get_port (parsed) > 0 ? (guint) g_uri_get_port (parsed) :
      DEFAULT_PORT;
  g_free (self->session);
  self->session = g_uri_unescape_string (path, NULL);
  if (token) {
    g_free (self->token);
    self->token = g_steal_pointer (&token);
  }
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static void
gst_echo_sync_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  iface->get_type = uri_get_type;
  iface->get_protocols = uri_get_protocols;
  iface->get_uri = uri_get_uri;
  iface->set_uri = uri_set_uri;
}

/* ---- GObject ---- */

static void
gst_echo_sync_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (object);

  if (prop_id == PROP_URI) {
    g_autoptr (GError) error = NULL;
    if (!uri_set_uri (GST_URI_HANDLER (self), g_value_get_string (value), &error))
      g_warning ("echosyncsrc: %s", error->message);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HOST:
      g_free (self->host);
      self->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_SESSION:
      g_free (self->session);
      self->session = g_value_dup_string (value);
      break;
    case PROP_TOKEN:
      g_free (self->token);
      self->token = g_value_dup_string (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_int (value);
      break;
    case PROP_RENDER_MARGIN:
      self->render_margin_ms = g_value_get_uint (value);
      break;
    case PROP_DISCOVERY_TIMEOUT:
      self->discovery_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval_ms = g_value_get_uint (value);
      break;
    case PROP_DO_NACK:
      self->do_nack = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_echo_sync_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (object);

  switch (prop_id) {
    case PROP_URI:
      g_value_take_string (value, uri_get_uri (GST_URI_HANDLER (self)));
      return;
    case PROP_STATS:
      g_value_take_boxed (value, stats_structure (self));
      return;
    default:
      break;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_SESSION:
      g_value_set_string (value, self->session);
      break;
    case PROP_TOKEN:
      g_value_set_string (value, self->token);
      break;
    case PROP_LATENCY:
      g_value_set_int (value, self->latency_ms);
      break;
    case PROP_RENDER_MARGIN:
      g_value_set_uint (value, self->render_margin_ms);
      break;
    case PROP_DISCOVERY_TIMEOUT:
      g_value_set_uint (value, self->discovery_timeout_ms);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval_ms);
      break;
    case PROP_DO_NACK:
      g_value_set_boolean (value, self->do_nack);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_echo_sync_src_finalize (GObject * object)
{
  GstEchoSyncSrc *self = GST_ECHO_SYNC_SRC (object);

  g_free (self->host);
  g_free (self->session);
  g_free (self->token);
  gst_object_unref (self->clock);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_echo_sync_src_class_init (GstEchoSyncSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_echo_sync_src_set_property;
  gobject_class->get_property = gst_echo_sync_src_get_property;
  gobject_class->finalize = gst_echo_sync_src_finalize;

  g_object_class_install_property (gobject_class, PROP_URI,
      g_param_spec_string ("uri", "URI",
          "echo://HOST:PORT/SESSION[?token=T], or echo:///SESSION to find it by mDNS",
          NULL, rw));
  g_object_class_install_property (gobject_class, PROP_HOST,
      g_param_spec_string ("host", "Host",
          "The relay's host name or address (empty: find the session by mDNS)", NULL,
          rw));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_uint ("port", "Port", "The relay's UDP port (with host)", 1, 65535,
          DEFAULT_PORT, rw));
  g_object_class_install_property (gobject_class, PROP_SESSION,
      g_param_spec_string ("session", "Session",
          "Session name (the relay's session property)", DEFAULT_SESSION, rw));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "The session's shared secret, if the relay requires one", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_int ("latency", "Latency (ms)",
          "Render latency; -1 uses the session's (the relay's latency property). "
          "Receivers of one session must agree on it to be in sync", -1, 5000,
          DEFAULT_LATENCY, rw));
  g_object_class_install_property (gobject_class, PROP_RENDER_MARGIN,
      g_param_spec_uint ("render-margin", "Render margin (ms)",
          "A frame leaves this long before its render time (capped at half the "
          "latency); what is still missing then is concealed. Must cover the "
          "device buffering downstream", 1, 2500, DEFAULT_RENDER_MARGIN_MS, rw));
  g_object_class_install_property (gobject_class, PROP_DISCOVERY_TIMEOUT,
      g_param_spec_uint ("discovery-timeout", "Discovery timeout (ms)",
          "How long to look for the session by mDNS", 100, 600000,
          DEFAULT_DISCOVERY_TIMEOUT_MS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval (ms)",
          "Post an echo-receiver-stats element message this often (0: never)", 0,
          G_MAXUINT, DEFAULT_STATS_INTERVAL_MS, rw));
  g_object_class_install_property (gobject_class, PROP_DO_NACK,
      g_param_spec_boolean ("do-nack", "Request repairs",
          "Ask the relay to resend lost packets while the latency allows",
          DEFAULT_DO_NACK, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "received, repairs, duplicates, late, fec, plc, nacks, dropped, clock-offset, "
          "clock-rate-ppm, min-rtt, resyncs, subscribed (see the element documentation)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Echo session receiver",
      "Source/Network/Audio",
      "Receives an Echo session and outputs it on the session timeline, with the "
      "session clock as pipeline clock", "Echo developers");
  gst_element_class_add_metadata (element_class, "doc-uri",
      ECHO_ELEMENT_DOCS_URI "/echosyncsrc.md");
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_echo_sync_src_provide_clock);

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_echo_sync_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_echo_sync_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_echo_sync_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_echo_sync_src_unlock_stop);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_echo_sync_src_query);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_echo_sync_src_negotiate);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_echo_sync_src_create);

  GST_DEBUG_CATEGORY_INIT (echo_sync_src_debug, "echosyncsrc", 0,
      "Echo session receiver");
}

static void
gst_echo_sync_src_init (GstEchoSyncSrc * self)
{
  self->port = DEFAULT_PORT;
  self->latency_ms = DEFAULT_LATENCY;
  self->render_margin_ms = DEFAULT_RENDER_MARGIN_MS;
  self->discovery_timeout_ms = DEFAULT_DISCOVERY_TIMEOUT_MS;
  self->stats_interval_ms = DEFAULT_STATS_INTERVAL_MS;
  self->do_nack = DEFAULT_DO_NACK;
  self->fd = -1;
  self->wake_fd = -1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->clock = g_object_new (GST_TYPE_SYSTEM_CLOCK, "name", "echosyncsrc-session-clock",
      "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
  gst_object_ref_sink (self->clock);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
}
