/* libgatehouse-verify: the outbound HTTP GET (libcurl). One easy handle per call; DNS and
 * connection caches are shared per verifier through a locked CURLSH, so repeated calls to the
 * same gatehouse reuse connections. http/https only, no redirects, connect and total timeouts,
 * no signals, the body bounded (the transfer is aborted as soon as it exceeds the limit). */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

typedef struct {
  ghv_http_response *r;
  size_t cap;
  size_t max;
  bool too_large;
  bool oom;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  sink *s = ud;
  size_t n = size * nmemb;
  if (n > s->max || s->r->len > s->max - n) {
    s->too_large = true;
    return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
  }
  if (s->r->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->r->len + n + 1) cap *= 2;
    if (cap > s->max + 1) cap = s->max + 1;
    char *b = realloc(s->r->body, cap);
    if (!b) {
      s->oom = true;
      return 0;
    }
    s->r->body = b;
    s->cap = cap;
  }
  memcpy(s->r->body + s->r->len, data, n);
  s->r->len += n;
  s->r->body[s->r->len] = 0;
  return n;
}

/* Cache-Control directives of one header line: max-age=N (smallest wins), no-store, no-cache. */
static void parse_cache_control(const char *v, size_t n, ghv_http_response *r) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < n && v[i] != ',' && v[i] != '=' && v[i] != ' ' && v[i] != '\t') i++;
    size_t name_len = i - start;
    const char *name = v + start;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    const char *val = NULL;
    size_t val_len = 0;
    if (i < n && v[i] == '=') {
      i++;
      while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
      bool quoted = i < n && v[i] == '"';
      if (quoted) i++;
      val = v + i;
      while (i < n && v[i] != ',' && v[i] != '"' && v[i] != ' ' && v[i] != '\t') i++;
      val_len = (size_t)(v + i - val);
      if (quoted && i < n && v[i] == '"') i++;
    }
    while (i < n && v[i] != ',') i++; /* ignore anything else up to the next directive */
    if (name_len == 7 && strncasecmp(name, "max-age", 7) == 0 && val && val_len > 0) {
      long age = 0;
      bool ok = true;
      for (size_t k = 0; k < val_len; k++) {
        if (val[k] < '0' || val[k] > '9') {
          ok = false;
          break;
        }
        if (age < 100000000) age = age * 10 + (val[k] - '0');
      }
      if (ok && (r->max_age_s < 0 || age < r->max_age_s)) r->max_age_s = age;
    } else if ((name_len == 8 && strncasecmp(name, "no-store", 8) == 0) ||
               (name_len == 8 && strncasecmp(name, "no-cache", 8) == 0)) {
      r->no_cache = true;
    }
  }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  ghv_http_response *r = ud;
  size_t n = size * nmemb;
  static const char name[] = "cache-control:";
  size_t nl = sizeof name - 1;
  if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    r->max_age_s = -1; /* a new response (e.g. after 100 Continue): forget earlier headers */
    r->no_cache = false;
  } else if (n > nl && strncasecmp(data, name, nl) == 0) {
    size_t end = n;
    while (end > nl && (data[end - 1] == '\r' || data[end - 1] == '\n')) end--;
    parse_cache_control(data + nl, end - nl, r);
  }
  return n;
}

/* The request headers may carry credentials (Cookie, Authorization): wipe curl's copies. */
static void free_headers(struct curl_slist *hl) {
  for (struct curl_slist *p = hl; p; p = p->next) OPENSSL_cleanse(p->data, strlen(p->data));
  curl_slist_free_all(hl);
}

void ghv_internal_http_response_free(ghv_http_response *r) {
  if (!r) return;
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

/* One GET, or a POST of post[0..post_len) when post is not NULL. */
static ghv_status transfer(ghv_verifier *v, const char *url, const char *const *headers,
                           const char *post, size_t post_len, size_t max_bytes,
                           ghv_http_response *out) {
  ghv_status st = GHV_ERR_NOMEM;
  struct curl_slist *hl = NULL;
  memset(out, 0, sizeof *out);
  out->max_age_s = -1;
  sink s = {.r = out, .max = max_bytes};
  CURL *h = ghv_internal_easy(v);
  if (!h) return GHV_ERR_NOMEM;
  for (const char *const *p = headers; p && *p; p++) {
    struct curl_slist *n = curl_slist_append(hl, *p);
    if (!n) goto fail;
    hl = n;
  }
  struct curl_slist *n = curl_slist_append(hl, "Accept: application/json");
  if (!n) goto fail;
  hl = n;
  n = curl_slist_append(hl, "Expect:");
  if (!n) goto fail;
  hl = n;

  st = GHV_ERR_UNAVAILABLE;
  if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, v->http_timeout_ms) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, v->http_timeout_ms) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_USERAGENT, "libgatehouse-verify/" GH_VERSION) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_HEADERDATA, out) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_SHARE, v->share) != CURLE_OK)
    goto fail;
  if (post && (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len) != CURLE_OK ||
               curl_easy_setopt(h, CURLOPT_POSTFIELDS, post) != CURLE_OK))
    goto fail;
  CURLcode rc = curl_easy_perform(h);
  if (s.oom) {
    st = GHV_ERR_NOMEM;
    goto fail;
  }
  if (rc == CURLE_OUT_OF_MEMORY) {
    st = GHV_ERR_NOMEM;
    goto fail;
  }
  if (rc != CURLE_OK || s.too_large) goto fail;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK || out->status == 0)
    goto fail;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL); /* the list is freed now */
  free_headers(hl);
  return GHV_OK;

fail:
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  free_headers(hl);
  ghv_internal_http_response_free(out);
  out->status = 0;
  return st;
}

ghv_status ghv_internal_http_get(ghv_verifier *v, const char *url, const char *const *headers,
                                 size_t max_bytes, ghv_http_response *out) {
  return transfer(v, url, headers, NULL, 0, max_bytes, out);
}

ghv_status ghv_internal_http_post(ghv_verifier *v, const char *url, const char *const *headers,
                                  const char *body, size_t len, size_t max_bytes,
                                  ghv_http_response *out) {
  return transfer(v, url, headers, body ? body : "", len, max_bytes, out);
}

/* --- per-thread easy handles ---------------------------------------------------------------- */

static void unlink_easy(ghv_verifier *v, struct ghv_easy *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    v->easies = e->next;
  if (e->next) e->next->prev = e->prev;
}

/* pthread key destructor: the thread exits. */
void ghv_internal_easy_thread_exit(void *p) {
  struct ghv_easy *e = p;
  ghv_verifier *v = e->v;
  pthread_mutex_lock(&v->easy_mu);
  unlink_easy(v, e);
  pthread_mutex_unlock(&v->easy_mu);
  curl_easy_cleanup(e->h);
  free(e);
}

CURL *ghv_internal_easy(ghv_verifier *v) {
  struct ghv_easy *e = pthread_getspecific(v->easy_key);
  if (e) {
    curl_easy_reset(e->h); /* options back to defaults; live connections and caches stay */
    return e->h;
  }
  e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->v = v;
  e->h = curl_easy_init();
  if (!e->h || pthread_setspecific(v->easy_key, e) != 0) {
    if (e->h) curl_easy_cleanup(e->h);
    free(e);
    return NULL;
  }
  pthread_mutex_lock(&v->easy_mu);
  e->next = v->easies;
  if (v->easies) v->easies->prev = e;
  v->easies = e;
  pthread_mutex_unlock(&v->easy_mu);
  return e->h;
}

void ghv_internal_easy_free_all(ghv_verifier *v) {
  pthread_mutex_lock(&v->easy_mu);
  struct ghv_easy *e = v->easies;
  v->easies = NULL;
  pthread_mutex_unlock(&v->easy_mu);
  while (e) {
    struct ghv_easy *next = e->next;
    curl_easy_cleanup(e->h);
    free(e);
    e = next;
  }
}
