/* better-auth's origin / CSRF checks (spec §8.1) and callback URL checks. */
#ifndef GH_AUTH_ORIGIN_CHECK_H
#define GH_AUTH_ORIGIN_CHECK_H

#include <stdbool.h>

#include "http/http.h"

typedef struct gh_auth gh_auth;

/* form_csrf: the sign-in/sign-up rules (Sec-Fetch-* and cross-site navigation). true = allowed;
 * false = the 403 is set. */
bool gh_origin_check(gh_auth *au, gh_req *req, gh_resp *resp, bool form_csrf);

/* A callbackURL / redirectTo value of a GET route (verify-email, reset-password/:token): NULL or
 * "" pass; otherwise a trusted absolute URL or a safe relative path, else the 403 e is set. */
bool gh_callback_check(gh_auth *au, gh_req *req, gh_resp *resp, const char *url, gh_err e);

#endif
