/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Runs a fuzz target over every file in the directories (or files) given: the committed
 * seed corpus and every input that ever crashed a target. Built with any compiler, so the
 * regression inputs run in every build, sanitized or not.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

#include "fuzz.h"

static guint
replay_path (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize length;
  guint count = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
    const gchar *name;

    if (dir == NULL)
      g_error ("%s", error->message);
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (name[0] != '.' && g_file_test (child, G_FILE_TEST_IS_REGULAR))
        count += replay_path (child);
    }
    return count;
  }
  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  return 1;
}

int
main (int argc, char **argv)
{
  guint count = 0;

  for (int i = 1; i < argc; i++)
    count += replay_path (argv[i]);
  g_print ("replayed %u inputs\n", count);
  return count > 0 ? 0 : 1;
}
