/* Storage tests: every case runs on SQLite (in memory or a temp file) and, when GH_TEST_PG_URL is
 * set, again on PostgreSQL inside a scratch schema (gh_test_store) of that database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/arena.h"
#include "common/time.h"
#include "store/migrations.h"
#include "plugins/jwt_store.h"
#include "plugins/plugins.h"
#include "store/store.h"

#define PG_SCHEMA "gh_test_store"
#define T0 INT64_C(1795419627137) /* 2026-11-23T07:40:27.137Z */
#define DAY INT64_C(86400000)
#define HOUR INT64_C(3600000)

static gh_store_kind g_kind = GH_STORE_SQLITE;
static const char *g_pg_admin; /* GH_TEST_PG_URL */
static char g_pg_url[4096];    /* the same with search_path = PG_SCHEMA */
static char g_tmpdir[] = "/tmp/gh_test_store_XXXXXX";

/* --- raw database access (to prepare better-auth databases and to inspect stored values) ---- */

static PGconn *pg_connect(const char *url) {
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("PG connect: %s", PQerrorMessage(c));
  return c;
}

static void quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

static void pg_exec(const char *url, const char *sql) {
  PGconn *c = PQconnectdb(url);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PQsetNoticeProcessor(c, quiet, NULL);
  PGresult *r = PQexec(c, sql);
  ExecStatusType es = PQresultStatus(r);
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) fail_msg("PG: %s", PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

/* target: SQLite file path, or NULL for the PostgreSQL test schema. Returns the first cell of the
 * first row (malloc'd), or NULL when there is no row or the cell is NULL. */
static char *raw_value(const char *target, const char *sql) {
  char *out = NULL;
  if (target) {
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(target, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
  } else {
    PGconn *c = PQconnectdb(g_pg_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("PG: %s", PQerrorMessage(c));
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
  }
  return out;
}

static void raw_exec(const char *target, const char *sql) {
  if (target) {
    sqlite3 *db;
    char *err = NULL;
    assert_int_equal(sqlite3_open(target, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("sqlite: %s", err);
    sqlite3_close(db);
  } else {
    pg_exec(g_pg_url, sql);
  }
}

static void assert_raw(const char *target, const char *sql, const char *want) {
  char *v = raw_value(target, sql);
  if (!want) {
    assert_null(v);
  } else {
    assert_non_null(v);
    assert_string_equal(v, want);
  }
  free(v);
}

/* --- fixtures ----------------------------------------------------------------------------- */

static void pg_reset_schema(void) {
  pg_exec(g_pg_admin, "drop schema if exists " PG_SCHEMA " cascade; create schema " PG_SCHEMA);
}

/* Opens a store on an empty database of the backend under test. */
static gh_store *open_fresh(void) {
  gh_store *s = NULL;
  if (g_kind == GH_STORE_POSTGRES) {
    pg_reset_schema();
    assert_int_equal(gh_store_open(g_pg_url, &s), GH_OK);
    assert_int_equal(gh_store_kind_of(s), GH_STORE_POSTGRES);
  } else {
    assert_int_equal(gh_store_open("sqlite::memory:", &s), GH_OK);
    assert_int_equal(gh_store_kind_of(s), GH_STORE_SQLITE);
  }
  return s;
}

static int setup_empty(void **state) {
  *state = open_fresh();
  return 0;
}

/* The core's tables and the jwt plugin's (jwks). */
static int setup_migrated(void **state) {
  gh_store *s = open_fresh();
  int n = -1;
  assert_int_equal(gh_store_migrate(s, gh_plugin_jwt.migrations, gh_plugin_jwt.nmigrations, &n),
                   GH_OK);
  assert_true(n > 0);
  *state = s;
  return 0;
}

static int teardown(void **state) {
  gh_store_close(*state);
  return 0;
}

static gh_user mk_user(const char *id, const char *email, int64_t t) {
  gh_user u = {.id = (char *)id,
               .name = "Ann Example",
               .email = (char *)email,
               .email_verified = false,
               .image = NULL,
               .created_at = t,
               .updated_at = t + 1};
  return u;
}

static gh_session mk_session(const char *id, const char *token, const char *user_id,
                             int64_t created, int64_t expires) {
  gh_session x = {.id = (char *)id,
                  .token = (char *)token,
                  .user_id = (char *)user_id,
                  .expires_at = expires,
                  .created_at = created,
                  .updated_at = created + 1};
  return x;
}

static gh_account mk_cred(const char *id, const char *user_id, const char *hash, int64_t t) {
  gh_account a = {.id = (char *)id,
                  .account_id = (char *)user_id,
                  .provider_id = "credential",
                  .user_id = (char *)user_id,
                  .password = (char *)hash,
                  .created_at = t,
                  .updated_at = t};
  return a;
}

static void add_user(gh_store *s, const char *id, const char *email) {
  gh_user u = mk_user(id, email, T0);
  assert_int_equal(gh_store_create_user(s, &u, NULL, NULL), GH_OK);
}

static bool has_session(gh_store *s, const char *token) {
  gh_arena *a = gh_arena_new();
  gh_session x;
  gh_user u;
  gh_status st = gh_store_session_by_token(s, a, token, &x, &u);
  gh_arena_free(a);
  if (st != GH_OK && st != GH_ERR_NOT_FOUND) fail_msg("session_by_token: %s", gh_status_str(st));
  return st == GH_OK;
}

static void add_session(gh_store *s, const char *id, const char *token, const char *user_id,
                        int64_t created, int64_t expires) {
  gh_session x = mk_session(id, token, user_id, created, expires);
  assert_int_equal(gh_store_create_session(s, &x), GH_OK);
}

static void assert_password(gh_store *s, const char *user_id, const char *want) {
  gh_arena *a = gh_arena_new();
  char *h = NULL;
  gh_status st = gh_store_credential_password(s, a, user_id, &h);
  if (!want) {
    assert_int_equal(st, GH_ERR_NOT_FOUND);
  } else {
    assert_int_equal(st, GH_OK);
    assert_string_equal(h, want);
  }
  gh_arena_free(a);
}

static void assert_no_user(gh_store *s, const char *id) {
  gh_arena *a = gh_arena_new();
  gh_user u;
  assert_int_equal(gh_store_user_by_id(s, a, id, &u), GH_ERR_NOT_FOUND);
  gh_arena_free(a);
}

static size_t migration_count(void) {
  return g_kind == GH_STORE_POSTGRES ? gh_migrations_postgres_n : gh_migrations_sqlite_n;
}

/* --- tests: schema ------------------------------------------------------------------------ */

static void test_migrate_idempotent(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_session x;
  gh_user u;
  int n = -1;
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_session_by_token(s, a, "tok", &x, &u), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_migrate(s, NULL, 0, &n), GH_OK);
  assert_int_equal(n, (int)migration_count());
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  assert_int_equal(gh_store_migrate(s, NULL, 0, &n), GH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(gh_store_migrate(s, NULL, 0, NULL), GH_OK);
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  assert_int_equal(gh_store_ping(s), GH_OK);
  assert_int_equal(gh_store_session_by_token(s, a, "tok", &x, &u), GH_ERR_NOT_FOUND);
  gh_arena_free(a);
}

/* --- tests: the generic runner ------------------------------------------------------------- */

static const gh_query RT_CREATE = {
    "rt_create",
    "create table \"runner_t\" (\"id\" text not null primary key, \"note\" text, \"at\" text not "
    "null, \"maybe\" text, \"flag\" integer not null, \"n\" integer not null)",
    "create table \"runner_t\" (\"id\" text not null primary key, \"note\" text, \"at\" "
    "timestamptz "
    "not null, \"maybe\" timestamptz, \"flag\" boolean not null, \"n\" bigint not null)",
    NULL};
static const gh_query RT_INSERT = {
    "rt_insert",
    "insert into \"runner_t\" (\"id\", \"note\", \"at\", \"maybe\", \"flag\", \"n\") values (?1, "
    "?2, ?3, ?4, ?5, ?6)",
    "insert into \"runner_t\" (\"id\", \"note\", \"at\", \"maybe\", \"flag\", \"n\") values ($1, "
    "$2, $3, $4, $5, $6)",
    NULL};
static const gh_query RT_ALL = {
    "rt_all",
    "select \"id\", \"note\", \"at\", \"maybe\", \"flag\", \"n\" from \"runner_t\" order by \"id\"",
    "select \"id\", \"note\", \"at\", \"maybe\", \"flag\", \"n\" from \"runner_t\" order by \"id\"",
    "ttdDbi"};
static const gh_query RT_BY_NOTE = {
    "rt_by_note", "select \"id\" from \"runner_t\" where \"note\" is not distinct from ?1",
    "select \"id\" from \"runner_t\" where \"note\" is not distinct from $1", "t"};
static const gh_query RT_COUNT = {"rt_count", "select count(*) from \"runner_t\"",
                                  "select count(*) from \"runner_t\"", "i"};
static const gh_query RT_FLAG_ALL = {"rt_flag", "update \"runner_t\" set \"flag\" = ?1",
                                     "update \"runner_t\" set \"flag\" = $1", NULL};
static const gh_query RT_INT4 = {"rt_int4", "select cast(-42 as integer), 1 = 1",
                                 "select cast(-42 as integer), 1 = 1", "ib"};
static const gh_query RT_SQLITE_ONLY = {"rt_sqlite_only", "select 1", NULL, NULL};
static const gh_query RT_PG_ONLY = {"rt_pg_only", NULL, "select 1", NULL};

static long rt_count(gh_store *s, gh_arena *a) {
  gh_rows r;
  assert_int_equal(gh_store_query(s, a, &RT_COUNT, &r, ""), GH_OK);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.ncols, 1);
  return (long)gh_rows_at(&r, 0)[0].num;
}

static void test_runner(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_rows r;
  long changes = -1;
  const int64_t later = T0 + DAY, big = INT64_C(5000000000123);
  assert_int_equal(gh_store_exec(s, &RT_CREATE, NULL, ""), GH_OK);
  assert_int_equal(
      gh_store_exec(s, &RT_INSERT, &changes, "ttdDbi", "a", "hello", T0, &later, true, big), GH_OK);
  assert_int_equal(changes, 1);
  assert_int_equal(gh_store_exec(s, &RT_INSERT, &changes, "ttdDbi", "b", (const char *)NULL, T0 + 1,
                                 (const int64_t *)NULL, false, INT64_C(-7)),
                   GH_OK);
  assert_int_equal(changes, 1);

  assert_int_equal(gh_store_query(s, a, &RT_ALL, &r, ""), GH_OK);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.ncols, 6);
  const gh_cell *c = gh_rows_at(&r, 0);
  assert_string_equal(c[0].text, "a");
  assert_string_equal(c[1].text, "hello");
  assert_false(c[1].null);
  assert_true(c[2].num == T0);
  assert_false(c[3].null);
  assert_true(c[3].num == later);
  assert_int_equal(c[4].num, 1);
  assert_true(c[5].num == big);
  c = gh_rows_at(&r, 1);
  assert_string_equal(c[0].text, "b");
  assert_null(c[1].text);
  assert_true(c[1].null);
  assert_true(c[2].num == T0 + 1);
  assert_true(c[3].null);
  assert_int_equal(c[4].num, 0);
  assert_true(c[5].num == -7);

  /* a NULL text parameter binds NULL */
  assert_int_equal(gh_store_query(s, a, &RT_BY_NOTE, &r, "t", (const char *)NULL), GH_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(gh_rows_at(&r, 0)[0].text, "b");
  assert_int_equal(gh_store_query(s, a, &RT_BY_NOTE, &r, "t", "nothing"), GH_OK);
  assert_int_equal(r.n, 0);

  /* int4 and boolean expressions */
  assert_int_equal(gh_store_query(s, a, &RT_INT4, &r, ""), GH_OK);
  assert_int_equal(r.n, 1);
  assert_true(gh_rows_at(&r, 0)[0].num == -42);
  assert_int_equal(gh_rows_at(&r, 0)[1].num, 1);

  /* unique violation */
  assert_int_equal(gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "a", "again", T0,
                                 (const int64_t *)NULL, false, INT64_C(0)),
                   GH_ERR_CONFLICT);

  /* a failed transaction leaves nothing */
  assert_int_equal(gh_store_begin(s), GH_OK);
  assert_int_equal(gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "c", "in tx", T0,
                                 (const int64_t *)NULL, true, INT64_C(1)),
                   GH_OK);
  assert_int_equal(gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "a", "dup", T0,
                                 (const int64_t *)NULL, true, INT64_C(1)),
                   GH_ERR_CONFLICT);
  gh_store_rollback(s);
  assert_int_equal(rt_count(s, a), 2);
  /* explicit rollback of a healthy transaction, and a commit */
  assert_int_equal(gh_store_begin(s), GH_OK);
  assert_int_equal(gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "c", "x", T0, (const int64_t *)NULL,
                                 true, INT64_C(1)),
                   GH_OK);
  gh_store_rollback(s);
  assert_int_equal(rt_count(s, a), 2);
  gh_store_rollback(s); /* none open: nothing happens */
  assert_int_equal(gh_store_begin(s), GH_OK);
  assert_int_equal(gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "d", "y", T0, (const int64_t *)NULL,
                                 true, INT64_C(1)),
                   GH_OK);
  assert_int_equal(gh_store_commit(s), GH_OK);
  assert_int_equal(rt_count(s, a), 3);

  /* gh_store_end: rolls back on an error, commits on GH_OK */
  assert_int_equal(gh_store_begin(s), GH_OK);
  gh_status st = gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "e", "z", T0, (const int64_t *)NULL,
                               true, INT64_C(1));
  assert_int_equal(st, GH_OK);
  if (st == GH_OK)
    st = gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "e", "dup", T0, (const int64_t *)NULL, true,
                       INT64_C(1));
  assert_int_equal(gh_store_end(s, st), GH_ERR_CONFLICT);
  assert_int_equal(rt_count(s, a), 3);
  assert_int_equal(gh_store_begin(s), GH_OK);
  st = gh_store_exec(s, &RT_INSERT, NULL, "ttdDbi", "e", "z", T0, (const int64_t *)NULL, true,
                     INT64_C(1));
  assert_int_equal(gh_store_end(s, st), GH_OK);
  assert_int_equal(rt_count(s, a), 4);

  assert_int_equal(gh_store_exec(s, &RT_FLAG_ALL, &changes, "b", true), GH_OK);
  assert_int_equal(changes, 4);

  /* misuse */
  static const gh_query wrong_cols = {"rt_wrong", "select \"id\", \"note\" from \"runner_t\"",
                                      "select \"id\", \"note\" from \"runner_t\"", "t"};
  static const gh_query bad_cols = {"rt_bad", "select 1", "select 1", "x"};
  assert_int_equal(gh_store_query(s, a, &wrong_cols, &r, ""), GH_ERR_INVALID);
  assert_int_equal(gh_store_query(s, a, &bad_cols, &r, ""), GH_ERR_INVALID);
  assert_int_equal(gh_store_exec(s, &RT_FLAG_ALL, NULL, "z", 1), GH_ERR_INVALID);
  /* a query without a text for this backend runs nothing */
  assert_int_equal(
      gh_store_query(s, a, g_kind == GH_STORE_SQLITE ? &RT_PG_ONLY : &RT_SQLITE_ONLY, &r, ""),
      GH_OK);
  assert_int_equal(r.n, 0);
  assert_int_equal(
      gh_store_query(s, a, g_kind == GH_STORE_SQLITE ? &RT_SQLITE_ONLY : &RT_PG_ONLY, &r, ""),
      GH_OK);
  assert_int_equal(r.n, 1);
  gh_arena_free(a);
}

/* --- tests: extra migrations --------------------------------------------------------------- */

/* 902 inserts into 901's table: it fails unless 901 ran first. */
static const gh_store_migration EXTRA[] = {
    {"901_plug_a", "create table \"plug_a\" (\"id\" text not null primary key)",
     "create table \"plug_a\" (\"id\" text not null primary key)"},
    {"902_plug_b",
     "create table \"plug_b\" (\"id\" text not null primary key); insert into \"plug_a\" "
     "(\"id\") values ('from-902')",
     "create table \"plug_b\" (\"id\" text not null primary key); insert into \"plug_a\" "
     "(\"id\") values ('from-902')"},
};
/* creates a table, then fails: neither the table nor its record may remain */
static const gh_store_migration BROKEN[] = {
    {"903_broken", "create table \"plug_c\" (\"id\" text); this is not sql",
     "create table \"plug_c\" (\"id\" text); this is not sql"},
};

static const gh_query MIG_NAMES = {
    "mig_names",
    "select \"name\" from \"gatehouse_migrations\" where \"name\" like '9%' order by \"name\"",
    "select \"name\" from \"gatehouse_migrations\" where \"name\" like '9%' order by \"name\"",
    "t"};
static const gh_query PLUG_A = {"plug_a", "select \"id\" from \"plug_a\"",
                                "select \"id\" from \"plug_a\"", "t"};
static const gh_query PLUG_C = {"plug_c", "select \"id\" from \"plug_c\"",
                                "select \"id\" from \"plug_c\"", "t"};
static const gh_query USER_ANY = {"user_any", "select \"id\" from \"user\"",
                                  "select \"id\" from \"user\"", "t"};

static void test_extra_migrations(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_rows r;
  int n = -1;
  assert_int_equal(gh_store_check_schema(s, EXTRA, 2), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_migrate(s, NULL, 0, &n), GH_OK); /* core only */
  assert_int_equal(n, (int)migration_count());
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  assert_int_equal(gh_store_check_schema(s, EXTRA, 2), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_check_schema(s, EXTRA, 1), GH_ERR_SCHEMA);

  assert_int_equal(gh_store_migrate(s, EXTRA, 2, &n), GH_OK);
  assert_int_equal(n, 2);
  assert_int_equal(gh_store_check_schema(s, EXTRA, 2), GH_OK);
  assert_int_equal(gh_store_query(s, a, &MIG_NAMES, &r, ""), GH_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(gh_rows_at(&r, 0)[0].text, "901_plug_a");
  assert_string_equal(gh_rows_at(&r, 1)[0].text, "902_plug_b");
  assert_int_equal(gh_store_query(s, a, &PLUG_A, &r, ""), GH_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(gh_rows_at(&r, 0)[0].text, "from-902");
  assert_int_equal(gh_store_migrate(s, EXTRA, 2, &n), GH_OK); /* idempotent */
  assert_int_equal(n, 0);

  /* a failing one is rolled back whole and stays pending */
  assert_int_equal(gh_store_migrate(s, BROKEN, 1, &n), GH_ERR_DB);
  assert_int_equal(n, 0);
  assert_int_equal(gh_store_check_schema(s, BROKEN, 1), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_check_schema(s, EXTRA, 2), GH_OK);
  assert_int_equal(gh_store_query(s, a, &PLUG_C, &r, ""), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_query(s, a, &MIG_NAMES, &r, ""), GH_OK);
  assert_int_equal(r.n, 2);
  gh_arena_free(a);
}

/* A column better-auth may have added first (a plugin's user field): the migration adding it
 * succeeds on a database that has it (PostgreSQL: IF NOT EXISTS; SQLite: the duplicate-column
 * error of an ALTER TABLE ... ADD COLUMN is taken as done), and other errors still fail. */
static const gh_store_migration ADD_COL[] = {
    {"903_add_col",
     "create table if not exists \"t903\" (\"id\" text);\n-- the column\nalter table \"user\" add "
     "column \"extraFlag\" integer;\n-- done\n",
     "alter table \"user\" add column if not exists \"extraFlag\" boolean;"},
};
static const gh_store_migration ADD_COL_BROKEN[] = {
    {"904_add_col_broken", "alter table \"nosuchtable\" add column \"x\" integer",
     "alter table \"nosuchtable\" add column if not exists \"x\" boolean"},
};
static const gh_query ADD_COL_FIRST = {
    "add_col_first", "alter table \"user\" add column \"extraFlag\" integer",
    "alter table \"user\" add column \"extraFlag\" boolean", NULL};
static const gh_query READ_COL = {"read_col", "select \"extraFlag\" from \"user\"",
                                  "select \"extraFlag\" from \"user\"", NULL};

static void test_add_column_existing(void **state) {
  gh_store *s = *state;
  int n = -1;
  assert_int_equal(gh_store_exec(s, &ADD_COL_FIRST, NULL, ""), GH_OK); /* better-auth was first */
  assert_int_equal(gh_store_migrate(s, ADD_COL, 1, &n), GH_OK);
  assert_int_equal(n, 1);
  assert_int_equal(gh_store_check_schema(s, ADD_COL, 1), GH_OK);
  assert_int_equal(gh_store_exec(s, &READ_COL, NULL, ""), GH_OK);
  assert_int_not_equal(gh_store_migrate(s, ADD_COL_BROKEN, 1, &n), GH_OK);
  assert_int_equal(gh_store_check_schema(s, ADD_COL_BROKEN, 1), GH_ERR_SCHEMA);
}

static const gh_store_ledger TEST_LEDGER = {
    .create = {"l_create",
               "create table if not exists \"own_migrations\" (\"name\" text primary key, \"at\" "
               "text not null)",
               "create table if not exists \"own_migrations\" (\"name\" text primary key, \"at\" "
               "timestamptz not null)",
               NULL},
    .exists = {"l_exists",
               "select exists (select 1 from sqlite_master where type = 'table' and name = "
               "'own_migrations')",
               "select to_regclass('\"own_migrations\"') is not null", "b"},
    .applied = {"l_applied", "select 1 from \"own_migrations\" where \"name\" = ?1",
                "select 1 from \"own_migrations\" where \"name\" = $1", NULL},
    .record = {"l_record", "insert into \"own_migrations\" (\"name\", \"at\") values (?1, ?2)",
               "insert into \"own_migrations\" (\"name\", \"at\") values ($1, $2)", NULL},
    .lock = {"l_lock", NULL, "select pg_advisory_xact_lock(7152026999)", NULL},
};
static const gh_query OWN_NAMES = {
    "own_names", "select \"name\" from \"own_migrations\" order by \"name\"",
    "select \"name\" from \"own_migrations\" order by \"name\"", "t"};

static void test_migrate_list(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_rows r;
  int n = -1;
  assert_int_equal(gh_store_check_list(s, &TEST_LEDGER, EXTRA, 2), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_migrate_list(s, &TEST_LEDGER, EXTRA, 2, &n), GH_OK);
  assert_int_equal(n, 2);
  assert_int_equal(gh_store_check_list(s, &TEST_LEDGER, EXTRA, 2), GH_OK);
  assert_int_equal(gh_store_migrate_list(s, &TEST_LEDGER, EXTRA, 2, &n), GH_OK);
  assert_int_equal(n, 0);
  assert_int_equal(gh_store_query(s, a, &OWN_NAMES, &r, ""), GH_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(gh_rows_at(&r, 1)[0].text, "902_plug_b");
  /* no gatehouse table */
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_query(s, a, &USER_ANY, &r, ""), GH_ERR_SCHEMA);
  gh_arena_free(a);
}

/* --- tests: users ------------------------------------------------------------------------- */

static void test_create_user_conflict(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_user u1 = mk_user("u1", "ann@example.com", T0);
  gh_account c1 = mk_cred("acc1", "u1", "salt:hash1", T0);
  gh_session s1 = mk_session("s1", "tok1", "u1", T0, T0 + 7 * DAY);
  assert_int_equal(gh_store_create_user(s, &u1, &c1, &s1), GH_OK);

  gh_user got;
  assert_int_equal(gh_store_user_by_email(s, a, "ann@example.com", &got), GH_OK);
  assert_string_equal(got.id, "u1");
  assert_int_equal(gh_store_user_by_email(s, a, "Ann@example.com", &got), GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_user_by_email(s, a, "ann@example.co", &got), GH_ERR_NOT_FOUND);
  assert_password(s, "u1", "salt:hash1");
  assert_true(has_session(s, "tok1"));

  /* same e-mail: conflict, and neither the account nor the session of that call exists */
  gh_user u2 = mk_user("u2", "ann@example.com", T0);
  gh_account c2 = mk_cred("acc2", "u2", "salt:hash2", T0);
  gh_session s2 = mk_session("s2", "tok2", "u2", T0, T0 + DAY);
  assert_int_equal(gh_store_create_user(s, &u2, &c2, &s2), GH_ERR_CONFLICT);
  assert_no_user(s, "u2");
  assert_password(s, "u2", NULL);
  assert_false(has_session(s, "tok2"));

  /* user and account inserted, then the session fails (duplicate token): all rolled back */
  gh_user u3 = mk_user("u3", "bob@example.com", T0);
  gh_account c3 = mk_cred("acc3", "u3", "salt:hash3", T0);
  gh_session s3 = mk_session("s3", "tok1", "u3", T0, T0 + DAY);
  assert_int_equal(gh_store_create_user(s, &u3, &c3, &s3), GH_ERR_CONFLICT);
  assert_no_user(s, "u3");
  assert_int_equal(gh_store_user_by_email(s, a, "bob@example.com", &got), GH_ERR_NOT_FOUND);
  assert_password(s, "u3", NULL);

  /* duplicate account id after the user row: rolled back too */
  gh_account c4 = mk_cred("acc1", "u4", "salt:hash4", T0);
  gh_user u4 = mk_user("u4", "cy@example.com", T0);
  assert_int_equal(gh_store_create_user(s, &u4, &c4, NULL), GH_ERR_CONFLICT);
  assert_no_user(s, "u4");

  /* and the store still works after the failed transactions */
  assert_int_equal(gh_store_create_user(s, &u3, &c3, NULL), GH_OK);
  assert_password(s, "u3", "salt:hash3");
  assert_password(s, "u1", "salt:hash1");
  assert_true(has_session(s, "tok1"));
  gh_arena_free(a);
}

static void test_update_user(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_user u = mk_user("u1", "ann@example.com", T0);
  u.image = "https://img.example/a.png";
  u.email_verified = true;
  assert_int_equal(gh_store_create_user(s, &u, NULL, NULL), GH_OK);
  gh_user got;
  assert_int_equal(gh_store_user_by_id(s, a, "u1", &got), GH_OK);
  assert_string_equal(got.image, "https://img.example/a.png");
  assert_true(got.email_verified);

  assert_int_equal(gh_store_update_user(s, "u1", "Ann B", false, NULL, T0 + 10), GH_OK);
  assert_int_equal(gh_store_user_by_id(s, a, "u1", &got), GH_OK);
  assert_string_equal(got.name, "Ann B");
  assert_string_equal(got.image, "https://img.example/a.png");
  assert_true(got.updated_at == T0 + 10);
  assert_true(got.created_at == T0);

  assert_int_equal(gh_store_update_user(s, "u1", NULL, true, NULL, T0 + 20), GH_OK);
  assert_int_equal(gh_store_user_by_id(s, a, "u1", &got), GH_OK);
  assert_string_equal(got.name, "Ann B");
  assert_null(got.image);
  assert_true(got.updated_at == T0 + 20);

  assert_int_equal(gh_store_update_user(s, "u1", NULL, true, "x.png", T0 + 30), GH_OK);
  assert_int_equal(gh_store_user_by_id(s, a, "u1", &got), GH_OK);
  assert_string_equal(got.image, "x.png");
  assert_int_equal(gh_store_update_user(s, "nobody", "N", false, NULL, T0), GH_ERR_NOT_FOUND);
  gh_arena_free(a);
}

static void test_delete_user(void **state) {
  gh_store *s = *state;
  gh_user u1 = mk_user("u1", "ann@example.com", T0);
  gh_account c1 = mk_cred("acc1", "u1", "salt:h", T0);
  gh_session s1 = mk_session("s1", "tok1", "u1", T0, T0 + DAY);
  assert_int_equal(gh_store_create_user(s, &u1, &c1, &s1), GH_OK);
  add_session(s, "s2", "tok2", "u1", T0, T0 + DAY);
  add_user(s, "u2", "bob@example.com");
  add_session(s, "s3", "tok3", "u2", T0, T0 + DAY);

  assert_int_equal(gh_store_delete_user(s, "u1"), GH_OK);
  assert_no_user(s, "u1");
  assert_password(s, "u1", NULL);
  assert_false(has_session(s, "tok1"));
  assert_false(has_session(s, "tok2"));
  assert_true(has_session(s, "tok3"));
  assert_int_equal(gh_store_delete_user(s, "u1"), GH_ERR_NOT_FOUND);
  /* the e-mail is free again */
  assert_int_equal(gh_store_create_user(s, &u1, &c1, &s1), GH_OK);
}

/* --- tests: sessions ---------------------------------------------------------------------- */

static void test_session_roundtrip(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_user u = mk_user("u1", "ann@example.com", T0 + 1);
  gh_session x = mk_session("s1", "tok1", "u1", T0 + 3, T0 + 7 * DAY + 5);
  x.updated_at = T0 + 999;
  assert_int_equal(gh_store_create_user(s, &u, NULL, &x), GH_OK);

  gh_session gs;
  gh_user gu;
  assert_int_equal(gh_store_session_by_token(s, a, "tok1", &gs, &gu), GH_OK);
  assert_string_equal(gs.id, "s1");
  assert_string_equal(gs.token, "tok1");
  assert_string_equal(gs.user_id, "u1");
  assert_true(gs.created_at == T0 + 3);
  assert_true(gs.updated_at == T0 + 999);
  assert_true(gs.expires_at == T0 + 7 * DAY + 5);
  assert_null(gs.ip_address);
  assert_null(gs.user_agent);
  assert_string_equal(gu.id, "u1");
  assert_string_equal(gu.name, "Ann Example");
  assert_string_equal(gu.email, "ann@example.com");
  assert_false(gu.email_verified);
  assert_null(gu.image);
  assert_true(gu.created_at == T0 + 1);
  assert_true(gu.updated_at == T0 + 2);

  gh_user u2 = mk_user("u2", "bob@example.com", T0);
  u2.email_verified = true;
  u2.image = "https://img.example/\xc3\xa9.png";
  u2.name = "Bj\xc3\xb6rn \"Bob\" O'Neil";
  assert_int_equal(gh_store_create_user(s, &u2, NULL, NULL), GH_OK);
  gh_session y = mk_session("s2", "tok2", "u2", T0 - 86399999, T0 + 1);
  y.ip_address = "2001:db8::1";
  y.user_agent = "Mozilla/5.0 (X11; Linux x86_64) \"quoted\"";
  assert_int_equal(gh_store_create_session(s, &y), GH_OK);
  assert_int_equal(gh_store_session_by_token(s, a, "tok2", &gs, &gu), GH_OK);
  assert_string_equal(gs.id, "s2");
  assert_string_equal(gs.user_id, "u2");
  assert_true(gs.created_at == T0 - 86399999);
  assert_true(gs.expires_at == T0 + 1);
  assert_string_equal(gs.ip_address, "2001:db8::1");
  assert_string_equal(gs.user_agent, "Mozilla/5.0 (X11; Linux x86_64) \"quoted\"");
  assert_string_equal(gu.id, "u2");
  assert_string_equal(gu.name, "Bj\xc3\xb6rn \"Bob\" O'Neil");
  assert_true(gu.email_verified);
  assert_string_equal(gu.image, "https://img.example/\xc3\xa9.png");

  assert_int_equal(gh_store_session_by_token(s, a, "nope", &gs, &gu), GH_ERR_NOT_FOUND);
  /* a session of an unknown user cannot be created */
  gh_session z = mk_session("s3", "tok3", "ghost", T0, T0 + DAY);
  assert_int_equal(gh_store_create_session(s, &z), GH_ERR_NOT_FOUND);
  /* duplicate token */
  gh_session d = mk_session("s4", "tok1", "u1", T0, T0 + DAY);
  assert_int_equal(gh_store_create_session(s, &d), GH_ERR_CONFLICT);
  gh_arena_free(a);
}

static void test_touch_session(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  add_user(s, "u1", "ann@example.com");
  add_session(s, "s1", "tok1", "u1", T0, T0 + DAY);
  assert_int_equal(gh_store_touch_session(s, "s1", T0 + 7 * DAY + 123, T0 + 456), GH_OK);
  gh_session gs;
  gh_user gu;
  assert_int_equal(gh_store_session_by_token(s, a, "tok1", &gs, &gu), GH_OK);
  assert_true(gs.expires_at == T0 + 7 * DAY + 123);
  assert_true(gs.updated_at == T0 + 456);
  assert_true(gs.created_at == T0);
  assert_int_equal(gh_store_touch_session(s, "nope", T0, T0), GH_ERR_NOT_FOUND);
  gh_arena_free(a);
}

static void test_list_sessions(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  int64_t now = T0 + 10 * DAY;
  add_user(s, "u1", "ann@example.com");
  add_user(s, "u2", "bob@example.com");
  add_session(s, "sa", "ta", "u1", T0 + 300, now + DAY);
  add_session(s, "sb", "tb", "u1", T0 + 100, now + 1);
  add_session(s, "sc", "tc", "u1", T0 + 200, now - 1); /* expired */
  add_session(s, "sd", "td", "u1", T0 + 50, now);      /* expires exactly now: expired */
  add_session(s, "se", "te", "u2", T0, now + DAY);     /* another user's */

  gh_session *v = NULL;
  size_t n = 99;
  assert_int_equal(gh_store_list_sessions(s, a, "u1", now, &v, &n), GH_OK);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].id, "sb");
  assert_string_equal(v[1].id, "sa");
  assert_string_equal(v[1].token, "ta");
  assert_true(v[1].created_at == T0 + 300);
  assert_true(v[1].expires_at == now + DAY);

  assert_int_equal(gh_store_list_sessions(s, a, "u1", T0, &v, &n), GH_OK);
  assert_int_equal(n, 4);
  assert_string_equal(v[0].id, "sd");
  assert_string_equal(v[3].id, "sa");

  assert_int_equal(gh_store_list_sessions(s, a, "nobody", now, &v, &n), GH_OK);
  assert_int_equal(n, 0);
  gh_arena_free(a);
}

static void test_delete_sessions(void **state) {
  gh_store *s = *state;
  add_user(s, "u1", "ann@example.com");
  add_user(s, "u2", "bob@example.com");
  add_session(s, "s1", "t1", "u1", T0, T0 + DAY);
  add_session(s, "s2", "t2", "u1", T0, T0 + DAY);
  add_session(s, "s3", "t3", "u1", T0, T0 + DAY);
  add_session(s, "s4", "t4", "u2", T0, T0 + DAY);

  /* delete_user_session: only the user's own */
  assert_int_equal(gh_store_delete_user_session(s, "u1", "t4"), GH_OK);
  assert_true(has_session(s, "t4"));
  assert_int_equal(gh_store_delete_user_session(s, "u1", "t1"), GH_OK);
  assert_false(has_session(s, "t1"));
  assert_int_equal(gh_store_delete_user_session(s, "u1", "t1"), GH_OK);

  /* delete_user_sessions with except */
  add_session(s, "s1", "t1", "u1", T0, T0 + DAY);
  assert_int_equal(gh_store_delete_user_sessions(s, "u1", "t2"), GH_OK);
  assert_false(has_session(s, "t1"));
  assert_true(has_session(s, "t2"));
  assert_false(has_session(s, "t3"));
  assert_true(has_session(s, "t4"));
  assert_int_equal(gh_store_delete_user_sessions(s, "u1", NULL), GH_OK);
  assert_false(has_session(s, "t2"));
  assert_true(has_session(s, "t4"));

  /* delete_session by token */
  assert_int_equal(gh_store_delete_session(s, "t4"), GH_OK);
  assert_false(has_session(s, "t4"));
  assert_int_equal(gh_store_delete_session(s, "t4"), GH_OK);
}

static void test_purge_expired(void **state) {
  gh_store *s = *state;
  int64_t now = T0 + DAY;
  long deleted = -1;
  add_user(s, "u1", "ann@example.com");
  add_session(s, "s1", "t1", "u1", T0, now - 1);
  add_session(s, "s2", "t2", "u1", T0, now);
  add_session(s, "s3", "t3", "u1", T0, now + 1);
  add_session(s, "s4", "t4", "u1", T0, now + 400 * DAY);
  assert_int_equal(gh_store_purge_expired(s, now, &deleted), GH_OK);
  assert_int_equal(deleted, 2);
  assert_false(has_session(s, "t1"));
  assert_false(has_session(s, "t2"));
  assert_true(has_session(s, "t3"));
  assert_true(has_session(s, "t4"));
  assert_int_equal(gh_store_purge_expired(s, now, NULL), GH_OK);
  assert_int_equal(gh_store_purge_expired(s, now, &deleted), GH_OK);
  assert_int_equal(deleted, 0);
}

/* --- tests: jwks --------------------------------------------------------------------------- */

static void add_key(gh_store *s, const char *id, int64_t created, bool expiring, int64_t expires,
                    int64_t retire_at) {
  gh_jwks_row r = {.id = (char *)id,
                   .public_key = "{\"crv\":\"Ed25519\",\"x\":\"AAAA\",\"kty\":\"OKP\"}",
                   .private_key = "\"00ff\"",
                   .alg = "EdDSA",
                   .crv = "Ed25519",
                   .created_at = created,
                   .has_expiry = expiring,
                   .expires_at = expires};
  assert_int_equal(gh_jwt_store_insert(s, &r, retire_at), GH_OK);
}

static void test_jwks(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_jwks_row *rows;
  size_t n = 99;
  assert_int_equal(gh_jwt_store_list(s, a, &rows, &n), GH_OK);
  assert_int_equal(n, 0);
  /* Inserted out of order: listed by createdAt. */
  add_key(s, "k2", T0 + 2000, false, 0, 0);
  add_key(s, "k1", T0 + 1000, true, T0 + DAY, 0);
  gh_jwks_row rsa = {.id = "k3",
                     .public_key = "{\"kty\":\"RSA\"}",
                     .private_key = "\"aa\"",
                     .alg = "RS256",
                     .crv = NULL,
                     .created_at = T0 + 3000};
  assert_int_equal(gh_jwt_store_insert(s, &rsa, 0), GH_OK);
  assert_int_equal(gh_jwt_store_list(s, a, &rows, &n), GH_OK);
  assert_int_equal(n, 3);
  assert_string_equal(rows[0].id, "k1");
  assert_true(rows[0].has_expiry);
  assert_int_equal(rows[0].expires_at, T0 + DAY);
  assert_string_equal(rows[1].id, "k2");
  assert_false(rows[1].has_expiry);
  assert_string_equal(rows[1].private_key, "\"00ff\"");
  assert_string_equal(rows[1].public_key, "{\"crv\":\"Ed25519\",\"x\":\"AAAA\",\"kty\":\"OKP\"}");
  assert_string_equal(rows[2].alg, "RS256");
  assert_null(rows[2].crv);
  /* Rotation: retire_at sets expiresAt on keys without one or with a later one, then inserts. */
  add_key(s, "k4", T0 + 4000, false, 0, T0 + 3500);
  assert_int_equal(gh_jwt_store_list(s, a, &rows, &n), GH_OK);
  assert_int_equal(n, 4);
  for (size_t i = 0; i < 3; i++) {
    assert_true(rows[i].has_expiry);
    assert_int_equal(rows[i].expires_at, T0 + 3500);
  }
  assert_string_equal(rows[3].id, "k4");
  assert_false(rows[3].has_expiry);
  /* A duplicate id rolls the whole rotation back: nothing retired, nothing inserted. */
  gh_jwks_row dup = {
      .id = "k4", .public_key = "{}", .private_key = "\"\"", .created_at = T0 + 5000};
  assert_int_equal(gh_jwt_store_insert(s, &dup, T0 + 4500), GH_ERR_CONFLICT);
  assert_int_equal(gh_jwt_store_list(s, a, &rows, &n), GH_OK);
  assert_int_equal(n, 4);
  assert_false(rows[3].has_expiry);
  gh_arena_free(a);
}

/* --- tests: passwords --------------------------------------------------------------------- */

static void test_set_password(void **state) {
  gh_store *s = *state;
  gh_user u1 = mk_user("u1", "ann@example.com", T0);
  gh_account c1 = mk_cred("acc1", "u1", "salt:h1", T0);
  assert_int_equal(gh_store_create_user(s, &u1, &c1, NULL), GH_OK);
  add_session(s, "s1", "t1", "u1", T0, T0 + DAY);
  add_session(s, "s2", "t2", "u1", T0, T0 + DAY);
  add_user(s, "u2", "bob@example.com");
  add_session(s, "s9", "t9", "u2", T0, T0 + DAY);

  /* existing account: updated in place, sessions kept */
  assert_int_equal(gh_store_set_password(s, "u1", "salt:h2", "accX", T0 + 5, false, NULL), GH_OK);
  assert_password(s, "u1", "salt:h2");
  assert_true(has_session(s, "t1"));
  assert_true(has_session(s, "t2"));

  /* no credential account: NOT_FOUND without an id, inserted with one */
  assert_password(s, "u2", NULL);
  assert_int_equal(gh_store_set_password(s, "u2", "salt:h3", NULL, T0, false, NULL),
                   GH_ERR_NOT_FOUND);
  assert_password(s, "u2", NULL);
  assert_int_equal(gh_store_set_password(s, "u2", "salt:h3", "acc2", T0, false, NULL), GH_OK);
  assert_password(s, "u2", "salt:h3");
  assert_true(has_session(s, "t9"));
  /* an account id that is taken: conflict */
  add_user(s, "u3", "cy@example.com");
  assert_int_equal(gh_store_set_password(s, "u3", "salt:h", "acc2", T0, false, NULL),
                   GH_ERR_CONFLICT);
  assert_password(s, "u3", NULL);
  /* unknown user */
  assert_int_equal(gh_store_set_password(s, "ghost", "salt:h", "accG", T0, false, NULL),
                   GH_ERR_NOT_FOUND);

  /* revoke all sessions and open a new one, atomically */
  gh_session ns = mk_session("sN", "tN", "u1", T0 + 6, T0 + DAY);
  assert_int_equal(gh_store_set_password(s, "u1", "salt:h4", NULL, T0 + 6, true, &ns), GH_OK);
  assert_password(s, "u1", "salt:h4");
  assert_false(has_session(s, "t1"));
  assert_false(has_session(s, "t2"));
  assert_true(has_session(s, "tN"));
  assert_true(has_session(s, "t9"));

  /* the new session fails (token taken by u2): password and sessions unchanged */
  gh_session bad = mk_session("sB", "t9", "u1", T0 + 7, T0 + DAY);
  assert_int_equal(gh_store_set_password(s, "u1", "salt:h5", NULL, T0 + 7, true, &bad),
                   GH_ERR_CONFLICT);
  assert_password(s, "u1", "salt:h4");
  assert_true(has_session(s, "tN"));
  /* same with a missing account that would have been inserted */
  gh_session bad2 = mk_session("sB", "t9", "u3", T0 + 7, T0 + DAY);
  assert_int_equal(gh_store_set_password(s, "u3", "salt:h", "acc3", T0 + 7, false, &bad2),
                   GH_ERR_CONFLICT);
  assert_password(s, "u3", NULL);

  /* a NULL password reads as no credential */
  gh_user u4 = mk_user("u4", "dee@example.com", T0);
  gh_account c4 = mk_cred("acc4", "u4", NULL, T0);
  assert_int_equal(gh_store_create_user(s, &u4, &c4, NULL), GH_OK);
  assert_password(s, "u4", NULL);
  /* ... and an OAuth-style account is not the credential account */
  gh_user u5 = mk_user("u5", "eve@example.com", T0);
  gh_account c5 = mk_cred("acc5", "u5", "salt:h", T0);
  c5.provider_id = "github";
  c5.account_id = "12345";
  assert_int_equal(gh_store_create_user(s, &u5, &c5, NULL), GH_OK);
  assert_password(s, "u5", NULL);
}

/* --- tests: better-auth databases --------------------------------------------------------- */

/* better-auth 1.7.1 with the admin plugin: extra nullable columns and a NOT NULL account.issuer */
static const char BA_SQLITE[] =
    "create table \"user\" (\"id\" text not null primary key, \"name\" text not null, \"email\" "
    "text not null unique, \"emailVerified\" integer not null, \"image\" text, \"createdAt\" date "
    "not null, \"updatedAt\" date not null, \"role\" text, \"banned\" integer, \"banReason\" text, "
    "\"banExpires\" date);"
    "create table \"session\" (\"id\" text not null primary key, \"expiresAt\" date not null, "
    "\"token\" text not null unique, \"createdAt\" date not null, \"updatedAt\" date not null, "
    "\"ipAddress\" text, \"userAgent\" text, \"userId\" text not null references \"user\" (\"id\") "
    "on delete cascade, \"impersonatedBy\" text);"
    "create table \"account\" (\"id\" text not null primary key, \"accountId\" text not null, "
    "\"providerId\" text not null, \"userId\" text not null references \"user\" (\"id\") on delete "
    "cascade, \"accessToken\" text, \"refreshToken\" text, \"idToken\" text, "
    "\"accessTokenExpiresAt\" date, \"refreshTokenExpiresAt\" date, \"scope\" text, \"password\" "
    "text, \"createdAt\" date not null, \"updatedAt\" date not null, \"issuer\" text not null);"
    "create unique index \"account_issuer_accountId_uidx\" on \"account\" (\"issuer\", "
    "\"accountId\");"
    "create table \"verification\" (\"id\" text not null primary key, \"identifier\" text not "
    "null, \"value\" text not null, \"expiresAt\" date not null, \"createdAt\" date not null, "
    "\"updatedAt\" date not null);"
    "create index \"session_userId_idx\" on \"session\" (\"userId\");"
    "insert into \"user\" (\"id\", \"name\", \"email\", \"emailVerified\", \"image\", "
    "\"createdAt\", \"updatedAt\", \"role\") values ('ba1', 'Old', 'old@example.com', 1, null, "
    "'2026-11-23T07:40:27.137Z', '2026-11-23T07:40:28.000Z', 'admin');"
    "insert into \"session\" (\"id\", \"expiresAt\", \"token\", \"createdAt\", \"updatedAt\", "
    "\"userId\") values ('bas1', '2026-11-30T07:40:27.137Z', 'batok', '2026-11-23T07:40:27.137Z', "
    "'2026-11-23T07:40:27.137Z', 'ba1');";

static const char BA_PG[] =
    "create table \"user\" (\"id\" text not null primary key, \"name\" text not null, \"email\" "
    "text not null unique, \"emailVerified\" boolean not null, \"image\" text, \"createdAt\" "
    "timestamptz default CURRENT_TIMESTAMP not null, \"updatedAt\" timestamptz default "
    "CURRENT_TIMESTAMP not null, \"role\" text, \"banned\" boolean, \"banReason\" text, "
    "\"banExpires\" timestamptz);"
    "create table \"session\" (\"id\" text not null primary key, \"expiresAt\" timestamptz not "
    "null, \"token\" text not null unique, \"createdAt\" timestamptz default CURRENT_TIMESTAMP not "
    "null, \"updatedAt\" timestamptz not null, \"ipAddress\" text, \"userAgent\" text, \"userId\" "
    "text not null references \"user\" (\"id\") on delete cascade, \"impersonatedBy\" text);"
    "create table \"account\" (\"id\" text not null primary key, \"accountId\" text not null, "
    "\"providerId\" text not null, \"userId\" text not null references \"user\" (\"id\") on delete "
    "cascade, \"accessToken\" text, \"refreshToken\" text, \"idToken\" text, "
    "\"accessTokenExpiresAt\" timestamptz, \"refreshTokenExpiresAt\" timestamptz, \"scope\" text, "
    "\"password\" text, \"createdAt\" timestamptz default CURRENT_TIMESTAMP not null, "
    "\"updatedAt\" timestamptz not null, \"issuer\" text not null);"
    "create unique index \"account_issuer_accountId_uidx\" on \"account\" (\"issuer\", "
    "\"accountId\");"
    "create table \"verification\" (\"id\" text not null primary key, \"identifier\" text not "
    "null, \"value\" text not null, \"expiresAt\" timestamptz not null, \"createdAt\" timestamptz "
    "default CURRENT_TIMESTAMP not null, \"updatedAt\" timestamptz default CURRENT_TIMESTAMP not "
    "null);"
    "create index \"session_userId_idx\" on \"session\" (\"userId\");"
    "insert into \"user\" (\"id\", \"name\", \"email\", \"emailVerified\", \"image\", "
    "\"createdAt\", \"updatedAt\", \"role\") values ('ba1', 'Old', 'old@example.com', true, null, "
    "'2026-11-23T07:40:27.137Z', '2026-11-23T07:40:28.000Z', 'admin');"
    "insert into \"session\" (\"id\", \"expiresAt\", \"token\", \"createdAt\", \"updatedAt\", "
    "\"userId\") values ('bas1', '2026-11-30T07:40:27.137Z', 'batok', '2026-11-23T07:40:27.137Z', "
    "'2026-11-23T07:40:27.137Z', 'ba1');";

static void test_better_auth_issuer(void **state) {
  (void)state;
  char path[512];
  const char *target = NULL; /* raw access: NULL = PG test schema */
  gh_store *s = NULL;
  gh_arena *a = gh_arena_new();
  if (g_kind == GH_STORE_POSTGRES) {
    pg_reset_schema();
    pg_exec(g_pg_url, BA_PG);
    assert_int_equal(gh_store_open(g_pg_url, &s), GH_OK);
  } else {
    snprintf(path, sizeof path, "%s/better-auth.db", g_tmpdir);
    unlink(path);
    raw_exec(path, BA_SQLITE);
    target = path;
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(gh_store_open(url, &s), GH_OK);
  }
  int n = -1;
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_ERR_SCHEMA);
  assert_int_equal(gh_store_migrate(s, NULL, 0, &n), GH_OK);
  assert_int_equal(n, (int)migration_count());
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  /* the existing account table was kept as it is */
  char nmig[16];
  snprintf(nmig, sizeof nmig, "%zu", migration_count());
  assert_raw(target, "select count(*) from \"gatehouse_migrations\"", nmig);

  /* rows written by better-auth read back exactly */
  gh_session gs;
  gh_user gu;
  assert_int_equal(gh_store_session_by_token(s, a, "batok", &gs, &gu), GH_OK);
  assert_string_equal(gu.id, "ba1");
  assert_true(gu.email_verified);
  assert_true(gu.created_at == T0);
  assert_true(gu.updated_at == T0 + 863);
  assert_true(gs.expires_at == T0 + 7 * DAY);

  /* credential account inserts write issuer = 'local:credential' */
  gh_user u = mk_user("u1", "ann@example.com", T0);
  gh_account c = mk_cred("acc1", "u1", "salt:h1", T0);
  gh_session x = mk_session("s1", "tok1", "u1", T0, T0 + DAY);
  assert_int_equal(gh_store_create_user(s, &u, &c, &x), GH_OK);
  assert_password(s, "u1", "salt:h1");
  assert_raw(target, "select \"issuer\" from \"account\" where \"id\" = 'acc1'",
             "local:credential");
  /* ... also from set_password when the account is missing */
  assert_int_equal(gh_store_set_password(s, "ba1", "salt:h2", "acc2", T0, false, NULL), GH_OK);
  assert_password(s, "ba1", "salt:h2");
  assert_raw(target, "select \"issuer\" from \"account\" where \"id\" = 'acc2'",
             "local:credential");
  /* ... and an OAuth account gets local:oauth:<encoded provider> */
  gh_user u3 = mk_user("u3", "oa@example.com", T0);
  gh_account c3 = mk_cred("acc3", "u3", NULL, T0);
  c3.provider_id = "my provider";
  c3.account_id = "sub-1";
  assert_int_equal(gh_store_create_user(s, &u3, &c3, NULL), GH_OK);
  assert_raw(target, "select \"issuer\" from \"account\" where \"id\" = 'acc3'",
             "local:oauth:my%20provider");
  gh_account c4 = {.id = "acc4",
                   .account_id = "sub-4",
                   .provider_id = "acme",
                   .user_id = "u3",
                   .created_at = T0,
                   .updated_at = T0,
                   .access_token = "at"};
  assert_int_equal(gh_store_insert_account(s, &c4), GH_OK);
  assert_raw(target, "select \"issuer\" from \"account\" where \"id\" = 'acc4'",
             "local:oauth:acme");
  /* admin columns stay NULL, cascade still deletes */
  assert_raw(target, "select \"role\" from \"user\" where \"id\" = 'u1'", NULL);
  assert_int_equal(gh_store_delete_user(s, "ba1"), GH_OK);
  assert_false(has_session(s, "batok"));
  assert_password(s, "ba1", NULL);

  if (g_kind == GH_STORE_SQLITE) {
    /* stored exactly as better-auth stores them on SQLite */
    assert_raw(target, "select \"createdAt\" from \"user\" where \"id\" = 'u1'",
               "2026-11-23T07:40:27.137Z");
    assert_raw(target, "select \"updatedAt\" from \"user\" where \"id\" = 'u1'",
               "2026-11-23T07:40:27.138Z");
    assert_raw(target,
               "select typeof(\"emailVerified\") || \"emailVerified\" from \"user\" where "
               "\"id\" = 'u1'",
               "integer0");
    assert_raw(target, "select \"expiresAt\" from \"session\" where \"id\" = 's1'",
               "2026-11-24T07:40:27.137Z");
  } else {
    assert_raw(target, "select \"emailVerified\"::text from \"user\" where \"id\" = 'u1'", "false");
    assert_raw(target,
               "select to_char(\"expiresAt\" at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') "
               "from \"session\" where \"id\" = 's1'",
               "2026-11-24T07:40:27.137");
  }
  gh_store_close(s);
  gh_arena_free(a);
}

/* A database gatehouse created, then migrated by better-auth adding the admin columns, then
 * opened again: still fine (extra nullable columns are ignored). */
static void test_extra_columns(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  gh_user u = mk_user("u1", "ann@example.com", T0);
  assert_int_equal(gh_store_create_user(s, &u, NULL, NULL), GH_OK);
  gh_store_close(s);
  *state = NULL;
  if (g_kind == GH_STORE_SQLITE) {
    /* in-memory databases do not survive a close: use a file */
    char path[512], url[600];
    snprintf(path, sizeof path, "%s/extra.db", g_tmpdir);
    unlink(path);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(gh_store_open(url, &s), GH_OK);
    assert_int_equal(gh_store_migrate(s, NULL, 0, NULL), GH_OK);
    assert_int_equal(gh_store_create_user(s, &u, NULL, NULL), GH_OK);
    gh_store_close(s);
    raw_exec(path, "alter table \"user\" add column \"role\" text;"
                   "alter table \"user\" add column \"banned\" integer;"
                   "alter table \"session\" add column \"impersonatedBy\" text;");
    assert_int_equal(gh_store_open(url, &s), GH_OK);
  } else {
    raw_exec(NULL, "alter table \"user\" add column \"role\" text;"
                   "alter table \"user\" add column \"banned\" boolean;"
                   "alter table \"session\" add column \"impersonatedBy\" text;");
    assert_int_equal(gh_store_open(g_pg_url, &s), GH_OK);
  }
  *state = s;
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  gh_user u2 = mk_user("u2", "bob@example.com", T0);
  gh_session x = mk_session("s2", "tok2", "u2", T0, T0 + DAY);
  assert_int_equal(gh_store_create_user(s, &u2, NULL, &x), GH_OK);
  gh_session gs;
  gh_user gu;
  assert_int_equal(gh_store_session_by_token(s, a, "tok2", &gs, &gu), GH_OK);
  assert_string_equal(gu.email, "bob@example.com");
  gh_arena_free(a);
}

/* --- tests: SQLite specifics -------------------------------------------------------------- */

static void test_sqlite_file(void **state) {
  (void)state;
  char path[512], url[600];
  gh_store *s = NULL;
  snprintf(path, sizeof path, "%s/nested/dir/gatehouse.db", g_tmpdir);
  snprintf(url, sizeof url, "sqlite:%s", path);
  assert_int_equal(gh_store_open(url, &s), GH_OK);
  assert_int_equal(gh_store_migrate(s, NULL, 0, NULL), GH_OK);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_raw(path, "pragma journal_mode", "wal");
  /* a second connection (as another thread would have) sees the same data */
  gh_store *s2 = NULL;
  assert_int_equal(gh_store_open(url, &s2), GH_OK);
  assert_int_equal(gh_store_check_schema(s2, NULL, 0), GH_OK);
  add_user(s, "u1", "ann@example.com");
  add_session(s2, "s1", "t1", "u1", T0, T0 + DAY);
  assert_true(has_session(s, "t1"));
  gh_store_close(s2);
  gh_store_close(s);

  /* an invalid date written by someone else is a database error, not a crash */
  raw_exec(path, "update \"session\" set \"expiresAt\" = 'yesterday'");
  assert_int_equal(gh_store_open(url, &s), GH_OK);
  gh_arena *a = gh_arena_new();
  gh_session gs;
  gh_user gu;
  assert_int_equal(gh_store_session_by_token(s, a, "t1", &gs, &gu), GH_ERR_DB);
  /* dates with an offset or a space are accepted */
  raw_exec(path, "update \"session\" set \"expiresAt\" = '2026-11-23 08:40:27.137+01:00'");
  assert_int_equal(gh_store_session_by_token(s, a, "t1", &gs, &gu), GH_OK);
  assert_true(gs.expires_at == T0);
  gh_arena_free(a);
  gh_store_close(s);
}

/* Several connections writing at once: BEGIN IMMEDIATE + busy_timeout, so no SQLITE_BUSY. */
struct writer {
  const char *url;
  int index;
  int failures;
};

static void *writer_main(void *arg) {
  struct writer *w = arg;
  gh_store *s = NULL;
  if (gh_store_open(w->url, &s) != GH_OK) {
    w->failures = -1;
    return NULL;
  }
  for (int i = 0; i < 40; i++) {
    char id[32], email[64], acc[32], sid[32], tok[32];
    snprintf(id, sizeof id, "w%du%d", w->index, i);
    snprintf(email, sizeof email, "w%d.%d@example.com", w->index, i);
    snprintf(acc, sizeof acc, "w%da%d", w->index, i);
    snprintf(sid, sizeof sid, "w%ds%d", w->index, i);
    snprintf(tok, sizeof tok, "w%dt%d", w->index, i);
    gh_user u = mk_user(id, email, T0);
    gh_account c = mk_cred(acc, id, "salt:h", T0);
    gh_session x = mk_session(sid, tok, id, T0, T0 + DAY);
    if (gh_store_create_user(s, &u, &c, &x) != GH_OK) w->failures++;
    if (gh_store_set_password(s, id, "salt:h2", NULL, T0, true, NULL) != GH_OK) w->failures++;
    if (gh_store_touch_session(s, sid, T0 + DAY, T0) != GH_ERR_NOT_FOUND) w->failures++;
  }
  gh_store_close(s);
  return NULL;
}

static void test_sqlite_concurrent_writers(void **state) {
  (void)state;
  char url[600];
  gh_store *s = NULL;
  snprintf(url, sizeof url, "sqlite:%s/concurrent.db", g_tmpdir);
  assert_int_equal(gh_store_open(url, &s), GH_OK);
  assert_int_equal(gh_store_migrate(s, NULL, 0, NULL), GH_OK);
  pthread_t t[4];
  struct writer w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct writer){.url = url, .index = i, .failures = 0};
    assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].failures, 0);
  }
  assert_password(s, "w3u39", "salt:h2");
  gh_store_close(s);
}

/* --- tests: open / threads ---------------------------------------------------------------- */

static void test_open_errors(void **state) {
  (void)state;
  gh_store *s = (gh_store *)1;
  assert_int_equal(gh_store_open("mysql://localhost/x", &s), GH_ERR_CONFIG);
  assert_null(s);
  assert_int_equal(gh_store_open("sqlite:", &s), GH_ERR_CONFIG);
  assert_int_equal(gh_store_open("postgres://[::1/x", &s), GH_ERR_CONFIG);
  assert_int_equal(gh_store_open("postgres://127.0.0.1:1/x?connect_timeout=2", &s),
                   GH_ERR_DB_UNAVAILABLE);
  assert_null(s);
  assert_int_equal(gh_store_open("sqlite:/proc/gh-no-such/x.db", &s), GH_ERR_DB_UNAVAILABLE);
}

struct thread_result {
  gh_status first, second;
  gh_store *a, *b;
  gh_status ping;
};

static void *thread_main(void *arg) {
  struct thread_result *r = arg;
  r->first = gh_store_thread(&r->a);
  r->second = gh_store_thread(&r->b);
  r->ping = r->a ? gh_store_ping(r->a) : GH_ERR_DB;
  return NULL;
}

static struct thread_result run_thread(void) {
  pthread_t t;
  struct thread_result r = {0};
  assert_int_equal(pthread_create(&t, NULL, thread_main, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  return r;
}

static void test_thread_store(void **state) {
  (void)state;
  gh_store_thread_init("sqlite::memory:");
  struct thread_result r1 = run_thread();
  assert_int_equal(r1.first, GH_OK);
  assert_int_equal(r1.second, GH_OK);
  assert_non_null(r1.a);
  assert_ptr_equal(r1.a, r1.b);
  assert_int_equal(r1.ping, GH_OK);

  /* unreachable database: DB_UNAVAILABLE, retried on every call */
  gh_store_thread_init("postgres://127.0.0.1:1/x?connect_timeout=2");
  struct thread_result r2 = run_thread();
  assert_int_equal(r2.first, GH_ERR_DB_UNAVAILABLE);
  assert_int_equal(r2.second, GH_ERR_DB_UNAVAILABLE);
  assert_null(r2.a);

  gh_store_thread_init("nosuchdb://x");
  struct thread_result r3 = run_thread();
  assert_int_equal(r3.first, GH_ERR_CONFIG);
  gh_store_thread_init(NULL);
}

/* --- tests: PostgreSQL specifics ---------------------------------------------------------- */

static void pg_wait_gone(const char *app) {
  char sql[256];
  snprintf(sql, sizeof sql, "select count(*) from pg_stat_activity where application_name = '%s'",
           app);
  for (int i = 0; i < 100; i++) {
    PGconn *c = pg_connect(g_pg_admin);
    PGresult *r = PQexec(c, sql);
    bool gone = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") == 0;
    PQclear(r);
    PQfinish(c);
    if (gone) return;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fail_msg("backend %s did not exit", app);
}

/* The server drops the connection: the next call answers DB_UNAVAILABLE, the one after reconnects
 * (and re-prepares its statements). */
static void test_pg_reconnect(void **state) {
  (void)state;
  char url[4200];
  gh_store *s = NULL;
  gh_arena *a = gh_arena_new();
  pg_reset_schema();
  snprintf(url, sizeof url, "%s&application_name=gh_store_victim", g_pg_url);
  assert_int_equal(gh_store_open(url, &s), GH_OK);
  assert_int_equal(gh_store_migrate(s, NULL, 0, NULL), GH_OK);
  add_user(s, "u1", "ann@example.com");
  add_session(s, "s1", "t1", "u1", T0, T0 + DAY);
  assert_true(has_session(s, "t1"));

  pg_exec(g_pg_admin, "select pg_terminate_backend(pid) from pg_stat_activity where "
                      "application_name = 'gh_store_victim'");
  pg_wait_gone("gh_store_victim");
  gh_session gs;
  gh_user gu;
  /* a read outside a transaction reconnects and retries once: the caller never sees the drop */
  assert_int_equal(gh_store_session_by_token(s, a, "t1", &gs, &gu), GH_OK);
  assert_string_equal(gu.id, "u1");
  assert_int_equal(gh_store_ping(s), GH_OK);

  /* dropped in the middle of nothing, then a multi-row write: writes are not retried (the
   * statement may have run), the next call works on a fresh connection */
  pg_exec(g_pg_admin, "select pg_terminate_backend(pid) from pg_stat_activity where "
                      "application_name = 'gh_store_victim'");
  pg_wait_gone("gh_store_victim");
  gh_user u2 = mk_user("u2", "bob@example.com", T0);
  assert_int_equal(gh_store_create_user(s, &u2, NULL, NULL), GH_ERR_DB_UNAVAILABLE);
  assert_int_equal(gh_store_create_user(s, &u2, NULL, NULL), GH_OK);
  assert_int_equal(gh_store_check_schema(s, NULL, 0), GH_OK);
  gh_store_close(s);
  gh_arena_free(a);
}

/* --- main --------------------------------------------------------------------------------- */

/* OAuth accounts: every column written and read back, listed in createdAt order, found by
 * (providerId, accountId), tokens updated with "keep" for the undefined ones, deleted only for
 * their user; a user with its account in one transaction (a duplicate e-mail leaves neither). */
static void test_accounts(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  add_user(s, "u1", "ann@example.com");
  gh_account acc = {.id = "acc-oa",
                    .account_id = "sub-1",
                    .provider_id = "acme",
                    .user_id = "u1",
                    .created_at = T0 + 10,
                    .updated_at = T0 + 10,
                    .access_token = "at-1",
                    .refresh_token = "rt-1",
                    .id_token = "a.b.c",
                    .scope = "openid,email",
                    .access_token_expires_at = T0 + HOUR,
                    .has_access_expiry = true};
  assert_int_equal(gh_store_insert_account(s, &acc), GH_OK);
  gh_account cred = mk_cred("acc-cred", "u1", "salt:h", T0);
  assert_int_equal(gh_store_insert_account(s, &cred), GH_OK);
  gh_account *v;
  size_t n;
  assert_int_equal(gh_store_list_accounts(s, a, "u1", &v, &n), GH_OK);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].id, "acc-cred"); /* older first */
  assert_string_equal(v[1].id, "acc-oa");
  assert_string_equal(v[1].access_token, "at-1");
  assert_string_equal(v[1].refresh_token, "rt-1");
  assert_string_equal(v[1].id_token, "a.b.c");
  assert_string_equal(v[1].scope, "openid,email");
  assert_true(v[1].has_access_expiry && v[1].access_token_expires_at == T0 + HOUR);
  assert_false(v[1].has_refresh_expiry);
  assert_null(v[0].access_token);
  gh_account got;
  assert_int_equal(gh_store_account_by_key(s, a, "acme", "sub-1", &got), GH_OK);
  assert_string_equal(got.id, "acc-oa");
  assert_int_equal(gh_store_account_by_key(s, a, "acme", "sub-2", &got), GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_account_by_key(s, a, "other", "sub-1", &got), GH_ERR_NOT_FOUND);
  /* new access token and expiry; the refresh token, id token and scope are kept */
  gh_account upd = {.access_token = "at-2",
                    .access_token_expires_at = T0 + 2 * HOUR,
                    .has_access_expiry = true,
                    .updated_at = T0 + 20};
  gh_account_keep keep = {
      .refresh_token = true, .id_token = true, .scope = true, .refresh_expiry = true};
  assert_int_equal(gh_store_update_account_tokens(s, "acc-oa", &upd, &keep), GH_OK);
  assert_int_equal(gh_store_account_by_key(s, a, "acme", "sub-1", &got), GH_OK);
  assert_string_equal(got.access_token, "at-2");
  assert_string_equal(got.refresh_token, "rt-1");
  assert_string_equal(got.id_token, "a.b.c");
  assert_string_equal(got.scope, "openid,email");
  assert_true(got.access_token_expires_at == T0 + 2 * HOUR);
  assert_true(got.updated_at == T0 + 20);
  assert_int_equal(gh_store_update_account_tokens(s, "nope", &upd, &keep), GH_ERR_NOT_FOUND);
  /* another user cannot delete it */
  add_user(s, "u2", "bob@example.com");
  assert_int_equal(gh_store_delete_account(s, "u2", "acc-oa"), GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_delete_account(s, "u1", "acc-oa"), GH_OK);
  assert_int_equal(gh_store_list_accounts(s, a, "u1", &v, &n), GH_OK);
  assert_int_equal(n, 1);
  /* user + account together; a taken e-mail writes neither */
  gh_user u3 = mk_user("u3", "cy@example.com", T0);
  gh_account a3 = {.id = "acc-3",
                   .account_id = "sub-3",
                   .provider_id = "acme",
                   .user_id = "u3",
                   .created_at = T0,
                   .updated_at = T0};
  assert_int_equal(gh_store_create_user_with_account(s, &u3, &a3), GH_OK);
  gh_user u4 = mk_user("u4", "cy@example.com", T0);
  gh_account a4 = {.id = "acc-4",
                   .account_id = "sub-4",
                   .provider_id = "acme",
                   .user_id = "u4",
                   .created_at = T0,
                   .updated_at = T0};
  assert_int_equal(gh_store_create_user_with_account(s, &u4, &a4), GH_ERR_CONFLICT);
  assert_int_equal(gh_store_account_by_key(s, a, "acme", "sub-4", &got), GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_set_email_verified(s, "u3", T0 + 5), GH_OK);
  gh_user r;
  assert_int_equal(gh_store_user_by_id(s, a, "u3", &r), GH_OK);
  assert_true(r.email_verified);
  gh_arena_free(a);
}

/* Verification rows: a take returns the newest row's value and removes every row of the
 * identifier, so a second take (a replayed OAuth state) finds nothing. */
static void test_verification(void **state) {
  gh_store *s = *state;
  gh_arena *a = gh_arena_new();
  assert_int_equal(gh_store_verification_put(s, "auth-state:x", "old", T0 + HOUR, T0), GH_OK);
  assert_int_equal(gh_store_verification_put(s, "auth-state:x", "new", T0 + 2 * HOUR, T0 + 1),
                   GH_OK);
  assert_int_equal(gh_store_verification_put(s, "auth-state:y", "other", T0 + HOUR, T0), GH_OK);
  char *value;
  int64_t exp;
  assert_int_equal(gh_store_verification_take(s, a, "auth-state:x", &value, &exp), GH_OK);
  assert_string_equal(value, "new");
  assert_true(exp == T0 + 2 * HOUR);
  assert_int_equal(gh_store_verification_take(s, a, "auth-state:x", &value, &exp),
                   GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_verification_take(s, a, "auth-state:y", &value, &exp), GH_OK);
  assert_string_equal(value, "other");
  gh_arena_free(a);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

#define BACKEND_TESTS                                                                              \
  cmocka_unit_test_setup_teardown(test_migrate_idempotent, setup_empty, teardown),                 \
      cmocka_unit_test_setup_teardown(test_create_user_conflict, setup_migrated, teardown),        \
      cmocka_unit_test_setup_teardown(test_update_user, setup_migrated, teardown),                 \
      cmocka_unit_test_setup_teardown(test_delete_user, setup_migrated, teardown),                 \
      cmocka_unit_test_setup_teardown(test_session_roundtrip, setup_migrated, teardown),           \
      cmocka_unit_test_setup_teardown(test_touch_session, setup_migrated, teardown),               \
      cmocka_unit_test_setup_teardown(test_list_sessions, setup_migrated, teardown),               \
      cmocka_unit_test_setup_teardown(test_delete_sessions, setup_migrated, teardown),             \
      cmocka_unit_test_setup_teardown(test_purge_expired, setup_migrated, teardown),               \
      cmocka_unit_test_setup_teardown(test_set_password, setup_migrated, teardown),                \
      cmocka_unit_test_setup_teardown(test_extra_columns, setup_migrated, teardown),               \
      cmocka_unit_test_setup_teardown(test_jwks, setup_migrated, teardown),                        \
      cmocka_unit_test_setup_teardown(test_accounts, setup_migrated, teardown),                    \
      cmocka_unit_test_setup_teardown(test_verification, setup_migrated, teardown),                \
      cmocka_unit_test_setup_teardown(test_add_column_existing, setup_migrated, teardown),         \
      cmocka_unit_test_setup_teardown(test_runner, setup_empty, teardown),                         \
      cmocka_unit_test_setup_teardown(test_extra_migrations, setup_empty, teardown),               \
      cmocka_unit_test_setup_teardown(test_migrate_list, setup_empty, teardown),                   \
      cmocka_unit_test(test_better_auth_issuer)

int main(void) {
  int failed = 0;
  if (!mkdtemp(g_tmpdir)) {
    perror("mkdtemp");
    return 1;
  }

  const struct CMUnitTest sqlite_tests[] = {
      BACKEND_TESTS,
      cmocka_unit_test(test_sqlite_file),
      cmocka_unit_test(test_sqlite_concurrent_writers),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_thread_store),
  };
  g_kind = GH_STORE_SQLITE;
  failed += cmocka_run_group_tests_name("store_sqlite", sqlite_tests, NULL, NULL);

  g_pg_admin = getenv("GH_TEST_PG_URL");
  if (g_pg_admin && *g_pg_admin) {
    snprintf(g_pg_url, sizeof g_pg_url, "%s%coptions=-csearch_path%%3D" PG_SCHEMA, g_pg_admin,
             strchr(g_pg_admin, '?') ? '&' : '?');
    const struct CMUnitTest pg_tests[] = {
        BACKEND_TESTS,
        cmocka_unit_test(test_pg_reconnect),
    };
    g_kind = GH_STORE_POSTGRES;
    failed += cmocka_run_group_tests_name("store_postgres", pg_tests, NULL, NULL);
    pg_exec(g_pg_admin, "drop schema if exists " PG_SCHEMA " cascade");
  } else {
    printf("[  SKIPPED ] store_postgres: GH_TEST_PG_URL is not set, PostgreSQL tests skipped\n");
  }

  nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return failed ? 1 : 0;
}
