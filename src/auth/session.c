/* Session routes: get-session, list-sessions, revoke-session(s), revoke-other-sessions, sign-out
 * (spec §1, §3). */
#include <string.h>

#include "auth/internal.h"
#include "common/log.h"
#include "common/time.h"

static gh_json *session_user_json(const gh_sess *s) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "session", gh_session_json(&s->s));
  gh_json_set_new(o, "user", gh_user_json(&s->u));
  return o;
}

/* better-auth's z.coerce.boolean on a query value: any non-empty string is true. */
static bool query_flag(gh_req *req, const char *name) {
  const char *v = gh_req_query(req, name);
  return v && *v;
}

void gh_route_get_session(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_resp_header(resp, "Cache-Control", "no-store");
  gh_resp_header(resp, "Pragma", "no-cache");
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_sess s;
  gh_status rc = gh_session_resolve(au, st, req, &s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return;
  }
  if (s.refused) {
    gh_session_refusal(resp, &s);
    return;
  }
  if (!s.found) {
    if (s.present) gh_clear_session_cookies(au, resp);
    gh_resp_raw_json(resp, 200, "null");
    return;
  }
  if (s.resolved && s.answer) { /* a plugin's identity answered in its own shape */
    gh_resp_raw_json(resp, 200, s.answer);
    return;
  }
  if (!query_flag(req, "disableRefresh")) {
    rc = gh_session_refresh_if_due(au, st, req, resp, &s);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "touch_session");
      return;
    }
  }
  gh_hook_session_returned(au, st, req, resp, &s);
  gh_resp_json(resp, 200, session_user_json(&s));
}

void gh_route_get_session_post(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  (void)req;
  gh_resp_error(resp, GH_E_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED);
}

/* POST /update-session: the session's additional fields a client may set (better-auth's
 * parseSessionInput with "update"); answers {"session": ...}. */
void gh_route_update_session(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = req->arena};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "record")) {
    gh_v_fail(&v, resp);
    return;
  }
  size_t nset = 0;
  gh_values vals = s.s.extra;
  if (vals.n) { /* a copy: the values read stay as they were until the update succeeds */
    vals.v = gh_arena_alloc(req->arena, vals.n * sizeof *vals.v);
    memcpy(vals.v, s.s.extra.v, vals.n * sizeof *vals.v);
  }
  if (!gh_fields_parse_input(req->arena, resp, GH_MODEL_SESSION, b, false, &vals, &nset)) return;
  if (!nset) {
    gh_resp_error(resp, GH_E_NO_FIELDS_TO_UPDATE);
    return;
  }
  size_t nf = gh_store_fields_count(gh_store_fields_current(), GH_MODEL_SESSION);
  gh_store_set *set = gh_arena_alloc(req->arena, (nf + 1) * sizeof *set);
  size_t n = 0;
  gh_fields_update_set(GH_MODEL_SESSION, b, &vals, set, &n);
  int64_t now = gh_now_ms();
  gh_status rc = gh_store_update_session_columns(st, s.s.id, set, n, now);
  if (rc == GH_ERR_NOT_FOUND) { /* revoked meanwhile: fail closed */
    gh_clear_session_cookies(au, resp);
    gh_resp_error(resp, GH_E_FAILED_TO_GET_SESSION);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "update_session");
    return;
  }
  s.s.extra = vals;
  s.s.updated_at = now;
  gh_set_session_cookie(au, req, resp, s.token, s.dont_remember);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "session", gh_session_json(&s.s));
  gh_resp_json(resp, 200, o);
}

void gh_route_list_sessions(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, false, &st, &s)) return;
  int64_t now = gh_now_ms();
  if (au->cfg.fresh_age > 0 && now - s.s.created_at >= au->cfg.fresh_age * 1000) {
    gh_resp_error(resp, GH_E_SESSION_NOT_FRESH);
    return;
  }
  gh_session *list;
  size_t n;
  gh_status rc = gh_store_list_sessions(st, req->arena, s.u.id, now, &list, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_sessions");
    return;
  }
  gh_json *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, gh_session_json(&list[i]));
  gh_resp_json(resp, 200, arr);
}

static void status_true(gh_resp *resp) {
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

void gh_route_revoke_session(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = req->arena};
  if (!gh_v_object(&v, req->json, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  const char *token = gh_v_string(&v, req->json, "token", true, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  gh_status rc = gh_store_delete_user_session(st, s.u.id, token);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "revoke_session");
    return;
  }
  gh_audit(au, req, "session.revoked", s.u.id, "scope", "one", NULL, NULL);
  gh_hook_session_revoked(au, st, s.u.id, token, NULL);
  if (strcmp(token, s.token) == 0) gh_clear_session_cookies(au, resp);
  status_true(resp);
}

void gh_route_revoke_sessions(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_status rc = gh_store_delete_user_sessions(st, s.u.id, NULL);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "revoke_sessions");
    return;
  }
  gh_audit(au, req, "session.revoked", s.u.id, "scope", "all", NULL, NULL);
  gh_hook_session_revoked(au, st, s.u.id, NULL, NULL);
  gh_clear_session_cookies(au, resp);
  status_true(resp);
}

void gh_route_revoke_other_sessions(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_status rc = gh_store_delete_user_sessions(st, s.u.id, s.token);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "revoke_other_sessions");
    return;
  }
  gh_audit(au, req, "session.revoked", s.u.id, "scope", "others", NULL, NULL);
  gh_hook_session_revoked(au, st, s.u.id, NULL, s.token);
  status_true(resp);
}

void gh_route_sign_out(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  if (!gh_origin_check(au, req, resp, false)) return;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_sess s;
  gh_status rc = gh_session_resolve(au, st, req, &s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return;
  }
  if (s.refused) {
    gh_session_refusal(resp, &s);
    return;
  }
  if (s.present && !s.resolved) {
    rc = gh_store_delete_session(st, s.token);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "delete_session");
      return;
    }
    if (s.found) gh_hook_session_revoked(au, st, s.u.id, s.token, NULL);
  }
  if (s.found) gh_audit(au, req, "sign_out", s.u.id, "session_id", s.s.id, NULL, NULL);
  gh_clear_session_cookies(au, resp);
  gh_resp_raw_json(resp, 200, "{\"success\":true}");
}

void gh_route_ok(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  (void)req;
  gh_resp_raw_json(resp, 200, "{\"ok\":true}");
}
