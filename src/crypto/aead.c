#include "crypto/aead.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"

#define ENVELOPE "$ba$"
#define ENVELOPE_LEN (sizeof ENVELOPE - 1)
#define MAX_VERSION_DIGITS 9 /* keeps the value within an unsigned int */

static void derive_key(const char *secret,
                       uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES]) {
  crypto_hash_sha256(key, (const unsigned char *)secret, strlen(secret));
}

static char *encrypt_impl(gh_arena *a, const gh_secrets *s, const void *pt, size_t n,
                          const uint8_t *nonce_in) {
  if (!s || (!pt && n) || sodium_init() < 0) return NULL;
  const char *secret = s->nversions ? s->versions[0].value : s->legacy;
  if (!secret) return NULL;
  if (n > (SIZE_MAX - 64) / 2 - GH_AEAD_NONCE_BYTES - GH_AEAD_TAG_BYTES) return NULL;

  size_t raw_len = GH_AEAD_NONCE_BYTES + n + GH_AEAD_TAG_BYTES;
  uint8_t *raw = gh_arena_alloc(a, raw_len);
  uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  if (nonce_in)
    memcpy(raw, nonce_in, GH_AEAD_NONCE_BYTES);
  else
    randombytes_buf(raw, GH_AEAD_NONCE_BYTES);
  derive_key(secret, key);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(raw + GH_AEAD_NONCE_BYTES, &clen,
                                             (const unsigned char *)(pt ? pt : ""), n, NULL, 0,
                                             NULL, raw, key);
  sodium_memzero(key, sizeof key);

  char prefix[ENVELOPE_LEN + 12 + 2] = "";
  size_t plen = 0;
  if (s->nversions) {
    int w = snprintf(prefix, sizeof prefix, ENVELOPE "%u$", s->versions[0].version);
    plen = w > 0 ? (size_t)w : 0;
  }
  char *out = gh_arena_alloc(a, plen + 2 * raw_len + 1);
  memcpy(out, prefix, plen);
  gh_hex_encode(raw, raw_len, out + plen);
  return out;
}

char *gh_aead_encrypt(gh_arena *a, const gh_secrets *s, const void *pt, size_t n) {
  return encrypt_impl(a, s, pt, n, NULL);
}

char *gh_aead_encrypt_with_nonce(gh_arena *a, const gh_secrets *s, const void *pt, size_t n,
                                 const uint8_t nonce[GH_AEAD_NONCE_BYTES]) {
  if (!nonce) return NULL;
  return encrypt_impl(a, s, pt, n, nonce);
}

/* "$ba$<digits>$": the secret of that version and the hex after the envelope. */
static gh_status parse_envelope(const gh_secrets *s, const char *ct, const char **secret,
                                const char **hex) {
  const char *p = ct + ENVELOPE_LEN;
  unsigned v = 0;
  size_t digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (digits == MAX_VERSION_DIGITS) return GH_ERR_INVALID;
    v = v * 10 + (unsigned)(*p - '0');
  }
  if (digits == 0 || *p != '$') return GH_ERR_INVALID;
  for (size_t i = 0; i < s->nversions; i++) {
    if (s->versions[i].version == v) {
      *secret = s->versions[i].value;
      *hex = p + 1;
      return *secret ? GH_OK : GH_ERR_INVALID;
    }
  }
  return GH_ERR_INVALID; /* version not configured: no fallback */
}

gh_status gh_aead_decrypt(gh_arena *a, const gh_secrets *s, const char *ct, uint8_t **pt,
                          size_t *n) {
  if (!s || !ct || !pt || !n) return GH_ERR_INVALID;
  if (sodium_init() < 0) return GH_ERR_CRYPTO;
  const char *secret = NULL, *hex = ct;
  if (strncmp(ct, ENVELOPE, ENVELOPE_LEN) == 0) {
    /* better-auth with a plain string key hex-decodes the envelope and fails */
    if (!s->nversions) return GH_ERR_INVALID;
    gh_status st = parse_envelope(s, ct, &secret, &hex);
    if (st != GH_OK) return st;
  } else {
    secret = s->legacy;
    if (!secret) return GH_ERR_INVALID;
  }

  size_t hlen = strlen(hex);
  if (hlen % 2 || hlen / 2 < GH_AEAD_NONCE_BYTES + GH_AEAD_TAG_BYTES) return GH_ERR_INVALID;
  size_t raw_len = hlen / 2;
  uint8_t *raw = gh_arena_alloc(a, raw_len);
  size_t got = 0;
  if (gh_hex_decode(hex, hlen, raw, &got) != GH_OK || got != raw_len) return GH_ERR_INVALID;

  size_t mlen_max = raw_len - GH_AEAD_NONCE_BYTES - GH_AEAD_TAG_BYTES;
  uint8_t *m = gh_arena_alloc(a, mlen_max + 1);
  uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  derive_key(secret, key);
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      m, &mlen, NULL, raw + GH_AEAD_NONCE_BYTES, raw_len - GH_AEAD_NONCE_BYTES, NULL, 0, raw, key);
  sodium_memzero(key, sizeof key);
  if (rc != 0) return GH_ERR_INVALID;
  m[mlen] = 0;
  *pt = m;
  *n = (size_t)mlen;
  return GH_OK;
}
