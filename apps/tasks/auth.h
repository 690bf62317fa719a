/* gatehouse-tasks auth glue: who is calling, from the request's Authorization header and session
 * cookie, through libgatehouse-verify (include/gatehouse/verify.h).
 *
 *   jwt      Authorization: Bearer <JWT>, verified locally against gatehouse's JWKS (cached).
 *   session  delegation: the better-auth session cookie (better-auth.session_token or its
 *            __Secure- variant) or a bearer session token is checked with gatehouse's
 *            get-session on every request (revocation is immediate; gatehouse must be up).
 *   any      a bearer with three dot-separated parts is a JWT; any other credential is delegated.
 *
 * In every mode, when TASKS_SERVICE_TOKEN is set, an `x-api-key` header is checked with
 * gatehouse's POST /api/auth/api-key/verify (a short positive cache, fail closed), its scopes
 * tasks:read / tasks:write taken from the key's permissions.
 *
 * Outcomes: 200 (principal filled), 401 (no / invalid / expired credential, whatever the reason
 * the token does not verify), 503 (gatehouse or its JWKS cannot be reached: fail closed). Tokens
 * and cookies are never logged. */
#ifndef GH_TASKS_AUTH_H
#define GH_TASKS_AUTH_H

#include <gatehouse/verify.h>
#include "common/status.h"
#include "config.h"
#include "http/http.h"

typedef struct tasks_auth tasks_auth;

GH_MUST_CHECK gh_status tasks_auth_new(const tasks_config *c, tasks_auth **out, const char **err);
void tasks_auth_free(tasks_auth *a);

typedef struct {
  int http_status;    /* 200, 401, 429 (an API key over its limits), 503 or 500 */
  ghv_status st;      /* the verifier's answer (GHV_ERR_UNAUTHENTICATED when nothing was sent) */
  const char *reason; /* short, safe for logs and the error message */
  /* An API key (x-api-key): its scopes, from its permissions {"tasks":["read","write"]}.
   * Sessions and JWTs hold every scope. */
  bool api_key;
  bool can_read, can_write;
} tasks_auth_result;

/* Authenticates req. On 200, *user_id is the caller's id (on req's arena). */
tasks_auth_result tasks_auth_check(tasks_auth *a, const gh_req *req, char **user_id);

#endif
