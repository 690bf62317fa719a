/* better-call signed cookie values: value "." base64(HMAC-SHA256(secret, value)) (standard
 * alphabet, '=' padded, 44 chars). The wire form is encodeURIComponent() of that. */
#ifndef GH_CRYPTO_COOKIE_SIGN_H
#define GH_CRYPTO_COOKIE_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"

void gh_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]);
/* Returns "value.signature" (NOT percent-encoded). */
char *gh_cookie_sign(gh_arena *a, const char *secret, const char *value);
/* Verifies a decoded signed value ("value.sig", split at the LAST dot). The signature must be
 * 44 chars ending in '='; it is base64-decoded and compared in constant time with the HMAC.
 * GH_OK + *value_out (arena) on success; GH_ERR_INVALID for a malformed value (no dot, empty
 * value, bad signature length) or a wrong signature. */
GH_MUST_CHECK gh_status gh_cookie_verify(gh_arena *a, const char *secret, const char *signed_value,
                                         char **value_out);
/* Secret rotation: tries each secret in order (the current one first). *which (optional) receives
 * the index of the secret that verified, so the caller can re-sign with the current one. */
GH_MUST_CHECK gh_status gh_cookie_verify_any(gh_arena *a, const char *const *secrets, size_t n,
                                             const char *signed_value, char **value_out,
                                             size_t *which);

#endif
