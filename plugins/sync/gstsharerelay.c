/**
 * SECTION:element-sharerelay
 * @title: sharerelay
 *
 * sharerelay makes its input a session that any number of echosyncsrc receivers play in
 * sample-accurate sync. It encodes the audio with Opus (or takes Opus as it is), stamps
 * every packet with the session-clock time its first sample was captured and the session
 * sample index, keeps the last #GstShareRelay:buffer-time of packets for loss repair and
 * late joiners, serves the session clock to receivers, announces the session by mDNS
 * (service type `_echo-session._udp`) and sends each packet to every subscribed receiver.
 *
 * Receivers subscribe and renew; a subscription that is not renewed ends. The relay
 * sends nothing to an address that has not proven it receives (a cookie exchange), and
 * with #GstShareRelay:token set, a receiver must prove it knows the token (HMAC-SHA256)
 * and every packet of its subscription is authenticated.
 *
 * The session clock is the relay host's monotonic clock; sharerelay provides it to the
 * pipeline. Sample k renders on every receiver at capture_time(k) + #GstShareRelay:latency.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=song.ogg ! decodebin ! audioconvert ! audioresample ! sharerelay session=demo
 * gst-launch-1.0 audiotestsrc is-live=true ! sharerelay session=demo latency=60 frame-duration=5
 * ]|
 *
 * ## Statistics
 * The #GstShareRelay:stats property and the `echo-relay-stats` element message (every
 * #GstShareRelay:stats-interval) carry: `session` (string), `receivers` (guint),
 * `packets` (guint64, frames encoded), `packets-sent` (guint64, datagrams of audio sent,
 * repairs included), `repairs` (guint64, resends answering NACKs), `bytes` (guint64, audio
 * bytes sent), `subscriptions` (guint64, accepted since start), `refused` (guint64),
 * `dropped` (guint64, malformed, foreign-session or unauthenticated datagrams received).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsharerelay.h"
#include "gstechosyncelements.h"
#include "echoproto.h"
#include "echonet.h"
#include "echosessionclock.h"
#include "echodiscovery.h"

#include <gst/audio/audio.h>
#include <opus/opus.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

GST_DEBUG_CATEGORY_STATIC (share_relay_debug);
#define GST_CAT_DEFAULT share_relay_debug

#define DEFAULT_SESSION "echo"
#define DEFAULT_ADDRESS "0.0.0.0"
#define DEFAULT_PORT 5004
#define DEFAULT_LATENCY_MS 100
#define DEFAULT_BUFFER_TIME_MS 5000
#define DEFAULT_BITRATE 128000
#define DEFAULT_FRAME_DURATION ECHO_FRAME_DURATION_10MS
#define DEFAULT_FEC TRUE
#define DEFAULT_PACKET_LOSS 5
#define DEFAULT_CHANNELS 2
#define DEFAULT_ANNOUNCE TRUE
#define DEFAULT_MAX_RECEIVERS 256
#define DEFAULT_IDLE_ENCODE TRUE
#define DEFAULT_STATS_INTERVAL_MS 1000
#define SESSION_RATE 48000
/* A receiver renews every lease/4; one that misses the whole lease is gone. */
#define LEASE_MS 5000
/* Cookies are valid for the current and the previous bucket. */
#define COOKIE_BUCKET_NS (30 * G_GUINT64_CONSTANT (1000000000))
/* Every receiver's requests arrive on the one socket (time requests: 200/s each for 30 s
 * after subscribing, then 50/s; renewals, NACKs), and the network thread waits for the
 * lock while the streaming thread sends a frame to everyone. The kernel's default
 * (208 KiB, about 200 such datagrams) overflowed with 250 receivers joining: renewals were
 * lost and receivers dropped out (bench/run-radio-bench). The kernel caps this at
 * net.core.rmem_max. */
#define RECEIVE_BUFFER_BYTES (4 << 20)
/* Input whose time jumps by more than this starts a new stretch of the timeline. */
#define DISCONT_THRESHOLD_NS (2 * GST_MSECOND)

typedef enum {
  ECHO_FRAME_DURATION_2_5MS = 2500,
  ECHO_FRAME_DURATION_5MS = 5000,
  ECHO_FRAME_DURATION_10MS = 10000,
  ECHO_FRAME_DURATION_20MS = 20000,
} EchoFrameDuration;

#define ECHO_TYPE_FRAME_DURATION (echo_frame_duration_get_type ())
static GType
echo_frame_duration_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {ECHO_FRAME_DURATION_2_5MS, "2.5 ms", "2"},
    {ECHO_FRAME_DURATION_5MS, "5 ms", "5"},
    {ECHO_FRAME_DURATION_10MS, "10 ms", "10"},
    {ECHO_FRAME_DURATION_20MS, "20 ms", "20"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("EchoFrameDuration", values));
  return type;
}

typedef struct {
  gboolean valid;
  guint32 seq;
  guint8 flags;
  guint16 samples;
  guint64 index;
  guint64 capture;
  guint16 len;
  guint8 data[ECHO_MAX_PAYLOAD];
} RingSlot;

typedef struct {
  guint64 id;
  guint64 nonce;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  gboolean keyed;
  guint8 key[ECHO_KEY_SIZE];
  guint64 expires;              /* monotonic ns */
} Subscriber;

struct _GstShareRelay {
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *session;
  gchar *address;
  guint port;
  guint latency_ms;
  guint buffer_time_ms;
  gint bitrate;
  EchoFrameDuration frame_duration;
  gboolean fec;
  guint packet_loss;
  guint channels_prop;
  gchar *token;
  gboolean announce;
  guint max_receivers;
  gint idle_encode;             /* atomic: read by the streaming thread */
  guint stats_interval_ms;

  GstClock *session_clock;

  /* set in start(), constant until stop() */
  guint64 session_id;
  guint64 epoch;
  guint8 secret[32];
  int fd;
  int wake_fd;
  guint bound_port;
  guint64 latency_ns;
  gchar *token_copy;
  GThread *thread;
  gint running;
  EchoDiscoveryPublisher *publisher;

  /* shared between the streaming and network threads */
  GMutex lock;
  GHashTable *subscribers;      /* guint64* id -> Subscriber* */
  RingSlot *ring;
  guint ring_size;
  guint32 next_seq;
  guint64 stat_packets, stat_sent, stat_repairs, stat_bytes, stat_subscriptions;
  guint64 stat_refused, stat_dropped;

  /* streaming thread only */
  gboolean opus_input;
  guint channels;
  guint frame_samples;
  guint lookahead;
  OpusEncoder *encoder;
  GstAudioConverter *converter;
  GstAudioInfo in_info;
  gfloat *acc;
  guint acc_len;
  guint64 acc_capture;
  guint64 next_index;
  gboolean discont;
  gboolean idling;              /* input dropped unencoded: no receivers, idle-encode off */
};

enum {
  PROP_0,
  PROP_SESSION,
  PROP_ADDRESS,
  PROP_PORT,
  PROP_BOUND_PORT,
  PROP_LATENCY,
  PROP_BUFFER_TIME,
  PROP_BITRATE,
  PROP_FRAME_DURATION,
  PROP_FEC,
  PROP_PACKET_LOSS,
  PROP_CHANNELS,
  PROP_TOKEN,
  PROP_ANNOUNCE,
  PROP_MAX_RECEIVERS,
  PROP_IDLE_ENCODE,
  PROP_STATS_INTERVAL,
  PROP_STATS,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_AUDIO_CAPS_MAKE (GST_AUDIO_FORMATS_ALL)
        ", layout = (string) interleaved; "
        "audio/x-opus, channel-mapping-family = (int) 0, rate = (int) 48000, "
        "channels = (int) [ 1, 2 ]"));

#define gst_share_relay_parent_class parent_class
G_DEFINE_TYPE (GstShareRelay, gst_share_relay, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (sharerelay, "sharerelay", GST_RANK_NONE,
    GST_TYPE_SHARE_RELAY);

static guint64
session_now (GstShareRelay * self)
{
  return gst_clock_get_time (self->session_clock);
}

/* ---- network thread: requests from receivers ---- */

static void
send_to (GstShareRelay * self, const guint8 * data, gsize len,
    const struct sockaddr_storage *addr, socklen_t addr_len)
{
  if (len && sendto (self->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *) addr,
          addr_len) < 0)
    GST_LOG_OBJECT (self, "sendto failed: %s", g_strerror (errno));
}

static void
cookie_for (GstShareRelay * self, const struct sockaddr_storage *addr,
    guint64 bucket, guint8 cookie[ECHO_COOKIE_SIZE])
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, self->secret,
      sizeof (self->secret));
  g_autofree char *who = echo_net_address_to_string (addr);
  guint8 digest[32];
  gsize len = sizeof (digest);

  g_hmac_update (hmac, (const guchar *) who, strlen (who));
  g_hmac_update (hmac, (const guchar *) &bucket, sizeof (bucket));
  g_hmac_get_digest (hmac, digest, &len);
  memcpy (cookie, digest, ECHO_COOKIE_SIZE);
}

static gboolean
cookie_valid (GstShareRelay * self, const struct sockaddr_storage *addr,
    const guint8 cookie[ECHO_COOKIE_SIZE])
{
  guint64 bucket = echo_net_monotonic_ns () / COOKIE_BUCKET_NS;
  guint8 expected[ECHO_COOKIE_SIZE];

  cookie_for (self, addr, bucket, expected);
  if (echo_memequal (expected, cookie, ECHO_COOKIE_SIZE))
    return TRUE;
  cookie_for (self, addr, bucket - 1, expected);
  return echo_memequal (expected, cookie, ECHO_COOKIE_SIZE);
}

static void
send_refused (GstShareRelay * self, guint64 nonce, EchoRefusedReason reason,
    const struct sockaddr_storage *addr, socklen_t addr_len)
{
  EchoPacket reply = { .type = ECHO_PACKET_REFUSED, .session_id = self->session_id };
  guint8 out[ECHO_MAX_PACKET];

  reply.refused.nonce = nonce;
  reply.refused.reason = reason;
  send_to (self, out, echo_packet_write (&reply, NULL, out, sizeof (out)), addr,
      addr_len);
  self->stat_refused++;
}

static Subscriber *
find_by_address (GstShareRelay * self, const struct sockaddr_storage *addr,
    guint64 nonce)
{
  GHashTableIter iter;
  Subscriber *sub;

  g_hash_table_iter_init (&iter, self->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & sub))
    if (sub->nonce == nonce && echo_net_same_address (&sub->addr, addr))
      return sub;
  return NULL;
}

/* Called with the lock held. */
static void
handle_subscribe (GstShareRelay * self, const EchoPacket * p,
    const struct sockaddr_storage *from, socklen_t from_len, guint64 now)
{
  EchoPacket reply = { .type = ECHO_PACKET_SUBSCRIBED, .session_id = self->session_id };
  guint8 out[ECHO_MAX_PACKET];
  Subscriber *sub;
  guint32 oldest;

  /* a renewal: this address already proved it receives */
  sub = find_by_address (self, from, p->subscribe.nonce);
  if (!sub) {
    guint64 *key;

    if (!cookie_valid (self, from, p->subscribe.cookie)) {
      send_refused (self, p->subscribe.nonce, ECHO_REFUSED_BAD_COOKIE, from, from_len);
      return;
    }
    if (self->token_copy) {
      guint8 proof[ECHO_PROOF_SIZE];

      echo_subscribe_proof (self->token_copy, self->session_id, p->subscribe.nonce,
          p->subscribe.cookie, proof);
      if (!echo_memequal (proof, p->subscribe.proof, ECHO_PROOF_SIZE)) {
        GST_INFO_OBJECT (self, "refusing a subscription with a wrong token proof");
        send_refused (self, p->subscribe.nonce, ECHO_REFUSED_BAD_PROOF, from, from_len);
        return;
      }
    }
    if (g_hash_table_size (self->subscribers) >= self->max_receivers) {
      send_refused (self, p->subscribe.nonce, ECHO_REFUSED_FULL, from, from_len);
      return;
    }
    sub = g_new0 (Subscriber, 1);
    do {
      sub->id = ((guint64) g_random_int () << 32) | g_random_int ();
    } while (sub->id == 0 || g_hash_table_contains (self->subscribers, &sub->id));
    sub->nonce = p->subscribe.nonce;
    memcpy (&sub->addr, from, sizeof (*from));
    sub->addr_len = from_len;
    if (self->token_copy) {
      sub->keyed = TRUE;
      echo_subscription_key (self->token_copy, self->session_id, sub->nonce,
          p->subscribe.cookie, sub->key);
    }
    key = g_new (guint64, 1);
    *key = sub->id;
    g_hash_table_insert (self->subscribers, key, sub);
    self->stat_subscriptions++;
    {
      g_autofree char *who = echo_net_address_to_string (from);
      GST_INFO_OBJECT (self, "receiver %s subscribed (%u now)", who,
          g_hash_table_size (self->subscribers));
    }
  }
  sub->expires = now + LEASE_MS * GST_MSECOND;

  oldest = self->next_seq - MIN (self->next_seq, self->ring_size - 1);
  while (oldest != self->next_seq && !self->ring[oldest % self->ring_size].valid)
    oldest++;
  reply.subscribed.nonce = sub->nonce;
  reply.subscribed.subscription = sub->id;
  reply.subscribed.epoch = self->epoch;
  reply.subscribed.codec = ECHO_CODEC_OPUS;
  reply.subscribed.channels = self->channels;
  reply.subscribed.frame_samples = self->frame_samples;
  reply.subscribed.rate = SESSION_RATE;
  reply.subscribed.latency = self->latency_ns;
  reply.subscribed.lease_ms = LEASE_MS;
  reply.subscribed.next_seq = self->next_seq;
  reply.subscribed.oldest_seq = oldest;
  send_to (self, out, echo_packet_write (&reply, sub->keyed ? sub->key : NULL, out,
          sizeof (out)), from, from_len);
}

/* Serialises @slot for @sub and sends it. Called with the lock held. */
static void
send_audio (GstShareRelay * self, Subscriber * sub, const RingSlot * slot,
    gboolean repair)
{
  EchoPacket p = { .type = ECHO_PACKET_AUDIO, .session_id = self->session_id };
  guint8 out[ECHO_MAX_PACKET];
  gsize len;

  p.audio.subscription = sub->id;
  p.audio.seq = slot->seq;
  p.audio.flags = slot->flags | (repair ? ECHO_AUDIO_FLAG_REPAIR : 0);
  p.audio.codec = ECHO_CODEC_OPUS;
  p.audio.samples = slot->samples;
  p.audio.sample_index = slot->index;
  p.audio.capture_time = slot->capture;
  p.audio.payload = slot->data;
  p.audio.payload_len = slot->len;
  p.audio.send_time = session_now (self);
  len = echo_packet_write (&p, sub->keyed ? sub->key : NULL, out, sizeof (out));
  send_to (self, out, len, &sub->addr, sub->addr_len);
  self->stat_sent++;
  self->stat_bytes += len;
  if (repair)
    self->stat_repairs++;
}

/* The subscriber a datagram claims to come from, if it really does. Lock held. */
static Subscriber *
verified_subscriber (GstShareRelay * self, guint64 id, const guint8 * data, gsize len,
    const struct sockaddr_storage *from)
{
  Subscriber *sub = g_hash_table_lookup (self->subscribers, &id);

  if (!sub || !echo_net_same_address (&sub->addr, from))
    return NULL;
  if (sub->keyed && !echo_packet_check_tag (data, len, sub->key))
    return NULL;
  return sub;
}

static void
handle_datagram (GstShareRelay * self, const guint8 * data, gsize len,
    const struct sockaddr_storage *from, socklen_t from_len, guint64 rx_mono)
{
  EchoPacket p, reply = {.session_id = self->session_id };
  guint8 out[ECHO_MAX_PACKET];
  EchoParseResult res = echo_packet_parse (data, len, &p);
  Subscriber *sub;
  guint64 now = echo_net_monotonic_ns ();
  guint i;

  g_mutex_lock (&self->lock);
  if (res != ECHO_PARSE_OK || p.session_id != self->session_id) {
    self->stat_dropped++;
    GST_LOG_OBJECT (self, "dropped a datagram: %s", res != ECHO_PARSE_OK ?
        echo_parse_result_to_string (res) : "foreign session");
    goto done;
  }
  switch (p.type) {
    case ECHO_PACKET_HELLO:
      /* the answer is never larger than the question: no amplification */
      if (len < ECHO_HELLO_SIZE) {
        self->stat_dropped++;
        break;
      }
      reply.type = ECHO_PACKET_COOKIE;
      reply.cookie.nonce = p.hello.nonce;
      cookie_for (self, from, now / COOKIE_BUCKET_NS, reply.cookie.cookie);
      send_to (self, out, echo_packet_write (&reply, NULL, out, sizeof (out)), from,
          from_len);
      break;
    case ECHO_PACKET_SUBSCRIBE:
      if (len < ECHO_SUBSCRIBE_SIZE) {
        self->stat_dropped++;
        break;
      }
      handle_subscribe (self, &p, from, from_len, now);
      break;
    case ECHO_PACKET_TIME_REQUEST:
      if (len < ECHO_TIME_REQUEST_SIZE ||
          !(sub = verified_subscriber (self, p.time_request.subscription, data, len,
                  from))) {
        self->stat_dropped++;
        if (len >= ECHO_TIME_REQUEST_SIZE)
          send_refused (self, p.time_request.subscription,
              ECHO_REFUSED_UNKNOWN_SUBSCRIPTION, from, from_len);
        break;
      }
      reply.type = ECHO_PACKET_TIME_RESPONSE;
      reply.time_response.subscription = sub->id;
      reply.time_response.request_id = p.time_request.request_id;
      reply.time_response.t1 = p.time_request.t1;
      reply.time_response.t2 =
          echo_session_clock_from_monotonic (self->session_clock, rx_mono);
      reply.time_response.t3 = session_now (self);
      send_to (self, out, echo_packet_write (&reply, sub->keyed ? sub->key : NULL, out,
              sizeof (out)), &sub->addr, sub->addr_len);
      break;
    case ECHO_PACKET_NACK:
      if (!(sub = verified_subscriber (self, p.nack.subscription, data, len, from))) {
        self->stat_dropped++;
        break;
      }
      for (i = 0; i < p.nack.count; i++) {
        const RingSlot *slot = &self->ring[p.nack.seqs[i] % self->ring_size];

        if (slot->valid && slot->seq == p.nack.seqs[i])
          send_audio (self, sub, slot, TRUE);
      }
      break;
    case ECHO_PACKET_BYE:
      if (!(sub = verified_subscriber (self, p.bye.subscription, data, len, from))) {
        self->stat_dropped++;
        break;
      }
      GST_INFO_OBJECT (self, "receiver left");
      g_hash_table_remove (self->subscribers, &p.bye.subscription);
      break;
    default:
      /* relay-to-receiver packets have no business arriving here */
      self->stat_dropped++;
      break;
  }
done:
  g_mutex_unlock (&self->lock);
}

static GstStructure *
stats_structure (GstShareRelay * self, const char *name)
{
  GstStructure *s;

  g_mutex_lock (&self->lock);
  s = gst_structure_new (name,
      "session", G_TYPE_STRING, self->session,
      "receivers", G_TYPE_UINT, self->subscribers ?
      g_hash_table_size (self->subscribers) : 0,
      "packets", G_TYPE_UINT64, self->stat_packets,
      "packets-sent", G_TYPE_UINT64, self->stat_sent,
      "repairs", G_TYPE_UINT64, self->stat_repairs,
      "bytes", G_TYPE_UINT64, self->stat_bytes,
      "subscriptions", G_TYPE_UINT64, self->stat_subscriptions,
      "refused", G_TYPE_UINT64, self->stat_refused,
      "dropped", G_TYPE_UINT64, self->stat_dropped, NULL);
  g_mutex_unlock (&self->lock);
  return s;
}

static void
expire_subscribers (GstShareRelay * self, guint64 now)
{
  GHashTableIter iter;
  Subscriber *sub;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & sub)) {
    if (sub->expires < now) {
      GST_INFO_OBJECT (self, "receiver stopped renewing; no more packets for it");
      g_hash_table_iter_remove (&iter);
    }
  }
  g_mutex_unlock (&self->lock);
}

static gpointer
network_thread (gpointer data)
{
  GstShareRelay *self = data;
  guint8 buf[2048];
  guint64 next_stats = 0, next_sweep = 0;

  while (g_atomic_int_get (&self->running)) {
    guint64 now = echo_net_monotonic_ns ();
    guint64 wait = 100 * GST_MSECOND;
    struct sockaddr_storage from;
    socklen_t from_len;
    guint64 rx;
    gboolean truncated;
    gssize n;

    if (now >= next_sweep) {
      expire_subscribers (self, now);
      next_sweep = now + 250 * GST_MSECOND;
    }
    if (self->stats_interval_ms && now >= next_stats) {
      if (next_stats)
        gst_element_post_message (GST_ELEMENT (self),
            gst_message_new_element (GST_OBJECT (self),
                stats_structure (self, "echo-relay-stats")));
      next_stats = now + self->stats_interval_ms * GST_MSECOND;
    }
    echo_net_wait (self->fd, self->wake_fd, wait);
    echo_net_wake_clear (self->wake_fd);
    while ((n = echo_net_recv (self->fd, buf, sizeof (buf), &from, &from_len, &rx,
                &truncated)) >= 0) {
      if (truncated || n > ECHO_MAX_PACKET) {
        g_mutex_lock (&self->lock);
        self->stat_dropped++;
        g_mutex_unlock (&self->lock);
        continue;
      }
      handle_datagram (self, buf, n, &from, from_len, rx);
    }
  }
  return NULL;
}

/* ---- streaming thread: encoding and fan-out ---- */

static void
publish_packet (GstShareRelay * self, const guint8 * data, guint len, guint samples,
    guint64 capture)
{
  GHashTableIter iter;
  Subscriber *sub;
  RingSlot *slot;

  if (len == 0 || len > ECHO_MAX_PAYLOAD) {
    GST_WARNING_OBJECT (self, "dropping an Opus packet of %u bytes", len);
    return;
  }
  g_mutex_lock (&self->lock);
  slot = &self->ring[self->next_seq % self->ring_size];
  slot->valid = TRUE;
  slot->seq = self->next_seq++;
  slot->flags = self->discont ? ECHO_AUDIO_FLAG_DISCONT : 0;
  slot->samples = samples;
  slot->index = self->next_index;
  slot->capture = capture;
  slot->len = len;
  memcpy (slot->data, data, len);
  GST_LOG_OBJECT (self, "seq %u index %" G_GUINT64_FORMAT " capture %" GST_TIME_FORMAT
      " (%" G_GINT64_FORMAT " ns before now)", slot->seq, slot->index,
      GST_TIME_ARGS (capture), (gint64) (session_now (self) - capture));
  self->next_index += samples;
  self->discont = FALSE;
  self->stat_packets++;
  g_hash_table_iter_init (&iter, self->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & sub))
    send_audio (self, sub, slot, FALSE);
  g_mutex_unlock (&self->lock);
}

static void
encode_frames (GstShareRelay * self)
{
  guint8 packet[ECHO_MAX_PAYLOAD];
  guint F = self->frame_samples, ch = self->channels;
  guint64 frame_ns = gst_util_uint64_scale (F, GST_SECOND, SESSION_RATE);
  guint64 lookahead_ns = gst_util_uint64_scale (self->lookahead, GST_SECOND,
      SESSION_RATE);

  while (self->acc_len >= F) {
    opus_int32 n = opus_encode_float (self->encoder, self->acc, F, packet,
        sizeof (packet));

    if (n < 0) {
      GST_WARNING_OBJECT (self, "opus_encode_float: %s", opus_strerror (n));
    } else {
      /* the decoder's output lags the input by the encoder's lookahead: stamp the time of
       * what a receiver will actually decode */
      publish_packet (self, packet, n, F, self->acc_capture - MIN (self->acc_capture,
              lookahead_ns));
    }
    self->acc_len -= F;
    memmove (self->acc, self->acc + F * ch, self->acc_len * ch * sizeof (gfloat));
    self->acc_capture += frame_ns;
  }
}

/* Capture time, on the session clock, of the first sample of @buf. */
static guint64
capture_time (GstShareRelay * self, GstBuffer * buf)
{
  GstBaseSink *sink = GST_BASE_SINK (self);
  GstClock *clock;
  GstClockTime rt, clock_time;
  guint64 now = session_now (self);

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return now;
  rt = gst_segment_to_running_time (&sink->segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf));
  if (!GST_CLOCK_TIME_IS_VALID (rt))
    return now;
  /* the capture time itself, not when the sink renders it: for a live source that is
   * the pipeline latency later, and the session latency must cover it */
  clock_time = rt + gst_element_get_base_time (GST_ELEMENT (self));
  clock = GST_ELEMENT_CLOCK (self);
  if (!clock || clock == self->session_clock)
    return clock ? clock_time : now;
  /* another element's clock runs the pipeline: map through a pair of readings */
  return now + (clock_time - gst_clock_get_time (clock));
}

static GstFlowReturn
gst_share_relay_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstShareRelay *self = GST_SHARE_RELAY (sink);
  guint64 capture = capture_time (self, buf);
  GstMapInfo map;

  if (self->opus_input) {
    int samples;

    if (!gst_buffer_map (buf, &map, GST_MAP_READ))
      return GST_FLOW_ERROR;
    samples = opus_packet_get_nb_samples (map.data, map.size, SESSION_RATE);
    if (samples > 0 && (guint) samples != self->frame_samples) {
      /* receivers learn the frame size when they subscribe: take the encoder's */
      g_mutex_lock (&self->lock);
      self->frame_samples = samples;
      g_mutex_unlock (&self->lock);
    }
    if (samples > 0)
      publish_packet (self, map.data, map.size, samples, capture);
    else
      GST_WARNING_OBJECT (self, "not an Opus packet: %s", opus_strerror (samples));
    gst_buffer_unmap (buf, &map);
    return GST_FLOW_OK;
  }

  if (!g_atomic_int_get (&self->idle_encode)) {
    guint receivers;

    g_mutex_lock (&self->lock);
    receivers = g_hash_table_size (self->subscribers);
    g_mutex_unlock (&self->lock);
    if (receivers == 0) {
      /* nobody listens: drop the input unencoded (the encoder is most of the relay's
       * CPU); a receiver that subscribes hears audio captured from then on */
      if (!self->idling)
        GST_DEBUG_OBJECT (self, "no receivers: not encoding");
      self->idling = TRUE;
      self->acc_len = 0;
      return GST_FLOW_OK;
    }
    if (self->idling) {
      GST_DEBUG_OBJECT (self, "a receiver subscribed: encoding again");
      opus_encoder_ctl (self->encoder, OPUS_RESET_STATE);
      self->idling = FALSE;
      self->discont = TRUE;
    }
  }

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  {
    gsize in_frames = map.size / GST_AUDIO_INFO_BPF (&self->in_info);
    gsize out_frames = gst_audio_converter_get_out_frames (self->converter, in_frames);
    guint ch = self->channels;
    gpointer in[1] = { map.data }, out[1];

    if (self->acc_len > 0) {
      guint64 expected = self->acc_capture + gst_util_uint64_scale (self->acc_len,
          GST_SECOND, SESSION_RATE);
      if (capture > expected + DISCONT_THRESHOLD_NS ||
          capture + DISCONT_THRESHOLD_NS < expected ||
          GST_BUFFER_IS_DISCONT (buf)) {
        /* finish the partial frame with silence; the next starts a new stretch */
        guint pad = self->frame_samples - self->acc_len % self->frame_samples;
        memset (self->acc + self->acc_len * ch, 0, pad * ch * sizeof (gfloat));
        self->acc_len += pad;
        encode_frames (self);
        self->discont = TRUE;
      }
    }
    if (self->acc_len == 0)
      self->acc_capture = capture;
    self->acc = g_renew (gfloat, self->acc, (self->acc_len + out_frames +
            self->frame_samples) * ch);
    out[0] = self->acc + self->acc_len * ch;
    if (!gst_audio_converter_samples (self->converter, 0, in, in_frames, out,
            out_frames)) {
      gst_buffer_unmap (buf, &map);
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL), ("audio conversion failed"));
      return GST_FLOW_ERROR;
    }
    self->acc_len += out_frames;
  }
  gst_buffer_unmap (buf, &map);
  encode_frames (self);
  return GST_FLOW_OK;
}

static void
free_encoder (GstShareRelay * self)
{
  g_clear_pointer (&self->encoder, opus_encoder_destroy);
  g_clear_pointer (&self->converter, gst_audio_converter_free);
  g_clear_pointer (&self->acc, g_free);
  self->acc_len = 0;
}

static gboolean
gst_share_relay_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstShareRelay *self = GST_SHARE_RELAY (sink);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint channels = 0;
  guint frame_samples;
  int err;

  free_encoder (self);
  GST_OBJECT_LOCK (self);
  frame_samples = SESSION_RATE / (1000000 / self->frame_duration);
  channels = self->channels_prop;
  GST_OBJECT_UNLOCK (self);

  if (gst_structure_has_name (s, "audio/x-opus")) {
    gst_structure_get_int (s, "channels", &channels);
    self->opus_input = TRUE;
    self->lookahead = 0;
  } else {
    GstAudioInfo out_info;

    self->opus_input = FALSE;
    if (!gst_audio_info_from_caps (&self->in_info, caps))
      return FALSE;
    gst_audio_info_set_format (&out_info, GST_AUDIO_FORMAT_F32, SESSION_RATE, channels,
        NULL);
    self->converter = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE,
        &self->in_info, &out_info, NULL);
    if (!self->converter) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
          ("cannot convert %" GST_PTR_FORMAT " to the session format", caps));
      return FALSE;
    }
    self->encoder = opus_encoder_create (SESSION_RATE, channels,
        OPUS_APPLICATION_AUDIO, &err);
    if (!self->encoder) {
      GST_ELEMENT_ERROR (self, LIBRARY, INIT, (NULL), ("opus: %s", opus_strerror (err)));
      return FALSE;
    }
    GST_OBJECT_LOCK (self);
    opus_encoder_ctl (self->encoder, OPUS_SET_BITRATE (self->bitrate));
    opus_encoder_ctl (self->encoder, OPUS_SET_INBAND_FEC (self->fec ? 1 : 0));
    opus_encoder_ctl (self->encoder, OPUS_SET_PACKET_LOSS_PERC (self->packet_loss));
    GST_OBJECT_UNLOCK (self);
    {
      opus_int32 lookahead = 0;
      opus_encoder_ctl (self->encoder, OPUS_GET_LOOKAHEAD (&lookahead));
      self->lookahead = lookahead;
    }
  }
  if (self->channels != (guint) channels && self->stat_packets) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("the session's channel count cannot change while it runs"));
    return FALSE;
  }
  /* the network thread announces these to subscribers */
  g_mutex_lock (&self->lock);
  self->channels = channels;
  self->frame_samples = frame_samples;
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "session format: Opus %u ch, %u-sample frames, lookahead %u",
      self->channels, self->frame_samples, self->lookahead);
  return TRUE;
}

static gchar **
txt_records (GstShareRelay * self)
{
  GPtrArray *txt = g_ptr_array_new ();

  g_ptr_array_add (txt, g_strdup ("session"));
  g_ptr_array_add (txt, g_strdup (self->session));
  g_ptr_array_add (txt, g_strdup ("codec"));
  g_ptr_array_add (txt, g_strdup ("opus"));
  g_ptr_array_add (txt, g_strdup ("rate"));
  g_ptr_array_add (txt, g_strdup_printf ("%d", SESSION_RATE));
  g_ptr_array_add (txt, g_strdup ("channels"));
  g_ptr_array_add (txt, g_strdup_printf ("%u", self->channels_prop));
  g_ptr_array_add (txt, g_strdup ("latency"));
  g_ptr_array_add (txt, g_strdup_printf ("%" G_GUINT64_FORMAT, self->latency_ns));
  g_ptr_array_add (txt, g_strdup ("version"));
  g_ptr_array_add (txt, g_strdup_printf ("%d", ECHO_PROTO_VERSION));
  if (self->token_copy) {
    g_ptr_array_add (txt, g_strdup ("auth"));
    g_ptr_array_add (txt, g_strdup ("token"));
  }
  g_ptr_array_add (txt, NULL);
  return (gchar **) g_ptr_array_free (txt, FALSE);
}

static gboolean
gst_share_relay_start (GstBaseSink * sink)
{
  GstShareRelay *self = GST_SHARE_RELAY (sink);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *address = NULL;
  guint port, i;
  gboolean announce;
  int rcvbuf = RECEIVE_BUFFER_BYTES;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  port = self->port;
  announce = self->announce;
  self->session_id = echo_session_id (self->session);
  self->latency_ns = self->latency_ms * GST_MSECOND;
  self->token_copy = self->token && *self->token ? g_strdup (self->token) : NULL;
  self->ring_size = MAX (16, self->buffer_time_ms * 1000 / self->frame_duration);
  /* what SUBSCRIBED announces until the caps say otherwise (Opus input) */
  self->frame_samples = SESSION_RATE / (1000000 / self->frame_duration);
  self->channels = self->channels_prop;
  GST_OBJECT_UNLOCK (self);

  self->fd = echo_net_bind (address, port, &self->bound_port, &error);
  if (self->fd < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE, ("%s", error->message), (NULL));
    return FALSE;
  }
  if (setsockopt (self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf)) < 0)
    GST_DEBUG_OBJECT (self, "SO_RCVBUF: %s", g_strerror (errno));
  self->wake_fd = echo_net_wake_new ();
  for (i = 0; i < sizeof (self->secret); i += 4) {
    guint32 r = g_random_int ();
    memcpy (self->secret + i, &r, 4);
  }
  self->epoch = ((guint64) g_random_int () << 32) | g_random_int ();
  self->ring = g_new0 (RingSlot, self->ring_size);
  self->subscribers = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      g_free);
  self->next_seq = g_random_int ();
  self->next_index = 0;
  self->discont = TRUE;
  self->stat_packets = self->stat_sent = self->stat_repairs = self->stat_bytes = 0;
  self->stat_subscriptions = self->stat_refused = self->stat_dropped = 0;
  GST_INFO_OBJECT (self, "session '%s' on UDP port %u", self->session,
      self->bound_port);
  g_object_notify (G_OBJECT (self), "bound-port");

  if (announce) {
    g_auto (GStrv) txt = txt_records (self);
    g_autoptr (GError) mdns_error = NULL;

    self->publisher = echo_discovery_publish (self->session, self->bound_port,
        (const char *const *) txt, &mdns_error);
    if (!self->publisher)
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("Session '%s' is not announced by mDNS: %s", self->session,
              mdns_error->message),
          ("receivers can still use echo://HOST:%u/%s", self->bound_port,
              self->session));
  }

  g_atomic_int_set (&self->running, 1);
  self->thread = g_thread_new ("sharerelay-net", network_thread, self);
  return TRUE;
}

static void
send_bye_all (GstShareRelay * self)
{
  GHashTableIter iter;
  Subscriber *sub;
  guint8 out[ECHO_MAX_PACKET];

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->subscribers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & sub)) {
    EchoPacket bye = {.type = ECHO_PACKET_BYE,.session_id = self->session_id };
    bye.bye.subscription = sub->id;
    send_to (self, out, echo_packet_write (&bye, sub->keyed ? sub->key : NULL, out,
            sizeof (out)), &sub->addr, sub->addr_len);
  }
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_share_relay_stop (GstBaseSink * sink)
{
  GstShareRelay *self = GST_SHARE_RELAY (sink);

  if (self->thread) {
    g_atomic_int_set (&self->running, 0);
    echo_net_wake (self->wake_fd);
    g_thread_join (self->thread);
    self->thread = NULL;
  }
  g_clear_pointer (&self->publisher, echo_discovery_publisher_free);
  if (self->fd >= 0) {
    send_bye_all (self);
    close (self->fd);
    self->fd = -1;
  }
  if (self->wake_fd >= 0) {
    close (self->wake_fd);
    self->wake_fd = -1;
  }
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->subscribers, g_hash_table_unref);
  g_clear_pointer (&self->ring, g_free);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->token_copy, g_free);
  free_encoder (self);
  self->channels = 0;
  return TRUE;
}

static GstClock *
gst_share_relay_provide_clock (GstElement * element)
{
  return gst_object_ref (GST_SHARE_RELAY (element)->session_clock);
}

static void
gst_share_relay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstShareRelay *self = GST_SHARE_RELAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SESSION:
      g_free (self->session);
      self->session = g_value_dup_string (value);
      if (!self->session || !*self->session) {
        g_free (self->session);
        self->session = g_strdup (DEFAULT_SESSION);
      }
      break;
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    case PROP_BUFFER_TIME:
      self->buffer_time_ms = g_value_get_uint (value);
      break;
    case PROP_BITRATE:
      self->bitrate = g_value_get_int (value);
      if (self->encoder)
        opus_encoder_ctl (self->encoder, OPUS_SET_BITRATE (self->bitrate));
      break;
    case PROP_FRAME_DURATION:
      self->frame_duration = g_value_get_enum (value);
      break;
    case PROP_FEC:
      self->fec = g_value_get_boolean (value);
      if (self->encoder)
        opus_encoder_ctl (self->encoder, OPUS_SET_INBAND_FEC (self->fec ? 1 : 0));
      break;
    case PROP_PACKET_LOSS:
      self->packet_loss = g_value_get_uint (value);
      if (self->encoder)
        opus_encoder_ctl (self->encoder, OPUS_SET_PACKET_LOSS_PERC (self->packet_loss));
      break;
    case PROP_CHANNELS:
      self->channels_prop = g_value_get_uint (value);
      break;
    case PROP_TOKEN:
      g_free (self->token);
      self->token = g_value_dup_string (value);
      break;
    case PROP_ANNOUNCE:
      self->announce = g_value_get_boolean (value);
      break;
    case PROP_IDLE_ENCODE:
      g_atomic_int_set (&self->idle_encode, g_value_get_boolean (value));
      break;
    case PROP_MAX_RECEIVERS:
      self->max_receivers = g_value_get_uint (value);
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
gst_share_relay_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstShareRelay *self = GST_SHARE_RELAY (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, stats_structure (self, "echo-relay-stats"));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SESSION:
      g_value_set_string (value, self->session);
      break;
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_BOUND_PORT:
      g_value_set_uint (value, self->bound_port);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case PROP_BUFFER_TIME:
      g_value_set_uint (value, self->buffer_time_ms);
      break;
    case PROP_BITRATE:
      g_value_set_int (value, self->bitrate);
      break;
    case PROP_FRAME_DURATION:
      g_value_set_enum (value, self->frame_duration);
      break;
    case PROP_FEC:
      g_value_set_boolean (value, self->fec);
      break;
    case PROP_PACKET_LOSS:
      g_value_set_uint (value, self->packet_loss);
      break;
    case PROP_CHANNELS:
      g_value_set_uint (value, self->channels_prop);
      break;
    case PROP_TOKEN:
      g_value_set_string (value, self->token);
      break;
    case PROP_ANNOUNCE:
      g_value_set_boolean (value, self->announce);
      break;
    case PROP_IDLE_ENCODE:
      g_value_set_boolean (value, g_atomic_int_get (&self->idle_encode));
      break;
    case PROP_MAX_RECEIVERS:
      g_value_set_uint (value, self->max_receivers);
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
gst_share_relay_finalize (GObject * object)
{
  GstShareRelay *self = GST_SHARE_RELAY (object);

  g_free (self->session);
  g_free (self->address);
  g_free (self->token);
  gst_object_unref (self->session_clock);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_share_relay_class_init (GstShareRelayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_share_relay_set_property;
  gobject_class->get_property = gst_share_relay_get_property;
  gobject_class->finalize = gst_share_relay_finalize;

  g_object_class_install_property (gobject_class, PROP_SESSION,
      g_param_spec_string ("session", "Session",
          "Session name: receivers find it by this name (mDNS) or in echo://HOST:PORT/NAME",
          DEFAULT_SESSION, rw));
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "Local address to listen on for receivers (0.0.0.0: all IPv4, :: all)",
          DEFAULT_ADDRESS, rw));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_uint ("port", "Port",
          "UDP port receivers subscribe to (0: any free port, see bound-port)",
          0, 65535, DEFAULT_PORT, rw));
  g_object_class_install_property (gobject_class, PROP_BOUND_PORT,
      g_param_spec_uint ("bound-port", "Bound port",
          "The UDP port actually in use (after READY -> PAUSED)", 0, 65535, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency (ms)",
          "The session's render latency: every receiver plays sample k at its capture "
          "time plus this. It must cover network delay, repairs and the receivers' "
          "device buffers", 20, 5000, DEFAULT_LATENCY_MS, rw));
  g_object_class_install_property (gobject_class, PROP_BUFFER_TIME,
      g_param_spec_uint ("buffer-time", "Buffer time (ms)",
          "How much recent audio the relay keeps for loss repair and late joiners",
          100, 60000, DEFAULT_BUFFER_TIME_MS, rw));
  g_object_class_install_property (gobject_class, PROP_BITRATE,
      g_param_spec_int ("bitrate", "Bitrate",
          "Opus bitrate in bit/s (raw input only)", 6000, 510000, DEFAULT_BITRATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FRAME_DURATION,
      g_param_spec_enum ("frame-duration", "Frame duration",
          "Opus frame duration (raw input only): shorter frames lower the minimum "
          "latency and cost more packets", ECHO_TYPE_FRAME_DURATION,
          DEFAULT_FRAME_DURATION, rw));
  g_object_class_install_property (gobject_class, PROP_FEC,
      g_param_spec_boolean ("fec", "FEC",
          "Opus in-band forward error correction, used by receivers when a packet is "
          "lost and its repair came too late", DEFAULT_FEC,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PACKET_LOSS,
      g_param_spec_uint ("packet-loss-percentage", "Expected packet loss",
          "Loss (%) the Opus encoder plans FEC for", 0, 100, DEFAULT_PACKET_LOSS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CHANNELS,
      g_param_spec_uint ("channels", "Channels",
          "Channels of the session (raw input is mixed to this)", 1, 2,
          DEFAULT_CHANNELS, rw));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "Shared secret: receivers must prove they know it (HMAC-SHA256) to subscribe, "
          "and every packet is then authenticated. Empty: open session", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_ANNOUNCE,
      g_param_spec_boolean ("announce", "Announce",
          "Announce the session by mDNS (Avahi; service type _echo-session._udp)",
          DEFAULT_ANNOUNCE, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_RECEIVERS,
      g_param_spec_uint ("max-receivers", "Max receivers",
          "Subscriptions beyond this are refused", 1, 100000, DEFAULT_MAX_RECEIVERS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_IDLE_ENCODE,
      g_param_spec_boolean ("idle-encode", "Idle encode",
          "Encode while no receiver is subscribed. FALSE saves the Opus encoder's CPU "
          "on a relay that is often unheard (a daemon hosting many sessions): its input "
          "is then dropped until a receiver subscribes, which hears audio captured from "
          "that moment on (after the latency, as always)", DEFAULT_IDLE_ENCODE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval (ms)",
          "Post an echo-relay-stats element message this often (0: never)", 0,
          G_MAXUINT, DEFAULT_STATS_INTERVAL_MS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "receivers, packets, packets-sent, repairs, bytes, subscriptions, refused, "
          "dropped (see the element documentation)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Echo session relay",
      "Sink/Network/Audio",
      "Encodes audio, stamps it on the session clock and sends it to subscribed "
      "echosyncsrc receivers, which all play it in sync",
      "Echo developers");
  gst_element_class_add_metadata (element_class, "doc-uri",
      ECHO_ELEMENT_DOCS_URI "/sharerelay.md");
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_share_relay_provide_clock);

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_share_relay_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_share_relay_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_share_relay_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_share_relay_render);

  GST_DEBUG_CATEGORY_INIT (share_relay_debug, "sharerelay", 0, "Echo session relay");
  gst_type_mark_as_plugin_api (ECHO_TYPE_FRAME_DURATION, 0);
}

static void
gst_share_relay_init (GstShareRelay * self)
{
  self->session = g_strdup (DEFAULT_SESSION);
  self->address = g_strdup (DEFAULT_ADDRESS);
  self->port = DEFAULT_PORT;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->buffer_time_ms = DEFAULT_BUFFER_TIME_MS;
  self->bitrate = DEFAULT_BITRATE;
  self->frame_duration = DEFAULT_FRAME_DURATION;
  self->fec = DEFAULT_FEC;
  self->packet_loss = DEFAULT_PACKET_LOSS;
  self->channels_prop = DEFAULT_CHANNELS;
  self->announce = DEFAULT_ANNOUNCE;
  self->max_receivers = DEFAULT_MAX_RECEIVERS;
  self->idle_encode = DEFAULT_IDLE_ENCODE;
  self->stats_interval_ms = DEFAULT_STATS_INTERVAL_MS;
  self->fd = -1;
  self->wake_fd = -1;
  g_mutex_init (&self->lock);
  self->session_clock = echo_session_clock_new ("sharerelay-session-clock");
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
  gst_base_sink_set_sync (GST_BASE_SINK (self), TRUE);
  /* encoding and sending take microseconds: send each frame as soon as it is due */
  gst_base_sink_set_processing_deadline (GST_BASE_SINK (self), 0);
}
