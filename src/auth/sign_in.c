/* POST /sign-in/email (spec §1). Runs on the worker pool (password hashing). Unknown e-mails and
 * users without a credential account spend a dummy hash so timing does not reveal accounts. */
#include <string.h>

#include "auth/internal.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/time.h"
#include "crypto/password.h"

/* One audit line per failed sign-in, so that brute force can be seen: the reason, the client
 * (auth/audit.h), the lower-cased e-mail when it is one and the user id when the account exists.
 * Never the password. */
static void log_failure(gh_auth *au, gh_req *req, const char *reason, const char *email,
                        const char *user_id) {
  gh_audit(au, req, "sign_in.failure", user_id, "reason", reason, "email", email);
}

static void fail(gh_auth *au, gh_req *req, gh_resp *resp, const char *password, size_t plen,
                 const char *reason, const char *email, const char *user_id, bool dummy) {
  if (dummy) gh_password_dummy_verify(password, plen);
  log_failure(au, req, reason, email, user_id);
  if (au->throttle)
    gh_throttle_failed(au->throttle, gh_auth_client_address(au, req), email, gh_now_ms());
  gh_resp_error(resp, GH_E_INVALID_EMAIL_OR_PASSWORD);
}

void gh_route_sign_in(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_arena *a = req->arena;
  if (!gh_origin_check(au, req, resp, true)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  size_t elen, plen;
  const char *email = gh_v_string_n(&v, b, "email", true, &elen);
  const char *password = gh_v_string_n(&v, b, "password", true, &plen);
  const char *callback = gh_v_string(&v, b, "callbackURL", false, false, NULL);
  bool remember = gh_v_bool(&v, b, "rememberMe", true);
  if (gh_v_fail(&v, resp)) return;
  if (strlen(email) != elen || !gh_email_valid(email)) {
    log_failure(au, req, "INVALID_EMAIL", NULL, NULL);
    gh_resp_error(resp, GH_E_INVALID_EMAIL);
    return;
  }
  if (gh_utf16_length(password, plen) > (size_t)au->cfg.max_password) {
    log_failure(au, req, "PASSWORD_TOO_LONG", gh_ascii_lower(a, email), NULL);
    gh_resp_error(resp, GH_E_PASSWORD_TOO_LONG);
    return;
  }
  char *lower = gh_ascii_lower(a, email);
  if (au->throttle) { /* before any hashing: a throttled guess costs nothing */
    long wait =
        gh_throttle_check(au->throttle, gh_auth_client_address(au, req), lower, gh_now_ms());
    if (wait > 0) {
      gh_audit(au, req, "sign_in.throttled", NULL, "email", lower, NULL, NULL);
      gh_resp_header(resp, "X-Retry-After", gh_arena_printf(a, "%ld", wait));
      gh_resp_raw_json(resp, 429, "{\"message\":\"Too many requests. Please try again later.\"}");
      return;
    }
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_user u;
  gh_status rc = gh_store_user_by_email(st, a, lower, &u);
  if (rc == GH_ERR_NOT_FOUND) {
    fail(au, req, resp, password, plen, "USER_NOT_FOUND", lower, NULL, true);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "user_by_email");
    return;
  }
  char *hash;
  rc = gh_store_credential_password(st, a, u.id, &hash);
  if (rc == GH_ERR_NOT_FOUND) {
    fail(au, req, resp, password, plen, "NO_CREDENTIAL_ACCOUNT", lower, u.id, true);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "credential_password");
    return;
  }
  bool ok = false;
  if (gh_password_verify(password, plen, hash, &ok) != GH_OK || !ok) {
    fail(au, req, resp, password, plen, "INVALID_PASSWORD", lower, u.id, false);
    return;
  }

  gh_sign_in si = {.user = &u, .method = "email", .dont_remember = !remember, .callback = callback};
  if (!gh_hook_sign_in(au, st, req, resp, &si)) {
    gh_audit(au, req, "sign_in.gated", u.id, "status", gh_arena_printf(a, "%d", resp->status), NULL,
             NULL);
    if (au->throttle) gh_throttle_succeeded(au->throttle, gh_auth_client_address(au, req), lower);
    return;
  }
  gh_session s;
  rc = gh_session_create(au, st, req, resp, &u, !remember, &s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "create_session");
    return;
  }
  gh_audit(au, req, "sign_in.success", u.id, "session_id", s.id, NULL, NULL);
  if (au->throttle) gh_throttle_succeeded(au->throttle, gh_auth_client_address(au, req), lower);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "redirect", gh_json_bool(callback != NULL));
  gh_json_set_new(o, "token", gh_json_str(s.token));
  if (callback) {
    gh_json_set_new(o, "url", gh_json_str(callback));
    gh_resp_header(resp, "Location", callback);
  }
  gh_json_set_new(o, "user", gh_user_json(&u));
  gh_resp_json(resp, 200, o);
}
