/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-id.c: validation of outside ids.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-id.h"

#include "echo-music-error.h"

gboolean
echo_music_id_is_valid (const char *id)
{
  gsize i;

  if (id == NULL || id[0] == '\0')
    return FALSE;
  for (i = 0; id[i] != '\0'; i++) {
    if (i >= ECHO_MUSIC_ID_MAX_LEN || (guchar) id[i] <= 0x20 ||
        (guchar) id[i] >= 0x7f)
      return FALSE;
  }
  return TRUE;
}

gboolean
echo_music_check_id (const char *what, const char *id, GError **error)
{
  if (echo_music_id_is_valid (id))
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "%s must be 1 to %d printable ASCII characters without spaces", what,
      ECHO_MUSIC_ID_MAX_LEN);
  return FALSE;
}
