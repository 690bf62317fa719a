/* POST /update-user, POST /delete-user (spec §1, §12). */
#include <string.h>

#include "auth/internal.h"
#include "common/log.h"
#include "common/time.h"
#include "crypto/password.h"

void gh_route_update_user(void *app, gh_req *req, gh_resp *resp) {
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
  bool has_name, has_image;
  const char *name = gh_v_string(&v, b, "name", false, false, &has_name);
  const char *image = gh_v_string(&v, b, "image", false, true, &has_image);
  if (gh_v_fail(&v, resp)) return;
  if (gh_json_get(b, "email")) {
    gh_resp_error(resp, GH_E_EMAIL_CAN_NOT_BE_UPDATED);
    return;
  }
  gh_values extra = {0};
  size_t nextra = 0;
  if (!gh_fields_parse_input(req->arena, resp, GH_MODEL_USER, b, false, &extra, &nextra)) return;
  if (!has_name && !has_image && !nextra) {
    gh_resp_error(resp, GH_E_NO_FIELDS_TO_UPDATE);
    return;
  }
  size_t nf = gh_store_fields_count(gh_store_fields_current(), GH_MODEL_USER);
  gh_store_set *set = gh_arena_alloc(req->arena, (nf + 2) * sizeof *set);
  size_t n = 0;
  if (has_name) set[n++] = (gh_store_set){"name", {.set = true, .text = (char *)name}};
  if (has_image)
    set[n++] = (gh_store_set){"image", {.set = true, .null = !image, .text = (char *)image}};
  gh_fields_update_set(GH_MODEL_USER, b, &extra, set, &n);
  gh_status rc = gh_store_update_user_columns(st, s.u.id, set, n, gh_now_ms());
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "update_user");
    return;
  }
  gh_log(GH_LOG_INFO, "user.updated", "user_id", s.u.id, NULL);
  gh_set_session_cookie(au, req, resp, s.token, s.dont_remember);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

/* Runs on the worker pool when a password is given. */
void gh_route_delete_user(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  if (!au->cfg.delete_user_enabled) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = req->arena};
  const gh_json *b = req->json;
  const char *password = NULL;
  size_t plen = 0;
  if (b) {
    if (!gh_v_object(&v, b, "object")) {
      gh_v_fail(&v, resp);
      return;
    }
    password = gh_v_string_n(&v, b, "password", false, &plen);
    gh_v_string(&v, b, "callbackURL", false, false, NULL);
    gh_v_string(&v, b, "token", false, false, NULL);
    if (gh_v_fail(&v, resp)) return;
  }
  if (password) {
    if (!gh_check_credential(st, req, resp, s.u.id, password, plen)) return;
  } else if (au->cfg.fresh_age > 0 && gh_now_ms() - s.s.created_at >= au->cfg.fresh_age * 1000) {
    gh_resp_error(resp, GH_E_SESSION_EXPIRED);
    return;
  }
  gh_status rc = gh_store_delete_user(st, s.u.id);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "delete_user");
    return;
  }
  gh_audit(au, req, "user.deleted", s.u.id, NULL, NULL, NULL, NULL);
  gh_hook_user_deleted(au, st, s.u.id);
  gh_clear_session_cookies(au, resp);
  gh_resp_raw_json(resp, 200, "{\"success\":true,\"message\":\"User deleted\"}");
}
