/* Storage interface: a generic query runner (a named query with its SQLite and its PostgreSQL text,
 * typed parameters and rows) for plugin tables and applications, typed operations on better-auth's
 * core tables (user, session, account) written once over it, and versioned migrations; behind it
 * a SQLite and a PostgreSQL driver. A gh_store is ONE connection and is not thread-safe: each
 * thread owns its own (gh_store_thread()). The store knows nothing of HTTP.
 *
 * Conventions
 *  - Times are int64 milliseconds since the epoch (SQLite: ISO-8601 text with ms, as better-auth
 *    writes it; PostgreSQL: timestamptz).
 *  - Output strings are allocated on the caller's arena. Nullable columns come back as NULL.
 *  - Errors: GH_ERR_NOT_FOUND (no row), GH_ERR_CONFLICT (unique violation, e.g. duplicate e-mail),
 *    GH_ERR_DB_UNAVAILABLE (cannot reach the database: caller answers 503; the next call tries to
 *    reconnect), GH_ERR_DB (other database error), GH_ERR_SCHEMA (tables missing / not migrated).
 *  - Every multi-row change runs in ONE transaction (SQLite: BEGIN IMMEDIATE) and is rolled back
 *    whole on any error.
 */
#ifndef GH_STORE_STORE_H
#define GH_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"
#include "common/threadconn.h"

/* --- additional fields ----------------------------------------------------------------------
 * Columns a plugin adds to the user or session table (better-auth's plugin schema fields: the
 * admin plugin's role, banned, banReason, banExpires and impersonatedBy, two-factor's
 * twoFactorEnabled). The running plugins' fields are installed once for the process
 * (gh_store_use_fields); from then on every entity query below reads and writes those columns too
 * (the plugins' migrations added them), and gh_user / gh_session carry their values in `extra`,
 * in the installed order. */
typedef enum {
  GH_FIELD_STRING = 1,
  GH_FIELD_BOOLEAN,
  GH_FIELD_DATE,
  GH_FIELD_NUMBER /* integer */
} gh_field_type;

typedef enum { GH_MODEL_USER = 0, GH_MODEL_SESSION = 1 } gh_model;

/* One declared field, as better-auth's DBFieldAttribute (static storage). */
typedef struct {
  const char *name;   /* column name and JSON key, exactly as better-auth's ("banExpires") */
  gh_field_type type; /* string, boolean, date, number */
  const char *def;    /* defaultValue as text ("false", "0", "user"); NULL = none */
  bool input;         /* input: a client may set it (sign-up, update-user, update-session); false:
                         better-auth's input:false — see gh_fields_parse_input in auth/fields.h */
  bool hidden;        /* returned:false: never in a response */
} gh_field;

/* The value of one additional field of a row. */
typedef struct {
  bool set;    /* holds a value (read from the row, or given for an insert/update) */
  bool null;   /* SQL NULL */
  char *text;  /* string */
  int64_t num; /* boolean (0/1), date (ms), number */
} gh_value;

/* Values of a row's additional fields, index i = the installed field i of that model. n = 0: none
 * read or given (an insert then writes each field's default). */
typedef struct {
  size_t n;
  gh_value *v;
} gh_values;

typedef struct gh_store_fields gh_store_fields;

/* A set of additional fields under construction; add them in better-auth's order (the running
 * plugins' in GATEHOUSE_PLUGINS order). */
gh_store_fields *gh_store_fields_new(void);
void gh_store_fields_free(gh_store_fields *f);
/* GH_ERR_CONFLICT when the model already has a column of that name (core or added), GH_ERR_INVALID
 * for a name that is not [A-Za-z0-9_]+. fl is borrowed (static storage). */
GH_MUST_CHECK gh_status gh_store_fields_add(gh_store_fields *f, gh_model m, const gh_field *fl);
/* The value written on insert when none is given, instead of the field's def (better-auth's
 * create "before" database hooks, e.g. admin's defaultRole): text as for def, copied. Does not
 * change how client input is parsed. GH_ERR_NOT_FOUND when the model has no such field. */
GH_MUST_CHECK gh_status gh_store_fields_set_insert_default(gh_store_fields *f, gh_model m,
                                                           const char *name, const char *value);
/* Installs f for every connection of the process (NULL: core columns only). f must stay alive
 * until it is replaced (gh_store_use_fields(NULL) before freeing it). */
void gh_store_use_fields(const gh_store_fields *f);
/* The installed fields (NULL when none) and their count / definition / index by name (-1). */
const gh_store_fields *gh_store_fields_current(void);
size_t gh_store_fields_count(const gh_store_fields *f, gh_model m);
const gh_field *gh_store_field_at(const gh_store_fields *f, gh_model m, size_t i);
int gh_store_field_index(const gh_store_fields *f, gh_model m, const char *name);
/* The value an insert writes for field i when none is given (the insert default, else def, else
 * NULL), on a. */
gh_value gh_store_field_insert_value(gh_arena *a, const gh_store_fields *f, gh_model m, size_t i);
/* Parses text (as in def: "true"/"false", decimal, ISO-8601, any string) into a value of type t;
 * GH_ERR_INVALID when it does not parse. */
GH_MUST_CHECK gh_status gh_value_parse(gh_arena *a, gh_field_type t, const char *text,
                                       gh_value *out);

typedef struct {
  char *id;
  char *name;
  char *email; /* stored lower-cased */
  bool email_verified;
  char *image; /* nullable */
  int64_t created_at, updated_at;
  gh_values extra; /* the installed additional fields (role, banned, ...) */
} gh_user;

typedef struct {
  char *id;
  char *token;
  char *user_id;
  int64_t expires_at, created_at, updated_at;
  char *ip_address; /* nullable */
  char *user_agent; /* nullable */
  gh_values extra;  /* the installed additional fields (impersonatedBy, ...) */
} gh_session;

/* The value of the installed field name of a row (NULL when no such field is installed, or the row
 * carries no values). */
const gh_value *gh_user_value(const gh_user *u, const char *name);
const gh_value *gh_session_value(const gh_session *s, const char *name);
/* The slot of field name in vals, allocated on a with the insert values of every field when vals
 * has none yet (so a new row gets the defaults of the others); NULL when no such field. */
gh_value *gh_values_slot(gh_arena *a, gh_values *vals, gh_model m, const char *name);
/* Fills vals with the insert value of every installed field of m (a new row's defaults). */
void gh_values_init(gh_arena *a, gh_values *vals, gh_model m);

typedef struct {
  char *id;
  char *account_id;  /* credential account: = user id */
  char *provider_id; /* "credential" */
  char *user_id;
  char *password; /* nullable; "salt:hash" */
  int64_t created_at, updated_at;
  /* OAuth accounts (NULL / has_* false for the credential account). Tokens as stored (encrypted
   * when account.encryptOAuthTokens is on). */
  char *access_token, *refresh_token, *id_token;
  char *scope; /* comma-joined granted scopes */
  int64_t access_token_expires_at, refresh_token_expires_at;
  bool has_access_expiry, has_refresh_expiry;
} gh_account;

/* Fills u with a fresh 32-char id, the given values (borrowed), createdAt = updatedAt = now and
 * the insert values of the installed additional fields. */
void gh_user_init(gh_arena *a, gh_user *u, const char *name, const char *email, const char *image,
                  int64_t now);
/* Fills acc as u's credential account: fresh id, providerId "credential", accountId = user id,
 * password = hash (borrowed). */
void gh_credential_init(gh_arena *a, gh_account *acc, const gh_user *u, char *hash, int64_t now);

typedef struct gh_store gh_store;

/* --- generic query runner -------------------------------------------------------------------
 * For plugin tables, applications and the core entities below. A query is a gh_query in static
 * storage: each connection prepares it once (keyed by its address) and keeps the statement
 * (SQLite: SQLITE_PREPARE_PERSISTENT; PostgreSQL: one prepared statement per connection, prepared
 * again after a reconnect).
 *
 * Parameters (params, one letter each, then the values):
 *   t  const char *   text (NULL binds NULL)
 *   d  int64_t        date, ms since the epoch (SQLite: ISO-8601 text; PostgreSQL: timestamptz)
 *   D  const int64_t* nullable date (NULL binds NULL)
 *   b  bool / int     boolean (SQLite: 0/1)
 *   i  int64_t        integer
 * The PostgreSQL text must use every parameter ($1..$n); the SQLite text may leave out trailing
 * ones (e.g. a filter done in C on the parsed dates).
 *
 * Result columns (gh_query.cols, one letter per column; the PostgreSQL results are binary, so a
 * 't' column must be of a text type there):
 *   t  text on the arena, NULL when SQL NULL
 *   d  date (ms); a NULL or unreadable value is GH_ERR_DB
 *   D  nullable date (cell.null when NULL)
 *   b  boolean (0/1 in cell.num)
 *   i  int64 */
typedef struct {
  const char *name;     /* in error logs (never a parameter value) */
  const char *sqlite;   /* ?1, ?2, ... ; NULL: nothing to run on SQLite */
  const char *postgres; /* $1, $2, ... ; NULL: nothing to run on PostgreSQL */
  const char *cols;     /* result columns (gh_store_query); NULL: rows are counted, not read */
} gh_query;

typedef struct {
  char *text;  /* t: on the arena; NULL when SQL NULL */
  int64_t num; /* d, D: ms since the epoch; b: 0 or 1; i: the value */
  bool null;   /* SQL NULL */
} gh_cell;

typedef struct {
  size_t n;       /* rows */
  size_t ncols;   /* = strlen(query cols) */
  gh_cell *cells; /* row r: cells + r * ncols (on the arena) */
} gh_rows;

static inline const gh_cell *gh_rows_at(const gh_rows *r, size_t row) {
  return r->cells + row * r->ncols;
}

/* Runs q; *changes (optional) receives the number of rows it changed. */
GH_MUST_CHECK gh_status gh_store_exec(gh_store *s, const gh_query *q, long *changes,
                                      const char *params, ...);
/* Runs q and reads every row it returns into *out (cells and texts on a). */
GH_MUST_CHECK gh_status gh_store_query(gh_store *s, gh_arena *a, const gh_query *q, gh_rows *out,
                                       const char *params, ...);
/* A query whose text is built at run time (e.g. from a fixed set of column names): the one
 * gh_query with these texts, kept for the life of the process (copies made), so it is prepared
 * once per connection like a static one. */
const gh_query *gh_store_intern_query(const char *name, const char *sqlite, const char *postgres,
                                      const char *cols);
/* One transaction (SQLite: BEGIN IMMEDIATE). After any error in it call gh_store_rollback. */
GH_MUST_CHECK gh_status gh_store_begin(gh_store *s);
GH_MUST_CHECK gh_status gh_store_commit(gh_store *s);
void gh_store_rollback(gh_store *s); /* no-op when no transaction is open */
/* Ends the open transaction: commits when status is GH_OK, else (or when the commit fails) rolls
 * back. Returns status, or the commit's error. */
GH_MUST_CHECK gh_status gh_store_end(gh_store *s, gh_status status);

typedef enum { GH_STORE_SQLITE = 1, GH_STORE_POSTGRES = 2 } gh_store_kind;

/* url: "sqlite:PATH" (PATH may be relative; parent directory created), "sqlite::memory:" or
 * "postgres://..." / "postgresql://...". */
GH_MUST_CHECK gh_status gh_store_open(const char *url, gh_store **out);
void gh_store_close(gh_store *s);
gh_store_kind gh_store_kind_of(const gh_store *s);

/* Per-thread connection, opened lazily with the url given to gh_store_thread_init() and closed at
 * thread exit. Returns GH_ERR_DB_UNAVAILABLE when it cannot connect (retried on the next call). */
void gh_store_thread_init(const char *url);
GH_MUST_CHECK gh_status gh_store_thread(gh_store **out);

/* Another set of per-thread connections, to its own URL (an application's own database):
 *   static gh_store_threads conns = GH_STORE_THREADS_INIT;
 *   gh_store_threads_set_url(&conns, url);   (NULL at the end: the saved copy is wiped, freed)
 *   gh_store *s; gh_store_threads_get(&conns, &s); */
typedef gh_threadconn gh_store_threads;
GH_MUST_CHECK gh_status gh_store_conn_open(const char *url, void **out); /* gh_store_open */
void gh_store_conn_close(void *conn);                                    /* gh_store_close */
#define GH_STORE_THREADS_INIT GH_THREADCONN_INIT(gh_store_conn_open, gh_store_conn_close)
void gh_store_threads_set_url(gh_store_threads *t, const char *url);
GH_MUST_CHECK gh_status gh_store_threads_get(gh_store_threads *t, gh_store **out);

/* --- migrations ---------------------------------------------------------------------------- */

/* One versioned schema change, in static storage: name "NNN_what" (recorded once applied; never
 * rename or edit an applied one), and its SQL per backend (may hold several statements). A column
 * that better-auth may have added first: PostgreSQL "alter table ... add column if not exists";
 * on SQLite (which has no IF NOT EXISTS there) an "alter table ... add column" of a column that
 * exists is taken as done, and PostgreSQL's "add column if not exists" is understood there too. */
typedef struct {
  const char *name;
  const char *sqlite;
  const char *postgres;
} gh_store_migration;

/* Applies the pending migrations: the embedded core ones (migrations/<backend>/NNN_*.sql), then
 * extra[0..nextra) in that order (a plugin's tables), each in its own transaction, recorded by
 * name in "gatehouse_migrations" (on PostgreSQL under an advisory lock, so several instances may
 * migrate at once). Works on an empty database and on one created by better-auth (CREATE ... IF
 * NOT EXISTS). *applied (optional) receives the number applied. */
GH_MUST_CHECK gh_status gh_store_migrate(gh_store *s, const gh_store_migration *extra,
                                         size_t nextra, int *applied);
/* GH_OK when every core migration and every one of extra is applied, GH_ERR_SCHEMA otherwise. */
GH_MUST_CHECK gh_status gh_store_check_schema(gh_store *s, const gh_store_migration *extra,
                                              size_t nextra);

/* Where a database that is not gatehouse's records its applied migrations: the queries on its own
 * record table (static storage). */
typedef struct {
  gh_query create;  /* creates the record table when missing */
  gh_query exists;  /* one 'b' column: the record table exists */
  gh_query applied; /* param t name: a row when that migration is applied */
  gh_query record;  /* params t name, d now */
  gh_query lock;    /* run first in each migration's transaction (NULL text: nothing) */
} gh_store_ledger;

/* For an application's own database: applies only list[0..n) (no gatehouse table), recorded
 * through ledger, each in its own transaction. *applied (optional) receives the number applied. */
GH_MUST_CHECK gh_status gh_store_migrate_list(gh_store *s, const gh_store_ledger *ledger,
                                              const gh_store_migration *list, size_t n,
                                              int *applied);
/* GH_OK when every one of list is recorded through ledger, GH_ERR_SCHEMA otherwise. */
GH_MUST_CHECK gh_status gh_store_check_list(gh_store *s, const gh_store_ledger *ledger,
                                            const gh_store_migration *list, size_t n);
/* Cheap liveness check (SELECT 1). */
GH_MUST_CHECK gh_status gh_store_ping(gh_store *s);
/* PostgreSQL connections re-established after they broke (an outage, a restart), since start. */
long gh_store_reconnect_count(void);
/* The one rule for what a store error means to a client, in gatehouse and gatehouse-tasks: true
 * when the database cannot serve the request now (unreachable, busy, not migrated, or failing:
 * answer 503 + Retry-After), false for the caller's own errors (500). */
bool gh_store_unavailable(gh_status st);

/* --- users ------------------------------------------------------------------------------ */
/* Exact match on the lower-cased e-mail. */
GH_MUST_CHECK gh_status gh_store_user_by_email(gh_store *s, gh_arena *a, const char *email,
                                               gh_user *out);
GH_MUST_CHECK gh_status gh_store_user_by_id(gh_store *s, gh_arena *a, const char *id, gh_user *out);
/* Inserts the user, and in the same transaction the credential account (if cred != NULL) and the
 * session (if sess != NULL). GH_ERR_CONFLICT when the e-mail exists. */
GH_MUST_CHECK gh_status gh_store_create_user(gh_store *s, const gh_user *u, const gh_account *cred,
                                             const gh_session *sess);
/* Updates name (when name != NULL) and image (when set_image; image may be NULL) and updatedAt. */
GH_MUST_CHECK gh_status gh_store_update_user(gh_store *s, const char *id, const char *name,
                                             bool set_image, const char *image, int64_t updated_at);
/* One column to change in gh_store_update_user_columns / gh_store_update_session_columns: a core
 * column that may change ("name", "email", "emailVerified", "image"; session: "expiresAt",
 * "ipAddress", "userAgent") or an installed additional field; type as the column's. */
typedef struct {
  const char *column;
  gh_value v;
} gh_store_set;
/* Sets the given columns and updatedAt of the row with this id (GH_ERR_NOT_FOUND when none,
 * GH_ERR_INVALID for an unknown column). */
GH_MUST_CHECK gh_status gh_store_update_user_columns(gh_store *s, const char *id,
                                                     const gh_store_set *set, size_t n,
                                                     int64_t updated_at);
GH_MUST_CHECK gh_status gh_store_update_session_columns(gh_store *s, const char *id,
                                                        const gh_store_set *set, size_t n,
                                                        int64_t updated_at);
/* A page of users (admin list-users): optional search (field "email" or "name", op "contains",
 * "starts_with" or "ends_with", SQL LIKE as better-auth's adapter) and filter (any user column,
 * op "eq", "ne", "lt", "lte", "gt", "gte", "contains", "starts_with", "ends_with"; the value text
 * is read as the column's type), sorted by any user column (default: createdAt), limit / offset.
 * *total = the count of matching users. GH_ERR_INVALID for an unknown column or operator. */
typedef struct {
  const char *search_field, *search_op, *search_value;
  const char *filter_field, *filter_op, *filter_value;
  const char *sort_by;
  bool sort_desc;
  int64_t limit, offset;
} gh_user_list_query;
GH_MUST_CHECK gh_status gh_store_list_users(gh_store *s, gh_arena *a, const gh_user_list_query *q,
                                            gh_user **out, size_t *n, int64_t *total);
/* Deletes the user with its sessions and accounts in one transaction. */
GH_MUST_CHECK gh_status gh_store_delete_user(gh_store *s, const char *id);

/* --- credential account ------------------------------------------------------------------ */
/* The password hash of the credential account (providerId='credential' AND accountId=userId).
 * GH_ERR_NOT_FOUND when there is no such account or its password is NULL. */
GH_MUST_CHECK gh_status gh_store_credential_password(gh_store *s, gh_arena *a, const char *user_id,
                                                     char **hash);
/* In one transaction: sets the credential account's password (inserting the credential account
 * with id new_account_id when the user has none), then, if revoke_sessions, deletes ALL the user's
 * sessions, then inserts new_session when non-NULL. */
GH_MUST_CHECK gh_status gh_store_set_password(gh_store *s, const char *user_id, const char *hash,
                                              const char *new_account_id, int64_t now,
                                              bool revoke_sessions, const gh_session *new_session);

/* --- accounts (every provider) ----------------------------------------------------------- */
/* All of the user's accounts, ordered by createdAt. */
GH_MUST_CHECK gh_status gh_store_list_accounts(gh_store *s, gh_arena *a, const char *user_id,
                                               gh_account **out, size_t *n);
/* The account of (providerId, accountId). GH_ERR_NOT_FOUND when none. */
GH_MUST_CHECK gh_status gh_store_account_by_key(gh_store *s, gh_arena *a, const char *provider_id,
                                                const char *account_id, gh_account *out);
/* Inserts acc with every column (account.issuer too on databases that have it). */
GH_MUST_CHECK gh_status gh_store_insert_account(gh_store *s, const gh_account *acc);
/* Sets the token columns and scope of account id to acc's values, updatedAt = acc->updated_at.
 * keep_* true: leave that column as it is (better-auth skips undefined fields). */
typedef struct {
  bool access_token, refresh_token, id_token, scope, access_expiry, refresh_expiry;
} gh_account_keep;
GH_MUST_CHECK gh_status gh_store_update_account_tokens(gh_store *s, const char *id,
                                                       const gh_account *acc,
                                                       const gh_account_keep *keep);
/* Deletes the account id of user_id. GH_ERR_NOT_FOUND when there is no such row. */
GH_MUST_CHECK gh_status gh_store_delete_account(gh_store *s, const char *user_id, const char *id);
/* Inserts the user and its (OAuth) account in one transaction. GH_ERR_CONFLICT: e-mail taken. */
GH_MUST_CHECK gh_status gh_store_create_user_with_account(gh_store *s, const gh_user *u,
                                                          const gh_account *acc);
/* Sets emailVerified = true (and updatedAt). */
GH_MUST_CHECK gh_status gh_store_set_email_verified(gh_store *s, const char *user_id, int64_t now);

/* --- verification rows ------------------------------------------------------------------- */
/* Inserts a verification row (fresh id). */
GH_MUST_CHECK gh_status gh_store_verification_put(gh_store *s, const char *identifier,
                                                  const char *value, int64_t expires_at,
                                                  int64_t now);
/* Takes the rows of identifier atomically (deleted; of concurrent takers only one gets them):
 * *value and *expires_at of the newest. GH_ERR_NOT_FOUND when there was none. */
GH_MUST_CHECK gh_status gh_store_verification_take(gh_store *s, gh_arena *a, const char *identifier,
                                                   char **value, int64_t *expires_at);

/* --- sessions ----------------------------------------------------------------------------- */
GH_MUST_CHECK gh_status gh_store_create_session(gh_store *s, const gh_session *sess);
/* Session by token joined with its user. GH_ERR_NOT_FOUND when absent (expiry is NOT checked). */
GH_MUST_CHECK gh_status gh_store_session_by_token(gh_store *s, gh_arena *a, const char *token,
                                                  gh_session *sess, gh_user *user);
GH_MUST_CHECK gh_status gh_store_touch_session(gh_store *s, const char *id, int64_t expires_at,
                                               int64_t updated_at);
GH_MUST_CHECK gh_status gh_store_delete_session(gh_store *s, const char *token);
/* Deletes the session with this token only if it belongs to user_id (no error when it does not). */
GH_MUST_CHECK gh_status gh_store_delete_user_session(gh_store *s, const char *user_id,
                                                     const char *token);
/* Deletes all the user's sessions, except the one with except_token when non-NULL. */
GH_MUST_CHECK gh_status gh_store_delete_user_sessions(gh_store *s, const char *user_id,
                                                      const char *except_token);
/* Sessions of the user with expiresAt > now, ordered by createdAt. */
GH_MUST_CHECK gh_status gh_store_list_sessions(gh_store *s, gh_arena *a, const char *user_id,
                                               int64_t now, gh_session **out, size_t *n);
/* Deletes sessions with expiresAt <= now (housekeeping). *deleted optional. */
GH_MUST_CHECK gh_status gh_store_purge_expired(gh_store *s, int64_t now, long *deleted);

#endif
