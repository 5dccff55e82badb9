/* echo-router.c: route table matching; see echo-router.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-router.h"

#include <string.h>

typedef struct {
  char *method;
  char *pattern;
  char **segments;            /* pattern split at '/', without the leading empty one */
  gpointer route_data;
} EchoRoute;

struct _EchoRouter {
  GPtrArray *routes;          /* of EchoRoute*, in the order added */
};

static void
echo_route_free (gpointer data)
{
  EchoRoute *route = data;

  g_free (route->method);
  g_free (route->pattern);
  g_strfreev (route->segments);
  g_free (route);
}

EchoRouter *
echo_router_new (void)
{
  EchoRouter *router = g_new0 (EchoRouter, 1);

  router->routes = g_ptr_array_new_with_free_func (echo_route_free);
  return router;
}

void
echo_router_free (EchoRouter *router)
{
  if (router == NULL)
    return;
  g_ptr_array_unref (router->routes);
  g_free (router);
}

void
echo_router_add (EchoRouter *router, const char *method, const char *pattern,
    gpointer route_data)
{
  EchoRoute *route;

  g_return_if_fail (router != NULL);
  g_return_if_fail (method != NULL);
  g_return_if_fail (pattern != NULL && pattern[0] == '/');

  route = g_new0 (EchoRoute, 1);
  route->method = g_strdup (method);
  route->pattern = g_strdup (pattern);
  route->segments = g_strsplit (pattern + 1, "/", -1);
  route->route_data = route_data;
  g_ptr_array_add (router->routes, route);
}

static gboolean
is_placeholder (const char *segment)
{
  gsize len = strlen (segment);

  return len > 2 && segment[0] == '{' && segment[len - 1] == '}';
}

/* Whether the path's segments fit the route's; fills params (if given) with the
 * placeholder values. */
static gboolean
route_fits_path (const EchoRoute *route, char *const *path_segments, GHashTable *params)
{
  guint i;

  if (g_strv_length (route->segments) != g_strv_length ((char **) path_segments))
    return FALSE;

  for (i = 0; route->segments[i] != NULL; i++) {
    const char *want = route->segments[i];
    const char *have = path_segments[i];

    if (is_placeholder (want)) {
      if (have[0] == '\0')
        return FALSE;
      if (params != NULL)
        g_hash_table_insert (params, g_strndup (want + 1, strlen (want) - 2), g_strdup (have));
    } else if (strcmp (want, have) != 0) {
      return FALSE;
    }
  }
  return TRUE;
}

static char **
split_path (const char *path)
{
  if (path == NULL || path[0] != '/')
    return NULL;
  return g_strsplit (path + 1, "/", -1);
}

static gboolean
method_fits (const char *route_method, const char *method)
{
  return strcmp (route_method, method) == 0 ||
      (strcmp (method, "HEAD") == 0 && strcmp (route_method, "GET") == 0);
}

EchoRouteMatch
echo_router_match (EchoRouter *router, const char *method, const char *path,
    EchoRouteResult *result)
{
  g_auto (GStrv) segments = NULL;
  g_autoptr (GPtrArray) allowed = NULL;
  guint i;

  g_return_val_if_fail (router != NULL, ECHO_ROUTE_NOT_FOUND);
  g_return_val_if_fail (method != NULL, ECHO_ROUTE_NOT_FOUND);
  g_return_val_if_fail (result != NULL, ECHO_ROUTE_NOT_FOUND);

  memset (result, 0, sizeof *result);
  segments = split_path (path);
  if (segments == NULL)
    return ECHO_ROUTE_NOT_FOUND;

  allowed = g_ptr_array_new ();
  for (i = 0; i < router->routes->len; i++) {
    EchoRoute *route = g_ptr_array_index (router->routes, i);
    g_autoptr (GHashTable) params = NULL;

    params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    if (!route_fits_path (route, segments, params))
      continue;

    if (method_fits (route->method, method)) {
      result->method = route->method;
      result->pattern = route->pattern;
      result->route_data = route->route_data;
      result->params = g_steal_pointer (&params);
      return ECHO_ROUTE_MATCHED;
    }
    if (!g_ptr_array_find_with_equal_func (allowed, route->method, g_str_equal, NULL))
      g_ptr_array_add (allowed, route->method);
  }

  if (allowed->len == 0)
    return ECHO_ROUTE_NOT_FOUND;

  {
    g_autoptr (GString) allow = g_string_new (NULL);

    for (i = 0; i < allowed->len; i++)
      g_string_append_printf (allow, "%s, ", (const char *) g_ptr_array_index (allowed, i));
    g_string_append (allow, "OPTIONS");
    result->allow = g_string_free (g_steal_pointer (&allow), FALSE);
  }
  return ECHO_ROUTE_WRONG_METHOD;
}

void
echo_route_result_clear (EchoRouteResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->params, g_hash_table_unref);
  g_clear_pointer (&result->allow, g_free);
  memset (result, 0, sizeof *result);
}

gboolean
echo_router_has_path (EchoRouter *router, const char *path)
{
  g_auto (GStrv) segments = split_path (path);
  guint i;

  g_return_val_if_fail (router != NULL, FALSE);

  if (segments == NULL)
    return FALSE;
  for (i = 0; i < router->routes->len; i++) {
    if (route_fits_path (g_ptr_array_index (router->routes, i), segments, NULL))
      return TRUE;
  }
  return FALSE;
}
