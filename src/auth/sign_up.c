/* POST /sign-up/email (spec §1): JSON or form body; user + credential account + session in one
 * transaction. Runs on the worker pool (password hashing). */
#include <string.h>

#include "auth/internal.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/password.h"

void gh_route_sign_up(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_arena *a = req->arena;
  if (!gh_origin_check(au, req, resp, true)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) { /* zod: object().and(record()) */
    gh_v_object(&v, b, "record");
    gh_v_fail(&v, resp);
    return;
  }
  const char *name = gh_v_string(&v, b, "name", true, false, NULL);
  size_t elen, plen;
  const char *email = gh_v_string_n(&v, b, "email", true, &elen);
  if (email && (strlen(email) != elen || !gh_email_valid(email)))
    gh_v_issue(&v, "body.email", "Invalid email address");
  const char *password = gh_v_string_n(&v, b, "password", true, &plen);
  const char *image = gh_v_string(&v, b, "image", false, false, NULL);
  const char *callback = gh_v_string(&v, b, "callbackURL", false, false, NULL);
  bool remember = gh_v_bool(&v, b, "rememberMe", true);
  if (gh_v_fail(&v, resp)) return;

  if (!gh_check_new_password(au, resp, password, plen)) return;
  /* the plugins' additional fields (better-auth's parseUserInput, after the password checks) */
  gh_values extra = {0};
  if (!gh_fields_parse_input(a, resp, GH_MODEL_USER, b, true, &extra, NULL)) return;
  /* better-auth 1.5+: with verification required or autoSignIn off a taken e-mail answers like a
   * new one (a synthetic user, token null) after the same hashing work; the owner is told. */
  bool generic_duplicate = au->cfg.require_email_verification || au->cfg.auto_sign_in_off;
  bool skip_sign_in = generic_duplicate;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  char *lower = gh_ascii_lower(a, email);
  gh_user existing;
  gh_status rc = gh_store_user_by_email(st, a, lower, &existing);
  if (rc == GH_OK && generic_duplicate) {
    char hash[GH_PASSWORD_HASH_LEN + 1];
    if (gh_password_hash(password, plen, hash) != GH_OK) {
      gh_resp_error(resp, GH_E_FAILED_TO_CREATE_USER);
      return;
    }
    memset(hash, 0, sizeof hash);
    gh_user fake;
    gh_user_init(a, &fake, name, lower, image, gh_now_ms());
    if (extra.n) fake.extra = extra; /* the same shape as a real user's, plugin fields included */
    gh_audit(au, req, "sign_up.existing", existing.id, NULL, NULL, NULL, NULL);
    gh_hook_sign_up(au, st, req, &existing, false, callback);
    gh_json *o = gh_json_object();
    gh_json_set_new(o, "token", gh_json_null());
    gh_json_set_new(o, "user", gh_user_json(&fake));
    gh_resp_json(resp, 200, o);
    return;
  }
  if (rc == GH_OK) {
    gh_audit(au, req, "sign_up.rejected", NULL, "reason", "USER_ALREADY_EXISTS", NULL, NULL);
    gh_resp_error(resp, GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL);
    return;
  }
  if (rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "user_by_email");
    return;
  }

  char hash[GH_PASSWORD_HASH_LEN + 1];
  if (gh_password_hash(password, plen, hash) != GH_OK) {
    gh_resp_error(resp, GH_E_FAILED_TO_CREATE_USER);
    return;
  }
  int64_t now = gh_now_ms();
  gh_user u;
  gh_user_init(a, &u, name, lower, image, now);
  if (extra.n) u.extra = extra;
  gh_account acc;
  gh_credential_init(a, &acc, &u, hash, now);
  gh_session s;
  gh_session_fill(au, req, u.id, !remember, &s);

  rc = gh_store_create_user(st, &u, &acc, skip_sign_in ? NULL : &s);
  memset(hash, 0, sizeof hash);
  if (rc == GH_ERR_CONFLICT) {
    gh_resp_error(resp, GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "create_user");
    return;
  }
  gh_audit(au, req, "sign_up", u.id, NULL, NULL, NULL, NULL);
  gh_hook_user_created(au, st, &u);
  gh_hook_sign_up(au, st, req, &u, true, callback);
  gh_json *o = gh_json_object();
  if (skip_sign_in) {
    gh_json_set_new(o, "token", gh_json_null());
  } else {
    gh_log(GH_LOG_INFO, "session.created", "session_id", s.id, "user_id", u.id, NULL);
    gh_set_session_cookie(au, req, resp, s.token, !remember);
    gh_hook_session_created(au, st, req, resp, &s, &u);
    gh_json_set_new(o, "token", gh_json_str(s.token));
  }
  gh_json_set_new(o, "user", gh_user_json(&u));
  gh_resp_json(resp, 200, o);
}
