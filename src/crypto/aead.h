/* better-auth symmetric encryption (wire spec §6.5, BA/crypto/index.ts symmetricEncrypt /
 * symmetricDecrypt): XChaCha20-Poly1305 (libsodium), no AAD, key = SHA-256 of the UTF-8 secret
 * string, output lower-case hex of nonce(24) || ciphertext || tag(16). With versioned secrets
 * (better-auth `secrets` / BETTER_AUTH_SECRETS) the output is "$ba$<version>$<hex>". Used for
 * jwks private keys, TOTP secrets, backup codes, OAuth tokens. */
#ifndef GH_CRYPTO_AEAD_H
#define GH_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"

#define GH_AEAD_NONCE_BYTES 24
#define GH_AEAD_TAG_BYTES 16

typedef struct {
  unsigned version;
  const char *value;
} gh_secret_version;

typedef struct {
  /* Plain secret (GATEHOUSE_SECRET / BETTER_AUTH_SECRET); may be NULL. Not versioned: it encrypts
   * and decrypts. Versioned: it only decrypts bare hex (better-auth's SecretConfig.legacySecret,
   * which better-auth leaves unset when the secret is its built-in default). */
  const char *legacy;
  const gh_secret_version *versions; /* newest first; nversions == 0: not versioned */
  size_t nversions;
} gh_secrets;

/* Encrypts with the newest secret: "$ba$<v>$<hex>" when versioned, bare hex with legacy
 * otherwise. Result on the arena; NULL when there is no secret to encrypt with. */
char *gh_aead_encrypt(gh_arena *a, const gh_secrets *s, const void *pt, size_t n);
/* Same with a given nonce instead of a random one. For tests (known-answer vectors) only. */
char *gh_aead_encrypt_with_nonce(gh_arena *a, const gh_secrets *s, const void *pt, size_t n,
                                 const uint8_t nonce[GH_AEAD_NONCE_BYTES]);

/* Decrypts either form, as better-auth 1.7.25 does:
 *  - "$ba$<v>$<hex>" uses exactly version v (decimal digits; no fallback to other versions);
 *    an unknown version, or an envelope when secrets are not versioned, fails;
 *  - bare hex uses legacy; it fails when legacy is NULL.
 * Hex of either case. Plaintext on the arena, NUL-terminated (*n excludes the NUL).
 * GH_ERR_INVALID for malformed input, a missing secret or a failed tag; GH_ERR_CRYPTO when
 * libsodium cannot initialise. */
GH_MUST_CHECK gh_status gh_aead_decrypt(gh_arena *a, const gh_secrets *s, const char *ct,
                                        uint8_t **pt, size_t *n);

#endif
