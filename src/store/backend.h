/* Internal to src/store: the table of backend functions behind store.h. store.c validates the
 * arguments and dispatches; sqlite.c and postgres.c each fill one gh_store_ops. */
#ifndef GH_STORE_BACKEND_H
#define GH_STORE_BACKEND_H

#include "store/store.h"

typedef struct gh_store_ops {
  void (*close)(gh_store *s);
  gh_status (*migrate)(gh_store *s, int *applied);
  gh_status (*check_schema)(gh_store *s);
  gh_status (*ping)(gh_store *s);
  gh_status (*user_by_email)(gh_store *s, gh_arena *a, const char *email, gh_user *out);
  gh_status (*user_by_id)(gh_store *s, gh_arena *a, const char *id, gh_user *out);
  gh_status (*create_user)(gh_store *s, const gh_user *u, const gh_account *cred,
                           const gh_session *sess);
  gh_status (*update_user)(gh_store *s, const char *id, const char *name, bool set_image,
                           const char *image, int64_t updated_at);
  gh_status (*delete_user)(gh_store *s, const char *id);
  gh_status (*credential_password)(gh_store *s, gh_arena *a, const char *user_id, char **hash);
  gh_status (*set_password)(gh_store *s, const char *user_id, const char *hash,
                            const char *new_account_id, int64_t now, bool revoke_sessions,
                            const gh_session *new_session);
  gh_status (*create_session)(gh_store *s, const gh_session *sess);
  gh_status (*session_by_token)(gh_store *s, gh_arena *a, const char *token, gh_session *sess,
                                gh_user *user);
  gh_status (*touch_session)(gh_store *s, const char *id, int64_t expires_at, int64_t updated_at);
  gh_status (*delete_session)(gh_store *s, const char *token);
  gh_status (*delete_user_session)(gh_store *s, const char *user_id, const char *token);
  gh_status (*delete_user_sessions)(gh_store *s, const char *user_id, const char *except_token);
  gh_status (*list_sessions)(gh_store *s, gh_arena *a, const char *user_id, int64_t now,
                             gh_session **out, size_t *n);
  gh_status (*purge_expired)(gh_store *s, int64_t now, long *deleted);
  gh_status (*jwks_list)(gh_store *s, gh_arena *a, gh_jwks_row **out, size_t *n);
  gh_status (*jwks_insert)(gh_store *s, const gh_jwks_row *row, int64_t retire_at);
} gh_store_ops;

/* Every backend's connection struct starts with this. */
struct gh_store {
  const gh_store_ops *ops;
  gh_store_kind kind;
};

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

#endif
