/* echo-share-error.h: the errors of Music Share, and how each maps to HTTP.
 *
 * Every failure the share API can report is an ECHO_SHARE_ERROR with one of the codes
 * below. Each code maps 1:1 to an HTTP status and a stable code string for the seed's error
 * body {"success":false,"error":message,"code":CODE,"timestamp":ms}; messages are written
 * for the human reading that body. Two codes carry extra data in the GError (an extended
 * GLib error domain), read with the accessors below:
 *   RATE_LIMITED   the seconds to put in Retry-After;
 *   SESSION_ENDED  when and why the session ended (the status route's ended body). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_SHARE_ERROR (echo_share_error_quark ())

typedef enum {
  ECHO_SHARE_ERROR_SESSION_NOT_FOUND,   /* 404 no such session (or its tombstone expired) */
  ECHO_SHARE_ERROR_SESSION_ENDED,       /* 404 stopped or timed out, still remembered */
  ECHO_SHARE_ERROR_METADATA_NOT_FOUND,  /* 404 no metadata posted, or its TTL ran out */
  ECHO_SHARE_ERROR_SESSION_EXISTS,      /* 409 the id is active */
  ECHO_SHARE_ERROR_INVALID_SESSION_ID,  /* 400 not exactly 6 ASCII digits */
  ECHO_SHARE_ERROR_INVALID_JSON,        /* 400 not UTF-8 / not JSON / not an object / too deep */
  ECHO_SHARE_ERROR_INVALID_FIELD,       /* 400 a field is missing, mistyped or out of range */
  ECHO_SHARE_ERROR_INVALID_PARAMETER,   /* 400 a query parameter (since, limit, format) */
  ECHO_SHARE_ERROR_FORMAT_CHANGED,      /* 400 sampleRate/channels differ from the first chunk */
  ECHO_SHARE_ERROR_SEQUENCE_BACKWARDS,  /* 400 sequenceNumber below the newest, not buffered */
  ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE,   /* 413 chunk or metadata over its limit */
  ECHO_SHARE_ERROR_RATE_LIMITED,        /* 429 the session's token bucket is empty */
  ECHO_SHARE_ERROR_STORE_FAILED,        /* 500 the session could not be persisted */
  ECHO_SHARE_ERROR_SESSION_LIMIT,       /* 503 max-sessions are active */
} EchoShareError;

GQuark      echo_share_error_quark (void);

/* HTTP status for a code (500 for an unknown one). */
guint       echo_share_error_http_status (int code);

/* Stable upper-case code string, e.g. "SESSION_EXISTS" ("INTERNAL_ERROR" for an unknown one). */
const char *echo_share_error_code_name (int code);

/* For RATE_LIMITED: whole seconds until a retry can succeed (>= 1). 0 for any other error. */
guint       echo_share_error_get_retry_after (const GError *error);

/* For SESSION_ENDED: TRUE and the Unix ms the session ended at and the reason ("stopped" or
 * "timeout", valid while @error lives). FALSE for any other error; out arguments nullable. */
gboolean    echo_share_error_get_ended (const GError *error, gint64 *ended_at_ms,
                                        const char **reason);

/* Setters used inside share/ (and by tests that need to build such errors). */
void        echo_share_error_set_rate_limited (GError **error, guint retry_after_s,
                                               const char *what);
void        echo_share_error_set_ended (GError **error, const char *session_id,
                                        gint64 ended_at_ms, const char *reason);

G_END_DECLS
