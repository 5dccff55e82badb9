/* echo-auth.c: bearer-token checks and JWT HS256 (see echo-auth.h). */
#include "echo-auth.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "echo-clock.h"

G_DEFINE_QUARK (echo-auth-error-quark, echo_auth_error)

#define BEARER_PREFIX "Bearer "
#define BEARER_PREFIX_LEN 7
#define HS256_DIGEST_LEN 32
/* Far above any token echod issues; bounds the work an unauthenticated request can cause. */
#define JWT_MAX_LENGTH 8192

gboolean
echo_auth_constant_time_equal (const void *a, gsize a_len, const void *b, gsize b_len)
{
  const guint8 *pa = a;
  const guint8 *pb = b;
  gsize longer = MAX (a_len, b_len);
  /* volatile: the compiler may not turn the accumulation into an early exit. */
  volatile guint8 difference = 0;

  g_return_val_if_fail (a != NULL || a_len == 0, FALSE);
  g_return_val_if_fail (b != NULL || b_len == 0, FALSE);

  /* The shorter input is padded with zero bytes; a length difference is a difference by itself. */
  for (gsize i = 0; i < longer; i++)
    {
      guint8 x = i < a_len ? pa[i] : 0;
      guint8 y = i < b_len ? pb[i] : 0;

      difference |= x ^ y;
    }
  return (difference | (guint8) (a_len != b_len)) == 0;
}

static gboolean
has_bearer_prefix (const char *text)
{
  /* The scheme name is case-insensitive (RFC 7235 section 2.1). */
  return g_ascii_strncasecmp (text, BEARER_PREFIX, BEARER_PREFIX_LEN) == 0;
}

/* Compares presented with every accepted form of configured; all comparisons always run. */
static gboolean
bearer_matches (const char *configured, const char *presented, gboolean accept_bare_token)
{
  gsize configured_len = strlen (configured);
  gsize presented_len = strlen (presented);
  gboolean configured_has_prefix = has_bearer_prefix (configured);
  gboolean presented_has_prefix = has_bearer_prefix (presented);
  gboolean match;

  match = echo_auth_constant_time_equal (configured, configured_len, presented, presented_len);
  if (!configured_has_prefix && presented_has_prefix)
    match |= echo_auth_constant_time_equal (configured, configured_len,
                                            presented + BEARER_PREFIX_LEN,
                                            presented_len - BEARER_PREFIX_LEN);
  if (accept_bare_token && configured_has_prefix)
    match |= echo_auth_constant_time_equal (configured + BEARER_PREFIX_LEN,
                                            configured_len - BEARER_PREFIX_LEN, presented,
                                            presented_len);
  return match;
}

static gboolean
check_bearer (const char *configured, const char *presented, gboolean accept_bare_token,
              GError **error)
{
  if (configured == NULL || *configured == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING,
                           "no bearer token is configured");
      return FALSE;
    }
  if (presented == NULL || *presented == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING,
                           "missing bearer token");
      return FALSE;
    }
  if (!bearer_matches (configured, presented, accept_bare_token))
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                           "invalid bearer token");
      return FALSE;
    }
  return TRUE;
}

gboolean
echo_auth_check_bearer (const char *configured, const char *presented, GError **error)
{
  return check_bearer (configured, presented, FALSE, error);
}

gboolean
echo_auth_check_access_token (const char *configured, const char *presented, GError **error)
{
  return check_bearer (configured, presented, TRUE, error);
}

gboolean
echo_auth_check_request (const char *configured, const char *authorization_header,
                         const char *access_token, GError **error)
{
  if (authorization_header != NULL && *authorization_header != '\0')
    return echo_auth_check_bearer (configured, authorization_header, error);
  return echo_auth_check_access_token (configured, access_token, error);
}

/* ---- identities ---- */

void
echo_identity_free (EchoIdentity *identity)
{
  if (identity == NULL)
    return;
  g_free (identity->user);
  g_strfreev (identity->roles);
  g_free (identity);
}

gboolean
echo_identity_is_host (const EchoIdentity *identity)
{
  return identity->service && identity->user == NULL;
}

static gboolean
valid_identity_name (const char *text)
{
  gsize len = 0;

  for (; text[len] != '\0'; len++)
    if (text[len] <= ' ' || text[len] > '~' || text[len] == ',')
      return FALSE;
  return len >= 1 && len <= 128;
}

static gboolean
parse_vouched (const char *user, const char *roles, EchoIdentity *identity, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint i;

  if (!valid_identity_name (user))
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                           "X-Echo-User must be 1..128 printable ASCII characters "
                           "without spaces or commas");
      return FALSE;
    }
  identity->user = g_strdup (user);
  if (roles == NULL || *roles == '\0')
    {
      identity->roles = g_new0 (char *, 1);
      return TRUE;
    }
  parts = g_strsplit (roles, ",", -1);
  for (i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (!valid_identity_name (parts[i]))
        {
          g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                       "X-Echo-Roles entry %u is not a role name (1..128 printable ASCII "
                       "characters)", i + 1);
          return FALSE;
        }
    }
  identity->roles = g_steal_pointer (&parts);
  return TRUE;
}

EchoIdentity *
echo_auth_identify (const char *bearer_token, const char *jwt_secret,
                    const char *authorization_header, const char *access_token,
                    const char *user_header, const char *roles_header, GError **error)
{
  g_autoptr (EchoIdentity) identity = g_new0 (EchoIdentity, 1);
  g_autoptr (EchoJwtClaims) claims = NULL;
  gboolean from_header = authorization_header != NULL && *authorization_header != '\0';
  const char *credential = from_header ? authorization_header : access_token;
  const char *jwt;

  if (credential == NULL || *credential == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING,
                           "missing credentials: a bearer token or a user token (JWT)");
      return NULL;
    }
  if (bearer_token != NULL && *bearer_token != '\0' &&
      bearer_matches (bearer_token, credential, !from_header))
    {
      identity->service = TRUE;
      if (user_header == NULL)
        {
          identity->roles = g_new0 (char *, 1);
          return g_steal_pointer (&identity);
        }
      if (!parse_vouched (user_header, roles_header, identity, error))
        return NULL;
      return g_steal_pointer (&identity);
    }

  jwt = credential;
  if (g_ascii_strncasecmp (jwt, BEARER_PREFIX, BEARER_PREFIX_LEN) == 0)
    jwt += BEARER_PREFIX_LEN;
  if (jwt_secret == NULL || *jwt_secret == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                           "invalid bearer token (and no JWT secret is configured)");
      return NULL;
    }
  claims = echo_jwt_verify (jwt_secret, jwt, error);
  if (claims == NULL)
    return NULL;
  if (user_header != NULL)
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_FORBIDDEN,
                           "X-Echo-User is for the host application's token; a user "
                           "token acts as its own subject");
      return NULL;
    }
  if (!valid_identity_name (claims->sub))
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                           "the token's sub is not a user id (1..128 printable ASCII "
                           "characters without spaces or commas)");
      return NULL;
    }
  identity->user = g_strdup (claims->sub);
  identity->roles = g_strdupv (claims->roles);
  return g_steal_pointer (&identity);
}

/* ---- base64url ---- */

static const char base64url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
echo_base64url_encode (const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new ((len + 2) / 3 * 4 + 1);
  gsize i = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  for (; i + 3 <= len; i += 3)
    {
      guint32 group = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8 | data[i + 2];

      g_string_append_c (out, base64url_alphabet[(group >> 18) & 63]);
      g_string_append_c (out, base64url_alphabet[(group >> 12) & 63]);
      g_string_append_c (out, base64url_alphabet[(group >> 6) & 63]);
      g_string_append_c (out, base64url_alphabet[group & 63]);
    }
  if (len - i == 1)
    {
      guint32 group = (guint32) data[i] << 16;

      g_string_append_c (out, base64url_alphabet[(group >> 18) & 63]);
      g_string_append_c (out, base64url_alphabet[(group >> 12) & 63]);
    }
  else if (len - i == 2)
    {
      guint32 group = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8;

      g_string_append_c (out, base64url_alphabet[(group >> 18) & 63]);
      g_string_append_c (out, base64url_alphabet[(group >> 12) & 63]);
      g_string_append_c (out, base64url_alphabet[(group >> 6) & 63]);
    }
  return g_string_free (out, FALSE);
}

static int
base64url_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

guint8 *
echo_base64url_decode (const char *text, gsize text_len, gsize *out_len)
{
  g_autofree guint8 *out = NULL;
  gsize n = 0;
  guint32 bits = 0;
  guint n_bits = 0;

  g_return_val_if_fail (text != NULL || text_len == 0, NULL);
  g_return_val_if_fail (out_len != NULL, NULL);

  /* A lone last character carries 6 bits: not even one byte. */
  if (text_len % 4 == 1)
    return NULL;
  out = g_malloc (text_len / 4 * 3 + 3);
  for (gsize i = 0; i < text_len; i++)
    {
      int value = base64url_value (text[i]);

      if (value < 0)
        return NULL;
      bits = (bits << 6) | (guint32) value;
      n_bits += 6;
      if (n_bits >= 8)
        {
          n_bits -= 8;
          out[n++] = (guint8) (bits >> n_bits);
          bits &= (1u << n_bits) - 1;
        }
    }
  /* Canonical encodings leave the unused low bits zero. */
  if (bits != 0)
    return NULL;
  *out_len = n;
  return g_steal_pointer (&out);
}

/* ---- JWT ---- */

void
echo_jwt_claims_free (EchoJwtClaims *claims)
{
  if (claims == NULL)
    return;
  g_free (claims->sub);
  g_strfreev (claims->roles);
  g_free (claims);
}

EchoJwtClaims *
echo_jwt_claims_new (const char *sub, const char *const *roles, gint64 ttl_seconds)
{
  EchoJwtClaims *claims;
  gint64 now = echo_clock_now_ms () / 1000;

  g_return_val_if_fail (sub != NULL && *sub != '\0', NULL);
  g_return_val_if_fail (ttl_seconds >= 0, NULL);

  claims = g_new0 (EchoJwtClaims, 1);
  claims->sub = g_strdup (sub);
  claims->roles = roles != NULL ? g_strdupv ((char **) roles) : g_new0 (char *, 1);
  claims->iat = now;
  claims->nbf = now;
  claims->exp = ttl_seconds > 0 ? now + ttl_seconds : 0;
  return claims;
}

gboolean
echo_auth_has_role (const EchoJwtClaims *claims, const char *role)
{
  g_return_val_if_fail (claims != NULL, FALSE);
  g_return_val_if_fail (role != NULL, FALSE);

  return claims->roles != NULL && g_strv_contains ((const char *const *) claims->roles, role);
}

gboolean
echo_auth_require_role (const EchoJwtClaims *claims, const char *role, GError **error)
{
  if (!echo_auth_has_role (claims, role))
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_FORBIDDEN, "role '%s' required", role);
      return FALSE;
    }
  return TRUE;
}

static void
hs256 (const char *secret, const char *data, gsize data_len, guint8 digest[HS256_DIGEST_LEN])
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  gsize digest_len = HS256_DIGEST_LEN;

  g_hmac_update (hmac, (const guchar *) data, (gssize) data_len);
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_assert (digest_len == HS256_DIGEST_LEN);
}

static char *
json_to_base64url (JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  gsize len = 0;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  return echo_base64url_encode ((const guint8 *) text, len);
}

char *
echo_jwt_sign (const char *secret, const EchoJwtClaims *claims)
{
  g_autoptr (JsonBuilder) header = json_builder_new ();
  g_autoptr (JsonBuilder) payload = json_builder_new ();
  g_autoptr (JsonNode) header_node = NULL;
  g_autoptr (JsonNode) payload_node = NULL;
  g_autofree char *header_b64 = NULL;
  g_autofree char *payload_b64 = NULL;
  g_autofree char *signing_input = NULL;
  g_autofree char *signature_b64 = NULL;
  guint8 digest[HS256_DIGEST_LEN];

  g_return_val_if_fail (secret != NULL && *secret != '\0', NULL);
  g_return_val_if_fail (claims != NULL && claims->sub != NULL && *claims->sub != '\0', NULL);

  json_builder_begin_object (header);
  json_builder_set_member_name (header, "alg");
  json_builder_add_string_value (header, "HS256");
  json_builder_set_member_name (header, "typ");
  json_builder_add_string_value (header, "JWT");
  json_builder_end_object (header);
  header_node = json_builder_get_root (header);

  json_builder_begin_object (payload);
  json_builder_set_member_name (payload, "sub");
  json_builder_add_string_value (payload, claims->sub);
  json_builder_set_member_name (payload, "roles");
  json_builder_begin_array (payload);
  for (gsize i = 0; claims->roles != NULL && claims->roles[i] != NULL; i++)
    json_builder_add_string_value (payload, claims->roles[i]);
  json_builder_end_array (payload);
  if (claims->iat != 0)
    {
      json_builder_set_member_name (payload, "iat");
      json_builder_add_int_value (payload, claims->iat);
    }
  if (claims->nbf != 0)
    {
      json_builder_set_member_name (payload, "nbf");
      json_builder_add_int_value (payload, claims->nbf);
    }
  if (claims->exp != 0)
    {
      json_builder_set_member_name (payload, "exp");
      json_builder_add_int_value (payload, claims->exp);
    }
  json_builder_end_object (payload);
  payload_node = json_builder_get_root (payload);

  header_b64 = json_to_base64url (header_node);
  payload_b64 = json_to_base64url (payload_node);
  signing_input = g_strconcat (header_b64, ".", payload_b64, NULL);
  hs256 (secret, signing_input, strlen (signing_input), digest);
  signature_b64 = echo_base64url_encode (digest, sizeof digest);
  return g_strconcat (signing_input, ".", signature_b64, NULL);
}

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID, "invalid token: %s", message);
  return FALSE;
}

/* Decodes one base64url segment holding a JSON object. */
static JsonObject *
decode_json_segment (const char *segment, gsize len, const char *what, GError **error)
{
  g_autofree guint8 *decoded = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize decoded_len = 0;
  JsonNode *root;

  decoded = echo_base64url_decode (segment, len, &decoded_len);
  if (decoded == NULL)
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                   "invalid token: %s is not base64url", what);
      return NULL;
    }
  /* Also rejects NUL bytes, which would end the text early. */
  if (decoded_len == 0 || !g_utf8_validate_len ((const char *) decoded, decoded_len, NULL)
      || !json_parser_load_from_data (parser, (const char *) decoded, (gssize) decoded_len, NULL))
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                   "invalid token: %s is not JSON", what);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                   "invalid token: %s is not a JSON object", what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static gboolean
check_header (JsonObject *header, GError **error)
{
  JsonNode *alg = json_object_get_member (header, "alg");
  JsonNode *typ = json_object_get_member (header, "typ");
  const char *alg_name;

  if (alg == NULL || json_node_get_value_type (alg) != G_TYPE_STRING)
    return invalid (error, "header has no alg");
  alg_name = json_node_get_string (alg);
  if (!g_str_equal (alg_name, "HS256"))
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
                   "invalid token: alg '%s' is not accepted (HS256 only)", alg_name);
      return FALSE;
    }
  if (typ != NULL && (json_node_get_value_type (typ) != G_TYPE_STRING
                      || g_ascii_strcasecmp (json_node_get_string (typ), "JWT") != 0))
    return invalid (error, "typ is not JWT");
  /* We understand no extensions, so a critical one must fail (RFC 7515 section 4.1.11). */
  if (json_object_has_member (header, "crit"))
    return invalid (error, "crit header is not supported");
  return TRUE;
}

/* Far beyond any real date, and small enough that time arithmetic cannot overflow. */
#define JWT_TIME_LIMIT 1.0e13

/* NumericDate: an integer or fractional number of seconds; absent -> 0. */
static gboolean
read_time_claim (JsonObject *payload, const char *name, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (payload, name);
  GType type;

  *out = 0;
  if (node == NULL)
    return TRUE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    {
      gint64 integer = json_node_get_int (node);

      if (integer > -JWT_TIME_LIMIT && integer < JWT_TIME_LIMIT)
        {
          *out = integer;
          return TRUE;
        }
    }
  else if (type == G_TYPE_DOUBLE)
    {
      double value = json_node_get_double (node);

      if (isfinite (value) && value > -JWT_TIME_LIMIT && value < JWT_TIME_LIMIT)
        {
          *out = (gint64) floor (value);
          return TRUE;
        }
    }
  g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID,
               "invalid token: %s is not a number in range", name);
  return FALSE;
}

static EchoJwtClaims *
read_claims (JsonObject *payload, GError **error)
{
  g_autoptr (EchoJwtClaims) claims = g_new0 (EchoJwtClaims, 1);
  g_autoptr (GStrvBuilder) roles = g_strv_builder_new ();
  JsonNode *sub = json_object_get_member (payload, "sub");
  JsonNode *roles_node = json_object_get_member (payload, "roles");

  if (sub == NULL || json_node_get_value_type (sub) != G_TYPE_STRING
      || *json_node_get_string (sub) == '\0')
    {
      invalid (error, "no sub");
      return NULL;
    }
  claims->sub = g_strdup (json_node_get_string (sub));

  if (roles_node != NULL)
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (roles_node))
        {
          invalid (error, "roles is not an array");
          return NULL;
        }
      array = json_node_get_array (roles_node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *role = json_array_get_element (array, i);

          if (json_node_get_value_type (role) != G_TYPE_STRING)
            {
              invalid (error, "roles holds a non-string");
              return NULL;
            }
          g_strv_builder_add (roles, json_node_get_string (role));
        }
    }
  claims->roles = g_strv_builder_end (roles);

  if (!read_time_claim (payload, "iat", &claims->iat, error)
      || !read_time_claim (payload, "nbf", &claims->nbf, error)
      || !read_time_claim (payload, "exp", &claims->exp, error))
    return NULL;
  return g_steal_pointer (&claims);
}

EchoJwtClaims *
echo_jwt_verify_at (const char *secret, const char *token, gint64 now_seconds, GError **error)
{
  const char *first_dot, *second_dot, *signature;
  gsize token_len;
  g_autoptr (JsonObject) header = NULL;
  g_autoptr (JsonObject) payload = NULL;
  g_autofree guint8 *presented_digest = NULL;
  gsize presented_len = 0;
  guint8 digest[HS256_DIGEST_LEN];
  g_autoptr (EchoJwtClaims) claims = NULL;

  if (secret == NULL || *secret == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING,
                           "no JWT secret is configured");
      return NULL;
    }
  if (token == NULL || *token == '\0')
    {
      g_set_error_literal (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING, "missing token");
      return NULL;
    }
  token_len = strlen (token);
  if (token_len > JWT_MAX_LENGTH)
    {
      invalid (error, "too long");
      return NULL;
    }

  first_dot = strchr (token, '.');
  second_dot = first_dot != NULL ? strchr (first_dot + 1, '.') : NULL;
  if (second_dot == NULL || strchr (second_dot + 1, '.') != NULL || first_dot == token
      || second_dot == first_dot + 1 || second_dot[1] == '\0')
    {
      invalid (error, "expected three non-empty segments");
      return NULL;
    }
  signature = second_dot + 1;

  header = decode_json_segment (token, first_dot - token, "header", error);
  if (header == NULL || !check_header (header, error))
    return NULL;

  presented_digest = echo_base64url_decode (signature, token + token_len - signature,
                                            &presented_len);
  if (presented_digest == NULL)
    {
      invalid (error, "signature is not base64url");
      return NULL;
    }
  hs256 (secret, token, second_dot - token, digest);
  if (!echo_auth_constant_time_equal (digest, sizeof digest, presented_digest, presented_len))
    {
      invalid (error, "bad signature");
      return NULL;
    }

  payload = decode_json_segment (first_dot + 1, second_dot - first_dot - 1, "payload", error);
  if (payload == NULL)
    return NULL;
  claims = read_claims (payload, error);
  if (claims == NULL)
    return NULL;

  if (claims->exp != 0 && now_seconds - ECHO_JWT_LEEWAY_SECONDS > claims->exp)
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_EXPIRED,
                   "token expired %" G_GINT64_FORMAT " s ago", now_seconds - claims->exp);
      return NULL;
    }
  if (claims->nbf != 0 && now_seconds + ECHO_JWT_LEEWAY_SECONDS < claims->nbf)
    {
      g_set_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_EXPIRED,
                   "token not valid for another %" G_GINT64_FORMAT " s",
                   claims->nbf - now_seconds);
      return NULL;
    }
  return g_steal_pointer (&claims);
}

EchoJwtClaims *
echo_jwt_verify (const char *secret, const char *token, GError **error)
{
  return echo_jwt_verify_at (secret, token, echo_clock_now_ms () / 1000, error);
}
