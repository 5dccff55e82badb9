/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-netem: a userspace UDP impairment proxy on loopback, standing in for `tc netem` in
 * tests and benchmarks. Datagrams from each client are relayed to one upstream server from a
 * socket of that client's own, and replies are relayed back; each direction can be delayed,
 * jittered, dropped, reordered and duplicated, deterministically given --seed.
 * See docs/tools/echo-netem.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib/gstdio.h>

#define NS_PER_MS G_GUINT64_CONSTANT (1000000)
#define NS_PER_S G_GUINT64_CONSTANT (1000000000)

#define MAX_DATAGRAM 65535
#define MAX_CLIENTS 256
#define CLIENT_IDLE_NS (60 * NS_PER_S)
#define SWEEP_INTERVAL_NS NS_PER_S
/* Datagrams read from one socket per wakeup, so that deliveries stay on time under load. */
#define READ_BURST 64
#define SOCKET_BUFFER (4 * 1024 * 1024)
#define MAX_DELAY_MS 60000.0
#define MAX_QUEUE_LIMIT 1000000
/* Hold-back of a reordered datagram when --delay-ms and --jitter-ms are both 0. */
#define MIN_HOLD_NS NS_PER_MS

#define EXIT_USAGE 2

typedef enum
{
  DIR_UP = 0,                   /* client -> upstream */
  DIR_DOWN = 1,                 /* upstream -> client */
  N_DIRS
} Direction;

static const gchar *const direction_names[N_DIRS] = { "up", "down" };

typedef struct
{
  struct sockaddr_storage ss;
  socklen_t len;
} Addr;

typedef struct
{
  guint64 received;
  guint64 delivered;
  guint64 dropped;              /* by --loss */
  guint64 reordered;
  guint64 duplicated;           /* extra copies decided by --duplicate */
  guint64 overflowed;           /* queue (or client table) full */
  guint64 errors;               /* send failures */
  guint64 pending;              /* queued, not yet delivered */
  guint64 late_sum_ns;          /* scheduled deliveries: how late they were sent */
  guint64 late_max_ns;
  guint64 late_count;
} Stats;

typedef struct
{
  guint64 s[4];
} Rng;

typedef struct
{
  int fd;                       /* bound to loopback, connected to the upstream */
  Addr addr;                    /* the client, as seen on the listen socket */
  guint64 last_active;
  guint inflight;               /* queued entries that point here */
} Client;

typedef struct
{
  guint64 due;
  guint64 seq;                  /* tie-break: equal due times keep arrival order */
  Direction dir;
  Client *client;
  gsize len;
  guint8 data[];
} Entry;

typedef struct
{
  /* configuration */
  double delay_ns;
  double jitter_ns;
  double loss;
  double reorder;
  double duplicate;
  gboolean impair[N_DIRS];
  guint max_queue;
  guint64 spin_ns;
  const gchar *stats_file;

  /* sockets */
  int listen_fd;
  Addr upstream;
  GPtrArray *clients;           /* Client*, at most MAX_CLIENTS */

  /* schedule: a binary min-heap on (due, seq) */
  Entry **heap;
  guint heap_len;
  guint64 next_seq;

  Rng rng[N_DIRS];
  Stats stats[N_DIRS];
  guint8 *buf;
} Netem;

static volatile sig_atomic_t quit_requested;
static volatile sig_atomic_t stats_requested;

/* ---- PRNG: splitmix64 seeds xoshiro256** (Blackman & Vigna) ---- */

static guint64
splitmix64 (guint64 * x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline guint64
rotl64 (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
rng_next (Rng * r)
{
  const guint64 result = rotl64 (r->s[1] * 5, 7) * 9;
  const guint64 t = r->s[1] << 17;

  r->s[2] ^= r->s[0];
  r->s[3] ^= r->s[1];
  r->s[1] ^= r->s[2];
  r->s[0] ^= r->s[3];
  r->s[2] ^= t;
  r->s[3] = rotl64 (r->s[3], 45);
  return result;
}

/* uniform in [0, 1) */
static double
rng_double (Rng * r)
{
  return (double) (rng_next (r) >> 11) * 0x1.0p-53;
}

/* ---- time, signals ---- */

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * NS_PER_S + (guint64) ts.tv_nsec;
}

static void
on_signal (int sig)
{
  if (sig == SIGUSR1)
    stats_requested = 1;
  else
    quit_requested = 1;
}

/* Installs the handlers and blocks the signals; they are delivered only inside ppoll(),
 * with the returned mask, so no wakeup is lost between a check and the wait. */
static void
setup_signals (sigset_t * wait_mask)
{
  static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
  struct sigaction sa;
  sigset_t block;
  guint i;

  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigemptyset (&block);
  for (i = 0; i < G_N_ELEMENTS (sigs); i++) {
    sigaction (sigs[i], &sa, NULL);
    sigaddset (&block, sigs[i]);
  }
  sigprocmask (SIG_BLOCK, &block, wait_mask);
  for (i = 0; i < G_N_ELEMENTS (sigs); i++)
    sigdelset (wait_mask, sigs[i]);
}

/* ---- addresses ---- */

/* "127.0.0.1:5004" or "[::1]:5004", numeric only. */
static gboolean
parse_address (const gchar * text, const gchar * what, Addr * out,
    GError ** error)
{
  g_autofree gchar *host = NULL;
  const gchar *colon;
  const gchar *port_text;
  guint64 port;
  gboolean v6 = FALSE;

  memset (out, 0, sizeof (*out));
  if (text[0] == '[') {
    const gchar *end = strchr (text, ']');

    if (end == NULL || end[1] != ':') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "%s %s: expected [IPV6]:PORT", what, text);
      return FALSE;
    }
    host = g_strndup (text + 1, end - text - 1);
    port_text = end + 2;
    v6 = TRUE;
  } else {
    colon = strrchr (text, ':');
    if (colon == NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "%s %s: expected ADDRESS:PORT", what, text);
      return FALSE;
    }
    host = g_strndup (text, colon - text);
    port_text = colon + 1;
  }

  if (!g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &port, NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "%s %s: bad port '%s'", what, text, port_text);
    return FALSE;
  }

  if (v6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &out->ss;

    if (inet_pton (AF_INET6, host, &sin6->sin6_addr) != 1) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "%s %s: '%s' is not a numeric IPv6 address", what, text, host);
      return FALSE;
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons ((guint16) port);
    out->len = sizeof (*sin6);
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *) &out->ss;

    if (inet_pton (AF_INET, host, &sin->sin_addr) != 1) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "%s %s: '%s' is not a numeric IPv4 address (use 127.x.x.x or [::1])",
          what, text, host);
      return FALSE;
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons ((guint16) port);
    out->len = sizeof (*sin);
  }
  return TRUE;
}

static gboolean
addr_is_loopback (const Addr * a)
{
  if (a->ss.ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *) &a->ss;

    return (ntohl (sin->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &a->ss;

    return IN6_IS_ADDR_LOOPBACK (&sin6->sin6_addr);
  }
  return FALSE;
}

static guint16
addr_port (const Addr * a)
{
  if (a->ss.ss_family == AF_INET)
    return ntohs (((const struct sockaddr_in *) &a->ss)->sin_port);
  return ntohs (((const struct sockaddr_in6 *) &a->ss)->sin6_port);
}

static gboolean
addr_equal (const Addr * a, const Addr * b)
{
  if (a->ss.ss_family != b->ss.ss_family)
    return FALSE;
  if (a->ss.ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *) &a->ss;
    const struct sockaddr_in *y = (const struct sockaddr_in *) &b->ss;

    return x->sin_port == y->sin_port
        && x->sin_addr.s_addr == y->sin_addr.s_addr;
  } else {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) &a->ss;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *) &b->ss;

    return x->sin6_port == y->sin6_port
        && x->sin6_scope_id == y->sin6_scope_id
        && memcmp (&x->sin6_addr, &y->sin6_addr, sizeof (x->sin6_addr)) == 0;
  }
}

/* A UDP socket bound to the loopback address of @family, port 0 unless @bind_to says. */
static int
open_udp_socket (int family, const Addr * bind_to, GError ** error)
{
  Addr any;
  int fd, size = SOCKET_BUFFER;

  fd = socket (family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "socket: %s", g_strerror (errno));
    return -1;
  }
  /* Bursts must not overflow the kernel queues; the kernel caps these at rmem/wmem_max. */
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof (size));

  if (bind_to == NULL) {
    memset (&any, 0, sizeof (any));
    if (family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *) &any.ss;

      sin->sin_family = AF_INET;
      sin->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      any.len = sizeof (*sin);
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &any.ss;

      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_loopback;
      any.len = sizeof (*sin6);
    }
    bind_to = &any;
  }
  if (family == AF_INET6) {
    int one = 1;

    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof (one));
  }
  if (bind (fd, (const struct sockaddr *) &bind_to->ss, bind_to->len) < 0) {
    int saved = errno;

    close (fd);
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
        "bind to port %u: %s", addr_port (bind_to), g_strerror (saved));
    return -1;
  }
  return fd;
}

/* ---- files ---- */

/* Writes @contents to a temporary file next to @path, then renames it over @path, so a
 * reader sees either nothing or the whole file. */
static gboolean
write_file_atomically (const gchar * path, const gchar * contents,
    GError ** error)
{
  g_autofree gchar *tmp = g_strdup_printf ("%s.tmp-%d", path, (int) getpid ());
  gsize len = strlen (contents), done = 0;
  int fd;

  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot create %s: %s", tmp, g_strerror (errno));
    return FALSE;
  }
  while (done < len) {
    ssize_t w = write (fd, contents + done, len - done);

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int saved = errno;

      close (fd);
      g_unlink (tmp);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
          "cannot write %s: %s", tmp, g_strerror (saved));
      return FALSE;
    }
    done += (gsize) w;
  }
  if (close (fd) < 0 || g_rename (tmp, path) < 0) {
    int saved = errno;

    g_unlink (tmp);
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
        "cannot write %s: %s", path, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

static gchar *
format_stats (const Netem * n)
{
  GString *s = g_string_new (NULL);
  guint d;

  for (d = 0; d < N_DIRS; d++) {
    const Stats *st = &n->stats[d];

    g_string_append_printf (s, "%s%s: received=%" G_GUINT64_FORMAT
        " delivered=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
        " reordered=%" G_GUINT64_FORMAT " duplicated=%" G_GUINT64_FORMAT
        " overflowed=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT
        " pending=%" G_GUINT64_FORMAT " late_mean_us=%" G_GUINT64_FORMAT
        " late_max_us=%" G_GUINT64_FORMAT, d == 0 ? "" : "; ",
        direction_names[d], st->received, st->delivered, st->dropped,
        st->reordered, st->duplicated, st->overflowed, st->errors, st->pending,
        st->late_count ? (st->late_sum_ns / st->late_count + 500) / 1000 : 0,
        (st->late_max_ns + 500) / 1000);
  }
  g_string_append_c (s, '\n');
  return g_string_free (s, FALSE);
}

static void
report_stats (const Netem * n)
{
  g_autofree gchar *line = format_stats (n);
  g_autoptr (GError) error = NULL;

  g_printerr ("echo-netem: %s", line);
  if (n->stats_file != NULL
      && !write_file_atomically (n->stats_file, line, &error))
    g_printerr ("echo-netem: %s\n", error->message);
}

/* ---- the schedule ---- */

static gboolean
entry_before (const Entry * a, const Entry * b)
{
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void
heap_push (Netem * n, Entry * e)
{
  guint i = n->heap_len++;

  while (i > 0) {
    guint parent = (i - 1) / 2;

    if (!entry_before (e, n->heap[parent]))
      break;
    n->heap[i] = n->heap[parent];
    i = parent;
  }
  n->heap[i] = e;
}

static Entry *
heap_pop (Netem * n)
{
  Entry *top = n->heap[0];
  Entry *last = n->heap[--n->heap_len];
  guint i = 0;

  if (n->heap_len == 0)
    return top;
  for (;;) {
    guint child = 2 * i + 1;

    if (child >= n->heap_len)
      break;
    if (child + 1 < n->heap_len
        && entry_before (n->heap[child + 1], n->heap[child]))
      child++;
    if (!entry_before (n->heap[child], last))
      break;
    n->heap[i] = n->heap[child];
    i = child;
  }
  n->heap[i] = last;
  return top;
}

static void
send_datagram (Netem * n, Direction dir, Client * c, const guint8 * data,
    gsize len)
{
  ssize_t r;

  do {
    if (dir == DIR_UP)
      r = send (c->fd, data, len, MSG_DONTWAIT);
    else
      r = sendto (n->listen_fd, data, len, MSG_DONTWAIT,
          (const struct sockaddr *) &c->addr.ss, c->addr.len);
  } while (r < 0 && errno == EINTR);

  if (r == (ssize_t) len)
    n->stats[dir].delivered++;
  else
    n->stats[dir].errors++;
}

static gboolean
enqueue (Netem * n, Direction dir, Client * c, const guint8 * data, gsize len,
    guint64 due)
{
  Entry *e;

  if (n->heap_len >= n->max_queue) {
    n->stats[dir].overflowed++;
    return FALSE;
  }
  e = g_malloc (sizeof (Entry) + len);
  e->due = due;
  e->seq = n->next_seq++;
  e->dir = dir;
  e->client = c;
  e->len = len;
  memcpy (e->data, data, len);
  heap_push (n, e);
  c->inflight++;
  n->stats[dir].pending++;
  return TRUE;
}

/* delay + uniform(-jitter, +jitter), clamped at 0, from a draw @u in [0, 1) */
static guint64
delay_from_draw (const Netem * n, double u)
{
  double d = n->delay_ns + (2.0 * u - 1.0) * n->jitter_ns;

  return d <= 0.0 ? 0 : (guint64) llround (d);
}

/* A datagram arrived at @now in direction @dir; @c is its client either way. */
static void
handle_datagram (Netem * n, Direction dir, Client * c, const guint8 * data,
    gsize len, guint64 now)
{
  Rng *r = &n->rng[dir];
  double u_loss, u_jitter, u_reorder, u_dup, u_dup_jitter;
  guint64 due;
  gboolean held;

  n->stats[dir].received++;
  if (!n->impair[dir]) {
    send_datagram (n, dir, c, data, len);
    return;
  }

  /* A fixed number of draws per datagram: the decisions for the k-th datagram of a
   * direction depend only on the seed and k. */
  u_loss = rng_double (r);
  u_jitter = rng_double (r);
  u_reorder = rng_double (r);
  u_dup = rng_double (r);
  u_dup_jitter = rng_double (r);

  if (u_loss * 100.0 < n->loss) {
    n->stats[dir].dropped++;
    return;
  }

  due = now + delay_from_draw (n, u_jitter);
  held = u_reorder * 100.0 < n->reorder;
  if (held) {
    double hold = n->delay_ns + n->jitter_ns;

    due += hold > 0.0 ? (guint64) llround (hold) : MIN_HOLD_NS;
  }
  if (enqueue (n, dir, c, data, len, due) && held)
    n->stats[dir].reordered++;

  if (u_dup * 100.0 < n->duplicate) {
    n->stats[dir].duplicated++;
    enqueue (n, dir, c, data, len, now + delay_from_draw (n, u_dup_jitter));
  }
}

static void
deliver_due (Netem * n, guint64 now)
{
  while (n->heap_len > 0 && n->heap[0]->due <= now) {
    Entry *e = heap_pop (n);
    Stats *st = &n->stats[e->dir];
    guint64 late = monotonic_ns () - e->due;

    st->late_sum_ns += late;
    st->late_max_ns = MAX (st->late_max_ns, late);
    st->late_count++;
    st->pending--;
    e->client->inflight--;
    send_datagram (n, e->dir, e->client, e->data, e->len);
    g_free (e);
  }
}

/* ---- clients ---- */

static void
client_free (Client * c)
{
  close (c->fd);
  g_free (c);
}

static void
expire_clients (Netem * n, guint64 now)
{
  guint i = 0;

  while (i < n->clients->len) {
    Client *c = g_ptr_array_index (n->clients, i);

    if (c->inflight == 0 && now - c->last_active >= CLIENT_IDLE_NS)
      g_ptr_array_remove_index (n->clients, i);   /* frees c */
    else
      i++;
  }
}

static Client *
find_client (Netem * n, const Addr * from)
{
  guint i;

  for (i = 0; i < n->clients->len; i++) {
    Client *c = g_ptr_array_index (n->clients, i);

    if (addr_equal (&c->addr, from))
      return c;
  }
  return NULL;
}

static Client *
add_client (Netem * n, const Addr * from, guint64 now)
{
  g_autoptr (GError) error = NULL;
  Client *c;
  int fd;

  if (n->clients->len >= MAX_CLIENTS) {
    expire_clients (n, now);
    if (n->clients->len >= MAX_CLIENTS) {
      n->stats[DIR_UP].overflowed++;
      return NULL;
    }
  }
  fd = open_udp_socket (n->upstream.ss.ss_family, NULL, &error);
  if (fd >= 0 && connect (fd, (const struct sockaddr *) &n->upstream.ss,
          n->upstream.len) < 0) {
    g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "connect: %s", g_strerror (errno));
    close (fd);
    fd = -1;
  }
  if (fd < 0) {
    g_printerr ("echo-netem: new client socket: %s\n", error->message);
    n->stats[DIR_UP].errors++;
    return NULL;
  }
  c = g_new0 (Client, 1);
  c->fd = fd;
  c->addr = *from;
  c->last_active = now;
  g_ptr_array_add (n->clients, c);
  return c;
}

/* ---- reading ---- */

static void
read_listen_socket (Netem * n)
{
  guint i;

  for (i = 0; i < READ_BURST; i++) {
    Addr from;
    ssize_t r;
    guint64 now;
    Client *c;

    from.len = sizeof (from.ss);
    r = recvfrom (n->listen_fd, n->buf, MAX_DATAGRAM + 1,
        MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &from.ss, &from.len);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return;                   /* EAGAIN, or an error the next datagram may not have */
    }
    if (r > MAX_DATAGRAM)
      continue;                 /* cannot happen with UDP; never forward a truncation */
    now = monotonic_ns ();
    c = find_client (n, &from);
    if (c == NULL)
      c = add_client (n, &from, now);
    if (c == NULL) {
      n->stats[DIR_UP].received++;
      continue;                 /* counted as overflowed or errors */
    }
    c->last_active = now;
    handle_datagram (n, DIR_UP, c, n->buf, (gsize) r, now);
  }
}

static void
read_client_socket (Netem * n, Client * c)
{
  guint i;

  for (i = 0; i < READ_BURST; i++) {
    ssize_t r = recv (c->fd, n->buf, MAX_DATAGRAM + 1, MSG_DONTWAIT | MSG_TRUNC);
    guint64 now;

    if (r < 0) {
      /* ECONNREFUSED reports an earlier datagram the upstream port refused */
      if (errno == EINTR || errno == ECONNREFUSED)
        continue;
      return;
    }
    if (r > MAX_DATAGRAM)
      continue;
    now = monotonic_ns ();
    c->last_active = now;
    handle_datagram (n, DIR_DOWN, c, n->buf, (gsize) r, now);
  }
}

/* ---- main loop ---- */

static int
run (Netem * n, const sigset_t * wait_mask)
{
  struct pollfd *fds = g_new (struct pollfd, MAX_CLIENTS + 1);
  guint64 last_sweep = monotonic_ns ();

  while (!quit_requested) {
    guint64 now = monotonic_ns ();
    guint64 wait_ns;
    struct timespec ts;
    guint nfds, i;
    int rc;

    deliver_due (n, now);
    if (stats_requested) {
      stats_requested = 0;
      report_stats (n);
    }
    if (now - last_sweep >= SWEEP_INTERVAL_NS) {
      expire_clients (n, now);
      last_sweep = now;
    }

    fds[0].fd = n->listen_fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    for (i = 0; i < n->clients->len; i++) {
      Client *c = g_ptr_array_index (n->clients, i);

      fds[i + 1].fd = c->fd;
      fds[i + 1].events = POLLIN;
      fds[i + 1].revents = 0;
    }
    nfds = n->clients->len + 1;

    /* Sleep until the next delivery (at most a second, for the client sweep). Waking
     * from a sleep takes tens of microseconds, more on a virtual machine: the last
     * --spin-us before a delivery are spent polling without sleeping instead. */
    now = monotonic_ns ();
    wait_ns = SWEEP_INTERVAL_NS;
    if (n->heap_len > 0) {
      guint64 due = n->heap[0]->due;

      wait_ns = due > now + n->spin_ns ? MIN (due - now - n->spin_ns, wait_ns) : 0;
    }
    ts.tv_sec = (time_t) (wait_ns / NS_PER_S);
    ts.tv_nsec = (long) (wait_ns % NS_PER_S);

    rc = ppoll (fds, nfds, &ts, wait_mask);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      g_printerr ("echo-netem: ppoll: %s\n", g_strerror (errno));
      g_free (fds);
      return 1;
    }
    if (rc == 0)
      continue;

    /* Deliveries first: they are what must be on time. */
    deliver_due (n, monotonic_ns ());
    /* Client sockets before the listen socket, whose reads may add clients. */
    for (i = 1; i < nfds; i++) {
      if (fds[i].revents != 0)
        read_client_socket (n, g_ptr_array_index (n->clients, i - 1));
    }
    if (fds[0].revents != 0)
      read_listen_socket (n);
  }
  g_free (fds);
  return 0;
}

static gboolean
check_percent (const gchar * name, double v, GError ** error)
{
  if (!isfinite (v) || v < 0.0 || v > 100.0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--%s must be a percentage between 0 and 100", name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_ms (const gchar * name, double v, GError ** error)
{
  if (!isfinite (v) || v < 0.0 || v > MAX_DELAY_MS) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--%s must be between 0 and %.0f milliseconds", name, MAX_DELAY_MS);
    return FALSE;
  }
  return TRUE;
}

static void
usage_error (const gchar * message)
{
  g_printerr ("echo-netem: %s\nTry 'echo-netem --help'.\n", message);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *listen_text = NULL, *upstream_text = NULL;
  g_autofree gchar *seed_text = NULL, *direction_text = NULL;
  g_autofree gchar *port_file = NULL, *stats_file = NULL;
  double delay_ms = 0, jitter_ms = 0, loss = 0, reorder = 0, duplicate = 0;
  gint max_queue = 10000;
  gint spin_us = 100;
  GOptionEntry entries[] = {
    {"listen", 0, 0, G_OPTION_ARG_STRING, &listen_text,
        "Address to receive clients' datagrams on, 127.x.x.x:PORT or [::1]:PORT; "
          "port 0 picks a free one (required)", "ADDR:PORT"},
    {"upstream", 0, 0, G_OPTION_ARG_STRING, &upstream_text,
        "The server to relay to, a loopback ADDR:PORT (required)", "ADDR:PORT"},
    {"delay-ms", 0, 0, G_OPTION_ARG_DOUBLE, &delay_ms,
        "Base one-way delay in milliseconds, fractions allowed (default 0)", "MS"},
    {"jitter-ms", 0, 0, G_OPTION_ARG_DOUBLE, &jitter_ms,
        "Each datagram's delay is delay + uniform(-jitter, +jitter), clamped at 0 "
          "(default 0)", "MS"},
    {"loss", 0, 0, G_OPTION_ARG_DOUBLE, &loss,
        "Percentage of datagrams dropped (default 0)", "PERCENT"},
    {"reorder", 0, 0, G_OPTION_ARG_DOUBLE, &reorder,
        "Percentage of datagrams held back a further delay + jitter (1 ms when both "
          "are 0) so that later ones overtake them (default 0)", "PERCENT"},
    {"duplicate", 0, 0, G_OPTION_ARG_DOUBLE, &duplicate,
        "Percentage of datagrams delivered twice, the copy with its own delay "
          "(default 0)", "PERCENT"},
    {"seed", 0, 0, G_OPTION_ARG_STRING, &seed_text,
        "Seed of the random decisions, an unsigned 64-bit integer (default: random, "
          "printed on stderr)", "N"},
    {"port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file,
        "Once bound, write the listen port (decimal and a newline) to PATH, atomically",
        "PATH"},
    {"stats-file", 0, 0, G_OPTION_ARG_FILENAME, &stats_file,
        "On SIGTERM, SIGINT or SIGUSR1 write a one-line summary of the counters to PATH "
          "(it always goes to stderr too)", "PATH"},
    {"max-queue", 0, 0, G_OPTION_ARG_INT, &max_queue,
        "Most datagrams scheduled at once over both directions; more are dropped and "
          "counted as overflowed (default 10000)", "N"},
    {"spin-us", 0, 0, G_OPTION_ARG_INT, &spin_us,
        "Stop sleeping this many microseconds before each delivery and poll instead, "
          "for accuracy; 0 only sleeps (default 100)", "US"},
    {"direction", 0, 0, G_OPTION_ARG_STRING, &direction_text,
        "Impair both directions, only up (client to server) or only down (server to "
          "client); the other direction is relayed at once (default both)",
        "both|up|down"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *port_line = NULL;
  Addr listen_addr, bound;
  sigset_t wait_mask;
  Netem n;
  guint64 seed, mix;
  int rc;
  guint d;

  context = g_option_context_new ("- UDP impairment proxy on loopback");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Relays UDP between clients and one upstream server on loopback: each client "
      "address\ngets its own socket towards the upstream, and replies go back to the "
      "client they\nbelong to. In each impaired direction every datagram is dropped with "
      "probability\n--loss, otherwise delivered after delay + uniform(-jitter, +jitter); "
      "with probability\n--reorder it is held back a further delay + jitter, with "
      "probability --duplicate a\ncopy follows with its own delay. SIGTERM or SIGINT "
      "exit (status 0) after writing the\nstatistics, SIGUSR1 writes them and goes on.\n\n"
      "Example:\n  echo-netem --listen 127.0.0.1:0 --upstream 127.0.0.1:5004 "
      "--delay-ms 5 --jitter-ms 5 --loss 2 --seed 1 --port-file port\n");
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    usage_error (error->message);
    return EXIT_USAGE;
  }
  if (argc > 1) {
    usage_error ("unexpected argument");
    return EXIT_USAGE;
  }
  if (listen_text == NULL || upstream_text == NULL) {
    usage_error ("--listen and --upstream are required");
    return EXIT_USAGE;
  }

  memset (&n, 0, sizeof (n));
  n.impair[DIR_UP] = n.impair[DIR_DOWN] = TRUE;
  if (direction_text != NULL && g_strcmp0 (direction_text, "both") != 0) {
    if (g_strcmp0 (direction_text, "up") == 0)
      n.impair[DIR_DOWN] = FALSE;
    else if (g_strcmp0 (direction_text, "down") == 0)
      n.impair[DIR_UP] = FALSE;
    else {
      usage_error ("--direction must be both, up or down");
      return EXIT_USAGE;
    }
  }
  if (!check_ms ("delay-ms", delay_ms, &error)
      || !check_ms ("jitter-ms", jitter_ms, &error)
      || !check_percent ("loss", loss, &error)
      || !check_percent ("reorder", reorder, &error)
      || !check_percent ("duplicate", duplicate, &error)) {
    usage_error (error->message);
    return EXIT_USAGE;
  }
  if (max_queue < 1 || max_queue > MAX_QUEUE_LIMIT) {
    usage_error ("--max-queue must be between 1 and 1000000");
    return EXIT_USAGE;
  }
  if (spin_us < 0 || spin_us > 10000) {
    usage_error ("--spin-us must be between 0 and 10000");
    return EXIT_USAGE;
  }
  if (seed_text != NULL) {
    if (!g_ascii_string_to_unsigned (seed_text, 10, 0, G_MAXUINT64, &seed,
            &error)) {
      usage_error (error->message);
      return EXIT_USAGE;
    }
  } else if (getrandom (&seed, sizeof (seed), 0) != sizeof (seed)) {
    seed = monotonic_ns () ^ ((guint64) getpid () << 32);
  }

  if (!parse_address (listen_text, "--listen", &listen_addr, &error)
      || !parse_address (upstream_text, "--upstream", &n.upstream, &error)) {
    usage_error (error->message);
    return EXIT_USAGE;
  }
  if (!addr_is_loopback (&listen_addr) || !addr_is_loopback (&n.upstream)) {
    g_printerr ("echo-netem: refusing %s %s: only loopback addresses (127.0.0.0/8 "
        "or [::1]) are allowed\n", addr_is_loopback (&listen_addr) ? "--upstream" :
        "--listen", addr_is_loopback (&listen_addr) ? upstream_text : listen_text);
    return EXIT_USAGE;
  }
  if (addr_port (&n.upstream) == 0) {
    usage_error ("--upstream needs a port other than 0");
    return EXIT_USAGE;
  }

  n.delay_ns = delay_ms * (double) NS_PER_MS;
  n.jitter_ns = jitter_ms * (double) NS_PER_MS;
  n.loss = loss;
  n.reorder = reorder;
  n.duplicate = duplicate;
  n.max_queue = (guint) max_queue;
  n.spin_ns = (guint64) spin_us * 1000;
  n.stats_file = stats_file;
  mix = seed;
  for (d = 0; d < N_DIRS; d++) {
    guint i;

    for (i = 0; i < 4; i++)
      n.rng[d].s[i] = splitmix64 (&mix);
  }
  g_printerr ("echo-netem: seed %" G_GUINT64_FORMAT "\n", seed);

  /* Deliveries are timed to tens of microseconds: no timer slack on our sleeps. */
  prctl (PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  setup_signals (&wait_mask);

  n.listen_fd = open_udp_socket (listen_addr.ss.ss_family, &listen_addr,
      &error);
  if (n.listen_fd < 0) {
    g_printerr ("echo-netem: --listen %s: %s\n", listen_text, error->message);
    return 1;
  }
  bound.len = sizeof (bound.ss);
  getsockname (n.listen_fd, (struct sockaddr *) &bound.ss, &bound.len);
  if (port_file != NULL) {
    port_line = g_strdup_printf ("%u\n", addr_port (&bound));
    if (!write_file_atomically (port_file, port_line, &error)) {
      g_printerr ("echo-netem: %s\n", error->message);
      close (n.listen_fd);
      return 1;
    }
  }

  n.clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  n.heap = g_new (Entry *, n.max_queue);
  n.buf = g_malloc (MAX_DATAGRAM + 1);

  rc = run (&n, &wait_mask);
  report_stats (&n);

  while (n.heap_len > 0)
    g_free (heap_pop (&n));
  g_free (n.heap);
  g_free (n.buf);
  g_ptr_array_unref (n.clients);
  close (n.listen_fd);
  return rc;
}
