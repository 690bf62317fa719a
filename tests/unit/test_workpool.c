/* common/workpool: bounded queue refuses when full, runs every accepted job, drains on free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/workpool.h"

static _Atomic int ran;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void job(void *arg) {
  (void)arg;
  pthread_mutex_lock(&gate); /* blocks while the test holds the gate */
  pthread_mutex_unlock(&gate);
  atomic_fetch_add(&ran, 1);
}

static void bounded(void **state) {
  (void)state;
  gh_workpool *p;
  assert_int_equal(gh_workpool_new(1, 2, 0, &p), GH_OK);
  pthread_mutex_lock(&gate);
  assert_true(gh_workpool_reserve(p));
  gh_workpool_submit(p, job, NULL);
  usleep(100000); /* the worker picks it up and blocks on the gate */
  assert_true(gh_workpool_reserve(p));
  gh_workpool_submit(p, job, NULL);
  assert_true(gh_workpool_reserve(p));
  gh_workpool_submit(p, job, NULL);
  assert_false(gh_workpool_reserve(p)); /* 1 running + 2 waiting: full */
  pthread_mutex_unlock(&gate);
  gh_workpool_free(p); /* drains */
  assert_int_equal(atomic_load(&ran), 3);
}

static void invalid(void **state) {
  (void)state;
  gh_workpool *p;
  assert_int_equal(gh_workpool_new(0, 4, 0, &p), GH_ERR_CONFIG);
  assert_int_equal(gh_workpool_new(2, 0, 0, &p), GH_ERR_CONFIG);
}

static _Atomic int idled;
static void on_idle(void) {
  atomic_fetch_add(&idled, 1);
}
static void quick(void *arg) {
  (void)arg;
}

/* on_idle runs once after each busy period, on a worker, and not while work is queued. */
static void idle_hook(void **state) {
  (void)state;
  gh_workpool *p;
  assert_int_equal(gh_workpool_new(2, 4, 0, &p), GH_OK);
  gh_workpool_on_idle(p, 50, on_idle);
  usleep(200000);
  assert_int_equal(atomic_load(&idled), 0); /* never busy yet */
  assert_true(gh_workpool_reserve(p));
  gh_workpool_submit(p, quick, NULL);
  usleep(300000);
  assert_int_equal(atomic_load(&idled), 1);
  usleep(200000);
  assert_int_equal(atomic_load(&idled), 1); /* once per busy period */
  pthread_mutex_lock(&gate);
  assert_true(gh_workpool_reserve(p));
  gh_workpool_submit(p, job, NULL); /* blocks on the gate: busy for 300 ms */
  usleep(300000);
  assert_int_equal(atomic_load(&idled), 1);
  pthread_mutex_unlock(&gate);
  usleep(300000);
  assert_int_equal(atomic_load(&idled), 2);
  gh_workpool_free(p);
}

static _Atomic bool busy_flag;
static _Atomic int running_now, running_max;
static bool is_busy(void *arg) {
  (void)arg;
  return atomic_load(&busy_flag);
}
static void counted_job(void *arg) {
  (void)arg;
  int n = atomic_fetch_add(&running_now, 1) + 1;
  int m = atomic_load(&running_max);
  while (n > m && !atomic_compare_exchange_weak(&running_max, &m, n)) {
  }
  job(NULL); /* blocks on the gate */
  atomic_fetch_sub(&running_now, 1);
}

/* While busy, at most `limit` jobs run at once; the others start once it is no longer busy. */
static void busy_limit(void **state) {
  (void)state;
  atomic_store(&ran, 0);
  gh_workpool *p;
  assert_int_equal(gh_workpool_new(3, 8, 0, &p), GH_OK);
  gh_workpool_limit_when(p, 1, is_busy, NULL);
  atomic_store(&busy_flag, true);
  pthread_mutex_lock(&gate);
  for (int i = 0; i < 3; i++) {
    assert_true(gh_workpool_reserve(p));
    gh_workpool_submit(p, counted_job, NULL);
  }
  usleep(200000);
  assert_int_equal(atomic_load(&running_now), 1); /* three workers, one job running */
  atomic_store(&busy_flag, false);
  usleep(200000);
  assert_int_equal(atomic_load(&running_now), 3); /* not busy: the other two started */
  pthread_mutex_unlock(&gate);
  gh_workpool_free(p);
  assert_int_equal(atomic_load(&ran), 3);
  assert_int_equal(atomic_load(&running_max), 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(bounded), cmocka_unit_test(invalid),
                                     cmocka_unit_test(idle_hook), cmocka_unit_test(busy_limit)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
