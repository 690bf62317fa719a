/* Shared by the auth/ route files and plugins/: config, validation, cookies, session lookup. */
#ifndef GH_AUTH_INTERNAL_H
#define GH_AUTH_INTERNAL_H

#include "auth/auth.h"
#include "crypto/aead.h"
#include "common/errors.h"
#include "json/json.h"
#include "store/store.h"

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
  struct gh_jwt *jwt;
};

/* --- body validation, zod-style messages ("[body.name] Invalid input: expected string, ...") */
typedef struct {
  gh_arena *a;
  char *msg; /* issues joined by "; " */
} gh_vctx;

void gh_v_issue(gh_vctx *v, const char *path, const char *text);
/* The body must be a JSON object. kind is zod's name for the schema: "object" or "record". */
bool gh_v_object(gh_vctx *v, const gh_json *body, const char *kind);
/* Returns the string (NULL when absent/null and optional, or on an issue). nullable: null ok. */
const char *gh_v_string(gh_vctx *v, const gh_json *body, const char *field, bool required,
                        bool nullable, bool *present);
/* Like gh_v_string but NUL characters are allowed (passwords): *len receives the byte length. */
const char *gh_v_string_n(gh_vctx *v, const gh_json *body, const char *field, bool required,
                          size_t *len);
/* Optional boolean: returns dflt when absent; records an issue for other types. */
bool gh_v_bool(gh_vctx *v, const gh_json *body, const char *field, bool dflt);
/* Answers 400 VALIDATION_ERROR when issues were recorded; returns true if it did. */
bool gh_v_fail(gh_vctx *v, gh_resp *resp);
bool gh_email_valid(const char *email);

/* --- store access: 503 on DB errors */
gh_store *gh_auth_store(gh_resp *resp);
/* Maps a store error to a response (503 / 500) and logs it. */
void gh_auth_db_error(gh_resp *resp, gh_status st, const char *what);

/* --- JSON shapes */
gh_json *gh_user_json(const gh_user *u);
gh_json *gh_session_json(const gh_session *s);

/* --- cookies */
void gh_set_session_cookie(gh_auth *au, gh_req *req, gh_resp *resp, const char *token,
                           bool dont_remember);
void gh_clear_session_cookies(gh_auth *au, gh_resp *resp);

/* --- sessions */
typedef struct {
  bool present;       /* a correctly signed session token came with the request */
  bool found;         /* it names a live session */
  bool dont_remember; /* valid dont_remember cookie present */
  bool stale;         /* signed with an older secret: re-issue with the current one */
  const char *token;
  gh_session s;
  gh_user u;
} gh_sess;

/* Reads the token (cookie or bearer), loads the session, deletes it if expired. GH_OK also when
 * there is no session (check ->found). */
GH_MUST_CHECK gh_status gh_session_resolve(gh_auth *au, gh_store *st, gh_req *req, gh_sess *out);
/* The "session" middleware: resolves, answers 401 (+ clearing cookies for a dead session) or a
 * DB error. true = continue with out->found set. */
bool gh_require_session(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, gh_sess *out);
/* Rolling refresh (spec §3 step 5): when expiresAt - expiresIn + updateAge <= now and no
 * dont_remember cookie, extends the session to now + expiresIn and re-sends the cookie. */
GH_MUST_CHECK gh_status gh_session_refresh_if_due(gh_auth *au, gh_store *st, gh_req *req,
                                                  gh_resp *resp, gh_sess *s);
/* Creates a session row for user (rememberMe semantics) and sets its cookie. */
GH_MUST_CHECK gh_status gh_session_create(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                          const gh_user *u, bool dont_remember, gh_session *out);
/* Fills a new session (ids, token, times, ip, user agent) without storing it. */
void gh_session_fill(gh_auth *au, gh_req *req, const char *user_id, bool dont_remember,
                     gh_session *s);

/* The preamble of every protected route: origin check (state-changing routes), the thread's store,
 * the session middleware. false = the response is already set. */
bool gh_protected(gh_auth *au, gh_req *req, gh_resp *resp, bool state_changing, gh_store **st,
                  gh_sess *s);
/* Checks password against the user's credential account (400 CREDENTIAL_ACCOUNT_NOT_FOUND /
 * 400 INVALID_PASSWORD / DB errors answered here). Slow: worker pool only. */
bool gh_check_credential(gh_store *st, gh_req *req, gh_resp *resp, const char *user_id,
                         const char *password, size_t len);
/* min/max length rule of a new password (UTF-16 units): answers 400 PASSWORD_TOO_SHORT/LONG. */
bool gh_check_new_password(gh_auth *au, gh_resp *resp, const char *password, size_t len);

/* --- origin / CSRF (spec §8.1). form_csrf: the sign-in/sign-up rules. true = allowed. */
bool gh_origin_check(gh_auth *au, gh_req *req, gh_resp *resp, bool form_csrf);

/* --- route handlers */
void gh_route_sign_up(void *app, gh_req *req, gh_resp *resp);
void gh_route_sign_in(void *app, gh_req *req, gh_resp *resp);
void gh_route_sign_out(void *app, gh_req *req, gh_resp *resp);
void gh_route_get_session(void *app, gh_req *req, gh_resp *resp);
void gh_route_get_session_post(void *app, gh_req *req, gh_resp *resp);
void gh_route_list_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_session(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_revoke_other_sessions(void *app, gh_req *req, gh_resp *resp);
void gh_route_update_user(void *app, gh_req *req, gh_resp *resp);
void gh_route_delete_user(void *app, gh_req *req, gh_resp *resp);
void gh_route_change_password(void *app, gh_req *req, gh_resp *resp);
void gh_route_verify_password(void *app, gh_req *req, gh_resp *resp);
void gh_route_ok(void *app, gh_req *req, gh_resp *resp);
/* jwt plugin (plugins/jwt.c) */
void gh_route_jwks(void *app, gh_req *req, gh_resp *resp);
void gh_route_token(void *app, gh_req *req, gh_resp *resp);
/* get-session's after-hook: set-auth-jwt + Access-Control-Expose-Headers (when enabled). */
void gh_jwt_session_header(gh_auth *au, gh_store *st, gh_resp *resp, const gh_sess *s);

#endif
