/* POST /change-password, POST /verify-password (spec §1). Both run on the worker pool. */
#include <string.h>

#include "auth/internal.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/password.h"

void gh_route_change_password(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = req->arena};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  size_t new_len, cur_len;
  const char *new_pw = gh_v_string_n(&v, b, "newPassword", true, &new_len);
  const char *cur_pw = gh_v_string_n(&v, b, "currentPassword", true, &cur_len);
  bool revoke = gh_v_bool(&v, b, "revokeOtherSessions", false);
  if (gh_v_fail(&v, resp)) return;
  if (!gh_check_new_password(au, resp, new_pw, new_len)) return;
  if (!gh_check_credential(st, req, resp, s.u.id, cur_pw, cur_len)) return;
  char hash[GH_PASSWORD_HASH_LEN + 1];
  if (gh_password_hash(new_pw, new_len, hash) != GH_OK) {
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  gh_session ns;
  if (revoke) gh_session_fill(au, req, s.u.id, false, &ns);
  char acc_id[33];
  gh_rand_id(acc_id, 32);
  gh_status rc =
      gh_store_set_password(st, s.u.id, hash, acc_id, gh_now_ms(), revoke, revoke ? &ns : NULL);
  memset(hash, 0, sizeof hash);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "set_password");
    return;
  }
  gh_audit(au, req, "password.changed", s.u.id, "revoked_sessions", revoke ? "true" : "false", NULL,
           NULL);
  gh_json *o = gh_json_object();
  if (revoke) {
    gh_audit(au, req, "session.revoked", s.u.id, "scope", "all", NULL, NULL);
    gh_hook_session_revoked(au, st, s.u.id, NULL, NULL);
    gh_log(GH_LOG_INFO, "session.created", "session_id", ns.id, "user_id", s.u.id, NULL);
    gh_set_session_cookie(au, req, resp, ns.token, false);
    gh_hook_session_created(au, st, req, resp, &ns, &s.u);
    gh_json_set_new(o, "token", gh_json_str(ns.token));
  } else {
    gh_json_set_new(o, "token", gh_json_null());
  }
  gh_json_set_new(o, "user", gh_user_json(&s.u));
  gh_resp_json(resp, 200, o);
}

void gh_route_verify_password(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = req->arena};
  if (!gh_v_object(&v, req->json, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  size_t plen;
  const char *pw = gh_v_string_n(&v, req->json, "password", true, &plen);
  if (gh_v_fail(&v, resp)) return;
  if (!gh_check_credential(st, req, resp, s.u.id, pw, plen)) return;
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}
