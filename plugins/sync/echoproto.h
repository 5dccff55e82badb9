/* Echo session protocol: the UDP datagrams between a relay (sharerelay) and its receivers
 * (echosyncsrc). GStreamer-free, so the fuzz target and unit tests link it alone.
 *
 * Every datagram starts with a 16-byte header (network byte order):
 *   0  'E' 'C'      magic
 *   2  u8 version   ECHO_PROTO_VERSION
 *   3  u8 type      EchoPacketType
 *   4  u8 flags     ECHO_PACKET_FLAG_*
 *   5  3 bytes      zero
 *   8  u64          session id: the first 8 bytes of SHA-256("echo-session:" + name)
 * followed by the type's body (below) and, when ECHO_PACKET_FLAG_TAGGED is set, a 16-byte
 * truncated HMAC-SHA256 over everything before it, keyed with the subscription key.
 *
 * A relay sends nothing to an address that has not proven it receives: the only reply to an
 * unverified address is a COOKIE, and it is never larger than the HELLO that asked for it
 * (HELLO is padded to ECHO_HELLO_SIZE). Time requests are padded likewise, so no request
 * gets a larger answer than itself. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_PROTO_VERSION 1
#define ECHO_HEADER_SIZE 16
#define ECHO_TAG_SIZE 16
#define ECHO_COOKIE_SIZE 16
#define ECHO_PROOF_SIZE 32
#define ECHO_KEY_SIZE 32
/* The largest datagram either side sends or accepts. */
#define ECHO_MAX_PACKET 1400
/* Opus packets are at most 1275 bytes per frame; anything larger is refused. */
#define ECHO_MAX_PAYLOAD 1276
#define ECHO_NACK_MAX 64
#define ECHO_HELLO_SIZE 64
#define ECHO_SUBSCRIBE_SIZE 96
#define ECHO_TIME_REQUEST_SIZE 80

typedef enum {
  ECHO_PACKET_HELLO = 1,          /* receiver -> relay: please send me a cookie */
  ECHO_PACKET_COOKIE = 2,         /* relay -> receiver: proof-of-address cookie */
  ECHO_PACKET_SUBSCRIBE = 3,      /* receiver -> relay: subscribe or renew */
  ECHO_PACKET_SUBSCRIBED = 4,     /* relay -> receiver: accepted, session parameters */
  ECHO_PACKET_REFUSED = 5,        /* relay -> receiver: not accepted, with a reason */
  ECHO_PACKET_AUDIO = 6,          /* relay -> receiver: one encoded frame (or a repair) */
  ECHO_PACKET_NACK = 7,           /* receiver -> relay: please resend these sequence numbers */
  ECHO_PACKET_TIME_REQUEST = 8,   /* receiver -> relay: clock exchange, t1 */
  ECHO_PACKET_TIME_RESPONSE = 9,  /* relay -> receiver: t1 echoed, t2 received, t3 sent */
  ECHO_PACKET_BYE = 10,           /* either way: the subscription ends */
} EchoPacketType;

#define ECHO_PACKET_FLAG_TAGGED (1 << 0)

/* AUDIO flags */
#define ECHO_AUDIO_FLAG_REPAIR (1 << 0)   /* a resend answering a NACK */
#define ECHO_AUDIO_FLAG_DISCONT (1 << 1)  /* capture time does not follow the previous frame */

typedef enum {
  ECHO_CODEC_OPUS = 1,
} EchoCodec;

typedef enum {
  ECHO_REFUSED_BAD_COOKIE = 1,    /* expired or not for this address: start again with HELLO */
  ECHO_REFUSED_BAD_PROOF = 2,     /* the session needs a token and the proof was wrong */
  ECHO_REFUSED_FULL = 3,          /* max-receivers reached */
  ECHO_REFUSED_UNKNOWN_SUBSCRIPTION = 4,
} EchoRefusedReason;

typedef enum {
  ECHO_PARSE_OK = 0,
  ECHO_PARSE_TOO_SHORT,
  ECHO_PARSE_TOO_LONG,
  ECHO_PARSE_BAD_MAGIC,
  ECHO_PARSE_BAD_VERSION,
  ECHO_PARSE_BAD_TYPE,
  ECHO_PARSE_BAD_FIELD,
} EchoParseResult;

typedef struct {
  guint64 nonce;
} EchoHello;

typedef struct {
  guint64 nonce;
  guint8 cookie[ECHO_COOKIE_SIZE];
} EchoCookie;

typedef struct {
  guint64 nonce;
  guint8 cookie[ECHO_COOKIE_SIZE];
  guint8 proof[ECHO_PROOF_SIZE];  /* HMAC-SHA256(token, ...), zero without a token */
} EchoSubscribe;

typedef struct {
  guint64 nonce;
  guint64 subscription;           /* random id the relay gave this receiver */
  guint64 epoch;                  /* random per relay instance: a change means a restart */
  guint8 codec;                   /* EchoCodec */
  guint8 channels;
  guint16 frame_samples;
  guint32 rate;
  guint64 latency;                /* ns: sample k renders at capture_time(k) + latency */
  guint32 lease_ms;               /* renew before this runs out */
  guint32 next_seq;               /* the next AUDIO sequence number to be sent */
  guint32 oldest_seq;             /* the oldest still in the relay's buffer (for NACKs) */
} EchoSubscribed;

typedef struct {
  guint64 nonce;
  guint8 reason;                  /* EchoRefusedReason */
} EchoRefused;

typedef struct {
  guint64 subscription;
  guint32 seq;
  guint8 flags;                   /* ECHO_AUDIO_FLAG_* */
  guint8 codec;
  guint16 samples;                /* decoded frames in this packet */
  guint64 sample_index;           /* session index of the first decoded sample */
  guint64 capture_time;           /* session clock, ns, of the first decoded sample */
  guint64 send_time;              /* session clock, ns, just before this datagram was sent */
  const guint8 *payload;          /* points into the parsed datagram */
  guint16 payload_len;
} EchoAudio;

typedef struct {
  guint64 subscription;
  guint16 count;
  guint32 seqs[ECHO_NACK_MAX];
} EchoNack;

typedef struct {
  guint64 subscription;
  guint64 request_id;
  guint64 t1;                     /* receiver clock, ns, just before sending */
} EchoTimeRequest;

typedef struct {
  guint64 subscription;
  guint64 request_id;
  guint64 t1;                     /* echoed */
  guint64 t2;                     /* session clock, ns: kernel receive time of the request */
  guint64 t3;                     /* session clock, ns: just before this reply was sent */
} EchoTimeResponse;

typedef struct {
  guint64 subscription;
} EchoBye;

typedef struct {
  EchoPacketType type;
  guint8 flags;
  guint64 session_id;
  union {
    EchoHello hello;
    EchoCookie cookie;
    EchoSubscribe subscribe;
    EchoSubscribed subscribed;
    EchoRefused refused;
    EchoAudio audio;
    EchoNack nack;
    EchoTimeRequest time_request;
    EchoTimeResponse time_response;
    EchoBye bye;
  };
} EchoPacket;

guint64 echo_session_id (const char *session_name);

/* Serialise @packet into @out. With @key (ECHO_KEY_SIZE bytes) the packet is tagged.
 * Returns the datagram length, or 0 if @out is too small or a field is out of range. */
gsize echo_packet_write (const EchoPacket * packet, const guint8 * key,
    guint8 * out, gsize out_size);

/* Parse a datagram. Structural checks only; a tagged packet's tag is checked separately
 * with echo_packet_check_tag() once the receiver knows which key applies. */
EchoParseResult echo_packet_parse (const guint8 * data, gsize len, EchoPacket * packet);

gboolean echo_packet_check_tag (const guint8 * data, gsize len, const guint8 * key);

const char *echo_parse_result_to_string (EchoParseResult result);
const char *echo_packet_type_to_string (EchoPacketType type);

/* Token-derived values (HMAC-SHA256 keyed with the session token). */
void echo_subscribe_proof (const char *token, guint64 session_id, guint64 nonce,
    const guint8 cookie[ECHO_COOKIE_SIZE], guint8 proof[ECHO_PROOF_SIZE]);
void echo_subscription_key (const char *token, guint64 session_id, guint64 nonce,
    const guint8 cookie[ECHO_COOKIE_SIZE], guint8 key[ECHO_KEY_SIZE]);

/* Constant-time comparison. */
gboolean echo_memequal (const guint8 * a, const guint8 * b, gsize len);

G_END_DECLS
