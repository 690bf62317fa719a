/* auth/throttle: free failures, doubling delays capped at 15 min, per (client, account) and per
 * client, a success resets the pair, other clients never affected, counters forgotten after 15 min
 * without failures. Explicit times (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "auth/throttle.h"

#define T0 INT64_C(1700000000000)

static void pair_delays_double_and_cap(void **state) {
  (void)state;
  gh_throttle *t = gh_throttle_new();
  int64_t now = T0;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now), 0);
    gh_throttle_failed(t, "10.0.0.1", "a@x.io", now);
  }
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now), 1);        /* 6th: 1 s */
  assert_int_equal(gh_throttle_check(t, "10.0.0.2", "a@x.io", now), 0);        /* the owner */
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "b@x.io", now), 0);        /* another account */
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now + 1000), 0); /* waited */
  gh_throttle_failed(t, "10.0.0.1", "a@x.io", now += 1000);
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now), 2);
  for (int i = 0; i < 20; i++) gh_throttle_failed(t, "10.0.0.1", "a@x.io", now);
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now), 900); /* capped at 15 min */
  gh_throttle_succeeded(t, "10.0.0.1", "a@x.io");
  /* the pair reset; the client's own count (26 failures) still weighs */
  assert_true(gh_throttle_check(t, "10.0.0.1", "a@x.io", now) > 0);
  assert_int_equal(gh_throttle_check(t, "10.0.0.1", "a@x.io", now + 15 * 60 * 1000),
                   0); /* forgot */
  gh_throttle_free(t);
}

static void client_across_accounts(void **state) {
  (void)state;
  gh_throttle *t = gh_throttle_new();
  char acct[32];
  for (int i = 0; i < 20; i++) {
    snprintf(acct, sizeof acct, "u%d@x.io", i);
    assert_int_equal(gh_throttle_check(t, "10.0.0.9", acct, T0), 0);
    gh_throttle_failed(t, "10.0.0.9", acct, T0);
  }
  assert_int_equal(gh_throttle_check(t, "10.0.0.9", "fresh@x.io", T0), 1); /* 21st account */
  assert_int_equal(gh_throttle_check(t, "10.0.0.8", "fresh@x.io", T0), 0);
  gh_throttle_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(pair_delays_double_and_cap),
                                     cmocka_unit_test(client_across_accounts)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
