/* echo-config.c: echod's settings table and its four sources (see echo-config.h). */
#include "echo-config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#ifndef ECHO_DEFAULT_PIPELINES_DIR
#error "meson defines ECHO_DEFAULT_PIPELINES_DIR"
#endif

G_DEFINE_QUARK (echo-config-error-quark, echo_config_error)

typedef enum
{
  SETTING_STRING,
  SETTING_STRV,   /* ';'-separated list */
  SETTING_UINT,
  SETTING_DOUBLE, /* > min, <= max */
  SETTING_BOOL,
} SettingType;

typedef enum
{
  SETTING_SECRET = 1 << 0,     /* describe() prints (set)/(unset) */
  SETTING_NON_EMPTY = 1 << 1,
  SETTING_URL_SECRET = 1 << 2, /* describe() hides the URL's password */
} SettingFlags;

typedef gboolean (*SettingCheck) (const char *value);

/* One row per setting: where it lives in the key file, its environment variable, where it lives
 * in EchoConfig, its range, and its default in text form (parsed like any other source). */
typedef struct
{
  const char *group;
  const char *key;
  const char *env;
  SettingType type;
  gsize offset;
  double min;
  double max;
  SettingFlags flags;
  SettingCheck check;
  const char *expected; /* what check() accepts, for the error message */
  const char *default_text;
} Setting;

static gboolean check_ip_address (const char *value);
static gboolean check_log_level (const char *value);
static gboolean check_database_url (const char *value);
static gboolean check_jwt_secret (const char *value);
static gboolean check_printable (const char *value);
static gboolean check_http_url (const char *value);
static gboolean check_mount_passwords (const char *value);

#define FIELD(name) G_STRUCT_OFFSET (EchoConfig, name)

static const Setting settings[] = {
  { "server", "address", NULL, SETTING_STRING, FIELD (address), 0, 0, SETTING_NON_EMPTY,
    check_ip_address, "an IPv4 or IPv6 address", "127.0.0.1" },
  { "server", "port", "PORT", SETTING_UINT, FIELD (port), 0, 65535, 0, NULL, NULL, "5000" },
  { "server", "cors-origins", NULL, SETTING_STRV, FIELD (cors_origins), 0, 0, 0, NULL, NULL,
    "http://localhost:*;http://127.0.0.1:*" },
  { "server", "poll-interval-us", NULL, SETTING_UINT, FIELD (poll_interval_us), 0, 100000, 0,
    NULL, NULL, "1000" },

  { "auth", "bearer-token", "BEARER_TOKEN", SETTING_STRING, FIELD (bearer_token), 0, 0,
    SETTING_SECRET, NULL, NULL, "" },
  { "auth", "jwt-secret", "ECHO_JWT_SECRET", SETTING_STRING, FIELD (jwt_secret), 0, 0,
    SETTING_SECRET, check_jwt_secret, "empty or at least 32 characters (HS256 wants 256 bits)",
    "" },
  { "auth", "metrics-public", NULL, SETTING_BOOL, FIELD (metrics_public), 0, 0, 0, NULL, NULL,
    "true" },

  { "share", "max-sessions", "MAX_SESSIONS", SETTING_UINT, FIELD (max_sessions), 1, 10000, 0,
    NULL, NULL, "50" },
  { "share", "audio-buffer-seconds", "AUDIO_BUFFER_SECONDS", SETTING_UINT,
    FIELD (audio_buffer_seconds), 1, 60, 0, NULL, NULL, "5" },
  { "share", "session-timeout-minutes", "SESSION_TIMEOUT_MINUTES", SETTING_UINT,
    FIELD (session_timeout_minutes), 1, 1440, 0, NULL, NULL, "15" },
  { "share", "ended-retention-minutes", NULL, SETTING_UINT, FIELD (ended_retention_minutes), 0,
    1440, 0, NULL, NULL, "5" },
  { "share", "metadata-ttl-seconds", NULL, SETTING_UINT, FIELD (metadata_ttl_seconds), 1, 86400,
    0, NULL, NULL, "30" },
  { "share", "max-chunk-bytes", NULL, SETTING_UINT, FIELD (max_chunk_bytes), 1024, 64 << 20, 0,
    NULL, NULL, "1048576" },
  { "share", "max-metadata-bytes", NULL, SETTING_UINT, FIELD (max_metadata_bytes), 1024,
    64 << 20, 0, NULL, NULL, "5242880" },
  { "share", "audio-rate", NULL, SETTING_DOUBLE, FIELD (audio_rate), 0, 10000, 0, NULL, NULL,
    "12" },
  { "share", "audio-burst", NULL, SETTING_UINT, FIELD (audio_burst), 1, 10000, 0, NULL, NULL,
    "12" },
  { "share", "metadata-rate", NULL, SETTING_DOUBLE, FIELD (metadata_rate), 0, 10000, 0, NULL,
    NULL, "2" },
  { "share", "metadata-burst", NULL, SETTING_UINT, FIELD (metadata_burst), 1, 10000, 0, NULL,
    NULL, "4" },
  { "share", "opus-bitrate", NULL, SETTING_UINT, FIELD (opus_bitrate), 6000, 510000, 0, NULL,
    NULL, "96000" },

  { "music", "max-sessions", NULL, SETTING_UINT, FIELD (music_max_sessions), 1, 100000, 0,
    NULL, NULL, "1000" },
  { "music", "max-queue-items", NULL, SETTING_UINT, FIELD (music_max_queue_items), 1, 10000, 0,
    NULL, NULL, "500" },
  { "music", "history-limit", NULL, SETTING_UINT, FIELD (music_history_limit), 0, 10000, 0,
    NULL, NULL, "100" },
  { "music", "start-lead-ms", NULL, SETTING_UINT, FIELD (music_start_lead_ms), 0, 10000, 0,
    NULL, NULL, "750" },
  { "music", "flush-interval-ms", NULL, SETTING_UINT, FIELD (music_flush_interval_ms), 1, 10000,
    0, NULL, NULL, "50" },
  { "music", "resolve-rate", NULL, SETTING_DOUBLE, FIELD (music_resolve_rate), 0, 10000, 0, NULL,
    NULL, "2" },
  { "music", "resolve-burst", NULL, SETTING_UINT, FIELD (music_resolve_burst), 1, 10000, 0, NULL,
    NULL, "5" },
  { "music", "upload-rate", NULL, SETTING_DOUBLE, FIELD (music_upload_rate), 0, 10000, 0, NULL,
    NULL, "1" },
  { "music", "upload-burst", NULL, SETTING_UINT, FIELD (music_upload_burst), 1, 10000, 0, NULL,
    NULL, "3" },
  { "music", "queue-rate", NULL, SETTING_DOUBLE, FIELD (music_queue_rate), 0, 100000, 0, NULL,
    NULL, "10" },
  { "music", "queue-burst", NULL, SETTING_UINT, FIELD (music_queue_burst), 1, 100000, 0, NULL,
    NULL, "20" },
  { "music", "control-rate", NULL, SETTING_DOUBLE, FIELD (music_control_rate), 0, 100000, 0,
    NULL, NULL, "10" },
  { "music", "control-burst", NULL, SETTING_UINT, FIELD (music_control_burst), 1, 100000, 0,
    NULL, NULL, "20" },
  { "music", "max-upload-bytes", NULL, SETTING_UINT, FIELD (music_max_upload_bytes), 1024,
    512 << 20, 0, NULL, NULL, "52428800" },
  { "music", "upload-url-ttl-seconds", NULL, SETTING_UINT, FIELD (music_upload_ttl_seconds), 10,
    86400, 0, NULL, NULL, "900" },
  { "music", "sync-ping-seconds", NULL, SETTING_UINT, FIELD (music_sync_ping_seconds), 1, 60, 0,
    NULL, NULL, "5" },
  { "music", "seek-threshold-ms", NULL, SETTING_UINT, FIELD (music_seek_ms), 1, 60000, 0, NULL,
    NULL, "500" },
  { "music", "resync-threshold-ms", NULL, SETTING_UINT, FIELD (music_resync_ms), 1, 600000, 0,
    NULL, NULL, "3000" },
  { "music", "receiver-token", NULL, SETTING_STRING, FIELD (music_receiver_token), 0, 0,
    SETTING_SECRET, check_printable, "printable ASCII", "" },

  { "resolver", "youtube-api-key", "YOUTUBE_API_KEY", SETTING_STRING, FIELD (youtube_api_key),
    0, 0, SETTING_SECRET, NULL, NULL, "" },
  { "resolver", "youtube-api-base", NULL, SETTING_STRING, FIELD (youtube_api_base), 0, 0, 0,
    check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "youtube-oembed-base", NULL, SETTING_STRING, FIELD (youtube_oembed_base), 0, 0,
    0, check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "spotify-client-id", "SPOTIFY_CLIENT_ID", SETTING_STRING,
    FIELD (spotify_client_id), 0, 0, 0, NULL, NULL, "" },
  { "resolver", "spotify-client-secret", "SPOTIFY_CLIENT_SECRET", SETTING_STRING,
    FIELD (spotify_client_secret), 0, 0, SETTING_SECRET, NULL, NULL, "" },
  { "resolver", "spotify-api-base", NULL, SETTING_STRING, FIELD (spotify_api_base), 0, 0, 0,
    check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "spotify-accounts-base", NULL, SETTING_STRING, FIELD (spotify_accounts_base), 0,
    0, 0, check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "spotify-oembed-base", NULL, SETTING_STRING, FIELD (spotify_oembed_base), 0, 0,
    0, check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "apple-music-token", "APPLE_MUSIC_TOKEN", SETTING_STRING,
    FIELD (apple_music_token), 0, 0, SETTING_SECRET, NULL, NULL, "" },
  { "resolver", "apple-music-base", NULL, SETTING_STRING, FIELD (apple_music_base), 0, 0, 0,
    check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "soundcloud-oembed-base", NULL, SETTING_STRING, FIELD (soundcloud_oembed_base),
    0, 0, 0, check_http_url, "empty or an http(s) URL", "" },
  { "resolver", "http-audio-hosts", NULL, SETTING_STRV, FIELD (http_audio_hosts), 0, 0, 0, NULL,
    NULL, "" },
  { "resolver", "timeout-ms", NULL, SETTING_UINT, FIELD (resolver_timeout_ms), 100, 120000, 0,
    NULL, NULL, "8000" },
  { "resolver", "max-playlist-tracks", NULL, SETTING_UINT,
    FIELD (resolver_max_playlist_tracks), 1, 1000, 0, NULL, NULL, "100" },
  { "resolver", "allow-private", NULL, SETTING_BOOL, FIELD (resolver_allow_private), 0, 0, 0,
    NULL, NULL, "false" },

  { "storage", "data-dir", "ECHO_DATA_DIR", SETTING_STRING, FIELD (data_dir), 0, 0,
    SETTING_NON_EMPTY, NULL, NULL, "/var/lib/echo" },
  { "storage", "database-url", "DATABASE_URL", SETTING_STRING, FIELD (database_url), 0, 0,
    SETTING_URL_SECRET, check_database_url, "empty, postgresql://... or postgres://...", "" },

  { "pipelines", "dir", "ECHO_PIPELINES_DIR", SETTING_STRING, FIELD (pipelines_dir), 0, 0,
    SETTING_NON_EMPTY, NULL, NULL, ECHO_DEFAULT_PIPELINES_DIR },

  { "discovery", "enabled", NULL, SETTING_BOOL, FIELD (discovery_enabled), 0, 0, 0, NULL, NULL,
    "true" },
  { "discovery", "name", NULL, SETTING_STRING, FIELD (discovery_name), 0, 0, SETTING_NON_EMPTY,
    NULL, NULL, "echod on %h" },

  { "radio", "source-password", "ECHO_RADIO_SOURCE_PASSWORD", SETTING_STRING,
    FIELD (radio_source_password), 0, 0, SETTING_SECRET, NULL, NULL, "" },
  { "radio", "mount-passwords", NULL, SETTING_STRING, FIELD (radio_mount_passwords), 0, 0,
    SETTING_SECRET, check_mount_passwords,
    "';'-separated /mount:password items (mount: 1..64 of A-Z a-z 0-9 . _ -)", "" },
  { "radio", "admin-user", NULL, SETTING_STRING, FIELD (radio_admin_user), 0, 0,
    SETTING_NON_EMPTY, NULL, NULL, "admin" },
  { "radio", "admin-password", "ECHO_RADIO_ADMIN_PASSWORD", SETTING_STRING,
    FIELD (radio_admin_password), 0, 0, SETTING_SECRET, NULL, NULL, "" },
  { "radio", "max-listeners", NULL, SETTING_UINT, FIELD (radio_max_listeners), 1, 100000, 0,
    NULL, NULL, "5000" },
  { "radio", "burst-bytes", NULL, SETTING_UINT, FIELD (radio_burst_bytes), 0, 16 << 20, 0,
    NULL, NULL, "65536" },
  { "radio", "icy-metaint", NULL, SETTING_UINT, FIELD (radio_icy_metaint), 0, 65536, 0,
    NULL, NULL, "0" },
  { "radio", "listener-max-lag-seconds", NULL, SETTING_UINT,
    FIELD (radio_listener_max_lag_seconds), 1, 600, 0, NULL, NULL, "10" },
  { "radio", "source-timeout-seconds", NULL, SETTING_UINT, FIELD (radio_source_timeout_seconds),
    1, 3600, 0, NULL, NULL, "10" },

  { "log", "level", "LOG_LEVEL", SETTING_STRING, FIELD (log_level), 0, 0, SETTING_NON_EMPTY,
    check_log_level, "one of error, warning, info, debug", "info" },
};

#undef FIELD

/* A flag seen while parsing options, applied after the key file and the environment. */
typedef struct
{
  const Setting *setting; /* NULL for --bearer-token-file */
  char *value;
  char *source;           /* "flag --port" */
} PendingFlag;

struct _EchoConfigPrivate
{
  char *config_path;
  GPtrArray *pending_flags; /* of PendingFlag* */
};

static void
pending_flag_free (gpointer data)
{
  PendingFlag *flag = data;

  g_free (flag->value);
  g_free (flag->source);
  g_free (flag);
}

static gboolean
check_ip_address (const char *value)
{
  return g_hostname_is_ip_address (value);
}

static gboolean
check_log_level (const char *value)
{
  static const char *const levels[] = { "error", "warning", "info", "debug", NULL };

  return g_strv_contains (levels, value);
}

static gboolean
check_database_url (const char *value)
{
  return *value == '\0' || g_str_has_prefix (value, "postgresql://")
         || g_str_has_prefix (value, "postgres://");
}

static gboolean
check_jwt_secret (const char *value)
{
  return *value == '\0' || strlen (value) >= 32;
}

static gboolean
check_printable (const char *value)
{
  for (; *value != '\0'; value++)
    if (*value < ' ' || *value > '~')
      return FALSE;
  return TRUE;
}

static gboolean
check_http_url (const char *value)
{
  return *value == '\0' || ((g_str_has_prefix (value, "http://")
          || g_str_has_prefix (value, "https://")) && check_printable (value));
}

/* "/live:pw1;/other:pw2": each item a mount (as orchestrator/radio names them) and a
 * non-empty password; empty items are allowed (a trailing ';'). */
static gboolean
check_mount_passwords (const char *value)
{
  g_auto (GStrv) items = g_strsplit (value, ";", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = items[i];
      const char *colon = strchr (item, ':');
      gsize len;

      if (*item == '\0')
        continue;
      if (item[0] != '/' || colon == NULL || colon[1] == '\0')
        return FALSE;
      len = (gsize) (colon - item - 1);
      if (len < 1 || len > 64)
        return FALSE;
      for (gsize k = 1; k <= len; k++)
        if (!g_ascii_isalnum (item[k]) && item[k] != '.' && item[k] != '_' && item[k] != '-')
          return FALSE;
    }
  return TRUE;
}

static const Setting *
setting_lookup (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      if (g_str_equal (settings[i].group, group) && (key == NULL || g_str_equal (settings[i].key, key)))
        return &settings[i];
    }
  return NULL;
}

static gboolean
parse_bool (const char *text, gboolean *out)
{
  static const char *const yes[] = { "true", "yes", "on", "1", NULL };
  static const char *const no[] = { "false", "no", "off", "0", NULL };
  g_autofree char *lower = g_ascii_strdown (text, -1);

  if (g_strv_contains (yes, lower))
    *out = TRUE;
  else if (g_strv_contains (no, lower))
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_double (const char *text, double min_exclusive, double max, double *out)
{
  char *end = NULL;
  double value;

  if (*text == '\0' || g_ascii_isspace (*text))
    return FALSE;
  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || *end != '\0' || !isfinite (value) || value <= min_exclusive || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

static char **
split_list (const char *text)
{
  g_auto (GStrv) parts = g_strsplit (text, ";", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (gsize i = 0; parts[i] != NULL; i++)
    {
      char *item = g_strstrip (parts[i]);

      if (*item != '\0')
        g_strv_builder_add (builder, item);
    }
  return g_strv_builder_end (builder);
}

/* Parses text as the value of setting and stores it in cfg; source names where text came from. */
static gboolean
setting_apply (EchoConfig *cfg, const Setting *setting, const char *text, const char *source,
               GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (cfg, setting->offset);

  switch (setting->type)
    {
    case SETTING_STRING:
      if ((setting->flags & SETTING_NON_EMPTY) && *text == '\0')
        {
          g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                       "%s: expected a non-empty value", source);
          return FALSE;
        }
      if (setting->check != NULL && !setting->check (text))
        {
          g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                       "%s: expected %s, got '%s'", source, setting->expected,
                       (setting->flags & (SETTING_SECRET | SETTING_URL_SECRET)) ? "(hidden)" : text);
          return FALSE;
        }
      g_free (*(char **) field);
      *(char **) field = g_strdup (text);
      return TRUE;

    case SETTING_STRV:
      g_strfreev (*(char ***) field);
      *(char ***) field = split_list (text);
      return TRUE;

    case SETTING_UINT:
      {
        guint64 value = 0;

        if (!g_ascii_string_to_unsigned (text, 10, (guint64) setting->min, (guint64) setting->max,
                                         &value, NULL))
          {
            g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                         "%s: expected an integer %.0f..%.0f, got '%s'", source, setting->min,
                         setting->max, text);
            return FALSE;
          }
        *(guint *) field = (guint) value;
        return TRUE;
      }

    case SETTING_DOUBLE:
      if (!parse_double (text, setting->min, setting->max, (double *) field))
        {
          g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                       "%s: expected a number > %g and <= %g, got '%s'", source, setting->min,
                       setting->max, text);
          return FALSE;
        }
      return TRUE;

    case SETTING_BOOL:
      if (!parse_bool (text, (gboolean *) field))
        {
          g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                       "%s: expected true or false, got '%s'", source, text);
          return FALSE;
        }
      return TRUE;

    default:
      g_assert_not_reached ();
    }
}

EchoConfig *
echo_config_new_defaults (void)
{
  EchoConfig *cfg = g_new0 (EchoConfig, 1);

  cfg->priv = g_new0 (EchoConfigPrivate, 1);
  cfg->priv->pending_flags = g_ptr_array_new_with_free_func (pending_flag_free);
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      g_autoptr (GError) error = NULL;

      if (!setting_apply (cfg, &settings[i], settings[i].default_text, "default", &error))
        g_error ("echod's built-in default is invalid: %s", error->message);
    }
  return cfg;
}

void
echo_config_free (EchoConfig *cfg)
{
  if (cfg == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (cfg, settings[i].offset);

      if (settings[i].type == SETTING_STRING)
        g_free (*(char **) field);
      else if (settings[i].type == SETTING_STRV)
        g_strfreev (*(char ***) field);
    }
  g_free (cfg->priv->config_path);
  g_ptr_array_unref (cfg->priv->pending_flags);
  g_free (cfg->priv);
  g_free (cfg);
}

gboolean
echo_config_load_key_file (EchoConfig *cfg, const char *path, GError **error)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) groups = NULL;

  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_FILE, "%s: %s", path,
                   local_error->message);
      return FALSE;
    }

  groups = g_key_file_get_groups (key_file, NULL);
  for (gsize g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = NULL;

      if (setting_lookup (groups[g], NULL) == NULL)
        {
          g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s: [%s]: unknown group", path, groups[g]);
          return FALSE;
        }
      keys = g_key_file_get_keys (key_file, groups[g], NULL, NULL);
      for (gsize k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const Setting *setting = setting_lookup (groups[g], keys[k]);
          g_autofree char *source = g_strdup_printf ("%s: [%s] %s", path, groups[g], keys[k]);
          g_autofree char *value = NULL;

          if (setting == NULL)
            {
              g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_UNKNOWN_KEY,
                           "%s: unknown key", source);
              return FALSE;
            }
          /* get_string undoes the key file's escapes (\s, \n, \\). */
          value = g_key_file_get_string (key_file, groups[g], keys[k], &local_error);
          if (value == NULL)
            {
              g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE, "%s: %s",
                           source, local_error->message);
              return FALSE;
            }
          if (!setting_apply (cfg, setting, value, source, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
echo_config_apply_environment (EchoConfig *cfg, const char *const *envp, GError **error)
{
  g_auto (GStrv) own_environ = NULL;

  g_return_val_if_fail (cfg != NULL, FALSE);

  if (envp == NULL)
    {
      own_environ = g_get_environ ();
      envp = (const char *const *) own_environ;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const char *value;
      g_autofree char *source = NULL;

      if (settings[i].env == NULL)
        continue;
      value = g_environ_getenv ((char **) envp, settings[i].env);
      if (value == NULL || *value == '\0')
        continue;
      source = g_strdup_printf ("environment %s", settings[i].env);
      if (!setting_apply (cfg, &settings[i], value, source, error))
        return FALSE;
    }
  return TRUE;
}

/* The flags that are shorthands for one setting. */
static const struct
{
  const char *flag;
  const char *group;
  const char *key;
} flag_settings[] = {
  { "--address", "server", "address" },
  { "--port", "server", "port" },
  { "-p", "server", "port" },
  { "--data-dir", "storage", "data-dir" },
  { "--database-url", "storage", "database-url" },
  { "--pipelines-dir", "pipelines", "dir" },
  { "--log-level", "log", "level" },
};

static void
record_flag (EchoConfig *cfg, const Setting *setting, const char *value, char *source)
{
  PendingFlag *flag = g_new0 (PendingFlag, 1);

  flag->setting = setting;
  flag->value = g_strdup (value);
  flag->source = source;
  g_ptr_array_add (cfg->priv->pending_flags, flag);
}

static gboolean
on_setting_flag (const char *option_name, const char *value, gpointer data, GError **error)
{
  EchoConfig *cfg = data;

  for (gsize i = 0; i < G_N_ELEMENTS (flag_settings); i++)
    {
      if (g_str_equal (option_name, flag_settings[i].flag))
        {
          record_flag (cfg, setting_lookup (flag_settings[i].group, flag_settings[i].key), value,
                       g_strdup_printf ("flag %s", option_name));
          return TRUE;
        }
    }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "%s: not a setting",
               option_name);
  return FALSE;
}

static gboolean
on_config_flag (const char *option_name, const char *value, gpointer data, GError **error)
{
  EchoConfig *cfg = data;

  g_free (cfg->priv->config_path);
  cfg->priv->config_path = g_strdup (value);
  return TRUE;
}

static gboolean
on_no_discovery_flag (const char *option_name, const char *value, gpointer data, GError **error)
{
  EchoConfig *cfg = data;

  record_flag (cfg, setting_lookup ("discovery", "enabled"), "false",
               g_strdup ("flag --no-discovery"));
  return TRUE;
}

static gboolean
on_bearer_token_file_flag (const char *option_name, const char *value, gpointer data,
                           GError **error)
{
  EchoConfig *cfg = data;

  /* The file is read when flags are applied, so a token never sits in argv or ps output. */
  record_flag (cfg, NULL, value, g_strdup ("flag --bearer-token-file"));
  return TRUE;
}

static gboolean
on_set_flag (const char *option_name, const char *value, gpointer data, GError **error)
{
  EchoConfig *cfg = data;
  const char *equals = strchr (value, '=');
  const char *dot;
  g_autofree char *name = NULL;
  g_autofree char *group = NULL;
  const Setting *setting;

  if (equals == NULL)
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                   "flag --set: expected GROUP.KEY=VALUE, got '%s'", value);
      return FALSE;
    }
  name = g_strndup (value, equals - value);
  dot = strchr (name, '.');
  if (dot == NULL)
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                   "flag --set: expected GROUP.KEY=VALUE, got '%s'", value);
      return FALSE;
    }
  group = g_strndup (name, dot - name);
  setting = setting_lookup (group, dot + 1);
  if (setting == NULL)
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_UNKNOWN_KEY,
                   "flag --set %s: unknown setting", name);
      return FALSE;
    }
  record_flag (cfg, setting, equals + 1, g_strdup_printf ("flag --set %s", name));
  return TRUE;
}

GOptionGroup *
echo_config_option_group (EchoConfig *cfg)
{
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_CALLBACK, on_config_flag,
      "Read settings from this key file (see echod.conf)", "FILE" },
    { "address", 0, 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "Listen on this IP address [server] address", "ADDRESS" },
    { "port", 'p', 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "Listen on this TCP port, 0 for a free one [server] port", "PORT" },
    { "data-dir", 0, 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "Directory for the file store [storage] data-dir", "DIR" },
    { "database-url", 0, 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "Use PostgreSQL at this URL [storage] database-url", "URL" },
    { "pipelines-dir", 0, 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "Directory of *.pipeline templates [pipelines] dir", "DIR" },
    { "log-level", 0, 0, G_OPTION_ARG_CALLBACK, on_setting_flag,
      "error, warning, info or debug [log] level", "LEVEL" },
    { "no-discovery", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, on_no_discovery_flag,
      "Do not advertise over mDNS [discovery] enabled=false", NULL },
    { "bearer-token-file", 0, 0, G_OPTION_ARG_CALLBACK, on_bearer_token_file_flag,
      "Read the share API's bearer token from this file [auth] bearer-token", "FILE" },
    { "set", 0, 0, G_OPTION_ARG_CALLBACK, on_set_flag,
      "Set any key-file setting (repeatable)", "GROUP.KEY=VALUE" },
    G_OPTION_ENTRY_NULL
  };
  GOptionGroup *group;

  g_return_val_if_fail (cfg != NULL, NULL);

  group = g_option_group_new ("config", "Configuration options:", "Show configuration options",
                              cfg, NULL);
  g_option_group_add_entries (group, entries);
  return group;
}

static gboolean
apply_bearer_token_file (EchoConfig *cfg, const PendingFlag *flag, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (flag->value, &contents, &length, &local_error))
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_FILE, "%s: %s", flag->source,
                   local_error->message);
      return FALSE;
    }
  if (memchr (contents, '\0', length) != NULL)
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                   "%s: %s holds a NUL byte", flag->source, flag->value);
      return FALSE;
    }
  /* Editors end files with a newline; the token itself is the first line. */
  if (length > 0 && contents[length - 1] == '\n')
    contents[--length] = '\0';
  if (length > 0 && contents[length - 1] == '\r')
    contents[--length] = '\0';
  if (length == 0 || strchr (contents, '\n') != NULL)
    {
      g_set_error (error, ECHO_CONFIG_ERROR, ECHO_CONFIG_ERROR_INVALID_VALUE,
                   "%s: expected one non-empty line in %s", flag->source, flag->value);
      return FALSE;
    }
  g_free (cfg->bearer_token);
  cfg->bearer_token = g_steal_pointer (&contents);
  return TRUE;
}

gboolean
echo_config_finish (EchoConfig *cfg, const char *const *envp, GError **error)
{
  GPtrArray *flags;

  g_return_val_if_fail (cfg != NULL, FALSE);

  if (cfg->priv->config_path != NULL
      && !echo_config_load_key_file (cfg, cfg->priv->config_path, error))
    return FALSE;
  if (!echo_config_apply_environment (cfg, envp, error))
    return FALSE;

  flags = cfg->priv->pending_flags;
  for (guint i = 0; i < flags->len; i++)
    {
      const PendingFlag *flag = g_ptr_array_index (flags, i);

      if (flag->setting == NULL)
        {
          if (!apply_bearer_token_file (cfg, flag, error))
            return FALSE;
        }
      else if (!setting_apply (cfg, flag->setting, flag->value, flag->source, error))
        return FALSE;
    }
  g_ptr_array_set_size (flags, 0);
  return TRUE;
}

EchoConfig *
echo_config_load (int *argc, char ***argv, GError **error)
{
  g_autoptr (EchoConfig) cfg = echo_config_new_defaults ();
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_main_group (context, echo_config_option_group (cfg));
  if (!g_option_context_parse (context, argc, argv, error))
    return NULL;
  if (!echo_config_finish (cfg, NULL, error))
    return NULL;
  return g_steal_pointer (&cfg);
}

const char *
echo_config_get_path (EchoConfig *cfg)
{
  g_return_val_if_fail (cfg != NULL, NULL);
  return cfg->priv->config_path;
}

/* logfmt-style: bare when safe, otherwise double-quoted with \" and \\ escaped. */
static void
append_value (GString *out, const char *value)
{
  gboolean bare = *value != '\0';

  for (const char *p = value; *p != '\0' && bare; p++)
    bare = !(g_ascii_isspace (*p) || *p == '"' || *p == '\\' || *p == '=' || g_ascii_iscntrl (*p));
  if (bare)
    {
      g_string_append (out, value);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* postgresql://user:secret@host/db -> postgresql://user:(set)@host/db; a password given as a
 * query parameter hides the whole URL. */
static char *
redact_url (const char *url)
{
  const char *scheme_end = strstr (url, "://");
  const char *authority, *at, *colon;

  if (strstr (url, "password") != NULL)
    return g_strdup ("(set)");
  if (scheme_end == NULL)
    return g_strdup (url);
  authority = scheme_end + 3;
  at = strchr (authority, '@');
  if (at == NULL)
    return g_strdup (url);
  colon = memchr (authority, ':', at - authority);
  if (colon == NULL)
    return g_strdup (url);
  return g_strdup_printf ("%.*s(set)%s", (int) (colon + 1 - url), url, at);
}

char *
echo_config_describe (EchoConfig *cfg)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (cfg != NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const Setting *setting = &settings[i];
      gpointer field = G_STRUCT_MEMBER_P (cfg, setting->offset);
      g_autofree char *text = NULL;

      switch (setting->type)
        {
        case SETTING_STRING:
          {
            const char *value = *(char **) field;

            if (setting->flags & SETTING_SECRET)
              text = g_strdup (*value != '\0' ? "(set)" : "(unset)");
            else if (setting->flags & SETTING_URL_SECRET)
              text = redact_url (value);
            else
              text = g_strdup (value);
            break;
          }
        case SETTING_STRV:
          text = g_strjoinv (";", *(char ***) field);
          break;
        case SETTING_UINT:
          text = g_strdup_printf ("%u", *(guint *) field);
          break;
        case SETTING_DOUBLE:
          {
            char buffer[G_ASCII_DTOSTR_BUF_SIZE];

            /* Locale-independent: a comma locale must not turn 0.5 into "0,5". */
            text = g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%g", *(double *) field));
            break;
          }
        case SETTING_BOOL:
          text = g_strdup (*(gboolean *) field ? "true" : "false");
          break;
        default:
          g_assert_not_reached ();
        }
      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append_printf (out, "%s.%s=", setting->group, setting->key);
      append_value (out, text);
    }
  return g_string_free (out, FALSE);
}
