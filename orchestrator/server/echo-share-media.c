/* echo-share-media.c: share sessions' media pipelines; see echo-share-media.h.
 *
 * Each session gets an internal listener (is_receiver FALSE: it neither counts as a
 * listener nor marks chunks delivered). Its first audio chunk builds the pipeline; its
 * ended callback, or the listener's removal, tears it down.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-share-media.h"

#include <string.h>

#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-share-pipeline.h"

struct _EchoShareMedia {
  EchoSharePool *pool;        /* a reference */
  EchoPipelineFactory *factory;
  const EchoConfig *config;
  GHashTable *sessions;       /* session id -> SessionMedia* (owned by its listener) */
  gulong started_handler;
};

typedef struct {
  EchoShareMedia *media;
  EchoShareSession *session; /* not a reference: the listener lives no longer than it */
  char *session_id;
  guint listener_id;
  EchoSharePipeline *pipeline;
  gboolean restarted;         /* the one rebuild was used */
  gboolean given_up;          /* failed for good: the session carries on without one */
} SessionMedia;

static void
session_media_free (gpointer data)
{
  SessionMedia *sm = data;

  g_clear_pointer (&sm->pipeline, echo_share_pipeline_free);
  if (sm->media != NULL && g_hash_table_lookup (sm->media->sessions, sm->session_id) == sm)
    g_hash_table_remove (sm->media->sessions, sm->session_id);
  g_free (sm->session_id);
  g_free (sm);
}

static void
give_up (SessionMedia *sm)
{
  g_clear_pointer (&sm->pipeline, echo_share_pipeline_free);
  sm->given_up = TRUE;
  echo_log_event (G_LOG_LEVEL_WARNING, sm->session_id, NULL, 0,
      "the session's media pipeline failed again: it carries on without one "
      "(no echosyncsrc relay, no Opus)");
}

static void
on_opus (EchoSharePipeline *pipeline, const guint8 *packet, gsize len, guint frames,
    gint64 timestamp_ms, gpointer data)
{
  SessionMedia *sm = data;

  echo_share_session_push_opus (sm->session, packet, len, frames, timestamp_ms);
}

static void
on_pipeline_error (EchoSharePipeline *pipeline, const GError *error, gpointer data)
{
  SessionMedia *sm = data;
  g_autoptr (GError) restart_error = NULL;

  echo_metric_inc (echo_front_metrics ()->pipeline_errors, NULL);
  echo_log_event (G_LOG_LEVEL_WARNING, sm->session_id, NULL, 0,
      "media pipeline error: %s", error->message);
  if (sm->restarted) {
    give_up (sm);
    return;
  }
  sm->restarted = TRUE;
  if (!echo_share_pipeline_restart (pipeline, &restart_error)) {
    echo_metric_inc (echo_front_metrics ()->pipeline_errors, NULL);
    echo_log_event (G_LOG_LEVEL_WARNING, sm->session_id, NULL, 0,
        "media pipeline restart failed: %s", restart_error->message);
    give_up (sm);
    return;
  }
  echo_log_event (G_LOG_LEVEL_INFO, sm->session_id, NULL, 0,
      "media pipeline restarted (relay port %u)", echo_share_pipeline_get_port (pipeline));
}

/* The relay's token: the share bearer token without its scheme word. */
static const char *
relay_token (const EchoConfig *config)
{
  const char *token = config->bearer_token;

  if (g_ascii_strncasecmp (token, "Bearer ", 7) == 0)
    token += 7;
  return token[0] != '\0' ? token : NULL;
}

static gboolean
build_pipeline (SessionMedia *sm)
{
  const EchoConfig *config = sm->media->config;
  EchoSharePipelineOptions options = ECHO_SHARE_PIPELINE_OPTIONS_DEFAULT;
  g_autoptr (GError) error = NULL;
  guint rate = 0, channels = 0;

  if (!echo_share_session_get_format (sm->session, &rate, &channels))
    return FALSE;
  options.opus_bitrate = config->opus_bitrate;
  options.announce = config->discovery_enabled;
  options.token = relay_token (config);

  sm->pipeline = echo_share_pipeline_new (sm->media->factory, sm->session_id, rate, channels,
      &options, &error);
  if (sm->pipeline == NULL) {
    echo_metric_inc (echo_front_metrics ()->pipeline_errors, NULL);
    echo_log_event (G_LOG_LEVEL_WARNING, sm->session_id, NULL, 0,
        "cannot start the session's media pipeline: %s", error->message);
    /* one more attempt with the next chunk, then never again */
    if (sm->restarted)
      sm->given_up = TRUE;
    sm->restarted = TRUE;
    return FALSE;
  }
  echo_share_pipeline_set_callbacks (sm->pipeline, on_opus, on_pipeline_error, sm, NULL);
  echo_log_event (G_LOG_LEVEL_INFO, sm->session_id, NULL, 0,
      "media pipeline running: %u Hz, %u channels, relay on UDP port %u", rate, channels,
      echo_share_pipeline_get_port (sm->pipeline));
  return TRUE;
}

/* The chunk's "timestamp" (the sharer's clock), read from its reply object: the member
 * comes after the base64 data, which holds no quotes, so its last occurrence is it. */
static gint64
chunk_timestamp (const char *chunk_json)
{
  static const char key[] = "\"timestamp\":";
  const char *at = g_strrstr (chunk_json, key);

  return at != NULL ? g_ascii_strtoll (at + strlen (key), NULL, 10) : 0;
}

static void
on_audio_chunk (EchoShareSession *session, const float *samples, guint n_frames,
    const char *chunk_json, gpointer data)
{
  SessionMedia *sm = data;

  if (sm->given_up)
    return;
  if (sm->pipeline == NULL && !build_pipeline (sm))
    return;
  /* FALSE while it is failing or restarting: the error callback decides what follows */
  echo_share_pipeline_push (sm->pipeline, samples, n_frames, chunk_timestamp (chunk_json));
}

static void
on_ended (EchoShareSession *session, const char *reason, gint64 ended_at_ms, gpointer data)
{
  SessionMedia *sm = data;

  g_clear_pointer (&sm->pipeline, echo_share_pipeline_free);
}

static void
on_session_started (EchoSharePool *pool, EchoShareSession *session, gpointer data)
{
  EchoShareMedia *media = data;
  static const EchoShareListenerCallbacks callbacks = {
    .audio_chunk = on_audio_chunk,
    .ended = on_ended,
    .is_receiver = FALSE,
  };
  SessionMedia *sm = g_new0 (SessionMedia, 1);

  sm->media = media;
  sm->session = session;
  sm->session_id = g_strdup (echo_share_session_get_id (session));
  sm->listener_id = echo_share_session_add_listener (session, &callbacks, sm,
      session_media_free);
  if (sm->listener_id == 0) {
    sm->media = NULL;
    session_media_free (sm);
    return;
  }
  g_hash_table_replace (media->sessions, g_strdup (sm->session_id), sm);
}

EchoShareMedia *
echo_share_media_new (EchoSharePool *pool, EchoPipelineFactory *factory,
    const EchoConfig *config)
{
  EchoShareMedia *media = g_new0 (EchoShareMedia, 1);

  media->pool = g_object_ref (pool);
  media->factory = factory;
  media->config = config;
  media->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  media->started_handler = g_signal_connect (pool, "session-started",
      G_CALLBACK (on_session_started), media);
  return media;
}

void
echo_share_media_free (EchoShareMedia *media)
{
  GHashTableIter iter;
  gpointer value;

  if (media == NULL)
    return;
  g_signal_handler_disconnect (media->pool, media->started_handler);
  /* detach every listener; their destroy notify frees the pipelines */
  while (g_hash_table_size (media->sessions) > 0) {
    SessionMedia *sm;

    g_hash_table_iter_init (&iter, media->sessions);
    g_hash_table_iter_next (&iter, NULL, &value);
    sm = value;
    g_hash_table_iter_remove (&iter);
    sm->media = NULL;
    echo_share_session_remove_listener (sm->session, sm->listener_id);
  }
  g_hash_table_unref (media->sessions);
  g_object_unref (media->pool);
  g_free (media);
}

guint16
echo_share_media_get_sync_port (EchoShareMedia *media, const char *session_id)
{
  SessionMedia *sm = g_hash_table_lookup (media->sessions, session_id);

  return sm != NULL && sm->pipeline != NULL ? echo_share_pipeline_get_port (sm->pipeline) : 0;
}

guint
echo_share_media_get_pipeline_count (EchoShareMedia *media)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, media->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (((SessionMedia *) value)->pipeline != NULL)
      n++;
  }
  return n;
}
