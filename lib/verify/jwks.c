/* libgatehouse-verify: JWKS parsing and the key cache (fetch, TTL from Cache-Control, refetch on
 * unknown kid at most once per jwks_min_refetch_s, one fetch at a time, last good JWKS kept). */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ghv_internal_keyset_release(ghv_keyset *ks) {
  if (!ks) return;
  if (atomic_fetch_sub(&ks->refs, 1) != 1) return;
  for (size_t i = 0; i < ks->n; i++) {
    free(ks->keys[i].kid);
    gh_jwk_free(ks->keys[i].key);
  }
  free(ks);
}

static const char *member_str(json_t *o, const char *name) {
  json_t *m = json_object_get(o, name);
  return json_is_string(m) ? json_string_value(m) : NULL;
}

/* The algorithm a JWK is pinned to: its "alg" when present (gh_jwk_import then checks that it
 * agrees with kty/crv), else derived from kty/crv; RSA without "alg" is not usable. */
static gh_jwa pinned_alg(json_t *jwk) {
  json_t *alg = json_object_get(jwk, "alg");
  if (alg) {
    if (!json_is_string(alg)) return GH_JWA_UNKNOWN;
    return gh_jwa_parse(json_string_value(alg), json_string_length(alg));
  }
  const char *kty = member_str(jwk, "kty"), *crv = member_str(jwk, "crv");
  if (!kty || !crv) return GH_JWA_UNKNOWN;
  if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0) return GH_JWA_EDDSA;
  if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0) return GH_JWA_ES256;
  if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-521") == 0) return GH_JWA_ES512;
  return GH_JWA_UNKNOWN;
}

/* A key meant for something other than verifying signatures ("use" != "sig", "key_ops"
 * without "verify") is not used. */
static bool usable_for_sig(json_t *jwk) {
  json_t *use = json_object_get(jwk, "use");
  if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) return false;
  json_t *ops = json_object_get(jwk, "key_ops");
  if (ops) {
    if (!json_is_array(ops)) return false;
    size_t i;
    json_t *op;
    bool verify = false;
    json_array_foreach(ops, i, op) {
      if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0) verify = true;
    }
    if (!verify) return false;
  }
  return true;
}

ghv_status ghv_internal_jwks_parse(const char *json, size_t len, ghv_keyset **out) {
  ghv_status st = GHV_ERR_MALFORMED;
  ghv_keyset *ks = NULL;
  json_error_t err;
  *out = NULL;
  if (!json) return GHV_ERR_MALFORMED;
  json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (!doc) {
    /* jansson reports allocation failures as json_error_out_of_memory */
    return json_error_code(&err) == json_error_out_of_memory ? GHV_ERR_NOMEM : GHV_ERR_MALFORMED;
  }
  json_t *keys = json_object_get(doc, "keys");
  if (!json_is_object(doc) || !json_is_array(keys)) goto fail;
  size_t cap = json_array_size(keys);
  if (cap > GHV_JWKS_MAX_KEYS) cap = GHV_JWKS_MAX_KEYS;
  st = GHV_ERR_NOMEM;
  ks = calloc(1, sizeof *ks + cap * sizeof ks->keys[0]);
  if (!ks) goto fail;
  atomic_init(&ks->refs, 1);
  static atomic_uint_fast64_t next_serial = 1;
  ks->serial = atomic_fetch_add(&next_serial, 1);
  size_t i;
  json_t *jwk;
  json_array_foreach(keys, i, jwk) {
    if (ks->n == cap) break;
    if (!json_is_object(jwk) || !usable_for_sig(jwk)) continue;
    json_t *kid = json_object_get(jwk, "kid");
    if (kid && !json_is_string(kid)) continue;
    gh_jwa alg = pinned_alg(jwk);
    if (alg == GH_JWA_UNKNOWN) continue;
    /* public members only: a JWKS that (wrongly) carries private parts still gives public keys */
    gh_jwk_members m = {.kty = member_str(jwk, "kty"),
                        .crv = member_str(jwk, "crv"),
                        .x = member_str(jwk, "x"),
                        .y = member_str(jwk, "y"),
                        .n = member_str(jwk, "n"),
                        .e = member_str(jwk, "e")};
    gh_jwk *key = NULL;
    gh_status gs = gh_jwk_import(alg, &m, &key);
    if (gs == GH_ERR_NOMEM) goto fail;
    if (gs != GH_OK || !key) continue; /* weak RSA, point not on the curve, kty/alg mismatch... */
    ghv_key *k = &ks->keys[ks->n];
    k->key = key;
    if (kid) {
      k->kid_len = json_string_length(kid);
      k->kid = ghv_internal_strndup(json_string_value(kid), k->kid_len);
      if (!k->kid) {
        gh_jwk_free(key);
        k->key = NULL;
        goto fail;
      }
    }
    ks->n++;
  }
  json_decref(doc);
  *out = ks;
  return GHV_OK;

fail:
  if (ks) {
    atomic_store(&ks->refs, 1);
    ghv_internal_keyset_release(ks);
  }
  json_decref(doc);
  return st;
}

ghv_status ghv_set_jwks(ghv_verifier *v, const char *json, size_t len) {
  if (!v || !json) return GHV_ERR_ARG;
  if (len > v->max_jwks_bytes) return GHV_ERR_TOO_LARGE;
  ghv_keyset *ks;
  ghv_status st = ghv_internal_jwks_parse(json, len, &ks);
  if (st != GHV_OK) return st;
  pthread_mutex_lock(&v->mu);
  ghv_keyset *old = v->ks;
  v->ks = ks;
  v->ks_static = true;
  v->last_failed = false;
  v->generation++;
  pthread_cond_broadcast(&v->cv);
  pthread_mutex_unlock(&v->mu);
  ghv_internal_keyset_release(old);
  return GHV_OK;
}

/* true when ks has a key for this kid (kid NULL: a key with the pinned alg). */
static bool has_key(const ghv_keyset *ks, const char *kid, size_t kid_len, gh_jwa alg) {
  if (!ks) return false;
  for (size_t i = 0; i < ks->n; i++) {
    const ghv_key *k = &ks->keys[i];
    if (kid ? (k->kid && k->kid_len == kid_len && memcmp(k->kid, kid, kid_len) == 0)
            : gh_jwk_alg(k->key) == alg)
      return true;
  }
  return false;
}

/* One fetch, called without the lock. On success *ks is the new key set and *ttl_s its lifetime. */
static ghv_status fetch_jwks(ghv_verifier *v, ghv_keyset **ks, long *ttl_s) {
  ghv_http_response r;
  *ks = NULL;
  ghv_status st = ghv_internal_http_get(v, v->jwks_url, NULL, v->max_jwks_bytes, &r);
  if (st != GHV_OK) return st;
  if (r.status != 200) {
    st = GHV_ERR_UNAVAILABLE;
    goto done;
  }
  st = ghv_internal_jwks_parse(r.body ? r.body : "", r.len, ks);
  if (st == GHV_ERR_MALFORMED) st = GHV_ERR_UNAVAILABLE;
  if (st != GHV_OK) goto done;
  long ttl;
  if (r.no_cache)
    ttl = 0;
  else if (r.max_age_s >= 0)
    ttl = r.max_age_s < v->jwks_max_age_s ? r.max_age_s : v->jwks_max_age_s;
  else
    ttl = v->jwks_default_ttl_s;
  if (ttl < 1) ttl = 1; /* never refetch a JWKS more than once a second */
  *ttl_s = ttl;
done:
  ghv_internal_http_response_free(&r);
  return st;
}

static void wait_until(ghv_verifier *v, int64_t deadline_ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(deadline_ms / 1000);
  ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000;
  pthread_cond_timedwait(&v->cv, &v->mu, &ts);
}

ghv_status ghv_internal_keys_acquire(ghv_verifier *v, const char *kid, size_t kid_len, gh_jwa alg,
                                     ghv_keyset **out) {
  ghv_status st = GHV_OK;
  bool may_fetch = true; /* this call starts or waits for at most one fetch */
  *out = NULL;
  pthread_mutex_lock(&v->mu);
  for (;;) {
    if (v->ks_static) break;
    if (!v->jwks_url) {
      st = v->ks ? GHV_OK : GHV_ERR_ARG;
      break;
    }
    int64_t now = ghv_internal_now_ms();
    bool have = v->ks != NULL;
    bool found = have && has_key(v->ks, kid, kid_len, alg);
    int64_t since = v->last_attempt_ms == INT64_MIN ? INT64_MAX : now - v->last_attempt_ms;
    int64_t refetch_ms = (int64_t)v->jwks_min_refetch_s * 1000;
    bool want;
    if (!have) /* never fetched, or every fetch failed: retry, but not in a tight loop */
      want = !(v->last_failed &&
               since < (refetch_ms < GHV_NOKEYS_RETRY_MS ? refetch_ms : GHV_NOKEYS_RETRY_MS));
    else if (!found) /* unknown kid: maybe the keys rotated */
      want = since >= refetch_ms;
    else if (now >= v->fresh_until_ms) /* stale: refresh; after a failure, back off */
      want = !(v->last_failed && since < refetch_ms);
    else
      want = false;
    if (!want || !may_fetch) break;
    if (v->fetching) {
      if (found) break; /* the current keys serve while another thread refreshes them */
      uint64_t gen = v->generation;
      int64_t deadline = now + v->http_timeout_ms + 1000;
      while (v->fetching && v->generation == gen && ghv_internal_now_ms() < deadline)
        wait_until(v, deadline);
      may_fetch = false;
      continue;
    }
    v->fetching = true;
    v->last_attempt_ms = now;
    pthread_mutex_unlock(&v->mu);
    ghv_keyset *fresh = NULL;
    long ttl = 0;
    ghv_status fst = fetch_jwks(v, &fresh, &ttl);
    pthread_mutex_lock(&v->mu);
    v->fetching = false;
    v->generation++;
    if (fst == GHV_OK && !v->ks_static) {
      ghv_keyset *old = v->ks;
      v->ks = fresh;
      fresh = NULL;
      v->fresh_until_ms = ghv_internal_now_ms() + (int64_t)ttl * 1000;
      v->last_failed = false;
      ghv_internal_keyset_release(old); /* other holders keep their own reference */
    } else if (fst != GHV_OK) {
      v->last_failed = true;
    }
    ghv_internal_keyset_release(fresh);
    pthread_cond_broadcast(&v->cv);
    may_fetch = false;
    if (fst == GHV_ERR_NOMEM && !v->ks) {
      st = GHV_ERR_NOMEM;
      pthread_mutex_unlock(&v->mu);
      return st;
    }
  }
  if (st == GHV_OK) {
    if (!v->ks) {
      st = GHV_ERR_UNAVAILABLE;
    } else {
      atomic_fetch_add(&v->ks->refs, 1);
      *out = v->ks;
    }
  }
  pthread_mutex_unlock(&v->mu);
  return st;
}
