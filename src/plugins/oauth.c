/* OAuth / OpenID Connect sign-in (better-auth's socialProviders and genericOAuth, spec §1, §6.4,
 * §6.5): POST /sign-in/social (redirect and idToken flows), GET|POST /callback/:id,
 * POST /link-social, POST /get-access-token, POST /refresh-token, GET /account-info and the
 * GET /error page. Always loaded; a provider is on when its variables are set (Google, GitHub,
 * Apple, and any OpenID provider by discovery URL: GATEHOUSE_OIDC_<ID>_*), an unconfigured one
 * is 404 PROVIDER_NOT_FOUND, so OAuth stays optional and e-mail/password never depends on it.
 *
 * State as better-auth keeps it: a verification row "auth-state:<state>" holding the JSON state
 * (callbackURL, codeVerifier, errorURL, newUserURL, link, expiresAt, requestSignUp, idTokenNonce,
 * oauthState) for 10 minutes, plus the signed "better-auth.state" cookie (5 minutes); the row is
 * taken once (a replayed callback finds nothing). Accounts are written as better-auth writes
 * them (accountId = the provider's subject, scope comma-joined, tokens encrypted when
 * GATEHOUSE_OAUTH_ENCRYPT_TOKENS is on). Every failure of the callback redirects to the error URL
 * with better-auth's lower_snake code. The outbound calls run on the worker pool (GH_ROUTE_SLOW).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "auth/audit.h"
#include "auth/cookies.h"
#include "auth/db.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/validate.h"
#include "common/encoding.h"
#include "common/envfamily.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "oauth/fetch.h"
#include "oauth/provider.h"
#include "plugins/plugins.h"

#define P "/api/auth"
#define STATE_TTL_MS (600 * 1000LL)
#define STATE_COOKIE_MAX_AGE 300
#define MAX_PROVIDERS 32

typedef struct {
  bool encrypt_tokens, linking, require_local_verified, allow_different_emails, disable_signup;
  bool update_user_info_on_link;
  char *trusted, *error_url, *ca_file;
  long timeout_ms, connect_timeout_ms, max_bytes, max_concurrent;
  char *google_id, *google_secret, *google_scopes, *google_auth, *google_token, *google_jwks,
      *google_issuer;
  char *github_id, *github_secret, *github_scopes, *github_auth, *github_token, *github_api;
  char *apple_id, *apple_secret, *apple_scopes, *apple_auth, *apple_token, *apple_jwks,
      *apple_issuer;
} conf;

#define O(f) offsetof(conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_OAUTH_ENCRYPT_TOKENS", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(encrypt_tokens),
     "Encrypt provider access/refresh tokens at rest (better-auth account.encryptOAuthTokens)"},
    {"GATEHOUSE_OAUTH_LINKING", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(linking),
     "Account linking (accountLinking.enabled)"},
    {"GATEHOUSE_OAUTH_TRUSTED_PROVIDERS", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(trusted),
     "Comma list of provider ids linked without a provider-verified e-mail "
     "(accountLinking.trustedProviders)"},
    {"GATEHOUSE_OAUTH_REQUIRE_LOCAL_EMAIL_VERIFIED", NULL, GH_CONF_BOOL, "true", 0, 0, 0,
     O(require_local_verified),
     "Implicit linking only to a user whose own e-mail is verified "
     "(accountLinking.requireLocalEmailVerified)"},
    {"GATEHOUSE_OAUTH_ALLOW_DIFFERENT_EMAILS", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     O(allow_different_emails), "link-social may link an account with another e-mail"},
    {"GATEHOUSE_OAUTH_UPDATE_USER_INFO_ON_LINK", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     O(update_user_info_on_link), "Copy name and image of a newly linked account to the user"},
    {"GATEHOUSE_OAUTH_DISABLE_SIGNUP", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(disable_signup),
     "OAuth creates no user unless the sign-in asks with requestSignUp: true "
     "(disableImplicitSignUp)"},
    {"GATEHOUSE_OAUTH_ERROR_URL", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(error_url),
     "Where OAuth errors redirect (onAPIError.errorURL); default <base URL>/api/auth/error"},
    {"GATEHOUSE_OAUTH_TIMEOUT_MS", NULL, GH_CONF_INT, "10000", 100, 120000, 0, O(timeout_ms),
     "Total time of one call to a provider"},
    {"GATEHOUSE_OAUTH_CONNECT_TIMEOUT_MS", NULL, GH_CONF_INT, "5000", 100, 60000, 0,
     O(connect_timeout_ms), "Connect timeout of a call to a provider"},
    {"GATEHOUSE_OAUTH_MAX_RESPONSE_BYTES", NULL, GH_CONF_INT, "1048576", 1024, 16777216, 0,
     O(max_bytes), "Largest provider response read"},
    {"GATEHOUSE_OAUTH_MAX_CONCURRENT", NULL, GH_CONF_INT, "0", 0, 256, 0, O(max_concurrent),
     "OAuth requests waiting on a provider at once (0 = half the CPU cores, at least 1), so that a "
     "slow provider never takes the whole worker pool from password sign-in; more get 503 / "
     "error=temporarily_unavailable"},
    {"GATEHOUSE_OAUTH_CA_FILE", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(ca_file),
     "CA bundle for provider TLS (default: the system's)"},
    {"GATEHOUSE_GOOGLE_CLIENT_ID", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(google_id),
     "Google sign-in: OAuth client id (turns Google on)"},
    {"GATEHOUSE_GOOGLE_CLIENT_SECRET", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET,
     O(google_secret), "Google: client secret"},
    {"GATEHOUSE_GOOGLE_SCOPES", NULL, GH_CONF_STR, "email profile openid", 0, 0, 0,
     O(google_scopes), "Google: scopes asked for"},
    {"GATEHOUSE_GOOGLE_AUTHORIZATION_URL", NULL, GH_CONF_STR,
     "https://accounts.google.com/o/oauth2/v2/auth", 0, 0, 0, O(google_auth),
     "Google: authorization endpoint"},
    {"GATEHOUSE_GOOGLE_TOKEN_URL", NULL, GH_CONF_STR, "https://oauth2.googleapis.com/token", 0, 0,
     0, O(google_token), "Google: token endpoint"},
    {"GATEHOUSE_GOOGLE_JWKS_URL", NULL, GH_CONF_STR, "https://www.googleapis.com/oauth2/v3/certs",
     0, 0, 0, O(google_jwks), "Google: ID token keys"},
    {"GATEHOUSE_GOOGLE_ISSUER", NULL, GH_CONF_STR, "https://accounts.google.com", 0, 0, 0,
     O(google_issuer), "Google: expected ID token issuer (also accounts.google.com)"},
    {"GATEHOUSE_GITHUB_CLIENT_ID", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(github_id),
     "GitHub sign-in: OAuth app client id (turns GitHub on)"},
    {"GATEHOUSE_GITHUB_CLIENT_SECRET", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET,
     O(github_secret), "GitHub: client secret"},
    {"GATEHOUSE_GITHUB_SCOPES", NULL, GH_CONF_STR, "read:user user:email", 0, 0, 0,
     O(github_scopes), "GitHub: scopes asked for"},
    {"GATEHOUSE_GITHUB_AUTHORIZATION_URL", NULL, GH_CONF_STR,
     "https://github.com/login/oauth/authorize", 0, 0, 0, O(github_auth),
     "GitHub: authorization endpoint"},
    {"GATEHOUSE_GITHUB_TOKEN_URL", NULL, GH_CONF_STR, "https://github.com/login/oauth/access_token",
     0, 0, 0, O(github_token), "GitHub: token endpoint"},
    {"GATEHOUSE_GITHUB_API_URL", NULL, GH_CONF_STR, "https://api.github.com/user", 0, 0, 0,
     O(github_api), "GitHub: the user API (its /emails is asked too)"},
    {"GATEHOUSE_APPLE_CLIENT_ID", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(apple_id),
     "Sign in with Apple: services id (turns Apple on)"},
    {"GATEHOUSE_APPLE_CLIENT_SECRET", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET,
     O(apple_secret), "Apple: client secret (the signed JWT Apple expects)"},
    {"GATEHOUSE_APPLE_SCOPES", NULL, GH_CONF_STR, "email name", 0, 0, 0, O(apple_scopes),
     "Apple: scopes asked for"},
    {"GATEHOUSE_APPLE_AUTHORIZATION_URL", NULL, GH_CONF_STR,
     "https://appleid.apple.com/auth/authorize", 0, 0, 0, O(apple_auth),
     "Apple: authorization endpoint"},
    {"GATEHOUSE_APPLE_TOKEN_URL", NULL, GH_CONF_STR, "https://appleid.apple.com/auth/token", 0, 0,
     0, O(apple_token), "Apple: token endpoint"},
    {"GATEHOUSE_APPLE_JWKS_URL", NULL, GH_CONF_STR, "https://appleid.apple.com/auth/keys", 0, 0, 0,
     O(apple_jwks), "Apple: ID token keys"},
    {"GATEHOUSE_APPLE_ISSUER", NULL, GH_CONF_STR, "https://appleid.apple.com", 0, 0, 0,
     O(apple_issuer), "Apple: expected ID token issuer"},
};
#undef O

/* GATEHOUSE_OIDC_<ID>_*: one generic OpenID provider each (genericOAuth with discoveryUrl). */
typedef struct {
  char *discovery, *client_id, *client_secret, *scopes, *issuer;
  bool pkce;
} oidc_conf;
#define OO(f) offsetof(oidc_conf, f)
static const gh_conf_opt OIDC_OPTS[] = {
    {"_DISCOVERY_URL", NULL, GH_CONF_STR, NULL, 0, 0, 0, OO(discovery),
     "OpenID discovery document (.well-known/openid-configuration)"},
    {"_CLIENT_ID", NULL, GH_CONF_STR, NULL, 0, 0, 0, OO(client_id), "client id"},
    {"_CLIENT_SECRET", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET, OO(client_secret),
     "client secret (none: a public client)"},
    {"_SCOPES", NULL, GH_CONF_STR, "openid email profile", 0, 0, 0, OO(scopes), "scopes"},
    {"_ISSUER", NULL, GH_CONF_STR, NULL, 0, 0, 0, OO(issuer),
     "expected issuer (default: the discovery document's)"},
    {"_PKCE", NULL, GH_CONF_BOOL, "true", 0, 0, 0, OO(pkce), "PKCE S256"},
};
#undef OO
#define NOIDC (sizeof OIDC_OPTS / sizeof OIDC_OPTS[0])

typedef struct {
  gh_auth *au;
  const conf *c;
  gh_oauth_provider *prov[MAX_PROVIDERS];
  size_t np;
  gh_fetch_opts fo;
  atomic_int inflight; /* requests of these routes running now */
  int max_inflight;
  bool fetch_inited; /* libcurl's global state: only with a provider (it costs ~2.4 MB of RSS) */
} oauth;

/* The bound on requests tied up in provider calls (GATEHOUSE_OAUTH_MAX_CONCURRENT). */
static bool enter(oauth *o) {
  if (atomic_fetch_add(&o->inflight, 1) < o->max_inflight) return true;
  atomic_fetch_sub(&o->inflight, 1);
  gh_log(GH_LOG_WARN, "oauth.busy", NULL);
  return false;
}
static void leave(oauth *o) {
  atomic_fetch_sub(&o->inflight, 1);
}

/* --- errors (INVALID_TOKEN is answered but not claimed: e-mail verification answers it too) */
/* ------------------------------------------------------------------------------- */

static const gh_err_info E_PROVIDER_NOT_FOUND = {404, "PROVIDER_NOT_FOUND", "Provider not found"};
static const gh_err_info E_ID_TOKEN_NOT_SUPPORTED = {404, "ID_TOKEN_NOT_SUPPORTED",
                                                     "id_token not supported"};
static const gh_err_info E_INVALID_TOKEN = {401, "INVALID_TOKEN", "Invalid token"};
static const gh_err_info E_FAILED_TO_GET_USER_INFO = {401, "FAILED_TO_GET_USER_INFO",
                                                      "Failed to get user info"};
static const gh_err_info E_USER_EMAIL_NOT_FOUND = {401, "USER_EMAIL_NOT_FOUND",
                                                   "User email not found"};
static const gh_err_info E_SOCIAL_ACCOUNT_ALREADY_LINKED = {409, "SOCIAL_ACCOUNT_ALREADY_LINKED",
                                                            "Social account already linked"};
static const gh_err_info E_LINKING_NOT_ALLOWED = {401, "LINKING_NOT_ALLOWED",
                                                  "Account not linked - linking not allowed"};
static const gh_err_info E_LINKING_DIFFERENT_EMAILS = {
    401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED",
    "Account not linked - different emails not allowed"};
static const gh_err_info E_LINKING_FAILED = {417, "LINKING_FAILED",
                                             "Account not linked - unable to create account"};
static const gh_err_info E_FAILED_TO_GET_ACCESS_TOKEN = {400, "FAILED_TO_GET_ACCESS_TOKEN",
                                                         "Failed to get a valid access token"};
static const gh_err_info E_REFRESH_TOKEN_NOT_FOUND = {400, "REFRESH_TOKEN_NOT_FOUND",
                                                      "Refresh token not found"};
static const gh_err_info E_FAILED_TO_REFRESH = {400, "FAILED_TO_REFRESH_ACCESS_TOKEN",
                                                "Failed to refresh access token"};
static const gh_err_info E_ACCESS_TOKEN_NOT_FOUND = {400, "ACCESS_TOKEN_NOT_FOUND",
                                                     "Access token not found"};
static const gh_err_info E_PROVIDER_NOT_CONFIGURED = {
    400, "PROVIDER_NOT_CONFIGURED", "Account is not associated with a configured social provider."};
static const gh_err_info ERRORS[] = {
    {404, "PROVIDER_NOT_FOUND", "Provider not found"},
    {404, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported"},
    {401, "FAILED_TO_GET_USER_INFO", "Failed to get user info"},
    {401, "USER_EMAIL_NOT_FOUND", "User email not found"},
    {409, "SOCIAL_ACCOUNT_ALREADY_LINKED", "Social account already linked"},
    {401, "LINKING_NOT_ALLOWED", "Account not linked - linking not allowed"},
    {401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED",
     "Account not linked - different emails not allowed"},
    {417, "LINKING_FAILED", "Account not linked - unable to create account"},
    {400, "FAILED_TO_GET_ACCESS_TOKEN", "Failed to get a valid access token"},
    {400, "REFRESH_TOKEN_NOT_FOUND", "Refresh token not found"},
    {400, "FAILED_TO_REFRESH_ACCESS_TOKEN", "Failed to refresh access token"},
    {400, "ACCESS_TOKEN_NOT_FOUND", "Access token not found"},
    {400, "PROVIDER_NOT_CONFIGURED",
     "Account is not associated with a configured social provider."},
    {401, "OAUTH_LINK_ERROR", "account not linked"},
    {400, "PROVIDER_NOT_SUPPORTED", "Provider is not supported."},
};

/* --- small helpers ------------------------------------------------------------------------ */

/* better-auth generateRandomString(n, "a-z", "0-9", "A-Z", "-_"). */
static char *rand_str(gh_arena *a, size_t n) {
  static const char AL[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
  unsigned char *b = gh_arena_alloc(a, n);
  gh_rand_bytes(b, n);
  char *s = gh_arena_alloc(a, n + 1);
  for (size_t i = 0; i < n; i++) s[i] = AL[b[i] & 63];
  return s;
}

static gh_oauth_provider *find_provider(oauth *o, const char *id) {
  for (size_t i = 0; id && i < o->np; i++)
    if (strcmp(gh_oauth_provider_id(o->prov[i]), id) == 0) return o->prov[i];
  return NULL;
}

static bool trusted_provider(oauth *o, const char *id) {
  const char *p = o->c->trusted;
  size_t n = strlen(id);
  while (p && *p) {
    while (*p == ' ' || *p == ',') p++;
    size_t len = strcspn(p, ",");
    size_t l = len;
    while (l && p[l - 1] == ' ') l--;
    if (l == n && strncmp(p, id, n) == 0) return true;
    p += len;
  }
  return false;
}

static void redirect(gh_resp *resp, const char *url) {
  gh_resp_empty(resp, 302, true);
  gh_resp_header(resp, "Location", url);
}

/* URLSearchParams encoding of one value. */
static char *qenc(gh_arena *a, const char *s) {
  size_t n = strlen(s);
  char *o = gh_arena_alloc(a, n * 3 + 1), *q = o;
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
        *c == '*' || *c == '-' || *c == '.' || *c == '_')
      *q++ = (char)*c;
    else if (*c == ' ')
      *q++ = '+';
    else {
      *q++ = '%';
      *q++ = hex[*c >> 4];
      *q++ = hex[*c & 15];
    }
  }
  *q = 0;
  return o;
}

/* better-auth's ctx.context.baseURL: origin + basePath ("http://host/api/auth"). */
static char *api_base(oauth *o, gh_arena *a) {
  return gh_arena_printf(a, "%s/api/auth", gh_auth_base_url(o->au));
}

static char *default_error_url(oauth *o, gh_arena *a) {
  return o->c->error_url ? gh_arena_strdup(a, o->c->error_url)
                         : gh_arena_printf(a, "%s/error", api_base(o, a));
}

/* better-auth redirectOnError: base + ?error=code[&error_description=...]. */
static void redirect_error(gh_resp *resp, const char *base, const char *code, const char *desc) {
  gh_arena *a = resp->arena;
  char *url =
      gh_arena_printf(a, "%s%serror=%s", base, strchr(base, '?') ? "&" : "?", qenc(a, code));
  if (desc && *desc) url = gh_arena_printf(a, "%s&error_description=%s", url, qenc(a, desc));
  redirect(resp, url);
}

static char *enc_token(oauth *o, gh_arena *a, const char *tok) {
  if (!tok || !o->c->encrypt_tokens) return (char *)tok;
  return gh_aead_encrypt(a, gh_auth_secrets(o->au), tok, strlen(tok));
}

/* better-auth decryptOAuthToken: only what looks encrypted is decrypted. */
static char *dec_token(oauth *o, gh_arena *a, const char *tok) {
  if (!tok || !o->c->encrypt_tokens) return (char *)tok;
  size_t n = strlen(tok);
  bool hex = n % 2 == 0 && n > 0;
  for (size_t i = 0; i < n && hex; i++) hex = gh_hex_digit(tok[i]) >= 0;
  if (strncmp(tok, "$ba$", 4) != 0 && !hex) return (char *)tok;
  uint8_t *pt;
  size_t len;
  if (gh_aead_decrypt(a, gh_auth_secrets(o->au), tok, &pt, &len) != GH_OK) return NULL;
  return (char *)pt;
}

/* better-auth derivePurposeKey: hex(HKDF-SHA256(secret, "better-auth:oauth-encryption:v1",
 * "better-auth:<purpose>:v1", 32)), used as the secret string. */
static char *purpose_secret(gh_arena *a, const char *secret, const char *purpose) {
  if (!secret) return NULL;
  uint8_t out[32];
  char *info = gh_arena_printf(a, "better-auth:%s:v1", purpose);
  static const char salt[] = "better-auth:oauth-encryption:v1";
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
  size_t olen = sizeof out;
  bool ok =
      ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx, (const unsigned char *)salt, sizeof salt - 1) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_key(ctx, (const unsigned char *)secret, (int)strlen(secret)) > 0 &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) > 0 &&
      EVP_PKEY_derive(ctx, out, &olen) > 0;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return NULL;
  char *hex = gh_arena_alloc(a, 65);
  gh_hex_encode(out, 32, hex);
  return hex;
}

static gh_secrets purpose_secrets(oauth *o, gh_arena *a, const char *purpose) {
  const gh_secrets *s = gh_auth_secrets(o->au);
  gh_secrets r = {.legacy = purpose_secret(a, s->legacy, purpose)};
  if (s->nversions) {
    gh_secret_version *v = gh_arena_alloc(a, s->nversions * sizeof *v);
    for (size_t i = 0; i < s->nversions; i++) {
      v[i].version = s->versions[i].version;
      v[i].value = purpose_secret(a, s->versions[i].value, purpose);
    }
    r.versions = v;
    r.nversions = s->nversions;
  }
  return r;
}

static gh_json *date_json(int64_t ms) {
  char b[GH_ISO_LEN];
  gh_iso8601(ms, b);
  return gh_json_str(b);
}

/* A string member of a nested object, with zod's message path ("body.idToken.token"). */
static const char *v_sub_string(gh_vctx *v, const gh_json *o, const char *path, const char *field,
                                bool required) {
  gh_json *j = gh_json_get(o, field);
  gh_json_type t = gh_json_typeof(j);
  if (t == GH_JSON_STRING && strlen(gh_json_string(j)) == gh_json_string_len(j))
    return gh_json_string(j);
  if (t == GH_JSON_UNDEFINED && !required) return NULL;
  gh_v_issue(v, gh_arena_printf(v->a, "body.%s.%s", path, field),
             gh_arena_printf(v->a, "Invalid input: expected string, received %s",
                             gh_json_type_name(t == GH_JSON_STRING ? GH_JSON_NULL : t)));
  return NULL;
}

/* --- the body of sign-in/social and link-social ------------------------------------------ */

typedef struct {
  const char *provider, *callback, *new_user_callback, *error_callback, *login_hint;
  bool disable_redirect, request_sign_up, has_request_sign_up;
  const gh_json *scopes, *additional;
  bool has_id_token;
  const char *id_token, *id_nonce, *id_access, *id_refresh;
  const gh_json *id_user;
} social_body;

static bool parse_body(gh_req *req, gh_resp *resp, social_body *sb) {
  gh_vctx v = {.a = req->arena};
  const gh_json *b = req->json;
  memset(sb, 0, sizeof *sb);
  if (!gh_v_object(&v, b, "object")) return !gh_v_fail(&v, resp);
  sb->callback = gh_v_string(&v, b, "callbackURL", false, false, NULL);
  sb->new_user_callback = gh_v_string(&v, b, "newUserCallbackURL", false, false, NULL);
  sb->error_callback = gh_v_string(&v, b, "errorCallbackURL", false, false, NULL);
  sb->provider = gh_v_string(&v, b, "provider", true, false, NULL);
  sb->disable_redirect = gh_v_bool(&v, b, "disableRedirect", false);
  gh_json *it = gh_json_get(b, "idToken");
  if (gh_json_typeof(it) != GH_JSON_UNDEFINED) {
    if (gh_json_typeof(it) != GH_JSON_OBJECT) {
      gh_v_issue(&v, "body.idToken",
                 gh_arena_printf(v.a, "Invalid input: expected object, received %s",
                                 gh_json_type_name(gh_json_typeof(it))));
    } else {
      sb->has_id_token = true;
      sb->id_token = v_sub_string(&v, it, "idToken", "token", true);
      sb->id_nonce = v_sub_string(&v, it, "idToken", "nonce", false);
      sb->id_access = v_sub_string(&v, it, "idToken", "accessToken", false);
      sb->id_refresh = v_sub_string(&v, it, "idToken", "refreshToken", false);
      sb->id_user = gh_json_get(it, "user");
    }
  }
  gh_json *sc = gh_json_get(b, "scopes");
  if (gh_json_typeof(sc) != GH_JSON_UNDEFINED) {
    if (gh_json_typeof(sc) != GH_JSON_ARRAY)
      gh_v_issue(&v, "body.scopes",
                 gh_arena_printf(v.a, "Invalid input: expected array, received %s",
                                 gh_json_type_name(gh_json_typeof(sc))));
    for (size_t i = 0; i < gh_json_array_size(sc); i++)
      if (gh_json_typeof(gh_json_array_get(sc, i)) != GH_JSON_STRING)
        gh_v_issue(&v, gh_arena_printf(v.a, "body.scopes.%zu", i),
                   gh_arena_printf(v.a, "Invalid input: expected string, received %s",
                                   gh_json_type_name(gh_json_typeof(gh_json_array_get(sc, i)))));
    sb->scopes = sc;
  }
  gh_json *rs = gh_json_get(b, "requestSignUp");
  sb->has_request_sign_up = gh_json_typeof(rs) != GH_JSON_UNDEFINED;
  sb->request_sign_up = gh_v_bool(&v, b, "requestSignUp", false);
  sb->login_hint = gh_v_string(&v, b, "loginHint", false, false, NULL);
  gh_json *ad = gh_json_get(b, "additionalData");
  if (gh_json_typeof(ad) != GH_JSON_UNDEFINED && gh_json_typeof(ad) != GH_JSON_OBJECT)
    gh_v_issue(&v, "body.additionalData",
               gh_arena_printf(v.a, "Invalid input: expected record, received %s",
                               gh_json_type_name(gh_json_typeof(ad))));
  else if (gh_json_typeof(ad) == GH_JSON_OBJECT)
    sb->additional = ad;
  return !gh_v_fail(&v, resp);
}

/* --- state (spec §6.4) ------------------------------------------------------------------- */

typedef struct {
  const char *user_id, *email, *session_token;
} link_info;

static const char *const STATE_KEYS[] = {
    "callbackURL",   "codeVerifier", "errorURL",      "newUserURL",   "link",
    "serverContext", "expiresAt",    "requestSignUp", "idTokenNonce", "oauthState"};

/* Creates the state: the verification row and the signed state cookie. NULL after answering a
 * database error. */
static char *make_state(oauth *o, gh_store *st, gh_req *req, gh_resp *resp, const social_body *sb,
                        const char *verifier, const char *nonce, const link_info *link) {
  gh_arena *a = req->arena;
  char *state = rand_str(a, 32);
  int64_t now = gh_now_ms();
  gh_json *j = gh_json_object();
  if (sb->additional) {
    for (void *it = gh_json_iter((gh_json *)sb->additional); it;
         it = gh_json_iter_next((gh_json *)sb->additional, it)) {
      const char *k = gh_json_iter_key(it);
      bool internal = false;
      for (size_t i = 0; i < sizeof STATE_KEYS / sizeof *STATE_KEYS; i++)
        internal = internal || strcmp(k, STATE_KEYS[i]) == 0;
      if (!internal) gh_json_set_new(j, k, gh_json_incref(gh_json_iter_value(it)));
    }
  }
  gh_json_set_new(
      j, "callbackURL",
      gh_json_str(sb->callback && *sb->callback ? sb->callback : gh_auth_base_origin(o->au)));
  gh_json_set_new(j, "codeVerifier", gh_json_str(verifier));
  if (sb->error_callback) gh_json_set_new(j, "errorURL", gh_json_str(sb->error_callback));
  if (sb->new_user_callback) gh_json_set_new(j, "newUserURL", gh_json_str(sb->new_user_callback));
  if (link) {
    gh_json *l = gh_json_object();
    gh_json_set_new(l, "userId", gh_json_str(link->user_id));
    gh_json_set_new(l, "email", gh_json_str(link->email));
    gh_secrets ps = purpose_secrets(o, a, "oauth-link-session-token");
    char *enc = gh_aead_encrypt(a, &ps, link->session_token, strlen(link->session_token));
    if (enc) gh_json_set_new(l, "encryptedSessionToken", gh_json_str(enc));
    gh_json_set_new(j, "link", l);
  }
  gh_json_set_new(j, "expiresAt", gh_json_int(now + STATE_TTL_MS));
  if (sb->has_request_sign_up)
    gh_json_set_new(j, "requestSignUp", gh_json_bool(sb->request_sign_up));
  if (nonce) gh_json_set_new(j, "idTokenNonce", gh_json_str(nonce));
  gh_json_set_new(j, "oauthState", gh_json_str(state));
  gh_json_own(a, j);
  char *value = gh_json_dump(a, j, NULL);
  char *ident = gh_arena_printf(a, "auth-state:%s", state);
  gh_status rc = gh_store_verification_put(st, ident, value, now + STATE_TTL_MS, now);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "create_state");
    return NULL;
  }
  gh_set_signed_cookie(o->au, resp, gh_auth_cookie_name(o->au, a, "state"), state,
                       STATE_COOKIE_MAX_AGE);
  return state;
}

/* The redirect flow of sign-in/social and link-social: the state, then {url, redirect}. */
static void start_redirect(oauth *o, gh_oauth_provider *p, gh_store *st, gh_req *req, gh_resp *resp,
                           const social_body *sb, const link_info *link) {
  gh_arena *a = req->arena;
  if (gh_oauth_ready(p, &o->fo, a) != GH_OK) { /* discovery failed: as better-auth, no provider */
    gh_auth_error(resp, &E_PROVIDER_NOT_FOUND);
    return;
  }
  const gh_oauth_provider_config *pc = gh_oauth_provider_conf(p);
  char *verifier = rand_str(a, 128);
  char *nonce = pc->requires_nonce ? rand_str(a, 32) : NULL;
  char *state = make_state(o, st, req, resp, sb, verifier, nonce, link);
  if (!state) return;
  char *redirect_uri = gh_arena_printf(a, "%s/callback/%s", api_base(o, a), pc->id);
  char *url = gh_oauth_authorize_url(a, p, state, pc->pkce ? verifier : NULL, nonce, redirect_uri,
                                     sb->scopes, sb->login_hint);
  if (!url) {
    gh_auth_error(resp, &E_PROVIDER_NOT_FOUND);
    return;
  }
  gh_json *out = gh_json_object();
  gh_json_set_new(out, "url", gh_json_str(url));
  gh_json_set_new(out, "redirect", gh_json_bool(!sb->disable_redirect));
  if (!sb->disable_redirect) gh_resp_header(resp, "Location", url);
  gh_resp_json(resp, 200, out);
}

/* --- users and accounts (better-auth handleOAuthUserInfo) ------------------------------- */

static void account_from(oauth *o, gh_arena *a, gh_account *acc, const char *provider_id,
                         const char *user_id, const gh_oauth_user *ou, const gh_oauth_tokens *t,
                         int64_t now) {
  memset(acc, 0, sizeof *acc);
  acc->id = gh_arena_alloc(a, 33);
  gh_rand_id(acc->id, 32);
  acc->account_id = ou->sub;
  acc->provider_id = (char *)provider_id;
  acc->user_id = (char *)user_id;
  acc->access_token = enc_token(o, a, t->access_token);
  acc->refresh_token = enc_token(o, a, t->refresh_token);
  acc->id_token = t->id_token;
  acc->has_access_expiry = t->has_access_expiry;
  acc->access_token_expires_at = t->access_expires_at;
  acc->has_refresh_expiry = t->has_refresh_expiry;
  acc->refresh_token_expires_at = t->refresh_expires_at;
  acc->scope = t->scopes;
  acc->created_at = acc->updated_at = now;
}

/* The fresh tokens of a sign-in onto the linked account (undefined ones kept; scope too). */
static gh_status update_tokens(oauth *o, gh_store *st, gh_arena *a, const char *id,
                               const gh_oauth_tokens *t, int64_t now, const char *merged_scope) {
  gh_account x = {0};
  x.access_token = enc_token(o, a, t->access_token);
  x.refresh_token = enc_token(o, a, t->refresh_token);
  x.id_token = t->id_token;
  x.has_access_expiry = t->has_access_expiry;
  x.access_token_expires_at = t->access_expires_at;
  x.has_refresh_expiry = t->has_refresh_expiry;
  x.refresh_token_expires_at = t->refresh_expires_at;
  x.scope = (char *)merged_scope;
  x.updated_at = now;
  gh_account_keep k = {.access_token = !t->access_token,
                       .refresh_token = !t->refresh_token,
                       .id_token = !t->id_token,
                       .scope = merged_scope == NULL || !*merged_scope,
                       .access_expiry = !t->has_access_expiry,
                       .refresh_expiry = !t->has_refresh_expiry};
  return gh_store_update_account_tokens(st, id, &x, &k);
}

typedef struct {
  const char *error; /* better-auth's result.error ("account not linked"), NULL on success */
  bool answered;     /* resp already set (database error, or the sign-in gate answered) */
  bool is_register;
  gh_user user;
  gh_session session;
} signin_result;

/* redirect_to: the callback flow's callbackURL (a gate's challenge then answers a redirect), NULL
 * for the JSON idToken flow. */
static void sign_in_user(oauth *o, gh_store *st, gh_req *req, gh_resp *resp,
                         const char *provider_id, const gh_oauth_user *ou, const gh_oauth_tokens *t,
                         bool disable_signup, const char *redirect_to, signin_result *r) {
  gh_arena *a = req->arena;
  memset(r, 0, sizeof *r);
  int64_t now = gh_now_ms();
  char *email = gh_ascii_lower(a, ou->email);
  gh_account linked;
  gh_status rc = gh_store_account_by_key(st, a, provider_id, ou->sub, &linked);
  bool have_link = rc == GH_OK;
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) goto db;
  if (have_link) {
    rc = gh_store_user_by_id(st, a, linked.user_id, &r->user);
    if (rc == GH_ERR_NOT_FOUND) {
      gh_log(GH_LOG_ERROR, "oauth.orphaned_account", "provider", provider_id, "account_id",
             linked.id, NULL);
      r->error = "unable to link account";
      return;
    }
    if (rc != GH_OK) goto db;
    rc = update_tokens(o, st, a, linked.id, t, now, NULL);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) goto db;
  } else {
    rc = gh_store_user_by_email(st, a, email, &r->user);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) goto db;
    if (rc == GH_OK) { /* implicit linking, only when both sides vouch for the e-mail */
      bool trusted = trusted_provider(o, provider_id);
      if ((!trusted && !ou->email_verified) ||
          (o->c->require_local_verified && !r->user.email_verified) || !o->c->linking) {
        r->error = "account not linked";
        return;
      }
      gh_account acc;
      account_from(o, a, &acc, provider_id, r->user.id, ou, t, now);
      rc = gh_store_insert_account(st, &acc);
      if (rc != GH_OK) {
        if (gh_store_unavailable(rc)) goto db;
        r->error = "unable to link account";
        return;
      }
      gh_audit(o->au, req, "account.linked", r->user.id, "provider", provider_id, "how",
               "implicit");
    } else {
      if (disable_signup) {
        r->error = "signup disabled";
        return;
      }
      gh_user_init(a, &r->user, ou->name ? ou->name : "", email, ou->image, now);
      r->user.email_verified = ou->email_verified;
      gh_account acc;
      account_from(o, a, &acc, provider_id, r->user.id, ou, t, now);
      rc = gh_store_create_user_with_account(st, &r->user, &acc);
      if (rc != GH_OK) {
        if (gh_store_unavailable(rc)) goto db;
        r->error = "unable to create user";
        return;
      }
      r->is_register = true;
      gh_audit(o->au, req, "sign_up", r->user.id, "provider", provider_id, NULL, NULL);
      gh_auth_user_created(o->au, st, &r->user);
    }
  }
  if (!r->is_register && ou->email_verified && !r->user.email_verified &&
      strcmp(email, r->user.email) == 0) {
    rc = gh_store_set_email_verified(st, r->user.id, now);
    if (rc != GH_OK) goto db;
    r->user.email_verified = true;
    r->user.updated_at = now;
  }
  gh_sign_in si = {.user = &r->user,
                   .method = provider_id,
                   .callback = redirect_to,
                   .redirect_flow = redirect_to != NULL};
  if (!gh_auth_sign_in_gate(o->au, st, req, resp, &si)) {
    gh_audit(o->au, req, "sign_in.gated", r->user.id, "provider", provider_id, "status",
             gh_arena_printf(a, "%d", resp->status));
    r->answered = true;
    return;
  }
  rc = gh_session_create(o->au, st, req, resp, &r->user, false, &r->session);
  if (rc != GH_OK) {
    if (gh_store_unavailable(rc)) goto db;
    r->error = "unable to create session";
    return;
  }
  gh_audit(o->au, req, "sign_in.success", r->user.id, "provider", provider_id, "session_id",
           r->session.id);
  return;
db:
  gh_auth_db_error(resp, rc, "oauth_sign_in");
  r->answered = true;
}

/* --- POST /sign-in/social ---------------------------------------------------------------- */

/* The user of an idToken flow: the ID token verified (nonce when given), its claims, else
 * (no e-mail in it) the provider's userinfo with the given access token. Answers the error. */
static bool id_token_user(oauth *o, gh_oauth_provider *p, gh_req *req, gh_resp *resp,
                          const social_body *sb, gh_oauth_user *ou) {
  gh_arena *a = req->arena;
  if (!gh_oauth_provider_conf(p)->id_token_sign_in) {
    gh_auth_error(resp, &E_ID_TOKEN_NOT_SUPPORTED);
    return false;
  }
  gh_json *claims;
  if (gh_oauth_ready(p, &o->fo, a) != GH_OK ||
      gh_oauth_verify_id_token(a, p, &o->fo, sb->id_token, sb->id_nonce, &claims) != GH_OK) {
    gh_audit(o->au, req, "sign_in.failure", NULL, "reason", "INVALID_TOKEN", "provider",
             gh_oauth_provider_id(p));
    gh_auth_error(resp, &E_INVALID_TOKEN);
    return false;
  }
  /* genericOAuth's getUserInfoFromIdToken reads the ID token alone (an access token given with
   * it is not taken to userinfo): a generic provider's ID token must carry sub and e-mail */
  gh_oauth_tokens t = {.id_token = (char *)sb->id_token,
                       .access_token =
                           gh_oauth_provider_conf(p)->generic ? NULL : (char *)sb->id_access};
  const char *apple_user = sb->id_user ? gh_json_dump(a, sb->id_user, NULL) : NULL;
  /* the token verified above: verify again is cheap (cached keys) and keeps one code path */
  if (gh_oauth_user_info(a, p, &o->fo, &t, sb->id_nonce, apple_user, ou) != GH_OK) {
    gh_auth_error(resp, &E_FAILED_TO_GET_USER_INFO);
    return false;
  }
  if (!ou->email || !*ou->email) {
    gh_auth_error(resp, &E_USER_EMAIL_NOT_FOUND);
    return false;
  }
  return true;
}

static void route_sign_in_social_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_arena *a = req->arena;
  if (!gh_origin_check(o->au, req, resp, false)) return;
  social_body sb;
  if (!parse_body(req, resp, &sb)) return;
  gh_oauth_provider *p = find_provider(o, sb.provider);
  if (!p) {
    gh_auth_error(resp, &E_PROVIDER_NOT_FOUND);
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  if (!sb.has_id_token) {
    start_redirect(o, p, st, req, resp, &sb, NULL);
    return;
  }
  gh_oauth_user ou;
  if (!id_token_user(o, p, req, resp, &sb, &ou)) return;
  gh_oauth_tokens t = {.id_token = (char *)sb.id_token,
                       .access_token = (char *)sb.id_access,
                       .refresh_token = (char *)sb.id_refresh};
  t.scopes = NULL;
  signin_result r;
  sign_in_user(o, st, req, resp, gh_oauth_provider_id(p), &ou, &t,
               o->c->disable_signup && !sb.request_sign_up, NULL, &r);
  if (r.answered) return;
  if (r.error) {
    gh_err_info e = {401, "OAUTH_LINK_ERROR", r.error};
    gh_audit(o->au, req, "sign_in.failure", r.user.id, "reason", r.error, "provider",
             gh_oauth_provider_id(p));
    gh_auth_error(resp, &e);
    return;
  }
  gh_json *out = gh_json_object();
  gh_json_set_new(out, "redirect", gh_json_bool(false));
  gh_json_set_new(out, "token", gh_json_str(r.session.token));
  gh_json_set_new(out, "user", gh_user_json(&r.user));
  gh_resp_json(resp, 200, out);
  (void)a;
}

/* --- GET|POST /callback/:id --------------------------------------------------------------- */

static const char *const CB_KEYS[] = {"code",  "error", "device_id", "error_description",
                                      "state", "user",  "iss"};

static const char *cb_param(gh_req *req, const char *k) {
  const char *v = gh_req_query(req, k);
  if (!v && req->json) v = gh_json_string(gh_json_get(req->json, k));
  return v;
}

static const char *provider_of_path(gh_req *req) {
  const char *id = req->path + strlen(P "/callback/");
  if (!*id || strchr(id, '/')) return NULL;
  return id;
}

/* form_post (Apple, response_mode=form_post): the parameters move to a GET of the same URL, so
 * that the SameSite=Lax state cookie comes with it. */
static void route_callback_post(void *self, gh_req *req, gh_resp *resp) {
  oauth *o = self;
  gh_arena *a = req->arena;
  const char *id = provider_of_path(req);
  if (!id) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  char *q = NULL;
  for (size_t i = 0; i < sizeof CB_KEYS / sizeof *CB_KEYS; i++) {
    const char *v = cb_param(req, CB_KEYS[i]);
    if (!v) continue;
    q = gh_arena_printf(a, "%s%s%s=%s", q ? q : "", q ? "&" : "", CB_KEYS[i], qenc(a, v));
  }
  redirect(resp, gh_arena_printf(a, "%s/callback/%s?%s", api_base(o, a), qenc(a, id), q ? q : ""));
}

typedef struct {
  char *callback, *verifier, *error_url, *new_user_url, *nonce;
  bool request_sign_up;
  bool has_link;
  char *link_user, *link_email, *link_token_enc;
} parsed_state;

static void fail_audit(oauth *o, gh_req *req, const char *provider, const char *code) {
  gh_audit(o->au, req, "sign_in.failure", NULL, "reason", code, "provider", provider);
}

/* Takes the state (row deleted) and checks it against the cookie. false: the error redirect is
 * set. */
static bool take_state(oauth *o, gh_store *st, gh_req *req, gh_resp *resp, const char *provider,
                       const char *state, const char *dflt_err, parsed_state *ps) {
  gh_arena *a = req->arena;
  memset(ps, 0, sizeof *ps);
  char *value;
  int64_t row_exp;
  gh_status rc = gh_store_verification_take(st, a, gh_arena_printf(a, "auth-state:%s", state),
                                            &value, &row_exp);
  if (rc == GH_ERR_NOT_FOUND) {
    fail_audit(o, req, provider, "state_mismatch");
    redirect_error(resp, dflt_err, "state_mismatch", NULL);
    return false;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "take_state");
    return false;
  }
  gh_expire_cookie(o->au, resp, gh_auth_cookie_name(o->au, a, "state"));
  gh_json *j;
  if (gh_json_parse(value, strlen(value), &j) != GH_OK || gh_json_typeof(j) != GH_JSON_OBJECT) {
    redirect_error(resp, dflt_err, "internal_server_error", NULL);
    return false;
  }
  gh_json_own(a, j);
  ps->callback = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "callbackURL")));
  ps->verifier = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "codeVerifier")));
  ps->error_url = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "errorURL")));
  ps->new_user_url = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "newUserURL")));
  ps->nonce = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "idTokenNonce")));
  ps->request_sign_up = gh_json_is_true(gh_json_get(j, "requestSignUp"));
  gh_json *exp = gh_json_get(j, "expiresAt");
  gh_json *link = gh_json_get(j, "link");
  if (gh_json_typeof(link) == GH_JSON_OBJECT) {
    ps->has_link = true;
    ps->link_user = gh_arena_strdup(a, gh_json_string(gh_json_get(link, "userId")));
    ps->link_email = gh_arena_strdup(a, gh_json_string(gh_json_get(link, "email")));
    ps->link_token_enc =
        gh_arena_strdup(a, gh_json_string(gh_json_get(link, "encryptedSessionToken")));
  }
  if (!ps->callback || !ps->verifier || gh_json_typeof(exp) != GH_JSON_INTEGER ||
      (ps->has_link && (!ps->link_user || !ps->link_email))) {
    redirect_error(resp, dflt_err, "internal_server_error", NULL);
    return false;
  }
  const char *err_url = ps->error_url ? ps->error_url : dflt_err;
  const char *os = gh_json_string(gh_json_get(j, "oauthState"));
  const char *cookie = gh_signed_cookie(o->au, req, gh_auth_cookie_name(o->au, a, "state"));
  size_t n = strlen(state);
  if ((os && strcmp(os, state) != 0) || !cookie || strlen(cookie) != n ||
      !gh_ct_equal(cookie, state, n)) {
    fail_audit(o, req, provider, "state_mismatch");
    redirect_error(resp, err_url, "state_mismatch", NULL);
    return false;
  }
  if (gh_json_integer(exp) < gh_now_ms()) {
    fail_audit(o, req, provider, "state_mismatch");
    redirect_error(resp, err_url, "state_mismatch", NULL);
    return false;
  }
  if (!ps->error_url) ps->error_url = (char *)dflt_err;
  return true;
}

/* better-auth mergeScopes: stored ∪ incoming, in order, comma-joined. */
static char *merge_scopes(gh_arena *a, const char *stored, const char *incoming) {
  char *r = gh_arena_strdup(a, "");
  const char *lists[] = {stored, incoming};
  for (size_t l = 0; l < 2; l++) {
    const char *p = lists[l];
    while (p && *p) {
      size_t len = strcspn(p, ",");
      const char *s = p;
      size_t n = len;
      while (n && *s == ' ') s++, n--;
      while (n && s[n - 1] == ' ') n--;
      if (n) {
        char *w = gh_arena_strndup(a, s, n);
        bool dup = false;
        for (const char *q = r; *q && !dup;) {
          size_t ql = strcspn(q, ",");
          dup = ql == n && strncmp(q, w, n) == 0;
          q += ql;
          if (*q) q++;
        }
        if (!dup) r = gh_arena_printf(a, "%s%s%s", r, *r ? "," : "", w);
      }
      p += len;
      if (*p) p++;
    }
  }
  return r;
}

/* better-auth linkOAuthAccount (the link-social redirect coming back). Returns the error code or
 * NULL; *answered when resp is set (database error). */
static const char *link_account(oauth *o, gh_store *st, gh_req *req, const char *provider_id,
                                const parsed_state *ps, const gh_oauth_user *ou,
                                const gh_oauth_tokens *t, gh_resp *resp, bool *answered) {
  gh_arena *a = req->arena;
  *answered = false;
  int64_t now = gh_now_ms();
  gh_status rc = GH_OK;
  if (ps->link_token_enc) { /* the session that started the link must still be alive */
    gh_secrets sec = purpose_secrets(o, a, "oauth-link-session-token");
    uint8_t *tok;
    size_t n;
    if (gh_aead_decrypt(a, &sec, ps->link_token_enc, &tok, &n) != GH_OK)
      return "unable_to_link_account";
    gh_session s;
    gh_user u;
    rc = gh_store_session_by_token(st, a, (const char *)tok, &s, &u);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) goto db;
    if (rc != GH_OK || strcmp(s.user_id, ps->link_user) != 0 || s.expires_at <= now)
      return "unable_to_link_account";
  }
  if ((!trusted_provider(o, provider_id) && !ou->email_verified) || !o->c->linking)
    return "unable_to_link_account";
  if ((!ou->email || strcasecmp(ou->email, ps->link_email) != 0) && !o->c->allow_different_emails)
    return "email_does_not_match";
  gh_account ex;
  rc = gh_store_account_by_key(st, a, provider_id, ou->sub, &ex);
  if (rc == GH_OK) {
    if (strcmp(ex.user_id, ps->link_user) != 0) return "account_already_linked_to_different_user";
    rc = update_tokens(o, st, a, ex.id, t, now, merge_scopes(a, ex.scope, t->scopes));
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) goto db;
  } else if (rc == GH_ERR_NOT_FOUND) {
    gh_account acc;
    account_from(o, a, &acc, provider_id, ps->link_user, ou, t, now);
    rc = gh_store_insert_account(st, &acc);
    if (rc != GH_OK) {
      if (gh_store_unavailable(rc)) goto db;
      return "unable_to_link_account";
    }
  } else {
    goto db;
  }
  if (o->c->update_user_info_on_link) {
    rc = gh_store_update_user(st, ps->link_user, ou->name, ou->image != NULL, ou->image, now);
    (void)rc; /* a failed profile sync does not abort the link (better-auth) */
  }
  gh_audit(o->au, req, "account.linked", ps->link_user, "provider", provider_id, "how", "link");
  return NULL;
db:
  gh_auth_db_error(resp, rc, "oauth_link");
  *answered = true;
  return NULL;
}

/* The error the sign-in gate answered, as the callback's redirect (better-auth forwards an
 * APIError's code and message verbatim). */
static void gate_to_redirect(gh_resp *resp, const char *err_url) {
  if (resp->status < 400 || !resp->body) return; /* a challenge answer stays as it is */
  gh_json *j;
  if (gh_json_parse(resp->body, resp->body_len, &j) != GH_OK) return;
  gh_json_own(resp->arena, j);
  const char *code = gh_json_string(gh_json_get(j, "code"));
  const char *msg = gh_json_string(gh_json_get(j, "message"));
  resp->nheaders = 0; /* no cookie of the refused sign-in */
  redirect_error(resp, err_url, code ? code : "unable_to_create_session", msg);
}

static void route_callback_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_arena *a = req->arena;
  const char *id = provider_of_path(req);
  if (!id) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  char *dflt_err = default_error_url(o, a);
  const char *state = gh_req_query(req, "state");
  const char *code = gh_req_query(req, "code");
  const char *error = gh_req_query(req, "error");
  if (!state || !*state) {
    fail_audit(o, req, id, "state_not_found");
    redirect_error(resp, dflt_err, "state_not_found", NULL);
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  parsed_state ps;
  if (!take_state(o, st, req, resp, id, state, dflt_err, &ps)) return;
  if (error && *error) {
    fail_audit(o, req, id, error);
    redirect_error(resp, ps.error_url, error, gh_req_query(req, "error_description"));
    return;
  }
  const char *fail = NULL;
  gh_oauth_provider *p = find_provider(o, id);
  gh_oauth_tokens t;
  gh_oauth_user ou;
  if (!code || !*code) {
    fail = "no_code";
  } else if (!p) {
    fail = "oauth_provider_not_found";
  } else if (gh_oauth_ready(p, &o->fo, a) != GH_OK) {
    fail = "invalid_code"; /* the provider cannot be reached */
  } else {
    const gh_oauth_provider_config *pc = gh_oauth_provider_conf(p);
    const char *iss = gh_req_query(req, "iss");
    const char *want = gh_oauth_provider_issuer(p, a);
    char *redirect_uri = gh_arena_printf(a, "%s/callback/%s", api_base(o, a), pc->id);
    if (iss && want && strcmp(iss, want) != 0)
      fail = "issuer_mismatch";
    else if (pc->requires_nonce && !ps.nonce)
      fail = "nonce_binding_missing";
    else if (gh_oauth_exchange_code(a, p, &o->fo, code, ps.verifier, redirect_uri, &t) != GH_OK)
      fail = "invalid_code";
    else if (gh_oauth_user_info(a, p, &o->fo, &t, ps.nonce, gh_req_query(req, "user"), &ou) !=
             GH_OK)
      fail = "unable_to_get_user_info";
    else if (!ps.callback || !*ps.callback)
      fail = "no_callback_url";
  }
  if (fail) {
    fail_audit(o, req, id, fail);
    redirect_error(resp, ps.error_url, fail, NULL);
    return;
  }
  if (ps.has_link) {
    bool answered;
    const char *lerr = link_account(o, st, req, id, &ps, &ou, &t, resp, &answered);
    if (answered) return;
    if (lerr) {
      gh_audit(o->au, req, "account.link_failed", ps.link_user, "reason", lerr, "provider", id);
      redirect_error(resp, ps.error_url, lerr, NULL);
      return;
    }
    redirect(resp, ps.callback);
    return;
  }
  if (!ou.email || !*ou.email) {
    fail_audit(o, req, id, "email_not_found");
    redirect_error(resp, ps.error_url, "email_not_found", NULL);
    return;
  }
  signin_result r;
  sign_in_user(o, st, req, resp, id, &ou, &t, o->c->disable_signup && !ps.request_sign_up,
               ps.callback, &r);
  if (r.answered) {
    if (resp->status != 503 && resp->status != 500) gate_to_redirect(resp, ps.error_url);
    return;
  }
  if (r.error) {
    char *c = gh_arena_strdup(a, r.error);
    for (char *q = c; *q; q++)
      if (*q == ' ') *q = '_';
    fail_audit(o, req, id, c);
    redirect_error(resp, ps.error_url, c, NULL);
    return;
  }
  const char *to = r.is_register && ps.new_user_url ? ps.new_user_url : ps.callback;
  redirect(resp, to);
}

/* --- POST /link-social -------------------------------------------------------------------- */

static void route_link_social_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(o->au, req, resp, true, &st, &s)) return;
  social_body sb;
  if (!parse_body(req, resp, &sb)) return;
  gh_oauth_provider *p = find_provider(o, sb.provider);
  if (!p) {
    gh_auth_error(resp, &E_PROVIDER_NOT_FOUND);
    return;
  }
  if (!sb.has_id_token) {
    link_info li = {.user_id = s.u.id, .email = s.u.email, .session_token = s.s.token};
    start_redirect(o, p, st, req, resp, &sb, &li);
    return;
  }
  gh_oauth_user ou;
  if (!id_token_user(o, p, req, resp, &sb, &ou)) return;
  const char *pid = gh_oauth_provider_id(p);
  int64_t now = gh_now_ms();
  gh_oauth_tokens t = {.id_token = (char *)sb.id_token,
                       .access_token = (char *)sb.id_access,
                       .refresh_token = (char *)sb.id_refresh};
  gh_account ex;
  gh_status rc = gh_store_account_by_key(st, a, pid, ou.sub, &ex);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "account_by_key");
    return;
  }
  if (rc == GH_OK && strcmp(ex.user_id, s.u.id) == 0) {
    rc = update_tokens(o, st, a, ex.id, &t, now, NULL);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
      gh_auth_db_error(resp, rc, "update_account");
      return;
    }
  } else if (rc == GH_OK) {
    gh_auth_error(resp, &E_SOCIAL_ACCOUNT_ALREADY_LINKED);
    return;
  } else {
    if ((!trusted_provider(o, pid) && !ou.email_verified) || !o->c->linking) {
      gh_auth_error(resp, &E_LINKING_NOT_ALLOWED);
      return;
    }
    if (strcasecmp(ou.email, s.u.email) != 0 && !o->c->allow_different_emails) {
      gh_auth_error(resp, &E_LINKING_DIFFERENT_EMAILS);
      return;
    }
    gh_account acc;
    account_from(o, a, &acc, pid, s.u.id, &ou, &t, now);
    acc.scope = NULL;
    acc.has_access_expiry = acc.has_refresh_expiry = false;
    rc = gh_store_insert_account(st, &acc);
    if (rc != GH_OK) {
      if (gh_store_unavailable(rc)) {
        gh_auth_db_error(resp, rc, "insert_account");
        return;
      }
      gh_auth_error(resp, &E_LINKING_FAILED);
      return;
    }
    gh_audit(o->au, req, "account.linked", s.u.id, "provider", pid, "how", "id_token");
  }
  if (o->c->update_user_info_on_link) { /* better-auth applyUpdateUserInfoOnLink, both branches */
    rc = gh_store_update_user(st, s.u.id, ou.name, ou.image != NULL, ou.image, now);
    (void)rc; /* a failed profile sync does not abort the link */
  }
  gh_resp_raw_json(resp, 200, "{\"url\":\"\",\"status\":true,\"redirect\":false}");
}

/* --- provider tokens: get-access-token, refresh-token, account-info -------------------- */

/* The account selected by {accountId[, userId]} of the session's user (strict object). */
static bool select_account(oauth *o, gh_req *req, gh_resp *resp, const gh_json *sel, gh_store **st,
                           gh_sess *s, gh_account *out, bool query) {
  gh_arena *a = req->arena;
  if (!gh_protected(o->au, req, resp, !query, st, s)) return false;
  const char *account_id = NULL;
  bool ok = true;
  if (query) {
    account_id = gh_req_query(req, "accountId");
    ok = account_id != NULL;
  } else {
    ok = gh_json_typeof(sel) == GH_JSON_OBJECT;
    for (void *it = ok ? gh_json_iter((gh_json *)sel) : NULL; it && ok;
         it = gh_json_iter_next((gh_json *)sel, it)) {
      const char *k = gh_json_iter_key(it);
      gh_json *v = gh_json_iter_value(it);
      if (strcmp(k, "accountId") == 0 && gh_json_typeof(v) == GH_JSON_STRING)
        account_id = gh_json_string(v);
      else if (!(strcmp(k, "userId") == 0 && gh_json_typeof(v) == GH_JSON_STRING))
        ok = false;
    }
    ok = ok && account_id;
  }
  if (!ok) {
    gh_resp_error_msg(resp, 400, "VALIDATION_ERROR",
                      query ? "[query] Invalid input" : "[body] Invalid input");
    return false;
  }
  gh_account *list;
  size_t n;
  gh_status rc = gh_store_list_accounts(*st, a, s->u.id, &list, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_accounts");
    return false;
  }
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i].id, account_id) == 0) {
      *out = list[i];
      return true;
    }
  gh_resp_error(resp, GH_E_ACCOUNT_NOT_FOUND);
  return false;
}

static void not_supported(gh_resp *resp, const char *provider_id) {
  gh_err_info e = {400, "PROVIDER_NOT_SUPPORTED",
                   gh_arena_printf(resp->arena, "Provider %s is not supported.", provider_id)};
  gh_auth_error(resp, &e);
}

/* better-auth getValidAccessToken: refreshes when the access token expires within 5 s. Fills
 * *access (decrypted) and the expiry/idToken to answer. false: answered. */
static bool valid_access_token(oauth *o, gh_store *st, gh_req *req, gh_resp *resp,
                               gh_oauth_provider *p, gh_account *acc, char **access) {
  gh_arena *a = req->arena;
  int64_t now = gh_now_ms();
  if (acc->refresh_token && acc->has_access_expiry && acc->access_token_expires_at - now < 5000) {
    gh_oauth_tokens t;
    char *rt = dec_token(o, a, acc->refresh_token);
    if (!rt || gh_oauth_ready(p, &o->fo, a) != GH_OK ||
        gh_oauth_refresh(a, p, &o->fo, rt, &t) != GH_OK) {
      gh_auth_error(resp, &E_FAILED_TO_GET_ACCESS_TOKEN);
      return false;
    }
    gh_status rc = update_tokens(o, st, a, acc->id, &t, now, NULL);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
      gh_auth_db_error(resp, rc, "update_account");
      return false;
    }
    *access = t.access_token;
    if (t.has_access_expiry) {
      acc->has_access_expiry = true;
      acc->access_token_expires_at = t.access_expires_at;
    }
    if (t.id_token) acc->id_token = t.id_token;
    return true;
  }
  *access = dec_token(o, a, acc->access_token ? acc->access_token : "");
  if (!*access) {
    gh_auth_error(resp, &E_FAILED_TO_GET_ACCESS_TOKEN);
    return false;
  }
  return true;
}

static gh_json *scopes_array(gh_arena *a, const char *scope) {
  gh_json *arr = gh_json_array();
  const char *p = scope;
  while (p && *p) {
    size_t len = strcspn(p, ",");
    const char *s = p;
    size_t n = len;
    while (n && *s == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    if (n) gh_json_append_new(arr, gh_json_str(gh_arena_strndup(a, s, n)));
    p += len;
    if (*p) p++;
  }
  return arr;
}

static void route_get_access_token_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_store *st;
  gh_sess s;
  gh_account acc;
  if (!select_account(o, req, resp, req->json, &st, &s, &acc, false)) return;
  gh_oauth_provider *p = find_provider(o, acc.provider_id);
  if (!p) {
    not_supported(resp, acc.provider_id);
    return;
  }
  char *access;
  if (!valid_access_token(o, st, req, resp, p, &acc, &access)) return;
  gh_json *out = gh_json_object();
  gh_json_set_new(out, "accessToken", gh_json_str(access));
  if (acc.has_access_expiry)
    gh_json_set_new(out, "accessTokenExpiresAt", date_json(acc.access_token_expires_at));
  gh_json_set_new(out, "scopes", scopes_array(req->arena, acc.scope));
  if (acc.id_token) gh_json_set_new(out, "idToken", gh_json_str(acc.id_token));
  gh_resp_json(resp, 200, out);
}

static void route_refresh_token_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_account acc;
  if (!select_account(o, req, resp, req->json, &st, &s, &acc, false)) return;
  gh_oauth_provider *p = find_provider(o, acc.provider_id);
  if (!p) {
    not_supported(resp, acc.provider_id);
    return;
  }
  if (!acc.refresh_token) {
    gh_auth_error(resp, &E_REFRESH_TOKEN_NOT_FOUND);
    return;
  }
  char *rt = dec_token(o, a, acc.refresh_token);
  gh_oauth_tokens t;
  int64_t now = gh_now_ms();
  if (!rt || gh_oauth_ready(p, &o->fo, a) != GH_OK ||
      gh_oauth_refresh(a, p, &o->fo, rt, &t) != GH_OK) {
    gh_auth_error(resp, &E_FAILED_TO_REFRESH);
    return;
  }
  gh_status rc = update_tokens(o, st, a, acc.id, &t, now, NULL);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "update_account");
    return;
  }
  gh_json *out = gh_json_object();
  gh_json_set_new(out, "accessToken", gh_json_str(t.access_token));
  gh_json_set_new(out, "refreshToken", gh_json_str(t.refresh_token ? t.refresh_token : rt));
  if (t.has_access_expiry)
    gh_json_set_new(out, "accessTokenExpiresAt", date_json(t.access_expires_at));
  if (t.has_refresh_expiry)
    gh_json_set_new(out, "refreshTokenExpiresAt", date_json(t.refresh_expires_at));
  else
    gh_json_set_new(out, "refreshTokenExpiresAt",
                    acc.has_refresh_expiry ? date_json(acc.refresh_token_expires_at) : NULL);
  gh_json_set_new(out, "scope", gh_json_str(acc.scope));
  gh_json_set_new(out, "idToken", gh_json_str(t.id_token ? t.id_token : acc.id_token));
  gh_json_set_new(out, "providerId", gh_json_str(acc.provider_id));
  gh_json_set_new(out, "accountId", gh_json_str(acc.id));
  gh_audit(o->au, req, "account.token_refreshed", s.u.id, "provider", acc.provider_id, NULL, NULL);
  gh_resp_json(resp, 200, out);
}

static void route_account_info_run(oauth *o_, gh_req *req, gh_resp *resp) {
  void *self = o_;
  oauth *o = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_account acc;
  if (!select_account(o, req, resp, NULL, &st, &s, &acc, true)) return;
  gh_oauth_provider *p = find_provider(o, acc.provider_id);
  if (!p) {
    gh_auth_error(resp, &E_PROVIDER_NOT_CONFIGURED);
    return;
  }
  char *access;
  if (!valid_access_token(o, st, req, resp, p, &acc, &access)) return;
  if (!*access) {
    gh_auth_error(resp, &E_ACCESS_TOKEN_NOT_FOUND);
    return;
  }
  gh_oauth_tokens t = {.access_token = access}; /* userinfo with the access token */
  gh_oauth_user ou;
  const gh_oauth_provider_config *pc = gh_oauth_provider_conf(p);
  /* google and apple: the profile of the stored ID token (better-auth decodes it; no userinfo) */
  bool stored = pc->kind == GH_OAUTH_OIDC && !pc->generic;
  if (stored ? gh_oauth_user_from_stored_id_token(a, acc.id_token, &ou) != GH_OK
             : gh_oauth_user_info(a, p, &o->fo, &t, NULL, NULL, &ou) != GH_OK) {
    gh_auth_error(resp, &E_FAILED_TO_GET_USER_INFO);
    return;
  }
  /* the user object of the provider's getUserInfo, in its key order (no id in any of them) */
  gh_json *out = gh_json_object(), *u = gh_json_object();
  if (pc->generic) { /* genericOAuth: email, emailVerified, image (when known), name */
    gh_json_set_new(u, "email", gh_json_str(ou.email));
    gh_json_set_new(u, "emailVerified", gh_json_bool(ou.email_verified));
    if (ou.image) gh_json_set_new(u, "image", gh_json_str(ou.image));
    gh_json_set_new(u, "name", gh_json_str(ou.name));
  } else if (strcmp(pc->id, "apple") == 0) { /* name (profile.name || ""), emailVerified, email */
    gh_json_set_new(u, "name", gh_json_str(ou.name ? ou.name : ""));
    gh_json_set_new(u, "emailVerified", gh_json_bool(ou.email_verified));
    gh_json_set_new(u, "email", gh_json_str(ou.email));
  } else { /* github, google: name, email, image, emailVerified */
    gh_json_set_new(u, "name", gh_json_str(ou.name));
    gh_json_set_new(u, "email", gh_json_str(ou.email));
    if (ou.image) gh_json_set_new(u, "image", gh_json_str(ou.image));
    gh_json_set_new(u, "emailVerified", gh_json_bool(ou.email_verified));
  }
  gh_json_set_new(out, "user", u);
  gh_json_set_new(out, "data", gh_json_incref(ou.raw));
  gh_json *ac = gh_json_object();
  gh_json_set_new(ac, "id", gh_json_str(acc.id));
  gh_json_set_new(ac, "providerId", gh_json_str(acc.provider_id));
  gh_json_set_new(ac, "accountId", gh_json_str(acc.account_id));
  gh_json_set_new(out, "account", ac);
  gh_resp_json(resp, 200, out);
}

/* --- the bounded entry points ------------------------------------------------------------- */

#define BOUNDED(name, busy)                                                                        \
  static void name(void *self, gh_req *req, gh_resp *resp) {                                       \
    oauth *o = self;                                                                               \
    if (!enter(o)) {                                                                               \
      busy;                                                                                        \
      return;                                                                                      \
    }                                                                                              \
    name##_run(o, req, resp);                                                                      \
    leave(o);                                                                                      \
  }
BOUNDED(route_sign_in_social, gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE))
BOUNDED(route_callback,
        redirect_error(resp, default_error_url(o, req->arena), "temporarily_unavailable", NULL))
BOUNDED(route_link_social, gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE))
BOUNDED(route_get_access_token, gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE))
BOUNDED(route_refresh_token, gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE))
BOUNDED(route_account_info, gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE))

/* --- GET /error --------------------------------------------------------------------------- */

static void route_error_page(void *self, gh_req *req, gh_resp *resp) {
  const char *code = gh_req_query(req, "error");
  bool ok = code && *code;
  for (const char *c = code; ok && *c; c++)
    ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
         *c == '_' || *c == '-' || *c == '\'';
  const char *shown = ok ? code : "UNKNOWN";
  resp->status = 200;
  resp->content_type = "text/html";
  resp->body = gh_arena_printf(resp->arena,
                               "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign-in "
                               "error</title></head><body><h1>Sign-in error</h1><p>Error code: "
                               "<code>%s</code></p></body></html>",
                               shown);
  resp->body_len = strlen(resp->body);
  (void)self;
}

/* --- the plugin ------------------------------------------------------------------------ */

static const gh_route ROUTES[] = {
    {"POST", P "/sign-in/social", route_sign_in_social, GH_ROUTE_SLOW, NULL},
    {"GET", P "/callback/", route_callback, GH_ROUTE_SLOW | GH_ROUTE_PREFIX, NULL},
    {"POST", P "/callback/", route_callback_post, GH_ROUTE_PREFIX | GH_ROUTE_FORM, NULL},
    {"POST", P "/link-social", route_link_social, GH_ROUTE_SLOW, NULL},
    {"POST", P "/get-access-token", route_get_access_token, GH_ROUTE_SLOW, NULL},
    {"POST", P "/refresh-token", route_refresh_token, GH_ROUTE_SLOW, NULL},
    {"GET", P "/account-info", route_account_info, GH_ROUTE_SLOW, NULL},
    {"GET", P "/error", route_error_page, 0, NULL},
};

static gh_status add_provider(oauth *o, const gh_oauth_provider_config *pc, char *err, size_t n) {
  const char *msg = NULL;
  if (find_provider(o, pc->id)) {
    snprintf(err, n, "OAuth provider \"%s\" is configured twice", pc->id);
    return GH_ERR_CONFIG;
  }
  if (o->np == MAX_PROVIDERS) {
    snprintf(err, n, "too many OAuth providers");
    return GH_ERR_CONFIG;
  }
  gh_oauth_provider *p;
  if (gh_oauth_provider_new(pc, &p, &msg) != GH_OK) {
    snprintf(err, n, "OAuth provider \"%s\": %s", pc->id, msg);
    return GH_ERR_CONFIG;
  }
  o->prov[o->np++] = p;
  gh_log(GH_LOG_INFO, "oauth.provider", "id", pc->id, NULL);
  return GH_OK;
}

/* Checked at start (serve and check-config), before any provider is contacted: a provider with a
 * client id but none of what it needs stops the server instead of failing sign-ins later. */
static gh_status validate(const void *cv, const char **err) {
  const conf *c = cv;
  static char msg[256]; /* start-up only (one thread) */
  const struct {
    const char *id, *secret, *name;
  } builtin[] = {{c->google_id, c->google_secret, "GOOGLE"},
                 {c->github_id, c->github_secret, "GITHUB"},
                 {c->apple_id, c->apple_secret, "APPLE"}};
  for (size_t i = 0; i < 3; i++)
    if (builtin[i].id && !builtin[i].secret) {
      snprintf(msg, sizeof msg,
               "GATEHOUSE_%s_CLIENT_SECRET is required with GATEHOUSE_%s_CLIENT_ID",
               builtin[i].name, builtin[i].name);
      *err = msg;
      return GH_ERR_CONFIG;
    }
  char **ids = NULL;
  size_t nid = gh_envfam_ids("GATEHOUSE_OIDC_", "_DISCOVERY_URL", &ids);
  gh_status st = GH_OK;
  for (size_t i = 0; i < nid && st == GH_OK; i++) {
    oidc_conf oc = {0};
    const char *m = NULL;
    st = gh_envfam_load("GATEHOUSE_OIDC_", ids[i], OIDC_OPTS, NOIDC, &oc, msg, sizeof msg, &m);
    if (st == GH_OK && !oc.client_id) {
      snprintf(msg, sizeof msg, "GATEHOUSE_OIDC_%s_CLIENT_ID is required with its DISCOVERY_URL",
               ids[i]);
      st = GH_ERR_CONFIG;
    } else if (st == GH_OK && !gh_fetch_url_allowed(oc.discovery)) {
      snprintf(msg, sizeof msg,
               "GATEHOUSE_OIDC_%s_DISCOVERY_URL must be https (http only to a loopback host)",
               ids[i]);
      st = GH_ERR_CONFIG;
    }
    if (st != GH_OK) *err = msg;
    gh_envfam_free(OIDC_OPTS, NOIDC, &oc);
  }
  gh_envfam_ids_free(ids, nid);
  return st;
}

static void plugin_free(void *self) {
  oauth *o = self;
  if (!o) return;
  for (size_t i = 0; i < o->np; i++) gh_oauth_provider_free(o->prov[i]);
  if (o->fetch_inited) gh_fetch_global_cleanup();
  free(o);
}

static gh_status init(gh_auth *au, const void *cv, void **self) {
  const conf *c = cv;
  oauth *o = gh_xcalloc(1, sizeof *o);
  o->au = au;
  o->c = c;
  o->fo.timeout_ms = c->timeout_ms;
  o->fo.connect_timeout_ms = c->connect_timeout_ms;
  o->fo.max_bytes = (size_t)c->max_bytes;
  o->fo.ca_file = c->ca_file;
  o->fo.user_agent = "gatehouse/" GH_VERSION;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  o->max_inflight = c->max_concurrent ? (int)c->max_concurrent : (int)(cores > 1 ? cores / 2 : 1);
  atomic_init(&o->inflight, 0);
  char err[256];
  gh_status st = GH_OK;
  if (c->google_id) {
    gh_oauth_provider_config g = {.id = "google",
                                  .kind = GH_OAUTH_OIDC,
                                  .client_id = c->google_id,
                                  .client_secret = c->google_secret,
                                  .scopes = c->google_scopes,
                                  .pkce = true,
                                  .authorization_url = c->google_auth,
                                  .token_url = c->google_token,
                                  .jwks_url = c->google_jwks,
                                  .issuer = c->google_issuer,
                                  .issuer_alt = "accounts.google.com",
                                  .id_token_sign_in = true,
                                  .max_token_age_s = 3600,
                                  .extra_auth_params = "include_granted_scopes=true"};
    st = add_provider(o, &g, err, sizeof err);
  }
  if (st == GH_OK && c->github_id) {
    gh_oauth_provider_config g = {.id = "github",
                                  .kind = GH_OAUTH_GITHUB,
                                  .client_id = c->github_id,
                                  .client_secret = c->github_secret,
                                  .scopes = c->github_scopes,
                                  .pkce = true,
                                  .authorization_url = c->github_auth,
                                  .token_url = c->github_token,
                                  .userinfo_url = c->github_api};
    st = add_provider(o, &g, err, sizeof err);
  }
  if (st == GH_OK && c->apple_id) {
    gh_oauth_provider_config g = {.id = "apple",
                                  .kind = GH_OAUTH_OIDC,
                                  .client_id = c->apple_id,
                                  .client_secret = c->apple_secret,
                                  .scopes = c->apple_scopes,
                                  .pkce = true,
                                  .authorization_url = c->apple_auth,
                                  .token_url = c->apple_token,
                                  .jwks_url = c->apple_jwks,
                                  .issuer = c->apple_issuer,
                                  .id_token_sign_in = true,
                                  .response_mode = "form_post"};
    st = add_provider(o, &g, err, sizeof err);
  }
  char **ids = NULL;
  size_t nid = st == GH_OK ? gh_envfam_ids("GATEHOUSE_OIDC_", "_DISCOVERY_URL", &ids) : 0;
  for (size_t i = 0; i < nid && st == GH_OK; i++) {
    oidc_conf oc = {0};
    const char *msg = NULL;
    st = gh_envfam_load("GATEHOUSE_OIDC_", ids[i], OIDC_OPTS, NOIDC, &oc, err, sizeof err, &msg);
    if (st == GH_OK) {
      char lower[64];
      size_t k = 0;
      for (; ids[i][k] && k < sizeof lower - 1; k++)
        lower[k] = (char)(ids[i][k] >= 'A' && ids[i][k] <= 'Z' ? ids[i][k] + 32 : ids[i][k]);
      lower[k] = 0;
      gh_oauth_provider_config g = {.id = lower,
                                    .kind = GH_OAUTH_OIDC,
                                    .client_id = oc.client_id,
                                    .client_secret = oc.client_secret,
                                    .scopes = oc.scopes,
                                    .pkce = oc.pkce,
                                    .discovery_url = oc.discovery,
                                    .issuer = oc.issuer,
                                    .id_token_sign_in = true,
                                    .requires_nonce = true,
                                    .openid_scope = true,
                                    .generic = true};
      st = add_provider(o, &g, err, sizeof err);
    }
    gh_envfam_free(OIDC_OPTS, NOIDC, &oc);
  }
  gh_envfam_ids_free(ids, nid);
  if (st == GH_OK && o->np > 0) { /* before any thread runs: curl_global_init is not for threads */
    if (gh_fetch_global_init() != GH_OK) {
      snprintf(err, sizeof err, "libcurl could not be initialised");
      st = GH_ERR_CONFIG;
    } else {
      o->fetch_inited = true;
    }
  }
  if (st != GH_OK) {
    gh_log(GH_LOG_ERROR, "config.invalid", "error", err, NULL);
    plugin_free(o);
    return GH_ERR_CONFIG;
  }
  *self = o;
  return GH_OK;
}

const gh_plugin gh_plugin_oauth = {
    .id = "oauth",
    .summary = "OAuth / OpenID Connect sign-in and account linking (better-auth socialProviders "
               "and genericOAuth): Google, GitHub, Apple and any OpenID provider, each on when "
               "its variables are set",
    .always = true,
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = sizeof ROUTES / sizeof ROUTES[0],
    .errors = ERRORS,
    .nerrors = sizeof ERRORS / sizeof ERRORS[0],
};
