/* Storage interface: better-auth's tables (user, session, account, verification, ...) behind one
 * API with a SQLite and a PostgreSQL implementation. A gh_store is ONE connection and is not
 * thread-safe: each thread owns its own (gh_store_thread()). The store knows nothing of HTTP.
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

typedef struct {
  char *id;
  char *name;
  char *email; /* stored lower-cased */
  bool email_verified;
  char *image; /* nullable */
  int64_t created_at, updated_at;
} gh_user;

typedef struct {
  char *id;
  char *token;
  char *user_id;
  int64_t expires_at, created_at, updated_at;
  char *ip_address; /* nullable */
  char *user_agent; /* nullable */
} gh_session;

typedef struct {
  char *id;
  char *account_id;  /* credential account: = user id */
  char *provider_id; /* "credential" */
  char *user_id;
  char *password; /* nullable; "salt:hash" */
  int64_t created_at, updated_at;
} gh_account;

/* Fills u with a fresh 32-char id, the given values (borrowed) and createdAt = updatedAt = now. */
void gh_user_init(gh_arena *a, gh_user *u, const char *name, const char *email, const char *image,
                  int64_t now);
/* Fills acc as u's credential account: fresh id, providerId "credential", accountId = user id,
 * password = hash (borrowed). */
void gh_credential_init(gh_arena *a, gh_account *acc, const gh_user *u, char *hash, int64_t now);

/* A row of the jwt plugin's "jwks" table. privateKey is stored as better-auth stores it: the
 * JSON-quoted symmetric ciphertext of the private JWK. crv is NULL for RSA. */
typedef struct {
  char *id;
  char *public_key;  /* public JWK JSON (no alg/kid) */
  char *private_key; /* "\"<ciphertext>\"" */
  char *alg;         /* nullable in better-auth's schema */
  char *crv;         /* nullable */
  int64_t created_at;
  bool has_expiry;
  int64_t expires_at; /* when has_expiry */
} gh_jwks_row;

/* A migration of a plugin (or an app): its name as recorded in "gatehouse_migrations" and its SQL
 * for each backend. */
typedef struct {
  const char *name;
  const char *sqlite;
  const char *postgres;
} gh_store_migration;

typedef struct gh_store gh_store;

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

/* Applies pending migrations (each in its own transaction, recorded in "gatehouse_migrations").
 * Works on an empty database and on one created by better-auth (CREATE ... IF NOT EXISTS).
 * *applied (optional) receives the number applied. */
GH_MUST_CHECK gh_status gh_store_migrate(gh_store *s, int *applied);
/* GH_OK when every embedded migration is applied, GH_ERR_SCHEMA otherwise. */
GH_MUST_CHECK gh_status gh_store_check_schema(gh_store *s);
/* Cheap liveness check (SELECT 1). */
GH_MUST_CHECK gh_status gh_store_ping(gh_store *s);

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
/* --- jwks (jwt plugin keys) ----------------------------------------------------------------- */
/* Every row, ordered by createdAt (oldest first). */
GH_MUST_CHECK gh_status gh_store_jwks_list(gh_store *s, gh_arena *a, gh_jwks_row **out, size_t *n);
/* In one transaction: when retire_at > 0, sets expiresAt = retire_at on every key that has no
 * expiry or a later one (rotation), then inserts row. */
GH_MUST_CHECK gh_status gh_store_jwks_insert(gh_store *s, const gh_jwks_row *row,
                                             int64_t retire_at);

/* Deletes sessions with expiresAt <= now (housekeeping). *deleted optional. */
GH_MUST_CHECK gh_status gh_store_purge_expired(gh_store *s, int64_t now, long *deleted);

#endif
