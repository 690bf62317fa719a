/* better-auth symmetric encryption: XChaCha20-Poly1305 with key = SHA-256(secret), hex output,
 * "$ba$<v>$" envelopes with versioned secrets (wire spec §6.5; vectors symmetric and
 * symmetric_rotation_decrypt). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "crypto/aead.h"
#include "vectors.h"

static const char SECRET[] = "test-secret-that-is-long-enough-0123456789abcdef";
static const char SECRET_V2[] = "test-secret-v2-rotated-also-long-enough-fedcba9876543210";
/* Wire spec §10: a TOTP secret encrypted with SECRET. */
static const char SPEC_CT[] =
    "2e3e79bdd9816baf228482d0d428c422a76c6cc0ca34a7b454dbd03db5a487dec157cdb0f1287f19c9fe0eb20395"
    "5269ee294ed344c24f10c8c9fd38db6f3f6bc5724b857c91be5b";
static const char SPEC_PT[] = "voSQR8RIJfcXGrPDvH_vM0mmClwRDhzr";

static const gh_secrets PLAIN = {.legacy = SECRET};
static const gh_secret_version ROTATION_V[] = {{2, SECRET_V2}, {1, SECRET}};
/* The vectors' rotation config: current version 2, version 1 kept, legacy secret = SECRET. */
static const gh_secrets ROTATION = {.legacy = SECRET, .versions = ROTATION_V, .nversions = 2};

static void expect_plaintext(gh_arena *a, const gh_secrets *s, const char *ct, const void *want,
                             size_t want_len) {
  uint8_t *pt = NULL;
  size_t n = 99;
  assert_int_equal(gh_aead_decrypt(a, s, ct, &pt, &n), GH_OK);
  assert_int_equal(n, want_len);
  assert_memory_equal(pt, want, want_len);
  assert_int_equal(pt[n], 0);
}

static void expect_invalid(gh_arena *a, const gh_secrets *s, const char *ct) {
  uint8_t *pt = NULL;
  size_t n = 0;
  assert_int_equal(gh_aead_decrypt(a, s, ct, &pt, &n), GH_ERR_INVALID);
}

static void test_spec_vector(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  expect_plaintext(a, &PLAIN, SPEC_CT, SPEC_PT, strlen(SPEC_PT));
  gh_arena_free(a);
}

static void test_symmetric_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "symmetric"), *v;
  size_t i, count = 0;
  json_array_foreach(g, i, v) {
    gh_arena *a = gh_arena_new();
    const char *id = vec_str(v, "id");
    const char *secret = vec_str(v, "key_secret");
    bool versioned = vec_bool(v, "versioned");
    gh_secret_version ver = {.version = (unsigned)vec_int(v, "version"), .value = secret};
    gh_secrets s = {.legacy = secret};
    if (versioned) s = (gh_secrets){.versions = &ver, .nversions = 1};

    size_t pt_len, nonce_len;
    uint8_t *pt = vec_unhex(vec_str(v, "plaintext_utf8_hex"), &pt_len);
    uint8_t *nonce = vec_unhex(vec_str(v, "nonce_hex"), &nonce_len);
    assert_int_equal(nonce_len, GH_AEAD_NONCE_BYTES);
    assert_int_equal(pt_len, strlen(vec_str(v, "plaintext")));

    /* decrypt what better-auth wrote */
    expect_plaintext(a, &s, vec_str(v, "output"), pt, pt_len);

    /* encrypt with the recorded nonce: nonce || ciphertext || tag, with the same envelope */
    char *out = gh_aead_encrypt_with_nonce(a, &s, pt, pt_len, nonce);
    assert_non_null(out);
    if (strcmp(out, vec_str(v, "output")) != 0)
      fail_msg("%s: encrypt gave %s, want %s", id, out, vec_str(v, "output"));
    const char *hex = versioned ? strrchr(out, '$') + 1 : out;
    assert_string_equal(hex, vec_str(v, "hex_payload"));
    size_t ct_hex = strlen(vec_str(v, "ciphertext_hex")), tag_hex = strlen(vec_str(v, "tag_hex"));
    assert_int_equal(strlen(hex), 2 * GH_AEAD_NONCE_BYTES + ct_hex + tag_hex);
    assert_memory_equal(hex + 2 * GH_AEAD_NONCE_BYTES, vec_str(v, "ciphertext_hex"), ct_hex);
    assert_string_equal(hex + 2 * GH_AEAD_NONCE_BYTES + ct_hex, vec_str(v, "tag_hex"));

    /* the rotation config reads every vector: v1/v2 envelopes by version, bare hex by legacy */
    if (!versioned || ver.version == 1 || ver.version == 2)
      expect_plaintext(a, &ROTATION, vec_str(v, "output"), pt, pt_len);

    free(pt);
    free(nonce);
    gh_arena_free(a);
    count++;
  }
  assert_int_equal(count, 8);
  json_decref(root);
}

static void test_rotation_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "symmetric_rotation_decrypt"), *v;
  size_t i, count = 0;
  json_array_foreach(g, i, v) {
    gh_arena *a = gh_arena_new();
    gh_secret_version vers[] = {{2, vec_str(v, "secret_v2")}, {1, vec_str(v, "secret_v1")}};
    assert_int_equal(vec_int(v, "current_version"), 2);
    gh_secrets s = {.legacy = vec_str(v, "legacy_secret"), .versions = vers, .nversions = 2};
    const char *in = vec_str(v, "input");
    if (vec_bool(v, "expect_ok")) {
      const char *want = vec_str(v, "expect_plaintext");
      expect_plaintext(a, &s, in, want, strlen(want));
    } else {
      expect_invalid(a, &s, in);
    }
    gh_arena_free(a);
    count++;
  }
  assert_int_equal(count, 3);
  json_decref(root);
}

static void test_round_trip(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  static const char msg[] = "round trip \xe2\x9c\x93";
  /* plain: bare hex */
  char *c1 = gh_aead_encrypt(a, &PLAIN, msg, strlen(msg));
  char *c2 = gh_aead_encrypt(a, &PLAIN, msg, strlen(msg));
  assert_non_null(c1);
  assert_non_null(c2);
  assert_int_equal(strlen(c1), 2 * (GH_AEAD_NONCE_BYTES + strlen(msg) + GH_AEAD_TAG_BYTES));
  assert_string_not_equal(c1, c2); /* fresh nonce each time */
  for (const char *p = c1; *p; p++)
    assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
  expect_plaintext(a, &PLAIN, c1, msg, strlen(msg));
  expect_plaintext(a, &PLAIN, c2, msg, strlen(msg));
  /* versioned: the newest version, "$ba$2$" */
  char *c3 = gh_aead_encrypt(a, &ROTATION, msg, strlen(msg));
  assert_non_null(c3);
  assert_memory_equal(c3, "$ba$2$", 6);
  expect_plaintext(a, &ROTATION, c3, msg, strlen(msg));
  /* ... which only version 2 opens */
  gh_secret_version only_v1[] = {{1, SECRET}};
  gh_secrets v1 = {.legacy = SECRET, .versions = only_v1, .nversions = 1};
  expect_invalid(a, &v1, c3);
  expect_invalid(a, &PLAIN, c3); /* an envelope under a plain secret fails, as in better-auth */
  /* empty plaintext and large version numbers */
  gh_secret_version big[] = {{123456789, SECRET}};
  gh_secrets sbig = {.versions = big, .nversions = 1};
  char *c4 = gh_aead_encrypt(a, &sbig, "", 0);
  assert_non_null(c4);
  assert_memory_equal(c4, "$ba$123456789$", 14);
  expect_plaintext(a, &sbig, c4, "", 0);
  char *c5 = gh_aead_encrypt(a, &PLAIN, NULL, 0);
  assert_non_null(c5);
  expect_plaintext(a, &PLAIN, c5, "", 0);
  /* binary plaintext with NUL bytes */
  static const uint8_t bin[] = {0, 1, 2, 0, 255};
  char *c6 = gh_aead_encrypt(a, &PLAIN, bin, sizeof bin);
  expect_plaintext(a, &PLAIN, c6, bin, sizeof bin);
  /* upper-case hex is accepted (noble's hexToBytes is case-insensitive) */
  char *up = gh_arena_strdup(a, c1);
  for (char *p = up; *p; p++)
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  expect_plaintext(a, &PLAIN, up, msg, strlen(msg));
  gh_arena_free(a);
}

static void test_no_secret(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_secrets none = {0};
  assert_null(gh_aead_encrypt(a, &none, "x", 1));
  assert_null(gh_aead_encrypt(a, NULL, "x", 1));
  expect_invalid(a, &none, SPEC_CT);
  /* versioned without a legacy secret: bare hex cannot be read (better-auth throws) */
  gh_secret_version v[] = {{1, SECRET}};
  gh_secrets no_legacy = {.versions = v, .nversions = 1};
  expect_invalid(a, &no_legacy, SPEC_CT);
  uint8_t *pt;
  size_t n;
  assert_int_equal(gh_aead_decrypt(a, &PLAIN, NULL, &pt, &n), GH_ERR_INVALID);
  assert_int_equal(gh_aead_decrypt(a, NULL, SPEC_CT, &pt, &n), GH_ERR_INVALID);
  gh_arena_free(a);
}

static void test_tampering(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  size_t len = strlen(SPEC_CT);
  /* every single hex digit changed: nonce, ciphertext and tag are all authenticated */
  for (size_t i = 0; i < len; i++) {
    char *t = gh_arena_strdup(a, SPEC_CT);
    t[i] = t[i] == '0' ? '1' : '0';
    expect_invalid(a, &PLAIN, t);
  }
  /* the wrong secret */
  gh_secrets other = {.legacy = SECRET_V2};
  expect_invalid(a, &other, SPEC_CT);
  /* truncated / extended by one byte, the tag alone missing */
  expect_invalid(a, &PLAIN, gh_arena_strndup(a, SPEC_CT, len - 2));
  expect_invalid(a, &PLAIN, gh_arena_printf(a, "%s00", SPEC_CT));
  expect_invalid(a, &PLAIN, gh_arena_strndup(a, SPEC_CT, len - 32));
  gh_arena_free(a);
}

static void test_malformed(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  size_t len = strlen(SPEC_CT);
  expect_invalid(a, &PLAIN, "");
  expect_invalid(a, &PLAIN, gh_arena_strndup(a, SPEC_CT, len - 1)); /* odd length */
  char *t = gh_arena_strdup(a, SPEC_CT);
  t[10] = 'g'; /* not hex */
  expect_invalid(a, &PLAIN, t);
  t = gh_arena_strdup(a, SPEC_CT);
  t[10] = ' ';
  expect_invalid(a, &PLAIN, t);
  /* shorter than nonce + tag */
  expect_invalid(a, &PLAIN, gh_arena_strndup(a, SPEC_CT, 2 * (GH_AEAD_NONCE_BYTES + 15)));
  expect_invalid(a, &PLAIN, "00");
  /* envelopes */
  const char *bad[] = {
      "$ba$x$",    "$ba$$",     "$ba$1",  "$ba$",     "$ba$x$00",          "$ba$-1$00", "$ba$+1$00",
      "$ba$ 1$00", "$ba$1x$00", "$ba$1$", "$ba$1$zz", "$ba$1234567890$00", "$BA$1$00",  "$ba$7$"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_invalid(a, &ROTATION, bad[i]);
  /* a good payload behind a malformed or unknown envelope */
  expect_invalid(a, &ROTATION, gh_arena_printf(a, "$ba$x$%s", SPEC_CT));
  expect_invalid(a, &ROTATION, gh_arena_printf(a, "$ba$7$%s", SPEC_CT));
  expect_invalid(a, &ROTATION, gh_arena_printf(a, "$ba$01$%s", "zz"));
  expect_invalid(a, &ROTATION, gh_arena_printf(a, "$ba$2$%s", SPEC_CT)); /* v2 is another key */
  expect_plaintext(a, &ROTATION, gh_arena_printf(a, "$ba$1$%s", SPEC_CT), SPEC_PT, strlen(SPEC_PT));
  expect_plaintext(a, &ROTATION, gh_arena_printf(a, "$ba$01$%s", SPEC_CT), SPEC_PT,
                   strlen(SPEC_PT)); /* parseInt("01") == 1 */
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_vector),      cmocka_unit_test(test_symmetric_vectors),
      cmocka_unit_test(test_rotation_vectors), cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_no_secret),        cmocka_unit_test(test_tampering),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
