/* echo-share-error.c: the share error domain, its HTTP mapping and its extra data. */
#include "echo-share-error.h"

typedef struct {
  guint retry_after_s;
  gint64 ended_at_ms;
  char *end_reason;
} EchoShareErrorPrivate;

static void
echo_share_error_private_init (EchoShareErrorPrivate *priv)
{
  priv->retry_after_s = 0;
  priv->ended_at_ms = 0;
  priv->end_reason = NULL;
}

static void
echo_share_error_private_copy (const EchoShareErrorPrivate *src, EchoShareErrorPrivate *dest)
{
  dest->retry_after_s = src->retry_after_s;
  dest->ended_at_ms = src->ended_at_ms;
  dest->end_reason = g_strdup (src->end_reason);
}

static void
echo_share_error_private_clear (EchoShareErrorPrivate *priv)
{
  g_clear_pointer (&priv->end_reason, g_free);
}

G_DEFINE_EXTENDED_ERROR (EchoShareError, echo_share_error)

typedef struct {
  guint status;
  const char *name;
} ErrorInfo;

static const ErrorInfo error_info[] = {
  [ECHO_SHARE_ERROR_SESSION_NOT_FOUND] = { 404, "SESSION_NOT_FOUND" },
  [ECHO_SHARE_ERROR_SESSION_ENDED] = { 404, "SESSION_ENDED" },
  [ECHO_SHARE_ERROR_METADATA_NOT_FOUND] = { 404, "METADATA_NOT_FOUND" },
  [ECHO_SHARE_ERROR_SESSION_EXISTS] = { 409, "SESSION_EXISTS" },
  [ECHO_SHARE_ERROR_INVALID_SESSION_ID] = { 400, "INVALID_SESSION_ID" },
  [ECHO_SHARE_ERROR_INVALID_JSON] = { 400, "INVALID_JSON" },
  [ECHO_SHARE_ERROR_INVALID_FIELD] = { 400, "INVALID_FIELD" },
  [ECHO_SHARE_ERROR_INVALID_PARAMETER] = { 400, "INVALID_PARAMETER" },
  [ECHO_SHARE_ERROR_FORMAT_CHANGED] = { 400, "FORMAT_CHANGED" },
  [ECHO_SHARE_ERROR_SEQUENCE_BACKWARDS] = { 400, "SEQUENCE_BACKWARDS" },
  [ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE] = { 413, "PAYLOAD_TOO_LARGE" },
  [ECHO_SHARE_ERROR_RATE_LIMITED] = { 429, "RATE_LIMITED" },
  [ECHO_SHARE_ERROR_STORE_FAILED] = { 500, "STORE_FAILED" },
  [ECHO_SHARE_ERROR_SESSION_LIMIT] = { 503, "SESSION_LIMIT" },
};

guint
echo_share_error_http_status (int code)
{
  if (code < 0 || code >= (int) G_N_ELEMENTS (error_info))
    return 500;
  return error_info[code].status;
}

const char *
echo_share_error_code_name (int code)
{
  if (code < 0 || code >= (int) G_N_ELEMENTS (error_info))
    return "INTERNAL_ERROR";
  return error_info[code].name;
}

guint
echo_share_error_get_retry_after (const GError *error)
{
  if (!g_error_matches (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_RATE_LIMITED))
    return 0;
  return MAX (echo_share_error_get_private (error)->retry_after_s, 1);
}

gboolean
echo_share_error_get_ended (const GError *error, gint64 *ended_at_ms, const char **reason)
{
  EchoShareErrorPrivate *priv;

  if (!g_error_matches (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED))
    return FALSE;
  priv = echo_share_error_get_private (error);
  if (ended_at_ms != NULL)
    *ended_at_ms = priv->ended_at_ms;
  if (reason != NULL)
    *reason = priv->end_reason != NULL ? priv->end_reason : "stopped";
  return TRUE;
}

void
echo_share_error_set_rate_limited (GError **error, guint retry_after_s, const char *what)
{
  if (error == NULL)
    return;
  retry_after_s = MAX (retry_after_s, 1);
  g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_RATE_LIMITED,
      "Too many %s requests for this session; retry in %u s", what, retry_after_s);
  if (g_error_matches (*error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_RATE_LIMITED))
    echo_share_error_get_private (*error)->retry_after_s = retry_after_s;
}

void
echo_share_error_set_ended (GError **error, const char *session_id, gint64 ended_at_ms,
    const char *reason)
{
  EchoShareErrorPrivate *priv;

  if (error == NULL)
    return;
  g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED,
      "Session %s has ended (%s)", session_id, reason);
  if (!g_error_matches (*error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_ENDED))
    return;
  priv = echo_share_error_get_private (*error);
  priv->ended_at_ms = ended_at_ms;
  priv->end_reason = g_strdup (reason);
}
