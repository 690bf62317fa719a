/* TOTP as better-auth computes it (src/plugins/totp.c): the RFC 6238 SHA-1 vectors, codes and
 * verifications made by better-auth's own @better-auth/utils otp in node
 * (tests/vectors/totp-better-auth.json, written by tests/e2e/lib/gen-totp-vectors.mjs), the
 * otpauth URI, base32, and the QR code's SVG data URI. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/bytes.h"
#include "plugins/totp.h"
#include "vectors.h"

static json_t *load_golden(void) {
  const char *dir = getenv("GH_VECTORS");
  if (!dir || !*dir) fail_msg("GH_VECTORS is not set (run the tests through ctest)");
  char path[4096];
  snprintf(path, sizeof path, "%s/totp-better-auth.json", dir);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root) fail_msg("cannot load %s: %s", path, err.text);
  return root;
}

/* RFC 6238 appendix B, SHA-1, key "12345678901234567890", 8 digits. */
static void test_rfc6238_sha1(void **state) {
  (void)state;
  static const struct {
    int64_t t;
    const char *code;
  } V[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
           {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  const char *key = "12345678901234567890";
  for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
    char out[9];
    gh_hotp(key, 20, (uint64_t)(V[i].t / 30), 8, out);
    assert_string_equal(out, V[i].code);
    int64_t step = -1;
    assert_true(gh_totp_verify(key, 20, V[i].code, V[i].t, 30, 8, 0, &step));
    assert_int_equal(step, V[i].t / 30);
  }
}

/* RFC 4226 appendix D: HOTP values of counters 0..9. */
static void test_rfc4226_hotp(void **state) {
  (void)state;
  static const char *V[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t c = 0; c < 10; c++) {
    char out[7];
    gh_hotp("12345678901234567890", 20, c, 6, out);
    assert_string_equal(out, V[c]);
  }
}

/* Codes better-auth's createOTP(secret).totp() made: the key is the secret string's bytes. */
static void test_better_auth_codes(void **state) {
  (void)state;
  json_t *root = load_golden();
  json_t *codes = json_object_get(root, "codes");
  assert_true(json_array_size(codes) >= 30);
  size_t i;
  json_t *v;
  json_array_foreach(codes, i, v) {
    const char *secret = vec_str(v, "secret");
    int64_t t = json_integer_value(json_object_get(v, "unix_time"));
    char out[7];
    gh_hotp(secret, strlen(secret), (uint64_t)(t / 30), 6, out);
    assert_string_equal(out, vec_str(v, "code"));
  }
  json_decref(root);
}

/* better-auth's verify(): ±1 step accepted, 2 steps away refused. */
static void test_better_auth_verify(void **state) {
  (void)state;
  json_t *root = load_golden();
  json_t *list = json_object_get(root, "verify");
  assert_true(json_array_size(list) >= 10);
  size_t i;
  json_t *v;
  int valid = 0, invalid = 0;
  json_array_foreach(list, i, v) {
    const char *secret = vec_str(v, "secret");
    int64_t at = json_integer_value(json_object_get(v, "verify_unix_time"));
    int64_t made = json_integer_value(json_object_get(v, "code_unix_time"));
    bool want = json_is_true(json_object_get(v, "valid"));
    int64_t step = -1;
    bool got = gh_totp_verify(secret, strlen(secret), vec_str(v, "code"), at, 30, 6, 1, &step);
    assert_int_equal(got, want);
    if (got) assert_int_equal(step, made / 30);
    want ? valid++ : invalid++;
  }
  assert_true(valid > 0 && invalid > 0);
  json_decref(root);
}

static void test_wrong_length_never_matches(void **state) {
  (void)state;
  const char *s = "voSQR8RIJfcXGrPDvH_vM0mmClwRDhzr";
  char code[7];
  gh_hotp(s, strlen(s), 1, 6, code);
  assert_true(gh_totp_verify(s, strlen(s), code, 59, 30, 6, 1, NULL));
  char longer[9];
  snprintf(longer, sizeof longer, "%s0", code);
  assert_false(gh_totp_verify(s, strlen(s), longer, 59, 30, 6, 1, NULL));
  code[5] = 0;
  assert_false(gh_totp_verify(s, strlen(s), code, 59, 30, 6, 1, NULL));
  assert_false(gh_totp_verify(s, strlen(s), "", 59, 30, 6, 1, NULL));
}

static void test_uri(void **state) {
  (void)state;
  json_t *root = load_golden();
  json_t *list = json_object_get(root, "uris");
  size_t i;
  json_t *v;
  gh_arena *a = gh_arena_new();
  json_array_foreach(list, i, v) {
    const char *secret = vec_str(v, "secret");
    char *uri =
        gh_totp_uri(a, secret, strlen(secret), vec_str(v, "issuer"), vec_str(v, "account"), 6, 30);
    assert_string_equal(uri, vec_str(v, "uri"));
  }
  gh_arena_free(a);
  json_decref(root);
}

/* The wire spec's §10 secret and its base32; decoding is the inverse (the "base32:" secrets). */
static void test_base32(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  const char *s = "voSQR8RIJfcXGrPDvH_vM0mmClwRDhzr";
  char *b = gh_base32_encode(a, s, strlen(s));
  assert_string_equal(b, "OZXVGUKSHBJESSTGMNMEO4SQIR3EQX3WJUYG23KDNR3VERDIPJZA");
  uint8_t *out;
  size_t n;
  assert_int_equal(gh_base32_decode(a, b, &out, &n), GH_OK);
  assert_int_equal(n, strlen(s));
  assert_memory_equal(out, s, n);
  assert_int_equal(gh_base32_decode(a, "mzxw6===", &out, &n), GH_OK); /* "foo", lower case */
  assert_int_equal(n, 3);
  assert_memory_equal(out, "foo", 3);
  assert_int_equal(gh_base32_decode(a, "MZXW1", &out, &n), GH_ERR_INVALID);
  assert_string_equal(gh_base32_encode(a, "", 0), "");
  gh_arena_free(a);
}

static void test_qr_svg(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  const char *uri = "otpauth://totp/Better%20Auth:alice%40example.com?secret="
                    "OZXVGUKSHBJESSTGMNMEO4SQIR3EQX3WJUYG23KDNR3VERDIPJZA&issuer=Better+Auth&"
                    "digits=6&period=30";
  char *d = gh_qr_svg_data_uri(a, uri);
  assert_non_null(d);
  const char *pre = "data:image/svg+xml;base64,";
  assert_memory_equal(d, pre, strlen(pre));
  const char *b64 = d + strlen(pre);
  size_t bl = strlen(b64);
  uint8_t *svg = gh_arena_alloc(a, bl * 3 / 4 + 4);
  size_t n = 0;
  assert_int_equal(gh_b64_decode(b64, bl, false, svg, &n), GH_OK);
  svg[n] = 0;
  assert_memory_equal(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39);
  assert_non_null(strstr((char *)svg, "<path fill=\"#000\" d=\"M"));
  assert_non_null(strstr((char *)svg, "</svg>"));
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6238_sha1),
      cmocka_unit_test(test_rfc4226_hotp),
      cmocka_unit_test(test_better_auth_codes),
      cmocka_unit_test(test_better_auth_verify),
      cmocka_unit_test(test_wrong_length_never_matches),
      cmocka_unit_test(test_uri),
      cmocka_unit_test(test_base32),
      cmocka_unit_test(test_qr_svg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
