/* json/ wrapper: strict parsing of request bodies, serialisation as JSON.stringify does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json/json.h"

static gh_status parse(const char *s, gh_json **out) {
  return gh_json_parse(s, strlen(s), out);
}

static void strict_parse(void **state) {
  (void)state;
  gh_json *j;
  const char *bad[] = {"",
                       "{",
                       "{\"a\":1,}",
                       "{\"a\":1} x",
                       "{'a':1}",
                       "{\"a\":01}",
                       "{\"a\":1,\"a\":2}",
                       "[1,]",
                       "\"\xff\"",
                       "{\"a\":\"\xc3\"}",
                       "nul",
                       "{\"a\":NaN}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(parse(bad[i], &j), GH_ERR_INVALID);
  /* depth: 10,000 nested arrays are refused, not a stack overflow */
  size_t n = 20002;
  char *deep = malloc(n + 1);
  memset(deep, '[', 10001);
  memset(deep + 10001, ']', 10001);
  deep[n] = 0;
  assert_int_equal(gh_json_parse(deep, n, &j), GH_ERR_INVALID);
  free(deep);
  assert_int_equal(parse("null", &j), GH_OK);
  assert_int_equal(gh_json_typeof(j), GH_JSON_NULL);
  gh_json_decref(j);
}

static void accessors(void **state) {
  (void)state;
  gh_json *j;
  assert_int_equal(parse("{\"s\":\"a\\u0000b\",\"n\":9007199254740993,\"t\":true,\"o\":{}}", &j),
                   GH_OK);
  assert_int_equal(gh_json_string_len(gh_json_get(j, "s")), 3); /* NUL kept, length-aware */
  assert_int_equal(gh_json_integer(gh_json_get(j, "n")), 9007199254740993LL);
  assert_true(gh_json_is_true(gh_json_get(j, "t")));
  assert_int_equal(gh_json_typeof(gh_json_get(j, "missing")), GH_JSON_UNDEFINED);
  assert_null(gh_json_string(gh_json_get(j, "n")));
  assert_string_equal(gh_json_type_name(gh_json_typeof(gh_json_get(j, "o"))), "object");
  assert_string_equal(gh_json_type_name(GH_JSON_REAL), "number");
  assert_null(gh_json_get(NULL, "x"));
  gh_json_decref(j);
}

static void dump_like_js(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "z", gh_json_str("é/</script>\"\\\n"));
  gh_json_set_new(o, "a", gh_json_null());
  gh_json_set_new(o, "b", gh_json_bool(false));
  gh_json_set_new(o, "n", gh_json_int(-5));
  gh_json *arr = gh_json_array();
  gh_json_append_new(arr, gh_json_str(NULL));
  gh_json_set_new(o, "arr", arr);
  size_t n;
  /* insertion order, compact, UTF-8 kept, '/' not escaped: as JSON.stringify */
  assert_string_equal(
      gh_json_dump(a, o, &n),
      "{\"z\":\"é/</script>\\\"\\\\\\n\",\"a\":null,\"b\":false,\"n\":-5,\"arr\":[null]}");
  gh_json_decref(o);
  gh_arena_free(a);
}

static void owned_by_arena(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_json *j;
  assert_int_equal(parse("{\"x\":[1,2,3]}", &j), GH_OK);
  gh_json_own(a, j); /* freed with the arena: ASan/valgrind would report a leak otherwise */
  assert_int_equal(gh_json_array_size(gh_json_get(j, "x")), 3);
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(strict_parse),
      cmocka_unit_test(accessors),
      cmocka_unit_test(dump_like_js),
      cmocka_unit_test(owned_by_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
