/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * sharerelay element tests: a real relay pipeline on a loopback port, spoken to by a
 * plain UDP client that builds and parses the datagrams with echoproto.h. What is
 * checked is what goes over the wire: the handshake and its refusals, the audio packets
 * (sequence, sample index, capture time, decodable payload), repairs, the clock exchange,
 * leases, authentication, and what the relay drops and counts.
 *
 * Wall-clock behaviour is checked with generous bounds only (shared, noisy machines).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "elementcheck.h"
#include <gst/audio/audio.h>
#include <opus/opus.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echoproto.h"

#define SESSION "relay-test"
#define TOKEN "secret"
/* a live sine, 5 ms frames */
#define LIVE_SOURCE "audiotestsrc is-live=true wave=sine"
/* a non-live source in whole session frames: the relay's clock paces it */
#define FRAMED_SOURCE "audiotestsrc is-live=false wave=sine samplesperbuffer=240 ! " \
    "audio/x-raw,format=F32LE,rate=48000,channels=2"

/* ---- the relay under test ---- */

typedef struct
{
  GstElement *pipe;
  GstElement *relay;
  GstBus *bus;
  guint port;
} Relay;

static void
relay_assert_no_error (Relay * r)
{
  echo_check_bus_has_no_error (r->bus);
}

/* Starts "@source ! sharerelay @props" on a free loopback port and waits until it has
 * encoded a first frame (the session format is known from then on). */
static void
relay_start (Relay * r, const gchar * source, const gchar * props)
{
  GError *error = NULL;
  gchar *desc = g_strdup_printf ("%s ! sharerelay name=relay port=0 "
      "address=127.0.0.1 announce=false session=" SESSION " %s", source,
      props ? props : "");
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;

  memset (r, 0, sizeof (*r));
  r->pipe = gst_parse_launch (desc, &error);
  fail_unless (r->pipe != NULL, "cannot build '%s': %s", desc,
      error ? error->message : "");
  g_clear_error (&error);
  r->relay = gst_bin_get_by_name (GST_BIN (r->pipe), "relay");
  r->bus = gst_element_get_bus (r->pipe);
  fail_unless (gst_element_set_state (r->pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_object_get (r->relay, "bound-port", &r->port, NULL);
  fail_unless (r->port != 0, "no bound port");
  for (;;) {
    GstStructure *s;
    guint64 packets = 0;

    g_object_get (r->relay, "stats", &s, NULL);
    gst_structure_get_uint64 (s, "packets", &packets);
    gst_structure_free (s);
    if (packets > 0)
      break;
    fail_unless (g_get_monotonic_time () < deadline, "the relay encodes nothing");
    relay_assert_no_error (r);
    g_usleep (10 * 1000);
  }
  g_free (desc);
}

static void
relay_stop (Relay * r)
{
  relay_assert_no_error (r);
  fail_unless_equals_int (gst_element_set_state (r->pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (r->bus);
  gst_object_unref (r->relay);
  gst_object_unref (r->pipe);
}

static guint64
relay_stat (Relay * r, const gchar * field)
{
  GstStructure *s;
  guint64 v = 0;
  guint u = 0;

  g_object_get (r->relay, "stats", &s, NULL);
  fail_unless (s != NULL);
  if (g_str_equal (field, "receivers")) {
    fail_unless (gst_structure_get_uint (s, field, &u));
    v = u;
  } else {
    fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s", field);
  }
  gst_structure_free (s);
  return v;
}

/* Waits until the stats field @field is @value. */
static void
relay_wait_stat (Relay * r, const gchar * field, guint64 value)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  guint64 v;

  while ((v = relay_stat (r, field)) != value) {
    fail_unless (g_get_monotonic_time () < deadline,
        "%s is %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, field, v,
        value);
    g_usleep (10 * 1000);
  }
}

/* ---- a receiver speaking the protocol by hand ---- */

typedef struct
{
  guint8 data[2048];
  gsize len;
  EchoPacket p;                 /* AUDIO payload points into data */
} Datagram;

typedef struct
{
  int fd;
  guint64 session_id;
  guint64 nonce;
  guint8 cookie[ECHO_COOKIE_SIZE];
  const gchar *token;
  gboolean keyed;
  guint8 key[ECHO_KEY_SIZE];
  EchoSubscribed sub;
} Client;

static void
client_open (Client * c, guint port)
{
  struct sockaddr_in local = { 0 }, relay = { 0 };

  memset (c, 0, sizeof (*c));
  c->session_id = echo_session_id (SESSION);
  c->nonce = ((guint64) g_random_int () << 32) | g_random_int ();
  c->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  fail_unless (c->fd >= 0);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (c->fd, (struct sockaddr *) &local, sizeof (local)) == 0);
  relay.sin_family = AF_INET;
  relay.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  relay.sin_port = htons (port);
  fail_unless (connect (c->fd, (struct sockaddr *) &relay, sizeof (relay)) == 0);
}

static void
client_close (Client * c)
{
  close (c->fd);
  c->fd = -1;
}

static void
client_send_raw (Client * c, const guint8 * data, gsize len)
{
  fail_unless (send (c->fd, data, len, 0) == (gssize) len, "send: %s",
      g_strerror (errno));
}

/* Sends @p on this client's session; tagged once keyed (except the handshake). */
static gsize
client_send (Client * c, EchoPacket * p)
{
  guint8 out[ECHO_MAX_PACKET];
  gboolean tag = c->keyed && p->type != ECHO_PACKET_HELLO &&
      p->type != ECHO_PACKET_SUBSCRIBE;
  gsize len;

  if (!p->session_id)
    p->session_id = c->session_id;
  len = echo_packet_write (p, tag ? c->key : NULL, out, sizeof (out));
  fail_unless (len > 0);
  client_send_raw (c, out, len);
  return len;
}

/* Next datagram within @timeout_ms, parsed (and it must parse). */
static gboolean
client_recv_any (Client * c, guint timeout_ms, Datagram * d)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  for (;;) {
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    gint64 left = deadline - g_get_monotonic_time ();
    gssize n;
    EchoParseResult res;

    if (left <= 0 || poll (&pfd, 1, (int) ((left + 999) / 1000)) <= 0)
      return FALSE;
    n = recv (c->fd, d->data, sizeof (d->data), MSG_DONTWAIT);
    if (n < 0)
      continue;
    d->len = n;
    res = echo_packet_parse (d->data, d->len, &d->p);
    fail_unless (res == ECHO_PARSE_OK, "the relay sent a malformed %s: %s",
        d->len > 3 ? echo_packet_type_to_string (d->data[3]) : "datagram",
        echo_parse_result_to_string (res));
    fail_unless (d->p.session_id == c->session_id,
        "a datagram of another session");
    return TRUE;
  }
}

/* Next datagram of @type within @timeout_ms; others (audio while waiting for an answer)
 * are skipped. */
static gboolean
client_recv (Client * c, EchoPacketType type, guint timeout_ms, Datagram * d)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  for (;;) {
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

    if (left <= 0 || !client_recv_any (c, left, d))
      return FALSE;
    if (d->p.type == type)
      return TRUE;
  }
}

/* Next AUDIO packet that is not a repair. */
static void
client_recv_audio (Client * c, Datagram * d)
{
  do {
    fail_unless (client_recv (c, ECHO_PACKET_AUDIO, 5000, d), "no audio");
  } while (d->p.audio.flags & ECHO_AUDIO_FLAG_REPAIR);
  fail_unless (d->p.audio.subscription == c->sub.subscription);
}

/* HELLO -> COOKIE. */
static void
client_hello (Client * c)
{
  EchoPacket p = {.type = ECHO_PACKET_HELLO };
  Datagram d;

  p.hello.nonce = c->nonce;
  fail_unless_equals_int (client_send (c, &p), ECHO_HELLO_SIZE);
  fail_unless (client_recv (c, ECHO_PACKET_COOKIE, 5000, &d), "no cookie");
  fail_unless (d.p.cookie.nonce == c->nonce);
  memcpy (c->cookie, d.p.cookie.cookie, ECHO_COOKIE_SIZE);
}

/* SUBSCRIBE with the cookie (and a proof of @token, if any); the answer, SUBSCRIBED or
 * REFUSED, is in @d. */
static void
client_subscribe (Client * c, const gchar * token, Datagram * d)
{
  EchoPacket p = {.type = ECHO_PACKET_SUBSCRIBE };
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  p.subscribe.nonce = c->nonce;
  memcpy (p.subscribe.cookie, c->cookie, ECHO_COOKIE_SIZE);
  if (token) {
    echo_subscribe_proof (token, c->session_id, c->nonce, c->cookie,
        p.subscribe.proof);
    echo_subscription_key (token, c->session_id, c->nonce, c->cookie, c->key);
  }
  fail_unless_equals_int (client_send (c, &p), ECHO_SUBSCRIBE_SIZE);
  for (;;) {
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

    fail_unless (left > 0 && client_recv_any (c, left, d), "no answer to SUBSCRIBE");
    if (d->p.type == ECHO_PACKET_SUBSCRIBED || d->p.type == ECHO_PACKET_REFUSED)
      break;
  }
  if (d->p.type == ECHO_PACKET_SUBSCRIBED) {
    fail_unless (d->p.subscribed.nonce == c->nonce);
    c->sub = d->p.subscribed;
    c->keyed = token != NULL;
    c->token = token;
  } else {
    fail_unless (d->p.refused.nonce == c->nonce);
  }
}

/* The whole handshake; must succeed. */
static void
client_join (Client * c, guint port, const gchar * token)
{
  Datagram d;

  client_open (c, port);
  client_hello (c);
  client_subscribe (c, token, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
}

static void
client_bye (Client * c)
{
  EchoPacket p = {.type = ECHO_PACKET_BYE };

  p.bye.subscription = c->sub.subscription;
  client_send (c, &p);
}

/* Reads until nothing arrived for @quiet_ms. Returns when (g_get_monotonic_time ()) the
 * last datagram arrived, 0 if none did, or -1 if still not quiet after @max_ms. */
static gint64
client_wait_quiet (Client * c, guint quiet_ms, guint max_ms)
{
  gint64 start = g_get_monotonic_time (), last = 0;
  Datagram d;

  while (g_get_monotonic_time () - start < max_ms * G_TIME_SPAN_MILLISECOND) {
    if (!client_recv_any (c, quiet_ms, &d))
      return last;
    last = g_get_monotonic_time ();
  }
  return -1;
}

/* Decodes @payload; the number of samples per channel (or an Opus error code). */
static int
decode (OpusDecoder * dec, const guint8 * payload, gsize len, guint channels)
{
  float pcm[5760 * 2];

  fail_unless (channels >= 1 && channels <= 2);
  return opus_decode_float (dec, payload, len, pcm, 5760, 0);
}

static OpusDecoder *
decoder_new (guint channels)
{
  int err;
  OpusDecoder *dec = opus_decoder_create (48000, channels, &err);

  fail_unless (dec != NULL, "opus: %s", opus_strerror (err));
  return dec;
}

/* ---- the element ---- */

GST_START_TEST (test_loaded_from_build_tree)
{
  echo_check_element_from_build_tree ("sharerelay", "Sink/Network/Audio", "/sharerelay.md");
}

GST_END_TEST;

static GParamSpec *
find_property (GstElement * e, const gchar * name, GType type, GParamFlags flags)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), name);

  fail_unless (pspec != NULL, "no property %s", name);
  fail_unless (G_PARAM_SPEC_VALUE_TYPE (pspec) == type ||
      g_type_is_a (G_PARAM_SPEC_VALUE_TYPE (pspec), type), "%s has type %s", name,
      g_type_name (G_PARAM_SPEC_VALUE_TYPE (pspec)));
  fail_unless ((pspec->flags & flags) == flags, "%s flags %x", name, pspec->flags);
  fail_unless (g_param_spec_get_blurb (pspec) &&
      strlen (g_param_spec_get_blurb (pspec)) > 10, "%s has no description", name);
  return pspec;
}

static void
assert_uint_property (GstElement * e, const gchar * name, guint min, guint max,
    guint def)
{
  GParamSpecUInt *u = G_PARAM_SPEC_UINT (find_property (e, name, G_TYPE_UINT,
          G_PARAM_READWRITE));
  guint value;

  fail_unless_equals_int (u->minimum, min);
  fail_unless_equals_uint64 (u->maximum, max);
  fail_unless_equals_int (u->default_value, def);
  g_object_get (e, name, &value, NULL);
  fail_unless_equals_int (value, def);
}

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("sharerelay", NULL);
  GParamSpec *pspec;
  GParamSpecInt *bitrate;
  GParamSpecEnum *fd;
  gchar *str;
  gboolean b;
  gint i;

  fail_unless (GST_IS_BASE_SINK (e));
  pspec = find_property (e, "session", G_TYPE_STRING, G_PARAM_READWRITE);
  fail_unless_equals_string (G_PARAM_SPEC_STRING (pspec)->default_value, "echo");
  g_object_get (e, "session", &str, NULL);
  fail_unless_equals_string (str, "echo");
  g_free (str);
  pspec = find_property (e, "address", G_TYPE_STRING, G_PARAM_READWRITE);
  fail_unless_equals_string (G_PARAM_SPEC_STRING (pspec)->default_value, "0.0.0.0");
  assert_uint_property (e, "port", 0, 65535, 5004);
  pspec = find_property (e, "bound-port", G_TYPE_UINT, G_PARAM_READABLE);
  fail_if (pspec->flags & G_PARAM_WRITABLE);
  assert_uint_property (e, "latency", 20, 5000, 100);
  assert_uint_property (e, "buffer-time", 100, 60000, 5000);
  bitrate = G_PARAM_SPEC_INT (find_property (e, "bitrate", G_TYPE_INT,
          G_PARAM_READWRITE));
  fail_unless_equals_int (bitrate->minimum, 6000);
  fail_unless_equals_int (bitrate->maximum, 510000);
  fail_unless_equals_int (bitrate->default_value, 128000);
  g_object_get (e, "bitrate", &i, NULL);
  fail_unless_equals_int (i, 128000);
  fd = G_PARAM_SPEC_ENUM (find_property (e, "frame-duration", G_TYPE_ENUM,
          G_PARAM_READWRITE));
  fail_unless_equals_int (fd->default_value, 10000);
  fail_unless_equals_int (g_enum_get_value_by_nick (fd->enum_class, "2")->value, 2500);
  fail_unless_equals_int (g_enum_get_value_by_nick (fd->enum_class, "5")->value, 5000);
  fail_unless_equals_int (g_enum_get_value_by_nick (fd->enum_class, "10")->value,
      10000);
  fail_unless_equals_int (g_enum_get_value_by_nick (fd->enum_class, "20")->value,
      20000);
  pspec = find_property (e, "fec", G_TYPE_BOOLEAN, G_PARAM_READWRITE);
  fail_unless (G_PARAM_SPEC_BOOLEAN (pspec)->default_value);
  assert_uint_property (e, "packet-loss-percentage", 0, 100, 5);
  assert_uint_property (e, "channels", 1, 2, 2);
  pspec = find_property (e, "token", G_TYPE_STRING, G_PARAM_READWRITE);
  fail_unless (G_PARAM_SPEC_STRING (pspec)->default_value == NULL);
  pspec = find_property (e, "announce", G_TYPE_BOOLEAN, G_PARAM_READWRITE);
  fail_unless (G_PARAM_SPEC_BOOLEAN (pspec)->default_value);
  g_object_get (e, "announce", &b, NULL);
  fail_unless (b);
  assert_uint_property (e, "max-receivers", 1, 100000, 256);
  assert_uint_property (e, "stats-interval", 0, G_MAXUINT, 1000);
  pspec = find_property (e, "stats", GST_TYPE_STRUCTURE, G_PARAM_READABLE);
  fail_if (pspec->flags & G_PARAM_WRITABLE);

  /* an empty session name falls back to the default */
  g_object_set (e, "session", "", NULL);
  g_object_get (e, "session", &str, NULL);
  fail_unless_equals_string (str, "echo");
  g_free (str);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_provides_session_clock)
{
  GstElement *e = gst_element_factory_make ("sharerelay", NULL);
  GstClock *clock;

  fail_unless (GST_OBJECT_FLAG_IS_SET (e, GST_ELEMENT_FLAG_PROVIDE_CLOCK));
  clock = gst_element_provide_clock (e);
  fail_unless (GST_IS_CLOCK (clock));
  /* the same clock every time: receivers' timelines are on it */
  {
    GstClock *again = gst_element_provide_clock (e);

    fail_unless (again == clock);
    gst_object_unref (again);
  }
  gst_object_unref (clock);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_pipeline_runs_on_relay_clock)
{
  Relay r;
  GstClock *pipeline_clock, *relay_clock;

  relay_start (&r, FRAMED_SOURCE, NULL);
  pipeline_clock = gst_pipeline_get_clock (GST_PIPELINE (r.pipe));
  relay_clock = gst_element_provide_clock (r.relay);
  fail_unless (pipeline_clock == relay_clock);
  gst_object_unref (pipeline_clock);
  gst_object_unref (relay_clock);
  relay_stop (&r);
}

GST_END_TEST;

/* ---- the handshake ---- */

GST_START_TEST (test_hello_gets_cookie_no_larger)
{
  Relay r;
  Client c;
  EchoPacket p = {.type = ECHO_PACKET_HELLO };
  Datagram d;
  gsize sent;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_open (&c, r.port);
  p.hello.nonce = c.nonce;
  sent = client_send (&c, &p);
  fail_unless_equals_int (sent, ECHO_HELLO_SIZE);
  fail_unless (client_recv_any (&c, 5000, &d), "no answer to HELLO");
  fail_unless_equals_int (d.p.type, ECHO_PACKET_COOKIE);
  fail_unless (d.len <= sent, "a %" G_GSIZE_FORMAT "-byte answer to a %"
      G_GSIZE_FORMAT "-byte HELLO", d.len, sent);
  fail_unless (d.p.cookie.nonce == c.nonce);
  fail_if (d.p.flags & ECHO_PACKET_FLAG_TAGGED);
  /* the same address gets the same cookie */
  {
    guint8 cookie[ECHO_COOKIE_SIZE];

    memcpy (cookie, d.p.cookie.cookie, ECHO_COOKIE_SIZE);
    client_send (&c, &p);
    fail_unless (client_recv (&c, ECHO_PACKET_COOKIE, 5000, &d));
    fail_unless (memcmp (cookie, d.p.cookie.cookie, ECHO_COOKIE_SIZE) == 0);
  }
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_short_hello_gets_nothing)
{
  Relay r;
  Client c;
  EchoPacket p = {.type = ECHO_PACKET_HELLO };
  guint8 out[ECHO_MAX_PACKET];
  gsize len;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_open (&c, r.port);
  p.session_id = c.session_id;
  p.hello.nonce = c.nonce;
  len = echo_packet_write (&p, NULL, out, sizeof (out));
  fail_unless_equals_int (len, ECHO_HELLO_SIZE);
  /* header and nonce only: well-formed, but smaller than the answer would be */
  client_send_raw (&c, out, ECHO_HEADER_SIZE + 8);
  client_send_raw (&c, out, ECHO_HELLO_SIZE - 1);
  relay_wait_stat (&r, "dropped", 2);
  fail_if (client_recv_any (&c, 300, &d), "an answer to a short HELLO");
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_subscribe_with_wrong_cookie_refused)
{
  Relay r;
  Client c;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_open (&c, r.port);
  client_hello (&c);
  c.cookie[0] ^= 0x55;
  client_subscribe (&c, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_REFUSED);
  fail_unless_equals_int (d.p.refused.reason, ECHO_REFUSED_BAD_COOKIE);
  fail_unless_equals_uint64 (relay_stat (&r, "refused"), 1);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 0);
  /* and no audio for it */
  fail_if (client_recv (&c, ECHO_PACKET_AUDIO, 300, &d));
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_subscribe_gets_session_parameters)
{
  Relay r;
  Client c;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, "frame-duration=5 latency=250");
  client_open (&c, r.port);
  client_hello (&c);
  client_subscribe (&c, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
  fail_if (d.p.flags & ECHO_PACKET_FLAG_TAGGED);
  fail_unless (d.p.subscribed.subscription != 0);
  fail_unless_equals_int (d.p.subscribed.codec, ECHO_CODEC_OPUS);
  fail_unless_equals_int (d.p.subscribed.channels, 2);
  fail_unless_equals_int (d.p.subscribed.frame_samples, 240);
  fail_unless_equals_int (d.p.subscribed.rate, 48000);
  fail_unless_equals_uint64 (d.p.subscribed.latency, 250 * GST_MSECOND);
  fail_unless_equals_int (d.p.subscribed.lease_ms, 5000);
  /* what is buffered for repairs lies before what is sent next */
  fail_unless ((gint32) (d.p.subscribed.next_seq - d.p.subscribed.oldest_seq) >= 0);
  fail_unless_equals_uint64 (relay_stat (&r, "subscriptions"), 1);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 1);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_full_relay_refuses)
{
  Relay r;
  Client a, b;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, "max-receivers=1");
  client_join (&a, r.port, NULL);
  client_open (&b, r.port);
  client_hello (&b);
  client_subscribe (&b, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_REFUSED);
  fail_unless_equals_int (d.p.refused.reason, ECHO_REFUSED_FULL);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 1);
  /* once the first leaves there is room */
  client_bye (&a);
  relay_wait_stat (&r, "receivers", 0);
  client_subscribe (&b, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
  client_close (&a);
  client_close (&b);
  relay_stop (&r);
}

GST_END_TEST;

static void
push_frames (GstElement * appsrc, guint n, guint * pushed)
{
  guint i;

  for (i = 0; i < n; i++, (*pushed)++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 480 * 2 * sizeof (gfloat), NULL);
    GstFlowReturn ret;

    gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
    GST_BUFFER_PTS (buf) = *pushed * 10 * GST_MSECOND;
    GST_BUFFER_DURATION (buf) = 10 * GST_MSECOND;
    g_signal_emit_by_name (appsrc, "push-buffer", buf, &ret);
    gst_buffer_unref (buf);
    fail_unless_equals_int (ret, GST_FLOW_OK);
  }
}

/* A receiver may subscribe before the relay's first buffer (even before its caps): the
 * relay must not answer with a malformed SUBSCRIBED (channels or frame_samples 0, which
 * echo_packet_parse refuses) nor send audio, and the subscription works once it runs. */
GST_START_TEST (test_subscribe_before_first_buffer)
{
  GstElement *pipe, *appsrc, *relay;
  GstPad *src_pad;
  gulong block;
  Client c;
  Datagram d;
  EchoPacket p = {.type = ECHO_PACKET_SUBSCRIBE };
  guint port, pushed = 0;
  gint64 deadline;

  pipe = gst_parse_launch ("appsrc name=src is-live=true format=time "
      "caps=audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved ! "
      "sharerelay name=relay port=0 address=127.0.0.1 announce=false "
      "session=" SESSION " frame-duration=10", NULL);
  fail_unless (pipe != NULL);
  appsrc = gst_bin_get_by_name (GST_BIN (pipe), "src");
  relay = gst_bin_get_by_name (GST_BIN (pipe), "relay");
  /* not even the caps reach the relay until the probe goes */
  src_pad = gst_element_get_static_pad (appsrc, "src");
  block = gst_pad_add_probe (src_pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, NULL, NULL,
      NULL);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_object_get (relay, "bound-port", &port, NULL);
  fail_unless (port != 0);

  /* no buffer yet: a handshake, and whatever comes back must be well-formed */
  client_open (&c, port);
  client_hello (&c);
  p.subscribe.nonce = c.nonce;
  memcpy (p.subscribe.cookie, c.cookie, ECHO_COOKIE_SIZE);
  client_send (&c, &p);
  if (client_recv_any (&c, 500, &d))
    fail_if (d.p.type == ECHO_PACKET_AUDIO, "audio before the session has a format");

  /* the format is known once audio flows: then the subscription works */
  gst_pad_remove_probe (src_pad, block);
  gst_object_unref (src_pad);
  push_frames (appsrc, 5, &pushed);
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  for (;;) {
    GstStructure *s;
    guint64 packets = 0;

    g_object_get (relay, "stats", &s, NULL);
    gst_structure_get_uint64 (s, "packets", &packets);
    gst_structure_free (s);
    if (packets > 0)
      break;
    fail_unless (g_get_monotonic_time () < deadline, "nothing encoded");
    g_usleep (5 * 1000);
  }
  client_subscribe (&c, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
  fail_unless_equals_int (c.sub.channels, 2);
  fail_unless_equals_int (c.sub.frame_samples, 480);
  push_frames (appsrc, 5, &pushed);
  client_recv_audio (&c, &d);

  client_close (&c);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (relay);
  gst_object_unref (appsrc);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* ---- audio ---- */

/* Receives @n audio packets and checks they are one continuous stretch of the session:
 * consecutive sequence numbers, sample indexes and capture times, each payload one
 * decodable frame. @capture_slack: allowed capture-time deviation (ns). */
static void
assert_continuous_audio (Client * c, guint n, GstClockTime frame_ns,
    GstClockTime capture_slack)
{
  OpusDecoder *dec = decoder_new (c->sub.channels);
  Datagram d;
  guint32 seq = 0;
  guint64 index = 0, capture = 0;
  guint i;

  for (i = 0; i < n; i++) {
    const EchoAudio *a = &d.p.audio;

    client_recv_audio (c, &d);
    fail_unless_equals_int (a->codec, ECHO_CODEC_OPUS);
    fail_unless_equals_int (a->samples, c->sub.frame_samples);
    fail_unless (a->payload_len > 0);
    fail_unless_equals_int (decode (dec, a->payload, a->payload_len,
            c->sub.channels), c->sub.frame_samples);
    if (i > 0) {
      gint64 step = (gint64) (a->capture_time - capture);

      fail_unless_equals_int (a->seq, seq + 1);
      fail_unless_equals_uint64 (a->sample_index, index + c->sub.frame_samples);
      fail_unless (ABS (step - (gint64) frame_ns) <= (gint64) capture_slack,
          "packet %u: capture time advanced by %" G_GINT64_FORMAT " ns", i, step);
      fail_if (a->flags & ECHO_AUDIO_FLAG_DISCONT, "packet %u is discontinuous", i);
    }
    seq = a->seq;
    index = a->sample_index;
    capture = a->capture_time;
  }
  opus_decoder_destroy (dec);
}

GST_START_TEST (test_audio_packets_exact_timeline)
{
  Relay r;
  Client c;

  relay_start (&r, FRAMED_SOURCE, "frame-duration=5");
  client_join (&c, r.port, NULL);
  fail_unless_equals_int (c.sub.frame_samples, 240);
  /* a non-live source on the relay's own clock: capture times are exact */
  assert_continuous_audio (&c, 100, 5 * GST_MSECOND, 0);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_audio_packets_live_source)
{
  Relay r;
  Client c;

  relay_start (&r, LIVE_SOURCE, "frame-duration=5");
  client_join (&c, r.port, NULL);
  assert_continuous_audio (&c, 100, 5 * GST_MSECOND, GST_MSECOND);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_s16_mono_44100_input)
{
  Relay r;
  Client c;

  relay_start (&r, "audiotestsrc is-live=true wave=sine ! "
      "audio/x-raw,format=S16LE,rate=44100,channels=1", "frame-duration=10");
  client_join (&c, r.port, NULL);
  /* converted to the session format: 48 kHz, the channels property */
  fail_unless_equals_int (c.sub.rate, 48000);
  fail_unless_equals_int (c.sub.channels, 2);
  fail_unless_equals_int (c.sub.frame_samples, 480);
  assert_continuous_audio (&c, 50, 10 * GST_MSECOND, GST_MSECOND);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_f32_stereo_48000_input)
{
  Relay r;
  Client c;

  relay_start (&r, "audiotestsrc is-live=true wave=sine ! "
      "audio/x-raw,format=F32LE,rate=48000,channels=2", "frame-duration=20 channels=1");
  client_join (&c, r.port, NULL);
  fail_unless_equals_int (c.sub.channels, 1);
  fail_unless_equals_int (c.sub.frame_samples, 960);
  assert_continuous_audio (&c, 30, 20 * GST_MSECOND, GST_MSECOND);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

/* What entered the relay, for the Opus pass-through test. */
typedef struct
{
  GMutex lock;
  GPtrArray *packets;           /* GBytes */
} Recorded;

static GstPadProbeReturn
record_input (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Recorded *rec = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER))
    return GST_PAD_PROBE_OK;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_mutex_lock (&rec->lock);
  g_ptr_array_add (rec->packets, g_bytes_new (map.data, map.size));
  g_mutex_unlock (&rec->lock);
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

static gboolean
recorded_equals (Recorded * rec, guint i, const guint8 * data, gsize len)
{
  GBytes *b;
  gboolean equal;

  g_mutex_lock (&rec->lock);
  if (i >= rec->packets->len) {
    g_mutex_unlock (&rec->lock);
    return FALSE;
  }
  b = g_ptr_array_index (rec->packets, i);
  equal = g_bytes_get_size (b) == len && memcmp (g_bytes_get_data (b, NULL), data,
      len) == 0;
  g_mutex_unlock (&rec->lock);
  return equal;
}

GST_START_TEST (test_opus_input_passed_through)
{
  Relay r;
  Client c;
  Recorded rec;
  GstPad *pad;
  gulong probe;
  Datagram d[20];
  guint i, j, n_recorded;
  gboolean aligned = FALSE;

  g_mutex_init (&rec.lock);
  rec.packets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  relay_start (&r, "audiotestsrc is-live=true wave=sine ! "
      "audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=10", NULL);
  pad = gst_element_get_static_pad (r.relay, "sink");
  probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record_input, &rec,
      NULL);
  /* a buffer that passed the pad before the probe may still wait for its render time */
  for (;;) {
    g_mutex_lock (&rec.lock);
    n_recorded = rec.packets->len;
    g_mutex_unlock (&rec.lock);
    if (n_recorded >= 2)
      break;
    g_usleep (5 * 1000);
  }
  client_join (&c, r.port, NULL);
  fail_unless_equals_int (c.sub.channels, 2);
  for (i = 0; i < G_N_ELEMENTS (d); i++) {
    client_recv_audio (&c, &d[i]);
    fail_unless_equals_int (d[i].p.audio.samples, 480);
    if (i > 0)
      fail_unless_equals_int (d[i].p.audio.seq, d[i - 1].p.audio.seq + 1);
  }
  g_mutex_lock (&rec.lock);
  n_recorded = rec.packets->len;
  g_mutex_unlock (&rec.lock);
  /* the packets sent are the encoder's, byte for byte and in order */
  for (j = 0; j < n_recorded && !aligned; j++) {
    aligned = TRUE;
    for (i = 0; i < G_N_ELEMENTS (d) && aligned; i++)
      aligned = recorded_equals (&rec, j + i, d[i].p.audio.payload,
          d[i].p.audio.payload_len);
  }
  fail_unless (aligned, "the relay's payloads are not opusenc's packets");
  gst_pad_remove_probe (pad, probe);
  gst_object_unref (pad);
  client_close (&c);
  relay_stop (&r);
  g_ptr_array_unref (rec.packets);
  g_mutex_clear (&rec.lock);
}

GST_END_TEST;

/* ---- repairs and the clock exchange ---- */

GST_START_TEST (test_nack_gets_repair)
{
  Relay r;
  Client c;
  Datagram orig, d;
  EchoPacket nack = {.type = ECHO_PACKET_NACK };
  guint8 payload[ECHO_MAX_PAYLOAD];
  guint16 payload_len;
  guint i;

  relay_start (&r, LIVE_SOURCE, "frame-duration=5");
  client_join (&c, r.port, NULL);
  client_recv_audio (&c, &orig);
  memcpy (payload, orig.p.audio.payload, orig.p.audio.payload_len);
  payload_len = orig.p.audio.payload_len;
  for (i = 0; i < 5; i++)
    client_recv_audio (&c, &d);
  nack.nack.subscription = c.sub.subscription;
  nack.nack.count = 1;
  nack.nack.seqs[0] = orig.p.audio.seq;
  client_send (&c, &nack);
  for (;;) {
    fail_unless (client_recv (&c, ECHO_PACKET_AUDIO, 5000, &d), "no repair");
    if (d.p.audio.flags & ECHO_AUDIO_FLAG_REPAIR)
      break;
  }
  fail_unless_equals_int (d.p.audio.seq, orig.p.audio.seq);
  fail_unless_equals_uint64 (d.p.audio.sample_index, orig.p.audio.sample_index);
  fail_unless_equals_uint64 (d.p.audio.capture_time, orig.p.audio.capture_time);
  fail_unless_equals_int (d.p.audio.payload_len, payload_len);
  fail_unless (memcmp (d.p.audio.payload, payload, payload_len) == 0);
  relay_wait_stat (&r, "repairs", 1);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_nack_from_stranger_ignored)
{
  Relay r;
  Client c, stranger;
  Datagram d;
  EchoPacket nack = {.type = ECHO_PACKET_NACK };

  relay_start (&r, LIVE_SOURCE, "frame-duration=5");
  client_join (&c, r.port, NULL);
  client_recv_audio (&c, &d);
  /* someone else naming our subscription: not from its address */
  client_open (&stranger, r.port);
  nack.nack.subscription = c.sub.subscription;
  nack.nack.count = 1;
  nack.nack.seqs[0] = d.p.audio.seq;
  client_send (&stranger, &nack);
  relay_wait_stat (&r, "dropped", 1);
  fail_unless_equals_uint64 (relay_stat (&r, "repairs"), 0);
  fail_if (client_recv_any (&stranger, 300, &d));
  client_close (&stranger);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_time_request_answered)
{
  Relay r;
  Client c;
  Datagram d;
  EchoPacket req = {.type = ECHO_PACKET_TIME_REQUEST };
  gsize sent;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_join (&c, r.port, NULL);
  req.time_request.subscription = c.sub.subscription;
  req.time_request.request_id = 7;
  req.time_request.t1 = G_GUINT64_CONSTANT (123456789012345);
  sent = client_send (&c, &req);
  fail_unless_equals_int (sent, ECHO_TIME_REQUEST_SIZE);
  fail_unless (client_recv (&c, ECHO_PACKET_TIME_RESPONSE, 5000, &d),
      "no time response");
  fail_unless (d.len <= sent);
  fail_unless (d.p.time_response.subscription == c.sub.subscription);
  fail_unless_equals_uint64 (d.p.time_response.request_id, 7);
  fail_unless_equals_uint64 (d.p.time_response.t1, req.time_request.t1);
  fail_unless (d.p.time_response.t2 > 0);
  fail_unless (d.p.time_response.t2 <= d.p.time_response.t3,
      "received at %" G_GUINT64_FORMAT ", answered at %" G_GUINT64_FORMAT,
      d.p.time_response.t2, d.p.time_response.t3);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_time_request_without_subscription_refused)
{
  Relay r;
  Client c;
  Datagram d;
  EchoPacket req = {.type = ECHO_PACKET_TIME_REQUEST };
  gsize sent;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_open (&c, r.port);
  req.time_request.subscription = 42;
  req.time_request.request_id = 1;
  req.time_request.t1 = 1;
  sent = client_send (&c, &req);
  fail_unless (client_recv_any (&c, 5000, &d), "no answer");
  fail_unless_equals_int (d.p.type, ECHO_PACKET_REFUSED);
  fail_unless_equals_int (d.p.refused.reason, ECHO_REFUSED_UNKNOWN_SUBSCRIPTION);
  fail_unless (d.len <= sent);
  fail_unless_equals_uint64 (relay_stat (&r, "dropped"), 1);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

/* ---- leases ---- */

GST_START_TEST (test_lease_ends_without_renewal)
{
  Relay r;
  Client quiet, renewing;
  Datagram d;
  gint64 start, last;

  relay_start (&r, LIVE_SOURCE, "frame-duration=20");
  client_join (&quiet, r.port, NULL);
  start = g_get_monotonic_time ();
  client_join (&renewing, r.port, NULL);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 2);
  /* the renewing receiver renews every second; the other never does */
  last = start;
  for (;;) {
    guint64 before = renewing.sub.subscription;
    gint64 until = g_get_monotonic_time () + G_TIME_SPAN_SECOND, left;

    client_subscribe (&renewing, NULL, &d);
    fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
    fail_unless (renewing.sub.subscription == before, "a renewal is a new subscription");
    while ((left = until - g_get_monotonic_time ()) > 0)
      if (client_recv_any (&quiet, left / 1000 + 1, &d))
        last = g_get_monotonic_time ();
    if (g_get_monotonic_time () - last > G_TIME_SPAN_SECOND)
      break;                    /* a whole second without a packet */
    fail_unless (g_get_monotonic_time () - start < 15 * G_TIME_SPAN_SECOND,
        "the lease never ended");
  }
  /* not before the lease (5 s) ran out */
  fail_unless (last - start > 4 * G_TIME_SPAN_SECOND,
      "packets stopped %" G_GINT64_FORMAT " ms after subscribing", (last - start) / 1000);
  relay_wait_stat (&r, "receivers", 1);
  /* the renewing receiver still gets audio */
  client_recv_audio (&renewing, &d);
  fail_if (client_recv (&quiet, ECHO_PACKET_AUDIO, 300, &d));
  client_close (&quiet);
  client_close (&renewing);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_bye_stops_at_once)
{
  Relay r;
  Client c;
  Datagram d;
  gint64 bye, last;

  relay_start (&r, LIVE_SOURCE, "frame-duration=5");
  client_join (&c, r.port, NULL);
  client_recv_audio (&c, &d);
  bye = g_get_monotonic_time ();
  client_bye (&c);
  /* what was in flight may still arrive; then nothing, long before the lease ends */
  last = client_wait_quiet (&c, 1000, 2500);
  fail_unless (last >= 0, "packets went on after BYE");
  fail_unless (last == 0 || last - bye < G_TIME_SPAN_SECOND,
      "packets went on %" G_GINT64_FORMAT " ms after BYE", (last - bye) / 1000);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 0);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

/* ---- authentication ---- */

GST_START_TEST (test_token_zero_proof_refused)
{
  Relay r;
  Client c;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, "token=" TOKEN);
  client_open (&c, r.port);
  client_hello (&c);
  client_subscribe (&c, NULL, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_REFUSED);
  fail_unless_equals_int (d.p.refused.reason, ECHO_REFUSED_BAD_PROOF);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 0);
  fail_if (client_recv (&c, ECHO_PACKET_AUDIO, 300, &d));
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_token_wrong_proof_refused)
{
  Relay r;
  Client c;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, "token=" TOKEN);
  client_open (&c, r.port);
  client_hello (&c);
  client_subscribe (&c, "not-the-secret", &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_REFUSED);
  fail_unless_equals_int (d.p.refused.reason, ECHO_REFUSED_BAD_PROOF);
  fail_unless_equals_int (relay_stat (&r, "receivers"), 0);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_token_right_proof_every_packet_tagged)
{
  Relay r;
  Client c;
  Datagram d;
  guint8 expected_key[ECHO_KEY_SIZE];
  EchoPacket req = {.type = ECHO_PACKET_TIME_REQUEST };
  guint i;

  relay_start (&r, LIVE_SOURCE, "frame-duration=5 token=" TOKEN);
  client_open (&c, r.port);
  client_hello (&c);
  client_subscribe (&c, TOKEN, &d);
  fail_unless_equals_int (d.p.type, ECHO_PACKET_SUBSCRIBED);
  echo_subscription_key (TOKEN, c.session_id, c.nonce, c.cookie, expected_key);
  fail_unless (d.p.flags & ECHO_PACKET_FLAG_TAGGED);
  fail_unless (echo_packet_check_tag (d.data, d.len, expected_key));
  /* audio and answers to (tagged) requests: all tagged with the subscription key */
  req.time_request.subscription = c.sub.subscription;
  req.time_request.request_id = 1;
  req.time_request.t1 = 1;
  client_send (&c, &req);
  for (i = 0; i < 50; i++) {
    fail_unless (client_recv_any (&c, 5000, &d));
    fail_unless (d.p.flags & ECHO_PACKET_FLAG_TAGGED, "an untagged %s",
        echo_packet_type_to_string (d.p.type));
    fail_unless (echo_packet_check_tag (d.data, d.len, expected_key),
        "a %s that does not verify", echo_packet_type_to_string (d.p.type));
  }
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_token_untagged_request_ignored)
{
  Relay r;
  Client c;
  Datagram d;
  EchoPacket nack = {.type = ECHO_PACKET_NACK };

  relay_start (&r, LIVE_SOURCE, "frame-duration=5 token=" TOKEN);
  client_join (&c, r.port, TOKEN);
  client_recv_audio (&c, &d);
  /* a NACK without the tag: anyone could have sent it */
  c.keyed = FALSE;
  nack.nack.subscription = c.sub.subscription;
  nack.nack.count = 1;
  nack.nack.seqs[0] = d.p.audio.seq;
  client_send (&c, &nack);
  relay_wait_stat (&r, "dropped", 1);
  fail_unless_equals_uint64 (relay_stat (&r, "repairs"), 0);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

/* ---- what is dropped ---- */

GST_START_TEST (test_invalid_datagrams_dropped_and_counted)
{
  Relay r;
  Client c;
  Datagram d;
  EchoPacket hello = {.type = ECHO_PACKET_HELLO };
  guint8 garbage[200], big[1500], huge[3000];
  guint i;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_open (&c, r.port);
  /* a valid HELLO of another session */
  hello.session_id = echo_session_id ("another-session");
  hello.hello.nonce = c.nonce;
  client_send (&c, &hello);
  /* not Echo at all */
  for (i = 0; i < sizeof (garbage); i++)
    garbage[i] = g_random_int ();
  garbage[0] = 'X';
  client_send_raw (&c, garbage, sizeof (garbage));
  /* larger than any Echo datagram, with a valid start */
  memset (big, 0, sizeof (big));
  hello.session_id = c.session_id;
  fail_unless (echo_packet_write (&hello, NULL, big, sizeof (big)) > 0);
  memcpy (huge, big, sizeof (big));
  memset (huge + sizeof (big), 0, sizeof (huge) - sizeof (big));
  client_send_raw (&c, big, sizeof (big));
  client_send_raw (&c, huge, sizeof (huge));
  /* a packet only relays send */
  {
    EchoPacket audio = {.type = ECHO_PACKET_AUDIO };
    guint8 payload[10] = { 0 };

    audio.audio.subscription = 1;
    audio.audio.codec = ECHO_CODEC_OPUS;
    audio.audio.samples = 480;
    audio.audio.payload = payload;
    audio.audio.payload_len = sizeof (payload);
    client_send (&c, &audio);
  }
  relay_wait_stat (&r, "dropped", 5);
  fail_if (client_recv_any (&c, 300, &d), "an answer to an invalid datagram");
  fail_unless_equals_uint64 (relay_stat (&r, "refused"), 0);
  /* and the relay still serves */
  client_hello (&c);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

/* ---- statistics ---- */

/* idle-encode=false (here set while playing): nothing is encoded while nobody listens;
 * a receiver that subscribes gets a continuous stream from then on (its first packet
 * marked discontinuous), and encoding stops again when it leaves. */
static void
assert_not_encoding (Relay * r)
{
  guint64 before;

  g_usleep (100 * 1000);        /* a buffer already in render may still be encoded */
  before = relay_stat (r, "packets");
  g_usleep (300 * 1000);
  fail_unless_equals_uint64 (relay_stat (r, "packets"), before);
}

GST_START_TEST (test_idle_encode_off)
{
  Relay r;
  Client c;
  Datagram d;

  relay_start (&r, LIVE_SOURCE, "frame-duration=10");
  g_object_set (r.relay, "idle-encode", FALSE, NULL);
  assert_not_encoding (&r);

  client_join (&c, r.port, NULL);
  fail_unless_equals_int (c.sub.frame_samples, 480);
  client_recv_audio (&c, &d);
  fail_unless (d.p.audio.flags & ECHO_AUDIO_FLAG_DISCONT,
      "the first packet after idling is not marked discontinuous");
  assert_continuous_audio (&c, 20, 10 * GST_MSECOND, GST_MSECOND);

  client_bye (&c);
  relay_wait_stat (&r, "receivers", 0);
  assert_not_encoding (&r);
  client_close (&c);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_stats_fields)
{
  Relay r;
  Client a, b;
  GstStructure *s;
  static const gchar *const u64_fields[] = { "packets", "packets-sent", "repairs",
    "bytes", "subscriptions", "refused", "dropped", NULL
  };
  guint i, receivers;
  guint64 v;

  relay_start (&r, LIVE_SOURCE, NULL);
  client_join (&a, r.port, NULL);
  client_join (&b, r.port, NULL);
  g_object_get (r.relay, "stats", &s, NULL);
  fail_unless (gst_structure_has_name (s, "echo-relay-stats"));
  fail_unless_equals_string (gst_structure_get_string (s, "session"), SESSION);
  fail_unless (gst_structure_get_uint (s, "receivers", &receivers));
  fail_unless_equals_int (receivers, 2);
  for (i = 0; u64_fields[i]; i++)
    fail_unless (gst_structure_get_uint64 (s, u64_fields[i], &v), "no %s",
        u64_fields[i]);
  gst_structure_get_uint64 (s, "subscriptions", &v);
  fail_unless_equals_uint64 (v, 2);
  gst_structure_get_uint64 (s, "packets", &v);
  fail_unless (v > 0);
  fail_unless_equals_int (gst_structure_n_fields (s), 9);
  gst_structure_free (s);
  /* audio sent to both, counted */
  {
    Datagram d;

    client_recv_audio (&a, &d);
    client_recv_audio (&b, &d);
  }
  fail_unless (relay_stat (&r, "packets-sent") >= 2);
  fail_unless (relay_stat (&r, "bytes") > relay_stat (&r, "packets-sent"));
  client_bye (&a);
  relay_wait_stat (&r, "receivers", 1);
  client_close (&a);
  client_close (&b);
  relay_stop (&r);
}

GST_END_TEST;

GST_START_TEST (test_stats_message_posted)
{
  Relay r;
  GstMessage *msg;
  const GstStructure *s;

  relay_start (&r, LIVE_SOURCE, "stats-interval=100");
  for (;;) {
    msg = gst_bus_timed_pop_filtered (r.bus, 10 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no echo-relay-stats message");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "echo-relay-stats"))
      break;
    gst_message_unref (msg);
  }
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (r.relay));
  fail_unless_equals_string (gst_structure_get_string (s, "session"), SESSION);
  fail_unless (gst_structure_has_field_typed (s, "receivers", G_TYPE_UINT));
  fail_unless (gst_structure_has_field_typed (s, "dropped", G_TYPE_UINT64));
  gst_message_unref (msg);
  relay_stop (&r);
}

GST_END_TEST;

static Suite *
sharerelay_suite (void)
{
  Suite *s = suite_create ("sharerelay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loaded_from_build_tree);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_provides_session_clock);
  tcase_add_test (tc, test_pipeline_runs_on_relay_clock);
  tcase_add_test (tc, test_hello_gets_cookie_no_larger);
  tcase_add_test (tc, test_short_hello_gets_nothing);
  tcase_add_test (tc, test_subscribe_with_wrong_cookie_refused);
  tcase_add_test (tc, test_subscribe_gets_session_parameters);
  tcase_add_test (tc, test_full_relay_refuses);
  tcase_add_test (tc, test_subscribe_before_first_buffer);
  tcase_add_test (tc, test_audio_packets_exact_timeline);
  tcase_add_test (tc, test_audio_packets_live_source);
  tcase_add_test (tc, test_s16_mono_44100_input);
  tcase_add_test (tc, test_f32_stereo_48000_input);
  tcase_add_test (tc, test_opus_input_passed_through);
  tcase_add_test (tc, test_nack_gets_repair);
  tcase_add_test (tc, test_nack_from_stranger_ignored);
  tcase_add_test (tc, test_time_request_answered);
  tcase_add_test (tc, test_time_request_without_subscription_refused);
  tcase_add_test (tc, test_lease_ends_without_renewal);
  tcase_add_test (tc, test_bye_stops_at_once);
  tcase_add_test (tc, test_token_zero_proof_refused);
  tcase_add_test (tc, test_token_wrong_proof_refused);
  tcase_add_test (tc, test_token_right_proof_every_packet_tagged);
  tcase_add_test (tc, test_token_untagged_request_ignored);
  tcase_add_test (tc, test_invalid_datagrams_dropped_and_counted);
  tcase_add_test (tc, test_idle_encode_off);
  tcase_add_test (tc, test_stats_fields);
  tcase_add_test (tc, test_stats_message_posted);
  return s;
}

GST_CHECK_MAIN (sharerelay);
