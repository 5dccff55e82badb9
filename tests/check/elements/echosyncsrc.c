/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echosyncsrc element tests: the URI handler, and a receiver pipeline against a real
 * sharerelay pipeline in the same process, on a loopback port: what leaves the source
 * (format, sample offsets, timestamps), its clock, its statistics, and what it does when
 * the session is wrong, the token is wrong, or the relay goes away and comes back.
 *
 * Wall-clock behaviour is checked with generous bounds only (shared, noisy machines).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "elementcheck.h"
#include <gst/audio/audio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echoproto.h"

#define SESSION "receiver-test"
#define TOKEN "secret"
#define FRAME_SAMPLES 240       /* frame-duration=5 at 48 kHz */
#define FRAME_NS (5 * GST_MSECOND)

/* ---- the relay ---- */

typedef struct
{
  GstElement *pipe;
  GstElement *relay;
  GstBus *bus;
  guint port;
} Relay;

/* "audiotestsrc is-live=true wave=sine ! sharerelay" on @port (0: a free one). */
static void
relay_start (Relay * r, guint port, const gchar * props)
{
  GError *error = NULL;
  gchar *desc = g_strdup_printf ("audiotestsrc is-live=true wave=sine ! "
      "sharerelay name=relay port=%u address=127.0.0.1 announce=false "
      "session=" SESSION " frame-duration=5 %s", port, props ? props : "");

  memset (r, 0, sizeof (*r));
  r->pipe = gst_parse_launch (desc, &error);
  fail_unless (r->pipe != NULL, "cannot build '%s': %s", desc,
      error ? error->message : "");
  g_clear_error (&error);
  r->relay = gst_bin_get_by_name (GST_BIN (r->pipe), "relay");
  r->bus = gst_element_get_bus (r->pipe);
  fail_unless (gst_element_set_state (r->pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "the relay does not start");
  g_object_get (r->relay, "bound-port", &r->port, NULL);
  fail_unless (r->port != 0);
  fail_unless (port == 0 || r->port == port);
  g_free (desc);
}

static void
relay_stop (Relay * r)
{
  GstMessage *msg = gst_bus_pop_filtered (r->bus, GST_MESSAGE_ERROR);

  fail_if (msg != NULL, "the relay failed");
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
  guint u;

  g_object_get (r->relay, "stats", &s, NULL);
  if (gst_structure_get_uint (s, field, &u))
    v = u;
  else
    fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s", field);
  gst_structure_free (s);
  return v;
}

/* Waits until the relay has encoded a frame, so that receivers join a running session
 * (joining before is sharerelay.c's test_subscribe_before_first_buffer). */
static void
relay_wait_ready (Relay * r)
{
  gint64 deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;

  while (relay_stat (r, "packets") == 0) {
    fail_unless (g_get_monotonic_time () < deadline, "the relay encodes nothing");
    g_usleep (5 * 1000);
  }
}

/* ---- the receiver ---- */

typedef struct
{
  GstClockTime pts, duration;
  guint64 offset, offset_end;
  GstBufferFlags flags;
  gsize size;
  gboolean audible;             /* some sample is not zero */
} BufferInfo;

typedef struct
{
  GstElement *pipe;
  GstElement *src;
  GstBus *bus;
  GMutex lock;
  GArray *buffers;              /* BufferInfo */
  GstCaps *caps;
} Receiver;

static GstPadProbeReturn
record_output (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Receiver *rx = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    BufferInfo bi = { 0 };
    GstMapInfo map;
    gsize i;

    bi.pts = GST_BUFFER_PTS (buf);
    bi.duration = GST_BUFFER_DURATION (buf);
    bi.offset = GST_BUFFER_OFFSET (buf);
    bi.offset_end = GST_BUFFER_OFFSET_END (buf);
    bi.flags = GST_BUFFER_FLAGS (buf);
    bi.size = gst_buffer_get_size (buf);
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    for (i = 0; i + sizeof (gfloat) <= map.size && !bi.audible; i += sizeof (gfloat))
      bi.audible = *(const gfloat *) (map.data + i) != 0.0f;
    gst_buffer_unmap (buf, &map);
    g_mutex_lock (&rx->lock);
    g_array_append_val (rx->buffers, bi);
    g_mutex_unlock (&rx->lock);
  } else {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      g_mutex_lock (&rx->lock);
      gst_caps_replace (&rx->caps, caps);
      g_mutex_unlock (&rx->lock);
    }
  }
  return GST_PAD_PROBE_OK;
}

/* "echosyncsrc uri=@uri @props ! fakesink sync=true", playing. */
static void
receiver_start (Receiver * rx, const gchar * uri, const gchar * props)
{
  GError *error = NULL;
  gchar *desc = g_strdup_printf ("echosyncsrc name=src uri=\"%s\" %s ! "
      "fakesink name=sink sync=true", uri, props ? props : "");
  GstElement *sink;
  GstPad *pad;

  memset (rx, 0, sizeof (*rx));
  g_mutex_init (&rx->lock);
  rx->buffers = g_array_new (FALSE, FALSE, sizeof (BufferInfo));
  rx->pipe = gst_parse_launch (desc, &error);
  fail_unless (rx->pipe != NULL, "cannot build '%s': %s", desc,
      error ? error->message : "");
  g_clear_error (&error);
  rx->src = gst_bin_get_by_name (GST_BIN (rx->pipe), "src");
  rx->bus = gst_element_get_bus (rx->pipe);
  sink = gst_bin_get_by_name (GST_BIN (rx->pipe), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, record_output, rx, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  fail_unless (gst_element_set_state (rx->pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "the receiver does not start");
  g_free (desc);
}

static gchar *
relay_uri (Relay * r, const gchar * session, const gchar * query)
{
  return g_strdup_printf ("echo://127.0.0.1:%u/%s%s%s", r->port, session,
      query ? "?" : "", query ? query : "");
}

static void
receiver_stop (Receiver * rx)
{
  fail_unless_equals_int (gst_element_set_state (rx->pipe, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (rx->bus);
  gst_object_unref (rx->src);
  gst_object_unref (rx->pipe);
  g_array_unref (rx->buffers);
  gst_caps_replace (&rx->caps, NULL);
  g_mutex_clear (&rx->lock);
}

static guint
receiver_count (Receiver * rx)
{
  guint n;

  g_mutex_lock (&rx->lock);
  n = rx->buffers->len;
  g_mutex_unlock (&rx->lock);
  return n;
}

static BufferInfo
receiver_buffer (Receiver * rx, guint i)
{
  BufferInfo bi;

  g_mutex_lock (&rx->lock);
  fail_unless (i < rx->buffers->len);
  bi = g_array_index (rx->buffers, BufferInfo, i);
  g_mutex_unlock (&rx->lock);
  return bi;
}

/* Fails with the message of an ERROR on the receiver's bus, if there is one. */
static void
receiver_assert_no_error (Receiver * rx)
{
  echo_check_bus_has_no_error (rx->bus);
}

/* Waits until @n buffers in all have left the source. */
static void
receiver_wait_buffers (Receiver * rx, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;

  while (receiver_count (rx) < n) {
    receiver_assert_no_error (rx);
    fail_unless (g_get_monotonic_time () < deadline, "%u buffers, waiting for %u",
        receiver_count (rx), n);
    g_usleep (10 * 1000);
  }
}

static GstStructure *
receiver_stats (Receiver * rx)
{
  GstStructure *s;

  g_object_get (rx->src, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

static guint64
receiver_stat (Receiver * rx, const gchar * field)
{
  GstStructure *s = receiver_stats (rx);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s", field);
  gst_structure_free (s);
  return v;
}

static gboolean
receiver_subscribed (Receiver * rx)
{
  GstStructure *s = receiver_stats (rx);
  gboolean subscribed = FALSE;

  fail_unless (gst_structure_get_boolean (s, "subscribed", &subscribed));
  gst_structure_free (s);
  return subscribed;
}

/* Waits for a message of @type whose text contains @text, skipping others. */
static GstMessage *
wait_message (GstBus * bus, GstMessageType type, const gchar * text)
{
  gint64 deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;
    GError *err = NULL;
    gchar *dbg = NULL;
    gboolean match;

    fail_unless (left > 0, "no message '%s'", text);
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND, type |
        GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no message '%s'", text);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &dbg);
    else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
      gst_message_parse_warning (msg, &err, &dbg);
    else
      gst_message_parse_info (msg, &err, &dbg);
    match = GST_MESSAGE_TYPE (msg) == type && strstr (err->message, text) != NULL;
    fail_unless (match || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ERROR,
        "unexpected error: %s (%s)", err->message, dbg);
    g_clear_error (&err);
    g_free (dbg);
    if (match)
      return msg;
    gst_message_unref (msg);
  }
}

/* ---- a relay played by the test, for what a real one never sends ---- */

typedef struct
{
  guint8 data[2048];
  gsize len;
  EchoPacket p;
} Datagram;

typedef struct
{
  int fd;
  guint port;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  guint64 session_id;
  guint64 nonce;
  guint64 subscription;
  guint8 cookie[ECHO_COOKIE_SIZE];
  gboolean keyed;
  guint8 key[ECHO_KEY_SIZE];
} FakeRelay;

static void
fake_relay_open (FakeRelay * f)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof (addr);
  guint i;

  memset (f, 0, sizeof (*f));
  f->session_id = echo_session_id (SESSION);
  f->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  fail_unless (f->fd >= 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (f->fd, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  fail_unless (getsockname (f->fd, (struct sockaddr *) &addr, &len) == 0);
  f->port = ntohs (addr.sin_port);
  for (i = 0; i < ECHO_COOKIE_SIZE; i++)
    f->cookie[i] = g_random_int ();
  f->subscription = ((guint64) g_random_int () << 32) | g_random_int () | 1;
}

static void
fake_relay_close (FakeRelay * f)
{
  close (f->fd);
}

/* Next datagram of @type from the receiver within @timeout_ms; others are skipped. */
static gboolean
fake_relay_recv (FakeRelay * f, EchoPacketType type, guint timeout_ms, Datagram * d)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  for (;;) {
    struct pollfd pfd = { f->fd, POLLIN, 0 };
    gint64 left = deadline - g_get_monotonic_time ();
    gssize n;

    if (left <= 0 || poll (&pfd, 1, (int) ((left + 999) / 1000)) <= 0)
      return FALSE;
    f->peer_len = sizeof (f->peer);
    n = recvfrom (f->fd, d->data, sizeof (d->data), MSG_DONTWAIT,
        (struct sockaddr *) &f->peer, &f->peer_len);
    if (n < 0)
      continue;
    d->len = n;
    fail_unless_equals_int (echo_packet_parse (d->data, d->len, &d->p), ECHO_PARSE_OK);
    fail_unless (d->p.session_id == f->session_id);
    if (d->p.type == type)
      return TRUE;
  }
}

static void
fake_relay_send_raw (FakeRelay * f, const guint8 * data, gsize len)
{
  fail_unless (sendto (f->fd, data, len, 0, (struct sockaddr *) &f->peer,
          f->peer_len) == (gssize) len);
}

static void
fake_relay_send (FakeRelay * f, EchoPacket * p, const guint8 * key)
{
  guint8 out[ECHO_MAX_PACKET];
  gsize len;

  if (!p->session_id)
    p->session_id = f->session_id;
  len = echo_packet_write (p, key, out, sizeof (out));
  fail_unless (len > 0);
  fake_relay_send_raw (f, out, len);
}

/* Answers the receiver's HELLO and SUBSCRIBE (checking its token proof, if any). */
static void
fake_relay_accept (FakeRelay * f, const gchar * token)
{
  EchoPacket cookie = {.type = ECHO_PACKET_COOKIE };
  EchoPacket subscribed = {.type = ECHO_PACKET_SUBSCRIBED };
  Datagram d;

  fail_unless (fake_relay_recv (f, ECHO_PACKET_HELLO, 10000, &d), "no HELLO");
  fail_unless_equals_int (d.len, ECHO_HELLO_SIZE);
  f->nonce = d.p.hello.nonce;
  cookie.cookie.nonce = f->nonce;
  memcpy (cookie.cookie.cookie, f->cookie, ECHO_COOKIE_SIZE);
  fake_relay_send (f, &cookie, NULL);

  fail_unless (fake_relay_recv (f, ECHO_PACKET_SUBSCRIBE, 5000, &d), "no SUBSCRIBE");
  fail_unless (d.p.subscribe.nonce == f->nonce);
  fail_unless (memcmp (d.p.subscribe.cookie, f->cookie, ECHO_COOKIE_SIZE) == 0);
  if (token) {
    guint8 proof[ECHO_PROOF_SIZE];

    echo_subscribe_proof (token, f->session_id, f->nonce, f->cookie, proof);
    fail_unless (memcmp (d.p.subscribe.proof, proof, ECHO_PROOF_SIZE) == 0,
        "the receiver's token proof is wrong");
    echo_subscription_key (token, f->session_id, f->nonce, f->cookie, f->key);
    f->keyed = TRUE;
  }
  subscribed.subscribed.nonce = f->nonce;
  subscribed.subscribed.subscription = f->subscription;
  subscribed.subscribed.epoch = 1;
  subscribed.subscribed.codec = ECHO_CODEC_OPUS;
  subscribed.subscribed.channels = 2;
  subscribed.subscribed.frame_samples = FRAME_SAMPLES;
  subscribed.subscribed.rate = 48000;
  subscribed.subscribed.latency = 100 * GST_MSECOND;
  subscribed.subscribed.lease_ms = 5000;
  subscribed.subscribed.next_seq = 100;
  subscribed.subscribed.oldest_seq = 100;
  fake_relay_send (f, &subscribed, f->keyed ? f->key : NULL);
}

/* An AUDIO packet of @subscription, tagged with @key if given. */
static void
fake_relay_send_audio (FakeRelay * f, guint64 subscription, const guint8 * key)
{
  EchoPacket p = {.type = ECHO_PACKET_AUDIO };
  static const guint8 payload[3] = { 0xfc, 0xff, 0xfe };

  p.audio.subscription = subscription;
  p.audio.seq = 100;
  p.audio.codec = ECHO_CODEC_OPUS;
  p.audio.samples = FRAME_SAMPLES;
  p.audio.capture_time = g_get_monotonic_time () * 1000;
  p.audio.send_time = p.audio.capture_time;
  p.audio.payload = payload;
  p.audio.payload_len = sizeof (payload);
  fake_relay_send (f, &p, key);
}

static void
receiver_wait_subscribed (Receiver * rx)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  while (!receiver_subscribed (rx)) {
    receiver_assert_no_error (rx);
    fail_unless (g_get_monotonic_time () < deadline, "not subscribed");
    g_usleep (5 * 1000);
  }
}

static void
receiver_wait_dropped (Receiver * rx, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  guint64 v;

  while ((v = receiver_stat (rx, "dropped")) != n) {
    fail_unless (v < n, "%" G_GUINT64_FORMAT " dropped, expected %" G_GUINT64_FORMAT,
        v, n);
    fail_unless (g_get_monotonic_time () < deadline, "%" G_GUINT64_FORMAT
        " dropped, expected %" G_GUINT64_FORMAT, v, n);
    g_usleep (5 * 1000);
  }
}

/* ---- the element ---- */

GST_START_TEST (test_loaded_from_build_tree)
{
  echo_check_element_from_build_tree ("echosyncsrc", "Source/Network/Audio", NULL);
}

GST_END_TEST;

/* ---- the URI handler ---- */

GST_START_TEST (test_uri_sets_host_port_session_token)
{
  GstElement *e = gst_element_factory_make ("echosyncsrc", NULL);
  GError *error = NULL;
  gchar *host, *session, *token, *uri;
  guint port;

  fail_unless (GST_IS_URI_HANDLER (e));
  fail_unless_equals_int (gst_uri_handler_get_uri_type (GST_URI_HANDLER (e)),
      GST_URI_SRC);
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (e),
          "echo://127.0.0.1:5999/name?token=x", &error));
  fail_unless (error == NULL);
  g_object_get (e, "host", &host, "port", &port, "session", &session, "token", &token,
      "uri", &uri, NULL);
  fail_unless_equals_string (host, "127.0.0.1");
  fail_unless_equals_int (port, 5999);
  fail_unless_equals_string (session, "name");
  fail_unless_equals_string (token, "x");
  /* the token is a secret: not part of the URI read back */
  fail_unless_equals_string (uri, "echo://127.0.0.1:5999/name");
  g_free (host);
  g_free (session);
  g_free (token);
  g_free (uri);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (e));
  fail_unless_equals_string (uri, "echo://127.0.0.1:5999/name");
  g_free (uri);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_uri_without_host_sets_session_only)
{
  GstElement *e = gst_element_factory_make ("echosyncsrc", NULL);
  gchar *host, *session, *uri;

  /* a host given before is forgotten: the session is then found by mDNS */
  g_object_set (e, "uri", "echo://relay.example:6000/old", NULL);
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (e), "echo:///name", NULL));
  g_object_get (e, "host", &host, "session", &session, "uri", &uri, NULL);
  fail_unless (host == NULL || *host == '\0', "host '%s' kept", host);
  fail_unless_equals_string (session, "name");
  fail_unless_equals_string (uri, "echo:///name");
  g_free (host);
  g_free (session);
  g_free (uri);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_bad_uris_refused)
{
  static const gchar *const bad[] = {
    "http://127.0.0.1:5999/name",
    "echo://127.0.0.1:5999/",
    "echo://127.0.0.1:5999",
    "echo:///",
    "echo://127.0.0.1:5999/a/b",
    "echo:///a/b",
    NULL
  };
  GstElement *e = gst_element_factory_make ("echosyncsrc", NULL);
  guint i;

  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (e),
          "echo://127.0.0.1:5999/good", NULL));
  for (i = 0; bad[i]; i++) {
    GError *error = NULL;
    gchar *uri;

    fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (e), bad[i], &error),
        "%s accepted", bad[i]);
    fail_unless (error != NULL, "%s refused without an error", bad[i]);
    fail_unless (error->domain == GST_URI_ERROR, "%s: %s", bad[i], error->message);
    g_error_free (error);
    /* nothing changed */
    g_object_get (e, "uri", &uri, NULL);
    fail_unless_equals_string (uri, "echo://127.0.0.1:5999/good");
    g_free (uri);
  }
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_made_from_uri)
{
  GError *error = NULL;
  GstElement *e = gst_element_make_from_uri (GST_URI_SRC,
      "echo://127.0.0.1:5999/name", NULL, &error);
  GstElementFactory *factory;

  fail_unless (e != NULL, "no element for echo://: %s", error ? error->message : "");
  factory = gst_element_get_factory (e);
  fail_unless_equals_string (GST_OBJECT_NAME (factory), "echosyncsrc");
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_no_session_fails_to_start)
{
  GstElement *pipe = gst_parse_launch ("echosyncsrc ! fakesink", NULL);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* ---- against a relay ---- */

GST_START_TEST (test_receives_session_audio)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  GstClock *pipeline_clock, *src_clock;
  GstStructure *s;
  GstAudioInfo info;
  gboolean subscribed, audible = FALSE;
  guint64 dropped, received;
  guint i, n;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, NULL);
  receiver_start (&rx, uri, NULL);
  receiver_wait_buffers (&rx, 100);

  /* the session format */
  g_mutex_lock (&rx.lock);
  fail_unless (rx.caps != NULL);
  fail_unless (gst_audio_info_from_caps (&info, rx.caps));
  g_mutex_unlock (&rx.lock);
  fail_unless_equals_int (GST_AUDIO_INFO_FORMAT (&info), GST_AUDIO_FORMAT_F32);
  fail_unless_equals_int (GST_AUDIO_INFO_RATE (&info), 48000);
  fail_unless_equals_int (GST_AUDIO_INFO_CHANNELS (&info), 2);

  /* one frame per buffer; sample offsets and render times without a gap */
  n = receiver_count (&rx);
  for (i = 0; i < n; i++) {
    BufferInfo b = receiver_buffer (&rx, i);

    fail_unless_equals_int (b.size, FRAME_SAMPLES * 2 * sizeof (gfloat));
    fail_unless_equals_uint64 (b.offset_end, b.offset + FRAME_SAMPLES);
    fail_unless_equals_uint64 (b.duration, FRAME_NS);
    fail_unless (GST_CLOCK_TIME_IS_VALID (b.pts));
    audible |= b.audible;
    if (i > 0) {
      BufferInfo prev = receiver_buffer (&rx, i - 1);
      gint64 step = (gint64) b.pts - (gint64) prev.pts;

      fail_unless_equals_uint64 (b.offset, prev.offset + FRAME_SAMPLES);
      fail_unless (ABS (step - (gint64) FRAME_NS) <= (gint64) GST_MSECOND,
          "buffer %u: PTS advanced by %" G_GINT64_FORMAT " ns", i, step);
    }
  }
  fail_unless (audible, "only silence");

  /* the pipeline runs on the session clock */
  pipeline_clock = gst_pipeline_get_clock (GST_PIPELINE (rx.pipe));
  src_clock = gst_element_provide_clock (rx.src);
  fail_unless (pipeline_clock == src_clock);
  gst_object_unref (pipeline_clock);
  gst_object_unref (src_clock);

  s = receiver_stats (&rx);
  fail_unless (gst_structure_get_uint64 (s, "received", &received));
  fail_unless (received > 0);
  fail_unless (gst_structure_get_boolean (s, "subscribed", &subscribed));
  fail_unless (subscribed);
  fail_unless (gst_structure_get_uint64 (s, "dropped", &dropped));
  fail_unless_equals_uint64 (dropped, 0);
  gst_structure_free (s);
  fail_unless_equals_uint64 (relay_stat (&r, "receivers"), 1);
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_stats_fields)
{
  static const gchar *const u64_fields[] = { "received", "repairs", "duplicates",
    "late", "fec", "plc", "nacks", "dropped", "min-rtt", NULL
  };
  Relay r;
  Receiver rx;
  gchar *uri;
  GstStructure *s;
  guint i, resyncs;
  guint64 v;
  gint64 offset;
  gdouble ppm;
  gboolean subscribed;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, NULL);
  receiver_start (&rx, uri, NULL);
  receiver_wait_buffers (&rx, 20);
  s = receiver_stats (&rx);
  fail_unless (gst_structure_has_name (s, "echo-receiver-stats"));
  for (i = 0; u64_fields[i]; i++)
    fail_unless (gst_structure_get_uint64 (s, u64_fields[i], &v), "no %s",
        u64_fields[i]);
  fail_unless (gst_structure_get_int64 (s, "clock-offset", &offset));
  fail_unless (gst_structure_get_double (s, "clock-rate-ppm", &ppm));
  fail_unless (gst_structure_get_uint (s, "resyncs", &resyncs));
  fail_unless (gst_structure_get_boolean (s, "subscribed", &subscribed));
  fail_unless_equals_int (gst_structure_n_fields (s), 13);
  fail_unless_equals_int (resyncs, 0);
  /* one host, one clock: the relay's session clock is this host's monotonic clock */
  fail_unless (ABS (ppm) < 1000, "clock rate %+.1f ppm", ppm);
  fail_unless (ABS (offset) < GST_SECOND, "clock offset %" G_GINT64_FORMAT, offset);
  gst_structure_free (s);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_stats_message_posted)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  GstMessage *msg;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, NULL);
  receiver_start (&rx, uri, "stats-interval=100");
  for (;;) {
    msg = gst_bus_timed_pop_filtered (rx.bus, 10 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no echo-receiver-stats message");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    if (gst_structure_has_name (gst_message_get_structure (msg),
            "echo-receiver-stats"))
      break;
    gst_message_unref (msg);
  }
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (rx.src));
  gst_message_unref (msg);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_stopping_leaves_the_session)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  gint64 stopped;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, NULL);
  receiver_start (&rx, uri, NULL);
  receiver_wait_buffers (&rx, 10);
  fail_unless_equals_uint64 (relay_stat (&r, "receivers"), 1);
  receiver_stop (&rx);
  stopped = g_get_monotonic_time ();
  /* a BYE, not the end of the lease (5 s) */
  while (relay_stat (&r, "receivers") != 0) {
    fail_unless (g_get_monotonic_time () - stopped < 3 * G_TIME_SPAN_SECOND,
        "the relay still counts the receiver");
    g_usleep (10 * 1000);
  }
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_wrong_session_gets_nothing)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  gint64 deadline;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  uri = relay_uri (&r, "another-session", NULL);
  receiver_start (&rx, uri, NULL);
  /* the relay drops the receiver's HELLOs (it retries every 250 ms) */
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (relay_stat (&r, "dropped") < 4) {
    fail_unless (g_get_monotonic_time () < deadline, "the relay saw nothing");
    g_usleep (10 * 1000);
  }
  fail_unless_equals_int (receiver_count (&rx), 0);
  fail_unless_equals_uint64 (relay_stat (&r, "receivers"), 0);
  fail_unless_equals_uint64 (receiver_stat (&rx, "received"), 0);
  fail_if (receiver_subscribed (&rx));
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

static void
check_token_refused (const gchar * query)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  GstMessage *msg;

  relay_start (&r, 0, "token=" TOKEN);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, query);
  receiver_start (&rx, uri, NULL);
  msg = gst_bus_timed_pop_filtered (rx.bus, 15 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error");
  {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (rx.src));
    fail_unless (strstr (err->message, "token") != NULL, "error '%s'", err->message);
    g_error_free (err);
    g_free (dbg);
  }
  gst_message_unref (msg);
  fail_unless_equals_int (receiver_count (&rx), 0);
  fail_unless_equals_uint64 (relay_stat (&r, "receivers"), 0);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_START_TEST (test_wrong_token_is_an_error)
{
  check_token_refused ("token=wrong");
}

GST_END_TEST;

GST_START_TEST (test_missing_token_is_an_error)
{
  check_token_refused (NULL);
}

GST_END_TEST;

GST_START_TEST (test_right_token_gets_audio)
{
  Relay r;
  Receiver rx;
  gchar *uri;

  relay_start (&r, 0, "token=" TOKEN);
  relay_wait_ready (&r);
  uri = relay_uri (&r, SESSION, "token=" TOKEN);
  receiver_start (&rx, uri, NULL);
  receiver_wait_buffers (&rx, 50);
  fail_unless (receiver_stat (&rx, "received") > 0);
  fail_unless_equals_uint64 (receiver_stat (&rx, "dropped"), 0);
  fail_unless_equals_uint64 (relay_stat (&r, "receivers"), 1);
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

/* Index of the first buffer from @from on that is real audio: decoded, not concealed,
 * and not silent; or -1 if none yet. */
static gint
first_real_audio (Receiver * rx, guint from)
{
  guint i, n = receiver_count (rx);

  for (i = from; i < n; i++) {
    BufferInfo b = receiver_buffer (rx, i);

    if (b.audible && !(b.flags & GST_BUFFER_FLAG_RESYNC))
      return i;
  }
  return -1;
}

/* The relay stops (it says BYE) and later a new one starts on the same port. */
GST_START_TEST (test_relay_gone_and_back)
{
  Relay r;
  Receiver rx;
  gchar *uri;
  GstMessage *msg;
  guint port, gone_at, i, n;
  gint64 deadline;
  gint back_at;
  gboolean discont = FALSE;
  GstStructure *s;
  guint resyncs = 0;
  gboolean subscribed = FALSE;

  relay_start (&r, 0, NULL);
  relay_wait_ready (&r);
  port = r.port;
  uri = relay_uri (&r, SESSION, NULL);
  receiver_start (&rx, uri, NULL);
  receiver_wait_buffers (&rx, 20);

  /* the relay goes away: one warning, and the output goes on */
  relay_stop (&r);
  msg = wait_message (rx.bus, GST_MESSAGE_WARNING, "stopped sending");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (rx.src));
  gst_message_unref (msg);
  gone_at = receiver_count (&rx);
  /* what is buffered plays out (the latency, 100 ms), then concealment (at most 200 ms)
   * fades to silence */
  receiver_wait_buffers (&rx, gone_at + 120);
  fail_if (receiver_buffer (&rx, gone_at + 119).audible);
  fail_unless (receiver_buffer (&rx, gone_at + 119).flags & GST_BUFFER_FLAG_RESYNC);

  /* a new relay on the same port: the receiver follows its new timeline */
  relay_start (&r, port, NULL);
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  for (;;) {
    s = receiver_stats (&rx);
    gst_structure_get_uint (s, "resyncs", &resyncs);
    gst_structure_get_boolean (s, "subscribed", &subscribed);
    gst_structure_free (s);
    if (resyncs == 1 && subscribed)
      break;
    fail_unless (resyncs <= 1, "%u resyncs", resyncs);
    fail_unless (g_get_monotonic_time () < deadline, "no resubscription");
    receiver_assert_no_error (&rx);
    g_usleep (10 * 1000);
  }
  n = receiver_count (&rx);
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while ((back_at = first_real_audio (&rx, n)) < 0) {
    fail_unless (g_get_monotonic_time () < deadline,
        "no audio after the relay came back");
    receiver_assert_no_error (&rx);
    g_usleep (10 * 1000);
  }
  /* the new timeline starts with a discontinuity */
  for (i = n; i <= (guint) back_at; i++)
    discont |= (receiver_buffer (&rx, i).flags & GST_BUFFER_FLAG_DISCONT) != 0;
  fail_unless (discont, "no DISCONT buffer after the relay restarted");
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  relay_stop (&r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_invalid_datagrams_dropped_and_counted)
{
  FakeRelay f;
  Receiver rx;
  gchar *uri;
  guint8 garbage[100], big[1500];
  EchoPacket p = {.type = ECHO_PACKET_TIME_RESPONSE };
  guint i;

  fake_relay_open (&f);
  uri = g_strdup_printf ("echo://127.0.0.1:%u/" SESSION, f.port);
  receiver_start (&rx, uri, NULL);
  fake_relay_accept (&f, NULL);
  receiver_wait_subscribed (&rx);
  fail_unless_equals_uint64 (receiver_stat (&rx, "dropped"), 0);

  /* not Echo */
  for (i = 0; i < sizeof (garbage); i++)
    garbage[i] = g_random_int ();
  garbage[0] = 'X';
  fake_relay_send_raw (&f, garbage, sizeof (garbage));
  receiver_wait_dropped (&rx, 1);
  /* larger than any Echo datagram */
  memset (big, 0, sizeof (big));
  big[0] = 'E';
  big[1] = 'C';
  big[2] = ECHO_PROTO_VERSION;
  big[3] = ECHO_PACKET_AUDIO;
  fake_relay_send_raw (&f, big, sizeof (big));
  receiver_wait_dropped (&rx, 2);
  /* audio of another session */
  {
    EchoPacket a = {.type = ECHO_PACKET_AUDIO };
    guint8 out[ECHO_MAX_PACKET], payload[3] = { 1, 2, 3 };

    a.session_id = echo_session_id ("another-session");
    a.audio.subscription = f.subscription;
    a.audio.codec = ECHO_CODEC_OPUS;
    a.audio.samples = FRAME_SAMPLES;
    a.audio.payload = payload;
    a.audio.payload_len = sizeof (payload);
    fake_relay_send_raw (&f, out, echo_packet_write (&a, NULL, out, sizeof (out)));
  }
  receiver_wait_dropped (&rx, 3);
  /* audio of another subscription */
  fake_relay_send_audio (&f, f.subscription + 1, NULL);
  receiver_wait_dropped (&rx, 4);
  /* an answer to a time request never made (a replay) */
  p.time_response.subscription = f.subscription;
  p.time_response.request_id = G_GUINT64_CONSTANT (1) << 40;
  p.time_response.t1 = 1;
  p.time_response.t2 = p.time_response.t3 = 2;
  fake_relay_send (&f, &p, NULL);
  receiver_wait_dropped (&rx, 5);
  /* a BYE for someone else */
  {
    EchoPacket bye = {.type = ECHO_PACKET_BYE };

    bye.bye.subscription = f.subscription + 1;
    fake_relay_send (&f, &bye, NULL);
  }
  receiver_wait_dropped (&rx, 6);

  fail_unless_equals_uint64 (receiver_stat (&rx, "received"), 0);
  fail_unless (receiver_subscribed (&rx));
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  fake_relay_close (&f);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_forged_audio_dropped_with_token)
{
  FakeRelay f;
  Receiver rx;
  gchar *uri;
  guint8 wrong_key[ECHO_KEY_SIZE];

  fake_relay_open (&f);
  uri = g_strdup_printf ("echo://127.0.0.1:%u/" SESSION "?token=" TOKEN, f.port);
  receiver_start (&rx, uri, NULL);
  fake_relay_accept (&f, TOKEN);
  receiver_wait_subscribed (&rx);
  /* the right subscription, but not authenticated with its key */
  fake_relay_send_audio (&f, f.subscription, NULL);
  receiver_wait_dropped (&rx, 1);
  memset (wrong_key, 0x42, sizeof (wrong_key));
  fake_relay_send_audio (&f, f.subscription, wrong_key);
  receiver_wait_dropped (&rx, 2);
  /* the same, properly tagged, is accepted */
  fake_relay_send_audio (&f, f.subscription, f.key);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

    while (receiver_stat (&rx, "received") != 1) {
      fail_unless (g_get_monotonic_time () < deadline, "the genuine packet was lost");
      g_usleep (5 * 1000);
    }
  }
  fail_unless_equals_uint64 (receiver_stat (&rx, "dropped"), 2);
  receiver_assert_no_error (&rx);
  receiver_stop (&rx);
  fake_relay_close (&f);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_silent_relay_warns_and_reconnects)
{
  FakeRelay f;
  Receiver rx;
  gchar *uri;
  GstMessage *msg;
  Datagram d;

  fake_relay_open (&f);
  uri = g_strdup_printf ("echo://127.0.0.1:%u/" SESSION, f.port);
  receiver_start (&rx, uri, NULL);
  fake_relay_accept (&f, NULL);
  receiver_wait_subscribed (&rx);
  /* the relay answers nothing more */
  msg = wait_message (rx.bus, GST_MESSAGE_WARNING, "stopped sending");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (rx.src));
  gst_message_unref (msg);
  fail_if (receiver_subscribed (&rx));
  /* and the receiver starts over */
  fail_unless (fake_relay_recv (&f, ECHO_PACKET_HELLO, 5000, &d), "no new HELLO");
  receiver_stop (&rx);
  fake_relay_close (&f);
  g_free (uri);
}

GST_END_TEST;

static Suite *
echosyncsrc_suite (void)
{
  Suite *s = suite_create ("echosyncsrc");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loaded_from_build_tree);
  tcase_add_test (tc, test_uri_sets_host_port_session_token);
  tcase_add_test (tc, test_uri_without_host_sets_session_only);
  tcase_add_test (tc, test_bad_uris_refused);
  tcase_add_test (tc, test_made_from_uri);
  tcase_add_test (tc, test_no_session_fails_to_start);
  tcase_add_test (tc, test_receives_session_audio);
  tcase_add_test (tc, test_stats_fields);
  tcase_add_test (tc, test_stats_message_posted);
  tcase_add_test (tc, test_stopping_leaves_the_session);
  tcase_add_test (tc, test_wrong_session_gets_nothing);
  tcase_add_test (tc, test_wrong_token_is_an_error);
  tcase_add_test (tc, test_missing_token_is_an_error);
  tcase_add_test (tc, test_right_token_gets_audio);
  tcase_add_test (tc, test_relay_gone_and_back);
  tcase_add_test (tc, test_invalid_datagrams_dropped_and_counted);
  tcase_add_test (tc, test_forged_audio_dropped_with_token);
  tcase_add_test (tc, test_silent_relay_warns_and_reconnects);
  return s;
}

GST_CHECK_MAIN (echosyncsrc);
