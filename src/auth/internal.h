/* Internal to src/auth: the gh_auth structure, the registry's hook calls and the core route
 * handlers. Plugins never include this: they see auth/plugin.h and the module headers. */
#ifndef GH_AUTH_INTERNAL_H
#define GH_AUTH_INTERNAL_H

#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/cors.h"
#include "auth/credentials.h"
#include "auth/db.h"
#include "auth/fields.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/throttle.h"
#include "auth/validate.h"
#include "common/errors.h"
#include "crypto/aead.h"
#include "json/json.h"
#include "store/store.h"

/* One running plugin. */
typedef struct {
  const gh_plugin *p;
  void *self;
} gh_plugin_run;

/* A served route: the handler and the state it receives (gh_auth for the core's, the plugin's
 * self for a plugin's). The http route table points at these. */
typedef struct {
  gh_auth *au;
  gh_handler fn;
  void *self;
  const char *path; /* the route's declared path (gh_req.route) */
} gh_route_target;

struct gh_auth {
  char *secret;
  char *base_url;
  char *base_origin;
  bool secure;
  char *ck_session, *ck_data, *ck_dont_remember; /* full cookie names */
  const char *cookie_attrs;                      /* "; Path=/; HttpOnly[; Secure]; SameSite=Lax" */
  gh_origins origins;
  gh_auth_config cfg;
  /* Secrets: signing = the newest; verify_secrets (signing first) also accept older ones. */
  char **verify_secrets;
  size_t nverify_secrets;
  gh_secret_version *versions; /* owned copies of cfg->secrets */
  gh_secrets secrets;          /* symmetric encryption (jwks private keys) */
  /* plugins, in GATEHOUSE_PLUGINS order, and the served route table */
  gh_plugin_run *plugins;
  size_t nplugins;
  bool has_route_hooks; /* some plugin has before_route/after_route */
  gh_route *routes;
  gh_route_target *targets;
  size_t nroutes;
  gh_rate_rule *rate_rules; /* every selected plugin's, collected before their init */
  size_t nrate_rules;
  gh_store_fields *fields; /* the plugins' additional user/session fields (installed) */
  gh_throttle *throttle;   /* NULL when off */
  void (*runtime_fn)(void *arg, gh_runtime_stats *out);
  void *runtime_arg;
};

/* Store errors answered by gh_auth_db_error since start. */
long gh_auth_db_error_count(void);

/* --- the registry (auth/registry.c) */
/* Starts every plugin of the set, checks their wire codes, builds the route table. */
GH_MUST_CHECK gh_status gh_registry_start(gh_auth *au, const gh_plugin_set *ps);
void gh_registry_stop(gh_auth *au);
/* Hook calls, in plugin order. */
GH_MUST_CHECK gh_status gh_hook_credential(gh_auth *au, gh_req *req, gh_credential *out);
/* The sign_in gate: false = a plugin answered (refused or challenged) and no session is made. */
GH_MUST_CHECK bool gh_hook_sign_in(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                   const gh_sign_in *si);
void gh_hook_session_created(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                             const gh_session *s, const gh_user *u);
void gh_hook_session_returned(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                              const gh_sess *s);
/* false when a plugin refused a new session for u (resp set). */
bool gh_hook_session_creating(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                              const gh_user *u);
/* false when a plugin keeps this session from being extended by the rolling refresh. */
bool gh_hook_session_refresh(gh_auth *au, const gh_sess *s);
void gh_hook_session_revoked(gh_auth *au, gh_store *st, const char *user_id, const char *token,
                             const char *except);
void gh_hook_audited(gh_auth *au, gh_req *req, const gh_audit_event *ev);
void gh_hook_user_created(gh_auth *au, gh_store *st, const gh_user *u);
void gh_hook_sign_up(gh_auth *au, gh_store *st, gh_req *req, const gh_user *u, bool created,
                     const char *callback);
void gh_hook_user_deleted(gh_auth *au, gh_store *st, const char *user_id);

/* --- core route handlers (app = the gh_auth) */
void gh_route_sign_up(void *app, gh_req *req, gh_resp *resp);
void gh_route_sign_in(void *app, gh_req *req, gh_resp *resp);
void gh_route_sign_out(void *app, gh_req *req, gh_resp *resp);
void gh_route_get_session(void *app, gh_req *req, gh_resp *resp);
void gh_route_get_session_post(void *app, gh_req *req, gh_resp *resp);
void gh_route_list_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_session(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_other_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_list_accounts(void *app, gh_req *req, gh_resp *resp);
void gh_route_unlink_account(void *app, gh_req *req, gh_resp *resp);
void gh_route_update_user(void *app, gh_req *req, gh_resp *resp);
void gh_route_update_session(void *app, gh_req *req, gh_resp *resp);
void gh_route_delete_user(void *app, gh_req *req, gh_resp *resp);
void gh_route_change_password(void *app, gh_req *req, gh_resp *resp);
void gh_route_verify_password(void *app, gh_req *req, gh_resp *resp);
void gh_route_ok(void *app, gh_req *req, gh_resp *resp);
void gh_route_health_live(void *app, gh_req *req, gh_resp *resp);
void gh_route_health_ready(void *app, gh_req *req, gh_resp *resp);
/* The core's route table (static storage). */
const gh_route *gh_core_routes(size_t *n);

#endif
