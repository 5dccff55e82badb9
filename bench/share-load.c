/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * share-load.c: the Music Share seed's stress scenario ("50 sessions with 5 receivers
 * each") against a running echod, measured from the client side.
 *
 * Every session has one sharer and --receivers receivers; every simulated client is one
 * HTTP/1.1 keep-alive connection. Setup: the sharer POSTs /api/share/start and a first
 * /metadata, then each receiver GETs /status (the seed's receiving flow). The run then
 * loads the server for --warmup + --duration seconds:
 *
 *   sharer    POST /audio     every frames/rate (4096/44100 s = 92.9 ms), the seed's JSON
 *             POST /metadata  every 500 ms
 *   receiver  GET  /audio?since=N  every 100 ms (N: the newest sequence it has, first -1)
 *             GET  /metadata       every 500 ms
 *
 * and at the end every sharer POSTs /stop. Only requests whose scheduled time falls in
 * the --duration window after the warm-up make the figures.
 *
 * The schedule is open loop on a fixed grid: a request's latency runs from the time it
 * was due, not from when it could be sent. When a client's previous request is still in
 * flight at that time, the request goes out as soon as the connection is free and counts
 * as a "late start" (its wait is part of its latency; nothing is skipped). A sharer's two
 * request kinds share its one connection, so a metadata POST due during an audio POST is
 * a late start too.
 *
 * The generator is one thread: non-blocking sockets in edge-triggered epoll, request
 * bodies built around one cached base64 text (only timestamp and sequenceNumber change),
 * a small response parser (status line, Content-Length, chunked, body until close), and
 * per-client due times scanned only when the earliest of them is reached.
 *
 * Receivers check what they get: sequence numbers ascending without duplicates, every
 * chunk's data as long as the sharer's, and no chunk missing between the first and the
 * last one they saw (of those the server acknowledged). The time from an audio POST's due
 * time to a receiver holding that chunk is reported as the delivery latency.
 *
 * With --server-pid the server's CPU time (utime+stime from /proc/PID/stat) over the
 * window and its resident memory (VmRSS sampled every second; VmHWM) are reported too.
 *
 * Exit status: 0 when the run completed (errors are figures, not failures), 1 when a
 * receiver saw out-of-order, duplicate or malformed chunks or sessions could not be
 * started or stopped, 2 for bad options or no session at all. bench/run-share-bench runs
 * it against a fresh echod on each store backend.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* memmem */
#define _GNU_SOURCE
#include <glib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define USEC_PER_MSEC 1000
#define MB (1000.0 * 1000.0)
/* a response larger than this is a protocol error (10 chunks of 1 MiB, base64, and room) */
#define MAX_RESPONSE_BYTES (32u * 1024 * 1024)
#define READ_CHUNK (64 * 1024)
/* receive buffers that grew beyond this (a since=-1 answer) are shrunk back afterwards */
#define KEEP_BUFFER_BYTES (256 * 1024)
#define HEAD_MAX 1024
#define TAIL_MAX 1024
#define MAX_TOKEN_LEN 512

/* ---- options ------------------------------------------------------------------------- */

static gchar *opt_host = NULL;
static gint opt_port = 5000;
static gint opt_sessions = 50;
static gint opt_receivers = 5;
static gdouble opt_duration = 60.0;
static gdouble opt_warmup = 5.0;
static gchar *opt_token = NULL;
static gint opt_frames = 4096;
static gint opt_rate = 44100;
static gint opt_channels = 2;
static gint opt_metadata_ms = 500;
static gint opt_poll_ms = 100;
static gint opt_metadata_poll_ms = 500;
static gdouble opt_timeout = 10.0;
static gint opt_session_base = -1;
static gint opt_server_pid = 0;
static gint opt_setup_concurrency = 8;

static GOptionEntry entries[] = {
  {"host", 0, 0, G_OPTION_ARG_STRING, &opt_host,
      "echod's IPv4 address (default 127.0.0.1)", "ADDR"},
  {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "echod's port (default 5000)",
      "PORT"},
  {"sessions", 's', 0, G_OPTION_ARG_INT, &opt_sessions,
      "Share sessions, one sharer each (default 50)", "S"},
  {"receivers", 'r', 0, G_OPTION_ARG_INT, &opt_receivers,
      "Polling receivers per session (default 5)", "R"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Seconds measured, after the warm-up (default 60)", "SECONDS"},
  {"warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &opt_warmup,
      "Seconds of load before the measured window (default 5)", "SECONDS"},
  {"token", 't', 0, G_OPTION_ARG_STRING, &opt_token,
      "Authorization header value, sent verbatim (default \"Bearer Token\")",
      "VALUE"},
  {"frames", 0, 0, G_OPTION_ARG_INT, &opt_frames,
      "Frames per audio chunk (default 4096: 92.9 ms at 44.1 kHz)", "N"},
  {"rate", 0, 0, G_OPTION_ARG_INT, &opt_rate,
      "Sample rate of the shared audio (default 44100)", "HZ"},
  {"channels", 0, 0, G_OPTION_ARG_INT, &opt_channels,
      "Channels of the shared audio (default 2)", "N"},
  {"metadata-interval", 0, 0, G_OPTION_ARG_INT, &opt_metadata_ms,
      "Sharer's metadata POST period (default 500)", "MS"},
  {"poll-interval", 0, 0, G_OPTION_ARG_INT, &opt_poll_ms,
      "Receiver's audio GET period (default 100)", "MS"},
  {"metadata-poll-interval", 0, 0, G_OPTION_ARG_INT, &opt_metadata_poll_ms,
      "Receiver's metadata GET period (default 500)", "MS"},
  {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_timeout,
      "Seconds before a request counts as timed out and its connection is "
      "dropped (default 10)", "SECONDS"},
  {"session-base", 0, 0, G_OPTION_ARG_INT, &opt_session_base,
      "First session id (100000..999999; default random); sessions are numbered "
      "from it", "ID"},
  {"setup-concurrency", 0, 0, G_OPTION_ARG_INT, &opt_setup_concurrency,
      "Setup and teardown requests in flight at once (default 8): 300 clients "
        "connecting in the same millisecond would overflow a small listen backlog and "
        "wait for SYN retransmits", "N"},
  {"server-pid", 0, 0, G_OPTION_ARG_INT, &opt_server_pid,
      "Report this process's CPU and memory over the window (echod's pid)",
      "PID"},
  {NULL}
};

/* ---- request kinds and their figures ------------------------------------------------- */

/* The first N_STEADY kinds are the scheduled load; the others happen once per client in
 * setup and teardown and are reported apart. */
typedef enum
{
  REQ_AUDIO_POST,
  REQ_METADATA_POST,
  REQ_AUDIO_GET,
  REQ_METADATA_GET,
  REQ_START,
  REQ_STATUS,
  REQ_STOP,
  N_REQ
} RequestKind;

#define N_STEADY 4

static const char *const kind_label[N_REQ] = {
  "POST audio", "POST metadata", "GET audio", "GET metadata",
  "POST start", "GET status", "POST stop",
};

static const char *const kind_key[N_REQ] = {
  "audio_post", "metadata_post", "audio_get", "metadata_get",
  "start", "status", "stop",
};

typedef enum
{
  OUTCOME_OK,
  OUTCOME_HTTP,                 /* a response with a non-2xx status */
  OUTCOME_CONNECTION,           /* refused, reset or closed before the response ended */
  OUTCOME_TIMEOUT,
  OUTCOME_PROTOCOL,             /* a response we could not parse */
  OUTCOME_WRONG,                /* 2xx with a body that is not what the API promises */
} Outcome;

typedef struct
{
  guint64 requests;
  guint64 errors;
  guint64 by_outcome[OUTCOME_WRONG + 1];
  guint64 status_count[600];
  guint64 late_starts;
  guint64 bytes_out, bytes_in;
  GArray *latency_us;           /* guint32, every response in the window */
  GArray *dispatch_lag_us;      /* guint32, send time - due time, for on-time starts */
} KindStats;

static KindStats stats[N_REQ];

/* ---- clients and sessions ------------------------------------------------------------ */

typedef enum
{
  RESP_HEAD,
  RESP_BODY_LENGTH,
  RESP_BODY_UNTIL_CLOSE,
  RESP_CHUNK_SIZE,
  RESP_CHUNK_DATA,
  RESP_CHUNK_CRLF,
  RESP_TRAILER,
  RESP_DONE,
} ResponseState;

/* One response being received. The raw bytes are read into buf; the decoded body ends up
 * at buf + body_start (chunked bodies are compacted in place as they are decoded). */
typedef struct
{
  guint8 *buf;
  gsize len, cap;
  ResponseState state;
  int status;
  gboolean keep_alive;
  gsize body_start, body_len;
  gsize scan;                   /* next byte to look at */
  guint64 content_length, chunk_left;
} Response;

/* A request stream on a fixed grid: due(k) = base + k * period. */
typedef struct
{
  RequestKind kind;
  gdouble period_us;
  gint64 base_us;
  guint64 k;
  gint64 due_us;                /* G_MAXINT64: nothing more to send */
} Schedule;

typedef struct _Session Session;

typedef struct
{
  Session *session;
  gboolean is_sharer;
  guint id;                     /* index in the clients array, for epoll */
  int fd;
  guint32 generation;           /* tells events of a closed socket from its successor's */
  gboolean connecting;
  guint requests_on_connection;
  guint connections;
  Schedule schedule[2];         /* [0] audio, [1] metadata */
  gint64 idle_since_us;

  /* the request in flight */
  gboolean busy;
  gboolean in_setup;
  RequestKind kind;
  gint64 due_us, sent_us, deadline_us;
  gint64 seq;                   /* audio POST: its sequenceNumber */
  gboolean retried;
  gchar head[HEAD_MAX];
  gsize head_len;
  const gchar *shared;          /* the cached base64, or NULL */
  gsize shared_len;
  gchar tail[TAIL_MAX];
  gsize tail_len;
  gsize out_off;
  Response resp;

  /* receiver */
  gboolean ready;
  gint64 first_seq, last_seq;
  guint64 received, duplicates, out_of_order, malformed;
  GByteArray *got;              /* got->data[seq] != 0: this chunk arrived */

  /* sharer */
  gint64 next_seq;
} Client;

struct _Session
{
  gchar id[8];
  Client *sharer;
  Client **receivers;
  gboolean started, ready, failed;
  gchar *failure;
  GByteArray *acked;            /* acked->data[seq] != 0: the server took this chunk */
  GArray *due_us;               /* gint64 per seq: when the sharer's POST was due */
};

typedef enum
{
  PHASE_SETUP,
  PHASE_RUN,
  PHASE_DRAIN,
  PHASE_STOP,
  PHASE_DONE,
} Phase;

static Phase phase = PHASE_SETUP;
static int epoll_fd = -1;
static struct sockaddr_in server_addr;
static Client **clients;
static guint n_clients;
static Session *sessions;
static gint64 run_start_us, window_start_us, window_end_us;
static gint64 next_scan_us = G_MAXINT64;
/* setup and teardown steps waiting for one of --setup-concurrency slots */
typedef struct
{
  Client *client;
  RequestKind kind;
} SetupStep;
static GQueue setup_queue = G_QUEUE_INIT;
static guint setup_in_flight;
static guint64 reconnects, stale_retries;
static GArray *delivery_us;     /* guint32: audio POST due -> receiver has the chunk */
static guint64 deliveries_outside_window;

/* the audio every sharer sends */
static gchar *audio_base64;
static gsize audio_base64_len;
static gsize audio_raw_bytes;
static gdouble audio_period_us;
static gchar host_header[128];

/* server sampling */
typedef struct
{
  gboolean ok;
  gdouble cpu_s;
} CpuSample;
static CpuSample server_cpu_start, server_cpu_end;
static gdouble client_cpu_start, client_cpu_end;
static gdouble rss_sum_mb, rss_peak_mb;
static guint rss_samples;
static gint64 next_sample_us = G_MAXINT64;
static gboolean window_started;

/* ---- time ------------------------------------------------------------------------------ */

static gint64
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gint64
wall_ms (void)
{
  return g_get_real_time () / 1000;
}

static gboolean
in_window (gint64 t)
{
  return t >= window_start_us && t < window_end_us;
}

static void
want_scan_at (gint64 t)
{
  if (t < next_scan_us)
    next_scan_us = t;
}

/* ---- the workload: one chunk of audio, encoded once ---------------------------------- */

static void
build_audio (void)
{
  gsize n_samples = (gsize) opt_frames * opt_channels;
  g_autofree guint32 *samples = g_new (guint32, n_samples);

  /* A 440 Hz tone, the channels a little apart; the bits in little-endian order. */
  for (gsize f = 0; f < (gsize) opt_frames; f++) {
    for (gint ch = 0; ch < opt_channels; ch++) {
      gfloat v = 0.5f * sinf ((gfloat) (2.0 * G_PI * 440.0 * f / opt_rate
              + ch * 0.25));
      guint32 bits;

      memcpy (&bits, &v, sizeof bits);
      samples[f * opt_channels + ch] = GUINT32_TO_LE (bits);
    }
  }
  audio_raw_bytes = n_samples * sizeof (guint32);
  audio_base64 = g_base64_encode ((const guchar *) samples, audio_raw_bytes);
  audio_base64_len = strlen (audio_base64);
  audio_period_us = (gdouble) opt_frames * G_USEC_PER_SEC / opt_rate;
}

/* ---- figures ------------------------------------------------------------------------- */

static void
sample_append (GArray * a, gint64 us)
{
  guint32 v = (guint32) CLAMP (us, 0, (gint64) G_MAXUINT32);

  g_array_append_val (a, v);
}

static gint
compare_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static gdouble
percentile_ms (GArray * sorted, gdouble p)
{
  gsize rank;

  if (sorted->len == 0)
    return 0;
  rank = (gsize) ceil (p / 100.0 * sorted->len);
  rank = CLAMP (rank, 1, sorted->len);
  return g_array_index (sorted, guint32, rank - 1) / 1000.0;
}

static gdouble
max_ms (GArray * sorted)
{
  return sorted->len ? g_array_index (sorted, guint32, sorted->len - 1) / 1000.0 : 0;
}

/* ---- /proc sampling ------------------------------------------------------------------- */

static CpuSample
read_cpu (int pid)
{
  CpuSample s = { FALSE, 0 };
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree gchar *text = NULL;
  const gchar *p;
  gchar **fields;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return s;
  /* the command name may hold spaces and parentheses: fields start after the last ')' */
  p = strrchr (text, ')');
  if (p == NULL)
    return s;
  fields = g_strsplit (p + 2, " ", 0);
  /* after ')': state(3) ... utime(14) stime(15) */
  if (g_strv_length (fields) > 12) {
    s.cpu_s = (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12],
            NULL)) / (ticks > 0 ? ticks : 100);
    s.ok = TRUE;
  }
  g_strfreev (fields);
  return s;
}

/* VmRSS or VmHWM in MB, or -1. */
static gdouble
read_status_mb (int pid, const gchar * field)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *p;
  gsize flen = strlen (field);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  for (p = text; p != NULL && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp (p, field, flen) == 0 && p[flen] == ':')
      return g_ascii_strtod (p + flen + 1, NULL) * 1024 / MB;   /* kB */
  }
  return -1;
}

static gdouble
own_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
      + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
sample_server_memory (void)
{
  gdouble rss;

  if (opt_server_pid <= 0)
    return;
  rss = read_status_mb (opt_server_pid, "VmRSS");
  if (rss < 0)
    return;
  rss_sum_mb += rss;
  rss_samples++;
  rss_peak_mb = MAX (rss_peak_mb, rss);
}

/* ---- HTTP response parsing ----------------------------------------------------------- */

static void
response_reset (Response * r)
{
  r->len = 0;
  r->state = RESP_HEAD;
  r->status = 0;
  r->keep_alive = TRUE;
  r->body_start = r->body_len = r->scan = 0;
  r->content_length = r->chunk_left = 0;
  if (r->cap > KEEP_BUFFER_BYTES) {
    g_free (r->buf);
    r->buf = NULL;
    r->cap = 0;
  }
}

static void
response_reserve (Response * r, gsize want)
{
  if (r->cap - r->len >= want)
    return;
  r->cap = MAX (r->cap * 2, r->len + want);
  r->buf = g_realloc (r->buf, r->cap);
}

static const guint8 *
find_crlf (const guint8 * from, const guint8 * end)
{
  const guint8 *p = from;

  while (p < end && (p = memchr (p, '\r', end - p)) != NULL) {
    if (p + 1 < end && p[1] == '\n')
      return p;
    p++;
  }
  return NULL;
}

static gboolean
header_is (const gchar * line, gsize len, const gchar * name, const gchar ** value,
    gsize * value_len)
{
  gsize nlen = strlen (name);
  const gchar *v, *end = line + len;

  if (len <= nlen || line[nlen] != ':' || g_ascii_strncasecmp (line, name, nlen) != 0)
    return FALSE;
  v = line + nlen + 1;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *value = v;
  *value_len = end - v;
  return TRUE;
}

static gboolean
value_has_token (const gchar * v, gsize len, const gchar * token)
{
  g_autofree gchar *copy = g_ascii_strdown (v, len);
  gchar **parts = g_strsplit (copy, ",", 0);
  gboolean found = FALSE;

  for (gchar ** p = parts; *p; p++)
    if (g_strcmp0 (g_strstrip (*p), token) == 0)
      found = TRUE;
  g_strfreev (parts);
  return found;
}

/* The status line and headers are complete at buf[0..head_end). Returns FALSE when they
 * are not HTTP. */
static gboolean
parse_head (Response * r, gsize head_end)
{
  const gchar *p = (const gchar *) r->buf;
  const gchar *end = p + head_end;
  const gchar *line_end = (const gchar *) find_crlf (r->buf, r->buf + head_end);
  gboolean http10, chunked = FALSE, have_length = FALSE, conn_close = FALSE,
      conn_keep = FALSE;
  guint64 length = 0;

  if (line_end == NULL || line_end - p < 12 || strncmp (p, "HTTP/1.", 7) != 0
      || p[8] != ' ' || !g_ascii_isdigit (p[9]) || !g_ascii_isdigit (p[10])
      || !g_ascii_isdigit (p[11]))
    return FALSE;
  http10 = p[7] == '0';
  r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (r->status < 100 || r->status > 599)
    return FALSE;

  for (p = line_end + 2; p < end;) {
    const gchar *eol = (const gchar *) find_crlf ((const guint8 *) p,
        (const guint8 *) end);
    const gchar *v;
    gsize vlen;

    if (eol == NULL)
      eol = end;
    if (header_is (p, eol - p, "content-length", &v, &vlen)) {
      gchar digits[24];
      gchar *stop;

      if (vlen == 0 || vlen >= sizeof digits)
        return FALSE;
      memcpy (digits, v, vlen);
      digits[vlen] = '\0';
      length = g_ascii_strtoull (digits, &stop, 10);
      if (*stop != '\0' || (have_length && length != r->content_length))
        return FALSE;
      have_length = TRUE;
      r->content_length = length;
    } else if (header_is (p, eol - p, "transfer-encoding", &v, &vlen)) {
      chunked = value_has_token (v, vlen, "chunked");
    } else if (header_is (p, eol - p, "connection", &v, &vlen)) {
      conn_close = value_has_token (v, vlen, "close");
      conn_keep = value_has_token (v, vlen, "keep-alive");
    }
    p = eol + 2;
  }

  r->keep_alive = http10 ? (conn_keep && !conn_close) : !conn_close;
  r->body_start = r->scan = head_end;
  r->body_len = 0;
  if (r->status < 200 || r->status == 204 || r->status == 304)
    r->state = RESP_DONE;
  else if (chunked)
    r->state = RESP_CHUNK_SIZE;
  else if (have_length) {
    if (length > MAX_RESPONSE_BYTES)
      return FALSE;
    r->state = RESP_BODY_LENGTH;
  } else {
    r->state = RESP_BODY_UNTIL_CLOSE;
    r->keep_alive = FALSE;
  }
  return TRUE;
}

/* Consumes what has arrived. Returns 1 when the response is complete, 0 when more is
 * needed, -1 on a protocol error. */
static int
response_feed (Response * r)
{
  for (;;) {
    switch (r->state) {
      case RESP_HEAD:{
        gsize from = r->scan > 3 ? r->scan - 3 : 0;
        const guint8 *hit = r->len > from ?
            memmem (r->buf + from, r->len - from, "\r\n\r\n", 4) : NULL;

        if (hit == NULL) {
          r->scan = r->len;
          return r->len > 64 * 1024 ? -1 : 0;
        }
        if (!parse_head (r, hit + 4 - r->buf))
          return -1;
        if (r->status >= 100 && r->status < 200) {
          /* an interim response: drop it and read the real one */
          gsize rest = r->len - r->body_start;

          memmove (r->buf, r->buf + r->body_start, rest);
          r->len = rest;
          r->scan = 0;
          r->state = RESP_HEAD;
        }
        break;
      }
      case RESP_BODY_LENGTH:
        if (r->len - r->body_start < r->content_length)
          return 0;
        if (r->len - r->body_start > r->content_length)
          return -1;            /* bytes nobody asked for */
        r->body_len = r->content_length;
        r->state = RESP_DONE;
        break;
      case RESP_BODY_UNTIL_CLOSE:
        if (r->len - r->body_start > MAX_RESPONSE_BYTES)
          return -1;
        return 0;
      case RESP_CHUNK_SIZE:{
        const guint8 *eol = find_crlf (r->buf + r->scan, r->buf + r->len);
        const guint8 *p;
        guint64 size = 0;
        guint digits = 0;

        if (eol == NULL)
          return r->len - r->scan > 1024 ? -1 : 0;
        for (p = r->buf + r->scan; p < eol && g_ascii_isxdigit (*p); p++, digits++) {
          size = size * 16 + g_ascii_xdigit_value (*p);
          if (digits > 8)
            return -1;
        }
        if (digits == 0 || (p < eol && *p != ';' && *p != ' ' && *p != '\t'))
          return -1;
        r->scan = eol + 2 - r->buf;
        if (size == 0) {
          r->state = RESP_TRAILER;
        } else {
          if (r->body_len + size > MAX_RESPONSE_BYTES)
            return -1;
          r->chunk_left = size;
          r->state = RESP_CHUNK_DATA;
        }
        break;
      }
      case RESP_CHUNK_DATA:{
        gsize avail = r->len - r->scan;
        gsize n = MIN (avail, r->chunk_left);
        gsize dest = r->body_start + r->body_len;

        if (n == 0)
          return 0;
        if (dest != r->scan)
          memmove (r->buf + dest, r->buf + r->scan, n);
        r->body_len += n;
        r->scan += n;
        r->chunk_left -= n;
        /* give the space between the decoded body and the undecoded bytes back */
        if (r->scan > dest + n) {
          gsize rest = r->len - r->scan;

          memmove (r->buf + dest + n, r->buf + r->scan, rest);
          r->scan = dest + n;
          r->len = r->scan + rest;
        }
        if (r->chunk_left == 0)
          r->state = RESP_CHUNK_CRLF;
        break;
      }
      case RESP_CHUNK_CRLF:
        if (r->len - r->scan < 2)
          return 0;
        if (r->buf[r->scan] != '\r' || r->buf[r->scan + 1] != '\n')
          return -1;
        r->scan += 2;
        r->state = RESP_CHUNK_SIZE;
        break;
      case RESP_TRAILER:{
        const guint8 *eol = find_crlf (r->buf + r->scan, r->buf + r->len);

        if (eol == NULL)
          return r->len - r->scan > 16 * 1024 ? -1 : 0;
        if (eol == r->buf + r->scan) {
          r->scan += 2;
          if (r->scan != r->len)
            return -1;
          r->state = RESP_DONE;
        } else {
          r->scan = eol + 2 - r->buf;
        }
        break;
      }
      case RESP_DONE:
        return 1;
    }
  }
}

/* ---- what the responses say ---------------------------------------------------------- */

static gboolean
body_contains (const Response * r, const gchar * needle)
{
  return memmem (r->buf + r->body_start, r->body_len, needle, strlen (needle)) != NULL;
}

/* Whether the body has the member "key": value, value being a JSON literal (true, a
 * number, a quoted string); whitespace around the colon allowed. */
static gboolean
body_has_member (const Response * r, const gchar * key, const gchar * value)
{
  g_autofree gchar *quoted = g_strdup_printf ("\"%s\"", key);
  const gchar *p = (const gchar *) r->buf + r->body_start;
  const gchar *end = p + r->body_len;
  gsize qlen = strlen (quoted), vlen = strlen (value);

  while ((p = memmem (p, end - p, quoted, qlen)) != NULL) {
    p += qlen;
    while (p < end && g_ascii_isspace (*p))
      p++;
    if (p == end || *p != ':')
      continue;
    p++;
    while (p < end && g_ascii_isspace (*p))
      p++;
    if ((gsize) (end - p) >= vlen && memcmp (p, value, vlen) == 0)
      return TRUE;
  }
  return FALSE;
}

static void
note_chunk (Client * c, gint64 seq, gint64 data_len, gint64 now)
{
  Session *s = c->session;

  /* a sequence number the sharer never sent is as wrong as a chunk of the wrong size */
  if (seq < 0 || seq >= s->sharer->next_seq || data_len != (gint64) audio_base64_len) {
    c->malformed++;
    return;
  }
  if (seq <= c->last_seq) {
    if ((guint64) seq < c->got->len && c->got->data[seq])
      c->duplicates++;
    else
      c->out_of_order++;
    return;
  }
  if (c->first_seq < 0)
    c->first_seq = seq;
  c->last_seq = seq;
  c->received++;
  if ((guint64) seq >= c->got->len) {
    guint old = c->got->len;

    g_byte_array_set_size (c->got, MAX ((guint) seq + 1, old * 2));
    memset (c->got->data + old, 0, c->got->len - old);
  }
  c->got->data[seq] = 1;
  if ((guint64) seq < s->due_us->len) {
    gint64 due = g_array_index (s->due_us, gint64, seq);

    if (in_window (due))
      sample_append (delivery_us, now - due);
    else
      deliveries_outside_window++;
  }
}

/* An audio GET answer is a JSON array of the seed's chunk objects. Every string token is
 * walked with memchr (base64 holds no quote, so keys cannot hide inside data); the value
 * of a "data" key gives the length, a "sequenceNumber" key the number. Returns FALSE when
 * the shape is wrong. */
static gboolean
scan_audio_chunks (Client * c, gint64 now)
{
  const gchar *p = (const gchar *) c->resp.buf + c->resp.body_start;
  const gchar *end = p + c->resp.body_len;
  gboolean next_is_data = FALSE;
  gint64 pending_seq = -1, pending_len = -1;
  guint objects = 0, seqs = 0;

  while (p < end && g_ascii_isspace (*p))
    p++;
  if (p == end || *p != '[')
    return FALSE;
  for (; p < end; p++) {
    if (*p == '{') {
      objects++;
      pending_seq = pending_len = -1;
    } else if (*p == '}') {
      if (pending_seq < 0)
        return FALSE;
      note_chunk (c, pending_seq, pending_len, now);
    } else if (*p == '"') {
      const gchar *start = p + 1;
      const gchar *close = memchr (start, '"', end - start);
      gsize len;
      const gchar *after;

      if (close == NULL)
        return FALSE;
      len = close - start;
      after = close + 1;
      while (after < end && g_ascii_isspace (*after))
        after++;
      if (next_is_data) {
        pending_len = len;
        next_is_data = FALSE;
      } else if (after < end && *after == ':') {
        if (len == 4 && memcmp (start, "data", 4) == 0) {
          next_is_data = TRUE;
        } else if (len == 14 && memcmp (start, "sequenceNumber", 14) == 0) {
          gchar *stop;

          pending_seq = g_ascii_strtoll (after + 1, &stop, 10);
          if (stop == after + 1)
            return FALSE;
          seqs++;
        }
      }
      p = close;
    }
  }
  return objects > 0 && objects == seqs;
}

/* Checks a 2xx answer against what the API promises; FALSE makes it OUTCOME_WRONG. */
static gboolean
check_answer (Client * c, gint64 now)
{
  Response *r = &c->resp;
  Session *s = c->session;

  switch (c->kind) {
    case REQ_AUDIO_POST:
      if (!body_has_member (r, "success", "true"))
        return FALSE;
      if ((guint64) c->seq >= s->acked->len) {
        guint old = s->acked->len;

        g_byte_array_set_size (s->acked, MAX ((guint) c->seq + 1, old * 2));
        memset (s->acked->data + old, 0, s->acked->len - old);
      }
      s->acked->data[c->seq] = 1;
      return TRUE;
    case REQ_AUDIO_GET:
      if (r->status == 204)
        return TRUE;
      return scan_audio_chunks (c, now);
    case REQ_METADATA_GET:
      return body_contains (r, "\"title\"");
    case REQ_STATUS:
      return body_has_member (r, "isActive", "true");
    case REQ_START:
      return body_has_member (r, "success", "true") && body_contains (r, s->id);
    case REQ_METADATA_POST:
    case REQ_STOP:
      return body_has_member (r, "success", "true");
    case N_REQ:
      break;
  }
  return FALSE;
}

/* ---- connections and requests ----------------------------------------------------------- */

static void client_kick (Client * c, gint64 now);
static void client_fail (Client * c, Outcome outcome, gint64 now);
static void client_lost (Client * c, gint64 now);

static guint64
epoll_key (Client * c)
{
  return ((guint64) c->generation << 32) | c->id;
}

static void
client_close (Client * c)
{
  if (c->fd >= 0) {
    epoll_ctl (epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    c->fd = -1;
  }
  c->generation++;
  c->connecting = FALSE;
  c->requests_on_connection = 0;
}

static gboolean
client_connect (Client * c)
{
  struct epoll_event ev = { 0, };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    g_printerr ("share-load: socket: %s\n", g_strerror (errno));
    return FALSE;
  }
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->generation++;
  if (connect (c->fd, (struct sockaddr *) &server_addr, sizeof server_addr) < 0) {
    if (errno != EINPROGRESS) {
      close (c->fd);
      c->fd = -1;
      return FALSE;
    }
    c->connecting = TRUE;
  }
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = epoll_key (c);
  if (epoll_ctl (epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    g_printerr ("share-load: epoll_ctl: %s\n", g_strerror (errno));
    close (c->fd);
    c->fd = -1;
    return FALSE;
  }
  if (c->connections++ > 0)
    reconnects++;
  return TRUE;
}

/* Writes what the socket takes. 1: all sent, 0: wait for EPOLLOUT, -1: failed. */
static int
client_flush (Client * c)
{
  while (c->busy) {
    struct iovec iov[3];
    int n_iov = 0;
    gsize off = c->out_off, total = c->head_len + c->shared_len + c->tail_len;
    ssize_t n;

    if (off >= total)
      return 1;
    if (off < c->head_len) {
      iov[n_iov].iov_base = c->head + off;
      iov[n_iov++].iov_len = c->head_len - off;
      off = c->head_len;
    }
    if (off < c->head_len + c->shared_len) {
      gsize o = off - c->head_len;

      iov[n_iov].iov_base = (gchar *) c->shared + o;
      iov[n_iov++].iov_len = c->shared_len - o;
      off = c->head_len + c->shared_len;
    }
    if (off < total) {
      gsize o = off - c->head_len - c->shared_len;

      iov[n_iov].iov_base = c->tail + o;
      iov[n_iov++].iov_len = c->tail_len - o;
    }
    n = writev (c->fd, iov, n_iov);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      return -1;
    }
    c->out_off += n;
  }
  return 1;
}

/* Sends (or re-sends, on a fresh connection) the request prepared in c. */
static void
client_transmit (Client * c, gint64 now)
{
  int rc;

  c->out_off = 0;
  response_reset (&c->resp);
  if (c->fd < 0 && !client_connect (c)) {
    client_fail (c, OUTCOME_CONNECTION, now);
    return;
  }
  c->requests_on_connection++;
  if (c->connecting)
    return;
  rc = client_flush (c);
  if (rc < 0)
    client_lost (c, now);
}

/* Prepares a request: head (with the start of the body when the body is the cached
 * base64), the shared base64, and the tail. */
static void
client_begin (Client * c, RequestKind kind, gint64 due, gint64 now)
{
  Session *s = c->session;
  const gchar *method = "GET";
  g_autofree gchar *path = NULL;
  const gchar *body_head = "";
  gsize content_length = 0;
  gboolean has_body = FALSE;
  int n;

  c->busy = TRUE;
  c->kind = kind;
  c->due_us = due;
  c->sent_us = now;
  c->deadline_us = now + (gint64) (opt_timeout * G_USEC_PER_SEC);
  c->retried = FALSE;
  c->shared = NULL;
  c->shared_len = 0;
  c->tail_len = 0;
  want_scan_at (c->deadline_us);

  switch (kind) {
    case REQ_START:
      method = "POST";
      path = g_strdup ("/api/share/start");
      c->tail_len = g_snprintf (c->tail, TAIL_MAX, "{\"sessionId\":\"%s\"}", s->id);
      has_body = TRUE;
      break;
    case REQ_AUDIO_POST:
      method = "POST";
      path = g_strdup_printf ("/api/share/%s/audio", s->id);
      c->seq = c->next_seq++;
      body_head = "{\"data\":\"";
      c->shared = audio_base64;
      c->shared_len = audio_base64_len;
      c->tail_len = g_snprintf (c->tail, TAIL_MAX,
          "\",\"sampleRate\":%d,\"channels\":%d,\"timestamp\":%" G_GINT64_FORMAT
          ",\"sequenceNumber\":%" G_GINT64_FORMAT "}", opt_rate, opt_channels,
          wall_ms (), c->seq);
      if ((guint64) c->seq >= s->due_us->len)
        g_array_set_size (s->due_us, MAX ((guint) c->seq + 1, s->due_us->len * 2));
      g_array_index (s->due_us, gint64, c->seq) = due;
      has_body = TRUE;
      break;
    case REQ_METADATA_POST:{
      gdouble elapsed = (now - run_start_us) / 1e6;

      method = "POST";
      path = g_strdup_printf ("/api/share/%s/metadata", s->id);
      c->tail_len = g_snprintf (c->tail, TAIL_MAX,
          "{\"title\":\"Load Test Song %s\",\"artist\":\"Echo Load Generator\","
          "\"lyrics\":\"[00:12.50]Lyrics line 1\\n[00:15.80]Lyrics line 2\","
          "\"hasSyncedLyrics\":true,\"elapsedSeconds\":%.1f,\"totalSeconds\":180.5,"
          "\"thumbnailData\":null,\"timestamp\":%" G_GINT64_FORMAT "}", s->id,
          fmod (MAX (elapsed, 0), 180.5), wall_ms ());
      has_body = TRUE;
      break;
    }
    case REQ_AUDIO_GET:
      path = g_strdup_printf ("/api/share/%s/audio?since=%" G_GINT64_FORMAT, s->id,
          c->last_seq);
      break;
    case REQ_METADATA_GET:
      path = g_strdup_printf ("/api/share/%s/metadata", s->id);
      break;
    case REQ_STATUS:
      path = g_strdup_printf ("/api/share/%s/status", s->id);
      break;
    case REQ_STOP:
      method = "POST";
      path = g_strdup_printf ("/api/share/%s/stop", s->id);
      has_body = TRUE;
      break;
    case N_REQ:
      g_assert_not_reached ();
  }

  content_length = strlen (body_head) + c->shared_len + c->tail_len;
  if (has_body)
    n = g_snprintf (c->head, HEAD_MAX, "%s %s HTTP/1.1\r\nHost: %s\r\n"
        "Authorization: %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n%s", method, path, host_header,
        opt_token, content_length, body_head);
  else
    n = g_snprintf (c->head, HEAD_MAX, "%s %s HTTP/1.1\r\nHost: %s\r\n"
        "Authorization: %s\r\n\r\n", method, path, host_header, opt_token);
  g_assert (n > 0 && n < HEAD_MAX);
  c->head_len = n;
  g_assert (c->tail_len < TAIL_MAX);
  stats[kind].bytes_out += c->head_len + c->shared_len + c->tail_len;
  client_transmit (c, now);
}

static gboolean
counts (Client * c)
{
  return c->kind >= N_STEADY || (!c->in_setup && in_window (c->due_us));
}

static void after_setup_step (Client * c, Outcome outcome, int status, gint64 now);
static void setup_pump (gint64 now);

/* The request in flight ended: figures, then the next step. */
static void
client_finish (Client * c, Outcome outcome, gint64 now)
{
  KindStats *st = &stats[c->kind];
  gboolean ok = outcome == OUTCOME_OK;
  int status = c->resp.status;
  gboolean keep;

  if (counts (c)) {
    st->requests++;
    st->by_outcome[outcome]++;
    if (!ok)
      st->errors++;
    if (c->resp.status > 0)
      st->status_count[c->resp.status]++;
    if (outcome == OUTCOME_OK || outcome == OUTCOME_HTTP || outcome == OUTCOME_WRONG)
      sample_append (st->latency_us, now - c->due_us);
  }
  keep = ok || outcome == OUTCOME_HTTP || outcome == OUTCOME_WRONG;
  if (!keep || !c->resp.keep_alive || c->resp.state != RESP_DONE)
    client_close (c);
  c->busy = FALSE;
  c->idle_since_us = now;
  response_reset (&c->resp);

  if (c->in_setup) {
    setup_in_flight--;
    after_setup_step (c, outcome, status, now);
    setup_pump (now);
  } else
    client_kick (c, now);
}

static void
client_fail (Client * c, Outcome outcome, gint64 now)
{
  client_close (c);
  client_finish (c, outcome, now);
}

static void
client_response_done (Client * c, gint64 now)
{
  int status = c->resp.status;
  Outcome outcome;

  if (status < 200 || status > 299)
    outcome = OUTCOME_HTTP;
  else if (!check_answer (c, now))
    outcome = OUTCOME_WRONG;
  else
    outcome = OUTCOME_OK;
  client_finish (c, outcome, now);
}

/* EOF or a reset while a request is out. A keep-alive connection the server closed just
 * as the request went out gets the request once more on a fresh one. */
static void
client_lost (Client * c, gint64 now)
{
  if (c->resp.state == RESP_BODY_UNTIL_CLOSE) {
    c->resp.body_len = c->resp.len - c->resp.body_start;
    c->resp.state = RESP_DONE;
    c->resp.keep_alive = FALSE;
    client_response_done (c, now);
    return;
  }
  if (c->resp.len == 0 && c->requests_on_connection > 1 && !c->retried) {
    client_close (c);
    c->retried = TRUE;
    stale_retries++;
    client_transmit (c, now);
    return;
  }
  client_fail (c, OUTCOME_CONNECTION, now);
}

static void
client_read (Client * c, gint64 now)
{
  guint32 generation = c->generation;

  while (c->fd >= 0 && c->generation == generation) {
    ssize_t n;
    int rc;

    if (c->resp.state == RESP_BODY_LENGTH)
      response_reserve (&c->resp, MAX ((gsize) 4096,
              MIN (c->resp.body_start + c->resp.content_length - c->resp.len + 1,
                  (gsize) 4 * 1024 * 1024)));
    else
      response_reserve (&c->resp, READ_CHUNK);
    n = recv (c->fd, c->resp.buf + c->resp.len, c->resp.cap - c->resp.len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      if (c->busy)
        client_lost (c, now);
      else
        client_close (c);
      return;
    }
    if (n == 0) {
      if (c->busy)
        client_lost (c, now);
      else
        client_close (c);       /* the server closed an idle keep-alive connection */
      return;
    }
    if (!c->busy) {
      client_close (c);         /* bytes nobody asked for */
      return;
    }
    c->resp.len += n;
    stats[c->kind].bytes_in += n;
    rc = response_feed (&c->resp);
    if (rc < 0) {
      client_fail (c, OUTCOME_PROTOCOL, now);
      return;
    }
    if (rc > 0) {
      if (c->out_off < c->head_len + c->shared_len + c->tail_len)
        c->resp.keep_alive = FALSE;     /* answered before the body was all sent */
      client_response_done (c, now);
    }
  }
}

static void
client_event (Client * c, guint32 events, gint64 now)
{
  guint32 generation = c->generation;

  if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
      client_fail (c, OUTCOME_CONNECTION, now);
      return;
    }
    c->connecting = FALSE;
  }
  if (c->busy && !c->connecting && (events & EPOLLOUT)) {
    if (client_flush (c) < 0) {
      client_lost (c, now);
      return;
    }
  }
  if (c->generation == generation
      && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    client_read (c, now);
}

/* ---- schedules and phases -------------------------------------------------------------- */

static void
schedule_init (Schedule * sch, RequestKind kind, gdouble period_us, gint64 first_us)
{
  sch->kind = kind;
  sch->period_us = period_us;
  sch->base_us = first_us;
  sch->k = 0;
  sch->due_us = first_us;
}

static void
schedule_advance (Schedule * sch)
{
  sch->k++;
  sch->due_us = sch->base_us + (gint64) llround (sch->k * sch->period_us);
  if (sch->due_us >= window_end_us)
    sch->due_us = G_MAXINT64;
}

/* Starts the client's most overdue scheduled request, if any is due. */
static void
client_kick (Client * c, gint64 now)
{
  Schedule *sch;

  if (c->busy || phase != PHASE_RUN || !c->ready)
    return;
  sch = c->schedule[0].due_us <= c->schedule[1].due_us ? &c->schedule[0] :
      &c->schedule[1];
  if (sch->due_us == G_MAXINT64)
    return;
  if (sch->due_us > now) {
    want_scan_at (sch->due_us);
    return;
  }
  {
    gint64 due = sch->due_us;
    RequestKind kind = sch->kind;

    schedule_advance (sch);
    if (in_window (due)) {
      if (due < c->idle_since_us)
        stats[kind].late_starts++;
      else
        sample_append (stats[kind].dispatch_lag_us, now - due);
    }
    client_begin (c, kind, due, now);
  }
}

static void
session_fail (Session * s, const gchar * what, int status, Outcome outcome)
{
  static const gchar *const outcome_name[] = {
    "ok", "HTTP error", "connection failed", "timed out", "unparsable response",
    "unexpected body"
  };

  if (s->failed)
    return;
  s->failed = TRUE;
  if (status > 0)
    s->failure = g_strdup_printf ("%s: HTTP %d", what, status);
  else
    s->failure = g_strdup_printf ("%s: %s", what, outcome_name[outcome]);
}

static void
setup_pump (gint64 now)
{
  while (setup_in_flight < (guint) opt_setup_concurrency
      && !g_queue_is_empty (&setup_queue)) {
    SetupStep *step = g_queue_pop_head (&setup_queue);
    Client *c = step->client;
    RequestKind kind = step->kind;

    g_free (step);
    c->in_setup = TRUE;
    setup_in_flight++;
    client_begin (c, kind, now, now);
  }
}

static void
setup_request (Client * c, RequestKind kind, gint64 now)
{
  SetupStep *step = g_new (SetupStep, 1);

  step->client = c;
  step->kind = kind;
  g_queue_push_tail (&setup_queue, step);
  setup_pump (now);
}

static void
after_setup_step (Client * c, Outcome outcome, int status, gint64 now)
{
  Session *s = c->session;
  RequestKind done = c->kind;

  c->in_setup = FALSE;
  if (outcome != OUTCOME_OK) {
    session_fail (s, kind_label[done], outcome == OUTCOME_HTTP ? status : 0, outcome);
    return;
  }
  if (done == REQ_STOP)
    return;
  switch (done) {
    case REQ_START:
      s->started = TRUE;
      /* a first metadata POST so that receivers' metadata polls find some */
      setup_request (c, REQ_METADATA_POST, now);
      break;
    case REQ_METADATA_POST:
      s->ready = TRUE;
      c->ready = TRUE;
      for (gint i = 0; i < opt_receivers; i++)
        setup_request (s->receivers[i], REQ_STATUS, now);
      break;
    case REQ_STATUS:
      c->ready = TRUE;
      break;
    default:
      break;
  }
}

static gboolean
any_busy (void)
{
  for (guint i = 0; i < n_clients; i++)
    if (clients[i]->busy)
      return TRUE;
  return FALSE;
}

static void
begin_run (gint64 now)
{
  guint n_sessions = opt_sessions;

  run_start_us = now;
  window_start_us = now + (gint64) (opt_warmup * G_USEC_PER_SEC);
  window_end_us = window_start_us + (gint64) (opt_duration * G_USEC_PER_SEC);
  /* Spread every kind's first requests evenly over its period, so that 300 clients do
   * not all fire in the same millisecond. */
  for (guint i = 0; i < n_sessions; i++) {
    Session *s = &sessions[i];
    gdouble f = (gdouble) i / n_sessions;

    if (!s->ready)
      continue;
    schedule_init (&s->sharer->schedule[0], REQ_AUDIO_POST, audio_period_us,
        now + (gint64) (f * audio_period_us));
    schedule_init (&s->sharer->schedule[1], REQ_METADATA_POST,
        opt_metadata_ms * 1000.0, now + (gint64) ((f + 0.5 / n_sessions) *
            opt_metadata_ms * 1000.0));
    for (gint r = 0; r < opt_receivers; r++) {
      Client *c = s->receivers[r];
      gdouble g = (gdouble) (i * opt_receivers + r) / (n_sessions * opt_receivers);

      schedule_init (&c->schedule[0], REQ_AUDIO_GET, opt_poll_ms * 1000.0,
          now + (gint64) (g * opt_poll_ms * 1000.0));
      schedule_init (&c->schedule[1], REQ_METADATA_GET,
          opt_metadata_poll_ms * 1000.0,
          now + (gint64) ((g + 0.5 / (n_sessions * opt_receivers)) *
              opt_metadata_poll_ms * 1000.0));
    }
  }
  phase = PHASE_RUN;
  next_sample_us = window_start_us;
  next_scan_us = now;
}

static void
begin_stop (gint64 now)
{
  phase = PHASE_STOP;
  for (gint i = 0; i < opt_sessions; i++) {
    Session *s = &sessions[i];

    if (s->started)
      setup_request (s->sharer, REQ_STOP, now);
  }
}

/* Deadlines, due requests, window edges and memory samples; returns when to look again. */
static void
scan (gint64 now)
{
  next_scan_us = G_MAXINT64;
  if (phase == PHASE_RUN && !window_started && now >= window_start_us) {
    window_started = TRUE;
    if (opt_server_pid > 0)
      server_cpu_start = read_cpu (opt_server_pid);
    client_cpu_start = own_cpu_seconds ();
  }
  if (opt_server_pid > 0 && phase == PHASE_RUN && now >= next_sample_us) {
    sample_server_memory ();
    next_sample_us += G_USEC_PER_SEC;
    if (next_sample_us >= window_end_us)
      next_sample_us = G_MAXINT64;
  }
  if (phase == PHASE_RUN && now >= window_end_us) {
    if (opt_server_pid > 0)
      server_cpu_end = read_cpu (opt_server_pid);
    client_cpu_end = own_cpu_seconds ();
    phase = PHASE_DRAIN;
  }
  for (guint i = 0; i < n_clients; i++) {
    Client *c = clients[i];

    if (c->busy && now >= c->deadline_us)
      client_fail (c, OUTCOME_TIMEOUT, now);
    if (c->busy)
      want_scan_at (c->deadline_us);
    else
      client_kick (c, now);
  }
  if (phase == PHASE_RUN) {
    want_scan_at (window_end_us);
    if (!window_started)
      want_scan_at (window_start_us);
    if (opt_server_pid > 0)
      want_scan_at (next_sample_us);
  }
}

/* ---- report ---------------------------------------------------------------------------- */

static void
print_row (const gchar * label, guint64 requests, guint64 errors, guint64 late,
    GArray * sorted, gdouble mb_out, gdouble mb_in)
{
  g_print ("  %-14s %9" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT
      " %8.2f %8.2f %8.2f %9.2f %9.1f %9.1f\n", label, requests, errors, late,
      percentile_ms (sorted, 50), percentile_ms (sorted, 90), percentile_ms (sorted,
          99), max_ms (sorted), mb_out, mb_in);
}

static void
print_status_breakdown (void)
{
  gboolean any = FALSE;

  for (guint k = 0; k < N_REQ; k++) {
    KindStats *st = &stats[k];
    GString *line;

    if (st->errors == 0)
      continue;
    line = g_string_new (NULL);
    for (guint code = 100; code < 600; code++)
      if (st->status_count[code] && (code < 200 || code > 299))
        g_string_append_printf (line, " HTTP %u x%" G_GUINT64_FORMAT ";", code,
            st->status_count[code]);
    if (st->by_outcome[OUTCOME_CONNECTION])
      g_string_append_printf (line, " connection x%" G_GUINT64_FORMAT ";",
          st->by_outcome[OUTCOME_CONNECTION]);
    if (st->by_outcome[OUTCOME_TIMEOUT])
      g_string_append_printf (line, " timeout x%" G_GUINT64_FORMAT ";",
          st->by_outcome[OUTCOME_TIMEOUT]);
    if (st->by_outcome[OUTCOME_PROTOCOL])
      g_string_append_printf (line, " unparsable x%" G_GUINT64_FORMAT ";",
          st->by_outcome[OUTCOME_PROTOCOL]);
    if (st->by_outcome[OUTCOME_WRONG])
      g_string_append_printf (line, " unexpected body x%" G_GUINT64_FORMAT ";",
          st->by_outcome[OUTCOME_WRONG]);
    if (!any)
      g_print ("errors:\n");
    any = TRUE;
    g_print ("  %-14s%s\n", kind_label[k], line->str);
    g_string_free (line, TRUE);
  }
}

/* Returns whether the receivers' checks passed. */
static gboolean
report (gdouble window_s)
{
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) lag = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint64 total_req = 0, total_err = 0, total_late = 0;
  gdouble total_out = 0, total_in = 0;
  guint64 received = 0, expected = 0, missing = 0, dups = 0, disorder = 0, bad = 0;
  gint64 end_lag_max = 0;
  guint receivers_with_chunks = 0, n_receivers = 0, failed_sessions = 0;
  gboolean ok = TRUE;

  for (guint k = 0; k < N_REQ; k++)
    g_array_sort (stats[k].latency_us, compare_u32);
  g_array_sort (delivery_us, compare_u32);

  g_print ("\nmeasured window %.1f s (after %.1f s of warm-up); latency = response "
      "complete - time the request was due, in ms\n", window_s, opt_warmup);
  g_print ("  %-14s %9s %7s %6s %8s %8s %8s %9s %9s %9s\n", "request", "requests",
      "errors", "late", "p50", "p90", "p99", "max", "MB out", "MB in");
  for (guint k = 0; k < N_STEADY; k++) {
    KindStats *st = &stats[k];

    print_row (kind_label[k], st->requests, st->errors, st->late_starts,
        st->latency_us, st->bytes_out / MB, st->bytes_in / MB);
    g_array_append_vals (all, st->latency_us->data, st->latency_us->len);
    g_array_append_vals (lag, st->dispatch_lag_us->data, st->dispatch_lag_us->len);
    total_req += st->requests;
    total_err += st->errors;
    total_late += st->late_starts;
    total_out += st->bytes_out / MB;
    total_in += st->bytes_in / MB;
  }
  g_array_sort (all, compare_u32);
  g_array_sort (lag, compare_u32);
  print_row ("all", total_req, total_err, total_late, all, total_out, total_in);
  g_print ("  (MB are bytes on the wire over the whole run, warm-up included: "
      "%.1f MB/s out, %.1f MB/s in)\n", total_out / (window_s + opt_warmup),
      total_in / (window_s + opt_warmup));
  g_print ("setup and teardown:\n");
  for (guint k = N_STEADY; k < N_REQ; k++) {
    KindStats *st = &stats[k];

    print_row (kind_label[k], st->requests, st->errors, st->late_starts,
        st->latency_us, st->bytes_out / MB, st->bytes_in / MB);
  }
  g_print ("audio delivery (sharer's POST due -> a receiver has the chunk): %u deliveries, "
      "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", delivery_us->len,
      percentile_ms (delivery_us, 50), percentile_ms (delivery_us, 90),
      percentile_ms (delivery_us, 99), max_ms (delivery_us));
  if (lag->len > 0)
    g_print ("generator: timer lag of on-time sends p99 %.2f ms, max %.2f ms; ",
        percentile_ms (lag, 99), max_ms (lag));
  else
    g_print ("generator: no request could be sent on time (every one was a late start); ");
  g_print ("%" G_GUINT64_FORMAT " reconnects, %" G_GUINT64_FORMAT " resent on a fresh "
      "connection\n", reconnects, stale_retries);

  for (gint i = 0; i < opt_sessions; i++) {
    Session *s = &sessions[i];
    gint64 sharer_last = -1;

    for (gint64 q = (gint64) s->acked->len - 1; q >= 0; q--)
      if (s->acked->data[q]) {
        sharer_last = q;
        break;
      }
    if (s->failed) {
      failed_sessions++;
      if (failed_sessions <= 5)
        g_print ("session %s failed: %s\n", s->id, s->failure);
    }
    if (!s->ready)
      continue;
    for (gint r = 0; r < opt_receivers; r++) {
      Client *c = s->receivers[r];

      n_receivers++;
      received += c->received;
      dups += c->duplicates;
      disorder += c->out_of_order;
      bad += c->malformed;
      if (c->first_seq < 0)
        continue;
      receivers_with_chunks++;
      for (gint64 q = c->first_seq; q <= c->last_seq; q++) {
        gboolean acked = (guint64) q < s->acked->len && s->acked->data[q];
        gboolean got = (guint64) q < c->got->len && c->got->data[q];

        if (acked || got)
          expected++;
        if (acked && !got)
          missing++;
      }
      end_lag_max = MAX (end_lag_max, sharer_last - c->last_seq);
    }
  }
  g_print ("receivers: %u of %u got audio; %" G_GUINT64_FORMAT " chunks received of %"
      G_GUINT64_FORMAT " expected between each one's first and last (%" G_GUINT64_FORMAT
      " missing); %" G_GUINT64_FORMAT " duplicates, %" G_GUINT64_FORMAT
      " out of order, %" G_GUINT64_FORMAT " malformed; at the end at most %"
      G_GINT64_FORMAT " chunks behind the sharer\n", receivers_with_chunks, n_receivers,
      received, expected, missing, dups, disorder, bad, end_lag_max);
  if (dups || disorder || bad) {
    g_print ("share-load: CHECK FAILED: receivers saw duplicate, out-of-order or "
        "malformed chunks\n");
    ok = FALSE;
  }
  if (failed_sessions) {
    g_print ("share-load: CHECK FAILED: %u of %d sessions failed in setup or teardown\n",
        failed_sessions, opt_sessions);
    ok = FALSE;
  }
  print_status_breakdown ();

  if (opt_server_pid > 0) {
    gdouble hwm = read_status_mb (opt_server_pid, "VmHWM");
    gdouble cpu = server_cpu_start.ok && server_cpu_end.ok ?
        100.0 * (server_cpu_end.cpu_s - server_cpu_start.cpu_s) / window_s : -1;

    g_print ("server pid %d over the window: cpu %.1f%% of one core; rss avg %.1f MB, "
        "peak %.1f MB (%u samples); VmHWM %.1f MB\n", opt_server_pid, cpu,
        rss_samples ? rss_sum_mb / rss_samples : -1, rss_samples ? rss_peak_mb : -1,
        rss_samples, hwm);
    g_print ("share-load: server_cpu_pct=%.1f server_rss_avg_mb=%.1f "
        "server_rss_peak_mb=%.1f server_hwm_mb=%.1f\n", cpu,
        rss_samples ? rss_sum_mb / rss_samples : -1, rss_samples ? rss_peak_mb : -1,
        hwm);
  }
  g_print ("share-load: client_cpu_pct=%.1f\n",
      100.0 * (client_cpu_end - client_cpu_start) / window_s);
  for (guint k = 0; k < N_REQ; k++) {
    KindStats *st = &stats[k];

    g_print ("share-load: type=%s requests=%" G_GUINT64_FORMAT " errors=%"
        G_GUINT64_FORMAT " late=%" G_GUINT64_FORMAT " p50_ms=%.2f p90_ms=%.2f "
        "p99_ms=%.2f max_ms=%.2f\n", kind_key[k], st->requests, st->errors,
        st->late_starts, percentile_ms (st->latency_us, 50),
        percentile_ms (st->latency_us, 90), percentile_ms (st->latency_us, 99),
        max_ms (st->latency_us));
  }
  g_print ("share-load: type=delivery chunks=%u missing=%" G_GUINT64_FORMAT
      " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", delivery_us->len, missing,
      percentile_ms (delivery_us, 50), percentile_ms (delivery_us, 99),
      max_ms (delivery_us));
  g_print ("share-load: requests=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT
      " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", total_req, total_err,
      percentile_ms (all, 50), percentile_ms (all, 99), max_ms (all));
  return ok;
}

/* ---- main ------------------------------------------------------------------------------ */

static Client *
client_new (Session * s, gboolean is_sharer)
{
  Client *c = g_new0 (Client, 1);

  c->session = s;
  c->is_sharer = is_sharer;
  c->id = n_clients;
  c->fd = -1;
  c->first_seq = c->last_seq = -1;
  c->got = g_byte_array_new ();
  c->schedule[0].due_us = c->schedule[1].due_us = G_MAXINT64;
  response_reset (&c->resp);
  clients[n_clients++] = c;
  return c;
}

static void
client_free (Client * c)
{
  client_close (c);
  g_free (c->resp.buf);
  g_byte_array_unref (c->got);
  g_free (c);
}

static gboolean
setup_done (void)
{
  for (gint i = 0; i < opt_sessions; i++) {
    Session *s = &sessions[i];

    if (s->failed)
      continue;
    if (!s->ready)
      return FALSE;
    for (gint r = 0; r < opt_receivers; r++)
      if (!s->receivers[r]->ready && !s->failed)
        return FALSE;
  }
  return TRUE;
}

static void
run_loop (void)
{
  struct epoll_event events[256];
  gint64 setup_deadline = now_us () + (gint64) (2 * opt_timeout * G_USEC_PER_SEC) +
      30 * G_USEC_PER_SEC;

  while (phase != PHASE_DONE) {
    gint64 now = now_us ();
    gint64 timeout_us;
    struct timespec timeout;
    int n;

    if (now >= next_scan_us)
      scan (now);
    switch (phase) {
      case PHASE_SETUP:
        if (setup_done ()) {
          begin_run (now);
          continue;
        }
        if (now > setup_deadline) {
          for (gint i = 0; i < opt_sessions; i++)
            if (!sessions[i].ready)
              session_fail (&sessions[i], "setup", 0, OUTCOME_TIMEOUT);
          begin_run (now);
          continue;
        }
        break;
      case PHASE_DRAIN:
        if (!any_busy ()) {
          begin_stop (now);
          continue;
        }
        break;
      case PHASE_STOP:
        if (!any_busy () && g_queue_is_empty (&setup_queue))
          phase = PHASE_DONE;
        break;
      default:
        break;
    }
    if (phase == PHASE_DONE)
      break;

    /* epoll_pwait2 takes a timeout in ns: epoll_wait's whole milliseconds would add up
     * to 1 ms of lateness to every request */
    timeout_us = next_scan_us == G_MAXINT64 ? G_USEC_PER_SEC :
        CLAMP (next_scan_us - now, 0, G_USEC_PER_SEC);
    if (phase == PHASE_SETUP || phase == PHASE_DRAIN || phase == PHASE_STOP)
      timeout_us = MIN (timeout_us, 100 * USEC_PER_MSEC);
    timeout.tv_sec = timeout_us / G_USEC_PER_SEC;
    timeout.tv_nsec = (timeout_us % G_USEC_PER_SEC) * 1000;
    n = epoll_pwait2 (epoll_fd, events, G_N_ELEMENTS (events), &timeout, NULL);
    if (n < 0 && errno == ENOSYS)
      n = epoll_wait (epoll_fd, events, G_N_ELEMENTS (events),
          (int) ((timeout_us + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_printerr ("share-load: epoll_wait: %s\n", g_strerror (errno));
      exit (2);
    }
    now = now_us ();
    for (int i = 0; i < n; i++) {
      guint32 id = (guint32) (events[i].data.u64 & 0xffffffffu);
      guint32 generation = (guint32) (events[i].data.u64 >> 32);
      Client *c = clients[id];

      if (c->generation == generation && c->fd >= 0)
        client_event (c, events[i].events, now);
    }
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ok;
  struct rlimit nofile;
  gint64 window_us;

  ctx = g_option_context_new ("- the Music Share seed's load test (S sessions, 1 "
      "sharer + R polling receivers each) against a running echod");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (opt_host == NULL)
    opt_host = g_strdup ("127.0.0.1");
  if (opt_token == NULL)
    opt_token = g_strdup ("Bearer Token");
  if (opt_sessions < 1 || opt_receivers < 0 || opt_duration <= 0 || opt_warmup < 0
      || opt_frames < 1 || opt_rate < 1 || opt_channels < 1 || opt_metadata_ms < 1
      || opt_poll_ms < 1 || opt_metadata_poll_ms < 1 || opt_timeout <= 0
      || opt_port < 1 || opt_port > 65535 || opt_setup_concurrency < 1) {
    g_printerr ("share-load: counts, periods and durations must be positive\n");
    return 2;
  }
  if (opt_sessions > 900000 || (opt_session_base >= 0 && (opt_session_base < 100000
              || opt_session_base + opt_sessions - 1 > 999999))) {
    g_printerr ("share-load: session ids are 6 digits: --session-base 100000.."
        "%d\n", 999999 - opt_sessions + 1);
    return 2;
  }
  if (strlen (opt_token) > MAX_TOKEN_LEN || strpbrk (opt_token, "\r\n") != NULL) {
    g_printerr ("share-load: --token must be one line of at most %d bytes\n",
        MAX_TOKEN_LEN);
    return 2;
  }
  memset (&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons (opt_port);
  if (inet_pton (AF_INET, opt_host, &server_addr.sin_addr) != 1) {
    g_printerr ("share-load: --host must be an IPv4 address\n");
    return 2;
  }
  g_snprintf (host_header, sizeof host_header, "%s:%d", opt_host, opt_port);
  if (opt_session_base < 0)
    opt_session_base = g_random_int_range (100000, 999999 - opt_sessions + 2);

  signal (SIGPIPE, SIG_IGN);
  /* one descriptor per client, and some spare */
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0) {
    rlim_t want = (rlim_t) opt_sessions * (1 + opt_receivers) + 64;

    if (nofile.rlim_cur < want) {
      nofile.rlim_cur = MIN (want, nofile.rlim_max);
      setrlimit (RLIMIT_NOFILE, &nofile);
    }
  }
  epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    g_printerr ("share-load: epoll_create1: %s\n", g_strerror (errno));
    return 2;
  }

  build_audio ();
  for (guint k = 0; k < N_REQ; k++) {
    stats[k].latency_us = g_array_new (FALSE, FALSE, sizeof (guint32));
    stats[k].dispatch_lag_us = g_array_new (FALSE, FALSE, sizeof (guint32));
  }
  delivery_us = g_array_new (FALSE, FALSE, sizeof (guint32));

  clients = g_new0 (Client *, (gsize) opt_sessions * (1 + opt_receivers));
  sessions = g_new0 (Session, opt_sessions);
  for (gint i = 0; i < opt_sessions; i++) {
    Session *s = &sessions[i];

    g_snprintf (s->id, sizeof s->id, "%06d", opt_session_base + i);
    s->acked = g_byte_array_new ();
    s->due_us = g_array_new (FALSE, TRUE, sizeof (gint64));
    s->sharer = client_new (s, TRUE);
    s->receivers = g_new0 (Client *, MAX (opt_receivers, 1));
    for (gint r = 0; r < opt_receivers; r++) {
      s->receivers[r] = client_new (s, FALSE);
    }
  }

  g_print ("share-load: %d sessions x (1 sharer + %d receivers) = %u connections to "
      "http://%s, sessions %06d..%06d\n", opt_sessions, opt_receivers, n_clients,
      host_header, opt_session_base, opt_session_base + opt_sessions - 1);
  g_print ("  sharer: POST audio every %.2f ms (%d frames, %d Hz, %d ch = %"
      G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT " in base64; %.2f/s), POST metadata "
      "every %d ms\n", audio_period_us / 1000, opt_frames, opt_rate, opt_channels,
      audio_raw_bytes, audio_base64_len, G_USEC_PER_SEC / audio_period_us,
      opt_metadata_ms);
  g_print ("  receiver: GET audio?since=N every %d ms, GET metadata every %d ms\n",
      opt_poll_ms, opt_metadata_poll_ms);
  g_print ("  %.1f s warm-up, then %.1f s measured; timeout %.1f s\n", opt_warmup,
      opt_duration, opt_timeout);

  {
    gint64 now = now_us ();

    for (gint i = 0; i < opt_sessions; i++)
      setup_request (sessions[i].sharer, REQ_START, now);
  }
  run_loop ();

  window_us = window_end_us - window_start_us;
  ok = report (window_us / (gdouble) G_USEC_PER_SEC);

  {
    guint ready = 0;

    for (gint i = 0; i < opt_sessions; i++)
      ready += sessions[i].ready;
    for (guint i = 0; i < n_clients; i++)
      client_free (clients[i]);
    for (gint i = 0; i < opt_sessions; i++) {
      g_byte_array_unref (sessions[i].acked);
      g_array_unref (sessions[i].due_us);
      g_free (sessions[i].receivers);
      g_free (sessions[i].failure);
    }
    g_free (sessions);
    g_free (clients);
    for (guint k = 0; k < N_REQ; k++) {
      g_array_unref (stats[k].latency_us);
      g_array_unref (stats[k].dispatch_lag_us);
    }
    g_array_unref (delivery_us);
    g_free (audio_base64);
    close (epoll_fd);
    if (ready == 0) {
      g_printerr ("share-load: no session could be started\n");
      return 2;
    }
  }
  return ok ? 0 : 1;
}
