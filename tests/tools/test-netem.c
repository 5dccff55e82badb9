/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Tests of echo-netem, the UDP impairment proxy: the built proxy runs between the test's
 * client sockets and a small UDP echo server on a thread, and what arrives is checked
 * against the configured impairment with bounds that do not depend on the machine's speed,
 * and against the proxy's own statistics exactly.
 *
 * The proxy's path is the first argument after the GLib test options (meson passes it),
 * or $ECHO_NETEM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <glib.h>
#include <glib/gstdio.h>

static const gchar *netem_path;

#define NS_PER_MS G_GUINT64_CONSTANT (1000000)
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Only for a datagram that must arrive; never a pass/fail threshold on speed. */
#define ARRIVAL_TIMEOUT_MS 20000
#define STARTUP_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define MAX_DATAGRAM 65535

/* Every test datagram starts with this header; the rest is a pattern of (tag, seq). */
typedef struct
{
  guint32 tag;
  guint32 seq;
  guint64 sent_ns;
} Header;

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static int
udp_socket (void)
{
  struct sockaddr_in sin;
  int fd, size = SOCKET_BUFFER;

  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof (size));
  memset (&sin, 0, sizeof (sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof (sin)), ==, 0);
  return fd;
}

static guint16
socket_port (int fd)
{
  struct sockaddr_in sin;
  socklen_t len = sizeof (sin);

  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  return ntohs (sin.sin_port);
}

static void
send_to_port (int fd, guint16 port, const guint8 * data, gsize len)
{
  struct sockaddr_in sin;

  memset (&sin, 0, sizeof (sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  sin.sin_port = htons (port);
  g_assert_cmpint (sendto (fd, data, len, 0, (struct sockaddr *) &sin,
          sizeof (sin)), ==, (gssize) len);
}

/* Length of the next datagram on @fd, or -1 when none came within @timeout_ms. */
static gssize
recv_timeout (int fd, guint8 * buf, gsize size, int timeout_ms)
{
  struct pollfd p = { fd, POLLIN, 0 };
  gssize r;

  if (poll (&p, 1, timeout_ms) <= 0)
    return -1;
  r = recv (fd, buf, size, 0);
  g_assert_cmpint (r, >=, 0);
  return r;
}

/* ---- datagrams ---- */

static gsize
make_datagram (guint8 * buf, guint32 tag, guint32 seq, gsize len)
{
  Header h = { tag, seq, monotonic_ns () };
  gsize i;

  g_assert_cmpuint (len, >=, sizeof (h));
  memcpy (buf, &h, sizeof (h));
  for (i = sizeof (h); i < len; i++)
    buf[i] = (guint8) (tag * 31 + seq * 7 + i);
  return len;
}

/* Checks the pattern and returns the header. */
static Header
check_datagram (const guint8 * buf, gssize len)
{
  Header h;
  gsize i;

  g_assert_cmpint (len, >=, (gssize) sizeof (h));
  memcpy (&h, buf, sizeof (h));
  for (i = sizeof (h); i < (gsize) len; i++) {
    if (buf[i] != (guint8) (h.tag * 31 + h.seq * 7 + i))
      g_error ("datagram %u of tag %u modified at byte %" G_GSIZE_FORMAT,
          h.seq, h.tag, i);
  }
  return h;
}

/* ---- the echo server ---- */

typedef struct
{
  int fd;
  guint16 port;
  GThread *thread;
  gint stop;
  gint received;
  GMutex lock;
  GHashTable *sources;          /* source ports seen */
} EchoServer;

static gpointer
echo_server_thread (gpointer data)
{
  EchoServer *s = data;
  guint8 *buf = g_malloc (MAX_DATAGRAM + 1);

  while (!g_atomic_int_get (&s->stop)) {
    struct pollfd p = { s->fd, POLLIN, 0 };
    struct sockaddr_in from;
    socklen_t from_len = sizeof (from);
    gssize r;

    if (poll (&p, 1, 20) <= 0)
      continue;
    r = recvfrom (s->fd, buf, MAX_DATAGRAM + 1, MSG_DONTWAIT,
        (struct sockaddr *) &from, &from_len);
    if (r < 0)
      continue;
    g_mutex_lock (&s->lock);
    g_hash_table_add (s->sources, GUINT_TO_POINTER (ntohs (from.sin_port)));
    g_mutex_unlock (&s->lock);
    g_atomic_int_inc (&s->received);
    sendto (s->fd, buf, r, 0, (struct sockaddr *) &from, from_len);
  }
  g_free (buf);
  return NULL;
}

static EchoServer *
echo_server_start (void)
{
  EchoServer *s = g_new0 (EchoServer, 1);

  s->fd = udp_socket ();
  s->port = socket_port (s->fd);
  g_mutex_init (&s->lock);
  s->sources = g_hash_table_new (NULL, NULL);
  s->thread = g_thread_new ("echo-server", echo_server_thread, s);
  return s;
}

static void
echo_server_stop (EchoServer * s)
{
  g_atomic_int_set (&s->stop, 1);
  g_thread_join (s->thread);
  close (s->fd);
  g_hash_table_unref (s->sources);
  g_mutex_clear (&s->lock);
  g_free (s);
}

/* ---- the proxy ---- */

enum
{ UP, DOWN };

typedef struct
{
  guint64 received, delivered, dropped, reordered, duplicated, overflowed,
      errors, pending;
  guint64 late_mean_us, late_max_us;    /* reported, never asserted on */
} DirStats;

static const struct
{
  const gchar *name;
  gsize offset;
} stat_fields[] = {
  {"received", G_STRUCT_OFFSET (DirStats, received)},
  {"delivered", G_STRUCT_OFFSET (DirStats, delivered)},
  {"dropped", G_STRUCT_OFFSET (DirStats, dropped)},
  {"reordered", G_STRUCT_OFFSET (DirStats, reordered)},
  {"duplicated", G_STRUCT_OFFSET (DirStats, duplicated)},
  {"overflowed", G_STRUCT_OFFSET (DirStats, overflowed)},
  {"errors", G_STRUCT_OFFSET (DirStats, errors)},
  {"pending", G_STRUCT_OFFSET (DirStats, pending)},
  {"late_mean_us", G_STRUCT_OFFSET (DirStats, late_mean_us)},
  {"late_max_us", G_STRUCT_OFFSET (DirStats, late_max_us)},
};

typedef struct
{
  GPid pid;
  gchar *dir;
  gchar *port_file;
  gchar *stats_file;
  guint16 port;
} Proxy;

/* Starts echo-netem relaying to @upstream_port with the NULL-terminated extra options,
 * and waits for its port file. */
static Proxy *
proxy_start (guint upstream_port, ...)
{
  Proxy *p = g_new0 (Proxy, 1);
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const gchar *arg;
  gint64 deadline;
  va_list ap;

  p->dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  p->port_file = g_build_filename (p->dir, "port", NULL);
  p->stats_file = g_build_filename (p->dir, "stats", NULL);

  g_ptr_array_add (argv, g_strdup (netem_path));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1:0"));
  g_ptr_array_add (argv, g_strdup ("--upstream"));
  g_ptr_array_add (argv, g_strdup_printf ("127.0.0.1:%u", upstream_port));
  g_ptr_array_add (argv, g_strdup ("--port-file"));
  g_ptr_array_add (argv, g_strdup (p->port_file));
  g_ptr_array_add (argv, g_strdup ("--stats-file"));
  g_ptr_array_add (argv, g_strdup (p->stats_file));
  va_start (ap, upstream_port);
  while ((arg = va_arg (ap, const gchar *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_spawn_async (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
      NULL, NULL, &p->pid, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (argv);

  deadline = g_get_monotonic_time () + STARTUP_TIMEOUT_US;
  for (;;) {
    g_autofree gchar *text = NULL;
    int status;

    if (g_file_get_contents (p->port_file, &text, NULL, NULL)) {
      guint64 port;

      g_assert_true (g_str_has_suffix (text, "\n"));
      text[strlen (text) - 1] = '\0';
      g_assert_true (g_ascii_string_to_unsigned (text, 10, 1, 65535, &port,
              NULL));
      p->port = (guint16) port;
      break;
    }
    g_assert_cmpint (waitpid (p->pid, &status, WNOHANG), ==, 0);
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (5000);
  }
  return p;
}

static void
parse_stats (const gchar * text, DirStats out[2])
{
  g_auto (GStrv) parts = NULL;
  guint i;

  memset (out, 0, 2 * sizeof (DirStats));
  g_assert_true (g_str_has_suffix (text, "\n"));
  g_assert_true (strchr (text, '\n') == text + strlen (text) - 1);    /* one line */
  parts = g_strsplit (text, "; ", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  for (i = 0; i < 2; i++) {
    g_auto (GStrv) fields = g_strsplit (g_strstrip (parts[i]), " ", -1);
    guint f;

    g_assert_cmpstr (fields[0], ==, i == UP ? "up:" : "down:");
    g_assert_cmpuint (g_strv_length (fields), ==,
        1 + G_N_ELEMENTS (stat_fields));
    for (f = 0; f < G_N_ELEMENTS (stat_fields); f++) {
      g_autofree gchar *prefix = g_strdup_printf ("%s=", stat_fields[f].name);
      guint64 *value = G_STRUCT_MEMBER_P (&out[i], stat_fields[f].offset);

      g_assert_true (g_str_has_prefix (fields[f + 1], prefix));
      g_assert_true (g_ascii_string_to_unsigned (fields[f + 1] +
              strlen (prefix), 10, 0, G_MAXUINT64, value, NULL));
    }
  }
}

/* Asks a running proxy for its statistics (SIGUSR1) until it has received @up_received
 * datagrams from clients and, if @settled, has nothing left to deliver. */
static void
proxy_poll_stats (Proxy * p, guint64 up_received, gboolean settled,
    DirStats out[2])
{
  gint64 deadline = g_get_monotonic_time () + STARTUP_TIMEOUT_US;

  for (;;) {
    g_autofree gchar *text = NULL;

    g_assert_cmpint (kill (p->pid, SIGUSR1), ==, 0);
    g_usleep (20000);
    if (g_file_get_contents (p->stats_file, &text, NULL, NULL)) {
      parse_stats (text, out);
      if (out[UP].received == up_received && (!settled
              || out[UP].pending + out[DOWN].pending == 0))
        return;
    }
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  }
}

/* SIGTERM; the proxy must exit with status 0 and leave its statistics. */
static void
proxy_stop (Proxy * p, DirStats out[2])
{
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  g_assert_cmpint (kill (p->pid, SIGTERM), ==, 0);
  g_assert_cmpint (waitpid (p->pid, &status, 0), ==, p->pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_spawn_close_pid (p->pid);

  g_file_get_contents (p->stats_file, &text, NULL, &error);
  g_assert_no_error (error);
  parse_stats (text, out);

  g_unlink (p->port_file);
  g_unlink (p->stats_file);
  g_assert_cmpint (g_rmdir (p->dir), ==, 0);
  g_free (p->port_file);
  g_free (p->stats_file);
  g_free (p->dir);
  g_free (p);
}

/* received + duplicated = delivered + dropped + overflowed + errors + pending */
static void
assert_balanced (const DirStats * s)
{
  g_assert_cmpuint (s->received + s->duplicated, ==,
      s->delivered + s->dropped + s->overflowed + s->errors + s->pending);
}

/* ---- exchanges ---- */

/* Sends @count datagrams in windows of @window; after each window collects replies
 * until all sent so far are answered or none came for @quiet_ms, so that the kernel
 * queues never fill whatever the proxy drops. Then collects every datagram the server
 * echoed, however late: the proxy's statistics say when nothing is left in flight.
 * Counts the copies of each seq in @copies. */
static void
exchange_paced (int fd, Proxy * p, EchoServer * server, guint count,
    guint window, int quiet_ms, guint * copies)
{
  guint8 *buf = g_malloc (MAX_DATAGRAM + 1);
  guint sent = 0, answered = 0, total = 0;
  gint64 deadline;
  DirStats s[2];

  while (sent < count) {
    guint i;

    for (i = 0; i < window && sent < count; i++, sent++)
      send_to_port (fd, p->port, buf, make_datagram (buf, 1, sent, 64));
    for (;;) {
      gssize r = recv_timeout (fd, buf, MAX_DATAGRAM + 1,
          answered >= sent ? 0 : quiet_ms);
      Header h;

      if (r < 0)
        break;
      h = check_datagram (buf, r);
      g_assert_cmpuint (h.tag, ==, 1);
      g_assert_cmpuint (h.seq, <, count);
      if (copies[h.seq]++ == 0)
        answered++;
      total++;
    }
  }

  /* the stragglers: all sent reached the proxy and left it, all it sent reached the
   * server (which echoes at once), and everything echoed comes back */
  proxy_poll_stats (p, count, TRUE, s);
  deadline = g_get_monotonic_time () + STARTUP_TIMEOUT_US;
  while ((guint64) g_atomic_int_get (&server->received) < s[UP].delivered) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (1000);
  }
  while (total < (guint) g_atomic_int_get (&server->received)) {
    gssize r = recv_timeout (fd, buf, MAX_DATAGRAM + 1, ARRIVAL_TIMEOUT_MS);
    Header h;

    g_assert_cmpint (r, >, 0);
    h = check_datagram (buf, r);
    g_assert_cmpuint (h.seq, <, count);
    copies[h.seq]++;
    total++;
  }
  g_assert_cmpint (recv_timeout (fd, buf, MAX_DATAGRAM + 1, 100), ==, -1);
  g_free (buf);
}

/* ---- tests ---- */

static void
test_passthrough (void)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--seed", "1", NULL);
  int fd = udp_socket ();
  guint8 *buf = g_malloc (MAX_DATAGRAM + 1);
  guint32 seq, next = 0;
  DirStats s[2];

  /* windows of 10, waiting for each window's replies: nothing may be lost or moved */
  for (seq = 0; seq < 300; seq++) {
    gsize len = seq % 50 == 7 ? 60000 : 16 + (seq * 37) % 1400;

    send_to_port (fd, p->port, buf, make_datagram (buf, 2, seq, len));
    if (seq % 10 == 9) {
      while (next <= seq) {
        gssize r = recv_timeout (fd, buf, MAX_DATAGRAM + 1, ARRIVAL_TIMEOUT_MS);
        Header h;

        g_assert_cmpint (r, >, 0);
        h = check_datagram (buf, r);
        g_assert_cmpuint (h.tag, ==, 2);
        g_assert_cmpuint (h.seq, ==, next);
        g_assert_cmpint (r, ==, next % 50 == 7 ? 60000 : 16 + (next * 37) % 1400);
        next++;
      }
    }
  }
  g_assert_cmpint (recv_timeout (fd, buf, MAX_DATAGRAM + 1, 100), ==, -1);

  /* SIGUSR1 writes the statistics and the proxy goes on */
  proxy_poll_stats (p, 300, TRUE, s);
  send_to_port (fd, p->port, buf, make_datagram (buf, 2, 300, 100));
  g_assert_cmpint (recv_timeout (fd, buf, MAX_DATAGRAM + 1, ARRIVAL_TIMEOUT_MS),
      ==, 100);

  proxy_stop (p, s);
  g_assert_cmpuint (s[UP].received, ==, 301);
  g_assert_cmpuint (s[UP].delivered, ==, 301);
  g_assert_cmpuint (s[DOWN].received, ==, 301);
  g_assert_cmpuint (s[DOWN].delivered, ==, 301);
  assert_balanced (&s[UP]);
  assert_balanced (&s[DOWN]);
  g_assert_cmpint (g_atomic_int_get (&server->received), ==, 301);

  g_free (buf);
  close (fd);
  echo_server_stop (server);
}

#define LOSS_COUNT 2000

/* 20% loss on the way up: returns how many came back, and which in @copies. */
static guint
run_loss (const gchar * seed, guint * copies)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--loss", "20", "--direction", "up",
      "--seed", seed, NULL);
  int fd = udp_socket ();
  guint i, back = 0, server_count;
  DirStats s[2];

  exchange_paced (fd, p, server, LOSS_COUNT, 50, 30, copies);
  proxy_stop (p, s);
  server_count = g_atomic_int_get (&server->received);
  for (i = 0; i < LOSS_COUNT; i++) {
    g_assert_cmpuint (copies[i], <=, 1);
    back += copies[i];
  }

  /* the proxy counted exactly what the test saw */
  g_assert_cmpuint (s[UP].received, ==, LOSS_COUNT);
  g_assert_cmpuint (s[UP].dropped, ==, LOSS_COUNT - server_count);
  g_assert_cmpuint (s[UP].delivered, ==, server_count);
  g_assert_cmpuint (s[UP].overflowed + s[UP].errors + s[UP].pending, ==, 0);
  g_assert_cmpuint (s[UP].reordered + s[UP].duplicated, ==, 0);
  g_assert_cmpuint (s[DOWN].received, ==, server_count);
  g_assert_cmpuint (s[DOWN].delivered, ==, back);
  g_assert_cmpuint (s[DOWN].dropped, ==, 0);
  g_assert_cmpuint (back, ==, server_count);

  close (fd);
  echo_server_stop (server);
  return back;
}

static void
test_loss (void)
{
  guint *copies = g_new0 (guint, LOSS_COUNT);
  guint back = run_loss ("7", copies);
  guint lost = LOSS_COUNT - back;

  /* binomial(2000, 0.2): mean 400, sd 18; 10%..30% is more than 10 sd either side */
  g_test_message ("lost %u of %u", lost, LOSS_COUNT);
  g_assert_cmpuint (lost, >=, LOSS_COUNT / 10);
  g_assert_cmpuint (lost, <=, LOSS_COUNT * 3 / 10);
  g_free (copies);
}

static void
test_seed_determinism (void)
{
  guint *a = g_new0 (guint, LOSS_COUNT);
  guint *b = g_new0 (guint, LOSS_COUNT);
  guint *c = g_new0 (guint, LOSS_COUNT);

  run_loss ("12345", a);
  run_loss ("12345", b);
  run_loss ("54321", c);
  /* the same seed drops the same datagrams; another seed drops others */
  g_assert_cmpmem (a, LOSS_COUNT * sizeof (guint), b, LOSS_COUNT * sizeof (guint));
  g_assert_true (memcmp (a, c, LOSS_COUNT * sizeof (guint)) != 0);
  g_free (a);
  g_free (b);
  g_free (c);
}

typedef struct
{
  guint inversions;             /* arrivals after a later-sent datagram */
  guint64 min_rtt_ns, max_rtt_ns;
} Arrivals;

/* Sends @count datagrams about @spacing_us apart, timing each reply (all must come). */
static Arrivals
exchange_timed (int fd, guint16 port, guint count, gulong spacing_us)
{
  guint8 *buf = g_malloc (MAX_DATAGRAM + 1);
  Arrivals a = { 0, G_MAXUINT64, 0 };
  gint64 max_seq = -1;
  guint sent = 0, got = 0;

  while (got < count) {
    int timeout_ms = ARRIVAL_TIMEOUT_MS;

    if (sent < count) {
      send_to_port (fd, port, buf, make_datagram (buf, 3, sent++, 200));
      g_usleep (spacing_us);
      timeout_ms = 0;           /* collect what has come, then send on */
    }
    while (got < count) {
      gssize r = recv_timeout (fd, buf, MAX_DATAGRAM + 1, timeout_ms);
      guint64 now = monotonic_ns ();
      Header h;

      if (r < 0) {
        g_assert_cmpint (timeout_ms, ==, 0);    /* after the last send, all must come */
        break;
      }
      h = check_datagram (buf, r);
      g_assert_cmpuint (h.tag, ==, 3);
      if ((gint64) h.seq < max_seq)
        a.inversions++;
      max_seq = MAX (max_seq, (gint64) h.seq);
      a.min_rtt_ns = MIN (a.min_rtt_ns, now - h.sent_ns);
      a.max_rtt_ns = MAX (a.max_rtt_ns, now - h.sent_ns);
      got++;
    }
  }
  g_assert_cmpint (recv_timeout (fd, buf, MAX_DATAGRAM + 1, 100), ==, -1);
  g_free (buf);
  return a;
}

static void
test_jitter (void)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--delay-ms", "20", "--jitter-ms", "15",
      "--direction", "up", "--seed", "3", NULL);
  int fd = udp_socket ();
  Arrivals a = exchange_timed (fd, p->port, 200, 1000);
  DirStats s[2];

  g_test_message ("%u inversions, rtt %.2f..%.2f ms", a.inversions,
      a.min_rtt_ns / 1e6, a.max_rtt_ns / 1e6);
  /* delay +- 15 ms with datagrams about 1 ms apart: they overtake each other */
  g_assert_cmpuint (a.inversions, >, 0);
  /* never earlier than delay - jitter (the proxy receives after our clock was read) */
  g_assert_cmpuint (a.min_rtt_ns, >=, 5 * NS_PER_MS);
  /* nor absurdly later than delay + jitter */
  g_assert_cmpuint (a.max_rtt_ns, <=, (35 + 1000) * NS_PER_MS);

  proxy_stop (p, s);
  g_assert_cmpuint (s[UP].received, ==, 200);
  g_assert_cmpuint (s[UP].delivered, ==, 200);
  g_assert_cmpuint (s[UP].reordered, ==, 0);
  g_assert_cmpuint (s[DOWN].delivered, ==, 200);
  close (fd);
  echo_server_stop (server);
}

static void
test_reorder (void)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--delay-ms", "5", "--reorder", "20",
      "--direction", "up", "--seed", "4", NULL);
  int fd = udp_socket ();
  Arrivals a = exchange_timed (fd, p->port, 200, 500);
  DirStats s[2];

  g_test_message ("%u inversions, rtt %.2f..%.2f ms", a.inversions,
      a.min_rtt_ns / 1e6, a.max_rtt_ns / 1e6);
  /* held back 5 ms more while others follow every 0.5 ms: they are overtaken */
  g_assert_cmpuint (a.inversions, >, 0);
  g_assert_cmpuint (a.min_rtt_ns, >=, 5 * NS_PER_MS);

  proxy_stop (p, s);
  g_assert_cmpuint (s[UP].received, ==, 200);
  g_assert_cmpuint (s[UP].delivered, ==, 200);
  /* binomial(200, 0.2): mean 40, sd 5.7 */
  g_assert_cmpuint (s[UP].reordered, >=, 10);
  g_assert_cmpuint (s[UP].reordered, <=, 80);
  close (fd);
  echo_server_stop (server);
}

static void
test_duplicate (void)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--duplicate", "10", "--direction",
      "up", "--seed", "5", NULL);
  int fd = udp_socket ();
  guint *copies = g_new0 (guint, 1000);
  guint i, doubled = 0;
  DirStats s[2];

  exchange_paced (fd, p, server, 1000, 50, 30, copies);
  proxy_stop (p, s);
  for (i = 0; i < 1000; i++) {
    g_assert_cmpuint (copies[i], >=, 1);
    g_assert_cmpuint (copies[i], <=, 2);
    doubled += copies[i] - 1;
  }
  g_test_message ("%u of 1000 duplicated", doubled);
  /* binomial(1000, 0.1): mean 100, sd 9.5 */
  g_assert_cmpuint (doubled, >=, 30);
  g_assert_cmpuint (doubled, <=, 200);
  g_assert_cmpuint (s[UP].received, ==, 1000);
  g_assert_cmpuint (s[UP].duplicated, ==, doubled);
  g_assert_cmpuint (s[UP].delivered, ==, 1000 + doubled);
  g_assert_cmpuint (s[DOWN].received, ==, 1000 + doubled);
  g_assert_cmpuint (s[DOWN].delivered, ==, 1000 + doubled);
  assert_balanced (&s[UP]);
  g_assert_cmpint (g_atomic_int_get (&server->received), ==, 1000 + doubled);

  g_free (copies);
  close (fd);
  echo_server_stop (server);
}

static void
test_overflow (void)
{
  EchoServer *server = echo_server_start ();
  /* nothing is delivered within the test: the queue only fills */
  Proxy *p = proxy_start (server->port, "--delay-ms", "60000", "--max-queue",
      "10", NULL);
  int fd = udp_socket ();
  guint8 buf[64];
  guint32 seq;
  DirStats s[2];

  for (seq = 0; seq < 50; seq++)
    send_to_port (fd, p->port, buf, make_datagram (buf, 4, seq, sizeof (buf)));
  proxy_poll_stats (p, 50, FALSE, s);
  proxy_stop (p, s);
  g_assert_cmpuint (s[UP].received, ==, 50);
  g_assert_cmpuint (s[UP].overflowed, ==, 40);
  g_assert_cmpuint (s[UP].pending, ==, 10);
  g_assert_cmpuint (s[UP].delivered, ==, 0);
  assert_balanced (&s[UP]);
  g_assert_cmpint (g_atomic_int_get (&server->received), ==, 0);
  close (fd);
  echo_server_stop (server);
}

static void
test_two_clients (void)
{
  EchoServer *server = echo_server_start ();
  Proxy *p = proxy_start (server->port, "--seed", "6", NULL);
  int fds[2] = { udp_socket (), udp_socket () };
  guint8 *buf = g_malloc (MAX_DATAGRAM + 1);
  guint32 seq;
  guint c;
  DirStats s[2];

  for (seq = 0; seq < 100; seq++) {
    for (c = 0; c < 2; c++)
      send_to_port (fds[c], p->port, buf, make_datagram (buf, 10 + c, seq, 100));
    for (c = 0; c < 2; c++) {
      gssize r = recv_timeout (fds[c], buf, MAX_DATAGRAM + 1, ARRIVAL_TIMEOUT_MS);
      Header h;

      g_assert_cmpint (r, ==, 100);
      h = check_datagram (buf, r);
      g_assert_cmpuint (h.tag, ==, 10 + c);       /* only its own replies */
      g_assert_cmpuint (h.seq, ==, seq);
    }
  }
  for (c = 0; c < 2; c++)
    g_assert_cmpint (recv_timeout (fds[c], buf, MAX_DATAGRAM + 1, 100), ==, -1);

  /* the server saw two sources, neither of them a client's own */
  g_mutex_lock (&server->lock);
  g_assert_cmpuint (g_hash_table_size (server->sources), ==, 2);
  for (c = 0; c < 2; c++)
    g_assert_false (g_hash_table_contains (server->sources,
            GUINT_TO_POINTER (socket_port (fds[c]))));
  g_mutex_unlock (&server->lock);

  proxy_stop (p, s);
  g_assert_cmpuint (s[UP].delivered, ==, 200);
  g_assert_cmpuint (s[DOWN].delivered, ==, 200);
  g_free (buf);
  close (fds[0]);
  close (fds[1]);
  echo_server_stop (server);
}

/* Runs the proxy to completion; returns its exit status, @err gets its stderr. */
static int
run_sync (const gchar * const *args, gchar ** out, gchar ** err)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) netem_path);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) * args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
      out, err, &status, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (argv);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
assert_refused (const gchar * const *args, const gchar * expect)
{
  g_autofree gchar *out = NULL, *err = NULL;

  g_assert_cmpint (run_sync (args, &out, &err), ==, 2);
  if (strstr (err, expect) == NULL)
    g_error ("stderr lacks '%s': %s", expect, err);
}

static void
test_refusals (void)
{
  const gchar *const remote_up[] = { "--listen", "127.0.0.1:0", "--upstream",
    "192.0.2.1:5004", NULL
  };
  const gchar *const any_listen[] = { "--listen", "0.0.0.0:0", "--upstream",
    "127.0.0.1:5004", NULL
  };
  const gchar *const name_up[] = { "--listen", "127.0.0.1:0", "--upstream",
    "localhost:5004", NULL
  };
  const gchar *const v6_up[] = { "--listen", "127.0.0.1:0", "--upstream",
    "[2001:db8::1]:5004", NULL
  };
  const gchar *const bad_loss[] = { "--listen", "127.0.0.1:0", "--upstream",
    "127.0.0.1:5004", "--loss", "150", NULL
  };
  const gchar *const bad_dir[] = { "--listen", "127.0.0.1:0", "--upstream",
    "127.0.0.1:5004", "--direction", "sideways", NULL
  };
  const gchar *const bogus[] = { "--listen", "127.0.0.1:0", "--upstream",
    "127.0.0.1:5004", "--bogus", NULL
  };
  const gchar *const missing[] = { "--listen", "127.0.0.1:0", NULL };
  const gchar *const help[] = { "--help", NULL };
  const gchar *const options[] = { "--listen", "--upstream", "--delay-ms",
    "--jitter-ms", "--loss", "--reorder", "--duplicate", "--seed", "--port-file",
    "--stats-file", "--max-queue", "--spin-us", "--direction", NULL
  };
  g_autofree gchar *out = NULL, *err = NULL;
  guint i;

  assert_refused (remote_up, "loopback");
  assert_refused (any_listen, "loopback");
  assert_refused (v6_up, "loopback");
  assert_refused (name_up, "numeric");
  assert_refused (bad_loss, "--loss");
  assert_refused (bad_dir, "--direction");
  assert_refused (bogus, "--bogus");
  assert_refused (missing, "--upstream");

  g_assert_cmpint (run_sync (help, &out, &err), ==, 0);
  for (i = 0; options[i] != NULL; i++)
    g_assert_nonnull (strstr (out, options[i]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  netem_path = argc > 1 ? argv[1] : g_getenv ("ECHO_NETEM");
  if (netem_path == NULL)
    g_error ("pass the path of echo-netem as an argument or in ECHO_NETEM");

  g_test_add_func ("/netem/passthrough", test_passthrough);
  g_test_add_func ("/netem/loss", test_loss);
  g_test_add_func ("/netem/seed-determinism", test_seed_determinism);
  g_test_add_func ("/netem/jitter", test_jitter);
  g_test_add_func ("/netem/reorder", test_reorder);
  g_test_add_func ("/netem/duplicate", test_duplicate);
  g_test_add_func ("/netem/overflow", test_overflow);
  g_test_add_func ("/netem/two-clients", test_two_clients);
  g_test_add_func ("/netem/refusals", test_refusals);
  return g_test_run ();
}
