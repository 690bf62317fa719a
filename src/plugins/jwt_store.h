/* The jwt plugin's "jwks" table (better-auth's schema), over the store's generic query runner. */
#ifndef GH_PLUGINS_JWT_STORE_H
#define GH_PLUGINS_JWT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"
#include "store/store.h"

/* A row of the "jwks" table. privateKey is stored as better-auth stores it: the JSON-quoted
 * symmetric ciphertext of the private JWK. crv is NULL for RSA. */
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

/* Every row, ordered by createdAt (oldest first; stable), on a. */
GH_MUST_CHECK gh_status gh_jwt_store_list(gh_store *s, gh_arena *a, gh_jwks_row **out, size_t *n);
/* In one transaction: when retire_at > 0, sets expiresAt = retire_at on every key that has no
 * expiry or a later one (rotation), then inserts row. GH_ERR_CONFLICT when its id exists. */
GH_MUST_CHECK gh_status gh_jwt_store_insert(gh_store *s, const gh_jwks_row *row, int64_t retire_at);

#endif
