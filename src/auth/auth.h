/* better-auth compatible core routes (email/password, DB sessions) under basePath /api/auth.
 * Knows nothing of MHD: it sees gh_req/gh_resp and the store. */
#ifndef GH_AUTH_AUTH_H
#define GH_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "http/http.h"
#include "http/origin.h"
#include "store/store.h"

typedef struct {
  const char *secret;
  const char *base_url;        /* e.g. http://localhost:3000 (no trailing slash) */
  const char *trusted_origins; /* comma list, may be NULL */
  bool production;
  int64_t expires_in; /* s, default 604800 */
  int64_t update_age; /* s, default 86400 */
  int64_t fresh_age;  /* s, default 86400; 0 disables */
  int min_password;   /* 8 */
  int max_password;   /* 128 */
  bool delete_user_enabled;
  /* Versioned secrets (GATEHOUSE_SECRETS), newest first; NULL/0 when not configured. The newest
   * signs cookies and encrypts; the others (and secret, when set) still verify and decrypt. */
  const unsigned *secret_versions;
  const char *const *secret_values;
  size_t nsecret_versions;
  /* jwt plugin */
  const char *jwt_alg;      /* "EdDSA" ... */
  int64_t jwt_expires_in;   /* s */
  const char *jwt_issuer;   /* NULL/"" = base origin */
  const char *jwt_audience; /* NULL/"" = base origin */
  bool jwt_header;
  int64_t jwks_rotation; /* s */
  int64_t jwks_grace;    /* s */
  int64_t jwks_max_age;  /* s */
} gh_auth_config;

typedef struct gh_auth gh_auth;

GH_MUST_CHECK gh_status gh_auth_new(const gh_auth_config *cfg, gh_auth **out);
void gh_auth_free(gh_auth *a);
/* jwt plugin keys (CLI): a new signing key, retiring the current ones; the published JWKS. */
GH_MUST_CHECK gh_status gh_auth_keys_rotate(gh_auth *a, gh_store *st, gh_arena *ar, char **kid);
GH_MUST_CHECK gh_status gh_auth_keys_jwks(gh_auth *a, gh_store *st, gh_arena *ar, char **json);
/* The route table (static storage); handlers take the gh_auth as their app pointer. */
const gh_route *gh_auth_routes(size_t *n);

#endif
