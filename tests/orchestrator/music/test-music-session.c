/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-music-session.c: a music session's rules: membership and permissions (DJs, djMode,
 * canControl, admins, the service actor), auto-start (client-played with the start lead,
 * server-side through LOADING), every control action and its refusals, loop and shuffle at
 * track ends, stale player events, deadlines, version and change masks, failures changing
 * nothing (the store form compared before and after), the API JSON, and the store form
 * (round trips, restore rules, truncated and wrong-typed documents).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echo-music-error.h"
#include "echo-music-session.h"

#define T0 G_GINT64_CONSTANT (1700000000000)
#define LEAD 750

static const char *const no_roles[] = { NULL };
static const char *const dj_role[] = { "listener", "dj", NULL };
static const char *const mod_role[] = { "mod", NULL };
static const char *const admin_role[] = { "admin", NULL };

static const EchoMusicActor creator = { "alice", NULL, FALSE };
static const EchoMusicActor bob = { "bob", NULL, FALSE };
static const EchoMusicActor carol = { "carol", NULL, FALSE };
static const EchoMusicActor outsider = { "mallory", NULL, FALSE };
static const EchoMusicActor service = { NULL, NULL, TRUE };

static EchoTrack *
make_track (EchoTrackSource source, guint n, gint64 duration_ms)
{
  g_autofree char *source_id = g_strdup_printf ("id%05u", n);
  g_autofree char *title = g_strdup_printf ("Track %u", n);
  EchoTrack *track = echo_track_new (source, source_id, title);

  g_free (track->id);
  track->id = g_strdup_printf ("track-%u", n);
  track->duration_ms = duration_ms;
  return track;
}

static GPtrArray *
tracks_of (EchoTrackSource source, guint first, guint count)
{
  GPtrArray *tracks = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_track_free);
  guint i;

  for (i = 0; i < count; i++)
    g_ptr_array_add (tracks, make_track (source, first + i, 60000));
  return tracks;
}

/* A session by alice with bob and carol in the channel, random seed fixed. */
static EchoMusicSession *
make_session (void)
{
  EchoMusicSession *session = echo_music_session_new ("guild-1", "voice-1", "alice", NULL,
      T0);
  g_autoptr (GError) error = NULL;

  echo_music_session_set_random_seed (session, 42);
  g_assert_true (echo_music_session_member_join (session, "bob", NULL, T0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (echo_music_session_member_join (session, "carol", no_roles, T0, NULL,
          &error));
  g_assert_no_error (error);
  return session;
}

static void
add_tracks (EchoMusicSession * session, EchoTrackSource source, guint first, guint count,
    gint64 now_ms)
{
  g_autoptr (GPtrArray) tracks = tracks_of (source, first, count);
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GError) error = NULL;

  items = echo_music_session_queue_add (session, &creator, tracks, now_ms, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, count);
}

static const char *
current_title (EchoMusicSession * session)
{
  EchoQueueItem *item = echo_music_session_get_current (session);

  return item != NULL ? item->track->title : NULL;
}

static const char *
current_id (EchoMusicSession * session)
{
  return echo_music_session_get_current (session)->id;
}

/* Asserts that @call fails with @code (in the caller's `error`, cleared afterwards) and
 * leaves the store form unchanged. */
#define ASSERT_FAILS_UNCHANGED(session, code, call) G_STMT_START {              \
    g_autofree char *before_ = echo_music_session_to_store_json (session);      \
    g_autofree char *after_ = NULL;                                             \
    EchoMusicChange changed_ = 0;                                               \
    (void) changed_;                                                            \
    g_assert_no_error (error);                                                  \
    g_assert_false (call);                                                      \
    g_assert_error (error, ECHO_MUSIC_ERROR, code);                             \
    g_clear_error (&error);                                                     \
    after_ = echo_music_session_to_store_json (session);                        \
    g_assert_cmpstr (before_, ==, after_);                                      \
  } G_STMT_END

static void
test_new_session (void)
{
  g_autoptr (EchoMusicSession) session = echo_music_session_new ("g", "v", "alice", NULL, T0);
  g_autoptr (JsonNode) json = echo_music_session_to_json (session, T0 + 5);
  JsonObject *obj = json_node_get_object (json);
  JsonArray *members;

  g_assert_true (g_uuid_string_is_valid (echo_music_session_get_id (session)));
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_IDLE);
  g_assert_cmpuint (echo_music_session_get_volume (session), ==, 100);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, 1);
  g_assert_true (echo_music_session_is_member (session, "alice"));
  g_assert_true (echo_music_session_is_dj (session, &creator));
  g_assert_false (echo_music_session_is_dj (session, &bob));
  g_assert_null (echo_music_session_get_current (session));
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, 0);

  g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==,
      echo_music_session_get_id (session));
  g_assert_cmpstr (json_object_get_string_member (obj, "serverId"), ==, "g");
  g_assert_cmpstr (json_object_get_string_member (obj, "voiceChannelId"), ==, "v");
  g_assert_cmpstr (json_object_get_string_member (obj, "createdById"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "IDLE");
  g_assert_true (json_object_get_null_member (obj, "currentTrack"));
  g_assert_true (json_object_get_null_member (obj, "currentItemId"));
  g_assert_true (json_object_get_null_member (obj, "startedAt"));
  g_assert_cmpint (json_object_get_int_member (obj, "offsetMs"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (obj, "positionMs"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (obj, "serverTime"), ==, T0 + 5);
  g_assert_cmpstr (json_object_get_string_member (obj, "loopMode"), ==, "OFF");
  g_assert_false (json_object_get_boolean_member (obj, "shuffle"));
  g_assert_cmpint (json_object_get_int_member (obj, "volume"), ==, 100);
  g_assert_false (json_object_get_boolean_member (obj, "djMode"));
  g_assert_false (json_object_get_boolean_member (obj, "voting"));
  g_assert_cmpint (json_object_get_int_member (obj, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (obj, "createdAt"), ==,
      "2023-11-14T22:13:20.000Z");
  members = json_object_get_array_member (obj, "members");
  g_assert_cmpuint (json_array_get_length (members), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (members, 0),
          "userId"), ==, "alice");
  g_assert_true (json_object_get_boolean_member (json_array_get_object_element (members, 0),
          "canControl"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj,
              "permissions")), ==, 0);
}

static void
test_names (void)
{
  EchoMusicState state;
  EchoMusicAction action;

  g_assert_true (echo_music_state_from_string ("LOADING", &state));
  g_assert_cmpint (state, ==, ECHO_MUSIC_STATE_LOADING);
  g_assert_false (echo_music_state_from_string ("loading", &state));
  g_assert_cmpstr (echo_music_state_to_string (ECHO_MUSIC_STATE_PAUSED), ==, "PAUSED");
  g_assert_true (echo_music_action_from_string ("Seek", &action));
  g_assert_cmpint (action, ==, ECHO_MUSIC_ACTION_SEEK);
  g_assert_false (echo_music_action_from_string ("rewind", &action));
  g_assert_cmpstr (echo_music_action_to_string (ECHO_MUSIC_ACTION_STOP), ==, "stop");
}

static void
test_membership (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  EchoMusicChange changed = 0;
  guint64 version = echo_music_session_get_version (session);

  /* Joining again with the same roles changes nothing; new roles change the entry. */
  g_assert_true (echo_music_session_member_join (session, "bob", NULL, T0 + 1, &changed,
          &error));
  g_assert_cmpint (changed, ==, 0);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, version);
  g_assert_true (echo_music_session_member_join (session, "bob", dj_role, T0 + 2, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_MEMBERS);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, version + 1);
  g_assert_cmpint (echo_music_session_get_updated_at_ms (session), ==, T0 + 2);
  /* The member entry's roles make bob a DJ even when his request carries none. */
  g_assert_true (echo_music_session_is_dj (session, &bob));

  g_assert_true (echo_music_session_member_leave (session, "bob", T0 + 3, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_MEMBERS);
  g_assert_false (echo_music_session_is_member (session, "bob"));
  g_assert_false (echo_music_session_is_dj (session, &bob));

  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_NOT_FOUND,
      echo_music_session_member_leave (session, "bob", T0 + 4, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_member_join (session, "", NULL, T0 + 4, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_member_join (session, "with space", NULL, T0 + 4, &changed_,
          &error));
  {
    const char *const empty_role[] = { "", NULL };

    ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
        echo_music_session_member_join (session, "dave", empty_role, T0 + 4, &changed_,
            &error));
  }

  /* The creator may leave; she stays a DJ but needs membership to act. */
  g_assert_true (echo_music_session_member_leave (session, "alice", T0 + 5, NULL, &error));
  g_assert_true (echo_music_session_is_dj (session, &creator));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_dj_mode (session, &creator, TRUE, T0 + 6, &changed_, &error));
}

static void
test_permissions (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GPtrArray) tracks = tracks_of (ECHO_TRACK_SOURCE_YOUTUBE, 1, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) items = NULL;
  EchoMusicActor bob_dj = { "bob", dj_role, FALSE };
  EchoMusicActor bob_mod = { "bob", mod_role, FALSE };
  EchoMusicActor roaming_admin = { "root", admin_role, FALSE };
  EchoMusicActor roaming_mod = { "modder", mod_role, FALSE };
  EchoMusicActor service_for_dave = { "dave", NULL, TRUE };
  EchoMusicChange changed;
  EchoQueueItem *carol_item;

  /* Adding and voting need membership; an admin acts from anywhere, a mod does not. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_add (session, &outsider, tracks, T0, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_add (session, &roaming_mod, tracks, T0, &changed_, &error));
  items = echo_music_session_queue_add (session, &roaming_admin, tracks, T0, &changed,
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (items, 0))->added_by, ==, "root");
  g_clear_pointer (&items, g_ptr_array_unref);
  /* The service acts for a user who is not even in the channel. */
  items = echo_music_session_queue_add (session, &service_for_dave, tracks, T0, &changed,
      &error);
  g_assert_no_error (error);
  g_clear_pointer (&items, g_ptr_array_unref);
  /* ... but a queue item needs somebody to have asked for it. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_queue_add (session, &service, tracks, T0, &changed_, &error));
  items = echo_music_session_queue_add (session, &carol, tracks, T0, &changed, &error);
  g_assert_no_error (error);
  carol_item = g_ptr_array_index (items, 0);

  /* Settings need a DJ: the creator, or dj/mod/moderator/admin roles (the caller's). */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_dj_mode (session, &bob, TRUE, T0, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_voting (session, &bob, TRUE, T0, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_permission (session, &bob, "carol", FALSE, T0, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_clear (session, &bob, T0, NULL, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_reorder (session, &bob, carol_item->id, 0, T0, &changed_,
          &error));
  g_assert_true (echo_music_session_set_voting (session, &bob_mod, TRUE, T0, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS | ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_true (echo_music_session_set_voting (session, &bob_dj, FALSE, T0, &changed,
          &error));
  g_assert_no_error (error);

  /* Removing: one's own request, or a DJ. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_remove (session, &bob, carol_item->id, T0, &changed_,
          &error));

  /* canControl off: no control, but adding still works. */
  g_assert_true (echo_music_session_set_permission (session, &creator, "bob", FALSE, T0,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
  g_assert_false (echo_music_session_can_control (session, "bob"));
  g_assert_true (echo_music_session_can_control (session, "carol"));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0, T0, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_volume (session, &bob, 10, T0, &changed_, &error));
  g_assert_false (echo_music_session_set_loop (session, &bob, ECHO_LOOP_ONE, T0, NULL,
          &error));
  g_assert_nonnull (strstr (error->message, "canControl"));
  g_clear_error (&error);
  g_assert_true (echo_music_session_set_permission (session, &creator, "bob", TRUE, T0,
          &changed, &error));

  /* DJ mode: control only by DJs; carol may still add and vote. */
  g_assert_true (echo_music_session_set_dj_mode (session, &creator, TRUE, T0, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_control (session, &carol, ECHO_MUSIC_ACTION_PAUSE, 0, T0,
          &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_loop (session, &carol, ECHO_LOOP_ALL, T0, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_set_shuffle (session, &carol, TRUE, T0, &changed_, &error));
  g_assert_true (echo_music_session_set_volume (session, &bob_dj, 40, T0, &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
  g_assert_true (echo_music_session_queue_vote (session, &carol, carol_item->id, 1, T0,
          &changed, &error));
  g_assert_no_error (error);

  /* The service passes everything. */
  g_assert_true (echo_music_session_control (session, &service, ECHO_MUSIC_ACTION_PAUSE, 0,
          T0 + 1000, &changed, &error));
  g_assert_no_error (error);
  g_assert_true (echo_music_session_set_dj_mode (session, &service, FALSE, T0, &changed,
          &error));
  g_assert_true (echo_music_session_queue_clear (session, &service, T0, NULL, &changed,
          &error));
  g_assert_no_error (error);

  /* Now carol's item is gone; she may remove her own next one, bob may not. */
  g_clear_pointer (&items, g_ptr_array_unref);
  items = echo_music_session_queue_add (session, &carol, tracks, T0, &changed, &error);
  carol_item = g_ptr_array_index (items, 0);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_remove (session, &bob, carol_item->id, T0, &changed_,
          &error));
  g_assert_true (echo_music_session_queue_remove (session, &carol, carol_item->id, T0,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_NOT_FOUND,
      echo_music_session_queue_remove (session, &creator, "no-such-item", T0, &changed_,
          &error));
}

static void
test_auto_start_client_played (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GPtrArray) tracks = tracks_of (ECHO_TRACK_SOURCE_SPOTIFY, 1, 2);
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) json = NULL;
  EchoMusicChange changed = 0;

  items = echo_music_session_queue_add (session, &bob, tracks, T0 + 100, &changed, &error);
  g_assert_no_error (error);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE | ECHO_MUSIC_CHANGED_STATE |
      ECHO_MUSIC_CHANGED_NOW_PLAYING);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PLAYING);
  g_assert_cmpstr (current_title (session), ==, "Track 1");
  g_assert_true (echo_music_session_get_current (session) == g_ptr_array_index (items, 0));
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, T0 + 100 + LEAD);
  /* Negative during the lead, then the timeline runs; capped at the duration. */
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 100), ==, -LEAD);
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 100 + LEAD + 5000), ==,
      5000);
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 10000000), ==, 60000);
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==,
      T0 + 100 + LEAD + 60000);
  g_assert_cmpuint (echo_music_queue_get_length (echo_music_session_get_queue (session)), ==,
      1);

  json = echo_music_session_to_json (session, T0 + 100);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json), "state"), ==,
      "PLAYING");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json), "startedAt"), ==,
      T0 + 100 + LEAD);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (json), "positionMs"),
      ==, -LEAD);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member
          (json_node_get_object (json), "currentTrack"), "title"), ==, "Track 1");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json),
          "currentItemId"), ==, current_id (session));

  /* Adding while playing only queues. */
  g_clear_pointer (&items, g_ptr_array_unref);
  items = echo_music_session_queue_add (session, &bob, tracks, T0 + 200, &changed, &error);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_cmpstr (current_title (session), ==, "Track 1");

  /* A custom lead. */
  {
    EchoMusicSessionConfig config;
    g_autoptr (EchoMusicSession) other = NULL;

    echo_music_session_config_init_defaults (&config);
    config.start_lead_ms = 0;
    other = echo_music_session_new ("g", "v2", "alice", &config, T0);
    g_clear_pointer (&items, g_ptr_array_unref);
    items = echo_music_session_queue_add (other, &creator, tracks, T0 + 7, NULL, &error);
    g_assert_cmpint (echo_music_session_get_started_at_ms (other), ==, T0 + 7);
  }
}

static void
test_auto_start_server_side (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autofree char *first_id = NULL;
  EchoMusicChange changed;

  add_tracks (session, ECHO_TRACK_SOURCE_UPLOADED, 1, 2, T0);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, 0);
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 5000), ==, 0);
  /* The pipeline decides when a server-side track ends. */
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, 0);
  first_id = g_strdup (current_id (session));

  /* A stale event for another item is ignored. */
  g_assert_cmpint (echo_music_session_playback_started (session, "other", T0 + 300), ==, 0);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);

  changed = echo_music_session_playback_started (session, first_id, T0 + 300);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PLAYING);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, T0 + 300);
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 1300), ==, 1000);
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, 0);
  /* A second start (already playing) changes nothing. */
  g_assert_cmpint (echo_music_session_playback_started (session, first_id, T0 + 400), ==, 0);

  /* A failing file is skipped; the next one loads. */
  changed = echo_music_session_playback_failed (session, current_id (session), T0 + 2000);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
      ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_cmpstr (current_title (session), ==, "Track 2");
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);
  {
    g_autoptr (GPtrArray) history = echo_music_queue_history (echo_music_session_get_queue
        (session), 0);

    g_assert_cmpuint (history->len, ==, 1);
  }
  /* A failure reported late for the item that already went is ignored. */
  g_assert_cmpint (echo_music_session_playback_failed (session, first_id, T0 + 2100), ==, 0);
  g_assert_cmpint (echo_music_session_playback_failed (session, current_id (session),
          T0 + 2200), !=, 0);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_IDLE);
  g_assert_null (echo_music_session_get_current (session));
}

static void
test_control (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  EchoMusicChange changed;
  guint64 version;
  gint64 t = T0;

  /* IDLE: nothing to play, pause, skip, seek or stop. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, t, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0, t, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SKIP, 0, t, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, 0, t, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_STOP, 0, t, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_NOT_FOUND,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_BACK, 0, t, &changed_,
          &error));

  add_tracks (session, ECHO_TRACK_SOURCE_YOUTUBE, 1, 3, t);
  g_assert_cmpstr (current_title (session), ==, "Track 1");
  t += LEAD + 10000;            /* 10 s into track 1 */

  /* PLAY while playing: success, nothing changes, version kept. */
  version = echo_music_session_get_version (session);
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, t,
          &changed, &error));
  g_assert_cmpint (changed, ==, 0);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, version);

  /* PAUSE keeps the position; PLAY resumes from it. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0, t,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, version + 1);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PAUSED);
  g_assert_cmpint (echo_music_session_get_offset_ms (session), ==, 10000);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, 0);
  g_assert_cmpint (echo_music_session_get_position_ms (session, t + 99999), ==, 10000);
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, 0);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0, t, &changed_,
          &error));
  t += 5000;
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, t,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, t);
  g_assert_cmpint (echo_music_session_get_offset_ms (session), ==, 10000);
  g_assert_cmpint (echo_music_session_get_position_ms (session, t + 1000), ==, 11000);
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, t + 50000);

  /* SEEK within the duration; outside it is INVALID. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, 60001, t,
          &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, -1, t, &changed_,
          &error));
  t += 100;
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, 30000,
          t, &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_position_ms (session, t), ==, 30000);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, t);
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, 60000,
          t, &changed, &error));
  g_assert_no_error (error);

  /* SKIP: track 2 starts with the lead. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SKIP, 0, t,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
      ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_cmpstr (current_title (session), ==, "Track 2");
  g_assert_cmpint (echo_music_session_get_offset_ms (session), ==, 0);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, t + LEAD);
  {
    g_autoptr (GPtrArray) history = echo_music_queue_history (echo_music_session_get_queue
        (session), 0);

    g_assert_cmpint (((EchoQueueItem *) g_ptr_array_index (history, 0))->status, ==,
        ECHO_QUEUE_SKIPPED);
  }

  /* BACK: track 1 again, track 2 back at the front of the queue. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_BACK, 0, t,
          &changed, &error));
  g_assert_cmpstr (current_title (session), ==, "Track 1");
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PLAYING);
  {
    g_autoptr (GPtrArray) upcoming = echo_music_queue_upcoming (echo_music_session_get_queue
        (session));

    g_assert_cmpstr (((EchoQueueItem *) g_ptr_array_index (upcoming, 0))->track->title, ==,
        "Track 2");
  }

  /* Paused during the start lead: the track resumes from its beginning. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0,
          t + 10, &changed, &error));
  g_assert_cmpint (echo_music_session_get_offset_ms (session), ==, 0);

  /* STOP with items queued: track 1 ends skipped, track 2 waits paused at 0; PLAY starts
   * it like a new track (with the lead). */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_STOP, 0, t,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
      ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PAUSED);
  g_assert_cmpstr (current_title (session), ==, "Track 2");
  g_assert_cmpint (echo_music_session_get_position_ms (session, t + 5000), ==, 0);
  t += 1000;
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, t,
          &changed, &error));
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PLAYING);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, t + LEAD);

  /* STOP with nothing queued: IDLE, queue empty, history kept; PLAY then conflicts. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SKIP, 0, t,
          &changed, &error));
  g_assert_cmpstr (current_title (session), ==, "Track 3");
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_STOP, 0, t,
          &changed, &error));
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_IDLE);
  g_assert_null (echo_music_session_get_current (session));
  g_assert_cmpint (echo_music_session_get_offset_ms (session), ==, 0);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, t, &changed_,
          &error));

  /* PLAY from IDLE with a queue starts it (the queue kept while idle). */
  add_tracks (session, ECHO_TRACK_SOURCE_YOUTUBE, 7, 1, t);
  g_assert_cmpstr (current_title (session), ==, "Track 7");
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_STOP, 0, t,
          &changed, &error));
  add_tracks (session, ECHO_TRACK_SOURCE_YOUTUBE, 8, 1, t);
  /* Auto-start happened (the session was idle). */
  g_assert_cmpstr (current_title (session), ==, "Track 8");

  /* SEEK of a track with unknown duration: any non-negative position. */
  {
    g_autoptr (EchoMusicSession) other = make_session ();
    g_autoptr (GPtrArray) tracks = tracks_of (ECHO_TRACK_SOURCE_SOUNDCLOUD, 1, 1);
    g_autoptr (GPtrArray) items = NULL;

    ((EchoTrack *) g_ptr_array_index (tracks, 0))->duration_ms = 0;
    items = echo_music_session_queue_add (other, &bob, tracks, T0, NULL, &error);
    g_assert_true (echo_music_session_control (other, &bob, ECHO_MUSIC_ACTION_SEEK,
            999999999, T0, &changed, &error));
    g_assert_no_error (error);
    g_assert_cmpint (echo_music_session_next_deadline_ms (other), ==, 0);
    g_assert_cmpint (echo_music_session_get_position_ms (other, T0 + 1000), ==, 1000000999);
  }
}

static void
test_seek_while_loading (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  EchoMusicChange changed;

  add_tracks (session, ECHO_TRACK_SOURCE_HTTP, 1, 1, T0);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);
  /* PLAY while loading changes nothing; PAUSE conflicts. */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0, T0,
          &changed, &error));
  g_assert_cmpint (changed, ==, 0);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0, T0, &changed_,
          &error));
  /* A seek while loading: still LOADING (the server restarts the player at the offset). */
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_SEEK, 20000,
          T0, &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);
  g_assert_cmpint (echo_music_session_playback_started (session, current_id (session),
          T0 + 500), ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_position_ms (session, T0 + 1500), ==, 21000);
}

static void
test_track_ended_and_loop (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  g_autofree char *first_id = NULL;
  EchoMusicChange changed;
  gint64 deadline;
  guint i;

  add_tracks (session, ECHO_TRACK_SOURCE_YOUTUBE, 1, 2, T0);
  first_id = g_strdup (current_id (session));
  deadline = echo_music_session_next_deadline_ms (session);
  g_assert_cmpint (deadline, ==, T0 + LEAD + 60000);

  /* Stale: unknown item; also a client-played track that is paused ignores it. */
  g_assert_cmpint (echo_music_session_track_ended (session, "nope", deadline), ==, 0);
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0,
          T0 + 1000, NULL, &error));
  g_assert_cmpint (echo_music_session_track_ended (session, first_id, deadline), ==, 0);
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PLAY, 0,
          T0 + 1000, NULL, &error));

  /* Loop ONE: a natural end replays the same track (a fresh item). */
  g_assert_true (echo_music_session_set_loop (session, &bob, ECHO_LOOP_ONE, T0, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
  changed = echo_music_session_track_ended (session, first_id, deadline);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE | ECHO_MUSIC_CHANGED_NOW_PLAYING |
      ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_cmpstr (current_title (session), ==, "Track 1");
  g_assert_cmpstr (current_id (session), !=, first_id);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, deadline + LEAD);
  /* The same event again is stale now. */
  g_assert_cmpint (echo_music_session_track_ended (session, first_id, deadline + 1), ==, 0);
  {
    g_autoptr (GPtrArray) history = echo_music_queue_history (echo_music_session_get_queue
        (session), 0);

    g_assert_cmpint (((EchoQueueItem *) g_ptr_array_index (history, 0))->status, ==,
        ECHO_QUEUE_PLAYED);
  }

  /* Loop OFF: track 2, then idle. */
  g_assert_true (echo_music_session_set_loop (session, &bob, ECHO_LOOP_OFF, T0, &changed,
          &error));
  echo_music_session_track_ended (session, current_id (session), deadline + 100);
  g_assert_cmpstr (current_title (session), ==, "Track 2");
  echo_music_session_track_ended (session, current_id (session), deadline + 200);
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_IDLE);
  g_assert_cmpint (echo_music_session_next_deadline_ms (session), ==, 0);

  /* Loop ALL with shuffle (seeded): every track once per cycle, never running dry. */
  {
    g_autoptr (EchoMusicSession) other = make_session ();
    g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        NULL);
    guint cycle;

    g_assert_true (echo_music_session_set_loop (other, &creator, ECHO_LOOP_ALL, T0, NULL,
            &error));
    g_assert_true (echo_music_session_set_shuffle (other, &creator, TRUE, T0, &changed,
            &error));
    g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
    add_tracks (other, ECHO_TRACK_SOURCE_YOUTUBE, 1, 5, T0);
    for (cycle = 0; cycle < 3; cycle++) {
      g_hash_table_remove_all (seen);
      for (i = 0; i < 5; i++) {
        g_assert_nonnull (echo_music_session_get_current (other));
        g_assert_true (g_hash_table_add (seen, g_strdup (current_title (other))));
        echo_music_session_track_ended (other, current_id (other),
            T0 + (cycle * 5 + i + 1) * 61000);
      }
      g_assert_cmpuint (g_hash_table_size (seen), ==, 5);
    }
  }
}

static void
test_server_side_track_end (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;

  add_tracks (session, ECHO_TRACK_SOURCE_UPLOADED, 1, 2, T0);
  echo_music_session_playback_started (session, current_id (session), T0 + 100);
  g_assert_true (echo_music_session_control (session, &bob, ECHO_MUSIC_ACTION_PAUSE, 0,
          T0 + 59000, NULL, &error));
  /* EOS racing a pause: the pipeline's word counts. */
  g_assert_cmpint (echo_music_session_track_ended (session, current_id (session), T0 + 59100),
      !=, 0);
  g_assert_cmpstr (current_title (session), ==, "Track 2");
  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_LOADING);
}

static void
test_settings_and_versions (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  EchoMusicChange changed;
  guint64 version = echo_music_session_get_version (session);

  g_assert_true (echo_music_session_check_version (session, version, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_check_version (session, version - 1, &error));

  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_set_volume (session, &bob, 101, T0, &changed_, &error));
  g_assert_true (echo_music_session_set_volume (session, &bob, 0, T0 + 1, &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_SETTINGS);
  g_assert_cmpuint (echo_music_session_get_volume (session), ==, 0);
  g_assert_true (echo_music_session_set_volume (session, &bob, 0, T0 + 2, &changed, &error));
  g_assert_cmpint (changed, ==, 0);
  g_assert_cmpuint (echo_music_session_get_version (session), ==, version + 1);
  g_assert_cmpint (echo_music_session_get_updated_at_ms (session), ==, T0 + 1);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_check_version (session, version, &error));

  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_set_loop (session, &bob, (EchoLoopMode) 7, T0, &changed_, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_set_permission (session, &creator, "", TRUE, T0, &changed_,
          &error));
  g_assert_true (echo_music_session_set_permission (session, &creator, "zed", FALSE, T0,
          &changed, &error));
  g_assert_true (echo_music_session_set_permission (session, &creator, "zed", FALSE, T0,
          &changed, &error));
  g_assert_cmpint (changed, ==, 0);
  {
    g_autoptr (JsonNode) json = echo_music_session_to_json (session, T0);
    JsonArray *permissions = json_object_get_array_member (json_node_get_object (json),
        "permissions");
    JsonObject *entry = json_array_get_object_element (permissions, 0);

    g_assert_cmpuint (json_array_get_length (permissions), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (entry, "profileId"), ==, "zed");
    g_assert_false (json_object_get_boolean_member (entry, "canControl"));
  }
}

static void
test_votes_and_queue_ops (void)
{
  g_autoptr (EchoMusicSession) session = make_session ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) upcoming = NULL;
  EchoMusicChange changed;
  EchoQueueItem *second;
  guint removed = 0;

  add_tracks (session, ECHO_TRACK_SOURCE_YOUTUBE, 1, 4, T0);
  upcoming = echo_music_queue_upcoming (echo_music_session_get_queue (session));
  second = g_ptr_array_index (upcoming, 1);      /* Track 3 */

  g_assert_true (echo_music_session_set_voting (session, &creator, TRUE, T0, NULL, &error));
  g_assert_true (echo_music_session_queue_vote (session, &bob, second->id, 1, T0, &changed,
          &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE);
  /* A second vote by bob is ignored: success, nothing changed. */
  g_assert_true (echo_music_session_queue_vote (session, &bob, second->id, -1, T0, &changed,
          &error));
  g_assert_cmpint (changed, ==, 0);
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_FORBIDDEN,
      echo_music_session_queue_vote (session, &outsider, second->id, 1, T0, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_queue_vote (session, &carol, second->id, 2, T0, &changed_,
          &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_queue_vote (session, &carol, current_id (session), 1, T0,
          &changed_, &error));
  /* Reorder is the DJ's, and conflicts while voting decides the order. */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_queue_reorder (session, &creator, second->id, 2, T0, &changed_,
          &error));
  g_assert_true (echo_music_session_set_voting (session, &creator, FALSE, T0, NULL, &error));
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_INVALID,
      echo_music_session_queue_reorder (session, &creator, second->id, 3, T0, &changed_,
          &error));
  g_assert_true (echo_music_session_queue_reorder (session, &creator, second->id, 2, T0,
          &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE);
  /* The playing item cannot be removed (skip it). */
  ASSERT_FAILS_UNCHANGED (session, ECHO_MUSIC_ERROR_CONFLICT,
      echo_music_session_queue_remove (session, &creator, current_id (session), T0,
          &changed_, &error));
  g_assert_true (echo_music_session_queue_clear (session, &creator, T0, &removed, &changed,
          &error));
  g_assert_cmpuint (removed, ==, 3);
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_QUEUE);
  g_assert_true (echo_music_session_queue_clear (session, &creator, T0, &removed, &changed,
          &error));
  g_assert_cmpint (changed, ==, 0);
  g_assert_cmpstr (current_title (session), ==, "Track 1");

  /* The queue's limit: all or nothing. */
  {
    EchoMusicSessionConfig config;
    g_autoptr (EchoMusicSession) small = NULL;
    g_autoptr (GPtrArray) tracks = tracks_of (ECHO_TRACK_SOURCE_YOUTUBE, 1, 3);
    g_autoptr (GPtrArray) none = g_ptr_array_new ();

    echo_music_session_config_init_defaults (&config);
    config.max_items = 2;
    small = echo_music_session_new ("g", "v", "alice", &config, T0);
    ASSERT_FAILS_UNCHANGED (small, ECHO_MUSIC_ERROR_QUEUE_FULL,
        echo_music_session_queue_add (small, &creator, tracks, T0, &changed_, &error));
    ASSERT_FAILS_UNCHANGED (small, ECHO_MUSIC_ERROR_INVALID,
        echo_music_session_queue_add (small, &creator, none, T0, &changed_, &error));
    g_assert_cmpint (echo_music_session_get_state (small), ==, ECHO_MUSIC_STATE_IDLE);
  }
}

/* A session with some of everything, for the store form. */
static EchoMusicSession *
busy_session (EchoTrackSource source)
{
  EchoMusicSession *session = make_session ();
  g_autoptr (GError) error = NULL;

  g_assert_true (echo_music_session_member_join (session, "bob", dj_role, T0, NULL, &error));
  add_tracks (session, source, 1, 4, T0);
  g_assert_true (echo_music_session_set_permission (session, &creator, "carol", FALSE, T0,
          NULL, &error));
  g_assert_true (echo_music_session_set_loop (session, &creator, ECHO_LOOP_ALL, T0, NULL,
          &error));
  g_assert_true (echo_music_session_set_volume (session, &creator, 55, T0, NULL, &error));
  g_assert_true (echo_music_session_set_dj_mode (session, &creator, TRUE, T0, NULL, &error));
  g_assert_true (echo_music_session_control (session, &creator, ECHO_MUSIC_ACTION_SKIP, 0,
          T0 + 1000, NULL, &error));
  echo_music_session_playback_started (session, current_id (session), T0 + 1500);
  g_assert_no_error (error);
  return session;
}

static void
test_store_round_trip (void)
{
  g_autoptr (EchoMusicSession) session = busy_session (ECHO_TRACK_SOURCE_YOUTUBE);
  g_autofree char *text = echo_music_session_to_store_json (session);
  g_autofree char *again = NULL;
  g_autofree char *api_a = NULL;
  g_autofree char *api_b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMusicSession) back = NULL;
  g_autoptr (JsonNode) json_a = NULL;
  g_autoptr (JsonNode) json_b = NULL;

  /* A client-played track keeps its timeline, even restored much later. */
  back = echo_music_session_from_store_json (text, NULL, T0 + 99999999, &error);
  g_assert_no_error (error);
  again = echo_music_session_to_store_json (back);
  g_assert_cmpstr (text, ==, again);
  json_a = echo_music_session_to_json (session, T0 + 5000);
  json_b = echo_music_session_to_json (back, T0 + 5000);
  api_a = json_to_string (json_a, FALSE);
  api_b = json_to_string (json_b, FALSE);
  g_assert_cmpstr (api_a, ==, api_b);
  g_assert_cmpint (echo_music_session_get_state (back), ==, ECHO_MUSIC_STATE_PLAYING);
  g_assert_cmpint (echo_music_session_next_deadline_ms (back), ==,
      echo_music_session_next_deadline_ms (session));
  g_assert_true (echo_music_session_is_dj (back, &bob));
  g_assert_false (echo_music_session_can_control (back, "carol"));

  /* Restored, it behaves like the original. */
  echo_music_session_set_random_seed (session, 9);
  echo_music_session_set_random_seed (back, 9);
  echo_music_session_track_ended (session, current_id (session), T0 + 70000);
  echo_music_session_track_ended (back, current_id (back), T0 + 70000);
  /* (Loop ALL's requeued copies get fresh ids, so compare what plays.) */
  g_assert_cmpstr (current_title (session), ==, current_title (back));
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==,
      echo_music_session_get_started_at_ms (back));
  g_assert_cmpuint (echo_music_session_get_version (session), ==,
      echo_music_session_get_version (back));
  g_assert_cmpuint (echo_music_queue_get_length (echo_music_session_get_queue (session)), ==,
      echo_music_queue_get_length (echo_music_session_get_queue (back)));

  /* An idle session, and a stopped one (cued), round trip too. */
  {
    g_autoptr (EchoMusicSession) idle = echo_music_session_new ("g", "v", "a", NULL, T0);
    g_autoptr (EchoMusicSession) idle_back = NULL;
    g_autofree char *idle_text = echo_music_session_to_store_json (idle);
    g_autofree char *idle_again = NULL;

    idle_back = echo_music_session_from_store_json (idle_text, NULL, T0, &error);
    g_assert_no_error (error);
    idle_again = echo_music_session_to_store_json (idle_back);
    g_assert_cmpstr (idle_text, ==, idle_again);
  }
  {
    g_autoptr (EchoMusicSession) stopped = busy_session (ECHO_TRACK_SOURCE_YOUTUBE);
    g_autoptr (EchoMusicSession) stopped_back = NULL;
    g_autofree char *stopped_text = NULL;

    g_assert_true (echo_music_session_control (stopped, &service, ECHO_MUSIC_ACTION_STOP, 0,
            T0 + 3000, NULL, &error));
    stopped_text = echo_music_session_to_store_json (stopped);
    stopped_back = echo_music_session_from_store_json (stopped_text, NULL, T0, &error);
    g_assert_no_error (error);
    g_assert_true (echo_music_session_control (stopped_back, &service,
            ECHO_MUSIC_ACTION_PLAY, 0, T0 + 4000, NULL, &error));
    g_assert_cmpint (echo_music_session_get_started_at_ms (stopped_back), ==,
        T0 + 4000 + LEAD);
  }
}

static void
test_store_restores_server_side_paused (void)
{
  g_autoptr (EchoMusicSession) session = busy_session (ECHO_TRACK_SOURCE_UPLOADED);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMusicSession) back = NULL;
  EchoMusicChange changed;

  g_assert_cmpint (echo_music_session_get_state (session), ==, ECHO_MUSIC_STATE_PLAYING);
  g_assert_cmpint (echo_music_session_get_started_at_ms (session), ==, T0 + 1500);
  text = echo_music_session_to_store_json (session);

  /* Restored 12.5 s into the track: PAUSED there, the pipeline being gone. */
  back = echo_music_session_from_store_json (text, NULL, T0 + 14000, &error);
  g_assert_no_error (error);
  g_assert_cmpint (echo_music_session_get_state (back), ==, ECHO_MUSIC_STATE_PAUSED);
  g_assert_cmpint (echo_music_session_get_offset_ms (back), ==, 12500);
  g_assert_cmpint (echo_music_session_get_started_at_ms (back), ==, 0);
  /* PLAY loads it again from there. */
  g_assert_true (echo_music_session_control (back, &service, ECHO_MUSIC_ACTION_PLAY, 0,
          T0 + 20000, &changed, &error));
  g_assert_cmpint (changed, ==, ECHO_MUSIC_CHANGED_STATE);
  g_assert_cmpint (echo_music_session_get_state (back), ==, ECHO_MUSIC_STATE_LOADING);
  g_assert_cmpint (echo_music_session_get_offset_ms (back), ==, 12500);
  echo_music_session_playback_started (back, current_id (back), T0 + 20300);
  g_assert_cmpint (echo_music_session_get_position_ms (back, T0 + 21300), ==, 13500);

  /* Restored long after the end: paused at the end (PLAY then ends it at once). */
  g_clear_pointer (&back, echo_music_session_free);
  back = echo_music_session_from_store_json (text, NULL, T0 + 999999, &error);
  g_assert_no_error (error);
  g_assert_cmpint (echo_music_session_get_offset_ms (back), ==, 60000);
}

/* Replaces the first occurrence of @from in @text by @to. */
static char *
replace_once (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
}

static void
test_store_rejects (void)
{
  g_autoptr (EchoMusicSession) session = busy_session (ECHO_TRACK_SOURCE_YOUTUBE);
  g_autofree char *text = echo_music_session_to_store_json (session);
  g_autofree char *started = NULL;
  static const char *const edits[][2] = {
    { "\"formatVersion\":1", "\"formatVersion\":2" },
    { "\"formatVersion\":1", "\"formatVersion\":\"1\"" },
    { "\"state\":\"PLAYING\"", "\"state\":\"DANCING\"" },
    { "\"state\":\"PLAYING\"", "\"state\":\"IDLE\"" },
    { "\"state\":\"PLAYING\"", "\"state\":\"PAUSED\"" },
    { "\"state\":\"PLAYING\"", "\"state\":3" },
    { "\"volume\":55", "\"volume\":101" },
    { "\"volume\":55", "\"volume\":5.5" },
    { "\"volume\":55", "\"volume\":null" },
    { "\"djMode\":true", "\"djMode\":1" },
    { "\"cued\":false", "\"cued\":true" },
    { "\"shuffle\":false", "\"shuffle\":\"no\"" },
    { "\"loopMode\":\"ALL\"", "\"loopMode\":\"SOME\"" },
    { "\"offsetMs\":0", "\"offsetMs\":-1" },
    { "\"version\":", "\"version\":-" },
    { "\"serverId\":\"guild-1\"", "\"serverId\":\"guild 1\"" },
    { "\"serverId\":\"guild-1\"", "\"serverId\":\"\"" },
    { "\"createdById\":\"alice\"", "\"createdById\":[]" },
    { "\"userId\":\"bob\"", "\"userId\":\"alice\"" },
    { "\"roles\":[\"listener\"", "\"roles\":[7" },
    { "\"roles\":[\"listener\"", "\"roles\":[\"\"" },
    { "\"roles\":[]", "\"roles\":{}" },
    { "\"profileId\":\"carol\"", "\"profileId\":5" },
    { "\"canControl\":false", "\"canControl\":\"false\"" },
    { "\"members\":[", "\"members\":[1," },
    { "\"permissions\":[", "\"permissions\":{\"x\":[" },
    { "\"queue\":{", "\"queue\":[{" },
    { "\"queue\":{\"version\":1", "\"queue\":{\"version\":9" },
  };
  guint i, cut;

  for (i = 0; i < G_N_ELEMENTS (edits); i++) {
    g_autofree char *bad = replace_once (text, edits[i][0], edits[i][1]);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoMusicSession) back = echo_music_session_from_store_json (bad, NULL, T0,
        &error);

    if (back != NULL)
      g_error ("edit %u (%s -> %s) was accepted", i, edits[i][0], edits[i][1]);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }

  /* startedAt must be null unless playing, and a number when playing. */
  started = g_strdup_printf ("\"startedAt\":%" G_GINT64_FORMAT,
      echo_music_session_get_started_at_ms (session));
  {
    g_autofree char *bad = replace_once (text, started, "\"startedAt\":null");
    g_autoptr (GError) error = NULL;

    g_assert_null (echo_music_session_from_store_json (bad, NULL, T0, &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }

  /* Truncations fail cleanly: every length through the session's own members, then a
   * sample through the queue (each parse is slow under AddressSanitizer). */
  for (cut = 0; cut < strlen (text); cut += cut < 700 ? 1 : 17) {
    g_autofree char *bad = g_strndup (text, cut);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoMusicSession) back = echo_music_session_from_store_json (bad, NULL, T0,
        &error);

    g_assert_null (back);
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }

  /* Members deleted one at a time, or the document as another JSON type. */
  {
    static const char *const members[] = { "\"id\":", "\"members\":", "\"permissions\":",
      "\"queue\":", "\"offsetMs\":", "\"startedAt\":", "\"cued\":", "\"updatedAt\":"
    };
    for (i = 0; i < G_N_ELEMENTS (members); i++) {
      g_autofree char *bad = replace_once (text, members[i], "\"renamed\":");
      g_autoptr (GError) error = NULL;

      g_assert_null (echo_music_session_from_store_json (bad, NULL, T0, &error));
      g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    }
  }
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (echo_music_session_from_store_json ("[1,2]", NULL, T0, &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
  }
}

/* Random byte flips: never a crash; whatever is accepted serializes again. */
static void
test_store_random_corruption (void)
{
  g_autoptr (EchoMusicSession) session = busy_session (ECHO_TRACK_SOURCE_UPLOADED);
  g_autofree char *text = echo_music_session_to_store_json (session);
  g_autoptr (GRand) rand = g_rand_new_with_seed (1234);
  gsize len = strlen (text);
  guint i;

  for (i = 0; i < 500; i++) {
    g_autofree char *bad = g_strdup (text);
    g_autoptr (GError) error = NULL;
    g_autoptr (EchoMusicSession) back = NULL;
    guint flips = g_rand_int_range (rand, 1, 4), f;

    for (f = 0; f < flips; f++)
      bad[g_rand_int_range (rand, 0, (gint32) len)] = (char) g_rand_int_range (rand, 32, 127);
    back = echo_music_session_from_store_json (bad, NULL, T0, &error);
    if (back == NULL) {
      g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID);
    } else {
      g_autofree char *again = echo_music_session_to_store_json (back);
      g_autoptr (JsonNode) json = echo_music_session_to_json (back, T0);

      g_assert_nonnull (again);
      g_assert_nonnull (json);
    }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/music/session/new", test_new_session);
  g_test_add_func ("/music/session/names", test_names);
  g_test_add_func ("/music/session/membership", test_membership);
  g_test_add_func ("/music/session/permissions", test_permissions);
  g_test_add_func ("/music/session/auto-start-client-played", test_auto_start_client_played);
  g_test_add_func ("/music/session/auto-start-server-side", test_auto_start_server_side);
  g_test_add_func ("/music/session/control", test_control);
  g_test_add_func ("/music/session/seek-while-loading", test_seek_while_loading);
  g_test_add_func ("/music/session/track-ended-and-loop", test_track_ended_and_loop);
  g_test_add_func ("/music/session/server-side-track-end", test_server_side_track_end);
  g_test_add_func ("/music/session/settings-and-versions", test_settings_and_versions);
  g_test_add_func ("/music/session/votes-and-queue-ops", test_votes_and_queue_ops);
  g_test_add_func ("/music/session/store-round-trip", test_store_round_trip);
  g_test_add_func ("/music/session/store-restores-server-side-paused",
      test_store_restores_server_side_paused);
  g_test_add_func ("/music/session/store-rejects", test_store_rejects);
  g_test_add_func ("/music/session/store-random-corruption", test_store_random_corruption);
  return g_test_run ();
}
