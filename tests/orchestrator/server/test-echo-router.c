/* test-echo-router.c: echod's route table (echo-router.h) and CORS origin matching
 * (echo-cors.h), without a server.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <string.h>

#include "echo-cors.h"
#include "echo-router.h"

static int start_route, audio_get, audio_post, health;

static EchoRouter *
share_router (void)
{
  EchoRouter *router = echo_router_new ();

  echo_router_add (router, "POST", "/api/share/start", &start_route);
  echo_router_add (router, "GET", "/api/share/{id}/audio", &audio_get);
  echo_router_add (router, "POST", "/api/share/{id}/audio", &audio_post);
  echo_router_add (router, "GET", "/health", &health);
  return router;
}

static void
test_match_with_placeholder (void)
{
  g_autoptr (EchoRouter) router = share_router ();
  EchoRouteResult result;

  g_assert_cmpint (echo_router_match (router, "POST", "/api/share/123456/audio", &result), ==,
      ECHO_ROUTE_MATCHED);
  g_assert_true (result.route_data == &audio_post);
  g_assert_cmpstr (result.pattern, ==, "/api/share/{id}/audio");
  g_assert_cmpstr (g_hash_table_lookup (result.params, "id"), ==, "123456");
  g_assert_null (result.allow);
  echo_route_result_clear (&result);

  /* a literal route beside a placeholder one: "start" is not an id of an audio route */
  g_assert_cmpint (echo_router_match (router, "POST", "/api/share/start", &result), ==,
      ECHO_ROUTE_MATCHED);
  g_assert_true (result.route_data == &start_route);
  echo_route_result_clear (&result);

  /* HEAD is served by the GET route */
  g_assert_cmpint (echo_router_match (router, "HEAD", "/health", &result), ==,
      ECHO_ROUTE_MATCHED);
  g_assert_true (result.route_data == &health);
  echo_route_result_clear (&result);
}

static void
test_not_found_and_wrong_method (void)
{
  g_autoptr (EchoRouter) router = share_router ();
  EchoRouteResult result;

  g_assert_cmpint (echo_router_match (router, "GET", "/api/share/123456", &result), ==,
      ECHO_ROUTE_NOT_FOUND);
  echo_route_result_clear (&result);
  /* an empty segment never fills a placeholder */
  g_assert_cmpint (echo_router_match (router, "GET", "/api/share//audio", &result), ==,
      ECHO_ROUTE_NOT_FOUND);
  echo_route_result_clear (&result);
  g_assert_cmpint (echo_router_match (router, "GET", "/health/", &result), ==,
      ECHO_ROUTE_NOT_FOUND);
  echo_route_result_clear (&result);
  g_assert_cmpint (echo_router_match (router, "GET", "", &result), ==, ECHO_ROUTE_NOT_FOUND);
  echo_route_result_clear (&result);

  g_assert_cmpint (echo_router_match (router, "DELETE", "/api/share/1/audio", &result), ==,
      ECHO_ROUTE_WRONG_METHOD);
  g_assert_cmpstr (result.allow, ==, "GET, POST, OPTIONS");
  echo_route_result_clear (&result);
  g_assert_cmpint (echo_router_match (router, "GET", "/api/share/start", &result), ==,
      ECHO_ROUTE_WRONG_METHOD);
  g_assert_cmpstr (result.allow, ==, "POST, OPTIONS");
  echo_route_result_clear (&result);

  g_assert_true (echo_router_has_path (router, "/api/share/42/audio"));
  g_assert_false (echo_router_has_path (router, "/api/share/42"));
}

static void
test_cors_origins (void)
{
  const char *entries[] = { "http://localhost:*", " https://App.Example.org ", "",
    "https://*.example.net", "http://*:8080", NULL };
  const char *any[] = { "*", NULL };
  const char *bad[] = { "http://localhost:*", "localhost:3000", NULL };
  g_autoptr (EchoCors) cors = echo_cors_new (entries, NULL);
  g_autoptr (EchoCors) open = echo_cors_new (any, NULL);
  g_autoptr (EchoCors) none = echo_cors_new (NULL, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_null (echo_cors_new (bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "localhost:3000"));

  g_assert_true (echo_cors_origin_allowed (cors, "http://localhost:3000"));
  g_assert_true (echo_cors_origin_allowed (cors, "http://localhost"));
  g_assert_true (echo_cors_origin_allowed (cors, "HTTP://LOCALHOST:8080"));
  g_assert_true (echo_cors_origin_allowed (cors, "https://app.example.org"));
  g_assert_false (echo_cors_origin_allowed (cors, "https://localhost:3000"));
  g_assert_false (echo_cors_origin_allowed (cors, "http://localhost.evil.org"));
  g_assert_false (echo_cors_origin_allowed (cors, "http://localhost:"));
  g_assert_false (echo_cors_origin_allowed (cors, "http://localhost:80x"));
  g_assert_false (echo_cors_origin_allowed (cors, "https://app.example.org:443"));
  g_assert_false (echo_cors_origin_allowed (cors, "null"));
  g_assert_true (echo_cors_origin_allowed (cors, "https://a.b.example.net"));
  g_assert_false (echo_cors_origin_allowed (cors, "https://example.net"));
  g_assert_false (echo_cors_origin_allowed (cors, "https://evilexample.net"));
  g_assert_true (echo_cors_origin_allowed (cors, "http://10.0.0.1:8080"));
  g_assert_false (echo_cors_origin_allowed (cors, "http://10.0.0.1:8081"));
  g_assert_false (echo_cors_origin_allowed (cors, "http://10.0.0.1"));
  g_assert_false (echo_cors_origin_allowed (cors, NULL));

  g_assert_true (echo_cors_origin_allowed (open, "https://anything.example"));
  g_assert_false (echo_cors_origin_allowed (open, ""));
  g_assert_false (echo_cors_origin_allowed (none, "http://localhost:3000"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/router/match-with-placeholder", test_match_with_placeholder);
  g_test_add_func ("/router/not-found-and-wrong-method", test_not_found_and_wrong_method);
  g_test_add_func ("/cors/origins", test_cors_origins);
  return g_test_run ();
}
