/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: URL detection (orchestrator/resolver/echo-url-detect.c), the first thing
 * that reads a URL a user pastes. Must hold for any input: no crash, no leak; a match has
 * a known source and kind, a non-empty printable-ASCII id and canonical URL, a storefront
 * only for Apple Music; detecting the canonical URL again gives the same match; a
 * provider match's canonical URL passes the SSRF guard's URL checks for its host.
 *
 * Input: the bytes as a URL (NUL-terminated copy; embedded NULs cut it short).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "echo-url-detect.h"
#include "echo-url-guard.h"
#include "fuzz.h"

static void
check_printable (const char *text)
{
  if (text == NULL || text[0] == '\0')
    abort ();
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) * p <= 0x20 || (guchar) * p >= 0x7f)
      abort ();
}

static void
check_match (const EchoUrlMatch *m)
{
  if (m->source > ECHO_TRACK_SOURCE_LAST || m->source == ECHO_TRACK_SOURCE_UPLOADED ||
      m->kind > ECHO_URL_KIND_ALBUM)
    abort ();
  check_printable (m->id);
  check_printable (m->canonical_url);
  if ((m->storefront != NULL) != (m->source == ECHO_TRACK_SOURCE_APPLE_MUSIC))
    abort ();
  if (m->source == ECHO_TRACK_SOURCE_HTTP &&
      (m->kind != ECHO_URL_KIND_TRACK || strcmp (m->id, m->canonical_url) != 0))
    abort ();
}

static void
check_guard (const EchoUrlMatch *m)
{
  g_autoptr (EchoUrlGuard) guard = echo_url_guard_new (FALSE);
  g_autoptr (GUri) uri = g_uri_parse (m->canonical_url, G_URI_FLAGS_ENCODED, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    abort ();
  echo_url_guard_add_host (guard, g_uri_get_host (uri));
  if (!echo_url_guard_check_uri (guard, uri, NULL))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree char *url = g_strndup ((const char *) data, size);
  EchoUrlMatch first, again;

  if (!echo_url_detect (url, &first)) {
    if (first.id != NULL || first.canonical_url != NULL || first.storefront != NULL)
      abort ();
    return 0;
  }
  check_match (&first);
  check_guard (&first);
  if (!echo_url_detect (first.canonical_url, &again))
    abort ();
  if (again.source != first.source || again.kind != first.kind ||
      strcmp (again.id, first.id) != 0 || strcmp (again.canonical_url, first.canonical_url) != 0 ||
      g_strcmp0 (again.storefront, first.storefront) != 0)
    abort ();
  echo_url_match_clear (&first);
  echo_url_match_clear (&again);
  return 0;
}
