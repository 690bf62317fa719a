/* better-auth's origin / CSRF checks (spec §8.1) and callback URL checks. */
#include "auth/origin_check.h"

#include <string.h>
#include <strings.h>

#include "auth/internal.h"

static bool check_callback(gh_auth *au, gh_req *req, gh_resp *resp, const char *url, gh_err e) {
  if (!url || !*url) return true;
  bool ctl = false; /* never a header line break (or any control) into a Location */
  for (const unsigned char *p = (const unsigned char *)url; *p; p++)
    ctl = ctl || *p < 0x20 || *p == 0x7f;
  if (!ctl && (gh_safe_relative_path(url) || gh_origin_trusted(&au->origins, req->arena, url)))
    return true;
  gh_resp_error(resp, e);
  return false;
}

bool gh_callback_check(gh_auth *au, gh_req *req, gh_resp *resp, const char *url, gh_err e) {
  return check_callback(au, req, resp, url, e);
}

static bool check(gh_auth *au, gh_req *req, gh_resp *resp, bool form_csrf) {
  const char *origin = gh_req_header(req, "Origin");
  const char *referer = gh_req_header(req, "Referer");
  const char *cookie = gh_req_header(req, "Cookie");
  const char *sfs = gh_req_header(req, "Sec-Fetch-Site");
  const char *sfm = gh_req_header(req, "Sec-Fetch-Mode");
  const char *sfd = gh_req_header(req, "Sec-Fetch-Dest");
  if (origin && strcmp(origin, "null") == 0 && sfs && strcasecmp(sfs, "same-origin") == 0)
    origin = au->base_origin;
  const char *claimed = origin ? origin : referer;
  bool need = cookie != NULL;
  if (form_csrf) {
    if (sfs && strcasecmp(sfs, "cross-site") == 0 && sfm && strcasecmp(sfm, "navigate") == 0) {
      gh_resp_error(resp, GH_E_CROSS_SITE_NAVIGATION_LOGIN_BLOCKED);
      return false;
    }
    if (sfs || sfm || sfd || origin || referer) need = true;
  }
  if (need) {
    if (!claimed || !*claimed || strcmp(claimed, "null") == 0) {
      gh_resp_error(resp, GH_E_MISSING_OR_NULL_ORIGIN);
      return false;
    }
    if (!gh_origin_trusted(&au->origins, req->arena, claimed)) {
      gh_resp_error(resp, GH_E_INVALID_ORIGIN);
      return false;
    }
  }
  const gh_json *b = req->json;
  const char *cb = gh_json_string(gh_json_get(b, "callbackURL"));
  if (!cb) cb = gh_req_query(req, "callbackURL");
  return check_callback(au, req, resp, cb, GH_E_INVALID_CALLBACK_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "redirectTo")),
                        GH_E_INVALID_REDIRECT_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "errorCallbackURL")),
                        GH_E_INVALID_ERROR_CALLBACK_URL) &&
         check_callback(au, req, resp, gh_json_string(gh_json_get(b, "newUserCallbackURL")),
                        GH_E_INVALID_NEW_USER_CALLBACK_URL);
}

bool gh_origin_check(gh_auth *au, gh_req *req, gh_resp *resp, bool form_csrf) {
  if (check(au, req, resp, form_csrf)) return true;
  const char *origin = gh_req_header(req, "Origin");
  if (!origin) origin = gh_req_header(req, "Referer");
  if (origin && strlen(origin) > 256) origin = gh_arena_strndup(req->arena, origin, 256);
  gh_audit(au, req, "origin.rejected", NULL, "origin", origin, "path", req->path);
  return false;
}
