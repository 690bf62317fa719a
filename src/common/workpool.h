/* Bounded worker pool for slow work (password hashing, outbound calls). A full queue is refused
 * immediately instead of growing latency. */
#ifndef GH_COMMON_WORKPOOL_H
#define GH_COMMON_WORKPOOL_H

#include <stdbool.h>
#include "common/status.h"

typedef struct gh_workpool gh_workpool;

/* threads >= 1; queue_max >= 1 = jobs waiting (not yet running) at most; nice = niceness of the
 * workers (positive: lower priority than request threads). */
GH_MUST_CHECK gh_status gh_workpool_new(int threads, int queue_max, int nice, gh_workpool **out);
/* fn runs on a worker once the pool has been idle for idle_ms after doing some work (e.g. to give
 * memory the jobs used back to the system). */
void gh_workpool_on_idle(gh_workpool *p, long idle_ms, void (*fn)(void));
/* While busy(arg) returns true, at most limit (>= 1) jobs run at once; queued jobs start as soon
 * as it returns false or a running job ends (busy is polled every 2 ms while jobs wait). busy is
 * called with the pool's lock held: it must be quick and must not call back into the pool. */
void gh_workpool_limit_when(gh_workpool *p, int limit, bool (*busy)(void *arg), void *arg);
/* Reserves a queue slot: false when the queue is full. A reservation must be followed by exactly
 * one gh_workpool_submit(). */
bool gh_workpool_reserve(gh_workpool *p);
void gh_workpool_submit(gh_workpool *p, void (*fn)(void *), void *arg);
/* Runs every queued job, then joins the threads and frees the pool. */
void gh_workpool_free(gh_workpool *p);
int gh_workpool_threads(const gh_workpool *p);
/* Jobs waiting (queued or reserved) and running now. */
void gh_workpool_stats(gh_workpool *p, int *queued, int *running);

#endif
