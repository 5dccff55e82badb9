/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-error.h: the errors of music sessions, each with the HTTP status the API
 * answers it with.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_MUSIC_ERROR (echo_music_error_quark ())

typedef enum
{
  ECHO_MUSIC_ERROR_INVALID,        /* 400: malformed or out-of-range input */
  ECHO_MUSIC_ERROR_FORBIDDEN,      /* 403: the user may not do this */
  ECHO_MUSIC_ERROR_NOT_FOUND,      /* 404: no such session, track or queue item */
  ECHO_MUSIC_ERROR_CONFLICT,       /* 409: state does not allow it (e.g. seek while idle) */
  ECHO_MUSIC_ERROR_QUEUE_FULL,     /* 409: the queue has its maximum of items */
  ECHO_MUSIC_ERROR_RATE_LIMITED,   /* 429 */
  ECHO_MUSIC_ERROR_UNSUPPORTED,    /* 415: a file or URL kind echod does not play */
  ECHO_MUSIC_ERROR_PROVIDER,       /* 502: a provider API failed or timed out */
} EchoMusicError;

GQuark      echo_music_error_quark (void);

/* The HTTP status for @code. */
guint       echo_music_error_status (EchoMusicError code);

/* The "code" string of the API's error body for @code, e.g. "QUEUE_FULL". */
const char *echo_music_error_code_name (EchoMusicError code);

G_END_DECLS
