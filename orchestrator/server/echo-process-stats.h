/* echo-process-stats.h: echod's memory figures for GET /health, from /proc.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* used: echod's resident set (VmRSS), total: the machine's memory (MemTotal), both in
 * whole MiB. Either is 0 when /proc does not tell. */
void echo_process_memory_mb (guint64 *used, guint64 *total);

G_END_DECLS
