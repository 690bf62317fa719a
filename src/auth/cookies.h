/* The session cookies: better-auth.session_token (signed), .dont_remember, .session_data. */
#ifndef GH_AUTH_COOKIES_H
#define GH_AUTH_COOKIES_H

#include <stdbool.h>

#include <stdint.h>

#include "common/arena.h"
#include "http/http.h"

typedef struct gh_auth gh_auth;

/* Sets the signed session cookie (Max-Age = session lifetime unless dont_remember, then a
 * session cookie plus a signed dont_remember cookie; a stale dont_remember cookie is cleared). */
void gh_set_session_cookie(gh_auth *au, gh_req *req, gh_resp *resp, const char *token,
                           bool dont_remember);
void gh_clear_session_cookies(gh_auth *au, gh_resp *resp);

/* --- any auth cookie, for plugins (two-factor's two_factor and trust_device, ...) ------------ */
/* The full name of the auth cookie called name: "better-auth.<name>" (or "__Secure-better-auth.
 * <name>" with an https base URL), on the arena. */
char *gh_auth_cookie_name(gh_auth *au, gh_arena *a, const char *name);
/* Sets full_name to value signed with the current secret (better-call's setSignedCookie), with the
 * auth cookies' attributes; max_age < 0: a browser-session cookie. An earlier Set-Cookie of the
 * same name in resp is replaced. */
void gh_set_signed_cookie(gh_auth *au, gh_resp *resp, const char *full_name, const char *value,
                          int64_t max_age);
/* Expires full_name (empty value, Max-Age=0), replacing an earlier Set-Cookie of it in resp. */
void gh_expire_cookie(gh_auth *au, gh_resp *resp, const char *full_name);
/* The value of the signed cookie full_name in the request, verified against every configured
 * secret (on the request arena); NULL when absent or badly signed. */
const char *gh_signed_cookie(gh_auth *au, gh_req *req, const char *full_name);

#endif
