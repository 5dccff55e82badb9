/* echo-radio-error.h: the errors of the radio part (Icecast-style source input and listener
 * output), each with the HTTP status Icecast answers it with.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_RADIO_ERROR (echo_radio_error_quark ())
GQuark echo_radio_error_quark (void);

typedef enum {
  ECHO_RADIO_ERROR_INVALID,             /* 400: a malformed request or value */
  ECHO_RADIO_ERROR_UNAUTHORIZED,        /* 401: missing or wrong credentials */
  ECHO_RADIO_ERROR_MOUNT_IN_USE,        /* 403: "Mountpoint in use" */
  ECHO_RADIO_ERROR_TOO_MANY_LISTENERS,  /* 403: the listener limit is reached */
  ECHO_RADIO_ERROR_NO_SOURCE,           /* 404: nothing is broadcast on the mount */
  ECHO_RADIO_ERROR_UNSUPPORTED_TYPE,    /* 415: a source content type we do not relay */
} EchoRadioError;

/* The HTTP status for an ECHO_RADIO_ERROR code. */
guint echo_radio_error_http_status (int code);
/* A stable upper-case name for logs and JSON error bodies, e.g. "MOUNT_IN_USE". */
const char *echo_radio_error_code_name (int code);

G_END_DECLS
