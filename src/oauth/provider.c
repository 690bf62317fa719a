#include "oauth/provider.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/bytes.h"
#include "common/log.h"
#include "common/time.h"
#include "jose/jose.h"

#define JWKS_TTL_MS (3600 * 1000LL)
#define JWKS_REFETCH_MS (60 * 1000LL)
#define DISCOVERY_TTL_MS (3600 * 1000LL)
#define CLOCK_TOLERANCE_S 30
#define MAX_ID_TOKEN 16384
#define DOWN_MS (30 * 1000LL)

struct gh_oauth_provider {
  gh_oauth_provider_config c; /* strings owned (malloc'd copies) */
  pthread_mutex_t mu;
  /* resolved from discovery (malloc'd; NULL until then), under mu */
  char *d_authorization, *d_token, *d_userinfo, *d_jwks, *d_issuer, *d_algs;
  int64_t discovered_at;
  char *jwks_text; /* the JWKS document, under mu */
  int64_t jwks_at;
  int64_t down_until; /* circuit breaker: no call before this (ms), under mu */
};

static char *dup_or_null(const char *s) {
  return s && *s ? gh_xstrdup(s) : NULL;
}

gh_status gh_oauth_provider_new(const gh_oauth_provider_config *c, gh_oauth_provider **out,
                                const char **err) {
  *out = NULL;
  if (!c->id || !*c->id || !c->client_id || !*c->client_id) {
    *err = "an OAuth provider needs a client id";
    return GH_ERR_CONFIG;
  }
  if (!c->discovery_url && (!c->authorization_url || !c->token_url)) {
    *err = "an OAuth provider needs a discovery URL or authorization and token URLs";
    return GH_ERR_CONFIG;
  }
  const char *urls[] = {c->discovery_url, c->authorization_url, c->token_url, c->userinfo_url,
                        c->jwks_url};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
    if (urls[i] && *urls[i] && !gh_fetch_url_allowed(urls[i])) {
      *err = "an OAuth provider URL must be https (http only to a loopback host)";
      return GH_ERR_CONFIG;
    }
  gh_oauth_provider *p = gh_xcalloc(1, sizeof *p);
  p->c = *c;
  p->c.id = gh_xstrdup(c->id);
  p->c.client_id = gh_xstrdup(c->client_id);
  p->c.client_secret = dup_or_null(c->client_secret);
  p->c.scopes = dup_or_null(c->scopes);
  p->c.discovery_url = dup_or_null(c->discovery_url);
  p->c.authorization_url = dup_or_null(c->authorization_url);
  p->c.token_url = dup_or_null(c->token_url);
  p->c.userinfo_url = dup_or_null(c->userinfo_url);
  p->c.jwks_url = dup_or_null(c->jwks_url);
  p->c.issuer = dup_or_null(c->issuer);
  p->c.issuer_alt = dup_or_null(c->issuer_alt);
  p->c.response_mode = dup_or_null(c->response_mode);
  p->c.extra_auth_params = dup_or_null(c->extra_auth_params);
  p->c.scope_joiner = dup_or_null(c->scope_joiner);
  pthread_mutex_init(&p->mu, NULL);
  *out = p;
  return GH_OK;
}

static void wipe_free(const char *s) {
  if (!s) return;
  memset((char *)s, 0, strlen(s));
  free((char *)s);
}

void gh_oauth_provider_free(gh_oauth_provider *p) {
  if (!p) return;
  free((char *)p->c.id);
  free((char *)p->c.client_id);
  wipe_free(p->c.client_secret);
  const char *owned[] = {p->c.scopes,
                         p->c.discovery_url,
                         p->c.authorization_url,
                         p->c.token_url,
                         p->c.userinfo_url,
                         p->c.jwks_url,
                         p->c.issuer,
                         p->c.issuer_alt,
                         p->c.response_mode,
                         p->c.extra_auth_params,
                         p->c.scope_joiner};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free((char *)owned[i]);
  free(p->d_authorization);
  free(p->d_token);
  free(p->d_userinfo);
  free(p->d_jwks);
  free(p->d_issuer);
  free(p->d_algs);
  free(p->jwks_text);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

const char *gh_oauth_provider_id(const gh_oauth_provider *p) {
  return p->c.id;
}
const gh_oauth_provider_config *gh_oauth_provider_conf(const gh_oauth_provider *p) {
  return &p->c;
}

/* --- endpoints ------------------------------------------------------------------------------ */

typedef struct {
  const char *authorization, *token, *userinfo, *jwks, *issuer, *algs;
} endpoints;

/* The configured endpoint, else the discovered one (copied onto a under the lock). */
static void get_endpoints(gh_oauth_provider *p, gh_arena *a, endpoints *e) {
  pthread_mutex_lock(&p->mu);
  e->authorization =
      p->c.authorization_url ? p->c.authorization_url : gh_arena_strdup(a, p->d_authorization);
  e->token = p->c.token_url ? p->c.token_url : gh_arena_strdup(a, p->d_token);
  e->userinfo = p->c.userinfo_url ? p->c.userinfo_url : gh_arena_strdup(a, p->d_userinfo);
  e->jwks = p->c.jwks_url ? p->c.jwks_url : gh_arena_strdup(a, p->d_jwks);
  e->issuer = p->c.issuer ? p->c.issuer : gh_arena_strdup(a, p->d_issuer);
  e->algs = gh_arena_strdup(a, p->d_algs);
  pthread_mutex_unlock(&p->mu);
}

const char *gh_oauth_provider_issuer(gh_oauth_provider *p, gh_arena *a) {
  endpoints e;
  get_endpoints(p, a, &e);
  return e.issuer;
}

/* Every call to the provider: while it is known to be down (it could not be reached within the
 * timeouts), fail at once instead of tying up a worker for the timeout again; the first call
 * after DOWN_MS tries again. */
static gh_status pfetch(gh_oauth_provider *p, gh_arena *a, const gh_fetch_opts *fo, const char *url,
                        const char *const *headers, const char *body, gh_fetch_resp *r) {
  int64_t now = gh_now_ms();
  pthread_mutex_lock(&p->mu);
  bool down = p->down_until > now;
  pthread_mutex_unlock(&p->mu);
  if (down) {
    memset(r, 0, sizeof *r);
    return GH_ERR_IO;
  }
  gh_status st = gh_fetch(a, fo, url, headers, body, r);
  if (st == GH_ERR_IO) {
    pthread_mutex_lock(&p->mu);
    p->down_until = gh_now_ms() + DOWN_MS;
    pthread_mutex_unlock(&p->mu);
    gh_log(GH_LOG_WARN, "oauth.provider_down", "provider", p->c.id, NULL);
  }
  return st;
}

static gh_status fetch_json(gh_oauth_provider *p, gh_arena *a, const gh_fetch_opts *fo,
                            const char *url, const char *const *headers, const char *body,
                            long *status, gh_json **out) {
  *out = NULL;
  gh_fetch_resp r;
  gh_status st = pfetch(p, a, fo, url, headers, body, &r);
  if (st != GH_OK) return st == GH_ERR_INVALID ? GH_ERR_INVALID : GH_ERR_IO;
  if (status) *status = r.status;
  gh_json *j;
  if (gh_json_parse(r.body, r.len, &j) != GH_OK) return GH_ERR_INVALID;
  *out = gh_json_own(a, j);
  return GH_OK;
}

static char *str_member(gh_json *o, const char *k) {
  const char *s = gh_json_string(gh_json_get(o, k));
  return s && *s && gh_fetch_url_allowed(s) ? gh_xstrdup(s) : NULL;
}

gh_status gh_oauth_ready(gh_oauth_provider *p, const gh_fetch_opts *fo, gh_arena *a) {
  if (!p->c.discovery_url) return GH_OK;
  int64_t now = gh_now_ms();
  pthread_mutex_lock(&p->mu);
  bool fresh = p->discovered_at && now - p->discovered_at < DISCOVERY_TTL_MS;
  pthread_mutex_unlock(&p->mu);
  if (fresh) return GH_OK;
  gh_json *d;
  long status = 0;
  gh_status st = fetch_json(p, a, fo, p->c.discovery_url, NULL, NULL, &status, &d);
  if (st == GH_OK && (status != 200 || gh_json_typeof(d) != GH_JSON_OBJECT)) st = GH_ERR_INVALID;
  const char *iss = st == GH_OK ? gh_json_string(gh_json_get(d, "issuer")) : NULL;
  if (st == GH_OK && (!iss || !*iss)) st = GH_ERR_INVALID;
  if (st != GH_OK) {
    pthread_mutex_lock(&p->mu);
    bool have =
        p->discovered_at != 0; /* a stale document still serves while the provider is down */
    pthread_mutex_unlock(&p->mu);
    gh_log(GH_LOG_WARN, "oauth.discovery_failed", "provider", p->c.id, NULL);
    return have ? GH_OK : st;
  }
  char *algs = NULL;
  gh_json *av = gh_json_get(d, "id_token_signing_alg_values_supported");
  size_t na = gh_json_array_size(av), len = 0;
  if (na) {
    algs = gh_xcalloc(1, na * 16 + 1);
    for (size_t i = 0; i < na; i++) {
      const char *s = gh_json_string(gh_json_array_get(av, i));
      if (!s || strlen(s) > 10) continue;
      len += (size_t)snprintf(algs + len, na * 16 + 1 - len, "%s%s", len ? "," : "", s);
    }
  }
  pthread_mutex_lock(&p->mu);
  free(p->d_authorization);
  free(p->d_token);
  free(p->d_userinfo);
  free(p->d_jwks);
  free(p->d_issuer);
  free(p->d_algs);
  p->d_authorization = str_member(d, "authorization_endpoint");
  p->d_token = str_member(d, "token_endpoint");
  p->d_userinfo = str_member(d, "userinfo_endpoint");
  p->d_jwks = str_member(d, "jwks_uri");
  p->d_issuer = gh_xstrdup(iss);
  p->d_algs = algs;
  p->discovered_at = now;
  pthread_mutex_unlock(&p->mu);
  return GH_OK;
}

/* --- authorization URL ------------------------------------------------------------------ */

/* application/x-www-form-urlencoded (URLSearchParams): alnum and *-._ kept, space '+'. */
static char *form_enc(gh_arena *a, const char *s) {
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

typedef struct {
  gh_arena *a;
  char *s;
} qs;

static void qs_add(qs *q, const char *k, const char *v) {
  if (!v) return;
  q->s =
      gh_arena_printf(q->a, "%s%s%s=%s", q->s ? q->s : "", q->s ? "&" : "", k, form_enc(q->a, v));
}

char *gh_oauth_pkce_challenge(gh_arena *a, const char *verifier) {
  uint8_t d[32];
  SHA256((const unsigned char *)verifier, strlen(verifier), d);
  char *o = gh_arena_alloc(a, GH_B64_LEN(32) + 1);
  gh_b64_encode(d, 32, o, true, false);
  return o;
}

/* Splits a space/comma list into words appended to scopes (no duplicates). */
static size_t add_words(gh_arena *a, const char *list, const char **v, size_t n, size_t cap) {
  const char *p = list;
  while (p && *p && n < cap) {
    while (*p == ' ' || *p == ',') p++;
    size_t len = strcspn(p, " ,");
    if (!len) break;
    char *w = gh_arena_strndup(a, p, len);
    bool dup = false;
    for (size_t i = 0; i < n; i++) dup = dup || strcmp(v[i], w) == 0;
    if (!dup) v[n++] = w;
    p += len;
  }
  return n;
}

char *gh_oauth_authorize_url(gh_arena *a, gh_oauth_provider *p, const char *state,
                             const char *code_verifier, const char *nonce, const char *redirect_uri,
                             const gh_json *extra_scopes, const char *login_hint) {
  endpoints e;
  get_endpoints(p, a, &e);
  if (!e.authorization) return NULL;
  const char *scopes[64];
  size_t n = 0;
  n = add_words(a, p->c.scopes, scopes, n, 64);
  for (size_t i = 0; i < gh_json_array_size(extra_scopes) && n < 64; i++) {
    const char *s = gh_json_string(gh_json_array_get(extra_scopes, i));
    if (s) n = add_words(a, s, scopes, n, 64);
  }
  if (p->c.openid_scope) {
    bool has = false;
    for (size_t i = 0; i < n; i++) has = has || strcmp(scopes[i], "openid") == 0;
    if (!has && n < 64) {
      memmove(scopes + 1, scopes, n * sizeof *scopes);
      scopes[0] = "openid";
      n++;
    }
  }
  const char *joiner = p->c.scope_joiner ? p->c.scope_joiner : " ";
  char *scope = NULL;
  for (size_t i = 0; i < n; i++)
    scope = gh_arena_printf(a, "%s%s%s", scope ? scope : "", scope ? joiner : "", scopes[i]);
  qs q = {.a = a};
  qs_add(&q, "response_type", "code");
  qs_add(&q, "client_id", p->c.client_id);
  qs_add(&q, "state", state);
  qs_add(&q, "scope", scope);
  qs_add(&q, "redirect_uri", redirect_uri);
  qs_add(&q, "login_hint", login_hint && *login_hint ? login_hint : NULL);
  qs_add(&q, "nonce", nonce);
  qs_add(&q, "response_mode", p->c.response_mode);
  if (code_verifier) {
    qs_add(&q, "code_challenge_method", "S256");
    qs_add(&q, "code_challenge", gh_oauth_pkce_challenge(a, code_verifier));
  }
  const char *extra = p->c.extra_auth_params;
  return gh_arena_printf(a, "%s%s%s%s%s", e.authorization, strchr(e.authorization, '?') ? "&" : "?",
                         q.s, extra ? "&" : "", extra ? extra : "");
}

/* --- token endpoint --------------------------------------------------------------------- */

static void split_scopes(gh_arena *a, const char *s, char **out) {
  char *r = gh_arena_strdup(a, "");
  const char *p = s;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    size_t len = strcspn(p, " \t\n");
    if (!len) break;
    r = gh_arena_printf(a, "%s%s%.*s", r, *r ? "," : "", (int)len, p);
    p += len;
  }
  *out = r;
}

static gh_status token_request(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                               const char *form, gh_oauth_tokens *out) {
  memset(out, 0, sizeof *out);
  endpoints e;
  get_endpoints(p, a, &e);
  if (!e.token) return GH_ERR_IO;
  char *body;
  if (p->c.client_secret)
    body = gh_arena_printf(a, "%s&client_id=%s&client_secret=%s", form, form_enc(a, p->c.client_id),
                           form_enc(a, p->c.client_secret));
  else
    body = gh_arena_printf(a, "%s&client_id=%s", form, form_enc(a, p->c.client_id));
  gh_json *j;
  long status = 0;
  gh_status st = fetch_json(p, a, fo, e.token, NULL, body, &status, &j);
  memset(body, 0, strlen(body));
  if (st != GH_OK) return st;
  if (status != 200 || gh_json_typeof(j) != GH_JSON_OBJECT || gh_json_get(j, "error"))
    return GH_ERR_INVALID;
  int64_t now = gh_now_ms();
  out->access_token = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "access_token")));
  out->refresh_token = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "refresh_token")));
  out->id_token = gh_arena_strdup(a, gh_json_string(gh_json_get(j, "id_token")));
  gh_json *ei = gh_json_get(j, "expires_in");
  if (gh_json_typeof(ei) == GH_JSON_INTEGER && gh_json_integer(ei) > 0) {
    out->has_access_expiry = true;
    out->access_expires_at = now + gh_json_integer(ei) * 1000;
  }
  gh_json *ri = gh_json_get(j, "refresh_token_expires_in");
  if (gh_json_typeof(ri) == GH_JSON_INTEGER && gh_json_integer(ri) > 0) {
    out->has_refresh_expiry = true;
    out->refresh_expires_at = now + gh_json_integer(ri) * 1000;
  }
  split_scopes(a, gh_json_string(gh_json_get(j, "scope")), &out->scopes);
  return out->access_token || out->id_token ? GH_OK : GH_ERR_INVALID;
}

gh_status gh_oauth_exchange_code(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                                 const char *code, const char *code_verifier,
                                 const char *redirect_uri, gh_oauth_tokens *out) {
  char *form = gh_arena_printf(a, "grant_type=authorization_code&code=%s", form_enc(a, code));
  if (code_verifier && p->c.pkce)
    form = gh_arena_printf(a, "%s&code_verifier=%s", form, form_enc(a, code_verifier));
  form = gh_arena_printf(a, "%s&redirect_uri=%s", form, form_enc(a, redirect_uri));
  return token_request(a, p, fo, form, out);
}

gh_status gh_oauth_refresh(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                           const char *refresh_token, gh_oauth_tokens *out) {
  char *form =
      gh_arena_printf(a, "grant_type=refresh_token&refresh_token=%s", form_enc(a, refresh_token));
  return token_request(a, p, fo, form, out);
}

/* --- ID tokens -------------------------------------------------------------------------- */

static gh_status load_jwks(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                           const char *url, bool force, char **text) {
  int64_t now = gh_now_ms();
  pthread_mutex_lock(&p->mu);
  bool use =
      p->jwks_text && (force ? now - p->jwks_at < JWKS_REFETCH_MS : now - p->jwks_at < JWKS_TTL_MS);
  *text = use ? gh_arena_strdup(a, p->jwks_text) : NULL;
  pthread_mutex_unlock(&p->mu);
  if (use) return GH_OK;
  gh_fetch_resp r;
  gh_status st = pfetch(p, a, fo, url, NULL, NULL, &r);
  if (st != GH_OK || r.status != 200) {
    gh_log(GH_LOG_WARN, "oauth.jwks_failed", "provider", p->c.id, NULL);
    pthread_mutex_lock(&p->mu);
    *text = gh_arena_strdup(a, p->jwks_text); /* a stale set still verifies */
    pthread_mutex_unlock(&p->mu);
    return *text ? GH_OK : GH_ERR_IO;
  }
  pthread_mutex_lock(&p->mu);
  free(p->jwks_text);
  p->jwks_text = gh_xstrdup(r.body);
  p->jwks_at = now;
  pthread_mutex_unlock(&p->mu);
  *text = r.body;
  return GH_OK;
}

static bool alg_allowed(const char *algs, const char *alg) {
  if (!algs || !*algs) return strcmp(alg, "RS256") == 0;
  size_t n = strlen(alg);
  for (const char *p = algs; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && strncmp(p, alg, n) == 0) return true;
    p += len;
    if (*p) p++;
  }
  return false;
}

/* Verifies the signature with the keys of text whose kid matches (all when the token has
 * none). GH_ERR_NOT_FOUND when no key has that kid. */
static gh_status verify_with(gh_arena *a, const char *text, gh_jwa alg, const char *kid,
                             const gh_jws_parts *parts, const char *token) {
  gh_json *set;
  if (gh_json_parse(text, strlen(text), &set) != GH_OK) return GH_ERR_INVALID;
  gh_json_own(a, set);
  gh_json *keys = gh_json_get(set, "keys");
  bool any = false;
  for (size_t i = 0; i < gh_json_array_size(keys); i++) {
    gh_json *k = gh_json_array_get(keys, i);
    const char *kk = gh_json_string(gh_json_get(k, "kid"));
    if (kid && (!kk || strcmp(kk, kid) != 0)) continue;
    const char *use = gh_json_string(gh_json_get(k, "use"));
    if (use && strcmp(use, "sig") != 0) continue;
    const char *ka = gh_json_string(gh_json_get(k, "alg"));
    if (ka && gh_jwa_parse(ka, strlen(ka)) != alg) continue;
    any = true;
    gh_jwk_members m = {
        .kty = gh_json_string(gh_json_get(k, "kty")),
        .crv = gh_json_string(gh_json_get(k, "crv")),
        .x = gh_json_string(gh_json_get(k, "x")),
        .y = gh_json_string(gh_json_get(k, "y")),
        .n = gh_json_string(gh_json_get(k, "n")),
        .e = gh_json_string(gh_json_get(k, "e")),
    };
    gh_jwk *key;
    if (gh_jwk_import(alg, &m, &key) != GH_OK) continue;
    gh_status st = gh_jws_verify(key, token, parts->signing_input_len, parts->sig, parts->sig_len);
    gh_jwk_free(key);
    if (st == GH_OK) return GH_OK;
  }
  return any ? GH_ERR_INVALID : GH_ERR_NOT_FOUND;
}

static bool aud_matches(gh_json *aud, const char *client_id) {
  if (gh_json_typeof(aud) == GH_JSON_STRING) return strcmp(gh_json_string(aud), client_id) == 0;
  for (size_t i = 0; i < gh_json_array_size(aud); i++) {
    const char *s = gh_json_string(gh_json_array_get(aud, i));
    if (s && strcmp(s, client_id) == 0) return true;
  }
  return false;
}

static bool num_claim(gh_json *c, const char *k, int64_t *v) {
  gh_json *j = gh_json_get(c, k);
  if (gh_json_typeof(j) != GH_JSON_INTEGER) return false;
  *v = gh_json_integer(j);
  return true;
}

gh_status gh_oauth_verify_id_token(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                                   const char *token, const char *expected_nonce,
                                   gh_json **claims) {
  *claims = NULL;
  endpoints e;
  get_endpoints(p, a, &e);
  if (!e.jwks || !token) return GH_ERR_INVALID;
  gh_jws_parts parts;
  if (gh_jws_split(token, strlen(token), MAX_ID_TOKEN, &parts) != GH_OK) return GH_ERR_INVALID;
  gh_status st = GH_ERR_INVALID;
  gh_json *hdr = NULL, *c = NULL;
  if (gh_json_parse(parts.header, parts.header_len, &hdr) != GH_OK) goto done;
  gh_json_own(a, hdr);
  const char *alg_name = gh_json_string(gh_json_get(hdr, "alg"));
  const char *kid = gh_json_string(gh_json_get(hdr, "kid"));
  gh_jwa alg = alg_name ? gh_jwa_parse(alg_name, strlen(alg_name)) : GH_JWA_UNKNOWN;
  if (alg == GH_JWA_UNKNOWN || !alg_allowed(e.algs, alg_name)) goto done;
  char *text;
  st = load_jwks(a, p, fo, e.jwks, false, &text);
  if (st != GH_OK) goto done;
  st = verify_with(a, text, alg, kid, &parts, token);
  if (st == GH_ERR_NOT_FOUND) { /* key rotation: fetch the set again (at most once a minute) */
    st = load_jwks(a, p, fo, e.jwks, true, &text);
    if (st == GH_OK) st = verify_with(a, text, alg, kid, &parts, token);
  }
  if (st != GH_OK) {
    if (st == GH_ERR_NOT_FOUND) st = GH_ERR_INVALID;
    goto done;
  }
  st = GH_ERR_INVALID;
  if (gh_json_parse(parts.payload, parts.payload_len, &c) != GH_OK) goto done;
  gh_json_own(a, c);
  if (gh_json_typeof(c) != GH_JSON_OBJECT) goto done;
  const char *iss = gh_json_string(gh_json_get(c, "iss"));
  const char *sub = gh_json_string(gh_json_get(c, "sub"));
  int64_t exp, iat, now = gh_now_ms() / 1000;
  if (!iss || !sub || !*sub || !e.issuer) goto done;
  if (strcmp(iss, e.issuer) != 0 && !(p->c.issuer_alt && strcmp(iss, p->c.issuer_alt) == 0))
    goto done;
  if (!aud_matches(gh_json_get(c, "aud"), p->c.client_id)) goto done;
  if (!num_claim(c, "exp", &exp) || !num_claim(c, "iat", &iat)) goto done;
  if (exp + CLOCK_TOLERANCE_S <= now) goto done;
  if (iat > now + CLOCK_TOLERANCE_S) goto done;
  if (p->c.max_token_age_s && iat + p->c.max_token_age_s + CLOCK_TOLERANCE_S < now) goto done;
  gh_json *nbf = gh_json_get(c, "nbf");
  if (gh_json_typeof(nbf) == GH_JSON_INTEGER && gh_json_integer(nbf) > now + CLOCK_TOLERANCE_S)
    goto done;
  if (expected_nonce) {
    const char *nonce = gh_json_string(gh_json_get(c, "nonce"));
    size_t n = strlen(expected_nonce);
    if (!nonce || strlen(nonce) != n || !gh_ct_equal(nonce, expected_nonce, n)) goto done;
  }
  *claims = c;
  st = GH_OK;
done:
  if (st != GH_OK) gh_log(GH_LOG_WARN, "oauth.id_token_rejected", "provider", p->c.id, NULL);
  gh_jws_parts_free(&parts);
  return st;
}

/* --- profiles --------------------------------------------------------------------------- */

static bool str_bool(gh_json *j) {
  if (gh_json_typeof(j) == GH_JSON_TRUE) return true;
  const char *s = gh_json_string(j);
  return s && strcmp(s, "true") == 0;
}

static char *json_id(gh_arena *a, gh_json *j) {
  if (gh_json_typeof(j) == GH_JSON_INTEGER)
    return gh_arena_printf(a, "%lld", (long long)gh_json_integer(j));
  return gh_arena_strdup(a, gh_json_string(j));
}

static gh_status github_user(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                             const gh_oauth_tokens *t, gh_oauth_user *u) {
  if (!t->access_token) return GH_ERR_INVALID;
  const char *base = p->c.userinfo_url ? p->c.userinfo_url : "https://api.github.com/user";
  char *auth = gh_arena_printf(a, "Authorization: Bearer %s", t->access_token);
  const char *hdrs[] = {auth, "X-GitHub-Api-Version: 2022-11-28", NULL};
  gh_json *prof, *emails = NULL;
  long status = 0;
  gh_status st = fetch_json(p, a, fo, base, hdrs, NULL, &status, &prof);
  if (st != GH_OK || status != 200 || gh_json_typeof(prof) != GH_JSON_OBJECT) {
    memset(auth, 0, strlen(auth));
    return st == GH_ERR_IO ? GH_ERR_IO : GH_ERR_INVALID;
  }
  char *eurl = gh_arena_printf(a, "%s/emails", base);
  if (fetch_json(p, a, fo, eurl, hdrs, NULL, &status, &emails) != GH_OK || status != 200)
    emails = NULL;
  memset(auth, 0, strlen(auth));
  u->raw = prof;
  u->sub = json_id(a, gh_json_get(prof, "id"));
  const char *name = gh_json_string(gh_json_get(prof, "name"));
  if (!name || !*name) name = gh_json_string(gh_json_get(prof, "login"));
  u->name = gh_arena_strdup(a, name ? name : "");
  u->image = gh_arena_strdup(a, gh_json_string(gh_json_get(prof, "avatar_url")));
  u->email = gh_arena_strdup(a, gh_json_string(gh_json_get(prof, "email")));
  if (!u->email || !*u->email) { /* better-auth: (emails.find(primary) ?? emails[0]).email */
    gh_json *pick = gh_json_array_get(emails, 0);
    for (size_t i = 0; i < gh_json_array_size(emails); i++)
      if (gh_json_is_true(gh_json_get(gh_json_array_get(emails, i), "primary"))) {
        pick = gh_json_array_get(emails, i);
        break;
      }
    const char *em = gh_json_string(gh_json_get(pick, "email"));
    if (em && *em) {
      u->email = gh_arena_strdup(a, em);
      gh_json_set_new(prof, "email", gh_json_str(em)); /* the profile answered as `data` too */
    }
  }
  for (size_t i = 0; i < gh_json_array_size(emails) && u->email; i++) {
    gh_json *e = gh_json_array_get(emails, i);
    const char *em = gh_json_string(gh_json_get(e, "email"));
    if (em && strcmp(em, u->email) == 0)
      u->email_verified = gh_json_is_true(gh_json_get(e, "verified"));
  }
  return u->sub && *u->sub ? GH_OK : GH_ERR_INVALID;
}

static void from_claims(gh_arena *a, gh_json *c, gh_oauth_user *u) {
  u->raw = c;
  u->sub = json_id(a, gh_json_get(c, "sub"));
  u->email = gh_arena_strdup(a, gh_json_string(gh_json_get(c, "email")));
  u->email_verified = str_bool(gh_json_get(c, "email_verified"));
  u->name = gh_arena_strdup(a, gh_json_string(gh_json_get(c, "name")));
  u->image = gh_arena_strdup(a, gh_json_string(gh_json_get(c, "picture")));
}

gh_status gh_oauth_user_from_stored_id_token(gh_arena *a, const char *token, gh_oauth_user *out) {
  memset(out, 0, sizeof *out);
  gh_jws_parts parts;
  if (!token || gh_jws_split(token, strlen(token), MAX_ID_TOKEN, &parts) != GH_OK)
    return GH_ERR_INVALID;
  gh_json *c = NULL;
  gh_status st = GH_ERR_INVALID;
  if (gh_json_parse(parts.payload, parts.payload_len, &c) == GH_OK) {
    gh_json_own(a, c);
    if (gh_json_typeof(c) == GH_JSON_OBJECT) {
      from_claims(a, c, out);
      st = out->sub && *out->sub ? GH_OK : GH_ERR_INVALID;
    }
  }
  gh_jws_parts_free(&parts);
  return st;
}

gh_status gh_oauth_user_info(gh_arena *a, gh_oauth_provider *p, const gh_fetch_opts *fo,
                             const gh_oauth_tokens *t, const char *expected_nonce,
                             const char *apple_user, gh_oauth_user *out) {
  memset(out, 0, sizeof *out);
  if (p->c.kind == GH_OAUTH_GITHUB) return github_user(a, p, fo, t, out);
  gh_json *claims = NULL;
  if (t->id_token) {
    gh_status st = gh_oauth_verify_id_token(a, p, fo, t->id_token, expected_nonce, &claims);
    if (st != GH_OK) return st;
  } else if (p->c.requires_nonce && expected_nonce) {
    return GH_ERR_INVALID; /* a nonce-bound flow must come back with an ID token */
  }
  if (claims) {
    from_claims(a, claims, out);
    if (out->email && *out->email) goto apple;
  }
  endpoints e;
  get_endpoints(p, a, &e);
  if (!e.userinfo || !t->access_token) {
    if (claims && !p->c.generic) goto apple;
    return GH_ERR_INVALID;
  }
  char *auth = gh_arena_printf(a, "Authorization: Bearer %s", t->access_token);
  const char *hdrs[] = {auth, NULL};
  gh_json *ui;
  long status = 0;
  gh_status st = fetch_json(p, a, fo, e.userinfo, hdrs, NULL, &status, &ui);
  memset(auth, 0, strlen(auth));
  if (st != GH_OK) return st;
  if (status != 200 || gh_json_typeof(ui) != GH_JSON_OBJECT) return GH_ERR_INVALID;
  if (claims) { /* the userinfo answer must be about the ID token's subject */
    char *sub = json_id(a, gh_json_get(ui, "sub"));
    if (!sub || strcmp(sub, out->sub) != 0) return GH_ERR_INVALID;
  }
  from_claims(a, ui, out);
apple:
  if (apple_user && (!out->name || !*out->name)) {
    gh_json *au;
    if (gh_json_parse(apple_user, strlen(apple_user), &au) == GH_OK) {
      gh_json_own(a, au);
      gh_json *nm = gh_json_get(au, "name");
      const char *f = gh_json_string(gh_json_get(nm, "firstName"));
      const char *l = gh_json_string(gh_json_get(nm, "lastName"));
      if (f || l)
        out->name = gh_arena_printf(a, "%s%s%s", f ? f : "", f && l ? " " : "", l ? l : "");
    }
  }
  return out->sub && *out->sub ? GH_OK : GH_ERR_INVALID;
}
