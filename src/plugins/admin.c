/* better-auth's admin plugin (BA/plugins/admin, npm better-auth 1.7.25): roles on users
 * (role, banned, banReason, banExpires) and impersonation (session.impersonatedBy), the default
 * access-control statements, every admin endpoint with its shapes and error codes, the ban
 * check at sign-in (the sign_in gate: 403 BANNED_USER, an expired ban is lifted), list-sessions
 * without impersonation sessions, and `gatehouse user set-role|ban|unban|list`. Every admin
 * action is an audit line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/cookies.h"
#include "auth/credentials.h"
#include "auth/db.h"
#include "auth/fields.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/validate.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/strlist.h"
#include "common/time.h"
#include "crypto/password.h"
#include "common/rand.h"
#include "plugins/plugins.h"

#define P "/api/auth/admin"

typedef struct {
  char *default_role;
  char *admin_roles;
  char *admin_user_ids;
  long impersonation_s;
  char *default_ban_reason;
  long default_ban_expires_s;
  bool allow_impersonating_admins;
  char *banned_message;
} conf;

typedef struct {
  gh_auth *au;
  const conf *c;
} admin;

static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_ADMIN_DEFAULT_ROLE", NULL, GH_CONF_STR, "user", 0, 0, 0,
     offsetof(conf, default_role), "Role of new users (better-auth's defaultRole)"},
    {"GATEHOUSE_ADMIN_ROLES", NULL, GH_CONF_STR, "admin", 0, 0, 0, offsetof(conf, admin_roles),
     "Comma list of the roles counted as admins (adminRoles; `admin` or `user`)"},
    {"GATEHOUSE_ADMIN_USER_IDS", NULL, GH_CONF_STR, "", 0, 0, 0, offsetof(conf, admin_user_ids),
     "Comma list of user ids that have every admin permission whatever their role (adminUserIds)"},
    {"GATEHOUSE_ADMIN_IMPERSONATION_SECONDS", NULL, GH_CONF_INT, "3600", 1, 86400 * 30, 0,
     offsetof(conf, impersonation_s),
     "Lifetime of an impersonation session (impersonationSessionDuration)"},
    {"GATEHOUSE_ADMIN_DEFAULT_BAN_REASON", NULL, GH_CONF_STR, "No reason", 0, 0, 0,
     offsetof(conf, default_ban_reason), "Ban reason when none is given (defaultBanReason)"},
    {"GATEHOUSE_ADMIN_DEFAULT_BAN_SECONDS", NULL, GH_CONF_INT, "0", 0, 86400L * 3650, 0,
     offsetof(conf, default_ban_expires_s),
     "Ban length when none is given, 0 = until lifted (defaultBanExpiresIn)"},
    {"GATEHOUSE_ADMIN_ALLOW_IMPERSONATING_ADMINS", NULL, GH_CONF_BOOL, "false", 0, 0, 0,
     offsetof(conf, allow_impersonating_admins),
     "Let admins impersonate other admins without the impersonate-admins permission"},
    {"GATEHOUSE_ADMIN_BANNED_MESSAGE", NULL, GH_CONF_STR,
     "You have been banned from this application. Please contact support if you believe this is "
     "an error.",
     0, 0, 0, offsetof(conf, banned_message), "Message of the 403 BANNED_USER at sign-in"},
};

/* The plugin's own codes (those the core also has are answered with gh_resp_error_msg). */
enum {
  E_CHANGE_ROLE,
  E_CREATE,
  E_LIST,
  E_LIST_SESSIONS,
  E_BAN,
  E_IMPERSONATE,
  E_REVOKE,
  E_DELETE,
  E_SET_PASSWORD,
  E_GET,
  E_UPDATE,
  E_BAN_SELF,
  E_REMOVE_SELF,
  E_NO_DATA,
  E_IMPERSONATE_ADMINS,
  E_ROLE_TYPE,
  E_SET_EMAIL,
  E_PASSWORD_VIA_UPDATE,
  E_ID_UPDATE,
  E_BANNED,
  E_NONEXISTENT_ROLE,
  E__N
};
static const gh_err_info ERRORS[] = {
    [E_CHANGE_ROLE] = {403, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
                       "You are not allowed to change users role"},
    [E_CREATE] = {403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
                  "You are not allowed to create users"},
    [E_LIST] = {403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users"},
    [E_LIST_SESSIONS] = {403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
                         "You are not allowed to list users sessions"},
    [E_BAN] = {403, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users"},
    [E_IMPERSONATE] = {403, "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
                       "You are not allowed to impersonate users"},
    [E_REVOKE] = {403, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
                  "You are not allowed to revoke users sessions"},
    [E_DELETE] = {403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
                  "You are not allowed to delete users"},
    [E_SET_PASSWORD] = {403, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
                        "You are not allowed to set users password"},
    [E_GET] = {403, "YOU_ARE_NOT_ALLOWED_TO_GET_USER", "You are not allowed to get user"},
    [E_UPDATE] = {403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
                  "You are not allowed to update users"},
    [E_BAN_SELF] = {400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself"},
    [E_REMOVE_SELF] = {400, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself"},
    [E_NO_DATA] = {400, "NO_DATA_TO_UPDATE", "No data to update"},
    [E_IMPERSONATE_ADMINS] = {403, "YOU_CANNOT_IMPERSONATE_ADMINS",
                              "You cannot impersonate admins"},
    [E_ROLE_TYPE] = {400, "INVALID_ROLE_TYPE", "Invalid role type"},
    [E_SET_EMAIL] = {403, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL",
                     "You are not allowed to update users email"},
    [E_PASSWORD_VIA_UPDATE] = {400, "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
                               "Password cannot be updated through update-user. Use the "
                               "set-user-password endpoint instead"},
    [E_ID_UPDATE] = {400, "USER_ID_CANNOT_BE_UPDATED", "User id cannot be updated"},
    [E_BANNED] = {403, "BANNED_USER", "You have been banned from this application"},
    [E_NONEXISTENT_ROLE] = {400, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
                            "You are not allowed to set a non-existent role value"},
};

static const gh_field USER_FIELDS[] = {
    {"role", GH_FIELD_STRING, NULL, false, false},
    {"banned", GH_FIELD_BOOLEAN, "false", false, false},
    {"banReason", GH_FIELD_STRING, NULL, false, false},
    {"banExpires", GH_FIELD_DATE, NULL, false, false},
};
static const gh_field SESSION_FIELDS[] = {
    {"impersonatedBy", GH_FIELD_STRING, NULL, false, false},
};

/* As better-auth's migrator adds them (spec §4); a database better-auth migrated already has
 * them, and then nothing is changed. */
static const gh_store_migration MIGRATIONS[] = {
    {"admin/030_user_session_columns",
     "alter table \"user\" add column if not exists \"role\" text;\n"
     "alter table \"user\" add column if not exists \"banned\" integer;\n"
     "alter table \"user\" add column if not exists \"banReason\" text;\n"
     "alter table \"user\" add column if not exists \"banExpires\" date;\n"
     "alter table \"session\" add column if not exists \"impersonatedBy\" text;\n",
     "alter table \"user\" add column if not exists \"role\" text;\n"
     "alter table \"user\" add column if not exists \"banned\" boolean;\n"
     "alter table \"user\" add column if not exists \"banReason\" text;\n"
     "alter table \"user\" add column if not exists \"banExpires\" timestamptz;\n"
     "alter table \"session\" add column if not exists \"impersonatedBy\" text;\n"},
};

/* ---------------------------------------------------------------- access control */

/* better-auth's default statements: admin has everything but impersonate-admins, user nothing. */
static const char *const ADMIN_USER_ACTIONS[] = {
    "create",       "list",      "set-role",  "ban", "impersonate", "delete",
    "set-password", "set-email", "set-phone", "get", "update",      NULL};
static const char *const ADMIN_SESSION_ACTIONS[] = {"list", "revoke", "delete", NULL};

static bool in_list(const char *list, const char *item, size_t len) {
  const char *cur = list, *b;
  size_t n;
  while (gh_list_next(&cur, &b, &n))
    if (n == len && memcmp(b, item, len) == 0) return true;
  return false;
}

static bool is_admin_user_id(const admin *ad, const char *user_id) {
  return user_id && *user_id && in_list(ad->c->admin_user_ids, user_id, strlen(user_id));
}

/* The actions a role grants on a resource (NULL: the role does not know the resource). */
static const char *const *role_actions(const char *role, size_t len, const char *resource) {
  static const char *const NONE[] = {NULL};
  bool is_admin = len == 5 && !memcmp(role, "admin", 5);
  bool is_user = len == 4 && !memcmp(role, "user", 4);
  if (!is_admin && !is_user) return NULL;
  if (!strcmp(resource, "user")) return is_admin ? ADMIN_USER_ACTIONS : NONE;
  if (!strcmp(resource, "session")) return is_admin ? ADMIN_SESSION_ACTIONS : NONE;
  return NULL;
}

static bool has_action(const char *const *actions, const char *a) {
  for (; a && *actions; actions++)
    if (!strcmp(*actions, a)) return true;
  return false;
}

/* role(statements).authorize(request) of one role for a request {resource: [actions] |
 * {actions, connector}} (AND over resources). */
static bool role_authorizes(const char *role, size_t len, const gh_json *request) {
  bool any = false;
  for (void *it = gh_json_iter((gh_json *)request); it;
       it = gh_json_iter_next((gh_json *)request, it)) {
    const char *const *allowed = role_actions(role, len, gh_json_iter_key(it));
    if (!allowed) return false;
    const gh_json *req = gh_json_iter_value(it);
    bool or = false;
    if (gh_json_typeof(req) == GH_JSON_OBJECT) {
      const char *c = gh_json_string(gh_json_get(req, "connector"));
      or = c && !strcmp(c, "OR");
      req = gh_json_get(req, "actions");
    }
    size_t n = gh_json_typeof(req) == GH_JSON_ARRAY ? gh_json_array_size(req) : 0;
    bool ok = n > 0 && ! or ;
    for (size_t i = 0; i < n; i++) {
      bool has = has_action(allowed, gh_json_string(gh_json_array_get(req, i)));
      if (or &&has) ok = true;
      if (! or &&!has) ok = false;
    }
    if (!ok) return false;
    any = true;
  }
  return any;
}

/* better-auth's hasPermission. */
static bool permitted_json(const admin *ad, const char *user_id, const char *role,
                           const gh_json *request) {
  if (is_admin_user_id(ad, user_id)) return true;
  if (!request) return false;
  const char *roles = role && *role ? role : ad->c->default_role;
  const char *cur = roles, *b;
  size_t n;
  while (gh_list_next(&cur, &b, &n))
    if (role_authorizes(b, n, request)) return true;
  return false;
}

static bool permitted(const admin *ad, const gh_user *u, const char *resource, const char *action) {
  gh_json *req = gh_json_object(), *arr = gh_json_array();
  gh_json_append_new(arr, gh_json_str(action));
  gh_json_set_new(req, resource, arr);
  const gh_value *role = gh_user_value(u, "role");
  bool ok = permitted_json(ad, u->id, role && !role->null ? role->text : NULL, req);
  gh_json_decref(req);
  return ok;
}

static bool is_admin_target(const admin *ad, const gh_user *u) {
  const gh_value *rv = gh_user_value(u, "role");
  const char *roles = rv && !rv->null && rv->text && *rv->text ? rv->text : ad->c->default_role;
  const char *cur = roles, *b;
  size_t n;
  while (gh_list_next(&cur, &b, &n))
    if (in_list(ad->c->admin_roles, b, n)) return true;
  return is_admin_user_id(ad, u->id);
}

/* ---------------------------------------------------------------- helpers */

static bool banned_now(const gh_user *u, int64_t now, bool *expired) {
  const gh_value *b = gh_user_value(u, "banned"), *e = gh_user_value(u, "banExpires");
  *expired = false;
  if (!b || b->null || !b->num) return false;
  if (e && !e->null && e->num < now) {
    *expired = true;
    return false;
  }
  return true;
}

static gh_status lift_ban(gh_store *st, const char *user_id) {
  gh_store_set set[] = {{"banned", {.set = true, .num = 0}},
                        {"banReason", {.set = true, .null = true}},
                        {"banExpires", {.set = true, .null = true}}};
  return gh_store_update_user_columns(st, user_id, set, 3, gh_now_ms());
}

/* adminMiddleware: a DB-verified session, else 401 with an empty body. */
static bool admin_session(admin *ad, gh_req *req, gh_resp *resp, bool state_changing, gh_store **st,
                          gh_sess *s) {
  if (state_changing && !gh_origin_check(ad->au, req, resp, false)) return false;
  *st = gh_auth_store(resp);
  if (!*st) return false;
  gh_status rc = gh_session_resolve(ad->au, *st, req, s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return false;
  }
  if (!s->found) {
    gh_resp_empty(resp, 401, true);
    return false;
  }
  return true;
}

static bool body_object(gh_req *req, gh_resp *resp, gh_vctx *v) {
  v->a = req->arena;
  v->msg = NULL;
  if (!gh_v_object(v, req->json, "object")) {
    gh_v_fail(v, resp);
    return false;
  }
  return true;
}

/* A state-changing admin route's start: the admin session, then a JSON object body. */
static bool admin_body(admin *ad, gh_req *req, gh_resp *resp, gh_store **st, gh_sess *s,
                       gh_vctx *v) {
  return admin_session(ad, req, resp, true, st, s) && body_object(req, resp, v);
}

/* The user may do action on resource; otherwise answers the route's 403 (ERRORS[err]). */
static bool allowed(const admin *ad, gh_resp *resp, const gh_user *u, const char *resource,
                    const char *action, int err) {
  if (permitted(ad, u, resource, action)) return true;
  gh_auth_error(resp, &ERRORS[err]);
  return false;
}

/* z.coerce.string(): a number or boolean becomes its text; absent becomes "undefined". */
static const char *coerce_string(gh_arena *a, const gh_json *body, const char *key) {
  const gh_json *j = gh_json_get(body, key);
  switch (gh_json_typeof(j)) {
  case GH_JSON_STRING:
    return gh_json_string(j);
  case GH_JSON_INTEGER:
    return gh_arena_printf(a, "%lld", (long long)gh_json_integer(j));
  case GH_JSON_TRUE:
    return "true";
  case GH_JSON_FALSE:
    return "false";
  case GH_JSON_NULL:
    return "null";
  default:
    return "undefined";
  }
}

/* Looks the user up: false after answering 404 USER_NOT_FOUND or a DB error. */
static bool find_user(gh_store *st, gh_req *req, gh_resp *resp, const char *id, gh_user *u) {
  gh_status rc = gh_store_user_by_id(st, req->arena, id, u);
  if (rc == GH_ERR_NOT_FOUND) { /* APIError.from("NOT_FOUND", USER_NOT_FOUND) */
    gh_resp_error_msg(resp, 404, "USER_NOT_FOUND", gh_err_lookup(GH_E_USER_NOT_FOUND)->message);
    return false;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "user_by_id");
    return false;
  }
  return true;
}

static gh_json *user_wrapped(const gh_user *u) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "user", gh_user_json(u));
  return o;
}

/* role: a string or an array of strings → "a,b"; NULL after answering INVALID_ROLE_TYPE (or a
 * validation error). */
static const char *parse_roles(gh_arena *a, gh_resp *resp, const gh_json *j) {
  if (gh_json_typeof(j) == GH_JSON_STRING) return gh_json_string(j);
  if (gh_json_typeof(j) != GH_JSON_ARRAY) {
    gh_auth_error(resp, &ERRORS[E_ROLE_TYPE]);
    return NULL;
  }
  char *out = "";
  for (size_t i = 0; i < gh_json_array_size(j); i++) {
    const char *r = gh_json_string(gh_json_array_get(j, i));
    if (!r) {
      gh_auth_error(resp, &ERRORS[E_ROLE_TYPE]);
      return NULL;
    }
    out = gh_arena_printf(a, "%s%s%s", out, i ? "," : "", r);
  }
  return out;
}

static void audit(admin *ad, gh_req *req, const char *event, const gh_sess *s, const char *target,
                  const char *k, const char *v) {
  gh_audit(ad->au, req, event, target, "admin_id", s->u.id, k, v);
}

/* The values of data's keys that are user columns: core ones (name, email, emailVerified, image)
 * and the installed fields (role, banned, ...). Unknown keys are left out. */
static size_t data_set(gh_arena *a, const gh_json *data, gh_store_set *set, size_t cap) {
  static const struct {
    const char *name;
    gh_field_type t;
  } CORE[] = {{"name", GH_FIELD_STRING},
              {"email", GH_FIELD_STRING},
              {"emailVerified", GH_FIELD_BOOLEAN},
              {"image", GH_FIELD_STRING}};
  size_t n = 0;
  const gh_store_fields *f = gh_store_fields_current();
  for (void *it = gh_json_iter((gh_json *)data); it && n < cap;
       it = gh_json_iter_next((gh_json *)data, it)) {
    const char *k = gh_json_iter_key(it);
    const gh_json *j = gh_json_iter_value(it);
    int type = 0;
    for (size_t i = 0; i < sizeof CORE / sizeof CORE[0] && !type; i++)
      if (!strcmp(CORE[i].name, k)) type = (int)CORE[i].t;
    int idx = gh_store_field_index(f, GH_MODEL_USER, k);
    if (!type && idx >= 0) type = (int)gh_store_field_at(f, GH_MODEL_USER, (size_t)idx)->type;
    if (!type) continue;
    gh_value v = {.set = true};
    switch (gh_json_typeof(j)) {
    case GH_JSON_NULL:
      v.null = true;
      break;
    case GH_JSON_STRING:
      if (type == GH_FIELD_DATE) {
        if (gh_iso8601_parse(gh_json_string(j), &v.num) != GH_OK) continue;
      } else if (type == GH_FIELD_STRING) {
        v.text = gh_arena_strdup(a, gh_json_string(j));
      } else {
        continue;
      }
      break;
    case GH_JSON_TRUE:
    case GH_JSON_FALSE:
      if (type != GH_FIELD_BOOLEAN) continue;
      v.num = gh_json_typeof(j) == GH_JSON_TRUE;
      break;
    case GH_JSON_INTEGER:
      if (type == GH_FIELD_DATE || type == GH_FIELD_NUMBER)
        v.num = gh_json_integer(j);
      else
        continue;
      break;
    default:
      continue;
    }
    set[n].column = gh_arena_strdup(a, k);
    set[n].v = v;
    n++;
  }
  return n;
}

/* ---------------------------------------------------------------- routes */

static void route_set_role(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const gh_json *b = req->json;
  const gh_json *rj = gh_json_get(b, "role");
  gh_json_type rt = gh_json_typeof(rj);
  if (rt != GH_JSON_STRING && rt != GH_JSON_ARRAY) {
    gh_v_issue(&v, "body.role", "Invalid input");
    gh_v_fail(&v, resp);
    return;
  }
  const char *uid = coerce_string(req->arena, b, "userId");
  if (!allowed(ad, resp, &s.u, "user", "set-role", E_CHANGE_ROLE)) return;
  const char *role = parse_roles(req->arena, resp, rj);
  if (!role) return;
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  gh_store_set set[] = {{"role", {.set = true, .text = (char *)role}}};
  int64_t now = gh_now_ms();
  gh_status rc = gh_store_update_user_columns(st, uid, set, 1, now);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "set_role");
    return;
  }
  gh_value *slot = gh_values_slot(req->arena, &u.extra, GH_MODEL_USER, "role");
  if (slot) *slot = set[0].v;
  u.updated_at = now;
  audit(ad, req, "admin.set_role", &s, uid, "role", role);
  gh_resp_json(resp, 200, user_wrapped(&u));
}

static void route_get_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  if (!admin_session(ad, req, resp, false, &st, &s)) return;
  const char *id = gh_req_query(req, "id");
  if (!id) {
    gh_resp_error_msg(resp, 400, "VALIDATION_ERROR",
                      "[query.id] Invalid input: expected string, received undefined");
    return;
  }
  if (!allowed(ad, resp, &s.u, "user", "get", E_GET)) return;
  gh_user u;
  if (!find_user(st, req, resp, id, &u)) return;
  gh_resp_json(resp, 200, gh_user_json(&u));
}

static bool has_key(const gh_json *o, const char *k) {
  return gh_json_get(o, k) != NULL;
}

/* Runs on the worker pool (password hashing). */
static void route_create_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const gh_json *b = req->json;
  const char *email_in = gh_v_string(&v, b, "email", true, false, NULL);
  size_t plen = 0;
  const char *password = gh_v_string_n(&v, b, "password", false, &plen);
  const char *name = gh_v_string(&v, b, "name", true, false, NULL);
  const gh_json *data = gh_json_get(b, "data");
  if (data && gh_json_typeof(data) != GH_JSON_OBJECT)
    gh_v_issue(&v, "body.data",
               gh_arena_printf(a, "Invalid input: expected record, received %s",
                               gh_json_type_name(gh_json_typeof(data))));
  if (gh_v_fail(&v, resp)) return;
  if (!allowed(ad, resp, &s.u, "user", "create", E_CREATE)) return;
  const gh_json *rj = gh_json_get(b, "role");
  if (!rj && data) rj = gh_json_get(data, "role");
  const char *role = NULL;
  if (rj) {
    if (!permitted(ad, &s.u, "user", "set-role")) {
      gh_auth_error(resp, &ERRORS[E_CHANGE_ROLE]);
      return;
    }
    if (!(role = parse_roles(a, resp, rj))) return;
  }
  if (data &&
      (has_key(data, "banned") || has_key(data, "banReason") || has_key(data, "banExpires")) &&
      !permitted(ad, &s.u, "user", "ban")) {
    gh_auth_error(resp, &ERRORS[E_BAN]);
    return;
  }
  char *email = gh_ascii_lower(a, email_in);
  if (!gh_email_valid(email)) {
    gh_resp_error(resp, GH_E_INVALID_EMAIL);
    return;
  }
  if (password && plen > 0 && gh_utf16_length(password, plen) > 128) {
    gh_resp_error(resp, GH_E_PASSWORD_TOO_LONG);
    return;
  }
  gh_user existing;
  gh_status rc = gh_store_user_by_email(st, a, email, &existing);
  if (rc == GH_OK) {
    gh_resp_error_msg(resp, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                      "User already exists. Use another email.");
    return;
  }
  if (rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "user_by_email");
    return;
  }
  int64_t now = gh_now_ms();
  gh_user u;
  gh_user_init(a, &u, name, email, NULL, now);
  if (data) { /* ...userData, then email, name and role over it */
    size_t nf = gh_store_fields_count(gh_store_fields_current(), GH_MODEL_USER);
    gh_store_set *set = gh_arena_alloc(a, (nf + 4) * sizeof *set);
    size_t n = data_set(a, data, set, nf + 4);
    for (size_t i = 0; i < n; i++) {
      if (!strcmp(set[i].column, "emailVerified"))
        u.email_verified = set[i].v.num != 0;
      else if (!strcmp(set[i].column, "image"))
        u.image = set[i].v.null ? NULL : set[i].v.text;
      else {
        gh_value *slot = gh_values_slot(a, &u.extra, GH_MODEL_USER, set[i].column);
        if (slot) *slot = set[i].v;
      }
    }
  }
  gh_value *rs = gh_values_slot(a, &u.extra, GH_MODEL_USER, "role");
  if (rs) *rs = (gh_value){.set = true, .text = (char *)(role ? role : ad->c->default_role)};
  char hash[GH_PASSWORD_HASH_LEN + 1];
  gh_account acc;
  bool with_pw = password && plen > 0;
  if (with_pw) {
    if (gh_password_hash(password, plen, hash) != GH_OK) {
      gh_resp_error(resp, GH_E_FAILED_TO_CREATE_USER);
      return;
    }
    gh_credential_init(a, &acc, &u, hash, now);
  }
  rc = gh_store_create_user(st, &u, with_pw ? &acc : NULL, NULL);
  memset(hash, 0, sizeof hash);
  if (rc == GH_ERR_CONFLICT) {
    gh_resp_error_msg(resp, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                      "User already exists. Use another email.");
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "create_user");
    return;
  }
  audit(ad, req, "admin.create_user", &s, u.id, "role", rs ? rs->text : NULL);
  gh_resp_json(resp, 200, user_wrapped(&u));
}

static void route_update_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const gh_json *b = req->json;
  const gh_json *data = gh_json_get(b, "data");
  if (gh_json_typeof(data) != GH_JSON_OBJECT) {
    gh_v_issue(&v, "body.data",
               gh_arena_printf(a, "Invalid input: expected record, received %s",
                               gh_json_type_name(gh_json_typeof(data))));
    gh_v_fail(&v, resp);
    return;
  }
  const char *uid = coerce_string(a, b, "userId");
  if (!allowed(ad, resp, &s.u, "user", "update", E_UPDATE)) return;
  if (gh_json_object_size(data) == 0) {
    gh_auth_error(resp, &ERRORS[E_NO_DATA]);
    return;
  }
  if (has_key(data, "password")) {
    gh_auth_error(resp, &ERRORS[E_PASSWORD_VIA_UPDATE]);
    return;
  }
  if (has_key(data, "id")) {
    gh_auth_error(resp, &ERRORS[E_ID_UPDATE]);
    return;
  }
  const char *role = NULL;
  if (has_key(data, "role")) {
    if (!permitted(ad, &s.u, "user", "set-role")) {
      gh_auth_error(resp, &ERRORS[E_CHANGE_ROLE]);
      return;
    }
    if (!(role = parse_roles(a, resp, gh_json_get(data, "role")))) return;
  }
  bool bans = gh_json_typeof(gh_json_get(data, "banned")) == GH_JSON_TRUE;
  if (has_key(data, "banned") || has_key(data, "banReason") || has_key(data, "banExpires")) {
    if (!permitted(ad, &s.u, "user", "ban")) {
      gh_auth_error(resp, &ERRORS[E_BAN]);
      return;
    }
    if (bans && !strcmp(uid, s.u.id)) {
      gh_auth_error(resp, &ERRORS[E_BAN_SELF]);
      return;
    }
  }
  char *email = NULL;
  if (has_key(data, "email") || has_key(data, "emailVerified")) {
    if (!permitted(ad, &s.u, "user", "set-email")) {
      gh_auth_error(resp, &ERRORS[E_SET_EMAIL]);
      return;
    }
    if (has_key(data, "email")) {
      const char *e = gh_json_string(gh_json_get(data, "email"));
      email = gh_ascii_lower(a, e ? e : "");
      if (!gh_email_valid(email)) {
        gh_resp_error(resp, GH_E_INVALID_EMAIL);
        return;
      }
      gh_user other;
      gh_status rc = gh_store_user_by_email(st, a, email, &other);
      if (rc == GH_OK && strcmp(other.id, uid)) {
        gh_resp_error_msg(resp, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                          "User already exists. Use another email.");
        return;
      }
      if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
        gh_auth_db_error(resp, rc, "user_by_email");
        return;
      }
    }
  }
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  size_t nf = gh_store_fields_count(gh_store_fields_current(), GH_MODEL_USER);
  gh_store_set *set = gh_arena_alloc(a, (nf + 4) * sizeof *set);
  size_t n = data_set(a, data, set, nf + 4);
  for (size_t i = 0; i < n; i++) {
    if (role && !strcmp(set[i].column, "role"))
      set[i].v = (gh_value){.set = true, .text = (char *)role};
    if (email && !strcmp(set[i].column, "email")) set[i].v.text = email;
  }
  if (role) { /* an array role is not a column value data_set takes */
    bool found = false;
    for (size_t i = 0; i < n; i++) found = found || !strcmp(set[i].column, "role");
    if (!found && n < nf + 4)
      set[n++] = (gh_store_set){"role", {.set = true, .text = (char *)role}};
  }
  int64_t now = gh_now_ms();
  gh_status rc = gh_store_update_user_columns(st, uid, set, n, now);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "update_user");
    return;
  }
  if (bans) {
    rc = gh_store_delete_user_sessions(st, uid, NULL);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "revoke_sessions");
      return;
    }
    gh_auth_sessions_revoked(ad->au, st, uid, NULL, NULL);
  }
  if ((rc = gh_store_user_by_id(st, a, uid, &u)) != GH_OK) {
    gh_auth_db_error(resp, rc, "user_by_id");
    return;
  }
  audit(ad, req, "admin.update_user", &s, uid, bans ? "banned" : NULL, bans ? "true" : NULL);
  gh_resp_json(resp, 200, gh_user_json(&u));
}

static bool positive_number(const char *q, int64_t *out) {
  if (!q || !*q) return false;
  char *end;
  double d = strtod(q, &end);
  if (*end || !(d > 0)) return false; /* Number(x) || undefined */
  *out = (int64_t)d;
  return true;
}

static void route_list_users(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  if (!admin_session(ad, req, resp, false, &st, &s)) return;
  if (!allowed(ad, resp, &s.u, "user", "list", E_LIST)) return;
  gh_user_list_query q = {0};
  const char *sv = gh_req_query(req, "searchValue");
  if (sv && *sv) {
    q.search_value = sv;
    q.search_field = gh_req_query(req, "searchField");
    q.search_op = gh_req_query(req, "searchOperator");
  }
  q.filter_value = gh_req_query(req, "filterValue");
  q.filter_field = gh_req_query(req, "filterField");
  q.filter_op = gh_req_query(req, "filterOperator");
  q.sort_by = gh_req_query(req, "sortBy");
  const char *dir = gh_req_query(req, "sortDirection");
  q.sort_desc = dir && !strcmp(dir, "desc");
  int64_t limit = 0, offset = 0;
  bool has_limit = positive_number(gh_req_query(req, "limit"), &limit);
  bool has_offset = positive_number(gh_req_query(req, "offset"), &offset);
  q.limit = has_limit ? limit : 100;
  q.offset = has_offset ? offset : 0;
  gh_user *users = NULL;
  size_t n = 0;
  int64_t total = 0;
  gh_status rc = gh_store_list_users(st, req->arena, &q, &users, &n, &total);
  if (rc == GH_ERR_INVALID) { /* better-auth answers an empty page when the query fails */
    gh_resp_raw_json(resp, 200, "{\"users\":[],\"total\":0}");
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_users");
    return;
  }
  gh_json *o = gh_json_object(), *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, gh_user_json(&users[i]));
  gh_json_set_new(o, "users", arr);
  gh_json_set_new(o, "total", gh_json_int(total));
  if (has_limit) gh_json_set_new(o, "limit", gh_json_int(limit));
  if (has_offset) gh_json_set_new(o, "offset", gh_json_int(offset));
  gh_resp_json(resp, 200, o);
}

static void route_list_user_sessions(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *uid = coerce_string(req->arena, req->json, "userId");
  if (!allowed(ad, resp, &s.u, "session", "list", E_LIST_SESSIONS)) return;
  gh_session *list;
  size_t n;
  gh_status rc = gh_store_list_sessions(st, req->arena, uid, gh_now_ms(), &list, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_sessions");
    return;
  }
  gh_json *o = gh_json_object(), *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, gh_session_json(&list[i]));
  gh_json_set_new(o, "sessions", arr);
  gh_resp_json(resp, 200, o);
}

static void route_unban_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *uid = coerce_string(req->arena, req->json, "userId");
  if (!allowed(ad, resp, &s.u, "user", "ban", E_BAN)) return;
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  gh_status rc = lift_ban(st, uid);
  if (rc == GH_OK) rc = gh_store_user_by_id(st, req->arena, uid, &u);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "unban_user");
    return;
  }
  audit(ad, req, "admin.unban_user", &s, uid, NULL, NULL);
  gh_resp_json(resp, 200, user_wrapped(&u));
}

static void route_ban_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const gh_json *b = req->json;
  const char *reason = gh_v_string(&v, b, "banReason", false, false, NULL);
  const gh_json *ej = gh_json_get(b, "banExpiresIn");
  if (ej && gh_json_typeof(ej) != GH_JSON_INTEGER && gh_json_typeof(ej) != GH_JSON_REAL)
    gh_v_issue(&v, "body.banExpiresIn",
               gh_arena_printf(a, "Invalid input: expected number, received %s",
                               gh_json_type_name(gh_json_typeof(ej))));
  if (gh_v_fail(&v, resp)) return;
  const char *uid = coerce_string(a, b, "userId");
  if (!allowed(ad, resp, &s.u, "user", "ban", E_BAN)) return;
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  if (!strcmp(uid, s.u.id)) {
    gh_auth_error(resp, &ERRORS[E_BAN_SELF]);
    return;
  }
  int64_t now = gh_now_ms();
  int64_t in_s = ej ? gh_json_integer(ej) : 0;
  if (!in_s && ad->c->default_ban_expires_s) in_s = ad->c->default_ban_expires_s;
  gh_store_set set[] = {
      {"banned", {.set = true, .num = 1}},
      {"banReason",
       {.set = true, .text = (char *)(reason && *reason ? reason : ad->c->default_ban_reason)}},
      {"banExpires", {.set = true, .null = !in_s, .num = now + in_s * 1000}}};
  gh_status rc = gh_store_begin(st);
  if (rc == GH_OK) rc = gh_store_update_user_columns(st, uid, set, 3, now);
  if (rc == GH_OK) rc = gh_store_delete_user_sessions(st, uid, NULL);
  rc = gh_store_end(st, rc);
  if (rc == GH_OK) gh_auth_sessions_revoked(ad->au, st, uid, NULL, NULL);
  if (rc == GH_OK) rc = gh_store_user_by_id(st, a, uid, &u);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "ban_user");
    return;
  }
  audit(ad, req, "admin.ban_user", &s, uid, "expires_in",
        in_s ? gh_arena_printf(a, "%lld", (long long)in_s) : NULL);
  gh_resp_json(resp, 200, user_wrapped(&u));
}

#define ADMIN_COOKIE "admin_session"

static void route_impersonate(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *uid = coerce_string(a, req->json, "userId");
  if (!allowed(ad, resp, &s.u, "user", "impersonate", E_IMPERSONATE)) return;
  gh_user target;
  if (!find_user(st, req, resp, uid, &target)) return;
  if (is_admin_target(ad, &target) && !ad->c->allow_impersonating_admins &&
      !permitted(ad, &s.u, "user", "impersonate-admins")) {
    gh_auth_error(resp, &ERRORS[E_IMPERSONATE_ADMINS]);
    return;
  }
  int64_t now = gh_now_ms();
  bool expired;
  if (banned_now(&target, now, &expired)) { /* the session-create hook refuses banned users */
    gh_resp_error_msg(resp, 403, "BANNED_USER", ad->c->banned_message);
    return;
  }
  if (expired) {
    gh_status rc = lift_ban(st, target.id);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "lift_ban");
      return;
    }
  }
  gh_session ns;
  gh_session_fill(ad->au, req, target.id, true, &ns);
  ns.expires_at = now + ad->c->impersonation_s * 1000;
  gh_value *ib = gh_values_slot(a, &ns.extra, GH_MODEL_SESSION, "impersonatedBy");
  if (ib) *ib = (gh_value){.set = true, .text = s.u.id};
  gh_status rc = gh_store_create_session(st, &ns);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "create_session");
    return;
  }
  gh_clear_session_cookies(ad->au, resp);
  gh_set_signed_cookie(ad->au, resp, gh_auth_cookie_name(ad->au, a, ADMIN_COOKIE),
                       gh_arena_printf(a, "%s:%s", s.token, s.dont_remember ? "true" : ""),
                       gh_auth_session_max_age(ad->au));
  gh_set_session_cookie(ad->au, req, resp, ns.token, true);
  audit(ad, req, "admin.impersonate", &s, target.id, "session_id", ns.id);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "session", gh_session_json(&ns));
  gh_json_set_new(o, "user", gh_user_json(&target));
  gh_resp_json(resp, 200, o);
}

static void route_stop_impersonating(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  if (!admin_session(ad, req, resp, true, &st, &s)) return;
  const gh_value *ib = gh_session_value(&s.s, "impersonatedBy");
  if (!ib || ib->null || !ib->text) {
    gh_resp_error_msg(resp, 400, NULL, "You are not impersonating anyone");
    return;
  }
  gh_user adm;
  gh_status rc = gh_store_user_by_id(st, a, ib->text, &adm);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "user_by_id");
    return;
  }
  if (rc == GH_ERR_NOT_FOUND) {
    gh_resp_error_msg(resp, 500, NULL, "Failed to find user");
    return;
  }
  const char *cookie = gh_signed_cookie(ad->au, req, gh_auth_cookie_name(ad->au, a, ADMIN_COOKIE));
  const char *colon = cookie ? strchr(cookie, ':') : NULL;
  if (!cookie) {
    gh_resp_error_msg(resp, 500, NULL, "Failed to find admin session");
    return;
  }
  char *admin_token =
      colon ? gh_arena_strndup(a, cookie, (size_t)(colon - cookie)) : gh_arena_strdup(a, cookie);
  bool dont_remember = colon && colon[1];
  gh_session as;
  gh_user au_user;
  rc = gh_store_session_by_token(st, a, admin_token, &as, &au_user);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return;
  }
  if (rc == GH_ERR_NOT_FOUND || as.expires_at <= gh_now_ms() || strcmp(as.user_id, adm.id)) {
    gh_resp_error_msg(resp, 500, NULL, "Failed to find admin session");
    return;
  }
  if ((rc = gh_store_delete_session(st, s.token)) != GH_OK) {
    gh_auth_db_error(resp, rc, "delete_session");
    return;
  }
  gh_auth_sessions_revoked(ad->au, st, s.u.id, s.token, NULL);
  gh_set_session_cookie(ad->au, req, resp, as.token, dont_remember);
  gh_expire_cookie(ad->au, resp, gh_auth_cookie_name(ad->au, a, ADMIN_COOKIE));
  audit(ad, req, "admin.stop_impersonating", &s, s.u.id, NULL, NULL);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "session", gh_session_json(&as));
  gh_json_set_new(o, "user", gh_user_json(&au_user));
  gh_resp_json(resp, 200, o);
}

static void success_true(gh_resp *resp) {
  gh_resp_raw_json(resp, 200, "{\"success\":true}");
}

static void route_revoke_user_session(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *token = gh_v_string(&v, req->json, "sessionToken", true, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  if (!allowed(ad, resp, &s.u, "session", "revoke", E_REVOKE)) return;
  gh_status rc = gh_store_delete_session(st, token);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "revoke_session");
    return;
  }
  gh_auth_sessions_revoked(ad->au, st, NULL, token, NULL);
  audit(ad, req, "admin.revoke_user_session", &s, NULL, NULL, NULL);
  success_true(resp);
}

static void route_revoke_user_sessions(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *uid = coerce_string(req->arena, req->json, "userId");
  if (!allowed(ad, resp, &s.u, "session", "revoke", E_REVOKE)) return;
  gh_status rc = gh_store_delete_user_sessions(st, uid, NULL);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "revoke_sessions");
    return;
  }
  gh_auth_sessions_revoked(ad->au, st, uid, NULL, NULL);
  audit(ad, req, "admin.revoke_user_sessions", &s, uid, NULL, NULL);
  success_true(resp);
}

static void route_remove_user(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const char *uid = coerce_string(req->arena, req->json, "userId");
  if (!allowed(ad, resp, &s.u, "user", "delete", E_DELETE)) return;
  if (!strcmp(uid, s.u.id)) {
    gh_auth_error(resp, &ERRORS[E_REMOVE_SELF]);
    return;
  }
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  gh_status rc = gh_store_delete_user(st, uid);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "delete_user");
    return;
  }
  gh_auth_user_deleted(ad->au, st, uid);
  audit(ad, req, "admin.remove_user", &s, uid, NULL, NULL);
  success_true(resp);
}

/* Runs on the worker pool (password hashing). */
static void route_set_user_password(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  size_t plen = 0;
  const char *pw = gh_v_string_n(&v, req->json, "newPassword", true, &plen);
  if (pw && plen == 0) gh_v_issue(&v, "body.newPassword", "newPassword cannot be empty");
  const char *uid = coerce_string(a, req->json, "userId");
  if (!*uid) gh_v_issue(&v, "body.userId", "userId cannot be empty");
  if (gh_v_fail(&v, resp)) return;
  if (!allowed(ad, resp, &s.u, "user", "set-password", E_SET_PASSWORD)) return;
  if (!gh_check_new_password(ad->au, resp, pw, plen)) return;
  gh_user u;
  if (!find_user(st, req, resp, uid, &u)) return;
  char hash[GH_PASSWORD_HASH_LEN + 1];
  if (gh_password_hash(pw, plen, hash) != GH_OK) {
    gh_resp_error(resp, GH_E_INTERNAL);
    return;
  }
  char new_id[33];
  gh_rand_id(new_id, 32);
  new_id[32] = 0;
  gh_status rc = gh_store_set_password(st, uid, hash, new_id, gh_now_ms(), false, NULL);
  memset(hash, 0, sizeof hash);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "set_password");
    return;
  }
  audit(ad, req, "admin.set_user_password", &s, uid, NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}

static void route_has_permission(void *self, gh_req *req, gh_resp *resp) {
  admin *ad = self;
  gh_arena *a = req->arena;
  gh_store *st;
  gh_sess s;
  gh_vctx v;
  if (!admin_body(ad, req, resp, &st, &s, &v)) return;
  const gh_json *b = req->json;
  const gh_json *perms = gh_json_get(b, "permissions");
  const gh_json *perm = gh_json_get(b, "permission");
  if ((perms && perm) || (!perms && !perm)) {
    gh_v_issue(&v, "body", "Invalid input");
    gh_v_fail(&v, resp);
    return;
  }
  const gh_json *pj = perms ? perms : perm;
  bool shape_ok = gh_json_typeof(pj) == GH_JSON_OBJECT;
  for (void *it = shape_ok ? gh_json_iter((gh_json *)pj) : NULL; it && shape_ok;
       it = gh_json_iter_next((gh_json *)pj, it)) {
    const gh_json *arr = gh_json_iter_value(it);
    if (gh_json_typeof(arr) != GH_JSON_ARRAY) shape_ok = false;
    for (size_t i = 0; shape_ok && i < gh_json_array_size(arr); i++)
      if (!gh_json_string(gh_json_array_get(arr, i))) shape_ok = false;
  }
  if (!shape_ok) {
    gh_v_issue(&v, perms ? "body.permissions" : "body.permission", "Invalid input");
    gh_v_fail(&v, resp);
    return;
  }
  if (!perms) {
    gh_resp_error_msg(resp, 400, NULL, "invalid permission check. no permission(s) were passed.");
    return;
  }
  (void)a;
  const gh_value *rv = gh_user_value(&s.u, "role");
  bool ok = permitted_json(ad, s.u.id, rv && !rv->null ? rv->text : NULL, perms);
  gh_resp_raw_json(resp, 200,
                   ok ? "{\"error\":null,\"success\":true}" : "{\"error\":null,\"success\":false}");
}

static const gh_route ROUTES[] = {
    {"POST", P "/set-role", route_set_role, 0, NULL},
    {"GET", P "/get-user", route_get_user, 0, NULL},
    {"POST", P "/create-user", route_create_user, GH_ROUTE_SLOW, NULL},
    {"POST", P "/update-user", route_update_user, 0, NULL},
    {"GET", P "/list-users", route_list_users, 0, NULL},
    {"POST", P "/list-user-sessions", route_list_user_sessions, 0, NULL},
    {"POST", P "/unban-user", route_unban_user, 0, NULL},
    {"POST", P "/ban-user", route_ban_user, 0, NULL},
    {"POST", P "/impersonate-user", route_impersonate, 0, NULL},
    {"POST", P "/stop-impersonating", route_stop_impersonating, 0, NULL},
    {"POST", P "/revoke-user-session", route_revoke_user_session, 0, NULL},
    {"POST", P "/revoke-user-sessions", route_revoke_user_sessions, 0, NULL},
    {"POST", P "/remove-user", route_remove_user, 0, NULL},
    {"POST", P "/set-user-password", route_set_user_password, GH_ROUTE_SLOW, NULL},
    {"POST", P "/has-permission", route_has_permission, 0, NULL},
};

/* ---------------------------------------------------------------- hooks */

/* better-auth's session create "before" hook of the admin plugin: every new session (sign-in,
 * after a second factor, after e-mail verification) of a banned user is refused; an expired ban is
 * lifted. The user is read again, so a ban made after the password step still counts. */
static bool session_creating(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                             const gh_user *given) {
  admin *ad = self;
  gh_user fresh;
  const gh_user *u = given;
  gh_status rc = gh_store_user_by_id(st, req->arena, given->id, &fresh);
  if (rc == GH_OK)
    u = &fresh;
  else if (rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "user_by_id");
    return false;
  }
  bool expired;
  if (banned_now(u, gh_now_ms(), &expired)) {
    gh_audit(ad->au, req, "sign_in.banned", u->id, NULL, NULL, NULL, NULL);
    gh_resp_error_msg(resp, 403, "BANNED_USER", ad->c->banned_message);
    return false;
  }
  if (expired) {
    if ((rc = lift_ban(st, u->id)) != GH_OK) {
      gh_auth_db_error(resp, rc, "lift_ban");
      return false;
    }
    gh_audit(ad->au, req, "admin.ban_expired", u->id, NULL, NULL, NULL, NULL);
  }
  return true;
}

/* An impersonation session is never extended (better-auth relies on the dont_remember cookie for
 * that, which a client using the bearer token does not send back): it ends when it was meant to. */
static bool session_refresh(void *self, const gh_sess *s) {
  (void)self;
  const gh_value *ib = gh_session_value(&s->s, "impersonatedBy");
  return !ib || ib->null || !ib->text;
}

/* /list-sessions does not show impersonation sessions (the plugin's after hook). */
static void after_route(void *self, gh_req *req, gh_resp *resp) {
  (void)self;
  if (resp->status != 200 || !req->route || strcmp(req->route, "/api/auth/list-sessions") ||
      !resp->body)
    return;
  gh_json *arr;
  if (gh_json_parse(resp->body, resp->body_len, &arr) != GH_OK) return;
  gh_json *out = gh_json_array();
  for (size_t i = 0; i < gh_json_array_size(arr); i++) {
    gh_json *x = gh_json_array_get(arr, i);
    const gh_json *ib = gh_json_get(x, "impersonatedBy");
    if (ib && gh_json_typeof(ib) != GH_JSON_NULL) continue;
    gh_json_append_new(out, gh_json_incref(x));
  }
  gh_json_decref(arr);
  gh_resp_json(resp, 200, out);
}

/* ---------------------------------------------------------------- CLI */

static int cli_user(void *self, gh_store *st, int argc, char **argv) {
  admin *ad = self;
  gh_arena *a = gh_arena_new();
  int ret = 1;
  const char *sub = argc > 0 ? argv[0] : "";
  const char *email_in = NULL, *role = NULL, *reason = NULL;
  long expires = 0;
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--email"))
      email_in = argv[++i];
    else if (!strcmp(argv[i], "--role"))
      role = argv[++i];
    else if (!strcmp(argv[i], "--reason"))
      reason = argv[++i];
    else if (!strcmp(argv[i], "--expires-in"))
      expires = strtol(argv[++i], NULL, 10);
  }
  if (!strcmp(sub, "list")) {
    gh_user_list_query q = {.limit = 100000};
    gh_user *users;
    size_t n;
    int64_t total;
    if (gh_store_list_users(st, a, &q, &users, &n, &total) != GH_OK) {
      fprintf(stderr, "gatehouse: cannot list the users\n");
      goto out;
    }
    printf("%-32s  %-32s  %-12s  %s\n", "ID", "EMAIL", "ROLE", "BANNED");
    for (size_t i = 0; i < n; i++) {
      const gh_value *r = gh_user_value(&users[i], "role"), *b = gh_user_value(&users[i], "banned");
      printf("%-32s  %-32s  %-12s  %s\n", users[i].id, users[i].email,
             r && !r->null ? r->text : ad->c->default_role, b && !b->null && b->num ? "yes" : "no");
    }
    ret = 0;
    goto out;
  }
  bool set_role = !strcmp(sub, "set-role"), ban = !strcmp(sub, "ban"),
       unban = !strcmp(sub, "unban");
  if ((!set_role && !ban && !unban) || !email_in || (set_role && !role)) {
    fprintf(stderr, "usage: gatehouse user set-role --email E --role R | ban --email E [--reason "
                    "T] [--expires-in S] | unban --email E | list\n");
    ret = 2;
    goto out;
  }
  gh_user u;
  gh_status rc = gh_store_user_by_email(st, a, gh_ascii_lower(a, email_in), &u);
  if (rc == GH_ERR_NOT_FOUND) {
    fprintf(stderr, "gatehouse: no user with this e-mail\n");
    goto out;
  }
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: %s\n", gh_status_str(rc));
    goto out;
  }
  int64_t now = gh_now_ms();
  if (set_role) {
    gh_store_set set[] = {{"role", {.set = true, .text = (char *)role}}};
    rc = gh_store_update_user_columns(st, u.id, set, 1, now);
  } else if (ban) {
    gh_store_set set[] = {
        {"banned", {.set = true, .num = 1}},
        {"banReason", {.set = true, .text = (char *)(reason ? reason : ad->c->default_ban_reason)}},
        {"banExpires", {.set = true, .null = expires <= 0, .num = now + expires * 1000}}};
    rc = gh_store_begin(st);
    if (rc == GH_OK) rc = gh_store_update_user_columns(st, u.id, set, 3, now);
    if (rc == GH_OK) rc = gh_store_delete_user_sessions(st, u.id, NULL);
    rc = gh_store_end(st, rc);
  } else {
    rc = lift_ban(st, u.id);
  }
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: %s\n", gh_status_str(rc));
    goto out;
  }
  gh_log(GH_LOG_INFO,
         set_role ? "admin.set_role"
         : ban    ? "admin.ban_user"
                  : "admin.unban_user",
         "user_id", u.id, "via", "cli", "role", set_role ? role : NULL, NULL);
  printf("%s\n", u.id);
  ret = 0;
out:
  gh_arena_free(a);
  return ret;
}

static const gh_plugin_command COMMANDS[] = {
    {"user",
     "  user set-role --email E --role R    set a user's role (admin plugin)\n"
     "  user ban --email E [--reason T] [--expires-in S]\n"
     "                                      ban a user and end their sessions\n"
     "  user unban --email E                lift a ban\n"
     "  user list                           every user with role and ban state\n",
     cli_user},
};

/* ---------------------------------------------------------------- the descriptor */

static gh_status validate(const void *cv, const char **err) {
  const conf *c = cv;
  const char *cur = c->admin_roles, *b;
  size_t n;
  while (gh_list_next(&cur, &b, &n))
    if (n && !role_actions(b, n, "user")) {
      *err = "GATEHOUSE_ADMIN_ROLES: admin roles must be defined roles (admin, user)";
      return GH_ERR_CONFIG;
    }
  return GH_OK;
}

static gh_status init(gh_auth *au, const void *cv, void **self) {
  admin *ad = gh_xcalloc(1, sizeof *ad);
  ad->au = au;
  ad->c = cv;
  *self = ad;
  return gh_auth_set_insert_default(au, GH_MODEL_USER, "role", ad->c->default_role);
}

static void plugin_free(void *self) {
  free(self);
}

const gh_plugin gh_plugin_admin = {
    .id = "admin",
    .summary = "Roles, bans and impersonation for people (better-auth's admin plugin)",
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = sizeof ROUTES / sizeof ROUTES[0],
    .errors = ERRORS,
    .nerrors = E__N,
    .migrations = MIGRATIONS,
    .nmigrations = 1,
    .user_fields = USER_FIELDS,
    .nuser_fields = 4,
    .session_fields = SESSION_FIELDS,
    .nsession_fields = 1,
    .commands = COMMANDS,
    .ncommands = 1,
    .session_creating = session_creating,
    .session_refresh = session_refresh,
    .after_route = after_route,
};
