/* auth/ validation helpers: zod-style messages, e-mail rule, JSON shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/internal.h"

static gh_json *parse(const char *s) {
  gh_json *j;
  assert_int_equal(gh_json_parse(s, strlen(s), &j), GH_OK);
  return j;
}

static void messages(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_vctx v = {.a = a};
  gh_json *b = parse("{\"email\":5,\"rememberMe\":\"yes\",\"image\":null}");
  assert_null(gh_v_string(&v, b, "name", true, false, NULL));
  assert_null(gh_v_string(&v, b, "email", true, false, NULL));
  assert_null(gh_v_string(&v, b, "image", false, true, NULL));
  assert_true(gh_v_bool(&v, b, "rememberMe", true));
  assert_string_equal(v.msg, "[body.name] Invalid input: expected string, received undefined; "
                             "[body.email] Invalid input: expected string, received number; "
                             "[body.rememberMe] Invalid input: expected boolean, received string");
  gh_resp r = {.arena = a};
  assert_true(gh_v_fail(&v, &r));
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "\"code\":\"VALIDATION_ERROR\""));
  gh_json_decref(b);

  gh_vctx v2 = {.a = a};
  assert_false(gh_v_object(&v2, NULL, "object"));
  assert_string_equal(v2.msg, "[body] Invalid input: expected object, received undefined");
  gh_vctx v3 = {.a = a};
  gh_json *arr = parse("[1]");
  assert_false(gh_v_object(&v3, arr, "object"));
  assert_string_equal(v3.msg, "[body] Invalid input: expected object, received array");
  gh_json_decref(arr);

  gh_vctx v4 = {.a = a};
  gh_json *nul = parse("{\"name\":\"a\\u0000b\"}");
  assert_null(gh_v_string(&v4, nul, "name", true, false, NULL));
  assert_non_null(strstr(v4.msg, "[body.name]"));
  gh_json_decref(nul);
  gh_arena_free(a);
}

static void email_rule(void **state) {
  (void)state;
  const char *good[] = {"alice@example.com", "Alice.B+tag@Sub.Example.co", "a_b-c'd@x-y.org",
                        "1@2.io"};
  const char *bad[] = {"",
                       "alice",
                       "@example.com",
                       "alice@",
                       "alice@example",
                       ".a@example.com",
                       "a..b@example.com",
                       "a.@example.com",
                       "alice@exa_mple.com",
                       "alice@-example.com",
                       "alice@example.c",
                       "alice@example.c0m",
                       "a@b@example.com",
                       "al ice@example.com",
                       "alice@example..com"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(gh_email_valid(good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(gh_email_valid(bad[i]));
  char longmail[300];
  memset(longmail, 'a', sizeof longmail);
  memcpy(longmail + 280, "@example.com", 13);
  assert_false(gh_email_valid(longmail));
}

static void shapes(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_user u = {.id = "u1",
               .name = "Alice",
               .email = "alice@example.com",
               .image = NULL,
               .created_at = 1768478400000,
               .updated_at = 1768478400123};
  size_t n;
  gh_json *j = gh_user_json(&u);
  assert_string_equal(gh_json_dump(a, j, &n),
                      "{\"name\":\"Alice\",\"email\":\"alice@example.com\",\"emailVerified\":false,"
                      "\"image\":null,\"createdAt\":\"2026-01-15T12:00:00.000Z\",\"updatedAt\":"
                      "\"2026-01-15T12:00:00.123Z\",\"id\":\"u1\"}");
  gh_json_decref(j);
  gh_session s = {.id = "s1",
                  .token = "t1",
                  .user_id = "u1",
                  .expires_at = 0,
                  .created_at = 0,
                  .updated_at = 0,
                  .ip_address = "",
                  .user_agent = NULL};
  j = gh_session_json(&s);
  assert_string_equal(gh_json_dump(a, j, &n),
                      "{\"expiresAt\":\"1970-01-01T00:00:00.000Z\",\"token\":\"t1\",\"createdAt\":"
                      "\"1970-01-01T00:00:00.000Z\",\"updatedAt\":\"1970-01-01T00:00:00.000Z\","
                      "\"ipAddress\":\"\",\"userAgent\":null,\"userId\":\"u1\",\"id\":\"s1\"}");
  gh_json_decref(j);
  /* invalid UTF-8 from a header or a row never aborts: it becomes U+FFFD */
  gh_session bad = s;
  bad.user_agent = "agent\xff\xfe/1";
  j = gh_session_json(&bad);
  assert_non_null(
      strstr(gh_json_dump(a, j, &n), "\"userAgent\":\"agent\xef\xbf\xbd\xef\xbf\xbd/1\""));
  gh_json_decref(j);
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(messages),
      cmocka_unit_test(email_rule),
      cmocka_unit_test(shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
