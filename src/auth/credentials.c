/* Password checks shared by routes. */
#include "auth/credentials.h"

#include "auth/internal.h"
#include "common/encoding.h"
#include "common/log.h"
#include "crypto/password.h"

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
