/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: what a music WebSocket client sends (orchestrator/music/echo-music-sync.c:
 * heartbeats and the time exchange, after echod's own JSON check) and the stored forms a
 * restart reads back (sessions, tracks). Must hold for any input: no crash, no leak; a
 * heartbeat that parses has finite numbers within the documented bounds and a printable
 * session id; a time request's reply parses back to the same t0; a session or track read
 * from a store text writes itself back to a text that reads back identically.
 *
 * Input: the first byte chooses what the rest is read as (even: a client message, odd: a
 * store document; bit 1: a session rather than a track).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "echo-music-session.h"
#include "echo-music-sync.h"
#include "echo-track.h"
#include "fuzz.h"

static void
check_message (JsonObject *obj)
{
  g_autoptr (EchoMusicHeartbeat) heartbeat = echo_music_heartbeat_parse (obj, NULL);
  double t0;

  if (heartbeat != NULL) {
    double position = echo_music_heartbeat_get_position (heartbeat);
    const char *p;

    if (!isfinite (position) || fabs (position) > ECHO_MUSIC_SYNC_MAX_ABS ||
        !isfinite (heartbeat->drift) || fabs (heartbeat->drift) > ECHO_MUSIC_SYNC_MAX_ABS ||
        (heartbeat->has_client_time && (!isfinite (heartbeat->client_time) ||
                fabs (heartbeat->client_time) > ECHO_MUSIC_SYNC_MAX_ABS_TIME)))
      abort ();
    if (heartbeat->session_id[0] == '\0' || strlen (heartbeat->session_id) > 128)
      abort ();
    for (p = heartbeat->session_id; *p != '\0'; p++)
      if (*p < ' ' || *p > '~')
        abort ();
    (void) echo_music_sync_judge (0, position, NULL);
  }
  if (echo_music_sync_parse_time_request (obj, &t0, NULL)) {
    g_autofree char *reply = echo_music_sync_format_time_reply (t0, 1.5, 2.5);
    g_autoptr (JsonParser) parser = json_parser_new ();
    double again;

    if (!json_parser_load_from_data (parser, reply, -1, NULL) ||
        !echo_music_sync_parse_time_request (json_node_get_object (json_parser_get_root
                (parser)), &again, NULL) || again != t0)
      abort ();
  }
}

static void
check_session (const char *text)
{
  g_autoptr (EchoMusicSession) session = echo_music_session_from_store_json (text, NULL,
      1800000000000, NULL);
  g_autoptr (EchoMusicSession) again = NULL;
  g_autofree char *first = NULL, *second = NULL;

  if (session == NULL)
    return;
  first = echo_music_session_to_store_json (session);
  again = echo_music_session_from_store_json (first, NULL, 1800000000000, NULL);
  if (again == NULL)
    abort ();
  second = echo_music_session_to_store_json (again);
  if (strcmp (first, second) != 0)
    abort ();
  /* the API form of whatever was read must be writable too */
  json_node_unref (echo_music_session_to_json (session, 1800000000000));
}

static void
check_track (const char *text)
{
  g_autoptr (EchoTrack) track = echo_track_deserialize (text, NULL);
  g_autoptr (EchoTrack) again = NULL;
  g_autofree char *first = NULL, *second = NULL;

  if (track == NULL)
    return;
  first = echo_track_serialize (track);
  again = echo_track_deserialize (first, NULL);
  if (again == NULL)
    abort ();
  second = echo_track_serialize (again);
  if (strcmp (first, second) != 0)
    abort ();
  json_node_unref (echo_track_to_json (track));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  guint8 mode;

  if (size < 1)
    return 0;
  mode = data[0];
  text = g_strndup ((const char *) data + 1, size - 1);
  if (!g_utf8_validate (text, -1, NULL))
    return 0;                   /* echod refuses invalid UTF-8 before any parser */
  if ((mode & 1) == 0) {
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();

    if (json_parser_load_from_data (parser, text, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
      check_message (json_node_get_object (json_parser_get_root (parser)));
  } else if (mode & 2) {
    check_session (text);
  } else {
    check_track (text);
  }
  return 0;
}
