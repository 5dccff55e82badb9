/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-json.c: typed, range-checked reads of stored JSON members.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-json.h"

#include "echo-music-error.h"

static gboolean
holds_type (JsonNode * node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == type;
}

gboolean
echo_music_json_get_string (JsonObject *obj, const char *name, gboolean required,
    char **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = NULL;
  if (holds_type (node, G_TYPE_STRING)) {
    *out = g_strdup (json_node_get_string (node));
    return TRUE;
  }
  if (!required && (node == NULL || JSON_NODE_HOLDS_NULL (node)))
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "\"%s\" is %s", name, node == NULL ? "missing" : "not a string");
  return FALSE;
}

gboolean
echo_music_json_get_int (JsonObject *obj, const char *name, gint64 min, gint64 max,
    gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  gint64 value;

  *out = 0;
  if (!holds_type (node, G_TYPE_INT64)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "\"%s\" is %s", name, node == NULL ? "missing" : "not an integer");
    return FALSE;
  }
  value = json_node_get_int (node);
  if (value < min || value > max) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "\"%s\" is %" G_GINT64_FORMAT ", outside %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
        name, value, min, max);
    return FALSE;
  }
  *out = value;
  return TRUE;
}

gboolean
echo_music_json_get_boolean (JsonObject *obj, const char *name, gboolean *out,
    GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = FALSE;
  if (!holds_type (node, G_TYPE_BOOLEAN)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "\"%s\" is %s", name, node == NULL ? "missing" : "not a boolean");
    return FALSE;
  }
  *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
echo_music_json_get_object (JsonObject *obj, const char *name, gboolean nullable,
    JsonObject **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = NULL;
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node)) {
    *out = json_node_get_object (node);
    return TRUE;
  }
  if (nullable && node != NULL && JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "\"%s\" is %s", name, node == NULL ? "missing" : "not an object");
  return FALSE;
}

gboolean
echo_music_json_get_array (JsonObject *obj, const char *name, JsonArray **out,
    GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = NULL;
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node)) {
    *out = json_node_get_array (node);
    return TRUE;
  }
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
      "\"%s\" is %s", name, node == NULL ? "missing" : "not an array");
  return FALSE;
}

JsonNode *
echo_music_json_parse_object (const char *text, const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, &parse_error)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s: not JSON: %s", what, parse_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "%s: not a JSON object", what);
    return NULL;
  }
  return json_node_ref (root);
}

char *
echo_music_json_format_time_ms (gint64 unix_ms)
{
  /* Floor division, so times before 1970 keep a millisecond part in 0..999. */
  gint64 seconds = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
  int millis = (int) (unix_ms - seconds * 1000);
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (seconds);
  g_autofree char *text = NULL;

  if (time == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  text = g_date_time_format (time, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03dZ", text, millis);
}

JsonNode *
echo_music_json_freeze (JsonNode *node)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (node != NULL, NULL);

  if (json_node_is_immutable (node))
    return json_node_ref (node);
  /* json_node_copy() would share the object: a deep copy through text, then sealed */
  text = json_to_string (node, FALSE);
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    g_return_val_if_reached (NULL);
  return json_node_ref (json_parser_get_root (parser));
}

void
echo_music_json_append_string (GString *out, const char *text)
{
  const char *p;

  g_return_if_fail (out != NULL);
  g_return_if_fail (text != NULL);

  g_string_append_c (out, '"');
  for (p = text; *p != '\0'; p++) {
    guchar c = (guchar) * p;

    if (c == '"' || c == '\\') {
      g_string_append_c (out, '\\');
      g_string_append_c (out, (char) c);
    } else if (c < 0x20) {
      g_string_append_printf (out, "\\u%04x", c);
    } else {
      g_string_append_c (out, (char) c);
    }
  }
  g_string_append_c (out, '"');
}
