/* Radio stations, radio sessions and the mode controller (see echo-radio-api.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echod"

#include "echo-radio-api.h"

#include <string.h>

#include "echo-clock.h"
#include "echo-guarded-fetch.h"
#include "echo-log.h"
#include "echo-music-error.h"
#include "echo-music-id.h"
#include "echo-music-json.h"
#include "echo-radio-player.h"
#include "echo-radio-station.h"
#include "icymeta.h"

#define PREFIX "/api/radio/{communityId}"
#define BODY_LIMIT (64 * 1024)
#define MAX_STATIONS_PER_COMMUNITY 100
#define POLL_TIMEOUT_SECONDS 10
#define MAX_POLL_BYTES (1024 * 1024)

typedef enum {
  MODE_NONE,
  MODE_MUSIC,
  MODE_RADIO,
} Mode;

static const char *const mode_names[] = { "none", "music", "radio" };

typedef struct _Community Community;

struct _EchoRadioApi {
  EchoServer *server;
  EchoStore *store;
  EchoPipelineFactory *factory;
  EchoRadioMounts *mounts;
  EchoMusicApi *music;
  EchoMusicHub *hub;
  const EchoConfig *config;
  GHashTable *stations;       /* station id -> EchoRadioStation* */
  GHashTable *communities;    /* community id -> Community* */
  GHashTable *mount_types;    /* mount with a live source -> its content type */
  guint observer;
  GCancellable *cancellable;
};

struct _Community {
  EchoRadioApi *api;
  char *id;
  Mode mode;
  Mode previous;
  char *station_id;           /* the station of radio mode (kept after, for a switch back) */
  char *session_id;           /* the relay's session name, one per community */
  EchoRadioPlayer *player;
  EchoRadioPlayerState upstream;
  char *upstream_detail;
  GstTagList *title;          /* what the receivers hear now */
  gint64 title_at_ms;
  GPtrArray *paused_music;    /* music sessions paused by the switch to radio */
  gint64 switched_at_ms;
  char *polled_title;         /* the metadata API's last answer, to report changes only */
  guint poll_source;
};

/* --- small helpers --- */

static void
community_stop_radio (Community *c)
{
  g_clear_handle_id (&c->poll_source, g_source_remove);
  g_clear_pointer (&c->player, echo_radio_player_free);
  g_clear_pointer (&c->title, gst_tag_list_unref);
  g_clear_pointer (&c->polled_title, g_free);
  g_clear_pointer (&c->upstream_detail, g_free);
}

static void
community_free (gpointer data)
{
  Community *c = data;

  community_stop_radio (c);
  g_free (c->id);
  g_free (c->station_id);
  g_free (c->session_id);
  g_ptr_array_unref (c->paused_music);
  g_free (c);
}

static Community *
community_get (EchoRadioApi *api, const char *id)
{
  Community *c = g_hash_table_lookup (api->communities, id);

  if (c == NULL) {
    c = g_new0 (Community, 1);
    c->api = api;
    c->id = g_strdup (id);
    c->session_id = g_uuid_string_random ();
    c->paused_music = g_ptr_array_new_with_free_func (g_free);
    g_hash_table_insert (api->communities, c->id, c);
  }
  return c;
}

static gboolean
has_role (const EchoIdentity *identity, const char *const *roles)
{
  guint i;

  if (echo_identity_is_host (identity))
    return TRUE;
  for (i = 0; identity->roles != NULL && identity->roles[i] != NULL; i++)
    if (g_strv_contains (roles, identity->roles[i]))
      return TRUE;
  return FALSE;
}

static const char *const manager_roles[] = { "admin", "moderator", "mod", NULL };
static const char *const controller_roles[] = { "admin", "moderator", "mod", "dj", NULL };

static gboolean
check_role (EchoRequest *request, const char *const *roles, const char *what)
{
  g_autofree char *message = NULL;

  if (has_role (echo_request_get_identity (request), roles))
    return TRUE;
  message = g_strdup_printf ("only the host application or a user with role %s may %s",
      roles == manager_roles ? "admin, moderator or mod" : "admin, moderator, mod or dj",
      what);
  echo_request_reply_error (request, SOUP_STATUS_FORBIDDEN, "FORBIDDEN", message, NULL);
  return FALSE;
}

static void
reply_error (EchoRequest *request, const GError *error)
{
  if (error->domain == ECHO_STORE_ERROR)
    echo_request_reply_error (request, SOUP_STATUS_SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE",
        error->message, NULL);
  else if (error->domain == ECHO_PIPELINE_ERROR)
    echo_request_reply_error (request, SOUP_STATUS_SERVICE_UNAVAILABLE, "PIPELINE_FAILED",
        error->message, NULL);
  else
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        error->message, NULL);
}

/* The path's community id, validated (400 otherwise). */
static const char *
path_community (EchoRequest *request)
{
  const char *id = echo_request_get_param (request, "communityId");
  g_autoptr (GError) error = NULL;

  if (!echo_music_check_id ("communityId", id, &error)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        error->message, NULL);
    return NULL;
  }
  return id;
}

/* The path's station, which must belong to the path's community (404 otherwise). */
static EchoRadioStation *
path_station (EchoRadioApi *api, EchoRequest *request, const char *community_id)
{
  EchoRadioStation *station = g_hash_table_lookup (api->stations,
      echo_request_get_param (request, "stationId"));

  if (station == NULL || strcmp (station->community_id, community_id) != 0) {
    echo_request_reply_error (request, SOUP_STATUS_NOT_FOUND, "NOT_FOUND",
        "no such station in this community", NULL);
    return NULL;
  }
  return station;
}

/* --- what goes out --- */

static JsonObject *
title_object (const GstTagList *tags)
{
  static const struct {
    const char *tag;
    const char *member;
  } fields[] = {
    { GST_TAG_TITLE, "title" }, { GST_TAG_ARTIST, "artist" }, { GST_TAG_ALBUM, "album" },
    { GST_TAG_HOMEPAGE, "streamUrl" }, { GST_TAG_ORGANIZATION, "station" },
    { GST_TAG_GENRE, "genre" }, { GST_TAG_AUDIO_CODEC, "codec" },
  };
  JsonObject *obj = json_object_new ();
  guint i, bitrate;

  for (i = 0; tags != NULL && i < G_N_ELEMENTS (fields); i++) {
    const char *value;

    if (gst_tag_list_peek_string_index (tags, fields[i].tag, 0, &value) && value != NULL)
      json_object_set_string_member (obj, fields[i].member, value);
  }
  if (tags != NULL && gst_tag_list_get_uint (tags, GST_TAG_NOMINAL_BITRATE, &bitrate))
    json_object_set_int_member (obj, "bitrate", bitrate);
  return obj;
}

static JsonObject *
state_object (Community *c)
{
  EchoRadioStation *station = c->station_id != NULL ?
      g_hash_table_lookup (c->api->stations, c->station_id) : NULL;
  JsonObject *obj = json_object_new ();
  JsonObject *receivers = json_object_new ();

  json_object_set_string_member (obj, "communityId", c->id);
  json_object_set_string_member (obj, "mode", mode_names[c->mode]);
  json_object_set_string_member (obj, "previousMode", mode_names[c->previous]);
  if (station != NULL)
    json_object_set_member (obj, "station", echo_radio_station_to_json (station));
  else
    json_object_set_null_member (obj, "station");
  if (c->player != NULL) {
    json_object_set_object_member (obj, "nowPlaying", title_object (c->title));
    json_object_set_string_member (obj, "upstream",
        echo_radio_player_state_to_string (c->upstream));
    if (c->upstream_detail != NULL)
      json_object_set_string_member (obj, "upstreamDetail", c->upstream_detail);
  } else {
    json_object_set_null_member (obj, "nowPlaying");
    json_object_set_null_member (obj, "upstream");
  }
  json_object_set_string_member (receivers, "session", c->session_id);
  if (c->player != NULL)
    json_object_set_int_member (receivers, "port",
        echo_radio_player_get_relay_port (c->player));
  else
    json_object_set_null_member (receivers, "port");
  json_object_set_boolean_member (receivers, "tokenRequired",
      c->api->config->music_receiver_token[0] != '\0');
  json_object_set_object_member (obj, "receivers", receivers);
  json_object_set_boolean_member (obj, "musicPausedOnSwitch", c->paused_music->len > 0);
  if (c->switched_at_ms != 0)
    json_object_set_int_member (obj, "switchedAt", c->switched_at_ms);
  else
    json_object_set_null_member (obj, "switchedAt");
  json_object_set_int_member (obj, "serverTime", echo_clock_now_ms ());
  return obj;
}

/* To the community's radio room and, as "overlay:" + @overlay_type, its overlay room. */
static void
broadcast (Community *c, const char *type, const char *overlay_type, JsonObject *fields)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), fields);
  g_autofree char *room = g_strconcat ("radio:", c->id, NULL);
  g_autofree char *overlay = g_strconcat ("overlay:", c->id, NULL);

  echo_music_hub_broadcast (c->api->hub, room, type, node);
  if (overlay_type != NULL)
    echo_music_hub_broadcast (c->api->hub, overlay, overlay_type, node);
}

static void
announce_title (Community *c)
{
  JsonObject *fields = json_object_new ();
  EchoRadioStation *station = c->station_id != NULL ?
      g_hash_table_lookup (c->api->stations, c->station_id) : NULL;

  json_object_set_string_member (fields, "kind", "radio");
  json_object_set_string_member (fields, "communityId", c->id);
  if (station != NULL) {
    json_object_set_string_member (fields, "stationId", station->id);
    json_object_set_string_member (fields, "stationName", station->name);
  }
  json_object_set_object_member (fields, "nowPlaying", title_object (c->title));
  json_object_set_int_member (fields, "serverTime", c->title_at_ms);
  broadcast (c, "radio:now_playing", "overlay:now_playing", fields);
}

/* --- persistence --- */

static void
save_state (Community *c)
{
  EchoRadioStation *station = c->station_id != NULL ?
      g_hash_table_lookup (c->api->stations, c->station_id) : NULL;
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), json_object_new ());
  JsonObject *obj = json_node_get_object (node);
  JsonArray *paused = json_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  guint i;

  json_object_set_string_member (obj, "communityId", c->id);
  json_object_set_string_member (obj, "mode", mode_names[c->mode]);
  json_object_set_string_member (obj, "previousMode", mode_names[c->previous]);
  if (c->station_id != NULL)
    json_object_set_string_member (obj, "currentStationId", c->station_id);
  if (station != NULL) {
    json_object_set_string_member (obj, "currentStationName", station->name);
    json_object_set_string_member (obj, "currentStationUrl", station->stream_url != NULL ?
        station->stream_url : station->mount);
  }
  json_object_set_string_member (obj, "sessionId", c->session_id);
  for (i = 0; i < c->paused_music->len; i++)
    json_array_add_string_element (paused, g_ptr_array_index (c->paused_music, i));
  json_object_set_array_member (obj, "pausedMusicSessions", paused);
  json_object_set_int_member (obj, "switchedAt", c->switched_at_ms);
  json_object_set_int_member (obj, "updatedAt", echo_clock_now_ms ());
  text = json_to_string (node, FALSE);
  if (!echo_store_put (c->api->store, ECHO_RADIO_STATE_COLLECTION, c->id, text, &error))
    echo_log_event (G_LOG_LEVEL_WARNING, NULL, NULL, 0,
        "cannot save the radio mode of community %s: %s", c->id, error->message);
}

/* --- the radio player --- */

static void
on_player_title (EchoRadioPlayer *player, const GstTagList *tags, gpointer data)
{
  Community *c = data;
  EchoRadioStation *station = g_hash_table_lookup (c->api->stations, c->station_id);

  /* a station whose titles come from its API ignores what the stream says */
  if (station != NULL && station->metadata_source == ECHO_RADIO_METADATA_API &&
      station->mount == NULL)
    return;
  g_clear_pointer (&c->title, gst_tag_list_unref);
  c->title = gst_tag_list_copy (tags);
  c->title_at_ms = echo_clock_now_ms ();
  announce_title (c);
}

static void
on_player_state (EchoRadioPlayer *player, EchoRadioPlayerState state, const char *detail,
    gpointer data)
{
  Community *c = data;
  JsonObject *fields = json_object_new ();

  c->upstream = state;
  g_free (c->upstream_detail);
  c->upstream_detail = g_strdup (detail);
  json_object_set_string_member (fields, "communityId", c->id);
  json_object_set_string_member (fields, "upstream", echo_radio_player_state_to_string (state));
  if (detail != NULL)
    json_object_set_string_member (fields, "detail", detail);
  json_object_set_int_member (fields, "serverTime", echo_clock_now_ms ());
  broadcast (c, "radio:upstream", NULL, fields);
}

static void
on_player_failed (EchoRadioPlayer *player, const GError *error, gpointer data)
{
  Community *c = data;
  JsonObject *fields = json_object_new ();

  echo_log_event (G_LOG_LEVEL_WARNING, c->session_id, NULL, 0,
      "radio of community %s: %s", c->id, error->message);
  json_object_set_string_member (fields, "communityId", c->id);
  json_object_set_string_member (fields, "code", "PLAYBACK_FAILED");
  json_object_set_string_member (fields, "error", error->message);
  broadcast (c, "radio:error", NULL, fields);
}

static GstTagList *
polled_tags (EchoRadioStation *station, JsonNode *root, char **title_out)
{
  static const struct {
    const char *path;
    const char *tag;
  } fields[] = {
    { "title", GST_TAG_TITLE }, { "artist", GST_TAG_ARTIST }, { "album", GST_TAG_ALBUM },
  };
  JsonObject *paths = json_node_get_object (station->metadata_paths);
  GstTagList *tags = gst_tag_list_new_empty ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fields); i++) {
    const char *path = json_object_has_member (paths, fields[i].path) ?
        json_object_get_string_member (paths, fields[i].path) : NULL;
    g_autofree char *value = path != NULL ? echo_radio_json_path_text (root, path) : NULL;

    if (value != NULL && g_utf8_validate (value, -1, NULL))
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, fields[i].tag, value, NULL);
  }
  gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_ORGANIZATION, station->name, NULL);
  *title_out = gst_tag_list_to_string (tags);
  return tags;
}

/* A metadata API is any URL a community's admin typed: it is fetched under the
 * resolver's SSRF guard (echo-guarded-fetch.h: public addresses only, checked again on the
 * connected peer, redirects checked one by one, the reply capped), in a worker thread,
 * since that fetch blocks. [resolver] allow-private lifts the address rule (a metadata
 * server on the LAN, the tests). */
typedef struct {
  EchoRadioApi *api;
  char *community_id;
  char *station_id;
  char *url;
  char *authorization;        /* "Bearer KEY" or NULL */
  gboolean allow_private;
} PollJob;

static void
poll_job_free (PollJob *job)
{
  g_free (job->community_id);
  g_free (job->station_id);
  g_free (job->url);
  g_free (job->authorization);
  g_free (job);
}

static void
poll_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  PollJob *job = data;
  g_autoptr (EchoUrlGuard) guard = echo_url_guard_new (job->allow_private);
  g_autoptr (SoupSession) session = echo_guarded_session_new (POLL_TIMEOUT_SECONDS * 1000);
  const char *headers[] = { "Accept", "application/json", "Authorization", job->authorization,
    NULL };
  EchoFetchRequest request = { "GET", job->url, headers, NULL, NULL, MAX_POLL_BYTES };
  GError *error = NULL;
  EchoFetchReply *reply;

  if (job->authorization == NULL)
    headers[2] = NULL;
  echo_url_guard_add_host_of_url (guard, job->url);
  reply = echo_guarded_fetch (session, guard, &request, cancellable, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) echo_fetch_reply_free);
}

static void
polled (GObject *source, GAsyncResult *result, gpointer data)
{
  PollJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoFetchReply) reply = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GstTagList) tags = NULL;
  g_autofree char *text = NULL;
  g_autofree char *problem = NULL;
  EchoRadioStation *station;
  Community *c;
  gsize len = 0;
  const char *bytes;

  /* cancelled: the API may be gone, whatever the fetch's outcome */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return;
  c = g_hash_table_lookup (job->api->communities, job->community_id);
  station = g_hash_table_lookup (job->api->stations, job->station_id);
  if (c == NULL || station == NULL || c->mode != MODE_RADIO ||
      g_strcmp0 (c->station_id, job->station_id) != 0)
    return;
  bytes = reply != NULL ? g_bytes_get_data (reply->body, &len) : NULL;
  if (reply == NULL)
    problem = g_strdup (error->message);
  else if (!SOUP_STATUS_IS_SUCCESSFUL (reply->status))
    problem = g_strdup_printf ("HTTP %u", reply->status);
  else if (!json_parser_load_from_data (parser, bytes, (gssize) len, NULL))
    problem = g_strdup ("not a JSON document");
  if (problem != NULL) {
    echo_log_event (G_LOG_LEVEL_INFO, c->session_id, NULL, 0,
        "metadata API of station %s: %s", station->name, problem);
    return;
  }
  tags = polled_tags (station, json_parser_get_root (parser), &text);
  if (g_strcmp0 (text, c->polled_title) != 0) {
    g_free (c->polled_title);
    c->polled_title = g_steal_pointer (&text);
    if (station->mount != NULL && c->player != NULL &&
        g_hash_table_contains (job->api->mount_types, station->mount)) {
      /* pushed audio: the title travels with it and is announced when it plays (without
       * a source the player would drop it: it is announced at once below) */
      echo_radio_player_push_metadata (c->player, tags);
    } else {
      g_clear_pointer (&c->title, gst_tag_list_unref);
      c->title = g_steal_pointer (&tags);
      c->title_at_ms = echo_clock_now_ms ();
      announce_title (c);
    }
  }
}

static gboolean
poll_metadata (gpointer data)
{
  Community *c = data;
  EchoRadioStation *station = g_hash_table_lookup (c->api->stations, c->station_id);
  g_autoptr (GTask) task = NULL;
  PollJob *job;

  if (station == NULL || station->api_endpoint == NULL)
    return G_SOURCE_CONTINUE;
  job = g_new0 (PollJob, 1);
  job->api = c->api;
  job->community_id = g_strdup (c->id);
  job->station_id = g_strdup (station->id);
  job->url = g_strdup (station->api_endpoint);
  if (station->api_key != NULL)
    job->authorization = g_strconcat ("Bearer ", station->api_key, NULL);
  job->allow_private = c->api->config->resolver_allow_private;
  task = g_task_new (NULL, c->api->cancellable, polled, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) poll_job_free);
  g_task_run_in_thread (task, poll_thread);
  return G_SOURCE_CONTINUE;
}

static char **
station_headers (EchoRadioStation *station)
{
  GPtrArray *headers = g_ptr_array_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  if (station->custom_headers != NULL) {
    json_object_iter_init (&iter, json_node_get_object (station->custom_headers));
    while (json_object_iter_next (&iter, &name, &value))
      g_ptr_array_add (headers, g_strdup_printf ("%s: %s", name,
              json_node_get_string (value)));
  }
  g_ptr_array_add (headers, NULL);
  return (char **) g_ptr_array_free (headers, FALSE);
}

/* Starts (or restarts) the player on the community's station. */
static gboolean
start_radio (Community *c, GError **error)
{
  EchoRadioApi *api = c->api;
  EchoRadioStation *station = g_hash_table_lookup (api->stations, c->station_id);
  EchoRadioPlayerCallbacks callbacks = { on_player_title, on_player_state, on_player_failed };
  EchoRadioStation *fallback;
  g_auto (GStrv) headers = NULL;

  community_stop_radio (c);
  c->player = echo_radio_player_new (api->factory, c->session_id,
      api->config->music_receiver_token, api->config->discovery_enabled, &callbacks, c,
      error);
  if (c->player == NULL)
    return FALSE;
  switch (station->fallback) {
    case ECHO_RADIO_FALLBACK_FILE:
      echo_radio_player_set_fallback_file (c->player, station->fallback_value);
      break;
    case ECHO_RADIO_FALLBACK_STATION:
      fallback = g_hash_table_lookup (api->stations, station->fallback_value);
      if (fallback != NULL && fallback->stream_url != NULL)
        echo_radio_player_set_fallback_url (c->player, fallback->stream_url);
      break;
    case ECHO_RADIO_FALLBACK_SILENCE:
      break;
  }
  if (station->stream_url != NULL) {
    headers = station_headers (station);
    if (!echo_radio_player_play_url (c->player, station->stream_url,
            (const char *const *) headers, error)) {
      community_stop_radio (c);
      return FALSE;
    }
  } else {
    const char *type = g_hash_table_lookup (api->mount_types, station->mount);

    if (type != NULL && !echo_radio_player_push_open (c->player, type, error)) {
      community_stop_radio (c);
      return FALSE;
    }
  }
  if (station->metadata_source == ECHO_RADIO_METADATA_API) {
    c->poll_source = g_timeout_add_seconds (station->poll_seconds, poll_metadata, c);
    poll_metadata (c);
  }
  echo_log_event (G_LOG_LEVEL_INFO, c->session_id, NULL, 0,
      "radio of community %s plays %s (%s): echosyncsrc session=%s port=%u", c->id,
      station->name, station->stream_url != NULL ? station->stream_url : station->mount,
      c->session_id, echo_radio_player_get_relay_port (c->player));
  return TRUE;
}

/* --- the mode controller --- */

static void
announce_mode (Community *c)
{
  broadcast (c, "radio:mode_change", "overlay:mode_change", state_object (c));
}

/* Switches @c to @mode (radio: @station_id, or the last station). Nothing changes when it
 * fails. Switches run on the main loop one after another: the community's lock. */
static gboolean
switch_mode (Community *c, Mode mode, const char *station_id, GError **error)
{
  EchoRadioApi *api = c->api;
  g_autofree char *previous_station = NULL;

  if (mode == MODE_RADIO) {
    const char *id = station_id != NULL ? station_id : c->station_id;
    EchoRadioStation *station = id != NULL ? g_hash_table_lookup (api->stations, id) : NULL;

    if (station == NULL || strcmp (station->community_id, c->id) != 0) {
      g_set_error_literal (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
          id == NULL ? "stationId is required (no station played here before)" :
          "stationId names no station of this community");
      return FALSE;
    }
    if (!station->enabled) {
      g_set_error (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
          "station %s is disabled", station->name);
      return FALSE;
    }
    if (c->mode == MODE_RADIO && g_strcmp0 (c->station_id, station->id) == 0 &&
        c->player != NULL)
      return TRUE;
    previous_station = g_steal_pointer (&c->station_id);
    c->station_id = g_strdup (station->id);
    if (!start_radio (c, error)) {
      g_free (c->station_id);
      c->station_id = g_steal_pointer (&previous_station);
      return FALSE;
    }
    if (c->mode != MODE_RADIO) {
      g_autoptr (GPtrArray) paused = echo_music_api_pause_community (api->music, c->id);
      guint i;

      for (i = 0; i < paused->len; i++)
        g_ptr_array_add (c->paused_music, g_strdup (g_ptr_array_index (paused, i)));
    }
  } else {
    if (c->mode == mode)
      return TRUE;
    community_stop_radio (c);
    if (mode == MODE_MUSIC) {
      echo_music_api_resume_sessions (api->music, c->paused_music);
      g_ptr_array_set_size (c->paused_music, 0);
    }
  }
  if (c->mode != mode)
    c->previous = c->mode;
  c->mode = mode;
  c->switched_at_ms = echo_clock_now_ms ();
  save_state (c);
  announce_mode (c);
  echo_log_event (G_LOG_LEVEL_INFO, NULL, NULL, 0, "community %s: mode %s", c->id,
      mode_names[mode]);
  return TRUE;
}

/* A music command is about to start music: radio makes way. */
static void
before_music_plays (const char *server_id, gpointer data)
{
  EchoRadioApi *api = data;
  Community *c = g_hash_table_lookup (api->communities, server_id);

  if (c != NULL && c->mode == MODE_RADIO) {
    /* the command's own session plays; the others stay paused */
    g_ptr_array_set_size (c->paused_music, 0);
    switch_mode (c, MODE_MUSIC, NULL, NULL);
  }
}

/* --- pushed mounts feed the radio sessions playing them --- */

typedef void (*MountFunc) (Community *c, gpointer data);

static void
for_each_listening (EchoRadioApi *api, const char *mount, MountFunc func, gpointer data)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, api->communities);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Community *c = value;
    EchoRadioStation *station;

    if (c->mode != MODE_RADIO || c->player == NULL)
      continue;
    station = g_hash_table_lookup (api->stations, c->station_id);
    if (station != NULL && g_strcmp0 (station->mount, mount) == 0)
      func (c, data);
  }
}

static void
open_push (Community *c, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!echo_radio_player_push_open (c->player, data, &error))
    on_player_failed (c->player, error, c);
}

static void
push_bytes (Community *c, gpointer data)
{
  echo_radio_player_push_bytes (c->player, data);
}

/* /admin/metadata's song= is the whole "Artist - Title" line: split it as icymetademux
 * splits a pulled station's StreamTitle, so clients get the same fields either way. */
static GstTagList *
split_song (const GstTagList *tags)
{
  GstTagList *copy = gst_tag_list_copy (tags);
  g_autofree char *artist = NULL, *title = NULL;
  const char *line = NULL;

  if (gst_tag_list_get_tag_size (copy, GST_TAG_ARTIST) == 0 &&
      gst_tag_list_peek_string_index (copy, GST_TAG_TITLE, 0, &line) && line != NULL &&
      icy_split_artist_title (line, " - ", &artist, &title))
    gst_tag_list_add (copy, GST_TAG_MERGE_REPLACE, GST_TAG_ARTIST, artist, GST_TAG_TITLE,
        title, NULL);
  return copy;
}

static void
push_metadata (Community *c, gpointer data)
{
  EchoRadioStation *station = g_hash_table_lookup (c->api->stations, c->station_id);
  g_autoptr (GstTagList) tags = NULL;

  if (station->metadata_source != ECHO_RADIO_METADATA_ICY)
    return;
  tags = split_song (data);
  echo_radio_player_push_metadata (c->player, tags);
}

static void
push_close (Community *c, gpointer data)
{
  echo_radio_player_push_close (c->player);
}

static void
on_source_started (const char *mount, const char *content_type, const GstTagList *station,
    gpointer data)
{
  EchoRadioApi *api = data;

  g_hash_table_replace (api->mount_types, g_strdup (mount), g_strdup (content_type));
  for_each_listening (api, mount, open_push, (gpointer) content_type);
}

static void
on_source_data (const char *mount, GBytes *bytes, gpointer data)
{
  for_each_listening (data, mount, push_bytes, bytes);
}

static void
on_source_metadata (const char *mount, const GstTagList *tags, gpointer data)
{
  for_each_listening (data, mount, push_metadata, (gpointer) tags);
}

static void
on_source_ended (const char *mount, gpointer data)
{
  EchoRadioApi *api = data;

  g_hash_table_remove (api->mount_types, mount);
  for_each_listening (api, mount, push_close, NULL);
}

/* --- routes --- */

static void
reply_station (EchoRequest *request, guint status, EchoRadioStation *station)
{
  g_autoptr (JsonNode) node = echo_radio_station_to_json (station);

  echo_request_reply_node (request, status, node);
}

static guint
community_station_count (EchoRadioApi *api, const char *community_id)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, api->stations);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    n += strcmp (((EchoRadioStation *) value)->community_id, community_id) == 0;
  return n;
}

/* A fallback station must be another pulled station of the same community: start_radio ()
 * can play nothing else in its place. */
static gboolean
check_fallback (EchoRadioApi *api, const EchoRadioStation *station, GError **error)
{
  const EchoRadioStation *fallback;

  if (station->fallback != ECHO_RADIO_FALLBACK_STATION)
    return TRUE;
  fallback = g_hash_table_lookup (api->stations, station->fallback_value);
  if (fallback != NULL && strcmp (fallback->community_id, station->community_id) == 0 &&
      fallback->stream_url != NULL)
    return TRUE;
  g_set_error_literal (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
      "fallback must name another station of this community that has a streamUrl");
  return FALSE;
}

static gboolean
save_station (EchoRadioApi *api, EchoRadioStation *station, GError **error)
{
  g_autofree char *text = echo_radio_station_serialize (station);

  return echo_store_put (api->store, ECHO_RADIO_STATIONS_COLLECTION, station->id, text,
      error);
}

static void
handle_stations (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (GList) values = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *array;
  GList *l;

  if (community == NULL)
    return;
  values = g_hash_table_get_values (api->stations);
  array = json_array_new ();
  for (l = values; l != NULL; l = l->next) {
    EchoRadioStation *station = l->data;

    if (strcmp (station->community_id, community) == 0)
      json_array_add_element (array, echo_radio_station_to_json (station));
  }
  node = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_array_member (json_node_get_object (node), "stations", array);
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_station_create (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = NULL;
  g_autoptr (EchoRadioStation) station = NULL;
  EchoRadioStation *created;
  g_autofree char *id = NULL;

  if (community == NULL || !check_role (request, manager_roles, "manage stations"))
    return;
  if (community_station_count (api, community) >= MAX_STATIONS_PER_COMMUNITY) {
    echo_request_reply_error (request, SOUP_STATUS_CONFLICT, "CONFLICT",
        "a community has at most 100 stations", NULL);
    return;
  }
  id = g_uuid_string_random ();
  if ((body = echo_request_get_json_object (request, &error)) == NULL ||
      (station = echo_radio_station_from_api (json_node_get_object (body), NULL, id,
              community, echo_clock_now_ms (), &error)) == NULL ||
      !check_fallback (api, station, &error) || !save_station (api, station, &error)) {
    reply_error (request, error);
    return;
  }
  reply_station (request, SOUP_STATUS_CREATED, station);
  created = g_steal_pointer (&station);
  g_hash_table_insert (api->stations, created->id, created);
}

static void
handle_station_get (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  EchoRadioStation *station;

  if (community != NULL && (station = path_station (api, request, community)) != NULL)
    reply_station (request, SOUP_STATUS_OK, station);
}

static void
handle_station_put (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = NULL;
  EchoRadioStation *old, *updated;
  Community *c;

  if (community == NULL || !check_role (request, manager_roles, "manage stations") ||
      (old = path_station (api, request, community)) == NULL)
    return;
  if ((body = echo_request_get_json_object (request, &error)) == NULL ||
      (updated = echo_radio_station_from_api (json_node_get_object (body), old, NULL, NULL,
              echo_clock_now_ms (), &error)) == NULL) {
    reply_error (request, error);
    return;
  }
  if (!check_fallback (api, updated, &error) || !save_station (api, updated, &error)) {
    echo_radio_station_free (updated);
    reply_error (request, error);
    return;
  }
  /* replace, not insert: the key is the station's own id, freed with the old station */
  g_hash_table_replace (api->stations, updated->id, updated);
  reply_station (request, SOUP_STATUS_OK, updated);
  /* a playing station takes its new settings at once */
  c = g_hash_table_lookup (api->communities, community);
  if (c != NULL && c->mode == MODE_RADIO && g_strcmp0 (c->station_id, updated->id) == 0) {
    if (!updated->enabled)
      switch_mode (c, MODE_NONE, NULL, NULL);
    else if (!start_radio (c, &error))
      on_player_failed (NULL, error, c);
  }
}

static void
handle_station_delete (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  EchoRadioStation *station;
  Community *c;

  if (community == NULL || !check_role (request, manager_roles, "manage stations") ||
      (station = path_station (api, request, community)) == NULL)
    return;
  id = g_strdup (station->id);
  if (!echo_store_delete (api->store, ECHO_RADIO_STATIONS_COLLECTION, id, &error)) {
    reply_error (request, error);
    return;
  }
  c = g_hash_table_lookup (api->communities, community);
  if (c != NULL && g_strcmp0 (c->station_id, id) == 0) {
    if (c->mode == MODE_RADIO)
      switch_mode (c, MODE_NONE, NULL, NULL);
    g_clear_pointer (&c->station_id, g_free);
    save_state (c);
  }
  g_hash_table_remove (api->stations, id);
  echo_request_reply_empty (request, SOUP_STATUS_NO_CONTENT);
}

static void
handle_state (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (JsonNode) node = NULL;

  if (community == NULL)
    return;
  node = json_node_init_object (json_node_alloc (),
      state_object (community_get (api, community)));
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

static void
handle_mode (EchoRequest *request, gpointer data)
{
  EchoRadioApi *api = data;
  const char *community = path_community (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = NULL;
  g_autofree char *mode_text = NULL, *station_id = NULL;
  g_autoptr (JsonNode) node = NULL;
  Community *c;
  guint mode;

  if (community == NULL || !check_role (request, controller_roles, "switch the mode"))
    return;
  if ((body = echo_request_get_json_object (request, &error)) == NULL ||
      !echo_music_json_get_string (json_node_get_object (body), "mode", TRUE, &mode_text,
          &error) ||
      !echo_music_json_get_string (json_node_get_object (body), "stationId", FALSE,
          &station_id, &error)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        error->message, NULL);
    return;
  }
  for (mode = 0; mode < G_N_ELEMENTS (mode_names); mode++)
    if (strcmp (mode_text, mode_names[mode]) == 0)
      break;
  if (mode == G_N_ELEMENTS (mode_names)) {
    echo_request_reply_error (request, SOUP_STATUS_BAD_REQUEST, "INVALID_REQUEST",
        "mode must be \"radio\", \"music\" or \"none\"", NULL);
    return;
  }
  c = community_get (api, community);
  if (!switch_mode (c, (Mode) mode, station_id, &error)) {
    reply_error (request, error);
    return;
  }
  node = json_node_init_object (json_node_alloc (), state_object (c));
  echo_request_reply_node (request, SOUP_STATUS_OK, node);
}

/* {"type":"radio:subscribe","communityId"}: the radio room, and the state at once. */
static gboolean
hub_radio (EchoMusicClient *client, const char *type, JsonObject *message, GError **error,
    gpointer data)
{
  EchoRadioApi *api = data;
  g_autofree char *community = NULL;
  g_autofree char *room = NULL;
  g_autoptr (JsonNode) fields = NULL;

  if (strcmp (type, "radio:subscribe") != 0) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "unknown message type \"%s\"", type);
    return FALSE;
  }
  if (!echo_music_json_get_string (message, "communityId", TRUE, &community, error) ||
      !echo_music_check_id ("communityId", community, error))
    return FALSE;
  room = g_strconcat ("radio:", community, NULL);
  if (!echo_music_client_join_room (client, room, error))
    return FALSE;
  fields = json_node_init_object (json_node_alloc (),
      state_object (community_get (api, community)));
  echo_music_client_send (client, "radio:state", fields);
  return TRUE;
}

/* --- start and stop --- */

static gboolean
restore (EchoRadioApi *api, GError **error)
{
  g_autoptr (GPtrArray) stations = echo_store_list (api->store,
      ECHO_RADIO_STATIONS_COLLECTION, error);
  g_autoptr (GPtrArray) states = NULL;
  guint i;

  if (stations == NULL)
    return FALSE;
  for (i = 0; i < stations->len; i++) {
    EchoStoreDocument *doc = g_ptr_array_index (stations, i);
    g_autoptr (GError) local = NULL;
    EchoRadioStation *station = echo_radio_station_deserialize (doc->json, &local);

    if (station == NULL)
      echo_log_event (G_LOG_LEVEL_WARNING, NULL, NULL, 0, "skipping stored station %s: %s",
          doc->id, local->message);
    else
      g_hash_table_insert (api->stations, station->id, station);
  }
  states = echo_store_list (api->store, ECHO_RADIO_STATE_COLLECTION, error);
  if (states == NULL)
    return FALSE;
  for (i = 0; i < states->len; i++) {
    EchoStoreDocument *doc = g_ptr_array_index (states, i);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) local = NULL;
    JsonObject *obj;
    Community *c;
    guint mode;

    if (!json_parser_load_from_data (parser, doc->json, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)) ||
        !echo_music_id_is_valid (doc->id))
      continue;
    obj = json_node_get_object (json_parser_get_root (parser));
    c = community_get (api, doc->id);
    for (mode = 0; mode < G_N_ELEMENTS (mode_names); mode++)
      if (g_strcmp0 (json_object_get_string_member_with_default (obj, "mode", ""),
              mode_names[mode]) == 0)
        c->mode = (Mode) mode;
    for (mode = 0; mode < G_N_ELEMENTS (mode_names); mode++)
      if (g_strcmp0 (json_object_get_string_member_with_default (obj, "previousMode", ""),
              mode_names[mode]) == 0)
        c->previous = (Mode) mode;
    c->station_id = g_strdup (json_object_get_string_member_with_default (obj,
            "currentStationId", NULL));
    if (json_object_has_member (obj, "sessionId") &&
        echo_music_id_is_valid (json_object_get_string_member (obj, "sessionId"))) {
      g_free (c->session_id);
      c->session_id = g_strdup (json_object_get_string_member (obj, "sessionId"));
    }
    c->switched_at_ms = json_object_get_int_member_with_default (obj, "switchedAt", 0);
    if (json_object_has_member (obj, "pausedMusicSessions") &&
        JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "pausedMusicSessions"))) {
      JsonArray *paused = json_object_get_array_member (obj, "pausedMusicSessions");
      guint j;

      for (j = 0; j < json_array_get_length (paused); j++)
        if (json_node_get_value_type (json_array_get_element (paused, j)) == G_TYPE_STRING)
          g_ptr_array_add (c->paused_music, g_strdup (json_array_get_string_element (paused,
                      j)));
    }
    if (c->mode == MODE_RADIO && (c->station_id == NULL ||
            g_hash_table_lookup (api->stations, c->station_id) == NULL ||
            !start_radio (c, &local))) {
      echo_log_event (G_LOG_LEVEL_WARNING, NULL, NULL, 0,
          "community %s was in radio mode but its station cannot play (%s): mode none",
          c->id, local != NULL ? local->message : "the station is gone");
      c->mode = MODE_NONE;
    }
  }
  return TRUE;
}

EchoRadioApi *
echo_radio_api_new (EchoServer *server, EchoStore *store, EchoPipelineFactory *factory,
    EchoRadioMounts *mounts, EchoMusicApi *music, const EchoConfig *config, GError **error)
{
  static const struct {
    const char *method;
    const char *pattern;
    EchoRouteHandler handler;
    gsize body_limit;
  } routes[] = {
    { "GET", PREFIX "/stations", handle_stations, 0 },
    { "POST", PREFIX "/stations", handle_station_create, BODY_LIMIT },
    { "GET", PREFIX "/stations/{stationId}", handle_station_get, 0 },
    { "PUT", PREFIX "/stations/{stationId}", handle_station_put, BODY_LIMIT },
    { "DELETE", PREFIX "/stations/{stationId}", handle_station_delete, 0 },
    { "GET", PREFIX "/state", handle_state, 0 },
    { "POST", PREFIX "/mode", handle_mode, BODY_LIMIT },
  };
  EchoRadioMountObserver observer = {
    on_source_started, on_source_data, on_source_metadata, on_source_ended
  };
  g_autoptr (EchoRadioApi) api = g_new0 (EchoRadioApi, 1);
  guint i;

  api->server = server;
  api->store = store;
  api->factory = factory;
  api->mounts = mounts;
  api->music = music;
  api->hub = echo_music_api_get_hub (music);
  api->config = config;
  api->stations = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) echo_radio_station_free);
  api->communities = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, community_free);
  api->mount_types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  api->cancellable = g_cancellable_new ();
  api->observer = echo_radio_mounts_add_observer (mounts, &observer, api, NULL);
  if (!restore (api, error))
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (routes); i++)
    echo_server_add_route (server, routes[i].method, routes[i].pattern,
        ECHO_ROUTE_AUTH_USER, routes[i].body_limit, routes[i].handler, api);
  echo_music_hub_add_handler (api->hub, "radio:", hub_radio, api);
  echo_music_api_set_play_hook (music, before_music_plays, api);
  return g_steal_pointer (&api);
}

void
echo_radio_api_free (EchoRadioApi *api)
{
  if (api == NULL)
    return;
  g_cancellable_cancel (api->cancellable);
  if (api->observer != 0)
    echo_radio_mounts_remove_observer (api->mounts, api->observer);
  if (api->music != NULL)
    echo_music_api_set_play_hook (api->music, NULL, NULL);
  g_hash_table_unref (api->communities);
  g_hash_table_unref (api->stations);
  g_hash_table_unref (api->mount_types);
  g_object_unref (api->cancellable);
  g_free (api);
}
