/* Password checks shared by routes: the current password against the credential account, and
 * the length rule of a new one. */
#ifndef GH_AUTH_CREDENTIALS_H
#define GH_AUTH_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "store/store.h"

typedef struct gh_auth gh_auth;

/* Checks password against the user's credential account (400 CREDENTIAL_ACCOUNT_NOT_FOUND /
 * 400 INVALID_PASSWORD / DB errors answered here). Slow: worker pool only. */
bool gh_check_credential(gh_store *st, gh_req *req, gh_resp *resp, const char *user_id,
                         const char *password, size_t len);
/* min/max length rule of a new password (UTF-16 units): answers 400 PASSWORD_TOO_SHORT/LONG. */
bool gh_check_new_password(gh_auth *au, gh_resp *resp, const char *password, size_t len);

#endif
