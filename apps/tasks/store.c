/* gatehouse-tasks storage over the server's store drivers (src/store: SQLite or PostgreSQL, the
 * generic query runner, its error mapping and reconnects) and its own migration list. See
 * store.h. */
#include "store.h"

#include <string.h>

/* --- migrations (append only; never edit an applied one) ----------------------------------- */

static const gh_store_migration MIGRATIONS[] = {
    {"001_tasks",
     "create table if not exists \"tasks\" (\"id\" text not null primary key, \"userId\" text not "
     "null, \"title\" text not null, \"description\" text, \"completed\" integer not null default "
     "0, \"createdAt\" text not null, \"updatedAt\" text not null);\n"
     "create index if not exists \"tasks_userId_createdAt_idx\" on \"tasks\" (\"userId\", "
     "\"createdAt\");",
     "create table if not exists \"tasks\" (\"id\" text not null primary key, \"userId\" text not "
     "null, \"title\" text not null, \"description\" text, \"completed\" boolean not null default "
     "false, \"createdAt\" timestamptz not null, \"updatedAt\" timestamptz not null);\n"
     "create index if not exists \"tasks_userId_createdAt_idx\" on \"tasks\" (\"userId\", "
     "\"createdAt\");"},
};
#define NMIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

/* "tasks_migrations" (version, name, appliedAt), as earlier versions created it: the version is the
 * name's number ("001_tasks" -> 1). */
static const gh_store_ledger LEDGER = {
    .create = {"migrations_table",
               "create table if not exists \"tasks_migrations\" (\"version\" integer not null "
               "primary key, \"name\" text not null, \"appliedAt\" text not null)",
               "create table if not exists \"tasks_migrations\" (\"version\" integer not null "
               "primary key, \"name\" text not null, \"appliedAt\" timestamptz not null default "
               "CURRENT_TIMESTAMP)",
               NULL},
    .exists = {"migrations_exists",
               "select exists (select 1 from sqlite_master where type = 'table' and name = "
               "'tasks_migrations')",
               "select to_regclass('\"tasks_migrations\"') is not null", "b"},
    .applied = {"migration_applied", "select 1 from \"tasks_migrations\" where \"name\" = ?1",
                "select 1 from \"tasks_migrations\" where \"name\" = $1", NULL},
    .record = {"migration_record",
               "insert into \"tasks_migrations\" (\"version\", \"name\", \"appliedAt\") values "
               "(cast(substr(?1, 1, 3) as integer), ?1, ?2)",
               "insert into \"tasks_migrations\" (\"version\", \"name\", \"appliedAt\") values "
               "(cast(substr($1, 1, 3) as integer), $1, $2)",
               NULL},
    /* serialises concurrent starts of several instances */
    .lock = {"migrate_lock", NULL, "select pg_advisory_xact_lock(7152026101)", NULL},
};

/* --- queries -------------------------------------------------------------------------------- */

#define COLS                                                                                       \
  "\"id\", \"userId\", \"title\", \"description\", \"completed\", \"createdAt\", \"updatedAt\""
#define TASK_FMT "ttttbdd"

static const gh_query Q_COUNT = {"count", "select count(*) from \"tasks\" where \"userId\" = ?1",
                                 "select count(*) from \"tasks\" where \"userId\" = $1", "i"};
static const gh_query Q_LIST = {"list",
                                "select " COLS " from \"tasks\" where \"userId\" = ?1 order by "
                                "\"createdAt\" desc, \"id\" desc limit ?2 offset ?3",
                                "select " COLS " from \"tasks\" where \"userId\" = $1 order by "
                                "\"createdAt\" desc, \"id\" desc limit $2 offset $3",
                                TASK_FMT};
static const gh_query Q_COUNT_ALL = {"count_all", "select count(*) from \"tasks\"",
                                     "select count(*) from \"tasks\"", "i"};
static const gh_query Q_LIST_ALL = {"list_all",
                                    "select " COLS " from \"tasks\" order by \"createdAt\" desc, "
                                    "\"id\" desc limit ?1 offset ?2",
                                    "select " COLS " from \"tasks\" order by \"createdAt\" desc, "
                                    "\"id\" desc limit $1 offset $2",
                                    TASK_FMT};
static const gh_query Q_GET = {
    "get", "select " COLS " from \"tasks\" where \"userId\" = ?1 and \"id\" = ?2",
    "select " COLS " from \"tasks\" where \"userId\" = $1 and \"id\" = $2", TASK_FMT};
static const gh_query Q_INSERT = {
    "insert", "insert into \"tasks\" (" COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "insert into \"tasks\" (" COLS ") values ($1, $2, $3, $4, $5, $6, $7)", NULL};
static const gh_query Q_UPDATE = {
    "update",
    "update \"tasks\" set \"title\" = case when ?1 then ?2 else \"title\" end, \"description\" = "
    "case when ?3 then ?4 else \"description\" end, \"completed\" = case when ?5 then ?6 else "
    "\"completed\" end, \"updatedAt\" = ?7 where \"userId\" = ?8 and \"id\" = ?9 returning " COLS,
    "update \"tasks\" set \"title\" = case when $1::boolean then $2::text else \"title\" end, "
    "\"description\" = case when $3::boolean then $4::text else \"description\" end, "
    "\"completed\" = case when $5::boolean then $6::boolean else \"completed\" end, \"updatedAt\" "
    "= $7::timestamptz where \"userId\" = $8 and \"id\" = $9 returning " COLS,
    TASK_FMT};
static const gh_query Q_DELETE = {
    "delete", "delete from \"tasks\" where \"userId\" = ?1 and \"id\" = ?2",
    "delete from \"tasks\" where \"userId\" = $1 and \"id\" = $2", NULL};

static gh_status read_task(const gh_cell *c, tasks_task *t) {
  memset(t, 0, sizeof *t);
  t->id = c[0].text;
  t->user_id = c[1].text;
  t->title = c[2].text;
  t->description = c[3].text;
  t->completed = c[4].num != 0;
  t->created_at = c[5].num;
  t->updated_at = c[6].num;
  return t->id && t->user_id && t->title ? GH_OK : GH_ERR_DB;
}

/* --- front end ------------------------------------------------------------------------------ */

gh_status tasks_store_open(const char *url, tasks_store **out) {
  return gh_store_open(url, out);
}

void tasks_store_close(tasks_store *s) {
  gh_store_close(s);
}

gh_status tasks_store_migrate(tasks_store *s, int *applied) {
  return gh_store_migrate_list(s, &LEDGER, MIGRATIONS, NMIGRATIONS, applied);
}

gh_status tasks_store_list(tasks_store *s, gh_arena *a, const char *user_id, long limit,
                           long offset, tasks_task **out, size_t *n, long *total) {
  *out = NULL;
  *n = 0;
  *total = 0;
  gh_rows r;
  gh_status st = user_id ? gh_store_query(s, a, &Q_COUNT, &r, "t", user_id)
                         : gh_store_query(s, a, &Q_COUNT_ALL, &r, "");
  if (st) return st;
  if (r.n != 1) return GH_ERR_DB;
  *total = (long)gh_rows_at(&r, 0)[0].num;
  st = user_id ? gh_store_query(s, a, &Q_LIST, &r, "tii", user_id, (int64_t)limit, (int64_t)offset)
               : gh_store_query(s, a, &Q_LIST_ALL, &r, "ii", (int64_t)limit, (int64_t)offset);
  if (st) return st;
  tasks_task *v = gh_arena_alloc(a, (r.n ? r.n : 1) * sizeof *v);
  for (size_t i = 0; i < r.n; i++)
    if ((st = read_task(gh_rows_at(&r, i), &v[i]))) return st;
  *out = v;
  *n = r.n;
  return GH_OK;
}

/* The one row q returns (GH_ERR_NOT_FOUND when none). */
static gh_status one(gh_status st, const gh_rows *r, tasks_task *out) {
  if (st) return st;
  return r->n == 1 ? read_task(gh_rows_at(r, 0), out) : GH_ERR_NOT_FOUND;
}

gh_status tasks_store_get(tasks_store *s, gh_arena *a, const char *user_id, const char *id,
                          tasks_task *out) {
  gh_rows r;
  gh_status st = gh_store_query(s, a, &Q_GET, &r, "tt", user_id, id);
  return one(st, &r, out);
}

gh_status tasks_store_insert(tasks_store *s, const tasks_task *t) {
  return gh_store_exec(s, &Q_INSERT, NULL, TASK_FMT, t->id, t->user_id, t->title, t->description,
                       (int)t->completed, t->created_at, t->updated_at);
}

gh_status tasks_store_update(tasks_store *s, gh_arena *a, const tasks_task *t, unsigned mask,
                             tasks_task *out) {
  gh_rows r;
  gh_status st = gh_store_query(s, a, &Q_UPDATE, &r, "btbtbbdtt", (mask & TASKS_SET_TITLE) != 0,
                                t->title, (mask & TASKS_SET_DESCRIPTION) != 0, t->description,
                                (mask & TASKS_SET_COMPLETED) != 0, (int)t->completed, t->updated_at,
                                t->user_id, t->id);
  return one(st, &r, out);
}

gh_status tasks_store_delete(tasks_store *s, const char *user_id, const char *id) {
  long changes = 0;
  gh_status st = gh_store_exec(s, &Q_DELETE, &changes, "tt", user_id, id);
  if (st) return st;
  return changes == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

/* --- per-thread connections ----------------------------------------------------------------- */

static gh_store_threads conns = GH_STORE_THREADS_INIT;

void tasks_store_thread_init(const char *url) {
  gh_store_threads_set_url(&conns, url);
}

void tasks_store_thread_cleanup(void) {
  gh_store_threads_set_url(&conns, NULL);
}

gh_status tasks_store_thread(tasks_store **out) {
  return gh_store_threads_get(&conns, out);
}
