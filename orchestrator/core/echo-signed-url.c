/* Capability URLs that expire (see echo-signed-url.h). */
#include "echo-signed-url.h"

#include <gio/gio.h>
#include <string.h>

#include "echo-auth.h"

static char *
sign (const char *secret, const char *method, const char *path, gint64 expires_ms)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret,
      strlen (secret));
  g_autofree char *message = g_strdup_printf ("%s\n%s\n%" G_GINT64_FORMAT, method, path,
      expires_ms);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) message, -1);
  g_hmac_get_digest (hmac, digest, &len);
  return echo_base64url_encode (digest, len);
}

char *
echo_signed_url_query (const char *secret, const char *method, const char *path,
                       gint64 expires_ms)
{
  g_autofree char *signature = NULL;

  g_return_val_if_fail (secret != NULL && *secret != '\0', NULL);
  signature = sign (secret, method, path, expires_ms);
  return g_strdup_printf ("expires=%" G_GINT64_FORMAT "&signature=%s", expires_ms, signature);
}

gboolean
echo_signed_url_verify (const char *secret, const char *method, const char *path,
                        const char *expires_text, const char *signature, gint64 now_ms,
                        GError **error)
{
  g_autofree char *expected = NULL;
  guint64 expires;

  g_return_val_if_fail (secret != NULL && *secret != '\0', FALSE);
  if (expires_text == NULL || signature == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "this URL needs its expires and signature parameters");
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (expires_text, 10, 0, G_MAXINT64, &expires, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "expires is not a time in Unix milliseconds");
      return FALSE;
    }
  expected = sign (secret, method, path, (gint64) expires);
  if (!echo_auth_constant_time_equal (expected, strlen (expected), signature,
                                      strlen (signature)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "the URL's signature does not match");
      return FALSE;
    }
  if ((gint64) expires <= now_ms)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "the URL has expired");
      return FALSE;
    }
  return TRUE;
}
