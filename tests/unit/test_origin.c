/* http/origin + the wire error table (cookie header parsing: test_cookie.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/errors.h"
#include "http/http.h"
#include "http/origin.h"

static void url_origin(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  char *o;
  assert_int_equal(gh_url_origin(a, "http://localhost:3000/page?x=1", &o), GH_OK);
  assert_string_equal(o, "http://localhost:3000");
  assert_int_equal(gh_url_origin(a, "HTTPS://App.Example.com:443/x", &o), GH_OK);
  assert_string_equal(o, "https://app.example.com");
  assert_int_equal(gh_url_origin(a, "https://app.example.com:8443", &o), GH_OK);
  assert_string_equal(o, "https://app.example.com:8443");
  assert_int_equal(gh_url_origin(a, "http://example.com:80/", &o), GH_OK);
  assert_string_equal(o, "http://example.com");
  assert_int_equal(gh_url_origin(a, "http://[::1]:3000/x", &o), GH_OK);
  assert_string_equal(o, "http://[::1]:3000");
  assert_int_equal(gh_url_origin(a, "myapp://callback/path", &o), GH_OK);
  assert_string_equal(o, "myapp://callback");
  assert_int_equal(gh_url_origin(a, "http://user:pw@host.example:8080/p", &o), GH_OK);
  assert_string_equal(o, "http://host.example:8080");
  assert_int_equal(gh_url_origin(a, "http://host:99999999/", &o), GH_ERR_INVALID);
  assert_int_equal(gh_url_origin(a, "http:///nohost", &o), GH_ERR_INVALID);
  assert_int_equal(gh_url_origin(a, "ht tp://bad", &o), GH_ERR_INVALID);
  assert_int_equal(gh_url_origin(a, "/relative", &o), GH_ERR_INVALID);
  assert_int_equal(gh_url_origin(a, "", &o), GH_ERR_INVALID);
  assert_int_equal(gh_url_origin(a, NULL, &o), GH_ERR_INVALID);
  gh_arena_free(a);
}

static void trusted(void **state) {
  (void)state;
  gh_origins o = {0};
  gh_origins_add_list(&o, "http://localhost:3000");
  gh_origins_add_list(
      &o, " https://app.example.com/ignored/path , *.preview.example.com,https://*.corp.example ");
  assert_int_equal(o.n, 4);
  gh_arena *a = gh_arena_new();
  assert_true(gh_origin_trusted(&o, a, "http://localhost:3000"));
  assert_true(gh_origin_trusted(&o, a, "http://localhost:3000/some/page"));
  assert_false(gh_origin_trusted(&o, a, "http://localhost:3001"));
  assert_false(gh_origin_trusted(&o, a, "https://localhost:3000"));
  assert_true(gh_origin_trusted(&o, a, "https://app.example.com"));
  assert_false(gh_origin_trusted(&o, a, "https://evil.app.example.com"));
  assert_false(gh_origin_trusted(&o, a, "https://app.example.com.evil.net"));
  assert_true(gh_origin_trusted(&o, a, "https://pr-12.preview.example.com"));
  assert_true(gh_origin_trusted(&o, a, "https://x.corp.example"));
  assert_false(gh_origin_trusted(&o, a, "http://x.corp.example"));
  assert_false(gh_origin_trusted(&o, a, "null"));
  assert_false(gh_origin_trusted(&o, a, NULL));
  gh_arena_free(a);
  gh_origins_free(&o);
}

static void safe_relative(void **state) {
  (void)state;
  assert_true(gh_safe_relative_path("/dashboard"));
  assert_true(gh_safe_relative_path("/a/b?next=%2Fx"));
  assert_false(gh_safe_relative_path("//evil.com"));
  assert_false(gh_safe_relative_path("/\\evil.com"));
  assert_false(gh_safe_relative_path("/a\\b"));
  assert_false(gh_safe_relative_path("/%2F%2Fevil.com"));
  assert_false(gh_safe_relative_path("/a%5cb"));
  assert_false(gh_safe_relative_path("/a\nb"));
  assert_false(gh_safe_relative_path("dashboard"));
  assert_false(gh_safe_relative_path("https://evil.com"));
  assert_false(gh_safe_relative_path(""));
}

static gh_req make_req(gh_arena *a, const char *xff) {
  gh_req r = {.arena = a};
  static gh_kv h[1];
  h[0].name = "X-Forwarded-For";
  h[0].value = xff;
  r.headers = h;
  r.nheaders = xff ? 1 : 0;
  return r;
}

static void client_ip(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_req r = make_req(a, "203.0.113.7");
  assert_string_equal(gh_client_ip(a, &r, true), "203.0.113.7");
  r = make_req(a, "203.0.113.7, 10.0.0.1");
  assert_string_equal(gh_client_ip(a, &r, true), "");
  assert_string_equal(gh_client_ip(a, &r, false), "127.0.0.1");
  r = make_req(a, "::ffff:198.51.100.4");
  assert_string_equal(gh_client_ip(a, &r, true), "198.51.100.4");
  r = make_req(a, "2001:db8:1:2:3:4:5:6");
  assert_string_equal(gh_client_ip(a, &r, true), "2001:0db8:0001:0002:0000:0000:0000:0000");
  r = make_req(a, "not-an-ip");
  assert_string_equal(gh_client_ip(a, &r, true), "");
  r = make_req(a, NULL);
  assert_string_equal(gh_client_ip(a, &r, false), "127.0.0.1");
  gh_arena_free(a);
}

static void error_table(void **state) {
  (void)state;
  const gh_err_info *e = gh_err_lookup(GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL);
  assert_int_equal(e->status, 422);
  assert_string_equal(e->code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  assert_string_equal(e->message, "User already exists. Use another email.");
  e = gh_err_lookup(GH_E_INVALID_EMAIL_OR_PASSWORD);
  assert_int_equal(e->status, 401);
  assert_string_equal(e->message, "Invalid email or password");
  e = gh_err_lookup(GH_E_NO_FIELDS_TO_UPDATE);
  assert_null(e->code);
  for (int i = 0; i < GH_E__COUNT; i++) { /* every entry is filled in */
    e = gh_err_lookup((gh_err)i);
    assert_true(e->status >= 400 && e->status < 600);
    assert_non_null(e->message);
  }
  assert_int_equal(gh_err_lookup((gh_err)9999)->status, 500);
}

static void resp_json_error(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_resp r = {.arena = a};
  gh_resp_error(&r, GH_E_SESSION_NOT_FRESH);
  assert_int_equal(r.status, 403);
  assert_string_equal(r.content_type, "application/json");
  assert_string_equal(r.body,
                      "{\"message\":\"Session is not fresh\",\"code\":\"SESSION_NOT_FRESH\"}");
  gh_resp r2 = {.arena = a};
  gh_resp_error(&r2, GH_E_SERVICE_UNAVAILABLE);
  assert_int_equal(r2.status, 503);
  assert_int_equal(r2.nheaders, 1);
  assert_string_equal(r2.headers[0].name, "Retry-After");
  gh_resp_header(&r2, "Set-Cookie", "a=1");
  gh_resp_header(&r2, "Set-Cookie", "b=2");
  gh_resp_remove_header(&r2, "set-cookie", NULL, NULL);
  assert_int_equal(r2.nheaders, 1);
  gh_arena_free(a);
}

static const char *addr_of(gh_arena *a, const char *peer, const char *xff,
                           const gh_cidr_list *trusted) {
  gh_kv h[] = {{"X-Forwarded-For", xff}};
  gh_req r = {.arena = a, .headers = h, .nheaders = xff ? 1 : 0, .peer_ip = peer};
  return gh_client_address(a, &r, trusted, "x-forwarded-for");
}

static void client_address_through_trusted_proxies(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_cidr_list t;
  const char *bad;
  size_t bl;
  assert_int_equal(gh_cidr_parse("127.0.0.1,10.0.0.0/8", &t, &bad, &bl), GH_OK);
  assert_string_equal(addr_of(a, "192.0.2.1", "1.2.3.4", &t), "192.0.2.1");   /* untrusted peer */
  assert_string_equal(addr_of(a, "192.0.2.1", "1.2.3.4", NULL), "192.0.2.1"); /* no proxies */
  assert_string_equal(addr_of(a, "127.0.0.1", NULL, &t), "127.0.0.1");        /* no header */
  assert_string_equal(addr_of(a, "127.0.0.1", "1.2.3.4", &t), "1.2.3.4");
  assert_string_equal(addr_of(a, "127.0.0.1", "1.2.3.4, 10.1.1.1", &t), "1.2.3.4");
  assert_string_equal(addr_of(a, "127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", &t), "1.2.3.4");
  assert_string_equal(addr_of(a, "127.0.0.1", "garbage, 1.2.3.4", &t), "1.2.3.4");
  assert_string_equal(addr_of(a, "127.0.0.1", "1.2.3.4, garbage", &t), "127.0.0.1");
  assert_string_equal(addr_of(a, "127.0.0.1", "10.0.0.1, 10.0.0.2", &t), "10.0.0.1");
  assert_string_equal(addr_of(a, "127.0.0.1", "[2001:db8::1]", &t), "2001:db8::1");
  gh_cidr_free(&t);
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(url_origin),
      cmocka_unit_test(trusted),
      cmocka_unit_test(safe_relative),
      cmocka_unit_test(client_ip),
      cmocka_unit_test(error_table),
      cmocka_unit_test(resp_json_error),
      cmocka_unit_test(client_address_through_trusted_proxies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
