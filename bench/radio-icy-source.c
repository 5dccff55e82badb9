/* radio-icy-source.c: an Icecast source client for bench/run-radio-icy-bench whose title
 * updates are marked in the audio, so a listener can tell where a title's audio starts
 * without decoding. Not a test.
 *
 *   radio-icy-source PORT MOUNT PASSWORD ADMIN_USER:ADMIN_PASSWORD FILE.mp3
 *
 * It broadcasts FILE (MPEG audio layer III, without ID3 or Xing frames; looped) to MOUNT
 * with HTTP PUT as user "source", one frame at a time at the frames' real-time rate, as a
 * live encoder does. On SIGUSR1 it sets a title: when its next frame is due (the one before
 * went out a frame's duration earlier, about 26 ms, so the server has it) it first sends
 * /admin/metadata?mode=updinfo&song=mark-K-NANOSECONDS (K: 1..7, then 1 again;
 * NANOSECONDS: CLOCK_REALTIME when the request was sent) and waits for the reply, so the
 * update has reached the server before any of the title's audio; every frame from then on
 * carries K in three header bits decoders ignore (private, copyright, original). Frames
 * before the first mark carry 0. Prints "mark K" when a title was accepted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t marks_requested;

static void
on_usr1 (int signum)
{
  marks_requested++;
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
connect_to (guint16 port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;

  inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
    perror ("connect");
    exit (1);
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void
write_all (int fd, const void *data, gsize len)
{
  const guint8 *p = data;

  while (len > 0) {
    ssize_t n = write (fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      perror ("write");
      exit (1);
    }
    p += n;
    len -= (gsize) n;
  }
}

/* Reads a reply until the server closes or its head and some body are in; the status. */
static int
read_status (int fd, GString *reply)
{
  char buffer[4096];

  for (;;) {
    ssize_t n = read (fd, buffer, sizeof buffer);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    g_string_append_len (reply, buffer, n);
    if (strstr (reply->str, "\r\n\r\n") != NULL)
      break;
  }
  return reply->len > 12 ? atoi (reply->str + 9) : 0;
}

/* The length of the layer III frame whose header is h, 0 when it is none; its duration. */
static guint
frame_length (const guint8 *h, double *seconds)
{
  static const guint16 v1[15] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256,
    320 };
  static const guint16 v2[15] = { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144,
    160 };
  static const guint rates[3] = { 44100, 48000, 32000 };
  guint version, bitrate_index, rate_index, rate;

  if (h[0] != 0xff || (h[1] & 0xe0) != 0xe0 || ((h[1] >> 1) & 3) != 1)
    return 0;
  version = (h[1] >> 3) & 3;
  bitrate_index = h[2] >> 4;
  rate_index = (h[2] >> 2) & 3;
  if (version == 1 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3)
    return 0;
  rate = rates[rate_index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
  *seconds = (version == 3 ? 1152.0 : 576.0) / rate;
  return (version == 3 ? 144 : 72) * (version == 3 ? v1 : v2)[bitrate_index] * 1000 / rate +
      ((h[2] >> 1) & 1);
}

int
main (int argc, char **argv)
{
  g_autofree char *file = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *admin_auth = NULL;
  g_autofree char *request = NULL;
  g_autoptr (GString) reply = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  gsize size, at = 0;
  guint16 port;
  const char *mount;
  guint mark = 0, handled = 0, frames = 0;
  double start, due = 0;
  int fd, status;

  if (argc != 6) {
    fprintf (stderr, "usage: %s PORT MOUNT PASSWORD ADMIN_USER:ADMIN_PASSWORD FILE.mp3\n",
        argv[0]);
    return 2;
  }
  port = (guint16) atoi (argv[1]);
  mount = argv[2];
  if (!g_file_get_contents (argv[5], &file, &size, &error)) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  {
    g_autofree char *user = g_strdup_printf ("source:%s", argv[3]);

    auth = g_base64_encode ((const guchar *) user, strlen (user));
    admin_auth = g_base64_encode ((const guchar *) argv[4], strlen (argv[4]));
  }
  signal (SIGUSR1, on_usr1);
  signal (SIGPIPE, SIG_IGN);

  fd = connect_to (port);
  request = g_strdup_printf ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: Basic %s"
      "\r\nContent-Type: audio/mpeg\r\nice-name: Echo bench\r\nice-bitrate: 128\r\n"
      "ice-public: 0\r\nExpect: 100-continue\r\n\r\n", mount, port, auth);
  write_all (fd, request, strlen (request));
  status = read_status (fd, reply);
  if (status != 100 && status != 200) {
    fprintf (stderr, "PUT %s: %s\n", mount, reply->str);
    return 1;
  }

  start = now_s ();
  for (;;) {
    double seconds = 0;
    guint len;
    guint8 frame[2048];
    double wait;

    if (at + 4 > size || (len = frame_length ((const guint8 *) file + at, &seconds)) == 0 ||
        at + len > size || len > sizeof frame) {
      if (at == 0) {
        fprintf (stderr, "%s: no MPEG layer III frame at its start\n", argv[5]);
        return 1;
      }
      at = 0;                 /* loop */
      continue;
    }
    wait = start + due - now_s ();
    if (wait > 0)
      g_usleep ((gulong) (wait * 1e6));
    /* after the pacing wait: the frame before went out a frame's time ago, so the server
     * has it when the update arrives, and this frame is the first of the title's audio */
    if (handled != (guint) marks_requested) {
      int admin = connect_to (port);
      struct timespec ts;
      g_autofree char *get = NULL;

      handled++;
      mark = mark % 7 + 1;
      clock_gettime (CLOCK_REALTIME, &ts);
      get = g_strdup_printf ("GET /admin/metadata?mount=%s&mode=updinfo&song=mark-%u-%"
          G_GINT64_FORMAT " HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
          "User-Agent: radio-icy-source\r\n\r\n", mount, mark,
          (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec, admin_auth);
      write_all (admin, get, strlen (get));
      g_string_truncate (reply, 0);
      status = read_status (admin, reply);
      close (admin);
      if (status != 200)
        fprintf (stderr, "updinfo: %d\n", status);
      printf ("mark %u\n", mark);
      fflush (stdout);
    }
    memcpy (frame, file + at, len);
    /* the mark: private bit, copyright, original */
    frame[2] = (guint8) ((frame[2] & ~1u) | (mark & 1));
    frame[3] = (guint8) ((frame[3] & ~0x0cu) | ((mark >> 1) & 1) << 3 | ((mark >> 2) & 1) << 2);
    write_all (fd, frame, len);
    due += seconds;
    at += len;
    frames++;
  }
  return 0;
}
