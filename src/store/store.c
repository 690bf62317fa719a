/* Storage front end: URL parsing, backend dispatch, argument checks, per-thread connections. */
#include "store/backend.h"

#include "common/rand.h"

#include <stdlib.h>
#include <string.h>
#include "common/encoding.h"
#include "common/log.h"
#include "common/threadconn.h"

/* --- logging ------------------------------------------------------------------------------ */

void gh_store_log(const char *backend, const char *op, const char *code, const char *msg) {
  char buf[1024];
  size_t n = 0;
  if (msg) { /* without the trailing newline of libpq messages */
    n = strlen(msg);
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, msg, n);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
  }
  buf[n] = 0;
  /* the log line is JSON: never hand it invalid UTF-8 (a cut sequence or a foreign encoding) */
  if (!gh_utf8_valid(buf, n))
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)buf[i] >= 0x80) buf[i] = '?';
  gh_log(GH_LOG_ERROR, "store.db_error", "backend", backend, "op", op, "code", code, "message", buf,
         NULL);
}

char *gh_store_account_issuer(gh_arena *a, const char *provider_id) {
  if (!provider_id || strcmp(provider_id, "credential") == 0)
    return gh_arena_strdup(a, "local:credential");
  return gh_arena_printf(a, "local:oauth:%s", gh_uri_encode_component(a, provider_id));
}

/* --- open / dispatch ---------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

gh_status gh_store_open(const char *url, gh_store **out) {
  if (!url || !out) return GH_ERR_INVALID;
  *out = NULL;
  if (strcmp(url, "sqlite::memory:") == 0) return gh_store_sqlite_open(":memory:", out);
  if (starts_with(url, "sqlite:")) {
    const char *path = url + strlen("sqlite:");
    if (starts_with(path, "//")) path += 2; /* sqlite:///abs/path */
    if (!*path) return GH_ERR_CONFIG;
    return gh_store_sqlite_open(path, out);
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://"))
    return gh_store_pg_open(url, out);
  return GH_ERR_CONFIG;
}

void gh_store_close(gh_store *s) {
  if (s) s->ops->close(s);
}

gh_store_kind gh_store_kind_of(const gh_store *s) {
  return s->kind;
}

gh_status gh_store_migrate(gh_store *s, int *applied) {
  if (applied) *applied = 0;
  if (!s) return GH_ERR_INVALID;
  return s->ops->migrate(s, applied);
}

gh_status gh_store_check_schema(gh_store *s) {
  if (!s) return GH_ERR_INVALID;
  return s->ops->check_schema(s);
}

gh_status gh_store_ping(gh_store *s) {
  if (!s) return GH_ERR_INVALID;
  return s->ops->ping(s);
}

gh_status gh_store_user_by_email(gh_store *s, gh_arena *a, const char *email, gh_user *out) {
  if (!s || !a || !email || !out) return GH_ERR_INVALID;
  return s->ops->user_by_email(s, a, email, out);
}

gh_status gh_store_user_by_id(gh_store *s, gh_arena *a, const char *id, gh_user *out) {
  if (!s || !a || !id || !out) return GH_ERR_INVALID;
  return s->ops->user_by_id(s, a, id, out);
}

gh_status gh_store_create_user(gh_store *s, const gh_user *u, const gh_account *cred,
                               const gh_session *sess) {
  if (!s || !u || !u->id || !u->name || !u->email) return GH_ERR_INVALID;
  if (sess && (!sess->id || !sess->token)) return GH_ERR_INVALID;
  if (cred && !cred->id) return GH_ERR_INVALID;
  return s->ops->create_user(s, u, cred, sess);
}

gh_status gh_store_update_user(gh_store *s, const char *id, const char *name, bool set_image,
                               const char *image, int64_t updated_at) {
  if (!s || !id) return GH_ERR_INVALID;
  return s->ops->update_user(s, id, name, set_image, image, updated_at);
}

gh_status gh_store_delete_user(gh_store *s, const char *id) {
  if (!s || !id) return GH_ERR_INVALID;
  return s->ops->delete_user(s, id);
}

gh_status gh_store_credential_password(gh_store *s, gh_arena *a, const char *user_id, char **hash) {
  if (!s || !a || !user_id || !hash) return GH_ERR_INVALID;
  *hash = NULL;
  return s->ops->credential_password(s, a, user_id, hash);
}

gh_status gh_store_set_password(gh_store *s, const char *user_id, const char *hash,
                                const char *new_account_id, int64_t now, bool revoke_sessions,
                                const gh_session *new_session) {
  if (!s || !user_id || !hash) return GH_ERR_INVALID;
  if (new_session && (!new_session->id || !new_session->token)) return GH_ERR_INVALID;
  return s->ops->set_password(s, user_id, hash, new_account_id, now, revoke_sessions, new_session);
}

gh_status gh_store_create_session(gh_store *s, const gh_session *sess) {
  if (!s || !sess || !sess->id || !sess->token || !sess->user_id) return GH_ERR_INVALID;
  return s->ops->create_session(s, sess);
}

gh_status gh_store_session_by_token(gh_store *s, gh_arena *a, const char *token, gh_session *sess,
                                    gh_user *user) {
  if (!s || !a || !token || !sess || !user) return GH_ERR_INVALID;
  return s->ops->session_by_token(s, a, token, sess, user);
}

gh_status gh_store_touch_session(gh_store *s, const char *id, int64_t expires_at,
                                 int64_t updated_at) {
  if (!s || !id) return GH_ERR_INVALID;
  return s->ops->touch_session(s, id, expires_at, updated_at);
}

gh_status gh_store_delete_session(gh_store *s, const char *token) {
  if (!s || !token) return GH_ERR_INVALID;
  return s->ops->delete_session(s, token);
}

gh_status gh_store_delete_user_session(gh_store *s, const char *user_id, const char *token) {
  if (!s || !user_id || !token) return GH_ERR_INVALID;
  return s->ops->delete_user_session(s, user_id, token);
}

gh_status gh_store_delete_user_sessions(gh_store *s, const char *user_id,
                                        const char *except_token) {
  if (!s || !user_id) return GH_ERR_INVALID;
  return s->ops->delete_user_sessions(s, user_id, except_token);
}

gh_status gh_store_list_sessions(gh_store *s, gh_arena *a, const char *user_id, int64_t now,
                                 gh_session **out, size_t *n) {
  if (!s || !a || !user_id || !out || !n) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  return s->ops->list_sessions(s, a, user_id, now, out, n);
}

gh_status gh_store_purge_expired(gh_store *s, int64_t now, long *deleted) {
  if (deleted) *deleted = 0;
  if (!s) return GH_ERR_INVALID;
  return s->ops->purge_expired(s, now, deleted);
}

gh_status gh_store_jwks_list(gh_store *s, gh_arena *a, gh_jwks_row **out, size_t *n) {
  if (!s || !a || !out || !n) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  return s->ops->jwks_list(s, a, out, n);
}

gh_status gh_store_jwks_insert(gh_store *s, const gh_jwks_row *row, int64_t retire_at) {
  if (!s || !row || !row->id || !row->public_key || !row->private_key) return GH_ERR_INVALID;
  return s->ops->jwks_insert(s, row, retire_at);
}

/* --- per-thread connection ---------------------------------------------------------------- */

static gh_status open_conn(const char *url, void **out) {
  gh_store *s = NULL;
  gh_status st = gh_store_open(url, &s);
  *out = s;
  return st;
}

static void close_conn(void *p) {
  gh_store_close(p);
}

static gh_threadconn conns = GH_THREADCONN_INIT(open_conn, close_conn);

void gh_store_thread_init(const char *url) {
  gh_threadconn_set_url(&conns, url);
}

gh_status gh_store_thread(gh_store **out) {
  if (!out) return GH_ERR_INVALID;
  void *c;
  gh_status st = gh_threadconn_get(&conns, &c);
  *out = c;
  return st;
}

void gh_user_init(gh_arena *a, gh_user *u, const char *name, const char *email, const char *image,
                  int64_t now) {
  memset(u, 0, sizeof *u);
  u->id = gh_arena_alloc(a, 33);
  gh_rand_id(u->id, 32);
  u->name = (char *)name;
  u->email = (char *)email;
  u->image = (char *)image;
  u->created_at = u->updated_at = now;
}

void gh_credential_init(gh_arena *a, gh_account *acc, const gh_user *u, char *hash, int64_t now) {
  memset(acc, 0, sizeof *acc);
  acc->id = gh_arena_alloc(a, 33);
  gh_rand_id(acc->id, 32);
  acc->account_id = u->id;
  acc->provider_id = "credential";
  acc->user_id = u->id;
  acc->password = hash;
  acc->created_at = acc->updated_at = now;
}
