/* gatehouse-tasks storage on SQLite (sqlite3, SQLITE_OPEN_NOMUTEX, WAL, busy_timeout) and
 * PostgreSQL (libpq, text parameters and results, dates as ISO-8601 text). See store.h. */
#include "store.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/threadconn.h"
#include "common/time.h"

#define BUSY_TIMEOUT_MS 5000
#define PG_MIGRATE_LOCK "select pg_advisory_xact_lock(7152026101)"

/* --- migrations (append only; never edit an applied one) ----------------------------------- */

typedef struct {
  int version;
  const char *name;
  const char *sqlite, *postgres;
} migration;

static const migration MIGRATIONS[] = {
    {1, "001_tasks",
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

/* --- queries -------------------------------------------------------------------------------- */

enum { Q_COUNT_USER, Q_LIST, Q_GET, Q_INSERT, Q_UPDATE, Q_DELETE, Q__N };

#define SQ_COLS                                                                                    \
  "\"id\", \"userId\", \"title\", \"description\", \"completed\", \"createdAt\", \"updatedAt\""
#define PG_DATE(c) "to_char(\"" c "\" at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define PG_COLS                                                                                    \
  "\"id\", \"userId\", \"title\", \"description\", \"completed\", " PG_DATE(                       \
      "createdAt") ", " PG_DATE("updatedAt")

static const char *const SQ[Q__N] = {
    [Q_COUNT_USER] = "select count(*) from \"tasks\" where \"userId\" = ?1",
    [Q_LIST] = "select " SQ_COLS " from \"tasks\" where \"userId\" = ?1 order by \"createdAt\" "
               "desc, \"id\" desc limit ?2 offset ?3",
    [Q_GET] = "select " SQ_COLS " from \"tasks\" where \"userId\" = ?1 and \"id\" = ?2",
    [Q_INSERT] = "insert into \"tasks\" (" SQ_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_UPDATE] = "update \"tasks\" set \"title\" = case when ?1 then ?2 else \"title\" end, "
                 "\"description\" = case when ?3 then ?4 else \"description\" end, \"completed\" = "
                 "case when ?5 then ?6 else \"completed\" end, \"updatedAt\" = ?7 where \"userId\" "
                 "= ?8 and \"id\" = ?9 returning " SQ_COLS,
    [Q_DELETE] = "delete from \"tasks\" where \"userId\" = ?1 and \"id\" = ?2",
};

static const char *const PG[Q__N] = {
    [Q_COUNT_USER] = "select count(*) from \"tasks\" where \"userId\" = $1",
    [Q_LIST] = "select " PG_COLS " from \"tasks\" where \"userId\" = $1 order by \"createdAt\" "
               "desc, \"id\" desc limit $2 offset $3",
    [Q_GET] = "select " PG_COLS " from \"tasks\" where \"userId\" = $1 and \"id\" = $2",
    [Q_INSERT] = "insert into \"tasks\" (\"id\", \"userId\", \"title\", \"description\", "
                 "\"completed\", \"createdAt\", \"updatedAt\") values ($1, $2, $3, $4, $5, $6, $7)",
    [Q_UPDATE] = "update \"tasks\" set \"title\" = case when $1::boolean then $2::text else "
                 "\"title\" end, \"description\" = case when $3::boolean then $4::text else "
                 "\"description\" end, \"completed\" = case when $5::boolean then $6::boolean else "
                 "\"completed\" end, \"updatedAt\" = $7::timestamptz where \"userId\" = $8 and "
                 "\"id\" = $9 returning " PG_COLS,
    [Q_DELETE] = "delete from \"tasks\" where \"userId\" = $1 and \"id\" = $2",
};

static const char *const QNAME[Q__N] = {"count", "list", "get", "insert", "update", "delete"};

struct tasks_store {
  bool pg;
  sqlite3 *db;
  sqlite3_stmt *stmt[Q__N];
  PGconn *conn;
  bool broken, down_logged;
  bool prepared[Q__N];
};

static void log_db(const char *backend, const char *op, const char *code, const char *msg) {
  char buf[512];
  size_t n = msg ? strlen(msg) : 0;
  if (n >= sizeof buf) n = sizeof buf - 1;
  if (n) memcpy(buf, msg, n);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
  buf[n] = 0;
  for (size_t i = 0; i < n; i++) /* keep the JSON log line valid whatever the driver says */
    if ((unsigned char)buf[i] >= 0x80 || (unsigned char)buf[i] < 0x20) buf[i] = '?';
  gh_log(GH_LOG_ERROR, "tasks.db_error", "backend", backend, "op", op, "code", code, "message", buf,
         NULL);
}

/* --- SQLite --------------------------------------------------------------------------------- */

static gh_status sq_fail(tasks_store *s, int rc, const char *op) {
  char code[16];
  snprintf(code, sizeof code, "%d", rc);
  log_db("sqlite", op, code, sqlite3_errmsg(s->db));
  switch (rc & 0xff) {
  case SQLITE_NOMEM:
    gh_oom();
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_CANTOPEN:
  case SQLITE_IOERR:
  case SQLITE_FULL:
  case SQLITE_READONLY:
    return GH_ERR_DB_UNAVAILABLE;
  default:
    return GH_ERR_DB;
  }
}

static gh_status sq_stmt(tasks_store *s, int q, sqlite3_stmt **out) {
  if (!s->stmt[q]) {
    int rc = sqlite3_prepare_v3(s->db, SQ[q], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL);
    if (rc != SQLITE_OK) {
      s->stmt[q] = NULL;
      return sq_fail(s, rc, QNAME[q]);
    }
  }
  *out = s->stmt[q];
  return GH_OK;
}

static void sq_done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_date(sqlite3_stmt *st, int i, int64_t ms) {
  char iso[GH_ISO_LEN];
  gh_iso8601(ms, iso);
  sqlite3_bind_text(st, i, iso, -1, SQLITE_TRANSIENT);
}

static char *sq_text(gh_arena *a, sqlite3_stmt *st, int c) {
  if (sqlite3_column_type(st, c) == SQLITE_NULL) return NULL;
  const char *v = (const char *)sqlite3_column_text(st, c);
  return gh_arena_strndup(a, v ? v : "", (size_t)sqlite3_column_bytes(st, c));
}

static gh_status sq_row(gh_arena *a, sqlite3_stmt *st, tasks_task *t) {
  memset(t, 0, sizeof *t);
  t->id = sq_text(a, st, 0);
  t->user_id = sq_text(a, st, 1);
  t->title = sq_text(a, st, 2);
  t->description = sq_text(a, st, 3);
  t->completed = sqlite3_column_int(st, 4) != 0;
  const char *c = (const char *)sqlite3_column_text(st, 5);
  const char *u = (const char *)sqlite3_column_text(st, 6);
  if (!t->id || !t->user_id || !t->title || !c || !u ||
      gh_iso8601_parse(c, &t->created_at) != GH_OK || gh_iso8601_parse(u, &t->updated_at) != GH_OK)
    return GH_ERR_DB;
  return GH_OK;
}

static int make_parent_dir(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n >= sizeof tmp) return -1;
  memcpy(tmp, path, n + 1);
  char *slash = strrchr(tmp, '/');
  if (!slash || slash == tmp) return 0;
  *slash = 0;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
  return 0;
}

static gh_status sq_open(const char *path, tasks_store *s) {
  bool memory = strcmp(path, ":memory:") == 0;
  if (!memory && make_parent_dir(path) != 0) {
    log_db("sqlite", "open", "mkdir", strerror(errno));
    return GH_ERR_DB_UNAVAILABLE;
  }
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_NOMEM) gh_oom();
    log_db("sqlite", "open", "open", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    return GH_ERR_DB_UNAVAILABLE;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  const char *pragmas[] = {"pragma journal_mode = wal", "pragma synchronous = normal"};
  for (size_t i = 0; i < 2; i++) {
    rc = sqlite3_exec(s->db, pragmas[i], NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sq_fail(s, rc, "pragma");
  }
  return GH_OK;
}

static gh_status sq_exec(tasks_store *s, const char *sql, const char *op) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? GH_OK : sq_fail(s, rc, op);
}

static gh_status sq_migrate(tasks_store *s, int *applied) {
  gh_status st = sq_exec(s,
                         "create table if not exists \"tasks_migrations\" (\"version\" integer not "
                         "null primary key, \"name\" text not null, \"appliedAt\" text not null)",
                         "migrations_table");
  if (st) return st;
  if ((st = sq_exec(s, "begin immediate", "begin"))) return st;
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(
      s->db, "select coalesce(max(\"version\"), 0) from \"tasks_migrations\"", -1, &q, NULL);
  if (rc != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW) {
    st = sq_fail(s, rc == SQLITE_OK ? sqlite3_errcode(s->db) : rc, "migrations_version");
    goto fail;
  }
  int current = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
  q = NULL;
  for (size_t i = 0; i < NMIGRATIONS; i++) {
    if (MIGRATIONS[i].version <= current) continue;
    if ((st = sq_exec(s, MIGRATIONS[i].sqlite, MIGRATIONS[i].name))) goto fail;
    rc = sqlite3_prepare_v2(s->db,
                            "insert into \"tasks_migrations\" (\"version\", \"name\", "
                            "\"appliedAt\") values (?1, ?2, ?3)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
      st = sq_fail(s, rc, "migration_record");
      goto fail;
    }
    sqlite3_bind_int(q, 1, MIGRATIONS[i].version);
    sqlite3_bind_text(q, 2, MIGRATIONS[i].name, -1, SQLITE_STATIC);
    bind_date(q, 3, gh_now_ms());
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    q = NULL;
    if (rc != SQLITE_DONE) {
      st = sq_fail(s, rc, "migration_record");
      goto fail;
    }
    if (applied) (*applied)++;
  }
  return sq_exec(s, "commit", "commit");
fail:
  sqlite3_finalize(q);
  sqlite3_exec(s->db, "rollback", NULL, NULL, NULL);
  return st;
}

static gh_status sq_step_rows(tasks_store *s, int q, sqlite3_stmt *st, gh_arena *a,
                              tasks_task **out, size_t *n, size_t cap) {
  *n = 0;
  tasks_task *v = cap ? gh_arena_alloc(a, cap * sizeof *v) : NULL;
  gh_status status = GH_OK;
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      status = sq_fail(s, rc, QNAME[q]);
      break;
    }
    if (*n == cap) break;
    if ((status = sq_row(a, st, &v[*n]))) break;
    (*n)++;
  }
  sq_done(st);
  if (out) *out = v;
  return status;
}

/* --- PostgreSQL ----------------------------------------------------------------------------- */

static gh_status pg_check(tasks_store *s, const PGresult *r, const char *op) {
  ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) return GH_OK;
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!state) state = "";
  if (!msg) msg = PQerrorMessage(s->conn);
  if (PQstatus(s->conn) != CONNECTION_OK || !strncmp(state, "08", 2) || !strncmp(state, "57P", 3) ||
      !strcmp(state, "53300")) {
    s->broken = true;
    if (!s->down_logged) log_db("postgres", op, state, msg);
    s->down_logged = true;
    return GH_ERR_DB_UNAVAILABLE;
  }
  log_db("postgres", op, state, msg);
  return GH_ERR_DB;
}

static void pg_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

static gh_status pg_connect(const char *url, tasks_store *s) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(url, &err);
  if (!opts) {
    PQfreemem(err); /* may quote the URL (and its password): not logged */
    log_db("postgres", "open", "url", "malformed PostgreSQL connection URL");
    return GH_ERR_CONFIG;
  }
  PQconninfoFree(opts);
  const char *const keys[] = {"connect_timeout", "fallback_application_name", "client_encoding",
                              "dbname", NULL};
  const char *const vals[] = {"5", "gatehouse-tasks", "UTF8", url, NULL};
  s->conn = PQconnectdbParams(keys, vals, 1);
  if (!s->conn) gh_oom();
  PQsetNoticeProcessor(s->conn, pg_notice, NULL);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    log_db("postgres", "connect", "", PQerrorMessage(s->conn));
    return GH_ERR_DB_UNAVAILABLE;
  }
  return GH_OK;
}

/* Reconnects a broken connection and makes sure no transaction is left open. */
static gh_status pg_ensure(tasks_store *s) {
  if (!s->broken && PQstatus(s->conn) == CONNECTION_OK) {
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) PQclear(PQexec(s->conn, "rollback"));
    return GH_OK;
  }
  PQreset(s->conn);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    s->broken = true;
    if (!s->down_logged) log_db("postgres", "reconnect", "", PQerrorMessage(s->conn));
    s->down_logged = true;
    return GH_ERR_DB_UNAVAILABLE;
  }
  s->broken = s->down_logged = false;
  memset(s->prepared, 0, sizeof s->prepared);
  return GH_OK;
}

static gh_status pg_run(tasks_store *s, int q, int n, const char *const *vals, PGresult **out) {
  gh_status st = pg_ensure(s);
  if (st) return st;
  char name[16];
  snprintf(name, sizeof name, "tasks_%d", q);
  if (!s->prepared[q]) {
    PGresult *r = PQprepare(s->conn, name, PG[q], 0, NULL);
    st = pg_check(s, r, QNAME[q]);
    PQclear(r);
    if (st) return st;
    s->prepared[q] = true;
  }
  PGresult *r = PQexecPrepared(s->conn, name, n, vals, NULL, NULL, 0);
  st = pg_check(s, r, QNAME[q]);
  if (st || !out)
    PQclear(r);
  else
    *out = r;
  return st;
}

static gh_status pg_exec(tasks_store *s, const char *sql, const char *op) {
  PGresult *r = PQexec(s->conn, sql);
  gh_status st = pg_check(s, r, op);
  PQclear(r);
  return st;
}

static char *pg_text(gh_arena *a, const PGresult *r, int row, int c) {
  if (PQgetisnull(r, row, c)) return NULL;
  return gh_arena_strndup(a, PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c));
}

static gh_status pg_row(gh_arena *a, const PGresult *r, int row, tasks_task *t) {
  memset(t, 0, sizeof *t);
  t->id = pg_text(a, r, row, 0);
  t->user_id = pg_text(a, r, row, 1);
  t->title = pg_text(a, r, row, 2);
  t->description = pg_text(a, r, row, 3);
  t->completed = !PQgetisnull(r, row, 4) && PQgetvalue(r, row, 4)[0] == 't';
  if (!t->id || !t->user_id || !t->title || PQgetisnull(r, row, 5) || PQgetisnull(r, row, 6) ||
      gh_iso8601_parse(PQgetvalue(r, row, 5), &t->created_at) != GH_OK ||
      gh_iso8601_parse(PQgetvalue(r, row, 6), &t->updated_at) != GH_OK)
    return GH_ERR_DB;
  return GH_OK;
}

static gh_status pg_migrate(tasks_store *s, int *applied) {
  gh_status st = pg_ensure(s);
  if (st) return st;
  if ((st = pg_exec(s, "begin", "begin"))) return st;
  PGresult *r = NULL;
  /* serialises concurrent starts of several instances */
  if ((st = pg_exec(s, PG_MIGRATE_LOCK, "migrate_lock")) ||
      (st = pg_exec(s,
                    "create table if not exists \"tasks_migrations\" (\"version\" integer not "
                    "null primary key, \"name\" text not null, \"appliedAt\" timestamptz not null "
                    "default CURRENT_TIMESTAMP)",
                    "migrations_table")))
    goto fail;
  r = PQexec(s->conn, "select coalesce(max(\"version\"), 0) from \"tasks_migrations\"");
  if ((st = pg_check(s, r, "migrations_version"))) goto fail;
  int current = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  r = NULL;
  for (size_t i = 0; i < NMIGRATIONS; i++) {
    if (MIGRATIONS[i].version <= current) continue;
    if ((st = pg_exec(s, MIGRATIONS[i].postgres, MIGRATIONS[i].name))) goto fail;
    char ver[16];
    snprintf(ver, sizeof ver, "%d", MIGRATIONS[i].version);
    const char *vals[] = {ver, MIGRATIONS[i].name};
    r = PQexecParams(s->conn,
                     "insert into \"tasks_migrations\" (\"version\", \"name\") values ($1, $2)", 2,
                     NULL, vals, NULL, NULL, 0);
    if ((st = pg_check(s, r, "migration_record"))) goto fail;
    PQclear(r);
    r = NULL;
    if (applied) (*applied)++;
  }
  return pg_exec(s, "commit", "commit");
fail:
  PQclear(r);
  if (PQstatus(s->conn) == CONNECTION_OK) PQclear(PQexec(s->conn, "rollback"));
  return st;
}

/* --- front end ------------------------------------------------------------------------------ */

gh_status tasks_store_open(const char *url, tasks_store **out) {
  *out = NULL;
  tasks_store *s = gh_xcalloc(1, sizeof *s);
  gh_status st;
  if (!strcmp(url, "sqlite::memory:")) {
    st = sq_open(":memory:", s);
  } else if (!strncmp(url, "sqlite:", 7)) {
    const char *path = url + 7;
    if (!strncmp(path, "//", 2)) path += 2;
    st = *path ? sq_open(path, s) : GH_ERR_CONFIG;
  } else if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
    s->pg = true;
    st = pg_connect(url, s);
  } else {
    st = GH_ERR_CONFIG;
  }
  if (st) {
    tasks_store_close(s);
    return st;
  }
  *out = s;
  return GH_OK;
}

void tasks_store_close(tasks_store *s) {
  if (!s) return;
  for (int i = 0; i < Q__N; i++) sqlite3_finalize(s->stmt[i]);
  if (s->db) sqlite3_close_v2(s->db);
  if (s->conn) PQfinish(s->conn);
  free(s);
}

gh_status tasks_store_migrate(tasks_store *s, int *applied) {
  if (applied) *applied = 0;
  return s->pg ? pg_migrate(s, applied) : sq_migrate(s, applied);
}

gh_status tasks_store_list(tasks_store *s, gh_arena *a, const char *user_id, long limit,
                           long offset, tasks_task **out, size_t *n, long *total) {
  *out = NULL;
  *n = 0;
  *total = 0;
  gh_status st;
  if (s->pg) {
    PGresult *r = NULL;
    const char *v1[] = {user_id};
    if ((st = pg_run(s, Q_COUNT_USER, 1, v1, &r))) return st;
    *total = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    snprintf(off, sizeof off, "%ld", offset);
    const char *v3[] = {user_id, lim, off};
    if ((st = pg_run(s, Q_LIST, 3, v3, &r))) return st;
    int rows = PQntuples(r);
    tasks_task *v = gh_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof *v);
    for (int i = 0; i < rows && st == GH_OK; i++) st = pg_row(a, r, i, &v[i]);
    PQclear(r);
    if (st) return st;
    *out = v;
    *n = (size_t)rows;
    return GH_OK;
  }
  sqlite3_stmt *q;
  if ((st = sq_stmt(s, Q_COUNT_USER, &q))) return st;
  bind_text(q, 1, user_id);
  int rc = sqlite3_step(q);
  if (rc != SQLITE_ROW) {
    st = sq_fail(s, rc, QNAME[Q_COUNT_USER]);
    sq_done(q);
    return st;
  }
  *total = (long)sqlite3_column_int64(q, 0);
  sq_done(q);
  if ((st = sq_stmt(s, Q_LIST, &q))) return st;
  bind_text(q, 1, user_id);
  sqlite3_bind_int64(q, 2, limit);
  sqlite3_bind_int64(q, 3, offset);
  return sq_step_rows(s, Q_LIST, q, a, out, n, (size_t)limit);
}

gh_status tasks_store_get(tasks_store *s, gh_arena *a, const char *user_id, const char *id,
                          tasks_task *out) {
  gh_status st;
  if (s->pg) {
    PGresult *r = NULL;
    const char *v[] = {user_id, id};
    if ((st = pg_run(s, Q_GET, 2, v, &r))) return st;
    st = PQntuples(r) == 1 ? pg_row(a, r, 0, out) : GH_ERR_NOT_FOUND;
    PQclear(r);
    return st;
  }
  sqlite3_stmt *q;
  if ((st = sq_stmt(s, Q_GET, &q))) return st;
  bind_text(q, 1, user_id);
  bind_text(q, 2, id);
  tasks_task *rows;
  size_t n;
  if ((st = sq_step_rows(s, Q_GET, q, a, &rows, &n, 1))) return st;
  if (n != 1) return GH_ERR_NOT_FOUND;
  *out = rows[0];
  return GH_OK;
}

gh_status tasks_store_insert(tasks_store *s, const tasks_task *t) {
  char created[GH_ISO_LEN], updated[GH_ISO_LEN];
  gh_iso8601(t->created_at, created);
  gh_iso8601(t->updated_at, updated);
  gh_status st;
  if (s->pg) {
    const char *v[] = {
        t->id,   t->user_id, t->title, t->description, t->completed ? "true" : "false",
        created, updated};
    return pg_run(s, Q_INSERT, 7, v, NULL);
  }
  sqlite3_stmt *q;
  if ((st = sq_stmt(s, Q_INSERT, &q))) return st;
  bind_text(q, 1, t->id);
  bind_text(q, 2, t->user_id);
  bind_text(q, 3, t->title);
  bind_text(q, 4, t->description);
  sqlite3_bind_int(q, 5, t->completed);
  bind_text(q, 6, created);
  bind_text(q, 7, updated);
  int rc = sqlite3_step(q);
  st = rc == SQLITE_DONE ? GH_OK : sq_fail(s, rc, QNAME[Q_INSERT]);
  sq_done(q);
  return st;
}

gh_status tasks_store_update(tasks_store *s, gh_arena *a, const tasks_task *t, unsigned mask,
                             tasks_task *out) {
  char updated[GH_ISO_LEN];
  gh_iso8601(t->updated_at, updated);
  gh_status st;
  if (s->pg) {
    const char *v[] = {mask & TASKS_SET_TITLE ? "true" : "false",
                       t->title,
                       mask & TASKS_SET_DESCRIPTION ? "true" : "false",
                       t->description,
                       mask & TASKS_SET_COMPLETED ? "true" : "false",
                       t->completed ? "true" : "false",
                       updated,
                       t->user_id,
                       t->id};
    PGresult *r = NULL;
    if ((st = pg_run(s, Q_UPDATE, 9, v, &r))) return st;
    st = PQntuples(r) == 1 ? pg_row(a, r, 0, out) : GH_ERR_NOT_FOUND;
    PQclear(r);
    return st;
  }
  sqlite3_stmt *q;
  if ((st = sq_stmt(s, Q_UPDATE, &q))) return st;
  sqlite3_bind_int(q, 1, (mask & TASKS_SET_TITLE) != 0);
  bind_text(q, 2, t->title);
  sqlite3_bind_int(q, 3, (mask & TASKS_SET_DESCRIPTION) != 0);
  bind_text(q, 4, t->description);
  sqlite3_bind_int(q, 5, (mask & TASKS_SET_COMPLETED) != 0);
  sqlite3_bind_int(q, 6, t->completed);
  bind_text(q, 7, updated);
  bind_text(q, 8, t->user_id);
  bind_text(q, 9, t->id);
  tasks_task *rows;
  size_t n;
  if ((st = sq_step_rows(s, Q_UPDATE, q, a, &rows, &n, 1))) return st;
  if (n != 1) return GH_ERR_NOT_FOUND;
  *out = rows[0];
  return GH_OK;
}

gh_status tasks_store_delete(tasks_store *s, const char *user_id, const char *id) {
  gh_status st;
  if (s->pg) {
    const char *v[] = {user_id, id};
    PGresult *r = NULL;
    if ((st = pg_run(s, Q_DELETE, 2, v, &r))) return st;
    long changes = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return changes == 1 ? GH_OK : GH_ERR_NOT_FOUND;
  }
  sqlite3_stmt *q;
  if ((st = sq_stmt(s, Q_DELETE, &q))) return st;
  bind_text(q, 1, user_id);
  bind_text(q, 2, id);
  int rc = sqlite3_step(q);
  st = rc == SQLITE_DONE ? GH_OK : sq_fail(s, rc, QNAME[Q_DELETE]);
  sq_done(q);
  if (st) return st;
  return sqlite3_changes(s->db) == 1 ? GH_OK : GH_ERR_NOT_FOUND;
}

/* --- per-thread connections ----------------------------------------------------------------- */

static gh_status open_conn(const char *url, void **out) {
  tasks_store *s = NULL;
  gh_status st = tasks_store_open(url, &s);
  *out = s;
  return st;
}

static void close_conn(void *p) {
  tasks_store_close(p);
}

static gh_threadconn conns = GH_THREADCONN_INIT(open_conn, close_conn);

void tasks_store_thread_init(const char *url) {
  gh_threadconn_set_url(&conns, url);
}

void tasks_store_thread_cleanup(void) {
  gh_threadconn_set_url(&conns, NULL);
}

gh_status tasks_store_thread(tasks_store **out) {
  void *c;
  gh_status st = gh_threadconn_get(&conns, &c);
  *out = c;
  return st;
}
