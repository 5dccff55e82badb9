/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-error.c: music errors and their HTTP statuses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-error.h"

G_DEFINE_QUARK (echo-music-error-quark, echo_music_error)

guint
echo_music_error_status (EchoMusicError code)
{
  switch (code) {
    case ECHO_MUSIC_ERROR_INVALID:
      return 400;
    case ECHO_MUSIC_ERROR_FORBIDDEN:
      return 403;
    case ECHO_MUSIC_ERROR_NOT_FOUND:
      return 404;
    case ECHO_MUSIC_ERROR_CONFLICT:
    case ECHO_MUSIC_ERROR_QUEUE_FULL:
      return 409;
    case ECHO_MUSIC_ERROR_RATE_LIMITED:
      return 429;
    case ECHO_MUSIC_ERROR_UNSUPPORTED:
      return 415;
    case ECHO_MUSIC_ERROR_PROVIDER:
      return 502;
  }
  return 500;
}

const char *
echo_music_error_code_name (EchoMusicError code)
{
  switch (code) {
    case ECHO_MUSIC_ERROR_INVALID:
      return "INVALID_REQUEST";
    case ECHO_MUSIC_ERROR_FORBIDDEN:
      return "FORBIDDEN";
    case ECHO_MUSIC_ERROR_NOT_FOUND:
      return "NOT_FOUND";
    case ECHO_MUSIC_ERROR_CONFLICT:
      return "CONFLICT";
    case ECHO_MUSIC_ERROR_QUEUE_FULL:
      return "QUEUE_FULL";
    case ECHO_MUSIC_ERROR_RATE_LIMITED:
      return "RATE_LIMITED";
    case ECHO_MUSIC_ERROR_UNSUPPORTED:
      return "UNSUPPORTED_MEDIA";
    case ECHO_MUSIC_ERROR_PROVIDER:
      return "PROVIDER_ERROR";
  }
  return "INTERNAL_ERROR";
}
