/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-sync.c: drift verdicts, heartbeat parsing and the time exchange.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-sync.h"

#include <math.h>

#include "echo-music-error.h"
#include "echo-music-id.h"

static const char *const verdict_names[] = { "ok", "seek", "resync" };

const char *
echo_music_sync_verdict_to_string (EchoMusicSyncVerdict verdict)
{
  g_return_val_if_fail (verdict <= ECHO_MUSIC_SYNC_RESYNC, NULL);
  return verdict_names[verdict];
}

void
echo_music_sync_thresholds_init_defaults (EchoMusicSyncThresholds *thresholds)
{
  g_return_if_fail (thresholds != NULL);
  thresholds->seek_ms = ECHO_MUSIC_SYNC_DEFAULT_SEEK_MS;
  thresholds->resync_ms = ECHO_MUSIC_SYNC_DEFAULT_RESYNC_MS;
}

EchoMusicSyncVerdict
echo_music_sync_judge (double expected_ms, double client_position_ms,
    const EchoMusicSyncThresholds *thresholds)
{
  EchoMusicSyncThresholds defaults;
  double drift = fabs (client_position_ms - expected_ms);

  if (thresholds == NULL) {
    echo_music_sync_thresholds_init_defaults (&defaults);
    thresholds = &defaults;
  }
  /* NaN compares false everywhere: a client that sends garbage is told to resync. */
  if (isnan (drift) || drift > thresholds->resync_ms)
    return ECHO_MUSIC_SYNC_RESYNC;
  if (drift > thresholds->seek_ms)
    return ECHO_MUSIC_SYNC_SEEK;
  return ECHO_MUSIC_SYNC_OK;
}

/* A number member (integer or not); absent is fine unless @required. */
static gboolean
read_number (JsonObject * obj, const char *name, gboolean required, double max_abs,
    gboolean * present, double *out, GError ** error)
{
  JsonNode *node = json_object_get_member (obj, name);
  GType type;
  double value;

  *out = 0;
  if (present != NULL)
    *present = FALSE;
  if (node == NULL && !required)
    return TRUE;
  type = node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) :
      G_TYPE_INVALID;
  if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "\"%s\" is %s", name,
        node == NULL ? "missing" : "not a number");
    return FALSE;
  }
  value = type == G_TYPE_INT64 ? (double) json_node_get_int (node) :
      json_node_get_double (node);
  if (!isfinite (value) || fabs (value) > max_abs) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "\"%s\" is out of range (at most %g in magnitude)", name, max_abs);
    return FALSE;
  }
  *out = value;
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

EchoMusicHeartbeat *
echo_music_heartbeat_parse (JsonObject *obj, GError **error)
{
  g_autoptr (EchoMusicHeartbeat) heartbeat = NULL;
  JsonNode *id;

  g_return_val_if_fail (obj != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  id = json_object_get_member (obj, "sessionId");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) ||
      json_node_get_value_type (id) != G_TYPE_STRING) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID, "\"sessionId\" is %s",
        id == NULL ? "missing" : "not a string");
    return NULL;
  }
  if (!echo_music_check_id ("sessionId", json_node_get_string (id), error))
    return NULL;
  heartbeat = g_new0 (EchoMusicHeartbeat, 1);
  heartbeat->session_id = g_strdup (json_node_get_string (id));
  if (!read_number (obj, "clientOffset", TRUE, ECHO_MUSIC_SYNC_MAX_ABS, NULL,
          &heartbeat->client_offset, error) ||
      !read_number (obj, "drift", TRUE, ECHO_MUSIC_SYNC_MAX_ABS, NULL, &heartbeat->drift,
          error) ||
      !read_number (obj, "positionMs", FALSE, ECHO_MUSIC_SYNC_MAX_ABS,
          &heartbeat->has_position, &heartbeat->position_ms, error) ||
      !read_number (obj, "clientTime", FALSE, ECHO_MUSIC_SYNC_MAX_ABS_TIME,
          &heartbeat->has_client_time, &heartbeat->client_time, error))
    return NULL;
  return g_steal_pointer (&heartbeat);
}

void
echo_music_heartbeat_free (EchoMusicHeartbeat *heartbeat)
{
  if (heartbeat == NULL)
    return;
  g_free (heartbeat->session_id);
  g_free (heartbeat);
}

double
echo_music_heartbeat_get_position (const EchoMusicHeartbeat *heartbeat)
{
  g_return_val_if_fail (heartbeat != NULL, 0);
  return heartbeat->has_position ? heartbeat->position_ms : heartbeat->client_offset;
}

gboolean
echo_music_sync_parse_time_request (JsonObject *obj, double *t0, GError **error)
{
  g_return_val_if_fail (obj != NULL, FALSE);
  g_return_val_if_fail (t0 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return read_number (obj, "t0", TRUE, ECHO_MUSIC_SYNC_MAX_ABS_TIME, NULL, t0, error);
}

char *
echo_music_sync_format_time_reply (double t0, double t1, double t2)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "music:time");
  json_builder_set_member_name (b, "t0");
  json_builder_add_double_value (b, t0);
  json_builder_set_member_name (b, "t1");
  json_builder_add_double_value (b, t1);
  json_builder_set_member_name (b, "t2");
  json_builder_add_double_value (b, t2);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

void
echo_music_sync_offset (double t0, double t1, double t2, double t3, double *offset,
    double *rtt)
{
  if (offset != NULL)
    *offset = ((t1 - t0) + (t2 - t3)) / 2.0;
  if (rtt != NULL)
    *rtt = (t3 - t0) - (t2 - t1);
}
