/* JOSE: JWK import/export, JWS sign/verify, compact split (wire spec §7.1; vectors jwt_plugin). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "common/bytes.h"
#include "crypto/aead.h"
#include "jose/jose.h"
#include "json/json.h"
#include "vectors.h"

static const gh_jwa ALL[] = {GH_JWA_EDDSA, GH_JWA_ES256, GH_JWA_ES512, GH_JWA_RS256, GH_JWA_PS256};
#define NALL (sizeof ALL / sizeof *ALL)

/* ---- helpers ---- */

/* The members of a parsed JWK object (borrowed from j). */
static gh_jwk_members members_of(const gh_json *j) {
  gh_jwk_members m = {
      .kty = gh_json_string(gh_json_get(j, "kty")),
      .crv = gh_json_string(gh_json_get(j, "crv")),
      .x = gh_json_string(gh_json_get(j, "x")),
      .y = gh_json_string(gh_json_get(j, "y")),
      .n = gh_json_string(gh_json_get(j, "n")),
      .e = gh_json_string(gh_json_get(j, "e")),
      .d = gh_json_string(gh_json_get(j, "d")),
      .p = gh_json_string(gh_json_get(j, "p")),
      .q = gh_json_string(gh_json_get(j, "q")),
      .dp = gh_json_string(gh_json_get(j, "dp")),
      .dq = gh_json_string(gh_json_get(j, "dq")),
      .qi = gh_json_string(gh_json_get(j, "qi")),
  };
  return m;
}

/* Parses JWK JSON text with the project's wrapper and imports it. */
static gh_status import_json(gh_jwa alg, const char *json, gh_jwk **out) {
  gh_json *j = NULL;
  *out = NULL;
  if (gh_json_parse(json, strlen(json), &j) != GH_OK) fail_msg("bad JWK JSON: %s", json);
  gh_jwk_members m = members_of(j);
  gh_status st = gh_jwk_import(alg, &m, out);
  gh_json_decref(j);
  return st;
}

static gh_jwk *must_import(gh_jwa alg, const char *json) {
  gh_jwk *k = NULL;
  gh_status st = import_json(alg, json, &k);
  if (st != GH_OK) fail_msg("import %s failed (%s): %s", gh_jwa_name(alg), gh_status_str(st), json);
  return k;
}

static gh_jwk *must_generate(gh_jwa alg) {
  gh_jwk *k = NULL;
  assert_int_equal(gh_jwk_generate(alg, &k), GH_OK);
  assert_non_null(k);
  assert_int_equal(gh_jwk_alg(k), alg);
  assert_true(gh_jwk_is_private(k));
  return k;
}

/* base64url (no padding) of buf, malloc'd. */
static char *b64url(const uint8_t *buf, size_t n) {
  char *s = malloc(GH_B64_LEN(n) + 1);
  assert_non_null(s);
  gh_b64_encode(buf, n, s, true, false);
  return s;
}

/* Decodes base64url (test side, lenient), malloc'd. */
static uint8_t *unb64url(const char *s, size_t *n) {
  size_t len = strlen(s);
  uint8_t *buf = malloc(len * 3 / 4 + 4);
  assert_non_null(buf);
  assert_int_equal(gh_b64_decode(s, len, true, buf, n), GH_OK);
  return buf;
}

/* Decodes a member, applies fn to the bytes, re-encodes. malloc'd. */
static char *mutate_member(const char *s, void (*fn)(uint8_t *, size_t *)) {
  size_t n;
  uint8_t *buf = unb64url(s, &n);
  buf = realloc(buf, n + 8);
  fn(buf, &n);
  char *out = b64url(buf, n);
  free(buf);
  return out;
}

static void flip_last_bit(uint8_t *b, size_t *n) {
  b[*n - 1] ^= 1;
}
static void drop_last_byte(uint8_t *b, size_t *n) {
  (void)b;
  (*n)--;
}
static void add_byte(uint8_t *b, size_t *n) {
  b[(*n)++] = 0x42;
}
static void all_ff(uint8_t *b, size_t *n) {
  memset(b, 0xff, *n);
}
static void all_zero(uint8_t *b, size_t *n) {
  memset(b, 0, *n);
}

static json_t *vector_for(json_t *root, const char *alg) {
  json_t *g = vec_group(root, "jwt_plugin"), *v;
  size_t i;
  json_array_foreach(g, i, v) if (strcmp(vec_str(v, "alg"), alg) == 0) return v;
  fail_msg("no jwt_plugin vector for %s", alg);
  return NULL;
}

/* ---- vectors ---- */

static void test_jwa_names(void **state) {
  (void)state;
  for (size_t i = 0; i < NALL; i++) {
    const char *name = gh_jwa_name(ALL[i]);
    assert_non_null(name);
    assert_int_equal(gh_jwa_parse(name, strlen(name)), ALL[i]);
    assert_non_null(gh_jwa_kty(ALL[i]));
  }
  assert_string_equal(gh_jwa_kty(GH_JWA_EDDSA), "OKP");
  assert_string_equal(gh_jwa_crv(GH_JWA_EDDSA), "Ed25519");
  assert_string_equal(gh_jwa_kty(GH_JWA_ES256), "EC");
  assert_string_equal(gh_jwa_crv(GH_JWA_ES256), "P-256");
  assert_string_equal(gh_jwa_crv(GH_JWA_ES512), "P-521");
  assert_string_equal(gh_jwa_kty(GH_JWA_PS256), "RSA");
  assert_null(gh_jwa_crv(GH_JWA_RS256));
  const char *bad[] = {"none",  "HS256", "HS512",   "eddsa",  "",       "EDDSA", "ES384",
                       "RS512", "PS512", "Ed25519", "ES256 ", " ES256", "ES25"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(gh_jwa_parse(bad[i], strlen(bad[i])), GH_JWA_UNKNOWN);
  assert_int_equal(gh_jwa_parse("EdDSA", 4), GH_JWA_UNKNOWN);
  assert_int_equal(gh_jwa_parse("ES256\0", 6), GH_JWA_UNKNOWN);
  assert_int_equal(gh_jwa_parse(NULL, 0), GH_JWA_UNKNOWN);
  assert_null(gh_jwa_name(GH_JWA_UNKNOWN));
  assert_null(gh_jwa_kty(GH_JWA_UNKNOWN));
  assert_null(gh_jwa_name((gh_jwa)99));
  assert_null(gh_jwa_name((gh_jwa)-1));
}

static void test_jwt_plugin_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "jwt_plugin"), *v;
  size_t i, count = 0;
  json_array_foreach(g, i, v) {
    const char *id = vec_str(v, "id");
    const char *alg_name = vec_str(v, "alg");
    gh_jwa alg = gh_jwa_parse(alg_name, strlen(alg_name));
    assert_int_not_equal(alg, GH_JWA_UNKNOWN);
    assert_string_equal(vec_str(v, "row_alg"), alg_name);
    assert_string_equal(vec_str(v, "row_crv"), gh_jwa_crv(alg) ? gh_jwa_crv(alg) : "");
    const char *priv_json = vec_str(v, "private_jwk_json");
    const char *pub_json = vec_str(v, "row_public_key");
    gh_arena *a = gh_arena_new();

    /* stored key: the column is the JSON-quoted ciphertext of the private JWK */
    gh_json *col = NULL;
    const char *row_priv = vec_str(v, "row_private_key");
    assert_int_equal(gh_json_parse(row_priv, strlen(row_priv), &col), GH_OK);
    assert_string_equal(gh_json_string(col), vec_str(v, "private_key_ciphertext"));
    gh_secrets s = {.legacy = vec_str(v, "secret")};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    assert_int_equal(gh_aead_decrypt(a, &s, gh_json_string(col), &pt, &pt_len), GH_OK);
    gh_json_decref(col);
    assert_int_equal(pt_len, strlen(priv_json));
    assert_memory_equal(pt, priv_json, pt_len);

    /* import the decrypted private JWK; both exports byte for byte */
    gh_jwk *priv = must_import(alg, (const char *)pt);
    assert_true(gh_jwk_is_private(priv));
    assert_int_equal(gh_jwk_alg(priv), alg);
    char *out_pub = gh_jwk_to_json(priv, false), *out_priv = gh_jwk_to_json(priv, true);
    assert_non_null(out_pub);
    assert_non_null(out_priv);
    if (strcmp(out_pub, pub_json)) fail_msg("%s public: %s\nwant %s", id, out_pub, pub_json);
    if (strcmp(out_priv, priv_json)) fail_msg("%s private: %s\nwant %s", id, out_priv, priv_json);
    free(out_pub);
    free(out_priv);

    /* the public JWK as stored */
    gh_jwk *pub = must_import(alg, pub_json);
    assert_false(gh_jwk_is_private(pub));
    out_pub = gh_jwk_to_json(pub, false);
    assert_string_equal(out_pub, pub_json);
    free(out_pub);
    assert_null(gh_jwk_to_json(pub, true));

    /* the token */
    const char *jwt = vec_str(v, "jwt"), *input = vec_str(v, "jwt_signing_input");
    size_t sig_len;
    uint8_t *sig = unb64url(vec_str(v, "jwt_signature_b64url"), &sig_len);
    assert_int_equal(gh_jws_verify(pub, input, strlen(input), sig, sig_len), GH_OK);
    assert_int_equal(gh_jws_verify(priv, input, strlen(input), sig, sig_len), GH_OK);

    gh_jws_parts parts;
    assert_int_equal(gh_jws_split(jwt, strlen(jwt), 16384, &parts), GH_OK);
    assert_string_equal(parts.header, vec_str(v, "jwt_header_json"));
    assert_int_equal(parts.header_len, strlen(vec_str(v, "jwt_header_json")));
    assert_string_equal(parts.payload, vec_str(v, "jwt_payload_json"));
    assert_int_equal(parts.payload_len, strlen(vec_str(v, "jwt_payload_json")));
    assert_int_equal(parts.signing_input_len, strlen(input));
    assert_memory_equal(jwt, input, parts.signing_input_len);
    assert_int_equal(parts.sig_len, sig_len);
    assert_memory_equal(parts.sig, sig, sig_len);
    assert_int_equal(gh_jws_verify(pub, jwt, parts.signing_input_len, parts.sig, parts.sig_len),
                     GH_OK);
    gh_jws_parts_free(&parts);

    /* the set-auth-jwt header token is signed by the same key */
    const char *hdr_jwt = vec_str(v, "set_auth_jwt_header");
    assert_int_equal(gh_jws_split(hdr_jwt, strlen(hdr_jwt), 16384, &parts), GH_OK);
    assert_int_equal(gh_jws_verify(pub, hdr_jwt, parts.signing_input_len, parts.sig, parts.sig_len),
                     GH_OK);
    gh_jws_parts_free(&parts);

    /* deterministic algorithms reproduce the signature; the others verify their own */
    uint8_t mine[GH_JWS_MAX_SIG];
    size_t mine_len = sizeof mine;
    assert_int_equal(gh_jws_sign(priv, input, strlen(input), mine, &mine_len), GH_OK);
    assert_int_equal(mine_len, sig_len);
    if (vec_bool(v, "signature_deterministic")) {
      assert_true(alg == GH_JWA_EDDSA || alg == GH_JWA_RS256);
      char *b = b64url(mine, mine_len);
      assert_string_equal(b, vec_str(v, "jwt_signature_b64url"));
      free(b);
      char *tok = NULL;
      const char *h = vec_str(v, "jwt_header_json"), *p = vec_str(v, "jwt_payload_json");
      assert_int_equal(gh_jws_compact_sign(priv, h, strlen(h), p, strlen(p), &tok), GH_OK);
      assert_string_equal(tok, jwt);
      free(tok);
    }
    assert_int_equal(gh_jws_verify(pub, input, strlen(input), mine, mine_len), GH_OK);

    /* the signature does not verify another message */
    char *other = gh_arena_strdup(a, input);
    other[strlen(other) - 1] ^= 1;
    assert_int_equal(gh_jws_verify(pub, other, strlen(other), sig, sig_len), GH_ERR_INVALID);

    free(sig);
    gh_jwk_free(priv);
    gh_jwk_free(pub);
    gh_arena_free(a);
    count++;
  }
  assert_int_equal(count, 5);
  json_decref(root);
}

/* Every vector signature against every other vector key: never valid. Also the PS256 key imported
 * as RS256 (same kty) rejects its own PSS signature: the key is bound to one algorithm. */
static void test_cross_keys(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "jwt_plugin"), *v, *w;
  size_t i, j;
  json_array_foreach(g, i, v) {
    const char *input = vec_str(v, "jwt_signing_input");
    size_t sig_len;
    uint8_t *sig = unb64url(vec_str(v, "jwt_signature_b64url"), &sig_len);
    json_array_foreach(g, j, w) {
      if (i == j) continue;
      const char *an = vec_str(w, "alg");
      gh_jwk *k = must_import(gh_jwa_parse(an, strlen(an)), vec_str(w, "row_public_key"));
      assert_int_equal(gh_jws_verify(k, input, strlen(input), sig, sig_len), GH_ERR_INVALID);
      gh_jwk_free(k);
    }
    free(sig);
  }
  json_t *ps = vector_for(root, "PS256"), *rs = vector_for(root, "RS256");
  const char *in = vec_str(ps, "jwt_signing_input");
  size_t sl;
  uint8_t *sig = unb64url(vec_str(ps, "jwt_signature_b64url"), &sl);
  gh_jwk *as_rs = must_import(GH_JWA_RS256, vec_str(ps, "row_public_key"));
  assert_int_equal(gh_jws_verify(as_rs, in, strlen(in), sig, sl), GH_ERR_INVALID);
  gh_jwk_free(as_rs);
  free(sig);
  in = vec_str(rs, "jwt_signing_input");
  sig = unb64url(vec_str(rs, "jwt_signature_b64url"), &sl);
  gh_jwk *as_ps = must_import(GH_JWA_PS256, vec_str(rs, "row_public_key"));
  assert_int_equal(gh_jws_verify(as_ps, in, strlen(in), sig, sl), GH_ERR_INVALID);
  gh_jwk_free(as_ps);
  free(sig);
  json_decref(root);
}

/* ---- generated keys ---- */

static void test_generate_round_trip(void **state) {
  (void)state;
  static const char hdr[] = "{\"alg\":\"x\",\"kid\":\"k\"}";
  static const char payload[] = "{\"sub\":\"user\",\"n\":\"\xc3\xa9\"}";
  for (size_t i = 0; i < NALL; i++) {
    gh_jwa alg = ALL[i];
    gh_jwk *k = must_generate(alg);

    /* export -> import gives the same key, public and private */
    char *priv_json = gh_jwk_to_json(k, true), *pub_json = gh_jwk_to_json(k, false);
    assert_non_null(priv_json);
    assert_non_null(pub_json);
    gh_jwk *k2 = must_import(alg, priv_json), *pub = must_import(alg, pub_json);
    char *again = gh_jwk_to_json(k2, true);
    assert_string_equal(again, priv_json);
    free(again);
    again = gh_jwk_to_json(pub, false);
    assert_string_equal(again, pub_json);
    free(again);

    /* compact sign -> split -> verify with the public key */
    char *tok = NULL;
    assert_int_equal(gh_jws_compact_sign(k, hdr, strlen(hdr), payload, strlen(payload), &tok),
                     GH_OK);
    gh_jws_parts p;
    assert_int_equal(gh_jws_split(tok, strlen(tok), 16384, &p), GH_OK);
    assert_string_equal(p.header, hdr);
    assert_string_equal(p.payload, payload);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, p.sig, p.sig_len), GH_OK);
    assert_int_equal(gh_jws_verify(k2, tok, p.signing_input_len, p.sig, p.sig_len), GH_OK);
    size_t want_len = alg == GH_JWA_EDDSA || alg == GH_JWA_ES256 ? 64
                      : alg == GH_JWA_ES512                      ? 132
                                                                 : 256;
    assert_int_equal(p.sig_len, want_len);

    /* a signature made by another key of the same algorithm */
    gh_jwk *other = must_generate(alg);
    assert_int_equal(gh_jws_verify(other, tok, p.signing_input_len, p.sig, p.sig_len),
                     GH_ERR_INVALID);
    uint8_t sig2[GH_JWS_MAX_SIG];
    size_t sl2 = sizeof sig2;
    assert_int_equal(gh_jws_sign(other, tok, p.signing_input_len, sig2, &sl2), GH_OK);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, sig2, sl2), GH_ERR_INVALID);
    gh_jwk_free(other);

    /* every single flipped bit (RSA: a sample of bits) */
    uint8_t *s = malloc(p.sig_len + 1);
    size_t step = p.sig_len > 132 ? 13 : 1;
    for (size_t bit = 0; bit < p.sig_len * 8; bit += step) {
      memcpy(s, p.sig, p.sig_len);
      s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len), GH_ERR_INVALID);
    }
    /* truncated, one byte longer, empty */
    memcpy(s, p.sig, p.sig_len);
    s[p.sig_len] = 0;
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len - 1),
                     GH_ERR_INVALID);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len + 1),
                     GH_ERR_INVALID);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, 0), GH_ERR_INVALID);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len), GH_OK);
    /* all zero / all 0xff (for ECDSA: r = s = 0 and r, s >= order) */
    memset(s, 0, p.sig_len);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len), GH_ERR_INVALID);
    memset(s, 0xff, p.sig_len);
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len, s, p.sig_len), GH_ERR_INVALID);
    /* another signing input */
    assert_int_equal(gh_jws_verify(pub, tok, p.signing_input_len - 1, p.sig, p.sig_len),
                     GH_ERR_INVALID);
    free(s);

    /* a public key does not sign */
    uint8_t sig[GH_JWS_MAX_SIG];
    size_t sl = sizeof sig;
    assert_int_equal(gh_jws_sign(pub, "x", 1, sig, &sl), GH_ERR_INVALID);
    char *t2 = NULL;
    assert_int_equal(gh_jws_compact_sign(pub, "{}", 2, "{}", 2, &t2), GH_ERR_INVALID);
    assert_null(t2);
    /* a buffer that is too small */
    sl = want_len - 1;
    assert_int_equal(gh_jws_sign(k, "x", 1, sig, &sl), GH_ERR_INVALID);
    /* the empty message */
    sl = sizeof sig;
    assert_int_equal(gh_jws_sign(k, NULL, 0, sig, &sl), GH_OK);
    assert_int_equal(gh_jws_verify(pub, "", 0, sig, sl), GH_OK);
    assert_int_equal(gh_jws_verify(pub, NULL, 0, sig, sl), GH_OK);

    gh_jws_parts_free(&p);
    free(tok);
    free(priv_json);
    free(pub_json);
    gh_jwk_free(k);
    gh_jwk_free(k2);
    gh_jwk_free(pub);
  }
  gh_jwk_free(NULL);
  assert_int_equal(gh_jwk_generate(GH_JWA_UNKNOWN, &(gh_jwk *){NULL}), GH_ERR_INVALID);
  assert_null(gh_jwk_to_json(NULL, false));
}

/* ---- import rejections ---- */

static void expect_reject(gh_jwa alg, const gh_jwk_members *m) {
  gh_jwk *k = (gh_jwk *)1;
  assert_int_equal(gh_jwk_import(alg, m, &k), GH_ERR_INVALID);
  assert_null(k);
}

static char *bn_member(EVP_PKEY *pk, const char *param) {
  BIGNUM *bn = NULL;
  assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
  uint8_t buf[1024];
  int n = BN_bn2bin(bn, buf);
  BN_free(bn);
  return b64url(buf, (size_t)n);
}

static void test_reject_small_rsa(void **state) {
  (void)state;
  EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  assert_non_null(pk);
  char *n = bn_member(pk, OSSL_PKEY_PARAM_RSA_N), *e = bn_member(pk, OSSL_PKEY_PARAM_RSA_E),
       *d = bn_member(pk, OSSL_PKEY_PARAM_RSA_D), *p = bn_member(pk, OSSL_PKEY_PARAM_RSA_FACTOR1),
       *q = bn_member(pk, OSSL_PKEY_PARAM_RSA_FACTOR2),
       *dp = bn_member(pk, OSSL_PKEY_PARAM_RSA_EXPONENT1),
       *dq = bn_member(pk, OSSL_PKEY_PARAM_RSA_EXPONENT2),
       *qi = bn_member(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  gh_jwk_members pub = {.kty = "RSA", .n = n, .e = e};
  gh_jwk_members priv = {
      .kty = "RSA", .n = n, .e = e, .d = d, .p = p, .q = q, .dp = dp, .dq = dq, .qi = qi};
  expect_reject(GH_JWA_RS256, &pub);
  expect_reject(GH_JWA_PS256, &pub);
  expect_reject(GH_JWA_RS256, &priv);
  char *all[] = {n, e, d, p, q, dp, dq, qi};
  for (size_t i = 0; i < 8; i++) free(all[i]);
  EVP_PKEY_free(pk);
}

static void test_reject_bad_members(void **state) {
  (void)state;
  json_t *root = vec_load();
  gh_json *j;

  /* ---- OKP ---- */
  const char *ed = vec_str(vector_for(root, "EdDSA"), "private_jwk_json");
  assert_int_equal(gh_json_parse(ed, strlen(ed), &j), GH_OK);
  gh_jwk_members m = members_of(j), t;
  /* wrong algorithm for the key type */
  expect_reject(GH_JWA_ES256, &m);
  expect_reject(GH_JWA_RS256, &m);
  expect_reject(GH_JWA_UNKNOWN, &m);
  t = m, t.kty = "EC";
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.crv = "Ed448";
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.crv = "X25519";
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.kty = "okp";
  expect_reject(GH_JWA_EDDSA, &t);
  /* missing members */
  t = m, t.x = NULL;
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.kty = NULL;
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.crv = NULL;
  expect_reject(GH_JWA_EDDSA, &t);
  /* wrong lengths */
  char *x31 = mutate_member(m.x, drop_last_byte), *x33 = mutate_member(m.x, add_byte);
  char *d31 = mutate_member(m.d, drop_last_byte);
  t = m, t.d = NULL, t.x = x31;
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.d = NULL, t.x = x33;
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.d = d31;
  expect_reject(GH_JWA_EDDSA, &t);
  t = m, t.x = "";
  expect_reject(GH_JWA_EDDSA, &t);
  /* x that is not the public key of d */
  char *xo = mutate_member(m.x, flip_last_bit);
  t = m, t.x = xo;
  expect_reject(GH_JWA_EDDSA, &t);
  /* padding, standard alphabet, non-canonical trailing bits, whitespace */
  char *buf = malloc(strlen(m.x) + 3);
  snprintf(buf, strlen(m.x) + 3, "%s=", m.x);
  t = m, t.d = NULL, t.x = buf;
  expect_reject(GH_JWA_EDDSA, &t);
  char *xs = strdup(m.x);
  xs[strlen(xs) - 1] = (char)(xs[strlen(xs) - 1] + 1); /* 43 chars: the last holds 2 spare bits */
  t = m, t.d = NULL, t.x = xs;
  expect_reject(GH_JWA_EDDSA, &t);
  xs[strlen(xs) - 1] = '+';
  expect_reject(GH_JWA_EDDSA, &t);
  xs[strlen(xs) - 1] = ' ';
  expect_reject(GH_JWA_EDDSA, &t);
  /* the intact public half imports */
  t = m, t.d = NULL;
  gh_jwk *ok = NULL;
  assert_int_equal(gh_jwk_import(GH_JWA_EDDSA, &t, &ok), GH_OK);
  gh_jwk_free(ok);
  free(x31), free(x33), free(d31), free(xo), free(buf), free(xs);
  gh_json_decref(j);

  /* ---- EC ---- */
  const char *ec = vec_str(vector_for(root, "ES256"), "private_jwk_json");
  assert_int_equal(gh_json_parse(ec, strlen(ec), &j), GH_OK);
  m = members_of(j);
  expect_reject(GH_JWA_ES512, &m); /* a P-256 key is not an ES512 key */
  expect_reject(GH_JWA_EDDSA, &m); /* nor an EdDSA one */
  t = m, t.crv = "P-521";
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.crv = "P-384";
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.crv = "secp256k1";
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.kty = "OKP";
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.y = NULL;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.x = NULL;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.y = NULL, t.d = NULL;
  expect_reject(GH_JWA_ES256, &t);
  /* points not on the curve */
  char *yo = mutate_member(m.y, flip_last_bit), *ff = mutate_member(m.y, all_ff),
       *zero = mutate_member(m.y, all_zero), *y31 = mutate_member(m.y, drop_last_byte),
       *y33 = mutate_member(m.y, add_byte), *dz = mutate_member(m.d, all_zero),
       *dff = mutate_member(m.d, all_ff), *dflip = mutate_member(m.d, flip_last_bit);
  t = m, t.d = NULL, t.y = yo;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.d = NULL, t.y = ff;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.d = NULL, t.x = zero, t.y = zero;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.y = yo; /* private key with a bad point */
  expect_reject(GH_JWA_ES256, &t);
  /* coordinate lengths */
  t = m, t.d = NULL, t.y = y31;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.d = NULL, t.y = y33;
  expect_reject(GH_JWA_ES256, &t);
  /* d out of range or not matching the point */
  t = m, t.d = dz;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.d = dff;
  expect_reject(GH_JWA_ES256, &t);
  t = m, t.d = dflip;
  expect_reject(GH_JWA_ES256, &t);
  free(yo), free(ff), free(zero), free(y31), free(y33), free(dz), free(dff), free(dflip);
  gh_json_decref(j);

  const char *ec5 = vec_str(vector_for(root, "ES512"), "row_public_key");
  assert_int_equal(gh_json_parse(ec5, strlen(ec5), &j), GH_OK);
  m = members_of(j);
  expect_reject(GH_JWA_ES256, &m);
  char *y5 = mutate_member(m.y, flip_last_bit);
  t = m, t.y = y5;
  expect_reject(GH_JWA_ES512, &t);
  free(y5);
  gh_json_decref(j);

  /* ---- RSA ---- */
  const char *rsa = vec_str(vector_for(root, "RS256"), "private_jwk_json");
  assert_int_equal(gh_json_parse(rsa, strlen(rsa), &j), GH_OK);
  m = members_of(j);
  expect_reject(GH_JWA_EDDSA, &m);
  expect_reject(GH_JWA_ES256, &m);
  t = m, t.kty = "EC";
  expect_reject(GH_JWA_RS256, &t);
  t = m, t.crv = "P-256";
  expect_reject(GH_JWA_RS256, &t);
  t = m, t.n = NULL;
  expect_reject(GH_JWA_RS256, &t);
  t = m, t.e = NULL;
  expect_reject(GH_JWA_RS256, &t);
  /* private members: all or none */
  const char **priv_fields[] = {&t.d, &t.p, &t.q, &t.dp, &t.dq, &t.qi};
  for (size_t i = 0; i < 6; i++) {
    t = m, *priv_fields[i] = NULL;
    expect_reject(GH_JWA_RS256, &t);
  }
  t = (gh_jwk_members){.kty = "RSA", .n = m.n, .e = m.e, .p = m.p};
  expect_reject(GH_JWA_RS256, &t);
  /* n != p * q */
  t = m, t.q = m.p;
  expect_reject(GH_JWA_RS256, &t);
  /* public exponents: even, 1, too large */
  t = (gh_jwk_members){.kty = "RSA", .n = m.n, .e = "AQAA"}; /* 65536 */
  expect_reject(GH_JWA_RS256, &t);
  t.e = "AQ"; /* 1 */
  expect_reject(GH_JWA_RS256, &t);
  t.e = "AA"; /* 0 */
  expect_reject(GH_JWA_RS256, &t);
  t.e = "AQAAAAAAAAAAAQ"; /* 2^72 + 1 */
  expect_reject(GH_JWA_RS256, &t);
  t.e = "Aw"; /* 3 is fine */
  gh_jwk *k3 = NULL;
  assert_int_equal(gh_jwk_import(GH_JWA_RS256, &t, &k3), GH_OK);
  gh_jwk_free(k3);
  /* an even modulus */
  char *ne = mutate_member(m.n, flip_last_bit); /* n is odd: this makes it even */
  t = (gh_jwk_members){.kty = "RSA", .n = ne, .e = m.e};
  expect_reject(GH_JWA_RS256, &t);
  free(ne);
  gh_json_decref(j);

  /* NULL arguments */
  gh_jwk *k = NULL;
  assert_int_equal(gh_jwk_import(GH_JWA_EDDSA, NULL, &k), GH_ERR_INVALID);
  assert_int_equal(gh_jwk_import(GH_JWA_EDDSA, &(gh_jwk_members){0}, NULL), GH_ERR_INVALID);
  json_decref(root);
}

/* PS256 is PSS with MGF1-SHA-256 and a salt of exactly 32 bytes: signatures made by OpenSSL
 * directly with other salt lengths or PKCS#1 v1.5 padding are rejected. */
static int ossl_sign(EVP_PKEY *pk, int pad, int salt, const char *msg, uint8_t *sig, size_t *sl) {
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int ok = m && EVP_DigestSignInit(m, &pctx, EVP_sha256(), NULL, pk) == 1 &&
           EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1 &&
           (pad != RSA_PKCS1_PSS_PADDING || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1) &&
           EVP_DigestSign(m, sig, sl, (const uint8_t *)msg, strlen(msg)) == 1;
  EVP_MD_CTX_free(m);
  return ok;
}

static void test_pss_salt_length(void **state) {
  (void)state;
  EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_non_null(pk);
  char *n = bn_member(pk, OSSL_PKEY_PARAM_RSA_N), *e = bn_member(pk, OSSL_PKEY_PARAM_RSA_E);
  gh_jwk_members m = {.kty = "RSA", .n = n, .e = e};
  gh_jwk *ps = NULL, *rs = NULL;
  assert_int_equal(gh_jwk_import(GH_JWA_PS256, &m, &ps), GH_OK);
  assert_int_equal(gh_jwk_import(GH_JWA_RS256, &m, &rs), GH_OK);
  static const char msg[] = "eyJhbGciOiJQUzI1NiJ9.e30";
  uint8_t sig[512];
  size_t sl = sizeof sig;
  assert_true(ossl_sign(pk, RSA_PKCS1_PSS_PADDING, 32, msg, sig, &sl));
  assert_int_equal(gh_jws_verify(ps, msg, strlen(msg), sig, sl), GH_OK);
  assert_int_equal(gh_jws_verify(rs, msg, strlen(msg), sig, sl), GH_ERR_INVALID);
  int salts[] = {0, 20, 31, 33, 64, RSA_PSS_SALTLEN_MAX};
  for (size_t i = 0; i < sizeof salts / sizeof *salts; i++) {
    sl = sizeof sig;
    assert_true(ossl_sign(pk, RSA_PKCS1_PSS_PADDING, salts[i], msg, sig, &sl));
    assert_int_equal(gh_jws_verify(ps, msg, strlen(msg), sig, sl), GH_ERR_INVALID);
  }
  sl = sizeof sig;
  assert_true(ossl_sign(pk, RSA_PKCS1_PADDING, 0, msg, sig, &sl));
  assert_int_equal(gh_jws_verify(rs, msg, strlen(msg), sig, sl), GH_OK);
  assert_int_equal(gh_jws_verify(ps, msg, strlen(msg), sig, sl), GH_ERR_INVALID);
  /* and our PS256 signatures use 32 bytes of salt: OpenSSL verifies them with salt length 32 */
  gh_jwk *gen = must_generate(GH_JWA_PS256);
  char *pub_json = gh_jwk_to_json(gen, false);
  uint8_t mine[GH_JWS_MAX_SIG];
  size_t ml = sizeof mine;
  assert_int_equal(gh_jws_sign(gen, msg, strlen(msg), mine, &ml), GH_OK);
  gh_jwk *gen_pub = must_import(GH_JWA_PS256, pub_json);
  assert_int_equal(gh_jws_verify(gen_pub, msg, strlen(msg), mine, ml), GH_OK);
  free(pub_json);
  gh_jwk_free(gen_pub);
  gh_jwk_free(gen);
  gh_jwk_free(ps);
  gh_jwk_free(rs);
  free(n);
  free(e);
  EVP_PKEY_free(pk);
}

/* One gh_jwk shared by several threads verifying at once (good and bad signatures). */
typedef struct {
  gh_jwk *k;
  const char *msg;
  const uint8_t *sig;
  size_t sig_len;
  int failures;
} verify_job;

static void *verify_loop(void *arg) {
  verify_job *j = arg;
  uint8_t bad[GH_JWS_MAX_SIG];
  memcpy(bad, j->sig, j->sig_len);
  bad[0] ^= 0x80;
  for (int i = 0; i < 200; i++) {
    if (gh_jws_verify(j->k, j->msg, strlen(j->msg), j->sig, j->sig_len) != GH_OK) j->failures++;
    if (gh_jws_verify(j->k, j->msg, strlen(j->msg), bad, j->sig_len) != GH_ERR_INVALID)
      j->failures++;
  }
  return NULL;
}

static void test_concurrent_verify(void **state) {
  (void)state;
  static const char msg[] = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0";
  for (size_t a = 0; a < NALL; a++) {
    gh_jwk *k = must_generate(ALL[a]);
    uint8_t sig[GH_JWS_MAX_SIG];
    size_t sl = sizeof sig;
    assert_int_equal(gh_jws_sign(k, msg, strlen(msg), sig, &sl), GH_OK);
    pthread_t th[4];
    verify_job jobs[4];
    for (int i = 0; i < 4; i++) {
      jobs[i] = (verify_job){.k = k, .msg = msg, .sig = sig, .sig_len = sl};
      assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
      assert_int_equal(pthread_join(th[i], NULL), 0);
      assert_int_equal(jobs[i].failures, 0);
    }
    gh_jwk_free(k);
  }
}

/* ---- compact split ---- */

static void expect_split(const char *tok, size_t max, gh_status want) {
  gh_jws_parts p;
  p.header = (char *)1;
  gh_status st = gh_jws_split(tok, strlen(tok), max, &p);
  if (st != want)
    fail_msg("split(\"%s\") = %s, want %s", tok, gh_status_str(st), gh_status_str(want));
  /* gh_jws_split_buf: the same answer and parts, in a buffer of exactly GH_JWS_SPLIT_BUF(len)
   * bytes (a heap block, so that a sanitizer sees any write past it) */
  size_t len = strlen(tok), cap = GH_JWS_SPLIT_BUF(len);
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  gh_jws_parts q;
  gh_status bst = gh_jws_split_buf(tok, len, max, buf, cap, &q);
  if (bst != want)
    fail_msg("split_buf(\"%s\") = %s, want %s", tok, gh_status_str(bst), gh_status_str(want));
  if (st == GH_OK) {
    assert_int_equal(q.header_len, p.header_len);
    assert_memory_equal(q.header, p.header, p.header_len + 1);
    assert_int_equal(q.payload_len, p.payload_len);
    assert_memory_equal(q.payload, p.payload, p.payload_len + 1);
    assert_int_equal(q.sig_len, p.sig_len);
    assert_memory_equal(q.sig, p.sig, p.sig_len);
    assert_int_equal(q.signing_input_len, p.signing_input_len);
    assert_null(q.owned); /* nothing to free */
    assert_true((uint8_t *)q.header >= buf && q.sig + q.sig_len <= buf + cap);
    if (len > max) fail_msg("accepted over max_len");
    /* one byte short of GH_JWS_SPLIT_BUF: refused, nothing written past it */
    assert_int_equal(gh_jws_split_buf(tok, len, max, buf, cap - 1, &q), GH_ERR_INVALID);
    assert_int_equal(gh_jws_split_buf(tok, len, max, NULL, cap, &q), GH_ERR_INVALID);
    gh_jws_parts_free(&p);
  } else {
    assert_null(p.header); /* nothing to free on failure */
  }
  free(buf);
}

static void test_split(void **state) {
  (void)state;
  /* "{}" = e30, "x" = eA */
  expect_split("e30.e30.AAAA", 100, GH_OK);
  expect_split("e30.e30.eA", 100, GH_OK);
  const char *bad[] = {
      "",              /* nothing */
      "e30",           /* no dot */
      "e30.e30",       /* one dot */
      "e30.e30.AA.AA", /* three dots */
      "e30.e30.AA.",   /* three dots */
      ".e30.AAAA",     /* empty header */
      "e30..AAAA",     /* empty payload */
      "e30.e30.",      /* empty signature */
      "..",            /* all empty */
      "e30=.e30.AAAA", /* padding */
      "e30.e30.eA==",  /* padding */
      "e30.e30.eA=",   /* padding */
      "e30.e30.AAA=",  /* padding */
      "e30 .e30.AAAA", /* space */
      "e30.e30.AA AA", /* space */
      " e30.e30.AAAA", /* leading space */
      "e30.e30.AAAA ", /* trailing space */
      "e30.e30.AAAA\n",
      "e30.e30.AA+A", /* standard alphabet */
      "e30.e30.AA/A",
      "e30.e30.AA*A", /* other characters */
      "e3%30.e30.AAAA",
      "e30.e30.A",    /* length % 4 == 1 */
      "e30.e30.eB",   /* non-canonical: spare bits set */
      "e31.e30.AAAA", /* non-canonical header */
      "e30.e30.AAB",  /* non-canonical */
      "e30.e30.\xc3\xa9",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_split(bad[i], 100, GH_ERR_INVALID);
  /* max_len */
  expect_split("e30.e30.AAAA", 12, GH_OK);
  expect_split("e30.e30.AAAA", 11, GH_ERR_TOO_LARGE);
  expect_split("e30.e30.AAAA", 0, GH_ERR_TOO_LARGE);
  /* an embedded NUL */
  gh_jws_parts p;
  assert_int_equal(gh_jws_split("e30.e30.AA\0A", 12, 100, &p), GH_ERR_INVALID);
  assert_int_equal(gh_jws_split(NULL, 0, 100, &p), GH_ERR_INVALID);
  assert_int_equal(gh_jws_split("e30.e30.AAAA", 12, 100, NULL), GH_ERR_INVALID);
  /* a signature longer than GH_JWS_MAX_SIG */
  size_t big = GH_B64_LEN(GH_JWS_MAX_SIG + 3);
  char *tok = malloc(8 + big + 1);
  memcpy(tok, "e30.e30.", 8);
  memset(tok + 8, 'A', big);
  tok[8 + big] = 0;
  expect_split(tok, 1 << 20, GH_ERR_INVALID);
  /* exactly GH_JWS_MAX_SIG bytes is fine (1366 chars) */
  tok[8 + 1366] = 0;
  expect_split(tok, 1 << 20, GH_OK);
  assert_int_equal(gh_jws_split(tok, 8 + 1366, 1 << 20, &p), GH_OK);
  assert_int_equal(p.sig_len, GH_JWS_MAX_SIG);
  gh_jws_parts_free(&p);
  gh_jws_parts_free(&p); /* idempotent */
  gh_jws_parts_free(NULL);
  free(tok);
  /* decoded parts, lengths and the signing input */
  assert_int_equal(gh_jws_split("eyJhIjoxfQ.bnVs.AQID", 20, 20, &p), GH_OK);
  assert_string_equal(p.header, "{\"a\":1}");
  assert_int_equal(p.header_len, 7);
  assert_string_equal(p.payload, "nul");
  assert_int_equal(p.signing_input_len, 15);
  assert_int_equal(p.sig_len, 3);
  assert_memory_equal(p.sig, "\x01\x02\x03", 3);
  gh_jws_parts_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jwa_names),
      cmocka_unit_test(test_jwt_plugin_vectors),
      cmocka_unit_test(test_cross_keys),
      cmocka_unit_test(test_generate_round_trip),
      cmocka_unit_test(test_reject_small_rsa),
      cmocka_unit_test(test_reject_bad_members),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_pss_salt_length),
      cmocka_unit_test(test_concurrent_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
