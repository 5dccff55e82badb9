/* UDP helpers for the sync plugin (see echonet.h). */
#define _GNU_SOURCE
#include "echonet.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

guint64
echo_net_monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static guint64
realtime_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static int
resolve (const char *host, guint port, gboolean passive, struct sockaddr_storage *out,
    socklen_t * out_len, GError ** error)
{
  struct addrinfo hints = { 0 }, *res = NULL, *ai;
  char service[16];
  int rc;

  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = passive ? AI_PASSIVE | AI_NUMERICHOST : AI_ADDRCONFIG;
  g_snprintf (service, sizeof (service), "%u", port);
  rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0 && !passive && rc == EAI_NONAME) {
    /* AI_ADDRCONFIG hides loopback-only hosts in network namespaces without routes */
    hints.ai_flags = 0;
    rc = getaddrinfo (host, service, &hints, &res);
  }
  if (rc != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "cannot resolve '%s': %s", host, gai_strerror (rc));
    return -1;
  }
  /* prefer IPv4: relays announce IPv4 addresses first */
  for (ai = res; ai; ai = ai->ai_next)
    if (ai->ai_family == AF_INET)
      break;
  if (!ai)
    ai = res;
  memcpy (out, ai->ai_addr, ai->ai_addrlen);
  *out_len = ai->ai_addrlen;
  freeaddrinfo (res);
  return 0;
}

static int
udp_socket (int family, GError ** error)
{
  int fd = socket (family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int on = 1;

  if (fd < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "cannot create UDP socket: %s", g_strerror (errno));
    return -1;
  }
  /* kernel receive timestamps: the clock estimator's precision starts here */
  setsockopt (fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof (on));
  return fd;
}

int
echo_net_bind (const char *address, guint port, guint * bound_port, GError ** error)
{
  struct sockaddr_storage addr;
  socklen_t len;
  int fd;

  if (resolve (address, port, TRUE, &addr, &len, error) < 0)
    return -1;
  if ((fd = udp_socket (addr.ss_family, error)) < 0)
    return -1;
  if (bind (fd, (struct sockaddr *) &addr, len) < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "cannot bind UDP %s:%u: %s", address, port, g_strerror (errno));
    close (fd);
    return -1;
  }
  len = sizeof (addr);
  getsockname (fd, (struct sockaddr *) &addr, &len);
  if (bound_port)
    *bound_port = ntohs (addr.ss_family == AF_INET6 ?
        ((struct sockaddr_in6 *) &addr)->sin6_port :
        ((struct sockaddr_in *) &addr)->sin_port);
  return fd;
}

int
echo_net_connect (const char *host, guint port, GError ** error)
{
  struct sockaddr_storage addr;
  socklen_t len;
  int fd;

  if (resolve (host, port, FALSE, &addr, &len, error) < 0)
    return -1;
  if ((fd = udp_socket (addr.ss_family, error)) < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &addr, len) < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "cannot reach %s:%u: %s", host, port, g_strerror (errno));
    close (fd);
    return -1;
  }
  return fd;
}

gssize
echo_net_recv (int fd, guint8 * buf, gsize size, struct sockaddr_storage *from,
    socklen_t * from_len, guint64 * rx_mono_ns, gboolean * truncated)
{
  union {
    char buf[CMSG_SPACE (sizeof (struct timespec))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { buf, size };
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  gssize n;

  msg.msg_name = from;
  msg.msg_namelen = from ? sizeof (*from) : 0;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof (control.buf);
  n = recvmsg (fd, &msg, MSG_DONTWAIT);
  if (n < 0)
    return -1;
  if (from_len)
    *from_len = msg.msg_namelen;
  if (truncated)
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  *rx_mono_ns = echo_net_monotonic_ns ();
  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg; cmsg = CMSG_NXTHDR (&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      guint64 rx_real, now_real, now_mono;

      memcpy (&ts, CMSG_DATA (cmsg), sizeof (ts));
      rx_real = (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
      /* map the kernel's CLOCK_REALTIME stamp onto CLOCK_MONOTONIC through a pair of
       * readings taken now; the two clocks differ only by slow NTP slewing */
      now_real = realtime_ns ();
      now_mono = echo_net_monotonic_ns ();
      if (rx_real <= now_real && now_real - rx_real < G_GUINT64_CONSTANT (1000000000))
        *rx_mono_ns = now_mono - (now_real - rx_real);
    }
  }
  return n;
}

gboolean
echo_net_wait (int fd, int wake_fd, guint64 timeout_ns)
{
  struct pollfd fds[2] = { {fd, POLLIN, 0}, {wake_fd, POLLIN, 0} };
  struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
  int rc;

  do {
    rc = ppoll (fds, wake_fd >= 0 ? 2 : 1, &ts, NULL);
  } while (rc < 0 && errno == EINTR);
  return rc > 0 && (fds[0].revents & POLLIN);
}

int
echo_net_wake_new (void)
{
  return eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void
echo_net_wake (int wake_fd)
{
  guint64 one = 1;

  if (write (wake_fd, &one, sizeof (one)) < 0) {
    /* the counter is already signalled (EAGAIN): nothing to do */
  }
}

void
echo_net_wake_clear (int wake_fd)
{
  guint64 value;

  if (read (wake_fd, &value, sizeof (value)) < 0) {
    /* nothing was pending */
  }
}

gboolean
echo_net_same_address (const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return FALSE;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
    return x->sin6_port == y->sin6_port &&
        memcmp (&x->sin6_addr, &y->sin6_addr, sizeof (x->sin6_addr)) == 0;
  }
  return FALSE;
}

char *
echo_net_address_to_string (const struct sockaddr_storage *addr)
{
  char host[INET6_ADDRSTRLEN] = "?";

  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const void *) addr;
    inet_ntop (AF_INET, &in->sin_addr, host, sizeof (host));
    return g_strdup_printf ("%s:%u", host, ntohs (in->sin_port));
  }
  if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const void *) addr;
    inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof (host));
    return g_strdup_printf ("[%s]:%u", host, ntohs (in6->sin6_port));
  }
  return g_strdup ("?");
}
