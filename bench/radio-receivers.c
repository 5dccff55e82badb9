/* radio-receivers: N simulated echosyncsrc receivers in one process, or (--rtp) N plain
 * RTP/Opus unicast receivers, for bench/run-radio-bench (issue 6's benchmark of how many
 * receivers one echod holds from one pushed mount). Not a test: it prints figures.
 *
 * Echo mode (--relay HOST:PORT --session NAME): every receiver has its own connected UDP
 * socket (kernel receive timestamps) and speaks the real protocol through the sync core
 * library (echoproto: packets, tags, proofs; echoclockest: the session clock), the way
 * echosyncsrc's network thread does: HELLO/COOKIE/SUBSCRIBE with the token proof, renewal
 * every lease/4, time requests every 5 ms for the first 30 s then every 20 ms, the tag of
 * every datagram checked, a jitter buffer keyed by sequence number, NACKs for gaps after
 * 3 ms of reordering allowance and then every half smoothed round trip while a repair can
 * still arrive, resubscription when the relay is silent for 1.5 s. Output starts, as in
 * echosyncsrc, once the clock estimate has 24 samples each way over 0.3 s, at the first
 * frame whose deadline is still ahead. The play-out deadline of frame `seq` is
 * echosyncsrc's: predicted_capture(seq) + latency - render margin (min(40 ms,
 * latency / 2)), on the session clock. A frame counts as an UNDERRUN when its datagram's
 * kernel receive time, mapped to the session clock, is not before that deadline (or it
 * never came): the real element would conceal it (FEC or PLC). Judging by the kernel's
 * receive time, not by when this process got round to reading it, keeps this program's
 * own lag out of the verdict (the socket is drained before a deadline is settled); only
 * NACKs can be delayed by it, and its CPU is printed so an overloaded generator shows.
 *
 * One documented simplification: echosyncsrc re-estimates the clock every 20 ms and slews
 * its GstClock towards it; here the estimator (fed the same forward and backward samples)
 * is re-estimated every 20 ms until output starts and then every --reestimate-ms (1 s),
 * and the estimate is used directly. On loopback both ends read the same CLOCK_MONOTONIC,
 * so the estimate barely moves; re-estimating 50 times a second for 2,000 receivers would
 * cost this process more than a core.
 *
 * RTP mode (--rtp --ports-file FILE): N bound sockets whose ports are written to FILE for
 * multiudpsink clients=...; each counts RTP sequence gaps and packets that arrive after
 * their deadline: first packet's arrival + (rtp_ts - first_ts) / clock-rate + --rtp-slack-ms
 * (the same 60 ms an Echo receiver has between capture + latency - margin and arrival is
 * not comparable, so this is the simplest fair model: a fixed-delay jitter buffer).
 *
 * Both modes measure windows (echo: "join", the time-request burst after subscribing, then
 * "steady"; rtp: "steady") and print, per window, `WINDOW.KEY VALUE` lines: frames expected,
 * received, repaired, missing, late, underruns, receivers with underruns, arrival margin
 * before the deadline (1st percentile and minimum), the sender's CPU (--pid, utime+stime
 * from /proc, % of one core) and its busiest threads, this process's CPU, and the host's
 * UDP receive-buffer drops (/proc/net/snmp). */
#define _GNU_SOURCE
#include "echoproto.h"
#include "echoclockest.h"
#include "echonet.h"

#include <glib.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define NS_PER_MS G_GUINT64_CONSTANT (1000000)
#define NS_PER_S G_GUINT64_CONSTANT (1000000000)

/* echosyncsrc's constants (plugins/sync/gstechosyncsrc.c), which are not exported */
#define JB_SLOTS 1024           /* 10 s of 10 ms frames: plenty for a 100 ms latency */
#define RELAY_TIMEOUT_NS (1500 * NS_PER_MS)
#define TIME_BURST_NS (30 * NS_PER_S)
#define TIME_INTERVAL_BURST_NS (5 * NS_PER_MS)
#define TIME_INTERVAL_NS (20 * NS_PER_MS)
#define TIME_OUTSTANDING 64
#define NACK_REORDER_NS (3 * NS_PER_MS)
#define NACK_RETRY_MIN_NS (4 * NS_PER_MS)
#define NACK_MAX_TRIES 8
#define LOCK_MIN_SAMPLES 24
#define LOCK_MIN_SPAN_S 0.3
#define RENDER_MARGIN_NS (40 * NS_PER_MS)
#define TICK_NS (2 * NS_PER_MS)
#define HANDSHAKE_RETRY_NS (250 * NS_PER_MS)

/* arrival margin histogram: 0.1 ms bins from -100 ms to +400 ms */
#define HIST_MIN_US (-100000)
#define HIST_BIN_US 100
#define HIST_BINS 5000

typedef enum { WINDOW_JOIN, WINDOW_STEADY, WINDOW_NONE } Window;
static const char *window_names[] = { "join", "steady" };

#define N_WINDOWS 2

typedef struct {
  guint64 expected, received, repaired, missing, late, nacks, resubscribes, dropped;
  guint64 hist[HIST_BINS];
  gint64 margin_min_us;
  gboolean any_margin;
} Counts;

typedef enum {
  STATE_HELLO,
  STATE_SUBSCRIBING,
  STATE_SUBSCRIBED,
} State;

typedef struct {
  gboolean valid;
  gboolean repair;
  guint32 seq;
  guint64 rx;                   /* kernel receive time, monotonic */
  guint32 wait_seq;
  guint64 missing_since;
  guint64 last_nack;
  guint nack_tries;
} Slot;

typedef struct {
  guint64 id;
  guint64 t1;
} TimeRequest;

typedef struct {
  int fd;
  guint32 rtp_port;
  State state;
  guint64 nonce;
  guint8 cookie[ECHO_COOKIE_SIZE];
  guint64 subscription;
  guint64 epoch;
  gboolean keyed;
  guint8 key[ECHO_KEY_SIZE];
  guint frame_samples;
  guint rate;
  guint64 latency_ns;
  guint64 margin_ns;
  guint lease_ms;
  guint32 oldest_seq;
  guint64 subscribed_at;
  guint64 last_rx;
  guint64 next_send;
  guint64 next_renew;
  guint64 next_time_request;
  guint64 next_estimate;
  guint64 next_tick;
  guint64 request_counter;
  TimeRequest requests[TIME_OUTSTANDING];
  double srtt_ns;
  EchoClockEstimator *estimator;
  EchoClockEstimate estimate;
  gboolean clock_valid;
  Slot *slots;
  gboolean have_anchor;
  guint32 anchor_seq;
  guint64 anchor_capture;
  gboolean started;
  guint32 out_seq;
  guint32 high_seq;
  guint64 underruns[N_WINDOWS];
  /* RTP mode */
  gboolean rtp_have_first;
  guint64 rtp_first_rx;
  guint32 rtp_first_ts;
  guint64 rtp_ext_seq_first;
  guint64 rtp_ext_seq_last;
  guint64 rtp_received_in_window;
  gboolean rtp_window_started;
  guint16 rtp_last_seq;
  guint64 rtp_ext_seq;
} Receiver;

typedef struct {
  /* options */
  char *relay_host;
  guint relay_port;
  char *session;
  char *token;
  guint n;
  guint ramp_ms;
  guint join_s;
  guint seconds;
  guint reestimate_ms;
  gboolean rtp;
  char *ports_file;
  char *pid_file;
  guint rtp_slack_ms;
  guint rtp_clock_rate;
  gint pid;

  guint64 session_id;
  Receiver *rx;
  int ep;
  Counts counts[N_WINDOWS];
  Window window;
  guint64 window_start[N_WINDOWS + 1];
} Bench;

/* ---------------------------------------------------------------------------------- */
/* /proc readings                                                                        */

static gboolean
read_stat_ticks (const char *path, guint64 * ticks, char *comm, gsize comm_size)
{
  g_autofree char *text = NULL;
  char *open_paren, *close_paren;
  unsigned long long utime, stime;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  open_paren = strchr (text, '(');
  close_paren = strrchr (text, ')');
  if (!open_paren || !close_paren || close_paren < open_paren)
    return FALSE;
  if (comm) {
    gsize len = MIN ((gsize) (close_paren - open_paren - 1), comm_size - 1);
    memcpy (comm, open_paren + 1, len);
    comm[len] = '\0';
  }
  /* after "(comm)": state is field 3; utime and stime are fields 14 and 15 */
  if (sscanf (close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
          &utime, &stime) != 2)
    return FALSE;
  *ticks = utime + stime;
  return TRUE;
}

typedef struct {
  guint64 process;
  GHashTable *threads;          /* tid string -> guint64 ticks (boxed) */
  GHashTable *names;            /* tid string -> comm */
  guint64 self;
  guint64 udp_rcvbuf_errors;
  guint64 at;
} Snapshot;

static guint64
udp_rcvbuf_errors (void)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint i;

  if (!g_file_get_contents ("/proc/net/snmp", &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i + 1]; i++) {
    if (g_str_has_prefix (lines[i], "Udp: ") && g_str_has_prefix (lines[i + 1], "Udp: ")) {
      g_auto (GStrv) names = g_strsplit (lines[i], " ", -1);
      g_auto (GStrv) values = g_strsplit (lines[i + 1], " ", -1);
      guint k;

      for (k = 0; names[k] && values[k]; k++)
        if (strcmp (names[k], "RcvbufErrors") == 0)
          return g_ascii_strtoull (values[k], NULL, 10);
    }
  }
  return 0;
}

static void
snapshot_take (Snapshot * s, gint pid)
{
  char path[64];
  guint64 ticks;

  s->at = echo_net_monotonic_ns ();
  s->process = 0;
  s->threads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (pid > 0) {
    g_autoptr (GDir) dir = NULL;
    g_autofree char *task_dir = g_strdup_printf ("/proc/%d/task", pid);
    const char *tid;

    g_snprintf (path, sizeof (path), "/proc/%d/stat", pid);
    if (read_stat_ticks (path, &ticks, NULL, 0))
      s->process = ticks;
    dir = g_dir_open (task_dir, 0, NULL);
    while (dir && (tid = g_dir_read_name (dir))) {
      char comm[64];
      g_autofree char *tpath = g_strdup_printf ("%s/%s/stat", task_dir, tid);

      if (read_stat_ticks (tpath, &ticks, comm, sizeof (comm))) {
        g_hash_table_insert (s->threads, g_strdup (tid), g_memdup2 (&ticks, sizeof (ticks)));
        g_hash_table_insert (s->names, g_strdup (tid), g_strdup (comm));
      }
    }
  }
  s->self = read_stat_ticks ("/proc/self/stat", &ticks, NULL, 0) ? ticks : 0;
  s->udp_rcvbuf_errors = udp_rcvbuf_errors ();
}

static void
snapshot_clear (Snapshot * s)
{
  g_clear_pointer (&s->threads, g_hash_table_unref);
  g_clear_pointer (&s->names, g_hash_table_unref);
}

typedef struct {
  char *name;
  double pct;
} ThreadCpu;

static gint
thread_cpu_compare (gconstpointer a, gconstpointer b)
{
  const ThreadCpu *x = a, *y = b;

  return x->pct < y->pct ? 1 : x->pct > y->pct ? -1 : 0;
}

static void
print_cpu (const char *prefix, const Snapshot * a, const Snapshot * b, gint pid)
{
  double hz = (double) sysconf (_SC_CLK_TCK);
  double secs = (double) (b->at - a->at) / 1e9;
  g_autoptr (GArray) threads = g_array_new (FALSE, FALSE, sizeof (ThreadCpu));
  GHashTableIter iter;
  gpointer key, value;
  GString *list = g_string_new (NULL);
  guint i;

  if (pid > 0)
    printf ("%s.sender_cpu_pct %.1f\n", prefix,
        (double) (b->process - a->process) / hz / secs * 100);
  printf ("%s.generator_cpu_pct %.1f\n", prefix,
      (double) (b->self - a->self) / hz / secs * 100);
  printf ("%s.udp_rcvbuf_errors %" G_GUINT64_FORMAT "\n", prefix,
      b->udp_rcvbuf_errors - a->udp_rcvbuf_errors);
  g_hash_table_iter_init (&iter, b->threads);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const guint64 *before = g_hash_table_lookup (a->threads, key);
    ThreadCpu t;

    t.name = g_hash_table_lookup (b->names, key);
    t.pct = (double) (*(const guint64 *) value - (before ? *before : 0)) / hz / secs * 100;
    if (t.pct >= 0.5)
      g_array_append_val (threads, t);
  }
  g_array_sort (threads, thread_cpu_compare);
  for (i = 0; i < threads->len && i < 6; i++) {
    ThreadCpu *t = &g_array_index (threads, ThreadCpu, i);

    g_string_append_printf (list, "%s%s=%.1f", i ? "," : "", t->name, t->pct);
  }
  if (pid > 0)
    printf ("%s.sender_threads %s\n", prefix, list->len ? list->str : "-");
  g_string_free (list, TRUE);
}

/* ---------------------------------------------------------------------------------- */
/* Counting                                                                              */

static void
count_margin (Counts * c, gint64 margin_ns)
{
  gint64 us = margin_ns / 1000;
  gint64 bin = (us - HIST_MIN_US) / HIST_BIN_US;

  c->hist[CLAMP (bin, 0, HIST_BINS - 1)]++;
  if (!c->any_margin || us < c->margin_min_us)
    c->margin_min_us = us;
  c->any_margin = TRUE;
}

/* The margin that @fraction of the packets beat (lower edge of its bin), in ms. */
static double
margin_quantile_ms (const Counts * c, double fraction)
{
  guint64 total = 0, seen = 0;
  guint i;

  for (i = 0; i < HIST_BINS; i++)
    total += c->hist[i];
  if (!total)
    return NAN;
  for (i = 0; i < HIST_BINS; i++) {
    seen += c->hist[i];
    if ((double) seen >= (1 - fraction) * (double) total)
      return (HIST_MIN_US + (gint64) i * HIST_BIN_US) / 1000.0;
  }
  return NAN;
}

/* ---------------------------------------------------------------------------------- */
/* Echo receivers                                                                        */

static guint64
session_of (const Receiver * r, guint64 mono)
{
  const EchoClockEstimate *e = &r->estimate;

  return (guint64) llround ((double) e->remote_ref + ((double) mono -
          (double) e->local_ref) * e->rate);
}

static guint64
frame_ns (const Receiver * r)
{
  return (guint64) r->frame_samples * NS_PER_S / r->rate;
}

static gint64
predicted_capture (const Receiver * r, guint32 seq)
{
  return (gint64) r->anchor_capture + (gint64) (gint32) (seq - r->anchor_seq) *
      (gint64) frame_ns (r);
}

static gint64
deadline_of (const Receiver * r, guint32 seq)
{
  return predicted_capture (r, seq) + (gint64) r->latency_ns - (gint64) r->margin_ns;
}

static void
send_packet (Bench * b, Receiver * r, EchoPacket * p)
{
  guint8 out[ECHO_MAX_PACKET];
  gsize len;

  p->session_id = b->session_id;
  len = echo_packet_write (p, r->keyed && p->type != ECHO_PACKET_HELLO &&
      p->type != ECHO_PACKET_SUBSCRIBE ? r->key : NULL, out, sizeof (out));
  if (len)
    (void) send (r->fd, out, len, MSG_DONTWAIT);
}

static void
send_hello (Bench * b, Receiver * r)
{
  EchoPacket p = { .type = ECHO_PACKET_HELLO };

  p.hello.nonce = r->nonce;
  send_packet (b, r, &p);
}

static void
send_subscribe (Bench * b, Receiver * r)
{
  EchoPacket p = { .type = ECHO_PACKET_SUBSCRIBE };

  p.subscribe.nonce = r->nonce;
  memcpy (p.subscribe.cookie, r->cookie, ECHO_COOKIE_SIZE);
  if (b->token)
    echo_subscribe_proof (b->token, b->session_id, r->nonce, r->cookie, p.subscribe.proof);
  send_packet (b, r, &p);
}

static void
send_time_request (Bench * b, Receiver * r)
{
  EchoPacket p = { .type = ECHO_PACKET_TIME_REQUEST };
  TimeRequest *req = &r->requests[r->request_counter % TIME_OUTSTANDING];

  req->id = ++r->request_counter;
  req->t1 = echo_net_monotonic_ns ();
  p.time_request.subscription = r->subscription;
  p.time_request.request_id = req->id;
  p.time_request.t1 = req->t1;
  send_packet (b, r, &p);
}

static void
reset_timeline (Receiver * r)
{
  guint i;

  for (i = 0; i < JB_SLOTS; i++)
    r->slots[i].valid = FALSE;
  r->have_anchor = FALSE;
  r->started = FALSE;
  r->clock_valid = FALSE;
  echo_clock_estimator_reset (r->estimator);
}

static void
restart_handshake (Receiver * r, guint64 now)
{
  r->state = STATE_HELLO;
  r->nonce = ((guint64) g_random_int () << 32) | g_random_int ();
  r->keyed = FALSE;
  r->next_send = now;
}

static void
handle_audio (Bench * b, Receiver * r, const EchoPacket * p, guint64 rx)
{
  const EchoAudio *a = &p->audio;
  Slot *slot = &r->slots[a->seq % JB_SLOTS];
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;

  if (r->state != STATE_SUBSCRIBED || a->subscription != r->subscription ||
      a->samples != r->frame_samples) {
    if (c)
      c->dropped++;
    return;
  }
  echo_clock_estimator_add_forward (r->estimator, rx, a->send_time);
  r->last_rx = rx;
  if (r->started && (gint32) (a->seq - r->out_seq) < 0)
    return;                     /* settled already: a late repair or a duplicate */
  if (r->started && (gint32) (a->seq - r->out_seq) >= JB_SLOTS)
    return;
  if (slot->valid && slot->seq == a->seq)
    return;
  slot->valid = TRUE;
  slot->seq = a->seq;
  slot->repair = (a->flags & ECHO_AUDIO_FLAG_REPAIR) != 0;
  slot->rx = rx;
  if (!r->have_anchor || (gint32) (a->seq - r->anchor_seq) > 0) {
    r->have_anchor = TRUE;
    r->anchor_seq = a->seq;
    r->anchor_capture = a->capture_time;
  }
  if (!r->started || (gint32) (a->seq + 1 - r->high_seq) > 0)
    r->high_seq = a->seq + 1;
}

static void
handle_time_response (Receiver * r, const EchoPacket * p, guint64 rx)
{
  const EchoTimeResponse *t = &p->time_response;
  TimeRequest *req = &r->requests[(t->request_id - 1) % TIME_OUTSTANDING];
  double rtt;

  if (t->subscription != r->subscription || t->request_id == 0 ||
      req->id != t->request_id || req->t1 != t->t1 || t->t3 < t->t2)
    return;
  req->id = 0;
  r->last_rx = rx;
  echo_clock_estimator_add_backward (r->estimator, t->t1, t->t2);
  echo_clock_estimator_add_forward (r->estimator, rx, t->t3);
  rtt = (double) (rx - t->t1) - (double) (t->t3 - t->t2);
  r->srtt_ns = r->srtt_ns > 0 ? 0.9 * r->srtt_ns + 0.1 * rtt : rtt;
}

static void
handle_subscribed (Receiver * r, const EchoPacket * p, guint64 now)
{
  const EchoSubscribed *s = &p->subscribed;

  if (r->state == STATE_HELLO || s->nonce != r->nonce)
    return;
  if (s->epoch != r->epoch || s->frame_samples != r->frame_samples || s->rate != r->rate) {
    reset_timeline (r);
    r->epoch = s->epoch;
  }
  if (r->state != STATE_SUBSCRIBED) {
    r->subscribed_at = now;
    r->next_time_request = now;
    r->next_estimate = now;
  }
  r->state = STATE_SUBSCRIBED;
  r->subscription = s->subscription;
  r->rate = s->rate;
  r->frame_samples = s->frame_samples;
  r->latency_ns = s->latency;
  r->margin_ns = MIN (RENDER_MARGIN_NS, r->latency_ns / 2);
  r->lease_ms = s->lease_ms;
  r->oldest_seq = s->oldest_seq;
  r->next_renew = now + s->lease_ms * NS_PER_MS / 4;
  r->last_rx = now;
  if (!r->started && !r->have_anchor && (gint32) (s->next_seq - s->oldest_seq) > 0)
    r->high_seq = s->next_seq;
}

static void
handle_datagram (Bench * b, Receiver * r, const guint8 * data, gsize len, guint64 rx)
{
  EchoPacket p;
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;

  if (echo_packet_parse (data, len, &p) != ECHO_PARSE_OK || p.session_id != b->session_id ||
      (r->keyed && p.type != ECHO_PACKET_COOKIE && p.type != ECHO_PACKET_REFUSED &&
          !echo_packet_check_tag (data, len, r->key))) {
    if (c)
      c->dropped++;
    return;
  }
  switch (p.type) {
    case ECHO_PACKET_COOKIE:
      if (r->state != STATE_HELLO || p.cookie.nonce != r->nonce)
        break;
      memcpy (r->cookie, p.cookie.cookie, ECHO_COOKIE_SIZE);
      if (b->token) {
        echo_subscription_key (b->token, b->session_id, r->nonce, r->cookie, r->key);
        r->keyed = TRUE;
      }
      r->state = STATE_SUBSCRIBING;
      send_subscribe (b, r);
      r->next_send = rx + HANDSHAKE_RETRY_NS;
      break;
    case ECHO_PACKET_SUBSCRIBED:
      handle_subscribed (r, &p, rx);
      break;
    case ECHO_PACKET_REFUSED:
      if (p.refused.nonce != r->nonce && p.refused.nonce != r->subscription)
        break;
      if (p.refused.reason == ECHO_REFUSED_BAD_PROOF) {
        g_printerr ("radio-receivers: the relay refused the token proof\n");
        exit (1);
      }
      restart_handshake (r, rx + (p.refused.reason == ECHO_REFUSED_FULL ? NS_PER_S : 0));
      break;
    case ECHO_PACKET_AUDIO:
      handle_audio (b, r, &p, rx);
      break;
    case ECHO_PACKET_TIME_RESPONSE:
      handle_time_response (r, &p, rx);
      break;
    case ECHO_PACKET_BYE:
      if (p.bye.subscription == r->subscription)
        restart_handshake (r, rx);
      break;
    default:
      break;
  }
}

static void
maybe_start (Receiver * r, guint64 now_mono)
{
  guint64 now, fns;
  gint64 ahead;
  guint32 start;

  if (r->started || !r->have_anchor || !r->clock_valid ||
      r->estimate.n_backward < LOCK_MIN_SAMPLES ||
      r->estimate.n_forward < LOCK_MIN_SAMPLES || r->estimate.span_s < LOCK_MIN_SPAN_S)
    return;
  fns = frame_ns (r);
  now = session_of (r, now_mono);
  ahead = ((gint64) now + (gint64) r->margin_ns + (gint64) fns / 2 -
      (gint64) (r->anchor_capture + r->latency_ns)) / (gint64) fns;
  start = r->anchor_seq + (gint32) ahead;
  if ((gint32) (start - r->oldest_seq) < 0)
    start = r->oldest_seq;
  r->out_seq = start;
  if ((gint32) (r->high_seq - start) < 0)
    r->high_seq = start;
  r->started = TRUE;
}

static void
send_nacks (Bench * b, Receiver * r, guint64 now_mono)
{
  EchoPacket p = { .type = ECHO_PACKET_NACK };
  gint64 now_s = (gint64) session_of (r, now_mono);
  guint64 retry = MAX ((guint64) (r->srtt_ns / 2), NACK_RETRY_MIN_NS);
  gint64 fastest = r->estimate.min_rtt_ns > 0 ? (gint64) r->estimate.min_rtt_ns :
      (gint64) (r->srtt_ns / 2);
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;
  guint32 seq;

  if (!r->have_anchor)
    return;
  p.nack.subscription = r->subscription;
  seq = r->started ? r->out_seq : r->high_seq - MIN (r->high_seq - r->oldest_seq, 64);
  for (; (gint32) (r->high_seq - seq) > 0 &&
      (gint32) (seq - r->high_seq + JB_SLOTS) > 0; seq++) {
    Slot *slot = &r->slots[seq % JB_SLOTS];

    if (slot->valid && slot->seq == seq)
      continue;
    if (deadline_of (r, seq) < now_s + fastest)
      continue;
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
    if (c)
      c->nacks++;
    if (p.nack.count == ECHO_NACK_MAX) {
      send_packet (b, r, &p);
      p.nack.count = 0;
    }
  }
  if (p.nack.count)
    send_packet (b, r, &p);
}

/* Plays out every frame whose deadline is at or before @polled_at (when the socket was
 * last found empty or drained), as echosyncsrc's streaming thread would. */
static void
settle (Bench * b, Receiver * r, guint64 polled_at)
{
  gint64 now_s = (gint64) session_of (r, polled_at);
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;

  while (r->started) {
    Slot *slot = &r->slots[r->out_seq % JB_SLOTS];
    gint64 deadline = deadline_of (r, r->out_seq);
    gboolean have = slot->valid && slot->seq == r->out_seq;

    if (deadline > now_s)
      break;
    if (c) {
      c->expected++;
      if (!have) {
        c->missing++;
        r->underruns[b->window]++;
      } else {
        gint64 margin = deadline - (gint64) session_of (r, slot->rx);

        count_margin (c, margin);
        if (margin <= 0) {
          c->late++;
          r->underruns[b->window]++;
        } else if (slot->repair) {
          c->repaired++;
        } else {
          c->received++;
        }
      }
    }
    slot->valid = FALSE;
    r->out_seq++;
  }
}

static void
tick (Bench * b, Receiver * r, guint64 now, guint64 polled_at)
{
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;

  if (r->state == STATE_SUBSCRIBED && now > r->last_rx && now - r->last_rx > RELAY_TIMEOUT_NS) {
    if (c)
      c->resubscribes++;
    restart_handshake (r, now);
  }
  switch (r->state) {
    case STATE_HELLO:
    case STATE_SUBSCRIBING:
      if (now >= r->next_send) {
        if (r->state == STATE_HELLO)
          send_hello (b, r);
        else
          send_subscribe (b, r);
        r->next_send = now + HANDSHAKE_RETRY_NS;
      }
      break;
    case STATE_SUBSCRIBED:
      if (now >= r->next_renew) {
        send_subscribe (b, r);
        r->next_renew = now + r->lease_ms * NS_PER_MS / 4;
      }
      if (now >= r->next_time_request) {
        send_time_request (b, r);
        r->next_time_request = now + (now - r->subscribed_at < TIME_BURST_NS ?
            TIME_INTERVAL_BURST_NS : TIME_INTERVAL_NS);
      }
      if (now >= r->next_estimate) {
        if (echo_clock_estimator_estimate (r->estimator, now, &r->estimate))
          r->clock_valid = TRUE;
        r->next_estimate = now + (r->started ? b->reestimate_ms * NS_PER_MS :
            20 * NS_PER_MS);
      }
      maybe_start (r, now);
      if (r->clock_valid) {
        settle (b, r, polled_at);
        send_nacks (b, r, now);
      }
      break;
  }
}

static gboolean
open_echo_receiver (Bench * b, Receiver * r, GError ** error)
{
  struct epoll_event ev = { .events = EPOLLIN };
  int size = 1 << 20;

  r->fd = echo_net_connect (b->relay_host, b->relay_port, error);
  if (r->fd < 0)
    return FALSE;
  /* as a real receiver's default buffer would hold a burst of repairs */
  setsockopt (r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  ev.data.ptr = r;
  if (epoll_ctl (b->ep, EPOLL_CTL_ADD, r->fd, &ev) < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "epoll_ctl: %s",
        g_strerror (errno));
    return FALSE;
  }
  r->estimator = echo_clock_estimator_new ();
  r->slots = g_new0 (Slot, JB_SLOTS);
  restart_handshake (r, echo_net_monotonic_ns ());
  return TRUE;
}

/* ---------------------------------------------------------------------------------- */
/* RTP receivers                                                                         */

static void
handle_rtp (Bench * b, Receiver * r, const guint8 * data, gsize len, guint64 rx)
{
  Counts *c = b->window < N_WINDOWS ? &b->counts[b->window] : NULL;
  guint16 seq;
  guint32 ts;
  gint64 deadline;

  /* RFC 3550 fixed header: V=2, sequence number at 2, timestamp at 4 */
  if (len < 12 || (data[0] >> 6) != 2) {
    if (c)
      c->dropped++;
    return;
  }
  seq = (guint16) ((data[2] << 8) | data[3]);
  ts = ((guint32) data[4] << 24) | ((guint32) data[5] << 16) | ((guint32) data[6] << 8) |
      data[7];
  if (!r->rtp_have_first) {
    r->rtp_have_first = TRUE;
    r->rtp_first_rx = rx;
    r->rtp_first_ts = ts;
    r->rtp_ext_seq = seq;
    r->rtp_last_seq = seq;
  } else {
    gint16 step = (gint16) (seq - r->rtp_last_seq);

    if (step <= 0)
      return;                   /* duplicate or reordered old packet */
    r->rtp_ext_seq += (guint16) step;
    r->rtp_last_seq = seq;
  }
  if (!c)
    return;
  if (!r->rtp_window_started) {
    r->rtp_window_started = TRUE;
    r->rtp_ext_seq_first = r->rtp_ext_seq;
  }
  r->rtp_ext_seq_last = r->rtp_ext_seq;
  r->rtp_received_in_window++;
  deadline = (gint64) r->rtp_first_rx + (gint64) ((guint64) (guint32) (ts -
          r->rtp_first_ts) * NS_PER_S / b->rtp_clock_rate) + (gint64) b->rtp_slack_ms *
      (gint64) NS_PER_MS;
  count_margin (c, deadline - (gint64) rx);
  if (deadline - (gint64) rx <= 0) {
    c->late++;
    r->underruns[b->window]++;
  } else {
    c->received++;
  }
}

static void
finish_rtp_window (Bench * b, Window w)
{
  guint i;

  for (i = 0; i < b->n; i++) {
    Receiver *r = &b->rx[i];
    guint64 expected;

    if (!r->rtp_window_started)
      continue;
    expected = r->rtp_ext_seq_last - r->rtp_ext_seq_first + 1;
    b->counts[w].expected += expected;
    if (expected > r->rtp_received_in_window) {
      b->counts[w].missing += expected - r->rtp_received_in_window;
      r->underruns[w] += expected - r->rtp_received_in_window;
    }
    r->rtp_window_started = FALSE;
    r->rtp_received_in_window = 0;
  }
}

static gboolean
open_rtp_receiver (Bench * b, Receiver * r, GError ** error)
{
  struct epoll_event ev = { .events = EPOLLIN };
  int size = 1 << 20;
  guint port = 0;

  r->fd = echo_net_bind ("127.0.0.1", 0, &port, error);
  if (r->fd < 0)
    return FALSE;
  setsockopt (r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  r->rtp_port = port;
  ev.data.ptr = r;
  if (epoll_ctl (b->ep, EPOLL_CTL_ADD, r->fd, &ev) < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "epoll_ctl: %s",
        g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------------------------- */
/* Reporting                                                                             */

static void
print_window (Bench * b, Window w)
{
  const Counts *c = &b->counts[w];
  const char *name = window_names[w];
  guint i, with_underrun = 0, subscribed = 0;
  guint64 total = 0;

  for (i = 0; i < b->n; i++) {
    Receiver *r = &b->rx[i];

    if (r->underruns[w])
      with_underrun++;
    total += r->underruns[w];
    if (b->rtp ? r->rtp_have_first : (r->state == STATE_SUBSCRIBED && r->started))
      subscribed++;
  }
  printf ("%s.seconds %.1f\n", name,
      (double) (b->window_start[w + 1] - b->window_start[w]) / 1e9);
  printf ("%s.receivers %u\n", name, b->n);
  printf ("%s.subscribed %u\n", name, subscribed);
  printf ("%s.expected %" G_GUINT64_FORMAT "\n", name, c->expected);
  printf ("%s.received %" G_GUINT64_FORMAT "\n", name, c->received);
  printf ("%s.repaired %" G_GUINT64_FORMAT "\n", name, c->repaired);
  printf ("%s.missing %" G_GUINT64_FORMAT "\n", name, c->missing);
  printf ("%s.late %" G_GUINT64_FORMAT "\n", name, c->late);
  printf ("%s.underruns %" G_GUINT64_FORMAT "\n", name, total);
  printf ("%s.receivers_with_underrun %u\n", name, with_underrun);
  printf ("%s.nacks %" G_GUINT64_FORMAT "\n", name, c->nacks);
  printf ("%s.resubscribes %" G_GUINT64_FORMAT "\n", name, c->resubscribes);
  printf ("%s.dropped %" G_GUINT64_FORMAT "\n", name, c->dropped);
  printf ("%s.margin_p01_ms %.1f\n", name, margin_quantile_ms (c, 0.99));
  printf ("%s.margin_p50_ms %.1f\n", name, margin_quantile_ms (c, 0.50));
  printf ("%s.margin_min_ms %.1f\n", name, c->any_margin ? c->margin_min_us / 1000.0 :
      NAN);
}

/* ---------------------------------------------------------------------------------- */

static gint
read_pid_file (const char *path)
{
  g_autofree char *text = NULL;

  if (!path || !g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (gint) g_ascii_strtoll (text, NULL, 10);
}

static gboolean
run (Bench * b, GError ** error)
{
  struct epoll_event *events;
  guint64 t0, now, polled_at, end, join_end;
  guint opened = 0, i;
  Snapshot snaps[N_WINDOWS + 1] = { 0 };
  Window w;

  b->ep = epoll_create1 (EPOLL_CLOEXEC);
  b->rx = g_new0 (Receiver, b->n);
  events = g_new (struct epoll_event, b->n + 1);
  b->window = WINDOW_NONE;

  if (b->rtp) {
    GString *ports = g_string_new (NULL);

    for (i = 0; i < b->n; i++) {
      if (!open_rtp_receiver (b, &b->rx[i], error))
        return FALSE;
      g_string_append_printf (ports, "%s127.0.0.1:%u", i ? "," : "", b->rx[i].rtp_port);
    }
    opened = b->n;
    g_string_append_c (ports, '\n');
    if (!g_file_set_contents (b->ports_file, ports->str, -1, error))
      return FALSE;
    g_string_free (ports, TRUE);
  }

  t0 = echo_net_monotonic_ns ();
  /* echo: the ramp, then each receiver's time-request burst, is the join window; rtp:
   * the sender is started by the caller after the ports file appears, so the join
   * window is a fixed settling time */
  join_end = t0 + (b->rtp ? (guint64) b->join_s * NS_PER_S :
      ((guint64) b->ramp_ms * NS_PER_MS + (guint64) b->join_s * NS_PER_S));
  end = join_end + (guint64) b->seconds * NS_PER_S;
  b->window_start[WINDOW_JOIN] = t0;
  b->window_start[WINDOW_STEADY] = join_end;
  b->window_start[N_WINDOWS] = end;
  if (!b->pid && b->pid_file)
    b->pid = read_pid_file (b->pid_file);
  snapshot_take (&snaps[WINDOW_JOIN], b->pid);
  b->window = WINDOW_JOIN;
  polled_at = t0;

  for (;;) {
    int n, k;

    now = echo_net_monotonic_ns ();
    if (b->window == WINDOW_JOIN && now >= join_end) {
      if (b->rtp)
        finish_rtp_window (b, WINDOW_JOIN);
      if (!b->pid && b->pid_file) {
        /* the sender started during the join window: measure it from here */
        b->pid = read_pid_file (b->pid_file);
        snapshot_clear (&snaps[WINDOW_JOIN]);
        snapshot_take (&snaps[WINDOW_JOIN], b->pid);
      }
      snapshot_take (&snaps[WINDOW_STEADY], b->pid);
      b->window = WINDOW_STEADY;
    }
    if (now >= end) {
      if (b->rtp)
        finish_rtp_window (b, WINDOW_STEADY);
      snapshot_take (&snaps[N_WINDOWS], b->pid);
      break;
    }
    /* echo: open receivers evenly over the ramp */
    while (!b->rtp && opened < b->n &&
        now >= t0 + (guint64) b->ramp_ms * NS_PER_MS * opened / b->n) {
      if (!open_echo_receiver (b, &b->rx[opened], error))
        return FALSE;
      opened++;
    }

    n = epoll_wait (b->ep, events, b->n + 1, 1);
    polled_at = echo_net_monotonic_ns ();
    for (k = 0; k < n; k++) {
      Receiver *r = events[k].data.ptr;
      guint8 buf[2048];
      guint64 rx;
      gboolean truncated;
      gssize len;

      while ((len = echo_net_recv (r->fd, buf, sizeof (buf), NULL, NULL, &rx,
                  &truncated)) >= 0) {
        if (truncated || len > ECHO_MAX_PACKET)
          continue;
        if (b->rtp)
          handle_rtp (b, r, buf, len, rx);
        else
          handle_datagram (b, r, buf, len, rx);
      }
    }
    if (b->rtp)
      continue;
    now = echo_net_monotonic_ns ();
    for (i = 0; i < opened; i++) {
      Receiver *r = &b->rx[i];

      if (now < r->next_tick)
        continue;
      r->next_tick = now + TICK_NS;
      tick (b, r, now, polled_at);
    }
  }

  printf ("mode %s\n", b->rtp ? "rtp" : "echo");
  printf ("receivers %u\n", b->n);
  for (w = WINDOW_JOIN; w < N_WINDOWS; w++) {
    print_window (b, w);
    print_cpu (window_names[w], &snaps[w], &snaps[w + 1], b->pid);
  }
  fflush (stdout);
  for (w = 0; w <= N_WINDOWS; w++)
    snapshot_clear (&snaps[w]);

  /* leave like echosyncsrc does: a BYE for each subscription */
  for (i = 0; i < opened; i++) {
    Receiver *r = &b->rx[i];

    if (!b->rtp && r->state == STATE_SUBSCRIBED) {
      EchoPacket bye = { .type = ECHO_PACKET_BYE };

      bye.bye.subscription = r->subscription;
      send_packet (b, r, &bye);
    }
    close (r->fd);
    if (r->estimator)
      echo_clock_estimator_free (r->estimator);
    g_free (r->slots);
  }
  g_free (b->rx);
  g_free (events);
  close (b->ep);
  return TRUE;
}

int
main (int argc, char **argv)
{
  Bench b = { 0 };
  g_autofree char *relay = NULL;
  gint n = 500, ramp_ms = 2000, join_s = 31, seconds = 30, reestimate_ms = 1000;
  gint slack_ms = 60, clock_rate = 48000, pid = 0;
  gboolean rtp = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  GOptionEntry entries[] = {
    {"relay", 0, 0, G_OPTION_ARG_STRING, &relay, "echo: the relay, HOST:PORT", "HOST:PORT"},
    {"session", 0, 0, G_OPTION_ARG_STRING, &b.session, "echo: the session name", "NAME"},
    {"token", 0, 0, G_OPTION_ARG_STRING, &b.token, "echo: the session token", "TOKEN"},
    {"receivers", 'n', 0, G_OPTION_ARG_INT, &n, "receivers (500)", "N"},
    {"ramp-ms", 0, 0, G_OPTION_ARG_INT, &ramp_ms,
        "echo: open the receivers evenly over this time (2000)", "MS"},
    {"join-seconds", 0, 0, G_OPTION_ARG_INT, &join_s,
        "the join window after the ramp (31: echosyncsrc's 30 s time-request burst)", "S"},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "the steady window (30)", "S"},
    {"reestimate-ms", 0, 0, G_OPTION_ARG_INT, &reestimate_ms,
        "echo: clock re-estimate interval once playing (1000)", "MS"},
    {"pid", 0, 0, G_OPTION_ARG_INT, &pid, "the sender's process, for its CPU", "PID"},
    {"pid-file", 0, 0, G_OPTION_ARG_FILENAME, &b.pid_file,
        "read the sender's pid from this file (when it starts later)", "FILE"},
    {"rtp", 0, 0, G_OPTION_ARG_NONE, &rtp, "plain RTP receivers instead", NULL},
    {"ports-file", 0, 0, G_OPTION_ARG_FILENAME, &b.ports_file,
        "rtp: write the receivers' HOST:PORT list here", "FILE"},
    {"rtp-slack-ms", 0, 0, G_OPTION_ARG_INT, &slack_ms,
        "rtp: jitter buffer delay after the first packet (60)", "MS"},
    {"rtp-clock-rate", 0, 0, G_OPTION_ARG_INT, &clock_rate, "rtp: clock rate (48000)", "HZ"},
    {NULL}
  };
  struct rlimit lim;

  context = g_option_context_new ("- simulated echosyncsrc or RTP receivers");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("radio-receivers: %s\n", error->message);
    return 2;
  }
  if (n < 1 || ramp_ms < 0 || join_s < 0 || seconds < 1 || reestimate_ms < 20 ||
      slack_ms < 0 || clock_rate < 1 || (rtp && !b.ports_file) ||
      (!rtp && (!relay || !b.session))) {
    g_printerr ("radio-receivers: give --relay and --session, or --rtp --ports-file "
        "(and positive numbers)\n");
    return 2;
  }
  if (!rtp) {
    const char *colon = strrchr (relay, ':');

    if (!colon || colon == relay) {
      g_printerr ("radio-receivers: --relay HOST:PORT\n");
      return 2;
    }
    b.relay_host = g_strndup (relay, colon - relay);
    b.relay_port = (guint) g_ascii_strtoull (colon + 1, NULL, 10);
    b.session_id = echo_session_id (b.session);
  }
  if (b.token && !*b.token)
    g_clear_pointer (&b.token, g_free);
  b.n = n;
  b.ramp_ms = ramp_ms;
  b.join_s = join_s;
  b.seconds = seconds;
  b.reestimate_ms = reestimate_ms;
  b.rtp = rtp;
  b.rtp_slack_ms = slack_ms;
  b.rtp_clock_rate = clock_rate;
  b.pid = pid;
  /* a descriptor per receiver */
  if (getrlimit (RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit (RLIMIT_NOFILE, &lim);
  }
  if (!run (&b, &error)) {
    g_printerr ("radio-receivers: %s\n", error->message);
    return 1;
  }
  g_free (b.relay_host);
  g_free (b.session);
  g_free (b.token);
  g_free (b.ports_file);
  g_free (b.pid_file);
  return 0;
}
