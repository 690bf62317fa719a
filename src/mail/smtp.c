#include "mail/smtp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *p;
  size_t left;
} reader;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg) {
  reader *r = arg;
  size_t n = size * nitems;
  if (n > r->left) n = r->left;
  memcpy(buf, r->p, n);
  r->p += n;
  r->left -= n;
  return n;
}

gh_status gh_smtp_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? GH_OK : GH_ERR_IO;
}

void gh_smtp_global_cleanup(void) {
  curl_global_cleanup();
}

gh_status gh_smtp_send(const gh_smtp_conf *c, const char *from_addr, const char *to_addr,
                       const char *message, char *err, size_t errlen) {
  CURL *h = curl_easy_init();
  if (!h) {
    snprintf(err, errlen, "curl_easy_init failed");
    return GH_ERR_NOMEM;
  }
  char from[400], to[400];
  snprintf(from, sizeof from, "<%s>", from_addr);
  snprintf(to, sizeof to, "<%s>", to_addr);
  struct curl_slist *rcpt = curl_slist_append(NULL, to);
  reader r = {message, strlen(message)};
  char ebuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, c->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(h, CURLOPT_READDATA, &r);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r.left);
  curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(c->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
  if (c->ca_file && *c->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
  if (c->user && *c->user) {
    curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
  }
  CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(h);
  if (rc == CURLE_OK) return GH_OK;
  snprintf(err, errlen, "%s (reply %ld)", *ebuf ? ebuf : curl_easy_strerror(rc), code);
  return GH_ERR_IO;
}
