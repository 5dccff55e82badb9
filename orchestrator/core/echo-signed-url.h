/* echo-signed-url.h: capability URLs that expire (the music API's upload URLs).
 *
 * A signed URL grants one thing - "PUT bytes to this path until this time" - to whoever
 * holds it, without any other credential, as S3's pre-signed URLs do. The signature is
 * HMAC-SHA256 over "METHOD\nPATH\nEXPIRES" with the server's secret, base64url without
 * padding; the query carries `expires` (Unix ms) and `signature`. Verification takes the
 * same time wherever the first differing byte is.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The query string ("expires=...&signature=...") that signs @method @path until
 * @expires_ms. @secret must not be empty. */
char *echo_signed_url_query (const char *secret, const char *method, const char *path,
                             gint64 expires_ms);

/* Whether @signature signs @method @path until @expires_text (the query values as
 * received) and @now_ms is before that. Errors (G_IO_ERROR_PERMISSION_DENIED): missing or
 * malformed values, a wrong signature, an expired URL - each with its own message. */
gboolean echo_signed_url_verify (const char *secret, const char *method, const char *path,
                                 const char *expires_text, const char *signature,
                                 gint64 now_ms, GError **error);

G_END_DECLS
