/* EchoStore's front: picks the backend from the URL, validates every argument once for
 * both backends, normalizes JSON so that both store the same text, and serializes calls
 * from several threads.
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "echo-store-backend.h"

#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (echo-store-error-quark, echo_store_error)

static gboolean
validate_collection (const char *collection, GError **error)
{
  gsize len = strlen (collection), i;

  if (len == 0 || len > ECHO_STORE_MAX_COLLECTION_LEN) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "collection name must be 1 to %d characters long, not %" G_GSIZE_FORMAT,
        ECHO_STORE_MAX_COLLECTION_LEN, len);
    return FALSE;
  }
  for (i = 0; i < len; i++) {
    if (!(collection[i] >= 'a' && collection[i] <= 'z') && collection[i] != '_') {
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
          "collection name may only contain a-z and '_' (character %" G_GSIZE_FORMAT
          " is not allowed)", i + 1);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
validate_id (const char *id, GError **error)
{
  gsize len = strlen (id), i;

  if (len == 0 || len > ECHO_STORE_MAX_ID_LEN) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "document id must be 1 to %d characters long, not %" G_GSIZE_FORMAT,
        ECHO_STORE_MAX_ID_LEN, len);
    return FALSE;
  }
  for (i = 0; i < len; i++) {
    if (!g_ascii_isprint (id[i])) {
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
          "document id may only contain printable ASCII (character %" G_GSIZE_FORMAT
          " is not)", i + 1);
      return FALSE;
    }
  }
  return TRUE;
}

static const char *
describe_json_kind (JsonNode *node)
{
  if (node == NULL)
    return "empty text";
  switch (json_node_get_node_type (node)) {
    case JSON_NODE_OBJECT:
      return "an object";
    case JSON_NODE_ARRAY:
      return "an array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
      break;
  }
  switch (json_node_get_value_type (node)) {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "a number";
  }
}

/* Parses @json and returns it as json-glib writes it. json-glib's parser accepts a few
 * things strict JSON does not (comments, single-quoted strings); storing its own output
 * means both backends hold standard JSON for exactly the object json-glib understood. */
static char *
normalize_json_object (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) parse_error = NULL;
  gsize len = strlen (json);
  JsonNode *root;

  if (len > ECHO_STORE_MAX_JSON_LEN) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "JSON document is %" G_GSIZE_FORMAT " bytes, more than the limit of %d",
        len, ECHO_STORE_MAX_JSON_LEN);
    return NULL;
  }
  if (!g_utf8_validate (json, len, NULL)) {
    g_set_error_literal (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "JSON document is not valid UTF-8");
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, len, &parse_error)) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "JSON document does not parse: %s", parse_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "JSON document must be an object, not %s", describe_json_kind (root));
    return NULL;
  }
  return json_to_string (root, FALSE);
}

static EchoStore *
open_backend (const char *data_dir, const char *database_url, GError **error)
{
  if (database_url == NULL || database_url[0] == '\0') {
    g_return_val_if_fail (data_dir != NULL, NULL);
    if (data_dir[0] == '\0') {
      g_set_error_literal (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
          "no data directory given for the file store");
      return NULL;
    }
    return echo_store_file_open (data_dir, error);
  }
  if (g_str_has_prefix (database_url, "postgresql://")
      || g_str_has_prefix (database_url, "postgres://"))
    return echo_store_pg_open (database_url, error);

  {
    /* Name the scheme only: the rest of a URL may carry a password. */
    const char *colon = strchr (database_url, ':');
    g_autofree char *scheme = colon ? g_strndup (database_url, colon - database_url)
        : g_strdup ("(none)");

    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_INVALID,
        "unsupported database URL scheme \"%s\": expected postgresql:// or postgres://",
        scheme);
  }
  return NULL;
}

EchoStore *
echo_store_open (const char *data_dir, const char *database_url, GError **error)
{
  EchoStore *store;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  store = open_backend (data_dir, database_url, error);
  if (store != NULL)
    g_mutex_init (&store->lock);
  return store;
}

void
echo_store_free (EchoStore *store)
{
  if (store == NULL)
    return;
  g_mutex_clear (&store->lock);
  store->backend->free (store);
}

const char *
echo_store_backend_name (EchoStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->backend->name;
}

int
echo_store_schema_version (EchoStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return store->schema_version;
}

gboolean
echo_store_put (EchoStore *store, const char *collection, const char *id,
    const char *json, GError **error)
{
  g_autofree char *normalized = NULL;
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (collection != NULL && id != NULL && json != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!validate_collection (collection, error) || !validate_id (id, error))
    return FALSE;
  normalized = normalize_json_object (json, error);
  if (normalized == NULL)
    return FALSE;
  g_mutex_lock (&store->lock);
  ok = store->backend->put (store, collection, id, normalized, error);
  g_mutex_unlock (&store->lock);
  return ok;
}

char *
echo_store_get (EchoStore *store, const char *collection, const char *id, GError **error)
{
  char *json;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (collection != NULL && id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!validate_collection (collection, error) || !validate_id (id, error))
    return NULL;
  g_mutex_lock (&store->lock);
  json = store->backend->get (store, collection, id, error);
  g_mutex_unlock (&store->lock);
  return json;
}

gboolean
echo_store_delete (EchoStore *store, const char *collection, const char *id,
    GError **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (collection != NULL && id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!validate_collection (collection, error) || !validate_id (id, error))
    return FALSE;
  g_mutex_lock (&store->lock);
  ok = store->backend->delete (store, collection, id, error);
  g_mutex_unlock (&store->lock);
  return ok;
}

static gint
compare_documents_by_id (gconstpointer a, gconstpointer b)
{
  const EchoStoreDocument *da = *(const EchoStoreDocument * const *) a;
  const EchoStoreDocument *db = *(const EchoStoreDocument * const *) b;

  return strcmp (da->id, db->id);
}

GPtrArray *
echo_store_list (EchoStore *store, const char *collection, GError **error)
{
  GPtrArray *documents;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (collection != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!validate_collection (collection, error))
    return NULL;
  g_mutex_lock (&store->lock);
  documents = store->backend->list (store, collection, error);
  g_mutex_unlock (&store->lock);
  if (documents != NULL)
    g_ptr_array_sort (documents, compare_documents_by_id);
  return documents;
}

EchoStoreDocument *
echo_store_document_new_take (char *id, char *json)
{
  EchoStoreDocument *document = g_new (EchoStoreDocument, 1);

  document->id = id;
  document->json = json;
  return document;
}

void
echo_store_document_free (EchoStoreDocument *document)
{
  if (document == NULL)
    return;
  g_free (document->id);
  g_free (document->json);
  g_free (document);
}
