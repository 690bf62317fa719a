/* JWS signatures and compact serialisation on OpenSSL 3 EVP (see jose.h). */
#include "jose/internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

#ifdef GH_JOSE_SODIUM
#include <sodium.h>
#endif

/* DER of an ECDSA-Sig-Value for P-521: SEQUENCE (3) + 2 * INTEGER (2 + 1 + 66) = 141 at most. */
#define ECDSA_DER_MAX 160

static const uint8_t EMPTY[1];

/* DigestSign/DigestVerify initialisation with k's algorithm; PS256: PSS, MGF1-SHA-256 and a
 * salt of exactly 32 bytes, for signing and verifying alike. */
int gh_jose_sigver_init(const gh_jwk *k, EVP_MD_CTX *mctx, bool sign) {
  OSSL_PARAM pss[4], *params = NULL;
  int pad = RSA_PKCS1_PSS_PADDING, salt = 32;
  if (k->alg == GH_JWA_PS256) {
    pss[0] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PAD_MODE, &pad);
    pss[1] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt);
    pss[2] =
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, (char *)"SHA256", 0);
    pss[3] = OSSL_PARAM_construct_end();
    params = pss;
  }
  return sign ? EVP_DigestSignInit_ex(mctx, NULL, k->md_name, NULL, NULL, k->pkey, params)
              : EVP_DigestVerifyInit_ex(mctx, NULL, k->md_name, NULL, NULL, k->pkey, params);
}

static bool is_ecdsa(gh_jwa alg) {
  return alg == GH_JWA_ES256 || alg == GH_JWA_ES512;
}

gh_status gh_jws_sign(const gh_jwk *k, const void *input, size_t len, uint8_t *sig,
                      size_t *sig_len) {
  if (!k || !k->pkey || !k->priv || !sig || !sig_len || (!input && len)) return GH_ERR_INVALID;
  if (*sig_len < k->sig_len) return GH_ERR_INVALID;
  if (!input) input = EMPTY;
#ifdef GH_JOSE_SODIUM
  if (k->sodium_ed25519_sign) {
    unsigned long long sl = 0;
    if (crypto_sign_detached(sig, &sl, input, len, k->ed25519_sk) != 0 || sl != 64)
      return GH_ERR_CRYPTO;
    *sig_len = 64;
    return GH_OK;
  }
#endif
  gh_status rc = GH_ERR_NOMEM;
  uint8_t der[ECDSA_DER_MAX];
  ECDSA_SIG *esig = NULL;
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  if (!mctx) goto fail;
  rc = GH_ERR_CRYPTO;
  if (gh_jose_sigver_init(k, mctx, true) != 1) goto fail;
  if (is_ecdsa(k->alg)) {
    size_t dlen = sizeof der, c = k->coord_len;
    if (EVP_DigestSign(mctx, der, &dlen, input, len) != 1) goto fail;
    const uint8_t *p = der;
    if (!(esig = d2i_ECDSA_SIG(NULL, &p, (long)dlen))) goto fail;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(esig, &r, &s);
    if (BN_bn2binpad(r, sig, (int)c) != (int)c || BN_bn2binpad(s, sig + c, (int)c) != (int)c)
      goto fail;
    *sig_len = 2 * c;
  } else {
    size_t sl = *sig_len;
    if (EVP_DigestSign(mctx, sig, &sl, input, len) != 1 || sl != k->sig_len) goto fail;
    *sig_len = sl;
  }
  rc = GH_OK;
fail:
  if (rc != GH_OK) ERR_clear_error();
  ECDSA_SIG_free(esig);
  EVP_MD_CTX_free(mctx);
  return rc;
}

/* Raw R||S (2 * c bytes) -> DER into der (ECDSA_DER_MAX); 0 on failure. */
static size_t ecdsa_raw_to_der(const uint8_t *sig, size_t c, uint8_t *der, bool *nomem) {
  size_t n = 0;
  BIGNUM *r = BN_bin2bn(sig, (int)c, NULL), *s = BN_bin2bn(sig + c, (int)c, NULL);
  ECDSA_SIG *esig = ECDSA_SIG_new();
  if (!r || !s || !esig || !ECDSA_SIG_set0(esig, r, s)) {
    BN_free(r);
    BN_free(s);
    *nomem = true;
    goto done;
  }
  /* esig owns r and s now */
  int len = i2d_ECDSA_SIG(esig, NULL);
  if (len <= 0 || len > ECDSA_DER_MAX) goto done;
  uint8_t *p = der;
  if (i2d_ECDSA_SIG(esig, &p) != len) goto done;
  n = (size_t)len;
done:
  ECDSA_SIG_free(esig);
  return n;
}

gh_status gh_jws_verify(const gh_jwk *k, const void *input, size_t len, const uint8_t *sig,
                        size_t sig_len) {
  if (!k || !k->pkey || !sig || (!input && len)) return GH_ERR_INVALID;
  if (sig_len != k->sig_len) return GH_ERR_INVALID;
  if (!input) input = EMPTY;
#ifdef GH_JOSE_SODIUM
  if (k->sodium_ed25519)
    return crypto_sign_verify_detached(sig, input, len, k->ed25519_pub) == 0 ? GH_OK
                                                                             : GH_ERR_INVALID;
#endif
  uint8_t der[ECDSA_DER_MAX];
  const uint8_t *s = sig;
  size_t sl = sig_len;
  if (is_ecdsa(k->alg)) {
    bool nomem = false;
    if (!(sl = ecdsa_raw_to_der(sig, k->coord_len, der, &nomem))) {
      ERR_clear_error();
      return nomem ? GH_ERR_NOMEM : GH_ERR_INVALID;
    }
    s = der;
  }
  gh_status rc = GH_ERR_NOMEM;
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  if (!mctx) goto fail;
  rc = GH_ERR_INVALID;
  if (!k->verify_tmpl || EVP_MD_CTX_copy_ex(mctx, k->verify_tmpl) != 1) {
    if (k->verify_tmpl) { /* the copy failed: start again from scratch */
      ERR_clear_error();
      EVP_MD_CTX_reset(mctx);
    }
    if (gh_jose_sigver_init(k, mctx, false) != 1) goto fail;
  }
  if (EVP_DigestVerify(mctx, s, sl, input, len) != 1) goto fail;
  rc = GH_OK;
fail:
  if (rc != GH_OK) ERR_clear_error();
  EVP_MD_CTX_free(mctx);
  return rc;
}

gh_status gh_jws_compact_sign(const gh_jwk *k, const char *header_json, size_t header_len,
                              const char *payload_json, size_t payload_len, char **out) {
  if (!out) return GH_ERR_INVALID;
  *out = NULL;
  if (!k || !k->priv || (!header_json && header_len) || (!payload_json && payload_len))
    return GH_ERR_INVALID;
  if (header_len > SIZE_MAX / 4 - 16 || payload_len > SIZE_MAX / 4 - 16 - header_len)
    return GH_ERR_TOO_LARGE;
  size_t cap =
      GH_B64_LEN(header_len) + 1 + GH_B64_LEN(payload_len) + 1 + GH_B64_LEN(GH_JWS_MAX_SIG) + 1;
  char *t = malloc(cap);
  if (!t) return GH_ERR_NOMEM;
  size_t o =
      gh_b64_encode((const uint8_t *)(header_json ? header_json : ""), header_len, t, true, false);
  t[o++] = '.';
  o += gh_b64_encode((const uint8_t *)(payload_json ? payload_json : ""), payload_len, t + o, true,
                     false);
  uint8_t sig[GH_JWS_MAX_SIG];
  size_t sl = sizeof sig;
  gh_status rc = gh_jws_sign(k, t, o, sig, &sl);
  if (rc != GH_OK) {
    free(t);
    return rc;
  }
  t[o++] = '.';
  gh_b64_encode(sig, sl, t + o, true, false);
  *out = t;
  return GH_OK;
}

/* Decodes one part of n characters into buf + *at (NUL-terminated when nul), advancing *at. */
static gh_status split_part(const char *s, size_t n, uint8_t *buf, size_t *at, bool nul,
                            uint8_t **out, size_t *out_len) {
  if (n == 0) return GH_ERR_INVALID;
  uint8_t *p = buf + *at;
  if (gh_jose_b64url_decode(s, n, p, out_len) != GH_OK) return GH_ERR_INVALID;
  *at += *out_len;
  if (nul) buf[(*at)++] = 0;
  *out = p;
  return GH_OK;
}

gh_status gh_jws_split_buf(const char *token, size_t len, size_t max_len, uint8_t *buf, size_t cap,
                           gh_jws_parts *out) {
  if (!out) return GH_ERR_INVALID;
  memset(out, 0, sizeof *out);
  if (!token) return GH_ERR_INVALID;
  if (len > max_len) return GH_ERR_TOO_LARGE;
  if (!buf || cap < GH_JWS_SPLIT_BUF(len)) return GH_ERR_INVALID;
  const char *d1 = memchr(token, '.', len);
  if (!d1) return GH_ERR_INVALID;
  const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
  if (!d2) return GH_ERR_INVALID;
  size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
  size_t slen = len - (size_t)(d2 + 1 - token);
  if (memchr(d2 + 1, '.', slen)) return GH_ERR_INVALID;
  if (slen > GH_JOSE_B64_MAX) return GH_ERR_INVALID; /* longer than any supported signature */

  /* Each part decodes to at most GH_JOSE_B64_DEC_CAP(its length) bytes, and the three caps plus
   * two NULs fit in GH_JWS_SPLIT_BUF(len). */
  gh_jws_parts p = {.signing_input_len = (size_t)(d2 - token)};
  uint8_t *h, *pl;
  size_t at = 0;
  if (split_part(token, hlen, buf, &at, true, &h, &p.header_len) != GH_OK ||
      split_part(d1 + 1, plen, buf, &at, true, &pl, &p.payload_len) != GH_OK ||
      split_part(d2 + 1, slen, buf, &at, false, &p.sig, &p.sig_len) != GH_OK ||
      p.sig_len > GH_JWS_MAX_SIG)
    return GH_ERR_INVALID;
  p.header = (char *)h;
  p.payload = (char *)pl;
  *out = p;
  return GH_OK;
}

gh_status gh_jws_split(const char *token, size_t len, size_t max_len, gh_jws_parts *out) {
  if (!out) return GH_ERR_INVALID;
  memset(out, 0, sizeof *out);
  if (!token) return GH_ERR_INVALID;
  if (len > max_len) return GH_ERR_TOO_LARGE;
  size_t cap = GH_JWS_SPLIT_BUF(len);
  uint8_t *buf = malloc(cap);
  if (!buf) return GH_ERR_NOMEM;
  gh_status rc = gh_jws_split_buf(token, len, max_len, buf, cap, out);
  if (rc != GH_OK) {
    free(buf);
    return rc;
  }
  out->owned = buf;
  return GH_OK;
}

void gh_jws_parts_free(gh_jws_parts *p) {
  if (!p) return;
  free(p->owned);
  memset(p, 0, sizeof *p);
}
