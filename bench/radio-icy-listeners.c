/* radio-icy-listeners.c: N ICY listeners of one radio mount in one process (epoll), as a
 * load for echod's (or any Icecast server's) listener output, and the metadata delay each
 * of them sees. bench/run-radio-icy-bench runs several of these processes at once so that
 * no single client process falls behind. Not a test: it prints figures.
 *
 *   radio-icy-listeners PORT PATH N SECONDS BYTES_PER_SECOND
 *
 * Each listener sends "GET PATH" with Icy-MetaData: 1, removes the in-band metadata and
 * models a player: it starts playing once it holds one second of audio and then consumes
 * BYTES_PER_SECOND; running dry is an underrun (it then waits for one second again).
 * The listeners connect over the first CONNECT_SPREAD seconds, so they do not all share
 * one start offset (and one phase of their metadata points).
 *
 * The metadata delay is measured on the audio itself. The source (radio-icy-source.c)
 * marks the MP3 frames it sends after each title update: frame header bits that decoders
 * ignore (private, copyright, original) carry the mark's number K (1..7), and the title is
 * "mark-K-NANOSECONDS" (CLOCK_REALTIME when the update was sent). A listener follows the
 * MP3 frames of its audio; the first frame carrying K is where the title's audio starts.
 * Per listener and mark it prints
 *   delay K AUDIO_MS WALL_MS UPDATE_MS
 * AUDIO_MS: how much audio lies between that frame's first byte and the in-band title
 * block (bytes / BYTES_PER_SECOND; negative: the title came before its audio);
 * WALL_MS: between receiving that byte and receiving the block; UPDATE_MS: between the
 * update being sent and the block arriving. Then "key value" lines with the totals.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* strcasestr */

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MARK 7
#define CONNECT_SPREAD 3.0
#define SYNC_BUFFER 8192

typedef struct {
  gboolean seen;
  guint64 position;           /* audio bytes before it */
  double at;                  /* monotonic seconds when it arrived */
  gint64 sent_ns;             /* titles: when the update was sent (CLOCK_REALTIME) */
  gint64 arrived_ns;          /* titles: when it arrived (CLOCK_REALTIME) */
} Event;

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
  guint64 audio;              /* audio bytes so far */
  /* the MP3 frames of the audio */
  gboolean synced;
  guint64 next_frame;         /* audio offset of the next frame header */
  guint8 header[4];
  GByteArray *sync;           /* audio kept while looking for frames */
  guint64 sync_start;         /* its audio offset */
  gint last_mark;             /* -1 before the first frame */
  Event marks[MAX_MARK + 1];  /* the first frame with each mark */
  Event titles[MAX_MARK + 1]; /* the title block of each mark */
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

/* when the run began: a title set before (an earlier run's, still current) is not this
 * run's; the moment the current read returned */
static gint64 run_start_ns;
static double read_at;

/* The length of the MPEG audio frame whose header is h (0: not a header), and its mark. */
static guint
frame_length (const guint8 *h, gint *mark)
{
  static const guint16 l3_v1[15] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224,
    256, 320 };
  static const guint16 l3_v2[15] = { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144,
    160 };
  static const guint rates[3] = { 44100, 48000, 32000 };
  guint version, bitrate_index, rate_index, rate, bitrate;

  /* layer III only: what the source sends */
  if (h[0] != 0xff || (h[1] & 0xe0) != 0xe0 || ((h[1] >> 1) & 3) != 1)
    return 0;
  version = (h[1] >> 3) & 3;
  bitrate_index = h[2] >> 4;
  rate_index = (h[2] >> 2) & 3;
  if (version == 1 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3)
    return 0;
  rate = rates[rate_index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
  bitrate = (version == 3 ? l3_v1 : l3_v2)[bitrate_index] * 1000;
  *mark = (h[2] & 1) | ((h[3] >> 3) & 1) << 1 | ((h[3] >> 2) & 1) << 2;
  return (version == 3 ? 144 : 72) * bitrate / rate + ((h[2] >> 1) & 1);
}

static void
frame_seen (Listener *l, guint64 position, gint mark)
{
  if (l->last_mark >= 0 && mark != l->last_mark && mark > 0 && !l->marks[mark].seen) {
    l->marks[mark].seen = TRUE;
    l->marks[mark].position = position;
    l->marks[mark].at = read_at;
  }
  l->last_mark = mark;
}

/* Looks for two consecutive frame headers in the kept audio; on success, follows frames
 * from there. */
static void
try_sync (Listener *l)
{
  guint i;

  for (i = 0; i + 4 <= l->sync->len; i++) {
    gint mark = 0, next_mark = 0;
    guint len = frame_length (l->sync->data + i, &mark);

    if (len == 0 || i + len + 4 > l->sync->len)
      continue;
    if (frame_length (l->sync->data + i + len, &next_mark) == 0)
      continue;
    l->synced = TRUE;
    l->next_frame = l->sync_start + i;
    break;
  }
}

/* Audio bytes at offset l->audio: the frame headers in them, in order. */
static void
follow_frames (Listener *l, const guint8 *data, gsize len)
{
  guint64 start = l->audio;

  if (!l->synced) {
    const guint8 *kept;

    if (l->sync->len == 0)
      l->sync_start = start;
    g_byte_array_append (l->sync, data, (guint) len);
    try_sync (l);
    if (!l->synced) {
      if (l->sync->len > SYNC_BUFFER) {
        g_byte_array_remove_range (l->sync, 0, l->sync->len - 4);
        l->sync_start = start + len - 4;
      }
      return;
    }
    /* replay what was kept, from the first frame on */
    kept = l->sync->data;
    start = l->sync_start;
    data = kept;
    len = l->sync->len;
  }
  while (l->next_frame < start + len) {
    guint64 i;
    gint mark = 0;
    guint frame;

    /* the header's bytes may come in two reads */
    for (i = MAX (l->next_frame, start); i < l->next_frame + 4 && i < start + len; i++)
      l->header[i - l->next_frame] = data[i - start];
    if (l->next_frame + 4 > start + len)
      break;
    frame = frame_length (l->header, &mark);
    if (frame == 0) {
      /* lost: look again from here (from this read's start when the header began in
       * an earlier one) */
      guint64 from = MAX (l->next_frame, start);

      l->synced = FALSE;
      if (data == l->sync->data) {
        g_byte_array_remove_range (l->sync, 0, (guint) (from - start));
      } else {
        g_byte_array_set_size (l->sync, 0);
        g_byte_array_append (l->sync, data + (from - start), (guint) (start + len - from));
      }
      l->sync_start = from;
      return;
    }
    frame_seen (l, l->next_frame, mark);
    l->next_frame += frame;
  }
  if (l->synced)
    g_byte_array_set_size (l->sync, 0);
}

static void
got_audio (Listener *l, const guint8 *data, gsize len)
{
  follow_frames (l, data, len);
  l->audio += len;
  l->buffered += (double) len;
}

static void
got_block (Listener *l)
{
  const char *mark = strstr (l->meta->str, "StreamTitle='mark-");
  char *end;
  guint k;
  gint64 sent;

  if (mark == NULL)
    return;
  k = (guint) g_ascii_strtoull (mark + strlen ("StreamTitle='mark-"), &end, 10);
  if (k < 1 || k > MAX_MARK || *end != '-')
    return;
  sent = g_ascii_strtoll (end + 1, NULL, 10);
  if (sent < run_start_ns || l->titles[k].seen)
    return;
  l->titles[k].seen = TRUE;
  l->titles[k].position = l->audio;
  l->titles[k].at = read_at;
  l->titles[k].sent_ns = sent;
  l->titles[k].arrived_ns = realtime_ns ();
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
      got_audio (l, data + i, len - i);
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

      got_audio (l, data + i, take);
      l->to_meta -= (guint) take;
      i += take;
    }
  }
}

int
main (int argc, char **argv)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  g_autofree Listener *listeners = NULL;
  g_autofree char *request = NULL;
  struct epoll_event events[256];
  guint n, i, k, connected = 0, underrun_listeners = 0, failed = 0, closed = 0;
  guint titles_seen = 0, marks_seen = 0, unmatched = 0, metaint = 0, opened = 0;
  double seconds, rate, start, last_tick, longest_turn = 0;
  guint64 total = 0;
  struct rusage usage;
  int ep;
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
      "User-Agent: radio-icy-listeners\r\n\r\n", argv[2]);
  listeners = g_new0 (Listener, n);
  ep = epoll_create1 (0);
  run_start_ns = realtime_ns ();

  for (i = 0; i < n; i++) {
    listeners[i].fd = -1;
    listeners[i].head = g_string_new (NULL);
    listeners[i].meta = g_string_new (NULL);
    listeners[i].sync = g_byte_array_new ();
    listeners[i].last_mark = -1;
  }

  start = last_tick = now_s ();
  while (now_s () - start < seconds) {
    int ready = epoll_wait (ep, events, G_N_ELEMENTS (events), 20);
    double t = now_s ();
    guint due = (guint) MIN ((double) n, n * (t - start) / CONNECT_SPREAD + 1);
    int e;

    /* non-blocking connects, spread: a server with a short accept queue is not waited for
     * one listener at a time */
    for (; opened < due; opened++) {
      Listener *l = &listeners[opened];
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = opened };

      l->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (l->fd < 0 || (connect (l->fd, (struct sockaddr *) &addr, sizeof addr) != 0 &&
              errno != EINPROGRESS)) {
        l->failed = TRUE;
        continue;
      }
      epoll_ctl (ep, EPOLL_CTL_ADD, l->fd, &ev);
    }

    for (e = 0; e < ready; e++) {
      Listener *l = &listeners[events[e].data.u32];

      if (!l->sent) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = events[e].data.u32 };
        int error = 0;
        socklen_t error_len = sizeof error;

        if (!(events[e].events & EPOLLOUT))
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
          read_at = now_s ();
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
    /* how long this process took for one turn over the ready listeners: when it nears
     * the time between two writes of the server, the client is the one falling behind */
    longest_turn = MAX (longest_turn, now_s () - t);
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
    metaint = MAX (metaint, l->metaint);
    for (k = 1; k <= MAX_MARK; k++) {
      Event *mark = &l->marks[k], *title = &l->titles[k];

      titles_seen += title->seen;
      marks_seen += mark->seen;
      if (mark->seen && title->seen) {
        printf ("delay %u %.1f %.1f %.1f\n", k,
            ((double) title->position - (double) mark->position) / rate * 1e3,
            (title->at - mark->at) * 1e3, (title->arrived_ns - title->sent_ns) / 1e6);
      } else if (mark->seen || title->seen) {
        unmatched++;
      }
    }
    if (l->fd >= 0)
      close (l->fd);
    g_string_free (l->head, TRUE);
    g_string_free (l->meta, TRUE);
    g_byte_array_unref (l->sync);
  }
  getrusage (RUSAGE_SELF, &usage);
  printf ("listeners %u\nconnected %u\nfailed %u\nclosed_early %u\n", n, connected, failed,
      closed);
  printf ("listeners_with_underrun %u\n", underrun_listeners);
  printf ("bytes %" G_GUINT64_FORMAT "\n", total);
  printf ("metaint %u\n", metaint);
  printf ("marks_seen %u\ntitles_seen %u\nunmatched %u\n", marks_seen, titles_seen, unmatched);
  printf ("client_cpu_seconds %.2f\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
      usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
  printf ("longest_turn_ms %.1f\n", longest_turn * 1e3);
  close (ep);
  return 0;
}
