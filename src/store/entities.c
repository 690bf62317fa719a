/* The core entities (user, session, account) over the generic runner: each operation and each
 * transaction written once, with its SQLite and its PostgreSQL text. Arguments are checked here
 * (callers in src/auth). */
#include "store/backend.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/rand.h"

/* --- queries ------------------------------------------------------------------------------ */

#define USER_COLS                                                                                  \
  "\"id\", \"name\", \"email\", \"emailVerified\", \"image\", \"createdAt\", \"updatedAt\""
#define SESSION_COLS(p)                                                                            \
  p "\"id\", " p "\"token\", " p "\"userId\", " p "\"expiresAt\", " p "\"createdAt\", " p          \
    "\"updatedAt\", " p "\"ipAddress\", " p "\"userAgent\""
#define USER_COLS_U                                                                                \
  "u.\"id\", u.\"name\", u.\"email\", u.\"emailVerified\", u.\"image\", u.\"createdAt\", "         \
  "u.\"updatedAt\""
#define ACCOUNT_INSERT                                                                             \
  "insert into \"account\" (\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", "     \
  "\"createdAt\", \"updatedAt\""
#define USER_FMT "tttbtdd"
#define SESSION_FMT "tttdddtt"

static const gh_query Q_ISSUER = {
    "account_columns",
    "select exists (select 1 from pragma_table_info('account') where \"name\" = 'issuer')",
    "select exists (select 1 from pg_attribute where attrelid = to_regclass('\"account\"') and "
    "attname = 'issuer' and attnum > 0 and not attisdropped)",
    "b"};
static const gh_query Q_USER_BY_EMAIL = {
    "user_by_email", "select " USER_COLS " from \"user\" where \"email\" = ?1",
    "select " USER_COLS " from \"user\" where \"email\" = $1", USER_FMT};
static const gh_query Q_USER_BY_ID = {
    "user_by_id", "select " USER_COLS " from \"user\" where \"id\" = ?1",
    "select " USER_COLS " from \"user\" where \"id\" = $1", USER_FMT};
static const gh_query Q_USER_INSERT = {
    "user_insert", "insert into \"user\" (" USER_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "insert into \"user\" (" USER_COLS ") values ($1, $2, $3, $4, $5, $6, $7)", NULL};
static const gh_query Q_USER_UPDATE = {
    "user_update",
    "update \"user\" set \"name\" = coalesce(?1, \"name\"), \"image\" = case when ?2 then ?3 else "
    "\"image\" end, \"updatedAt\" = ?4 where \"id\" = ?5",
    "update \"user\" set \"name\" = coalesce($1::text, \"name\"), \"image\" = case when "
    "$2::boolean then $3::text else \"image\" end, \"updatedAt\" = $4 where \"id\" = $5",
    NULL};
static const gh_query Q_USER_DELETE = {"user_delete", "delete from \"user\" where \"id\" = ?1",
                                       "delete from \"user\" where \"id\" = $1", NULL};
static const gh_query Q_ACCOUNT_INSERT = {
    "account_insert", ACCOUNT_INSERT ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    ACCOUNT_INSERT ") values ($1, $2, $3, $4, $5, $6, $7)", NULL};
static const gh_query Q_ACCOUNT_INSERT_ISSUER = {
    "account_insert", ACCOUNT_INSERT ", \"issuer\") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    ACCOUNT_INSERT ", \"issuer\") values ($1, $2, $3, $4, $5, $6, $7, $8)", NULL};
static const gh_query Q_ACCOUNTS_DELETE_USER = {
    "accounts_delete", "delete from \"account\" where \"userId\" = ?1",
    "delete from \"account\" where \"userId\" = $1", NULL};
static const gh_query Q_CRED_PASSWORD = {
    "credential_password",
    "select \"password\" from \"account\" where \"userId\" = ?1 and \"accountId\" = ?1 and "
    "\"providerId\" = 'credential' limit 1",
    "select \"password\" from \"account\" where \"userId\" = $1 and \"accountId\" = $1 and "
    "\"providerId\" = 'credential' limit 1",
    "t"};
static const gh_query Q_CRED_UPDATE = {
    "credential_update",
    "update \"account\" set \"password\" = ?1, \"updatedAt\" = ?2 where \"userId\" = ?3 and "
    "\"accountId\" = ?3 and \"providerId\" = 'credential'",
    "update \"account\" set \"password\" = $1, \"updatedAt\" = $2 where \"userId\" = $3 and "
    "\"accountId\" = $3 and \"providerId\" = 'credential'",
    NULL};
static const gh_query Q_SESSION_INSERT = {
    "session_insert",
    "insert into \"session\" (" SESSION_COLS("") ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "insert into \"session\" (" SESSION_COLS("") ") values ($1, $2, $3, $4, $5, $6, $7, $8)", NULL};
/* PostgreSQL: with enable_seqscan=off (the connection default) both sides are index scans. */
static const gh_query Q_SESSION_BY_TOKEN = {
    "session_by_token",
    "select " SESSION_COLS("s.") ", " USER_COLS_U " from \"session\" s join \"user\" u on "
                                 "u.\"id\" = s.\"userId\" where s.\"token\" = ?1",
    "select " SESSION_COLS("s.") ", " USER_COLS_U " from \"session\" s join \"user\" u on "
                                 "u.\"id\" = s.\"userId\" where s.\"token\" = $1",
    SESSION_FMT USER_FMT};
static const gh_query Q_SESSION_TOUCH = {
    "session_touch",
    "update \"session\" set \"expiresAt\" = ?1, \"updatedAt\" = ?2 where \"id\" = ?3",
    "update \"session\" set \"expiresAt\" = $1, \"updatedAt\" = $2 where \"id\" = $3", NULL};
static const gh_query Q_SESSION_DELETE = {"session_delete",
                                          "delete from \"session\" where \"token\" = ?1",
                                          "delete from \"session\" where \"token\" = $1", NULL};
static const gh_query Q_SESSION_DELETE_OWN = {
    "session_delete_own", "delete from \"session\" where \"userId\" = ?1 and \"token\" = ?2",
    "delete from \"session\" where \"userId\" = $1 and \"token\" = $2", NULL};
static const gh_query Q_SESSIONS_DELETE_USER = {
    "sessions_delete", "delete from \"session\" where \"userId\" = ?1",
    "delete from \"session\" where \"userId\" = $1", NULL};
static const gh_query Q_SESSIONS_DELETE_EXCEPT = {
    "sessions_delete_except", "delete from \"session\" where \"userId\" = ?1 and \"token\" <> ?2",
    "delete from \"session\" where \"userId\" = $1 and \"token\" <> $2", NULL};
/* SQLite: the expiry filter is done in C on the parsed dates (text comparison is not reliable
 * across the date forms a database may hold), so its text leaves out ?2. */
static const gh_query Q_SESSIONS_LIST = {
    "sessions_list",
    "select " SESSION_COLS("") " from \"session\" where \"userId\" = ?1 order by \"createdAt\"",
    "select " SESSION_COLS("") " from \"session\" where \"userId\" = $1 and \"expiresAt\" > $2 "
                               "order by \"createdAt\"",
    SESSION_FMT};
static const gh_query Q_SESSIONS_PURGE = {
    "sessions_purge", "delete from \"session\" where \"expiresAt\" <= ?1",
    "delete from \"session\" where \"expiresAt\" <= $1", NULL};

/* --- queries for installed additional fields ----------------------------------------------- */

/* ", p"col1", p"col2"" of the model's fields. */
static char *extra_cols(gh_arena *a, const gh_store_fields *f, gh_model m, const char *p) {
  char *out = "";
  for (size_t i = 0; i < gh_store_fields_count(f, m); i++)
    out = gh_arena_printf(a, "%s, %s\"%s\"", out, p, gh_store_field_at(f, m, i)->name);
  return out;
}

static char *extra_fmt(gh_arena *a, const gh_store_fields *f, gh_model m) {
  size_t n = gh_store_fields_count(f, m);
  char *out = gh_arena_alloc(a, n + 1);
  for (size_t i = 0; i < n; i++) out[i] = gh_field_col_letter(gh_store_field_at(f, m, i)->type);
  return out;
}

/* "?1, ?2, ..." or "$1, $2, ..." */
static char *placeholders(gh_arena *a, char mark, size_t n) {
  char *out = "";
  for (size_t i = 1; i <= n; i++)
    out = gh_arena_printf(a, "%s%s%c%zu", out, i > 1 ? ", " : "", mark, i);
  return out;
}

void gh_store_entity_queries_build(const gh_store_fields *f, gh_entity_queries *q) {
  gh_arena *a = gh_arena_new();
  const char *uc = extra_cols(a, f, GH_MODEL_USER, ""), *uu = extra_cols(a, f, GH_MODEL_USER, "u.");
  const char *sc = extra_cols(a, f, GH_MODEL_SESSION, ""),
             *ss = extra_cols(a, f, GH_MODEL_SESSION, "s.");
  const char *uf = extra_fmt(a, f, GH_MODEL_USER), *sf = extra_fmt(a, f, GH_MODEL_SESSION);
  size_t nu = 7 + gh_store_fields_count(f, GH_MODEL_USER);
  size_t ns = 8 + gh_store_fields_count(f, GH_MODEL_SESSION);
  snprintf(q->user_fmt, sizeof q->user_fmt, "%s%s", USER_FMT, uf);
  snprintf(q->session_fmt, sizeof q->session_fmt, "%s%s", SESSION_FMT, sf);
  char *both = gh_arena_printf(a, "%s%s", q->session_fmt, q->user_fmt);
  for (int k = 0; k < 2; k++) {
    const char *key = k ? "email" : "id";
    char *sq =
        gh_arena_printf(a, "select %s%s from \"user\" where \"%s\" = ?1", USER_COLS, uc, key);
    char *pq =
        gh_arena_printf(a, "select %s%s from \"user\" where \"%s\" = $1", USER_COLS, uc, key);
    const gh_query *x =
        gh_store_intern_query(k ? "user_by_email" : "user_by_id", sq, pq, q->user_fmt);
    if (k)
      q->user_by_email = x;
    else
      q->user_by_id = x;
  }
  q->user_insert =
      gh_store_intern_query("user_insert",
                            gh_arena_printf(a, "insert into \"user\" (%s%s) values (%s)", USER_COLS,
                                            uc, placeholders(a, '?', nu)),
                            gh_arena_printf(a, "insert into \"user\" (%s%s) values (%s)", USER_COLS,
                                            uc, placeholders(a, '$', nu)),
                            NULL);
  q->session_insert =
      gh_store_intern_query("session_insert",
                            gh_arena_printf(a, "insert into \"session\" (%s%s) values (%s)",
                                            SESSION_COLS(""), sc, placeholders(a, '?', ns)),
                            gh_arena_printf(a, "insert into \"session\" (%s%s) values (%s)",
                                            SESSION_COLS(""), sc, placeholders(a, '$', ns)),
                            NULL);
  const char *join = "from \"session\" s join \"user\" u on u.\"id\" = s.\"userId\" where "
                     "s.\"token\" = ";
  q->session_by_token = gh_store_intern_query(
      "session_by_token",
      gh_arena_printf(a, "select %s%s, %s%s %s?1", SESSION_COLS("s."), ss, USER_COLS_U, uu, join),
      gh_arena_printf(a, "select %s%s, %s%s %s$1", SESSION_COLS("s."), ss, USER_COLS_U, uu, join),
      both);
  q->sessions_list = gh_store_intern_query(
      "sessions_list",
      gh_arena_printf(a,
                      "select %s%s from \"session\" where \"userId\" = ?1 order by \"createdAt\"",
                      SESSION_COLS(""), sc),
      gh_arena_printf(a,
                      "select %s%s from \"session\" where \"userId\" = $1 and \"expiresAt\" > $2 "
                      "order by \"createdAt\"",
                      SESSION_COLS(""), sc),
      q->session_fmt);
  gh_arena_free(a);
}

/* Reads the model's additional fields from c (after its core columns), on a. */
static void read_extra(gh_arena *a, const gh_cell *c, gh_model m, gh_values *out) {
  size_t n = gh_store_fields_count(gh_store_fields_current(), m);
  out->n = n;
  out->v = n ? gh_arena_alloc(a, n * sizeof *out->v) : NULL;
  for (size_t i = 0; i < n; i++) gh_value_from_cell(&c[i], &out->v[i]);
}

/* The parameters of the additional fields of a new row: the given values, else the insert
 * defaults. */
static void extra_params(gh_arena *a, const gh_values *vals, gh_model m, gh_param *p) {
  const gh_store_fields *f = gh_store_fields_current();
  for (size_t i = 0; i < gh_store_fields_count(f, m); i++) {
    const gh_field *fl = gh_store_field_at(f, m, i);
    gh_value v =
        i < vals->n && vals->v[i].set ? vals->v[i] : gh_store_field_insert_value(a, f, m, i);
    gh_value_param(fl->type, &v, &p[i]);
  }
}

static gh_param text_param(const char *t) {
  return (gh_param){t ? 't' : 'n', t, 0};
}

static gh_param int_param(char type, int64_t v) {
  return (gh_param){type, NULL, v};
}

/* --- rows --------------------------------------------------------------------------------- */

static gh_status read_user(const gh_cell *c, gh_user *u) {
  memset(u, 0, sizeof *u);
  u->id = c[0].text;
  u->name = c[1].text;
  u->email = c[2].text;
  u->email_verified = c[3].num != 0;
  u->image = c[4].text;
  u->created_at = c[5].num;
  u->updated_at = c[6].num;
  return u->id && u->name && u->email ? GH_OK : GH_ERR_DB;
}

static gh_status read_session(const gh_cell *c, gh_session *x) {
  memset(x, 0, sizeof *x);
  x->id = c[0].text;
  x->token = c[1].text;
  x->user_id = c[2].text;
  x->expires_at = c[3].num;
  x->created_at = c[4].num;
  x->updated_at = c[5].num;
  x->ip_address = c[6].text;
  x->user_agent = c[7].text;
  return x->id && x->token && x->user_id ? GH_OK : GH_ERR_DB;
}

/* Whether account.issuer exists (better-auth 1.7.0-1.7.2 databases), asked once per connection
 * (again after a reconnect or a migration). */
static gh_status detect_issuer(gh_store *s) {
  if (s->issuer >= 0) return GH_OK;
  gh_arena *a = gh_arena_new();
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_ISSUER, &r, "");
  if (status == GH_OK) s->issuer = r.n == 1 && gh_rows_at(&r, 0)[0].num != 0;
  gh_arena_free(a);
  return status;
}

/* --- users -------------------------------------------------------------------------------- */

static gh_status user_by(gh_store *s, const gh_query *q, gh_arena *a, const char *key,
                         gh_user *out) {
  gh_rows r;
  gh_status status = gh_store_query(s, a, q, &r, "t", key);
  if (status) return status;
  if (!r.n) return GH_ERR_NOT_FOUND;
  status = read_user(gh_rows_at(&r, 0), out);
  if (status == GH_OK) read_extra(a, gh_rows_at(&r, 0) + 7, GH_MODEL_USER, &out->extra);
  return status;
}

gh_status gh_store_user_by_email(gh_store *s, gh_arena *a, const char *email, gh_user *out) {
  if (!s || !a || !email || !out) return GH_ERR_INVALID;
  const gh_entity_queries *eq = gh_store_current_queries();
  return user_by(s, eq ? eq->user_by_email : &Q_USER_BY_EMAIL, a, email, out);
}

gh_status gh_store_user_by_id(gh_store *s, gh_arena *a, const char *id, gh_user *out) {
  if (!s || !a || !id || !out) return GH_ERR_INVALID;
  const gh_entity_queries *eq = gh_store_current_queries();
  return user_by(s, eq ? eq->user_by_id : &Q_USER_BY_ID, a, id, out);
}

/* detect_issuer() has run. */
static gh_status insert_account(gh_store *s, const char *id, const char *account_id,
                                const char *provider_id, const char *user_id, const char *password,
                                int64_t created_at, int64_t updated_at) {
  if (s->issuer != 1)
    return gh_store_exec(s, &Q_ACCOUNT_INSERT, NULL, "tttttdd", id, account_id, provider_id,
                         user_id, password, created_at, updated_at);
  gh_arena *a = gh_arena_new();
  gh_status status = gh_store_exec(s, &Q_ACCOUNT_INSERT_ISSUER, NULL, "tttttddt", id, account_id,
                                   provider_id, user_id, password, created_at, updated_at,
                                   gh_store_account_issuer(a, provider_id));
  gh_arena_free(a);
  return status;
}

static gh_status insert_session(gh_store *s, const gh_session *x, const char *user_id) {
  const gh_entity_queries *eq = gh_store_current_queries();
  if (!eq)
    return gh_store_exec(s, &Q_SESSION_INSERT, NULL, SESSION_FMT, x->id, x->token, user_id,
                         x->expires_at, x->created_at, x->updated_at, x->ip_address, x->user_agent);
  gh_param p[GH_STORE_MAX_PARAMS];
  size_t n = strlen(eq->session_fmt);
  if (n > GH_STORE_MAX_PARAMS) return GH_ERR_INVALID;
  p[0] = text_param(x->id);
  p[1] = text_param(x->token);
  p[2] = text_param(user_id);
  p[3] = int_param('d', x->expires_at);
  p[4] = int_param('d', x->created_at);
  p[5] = int_param('d', x->updated_at);
  p[6] = text_param(x->ip_address);
  p[7] = text_param(x->user_agent);
  gh_arena *a = gh_arena_new();
  extra_params(a, &x->extra, GH_MODEL_SESSION, p + 8);
  gh_status status = gh_store_run_params(s, eq->session_insert, NULL, NULL, NULL, p, (int)n);
  gh_arena_free(a);
  return status;
}

static gh_status insert_user(gh_store *s, const gh_user *u) {
  const gh_entity_queries *eq = gh_store_current_queries();
  if (!eq)
    return gh_store_exec(s, &Q_USER_INSERT, NULL, USER_FMT, u->id, u->name, u->email,
                         (int)u->email_verified, u->image, u->created_at, u->updated_at);
  gh_param p[GH_STORE_MAX_PARAMS];
  size_t n = strlen(eq->user_fmt);
  if (n > GH_STORE_MAX_PARAMS) return GH_ERR_INVALID;
  p[0] = text_param(u->id);
  p[1] = text_param(u->name);
  p[2] = text_param(u->email);
  p[3] = int_param('b', u->email_verified ? 1 : 0);
  p[4] = text_param(u->image);
  p[5] = int_param('d', u->created_at);
  p[6] = int_param('d', u->updated_at);
  gh_arena *a = gh_arena_new();
  extra_params(a, &u->extra, GH_MODEL_USER, p + 7);
  gh_status status = gh_store_run_params(s, eq->user_insert, NULL, NULL, NULL, p, (int)n);
  gh_arena_free(a);
  return status;
}

gh_status gh_store_create_user(gh_store *s, const gh_user *u, const gh_account *cred,
                               const gh_session *sess) {
  if (!s || !u || !u->id || !u->name || !u->email) return GH_ERR_INVALID;
  if (sess && (!sess->id || !sess->token)) return GH_ERR_INVALID;
  if (cred && !cred->id) return GH_ERR_INVALID;
  gh_status status = cred ? detect_issuer(s) : GH_OK;
  if (status || (status = gh_store_begin(s))) return status;
  status = insert_user(s, u);
  if (status) goto done;
  if (cred) {
    status = insert_account(s, cred->id, cred->account_id ? cred->account_id : u->id,
                            cred->provider_id ? cred->provider_id : "credential",
                            cred->user_id ? cred->user_id : u->id, cred->password, cred->created_at,
                            cred->updated_at);
    if (status) goto done;
  }
  if (sess) {
    status = insert_session(s, sess, sess->user_id ? sess->user_id : u->id);
    if (status) goto done;
  }
done:
  return gh_store_end(s, status);
}

gh_status gh_store_update_user(gh_store *s, const char *id, const char *name, bool set_image,
                               const char *image, int64_t updated_at) {
  if (!s || !id) return GH_ERR_INVALID;
  long n = 0;
  gh_status status =
      gh_store_exec(s, &Q_USER_UPDATE, &n, "tbtdt", name, (int)set_image, image, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

typedef struct {
  const char *name;
  gh_field_type type;
} core_col;

static const core_col USER_SETTABLE[] = {{"name", GH_FIELD_STRING},
                                         {"email", GH_FIELD_STRING},
                                         {"emailVerified", GH_FIELD_BOOLEAN},
                                         {"image", GH_FIELD_STRING},
                                         {NULL, 0}};
static const core_col SESSION_SETTABLE[] = {{"expiresAt", GH_FIELD_DATE},
                                            {"ipAddress", GH_FIELD_STRING},
                                            {"userAgent", GH_FIELD_STRING},
                                            {NULL, 0}};

/* update "table" set "c1" = ?1, ..., "updatedAt" = ?n where "id" = ?n+1 (the column names are
 * checked against the core's and the installed ones: nothing else reaches the text). */
static gh_status update_columns(gh_store *s, gh_model m, const char *id, const gh_store_set *set,
                                size_t n, int64_t updated_at) {
  if (!s || !id || (n && !set) || n + 2 > GH_STORE_MAX_PARAMS) return GH_ERR_INVALID;
  const gh_store_fields *f = gh_store_fields_current();
  const core_col *core = m == GH_MODEL_USER ? USER_SETTABLE : SESSION_SETTABLE;
  gh_arena *a = gh_arena_new();
  gh_param p[GH_STORE_MAX_PARAMS];
  char *sq = "", *pq = "";
  gh_status status = GH_OK;
  for (size_t i = 0; i < n && status == GH_OK; i++) {
    const char *col = set[i].column;
    int type = 0;
    for (const core_col *c = core; c->name && !type; c++)
      if (col && !strcmp(c->name, col)) type = (int)c->type;
    int k = gh_store_field_index(f, m, col);
    if (!type && k >= 0) type = (int)gh_store_field_at(f, m, (size_t)k)->type;
    if (!type) {
      status = GH_ERR_INVALID;
      break;
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(set[j].column, col)) status = GH_ERR_INVALID;
    gh_value_param((gh_field_type)type, &set[i].v, &p[i]);
    sq = gh_arena_printf(a, "%s\"%s\" = ?%zu, ", sq, col, i + 1);
    pq = gh_arena_printf(a, "%s\"%s\" = $%zu, ", pq, col, i + 1);
  }
  if (status == GH_OK) {
    const char *table = m == GH_MODEL_USER ? "user" : "session";
    p[n] = int_param('d', updated_at);
    p[n + 1] = text_param(id);
    const gh_query *q = gh_store_intern_query(
        m == GH_MODEL_USER ? "user_update_columns" : "session_update_columns",
        gh_arena_printf(a, "update \"%s\" set %s\"updatedAt\" = ?%zu where \"id\" = ?%zu", table,
                        sq, n + 1, n + 2),
        gh_arena_printf(a, "update \"%s\" set %s\"updatedAt\" = $%zu where \"id\" = $%zu", table,
                        pq, n + 1, n + 2),
        NULL);
    long changed = 0;
    status = gh_store_run_params(s, q, NULL, NULL, &changed, p, (int)n + 2);
    if (status == GH_OK && changed == 0) status = GH_ERR_NOT_FOUND;
  }
  gh_arena_free(a);
  return status;
}

gh_status gh_store_update_user_columns(gh_store *s, const char *id, const gh_store_set *set,
                                       size_t n, int64_t updated_at) {
  return update_columns(s, GH_MODEL_USER, id, set, n, updated_at);
}

gh_status gh_store_update_session_columns(gh_store *s, const char *id, const gh_store_set *set,
                                          size_t n, int64_t updated_at) {
  return update_columns(s, GH_MODEL_SESSION, id, set, n, updated_at);
}

static const core_col USER_ALL[] = {
    {"id", GH_FIELD_STRING},      {"name", GH_FIELD_STRING},
    {"email", GH_FIELD_STRING},   {"emailVerified", GH_FIELD_BOOLEAN},
    {"image", GH_FIELD_STRING},   {"createdAt", GH_FIELD_DATE},
    {"updatedAt", GH_FIELD_DATE}, {NULL, 0}};

/* The type of a user column (core or installed), 0 when there is none of that name. */
static int user_col_type(const char *col) {
  if (!col) return 0;
  for (const core_col *c = USER_ALL; c->name; c++)
    if (!strcmp(c->name, col)) return (int)c->type;
  const gh_store_fields *f = gh_store_fields_current();
  int k = gh_store_field_index(f, GH_MODEL_USER, col);
  return k >= 0 ? (int)gh_store_field_at(f, GH_MODEL_USER, (size_t)k)->type : 0;
}

static const char *like_pattern(gh_arena *a, const char *op, const char *v) {
  if (!strcmp(op, "contains")) return gh_arena_printf(a, "%%%s%%", v);
  if (!strcmp(op, "starts_with")) return gh_arena_printf(a, "%s%%", v);
  if (!strcmp(op, "ends_with")) return gh_arena_printf(a, "%%%s", v);
  return NULL;
}

static const char *cmp_sql(const char *op) {
  static const char *const OPS[][2] = {{"eq", "="},   {"ne", "<>"}, {"lt", "<"},
                                       {"lte", "<="}, {"gt", ">"},  {"gte", ">="}};
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (!strcmp(op, OPS[i][0])) return OPS[i][1];
  return NULL;
}

gh_status gh_store_list_users(gh_store *s, gh_arena *a, const gh_user_list_query *q, gh_user **out,
                              size_t *n, int64_t *total) {
  if (!s || !a || !q || !out || !n || !total) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  *total = 0;
  gh_param p[GH_STORE_MAX_PARAMS];
  int np = 0;
  char *sw = "", *pw = "";
  if (q->search_value) {
    const char *f = q->search_field ? q->search_field : "email";
    const char *pat = like_pattern(a, q->search_op ? q->search_op : "contains", q->search_value);
    if ((strcmp(f, "email") && strcmp(f, "name")) || !pat) return GH_ERR_INVALID;
    p[np++] = text_param(pat);
    sw = gh_arena_printf(a, " where \"%s\" like ?%d", f, np);
    pw = gh_arena_printf(a, " where \"%s\" like $%d", f, np);
  }
  if (q->filter_value) {
    const char *f = q->filter_field ? q->filter_field : "email";
    const char *op = q->filter_op ? q->filter_op : "eq";
    int type = user_col_type(f);
    if (!type) return GH_ERR_INVALID;
    const char *cmp = cmp_sql(op), *pat = NULL;
    if (!cmp && !(pat = like_pattern(a, op, q->filter_value))) return GH_ERR_INVALID;
    if (pat) {
      p[np++] = text_param(pat);
      cmp = "like";
    } else {
      gh_value v;
      if (gh_value_parse(a, (gh_field_type)type, q->filter_value, &v) != GH_OK)
        return GH_ERR_INVALID;
      gh_value_param((gh_field_type)type, &v, &p[np++]);
    }
    const char *join = *sw ? " and" : " where";
    sw = gh_arena_printf(a, "%s%s \"%s\" %s ?%d", sw, join, f, cmp, np);
    pw = gh_arena_printf(a, "%s%s \"%s\" %s $%d", pw, join, f, cmp, np);
  }
  const char *sort = q->sort_by ? q->sort_by : "createdAt";
  if (!user_col_type(sort)) return GH_ERR_INVALID;
  const gh_entity_queries *eq = gh_store_current_queries();
  const gh_store_fields *fs = gh_store_fields_current();
  char *cols = "";
  for (size_t i = 0; i < gh_store_fields_count(fs, GH_MODEL_USER); i++)
    cols = gh_arena_printf(a, "%s, \"%s\"", cols, gh_store_field_at(fs, GH_MODEL_USER, i)->name);
  const gh_query *cq = gh_store_intern_query(
      "users_count", gh_arena_printf(a, "select count(*) from \"user\"%s", sw),
      gh_arena_printf(a, "select count(*) from \"user\"%s", pw), "i");
  gh_rows r;
  gh_status status = gh_store_run_params(s, cq, a, &r, NULL, p, np);
  if (status) return status;
  *total = r.n ? gh_rows_at(&r, 0)[0].num : 0;
  p[np++] = int_param('i', q->limit);
  p[np++] = int_param('i', q->offset);
  const char *dir = q->sort_desc ? "desc" : "asc";
  const gh_query *lq = gh_store_intern_query(
      "users_list",
      gh_arena_printf(a,
                      "select %s%s from \"user\"%s order by \"%s\" %s, \"id\" limit ?%d offset ?%d",
                      USER_COLS, cols, sw, sort, dir, np - 1, np),
      gh_arena_printf(a,
                      "select %s%s from \"user\"%s order by \"%s\" %s, \"id\" limit $%d offset $%d",
                      USER_COLS, cols, pw, sort, dir, np - 1, np),
      eq ? eq->user_fmt : USER_FMT);
  status = gh_store_run_params(s, lq, a, &r, NULL, p, np);
  if (status) return status;
  gh_user *v = r.n ? gh_arena_alloc(a, r.n * sizeof *v) : NULL;
  for (size_t i = 0; i < r.n; i++) {
    status = read_user(gh_rows_at(&r, i), &v[i]);
    if (status) return status;
    read_extra(a, gh_rows_at(&r, i) + 7, GH_MODEL_USER, &v[i].extra);
  }
  *out = v;
  *n = r.n;
  return GH_OK;
}

gh_status gh_store_delete_user(gh_store *s, const char *id) {
  if (!s || !id) return GH_ERR_INVALID;
  long n = 0;
  gh_status status = gh_store_begin(s);
  if (status) return status;
  if ((status = gh_store_exec(s, &Q_SESSIONS_DELETE_USER, NULL, "t", id)) ||
      (status = gh_store_exec(s, &Q_ACCOUNTS_DELETE_USER, NULL, "t", id)) ||
      (status = gh_store_exec(s, &Q_USER_DELETE, &n, "t", id)))
    goto done;
  if (n == 0) {
    status = GH_ERR_NOT_FOUND;
    goto done;
  }
done:
  return gh_store_end(s, status);
}

/* --- credential account ------------------------------------------------------------------- */

gh_status gh_store_credential_password(gh_store *s, gh_arena *a, const char *user_id, char **hash) {
  if (!s || !a || !user_id || !hash) return GH_ERR_INVALID;
  *hash = NULL;
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_CRED_PASSWORD, &r, "t", user_id);
  if (status) return status;
  *hash = r.n ? gh_rows_at(&r, 0)[0].text : NULL;
  return *hash ? GH_OK : GH_ERR_NOT_FOUND;
}

gh_status gh_store_set_password(gh_store *s, const char *user_id, const char *hash,
                                const char *new_account_id, int64_t now, bool revoke_sessions,
                                const gh_session *new_session) {
  if (!s || !user_id || !hash) return GH_ERR_INVALID;
  if (new_session && (!new_session->id || !new_session->token)) return GH_ERR_INVALID;
  long n = 0;
  gh_status status = new_account_id ? detect_issuer(s) : GH_OK;
  if (status || (status = gh_store_begin(s))) return status;
  status = gh_store_exec(s, &Q_CRED_UPDATE, &n, "tdt", hash, now, user_id);
  if (status) goto done;
  if (n == 0) {
    if (!new_account_id) {
      status = GH_ERR_NOT_FOUND;
      goto done;
    }
    status = insert_account(s, new_account_id, user_id, "credential", user_id, hash, now, now);
    if (status) goto done;
  }
  if (revoke_sessions) {
    status = gh_store_exec(s, &Q_SESSIONS_DELETE_USER, NULL, "t", user_id);
    if (status) goto done;
  }
  if (new_session) {
    status = insert_session(s, new_session, new_session->user_id ? new_session->user_id : user_id);
    if (status) goto done;
  }
done:
  return gh_store_end(s, status);
}

/* --- sessions ----------------------------------------------------------------------------- */

gh_status gh_store_create_session(gh_store *s, const gh_session *sess) {
  if (!s || !sess || !sess->id || !sess->token || !sess->user_id) return GH_ERR_INVALID;
  return insert_session(s, sess, sess->user_id);
}

gh_status gh_store_session_by_token(gh_store *s, gh_arena *a, const char *token, gh_session *sess,
                                    gh_user *user) {
  if (!s || !a || !token || !sess || !user) return GH_ERR_INVALID;
  gh_rows r;
  const gh_entity_queries *eq = gh_store_current_queries();
  gh_status status =
      gh_store_query(s, a, eq ? eq->session_by_token : &Q_SESSION_BY_TOKEN, &r, "t", token);
  if (status) return status;
  if (!r.n) return GH_ERR_NOT_FOUND;
  const gh_cell *c = gh_rows_at(&r, 0);
  size_t ns = 8 + gh_store_fields_count(gh_store_fields_current(), GH_MODEL_SESSION);
  status = read_session(c, sess);
  if (status == GH_OK) status = read_user(c + ns, user);
  if (status == GH_OK) {
    read_extra(a, c + 8, GH_MODEL_SESSION, &sess->extra);
    read_extra(a, c + ns + 7, GH_MODEL_USER, &user->extra);
  }
  return status;
}

gh_status gh_store_touch_session(gh_store *s, const char *id, int64_t expires_at,
                                 int64_t updated_at) {
  if (!s || !id) return GH_ERR_INVALID;
  long n = 0;
  gh_status status = gh_store_exec(s, &Q_SESSION_TOUCH, &n, "ddt", expires_at, updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

gh_status gh_store_delete_session(gh_store *s, const char *token) {
  if (!s || !token) return GH_ERR_INVALID;
  return gh_store_exec(s, &Q_SESSION_DELETE, NULL, "t", token);
}

gh_status gh_store_delete_user_session(gh_store *s, const char *user_id, const char *token) {
  if (!s || !user_id || !token) return GH_ERR_INVALID;
  return gh_store_exec(s, &Q_SESSION_DELETE_OWN, NULL, "tt", user_id, token);
}

gh_status gh_store_delete_user_sessions(gh_store *s, const char *user_id,
                                        const char *except_token) {
  if (!s || !user_id) return GH_ERR_INVALID;
  if (except_token)
    return gh_store_exec(s, &Q_SESSIONS_DELETE_EXCEPT, NULL, "tt", user_id, except_token);
  return gh_store_exec(s, &Q_SESSIONS_DELETE_USER, NULL, "t", user_id);
}

/* The live sessions, stably ordered by the parsed createdAt (PostgreSQL returns them filtered and
 * ordered already). */
gh_status gh_store_list_sessions(gh_store *s, gh_arena *a, const char *user_id, int64_t now,
                                 gh_session **out, size_t *n) {
  if (!s || !a || !user_id || !out || !n) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  gh_rows r;
  const gh_entity_queries *eq = gh_store_current_queries();
  gh_status status =
      gh_store_query(s, a, eq ? eq->sessions_list : &Q_SESSIONS_LIST, &r, "td", user_id, now);
  if (status) return status;
  gh_session *v = r.n ? gh_arena_alloc(a, r.n * sizeof *v) : NULL;
  size_t len = 0;
  for (size_t i = 0; i < r.n; i++) {
    gh_session x;
    status = read_session(gh_rows_at(&r, i), &x);
    if (status) return status;
    read_extra(a, gh_rows_at(&r, i) + 8, GH_MODEL_SESSION, &x.extra);
    if (x.expires_at <= now) continue;
    size_t j = len++;
    while (j > 0 && v[j - 1].created_at > x.created_at) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  *out = v;
  *n = len;
  return GH_OK;
}

gh_status gh_store_purge_expired(gh_store *s, int64_t now, long *deleted) {
  if (deleted) *deleted = 0;
  if (!s) return GH_ERR_INVALID;
  return gh_store_exec(s, &Q_SESSIONS_PURGE, deleted, "d", now);
}

static const gh_query Q_PING = {"ping", "select 1", "select 1", NULL};

gh_status gh_store_ping(gh_store *s) {
  if (!s) return GH_ERR_INVALID;
  return gh_store_exec(s, &Q_PING, NULL, "");
}

/* --- accounts (every provider) ------------------------------------------------------------ */

#define ACCOUNT_COLS                                                                               \
  "\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", \"createdAt\", "               \
  "\"updatedAt\", \"accessToken\", \"refreshToken\", \"idToken\", \"accessTokenExpiresAt\", "      \
  "\"refreshTokenExpiresAt\", \"scope\""
#define ACCOUNT_FMT "tttttddtttDDt"

static const gh_query Q_ACCOUNTS_LIST = {
    "accounts_list",
    "select " ACCOUNT_COLS " from \"account\" where \"userId\" = ?1 order by \"createdAt\"",
    "select " ACCOUNT_COLS " from \"account\" where \"userId\" = $1 order by \"createdAt\"",
    ACCOUNT_FMT};
static const gh_query Q_ACCOUNT_BY_KEY = {
    "account_by_key",
    "select " ACCOUNT_COLS " from \"account\" where \"providerId\" = ?1 and \"accountId\" = ?2 "
    "order by \"createdAt\" limit 1",
    "select " ACCOUNT_COLS " from \"account\" where \"providerId\" = $1 and \"accountId\" = $2 "
    "order by \"createdAt\" limit 1",
    ACCOUNT_FMT};
static const gh_query Q_ACCOUNT_INSERT_FULL = {
    "account_insert_full",
    "insert into \"account\" (" ACCOUNT_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
    "?11, ?12, ?13)",
    "insert into \"account\" (" ACCOUNT_COLS ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
    "$11, $12, $13)",
    NULL};
static const gh_query Q_ACCOUNT_INSERT_FULL_ISSUER = {
    "account_insert_full",
    "insert into \"account\" (" ACCOUNT_COLS ", \"issuer\") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    "insert into \"account\" (" ACCOUNT_COLS ", \"issuer\") values ($1, $2, $3, $4, $5, $6, $7, "
    "$8, $9, $10, $11, $12, $13, $14)",
    NULL};
static const gh_query Q_ACCOUNT_UPDATE_TOKENS = {
    "account_update_tokens",
    "update \"account\" set \"accessToken\" = case when ?1 then \"accessToken\" else ?2 end, "
    "\"refreshToken\" = case when ?3 then \"refreshToken\" else ?4 end, "
    "\"idToken\" = case when ?5 then \"idToken\" else ?6 end, "
    "\"scope\" = case when ?7 then \"scope\" else ?8 end, "
    "\"accessTokenExpiresAt\" = case when ?9 then \"accessTokenExpiresAt\" else ?10 end, "
    "\"refreshTokenExpiresAt\" = case when ?11 then \"refreshTokenExpiresAt\" else ?12 end, "
    "\"updatedAt\" = ?13 where \"id\" = ?14",
    "update \"account\" set \"accessToken\" = case when $1::boolean then \"accessToken\" else "
    "$2::text end, \"refreshToken\" = case when $3::boolean then \"refreshToken\" else $4::text "
    "end, \"idToken\" = case when $5::boolean then \"idToken\" else $6::text end, "
    "\"scope\" = case when $7::boolean then \"scope\" else $8::text end, "
    "\"accessTokenExpiresAt\" = case when $9::boolean then \"accessTokenExpiresAt\" else "
    "$10::timestamptz end, \"refreshTokenExpiresAt\" = case when $11::boolean then "
    "\"refreshTokenExpiresAt\" else $12::timestamptz end, \"updatedAt\" = $13 where \"id\" = $14",
    NULL};
static const gh_query Q_ACCOUNT_DELETE = {
    "account_delete", "delete from \"account\" where \"id\" = ?1 and \"userId\" = ?2",
    "delete from \"account\" where \"id\" = $1 and \"userId\" = $2", NULL};
static const gh_query Q_USER_VERIFY_EMAIL = {
    "user_verify_email",
    "update \"user\" set \"emailVerified\" = 1, \"updatedAt\" = ?1 where \"id\" = ?2",
    "update \"user\" set \"emailVerified\" = true, \"updatedAt\" = $1 where \"id\" = $2", NULL};
static const gh_query Q_VERIFICATION_INSERT = {
    "verification_insert",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values (?1, ?2, ?3, ?4, ?5, ?6)",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values ($1, $2, $3, $4, $5, $6)",
    NULL};
static const gh_query Q_VERIFICATION_TAKE = {
    "verification_take",
    "delete from \"verification\" where \"identifier\" = ?1 returning \"value\", \"expiresAt\", "
    "\"createdAt\"",
    "delete from \"verification\" where \"identifier\" = $1 returning \"value\", \"expiresAt\", "
    "\"createdAt\"",
    "tdd"};

static gh_status read_account(const gh_cell *c, gh_account *x) {
  memset(x, 0, sizeof *x);
  x->id = c[0].text;
  x->account_id = c[1].text;
  x->provider_id = c[2].text;
  x->user_id = c[3].text;
  x->password = c[4].text;
  x->created_at = c[5].num;
  x->updated_at = c[6].num;
  x->access_token = c[7].text;
  x->refresh_token = c[8].text;
  x->id_token = c[9].text;
  x->has_access_expiry = !c[10].null;
  x->access_token_expires_at = c[10].num;
  x->has_refresh_expiry = !c[11].null;
  x->refresh_token_expires_at = c[11].num;
  x->scope = c[12].text;
  return x->id && x->account_id && x->provider_id && x->user_id ? GH_OK : GH_ERR_DB;
}

gh_status gh_store_list_accounts(gh_store *s, gh_arena *a, const char *user_id, gh_account **out,
                                 size_t *n) {
  if (!s || !a || !user_id || !out || !n) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_ACCOUNTS_LIST, &r, "t", user_id);
  if (status) return status;
  gh_account *v = r.n ? gh_arena_alloc(a, r.n * sizeof *v) : NULL;
  size_t len = 0;
  for (size_t i = 0; i < r.n; i++) {
    gh_account x;
    status = read_account(gh_rows_at(&r, i), &x);
    if (status) return status;
    size_t j = len++; /* stable by the parsed createdAt (SQLite dates are text) */
    while (j > 0 && v[j - 1].created_at > x.created_at) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  *out = v;
  *n = len;
  return GH_OK;
}

gh_status gh_store_account_by_key(gh_store *s, gh_arena *a, const char *provider_id,
                                  const char *account_id, gh_account *out) {
  if (!s || !a || !provider_id || !account_id || !out) return GH_ERR_INVALID;
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_ACCOUNT_BY_KEY, &r, "tt", provider_id, account_id);
  if (status) return status;
  return r.n ? read_account(gh_rows_at(&r, 0), out) : GH_ERR_NOT_FOUND;
}

/* detect_issuer() has run. */
static gh_status insert_full_account(gh_store *s, const gh_account *x) {
  const int64_t *ae = x->has_access_expiry ? &x->access_token_expires_at : NULL;
  const int64_t *re = x->has_refresh_expiry ? &x->refresh_token_expires_at : NULL;
  if (s->issuer != 1)
    return gh_store_exec(s, &Q_ACCOUNT_INSERT_FULL, NULL, ACCOUNT_FMT, x->id, x->account_id,
                         x->provider_id, x->user_id, x->password, x->created_at, x->updated_at,
                         x->access_token, x->refresh_token, x->id_token, ae, re, x->scope);
  gh_arena *a = gh_arena_new();
  gh_status status = gh_store_exec(
      s, &Q_ACCOUNT_INSERT_FULL_ISSUER, NULL, ACCOUNT_FMT "t", x->id, x->account_id, x->provider_id,
      x->user_id, x->password, x->created_at, x->updated_at, x->access_token, x->refresh_token,
      x->id_token, ae, re, x->scope, gh_store_account_issuer(a, x->provider_id));
  gh_arena_free(a);
  return status;
}

gh_status gh_store_insert_account(gh_store *s, const gh_account *acc) {
  if (!s || !acc || !acc->id || !acc->account_id || !acc->provider_id || !acc->user_id)
    return GH_ERR_INVALID;
  gh_status status = detect_issuer(s);
  return status ? status : insert_full_account(s, acc);
}

gh_status gh_store_update_account_tokens(gh_store *s, const char *id, const gh_account *x,
                                         const gh_account_keep *k) {
  if (!s || !id || !x || !k) return GH_ERR_INVALID;
  const int64_t *ae = x->has_access_expiry ? &x->access_token_expires_at : NULL;
  const int64_t *re = x->has_refresh_expiry ? &x->refresh_token_expires_at : NULL;
  long n = 0;
  gh_status status = gh_store_exec(
      s, &Q_ACCOUNT_UPDATE_TOKENS, &n, "btbtbtbtbDbDdt", (int)k->access_token, x->access_token,
      (int)k->refresh_token, x->refresh_token, (int)k->id_token, x->id_token, (int)k->scope,
      x->scope, (int)k->access_expiry, ae, (int)k->refresh_expiry, re, x->updated_at, id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

gh_status gh_store_delete_account(gh_store *s, const char *user_id, const char *id) {
  if (!s || !user_id || !id) return GH_ERR_INVALID;
  long n = 0;
  gh_status status = gh_store_exec(s, &Q_ACCOUNT_DELETE, &n, "tt", id, user_id);
  if (status) return status;
  return n ? GH_OK : GH_ERR_NOT_FOUND;
}

gh_status gh_store_create_user_with_account(gh_store *s, const gh_user *u, const gh_account *acc) {
  if (!s || !u || !u->id || !u->name || !u->email || !acc || !acc->id) return GH_ERR_INVALID;
  gh_status status = detect_issuer(s);
  if (status || (status = gh_store_begin(s))) return status;
  status = insert_user(s, u);
  if (status == GH_OK) status = insert_full_account(s, acc);
  return gh_store_end(s, status);
}

gh_status gh_store_set_email_verified(gh_store *s, const char *user_id, int64_t now) {
  if (!s || !user_id) return GH_ERR_INVALID;
  return gh_store_exec(s, &Q_USER_VERIFY_EMAIL, NULL, "dt", now, user_id);
}

/* --- verification rows -------------------------------------------------------------------- */

gh_status gh_store_verification_put(gh_store *s, const char *identifier, const char *value,
                                    int64_t expires_at, int64_t now) {
  if (!s || !identifier || !value) return GH_ERR_INVALID;
  char id[33];
  gh_rand_id(id, 32);
  return gh_store_exec(s, &Q_VERIFICATION_INSERT, NULL, "tttddd", id, identifier, value, expires_at,
                       now, now);
}

gh_status gh_store_verification_take(gh_store *s, gh_arena *a, const char *identifier, char **value,
                                     int64_t *expires_at) {
  if (!s || !a || !identifier || !value || !expires_at) return GH_ERR_INVALID;
  *value = NULL;
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_VERIFICATION_TAKE, &r, "t", identifier);
  if (status) return status;
  int64_t newest = INT64_MIN;
  for (size_t i = 0; i < r.n; i++) {
    const gh_cell *c = gh_rows_at(&r, i);
    if (c[0].text && c[2].num >= newest) {
      newest = c[2].num;
      *value = c[0].text;
      *expires_at = c[1].num;
    }
  }
  return *value ? GH_OK : GH_ERR_NOT_FOUND;
}
