#include "plugins/bearer.h"

#include <string.h>
#include <strings.h>

#include "common/encoding.h"
#include "crypto/cookie_sign.h"

const char *gh_bearer_token(gh_arena *a, const gh_req *req, const char *const *secrets,
                            size_t nsecrets, bool *stale) {
  if (stale) *stale = false;
  const char *h = gh_req_header(req, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  const char *t = h + 7;
  while (*t == ' ') t++;
  size_t n = strlen(t);
  while (n && t[n - 1] == ' ') n--;
  if (n == 0 || n > 512) return NULL;
  char *val = gh_arena_strndup(a, t, n);
  if (!strchr(val, '.')) return val; /* raw token: the server signs it itself */
  if (strchr(val, '%')) {
    char *dec;
    if (gh_uri_decode(a, val, n, false, &dec) != GH_OK) return NULL;
    val = dec;
  }
  char *token;
  size_t which;
  if (gh_cookie_verify_any(a, secrets, nsecrets, val, &token, &which) != GH_OK) return NULL;
  if (stale) *stale = which > 0;
  return token;
}

void gh_bearer_set_auth_token(gh_resp *resp, const char *signed_value) {
  gh_resp_header(resp, "set-auth-token", signed_value);
  gh_resp_header(resp, "Access-Control-Expose-Headers", "set-auth-token");
}
