/* Private to src/jose: the layout of gh_jwk, shared by jwk.c (import/export/generate) and jws.c
 * (sign/verify). Everything a signature needs per call is computed once when the key is built. */
#ifndef GH_JOSE_INTERNAL_H
#define GH_JOSE_INTERNAL_H

#include <openssl/evp.h>
#include "jose/jose.h"

struct gh_jwk {
  gh_jwa alg;
  bool priv;
  EVP_PKEY *pkey;
  const char *md_name; /* "SHA256" / "SHA512"; NULL for EdDSA (no pre-hash) */
  size_t coord_len;    /* EC: bytes per coordinate (32, 66); OKP: 32; RSA: 0 */
  size_t sig_len;      /* exact signature length: 64, 64, 132 or the RSA modulus bytes */
  /* A DigestVerify context initialised once for this key and never used directly: each
   * gh_jws_verify copies it (EVP_MD_CTX_copy_ex, read-only on the source, so threads may share
   * it) instead of fetching the algorithm and setting up a fresh context. NULL: full set-up. */
  EVP_MD_CTX *verify_tmpl;
  /* Built with GH_JOSE_SODIUM (not the default: gh_jose then needs libsodium): Ed25519
   * signatures are verified by libsodium, ~1.7x faster than OpenSSL 3.0 on x86-64. */
  bool sodium_ed25519;
  uint8_t ed25519_pub[32];
  /* With GH_JOSE_SODIUM and a private Ed25519 key: libsodium's secret key (seed || public),
   * signs ~3x faster than OpenSSL 3.0 (get-session signs a JWT on every call). Wiped on free. */
  bool sodium_ed25519_sign;
  uint8_t ed25519_sk[64];
};

/* DigestSign/DigestVerify initialisation of mctx with k's algorithm and parameters. */
int gh_jose_sigver_init(const gh_jwk *k, EVP_MD_CTX *mctx, bool sign);

/* Longest base64url member or signature accepted (the encoding of an 8192-bit RSA modulus). */
#define GH_JOSE_B64_MAX 1366
/* Bytes a strict decode of up to n characters may write. */
#define GH_JOSE_B64_DEC_CAP(n) (((n) / 4) * 3 + 3)

/* Strict base64url without padding: only [A-Za-z0-9_-], length % 4 != 1 and the unused low
 * bits of the last character zero (one encoding per byte string). out holds
 * GH_JOSE_B64_DEC_CAP(n) bytes. GH_ERR_INVALID otherwise. */
GH_MUST_CHECK gh_status gh_jose_b64url_decode(const char *in, size_t n, uint8_t *out,
                                              size_t *out_len);

#endif
