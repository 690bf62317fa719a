/* Session resolution, the session middleware, rolling refresh, new sessions, and the preamble of
 * protected routes. */
#include "auth/sessions.h"

#include <string.h>

#include "auth/internal.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/cookie_sign.h"
#include "http/cookie.h"

gh_status gh_session_resolve(gh_auth *au, gh_store *st, gh_req *req, gh_sess *out) {
  gh_arena *a = req->arena;
  memset(out, 0, sizeof *out);
  const char *cookies = gh_req_header(req, "Cookie");
  const char *const *secrets = (const char *const *)au->verify_secrets;
  size_t nsecrets = au->nverify_secrets;
  gh_credential cred = {0};
  gh_status rc = gh_hook_credential(au, req, &cred);
  if (rc != GH_OK) return rc;
  if (cred.refuse) {
    out->refused = cred.refuse;
    out->refused_body = cred.refuse_body;
    return GH_OK;
  }
  if (cred.resolved) { /* a plugin's own identity (API key): no session row to look up */
    out->present = out->found = true;
    out->s = cred.session;
    out->u = cred.user;
    out->token = cred.session.token ? cred.session.token : "";
    out->resolved = true;
    out->answer = cred.answer;
    return GH_OK;
  }
  bool stale = cred.stale;
  const char *token = cred.token;
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
  rc = gh_store_session_by_token(st, a, token, &out->s, &out->u);
  if (rc == GH_ERR_NOT_FOUND) return GH_OK;
  if (rc != GH_OK) return rc;
  if (out->s.expires_at <= gh_now_ms()) {
    rc = gh_store_delete_session(st, token);
    if (rc != GH_OK) return rc;
    gh_log(GH_LOG_INFO, "session.expired", "session_id", out->s.id, "user_id", out->s.user_id,
           NULL);
    gh_hook_session_revoked(au, st, out->s.user_id, token, NULL);
    return GH_OK;
  }
  out->found = true;
  return GH_OK;
}

gh_status gh_session_refresh_if_due(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                    gh_sess *s) {
  if (s->resolved) return GH_OK; /* a plugin's identity: no cookie session to refresh */
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

void gh_session_refusal(gh_resp *resp, const gh_sess *s) {
  if (s->refused_body)
    gh_resp_raw_json(resp, s->refused->status, s->refused_body);
  else
    gh_resp_error_msg(resp, s->refused->status, s->refused->code, s->refused->message);
}

bool gh_require_session(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, gh_sess *out) {
  gh_status rc = gh_session_resolve(au, st, req, out);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return false;
  }
  if (out->refused) {
    gh_session_refusal(resp, out);
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
  gh_values_init(a, &s->extra, GH_MODEL_SESSION);
}

gh_status gh_session_create(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, const gh_user *u,
                            bool dont_remember, gh_session *out) {
  gh_session_fill(au, req, u->id, dont_remember, out);
  gh_status rc = gh_store_create_session(st, out);
  if (rc != GH_OK) return rc;
  gh_set_session_cookie(au, req, resp, out->token, dont_remember);
  gh_log(GH_LOG_INFO, "session.created", "session_id", out->id, "user_id", u->id, NULL);
  gh_hook_session_created(au, st, req, resp, out, u);
  return GH_OK;
}

bool gh_protected(gh_auth *au, gh_req *req, gh_resp *resp, bool state_changing, gh_store **st,
                  gh_sess *s) {
  if (state_changing && !gh_origin_check(au, req, resp, false)) return false;
  *st = gh_auth_store(resp);
  return *st && gh_require_session(au, *st, req, resp, s);
}
