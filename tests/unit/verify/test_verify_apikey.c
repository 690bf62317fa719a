/* libgatehouse-verify API keys: ghv_apikey_configure's checks, the POST to the verify route (the
 * service token as a bearer, the key in a JSON body), the answers mapped to statuses (valid,
 * refused with gatehouse's code, anything else fail-closed UNAVAILABLE), the short positive
 * cache, and the scope check. A small in-process MHD server stands in for gatehouse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gatehouse/verify.h>

#include "fake_server.h"

#define TOKEN "service-token-0123456789abcdef0123456789"

typedef struct {
  struct MHD_Daemon *d;
  int port;
  char url[96];
  pthread_mutex_t mu;
  unsigned status;
  char body[2048];
  char last_auth[256];
  char last_body[512];
  char last_type[64];
  atomic_int hits;
} verify_srv;

typedef struct {
  char buf[512];
  size_t len;
} upload;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls) {
  (void)version;
  verify_srv *s = cls;
  upload *u = *con_cls;
  if (!u) {
    *con_cls = calloc(1, sizeof *u);
    return MHD_YES;
  }
  if (*size) {
    size_t n = *size < sizeof u->buf - 1 - u->len ? *size : sizeof u->buf - 1 - u->len;
    memcpy(u->buf + u->len, data, n);
    u->len += n;
    *size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&s->mu);
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  snprintf(s->last_auth, sizeof s->last_auth, "%s", auth ? auth : "");
  snprintf(s->last_type, sizeof s->last_type, "%s", type ? type : "");
  snprintf(s->last_body, sizeof s->last_body, "%s", u->buf);
  unsigned status = strcmp(method, "POST") || strcmp(url, "/verify") ? 404 : s->status;
  char *body = strdup(s->body);
  pthread_mutex_unlock(&s->mu);
  atomic_fetch_add(&s->hits, 1);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode t) {
  (void)cls, (void)c, (void)t;
  free(*con_cls);
  *con_cls = NULL;
}

static verify_srv *srv_start(void) {
  verify_srv *s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  s->status = 200;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, s,
                          MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
                          MHD_OPTION_END);
  assert_non_null(s->d);
  s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/verify", s->port);
  return s;
}

static void srv_free(verify_srv *s) {
  MHD_stop_daemon(s->d);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static void srv_answer(verify_srv *s, unsigned status, const char *body) {
  pthread_mutex_lock(&s->mu);
  s->status = status;
  snprintf(s->body, sizeof s->body, "%s", body);
  pthread_mutex_unlock(&s->mu);
}

static ghv_verifier *verifier(const char *url, long ttl) {
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = "http://127.0.0.1:1";
  c.http_timeout_ms = 1000;
  ghv_verifier *v;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  assert_int_equal(ghv_apikey_configure(v, url, TOKEN, ttl), GHV_OK);
  return v;
}

#define KEY "gh_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIjKl"
#define VALID                                                                                      \
  "{\"valid\":true,\"error\":null,\"key\":{\"configId\":\"default\",\"name\":\"bot\",\"start\":"   \
  "\"gh_AbC\",\"referenceId\":\"user-1\",\"prefix\":\"gh_\",\"expiresAt\":null,\"permissions\":"   \
  "{\"tasks\":[\"read\"]},\"metadata\":null,\"id\":\"key-1\"}}"

static void configure_checks(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = "http://127.0.0.1:1";
  ghv_verifier *v;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  ghv_api_key k;
  assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_ERR_ARG); /* not enabled */
  assert_int_equal(ghv_apikey_configure(v, "http://x/verify", "short", 0), GHV_ERR_ARG);
  assert_int_equal(ghv_apikey_configure(v, "ftp://x/verify", TOKEN, 0), GHV_ERR_ARG);
  assert_int_equal(ghv_apikey_configure(v, "http://x/verify", TOKEN, 61), GHV_ERR_ARG);
  assert_int_equal(ghv_apikey_configure(v, "http://x/verify", TOKEN "\r\nX: y", 0), GHV_ERR_ARG);
  assert_int_equal(ghv_apikey_configure(v, "http://x/verify", TOKEN, 5), GHV_OK);
  assert_int_equal(ghv_apikey_configure(v, "http://x/verify", TOKEN, 5), GHV_ERR_ARG); /* once */
  ghv_free(v);
}

static void answers(void **state) {
  (void)state;
  verify_srv *s = srv_start();
  ghv_verifier *v = verifier(s->url, 0);
  ghv_api_key k;
  srv_answer(s, 200, VALID);
  assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_OK);
  assert_string_equal(k.key_id, "key-1");
  assert_string_equal(k.user_id, "user-1");
  assert_string_equal(k.name, "bot");
  assert_int_equal(k.expires_at, 0);
  assert_true(ghv_api_key_allows(&k, "tasks", "read"));
  assert_false(ghv_api_key_allows(&k, "tasks", "write"));
  assert_false(ghv_api_key_allows(&k, "files", "read"));
  assert_string_equal(s->last_auth, "Bearer " TOKEN);
  assert_string_equal(s->last_type, "application/json");
  assert_string_equal(s->last_body, "{\"key\":\"" KEY "\"}");
  ghv_api_key_clear(&k);

  srv_answer(s, 200,
             "{\"valid\":false,\"error\":{\"message\":\"Rate limit exceeded.\",\"code\":"
             "\"RATE_LIMITED\",\"details\":{\"tryAgainIn\":5}},\"key\":null}");
  assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_ERR_UNAUTHENTICATED);
  assert_string_equal(k.error_code, "RATE_LIMITED");
  assert_null(k.user_id);

  /* anything but a verify result: fail closed */
  struct {
    unsigned status;
    const char *body;
  } bad[] = {
      {404, ""},
      {401, "{\"code\":\"INVALID_SERVICE_TOKEN\"}"},
      {503, "{}"},
      {200, "not json"},
      {200, "{\"valid\":true,\"error\":null,\"key\":null}"},
      {200, "{\"valid\":true,\"key\":{\"id\":\"k\",\"referenceId\":\"\"}}"},
      {200, "{\"valid\":true,\"key\":{\"id\":\"k\",\"referenceId\":\"u\",\"expiresAt\":5}}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    srv_answer(s, bad[i].status, bad[i].body);
    assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_ERR_UNAVAILABLE);
  }
  assert_int_equal(ghv_verify_api_key(v, "", 0, &k), GHV_ERR_UNAUTHENTICATED);
  ghv_free(v);
  srv_free(s);
}

static void positive_cache(void **state) {
  (void)state;
  verify_srv *s = srv_start();
  ghv_verifier *v = verifier(s->url, 60);
  ghv_api_key k;
  srv_answer(s, 200, VALID);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_OK);
    assert_string_equal(k.user_id, "user-1");
    ghv_api_key_clear(&k);
  }
  assert_int_equal(atomic_load(&s->hits), 1);
  /* refusals are never cached */
  const char *other = KEY "x";
  srv_answer(s, 200, "{\"valid\":false,\"error\":{\"code\":\"INVALID_API_KEY\"},\"key\":null}");
  assert_int_equal(ghv_verify_api_key(v, other, strlen(other), &k), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(ghv_verify_api_key(v, other, strlen(other), &k), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(atomic_load(&s->hits), 3);
  ghv_free(v);
  /* ttl 0: every call asks */
  v = verifier(s->url, 0);
  srv_answer(s, 200, VALID);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_OK);
    ghv_api_key_clear(&k);
  }
  assert_int_equal(atomic_load(&s->hits), 5);
  ghv_free(v);
  srv_free(s);
}

static void unreachable(void **state) {
  (void)state;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/verify", refused_port());
  ghv_verifier *v = verifier(url, 5);
  ghv_api_key k;
  assert_int_equal(ghv_verify_api_key(v, KEY, strlen(KEY), &k), GHV_ERR_UNAVAILABLE);
  assert_int_equal(ghv_status_http(GHV_ERR_UNAVAILABLE), 503);
  ghv_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(configure_checks),
      cmocka_unit_test(answers),
      cmocka_unit_test(positive_cache),
      cmocka_unit_test(unreachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
