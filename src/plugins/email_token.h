/* better-auth's e-mail verification token: a compact JWS, header exactly {"alg":"HS256"}, key =
 * the secret's bytes, claims in better-auth's order: email (lower-case), updateTo?,
 * requestType?, userId?, iat, exp (spec §6.1). Verified like jose's jwtVerify with algorithms
 * [HS256]: an expired token (exp <= now) is told apart from any other failure. */
#ifndef GH_PLUGINS_EMAIL_TOKEN_H
#define GH_PLUGINS_EMAIL_TOKEN_H

#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct {
  const char *email, *update_to, *request_type, *user_id; /* NULL = absent */
  int64_t iat, exp;                                       /* seconds */
} gh_email_claims;

/* Signs claims (iat = now, exp = now + expires_in seconds; email and update_to lower-cased). */
char *gh_email_token_sign(gh_arena *a, const char *secret, const char *email, const char *update_to,
                          const char *request_type, const char *user_id, int64_t now_s,
                          int64_t expires_in);
/* GH_OK with the claims (on a); GH_ERR_NOT_FOUND when the signature is good but the token has
 * expired (TOKEN_EXPIRED); GH_ERR_INVALID for anything else (INVALID_TOKEN). */
GH_MUST_CHECK gh_status gh_email_token_verify(gh_arena *a, const char *secret, const char *token,
                                              int64_t now_s, gh_email_claims *out);

#endif
