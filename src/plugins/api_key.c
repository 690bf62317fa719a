/* better-auth's api-key plugin (@better-auth/api-key 1.7.5): keys for automation, CLI tools and
 * integrations. The routes /api-key/{create,get,list,update,delete} answer as the plugin does;
 * x-api-key becomes the owner's session when GATEHOUSE_API_KEY_SESSIONS is on (the plugin's
 * enableSessionForAPIKeys, off by default as there), except on the routes only browser sessions
 * belong to; /api-key/verify and /api-key/delete-all-expired-api-keys (server-only in better-auth)
 * answer only callers presenting GATEHOUSE_SERVICE_TOKEN, never a browser. The table and the key
 * hashing are the plugin's, so keys made by either implementation work in the other. */
#include "plugins/api_key.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/audit.h"
#include "auth/db.h"
#include "auth/origin_check.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "auth/validate.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "json/json.h"
#include "plugins/api_key_store.h"
#include "plugins/plugins.h"

/* --- key format ---------------------------------------------------------------------------- */

void gh_api_key_hash(const char *key, size_t len, char out[GH_API_KEY_HASH_LEN + 1]) {
  uint8_t d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, (const uint8_t *)key, len);
  gh_b64_encode(d, sizeof d, out, true, false);
  out[GH_API_KEY_HASH_LEN] = 0;
}

char *gh_api_key_generate(const char *prefix, size_t len) {
  static const char LETTERS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  size_t pl = prefix ? strlen(prefix) : 0;
  char *k = gh_xmalloc(pl + len + 1);
  if (pl) memcpy(k, prefix, pl);
  for (size_t i = 0; i < len; i++) k[pl + i] = LETTERS[randombytes_uniform(52)];
  k[pl + len] = 0;
  return k;
}

void gh_api_key_start(const char *key, char out[GH_API_KEY_START_LEN + 1]) {
  size_t n = strlen(key);
  if (n > GH_API_KEY_START_LEN) n = GH_API_KEY_START_LEN;
  memcpy(out, key, n);
  out[n] = 0;
}

bool gh_api_key_prefix_valid(const char *p) {
  if (!p || !*p) return false;
  for (; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-'))
      return false;
  return true;
}

/* --- options ------------------------------------------------------------------------------- */

#define DEFAULT_DENY                                                                               \
  "/change-password,/change-email,/set-password,/delete-user,/update-user,/revoke-session,"        \
  "/revoke-sessions,/revoke-other-sessions,/list-sessions,/sign-out,/link-social,"                 \
  "/unlink-account,/api-key/create,/api-key/update,/api-key/delete"

typedef struct {
  bool sessions;
  char *headers;
  char *deny;
  char *default_prefix;
  long key_length;
  bool metadata;
  bool rate_limit;
  long rl_window;
  long rl_max;
  long default_expires_in;
  char *service_token;
} ak_conf;

#define O(f) offsetof(ak_conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_API_KEY_SESSIONS", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(sessions),
     "An `x-api-key` header authenticates as the key owner's session (better-auth's "
     "enableSessionForAPIKeys): get-session answers it, protected routes accept it"},
    {"GATEHOUSE_API_KEY_HEADERS", NULL, GH_CONF_STR, "x-api-key", 0, 0, 0, O(headers),
     "Request headers that carry an API key (comma list, first present wins)"},
    {"GATEHOUSE_API_KEY_SESSION_DENY", NULL, GH_CONF_STR, DEFAULT_DENY, 0, 0, 0, O(deny),
     "Routes (under /api/auth) where only browser sessions belong: an API key there is refused "
     "with 403 API_KEY_NOT_ALLOWED (`none` = accept keys everywhere, as better-auth)"},
    {"GATEHOUSE_API_KEY_DEFAULT_PREFIX", NULL, GH_CONF_STR, "", 0, 0, 0, O(default_prefix),
     "Prefix of new keys when create names none (empty = none, as better-auth)"},
    {"GATEHOUSE_API_KEY_LENGTH", NULL, GH_CONF_INT, "64", 32, 256, 0, O(key_length),
     "Random letters of a new key (after its prefix); shorter keys are refused"},
    {"GATEHOUSE_API_KEY_METADATA", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(metadata),
     "Keys may carry metadata (better-auth's enableMetadata)"},
    {"GATEHOUSE_API_KEY_RATE_LIMIT", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(rate_limit),
     "Per-key rate limit on every use of a key"},
    {"GATEHOUSE_API_KEY_RATE_LIMIT_WINDOW", NULL, GH_CONF_INT, "86400000", 1000, 31536000000L, 0,
     O(rl_window), "Rate-limit window of new keys, in milliseconds"},
    {"GATEHOUSE_API_KEY_RATE_LIMIT_MAX", NULL, GH_CONF_INT, "10", 1, 1000000000, 0, O(rl_max),
     "Uses of a new key per window"},
    {"GATEHOUSE_API_KEY_DEFAULT_EXPIRES_IN", NULL, GH_CONF_INT, "0", 0, 31536000, 0,
     O(default_expires_in),
     "Lifetime of new keys created without expiresIn, in seconds (0 = none)"},
    {"GATEHOUSE_SERVICE_TOKEN", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET, O(service_token),
     "Bearer token of resource servers for `POST /api/auth/api-key/verify` (unset = that route "
     "answers 404); at least 32 characters"},
};
#undef O

static gh_status validate(const void *conf, const char **err) {
  const ak_conf *c = conf;
  if (c->service_token && strlen(c->service_token) < 32) {
    *err = "GATEHOUSE_SERVICE_TOKEN: expected at least 32 characters";
    return GH_ERR_CONFIG;
  }
  if (*c->default_prefix && (!gh_api_key_prefix_valid(c->default_prefix) ||
                             strlen(c->default_prefix) > GH_API_KEY_MAX_PREFIX)) {
    *err = "GATEHOUSE_API_KEY_DEFAULT_PREFIX: expected 1-32 of [A-Za-z0-9_-]";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

/* --- errors -------------------------------------------------------------------------------- */

static const gh_err_info E_UNAUTHORIZED_SESSION = {401, "UNAUTHORIZED_SESSION",
                                                   "Unauthorized or invalid session"};
static const gh_err_info E_SERVER_ONLY = {
    400, "SERVER_ONLY_PROPERTY",
    "The property you're trying to set can only be set from the server auth instance only."};
static const gh_err_info E_METADATA_DISABLED = {400, "METADATA_DISABLED", "Metadata is disabled."};
static const gh_err_info E_INVALID_METADATA = {400, "INVALID_METADATA_TYPE",
                                               "metadata must be an object or undefined"};
static const gh_err_info E_TOO_SMALL = {
    400, "EXPIRES_IN_IS_TOO_SMALL", "The expiresIn is smaller than the predefined minimum value."};
static const gh_err_info E_TOO_LARGE = {
    400, "EXPIRES_IN_IS_TOO_LARGE", "The expiresIn is larger than the predefined maximum value."};
static const gh_err_info E_PREFIX_LENGTH = {400, "INVALID_PREFIX_LENGTH",
                                            "The prefix length is either too large or too small."};
static const gh_err_info E_NAME_LENGTH = {400, "INVALID_NAME_LENGTH",
                                          "The name length is either too large or too small."};
static const gh_err_info E_NO_VALUES = {400, "NO_VALUES_TO_UPDATE", "No values to update."};
static const gh_err_info E_NOT_ALLOWED = {403, "API_KEY_NOT_ALLOWED",
                                          "API keys are not accepted on this route"};
static const gh_err_info E_SERVICE_TOKEN = {401, "INVALID_SERVICE_TOKEN",
                                            "A valid service token is required"};
static const gh_err_info E_BROWSER = {403, "SERVICE_ROUTE",
                                      "This route is for servers; browsers cannot call it"};

/* Not in ERRORS: only answered when the admin plugin's banned field is installed. */
static const gh_err_info E_USER_BANNED = {401, "USER_BANNED", "User is banned"};

/* The admin plugin's user.banned, when that field is installed (delete refuses banned users). */
static bool user_banned(const gh_user *u) {
  const gh_value *v = gh_user_value(u, "banned");
  return v && v->set && !v->null && v->num != 0;
}

/* One row per code (the registry checks they are unique); variants with another status share
 * a code (AK_E_INVALID_API_KEY_403, AK_E_KEY_NOT_FOUND_401). */
static const gh_err_info ERRORS[] = {
    {401, "INVALID_API_KEY", "Invalid API key."},
    {401, "KEY_DISABLED", "API Key is disabled"},
    {401, "KEY_EXPIRED", "API Key has expired"},
    {429, "USAGE_EXCEEDED", "API Key has reached its usage limit"},
    {429, "RATE_LIMITED", "Rate limit exceeded."},
    {404, "KEY_NOT_FOUND", "API Key not found"},
    {401, "INVALID_REFERENCE_ID_FROM_API_KEY", "The reference id from the API key is invalid."},
    {401, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session"},
    {400, "SERVER_ONLY_PROPERTY",
     "The property you're trying to set can only be set from the server auth instance only."},
    {400, "METADATA_DISABLED", "Metadata is disabled."},
    {400, "INVALID_METADATA_TYPE", "metadata must be an object or undefined"},
    {400, "EXPIRES_IN_IS_TOO_SMALL", "The expiresIn is smaller than the predefined minimum value."},
    {400, "EXPIRES_IN_IS_TOO_LARGE", "The expiresIn is larger than the predefined maximum value."},
    {400, "INVALID_PREFIX_LENGTH", "The prefix length is either too large or too small."},
    {400, "INVALID_NAME_LENGTH", "The name length is either too large or too small."},
    {400, "NO_VALUES_TO_UPDATE", "No values to update."},
    {403, "API_KEY_NOT_ALLOWED", "API keys are not accepted on this route"},
    {401, "INVALID_SERVICE_TOKEN", "A valid service token is required"},
    {403, "SERVICE_ROUTE", "This route is for servers; browsers cannot call it"},
};

/* --- state --------------------------------------------------------------------------------- */

typedef struct {
  gh_auth *au;
  bool sessions, metadata;
  ak_policy pol;
  size_t key_length;
  int64_t rl_window, rl_max, default_expires_in;
  char *default_prefix;     /* NULL = none */
  char **headers, **deny;   /* NULL-terminated lists */
  uint8_t service_hash[32]; /* SHA-256 of GATEHOUSE_SERVICE_TOKEN */
  bool has_service;
} ak_plugin;

/* "a, b,c" → {"a","b","c",NULL}; each with prefix prepended. */
static char **split_list(const char *s, const char *prefix) {
  size_t cap = 1;
  for (const char *p = s; *p; p++) cap += *p == ',';
  char **v = gh_xcalloc(cap + 1, sizeof *v);
  size_t n = 0;
  const char *p = s;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    if (t > p) {
      size_t pl = strlen(prefix), len = (size_t)(t - p);
      char *item = gh_xmalloc(pl + len + 1);
      memcpy(item, prefix, pl);
      memcpy(item + pl, p, len);
      item[pl + len] = 0;
      v[n++] = item;
    }
    p = e;
  }
  return v;
}

static void free_list(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static gh_status init(gh_auth *au, const void *conf, void **self) {
  const ak_conf *c = conf;
  ak_plugin *p = gh_xcalloc(1, sizeof *p);
  p->au = au;
  p->sessions = c->sessions;
  p->metadata = c->metadata;
  p->pol.rate_limit = c->rate_limit;
  p->key_length = (size_t)c->key_length;
  p->rl_window = c->rl_window;
  p->rl_max = c->rl_max;
  p->default_expires_in = c->default_expires_in;
  p->default_prefix = *c->default_prefix ? gh_xstrdup(c->default_prefix) : NULL;
  p->headers = split_list(c->headers, "");
  p->deny = split_list(strcasecmp(c->deny, "none") ? c->deny : "", "/api/auth");
  if (c->service_token) {
    crypto_hash_sha256(p->service_hash, (const uint8_t *)c->service_token,
                       strlen(c->service_token));
    p->has_service = true;
  }
  *self = p;
  return GH_OK;
}

static void plugin_free(void *self) {
  ak_plugin *p = self;
  if (!p) return;
  free(p->default_prefix);
  free_list(p->headers);
  free_list(p->deny);
  sodium_memzero(p->service_hash, sizeof p->service_hash);
  free(p);
}

/* --- validation helpers (zod's messages) --------------------------------------------------- */

/* z.number() with optional .min(min) and .nullable(). *present: the member is there (null
 * included). Returns the value in *out (null when JSON null). */
static void v_number_real(gh_vctx *v, const gh_json *b, const char *field, bool nullable,
                          bool has_min, int64_t min, bool *present, ak_int *out, double *real) {
  gh_json *j = gh_json_get(b, field);
  gh_json_type t = gh_json_typeof(j);
  *present = t != GH_JSON_UNDEFINED;
  out->null = true;
  out->v = 0;
  if (t == GH_JSON_UNDEFINED) return;
  if (t == GH_JSON_NULL && nullable) return;
  const char *path = gh_arena_printf(v->a, "body.%s", field);
  if (t != GH_JSON_INTEGER && t != GH_JSON_REAL) {
    gh_v_issue(
        v, path,
        gh_arena_printf(v->a, "Invalid input: expected number, received %s", gh_json_type_name(t)));
    return;
  }
  double d = gh_json_number(j);
  if (has_min && d < (double)min) {
    gh_v_issue(v, path,
               gh_arena_printf(v->a, "Too small: expected number to be >=%lld", (long long)min));
    return;
  }
  out->null = false;
  out->v = (int64_t)d; /* integer columns; a fraction is kept only where it matters (expiresIn) */
  if (real) *real = d;
}

static void v_number(gh_vctx *v, const gh_json *b, const char *field, bool nullable, bool has_min,
                     int64_t min, bool *present, ak_int *out) {
  v_number_real(v, b, field, nullable, has_min, min, present, out, NULL);
}

/* z.record(z.string(), z.array(z.string())) with optional .nullable(). */
static void v_permissions(gh_vctx *v, const gh_json *b, bool nullable, bool *present) {
  gh_json *j = gh_json_get(b, "permissions");
  gh_json_type t = gh_json_typeof(j);
  *present = t != GH_JSON_UNDEFINED;
  if (t == GH_JSON_UNDEFINED || (t == GH_JSON_NULL && nullable)) return;
  if (t != GH_JSON_OBJECT) {
    gh_v_issue(
        v, "body.permissions",
        gh_arena_printf(v->a, "Invalid input: expected record, received %s", gh_json_type_name(t)));
    return;
  }
  for (void *it = gh_json_iter(j); it; it = gh_json_iter_next(j, it)) {
    const char *k = gh_json_iter_key(it);
    gh_json *arr = gh_json_iter_value(it);
    if (gh_json_typeof(arr) != GH_JSON_ARRAY) {
      gh_v_issue(v, gh_arena_printf(v->a, "body.permissions.%s", k),
                 gh_arena_printf(v->a, "Invalid input: expected array, received %s",
                                 gh_json_type_name(gh_json_typeof(arr))));
      continue;
    }
    for (size_t i = 0; i < gh_json_array_size(arr); i++) {
      gh_json_type et = gh_json_typeof(gh_json_array_get(arr, i));
      if (et != GH_JSON_STRING)
        gh_v_issue(v, gh_arena_printf(v->a, "body.permissions.%s.%zu", k, i),
                   gh_arena_printf(v->a, "Invalid input: expected string, received %s",
                                   gh_json_type_name(et)));
    }
  }
}

static bool v_present(const gh_json *b, const char *field) {
  return gh_json_typeof(gh_json_get(b, field)) != GH_JSON_UNDEFINED;
}

/* JavaScript truthiness of a JSON value. */
static bool truthy(const gh_json *j) {
  switch (gh_json_typeof(j)) {
  case GH_JSON_UNDEFINED:
  case GH_JSON_NULL:
  case GH_JSON_FALSE:
    return false;
  case GH_JSON_STRING:
    return gh_json_string_len(j) > 0;
  case GH_JSON_INTEGER:
    return gh_json_integer(j) != 0;
  default:
    return true;
  }
}

/* typeof value === "object" (null and arrays included). */
static bool js_object(const gh_json *j) {
  gh_json_type t = gh_json_typeof(j);
  return t == GH_JSON_OBJECT || t == GH_JSON_ARRAY || t == GH_JSON_NULL;
}

static size_t js_length(const char *s) {
  return gh_utf16_length(s, strlen(s));
}

/* --- shared steps -------------------------------------------------------------------------- */

/* getSessionFromCtx for create/update: the session (cookie, bearer, or an API key's) or 401
 * UNAUTHORIZED_SESSION. */
static bool session_or_401(ak_plugin *p, gh_req *req, gh_resp *resp, gh_store **st, gh_sess *s) {
  *st = gh_auth_store(resp);
  if (!*st) return false;
  gh_status rc = gh_session_resolve(p->au, *st, req, s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return false;
  }
  if (s->refused) {
    gh_session_refusal(resp, s);
    return false;
  }
  if (!s->found) {
    gh_auth_error(resp, &E_UNAUTHORIZED_SESSION);
    return false;
  }
  rc = gh_session_refresh_if_due(p->au, *st, req, resp, s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "touch_session");
    return false;
  }
  return true;
}

/* The key by id, owned by user_id, of the requested configuration; else 404 KEY_NOT_FOUND. */
static bool owned_key(gh_store *st, gh_req *req, gh_resp *resp, const char *id,
                      const char *config_id, const char *user_id, ak_row *row) {
  gh_status rc = ak_by_id(st, req->arena, id, row);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_auth_error(resp, &AK_E_KEY_NOT_FOUND);
    return false;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_by_id");
    return false;
  }
  /* resolveConfiguration: any configId resolves to the one (default) configuration, and only
   * keys of that configuration are found */
  (void)config_id;
  bool def_key = !row->config_id || !strcmp(row->config_id, "default");
  if (!def_key || strcmp(row->reference_id, user_id) != 0) {
    gh_auth_error(resp, &AK_E_KEY_NOT_FOUND);
    return false;
  }
  return true;
}

static char *dump(gh_arena *a, const gh_json *j) {
  size_t n;
  return gh_json_dump(a, j, &n);
}

static void answer_row(gh_resp *resp, const ak_row *r, const char *plaintext, gh_json *metadata) {
  gh_resp_json(resp, 200, ak_row_json(r, plaintext, metadata));
}

/* The expiresIn rule (days between 1 and 365). */
static const gh_err_info *expires_in_error(double seconds) {
  double days = seconds / 86400.0;
  if (days < 1) return &E_TOO_SMALL;
  if (days > 365) return &E_TOO_LARGE;
  return NULL;
}

/* A new key row for user_id (the plugin's create defaults); *plaintext malloc'd. */
static void new_row(ak_plugin *p, gh_arena *a, const char *user_id, const char *name,
                    const char *prefix, int64_t expires_ms, const char *permissions,
                    const char *metadata, ak_row *r, char **plaintext) {
  int64_t now = gh_now_ms();
  const char *pfx = prefix && *prefix ? prefix : p->default_prefix;
  char *key = gh_api_key_generate(pfx, p->key_length);
  char hash[GH_API_KEY_HASH_LEN + 1], start[GH_API_KEY_START_LEN + 1];
  gh_api_key_hash(key, strlen(key), hash);
  gh_api_key_start(key, start);
  memset(r, 0, sizeof *r);
  r->id = gh_arena_alloc(a, 33);
  gh_rand_id(r->id, 32);
  r->config_id = "default";
  r->name = (char *)name;
  r->start = gh_arena_strdup(a, start);
  r->reference_id = (char *)user_id;
  r->prefix = pfx ? gh_arena_strdup(a, pfx) : NULL;
  r->key = gh_arena_strdup(a, hash);
  r->refill_interval = r->refill_amount = r->last_refill_at = (ak_int){true, 0};
  r->enabled = (ak_int){false, 1};
  r->rate_limit_enabled = (ak_int){false, p->pol.rate_limit};
  r->rate_limit_time_window = (ak_int){false, p->rl_window};
  r->rate_limit_max = (ak_int){false, p->rl_max};
  r->request_count = (ak_int){false, 0};
  r->remaining = (ak_int){true, 0};
  r->last_request = (ak_int){true, 0};
  int64_t exp = expires_ms > 0 ? expires_ms : p->default_expires_in * 1000;
  r->expires_at = exp > 0 ? (ak_int){false, now + exp} : (ak_int){true, 0};
  r->created_at = r->updated_at = now;
  r->permissions = (char *)permissions;
  r->metadata = (char *)(metadata ? metadata : "null");
  *plaintext = key;
}

/* --- routes -------------------------------------------------------------------------------- */

/* POST /api-key/create */
static void route_create(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  if (!gh_origin_check(p->au, req, resp, false)) return;
  const gh_json *b = req->json;
  gh_vctx v = {req->arena, NULL};
  const char *name = NULL, *prefix = NULL;
  bool has_name = false, has_prefix = false, has_exp, has_rem, has_ra, has_ri, has_rw, has_rm;
  bool has_perm = false;
  ak_int exp = {true, 0}, rem = {true, 0}, tmp;
  double exp_s = 0;
  if (gh_v_object(&v, b, "object")) {
    gh_v_string(&v, b, "configId", false, false, NULL);
    name = gh_v_string(&v, b, "name", false, false, &has_name);
    v_number_real(&v, b, "expiresIn", true, true, 1, &has_exp, &exp, &exp_s);
    prefix = gh_v_string(&v, b, "prefix", false, false, &has_prefix);
    if (prefix && !gh_api_key_prefix_valid(prefix))
      gh_v_issue(&v, "body.prefix",
                 "Invalid prefix format, must be alphanumeric and contain only underscores and "
                 "hyphens.");
    v_number(&v, b, "remaining", true, true, 0, &has_rem, &rem);
    v_number(&v, b, "refillAmount", false, true, 1, &has_ra, &tmp);
    v_number(&v, b, "refillInterval", false, false, 0, &has_ri, &tmp);
    v_number(&v, b, "rateLimitTimeWindow", false, false, 0, &has_rw, &tmp);
    v_number(&v, b, "rateLimitMax", false, false, 0, &has_rm, &tmp);
    gh_v_bool(&v, b, "rateLimitEnabled", false);
    v_permissions(&v, b, false, &has_perm);
  }
  if (gh_v_fail(&v, resp)) return;
  gh_store *st;
  gh_sess s;
  /* server-only properties are refused from HTTP before the session is looked at */
  if (has_ra || has_ri || has_rw || has_rm || v_present(b, "rateLimitEnabled") || has_perm ||
      !rem.null) {
    gh_auth_error(resp, &E_SERVER_ONLY);
    return;
  }
  if (v_present(b, "userId")) {
    gh_auth_error(resp, &E_UNAUTHORIZED_SESSION);
    return;
  }
  if (!session_or_401(p, req, resp, &st, &s)) return;
  gh_json *metadata = gh_json_get(b, "metadata");
  const char *meta_text = NULL;
  if (truthy(metadata)) {
    if (!p->metadata) {
      gh_auth_error(resp, &E_METADATA_DISABLED);
      return;
    }
    if (!js_object(metadata)) {
      gh_auth_error(resp, &E_INVALID_METADATA);
      return;
    }
    meta_text = dump(req->arena, metadata);
  }
  if (!exp.null && exp_s != 0) {
    const gh_err_info *e = expires_in_error(exp_s);
    if (e) {
      gh_auth_error(resp, e);
      return;
    }
  }
  if (prefix && *prefix && js_length(prefix) > GH_API_KEY_MAX_PREFIX) {
    gh_auth_error(resp, &E_PREFIX_LENGTH);
    return;
  }
  if (name && *name && js_length(name) > 32) {
    gh_auth_error(resp, &E_NAME_LENGTH);
    return;
  }
  ak_delete_expired_throttled(st);
  ak_row r;
  char *key;
  new_row(p, req->arena, s.u.id, name, prefix, exp.null ? 0 : (int64_t)(exp_s * 1000), NULL,
          meta_text, &r, &key);
  gh_status rc = ak_insert(st, &r);
  if (rc != GH_OK) {
    sodium_memzero(key, strlen(key));
    free(key);
    gh_auth_db_error(resp, rc, "api_key_insert");
    return;
  }
  gh_audit(p->au, req, "api_key.created", s.u.id, "key_id", r.id, NULL, NULL);
  gh_json *meta_answer = metadata && gh_json_typeof(metadata) != GH_JSON_UNDEFINED
                             ? metadata
                             : gh_json_own(req->arena, gh_json_null());
  answer_row(resp, &r, key, meta_answer);
  sodium_memzero(key, strlen(key));
  free(key);
}

/* GET /api-key/get?id= */
static void route_get(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(p->au, req, resp, false, &st, &s)) return;
  const char *id = gh_req_query(req, "id");
  if (!id) {
    gh_resp_error_msg(resp, 400, "VALIDATION_ERROR",
                      "[query.id] Invalid input: expected string, received undefined");
    return;
  }
  ak_row r;
  if (!owned_key(st, req, resp, id, gh_req_query(req, "configId"), s.u.id, &r)) return;
  ak_delete_expired_throttled(st);
  answer_row(resp, &r, NULL, NULL);
}

/* z.coerce.number().int().nonnegative() on a query value. */
static bool query_count(gh_vctx *v, gh_req *req, const char *name, bool *present, int64_t *out) {
  const char *s = gh_req_query(req, name);
  *present = s != NULL;
  if (!s) return true;
  char *end;
  double d = strtod(s, &end);
  const char *path = gh_arena_printf(v->a, "query.%s", name);
  if (*s == 0) d = 0, end = (char *)s; /* Number("") is 0 */
  if (*end) {
    gh_v_issue(v, path, "Invalid input: expected number, received NaN");
    return false;
  }
  if (d != (double)(int64_t)d) {
    gh_v_issue(v, path, "Invalid input: expected int, received number");
    return false;
  }
  if (d < 0) {
    gh_v_issue(v, path, "Too small: expected number to be >=0");
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* GET /api-key/list */
static void route_list(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(p->au, req, resp, false, &st, &s)) return;
  gh_vctx v = {req->arena, NULL};
  bool has_limit, has_offset;
  int64_t limit = 0, offset = 0;
  query_count(&v, req, "limit", &has_limit, &limit);
  query_count(&v, req, "offset", &has_offset, &offset);
  const char *dir = gh_req_query(req, "sortDirection");
  if (dir && strcmp(dir, "asc") && strcmp(dir, "desc"))
    gh_v_issue(&v, "query.sortDirection", "Invalid option: expected one of \"asc\"|\"desc\"");
  if (gh_v_fail(&v, resp)) return;
  const char *config_id = gh_req_query(req, "configId");
  ak_row *rows;
  size_t n;
  gh_status rc = ak_list(st, req->arena, s.u.id, gh_req_query(req, "sortBy"),
                         dir && !strcmp(dir, "desc"), &rows, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_list");
    return;
  }
  gh_json *arr = gh_json_array();
  size_t total = 0, emitted = 0;
  for (size_t i = 0; i < n; i++) {
    bool def_key = !rows[i].config_id || !strcmp(rows[i].config_id, "default");
    if (config_id && *config_id && strcmp(config_id, "default")
            ? !(rows[i].config_id && !strcmp(rows[i].config_id, config_id))
            : (config_id && !def_key))
      continue;
    total++;
    if (has_offset && (int64_t)(total - 1) < offset) continue;
    if (has_limit && (int64_t)emitted >= limit) continue;
    gh_json_append_new(arr, ak_row_json(&rows[i], NULL, NULL));
    emitted++;
  }
  ak_delete_expired_throttled(st);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "apiKeys", arr);
  gh_json_set_new(o, "total", gh_json_int((int64_t)total));
  if (has_limit) gh_json_set_new(o, "limit", gh_json_int(limit));
  if (has_offset) gh_json_set_new(o, "offset", gh_json_int(offset));
  gh_resp_json(resp, 200, o);
}

/* POST /api-key/update */
static void route_update(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  if (!gh_origin_check(p->au, req, resp, false)) return;
  const gh_json *b = req->json;
  gh_vctx v = {req->arena, NULL};
  const char *key_id = NULL, *name = NULL, *user_id = NULL;
  bool has_name = false, has_rem = false, has_ra = false, has_ri = false, has_exp = false;
  bool has_rw = false, has_rm = false, has_perm = false;
  ak_int rem, ra, ri, exp = {true, 0}, rw, rm;
  double exp_s = 0;
  bool enabled = true;
  if (gh_v_object(&v, b, "object")) {
    gh_v_string(&v, b, "configId", false, false, NULL);
    key_id = gh_v_string(&v, b, "keyId", true, false, NULL);
    gh_json *uid = gh_json_get(b, "userId"); /* z.coerce.string() */
    if (uid)
      user_id = gh_json_typeof(uid) == GH_JSON_STRING ? gh_json_string(uid) : dump(req->arena, uid);
    name = gh_v_string(&v, b, "name", false, false, &has_name);
    enabled = gh_v_bool(&v, b, "enabled", true);
    v_number(&v, b, "remaining", false, true, 1, &has_rem, &rem);
    v_number(&v, b, "refillAmount", false, false, 0, &has_ra, &ra);
    v_number(&v, b, "refillInterval", false, false, 0, &has_ri, &ri);
    v_number_real(&v, b, "expiresIn", true, true, 1, &has_exp, &exp, &exp_s);
    gh_v_bool(&v, b, "rateLimitEnabled", false);
    v_number(&v, b, "rateLimitTimeWindow", false, false, 0, &has_rw, &rw);
    v_number(&v, b, "rateLimitMax", false, false, 0, &has_rm, &rm);
    v_permissions(&v, b, true, &has_perm);
  }
  if (gh_v_fail(&v, resp)) return;
  gh_store *st;
  gh_sess s;
  if (!session_or_401(p, req, resp, &st, &s)) return;
  if (user_id && *user_id && strcmp(user_id, s.u.id)) {
    gh_auth_error(resp, &E_UNAUTHORIZED_SESSION);
    return;
  }
  if (has_ra || has_ri || has_rm || has_rw || v_present(b, "rateLimitEnabled") || has_rem ||
      has_perm) {
    gh_auth_error(resp, &E_SERVER_ONLY);
    return;
  }
  ak_row r;
  if (!owned_key(st, req, resp, key_id, gh_json_string(gh_json_get(b, "configId")), s.u.id, &r))
    return;
  bool changed = false;
  if (has_name) {
    size_t len = js_length(name);
    if (len < 1 || len > 32) {
      gh_auth_error(resp, &E_NAME_LENGTH);
      return;
    }
    r.name = (char *)name;
    changed = true;
  }
  if (v_present(b, "enabled")) {
    r.enabled = (ak_int){false, enabled};
    changed = true;
  }
  if (has_exp) {
    if (!exp.null) {
      const gh_err_info *e = expires_in_error(exp_s);
      if (e) {
        gh_auth_error(resp, e);
        return;
      }
    }
    exp.v = (int64_t)(exp_s * 1000);
    r.expires_at = !exp.null && exp.v ? (ak_int){false, gh_now_ms() + exp.v} : (ak_int){true, 0};
    changed = true;
  }
  gh_json *metadata = gh_json_get(b, "metadata");
  if (metadata && p->metadata) {
    if (!js_object(metadata)) {
      gh_auth_error(resp, &E_INVALID_METADATA);
      return;
    }
    r.metadata = dump(req->arena, metadata);
    changed = true;
  }
  if (!changed) {
    gh_auth_error(resp, &E_NO_VALUES);
    return;
  }
  gh_status rc = ak_update(st, &r);
  if (rc == GH_ERR_NOT_FOUND) {
    gh_auth_error(resp, &AK_E_KEY_NOT_FOUND);
    return;
  }
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_update");
    return;
  }
  ak_delete_expired_throttled(st);
  gh_audit(p->au, req, "api_key.updated", s.u.id, "key_id", r.id, NULL, NULL);
  answer_row(resp, &r, NULL, NULL);
}

/* POST /api-key/delete */
static void route_delete(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(p->au, req, resp, true, &st, &s)) return;
  const gh_json *b = req->json;
  gh_vctx v = {req->arena, NULL};
  const char *key_id = NULL, *config_id = NULL;
  if (gh_v_object(&v, b, "object")) {
    config_id = gh_v_string(&v, b, "configId", false, false, NULL);
    key_id = gh_v_string(&v, b, "keyId", true, false, NULL);
  }
  if (gh_v_fail(&v, resp)) return;
  if (user_banned(&s.u)) {
    gh_auth_error(resp, &E_USER_BANNED);
    return;
  }
  ak_row r;
  if (!owned_key(st, req, resp, key_id, config_id, s.u.id, &r)) return;
  gh_status rc = ak_delete(st, r.id, NULL);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_delete");
    return;
  }
  ak_delete_expired_throttled(st);
  gh_audit(p->au, req, "api_key.deleted", s.u.id, "key_id", r.id, NULL, NULL);
  gh_resp_raw_json(resp, 200, "{\"success\":true}");
}

/* The service routes: GATEHOUSE_SERVICE_TOKEN as `Authorization: Bearer`, compared in constant
 * time (digests of equal length); no browser (a request with Origin or Sec-Fetch-* is refused);
 * unset token = the routes do not exist (404, empty body, as better-auth's server-only
 * endpoints). */
static bool service_caller(ak_plugin *p, gh_req *req, gh_resp *resp) {
  if (!p->has_service) {
    gh_resp_empty(resp, 404, false);
    return false;
  }
  if (gh_req_header(req, "Origin") || gh_req_header(req, "Sec-Fetch-Mode") ||
      gh_req_header(req, "Sec-Fetch-Site")) {
    gh_auth_error(resp, &E_BROWSER);
    return false;
  }
  const char *h = gh_req_header(req, "Authorization");
  uint8_t d[32];
  bool ok = false;
  if (h && strncasecmp(h, "Bearer ", 7) == 0) {
    const char *t = h + 7;
    crypto_hash_sha256(d, (const uint8_t *)t, strlen(t));
    ok = gh_ct_equal(d, p->service_hash, sizeof d);
    sodium_memzero(d, sizeof d);
  }
  if (!ok) gh_auth_error(resp, &E_SERVICE_TOKEN);
  return ok;
}

/* {"message","code"[,"details":{"tryAgainIn":ms}]} of a refused use. */
static gh_json *verdict_error(const ak_verdict *vd) {
  gh_json *e = gh_json_object();
  gh_json_set_new(e, "message", gh_json_str(vd->err->message));
  gh_json_set_new(e, "code", gh_json_str(vd->err->code));
  if (vd->err == &AK_E_RATE_LIMITED) {
    gh_json *d = gh_json_object();
    gh_json_set_new(d, "tryAgainIn", gh_json_int(vd->try_again_in));
    gh_json_set_new(e, "details", d);
  }
  return e;
}

/* POST /api-key/verify {key, permissions?, configId?} → the plugin's verifyApiKey result. */
static void route_verify(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  if (!service_caller(p, req, resp)) return;
  const gh_json *b = req->json;
  gh_vctx v = {req->arena, NULL};
  const char *key = NULL;
  bool has_perm = false;
  if (gh_v_object(&v, b, "object")) {
    gh_v_string(&v, b, "configId", false, false, NULL);
    key = gh_v_string(&v, b, "key", true, false, NULL);
    v_permissions(&v, b, false, &has_perm);
  }
  if (gh_v_fail(&v, resp)) return;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  ak_row r;
  ak_verdict vd;
  gh_status rc = ak_use(st, req->arena, &p->pol, key,
                        has_perm ? gh_json_get(b, "permissions") : NULL, &r, &vd);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_verify");
    return;
  }
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "valid", gh_json_bool(vd.err == NULL));
  gh_json_set_new(o, "error", vd.err ? verdict_error(&vd) : gh_json_null());
  gh_json_set_new(o, "key", vd.err ? gh_json_null() : ak_row_json(&r, NULL, NULL));
  if (vd.err) gh_log(GH_LOG_INFO, "api_key.refused", "code", vd.err->code, NULL);
  gh_resp_json(resp, 200, o);
}

/* POST /api-key/delete-all-expired-api-keys */
static void route_delete_expired(void *self, gh_req *req, gh_resp *resp) {
  ak_plugin *p = self;
  if (!service_caller(p, req, resp)) return;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  long n = 0;
  gh_status rc = ak_delete_expired(st, gh_now_ms(), &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "api_key_delete_expired");
    return;
  }
  gh_resp_raw_json(resp, 200, "{\"success\":true,\"error\":null}");
}

#define P "/api/auth"
#define VERIFY_PATH P "/api-key/verify"
#define EXPIRED_PATH P "/api-key/delete-all-expired-api-keys"

/* The service routes never carry CORS headers. */
static void after_route(void *self, gh_req *req, gh_resp *resp) {
  (void)self;
  if (!req->route || (strcmp(req->route, VERIFY_PATH) && strcmp(req->route, EXPIRED_PATH))) return;
  static const char *const H[] = {"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                                  "Vary"};
  for (size_t i = 0; i < 3; i++) gh_resp_remove_header(resp, H[i], NULL, NULL);
}

/* --- x-api-key as a session ---------------------------------------------------------------- */

static const char *key_header(const ak_plugin *p, const gh_req *req) {
  for (char **h = p->headers; *h; h++) {
    const char *v = gh_req_header(req, *h);
    if (v && *v) return v;
  }
  return NULL;
}

static bool denied_route(const ak_plugin *p, const gh_req *req) {
  if (!req->route) return false;
  for (char **d = p->deny; *d; d++)
    if (!strcmp(*d, req->route)) return true;
  return false;
}

static char *refusal_body(gh_arena *a, const ak_verdict *vd) {
  gh_json *e = verdict_error(vd);
  char *t = dump(a, e);
  gh_json_decref(e);
  return t;
}

static gh_status credential(void *self, gh_req *req, gh_credential *out) {
  ak_plugin *p = self;
  if (!p->sessions) return GH_OK; /* better-auth ignores the header unless enabled */
  const char *key = key_header(p, req);
  if (!key) return GH_OK;
  if (denied_route(p, req)) {
    out->refuse = &E_NOT_ALLOWED;
    return GH_OK;
  }
  if (strlen(key) < p->key_length || strlen(key) > 1024) {
    out->refuse = &AK_E_INVALID_API_KEY_403;
    return GH_OK;
  }
  gh_store *st;
  gh_status rc = gh_store_thread(&st);
  if (rc != GH_OK) return rc;
  gh_arena *a = req->arena;
  ak_row r;
  ak_verdict vd;
  rc = ak_use(st, a, &p->pol, key, NULL, &r, &vd);
  if (rc != GH_OK) return rc;
  ak_delete_expired_throttled(st);
  if (vd.err) {
    out->refuse = vd.err;
    out->refuse_body = refusal_body(a, &vd);
    gh_log(GH_LOG_INFO, "api_key.refused", "code", vd.err->code, NULL);
    return GH_OK;
  }
  rc = gh_store_user_by_id(st, a, r.reference_id, &out->user);
  if (rc == GH_ERR_NOT_FOUND) {
    out->refuse = &AK_E_INVALID_REFERENCE_ID;
    return GH_OK;
  }
  if (rc != GH_OK) return rc;
  int64_t now = gh_now_ms();
  gh_session *s = &out->session;
  s->id = r.id;
  s->token = gh_arena_strdup(a, key);
  s->user_id = r.reference_id;
  const char *ua = gh_req_header(req, "User-Agent");
  s->user_agent = ua ? gh_arena_strdup(a, ua) : NULL;
  s->ip_address = (char *)gh_auth_client_address(p->au, req);
  s->created_at = s->updated_at = now;
  /* apiKey.expiresAt || getDate(session.expiresIn || 7 days, "ms"): better-auth reads the
   * session lifetime in seconds as milliseconds here, and so do we */
  s->expires_at = r.expires_at.null ? now + 604800 : r.expires_at.v;
  out->resolved = true;
  /* get-session answers the before-hook's object: user first, then this session */
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "user", gh_user_json(&out->user));
  gh_json *sj = gh_json_object();
  char b1[GH_ISO_LEN], b2[GH_ISO_LEN];
  gh_json_set_new(sj, "id", gh_json_str(s->id));
  gh_json_set_new(sj, "token", gh_json_str(s->token));
  gh_json_set_new(sj, "userId", gh_json_str(s->user_id));
  gh_json_set_new(sj, "userAgent", gh_json_str(s->user_agent));
  gh_json_set_new(sj, "ipAddress", gh_json_str(s->ip_address));
  gh_iso8601(now, b1);
  gh_json_set_new(sj, "createdAt", gh_json_str(b1));
  gh_json_set_new(sj, "updatedAt", gh_json_str(b1));
  gh_iso8601(s->expires_at, b2);
  gh_json_set_new(sj, "expiresAt", gh_json_str(b2));
  gh_json_set_new(o, "session", sj);
  out->answer = dump(a, o);
  gh_json_decref(o);
  return GH_OK;
}

/* --- CLI ----------------------------------------------------------------------------------- */

static const char *arg_value(int argc, char **argv, const char *name) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return NULL;
}

static int cmd_apikey(void *self, gh_store *st, int argc, char **argv) {
  ak_plugin *p = self;
  const char *sub = argc > 0 ? argv[0] : "";
  gh_arena *a = gh_arena_new();
  int ret = 2;
  if (!strcmp(sub, "create") || !strcmp(sub, "list")) {
    const char *email = arg_value(argc, argv, "--email");
    if (!email) {
      fprintf(stderr, "usage: gatehouse apikey %s --email EMAIL ...\n", sub);
      goto out;
    }
    gh_user u;
    char *lower = gh_arena_strdup(a, email);
    for (char *c = lower; *c; c++)
      if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    gh_status rc = gh_store_user_by_email(st, a, lower, &u);
    if (rc != GH_OK) {
      fprintf(stderr, "gatehouse: %s\n",
              rc == GH_ERR_NOT_FOUND ? "no user with that e-mail" : gh_status_str(rc));
      ret = 1;
      goto out;
    }
    if (!strcmp(sub, "list")) {
      ak_row *rows;
      size_t n;
      rc = ak_list(st, a, u.id, NULL, false, &rows, &n);
      if (rc != GH_OK) {
        fprintf(stderr, "gatehouse: cannot list the keys: %s\n", gh_status_str(rc));
        ret = 1;
        goto out;
      }
      for (size_t i = 0; i < n; i++) {
        char exp[GH_ISO_LEN] = "never";
        if (!rows[i].expires_at.null) gh_iso8601(rows[i].expires_at.v, exp);
        printf("%s  %-8s  %-24s  %s  expires %s  remaining %s  permissions %s\n", rows[i].id,
               rows[i].start ? rows[i].start : "-", rows[i].name ? rows[i].name : "-",
               rows[i].enabled.null || rows[i].enabled.v ? "enabled " : "disabled", exp,
               rows[i].remaining.null ? "unlimited"
                                      : gh_arena_printf(a, "%lld", (long long)rows[i].remaining.v),
               rows[i].permissions ? rows[i].permissions : "-");
      }
      ret = 0;
      goto out;
    }
    const char *name = arg_value(argc, argv, "--name");
    const char *perm = arg_value(argc, argv, "--permissions");
    const char *exp_s = arg_value(argc, argv, "--expires-in");
    if (!name || !*name || js_length(name) > 32) {
      fprintf(stderr, "usage: gatehouse apikey create --email EMAIL --name NAME (1-32 chars) "
                      "[--permissions JSON] [--expires-in SECONDS] [--rate-limit-max N]\n");
      goto out;
    }
    char *perm_text = NULL;
    if (perm) {
      gh_json *j;
      gh_vctx v = {a, NULL};
      bool present;
      gh_json *wrap = gh_json_object();
      gh_json_own(a, wrap);
      if (gh_json_parse(perm, strlen(perm), &j) != GH_OK) {
        fprintf(stderr, "gatehouse: --permissions is not JSON\n");
        goto out;
      }
      gh_json_set_new(wrap, "permissions", j);
      v_permissions(&v, wrap, false, &present);
      if (v.msg) {
        fprintf(stderr, "gatehouse: --permissions: %s (expected {\"resource\":[\"action\"]})\n",
                v.msg);
        goto out;
      }
      perm_text = dump(a, j);
    }
    int64_t exp = 0;
    if (exp_s) {
      char *end;
      long long x = strtoll(exp_s, &end, 10);
      if (*end || x <= 0 || expires_in_error(x)) {
        fprintf(stderr, "gatehouse: --expires-in: seconds between 86400 (1 day) and 31536000\n");
        goto out;
      }
      exp = x;
    }
    const char *rl_s = arg_value(argc, argv, "--rate-limit-max");
    long long rl = -1;
    if (rl_s) {
      char *end;
      rl = strtoll(rl_s, &end, 10);
      if (*end || rl < 0 || rl > 1000000000) {
        fprintf(stderr, "gatehouse: --rate-limit-max: uses per window, 0 = no rate limit\n");
        goto out;
      }
    }
    ak_row r;
    char *key;
    new_row(p, a, u.id, gh_arena_strdup(a, name), NULL, exp * 1000, perm_text, NULL, &r, &key);
    if (rl == 0) r.rate_limit_enabled.v = 0; /* a server-side setting, as rateLimitEnabled */
    if (rl > 0) r.rate_limit_max.v = rl;
    rc = ak_insert(st, &r);
    if (rc != GH_OK) {
      sodium_memzero(key, strlen(key));
      free(key);
      fprintf(stderr, "gatehouse: cannot store the key: %s\n", gh_status_str(rc));
      ret = 1;
      goto out;
    }
    printf("%s\n", key);
    fflush(stdout);
    fprintf(stderr, "created API key %s for %s; the key above is shown only this once\n", r.id,
            u.email);
    gh_log(GH_LOG_INFO, "api_key.created", "key_id", r.id, "user_id", u.id, "by", "cli", NULL);
    sodium_memzero(key, strlen(key));
    free(key);
    ret = 0;
  } else if (!strcmp(sub, "revoke")) {
    if (argc < 2) {
      fprintf(stderr, "usage: gatehouse apikey revoke ID\n");
      goto out;
    }
    long n = 0;
    gh_status rc = ak_delete(st, argv[1], &n);
    if (rc != GH_OK || n == 0) {
      fprintf(stderr, "gatehouse: %s\n", rc != GH_OK ? gh_status_str(rc) : "no such API key");
      ret = 1;
      goto out;
    }
    gh_log(GH_LOG_INFO, "api_key.deleted", "key_id", argv[1], "by", "cli", NULL);
    printf("revoked API key %s\n", argv[1]);
    ret = 0;
  } else {
    fprintf(stderr, "usage: gatehouse apikey create|list|revoke ...\n");
  }
out:
  gh_arena_free(a);
  return ret;
}

/* --- descriptor ---------------------------------------------------------------------------- */

static const gh_route ROUTES[] = {
    {"POST", P "/api-key/create", route_create, 0, NULL},
    {"GET", P "/api-key/get", route_get, 0, NULL},
    {"GET", P "/api-key/list", route_list, 0, NULL},
    {"POST", P "/api-key/update", route_update, 0, NULL},
    {"POST", P "/api-key/delete", route_delete, 0, NULL},
    {"POST", VERIFY_PATH, route_verify, 0, NULL},
    {"POST", EXPIRED_PATH, route_delete_expired, 0, NULL},
};

static const gh_plugin_command COMMANDS[] = {
    {"apikey",
     "  apikey create --email E --name N [--permissions JSON] [--expires-in S]\n"
     "               [--rate-limit-max N]\n"
     "                           new API key for the user; prints the key (only this once);\n"
     "                           N uses per rate-limit window (0 = no per-key rate limit)\n"
     "  apikey list --email E    the user's API keys (never the keys themselves)\n"
     "  apikey revoke ID         deletes an API key\n",
     cmd_apikey},
};

/* The plugin's table, as better-auth's migrator creates it for @better-auth/api-key. */
static const gh_store_migration MIGRATIONS[] = {
    {"api-key/001_apikey",
     "create table if not exists \"apikey\" (\"id\" text not null primary key, \"configId\" text "
     "not null, \"name\" text, \"start\" text, \"referenceId\" text not null, \"prefix\" text, "
     "\"key\" text not null, \"refillInterval\" integer, \"refillAmount\" integer, "
     "\"lastRefillAt\" date, \"enabled\" integer, \"rateLimitEnabled\" integer, "
     "\"rateLimitTimeWindow\" integer, \"rateLimitMax\" integer, \"requestCount\" integer, "
     "\"remaining\" integer, \"lastRequest\" date, \"expiresAt\" date, \"createdAt\" date not "
     "null, \"updatedAt\" date not null, \"permissions\" text, \"metadata\" text);"
     "create index if not exists \"apikey_configId_idx\" on \"apikey\" (\"configId\");"
     "create index if not exists \"apikey_referenceId_idx\" on \"apikey\" (\"referenceId\");"
     "create index if not exists \"apikey_key_idx\" on \"apikey\" (\"key\");",
     "create table if not exists \"apikey\" (\"id\" text not null primary key, \"configId\" text "
     "not null, \"name\" text, \"start\" text, \"referenceId\" text not null, \"prefix\" text, "
     "\"key\" text not null, \"refillInterval\" integer, \"refillAmount\" integer, "
     "\"lastRefillAt\" timestamptz, \"enabled\" boolean, \"rateLimitEnabled\" boolean, "
     "\"rateLimitTimeWindow\" integer, \"rateLimitMax\" integer, \"requestCount\" integer, "
     "\"remaining\" integer, \"lastRequest\" timestamptz, \"expiresAt\" timestamptz, "
     "\"createdAt\" timestamptz not null, \"updatedAt\" timestamptz not null, \"permissions\" "
     "text, \"metadata\" text);"
     "create index if not exists \"apikey_configId_idx\" on \"apikey\" (\"configId\");"
     "create index if not exists \"apikey_referenceId_idx\" on \"apikey\" (\"referenceId\");"
     "create index if not exists \"apikey_key_idx\" on \"apikey\" (\"key\");"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
const gh_plugin gh_plugin_api_key = {
    .id = "api-key",
    .summary = "API keys for automation (`@better-auth/api-key`): `/api/auth/api-key/*`, "
               "`x-api-key` as the owner's session (GATEHOUSE_API_KEY_SESSIONS), "
               "`POST /api/auth/api-key/verify` for resource servers holding "
               "GATEHOUSE_SERVICE_TOKEN, `gatehouse apikey create|list|revoke`",
    .opts = OPTS,
    .nopts = N(OPTS),
    .conf_size = sizeof(ak_conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = N(ROUTES),
    .errors = ERRORS,
    .nerrors = N(ERRORS),
    .migrations = MIGRATIONS,
    .nmigrations = N(MIGRATIONS),
    .commands = COMMANDS,
    .ncommands = N(COMMANDS),
    .credential = credential,
    .after_route = after_route,
};
