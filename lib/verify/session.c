/* libgatehouse-verify: session delegation (GET get-session with the caller's Cookie header and/or
 * bearer token) and its optional micro-cache: positive answers only, keyed by the SHA-256 of
 * (cookie ‖ 0 ‖ bearer), direct-mapped and bounded, never kept past the session's expiry. */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/bytes.h"

/* Header values are forwarded verbatim: refuse anything that could split the request. */
static bool header_safe(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

static bool cache_key(const char *cookie, const char *bearer, uint8_t key[32]) {
  bool ok = false;
  unsigned int n = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) return false;
  static const uint8_t zero = 0;
  if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
      EVP_DigestUpdate(md, cookie ? cookie : "", cookie ? strlen(cookie) : 0) == 1 &&
      EVP_DigestUpdate(md, &zero, 1) == 1 &&
      EVP_DigestUpdate(md, bearer ? bearer : "", bearer ? strlen(bearer) : 0) == 1 &&
      EVP_DigestFinal_ex(md, key, &n) == 1 && n == 32)
    ok = true;
  EVP_MD_CTX_free(md);
  return ok;
}

static size_t slot_of(const uint8_t key[32]) {
  uint32_t h =
      (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 24;
  return h % GHV_SESSION_CACHE_SLOTS;
}

/* GHV_OK with *out filled on a hit; GHV_ERR_KID (internal meaning: miss) otherwise. */
static ghv_status cache_get(ghv_verifier *v, const uint8_t key[32], ghv_principal *out) {
  ghv_status st = GHV_ERR_KID;
  pthread_mutex_lock(&v->cache_mu);
  ghv_session_slot *s = &v->cache[slot_of(key)];
  if (s->used && gh_ct_equal(s->key, key, 32)) {
    if (ghv_internal_now_ms() < s->deadline_ms && (int64_t)time(NULL) < s->p.expires_at) {
      st = ghv_internal_principal_copy(out, &s->p);
    } else {
      ghv_principal_clear(&s->p);
      memset(s, 0, sizeof *s);
    }
  }
  pthread_mutex_unlock(&v->cache_mu);
  return st;
}

static void cache_put(ghv_verifier *v, const uint8_t key[32], const ghv_principal *p) {
  int64_t now_wall = (int64_t)time(NULL);
  int64_t ttl_ms = (int64_t)v->session_cache_ttl_s * 1000;
  int64_t left_ms = (p->expires_at - now_wall) * 1000;
  if (left_ms <= 0) return;
  if (left_ms < ttl_ms) ttl_ms = left_ms;
  ghv_principal copy;
  if (ghv_internal_principal_copy(&copy, p) != GHV_OK) return; /* caching is best effort */
  pthread_mutex_lock(&v->cache_mu);
  ghv_session_slot *s = &v->cache[slot_of(key)];
  ghv_principal_clear(&s->p);
  s->used = true;
  memcpy(s->key, key, 32);
  s->deadline_ms = ghv_internal_now_ms() + ttl_ms;
  s->p = copy;
  pthread_mutex_unlock(&v->cache_mu);
}

static ghv_status opt_string(json_t *o, const char *name, char **out) {
  json_t *m = json_object_get(o, name);
  *out = NULL;
  if (!json_is_string(m)) return GHV_OK;
  *out = ghv_internal_strndup(json_string_value(m), json_string_length(m));
  return *out ? GHV_OK : GHV_ERR_NOMEM;
}

/* 200 body: null -> UNAUTHENTICATED; {"session":{...},"user":{...}} -> OK; else UNAVAILABLE. */
static ghv_status parse_session(const char *body, size_t len, ghv_principal *p) {
  ghv_status st = GHV_ERR_UNAVAILABLE;
  json_error_t err;
  json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
  if (!doc) {
    return json_error_code(&err) == json_error_out_of_memory ? GHV_ERR_NOMEM : GHV_ERR_UNAVAILABLE;
  }
  if (json_is_null(doc)) {
    st = GHV_ERR_UNAUTHENTICATED;
    goto done;
  }
  json_t *session = json_object_get(doc, "session"), *user = json_object_get(doc, "user");
  if (!json_is_object(session) || !json_is_object(user)) goto done;
  json_t *uid = json_object_get(user, "id"), *sid = json_object_get(session, "id");
  json_t *exp = json_object_get(session, "expiresAt");
  if (!json_is_string(uid) || json_string_length(uid) == 0 || !json_is_string(sid) ||
      !json_is_string(exp))
    goto done;
  int64_t expires_at;
  if (!ghv_internal_iso8601(json_string_value(exp), json_string_length(exp), &expires_at))
    goto done;
  if (expires_at <= (int64_t)time(NULL)) {
    st = GHV_ERR_UNAUTHENTICATED; /* gatehouse never answers an expired session; be safe */
    goto done;
  }
  p->source = GHV_SOURCE_SESSION;
  p->expires_at = expires_at;
  p->email_verified = json_is_true(json_object_get(user, "emailVerified"));
  if (opt_string(user, "id", &p->user_id) != GHV_OK ||
      opt_string(user, "email", &p->email) != GHV_OK ||
      opt_string(user, "name", &p->name) != GHV_OK ||
      opt_string(user, "role", &p->role) != GHV_OK ||
      opt_string(session, "id", &p->session_id) != GHV_OK) {
    ghv_principal_clear(p);
    st = GHV_ERR_NOMEM;
    goto done;
  }
  st = GHV_OK;
done:
  json_decref(doc);
  return st;
}

static char *make_header(const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 1;
  char *h = malloc(n);
  if (h) snprintf(h, n, "%s%s", name, value);
  return h;
}

static void wipe_free(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

ghv_status ghv_verify_session(ghv_verifier *v, const char *cookie_header, const char *bearer_token,
                              ghv_principal *out) {
  ghv_status st;
  char *hcookie = NULL, *hauth = NULL;
  const char *headers[3] = {NULL, NULL, NULL};
  ghv_http_response r = {0};
  uint8_t key[32];
  bool keyed = false;
  if (out) memset(out, 0, sizeof *out);
  if (!v || !out) return GHV_ERR_ARG;
  if (!v->session_url) return GHV_ERR_ARG;
  if (cookie_header && !cookie_header[0]) cookie_header = NULL;
  if (bearer_token && !bearer_token[0]) bearer_token = NULL;
  if (!cookie_header && !bearer_token) return GHV_ERR_UNAUTHENTICATED; /* no credential */
  size_t clen = cookie_header ? strlen(cookie_header) : 0;
  size_t blen = bearer_token ? strlen(bearer_token) : 0;
  if (clen > GHV_COOKIE_MAX_BYTES || blen > v->max_token_bytes) return GHV_ERR_TOO_LARGE;
  if (!header_safe(cookie_header ? cookie_header : "", clen) ||
      !header_safe(bearer_token ? bearer_token : "", blen))
    return GHV_ERR_UNAUTHENTICATED;

  if (v->cache) {
    keyed = cache_key(cookie_header, bearer_token, key);
    if (keyed) {
      st = cache_get(v, key, out);
      if (st == GHV_OK || st == GHV_ERR_NOMEM) goto done;
    }
  }

  st = GHV_ERR_NOMEM;
  size_t nh = 0;
  if (cookie_header) {
    if (!(hcookie = make_header("Cookie: ", cookie_header))) goto done;
    headers[nh++] = hcookie;
  }
  if (bearer_token) {
    if (!(hauth = make_header("Authorization: Bearer ", bearer_token))) goto done;
    headers[nh++] = hauth;
  }
  st = ghv_internal_http_get(v, v->session_url, headers, GHV_SESSION_MAX_BYTES, &r);
  if (st != GHV_OK) goto done;
  if (r.status == 200)
    st = parse_session(r.body ? r.body : "", r.len, out);
  else if (r.status == 401 || r.status == 403)
    st = GHV_ERR_UNAUTHENTICATED;
  else
    st = GHV_ERR_UNAVAILABLE; /* 5xx, 429, redirects, anything unexpected: fail closed */
  if (st == GHV_OK && keyed) cache_put(v, key, out);

done:
  if (r.body) OPENSSL_cleanse(r.body, r.len); /* the session JSON carries the session token */
  ghv_internal_http_response_free(&r);
  wipe_free(hcookie);
  wipe_free(hauth);
  OPENSSL_cleanse(key, sizeof key);
  return st;
}
