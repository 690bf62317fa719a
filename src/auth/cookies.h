/* The session cookies: better-auth.session_token (signed), .dont_remember, .session_data. */
#ifndef GH_AUTH_COOKIES_H
#define GH_AUTH_COOKIES_H

#include <stdbool.h>

#include "http/http.h"

typedef struct gh_auth gh_auth;

/* Sets the signed session cookie (Max-Age = session lifetime unless dont_remember, then a
 * session cookie plus a signed dont_remember cookie; a stale dont_remember cookie is cleared). */
void gh_set_session_cookie(gh_auth *au, gh_req *req, gh_resp *resp, const char *token,
                           bool dont_remember);
void gh_clear_session_cookies(gh_auth *au, gh_resp *resp);

#endif
