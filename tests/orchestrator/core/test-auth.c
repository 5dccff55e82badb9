/* Tests for echo-auth: the bearer rule, base64url, JWT HS256 known answers and rejections. */
#include <string.h>

#include <glib.h>

#include "echo-auth.h"

/* ---- constant-time comparison and the bearer rule ---- */

static void
test_constant_time_equal (void)
{
  g_assert_true (echo_auth_constant_time_equal ("abc", 3, "abc", 3));
  g_assert_true (echo_auth_constant_time_equal ("", 0, "", 0));
  g_assert_true (echo_auth_constant_time_equal (NULL, 0, "", 0));
  g_assert_false (echo_auth_constant_time_equal ("abc", 3, "abd", 3));
  g_assert_false (echo_auth_constant_time_equal ("xbc", 3, "abc", 3));
  g_assert_false (echo_auth_constant_time_equal ("abc", 3, "abcd", 4));
  g_assert_false (echo_auth_constant_time_equal ("abcd", 4, "abc", 3));
  g_assert_false (echo_auth_constant_time_equal ("", 0, "a", 1));
  /* Zero padding must not make a shorter input equal a longer one ending in NUL bytes. */
  g_assert_false (echo_auth_constant_time_equal ("ab\0", 3, "ab", 2));
  g_assert_true (echo_auth_constant_time_equal ("a\0b", 3, "a\0b", 3));
  g_assert_false (echo_auth_constant_time_equal ("a\0b", 3, "a\0c", 3));
}

typedef struct
{
  const char *configured;
  const char *presented;
  gboolean header_ok;       /* as the Authorization header */
  gboolean access_token_ok; /* as ?access_token= */
} BearerCase;

static const BearerCase bearer_cases[] = {
  /* The seed's client sends its configured value verbatim. */
  { "Bearer Token", "Bearer Token", TRUE, TRUE },
  { "Bearer Token", "Token", FALSE, TRUE }, /* the bare token is a query-only form */
  { "Bearer Token", "Bearer token", FALSE, FALSE },
  { "Bearer Token", "bearer Token", FALSE, FALSE }, /* configured verbatim: exact only */
  { "Bearer Token", "Bearer Token ", FALSE, FALSE },
  { "Bearer Token", "Bearer Toke", FALSE, FALSE },
  { "Bearer Token", "Bearer Bearer Token", FALSE, FALSE },
  { "Bearer Token", "Bearer ", FALSE, FALSE },
  /* A configured bare token is also accepted behind the Bearer scheme (any case). */
  { "s3cret", "s3cret", TRUE, TRUE },
  { "s3cret", "Bearer s3cret", TRUE, TRUE },
  { "s3cret", "bearer s3cret", TRUE, TRUE },
  { "s3cret", "Bearer  s3cret", FALSE, FALSE },
  { "s3cret", "Bearer s3cre", FALSE, FALSE },
  { "s3cret", "Bearer s3cret2", FALSE, FALSE },
  { "s3cret", "Basic s3cret", FALSE, FALSE },
  { "s3cret", "S3cret", FALSE, FALSE },
  { "s3cret", "s3cret\n", FALSE, FALSE },
};

static void
test_bearer (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bearer_cases); i++)
    {
      const BearerCase *c = &bearer_cases[i];
      g_autoptr (GError) header_error = NULL;
      g_autoptr (GError) query_error = NULL;
      gboolean header_ok = echo_auth_check_bearer (c->configured, c->presented, &header_error);
      gboolean query_ok = echo_auth_check_access_token (c->configured, c->presented, &query_error);

      g_test_message ("configured '%s' presented '%s'", c->configured, c->presented);
      g_assert_cmpint (header_ok, ==, c->header_ok);
      g_assert_cmpint (query_ok, ==, c->access_token_ok);
      if (!header_ok)
        g_assert_error (header_error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
      else
        g_assert_no_error (header_error);
      if (!query_ok)
        g_assert_error (query_error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
    }
}

static void
test_bearer_missing (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (echo_auth_check_bearer ("Bearer Token", NULL, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_false (echo_auth_check_bearer ("Bearer Token", "", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
  g_clear_error (&error);
  /* Nothing configured: nobody gets in, not even with an empty credential. */
  g_assert_false (echo_auth_check_bearer ("", "", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_false (echo_auth_check_bearer (NULL, "Bearer ", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
}

static void
test_check_request (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (echo_auth_check_request ("Bearer Token", "Bearer Token", NULL, NULL));
  g_assert_true (echo_auth_check_request ("Bearer Token", NULL, "Token", NULL));
  g_assert_true (echo_auth_check_request ("Bearer Token", "", "Bearer Token", NULL));
  /* A header, when present, decides: a good query value does not rescue a wrong header. */
  g_assert_false (echo_auth_check_request ("Bearer Token", "Bearer nope", "Token", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (echo_auth_check_request ("Bearer Token", NULL, NULL, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
}

/* ---- base64url ---- */

static void
test_base64url_vectors (void)
{
  /* RFC 4648 section 10, in the url-safe alphabet without padding. */
  static const struct
  {
    const char *plain;
    const char *encoded;
  } vectors[] = {
    { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
  };
  static const guint8 high[] = { 0xfb, 0xff, 0xbf };

  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree char *encoded = echo_base64url_encode ((const guint8 *) vectors[i].plain,
                                                        strlen (vectors[i].plain));
      g_autofree guint8 *decoded = NULL;
      gsize len = 0;

      g_assert_cmpstr (encoded, ==, vectors[i].encoded);
      decoded = echo_base64url_decode (encoded, strlen (encoded), &len);
      g_assert_nonnull (decoded);
      g_assert_cmpmem (decoded, len, vectors[i].plain, strlen (vectors[i].plain));
    }
  /* The two url-safe characters: standard base64 of these bytes is "+/+/". */
  {
    g_autofree char *encoded = echo_base64url_encode (high, sizeof high);

    g_assert_cmpstr (encoded, ==, "-_-_");
  }
}

static void
test_base64url_strict (void)
{
  static const char *const rejected[] = {
    "Zg==",  /* padding */
    "Zg=",
    "Z",     /* a lone character */
    "Zm9vY",
    "Zh",    /* non-zero bits after the last byte */
    "Zm9",   /* "fo" is "Zm8": '9' sets a bit past the second byte */
    "Zm+v",  /* standard alphabet */
    "Zm/v",
    "Zm9 v",
    "Zm9v\n",
  };
  gsize len = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (rejected); i++)
    {
      g_autofree guint8 *decoded = echo_base64url_decode (rejected[i], strlen (rejected[i]), &len);

      g_test_message ("'%s'", rejected[i]);
      g_assert_null (decoded);
    }
}

static void
test_base64url_round_trip (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);

  for (gsize len = 0; len < 100; len++)
    {
      g_autofree guint8 *data = g_malloc (len + 1);
      g_autofree char *encoded = NULL;
      g_autofree char *standard = NULL;
      g_autofree guint8 *decoded = NULL;
      gsize decoded_len = 0;

      for (gsize i = 0; i < len; i++)
        data[i] = (guint8) g_rand_int_range (rand, 0, 256);
      encoded = echo_base64url_encode (data, len);
      /* Against GLib's standard base64, translated by hand. */
      standard = g_base64_encode (data, len);
      g_strdelimit (standard, "+", '-');
      g_strdelimit (standard, "/", '_');
      if (strchr (standard, '=') != NULL)
        *strchr (standard, '=') = '\0';
      g_assert_cmpstr (encoded, ==, standard);
      decoded = echo_base64url_decode (encoded, strlen (encoded), &decoded_len);
      g_assert_nonnull (decoded);
      g_assert_cmpmem (decoded, decoded_len, data, len);
    }
}

/* ---- JWT ---- */

#define SECRET "echo-test-secret-0123456789abcdef"

/* Made with a second implementation (OpenSSL 3):
 *   b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
 *   H=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64u)
 *   P=$(printf '%s' '{"sub":"alice","roles":["dj"],"iat":1700000000,"nbf":1700000000,"exp":1700003600}' | b64u)
 *   S=$(printf '%s' "$H.$P" | openssl dgst -sha256 -hmac 'echo-test-secret-0123456789abcdef' -binary | b64u)
 *   echo "$H.$P.$S"
 * (the HMAC in hex: 792e455aa8974e22cbcb0cddc549da7cd56110bc8a6c5f0b5c7964c85157f77b) */
#define OPENSSL_TOKEN                                                                             \
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                         \
  "eyJzdWIiOiJhbGljZSIsInJvbGVzIjpbImRqIl0sImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAi" \
  "OjE3MDAwMDM2MDB9."                                                                             \
  "eS5FWqiXTiLLywzdxUnafNVhELyKbF8LXHlkyFFX93s"

/* base64url through GLib's standard base64, not the code under test. */
static char *
independent_b64url (const void *data, gsize len)
{
  char *text = g_base64_encode (data, len);
  char *padding;

  g_strdelimit (text, "+", '-');
  g_strdelimit (text, "/", '_');
  padding = strchr (text, '=');
  if (padding != NULL)
    *padding = '\0';
  return text;
}

/* A token built in the test from hand-written JSON with GHmac directly. */
static char *
independent_token (const char *secret, const char *header_json, const char *payload_json)
{
  g_autofree char *header = independent_b64url (header_json, strlen (header_json));
  g_autofree char *payload = independent_b64url (payload_json, strlen (payload_json));
  g_autofree char *input = g_strconcat (header, ".", payload, NULL);
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autofree char *signature = NULL;

  g_hmac_update (hmac, (const guchar *) input, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  signature = independent_b64url (digest, digest_len);
  return g_strconcat (input, ".", signature, NULL);
}

static void
test_jwt_known_answer_sign (void)
{
  const char *const roles[] = { "dj", NULL };
  EchoJwtClaims claims = { (char *) "alice", (char **) roles, 1700000000, 1700000000, 1700003600 };
  g_autofree char *token = echo_jwt_sign (SECRET, &claims);

  g_assert_cmpstr (token, ==, OPENSSL_TOKEN);
}

static void
test_jwt_known_answer_verify (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) claims = echo_jwt_verify_at (SECRET, OPENSSL_TOKEN, 1700000100, &error);

  g_assert_no_error (error);
  g_assert_nonnull (claims);
  g_assert_cmpstr (claims->sub, ==, "alice");
  g_assert_cmpuint (g_strv_length (claims->roles), ==, 1);
  g_assert_cmpstr (claims->roles[0], ==, "dj");
  g_assert_cmpint (claims->iat, ==, 1700000000);
  g_assert_cmpint (claims->nbf, ==, 1700000000);
  g_assert_cmpint (claims->exp, ==, 1700003600);
  g_assert_true (echo_auth_has_role (claims, "dj"));
  g_assert_false (echo_auth_has_role (claims, "admin"));
  g_assert_true (echo_auth_require_role (claims, "dj", NULL));
  g_assert_false (echo_auth_require_role (claims, "admin", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_FORBIDDEN);
}

/* RFC 7515 appendix A.1: an HS256 JWS with a 64-byte binary key. Its payload has no sub, so a
 * correct implementation gets past the signature and then refuses the claims, while any other
 * key fails on the signature. */
static void
test_jwt_rfc7515_vector (void)
{
  static const char rfc_key_b64url[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  static const char rfc_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  gsize key_len = 0;
  g_autofree guint8 *key = echo_base64url_decode (rfc_key_b64url, strlen (rfc_key_b64url), &key_len);
  g_autofree char *key_string = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) claims = NULL;

  g_assert_nonnull (key);
  g_assert_cmpuint (key_len, ==, 64);
  g_assert_null (memchr (key, 0, key_len)); /* usable as a C string secret */
  key_string = g_strndup ((const char *) key, key_len);

  claims = echo_jwt_verify_at (key_string, rfc_token, 1300819380, &error);
  g_assert_null (claims);
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "invalid token: no sub");
  g_clear_error (&error);

  key_string[0] ^= 1;
  claims = echo_jwt_verify_at (key_string, rfc_token, 1300819380, &error);
  g_assert_null (claims);
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "invalid token: bad signature");
}

static void
test_jwt_independent (void)
{
  /* Different member order, extra members, fractional times, whitespace: all allowed. */
  g_autofree char *token = independent_token (
    SECRET, "{\"typ\":\"JWT\", \"alg\":\"HS256\"}",
    "{\"exp\": 2000000000.5, \"roles\": [\"admin\", \"dj\"], \"sub\": \"bob\", \"iss\": \"x\"}");
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) claims = echo_jwt_verify_at (SECRET, token, 1999999999, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (claims->sub, ==, "bob");
  g_assert_cmpint (claims->exp, ==, 2000000000);
  g_assert_cmpint (claims->iat, ==, 0);
  g_assert_true (echo_auth_has_role (claims, "admin"));
  g_assert_true (echo_auth_has_role (claims, "dj"));
}

static void
test_jwt_round_trip (void)
{
  const char *const roles[] = { "listener", NULL };
  g_autoptr (EchoJwtClaims) claims = echo_jwt_claims_new ("carol", roles, 3600);
  g_autofree char *token = echo_jwt_sign (SECRET, claims);
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) verified = echo_jwt_verify (SECRET, token, &error);
  g_autoptr (EchoJwtClaims) no_roles = echo_jwt_claims_new ("dave", NULL, 0);
  g_autofree char *no_roles_token = echo_jwt_sign (SECRET, no_roles);
  g_autoptr (EchoJwtClaims) no_roles_verified = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (verified->sub, ==, "carol");
  g_assert_cmpint (verified->exp - verified->iat, ==, 3600);
  g_assert_true (echo_auth_has_role (verified, "listener"));

  no_roles_verified = echo_jwt_verify (SECRET, no_roles_token, &error);
  g_assert_no_error (error);
  g_assert_nonnull (no_roles_verified->roles);
  g_assert_cmpuint (g_strv_length (no_roles_verified->roles), ==, 0);
  g_assert_cmpint (no_roles_verified->exp, ==, 0);
  g_assert_false (echo_auth_has_role (no_roles_verified, "listener"));

  /* Another secret does not verify it. */
  g_assert_null (echo_jwt_verify ("another-secret-0123456789abcdef0123", token, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
}

static void
assert_rejected (const char *token, gint64 now, int code, const char *message_part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoJwtClaims) claims = echo_jwt_verify_at (SECRET, token, now, &error);

  g_test_message ("token %s", token);
  g_assert_null (claims);
  g_assert_error (error, ECHO_AUTH_ERROR, code);
  if (strstr (error->message, message_part) == NULL)
    g_error ("'%s' does not mention '%s'", error->message, message_part);
}

static void
test_jwt_tampered (void)
{
  g_autofree char *payload = g_strdup (OPENSSL_TOKEN);
  g_autofree char *signature = g_strdup (OPENSSL_TOKEN);
  g_autofree char *header = g_strdup (OPENSSL_TOKEN);
  g_autofree char *forged = NULL;
  char *dot = strchr (payload, '.');

  /* One character of the payload: "alice" -> "alicf" changes a byte of the JSON. */
  dot[5] = dot[5] == 'A' ? 'B' : 'A';
  assert_rejected (payload, 1700000100, ECHO_AUTH_ERROR_INVALID, "bad signature");

  /* A character in the middle of the signature. */
  signature[strlen (signature) - 10] = signature[strlen (signature) - 10] == 'A' ? 'B' : 'A';
  assert_rejected (signature, 1700000100, ECHO_AUTH_ERROR_INVALID, "bad signature");

  /* A header with an extra member, correctly encoded but not what was signed. */
  g_free (header);
  {
    const char *json = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}";
    g_autofree char *h = independent_b64url (json, strlen (json));

    header = g_strconcat (h, strchr (OPENSSL_TOKEN, '.'), NULL);
  }
  assert_rejected (header, 1700000100, ECHO_AUTH_ERROR_INVALID, "bad signature");

  /* The payload re-signed with another secret. */
  forged = independent_token ("not-the-secret-0123456789abcdef0123",
                              "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                              "{\"sub\":\"alice\",\"roles\":[\"admin\"]}");
  assert_rejected (forged, 1700000100, ECHO_AUTH_ERROR_INVALID, "bad signature");

  /* A truncated signature (30 of its 32 bytes, a correct prefix) is still wrong. */
  {
    g_autofree char *truncated = g_strndup (OPENSSL_TOKEN, strlen (OPENSSL_TOKEN) - 3);

    assert_rejected (truncated, 1700000100, ECHO_AUTH_ERROR_INVALID, "bad signature");
  }
}

static void
test_jwt_algorithms (void)
{
  const char *payload = "{\"sub\":\"alice\",\"roles\":[\"admin\"]}";
  g_autofree char *none_header = independent_b64url ("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                                         strlen ("{\"alg\":\"none\",\"typ\":\"JWT\"}"));
  g_autofree char *none_payload = independent_b64url (payload, strlen (payload));
  g_autofree char *unsigned_token = g_strconcat (none_header, ".", none_payload, ".", NULL);
  /* alg none with a signature that is in fact the correct HMAC still fails: alg decides. */
  g_autofree char *none_signed = independent_token (SECRET, "{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                                    payload);
  g_autofree char *hs512 = independent_token (SECRET, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload);
  g_autofree char *lower = independent_token (SECRET, "{\"alg\":\"hs256\"}", payload);
  g_autofree char *no_alg = independent_token (SECRET, "{\"typ\":\"JWT\"}", payload);
  g_autofree char *alg_number = independent_token (SECRET, "{\"alg\":256}", payload);
  g_autofree char *bad_typ = independent_token (SECRET, "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}",
                                                payload);
  g_autofree char *crit = independent_token (SECRET,
                                             "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
                                             payload);
  g_autofree char *no_typ = independent_token (SECRET, "{\"alg\":\"HS256\"}", payload);
  g_autoptr (EchoJwtClaims) claims = NULL;

  assert_rejected (unsigned_token, 0, ECHO_AUTH_ERROR_INVALID, "three non-empty segments");
  assert_rejected (none_signed, 0, ECHO_AUTH_ERROR_INVALID, "alg 'none' is not accepted");
  assert_rejected (hs512, 0, ECHO_AUTH_ERROR_INVALID, "alg 'HS512' is not accepted");
  assert_rejected (lower, 0, ECHO_AUTH_ERROR_INVALID, "alg 'hs256' is not accepted");
  assert_rejected (no_alg, 0, ECHO_AUTH_ERROR_INVALID, "no alg");
  assert_rejected (alg_number, 0, ECHO_AUTH_ERROR_INVALID, "no alg");
  assert_rejected (bad_typ, 0, ECHO_AUTH_ERROR_INVALID, "typ");
  assert_rejected (crit, 0, ECHO_AUTH_ERROR_INVALID, "crit");

  /* typ is optional. */
  claims = echo_jwt_verify_at (SECRET, no_typ, 0, NULL);
  g_assert_nonnull (claims);
}

static void
test_jwt_times (void)
{
  const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  g_autofree char *exp_token = independent_token (SECRET, header, "{\"sub\":\"a\",\"exp\":1000}");
  g_autofree char *nbf_token = independent_token (SECRET, header, "{\"sub\":\"a\",\"nbf\":1000}");
  g_autoptr (GError) error = NULL;
  EchoJwtClaims *claims;

  /* exp: accepted up to 30 s after, refused from 31 s after. */
  claims = echo_jwt_verify_at (SECRET, exp_token, 999, &error);
  g_assert_no_error (error);
  echo_jwt_claims_free (claims);
  claims = echo_jwt_verify_at (SECRET, exp_token, 1000 + ECHO_JWT_LEEWAY_SECONDS, &error);
  g_assert_no_error (error);
  echo_jwt_claims_free (claims);
  assert_rejected (exp_token, 1000 + ECHO_JWT_LEEWAY_SECONDS + 1, ECHO_AUTH_ERROR_EXPIRED,
                   "expired");
  assert_rejected (exp_token, 5000, ECHO_AUTH_ERROR_EXPIRED, "expired");

  /* nbf: accepted from 30 s before, refused 31 s before. */
  claims = echo_jwt_verify_at (SECRET, nbf_token, 1000 - ECHO_JWT_LEEWAY_SECONDS, &error);
  g_assert_no_error (error);
  echo_jwt_claims_free (claims);
  assert_rejected (nbf_token, 1000 - ECHO_JWT_LEEWAY_SECONDS - 1, ECHO_AUTH_ERROR_EXPIRED,
                   "not valid");
  claims = echo_jwt_verify_at (SECRET, nbf_token, 100000, &error);
  g_assert_no_error (error);
  echo_jwt_claims_free (claims);
}

static void
test_jwt_malformed (void)
{
  const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  static const struct
  {
    const char *payload;
    const char *message_part;
  } bad_payloads[] = {
    { "{\"roles\":[]}", "no sub" },
    { "{\"sub\":\"\"}", "no sub" },
    { "{\"sub\":42}", "no sub" },
    { "{\"sub\":\"a\",\"roles\":\"dj\"}", "roles is not an array" },
    { "{\"sub\":\"a\",\"roles\":[\"dj\",1]}", "roles holds a non-string" },
    { "{\"sub\":\"a\",\"exp\":\"2000000000\"}", "exp is not a number" },
    { "{\"sub\":\"a\",\"nbf\":true}", "nbf is not a number" },
    { "{\"sub\":\"a\",\"exp\":9223372036854775807}", "exp is not a number" },
    { "{\"sub\":\"a\",\"iat\":1e300}", "iat is not a number" },
    { "[\"sub\"]", "payload is not a JSON object" },
    { "\"sub\"", "payload is not a JSON object" },
    { "{\"sub\":\"a\"", "payload is not JSON" },
    { "", "three non-empty segments" },
  };
  static const char *const bad_shapes[] = {
    "",
    "abc",
    "a.b",
    "a.b.c.d",
    "..",
    ".eyJzdWIiOiJhIn0.AAAA",
    "eyJhbGciOiJIUzI1NiJ9..AAAA",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0=.AAAA",
    "eyJhbGciOiJIUzI1NiJ9=.eyJzdWIiOiJhIn0.AAAA",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.AA AA",
    "e30.eyJzdWIiOiJhIn0.AAAA",          /* {} header: no alg */
    "bm90IGpzb24.eyJzdWIiOiJhIn0.AAAA",  /* "not json" header */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_payloads); i++)
    {
      g_autofree char *token = independent_token (SECRET, header, bad_payloads[i].payload);

      assert_rejected (token, 0, ECHO_AUTH_ERROR_INVALID, bad_payloads[i].message_part);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_shapes); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("shape '%s'", bad_shapes[i]);
      g_assert_null (echo_jwt_verify_at (SECRET, bad_shapes[i], 0, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == ECHO_AUTH_ERROR);
      g_assert_true (error->code == ECHO_AUTH_ERROR_INVALID || (i == 0 && error->code == ECHO_AUTH_ERROR_MISSING));
    }
  /* NUL bytes inside the JSON. */
  {
    static const char with_nul[] = "{\"sub\":\"a\0b\"}";
    g_autofree char *payload = independent_b64url (with_nul, sizeof with_nul - 1);
    g_autofree char *h = independent_b64url (header, strlen (header));
    g_autofree char *input = g_strconcat (h, ".", payload, NULL);
    g_autofree char *token = NULL;
    g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) SECRET, strlen (SECRET));
    guint8 digest[32];
    gsize digest_len = sizeof digest;
    g_autofree char *signature = NULL;

    g_hmac_update (hmac, (const guchar *) input, -1);
    g_hmac_get_digest (hmac, digest, &digest_len);
    signature = independent_b64url (digest, digest_len);
    token = g_strconcat (input, ".", signature, NULL);
    assert_rejected (token, 0, ECHO_AUTH_ERROR_INVALID, "payload is not JSON");
  }
  /* Far too long. */
  {
    g_autofree char *long_sub = g_strnfill (10000, 'a');
    g_autofree char *payload = g_strdup_printf ("{\"sub\":\"%s\"}", long_sub);
    g_autofree char *token = independent_token (SECRET, header, payload);

    assert_rejected (token, 0, ECHO_AUTH_ERROR_INVALID, "too long");
  }
}

static void
test_jwt_no_secret (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (echo_jwt_verify_at ("", OPENSSL_TOKEN, 1700000100, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_null (echo_jwt_verify_at (SECRET, NULL, 1700000100, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
}

/* echo_auth_identify: the host application's token (alone or vouching for a user), user
 * JWTs, and everything that must be refused. */
static void
test_identify (void)
{
  const char *roles[] = { "dj", "member", NULL };
  g_autoptr (EchoJwtClaims) claims = echo_jwt_claims_new ("dave", roles, 3600);
  g_autofree char *jwt = echo_jwt_sign (SECRET, claims);
  g_autofree char *jwt_header = g_strconcat ("Bearer ", jwt, NULL);
  g_autoptr (GError) error = NULL;
  EchoIdentity *id;

  /* the host application as itself */
  id = echo_auth_identify ("Bearer svc", SECRET, "Bearer svc", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (id->service);
  g_assert_null (id->user);
  g_assert_cmpuint (g_strv_length (id->roles), ==, 0);
  echo_identity_free (id);

  /* vouching for a user, roles trimmed; the bare token works in the query */
  id = echo_auth_identify ("Bearer svc", SECRET, NULL, "svc", "erin", " dj , admin", &error);
  g_assert_no_error (error);
  g_assert_true (id->service);
  g_assert_cmpstr (id->user, ==, "erin");
  g_assert_cmpuint (g_strv_length (id->roles), ==, 2);
  g_assert_cmpstr (id->roles[1], ==, "admin");
  echo_identity_free (id);

  /* a user token, in the header or the query */
  id = echo_auth_identify ("Bearer svc", SECRET, jwt_header, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (id->service);
  g_assert_cmpstr (id->user, ==, "dave");
  g_assert_true (g_strv_contains ((const char *const *) id->roles, "dj"));
  echo_identity_free (id);
  id = echo_auth_identify ("Bearer svc", SECRET, NULL, jwt, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id->user, ==, "dave");
  echo_identity_free (id);

  /* refusals */
  g_assert_null (echo_auth_identify ("Bearer svc", SECRET, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_null (echo_auth_identify ("Bearer svc", SECRET, "Bearer nope", NULL, NULL, NULL,
          &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (echo_auth_identify ("Bearer svc", "", jwt_header, NULL, NULL, NULL, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (echo_auth_identify ("Bearer svc", SECRET, jwt_header, NULL, "mallory", NULL,
          &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_FORBIDDEN);
  g_clear_error (&error);
  g_assert_null (echo_auth_identify ("Bearer svc", SECRET, "Bearer svc", NULL, "two words",
          NULL, &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (echo_auth_identify ("Bearer svc", SECRET, "Bearer svc", NULL, "erin",
          "dj,,admin", &error));
  g_assert_error (error, ECHO_AUTH_ERROR, ECHO_AUTH_ERROR_INVALID);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/auth/constant-time-equal", test_constant_time_equal);
  g_test_add_func ("/core/auth/bearer", test_bearer);
  g_test_add_func ("/core/auth/bearer-missing", test_bearer_missing);
  g_test_add_func ("/core/auth/check-request", test_check_request);
  g_test_add_func ("/core/auth/identify", test_identify);
  g_test_add_func ("/core/auth/base64url/vectors", test_base64url_vectors);
  g_test_add_func ("/core/auth/base64url/strict", test_base64url_strict);
  g_test_add_func ("/core/auth/base64url/round-trip", test_base64url_round_trip);
  g_test_add_func ("/core/auth/jwt/known-answer-sign", test_jwt_known_answer_sign);
  g_test_add_func ("/core/auth/jwt/known-answer-verify", test_jwt_known_answer_verify);
  g_test_add_func ("/core/auth/jwt/rfc7515", test_jwt_rfc7515_vector);
  g_test_add_func ("/core/auth/jwt/independent", test_jwt_independent);
  g_test_add_func ("/core/auth/jwt/round-trip", test_jwt_round_trip);
  g_test_add_func ("/core/auth/jwt/tampered", test_jwt_tampered);
  g_test_add_func ("/core/auth/jwt/algorithms", test_jwt_algorithms);
  g_test_add_func ("/core/auth/jwt/times", test_jwt_times);
  g_test_add_func ("/core/auth/jwt/malformed", test_jwt_malformed);
  g_test_add_func ("/core/auth/jwt/no-secret", test_jwt_no_secret);
  return g_test_run ();
}
