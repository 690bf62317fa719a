/* libgatehouse-verify: how a resource server trusts a request that gatehouse authenticated.
 *
 *   1. JWT: a short-lived token from GET /api/auth/token (or the set-auth-jwt header), verified
 *      locally against gatehouse's JWKS, which is fetched over HTTP(S) and cached.
 *   2. Session delegation: the request's session cookie or bearer session token is forwarded to
 *      GET /api/auth/get-session. Revocation is immediate; gatehouse must be reachable.
 *
 * Depends on OpenSSL 3, libsodium (Ed25519, unless built with GHV_ED25519=openssl), jansson and
 * libcurl only. Thread-safe: one ghv_verifier may be shared by
 * every thread of the host. Never aborts and never exits: every failure is a ghv_status. Secrets
 * (tokens, cookies) are never logged or kept beyond the call, except hashed in the optional
 * delegation micro-cache.
 *
 * Link with `pkg-config --cflags --libs gatehouse-verify`. */
#ifndef GATEHOUSE_VERIFY_H
#define GATEHOUSE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GHV_BUILDING)
#define GHV_EXPORT __attribute__((visibility("default")))
#else
#define GHV_EXPORT
#endif

typedef enum {
  GHV_OK = 0,
  GHV_ERR_NOMEM,           /* allocation failed */
  GHV_ERR_ARG,             /* invalid argument or configuration */
  GHV_ERR_MALFORMED,       /* not a well-formed compact JWS / its header or claims are not JSON */
  GHV_ERR_TOO_LARGE,       /* token over max_token_bytes */
  GHV_ERR_ALG,             /* header alg is not the algorithm pinned for that key ("none", HS*) */
  GHV_ERR_KID,             /* no usable key with this kid, even after an allowed JWKS refetch, or
                              no kid in the header (unless allow_missing_kid) */
  GHV_ERR_SIGNATURE,       /* signature does not verify */
  GHV_ERR_EXPIRED,         /* exp is in the past (beyond the leeway) */
  GHV_ERR_NOT_YET_VALID,   /* nbf or iat is in the future (beyond the leeway) */
  GHV_ERR_ISSUER,          /* iss missing or not the expected issuer */
  GHV_ERR_AUDIENCE,        /* aud missing or does not contain the expected audience */
  GHV_ERR_CLAIMS,          /* a required claim (sub, exp) is missing or has the wrong type */
  GHV_ERR_UNAUTHENTICATED, /* delegation: gatehouse answered that there is no valid session */
  GHV_ERR_UNAVAILABLE,     /* gatehouse / the JWKS could not be reached or answered garbage: the
                              answer cannot be known (fail closed: 503) */
} ghv_status;

GHV_EXPORT const char *ghv_status_str(ghv_status st);
/* The HTTP status a resource server should answer with: 200 for GHV_OK, 503 for
 * GHV_ERR_UNAVAILABLE and GHV_ERR_NOMEM, 500 for GHV_ERR_ARG, 401 for every other error. */
GHV_EXPORT int ghv_status_http(ghv_status st);

typedef struct {
  /* gatehouse base URL, e.g. "http://localhost:3000". Required unless both jwks_url and
   * session_url are set (or only static keys via ghv_set_jwks are used). Without it,
   * expected_issuer and expected_audience must be set for ghv_verify_jwt (else GHV_ERR_ARG), and
   * ghv_verify_session needs session_url (else GHV_ERR_ARG). Every URL must be absolute http or
   * https. */
  const char *issuer_url;
  const char *jwks_url;          /* default: issuer_url + "/api/auth/jwks" */
  const char *session_url;       /* default: issuer_url + "/api/auth/get-session" */
  const char *expected_issuer;   /* default: the origin of issuer_url */
  const char *expected_audience; /* default: the origin of issuer_url */
  long leeway_s;                 /* clock skew allowed on exp/nbf/iat; default 30, max 300 */
  long jwks_max_age_s;           /* upper bound on a JWKS Cache-Control max-age; default 300 */
  long jwks_default_ttl_s;       /* JWKS lifetime when the response has no max-age; default 60 */
  long jwks_min_refetch_s; /* an unknown kid refetches the JWKS at most once per this; default 30 */
  long http_timeout_ms;    /* connect + transfer timeout of every outbound call; default 3000 */
  size_t max_token_bytes;  /* default 8192 */
  size_t max_jwks_bytes;   /* default 65536 */
  long session_cache_ttl_s; /* delegation micro-cache TTL; 0 = off (default), at most 60 */
  /* Verified-signature cache: a token seen again (same bytes, same key set) skips only the
   * signature check; claims are checked on every call. Entries; 0 = off; default 4096. */
  size_t signature_cache_entries;
  /* A token whose header has no "kid" is refused (GHV_ERR_KID) unless this is true: gatehouse
   * always sets kid, so a token without one was not made by it. true accepts such a token when
   * exactly one published key is pinned to its alg (for other issuers). Default false. */
  bool allow_missing_kid;
} ghv_config;

/* Fills c with the defaults (every pointer NULL). */
GHV_EXPORT void ghv_config_init(ghv_config *c);

typedef struct ghv_verifier ghv_verifier;

/* Copies what it needs from c. No network call happens here. */
GHV_EXPORT ghv_status ghv_new(const ghv_config *c, ghv_verifier **out);
GHV_EXPORT void ghv_free(ghv_verifier *v); /* NULL is a no-op */

/* Installs keys from a JWKS document (JSON text) as if it had been fetched; it then never
 * expires and is never refetched. For tests and air-gapped deployments. GHV_ERR_MALFORMED when
 * the document is not a JWKS (or has duplicate members); GHV_ERR_TOO_LARGE over max_jwks_bytes;
 * keys that are unusable (weak RSA, unknown kty/alg, RSA without alg) are skipped. On error the
 * previous keys stay. */
GHV_EXPORT ghv_status ghv_set_jwks(ghv_verifier *v, const char *json, size_t len);

typedef enum { GHV_SOURCE_JWT = 1, GHV_SOURCE_SESSION = 2, GHV_SOURCE_API_KEY = 3 } ghv_source;

/* Who made the request. Strings are malloc'd and owned by the principal; NULL when absent. */
typedef struct {
  ghv_source source;
  char *user_id; /* JWT sub / session user id */
  char *email;
  char *name;
  char *role;       /* admin plugin role, when present */
  char *session_id; /* delegation: the session id */
  char *token_id;   /* JWT: jti when present */
  bool email_verified;
  int64_t expires_at; /* unix seconds: JWT exp or the session's expiresAt */
} ghv_principal;

GHV_EXPORT void ghv_principal_clear(ghv_principal *p); /* frees the strings, zeroes p */

/* Verifies a compact JWS/JWT (the part after "Bearer "). On GHV_OK *out is filled; on error it is
 * left zeroed. May fetch the JWKS (first use, stale keys, unknown kid), so it can block for up to
 * http_timeout_ms. GHV_ERR_ARG when there is no expected issuer/audience or no source of keys. */
GHV_EXPORT ghv_status ghv_verify_jwt(ghv_verifier *v, const char *token, size_t len,
                                     ghv_principal *out);

/* Delegation: asks gatehouse's get-session. Pass the request's Cookie header as-is, or a bearer
 * session token (raw or signed), or both (NULL when absent). GHV_ERR_UNAUTHENTICATED when
 * gatehouse answers that there is no session, GHV_ERR_UNAVAILABLE when it cannot be asked.
 * Without any credential, or with one containing control characters, GHV_ERR_UNAUTHENTICATED
 * without a call; GHV_ERR_ARG when no session URL is configured. Blocks for up to
 * http_timeout_ms. */
GHV_EXPORT ghv_status ghv_verify_session(ghv_verifier *v, const char *cookie_header,
                                         const char *bearer_token, ghv_principal *out);

/* Extracts the credential of an Authorization header value ("Bearer <token>", scheme
 * case-insensitive, surrounding spaces ignored). GHV_ERR_MALFORMED when it is not a bearer. The
 * result points into authorization. */
GHV_EXPORT ghv_status ghv_bearer_token(const char *authorization, const char **token, size_t *len);

/* true when token[0..len) has the shape of a compact JWS (three dot-separated parts), i.e. it
 * should go to ghv_verify_jwt rather than be treated as a session token. */
GHV_EXPORT bool ghv_looks_like_jwt(const char *token, size_t len);

/* --- API keys (gatehouse's api-key plugin) ---------------------------------------------------
 * A key from an `x-api-key` header is checked with gatehouse's POST /api/auth/api-key/verify,
 * which only answers callers holding gatehouse's GATEHOUSE_SERVICE_TOKEN. Each check is one use
 * of the key (its remaining count and rate limit); a valid answer may be kept for cache_ttl_s
 * (never past the key's expiry), so a revoked key may still pass for that long. Fail closed:
 * gatehouse unreachable, or answering anything but a verify result, is GHV_ERR_UNAVAILABLE. */

/* Enables ghv_verify_api_key. verify_url: absolute http(s) URL of the verify route;
 * service_token: at least 32 characters (copied, wiped at ghv_free); cache_ttl_s 0..60 (0 = no
 * cache). Call once, before the verifier is shared. GHV_ERR_ARG on bad values. */
GHV_EXPORT ghv_status ghv_apikey_configure(ghv_verifier *v, const char *verify_url,
                                           const char *service_token, long cache_ttl_s);

/* A verified key. Strings are malloc'd and owned here; NULL when absent. */
typedef struct {
  char *key_id;
  char *user_id;      /* the key's owner (referenceId) */
  char *name;         /* the key's name */
  char *permissions;  /* JSON text {"resource":["action",...]} or NULL */
  int64_t expires_at; /* unix seconds; 0 = never */
  /* On GHV_ERR_UNAUTHENTICATED: gatehouse's reason, e.g. "INVALID_API_KEY", "KEY_EXPIRED",
   * "KEY_DISABLED", "RATE_LIMITED", "USAGE_EXCEEDED" (empty when unknown). */
  char error_code[48];
} ghv_api_key;

GHV_EXPORT void ghv_api_key_clear(ghv_api_key *k); /* frees the strings, zeroes k */

/* Checks key[0..len) with gatehouse. GHV_OK with *out filled; GHV_ERR_UNAUTHENTICATED with
 * out->error_code when gatehouse refuses it; GHV_ERR_TOO_LARGE over max_token_bytes;
 * GHV_ERR_UNAVAILABLE; GHV_ERR_ARG when ghv_apikey_configure was not called. */
GHV_EXPORT ghv_status ghv_verify_api_key(ghv_verifier *v, const char *key, size_t len,
                                         ghv_api_key *out);

/* true when the key's permissions grant action on resource ({"tasks":["read"]} grants
 * ("tasks","read")). */
GHV_EXPORT bool ghv_api_key_allows(const ghv_api_key *k, const char *resource, const char *action);

#ifdef __cplusplus
}
#endif

#endif
