/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-url-guard: the SSRF guard's address ranges (IPv4, IPv6 and IPv6 forms embedding
 * IPv4), its whitelist (exact names, "*." suffixes, literals), URL checks, and real
 * GResolver lookups of loopback names.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-music-error.h"
#include "echo-url-guard.h"

typedef struct
{
  const char *address;
  gboolean is_public;
} AddressCase;

static const AddressCase addresses[] = {
  { "8.8.8.8", TRUE }, { "142.250.74.78", TRUE }, { "1.1.1.1", TRUE },
  { "100.63.255.255", TRUE }, { "100.128.0.0", TRUE }, { "172.15.255.255", TRUE },
  { "172.32.0.0", TRUE }, { "192.169.0.1", TRUE }, { "223.255.255.255", TRUE },
  { "0.0.0.0", FALSE }, { "0.1.2.3", FALSE }, { "10.0.0.1", FALSE }, { "10.255.255.255", FALSE },
  { "100.64.0.1", FALSE }, { "100.127.255.254", FALSE }, { "127.0.0.1", FALSE },
  { "127.255.0.1", FALSE }, { "169.254.169.254", FALSE }, { "172.16.0.1", FALSE },
  { "172.31.255.255", FALSE }, { "192.0.0.8", FALSE }, { "192.0.2.1", FALSE },
  { "192.168.1.1", FALSE }, { "198.18.0.1", FALSE }, { "198.51.100.7", FALSE },
  { "203.0.113.9", FALSE }, { "224.0.0.251", FALSE }, { "239.255.255.250", FALSE },
  { "240.0.0.1", FALSE }, { "255.255.255.255", FALSE },
  { "2001:4860:4860::8888", TRUE }, { "2606:4700:4700::1111", TRUE },
  { "2a00:1450:4001:82a::200e", TRUE }, { "::ffff:8.8.8.8", TRUE }, { "2002:808:808::1", TRUE },
  { "64:ff9b::808:808", TRUE },
  { "::", FALSE }, { "::1", FALSE }, { "fe80::1", FALSE }, { "febf::1", FALSE },
  { "fec0::1", FALSE }, { "fc00::1", FALSE }, { "fd12:3456:789a::1", FALSE }, { "ff02::fb", FALSE },
  { "2001:db8::1", FALSE }, { "2001::1", FALSE }, { "100::1", FALSE },
  { "::ffff:127.0.0.1", FALSE }, { "::ffff:10.1.2.3", FALSE }, { "::ffff:169.254.169.254", FALSE },
  { "::127.0.0.1", FALSE }, { "64:ff9b::7f00:1", FALSE }, { "2002:c0a8:101::1", FALSE },
  { "2002:7f00:1::", FALSE },
};

static void
test_address_ranges (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (addresses); i++) {
    g_autoptr (GInetAddress) address = g_inet_address_new_from_string (addresses[i].address);

    g_test_message ("%s", addresses[i].address);
    g_assert_nonnull (address);
    g_assert_cmpint (echo_url_guard_address_is_public (address), ==, addresses[i].is_public);
  }
}

static void
test_check_address (void)
{
  g_autoptr (EchoUrlGuard) strict = echo_url_guard_new (FALSE);
  g_autoptr (EchoUrlGuard) lax = echo_url_guard_new (TRUE);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GInetAddress) public = g_inet_address_new_from_string ("8.8.4.4");
  g_autoptr (GError) error = NULL;

  g_assert_true (echo_url_guard_check_address (strict, public, NULL));
  g_assert_false (echo_url_guard_check_address (strict, loopback, &error));
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN);
  g_assert_true (echo_url_guard_check_address (lax, loopback, NULL));
}

static void
test_whitelist (void)
{
  g_autoptr (EchoUrlGuard) guard = echo_url_guard_new (FALSE);

  echo_url_guard_add_host (guard, "API.Spotify.com");
  echo_url_guard_add_host (guard, "*.cdn.example.com");
  echo_url_guard_add_host (guard, "[::1]");
  echo_url_guard_add_host (guard, "");
  echo_url_guard_add_host_of_url (guard, "http://127.0.0.1:4321/youtube/v3");
  echo_url_guard_add_host_of_url (guard, "not a url");

  g_assert_true (echo_url_guard_host_is_listed (guard, "api.spotify.com"));
  g_assert_true (echo_url_guard_host_is_listed (guard, "api.spotify.com."));
  g_assert_true (echo_url_guard_host_is_listed (guard, "API.SPOTIFY.COM"));
  g_assert_true (echo_url_guard_host_is_listed (guard, "a.cdn.example.com"));
  g_assert_true (echo_url_guard_host_is_listed (guard, "x.y.cdn.example.com"));
  g_assert_true (echo_url_guard_host_is_listed (guard, "::1"));
  g_assert_true (echo_url_guard_host_is_listed (guard, "127.0.0.1"));
  g_assert_false (echo_url_guard_host_is_listed (guard, "cdn.example.com"));
  g_assert_false (echo_url_guard_host_is_listed (guard, "evilcdn.example.com"));
  g_assert_false (echo_url_guard_host_is_listed (guard, "spotify.com"));
  g_assert_false (echo_url_guard_host_is_listed (guard, "api.spotify.com.evil.org"));
  g_assert_false (echo_url_guard_host_is_listed (guard, "localhost"));
  g_assert_false (echo_url_guard_host_is_listed (guard, ""));
  g_assert_false (echo_url_guard_host_is_listed (guard, NULL));
}

static void
check_uri (EchoUrlGuard *guard, const char *url, gboolean allowed)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr (GError) error = NULL;

  g_test_message ("%s", url);
  g_assert_nonnull (uri);
  g_assert_cmpint (echo_url_guard_check_uri (guard, uri, &error), ==, allowed);
  if (!allowed)
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN);
}

static void
test_check_uri (void)
{
  g_autoptr (EchoUrlGuard) guard = echo_url_guard_new (FALSE);

  echo_url_guard_add_host (guard, "media.example.com");
  check_uri (guard, "https://media.example.com/a.mp3", TRUE);
  check_uri (guard, "HTTP://MEDIA.example.com:8080/a.mp3", TRUE);
  check_uri (guard, "ftp://media.example.com/a.mp3", FALSE);
  check_uri (guard, "file://media.example.com/etc/passwd", FALSE);
  check_uri (guard, "https://user@media.example.com/a.mp3", FALSE);
  check_uri (guard, "https://other.example.com/a.mp3", FALSE);
  check_uri (guard, "https://2130706433/a.mp3", FALSE);
}

/* Real lookups: loopback names and literals are refused unless allowed. */
static void
test_host_addresses (void)
{
  g_autoptr (EchoUrlGuard) strict = echo_url_guard_new (FALSE);
  g_autoptr (EchoUrlGuard) lax = echo_url_guard_new (TRUE);
  const char *const refused[] = { "127.0.0.1", "localhost", "::1", "[::1]", "10.1.2.3",
    "169.254.169.254" };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) error = NULL;

    g_test_message ("%s", refused[i]);
    g_assert_false (echo_url_guard_check_host_addresses (strict, refused[i], NULL, &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN);
    g_assert_true (echo_url_guard_check_host_addresses (lax, refused[i], NULL, NULL));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    g_assert_false (echo_url_guard_check_host_addresses (strict, "8.8.8.8", cancellable,
            &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
  {
    g_autoptr (GError) error = NULL;

    /* .invalid never resolves (RFC 6761): the provider is unreachable, not forbidden. */
    g_assert_false (echo_url_guard_check_host_addresses (strict, "echo-test.invalid", NULL,
            &error));
    g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/url-guard/address-ranges", test_address_ranges);
  g_test_add_func ("/url-guard/check-address", test_check_address);
  g_test_add_func ("/url-guard/whitelist", test_whitelist);
  g_test_add_func ("/url-guard/check-uri", test_check_uri);
  g_test_add_func ("/url-guard/host-addresses", test_host_addresses);
  return g_test_run ();
}
