/* echo-log.c: the logfmt structured-log writer (see echo-log.h). */
#include "echo-log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

/* Records of rank above the threshold are dropped: 0 error, 1 critical, 2 warning, 3 message,
 * 4 info, 5 debug. */
static gint log_threshold = 4;
static GMutex write_lock;

static int
level_rank (GLogLevelFlags log_level)
{
  if (log_level & G_LOG_LEVEL_ERROR)
    return 0;
  if (log_level & G_LOG_LEVEL_CRITICAL)
    return 1;
  if (log_level & G_LOG_LEVEL_WARNING)
    return 2;
  if (log_level & G_LOG_LEVEL_MESSAGE)
    return 3;
  if (log_level & G_LOG_LEVEL_INFO)
    return 4;
  return 5;
}

static const char *
level_name (GLogLevelFlags log_level)
{
  static const char *const names[] = { "error", "critical", "warning", "info", "info", "debug" };

  return names[level_rank (log_level)];
}

static gboolean
parse_level (const char *level, int *threshold)
{
  static const struct
  {
    const char *name;
    int threshold;
  } levels[] = { { "error", 1 }, { "warning", 2 }, { "info", 4 }, { "debug", 5 } };

  for (gsize i = 0; level != NULL && i < G_N_ELEMENTS (levels); i++)
    {
      if (g_str_equal (level, levels[i].name))
        {
          *threshold = levels[i].threshold;
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
echo_log_init (const char *level, GError **error)
{
  static gsize writer_installed = 0;
  int threshold = 0;

  if (!parse_level (level, &threshold))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "log level '%s': expected error, warning, info or debug",
                   level != NULL ? level : "(null)");
      return FALSE;
    }
  g_atomic_int_set (&log_threshold, threshold);
  if (g_once_init_enter (&writer_installed))
    {
      g_log_set_writer_func (echo_log_writer, NULL, NULL);
      g_once_init_leave (&writer_installed, 1);
    }
  return TRUE;
}

/* Bare when unambiguous, otherwise quoted with \" \\ \n \r \t and \u00XX for other controls. */
static void
append_value (GString *out, const char *value, gsize len)
{
  gboolean bare = len > 0;

  for (gsize i = 0; i < len && bare; i++)
    {
      guchar c = (guchar) value[i];

      bare = !(c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f);
    }
  if (bare)
    {
      g_string_append_len (out, value, (gssize) len);
      return;
    }
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) value[i];

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < ' ' || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* A field's value as text: NUL-terminated (length -1) or counted; binary values are skipped. */
static gboolean
field_text (const GLogField *field, const char **text, gsize *len)
{
  if (field->value == NULL)
    return FALSE;
  *text = field->value;
  *len = field->length < 0 ? strlen (field->value) : (gsize) field->length;
  return g_utf8_validate_len (*text, *len, NULL);
}

static void
append_field (GString *out, const char *key, const char *text, gsize len)
{
  g_string_append_printf (out, " %s=", key);
  append_value (out, text, len);
}

/* Fields GLib adds for its own bookkeeping, or that the line already shows. */
static gboolean
is_omitted_field (const char *key)
{
  static const char *const omitted[] = { "MESSAGE", "GLIB_DOMAIN", "PRIORITY", "GLIB_OLD_LOG_API",
                                         "CODE_FILE", "CODE_LINE", "CODE_FUNC", "MESSAGE_ID",
                                         NULL };

  return g_strv_contains (omitted, key);
}

char *
echo_log_format_record (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                        gint64 real_time_us)
{
  GString *out = g_string_new (NULL);
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (real_time_us / G_USEC_PER_SEC);
  g_autofree char *seconds = time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%S") : NULL;
  const char *text;
  gsize len;

  g_string_append_printf (out, "ts=%s.%03dZ level=%s", seconds != NULL ? seconds : "?",
                          (int) (real_time_us % G_USEC_PER_SEC / 1000), level_name (log_level));
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && field_text (&fields[i], &text, &len))
      append_field (out, "domain", text, len);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && field_text (&fields[i], &text, &len))
      append_field (out, "msg", text, len);
  for (gsize i = 0; i < n_fields; i++)
    {
      g_autofree char *key = NULL;
      const char *name = fields[i].key;

      if (is_omitted_field (name) || !field_text (&fields[i], &text, &len))
        continue;
      if (g_str_has_prefix (name, "ECHO_") && name[5] != '\0')
        name += 5;
      key = g_ascii_strdown (name, -1);
      append_field (out, key, text, len);
    }
  return g_string_free (out, FALSE);
}

static void
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      gssize written = write (fd, data, len);

      if (written < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      data += written;
      len -= (gsize) written;
    }
}

static const char *
record_domain (const GLogField *fields, gsize n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

GLogWriterOutput
echo_log_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
  g_autofree char *line = NULL;
  int rank = level_rank (log_level);

  if (rank > g_atomic_int_get (&log_threshold))
    {
      /* G_MESSAGES_DEBUG keeps its GLib meaning for info and debug records. */
      if (!(log_level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
          || g_log_writer_default_would_drop (log_level, record_domain (fields, n_fields)))
        return G_LOG_WRITER_HANDLED;
    }
  line = echo_log_format_record (log_level, fields, n_fields, g_get_real_time ());
  g_mutex_lock (&write_lock);
  write_all (STDERR_FILENO, line, strlen (line));
  write_all (STDERR_FILENO, "\n", 1);
  g_mutex_unlock (&write_lock);
  return G_LOG_WRITER_HANDLED;
}

void
echo_log_event_full (const char *domain, GLogLevelFlags level, const char *session,
                     const char *route, guint status, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;
  char status_text[16];
  GLogField fields[5];
  gsize n = 0;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  if (domain != NULL)
    fields[n++] = (GLogField) { "GLIB_DOMAIN", domain, -1 };
  if (session != NULL)
    fields[n++] = (GLogField) { "ECHO_SESSION", session, -1 };
  if (route != NULL)
    fields[n++] = (GLogField) { "ECHO_ROUTE", route, -1 };
  if (status != 0)
    {
      g_snprintf (status_text, sizeof status_text, "%u", status);
      fields[n++] = (GLogField) { "ECHO_STATUS", status_text, -1 };
    }
  g_log_structured_array (level, fields, n);
}
