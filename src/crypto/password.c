/* better-auth password hashing (BA/crypto/password.ts): scrypt N=16384 r=16 p=1 dkLen=64 over
 * NFKC(password), salt = the ASCII bytes of a 32-char lower-case hex string. */
#include "crypto/password.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>
#include "common/encoding.h"

#define SCRYPT_N 16384
#define SCRYPT_R 16
#define SCRYPT_P 1
#define KEY_LEN 64
#define SALT_BYTES 16
#define SALT_HEX_LEN (2 * SALT_BYTES)
#define KEY_HEX_LEN (2 * KEY_LEN)

/* Any fixed salt of the usual shape: the dummy run must cost exactly what a real verify costs. */
static const char DUMMY_SALT[] = "67617465686f7573652d64756d6d7900";

char *gh_nfkc(const char *s, size_t len, size_t *out_len) {
  static const char empty[1] = {0};
  if (out_len) *out_len = 0;
  if (!s) {
    if (len) return NULL;
    s = empty;
  }
  if (u8_check((const uint8_t *)s, len) != NULL) return NULL; /* invalid UTF-8 */
  size_t n = 0;
  uint8_t *norm = u8_normalize(UNINORM_NFKC, (const uint8_t *)s, len, NULL, &n);
  if (!norm) return NULL;
  char *out = malloc(n + 1);
  if (out) {
    memcpy(out, norm, n);
    out[n] = 0;
    if (out_len) *out_len = n;
  }
  sodium_memzero(norm, n);
  free(norm);
  return out;
}

/* scrypt(password, salt) -> key; 0 on success. */
static int derive(const char *pw, size_t pw_len, const char *salt, size_t salt_len,
                  uint8_t key[KEY_LEN]) {
  static const uint8_t empty[1] = {0};
  if (sodium_init() < 0) return -1;
  return crypto_pwhash_scryptsalsa208sha256_ll(pw_len ? (const uint8_t *)pw : empty, pw_len,
                                               salt_len ? (const uint8_t *)salt : empty, salt_len,
                                               SCRYPT_N, SCRYPT_R, SCRYPT_P, key, KEY_LEN);
}

static void free_wiped(char *p, size_t n) {
  if (!p) return;
  sodium_memzero(p, n);
  free(p);
}

gh_status gh_password_hash(const char *password, size_t len, char out[GH_PASSWORD_HASH_LEN + 1]) {
  if (!out) return GH_ERR_INVALID;
  out[0] = 0;
  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  if (!norm) return GH_ERR_INVALID;
  if (sodium_init() < 0) {
    free_wiped(norm, nlen);
    return GH_ERR_CRYPTO;
  }
  uint8_t salt_raw[SALT_BYTES], key[KEY_LEN];
  char salt[SALT_HEX_LEN + 1];
  randombytes_buf(salt_raw, sizeof salt_raw);
  gh_hex_encode(salt_raw, sizeof salt_raw, salt);
  int rc = derive(norm, nlen, salt, SALT_HEX_LEN, key);
  free_wiped(norm, nlen);
  if (rc != 0) {
    sodium_memzero(key, sizeof key);
    return GH_ERR_CRYPTO;
  }
  memcpy(out, salt, SALT_HEX_LEN);
  out[SALT_HEX_LEN] = ':';
  gh_hex_encode(key, sizeof key, out + SALT_HEX_LEN + 1); /* NUL-terminates at 161 */
  sodium_memzero(key, sizeof key);
  return GH_OK;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

gh_status gh_password_verify(const char *password, size_t len, const char *stored, bool *ok) {
  if (ok) *ok = false;
  if (!ok || !stored || (!password && len)) return GH_ERR_INVALID;
  /* JS: const [salt, key] = hash.split(":"); both must be non-empty. The key is hex-decoded
   * (either case) and must be 64 bytes to match; anything after a second ':' is ignored. */
  const char *colon = strchr(stored, ':');
  if (!colon || colon == stored) return GH_ERR_INVALID;
  const char *hex = colon + 1;
  size_t hex_len = strcspn(hex, ":");
  if (hex_len != KEY_HEX_LEN) return GH_ERR_INVALID;
  for (size_t i = 0; i < hex_len; i++)
    if (!is_hex(hex[i])) return GH_ERR_INVALID;
  uint8_t want[KEY_LEN], got[KEY_LEN];
  size_t want_len = 0;
  if (gh_hex_decode(hex, hex_len, want, &want_len) != GH_OK || want_len != KEY_LEN)
    return GH_ERR_INVALID;

  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  int rc;
  if (norm) {
    rc = derive(norm, nlen, stored, (size_t)(colon - stored), got);
    free_wiped(norm, nlen);
  } else {
    /* Not valid UTF-8: cannot match any hash better-auth made. Spend the same time anyway. */
    rc = derive(password, len, stored, (size_t)(colon - stored), got);
    if (rc == 0) rc = 1;
  }
  if (rc < 0) {
    sodium_memzero(got, sizeof got);
    sodium_memzero(want, sizeof want);
    return GH_ERR_CRYPTO;
  }
  *ok = rc == 0 && gh_ct_equal(got, want, KEY_LEN);
  sodium_memzero(got, sizeof got);
  sodium_memzero(want, sizeof want);
  return GH_OK;
}

void gh_password_dummy_verify(const char *password, size_t len) {
  uint8_t key[KEY_LEN];
  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  if (norm) {
    (void)derive(norm, nlen, DUMMY_SALT, SALT_HEX_LEN, key);
    free_wiped(norm, nlen);
  } else {
    (void)derive(password && len ? password : "", password ? len : 0, DUMMY_SALT, SALT_HEX_LEN,
                 key);
  }
  sodium_memzero(key, sizeof key);
}
