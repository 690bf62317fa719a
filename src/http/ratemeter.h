/* Request rate meter: counts events per 100 ms window and says whether the rate reached a
 * threshold. Lock-free and approximate (concurrent hits racing a window change only blur a
 * count). Behind gh_http_busy. */
#ifndef GH_HTTP_RATEMETER_H
#define GH_HTTP_RATEMETER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GH_RATEMETER_WINDOW_MS 100

typedef struct {
  _Atomic int64_t win;      /* index of the current window (monotonic ms / window) */
  _Atomic long count, prev; /* hits in the current window; in the one before it */
  long per_window;          /* threshold per window; 0 = never busy, hits are not counted */
} gh_ratemeter;

/* busy_rps: events per second at which the meter reports busy (0 = never); rounded to a count
 * per window, at least 1. */
void gh_ratemeter_init(gh_ratemeter *m, unsigned busy_rps);
/* Counts one event now (nothing when the meter is off). */
void gh_ratemeter_hit(gh_ratemeter *m);
/* True while events arrive at busy_rps or more: the last complete window reached the threshold
 * (and the current one has not ended), or the current one already did. False once a whole
 * window passed without an event. */
bool gh_ratemeter_busy(const gh_ratemeter *m);

/* The same with the monotonic time given (milliseconds), for tests. */
void gh_ratemeter_hit_at(gh_ratemeter *m, int64_t now_ms);
bool gh_ratemeter_busy_at(const gh_ratemeter *m, int64_t now_ms);

#endif
