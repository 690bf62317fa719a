/* Storage front end: URL parsing, the generic runner's parameters and dispatch, the statement
 * cache the drivers share, per-thread connections. */
#include "store/backend.h"

#include "common/rand.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/encoding.h"
#include "common/log.h"
#include "common/threadconn.h"

/* --- logging ------------------------------------------------------------------------------ */

void gh_store_log(const char *backend, const char *op, const char *code, const char *msg) {
  char buf[1024];
  size_t n = 0;
  if (msg) { /* without the trailing newline of libpq messages */
    n = strlen(msg);
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, msg, n);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
  }
  buf[n] = 0;
  /* the log line is JSON: never hand it invalid UTF-8 (a cut sequence or a foreign encoding) */
  if (!gh_utf8_valid(buf, n))
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)buf[i] >= 0x80) buf[i] = '?';
  gh_log(GH_LOG_ERROR, "store.db_error", "backend", backend, "op", op, "code", code, "message", buf,
         NULL);
}

char *gh_store_account_issuer(gh_arena *a, const char *provider_id) {
  if (!provider_id || strcmp(provider_id, "credential") == 0)
    return gh_arena_strdup(a, "local:credential");
  return gh_arena_printf(a, "local:oauth:%s", gh_uri_encode_component(a, provider_id));
}

/* --- open / dispatch ---------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

gh_status gh_store_open(const char *url, gh_store **out) {
  if (!url || !out) return GH_ERR_INVALID;
  *out = NULL;
  if (strcmp(url, "sqlite::memory:") == 0) return gh_store_sqlite_open(":memory:", out);
  if (starts_with(url, "sqlite:")) {
    const char *path = url + strlen("sqlite:");
    if (starts_with(path, "//")) path += 2; /* sqlite:///abs/path */
    if (!*path) return GH_ERR_CONFIG;
    return gh_store_sqlite_open(path, out);
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://"))
    return gh_store_pg_open(url, out);
  return GH_ERR_CONFIG;
}

void gh_store_close(gh_store *s) {
  if (s) s->ops->close(s);
}

gh_store_kind gh_store_kind_of(const gh_store *s) {
  return s->kind;
}

/* --- the generic runner ------------------------------------------------------------------- */

static bool valid_cols(const char *cols) {
  for (; cols && *cols; cols++)
    if (!strchr("tdDbi", *cols)) return false;
  return true;
}

static gh_status vrun(gh_store *s, const gh_query *q, gh_arena *a, gh_rows *rows, long *changes,
                      const char *fmt, va_list ap) {
  if (changes) *changes = 0;
  if (rows) memset(rows, 0, sizeof *rows);
  if (!s || !q || !fmt || (rows && (!a || !valid_cols(q->cols)))) return GH_ERR_INVALID;
  const char *sql = s->kind == GH_STORE_SQLITE ? q->sqlite : q->postgres;
  if (!sql) return GH_OK; /* nothing to do on this backend */
  gh_param p[GH_STORE_MAX_PARAMS];
  int n = 0;
  for (; *fmt; fmt++, n++) {
    if (n == GH_STORE_MAX_PARAMS) return GH_ERR_INVALID;
    gh_param *x = &p[n];
    x->t = NULL;
    x->v = 0;
    switch (*fmt) {
    case 't':
      x->t = va_arg(ap, const char *);
      x->type = x->t ? 't' : 'n';
      break;
    case 'd':
      x->type = 'd';
      x->v = va_arg(ap, int64_t);
      break;
    case 'D': {
      const int64_t *d = va_arg(ap, const int64_t *);
      x->type = d ? 'd' : 'n';
      x->v = d ? *d : 0;
      break;
    }
    case 'b':
      x->type = 'b';
      x->v = va_arg(ap, int) ? 1 : 0;
      break;
    case 'i':
      x->type = 'i';
      x->v = va_arg(ap, int64_t);
      break;
    default:
      return GH_ERR_INVALID;
    }
  }
  if (rows) rows->ncols = q->cols ? strlen(q->cols) : 0;
  return s->ops->run(s, q, sql, p, n, a, rows, changes);
}

gh_status gh_store_run_params(gh_store *s, const gh_query *q, gh_arena *a, gh_rows *rows,
                              long *changes, const gh_param *p, int np) {
  if (changes) *changes = 0;
  if (rows) memset(rows, 0, sizeof *rows);
  if (!s || !q || np < 0 || np > GH_STORE_MAX_PARAMS || (np && !p) ||
      (rows && (!a || !valid_cols(q->cols))))
    return GH_ERR_INVALID;
  const char *sql = s->kind == GH_STORE_SQLITE ? q->sqlite : q->postgres;
  if (!sql) return GH_OK;
  if (rows) rows->ncols = q->cols ? strlen(q->cols) : 0;
  return s->ops->run(s, q, sql, p, np, a, rows, changes);
}

gh_status gh_store_exec(gh_store *s, const gh_query *q, long *changes, const char *params, ...) {
  va_list ap;
  va_start(ap, params);
  gh_status status = vrun(s, q, NULL, NULL, changes, params, ap);
  va_end(ap);
  return status;
}

gh_status gh_store_query(gh_store *s, gh_arena *a, const gh_query *q, gh_rows *out,
                         const char *params, ...) {
  if (!out) return GH_ERR_INVALID;
  va_list ap;
  va_start(ap, params);
  gh_status status = vrun(s, q, a, out, NULL, params, ap);
  va_end(ap);
  return status;
}

gh_status gh_store_begin(gh_store *s) {
  if (!s) return GH_ERR_INVALID;
  return s->ops->begin(s);
}

gh_status gh_store_commit(gh_store *s) {
  if (!s) return GH_ERR_INVALID;
  return s->ops->commit(s);
}

void gh_store_rollback(gh_store *s) {
  if (s) s->ops->rollback(s);
}

gh_status gh_store_end(gh_store *s, gh_status status) {
  if (!s) return GH_ERR_INVALID;
  if (status == GH_OK) status = s->ops->commit(s);
  if (status) s->ops->rollback(s);
  return status;
}

gh_cell *gh_rows_add(gh_arena *a, gh_rows *rows, size_t *cap) {
  size_t w = rows->ncols ? rows->ncols : 1;
  if (rows->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    gh_cell *nc = gh_arena_alloc(a, ncap * w * sizeof *nc);
    if (rows->n) memcpy(nc, rows->cells, rows->n * w * sizeof *nc);
    rows->cells = nc;
    *cap = ncap;
  }
  gh_cell *c = rows->cells + rows->n++ * w;
  memset(c, 0, w * sizeof *c);
  return c;
}

/* --- prepared-statement cache ------------------------------------------------------------- */

static size_t slot_of(const gh_stmt_cache *c, const gh_query *q) {
  uintptr_t h = (uintptr_t)q;
  h ^= h >> 17;
  h *= UINT64_C(0x9e3779b97f4a7c15);
  return (size_t)(h >> 7) & (c->cap - 1);
}

gh_stmt_slot *gh_stmt_cache_get(gh_stmt_cache *c, const gh_query *q) {
  if (c->cap) {
    for (size_t i = slot_of(c, q);; i = (i + 1) & (c->cap - 1)) {
      if (c->slots[i].q == q) return &c->slots[i];
      if (!c->slots[i].q) break;
    }
  }
  if (2 * (c->len + 1) > c->cap) { /* at most half full */
    gh_stmt_cache old = *c;
    c->cap = old.cap ? old.cap * 2 : 64;
    c->slots = gh_xcalloc(c->cap, sizeof *c->slots);
    for (size_t i = 0; i < old.cap; i++) {
      if (!old.slots[i].q) continue;
      size_t j = slot_of(c, old.slots[i].q);
      while (c->slots[j].q) j = (j + 1) & (c->cap - 1);
      c->slots[j] = old.slots[i];
    }
    free(old.slots);
  }
  size_t i = slot_of(c, q);
  while (c->slots[i].q) i = (i + 1) & (c->cap - 1);
  c->slots[i] = (gh_stmt_slot){.q = q, .stmt = NULL, .id = c->next_id++};
  c->len++;
  return &c->slots[i];
}

void gh_stmt_cache_free(gh_stmt_cache *c) {
  free(c->slots);
  memset(c, 0, sizeof *c);
}

/* --- per-thread connection ---------------------------------------------------------------- */

gh_status gh_store_conn_open(const char *url, void **out) {
  gh_store *s = NULL;
  gh_status st = gh_store_open(url, &s);
  *out = s;
  return st;
}

void gh_store_conn_close(void *p) {
  gh_store_close(p);
}

static gh_store_threads conns = GH_STORE_THREADS_INIT;

void gh_store_thread_init(const char *url) {
  gh_store_threads_set_url(&conns, url);
}

gh_status gh_store_thread(gh_store **out) {
  return gh_store_threads_get(&conns, out);
}

void gh_store_threads_set_url(gh_store_threads *t, const char *url) {
  gh_threadconn_set_url(t, url);
}

gh_status gh_store_threads_get(gh_store_threads *t, gh_store **out) {
  if (!t || !out) return GH_ERR_INVALID;
  void *c;
  gh_status st = gh_threadconn_get(t, &c);
  *out = c;
  return st;
}

void gh_user_init(gh_arena *a, gh_user *u, const char *name, const char *email, const char *image,
                  int64_t now) {
  memset(u, 0, sizeof *u);
  u->id = gh_arena_alloc(a, 33);
  gh_rand_id(u->id, 32);
  u->name = (char *)name;
  u->email = (char *)email;
  u->image = (char *)image;
  u->created_at = u->updated_at = now;
  gh_values_init(a, &u->extra, GH_MODEL_USER);
}

void gh_credential_init(gh_arena *a, gh_account *acc, const gh_user *u, char *hash, int64_t now) {
  memset(acc, 0, sizeof *acc);
  acc->id = gh_arena_alloc(a, 33);
  gh_rand_id(acc->id, 32);
  acc->account_id = u->id;
  acc->provider_id = "credential";
  acc->user_id = u->id;
  acc->password = hash;
  acc->created_at = acc->updated_at = now;
}

bool gh_store_unavailable(gh_status st) {
  return st == GH_ERR_DB_UNAVAILABLE || st == GH_ERR_BUSY || st == GH_ERR_SCHEMA || st == GH_ERR_DB;
}
