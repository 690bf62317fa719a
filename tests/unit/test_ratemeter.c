/* http/ratemeter: events counted per 100 ms window; busy while the last complete window or the
 * current one reached the threshold; idle again after a whole window without events. Driven with
 * explicit monotonic times (gh_ratemeter_*_at), plus one check on the real clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/ratemeter.h"

static void hits(gh_ratemeter *m, int n, int64_t t) {
  for (int i = 0; i < n; i++) gh_ratemeter_hit_at(m, t);
}

static void threshold_per_window(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 200);
  assert_int_equal(m.per_window, 20);
  gh_ratemeter_init(&m, 5); /* under one per window: rounded up to 1 */
  assert_int_equal(m.per_window, 1);
  gh_ratemeter_init(&m, 0);
  assert_int_equal(m.per_window, 0);
}

static void off_never_busy(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 0);
  hits(&m, 1000, 5000);
  gh_ratemeter_hit(&m);
  assert_int_equal(m.count, 0); /* not even counted */
  assert_false(gh_ratemeter_busy_at(&m, 5000));
  assert_false(gh_ratemeter_busy(&m));
}

static void current_window_reaches_rate(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 200);                    /* 20 per window */
  assert_false(gh_ratemeter_busy_at(&m, 10000)); /* nothing yet */
  hits(&m, 19, 10000);
  assert_false(gh_ratemeter_busy_at(&m, 10050));
  gh_ratemeter_hit_at(&m, 10099); /* the 20th, same window (100) */
  assert_true(gh_ratemeter_busy_at(&m, 10099));
  /* the next window, before its first event: the window that just ended counts */
  assert_true(gh_ratemeter_busy_at(&m, 10150));
  /* a whole window without events: idle */
  assert_false(gh_ratemeter_busy_at(&m, 10200));
  assert_false(gh_ratemeter_busy_at(&m, 99999));
}

static void last_complete_window_counts(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 200);
  hits(&m, 25, 20000);            /* window 200: over the rate */
  gh_ratemeter_hit_at(&m, 20100); /* window 201 starts: 1 so far, the last one had 25 */
  assert_int_equal(m.prev, 25);
  assert_int_equal(m.count, 1);
  assert_true(gh_ratemeter_busy_at(&m, 20150));
  hits(&m, 4, 20199); /* window 201 ends with 5 */
  /* window 202 before an event: the current count is window 201's (5), under the rate */
  assert_false(gh_ratemeter_busy_at(&m, 20210));
  gh_ratemeter_hit_at(&m, 20210); /* window 202: the last complete one had 5 */
  assert_int_equal(m.prev, 5);
  assert_false(gh_ratemeter_busy_at(&m, 20220));
}

static void gap_resets_previous(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 200);
  hits(&m, 30, 30000);            /* window 300 */
  gh_ratemeter_hit_at(&m, 30250); /* window 302: 301 had no events */
  assert_int_equal(m.prev, 0);
  assert_int_equal(m.count, 1);
  assert_false(gh_ratemeter_busy_at(&m, 30260));
}

static void steady_rate(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 200);
  for (int64_t t = 40000; t < 41000; t += 4) { /* 25 per window for a second */
    gh_ratemeter_hit_at(&m, t);
    if (t >= 40100) assert_true(gh_ratemeter_busy_at(&m, t));
  }
  gh_ratemeter_init(&m, 200);
  for (int64_t t = 50000; t < 51000; t += 6) { /* ~17 per window: never busy */
    gh_ratemeter_hit_at(&m, t);
    assert_false(gh_ratemeter_busy_at(&m, t));
  }
}

static void real_clock(void **state) {
  (void)state;
  gh_ratemeter m;
  gh_ratemeter_init(&m, 10); /* one per window */
  assert_false(gh_ratemeter_busy(&m));
  gh_ratemeter_hit(&m);
  assert_true(gh_ratemeter_busy(&m));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(threshold_per_window),
      cmocka_unit_test(off_never_busy),
      cmocka_unit_test(current_window_reaches_rate),
      cmocka_unit_test(last_complete_window_counts),
      cmocka_unit_test(gap_resets_previous),
      cmocka_unit_test(steady_rate),
      cmocka_unit_test(real_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
