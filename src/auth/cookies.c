/* Setting and clearing the session cookies. */
#include "auth/cookies.h"

#include <string.h>

#include "auth/internal.h"
#include "common/encoding.h"
#include "crypto/cookie_sign.h"
#include "http/cookie.h"

static bool starts_with_name(const char *value, void *arg) {
  const char *name = arg;
  size_t n = strlen(name);
  return strncmp(value, name, n) == 0 && value[n] == '=';
}

static void put_cookie(gh_auth *au, gh_resp *resp, const char *name, const char *wire_value,
                       int64_t max_age /* -1: none */) {
  gh_resp_remove_header(resp, "Set-Cookie", starts_with_name, (void *)name);
  char *c = max_age >= 0
                ? gh_arena_printf(resp->arena, "%s=%s; Max-Age=%lld; %s", name, wire_value,
                                  (long long)max_age, au->cookie_attrs)
                : gh_arena_printf(resp->arena, "%s=%s; %s", name, wire_value, au->cookie_attrs);
  gh_resp_header(resp, "Set-Cookie", c);
}

void gh_set_session_cookie(gh_auth *au, gh_req *req, gh_resp *resp, const char *token,
                           bool dont_remember) {
  gh_arena *a = resp->arena;
  char *signed_v = gh_cookie_sign(a, au->secret, token);
  put_cookie(au, resp, au->ck_session, gh_uri_encode_component(a, signed_v),
             dont_remember ? -1 : au->cfg.expires_in);
  if (dont_remember) {
    char *dr = gh_cookie_sign(a, au->secret, "true");
    put_cookie(au, resp, au->ck_dont_remember, gh_uri_encode_component(a, dr), -1);
  } else if (gh_cookie_get(a, gh_req_header(req, "Cookie"), au->ck_dont_remember)) {
    put_cookie(au, resp, au->ck_dont_remember, "", 0);
  }
}

void gh_clear_session_cookies(gh_auth *au, gh_resp *resp) {
  put_cookie(au, resp, au->ck_session, "", 0);
  put_cookie(au, resp, au->ck_data, "", 0);
  put_cookie(au, resp, au->ck_dont_remember, "", 0);
}

char *gh_auth_cookie_name(gh_auth *au, gh_arena *a, const char *name) {
  return gh_arena_printf(a, "%s%s", au->secure ? "__Secure-better-auth." : "better-auth.", name);
}

void gh_set_signed_cookie(gh_auth *au, gh_resp *resp, const char *full_name, const char *value,
                          int64_t max_age) {
  char *sv = gh_cookie_sign(resp->arena, au->secret, value);
  put_cookie(au, resp, full_name, gh_uri_encode_component(resp->arena, sv), max_age);
}

void gh_expire_cookie(gh_auth *au, gh_resp *resp, const char *full_name) {
  put_cookie(au, resp, full_name, "", 0);
}

const char *gh_signed_cookie(gh_auth *au, gh_req *req, const char *full_name) {
  const char *raw = gh_cookie_get(req->arena, gh_req_header(req, "Cookie"), full_name);
  char *v;
  if (!raw || gh_cookie_verify_any(req->arena, (const char *const *)au->verify_secrets,
                                   au->nverify_secrets, raw, &v, NULL) != GH_OK)
    return NULL;
  return v;
}
