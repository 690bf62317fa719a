/* libgatehouse-verify, JWT path: valid tokens for the five algorithms, every attack case with its
 * status, and the JWKS cache (fetch, Cache-Control, refetch on unknown kid at most once per
 * jwks_min_refetch_s, last good JWKS kept, issuer down) against an in-process HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <time.h>

#include "common/bytes.h"
#include "fake_server.h"
#include "gatehouse/verify.h"
#include "internal.h"      /* the verifier's header memo */
#include "jose/internal.h" /* the EVP_PKEY behind a gh_jwk, to write its PEM (HS256 attack) */
#include "jose/jose.h"

enum { K_ED, K_ES256, K_ES512, K_RS256, K_PS256, K_N };
static const gh_jwa ALGS[K_N] = {GH_JWA_EDDSA, GH_JWA_ES256, GH_JWA_ES512, GH_JWA_RS256,
                                 GH_JWA_PS256};
static const char *const KIDS[K_N] = {"ed-1", "es256-1", "es512-1", "rs256-1", "ps256-1"};
static gh_jwk *keys[K_N];
static gh_jwk *other_ed; /* a second Ed25519 key, never published */
static gh_jwk *extra_es; /* published later (rotation) */
static fake_srv *srv;    /* serves the JWKS of keys[] */
static char *jwks_all;

/* ---------------------------------------------------------------------------------------- */

static char *b64url(const void *p, size_t n) {
  char *o = malloc(GH_B64_LEN(n) + 1);
  assert_non_null(o);
  gh_b64_encode(p, n, o, true, false);
  return o;
}

/* {"keys":[...]} for the given keys; alg written except for ES256 (derived from kty/crv). */
static char *make_jwks(gh_jwk *const *ks, const char *const *kids, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    char *pub = gh_jwk_to_json(ks[i], false);
    assert_non_null(pub);
    json_t *j = json_loads(pub, 0, NULL);
    free(pub);
    assert_non_null(j);
    json_object_set_new(j, "kid", json_string(kids[i]));
    if (gh_jwk_alg(ks[i]) != GH_JWA_ES256)
      json_object_set_new(j, "alg", json_string(gh_jwa_name(gh_jwk_alg(ks[i]))));
    json_array_append_new(arr, j);
  }
  json_t *doc = json_pack("{s:o}", "keys", arr);
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

static json_t *good_claims(const char *iss) {
  long now = (long)time(NULL);
  return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:b, s:s}", "sub", "user-1", "iss",
                   iss, "aud", iss, "exp", (json_int_t)(now + 600), "iat", (json_int_t)now, "email",
                   "ann@example.com", "name", "Ann", "role", "admin", "emailVerified", 1, "jti",
                   "tok-1");
}

static char *sign_raw(const gh_jwk *k, const char *hdr, const char *payload) {
  char *tok = NULL;
  assert_int_equal(gh_jws_compact_sign(k, hdr, strlen(hdr), payload, strlen(payload), &tok), GH_OK);
  return tok;
}

static char *sign_claims(const gh_jwk *k, const char *alg, const char *kid, json_t *claims) {
  char hdr[256];
  snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
  char *payload = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  char *tok = sign_raw(k, hdr, payload);
  free(payload);
  return tok;
}

/* A token with a valid signature by keys[i] for claims (the reference is consumed). */
static char *tok_for(int i, json_t *claims) {
  return sign_claims(keys[i], gh_jwa_name(ALGS[i]), KIDS[i], claims);
}

/* "b64(hdr).b64(payload).sig" with any header and signature bytes (alg none, HS256...). */
static char *unsigned_tok(const char *hdr, const char *payload, const uint8_t *sig,
                          size_t sig_len) {
  char *h = b64url(hdr, strlen(hdr)), *p = b64url(payload, strlen(payload));
  char *s = sig_len ? b64url(sig, sig_len) : strdup("");
  size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
  char *t = malloc(n);
  snprintf(t, n, "%s.%s.%s", h, p, s);
  free(h);
  free(p);
  free(s);
  return t;
}

static char *hs256_tok(const char *hdr, const char *payload, const void *secret,
                       size_t secret_len) {
  char *t = unsigned_tok(hdr, payload, (const uint8_t *)"x", 1);
  char *last = strrchr(t, '.');
  uint8_t mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret, (int)secret_len, (const uint8_t *)t, (size_t)(last - t), mac,
       &mac_len);
  *last = 0;
  char *s = b64url(mac, mac_len);
  size_t n = strlen(t) + strlen(s) + 2;
  char *out = malloc(n);
  snprintf(out, n, "%s.%s", t, s);
  free(t);
  free(s);
  return out;
}

static ghv_verifier *new_verifier_cfg(ghv_config *c) {
  ghv_verifier *v = NULL;
  assert_int_equal(ghv_new(c, &v), GHV_OK);
  return v;
}

static ghv_verifier *new_verifier(const fake_srv *s) {
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = s->base;
  return new_verifier_cfg(&c);
}

static ghv_status verify_str(ghv_verifier *v, const char *tok) {
  ghv_principal p;
  ghv_status st = ghv_verify_jwt(v, tok, strlen(tok), &p);
  if (st != GHV_OK) assert_null(p.user_id);
  ghv_principal_clear(&p);
  return st;
}

/* verify_str on a token it frees */
static ghv_status verify_owned(ghv_verifier *v, char *tok) {
  ghv_status st = verify_str(v, tok);
  free(tok);
  return st;
}

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < K_N; i++)
    if (gh_jwk_generate(ALGS[i], &keys[i]) != GH_OK) return -1;
  if (gh_jwk_generate(GH_JWA_EDDSA, &other_ed) != GH_OK) return -1;
  if (gh_jwk_generate(GH_JWA_ES256, &extra_es) != GH_OK) return -1;
  jwks_all = make_jwks(keys, KIDS, K_N);
  srv = fake_start();
  if (!srv || !jwks_all) return -1;
  fake_set_jwks(srv, jwks_all, 200, "public, max-age=300");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fake_free(srv);
  free(jwks_all);
  for (int i = 0; i < K_N; i++) gh_jwk_free(keys[i]);
  gh_jwk_free(other_ed);
  gh_jwk_free(extra_es);
  return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void valid_every_alg(void **state) {
  (void)state;
  /* the library verifies Ed25519 with libsodium unless built with GHV_ED25519=openssl */
#ifdef GHV_EXPECT_SODIUM
  assert_true(keys[K_ED]->sodium_ed25519);
#else
  assert_false(keys[K_ED]->sodium_ed25519);
#endif
  ghv_verifier *v = new_verifier(srv);
  for (int i = 0; i < K_N; i++) {
    json_t *c = good_claims(srv->base);
    json_int_t exp = json_integer_value(json_object_get(c, "exp"));
    char *tok = tok_for(i, c);
    ghv_principal p;
    assert_int_equal(ghv_verify_jwt(v, tok, strlen(tok), &p), GHV_OK);
    assert_int_equal(p.source, GHV_SOURCE_JWT);
    assert_string_equal(p.user_id, "user-1");
    assert_string_equal(p.email, "ann@example.com");
    assert_string_equal(p.name, "Ann");
    assert_string_equal(p.role, "admin");
    assert_string_equal(p.token_id, "tok-1");
    assert_null(p.session_id);
    assert_true(p.email_verified);
    assert_int_equal(p.expires_at, exp);
    ghv_principal_clear(&p);
    assert_null(p.user_id);
    free(tok);
  }
  /* optional claims absent: NULL / false; aud as an array; exp as a real number */
  long now = (long)time(NULL);
  json_t *c = json_pack("{s:s, s:s, s:[s,s], s:f}", "sub", "u2", "iss", srv->base, "aud", "other",
                        srv->base, "exp", (double)now + 60.5);
  char *tok = tok_for(K_ED, c);
  ghv_principal p;
  assert_int_equal(ghv_verify_jwt(v, tok, strlen(tok), &p), GHV_OK);
  assert_string_equal(p.user_id, "u2");
  assert_null(p.email);
  assert_null(p.role);
  assert_null(p.token_id);
  assert_false(p.email_verified);
  assert_int_equal(p.expires_at, now + 60);
  ghv_principal_clear(&p);
  free(tok);
  assert_int_equal(atomic_load(&srv->jwks_hits) >= 1, 1);
  ghv_free(v);

  /* jwks_url alone, with explicit issuer and audience */
  char url[128];
  snprintf(url, sizeof url, "%s/api/auth/jwks", srv->base);
  ghv_config cfg;
  ghv_config_init(&cfg);
  cfg.jwks_url = url;
  cfg.expected_issuer = srv->base;
  cfg.expected_audience = srv->base;
  v = new_verifier_cfg(&cfg);
  assert_int_equal(verify_owned(v, tok_for(K_PS256, good_claims(srv->base))), GHV_OK);
  ghv_free(v);
}

/* The kid policy: a token without kid, signed by the issuer's real key (the one key pinned to
 * its alg), is refused by default — before any JWKS fetch — and accepted only with
 * allow_missing_kid (for issuers that do not set kid). */
static void missing_kid_policy(void **state) {
  (void)state;
  json_t *c = good_claims(srv->base);
  char *payload = json_dumps(c, JSON_COMPACT);
  json_decref(c);
  ghv_verifier *v = new_verifier(srv);
  int hits = atomic_load(&srv->jwks_hits);
  for (int i = 0; i < K_N; i++) {
    char hdr[64];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", gh_jwa_name(ALGS[i]));
    assert_int_equal(verify_owned(v, sign_raw(keys[i], hdr, payload)), GHV_ERR_KID);
  }
  assert_int_equal(atomic_load(&srv->jwks_hits), hits); /* refused without a request */
  /* the same key with its kid: accepted */
  assert_int_equal(verify_owned(v, tok_for(K_ES512, good_claims(srv->base))), GHV_OK);
  ghv_free(v);

  ghv_config cfg;
  ghv_config_init(&cfg);
  assert_false(cfg.allow_missing_kid);
  cfg.issuer_url = srv->base;
  cfg.allow_missing_kid = true;
  v = new_verifier_cfg(&cfg);
  for (int i = 0; i < K_N; i++) {
    char hdr[64];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\"}", gh_jwa_name(ALGS[i]));
    assert_int_equal(verify_owned(v, sign_raw(keys[i], hdr, payload)), GHV_OK);
  }
  /* relaxed, the signature still has to be the published key's */
  assert_int_equal(verify_owned(v, sign_raw(other_ed, "{\"alg\":\"EdDSA\"}", payload)),
                   GHV_ERR_SIGNATURE);
  ghv_free(v);
  free(payload);
}

static void alg_none_and_hmac(void **state) {
  (void)state;
  ghv_verifier *v = new_verifier(srv);
  json_t *c = good_claims(srv->base);
  char *payload = json_dumps(c, JSON_COMPACT);
  json_decref(c);
  int hits = atomic_load(&srv->jwks_hits);
  /* alg none, with a signature and without one (an empty third part is not a compact JWS) */
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(verify_owned(v, unsigned_tok("{\"alg\":\"none\",\"kid\":\"ed-1\"}", payload,
                                                junk, sizeof junk)),
                   GHV_ERR_ALG);
  assert_int_equal(verify_owned(v, unsigned_tok("{\"alg\":\"none\"}", payload, junk, sizeof junk)),
                   GHV_ERR_ALG);
  assert_int_equal(verify_owned(v, unsigned_tok("{\"alg\":\"NONE\",\"kid\":\"ed-1\"}", payload,
                                                junk, sizeof junk)),
                   GHV_ERR_ALG);
  assert_int_equal(
      verify_owned(v, unsigned_tok("{\"alg\":\"none\",\"kid\":\"ed-1\"}", payload, NULL, 0)),
      GHV_ERR_MALFORMED);
  assert_int_equal(verify_owned(v, unsigned_tok("{\"kid\":\"ed-1\"}", payload, junk, sizeof junk)),
                   GHV_ERR_ALG);
  /* alg none and HS* never cost a JWKS request */
  assert_int_equal(atomic_load(&srv->jwks_hits), hits);

  /* HS256 with the public key as the HMAC secret: the JWK JSON and the PEM */
  for (int i = 0; i < K_N; i++) {
    char hdr[128];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", KIDS[i]);
    char *jwk = gh_jwk_to_json(keys[i], false);
    assert_int_equal(verify_owned(v, hs256_tok(hdr, payload, jwk, strlen(jwk))), GHV_ERR_ALG);
    free(jwk);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, keys[i]->pkey), 1);
    char *pem;
    long pem_len = BIO_get_mem_data(b, &pem);
    assert_true(pem_len > 0);
    assert_int_equal(verify_owned(v, hs256_tok(hdr, payload, pem, (size_t)pem_len)), GHV_ERR_ALG);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS512\",\"kid\":\"%s\"}", KIDS[i]);
    assert_int_equal(verify_owned(v, hs256_tok(hdr, payload, pem, (size_t)pem_len)), GHV_ERR_ALG);
    BIO_free(b);
  }
  free(payload);
  ghv_free(v);
}

static void kid_attacks(void **state) {
  (void)state;
  ghv_verifier *v = new_verifier(srv);
  static const char *const bad[] = {"nope", "../../etc/passwd", "' OR 1=1 --", "ed-1 ", "ED-1",
                                    "ed-",  "ed-1/../ed-1",     "%65d-1",      "*"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *tok = sign_claims(keys[K_ED], "EdDSA", bad[i], good_claims(srv->base));
    assert_int_equal(verify_owned(v, tok), GHV_ERR_KID);
  }
  /* kid that is not a string */
  json_t *c = good_claims(srv->base);
  char *payload = json_dumps(c, JSON_COMPACT);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":1}", payload)),
                   GHV_ERR_MALFORMED);
  /* an embedded jwk / jku in the header is never used */
  char *pub = gh_jwk_to_json(other_ed, false);
  char hdr[512];
  snprintf(hdr, sizeof hdr,
           "{\"alg\":\"EdDSA\",\"kid\":\"attacker\",\"jwk\":%s,\"jku\":\"http://127.0.0.1:1/\"}",
           pub);
  free(pub);
  assert_int_equal(verify_owned(v, sign_raw(other_ed, hdr, payload)), GHV_ERR_KID);
  /* signature of another key under the right kid */
  assert_int_equal(
      verify_owned(v, sign_raw(other_ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", payload)),
      GHV_ERR_SIGNATURE);
  /* header alg differing from the key's pinned alg */
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_RS256], "{\"alg\":\"RS256\",\"kid\":\"es256-1\"}", payload)),
      GHV_ERR_ALG);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_PS256], "{\"alg\":\"PS256\",\"kid\":\"rs256-1\"}", payload)),
      GHV_ERR_ALG);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_RS256], "{\"alg\":\"RS256\",\"kid\":\"ps256-1\"}", payload)),
      GHV_ERR_ALG);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ES256], "{\"alg\":\"ES256\",\"kid\":\"ed-1\"}", payload)),
      GHV_ERR_ALG);
  /* crit is never understood */
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED],
                               "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[\"exp\"],"
                               "\"exp\":1}",
                               payload)),
      GHV_ERR_MALFORMED);
  /* duplicate members in the header */
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"kid\":\"ed-1\"}",
                               payload)),
      GHV_ERR_MALFORMED);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"none\",\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}",
                               payload)),
      GHV_ERR_MALFORMED);
  /* header not an object */
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], "[\"EdDSA\"]", payload)),
                   GHV_ERR_MALFORMED);
  free(payload);
  json_decref(c);
  ghv_free(v);
}

static void claim_checks(void **state) {
  (void)state;
  ghv_verifier *v = new_verifier(srv);
  long now = (long)time(NULL);
  json_t *c;

  c = good_claims(srv->base);
  json_object_set_new(c, "iss", json_string("http://evil.example"));
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_ISSUER);
  c = good_claims(srv->base);
  json_object_del(c, "iss");
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_ISSUER);
  c = good_claims(srv->base);
  char longer[128];
  snprintf(longer, sizeof longer, "%s/", srv->base);
  json_object_set_new(c, "iss", json_string(longer));
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_ISSUER);

  c = good_claims(srv->base);
  json_object_set_new(c, "aud", json_string("http://evil.example"));
  assert_int_equal(verify_owned(v, tok_for(K_ES256, c)), GHV_ERR_AUDIENCE);
  c = good_claims(srv->base);
  json_object_set_new(c, "aud", json_pack("[s,i]", "x", 3));
  assert_int_equal(verify_owned(v, tok_for(K_ES256, c)), GHV_ERR_AUDIENCE);
  c = good_claims(srv->base);
  json_object_del(c, "aud");
  assert_int_equal(verify_owned(v, tok_for(K_ES256, c)), GHV_ERR_AUDIENCE);

  /* exp: beyond the 30 s leeway -> expired; within it -> accepted */
  c = good_claims(srv->base);
  json_object_set_new(c, "exp", json_integer(now - 100));
  assert_int_equal(verify_owned(v, tok_for(K_RS256, c)), GHV_ERR_EXPIRED);
  c = good_claims(srv->base);
  json_object_set_new(c, "exp", json_integer(now - 10));
  assert_int_equal(verify_owned(v, tok_for(K_RS256, c)), GHV_OK);
  c = good_claims(srv->base);
  json_object_set_new(c, "nbf", json_integer(now + 100));
  assert_int_equal(verify_owned(v, tok_for(K_PS256, c)), GHV_ERR_NOT_YET_VALID);
  c = good_claims(srv->base);
  json_object_set_new(c, "nbf", json_integer(now + 10));
  assert_int_equal(verify_owned(v, tok_for(K_PS256, c)), GHV_OK);
  c = good_claims(srv->base);
  json_object_set_new(c, "iat", json_integer(now + 100));
  assert_int_equal(verify_owned(v, tok_for(K_ES512, c)), GHV_ERR_NOT_YET_VALID);

  /* required claims */
  c = good_claims(srv->base);
  json_object_del(c, "sub");
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);
  c = good_claims(srv->base);
  json_object_set_new(c, "sub", json_string(""));
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);
  c = good_claims(srv->base);
  json_object_set_new(c, "sub", json_integer(7));
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);
  c = good_claims(srv->base);
  json_object_del(c, "exp");
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);
  c = good_claims(srv->base);
  json_object_set_new(c, "exp", json_string("tomorrow"));
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);
  c = good_claims(srv->base);
  json_object_set_new(c, "nbf", json_true());
  assert_int_equal(verify_owned(v, tok_for(K_ED, c)), GHV_ERR_CLAIMS);

  /* duplicate members in the (validly signed) claims; claims that are not an object */
  char hdr[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}";
  char payload[512];
  snprintf(payload, sizeof payload,
           "{\"sub\":\"user-1\",\"sub\":\"admin\",\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}",
           srv->base, srv->base, now + 600);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, payload)), GHV_ERR_MALFORMED);
  snprintf(payload, sizeof payload,
           "{\"sub\":\"user-1\",\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%ld,\"exp\":%ld}", srv->base,
           srv->base, now + 600, now + 999999);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, payload)), GHV_ERR_MALFORMED);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, "[1,2]")), GHV_ERR_MALFORMED);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, "not json")), GHV_ERR_MALFORMED);
  ghv_free(v);
}

static void shape_and_size(void **state) {
  (void)state;
  ghv_verifier *v = new_verifier(srv);
  char *tok = tok_for(K_ED, good_claims(srv->base));
  size_t n = strlen(tok);
  ghv_principal p;
  /* truncated: signature part removed, then cut inside the signature */
  char *dot = strrchr(tok, '.');
  assert_int_equal(ghv_verify_jwt(v, tok, (size_t)(dot - tok), &p), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_verify_jwt(v, tok, (size_t)(dot - tok) + 1, &p), GHV_ERR_MALFORMED);
  ghv_status st = ghv_verify_jwt(v, tok, n - 4, &p);
  assert_true(st == GHV_ERR_SIGNATURE || st == GHV_ERR_MALFORMED);
  st = ghv_verify_jwt(v, tok, n - 1, &p);
  assert_true(st == GHV_ERR_SIGNATURE || st == GHV_ERR_MALFORMED);
  assert_int_equal(ghv_verify_jwt(v, tok, 20, &p), GHV_ERR_MALFORMED);
  /* a flipped signature byte */
  char *flip = strdup(tok);
  flip[n - 3] = flip[n - 3] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_owned(v, flip), GHV_ERR_SIGNATURE);
  /* a flipped payload byte */
  flip = strdup(tok);
  flip[(size_t)(dot - tok) - 3] = flip[(size_t)(dot - tok) - 3] == 'A' ? 'B' : 'A';
  st = verify_owned(v, flip);
  assert_true(st == GHV_ERR_SIGNATURE || st == GHV_ERR_MALFORMED);
  /* extra part, padding, whitespace */
  char buf[4096];
  snprintf(buf, sizeof buf, "%s.AAAA", tok);
  assert_int_equal(verify_str(v, buf), GHV_ERR_MALFORMED);
  snprintf(buf, sizeof buf, "%s=", tok);
  assert_int_equal(verify_str(v, buf), GHV_ERR_MALFORMED);
  snprintf(buf, sizeof buf, " %s", tok);
  assert_int_equal(verify_str(v, buf), GHV_ERR_MALFORMED);
  free(tok);
  /* garbage */
  assert_int_equal(verify_str(v, ""), GHV_ERR_MALFORMED);
  assert_int_equal(verify_str(v, "garbage"), GHV_ERR_MALFORMED);
  assert_int_equal(verify_str(v, "a.b.c"), GHV_ERR_MALFORMED);
  assert_int_equal(verify_str(v, ".."), GHV_ERR_MALFORMED);
  assert_int_equal(verify_str(v, "eyJhbGciOiJFZERTQSJ9..AAAA"), GHV_ERR_MALFORMED);
  const char bin[] = "\x00\xff.\x01.\x02";
  assert_int_equal(ghv_verify_jwt(v, bin, sizeof bin - 1, &p), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_verify_jwt(v, NULL, 0, &p), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_verify_jwt(v, "x", 1, NULL), GHV_ERR_ARG);
  assert_int_equal(ghv_verify_jwt(NULL, "x", 1, &p), GHV_ERR_ARG);
  /* valid tokens on both sides of the size whose parts are decoded on the stack
   * (GHV_SPLIT_STACK_BYTES) and up to the limit: all verify */
  bool below = false, above = false;
  for (size_t padn = 3700; padn < 4100; padn++) {
    json_t *pc = good_claims(srv->base);
    char *pad = calloc(1, padn + 1);
    memset(pad, 'y', padn);
    json_object_set_new(pc, "pad", json_string(pad));
    free(pad);
    char *t = tok_for(K_ED, pc);
    size_t tl = strlen(t);
    if (GH_JWS_SPLIT_BUF(tl) <= GHV_SPLIT_STACK_BYTES)
      below = true;
    else
      above = true;
    assert_int_equal(verify_owned(v, t), GHV_OK);
  }
  assert_true(below && above);
  json_t *c8 = good_claims(srv->base);
  char *pad8 = calloc(1, 5800);
  memset(pad8, 'z', 5799);
  json_object_set_new(c8, "pad", json_string(pad8));
  free(pad8);
  char *t8 = tok_for(K_ED, c8);
  assert_true(strlen(t8) > 7900 && strlen(t8) <= 8192);
  assert_int_equal(verify_owned(v, t8), GHV_OK);
  /* oversized: over max_token_bytes (8192 by default), even when otherwise valid */
  json_t *c = good_claims(srv->base);
  char *pad = malloc(9000);
  memset(pad, 'x', 8999);
  pad[8999] = 0;
  json_object_set_new(c, "pad", json_string(pad));
  free(pad);
  char *big = tok_for(K_ED, c);
  assert_true(strlen(big) > 8192);
  assert_int_equal(verify_str(v, big), GHV_ERR_TOO_LARGE);
  assert_int_equal(ghv_verify_jwt(v, big, 100000, &p), GHV_ERR_TOO_LARGE);
  free(big);
  ghv_free(v);
}

/* An RSA JWK with n of the given size, built with OpenSSL directly (gh_jwk refuses < 2048). */
static EVP_PKEY *weak_rsa(char **jwk_out) {
  EVP_PKEY *pk = EVP_RSA_gen(1024);
  assert_non_null(pk);
  BIGNUM *n = NULL, *e = NULL;
  assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
  assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e), 1);
  uint8_t nb[512], eb[8];
  int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
  char *ns = b64url(nb, (size_t)nl), *es = b64url(eb, (size_t)el);
  size_t len = strlen(ns) + strlen(es) + 128;
  *jwk_out = malloc(len);
  snprintf(*jwk_out, len,
           "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"alg\":\"RS256\",\"kid\":\"weak\"}", ns,
           es);
  free(ns);
  free(es);
  BN_free(n);
  BN_free(e);
  return pk;
}

static void static_jwks_rules(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://api.example";
  c.allow_missing_kid = true; /* the ambiguity rule for tokens without kid, below */
  ghv_verifier *v = new_verifier_cfg(&c);
  json_t *cl = good_claims("https://issuer.example");
  json_object_set_new(cl, "aud", json_string("https://api.example"));
  char *payload = json_dumps(cl, JSON_COMPACT);
  json_decref(cl);
  /* no keys at all and nowhere to fetch them from */
  char *tok = sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", payload);
  assert_int_equal(verify_str(v, tok), GHV_ERR_ARG);

  /* a 1024-bit RSA key is skipped */
  char *weak_jwk;
  EVP_PKEY *pk = weak_rsa(&weak_jwk);
  char doc[4096];
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", weak_jwk);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  char *wt = unsigned_tok("{\"alg\":\"RS256\",\"kid\":\"weak\"}", payload, (const uint8_t *)"x", 1);
  char *last = strrchr(wt, '.');
  *last = 0;
  uint8_t sig[512];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk), 1);
  assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)wt, strlen(wt)), 1);
  EVP_MD_CTX_free(md);
  char *s64 = b64url(sig, sig_len);
  char wtok[4096];
  snprintf(wtok, sizeof wtok, "%s.%s", wt, s64);
  assert_int_equal(verify_str(v, wtok), GHV_ERR_KID);
  free(s64);
  free(wt);
  free(weak_jwk);
  EVP_PKEY_free(pk);

  /* an RSA key without alg is skipped; EC P-256 without alg is pinned to ES256 */
  char *rs = gh_jwk_to_json(keys[K_RS256], false), *es = gh_jwk_to_json(keys[K_ES256], false);
  char *ed = gh_jwk_to_json(keys[K_ED], false);
  /* kid:"ed-1" is inserted in front of the Ed25519 JWK's members, alg agreeing with kty/crv */
  snprintf(doc, sizeof doc,
           "{\"keys\":[{\"kid\":\"rs256-1\",%s,{\"kid\":\"es256-1\",%s,{\"kid\":\"ed-1\","
           "\"alg\":\"EdDSA\",%s, {\"kid\":\"bad-alg\",\"alg\":\"ES256\",%s, 17, \"x\", "
           "{\"kid\":\"hs\",\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"HS256\"}]}",
           rs + 1, es + 1, ed + 1, ed + 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(tok);
  tok = sign_raw(keys[K_RS256], "{\"alg\":\"RS256\",\"kid\":\"rs256-1\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_ERR_KID);
  tok = sign_raw(keys[K_ES256], "{\"alg\":\"ES256\",\"kid\":\"es256-1\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_OK);
  tok = sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_OK);
  /* a JWK whose alg disagrees with its kty/crv is skipped */
  tok = sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"bad-alg\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_ERR_KID);
  tok = sign_raw(keys[K_ES256], "{\"alg\":\"ES256\",\"kid\":\"bad-alg\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_ERR_KID);
  tok = hs256_tok("{\"alg\":\"HS256\",\"kid\":\"hs\"}", payload, "secret", 6);
  assert_int_equal(verify_owned(v, tok), GHV_ERR_ALG);
  free(rs);
  free(es);

  /* duplicate members in the JWKS, not a JWKS: refused, the previous keys stay */
  snprintf(doc, sizeof doc, "{\"keys\":[{\"kid\":\"x\",\"kid\":\"ed-1\",\"alg\":\"EdDSA\",%s]}",
           ed + 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_ERR_MALFORMED);
  snprintf(doc, sizeof doc, "{\"keys\":[],\"keys\":[]}");
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_set_jwks(v, "[]", 2), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_set_jwks(v, "{\"keys\":{}}", 11), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_set_jwks(v, "nope", 4), GHV_ERR_MALFORMED);
  tok = sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_OK);
  /* EC P-521 without alg is pinned to ES512; "use":"enc" or "key_ops" without "verify" skip */
  char *e5 = gh_jwk_to_json(keys[K_ES512], false);
  snprintf(doc, sizeof doc,
           "{\"keys\":[{\"kid\":\"p521\",%s,{\"kid\":\"enc\",\"use\":\"enc\",%s,"
           "{\"kid\":\"ops\",\"key_ops\":[\"sign\"],%s,{\"kid\":\"ops2\",\"key_ops\":"
           "[\"sign\",\"verify\"],\"use\":\"sig\",%s]}",
           e5 + 1, e5 + 1, e5 + 1, e5 + 1);
  free(e5);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  static const struct {
    const char *kid;
    ghv_status want;
  } e5cases[] = {{"p521", GHV_OK}, {"enc", GHV_ERR_KID}, {"ops", GHV_ERR_KID}, {"ops2", GHV_OK}};
  for (size_t i = 0; i < sizeof e5cases / sizeof e5cases[0]; i++) {
    char h5[128];
    snprintf(h5, sizeof h5, "{\"alg\":\"ES512\",\"kid\":\"%s\"}", e5cases[i].kid);
    assert_int_equal(verify_owned(v, sign_raw(keys[K_ES512], h5, payload)), e5cases[i].want);
  }

  /* relaxed kid policy: a token without kid and two keys pinned to its alg: ambiguous */
  char *ed2 = gh_jwk_to_json(other_ed, false);
  snprintf(doc, sizeof doc, "{\"keys\":[{\"kid\":\"a\",%s,{\"kid\":\"b\",%s]}", ed + 1, ed2 + 1);
  free(ed2);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\"}", payload)),
                   GHV_ERR_KID);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"a\"}", payload)), GHV_OK);
  /* an empty key set: every kid unknown */
  assert_int_equal(ghv_set_jwks(v, "{\"keys\":[]}", 11), GHV_OK);
  tok = sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", payload);
  assert_int_equal(verify_owned(v, tok), GHV_ERR_KID);
  free(ed);
  free(payload);
  ghv_free(v);
}

/* ---------------------------------------------------------------------------------------- */
/* JWKS fetching and caching */

static void issuer_down(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", refused_port());
  c.issuer_url = url;
  c.expected_issuer = srv->base;
  c.expected_audience = srv->base;
  c.http_timeout_ms = 500;
  ghv_verifier *v = new_verifier_cfg(&c);
  char *tok = tok_for(K_ED, good_claims(srv->base));
  assert_int_equal(verify_str(v, tok), GHV_ERR_UNAVAILABLE);
  assert_int_equal(verify_str(v, tok), GHV_ERR_UNAVAILABLE); /* still nothing: never 401 */
  assert_int_equal(ghv_status_http(GHV_ERR_UNAVAILABLE), 503);
  ghv_free(v);

  /* a JWKS endpoint answering 500, garbage, or a document over max_jwks_bytes: failed fetch */
  fake_srv *s = fake_start();
  assert_non_null(s);
  ghv_config_init(&c);
  c.issuer_url = s->base;
  c.expected_issuer = srv->base;
  c.expected_audience = srv->base;
  c.max_jwks_bytes = 1000;
  gh_jwk *one[] = {keys[K_ED]};
  const char *one_kid[] = {KIDS[K_ED]};
  char *small = make_jwks(one, one_kid, 1);
  assert_true(strlen(small) < 1000 && strlen(jwks_all) > 1000);
  const struct {
    const char *body;
    unsigned status;
    bool chunked;
  } bad[] = {{small, 500, false},
             {small, 404, false},
             {small, 304, false},
             {"<html>hi</html>", 200, false},
             {"{\"keys\":1}", 200, false},
             {"{\"keys\":[],\"keys\":[]}", 200, false},
             {jwks_all, 200, false} /* over 1000 bytes: refused on its Content-Length */,
             {jwks_all, 200, true} /* the same, chunked: the transfer is aborted */};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fake_set_jwks(s, bad[i].body, bad[i].status, NULL);
    s->jwks_chunked = bad[i].chunked;
    v = new_verifier_cfg(&c);
    assert_int_equal(verify_str(v, tok), GHV_ERR_UNAVAILABLE);
    ghv_free(v);
  }
  assert_int_equal(atomic_load(&s->jwks_hits), 8);
  /* a small document, also chunked, is fine */
  fake_set_jwks(s, small, 200, NULL);
  v = new_verifier_cfg(&c);
  assert_int_equal(verify_str(v, tok), GHV_OK);
  ghv_free(v);
  s->jwks_chunked = false;
  fake_set_jwks(s, small, 200, NULL);
  free(small);
  v = new_verifier_cfg(&c);
  assert_int_equal(verify_str(v, tok), GHV_OK);
  /* issuer goes away after a good fetch: the cached keys keep working */
  fake_stop(s);
  assert_int_equal(verify_str(v, tok), GHV_OK);
  ghv_free(v);
  fake_free(s);
  free(tok);
}

static void cache_control(void **state) {
  (void)state;
  /* A: max-age=1 honoured; B: max-age=3600 capped by jwks_max_age_s=1; C: no header and
   * jwks_default_ttl_s=1; D: max-age=3600 with defaults (not refetched); E: max-age=1, then the
   * issuer goes down: the last good JWKS keeps serving. */
  /* F: no-store counts as max-age=0, kept for the 1 s floor */
  const char *cc[6] = {"max-age=1", "public, max-age=3600", NULL, "max-age=3600",
                       "max-age=1", "no-store, max-age=600"};
  fake_srv *s[6];
  ghv_verifier *v[6];
  char *tok = tok_for(K_ES256, good_claims(srv->base));
  for (int i = 0; i < 6; i++) {
    s[i] = fake_start();
    assert_non_null(s[i]);
    fake_set_jwks(s[i], jwks_all, 200, cc[i]);
    ghv_config c;
    ghv_config_init(&c);
    c.issuer_url = s[i]->base;
    c.expected_issuer = srv->base;
    c.expected_audience = srv->base;
    c.http_timeout_ms = 500;
    if (i == 1) c.jwks_max_age_s = 1;
    if (i == 2) c.jwks_default_ttl_s = 1;
    v[i] = new_verifier_cfg(&c);
    assert_int_equal(verify_str(v[i], tok), GHV_OK);
    assert_int_equal(verify_str(v[i], tok), GHV_OK);
    assert_int_equal(atomic_load(&s[i]->jwks_hits), 1);
  }
  fake_stop(s[4]);
  usleep(1200 * 1000);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(verify_str(v[i], tok), GHV_OK);
    assert_int_equal(verify_str(v[i], tok), GHV_OK);
  }
  assert_int_equal(atomic_load(&s[0]->jwks_hits), 2);
  assert_int_equal(atomic_load(&s[1]->jwks_hits), 2);
  assert_int_equal(atomic_load(&s[2]->jwks_hits), 2);
  assert_int_equal(atomic_load(&s[3]->jwks_hits), 1);
  assert_int_equal(atomic_load(&s[5]->jwks_hits), 2);
  /* E: stale and its refetch failed; an unknown kid is still just unknown */
  char *bad = sign_claims(keys[K_ED], "EdDSA", "unknown", good_claims(srv->base));
  assert_int_equal(verify_owned(v[4], bad), GHV_ERR_KID);
  for (int i = 0; i < 6; i++) {
    ghv_free(v[i]);
    fake_free(s[i]);
  }
  free(tok);
}

static void refetch_on_unknown_kid(void **state) {
  (void)state;
  fake_srv *s = fake_start();
  assert_non_null(s);
  fake_set_jwks(s, jwks_all, 200, "max-age=300");
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = s->base;
  c.expected_issuer = srv->base;
  c.expected_audience = srv->base;
  c.jwks_min_refetch_s = 1;
  ghv_verifier *v = new_verifier_cfg(&c);
  char *good = tok_for(K_ED, good_claims(srv->base));
  assert_int_equal(verify_str(v, good), GHV_OK);
  assert_int_equal(atomic_load(&s->jwks_hits), 1);
  /* a flood of bad kids right after a fetch: no request at all */
  char *bad[100];
  for (int i = 0; i < 100; i++) {
    char kid[32];
    snprintf(kid, sizeof kid, "bad-%d", i);
    bad[i] = sign_claims(keys[K_ED], "EdDSA", kid, good_claims(srv->base));
  }
  for (int i = 0; i < 100; i++) assert_int_equal(verify_str(v, bad[i]), GHV_ERR_KID);
  assert_int_equal(atomic_load(&s->jwks_hits), 1);

  /* rotation: the issuer publishes a new key; its first token refetches and is accepted */
  usleep(1100 * 1000);
  gh_jwk *rot[K_N + 1];
  const char *rot_kid[K_N + 1];
  for (int i = 0; i < K_N; i++) {
    rot[i] = keys[i];
    rot_kid[i] = KIDS[i];
  }
  rot[K_N] = extra_es;
  rot_kid[K_N] = "rotated";
  char *jwks2 = make_jwks(rot, rot_kid, K_N + 1);
  fake_set_jwks(s, jwks2, 200, "max-age=300");
  free(jwks2);
  char *fresh = sign_claims(extra_es, "ES256", "rotated", good_claims(srv->base));
  assert_int_equal(verify_str(v, fresh), GHV_OK);
  assert_int_equal(atomic_load(&s->jwks_hits), 2);
  for (int i = 0; i < 100; i++) assert_int_equal(verify_str(v, bad[i]), GHV_ERR_KID);
  assert_int_equal(atomic_load(&s->jwks_hits), 2);

  /* once jwks_min_refetch_s has passed, a flood of 100 bad kids costs exactly one request */
  usleep(1100 * 1000);
  for (int i = 0; i < 100; i++) assert_int_equal(verify_str(v, bad[i]), GHV_ERR_KID);
  assert_int_equal(atomic_load(&s->jwks_hits), 3);
  /* and good tokens were never disturbed */
  assert_int_equal(verify_str(v, good), GHV_OK);
  assert_int_equal(verify_str(v, fresh), GHV_OK);
  assert_int_equal(atomic_load(&s->jwks_hits), 3);
  for (int i = 0; i < 100; i++) free(bad[i]);
  free(good);
  free(fresh);
  ghv_free(v);
  fake_free(s);
}

typedef struct {
  ghv_verifier *v;
  char *toks[K_N];
  int errors;
} thread_arg;

/* The verified-signature cache: a repeated token skips only the signature check. Claims are
 * still checked every time, and a new key set under the same kid invalidates earlier entries. */
static void signature_cache(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://issuer.example";
  ghv_verifier *v = new_verifier_cfg(&c);
  const char *kid[] = {"ed-1"};
  char *doc = make_jwks(&keys[K_ED], kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  char *tok = tok_for(K_ED, good_claims("https://issuer.example"));
  assert_int_equal(verify_str(v, tok), GHV_OK);
  assert_int_equal(verify_str(v, tok), GHV_OK); /* hit */
  /* same header and claims, one signature byte changed: other bytes, verified, refused */
  char *bad = strdup(tok);
  char *sig = strrchr(bad, '.') + 1;
  sig[3] = sig[3] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_str(v, bad), GHV_ERR_SIGNATURE);
  assert_int_equal(verify_str(v, bad), GHV_ERR_SIGNATURE);
  free(bad);
  /* the same kid now names another key: the earlier verdict does not carry over */
  doc = make_jwks(&other_ed, kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  assert_int_equal(verify_str(v, tok), GHV_ERR_SIGNATURE);
  free(tok);
  ghv_free(v);
  /* the cache can be switched off (every call verifies) and is bounded */
  ghv_config_init(&c);
  assert_int_equal(c.signature_cache_entries, 4096);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://issuer.example";
  c.signature_cache_entries = (size_t)1 << 21;
  ghv_verifier *none = NULL;
  assert_int_equal(ghv_new(&c, &none), GHV_ERR_ARG);
  c.signature_cache_entries = 0;
  v = new_verifier_cfg(&c);
  doc = make_jwks(&keys[K_ED], kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  tok = tok_for(K_ED, good_claims("https://issuer.example"));
  assert_int_equal(verify_str(v, tok), GHV_OK);
  assert_int_equal(verify_str(v, tok), GHV_OK);
  free(tok);
  ghv_free(v);
  /* claims are re-checked on a hit: cached while valid, refused once expired */
  ghv_config_init(&c);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://issuer.example";
  c.leeway_s = 0;
  v = new_verifier_cfg(&c);
  doc = make_jwks(&keys[K_ED], kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  json_t *cl = good_claims("https://issuer.example");
  json_object_set_new(cl, "exp", json_integer((json_int_t)time(NULL) + 1));
  tok = tok_for(K_ED, cl);
  assert_int_equal(verify_str(v, tok), GHV_OK);
  sleep(2);
  assert_int_equal(verify_str(v, tok), GHV_ERR_EXPIRED);
  free(tok);
  ghv_free(v);
}

static size_t memo_entries(ghv_verifier *v) {
  size_t n = 0;
  while (n < GHV_HDR_MEMO_SLOTS && atomic_load(&v->hdr_memo[n])) n++;
  return n;
}

/* The header memo (a header seen on a verified token is not parsed again) changes no verdict:
 * the same header bytes with another key's signature, bad claims or a rotated key are refused
 * as before; only verified tokens add entries; past GHV_HDR_MEMO_SLOTS headers are parsed. */
static void header_memo(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://issuer.example";
  c.signature_cache_entries = 0; /* every call checks the signature */
  ghv_verifier *v = new_verifier_cfg(&c);
  const char *kid[] = {"ed-1"};
  char *doc = make_jwks(&keys[K_ED], kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  const char *hdr = "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}";
  json_t *gc = good_claims("https://issuer.example");
  char *payload = json_dumps(gc, JSON_COMPACT);
  json_decref(gc);
  /* a forged token first (another key, the issuer's header): refused, nothing learned */
  assert_int_equal(verify_owned(v, sign_raw(other_ed, hdr, payload)), GHV_ERR_SIGNATURE);
  assert_int_equal(memo_entries(v), 0);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, payload)), GHV_OK);
  assert_int_equal(memo_entries(v), 1);
  const struct ghv_hdr_memo *m = atomic_load(&v->hdr_memo[0]);
  assert_int_equal(m->alg, GH_JWA_EDDSA);
  assert_int_equal(m->kid_len, 4);
  assert_memory_equal(m->kid, "ed-1", 4);
  /* the same header bytes now come from the memo: every other check still runs */
  assert_int_equal(verify_owned(v, sign_raw(other_ed, hdr, payload)), GHV_ERR_SIGNATURE);
  char *t = sign_raw(keys[K_ED], hdr, payload);
  char *flip = strrchr(t, '.') + 5;
  *flip = *flip == 'A' ? 'B' : 'A';
  assert_int_equal(verify_owned(v, t), GHV_ERR_SIGNATURE);
  json_t *cl = good_claims("https://issuer.example");
  json_object_set_new(cl, "exp", json_integer((json_int_t)time(NULL) - 3600));
  char *p2 = json_dumps(cl, JSON_COMPACT);
  json_decref(cl);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, p2)), GHV_ERR_EXPIRED);
  free(p2);
  gc = good_claims("https://other.example");
  p2 = json_dumps(gc, JSON_COMPACT);
  json_decref(gc);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, p2)), GHV_ERR_ISSUER);
  free(p2);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, "{\"sub\":1")), GHV_ERR_MALFORMED);
  /* headers that differ from the memorised one by a member are parsed and judged as ever */
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[\"x\"]}",
                               payload)),
      GHV_ERR_MALFORMED);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"kid\":\"ed-1\"}",
                               payload)),
      GHV_ERR_MALFORMED);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"EdDSA\",\"kid\":\"ed-2\"}", payload)),
      GHV_ERR_KID);
  assert_int_equal(
      verify_owned(v, sign_raw(keys[K_ED], "{\"alg\":\"ES256\",\"kid\":\"ed-1\"}", payload)),
      GHV_ERR_ALG);
  assert_int_equal(memo_entries(v), 1);
  /* the kid now names another key: a memorised header gives a kid, never a key */
  doc = make_jwks(&other_ed, kid, 1);
  assert_int_equal(ghv_set_jwks(v, doc, strlen(doc)), GHV_OK);
  free(doc);
  assert_int_equal(verify_owned(v, sign_raw(keys[K_ED], hdr, payload)), GHV_ERR_SIGNATURE);
  assert_int_equal(verify_owned(v, sign_raw(other_ed, hdr, payload)), GHV_OK);
  /* more distinct verified headers than slots: the memo fills up, every token still verifies */
  char *toks[GHV_HDR_MEMO_SLOTS + 4];
  for (int i = 0; i < GHV_HDR_MEMO_SLOTS + 4; i++) {
    char h[96];
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"n\":%d}", i);
    toks[i] = sign_raw(other_ed, h, payload);
  }
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < GHV_HDR_MEMO_SLOTS + 4; i++)
      assert_int_equal(verify_str(v, toks[i]), GHV_OK);
  assert_int_equal(memo_entries(v), GHV_HDR_MEMO_SLOTS);
  for (int i = 0; i < GHV_HDR_MEMO_SLOTS + 4; i++) free(toks[i]);
  free(payload);
  ghv_free(v);
}

static void *verify_thread(void *p) {
  thread_arg *a = p;
  for (int i = 0; i < 500; i++) {
    ghv_principal pr;
    const char *t = a->toks[i % K_N];
    if (ghv_verify_jwt(a->v, t, strlen(t), &pr) != GHV_OK || !pr.user_id ||
        strcmp(pr.user_id, "user-1") != 0)
      a->errors++;
    ghv_principal_clear(&pr);
  }
  return NULL;
}

static void threads(void **state) {
  (void)state;
  fake_srv *s = fake_start();
  assert_non_null(s);
  fake_set_jwks(s, jwks_all, 200, "max-age=1");
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = s->base;
  c.expected_issuer = srv->base;
  c.expected_audience = srv->base;
  ghv_verifier *v = new_verifier_cfg(&c);
  thread_arg args[4];
  pthread_t th[4];
  for (int t = 0; t < 4; t++) {
    args[t].v = v;
    args[t].errors = 0;
    for (int i = 0; i < K_N; i++) args[t].toks[i] = tok_for((i + t) % K_N, good_claims(srv->base));
  }
  /* every thread starts cold: the first fetch is shared, not stampeded */
  for (int t = 0; t < 4; t++)
    assert_int_equal(pthread_create(&th[t], NULL, verify_thread, &args[t]), 0);
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  int hits = atomic_load(&s->jwks_hits);
  for (int t = 0; t < 4; t++) {
    assert_int_equal(args[t].errors, 0);
    for (int i = 0; i < K_N; i++) free(args[t].toks[i]);
  }
  /* one fetch, plus at most one refresh per elapsed second (max-age=1) */
  assert_true(hits >= 1);
  ghv_free(v);
  fake_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(valid_every_alg),   cmocka_unit_test(alg_none_and_hmac),
      cmocka_unit_test(kid_attacks),       cmocka_unit_test(missing_kid_policy),
      cmocka_unit_test(claim_checks),      cmocka_unit_test(shape_and_size),
      cmocka_unit_test(static_jwks_rules), cmocka_unit_test(issuer_down),
      cmocka_unit_test(cache_control),     cmocka_unit_test(refetch_on_unknown_kid),
      cmocka_unit_test(threads),           cmocka_unit_test(signature_cache),
      cmocka_unit_test(header_memo),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
