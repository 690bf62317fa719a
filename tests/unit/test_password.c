/* Password hashing: better-auth scrypt compatibility (wire spec §5, vectors password_*). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/encoding.h"
#include "crypto/password.h"
#include "vectors.h"

static const char SPEC_STORED[] =
    "0123456789abcdef0123456789abcdef:e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45e"
    "ce1f0f16dec8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";

/* scrypt exactly as better-auth runs it, straight through libsodium (independent of the
 * parsing in gh_password_verify). Returns lower-case hex of the 64-byte key (malloc'd). */
static char *scrypt_hex(const char *pw, size_t pw_len, const char *salt) {
  uint8_t key[64];
  assert_int_equal(crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pw, pw_len,
                                                         (const uint8_t *)salt, strlen(salt), 16384,
                                                         16, 1, key, sizeof key),
                   0);
  return vec_tohex(key, sizeof key);
}

static int setup(void **state) {
  (void)state;
  return sodium_init() < 0 ? -1 : 0;
}

static void test_spec_vector(void **state) {
  (void)state;
  /* §5: password123 with the salt string 0123...cdef. */
  char *key = scrypt_hex("password123", 11, "0123456789abcdef0123456789abcdef");
  assert_string_equal(key, SPEC_STORED + 33);
  free(key);
  bool ok = false;
  assert_int_equal(gh_password_verify("password123", 11, SPEC_STORED, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("password124", 11, SPEC_STORED, &ok), GH_OK);
  assert_false(ok);
}

static void test_spec_nfkc_fullwidth(void **state) {
  (void)state;
  /* §5: a hash built from full-width "ａｂｃ１２３４５" verifies for "abc12345". */
  static const char fw[] = "\xef\xbd\x81\xef\xbd\x82\xef\xbd\x83\xef\xbc\x91\xef\xbc\x92\xef\xbc"
                           "\x93\xef\xbc\x94\xef\xbc\x95";
  char stored[GH_PASSWORD_HASH_LEN + 1];
  assert_int_equal(gh_password_hash(fw, strlen(fw), stored), GH_OK);
  bool ok = false;
  assert_int_equal(gh_password_verify("abc12345", 8, stored, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify(fw, strlen(fw), stored, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("abc12346", 8, stored, &ok), GH_OK);
  assert_false(ok);
}

static void test_hash_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "password_hash");
  size_t i;
  json_t *v;
  json_array_foreach(g, i, v) {
    const char *id = vec_str(v, "id");
    const char *stored = vec_str(v, "stored");
    const char *salt = vec_str(v, "salt_hex_string");
    assert_int_equal(vec_int(v, "scrypt_N"), 16384);
    assert_int_equal(vec_int(v, "scrypt_r"), 16);
    assert_int_equal(vec_int(v, "scrypt_p"), 1);
    assert_int_equal(vec_int(v, "scrypt_dklen"), 64);
    assert_int_equal(strlen(stored), GH_PASSWORD_HASH_LEN);
    assert_int_equal(strlen(salt), 32);
    assert_memory_equal(stored, salt, 32);
    assert_int_equal(stored[32], ':');
    assert_string_equal(stored + 33, vec_str(v, "derived_key_hex"));

    size_t pw_len, nfkc_want_len;
    uint8_t *pw = vec_unhex(vec_str(v, "password_utf8_hex"), &pw_len);
    uint8_t *nfkc_want = vec_unhex(vec_str(v, "password_nfkc_utf8_hex"), &nfkc_want_len);
    /* The JSON string and the hex dump are the same bytes. */
    assert_int_equal(vec_strlen(v, "password"), pw_len);
    assert_memory_equal(vec_str(v, "password"), pw, pw_len);
    /* What better-auth checks against min/max length: UTF-16 units of the raw password. */
    assert_int_equal(gh_utf16_length((const char *)pw, pw_len), vec_int(v, "password_js_length"));

    size_t nfkc_len = 0;
    char *nfkc = gh_nfkc((const char *)pw, pw_len, &nfkc_len);
    assert_non_null(nfkc);
    if (nfkc_len != nfkc_want_len || memcmp(nfkc, nfkc_want, nfkc_len) != 0)
      fail_msg("%s: NFKC differs", id);
    assert_int_equal(nfkc[nfkc_len], 0);

    char *key = scrypt_hex(nfkc, nfkc_len, salt);
    if (strcmp(key, vec_str(v, "derived_key_hex")) != 0) fail_msg("%s: derived key differs", id);
    free(key);

    bool ok = false;
    assert_int_equal(gh_password_verify((const char *)pw, pw_len, stored, &ok), GH_OK);
    if (!ok) fail_msg("%s: gh_password_verify rejected the right password", id);

    sodium_memzero(nfkc, nfkc_len);
    free(nfkc);
    free(pw);
    free(nfkc_want);
  }
  json_decref(root);
}

static void test_verify_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "password_verify");
  size_t i;
  json_t *v;
  int n_true = 0, n_false = 0;
  json_array_foreach(g, i, v) {
    size_t pw_len;
    uint8_t *pw = vec_unhex(vec_str(v, "password_utf8_hex"), &pw_len);
    bool want = vec_bool(v, "expect_valid");
    bool ok = !want;
    assert_int_equal(gh_password_verify((const char *)pw, pw_len, vec_str(v, "stored"), &ok),
                     GH_OK);
    if (ok != want)
      fail_msg("%s (%s): got %d want %d", vec_str(v, "id"), vec_str(v, "note"), ok, want);
    want ? n_true++ : n_false++;
    free(pw);
  }
  assert_true(n_true > 0 && n_false > 0);
  json_decref(root);
}

static bool is_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static void test_fresh_hash(void **state) {
  (void)state;
  char a[GH_PASSWORD_HASH_LEN + 1], b[GH_PASSWORD_HASH_LEN + 1];
  memset(a, 'x', sizeof a);
  assert_int_equal(gh_password_hash("correct horse battery staple", 28, a), GH_OK);
  assert_int_equal(strlen(a), GH_PASSWORD_HASH_LEN);
  assert_int_equal(a[32], ':');
  assert_true(is_lower_hex(a, 32));
  assert_true(is_lower_hex(a + 33, 128));
  /* The key is scrypt over the salt STRING. */
  char salt[33];
  memcpy(salt, a, 32);
  salt[32] = 0;
  char *key = scrypt_hex("correct horse battery staple", 28, salt);
  assert_string_equal(key, a + 33);
  free(key);

  bool ok = false;
  assert_int_equal(gh_password_verify("correct horse battery staple", 28, a, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("correct horse battery stapl", 27, a, &ok), GH_OK);
  assert_false(ok);
  assert_int_equal(gh_password_verify("Correct horse battery staple", 28, a, &ok), GH_OK);
  assert_false(ok);
  assert_int_equal(gh_password_verify("", 0, a, &ok), GH_OK);
  assert_false(ok);

  /* A second hash of the same password has a fresh salt. */
  assert_int_equal(gh_password_hash("correct horse battery staple", 28, b), GH_OK);
  assert_int_equal(strlen(b), GH_PASSWORD_HASH_LEN);
  assert_memory_not_equal(a, b, 32);
  assert_memory_not_equal(a + 33, b + 33, 128);
}

static void test_empty_and_binary_passwords(void **state) {
  (void)state;
  char h[GH_PASSWORD_HASH_LEN + 1];
  bool ok = false;
  /* The empty string is a valid JS string (length limits are the caller's business). */
  assert_int_equal(gh_password_hash("", 0, h), GH_OK);
  assert_int_equal(gh_password_verify("", 0, h, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify(NULL, 0, h, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("a", 1, h, &ok), GH_OK);
  assert_false(ok);
  /* U+0000 inside a password is valid UTF-8 (JSON "\u0000"); the length is what counts. */
  assert_int_equal(gh_password_hash("ab\0cd", 5, h), GH_OK);
  assert_int_equal(gh_password_verify("ab\0cd", 5, h, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("ab", 2, h, &ok), GH_OK);
  assert_false(ok);
}

static void test_invalid_utf8(void **state) {
  (void)state;
  static const char *bad[] = {"\xff",         "abc\xc3",          "\xc0\xaf",
                              "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80z"};
  char h[GH_PASSWORD_HASH_LEN + 1];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t n = strlen(bad[i]);
    assert_int_equal(gh_password_hash(bad[i], n, h), GH_ERR_INVALID);
    bool ok = true;
    assert_int_equal(gh_password_verify(bad[i], n, SPEC_STORED, &ok), GH_OK);
    assert_false(ok);
    size_t len = 99;
    assert_null(gh_nfkc(bad[i], n, &len));
  }
  assert_int_equal(gh_password_hash(NULL, 3, h), GH_ERR_INVALID);
  assert_int_equal(gh_password_hash("abc", 3, NULL), GH_ERR_INVALID);
}

static void test_malformed_stored(void **state) {
  (void)state;
  static const char K[] = "e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45ece1f0f16dec"
                          "8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";
  char buf[512];
  const char *bad[16];
  size_t nb = 0;
  bad[nb++] = "";
  bad[nb++] = ":";
  bad[nb++] = "::";
  bad[nb++] = "no-colon-at-all";
  bad[nb++] = "0123456789abcdef0123456789abcdef:";
  bad[nb++] = "0123456789abcdef0123456789abcdef:abcd";
  bad[nb++] = "0123456789abcdef0123456789abcdef"; /* salt only */
  bad[nb++] = K;                                  /* key only */
  static char s1[200], s2[200], s3[200], s4[200], s5[200];
  snprintf(s1, sizeof s1, ":%s", K);                                      /* empty salt */
  snprintf(s2, sizeof s2, "0123456789abcdef0123456789abcdef:%.127s", K);  /* 127 hex */
  snprintf(s3, sizeof s3, "0123456789abcdef0123456789abcdef:%s00", K);    /* 130 hex */
  snprintf(s4, sizeof s4, "0123456789abcdef0123456789abcdef:%.127sg", K); /* non-hex */
  snprintf(s5, sizeof s5, "0123456789abcdef0123456789abcdef: %.127s", K); /* space */
  bad[nb++] = s1;
  bad[nb++] = s2;
  bad[nb++] = s3;
  bad[nb++] = s4;
  bad[nb++] = s5;
  for (size_t i = 0; i < nb; i++) {
    bool ok = true;
    if (gh_password_verify("password123", 11, bad[i], &ok) != GH_ERR_INVALID)
      fail_msg("stored \"%s\" accepted", bad[i]);
    assert_false(ok);
  }
  bool ok = true;
  assert_int_equal(gh_password_verify("password123", 11, NULL, &ok), GH_ERR_INVALID);
  assert_false(ok);
  assert_int_equal(gh_password_verify("password123", 11, SPEC_STORED, NULL), GH_ERR_INVALID);
  assert_int_equal(gh_password_verify(NULL, 4, SPEC_STORED, &ok), GH_ERR_INVALID);

  /* Like better-auth (hash.split(":"), hexToBytes): upper-case key hex is the same key, a
   * third ':'-part is ignored, and the salt is whatever string is stored. */
  memcpy(buf, SPEC_STORED, sizeof SPEC_STORED);
  for (char *p = buf + 33; *p; p++)
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  assert_int_equal(gh_password_verify("password123", 11, buf, &ok), GH_OK);
  assert_true(ok);
  snprintf(buf, sizeof buf, "%s:extra", SPEC_STORED);
  assert_int_equal(gh_password_verify("password123", 11, buf, &ok), GH_OK);
  assert_true(ok);
  snprintf(buf, sizeof buf, "short-salt:%s", K);
  assert_int_equal(gh_password_verify("password123", 11, buf, &ok), GH_OK);
  assert_false(ok);
  char *key = scrypt_hex("password123", 11, "short-salt");
  snprintf(buf, sizeof buf, "short-salt:%s", key);
  free(key);
  assert_int_equal(gh_password_verify("password123", 11, buf, &ok), GH_OK);
  assert_true(ok);
}

static void test_nfkc(void **state) {
  (void)state;
  size_t n = 99;
  char *s;
  /* ﬁ U+FB01 -> "fi" */
  s = gh_nfkc("\xef\xac\x81", 3, &n);
  assert_non_null(s);
  assert_int_equal(n, 2);
  assert_string_equal(s, "fi");
  free(s);
  /* U+212B ANGSTROM SIGN -> U+00C5 */
  s = gh_nfkc("\xe2\x84\xab", 3, &n);
  assert_non_null(s);
  assert_int_equal(n, 2);
  assert_string_equal(s, "\xc3\x85");
  free(s);
  /* NFD A + U+030A composes to U+00C5 */
  s = gh_nfkc("A\xcc\x8a", 3, &n);
  assert_non_null(s);
  assert_string_equal(s, "\xc3\x85");
  free(s);
  /* ² -> 2, ASCII unchanged */
  s = gh_nfkc("x\xc2\xb2y", 4, &n);
  assert_non_null(s);
  assert_string_equal(s, "x2y");
  free(s);
  s = gh_nfkc("", 0, &n);
  assert_non_null(s);
  assert_int_equal(n, 0);
  assert_string_equal(s, "");
  free(s);
  s = gh_nfkc(NULL, 0, &n);
  assert_non_null(s);
  assert_int_equal(n, 0);
  free(s);
  assert_null(gh_nfkc(NULL, 1, &n));
  s = gh_nfkc("a\0b", 3, &n);
  assert_non_null(s);
  assert_int_equal(n, 3);
  assert_memory_equal(s, "a\0b", 4);
  free(s);
  s = gh_nfkc("abc", 3, NULL);
  assert_non_null(s);
  assert_string_equal(s, "abc");
  free(s);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_dummy_verify(void **state) {
  (void)state;
  /* Must do the same scrypt work as a real verify (timing must not reveal unknown accounts). */
  bool ok;
  double t0 = now_s();
  assert_int_equal(gh_password_verify("password123", 11, SPEC_STORED, &ok), GH_OK);
  double t1 = now_s();
  gh_password_dummy_verify("password123", 11);
  double t2 = now_s();
  gh_password_dummy_verify("\xff\xfe", 2);
  gh_password_dummy_verify(NULL, 0);
  gh_password_dummy_verify(NULL, 5);
  double real = t1 - t0, dummy = t2 - t1;
  if (dummy < real / 4)
    fail_msg("dummy verify took %.1f ms, verify %.1f ms", dummy * 1e3, real * 1e3);
}

static void *hash_in_thread(void *arg) {
  char *out = arg;
  return gh_password_hash("thread password", 15, out) == GH_OK ? out : NULL;
}

/* scrypt's 32 MiB work area is mapped once per concurrent hash and reused, then released. */
static void test_work_area_reuse(void **state) {
  (void)state;
  gh_password_release_memory();
  assert_int_equal(gh_password_work_areas(), 0);
  char a[GH_PASSWORD_HASH_LEN + 1], b[GH_PASSWORD_HASH_LEN + 1];
  assert_int_equal(gh_password_hash("first password", 14, a), GH_OK);
  assert_int_equal(gh_password_work_areas(), 1);
  bool ok = false;
  assert_int_equal(gh_password_verify("first password", 14, a, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("other password", 14, a, &ok), GH_OK);
  assert_false(ok);
  assert_int_equal(gh_password_work_areas(), 1); /* reused, not mapped again */

  /* two at once need two areas; both results are right */
  pthread_t t1, t2;
  assert_int_equal(pthread_create(&t1, NULL, hash_in_thread, a), 0);
  assert_int_equal(pthread_create(&t2, NULL, hash_in_thread, b), 0);
  void *r1, *r2;
  pthread_join(t1, &r1);
  pthread_join(t2, &r2);
  assert_non_null(r1);
  assert_non_null(r2);
  assert_true(gh_password_work_areas() >= 1 && gh_password_work_areas() <= 2);
  assert_int_equal(gh_password_verify("thread password", 15, a, &ok), GH_OK);
  assert_true(ok);
  assert_int_equal(gh_password_verify("thread password", 15, b, &ok), GH_OK);
  assert_true(ok);

  gh_password_release_memory();
  assert_int_equal(gh_password_work_areas(), 0);
  /* the spec vector still holds after the areas are gone and mapped afresh */
  test_spec_vector(NULL);
  assert_int_equal(gh_password_work_areas(), 1);
}

int main(void) {
  gh_password_tune_allocator(); /* before OpenSSL allocates anything, as gatehouse's main() */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_work_area_reuse),
      cmocka_unit_test(test_spec_vector),
      cmocka_unit_test(test_spec_nfkc_fullwidth),
      cmocka_unit_test(test_hash_vectors),
      cmocka_unit_test(test_verify_vectors),
      cmocka_unit_test(test_fresh_hash),
      cmocka_unit_test(test_empty_and_binary_passwords),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_malformed_stored),
      cmocka_unit_test(test_nfkc),
      cmocka_unit_test(test_dummy_verify),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
