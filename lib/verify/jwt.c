/* libgatehouse-verify: ghv_verify_jwt. Order of checks: size, compact shape, header (JSON without
 * duplicate members, no "crit", alg one of the five asymmetric algorithms, kid present unless
 * allow_missing_kid; a header byte-identical to one of a verified token is taken from the header
 * memo instead of being parsed again), key by exact kid whose pinned alg equals the header alg,
 * signature, then the claims (JSON without duplicates, read by claims.c; sub and exp present,
 * iss, aud, exp, nbf, iat). The claims are parsed only once the signature holds. */
#include "internal.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"

static json_t *load_object(const char *s, size_t n, ghv_status *st) {
  json_error_t err;
  json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    *st = json_error_code(&err) == json_error_out_of_memory ? GHV_ERR_NOMEM : GHV_ERR_MALFORMED;
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    *st = GHV_ERR_MALFORMED;
    return NULL;
  }
  return j;
}

static ghv_status check_claims(ghv_verifier *v, const ghv_claims *c) {
  if (!c->sub || c->sub_len == 0) return GHV_ERR_CLAIMS;
  if (c->exp_kind != GHV_CLAIM_NUMBER) return GHV_ERR_CLAIMS; /* required */
  if (c->nbf_kind == GHV_CLAIM_OTHER || c->iat_kind == GHV_CLAIM_OTHER) return GHV_ERR_CLAIMS;
  if (!c->iss_ok) return GHV_ERR_ISSUER;
  if (!c->aud_ok) return GHV_ERR_AUDIENCE;
  double now = (double)time(NULL), leeway = (double)v->leeway_s;
  if (now >= c->exp + leeway) return GHV_ERR_EXPIRED;
  if (c->nbf_kind == GHV_CLAIM_NUMBER && c->nbf > now + leeway) return GHV_ERR_NOT_YET_VALID;
  if (c->iat_kind == GHV_CLAIM_NUMBER && c->iat > now + leeway) return GHV_ERR_NOT_YET_VALID;
  return GHV_OK;
}

/* Moves the strings of c into p. */
static void fill_principal(ghv_claims *c, ghv_principal *p) {
  p->source = GHV_SOURCE_JWT;
  p->user_id = c->sub;
  p->email = c->email;
  p->name = c->name;
  p->role = c->role;
  p->token_id = c->jti;
  c->sub = c->email = c->name = c->role = c->jti = NULL;
  p->email_verified = c->email_verified;
  /* whole seconds (floor) without libm, clamped far beyond any real date */
  double exp = c->exp;
  int64_t e = exp > 9e15 ? (int64_t)9e15 : exp < -9e15 ? (int64_t)-9e15 : (int64_t)exp;
  if ((double)e > exp) e--;
  p->expires_at = e;
}

/* The header's algorithm: one of the five asymmetric ones, anything else ("none", HS*, unknown,
 * missing, not a string) is GH_JWA_UNKNOWN. */
static gh_jwa header_alg(json_t *hdr) {
  json_t *alg = json_object_get(hdr, "alg");
  if (!json_is_string(alg)) return GH_JWA_UNKNOWN;
  return gh_jwa_parse(json_string_value(alg), json_string_length(alg));
}

/* The header memo (see ghv_verifier.hdr_memo): the entry for these exact encoded header bytes,
 * NULL when there is none. */
static const struct ghv_hdr_memo *memo_find(ghv_verifier *v, const char *enc, size_t n) {
  for (size_t i = 0; i < GHV_HDR_MEMO_SLOTS; i++) {
    const struct ghv_hdr_memo *m = atomic_load_explicit(&v->hdr_memo[i], memory_order_acquire);
    if (!m) return NULL; /* slots fill in order and never empty */
    if (m->enc_len == n && memcmp(m->enc, enc, n) == 0) return m;
  }
  return NULL;
}

/* Remembers a header that a verified token carried (best effort: nothing when the memo is full,
 * the header is long, or on allocation failure). */
static void memo_learn(ghv_verifier *v, const char *enc, size_t n, gh_jwa alg, const char *kid,
                       size_t kid_len) {
  if (n > GHV_HDR_MEMO_MAX || kid_len > GHV_HDR_MEMO_MAX) return;
  struct ghv_hdr_memo *m = malloc(sizeof *m + n + kid_len + 1);
  if (!m) return;
  m->enc_len = n;
  m->alg = alg;
  memcpy(m->enc, enc, n);
  m->kid = kid ? m->enc + n : NULL;
  m->kid_len = kid_len;
  if (kid) memcpy(m->enc + n, kid, kid_len);
  m->enc[n + kid_len] = 0;
  for (size_t i = 0; i < GHV_HDR_MEMO_SLOTS; i++) {
    struct ghv_hdr_memo *cur = NULL;
    if (atomic_compare_exchange_strong_explicit(&v->hdr_memo[i], &cur, m, memory_order_acq_rel,
                                                memory_order_acquire))
      return;
    if (cur->enc_len == n && memcmp(cur->enc, enc, n) == 0) break; /* another thread was first */
  }
  free(m);
}

ghv_status ghv_verify_jwt(ghv_verifier *v, const char *token, size_t len, ghv_principal *out) {
  ghv_status st;
  gh_jws_parts parts;
  json_t *hdr = NULL;
  ghv_claims claims;
  bool have_claims = false;
  ghv_keyset *ks = NULL;
  uint8_t stack_buf[GHV_SPLIT_STACK_BYTES], *heap_buf = NULL;
  if (out) memset(out, 0, sizeof *out);
  if (!v || !out) return GHV_ERR_ARG;
  if (!token) return GHV_ERR_MALFORMED;
  if (len > v->max_token_bytes) return GHV_ERR_TOO_LARGE;
  if (!v->expected_issuer || !v->expected_audience) return GHV_ERR_ARG;

  /* The decoded parts: on the stack for tokens up to ~5 KB, else one allocation. */
  uint8_t *buf = stack_buf;
  size_t cap = GH_JWS_SPLIT_BUF(len);
  if (cap > sizeof stack_buf) {
    if (!(buf = heap_buf = malloc(cap))) return GHV_ERR_NOMEM;
  } else {
    cap = sizeof stack_buf;
  }
  gh_status gs = gh_jws_split_buf(token, len, v->max_token_bytes, buf, cap, &parts);
  if (gs != GH_OK) {
    free(heap_buf);
    return gs == GH_ERR_TOO_LARGE ? GHV_ERR_TOO_LARGE : GHV_ERR_MALFORMED;
  }

  /* A header seen before on a verified token is not parsed again: its exact encoded bytes give
   * the same alg and kid (no "crit", by construction of the memo). */
  size_t hdr_enc_len = (size_t)((const char *)memchr(token, '.', len) - token); /* split: a dot */
  const struct ghv_hdr_memo *memo = memo_find(v, token, hdr_enc_len);
  gh_jwa alg;
  const char *kid;
  size_t kid_len;
  if (memo) {
    alg = memo->alg;
    kid = memo->kid;
    kid_len = memo->kid_len;
  } else {
    hdr = load_object(parts.header, parts.header_len, &st);
    if (!hdr) goto fail;
    st = GHV_ERR_MALFORMED;
    if (json_object_get(hdr, "crit")) goto fail; /* no extension is understood */
    json_t *kidj = json_object_get(hdr, "kid");
    if (kidj && !json_is_string(kidj)) goto fail;
    st = GHV_ERR_ALG;
    alg = header_alg(hdr);
    if (alg == GH_JWA_UNKNOWN) goto fail; /* before any fetch: "none" never costs a request */
    kid = kidj ? json_string_value(kidj) : NULL;
    kid_len = kidj ? json_string_length(kidj) : 0;
  }
  st = GHV_ERR_KID;
  if (!kid && !v->allow_missing_kid) goto fail; /* gatehouse always sets kid; before any fetch */

  st = ghv_internal_keys_acquire(v, kid, kid_len, alg, &ks);
  if (st != GHV_OK) goto fail;

  /* Candidates: every key with exactly this kid (without a kid in the header: every key pinned
   * to the header's alg, which must then be unique). The header alg must equal the pinned alg. */
  const gh_jwk *key = NULL;
  bool kid_seen = false;
  size_t matches = 0;
  for (size_t i = 0; i < ks->n; i++) {
    const ghv_key *k = &ks->keys[i];
    if (kid) {
      if (!k->kid || k->kid_len != kid_len || memcmp(k->kid, kid, kid_len) != 0) continue;
      kid_seen = true;
    }
    if (gh_jwk_alg(k->key) != alg) continue;
    if (!key) key = k->key;
    matches++;
  }
  if (!key) {
    st = kid_seen ? GHV_ERR_ALG : GHV_ERR_KID;
    goto fail;
  }
  if (!kid && matches > 1) {
    st = GHV_ERR_KID; /* ambiguous: a token without kid and several candidate keys */
    goto fail;
  }

  /* The whole token's hash: a hit means these exact bytes verified under this very key set. */
  uint8_t hash[32];
  size_t slot = 0;
  bool cached = false;
  bool hashed = false;
  if (v->sig_slots && v->sha256) {
    hashed = EVP_Digest(token, len, hash, NULL, v->sha256, NULL) == 1;
    if (!hashed) ERR_clear_error(); /* no cache for this call: verified in full, not remembered */
  }
  if (hashed) {
    slot = ((size_t)hash[0] | (size_t)hash[1] << 8 | (size_t)hash[2] << 16) % v->sig_slots;
    pthread_mutex_lock(&v->sig_mu[slot % GHV_SIG_LOCKS]);
    cached = v->sig_cache[slot].serial == ks->serial &&
             CRYPTO_memcmp(v->sig_cache[slot].hash, hash, sizeof hash) == 0;
    pthread_mutex_unlock(&v->sig_mu[slot % GHV_SIG_LOCKS]);
  }
  if (!cached) {
    gs = gh_jws_verify(key, token, parts.signing_input_len, parts.sig, parts.sig_len);
    if (gs != GH_OK) {
      st = gs == GH_ERR_NOMEM ? GHV_ERR_NOMEM : GHV_ERR_SIGNATURE;
      goto fail;
    }
  }

  st = ghv_internal_claims_read(v, parts.payload, parts.payload_len, &claims);
  if (st != GHV_OK) goto fail;
  have_claims = true;
  st = check_claims(v, &claims);
  if (st != GHV_OK) goto fail;
  fill_principal(&claims, out);
  if (!cached && hashed) {
    pthread_mutex_lock(&v->sig_mu[slot % GHV_SIG_LOCKS]);
    memcpy(v->sig_cache[slot].hash, hash, sizeof hash);
    v->sig_cache[slot].serial = ks->serial;
    pthread_mutex_unlock(&v->sig_mu[slot % GHV_SIG_LOCKS]);
  }

  if (!memo) memo_learn(v, token, hdr_enc_len, alg, kid, kid_len);

fail:
  ghv_internal_keyset_release(ks);
  if (have_claims) ghv_internal_claims_clear(&claims);
  json_decref(hdr);
  free(heap_buf);
  return st;
}
