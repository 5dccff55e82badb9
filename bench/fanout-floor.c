/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * fanout-floor.c: what it costs this machine's kernel to deliver one event to N WebSocket
 * clients over loopback TCP, with nothing else in the way: the floor under any server's
 * fan-out delay, printed beside echod's and the libsoup baseline's by bench/run-music-bench.
 *
 * N connected TCP pairs on 127.0.0.1 (TCP_NODELAY on the sending side, as echod sets it). A
 * reader thread stands in for the benchmark's clients: one epoll loop over the N receiving
 * sockets, edge-triggered, as bench/music-api-bench reads. The sender builds one unmasked
 * WebSocket text frame of --size payload bytes once and, every --interval-ms, send()s it
 * to every socket (non-blocking), split over T threads (each takes every T-th socket). The
 * delay of an (event, client) pair runs from the event's first send to the reader holding
 * the whole frame. Nothing is parsed or allocated per client: what is left is the syscalls,
 * the loopback TCP path (the sender runs the receiver's side of TCP too) and the wake-ups.
 *
 *   fanout-floor [--clients N] [--size BYTES] [--events E] [--interval-ms MS]
 *                [--threads "1 2"]
 *
 * Prints per thread count: "fanout-floor: threads=T clients=N size=S events=E p50_ms=X
 * p90_ms=X p99_ms=X max_ms=X send_ms=X" (send_ms: the mean time for the senders to hand
 * one event to every socket). Exit status 0, 1 when the sockets cannot be set up, 2 for bad
 * options.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* accept4 */
#define _GNU_SOURCE
#include <glib.h>

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
#include <unistd.h>

#define MAX_THREADS 16

static gint opt_clients = 1000;
static gint opt_size = 600;
static gint opt_events = 200;
static gint opt_interval_ms = 20;
static gchar *opt_threads = NULL;

static GOptionEntry entries[] = {
  {"clients", 'c', 0, G_OPTION_ARG_INT, &opt_clients, "Receiving sockets (default 1000)", "N"},
  {"size", 's', 0, G_OPTION_ARG_INT, &opt_size, "Event payload bytes (default 600)", "BYTES"},
  {"events", 'e', 0, G_OPTION_ARG_INT, &opt_events, "Events per thread count (default 200)",
      "E"},
  {"interval-ms", 'i', 0, G_OPTION_ARG_INT, &opt_interval_ms,
      "Time between events (default 20)", "MS"},
  {"threads", 't', 0, G_OPTION_ARG_STRING, &opt_threads,
      "Sender thread counts to run, in turn (default \"1 2\")", "\"T ...\""},
  {NULL}
};

typedef struct {
  int *senders;                 /* server side of each pair */
  int *receivers;               /* client side */
  guint n;
  GBytes *frame;
  int epoll_fd;
} Pairs;

/* One run: the reader's view. */
typedef struct {
  Pairs *pairs;
  guint events;
  gint64 *event_start_us;       /* written by the sender before it sends event i */
  guint *bytes_seen;            /* per receiver: bytes of the current run so far */
  GArray *delays_us;            /* every (event, client) delay */
} Reader;

typedef struct {
  Pairs *pairs;
  guint first, step;
  GThread *thread;
  GMutex lock;
  GCond cond;
  guint go;                     /* events released to this sender, under lock */
  guint done;                   /* events it finished, under lock */
  gboolean quit;
} Sender;

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static gboolean
make_pairs (Pairs *pairs, guint n, GError **error)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int listener, one = 1;
  guint i;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  listener = socket (AF_INET, SOCK_STREAM, 0);
  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      listen (listener, 4096) != 0 ||
      getsockname (listener, (struct sockaddr *) &addr, &len) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "listen: %s",
        g_strerror (errno));
    return FALSE;
  }
  pairs->n = n;
  pairs->senders = g_new (int, n);
  pairs->receivers = g_new (int, n);
  pairs->epoll_fd = epoll_create1 (0);
  for (i = 0; i < n; i++) {
    struct epoll_event ev = { 0 };
    int c = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (c < 0 || (connect (c, (struct sockaddr *) &addr, sizeof addr) != 0 &&
            errno != EINPROGRESS) ||
        (pairs->senders[i] = accept4 (listener, NULL, NULL, SOCK_NONBLOCK)) < 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "connection %u: %s (raise the open file limit?)", i, g_strerror (errno));
      return FALSE;
    }
    pairs->receivers[i] = c;
    setsockopt (pairs->senders[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u32 = i;
    epoll_ctl (pairs->epoll_fd, EPOLL_CTL_ADD, c, &ev);
  }
  close (listener);
  return TRUE;
}

/* An unmasked text frame (RFC 6455 5.2) of @size bytes of JSON-looking text. */
static GBytes *
make_frame (gsize size)
{
  GByteArray *frame = g_byte_array_new ();
  guint8 head[10];
  gsize head_len, i;

  head[0] = 0x81;
  if (size < 126) {
    head[1] = (guint8) size;
    head_len = 2;
  } else if (size < 65536) {
    head[1] = 126;
    head[2] = (guint8) (size >> 8);
    head[3] = (guint8) size;
    head_len = 4;
  } else {
    head[1] = 127;
    for (i = 0; i < 8; i++)
      head[2 + i] = (guint8) ((guint64) size >> (56 - 8 * i));
    head_len = 10;
  }
  g_byte_array_append (frame, head, (guint) head_len);
  for (i = 0; i < size; i++) {
    guint8 c = (guint8) ("{\"type\":\"music:queue_delta\",\"items\":[]}"[i % 40]);

    g_byte_array_append (frame, &c, 1);
  }
  return g_byte_array_free_to_bytes (frame);
}

static gpointer
reader_thread (gpointer data)
{
  Reader *r = data;
  Pairs *pairs = r->pairs;
  gsize frame_len = g_bytes_get_size (pairs->frame);
  guint64 expected = (guint64) r->events * pairs->n, seen = 0;
  struct epoll_event events[512];
  guint8 buf[65536];

  while (seen < expected) {
    int n = epoll_wait (pairs->epoll_fd, events, G_N_ELEMENTS (events), 5000), i;

    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      g_printerr ("fanout-floor: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " deliveries missing after 5 s\n", expected - seen, expected);
      break;
    }
    for (i = 0; i < n; i++) {
      guint k = events[i].data.u32;
      ssize_t got;

      while ((got = recv (pairs->receivers[k], buf, sizeof buf, 0)) > 0) {
        gint64 t = now_us ();
        guint before = r->bytes_seen[k] / frame_len;

        r->bytes_seen[k] += (guint) got;
        /* every frame completed by these bytes */
        for (; before < r->bytes_seen[k] / frame_len && before < r->events; before++) {
          /* written before the event's first send(): the socket orders it */
          gint64 d = t - r->event_start_us[before];

          g_array_append_val (r->delays_us, d);
          seen++;
        }
      }
    }
  }
  return NULL;
}

static void
send_range (Pairs *pairs, guint first, guint step)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (pairs->frame, &len);
  guint i;

  for (i = first; i < pairs->n; i += step) {
    ssize_t sent = send (pairs->senders[i], data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

    /* a full socket never happens at these rates; it would show as a missing delivery */
    if (sent != (ssize_t) len)
      g_printerr ("fanout-floor: client %u: short send (%zd)\n", i, sent);
  }
}

static gpointer
sender_thread (gpointer data)
{
  Sender *s = data;
  guint done = 0;

  for (;;) {
    g_mutex_lock (&s->lock);
    while (s->go == done && !s->quit)
      g_cond_wait (&s->cond, &s->lock);
    if (s->quit) {
      g_mutex_unlock (&s->lock);
      return NULL;
    }
    g_mutex_unlock (&s->lock);
    send_range (s->pairs, s->first, s->step);
    done++;
    g_mutex_lock (&s->lock);
    s->done = done;
    g_cond_signal (&s->cond);
    g_mutex_unlock (&s->lock);
  }
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static double
quantile_ms (GArray *sorted, double q)
{
  guint i;

  if (sorted->len == 0)
    return 0;
  i = (guint) MIN ((double) sorted->len - 1, q * sorted->len);
  return g_array_index (sorted, gint64, i) / 1000.0;
}

/* Runs @events events over @threads senders (the calling thread is sender 0). */
static void
run (Pairs *pairs, guint threads, guint events)
{
  Reader r = { 0 };
  Sender senders[MAX_THREADS] = { 0 };
  GThread *reader;
  gint64 send_total_us = 0;
  guint e, t;

  r.pairs = pairs;
  r.events = events;
  r.event_start_us = g_new0 (gint64, events);
  r.bytes_seen = g_new0 (guint, pairs->n);
  r.delays_us = g_array_sized_new (FALSE, FALSE, sizeof (gint64), events * pairs->n);
  for (t = 1; t < threads; t++) {
    senders[t].pairs = pairs;
    senders[t].first = t;
    senders[t].step = threads;
    g_mutex_init (&senders[t].lock);
    g_cond_init (&senders[t].cond);
    senders[t].thread = g_thread_new ("sender", sender_thread, &senders[t]);
  }
  reader = g_thread_new ("reader", reader_thread, &r);
  g_usleep (50000);

  for (e = 0; e < events; e++) {
    gint64 start = now_us ();

    r.event_start_us[e] = start;
    for (t = 1; t < threads; t++) {
      g_mutex_lock (&senders[t].lock);
      senders[t].go = e + 1;
      g_cond_signal (&senders[t].cond);
      g_mutex_unlock (&senders[t].lock);
    }
    send_range (pairs, 0, threads);
    for (t = 1; t < threads; t++) {
      g_mutex_lock (&senders[t].lock);
      while (senders[t].done < e + 1)
        g_cond_wait (&senders[t].cond, &senders[t].lock);
      g_mutex_unlock (&senders[t].lock);
    }
    send_total_us += now_us () - start;
    g_usleep (MAX (0, opt_interval_ms * 1000 - (now_us () - start)));
  }
  g_thread_join (reader);
  for (t = 1; t < threads; t++) {
    g_mutex_lock (&senders[t].lock);
    senders[t].quit = TRUE;
    g_cond_signal (&senders[t].cond);
    g_mutex_unlock (&senders[t].lock);
    g_thread_join (senders[t].thread);
    g_mutex_clear (&senders[t].lock);
    g_cond_clear (&senders[t].cond);
  }

  g_array_sort (r.delays_us, compare_int64);
  printf ("fanout-floor: threads=%u clients=%u size=%d events=%u deliveries=%u p50_ms=%.3f "
      "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f send_ms=%.3f\n", threads, pairs->n, opt_size,
      events, r.delays_us->len, quantile_ms (r.delays_us, 0.5),
      quantile_ms (r.delays_us, 0.9), quantile_ms (r.delays_us, 0.99),
      quantile_ms (r.delays_us, 1.0), send_total_us / 1000.0 / events);
  fflush (stdout);
  g_array_unref (r.delays_us);
  g_free (r.bytes_seen);
  g_free (r.event_start_us);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- the kernel's WebSocket "
      "fan-out floor on loopback");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) counts = NULL;
  Pairs pairs = { 0 };
  struct rlimit limit;
  guint i;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("fanout-floor: %s\n", error->message);
    return 2;
  }
  if (opt_clients < 1 || opt_size < 1 || opt_events < 1 || opt_interval_ms < 0) {
    g_printerr ("fanout-floor: --clients, --size and --events must be positive\n");
    return 2;
  }
  counts = g_strsplit_set (opt_threads != NULL ? opt_threads : "1 2", " ,", -1);
  for (i = 0; counts[i] != NULL; i++) {
    gint64 t;

    if (counts[i][0] != '\0' && (!g_ascii_string_to_signed (counts[i], 10, 1, MAX_THREADS,
                &t, &error))) {
      g_printerr ("fanout-floor: --threads: %s\n", error->message);
      return 2;
    }
  }
  /* two sockets per client */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
  }
  if (!make_pairs (&pairs, (guint) opt_clients, &error)) {
    g_printerr ("fanout-floor: %s\n", error->message);
    return 1;
  }
  pairs.frame = make_frame ((gsize) opt_size);
  for (i = 0; counts[i] != NULL; i++) {
    if (counts[i][0] != '\0')
      run (&pairs, (guint) g_ascii_strtoull (counts[i], NULL, 10), (guint) opt_events);
  }
  for (i = 0; i < pairs.n; i++) {
    close (pairs.senders[i]);
    close (pairs.receivers[i]);
  }
  close (pairs.epoll_fd);
  g_free (pairs.senders);
  g_free (pairs.receivers);
  g_bytes_unref (pairs.frame);
  g_free (opt_threads);
  return 0;
}
