/* Internal to src/store: the database drivers behind store.h. store.c parses the URL, converts the
 * runner's parameters and dispatches; entities.c and migrate.c are written once over the runner;
 * sqlite.c and postgres.c each fill one gh_store_ops (connection, statements, transactions, error
 * mapping). */
#ifndef GH_STORE_BACKEND_H
#define GH_STORE_BACKEND_H

#include "store/store.h"

#define GH_STORE_MAX_PARAMS 32

/* One parameter of gh_store_exec / gh_store_query, converted from the varargs. */
typedef struct {
  char type;     /* 't' text, 'n' NULL, 'd' date (ms), 'b' bool, 'i' int64 */
  const char *t; /* 't' */
  int64_t v;     /* 'd', 'b' (0/1), 'i' */
} gh_param;

typedef struct gh_store_ops {
  void (*close)(gh_store *s);
  /* Runs sql (this backend's text of q). With rows: reads every row per q->cols onto a (the
   * caller checked that q->cols is valid); otherwise *changes (optional) = rows changed. */
  gh_status (*run)(gh_store *s, const gh_query *q, const char *sql, const gh_param *p, int np,
                   gh_arena *a, gh_rows *rows, long *changes);
  gh_status (*begin)(gh_store *s);
  gh_status (*commit)(gh_store *s);
  void (*rollback)(gh_store *s);
  /* Runs a script of several statements (a migration) inside the open transaction. */
  gh_status (*script)(gh_store *s, const char *sql, const char *op);
} gh_store_ops;

/* Every backend's connection struct starts with this. */
struct gh_store {
  const gh_store_ops *ops;
  gh_store_kind kind;
  int issuer; /* account.issuer exists: -1 not known yet (the driver sets it on (re)connect) */
};

/* --- additional fields (fields.c) */
/* The entity queries that name the user and session columns, built for an installed field set. */
typedef struct {
  const gh_query *user_by_email, *user_by_id, *user_insert, *session_insert, *session_by_token,
      *sessions_list;
  char user_fmt[64], session_fmt[64]; /* result / parameter letters of a full row */
} gh_entity_queries;
/* Builds q for f (entities.c). */
void gh_store_entity_queries_build(const gh_store_fields *f, gh_entity_queries *q);
/* The installed set's queries, or NULL when no field is installed (the static core queries). */
const gh_entity_queries *gh_store_current_queries(void);
char gh_field_col_letter(gh_field_type t);
void gh_value_param(gh_field_type t, const gh_value *v, gh_param *p);
void gh_value_from_cell(const gh_cell *c, gh_value *v);
/* Runs q with parameters already converted (entities with a variable number of columns). */
GH_MUST_CHECK gh_status gh_store_run_params(gh_store *s, const gh_query *q, gh_arena *a,
                                            gh_rows *rows, long *changes, const gh_param *p,
                                            int np);

/* path: file name or ":memory:". GH_ERR_DB_UNAVAILABLE when it cannot be opened. */
GH_MUST_CHECK gh_status gh_store_sqlite_open(const char *path, gh_store **out);
/* conninfo: a postgres:// URI. GH_ERR_CONFIG when malformed, GH_ERR_DB_UNAVAILABLE when the server
 * cannot be reached. */
GH_MUST_CHECK gh_status gh_store_pg_open(const char *conninfo, gh_store **out);

/* One JSON log line on stderr. msg is the driver's message (never parameter values). */
void gh_store_log(const char *backend, const char *op, const char *code, const char *msg);

/* The issuer value better-auth 1.7.0-1.7.2 wrote for an account of this provider:
 * "local:credential" or "local:oauth:<encodeURIComponent(providerId)>". Allocated on a. */
char *gh_store_account_issuer(gh_arena *a, const char *provider_id);

/* A driver's cache of prepared statements, keyed by the gh_query's address (open addressing). */
typedef struct {
  const gh_query *q;
  void *stmt;  /* SQLite: the sqlite3_stmt; PostgreSQL: non-NULL once prepared */
  unsigned id; /* PostgreSQL: the statement is named "gh_<id>" */
} gh_stmt_slot;

typedef struct {
  gh_stmt_slot *slots;
  size_t cap, len;
  unsigned next_id;
} gh_stmt_cache;

/* The slot of q, added (stmt NULL, a fresh id) when it has none. */
gh_stmt_slot *gh_stmt_cache_get(gh_stmt_cache *c, const gh_query *q);
void gh_stmt_cache_free(gh_stmt_cache *c);

/* Appends one row of ncols cells to rows (grown on a); returns it zeroed. */
gh_cell *gh_rows_add(gh_arena *a, gh_rows *rows, size_t *cap);

#endif
