/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-radio-station.c: stations, read strictly from one object form (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-station.h"

#include <string.h>

#include "echo-radio-request.h"

G_DEFINE_QUARK (echo-radio-station-error-quark, echo_radio_station_error)

/* What an API body may set; the store form adds id, communityId, createdAt, updatedAt. */
static const char *const api_members[] = {
  "providerType", "name", "streamUrl", "mount", "metadataSource", "apiEndpoint", "apiKey",
  "metadataPaths", "pollSeconds", "bitrate", "codec", "customHeaders", "fallback", "enabled",
  NULL
};
static const char *const store_members[] = { "id", "communityId", "createdAt", "updatedAt",
  NULL };
static const char *const path_names[] = { "title", "artist", "album", "thumbnail",
  "duration", NULL };

void
echo_radio_station_free (EchoRadioStation *station)
{
  if (station == NULL)
    return;
  g_free (station->id);
  g_free (station->community_id);
  g_free (station->provider_type);
  g_free (station->name);
  g_free (station->stream_url);
  g_free (station->mount);
  g_free (station->api_endpoint);
  g_free (station->api_key);
  g_clear_pointer (&station->metadata_paths, json_node_unref);
  g_free (station->codec);
  g_clear_pointer (&station->custom_headers, json_node_unref);
  g_free (station->fallback_value);
  g_free (station);
}

static gboolean
invalid (GError **error, const char *member, const char *what)
{
  g_set_error (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
      "%s must be %s", member, what);
  return FALSE;
}

static gboolean
printable (const char *text, gboolean allow_space)
{
  for (; *text != '\0'; text++)
    if ((guchar) *text < (allow_space ? 0x20 : 0x21) || (guchar) *text > 0x7e)
      return FALSE;
  return TRUE;
}

/* A string member: absent or null -> *out NULL (an error when @required). */
static gboolean
read_string (JsonObject *obj, const char *member, gboolean required, gsize max_len,
    char **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  const char *value;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    if (required)
      return invalid (error, member, "given");
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, member, "a string");
  value = json_node_get_string (node);
  if (value[0] == '\0' || strlen (value) > max_len || !g_utf8_validate (value, -1, NULL))
    return invalid (error, member, "a non-empty UTF-8 string of reasonable length");
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
read_url (JsonObject *obj, const char *member, char **out, GError **error)
{
  g_autoptr (GUri) uri = NULL;

  if (!read_string (obj, member, FALSE, 2048, out, error))
    return FALSE;
  if (*out == NULL)
    return TRUE;
  uri = g_uri_parse (*out, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
          g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
      g_uri_get_host (uri) == NULL || !printable (*out, FALSE)) {
    g_clear_pointer (out, g_free);
    return invalid (error, member, "an absolute http(s) URL");
  }
  return TRUE;
}

static gboolean
read_uint (JsonObject *obj, const char *member, guint min, guint max, guint fallback,
    guint *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  gint64 value;

  *out = fallback;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < min || value > max) {
    g_autofree char *what = g_strdup_printf ("an integer %u..%u", min, max);

    return invalid (error, member, what);
  }
  *out = (guint) value;
  return TRUE;
}

static gboolean
read_time (JsonObject *obj, const char *member, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0)
    return invalid (error, member, "a time in Unix ms");
  *out = json_node_get_int (node);
  return TRUE;
}

/* An object whose members (all strings) pass @check; a sealed copy in *out. */
static gboolean
read_string_map (JsonObject *obj, const char *member, const char *const *allowed,
    guint max_members, gboolean header_values, JsonNode **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;
  guint n = 0;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, member, "an object");
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &name, &value)) {
    const char *text;

    if (++n > max_members || (allowed != NULL && !g_strv_contains (allowed, name)))
      return invalid (error, member, allowed != NULL ?
          "an object of title, artist, album, thumbnail, duration" :
          "an object of at most 16 headers");
    if (allowed == NULL && (name[0] == '\0' || strlen (name) > 64 ||
            strpbrk (name, " :()<>@,;\\\"/[]?={}\t") != NULL || !printable (name, FALSE)))
      return invalid (error, member, "an object whose names are HTTP header names");
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
      return invalid (error, member, "an object of strings");
    text = json_node_get_string (value);
    if (strlen (text) > 1024 || (header_values ? !printable (text, TRUE) :
            (text[0] == '\0' || !g_utf8_validate (text, -1, NULL))))
      return invalid (error, member, header_values ?
          "an object of printable ASCII values (no line breaks)" :
          "an object of non-empty paths");
  }
  *out = json_node_copy (node);
  json_node_seal (*out);
  return TRUE;
}

/* The one reader: @obj holds every member of the store form (the API's members and the
 * bookkeeping ones); anything else is refused. */
static EchoRadioStation *
station_read (JsonObject *obj, GError **error)
{
  g_autoptr (EchoRadioStation) st = g_new0 (EchoRadioStation, 1);
  g_autofree char *source = NULL, *fallback_type = NULL;
  JsonNode *node;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &name, &value))
    if (!g_strv_contains (api_members, name) && !g_strv_contains (store_members, name)) {
      g_set_error (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
          "unknown member %.64s", name);
      return NULL;
    }
  if (!read_string (obj, "id", TRUE, 128, &st->id, error) ||
      !read_string (obj, "communityId", TRUE, 128, &st->community_id, error) ||
      !read_string (obj, "providerType", TRUE, 32, &st->provider_type, error) ||
      !read_string (obj, "name", TRUE, 256, &st->name, error) ||
      !read_url (obj, "streamUrl", &st->stream_url, error) ||
      !read_string (obj, "mount", FALSE, 65, &st->mount, error) ||
      !read_string (obj, "metadataSource", FALSE, 8, &source, error) ||
      !read_url (obj, "apiEndpoint", &st->api_endpoint, error) ||
      !read_string (obj, "apiKey", FALSE, 1024, &st->api_key, error) ||
      !read_string_map (obj, "metadataPaths", path_names, 5, FALSE, &st->metadata_paths,
          error) ||
      !read_uint (obj, "pollSeconds", 5, 3600, ECHO_RADIO_STATION_DEFAULT_POLL_SECONDS,
          &st->poll_seconds, error) ||
      !read_uint (obj, "bitrate", 0, 100000, 0, &st->bitrate, error) ||
      !read_string (obj, "codec", FALSE, 32, &st->codec, error) ||
      !read_string_map (obj, "customHeaders", NULL, ECHO_RADIO_STATION_MAX_HEADERS, TRUE,
          &st->custom_headers, error) ||
      !read_time (obj, "createdAt", &st->created_at_ms, error) ||
      !read_time (obj, "updatedAt", &st->updated_at_ms, error))
    return NULL;
  for (name = st->provider_type; *name != '\0'; name++)
    if (!g_ascii_islower (*name) && !g_ascii_isdigit (*name) && *name != '_' && *name != '-') {
      invalid (error, "providerType", "1..32 of [a-z0-9_-]");
      return NULL;
    }
  if (!printable (st->id, FALSE) || !printable (st->community_id, FALSE)) {
    invalid (error, "communityId", "printable ASCII without spaces");
    return NULL;
  }
  if ((st->stream_url == NULL) == (st->mount == NULL)) {
    invalid (error, "streamUrl", "given, or mount instead (not both)");
    return NULL;
  }
  if (st->mount != NULL && !echo_radio_mount_is_valid (st->mount)) {
    invalid (error, "mount", "\"/\" and 1..64 of [A-Za-z0-9._-]");
    return NULL;
  }
  if (source == NULL || strcmp (source, "icy") == 0) {
    st->metadata_source = ECHO_RADIO_METADATA_ICY;
  } else if (strcmp (source, "api") == 0) {
    st->metadata_source = ECHO_RADIO_METADATA_API;
    if (st->api_endpoint == NULL || st->metadata_paths == NULL ||
        !json_object_has_member (json_node_get_object (st->metadata_paths), "title")) {
      invalid (error, "apiEndpoint", "given, with metadataPaths.title, for metadataSource "
          "\"api\"");
      return NULL;
    }
  } else {
    invalid (error, "metadataSource", "\"icy\" or \"api\"");
    return NULL;
  }

  st->enabled = TRUE;
  node = json_object_get_member (obj, "enabled");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node)) {
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
      invalid (error, "enabled", "a boolean");
      return NULL;
    }
    st->enabled = json_node_get_boolean (node);
  }

  st->fallback = ECHO_RADIO_FALLBACK_SILENCE;
  node = json_object_get_member (obj, "fallback");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node)) {
    JsonObject *fb;

    if (!JSON_NODE_HOLDS_OBJECT (node)) {
      invalid (error, "fallback", "an object {type, value}");
      return NULL;
    }
    fb = json_node_get_object (node);
    if (json_object_get_size (fb) > 2 ||
        !read_string (fb, "type", TRUE, 16, &fallback_type, error) ||
        !read_string (fb, "value", FALSE, 1024, &st->fallback_value, error))
      return NULL;
    if (strcmp (fallback_type, "silence") == 0 && st->fallback_value == NULL) {
      st->fallback = ECHO_RADIO_FALLBACK_SILENCE;
    } else if (strcmp (fallback_type, "file") == 0 && st->fallback_value != NULL &&
        g_path_is_absolute (st->fallback_value)) {
      st->fallback = ECHO_RADIO_FALLBACK_FILE;
    } else if (strcmp (fallback_type, "station") == 0 && st->fallback_value != NULL &&
        strcmp (st->fallback_value, st->id) != 0) {
      st->fallback = ECHO_RADIO_FALLBACK_STATION;
    } else {
      invalid (error, "fallback", "{\"type\":\"silence\"}, {\"type\":\"file\",\"value\":"
          "ABSOLUTE_PATH} or {\"type\":\"station\",\"value\":OTHER_STATION_ID}");
      return NULL;
    }
  }
  return g_steal_pointer (&st);
}

static void
set_nullable (JsonObject *obj, const char *member, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (obj, member, value);
  else
    json_object_set_null_member (obj, member);
}

static const char *
fallback_name (EchoRadioFallback fallback)
{
  switch (fallback) {
    case ECHO_RADIO_FALLBACK_FILE:
      return "file";
    case ECHO_RADIO_FALLBACK_STATION:
      return "station";
    case ECHO_RADIO_FALLBACK_SILENCE:
    default:
      return "silence";
  }
}

/* Every member; @with_key: the store form (apiKey), else the API form (hasApiKey). */
static JsonObject *
station_object (const EchoRadioStation *st, gboolean with_key)
{
  JsonObject *obj = json_object_new ();
  JsonObject *fb = json_object_new ();

  json_object_set_string_member (obj, "id", st->id);
  json_object_set_string_member (obj, "communityId", st->community_id);
  json_object_set_string_member (obj, "providerType", st->provider_type);
  json_object_set_string_member (obj, "name", st->name);
  set_nullable (obj, "streamUrl", st->stream_url);
  set_nullable (obj, "mount", st->mount);
  json_object_set_string_member (obj, "metadataSource",
      st->metadata_source == ECHO_RADIO_METADATA_API ? "api" : "icy");
  set_nullable (obj, "apiEndpoint", st->api_endpoint);
  if (with_key)
    set_nullable (obj, "apiKey", st->api_key);
  else
    json_object_set_boolean_member (obj, "hasApiKey", st->api_key != NULL);
  if (st->metadata_paths != NULL)
    json_object_set_member (obj, "metadataPaths", json_node_copy (st->metadata_paths));
  else
    json_object_set_null_member (obj, "metadataPaths");
  json_object_set_int_member (obj, "pollSeconds", st->poll_seconds);
  json_object_set_int_member (obj, "bitrate", st->bitrate);
  set_nullable (obj, "codec", st->codec);
  if (st->custom_headers != NULL)
    json_object_set_member (obj, "customHeaders", json_node_copy (st->custom_headers));
  else
    json_object_set_null_member (obj, "customHeaders");
  json_object_set_string_member (fb, "type", fallback_name (st->fallback));
  if (st->fallback_value != NULL)
    json_object_set_string_member (fb, "value", st->fallback_value);
  json_object_set_object_member (obj, "fallback", fb);
  json_object_set_boolean_member (obj, "enabled", st->enabled);
  json_object_set_int_member (obj, "createdAt", st->created_at_ms);
  json_object_set_int_member (obj, "updatedAt", st->updated_at_ms);
  return obj;
}

EchoRadioStation *
echo_radio_station_from_api (JsonObject *body, const EchoRadioStation *base, const char *id,
    const char *community_id, gint64 now_ms, GError **error)
{
  g_autoptr (JsonObject) merged = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  json_object_iter_init (&iter, body);
  while (json_object_iter_next (&iter, &name, &value))
    if (!g_strv_contains (api_members, name)) {
      g_set_error (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
          "unknown member %.64s (a station has %s)", name,
          "providerType, name, streamUrl or mount, metadataSource, apiEndpoint, apiKey, "
          "metadataPaths, pollSeconds, bitrate, codec, customHeaders, fallback, enabled");
      return NULL;
    }
  if (base != NULL) {
    merged = station_object (base, TRUE);
  } else {
    merged = json_object_new ();
    json_object_set_string_member (merged, "id", id);
    json_object_set_string_member (merged, "communityId", community_id);
    json_object_set_int_member (merged, "createdAt", now_ms);
  }
  /* switching between a URL and a mount: giving one clears the other */
  if (base != NULL && json_object_has_member (body, "mount") &&
      !json_object_has_member (body, "streamUrl"))
    json_object_set_null_member (merged, "streamUrl");
  if (base != NULL && json_object_has_member (body, "streamUrl") &&
      !json_object_has_member (body, "mount"))
    json_object_set_null_member (merged, "mount");
  json_object_iter_init (&iter, body);
  while (json_object_iter_next (&iter, &name, &value))
    json_object_set_member (merged, name, json_node_copy (value));
  json_object_set_int_member (merged, "updatedAt", now_ms);
  return station_read (merged, error);
}

JsonNode *
echo_radio_station_to_json (const EchoRadioStation *station)
{
  return json_node_init_object (json_node_alloc (), station_object (station, FALSE));
}

char *
echo_radio_station_serialize (const EchoRadioStation *station)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
      station_object (station, TRUE));

  return json_to_string (node, FALSE);
}

EchoRadioStation *
echo_radio_station_deserialize (const char *text, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error_literal (error, ECHO_RADIO_STATION_ERROR, ECHO_RADIO_STATION_ERROR_INVALID,
        "a stored station must be a JSON object");
    return NULL;
  }
  return station_read (json_node_get_object (json_parser_get_root (parser)), error);
}

char *
echo_radio_json_path_text (JsonNode *root, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", 32);
  JsonNode *node = root;
  guint i;

  for (i = 0; parts[i] != NULL && node != NULL; i++) {
    guint64 index;

    if (JSON_NODE_HOLDS_OBJECT (node))
      node = json_object_get_member (json_node_get_object (node), parts[i]);
    else if (JSON_NODE_HOLDS_ARRAY (node) &&
        g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXUINT, &index, NULL) &&
        index < json_array_get_length (json_node_get_array (node)))
      node = json_array_get_element (json_node_get_array (node), (guint) index);
    else
      node = NULL;
  }
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  switch (json_node_get_value_type (node)) {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (node));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE: {
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];

      return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (node)));
    }
    default:
      return NULL;
  }
}
