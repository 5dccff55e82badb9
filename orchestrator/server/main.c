/* main.c: echod, Echo's daemon.
 *
 *   echod [--config FILE] [--port N] [...]    serve (see echod --help)
 *   echod token --sub USER --role R [--role R2] [--ttl SECONDS]
 *                                            print a JWT signed with [auth] jwt-secret
 *
 * Start-up order: configuration, logging, store, pipeline templates, share sessions
 * (restored from the store), HTTP server, mDNS. The first stdout line is
 * "echod: listening on http://ADDR:PORT" (the real port when --port 0), printed once
 * requests are served. Exit status: 0 after SIGINT/SIGTERM, 1 for a runtime failure
 * (the store or the port is unavailable), 2 for bad configuration or pipeline templates.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include <glib.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "echo-auth.h"
#include "echo-config.h"
#include "echo-daemon-discovery.h"
#include "echo-log.h"
#include "echo-metrics.h"
#include "echo-music-api.h"
#include "echo-music-pool.h"
#include "echo-resolver.h"
#include "echo-pipeline-factory.h"
#include "echo-poll-pacer.h"
#include "echo-radio-api.h"
#include "echo-radio-http.h"
#include "echo-radio-mounts.h"
#include "echo-server.h"
#include "echo-share-api.h"
#include "echo-share-media.h"
#include "echo-share-pool.h"
#include "echo-store.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG 2

/* --- echod token --- */

static int
run_token (int argc, char **argv)
{
  g_autoptr (EchoConfig) config = echo_config_new_defaults ();
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) claims = NULL;
  g_autofree char *sub = NULL;
  g_auto (GStrv) roles = NULL;
  g_autofree char *token = NULL;
  gint64 ttl = 3600;
  gboolean secret_from_config = FALSE;
  GOptionEntry entries[] = {
    { "sub", 0, 0, G_OPTION_ARG_STRING, &sub, "The user id (JWT sub claim)", "USER" },
    { "role", 0, 0, G_OPTION_ARG_STRING_ARRAY, &roles, "A role (repeatable)", "ROLE" },
    { "ttl", 0, 0, G_OPTION_ARG_INT64, &ttl, "Lifetime in seconds (0: no expiry)",
      "SECONDS" },
    { "secret-from-config", 0, 0, G_OPTION_ARG_NONE, &secret_from_config,
      "Sign with [auth] jwt-secret (the only source; accepted for clarity)", NULL },
    { NULL }
  };

  context = g_option_context_new ("- print a user token (JWT HS256) signed with the "
      "configured jwt-secret");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, echo_config_option_group (config));
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      !echo_config_finish (config, NULL, &error)) {
    g_printerr ("echod token: %s\n", error->message);
    return EXIT_CONFIG;
  }
  if (sub == NULL || sub[0] == '\0') {
    g_printerr ("echod token: --sub USER is required\n");
    return EXIT_CONFIG;
  }
  if (ttl < 0) {
    g_printerr ("echod token: --ttl must be >= 0\n");
    return EXIT_CONFIG;
  }
  if (config->jwt_secret[0] == '\0') {
    g_printerr ("echod token: no [auth] jwt-secret configured (key file, or ECHO_JWT_SECRET)\n");
    return EXIT_CONFIG;
  }

  claims = echo_jwt_claims_new (sub, (const char *const *) roles, ttl);
  token = echo_jwt_sign (config->jwt_secret, claims);
  g_print ("%s\n", token);
  return 0;
}

/* --- the daemon --- */

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static void
limits_from_config (const EchoConfig *config, EchoShareLimits *limits)
{
  echo_share_limits_init_defaults (limits);
  limits->max_sessions = config->max_sessions;
  limits->audio_buffer_seconds = config->audio_buffer_seconds;
  limits->session_timeout_minutes = config->session_timeout_minutes;
  limits->ended_retention_minutes = config->ended_retention_minutes;
  limits->metadata_ttl_seconds = config->metadata_ttl_seconds;
  limits->max_chunk_bytes = config->max_chunk_bytes;
  limits->max_metadata_bytes = config->max_metadata_bytes;
  limits->audio_rate = config->audio_rate;
  limits->audio_burst = config->audio_burst;
  limits->metadata_rate = config->metadata_rate;
  limits->metadata_burst = config->metadata_burst;
}

/* The share figures of /metrics, read from the pool when scraped (main thread: /metrics
 * is served there). */
typedef enum {
  POOL_SESSIONS,
  POOL_LISTENERS,
  POOL_BYTES_IN,
  POOL_BYTES_OUT,
  POOL_OVERFLOWS,
} PoolFigure;

typedef struct {
  EchoSharePool *pool;
  PoolFigure figure;
} PoolMetric;

static double
pool_metric_value (gpointer data)
{
  PoolMetric *metric = data;
  EchoSharePoolStats stats;

  echo_share_pool_get_stats (metric->pool, &stats);
  switch (metric->figure) {
    case POOL_SESSIONS:
      return stats.active_sessions;
    case POOL_LISTENERS:
      return stats.listeners;
    case POOL_BYTES_IN:
      return (double) stats.audio_bytes_in;
    case POOL_BYTES_OUT:
      return (double) stats.audio_bytes_out;
    case POOL_OVERFLOWS:
      return (double) stats.buffer_overflows;
  }
  return 0;
}

static void
register_pool_metrics (EchoSharePool *pool)
{
  static const struct {
    const char *name;
    const char *help;
    PoolFigure figure;
    gboolean counter;
  } figures[] = {
    { "echo_share_sessions", "Active share sessions", POOL_SESSIONS, FALSE },
    { "echo_share_listeners", "Receivers of active share sessions (WebSocket clients and "
          "pollers seen in the last 5 s)", POOL_LISTENERS, FALSE },
    { "echo_share_audio_bytes_in_total", "Decoded audio bytes accepted from sharers",
      POOL_BYTES_IN, TRUE },
    { "echo_share_audio_bytes_out_total", "Audio reply bytes sent to receivers",
      POOL_BYTES_OUT, TRUE },
    { "echo_share_buffer_overflows_total", "Chunks evicted from a ring before any receiver "
          "read them", POOL_OVERFLOWS, TRUE },
  };
  EchoMetrics *registry = echo_metrics_default ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (figures); i++) {
    PoolMetric *metric = g_new0 (PoolMetric, 1);

    metric->pool = pool;
    metric->figure = figures[i].figure;
    if (figures[i].counter)
      echo_metrics_counter_func (registry, figures[i].name, figures[i].help,
          pool_metric_value, metric, g_free);
    else
      echo_metrics_gauge_func (registry, figures[i].name, figures[i].help,
          pool_metric_value, metric, g_free);
  }
}

static int
run_daemon (int argc, char **argv)
{
  g_autoptr (EchoConfig) config = echo_config_new_defaults ();
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoStore) store = NULL;
  g_autoptr (EchoPipelineFactory) factory = NULL;
  g_autoptr (EchoSharePool) pool = NULL;
  g_autoptr (EchoShareMedia) media = NULL;
  g_autoptr (EchoServer) server = NULL;
  g_autoptr (EchoShareApi) api = NULL;
  g_autoptr (EchoMusicPool) music_pool = NULL;
  g_autoptr (EchoResolver) resolver = NULL;
  g_autoptr (EchoMusicApi) music_api = NULL;
  EchoResolverConfig resolver_config;
  EchoMusicLimits music_limits;
  g_autoptr (EchoRadioMounts) radio_mounts = NULL;
  g_autoptr (EchoRadioHttp) radio_http = NULL;
  g_autoptr (EchoRadioApi) radio_api = NULL;
  g_autoptr (EchoDaemonDiscovery) discovery = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *described = NULL;
  g_autofree char *base_url = NULL;
  EchoShareLimits limits;
  gboolean version = FALSE;
  guint sigint, sigterm;
  GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  context = g_option_context_new ("- Echo's daemon: the Music Share API and session "
      "pipelines");
  g_option_context_set_description (context,
      "Subcommands:\n  echod token --sub USER --role ROLE [--ttl SECONDS]   print a user "
      "token (see echod token --help)\n\nSettings: built-in defaults < --config FILE < "
      "environment < flags.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, echo_config_option_group (config));
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_CONFIG;
  }
  if (version) {
    g_print ("echod %s\n", VERSION);
    return 0;
  }
  if (argc > 1) {
    g_printerr ("echod: unexpected argument '%s' (see echod --help)\n", argv[1]);
    return EXIT_CONFIG;
  }
  if (!echo_config_finish (config, NULL, &error)) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_CONFIG;
  }
  if (!echo_log_init (config->log_level, &error)) {
    g_printerr ("echod: [log] level: %s\n", error->message);
    return EXIT_CONFIG;
  }
  described = echo_config_describe (config);
  echo_log_event (G_LOG_LEVEL_INFO, NULL, NULL, 0, "echod %s starting: %s", VERSION, described);
  if (config->bearer_token[0] == '\0')
    g_warning ("no [auth] bearer-token configured (BEARER_TOKEN): every /api/share request "
        "will be refused with 401");

  server = echo_server_new (config, &error);
  if (server == NULL) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_CONFIG;
  }

  store = echo_store_open (config->data_dir, config->database_url, &error);
  if (store == NULL) {
    g_printerr ("echod: cannot open the store: %s\n", error->message);
    return g_error_matches (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID) ?
        EXIT_CONFIG : EXIT_RUNTIME;
  }
  echo_log_event (G_LOG_LEVEL_INFO, NULL, NULL, 0, "store: %s (schema version %d)",
      echo_store_backend_name (store), echo_store_schema_version (store));

  factory = echo_pipeline_factory_new (config->pipelines_dir, &error);
  if (factory == NULL) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_CONFIG;
  }

  limits_from_config (config, &limits);
  pool = echo_share_pool_new (&limits, store);
  /* before restoring, so restored sessions get their pipelines too */
  media = echo_share_media_new (pool, factory, config);
  if (!echo_share_pool_restore (pool, &error)) {
    g_printerr ("echod: cannot restore the share sessions: %s\n", error->message);
    return EXIT_RUNTIME;
  }
  register_pool_metrics (pool);

  api = echo_share_api_new (server, pool, media, config);

  echo_music_api_limits (config, &music_limits);
  music_pool = echo_music_pool_new (store, &music_limits, &error);
  if (music_pool == NULL) {
    g_printerr ("echod: cannot restore the music sessions: %s\n", error->message);
    return EXIT_RUNTIME;
  }
  echo_music_api_resolver_config (config, &resolver_config);
  resolver = echo_resolver_new (&resolver_config, &error);
  if (resolver == NULL) {
    g_printerr ("echod: [resolver]: %s\n", error->message);
    return EXIT_CONFIG;
  }
  music_api = echo_music_api_new (server, music_pool, resolver, factory, config, &error);
  if (music_api == NULL) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_RUNTIME;
  }
  radio_mounts = echo_radio_mounts_new (config);
  echo_radio_mounts_register_metrics (radio_mounts, echo_metrics_default ());
  radio_http = echo_radio_http_new (server, radio_mounts, config);
  radio_api = echo_radio_api_new (server, store, factory, radio_mounts, music_api, config,
      &error);
  if (radio_api == NULL) {
    g_printerr ("echod: cannot restore the radio stations: %s\n", error->message);
    return EXIT_RUNTIME;
  }
  if (!echo_server_listen (server, &error)) {
    g_printerr ("echod: %s\n", error->message);
    return EXIT_RUNTIME;
  }
  if (config->discovery_enabled)
    discovery = echo_daemon_discovery_new (config->discovery_name,
        echo_server_get_port (server), VERSION);

  /* the first line is what scripts and the test harness wait for */
  base_url = g_strdup_printf (strchr (echo_server_get_address (server), ':') != NULL ?
      "http://[%s]:%u" : "http://%s:%u", echo_server_get_address (server),
      echo_server_get_port (server));
  g_print ("echod: listening on %s\n", base_url);
  g_print ("echod: Music Share API at %s/api/share (Authorization: %s), health at /health, "
      "music API at /api/music, radio at /api/radio and /radio/<mount>, metrics at /metrics\n", base_url, config->bearer_token[0] != '\0' ?
      "the bearer token as configured" : "none configured: set BEARER_TOKEN");
  fflush (stdout);
  echo_log_event (G_LOG_LEVEL_INFO, NULL, NULL, 0, "listening on %s:%u, %u share sessions "
      "restored", echo_server_get_address (server), echo_server_get_port (server),
      echo_share_pool_get_active_count (pool));

  echo_poll_pacer_install (NULL, config->poll_interval_us);
  loop = g_main_loop_new (NULL, FALSE);
  sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  echo_log_event (G_LOG_LEVEL_INFO, NULL, NULL, 0, "shutting down");
  /* stop taking requests, close the receivers, tear the pipelines down, then let the
   * pool write what changed and close the store (in this order: g_autoptr would free
   * them in reverse declaration order, which is the same) */
  g_clear_pointer (&discovery, echo_daemon_discovery_free);
  echo_server_stop (server);
  /* the radio API observes the mounts and hooks into the music API: it goes first */
  g_clear_pointer (&radio_api, echo_radio_api_free);
  g_clear_pointer (&radio_http, echo_radio_http_free);
  g_clear_pointer (&radio_mounts, echo_radio_mounts_free);
  g_clear_pointer (&api, echo_share_api_free);
  g_clear_pointer (&music_api, echo_music_api_free);
  g_clear_pointer (&music_pool, echo_music_pool_free);
  g_clear_object (&resolver);
  g_clear_pointer (&media, echo_share_media_free);
  g_clear_object (&pool);
  g_clear_pointer (&server, echo_server_free);
  g_clear_pointer (&store, echo_store_free);
  g_clear_pointer (&factory, echo_pipeline_factory_free);
  gst_deinit ();
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc > 1 && strcmp (argv[1], "token") == 0)
    return run_token (argc - 1, argv + 1);
  return run_daemon (argc, argv);
}
