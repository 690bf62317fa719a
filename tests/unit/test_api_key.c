/* The api-key plugin: key hashing and format against the plugin's golden vectors, the permission
 * check, and the use of a key (remaining, refill, rate limit, expiry, disabled) on a real SQLite
 * table made by the plugin's migration, with a fixed clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/time.h"
#include "plugins/api_key.h"
#include "plugins/api_key_store.h"
#include "plugins/plugins.h"
#include "vectors.h"

static void hash_matches_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "api_key");
  size_t i;
  json_t *v;
  json_array_foreach(g, i, v) {
    const char *key = vec_str(v, "key");
    char h[GH_API_KEY_HASH_LEN + 1];
    gh_api_key_hash(key, strlen(key), h);
    assert_string_equal(h, vec_str(v, "stored_key"));
    uint8_t d[32];
    crypto_hash_sha256(d, (const uint8_t *)key, strlen(key));
    char hex[65];
    gh_hex_encode(d, 32, hex);
    assert_string_equal(hex, vec_str(v, "sha256_hex"));
    const char *wrong = vec_str(v, "wrong_key");
    gh_api_key_hash(wrong, strlen(wrong), h);
    assert_string_equal(h, vec_str(v, "wrong_key_stored"));
    char start[GH_API_KEY_START_LEN + 1];
    gh_api_key_start(key, start);
    assert_string_equal(start, vec_str(v, "start"));
    assert_int_equal(strlen(key), vec_int(v, "key_length"));
    const char *prefix = vec_str(v, "prefix");
    assert_memory_equal(key, prefix, strlen(prefix));
    assert_int_equal(vec_int(v, "rate_limit_max"), 10);
    assert_int_equal(vec_int(v, "rate_limit_time_window"), 86400000);
  }
  json_decref(root);
}

static void generated_key_format(void **state) {
  (void)state;
  char *a = gh_api_key_generate("gh_", 64), *b = gh_api_key_generate(NULL, 64);
  assert_int_equal(strlen(a), 67);
  assert_memory_equal(a, "gh_", 3);
  assert_int_equal(strlen(b), 64);
  for (const char *p = a + 3; *p; p++)
    assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
  for (const char *p = b; *p; p++)
    assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
  assert_string_not_equal(a + 3, b);
  free(a);
  free(b);
  assert_true(gh_api_key_prefix_valid("ba_live-1"));
  assert_false(gh_api_key_prefix_valid(""));
  assert_false(gh_api_key_prefix_valid("a b"));
  assert_false(gh_api_key_prefix_valid("é"));
}

static gh_json *js(const char *t) {
  gh_json *j;
  assert_int_equal(gh_json_parse(t, strlen(t), &j), GH_OK);
  return j;
}

static void permissions(void **state) {
  (void)state;
  const char *granted = "{\"tasks\":[\"read\",\"write\"],\"files\":[\"read\"]}";
  struct {
    const char *want;
    bool ok;
  } cases[] = {
      {"{\"tasks\":[\"read\"]}", true},
      {"{\"tasks\":[\"read\",\"write\"]}", true},
      {"{\"tasks\":[\"read\"],\"files\":[\"read\"]}", true},
      {"{\"tasks\":[\"delete\"]}", false},
      {"{\"files\":[\"write\"]}", false},
      {"{\"tasks\":[\"read\"],\"billing\":[\"read\"]}", false},
      {"{\"tasks\":[]}", false}, /* better-auth refuses an empty action list */
      {"{}", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gh_json *w = js(cases[i].want);
    assert_int_equal(ak_permissions_allow(granted, w), cases[i].ok);
    assert_false(ak_permissions_allow(NULL, w));
    assert_false(ak_permissions_allow("not json", w));
    gh_json_decref(w);
  }
}

/* --- using a key on a real table ----------------------------------------------------------- */

static gh_store *open_table(void) {
  gh_store *st;
  assert_int_equal(gh_store_open("sqlite::memory:", &st), GH_OK);
  assert_int_equal(
      gh_store_migrate(st, gh_plugin_api_key.migrations, gh_plugin_api_key.nmigrations, NULL),
      GH_OK);
  return st;
}

#define T0 INT64_C(1768478400000) /* 2026-01-15T12:00:00Z */

/* A key row with the plugin's defaults; returns the plaintext (static). */
static const char *put_key(gh_store *st, const char *id, ak_row *r) {
  static const char *KEY = "ba_VectorKeyAlphaBetaGammaDeltaEpsilonZetaEtaThetaIotaKappaLambdaMu";
  static char hash[GH_API_KEY_HASH_LEN + 1];
  gh_api_key_hash(KEY, strlen(KEY), hash);
  memset(r, 0, sizeof *r);
  r->id = (char *)id;
  r->config_id = "default";
  r->name = "ci";
  r->start = "ba_Vec";
  r->reference_id = "user1";
  r->prefix = "ba_";
  r->key = hash;
  r->refill_interval = r->refill_amount = r->last_refill_at = (ak_int){true, 0};
  r->enabled = (ak_int){false, 1};
  r->rate_limit_enabled = (ak_int){false, 1};
  r->rate_limit_time_window = (ak_int){false, 86400000};
  r->rate_limit_max = (ak_int){false, 10};
  r->request_count = (ak_int){false, 0};
  r->remaining = r->last_request = r->expires_at = (ak_int){true, 0};
  r->created_at = r->updated_at = T0;
  r->metadata = "null";
  return KEY;
}

static const gh_err_info *use(gh_store *st, gh_arena *a, const char *key, bool rl, ak_row *row,
                              int64_t *try_again) {
  ak_policy pol = {.rate_limit = rl};
  ak_verdict vd;
  assert_int_equal(ak_use(st, a, &pol, key, NULL, row, &vd), GH_OK);
  if (try_again) *try_again = vd.try_again_in;
  return vd.err;
}

static void rate_limit_window(void **state) {
  (void)state;
  gh_store *st = open_table();
  gh_arena *a = gh_arena_new();
  ak_row r, out;
  const char *key = put_key(st, "k1", &r);
  r.rate_limit_max.v = 2;
  r.rate_limit_time_window.v = 60000;
  assert_int_equal(ak_insert(st, &r), GH_OK);
  gh_time_set_fixed(T0 + 1000);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.request_count.v, 1);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.request_count.v, 2);
  gh_time_set_fixed(T0 + 11000);
  int64_t again = 0;
  assert_ptr_equal(use(st, a, key, true, &out, &again), &AK_E_RATE_LIMITED);
  assert_int_equal(again, 50000); /* window - time since the last counted request */
  /* the plugin's switch off: no limit, the use still recorded */
  assert_null(use(st, a, key, false, &out, NULL));
  assert_int_equal(out.last_request.v, T0 + 11000);
  gh_time_set_fixed(T0 + 11000 + 60001);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.request_count.v, 1); /* a new window */
  gh_time_set_fixed(0);
  gh_arena_free(a);
  gh_store_close(st);
}

static void remaining_and_refill(void **state) {
  (void)state;
  gh_store *st = open_table();
  gh_arena *a = gh_arena_new();
  ak_row r, out;
  const char *key = put_key(st, "k2", &r);
  r.rate_limit_enabled.v = 0;
  r.remaining = (ak_int){false, 2};
  r.refill_amount = (ak_int){false, 5};
  r.refill_interval = (ak_int){false, 3600000};
  assert_int_equal(ak_insert(st, &r), GH_OK);
  gh_time_set_fixed(T0 + 1000);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.remaining.v, 1);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.remaining.v, 0);
  assert_ptr_equal(use(st, a, key, true, &out, NULL), &AK_E_USAGE_EXCEEDED);
  assert_int_equal(ak_by_id(st, a, "k2", &out), GH_OK); /* a refill is due later: kept */
  gh_time_set_fixed(T0 + 3600001);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.remaining.v, 4); /* refilled to 5, this use counted */
  assert_int_equal(out.last_refill_at.v, T0 + 3600001);
  gh_time_set_fixed(0);
  gh_arena_free(a);
  gh_store_close(st);
}

static void exhausted_without_refill_is_deleted(void **state) {
  (void)state;
  gh_store *st = open_table();
  gh_arena *a = gh_arena_new();
  ak_row r, out;
  const char *key = put_key(st, "k3", &r);
  r.remaining = (ak_int){false, 1};
  assert_int_equal(ak_insert(st, &r), GH_OK);
  assert_null(use(st, a, key, true, &out, NULL));
  assert_int_equal(out.remaining.v, 0);
  assert_ptr_equal(use(st, a, key, true, &out, NULL), &AK_E_USAGE_EXCEEDED);
  assert_int_equal(ak_by_id(st, a, "k3", &out), GH_ERR_NOT_FOUND);
  gh_arena_free(a);
  gh_store_close(st);
}

static void expired_disabled_unknown(void **state) {
  (void)state;
  gh_store *st = open_table();
  gh_arena *a = gh_arena_new();
  ak_row r, out;
  const char *key = put_key(st, "k4", &r);
  r.expires_at = (ak_int){false, T0 + 5000};
  assert_int_equal(ak_insert(st, &r), GH_OK);
  gh_time_set_fixed(T0 + 4000);
  assert_null(use(st, a, key, true, &out, NULL));
  gh_time_set_fixed(T0 + 5001);
  assert_ptr_equal(use(st, a, key, true, &out, NULL), &AK_E_KEY_EXPIRED);
  assert_int_equal(ak_by_id(st, a, "k4", &out), GH_ERR_NOT_FOUND); /* deleted */
  gh_time_set_fixed(0);
  assert_ptr_equal(use(st, a, key, true, &out, NULL), &AK_E_INVALID_API_KEY);
  put_key(st, "k5", &r);
  r.enabled.v = 0;
  assert_int_equal(ak_insert(st, &r), GH_OK);
  assert_ptr_equal(use(st, a, key, true, &out, NULL), &AK_E_KEY_DISABLED);
  assert_int_equal(ak_by_id(st, a, "k5", &out), GH_OK); /* disabled keys stay */
  assert_int_equal(out.request_count.v, 0);             /* and are not counted */
  gh_arena_free(a);
  gh_store_close(st);
}

static void row_json_key_order(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  ak_row r;
  put_key(NULL, "k6", &r);
  r.permissions = "{\"tasks\":[\"read\"]}";
  gh_json *j = ak_row_json(&r, NULL, NULL);
  size_t n;
  char *t = gh_json_dump(a, j, &n);
  assert_string_equal(
      t, "{\"configId\":\"default\",\"name\":\"ci\",\"start\":\"ba_Vec\",\"referenceId\":\"user1\","
         "\"prefix\":\"ba_\",\"refillInterval\":null,\"refillAmount\":null,\"lastRefillAt\":null,"
         "\"enabled\":true,\"rateLimitEnabled\":true,\"rateLimitTimeWindow\":86400000,"
         "\"rateLimitMax\":10,\"requestCount\":0,\"remaining\":null,\"lastRequest\":null,"
         "\"expiresAt\":null,\"createdAt\":\"2026-01-15T12:00:00.000Z\",\"updatedAt\":\"2026-01-"
         "15T12:00:00.000Z\",\"permissions\":{\"tasks\":[\"read\"]},\"metadata\":null,\"id\":"
         "\"k6\"}");
  gh_json_decref(j);
  gh_arena_free(a);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hash_matches_vectors),
      cmocka_unit_test(generated_key_format),
      cmocka_unit_test(permissions),
      cmocka_unit_test(rate_limit_window),
      cmocka_unit_test(remaining_and_refill),
      cmocka_unit_test(exhausted_without_refill_is_deleted),
      cmocka_unit_test(expired_disabled_unknown),
      cmocka_unit_test(row_json_key_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
