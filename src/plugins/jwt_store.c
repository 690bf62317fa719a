/* The jwt plugin's "jwks" table over the generic runner (see jwt_store.h). */
#include "plugins/jwt_store.h"

#include <string.h>

#define JWKS_COLS                                                                                  \
  "\"id\", \"publicKey\", \"privateKey\", \"createdAt\", \"expiresAt\", \"alg\", \"crv\""

/* SQLite orders in C on the parsed createdAt (text order is not reliable across date forms). */
static const gh_query Q_LIST = {"jwks_list", "select " JWKS_COLS " from \"jwks\"",
                                "select " JWKS_COLS " from \"jwks\" order by \"createdAt\"",
                                "tttdDtt"};
static const gh_query Q_INSERT = {
    "jwks_insert", "insert into \"jwks\" (" JWKS_COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "insert into \"jwks\" (" JWKS_COLS ") values ($1, $2, $3, $4, $5, $6, $7)", NULL};
static const gh_query Q_RETIRE = {
    "jwks_retire",
    "update \"jwks\" set \"expiresAt\" = ?1 where \"expiresAt\" is null or \"expiresAt\" > ?1",
    "update \"jwks\" set \"expiresAt\" = $1 where \"expiresAt\" is null or \"expiresAt\" > $1",
    NULL};

gh_status gh_jwt_store_list(gh_store *s, gh_arena *a, gh_jwks_row **out, size_t *n) {
  if (!s || !a || !out || !n) return GH_ERR_INVALID;
  *out = NULL;
  *n = 0;
  gh_rows r;
  gh_status status = gh_store_query(s, a, &Q_LIST, &r, "");
  if (status) return status;
  gh_jwks_row *v = r.n ? gh_arena_alloc(a, r.n * sizeof *v) : NULL;
  for (size_t i = 0; i < r.n; i++) {
    const gh_cell *c = gh_rows_at(&r, i);
    gh_jwks_row x = {
        .id = c[0].text,
        .public_key = c[1].text,
        .private_key = c[2].text,
        .created_at = c[3].num,
        .has_expiry = !c[4].null,
        .expires_at = c[4].null ? 0 : c[4].num,
        .alg = c[5].text,
        .crv = c[6].text,
    };
    if (!x.id || !x.public_key || !x.private_key) return GH_ERR_DB;
    size_t j = i;
    while (j > 0 && v[j - 1].created_at > x.created_at) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
  *out = v;
  *n = r.n;
  return GH_OK;
}

gh_status gh_jwt_store_insert(gh_store *s, const gh_jwks_row *row, int64_t retire_at) {
  if (!s || !row || !row->id || !row->public_key || !row->private_key) return GH_ERR_INVALID;
  gh_status status = gh_store_begin(s);
  if (status) return status;
  if (retire_at > 0) {
    status = gh_store_exec(s, &Q_RETIRE, NULL, "d", retire_at);
    if (status) goto done;
  }
  status =
      gh_store_exec(s, &Q_INSERT, NULL, "tttdDtt", row->id, row->public_key, row->private_key,
                    row->created_at, row->has_expiry ? &row->expires_at : NULL, row->alg, row->crv);
done:
  return gh_store_end(s, status);
}
