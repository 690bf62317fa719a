/* http/cookie: gh_cookie_get reads one cookie from a Cookie request header the way better-call
 * does (first occurrence wins, surrounding double quotes stripped, percent-decoded when the value
 * contains '%'). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/cookie.h"

#define N "better-auth.session_token"

static void finds_by_exact_name(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_cookie_get(a, "a=1; b=2", "b"), "2");
  assert_string_equal(gh_cookie_get(a, "a=1; b=2", "a"), "1");
  assert_string_equal(gh_cookie_get(a, "x=1; " N "=q.v; y=2", N), "q.v");
  assert_null(gh_cookie_get(a, "other=1", N));
  assert_null(gh_cookie_get(a, "x" N "=1", N));   /* a longer name that ends with it */
  assert_null(gh_cookie_get(a, N "x=1", N));      /* a longer name that starts with it */
  assert_null(gh_cookie_get(a, "a=1; b=2", "A")); /* names are case-sensitive */
  assert_null(gh_cookie_get(a, NULL, N));
  assert_null(gh_cookie_get(a, "", N));
  gh_arena_free(a);
}

static void first_occurrence_wins(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_cookie_get(a, N "=first; " N "=second", N), "first");
  assert_string_equal(gh_cookie_get(a, "x=1;x=2;x=3", "x"), "1");
  gh_arena_free(a);
}

static void whitespace_and_separators(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_cookie_get(a, "  " N " = v ;", N), "v");
  assert_string_equal(gh_cookie_get(a, "a=1;b=2 ; c = 3 ", "c"), "3");
  assert_string_equal(gh_cookie_get(a, "\ta=1;\t;;b=\t2\t", "b"), "2");
  assert_string_equal(gh_cookie_get(a, "flag; x=v", "x"), "v"); /* a pair without '=' */
  assert_string_equal(gh_cookie_get(a, "x=", "x"), "");
  assert_string_equal(gh_cookie_get(a, "x=a=b", "x"), "a=b"); /* the first '=' splits */
  assert_string_equal(gh_cookie_get(a, "x=a b", "x"), "a b");
  gh_arena_free(a);
}

static void quotes_stripped(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_cookie_get(a, "x=1; " N "=\"q.v\"; y=2", N), "q.v");
  assert_string_equal(gh_cookie_get(a, "x=\"\"", "x"), "");
  assert_string_equal(gh_cookie_get(a, "x=\"", "x"), "\"");       /* one quote: kept */
  assert_string_equal(gh_cookie_get(a, "x=\"abc", "x"), "\"abc"); /* unbalanced: kept */
  assert_string_equal(gh_cookie_get(a, "x=abc\"", "x"), "abc\"");
  assert_string_equal(gh_cookie_get(a, "x=\"\"a\"\"", "x"), "\"a\""); /* one pair only */
  gh_arena_free(a);
}

static void percent_decoded(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_cookie_get(a, N "=abc.def%3D", N), "abc.def=");
  assert_string_equal(gh_cookie_get(a, "x=\"q%2F\"", "x"), "q/");   /* after the quotes go */
  assert_string_equal(gh_cookie_get(a, "x=a+b%20c", "x"), "a+b c"); /* '+' is not a space */
  assert_string_equal(gh_cookie_get(a, "x=%C3%A9", "x"), "\xC3\xA9");
  assert_string_equal(gh_cookie_get(a, "x=a+b", "x"), "a+b");
  /* decodeURIComponent throws: the cookie is dropped */
  assert_null(gh_cookie_get(a, N "=bad%zz", N));
  assert_null(gh_cookie_get(a, "x=%E0%A4%A", "x"));
  assert_null(gh_cookie_get(a, "x=%FF", "x")); /* not UTF-8 */
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(finds_by_exact_name),       cmocka_unit_test(first_occurrence_wins),
      cmocka_unit_test(whitespace_and_separators), cmocka_unit_test(quotes_stripped),
      cmocka_unit_test(percent_decoded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
