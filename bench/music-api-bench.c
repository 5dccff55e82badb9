/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * music-api-bench.c: issue 5's benchmark of the music API's queue operations and their
 * WebSocket fan-out, measured from the client side.
 *
 * Load mode (the default) drives a running server:
 *   setup   resolves --tracks YouTube URLs (the server's oEmbed base points at a local stand-in),
 *           starts a session, turns voting off (so manual reorders are allowed), adds
 *           --clients members u0000.. (PUT .../members/{userId}, the host application's
 *           call), connects one WebSocket per member (the host token plus X-Echo-User) that
 *           sends music:join_session, and fills the queue to --queue-size items;
 *   load    queue operations on a fixed open-loop grid of --rate per second for --warmup +
 *           --duration seconds, over --connections keep-alive HTTP connections (one
 *           request in flight on each, so up to that many at once): add, vote (as a member
 *           who has not voted for that item), reorder and remove, mixed so the queue stays
 *           near --queue-size (music:queue_updated carries the whole queue);
 *   drain   until every operation answered and every event arrived, or --drain-timeout.
 * Figures (only operations due inside the --duration window after the warm-up):
 *   operation latency  from the time the operation was due to its complete reply (open
 *                      loop: waiting for a free connection counts), and from its send,
 *                      of the operations sent inside the window (when the server cannot
 *                      keep up, a backlog grows and "SATURATED" says so);
 *   fan-out delay      from an operation's send to each client holding the
 *                      music:queue_updated it caused. Events are matched to operations by
 *                      the session "version" they carry: every successful queue operation
 *                      bumps it once, and its reply says which version it made;
 *   events             received vs expected (changing operations x joined clients), out of
 *                      order (a client's versions must rise), clients the server closed;
 *   CPU                the server's (--server-pid, /proc/PID/stat) and this process's, in %
 *                      of one core, and how busy this process's loop was (time not spent
 *                      waiting in epoll): near 100% means the client, not the server, may
 *                      be what limits the figures.
 * The client is one thread: non-blocking sockets in edge-triggered epoll, a timerfd for the
 * schedule, WebSocket frames parsed in place (an event's version is read from its tail, no
 * JSON parse), latencies into log-linear histograms (0.2% resolution).
 *
 * Baseline mode (--serve-baseline) is the alternative a reader compares echod with: a plain
 * libsoup server doing nothing but parse each command's JSON, edit an in-memory queue of
 * items shaped like echod's, serialize the queue once and send it to every joined
 * WebSocket, then reply. It answers the same routes the load mode uses, and also serves
 * the oEmbed stand-in echod's resolver is pointed at (GET /oembed). It prints
 * "music-api-bench: listening on http://127.0.0.1:PORT" first.
 *
 * bench/run-music-bench starts both and prints them side by side.
 *
 * Exit status: 0 when the run completed (errors are figures), 1 when setup failed, 2 for
 * bad options.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* memmem */
#define _GNU_SOURCE
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define MAX_EVENTS 512
#define MAX_MESSAGE_BYTES (64u * 1024 * 1024)
#define SETUP_CONNECTS_IN_FLIGHT 32

/* ---- options ------------------------------------------------------------------------- */

static gint opt_port = 5000;
static gchar *opt_token = NULL;
static gint opt_clients = 1000;
static gdouble opt_rate = 1000;
static gdouble opt_duration = 30;
static gdouble opt_warmup = 3;
static gint opt_connections = 16;
static gint opt_queue_size = 10;
static gint opt_tracks = 10;
static gdouble opt_drain_timeout = 10;
static gint opt_server_pid = 0;
static gchar *opt_label = NULL;
static gboolean opt_serve_baseline = FALSE;
static gboolean opt_baseline_delta = FALSE;
static guint64 opt_seed = 1;

static GOptionEntry entries[] = {
  {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "The server's port on 127.0.0.1 (load mode; "
        "0 in baseline mode: a free one)", "PORT"},
  {"token", 't', 0, G_OPTION_ARG_STRING, &opt_token,
      "The host application's bearer token, sent as \"Authorization: Bearer TOKEN\"", "TOKEN"},
  {"clients", 'c', 0, G_OPTION_ARG_INT, &opt_clients,
      "WebSocket clients (members) in the session (default 1000)", "N"},
  {"rate", 'r', 0, G_OPTION_ARG_DOUBLE, &opt_rate, "Queue operations per second (default 1000)",
      "R"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Seconds measured after the warm-up (default 30)", "S"},
  {"warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &opt_warmup, "Seconds of load before (default 3)",
      "S"},
  {"connections", 0, 0, G_OPTION_ARG_INT, &opt_connections,
      "Keep-alive HTTP connections for the operations, at most one request in flight on "
        "each (default 16)", "N"},
  {"queue-size", 'q', 0, G_OPTION_ARG_INT, &opt_queue_size,
      "Queued items the mix keeps (default 10)", "N"},
  {"tracks", 0, 0, G_OPTION_ARG_INT, &opt_tracks, "Distinct tracks resolved (default 10)", "N"},
  {"drain-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_drain_timeout,
      "Seconds to wait for outstanding replies and events after the load (default 10)", "S"},
  {"server-pid", 0, 0, G_OPTION_ARG_INT, &opt_server_pid,
      "Report this process's CPU over the window", "PID"},
  {"label", 0, 0, G_OPTION_ARG_STRING, &opt_label, "Names the server in the output", "TEXT"},
  {"seed", 0, 0, G_OPTION_ARG_INT64, &opt_seed, "Seed of the operation mix (default 1)", "N"},
  {"serve-baseline", 0, 0, G_OPTION_ARG_NONE, &opt_serve_baseline,
      "Run the baseline server (plain libsoup: JSON parse + broadcast) and the oEmbed stand-in",
      NULL},
  {"delta", 0, 0, G_OPTION_ARG_NONE, &opt_baseline_delta,
      "Queue events as deltas: load mode joins with \"queue\":\"delta\" (music:queue_delta);"
        " the baseline server broadcasts {op,itemId,item (added or voted),version} instead of "
        "the whole queue", NULL},
  {NULL}
};

static gint64
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* ---- histograms (microseconds) -------------------------------------------------------- */

/* 1 us buckets below 1024 us, then 512 per power of two */
#define HIST_LINEAR 1024
#define HIST_SUB 512
#define HIST_OCTAVES 28
#define HIST_BUCKETS (HIST_LINEAR + HIST_OCTAVES * HIST_SUB)

typedef struct {
  guint64 counts[HIST_BUCKETS];
  guint64 n;
  gint64 max;
} Hist;

static guint
hist_index (gint64 us)
{
  guint e;

  if (us < HIST_LINEAR)
    return us < 0 ? 0 : (guint) us;
  e = 63 - (guint) __builtin_clzll ((unsigned long long) us);   /* >= 10 */
  if (e - 10 >= HIST_OCTAVES)
    return HIST_BUCKETS - 1;
  return HIST_LINEAR + (e - 10) * HIST_SUB + (guint) ((us >> (e - 9)) & (HIST_SUB - 1));
}

/* the middle of a bucket */
static double
hist_value (guint index)
{
  guint e, sub;

  if (index < HIST_LINEAR)
    return index + 0.5;
  e = 10 + (index - HIST_LINEAR) / HIST_SUB;
  sub = (index - HIST_LINEAR) % HIST_SUB;
  return ((double) (HIST_SUB + sub) + 0.5) * (double) (1ull << (e - 9));
}

static void
hist_add (Hist *h, gint64 us)
{
  h->counts[hist_index (us)]++;
  h->n++;
  h->max = MAX (h->max, us);
}

static double
hist_percentile_ms (const Hist *h, double p)
{
  guint64 rank, seen = 0;
  guint i;

  if (h->n == 0)
    return 0;
  rank = (guint64) (p / 100.0 * (double) (h->n - 1)) + 1;
  for (i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank)
      return MIN (hist_value (i), (double) h->max) / 1000.0;
  }
  return h->max / 1000.0;
}

/* ---- connections ---------------------------------------------------------------------- */

typedef enum { CONN_HTTP, CONN_WS } ConnKind;

typedef enum { OP_ADD, OP_REMOVE, OP_REORDER, OP_VOTE, OP_SETUP } OpKind;

static const char *const op_names[] = { "add", "remove", "reorder", "vote", "setup" };

typedef struct {
  ConnKind kind;
  int fd;
  guint index;
  GByteArray *in;
  GByteArray *out;
  gsize out_off;
  gboolean connected;
  gboolean dead;
  gboolean close_after;       /* the response being read said Connection: close */
  /* HTTP: the request in flight */
  gboolean busy;
  OpKind op;
  gint64 due_us;
  gint64 sent_us;
  char *item_id;              /* remove/reorder/vote: the item it names */
  gboolean measured;
  /* setup calls wait for these */
  guint status;
  GString *reply;
  gboolean done;
  /* WebSocket */
  gboolean upgraded;
  gboolean joined;
  gboolean closed;
  guint close_code;
  gint64 last_version;
  GByteArray *fragment;
} Conn;

static int epoll_fd = -1;
static int timer_fd = -1;
static struct sockaddr_in server_addr;
static char *auth_header;
static gint64 busy_us;        /* this process's loop time outside epoll_wait */

static void
conn_open (Conn *c)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (c->fd, (struct sockaddr *) &server_addr, sizeof server_addr) < 0 &&
      errno != EINPROGRESS)
    g_error ("connect: %s", g_strerror (errno));
  ev.data.ptr = c;
  epoll_ctl (epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
}

static Conn *
conn_new (ConnKind kind, guint index)
{
  Conn *c = g_new0 (Conn, 1);

  c->kind = kind;
  c->index = index;
  c->in = g_byte_array_sized_new (4096);
  c->out = g_byte_array_new ();
  conn_open (c);
  return c;
}

/* A keep-alive connection the server closed (echod closes after deferred replies, e.g.
 * resolve): a new one in its place. */
static void
conn_reopen (Conn *c)
{
  epoll_ctl (epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  g_byte_array_set_size (c->in, 0);
  g_byte_array_set_size (c->out, 0);
  c->out_off = 0;
  c->dead = FALSE;
  conn_open (c);
}

static void
conn_flush (Conn *c)
{
  while (c->out_off < c->out->len) {
    ssize_t n = send (c->fd, c->out->data + c->out_off, c->out->len - c->out_off,
        MSG_NOSIGNAL);

    if (n < 0) {
      /* ENOTCONN: still connecting; EPOLLOUT says when it is done */
      if (errno == EAGAIN || errno == EINTR || errno == ENOTCONN)
        return;
      c->dead = TRUE;
      return;
    }
    c->out_off += (gsize) n;
  }
  g_byte_array_set_size (c->out, 0);
  c->out_off = 0;
}

static void
conn_write (Conn *c, const void *data, gsize len)
{
  g_byte_array_append (c->out, data, (guint) len);
  conn_flush (c);
}

/* ---- the operation model -------------------------------------------------------------- */

typedef struct {
  gint64 sent_us;
  gboolean measured;
  guint received;
} VersionRecord;

static char *session_id;
static GPtrArray *track_ids;              /* of char* */
static GPtrArray *queue_items;            /* of char*: queued item ids, latest known order */
static gint64 queue_version = -1;         /* the version queue_items reflects */
static GHashTable *busy_items;            /* item id -> in-flight op count */
static GHashTable *vote_counts;           /* item id -> votes sent (voters u0000..) */
static GHashTable *versions;              /* version -> VersionRecord* */
static GHashTable *early_events;          /* version -> GArray of gint64 receive times */
static guint adds_in_flight, removes_in_flight;
static GRand *rng;
static Conn **ws;
static guint ws_count, ws_joined, ws_closed;
static Conn **http;
static Hist op_hist, op_service_hist, fanout_hist;
static Hist op_kind_hist[4];
static guint64 ops_measured, ops_ok_measured, ops_failed, ops_failed_measured, ops_done;
static guint64 late_starts, duplicate_versions, events_total, events_measured,
    events_out_of_order, events_unmatched;
static guint64 changes_measured, ops_completed_in_window, backlog_at_end;
static guint64 event_bytes_in_window, events_in_window;
static guint64 event_bytes_total, event_count_for_bytes;
static guint64 fail_by_status[600];
static gint64 window_start_us, window_end_us;
static gboolean setup_phase = TRUE;

static void
http_send_request (Conn *c, const char *method, const char *path, const char *user,
    const char *body)
{
  g_autoptr (GString) req = g_string_sized_new (256);
  gsize body_len = body != NULL ? strlen (body) : 0;

  g_string_append_printf (req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s", method, path,
      opt_port, auth_header);
  if (user != NULL)
    g_string_append_printf (req, "X-Echo-User: %s\r\n", user);
  if (body != NULL)
    g_string_append_printf (req, "Content-Type: application/json\r\nContent-Length: %"
        G_GSIZE_FORMAT "\r\n", body_len);
  else if (strcmp (method, "GET") != 0 && strcmp (method, "DELETE") != 0)
    g_string_append (req, "Content-Length: 0\r\n");
  g_string_append (req, "\r\n");
  if (body != NULL)
    g_string_append_len (req, body, (gssize) body_len);
  c->busy = TRUE;
  c->done = FALSE;
  conn_write (c, req->str, req->len);
}

/* The queue a reply or event shows, if it is newer than what we know. */
static void
model_update (JsonObject *root)
{
  JsonArray *queue;
  gint64 version;
  guint i;

  if (!json_object_has_member (root, "version") || !json_object_has_member (root, "queue"))
    return;
  version = json_object_get_int_member (root, "version");
  if (version <= queue_version)
    return;
  queue = json_object_get_array_member (root, "queue");
  queue_version = version;
  g_ptr_array_set_size (queue_items, 0);
  for (i = 0; queue != NULL && i < json_array_get_length (queue); i++) {
    JsonObject *item = json_array_get_object_element (queue, i);
    const char *id = item != NULL ? json_object_get_string_member_with_default (item, "id",
        NULL) : NULL;

    if (id != NULL)
      g_ptr_array_add (queue_items, g_strdup (id));
  }
}

static void
fanout_sample (VersionRecord *rec, gint64 recv_us)
{
  rec->received++;
  if (rec->measured) {
    hist_add (&fanout_hist, recv_us - rec->sent_us);
    events_measured++;
  }
}

static void
item_release (const char *id)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (busy_items, id));

  if (n <= 1)
    g_hash_table_remove (busy_items, id);
  else
    g_hash_table_insert (busy_items, g_strdup (id), GUINT_TO_POINTER (n - 1));
}

static void dispatch_backlog (void);

/* An operation's reply: its version names the events it caused. */
static void
op_finished (Conn *c, guint status, const char *body, gsize len)
{
  gint64 now = now_us ();
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *root = NULL;
  gint64 version = -1;

  c->busy = FALSE;
  ops_done++;
  if (now >= window_start_us && now < window_end_us)
    ops_completed_in_window++;
  if (c->op == OP_ADD)
    adds_in_flight--;
  if (c->op == OP_REMOVE)
    removes_in_flight--;
  if (c->item_id != NULL) {
    item_release (c->item_id);
    g_clear_pointer (&c->item_id, g_free);
  }
  if (json_parser_load_from_data (parser, body, (gssize) len, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));
  if (status == 200 && root != NULL && json_object_has_member (root, "version"))
    version = json_object_get_int_member (root, "version");
  if (version < 0) {
    ops_failed++;
    fail_by_status[MIN (status, 599)]++;
    if (c->measured)
      ops_failed_measured++;
    if (ops_failed <= 5)
      g_printerr ("music-api-bench: %s failed: %u %.*s\n", op_names[c->op], status,
          (int) MIN (len, 300), body);
    dispatch_backlog ();
    return;
  }
  if (c->measured) {
    ops_ok_measured++;
    hist_add (&op_hist, now - c->due_us);
    hist_add (&op_service_hist, now - c->sent_us);
    hist_add (&op_kind_hist[c->op], now - c->due_us);
  }
  model_update (root);
  if (g_hash_table_contains (versions, &version)) {
    duplicate_versions++;
  } else {
    VersionRecord *rec = g_new0 (VersionRecord, 1);
    gint64 *key = g_new (gint64, 1);
    GArray *early;

    *key = version;
    rec->sent_us = c->sent_us;
    rec->measured = c->measured;
    if (c->measured)
      changes_measured++;
    g_hash_table_insert (versions, key, rec);
    early = g_hash_table_lookup (early_events, &version);
    if (early != NULL) {
      guint i;

      for (i = 0; i < early->len; i++)
        fanout_sample (rec, g_array_index (early, gint64, i));
      g_hash_table_remove (early_events, &version);
    }
  }
  dispatch_backlog ();
}

/* ---- HTTP responses ------------------------------------------------------------------- */

/* One complete response at the head of c->in: its length, or 0 when more is needed. */
static gsize
http_parse (Conn *c, guint *status, gsize *body_off, gsize *body_len)
{
  const char *data = (const char *) c->in->data;
  const char *end = memmem (data, c->in->len, "\r\n\r\n", 4);
  gsize head_len, content_length = G_MAXSIZE;
  gboolean chunked = FALSE;
  const char *line;

  c->close_after = FALSE;
  if (end == NULL)
    return 0;
  head_len = (gsize) (end - data) + 4;
  if (c->in->len < 12 || strncmp (data, "HTTP/1.1 ", 9) != 0)
    g_error ("music-api-bench: not an HTTP response");
  *status = (guint) strtoul (data + 9, NULL, 10);
  for (line = memchr (data, '\n', head_len); line != NULL && line < end;
      line = memchr (line + 1, '\n', (gsize) (end - line))) {
    if (g_ascii_strncasecmp (line + 1, "Content-Length:", 15) == 0)
      content_length = strtoul (line + 16, NULL, 10);
    else if (g_ascii_strncasecmp (line + 1, "Transfer-Encoding:", 18) == 0 &&
        g_strstr_len (line + 1, (gssize) MIN (64, (gsize) (end - line)), "chunked") != NULL)
      chunked = TRUE;
    else if (g_ascii_strncasecmp (line + 1, "Connection: close", 17) == 0)
      c->close_after = TRUE;
  }
  if (chunked) {
    /* de-chunk in place once every chunk is there */
    gsize pos = head_len, out = head_len;

    for (;;) {
      const char *crlf = memmem (data + pos, c->in->len - pos, "\r\n", 2);
      gsize size;

      if (crlf == NULL)
        return 0;
      size = strtoul (data + pos, NULL, 16);
      if (size == 0) {
        if ((gsize) (crlf - data) + 4 > c->in->len)
          return 0;
        pos = (gsize) (crlf - data) + 4;
        break;
      }
      if ((gsize) (crlf - data) + 2 + size + 2 > c->in->len)
        return 0;
      pos = (gsize) (crlf - data) + 2 + size + 2;
    }
    {
      gsize total = pos, p = head_len;

      while (TRUE) {
        const char *crlf = memmem (data + p, total - p, "\r\n", 2);
        gsize size = strtoul (data + p, NULL, 16);

        if (size == 0)
          break;
        memmove (c->in->data + out, crlf + 2, size);
        out += size;
        p = (gsize) (crlf - data) + 2 + size + 2;
      }
      *body_off = head_len;
      *body_len = out - head_len;
      /* the response occupies `total` bytes on the wire; what follows moves down */
      memmove (c->in->data + out, c->in->data + total, c->in->len - total);
      g_byte_array_set_size (c->in, (guint) (c->in->len - (total - out)));
      return out;
    }
  }
  if (content_length == G_MAXSIZE)
    content_length = 0;
  if (c->in->len < head_len + content_length)
    return 0;
  *body_off = head_len;
  *body_len = content_length;
  return head_len + content_length;
}

static void
http_readable (Conn *c)
{
  guint status;
  gsize used, body_off, body_len;

  while ((used = http_parse (c, &status, &body_off, &body_len)) > 0) {
    const char *body = (const char *) c->in->data + body_off;

    if (c->op == OP_SETUP || setup_phase) {
      c->status = status;
      if (c->reply == NULL)
        c->reply = g_string_new (NULL);
      g_string_assign (c->reply, "");
      g_string_append_len (c->reply, body, (gssize) body_len);
      c->busy = FALSE;
      c->done = TRUE;
    } else {
      op_finished (c, status, body, body_len);
    }
    g_byte_array_remove_range (c->in, 0, (guint) used);
    if (c->close_after) {
      conn_reopen (c);
      return;
    }
  }
}

/* ---- WebSocket clients ---------------------------------------------------------------- */

static void
ws_send_frame (Conn *c, guint opcode, const char *payload, gsize len)
{
  guint8 head[14];
  gsize n = 0, i;
  guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  g_autofree guint8 *masked = g_malloc (len + 1);

  head[n++] = (guint8) (0x80 | opcode);
  if (len < 126) {
    head[n++] = (guint8) (0x80 | len);
  } else {
    head[n++] = 0x80 | 126;
    head[n++] = (guint8) (len >> 8);
    head[n++] = (guint8) len;
  }
  memcpy (head + n, mask, 4);
  n += 4;
  for (i = 0; i < len; i++)
    masked[i] = (guint8) payload[i] ^ mask[i % 4];
  g_byte_array_append (c->out, head, (guint) n);
  conn_write (c, masked, len);
}

static void
ws_start (Conn *c)
{
  g_autofree char *req = g_strdup_printf ("GET /api/music/ws HTTP/1.1\r\n"
      "Host: 127.0.0.1:%d\r\n%sX-Echo-User: u%04u\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: ZWNoby1tdXNpYy1iZW5jaA==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", opt_port, auth_header, c->index);

  conn_write (c, req, strlen (req));
}

/* A change (version) a client now holds: a fan-out sample once its operation's reply is
 * in, else kept until it is. */
static void
change_seen (gint64 version, gint64 recv_us)
{
  VersionRecord *rec = g_hash_table_lookup (versions, &version);
  GArray *early;

  if (rec != NULL) {
    fanout_sample (rec, recv_us);
    return;
  }
  early = g_hash_table_lookup (early_events, &version);
  if (early == NULL) {
    gint64 *key = g_new (gint64, 1);

    *key = version;
    early = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_hash_table_insert (early_events, key, early);
  }
  g_array_append_val (early, recv_us);
}

/* music:queue_updated (the whole queue) or music:queue_delta: either says the client holds
 * the queue as of its "version", so every change up to it has reached the client (a server
 * may send the changes of one burst of operations as one event). */
static void
ws_event (Conn *c, const char *text, gsize len, gint64 recv_us)
{
  static const char full[] = "{\"type\":\"music:queue_updated\"";
  static const char delta[] = "{\"type\":\"music:queue_delta\"";
  const char *v;
  gint64 version, seen;

  if (!(len >= sizeof full && memcmp (text, full, sizeof full - 1) == 0) &&
      !(len >= sizeof delta && memcmp (text, delta, sizeof delta - 1) == 0)) {
    if (g_str_has_prefix (text, "{\"type\":\"music:error\""))
      g_printerr ("music-api-bench: client u%04u: %.*s\n", c->index, (int) MIN (len, 300),
          text);
    return;
  }
  /* "version" is a top-level member near the start in echod's events (the baseline's: the
   * end); the first unescaped one at the top level comes before any item's members */
  for (v = memmem (text, len, "\"version\":", 10);
      v != NULL && v > text && v[-1] == '\\';
      v = memmem (v + 1, (gsize) (text + len - v - 1), "\"version\":", 10))
    ;
  if (v == NULL) {
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();

    if (!json_parser_load_from_data (parser, text, (gssize) len, NULL))
      return;
    version = json_object_get_int_member_with_default (json_node_get_object
        (json_parser_get_root (parser)), "version", -1);
  } else {
    version = g_ascii_strtoll (v + 10, NULL, 10);
  }
  if (!c->joined) {
    c->joined = TRUE;
    ws_joined++;
  }
  if (setup_phase) {
    c->last_version = MAX (c->last_version, version);
    return;
  }
  if (version <= c->last_version) {
    events_out_of_order++;
    return;
  }
  events_total++;
  if (recv_us >= window_start_us && recv_us < window_end_us) {
    event_bytes_in_window += len;
    events_in_window++;
  }
  if (c->index == 0) {
    event_bytes_total += len;
    event_count_for_bytes++;
  }
  for (seen = c->last_version + 1; seen <= version; seen++)
    change_seen (seen, recv_us);
  c->last_version = version;
}

static void
ws_readable (Conn *c, gint64 recv_us)
{
  gsize pos = 0;

  if (!c->upgraded) {
    const char *end = memmem (c->in->data, c->in->len, "\r\n\r\n", 4);
    g_autofree char *join = NULL;

    if (end == NULL)
      return;
    if (strncmp ((const char *) c->in->data, "HTTP/1.1 101", 12) != 0) {
      g_printerr ("music-api-bench: client u%04u refused: %.*s\n", c->index,
          (int) MIN (c->in->len, 400), c->in->data);
      c->closed = TRUE;
      ws_closed++;
      g_byte_array_set_size (c->in, 0);
      return;
    }
    c->upgraded = TRUE;
    pos = (gsize) (end - (const char *) c->in->data) + 4;
    join = g_strdup_printf ("{\"type\":\"music:join_session\",\"sessionId\":\"%s\"%s}",
        session_id, opt_baseline_delta ? ",\"queue\":\"delta\"" : "");
    ws_send_frame (c, 1, join, strlen (join));
  }
  for (;;) {
    const guint8 *d = c->in->data + pos;
    gsize avail = c->in->len - pos, head = 2;
    guint64 plen;
    guint opcode;
    gboolean fin;

    if (avail < 2)
      break;
    fin = (d[0] & 0x80) != 0;
    opcode = d[0] & 0x0f;
    plen = d[1] & 0x7f;
    if (plen == 126) {
      if (avail < 4)
        break;
      plen = ((guint64) d[2] << 8) | d[3];
      head = 4;
    } else if (plen == 127) {
      guint i;

      if (avail < 10)
        break;
      plen = 0;
      for (i = 0; i < 8; i++)
        plen = (plen << 8) | d[2 + i];
      head = 10;
    }
    if (plen > MAX_MESSAGE_BYTES)
      g_error ("music-api-bench: a %" G_GUINT64_FORMAT "-byte frame", plen);
    if (avail < head + plen)
      break;
    if (opcode == 9) {
      ws_send_frame (c, 10, (const char *) d + head, (gsize) plen);
    } else if (opcode == 8) {
      c->close_code = plen >= 2 ? ((guint) d[head] << 8) | d[head + 1] : 1005;
      if (!c->closed) {
        c->closed = TRUE;
        ws_closed++;
        g_printerr ("music-api-bench: the server closed client u%04u (%u %.*s)\n", c->index,
            c->close_code, (int) (plen > 2 ? plen - 2 : 0), d + head + 2);
      }
    } else if (opcode == 1 || opcode == 0 || opcode == 2) {
      if (!fin || (opcode == 0 && c->fragment != NULL)) {
        if (c->fragment == NULL)
          c->fragment = g_byte_array_new ();
        g_byte_array_append (c->fragment, d + head, (guint) plen);
        if (fin) {
          ws_event (c, (const char *) c->fragment->data, c->fragment->len, recv_us);
          g_clear_pointer (&c->fragment, g_byte_array_unref);
        }
      } else if (opcode == 1) {
        ws_event (c, (const char *) d + head, (gsize) plen, recv_us);
      }
    }
    pos += head + (gsize) plen;
  }
  if (pos > 0)
    g_byte_array_remove_range (c->in, 0, (guint) pos);
}

/* ---- the loop ------------------------------------------------------------------------- */

static void
conn_readable (Conn *c)
{
  gint64 recv_us = now_us ();

  for (;;) {
    guint old = c->in->len;
    ssize_t n;

    g_byte_array_set_size (c->in, old + READ_CHUNK);
    n = recv (c->fd, c->in->data + old, READ_CHUNK, 0);
    g_byte_array_set_size (c->in, old + (guint) MAX (n, 0));
    if (n > 0) {
      if (c->kind == CONN_WS)
        ws_readable (c, recv_us);
      else
        http_readable (c);
      continue;               /* edge-triggered: read until EAGAIN */
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    /* closed or failed */
    if (c->kind == CONN_HTTP) {
      gboolean was_busy = c->busy;

      conn_reopen (c);
      if (was_busy) {
        /* the request died with the connection */
        if (c->op == OP_SETUP || setup_phase) {
          c->status = 0;
          c->busy = FALSE;
          c->done = TRUE;
        } else {
          op_finished (c, 0, "", 0);
        }
      }
      return;
    }
    if (!c->dead) {
      c->dead = TRUE;
      if (c->kind == CONN_WS && !c->closed) {
        c->closed = TRUE;
        ws_closed++;
      }
      epoll_ctl (epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    }
    return;
  }
}

static void on_timer (void);

static void
loop_once (int timeout_ms)
{
  struct epoll_event events[MAX_EVENTS];
  gint64 t0;
  int n, i;

  n = epoll_wait (epoll_fd, events, MAX_EVENTS, timeout_ms);
  t0 = now_us ();
  for (i = 0; i < n; i++) {
    Conn *c = events[i].data.ptr;

    if (c == NULL) {
      guint64 expirations;

      if (read (timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        g_error ("timerfd: %s", g_strerror (errno));
      on_timer ();
      continue;
    }
    if (events[i].events & EPOLLOUT) {
      c->connected = TRUE;
      conn_flush (c);
    }
    if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
      conn_readable (c);
  }
  busy_us += now_us () - t0;
}

/* Runs the loop until *flag or the deadline; FALSE at the deadline. */
static gboolean
loop_until (gboolean *flag, gint64 deadline_us)
{
  while (!*flag) {
    if (now_us () > deadline_us)
      return FALSE;
    loop_once (10);
  }
  return TRUE;
}

/* A setup request; the reply into c->reply. */
static guint
setup_call (Conn *c, const char *method, const char *path, const char *user, const char *body)
{
  c->op = OP_SETUP;
  http_send_request (c, method, path, user, body);
  if (!loop_until (&c->done, now_us () + 30 * G_USEC_PER_SEC))
    g_error ("music-api-bench: %s %s: no reply within 30 s", method, path);
  return c->status;
}

static JsonNode *
parse_reply (Conn *c)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, c->reply->str, (gssize) c->reply->len, NULL))
    return NULL;
  return json_parser_steal_root (parser);
}

/* ---- the load -------------------------------------------------------------------------- */

static gint64 load_start_us;
static guint64 op_serial, ops_total;
static GQueue backlog = G_QUEUE_INIT;       /* due times (gint64*) of ops waiting for a conn */

static Conn *
free_http (void)
{
  int i;

  for (i = 0; i < opt_connections; i++)
    if (!http[i]->busy && !http[i]->dead)
      return http[i];
  return NULL;
}

/* An item no in-flight operation names, preferring the oldest-listed. */
static const char *
pick_item (gboolean oldest)
{
  guint i, n = queue_items->len, start;

  if (n == 0)
    return NULL;
  start = oldest ? 0 : (guint) g_rand_int_range (rng, 0, (gint32) n);
  for (i = 0; i < n; i++) {
    const char *id = g_ptr_array_index (queue_items, (start + i) % n);

    if (!g_hash_table_contains (busy_items, id))
      return id;
  }
  return NULL;
}

static void
send_op (Conn *c, gint64 due_us)
{
  g_autofree char *path = NULL;
  g_autofree char *body = NULL;
  g_autofree char *user = NULL;
  int size = (int) queue_items->len + (int) adds_in_flight - (int) removes_in_flight;
  const char *item = NULL;
  OpKind op;
  double r = g_rand_double (rng);

  if (size < opt_queue_size - 2)
    op = OP_ADD;
  else if (size > opt_queue_size + 2)
    op = OP_REMOVE;
  else
    op = r < 0.25 ? OP_ADD : r < 0.5 ? OP_REMOVE : r < 0.8 ? OP_VOTE : OP_REORDER;
  if (op != OP_ADD) {
    item = pick_item (op == OP_REMOVE);
    if (item == NULL)
      op = OP_ADD;
  }
  c->op = op;
  c->due_us = due_us;
  /* measured: sent inside the window (due inside it too unless the server fell behind:
   * then the backlog's wait shows in the latency from the due time) */
  c->sent_us = now_us ();
  c->measured = c->sent_us >= window_start_us && c->sent_us < window_end_us;
  if (c->measured)
    ops_measured++;
  switch (op) {
    case OP_ADD:
      /* a member requests a track; the DJ (u0000, the creator) removes and reorders */
      user = g_strdup_printf ("u%04d", g_rand_int_range (rng, 0, opt_clients));
      body = g_strdup_printf ("{\"trackId\":\"%s\"}", (const char *) g_ptr_array_index
          (track_ids, g_rand_int_range (rng, 0, (gint32) track_ids->len)));
      adds_in_flight++;
      break;
    case OP_REMOVE:
      user = g_strdup ("u0000");
      body = g_strdup_printf ("{\"itemId\":\"%s\"}", item);
      removes_in_flight++;
      break;
    case OP_REORDER:
      user = g_strdup ("u0000");
      body = g_strdup_printf ("{\"itemId\":\"%s\",\"position\":%d}", item,
          g_rand_int_range (rng, 0, MAX (1, (gint32) queue_items->len -
                  (gint32) removes_in_flight)));
      break;
    case OP_VOTE: {
      guint votes = GPOINTER_TO_UINT (g_hash_table_lookup (vote_counts, item));

      if (votes >= (guint) opt_clients) {
        /* everyone voted for it: reorder it instead */
        c->op = op = OP_REORDER;
        user = g_strdup ("u0000");
        body = g_strdup_printf ("{\"itemId\":\"%s\",\"position\":0}", item);
        break;
      }
      g_hash_table_insert (vote_counts, g_strdup (item), GUINT_TO_POINTER (votes + 1));
      user = g_strdup_printf ("u%04u", votes);
      body = g_strdup_printf ("{\"itemId\":\"%s\",\"value\":%d}", item,
          g_rand_boolean (rng) ? 1 : -1);
      break;
    }
    case OP_SETUP:
      g_assert_not_reached ();
  }
  if (item != NULL) {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (busy_items, item));

    c->item_id = g_strdup (item);
    g_hash_table_insert (busy_items, g_strdup (item), GUINT_TO_POINTER (n + 1));
    if (op == OP_REMOVE) {
      /* gone as far as later picks are concerned */
      guint i;

      for (i = 0; i < queue_items->len; i++)
        if (strcmp (g_ptr_array_index (queue_items, i), item) == 0) {
          g_ptr_array_remove_index (queue_items, i);
          break;
        }
    }
  }
  path = g_strdup_printf ("/api/music/session/%s/queue/%s", session_id, op_names[op]);
  http_send_request (c, "POST", path, user, body);
}

static void
dispatch_backlog (void)
{
  Conn *c;

  while (!g_queue_is_empty (&backlog) && (c = free_http ()) != NULL) {
    gint64 *due = g_queue_pop_head (&backlog);

    send_op (c, *due);
    g_free (due);
  }
}

static void
arm_timer (gint64 at_us)
{
  struct itimerspec its = { 0 };

  its.it_value.tv_sec = at_us / G_USEC_PER_SEC;
  its.it_value.tv_nsec = (at_us % G_USEC_PER_SEC) * 1000;
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
    its.it_value.tv_nsec = 1;
  timerfd_settime (timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static gint64
due_of (guint64 serial)
{
  return load_start_us + (gint64) ((double) serial * G_USEC_PER_SEC / opt_rate);
}

static void
on_timer (void)
{
  gint64 now = now_us ();

  while (op_serial < ops_total && due_of (op_serial) <= now) {
    gint64 due = due_of (op_serial++);
    Conn *c = g_queue_is_empty (&backlog) ? free_http () : NULL;

    if (c != NULL) {
      send_op (c, due);
    } else {
      gint64 *p = g_new (gint64, 1);

      *p = due;
      g_queue_push_tail (&backlog, p);
      if (due >= window_start_us && due < window_end_us)
        late_starts++;
    }
  }
  if (op_serial < ops_total)
    arm_timer (due_of (op_serial));
}

/* ---- CPU ------------------------------------------------------------------------------ */

static double
process_cpu_seconds (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  after = strrchr (text, ')');
  if (after == NULL)
    return -1;
  fields = g_strsplit (after + 2, " ", -1);
  if (g_strv_length (fields) < 15)
    return -1;
  /* state is field 3; utime and stime are 14 and 15 */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
      (double) sysconf (_SC_CLK_TCK);
}

static double
self_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
      ru.ru_stime.tv_usec / 1e6;
}

/* ---- setup ----------------------------------------------------------------------------- */

static void
setup_fail (const char *what, Conn *c)
{
  g_printerr ("music-api-bench: %s: HTTP %u %s\n", what, c->status,
      c->reply != NULL ? c->reply->str : "");
  exit (1);
}

static void
setup (void)
{
  Conn *c = http[0];
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *path = NULL;
  gint64 deadline;
  guint i, connecting;
  int k;

  for (k = 0; k < opt_tracks; k++) {
    g_autofree char *body = g_strdup_printf ("{\"url\":\"https://www.youtube.com/watch?v="
        "bench%06d\"}", k);
    JsonObject *track;

    if (setup_call (c, "POST", "/api/music/resolve", NULL, body) != 200)
      setup_fail ("resolve", c);
    g_clear_pointer (&node, json_node_unref);
    node = parse_reply (c);
    track = node != NULL ? json_object_get_object_member (json_node_get_object (node),
        "track") : NULL;
    if (track == NULL)
      setup_fail ("resolve (no track)", c);
    g_ptr_array_add (track_ids, g_strdup (json_object_get_string_member (track, "id")));
  }
  /* a session is started by a user (its creator, a DJ) */
  if (setup_call (c, "POST", "/api/music/session/start", "u0000",
          "{\"serverId\":\"bench\",\"voiceChannelId\":\"bench-voice\"}") / 100 != 2)
    setup_fail ("session/start", c);
  g_clear_pointer (&node, json_node_unref);
  node = parse_reply (c);
  session_id = g_strdup (json_object_get_string_member (json_object_get_object_member
          (json_node_get_object (node), "session"), "id"));
  path = g_strdup_printf ("/api/music/session/%s/settings", session_id);
  if (setup_call (c, "PATCH", path, "u0000", "{\"voting\":false}") != 200)
    setup_fail ("settings", c);
  /* members, on every connection at once */
  for (i = 0; i < (guint) opt_clients;) {
    for (k = 0; k < opt_connections && i < (guint) opt_clients; k++, i++) {
      g_autofree char *member = g_strdup_printf ("/api/music/session/%s/members/u%04u",
          session_id, i);

      http[k]->op = OP_SETUP;
      http_send_request (http[k], "PUT", member, NULL, "{}");
    }
    for (k = 0; k < opt_connections; k++) {
      if (http[k]->busy && !loop_until (&http[k]->done, now_us () + 30 * G_USEC_PER_SEC))
        g_error ("music-api-bench: no reply to a member PUT");
      if (http[k]->done && http[k]->status != 200)
        setup_fail ("members", http[k]);
      http[k]->done = FALSE;
    }
  }
  /* the WebSockets, a few connecting at a time */
  deadline = now_us () + 60 * G_USEC_PER_SEC;
  for (i = 0; i < (guint) opt_clients; i++) {
    do {
      guint j;

      connecting = 0;
      for (j = 0; j < ws_count; j++)
        if (!ws[j]->joined && !ws[j]->closed)
          connecting++;
      if (connecting >= SETUP_CONNECTS_IN_FLIGHT)
        loop_once (10);
    } while (connecting >= SETUP_CONNECTS_IN_FLIGHT && now_us () < deadline);
    ws[ws_count] = conn_new (CONN_WS, i);
    ws_start (ws[ws_count]);
    ws_count++;
  }
  while (ws_joined + ws_closed < ws_count && now_us () < deadline)
    loop_once (10);
  if (ws_joined < ws_count)
    g_printerr ("music-api-bench: only %u of %u clients joined\n", ws_joined, ws_count);
  if (ws_joined == 0)
    exit (1);
  /* the queue, to its size */
  for (k = 0; k < opt_queue_size; k++) {
    g_autofree char *body = g_strdup_printf ("{\"trackId\":\"%s\"}",
        (const char *) g_ptr_array_index (track_ids, (guint) k % track_ids->len));
    g_autofree char *add = g_strdup_printf ("/api/music/session/%s/queue/add", session_id);

    if (setup_call (c, "POST", add, "u0000", body) != 200)
      setup_fail ("queue/add", c);
    g_clear_pointer (&node, json_node_unref);
    node = parse_reply (c);
    model_update (json_node_get_object (node));
  }
  /* the events of the setup settle */
  for (deadline = now_us () + 500 * 1000; now_us () < deadline;)
    loop_once (10);
}

/* ---- report ---------------------------------------------------------------------------- */

static void
report_hist (const char *type, const Hist *h, const char *extra)
{
  g_print ("music-api-bench: type=%s n=%" G_GUINT64_FORMAT " p50_ms=%.3f p90_ms=%.3f "
      "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f%s\n", type, h->n, hist_percentile_ms (h, 50),
      hist_percentile_ms (h, 90), hist_percentile_ms (h, 99), hist_percentile_ms (h, 99.9),
      h->max / 1000.0, extra != NULL ? extra : "");
}

static int
run_load (void)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  double server_cpu0, server_cpu1, self_cpu0, self_cpu1;
  gint64 busy0, t_end, drain_deadline, window_wall0 = 0, window_wall1 = 0;
  guint64 expected;
  int k;

  rng = g_rand_new_with_seed ((guint32) opt_seed);
  track_ids = g_ptr_array_new_with_free_func (g_free);
  queue_items = g_ptr_array_new_with_free_func (g_free);
  busy_items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  vote_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  versions = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  early_events = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      (GDestroyNotify) g_array_unref);
  auth_header = g_strdup_printf ("Authorization: Bearer %s\r\n", opt_token);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons ((guint16) opt_port);
  server_addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);

  epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_ctl (epoll_fd, EPOLL_CTL_ADD, timer_fd, &ev);
  http = g_new0 (Conn *, (gsize) opt_connections);
  for (k = 0; k < opt_connections; k++)
    http[k] = conn_new (CONN_HTTP, (guint) k);
  ws = g_new0 (Conn *, (gsize) opt_clients);

  setup ();
  setup_phase = FALSE;
  g_print ("music-api-bench: server=%s session=%s clients=%u joined=%u queue_size=%d "
      "tracks=%d connections=%d rate=%.0f warmup_s=%.1f duration_s=%.1f\n",
      opt_label != NULL ? opt_label : "?", session_id, ws_count, ws_joined, opt_queue_size,
      opt_tracks, opt_connections, opt_rate, opt_warmup, opt_duration);

  load_start_us = now_us () + 100 * 1000;
  window_start_us = load_start_us + (gint64) (opt_warmup * G_USEC_PER_SEC);
  window_end_us = window_start_us + (gint64) (opt_duration * G_USEC_PER_SEC);
  ops_total = (guint64) ((opt_warmup + opt_duration) * opt_rate);
  arm_timer (load_start_us);

  server_cpu0 = server_cpu1 = 0;
  self_cpu0 = self_cpu1 = 0;
  busy0 = 0;
  t_end = window_end_us;
  while (op_serial < ops_total || now_us () < t_end) {
    gint64 now = now_us ();

    if (window_wall0 == 0 && now >= window_start_us) {
      window_wall0 = now;
      server_cpu0 = opt_server_pid > 0 ? process_cpu_seconds (opt_server_pid) : -1;
      self_cpu0 = self_cpu_seconds ();
      busy0 = busy_us;
    }
    loop_once (5);
  }
  window_wall1 = now_us ();
  backlog_at_end = g_queue_get_length (&backlog);
  server_cpu1 = opt_server_pid > 0 ? process_cpu_seconds (opt_server_pid) : -1;
  self_cpu1 = self_cpu_seconds ();
  {
    gint64 busy1 = busy_us;
    double wall = (window_wall1 - window_wall0) / 1e6;
    double server_pct = server_cpu0 >= 0 && server_cpu1 >= 0 ?
        100.0 * (server_cpu1 - server_cpu0) / wall : -1;
    double self_pct = 100.0 * (self_cpu1 - self_cpu0) / wall;
    double busy_pct = 100.0 * (double) (busy1 - busy0) / (double) (window_wall1 - window_wall0);

    /* drain */
    drain_deadline = now_us () + (gint64) (opt_drain_timeout * G_USEC_PER_SEC);
    for (;;) {
      gboolean busy = !g_queue_is_empty (&backlog);

      for (k = 0; k < opt_connections; k++)
        busy |= http[k]->busy && !http[k]->dead;
      expected = changes_measured * (ws_joined - MIN (ws_joined, ws_closed));
      if ((!busy && events_measured >= expected) || now_us () > drain_deadline)
        break;
      loop_once (10);
    }
    expected = changes_measured * ws_joined;

    /* achieved_rate: operations completed during the window, whenever they were due; a
     * server that cannot keep up leaves a backlog and answers the window's own operations
     * late or never (ops_measured then counts those sent at all) */
    g_print ("music-api-bench: ops_due=%" G_GUINT64_FORMAT " ops_measured=%" G_GUINT64_FORMAT
        " ok=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT " achieved_rate=%.1f late_starts=%"
        G_GUINT64_FORMAT " backlog_at_end=%" G_GUINT64_FORMAT " duplicate_versions=%"
        G_GUINT64_FORMAT "\n", (guint64) (opt_duration * opt_rate), ops_measured,
        ops_ok_measured, ops_failed_measured, ops_completed_in_window / opt_duration,
        late_starts, backlog_at_end, duplicate_versions);
    if (backlog_at_end > 0 || ops_measured < (guint64) (opt_duration * opt_rate * 0.99))
      g_print ("music-api-bench: SATURATED: the server completed %.1f operations/s of the %.0f "
          "asked; latencies are of the operations sent in the window, from the time due they "
          "include the backlog's wait (grows with the run)\n",
          ops_completed_in_window / opt_duration, opt_rate);
    if (ops_failed > 0) {
      guint s;

      g_print ("music-api-bench: errors by status:");
      for (s = 0; s < G_N_ELEMENTS (fail_by_status); s++)
        if (fail_by_status[s] > 0)
          g_print (" %u=%" G_GUINT64_FORMAT, s, fail_by_status[s]);
      g_print ("\n");
    }
    report_hist ("op", &op_hist, " (from the time due)");
    report_hist ("op_service", &op_service_hist, " (from the send)");
    for (k = 0; k < 4; k++) {
      g_autofree char *name = g_strdup_printf ("op_%s", op_names[k]);

      report_hist (name, &op_kind_hist[k], NULL);
    }
    report_hist ("fanout", &fanout_hist, NULL);
    g_print ("music-api-bench: events_received=%" G_GUINT64_FORMAT " events_expected=%"
        G_GUINT64_FORMAT " missing=%" G_GUINT64_FORMAT " out_of_order=%" G_GUINT64_FORMAT
        " clients_closed=%u event_bytes_avg=%.0f queue_items_end=%u\n", events_measured,
        expected, expected - MIN (expected, events_measured), events_out_of_order, ws_closed,
        event_count_for_bytes > 0 ? (double) event_bytes_total / event_count_for_bytes : 0,
        queue_items->len);
    g_print ("music-api-bench: server_cpu_pct=%.1f client_cpu_pct=%.1f client_busy_pct=%.1f "
        "events_per_s=%.0f event_mb_per_s=%.1f\n", server_pct, self_pct, busy_pct,
        (double) events_in_window / wall, event_bytes_in_window / wall / 1e6);
  }
  (void) events_unmatched;
  return 0;
}

/* ---- the baseline server --------------------------------------------------------------- */

typedef struct {
  GPtrArray *clients;         /* of SoupWebsocketConnection*, joined */
  GPtrArray *items;           /* of JsonObject* */
  GHashTable *tracks;         /* id -> JsonObject* */
  gint64 version;
  guint64 next_item;
} Baseline;

static void
reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  gsize len;
  char *text = json_to_string (node, FALSE);

  len = strlen (text);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

static void
reply_text (SoupServerMessage *msg, guint status, const char *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text,
      strlen (text));
}

/* {"sessionId","queue":[...],"version"} with a "type" first when @type is given */
static char *
baseline_queue_text (Baseline *b, const char *type)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  guint i;

  json_builder_begin_object (builder);
  if (type != NULL) {
    json_builder_set_member_name (builder, "type");
    json_builder_add_string_value (builder, type);
  }
  json_builder_set_member_name (builder, "sessionId");
  json_builder_add_string_value (builder, "baseline");
  json_builder_set_member_name (builder, "queue");
  json_builder_begin_array (builder);
  for (i = 0; i < b->items->len; i++) {
    JsonObject *item = g_ptr_array_index (b->items, i);
    JsonNode *node = json_node_init_object (json_node_alloc (), item);

    json_object_set_int_member (item, "position", i);
    json_builder_add_value (builder, node);
  }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, b->version);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static guint
baseline_find (Baseline *b, const char *id)
{
  guint i;

  for (i = 0; id != NULL && i < b->items->len; i++)
    if (strcmp (json_object_get_string_member (g_ptr_array_index (b->items, i), "id"),
            id) == 0)
      return i;
  return G_MAXUINT;
}

/* A track shaped like echod's (the fields its YouTube oEmbed tracks have). */
static JsonObject *
baseline_track (const char *source_id)
{
  JsonObject *track = json_object_new ();
  JsonObject *meta = json_object_new ();
  g_autofree char *id = g_strdup_printf ("trk_%s", source_id);
  g_autofree char *url = g_strdup_printf ("https://www.youtube.com/watch?v=%s", source_id);

  json_object_set_string_member (track, "id", id);
  json_object_set_string_member (track, "source", "YOUTUBE");
  json_object_set_string_member (track, "sourceId", source_id);
  json_object_set_string_member (track, "title", "Bench track with a title of usual length");
  json_object_set_string_member (track, "artist", "Bench Artist");
  json_object_set_null_member (track, "album");
  json_object_set_string_member (track, "thumbnailUrl",
      "https://i.ytimg.com/vi/benchbench0/hqdefault.jpg");
  json_object_set_int_member (track, "durationMs", 0);
  json_object_set_string_member (track, "originalUrl", url);
  json_object_set_string_member (meta, "authorUrl", "https://www.youtube.com/@bench");
  json_object_set_string_member (meta, "via", "oembed");
  json_object_set_object_member (track, "metadata", meta);
  json_object_set_string_member (track, "createdAt", "2026-01-01T00:00:00.000Z");
  return track;
}

static void
baseline_command (Baseline *b, SoupServerMessage *msg, const char *op)
{
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) bytes = soup_message_body_flatten (request);
  JsonObject *body;
  const char *item_id;
  g_autofree char *text = NULL;
  guint at = 0;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    reply_text (msg, 400, "{\"code\":\"INVALID_JSON\"}");
    return;
  }
  body = json_node_get_object (json_parser_get_root (parser));
  item_id = json_object_get_string_member_with_default (body, "itemId", NULL);
  if (strcmp (op, "add") == 0) {
    const char *track_id = json_object_get_string_member_with_default (body, "trackId", "");
    JsonObject *track = g_hash_table_lookup (b->tracks, track_id);
    JsonObject *item;
    g_autofree char *id = NULL;
    g_autoptr (GDateTime) when = g_date_time_new_now_utc ();
    g_autofree char *requested = g_date_time_format_iso8601 (when);

    if (track == NULL) {
      reply_text (msg, 404, "{\"code\":\"NOT_FOUND\"}");
      return;
    }
    id = g_strdup_printf ("itm_%012" G_GINT64_MODIFIER "x", ++b->next_item);
    item = json_object_new ();
    json_object_set_string_member (item, "id", id);
    json_object_set_string_member (item, "trackId", track_id);
    json_object_set_object_member (item, "track", json_object_ref (track));
    json_object_set_string_member (item, "addedById", "bench");
    json_object_set_string_member (item, "requestedAt", requested);
    json_object_set_int_member (item, "votes", 0);
    json_object_set_array_member (item, "voters", json_array_new ());
    json_object_set_int_member (item, "position", 0);
    json_object_set_string_member (item, "status", "QUEUED");
    json_object_set_null_member (item, "startedAt");
    json_object_set_null_member (item, "endedAt");
    g_ptr_array_add (b->items, item);
  } else if ((at = baseline_find (b, item_id)) == G_MAXUINT) {
    reply_text (msg, 404, "{\"code\":\"NOT_FOUND\"}");
    return;
  } else if (strcmp (op, "remove") == 0) {
    g_ptr_array_remove_index (b->items, at);
  } else if (strcmp (op, "reorder") == 0) {
    gint64 position = json_object_get_int_member_with_default (body, "position", 0);
    gpointer item = g_ptr_array_steal_index (b->items, at);

    g_ptr_array_insert (b->items, (gint) CLAMP (position, 0, (gint64) b->items->len), item);
  } else if (strcmp (op, "vote") == 0) {
    JsonObject *item = g_ptr_array_index (b->items, at);
    const char *user = soup_message_headers_get_one (soup_server_message_get_request_headers
        (msg), "X-Echo-User");

    json_object_set_int_member (item, "votes", json_object_get_int_member (item, "votes") +
        json_object_get_int_member_with_default (body, "value", 1));
    json_array_add_string_element (json_object_get_array_member (item, "voters"),
        user != NULL ? user : "?");
  } else {
    reply_text (msg, 404, "{\"code\":\"ROUTE_NOT_FOUND\"}");
    return;
  }
  b->version++;
  /* serialized once, sent to everyone; then the reply (echod's order) */
  if (opt_baseline_delta) {
    JsonObject *changed = strcmp (op, "add") == 0 ?
        g_ptr_array_index (b->items, b->items->len - 1) :
        strcmp (op, "vote") == 0 ? g_ptr_array_index (b->items, at) : NULL;
    g_autoptr (JsonNode) node = changed != NULL ?
        json_node_init_object (json_node_alloc (), changed) : NULL;
    g_autofree char *item = node != NULL ? json_to_string (node, FALSE) : g_strdup ("null");

    text = g_strdup_printf ("{\"type\":\"music:queue_delta\",\"sessionId\":\"baseline\","
        "\"op\":\"%s\",\"itemId\":\"%s\",\"item\":%s,\"size\":%u,\"version\":%"
        G_GINT64_FORMAT "}", op, item_id != NULL ? item_id : "", item, b->items->len,
        b->version);
  } else {
    text = baseline_queue_text (b, "music:queue_updated");
  }
    text = baseline_queue_text (b, "music:queue_updated");
  for (at = 0; at < b->clients->len; at++) {
    SoupWebsocketConnection *conn = g_ptr_array_index (b->clients, at);

    if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (conn, text);
  }
  g_free (text);
  text = baseline_queue_text (b, NULL);
  len = strlen (text);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
      g_steal_pointer (&text), len);
}

static void
baseline_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer data)
{
  Baseline *b = data;
  const char *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  guint n = g_strv_length (parts);

  if (strcmp (path, "/oembed") == 0) {
    reply_text (msg, 200, "{\"title\":\"Bench track with a title of usual length\","
        "\"author_name\":\"Bench Artist\",\"author_url\":\"https://www.youtube.com/@bench\","
        "\"thumbnail_url\":\"https://i.ytimg.com/vi/benchbench0/hqdefault.jpg\","
        "\"type\":\"video\",\"version\":\"1.0\"}");
    return;
  }
  if (strcmp (path, "/api/music/resolve") == 0 && strcmp (method, "POST") == 0) {
    g_autofree char *source_id = g_strdup_printf ("bench%06u", g_hash_table_size (b->tracks));
    JsonObject *track = baseline_track (source_id);
    JsonObject *reply = json_object_new ();
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), reply);

    g_hash_table_insert (b->tracks, g_strdup (json_object_get_string_member (track, "id")),
        json_object_ref (track));
    json_object_set_object_member (reply, "track", track);
    reply_json (msg, 200, node);
    return;
  }
  if (strcmp (path, "/api/music/session/start") == 0) {
    reply_text (msg, 200, "{\"session\":{\"id\":\"baseline\"},\"created\":true}");
    return;
  }
  /* /api/music/session/baseline/queue/OP, .../settings, .../members/U */
  if (n == 7 && strcmp (parts[5], "queue") == 0 && strcmp (method, "POST") == 0) {
    baseline_command (b, msg, parts[6]);
    return;
  }
  if (n >= 6 && (strcmp (parts[5], "settings") == 0 || strcmp (parts[5], "members") == 0)) {
    reply_text (msg, 200, "{}");
    return;
  }
  reply_text (msg, 404, "{\"code\":\"ROUTE_NOT_FOUND\"}");
}

static void
baseline_closed (SoupWebsocketConnection *conn, gpointer data)
{
  Baseline *b = data;

  g_ptr_array_remove_fast (b->clients, conn);
  g_object_unref (conn);
}

static void
baseline_ws_message (SoupWebsocketConnection *conn, gint kind, GBytes *message, gpointer data)
{
  Baseline *b = data;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  const char *type;

  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  type = json_object_get_string_member_with_default (json_node_get_object
      (json_parser_get_root (parser)), "type", "");
  if (strcmp (type, "music:join_session") == 0) {
    g_autofree char *state = baseline_queue_text (b, "music:queue_updated");

    if (!g_ptr_array_find (b->clients, conn, NULL))
      g_ptr_array_add (b->clients, conn);
    soup_websocket_connection_send_text (conn, state);
  }
}

static void
baseline_ws (SoupServer *server, SoupServerMessage *msg, const char *path,
    SoupWebsocketConnection *conn, gpointer data)
{
  /* the server lets go of it when this returns */
  g_object_ref (conn);
  g_signal_connect (conn, "message", G_CALLBACK (baseline_ws_message), data);
  g_signal_connect (conn, "closed", G_CALLBACK (baseline_closed), data);
  soup_websocket_connection_set_keepalive_interval (conn, 30);
}

static int
serve_baseline (void)
{
  g_autoptr (SoupServer) server = soup_server_new ("server-header", "music-api-bench", NULL);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GError) error = NULL;
  GSList *uris;
  Baseline b = { 0 };

  b.clients = g_ptr_array_new ();
  b.items = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  b.tracks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) json_object_unref);
  soup_server_add_websocket_handler (server, "/api/music/ws", NULL, NULL, baseline_ws, &b,
      NULL);
  soup_server_add_handler (server, NULL, baseline_handler, &b, NULL);
  {
    GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    GSocketAddress *addr = g_inet_socket_address_new (lo, (guint16) opt_port);

    if (!soup_server_listen (server, addr, 0, &error)) {
      g_printerr ("music-api-bench: cannot listen: %s\n", error->message);
      return 1;
    }
    g_object_unref (addr);
    g_object_unref (lo);
  }
  uris = soup_server_get_uris (server);
  {
    g_autofree char *uri = g_uri_to_string (uris->data);

    g_print ("music-api-bench: listening on %s\n", uri);
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (loop);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- music API load benchmark");
  g_autoptr (GError) error = NULL;

  setvbuf (stdout, NULL, _IOLBF, 0);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("music-api-bench: %s\n", error->message);
    return 2;
  }
  if (opt_serve_baseline)
    return serve_baseline ();
  if (opt_token == NULL || opt_clients < 1 || opt_clients > 9999 || opt_rate <= 0 ||
      opt_connections < 1 || opt_queue_size < 1 || opt_tracks < 1 || opt_duration <= 0) {
    g_printerr ("music-api-bench: needs --token, 1 <= --clients <= 9999, --rate > 0, "
        "--connections, --queue-size, --tracks >= 1\n");
    return 2;
  }
  return run_load ();
}
