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

/* Any other better-auth cookie (createAuthCookie): the full name of suffix ("state" →
 * "better-auth.state" or "__Secure-better-auth.state"), on a. */
char *gh_auth_cookie_name(gh_auth *au, gh_arena *a, const char *suffix);
/* Sets cookie name to value signed with the current secret (better-call setSignedCookie), with the
 * session cookie's attributes and Max-Age max_age (0: expires it, value ignored). */
void gh_set_signed_cookie(gh_auth *au, gh_resp *resp, const char *name, const char *value,
                          int64_t max_age);
/* The value of signed cookie name verified against every secret; NULL when absent or bad. */
const char *gh_get_signed_cookie(gh_auth *au, gh_req *req, const char *name);

#endif
