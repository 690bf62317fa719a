/* libgatehouse-verify, delegation path (get-session against an in-process fake gatehouse) and
 * the small API helpers: config defaults and validation, status mapping, bearer extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "fake_server.h"
#include "gatehouse/verify.h"

static const char SESSION_JSON[] =
    "{\"session\":{\"expiresAt\":\"2099-01-01T00:00:00.000Z\",\"token\":\"tok\","
    "\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-01T00:00:00.000Z\","
    "\"ipAddress\":\"\",\"userAgent\":null,\"userId\":\"user-1\",\"id\":\"sess-1\"},"
    "\"user\":{\"name\":\"Ann\",\"email\":\"ann@example.com\",\"emailVerified\":true,"
    "\"image\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\","
    "\"updatedAt\":\"2026-01-01T00:00:00.000Z\",\"id\":\"user-1\",\"role\":\"admin\"}}";

static ghv_verifier *verifier_for(const char *base, long cache_ttl, long timeout_ms) {
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = base;
  c.session_cache_ttl_s = cache_ttl;
  if (timeout_ms) c.http_timeout_ms = timeout_ms;
  ghv_verifier *v = NULL;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  return v;
}

static ghv_status ask(ghv_verifier *v, const char *cookie, const char *bearer) {
  ghv_principal p;
  ghv_status st = ghv_verify_session(v, cookie, bearer, &p);
  if (st != GHV_OK) assert_null(p.user_id);
  ghv_principal_clear(&p);
  return st;
}

static void session_answers(void **state) {
  (void)state;
  fake_srv *s = fake_start();
  assert_non_null(s);
  ghv_verifier *v = verifier_for(s->base, 0, 0);

  fake_set_session(s, 200, "null");
  assert_int_equal(ask(v, "better-auth.session_token=abc.def", NULL), GHV_ERR_UNAUTHENTICATED);
  assert_string_equal(s->last_cookie, "better-auth.session_token=abc.def");
  assert_string_equal(s->last_auth, "");
  assert_int_equal(ask(v, NULL, "rawtoken"), GHV_ERR_UNAUTHENTICATED);
  assert_string_equal(s->last_cookie, "");
  assert_string_equal(s->last_auth, "Bearer rawtoken");

  fake_set_session(s, 200, SESSION_JSON);
  ghv_principal p;
  assert_int_equal(ghv_verify_session(v, "a=b", "tok.sig+/=", &p), GHV_OK);
  assert_string_equal(s->last_cookie, "a=b");
  assert_string_equal(s->last_auth, "Bearer tok.sig+/=");
  assert_int_equal(p.source, GHV_SOURCE_SESSION);
  assert_string_equal(p.user_id, "user-1");
  assert_string_equal(p.email, "ann@example.com");
  assert_string_equal(p.name, "Ann");
  assert_string_equal(p.role, "admin");
  assert_string_equal(p.session_id, "sess-1");
  assert_null(p.token_id);
  assert_true(p.email_verified);
  assert_int_equal(p.expires_at, 4070908800LL);
  ghv_principal_clear(&p);

  static const struct {
    unsigned status;
    const char *body;
    ghv_status want;
  } cases[] = {
      {401, "{\"code\":\"UNAUTHORIZED\"}", GHV_ERR_UNAUTHENTICATED},
      {403, "{}", GHV_ERR_UNAUTHENTICATED},
      {500, "{}", GHV_ERR_UNAVAILABLE},
      {502, "bad gateway", GHV_ERR_UNAVAILABLE},
      {429, "{}", GHV_ERR_UNAVAILABLE},
      {302, "", GHV_ERR_UNAVAILABLE},
      {404, "{}", GHV_ERR_UNAVAILABLE},
      {200, "garbage", GHV_ERR_UNAVAILABLE},
      {200, "", GHV_ERR_UNAVAILABLE},
      {200, "{}", GHV_ERR_UNAVAILABLE},
      {200, "{\"session\":null,\"user\":null}", GHV_ERR_UNAVAILABLE},
      {200, "{\"session\":{\"id\":\"s\",\"expiresAt\":\"soon\"},\"user\":{\"id\":\"u\"}}",
       GHV_ERR_UNAVAILABLE},
      {200, "{\"session\":{\"id\":\"s\",\"expiresAt\":\"2099-01-01T00:00:00Z\"},\"user\":{}}",
       GHV_ERR_UNAVAILABLE},
      {200,
       "{\"session\":{\"id\":\"s\",\"expiresAt\":\"2099-01-01T00:00:00\"},\"user\":{\"id\":\"u\"}}",
       GHV_ERR_UNAVAILABLE}, /* no offset: ambiguous */
      {200,
       "{\"session\":{\"id\":\"s\",\"expiresAt\":\"2001-01-01T00:00:00Z\"},\"user\":{\"id\":\"u\"}"
       "}",
       GHV_ERR_UNAUTHENTICATED},
      {200,
       "{\"session\":{\"id\":\"s\",\"expiresAt\":\"2099-01-01T01:00:00+01:00\"},\"user\":{\"id\":"
       "\"u\"}}",
       GHV_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake_set_session(s, cases[i].status, cases[i].body);
    assert_int_equal(ask(v, "a=b", NULL), cases[i].want);
  }
  /* a response over 64 KiB is not read to the end */
  char *big = malloc(100 * 1024);
  memset(big, ' ', 100 * 1024 - 1);
  memcpy(big, "null", 4);
  big[100 * 1024 - 1] = 0;
  fake_set_session(s, 200, big);
  free(big);
  assert_int_equal(ask(v, "a=b", NULL), GHV_ERR_UNAVAILABLE);

  /* no credential, or one that could split the request: no call at all */
  int hits = atomic_load(&s->session_hits);
  assert_int_equal(ask(v, NULL, NULL), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(ask(v, "", ""), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(ask(v, "a=b\r\nX-Admin: 1", NULL), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(ask(v, NULL, "tok\nX: y"), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(atomic_load(&s->session_hits), hits);
  assert_int_equal(ghv_verify_session(v, "a=b", NULL, NULL), GHV_ERR_ARG);
  ghv_free(v);

  /* session_url alone (no issuer_url) */
  char url[128];
  snprintf(url, sizeof url, "%s/api/auth/get-session", s->base);
  ghv_config c;
  ghv_config_init(&c);
  c.session_url = url;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  fake_set_session(s, 200, SESSION_JSON);
  assert_int_equal(ask(v, "a=b", NULL), GHV_OK);
  ghv_free(v);
  fake_free(s);
}

static void session_unreachable(void **state) {
  (void)state;
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", refused_port());
  ghv_verifier *v = verifier_for(base, 0, 300);
  assert_int_equal(ask(v, "a=b", NULL), GHV_ERR_UNAVAILABLE);
  ghv_free(v);

  /* a server that accepts the connection and never answers: UNAVAILABLE after the timeout */
  int port = 0;
  int fd = silent_listener(&port);
  assert_true(fd >= 0);
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  v = verifier_for(base, 0, 300);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(ask(v, "a=b", NULL), GHV_ERR_UNAVAILABLE);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms < 3000); /* bounded by http_timeout_ms (300), with a wide margin */
  ghv_free(v);
  close(fd);

  /* no session_url configured */
  ghv_config c;
  ghv_config_init(&c);
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  assert_int_equal(ask(v, "a=b", NULL), GHV_ERR_ARG);
  ghv_free(v);
}

static void micro_cache(void **state) {
  (void)state;
  fake_srv *s = fake_start();
  assert_non_null(s);
  fake_set_session(s, 200, SESSION_JSON);
  /* enabled: the second identical call is answered from the cache */
  ghv_verifier *v = verifier_for(s->base, 5, 0);
  assert_int_equal(ask(v, "a=b", NULL), GHV_OK);
  ghv_principal p;
  assert_int_equal(ghv_verify_session(v, "a=b", NULL, &p), GHV_OK);
  assert_string_equal(p.user_id, "user-1");
  assert_string_equal(p.session_id, "sess-1");
  ghv_principal_clear(&p);
  assert_int_equal(atomic_load(&s->session_hits), 1);
  /* other credentials are other keys: cookie vs bearer with the same bytes differ */
  assert_int_equal(ask(v, NULL, "a=b"), GHV_OK);
  assert_int_equal(ask(v, "a=b", "x"), GHV_OK);
  assert_int_equal(atomic_load(&s->session_hits), 3);
  assert_int_equal(ask(v, NULL, "a=b"), GHV_OK);
  assert_int_equal(atomic_load(&s->session_hits), 3);
  /* negative answers are never cached */
  fake_set_session(s, 200, "null");
  assert_int_equal(ask(v, "c=d", NULL), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(ask(v, "c=d", NULL), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(atomic_load(&s->session_hits), 5);
  /* never longer than the session: one that expires in 1 s is gone after it */
  char soon[1024];
  time_t exp = time(NULL) + 2;
  struct tm tm;
  gmtime_r(&exp, &tm);
  char iso[64];
  strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  snprintf(soon, sizeof soon,
           "{\"session\":{\"id\":\"s2\",\"expiresAt\":\"%s\"},\"user\":{\"id\":\"u2\"}}", iso);
  fake_set_session(s, 200, soon);
  assert_int_equal(ask(v, "e=f", NULL), GHV_OK);
  assert_int_equal(atomic_load(&s->session_hits), 6);
  usleep(2100 * 1000);
  fake_set_session(s, 200, "null");
  assert_int_equal(ask(v, "e=f", NULL), GHV_ERR_UNAUTHENTICATED);
  assert_int_equal(atomic_load(&s->session_hits), 7);
  ghv_free(v);

  /* disabled (the default): every call asks gatehouse */
  fake_set_session(s, 200, SESSION_JSON);
  v = verifier_for(s->base, 0, 0);
  int before = atomic_load(&s->session_hits);
  assert_int_equal(ask(v, "a=b", NULL), GHV_OK);
  assert_int_equal(ask(v, "a=b", NULL), GHV_OK);
  assert_int_equal(atomic_load(&s->session_hits), before + 2);
  ghv_free(v);
  fake_free(s);
}

typedef struct {
  ghv_verifier *v;
  int errors;
} thread_arg;

static void *session_thread(void *p) {
  thread_arg *a = p;
  for (int i = 0; i < 50; i++) {
    ghv_principal pr;
    char cookie[64];
    snprintf(cookie, sizeof cookie, "better-auth.session_token=t%d", i % 7);
    if (ghv_verify_session(a->v, cookie, NULL, &pr) != GHV_OK || !pr.user_id ||
        strcmp(pr.user_id, "user-1") != 0)
      a->errors++;
    ghv_principal_clear(&pr);
  }
  return NULL;
}

/* Several threads share one verifier (and its connection cache), with and without the cache. */
static void session_threads(void **state) {
  (void)state;
  fake_srv *s = fake_start();
  assert_non_null(s);
  fake_set_session(s, 200, SESSION_JSON);
  for (long ttl = 0; ttl <= 5; ttl += 5) {
    ghv_verifier *v = verifier_for(s->base, ttl, 0);
    thread_arg args[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
      args[t].v = v;
      args[t].errors = 0;
      assert_int_equal(pthread_create(&th[t], NULL, session_thread, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
      pthread_join(th[t], NULL);
      assert_int_equal(args[t].errors, 0);
    }
    ghv_free(v);
  }
  /* 200 calls without the cache; with it, at most a few per distinct cookie (7) */
  assert_true(atomic_load(&s->session_hits) >= 200 + 7);
  assert_true(atomic_load(&s->session_hits) <= 200 + 7 * 4);
  fake_free(s);
}

static void config(void **state) {
  (void)state;
  ghv_config c;
  ghv_config_init(&c);
  assert_null(c.issuer_url);
  assert_null(c.jwks_url);
  assert_null(c.session_url);
  assert_int_equal(c.leeway_s, 30);
  assert_int_equal(c.jwks_max_age_s, 300);
  assert_int_equal(c.jwks_default_ttl_s, 60);
  assert_int_equal(c.jwks_min_refetch_s, 30);
  assert_int_equal(c.http_timeout_ms, 3000);
  assert_int_equal(c.max_token_bytes, 8192);
  assert_int_equal(c.max_jwks_bytes, 65536);
  assert_int_equal(c.session_cache_ttl_s, 0);

  ghv_verifier *v = (ghv_verifier *)1;
  assert_int_equal(ghv_new(NULL, &v), GHV_ERR_ARG);
  assert_int_equal(ghv_new(&c, NULL), GHV_ERR_ARG);
  static const char *const bad_urls[] = {
      "ftp://example.com", "example.com",          "",           "http://", "file:///etc/passwd",
      "http://a b/",       "http://x\r\n.example", "gopher://h/"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    ghv_config_init(&c);
    c.issuer_url = bad_urls[i];
    assert_int_equal(ghv_new(&c, &v), GHV_ERR_ARG);
    assert_null(v);
    ghv_config_init(&c);
    c.jwks_url = bad_urls[i];
    assert_int_equal(ghv_new(&c, &v), GHV_ERR_ARG);
    ghv_config_init(&c);
    c.session_url = bad_urls[i];
    assert_int_equal(ghv_new(&c, &v), GHV_ERR_ARG);
  }
#define BAD(field, value)                                                                          \
  do {                                                                                             \
    ghv_config_init(&c);                                                                           \
    c.issuer_url = "http://localhost:3000";                                                        \
    c.field = value;                                                                               \
    assert_int_equal(ghv_new(&c, &v), GHV_ERR_ARG);                                                \
  } while (0)
  BAD(leeway_s, -1);
  BAD(leeway_s, 301);
  BAD(jwks_max_age_s, 0);
  BAD(jwks_default_ttl_s, 0);
  BAD(jwks_min_refetch_s, 0);
  BAD(http_timeout_ms, 0);
  BAD(http_timeout_ms, 600000);
  BAD(max_token_bytes, 0);
  BAD(max_jwks_bytes, 1);
  BAD(session_cache_ttl_s, -1);
  BAD(session_cache_ttl_s, 61);
  BAD(expected_issuer, "");
  BAD(expected_audience, "");
#undef BAD
  ghv_config_init(&c);
  c.issuer_url = "HTTPS://Auth.Example.COM:443/";
  c.leeway_s = 300;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  ghv_free(v);
  ghv_free(NULL);
}

static void helpers(void **state) {
  (void)state;
  assert_int_equal(ghv_status_http(GHV_OK), 200);
  assert_int_equal(ghv_status_http(GHV_ERR_UNAVAILABLE), 503);
  assert_int_equal(ghv_status_http(GHV_ERR_NOMEM), 503);
  assert_int_equal(ghv_status_http(GHV_ERR_ARG), 500);
  for (int st = GHV_ERR_MALFORMED; st <= GHV_ERR_UNAUTHENTICATED; st++) {
    assert_int_equal(ghv_status_http((ghv_status)st), 401);
    assert_non_null(ghv_status_str((ghv_status)st));
  }
  assert_string_equal(ghv_status_str(GHV_OK), "ok");

  const char *t;
  size_t n;
  assert_int_equal(ghv_bearer_token("Bearer abc.def.ghi", &t, &n), GHV_OK);
  assert_int_equal(n, 11);
  assert_memory_equal(t, "abc.def.ghi", 11);
  assert_int_equal(ghv_bearer_token("  bEaReR   tok+/=  ", &t, &n), GHV_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(t, "tok+/=", 6);
  assert_int_equal(ghv_bearer_token("Bearer", &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token("Bearer   ", &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token("Bearerabc", &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token("Basic dXNlcjpwdw==", &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token("Bearer a b", &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token(NULL, &t, &n), GHV_ERR_MALFORMED);
  assert_int_equal(ghv_bearer_token("Bearer x", NULL, &n), GHV_ERR_ARG);

  assert_true(ghv_looks_like_jwt("a.b.c", 5));
  assert_true(ghv_looks_like_jwt("eyJh-_.eyJ0.c2ln", 16));
  assert_false(ghv_looks_like_jwt("a.b", 3));
  assert_false(ghv_looks_like_jwt("a.b.c.d", 7));
  assert_false(ghv_looks_like_jwt("a..c", 4));
  assert_false(ghv_looks_like_jwt("a.b.", 4));
  assert_false(ghv_looks_like_jwt(".b.c", 4));
  assert_false(ghv_looks_like_jwt("tok.sig+/=", 10)); /* a signed session token */
  assert_false(ghv_looks_like_jwt("a.b.c=", 6));
  assert_false(ghv_looks_like_jwt(NULL, 0));
  assert_false(ghv_looks_like_jwt("", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(session_answers), cmocka_unit_test(session_unreachable),
      cmocka_unit_test(micro_cache),     cmocka_unit_test(session_threads),
      cmocka_unit_test(config),          cmocka_unit_test(helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
