/* PostgreSQL driver: one PGconn per gh_store, every statement prepared once per connection (again
 * after a reconnect) and run with text parameters (dates sent as ISO-8601) and binary results
 * (timestamptz read as an int64). A broken connection answers GH_ERR_DB_UNAVAILABLE and is reset
 * (PQreset) on the next call outside a transaction. */
#include "store/backend.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/time.h"

#define CONNECT_TIMEOUT "5" /* seconds; a connect_timeout in the URL wins */

typedef struct {
  gh_store base;
  PGconn *conn;
  bool broken;      /* reset before the next statement */
  bool down_logged; /* the outage has been logged once */
  bool in_tx;       /* between gh_store_begin and commit/rollback */
  gh_stmt_cache stmts;
} pg_store;

/* --- errors ------------------------------------------------------------------------------- */

/* Maps a result to a status; logs the SQLSTATE and primary message (never the DETAIL, which can
 * hold row values). */
static gh_status check(pg_store *s, const PGresult *r, const char *op) {
  ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) return GH_OK;
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!state) state = "";
  if (!msg) msg = PQerrorMessage(s->conn);
  if (PQstatus(s->conn) != CONNECTION_OK || strncmp(state, "08", 2) == 0 ||
      strncmp(state, "57P", 3) == 0) {
    s->broken = true;
    if (!s->down_logged) gh_store_log("postgres", op, state, msg);
    s->down_logged = true;
    return GH_ERR_DB_UNAVAILABLE;
  }
  if (strcmp(state, "23505") == 0) return GH_ERR_CONFLICT;
  if (strcmp(state, "23503") == 0) return GH_ERR_NOT_FOUND;
  gh_store_log("postgres", op, state, msg);
  if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0) return GH_ERR_SCHEMA;
  if (strcmp(state, "53300") == 0) return GH_ERR_DB_UNAVAILABLE; /* too many connections */
  return GH_ERR_DB;
}

static gh_status simple(pg_store *s, const char *sql, const char *op) {
  PGresult *r = PQexec(s->conn, sql);
  gh_status status = check(s, r, op);
  PQclear(r);
  return status;
}

static void rollback(pg_store *s) {
  s->in_tx = false;
  if (PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) == PQTRANS_IDLE) return;
  PQclear(PQexec(s->conn, "rollback"));
}

/* --- connection --------------------------------------------------------------------------- */

static _Atomic long reconnects;

long gh_store_reconnect_count(void) {
  return reconnects;
}

/* Called before every statement outside a transaction and before BEGIN: reconnects a broken
 * connection (its statements are prepared again), and makes sure no transaction is left open. */
static gh_status ensure(pg_store *s) {
  if (!s->broken && PQstatus(s->conn) == CONNECTION_OK) {
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) rollback(s);
    return GH_OK;
  }
  PQreset(s->conn);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    s->broken = true;
    if (!s->down_logged) gh_store_log("postgres", "reconnect", "", PQerrorMessage(s->conn));
    s->down_logged = true;
    return GH_ERR_DB_UNAVAILABLE;
  }
  s->broken = false;
  s->down_logged = false;
  reconnects++;
  for (size_t i = 0; i < s->stmts.cap; i++) s->stmts.slots[i].stmt = NULL;
  s->base.issuer = -1;
  return GH_OK;
}

/* --- columns ------------------------------------------------------------------------------ */

/* Binary big-endian integer of 1, 2, 4 or 8 bytes. */
static int64_t be_int(const unsigned char *v, int len) {
  uint64_t u = 0;
  for (int i = 0; i < len; i++) u = u << 8 | v[i];
  if (len < 8 && len > 0 && (v[0] & 0x80)) u |= ~UINT64_C(0) << (8 * len); /* sign-extend */
  return (int64_t)u;
}

static gh_status read_cell(gh_arena *a, const PGresult *r, int row, int c, char type,
                           gh_cell *out) {
  out->null = PQgetisnull(r, row, c);
  const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, c);
  int len = PQgetlength(r, row, c);
  switch (type) {
  case 't':
    if (!out->null) out->text = gh_arena_strndup(a, (const char *)v, (size_t)len);
    return GH_OK;
  case 'D':   /* nullable date */
  case 'd': { /* timestamptz: int64 microseconds since 2000-01-01T00:00:00Z */
    if (out->null && type == 'D') return GH_OK;
    if (out->null || len != 8) return GH_ERR_DB;
    int64_t us = be_int(v, 8);
    int64_t msec = us >= 0 ? us / 1000 : -((-us + 999) / 1000); /* floor */
    out->num = msec + INT64_C(946684800000);
    return GH_OK;
  }
  case 'b': /* one byte, 0 or 1 */
    out->num = !out->null && len == 1 && v[0] == 1;
    return GH_OK;
  default: /* 'i': int2, int4 or int8 */
    if (out->null) return GH_OK;
    if (len != 2 && len != 4 && len != 8) return GH_ERR_DB;
    out->num = be_int(v, len);
    return GH_OK;
  }
}

/* --- statements --------------------------------------------------------------------------- */

static gh_status pg_run(gh_store *base, const gh_query *q, const char *sql, const gh_param *p,
                        int np, gh_arena *a, gh_rows *rows, long *changes) {
  pg_store *s = (pg_store *)base;
  const char *vals[GH_STORE_MAX_PARAMS];
  char buf[GH_STORE_MAX_PARAMS][GH_ISO_LEN > 24 ? GH_ISO_LEN : 24];
  for (int i = 0; i < np; i++) {
    switch (p[i].type) {
    case 't':
      vals[i] = p[i].t;
      break;
    case 'd':
      gh_iso8601(p[i].v, buf[i]);
      vals[i] = buf[i];
      break;
    case 'b':
      vals[i] = p[i].v ? "true" : "false";
      break;
    case 'i':
      snprintf(buf[i], sizeof buf[i], "%lld", (long long)p[i].v);
      vals[i] = buf[i];
      break;
    default:
      vals[i] = NULL;
      break;
    }
  }
  gh_status status = s->in_tx ? GH_OK : ensure(s);
  if (status) return status;

  gh_stmt_slot *slot = gh_stmt_cache_get(&s->stmts, q);
  char name[24];
  snprintf(name, sizeof name, "gh_%u", slot->id);
  /* A connection the server closed while it sat idle (restart, failover) only shows when it is
   * used: a read outside a transaction is then retried once on a fresh connection, so the first
   * request of each thread after an outage does not fail needlessly. Writes are not retried. */
  bool retry = PQtransactionStatus(s->conn) == PQTRANS_IDLE && strncmp(sql, "select", 6) == 0;
  PGresult *r;
  for (;;) {
    status = GH_OK;
    if (!slot->stmt) {
      r = PQprepare(s->conn, name, sql, 0, NULL);
      status = check(s, r, q->name);
      PQclear(r);
      if (status == GH_OK) slot->stmt = s;
    }
    r = NULL;
    if (status == GH_OK) {
      r = PQexecPrepared(s->conn, name, np, vals, NULL, NULL, 1 /* binary results */);
      status = check(s, r, q->name);
    }
    if (status == GH_ERR_DB_UNAVAILABLE && retry) {
      retry = false;
      if (ensure(s) == GH_OK) {
        PQclear(r);
        continue;
      }
    }
    break;
  }
  if (status == GH_OK && rows) {
    int nrows = PQntuples(r);
    if (q->cols && (size_t)PQnfields(r) != rows->ncols) {
      gh_store_log("postgres", q->name, "columns",
                   "result columns do not match the query's format");
      status = GH_ERR_INVALID;
    } else if (nrows > 0) {
      size_t w = rows->ncols ? rows->ncols : 1;
      rows->cells = gh_arena_alloc(a, (size_t)nrows * w * sizeof *rows->cells);
      memset(rows->cells, 0, (size_t)nrows * w * sizeof *rows->cells);
      rows->n = (size_t)nrows;
      for (int i = 0; i < nrows && status == GH_OK; i++)
        for (size_t c = 0; c < rows->ncols && status == GH_OK; c++)
          status = read_cell(a, r, i, (int)c, q->cols[c], &rows->cells[(size_t)i * w + c]);
    }
    if (status) rows->n = 0;
  }
  if (status == GH_OK && changes) *changes = strtol(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return status;
}

static gh_status pg_begin(gh_store *base) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status == GH_OK) status = simple(s, "begin", "begin");
  s->in_tx = status == GH_OK;
  return status;
}

static gh_status pg_commit(gh_store *base) {
  pg_store *s = (pg_store *)base;
  s->in_tx = false; /* a failed COMMIT ends the transaction too */
  return simple(s, "commit", "commit");
}

static void pg_rollback(gh_store *base) {
  rollback((pg_store *)base);
}

static gh_status pg_script(gh_store *base, const char *sql, const char *op) {
  return simple((pg_store *)base, sql, op);
}

/* --- open / close ------------------------------------------------------------------------- */

static void pg_close(gh_store *base) {
  pg_store *s = (pg_store *)base;
  if (s->conn) PQfinish(s->conn);
  gh_stmt_cache_free(&s->stmts);
  free(s);
}

static const gh_store_ops pg_ops = {
    .close = pg_close,
    .run = pg_run,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .script = pg_script,
};

/* NOTICEs (e.g. "relation already exists, skipping" from migrations) are not errors. */
static void quiet_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

gh_status gh_store_pg_open(const char *conninfo, gh_store **out) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
  if (!opts) {
    /* the parser's message may quote the URL, which can hold a password: not logged */
    PQfreemem(err);
    gh_store_log("postgres", "open", "url", "malformed PostgreSQL connection URL");
    return GH_ERR_CONFIG;
  }
  PQconninfoFree(opts);

  gh_status status = GH_ERR_DB_UNAVAILABLE;
  pg_store *s = gh_xcalloc(1, sizeof *s);
  s->base.ops = &pg_ops;
  s->base.kind = GH_STORE_POSTGRES;
  s->base.issuer = -1;
  /* Keywords before "dbname" are defaults that the URL (expanded in place of dbname) overrides.
   * Every statement gatehouse runs is a lookup by a unique or indexed key (or has no index to use
   * anyway), but on small tables the planner prefers sequential scans and a hash join over all
   * users for session_by_token, which costs PostgreSQL about 40 % more CPU per get-session than
   * the index scans. Plain-text `options=...` in DATABASE_URL replaces this default. */
  const char *const keys[] = {
      "connect_timeout", "fallback_application_name", "client_encoding", "options", "dbname", NULL};
  const char *const vals[] = {CONNECT_TIMEOUT,         "gatehouse", "UTF8",
                              "-c enable_seqscan=off", conninfo,    NULL};
  s->conn = PQconnectdbParams(keys, vals, 1);
  if (!s->conn) gh_oom();
  PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    gh_store_log("postgres", "connect", "", PQerrorMessage(s->conn));
    goto fail;
  }
  *out = &s->base;
  return GH_OK;
fail:
  pg_close(&s->base);
  return status;
}
