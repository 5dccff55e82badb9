/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * provider-replay.c: rule-driven provider replies over a real libsoup server.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "provider-replay.h"

#include <string.h>

static const char no_rule[] = "{\"error\":{\"message\":\"no replay rule\"}}";

typedef enum { RULE_BODY, RULE_REDIRECT, RULE_SILENCE } RuleKind;

typedef struct
{
  RuleKind kind;
  char *method;
  char *path;
  GHashTable *query;            /* required parameters, or NULL */
  guint status;
  char *content_type;
  GBytes *body;
  char *location;
  gboolean once;
  gboolean used;
} Rule;

struct _ProviderReplay
{
  SoupServer *server;
  char *origin;
  guint port;
  GPtrArray *rules;
  GPtrArray *requests;
  GPtrArray *silenced;          /* SoupServerMessage* (ref) left paused */
};

static void
rule_free (Rule *rule)
{
  g_free (rule->method);
  g_free (rule->path);
  g_clear_pointer (&rule->query, g_hash_table_unref);
  g_free (rule->content_type);
  g_clear_pointer (&rule->body, g_bytes_unref);
  g_free (rule->location);
  g_free (rule);
}

static void
request_free (ReplayRequest *request)
{
  g_free (request->method);
  g_free (request->path);
  g_hash_table_unref (request->query);
  g_free (request->authorization);
  g_free (request->range);
  g_free (request->body);
  g_free (request);
}

static gboolean
rule_matches (Rule *rule, const char *method, const char *path, GHashTable *query)
{
  GHashTableIter iter;
  gpointer key, value;

  if ((rule->once && rule->used) || strcmp (rule->path, path) != 0 ||
      (rule->method != NULL && strcmp (rule->method, method) != 0))
    return FALSE;
  if (rule->query == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, rule->query);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const char *given = g_hash_table_lookup (query, key);

    if (given == NULL || strcmp (given, value) != 0)
      return FALSE;
  }
  return TRUE;
}

static void
on_silenced_finished (SoupServerMessage *msg, gpointer user_data)
{
  ProviderReplay *replay = user_data;

  g_ptr_array_remove (replay->silenced, msg);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer user_data)
{
  ProviderReplay *replay = user_data;
  SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char *method = soup_server_message_get_method (msg);
  ReplayRequest *request = g_new0 (ReplayRequest, 1);

  request->method = g_strdup (method);
  request->path = g_strdup (path);
  request->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (query != NULL) {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, query);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_insert (request->query, g_strdup (key), g_strdup (value));
  }
  request->authorization = g_strdup (soup_message_headers_get_one (in, "Authorization"));
  request->range = g_strdup (soup_message_headers_get_one (in, "Range"));
  {
    g_autoptr (GBytes) bytes = soup_message_body_flatten (body);

    request->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  }
  g_ptr_array_add (replay->requests, request);

  for (guint i = replay->rules->len; i > 0; i--) {
    Rule *rule = g_ptr_array_index (replay->rules, i - 1);

    if (!rule_matches (rule, method, path, request->query))
      continue;
    rule->used = TRUE;
    switch (rule->kind) {
      case RULE_BODY:
        soup_server_message_set_status (msg, rule->status, NULL);
        if (rule->body != NULL) {
          gsize len;
          const char *data = g_bytes_get_data (rule->body, &len);

          soup_server_message_set_response (msg, rule->content_type, SOUP_MEMORY_COPY,
              data, len);
        } else if (rule->content_type != NULL) {
          soup_message_headers_replace (soup_server_message_get_response_headers (msg),
              "Content-Type", rule->content_type);
        }
        return;
      case RULE_REDIRECT:
        soup_server_message_set_redirect (msg, rule->status, rule->location);
        return;
      case RULE_SILENCE:
        g_ptr_array_add (replay->silenced, g_object_ref (msg));
        g_signal_connect (msg, "finished", G_CALLBACK (on_silenced_finished), replay);
        soup_server_message_pause (msg);
        return;
    }
  }
  soup_server_message_set_status (msg, 404, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
      no_rule, sizeof no_rule - 1);
}

ProviderReplay *
provider_replay_new (void)
{
  ProviderReplay *replay = g_new0 (ProviderReplay, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  replay->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) rule_free);
  replay->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  replay->silenced = g_ptr_array_new_with_free_func (g_object_unref);
  replay->server = soup_server_new ("server-header", "provider-replay", NULL);
  soup_server_add_handler (replay->server, NULL, handle, replay, NULL);
  if (!soup_server_listen_local (replay->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("provider replay: %s", error->message);
  uris = soup_server_get_uris (replay->server);
  replay->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  replay->origin = g_strdup_printf ("http://127.0.0.1:%u", replay->port);
  return replay;
}

void
provider_replay_free (ProviderReplay *replay)
{
  if (replay == NULL)
    return;
  /* Answer what was left hanging so the server can let go of it. */
  while (replay->silenced->len > 0) {
    SoupServerMessage *msg = g_object_ref (g_ptr_array_index (replay->silenced, 0));

    g_signal_handlers_disconnect_by_data (msg, replay);
    g_ptr_array_remove_index (replay->silenced, 0);
    soup_server_message_set_status (msg, 503, NULL);
    soup_server_message_unpause (msg);
    g_object_unref (msg);
  }
  for (int i = 0; i < 20 && g_main_context_iteration (NULL, FALSE); i++);
  soup_server_disconnect (replay->server);
  g_object_unref (replay->server);
  g_ptr_array_unref (replay->silenced);
  g_ptr_array_unref (replay->rules);
  g_ptr_array_unref (replay->requests);
  g_free (replay->origin);
  g_free (replay);
}

const char *
provider_replay_origin (ProviderReplay *replay)
{
  return replay->origin;
}

guint
provider_replay_port (ProviderReplay *replay)
{
  return replay->port;
}

static Rule *
add_rule (ProviderReplay *replay, RuleKind kind, const char *method, const char *path,
    const char *query)
{
  Rule *rule = g_new0 (Rule, 1);

  rule->kind = kind;
  rule->method = g_strdup (method);
  rule->path = g_strdup (path);
  if (query != NULL)
    rule->query = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
  g_ptr_array_add (replay->rules, rule);
  return rule;
}

void
provider_replay_add_fixture (ProviderReplay *replay, const char *method, const char *path,
    const char *query, guint status, const char *fixture)
{
  Rule *rule = add_rule (replay, RULE_BODY, method, path, query);

  rule->status = status;
  rule->content_type = g_strdup ("application/json; charset=utf-8");
  if (fixture != NULL) {
    g_autofree char *file = g_build_filename (RESOLVER_FIXTURES_DIR, fixture, NULL);
    g_autoptr (GError) error = NULL;
    char *contents;
    gsize len;

    if (!g_file_get_contents (file, &contents, &len, &error))
      g_error ("provider replay: %s", error->message);
    rule->body = g_bytes_new_take (contents, len);
  }
}

void
provider_replay_add_body (ProviderReplay *replay, const char *method, const char *path,
    const char *query, guint status, const char *content_type, const char *body,
    gboolean once)
{
  Rule *rule = add_rule (replay, RULE_BODY, method, path, query);

  rule->status = status;
  rule->content_type = g_strdup (content_type);
  rule->body = body != NULL ? g_bytes_new (body, strlen (body)) : NULL;
  rule->once = once;
}

void
provider_replay_add_redirect (ProviderReplay *replay, const char *path, guint status,
    const char *location)
{
  Rule *rule = add_rule (replay, RULE_REDIRECT, NULL, path, NULL);

  rule->status = status;
  rule->location = g_strdup (location);
}

void
provider_replay_add_silence (ProviderReplay *replay, const char *path)
{
  add_rule (replay, RULE_SILENCE, NULL, path, NULL);
}

GPtrArray *
provider_replay_requests (ProviderReplay *replay)
{
  return replay->requests;
}

guint
provider_replay_count (ProviderReplay *replay, const char *path)
{
  guint count = 0;

  for (guint i = 0; i < replay->requests->len; i++) {
    ReplayRequest *request = g_ptr_array_index (replay->requests, i);

    if (strcmp (request->path, path) == 0)
      count++;
  }
  return count;
}

const ReplayRequest *
provider_replay_last (ProviderReplay *replay, const char *path)
{
  for (guint i = replay->requests->len; i > 0; i--) {
    ReplayRequest *request = g_ptr_array_index (replay->requests, i - 1);

    if (strcmp (request->path, path) == 0)
      return request;
  }
  return NULL;
}

void
provider_replay_forget_requests (ProviderReplay *replay)
{
  g_ptr_array_set_size (replay->requests, 0);
}
