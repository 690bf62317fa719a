/* better-auth bearer plugin (spec §7.2): Authorization: Bearer <signed or raw session token>
 * authenticates like the session cookie; responses that set the session cookie also carry
 * set-auth-token. */
#ifndef GH_PLUGINS_BEARER_H
#define GH_PLUGINS_BEARER_H

#include "common/arena.h"
#include "http/http.h"

/* The session token carried by an Authorization: Bearer header, signature verified; NULL when
 * there is none or it does not verify. */
const char *gh_bearer_token(gh_arena *a, const gh_req *req, const char *secret);
/* Adds set-auth-token (the signed value, not URL-encoded) and the expose header. */
void gh_bearer_set_auth_token(gh_resp *resp, const char *signed_value);

#endif
