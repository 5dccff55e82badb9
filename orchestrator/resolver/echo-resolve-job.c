/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-resolve-job.c: guarded JSON requests, provider error texts, defensive JSON readers
 * and result building, shared by the provider files.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-resolve-job.h"

#include <math.h>
#include <string.h>

#include "echo-music-error.h"

gpointer
echo_resolve_malformed (GError **error, const char *provider, const char *what)
{
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
      "%s sent a malformed reply: %s", provider, what);
  return NULL;
}

const char *
echo_json_string (JsonObject *obj, const char *name)
{
  JsonNode *node;

  if (obj == NULL)
    return NULL;
  node = json_object_get_member (obj, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  if (json_node_get_string (node)[0] == '\0')
    return NULL;
  return json_node_get_string (node);
}

JsonObject *
echo_json_object (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonArray *
echo_json_array (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

JsonObject *
echo_json_array_object (JsonArray *array, guint i)
{
  JsonNode *node;

  if (array == NULL || i >= json_array_get_length (array))
    return NULL;
  node = json_array_get_element (array, i);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

gboolean
echo_json_count (JsonObject *obj, const char *name, gint64 *out)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64) {
    gint64 value = json_node_get_int (node);

    if (value < 0 || value > G_MAXINT64 / 2)
      return FALSE;
    *out = value;
    return TRUE;
  }
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE) {
    double value = json_node_get_double (node);

    /* 2^53: beyond, doubles are not exact integers any more. */
    if (!isfinite (value) || value < 0 || value > 9007199254740992.0 || value != floor (value))
      return FALSE;
    *out = (gint64) value;
    return TRUE;
  }
  return FALSE;
}

gboolean
echo_json_bool (JsonObject *obj, const char *name, gboolean *out)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_boolean (node);
  return TRUE;
}

static JsonObject *
metadata_object (EchoTrack *track)
{
  if (track->metadata == NULL) {
    track->metadata = json_node_new (JSON_NODE_OBJECT);
    json_node_take_object (track->metadata, json_object_new ());
  }
  return json_node_get_object (track->metadata);
}

void
echo_track_add_metadata_string (EchoTrack *track, const char *name, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (metadata_object (track), name, value);
}

void
echo_track_add_metadata_int (EchoTrack *track, const char *name, gint64 value)
{
  json_object_set_int_member (metadata_object (track), name, value);
}

void
echo_track_add_metadata_bool (EchoTrack *track, const char *name, gboolean value)
{
  json_object_set_boolean_member (metadata_object (track), name, value);
}

EchoTrack *
echo_resolve_job_new_track (EchoResolveJob *job, EchoTrackSource source,
    const char *source_id, const char *title, const char *original_url)
{
  EchoTrack *track = echo_track_new (source, source_id, title);

  g_free (track->original_url);
  track->original_url = g_strdup (original_url != NULL ? original_url : "");
  track->created_at_ms = job->now_ms;
  return track;
}

EchoResolveResult *
echo_resolve_result_new_single (EchoTrack *track)
{
  EchoResolveResult *result = g_new0 (EchoResolveResult, 1);

  result->track = track;
  result->playlist = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_track_free);
  return result;
}

EchoResolveResult *
echo_resolve_result_new_list (GPtrArray *tracks, char *title, const char *provider,
    GError **error)
{
  EchoResolveResult *result;

  if (tracks->len == 0) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_NOT_FOUND,
        "the %s %s has no playable tracks", provider, title != NULL ? title : "list");
    g_ptr_array_unref (tracks);
    g_free (title);
    return NULL;
  }
  result = g_new0 (EchoResolveResult, 1);
  result->track = echo_track_copy (g_ptr_array_index (tracks, 0));
  result->playlist = tracks;
  result->playlist_title = title;
  return result;
}

void
echo_resolve_result_free (EchoResolveResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->track, echo_track_free);
  g_clear_pointer (&result->playlist, g_ptr_array_unref);
  g_free (result->playlist_title);
  g_free (result);
}

/* What a provider said went wrong, in any of their error shapes: YouTube/Spotify
 * {"error":{"message"}}, OAuth {"error_description"}, Apple {"errors":[{"detail"|"title"}]}. */
static const char *
provider_error_message (JsonObject *root)
{
  JsonObject *error = echo_json_object (root, "error");
  JsonObject *first = echo_json_array_object (echo_json_array (root, "errors"), 0);
  const char *text;

  if ((text = echo_json_string (error, "message")) != NULL ||
      (text = echo_json_string (root, "error_description")) != NULL ||
      (text = echo_json_string (root, "error")) != NULL ||
      (text = echo_json_string (first, "detail")) != NULL ||
      (text = echo_json_string (first, "title")) != NULL)
    return text;
  return NULL;
}

/* The root object of @body, or NULL. */
static JsonObject *
parse_object (GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len;
  const char *data = g_bytes_get_data (body, &len);
  JsonNode *root;

  if (len == 0 || !json_parser_load_from_data (parser, data, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

JsonObject *
echo_resolve_job_fetch_json (EchoResolveJob *job, const char *provider, const char *method,
    const char *url, const char *const *headers, GBytes *body, const char *body_type,
    guint *status, GError **error)
{
  EchoFetchRequest request = {
    .method = method, .url = url, .headers = headers, .body = body, .body_type = body_type,
    .max_body = ECHO_RESOLVE_MAX_JSON_BYTES,
  };
  g_autoptr (EchoFetchReply) reply = NULL;
  g_autoptr (JsonObject) root = NULL;

  if (status != NULL)
    *status = 0;
  reply = echo_guarded_fetch (job->session, job->resolver->api_guard, &request,
      job->cancellable, error);
  if (reply == NULL)
    return NULL;
  if (status != NULL)
    *status = reply->status;
  root = parse_object (reply->body);
  if (reply->status >= 200 && reply->status < 300) {
    if (root == NULL)
      return echo_resolve_malformed (error, provider, "not a JSON object");
    return g_steal_pointer (&root);
  }
  {
    const char *said = root != NULL ? provider_error_message (root) : NULL;
    g_autofree char *quoted = said != NULL ?
        g_strdup_printf (": %.200s", said) : g_strdup ("");

    g_set_error (error, ECHO_MUSIC_ERROR,
        reply->status == 404 || reply->status == 410 ?
        ECHO_MUSIC_ERROR_NOT_FOUND : ECHO_MUSIC_ERROR_PROVIDER,
        "%s answered HTTP %u%s", provider, reply->status, quoted);
  }
  return NULL;
}

gboolean
echo_iso8601_duration_to_ms (const char *text, gint64 *ms)
{
  /* Ten years: anything longer is not a track. */
  const gint64 max_seconds = G_GINT64_CONSTANT (315360000);
  gboolean in_time = FALSE, any = FALSE;
  gint64 total = 0;
  const char *p;

  if (text == NULL || text[0] != 'P')
    return FALSE;
  for (p = text + 1; *p != '\0';) {
    gint64 value = 0, unit;
    guint digits = 0;

    if (*p == 'T') {
      if (in_time)
        return FALSE;
      in_time = TRUE;
      p++;
      continue;
    }
    while (g_ascii_isdigit (*p) && digits < 12) {
      value = value * 10 + (*p - '0');
      p++;
      digits++;
    }
    if (digits == 0 || g_ascii_isdigit (*p))
      return FALSE;
    switch (*p) {
      case 'W':
        unit = in_time ? 0 : 7 * 86400;
        break;
      case 'D':
        unit = in_time ? 0 : 86400;
        break;
      case 'H':
        unit = in_time ? 3600 : 0;
        break;
      case 'M':
        unit = in_time ? 60 : 0;        /* months have no fixed length: refused */
        break;
      case 'S':
        unit = in_time ? 1 : 0;
        break;
      default:
        unit = 0;
        break;
    }
    if (unit == 0)
      return FALSE;
    total += value * unit;
    if (total > max_seconds)
      return FALSE;
    any = TRUE;
    p++;
  }
  if (!any)
    return FALSE;
  *ms = total * 1000;
  return TRUE;
}
