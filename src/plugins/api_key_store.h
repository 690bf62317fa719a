/* The api-key plugin's "apikey" table over the generic query runner: the row exactly as
 * @better-auth/api-key stores it, its JSON shape, and the use of a key (expiry, enabled,
 * permissions, remaining with refill, the per-key rate limit) in one transaction. */
#ifndef GH_PLUGINS_API_KEY_STORE_H
#define GH_PLUGINS_API_KEY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/errors.h"
#include "common/status.h"
#include "json/json.h"
#include "store/store.h"

typedef struct {
  bool null;
  int64_t v;
} ak_int; /* a nullable integer, boolean or date column */

typedef struct {
  char *id, *config_id, *name, *start, *reference_id, *prefix, *key; /* key: the stored hash */
  ak_int refill_interval, refill_amount, last_refill_at;
  ak_int enabled, rate_limit_enabled;
  ak_int rate_limit_time_window, rate_limit_max, request_count, remaining;
  ak_int last_request, expires_at;
  int64_t created_at, updated_at;
  char *permissions; /* JSON text {"resource":["action"]} or NULL */
  char *metadata;    /* JSON text (JSON.stringify of the value) or NULL */
} ak_row;

GH_MUST_CHECK gh_status ak_insert(gh_store *st, const ak_row *r);
GH_MUST_CHECK gh_status ak_by_id(gh_store *st, gh_arena *a, const char *id, ak_row *out);
/* Keys of a reference (user id), ordered by sort_by (a column name, NULL = createdAt). */
GH_MUST_CHECK gh_status ak_list(gh_store *st, gh_arena *a, const char *reference_id,
                                const char *sort_by, bool desc, ak_row **out, size_t *n);
/* Writes every column a client or the server may change (not the key, owner, times). */
GH_MUST_CHECK gh_status ak_update(gh_store *st, const ak_row *r);
GH_MUST_CHECK gh_status ak_delete(gh_store *st, const char *id, long *deleted);
/* Deletes the keys whose expiresAt has passed. */
GH_MUST_CHECK gh_status ak_delete_expired(gh_store *st, int64_t now, long *deleted);
/* Same, at most once every 10 s per process (the plugin's deleteAllExpiredApiKeys throttle);
 * errors are logged, never answered. */
void ak_delete_expired_throttled(gh_store *st);

/* JSON of a row in the plugin's key order (schema order, id last). plaintext: the key member is
 * the plaintext (create) — NULL leaves the key out (get, list, update, verify). metadata: the
 * value to answer (create answers what it was given), NULL = parse the column. */
gh_json *ak_row_json(const ak_row *r, const char *plaintext, gh_json *metadata);

/* What using a key ended in. */
typedef struct {
  const gh_err_info *err; /* NULL: the key is valid (row updated) */
  int64_t try_again_in;   /* RATE_LIMITED: ms */
} ak_verdict;

typedef struct {
  bool rate_limit; /* the plugin's rateLimit.enabled */
} ak_policy;

/* better-auth's validateApiKey + claimUsageInDatabase: looks the key up by its hash, refuses it
 * (INVALID_API_KEY, KEY_DISABLED, KEY_EXPIRED (row deleted), KEY_NOT_FOUND for missing
 * permissions, USAGE_EXCEEDED (row deleted when no refill), RATE_LIMITED), else consumes one use
 * (remaining, refill, request count) and fills *row with the updated row. One transaction; the row
 * is locked on PostgreSQL. required: {"resource":["action"]} the key must hold, or NULL. */
GH_MUST_CHECK gh_status ak_use(gh_store *st, gh_arena *a, const ak_policy *pol, const char *key,
                               const gh_json *required, ak_row *row, ak_verdict *out);

/* role(permissions).authorize(required) of better-auth's access control: every requested action
 * of every requested resource is granted. */
bool ak_permissions_allow(const char *granted_json, const gh_json *required);

/* The plugin's error rows (codes, statuses, messages exactly as @better-auth/api-key). */
extern const gh_err_info AK_E_INVALID_API_KEY, AK_E_INVALID_API_KEY_403, AK_E_KEY_DISABLED,
    AK_E_KEY_EXPIRED, AK_E_USAGE_EXCEEDED, AK_E_RATE_LIMITED, AK_E_KEY_NOT_FOUND,
    AK_E_KEY_NOT_FOUND_401, AK_E_INVALID_REFERENCE_ID;

#endif
