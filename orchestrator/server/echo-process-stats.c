/* echo-process-stats.c: see echo-process-stats.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-process-stats.h"

#include <string.h>

/* The "Key:   1234 kB" value of a /proc status-style file, in kB; 0 when absent. */
static guint64
proc_kb (const char *path, const char *key)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  gsize key_len = strlen (key);
  guint i;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++) {
    if (strncmp (lines[i], key, key_len) == 0 && lines[i][key_len] == ':')
      return g_ascii_strtoull (lines[i] + key_len + 1, NULL, 10);
  }
  return 0;
}

void
echo_process_memory_mb (guint64 *used, guint64 *total)
{
  if (used != NULL)
    *used = proc_kb ("/proc/self/status", "VmRSS") / 1024;
  if (total != NULL)
    *total = proc_kb ("/proc/meminfo", "MemTotal") / 1024;
}
