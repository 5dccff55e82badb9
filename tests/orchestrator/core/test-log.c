/* Tests for echo-log: the logfmt line, level filtering, G_MESSAGES_DEBUG, the request fields. */
#include <string.h>

#include <gio/gio.h>
#include <glib.h>

#include "echo-log.h"

static void
test_format (void)
{
  const GLogField fields[] = {
    { "MESSAGE", "session started", -1 },
    { "PRIORITY", "6", -1 },
    { "GLIB_DOMAIN", "echod", -1 },
    { "CODE_FILE", "x.c", -1 },
    { "ECHO_SESSION", "123456", -1 },
    { "ECHO_ROUTE", "/api/share/start", -1 },
    { "ECHO_STATUS", "200", -1 },
    { "PEER", "127.0.0.1:5555", 14 },
    { "BINARY", "\xff\xfe", 2 },
  };
  /* 2023-11-14T22:13:20.123456Z */
  g_autofree char *line = echo_log_format_record (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields),
                                                  G_GINT64_CONSTANT (1700000000123456));

  g_assert_cmpstr (line, ==,
                   "ts=2023-11-14T22:13:20.123Z level=info domain=echod msg=\"session started\" "
                   "session=123456 route=/api/share/start status=200 peer=127.0.0.1:5555");
}

static void
test_format_escaping (void)
{
  const GLogField fields[] = {
    { "MESSAGE", "say \"hi\"\nback\\slash\ttab=x\x01", -1 },
    { "ECHO_ROUTE", "", -1 },
  };
  g_autofree char *line = echo_log_format_record (G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS (fields),
                                                  0);

  g_assert_cmpstr (line, ==,
                   "ts=1970-01-01T00:00:00.000Z level=warning "
                   "msg=\"say \\\"hi\\\"\\nback\\\\slash\\ttab=x\\u0001\" route=\"\"");
  g_assert_null (strchr (line, '\n'));
}

static void
test_levels_names (void)
{
  static const struct
  {
    GLogLevelFlags level;
    const char *name;
  } levels[] = {
    { G_LOG_LEVEL_ERROR, "level=error" },   { G_LOG_LEVEL_CRITICAL, "level=critical" },
    { G_LOG_LEVEL_WARNING, "level=warning" }, { G_LOG_LEVEL_MESSAGE, "level=info" },
    { G_LOG_LEVEL_INFO, "level=info" },     { G_LOG_LEVEL_DEBUG, "level=debug" },
  };
  const GLogField fields[] = { { "MESSAGE", "m", -1 } };

  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      g_autofree char *line = echo_log_format_record (levels[i].level, fields, 1, 0);

      g_assert_nonnull (strstr (line, levels[i].name));
    }
}

/* Children: each installs the writer and logs; the parent reads their stderr. */

static void
child_setup (const char *level)
{
  g_autoptr (GError) error = NULL;

  /* g_test_init made warnings and criticals fatal; this child logs them on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR);
  g_assert_true (echo_log_init (level, &error));
  g_assert_no_error (error);
}

static void
test_writer_info (void)
{
  if (g_test_subprocess ())
    {
      child_setup ("info");
      g_message ("hello %s", "world");
      g_info ("an info record");
      g_debug ("a debug record");
      echo_log_event (G_LOG_LEVEL_INFO, "123456", "/api/share/start", 200, "started %d", 1);
      echo_log_event (G_LOG_LEVEL_WARNING, NULL, "/api/share", 0, "no session");
      /* g_log_structured() wants MESSAGE last: its value is a format. */
      g_log_structured ("echo-test", G_LOG_LEVEL_MESSAGE, "ECHO_SESSION", "654321", "MESSAGE",
                        "structured %d", 2);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("ts=20*-*-*T*:*:*.*Z level=info domain=echo-test "
                             "msg=\"hello world\"\n*");
  g_test_trap_assert_stderr ("*level=info domain=echo-test msg=\"an info record\"\n*");
  g_test_trap_assert_stderr_unmatched ("*a debug record*");
  g_test_trap_assert_stderr ("*level=info domain=echo-test msg=\"started 1\" session=123456 "
                             "route=/api/share/start status=200\n*");
  g_test_trap_assert_stderr ("*level=warning domain=echo-test msg=\"no session\" "
                             "route=/api/share\n*");
  g_test_trap_assert_stderr ("*level=info domain=echo-test msg=\"structured 2\" session=654321\n");
}

static void
test_writer_error_level (void)
{
  if (g_test_subprocess ())
    {
      child_setup ("error");
      g_message ("a message");
      g_warning ("a warning");
      g_critical ("a critical");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr_unmatched ("*a message*");
  g_test_trap_assert_stderr_unmatched ("*a warning*");
  g_test_trap_assert_stderr ("*level=critical domain=echo-test msg=\"a critical\"*");
}

static void
test_writer_debug_level (void)
{
  if (g_test_subprocess ())
    {
      child_setup ("debug");
      g_debug ("a debug record");
      g_log ("some-library", G_LOG_LEVEL_DEBUG, "library debug");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*level=debug domain=echo-test msg=\"a debug record\"\n*");
  g_test_trap_assert_stderr ("*level=debug domain=some-library msg=\"library debug\"\n*");
}

static void
test_writer_messages_debug (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("G_MESSAGES_DEBUG", "wanted-domain", TRUE);
      child_setup ("warning");
      g_log ("wanted-domain", G_LOG_LEVEL_DEBUG, "wanted debug");
      g_log ("other-domain", G_LOG_LEVEL_DEBUG, "unwanted debug");
      g_log ("other-domain", G_LOG_LEVEL_INFO, "unwanted info");
      g_log ("other-domain", G_LOG_LEVEL_MESSAGE, "unwanted message");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*level=debug domain=wanted-domain msg=\"wanted debug\"\n*");
  g_test_trap_assert_stderr_unmatched ("*unwanted*");
}

static void
test_init_twice (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (GError) error = NULL;

      child_setup ("info");
      g_debug ("first debug");
      /* A second call changes the level; GLib would abort on a second writer. */
      g_assert_true (echo_log_init ("debug", &error));
      g_debug ("second debug");
      g_assert_false (echo_log_init ("chatty", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "chatty"));
      g_debug ("third debug");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr_unmatched ("*first debug*");
  g_test_trap_assert_stderr ("*msg=\"second debug\"*msg=\"third debug\"*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/log/format", test_format);
  g_test_add_func ("/core/log/format-escaping", test_format_escaping);
  g_test_add_func ("/core/log/level-names", test_levels_names);
  g_test_add_func ("/core/log/writer/info", test_writer_info);
  g_test_add_func ("/core/log/writer/error", test_writer_error_level);
  g_test_add_func ("/core/log/writer/debug", test_writer_debug_level);
  g_test_add_func ("/core/log/writer/messages-debug", test_writer_messages_debug);
  g_test_add_func ("/core/log/init-twice", test_init_twice);
  return g_test_run ();
}
