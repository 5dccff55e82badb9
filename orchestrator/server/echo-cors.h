/* echo-cors.h: which browser origins may call echod (CORS).
 *
 * An allowed-origin entry is an origin, scheme://host[:port], in which the port may be
 * "*" (any port, or none: http://localhost:* ), the host may be "*" (any host) or start
 * with "*." (any name below that domain); or "*" alone, every
 * origin. Everything else compares exactly, case-insensitively. What the replies then carry
 * (Access-Control-* headers) is the server's business; this only decides.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoCors EchoCors;

/* entries: NULL-terminated; empty strings are ignored. An entry that is not an origin
 * pattern is an error (G_IO_ERROR_INVALID_ARGUMENT) naming it. */
EchoCors *echo_cors_new (const char *const *entries, GError **error);
void echo_cors_free (EchoCors *cors);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoCors, echo_cors_free)

gboolean echo_cors_origin_allowed (const EchoCors *cors, const char *origin);

G_END_DECLS
