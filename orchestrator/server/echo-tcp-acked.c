/* echo-tcp-acked.c: see echo-tcp-acked.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-tcp-acked.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <string.h>

gboolean
echo_tcp_bytes_acked (int fd, guint64 *acked)
{
  struct tcp_info info;
  socklen_t len = sizeof info;

  g_return_val_if_fail (acked != NULL, FALSE);

  if (fd < 0)
    return FALSE;
  memset (&info, 0, sizeof info);
  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return FALSE;
  /* kernels before 4.2 return a shorter struct without the counter */
  if (len < G_STRUCT_OFFSET (struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
    return FALSE;
  *acked = info.tcpi_bytes_acked;
  return TRUE;
}
