/* common/workpool: bounded queue refuses when full, runs every accepted job, drains on free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(bounded), cmocka_unit_test(invalid)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
