/* Echo session protocol: datagram layout and checks (see echoproto.h). */
#include "echoproto.h"

#include <string.h>

guint64
echo_session_id (const char *session_name)
{
  g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof (digest);
  guint64 id = 0;
  int i;

  g_checksum_update (sha, (const guchar *) "echo-session:", 13);
  g_checksum_update (sha, (const guchar *) session_name, strlen (session_name));
  g_checksum_get_digest (sha, digest, &digest_len);
  for (i = 0; i < 8; i++)
    id = (id << 8) | digest[i];
  return id;
}

/* A cursor over a datagram: writes and reads in network byte order, never past the end. */
typedef struct {
  guint8 *out;
  const guint8 *in;
  gsize len;
  gsize pos;
  gboolean overflow;
} Cursor;

static void
put_bytes (Cursor * c, const void *src, gsize n)
{
  if (c->overflow || c->len - c->pos < n) {
    c->overflow = TRUE;
    return;
  }
  if (src)
    memcpy (c->out + c->pos, src, n);
  else
    memset (c->out + c->pos, 0, n);
  c->pos += n;
}

static void
put_u8 (Cursor * c, guint8 v)
{
  put_bytes (c, &v, 1);
}

static void
put_u16 (Cursor * c, guint16 v)
{
  guint8 b[2] = { v >> 8, v & 0xff };
  put_bytes (c, b, 2);
}

static void
put_u32 (Cursor * c, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  put_bytes (c, b, 4);
}

static void
put_u64 (Cursor * c, guint64 v)
{
  put_u32 (c, v >> 32);
  put_u32 (c, v & 0xffffffffu);
}

static void
pad_to (Cursor * c, gsize size)
{
  if (c->pos < size)
    put_bytes (c, NULL, size - c->pos);
}

static gboolean
get_bytes (Cursor * c, void *dst, gsize n)
{
  if (c->overflow || c->len - c->pos < n) {
    c->overflow = TRUE;
    if (dst)
      memset (dst, 0, n);
    return FALSE;
  }
  if (dst)
    memcpy (dst, c->in + c->pos, n);
  c->pos += n;
  return TRUE;
}

static guint8
get_u8 (Cursor * c)
{
  guint8 v = 0;
  get_bytes (c, &v, 1);
  return v;
}

static guint16
get_u16 (Cursor * c)
{
  guint8 b[2];
  if (!get_bytes (c, b, 2))
    return 0;
  return (guint16) ((b[0] << 8) | b[1]);
}

static guint32
get_u32 (Cursor * c)
{
  guint8 b[4];
  if (!get_bytes (c, b, 4))
    return 0;
  return ((guint32) b[0] << 24) | ((guint32) b[1] << 16) | ((guint32) b[2] << 8) | b[3];
}

static guint64
get_u64 (Cursor * c)
{
  guint64 hi = get_u32 (c);
  return (hi << 32) | get_u32 (c);
}

static void
compute_tag (const guint8 * data, gsize len, const guint8 * key,
    guint8 tag[ECHO_TAG_SIZE])
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, ECHO_KEY_SIZE);
  guint8 digest[32];
  gsize digest_len = sizeof (digest);

  g_hmac_update (hmac, data, len);
  g_hmac_get_digest (hmac, digest, &digest_len);
  memcpy (tag, digest, ECHO_TAG_SIZE);
}

gsize
echo_packet_write (const EchoPacket * p, const guint8 * key, guint8 * out,
    gsize out_size)
{
  Cursor c = { .out = out, .len = MIN (out_size, ECHO_MAX_PACKET) };
  guint i;

  if (key)
    c.len -= MIN (c.len, ECHO_TAG_SIZE);

  put_u8 (&c, 'E');
  put_u8 (&c, 'C');
  put_u8 (&c, ECHO_PROTO_VERSION);
  put_u8 (&c, p->type);
  put_u8 (&c, key ? ECHO_PACKET_FLAG_TAGGED : 0);
  put_bytes (&c, NULL, 3);
  put_u64 (&c, p->session_id);

  switch (p->type) {
    case ECHO_PACKET_HELLO:
      put_u64 (&c, p->hello.nonce);
      pad_to (&c, ECHO_HELLO_SIZE - (key ? ECHO_TAG_SIZE : 0));
      break;
    case ECHO_PACKET_COOKIE:
      put_u64 (&c, p->cookie.nonce);
      put_bytes (&c, p->cookie.cookie, ECHO_COOKIE_SIZE);
      break;
    case ECHO_PACKET_SUBSCRIBE:
      put_u64 (&c, p->subscribe.nonce);
      put_bytes (&c, p->subscribe.cookie, ECHO_COOKIE_SIZE);
      put_bytes (&c, p->subscribe.proof, ECHO_PROOF_SIZE);
      pad_to (&c, ECHO_SUBSCRIBE_SIZE - (key ? ECHO_TAG_SIZE : 0));
      break;
    case ECHO_PACKET_SUBSCRIBED:
      put_u64 (&c, p->subscribed.nonce);
      put_u64 (&c, p->subscribed.subscription);
      put_u64 (&c, p->subscribed.epoch);
      put_u8 (&c, p->subscribed.codec);
      put_u8 (&c, p->subscribed.channels);
      put_u16 (&c, p->subscribed.frame_samples);
      put_u32 (&c, p->subscribed.rate);
      put_u64 (&c, p->subscribed.latency);
      put_u32 (&c, p->subscribed.lease_ms);
      put_u32 (&c, p->subscribed.next_seq);
      put_u32 (&c, p->subscribed.oldest_seq);
      break;
    case ECHO_PACKET_REFUSED:
      put_u64 (&c, p->refused.nonce);
      put_u8 (&c, p->refused.reason);
      break;
    case ECHO_PACKET_AUDIO:
      if (p->audio.payload_len > ECHO_MAX_PAYLOAD)
        return 0;
      put_u64 (&c, p->audio.subscription);
      put_u32 (&c, p->audio.seq);
      put_u8 (&c, p->audio.flags);
      put_u8 (&c, p->audio.codec);
      put_u16 (&c, p->audio.samples);
      put_u64 (&c, p->audio.sample_index);
      put_u64 (&c, p->audio.capture_time);
      put_u64 (&c, p->audio.send_time);
      put_u16 (&c, p->audio.payload_len);
      put_bytes (&c, p->audio.payload, p->audio.payload_len);
      break;
    case ECHO_PACKET_NACK:
      if (p->nack.count == 0 || p->nack.count > ECHO_NACK_MAX)
        return 0;
      put_u64 (&c, p->nack.subscription);
      put_u16 (&c, p->nack.count);
      for (i = 0; i < p->nack.count; i++)
        put_u32 (&c, p->nack.seqs[i]);
      break;
    case ECHO_PACKET_TIME_REQUEST:
      put_u64 (&c, p->time_request.subscription);
      put_u64 (&c, p->time_request.request_id);
      put_u64 (&c, p->time_request.t1);
      pad_to (&c, ECHO_TIME_REQUEST_SIZE - (key ? ECHO_TAG_SIZE : 0));
      break;
    case ECHO_PACKET_TIME_RESPONSE:
      put_u64 (&c, p->time_response.subscription);
      put_u64 (&c, p->time_response.request_id);
      put_u64 (&c, p->time_response.t1);
      put_u64 (&c, p->time_response.t2);
      put_u64 (&c, p->time_response.t3);
      break;
    case ECHO_PACKET_BYE:
      put_u64 (&c, p->bye.subscription);
      break;
    default:
      return 0;
  }
  if (c.overflow)
    return 0;
  if (key) {
    compute_tag (out, c.pos, key, out + c.pos);
    c.pos += ECHO_TAG_SIZE;
  }
  return c.pos;
}

/* Fixed body sizes; AUDIO and NACK bodies have a variable tail. */
static gsize
min_body_size (EchoPacketType type)
{
  switch (type) {
    case ECHO_PACKET_HELLO:
      return 8;
    case ECHO_PACKET_COOKIE:
      return 8 + ECHO_COOKIE_SIZE;
    case ECHO_PACKET_SUBSCRIBE:
      return 8 + ECHO_COOKIE_SIZE + ECHO_PROOF_SIZE;
    case ECHO_PACKET_SUBSCRIBED:
      return 8 + 8 + 8 + 1 + 1 + 2 + 4 + 8 + 4 + 4 + 4;
    case ECHO_PACKET_REFUSED:
      return 9;
    case ECHO_PACKET_AUDIO:
      return 8 + 4 + 1 + 1 + 2 + 8 + 8 + 8 + 2;
    case ECHO_PACKET_NACK:
      return 8 + 2;
    case ECHO_PACKET_TIME_REQUEST:
      return 24;
    case ECHO_PACKET_TIME_RESPONSE:
      return 40;
    case ECHO_PACKET_BYE:
      return 8;
    default:
      return 0;
  }
}

EchoParseResult
echo_packet_parse (const guint8 * data, gsize len, EchoPacket * p)
{
  Cursor c = { .in = data, .len = len };
  gsize body_end;
  guint i;

  memset (p, 0, sizeof (*p));
  if (len < ECHO_HEADER_SIZE)
    return ECHO_PARSE_TOO_SHORT;
  if (len > ECHO_MAX_PACKET)
    return ECHO_PARSE_TOO_LONG;
  if (data[0] != 'E' || data[1] != 'C')
    return ECHO_PARSE_BAD_MAGIC;
  if (data[2] != ECHO_PROTO_VERSION)
    return ECHO_PARSE_BAD_VERSION;
  p->type = data[3];
  p->flags = data[4];
  if (min_body_size (p->type) == 0)
    return ECHO_PARSE_BAD_TYPE;
  if ((p->flags & ~ECHO_PACKET_FLAG_TAGGED) != 0 || data[5] || data[6] || data[7])
    return ECHO_PARSE_BAD_FIELD;
  c.pos = 8;
  p->session_id = get_u64 (&c);

  body_end = len;
  if (p->flags & ECHO_PACKET_FLAG_TAGGED) {
    if (len < ECHO_HEADER_SIZE + ECHO_TAG_SIZE)
      return ECHO_PARSE_TOO_SHORT;
    body_end = len - ECHO_TAG_SIZE;
  }
  if (body_end - ECHO_HEADER_SIZE < min_body_size (p->type))
    return ECHO_PARSE_TOO_SHORT;
  c.len = body_end;

  switch (p->type) {
    case ECHO_PACKET_HELLO:
      p->hello.nonce = get_u64 (&c);
      break;
    case ECHO_PACKET_COOKIE:
      p->cookie.nonce = get_u64 (&c);
      get_bytes (&c, p->cookie.cookie, ECHO_COOKIE_SIZE);
      break;
    case ECHO_PACKET_SUBSCRIBE:
      p->subscribe.nonce = get_u64 (&c);
      get_bytes (&c, p->subscribe.cookie, ECHO_COOKIE_SIZE);
      get_bytes (&c, p->subscribe.proof, ECHO_PROOF_SIZE);
      break;
    case ECHO_PACKET_SUBSCRIBED:
      p->subscribed.nonce = get_u64 (&c);
      p->subscribed.subscription = get_u64 (&c);
      p->subscribed.epoch = get_u64 (&c);
      p->subscribed.codec = get_u8 (&c);
      p->subscribed.channels = get_u8 (&c);
      p->subscribed.frame_samples = get_u16 (&c);
      p->subscribed.rate = get_u32 (&c);
      p->subscribed.latency = get_u64 (&c);
      p->subscribed.lease_ms = get_u32 (&c);
      p->subscribed.next_seq = get_u32 (&c);
      p->subscribed.oldest_seq = get_u32 (&c);
      if (p->subscribed.codec != ECHO_CODEC_OPUS || p->subscribed.channels < 1 ||
          p->subscribed.channels > 2 || p->subscribed.frame_samples == 0 ||
          p->subscribed.rate < 8000 || p->subscribed.rate > 48000 ||
          p->subscribed.lease_ms == 0)
        return ECHO_PARSE_BAD_FIELD;
      break;
    case ECHO_PACKET_REFUSED:
      p->refused.nonce = get_u64 (&c);
      p->refused.reason = get_u8 (&c);
      break;
    case ECHO_PACKET_AUDIO:
      p->audio.subscription = get_u64 (&c);
      p->audio.seq = get_u32 (&c);
      p->audio.flags = get_u8 (&c);
      p->audio.codec = get_u8 (&c);
      p->audio.samples = get_u16 (&c);
      p->audio.sample_index = get_u64 (&c);
      p->audio.capture_time = get_u64 (&c);
      p->audio.send_time = get_u64 (&c);
      p->audio.payload_len = get_u16 (&c);
      if (p->audio.payload_len == 0 || p->audio.payload_len > ECHO_MAX_PAYLOAD ||
          c.len - c.pos != p->audio.payload_len)
        return ECHO_PARSE_BAD_FIELD;
      if (p->audio.codec != ECHO_CODEC_OPUS || p->audio.samples == 0)
        return ECHO_PARSE_BAD_FIELD;
      p->audio.payload = data + c.pos;
      c.pos += p->audio.payload_len;
      break;
    case ECHO_PACKET_NACK:
      p->nack.subscription = get_u64 (&c);
      p->nack.count = get_u16 (&c);
      if (p->nack.count == 0 || p->nack.count > ECHO_NACK_MAX ||
          c.len - c.pos < 4u * p->nack.count)
        return ECHO_PARSE_BAD_FIELD;
      for (i = 0; i < p->nack.count; i++)
        p->nack.seqs[i] = get_u32 (&c);
      break;
    case ECHO_PACKET_TIME_REQUEST:
      p->time_request.subscription = get_u64 (&c);
      p->time_request.request_id = get_u64 (&c);
      p->time_request.t1 = get_u64 (&c);
      break;
    case ECHO_PACKET_TIME_RESPONSE:
      p->time_response.subscription = get_u64 (&c);
      p->time_response.request_id = get_u64 (&c);
      p->time_response.t1 = get_u64 (&c);
      p->time_response.t2 = get_u64 (&c);
      p->time_response.t3 = get_u64 (&c);
      break;
    case ECHO_PACKET_BYE:
      p->bye.subscription = get_u64 (&c);
      break;
  }
  return c.overflow ? ECHO_PARSE_TOO_SHORT : ECHO_PARSE_OK;
}

gboolean
echo_packet_check_tag (const guint8 * data, gsize len, const guint8 * key)
{
  guint8 tag[ECHO_TAG_SIZE];

  if (len < ECHO_HEADER_SIZE + ECHO_TAG_SIZE || !(data[4] & ECHO_PACKET_FLAG_TAGGED))
    return FALSE;
  compute_tag (data, len - ECHO_TAG_SIZE, key, tag);
  return echo_memequal (tag, data + len - ECHO_TAG_SIZE, ECHO_TAG_SIZE);
}

gboolean
echo_memequal (const guint8 * a, const guint8 * b, gsize len)
{
  guint8 diff = 0;
  gsize i;

  for (i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

static void
token_hmac (const char *token, const char *label, guint64 session_id,
    guint64 nonce, const guint8 cookie[ECHO_COOKIE_SIZE], guint8 out[32])
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256,
      (const guchar *) token, strlen (token));
  guint8 ids[16];
  gsize out_len = 32;
  int i;

  for (i = 0; i < 8; i++) {
    ids[i] = session_id >> (56 - 8 * i);
    ids[8 + i] = nonce >> (56 - 8 * i);
  }
  g_hmac_update (hmac, (const guchar *) label, strlen (label));
  g_hmac_update (hmac, ids, sizeof (ids));
  g_hmac_update (hmac, cookie, ECHO_COOKIE_SIZE);
  g_hmac_get_digest (hmac, out, &out_len);
}

void
echo_subscribe_proof (const char *token, guint64 session_id, guint64 nonce,
    const guint8 cookie[ECHO_COOKIE_SIZE], guint8 proof[ECHO_PROOF_SIZE])
{
  token_hmac (token, "echo-subscribe-proof", session_id, nonce, cookie, proof);
}

void
echo_subscription_key (const char *token, guint64 session_id, guint64 nonce,
    const guint8 cookie[ECHO_COOKIE_SIZE], guint8 key[ECHO_KEY_SIZE])
{
  token_hmac (token, "echo-subscription-key", session_id, nonce, cookie, key);
}

const char *
echo_parse_result_to_string (EchoParseResult result)
{
  switch (result) {
    case ECHO_PARSE_OK:
      return "ok";
    case ECHO_PARSE_TOO_SHORT:
      return "truncated";
    case ECHO_PARSE_TOO_LONG:
      return "oversize";
    case ECHO_PARSE_BAD_MAGIC:
      return "not an Echo packet";
    case ECHO_PARSE_BAD_VERSION:
      return "unsupported protocol version";
    case ECHO_PARSE_BAD_TYPE:
      return "unknown packet type";
    case ECHO_PARSE_BAD_FIELD:
      return "invalid field";
  }
  return "unknown";
}

const char *
echo_packet_type_to_string (EchoPacketType type)
{
  static const char *names[] = { NULL, "HELLO", "COOKIE", "SUBSCRIBE",
    "SUBSCRIBED", "REFUSED", "AUDIO", "NACK", "TIME_REQUEST", "TIME_RESPONSE", "BYE"
  };
  if (type >= 1 && type <= ECHO_PACKET_BYE)
    return names[type];
  return "unknown";
}
