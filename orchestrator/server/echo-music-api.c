/* The music API: REST routes, WebSocket events, players and deadlines (see echo-music-api.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-music-api.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "echo-clock.h"
#include "echo-log.h"
#include "echo-media-probe.h"
#include "echo-music-error.h"
#include "echo-music-hub.h"
#include "echo-music-id.h"
#include "echo-music-json.h"
#include "echo-music-player.h"
#include "echo-music-sync.h"
#include "echo-signed-url.h"
#include "echo-store.h"

#define PREFIX "/api/music"
/* command bodies are small: ids, numbers, a URL */
#define COMMAND_BODY_LIMIT (16 * 1024)
#define MAX_URL_LENGTH 2048
#define MAX_FILENAME_LENGTH 255
#define MAX_TRACKS_PER_ADD 100
#define MAX_ROLES 16
#define DEFAULT_HISTORY 20
#define DEFAULT_TOP 5
#define MAX_TOP 50
/* A heartbeat measured within this long after the timeline changed (a pause, seek, skip,
 * a new track) may have been measured before its client heard of the change: it is not
 * judged, the next one is. Events reach a LAN's clients in tens of ms; heartbeats come
 * every few seconds. */
#define HEARTBEAT_SETTLE_MS 1000
/* the rate-limit key of the host application acting as itself */
#define HOST_KEY "@host"

struct _EchoMusicApi {
  EchoServer *server;
  EchoMusicPool *pool;
  EchoResolver *resolver;
  EchoPipelineFactory *factory;
  const EchoConfig *config;
  EchoMusicHub *hub;
  EchoMusicSyncThresholds thresholds;
  char *uploads_dir;
  char *upload_secret;        /* signs upload URLs; per process, as uploads in flight are */
  GHashTable *uploads;        /* upload id -> PendingUpload* */
  GHashTable *runtimes;       /* session id -> Runtime* */
  GCancellable *cancellable;  /* resolutions and probes in flight */
  guint sync_ping_source;
  GQueue late_failures;       /* of LateFailure*: see fail_later () */
  EchoMusicPlayHook play_hook;
  gpointer play_hook_data;
  guint late_source;
};

/* What a session has besides its state: its player, its deadline timer and the events not
 * yet sent. */
typedef struct {
  EchoMusicApi *api;
  char *session_id;
  EchoMusicChange pending;    /* changes whose events wait for flush_events () */
  guint flush_source;
  EchoMusicQueueMark *queue_mark;   /* the queue as the last queue event showed it */
  guint64 queue_version;      /* the session version of that event */
  gint64 timeline_at_ms;      /* when the state or the current item last changed */
  EchoMusicPlayer *player;    /* made when a server-side track first plays */
  char *player_item;          /* the item the player plays (or NULL) */
  char *player_next;          /* the item it will join without a gap (or NULL) */
  char *deadline_item;
  gint64 deadline_ms;
  guint deadline_source;
} Runtime;

typedef struct {
  char *upload_id;
  char *track_id;
  gint64 expires_ms;
  gboolean busy;              /* its bytes are being probed */
} PendingUpload;

static void apply_change (EchoMusicApi *api, EchoMusicSession *session,
    EchoMusicChange changed, gboolean seeked);

/* --- small helpers --- */

static void
runtime_free (gpointer data)
{
  Runtime *rt = data;

  g_clear_handle_id (&rt->deadline_source, g_source_remove);
  g_clear_handle_id (&rt->flush_source, g_source_remove);
  g_clear_pointer (&rt->queue_mark, echo_music_queue_mark_free);
  g_clear_pointer (&rt->player, echo_music_player_free);
  g_free (rt->player_item);
  g_free (rt->player_next);
  g_free (rt->deadline_item);
  g_free (rt->session_id);
  g_free (rt);
}

static Runtime *
runtime_get (EchoMusicApi *api, EchoMusicSession *session)
{
  const char *id = echo_music_session_get_id (session);
  Runtime *rt = g_hash_table_lookup (api->runtimes, id);

  if (rt == NULL) {
    rt = g_new0 (Runtime, 1);
    rt->api = api;
    rt->session_id = g_strdup (id);
    g_hash_table_insert (api->runtimes, rt->session_id, rt);
  }
  return rt;
}

static void
pending_upload_free (gpointer data)
{
  PendingUpload *upload = data;

  g_free (upload->upload_id);
  g_free (upload->track_id);
  g_free (upload);
}

static void
actor_of (EchoRequest *request, EchoMusicActor *actor)
{
  const EchoIdentity *identity = echo_request_get_identity (request);

  actor->user = identity->user;
  actor->roles = (const char *const *) identity->roles;
  /* the host application acting for a user is held to that user's rights */
  actor->service = echo_identity_is_host (identity);
}

/* The host application acting as itself (not for an X-Echo-User, whose rights it then has). */

static const char *
rate_key (EchoRequest *request)
{
  const EchoIdentity *identity = echo_request_get_identity (request);

  return identity->user != NULL ? identity->user : HOST_KEY;
}

static void
reply_error (EchoRequest *request, const GError *error)
{
  if (error->domain == ECHO_MUSIC_ERROR) {
    echo_request_reply_error (request, echo_music_error_status (error->code),
        echo_music_error_code_name (error->code), error->message, NULL);
  } else if (error->domain == ECHO_STORE_ERROR) {
    echo_request_reply_error (request, SOUP_STATUS_SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE",
        error->message, NULL);
  } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        error->message, NULL);
  } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    echo_request_reply_error (request, SOUP_STATUS_SERVICE_UNAVAILABLE, "SHUTTING_DOWN",
        "echod is shutting down", NULL);
  } else {
    echo_request_reply_error (request, SOUP_STATUS_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
        error->message, NULL);
  }
}

static gboolean
check_rate (EchoMusicApi *api, EchoRequest *request, EchoMusicRateKind kind)
{
  g_autoptr (GError) error = NULL;
  guint retry_after = 1;

  if (echo_music_pool_check_rate (api->pool, rate_key (request), kind,
          echo_clock_monotonic_us (), &retry_after, &error))
    return TRUE;
  {
    char text[16];

    g_snprintf (text, sizeof text, "%u", retry_after);
    echo_request_set_header (request, "Retry-After", text);
  }
  reply_error (request, error);
  return FALSE;
}

/* An optional integer member: FALSE with @error when present but wrong. */
static gboolean
optional_int (JsonObject *obj, const char *name, gint64 min, gint64 max, gboolean *present,
    gint64 *out, GError **error)
{
  *present = json_object_has_member (obj, name) &&
      !JSON_NODE_HOLDS_NULL (json_object_get_member (obj, name));
  return !*present || echo_music_json_get_int (obj, name, min, max, out, error);
}

/* A double-valued member given as a JSON number (integer or not). */
static gboolean
number_member (JsonObject *obj, const char *name, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  double value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_INT64 &&
          json_node_get_value_type (node) != G_TYPE_DOUBLE)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "%s must be a number",
        name);
    return FALSE;
  }
  value = json_node_get_double (node);
  if (!isfinite (value) || value < 0 || value > 1e12) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s must be a number of milliseconds >= 0", name);
    return FALSE;
  }
  *out = (gint64) llround (value);
  return TRUE;
}

/* The session named by the path, checked against the body's optional ifVersion. */
static EchoMusicSession *
path_session (EchoMusicApi *api, EchoRequest *request, JsonObject *body, GError **error)
{
  const char *id = echo_request_get_param (request, "id");
  EchoMusicSession *session;
  gboolean present;
  gint64 version = 0;

  echo_request_set_session (request, id);
  session = echo_music_pool_lookup (api->pool, id, error);
  if (session == NULL)
    return NULL;
  if (body != NULL) {
    if (!optional_int (body, "ifVersion", 0, G_MAXINT64, &present, &version, error))
      return NULL;
    if (present && !echo_music_session_check_version (session, (guint64) version, error))
      return NULL;
  }
  return session;
}

static JsonNode *
object_node (JsonObject *object)
{
  return json_node_init_object (json_node_alloc (), object);
}

/* --- what goes out --- */

static JsonNode *
session_fields (EchoMusicSession *session, gint64 now_ms)
{
  JsonNode *node = echo_music_session_to_json (session, now_ms);

  json_object_set_string_member (json_node_get_object (node), "sessionId",
      echo_music_session_get_id (session));
  return node;
}

/* "sessionId":..,"version":..,"queue":[...]: the members of a whole-queue message as text
 * (items' texts are cached, so this is mostly concatenation). */
static void
append_queue_members (GString *out, EchoMusicSession *session)
{
  g_autofree char *queue = echo_music_queue_to_json_text (echo_music_session_get_queue (session));

  g_string_append (out, "\"sessionId\":");
  echo_music_json_append_string (out, echo_music_session_get_id (session));
  g_string_append_printf (out, ",\"version\":%" G_GUINT64_FORMAT ",\"queue\":%s",
      echo_music_session_get_version (session), queue);
}

/* Replies @reply, an object's text (taken). */
static void
reply_text (EchoRequest *request, GString *reply)
{
  gsize len = reply->len;

  echo_request_reply_take (request, SOUP_STATUS_OK, g_string_free (reply, FALSE),
      (gssize) len);
}

static JsonNode *
now_playing_fields (EchoMusicSession *session, gint64 now_ms)
{
  EchoQueueItem *current = echo_music_session_get_current (session);
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "sessionId", echo_music_session_get_id (session));
  json_object_set_string_member (object, "serverId",
      echo_music_session_get_server_id (session));
  json_object_set_string_member (object, "state",
      echo_music_state_to_string (echo_music_session_get_state (session)));
  if (current != NULL) {
    json_object_set_string_member (object, "itemId", current->id);
    json_object_set_member (object, "track", echo_track_to_json (current->track));
    json_object_set_string_member (object, "addedById", current->added_by);
  } else {
    json_object_set_null_member (object, "itemId");
    json_object_set_null_member (object, "track");
  }
  if (echo_music_session_get_started_at_ms (session) != 0)
    json_object_set_int_member (object, "startedAt",
        echo_music_session_get_started_at_ms (session));
  else
    json_object_set_null_member (object, "startedAt");
  json_object_set_int_member (object, "offsetMs", echo_music_session_get_offset_ms (session));
  json_object_set_int_member (object, "serverTime", now_ms);
  return object_node (object);
}

/* The rooms of a session: SESSIONID gets every event but the queue's, SESSIONID#queue the
 * whole queue on each change (music:queue_updated, seed 000's event), SESSIONID#queue-delta
 * only what changed (music:queue_delta, see echo_music_queue_delta_text ()). */
static char *
queue_room (EchoMusicSession *session, gboolean delta)
{
  return g_strconcat (echo_music_session_get_id (session), delta ? "#queue-delta" : "#queue",
      NULL);
}

static void
send_event (EchoMusicApi *api, const char *room, const char *type, JsonNode *fields)
{
  echo_music_hub_broadcast (api->hub, room, type, fields);
  json_node_unref (fields);
}

static void
send_queue_events (EchoMusicApi *api, EchoMusicSession *session, Runtime *rt)
{
  EchoMusicQueue *queue = echo_music_session_get_queue (session);
  g_autofree char *full_room = queue_room (session, FALSE);
  g_autofree char *delta_room = queue_room (session, TRUE);
  guint64 version = echo_music_session_get_version (session);

  if (echo_music_hub_room_size (api->hub, full_room) > 0) {
    g_autoptr (GString) out = g_string_new ("{\"type\":\"music:queue_updated\",");

    append_queue_members (out, session);
    g_string_append_c (out, '}');
    echo_music_hub_broadcast_text (api->hub, full_room, out->str, out->len);
  }
  if (rt->queue_mark != NULL && echo_music_hub_room_size (api->hub, delta_room) > 0) {
    g_autofree char *delta = echo_music_queue_delta_text (queue, rt->queue_mark);
    g_autoptr (GString) out = g_string_new ("{\"type\":\"music:queue_delta\",\"sessionId\":");

    /* Nothing a client shows changed (an added item that started at once, a move to where
     * it was) yet the version moved on: an empty delta says so, so that a delta client's
     * version stays the one GET .../queue and the replies give, and a reply's version is
     * never waiting for the next change's event. */
    if (delta == NULL && version == rt->queue_version)
      return;
    echo_music_json_append_string (out, echo_music_session_get_id (session));
    g_string_append_printf (out, ",\"since\":%" G_GUINT64_FORMAT ",\"version\":%"
        G_GUINT64_FORMAT ",%s}", rt->queue_version, version,
        delta != NULL ? delta : "\"removed\":[],\"items\":[]");
    echo_music_hub_broadcast_text (api->hub, delta_room, out->str, out->len);
  }
  g_clear_pointer (&rt->queue_mark, echo_music_queue_mark_free);
  rt->queue_mark = echo_music_queue_mark_new (queue);
  rt->queue_version = version;
}

/* Sends the events of the changes made since the last flush, once each, with the state as
 * it is now: changes made within one main-loop turn (a burst of commands) go out as one
 * event per kind. */
static void
flush_events (EchoMusicApi *api, EchoMusicSession *session)
{
  Runtime *rt = g_hash_table_lookup (api->runtimes, echo_music_session_get_id (session));
  const char *room = echo_music_session_get_id (session);
  gint64 now = echo_clock_now_ms ();
  EchoMusicChange changed;

  if (rt == NULL || rt->pending == 0)
    return;
  changed = rt->pending;
  rt->pending = 0;
  g_clear_handle_id (&rt->flush_source, g_source_remove);
  if (changed & (ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_SETTINGS |
          ECHO_MUSIC_CHANGED_MEMBERS | ECHO_MUSIC_CHANGED_NOW_PLAYING))
    send_event (api, room, "music:session_state", session_fields (session, now));
  if (changed & ECHO_MUSIC_CHANGED_QUEUE)
    send_queue_events (api, session, rt);
  if (changed & ECHO_MUSIC_CHANGED_NOW_PLAYING) {
    g_autofree char *overlay = g_strconcat ("overlay:",
        echo_music_session_get_server_id (session), NULL);

    send_event (api, room, "music:now_playing", now_playing_fields (session, now));
    send_event (api, overlay, "overlay:now_playing", now_playing_fields (session, now));
  }
}

static gboolean
on_flush (gpointer data)
{
  Runtime *rt = data;
  EchoMusicSession *session = echo_music_pool_lookup (rt->api->pool, rt->session_id, NULL);

  rt->flush_source = 0;
  if (session != NULL)
    flush_events (rt->api, session);
  return G_SOURCE_REMOVE;
}

/* Any other event of a session goes out after the pending ones, so every client sees them
 * in the order they happened. */
static void
broadcast (EchoMusicApi *api, EchoMusicSession *session, const char *type, JsonNode *fields)
{
  flush_events (api, session);
  send_event (api, echo_music_session_get_id (session), type, fields);
}

static void
send_error_event (EchoMusicApi *api, EchoMusicSession *session, const char *code,
    const char *item_id, const char *message)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "sessionId", echo_music_session_get_id (session));
  json_object_set_string_member (object, "code", code);
  json_object_set_string_member (object, "error", message);
  if (item_id != NULL)
    json_object_set_string_member (object, "itemId", item_id);
  broadcast (api, session, "music:error", object_node (object));
}

/* --- players: server-side tracks --- */

static char *
track_uri (EchoMusicApi *api, const EchoTrack *track)
{
  g_autofree char *path = NULL;

  if (track->source == ECHO_TRACK_SOURCE_HTTP)
    return g_strdup (track->original_url[0] != '\0' ? track->original_url : track->source_id);
  if (track->uploaded_file == NULL)
    return NULL;
  path = g_build_filename (api->uploads_dir, track->uploaded_file, NULL);
  return g_filename_to_uri (path, NULL, NULL);
}

static gboolean
is_server_side (EchoQueueItem *item)
{
  return item != NULL && echo_track_source_is_server_side (item->track->source);
}

/* The player's events come back as session events, on the main loop. */
static void
on_player_started (EchoMusicPlayer *player, const char *item_id, gpointer data)
{
  Runtime *rt = data;
  EchoMusicSession *session = echo_music_pool_lookup (rt->api->pool, rt->session_id, NULL);

  if (session != NULL)
    apply_change (rt->api, session, echo_music_session_playback_started (session, item_id,
            echo_clock_now_ms ()), FALSE);
}

static void
on_player_ended (EchoMusicPlayer *player, const char *item_id, gpointer data)
{
  Runtime *rt = data;
  EchoMusicSession *session = echo_music_pool_lookup (rt->api->pool, rt->session_id, NULL);

  if (g_strcmp0 (rt->player_item, item_id) == 0)
    g_clear_pointer (&rt->player_item, g_free);
  if (session != NULL)
    apply_change (rt->api, session, echo_music_session_track_ended (session, item_id,
            echo_clock_now_ms ()), FALSE);
}

static void
player_failed (Runtime *rt, const char *item_id, const char *message)
{
  EchoMusicSession *session = echo_music_pool_lookup (rt->api->pool, rt->session_id, NULL);

  if (g_strcmp0 (rt->player_item, item_id) == 0)
    g_clear_pointer (&rt->player_item, g_free);
  if (g_strcmp0 (rt->player_next, item_id) == 0)
    g_clear_pointer (&rt->player_next, g_free);
  if (session == NULL)
    return;
  echo_log_event (G_LOG_LEVEL_WARNING, rt->session_id, NULL, 0, "item %s cannot play: %s",
      item_id, message);
  send_error_event (rt->api, session, "PLAYBACK_FAILED", item_id, message);
  apply_change (rt->api, session, echo_music_session_playback_failed (session, item_id,
          echo_clock_now_ms ()), FALSE);
}

static void
on_player_failed (EchoMusicPlayer *player, const char *item_id, const char *message,
    gpointer data)
{
  player_failed (data, item_id, message);
}

typedef struct {
  char *session_id;
  char *item_id;
  char *message;
} LateFailure;

static void
late_failure_free (gpointer data)
{
  LateFailure *failure = data;

  g_free (failure->session_id);
  g_free (failure->item_id);
  g_free (failure->message);
  g_free (failure);
}

static gboolean
report_late_failures (gpointer data)
{
  EchoMusicApi *api = data;
  LateFailure *failure;

  api->late_source = 0;
  while ((failure = g_queue_pop_head (&api->late_failures)) != NULL) {
    Runtime *rt = g_hash_table_lookup (api->runtimes, failure->session_id);

    if (rt != NULL)
      player_failed (rt, failure->item_id, failure->message);
    late_failure_free (failure);
  }
  return G_SOURCE_REMOVE;
}

/* A failure found while applying a change is reported from the main loop, as the
 * player's own are: applying it at once would recurse into the change being applied. */
static void
fail_later (Runtime *rt, const char *item_id, const char *message)
{
  EchoMusicApi *api = rt->api;
  LateFailure *failure = g_new0 (LateFailure, 1);

  failure->session_id = g_strdup (rt->session_id);
  failure->item_id = g_strdup (item_id);
  failure->message = g_strdup (message);
  g_queue_push_tail (&api->late_failures, failure);
  if (api->late_source == 0)
    api->late_source = g_idle_add (report_late_failures, api);
}

static gboolean
ensure_player (EchoMusicApi *api, Runtime *rt, GError **error)
{
  EchoMusicPlayerCallbacks callbacks = {
    on_player_started, on_player_ended, on_player_failed, rt
  };

  if (rt->player != NULL)
    return TRUE;
  rt->player = echo_music_player_new (api->factory, rt->session_id,
      api->config->music_receiver_token, api->config->discovery_enabled, &callbacks, error);
  if (rt->player != NULL)
    echo_log_event (G_LOG_LEVEL_INFO, rt->session_id, NULL, 0,
        "music player up: echosyncsrc session=%s port=%u", rt->session_id,
        echo_music_player_get_relay_port (rt->player));
  return rt->player != NULL;
}

/* The item that follows the current one when nothing changes, if the player can join it
 * ahead: not with loop ONE (the same item again) or shuffle (chosen when it comes). */
static EchoQueueItem *
gapless_next (EchoMusicSession *session)
{
  g_autoptr (GPtrArray) upcoming = NULL;

  if (echo_music_session_get_loop (session) == ECHO_LOOP_ONE ||
      echo_music_session_get_shuffle (session))
    return NULL;
  upcoming = echo_music_queue_upcoming (echo_music_session_get_queue (session));
  if (upcoming->len == 0 || !is_server_side (g_ptr_array_index (upcoming, 0)))
    return NULL;
  return g_ptr_array_index (upcoming, 0);
}

static void
player_play (EchoMusicApi *api, Runtime *rt, EchoQueueItem *item, gint64 start_ms)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = track_uri (api, item->track);

  if (uri == NULL) {
    fail_later (rt, item->id, "the upload has no file");
    return;
  }
  if (!ensure_player (api, rt, &error) ||
      !echo_music_player_play (rt->player, item->id, uri, MAX (start_ms, 0), &error)) {
    fail_later (rt, item->id, error->message);
    return;
  }
  g_free (rt->player_item);
  rt->player_item = g_strdup (item->id);
  g_clear_pointer (&rt->player_next, g_free);
}

/* Makes the player do what the session says. */
static void
sync_player (EchoMusicApi *api, EchoMusicSession *session, EchoMusicChange changed,
    gboolean seeked)
{
  EchoQueueItem *current = echo_music_session_get_current (session);
  EchoMusicState state = echo_music_session_get_state (session);
  Runtime *rt = g_hash_table_lookup (api->runtimes, echo_music_session_get_id (session));
  EchoQueueItem *next;

  if (!is_server_side (current)) {
    if (rt != NULL && rt->player != NULL && (rt->player_item != NULL || rt->player_next)) {
      echo_music_player_stop (rt->player);
      g_clear_pointer (&rt->player_item, g_free);
      g_clear_pointer (&rt->player_next, g_free);
    }
    return;
  }
  rt = runtime_get (api, session);
  if (state == ECHO_MUSIC_STATE_LOADING && (changed & ECHO_MUSIC_CHANGED_STATE)) {
    if (g_strcmp0 (rt->player_next, current->id) == 0 && !seeked) {
      /* joined without a gap: the player's started() follows */
      g_free (rt->player_item);
      rt->player_item = g_steal_pointer (&rt->player_next);
    } else {
      player_play (api, rt, current, echo_music_session_get_offset_ms (session));
    }
  } else if (g_strcmp0 (rt->player_item, current->id) != 0) {
    /* cued but not loaded (after a stop, or a restart): load it when it must sound */
    if (state == ECHO_MUSIC_STATE_PLAYING)
      player_play (api, rt, current, echo_music_session_get_position_ms (session,
              echo_clock_now_ms ()));
  } else if (changed & ECHO_MUSIC_CHANGED_STATE) {
    if (seeked && !echo_music_player_seek (rt->player,
            echo_music_session_get_offset_ms (session), NULL))
      player_play (api, rt, current, echo_music_session_get_offset_ms (session));
    if (state == ECHO_MUSIC_STATE_PAUSED)
      echo_music_player_pause (rt->player);
    else if (state == ECHO_MUSIC_STATE_PLAYING)
      echo_music_player_resume (rt->player);
  }
  if (rt->player == NULL)
    return;
  if (changed & ECHO_MUSIC_CHANGED_SETTINGS)
    echo_music_player_set_volume (rt->player, echo_music_session_get_volume (session));

  next = state == ECHO_MUSIC_STATE_PAUSED ? NULL : gapless_next (session);
  if (next == NULL && rt->player_next != NULL) {
    echo_music_player_clear_next (rt->player);
    g_clear_pointer (&rt->player_next, g_free);
  } else if (next != NULL && g_strcmp0 (next->id, rt->player_next) != 0 &&
      rt->player_item != NULL) {
    g_autofree char *uri = track_uri (api, next->track);

    if (uri != NULL && echo_music_player_queue_next (rt->player, next->id, uri, NULL)) {
      g_free (rt->player_next);
      rt->player_next = g_strdup (next->id);
    }
  }
}

/* --- client-played tracks: the end on the server's clock --- */

static gboolean on_deadline (gpointer data);

static void
schedule_deadline (EchoMusicApi *api, EchoMusicSession *session)
{
  gint64 deadline = echo_music_session_next_deadline_ms (session);
  Runtime *rt = g_hash_table_lookup (api->runtimes, echo_music_session_get_id (session));
  double delay;

  if (rt != NULL)
    g_clear_handle_id (&rt->deadline_source, g_source_remove);
  if (deadline == 0)
    return;
  rt = runtime_get (api, session);
  g_free (rt->deadline_item);
  rt->deadline_item = g_strdup (echo_music_session_get_current (session)->id);
  rt->deadline_ms = deadline;
  delay = (deadline - echo_clock_now_ms ()) / echo_clock_time_scale ();
  rt->deadline_source = g_timeout_add ((guint) CLAMP (ceil (delay), 0, G_MAXINT32),
      on_deadline, rt);
}

static gboolean
on_deadline (gpointer data)
{
  Runtime *rt = data;
  EchoMusicApi *api = rt->api;
  EchoMusicSession *session = echo_music_pool_lookup (api->pool, rt->session_id, NULL);
  gint64 now = echo_clock_now_ms ();

  rt->deadline_source = 0;
  if (session == NULL)
    return G_SOURCE_REMOVE;
  if (now < rt->deadline_ms) {
    /* the timer ran early (rounding, a scaled clock): wait for the rest */
    schedule_deadline (api, session);
    return G_SOURCE_REMOVE;
  }
  apply_change (api, session, echo_music_session_track_ended (session, rt->deadline_item,
          now), FALSE);
  return G_SOURCE_REMOVE;
}

/* --- a change, everywhere it must go --- */

static void
apply_change (EchoMusicApi *api, EchoMusicSession *session, EchoMusicChange changed,
    gboolean seeked)
{
  Runtime *rt;

  if (changed == 0)
    return;
  echo_music_pool_mark_dirty (api->pool, session);
  sync_player (api, session, changed, seeked);
  schedule_deadline (api, session);
  rt = runtime_get (api, session);
  if (changed & (ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING))
    rt->timeline_at_ms = echo_clock_now_ms ();
  rt->pending |= changed;
  if (rt->flush_source == 0)
    rt->flush_source = g_idle_add_full (G_PRIORITY_DEFAULT, on_flush, rt, NULL);
}

/* --- WebSocket: joining, heartbeats, pings --- */

static gboolean
may_watch (EchoMusicSession *session, const EchoIdentity *identity)
{
  return echo_identity_is_host (identity) || (identity->user != NULL &&
      echo_music_session_is_member (session, identity->user)) ||
      (identity->roles != NULL && g_strv_contains ((const char *const *) identity->roles,
          "admin"));
}

/* {"type":"music:join_session","sessionId":..,"queue":"full"|"delta"}: the client gets the
 * state at once, then every event; "queue" chooses its queue events (default "full",
 * seed 000's music:queue_updated). */
static gboolean
hub_join (EchoMusicClient *client, const char *session_id, JsonObject *message,
    GError **error, gpointer data)
{
  EchoMusicApi *api = data;
  EchoMusicSession *session = echo_music_pool_lookup (api->pool, session_id, error);
  gint64 now = echo_clock_now_ms ();
  g_autofree char *mode = NULL;
  g_autofree char *room = NULL;
  g_autoptr (GString) queue = g_string_new ("{\"type\":\"music:queue_updated\",");
  gboolean delta;
  Runtime *rt;
  JsonNode *fields;

  if (session == NULL)
    return FALSE;
  if (!may_watch (session, echo_music_client_get_identity (client))) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
        "only members of the voice channel may join its music session");
    return FALSE;
  }
  if (!echo_music_json_get_string (message, "queue", FALSE, &mode, error))
    return FALSE;
  if (mode != NULL && strcmp (mode, "full") != 0 && strcmp (mode, "delta") != 0) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "queue must be \"full\" or \"delta\"");
    return FALSE;
  }
  delta = mode != NULL && strcmp (mode, "delta") == 0;
  /* the events of changes already made go out first (this client, in the session's room
   * already, gets those that are not the queue's), so the state below is the base of the
   * next delta */
  flush_events (api, session);
  fields = session_fields (session, now);
  echo_music_client_send (client, "music:session_state", fields);
  json_node_unref (fields);
  append_queue_members (queue, session);
  g_string_append_c (queue, '}');
  echo_music_client_send_text (client, queue->str, queue->len);
  if (echo_music_session_get_current (session) != NULL) {
    fields = now_playing_fields (session, now);
    echo_music_client_send (client, "music:now_playing", fields);
    json_node_unref (fields);
  }
  rt = runtime_get (api, session);
  if (delta && rt->queue_mark == NULL) {
    /* the first delta client: deltas count from now */
    rt->queue_mark = echo_music_queue_mark_new (echo_music_session_get_queue (session));
    rt->queue_version = echo_music_session_get_version (session);
  }
  /* joining again may change the kind of queue events: one kind at a time */
  room = queue_room (session, !delta);
  echo_music_client_leave_room (client, room);
  g_free (room);
  room = queue_room (session, delta);
  return echo_music_client_join_room (client, room, error);
}

static gboolean
handle_heartbeat (EchoMusicApi *api, EchoMusicClient *client, JsonObject *message,
    GError **error)
{
  g_autoptr (EchoMusicHeartbeat) heartbeat = echo_music_heartbeat_parse (message, error);
  EchoMusicSession *session;
  const Runtime *rt;
  EchoMusicSyncVerdict verdict;
  EchoMusicState state;
  gint64 now = echo_clock_now_ms ();
  double at, expected, position;
  JsonObject *object;
  JsonNode *fields;

  if (heartbeat == NULL)
    return FALSE;
  if (!echo_music_client_in_room (client, heartbeat->session_id)) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
        "send music:join_session before heartbeats");
    return FALSE;
  }
  session = echo_music_pool_lookup (api->pool, heartbeat->session_id, error);
  if (session == NULL)
    return FALSE;
  state = echo_music_session_get_state (session);
  if (state != ECHO_MUSIC_STATE_PLAYING && state != ECHO_MUSIC_STATE_PAUSED)
    return TRUE;
  /* where the timeline was when the client measured (its clock corrected to ours), else
   * now: a heartbeat is a few ms old at most on a LAN */
  at = heartbeat->has_client_time ? heartbeat->client_time : (double) now;
  /* Measured before the client could know the timeline it would be judged by, or before a
   * track's start (the start lead): nothing to judge. */
  rt = g_hash_table_lookup (api->runtimes, heartbeat->session_id);
  if ((rt != NULL && at < rt->timeline_at_ms + HEARTBEAT_SETTLE_MS) ||
      (state == ECHO_MUSIC_STATE_PLAYING &&
          at < echo_music_session_get_started_at_ms (session)))
    return TRUE;
  expected = echo_music_session_get_position_ms (session, (gint64) llround (at));
  position = echo_music_heartbeat_get_position (heartbeat);
  verdict = echo_music_sync_judge (expected, position, &api->thresholds);
  if (verdict == ECHO_MUSIC_SYNC_OK)
    return TRUE;

  object = json_object_new ();
  json_object_set_string_member (object, "sessionId", heartbeat->session_id);
  json_object_set_string_member (object, "action", echo_music_sync_verdict_to_string (verdict));
  json_object_set_string_member (object, "state", echo_music_state_to_string (state));
  json_object_set_int_member (object, "positionMs",
      echo_music_session_get_position_ms (session, now));
  json_object_set_int_member (object, "serverTime", now);
  json_object_set_double_member (object, "drift", position - expected);
  fields = object_node (object);
  echo_music_client_send (client, "music:sync_command", fields);
  json_node_unref (fields);
  echo_log_event (G_LOG_LEVEL_DEBUG, heartbeat->session_id, NULL, 0,
      "client %s drifts %.0f ms: %s",
      echo_music_client_get_identity (client)->user != NULL ?
      echo_music_client_get_identity (client)->user : "host", position - expected,
      echo_music_sync_verdict_to_string (verdict));
  return TRUE;
}

static gboolean
hub_message (EchoMusicClient *client, const char *type, JsonObject *message, GError **error,
    gpointer data)
{
  if (strcmp (type, "music:heartbeat") == 0)
    return handle_heartbeat (data, client, message, error);
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "unknown message type \"%s\"", type);
  return FALSE;
}

static gboolean
on_sync_ping (gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GPtrArray) sessions = echo_music_pool_list (api->pool);
  gint64 now = echo_clock_now_ms ();
  guint i;

  for (i = 0; i < sessions->len; i++) {
    EchoMusicSession *session = g_ptr_array_index (sessions, i);
    JsonObject *object;

    if (echo_music_session_get_state (session) != ECHO_MUSIC_STATE_PLAYING ||
        echo_music_hub_room_size (api->hub, echo_music_session_get_id (session)) == 0)
      continue;
    object = json_object_new ();
    json_object_set_string_member (object, "sessionId", echo_music_session_get_id (session));
    json_object_set_string_member (object, "itemId",
        echo_music_session_get_current (session)->id);
    json_object_set_int_member (object, "serverTime", now);
    json_object_set_int_member (object, "expectedOffset",
        echo_music_session_get_position_ms (session, now));
    broadcast (api, session, "music:sync_ping", object_node (object));
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
is_sounding (EchoMusicState state)
{
  return state == ECHO_MUSIC_STATE_PLAYING || state == ECHO_MUSIC_STATE_LOADING;
}

/* A command that succeeded made a silent session sound: the mode controller hears of it
 * before the player starts (radio makes way). */
static void
music_starting (EchoMusicApi *api, EchoMusicSession *session, EchoMusicState before)
{
  if (api->play_hook != NULL && !is_sounding (before) &&
      is_sounding (echo_music_session_get_state (session)))
    api->play_hook (echo_music_session_get_server_id (session), api->play_hook_data);
}

/* --- routes: resolving --- */

typedef struct {
  EchoMusicApi *api;
  EchoRequest *request;
  GCancellable *cancellable;
} AsyncReply;

static AsyncReply *
async_reply_new (EchoMusicApi *api, EchoRequest *request)
{
  AsyncReply *reply = g_new0 (AsyncReply, 1);

  reply->api = api;
  reply->request = echo_request_defer (request);
  reply->cancellable = g_object_ref (api->cancellable);
  return reply;
}

/* Replies (the job set it) and frees; FALSE when the API went away meanwhile. */
static void
async_reply_finish (AsyncReply *reply)
{
  echo_request_finish (reply->request);
  g_object_unref (reply->cancellable);
  g_free (reply);
}

static void
resolved (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncReply *reply = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoResolveResult) resolution = NULL;
  EchoMusicApi *api = reply->api;
  JsonObject *object;
  JsonArray *playlist;
  const EchoTrack *track;
  gint64 now = echo_clock_now_ms ();
  guint i;

  resolution = echo_resolver_resolve_finish (ECHO_RESOLVER (source), result, &error);
  if (g_cancellable_is_cancelled (reply->cancellable)) {
    /* the API is gone: only the request is left to answer */
    g_clear_error (&error);
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");
    reply_error (reply->request, error);
    async_reply_finish (reply);
    return;
  }
  if (resolution == NULL) {
    reply_error (reply->request, error);
    async_reply_finish (reply);
    return;
  }
  track = echo_music_pool_track_intern (api->pool, resolution->track, now, &error);
  if (track == NULL) {
    reply_error (reply->request, error);
    async_reply_finish (reply);
    return;
  }
  object = json_object_new ();
  json_object_set_member (object, "track", echo_track_to_json (track));
  playlist = json_array_new ();
  for (i = 0; i < resolution->playlist->len; i++) {
    const EchoTrack *entry = echo_music_pool_track_intern (api->pool,
        g_ptr_array_index (resolution->playlist, i), now, NULL);

    if (entry != NULL)
      json_array_add_element (playlist, echo_track_to_json (entry));
  }
  json_object_set_array_member (object, "playlist", playlist);
  if (resolution->playlist_title != NULL)
    json_object_set_string_member (object, "playlistTitle", resolution->playlist_title);
  else
    json_object_set_null_member (object, "playlistTitle");
  {
    g_autoptr (JsonNode) node = object_node (object);

    echo_request_reply_node (reply->request, SOUP_STATUS_OK, node);
  }
  async_reply_finish (reply);
}

static void
handle_resolve (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autofree char *url = NULL;

  if (body == NULL || !echo_music_json_get_string (json_node_get_object (body), "url", TRUE,
          &url, &error)) {
    reply_error (request, error);
    return;
  }
  if (url[0] == '\0' || strlen (url) > MAX_URL_LENGTH) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "url must be 1..2048 characters", NULL);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_RESOLVE))
    return;
  echo_resolver_resolve_async (api->resolver, url, api->cancellable, resolved,
      async_reply_new (api, request));
}

static void
handle_track (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  const EchoTrack *track = echo_music_pool_track_lookup (api->pool,
      echo_request_get_param (request, "trackId"));
  g_autoptr (JsonNode) node = NULL;

  if (track == NULL) {
    echo_request_reply_error (request, SOUP_STATUS_NOT_FOUND, "NOT_FOUND", "no such track",
        NULL);
    return;
  }
  node = echo_track_to_json (track);
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

/* --- routes: uploads --- */

static const char *const upload_types[] = {
  "audio/mpeg", "audio/mp3", "audio/ogg", "audio/opus", "application/ogg", "audio/flac",
  "audio/x-flac", "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/mp4",
  "audio/x-m4a", "audio/m4a", "audio/aac", "audio/x-aac", NULL
};

static char *
title_from_filename (const char *filename)
{
  const char *dot = strrchr (filename, '.');

  return dot != NULL && dot != filename ? g_strndup (filename, dot - filename) :
      g_strdup (filename);
}

static void
handle_upload_init (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autofree char *filename = NULL, *mime = NULL, *query = NULL, *path = NULL;
  g_autofree char *title = NULL, *url = NULL, *expires_text = NULL;
  g_autoptr (EchoTrack) draft = NULL;
  const EchoTrack *track;
  const char *host;
  JsonObject *object, *metadata;
  PendingUpload *upload;
  gint64 size = 0, now = echo_clock_now_ms ();
  g_autoptr (JsonNode) reply = NULL;

  if (body == NULL ||
      !echo_music_json_get_string (json_node_get_object (body), "filename", TRUE, &filename,
          &error) ||
      !echo_music_json_get_int (json_node_get_object (body), "size", 1, G_MAXINT64, &size,
          &error) ||
      !echo_music_json_get_string (json_node_get_object (body), "mimeType", TRUE, &mime,
          &error)) {
    reply_error (request, error);
    return;
  }
  if (size > api->config->music_max_upload_bytes) {
    g_autofree char *message = g_strdup_printf ("files up to %u bytes are accepted",
        api->config->music_max_upload_bytes);

    echo_request_reply_error (request, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "FILE_TOO_LARGE", message, NULL);
    return;
  }
  if (filename[0] == '\0' || strlen (filename) > MAX_FILENAME_LENGTH ||
      strchr (filename, '/') != NULL || strchr (filename, '\\') != NULL) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "filename must be 1..255 characters without a path", NULL);
    return;
  }
  {
    g_autofree char *lower = g_ascii_strdown (mime, -1);

    if (!g_strv_contains (upload_types, lower)) {
      g_autofree char *message = g_strdup_printf ("%s is not an audio type echod plays "
          "(mp3, m4a/aac, ogg/opus/vorbis, flac, wav)", mime);

      echo_request_reply_error (request, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA",
          message, NULL);
      return;
    }
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_UPLOAD))
    return;

  upload = g_new0 (PendingUpload, 1);
  upload->upload_id = g_uuid_string_random ();
  upload->expires_ms = now + (gint64) api->config->music_upload_ttl_seconds * 1000;
  title = title_from_filename (filename);
  draft = echo_track_new (ECHO_TRACK_SOURCE_UPLOADED, upload->upload_id, title);
  draft->uploaded_by = g_strdup (echo_request_get_identity (request)->user);
  metadata = json_object_new ();
  json_object_set_string_member (metadata, "upload", "pending");
  json_object_set_string_member (metadata, "filename", filename);
  json_object_set_int_member (metadata, "size", size);
  json_object_set_string_member (metadata, "mimeType", mime);
  draft->metadata = object_node (metadata);
  track = echo_music_pool_track_intern (api->pool, draft, now, &error);
  if (track == NULL) {
    pending_upload_free (upload);
    reply_error (request, error);
    return;
  }
  upload->track_id = g_strdup (track->id);
  g_hash_table_insert (api->uploads, upload->upload_id, upload);

  path = g_strdup_printf (PREFIX "/upload/%s", upload->upload_id);
  query = echo_signed_url_query (api->upload_secret, "PUT", path, upload->expires_ms);
  host = echo_request_get_header (request, "Host");
  url = host != NULL ? g_strdup_printf ("http://%s%s?%s", host, path, query) :
      g_strdup_printf ("%s?%s", path, query);
  expires_text = echo_music_json_format_time_ms (upload->expires_ms);
  object = json_object_new ();
  json_object_set_string_member (object, "uploadUrl", url);
  json_object_set_string_member (object, "uploadId", upload->upload_id);
  json_object_set_string_member (object, "trackId", track->id);
  json_object_set_string_member (object, "expiresAt", expires_text);
  json_object_set_int_member (object, "maxBytes", api->config->music_max_upload_bytes);
  reply = object_node (object);
  echo_request_reply_node (request, SOUP_STATUS_OK, reply);
}

typedef struct {
  AsyncReply *reply;
  char *upload_id;
  char *part_path;
} ProbeJob;

static const char *
extension_for (const EchoMediaProbe *probe)
{
  if (g_strcmp0 (probe->codec, "mp3") == 0)
    return "mp3";
  if (g_strcmp0 (probe->codec, "flac") == 0 &&
      g_strcmp0 (probe->container, "application/ogg") != 0)
    return "flac";
  if (g_strcmp0 (probe->codec, "pcm") == 0)
    return "wav";
  if (g_strcmp0 (probe->codec, "aac") == 0)
    return g_strcmp0 (probe->container, "audio/mpeg") == 0 ? "aac" : "m4a";
  return "ogg";
}

static void
probed (GObject *source, GAsyncResult *result, gpointer data)
{
  ProbeJob *job = data;
  AsyncReply *reply = job->reply;
  EchoMusicApi *api = reply->api;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMediaProbe) probe = NULL;
  g_autoptr (EchoTrack) ready = NULL;
  g_autofree char *file = NULL, *final_path = NULL;
  g_autoptr (JsonNode) node = NULL;
  PendingUpload *upload;
  const EchoTrack *track;
  JsonObject *metadata;

  if (!echo_media_probe_file_finish (result, &probe, &error) ||
      g_cancellable_is_cancelled (reply->cancellable)) {
    g_unlink (job->part_path);
    if (error == NULL)
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");
    else if (!g_cancellable_is_cancelled (reply->cancellable) &&
        (upload = g_hash_table_lookup (api->uploads, job->upload_id)) != NULL)
      upload->busy = FALSE;   /* the same URL may take another file */
    reply_error (reply->request, error);
    goto out;
  }
  upload = g_hash_table_lookup (api->uploads, job->upload_id);
  track = upload != NULL ? echo_music_pool_track_lookup (api->pool, upload->track_id) : NULL;
  if (track == NULL) {
    g_unlink (job->part_path);
    echo_request_reply_error (reply->request, SOUP_STATUS_NOT_FOUND, "NOT_FOUND",
        "the upload is gone", NULL);
    goto out;
  }
  file = g_strdup_printf ("%s.%s", job->upload_id, extension_for (probe));
  final_path = g_build_filename (api->uploads_dir, file, NULL);
  if (g_rename (job->part_path, final_path) != 0) {
    int saved = errno;

    g_unlink (job->part_path);
    upload->busy = FALSE;
    echo_request_reply_error (reply->request, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "STORAGE_ERROR", g_strerror (saved), NULL);
    goto out;
  }
  ready = echo_track_copy (track);
  if (probe->title != NULL && probe->title[0] != '\0') {
    g_free (ready->title);
    ready->title = g_strdup (probe->title);
  }
  if (probe->artist != NULL) {
    g_free (ready->artist);
    ready->artist = g_strdup (probe->artist);
  }
  if (probe->album != NULL) {
    g_free (ready->album);
    ready->album = g_strdup (probe->album);
  }
  ready->duration_ms = probe->duration_ms;
  g_free (ready->uploaded_file);
  ready->uploaded_file = g_strdup (file);
  metadata = json_object_new ();
  if (ready->metadata != NULL && JSON_NODE_HOLDS_OBJECT (ready->metadata)) {
    JsonObjectIter iter;
    const char *name;
    JsonNode *value;

    json_object_iter_init (&iter, json_node_get_object (ready->metadata));
    while (json_object_iter_next (&iter, &name, &value))
      json_object_set_member (metadata, name, json_node_copy (value));
  }
  json_object_set_string_member (metadata, "upload", "ready");
  json_object_set_string_member (metadata, "container", probe->container);
  json_object_set_string_member (metadata, "codec", probe->codec);
  json_object_set_int_member (metadata, "rate", probe->rate);
  json_object_set_int_member (metadata, "channels", probe->channels);
  g_clear_pointer (&ready->metadata, json_node_unref);
  ready->metadata = object_node (metadata);
  track = echo_music_pool_track_intern (api->pool, ready, echo_clock_now_ms (), &error);
  if (track == NULL) {
    g_unlink (final_path);
    upload->busy = FALSE;
    reply_error (reply->request, error);
    goto out;
  }
  g_hash_table_remove (api->uploads, job->upload_id);
  node = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_member (json_node_get_object (node), "track", echo_track_to_json (track));
  echo_request_reply_node (reply->request, SOUP_STATUS_OK, node);
out:
  async_reply_finish (reply);
  g_free (job->upload_id);
  g_free (job->part_path);
  g_free (job);
}

static void
handle_upload_put (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  const char *upload_id = echo_request_get_param (request, "uploadId");
  g_autofree char *path = g_strdup_printf (PREFIX "/upload/%s", upload_id);
  g_autoptr (GError) error = NULL;
  GBytes *body = echo_request_get_body (request);
  PendingUpload *upload;
  ProbeJob *job;
  g_autofree char *part = NULL;

  if (!echo_signed_url_verify (api->upload_secret, "PUT", path,
          echo_request_get_query (request, "expires"),
          echo_request_get_query (request, "signature"), echo_clock_now_ms (), &error)) {
    echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN", error->message,
        NULL);
    return;
  }
  upload = g_hash_table_lookup (api->uploads, upload_id);
  if (upload == NULL) {
    echo_request_reply_error (request, SOUP_STATUS_NOT_FOUND, "NOT_FOUND",
        "no such upload (it finished, or echod restarted since it was created)", NULL);
    return;
  }
  if (upload->busy) {
    echo_request_reply_error (request, SOUP_STATUS_CONFLICT, "CONFLICT",
        "this upload's bytes are being checked", NULL);
    return;
  }
  if (g_bytes_get_size (body) == 0) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "the body is the file, and it is empty", NULL);
    return;
  }
  part = g_strdup_printf ("%s/%s.part", api->uploads_dir, upload_id);
  if (!g_file_set_contents (part, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
          &error)) {
    echo_request_reply_error (request, SOUP_STATUS_INTERNAL_SERVER_ERROR, "STORAGE_ERROR",
        error->message, NULL);
    return;
  }
  upload->busy = TRUE;
  job = g_new0 (ProbeJob, 1);
  job->reply = async_reply_new (api, request);
  job->upload_id = g_strdup (upload_id);
  job->part_path = g_steal_pointer (&part);
  echo_media_probe_file_async (job->part_path, api->cancellable, probed, job);
}

/* --- routes: sessions --- */

static void
reply_session (EchoRequest *request, EchoMusicSession *session, guint status,
    const char *extra_name, JsonNode *extra)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), json_object_new ());
  JsonObject *object = json_node_get_object (node);

  json_object_set_member (object, "session", session_fields (session, echo_clock_now_ms ()));
  if (extra_name != NULL)
    json_object_set_member (object, extra_name, extra);
  echo_request_reply_node (request, status, node);
}

static void
handle_session_start (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autofree char *server_id = NULL, *channel_id = NULL;
  const EchoIdentity *identity = echo_request_get_identity (request);
  EchoMusicSession *session;
  gboolean created = FALSE;

  if (body == NULL ||
      !echo_music_json_get_string (json_node_get_object (body), "serverId", TRUE, &server_id,
          &error) ||
      !echo_music_json_get_string (json_node_get_object (body), "voiceChannelId", TRUE,
          &channel_id, &error)) {
    reply_error (request, error);
    return;
  }
  if (identity->user == NULL) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "a session is started by a user: send X-Echo-User with the host token", NULL);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_CONTROL))
    return;
  session = echo_music_pool_session_start (api->pool, server_id, channel_id, identity->user,
      echo_clock_now_ms (), &created, &error);
  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  echo_request_set_session (request, echo_music_session_get_id (session));
  reply_session (request, session, created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, "created",
      json_node_init_boolean (json_node_alloc (), created));
}

static void
handle_sessions (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *array;
  gint64 now = echo_clock_now_ms ();
  guint i;

  if (!echo_identity_is_host (echo_request_get_identity (request))) {
    echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN",
        "only the host application lists every session", NULL);
    return;
  }
  sessions = echo_music_pool_list (api->pool);
  array = json_array_new ();
  for (i = 0; i < sessions->len; i++)
    json_array_add_element (array, session_fields (g_ptr_array_index (sessions, i), now));
  node = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_array_member (json_node_get_object (node), "sessions", array);
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_state (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  Runtime *rt;
  JsonObject *receivers;
  g_autoptr (JsonNode) node = NULL;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  rt = g_hash_table_lookup (api->runtimes, echo_music_session_get_id (session));
  receivers = json_object_new ();
  json_object_set_string_member (receivers, "session", echo_music_session_get_id (session));
  if (rt != NULL && rt->player != NULL)
    json_object_set_int_member (receivers, "port",
        echo_music_player_get_relay_port (rt->player));
  else
    json_object_set_null_member (receivers, "port");
  json_object_set_boolean_member (receivers, "tokenRequired",
      api->config->music_receiver_token[0] != '\0');
  node = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_member (json_node_get_object (node), "session",
      session_fields (session, echo_clock_now_ms ()));
  json_object_set_member (json_node_get_object (node), "queue",
      echo_music_queue_to_json (echo_music_session_get_queue (session)));
  json_object_set_object_member (json_node_get_object (node), "receivers", receivers);
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_session_end (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  EchoMusicActor actor;
  g_autofree char *id = NULL;
  JsonObject *object;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  actor_of (request, &actor);
  if (!actor.service && !echo_music_session_is_dj (session, &actor)) {
    echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN",
        "only a DJ ends a music session", NULL);
    return;
  }
  id = g_strdup (echo_music_session_get_id (session));
  if (!echo_music_pool_end (api->pool, id, &error)) {
    reply_error (request, error);
    return;
  }
  g_hash_table_remove (api->runtimes, id);
  object = json_object_new ();
  json_object_set_string_member (object, "sessionId", id);
  {
    g_autoptr (JsonNode) fields = object_node (object);

    echo_music_hub_broadcast (api->hub, id, "music:session_ended", fields);
  }
  echo_request_reply_empty (request, SOUP_STATUS_NO_CONTENT);
}

static void
handle_queue (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  GString *reply;
  EchoQueueItem *current;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  reply = g_string_new ("{");
  append_queue_members (reply, session);
  current = echo_music_session_get_current (session);
  g_string_append_printf (reply, ",\"current\":%s}", current != NULL ?
      echo_queue_item_to_json_text (current) : "null");
  reply_text (request, reply);
}

/* The tracks a queue/add names: {trackId} or {trackIds: [...]}, all known and playable. */
static GPtrArray *
tracks_to_add (EchoMusicApi *api, JsonObject *body, GError **error)
{
  g_autoptr (GPtrArray) tracks = g_ptr_array_new ();
  g_autofree char *single = NULL;
  JsonArray *ids = NULL;
  guint i, n;

  if (json_object_has_member (body, "trackIds")) {
    if (!echo_music_json_get_array (body, "trackIds", &ids, error))
      return NULL;
  } else if (!echo_music_json_get_string (body, "trackId", TRUE, &single, error)) {
    return NULL;
  }
  n = ids != NULL ? json_array_get_length (ids) : 1;
  if (n == 0 || n > MAX_TRACKS_PER_ADD) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "trackIds must hold 1..%d ids", MAX_TRACKS_PER_ADD);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    const char *id = single;
    const EchoTrack *track;

    if (ids != NULL) {
      JsonNode *element = json_array_get_element (ids, i);

      if (!JSON_NODE_HOLDS_VALUE (element) ||
          json_node_get_value_type (element) != G_TYPE_STRING) {
        g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
            "trackIds[%u] must be a string", i);
        return NULL;
      }
      id = json_node_get_string (element);
    }
    if (!echo_music_check_id ("trackId", id, error))
      return NULL;
    track = echo_music_pool_track_lookup (api->pool, id);
    if (track == NULL) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
          "no track %.64s (resolve or upload it first)", id);
      return NULL;
    }
    if (track->source == ECHO_TRACK_SOURCE_UPLOADED && track->uploaded_file == NULL) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
          "track %s is an upload whose file has not arrived", id);
      return NULL;
    }
    g_ptr_array_add (tracks, (gpointer) track);
  }
  return g_steal_pointer (&tracks);
}

typedef enum {
  QUEUE_ADD,
  QUEUE_REMOVE,
  QUEUE_REORDER,
  QUEUE_VOTE,
  QUEUE_CLEAR,
} QueueOp;

static void
queue_command (EchoRequest *request, EchoMusicApi *api, QueueOp op)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autoptr (GPtrArray) tracks = NULL;
  g_autoptr (GPtrArray) added = NULL;
  g_autofree char *item_id = NULL;
  EchoMusicSession *session;
  EchoMusicChange changed = 0;
  EchoMusicActor actor;
  JsonObject *obj;
  gint64 value = 0, now = echo_clock_now_ms ();
  guint removed = 0;
  gboolean ok = FALSE;
  EchoMusicState before;
  g_autoptr (GString) reply = NULL;
  guint i;

  if (body == NULL) {
    reply_error (request, error);
    return;
  }
  obj = json_node_get_object (body);
  session = path_session (api, request, obj, &error);
  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  /* the input first: a malformed request costs no token */
  switch (op) {
    case QUEUE_ADD:
      ok = (tracks = tracks_to_add (api, obj, &error)) != NULL;
      break;
    case QUEUE_REMOVE:
      ok = echo_music_json_get_string (obj, "itemId", TRUE, &item_id, &error);
      break;
    case QUEUE_REORDER:
      ok = echo_music_json_get_string (obj, "itemId", TRUE, &item_id, &error) &&
          echo_music_json_get_int (obj, "position", 0, G_MAXUINT32, &value, &error);
      break;
    case QUEUE_VOTE:
      ok = echo_music_json_get_string (obj, "itemId", TRUE, &item_id, &error) &&
          echo_music_json_get_int (obj, "value", -1, 1, &value, &error);
      if (ok && value == 0) {
        g_set_error_literal (&error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
            "value must be 1 or -1");
        ok = FALSE;
      }
      break;
    case QUEUE_CLEAR:
      ok = TRUE;
      break;
  }
  if (ok && item_id != NULL)
    ok = echo_music_check_id ("itemId", item_id, &error);
  if (!ok) {
    reply_error (request, error);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_QUEUE))
    return;
  before = echo_music_session_get_state (session);

  actor_of (request, &actor);
  switch (op) {
    case QUEUE_ADD:
      added = echo_music_session_queue_add (session, &actor, tracks, now, &changed, &error);
      ok = added != NULL;
      break;
    case QUEUE_REMOVE:
      ok = echo_music_session_queue_remove (session, &actor, item_id, now, &changed, &error);
      break;
    case QUEUE_REORDER:
      ok = echo_music_session_queue_reorder (session, &actor, item_id, (guint) value, now,
          &changed, &error);
      break;
    case QUEUE_VOTE:
      ok = echo_music_session_queue_vote (session, &actor, item_id, (int) value, now,
          &changed, &error);
      break;
    case QUEUE_CLEAR:
      ok = echo_music_session_queue_clear (session, &actor, now, &removed, &changed, &error);
      break;
  }
  if (!ok) {
    reply_error (request, error);
    return;
  }
  music_starting (api, session, before);
  apply_change (api, session, changed, FALSE);

  reply = g_string_new ("{");
  append_queue_members (reply, session);
  if (added != NULL) {
    g_string_append (reply, ",\"added\":[");
    for (i = 0; i < added->len; i++)
      g_string_append_printf (reply, "%s%s", i > 0 ? "," : "",
          echo_queue_item_to_json_text (g_ptr_array_index (added, i)));
    g_string_append_c (reply, ']');
  }
  if (op == QUEUE_CLEAR)
    g_string_append_printf (reply, ",\"removed\":%u", removed);
  g_string_append_printf (reply, ",\"state\":\"%s\"}",
      echo_music_state_to_string (echo_music_session_get_state (session)));
  reply_text (request, g_steal_pointer (&reply));
}

static void
handle_queue_add (EchoRequest *request, gpointer data)
{
  queue_command (request, data, QUEUE_ADD);
}

static void
handle_queue_remove (EchoRequest *request, gpointer data)
{
  queue_command (request, data, QUEUE_REMOVE);
}

static void
handle_queue_reorder (EchoRequest *request, gpointer data)
{
  queue_command (request, data, QUEUE_REORDER);
}

static void
handle_queue_vote (EchoRequest *request, gpointer data)
{
  queue_command (request, data, QUEUE_VOTE);
}

static void
handle_queue_clear (EchoRequest *request, gpointer data)
{
  queue_command (request, data, QUEUE_CLEAR);
}

/* ?name= as an integer in [min, max], or @fallback when absent. */
static gboolean
query_uint (EchoRequest *request, const char *name, guint64 min, guint64 max,
    guint64 fallback, guint64 *out)
{
  const char *text = echo_request_get_query (request, name);
  g_autofree char *message = NULL;

  *out = fallback;
  if (text == NULL || g_ascii_string_to_unsigned (text, 10, min, max, out, NULL))
    return TRUE;
  message = g_strdup_printf ("%s must be an integer %" G_GUINT64_FORMAT "..%"
      G_GUINT64_FORMAT, name, min, max);
  echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST", message, NULL);
  return FALSE;
}

static void
handle_history (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  g_autoptr (JsonNode) node = NULL;
  guint64 limit;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  if (!query_uint (request, "limit", 1, MAX (api->config->music_history_limit, 1),
          MIN (DEFAULT_HISTORY, MAX (api->config->music_history_limit, 1)), &limit))
    return;
  node = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_string_member (json_node_get_object (node), "sessionId",
      echo_music_session_get_id (session));
  json_object_set_member (json_node_get_object (node), "history",
      echo_music_queue_history_to_json (echo_music_session_get_queue (session), limit));
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_stats (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  g_autoptr (EchoQueueStats) stats = NULL;
  g_autoptr (JsonNode) node = NULL;
  guint64 top;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  if (!query_uint (request, "top", 1, MAX_TOP, DEFAULT_TOP, &top))
    return;
  stats = echo_music_queue_stats (echo_music_session_get_queue (session), top);
  node = echo_queue_stats_to_json (stats);
  json_object_set_string_member (json_node_get_object (node), "sessionId",
      echo_music_session_get_id (session));
  json_object_set_int_member (json_node_get_object (node), "queued",
      echo_music_queue_get_length (echo_music_session_get_queue (session)));
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_control (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autofree char *action_text = NULL;
  EchoMusicSession *session;
  EchoMusicAction action;
  EchoMusicChange changed = 0;
  EchoMusicActor actor;
  JsonObject *obj, *ack;
  gint64 value = 0, now;
  EchoMusicState before;

  if (body == NULL) {
    reply_error (request, error);
    return;
  }
  obj = json_node_get_object (body);
  session = path_session (api, request, obj, &error);
  if (session == NULL ||
      !echo_music_json_get_string (obj, "action", TRUE, &action_text, &error)) {
    reply_error (request, error);
    return;
  }
  if (!echo_music_action_from_string (action_text, &action)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "action must be play, pause, skip, back, seek or stop", NULL);
    return;
  }
  if (action == ECHO_MUSIC_ACTION_SEEK && !number_member (obj, "value", &value, &error)) {
    reply_error (request, error);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_CONTROL))
    return;
  before = echo_music_session_get_state (session);
  actor_of (request, &actor);
  now = echo_clock_now_ms ();
  if (!echo_music_session_control (session, &actor, action, value, now, &changed, &error)) {
    reply_error (request, error);
    return;
  }
  music_starting (api, session, before);
  apply_change (api, session, changed, action == ECHO_MUSIC_ACTION_SEEK);

  ack = json_object_new ();
  json_object_set_string_member (ack, "sessionId", echo_music_session_get_id (session));
  json_object_set_string_member (ack, "action", echo_music_action_to_string (action));
  if (action == ECHO_MUSIC_ACTION_SEEK)
    json_object_set_int_member (ack, "value", value);
  if (actor.user != NULL)
    json_object_set_string_member (ack, "by", actor.user);
  else
    json_object_set_null_member (ack, "by");
  json_object_set_boolean_member (ack, "changed", changed != 0);
  json_object_set_int_member (ack, "version", echo_music_session_get_version (session));
  json_object_set_string_member (ack, "state",
      echo_music_state_to_string (echo_music_session_get_state (session)));
  if (echo_music_session_get_started_at_ms (session) != 0)
    json_object_set_int_member (ack, "startedAt",
        echo_music_session_get_started_at_ms (session));
  else
    json_object_set_null_member (ack, "startedAt");
  json_object_set_int_member (ack, "offsetMs", echo_music_session_get_offset_ms (session));
  json_object_set_int_member (ack, "serverTime", now);
  broadcast (api, session, "music:control_ack", object_node (ack));
  reply_session (request, session, SOUP_STATUS_OK, NULL, NULL);
}

/* PATCH settings: every member is checked, then each change is tried at its current value
 * (a no-op that still runs the permission rule) before any is made: all or nothing. */
static void
handle_settings (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  EchoMusicSession *session;
  EchoMusicChange changed = 0, step;
  EchoMusicActor actor;
  JsonObject *obj;
  gboolean has_volume, has_loop, has_shuffle, has_dj, has_voting;
  gint64 volume = 0, now = echo_clock_now_ms ();
  gboolean shuffle = FALSE, dj_mode = FALSE, voting = FALSE;
  g_autofree char *loop_text = NULL;
  EchoLoopMode loop = ECHO_LOOP_OFF;
  int pass;

  if (body == NULL) {
    reply_error (request, error);
    return;
  }
  obj = json_node_get_object (body);
  session = path_session (api, request, obj, &error);
  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  has_loop = json_object_has_member (obj, "loopMode");
  has_shuffle = json_object_has_member (obj, "shuffle");
  has_dj = json_object_has_member (obj, "djMode");
  has_voting = json_object_has_member (obj, "voting");
  if (!optional_int (obj, "volume", 0, 100, &has_volume, &volume, &error) ||
      (has_loop && !echo_music_json_get_string (obj, "loopMode", TRUE, &loop_text, &error)) ||
      (has_shuffle && !echo_music_json_get_boolean (obj, "shuffle", &shuffle, &error)) ||
      (has_dj && !echo_music_json_get_boolean (obj, "djMode", &dj_mode, &error)) ||
      (has_voting && !echo_music_json_get_boolean (obj, "voting", &voting, &error))) {
    reply_error (request, error);
    return;
  }
  if (has_loop && !echo_loop_mode_from_string (loop_text, &loop)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "loopMode must be OFF, ONE or ALL", NULL);
    return;
  }
  if (!(has_volume || has_loop || has_shuffle || has_dj || has_voting)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "nothing to change: give volume, loopMode, shuffle, djMode or voting", NULL);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_CONTROL))
    return;
  actor_of (request, &actor);
  for (pass = 0; pass < 2; pass++) {
    /* pass 0 sets the current values: permission checks without changes */
    gboolean dry = pass == 0;
    gboolean ok = TRUE;

    step = 0;
    if (ok && has_volume)
      ok = echo_music_session_set_volume (session, &actor, dry ?
          echo_music_session_get_volume (session) : (guint) volume, now, &step, &error);
    changed |= step;
    step = 0;
    if (ok && has_loop)
      ok = echo_music_session_set_loop (session, &actor, dry ?
          echo_music_session_get_loop (session) : loop, now, &step, &error);
    changed |= step;
    step = 0;
    if (ok && has_shuffle)
      ok = echo_music_session_set_shuffle (session, &actor, dry ?
          echo_music_session_get_shuffle (session) : shuffle, now, &step, &error);
    changed |= step;
    step = 0;
    if (ok && has_dj)
      ok = echo_music_session_set_dj_mode (session, &actor, dry ?
          echo_music_session_get_dj_mode (session) : dj_mode, now, &step, &error);
    changed |= step;
    step = 0;
    if (ok && has_voting)
      ok = echo_music_session_set_voting (session, &actor, dry ?
          echo_music_session_get_voting (session) : voting, now, &step, &error);
    changed |= step;
    if (!ok) {
      /* only the dry pass can refuse: the values were checked above */
      apply_change (api, session, changed, FALSE);
      reply_error (request, error);
      return;
    }
  }
  apply_change (api, session, changed, FALSE);
  reply_session (request, session, SOUP_STATUS_OK, NULL, NULL);
}

static void
handle_member_put (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  g_autoptr (GPtrArray) roles = g_ptr_array_new ();
  const char *user = echo_request_get_param (request, "userId");
  EchoMusicSession *session;
  EchoMusicChange changed = 0;
  JsonArray *array = NULL;
  guint i;

  if (body == NULL || (session = path_session (api, request, json_node_get_object (body),
              &error)) == NULL) {
    reply_error (request, error);
    return;
  }
  if (!echo_identity_is_host (echo_request_get_identity (request))) {
    echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN",
        "only the host application says who is in a voice channel", NULL);
    return;
  }
  if (json_object_has_member (json_node_get_object (body), "roles") &&
      !echo_music_json_get_array (json_node_get_object (body), "roles", &array, &error)) {
    reply_error (request, error);
    return;
  }
  for (i = 0; array != NULL && i < json_array_get_length (array); i++) {
    JsonNode *element = json_array_get_element (array, i);

    if (i >= MAX_ROLES || !JSON_NODE_HOLDS_VALUE (element) ||
        json_node_get_value_type (element) != G_TYPE_STRING ||
        !echo_music_id_is_valid (json_node_get_string (element))) {
      echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
          "roles must be at most 16 names (1..128 printable characters)", NULL);
      return;
    }
    g_ptr_array_add (roles, (gpointer) json_node_get_string (element));
  }
  g_ptr_array_add (roles, NULL);
  if (!echo_music_check_id ("userId", user, &error) ||
      !echo_music_session_member_join (session, user, (const char *const *) roles->pdata,
          echo_clock_now_ms (), &changed, &error)) {
    reply_error (request, error);
    return;
  }
  apply_change (api, session, changed, FALSE);
  reply_session (request, session, SOUP_STATUS_OK, NULL, NULL);
}

static void
handle_member_delete (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  EchoMusicSession *session = path_session (api, request, NULL, &error);
  EchoMusicChange changed = 0;

  if (session == NULL) {
    reply_error (request, error);
    return;
  }
  if (!echo_identity_is_host (echo_request_get_identity (request))) {
    echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN",
        "only the host application says who is in a voice channel", NULL);
    return;
  }
  if (!echo_music_check_id ("userId", echo_request_get_param (request, "userId"), &error) ||
      !echo_music_session_member_leave (session, echo_request_get_param (request, "userId"),
          echo_clock_now_ms (), &changed, &error)) {
    reply_error (request, error);
    return;
  }
  apply_change (api, session, changed, FALSE);
  reply_session (request, session, SOUP_STATUS_OK, NULL, NULL);
}

static void
handle_permission_put (EchoRequest *request, gpointer data)
{
  EchoMusicApi *api = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = echo_request_get_json_object (request, &error);
  EchoMusicSession *session;
  EchoMusicChange changed = 0;
  EchoMusicActor actor;
  gboolean can_control = TRUE;

  if (body == NULL || (session = path_session (api, request, json_node_get_object (body),
              &error)) == NULL ||
      !echo_music_json_get_boolean (json_node_get_object (body), "canControl", &can_control,
          &error)) {
    reply_error (request, error);
    return;
  }
  if (!check_rate (api, request, ECHO_MUSIC_RATE_CONTROL))
    return;
  actor_of (request, &actor);
  if (!echo_music_check_id ("userId", echo_request_get_param (request, "userId"), &error) ||
      !echo_music_session_set_permission (session, &actor,
          echo_request_get_param (request, "userId"), can_control, echo_clock_now_ms (),
          &changed, &error)) {
    reply_error (request, error);
    return;
  }
  apply_change (api, session, changed, FALSE);
  reply_session (request, session, SOUP_STATUS_OK, NULL, NULL);
}

/* --- the API --- */

void
echo_music_api_resolver_config (const EchoConfig *config, EchoResolverConfig *out)
{
  echo_resolver_config_init (out);
#define TAKE(field, value) if ((value)[0] != '\0') out->field = (value)
  TAKE (youtube_api_key, config->youtube_api_key);
  TAKE (youtube_api_base, config->youtube_api_base);
  TAKE (youtube_oembed_base, config->youtube_oembed_base);
  TAKE (spotify_client_id, config->spotify_client_id);
  TAKE (spotify_client_secret, config->spotify_client_secret);
  TAKE (spotify_api_base, config->spotify_api_base);
  TAKE (spotify_accounts_base, config->spotify_accounts_base);
  TAKE (spotify_oembed_base, config->spotify_oembed_base);
  TAKE (apple_music_token, config->apple_music_token);
  TAKE (apple_music_base, config->apple_music_base);
  TAKE (soundcloud_oembed_base, config->soundcloud_oembed_base);
#undef TAKE
  out->http_audio_hosts = (const char *const *) config->http_audio_hosts;
  out->timeout_ms = config->resolver_timeout_ms;
  out->max_playlist_tracks = config->resolver_max_playlist_tracks;
  out->allow_private = config->resolver_allow_private;
}

void
echo_music_api_limits (const EchoConfig *config, EchoMusicLimits *out)
{
  echo_music_limits_init_defaults (out);
  out->max_sessions = config->music_max_sessions;
  out->max_items = config->music_max_queue_items;
  out->history_limit = config->music_history_limit;
  out->start_lead_ms = config->music_start_lead_ms;
  out->flush_interval_ms = config->music_flush_interval_ms;
  out->resolve_rate = config->music_resolve_rate;
  out->resolve_burst = config->music_resolve_burst;
  out->upload_rate = config->music_upload_rate;
  out->upload_burst = config->music_upload_burst;
  out->queue_rate = config->music_queue_rate;
  out->queue_burst = config->music_queue_burst;
  out->control_rate = config->music_control_rate;
  out->control_burst = config->music_control_burst;
}

/* Sessions restored with a client-played track playing need their deadline again. */
static void
restore_timers (EchoMusicApi *api)
{
  g_autoptr (GPtrArray) sessions = echo_music_pool_list (api->pool);
  guint i;

  for (i = 0; i < sessions->len; i++)
    schedule_deadline (api, g_ptr_array_index (sessions, i));
}

EchoMusicApi *
echo_music_api_new (EchoServer *server, EchoMusicPool *pool, EchoResolver *resolver,
    EchoPipelineFactory *factory, const EchoConfig *config, GError **error)
{
  static const struct {
    const char *method;
    const char *pattern;
    EchoRouteHandler handler;
    gsize body_limit;
  } routes[] = {
    { "POST", PREFIX "/resolve", handle_resolve, COMMAND_BODY_LIMIT },
    { "POST", PREFIX "/upload", handle_upload_init, COMMAND_BODY_LIMIT },
    { "GET", PREFIX "/tracks/{trackId}", handle_track, 0 },
    { "POST", PREFIX "/session/start", handle_session_start, COMMAND_BODY_LIMIT },
    { "GET", PREFIX "/sessions", handle_sessions, 0 },
    { "GET", PREFIX "/session/{id}/state", handle_state, 0 },
    { "DELETE", PREFIX "/session/{id}", handle_session_end, 0 },
    { "GET", PREFIX "/session/{id}/queue", handle_queue, 0 },
    { "POST", PREFIX "/session/{id}/queue/add", handle_queue_add, COMMAND_BODY_LIMIT },
    { "POST", PREFIX "/session/{id}/queue/remove", handle_queue_remove, COMMAND_BODY_LIMIT },
    { "POST", PREFIX "/session/{id}/queue/reorder", handle_queue_reorder,
      COMMAND_BODY_LIMIT },
    { "POST", PREFIX "/session/{id}/queue/vote", handle_queue_vote, COMMAND_BODY_LIMIT },
    { "POST", PREFIX "/session/{id}/queue/clear", handle_queue_clear, COMMAND_BODY_LIMIT },
    { "GET", PREFIX "/session/{id}/history", handle_history, 0 },
    { "GET", PREFIX "/session/{id}/stats", handle_stats, 0 },
    { "POST", PREFIX "/session/{id}/control", handle_control, COMMAND_BODY_LIMIT },
    { "PATCH", PREFIX "/session/{id}/settings", handle_settings, COMMAND_BODY_LIMIT },
    { "PUT", PREFIX "/session/{id}/members/{userId}", handle_member_put, COMMAND_BODY_LIMIT },
    { "DELETE", PREFIX "/session/{id}/members/{userId}", handle_member_delete, 0 },
    { "PUT", PREFIX "/session/{id}/permissions/{userId}", handle_permission_put,
      COMMAND_BODY_LIMIT },
  };
  EchoMusicHubCallbacks hub_callbacks = { hub_join, hub_message };
  EchoMusicApi *api;
  g_autofree char *uploads_dir = g_build_filename (config->data_dir, "uploads", NULL);
  guint8 secret[32];
  guint i;

  if (g_mkdir_with_parents (uploads_dir, 0700) != 0) {
    int saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
        "cannot make the uploads directory %s: %s", uploads_dir, g_strerror (saved));
    return NULL;
  }
  api = g_new0 (EchoMusicApi, 1);
  api->server = server;
  api->pool = pool;
  api->resolver = resolver;
  api->factory = factory;
  api->config = config;
  api->uploads_dir = g_steal_pointer (&uploads_dir);
  for (i = 0; i < sizeof secret / 4; i++)
    ((guint32 *) secret)[i] = g_random_int ();
  api->upload_secret = g_base64_encode (secret, sizeof secret);
  api->uploads = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, pending_upload_free);
  api->runtimes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, runtime_free);
  api->cancellable = g_cancellable_new ();
  api->thresholds.seek_ms = config->music_seek_ms;
  api->thresholds.resync_ms = config->music_resync_ms;
  api->hub = echo_music_hub_new (server, &hub_callbacks, api);

  for (i = 0; i < G_N_ELEMENTS (routes); i++)
    echo_server_add_route (server, routes[i].method, routes[i].pattern,
        ECHO_ROUTE_AUTH_USER, routes[i].body_limit, routes[i].handler, api);
  /* the signed URL is the upload's credential */
  echo_server_add_route (server, "PUT", PREFIX "/upload/{uploadId}", ECHO_ROUTE_AUTH_NONE,
      config->music_max_upload_bytes, handle_upload_put, api);

  api->sync_ping_source = g_timeout_add ((guint) (config->music_sync_ping_seconds * 1000.0 /
          echo_clock_time_scale ()), on_sync_ping, api);
  restore_timers (api);
  return api;
}

EchoMusicHub *
echo_music_api_get_hub (EchoMusicApi *api)
{
  return api->hub;
}

void
echo_music_api_set_play_hook (EchoMusicApi *api, EchoMusicPlayHook hook, gpointer user_data)
{
  api->play_hook = hook;
  api->play_hook_data = user_data;
}

GPtrArray *
echo_music_api_pause_community (EchoMusicApi *api, const char *server_id)
{
  g_autoptr (GPtrArray) sessions = echo_music_pool_list (api->pool);
  GPtrArray *paused = g_ptr_array_new_with_free_func (g_free);
  EchoMusicActor host = { NULL, NULL, TRUE };
  guint i;

  for (i = 0; i < sessions->len; i++) {
    EchoMusicSession *session = g_ptr_array_index (sessions, i);
    EchoMusicState state = echo_music_session_get_state (session);
    EchoMusicChange changed = 0;

    if (strcmp (echo_music_session_get_server_id (session), server_id) != 0 ||
        state != ECHO_MUSIC_STATE_PLAYING)
      continue;
    if (echo_music_session_control (session, &host, ECHO_MUSIC_ACTION_PAUSE, 0,
            echo_clock_now_ms (), &changed, NULL)) {
      apply_change (api, session, changed, FALSE);
      g_ptr_array_add (paused, g_strdup (echo_music_session_get_id (session)));
    }
  }
  return paused;
}

void
echo_music_api_resume_sessions (EchoMusicApi *api, GPtrArray *session_ids)
{
  EchoMusicActor host = { NULL, NULL, TRUE };
  guint i;

  for (i = 0; session_ids != NULL && i < session_ids->len; i++) {
    EchoMusicSession *session = echo_music_pool_lookup (api->pool,
        g_ptr_array_index (session_ids, i), NULL);
    EchoMusicChange changed = 0;

    if (session != NULL && echo_music_session_get_state (session) == ECHO_MUSIC_STATE_PAUSED &&
        echo_music_session_control (session, &host, ECHO_MUSIC_ACTION_PLAY, 0,
            echo_clock_now_ms (), &changed, NULL))
      apply_change (api, session, changed, FALSE);
  }
}

void
echo_music_api_free (EchoMusicApi *api)
{
  if (api == NULL)
    return;
  g_cancellable_cancel (api->cancellable);
  g_clear_handle_id (&api->sync_ping_source, g_source_remove);
  g_clear_handle_id (&api->late_source, g_source_remove);
  g_queue_clear_full (&api->late_failures, late_failure_free);
  g_hash_table_unref (api->runtimes);
  g_clear_pointer (&api->hub, echo_music_hub_free);
  g_hash_table_unref (api->uploads);
  g_object_unref (api->cancellable);
  g_free (api->upload_secret);
  g_free (api->uploads_dir);
  g_free (api);
}
