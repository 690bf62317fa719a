/* The "apikey" table of @better-auth/api-key over the generic runner (see api_key_store.h). */
#include "plugins/api_key_store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/time.h"
#include "plugins/api_key.h"

const gh_err_info AK_E_INVALID_API_KEY = {401, "INVALID_API_KEY", "Invalid API key."};
const gh_err_info AK_E_INVALID_API_KEY_403 = {403, "INVALID_API_KEY", "Invalid API key."};
const gh_err_info AK_E_KEY_DISABLED = {401, "KEY_DISABLED", "API Key is disabled"};
const gh_err_info AK_E_KEY_EXPIRED = {401, "KEY_EXPIRED", "API Key has expired"};
const gh_err_info AK_E_USAGE_EXCEEDED = {429, "USAGE_EXCEEDED",
                                         "API Key has reached its usage limit"};
const gh_err_info AK_E_RATE_LIMITED = {429, "RATE_LIMITED", "Rate limit exceeded."};
const gh_err_info AK_E_KEY_NOT_FOUND = {404, "KEY_NOT_FOUND", "API Key not found"};
const gh_err_info AK_E_KEY_NOT_FOUND_401 = {401, "KEY_NOT_FOUND", "API Key not found"};
const gh_err_info AK_E_INVALID_REFERENCE_ID = {401, "INVALID_REFERENCE_ID_FROM_API_KEY",
                                               "The reference id from the API key is invalid."};

/* Schema order (AK/schema.ts), id last: what the adapter reads and the JSON order. */
#define COLS                                                                                       \
  "\"configId\", \"name\", \"start\", \"referenceId\", \"prefix\", \"key\", \"refillInterval\", "  \
  "\"refillAmount\", \"lastRefillAt\", \"enabled\", \"rateLimitEnabled\", "                        \
  "\"rateLimitTimeWindow\", \"rateLimitMax\", \"requestCount\", \"remaining\", \"lastRequest\", "  \
  "\"expiresAt\", \"createdAt\", \"updatedAt\", \"permissions\", \"metadata\", \"id\""
#define COLTYPES "ttttttiiDbbiiiiDDddttt"

static const gh_query Q_INSERT = {
    "apikey_insert",
    "insert into \"apikey\" (" COLS ") values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    "insert into \"apikey\" (" COLS ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
    "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
    NULL};
static const gh_query Q_BY_ID = {"apikey_by_id",
                                 "select " COLS " from \"apikey\" where \"id\" = ?1",
                                 "select " COLS " from \"apikey\" where \"id\" = $1", COLTYPES};
/* SQLite: BEGIN IMMEDIATE already holds the write lock; PostgreSQL locks the row. */
static const gh_query Q_BY_KEY_LOCK = {
    "apikey_by_key", "select " COLS " from \"apikey\" where \"key\" = ?1",
    "select " COLS " from \"apikey\" where \"key\" = $1 for update", COLTYPES};
static const gh_query Q_DELETE = {"apikey_delete", "delete from \"apikey\" where \"id\" = ?1",
                                  "delete from \"apikey\" where \"id\" = $1", NULL};
static const gh_query Q_DELETE_EXPIRED = {
    "apikey_delete_expired",
    "delete from \"apikey\" where \"expiresAt\" is not null and \"expiresAt\" < ?1",
    "delete from \"apikey\" where \"expiresAt\" is not null and \"expiresAt\" < $1", NULL};
static const gh_query Q_USE = {
    "apikey_use",
    "update \"apikey\" set \"remaining\" = ?2, \"lastRefillAt\" = ?3, \"requestCount\" = ?4, "
    "\"lastRequest\" = ?5, \"updatedAt\" = ?6 where \"id\" = ?1",
    "update \"apikey\" set \"remaining\" = $2, \"lastRefillAt\" = $3, \"requestCount\" = $4, "
    "\"lastRequest\" = $5, \"updatedAt\" = $6 where \"id\" = $1",
    NULL};
static const gh_query Q_UPDATE = {
    "apikey_update",
    "update \"apikey\" set \"name\" = ?2, \"enabled\" = ?3, \"expiresAt\" = ?4, \"metadata\" = ?5, "
    "\"remaining\" = ?6, \"refillAmount\" = ?7, \"refillInterval\" = ?8, \"rateLimitEnabled\" = "
    "?9, \"rateLimitTimeWindow\" = ?10, \"rateLimitMax\" = ?11, \"permissions\" = ?12 where "
    "\"id\" = ?1",
    "update \"apikey\" set \"name\" = $2, \"enabled\" = $3, \"expiresAt\" = $4, \"metadata\" = $5, "
    "\"remaining\" = $6, \"refillAmount\" = $7, \"refillInterval\" = $8, \"rateLimitEnabled\" = "
    "$9, \"rateLimitTimeWindow\" = $10, \"rateLimitMax\" = $11, \"permissions\" = $12 where "
    "\"id\" = $1",
    NULL};

/* Listing, one query per sortable column and direction (identifiers cannot be parameters). */
#define LIST_Q(col, dir)                                                                           \
  {                                                                                                \
    "apikey_list",                                                                                 \
        "select " COLS " from \"apikey\" where \"referenceId\" = ?1 order by \"" col "\" " dir,    \
        "select " COLS " from \"apikey\" where \"referenceId\" = $1 order by \"" col "\" " dir,    \
        COLTYPES                                                                                   \
  }
static const char *const SORTABLE[] = {
    "createdAt", "updatedAt", "name", "expiresAt", "lastRequest",  "remaining",   "enabled",
    "prefix",    "start",     "id",   "configId",  "requestCount", "rateLimitMax"};
static const gh_query Q_LIST[][2] = {
    {LIST_Q("createdAt", "asc"), LIST_Q("createdAt", "desc")},
    {LIST_Q("updatedAt", "asc"), LIST_Q("updatedAt", "desc")},
    {LIST_Q("name", "asc"), LIST_Q("name", "desc")},
    {LIST_Q("expiresAt", "asc"), LIST_Q("expiresAt", "desc")},
    {LIST_Q("lastRequest", "asc"), LIST_Q("lastRequest", "desc")},
    {LIST_Q("remaining", "asc"), LIST_Q("remaining", "desc")},
    {LIST_Q("enabled", "asc"), LIST_Q("enabled", "desc")},
    {LIST_Q("prefix", "asc"), LIST_Q("prefix", "desc")},
    {LIST_Q("start", "asc"), LIST_Q("start", "desc")},
    {LIST_Q("id", "asc"), LIST_Q("id", "desc")},
    {LIST_Q("configId", "asc"), LIST_Q("configId", "desc")},
    {LIST_Q("requestCount", "asc"), LIST_Q("requestCount", "desc")},
    {LIST_Q("rateLimitMax", "asc"), LIST_Q("rateLimitMax", "desc")},
};

/* A nullable integer as a text parameter (NULL binds NULL; both backends convert the text into
 * the integer column). */
static const char *int_param(gh_arena *a, ak_int v) {
  return v.null ? NULL : gh_arena_printf(a, "%lld", (long long)v.v);
}

static const int64_t *date_param(const ak_int *v) {
  return v->null ? NULL : &v->v;
}

static ak_int cell_int(const gh_cell *c) {
  ak_int v = {c->null, c->null ? 0 : c->num};
  return v;
}

static void read_row(const gh_cell *c, ak_row *r) {
  memset(r, 0, sizeof *r);
  r->config_id = c[0].text;
  r->name = c[1].text;
  r->start = c[2].text;
  r->reference_id = c[3].text;
  r->prefix = c[4].text;
  r->key = c[5].text;
  r->refill_interval = cell_int(&c[6]);
  r->refill_amount = cell_int(&c[7]);
  r->last_refill_at = cell_int(&c[8]);
  r->enabled = cell_int(&c[9]);
  r->rate_limit_enabled = cell_int(&c[10]);
  r->rate_limit_time_window = cell_int(&c[11]);
  r->rate_limit_max = cell_int(&c[12]);
  r->request_count = cell_int(&c[13]);
  r->remaining = cell_int(&c[14]);
  r->last_request = cell_int(&c[15]);
  r->expires_at = cell_int(&c[16]);
  r->created_at = c[17].num;
  r->updated_at = c[18].num;
  r->permissions = c[19].text;
  r->metadata = c[20].text;
  r->id = c[21].text;
}

gh_status ak_insert(gh_store *st, const ak_row *r) {
  gh_arena *a = gh_arena_new();
  gh_status rc = gh_store_exec(
      st, &Q_INSERT, NULL, "ttttttttDbbttitDDddttt", r->config_id, r->name, r->start,
      r->reference_id, r->prefix, r->key, int_param(a, r->refill_interval),
      int_param(a, r->refill_amount), date_param(&r->last_refill_at), (int)(r->enabled.v != 0),
      (int)(r->rate_limit_enabled.v != 0), int_param(a, r->rate_limit_time_window),
      int_param(a, r->rate_limit_max), r->request_count.v, int_param(a, r->remaining),
      date_param(&r->last_request), date_param(&r->expires_at), r->created_at, r->updated_at,
      r->permissions, r->metadata, r->id);
  gh_arena_free(a);
  return rc;
}

static gh_status one(gh_store *st, gh_arena *a, const gh_query *q, const char *v, ak_row *out) {
  gh_rows rows;
  gh_status rc = gh_store_query(st, a, q, &rows, "t", v);
  if (rc) return rc;
  if (rows.n == 0) return GH_ERR_NOT_FOUND;
  read_row(gh_rows_at(&rows, 0), out);
  return GH_OK;
}

gh_status ak_by_id(gh_store *st, gh_arena *a, const char *id, ak_row *out) {
  return one(st, a, &Q_BY_ID, id, out);
}

gh_status ak_list(gh_store *st, gh_arena *a, const char *reference_id, const char *sort_by,
                  bool desc, ak_row **out, size_t *n) {
  size_t which = 0;
  if (sort_by)
    for (size_t i = 0; i < sizeof SORTABLE / sizeof SORTABLE[0]; i++)
      if (!strcmp(SORTABLE[i], sort_by)) which = i;
  gh_rows rows;
  gh_status rc = gh_store_query(st, a, &Q_LIST[which][desc ? 1 : 0], &rows, "t", reference_id);
  if (rc) return rc;
  *n = rows.n;
  *out = rows.n ? gh_arena_alloc(a, rows.n * sizeof **out) : NULL;
  for (size_t i = 0; i < rows.n; i++) read_row(gh_rows_at(&rows, i), &(*out)[i]);
  return GH_OK;
}

gh_status ak_update(gh_store *st, const ak_row *r) {
  gh_arena *a = gh_arena_new();
  long changes = 0;
  gh_status rc = gh_store_exec(
      st, &Q_UPDATE, &changes, "ttbDttttbttt", r->id, r->name,
      (int)(r->enabled.null || r->enabled.v != 0), date_param(&r->expires_at), r->metadata,
      int_param(a, r->remaining), int_param(a, r->refill_amount), int_param(a, r->refill_interval),
      (int)(r->rate_limit_enabled.v != 0), int_param(a, r->rate_limit_time_window),
      int_param(a, r->rate_limit_max), r->permissions);
  gh_arena_free(a);
  if (rc == GH_OK && changes == 0) rc = GH_ERR_NOT_FOUND;
  return rc;
}

gh_status ak_delete(gh_store *st, const char *id, long *deleted) {
  return gh_store_exec(st, &Q_DELETE, deleted, "t", id);
}

gh_status ak_delete_expired(gh_store *st, int64_t now, long *deleted) {
  return gh_store_exec(st, &Q_DELETE_EXPIRED, deleted, "d", now);
}

void ak_delete_expired_throttled(gh_store *st) {
  static _Atomic int64_t last_checked = 0;
  int64_t now = gh_now_ms(), last = atomic_load(&last_checked);
  if (last && now - last < 10000) return;
  if (!atomic_compare_exchange_strong(&last_checked, &last, now)) return; /* another thread */
  long n = 0;
  gh_status rc = ak_delete_expired(st, now, &n);
  if (rc != GH_OK)
    gh_log(GH_LOG_WARN, "api_key.delete_expired_failed", "status", gh_status_str(rc), NULL);
  else if (n > 0) {
    char nb[24];
    snprintf(nb, sizeof nb, "%ld", n);
    gh_log(GH_LOG_INFO, "api_key.expired_deleted", "count", nb, NULL);
  }
}

/* --- JSON ---------------------------------------------------------------------------------- */

static gh_json *date_json(ak_int v) {
  if (v.null) return gh_json_null();
  char b[GH_ISO_LEN];
  gh_iso8601(v.v, b);
  return gh_json_str(b);
}

static gh_json *int_json(ak_int v) {
  return v.null ? gh_json_null() : gh_json_int(v.v);
}

static gh_json *bool_json(ak_int v) {
  return v.null ? gh_json_null() : gh_json_bool(v.v != 0);
}

/* safeJSONParse: the parsed value, or null when the text is absent or not JSON. */
static gh_json *parse_or_null(const char *text) {
  gh_json *j;
  if (!text || gh_json_parse(text, strlen(text), &j) != GH_OK) return gh_json_null();
  return j;
}

/* The metadata column as the plugin answers it: parsed, and parsed once more when the value was
 * stored double-stringified by older versions. */
static gh_json *metadata_json(const char *text) {
  gh_json *j = parse_or_null(text);
  if (gh_json_typeof(j) == GH_JSON_STRING) {
    gh_json *k;
    const char *s = gh_json_string(j);
    if (gh_json_parse(s, gh_json_string_len(j), &k) != GH_OK) k = gh_json_null();
    gh_json_decref(j);
    j = k;
  }
  return j;
}

gh_json *ak_row_json(const ak_row *r, const char *plaintext, gh_json *metadata) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "configId", gh_json_str(r->config_id));
  gh_json_set_new(o, "name", gh_json_str(r->name));
  gh_json_set_new(o, "start", gh_json_str(r->start));
  gh_json_set_new(o, "referenceId", gh_json_str(r->reference_id));
  gh_json_set_new(o, "prefix", gh_json_str(r->prefix));
  if (plaintext) gh_json_set_new(o, "key", gh_json_str(plaintext));
  gh_json_set_new(o, "refillInterval", int_json(r->refill_interval));
  gh_json_set_new(o, "refillAmount", int_json(r->refill_amount));
  gh_json_set_new(o, "lastRefillAt", date_json(r->last_refill_at));
  gh_json_set_new(o, "enabled", bool_json(r->enabled));
  gh_json_set_new(o, "rateLimitEnabled", bool_json(r->rate_limit_enabled));
  gh_json_set_new(o, "rateLimitTimeWindow", int_json(r->rate_limit_time_window));
  gh_json_set_new(o, "rateLimitMax", int_json(r->rate_limit_max));
  gh_json_set_new(o, "requestCount", int_json(r->request_count));
  gh_json_set_new(o, "remaining", int_json(r->remaining));
  gh_json_set_new(o, "lastRequest", date_json(r->last_request));
  gh_json_set_new(o, "expiresAt", date_json(r->expires_at));
  ak_int c = {false, r->created_at}, u = {false, r->updated_at};
  gh_json_set_new(o, "createdAt", date_json(c));
  gh_json_set_new(o, "updatedAt", date_json(u));
  gh_json *perms = parse_or_null(r->permissions);
  if (gh_json_typeof(perms) != GH_JSON_OBJECT) {
    gh_json_decref(perms);
    perms = gh_json_null();
  }
  gh_json_set_new(o, "permissions", perms);
  gh_json_set_new(o, "metadata", metadata ? gh_json_incref(metadata) : metadata_json(r->metadata));
  gh_json_set_new(o, "id", gh_json_str(r->id));
  return o;
}

/* --- permissions --------------------------------------------------------------------------- */

bool ak_permissions_allow(const char *granted_json, const gh_json *required) {
  if (!granted_json || gh_json_typeof(required) != GH_JSON_OBJECT) return false;
  gh_json *granted;
  if (gh_json_parse(granted_json, strlen(granted_json), &granted) != GH_OK) return false;
  bool ok = gh_json_typeof(granted) == GH_JSON_OBJECT && gh_json_object_size(required) > 0;
  for (void *it = gh_json_iter((gh_json *)required); ok && it;
       it = gh_json_iter_next((gh_json *)required, it)) {
    gh_json *allowed = gh_json_get(granted, gh_json_iter_key(it));
    gh_json *want = gh_json_iter_value(it);
    if (gh_json_typeof(allowed) != GH_JSON_ARRAY || gh_json_typeof(want) != GH_JSON_ARRAY) {
      ok = false;
      break;
    }
    if (gh_json_array_size(want) == 0) ok = false; /* as better-auth's authorize: nothing asked */
    for (size_t i = 0; ok && i < gh_json_array_size(want); i++) {
      const char *w = gh_json_string(gh_json_array_get(want, i));
      bool found = false;
      for (size_t k = 0; w && !found && k < gh_json_array_size(allowed); k++) {
        const char *g = gh_json_string(gh_json_array_get(allowed, k));
        found = g && !strcmp(g, w);
      }
      ok = found;
    }
  }
  gh_json_decref(granted);
  return ok;
}

/* --- using a key --------------------------------------------------------------------------- */

/* evaluateRateLimit + the counter it leaves (AK/rate-limit.ts): false = deny. */
static bool rate_limit(const ak_policy *pol, ak_row *r, int64_t now, int64_t *try_again_in) {
  if (!pol->rate_limit || (!r->rate_limit_enabled.null && r->rate_limit_enabled.v == 0)) {
    r->last_request = (ak_int){false, now}; /* skip, but the use is recorded */
    return true;
  }
  if (r->rate_limit_time_window.null || r->rate_limit_max.null) return true; /* skip */
  int64_t window = r->rate_limit_time_window.v;
  if (r->last_request.null || now - r->last_request.v > window) { /* start / reset */
    r->request_count = (ak_int){false, 1};
    r->last_request = (ak_int){false, now};
    return true;
  }
  int64_t since = now - r->last_request.v;
  if (r->request_count.v >= r->rate_limit_max.v) {
    *try_again_in = window - since;
    return false;
  }
  r->request_count.v++;
  r->request_count.null = false;
  r->last_request = (ak_int){false, now};
  return true;
}

gh_status ak_use(gh_store *st, gh_arena *a, const ak_policy *pol, const char *key,
                 const gh_json *required, ak_row *row, ak_verdict *out) {
  memset(out, 0, sizeof *out);
  char hash[GH_API_KEY_HASH_LEN + 1];
  gh_api_key_hash(key, strlen(key), hash);
  gh_status rc = gh_store_begin(st);
  if (rc) return rc;
  rc = one(st, a, &Q_BY_KEY_LOCK, hash, row);
  int64_t now = gh_now_ms();
  if (rc == GH_ERR_NOT_FOUND) {
    out->err = &AK_E_INVALID_API_KEY;
    rc = GH_OK;
    goto end;
  }
  if (rc) goto end;
  if (!row->enabled.null && row->enabled.v == 0) {
    out->err = &AK_E_KEY_DISABLED;
    goto end;
  }
  if (!row->expires_at.null && now > row->expires_at.v) {
    out->err = &AK_E_KEY_EXPIRED;
    rc = ak_delete(st, row->id, NULL);
    goto end;
  }
  if (required && !ak_permissions_allow(row->permissions, required)) {
    out->err = &AK_E_KEY_NOT_FOUND_401;
    goto end;
  }
  if (!row->remaining.null && row->remaining.v == 0 && row->refill_amount.null) {
    out->err = &AK_E_USAGE_EXCEEDED;
    rc = ak_delete(st, row->id, NULL);
    goto end;
  }
  if (!row->remaining.null) { /* consumeRemaining */
    bool refilled = false;
    if (!row->refill_interval.null && row->refill_interval.v && !row->refill_amount.null &&
        row->refill_amount.v) {
      int64_t last = row->last_refill_at.null ? row->created_at : row->last_refill_at.v;
      if (now - last > row->refill_interval.v) {
        row->remaining.v = row->refill_amount.v - 1;
        row->last_refill_at = (ak_int){false, now};
        refilled = true;
      }
    }
    if (!refilled) {
      if (row->remaining.v <= 0) {
        out->err = &AK_E_USAGE_EXCEEDED;
        goto end;
      }
      row->remaining.v--;
    }
  }
  ak_row before = *row;
  if (!rate_limit(pol, row, now, &out->try_again_in)) {
    out->err = &AK_E_RATE_LIMITED;
    /* the quota consumed above stays consumed, as with the plugin */
    rc = gh_store_exec(st, &Q_USE, NULL, "ttDiDd", row->id, int_param(a, before.remaining),
                       date_param(&before.last_refill_at), before.request_count.v,
                       date_param(&before.last_request), row->updated_at);
    goto end;
  }
  row->updated_at = now;
  rc = gh_store_exec(st, &Q_USE, NULL, "ttDiDd", row->id, int_param(a, row->remaining),
                     date_param(&row->last_refill_at), row->request_count.v,
                     date_param(&row->last_request), row->updated_at);
end:
  return gh_store_end(st, rc);
}
