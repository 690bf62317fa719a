#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

#define MAX_SESSION_TOKEN 4096 /* a bearer session token longer than this is refused locally */

#define API_KEY_PATH "/api/auth/api-key/verify"

struct tasks_auth {
  ghv_verifier *v;
  tasks_auth_mode mode;
  bool api_keys; /* TASKS_SERVICE_TOKEN set */
};

static const char *nonempty(const char *s) {
  return s && *s ? s : NULL;
}

gh_status tasks_auth_new(const tasks_config *c, tasks_auth **out, const char **err) {
  ghv_config vc;
  ghv_config_init(&vc);
  vc.issuer_url = c->gatehouse_url;
  vc.jwks_url = nonempty(c->jwks_url);
  vc.session_url = nonempty(c->session_url);
  vc.expected_issuer = nonempty(c->jwt_issuer);
  vc.expected_audience = nonempty(c->jwt_audience);
  vc.leeway_s = c->jwt_leeway;
  vc.http_timeout_ms = c->http_timeout_ms;
  vc.session_cache_ttl_s = c->session_cache_ttl;
  vc.allow_missing_kid = c->jwt_allow_missing_kid;
  ghv_verifier *v = NULL;
  ghv_status st = ghv_new(&vc, &v);
  if (st != GHV_OK) {
    *err = st == GHV_ERR_NOMEM ? "out of memory"
                               : "invalid verifier settings (GATEHOUSE_URL, "
                                 "TASKS_JWKS_URL, TASKS_SESSION_URL, "
                                 "TASKS_JWT_ISSUER, TASKS_JWT_AUDIENCE)";
    return GH_ERR_CONFIG;
  }
  if (c->service_token) {
    char *url = *c->api_key_url ? gh_xstrdup(c->api_key_url)
                                : gh_xmalloc(strlen(c->gatehouse_url) + sizeof API_KEY_PATH);
    if (!*c->api_key_url) {
      memcpy(url, c->gatehouse_url, strlen(c->gatehouse_url));
      memcpy(url + strlen(c->gatehouse_url), API_KEY_PATH, sizeof API_KEY_PATH);
    }
    st = ghv_apikey_configure(v, url, c->service_token, c->api_key_cache_ttl);
    free(url);
    if (st != GHV_OK) {
      ghv_free(v);
      *err = "invalid API-key settings (TASKS_API_KEY_URL, TASKS_SERVICE_TOKEN)";
      return GH_ERR_CONFIG;
    }
  }
  tasks_auth *a = gh_xcalloc(1, sizeof *a);
  a->v = v;
  a->api_keys = c->service_token != NULL;
  a->mode = c->auth_mode;
  *out = a;
  return GH_OK;
}

void tasks_auth_free(tasks_auth *a) {
  if (!a) return;
  ghv_free(a->v);
  free(a);
}

static bool is_session_cookie(const char *name, size_t n) {
  static const char *const NAMES[] = {"better-auth.session_token",
                                      "__Secure-better-auth.session_token"};
  for (size_t i = 0; i < 2; i++)
    if (strlen(NAMES[i]) == n && memcmp(NAMES[i], name, n) == 0) return true;
  return false;
}

/* Only the session cookies of the request's Cookie header ("name=value; ..."), as sent; NULL when
 * there is none. Other cookies are not forwarded to gatehouse. */
static char *session_cookies(gh_arena *a, const char *hdr) {
  if (!hdr) return NULL;
  size_t cap = strlen(hdr) + 1, o = 0;
  char *out = gh_arena_alloc(a, cap);
  const char *p = hdr;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ';') p++;
    const char *end = strchr(p, ';');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq) {
      const char *ke = eq;
      while (ke > p && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
      const char *ve = end;
      while (ve > eq + 1 && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      if (is_session_cookie(p, (size_t)(ke - p)) && ve > eq + 1) {
        if (o) out[o++] = ';', out[o++] = ' ';
        memcpy(out + o, p, (size_t)(ve - p));
        o += (size_t)(ve - p);
      }
    }
    p = end;
  }
  if (o == 0) return NULL;
  out[o] = 0;
  return out;
}

static tasks_auth_result result(ghv_status st, const char *reason) {
  tasks_auth_result r = {.http_status = ghv_status_http(st),
                         .st = st,
                         .reason = reason,
                         .can_read = true,
                         .can_write = true};
  return r;
}

/* x-api-key: checked with gatehouse; scopes from the key's permissions. */
static tasks_auth_result check_api_key(tasks_auth *a, const gh_req *req, const char *key,
                                       char **user_id) {
  if (!a->api_keys) {
    tasks_auth_result off = result(GHV_ERR_UNAUTHENTICATED, "API keys are not accepted");
    off.api_key = true;
    return off;
  }
  ghv_api_key k;
  ghv_status st = ghv_verify_api_key(a->v, key, strlen(key), &k);
  tasks_auth_result r = result(st, ghv_status_str(st));
  r.api_key = true;
  if (st == GHV_ERR_UNAUTHENTICATED &&
      (!strcmp(k.error_code, "RATE_LIMITED") || !strcmp(k.error_code, "USAGE_EXCEEDED"))) {
    r.http_status = 429;
    r.reason =
        !strcmp(k.error_code, "RATE_LIMITED") ? "API key rate limited" : "API key usage exceeded";
  } else if (st == GHV_ERR_UNAUTHENTICATED) {
    r.reason = "invalid API key";
  }
  if (st == GHV_OK) {
    if (!k.user_id || !*k.user_id) {
      r = result(GHV_ERR_CLAIMS, ghv_status_str(GHV_ERR_CLAIMS));
    } else {
      *user_id = gh_arena_strdup(req->arena, k.user_id);
      r.can_read = ghv_api_key_allows(&k, "tasks", "read");
      r.can_write = ghv_api_key_allows(&k, "tasks", "write");
    }
  }
  ghv_api_key_clear(&k);
  return r;
}

tasks_auth_result tasks_auth_check(tasks_auth *a, const gh_req *req, char **user_id) {
  *user_id = NULL;
  const char *api_key = gh_req_header(req, "x-api-key");
  if (api_key && *api_key) return check_api_key(a, req, api_key, user_id);
  const char *authz = gh_req_header(req, "Authorization");
  const char *tok = NULL;
  size_t tlen = 0;
  if (authz && ghv_bearer_token(authz, &tok, &tlen) != GHV_OK)
    return result(GHV_ERR_MALFORMED, "the Authorization header is not a Bearer credential");
  if (tok && tlen == 0) tok = NULL;
  char *cookie =
      a->mode == TASKS_AUTH_JWT ? NULL : session_cookies(req->arena, gh_req_header(req, "Cookie"));

  bool use_jwt;
  switch (a->mode) {
  case TASKS_AUTH_JWT:
    use_jwt = true;
    break;
  case TASKS_AUTH_SESSION:
    use_jwt = false;
    break;
  default:
    use_jwt = tok && ghv_looks_like_jwt(tok, tlen);
    break;
  }
  ghv_principal p;
  memset(&p, 0, sizeof p);
  ghv_status st;
  if (use_jwt) {
    if (!tok) return result(GHV_ERR_UNAUTHENTICATED, "missing bearer token");
    st = ghv_verify_jwt(a->v, tok, tlen, &p);
  } else {
    if (!tok && !cookie) return result(GHV_ERR_UNAUTHENTICATED, "missing credentials");
    if (tok && tlen > MAX_SESSION_TOKEN) return result(GHV_ERR_TOO_LARGE, "token too large");
    char *bearer = tok ? gh_arena_strndup(req->arena, tok, tlen) : NULL;
    st = ghv_verify_session(a->v, cookie, bearer, &p);
  }
  if (st == GHV_OK && (!p.user_id || !*p.user_id)) st = GHV_ERR_CLAIMS;
  if (st == GHV_OK) *user_id = gh_arena_strdup(req->arena, p.user_id);
  ghv_principal_clear(&p);
  return result(st, ghv_status_str(st));
}
