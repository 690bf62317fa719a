/* JWK import/export/generation on OpenSSL 3 EVP (see jose.h). */
#include "jose/internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

#ifdef GH_JOSE_SODIUM
#include <sodium.h>
#endif

/* ---- algorithm names ---- */

static const struct {
  const char *name, *kty, *crv;
} ALGS[] = {
    [GH_JWA_UNKNOWN] = {NULL, NULL, NULL},     [GH_JWA_EDDSA] = {"EdDSA", "OKP", "Ed25519"},
    [GH_JWA_ES256] = {"ES256", "EC", "P-256"}, [GH_JWA_ES512] = {"ES512", "EC", "P-521"},
    [GH_JWA_RS256] = {"RS256", "RSA", NULL},   [GH_JWA_PS256] = {"PS256", "RSA", NULL},
};

static bool alg_known(gh_jwa alg) {
  return (unsigned)alg >= GH_JWA_EDDSA && (unsigned)alg <= GH_JWA_PS256;
}

gh_jwa gh_jwa_parse(const char *name, size_t len) {
  if (!name) return GH_JWA_UNKNOWN;
  for (unsigned a = GH_JWA_EDDSA; a <= GH_JWA_PS256; a++)
    if (strlen(ALGS[a].name) == len && memcmp(ALGS[a].name, name, len) == 0) return (gh_jwa)a;
  return GH_JWA_UNKNOWN;
}

const char *gh_jwa_name(gh_jwa alg) {
  return alg_known(alg) ? ALGS[alg].name : NULL;
}

const char *gh_jwa_kty(gh_jwa alg) {
  return alg_known(alg) ? ALGS[alg].kty : NULL;
}

const char *gh_jwa_crv(gh_jwa alg) {
  return alg_known(alg) ? ALGS[alg].crv : NULL;
}

/* ---- strict base64url ---- */

static int b64url_val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

gh_status gh_jose_b64url_decode(const char *in, size_t n, uint8_t *out, size_t *out_len) {
  if (n % 4 == 1) return GH_ERR_INVALID;
  if (n > 0) {
    int last = b64url_val(in[n - 1]); /* also rejects a trailing '=' */
    if (last < 0) return GH_ERR_INVALID;
    if ((n % 4 == 2 && (last & 0x0F)) || (n % 4 == 3 && (last & 0x03))) return GH_ERR_INVALID;
  }
  return gh_b64_decode(in, n, true, out, out_len);
}

/* ---- key shape ---- */

static gh_jwk *jwk_new(gh_jwa alg, EVP_PKEY *pkey, bool priv) {
  gh_jwk *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->alg = alg;
  k->priv = priv;
  k->pkey = pkey;
  switch (alg) {
  case GH_JWA_EDDSA:
    k->md_name = NULL;
    k->coord_len = 32;
    k->sig_len = 64;
    break;
  case GH_JWA_ES256:
    k->md_name = "SHA256";
    k->coord_len = 32;
    k->sig_len = 64;
    break;
  case GH_JWA_ES512:
    k->md_name = "SHA512";
    k->coord_len = 66;
    k->sig_len = 132;
    break;
  default: /* RS256, PS256 */
    k->md_name = "SHA256";
    k->coord_len = 0;
    k->sig_len = (size_t)EVP_PKEY_get_size(pkey);
    break;
  }
#ifdef GH_JOSE_SODIUM
  size_t publen = sizeof k->ed25519_pub;
  k->sodium_ed25519 = alg == GH_JWA_EDDSA && sodium_init() >= 0 &&
                      EVP_PKEY_get_raw_public_key(pkey, k->ed25519_pub, &publen) == 1 &&
                      publen == sizeof k->ed25519_pub;
  if (k->sodium_ed25519 && k->priv) {
    uint8_t seed[32], pk[32];
    size_t seedlen = sizeof seed;
    k->sodium_ed25519_sign = EVP_PKEY_get_raw_private_key(pkey, seed, &seedlen) == 1 &&
                             seedlen == sizeof seed &&
                             crypto_sign_seed_keypair(pk, k->ed25519_sk, seed) == 0 &&
                             sodium_memcmp(pk, k->ed25519_pub, sizeof pk) == 0;
    sodium_memzero(seed, sizeof seed);
    if (!k->sodium_ed25519_sign) sodium_memzero(k->ed25519_sk, sizeof k->ed25519_sk);
  }
#endif
  /* Optional: without the template gh_jws_verify sets up each context from scratch. */
  if ((k->verify_tmpl = EVP_MD_CTX_new()) && gh_jose_sigver_init(k, k->verify_tmpl, false) != 1) {
    EVP_MD_CTX_free(k->verify_tmpl);
    k->verify_tmpl = NULL;
    ERR_clear_error();
  }
  return k;
}

void gh_jwk_free(gh_jwk *k) {
  if (!k) return;
  OPENSSL_cleanse(k->ed25519_sk, sizeof k->ed25519_sk);
  EVP_MD_CTX_free(k->verify_tmpl);
  EVP_PKEY_free(k->pkey);
  free(k);
}

gh_jwa gh_jwk_alg(const gh_jwk *k) {
  return k ? k->alg : GH_JWA_UNKNOWN;
}

bool gh_jwk_is_private(const gh_jwk *k) {
  return k && k->priv;
}

/* ---- import ---- */

#define MEMBER_CAP GH_JOSE_B64_DEC_CAP(GH_JOSE_B64_MAX)

/* Decodes one member into buf (MEMBER_CAP bytes); exact != 0 demands that many bytes. */
static gh_status decode_member(const char *s, size_t exact, uint8_t *buf, size_t *n) {
  if (!s) return GH_ERR_INVALID;
  size_t len = strnlen(s, GH_JOSE_B64_MAX + 1);
  if (len == 0 || len > GH_JOSE_B64_MAX) return GH_ERR_INVALID;
  if (gh_jose_b64url_decode(s, len, buf, n) != GH_OK) return GH_ERR_INVALID;
  if (exact && *n != exact) return GH_ERR_INVALID;
  return GH_OK;
}

/* Decodes a member into a BIGNUM (secure heap for private values, wiped when freed). */
static gh_status decode_bn(const char *s, bool secret, BIGNUM **out) {
  uint8_t buf[MEMBER_CAP];
  size_t n = 0;
  gh_status rc = decode_member(s, 0, buf, &n);
  if (rc != GH_OK) goto done;
  BIGNUM *bn = secret ? BN_secure_new() : BN_new();
  if (!bn) {
    rc = GH_ERR_NOMEM;
    goto done;
  }
  if (!BN_bin2bn(buf, (int)n, bn)) {
    BN_clear_free(bn);
    rc = GH_ERR_NOMEM;
    goto done;
  }
  *out = bn;
done:
  OPENSSL_cleanse(buf, sizeof buf);
  return rc;
}

static bool str_eq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* EVP_PKEY_fromdata over params built by bld; frees nothing of the caller's. */
static gh_status from_data(const char *type, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **out) {
  gh_status rc = GH_ERR_NOMEM;
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  if (!params || !ctx) goto fail;
  rc = GH_ERR_INVALID;
  if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, out, selection, params) != 1)
    goto fail;
  rc = GH_OK;
fail:
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return rc;
}

static gh_status import_okp(const gh_jwk_members *m, EVP_PKEY **out) {
  uint8_t x[MEMBER_CAP], d[MEMBER_CAP], derived[32];
  size_t xn = 0, dn = 0, dlen = sizeof derived;
  EVP_PKEY *pkey = NULL;
  gh_status rc = decode_member(m->x, 32, x, &xn);
  if (rc != GH_OK) goto fail;
  if (m->d) {
    if ((rc = decode_member(m->d, 32, d, &dn)) != GH_OK) goto fail;
    rc = GH_ERR_INVALID;
    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, 32);
    if (!pkey) goto fail;
    /* The public key is derived from d: x must be that key, not some other one. */
    if (EVP_PKEY_get_raw_public_key(pkey, derived, &dlen) != 1 || dlen != 32 ||
        memcmp(derived, x, 32) != 0)
      goto fail;
  } else {
    rc = GH_ERR_INVALID;
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, 32);
    if (!pkey) goto fail;
  }
  *out = pkey;
  pkey = NULL;
  rc = GH_OK;
fail:
  EVP_PKEY_free(pkey);
  OPENSSL_cleanse(d, sizeof d);
  return rc;
}

static gh_status import_ec(gh_jwa alg, const gh_jwk_members *m, EVP_PKEY **out) {
  size_t c = alg == GH_JWA_ES256 ? 32 : 66, n = 0;
  uint8_t buf[MEMBER_CAP], pub[1 + 2 * 66];
  BIGNUM *d = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *chk = NULL;
  gh_status rc;

  pub[0] = 0x04; /* uncompressed point */
  if ((rc = decode_member(m->x, c, buf, &n)) != GH_OK) goto fail;
  memcpy(pub + 1, buf, c);
  if ((rc = decode_member(m->y, c, buf, &n)) != GH_OK) goto fail;
  memcpy(pub + 1 + c, buf, c);
  if (m->d) {
    /* exact length first (jose pads d to the coordinate size), then the BIGNUM */
    if ((rc = decode_member(m->d, c, buf, &n)) != GH_OK) goto fail;
    if ((rc = decode_bn(m->d, true, &d)) != GH_OK) goto fail;
  }
  rc = GH_ERR_NOMEM;
  if (!(bld = OSSL_PARAM_BLD_new())) goto fail;
  if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ALGS[alg].crv, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * c) ||
      (d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
    goto fail;
  rc = from_data("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pkey);
  if (rc != GH_OK) goto fail;
  rc = GH_ERR_NOMEM;
  if (!(chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL))) goto fail;
  rc = GH_ERR_INVALID;
  /* Public: the point is on the curve and of the group's order. Private: that, 0 < d < order,
   * and d * G is the public point. */
  if ((d ? EVP_PKEY_check(chk) : EVP_PKEY_public_check(chk)) != 1) goto fail;
  *out = pkey;
  pkey = NULL;
  rc = GH_OK;
fail:
  EVP_PKEY_CTX_free(chk);
  EVP_PKEY_free(pkey);
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(d);
  OPENSSL_cleanse(buf, sizeof buf);
  return rc;
}

enum { RSA_N, RSA_E, RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QI, RSA_COUNT };

static gh_status import_rsa(const gh_jwk_members *m, EVP_PKEY **out) {
  static const char *const PARAM[RSA_COUNT] = {
      OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,           OSSL_PKEY_PARAM_RSA_D,
      OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,     OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  const char *src[RSA_COUNT] = {m->n, m->e, m->d, m->p, m->q, m->dp, m->dq, m->qi};
  BIGNUM *bn[RSA_COUNT] = {0};
  BIGNUM *pq = NULL;
  BN_CTX *bctx = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;
  gh_status rc = GH_ERR_INVALID;

  /* Private members come all together (d, p, q, dp, dq, qi) or not at all. */
  size_t present = 0;
  for (int i = RSA_D; i < RSA_COUNT; i++) present += src[i] != NULL;
  if (present != 0 && present != RSA_COUNT - RSA_D) goto fail;
  int count = present ? RSA_COUNT : RSA_D;
  for (int i = 0; i < count; i++)
    if ((rc = decode_bn(src[i], i >= RSA_D, &bn[i])) != GH_OK) goto fail;

  rc = GH_ERR_INVALID;
  int bits = BN_num_bits(bn[RSA_N]);
  if (bits < GH_JWK_RSA_MIN_BITS || bits > GH_JWK_RSA_MAX_BITS || !BN_is_odd(bn[RSA_N])) goto fail;
  if (!BN_is_odd(bn[RSA_E]) || BN_num_bits(bn[RSA_E]) < 2 || BN_num_bits(bn[RSA_E]) > 64)
    goto fail; /* odd, >= 3, and what OpenSSL accepts for large moduli (<= 64 bits) */
  if (present) {
    rc = GH_ERR_NOMEM;
    if (!(bctx = BN_CTX_new()) || !(pq = BN_new())) goto fail;
    if (!BN_mul(pq, bn[RSA_P], bn[RSA_Q], bctx)) goto fail;
    rc = GH_ERR_INVALID;
    if (BN_cmp(pq, bn[RSA_N]) != 0) goto fail;
  }
  rc = GH_ERR_NOMEM;
  if (!(bld = OSSL_PARAM_BLD_new())) goto fail;
  for (int i = 0; i < count; i++)
    if (!OSSL_PARAM_BLD_push_BN(bld, PARAM[i], bn[i])) goto fail;
  rc = from_data("RSA", present ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pkey);
  if (rc != GH_OK) goto fail;
  *out = pkey;
  pkey = NULL;
  rc = GH_OK;
fail:
  EVP_PKEY_free(pkey);
  OSSL_PARAM_BLD_free(bld);
  BN_free(pq);
  BN_CTX_free(bctx);
  for (int i = 0; i < RSA_COUNT; i++) BN_clear_free(bn[i]);
  return rc;
}

gh_status gh_jwk_import(gh_jwa alg, const gh_jwk_members *m, gh_jwk **out) {
  if (!out) return GH_ERR_INVALID;
  *out = NULL;
  if (!m || !alg_known(alg) || !str_eq(m->kty, ALGS[alg].kty)) return GH_ERR_INVALID;
  if (ALGS[alg].crv ? !str_eq(m->crv, ALGS[alg].crv) : m->crv != NULL) return GH_ERR_INVALID;

  EVP_PKEY *pkey = NULL;
  gh_status rc;
  switch (alg) {
  case GH_JWA_EDDSA:
    rc = import_okp(m, &pkey);
    break;
  case GH_JWA_ES256:
  case GH_JWA_ES512:
    rc = import_ec(alg, m, &pkey);
    break;
  default:
    rc = import_rsa(m, &pkey);
    break;
  }
  if (rc == GH_OK) {
    gh_jwk *k = jwk_new(alg, pkey, m->d != NULL);
    if (k)
      *out = k;
    else {
      EVP_PKEY_free(pkey);
      rc = GH_ERR_NOMEM;
    }
  }
  ERR_clear_error(); /* leave nothing in this thread's OpenSSL error queue */
  return rc;
}

gh_status gh_jwk_generate(gh_jwa alg, gh_jwk **out) {
  if (!out) return GH_ERR_INVALID;
  *out = NULL;
  EVP_PKEY *pkey = NULL;
  switch (alg) {
  case GH_JWA_EDDSA:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    break;
  case GH_JWA_ES256:
  case GH_JWA_ES512:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ALGS[alg].crv);
    break;
  case GH_JWA_RS256:
  case GH_JWA_PS256:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)GH_JWK_RSA_MIN_BITS);
    break;
  default:
    return GH_ERR_INVALID;
  }
  if (!pkey) {
    ERR_clear_error();
    return GH_ERR_CRYPTO;
  }
  gh_jwk *k = jwk_new(alg, pkey, true);
  if (!k) {
    EVP_PKEY_free(pkey);
    return GH_ERR_NOMEM;
  }
  *out = k;
  return GH_OK;
}

/* ---- export ---- */

typedef struct {
  char *buf;
  size_t len, cap;
  bool failed;
} sbuf;

/* Fixed capacity, never reallocated: no stray copies of private members in freed memory. */
static bool sb_reserve(sbuf *b, size_t extra) {
  if (b->failed) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  b->failed = true;
  return false;
}

static void sb_raw(sbuf *b, const char *s) {
  size_t n = strlen(s);
  if (!sb_reserve(b, n)) return;
  memcpy(b->buf + b->len, s, n + 1);
  b->len += n;
}

/* ,"name":"value" (the comma unless first); value needs no escaping. */
static void sb_str(sbuf *b, const char *name, const char *value) {
  sb_raw(b, b->len > 1 ? ",\"" : "\"");
  sb_raw(b, name);
  sb_raw(b, "\":\"");
  sb_raw(b, value);
  sb_raw(b, "\"");
}

static void sb_b64(sbuf *b, const char *name, const uint8_t *p, size_t n) {
  sb_raw(b, b->len > 1 ? ",\"" : "\"");
  sb_raw(b, name);
  sb_raw(b, "\":\"");
  if (sb_reserve(b, GH_B64_LEN(n))) b->len += gh_b64_encode(p, n, b->buf + b->len, true, false);
  sb_raw(b, "\"");
}

/* A BIGNUM parameter of the key, big-endian, minimal length (pad: fixed length). */
static void sb_bn(sbuf *b, const EVP_PKEY *pkey, const char *param, const char *name, size_t pad) {
  BIGNUM *bn = NULL;
  uint8_t buf[GH_JWK_RSA_MAX_BITS / 8];
  if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
    b->failed = true;
    return;
  }
  int n = -1;
  if (BN_num_bytes(bn) <= (int)sizeof buf && pad <= sizeof buf)
    n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
  if (n < 0)
    b->failed = true;
  else
    sb_b64(b, name, buf, (size_t)n);
  BN_clear_free(bn);
  OPENSSL_cleanse(buf, sizeof buf);
}

char *gh_jwk_to_json(const gh_jwk *k, bool with_private) {
  if (!k || (with_private && !k->priv)) return NULL;
  /* Largest: an 8192-bit RSA private key, 2 * 1366 + 6 * 683 characters of base64url. */
  sbuf b = {.cap = k->coord_len ? 512 : 8192};
  if (!(b.buf = malloc(b.cap))) return NULL;
  b.buf[0] = 0;
  sb_raw(&b, "{");
  switch (k->alg) {
  case GH_JWA_EDDSA: { /* {"crv","d"?,"x","kty"} */
    uint8_t key[32];
    size_t n = sizeof key;
    sb_str(&b, "crv", "Ed25519");
    if (with_private) {
      if (EVP_PKEY_get_raw_private_key(k->pkey, key, &n) != 1 || n != 32)
        b.failed = true;
      else
        sb_b64(&b, "d", key, 32);
      OPENSSL_cleanse(key, sizeof key);
      n = sizeof key;
    }
    if (EVP_PKEY_get_raw_public_key(k->pkey, key, &n) != 1 || n != 32)
      b.failed = true;
    else
      sb_b64(&b, "x", key, 32);
    sb_str(&b, "kty", "OKP");
    break;
  }
  case GH_JWA_ES256:
  case GH_JWA_ES512: { /* {"kty","x","y","crv","d"?} */
    uint8_t pub[1 + 2 * 66];
    size_t n = 0, c = k->coord_len;
    sb_str(&b, "kty", "EC");
    if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &n) !=
            1 ||
        n != 1 + 2 * c || pub[0] != 0x04) {
      b.failed = true;
    } else {
      sb_b64(&b, "x", pub + 1, c);
      sb_b64(&b, "y", pub + 1 + c, c);
    }
    sb_str(&b, "crv", ALGS[k->alg].crv);
    if (with_private) sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, "d", c);
    break;
  }
  case GH_JWA_RS256:
  case GH_JWA_PS256: { /* {"kty","n","e"} + {"d","p","q","dp","dq","qi"} */
    sb_str(&b, "kty", "RSA");
    sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_N, "n", 0);
    sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_E, "e", 0);
    if (with_private) {
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_D, "d", 0);
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, "p", 0);
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, "q", 0);
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, "dp", 0);
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, "dq", 0);
      sb_bn(&b, k->pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, "qi", 0);
    }
    break;
  }
  default:
    b.failed = true;
    break;
  }
  sb_raw(&b, "}");
  if (b.failed) {
    OPENSSL_cleanse(b.buf, b.cap);
    free(b.buf);
    ERR_clear_error();
    return NULL;
  }
  return b.buf;
}
