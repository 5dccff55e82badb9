/* echo-share-media.c: share sessions' media pipelines; see echo-share-media.h.
 *
 * Each session gets an internal listener (is_receiver FALSE: it neither counts as a
 * listener nor marks chunks delivered). Its first audio chunk builds the pipeline; its
 * ended callback, or the listener's removal, tears it down.
 *
 * The Opus gate: each session remembers its WebSocket holds and its last Opus poll, and
 * sets its pipeline's valve from them whenever either changes (and right after the
 * pipeline is built). Polls expire by time, so while any gate is open for polls a 1 s
 * timer looks again; a gate closes 5 to 6 s after the last poll.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-share-media.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-front-metrics.h"
#include "echo-log.h"
#include "echo-share-pipeline.h"

struct _EchoShareMedia {
  EchoSharePool *pool;        /* a reference */
  EchoPipelineFactory *factory;
  const EchoConfig *config;
  GHashTable *sessions;       /* session id -> SessionMedia* (owned by its listener) */
  gulong started_handler;
  guint gate_timer;           /* while a gate is open for a poll */
  guint next_hold_id;
};

/* How often the gates opened by polls are looked at again. */
#define GATE_CHECK_SECONDS 1

typedef struct {
  EchoShareMedia *media;
  EchoShareSession *session; /* not a reference: the listener lives no longer than it */
  char *session_id;
  guint listener_id;
  EchoSharePipeline *pipeline;
  gboolean restarted;         /* the one rebuild was used */
  gboolean given_up;          /* failed for good: the session carries on without one */
  GHashTable *opus_holds;     /* of hold ids (WebSocket clients), NULL while none */
  gint64 opus_polled_us;      /* echo_clock_monotonic_us() of the last Opus poll, or 0 */
  gboolean opus_wanted;       /* what the gate was last set to */
} SessionMedia;

static void update_opus_count (EchoShareMedia *media);

static void
session_media_free (gpointer data)
{
  SessionMedia *sm = data;
  gboolean counted = sm->opus_wanted;

  g_clear_pointer (&sm->pipeline, echo_share_pipeline_free);
  g_clear_pointer (&sm->opus_holds, g_hash_table_unref);
  sm->opus_wanted = FALSE;
  if (sm->media != NULL && g_hash_table_lookup (sm->media->sessions, sm->session_id) == sm) {
    g_hash_table_remove (sm->media->sessions, sm->session_id);
    if (counted)
      update_opus_count (sm->media);
  }
  g_free (sm->session_id);
  g_free (sm);
}

/* --- the Opus gate --- */

static gboolean
opus_poll_live (SessionMedia *sm, gint64 now)
{
  return sm->opus_polled_us != 0 && now - sm->opus_polled_us < ECHO_SHARE_POLLER_WINDOW_US;
}

static void
update_opus_count (EchoShareMedia *media)
{
  echo_metric_set (echo_front_metrics ()->opus_sessions, NULL,
      echo_share_media_get_opus_count (media));
}

static gboolean check_gates (gpointer data);

/* Sets the session's gate from its demand; TRUE when the gate is open for a poll only
 * (the timer must come back to it). */
static gboolean
update_gate (SessionMedia *sm, gint64 now)
{
  gboolean held = sm->opus_holds != NULL && g_hash_table_size (sm->opus_holds) > 0;
  gboolean polled = opus_poll_live (sm, now);
  gboolean wanted = held || polled;

  if (sm->pipeline != NULL)
    echo_share_pipeline_set_opus_enabled (sm->pipeline, wanted);
  if (wanted != sm->opus_wanted) {
    sm->opus_wanted = wanted;
    echo_log_event (G_LOG_LEVEL_DEBUG, sm->session_id, NULL, 0, "Opus encoding %s (%s)",
        wanted ? "on" : "off", wanted ? (held ? "a WebSocket client" : "a poller") :
        "nobody asked for 5 s");
    update_opus_count (sm->media);
  }
  if (!polled)
    sm->opus_polled_us = 0;
  return polled && !held;
}

static void
arm_gate_timer (EchoShareMedia *media)
{
  if (media->gate_timer == 0)
    media->gate_timer = g_timeout_add_seconds (GATE_CHECK_SECONDS, check_gates, media);
}

static gboolean
check_gates (gpointer data)
{
  EchoShareMedia *media = data;
  gint64 now = echo_clock_monotonic_us ();
  GHashTableIter iter;
  gpointer value;
  gboolean again = FALSE;

  g_hash_table_iter_init (&iter, media->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (update_gate (value, now))
      again = TRUE;
  }
  if (again)
    return G_SOURCE_CONTINUE;
  media->gate_timer = 0;
  return G_SOURCE_REMOVE;
}

void
echo_share_media_poll_opus (EchoShareMedia *media, const char *session_id)
{
  SessionMedia *sm;

  g_return_if_fail (media != NULL);

  sm = g_hash_table_lookup (media->sessions, session_id);
  if (sm == NULL)
    return;
  sm->opus_polled_us = MAX (echo_clock_monotonic_us (), 1);
  if (update_gate (sm, sm->opus_polled_us))
    arm_gate_timer (media);
}

guint
echo_share_media_hold_opus (EchoShareMedia *media, const char *session_id)
{
  SessionMedia *sm;
  guint id;

  g_return_val_if_fail (media != NULL, 0);

  sm = g_hash_table_lookup (media->sessions, session_id);
  if (sm == NULL)
    return 0;
  if (sm->opus_holds == NULL)
    sm->opus_holds = g_hash_table_new (NULL, NULL);
  id = ++media->next_hold_id;
  if (id == 0)
    id = ++media->next_hold_id;
  g_hash_table_add (sm->opus_holds, GUINT_TO_POINTER (id));
  update_gate (sm, echo_clock_monotonic_us ());
  return id;
}

void
echo_share_media_release_opus (EchoShareMedia *media, const char *session_id, guint hold_id)
{
  SessionMedia *sm;

  g_return_if_fail (media != NULL);

  sm = g_hash_table_lookup (media->sessions, session_id);
  if (sm == NULL || sm->opus_holds == NULL ||
      !g_hash_table_remove (sm->opus_holds, GUINT_TO_POINTER (hold_id)))
    return;
  if (update_gate (sm, echo_clock_monotonic_us ()))
    arm_gate_timer (media);
}

gboolean
echo_share_media_get_opus_wanted (EchoShareMedia *media, const char *session_id)
{
  SessionMedia *sm;

  g_return_val_if_fail (media != NULL, FALSE);

  sm = g_hash_table_lookup (media->sessions, session_id);
  return sm != NULL && sm->opus_wanted;
}

guint
echo_share_media_get_opus_count (EchoShareMedia *media)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (media != NULL, 0);

  g_hash_table_iter_init (&iter, media->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (((SessionMedia *) value)->opus_wanted)
      n++;
  }
  return n;
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

  echo_metric_inc (echo_front_metrics ()->opus_packets, NULL);
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
  /* a poll or a WebSocket client may have asked before the first chunk */
  options.opus_enabled = sm->opus_wanted;

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

static void
on_audio_chunk (EchoShareSession *session, const float *samples, guint n_frames,
    gint64 timestamp, const char *chunk_json, gpointer data)
{
  SessionMedia *sm = data;

  if (sm->given_up)
    return;
  if (sm->pipeline == NULL && !build_pipeline (sm))
    return;
  /* FALSE while it is failing or restarting: the error callback decides what follows */
  echo_share_pipeline_push (sm->pipeline, samples, n_frames, timestamp);
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
  g_clear_handle_id (&media->gate_timer, g_source_remove);
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
