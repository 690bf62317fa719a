/* better-auth compatible core routes (email/password, DB sessions) under basePath /api/auth, with
 * the plugins of a gh_plugin_set (auth/plugin.h). Knows nothing of MHD: it sees gh_req/gh_resp
 * and the store. */
#ifndef GH_AUTH_AUTH_H
#define GH_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth/plugin.h"
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
  bool require_email_verification; /* emailAndPassword.requireEmailVerification */
  bool auto_sign_in_off;           /* emailAndPassword.autoSignIn: false */
  bool cors;            /* CORS headers and preflights for trusted origins (auth/cors.h) */
  bool signin_throttle; /* credential-stuffing throttle on sign-in (auth/throttle.h) */
  const gh_cidr_list *trusted_proxies; /* may be NULL; must outlive the gh_auth */
  const char *ip_header;               /* where trusted proxies name the client */
  /* Versioned secrets (GATEHOUSE_SECRETS), newest first; NULL/0 when not configured. The newest
   * signs cookies and encrypts; the others (and secret, when set) still verify and decrypt. */
  const unsigned *secret_versions;
  const char *const *secret_values;
  size_t nsecret_versions;
} gh_auth_config;

/* Sets up the core and starts every plugin of ps (NULL: none), which must outlive the gh_auth.
 * GH_ERR_CONFIG on an invalid base URL or secret, or when a plugin does not start (logged). */
GH_MUST_CHECK gh_status gh_auth_new(const gh_auth_config *cfg, const gh_plugin_set *ps,
                                    gh_auth **out);
void gh_auth_free(gh_auth *a);
/* The server's reporter for gh_auth_runtime_stats (metrics): fn fills the pool's and the HTTP
 * layer's counters; call before serving. */
void gh_auth_set_runtime(gh_auth *a, void (*fn)(void *arg, gh_runtime_stats *out), void *arg);
/* The route table to serve: the core's and every plugin's (owned by the gh_auth). Handlers get
 * their own state through gh_route.arg. */
const gh_route *gh_auth_routes(const gh_auth *a, size_t *n);
/* The plugins' serve_start (once the server listens; an error = do not serve) and serve_stop
 * (after the last request, before gh_auth_free). */
GH_MUST_CHECK gh_status gh_auth_serve_start(gh_auth *a);
void gh_auth_serve_stop(gh_auth *a);

#endif
