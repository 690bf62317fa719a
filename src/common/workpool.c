#include "common/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/arena.h"

struct job {
  struct job *next;
  void (*fn)(void *);
  void *arg;
};

struct gh_workpool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct job *head, *tail;
  int reserved; /* queued + reserved-but-not-yet-submitted */
  int queue_max;
  int nthreads;
  int nice;
  bool stopping;
  bool dirty;   /* a job ran since idle_fn last ran */
  long idle_ms; /* idle_fn runs once the pool has had nothing to do for this long */
  void (*idle_fn)(void);
  int running;    /* jobs being run */
  int busy_limit; /* while busy_fn(busy_arg): at most this many run at once */
  bool (*busy_fn)(void *arg);
  void *busy_arg;
  pthread_t *threads;
};

/* A queued job may start now (called with p->mu held). */
static bool may_start(gh_workpool *p) {
  if (!p->head) return false;
  if (p->stopping || !p->busy_fn || p->running < p->busy_limit) return true;
  return !p->busy_fn(p->busy_arg);
}

/* Waits up to ms for a change (called with p->mu held). Returns pthread_cond_timedwait's result. */
static int timed_wait(gh_workpool *p, long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* Waits for work; called and returns with p->mu held. After a job, once the queue has stayed
 * empty for idle_ms, one worker runs idle_fn (outside the lock). */
static void wait_for_work(gh_workpool *p) {
  if (p->head) { /* held back by the busy limit: look again shortly */
    timed_wait(p, 2);
    return;
  }
  if (!p->idle_fn || !p->dirty || p->stopping) {
    pthread_cond_wait(&p->cv, &p->mu);
    return;
  }
  if (timed_wait(p, p->idle_ms) == ETIMEDOUT && !p->head && p->dirty && !p->stopping) {
    p->dirty = false;
    pthread_mutex_unlock(&p->mu);
    p->idle_fn();
    pthread_mutex_lock(&p->mu);
  }
}

static void *worker_main(void *arg) {
  gh_workpool *p = arg;
  if (p->nice) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    (void)setpriority(PRIO_PROCESS, (id_t)tid, p->nice);
  }
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!may_start(p) && !(!p->head && p->stopping && p->reserved == 0)) wait_for_work(p);
    if (!p->head) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    struct job *j = p->head;
    p->head = j->next;
    if (!p->head) p->tail = NULL;
    p->reserved--;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    j->fn(j->arg);
    free(j);
    pthread_mutex_lock(&p->mu);
    p->dirty = true;
    p->running--;
    pthread_cond_broadcast(&p->cv); /* a worker held back by the busy limit may start now */
    pthread_mutex_unlock(&p->mu);
  }
}

gh_status gh_workpool_new(int threads, int queue_max, int nice, gh_workpool **out) {
  if (threads < 1 || queue_max < 1) return GH_ERR_CONFIG;
  gh_workpool *p = gh_xcalloc(1, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->queue_max = queue_max;
  p->nice = nice;
  p->threads = gh_xcalloc((size_t)threads, sizeof(pthread_t));
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
      p->nthreads = i;
      gh_workpool_free(p);
      return GH_ERR_IO;
    }
    p->nthreads = i + 1;
  }
  *out = p;
  return GH_OK;
}

void gh_workpool_on_idle(gh_workpool *p, long idle_ms, void (*fn)(void)) {
  pthread_mutex_lock(&p->mu);
  p->idle_ms = idle_ms > 0 ? idle_ms : 1;
  p->idle_fn = fn;
  pthread_mutex_unlock(&p->mu);
}

void gh_workpool_limit_when(gh_workpool *p, int limit, bool (*busy)(void *arg), void *arg) {
  pthread_mutex_lock(&p->mu);
  p->busy_limit = limit > 0 ? limit : 1;
  p->busy_fn = busy;
  p->busy_arg = arg;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

bool gh_workpool_reserve(gh_workpool *p) {
  pthread_mutex_lock(&p->mu);
  bool ok = !p->stopping && p->reserved < p->queue_max;
  if (ok) p->reserved++;
  pthread_mutex_unlock(&p->mu);
  return ok;
}

void gh_workpool_submit(gh_workpool *p, void (*fn)(void *), void *arg) {
  struct job *j = gh_xmalloc(sizeof *j);
  j->fn = fn;
  j->arg = arg;
  j->next = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->tail)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void gh_workpool_free(gh_workpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stopping = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  free(p->threads);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

int gh_workpool_threads(const gh_workpool *p) {
  return p->nthreads;
}

void gh_workpool_stats(gh_workpool *p, int *queued, int *running) {
  pthread_mutex_lock(&p->mu);
  *queued = p->reserved;
  *running = p->running;
  pthread_mutex_unlock(&p->mu);
}
