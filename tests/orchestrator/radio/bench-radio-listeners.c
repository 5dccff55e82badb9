/* bench-radio-listeners.c: N ICY listeners of one radio mount in one process (epoll), as a
 * load for echod's (or any Icecast server's) listener output. Not a test: it prints figures.
 *
 *   bench-radio-listeners PORT PATH N SECONDS BYTES_PER_SECOND
 *
 * Each listener sends "GET PATH" with Icy-MetaData: 1, reads the response, removes the
 * in-band metadata and models a player: it starts playing once it holds one second of audio
 * and then consumes BYTES_PER_SECOND; running dry is an underrun (it then waits for one
 * second again). A metadata block whose StreamTitle is "mark-NANOSECONDS" (CLOCK_REALTIME
 * when the title was sent) gives that listener's metadata delay: arrival - NANOSECONDS.
 * Output: one "key value" line per figure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* strcasestr */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  gboolean head_done;
  GString *head;
  guint metaint;
  guint to_meta;
  guint meta_left;            /* bytes of the block still to read */
  GString *meta;
  double buffered;            /* audio bytes held by the modelled player */
  gboolean playing;
  guint underruns;
  gboolean closed;
  gboolean failed;
  gboolean sent;              /* the request is out (after a non-blocking connect) */
  double mark_delay_ms;       /* < 0 until the mark title arrived */
  guint64 audio;
} Listener;

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gint64
realtime_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* when the run began: a mark set before (an earlier run's title, still current) is not
 * this run's */
static gint64 run_start_ns;

static void
got_block (Listener *l)
{
  const char *mark = strstr (l->meta->str, "StreamTitle='mark-");

  if (mark != NULL && l->mark_delay_ms < 0) {
    gint64 sent = g_ascii_strtoll (mark + strlen ("StreamTitle='mark-"), NULL, 10);

    if (sent >= run_start_ns)
      l->mark_delay_ms = (realtime_ns () - sent) / 1e6;
  }
}

static void
consume (Listener *l, const guint8 *data, gsize len)
{
  gsize i = 0;

  if (!l->head_done) {
    const char *end;

    g_string_append_len (l->head, (const char *) data, (gssize) len);
    end = strstr (l->head->str, "\r\n\r\n");
    if (end == NULL)
      return;
    {
      const char *mi = strcasestr (l->head->str, "icy-metaint:");
      gsize head_len = (gsize) (end + 4 - l->head->str);
      g_autofree char *rest = g_memdup2 (l->head->str + head_len, l->head->len - head_len);
      gsize rest_len = l->head->len - head_len;

      if (strncmp (l->head->str + 9, "200", 3) != 0)
        l->failed = TRUE;
      l->metaint = mi != NULL ? (guint) atoi (mi + 12) : 0;
      l->to_meta = l->metaint;
      l->head_done = TRUE;
      consume (l, (const guint8 *) rest, rest_len);
    }
    return;
  }
  while (i < len) {
    if (l->metaint == 0) {
      l->audio += len - i;
      l->buffered += (double) (len - i);
      return;
    }
    if (l->meta_left > 0) {
      gsize take = MIN (len - i, l->meta_left);

      g_string_append_len (l->meta, (const char *) data + i, (gssize) take);
      l->meta_left -= (guint) take;
      i += take;
      if (l->meta_left == 0) {
        got_block (l);
        l->to_meta = l->metaint;
      }
    } else if (l->to_meta == 0) {
      l->meta_left = data[i] * 16u;
      g_string_truncate (l->meta, 0);
      i++;
      if (l->meta_left == 0)
        l->to_meta = l->metaint;
    } else {
      gsize take = MIN (len - i, l->to_meta);

      l->audio += take;
      l->buffered += (double) take;
      l->to_meta -= (guint) take;
      i += take;
    }
  }
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  g_autofree Listener *listeners = NULL;
  g_autofree char *request = NULL;
  struct epoll_event events[256];
  guint n, i, connected = 0, underrun_listeners = 0, failed = 0, closed = 0, marks = 0;
  double seconds, rate, start, last_tick;
  guint64 total = 0;
  int ep;
  GArray *delays = g_array_new (FALSE, FALSE, sizeof (double));
  static guint8 buffer[65536];

  if (argc != 6) {
    fprintf (stderr, "usage: %s PORT PATH N SECONDS BYTES_PER_SECOND\n", argv[0]);
    return 2;
  }
  addr.sin_port = htons ((guint16) atoi (argv[1]));
  inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
  n = (guint) atoi (argv[3]);
  seconds = atof (argv[4]);
  rate = atof (argv[5]);
  request = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n"
      "User-Agent: bench-radio-listeners\r\n\r\n", argv[2]);
  listeners = g_new0 (Listener, n);
  ep = epoll_create1 (0);
  run_start_ns = realtime_ns ();

  for (i = 0; i < n; i++) {
    Listener *l = &listeners[i];
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = i };

    /* all at once, non-blocking: a server with a short accept queue is not waited for one
     * listener at a time */
    l->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    l->head = g_string_new (NULL);
    l->meta = g_string_new (NULL);
    l->mark_delay_ms = -1;
    if (l->fd < 0 || (connect (l->fd, (struct sockaddr *) &addr, sizeof addr) != 0 &&
            errno != EINPROGRESS)) {
      l->failed = TRUE;
      continue;
    }
    epoll_ctl (ep, EPOLL_CTL_ADD, l->fd, &ev);
  }

  start = last_tick = now_s ();
  while (now_s () - start < seconds) {
    int ready = epoll_wait (ep, events, G_N_ELEMENTS (events), 20);
    double t = now_s ();
    int k;

    for (k = 0; k < ready; k++) {
      Listener *l = &listeners[events[k].data.u32];

      if (!l->sent) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = events[k].data.u32 };
        int error = 0;
        socklen_t error_len = sizeof error;

        if (!(events[k].events & EPOLLOUT))
          continue;
        getsockopt (l->fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
        if (error != 0 ||
            write (l->fd, request, strlen (request)) != (ssize_t) strlen (request)) {
          l->failed = TRUE;
          epoll_ctl (ep, EPOLL_CTL_DEL, l->fd, NULL);
          close (l->fd);
          l->fd = -1;
          continue;
        }
        l->sent = TRUE;
        connected++;
        epoll_ctl (ep, EPOLL_CTL_MOD, l->fd, &ev);
        continue;
      }
      for (;;) {
        ssize_t got = read (l->fd, buffer, sizeof buffer);

        if (got > 0) {
          total += (guint64) got;
          consume (l, buffer, (gsize) got);
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          l->closed = TRUE;
          epoll_ctl (ep, EPOLL_CTL_DEL, l->fd, NULL);
          close (l->fd);
          l->fd = -1;
        }
        break;
      }
    }
    /* the modelled players, every 50 ms */
    if (t - last_tick >= 0.05) {
      double used = rate * (t - last_tick);

      for (i = 0; i < n; i++) {
        Listener *l = &listeners[i];

        if (l->failed || l->closed)
          continue;
        if (!l->playing) {
          l->playing = l->buffered >= rate;
          continue;
        }
        l->buffered -= used;
        if (l->buffered < 0) {
          l->underruns++;
          l->buffered = 0;
          l->playing = FALSE;
        }
      }
      last_tick = t;
    }
  }

  for (i = 0; i < n; i++) {
    Listener *l = &listeners[i];

    underrun_listeners += l->underruns > 0 || l->closed || !l->playing;
    failed += l->failed;
    closed += l->closed;
    if (l->mark_delay_ms >= 0) {
      g_array_append_val (delays, l->mark_delay_ms);
      marks++;
    }
    if (l->fd >= 0)
      close (l->fd);
    g_string_free (l->head, TRUE);
    g_string_free (l->meta, TRUE);
  }
  printf ("listeners %u\nconnected %u\nfailed %u\nclosed_early %u\n", n, connected, failed,
      closed);
  printf ("listeners_with_underrun %u\n", underrun_listeners);
  printf ("mbytes_per_second %.2f\n", total / seconds / 1e6);
  printf ("marks_seen %u\n", marks);
  if (delays->len > 0) {
    double *d = (double *) delays->data;

    qsort (d, delays->len, sizeof (double), compare_double);
    printf ("metadata_delay_ms_median %.0f\nmetadata_delay_ms_p95 %.0f\nmetadata_delay_ms_max %.0f\n",
        d[delays->len / 2], d[(guint) (delays->len * 0.95)], d[delays->len - 1]);
  }
  g_array_unref (delays);
  close (ep);
  return 0;
}
