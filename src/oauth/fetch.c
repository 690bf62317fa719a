#include "oauth/fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/log.h"

gh_status gh_fetch_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? GH_OK : GH_ERR_CONFIG;
}

void gh_fetch_global_cleanup(void) {
  curl_global_cleanup();
}

static bool host_is_loopback(const char *h, size_t n) {
  if (n == 9 && strncasecmp(h, "localhost", 9) == 0) return true;
  if (n == 5 && strncmp(h, "[::1]", 5) == 0) return true;
  if (n >= 4 && strncmp(h, "127.", 4) == 0) {
    for (size_t i = 4; i < n; i++)
      if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9'))) return false;
    return true;
  }
  return false;
}

bool gh_fetch_url_allowed(const char *url) {
  if (!url) return false;
  if (strncasecmp(url, "https://", 8) == 0) return url[8] != 0;
  if (strncasecmp(url, "http://", 7) != 0) return false;
  const char *h = url + 7;
  if (strchr(h, '@') && strcspn(h, "@") < strcspn(h, "/?#")) return false; /* no userinfo */
  size_t n;
  if (*h == '[') {
    const char *e = strchr(h, ']');
    if (!e) return false;
    n = (size_t)(e - h) + 1;
  } else {
    n = strcspn(h, ":/?#");
  }
  char next = h[n];
  if (next && next != ':' && next != '/' && next != '?' && next != '#') return false;
  return host_is_loopback(h, n);
}

typedef struct {
  gh_arena *a;
  char *buf;
  size_t len, cap, max;
  bool too_large;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  sink *s = ud;
  size_t n = size * nmemb;
  if (n > s->max || s->len > s->max - n) {
    s->too_large = true;
    return 0;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) gh_oom();
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  s->buf[s->len] = 0;
  return n;
}

static void free_headers(struct curl_slist *hl) {
  for (struct curl_slist *p = hl; p; p = p->next) OPENSSL_cleanse(p->data, strlen(p->data));
  curl_slist_free_all(hl);
}

static struct curl_slist *add(struct curl_slist *hl, const char *line) {
  struct curl_slist *n = curl_slist_append(hl, line);
  if (!n) gh_oom();
  return n;
}

gh_status gh_fetch(gh_arena *a, const gh_fetch_opts *o, const char *url, const char *const *headers,
                   const char *body, gh_fetch_resp *out) {
  memset(out, 0, sizeof *out);
  if (!gh_fetch_url_allowed(url)) return GH_ERR_INVALID;
  CURL *h = curl_easy_init();
  if (!h) gh_oom();
  struct curl_slist *hl = NULL;
  bool has_ct = false;
  for (const char *const *p = headers; p && *p; p++) {
    hl = add(hl, *p);
    if (strncasecmp(*p, "content-type:", 13) == 0) has_ct = true;
  }
  hl = add(hl, "Accept: application/json");
  hl = add(hl, "Expect:");
  if (body && !has_ct) hl = add(hl, "Content-Type: application/x-www-form-urlencoded");
  sink s = {.a = a, .max = o->max_bytes};
  gh_status st = GH_ERR_IO;
  bool https_only = strncasecmp(url, "https://", 8) == 0;
  if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, https_only ? "https" : "http,https") != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
      (o->ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file) != CURLE_OK) ||
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "gatehouse") !=
          CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
      (body && curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK))
    goto done;
  CURLcode rc = curl_easy_perform(h);
  if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    st = GH_ERR_TOO_LARGE;
    goto done;
  }
  if (rc != CURLE_OK) {
    gh_log(GH_LOG_WARN, "oauth.fetch_failed", "error", curl_easy_strerror(rc), NULL);
    goto done;
  }
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK || !out->status)
    goto done;
  out->body = gh_arena_strndup(a, s.buf ? s.buf : "", s.len);
  out->len = s.len;
  st = GH_OK;
done:
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_cleanup(h);
  free_headers(hl);
  if (s.buf) {
    OPENSSL_cleanse(s.buf, s.cap);
    free(s.buf);
  }
  return st;
}
