/* echo-radio-error.c: see echo-radio-error.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-error.h"

G_DEFINE_QUARK (echo-radio-error-quark, echo_radio_error)

guint
echo_radio_error_http_status (int code)
{
  switch ((EchoRadioError) code) {
    case ECHO_RADIO_ERROR_INVALID:
      return 400;
    case ECHO_RADIO_ERROR_UNAUTHORIZED:
      return 401;
    case ECHO_RADIO_ERROR_MOUNT_IN_USE:
    case ECHO_RADIO_ERROR_TOO_MANY_LISTENERS:
      return 403;
    case ECHO_RADIO_ERROR_NO_SOURCE:
      return 404;
    case ECHO_RADIO_ERROR_UNSUPPORTED_TYPE:
      return 415;
  }
  return 500;
}

const char *
echo_radio_error_code_name (int code)
{
  switch ((EchoRadioError) code) {
    case ECHO_RADIO_ERROR_INVALID:
      return "INVALID_REQUEST";
    case ECHO_RADIO_ERROR_UNAUTHORIZED:
      return "UNAUTHORIZED";
    case ECHO_RADIO_ERROR_MOUNT_IN_USE:
      return "MOUNT_IN_USE";
    case ECHO_RADIO_ERROR_TOO_MANY_LISTENERS:
      return "TOO_MANY_LISTENERS";
    case ECHO_RADIO_ERROR_NO_SOURCE:
      return "NO_SOURCE";
    case ECHO_RADIO_ERROR_UNSUPPORTED_TYPE:
      return "UNSUPPORTED_MEDIA_TYPE";
  }
  return "INTERNAL_ERROR";
}
