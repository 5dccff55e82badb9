/* Tests for echo-config: defaults, the four sources and their precedence, error messages that
 * name the setting and its source, unknown keys, and the shipped echod.conf. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "echo-config.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static char *
write_file (Fixture *fixture, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (fixture->dir, name, NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* Parses args (NULL-terminated, without argv[0]) with the config's option group, then finishes
 * with envp. */
static gboolean
load_with (EchoConfig *cfg, const char *const *args, const char *const *envp, GError **error)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  char **argv_data;
  int argc;

  g_ptr_array_add (argv, g_strdup ("echod"));
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  argc = (int) argv->len - 1;
  /* g_option_context_parse() rearranges the vector it is given, so hand it a shallow copy. */
  argv_data = g_memdup2 (argv->pdata, argv->len * sizeof (char *));
  g_option_context_set_main_group (context, echo_config_option_group (cfg));
  if (!g_option_context_parse (context, &argc, &argv_data, error))
    {
      g_free (argv_data);
      return FALSE;
    }
  g_free (argv_data);
  return echo_config_finish (cfg, envp, error);
}

static const char *const no_env[] = { NULL };

static void
test_defaults (void)
{
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();

  g_assert_cmpstr (cfg->address, ==, "127.0.0.1");
  g_assert_cmpuint (cfg->port, ==, 5000);
  g_assert_cmpuint (g_strv_length (cfg->cors_origins), ==, 2);
  g_assert_cmpstr (cfg->cors_origins[0], ==, "http://localhost:*");
  g_assert_cmpstr (cfg->cors_origins[1], ==, "http://127.0.0.1:*");
  g_assert_cmpstr (cfg->bearer_token, ==, "");
  g_assert_cmpstr (cfg->jwt_secret, ==, "");
  g_assert_true (cfg->metrics_public);
  g_assert_cmpuint (cfg->max_sessions, ==, 50);
  g_assert_cmpuint (cfg->audio_buffer_seconds, ==, 5);
  g_assert_cmpuint (cfg->session_timeout_minutes, ==, 15);
  g_assert_cmpuint (cfg->ended_retention_minutes, ==, 5);
  g_assert_cmpuint (cfg->metadata_ttl_seconds, ==, 30);
  g_assert_cmpuint (cfg->max_chunk_bytes, ==, 1048576);
  g_assert_cmpuint (cfg->max_metadata_bytes, ==, 5242880);
  g_assert_cmpfloat (cfg->audio_rate, ==, 12);
  g_assert_cmpuint (cfg->audio_burst, ==, 12);
  g_assert_cmpfloat (cfg->metadata_rate, ==, 2);
  g_assert_cmpuint (cfg->metadata_burst, ==, 4);
  g_assert_cmpuint (cfg->opus_bitrate, ==, 96000);
  g_assert_cmpstr (cfg->data_dir, ==, "/var/lib/echo");
  g_assert_cmpstr (cfg->database_url, ==, "");
  g_assert_true (g_str_has_suffix (cfg->pipelines_dir, "/echo/pipelines"));
  g_assert_true (cfg->discovery_enabled);
  g_assert_cmpstr (cfg->discovery_name, ==, "echod on %h");
  g_assert_cmpstr (cfg->log_level, ==, "info");
  g_assert_null (echo_config_get_path (cfg));
}

static void
test_precedence (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = write_file (fixture, "echod.conf",
                                      "# comment\n"
                                      "[server]\nport=6000\naddress=::1\n"
                                      "cors-origins=https://a.example; https://b.example:*;\n"
                                      "[share]\nmax-sessions=70\naudio-rate=20.5\n"
                                      "session-timeout-minutes=30\n"
                                      "[storage]\ndata-dir=/srv/echo\n"
                                      "[log]\nlevel=warning\n"
                                      "[discovery]\nname=my echod\n");
  const char *const env[] = { "PORT=7000", "MAX_SESSIONS=80", "LOG_LEVEL=debug",
                              "SESSION_TIMEOUT_MINUTES=", /* empty: ignored */
                              "UNRELATED=1", NULL };
  const char *const args[] = { "--config", path, "--port", "8000", "--set",
                               "share.audio-burst=30", "--no-discovery", NULL };
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;

  g_assert_true (load_with (cfg, args, env, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (echo_config_get_path (cfg), ==, path);
  /* flag > env > file > default */
  g_assert_cmpuint (cfg->port, ==, 8000);
  /* env > file */
  g_assert_cmpuint (cfg->max_sessions, ==, 80);
  g_assert_cmpstr (cfg->log_level, ==, "debug");
  /* file > default, an empty environment variable changes nothing */
  g_assert_cmpuint (cfg->session_timeout_minutes, ==, 30);
  g_assert_cmpstr (cfg->address, ==, "::1");
  g_assert_cmpfloat (cfg->audio_rate, ==, 20.5);
  g_assert_cmpstr (cfg->data_dir, ==, "/srv/echo");
  g_assert_cmpstr (cfg->discovery_name, ==, "my echod");
  g_assert_cmpuint (g_strv_length (cfg->cors_origins), ==, 2);
  g_assert_cmpstr (cfg->cors_origins[0], ==, "https://a.example");
  g_assert_cmpstr (cfg->cors_origins[1], ==, "https://b.example:*");
  /* flags only */
  g_assert_cmpuint (cfg->audio_burst, ==, 30);
  g_assert_false (cfg->discovery_enabled);
  /* untouched */
  g_assert_cmpuint (cfg->metadata_burst, ==, 4);
}

static void
test_environment_names (void)
{
  const char *const env[] = { "PORT=0",
                              "BEARER_TOKEN=Bearer Token",
                              "ECHO_JWT_SECRET=0123456789abcdef0123456789abcdef",
                              "MAX_SESSIONS=3",
                              "AUDIO_BUFFER_SECONDS=7",
                              "SESSION_TIMEOUT_MINUTES=2",
                              "ECHO_DATA_DIR=/tmp/echo-data",
                              "DATABASE_URL=postgresql://echo@localhost/echo",
                              "ECHO_PIPELINES_DIR=/tmp/pipelines",
                              "LOG_LEVEL=error",
                              NULL };
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;

  g_assert_true (echo_config_apply_environment (cfg, env, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cfg->port, ==, 0);
  g_assert_cmpstr (cfg->bearer_token, ==, "Bearer Token");
  g_assert_cmpstr (cfg->jwt_secret, ==, "0123456789abcdef0123456789abcdef");
  g_assert_cmpuint (cfg->max_sessions, ==, 3);
  g_assert_cmpuint (cfg->audio_buffer_seconds, ==, 7);
  g_assert_cmpuint (cfg->session_timeout_minutes, ==, 2);
  g_assert_cmpstr (cfg->data_dir, ==, "/tmp/echo-data");
  g_assert_cmpstr (cfg->database_url, ==, "postgresql://echo@localhost/echo");
  g_assert_cmpstr (cfg->pipelines_dir, ==, "/tmp/pipelines");
  g_assert_cmpstr (cfg->log_level, ==, "error");
}

static void
test_all_flags (Fixture *fixture, gconstpointer data)
{
  g_autofree char *token_path = write_file (fixture, "token", "Bearer s3cret\n");
  const char *const args[] = { "--address", "0.0.0.0", "-p", "0", "--data-dir", "/d",
                               "--database-url", "postgres://u:pw@h/db", "--pipelines-dir", "/p",
                               "--log-level=debug", "--bearer-token-file", token_path, NULL };
  const char *const env[] = { "BEARER_TOKEN=from-env", NULL };
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;

  g_assert_true (load_with (cfg, args, env, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (cfg->address, ==, "0.0.0.0");
  g_assert_cmpuint (cfg->port, ==, 0);
  g_assert_cmpstr (cfg->data_dir, ==, "/d");
  g_assert_cmpstr (cfg->database_url, ==, "postgres://u:pw@h/db");
  g_assert_cmpstr (cfg->pipelines_dir, ==, "/p");
  g_assert_cmpstr (cfg->log_level, ==, "debug");
  /* The file's trailing newline is not part of the token, and the flag beats the environment. */
  g_assert_cmpstr (cfg->bearer_token, ==, "Bearer s3cret");
}

/* Each case: a source and the exact error it must produce. */
typedef struct
{
  const char *file;   /* key file contents, or NULL */
  const char *env;    /* one VAR=value, or NULL */
  const char *flag1;  /* up to two command-line arguments */
  const char *flag2;
  int code;
  const char *message; /* "@" stands for the key file's path */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "[share]\nmax-sessions=abc\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [share] max-sessions: expected an integer 1..10000, got 'abc'" },
  { "[share]\nmax-sessions=0\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [share] max-sessions: expected an integer 1..10000, got '0'" },
  { "[share]\nmax-sessions=-5\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [share] max-sessions: expected an integer 1..10000, got '-5'" },
  { "[share]\nmax-session=5\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_UNKNOWN_KEY,
    "@: [share] max-session: unknown key" },
  { "[shared]\nmax-sessions=5\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_UNKNOWN_KEY,
    "@: [shared]: unknown group" },
  { "[share]\naudio-rate=0\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [share] audio-rate: expected a number > 0 and <= 10000, got '0'" },
  { "[share]\naudio-rate=1e9\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [share] audio-rate: expected a number > 0 and <= 10000, got '1e9'" },
  { "[auth]\nmetrics-public=maybe\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [auth] metrics-public: expected true or false, got 'maybe'" },
  { "[auth]\njwt-secret=short\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [auth] jwt-secret: expected empty or at least 32 characters (HS256 wants 256 bits), "
    "got '(hidden)'" },
  { "[server]\naddress=\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [server] address: expected a non-empty value" },
  { "[server]\naddress=localhost\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [server] address: expected an IPv4 or IPv6 address, got 'localhost'" },
  { "[log]\nlevel=verbose\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [log] level: expected one of error, warning, info, debug, got 'verbose'" },
  { "[storage]\ndatabase-url=mysql://x\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "@: [storage] database-url: expected empty, postgresql://... or postgres://..., "
    "got '(hidden)'" },
  { NULL, "MAX_SESSIONS=abc", NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "environment MAX_SESSIONS: expected an integer 1..10000, got 'abc'" },
  { NULL, "PORT=65536", NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "environment PORT: expected an integer 0..65535, got '65536'" },
  { NULL, "PORT= 80", NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "environment PORT: expected an integer 0..65535, got ' 80'" },
  { NULL, "LOG_LEVEL=INFO", NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "environment LOG_LEVEL: expected one of error, warning, info, debug, got 'INFO'" },
  { NULL, "AUDIO_BUFFER_SECONDS=61", NULL, NULL, ECHO_CONFIG_ERROR_INVALID_VALUE,
    "environment AUDIO_BUFFER_SECONDS: expected an integer 1..60, got '61'" },
  { NULL, NULL, "--port", "70000", ECHO_CONFIG_ERROR_INVALID_VALUE,
    "flag --port: expected an integer 0..65535, got '70000'" },
  { NULL, NULL, "--port", "5000x", ECHO_CONFIG_ERROR_INVALID_VALUE,
    "flag --port: expected an integer 0..65535, got '5000x'" },
  { NULL, NULL, "--log-level", "loud", ECHO_CONFIG_ERROR_INVALID_VALUE,
    "flag --log-level: expected one of error, warning, info, debug, got 'loud'" },
  { NULL, NULL, "--set", "share.opus-bitrate=5", ECHO_CONFIG_ERROR_INVALID_VALUE,
    "flag --set share.opus-bitrate: expected an integer 6000..510000, got '5'" },
  { NULL, NULL, "--set", "share.nope=5", ECHO_CONFIG_ERROR_UNKNOWN_KEY,
    "flag --set share.nope: unknown setting" },
  { NULL, NULL, "--set", "share", ECHO_CONFIG_ERROR_INVALID_VALUE,
    "flag --set: expected GROUP.KEY=VALUE, got 'share'" },
  { NULL, NULL, "--bearer-token-file", "/nonexistent/echo-token", ECHO_CONFIG_ERROR_FILE, NULL },
  { NULL, NULL, "--config", "/nonexistent/echod.conf", ECHO_CONFIG_ERROR_FILE, NULL },
  { "[share\n", NULL, NULL, NULL, ECHO_CONFIG_ERROR_FILE, NULL },
};

static void
test_error (Fixture *fixture, gconstpointer data)
{
  const ErrorCase *error_case = data;
  g_autofree char *path = NULL;
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;
  const char *args[6] = { NULL };
  const char *env[2] = { error_case->env, NULL };
  gsize n_args = 0;

  if (error_case->file != NULL)
    {
      path = write_file (fixture, "echod.conf", error_case->file);
      args[n_args++] = "--config";
      args[n_args++] = path;
    }
  if (error_case->flag1 != NULL)
    {
      args[n_args++] = error_case->flag1;
      args[n_args++] = error_case->flag2;
    }
  g_assert_false (load_with (cfg, args, env, &error));
  g_assert_error (error, ECHO_CONFIG_ERROR, error_case->code);
  if (error_case->message != NULL)
    {
      g_autoptr (GString) expected = g_string_new (error_case->message);

      if (path != NULL)
        g_string_replace (expected, "@", path, 1);
      g_assert_cmpstr (error->message, ==, expected->str);
    }
  else
    {
      /* Errors about files name the file. */
      const char *named = path != NULL ? path : error_case->flag2;

      g_assert_nonnull (strstr (error->message, named));
    }
}

static void
test_bearer_token_file_rules (Fixture *fixture, gconstpointer data)
{
  static const char *const bad[] = { "", "\n", "two\nlines\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = write_file (fixture, "token", bad[i]);
      const char *const args[] = { "--bearer-token-file", path, NULL };
      g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
      g_autoptr (GError) error = NULL;

      g_assert_false (load_with (cfg, args, no_env, &error));
      g_assert_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE);
      g_assert_true (g_str_has_prefix (error->message, "flag --bearer-token-file: "));
    }
}

static void
test_describe (void)
{
  const char *const env[] = { "BEARER_TOKEN=Bearer Token",
                              "DATABASE_URL=postgresql://echo:hunter2@db.example/echo",
                              NULL };
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_true (echo_config_apply_environment (cfg, env, &error));
  g_assert_no_error (error);
  text = echo_config_describe (cfg);
  g_assert_null (strchr (text, '\n'));
  g_assert_nonnull (strstr (text, "server.address=127.0.0.1 server.port=5000 "));
  g_assert_nonnull (strstr (text, " auth.bearer-token=(set) auth.jwt-secret=(unset) "));
  g_assert_nonnull (strstr (text, " share.max-sessions=50 "));
  g_assert_nonnull (strstr (text, " share.audio-rate=12 "));
  g_assert_nonnull (strstr (text, " storage.database-url=postgresql://echo:(set)@db.example/echo "));
  g_assert_nonnull (strstr (text, " discovery.name=\"echod on %h\" "));
  g_assert_true (g_str_has_suffix (text, " log.level=info"));
  g_assert_null (strstr (text, "Token"));
  g_assert_null (strstr (text, "hunter2"));
}

/* The shipped echod.conf with every key uncommented loads cleanly and equals the defaults, so the
 * file and echo-config.c cannot drift apart. */
static void
test_shipped_config (Fixture *fixture, gconstpointer data)
{
  const char *source_root = g_getenv ("ECHO_SOURCE_ROOT");
  g_autofree char *shipped = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GString) uncommented = g_string_new (NULL);
  g_auto (GStrv) lines = NULL;
  g_autofree char *path = NULL;
  g_autoptr (EchoConfig) defaults = echo_config_new_defaults ();
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  guint n_keys = 0;

  g_assert_nonnull (source_root);
  shipped = g_build_filename (source_root, "orchestrator", "core", "echod.conf", NULL);
  g_file_get_contents (shipped, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      /* "#key=value" is a setting; "# text" is prose. The pipelines dir depends on the prefix. */
      if (line[0] == '#' && g_ascii_isalpha (line[1]) && strchr (line, '=') != NULL)
        {
          n_keys++;
          if (g_str_has_prefix (line, "#dir="))
            continue;
          line++;
        }
      g_string_append_printf (uncommented, "%s\n", line);
    }
  /* every setting echod knows is in the shipped file, once */
  {
    g_autofree char *described = echo_config_describe (defaults);
    g_autoptr (GRegex) setting = g_regex_new ("(^| )[a-z]+\\.[a-z-]+=", 0, 0, NULL);
    g_autoptr (GMatchInfo) match = NULL;
    guint n_settings = 0;

    for (g_regex_match (setting, described, 0, &match); g_match_info_matches (match);
         g_match_info_next (match, NULL))
      n_settings++;
    g_assert_cmpuint (n_settings, >, 60);
    g_assert_cmpuint (n_keys, ==, n_settings);
  }
  path = write_file (fixture, "shipped.conf", uncommented->str);
  g_assert_true (echo_config_load_key_file (cfg, path, &error));
  g_assert_no_error (error);
  expected = echo_config_describe (defaults);
  actual = echo_config_describe (cfg);
  g_assert_cmpstr (actual, ==, expected);
}

static void
test_load_convenience (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = write_file (fixture, "echod.conf", "[share]\nmax-sessions=9\n");
  char *args[] = { (char *) "echod", (char *) "-c", path, (char *) "--port", (char *) "1234",
                   (char *) "extra", NULL };
  char **argv = args;
  int argc = 6;
  g_autoptr (EchoConfig) cfg = NULL;
  g_autoptr (GError) error = NULL;

  cfg = echo_config_load (&argc, &argv, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  g_assert_cmpuint (cfg->port, ==, 1234);
  g_assert_cmpuint (cfg->max_sessions, >=, 1); /* MAX_SESSIONS from the real environment may win */
  g_assert_cmpint (argc, ==, 2);
  g_assert_cmpstr (argv[1], ==, "extra");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/config/defaults", test_defaults);
  g_test_add ("/core/config/precedence", Fixture, NULL, fixture_setup, test_precedence,
              fixture_teardown);
  g_test_add_func ("/core/config/environment-names", test_environment_names);
  g_test_add ("/core/config/all-flags", Fixture, NULL, fixture_setup, test_all_flags,
              fixture_teardown);
  for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/config/error/%zu", i);

      g_test_add (path, Fixture, &error_cases[i], fixture_setup, test_error, fixture_teardown);
    }
  g_test_add ("/core/config/bearer-token-file", Fixture, NULL, fixture_setup,
              test_bearer_token_file_rules, fixture_teardown);
  g_test_add_func ("/core/config/describe", test_describe);
  g_test_add ("/core/config/shipped", Fixture, NULL, fixture_setup, test_shipped_config,
              fixture_teardown);
  g_test_add ("/core/config/load", Fixture, NULL, fixture_setup, test_load_convenience,
              fixture_teardown);
  return g_test_run ();
}
