/* Signed upload URLs: what they grant, and every way to be refused. */
#include <gio/gio.h>
#include <string.h>

#include "echo-signed-url.h"

#define SECRET "signed-url-test-secret"

/* Pulls a value out of "expires=..&signature=..". */
static char *
query_value (const char *query, const char *name)
{
  g_autoptr (GHashTable) form = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);

  return g_strdup (g_hash_table_lookup (form, name));
}

static void
test_round_trip (void)
{
  g_autofree char *query = echo_signed_url_query (SECRET, "PUT", "/api/music/upload/abc",
      1000000);
  g_autofree char *expires = query_value (query, "expires");
  g_autofree char *signature = query_value (query, "signature");
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (expires, ==, "1000000");
  g_assert_nonnull (signature);
  g_assert_true (echo_signed_url_verify (SECRET, "PUT", "/api/music/upload/abc", expires,
          signature, 999999, &error));
  g_assert_no_error (error);
}

static void
test_refusals (void)
{
  g_autofree char *query = echo_signed_url_query (SECRET, "PUT", "/api/music/upload/abc",
      1000000);
  g_autofree char *expires = query_value (query, "expires");
  g_autofree char *signature = query_value (query, "signature");
  g_autofree char *flipped = g_strdup (signature);
  struct {
    const char *secret, *method, *path, *expires, *signature;
    gint64 now;
    const char *message;
  } cases[] = {
    { SECRET, "PUT", "/api/music/upload/abc", expires, signature, 1000000, "expired" },
    { SECRET, "PUT", "/api/music/upload/abd", expires, signature, 0, "does not match" },
    { SECRET, "GET", "/api/music/upload/abc", expires, signature, 0, "does not match" },
    { "other-secret", "PUT", "/api/music/upload/abc", expires, signature, 0, "does not match" },
    { SECRET, "PUT", "/api/music/upload/abc", "1000001", signature, 0, "does not match" },
    { SECRET, "PUT", "/api/music/upload/abc", expires, flipped, 0, "does not match" },
    { SECRET, "PUT", "/api/music/upload/abc", expires, "", 0, "does not match" },
    { SECRET, "PUT", "/api/music/upload/abc", "-5", signature, 0, "not a time" },
    { SECRET, "PUT", "/api/music/upload/abc", "12x", signature, 0, "not a time" },
    { SECRET, "PUT", "/api/music/upload/abc", NULL, signature, 0, "needs" },
    { SECRET, "PUT", "/api/music/upload/abc", expires, NULL, 0, "needs" },
  };
  guint i;

  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_false (echo_signed_url_verify (cases[i].secret, cases[i].method, cases[i].path,
            cases[i].expires, cases[i].signature, cases[i].now, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_nonnull (strstr (error->message, cases[i].message));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/signed-url/round-trip", test_round_trip);
  g_test_add_func ("/core/signed-url/refusals", test_refusals);
  return g_test_run ();
}
