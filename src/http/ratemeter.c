#include "http/ratemeter.h"

#include <time.h>

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gh_ratemeter_init(gh_ratemeter *m, unsigned busy_rps) {
  atomic_init(&m->win, 0);
  atomic_init(&m->count, 0);
  atomic_init(&m->prev, 0);
  m->per_window = (long)(busy_rps * GH_RATEMETER_WINDOW_MS / 1000);
  if (busy_rps && !m->per_window) m->per_window = 1;
}

void gh_ratemeter_hit_at(gh_ratemeter *m, int64_t now_ms) {
  if (!m->per_window) return;
  int64_t w = now_ms / GH_RATEMETER_WINDOW_MS;
  int64_t cur = atomic_load_explicit(&m->win, memory_order_relaxed);
  if (w != cur && atomic_compare_exchange_strong(&m->win, &cur, w)) {
    long done = atomic_exchange(&m->count, 0); /* the window that just ended */
    atomic_store(&m->prev, w == cur + 1 ? done : 0);
  }
  atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

void gh_ratemeter_hit(gh_ratemeter *m) {
  if (m->per_window) gh_ratemeter_hit_at(m, mono_ms());
}

bool gh_ratemeter_busy_at(const gh_ratemeter *m, int64_t now_ms) {
  if (!m->per_window) return false;
  int64_t w = now_ms / GH_RATEMETER_WINDOW_MS, last = atomic_load(&m->win);
  if (w - last > 1) return false; /* no event for a whole window */
  /* the last complete window, or the current one when it already reached the rate */
  return (w == last && atomic_load(&m->prev) >= m->per_window) ||
         atomic_load(&m->count) >= m->per_window;
}

bool gh_ratemeter_busy(const gh_ratemeter *m) {
  return m->per_window && gh_ratemeter_busy_at(m, mono_ms());
}
