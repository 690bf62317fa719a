/* SQLite backend: one sqlite3 connection (SQLITE_OPEN_NOMUTEX, WAL, synchronous=NORMAL,
 * foreign_keys=ON, busy_timeout) with a per-connection cache of prepared statements. Dates are
 * ISO-8601 text with milliseconds (JS toISOString), booleans 0/1, as better-auth stores them.
 * Multi-statement writes run inside BEGIN IMMEDIATE; single statements autocommit. */
#include "store/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/time.h"
#include "store/migrations.h"

#define BUSY_TIMEOUT_MS 5000

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_PING,
  Q_MIG_TABLE,
  Q_MIG_HAS,
  Q_MIG_ADD,
  Q_MIG_EXISTS,
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

#define USER_COLS                                                                                  \
  "\"id\", \"name\", \"email\", \"emailVerified\", \"image\", \"createdAt\", \"updatedAt\""
#define SESSION_COLS                                                                               \
  "\"id\", \"token\", \"userId\", \"expiresAt\", \"createdAt\", \"updatedAt\", \"ipAddress\", "    \
  "\"userAgent\""
#define ACCOUNT_INSERT                                                                             \
  "insert into \"account\" (\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", "     \
  "\"createdAt\", \"updatedAt\""

#define JWKS_COLS                                                                                  \
  "\"id\", \"publicKey\", \"privateKey\", \"createdAt\", \"expiresAt\", \"alg\", \"crv\""

static const struct {
  const char *name, *sql;
} Q[Q_COUNT] = {
    [Q_BEGIN] = {"begin", "begin immediate"},
    [Q_COMMIT] = {"commit", "commit"},
    [Q_ROLLBACK] = {"rollback", "rollback"},
    [Q_PING] = {"ping", "select 1"},
    [Q_MIG_TABLE] = {"migrations_table",
                     "create table if not exists \"gatehouse_migrations\" (\"name\" text not null "
                     "primary key, \"applied_at\" text not null)"},
    [Q_MIG_HAS] = {"migration_applied",
                   "select 1 from \"gatehouse_migrations\" where \"name\" = ?1"},
    [Q_MIG_ADD] = {"migration_record", "insert into \"gatehouse_migrations\" (\"name\", "
                                       "\"applied_at\") values (?1, ?2)"},
    [Q_MIG_EXISTS] = {"migrations_exists", "select 1 from sqlite_master where type = 'table' and "
                                           "name = 'gatehouse_migrations'"},
    [Q_MIG_LIST] = {"migrations_list", "select \"name\" from \"gatehouse_migrations\""},
    [Q_ISSUER] = {"account_columns", "select \"name\" from pragma_table_info('account')"},
    [Q_USER_BY_EMAIL] = {"user_by_email",
                         "select " USER_COLS " from \"user\" where \"email\" = ?1"},
    [Q_USER_BY_ID] = {"user_by_id", "select " USER_COLS " from \"user\" where \"id\" = ?1"},
    [Q_USER_INSERT] = {"user_insert",
                       "insert into \"user\" (" USER_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [Q_USER_UPDATE] = {"user_update",
                       "update \"user\" set \"name\" = coalesce(?1, \"name\"), \"image\" = case "
                       "when ?2 then ?3 else \"image\" end, \"updatedAt\" = ?4 where \"id\" = ?5"},
    [Q_USER_DELETE] = {"user_delete", "delete from \"user\" where \"id\" = ?1"},
    [Q_ACCOUNT_INSERT] = {"account_insert", ACCOUNT_INSERT ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [Q_ACCOUNT_INSERT_ISSUER] = {"account_insert",
                                 ACCOUNT_INSERT ", \"issuer\") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                                "?8)"},
    [Q_ACCOUNTS_DELETE_USER] = {"accounts_delete", "delete from \"account\" where \"userId\" = ?1"},
    [Q_CRED_PASSWORD] = {"credential_password",
                         "select \"password\" from \"account\" where \"userId\" = ?1 and "
                         "\"accountId\" = ?1 and \"providerId\" = 'credential' limit 1"},
    [Q_CRED_UPDATE] = {"credential_update",
                       "update \"account\" set \"password\" = ?1, \"updatedAt\" = ?2 where "
                       "\"userId\" = ?3 and \"accountId\" = ?3 and \"providerId\" = 'credential'"},
    [Q_SESSION_INSERT] = {"session_insert", "insert into \"session\" (" SESSION_COLS
                                            ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    [Q_SESSION_BY_TOKEN] = {"session_by_token",
                            "select s.\"id\", s.\"token\", s.\"userId\", s.\"expiresAt\", "
                            "s.\"createdAt\", s.\"updatedAt\", s.\"ipAddress\", s.\"userAgent\", "
                            "u.\"id\", u.\"name\", u.\"email\", u.\"emailVerified\", u.\"image\", "
                            "u.\"createdAt\", u.\"updatedAt\" from \"session\" s join \"user\" u "
                            "on u.\"id\" = s.\"userId\" where s.\"token\" = ?1"},
    [Q_SESSION_TOUCH] = {"session_touch", "update \"session\" set \"expiresAt\" = ?1, "
                                          "\"updatedAt\" = ?2 where \"id\" = ?3"},
    [Q_SESSION_DELETE] = {"session_delete", "delete from \"session\" where \"token\" = ?1"},
    [Q_SESSION_DELETE_OWN] = {"session_delete_own",
                              "delete from \"session\" where \"userId\" = ?1 and \"token\" = ?2"},
    [Q_SESSIONS_DELETE_USER] = {"sessions_delete", "delete from \"session\" where \"userId\" = ?1"},
    [Q_SESSIONS_DELETE_EXCEPT] = {"sessions_delete_except",
                                  "delete from \"session\" where \"userId\" = ?1 and \"token\" <> "
                                  "?2"},
    [Q_SESSIONS_LIST] = {"sessions_list", "select " SESSION_COLS " from \"session\" where "
                                          "\"userId\" = ?1 order by \"createdAt\""},
    [Q_SESSIONS_PURGE] = {"sessions_purge", "delete from \"session\" where \"expiresAt\" <= ?1"},
    [Q_JWKS_LIST] = {"jwks_list", "select " JWKS_COLS " from \"jwks\""},
    [Q_JWKS_INSERT] = {"jwks_insert",
                       "insert into \"jwks\" (" JWKS_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [Q_JWKS_RETIRE] = {"jwks_retire", "update \"jwks\" set \"expiresAt\" = ?1 where \"expiresAt\" "
                                      "is null or \"expiresAt\" > ?1"},
};

typedef struct {
  gh_store base;
  sqlite3 *db;
  bool has_issuer; /* account.issuer exists (better-auth 1.7.0-1.7.2 databases) */
  sqlite3_stmt *stmt[Q_COUNT];
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
  if (!st) return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

/* fmt: one letter per parameter: t = const char * (NULL binds NULL), d = int64_t ms (ISO text),
 * b = bool (as int). */
static gh_status vprep(sq_store *s, int q, sqlite3_stmt **out, const char *fmt, va_list ap) {
  *out = NULL;
  if (!s->stmt[q]) {
    int rc = sqlite3_prepare_v3(s->db, Q[q].sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL);
    if (rc != SQLITE_OK) {
      s->stmt[q] = NULL;
      return fail_status(s, rc, Q[q].name);
    }
  }
  sqlite3_stmt *st = s->stmt[q];
  int rc = SQLITE_OK;
  for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
    switch (*fmt) {
    case 't': {
      const char *v = va_arg(ap, const char *);
      rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
      break;
    }
    case 'd': {
      char iso[GH_ISO_LEN];
      gh_iso8601(va_arg(ap, int64_t), iso);
      rc = sqlite3_bind_text(st, i, iso, -1, SQLITE_TRANSIENT);
      break;
    }
    case 'b':
      rc = sqlite3_bind_int(st, i, va_arg(ap, int) ? 1 : 0);
      break;
    default:
      rc = SQLITE_MISUSE;
      break;
    }
  }
  if (rc != SQLITE_OK) {
    finish(st);
    return fail_status(s, rc, Q[q].name);
  }
  *out = st;
  return GH_OK;
}

static gh_status prep(sq_store *s, int q, sqlite3_stmt **out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  gh_status status = vprep(s, q, out, fmt, ap);
  va_end(ap);
  return status;
}

/* Steps once: *row = true on SQLITE_ROW. On error the statement is reset. */
static gh_status step(sq_store *s, sqlite3_stmt *st, int q, bool *row) {
  *row = false;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
    *row = rc == SQLITE_ROW;
    return GH_OK;
  }
  gh_status status = fail_status(s, rc, Q[q].name);
  finish(st);
  return status;
}

/* Runs a statement that returns no rows; *changes (optional) = rows changed. */
static gh_status exec_q(sq_store *s, int q, long *changes, const char *fmt, ...) {
  sqlite3_stmt *st;
  bool row;
  va_list ap;
  va_start(ap, fmt);
  gh_status status = vprep(s, q, &st, fmt, ap);
  va_end(ap);
  if (status) return status;
  status = step(s, st, q, &row);
  if (status) return status;
  if (changes) *changes = (long)sqlite3_changes64(s->db);
  finish(st);
  return GH_OK;
}

static gh_status begin(sq_store *s) {
  return exec_q(s, Q_BEGIN, NULL, "");
}

static gh_status commit(sq_store *s) {
  return exec_q(s, Q_COMMIT, NULL, "");
}

static void rollback(sq_store *s) {
  if (sqlite3_get_autocommit(s->db)) return; /* SQLite already rolled back */
  gh_status status = exec_q(s, Q_ROLLBACK, NULL, "");
  (void)status;
}

/* --- columns ------------------------------------------------------------------------------ */

static char *col_text(gh_arena *a, sqlite3_stmt *st, int c) {
  if (sqlite3_column_type(st, c) == SQLITE_NULL) return NULL;
  const unsigned char *v = sqlite3_column_text(st, c);
  if (!v) gh_oom();
  return gh_arena_strndup(a, (const char *)v, (size_t)sqlite3_column_bytes(st, c));
}

static gh_status col_date(sqlite3_stmt *st, int c, int64_t *ms) {
  const unsigned char *v = sqlite3_column_text(st, c);
  if (!v || gh_iso8601_parse((const char *)v, ms) != GH_OK) {
    gh_store_log("sqlite", "read", "date", "invalid date value in column");
    return GH_ERR_DB;
  }
  return GH_OK;
}

static gh_status read_user(gh_arena *a, sqlite3_stmt *st, int c, gh_user *u) {
  memset(u, 0, sizeof *u);
  u->id = col_text(a, st, c);
  u->name = col_text(a, st, c + 1);
  u->email = col_text(a, st, c + 2);
  u->email_verified = sqlite3_column_int64(st, c + 3) != 0;
  u->image = col_text(a, st, c + 4);
  if (!u->id || !u->name || !u->email) return GH_ERR_DB;
  if (col_date(st, c + 5, &u->created_at) || col_date(st, c + 6, &u->updated_at)) return GH_ERR_DB;
  return GH_OK;
}

static gh_status read_session(gh_arena *a, sqlite3_stmt *st, int c, gh_session *x) {
  memset(x, 0, sizeof *x);
  x->id = col_text(a, st, c);
  x->token = col_text(a, st, c + 1);
  x->user_id = col_text(a, st, c + 2);
  x->ip_address = col_text(a, st, c + 6);
  x->user_agent = col_text(a, st, c + 7);
  if (!x->id || !x->token || !x->user_id) return GH_ERR_DB;
  if (col_date(st, c + 3, &x->expires_at) || col_date(st, c + 4, &x->created_at) ||
      col_date(st, c + 5, &x->updated_at))
    return GH_ERR_DB;
  return GH_OK;
}

/* --- schema ------------------------------------------------------------------------------- */

static gh_status detect_issuer(sq_store *s) {
  sqlite3_stmt *st;
  gh_status status = prep(s, Q_ISSUER, &st, "");
  if (status) return status;
  s->has_issuer = false;
  for (;;) {
    bool row;
    status = step(s, st, Q_ISSUER, &row);
    if (status) return status;
    if (!row) break;
    const unsigned char *name = sqlite3_column_text(st, 0);
    if (name && strcmp((const char *)name, "issuer") == 0) s->has_issuer = true;
  }
  finish(st);
  return GH_OK;
}

static gh_status sq_migrate(gh_store *base, int *applied) {
  sq_store *s = (sq_store *)base;
  int n = 0;
  gh_status status = exec_q(s, Q_MIG_TABLE, NULL, "");
  if (status) return status;
  for (size_t i = 0; i < gh_migrations_sqlite_n; i++) {
    const gh_migration *m = &gh_migrations_sqlite[i];
    sqlite3_stmt *st;
    bool done;
    status = begin(s);
    if (status) goto fail;
    status = prep(s, Q_MIG_HAS, &st, "t", m->name);
    if (status) goto fail;
    status = step(s, st, Q_MIG_HAS, &done);
    if (status) goto fail;
    finish(st);
    if (!done) {
      char *err = NULL;
      int rc = sqlite3_exec(s->db, m->sql, NULL, NULL, &err);
      if (rc != SQLITE_OK) {
        gh_store_log("sqlite", m->name, "migration", err ? err : sqlite3_errmsg(s->db));
        sqlite3_free(err);
        status = (rc & 0xff) == SQLITE_BUSY ? GH_ERR_DB_UNAVAILABLE : GH_ERR_DB;
        goto fail;
      }
      status = exec_q(s, Q_MIG_ADD, NULL, "td", m->name, gh_now_ms());
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

static gh_status sq_check_schema(gh_store *base) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  bool exists;
  gh_status status = prep(s, Q_MIG_EXISTS, &st, "");
  if (status) return status;
  status = step(s, st, Q_MIG_EXISTS, &exists);
  if (status) return status;
  finish(st);
  if (!exists) return GH_ERR_SCHEMA;
  status = prep(s, Q_MIG_LIST, &st, "");
  if (status) return status;
  size_t found = 0;
  for (;;) {
    bool row;
    status = step(s, st, Q_MIG_LIST, &row);
    if (status) return status;
    if (!row) break;
    const unsigned char *name = sqlite3_column_text(st, 0);
    for (size_t i = 0; name && i < gh_migrations_sqlite_n; i++)
      if (strcmp((const char *)name, gh_migrations_sqlite[i].name) == 0) found++;
  }
  finish(st);
  return found == gh_migrations_sqlite_n ? GH_OK : GH_ERR_SCHEMA;
}

static gh_status sq_ping(gh_store *base) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  bool row;
  gh_status status = prep(s, Q_PING, &st, "");
  if (status) return status;
  status = step(s, st, Q_PING, &row);
  if (status) return status;
  finish(st);
  return row ? GH_OK : GH_ERR_DB;
}

/* --- users -------------------------------------------------------------------------------- */

static gh_status user_by(sq_store *s, int q, gh_arena *a, const char *key, gh_user *out) {
  sqlite3_stmt *st;
  bool row;
  gh_status status = prep(s, q, &st, "t", key);
  if (status) return status;
  status = step(s, st, q, &row);
  if (status) return status;
  status = row ? read_user(a, st, 0, out) : GH_ERR_NOT_FOUND;
  finish(st);
  return status;
}

static gh_status sq_user_by_email(gh_store *base, gh_arena *a, const char *email, gh_user *out) {
  return user_by((sq_store *)base, Q_USER_BY_EMAIL, a, email, out);
}

static gh_status sq_user_by_id(gh_store *base, gh_arena *a, const char *id, gh_user *out) {
  return user_by((sq_store *)base, Q_USER_BY_ID, a, id, out);
}

static gh_status insert_account(sq_store *s, const char *id, const char *account_id,
                                const char *provider_id, const char *user_id, const char *password,
                                int64_t created_at, int64_t updated_at) {
  if (!s->has_issuer)
    return exec_q(s, Q_ACCOUNT_INSERT, NULL, "tttttdd", id, account_id, provider_id, user_id,
                  password, created_at, updated_at);
  gh_arena *a = gh_arena_new();
  const char *issuer = gh_store_account_issuer(a, provider_id);
  gh_status status = exec_q(s, Q_ACCOUNT_INSERT_ISSUER, NULL, "tttttddt", id, account_id,
                            provider_id, user_id, password, created_at, updated_at, issuer);
  gh_arena_free(a);
  return status;
}

static gh_status insert_session(sq_store *s, const gh_session *x, const char *user_id) {
  return exec_q(s, Q_SESSION_INSERT, NULL, "tttdddtt", x->id, x->token, user_id, x->expires_at,
                x->created_at, x->updated_at, x->ip_address, x->user_agent);
}

static gh_status sq_create_user(gh_store *base, const gh_user *u, const gh_account *cred,
                                const gh_session *sess) {
  sq_store *s = (sq_store *)base;
  gh_status status = begin(s);
  if (status) return status;
  status = exec_q(s, Q_USER_INSERT, NULL, "tttbtdd", u->id, u->name, u->email,
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

static gh_status sq_update_user(gh_store *base, const char *id, const char *name, bool set_image,
                                const char *image, int64_t updated_at) {
  sq_store *s = (sq_store *)base;
  long n = 0;
  gh_status status =
      exec_q(s, Q_USER_UPDATE, &n, "tbtdt", name, (int)set_image, image, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status sq_delete_user(gh_store *base, const char *id) {
  sq_store *s = (sq_store *)base;
  long n = 0;
  gh_status status = begin(s);
  if (status) return status;
  status = exec_q(s, Q_SESSIONS_DELETE_USER, NULL, "t", id);
  if (status) goto fail;
  status = exec_q(s, Q_ACCOUNTS_DELETE_USER, NULL, "t", id);
  if (status) goto fail;
  status = exec_q(s, Q_USER_DELETE, &n, "t", id);
  if (status) goto fail;
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

static gh_status sq_credential_password(gh_store *base, gh_arena *a, const char *user_id,
                                        char **hash) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  bool row;
  gh_status status = prep(s, Q_CRED_PASSWORD, &st, "t", user_id);
  if (status) return status;
  status = step(s, st, Q_CRED_PASSWORD, &row);
  if (status) return status;
  *hash = row ? col_text(a, st, 0) : NULL;
  finish(st);
  return *hash ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status sq_set_password(gh_store *base, const char *user_id, const char *hash,
                                 const char *new_account_id, int64_t now, bool revoke_sessions,
                                 const gh_session *new_session) {
  sq_store *s = (sq_store *)base;
  long n = 0;
  gh_status status = begin(s);
  if (status) return status;
  status = exec_q(s, Q_CRED_UPDATE, &n, "tdt", hash, now, user_id);
  if (status) goto fail;
  if (n == 0) {
    if (!new_account_id) {
      status = GH_ERR_NOT_FOUND;
      goto fail;
    }
    status = insert_account(s, new_account_id, user_id, "credential", user_id, hash, now, now);
    if (status) goto fail;
  }
  if (revoke_sessions) {
    status = exec_q(s, Q_SESSIONS_DELETE_USER, NULL, "t", user_id);
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

static gh_status sq_create_session(gh_store *base, const gh_session *sess) {
  return insert_session((sq_store *)base, sess, sess->user_id);
}

static gh_status sq_session_by_token(gh_store *base, gh_arena *a, const char *token,
                                     gh_session *sess, gh_user *user) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  bool row;
  gh_status status = prep(s, Q_SESSION_BY_TOKEN, &st, "t", token);
  if (status) return status;
  status = step(s, st, Q_SESSION_BY_TOKEN, &row);
  if (status) return status;
  if (!row) {
    status = GH_ERR_NOT_FOUND;
  } else {
    status = read_session(a, st, 0, sess);
    if (status == GH_OK) status = read_user(a, st, 8, user);
  }
  finish(st);
  return status;
}

static gh_status sq_touch_session(gh_store *base, const char *id, int64_t expires_at,
                                  int64_t updated_at) {
  sq_store *s = (sq_store *)base;
  long n = 0;
  gh_status status = exec_q(s, Q_SESSION_TOUCH, &n, "ddt", expires_at, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

static gh_status sq_delete_session(gh_store *base, const char *token) {
  sq_store *s = (sq_store *)base;
  return exec_q(s, Q_SESSION_DELETE, NULL, "t", token);
}

static gh_status sq_delete_user_session(gh_store *base, const char *user_id, const char *token) {
  sq_store *s = (sq_store *)base;
  return exec_q(s, Q_SESSION_DELETE_OWN, NULL, "tt", user_id, token);
}

static gh_status sq_delete_user_sessions(gh_store *base, const char *user_id,
                                         const char *except_token) {
  sq_store *s = (sq_store *)base;
  if (except_token) return exec_q(s, Q_SESSIONS_DELETE_EXCEPT, NULL, "tt", user_id, except_token);
  return exec_q(s, Q_SESSIONS_DELETE_USER, NULL, "t", user_id);
}

/* Filters on the parsed dates (not on text comparison) so that any date form the database holds
 * is handled; the result is ordered by createdAt (stable). */
static gh_status sq_list_sessions(gh_store *base, gh_arena *a, const char *user_id, int64_t now,
                                  gh_session **out, size_t *n) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  gh_session *v = NULL;
  size_t len = 0, cap = 0;
  gh_status status = prep(s, Q_SESSIONS_LIST, &st, "t", user_id);
  if (status) return status;
  for (;;) {
    bool row;
    gh_session x;
    status = step(s, st, Q_SESSIONS_LIST, &row);
    if (status) return status;
    if (!row) break;
    status = read_session(a, st, 0, &x);
    if (status) goto fail;
    if (x.expires_at <= now) continue;
    if (len == cap) {
      cap = cap ? cap * 2 : 8;
      gh_session *nv = gh_arena_alloc(a, cap * sizeof *nv);
      if (len) memcpy(nv, v, len * sizeof *nv);
      v = nv;
    }
    size_t j = len++;
    while (j > 0 && v[j - 1].created_at > x.created_at) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  finish(st);
  *out = v;
  *n = len;
  return GH_OK;
fail:
  finish(st);
  return status;
}

static gh_status sq_purge_expired(gh_store *base, int64_t now, long *deleted) {
  sq_store *s = (sq_store *)base;
  return exec_q(s, Q_SESSIONS_PURGE, deleted, "d", now);
}

/* --- jwks --------------------------------------------------------------------------------- */

/* Ordered by the parsed createdAt (text order is not reliable across date forms). */
static gh_status sq_jwks_list(gh_store *base, gh_arena *a, gh_jwks_row **out, size_t *n) {
  sq_store *s = (sq_store *)base;
  sqlite3_stmt *st;
  gh_jwks_row *v = NULL;
  size_t len = 0, cap = 0;
  gh_status status = prep(s, Q_JWKS_LIST, &st, "");
  if (status) return status;
  for (;;) {
    bool row;
    gh_jwks_row x = {0};
    status = step(s, st, Q_JWKS_LIST, &row);
    if (status) return status;
    if (!row) break;
    x.id = col_text(a, st, 0);
    x.public_key = col_text(a, st, 1);
    x.private_key = col_text(a, st, 2);
    x.alg = col_text(a, st, 5);
    x.crv = col_text(a, st, 6);
    if (!x.id || !x.public_key || !x.private_key) {
      status = GH_ERR_DB;
      goto fail;
    }
    status = col_date(st, 3, &x.created_at);
    if (status) goto fail;
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
      status = col_date(st, 4, &x.expires_at);
      if (status) goto fail;
      x.has_expiry = true;
    }
    if (len == cap) {
      cap = cap ? cap * 2 : 4;
      gh_jwks_row *nv = gh_arena_alloc(a, cap * sizeof *nv);
      if (len) memcpy(nv, v, len * sizeof *nv);
      v = nv;
    }
    size_t j = len++;
    while (j > 0 && v[j - 1].created_at > x.created_at) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  finish(st);
  *out = v;
  *n = len;
  return GH_OK;
fail:
  finish(st);
  return status;
}

static gh_status sq_jwks_insert(gh_store *base, const gh_jwks_row *row, int64_t retire_at) {
  sq_store *s = (sq_store *)base;
  gh_status status = begin(s);
  if (status) return status;
  if (retire_at > 0) {
    status = exec_q(s, Q_JWKS_RETIRE, NULL, "d", retire_at);
    if (status) goto fail;
  }
  sqlite3_stmt *st;
  bool r;
  char expires[GH_ISO_LEN]; /* bound as text: stays valid until the step below */
  if (row->has_expiry) gh_iso8601(row->expires_at, expires);
  status =
      prep(s, Q_JWKS_INSERT, &st, "tttdttt", row->id, row->public_key, row->private_key,
           row->created_at, row->has_expiry ? expires : (const char *)NULL, row->alg, row->crv);
  if (status) goto fail;
  status = step(s, st, Q_JWKS_INSERT, &r);
  if (status) goto fail;
  finish(st);
  status = commit(s);
  if (status) goto fail;
  return GH_OK;
fail:
  rollback(s);
  return status;
}

/* --- open / close ------------------------------------------------------------------------- */

static void sq_close(gh_store *base) {
  sq_store *s = (sq_store *)base;
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->stmt[i]);
  sqlite3_close_v2(s->db);
  free(s);
}

static const gh_store_ops sq_ops = {
    .close = sq_close,
    .migrate = sq_migrate,
    .check_schema = sq_check_schema,
    .ping = sq_ping,
    .user_by_email = sq_user_by_email,
    .user_by_id = sq_user_by_id,
    .create_user = sq_create_user,
    .update_user = sq_update_user,
    .delete_user = sq_delete_user,
    .credential_password = sq_credential_password,
    .set_password = sq_set_password,
    .create_session = sq_create_session,
    .session_by_token = sq_session_by_token,
    .touch_session = sq_touch_session,
    .delete_session = sq_delete_session,
    .delete_user_session = sq_delete_user_session,
    .delete_user_sessions = sq_delete_user_sessions,
    .list_sessions = sq_list_sessions,
    .purge_expired = sq_purge_expired,
    .jwks_list = sq_jwks_list,
    .jwks_insert = sq_jwks_insert,
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
  status = detect_issuer(s);
  if (status) goto fail;
  *out = &s->base;
  return GH_OK;
fail:
  sq_close(&s->base);
  return status;
}
