/* better-auth bearer plugin (spec §7.2): Authorization: Bearer <signed or raw session token>
 * authenticates like the session cookie; responses that set the session cookie also carry
 * set-auth-token. The descriptor is gh_plugin_bearer (plugins/plugins.h); this header is the
 * plugin's parser, for its fuzz harness. */
#ifndef GH_PLUGINS_BEARER_H
#define GH_PLUGINS_BEARER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "http/http.h"

/* The session token carried by an Authorization: Bearer header, signature verified against any of
 * secrets (current first); NULL when there is none or it does not verify. *stale (optional) is
 * set when an older secret verified it. A raw token (no dot) is accepted as is. */
const char *gh_bearer_token(gh_arena *a, const gh_req *req, const char *const *secrets, size_t n,
                            bool *stale);

#endif
