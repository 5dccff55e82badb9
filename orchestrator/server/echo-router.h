/* echo-router.h: the route table of echod's HTTP front.
 *
 * A route is a method plus a path pattern whose segments are literals or `{name}`
 * placeholders (one non-empty segment each, e.g. "/api/share/{id}/audio"). Matching tells
 * apart "no route has this path" (404) from "the path exists but not with this method"
 * (405, with the methods that would have matched for the Allow header). HEAD matches the
 * GET route of a path. The router only matches; what a route does is its data's business.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoRouter EchoRouter;

typedef enum {
  ECHO_ROUTE_MATCHED,
  ECHO_ROUTE_NOT_FOUND,
  ECHO_ROUTE_WRONG_METHOD,
} EchoRouteMatch;

typedef struct {
  const char *method;         /* the route's method, e.g. "GET" */
  const char *pattern;        /* the route's pattern (the metric/log label) */
  gpointer route_data;        /* as given to echo_router_add () */
  GHashTable *params;         /* placeholder name -> decoded segment; owned by the result */
  char *allow;                /* WRONG_METHOD: "GET, POST, OPTIONS" style list; else NULL */
} EchoRouteResult;

EchoRouter *echo_router_new (void);
void echo_router_free (EchoRouter *router);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRouter, echo_router_free)

/* Adds a route; the pattern must start with '/' (programmer error otherwise).
 * route_data is not owned. */
void echo_router_add (EchoRouter *router, const char *method, const char *pattern,
    gpointer route_data);

/* Matches a request. Fills result (which echo_route_result_clear () releases) for every
 * outcome; path is the already percent-decoded request path. */
EchoRouteMatch echo_router_match (EchoRouter *router, const char *method, const char *path,
    EchoRouteResult *result);

void echo_route_result_clear (EchoRouteResult *result);

/* Whether some route of the table has this path, with any method (for OPTIONS). */
gboolean echo_router_has_path (EchoRouter *router, const char *path);

G_END_DECLS
