/* echo-config.h: echod's configuration, from four sources in increasing precedence:
 * built-in defaults < key file (--config FILE) < environment < command-line flags.
 *
 * Every setting has a [group] key in the key file; some also have an environment variable and a
 * flag (see echod.conf beside this file for the full list with defaults). Unknown groups or
 * keys, malformed numbers and out-of-range values are errors whose message names the setting and
 * where its value came from, e.g.
 *   "/etc/echo/echod.conf: [share] max-sessions: expected an integer 1..10000, got 'abc'"
 *   "environment MAX_SESSIONS: expected an integer 1..10000, got '0'"
 *   "flag --port: expected an integer 0..65535, got '70000'"
 * echod prints such an error and exits with status 2. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_CONFIG_ERROR (echo_config_error_quark ())
GQuark echo_config_error_quark (void);

typedef enum
{
  ECHO_CONFIG_ERROR_INVALID_VALUE, /* malformed or out of range */
  ECHO_CONFIG_ERROR_UNKNOWN_KEY,   /* a group, key or --set name that does not exist */
  ECHO_CONFIG_ERROR_FILE,          /* a file could not be read or parsed */
} EchoConfigError;

typedef struct _EchoConfigPrivate EchoConfigPrivate;

/* A plain struct: read the fields directly. Strings are never NULL (unset secrets are ""). */
typedef struct
{
  /* [server] */
  char *address;            /* address=127.0.0.1 */
  guint port;               /* port=5000 (PORT); 0 binds a free port */
  char **cors_origins;      /* cors-origins=http://localhost:*;http://127.0.0.1:* (patterns) */
  guint poll_interval_us;   /* poll-interval-us=1000: least time between main-loop wake-ups */

  /* [auth] */
  char *bearer_token;       /* bearer-token= (BEARER_TOKEN); "" = not configured */
  char *jwt_secret;         /* jwt-secret= (ECHO_JWT_SECRET); "" = not configured */
  gboolean metrics_public;  /* metrics-public=true: /metrics needs no credential */

  /* [share] */
  guint max_sessions;             /* max-sessions=50 (MAX_SESSIONS) */
  guint audio_buffer_seconds;     /* audio-buffer-seconds=5 (AUDIO_BUFFER_SECONDS) */
  guint session_timeout_minutes;  /* session-timeout-minutes=15 (SESSION_TIMEOUT_MINUTES) */
  guint ended_retention_minutes;  /* ended-retention-minutes=5 */
  guint metadata_ttl_seconds;     /* metadata-ttl-seconds=30 */
  guint max_chunk_bytes;          /* max-chunk-bytes=1048576 */
  guint max_metadata_bytes;       /* max-metadata-bytes=5242880 */
  double audio_rate;              /* audio-rate=12 (token bucket refill, per second) */
  guint audio_burst;              /* audio-burst=12 */
  double metadata_rate;           /* metadata-rate=2 */
  guint metadata_burst;           /* metadata-burst=4 */
  guint opus_bitrate;             /* opus-bitrate=96000 */

  /* [music] (see echo-music-pool.h for what the limits do) */
  guint music_max_sessions;       /* max-sessions=1000 */
  guint music_max_queue_items;    /* max-queue-items=500 */
  guint music_history_limit;      /* history-limit=100 */
  guint music_start_lead_ms;      /* start-lead-ms=750 */
  guint music_flush_interval_ms;  /* flush-interval-ms=50 */
  double music_resolve_rate;      /* resolve-rate=2 (per user, per second) */
  guint music_resolve_burst;      /* resolve-burst=5 */
  double music_upload_rate;       /* upload-rate=1 */
  guint music_upload_burst;       /* upload-burst=3 */
  double music_queue_rate;        /* queue-rate=10 */
  guint music_queue_burst;        /* queue-burst=20 */
  double music_control_rate;      /* control-rate=10 */
  guint music_control_burst;      /* control-burst=20 */
  guint music_max_upload_bytes;   /* max-upload-bytes=52428800 */
  guint music_upload_ttl_seconds; /* upload-url-ttl-seconds=900 */
  guint music_sync_ping_seconds;  /* sync-ping-seconds=5 */
  guint music_seek_ms;            /* seek-threshold-ms=500 */
  guint music_resync_ms;          /* resync-threshold-ms=3000 */
  char *music_receiver_token;     /* receiver-token= : echosyncsrc token= of music relays */

  /* [resolver] ("" for a base URL: the provider's real one) */
  char *youtube_api_key;          /* youtube-api-key= (YOUTUBE_API_KEY) */
  char *youtube_api_base;         /* youtube-api-base= */
  char *youtube_oembed_base;      /* youtube-oembed-base= */
  char *spotify_client_id;        /* spotify-client-id= (SPOTIFY_CLIENT_ID) */
  char *spotify_client_secret;    /* spotify-client-secret= (SPOTIFY_CLIENT_SECRET) */
  char *spotify_api_base;         /* spotify-api-base= */
  char *spotify_accounts_base;    /* spotify-accounts-base= */
  char *spotify_oembed_base;      /* spotify-oembed-base= */
  char *apple_music_token;        /* apple-music-token= (APPLE_MUSIC_TOKEN) */
  char *apple_music_base;         /* apple-music-base= */
  char *soundcloud_oembed_base;   /* soundcloud-oembed-base= */
  char **http_audio_hosts;        /* http-audio-hosts= (';'-separated; "*.example.com") */
  guint resolver_timeout_ms;      /* timeout-ms=8000 */
  guint resolver_max_playlist_tracks; /* max-playlist-tracks=100 */
  gboolean resolver_allow_private;    /* allow-private=false (tests on loopback only) */

  /* [storage] */
  char *data_dir;           /* data-dir=/var/lib/echo (ECHO_DATA_DIR) */
  char *database_url;       /* database-url= (DATABASE_URL); "" = file store in data_dir */

  /* [pipelines] */
  char *pipelines_dir;      /* dir=<datadir>/echo/pipelines (ECHO_PIPELINES_DIR) */

  /* [discovery] */
  gboolean discovery_enabled; /* enabled=true */
  char *discovery_name;       /* name=echod on %h (%h: Avahi puts the host name there) */

  /* [radio]: Icecast-style source input and listener output (orchestrator/radio) */
  char *radio_source_password;    /* source-password= (ECHO_RADIO_SOURCE_PASSWORD); "" = only
                                   * mounts named in mount-passwords take sources */
  char *radio_mount_passwords;    /* mount-passwords= "/live:pw1;/other:pw2" (secret) */
  char *radio_admin_user;         /* admin-user=admin */
  char *radio_admin_password;     /* admin-password= (ECHO_RADIO_ADMIN_PASSWORD); "" = none */
  guint radio_max_listeners;      /* max-listeners=5000 (per mount) */
  guint radio_burst_bytes;        /* burst-bytes=65536 */
  guint radio_icy_metaint;        /* icy-metaint=0: derived per mount */
  guint radio_listener_max_lag_seconds; /* listener-max-lag-seconds=10 */
  guint radio_source_timeout_seconds;   /* source-timeout-seconds=10 */

  /* [log] */
  char *log_level;          /* level=info (LOG_LEVEL): error|warning|info|debug */

  /*< private >*/
  EchoConfigPrivate *priv;
} EchoConfig;

EchoConfig *echo_config_new_defaults (void);
void        echo_config_free (EchoConfig *cfg);

/* Applies a key file over cfg. On error cfg may be partly updated: discard it. */
gboolean echo_config_load_key_file (EchoConfig *cfg, const char *path, GError **error);

/* Applies the environment variables over cfg; envp NULL means g_get_environ(). Unset or empty
 * variables are ignored. */
gboolean echo_config_apply_environment (EchoConfig *cfg, const char *const *envp, GError **error);

/* Flags for the caller's GOptionContext: --config, --address, --port, --data-dir,
 * --database-url, --pipelines-dir, --log-level, --no-discovery, --bearer-token-file and
 * --set GROUP.KEY=VALUE (any key-file setting). Parsing only records them; cfg must outlive the
 * group. Then call echo_config_finish(). */
GOptionGroup *echo_config_option_group (EchoConfig *cfg);

/* After the options were parsed: loads the --config file (if one was given), applies the
 * environment (envp as above), then the recorded flags. */
gboolean echo_config_finish (EchoConfig *cfg, const char *const *envp, GError **error);

/* The whole sequence for a program whose only options are the configuration's: defaults,
 * parse argv (removing what it consumed), key file, environment, flags. */
EchoConfig *echo_config_load (int *argc, char ***argv, GError **error);

/* The key file given with --config, or NULL. */
const char *echo_config_get_path (EchoConfig *cfg);

/* One line for the log, "server.address=127.0.0.1 server.port=5000 ... auth.bearer-token=(set)":
 * secrets read "(set)" or "(unset)", a database URL's password "(set)". */
char *echo_config_describe (EchoConfig *cfg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoConfig, echo_config_free)

G_END_DECLS
