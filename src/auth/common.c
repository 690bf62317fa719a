/* Helpers shared by the core routes: validation, JSON shapes, cookies, sessions, origin check. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/internal.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/cookie_sign.h"
#include "crypto/password.h"
#include "http/cookie.h"
#include "plugins/bearer.h"
#include "plugins/jwt.h"

/* ---------------------------------------------------------------- config */

gh_status gh_auth_new(const gh_auth_config *cfg, gh_auth **out) {
  gh_auth *au = gh_xcalloc(1, sizeof *au);
  au->cfg = *cfg;
  size_t nv = cfg->nsecret_versions;
  const char *sign = nv ? cfg->secret_values[0] : cfg->secret;
  if (!sign || !*sign) {
    free(au);
    return GH_ERR_CONFIG;
  }
  au->secret = gh_xstrdup(sign);
  /* Cookies: signed with the newest secret, verified with every configured one. */
  au->verify_secrets = gh_xcalloc(nv + 2, sizeof *au->verify_secrets);
  au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(sign);
  for (size_t i = 1; i < nv; i++)
    au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(cfg->secret_values[i]);
  if (nv && cfg->secret && *cfg->secret) {
    bool dup = false;
    for (size_t i = 0; i < au->nverify_secrets; i++)
      dup = dup || strcmp(au->verify_secrets[i], cfg->secret) == 0;
    if (!dup) au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(cfg->secret);
  }
  /* Symmetric encryption: "$ba$<version>$" with the newest version; bare hex with the legacy
   * secret (GATEHOUSE_SECRET), or with the only secret when not versioned. */
  au->versions = nv ? gh_xcalloc(nv, sizeof *au->versions) : NULL;
  for (size_t i = 0; i < nv; i++) {
    au->versions[i].version = cfg->secret_versions[i];
    au->versions[i].value = gh_xstrdup(cfg->secret_values[i]);
  }
  au->secrets.versions = au->versions;
  au->secrets.nversions = nv;
  au->secrets.legacy = nv ? NULL : au->secret;
  if (nv && cfg->secret && *cfg->secret)
    for (size_t i = 0; i < au->nverify_secrets; i++)
      if (!strcmp(au->verify_secrets[i], cfg->secret)) au->secrets.legacy = au->verify_secrets[i];
  au->base_url = gh_xstrdup(cfg->base_url);
  gh_arena *a = gh_arena_new();
  char *origin;
  if (gh_url_origin(a, cfg->base_url, &origin) != GH_OK) {
    gh_arena_free(a);
    gh_auth_free(au);
    return GH_ERR_CONFIG;
  }
  au->base_origin = gh_xstrdup(origin);
  gh_arena_free(a);
  au->secure = strncasecmp(cfg->base_url, "https://", 8) == 0;
  const char *pre = au->secure ? "__Secure-better-auth." : "better-auth.";
  size_t pl = strlen(pre);
  au->ck_session = gh_xmalloc(pl + 32);
  au->ck_data = gh_xmalloc(pl + 32);
  au->ck_dont_remember = gh_xmalloc(pl + 32);
  snprintf(au->ck_session, pl + 32, "%ssession_token", pre);
  snprintf(au->ck_data, pl + 32, "%ssession_data", pre);
  snprintf(au->ck_dont_remember, pl + 32, "%sdont_remember", pre);
  au->cookie_attrs =
      au->secure ? "Path=/; HttpOnly; Secure; SameSite=Lax" : "Path=/; HttpOnly; SameSite=Lax";
  gh_origins_add_list(&au->origins, au->base_origin);
  gh_origins_add_list(&au->origins, cfg->trusted_origins);
  au->cfg.secret = au->secret;
  au->cfg.base_url = au->base_url;
  au->cfg.trusted_origins = NULL;
  au->cfg.secret_values = NULL;
  au->cfg.secret_versions = NULL;
  const char *alg_name = cfg->jwt_alg && *cfg->jwt_alg ? cfg->jwt_alg : "EdDSA";
  gh_jwt_config jc = {
      .alg = gh_jwa_parse(alg_name, strlen(alg_name)),
      .expires_in = cfg->jwt_expires_in > 0 ? cfg->jwt_expires_in : 900,
      .issuer = cfg->jwt_issuer && *cfg->jwt_issuer ? cfg->jwt_issuer : au->base_origin,
      .audience = cfg->jwt_audience && *cfg->jwt_audience ? cfg->jwt_audience : au->base_origin,
      .rotation = cfg->jwks_rotation,
      .grace = cfg->jwks_grace,
      .secrets = &au->secrets,
  };
  au->cfg.jwt_alg = NULL;
  au->cfg.jwt_issuer = NULL;
  au->cfg.jwt_audience = NULL;
  if (gh_jwt_new(&jc, &au->jwt) != GH_OK) {
    gh_auth_free(au);
    return GH_ERR_CONFIG;
  }
  *out = au;
  return GH_OK;
}

void gh_auth_free(gh_auth *au) {
  if (!au) return;
  if (au->secret) {
    memset(au->secret, 0, strlen(au->secret));
    free(au->secret);
  }
  gh_jwt_free(au->jwt);
  for (size_t i = 0; i < au->nverify_secrets; i++) {
    memset(au->verify_secrets[i], 0, strlen(au->verify_secrets[i]));
    free(au->verify_secrets[i]);
  }
  free(au->verify_secrets);
  for (size_t i = 0; i < au->secrets.nversions; i++) {
    memset((char *)au->versions[i].value, 0, strlen(au->versions[i].value));
    free((char *)au->versions[i].value);
  }
  free(au->versions);
  free(au->base_url);
  free(au->base_origin);
  free(au->ck_session);
  free(au->ck_data);
  free(au->ck_dont_remember);
  gh_origins_free(&au->origins);
  free(au);
}

/* ---------------------------------------------------------------- validation */

void gh_v_issue(gh_vctx *v, const char *path, const char *text) {
  v->msg = v->msg ? gh_arena_printf(v->a, "%s; [%s] %s", v->msg, path, text)
                  : gh_arena_printf(v->a, "[%s] %s", path, text);
}

bool gh_v_object(gh_vctx *v, const gh_json *body, const char *kind) {
  gh_json_type t = gh_json_typeof(body);
  if (t == GH_JSON_OBJECT) return true;
  gh_v_issue(
      v, "body",
      gh_arena_printf(v->a, "Invalid input: expected %s, received %s", kind, gh_json_type_name(t)));
  return false;
}

const char *gh_v_string_n(gh_vctx *v, const gh_json *body, const char *field, bool required,
                          size_t *len) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  *len = 0;
  if (t == GH_JSON_STRING) {
    *len = gh_json_string_len(j);
    return gh_json_string(j);
  }
  if (t == GH_JSON_UNDEFINED && !required) return NULL;
  gh_v_issue(
      v, gh_arena_printf(v->a, "body.%s", field),
      gh_arena_printf(v->a, "Invalid input: expected string, received %s", gh_json_type_name(t)));
  return NULL;
}

const char *gh_v_string(gh_vctx *v, const gh_json *body, const char *field, bool required,
                        bool nullable, bool *present) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  if (present) *present = t != GH_JSON_UNDEFINED;
  char *path = gh_arena_printf(v->a, "body.%s", field);
  if (t == GH_JSON_STRING) {
    const char *s = gh_json_string(j);
    if (strlen(s) != gh_json_string_len(j)) {
      gh_v_issue(v, path, "Invalid input: string must not contain NUL characters");
      return NULL;
    }
    return s;
  }
  if (t == GH_JSON_UNDEFINED && !required) return NULL;
  if (t == GH_JSON_NULL && nullable) return NULL;
  gh_v_issue(
      v, path,
      gh_arena_printf(v->a, "Invalid input: expected string, received %s", gh_json_type_name(t)));
  return NULL;
}

bool gh_v_bool(gh_vctx *v, const gh_json *body, const char *field, bool dflt) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  if (t == GH_JSON_TRUE) return true;
  if (t == GH_JSON_FALSE) return false;
  if (t == GH_JSON_UNDEFINED) return dflt;
  gh_v_issue(
      v, gh_arena_printf(v->a, "body.%s", field),
      gh_arena_printf(v->a, "Invalid input: expected boolean, received %s", gh_json_type_name(t)));
  return dflt;
}

bool gh_v_fail(gh_vctx *v, gh_resp *resp) {
  if (!v->msg) return false;
  gh_resp_error_msg(resp, 400, "VALIDATION_ERROR", v->msg);
  return true;
}

/* zod 4's e-mail rule:
 * ^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$
 * plus the RFC 5321 length limit of 254. */
bool gh_email_valid(const char *e) {
  size_t n = strlen(e);
  if (n == 0 || n > 254 || e[0] == '.' || strstr(e, "..")) return false;
  const char *at = strchr(e, '@');
  if (!at || at == e || strchr(at + 1, '@')) return false;
  for (const char *p = e; p < at; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_'+-.", *p)) return false;
  char last = at[-1];
  if (!isalnum((unsigned char)last) && !strchr("_+-", last)) return false;
  const char *d = at + 1;
  const char *lastdot = strrchr(d, '.');
  if (!lastdot || lastdot == d) return false;
  const char *tld = lastdot + 1;
  if (strlen(tld) < 2) return false;
  for (const char *p = tld; *p; p++)
    if (!isalpha((unsigned char)*p)) return false;
  const char *p = d;
  while (p < lastdot) { /* labels: [A-Za-z0-9][A-Za-z0-9-]* '.' */
    if (!isalnum((unsigned char)*p)) return false;
    p++;
    while (p < lastdot && *p != '.') {
      if (!isalnum((unsigned char)*p) && *p != '-') return false;
      p++;
    }
    if (p < lastdot) p++; /* skip '.' */
  }
  return true;
}

/* ---------------------------------------------------------------- store */

gh_store *gh_auth_store(gh_resp *resp) {
  gh_store *st;
  gh_status rc = gh_store_thread(&st);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "connect");
    return NULL;
  }
  return st;
}

void gh_auth_db_error(gh_resp *resp, gh_status st, const char *what) {
  gh_log(GH_LOG_ERROR, "db.error", "op", what, "status", gh_status_str(st), NULL);
  gh_resp_remove_header(resp, "Set-Cookie", NULL, NULL);
  gh_resp_remove_header(resp, "set-auth-token", NULL, NULL);
  if (st == GH_ERR_DB_UNAVAILABLE || st == GH_ERR_BUSY || st == GH_ERR_SCHEMA || st == GH_ERR_DB)
    gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE);
  else
    gh_resp_error(resp, GH_E_INTERNAL);
}

/* ---------------------------------------------------------------- JSON shapes */

static gh_json *date_json(int64_t ms) {
  char b[GH_ISO_LEN];
  gh_iso8601(ms, b);
  return gh_json_str(b);
}

gh_json *gh_user_json(const gh_user *u) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "name", gh_json_str(u->name));
  gh_json_set_new(o, "email", gh_json_str(u->email));
  gh_json_set_new(o, "emailVerified", gh_json_bool(u->email_verified));
  gh_json_set_new(o, "image", gh_json_str(u->image));
  gh_json_set_new(o, "createdAt", date_json(u->created_at));
  gh_json_set_new(o, "updatedAt", date_json(u->updated_at));
  gh_json_set_new(o, "id", gh_json_str(u->id));
  return o;
}

gh_json *gh_session_json(const gh_session *s) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "expiresAt", date_json(s->expires_at));
  gh_json_set_new(o, "token", gh_json_str(s->token));
  gh_json_set_new(o, "createdAt", date_json(s->created_at));
  gh_json_set_new(o, "updatedAt", date_json(s->updated_at));
  gh_json_set_new(o, "ipAddress", gh_json_str(s->ip_address));
  gh_json_set_new(o, "userAgent", gh_json_str(s->user_agent));
  gh_json_set_new(o, "userId", gh_json_str(s->user_id));
  gh_json_set_new(o, "id", gh_json_str(s->id));
  return o;
}

/* ---------------------------------------------------------------- cookies */

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
  gh_resp_remove_header(resp, "set-auth-token", NULL, NULL);
  gh_resp_remove_header(resp, "Access-Control-Expose-Headers", NULL, NULL);
  gh_bearer_set_auth_token(resp, signed_v);
}

void gh_clear_session_cookies(gh_auth *au, gh_resp *resp) {
  gh_resp_remove_header(resp, "set-auth-token", NULL, NULL);
  gh_resp_remove_header(resp, "Access-Control-Expose-Headers", NULL, NULL);
  put_cookie(au, resp, au->ck_session, "", 0);
  put_cookie(au, resp, au->ck_data, "", 0);
  put_cookie(au, resp, au->ck_dont_remember, "", 0);
}

/* ---------------------------------------------------------------- sessions */

gh_status gh_session_resolve(gh_auth *au, gh_store *st, gh_req *req, gh_sess *out) {
  gh_arena *a = req->arena;
  memset(out, 0, sizeof *out);
  const char *cookies = gh_req_header(req, "Cookie");
  const char *const *secrets = (const char *const *)au->verify_secrets;
  size_t nsecrets = au->nverify_secrets;
  bool stale = false;
  const char *token = gh_bearer_token(a, req, secrets, nsecrets, &stale);
  if (!token) {
    const char *raw = gh_cookie_get(a, cookies, au->ck_session);
    char *t;
    size_t which;
    if (raw && gh_cookie_verify_any(a, secrets, nsecrets, raw, &t, &which) == GH_OK) {
      token = t;
      stale = which > 0;
    }
  }
  if (!token) return GH_OK;
  out->present = true;
  out->token = token;
  out->stale = stale;
  const char *dr = gh_cookie_get(a, cookies, au->ck_dont_remember);
  char *drv;
  out->dont_remember = dr && gh_cookie_verify_any(a, secrets, nsecrets, dr, &drv, NULL) == GH_OK;
  gh_status rc = gh_store_session_by_token(st, a, token, &out->s, &out->u);
  if (rc == GH_ERR_NOT_FOUND) return GH_OK;
  if (rc != GH_OK) return rc;
  if (out->s.expires_at <= gh_now_ms()) {
    rc = gh_store_delete_session(st, token);
    if (rc != GH_OK) return rc;
    gh_log(GH_LOG_INFO, "session.expired", "session_id", out->s.id, "user_id", out->s.user_id,
           NULL);
    return GH_OK;
  }
  out->found = true;
  return GH_OK;
}

gh_status gh_session_refresh_if_due(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                    gh_sess *s) {
  int64_t now = gh_now_ms();
  int64_t exp_in = au->cfg.expires_in * 1000, upd = au->cfg.update_age * 1000;
  if (s->dont_remember || s->s.expires_at - exp_in + upd > now) {
    if (s->stale) { /* secret rotation: same session, cookie re-signed with the current secret */
      gh_set_session_cookie(au, req, resp, s->token, s->dont_remember);
      s->stale = false;
      gh_log(GH_LOG_INFO, "session.resigned", "session_id", s->s.id, "user_id", s->u.id, NULL);
    }
    return GH_OK;
  }
  int64_t new_exp = now + exp_in;
  gh_status rc = gh_store_touch_session(st, s->s.id, new_exp, now);
  if (rc != GH_OK) return rc;
  s->s.expires_at = new_exp;
  s->s.updated_at = now;
  gh_set_session_cookie(au, req, resp, s->token, false);
  gh_log(GH_LOG_INFO, "session.refreshed", "session_id", s->s.id, "user_id", s->u.id, NULL);
  return GH_OK;
}

bool gh_require_session(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, gh_sess *out) {
  gh_status rc = gh_session_resolve(au, st, req, out);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return false;
  }
  if (!out->found) {
    gh_resp_error(resp, GH_E_UNAUTHORIZED);
    if (out->present) gh_clear_session_cookies(au, resp);
    return false;
  }
  rc = gh_session_refresh_if_due(au, st, req, resp, out);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "touch_session");
    return false;
  }
  return true;
}

void gh_session_fill(gh_auth *au, gh_req *req, const char *user_id, bool dont_remember,
                     gh_session *s) {
  gh_arena *a = req->arena;
  int64_t now = gh_now_ms();
  memset(s, 0, sizeof *s);
  s->id = gh_arena_alloc(a, 33);
  gh_rand_id(s->id, 32);
  s->token = gh_arena_alloc(a, 33);
  gh_rand_id(s->token, 32);
  s->user_id = gh_arena_strdup(a, user_id);
  s->created_at = s->updated_at = now;
  s->expires_at = now + (dont_remember ? 86400 : au->cfg.expires_in) * 1000;
  s->ip_address = (char *)gh_client_ip(a, req, au->cfg.production);
  const char *ua = gh_req_header(req, "User-Agent");
  s->user_agent = gh_arena_strdup(a, ua ? ua : "");
}

gh_status gh_session_create(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, const gh_user *u,
                            bool dont_remember, gh_session *out) {
  gh_session_fill(au, req, u->id, dont_remember, out);
  gh_status rc = gh_store_create_session(st, out);
  if (rc != GH_OK) return rc;
  gh_set_session_cookie(au, req, resp, out->token, dont_remember);
  gh_log(GH_LOG_INFO, "session.created", "session_id", out->id, "user_id", u->id, NULL);
  return GH_OK;
}

bool gh_protected(gh_auth *au, gh_req *req, gh_resp *resp, bool state_changing, gh_store **st,
                  gh_sess *s) {
  if (state_changing && !gh_origin_check(au, req, resp, false)) return false;
  *st = gh_auth_store(resp);
  return *st && gh_require_session(au, *st, req, resp, s);
}

bool gh_check_credential(gh_store *st, gh_req *req, gh_resp *resp, const char *user_id,
                         const char *password, size_t len) {
  char *hash;
  gh_status rc = gh_store_credential_password(st, req->arena, user_id, &hash);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_resp_error(resp, GH_E_CREDENTIAL_ACCOUNT_NOT_FOUND);
    return false;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "credential_password");
    return false;
  }
  bool ok = false;
  if (gh_password_verify(password, len, hash, &ok) != GH_OK || !ok) {
    gh_log(GH_LOG_INFO, "password.check_failed", "user_id", user_id, "reason", "INVALID_PASSWORD",
           NULL);
    gh_resp_error(resp, GH_E_INVALID_PASSWORD);
    return false;
  }
  return true;
}

bool gh_check_new_password(gh_auth *au, gh_resp *resp, const char *password, size_t len) {
  size_t units = gh_utf16_length(password, len);
  if (units < (size_t)au->cfg.min_password) {
    gh_resp_error(resp, GH_E_PASSWORD_TOO_SHORT);
    return false;
  }
  if (units > (size_t)au->cfg.max_password) {
    gh_resp_error(resp, GH_E_PASSWORD_TOO_LONG);
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------- origin check */

static bool check_callback(gh_auth *au, gh_req *req, gh_resp *resp, const char *url, gh_err e) {
  if (!url || !*url) return true;
  if (gh_safe_relative_path(url) || gh_origin_trusted(&au->origins, req->arena, url)) return true;
  gh_resp_error(resp, e);
  return false;
}

bool gh_origin_check(gh_auth *au, gh_req *req, gh_resp *resp, bool form_csrf) {
  const char *origin = gh_req_header(req, "Origin");
  const char *referer = gh_req_header(req, "Referer");
  const char *cookie = gh_req_header(req, "Cookie");
  const char *sfs = gh_req_header(req, "Sec-Fetch-Site");
  const char *sfm = gh_req_header(req, "Sec-Fetch-Mode");
  const char *sfd = gh_req_header(req, "Sec-Fetch-Dest");
  if (origin && strcmp(origin, "null") == 0 && sfs && strcasecmp(sfs, "same-origin") == 0)
    origin = au->base_origin;
  const char *claimed = origin ? origin : referer;
  bool need = cookie != NULL;
  if (form_csrf) {
    if (sfs && strcasecmp(sfs, "cross-site") == 0 && sfm && strcasecmp(sfm, "navigate") == 0) {
      gh_resp_error(resp, GH_E_CROSS_SITE_NAVIGATION_LOGIN_BLOCKED);
      return false;
    }
    if (sfs || sfm || sfd || origin || referer) need = true;
  }
  if (need) {
    if (!claimed || !*claimed || strcmp(claimed, "null") == 0) {
      gh_resp_error(resp, GH_E_MISSING_OR_NULL_ORIGIN);
      return false;
    }
    if (!gh_origin_trusted(&au->origins, req->arena, claimed)) {
      gh_resp_error(resp, GH_E_INVALID_ORIGIN);
      return false;
    }
  }
  const gh_json *b = req->json;
  const char *cb = gh_json_string(gh_json_get(b, "callbackURL"));
  if (!cb) cb = gh_req_query(req, "callbackURL");
  return check_callback(au, req, resp, cb, GH_E_INVALID_CALLBACK_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "redirectTo")),
                        GH_E_INVALID_REDIRECT_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "errorCallbackURL")),
                        GH_E_INVALID_ERROR_CALLBACK_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "newUserCallbackURL")),
                        GH_E_INVALID_NEW_USER_CALLBACK_URL);
}
