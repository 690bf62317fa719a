/* better-auth's bearer plugin: the session token in Authorization: Bearer, and set-auth-token on
 * every response that sets the session cookie (better-auth does it in an after-hook too). */
#include "plugins/bearer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/plugin.h"
#include "common/encoding.h"
#include "crypto/cookie_sign.h"
#include "plugins/plugins.h"

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

typedef struct {
  const gh_auth *au;
} bearer;

static gh_status init(gh_auth *au, const void *conf, void **self) {
  (void)conf;
  bearer *b = gh_xcalloc(1, sizeof *b);
  b->au = au;
  *self = b;
  return GH_OK;
}

static void bearer_free(void *self) {
  free(self);
}

static gh_status credential(void *self, gh_req *req, gh_credential *out) {
  bearer *b = self;
  size_t n;
  const char *const *secrets = gh_auth_verify_secrets(b->au, &n);
  out->token = gh_bearer_token(req->arena, req, secrets, n, &out->stale);
  return GH_OK;
}

/* The response sets a non-empty session cookie: expose its (decoded) signed value. */
static void after_route(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  bearer *b = self;
  const char *name = gh_auth_session_cookie(b->au);
  size_t nl = strlen(name);
  for (size_t i = 0; i < resp->nheaders; i++) {
    const gh_kv *h = &resp->headers[i];
    if (strcasecmp(h->name, "Set-Cookie") || strncmp(h->value, name, nl) || h->value[nl] != '=')
      continue;
    const char *v = h->value + nl + 1;
    size_t len = strcspn(v, ";");
    char *signed_value;
    if (len == 0 || gh_uri_decode(resp->arena, v, len, false, &signed_value) != GH_OK) return;
    gh_resp_header(resp, "set-auth-token", signed_value);
    gh_resp_header(resp, "Access-Control-Expose-Headers", "set-auth-token");
    return;
  }
}

const gh_plugin gh_plugin_bearer = {
    .id = "bearer",
    .summary = "`Authorization: Bearer <session token>` authenticates like the session cookie; "
               "responses that set the session cookie carry `set-auth-token`",
    .init = init,
    .free = bearer_free,
    .credential = credential,
    .after_route = after_route,
};
