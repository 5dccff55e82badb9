/* echo-log.h: echod's log output, one logfmt line per record on stderr:
 *
 *   ts=2024-05-01T12:00:00.123Z level=info domain=echod msg="session started" session=123456
 *     route=/api/share/start status=200
 *
 * echo_log_init() installs a GLib structured-log writer (so g_message(), g_warning() and
 * g_log_structured() all come out this way) that drops records below the configured level.
 * G_MESSAGES_DEBUG still works as in GLib: it shows info/debug records of the domains it names
 * whatever the level. Fields named ECHO_<NAME> appear as <name>=value (ECHO_SESSION,
 * ECHO_ROUTE, ECHO_STATUS, ...). GStreamer's own debug log (GST_DEBUG) is separate and untouched.
 * Timestamps are real wall-clock time (not echo-clock's scaled time): logs are read by people. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* level: error, warning, info or debug. The writer is installed on the first successful call
 * (GLib allows one per process); later calls change the level. Invalid level: G_IO_ERROR_INVALID_ARGUMENT. */
gboolean echo_log_init (const char *level, GError **error);

/* The writer itself, and its formatting (without the trailing newline), for tests and tools. */
GLogWriterOutput echo_log_writer (GLogLevelFlags log_level, const GLogField *fields,
                                  gsize n_fields, gpointer user_data);
char *echo_log_format_record (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                              gint64 real_time_us);

/* A structured record with the request fields; session/route NULL and status 0 are left out. */
void echo_log_event_full (const char *domain, GLogLevelFlags level, const char *session,
                          const char *route, guint status, const char *format, ...)
  G_GNUC_PRINTF (6, 7);

#define echo_log_event(level, session, route, status, ...) \
  echo_log_event_full (G_LOG_DOMAIN, (level), (session), (route), (status), __VA_ARGS__)

G_END_DECLS
