/* The session cookies: better-auth.session_token (signed), .dont_remember, .session_data. */
#ifndef GH_AUTH_COOKIES_H
#define GH_AUTH_COOKIES_H

#include <stdbool.h>

#include <stdint.h>

#include "http/http.h"

typedef struct gh_auth gh_auth;

/* Sets the signed session cookie (Max-Age = session lifetime unless dont_remember, then a
 * session cookie plus a signed dont_remember cookie; a stale dont_remember cookie is cleared). */
void gh_set_session_cookie(gh_auth *au, gh_req *req, gh_resp *resp, const char *token,
                           bool dont_remember);
void gh_clear_session_cookies(gh_auth *au, gh_resp *resp);
/* A plugin's own signed cookie (admin's admin_session, two-factor's two_factor, ...): named
 * "<cookie prefix><name>" ("better-auth.admin_session", with __Secure- on https), signed with the
 * current secret, the session cookie's attributes; max_age < 0: none. */
void gh_set_signed_cookie(gh_auth *au, gh_resp *resp, const char *name, const char *value,
                          int64_t max_age);
/* Its verified value from the request (any configured secret), on the request arena; NULL when
 * absent or not correctly signed. */
const char *gh_get_signed_cookie(gh_auth *au, gh_req *req, const char *name);
/* Expires it (empty value, Max-Age=0). */
void gh_expire_cookie(gh_auth *au, gh_resp *resp, const char *name);
/* The session lifetime in seconds (Max-Age of the session cookie). */
int64_t gh_auth_session_max_age(const gh_auth *au);

#endif
