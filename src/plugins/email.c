/* E-mail verification, password reset and change of e-mail (better-auth's core options
 * emailVerification.*, emailAndPassword.sendResetPassword / requireEmailVerification,
 * user.changeEmail), delivered through the mail outbox (src/mail/). Runs always (like
 * better-auth's core): the routes answer as better-auth without a sender when GATEHOUSE_MAIL is
 * off. Wire facts: spec §1 rows, §6.1, §6.2. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/audit.h"
#include "auth/credentials.h"
#include "auth/db.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/validate.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/password.h"
#include "mail/mail.h"
#include "mail/message.h"
#include "plugins/email_token.h"
#include "plugins/plugins.h"

typedef struct {
  char *mode; /* auto | off | log | smtp */
  char *smtp_url, *smtp_user, *smtp_password, *smtp_ca, *from, *templates;
  long connect_timeout, timeout, max_attempts, retry_ms, poll_ms;
  long verify_expires, reset_expires;
  char *send_on_sign_up; /* auto | true | false */
  bool send_on_sign_in, auto_sign_in_after, revoke_on_reset, change_email, change_confirm;
  bool existing_mail, smtp_require_tls;
} conf;

#define O(f) offsetof(conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_MAIL", NULL, GH_CONF_STR, "auto", 0, 0, 0, O(mode),
     "How mail goes out: smtp, log (the message, link included, is written to the log: "
     "development), off (no mail: verification and reset answer as better-auth without a sender), "
     "or auto = smtp when GATEHOUSE_SMTP_URL is set, else log outside production, else off"},
    {"GATEHOUSE_SMTP_URL", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_DB_URL, O(smtp_url),
     "SMTP server: `smtp://host:port` (STARTTLS whenever the server offers it) or "
     "`smtps://host:port` (implicit TLS)"},
    {"GATEHOUSE_SMTP_USER", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET, O(smtp_user),
     "SMTP AUTH user (none: no AUTH)"},
    {"GATEHOUSE_SMTP_PASSWORD", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET, O(smtp_password),
     "SMTP AUTH password"},
    {"GATEHOUSE_SMTP_CA_FILE", NULL, GH_CONF_STR, "", 0, 0, 0, O(smtp_ca),
     "PEM file of the CA(s) that sign the SMTP server's certificate (STARTTLS or smtps); empty: "
     "the system's CA store"},
    {"GATEHOUSE_SMTP_REQUIRE_TLS", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(smtp_require_tls),
     "smtp://: deliver only inside STARTTLS (a server that does not offer it, or a stripped offer, "
     "fails and is retried) instead of falling back to plain text"},
    {"GATEHOUSE_MAIL_FROM", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(from),
     "From of every message (`Name <address>`); unset: `gatehouse <no-reply@HOST>`, HOST from "
     "the base URL"},
    {"GATEHOUSE_MAIL_TEMPLATES", NULL, GH_CONF_STR, "", 0, 0, 0, O(templates),
     "Directory of template overrides (NAME.subject, NAME.txt, NAME.html; see docs/operations.md); "
     "empty: the built-in templates"},
    {"GATEHOUSE_SMTP_CONNECT_TIMEOUT", NULL, GH_CONF_INT, "10", 1, 300, 0, O(connect_timeout),
     "Seconds to connect to the SMTP server"},
    {"GATEHOUSE_SMTP_TIMEOUT", NULL, GH_CONF_INT, "60", 1, 3600, 0, O(timeout),
     "Seconds one delivery may take in all"},
    {"GATEHOUSE_MAIL_MAX_ATTEMPTS", NULL, GH_CONF_INT, "8", 1, 100, 0, O(max_attempts),
     "Deliveries tried before a message is kept as failed"},
    {"GATEHOUSE_MAIL_RETRY_MS", NULL, GH_CONF_INT, "5000", 10, 3600000, 0, O(retry_ms),
     "Delay before the first retry; it doubles each time, at most 1 hour"},
    {"GATEHOUSE_MAIL_POLL_MS", NULL, GH_CONF_INT, "5000", 10, 3600000, 0, O(poll_ms),
     "How often the outbox is read besides the wake-ups (messages of other instances, retries)"},
    {"GATEHOUSE_EMAIL_VERIFICATION_EXPIRES_IN", NULL, GH_CONF_INT, "3600", 1, 31536000, 0,
     O(verify_expires), "Lifetime of an e-mail verification link in seconds"},
    {"GATEHOUSE_EMAIL_VERIFICATION_SEND_ON_SIGN_UP", NULL, GH_CONF_STR, "auto", 0, 0, 0,
     O(send_on_sign_up),
     "Send the verification mail on sign-up: true, false, or auto = "
     "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION (better-auth's sendOnSignUp)"},
    {"GATEHOUSE_EMAIL_VERIFICATION_SEND_ON_SIGN_IN", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     O(send_on_sign_in),
     "Send it again when an unverified user signs in and is refused (better-auth's sendOnSignIn)"},
    {"GATEHOUSE_AUTO_SIGN_IN_AFTER_VERIFICATION", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     O(auto_sign_in_after), "GET /verify-email signs the user in (sets the session cookie)"},
    {"GATEHOUSE_RESET_PASSWORD_EXPIRES_IN", NULL, GH_CONF_INT, "3600", 1, 31536000, 0,
     O(reset_expires), "Lifetime of a password reset link in seconds"},
    {"GATEHOUSE_REVOKE_SESSIONS_ON_PASSWORD_RESET", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     O(revoke_on_reset), "A password reset deletes all the user's sessions"},
    {"GATEHOUSE_CHANGE_EMAIL", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(change_email),
     "Enable POST /change-email (better-auth's user.changeEmail.enabled)"},
    {"GATEHOUSE_CHANGE_EMAIL_CONFIRMATION", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(change_confirm),
     "A verified user's change of e-mail is first confirmed from the old address "
     "(sendChangeEmailConfirmation), then the new one is verified"},
    {"GATEHOUSE_SIGN_UP_EXISTING_MAIL", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(existing_mail),
     "When a sign-up names a taken e-mail (and answers with a synthetic user), tell the owner by "
     "mail (better-auth's onExistingUserSignUp)"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

typedef struct {
  gh_auth *au;
  const conf *c;
  gh_mail_mode mode;
  bool send_on_sign_up;
} email;

#define MSG_RESET "If this email exists in our system, check your email for the reset link"

static gh_status validate(const void *cv, const char **err) {
  const conf *c = cv;
  if (strcmp(c->mode, "auto") && strcmp(c->mode, "off") && strcmp(c->mode, "log") &&
      strcmp(c->mode, "smtp")) {
    *err = "GATEHOUSE_MAIL: expected auto, smtp, log or off";
    return GH_ERR_CONFIG;
  }
  if (!strcmp(c->mode, "smtp") && !c->smtp_url) {
    *err = "GATEHOUSE_MAIL=smtp needs GATEHOUSE_SMTP_URL";
    return GH_ERR_CONFIG;
  }
  if (c->smtp_url && strncmp(c->smtp_url, "smtp://", 7) && strncmp(c->smtp_url, "smtps://", 8)) {
    *err = "GATEHOUSE_SMTP_URL: expected smtp://host:port or smtps://host:port";
    return GH_ERR_CONFIG;
  }
  if (strcmp(c->send_on_sign_up, "auto") && strcmp(c->send_on_sign_up, "true") &&
      strcmp(c->send_on_sign_up, "false")) {
    *err = "GATEHOUSE_EMAIL_VERIFICATION_SEND_ON_SIGN_UP: expected auto, true or false";
    return GH_ERR_CONFIG;
  }
  gh_arena *a = gh_arena_new();
  bool bad = c->from && !gh_mail_from_address(a, c->from);
  gh_arena_free(a);
  if (bad) {
    *err = "GATEHOUSE_MAIL_FROM: expected `Name <address>` or an address, without line breaks";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

static gh_status init(gh_auth *au, const void *cv, void **out) {
  const conf *c = cv;
  email *e = gh_xcalloc(1, sizeof *e);
  e->au = au;
  e->c = c;
  e->mode = !strcmp(c->mode, "smtp")  ? GH_MAIL_SMTP
            : !strcmp(c->mode, "log") ? GH_MAIL_LOG
            : !strcmp(c->mode, "off") ? GH_MAIL_OFF
            : c->smtp_url             ? GH_MAIL_SMTP
            : gh_auth_production(au)  ? GH_MAIL_OFF
                                      : GH_MAIL_LOG;
  e->send_on_sign_up = !strcmp(c->send_on_sign_up, "auto") ? gh_auth_require_email_verification(au)
                                                           : !strcmp(c->send_on_sign_up, "true");
  gh_arena *a = gh_arena_new();
  const char *from = c->from;
  if (!from) { /* gatehouse <no-reply@host of the base URL> */
    const char *base = gh_auth_base_url(au);
    const char *h = strstr(base, "://");
    h = h ? h + 3 : base;
    size_t n = strcspn(h, ":/");
    from = gh_arena_printf(a, "gatehouse <no-reply@%.*s>", (int)n, h);
  }
  gh_mail_config mc = {.mode = e->mode,
                       .smtp_url = c->smtp_url,
                       .smtp_user = c->smtp_user,
                       .smtp_password = c->smtp_password,
                       .smtp_ca_file = c->smtp_ca,
                       .smtp_require_tls = c->smtp_require_tls,
                       .from = from,
                       .templates_dir = c->templates,
                       .connect_timeout_ms = c->connect_timeout * 1000,
                       .timeout_ms = c->timeout * 1000,
                       .max_attempts = (int)c->max_attempts,
                       .retry_base_ms = c->retry_ms,
                       .retry_max_ms = 3600000,
                       .poll_ms = c->poll_ms};
  gh_status rc = gh_mail_start(&mc);
  gh_arena_free(a);
  if (rc) {
    gh_log(GH_LOG_ERROR, "mail.start_failed", "message",
           "GATEHOUSE_MAIL_FROM (or the base URL's host) is not a usable address", NULL);
    free(e);
    return GH_ERR_CONFIG;
  }
  if (e->mode == GH_MAIL_LOG && gh_auth_production(au))
    gh_log(GH_LOG_WARN, "mail.log_in_production", "message",
           "GATEHOUSE_MAIL=log writes every message, links and tokens included, to the log; set "
           "GATEHOUSE_SMTP_URL",
           NULL);
  *out = e;
  return GH_OK;
}

static gh_status serve_start(void *self) {
  (void)self;
  return gh_mail_deliver_start();
}

static void serve_stop(void *self) {
  (void)self;
  gh_mail_deliver_stop();
}

static void plugin_free(void *self) {
  gh_mail_stop();
  free(self);
}

/* --- helpers --------------------------------------------------------------------------------- */

static void answer(gh_resp *resp, int status, const char *code, const char *message) {
  gh_resp_error_msg(resp, status, code, message);
}

static void redirect(gh_resp *resp, const char *url) {
  resp->status = 302;
  resp->body = NULL;
  resp->body_len = 0;
  resp->content_type = "application/json";
  gh_resp_header(resp, "Location", url);
}

static const char *api_base(gh_arena *a, email *e) {
  return gh_arena_printf(a, "%s/api/auth", gh_auth_base_url(e->au));
}

static const char *duration(gh_arena *a, long s) {
  if (s % 3600 == 0) return gh_arena_printf(a, "%ld hour%s", s / 3600, s == 3600 ? "" : "s");
  if (s % 60 == 0) return gh_arena_printf(a, "%ld minute%s", s / 60, s == 60 ? "" : "s");
  return gh_arena_printf(a, "%ld second%s", s, s == 1 ? "" : "s");
}

/* Queues template for to on st, logging (never answering) a failure: a mail that cannot be
 * queued must not become a 500 for the user (better-auth runs the sender in the background). */
static bool queue(email *e, gh_store *st, gh_arena *a, const char *to, const char *tpl,
                  const gh_user *u, const char *url, const char *new_email, long expires) {
  gh_mail_var vars[] = {{"url", url},
                        {"name", u ? u->name : NULL},
                        {"email", to},
                        {"newEmail", new_email},
                        {"expiresIn", duration(a, expires)},
                        {"appName", "gatehouse"}};
  gh_status rc = gh_mail_queue(st, a, to, tpl, vars, sizeof vars / sizeof vars[0]);
  if (rc != GH_OK) {
    gh_log(GH_LOG_ERROR, "mail.queue_failed", "template", tpl, "user_id", u ? u->id : NULL, NULL);
    return false;
  }
  return true;
}

/* Signs a verification token for u and queues the verify-email message (outside a transaction:
 * the token is stateless). */
static void send_verification(email *e, gh_store *st, gh_req *req, const gh_user *u,
                              const char *callback) {
  gh_arena *a = req->arena;
  int64_t now = gh_now_ms() / 1000;
  char *token = gh_email_token_sign(a, gh_auth_signing_secret(e->au), u->email, NULL, NULL, u->id,
                                    now, e->c->verify_expires);
  const char *url =
      gh_arena_printf(a, "%s/verify-email?token=%s&callbackURL=%s", api_base(a, e), token,
                      gh_uri_encode_component(a, callback && *callback ? callback : "/"));
  if (queue(e, st, a, u->email, "verify-email", u, url, NULL, e->c->verify_expires)) {
    gh_mail_kick();
    gh_audit(e->au, req, "email_verification.sent", u->id, NULL, NULL, NULL, NULL);
  }
}

/* --- hooks ----------------------------------------------------------------------------------- */

static bool sign_in(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_sign_in *si) {
  email *e = self;
  if (!gh_auth_require_email_verification(e->au) || si->user->email_verified) return true;
  if (e->mode != GH_MAIL_OFF && e->c->send_on_sign_in)
    send_verification(e, st, req, si->user, si->callback);
  answer(resp, 403, "EMAIL_NOT_VERIFIED", "Email not verified");
  return false;
}

static void sign_up(void *self, gh_store *st, gh_req *req, const gh_user *u, bool created,
                    const char *callback) {
  email *e = self;
  if (e->mode == GH_MAIL_OFF) return;
  if (created) {
    if (e->send_on_sign_up) send_verification(e, st, req, u, callback);
    return;
  }
  if (!e->c->existing_mail) return;
  const char *url = gh_auth_base_url(e->au);
  if (queue(e, st, req->arena, u->email, "sign-up-existing", u, url, NULL, 0)) gh_mail_kick();
}

/* --- POST /send-verification-email ----------------------------------------------------------- */

static const char *body_email(gh_vctx *v, const gh_json *b, const char *field) {
  size_t len;
  const char *s = gh_v_string_n(v, b, field, true, &len);
  if (s && (strlen(s) != len || !gh_email_valid(s))) {
    gh_v_issue(v, gh_arena_printf(v->a, "body.%s", field), "Invalid email address");
    return NULL;
  }
  return s;
}

static void route_send_verification(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  const char *addr = body_email(&v, b, "email");
  const char *callback = gh_v_string(&v, b, "callbackURL", false, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!gh_origin_check(e->au, req, resp, false)) return;
  if (e->mode == GH_MAIL_OFF) {
    answer(resp, 400, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled");
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_sess s;
  if (gh_session_resolve(e->au, st, req, &s) != GH_OK) {
    gh_auth_db_error(resp, GH_ERR_DB, "session_resolve");
    return;
  }
  char *lower = gh_ascii_lower(a, addr);
  if (!s.found) {
    gh_user u;
    gh_status rc = gh_store_user_by_email(st, a, lower, &u);
    if (rc == GH_OK && !u.email_verified) {
      send_verification(e, st, req, &u, callback);
    } else if (rc == GH_OK || rc == GH_ERR_NOT_FOUND) { /* the same signing work */
      (void)gh_email_token_sign(a, gh_auth_signing_secret(e->au), lower, NULL, NULL, NULL,
                                gh_now_ms() / 1000, e->c->verify_expires);
    } else {
      gh_auth_db_error(resp, rc, "user_by_email");
      return;
    }
    gh_resp_raw_json(resp, 200, "{\"status\":true}");
    return;
  }
  if (strcmp(gh_ascii_lower(a, s.u.email), lower)) {
    answer(resp, 400, "EMAIL_MISMATCH", "Email mismatch");
    return;
  }
  if (s.u.email_verified) {
    answer(resp, 400, "EMAIL_ALREADY_VERIFIED", "Email is already verified");
    return;
  }
  send_verification(e, st, req, &s.u, callback);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

/* --- GET /verify-email ----------------------------------------------------------------------- */

static const gh_query Q_VERIFY = {
    "email_set_verified",
    "update \"user\" set \"emailVerified\" = 1, \"updatedAt\" = ?2 where \"id\" = ?1",
    "update \"user\" set \"emailVerified\" = true, \"updatedAt\" = $2 where \"id\" = $1", NULL};
static const gh_query Q_SET_EMAIL = {
    "email_set_email",
    "update \"user\" set \"email\" = ?2, \"emailVerified\" = ?3, \"updatedAt\" = ?4 where "
    "\"id\" = ?1",
    "update \"user\" set \"email\" = $2, \"emailVerified\" = $3, \"updatedAt\" = $4 where "
    "\"id\" = $1",
    NULL};

/* better-auth's redirectOnError: 302 to callbackURL with error=CODE appended before the fragment
 * (existing query kept), or 401 JSON without a callback. */
static void fail_verify(gh_req *req, gh_resp *resp, const char *callback, const char *code,
                        const char *message) {
  if (callback && *callback) {
    gh_arena *a = req->arena;
    const char *hash = strchr(callback, '#');
    size_t n = hash ? (size_t)(hash - callback) : strlen(callback);
    const char *head = gh_arena_strndup(a, callback, n);
    const char *sep = memchr(head, '?', n) ? (n && head[n - 1] == '?' ? "" : "&") : "?";
    redirect(resp, gh_arena_printf(a, "%s%serror=%s%s", head, sep, code, hash ? hash : ""));
    return;
  }
  answer(resp, 401, code, message);
}

static void done_verify(gh_resp *resp, const char *callback, gh_json *body) {
  if (callback && *callback) {
    gh_json_decref(body);
    redirect(resp, callback);
    return;
  }
  gh_resp_json(resp, 200, body);
}

static void route_verify_email(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  const char *token = gh_req_query(req, "token");
  const char *callback = gh_req_query(req, "callbackURL");
  if (!token) {
    answer(resp, 400, "VALIDATION_ERROR",
           "[query.token] Invalid input: expected string, received undefined");
    return;
  }
  if (!gh_callback_check(e->au, req, resp, callback, GH_E_INVALID_CALLBACK_URL)) return;
  gh_email_claims cl;
  gh_status rc =
      gh_email_token_verify(a, gh_auth_signing_secret(e->au), token, gh_now_ms() / 1000, &cl);
  if (rc == GH_ERR_NOT_FOUND) {
    fail_verify(req, resp, callback, "TOKEN_EXPIRED", "Token expired");
    return;
  }
  if (rc != GH_OK || !gh_email_valid(cl.email)) {
    fail_verify(req, resp, callback, "INVALID_TOKEN", "Invalid token");
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_user u;
  if (cl.update_to) { /* change of e-mail */
    if (!cl.user_id) return fail_verify(req, resp, callback, "INVALID_TOKEN", "Invalid token");
    rc = gh_store_user_by_id(st, a, cl.user_id, &u);
    if (rc == GH_ERR_NOT_FOUND)
      return fail_verify(req, resp, callback, "USER_NOT_FOUND", "User not found");
    if (rc != GH_OK) return gh_auth_db_error(resp, rc, "user_by_id");
    if (strcmp(gh_ascii_lower(a, u.email), cl.email))
      return fail_verify(req, resp, callback, "INVALID_TOKEN", "Invalid token");
    gh_sess s;
    if (gh_session_resolve(e->au, st, req, &s) != GH_OK)
      return gh_auth_db_error(resp, GH_ERR_DB, "session_resolve");
    if (s.found && strcmp(s.u.id, u.id))
      return fail_verify(req, resp, callback, "INVALID_USER", "Invalid user");
    if (cl.request_type && !strcmp(cl.request_type, "change-email-confirmation")) {
      char *t = gh_email_token_sign(a, gh_auth_signing_secret(e->au), cl.email, cl.update_to,
                                    "change-email-verification", u.id, gh_now_ms() / 1000,
                                    e->c->verify_expires);
      const char *url =
          gh_arena_printf(a, "%s/verify-email?token=%s&callbackURL=%s", api_base(a, e), t,
                          gh_uri_encode_component(a, callback && *callback ? callback : "/"));
      if (e->mode != GH_MAIL_OFF && queue(e, st, a, cl.update_to, "change-email-verification", &u,
                                          url, NULL, e->c->verify_expires))
        gh_mail_kick();
      gh_json *o = gh_json_object();
      gh_json_set_new(o, "status", gh_json_bool(true));
      return done_verify(resp, callback, o);
    }
    bool verification = cl.request_type && !strcmp(cl.request_type, "change-email-verification");
    bool verified = verification ? u.email_verified : false;
    rc = gh_store_exec(st, &Q_SET_EMAIL, NULL, "ttbd", u.id, cl.update_to, verified, gh_now_ms());
    if (rc == GH_ERR_CONFLICT) {
      gh_resp_error(resp, GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL);
      return;
    }
    if (rc != GH_OK) return gh_auth_db_error(resp, rc, "set_email");
    gh_audit(e->au, req, "email.changed", u.id, NULL, NULL, NULL, NULL);
    const char *old = u.email;
    u.email = gh_arena_strdup(a, cl.update_to);
    u.email_verified = verified;
    u.updated_at = gh_now_ms();
    (void)old;
    if (!verification && e->mode != GH_MAIL_OFF) /* legacy token: verify the new address */
      send_verification(e, st, req, &u, callback);
    gh_json *o = gh_json_object();
    gh_json_set_new(o, "status", gh_json_bool(true));
    gh_json_set_new(o, "user", gh_user_json(&u));
    return done_verify(resp, callback, o);
  }
  rc = gh_store_user_by_email(st, a, gh_ascii_lower(a, cl.email), &u);
  if (rc == GH_ERR_NOT_FOUND)
    return fail_verify(req, resp, callback, "USER_NOT_FOUND", "User not found");
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "user_by_email");
  if (cl.user_id && strcmp(cl.user_id, u.id))
    return fail_verify(req, resp, callback, "INVALID_TOKEN", "Invalid token");
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "status", gh_json_bool(true));
  gh_json_set_new(o, "user", gh_json_null());
  if (u.email_verified) return done_verify(resp, callback, o);
  rc = gh_store_exec(st, &Q_VERIFY, NULL, "td", u.id, gh_now_ms());
  if (rc != GH_OK) {
    gh_json_decref(o);
    return gh_auth_db_error(resp, rc, "set_verified");
  }
  u.email_verified = true;
  gh_audit(e->au, req, "email.verified", u.id, NULL, NULL, NULL, NULL);
  if (e->c->auto_sign_in_after) {
    gh_sess s;
    if (gh_session_resolve(e->au, st, req, &s) != GH_OK) {
      gh_json_decref(o);
      return gh_auth_db_error(resp, GH_ERR_DB, "session_resolve");
    }
    if (!s.found || strcmp(s.u.email, u.email)) {
      gh_session ns;
      rc = gh_session_create(e->au, st, req, resp, &u, false, &ns);
      if (rc != GH_OK) {
        gh_json_decref(o);
        return gh_auth_db_error(resp, rc, "create_session");
      }
      gh_audit(e->au, req, "sign_in.success", u.id, "session_id", ns.id, "method",
               "email-verification");
    }
  }
  done_verify(resp, callback, o);
}

/* --- password reset -------------------------------------------------------------------------- */

static const gh_query Q_RESET_INSERT = {
    "reset_insert",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values (?1, ?2, ?3, ?4, ?5, ?5)",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values ($1, $2, $3, $4, $5, $5)",
    NULL};
static const gh_query Q_RESET_FIND = {
    "reset_find",
    "select \"value\", \"expiresAt\" from \"verification\" where \"identifier\" = ?1 order by "
    "\"createdAt\" desc limit 1",
    "select \"value\", \"expiresAt\" from \"verification\" where \"identifier\" = $1 order by "
    "\"createdAt\" desc limit 1",
    "td"};
static const gh_query Q_RESET_CONSUME = {
    "reset_consume", "delete from \"verification\" where \"identifier\" = ?1",
    "delete from \"verification\" where \"identifier\" = $1", NULL};
static const gh_query Q_CRED_FIND = {
    "reset_credential_find",
    "select \"id\" from \"account\" where \"userId\" = ?1 and \"providerId\" = 'credential'",
    "select \"id\" from \"account\" where \"userId\" = $1 and \"providerId\" = 'credential'", "t"};
static const gh_query Q_CRED_UPDATE = {
    "reset_credential_update",
    "update \"account\" set \"password\" = ?2, \"updatedAt\" = ?3 where \"userId\" = ?1 and "
    "\"providerId\" = 'credential'",
    "update \"account\" set \"password\" = $2, \"updatedAt\" = $3 where \"userId\" = $1 and "
    "\"providerId\" = 'credential'",
    NULL};
static const gh_query Q_CRED_INSERT = {
    "reset_credential_insert",
    "insert into \"account\" (\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", "
    "\"createdAt\", \"updatedAt\") values (?1, ?2, 'credential', ?2, ?3, ?4, ?4)",
    "insert into \"account\" (\"id\", \"accountId\", \"providerId\", \"userId\", \"password\", "
    "\"createdAt\", \"updatedAt\") values ($1, $2, 'credential', $2, $3, $4, $4)",
    NULL};
static const gh_query Q_SESSIONS_DELETE = {"reset_sessions_delete",
                                           "delete from \"session\" where \"userId\" = ?1",
                                           "delete from \"session\" where \"userId\" = $1", NULL};

static void route_request_reset(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  const char *addr = body_email(&v, b, "email");
  const char *redirect_to = gh_v_string(&v, b, "redirectTo", false, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!gh_origin_check(e->au, req, resp, false)) return;
  if (e->mode == GH_MAIL_OFF) {
    answer(resp, 400, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled");
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  char *lower = gh_ascii_lower(a, addr);
  gh_user u;
  gh_status rc = gh_store_user_by_email(st, a, lower, &u);
  char token[25];
  gh_rand_id(token, 24);
  char *identifier = gh_arena_printf(a, "reset-password:%s", token);
  if (rc == GH_ERR_NOT_FOUND) { /* the same lookups, no row: nothing tells the two apart */
    gh_rows r;
    rc = gh_store_query(st, a, &Q_RESET_FIND, &r, "t", "dummy-verification-token");
    if (rc != GH_OK) return gh_auth_db_error(resp, rc, "reset_find");
    gh_audit(e->au, req, "password_reset.requested", NULL, "result", "unknown_email", NULL, NULL);
    gh_resp_raw_json(resp, 200, "{\"status\":true,\"message\":\"" MSG_RESET "\"}");
    return;
  }
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "user_by_email");
  int64_t now = gh_now_ms();
  char id[33];
  gh_rand_id(id, 32);
  const char *url =
      gh_arena_printf(a, "%s/reset-password/%s?callbackURL=%s", api_base(a, e), token,
                      redirect_to && *redirect_to ? gh_uri_encode_component(a, redirect_to) : "");
  /* the token row and its mail in one transaction: both or neither */
  if ((rc = gh_store_begin(st)) != GH_OK) return gh_auth_db_error(resp, rc, "begin");
  rc = gh_store_exec(st, &Q_RESET_INSERT, NULL, "tttdd", id, identifier, u.id,
                     now + e->c->reset_expires * 1000, now);
  if (rc == GH_OK) {
    gh_mail_var vars[] = {{"url", url},
                          {"name", u.name},
                          {"email", u.email},
                          {"expiresIn", duration(a, e->c->reset_expires)},
                          {"appName", "gatehouse"}};
    rc = gh_mail_queue(st, a, u.email, "reset-password", vars, sizeof vars / sizeof vars[0]);
  }
  rc = gh_store_end(st, rc);
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "reset_request");
  gh_mail_kick();
  gh_audit(e->au, req, "password_reset.requested", u.id, NULL, NULL, NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true,\"message\":\"" MSG_RESET "\"}");
}

/* new URL(callbackURL, baseURL) with key=value set in its query (better-auth's redirectCallback:
 * searchParams.set replaces an existing key). */
static char *with_param(gh_arena *a, email *e, const char *callback, const char *key,
                        const char *value) {
  const char *base = callback ? callback : api_base(a, e);
  if (callback && callback[0] == '/')
    base = gh_arena_printf(a, "%s%s", gh_auth_base_url(e->au), callback);
  if (!callback) base = gh_arena_printf(a, "%s/error", api_base(a, e));
  const char *hash = strchr(base, '#');
  size_t n = hash ? (size_t)(hash - base) : strlen(base);
  char *head = gh_arena_strndup(a, base, n);
  const char *auth = strstr(head, "://"); /* new URL("https://h") has the path "/" */
  const char *pe = auth ? strpbrk(auth + 3, "/?") : NULL;
  if (auth && (!pe || *pe == '?'))
    head = gh_arena_printf(a, "%.*s/%s", (int)(pe ? pe - head : (long)strlen(head)), head,
                           pe ? pe : "");
  char *q = strchr(head, '?');
  char *query = NULL;
  if (q) {
    *q = 0;
    query = gh_arena_strdup(a, "");
    size_t klen = strlen(key);
    for (char *p = q + 1; p && *p;) {
      char *amp = strchr(p, '&');
      size_t len = amp ? (size_t)(amp - p) : strlen(p);
      bool same = len >= klen && !strncmp(p, key, klen) && (len == klen || p[klen] == '=');
      if (!same && len)
        query = gh_arena_printf(a, "%s%s%.*s", query, *query ? "&" : "", (int)len, p);
      p = amp ? amp + 1 : NULL;
    }
  }
  return gh_arena_printf(a, "%s?%s%s%s=%s%s", head, query ? query : "", query && *query ? "&" : "",
                         key, value, hash ? hash : "");
}

static void route_reset_callback(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  const char *prefix = "/api/auth/reset-password/";
  const char *token = req->path + strlen(prefix);
  const char *callback = gh_req_query(req, "callbackURL");
  if (!gh_callback_check(e->au, req, resp, callback, GH_E_INVALID_CALLBACK_URL)) return;
  if (!*token || strchr(token, '/') || !callback || !*callback) {
    redirect(resp,
             with_param(a, e, callback && *callback ? callback : NULL, "error", "INVALID_TOKEN"));
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_rows r;
  gh_status rc =
      gh_store_query(st, a, &Q_RESET_FIND, &r, "t", gh_arena_printf(a, "reset-password:%s", token));
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "reset_find");
  bool ok = r.n == 1 && gh_rows_at(&r, 0)[1].num >= gh_now_ms();
  bool safe = true;
  for (const char *p = token; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      safe = false;
  if (!ok || !safe) {
    redirect(resp, with_param(a, e, callback, "error", "INVALID_TOKEN"));
    return;
  }
  redirect(resp, with_param(a, e, callback, "token", token));
}

static void route_reset_password(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  size_t plen;
  const char *password = gh_v_string_n(&v, b, "newPassword", true, &plen);
  const char *token = gh_v_string(&v, b, "token", false, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!token || !*token) token = gh_req_query(req, "token");
  if (!token || !*token) {
    answer(resp, 400, "INVALID_TOKEN", "Invalid token");
    return;
  }
  if (!gh_check_new_password(e->au, resp, password, plen)) return;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  char *identifier = gh_arena_printf(a, "reset-password:%s", token);
  gh_rows r;
  gh_status rc = gh_store_query(st, a, &Q_RESET_FIND, &r, "t", identifier);
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "reset_find");
  if (r.n != 1 || gh_rows_at(&r, 0)[1].num < gh_now_ms()) {
    answer(resp, 400, "INVALID_TOKEN", "Invalid token");
    return;
  }
  const char *user_id = gh_rows_at(&r, 0)[0].text;
  gh_user u;
  rc = gh_store_user_by_id(st, a, user_id, &u);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_resp_error(resp, GH_E_USER_NOT_FOUND);
    return;
  }
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "user_by_id");
  char hash[GH_PASSWORD_HASH_LEN + 1];
  if (gh_password_hash(password, plen, hash) != GH_OK) {
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  /* consume the token and set the password in ONE transaction: of two concurrent uses exactly
   * one deletes the row (the other waits for its commit and deletes nothing) */
  int64_t now = gh_now_ms();
  long consumed = 0;
  if ((rc = gh_store_begin(st)) != GH_OK) {
    memset(hash, 0, sizeof hash);
    return gh_auth_db_error(resp, rc, "begin");
  }
  rc = gh_store_exec(st, &Q_RESET_CONSUME, &consumed, "t", identifier);
  if (rc == GH_OK && consumed == 0) rc = GH_ERR_NOT_FOUND;
  if (rc == GH_OK && e->c->revoke_on_reset)
    rc = gh_store_exec(st, &Q_SESSIONS_DELETE, NULL, "t", u.id);
  gh_rows acc;
  if (rc == GH_OK) rc = gh_store_query(st, a, &Q_CRED_FIND, &acc, "t", u.id);
  if (rc == GH_OK && acc.n > 0) {
    rc = gh_store_exec(st, &Q_CRED_UPDATE, NULL, "ttd", u.id, hash, now);
  } else if (rc == GH_OK) {
    char aid[33];
    gh_rand_id(aid, 32);
    rc = gh_store_exec(st, &Q_CRED_INSERT, NULL, "tttd", aid, u.id, hash, now);
  }
  memset(hash, 0, sizeof hash);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_store_rollback(st);
    answer(resp, 400, "INVALID_TOKEN", "Invalid token");
    return;
  }
  rc = gh_store_end(st, rc);
  if (rc != GH_OK) return gh_auth_db_error(resp, rc, "reset_password");
  gh_audit(e->au, req, "password_reset.completed", u.id, "sessions_revoked",
           e->c->revoke_on_reset ? "true" : "false", NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

/* --- POST /change-email ---------------------------------------------------------------------- */

static void route_change_email(void *self, gh_req *req, gh_resp *resp) {
  email *e = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(e->au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = req->json;
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  const char *new_email = body_email(&v, b, "newEmail");
  const char *callback = gh_v_string(&v, b, "callbackURL", false, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!e->c->change_email) {
    answer(resp, 400, "CHANGE_EMAIL_DISABLED", "Change email is disabled");
    return;
  }
  char *lower = gh_ascii_lower(a, new_email);
  if (!strcmp(lower, s.u.email)) {
    answer(resp, 400, NULL, "Email is the same");
    return;
  }
  if (e->mode == GH_MAIL_OFF) {
    answer(resp, 400, NULL, "Verification email isn't enabled");
    return;
  }
  const char *secret = gh_auth_signing_secret(e->au);
  int64_t now = gh_now_ms() / 1000;
  gh_user taken;
  gh_status rc = gh_store_user_by_email(st, a, lower, &taken);
  if (rc == GH_OK) { /* enumeration protection: the same answer, the same signing work */
    (void)gh_email_token_sign(a, secret, s.u.email, lower, NULL, s.u.id, now, e->c->verify_expires);
    gh_audit(e->au, req, "email.change_requested", s.u.id, "result", "taken", NULL, NULL);
    gh_resp_raw_json(resp, 200, "{\"status\":true}");
    return;
  }
  if (rc != GH_ERR_NOT_FOUND) return gh_auth_db_error(resp, rc, "user_by_email");
  bool confirm = s.u.email_verified && e->c->change_confirm;
  char *token =
      gh_email_token_sign(a, secret, s.u.email, lower,
                          confirm ? "change-email-confirmation" : "change-email-verification",
                          s.u.id, now, e->c->verify_expires);
  const char *url =
      gh_arena_printf(a, "%s/verify-email?token=%s&callbackURL=%s", api_base(a, e), token,
                      gh_uri_encode_component(a, callback && *callback ? callback : "/"));
  if (confirm ? queue(e, st, a, s.u.email, "change-email-confirmation", &s.u, url, lower,
                      e->c->verify_expires)
              : queue(e, st, a, lower, "change-email-verification", &s.u, url, NULL,
                      e->c->verify_expires))
    gh_mail_kick();
  gh_audit(e->au, req, "email.change_requested", s.u.id, "step",
           confirm ? "confirmation" : "verification", NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

#define P "/api/auth"
static const gh_route ROUTES[] = {
    {"POST", P "/send-verification-email", route_send_verification, 0, NULL},
    {"GET", P "/verify-email", route_verify_email, 0, NULL},
    {"POST", P "/request-password-reset", route_request_reset, 0, NULL},
    {"GET", P "/reset-password/", route_reset_callback, GH_ROUTE_PREFIX, NULL},
    {"POST", P "/reset-password", route_reset_password, GH_ROUTE_SLOW, NULL},
    {"POST", P "/change-email", route_change_email, 0, NULL},
};

const gh_plugin gh_plugin_email = {
    .id = "email",
    .summary = "E-mail verification, password reset and change of e-mail (better-auth's core "
               "emailVerification / sendResetPassword / changeEmail), sent through the durable "
               "mail outbox over SMTP; runs always, configured with the options below",
    .always = true,
    .opts = OPTS,
    .nopts = NOPTS,
    .conf_size = sizeof(conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .serve_start = serve_start,
    .serve_stop = serve_stop,
    .routes = ROUTES,
    .nroutes = sizeof ROUTES / sizeof ROUTES[0],
    .sign_in = sign_in,
    .sign_up = sign_up,
};
