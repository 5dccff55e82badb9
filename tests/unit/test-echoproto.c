/* The Echo session protocol: every packet type round-trips, tags and proofs verify only
 * with the right key, no answer is larger than its question, and damaged datagrams are
 * refused with the right reason. */
#include "echoproto.h"

#include <string.h>

static const guint8 key[ECHO_KEY_SIZE] = { 42, 1, 2, 3 };

static gsize
write_ok (const EchoPacket * p, const guint8 * k, guint8 * out)
{
  gsize len = echo_packet_write (p, k, out, ECHO_MAX_PACKET);
  g_assert_cmpuint (len, >, 0);
  return len;
}

static void
test_audio_roundtrip (void)
{
  guint8 payload[300], out[ECHO_MAX_PACKET];
  EchoPacket p = { .type = ECHO_PACKET_AUDIO, .session_id = echo_session_id ("demo") }, q;
  gsize len;
  guint i;

  for (i = 0; i < sizeof (payload); i++)
    payload[i] = i * 7;
  p.audio.subscription = G_GUINT64_CONSTANT (0xfedcba9876543210);
  p.audio.seq = 0xffffffffu;
  p.audio.flags = ECHO_AUDIO_FLAG_REPAIR;
  p.audio.codec = ECHO_CODEC_OPUS;
  p.audio.samples = 480;
  p.audio.sample_index = G_GUINT64_CONSTANT (1) << 40;
  p.audio.capture_time = G_GUINT64_CONSTANT (123456789012345);
  p.audio.send_time = G_GUINT64_CONSTANT (123456789999999);
  p.audio.payload = payload;
  p.audio.payload_len = sizeof (payload);
  len = write_ok (&p, NULL, out);
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_OK);
  g_assert_cmpuint (q.type, ==, ECHO_PACKET_AUDIO);
  g_assert_cmpuint (q.session_id, ==, p.session_id);
  g_assert_cmpuint (q.audio.subscription, ==, p.audio.subscription);
  g_assert_cmpuint (q.audio.seq, ==, p.audio.seq);
  g_assert_cmpuint (q.audio.flags, ==, p.audio.flags);
  g_assert_cmpuint (q.audio.samples, ==, 480);
  g_assert_cmpuint (q.audio.sample_index, ==, p.audio.sample_index);
  g_assert_cmpuint (q.audio.capture_time, ==, p.audio.capture_time);
  g_assert_cmpuint (q.audio.send_time, ==, p.audio.send_time);
  g_assert_cmpmem (q.audio.payload, q.audio.payload_len, payload, sizeof (payload));
  g_assert_false (echo_packet_check_tag (out, len, key));

  /* every truncation is refused, never read past the end */
  for (i = 0; i < len; i++)
    g_assert_cmpint (echo_packet_parse (out, i, &q), !=, ECHO_PARSE_OK);
}

static void
test_tagged_packets (void)
{
  guint8 out[ECHO_MAX_PACKET], other[ECHO_KEY_SIZE] = { 43 };
  EchoPacket p = { .type = ECHO_PACKET_TIME_RESPONSE, .session_id = 5 }, q;
  gsize len;

  p.time_response.subscription = 9;
  p.time_response.request_id = 3;
  p.time_response.t1 = 10;
  p.time_response.t2 = 20;
  p.time_response.t3 = 30;
  len = write_ok (&p, key, out);
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_OK);
  g_assert_true (q.flags & ECHO_PACKET_FLAG_TAGGED);
  g_assert_cmpuint (q.time_response.t3, ==, 30);
  g_assert_true (echo_packet_check_tag (out, len, key));
  g_assert_false (echo_packet_check_tag (out, len, other));
  /* a forged field breaks the tag */
  out[len - ECHO_TAG_SIZE - 1] ^= 1;
  g_assert_false (echo_packet_check_tag (out, len, key));
}

/* A relay answers unverified addresses only with COOKIE or REFUSED, and every answer is
 * no larger than the request that caused it (no UDP amplification). */
static void
test_no_amplification (void)
{
  guint8 out[ECHO_MAX_PACKET];
  EchoPacket hello = { .type = ECHO_PACKET_HELLO }, cookie = { .type = ECHO_PACKET_COOKIE };
  EchoPacket sub = { .type = ECHO_PACKET_SUBSCRIBE }, subd = { .type = ECHO_PACKET_SUBSCRIBED };
  EchoPacket refused = { .type = ECHO_PACKET_REFUSED };
  EchoPacket treq = { .type = ECHO_PACKET_TIME_REQUEST };
  EchoPacket tresp = { .type = ECHO_PACKET_TIME_RESPONSE };
  gsize h = write_ok (&hello, NULL, out), s, t;

  g_assert_cmpuint (h, ==, ECHO_HELLO_SIZE);
  g_assert_cmpuint (write_ok (&cookie, NULL, out), <=, h);
  g_assert_cmpuint (write_ok (&refused, NULL, out), <=, h);
  s = write_ok (&sub, NULL, out);
  g_assert_cmpuint (s, ==, ECHO_SUBSCRIBE_SIZE);
  subd.subscribed.codec = ECHO_CODEC_OPUS;
  g_assert_cmpuint (write_ok (&subd, key, out), <=, s);
  t = write_ok (&treq, key, out);
  g_assert_cmpuint (t, ==, ECHO_TIME_REQUEST_SIZE);
  g_assert_cmpuint (write_ok (&tresp, key, out), <=, t);
  g_assert_cmpuint (write_ok (&treq, NULL, out), ==, ECHO_TIME_REQUEST_SIZE);
}

static void
test_refusals (void)
{
  guint8 out[ECHO_MAX_PACKET], big[ECHO_MAX_PACKET + 1];
  EchoPacket p = { .type = ECHO_PACKET_NACK }, q;
  gsize len;

  p.nack.count = 2;
  p.nack.seqs[0] = 1;
  p.nack.seqs[1] = 2;
  len = write_ok (&p, NULL, out);
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_OK);
  g_assert_cmpuint (q.nack.count, ==, 2);

  out[0] = 'X';
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_BAD_MAGIC);
  out[0] = 'E';
  out[2] = 2;
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_BAD_VERSION);
  out[2] = ECHO_PROTO_VERSION;
  out[3] = 99;
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_BAD_TYPE);
  out[3] = ECHO_PACKET_NACK;
  out[ECHO_HEADER_SIZE + 8] = 0xff;     /* count far beyond the datagram */
  g_assert_cmpint (echo_packet_parse (out, len, &q), ==, ECHO_PARSE_BAD_FIELD);
  memset (big, 0, sizeof (big));
  memcpy (big, out, ECHO_HEADER_SIZE);
  g_assert_cmpint (echo_packet_parse (big, sizeof (big), &q), ==, ECHO_PARSE_TOO_LONG);

  /* the writer refuses what the parser would */
  p.nack.count = ECHO_NACK_MAX + 1;
  g_assert_cmpuint (echo_packet_write (&p, NULL, out, sizeof (out)), ==, 0);
  p.nack.count = 1;
  g_assert_cmpuint (echo_packet_write (&p, NULL, out, 20), ==, 0);
}

static void
test_token_values (void)
{
  guint8 cookie[ECHO_COOKIE_SIZE] = { 1 }, a[ECHO_PROOF_SIZE], b[ECHO_PROOF_SIZE];
  guint8 k1[ECHO_KEY_SIZE], k2[ECHO_KEY_SIZE];

  echo_subscribe_proof ("secret", 1, 2, cookie, a);
  echo_subscribe_proof ("secret", 1, 2, cookie, b);
  g_assert_true (echo_memequal (a, b, sizeof (a)));
  echo_subscribe_proof ("Secret", 1, 2, cookie, b);
  g_assert_false (echo_memequal (a, b, sizeof (a)));
  echo_subscribe_proof ("secret", 1, 3, cookie, b);
  g_assert_false (echo_memequal (a, b, sizeof (a)));
  /* the proof a receiver sends does not reveal the key its packets are tagged with */
  echo_subscription_key ("secret", 1, 2, cookie, k1);
  g_assert_false (echo_memequal (a, k1, sizeof (k1)));
  echo_subscription_key ("secret", 1, 2, cookie, k2);
  g_assert_true (echo_memequal (k1, k2, sizeof (k1)));
  g_assert_cmpuint (echo_session_id ("demo"), !=, echo_session_id ("demo2"));
  g_assert_cmpuint (echo_session_id ("demo"), ==, echo_session_id ("demo"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echoproto/audio-roundtrip", test_audio_roundtrip);
  g_test_add_func ("/echoproto/tagged-packets", test_tagged_packets);
  g_test_add_func ("/echoproto/no-amplification", test_no_amplification);
  g_test_add_func ("/echoproto/refusals", test_refusals);
  g_test_add_func ("/echoproto/token-values", test_token_values);
  return g_test_run ();
}
