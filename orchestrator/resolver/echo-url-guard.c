/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-url-guard.c: host whitelist and address ranges of the SSRF guard.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-url-guard.h"

#include <string.h>

#include "echo-music-error.h"

struct _EchoUrlGuard
{
  GHashTable *hosts;            /* lower-case names and literals */
  GPtrArray *suffixes;          /* ".example.com" for "*.example.com" */
  gboolean allow_private;
};

EchoUrlGuard *
echo_url_guard_new (gboolean allow_private)
{
  EchoUrlGuard *guard = g_new0 (EchoUrlGuard, 1);

  guard->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guard->suffixes = g_ptr_array_new_with_free_func (g_free);
  guard->allow_private = allow_private;
  return guard;
}

void
echo_url_guard_free (EchoUrlGuard *guard)
{
  if (guard == NULL)
    return;
  g_hash_table_unref (guard->hosts);
  g_ptr_array_unref (guard->suffixes);
  g_free (guard);
}

/* Lower case, no trailing dot, IPv6 literals without brackets. */
static char *
normalise_host (const char *host)
{
  char *norm;
  gsize len;

  if (host[0] == '[') {
    len = strlen (host);
    norm = g_ascii_strdown (host + 1, len > 1 && host[len - 1] == ']' ? (gssize) len - 2 : -1);
  } else {
    norm = g_ascii_strdown (host, -1);
  }
  len = strlen (norm);
  if (len > 1 && norm[len - 1] == '.')
    norm[len - 1] = '\0';
  return norm;
}

void
echo_url_guard_add_host (EchoUrlGuard *guard, const char *host)
{
  g_return_if_fail (guard != NULL);
  g_return_if_fail (host != NULL);

  if (host[0] == '\0')
    return;
  if (g_str_has_prefix (host, "*.") && host[2] != '\0') {
    char *suffix = normalise_host (host + 1);

    g_ptr_array_add (guard->suffixes, suffix);
    return;
  }
  g_hash_table_add (guard->hosts, normalise_host (host));
}

void
echo_url_guard_add_host_of_url (EchoUrlGuard *guard, const char *url)
{
  g_autoptr (GUri) uri = NULL;

  g_return_if_fail (guard != NULL);

  if (url == NULL)
    return;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri != NULL && g_uri_get_host (uri) != NULL)
    echo_url_guard_add_host (guard, g_uri_get_host (uri));
}

gboolean
echo_url_guard_allows_private (const EchoUrlGuard *guard)
{
  return guard->allow_private;
}

gboolean
echo_url_guard_host_is_listed (const EchoUrlGuard *guard, const char *host)
{
  g_autofree char *norm = NULL;

  g_return_val_if_fail (guard != NULL, FALSE);

  if (host == NULL || host[0] == '\0')
    return FALSE;
  norm = normalise_host (host);
  if (g_hash_table_contains (guard->hosts, norm))
    return TRUE;
  for (guint i = 0; i < guard->suffixes->len; i++) {
    const char *suffix = g_ptr_array_index (guard->suffixes, i);

    /* "*.example.com" matches "a.example.com", never "example.com" or "badexample.com". */
    if (strlen (norm) > strlen (suffix) && g_str_has_suffix (norm, suffix))
      return TRUE;
  }
  return FALSE;
}

/* @addr (4 bytes) is in @net/@prefix. */
static gboolean
v4_in (const guint8 *addr, guint8 a, guint8 b, guint8 c, guint8 d, guint prefix)
{
  guint32 value = ((guint32) addr[0] << 24) | ((guint32) addr[1] << 16) |
      ((guint32) addr[2] << 8) | addr[3];
  guint32 net = ((guint32) a << 24) | ((guint32) b << 16) | ((guint32) c << 8) | d;
  guint32 mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);

  return (value & mask) == (net & mask);
}

static gboolean
v4_is_public (const guint8 *a)
{
  return !(v4_in (a, 0, 0, 0, 0, 8) ||  /* "this network", unspecified */
      v4_in (a, 10, 0, 0, 0, 8) ||      /* private */
      v4_in (a, 100, 64, 0, 0, 10) ||   /* carrier-grade NAT */
      v4_in (a, 127, 0, 0, 0, 8) ||     /* loopback */
      v4_in (a, 169, 254, 0, 0, 16) ||  /* link-local (cloud metadata services) */
      v4_in (a, 172, 16, 0, 0, 12) ||   /* private */
      v4_in (a, 192, 0, 0, 0, 24) ||    /* IETF protocol assignments */
      v4_in (a, 192, 0, 2, 0, 24) ||    /* documentation */
      v4_in (a, 192, 88, 99, 0, 24) ||  /* 6to4 relay anycast */
      v4_in (a, 192, 168, 0, 0, 16) ||  /* private */
      v4_in (a, 198, 18, 0, 0, 15) ||   /* benchmarking */
      v4_in (a, 198, 51, 100, 0, 24) || /* documentation */
      v4_in (a, 203, 0, 113, 0, 24) ||  /* documentation */
      v4_in (a, 224, 0, 0, 0, 4) ||     /* multicast */
      v4_in (a, 240, 0, 0, 0, 4));      /* reserved, broadcast */
}

static gboolean
bytes_are_zero (const guint8 *bytes, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (bytes[i] != 0)
      return FALSE;
  return TRUE;
}

static gboolean
v6_is_public (const guint8 *a)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  static const guint8 nat64_prefix[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

  /* Forms that carry an IPv4 address: judged by that address. */
  if (memcmp (a, mapped_prefix, 12) == 0 || memcmp (a, nat64_prefix, 12) == 0)
    return v4_is_public (a + 12);
  if (a[0] == 0x20 && a[1] == 0x02)     /* 6to4 2002:V4ADDR::/48 */
    return v4_is_public (a + 2);
  if (bytes_are_zero (a, 12))           /* ::, ::1, deprecated v4-compatible ::/96 */
    return FALSE;
  if ((a[0] & 0xfe) == 0xfc)            /* unique local fc00::/7 */
    return FALSE;
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)    /* link-local fe80::/10 */
    return FALSE;
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)    /* site-local fec0::/10 (deprecated) */
    return FALSE;
  if (a[0] == 0xff)                     /* multicast */
    return FALSE;
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)     /* documentation */
    return FALSE;
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x00)     /* Teredo */
    return FALSE;
  if (a[0] == 0x01 && bytes_are_zero (a + 1, 7))        /* discard-only 100::/64 */
    return FALSE;
  return TRUE;
}

gboolean
echo_url_guard_address_is_public (GInetAddress *address)
{
  const guint8 *bytes;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  bytes = g_inet_address_to_bytes (address);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    return v4_is_public (bytes);
  return v6_is_public (bytes);
}

gboolean
echo_url_guard_check_uri (const EchoUrlGuard *guard, GUri *uri, GError **error)
{
  const char *scheme, *host;

  g_return_val_if_fail (guard != NULL, FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
        "refused: scheme \"%s\" is not http or https", scheme);
    return FALSE;
  }
  if (g_uri_get_userinfo (uri) != NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
        "refused: URLs with credentials in them are not fetched");
    return FALSE;
  }
  if (!echo_url_guard_host_is_listed (guard, host)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
        "refused: host \"%s\" is not on the resolver's whitelist", host != NULL ? host : "");
    return FALSE;
  }
  return TRUE;
}

gboolean
echo_url_guard_check_address (const EchoUrlGuard *guard, GInetAddress *address,
    GError **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (guard != NULL, FALSE);

  if (guard->allow_private || echo_url_guard_address_is_public (address))
    return TRUE;
  text = g_inet_address_to_string (address);
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
      "refused: %s is not a public address", text);
  return FALSE;
}

gboolean
echo_url_guard_check_host_addresses (const EchoUrlGuard *guard, const char *host,
    GCancellable *cancellable, GError **error)
{
  g_autoptr (GResolver) resolver = NULL;
  g_autoptr (GError) lookup_error = NULL;
  g_autofree char *norm = NULL;
  GList *addresses;
  gboolean ok = TRUE;

  g_return_val_if_fail (guard != NULL, FALSE);
  g_return_val_if_fail (host != NULL, FALSE);

  if (guard->allow_private)
    return TRUE;
  /* Literals resolve without looking at the cancellable: check it first. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  norm = normalise_host (host);
  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, norm, cancellable, &lookup_error);
  if (addresses == NULL) {
    if (g_error_matches (lookup_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&lookup_error));
      return FALSE;
    }
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "could not resolve \"%s\": %s", norm, lookup_error->message);
    return FALSE;
  }
  for (GList *l = addresses; l != NULL && ok; l = l->next) {
    g_autoptr (GError) refused = NULL;

    if (!echo_url_guard_check_address (guard, l->data, &refused)) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
          "refused: \"%s\" resolves to a non-public address (%s)", norm, refused->message);
      ok = FALSE;
    }
  }
  g_resolver_free_addresses (addresses);
  return ok;
}
