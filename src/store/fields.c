/* Additional user and session fields (declared by plugins), the process-wide installed set, and
 * queries built at run time (kept for the life of the process, keyed by their texts, so the
 * drivers' statement caches, keyed by a query's address, stay valid). */
#include "store/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/time.h"

typedef struct {
  const gh_field *f;
  char *insert_default; /* owned; NULL = f->def */
} field_slot;

struct gh_store_fields {
  field_slot *v[2];
  size_t n[2];
  gh_entity_queries q; /* built by gh_store_use_fields */
  bool built;
};

static const char *const CORE_USER[] = {"id",    "name",      "email",     "emailVerified",
                                        "image", "createdAt", "updatedAt", NULL};
static const char *const CORE_SESSION[] = {
    "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent", NULL};

static _Atomic(const gh_store_fields *) g_current;

gh_store_fields *gh_store_fields_new(void) {
  return gh_xcalloc(1, sizeof(gh_store_fields));
}

void gh_store_fields_free(gh_store_fields *f) {
  if (!f) return;
  for (int m = 0; m < 2; m++) {
    for (size_t i = 0; i < f->n[m]; i++) free(f->v[m][i].insert_default);
    free(f->v[m]);
  }
  free(f);
}

static bool valid_name(const char *s) {
  if (!s || !*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return false;
  return true;
}

static bool core_column(gh_model m, const char *name) {
  for (const char *const *c = m == GH_MODEL_USER ? CORE_USER : CORE_SESSION; *c; c++)
    if (!strcmp(*c, name)) return true;
  return false;
}

gh_status gh_store_fields_add(gh_store_fields *f, gh_model m, const gh_field *fl) {
  if (!f || (m != GH_MODEL_USER && m != GH_MODEL_SESSION) || !fl || !valid_name(fl->name) ||
      fl->type < GH_FIELD_STRING || fl->type > GH_FIELD_NUMBER)
    return GH_ERR_INVALID;
  if (core_column(m, fl->name) || gh_store_field_index(f, m, fl->name) >= 0) return GH_ERR_CONFLICT;
  f->v[m] = realloc(f->v[m], (f->n[m] + 1) * sizeof *f->v[m]);
  if (!f->v[m]) gh_oom();
  f->v[m][f->n[m]++] = (field_slot){fl, NULL};
  return GH_OK;
}

gh_status gh_store_fields_set_insert_default(gh_store_fields *f, gh_model m, const char *name,
                                             const char *value) {
  int i = gh_store_field_index(f, m, name);
  if (i < 0) return GH_ERR_NOT_FOUND;
  free(f->v[m][i].insert_default);
  f->v[m][i].insert_default = value ? gh_xstrdup(value) : NULL;
  return GH_OK;
}

const gh_store_fields *gh_store_fields_current(void) {
  return atomic_load_explicit(&g_current, memory_order_acquire);
}

size_t gh_store_fields_count(const gh_store_fields *f, gh_model m) {
  return f && (m == GH_MODEL_USER || m == GH_MODEL_SESSION) ? f->n[m] : 0;
}

const gh_field *gh_store_field_at(const gh_store_fields *f, gh_model m, size_t i) {
  return i < gh_store_fields_count(f, m) ? f->v[m][i].f : NULL;
}

int gh_store_field_index(const gh_store_fields *f, gh_model m, const char *name) {
  if (!name) return -1;
  for (size_t i = 0; i < gh_store_fields_count(f, m); i++)
    if (!strcmp(f->v[m][i].f->name, name)) return (int)i;
  return -1;
}

gh_status gh_value_parse(gh_arena *a, gh_field_type t, const char *text, gh_value *out) {
  memset(out, 0, sizeof *out);
  out->set = true;
  if (!text) {
    out->null = true;
    return GH_OK;
  }
  switch (t) {
  case GH_FIELD_STRING:
    out->text = gh_arena_strdup(a, text);
    return GH_OK;
  case GH_FIELD_BOOLEAN:
    if (!strcmp(text, "true") || !strcmp(text, "1"))
      out->num = 1;
    else if (strcmp(text, "false") && strcmp(text, "0"))
      return GH_ERR_INVALID;
    return GH_OK;
  case GH_FIELD_DATE:
    return gh_iso8601_parse(text, &out->num);
  case GH_FIELD_NUMBER: {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end) return GH_ERR_INVALID;
    out->num = v;
    return GH_OK;
  }
  }
  return GH_ERR_INVALID;
}

gh_value gh_store_field_insert_value(gh_arena *a, const gh_store_fields *f, gh_model m, size_t i) {
  gh_value v = {.set = true, .null = true};
  if (i >= gh_store_fields_count(f, m)) return v;
  const field_slot *sl = &f->v[m][i];
  const char *text = sl->insert_default ? sl->insert_default : sl->f->def;
  if (text && gh_value_parse(a, sl->f->type, text, &v) != GH_OK) v = (gh_value){true, true, 0, 0};
  return v;
}

void gh_values_init(gh_arena *a, gh_values *vals, gh_model m) {
  const gh_store_fields *f = gh_store_fields_current();
  size_t n = gh_store_fields_count(f, m);
  vals->n = n;
  vals->v = n ? gh_arena_alloc(a, n * sizeof *vals->v) : NULL;
  for (size_t i = 0; i < n; i++) vals->v[i] = gh_store_field_insert_value(a, f, m, i);
}

gh_value *gh_values_slot(gh_arena *a, gh_values *vals, gh_model m, const char *name) {
  int i = gh_store_field_index(gh_store_fields_current(), m, name);
  if (i < 0) return NULL;
  if (vals->n <= (size_t)i) gh_values_init(a, vals, m);
  return (size_t)i < vals->n ? &vals->v[i] : NULL;
}

static const gh_value *value_of(const gh_values *vals, gh_model m, const char *name) {
  int i = gh_store_field_index(gh_store_fields_current(), m, name);
  return i >= 0 && (size_t)i < vals->n ? &vals->v[i] : NULL;
}

const gh_value *gh_user_value(const gh_user *u, const char *name) {
  return value_of(&u->extra, GH_MODEL_USER, name);
}

const gh_value *gh_session_value(const gh_session *s, const char *name) {
  return value_of(&s->extra, GH_MODEL_SESSION, name);
}

char gh_field_col_letter(gh_field_type t) {
  switch (t) {
  case GH_FIELD_BOOLEAN:
    return 'b';
  case GH_FIELD_DATE:
    return 'D';
  case GH_FIELD_NUMBER:
    return 'i';
  default:
    return 't';
  }
}

void gh_value_param(gh_field_type t, const gh_value *v, gh_param *p) {
  p->t = NULL;
  p->v = 0;
  if (!v || !v->set || v->null || (t == GH_FIELD_STRING && !v->text)) {
    p->type = 'n';
    return;
  }
  switch (t) {
  case GH_FIELD_STRING:
    p->type = 't';
    p->t = v->text;
    break;
  case GH_FIELD_BOOLEAN:
    p->type = 'b';
    p->v = v->num ? 1 : 0;
    break;
  case GH_FIELD_DATE:
    p->type = 'd';
    p->v = v->num;
    break;
  case GH_FIELD_NUMBER:
    p->type = 'i';
    p->v = v->num;
    break;
  }
}

void gh_value_from_cell(const gh_cell *c, gh_value *v) {
  v->set = true;
  v->null = c->null;
  v->text = c->text;
  v->num = c->num;
}

void gh_store_use_fields(const gh_store_fields *f) {
  if (f && !f->built) {
    gh_store_fields *w = (gh_store_fields *)f;
    gh_store_entity_queries_build(w, &w->q);
    w->built = true;
  }
  atomic_store_explicit(&g_current, f, memory_order_release);
}

const gh_entity_queries *gh_store_current_queries(void) {
  const gh_store_fields *f = gh_store_fields_current();
  return f && (f->n[0] || f->n[1]) ? &f->q : NULL;
}

/* --- interned queries ------------------------------------------------------------------------ */

static pthread_mutex_t g_intern_lock = PTHREAD_MUTEX_INITIALIZER;
static gh_query **g_interned;
static size_t g_ninterned;

static bool same(const char *x, const char *y) {
  return (!x && !y) || (x && y && !strcmp(x, y));
}

const gh_query *gh_store_intern_query(const char *name, const char *sqlite, const char *postgres,
                                      const char *cols) {
  pthread_mutex_lock(&g_intern_lock);
  const gh_query *found = NULL;
  for (size_t i = 0; i < g_ninterned && !found; i++) {
    const gh_query *q = g_interned[i];
    if (same(q->sqlite, sqlite) && same(q->postgres, postgres) && same(q->cols, cols) &&
        same(q->name, name))
      found = q;
  }
  if (!found) {
    g_interned = realloc(g_interned, (g_ninterned + 1) * sizeof *g_interned);
    if (!g_interned) gh_oom();
    gh_query *q = gh_xcalloc(1, sizeof *q);
    q->name = gh_xstrdup(name);
    q->sqlite = sqlite ? gh_xstrdup(sqlite) : NULL;
    q->postgres = postgres ? gh_xstrdup(postgres) : NULL;
    q->cols = cols ? gh_xstrdup(cols) : NULL;
    g_interned[g_ninterned++] = q;
    found = q;
  }
  pthread_mutex_unlock(&g_intern_lock);
  return found;
}
