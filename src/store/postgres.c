/* PostgreSQL backend: one PGconn per gh_store, every statement prepared once per connection and run
 * with text parameters (dates sent as ISO-8601) and binary results (timestamptz read as an int64).
 * A broken connection answers GH_ERR_DB_UNAVAILABLE and is reset (PQreset) on the next call. */
#include "store/backend.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/time.h"
#include "store/migrations.h"

#define CONNECT_TIMEOUT "5" /* seconds; a connect_timeout in the URL wins */
#define MAX_PARAMS 8
/* Serialises concurrent `migrate` runs from several instances (pg_advisory_xact_lock key). */
#define MIGRATE_LOCK "select pg_advisory_xact_lock(7152026001)"
#define MIGRATIONS_TABLE                                                                           \
  "create table if not exists \"gatehouse_migrations\" (\"name\" text not null primary key, "      \
  "\"applied_at\" timestamptz default CURRENT_TIMESTAMP not null)"

enum {
  Q_PING,
  Q_MIG_EXISTS,
  Q_MIG_HAS,
  Q_MIG_ADD,
  Q_MIG_LIST,
  Q_ISSUER,
  Q_USER_BY_EMAIL,
  Q_USER_BY_ID,
  Q_USER_INSERT,
  Q_USER_UPDATE,
  Q_USER_DELETE,
  Q_ACCOUNT_INSERT,
  Q_ACCOUNT_INSERT_ISSUER,
  Q_ACCOUNTS_DELETE_USER,
  Q_CRED_PASSWORD,
  Q_CRED_UPDATE,
  Q_SESSION_INSERT,
  Q_SESSION_BY_TOKEN,
  Q_SESSION_TOUCH,
  Q_SESSION_DELETE,
  Q_SESSION_DELETE_OWN,
  Q_SESSIONS_DELETE_USER,
  Q_SESSIONS_DELETE_EXCEPT,
  Q_SESSIONS_LIST,
  Q_SESSIONS_PURGE,
  Q_JWKS_LIST,
  Q_JWKS_INSERT,
  Q_JWKS_RETIRE,
  Q_COUNT
};

/* Results come back in binary format (no text formatting on the server): timestamptz is an int64
 * of microseconds since 2000-01-01 UTC, converted to epoch milliseconds in col_ms. */
#define USER_COLS(p)                                                                               \
  p "\"id\", " p "\"name\", " p "\"email\", " p "\"emailVerified\", " p "\"image\", " p            \
    "\"createdAt\", " p "\"updatedAt\""
#define SESSION_COLS(p)                                                                            \
  p "\"id\", " p "\"token\", " p "\"userId\", " p "\"expiresAt\", " p "\"createdAt\", " p          \
    "\"updatedAt\", " p "\"ipAddress\", " p "\"userAgent\""
#define ACCOUNT_INSERT                                                                             \
  "insert into \"account\" (\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", "     \
  "\"createdAt\", \"updatedAt\""

#define JWKS_COLS                                                                                  \
  "\"id\", \"publicKey\", \"privateKey\", \"createdAt\", \"expiresAt\", \"alg\", \"crv\""

static const struct {
  const char *name, *sql;
} Q[Q_COUNT] = {
    [Q_PING] = {"ping", "select 1"},
    [Q_MIG_EXISTS] = {"migrations_exists",
                      "select to_regclass('\"gatehouse_migrations\"') is not null"},
    [Q_MIG_HAS] = {"migration_applied",
                   "select 1 from \"gatehouse_migrations\" where \"name\" = $1"},
    [Q_MIG_ADD] = {"migration_record", "insert into \"gatehouse_migrations\" (\"name\", "
                                       "\"applied_at\") values ($1, $2)"},
    [Q_MIG_LIST] = {"migrations_list", "select \"name\" from \"gatehouse_migrations\""},
    [Q_ISSUER] = {"account_columns",
                  "select exists (select 1 from pg_attribute where attrelid = "
                  "to_regclass('\"account\"') and attname = 'issuer' and attnum > 0 and not "
                  "attisdropped)"},
    [Q_USER_BY_EMAIL] = {"user_by_email",
                         "select " USER_COLS("") " from \"user\" where \"email\" = $1"},
    [Q_USER_BY_ID] = {"user_by_id", "select " USER_COLS("") " from \"user\" where \"id\" = $1"},
    [Q_USER_INSERT] = {"user_insert",
                       "insert into \"user\" (\"id\", \"name\", \"email\", \"emailVerified\", "
                       "\"image\", \"createdAt\", \"updatedAt\") values ($1, $2, $3, $4, $5, $6, "
                       "$7)"},
    [Q_USER_UPDATE] = {"user_update",
                       "update \"user\" set \"name\" = coalesce($1::text, \"name\"), \"image\" = "
                       "case when $2::boolean then $3::text else \"image\" end, \"updatedAt\" = $4 "
                       "where \"id\" = $5"},
    [Q_USER_DELETE] = {"user_delete", "delete from \"user\" where \"id\" = $1"},
    [Q_ACCOUNT_INSERT] = {"account_insert", ACCOUNT_INSERT ") values ($1, $2, $3, $4, $5, $6, $7)"},
    [Q_ACCOUNT_INSERT_ISSUER] = {"account_insert",
                                 ACCOUNT_INSERT ", \"issuer\") values ($1, $2, $3, $4, $5, $6, $7, "
                                                "$8)"},
    [Q_ACCOUNTS_DELETE_USER] = {"accounts_delete", "delete from \"account\" where \"userId\" = $1"},
    [Q_CRED_PASSWORD] = {"credential_password",
                         "select \"password\" from \"account\" where \"userId\" = $1 and "
                         "\"accountId\" = $1 and \"providerId\" = 'credential' limit 1"},
    [Q_CRED_UPDATE] = {"credential_update",
                       "update \"account\" set \"password\" = $1, \"updatedAt\" = $2 where "
                       "\"userId\" = $3 and \"accountId\" = $3 and \"providerId\" = 'credential'"},
    [Q_SESSION_INSERT] = {"session_insert",
                          "insert into \"session\" (\"id\", \"token\", \"userId\", \"expiresAt\", "
                          "\"createdAt\", \"updatedAt\", \"ipAddress\", \"userAgent\") values ($1, "
                          "$2, $3, $4, $5, $6, $7, $8)"},
    [Q_SESSION_BY_TOKEN] = {"session_by_token",
                            "select " SESSION_COLS("s.") ", " USER_COLS(
                                "u.") " from \"session\" s join \"user\" u on u.\"id\" = "
                                      "s.\"userId\" where s.\"token\" = $1"},
    [Q_SESSION_TOUCH] = {"session_touch", "update \"session\" set \"expiresAt\" = $1, "
                                          "\"updatedAt\" = $2 where \"id\" = $3"},
    [Q_SESSION_DELETE] = {"session_delete", "delete from \"session\" where \"token\" = $1"},
    [Q_SESSION_DELETE_OWN] = {"session_delete_own",
                              "delete from \"session\" where \"userId\" = $1 and \"token\" = $2"},
    [Q_SESSIONS_DELETE_USER] = {"sessions_delete", "delete from \"session\" where \"userId\" = $1"},
    [Q_SESSIONS_DELETE_EXCEPT] = {"sessions_delete_except",
                                  "delete from \"session\" where \"userId\" = $1 and \"token\" <> "
                                  "$2"},
    [Q_SESSIONS_LIST] = {"sessions_list",
                         "select " SESSION_COLS("") " from \"session\" where \"userId\" = $1 and "
                                                    "\"expiresAt\" > $2 order by \"createdAt\""},
    [Q_SESSIONS_PURGE] = {"sessions_purge", "delete from \"session\" where \"expiresAt\" <= $1"},
    [Q_JWKS_LIST] = {"jwks_list", "select " JWKS_COLS " from \"jwks\" order by \"createdAt\""},
    [Q_JWKS_INSERT] = {"jwks_insert",
                       "insert into \"jwks\" (" JWKS_COLS ") values ($1, $2, $3, $4, $5, $6, $7)"},
    [Q_JWKS_RETIRE] = {"jwks_retire", "update \"jwks\" set \"expiresAt\" = $1 where \"expiresAt\" "
                                      "is null or \"expiresAt\" > $1"},
};

typedef struct {
  gh_store base;
  PGconn *conn;
  bool broken;      /* reset before the next statement */
  bool down_logged; /* the outage has been logged once */
  bool has_issuer;  /* account.issuer exists (better-auth 1.7.0-1.7.2 databases) */
  bool retrying;    /* inside run()'s one reconnect-and-retry */
  bool prepared[Q_COUNT];
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

/* --- statements --------------------------------------------------------------------------- */

/* Runs prepared statement q. fmt: one letter per parameter: t = const char * (NULL = SQL NULL),
 * d = int64_t ms (sent as ISO-8601), b = bool (as int). *out (optional) receives the result, which
 * the caller clears; *changes (optional) the number of rows affected. */
static gh_status ensure(pg_store *s);

static gh_status run(pg_store *s, int q, PGresult **out, long *changes, const char *fmt, ...) {
  const char *vals[MAX_PARAMS];
  char dates[MAX_PARAMS][GH_ISO_LEN];
  int n = 0;
  gh_status status = GH_OK;
  va_list ap;
  va_start(ap, fmt);
  for (; *fmt && status == GH_OK; fmt++, n++) {
    if (n == MAX_PARAMS) {
      status = GH_ERR_INVALID;
      break;
    }
    switch (*fmt) {
    case 't':
      vals[n] = va_arg(ap, const char *);
      break;
    case 'd':
      gh_iso8601(va_arg(ap, int64_t), dates[n]);
      vals[n] = dates[n];
      break;
    case 'b':
      vals[n] = va_arg(ap, int) ? "true" : "false";
      break;
    default:
      status = GH_ERR_INVALID;
      break;
    }
  }
  va_end(ap);
  if (status) return status;

  char name[16];
  snprintf(name, sizeof name, "gh_%d", q);
  /* A connection the server closed while it sat idle (restart, failover) only shows when it is
   * used: a read outside a transaction is then retried once on a fresh connection, so the first
   * request of each thread after an outage does not fail needlessly. Writes are not retried. */
  bool retry = !s->retrying && PQtransactionStatus(s->conn) == PQTRANS_IDLE &&
               strncmp(Q[q].sql, "select", 6) == 0;
  PGresult *r;
  for (;;) {
    status = GH_OK;
    if (!s->prepared[q]) {
      r = PQprepare(s->conn, name, Q[q].sql, 0, NULL);
      status = check(s, r, Q[q].name);
      PQclear(r);
      if (status == GH_OK) s->prepared[q] = true;
    }
    r = NULL;
    if (status == GH_OK) {
      r = PQexecPrepared(s->conn, name, n, vals, NULL, NULL, 1 /* binary results */);
      status = check(s, r, Q[q].name);
    }
    if (status == GH_ERR_DB_UNAVAILABLE && retry) {
      retry = false;
      s->retrying = true; /* ensure() runs statements itself: no nested retries */
      gh_status again = ensure(s);
      s->retrying = false;
      if (again == GH_OK) {
        PQclear(r);
        continue;
      }
    }
    break;
  }
  if (status) {
    PQclear(r);
    return status;
  }
  if (changes) *changes = strtol(PQcmdTuples(r), NULL, 10);
  if (out)
    *out = r;
  else
    PQclear(r);
  return GH_OK;
}

static gh_status simple(pg_store *s, const char *sql, const char *op) {
  PGresult *r = PQexec(s->conn, sql);
  gh_status status = check(s, r, op);
  PQclear(r);
  return status;
}

static gh_status begin(pg_store *s) {
  return simple(s, "begin", "begin");
}

static gh_status commit(pg_store *s) {
  return simple(s, "commit", "commit");
}

static void rollback(pg_store *s) {
  if (PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) == PQTRANS_IDLE) return;
  PQclear(PQexec(s->conn, "rollback"));
}

/* --- columns ------------------------------------------------------------------------------ */

static char *col_text(gh_arena *a, const PGresult *r, int row, int c) {
  if (PQgetisnull(r, row, c)) return NULL;
  return gh_arena_strndup(a, PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c));
}

/* Binary timestamptz: big-endian int64 microseconds since 2000-01-01T00:00:00Z. */
static gh_status col_ms(const PGresult *r, int row, int c, int64_t *ms) {
  if (PQgetisnull(r, row, c) || PQgetlength(r, row, c) != 8) return GH_ERR_DB;
  const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, c);
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u = u << 8 | v[i];
  int64_t us = (int64_t)u;
  int64_t msec = us >= 0 ? us / 1000 : -((-us + 999) / 1000); /* floor */
  *ms = msec + INT64_C(946684800000);
  return GH_OK;
}

/* Binary boolean: one byte, 0 or 1. */
static bool col_bool(const PGresult *r, int row, int c) {
  return !PQgetisnull(r, row, c) && PQgetlength(r, row, c) == 1 && PQgetvalue(r, row, c)[0] == 1;
}

static gh_status read_user(gh_arena *a, const PGresult *r, int row, int c, gh_user *u) {
  memset(u, 0, sizeof *u);
  u->id = col_text(a, r, row, c);
  u->name = col_text(a, r, row, c + 1);
  u->email = col_text(a, r, row, c + 2);
  u->email_verified = col_bool(r, row, c + 3);
  u->image = col_text(a, r, row, c + 4);
  if (!u->id || !u->name || !u->email) return GH_ERR_DB;
  if (col_ms(r, row, c + 5, &u->created_at) || col_ms(r, row, c + 6, &u->updated_at))
    return GH_ERR_DB;
  return GH_OK;
}

static gh_status read_session(gh_arena *a, const PGresult *r, int row, int c, gh_session *x) {
  memset(x, 0, sizeof *x);
  x->id = col_text(a, r, row, c);
  x->token = col_text(a, r, row, c + 1);
  x->user_id = col_text(a, r, row, c + 2);
  x->ip_address = col_text(a, r, row, c + 6);
  x->user_agent = col_text(a, r, row, c + 7);
  if (!x->id || !x->token || !x->user_id) return GH_ERR_DB;
  if (col_ms(r, row, c + 3, &x->expires_at) || col_ms(r, row, c + 4, &x->created_at) ||
      col_ms(r, row, c + 5, &x->updated_at))
    return GH_ERR_DB;
  return GH_OK;
}

/* --- connection --------------------------------------------------------------------------- */

static gh_status detect_issuer(pg_store *s) {
  PGresult *r = NULL;
  gh_status status = run(s, Q_ISSUER, &r, NULL, "");
  if (status) return status;
  s->has_issuer = PQntuples(r) == 1 && col_bool(r, 0, 0);
  PQclear(r);
  return GH_OK;
}

/* Called first by every operation: reconnects a broken connection, and makes sure no transaction
 * is left open. */
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
  memset(s->prepared, 0, sizeof s->prepared);
  return detect_issuer(s);
}

/* --- schema ------------------------------------------------------------------------------- */

static gh_status pg_migrate(gh_store *base, int *applied) {
  pg_store *s = (pg_store *)base;
  int n = 0;
  gh_status status = ensure(s);
  if (status) return status;
  if ((status = begin(s)) || (status = simple(s, MIGRATE_LOCK, "migrate_lock")) ||
      (status = simple(s, MIGRATIONS_TABLE, "migrations_table")) || (status = commit(s)))
    goto fail;
  for (size_t i = 0; i < gh_migrations_postgres_n; i++) {
    const gh_migration *m = &gh_migrations_postgres[i];
    PGresult *r = NULL;
    if ((status = begin(s)) || (status = simple(s, MIGRATE_LOCK, "migrate_lock"))) goto fail;
    status = run(s, Q_MIG_HAS, &r, NULL, "t", m->name);
    if (status) goto fail;
    bool done = PQntuples(r) > 0;
    PQclear(r);
    if (!done) {
      status = simple(s, m->sql, m->name);
      if (status) goto fail;
      status = run(s, Q_MIG_ADD, NULL, NULL, "td", m->name, gh_now_ms());
      if (status) goto fail;
      n++;
    }
    status = commit(s);
    if (status) goto fail;
  }
  if (applied) *applied = n;
  return detect_issuer(s);
fail:
  rollback(s);
  if (applied) *applied = n;
  return status;
}

static gh_status pg_check_schema(gh_store *base) {
  pg_store *s = (pg_store *)base;
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_MIG_EXISTS, &r, NULL, "");
  if (status) return status;
  bool exists = PQntuples(r) == 1 && col_bool(r, 0, 0);
  PQclear(r);
  if (!exists) return GH_ERR_SCHEMA;
  status = run(s, Q_MIG_LIST, &r, NULL, "");
  if (status) return status;
  size_t found = 0;
  for (int row = 0; row < PQntuples(r); row++)
    for (size_t i = 0; i < gh_migrations_postgres_n; i++)
      if (strcmp(PQgetvalue(r, row, 0), gh_migrations_postgres[i].name) == 0) found++;
  PQclear(r);
  return found == gh_migrations_postgres_n ? GH_OK : GH_ERR_SCHEMA;
}

static gh_status pg_ping(gh_store *base) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  return run(s, Q_PING, NULL, NULL, "");
}

/* --- users -------------------------------------------------------------------------------- */

static gh_status user_by(pg_store *s, int q, gh_arena *a, const char *key, gh_user *out) {
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, q, &r, NULL, "t", key);
  if (status) return status;
  status = PQntuples(r) > 0 ? read_user(a, r, 0, 0, out) : GH_ERR_NOT_FOUND;
  PQclear(r);
  return status;
}

static gh_status pg_user_by_email(gh_store *base, gh_arena *a, const char *email, gh_user *out) {
  return user_by((pg_store *)base, Q_USER_BY_EMAIL, a, email, out);
}

static gh_status pg_user_by_id(gh_store *base, gh_arena *a, const char *id, gh_user *out) {
  return user_by((pg_store *)base, Q_USER_BY_ID, a, id, out);
}

static gh_status insert_account(pg_store *s, const char *id, const char *account_id,
                                const char *provider_id, const char *user_id, const char *password,
                                int64_t created_at, int64_t updated_at) {
  if (!s->has_issuer)
    return run(s, Q_ACCOUNT_INSERT, NULL, NULL, "tttttdd", id, account_id, provider_id, user_id,
               password, created_at, updated_at);
  gh_arena *a = gh_arena_new();
  gh_status status =
      run(s, Q_ACCOUNT_INSERT_ISSUER, NULL, NULL, "tttttddt", id, account_id, provider_id, user_id,
          password, created_at, updated_at, gh_store_account_issuer(a, provider_id));
  gh_arena_free(a);
  return status;
}

static gh_status insert_session(pg_store *s, const gh_session *x, const char *user_id) {
  return run(s, Q_SESSION_INSERT, NULL, NULL, "tttdddtt", x->id, x->token, user_id, x->expires_at,
             x->created_at, x->updated_at, x->ip_address, x->user_agent);
}

static gh_status pg_create_user(gh_store *base, const gh_user *u, const gh_account *cred,
                                const gh_session *sess) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  status = begin(s);
  if (status) goto fail;
  status = run(s, Q_USER_INSERT, NULL, NULL, "tttbtdd", u->id, u->name, u->email,
               (int)u->email_verified, u->image, u->created_at, u->updated_at);
  if (status) goto fail;
  if (cred) {
    status = insert_account(s, cred->id, cred->account_id ? cred->account_id : u->id,
                            cred->provider_id ? cred->provider_id : "credential",
                            cred->user_id ? cred->user_id : u->id, cred->password, cred->created_at,
                            cred->updated_at);
    if (status) goto fail;
  }
  if (sess) {
    status = insert_session(s, sess, sess->user_id ? sess->user_id : u->id);
    if (status) goto fail;
  }
  status = commit(s);
  if (status) goto fail;
  return GH_OK;
fail:
  rollback(s);
  return status;
}

static gh_status pg_update_user(gh_store *base, const char *id, const char *name, bool set_image,
                                const char *image, int64_t updated_at) {
  pg_store *s = (pg_store *)base;
  long n = 0;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_USER_UPDATE, NULL, &n, "tbtdt", name, (int)set_image, image, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status pg_delete_user(gh_store *base, const char *id) {
  pg_store *s = (pg_store *)base;
  long n = 0;
  gh_status status = ensure(s);
  if (status) return status;
  if ((status = begin(s)) || (status = run(s, Q_SESSIONS_DELETE_USER, NULL, NULL, "t", id)) ||
      (status = run(s, Q_ACCOUNTS_DELETE_USER, NULL, NULL, "t", id)) ||
      (status = run(s, Q_USER_DELETE, NULL, &n, "t", id)))
    goto fail;
  if (n == 0) {
    status = GH_ERR_NOT_FOUND;
    goto fail;
  }
  status = commit(s);
  if (status) goto fail;
  return GH_OK;
fail:
  rollback(s);
  return status;
}

/* --- credential account ------------------------------------------------------------------- */

static gh_status pg_credential_password(gh_store *base, gh_arena *a, const char *user_id,
                                        char **hash) {
  pg_store *s = (pg_store *)base;
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_CRED_PASSWORD, &r, NULL, "t", user_id);
  if (status) return status;
  *hash = PQntuples(r) > 0 ? col_text(a, r, 0, 0) : NULL;
  PQclear(r);
  return *hash ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status pg_set_password(gh_store *base, const char *user_id, const char *hash,
                                 const char *new_account_id, int64_t now, bool revoke_sessions,
                                 const gh_session *new_session) {
  pg_store *s = (pg_store *)base;
  long n = 0;
  gh_status status = ensure(s);
  if (status) return status;
  if ((status = begin(s)) || (status = run(s, Q_CRED_UPDATE, NULL, &n, "tdt", hash, now, user_id)))
    goto fail;
  if (n == 0) {
    if (!new_account_id) {
      status = GH_ERR_NOT_FOUND;
      goto fail;
    }
    status = insert_account(s, new_account_id, user_id, "credential", user_id, hash, now, now);
    if (status) goto fail;
  }
  if (revoke_sessions) {
    status = run(s, Q_SESSIONS_DELETE_USER, NULL, NULL, "t", user_id);
    if (status) goto fail;
  }
  if (new_session) {
    status = insert_session(s, new_session, new_session->user_id ? new_session->user_id : user_id);
    if (status) goto fail;
  }
  status = commit(s);
  if (status) goto fail;
  return GH_OK;
fail:
  rollback(s);
  return status;
}

/* --- sessions ----------------------------------------------------------------------------- */

static gh_status pg_create_session(gh_store *base, const gh_session *sess) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  return insert_session(s, sess, sess->user_id);
}

static gh_status pg_session_by_token(gh_store *base, gh_arena *a, const char *token,
                                     gh_session *sess, gh_user *user) {
  pg_store *s = (pg_store *)base;
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_SESSION_BY_TOKEN, &r, NULL, "t", token);
  if (status) return status;
  if (PQntuples(r) == 0) {
    status = GH_ERR_NOT_FOUND;
  } else {
    status = read_session(a, r, 0, 0, sess);
    if (status == GH_OK) status = read_user(a, r, 0, 8, user);
  }
  PQclear(r);
  return status;
}

static gh_status pg_touch_session(gh_store *base, const char *id, int64_t expires_at,
                                  int64_t updated_at) {
  pg_store *s = (pg_store *)base;
  long n = 0;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_SESSION_TOUCH, NULL, &n, "ddt", expires_at, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status pg_delete_session(gh_store *base, const char *token) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  return run(s, Q_SESSION_DELETE, NULL, NULL, "t", token);
}

static gh_status pg_delete_user_session(gh_store *base, const char *user_id, const char *token) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  return run(s, Q_SESSION_DELETE_OWN, NULL, NULL, "tt", user_id, token);
}

static gh_status pg_delete_user_sessions(gh_store *base, const char *user_id,
                                         const char *except_token) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  if (except_token)
    return run(s, Q_SESSIONS_DELETE_EXCEPT, NULL, NULL, "tt", user_id, except_token);
  return run(s, Q_SESSIONS_DELETE_USER, NULL, NULL, "t", user_id);
}

static gh_status pg_list_sessions(gh_store *base, gh_arena *a, const char *user_id, int64_t now,
                                  gh_session **out, size_t *n) {
  pg_store *s = (pg_store *)base;
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_SESSIONS_LIST, &r, NULL, "td", user_id, now);
  if (status) return status;
  int rows = PQntuples(r);
  gh_session *v = rows ? gh_arena_alloc(a, (size_t)rows * sizeof *v) : NULL;
  for (int i = 0; i < rows; i++) {
    status = read_session(a, r, i, 0, &v[i]);
    if (status) goto fail;
  }
  PQclear(r);
  *out = v;
  *n = (size_t)rows;
  return GH_OK;
fail:
  PQclear(r);
  return status;
}

static gh_status pg_purge_expired(gh_store *base, int64_t now, long *deleted) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  return run(s, Q_SESSIONS_PURGE, NULL, deleted, "d", now);
}

/* --- jwks --------------------------------------------------------------------------------- */

static gh_status pg_jwks_list(gh_store *base, gh_arena *a, gh_jwks_row **out, size_t *n) {
  pg_store *s = (pg_store *)base;
  PGresult *r = NULL;
  gh_status status = ensure(s);
  if (status) return status;
  status = run(s, Q_JWKS_LIST, &r, NULL, "");
  if (status) return status;
  int rows = PQntuples(r);
  gh_jwks_row *v = rows ? gh_arena_alloc(a, (size_t)rows * sizeof *v) : NULL;
  for (int i = 0; i < rows; i++) {
    gh_jwks_row *x = &v[i];
    x->id = col_text(a, r, i, 0);
    x->public_key = col_text(a, r, i, 1);
    x->private_key = col_text(a, r, i, 2);
    x->alg = col_text(a, r, i, 5);
    x->crv = col_text(a, r, i, 6);
    status = col_ms(r, i, 3, &x->created_at);
    if (status || !x->id || !x->public_key || !x->private_key) {
      status = GH_ERR_DB;
      goto fail;
    }
    if (!PQgetisnull(r, i, 4)) {
      status = col_ms(r, i, 4, &x->expires_at);
      if (status) goto fail;
      x->has_expiry = true;
    }
  }
  PQclear(r);
  *out = v;
  *n = (size_t)rows;
  return GH_OK;
fail:
  PQclear(r);
  return status;
}

static gh_status pg_jwks_insert(gh_store *base, const gh_jwks_row *row, int64_t retire_at) {
  pg_store *s = (pg_store *)base;
  gh_status status = ensure(s);
  if (status) return status;
  status = begin(s);
  if (status) return status;
  if (retire_at > 0) {
    status = run(s, Q_JWKS_RETIRE, NULL, NULL, "d", retire_at);
    if (status) goto fail;
  }
  if (row->has_expiry)
    status = run(s, Q_JWKS_INSERT, NULL, NULL, "tttddtt", row->id, row->public_key,
                 row->private_key, row->created_at, row->expires_at, row->alg, row->crv);
  else
    status = run(s, Q_JWKS_INSERT, NULL, NULL, "tttdttt", row->id, row->public_key,
                 row->private_key, row->created_at, (const char *)NULL, row->alg, row->crv);
  if (status) goto fail;
  status = commit(s);
  if (status) goto fail;
  return GH_OK;
fail:
  rollback(s);
  return status;
}

/* --- open / close ------------------------------------------------------------------------- */

static void pg_close(gh_store *base) {
  pg_store *s = (pg_store *)base;
  if (s->conn) PQfinish(s->conn);
  free(s);
}

static const gh_store_ops pg_ops = {
    .close = pg_close,
    .migrate = pg_migrate,
    .check_schema = pg_check_schema,
    .ping = pg_ping,
    .user_by_email = pg_user_by_email,
    .user_by_id = pg_user_by_id,
    .create_user = pg_create_user,
    .update_user = pg_update_user,
    .delete_user = pg_delete_user,
    .credential_password = pg_credential_password,
    .set_password = pg_set_password,
    .create_session = pg_create_session,
    .session_by_token = pg_session_by_token,
    .touch_session = pg_touch_session,
    .delete_session = pg_delete_session,
    .delete_user_session = pg_delete_user_session,
    .delete_user_sessions = pg_delete_user_sessions,
    .list_sessions = pg_list_sessions,
    .purge_expired = pg_purge_expired,
    .jwks_list = pg_jwks_list,
    .jwks_insert = pg_jwks_insert,
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
  status = detect_issuer(s);
  if (status) goto fail;
  *out = &s->base;
  return GH_OK;
fail:
  pg_close(&s->base);
  return status;
}
