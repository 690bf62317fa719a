#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

#define MAX_SESSION_TOKEN 4096 /* a bearer session token longer than this is refused locally */

struct tasks_auth {
  ghv_verifier *v;
  tasks_auth_mode mode;
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
  tasks_auth *a = gh_xcalloc(1, sizeof *a);
  a->v = v;
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
  tasks_auth_result r = {.http_status = ghv_status_http(st), .st = st, .reason = reason};
  return r;
}

tasks_auth_result tasks_auth_check(tasks_auth *a, const gh_req *req, char **user_id) {
  *user_id = NULL;
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
