/* common/strlist: comma lists as the configuration uses them (trimmed items, empty items kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/strlist.h"

static void items_trimmed_in_order(void **state) {
  (void)state;
  const char *list = " bearer ,jwt,\t, api-key\t", *cur = list, *it;
  size_t len;
  const char *want[] = {"bearer", "jwt", "", "api-key"};
  size_t n = 0;
  while (gh_list_next(&cur, &it, &len)) {
    assert_true(n < 4);
    assert_int_equal(len, strlen(want[n]));
    assert_memory_equal(it, want[n], len);
    n++;
  }
  assert_int_equal(n, 4);
  assert_int_equal(gh_list_count(list), 4);
}

static void empty_and_null(void **state) {
  (void)state;
  const char *cur = "", *it;
  size_t len;
  assert_false(gh_list_next(&cur, &it, &len));
  cur = NULL;
  assert_false(gh_list_next(&cur, &it, &len));
  assert_int_equal(gh_list_count(NULL), 1);
  /* a trailing comma ends the list: no empty item after it */
  cur = "a,";
  assert_true(gh_list_next(&cur, &it, &len));
  assert_int_equal(len, 1);
  assert_false(gh_list_next(&cur, &it, &len));
  assert_int_equal(gh_list_count("a,"), 2); /* an upper bound */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(items_trimmed_in_order),
                                     cmocka_unit_test(empty_and_null)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
