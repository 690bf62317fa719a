/* libgatehouse-verify: API keys checked with gatehouse's POST /api/auth/api-key/verify (the
 * api-key plugin's verifyApiKey, reachable with the service token only), and a short positive
 * cache: keyed by the SHA-256 of the key, direct-mapped and bounded, never kept past the key's
 * expiry. */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/bytes.h"

#define APIKEY_CACHE_SLOTS 256
#define APIKEY_ANSWER_MAX (64 * 1024)
#define APIKEY_TTL_MAX 60

typedef struct {
  bool used;
  uint8_t key[32];
  int64_t deadline_ms; /* monotonic */
  ghv_api_key k;
} apikey_slot;

struct ghv_apikey_state {
  char *url;
  char *auth_header; /* "Authorization: Bearer <service token>" */
  long ttl_s;
  pthread_mutex_t mu;
  apikey_slot *slots; /* NULL when ttl_s == 0 */
};

static char *dup_n(const char *s, size_t n) {
  return ghv_internal_strndup(s, n);
}

void ghv_api_key_clear(ghv_api_key *k) {
  if (!k) return;
  free(k->key_id);
  free(k->user_id);
  free(k->name);
  free(k->permissions);
  memset(k, 0, sizeof *k);
}

static ghv_status key_copy(ghv_api_key *dst, const ghv_api_key *src) {
  memset(dst, 0, sizeof *dst);
  dst->expires_at = src->expires_at;
  memcpy(dst->error_code, src->error_code, sizeof dst->error_code);
  const char *const s[4] = {src->key_id, src->user_id, src->name, src->permissions};
  char **d[4] = {&dst->key_id, &dst->user_id, &dst->name, &dst->permissions};
  for (int i = 0; i < 4; i++)
    if (s[i] && !(*d[i] = dup_n(s[i], strlen(s[i])))) {
      ghv_api_key_clear(dst);
      return GHV_ERR_NOMEM;
    }
  return GHV_OK;
}

void ghv_internal_apikey_free(ghv_verifier *v) {
  struct ghv_apikey_state *a = v->apikey;
  if (!a) return;
  if (a->slots) {
    for (size_t i = 0; i < APIKEY_CACHE_SLOTS; i++) ghv_api_key_clear(&a->slots[i].k);
    OPENSSL_cleanse(a->slots, APIKEY_CACHE_SLOTS * sizeof *a->slots);
    free(a->slots);
  }
  if (a->auth_header) {
    OPENSSL_cleanse(a->auth_header, strlen(a->auth_header));
    free(a->auth_header);
  }
  free(a->url);
  pthread_mutex_destroy(&a->mu);
  free(a);
  v->apikey = NULL;
}

static bool http_url(const char *u) {
  return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
         strlen(u) < 4096 && !strpbrk(u, " \r\n\t");
}

ghv_status ghv_apikey_configure(ghv_verifier *v, const char *verify_url, const char *service_token,
                                long cache_ttl_s) {
  if (!v || v->apikey || !http_url(verify_url) || !service_token || strlen(service_token) < 32 ||
      strlen(service_token) > 1024 || strpbrk(service_token, "\r\n") || cache_ttl_s < 0 ||
      cache_ttl_s > APIKEY_TTL_MAX)
    return GHV_ERR_ARG;
  struct ghv_apikey_state *a = calloc(1, sizeof *a);
  if (!a) return GHV_ERR_NOMEM;
  size_t hn = strlen(service_token) + sizeof "Authorization: Bearer ";
  a->url = dup_n(verify_url, strlen(verify_url));
  a->auth_header = malloc(hn);
  a->ttl_s = cache_ttl_s;
  if (cache_ttl_s > 0) a->slots = calloc(APIKEY_CACHE_SLOTS, sizeof *a->slots);
  if (!a->url || !a->auth_header || (cache_ttl_s > 0 && !a->slots)) {
    free(a->url);
    free(a->auth_header);
    free(a->slots);
    free(a);
    return GHV_ERR_NOMEM;
  }
  snprintf(a->auth_header, hn, "Authorization: Bearer %s", service_token);
  pthread_mutex_init(&a->mu, NULL);
  v->apikey = a;
  return GHV_OK;
}

static bool hash_key(const char *key, size_t len, uint8_t out[32]) {
  unsigned int n = 0;
  return EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

static size_t slot_of(const uint8_t key[32]) {
  return ((size_t)key[0] | (size_t)key[1] << 8) % APIKEY_CACHE_SLOTS;
}

static bool cache_get(struct ghv_apikey_state *a, const uint8_t key[32], ghv_api_key *out,
                      ghv_status *st) {
  bool hit = false;
  pthread_mutex_lock(&a->mu);
  apikey_slot *s = &a->slots[slot_of(key)];
  if (s->used && gh_ct_equal(s->key, key, 32)) {
    int64_t now = (int64_t)time(NULL);
    if (ghv_internal_now_ms() < s->deadline_ms && (!s->k.expires_at || now < s->k.expires_at)) {
      *st = key_copy(out, &s->k);
      hit = true;
    } else {
      ghv_api_key_clear(&s->k);
      memset(s, 0, sizeof *s);
    }
  }
  pthread_mutex_unlock(&a->mu);
  return hit;
}

static void cache_put(struct ghv_apikey_state *a, const uint8_t key[32], const ghv_api_key *k) {
  int64_t ttl_ms = a->ttl_s * 1000;
  if (k->expires_at) {
    int64_t left = (k->expires_at - (int64_t)time(NULL)) * 1000;
    if (left <= 0) return;
    if (left < ttl_ms) ttl_ms = left;
  }
  ghv_api_key copy;
  if (key_copy(&copy, k) != GHV_OK) return; /* best effort */
  pthread_mutex_lock(&a->mu);
  apikey_slot *s = &a->slots[slot_of(key)];
  ghv_api_key_clear(&s->k);
  s->used = true;
  memcpy(s->key, key, 32);
  s->deadline_ms = ghv_internal_now_ms() + ttl_ms;
  s->k = copy;
  pthread_mutex_unlock(&a->mu);
}

static ghv_status opt_str(json_t *o, const char *name, char **out) {
  json_t *m = json_object_get(o, name);
  *out = NULL;
  if (!json_is_string(m)) return GHV_OK;
  *out = dup_n(json_string_value(m), json_string_length(m));
  return *out ? GHV_OK : GHV_ERR_NOMEM;
}

/* {"valid":true,"error":null,"key":{...}} → OK; {"valid":false,"error":{"code":...}} →
 * UNAUTHENTICATED; anything else → UNAVAILABLE (fail closed). */
static ghv_status parse_answer(const char *body, size_t len, ghv_api_key *k) {
  json_error_t err;
  json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
  if (!doc)
    return json_error_code(&err) == json_error_out_of_memory ? GHV_ERR_NOMEM : GHV_ERR_UNAVAILABLE;
  ghv_status st = GHV_ERR_UNAVAILABLE;
  json_t *valid = json_object_get(doc, "valid"), *key = json_object_get(doc, "key");
  if (json_is_false(valid)) {
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    if (code) snprintf(k->error_code, sizeof k->error_code, "%s", code);
    st = GHV_ERR_UNAUTHENTICATED;
    goto done;
  }
  if (!json_is_true(valid) || !json_is_object(key)) goto done;
  json_t *uid = json_object_get(key, "referenceId"), *id = json_object_get(key, "id");
  if (!json_is_string(uid) || json_string_length(uid) == 0 || !json_is_string(id)) goto done;
  json_t *exp = json_object_get(key, "expiresAt");
  if (json_is_string(exp)) {
    int64_t e;
    if (!ghv_internal_iso8601(json_string_value(exp), json_string_length(exp), &e)) goto done;
    k->expires_at = e;
  } else if (!json_is_null(exp)) {
    goto done;
  }
  json_t *perm = json_object_get(key, "permissions");
  if (json_is_object(perm)) {
    k->permissions = json_dumps(perm, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!k->permissions) {
      st = GHV_ERR_NOMEM;
      goto done;
    }
  }
  if (opt_str(key, "id", &k->key_id) != GHV_OK || opt_str(key, "referenceId", &k->user_id) ||
      opt_str(key, "name", &k->name)) {
    ghv_api_key_clear(k);
    st = GHV_ERR_NOMEM;
    goto done;
  }
  st = GHV_OK;
done:
  json_decref(doc);
  return st;
}

ghv_status ghv_verify_api_key(ghv_verifier *v, const char *key, size_t len, ghv_api_key *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!v || !out || !key) return GHV_ERR_ARG;
  struct ghv_apikey_state *a = v->apikey;
  if (!a) return GHV_ERR_ARG;
  if (len == 0) return GHV_ERR_UNAUTHENTICATED;
  if (len > v->max_token_bytes) return GHV_ERR_TOO_LARGE;
  uint8_t h[32];
  bool keyed = a->slots && hash_key(key, len, h);
  ghv_status st;
  if (keyed && cache_get(a, h, out, &st)) {
    OPENSSL_cleanse(h, sizeof h);
    return st;
  }
  json_t *req = json_object();
  char *body = NULL;
  if (!req || json_object_set_new(req, "key", json_stringn(key, len)) != 0 ||
      !(body = json_dumps(req, JSON_COMPACT))) {
    json_decref(req);
    OPENSSL_cleanse(h, sizeof h);
    return GHV_ERR_NOMEM;
  }
  json_decref(req); /* jansson's copy of the key: the dump below is wiped */
  const char *headers[] = {a->auth_header, "Content-Type: application/json", NULL};
  ghv_http_response r = {0};
  st = ghv_internal_http_post(v, a->url, headers, body, strlen(body), APIKEY_ANSWER_MAX, &r);
  OPENSSL_cleanse(body, strlen(body));
  free(body);
  if (st == GHV_OK) {
    if (r.status == 200)
      st = parse_answer(r.body ? r.body : "", r.len, out);
    else
      st = GHV_ERR_UNAVAILABLE; /* 401/403/404 (service token or route missing), 5xx, 429 */
  }
  if (st == GHV_OK && keyed) cache_put(a, h, out);
  ghv_internal_http_response_free(&r);
  OPENSSL_cleanse(h, sizeof h);
  return st;
}

bool ghv_api_key_allows(const ghv_api_key *k, const char *resource, const char *action) {
  if (!k || !k->permissions || !resource || !action) return false;
  json_t *p = json_loads(k->permissions, JSON_REJECT_DUPLICATES, NULL);
  bool ok = false;
  json_t *arr = json_object_get(p, resource);
  size_t i;
  json_t *a;
  if (json_is_array(arr)) json_array_foreach(arr, i, a) {
      if (json_is_string(a) && !strcmp(json_string_value(a), action)) ok = true;
    }
  json_decref(p);
  return ok;
}
