/* The plugin descriptor: everything a feature beyond the core routes brings (bearer, jwt, and
 * next api-key, admin, two-factor, ...), as one table of data and function pointers in the style
 * of curl's protocol handlers and nginx modules. The core (auth/, server/) never includes a
 * plugin's header: src/plugins/plugins.c lists the built-in descriptors, GATEHOUSE_PLUGINS picks
 * which run, and the registry (auth/registry.c) loads their options, applies their migrations,
 * serves their routes and calls their hooks in the order the deployer listed them.
 *
 * A plugin's handlers and hooks receive its own state (`self`, made by init), never the whole
 * gh_auth; what a plugin may use of the core is declared here and in the auth/ module headers
 * (validate.h, sessions.h, shapes.h, db.h, cookies.h, credentials.h, origin_check.h). */
#ifndef GH_AUTH_PLUGIN_H
#define GH_AUTH_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/envconf.h"
#include "common/errors.h"
#include "common/status.h"
#include "crypto/aead.h"
#include "http/http.h"
#include "store/store.h"

typedef struct gh_auth gh_auth;
typedef struct gh_sess gh_sess;

/* What a credential hook found in a request: either the session token it carries (signature
 * already verified), looked up like the session cookie (bearer), or an identity it resolved itself
 * (an API key: resolved = true with the session and user to use for this request, strings on the
 * request arena; nothing is looked up, refreshed or re-issued for it). */
typedef struct {
  const char *token; /* on the request arena; NULL = this plugin found none */
  bool stale;        /* signed with an older secret: the session cookie is re-issued */
  bool resolved;     /* session and user below are the request's identity */
  gh_session session;
  gh_user user;
  /* With resolved: what get-session answers for this identity instead of the core's
   * {"session","user"} (JSON text on the request arena), as better-auth's api-key before-hook
   * answers it; NULL = the core's shape. */
  const char *answer;
  /* A refusal instead of an identity (a key that is expired, disabled, over its limit, or shown
   * where it is not accepted): every route that resolves the session answers it. The body is the
   * error's {message, code}, or refuse_body (JSON text on the request arena) when set. */
  const gh_err_info *refuse;
  const char *refuse_body;
} gh_credential;

/* A revocation, for session_revoked: one session (token), all of a user's sessions (token NULL),
 * or all but one (except). */
typedef struct {
  const char *user_id; /* NULL when unknown (an expired session deleted by token) */
  const char *token;
  const char *except;
} gh_revocation;

/* Who is about to get a session, for the sign_in gate. */
typedef struct {
  const gh_user *user;
  const char *method;   /* "email" (POST /sign-in/email), or the OAuth provider id */
  bool dont_remember;   /* rememberMe: false */
  const char *callback; /* the request's callbackURL (validated), or NULL */
  /* The caller answers with a redirect (the OAuth callback, a browser navigation): a gate that
   * answers a challenge instead of a session answers it as a 302 (with its cookies), and
   * callback is where the browser goes once the challenge is met. Refusals (status >= 400) are
   * turned into the caller's error redirect. */
  bool redirect_flow;
} gh_sign_in;

/* A security event, as its audit line logs it (auth/audit.h). Strings live for the call. */
typedef struct {
  const char *event;   /* "sign_in.failure", "sign_up", ... */
  const char *user_id; /* NULL when unknown */
  const char *ip;      /* better-auth's view of the client's IP */
  const char *client;  /* the address the limits use */
  const char *user_agent;
  const char *k1, *v1, *k2, *v2; /* up to two more fields (k NULL: none) */
  int64_t at_ms;
} gh_audit_event;

/* A command of the gatehouse CLI that a plugin adds (`gatehouse keys rotate`). It runs with the
 * plugin initialised and a migrated database; returns the process exit code. */
typedef struct {
  const char *name;  /* "keys" */
  const char *usage; /* lines for `gatehouse help`, each "  keys rotate   what it does\n" */
  int (*run)(void *self, gh_store *st, int argc, char **argv);
} gh_plugin_command;

/* A rate-limit rule a plugin brings (better-auth plugins' rateLimit entries): paths under
 * /api/auth starting with path get max requests per window seconds (max 0: not limited). The
 * rate limiter applies it only while the plugin runs, after GATEHOUSE_RATE_LIMIT_RULES and before
 * its built-in rules. */
typedef struct {
  const char *path; /* prefix, e.g. "/two-factor/" */
  long window;      /* seconds */
  long max;         /* 0: the path is not limited (forward-auth, in front of every request) */
} gh_rate_rule;

typedef struct gh_plugin {
  const char *id;      /* better-auth's plugin id: "bearer", "jwt", "api-key", ... */
  const char *summary; /* one line: what it adds (README, `gatehouse plugins`) */
  /* Runs whatever GATEHOUSE_PLUGINS says (before the listed ones), with its own on/off option:
   * for what better-auth has in its core rather than as a plugin (the rate limiter), and for
   * gatehouse's own additions that are on by default (metrics, forward-auth). Such an id cannot
   * be listed in GATEHOUSE_PLUGINS. */
  bool always;

  /* Its own environment options (envconf), loaded into a zeroed struct of conf_size bytes, printed
   * by check-config and config-table after the core's. validate (optional) checks the loaded
   * struct: GH_ERR_CONFIG with *err (static text) stops the server at start. */
  const gh_conf_opt *opts;
  size_t nopts;
  size_t conf_size;
  gh_status (*validate)(const void *conf, const char **err);

  /* State: init runs once per server (after the core is set up); free at shutdown. */
  gh_status (*init)(gh_auth *au, const void *conf, void **self);
  void (*free)(void *self);
  /* While the server serves (never for CLI commands): what a plugin runs of its own — a listener,
   * a background thread. serve_start runs once the server listens (an error stops the start);
   * serve_stop when it has stopped serving requests, in reverse order, before free. */
  gh_status (*serve_start)(void *self);
  void (*serve_stop)(void *self);

  /* Its routes; handlers receive self as their first argument. */
  const gh_route *routes;
  size_t nroutes;
  /* Its wire errors (codes not used by the core or another plugin; checked at start). */
  const gh_err_info *errors;
  size_t nerrors;
  /* Its tables: applied by `gatehouse migrate` after the core's, in GATEHOUSE_PLUGINS order. Each
   * name is recorded as given in "gatehouse_migrations"; prefix it with the plugin id. */
  const gh_store_migration *migrations;
  size_t nmigrations;
  /* Whether its tables are wanted with these options (NULL: always): the rate limiter's table
   * only for GATEHOUSE_RATE_LIMIT_STORAGE=database. */
  bool (*wants_migrations)(const void *conf);
  /* Its additional columns of the user and session tables (better-auth's plugin schema fields,
   * e.g. admin's role): added by its migrations, read and written by the store's entity queries,
   * returned in every user / session object after the core fields (in GATEHOUSE_PLUGINS order),
   * and parsed from sign-up, update-user and update-session bodies as better-auth does
   * (auth/fields.h). A name taken by the core or another plugin stops the server at start. */
  const gh_field *user_fields;
  size_t nuser_fields;
  const gh_field *session_fields;
  size_t nsession_fields;
  /* Its CLI commands. */
  const gh_plugin_command *commands;
  size_t ncommands;
  /* Its rate-limit rules (see gh_rate_rule). */
  const gh_rate_rule *rate_rules;
  size_t nrate_rules;

  /* --- hooks, each optional, called in GATEHOUSE_PLUGINS order ----------------------------- */
  /* Credential extraction, before the session cookie is read: the first plugin that fills
   * out->token, sets out->resolved or out->refuse wins. An error status is answered as a database
   * error (503). */
  gh_status (*credential)(void *self, gh_req *req, gh_credential *out);
  /* Before every route handler (rate limiting, metrics): false = the hook answered (resp set) and
   * the handler does not run. */
  bool (*before_route)(void *self, gh_req *req, gh_resp *resp);
  /* After every route handler, on the final response (bearer's set-auth-token). */
  void (*after_route)(void *self, gh_req *req, gh_resp *resp);
  /* A sign-in whose credentials were verified, before its session is created (ban checks, e-mail
   * verification, two-factor): false = the hook answered (resp set: a refusal, or a challenge
   * such as two-factor's) and no session is created; the remaining plugins are not asked. */
  bool (*sign_in)(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_sign_in *si);
  /* A sign-up with e-mail and password was answered: created = a new user (u, committed) whose
   * response may or may not have signed in; !created = the e-mail was taken and, enumeration
   * protection being on, the response was a synthetic user: u is the existing owner (better-auth's
   * emailVerification.sendOnSignUp and emailAndPassword.onExistingUserSignUp). callback = the
   * request's callbackURL (validated) or NULL. */
  void (*sign_up)(void *self, gh_store *st, gh_req *req, const gh_user *u, bool created,
                  const char *callback);
  /* A session was created (sign-up, sign-in, change-password with revocation) and its cookie set.
   */
  void (*session_created)(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_session *s,
                          const gh_user *u);
  /* A session for u is about to be created by gh_session_create (sign-in, after two-factor, after
   * e-mail verification, ...: better-auth's session create "before" database hook): false =
   * refused, resp set (admin: 403 BANNED_USER); no session is made. */
  bool (*session_creating)(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_user *u);
  /* The rolling refresh is due for this session: false keeps its expiresAt as it is (admin: an
   * impersonation session ends when it was meant to, whatever cookies the client keeps). */
  bool (*session_refresh)(void *self, const gh_sess *s);
  /* get-session is about to return this session to the client (set-auth-jwt). */
  void (*session_returned)(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_sess *s);
  /* Sessions were deleted (sign-out, revoke-*, expiry, a password change that revokes). */
  void (*session_revoked)(void *self, gh_store *st, const gh_revocation *r);
  /* A security event was logged (metrics count them, the audit table stores them). */
  void (*audited)(void *self, gh_req *req, const gh_audit_event *ev);
  /* A user was created (sign-up) / deleted (delete-user). */
  void (*user_created)(void *self, gh_store *st, const gh_user *u);
  void (*user_deleted)(void *self, gh_store *st, const char *user_id);
} gh_plugin;

/* --- the set of plugins a server runs (GATEHOUSE_PLUGINS) ----------------------------------- */

typedef struct gh_plugin_set gh_plugin_set;

/* Picks the plugins named in ids (comma list of plugin ids, spaces allowed; "none" = no plugin)
 * out of the available ones, in the order given, after every available plugin marked always, and
 * loads and validates each one's options from the environment. GH_ERR_CONFIG with a message in err
 * (naming the unknown id or the variable) on an unknown or repeated id or an invalid option. */
GH_MUST_CHECK gh_status gh_plugin_set_new(const gh_plugin *const *available, size_t navailable,
                                          const char *ids, gh_plugin_set **out, char *err,
                                          size_t errlen);
void gh_plugin_set_free(gh_plugin_set *ps);
size_t gh_plugin_set_count(const gh_plugin_set *ps);
const gh_plugin *gh_plugin_set_at(const gh_plugin_set *ps, size_t i);
/* "jwt,bearer" style list of the ids named in GATEHOUSE_PLUGINS ("none" when none). */
const char *gh_plugin_set_ids(const gh_plugin_set *ps);
/* check-config lines of every selected plugin's options (secrets masked). */
void gh_plugin_set_print_config(const gh_plugin_set *ps, FILE *out);
/* The migrations of every selected plugin, in order (array owned by the set). */
const gh_store_migration *gh_plugin_set_migrations(const gh_plugin_set *ps, size_t *n);
/* The plugin command named name, or NULL; *self receives the plugin's state (after gh_auth_new). */
const gh_plugin_command *gh_plugin_set_command(const gh_auth *au, const char *name, void **self);
/* Markdown: for every available plugin, a heading line and its options' table. */
void gh_plugins_print_table(const gh_plugin *const *available, size_t n, FILE *out);

/* --- what plugins may use of the core -------------------------------------------------------- */

const char *gh_auth_base_origin(const gh_auth *au);
/* The client's address for limits and logs (the peer, or what trusted proxies say). */
const char *gh_auth_client_address(const gh_auth *au, gh_req *req);
/* What the server around the core reports for metrics (see gh_auth_set_runtime). */
typedef struct {
  int hash_queued, hash_running; /* password-hashing pool */
  gh_http_stats http;
  long db_errors; /* store errors answered 503/500 since start */
} gh_runtime_stats;
/* false when the server has not said (unit tests, CLI commands). */
bool gh_auth_runtime_stats(const gh_auth *au, gh_runtime_stats *out);
/* The base URL (scheme://host[:port], no trailing slash); links are <base URL>/api/auth/... */
const char *gh_auth_base_url(const gh_auth *au);
/* emailAndPassword.requireEmailVerification / autoSignIn (core options). */
bool gh_auth_require_email_verification(const gh_auth *au);
bool gh_auth_auto_sign_in(const gh_auth *au);
/* The signing secret (HS256 e-mail tokens, as better-auth: the current secret only). */
const char *gh_auth_signing_secret(const gh_auth *au);
/* GATEHOUSE_ENV=production (better-auth's NODE_ENV=production defaults). */
bool gh_auth_production(const gh_auth *au);
/* Symmetric encryption with the server secret(s) (better-auth's symmetricEncrypt). */
const gh_secrets *gh_auth_secrets(const gh_auth *au);
/* Every secret that verifies signed cookies, the signing one first. */
const char *const *gh_auth_verify_secrets(const gh_auth *au, size_t *n);
/* The full name of the session cookie ("better-auth.session_token" or "__Secure-..."). */
const char *gh_auth_session_cookie(const gh_auth *au);
/* For a plugin that signs users in itself (OAuth): runs the sign_in gate of every plugin (false:
 * a plugin refused or answered; resp is set), as e-mail sign-in does before its session. */
GH_MUST_CHECK bool gh_auth_sign_in_gate(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                        const gh_sign_in *si);
/* For a plugin that creates users itself (OAuth sign-up): runs the user_created hooks. */
void gh_auth_user_created(gh_auth *au, gh_store *st, const gh_user *u);
/* For a plugin that deletes users itself (admin's remove-user): runs the user_deleted hooks. */
void gh_auth_user_deleted(gh_auth *au, gh_store *st, const char *user_id);
/* For a plugin that deletes sessions itself (admin's revoke and ban, two-factor's rotation): runs
 * the session_revoked hooks, after the deletion has committed — one session (token; user_id may be
 * NULL), or all of user_id's sessions (token NULL) but except. */
void gh_auth_sessions_revoked(gh_auth *au, gh_store *st, const char *user_id, const char *token,
                              const char *except);
/* The rate-limit rules of every running plugin, in GATEHOUSE_PLUGINS order (known from the start
 * of the registry, so the rate limiter's init may read them). */
const gh_rate_rule *gh_auth_rate_rules(const gh_auth *au, size_t *n);
/* The value a new row's additional field gets when none is given (better-auth's create "before"
 * database hook, e.g. admin's defaultRole), instead of the field's def; for init. */
GH_MUST_CHECK gh_status gh_auth_set_insert_default(gh_auth *au, gh_model m, const char *name,
                                                   const char *value);
/* Answers a plugin's wire error. */
void gh_auth_error(gh_resp *resp, const gh_err_info *e);
/* Runs every plugin's session_returned hook on resp, as get-session does before it answers: a
 * route that hands a session's identity on (forward-auth) gets jwt's set-auth-jwt this way. */
void gh_auth_session_returned(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                              const gh_sess *s);

#endif
