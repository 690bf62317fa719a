/* Versioned migrations, written once over the generic runner: the embedded core ones, then a
 * caller's extra list (plugin tables), or only an application's own list with its own ledger. */
#include "store/backend.h"

#include <string.h>
#include "common/log.h"
#include "common/time.h"
#include "store/migrations.h"

/* PostgreSQL: serialises concurrent `migrate` runs from several instances. */
static const gh_store_ledger CORE = {
    .create = {"migrations_table",
               "create table if not exists \"gatehouse_migrations\" (\"name\" text not null "
               "primary key, \"applied_at\" text not null)",
               "create table if not exists \"gatehouse_migrations\" (\"name\" text not null "
               "primary key, \"applied_at\" timestamptz default CURRENT_TIMESTAMP not null)",
               NULL},
    .exists = {"migrations_exists",
               "select exists (select 1 from sqlite_master where type = 'table' and name = "
               "'gatehouse_migrations')",
               "select to_regclass('\"gatehouse_migrations\"') is not null", "b"},
    .applied = {"migration_applied", "select 1 from \"gatehouse_migrations\" where \"name\" = ?1",
                "select 1 from \"gatehouse_migrations\" where \"name\" = $1", NULL},
    .record = {"migration_record",
               "insert into \"gatehouse_migrations\" (\"name\", \"applied_at\") values (?1, ?2)",
               "insert into \"gatehouse_migrations\" (\"name\", \"applied_at\") values ($1, $2)",
               NULL},
    .lock = {"migrate_lock", NULL, "select pg_advisory_xact_lock(7152026001)", NULL},
};

static const char *text_of(const gh_store *s, const gh_store_migration *m) {
  return s->kind == GH_STORE_SQLITE ? m->sqlite : m->postgres;
}

/* Whether migration name is recorded (the ledger table exists). */
static gh_status is_applied(gh_store *s, const gh_store_ledger *l, const char *name, bool *done) {
  gh_arena *a = gh_arena_new();
  gh_rows r;
  gh_status status = gh_store_query(s, a, &l->applied, &r, "t", name);
  *done = status == GH_OK && r.n > 0;
  gh_arena_free(a);
  return status;
}

/* In one transaction: the ledger lock, then m when it is not recorded yet, and its record. */
static gh_status apply(gh_store *s, const gh_store_ledger *l, const char *name, const char *sql,
                       int *n) {
  bool done = false;
  gh_status status = gh_store_begin(s);
  if (status) return status;
  if ((status = gh_store_exec(s, &l->lock, NULL, "")) || (status = is_applied(s, l, name, &done)))
    goto done;
  if (!done) {
    if (sql && (status = s->ops->script(s, sql, name))) goto done;
    status = gh_store_exec(s, &l->record, NULL, "td", name, gh_now_ms());
    if (status) goto done;
    (*n)++;
  }
done:
  status = gh_store_end(s, status);
  if (status == GH_OK && !done) gh_log(GH_LOG_INFO, "db.migration_applied", "name", name, NULL);
  return status;
}

static gh_status create_ledger(gh_store *s, const gh_store_ledger *l) {
  gh_status status = gh_store_begin(s);
  if (status) return status;
  if ((status = gh_store_exec(s, &l->lock, NULL, "")) == GH_OK)
    status = gh_store_exec(s, &l->create, NULL, "");
  return gh_store_end(s, status);
}

static void core_list(const gh_store *s, const gh_migration **m, size_t *n) {
  bool sq = s->kind == GH_STORE_SQLITE;
  *m = sq ? gh_migrations_sqlite : gh_migrations_postgres;
  *n = sq ? gh_migrations_sqlite_n : gh_migrations_postgres_n;
}

static gh_status migrate(gh_store *s, const gh_store_ledger *l, bool core,
                         const gh_store_migration *extra, size_t nextra, int *applied) {
  int n = 0;
  if (applied) *applied = 0;
  if (!s || !l || (nextra && !extra)) return GH_ERR_INVALID;
  gh_status status = create_ledger(s, l);
  const gh_migration *cm = NULL;
  size_t ncore = 0;
  if (core) core_list(s, &cm, &ncore);
  for (size_t i = 0; status == GH_OK && i < ncore; i++)
    status = apply(s, l, cm[i].name, cm[i].sql, &n);
  for (size_t i = 0; status == GH_OK && i < nextra; i++)
    status = extra[i].name ? apply(s, l, extra[i].name, text_of(s, &extra[i]), &n) : GH_ERR_INVALID;
  s->issuer = -1; /* the account table may have changed */
  if (applied) *applied = n;
  return status;
}

static gh_status check(gh_store *s, const gh_store_ledger *l, bool core,
                       const gh_store_migration *extra, size_t nextra) {
  if (!s || !l || (nextra && !extra)) return GH_ERR_INVALID;
  gh_arena *a = gh_arena_new();
  gh_rows r;
  gh_status status = gh_store_query(s, a, &l->exists, &r, "");
  if (status == GH_OK && !(r.n == 1 && gh_rows_at(&r, 0)[0].num)) status = GH_ERR_SCHEMA;
  gh_arena_free(a);
  const gh_migration *cm = NULL;
  size_t ncore = 0;
  if (core) core_list(s, &cm, &ncore);
  for (size_t i = 0; status == GH_OK && i < ncore + nextra; i++) {
    const char *name = i < ncore ? cm[i].name : extra[i - ncore].name;
    bool done = false;
    status = name ? is_applied(s, l, name, &done) : GH_ERR_INVALID;
    if (status == GH_OK && !done) status = GH_ERR_SCHEMA;
  }
  return status;
}

gh_status gh_store_migrate(gh_store *s, const gh_store_migration *extra, size_t nextra,
                           int *applied) {
  return migrate(s, &CORE, true, extra, nextra, applied);
}

gh_status gh_store_check_schema(gh_store *s, const gh_store_migration *extra, size_t nextra) {
  return check(s, &CORE, true, extra, nextra);
}

gh_status gh_store_migrate_list(gh_store *s, const gh_store_ledger *ledger,
                                const gh_store_migration *list, size_t n, int *applied) {
  return migrate(s, ledger, false, list, n, applied);
}

gh_status gh_store_check_list(gh_store *s, const gh_store_ledger *ledger,
                              const gh_store_migration *list, size_t n) {
  return check(s, ledger, false, list, n);
}
