/* echo-auth.h: who may call echod.
 *
 * Two kinds of credential:
 * - the share API's bearer token: the Authorization header must equal the configured value
 *   exactly (the seed's client sends its configured value verbatim, e.g. "Bearer Token"); when the
 *   configured value does not itself start with "Bearer ", "Bearer <value>" is accepted too.
 *   WebSocket clients that cannot set headers pass ?access_token=, which may also be the bare
 *   token (the configured value without its "Bearer " prefix), as in RFC 6750.
 *   Comparisons take the same time whatever the position of the first differing byte.
 * - JWT HS256 user tokens (RFC 7519) for the user APIs: see echo_jwt_sign()/echo_jwt_verify().
 *
 * HTTP mapping: MISSING, INVALID and EXPIRED are 401 (with WWW-Authenticate: Bearer), FORBIDDEN
 * is 403. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ECHO_AUTH_ERROR (echo_auth_error_quark ())
GQuark echo_auth_error_quark (void);

typedef enum
{
  ECHO_AUTH_ERROR_MISSING,   /* no credential presented, or none configured */
  ECHO_AUTH_ERROR_INVALID,   /* wrong token; malformed or badly signed JWT */
  ECHO_AUTH_ERROR_EXPIRED,   /* JWT past exp, or before nbf (beyond the leeway) */
  ECHO_AUTH_ERROR_FORBIDDEN, /* valid, but lacks the role */
} EchoAuthError;

/* Seconds of clock difference JWT exp/nbf checks tolerate. */
#define ECHO_JWT_LEEWAY_SECONDS 30

/* TRUE when a and b hold the same bytes. The time taken depends only on the longer length, never
 * on where the first difference is. */
gboolean echo_auth_constant_time_equal (const void *a, gsize a_len, const void *b, gsize b_len);

/* Checks an Authorization header value against the configured token (see above). configured
 * NULL or "" -> MISSING ("no bearer token configured"), presented NULL or "" -> MISSING,
 * mismatch -> INVALID. */
gboolean echo_auth_check_bearer (const char *configured, const char *presented, GError **error);

/* The same for an access_token query value (the bare token is also accepted there). */
gboolean echo_auth_check_access_token (const char *configured, const char *presented,
                                       GError **error);

/* A request's credential: the Authorization header when present, otherwise the access_token
 * query value (either may be NULL). */
gboolean echo_auth_check_request (const char *configured, const char *authorization_header,
                                  const char *access_token, GError **error);

/* Who a user-API request acts as (echo_auth_identify ()). */
typedef struct
{
  char *user;      /* user id; NULL for the host application acting as itself */
  char **roles;    /* never NULL (empty vector when none) */
  gboolean service; /* presented the configured bearer token (the host application) */
} EchoIdentity;

void echo_identity_free (EchoIdentity *identity);

/* The host application acting as itself: the bearer token without X-Echo-User. Acting for a
 * user, it has that user's rights only. */
gboolean echo_identity_is_host (const EchoIdentity *identity);

/* The identity of a user-API request. Credentials, from the Authorization header (or, when
 * absent, the access_token query value):
 * - the configured bearer token: the host application (a bot, a web backend). With
 *   @user_header (X-Echo-User) it acts for that user, whose roles it vouches for in
 *   @roles_header (X-Echo-Roles: comma-separated); without, as itself (service, user NULL).
 * - a JWT signed with @jwt_secret: the user is its sub and the roles its roles claim;
 *   X-Echo-User is then refused (a user cannot act for another).
 * User ids and roles: 1..128 printable ASCII without spaces or commas (INVALID otherwise).
 * Errors as echo_auth_check_bearer () and echo_jwt_verify (). */
EchoIdentity *echo_auth_identify (const char *bearer_token, const char *jwt_secret,
                                  const char *authorization_header, const char *access_token,
                                  const char *user_header, const char *roles_header,
                                  GError **error);

/* JWT claims. Times are Unix seconds; 0 means the claim is absent. */
typedef struct
{
  char *sub;    /* user id, required */
  char **roles; /* never NULL after verify (empty vector when absent) */
  gint64 iat;
  gint64 nbf;
  gint64 exp;
} EchoJwtClaims;

/* sub, roles (NULL = none), iat = nbf = now, exp = now + ttl_seconds (ttl 0: no exp). Uses
 * echo_clock_now_ms(). */
EchoJwtClaims *echo_jwt_claims_new (const char *sub, const char *const *roles, gint64 ttl_seconds);
void           echo_jwt_claims_free (EchoJwtClaims *claims);
gboolean       echo_auth_has_role (const EchoJwtClaims *claims, const char *role);
/* FORBIDDEN unless claims has role. */
gboolean       echo_auth_require_role (const EchoJwtClaims *claims, const char *role,
                                       GError **error);

/* header {"alg":"HS256","typ":"JWT"}; payload sub, roles, then iat/nbf/exp when non-zero. */
char *echo_jwt_sign (const char *secret, const EchoJwtClaims *claims);

/* Verifies at echo_clock_now_ms(). Rejects (INVALID) anything but three strict base64url segments
 * holding a JSON header with alg HS256 (typ, when present, "JWT"; no crit) and a JSON object
 * payload with a non-empty string sub, a string-array roles if present and numeric
 * iat/nbf/exp if present; a signature that does not match; (EXPIRED) now > exp + leeway or
 * now < nbf - leeway. */
EchoJwtClaims *echo_jwt_verify (const char *secret, const char *token, GError **error);
EchoJwtClaims *echo_jwt_verify_at (const char *secret, const char *token, gint64 now_seconds,
                                   GError **error);

/* RFC 4648 section 5 without padding. decode is strict: only the url-safe alphabet, no '=', no
 * length that leaves a lone character, no non-zero bits after the last byte; NULL on error. */
char   *echo_base64url_encode (const guint8 *data, gsize len);
guint8 *echo_base64url_decode (const char *text, gsize text_len, gsize *out_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoJwtClaims, echo_jwt_claims_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoIdentity, echo_identity_free)

G_END_DECLS
