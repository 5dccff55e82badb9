/* echo-cors.c: origin matching for CORS; see echo-cors.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-cors.h"

#include <gio/gio.h>
#include <string.h>

/* An origin or an entry taken apart: scheme "://" host [":" port]. */
typedef struct {
  char *scheme;
  char *host;
  char *port;                 /* NULL when absent */
} OriginParts;

struct _EchoCors {
  GArray *entries;            /* of OriginParts, lower-cased */
  gboolean any;
};

static void
origin_parts_clear (gpointer data)
{
  OriginParts *parts = data;

  g_free (parts->scheme);
  g_free (parts->host);
  g_free (parts->port);
}

/* Splits a lower-cased origin; FALSE when it is not scheme://host[:port]. An IPv6 host
 * keeps its brackets. */
static gboolean
origin_parts_parse (const char *text, OriginParts *parts)
{
  const char *sep = strstr (text, "://");
  const char *host, *colon;

  memset (parts, 0, sizeof *parts);
  if (sep == NULL || sep == text)
    return FALSE;
  host = sep + 3;
  if (host[0] == '[') {
    const char *close = strchr (host, ']');

    if (close == NULL)
      return FALSE;
    colon = close[1] == ':' ? close + 1 : NULL;
    if (close[1] != '\0' && colon == NULL)
      return FALSE;
  } else {
    colon = strrchr (host, ':');
  }
  if (strchr (host, '/') != NULL)
    return FALSE;

  parts->scheme = g_strndup (text, sep - text);
  parts->host = colon != NULL ? g_strndup (host, colon - host) : g_strdup (host);
  parts->port = colon != NULL ? g_strdup (colon + 1) : NULL;
  if (parts->host[0] == '\0' || (parts->port != NULL && parts->port[0] == '\0')) {
    origin_parts_clear (parts);
    return FALSE;
  }
  return TRUE;
}

EchoCors *
echo_cors_new (const char *const *entries, GError **error)
{
  g_autoptr (EchoCors) cors = g_new0 (EchoCors, 1);

  cors->entries = g_array_new (FALSE, FALSE, sizeof (OriginParts));
  g_array_set_clear_func (cors->entries, origin_parts_clear);

  for (; entries != NULL && *entries != NULL; entries++) {
    g_autofree char *entry = g_ascii_strdown (*entries, -1);
    OriginParts parts;

    g_strstrip (entry);
    if (entry[0] == '\0')
      continue;
    if (strcmp (entry, "*") == 0)
      cors->any = TRUE;
    else if (origin_parts_parse (entry, &parts))
      g_array_append_val (cors->entries, parts);
    else {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "[server] cors-origins: '%s' is not an origin (scheme://host[:port])", *entries);
      return NULL;
    }
  }
  return g_steal_pointer (&cors);
}

void
echo_cors_free (EchoCors *cors)
{
  if (cors == NULL)
    return;
  g_clear_pointer (&cors->entries, g_array_unref);
  g_free (cors);
}

static gboolean
is_digits (const char *text)
{
  if (text[0] == '\0')
    return FALSE;
  for (; *text != '\0'; text++) {
    if (!g_ascii_isdigit (*text))
      return FALSE;
  }
  return TRUE;
}

static gboolean
host_matches (const char *pattern, const char *host)
{
  if (strcmp (pattern, "*") == 0)
    return TRUE;
  if (g_str_has_prefix (pattern, "*.")) {
    /* "*.example.org": any name below example.org, not example.org itself */
    gsize suffix_len = strlen (pattern) - 1;
    gsize host_len = strlen (host);

    return host_len > suffix_len && strcmp (host + host_len - suffix_len, pattern + 1) == 0;
  }
  return strcmp (pattern, host) == 0;
}

static gboolean
port_matches (const char *pattern, const char *port)
{
  if (pattern != NULL && strcmp (pattern, "*") == 0)
    return port == NULL || is_digits (port);
  if (pattern == NULL || port == NULL)
    return pattern == port;
  return strcmp (pattern, port) == 0;
}

gboolean
echo_cors_origin_allowed (const EchoCors *cors, const char *origin)
{
  g_autofree char *lower = NULL;
  OriginParts parts;
  gboolean allowed = FALSE;
  guint i;

  g_return_val_if_fail (cors != NULL, FALSE);

  if (origin == NULL || origin[0] == '\0')
    return FALSE;
  if (cors->any)
    return TRUE;

  lower = g_ascii_strdown (origin, -1);
  if (!origin_parts_parse (lower, &parts))
    return FALSE;
  for (i = 0; i < cors->entries->len && !allowed; i++) {
    const OriginParts *entry = &g_array_index (cors->entries, OriginParts, i);

    allowed = strcmp (entry->scheme, parts.scheme) == 0 &&
        host_matches (entry->host, parts.host) && port_matches (entry->port, parts.port);
  }
  origin_parts_clear (&parts);
  return allowed;
}
