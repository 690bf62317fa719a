#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/bytes.h"
#include "common/time.h"

static _Atomic int min_level = GH_LOG_INFO;

bool gh_log_level_parse(const char *name, gh_log_level *out) {
  static const char *const NAMES[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (name && strcmp(name, NAMES[i]) == 0) {
      *out = (gh_log_level)i;
      return true;
    }
  return false;
}

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

/* ---------------------------------------------------------------- line buffer */

struct line {
  char *p;
  size_t n, cap;
  char local[1024];
};

static void put(struct line *l, const char *s, size_t n) {
  if (l->n + n > l->cap) {
    size_t cap = l->cap * 2;
    while (cap < l->n + n) cap *= 2;
    char *np = l->p == l->local ? malloc(cap) : realloc(l->p, cap);
    if (!np) gh_oom();
    if (l->p == l->local) memcpy(np, l->local, l->n);
    l->p = np;
    l->cap = cap;
  }
  memcpy(l->p + l->n, s, n);
  l->n += n;
}

/* A JSON string as jansson's json_dumpb (JSON_COMPACT, no JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH)
 * writes it: '"' and '\\' escaped, control characters as \b \f \n \r \t or \u00XX (upper-case
 * hex), everything else as is. Invalid UTF-8 first becomes U+FFFD, one per byte that does not
 * start a valid sequence, as gh_json_str does. NULL is null. */
static void put_string(struct line *l, const char *s) {
  if (!s) {
    put(l, "null", 4);
    return;
  }
  static const char hex[] = "0123456789ABCDEF";
  put(l, "\"", 1);
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      char esc[6] = {'\\', 0};
      size_t elen = 2;
      switch (c) {
      case '"':
      case '\\':
        esc[1] = (char)c;
        break;
      case '\b':
        esc[1] = 'b';
        break;
      case '\f':
        esc[1] = 'f';
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      default:
        if (c >= 0x20) {
          put(l, s + i, 1);
          i++;
          continue;
        }
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        elen = 6;
      }
      put(l, esc, elen);
      i++;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + len <= n && gh_utf8_valid(s + i, len)) {
      put(l, s + i, len);
      i += len;
    } else {
      put(l, "\xEF\xBF\xBD", 3);
      i++;
    }
  }
  put(l, "\"", 1);
}

/* ---------------------------------------------------------------- gh_log */

struct pair {
  const char *k, *v;
};

/* Sets k to v: a key given again keeps its first position and takes the new value (as
 * json_object_set does). */
static void set_pair(struct pair **ps, size_t *n, size_t *cap, struct pair *local, const char *k,
                     const char *v) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*ps)[i].k, k) == 0) {
      (*ps)[i].v = v;
      return;
    }
  if (*n == *cap) {
    struct pair *np =
        *ps == local ? malloc(*cap * 2 * sizeof *np) : realloc(*ps, *cap * 2 * sizeof *np);
    if (!np) gh_oom();
    if (*ps == local) memcpy(np, local, *n * sizeof *np);
    *ps = np;
    *cap *= 2;
  }
  (*ps)[(*n)++] = (struct pair){k, v};
}

/* Writes one line: ts, level, event, then the pairs of ap. */
static void emit(gh_log_level lvl, const char *event, va_list ap) {
  char ts[GH_ISO_LEN];
  gh_iso8601(gh_now_ms(), ts);
  struct pair local[16], *ps = local;
  size_t n = 0, cap = sizeof local / sizeof *local;
  set_pair(&ps, &n, &cap, local, "ts", ts);
  set_pair(&ps, &n, &cap, local, "level", level_name(lvl));
  set_pair(&ps, &n, &cap, local, "event", event);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    set_pair(&ps, &n, &cap, local, k, v);
  }

  struct line l = {.p = NULL, .n = 0, .cap = sizeof l.local};
  l.p = l.local;
  put(&l, "{", 1);
  for (size_t i = 0; i < n; i++) {
    if (i) put(&l, ",", 1);
    put_string(&l, ps[i].k);
    put(&l, ":", 1);
    put_string(&l, ps[i].v);
  }
  put(&l, "}\n", 2);
  ssize_t w = write(2, l.p, l.n); /* one write per line: lines never interleave */
  (void)w;
  if (l.p != l.local) free(l.p);
  if (ps != local) free(ps);
}

static void emit_pairs(gh_log_level lvl, const char *event, ...) {
  va_list ap;
  va_start(ap, event);
  emit(lvl, event, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------- rate limit */

/* Per event name: at most `rate` lines per second of the wall clock (gh_now_ms); the rest are
 * counted and reported in one "log.suppressed" line, written before the next line logged after
 * that second. Events beyond the table's size are not limited, and neither are info lines (the
 * audit events: sign-ins, sessions, users). */
#define RATE_SLOTS 64
#define EVENT_MAX 64

struct rate_slot {
  char event[EVENT_MAX]; /* "" = free */
  int64_t second;
  unsigned count;
  unsigned long suppressed;
};

static _Atomic unsigned rate = GH_LOG_RATE_DEFAULT;
static struct rate_slot slots[RATE_SLOTS];
static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;

void gh_log_set_rate(unsigned per_second) {
  pthread_mutex_lock(&rate_mu);
  atomic_store(&rate, per_second);
  memset(slots, 0, sizeof slots);
  pthread_mutex_unlock(&rate_mu);
}

struct summary {
  char event[EVENT_MAX];
  unsigned long count;
};

/* false: the line is dropped. Fills sums (up to RATE_SLOTS) with the counts to report now. */
static bool rate_admit(const char *event, bool limited, struct summary *sums, size_t *nsums) {
  *nsums = 0;
  unsigned limit = atomic_load(&rate);
  if (!limit) return true;
  int64_t sec = gh_now_ms() / 1000;
  size_t elen = strlen(event);
  bool admit = true;
  pthread_mutex_lock(&rate_mu);
  struct rate_slot *mine = NULL, *free_slot = NULL, *idle = NULL;
  for (size_t i = 0; i < RATE_SLOTS; i++) {
    struct rate_slot *s = &slots[i];
    if (!s->event[0]) {
      if (!free_slot) free_slot = s;
      continue;
    }
    if (s->second != sec && s->suppressed) {
      memcpy(sums[*nsums].event, s->event, sizeof s->event);
      sums[(*nsums)++].count = s->suppressed;
      s->suppressed = 0;
    }
    if (!mine && strcmp(s->event, event) == 0)
      mine = s;
    else if (!idle && s->second != sec)
      idle = s;
  }
  struct rate_slot *spare = free_slot ? free_slot : idle;
  if (!limited) { /* audit events: never dropped (only the others' summaries are collected) */
    pthread_mutex_unlock(&rate_mu);
    return true;
  }
  if (!mine && spare && elen < EVENT_MAX) { /* a free slot, or one idle this second */
    mine = spare;
    memcpy(mine->event, event, elen + 1);
    mine->second = sec;
    mine->count = 0;
  }
  if (mine) {
    if (mine->second != sec) {
      mine->second = sec;
      mine->count = 0;
    }
    if (mine->count < limit)
      mine->count++;
    else {
      mine->suppressed++;
      admit = false;
    }
  }
  pthread_mutex_unlock(&rate_mu);
  return admit;
}

/* ---------------------------------------------------------------- gh_log */

void gh_log(gh_log_level lvl, const char *event, ...) {
  if ((int)lvl < atomic_load(&min_level)) return;
  struct summary sums[RATE_SLOTS];
  size_t nsums;
  /* info lines are the audit trail (sign-ins, sessions): kept whatever their rate */
  bool admit = rate_admit(event, lvl != GH_LOG_INFO, sums, &nsums);
  for (size_t i = 0; i < nsums; i++) {
    char count[24];
    snprintf(count, sizeof count, "%lu", sums[i].count);
    emit_pairs(GH_LOG_WARN, "log.suppressed", "suppressed_event", sums[i].event, "count", count,
               NULL);
  }
  if (!admit) return;
  va_list ap;
  va_start(ap, event);
  emit(lvl, event, ap);
  va_end(ap);
}
