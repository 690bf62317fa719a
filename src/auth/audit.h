/* Audit lines: one JSON log line per security event (sign-up, sign-in, sign-out, session revoked,
 * password changed, user deleted, origin rejected, rate-limited) with the client (better-auth's
 * ip, the limits' client address, user agent cut to 256 bytes), the user id when known and up to
 * two more fields. Info level: the log rate limit never drops these. Never a secret. */
#ifndef GH_AUTH_AUDIT_H
#define GH_AUTH_AUDIT_H

#include "http/http.h"

typedef struct gh_auth gh_auth;

/* k1/k2 may be NULL (then the line ends there). req NULL: an event outside a request (a CLI
 * command such as `gatehouse keys rotate`): no client, no user agent. */
void gh_audit(gh_auth *au, gh_req *req, const char *event, const char *user_id, const char *k1,
              const char *v1, const char *k2, const char *v2);

#endif
