/* TOTP as better-auth's two-factor plugin computes it (@better-auth/utils otp, RFC 4226/6238):
 * HMAC-SHA1 keyed with the raw bytes of the secret (better-auth: the UTF-8 bytes of its 32-char
 * secret string), dynamic truncation, 6 digits, 30 s steps, accepted ±1 step; the otpauth:// URI
 * of an authenticator app (base32 of the key, RFC 4648 without padding); and the enrollment QR
 * code of that URI as an SVG data URI (libqrencode). */
#ifndef GH_PLUGINS_TOTP_H
#define GH_PLUGINS_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

#define GH_TOTP_MAX_DIGITS 8

/* HOTP of counter: digits (1..8) decimal digits into out (digits + 1 bytes, NUL-terminated). */
void gh_hotp(const void *key, size_t klen, uint64_t counter, int digits, char *out);

/* Checks code against the steps floor(unix_s / period) - window .. + window, each compared in
 * constant time (every step is computed, whatever matched). true + *step (the newest matching
 * step) when one matches. A code of the wrong length never matches. */
bool gh_totp_verify(const void *key, size_t klen, const char *code, int64_t unix_s, int period,
                    int digits, int window, int64_t *step);

/* RFC 4648 base32 (upper case, no padding), on the arena. */
char *gh_base32_encode(gh_arena *a, const void *in, size_t n);
/* Decodes base32 (upper or lower case, padding and spaces ignored). GH_ERR_INVALID on other
 * characters. *out on the arena (NUL-terminated; *n excludes it). */
GH_MUST_CHECK gh_status gh_base32_decode(gh_arena *a, const char *in, uint8_t **out, size_t *n);

/* createOTP(secret).url(issuer, account): otpauth://totp/<enc(issuer)>:<enc(account)>?secret=
 * <BASE32>&issuer=<form-encoded>&digits=<d>&period=<p> (encodeURIComponent in the path,
 * URLSearchParams in the query, as better-auth). */
char *gh_totp_uri(gh_arena *a, const void *key, size_t klen, const char *issuer,
                  const char *account, int digits, int period);

/* The QR code of text as "data:image/svg+xml;base64,..." (error correction M, 4-module quiet
 * zone), on the arena; NULL when libqrencode cannot encode it (too long). */
char *gh_qr_svg_data_uri(gh_arena *a, const char *text);

#endif
