#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common/time.h"
#include "json/json.h"

static _Atomic int min_level = GH_LOG_INFO;

void gh_log_set_level(gh_log_level lvl) {
  atomic_store(&min_level, (int)lvl);
}

static const char *level_name(gh_log_level l) {
  switch (l) {
  case GH_LOG_DEBUG:
    return "debug";
  case GH_LOG_INFO:
    return "info";
  case GH_LOG_WARN:
    return "warn";
  case GH_LOG_ERROR:
    return "error";
  }
  return "info";
}

void gh_log(gh_log_level lvl, const char *event, ...) {
  if ((int)lvl < atomic_load(&min_level)) return;
  char ts[GH_ISO_LEN];
  gh_iso8601(gh_now_ms(), ts);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "ts", gh_json_str(ts));
  gh_json_set_new(o, "level", gh_json_str(level_name(lvl)));
  gh_json_set_new(o, "event", gh_json_str(event));
  va_list ap;
  va_start(ap, event);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    gh_json_set_new(o, k, gh_json_str(v));
  }
  va_end(ap);
  gh_arena *a = gh_arena_new();
  size_t n;
  char *line = gh_json_dump(a, o, &n);
  gh_json_decref(o);
  char *buf = gh_arena_alloc(a, n + 1);
  for (size_t i = 0; i < n; i++) buf[i] = line[i];
  buf[n] = '\n';
  ssize_t w = write(2, buf, n + 1); /* one write per line: lines never interleave */
  (void)w;
  gh_arena_free(a);
}
