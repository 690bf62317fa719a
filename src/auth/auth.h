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
} gh_auth_config;

typedef struct gh_auth gh_auth;

GH_MUST_CHECK gh_status gh_auth_new(const gh_auth_config *cfg, gh_auth **out);
void gh_auth_free(gh_auth *a);
/* The route table (static storage); handlers take the gh_auth as their app pointer. */
const gh_route *gh_auth_routes(size_t *n);

#endif
