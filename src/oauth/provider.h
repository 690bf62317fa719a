/* An OAuth 2.0 / OpenID Connect provider as better-auth's socialProviders (google, github, apple)
 * and genericOAuth (any OIDC provider by discovery URL) see it: the authorization URL (PKCE S256,
 * nonce), the code exchange and refresh (client_secret_post), the ID token verified against the
 * provider's JWKS (signature, iss, aud, exp, iat, nonce), the user's profile (ID token claims,
 * userinfo, GitHub's API). Discovery documents and JWKS are fetched on first use and cached
 * (JWKS again for an unknown kid, at most once a minute). Every call here is blocking (outbound
 * HTTP): worker pool only. A provider is shared by all threads (its caches are locked). */
#ifndef GH_OAUTH_PROVIDER_H
#define GH_OAUTH_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"
#include "json/json.h"
#include "oauth/fetch.h"

typedef enum {
  GH_OAUTH_OIDC,   /* ID token + userinfo (google, apple, generic OIDC) */
  GH_OAUTH_GITHUB, /* GitHub's REST API for the profile and e-mails */
} gh_oauth_kind;

typedef struct {
  const char *id; /* provider id: "google", "acme" */
  gh_oauth_kind kind;
  const char *client_id, *client_secret;
  const char *scopes; /* scopes asked for, space or comma separated */
  bool pkce;
  const char *discovery_url; /* fills the endpoints not given below */
  const char *authorization_url, *token_url, *userinfo_url, *jwks_url;
  const char *issuer;            /* expected iss (NULL with discovery: the document's) */
  const char *issuer_alt;        /* a second accepted iss (google: "accounts.google.com") */
  bool id_token_sign_in;         /* accepts POST /sign-in/social {idToken} */
  bool requires_nonce;           /* the redirect flow binds the ID token with a nonce */
  const char *response_mode;     /* "form_post" (apple) or NULL */
  const char *extra_auth_params; /* appended to the authorization URL, "k=v&k2=v2" (encoded) */
  int64_t max_token_age_s;       /* iat no older than this (google: 3600); 0 = no limit */
  bool openid_scope;             /* prepend "openid" when missing (OIDC) */
  const char *scope_joiner;      /* " " (NULL) */
  bool generic; /* genericOAuth: an ID token without e-mail needs userinfo, else no profile */
} gh_oauth_provider_config;

typedef struct gh_oauth_provider gh_oauth_provider;

/* Copies c. GH_ERR_CONFIG when a needed value is missing (client id; an authorization and token
 * endpoint or a discovery URL) or an endpoint is not an allowed URL (gh_fetch_url_allowed). */
GH_MUST_CHECK gh_status gh_oauth_provider_new(const gh_oauth_provider_config *c,
                                              gh_oauth_provider **out, const char **err);
void gh_oauth_provider_free(gh_oauth_provider *p);
const char *gh_oauth_provider_id(const gh_oauth_provider *p);
const gh_oauth_provider_config *gh_oauth_provider_conf(const gh_oauth_provider *p);
/* The expected issuer (after discovery), on a; NULL when not known. */
const char *gh_oauth_provider_issuer(gh_oauth_provider *p, gh_arena *a);

/* Fetches the discovery document when the provider has one and it is not cached yet.
 * GH_ERR_IO when the provider cannot be reached, GH_ERR_INVALID for a bad document. */
GH_MUST_CHECK gh_status gh_oauth_ready(gh_oauth_provider *p, const gh_fetch_opts *fo, gh_arena *a);

/* The authorization URL (gh_oauth_ready has succeeded). extra_scopes: a JSON array of strings or
 * NULL; code_verifier NULL when PKCE is off; nonce and login_hint may be NULL. */
char *gh_oauth_authorize_url(gh_arena *a, gh_oauth_provider *p, const char *state,
                             const char *code_verifier, const char *nonce, const char *redirect_uri,
                             const gh_json *extra_scopes, const char *login_hint);

typedef struct {
  char *access_token, *refresh_token, *id_token;
  int64_t access_expires_at, refresh_expires_at; /* ms */
  bool has_access_expiry, has_refresh_expiry;
  char *scopes; /* the granted scopes comma-joined ("" when the answer named none) */
} gh_oauth_tokens;

/* authorization_code grant. GH_ERR_INVALID when the provider refuses (bad / replayed code). */
GH_MUST_CHECK gh_status gh_oauth_exchange_code(gh_arena *a, gh_oauth_provider *p,
                                               const gh_fetch_opts *fo, const char *code,
                                               const char *code_verifier, const char *redirect_uri,
                                               gh_oauth_tokens *out);
/* refresh_token grant. */
GH_MUST_CHECK gh_status gh_oauth_refresh(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                                         const char *refresh_token, gh_oauth_tokens *out);

typedef struct {
  char *sub; /* the provider's account id */
  char *email;
  bool email_verified;
  char *name;
  char *image;
  gh_json *raw; /* the profile (owned by the arena) */
} gh_oauth_user;

/* Verifies an ID token: signature with a key of the provider's JWKS (alg from the header, never
 * none/HMAC; the provider's advertised algorithms, RS256 by default), iss, aud (the client id),
 * exp and iat (30 s tolerance), sub present, max age, and nonce when expected_nonce != NULL.
 * *claims owned by a. GH_ERR_INVALID when it does not verify, GH_ERR_IO when the JWKS cannot be
 * fetched. */
GH_MUST_CHECK gh_status gh_oauth_verify_id_token(gh_arena *a, gh_oauth_provider *p,
                                                 const gh_fetch_opts *fo, const char *token,
                                                 const char *expected_nonce, gh_json **claims);
/* The user behind tokens: the verified ID token's claims when they carry sub and e-mail, else
 * userinfo (whose sub must equal the ID token's), GitHub: its API. apple_user: the `user` JSON
 * Apple posts on first consent (may be NULL). GH_ERR_INVALID when the provider gives no usable
 * profile or the ID token does not verify. */
GH_MUST_CHECK gh_status gh_oauth_user_info(gh_arena *a, gh_oauth_provider *p,
                                           const gh_fetch_opts *fo, const gh_oauth_tokens *t,
                                           const char *expected_nonce, const char *apple_user,
                                           gh_oauth_user *out);

/* The profile in an ID token read back from the account row, NOT verified again (better-auth's
 * google and apple getUserInfo decode the stored token for account-info; it was verified before it
 * was stored, and may have expired since). GH_ERR_INVALID when it is not a JWS with a sub. */
GH_MUST_CHECK gh_status gh_oauth_user_from_stored_id_token(gh_arena *a, const char *token,
                                                           gh_oauth_user *out);

/* RFC 7636 S256 challenge of verifier (base64url, no padding), on a. */
char *gh_oauth_pkce_challenge(gh_arena *a, const char *verifier);

#endif
