/* libFuzzer harness: libgatehouse-verify's parsers (ghv_verify_jwt with a static JWKS,
 * ghv_set_jwks, ghv_bearer_token, ghv_looks_like_jwt). The first input byte picks the mode:
 *   0: the rest is a token (compact JWS) verified against the static JWKS;
 *   1: the rest is a JWKS document installed with ghv_set_jwks, then a fixed valid token is
 *      verified against it;
 *   2: the rest is the claims of a token validly signed with the published key;
 *   3: the rest is the protected header of a token validly signed with the published key;
 *   4: the rest is an Authorization header value.
 * Invariants (abort() when broken): the principal is zeroed on every error and has a non-empty
 * user_id on success; a token only verifies if it has the shape of a compact JWS; a fuzzed token
 * (mode 0) verifies only if it is exactly the harness's own valid token; a JWKS only
 * accepts the fixed token if it carries the published key's x coordinate; a fuzzed header only
 * verifies if it names EdDSA; the claims only verify with the expected iss. No network: the
 * verifiers have no URL, so keys only come from ghv_set_jwks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/verify.h"
#include "jose/jose.h"

#define ISS "https://issuer.example"
#define AUD "https://api.example"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gh_jwk *key;      /* Ed25519, kid "ed-1", published */
static char *jwks;       /* its JWKS */
static char *x_member;   /* "x":"..." of the published key */
static char *good_token; /* valid for ISS/AUD until far in the future */
static ghv_verifier *v;  /* static JWKS = jwks */
static ghv_verifier *v2; /* JWKS from the input (mode 1) */
static const char GOOD_CLAIMS[] = "{\"sub\":\"user-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD
                                  "\",\"exp\":4102444800,\"iat\":1700000000}";
static const char GOOD_HEADER[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}";

static ghv_verifier *make_verifier(void) {
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = ISS;
  c.expected_audience = AUD;
  ghv_verifier *out = NULL;
  if (ghv_new(&c, &out) != GHV_OK) abort();
  return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (gh_jwk_generate(GH_JWA_EDDSA, &key) != GH_OK) abort();
  char *pub = gh_jwk_to_json(key, false); /* {"crv":"Ed25519","x":"...","kty":"OKP"} */
  if (!pub) abort();
  size_t n = strlen(pub) + 64;
  jwks = malloc(n);
  if (!jwks) abort();
  snprintf(jwks, n, "{\"keys\":[{\"kid\":\"ed-1\",\"alg\":\"EdDSA\",%s]}", pub + 1);
  const char *x = strstr(pub, "\"x\":\"");
  if (!x) abort();
  const char *end = strchr(x + 5, '"');
  x_member = strndup(x + 5, (size_t)(end - x - 5));
  free(pub);
  if (gh_jws_compact_sign(key, GOOD_HEADER, strlen(GOOD_HEADER), GOOD_CLAIMS, strlen(GOOD_CLAIMS),
                          &good_token) != GH_OK)
    abort();
  v = make_verifier();
  v2 = make_verifier();
  if (ghv_set_jwks(v, jwks, strlen(jwks)) != GHV_OK) abort();
  ghv_principal p;
  if (ghv_verify_jwt(v, good_token, strlen(good_token), &p) != GHV_OK) abort();
  ghv_principal_clear(&p);
  /* print the seeds' material once, for building a corpus by hand */
  if (getenv("FUZZ_VERIFY_PRINT")) printf("%s\n%s\n", jwks, good_token);
  return 0;
}

static void check_principal(ghv_status st, const ghv_principal *p) {
  if (st == GHV_OK) {
    if (!p->user_id || !p->user_id[0] || p->source != GHV_SOURCE_JWT) abort();
  } else {
    if (p->user_id || p->email || p->name || p->role || p->token_id || p->session_id ||
        p->expires_at || p->email_verified)
      abort();
  }
}

static ghv_status verify(ghv_verifier *ver, const char *tok, size_t n) {
  ghv_principal p;
  ghv_status st = ghv_verify_jwt(ver, tok, n, &p);
  check_principal(st, &p);
  if (st == GHV_OK && !ghv_looks_like_jwt(tok, n)) abort();
  if (st != GHV_OK && ghv_status_http(st) == 200) abort();
  ghv_principal_clear(&p);
  return st;
}

static char *signed_token(const char *hdr, size_t hlen, const char *payload, size_t plen) {
  char *tok = NULL;
  if (gh_jws_compact_sign(key, hdr, hlen, payload, plen, &tok) != GH_OK) abort();
  return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0] % 5;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  /* a NUL-terminated copy for the string APIs */
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, in, n);
  s[n] = 0;

  switch (mode) {
  case 0: {
    ghv_status st = verify(v, in, n);
    /* only the real token verifies: nothing else is signed by the key */
    if (st == GHV_OK && (n != strlen(good_token) || memcmp(in, good_token, n) != 0)) abort();
    break;
  }
  case 1: {
    ghv_status st = ghv_set_jwks(v2, in, n);
    if (st != GHV_OK && st != GHV_ERR_MALFORMED && st != GHV_ERR_TOO_LARGE) abort();
    if (st == GHV_OK) {
      ghv_status vs = verify(v2, good_token, strlen(good_token));
      if (vs == GHV_OK && !strstr(s, x_member)) abort();
    }
    break;
  }
  case 2: {
    char *tok = signed_token(GOOD_HEADER, strlen(GOOD_HEADER), in, n);
    ghv_status st = verify(v, tok, strlen(tok));
    if (st == GHV_OK && !strstr(s, ISS)) abort();
    free(tok);
    break;
  }
  case 3: {
    char *tok = signed_token(in, n, GOOD_CLAIMS, strlen(GOOD_CLAIMS));
    ghv_status st = verify(v, tok, strlen(tok));
    if (st == GHV_OK && !strstr(s, "EdDSA")) abort();
    free(tok);
    break;
  }
  default: {
    const char *t;
    size_t tl;
    ghv_status st = ghv_bearer_token(s, &t, &tl);
    if (st == GHV_OK) {
      if (tl == 0 || t < s || t + tl > s + strlen(s)) abort();
      (void)ghv_looks_like_jwt(t, tl);
    } else if (st != GHV_ERR_MALFORMED) {
      abort();
    }
    break;
  }
  }
  free(s);
  return 0;
}
