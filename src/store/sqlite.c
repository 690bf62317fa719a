/* SQLite driver: one sqlite3 connection (SQLITE_OPEN_NOMUTEX, WAL, synchronous=NORMAL,
 * foreign_keys=ON, busy_timeout) with a per-connection cache of prepared statements
 * (SQLITE_PREPARE_PERSISTENT). Dates are ISO-8601 text with milliseconds (JS toISOString), booleans
 * 0/1, as better-auth stores them. Transactions are BEGIN IMMEDIATE; single statements
 * autocommit. */
#include "store/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/time.h"

#define BUSY_TIMEOUT_MS 5000

static const gh_query Q_BEGIN = {"begin", "begin immediate", NULL, NULL};
static const gh_query Q_COMMIT = {"commit", "commit", NULL, NULL};
static const gh_query Q_ROLLBACK = {"rollback", "rollback", NULL, NULL};

typedef struct {
  gh_store base;
  sqlite3 *db;
  gh_stmt_cache stmts;
} sq_store;

/* --- errors ------------------------------------------------------------------------------- */

static gh_status fail_status(sq_store *s, int rc, const char *op) {
  const char *msg = sqlite3_errmsg(s->db);
  switch (rc) {
  case SQLITE_CONSTRAINT_UNIQUE:
  case SQLITE_CONSTRAINT_PRIMARYKEY:
    return GH_ERR_CONFLICT;
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return GH_ERR_NOT_FOUND;
  default:
    break;
  }
  char code[16];
  snprintf(code, sizeof code, "%d", rc);
  gh_store_log("sqlite", op, code, msg);
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
  case SQLITE_ERROR:
    if (strncmp(msg, "no such table", 13) == 0 || strncmp(msg, "no such column", 14) == 0 ||
        strstr(msg, "has no column named"))
      return GH_ERR_SCHEMA;
    return GH_ERR_DB;
  default:
    return GH_ERR_DB;
  }
}

/* --- statements --------------------------------------------------------------------------- */

static void finish(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

/* The prepared statement of q with p bound. Parameters beyond those the text uses are not bound
 * (see store.h). */
static gh_status prep(sq_store *s, const gh_query *q, const char *sql, const gh_param *p, int np,
                      sqlite3_stmt **out) {
  *out = NULL;
  gh_stmt_slot *slot = gh_stmt_cache_get(&s->stmts, q);
  if (!slot->stmt) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) return fail_status(s, rc, q->name);
    slot->stmt = st;
  }
  sqlite3_stmt *st = slot->stmt;
  int used = sqlite3_bind_parameter_count(st);
  int rc = SQLITE_OK;
  for (int i = 0; i < np && i < used && rc == SQLITE_OK; i++) {
    switch (p[i].type) {
    case 't':
      rc = sqlite3_bind_text(st, i + 1, p[i].t, -1, SQLITE_STATIC);
      break;
    case 'd': {
      char iso[GH_ISO_LEN];
      gh_iso8601(p[i].v, iso);
      rc = sqlite3_bind_text(st, i + 1, iso, -1, SQLITE_TRANSIENT);
      break;
    }
    case 'b':
      rc = sqlite3_bind_int(st, i + 1, (int)p[i].v);
      break;
    case 'i':
      rc = sqlite3_bind_int64(st, i + 1, p[i].v);
      break;
    default:
      rc = sqlite3_bind_null(st, i + 1);
      break;
    }
  }
  if (rc != SQLITE_OK) {
    finish(st);
    return fail_status(s, rc, q->name);
  }
  *out = st;
  return GH_OK;
}

/* --- columns ------------------------------------------------------------------------------ */

static gh_status read_cell(gh_arena *a, sqlite3_stmt *st, int c, char type, gh_cell *out) {
  out->null = sqlite3_column_type(st, c) == SQLITE_NULL;
  switch (type) {
  case 't':
    if (!out->null) {
      const unsigned char *v = sqlite3_column_text(st, c);
      if (!v) gh_oom();
      out->text = gh_arena_strndup(a, (const char *)v, (size_t)sqlite3_column_bytes(st, c));
    }
    return GH_OK;
  case 'D': /* nullable date */
  case 'd': {
    if (out->null && type == 'D') return GH_OK;
    const unsigned char *v = sqlite3_column_text(st, c);
    if (!v || gh_iso8601_parse((const char *)v, &out->num) != GH_OK) {
      gh_store_log("sqlite", "read", "date", "invalid date value in column");
      return GH_ERR_DB;
    }
    return GH_OK;
  }
  case 'b':
    out->num = sqlite3_column_int64(st, c) != 0;
    return GH_OK;
  default: /* 'i' */
    out->num = sqlite3_column_int64(st, c);
    return GH_OK;
  }
}

static gh_status sq_run(gh_store *base, const gh_query *q, const char *sql, const gh_param *p,
                        int np, gh_arena *a, gh_rows *rows, long *changes) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  gh_status status = prep(s, q, sql, p, np, &st);
  if (status) return status;
  if (rows && q->cols && (size_t)sqlite3_column_count(st) != rows->ncols) {
    gh_store_log("sqlite", q->name, "columns", "result columns do not match the query's format");
    finish(st);
    return GH_ERR_INVALID;
  }
  size_t cap = 0;
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && !rows)) break;
    if (rc != SQLITE_ROW) {
      status = fail_status(s, rc, q->name);
      break;
    }
    gh_cell *c = gh_rows_add(a, rows, &cap);
    for (size_t i = 0; i < rows->ncols && status == GH_OK; i++)
      status = read_cell(a, st, (int)i, q->cols[i], &c[i]);
    if (status) break;
  }
  if (status == GH_OK && changes) *changes = (long)sqlite3_changes64(s->db);
  finish(st);
  return status;
}

static gh_status exec_q(sq_store *s, const gh_query *q) {
  return sq_run(&s->base, q, q->sqlite, NULL, 0, NULL, NULL, NULL);
}

static gh_status sq_begin(gh_store *base) {
  return exec_q((sq_store *)base, &Q_BEGIN);
}

static gh_status sq_commit(gh_store *base) {
  return exec_q((sq_store *)base, &Q_COMMIT);
}

static void sq_rollback(gh_store *base) {
  sq_store *s = (sq_store *)base;
  if (sqlite3_get_autocommit(s->db)) return; /* none open, or SQLite already rolled back */
  gh_status status = exec_q(s, &Q_ROLLBACK);
  (void)status;
}

/* An "alter table ... add column" whose column exists already: SQLite has no ADD COLUMN IF NOT
 * EXISTS, so a migration adding a column better-auth may have added first (a plugin's user field)
 * treats this error as done, as PostgreSQL's IF NOT EXISTS does. */
static bool column_exists_error(const char *text, sqlite3 *db) {
  for (;;) { /* skip blanks and "--" comment lines */
    while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r') text++;
    if (text[0] != '-' || text[1] != '-') break;
    text += strcspn(text, "\n");
  }
  return text && strncasecmp(text, "alter table", 11) == 0 &&
         strstr(sqlite3_errmsg(db), "duplicate column name") != NULL;
}

/* Runs a migration's statements one by one (sqlite3_exec's loop, plus column_exists_error). */
static gh_status sq_script(gh_store *base, const char *sql, const char *op) {
  sq_store *s = (sq_store *)base;
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    const char *start = tail;
    int rc = sqlite3_prepare_v2(s->db, start, -1, &st, &tail);
    if (rc == SQLITE_OK && !st) continue; /* whitespace or a comment */
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && tail > start && column_exists_error(start, s->db)) rc = SQLITE_OK;
    if (rc != SQLITE_OK) {
      gh_store_log("sqlite", op, "migration", sqlite3_errmsg(s->db));
      sqlite3_finalize(st);
      return (rc & 0xff) == SQLITE_BUSY ? GH_ERR_DB_UNAVAILABLE : GH_ERR_DB;
    }
    sqlite3_finalize(st);
  }
  return GH_OK;
}

/* --- open / close ------------------------------------------------------------------------- */

static void sq_close(gh_store *base) {
  sq_store *s = (sq_store *)base;
  for (size_t i = 0; i < s->stmts.cap; i++) sqlite3_finalize(s->stmts.slots[i].stmt);
  gh_stmt_cache_free(&s->stmts);
  sqlite3_close_v2(s->db);
  free(s);
}

static const gh_store_ops sq_ops = {
    .close = sq_close,
    .run = sq_run,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .script = sq_script,
};

/* mkdir -p of the directory part of path (nothing to do when there is none). */
static int make_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return 0;
  size_t n = (size_t)(slash - path);
  char *dir = gh_xmalloc(n + 1);
  memcpy(dir, path, n);
  dir[n] = 0;
  int rc = 0;
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(dir, 0700) != 0 && errno != EEXIST) rc = -1;
      *p = c;
      if (rc || c == 0) break;
    }
  }
  free(dir);
  return rc;
}

/* A new database file is created 0600 (it holds password hashes); SQLite gives its -wal and
 * -shm files the same permissions. */
static void create_private_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
}

static gh_status pragma(sq_store *s, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
  if (rc == SQLITE_OK) return GH_OK;
  gh_store_log("sqlite", "open", "pragma", err ? err : sqlite3_errmsg(s->db));
  sqlite3_free(err);
  return GH_ERR_DB_UNAVAILABLE;
}

gh_status gh_store_sqlite_open(const char *path, gh_store **out) {
  bool memory = strcmp(path, ":memory:") == 0;
  gh_status status = GH_ERR_DB_UNAVAILABLE;
  sq_store *s = gh_xcalloc(1, sizeof *s);
  s->base.ops = &sq_ops;
  s->base.kind = GH_STORE_SQLITE;
  s->base.issuer = -1;
  if (!memory) {
    if (make_parent_dir(path) != 0) {
      gh_store_log("sqlite", "open", "mkdir", strerror(errno));
      goto fail;
    }
    create_private_file(path);
  }
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_NOMEM) gh_oom();
    gh_store_log("sqlite", "open", "open", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  if ((status = pragma(s, "pragma journal_mode = wal")) ||
      (status = pragma(s, "pragma synchronous = normal")) ||
      (status = pragma(s, "pragma foreign_keys = on")))
    goto fail;
  *out = &s->base;
  return GH_OK;
fail:
  sq_close(&s->base);
  return status;
}
