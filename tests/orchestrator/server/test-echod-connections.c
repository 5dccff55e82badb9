/* test-echod-connections.c: how a real echod treats TCP connections, which a load of
 * hundreds of polling clients depends on. It proves:
 *  - one keep-alive connection carries every kind of reply a receiver gets, one after the
 *    other: 204 (GET audio with nothing new, a CORS preflight), 200 with a body, an error
 *    reply. (libsoup 3.2 on its own closes the connection after every 204.);
 *  - the listen backlog takes a crowd: while echod is frozen (SIGSTOP) and accepts
 *    nothing, 200 clients connecting at once all complete their TCP handshake (with
 *    GLib's default backlog of 10, all but about 11 would wait in SYN-SENT for SYN
 *    retries); once it runs again it serves them.
 * Requests here are written by hand on plain sockets, so nothing but echod decides when
 * a connection closes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echod-test-util.h"

#define RATE 44100
#define CHANNELS 2
#define FRAMES 1024
#define IO_TIMEOUT_S 20
#define CROWD 200

/* A blocking connection to echod with a generous I/O timeout. */
static GSocket *
connect_raw (EchodHarness *h)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet,
      echod_harness_port (h));
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (socket, IO_TIMEOUT_S);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  return socket;
}

/* Reads one response (head, and a body of its Content-Length) from the connection;
 * returns its status. Fails when the connection closes before it is complete. */
static guint
read_response (GSocket *socket, char **out_body)
{
  g_autoptr (GString) data = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  const char *end = NULL, *length;
  gsize head_len = 0, body_len = 0;
  guint status = 0;

  for (;;) {
    char buf[4096];
    gssize n;

    if (end == NULL && (end = strstr (data->str, "\r\n\r\n")) != NULL) {
      head_len = end - data->str + 4;
      length = strstr (data->str, "Content-Length: ");
      body_len = length != NULL && length < end ?
          (gsize) g_ascii_strtoull (length + strlen ("Content-Length: "), NULL, 10) : 0;
    }
    if (end != NULL && data->len >= head_len + body_len)
      break;
    n = g_socket_receive (socket, buf, sizeof buf, NULL, &error);
    g_assert_no_error (error);
    if (n == 0)
      g_error ("echod closed the connection; it had sent: %s", data->str);
    g_string_append_len (data, buf, n);
  }
  g_assert_true (g_str_has_prefix (data->str, "HTTP/1.1 "));
  status = (guint) g_ascii_strtoull (data->str + strlen ("HTTP/1.1 "), NULL, 10);
  /* nothing beyond this response: it said its length right */
  g_assert_cmpuint (data->len, ==, head_len + body_len);
  if (out_body != NULL)
    *out_body = g_strndup (data->str + head_len, body_len);
  return status;
}

static guint
exchange (GSocket *socket, const char *request, char **out_body)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL, &error), ==,
      (gssize) strlen (request));
  g_assert_no_error (error);
  return read_response (socket, out_body);
}

#define AUTH "Authorization: " ECHOD_TEST_TOKEN "\r\n"

static void
test_keep_alive (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autoptr (GSocket) socket = NULL;
  guint round;

  echod_test_start_session (h, "454545");
  echod_test_post_chunk_ok (h, "454545", 0, RATE, CHANNELS, FRAMES);
  socket = connect_raw (h);

  /* twice around, so each kind of reply is followed by each other kind */
  for (round = 0; round < 2; round++) {
    g_autofree char *body = NULL;

    g_assert_cmpuint (exchange (socket, "GET /api/share/454545/audio?since=0 HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n" AUTH "\r\n", NULL), ==, 204);
    g_assert_cmpuint (exchange (socket, "GET /api/share/454545/audio?since=-1 HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n" AUTH "\r\n", &body), ==, 200);
    g_assert_nonnull (strstr (body, "\"sequenceNumber\":0"));
    g_assert_cmpuint (exchange (socket, "OPTIONS /api/share/454545/audio HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n"
            "Access-Control-Request-Method: GET\r\n\r\n", NULL), ==, 204);
    g_assert_cmpuint (exchange (socket, "GET /api/share/454545/metadata HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n" AUTH "\r\n", NULL), ==, 404);
    g_assert_cmpuint (exchange (socket, "GET /health HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n\r\n", NULL), ==, 200);
  }
}

static void
test_listen_backlog (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  GPid pid = echod_harness_pid (h);
  struct sockaddr_in addr = { 0 };
  struct pollfd fds[CROWD];
  gint64 until;
  guint i, connected = 0, pending = CROWD;

  g_assert_cmpint (pid, >, 0);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (echod_harness_port (h));
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  for (i = 0; i < CROWD; i++) {
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    g_assert_cmpint (fd, >=, 0);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
      g_assert_cmpint (errno, ==, EINPROGRESS);
    fds[i].fd = fd;
    fds[i].events = POLLOUT;
    fds[i].revents = 0;
  }
  /* the kernel completes handshakes on its own for as many as the backlog holds; give
   * SYN retries (1 s, then 3 s) no chance to make up for a short one */
  until = g_get_monotonic_time () + 800 * 1000;
  while (pending > 0 && g_get_monotonic_time () < until) {
    if (poll (fds, CROWD, 50) < 0)
      g_assert_cmpint (errno, ==, EINTR);
    for (i = 0; i < CROWD; i++) {
      int err = 0;
      socklen_t len = sizeof err;

      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      g_assert_cmpint (getsockopt (fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len), ==, 0);
      if (err == 0)
        connected++;
      close (fds[i].fd);
      fds[i].fd = -1;
      pending--;
    }
  }
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  for (i = 0; i < CROWD; i++) {
    if (fds[i].fd >= 0)
      close (fds[i].fd);
  }
  g_test_message ("%u of %d connected while echod was stopped", connected, CROWD);
  g_assert_cmpuint (connected, ==, CROWD);

  /* and it carries on */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/health", NULL);

    g_assert_cmpuint (reply->status, ==, 200);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/echod/connections/keep-alive", test_keep_alive);
  g_test_add_func ("/echod/connections/listen-backlog", test_listen_backlog);

  return g_test_run ();
}
