/* libgatehouse-verify: configuration, verifier lifetime, status helpers, principal, bearer
 * helpers and small shared utilities. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

/* Configuration bounds (ghv_new answers GHV_ERR_ARG outside them). */
#define LEEWAY_MAX 300
#define TTL_MAX 86400
#define REFETCH_MAX 3600
#define TIMEOUT_MIN_MS 10
#define TIMEOUT_MAX_MS 60000
#define TOKEN_MIN 64
#define TOKEN_MAX (1024 * 1024)
#define JWKS_MIN 64
#define JWKS_MAX (16 * 1024 * 1024)
#define SESSION_TTL_MAX 60

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *ghv_status_str(ghv_status st) {
  switch (st) {
  case GHV_OK:
    return "ok";
  case GHV_ERR_NOMEM:
    return "out of memory";
  case GHV_ERR_ARG:
    return "invalid argument or configuration";
  case GHV_ERR_MALFORMED:
    return "malformed token";
  case GHV_ERR_TOO_LARGE:
    return "token too large";
  case GHV_ERR_ALG:
    return "algorithm not allowed for this key";
  case GHV_ERR_KID:
    return "no usable key for this kid";
  case GHV_ERR_SIGNATURE:
    return "bad signature";
  case GHV_ERR_EXPIRED:
    return "token expired";
  case GHV_ERR_NOT_YET_VALID:
    return "token not yet valid";
  case GHV_ERR_ISSUER:
    return "wrong issuer";
  case GHV_ERR_AUDIENCE:
    return "wrong audience";
  case GHV_ERR_CLAIMS:
    return "missing or invalid claims";
  case GHV_ERR_UNAUTHENTICATED:
    return "no valid session";
  case GHV_ERR_UNAVAILABLE:
    return "authentication service unavailable";
  }
  return "unknown status";
}

int ghv_status_http(ghv_status st) {
  switch (st) {
  case GHV_OK:
    return 200;
  case GHV_ERR_UNAVAILABLE:
  case GHV_ERR_NOMEM:
    return 503;
  case GHV_ERR_ARG:
    return 500;
  default:
    return 401;
  }
}

void ghv_config_init(ghv_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->leeway_s = 30;
  c->jwks_max_age_s = 300;
  c->jwks_default_ttl_s = 60;
  c->jwks_min_refetch_s = 30;
  c->http_timeout_ms = 3000;
  c->max_token_bytes = 8192;
  c->max_jwks_bytes = 65536;
  c->session_cache_ttl_s = 0;
  c->signature_cache_entries = GHV_SIG_CACHE_SLOTS;
}

int64_t ghv_internal_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *ghv_internal_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static char *dup_or_null(const char *s, bool *oom) {
  if (!s) return NULL;
  char *d = ghv_internal_strndup(s, strlen(s));
  if (!d) *oom = true;
  return d;
}

void ghv_principal_clear(ghv_principal *p) {
  if (!p) return;
  free(p->user_id);
  free(p->email);
  free(p->name);
  free(p->role);
  free(p->session_id);
  free(p->token_id);
  memset(p, 0, sizeof *p);
}

ghv_status ghv_internal_principal_copy(ghv_principal *dst, const ghv_principal *src) {
  bool oom = false;
  memset(dst, 0, sizeof *dst);
  dst->source = src->source;
  dst->email_verified = src->email_verified;
  dst->expires_at = src->expires_at;
  dst->user_id = dup_or_null(src->user_id, &oom);
  dst->email = dup_or_null(src->email, &oom);
  dst->name = dup_or_null(src->name, &oom);
  dst->role = dup_or_null(src->role, &oom);
  dst->session_id = dup_or_null(src->session_id, &oom);
  dst->token_id = dup_or_null(src->token_id, &oom);
  if (oom) {
    ghv_principal_clear(dst);
    return GHV_ERR_NOMEM;
  }
  return GHV_OK;
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out) {
  int v = 0;
  if (at + count > n) return 0;
  for (size_t i = at; i < at + count; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

bool ghv_internal_iso8601(const char *s, size_t n, int64_t *out) {
  int Y, M, D, h, m, sec, oh = 0, om = 0;
  if (!digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || !digits(s, n, 5, 2, &M) || s[7] != '-' ||
      !digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, n, 11, 2, &h) || s[13] != ':' || !digits(s, n, 14, 2, &m) || s[16] != ':' ||
      !digits(s, n, 17, 2, &sec))
    return false;
  size_t i = 19;
  if (i < n && s[i] == '.') {
    size_t f = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == f || i - f > 9) return false;
  }
  int sign = 0;
  if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < n && (s[i] == '+' || s[i] == '-')) {
    sign = s[i] == '+' ? 1 : -1;
    if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
        !digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
      return false;
    i += 6;
  } else {
    return false; /* a date-time without an offset is ambiguous */
  }
  if (i != n) return false;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60) return false;
  bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (M == 2 && D == 29 && !leap) return false;
  struct tm tm = {0};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  errno = 0;
  time_t t = timegm(&tm);
  if (t == (time_t)-1 && errno) return false;
  *out = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
  return true;
}

/* Checks that url is an absolute http(s) URL with a host. When origin is not NULL it receives
 * the URL's origin (scheme://host[:port], lower case, default port omitted). */
static ghv_status check_url(const char *url, char **origin) {
  ghv_status st = GHV_ERR_ARG;
  char *scheme = NULL, *host = NULL, *port = NULL;
  CURLU *u = curl_url();
  if (!u) return GHV_ERR_NOMEM;
  if (strlen(url) > 2048) goto fail;
  for (const char *c = url; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) goto fail;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) goto fail;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto fail;
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto fail;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) goto fail;
  CURLUcode prc = curl_url_get(u, CURLUPART_PORT, &port, 0);
  if (prc != CURLUE_OK && prc != CURLUE_NO_PORT) goto fail;
  if (origin) {
    for (char *c = host; *c; c++) *c = (char)tolower((unsigned char)*c);
    size_t n = strlen(scheme) + 3 + strlen(host) + (port ? 1 + strlen(port) : 0) + 1;
    *origin = malloc(n);
    if (!*origin) {
      st = GHV_ERR_NOMEM;
      goto fail;
    }
    snprintf(*origin, n, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
  }
  st = GHV_OK;
fail:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return st;
}

/* base (trailing slashes removed) + suffix */
static char *join_url(const char *base, const char *suffix) {
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/') n--;
  size_t total = n + strlen(suffix) + 1;
  char *r = malloc(total);
  if (!r) return NULL;
  snprintf(r, total, "%.*s%s", (int)n, base, suffix);
  return r;
}

static int share_lock_index(curl_lock_data data) {
  return data >= 0 && data < CURL_LOCK_DATA_LAST ? (int)data : 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud) {
  (void)h;
  (void)access;
  ghv_verifier *v = ud;
  pthread_mutex_lock(&v->share_mu[share_lock_index(data)]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
  (void)h;
  ghv_verifier *v = ud;
  pthread_mutex_unlock(&v->share_mu[share_lock_index(data)]);
}

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

ghv_status ghv_new(const ghv_config *c, ghv_verifier **out) {
  ghv_status st = GHV_ERR_ARG;
  ghv_verifier *v = NULL;
  char *origin = NULL;
  bool mu_init = false, cv_init = false, cache_mu_init = false;
  int sig_mu_init = 0;
  bool easy_mu_init = false, easy_key_init = false;
  int share_mu_init = 0;
  if (!out) return GHV_ERR_ARG;
  *out = NULL;
  if (!c) return GHV_ERR_ARG;

  if (c->leeway_s < 0 || c->leeway_s > LEEWAY_MAX) return GHV_ERR_ARG;
  if (c->jwks_max_age_s < 1 || c->jwks_max_age_s > TTL_MAX) return GHV_ERR_ARG;
  if (c->jwks_default_ttl_s < 1 || c->jwks_default_ttl_s > TTL_MAX) return GHV_ERR_ARG;
  if (c->jwks_min_refetch_s < 1 || c->jwks_min_refetch_s > REFETCH_MAX) return GHV_ERR_ARG;
  if (c->http_timeout_ms < TIMEOUT_MIN_MS || c->http_timeout_ms > TIMEOUT_MAX_MS)
    return GHV_ERR_ARG;
  if (c->max_token_bytes < TOKEN_MIN || c->max_token_bytes > TOKEN_MAX) return GHV_ERR_ARG;
  if (c->max_jwks_bytes < JWKS_MIN || c->max_jwks_bytes > JWKS_MAX) return GHV_ERR_ARG;
  if (c->session_cache_ttl_s < 0 || c->session_cache_ttl_s > SESSION_TTL_MAX) return GHV_ERR_ARG;
  if (c->signature_cache_entries > GHV_SIG_CACHE_MAX) return GHV_ERR_ARG;
  if ((c->expected_issuer && (!c->expected_issuer[0] || has_ctl(c->expected_issuer))) ||
      (c->expected_audience && (!c->expected_audience[0] || has_ctl(c->expected_audience))))
    return GHV_ERR_ARG;

  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) return GHV_ERR_NOMEM; /* curl_global_init only fails on OOM */

  v = calloc(1, sizeof *v);
  if (!v) return GHV_ERR_NOMEM;
  v->leeway_s = c->leeway_s;
  v->jwks_max_age_s = c->jwks_max_age_s;
  v->jwks_default_ttl_s = c->jwks_default_ttl_s;
  v->jwks_min_refetch_s = c->jwks_min_refetch_s;
  v->http_timeout_ms = c->http_timeout_ms;
  v->max_token_bytes = c->max_token_bytes;
  v->max_jwks_bytes = c->max_jwks_bytes;
  v->session_cache_ttl_s = c->session_cache_ttl_s;
  v->allow_missing_kid = c->allow_missing_kid;
  v->sig_slots = c->signature_cache_entries;
  v->last_attempt_ms = INT64_MIN;

  if (c->issuer_url) {
    st = check_url(c->issuer_url, &origin);
    if (st != GHV_OK) goto fail;
  }
  if (c->jwks_url) {
    if ((st = check_url(c->jwks_url, NULL)) != GHV_OK) goto fail;
    v->jwks_url = ghv_internal_strndup(c->jwks_url, strlen(c->jwks_url));
  } else if (c->issuer_url) {
    v->jwks_url = join_url(c->issuer_url, "/api/auth/jwks");
    if (v->jwks_url && (st = check_url(v->jwks_url, NULL)) != GHV_OK) goto fail;
  }
  if (c->session_url) {
    if ((st = check_url(c->session_url, NULL)) != GHV_OK) goto fail;
    v->session_url = ghv_internal_strndup(c->session_url, strlen(c->session_url));
  } else if (c->issuer_url) {
    v->session_url = join_url(c->issuer_url, "/api/auth/get-session");
    if (v->session_url && (st = check_url(v->session_url, NULL)) != GHV_OK) goto fail;
  }
  const char *iss = c->expected_issuer ? c->expected_issuer : origin;
  const char *aud = c->expected_audience ? c->expected_audience : origin;
  if (iss) v->expected_issuer = ghv_internal_strndup(iss, strlen(iss));
  if (aud) v->expected_audience = ghv_internal_strndup(aud, strlen(aud));
  st = GHV_ERR_NOMEM;
  if ((c->jwks_url || c->issuer_url) && !v->jwks_url) goto fail;
  if ((c->session_url || c->issuer_url) && !v->session_url) goto fail;
  if ((iss && !v->expected_issuer) || (aud && !v->expected_audience)) goto fail;

  if (pthread_mutex_init(&v->mu, NULL) != 0) goto fail;
  mu_init = true;
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) goto fail;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int crc = pthread_cond_init(&v->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (crc != 0) goto fail;
  cv_init = true;
  if (pthread_mutex_init(&v->cache_mu, NULL) != 0) goto fail;
  cache_mu_init = true;
  for (; sig_mu_init < GHV_SIG_LOCKS; sig_mu_init++)
    if (pthread_mutex_init(&v->sig_mu[sig_mu_init], NULL) != 0) goto fail;
  for (; share_mu_init < CURL_LOCK_DATA_LAST; share_mu_init++)
    if (pthread_mutex_init(&v->share_mu[share_mu_init], NULL) != 0) goto fail;

  v->share = curl_share_init();
  if (!v->share) goto fail;
  if (curl_share_setopt(v->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
      curl_share_setopt(v->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
      curl_share_setopt(v->share, CURLSHOPT_USERDATA, v) != CURLSHE_OK ||
      curl_share_setopt(v->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
    goto fail;
  if (pthread_mutex_init(&v->easy_mu, NULL) != 0) goto fail;
  easy_mu_init = true;
  if (pthread_key_create(&v->easy_key, ghv_internal_easy_thread_exit) != 0) goto fail;
  easy_key_init = true;

  if (v->session_cache_ttl_s > 0) {
    v->cache = calloc(GHV_SESSION_CACHE_SLOTS, sizeof *v->cache);
    if (!v->cache) goto fail;
  }
  if (v->sig_slots > 0) {
    v->sig_cache = calloc(v->sig_slots, sizeof *v->sig_cache);
    if (!v->sig_cache) goto fail;
    /* without SHA-256 (no default provider) the cache stays unused: every token is verified */
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!v->sha256) ERR_clear_error();
  }
  free(origin);
  *out = v;
  return GHV_OK;

fail:
  free(origin);
  if (v) {
    if (easy_key_init) pthread_key_delete(v->easy_key);
    if (easy_mu_init) pthread_mutex_destroy(&v->easy_mu);
    if (v->share) curl_share_cleanup(v->share);
    for (int i = 0; i < share_mu_init; i++) pthread_mutex_destroy(&v->share_mu[i]);
    if (cache_mu_init) pthread_mutex_destroy(&v->cache_mu);
    for (int i = 0; i < sig_mu_init; i++) pthread_mutex_destroy(&v->sig_mu[i]);
    free(v->cache);
    free(v->sig_cache);
    if (cv_init) pthread_cond_destroy(&v->cv);
    if (mu_init) pthread_mutex_destroy(&v->mu);
    free(v->jwks_url);
    free(v->session_url);
    free(v->expected_issuer);
    free(v->expected_audience);
    free(v);
  }
  return st;
}

void ghv_free(ghv_verifier *v) {
  if (!v) return;
  ghv_internal_keyset_release(v->ks);
  if (v->cache) {
    for (size_t i = 0; i < GHV_SESSION_CACHE_SLOTS; i++) ghv_principal_clear(&v->cache[i].p);
    OPENSSL_cleanse(v->cache, GHV_SESSION_CACHE_SLOTS * sizeof *v->cache);
    free(v->cache);
  }
  free(v->sig_cache);
  EVP_MD_free(v->sha256);
  for (size_t i = 0; i < GHV_HDR_MEMO_SLOTS; i++) free(atomic_load(&v->hdr_memo[i]));
  ghv_internal_apikey_free(v);
  /* No destructor runs once the key is gone; then every thread's handle is freed here. */
  pthread_key_delete(v->easy_key);
  ghv_internal_easy_free_all(v);
  pthread_mutex_destroy(&v->easy_mu);
  curl_share_cleanup(v->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&v->share_mu[i]);
  pthread_mutex_destroy(&v->cache_mu);
  for (int i = 0; i < GHV_SIG_LOCKS; i++) pthread_mutex_destroy(&v->sig_mu[i]);
  pthread_cond_destroy(&v->cv);
  pthread_mutex_destroy(&v->mu);
  free(v->jwks_url);
  free(v->session_url);
  free(v->expected_issuer);
  free(v->expected_audience);
  free(v);
}

ghv_status ghv_bearer_token(const char *authorization, const char **token, size_t *len) {
  if (!token || !len) return GHV_ERR_ARG;
  *token = NULL;
  *len = 0;
  if (!authorization) return GHV_ERR_MALFORMED;
  const char *s = authorization;
  while (*s == ' ' || *s == '\t') s++;
  if (strncasecmp(s, "bearer", 6) != 0 || (s[6] != ' ' && s[6] != '\t')) return GHV_ERR_MALFORMED;
  s += 6;
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0) return GHV_ERR_MALFORMED;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 0x20 || ch >= 0x7f) return GHV_ERR_MALFORMED; /* token68: visible ASCII only */
  }
  *token = s;
  *len = n;
  return GHV_OK;
}

static bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool ghv_looks_like_jwt(const char *token, size_t len) {
  if (!token) return false;
  int dots = 0;
  size_t part = 0;
  for (size_t i = 0; i < len; i++) {
    if (token[i] == '.') {
      if (part == 0 || ++dots > 2) return false;
      part = 0;
    } else if (b64url_char(token[i])) {
      part++;
    } else {
      return false;
    }
  }
  return dots == 2 && part > 0;
}
