/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-id.h: the rule for the ids music sessions take from outside (server, voice
 * channel and user ids): 1 to 128 printable ASCII characters without spaces, so they fit a
 * store document id and never need escaping in logs. Internal to echo-music.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_MUSIC_ID_MAX_LEN 128

gboolean echo_music_id_is_valid (const char *id);

/* INVALID naming @what ("serverId", "user id"...) when @id breaks the rule. */
gboolean echo_music_check_id (const char *what, const char *id, GError **error);

G_END_DECLS
