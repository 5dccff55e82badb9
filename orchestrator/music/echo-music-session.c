/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-session.c: a music session: permissions, the playback timeline over the queue,
 * the API JSON and the store form.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-session.h"

#include <string.h>

#include "echo-music-error.h"
#include "echo-music-id.h"
#include "echo-music-json.h"

#define STORE_FORMAT_VERSION 1

/* Bounds of stored times and offsets: far beyond any real value, small enough that sums of
 * two of them never overflow a gint64. */
#define MAX_STORED_MS G_GINT64_CONSTANT (1000000000000000)

struct _EchoMusicSession
{
  char *id;
  char *server_id;
  char *voice_channel_id;
  char *created_by;

  EchoMusicState state;
  EchoMusicQueue *queue;
  gint64 started_at_ms;         /* PLAYING only; else 0 */
  gint64 offset_ms;
  /* The current item was never started by a player: a track cued by STOP, or a server-side
   * track restored from the store. PLAY starts it as a fresh track (start lead, or LOADING). */
  gboolean cued;

  EchoLoopMode loop;
  gboolean shuffle;
  guint volume;
  gboolean dj_mode;

  gint64 created_at_ms;
  gint64 updated_at_ms;
  guint64 version;

  GHashTable *members;          /* user id -> GStrv roles */
  GHashTable *permissions;      /* user id -> GINT_TO_POINTER (can_control) */

  gint64 start_lead_ms;
  GRand *rand;
};

static const char *const state_names[] = { "IDLE", "LOADING", "PLAYING", "PAUSED" };
static const char *const action_names[] = { "play", "pause", "skip", "back", "seek", "stop" };
static const char *const dj_roles[] = { "admin", "moderator", "mod", "dj" };

const char *
echo_music_state_to_string (EchoMusicState state)
{
  g_return_val_if_fail (state <= ECHO_MUSIC_STATE_PAUSED, NULL);
  return state_names[state];
}

gboolean
echo_music_state_from_string (const char *text, EchoMusicState *state)
{
  guint i;

  for (i = 0; text != NULL && i < G_N_ELEMENTS (state_names); i++) {
    if (strcmp (text, state_names[i]) == 0) {
      *state = (EchoMusicState) i;
      return TRUE;
    }
  }
  return FALSE;
}

const char *
echo_music_action_to_string (EchoMusicAction action)
{
  g_return_val_if_fail (action <= ECHO_MUSIC_ACTION_STOP, NULL);
  return action_names[action];
}

gboolean
echo_music_action_from_string (const char *text, EchoMusicAction *action)
{
  guint i;

  for (i = 0; text != NULL && i < G_N_ELEMENTS (action_names); i++) {
    if (g_ascii_strcasecmp (text, action_names[i]) == 0) {
      *action = (EchoMusicAction) i;
      return TRUE;
    }
  }
  return FALSE;
}

void
echo_music_session_config_init_defaults (EchoMusicSessionConfig *config)
{
  g_return_if_fail (config != NULL);
  config->max_items = ECHO_MUSIC_QUEUE_DEFAULT_MAX_ITEMS;
  config->history_limit = ECHO_MUSIC_QUEUE_DEFAULT_HISTORY_LIMIT;
  config->start_lead_ms = ECHO_MUSIC_SESSION_DEFAULT_START_LEAD_MS;
}

static EchoMusicSession *
session_alloc (const EchoMusicSessionConfig *config)
{
  EchoMusicSession *session = g_new0 (EchoMusicSession, 1);
  EchoMusicSessionConfig defaults;

  if (config == NULL) {
    echo_music_session_config_init_defaults (&defaults);
    config = &defaults;
  }
  session->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_strfreev);
  session->permissions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  session->start_lead_ms = MAX (config->start_lead_ms, 0);
  session->rand = g_rand_new ();
  session->volume = 100;
  return session;
}

EchoMusicSession *
echo_music_session_new (const char *server_id, const char *voice_channel_id,
    const char *creator, const EchoMusicSessionConfig *config, gint64 now_ms)
{
  EchoMusicSession *session;
  EchoMusicSessionConfig defaults;

  g_return_val_if_fail (server_id != NULL, NULL);
  g_return_val_if_fail (voice_channel_id != NULL, NULL);
  g_return_val_if_fail (creator != NULL && *creator != '\0', NULL);

  if (config == NULL) {
    echo_music_session_config_init_defaults (&defaults);
    config = &defaults;
  }
  g_return_val_if_fail (config->max_items >= 1, NULL);

  session = session_alloc (config);
  session->id = g_uuid_string_random ();
  session->server_id = g_strdup (server_id);
  session->voice_channel_id = g_strdup (voice_channel_id);
  session->created_by = g_strdup (creator);
  session->queue = echo_music_queue_new (config->max_items, config->history_limit);
  session->created_at_ms = now_ms;
  session->updated_at_ms = now_ms;
  session->version = 1;
  g_hash_table_insert (session->members, g_strdup (creator), g_new0 (char *, 1));
  return session;
}

void
echo_music_session_free (EchoMusicSession *session)
{
  if (session == NULL)
    return;
  g_free (session->id);
  g_free (session->server_id);
  g_free (session->voice_channel_id);
  g_free (session->created_by);
  echo_music_queue_free (session->queue);
  g_hash_table_unref (session->members);
  g_hash_table_unref (session->permissions);
  g_rand_free (session->rand);
  g_free (session);
}

void
echo_music_session_set_random_seed (EchoMusicSession *session, guint32 seed)
{
  g_return_if_fail (session != NULL);
  g_rand_set_seed (session->rand, seed);
}

const char *
echo_music_session_get_id (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->id;
}

const char *
echo_music_session_get_server_id (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->server_id;
}

const char *
echo_music_session_get_voice_channel_id (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->voice_channel_id;
}

const char *
echo_music_session_get_created_by (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->created_by;
}

EchoMusicState
echo_music_session_get_state (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, ECHO_MUSIC_STATE_IDLE);
  return session->state;
}

EchoMusicQueue *
echo_music_session_get_queue (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->queue;
}

EchoQueueItem *
echo_music_session_get_current (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return echo_music_queue_current (session->queue);
}

gint64
echo_music_session_get_started_at_ms (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->started_at_ms;
}

gint64
echo_music_session_get_offset_ms (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->offset_ms;
}

/* The current track's duration, 0 when unknown or nothing plays. */
static gint64
current_duration_ms (EchoMusicSession * session)
{
  EchoQueueItem *current = echo_music_queue_current (session->queue);

  return current != NULL ? MAX (current->track->duration_ms, 0) : 0;
}

gint64
echo_music_session_get_position_ms (EchoMusicSession *session, gint64 now_ms)
{
  gint64 position, duration;

  g_return_val_if_fail (session != NULL, 0);

  position = session->offset_ms;
  if (session->state == ECHO_MUSIC_STATE_PLAYING)
    position += now_ms - session->started_at_ms;
  duration = current_duration_ms (session);
  if (duration > 0 && position > duration)
    position = duration;
  return position;
}

EchoLoopMode
echo_music_session_get_loop (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, ECHO_LOOP_OFF);
  return session->loop;
}

gboolean
echo_music_session_get_shuffle (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return session->shuffle;
}

guint
echo_music_session_get_volume (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->volume;
}

gboolean
echo_music_session_get_dj_mode (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return session->dj_mode;
}

gboolean
echo_music_session_get_voting (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return echo_music_queue_get_voting (session->queue);
}

gint64
echo_music_session_get_created_at_ms (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->created_at_ms;
}

gint64
echo_music_session_get_updated_at_ms (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->updated_at_ms;
}

guint64
echo_music_session_get_version (EchoMusicSession *session)
{
  g_return_val_if_fail (session != NULL, 0);
  return session->version;
}

gboolean
echo_music_session_check_version (EchoMusicSession *session, guint64 if_version,
    GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);

  if (if_version == session->version)
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT,
      "version %" G_GUINT64_FORMAT " is stale, the session is at version %" G_GUINT64_FORMAT,
      if_version, session->version);
  return FALSE;
}

/* Every successful operation ends here: a change bumps the version once. */
static gboolean
finish (EchoMusicSession * session, EchoMusicChange mask, gint64 now_ms,
    EchoMusicChange * changed)
{
  if (mask != 0) {
    session->version++;
    session->updated_at_ms = now_ms;
  }
  if (changed != NULL)
    *changed = mask;
  return TRUE;
}

/* Permissions ----------------------------------------------------------------------------- */

static gboolean
roles_contain (const char *const *roles, const char *role)
{
  return roles != NULL && g_strv_contains (roles, role);
}

static gboolean
roles_make_dj (const char *const *roles)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (dj_roles); i++)
    if (roles_contain (roles, dj_roles[i]))
      return TRUE;
  return FALSE;
}

static const char *const *
member_roles (EchoMusicSession * session, const char *user)
{
  return user != NULL ? g_hash_table_lookup (session->members, user) : NULL;
}

static gboolean
actor_has_role (EchoMusicSession * session, const EchoMusicActor * actor, const char *role)
{
  return roles_contain (actor->roles, role) ||
      roles_contain (member_roles (session, actor->user), role);
}

gboolean
echo_music_session_is_member (EchoMusicSession *session, const char *user)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return user != NULL && g_hash_table_contains (session->members, user);
}

gboolean
echo_music_session_can_control (EchoMusicSession *session, const char *user)
{
  gpointer value;

  g_return_val_if_fail (session != NULL, FALSE);
  if (user == NULL || !g_hash_table_lookup_extended (session->permissions, user, NULL, &value))
    return TRUE;
  return GPOINTER_TO_INT (value);
}

gboolean
echo_music_session_is_dj (EchoMusicSession *session, const EchoMusicActor *actor)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);

  if (actor->user != NULL && strcmp (actor->user, session->created_by) == 0)
    return TRUE;
  return roles_make_dj (actor->roles) || roles_make_dj (member_roles (session, actor->user));
}

static gboolean
forbid (GError ** error, const char *message)
{
  g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN, message);
  return FALSE;
}

/* In the voice channel, or an admin (who may act from anywhere). */
static gboolean
check_member (EchoMusicSession * session, const EchoMusicActor * actor, GError ** error)
{
  if (actor->service || actor_has_role (session, actor, "admin") ||
      echo_music_session_is_member (session, actor->user))
    return TRUE;
  return forbid (error, "only members of the voice channel may do this");
}

static gboolean
check_control (EchoMusicSession * session, const EchoMusicActor * actor, GError ** error)
{
  if (actor->service)
    return TRUE;
  if (!check_member (session, actor, error))
    return FALSE;
  if (!echo_music_session_can_control (session, actor->user))
    return forbid (error, "this user may not control playback (canControl is off)");
  if (session->dj_mode && !echo_music_session_is_dj (session, actor))
    return forbid (error, "DJ mode is on: only DJs may control playback");
  return TRUE;
}

static gboolean
check_dj (EchoMusicSession * session, const EchoMusicActor * actor, GError ** error)
{
  if (actor->service)
    return TRUE;
  if (!check_member (session, actor, error))
    return FALSE;
  if (!echo_music_session_is_dj (session, actor))
    return forbid (error, "only a DJ may change this");
  return TRUE;
}

/* A user id the operation acts for (the queue records who added or voted). */
static gboolean
check_actor_user (const EchoMusicActor * actor, GError ** error)
{
  if (actor->user != NULL && echo_music_id_is_valid (actor->user))
    return TRUE;
  g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "this needs a valid user id");
  return FALSE;
}

/* Membership ------------------------------------------------------------------------------ */

static gboolean
strv_equal0 (const char *const *a, const char *const *b)
{
  guint i;

  for (i = 0; a[i] != NULL && b[i] != NULL; i++)
    if (strcmp (a[i], b[i]) != 0)
      return FALSE;
  return a[i] == NULL && b[i] == NULL;
}

gboolean
echo_music_session_member_join (EchoMusicSession *session, const char *user,
    const char *const *roles, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  static const char *const no_roles[] = { NULL };
  const char *const *old;
  guint i;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!echo_music_check_id ("user id", user, error))
    return FALSE;
  if (roles == NULL)
    roles = no_roles;
  for (i = 0; roles[i] != NULL; i++) {
    if (!g_utf8_validate (roles[i], -1, NULL) || *roles[i] == '\0' ||
        strlen (roles[i]) > ECHO_MUSIC_ID_MAX_LEN) {
      g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
          "a role must be 1 to 128 bytes of UTF-8");
      return FALSE;
    }
  }
  old = member_roles (session, user);
  if (old != NULL && strv_equal0 (old, roles))
    return finish (session, 0, now_ms, changed);
  g_hash_table_insert (session->members, g_strdup (user), g_strdupv ((char **) roles));
  return finish (session, ECHO_MUSIC_CHANGED_MEMBERS, now_ms, changed);
}

gboolean
echo_music_session_member_leave (EchoMusicSession *session, const char *user, gint64 now_ms,
    EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (user == NULL || !g_hash_table_remove (session->members, user)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "%s is not in the voice channel", user != NULL ? user : "(null)");
    return FALSE;
  }
  return finish (session, ECHO_MUSIC_CHANGED_MEMBERS, now_ms, changed);
}

/* The timeline ---------------------------------------------------------------------------- */

/* Starts the current item from offset_ms as a fresh track: client-played tracks after the
 * start lead, server-side ones through LOADING; IDLE when there is no current item. */
static void
begin_current (EchoMusicSession * session, gint64 now_ms)
{
  EchoQueueItem *current = echo_music_queue_current (session->queue);

  session->cued = FALSE;
  session->started_at_ms = 0;
  if (current == NULL) {
    session->state = ECHO_MUSIC_STATE_IDLE;
    session->offset_ms = 0;
  } else if (echo_track_source_is_server_side (current->track->source)) {
    session->state = ECHO_MUSIC_STATE_LOADING;
  } else {
    session->state = ECHO_MUSIC_STATE_PLAYING;
    session->started_at_ms = now_ms + session->start_lead_ms;
  }
}

/* A new current item (or none) from its beginning. */
static void
begin_new_current (EchoMusicSession * session, gint64 now_ms)
{
  session->offset_ms = 0;
  begin_current (session, now_ms);
}

static EchoMusicChange
advance (EchoMusicSession * session, EchoQueueStatus end, gint64 now_ms)
{
  echo_music_queue_advance (session->queue, end, session->loop, session->shuffle,
      session->rand, now_ms);
  begin_new_current (session, now_ms);
  return ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING | ECHO_MUSIC_CHANGED_QUEUE;
}

static gboolean
is_current (EchoMusicSession * session, const char *item_id)
{
  EchoQueueItem *current = echo_music_queue_current (session->queue);

  return current != NULL && item_id != NULL && strcmp (current->id, item_id) == 0;
}

static gboolean
conflict (GError ** error, const char *message)
{
  g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_CONFLICT, message);
  return FALSE;
}

/* The queue --------------------------------------------------------------------------------- */

GPtrArray *
echo_music_session_queue_add (EchoMusicSession *session, const EchoMusicActor *actor,
    GPtrArray *tracks, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  GPtrArray *items;
  EchoMusicChange mask = ECHO_MUSIC_CHANGED_QUEUE;

  g_return_val_if_fail (session != NULL, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (tracks != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_member (session, actor, error) || !check_actor_user (actor, error))
    return NULL;
  if (tracks->len == 0) {
    g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "no tracks to add");
    return NULL;
  }
  items = echo_music_queue_add_many (session->queue, tracks, actor->user, now_ms, error);
  if (items == NULL)
    return NULL;
  if (session->state == ECHO_MUSIC_STATE_IDLE) {
    echo_music_queue_start (session->queue, session->shuffle, session->rand, now_ms);
    begin_new_current (session, now_ms);
    mask |= ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING;
  }
  finish (session, mask, now_ms, changed);
  return items;
}

gboolean
echo_music_session_queue_remove (EchoMusicSession *session, const EchoMusicActor *actor,
    const char *item_id, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  EchoQueueItem *item;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_member (session, actor, error))
    return FALSE;
  item = echo_music_queue_lookup (session->queue, item_id);
  /* Anyone may take back their own request; other people's need a DJ. An unknown id is
   * reported as such only to those who pass (it tells nothing to the others either way). */
  if (!actor->service && !(item != NULL && actor->user != NULL &&
          strcmp (item->added_by, actor->user) == 0) &&
      !echo_music_session_is_dj (session, actor))
    return forbid (error, "only a DJ may remove tracks other users added");
  if (!echo_music_queue_remove (session->queue, item_id, error))
    return FALSE;
  return finish (session, ECHO_MUSIC_CHANGED_QUEUE, now_ms, changed);
}

gboolean
echo_music_session_queue_reorder (EchoMusicSession *session, const EchoMusicActor *actor,
    const char *item_id, guint new_position, gint64 now_ms, EchoMusicChange *changed,
    GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_dj (session, actor, error) ||
      !echo_music_queue_reorder (session->queue, item_id, new_position, error))
    return FALSE;
  return finish (session, ECHO_MUSIC_CHANGED_QUEUE, now_ms, changed);
}

gboolean
echo_music_session_queue_vote (EchoMusicSession *session, const EchoMusicActor *actor,
    const char *item_id, int value, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_autoptr (GError) vote_error = NULL;
  gboolean counted;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (item_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_member (session, actor, error) || !check_actor_user (actor, error))
    return FALSE;
  counted = echo_music_queue_vote (session->queue, item_id, actor->user, value, &vote_error);
  if (vote_error != NULL) {
    g_propagate_error (error, g_steal_pointer (&vote_error));
    return FALSE;
  }
  return finish (session, counted ? ECHO_MUSIC_CHANGED_QUEUE : 0, now_ms, changed);
}

gboolean
echo_music_session_queue_clear (EchoMusicSession *session, const EchoMusicActor *actor,
    gint64 now_ms, guint *removed, EchoMusicChange *changed, GError **error)
{
  guint n;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_dj (session, actor, error))
    return FALSE;
  n = echo_music_queue_clear (session->queue);
  if (removed != NULL)
    *removed = n;
  return finish (session, n > 0 ? ECHO_MUSIC_CHANGED_QUEUE : 0, now_ms, changed);
}

/* Control --------------------------------------------------------------------------------- */

static gboolean
control_play (EchoMusicSession * session, gint64 now_ms, EchoMusicChange * mask,
    GError ** error)
{
  switch (session->state) {
    case ECHO_MUSIC_STATE_PLAYING:
    case ECHO_MUSIC_STATE_LOADING:
      return TRUE;
    case ECHO_MUSIC_STATE_PAUSED:
      if (session->cued) {
        begin_current (session, now_ms);
      } else {
        session->state = ECHO_MUSIC_STATE_PLAYING;
        session->started_at_ms = now_ms;
      }
      *mask = ECHO_MUSIC_CHANGED_STATE;
      return TRUE;
    case ECHO_MUSIC_STATE_IDLE:
    default:
      if (echo_music_queue_get_length (session->queue) == 0)
        return conflict (error, "nothing to play: the queue is empty");
      echo_music_queue_start (session->queue, session->shuffle, session->rand, now_ms);
      begin_new_current (session, now_ms);
      *mask = ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
          ECHO_MUSIC_CHANGED_QUEUE;
      return TRUE;
  }
}

static gboolean
control_seek (EchoMusicSession * session, gint64 value_ms, gint64 now_ms,
    EchoMusicChange * mask, GError ** error)
{
  gint64 duration = current_duration_ms (session);

  if (session->state == ECHO_MUSIC_STATE_IDLE)
    return conflict (error, "nothing is playing");
  if (value_ms < 0 || value_ms > MAX_STORED_MS || (duration > 0 && value_ms > duration)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "seek position %" G_GINT64_FORMAT " ms is outside the track (0..%" G_GINT64_FORMAT
        " ms)", value_ms, duration > 0 ? duration : MAX_STORED_MS);
    return FALSE;
  }
  session->offset_ms = value_ms;
  if (session->state == ECHO_MUSIC_STATE_PLAYING)
    session->started_at_ms = now_ms;
  *mask = ECHO_MUSIC_CHANGED_STATE;
  return TRUE;
}

gboolean
echo_music_session_control (EchoMusicSession *session, const EchoMusicActor *actor,
    EchoMusicAction action, gint64 value_ms, gint64 now_ms, EchoMusicChange *changed,
    GError **error)
{
  EchoMusicChange mask = 0;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (action <= ECHO_MUSIC_ACTION_STOP, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_control (session, actor, error))
    return FALSE;

  switch (action) {
    case ECHO_MUSIC_ACTION_PLAY:
      if (!control_play (session, now_ms, &mask, error))
        return FALSE;
      break;
    case ECHO_MUSIC_ACTION_PAUSE:
      if (session->state != ECHO_MUSIC_STATE_PLAYING)
        return conflict (error, "nothing is playing");
      /* Paused during the start lead: it resumes from the beginning. */
      session->offset_ms = MAX (echo_music_session_get_position_ms (session, now_ms), 0);
      session->started_at_ms = 0;
      session->state = ECHO_MUSIC_STATE_PAUSED;
      mask = ECHO_MUSIC_CHANGED_STATE;
      break;
    case ECHO_MUSIC_ACTION_SKIP:
      if (session->state == ECHO_MUSIC_STATE_IDLE)
        return conflict (error, "nothing is playing");
      mask = advance (session, ECHO_QUEUE_SKIPPED, now_ms);
      break;
    case ECHO_MUSIC_ACTION_BACK:
      if (echo_music_queue_back (session->queue, now_ms, error) == NULL)
        return FALSE;
      begin_new_current (session, now_ms);
      mask = ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
          ECHO_MUSIC_CHANGED_QUEUE;
      break;
    case ECHO_MUSIC_ACTION_SEEK:
      if (!control_seek (session, value_ms, now_ms, &mask, error))
        return FALSE;
      break;
    case ECHO_MUSIC_ACTION_STOP:
    default:
      if (session->state == ECHO_MUSIC_STATE_IDLE)
        return conflict (error, "nothing is playing");
      mask = advance (session, ECHO_QUEUE_SKIPPED, now_ms);
      if (echo_music_queue_current (session->queue) != NULL) {
        /* The queue started the next item; hold it at its beginning until PLAY. */
        session->state = ECHO_MUSIC_STATE_PAUSED;
        session->started_at_ms = 0;
        session->offset_ms = 0;
        session->cued = TRUE;
      }
      break;
  }
  return finish (session, mask, now_ms, changed);
}

gboolean
echo_music_session_set_volume (EchoMusicSession *session, const EchoMusicActor *actor,
    guint volume, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_control (session, actor, error))
    return FALSE;
  if (volume > 100) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "volume %u is outside 0..100", volume);
    return FALSE;
  }
  if (volume == session->volume)
    return finish (session, 0, now_ms, changed);
  session->volume = volume;
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS, now_ms, changed);
}

gboolean
echo_music_session_set_loop (EchoMusicSession *session, const EchoMusicActor *actor,
    EchoLoopMode loop, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_control (session, actor, error))
    return FALSE;
  if (loop > ECHO_LOOP_ALL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "unknown loop mode %d",
        (int) loop);
    return FALSE;
  }
  if (loop == session->loop)
    return finish (session, 0, now_ms, changed);
  session->loop = loop;
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS, now_ms, changed);
}

gboolean
echo_music_session_set_shuffle (EchoMusicSession *session, const EchoMusicActor *actor,
    gboolean shuffle, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_control (session, actor, error))
    return FALSE;
  shuffle = shuffle != FALSE;
  if (shuffle == session->shuffle)
    return finish (session, 0, now_ms, changed);
  session->shuffle = shuffle;
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS, now_ms, changed);
}

gboolean
echo_music_session_set_dj_mode (EchoMusicSession *session, const EchoMusicActor *actor,
    gboolean dj_mode, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_dj (session, actor, error))
    return FALSE;
  dj_mode = dj_mode != FALSE;
  if (dj_mode == session->dj_mode)
    return finish (session, 0, now_ms, changed);
  session->dj_mode = dj_mode;
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS, now_ms, changed);
}

gboolean
echo_music_session_set_voting (EchoMusicSession *session, const EchoMusicActor *actor,
    gboolean voting, gint64 now_ms, EchoMusicChange *changed, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_dj (session, actor, error))
    return FALSE;
  voting = voting != FALSE;
  if (voting == echo_music_queue_get_voting (session->queue))
    return finish (session, 0, now_ms, changed);
  echo_music_queue_set_voting (session->queue, voting);
  /* Switching voting on sorts the queue by votes. */
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS | ECHO_MUSIC_CHANGED_QUEUE, now_ms,
      changed);
}

gboolean
echo_music_session_set_permission (EchoMusicSession *session, const EchoMusicActor *actor,
    const char *user, gboolean can_control, gint64 now_ms, EchoMusicChange *changed,
    GError **error)
{
  gpointer old;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_dj (session, actor, error) || !echo_music_check_id ("user id", user, error))
    return FALSE;
  can_control = can_control != FALSE;
  if (g_hash_table_lookup_extended (session->permissions, user, NULL, &old) &&
      GPOINTER_TO_INT (old) == can_control)
    return finish (session, 0, now_ms, changed);
  g_hash_table_insert (session->permissions, g_strdup (user), GINT_TO_POINTER (can_control));
  return finish (session, ECHO_MUSIC_CHANGED_SETTINGS, now_ms, changed);
}

/* Players' events ------------------------------------------------------------------------- */

EchoMusicChange
echo_music_session_track_ended (EchoMusicSession *session, const char *item_id,
    gint64 now_ms)
{
  EchoQueueItem *current;
  EchoMusicChange mask;

  g_return_val_if_fail (session != NULL, 0);

  if (!is_current (session, item_id))
    return 0;
  current = echo_music_queue_current (session->queue);
  if (session->state != ECHO_MUSIC_STATE_PLAYING &&
      !echo_track_source_is_server_side (current->track->source))
    return 0;
  mask = advance (session, ECHO_QUEUE_PLAYED, now_ms);
  finish (session, mask, now_ms, NULL);
  return mask;
}

EchoMusicChange
echo_music_session_playback_started (EchoMusicSession *session, const char *item_id,
    gint64 now_ms)
{
  g_return_val_if_fail (session != NULL, 0);

  if (!is_current (session, item_id) || session->state != ECHO_MUSIC_STATE_LOADING)
    return 0;
  session->state = ECHO_MUSIC_STATE_PLAYING;
  session->started_at_ms = now_ms;
  finish (session, ECHO_MUSIC_CHANGED_STATE, now_ms, NULL);
  return ECHO_MUSIC_CHANGED_STATE;
}

EchoMusicChange
echo_music_session_playback_failed (EchoMusicSession *session, const char *item_id,
    gint64 now_ms)
{
  EchoMusicChange mask;

  g_return_val_if_fail (session != NULL, 0);

  if (!is_current (session, item_id))
    return 0;
  mask = advance (session, ECHO_QUEUE_SKIPPED, now_ms);
  finish (session, mask, now_ms, NULL);
  return mask;
}

gint64
echo_music_session_next_deadline_ms (EchoMusicSession *session)
{
  EchoQueueItem *current;
  gint64 duration;

  g_return_val_if_fail (session != NULL, 0);

  current = echo_music_queue_current (session->queue);
  if (current == NULL || session->state != ECHO_MUSIC_STATE_PLAYING ||
      echo_track_source_is_server_side (current->track->source))
    return 0;
  duration = current_duration_ms (session);
  if (duration <= 0)
    return 0;
  return session->started_at_ms + duration - session->offset_ms;
}

/* JSON ------------------------------------------------------------------------------------ */

static GPtrArray *
sorted_keys (GHashTable * table)
{
  GPtrArray *keys = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);
  return keys;
}

/* g_ptr_array_sort passes pointers to the elements. */
static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
add_time_member (JsonBuilder * b, const char *name, gint64 unix_ms)
{
  g_autofree char *text = echo_music_json_format_time_ms (unix_ms);

  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

static void
add_string_array (JsonBuilder * b, const char *const *strings)
{
  guint i;

  json_builder_begin_array (b);
  for (i = 0; strings != NULL && strings[i] != NULL; i++)
    json_builder_add_string_value (b, strings[i]);
  json_builder_end_array (b);
}

JsonNode *
echo_music_session_to_json (EchoMusicSession *session, gint64 now_ms)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) members = NULL;
  g_autoptr (GPtrArray) permitted = NULL;
  EchoQueueItem *current;
  guint i;

  g_return_val_if_fail (session != NULL, NULL);

  current = echo_music_queue_current (session->queue);
  members = sorted_keys (session->members);
  g_ptr_array_sort (members, compare_strings);
  permitted = sorted_keys (session->permissions);
  g_ptr_array_sort (permitted, compare_strings);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, session->id);
  json_builder_set_member_name (b, "serverId");
  json_builder_add_string_value (b, session->server_id);
  json_builder_set_member_name (b, "voiceChannelId");
  json_builder_add_string_value (b, session->voice_channel_id);
  json_builder_set_member_name (b, "createdById");
  json_builder_add_string_value (b, session->created_by);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, echo_music_state_to_string (session->state));
  json_builder_set_member_name (b, "currentTrack");
  if (current != NULL)
    json_builder_add_value (b, echo_track_to_json (current->track));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "currentItemId");
  if (current != NULL)
    json_builder_add_string_value (b, current->id);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "startedAt");
  if (session->state == ECHO_MUSIC_STATE_PLAYING)
    json_builder_add_int_value (b, session->started_at_ms);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "offsetMs");
  json_builder_add_int_value (b, session->offset_ms);
  json_builder_set_member_name (b, "positionMs");
  json_builder_add_int_value (b, echo_music_session_get_position_ms (session, now_ms));
  json_builder_set_member_name (b, "serverTime");
  json_builder_add_int_value (b, now_ms);
  json_builder_set_member_name (b, "loopMode");
  json_builder_add_string_value (b, echo_loop_mode_to_string (session->loop));
  json_builder_set_member_name (b, "shuffle");
  json_builder_add_boolean_value (b, session->shuffle);
  json_builder_set_member_name (b, "volume");
  json_builder_add_int_value (b, session->volume);
  json_builder_set_member_name (b, "djMode");
  json_builder_add_boolean_value (b, session->dj_mode);
  json_builder_set_member_name (b, "voting");
  json_builder_add_boolean_value (b, echo_music_queue_get_voting (session->queue));
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, (gint64) session->version);
  add_time_member (b, "createdAt", session->created_at_ms);
  add_time_member (b, "updatedAt", session->updated_at_ms);

  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (i = 0; i < members->len; i++) {
    const char *user = g_ptr_array_index (members, i);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "userId");
    json_builder_add_string_value (b, user);
    json_builder_set_member_name (b, "roles");
    add_string_array (b, member_roles (session, user));
    json_builder_set_member_name (b, "canControl");
    json_builder_add_boolean_value (b, echo_music_session_can_control (session, user));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "permissions");
  json_builder_begin_array (b);
  for (i = 0; i < permitted->len; i++) {
    const char *user = g_ptr_array_index (permitted, i);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "profileId");
    json_builder_add_string_value (b, user);
    json_builder_set_member_name (b, "canControl");
    json_builder_add_boolean_value (b, echo_music_session_can_control (session, user));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
echo_music_session_to_store_json (EchoMusicSession *session)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) members = NULL;
  g_autoptr (GPtrArray) permitted = NULL;
  g_autofree char *queue_text = NULL;
  JsonNode *queue_node;
  guint i;

  g_return_val_if_fail (session != NULL, NULL);

  members = sorted_keys (session->members);
  g_ptr_array_sort (members, compare_strings);
  permitted = sorted_keys (session->permissions);
  g_ptr_array_sort (permitted, compare_strings);
  queue_text = echo_music_queue_serialize (session->queue);
  queue_node = json_from_string (queue_text, NULL);
  g_return_val_if_fail (queue_node != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "formatVersion");
  json_builder_add_int_value (b, STORE_FORMAT_VERSION);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, session->id);
  json_builder_set_member_name (b, "serverId");
  json_builder_add_string_value (b, session->server_id);
  json_builder_set_member_name (b, "voiceChannelId");
  json_builder_add_string_value (b, session->voice_channel_id);
  json_builder_set_member_name (b, "createdById");
  json_builder_add_string_value (b, session->created_by);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, echo_music_state_to_string (session->state));
  json_builder_set_member_name (b, "startedAt");
  if (session->state == ECHO_MUSIC_STATE_PLAYING)
    json_builder_add_int_value (b, session->started_at_ms);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "offsetMs");
  json_builder_add_int_value (b, session->offset_ms);
  json_builder_set_member_name (b, "cued");
  json_builder_add_boolean_value (b, session->cued);
  json_builder_set_member_name (b, "loopMode");
  json_builder_add_string_value (b, echo_loop_mode_to_string (session->loop));
  json_builder_set_member_name (b, "shuffle");
  json_builder_add_boolean_value (b, session->shuffle);
  json_builder_set_member_name (b, "volume");
  json_builder_add_int_value (b, session->volume);
  json_builder_set_member_name (b, "djMode");
  json_builder_add_boolean_value (b, session->dj_mode);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, (gint64) session->version);
  json_builder_set_member_name (b, "createdAt");
  json_builder_add_int_value (b, session->created_at_ms);
  json_builder_set_member_name (b, "updatedAt");
  json_builder_add_int_value (b, session->updated_at_ms);
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (i = 0; i < members->len; i++) {
    const char *user = g_ptr_array_index (members, i);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "userId");
    json_builder_add_string_value (b, user);
    json_builder_set_member_name (b, "roles");
    add_string_array (b, member_roles (session, user));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "permissions");
  json_builder_begin_array (b);
  for (i = 0; i < permitted->len; i++) {
    const char *user = g_ptr_array_index (permitted, i);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "profileId");
    json_builder_add_string_value (b, user);
    json_builder_set_member_name (b, "canControl");
    json_builder_add_boolean_value (b, echo_music_session_can_control (session, user));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "queue");
  json_builder_add_value (b, queue_node);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Reading the store form ------------------------------------------------------------------ */

static gboolean
invalid (GError ** error, const char *message)
{
  g_set_error_literal (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, message);
  return FALSE;
}

static gboolean
read_id (JsonObject * obj, const char *name, char **out, GError ** error)
{
  if (!echo_music_json_get_string (obj, name, TRUE, out, error))
    return FALSE;
  return echo_music_check_id (name, *out, error);
}

static gboolean
read_roles (JsonObject * obj, char ***out, GError ** error)
{
  JsonArray *array;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint i;

  if (!echo_music_json_get_array (obj, "roles", &array, error))
    return FALSE;
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *node = json_array_get_element (array, i);

    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
        *json_node_get_string (node) == '\0')
      return invalid (error, "\"roles\" holds something that is not a role name");
    g_strv_builder_add (builder, json_node_get_string (node));
  }
  *out = g_strv_builder_end (builder);
  return TRUE;
}

static gboolean
read_members (EchoMusicSession * session, JsonObject * root, GError ** error)
{
  JsonArray *array;
  guint i;

  if (!echo_music_json_get_array (root, "members", &array, error))
    return FALSE;
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *node = json_array_get_element (array, i);
    g_autofree char *user = NULL;
    char **roles = NULL;

    if (!JSON_NODE_HOLDS_OBJECT (node))
      return invalid (error, "\"members\" holds something that is not an object");
    if (!read_id (json_node_get_object (node), "userId", &user, error) ||
        !read_roles (json_node_get_object (node), &roles, error))
      return FALSE;
    if (g_hash_table_contains (session->members, user)) {
      g_strfreev (roles);
      return invalid (error, "a member is listed twice");
    }
    g_hash_table_insert (session->members, g_steal_pointer (&user), roles);
  }
  return TRUE;
}

static gboolean
read_permissions (EchoMusicSession * session, JsonObject * root, GError ** error)
{
  JsonArray *array;
  guint i;

  if (!echo_music_json_get_array (root, "permissions", &array, error))
    return FALSE;
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *node = json_array_get_element (array, i);
    g_autofree char *user = NULL;
    gboolean can_control;

    if (!JSON_NODE_HOLDS_OBJECT (node))
      return invalid (error, "\"permissions\" holds something that is not an object");
    if (!read_id (json_node_get_object (node), "profileId", &user, error) ||
        !echo_music_json_get_boolean (json_node_get_object (node), "canControl",
            &can_control, error))
      return FALSE;
    if (g_hash_table_contains (session->permissions, user))
      return invalid (error, "a permission is listed twice");
    g_hash_table_insert (session->permissions, g_steal_pointer (&user),
        GINT_TO_POINTER (can_control));
  }
  return TRUE;
}

static gboolean
read_queue (EchoMusicSession * session, JsonObject * root, GError ** error)
{
  JsonObject *queue_obj;
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  if (!echo_music_json_get_object (root, "queue", FALSE, &queue_obj, error))
    return FALSE;
  json_node_set_object (node, queue_obj);
  text = json_to_string (node, FALSE);
  session->queue = echo_music_queue_deserialize (text, error);
  return session->queue != NULL;
}

/* Fills @session from @root; any failure leaves it to be freed. */
static gboolean
read_session (EchoMusicSession * session, JsonObject * root, gint64 now_ms, GError ** error)
{
  g_autofree char *state = NULL;
  g_autofree char *loop = NULL;
  JsonNode *started_at;
  EchoQueueItem *current;
  gint64 value;

  if (!echo_music_json_get_int (root, "formatVersion", STORE_FORMAT_VERSION,
          STORE_FORMAT_VERSION, &value, error) ||
      !read_id (root, "id", &session->id, error) ||
      !read_id (root, "serverId", &session->server_id, error) ||
      !read_id (root, "voiceChannelId", &session->voice_channel_id, error) ||
      !read_id (root, "createdById", &session->created_by, error) ||
      !echo_music_json_get_string (root, "state", TRUE, &state, error) ||
      !echo_music_json_get_int (root, "offsetMs", 0, MAX_STORED_MS, &session->offset_ms,
          error) ||
      !echo_music_json_get_boolean (root, "cued", &session->cued, error) ||
      !echo_music_json_get_string (root, "loopMode", TRUE, &loop, error) ||
      !echo_music_json_get_boolean (root, "shuffle", &session->shuffle, error) ||
      !echo_music_json_get_int (root, "volume", 0, 100, &value, error))
    return FALSE;
  session->volume = (guint) value;
  if (!echo_music_json_get_boolean (root, "djMode", &session->dj_mode, error) ||
      !echo_music_json_get_int (root, "version", 1, G_MAXINT64, &value, error))
    return FALSE;
  session->version = (guint64) value;
  if (!echo_music_json_get_int (root, "createdAt", -MAX_STORED_MS, MAX_STORED_MS,
          &session->created_at_ms, error) ||
      !echo_music_json_get_int (root, "updatedAt", -MAX_STORED_MS, MAX_STORED_MS,
          &session->updated_at_ms, error))
    return FALSE;
  if (!echo_music_state_from_string (state, &session->state))
    return invalid (error, "\"state\" is not a session state");
  if (!echo_loop_mode_from_string (loop, &session->loop))
    return invalid (error, "\"loopMode\" is not a loop mode");

  started_at = json_object_get_member (root, "startedAt");
  if (session->state == ECHO_MUSIC_STATE_PLAYING) {
    if (!echo_music_json_get_int (root, "startedAt", -MAX_STORED_MS, MAX_STORED_MS,
            &session->started_at_ms, error))
      return FALSE;
  } else if (started_at == NULL || !JSON_NODE_HOLDS_NULL (started_at)) {
    return invalid (error, "\"startedAt\" must be null unless the session is playing");
  }
  if (session->cued && session->state != ECHO_MUSIC_STATE_PAUSED)
    return invalid (error, "\"cued\" is set on a session that is not paused");

  if (!read_members (session, root, error) || !read_permissions (session, root, error) ||
      !read_queue (session, root, error))
    return FALSE;

  current = echo_music_queue_current (session->queue);
  if ((current == NULL) != (session->state == ECHO_MUSIC_STATE_IDLE))
    return invalid (error, "\"state\" does not match the queue's playing item");
  if (session->state == ECHO_MUSIC_STATE_IDLE && session->offset_ms != 0)
    return invalid (error, "an idle session has an offset");

  /* The player of a server-side track went away with the old process: the track waits,
   * paused where its timeline is now, for PLAY to load it again. */
  if (current != NULL && echo_track_source_is_server_side (current->track->source) &&
      session->state != ECHO_MUSIC_STATE_PAUSED) {
    session->offset_ms = MAX (echo_music_session_get_position_ms (session, now_ms), 0);
    session->started_at_ms = 0;
    session->state = ECHO_MUSIC_STATE_PAUSED;
  }
  if (current != NULL && echo_track_source_is_server_side (current->track->source))
    session->cued = TRUE;
  return TRUE;
}

EchoMusicSession *
echo_music_session_from_store_json (const char *text, const EchoMusicSessionConfig *config,
    gint64 now_ms, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) read_error = NULL;
  EchoMusicSession *session;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = echo_music_json_parse_object (text, "stored music session", error);
  if (root == NULL)
    return NULL;
  session = session_alloc (config);
  if (!read_session (session, json_node_get_object (root), now_ms, &read_error)) {
    echo_music_session_free (session);
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "stored music session: %s", read_error->message);
    return NULL;
  }
  return session;
}
