/* The two-factor plugin, as better-auth's twoFactor() (wire spec §7.5, BA/plugins/two-factor/):
 * TOTP enrollment (/two-factor/enable → an unverified "twoFactor" row; the first verify-totp
 * turns user.twoFactorEnabled on), backup codes, the sign-in challenge through the sign_in gate
 * (200 {"twoFactorRedirect":true,...} with the signed two_factor cookie; verify-totp /
 * verify-backup-code then create the session), trusted devices (the signed trust_device cookie,
 * rotated on every use), the account lockout (10 consecutive failures → 15 minutes of 429
 * ACCOUNT_TEMPORARILY_LOCKED), 5 attempts per challenge, and the plugin's rate-limit rule.
 *
 * Stored exactly as better-auth stores it, so a user enrolled under one passes under the other:
 * the TOTP secret (32 chars of a-z 0-9 A-Z - _) and the JSON array of backup codes encrypted with
 * the server secret (§6.5), the challenge and trusted-device rows in "verification" (§6.3).
 *
 * Beyond better-auth (documented in docs/api.md): a TOTP code is accepted once per time step — a
 * verification row "2fa-totp-step-<userId>" remembers the newest accepted step and a code of that
 * step or an older one is refused as INVALID_CODE (GATEHOUSE_TWO_FACTOR_TOTP_REPLAY=on allows
 * replays, as better-auth). user.twoFactorEnabled is a plugin-declared user field (in every user
 * object). E-mailed codes (/send-otp, /verify-otp, method "otp") with GATEHOUSE_TWO_FACTOR_OTP,
 * through the mail outbox (mail/mail.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/cookies.h"
#include "auth/db.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/validate.h"
#include "common/bytes.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "crypto/cookie_sign.h"
#include "crypto/password.h"
#include "json/json.h"
#include "mail/mail.h"
#include "plugins/plugins.h"
#include "plugins/totp.h"

#define BASE "/api/auth/two-factor"
#define DIGITS 6
#define PERIOD 30
#define ATTEMPTS_PER_CHALLENGE 5
#define BACKUP_CODES 10

typedef struct {
  char *issuer;
  long cookie_max_age;
  long trust_max_age;
  bool lockout;
  long lockout_attempts;
  long lockout_seconds;
  bool totp_replay;
  bool qr_code;
  bool otp;
  long otp_expires_in;
  bool oauth;
  char *page;
} tf_conf;

#define O(f) offsetof(tf_conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_TWO_FACTOR_ISSUER", NULL, GH_CONF_STR, "Better Auth", 0, 0, 0, O(issuer),
     "Issuer shown by authenticator apps (the otpauth URI's; better-auth's appName default)"},
    {"GATEHOUSE_TWO_FACTOR_COOKIE_MAX_AGE", NULL, GH_CONF_INT, "600", 30, 86400, 0,
     O(cookie_max_age), "Seconds a sign-in challenge (the two_factor cookie) lives"},
    {"GATEHOUSE_TWO_FACTOR_TRUST_DEVICE_MAX_AGE", NULL, GH_CONF_INT, "2592000", 60, 34560000, 0,
     O(trust_max_age),
     "Seconds a trusted device (the trust_device cookie) skips the second factor"},
    {"GATEHOUSE_TWO_FACTOR_LOCKOUT", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(lockout),
     "Lock the second factor after consecutive failed sign-in verifications"},
    {"GATEHOUSE_TWO_FACTOR_LOCKOUT_ATTEMPTS", NULL, GH_CONF_INT, "10", 1, 1000, 0,
     O(lockout_attempts), "Consecutive failures that lock it"},
    {"GATEHOUSE_TWO_FACTOR_LOCKOUT_SECONDS", NULL, GH_CONF_INT, "900", 1, 86400 * 30, 0,
     O(lockout_seconds), "Seconds it stays locked (429 ACCOUNT_TEMPORARILY_LOCKED)"},
    {"GATEHOUSE_TWO_FACTOR_TOTP_REPLAY", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(totp_replay),
     "Accept a TOTP code again within its time window (better-auth does; off: once per step)"},
    {"GATEHOUSE_TWO_FACTOR_QR_CODE", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(qr_code),
     "Add `totpQRCode` (the URI's QR code as an SVG data URI) after `totpURI` in the enable and "
     "get-totp-uri responses"},
    {"GATEHOUSE_TWO_FACTOR_OTP", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(otp),
     "One-time codes by e-mail as a second factor (better-auth's otpOptions.sendOTP), sent "
     "through the mail outbox (GATEHOUSE_MAIL must not be off)"},
    {"GATEHOUSE_TWO_FACTOR_OTP_EXPIRES_IN", NULL, GH_CONF_INT, "180", 30, 3600, 0,
     O(otp_expires_in), "Seconds an e-mailed code stays valid"},
    {"GATEHOUSE_TWO_FACTOR_OAUTH", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(oauth),
     "Challenge OAuth sign-ins too (better-auth challenges only e-mail/password sign-ins: off)"},
    {"GATEHOUSE_TWO_FACTOR_PAGE", NULL, GH_CONF_STR, NULL, 0, 0, 0, O(page),
     "Where an OAuth sign-in's challenge sends the browser (an absolute http(s) URL or a path "
     "starting with /), with `twoFactorRedirect=true&callbackURL=…`; unset: the sign-in's "
     "callbackURL with `twoFactorRedirect=true`"},
};
#undef O

static const gh_err_info ERR_OTP_NOT_CONFIGURED = {400, "OTP_NOT_CONFIGURED",
                                                   "OTP is not available"};
static const gh_err_info ERR_TOTP_NOT_ENABLED = {400, "TOTP_NOT_ENABLED", "TOTP not enabled"};
static const gh_err_info ERR_TOTP_ALREADY_ENABLED = {400, "TOTP_ALREADY_ENABLED",
                                                     "TOTP is already enabled"};
static const gh_err_info ERR_NOT_ENABLED = {400, "TWO_FACTOR_NOT_ENABLED",
                                            "Two factor isn't enabled"};
static const gh_err_info ERR_BACKUP_NOT_ENABLED = {400, "BACKUP_CODES_NOT_ENABLED",
                                                   "Backup codes aren't enabled"};
static const gh_err_info ERR_INVALID_BACKUP = {401, "INVALID_BACKUP_CODE", "Invalid backup code"};
static const gh_err_info ERR_INVALID_CODE = {401, "INVALID_CODE", "Invalid code"};
static const gh_err_info ERR_TOO_MANY = {400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE",
                                         "Too many attempts. Please request a new code."};
static const gh_err_info ERR_LOCKED = {
    429, "ACCOUNT_TEMPORARILY_LOCKED",
    "Too many failed verification attempts. Your account is temporarily locked. Please try again "
    "later."};
static const gh_err_info ERR_COOKIE = {401, "INVALID_TWO_FACTOR_COOKIE",
                                       "Invalid two factor cookie"};
static const gh_err_info ERR_OTP_EXPIRED = {400, "OTP_HAS_EXPIRED", "OTP has expired"};
/* better-auth's other codes of this plugin, registered so that no other plugin takes them */
static const gh_err_info ERRORS[] = {
    {400, "OTP_NOT_ENABLED", "OTP not enabled"},
    {400, "OTP_NOT_CONFIGURED", "OTP is not available"},
    {400, "OTP_HAS_EXPIRED", "OTP has expired"},
    {400, "TOTP_NOT_ENABLED", "TOTP not enabled"},
    {400, "TOTP_ALREADY_ENABLED", "TOTP is already enabled"},
    {400, "TOTP_NOT_CONFIGURED", "TOTP is not available"},
    {400, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled"},
    {400, "BACKUP_CODES_NOT_ENABLED", "Backup codes aren't enabled"},
    {401, "INVALID_BACKUP_CODE", "Invalid backup code"},
    {401, "INVALID_CODE", "Invalid code"},
    {400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE", "Too many attempts. Please request a new code."},
    {429, "ACCOUNT_TEMPORARILY_LOCKED",
     "Too many failed verification attempts. Your account is temporarily locked. Please try again "
     "later."},
    {401, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie"},
};

/* better-auth's migrator, with twoFactor(): the table, its indexes and user.twoFactorEnabled. */
static const gh_store_migration MIGRATIONS[] = {
    {"two-factor/001_two_factor",
     "create table if not exists \"twoFactor\" (\"id\" text not null primary key, \"secret\" text "
     "not null, \"backupCodes\" text not null, \"userId\" text not null references \"user\" "
     "(\"id\") on delete cascade, \"verified\" integer, \"failedVerificationCount\" integer, "
     "\"lockedUntil\" date);\n"
     "alter table \"user\" add column \"twoFactorEnabled\" integer;\n"
     "create index if not exists \"twoFactor_secret_idx\" on \"twoFactor\" (\"secret\");\n"
     "create index if not exists \"twoFactor_userId_idx\" on \"twoFactor\" (\"userId\");\n",
     "create table if not exists \"twoFactor\" (\"id\" text not null primary key, \"secret\" text "
     "not null, \"backupCodes\" text not null, \"userId\" text not null references \"user\" "
     "(\"id\") on delete cascade, \"verified\" boolean, \"failedVerificationCount\" integer, "
     "\"lockedUntil\" timestamptz);\n"
     "alter table \"user\" add column if not exists \"twoFactorEnabled\" boolean;\n"
     "create index if not exists \"twoFactor_secret_idx\" on \"twoFactor\" (\"secret\");\n"
     "create index if not exists \"twoFactor_userId_idx\" on \"twoFactor\" (\"userId\");\n"},
};

static const gh_rate_rule RATE_RULES[] = {{"/two-factor/", 10, 3}};

/* user.twoFactorEnabled: in every user object (after the core fields), false for new users, never
 * set by a client (better-auth's input: false). */
static const gh_field USER_FIELDS[] = {
    {"twoFactorEnabled", GH_FIELD_BOOLEAN, "false", false, false}};

/* --- queries --------------------------------------------------------------------------------- */

static const gh_query Q_USER_2FA = {
    "two_factor.user_enabled",
    "select coalesce(\"twoFactorEnabled\", 0) from \"user\" where \"id\" = ?1",
    "select coalesce(\"twoFactorEnabled\", false) from \"user\" where \"id\" = $1", "b"};
static const gh_query Q_USER_SET_2FA = {
    "two_factor.user_set_enabled",
    "update \"user\" set \"twoFactorEnabled\" = ?2, \"updatedAt\" = ?3 where \"id\" = ?1",
    "update \"user\" set \"twoFactorEnabled\" = $2, \"updatedAt\" = $3 where \"id\" = $1", NULL};

/* verified: 1 true, 0 false, 2 NULL (better-auth: anything but false counts as verified) */
static const gh_query Q_TF_GET = {
    "two_factor.get",
    "select \"id\", \"secret\", \"backupCodes\", case when \"verified\" is null then 2 when "
    "\"verified\" then 1 else 0 end, coalesce(\"failedVerificationCount\", 0), \"lockedUntil\" "
    "from \"twoFactor\" where \"userId\" = ?1 limit 1",
    "select \"id\", \"secret\", \"backupCodes\", (case when \"verified\" is null then 2 when "
    "\"verified\" then 1 else 0 end)::bigint, coalesce(\"failedVerificationCount\", 0)::bigint, "
    "\"lockedUntil\" from \"twoFactor\" where \"userId\" = $1 limit 1",
    "tttiiD"};
static const gh_query Q_TF_INSERT = {
    "two_factor.insert",
    "insert into \"twoFactor\" (\"id\", \"secret\", \"backupCodes\", \"userId\", \"verified\", "
    "\"failedVerificationCount\") values (?1, ?2, ?3, ?4, ?5, 0)",
    "insert into \"twoFactor\" (\"id\", \"secret\", \"backupCodes\", \"userId\", \"verified\", "
    "\"failedVerificationCount\") values ($1, $2, $3, $4, $5, 0)",
    NULL};
static const gh_query Q_TF_REENROLL = {
    "two_factor.reenroll",
    "update \"twoFactor\" set \"secret\" = ?2, \"backupCodes\" = ?3, \"verified\" = ?4 where "
    "\"id\" = ?1",
    "update \"twoFactor\" set \"secret\" = $2, \"backupCodes\" = $3, \"verified\" = $4 where "
    "\"id\" = $1",
    NULL};
static const gh_query Q_TF_VERIFIED = {
    "two_factor.set_verified", "update \"twoFactor\" set \"verified\" = ?2 where \"id\" = ?1",
    "update \"twoFactor\" set \"verified\" = $2 where \"id\" = $1", NULL};
static const gh_query Q_TF_SET_CODES = {
    "two_factor.set_codes", "update \"twoFactor\" set \"backupCodes\" = ?2 where \"id\" = ?1",
    "update \"twoFactor\" set \"backupCodes\" = $2 where \"id\" = $1", NULL};
/* compare-and-swap: a code is spent once even when two requests race */
static const gh_query Q_TF_SWAP_CODES = {
    "two_factor.swap_codes",
    "update \"twoFactor\" set \"backupCodes\" = ?3 where \"id\" = ?1 and \"backupCodes\" = ?2",
    "update \"twoFactor\" set \"backupCodes\" = $3 where \"id\" = $1 and \"backupCodes\" = $2",
    NULL};
static const gh_query Q_TF_FAIL = {
    "two_factor.fail",
    "update \"twoFactor\" set \"failedVerificationCount\" = coalesce(\"failedVerificationCount\", "
    "0) + 1 where \"id\" = ?1 returning \"failedVerificationCount\"",
    "update \"twoFactor\" set \"failedVerificationCount\" = coalesce(\"failedVerificationCount\", "
    "0) + 1 where \"id\" = $1 returning \"failedVerificationCount\"::bigint",
    "i"};
static const gh_query Q_TF_LOCK = {
    "two_factor.lock", "update \"twoFactor\" set \"lockedUntil\" = ?2 where \"id\" = ?1",
    "update \"twoFactor\" set \"lockedUntil\" = $2 where \"id\" = $1", NULL};
static const gh_query Q_TF_RESET = {
    "two_factor.reset",
    "update \"twoFactor\" set \"failedVerificationCount\" = 0, \"lockedUntil\" = null where "
    "\"id\" = ?1",
    "update \"twoFactor\" set \"failedVerificationCount\" = 0, \"lockedUntil\" = null where "
    "\"id\" = $1",
    NULL};
static const gh_query Q_TF_DELETE = {"two_factor.delete",
                                     "delete from \"twoFactor\" where \"userId\" = ?1",
                                     "delete from \"twoFactor\" where \"userId\" = $1", NULL};
/* Serialises the TOTP step check of one user (SQLite: BEGIN IMMEDIATE already does). */
static const gh_query Q_TF_LOCK_ROW = {
    "two_factor.lock_row", NULL, "select 1 from \"twoFactor\" where \"id\" = $1 for update", NULL};

static const gh_query Q_V_INSERT = {
    "two_factor.verification_insert",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values (?1, ?2, ?3, ?4, ?5, ?5)",
    "insert into \"verification\" (\"id\", \"identifier\", \"value\", \"expiresAt\", "
    "\"createdAt\", \"updatedAt\") values ($1, $2, $3, $4, $5, $5)",
    NULL};
static const gh_query Q_V_FIND = {
    "two_factor.verification_find",
    "select \"value\", \"expiresAt\" from \"verification\" where \"identifier\" = ?1 order by "
    "\"createdAt\" desc limit 1",
    "select \"value\", \"expiresAt\" from \"verification\" where \"identifier\" = $1 order by "
    "\"createdAt\" desc limit 1",
    "td"};
/* better-auth's consumeVerificationValue: the rows are gone once read (one winner per row) */
static const gh_query Q_V_CONSUME = {
    "two_factor.verification_consume",
    "delete from \"verification\" where \"identifier\" = ?1 returning \"value\", \"expiresAt\"",
    "delete from \"verification\" where \"identifier\" = $1 returning \"value\", \"expiresAt\"",
    "td"};
static const gh_query Q_V_DELETE = {"two_factor.verification_delete",
                                    "delete from \"verification\" where \"identifier\" = ?1",
                                    "delete from \"verification\" where \"identifier\" = $1", NULL};

/* --- state ----------------------------------------------------------------------------------- */

typedef struct {
  gh_auth *au;
  const tf_conf *c;
} tf;

/* An absolute http(s) URL with a host, or a same-origin path ("/x", never "//host" or "/\\host").
 */
static bool page_ok(const char *p) {
  for (const char *c = p; *c; c++)
    if ((unsigned char)*c <= ' ' || *c == 0x7f) return false;
  if (p[0] == '/') return p[1] != '/' && p[1] != '\\';
  const char *rest = !strncmp(p, "https://", 8) ? p + 8 : !strncmp(p, "http://", 7) ? p + 7 : NULL;
  return rest && *rest && *rest != '/';
}

static gh_status validate(const void *conf, const char **err) {
  const tf_conf *c = conf;
  if (c->page && !page_ok(c->page)) {
    *err = "GATEHOUSE_TWO_FACTOR_PAGE: expected an absolute http(s) URL or a path starting with /";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

static gh_status init(gh_auth *au, const void *conf, void **self) {
  const tf_conf *c = conf;
  if (c->otp && gh_mail_mode_now() == GH_MAIL_OFF) {
    gh_log(GH_LOG_ERROR, "two_factor.otp_without_mail", "message",
           "GATEHOUSE_TWO_FACTOR_OTP needs mail (GATEHOUSE_MAIL is off)", NULL);
    return GH_ERR_CONFIG;
  }
  tf *t = gh_xcalloc(1, sizeof *t);
  t->au = au;
  t->c = conf;
  *self = t;
  return GH_OK;
}

static void plugin_free(void *self) {
  free(self);
}

/* better-auth's generateRandomString: n chars of a-z 0-9 A-Z, and - _ when url is set. */
static void random_string(char *out, size_t n, bool url) {
  static const char A[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
  if (!url) {
    gh_rand_id(out, n);
    return;
  }
  uint8_t b[64];
  for (size_t i = 0; i < n; i++) {
    if (i % sizeof b == 0) gh_rand_bytes(b, sizeof b);
    out[i] = A[b[i % sizeof b] & 63]; /* 64 symbols: uniform */
  }
  out[n] = 0;
}

typedef struct {
  char *id, *secret, *backup_codes;
  int verified; /* 1, 0, or 2 = NULL */
  int64_t failed;
  bool locked_set;
  int64_t locked_until;
} tf_row;

static gh_status tf_get(gh_store *st, gh_arena *a, const char *user_id, tf_row *out) {
  gh_rows r;
  gh_status rc = gh_store_query(st, a, &Q_TF_GET, &r, "t", user_id);
  if (rc != GH_OK) return rc;
  if (r.n == 0) return GH_ERR_NOT_FOUND;
  const gh_cell *c = gh_rows_at(&r, 0);
  out->id = c[0].text;
  out->secret = c[1].text;
  out->backup_codes = c[2].text;
  out->verified = (int)c[3].num;
  out->failed = c[4].num;
  out->locked_set = !c[5].null;
  out->locked_until = c[5].num;
  return GH_OK;
}

static gh_status user_enabled(gh_store *st, gh_arena *a, const char *user_id, bool *on) {
  gh_rows r;
  gh_status rc = gh_store_query(st, a, &Q_USER_2FA, &r, "t", user_id);
  if (rc != GH_OK) return rc;
  *on = r.n > 0 && gh_rows_at(&r, 0)[0].num != 0;
  return GH_OK;
}

static gh_status verification_add(gh_store *st, const char *identifier, const char *value,
                                  int64_t expires_at) {
  char id[33];
  gh_rand_id(id, 32);
  return gh_store_exec(st, &Q_V_INSERT, NULL, "tttdd", id, identifier, value, expires_at,
                       gh_now_ms());
}

/* The newest live row of identifier: *value on the arena, NULL when none. */
static gh_status verification_find(gh_store *st, gh_arena *a, const char *identifier,
                                   char **value) {
  gh_rows r;
  *value = NULL;
  gh_status rc = gh_store_query(st, a, &Q_V_FIND, &r, "t", identifier);
  if (rc != GH_OK) return rc;
  if (r.n && gh_rows_at(&r, 0)[1].num > gh_now_ms()) *value = gh_rows_at(&r, 0)[0].text;
  return GH_OK;
}

static gh_status verification_consume(gh_store *st, gh_arena *a, const char *identifier,
                                      char **value, int64_t *expires_at) {
  gh_rows r;
  *value = NULL;
  gh_status rc = gh_store_query(st, a, &Q_V_CONSUME, &r, "t", identifier);
  if (rc != GH_OK) return rc;
  int64_t now = gh_now_ms();
  for (size_t i = 0; i < r.n; i++)
    if (gh_rows_at(&r, i)[1].num > now) {
      *value = gh_rows_at(&r, i)[0].text;
      if (expires_at) *expires_at = gh_rows_at(&r, i)[1].num;
    }
  return GH_OK;
}

/* --- shared pieces of the routes ------------------------------------------------------------- */

/* Checks the current password as better-auth's validatePassword / checkPassword: no credential
 * account or a wrong password are both 400 INVALID_PASSWORD. Slow (worker pool). */
static bool check_password(gh_store *st, gh_req *req, gh_resp *resp, const char *user_id,
                           const char *pw, size_t len) {
  char *hash;
  gh_status rc = gh_store_credential_password(st, req->arena, user_id, &hash);
  bool ok = false;
  if (rc == GH_ERR_NOT_FOUND) {
    gh_password_dummy_verify(pw, len);
  } else if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "credential_password");
    return false;
  } else if (gh_password_verify(pw, len, hash, &ok) != GH_OK) {
    ok = false;
  }
  if (!ok) {
    gh_log(GH_LOG_INFO, "password.check_failed", "user_id", user_id, "reason", "INVALID_PASSWORD",
           NULL);
    gh_resp_error(resp, GH_E_INVALID_PASSWORD);
  }
  return ok;
}

/* The request's body as an object with an optional/required password; NULL = answered. */
static const gh_json *body_object(gh_vctx *v, gh_req *req, gh_resp *resp) {
  if (!gh_v_object(v, req->json, "object")) {
    gh_v_fail(v, resp);
    return NULL;
  }
  return req->json;
}

static gh_json *codes_json(char codes[][12], size_t n) {
  gh_json *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, gh_json_str(codes[i]));
  return arr;
}

/* 10 backup codes "xxxxx-xxxxx" and their stored form: the encrypted JSON array. */
static char *new_backup_codes(tf *t, gh_arena *a, char codes[BACKUP_CODES][12]) {
  for (size_t i = 0; i < BACKUP_CODES; i++) {
    char raw[11];
    random_string(raw, 10, false);
    memcpy(codes[i], raw, 5);
    codes[i][5] = '-';
    memcpy(codes[i] + 6, raw + 5, 5);
    codes[i][11] = 0;
  }
  gh_json *arr = codes_json(codes, BACKUP_CODES);
  size_t len;
  char *json = gh_json_dump(a, arr, &len);
  gh_json_decref(arr);
  char *ct = gh_aead_encrypt(a, gh_auth_secrets(t->au), json, len);
  memset(json, 0, len);
  return ct;
}

/* The TOTP key of a row: the decrypted secret's bytes (a "base32:" secret decoded first). */
static gh_status totp_key(tf *t, gh_arena *a, const char *stored, uint8_t **key, size_t *n) {
  uint8_t *pt;
  size_t len;
  gh_status rc = gh_aead_decrypt(a, gh_auth_secrets(t->au), stored, &pt, &len);
  if (rc != GH_OK) return rc;
  if (len >= 7 && memcmp(pt, "base32:", 7) == 0) return gh_base32_decode(a, (char *)pt + 7, key, n);
  *key = pt;
  *n = len;
  return GH_OK;
}

static void add_uri(tf *t, gh_arena *a, gh_json *o, const uint8_t *key, size_t n,
                    const char *issuer, const char *email) {
  char *uri = gh_totp_uri(a, key, n, issuer, email, DIGITS, PERIOD);
  gh_json_set_new(o, "totpURI", gh_json_str(uri));
  if (t->c->qr_code) gh_json_set_new(o, "totpQRCode", gh_json_str(gh_qr_svg_data_uri(a, uri)));
}

/* A fresh session for the user replacing the request's (better-auth re-issues it whenever
 * twoFactorEnabled changes, so a cached user is never stale). */
static bool rotate_session(tf *t, gh_store *st, gh_req *req, gh_resp *resp, gh_sess *s,
                           gh_session *ns) {
  gh_status rc = gh_session_create(t->au, st, req, resp, &s->u, false, ns);
  if (rc == GH_OK && !s->resolved) {
    rc = gh_store_delete_session(st, s->token);
    if (rc == GH_OK) gh_auth_sessions_revoked(t->au, st, s->u.id, s->token, NULL);
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.rotate_session");
    return false;
  }
  return true;
}

static char *trust_token(tf *t, gh_arena *a, const char *user_id, const char *trust_id) {
  size_t n;
  const char *const *secrets = gh_auth_verify_secrets(t->au, &n);
  char *msg = gh_arena_printf(a, "%s!%s", user_id, trust_id);
  uint8_t mac[32];
  gh_hmac_sha256(secrets[0], strlen(secrets[0]), msg, strlen(msg), mac);
  char *b64 = gh_arena_alloc(a, GH_B64_LEN(32) + 1);
  gh_b64_encode(mac, 32, b64, true, false);
  return b64;
}

/* Stores a new trusted device for the user and sets its cookie. */
static gh_status trust_device(tf *t, gh_store *st, gh_req *req, gh_resp *resp,
                              const char *user_id) {
  char rnd[33];
  random_string(rnd, 32, true);
  char *trust_id = gh_arena_printf(req->arena, "trust-device-%s", rnd);
  gh_status rc = verification_add(st, trust_id, user_id, gh_now_ms() + t->c->trust_max_age * 1000);
  if (rc != GH_OK) return rc;
  char *value =
      gh_arena_printf(req->arena, "%s!%s", trust_token(t, req->arena, user_id, trust_id), trust_id);
  gh_set_signed_cookie(t->au, resp, gh_auth_cookie_name(t->au, req->arena, "trust_device"), value,
                       t->c->trust_max_age);
  return GH_OK;
}

/* The trusted-device id of the request's trust_device cookie when its HMAC is the user's (NULL
 * otherwise); *present: a signed cookie came at all. */
static const char *trusted_id(tf *t, gh_req *req, const char *user_id, bool *present) {
  const char *v =
      gh_signed_cookie(t->au, req, gh_auth_cookie_name(t->au, req->arena, "trust_device"));
  *present = v != NULL;
  if (!v) return NULL;
  const char *bang = strchr(v, '!');
  if (!bang || bang == v || !bang[1]) return NULL;
  const char *id_end = strchr(bang + 1, '!'); /* better-auth: split("!")[1] */
  char *trust_id = id_end ? gh_arena_strndup(req->arena, bang + 1, (size_t)(id_end - bang - 1))
                          : gh_arena_strdup(req->arena, bang + 1);
  char *want = trust_token(t, req->arena, user_id, trust_id);
  size_t tl = (size_t)(bang - v);
  if (tl != strlen(want) || !gh_ct_equal(v, want, tl)) return NULL;
  return trust_id;
}

/* --- the sign-in gate ------------------------------------------------------------------------- */

/* The challenge of a redirect flow (an OAuth callback): 302 to GATEHOUSE_TWO_FACTOR_PAGE with
 * twoFactorRedirect=true, twoFactorMethods (comma-separated) and the sign-in's callbackURL, or,
 * with no page configured, to that callbackURL with the first two; the query goes before a
 * fragment. The page verifies the code with the two_factor cookie (verify-totp, verify-otp,
 * verify-backup-code), then continues to callbackURL. */
static void challenge_redirect(tf *t, gh_arena *a, gh_resp *resp, const char *callback,
                               const gh_json *methods) {
  const char *base = t->c->page ? t->c->page : callback ? callback : "/";
  char *list = gh_arena_strdup(a, "");
  for (size_t i = 0; i < gh_json_array_size(methods); i++)
    list = gh_arena_printf(a, "%s%s%s", list, i ? "," : "",
                           gh_json_string(gh_json_array_get(methods, i)));
  char *q = gh_arena_printf(a, "twoFactorRedirect=true&twoFactorMethods=%s",
                            gh_uri_encode_component(a, list));
  if (t->c->page && callback)
    q = gh_arena_printf(a, "%s&callbackURL=%s", q, gh_uri_encode_component(a, callback));
  const char *hash = strchr(base, '#');
  size_t head = hash ? (size_t)(hash - base) : strlen(base);
  const char *sep = memchr(base, '?', head) ? "&" : "?";
  gh_resp_empty(resp, 302, true);
  gh_resp_header(resp, "Location",
                 gh_arena_printf(a, "%.*s%s%s%s", (int)head, base, sep, q, hash ? hash : ""));
}

static bool sign_in(void *self, gh_store *st, gh_req *req, gh_resp *resp, const gh_sign_in *si) {
  tf *t = self;
  gh_arena *a = req->arena;
  const char *uid = si->user->id;
  bool on = false;
  gh_status rc = user_enabled(st, a, uid, &on);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.user_enabled");
    return false;
  }
  if (!on) return true;
  /* better-auth challenges /sign-in/email (its hook's matcher); OAuth sign-ins by option */
  if (strcmp(si->method, "email") != 0 && !t->c->oauth) return true;
  char *trust_name = gh_auth_cookie_name(t->au, a, "trust_device");
  bool present = false;
  const char *trust_id = trusted_id(t, req, uid, &present);
  if (trust_id) {
    char *owner;
    rc = verification_find(st, a, trust_id, &owner);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "two_factor.trust_find");
      return false;
    }
    if (owner && !strcmp(owner, uid)) { /* trusted: rotate the device id, no challenge */
      rc = gh_store_exec(st, &Q_V_DELETE, NULL, "t", trust_id);
      if (rc == GH_OK) rc = trust_device(t, st, req, resp, uid);
      if (rc != GH_OK) {
        gh_auth_db_error(resp, rc, "two_factor.trust_rotate");
        return false;
      }
      gh_audit(t->au, req, "two_factor.trusted_device", uid, NULL, NULL, NULL, NULL);
      return true;
    }
  }
  if (present) gh_expire_cookie(t->au, resp, trust_name);
  /* the challenge: no session yet; better-auth's deleteSessionCookie(ctx, skipDontRemember) */
  gh_expire_cookie(t->au, resp, gh_auth_session_cookie(t->au));
  gh_expire_cookie(t->au, resp, gh_auth_cookie_name(t->au, a, "session_data"));
  if (si->dont_remember)
    gh_set_signed_cookie(t->au, resp, gh_auth_cookie_name(t->au, a, "dont_remember"), "true", -1);
  char rnd[21];
  random_string(rnd, 20, true);
  char *identifier = gh_arena_printf(a, "2fa-%s", rnd);
  int64_t exp = gh_now_ms() + t->c->cookie_max_age * 1000;
  rc = gh_store_begin(st);
  if (rc == GH_OK) rc = verification_add(st, identifier, uid, exp);
  if (rc == GH_OK)
    rc = verification_add(st, gh_arena_printf(a, "2fa-attempts-%s", identifier), "0", exp);
  rc = gh_store_end(st, rc);
  tf_row row;
  gh_status trc = rc == GH_OK ? tf_get(st, a, uid, &row) : rc;
  if (rc != GH_OK || (trc != GH_OK && trc != GH_ERR_NOT_FOUND)) {
    gh_resp_remove_header(resp, "Set-Cookie", NULL, NULL);
    gh_auth_db_error(resp, rc != GH_OK ? rc : trc, "two_factor.challenge");
    return false;
  }
  gh_set_signed_cookie(t->au, resp, gh_auth_cookie_name(t->au, a, "two_factor"), identifier,
                       t->c->cookie_max_age);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "twoFactorRedirect", gh_json_bool(true));
  gh_json *methods = gh_json_array();
  if (trc == GH_OK && row.verified != 0) gh_json_append_new(methods, gh_json_str("totp"));
  if (t->c->otp) gh_json_append_new(methods, gh_json_str("otp"));
  gh_json_set_new(o, "twoFactorMethods", methods);
  gh_audit(t->au, req, "two_factor.challenged", uid, "method", si->method, NULL, NULL);
  if (si->redirect_flow) {
    challenge_redirect(t, a, resp, si->callback, methods);
    gh_json_decref(o);
  } else {
    gh_resp_json(resp, 200, o);
  }
  return false;
}

/* --- verifying a second factor (better-auth's verifyTwoFactor) -------------------------------- */

typedef struct {
  bool sign_in;    /* a sign-in challenge (two_factor cookie), not a signed-in user */
  gh_sess sess;    /* !sign_in: the request's session */
  gh_user user;    /* the user being verified */
  const char *key; /* sign_in: the challenge identifier */
  bool dont_remember;
  int attempts; /* sign_in: attempts spent on this challenge before this one */
  int64_t expires_at;
} challenge;

/* Resolves the session or the challenge (after the origin check and the body's validation).
 * false = answered. */
static bool begin_verify(tf *t, gh_req *req, gh_resp *resp, gh_store **st, challenge *ch) {
  memset(ch, 0, sizeof *ch);
  *st = gh_auth_store(resp);
  if (!*st) return false;
  gh_status rc = gh_session_resolve(t->au, *st, req, &ch->sess);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return false;
  }
  if (ch->sess.found) {
    ch->user = ch->sess.u;
    return true;
  }
  gh_arena *a = req->arena;
  ch->sign_in = true;
  const char *id = gh_signed_cookie(t->au, req, gh_auth_cookie_name(t->au, a, "two_factor"));
  char *uid = NULL;
  if (id) {
    rc = verification_find(*st, a, id, &uid);
    if (rc == GH_OK && uid) rc = gh_store_user_by_id(*st, a, uid, &ch->user);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
      gh_auth_db_error(resp, rc, "two_factor.challenge_find");
      return false;
    }
  }
  if (!id || !uid || rc != GH_OK) {
    gh_auth_error(resp, &ERR_COOKIE);
    return false;
  }
  ch->key = id;
  ch->dont_remember =
      gh_signed_cookie(t->au, req, gh_auth_cookie_name(t->au, a, "dont_remember")) != NULL;
  return true;
}

/* better-auth's beginAttempt(5): takes the challenge's attempt counter; the 6th try ends the
 * challenge. false = answered. */
static bool begin_attempt(tf *t, gh_store *st, gh_req *req, gh_resp *resp, challenge *ch) {
  gh_arena *a = req->arena;
  char *v;
  gh_status rc = verification_consume(st, a, gh_arena_printf(a, "2fa-attempts-%s", ch->key), &v,
                                      &ch->expires_at);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.attempts");
    return false;
  }
  if (!v) {
    gh_auth_error(resp, &ERR_COOKIE);
    return false;
  }
  char *end;
  long n = strtol(v, &end, 10);
  ch->attempts = (*v && !*end && n >= 0 && n < 1000) ? (int)n : ATTEMPTS_PER_CHALLENGE;
  if (ch->attempts >= ATTEMPTS_PER_CHALLENGE) {
    char *gone;
    rc = verification_consume(st, a, ch->key, &gone, NULL);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "two_factor.challenge_end");
      return false;
    }
    gh_expire_cookie(t->au, resp, gh_auth_cookie_name(t->au, a, "two_factor"));
    gh_audit(t->au, req, "two_factor.challenge_exhausted", ch->user.id, NULL, NULL, NULL, NULL);
    gh_auth_error(resp, &ERR_TOO_MANY);
    return false;
  }
  return true;
}

/* Puts the attempt counter back (count = spent attempts). */
static void rearm(gh_store *st, gh_arena *a, const challenge *ch, int count) {
  gh_status rc = verification_add(st, gh_arena_printf(a, "2fa-attempts-%s", ch->key),
                                  gh_arena_printf(a, "%d", count), ch->expires_at);
  if (rc != GH_OK) gh_log(GH_LOG_WARN, "two_factor.rearm_failed", "user_id", ch->user.id, NULL);
}

/* 429 while the row is locked; an expired lock is cleared. false = answered. */
static bool not_locked(tf *t, gh_store *st, gh_req *req, gh_resp *resp, const tf_row *row,
                       const char *uid) {
  if (!t->c->lockout || !row->locked_set) return true;
  if (row->locked_until > gh_now_ms()) {
    gh_audit(t->au, req, "two_factor.locked", uid, NULL, NULL, NULL, NULL);
    gh_auth_error(resp, &ERR_LOCKED);
    return false;
  }
  gh_status rc = gh_store_exec(st, &Q_TF_RESET, NULL, "t", row->id);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.unlock");
    return false;
  }
  return true;
}

/* A failed code in a sign-in: the challenge's counter and the account's consecutive failures. */
/* (row NULL: a user without a twoFactor row, only an e-mailed code; per_challenge false: an
 * e-mailed code counts its own attempts) */
static void record_failure(tf *t, gh_store *st, gh_req *req, const challenge *ch, const tf_row *row,
                           const char *what, bool per_challenge) {
  if (!ch->sign_in) return;
  if (per_challenge) rearm(st, req->arena, ch, ch->attempts + 1);
  gh_audit(t->au, req, "two_factor.failure", ch->user.id, "factor", what, NULL, NULL);
  if (!t->c->lockout || !row) return;
  gh_rows r;
  gh_status rc = gh_store_query(st, req->arena, &Q_TF_FAIL, &r, "t", row->id);
  if (rc == GH_OK && r.n && gh_rows_at(&r, 0)[0].num >= t->c->lockout_attempts) {
    rc = gh_store_exec(st, &Q_TF_LOCK, NULL, "td", row->id,
                       gh_now_ms() + t->c->lockout_seconds * 1000);
    if (rc == GH_OK)
      gh_audit(t->au, req, "two_factor.lockout", ch->user.id, NULL, NULL, NULL, NULL);
  }
  if (rc != GH_OK)
    gh_log(GH_LOG_WARN, "two_factor.record_failure_failed", "user_id", ch->user.id, NULL);
}

static gh_status reset_failures(tf *t, gh_store *st, const challenge *ch, const tf_row *row) {
  if (!ch->sign_in || !t->c->lockout || !row) return GH_OK;
  return gh_store_exec(st, &Q_TF_RESET, NULL, "t", row->id);
}

/* better-auth's valid(): a sign-in gets its session (and, asked for, a trusted device); a
 * signed-in user gets its own session back. */
static void finish(tf *t, gh_store *st, gh_req *req, gh_resp *resp, challenge *ch, bool trust,
                   const char *factor) {
  gh_arena *a = req->arena;
  const char *token = ch->sess.token;
  if (ch->sign_in) {
    char *owner;
    gh_status rc = verification_consume(st, a, ch->key, &owner, NULL);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "two_factor.challenge_consume");
      return;
    }
    char *tf_name = gh_auth_cookie_name(t->au, a, "two_factor");
    if (!owner || strcmp(owner, ch->user.id)) {
      gh_expire_cookie(t->au, resp, tf_name);
      gh_auth_error(resp, &ERR_COOKIE);
      return;
    }
    gh_session s;
    rc = gh_session_create(t->au, st, req, resp, &ch->user, ch->dont_remember, &s);
    if (rc == GH_OK && trust) rc = trust_device(t, st, req, resp, ch->user.id);
    if (rc != GH_OK) {
      gh_resp_remove_header(resp, "Set-Cookie", NULL, NULL);
      gh_auth_db_error(resp, rc, "two_factor.create_session");
      return;
    }
    gh_expire_cookie(t->au, resp, tf_name);
    if (trust) gh_expire_cookie(t->au, resp, gh_auth_cookie_name(t->au, a, "dont_remember"));
    gh_audit(t->au, req, "sign_in.success", ch->user.id, "session_id", s.id, "factor", factor);
    token = s.token;
  }
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "token", gh_json_str(token));
  gh_json_set_new(o, "user", gh_user_json(&ch->user));
  gh_resp_json(resp, 200, o);
}

/* A TOTP step at most once per user: true when step is newer than the newest accepted one (and
 * it is now recorded). */
static gh_status claim_step(gh_store *st, gh_arena *a, const tf_row *row, const char *uid,
                            int64_t step, bool *fresh) {
  char *ident = gh_arena_printf(a, "2fa-totp-step-%s", uid);
  *fresh = false;
  gh_status rc = gh_store_begin(st);
  if (rc != GH_OK) return rc;
  rc = gh_store_exec(st, &Q_TF_LOCK_ROW, NULL, "t", row->id);
  char *last = NULL;
  if (rc == GH_OK) rc = verification_find(st, a, ident, &last);
  if (rc == GH_OK) {
    char *end;
    long long prev = last ? strtoll(last, &end, 10) : -1;
    if (last && *end) prev = -1;
    *fresh = step > prev;
  }
  if (rc == GH_OK && *fresh) rc = gh_store_exec(st, &Q_V_DELETE, NULL, "t", ident);
  if (rc == GH_OK && *fresh) /* a code of this step verifies until step + 2 begins */
    rc = verification_add(st, ident, gh_arena_printf(a, "%lld", (long long)step),
                          (step + 2 + 1) * PERIOD * 1000LL);
  return gh_store_end(st, rc);
}

/* --- routes ----------------------------------------------------------------------------------- */

static void route_enable(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(t->au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  size_t plen;
  const char *pw = gh_v_string_n(&v, b, "password", true, &plen);
  const gh_json *mj = gh_json_get(b, "method");
  const char *method = "totp";
  if (mj && gh_json_typeof(mj) != GH_JSON_NULL) {
    const char *m = gh_json_string(mj);
    if (!m || (strcmp(m, "otp") && strcmp(m, "totp")))
      gh_v_issue(&v, "body.method", "Invalid option: expected one of \"otp\"|\"totp\"");
    else
      method = m;
  }
  const char *issuer = gh_v_string(&v, b, "issuer", false, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!check_password(st, req, resp, s.u.id, pw, plen)) return;
  if (!strcmp(method, "otp")) { /* on at once: the codes come by e-mail */
    if (!t->c->otp) {
      gh_auth_error(resp, &ERR_OTP_NOT_CONFIGURED);
      return;
    }
    int64_t now = gh_now_ms();
    gh_status urc = gh_store_exec(st, &Q_USER_SET_2FA, NULL, "tbd", s.u.id, true, now);
    if (urc != GH_OK) {
      gh_auth_db_error(resp, urc, "two_factor.enable_otp");
      return;
    }
    s.u.updated_at = now;
    gh_value *slot = gh_values_slot(a, &s.u.extra, GH_MODEL_USER, "twoFactorEnabled");
    if (slot) *slot = (gh_value){.set = true, .num = 1};
    gh_session ns;
    if (!rotate_session(t, st, req, resp, &s, &ns)) return;
    gh_audit(t->au, req, "two_factor.enabled", s.u.id, "method", "otp", NULL, NULL);
    gh_resp_raw_json(resp, 200, "{\"method\":\"otp\"}");
    return;
  }
  tf_row row;
  gh_status rc = tf_get(st, a, s.u.id, &row);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "two_factor.get");
    return;
  }
  bool exists = rc == GH_OK;
  if (exists && row.verified != 0) {
    gh_auth_error(resp, &ERR_TOTP_ALREADY_ENABLED);
    return;
  }
  char codes[BACKUP_CODES][12];
  char *stored_codes = new_backup_codes(t, a, codes);
  char secret[33];
  random_string(secret, 32, true);
  char *stored_secret = gh_aead_encrypt(a, gh_auth_secrets(t->au), secret, 32);
  if (!stored_codes || !stored_secret) {
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  if (exists) {
    rc =
        gh_store_exec(st, &Q_TF_REENROLL, NULL, "tttb", row.id, stored_secret, stored_codes, false);
  } else {
    char id[33];
    gh_rand_id(id, 32);
    rc = gh_store_exec(st, &Q_TF_INSERT, NULL, "ttttb", id, stored_secret, stored_codes, s.u.id,
                       false);
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.enroll");
    return;
  }
  gh_audit(t->au, req, "two_factor.enrolled", s.u.id, NULL, NULL, NULL, NULL);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "method", gh_json_str("totp"));
  add_uri(t, a, o, (const uint8_t *)secret, 32, issuer && *issuer ? issuer : t->c->issuer,
          s.u.email);
  gh_json_set_new(o, "backupCodes", codes_json(codes, BACKUP_CODES));
  memset(secret, 0, sizeof secret);
  memset(codes, 0, sizeof codes);
  gh_resp_json(resp, 200, o);
}

static void route_disable(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(t->au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  size_t plen;
  const char *pw = gh_v_string_n(&v, b, "password", true, &plen);
  if (gh_v_fail(&v, resp)) return;
  if (!check_password(st, req, resp, s.u.id, pw, plen)) return;
  int64_t now = gh_now_ms();
  gh_status rc = gh_store_begin(st);
  if (rc == GH_OK) rc = gh_store_exec(st, &Q_USER_SET_2FA, NULL, "tbd", s.u.id, false, now);
  if (rc == GH_OK) rc = gh_store_exec(st, &Q_TF_DELETE, NULL, "t", s.u.id);
  if (rc == GH_OK)
    rc = gh_store_exec(st, &Q_V_DELETE, NULL, "t", gh_arena_printf(a, "2fa-totp-step-%s", s.u.id));
  rc = gh_store_end(st, rc);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.disable");
    return;
  }
  s.u.updated_at = now;
  gh_value *slot = gh_values_slot(a, &s.u.extra, GH_MODEL_USER, "twoFactorEnabled");
  if (slot) *slot = (gh_value){.set = true, .num = 0};
  gh_session ns;
  if (!rotate_session(t, st, req, resp, &s, &ns)) return;
  char *trust_name = gh_auth_cookie_name(t->au, a, "trust_device");
  const char *tv = gh_signed_cookie(t->au, req, trust_name);
  if (tv) {
    const char *bang = strchr(tv, '!');
    if (bang && bang[1]) {
      const char *end = strchr(bang + 1, '!');
      char *id = end ? gh_arena_strndup(a, bang + 1, (size_t)(end - bang - 1))
                     : gh_arena_strdup(a, bang + 1);
      rc = gh_store_exec(st, &Q_V_DELETE, NULL, "t", id);
      if (rc != GH_OK)
        gh_log(GH_LOG_WARN, "two_factor.trust_delete_failed", "user_id", s.u.id, NULL);
    }
    gh_expire_cookie(t->au, resp, trust_name);
  }
  gh_audit(t->au, req, "two_factor.disabled", s.u.id, NULL, NULL, NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

static void route_get_totp_uri(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(t->au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  size_t plen;
  const char *pw = gh_v_string_n(&v, b, "password", true, &plen);
  if (gh_v_fail(&v, resp)) return;
  tf_row row;
  gh_status rc = tf_get(st, a, s.u.id, &row);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_auth_error(resp, &ERR_TOTP_NOT_ENABLED);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.get");
    return;
  }
  uint8_t *key;
  size_t klen;
  if (totp_key(t, a, row.secret, &key, &klen) != GH_OK) {
    gh_log(GH_LOG_ERROR, "two_factor.decrypt_failed", "user_id", s.u.id, NULL);
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  if (!check_password(st, req, resp, s.u.id, pw, plen)) return;
  gh_json *o = gh_json_object();
  add_uri(t, a, o, key, klen, t->c->issuer, s.u.email);
  memset(key, 0, klen);
  gh_resp_json(resp, 200, o);
}

static void route_verify_totp(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  challenge ch;
  if (!gh_origin_check(t->au, req, resp, false)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  const char *code = gh_v_string(&v, b, "code", true, false, NULL);
  bool trust = gh_v_bool(&v, b, "trustDevice", false);
  if (gh_v_fail(&v, resp)) return;
  if (!begin_verify(t, req, resp, &st, &ch)) return;
  tf_row row;
  gh_status rc = tf_get(st, a, ch.user.id, &row);
  if (rc == GH_ERR_NOT_FOUND || (rc == GH_OK && ch.sign_in && row.verified == 0)) {
    gh_auth_error(resp, &ERR_TOTP_NOT_ENABLED);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.get");
    return;
  }
  if (ch.sign_in && !not_locked(t, st, req, resp, &row, ch.user.id)) return;
  if (ch.sign_in && !begin_attempt(t, st, req, resp, &ch)) return;
  uint8_t *key;
  size_t klen;
  if (totp_key(t, a, row.secret, &key, &klen) != GH_OK) {
    if (ch.sign_in) rearm(st, a, &ch, ch.attempts);
    gh_log(GH_LOG_ERROR, "two_factor.decrypt_failed", "user_id", ch.user.id, NULL);
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  int64_t step = -1;
  bool ok = gh_totp_verify(key, klen, code, gh_now_ms() / 1000, PERIOD, DIGITS, 1, &step);
  memset(key, 0, klen);
  if (ok && !t->c->totp_replay) {
    bool fresh = false;
    rc = claim_step(st, a, &row, ch.user.id, step, &fresh);
    if (rc != GH_OK) {
      if (ch.sign_in) rearm(st, a, &ch, ch.attempts);
      gh_auth_db_error(resp, rc, "two_factor.claim_step");
      return;
    }
    if (!fresh) {
      gh_audit(t->au, req, "two_factor.totp_replayed", ch.user.id, NULL, NULL, NULL, NULL);
      ok = false;
    }
  }
  if (!ok) {
    record_failure(t, st, req, &ch, &row, "totp", true);
    gh_auth_error(resp, &ERR_INVALID_CODE);
    return;
  }
  rc = reset_failures(t, st, &ch, &row);
  if (rc == GH_OK && row.verified != 1) { /* the first code after enable turns it on */
    if (!ch.sign_in) {
      bool on = false;
      rc = user_enabled(st, a, ch.user.id, &on);
      if (rc == GH_OK && !on) {
        int64_t now = gh_now_ms();
        rc = gh_store_exec(st, &Q_USER_SET_2FA, NULL, "tbd", ch.user.id, true, now);
        if (rc == GH_OK) { /* the answer keeps the user as it was, as better-auth's */
          ch.sess.u.updated_at = now;
          gh_values *ex = &ch.sess.u.extra; /* its own copy: ch.user shares the array */
          if (ex->n) {
            gh_value *copy = gh_arena_alloc(a, ex->n * sizeof *copy);
            memcpy(copy, ex->v, ex->n * sizeof *copy);
            ex->v = copy;
          }
          gh_value *slot = gh_values_slot(a, &ch.sess.u.extra, GH_MODEL_USER, "twoFactorEnabled");
          if (slot) *slot = (gh_value){.set = true, .num = 1};
          gh_session ns;
          if (!rotate_session(t, st, req, resp, &ch.sess, &ns)) return;
          ch.sess.token = ns.token;
          gh_audit(t->au, req, "two_factor.enabled", ch.user.id, NULL, NULL, NULL, NULL);
        }
      }
    }
    if (rc == GH_OK) rc = gh_store_exec(st, &Q_TF_VERIFIED, NULL, "tb", row.id, true);
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.verified");
    return;
  }
  finish(t, st, req, resp, &ch, trust, "totp");
}

/* The backup codes of a row: the decrypted JSON array (an empty one when the plaintext is not a
 * JSON array, as better-auth's safeJSONParse). GH_ERR_CRYPTO when it cannot be decrypted. */
static gh_status read_codes(tf *t, gh_arena *a, const char *stored, gh_json **out) {
  uint8_t *pt;
  size_t n;
  if (!stored || gh_aead_decrypt(a, gh_auth_secrets(t->au), stored, &pt, &n) != GH_OK)
    return GH_ERR_CRYPTO;
  gh_json *arr = NULL;
  gh_status rc = gh_json_parse((const char *)pt, n, &arr);
  memset(pt, 0, n);
  if (rc == GH_OK) gh_json_own(a, arr);
  *out =
      rc == GH_OK && gh_json_typeof(arr) == GH_JSON_ARRAY ? arr : gh_json_own(a, gh_json_array());
  return GH_OK;
}

static void route_verify_backup_code(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  challenge ch;
  if (!gh_origin_check(t->au, req, resp, false)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  const char *code = gh_v_string(&v, b, "code", true, false, NULL);
  bool no_session = gh_v_bool(&v, b, "disableSession", false);
  bool trust = gh_v_bool(&v, b, "trustDevice", false);
  if (gh_v_fail(&v, resp)) return;
  if (!begin_verify(t, req, resp, &st, &ch)) return;
  tf_row row;
  gh_status rc = tf_get(st, a, ch.user.id, &row);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_auth_error(resp, &ERR_BACKUP_NOT_ENABLED);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.get");
    return;
  }
  if (ch.sign_in && !not_locked(t, st, req, resp, &row, ch.user.id)) return;
  if (ch.sign_in && !begin_attempt(t, st, req, resp, &ch)) return;
  gh_json *codes = NULL;
  if (read_codes(t, a, row.backup_codes, &codes) !=
      GH_OK) { /* better-auth: the decryption throws (500), the attempt is given back */
    if (ch.sign_in) rearm(st, a, &ch, ch.attempts);
    gh_log(GH_LOG_ERROR, "two_factor.decrypt_failed", "user_id", ch.user.id, NULL);
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  bool found = false;
  gh_json *left = gh_json_own(a, gh_json_array());
  size_t cl = strlen(code);
  for (size_t i = 0; i < gh_json_array_size(codes); i++) {
    gh_json *c = gh_json_array_get(codes, i);
    const char *s = gh_json_string(c);
    bool eq = s && strlen(s) == cl && gh_ct_equal(s, code, cl);
    found |= eq;
    if (!eq) gh_json_append_new(left, gh_json_incref(c));
  }
  if (!found) {
    record_failure(t, st, req, &ch, &row, "backup_code", true);
    gh_auth_error(resp, &ERR_INVALID_BACKUP);
    return;
  }
  size_t len;
  char *json = gh_json_dump(a, left, &len);
  char *stored = gh_aead_encrypt(a, gh_auth_secrets(t->au), json, len);
  memset(json, 0, len);
  long changed = 0;
  rc = stored
           ? gh_store_exec(st, &Q_TF_SWAP_CODES, &changed, "ttt", row.id, row.backup_codes, stored)
           : GH_ERR_CRYPTO;
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.swap_codes");
    return;
  }
  if (changed == 0) {
    gh_resp_raw_json(resp, 409,
                     "{\"message\":\"Failed to verify backup code. Please try again.\"}");
    return;
  }
  gh_audit(t->au, req, "two_factor.backup_code_used", ch.user.id, NULL, NULL, NULL, NULL);
  rc = reset_failures(t, st, &ch, &row);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.reset");
    return;
  }
  if (!no_session) {
    finish(t, st, req, resp, &ch, trust, "backup_code");
    return;
  }
  gh_json *o = gh_json_object(); /* better-auth: token undefined (left out) in a sign-in */
  if (!ch.sign_in) gh_json_set_new(o, "token", gh_json_str(ch.sess.token));
  gh_json_set_new(o, "user", gh_user_json(&ch.user));
  gh_resp_json(resp, 200, o);
}

static void route_generate_backup_codes(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(t->au, req, resp, true, &st, &s)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  size_t plen;
  const char *pw = gh_v_string_n(&v, b, "password", true, &plen);
  if (gh_v_fail(&v, resp)) return;
  bool on = false;
  gh_status rc = user_enabled(st, a, s.u.id, &on);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.user_enabled");
    return;
  }
  if (!on) {
    gh_auth_error(resp, &ERR_NOT_ENABLED);
    return;
  }
  if (!check_password(st, req, resp, s.u.id, pw, plen)) return;
  tf_row row;
  rc = tf_get(st, a, s.u.id, &row);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_auth_error(resp, &ERR_NOT_ENABLED);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.get");
    return;
  }
  char codes[BACKUP_CODES][12];
  char *stored = new_backup_codes(t, a, codes);
  rc = stored ? gh_store_exec(st, &Q_TF_SET_CODES, NULL, "tt", row.id, stored) : GH_ERR_CRYPTO;
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.set_codes");
    return;
  }
  gh_audit(t->au, req, "two_factor.backup_codes_generated", s.u.id, NULL, NULL, NULL, NULL);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "status", gh_json_bool(true));
  gh_json_set_new(o, "backupCodes", codes_json(codes, BACKUP_CODES));
  memset(codes, 0, sizeof codes);
  gh_resp_json(resp, 200, o);
}

/* --- e-mailed codes (better-auth's otp2fa with a sendOTP) ------------------------------------- */

/* The key of the codes of a verification: the challenge, or "<userId>!<sessionId>". */
static const char *otp_key(gh_arena *a, const challenge *ch) {
  return ch->sign_in ? ch->key : gh_arena_printf(a, "%s!%s", ch->user.id, ch->sess.s.id);
}

static void route_send_otp(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  challenge ch;
  if (!gh_origin_check(t->au, req, resp, false)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  (void)gh_v_bool(&v, b, "trustDevice", false);
  if (gh_v_fail(&v, resp)) return;
  if (!t->c->otp) {
    gh_resp_error_msg(resp, 400, "OTP_NOT_CONFIGURED", "otp isn't configured");
    return;
  }
  if (!begin_verify(t, req, resp, &st, &ch)) return;
  char code[7];
  uint8_t rnd[6];
  for (size_t i = 0; i < 6; i++) { /* uniform digits: bytes >= 250 are drawn again */
    do gh_rand_bytes(rnd + i, 1);
    while (rnd[i] >= 250);
    code[i] = (char)('0' + rnd[i] % 10);
  }
  code[6] = 0;
  char *ident = gh_arena_printf(a, "2fa-otp-%s", otp_key(a, &ch));
  char *expires = gh_arena_printf(a, "%ld minutes", (t->c->otp_expires_in + 59) / 60);
  if (t->c->otp_expires_in % 60) expires = gh_arena_printf(a, "%ld seconds", t->c->otp_expires_in);
  gh_mail_var vars[] = {{"name", ch.user.name}, {"otp", code}, {"expiresIn", expires}};
  gh_status rc = gh_store_begin(st);
  if (rc == GH_OK)
    rc = verification_add(st, ident, gh_arena_printf(a, "%s:0", code),
                          gh_now_ms() + t->c->otp_expires_in * 1000);
  if (rc == GH_OK)
    rc = gh_mail_queue(st, a, ch.user.email, "otp", vars, sizeof vars / sizeof vars[0]);
  rc = gh_store_end(st, rc);
  memset(code, 0, sizeof code);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.send_otp");
    return;
  }
  gh_mail_kick();
  gh_audit(t->au, req, "two_factor.otp_sent", ch.user.id, NULL, NULL, NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

static void route_verify_otp(void *self, gh_req *req, gh_resp *resp) {
  tf *t = self;
  gh_arena *a = req->arena;
  gh_store *st;
  challenge ch;
  if (!gh_origin_check(t->au, req, resp, false)) return;
  gh_vctx v = {.a = a};
  const gh_json *b = body_object(&v, req, resp);
  if (!b) return;
  const char *code = gh_v_string(&v, b, "code", true, false, NULL);
  bool trust = gh_v_bool(&v, b, "trustDevice", false);
  if (gh_v_fail(&v, resp)) return;
  if (!begin_verify(t, req, resp, &st, &ch)) return;
  tf_row row;
  bool has_row = false;
  if (ch.sign_in) {
    gh_status rc = tf_get(st, a, ch.user.id, &row);
    if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
      gh_auth_db_error(resp, rc, "two_factor.get");
      return;
    }
    has_row = rc == GH_OK;
    if (has_row && !not_locked(t, st, req, resp, &row, ch.user.id)) return;
  }
  char *ident = gh_arena_printf(a, "2fa-otp-%s", otp_key(a, &ch));
  char *stored;
  int64_t exp = 0;
  gh_status rc = verification_consume(st, a, ident, &stored, &exp);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.otp_consume");
    return;
  }
  if (!stored) {
    gh_auth_error(resp, &ERR_OTP_EXPIRED);
    return;
  }
  char *colon = strchr(stored, ':');
  long attempts = 0;
  if (colon) {
    *colon = 0;
    attempts = strtol(colon + 1, NULL, 10);
    if (attempts < 0) attempts = 0;
  }
  if (attempts >= ATTEMPTS_PER_CHALLENGE) {
    gh_auth_error(resp, &ERR_TOO_MANY);
    return;
  }
  size_t sl = strlen(stored);
  if (!(strlen(code) == sl && gh_ct_equal(stored, code, sl))) {
    rc = verification_add(st, ident, gh_arena_printf(a, "%s:%ld", stored, attempts + 1), exp);
    if (rc != GH_OK) gh_log(GH_LOG_WARN, "two_factor.rearm_failed", "user_id", ch.user.id, NULL);
    record_failure(t, st, req, &ch, has_row ? &row : NULL, "otp", false);
    gh_auth_error(resp, &ERR_INVALID_CODE);
    return;
  }
  rc = reset_failures(t, st, &ch, has_row ? &row : NULL);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.reset");
    return;
  }
  bool on = false;
  rc = user_enabled(st, a, ch.user.id, &on);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "two_factor.user_enabled");
    return;
  }
  if (!on) { /* better-auth: a code with the session turns two-factor on */
    if (ch.sign_in) {
      gh_resp_error_msg(resp, 400, "FAILED_TO_CREATE_SESSION", "Failed to create session");
      return;
    }
    int64_t now = gh_now_ms();
    rc = gh_store_exec(st, &Q_USER_SET_2FA, NULL, "tbd", ch.user.id, true, now);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "two_factor.enable_otp");
      return;
    }
    ch.sess.u.updated_at = now;
    gh_value *slot = gh_values_slot(a, &ch.sess.u.extra, GH_MODEL_USER, "twoFactorEnabled");
    if (slot) *slot = (gh_value){.set = true, .num = 1};
    gh_session ns;
    if (!rotate_session(t, st, req, resp, &ch.sess, &ns)) return;
    gh_json *o = gh_json_object();
    gh_json_set_new(o, "token", gh_json_str(ns.token));
    gh_json_set_new(o, "user", gh_user_json(&ch.sess.u));
    gh_resp_json(resp, 200, o);
    return;
  }
  finish(t, st, req, resp, &ch, trust, "otp");
}

static const gh_route ROUTES[] = {
    {"POST", BASE "/enable", route_enable, GH_ROUTE_SLOW, NULL},
    {"POST", BASE "/disable", route_disable, GH_ROUTE_SLOW, NULL},
    {"POST", BASE "/get-totp-uri", route_get_totp_uri, GH_ROUTE_SLOW, NULL},
    {"POST", BASE "/verify-totp", route_verify_totp, 0, NULL},
    {"POST", BASE "/verify-backup-code", route_verify_backup_code, 0, NULL},
    {"POST", BASE "/generate-backup-codes", route_generate_backup_codes, GH_ROUTE_SLOW, NULL},
    {"POST", BASE "/send-otp", route_send_otp, 0, NULL},
    {"POST", BASE "/verify-otp", route_verify_otp, 0, NULL},
};

const gh_plugin gh_plugin_two_factor = {
    .id = "two-factor",
    .summary = "better-auth's twoFactor(): TOTP (authenticator apps) with backup codes, codes by "
               "e-mail (optional) and trusted devices, a second step after sign-in "
               "(`twoFactorRedirect`), lockout after repeated failures; a TOTP code is accepted "
               "once per time step",
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(tf_conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = sizeof ROUTES / sizeof ROUTES[0],
    .errors = ERRORS,
    .nerrors = sizeof ERRORS / sizeof ERRORS[0],
    .migrations = MIGRATIONS,
    .nmigrations = sizeof MIGRATIONS / sizeof MIGRATIONS[0],
    .user_fields = USER_FIELDS,
    .nuser_fields = sizeof USER_FIELDS / sizeof USER_FIELDS[0],
    .rate_rules = RATE_RULES,
    .nrate_rules = sizeof RATE_RULES / sizeof RATE_RULES[0],
    .sign_in = sign_in,
};
