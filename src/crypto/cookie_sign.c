/* better-call signed cookies (BC/crypto.ts signCookieValue, BC/context.ts getSignedCookie). */
#include "crypto/cookie_sign.h"

#include <sodium.h>
#include <string.h>
#include "common/encoding.h"

#define SIG_B64_LEN 44 /* base64 of 32 bytes, '=' padded */

void gh_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]) {
  static const unsigned char empty[1] = {0};
  crypto_auth_hmacsha256_state st;
  /* libsodium hashes keys longer than the block size, like RFC 2104: any key length works. */
  crypto_auth_hmacsha256_init(&st, key && key_len ? key : empty, key ? key_len : 0);
  crypto_auth_hmacsha256_update(&st, msg && msg_len ? msg : empty, msg ? msg_len : 0);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

char *gh_cookie_sign(gh_arena *a, const char *secret, const char *value) {
  if (!a || !secret || !value) return NULL;
  size_t n = strlen(value);
  uint8_t mac[32];
  gh_hmac_sha256(secret, strlen(secret), value, n, mac);
  char *out = gh_arena_alloc(a, n + 1 + SIG_B64_LEN + 1);
  memcpy(out, value, n);
  out[n] = '.';
  gh_b64_encode(mac, sizeof mac, out + n + 1, false, true); /* NUL-terminates */
  sodium_memzero(mac, sizeof mac);
  return out;
}

/* Standard base64 alphabet only ('=' excluded): what atob() accepts besides padding. */
static bool b64_std_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

gh_status gh_cookie_verify(gh_arena *a, const char *secret, const char *signed_value,
                           char **value_out) {
  if (value_out) *value_out = NULL;
  if (!a || !secret || !signed_value) return GH_ERR_INVALID;
  const char *dot = strrchr(signed_value, '.');
  if (!dot || dot == signed_value) return GH_ERR_INVALID; /* no dot, or empty value */
  const char *sig = dot + 1;
  size_t value_len = (size_t)(dot - signed_value);
  if (strlen(sig) != SIG_B64_LEN || sig[SIG_B64_LEN - 1] != '=') return GH_ERR_INVALID;
  /* atob(): 43 alphabet chars + '=' decode to 32 bytes; the low 2 bits of the 43rd char are
   * unused and ignored (wire spec §12), so compare decoded bytes, not strings. */
  for (size_t i = 0; i < SIG_B64_LEN - 1; i++)
    if (!b64_std_char(sig[i])) return GH_ERR_INVALID;
  uint8_t got[SIG_B64_LEN * 3 / 4 + 3];
  size_t got_len = 0;
  if (gh_b64_decode(sig, SIG_B64_LEN, false, got, &got_len) != GH_OK || got_len != 32)
    return GH_ERR_INVALID;
  uint8_t want[32];
  gh_hmac_sha256(secret, strlen(secret), signed_value, value_len, want);
  bool match = gh_ct_equal(got, want, sizeof want);
  sodium_memzero(want, sizeof want);
  if (!match) return GH_ERR_INVALID;
  if (value_out) *value_out = gh_arena_strndup(a, signed_value, value_len);
  return GH_OK;
}

gh_status gh_cookie_verify_any(gh_arena *a, const char *const *secrets, size_t n,
                               const char *signed_value, char **value_out, size_t *which) {
  if (value_out) *value_out = NULL;
  for (size_t i = 0; i < n; i++) {
    gh_status st = gh_cookie_verify(a, secrets[i], signed_value, value_out);
    if (st == GH_OK) {
      if (which) *which = i;
      return GH_OK;
    }
  }
  return GH_ERR_INVALID;
}
