/* Signed cookies: better-call's HMAC-SHA256 signature (wire spec §2.3, §12; vectors
 * signed_cookie and signed_cookie_reader). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "common/encoding.h"
#include "common/rand.h"
#include "crypto/cookie_sign.h"
#include "vectors.h"

static const char SECRET[] = "test-secret-that-is-long-enough-0123456789abcdef";
/* Wire spec §10. */
static const char SPEC_TOKEN[] = "kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7";
static const char SPEC_SIGNED[] =
    "kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=";

/* ---- a tiny Cookie-header reader, as better-call's parseCookies + getSignedCookie do it:
 * "name=value" pairs split on ';', names trimmed, the first occurrence of a name wins, a
 * value starting with '"' loses its first and last char, and it is decodeURIComponent()ed
 * when it contains '%' (left as is when that throws). Test-only: drives gh_cookie_verify. */
static char *trim_dup(gh_arena *a, const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  return gh_arena_strndup(a, s, n);
}

static char *cookie_get(gh_arena *a, const char *header, const char *name) {
  size_t len = strlen(header), i = 0;
  while (i < len) {
    const char *eq = memchr(header + i, '=', len - i);
    if (!eq) break;
    size_t eq_idx = (size_t)(eq - header);
    const char *semi = memchr(header + i, ';', len - i);
    size_t end = semi ? (size_t)(semi - header) : len;
    if (end < eq_idx) { /* "flag; name=value": skip the pair without '=' */
      i = end + 1;
      continue;
    }
    char *key = trim_dup(a, header + i, eq_idx - i);
    if (strcmp(key, name) == 0) {
      char *val = trim_dup(a, eq + 1, end - eq_idx - 1);
      size_t vn = strlen(val);
      if (vn && val[0] == '"') val = gh_arena_strndup(a, val + 1, vn >= 2 ? vn - 2 : 0);
      if (strchr(val, '%')) {
        char *dec;
        if (gh_uri_decode(a, val, strlen(val), false, &dec) == GH_OK) val = dec;
      }
      return val;
    }
    i = end + 1;
  }
  return NULL;
}

static void test_cookie_parser_itself(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(cookie_get(a, "a=1; b=2", "b"), "2");
  assert_string_equal(cookie_get(a, "a=1;b=2 ; c = 3 ", "c"), "3");
  assert_string_equal(cookie_get(a, "x=1; x=2", "x"), "1");
  assert_string_equal(cookie_get(a, "x=\"q%2F\"", "x"), "q/");
  assert_string_equal(cookie_get(a, "x=%E0%A4%A", "x"), "%E0%A4%A"); /* URIError: kept raw */
  assert_string_equal(cookie_get(a, "flag; x=v", "x"), "v");
  assert_null(cookie_get(a, "a=1; b=2", "c"));
  assert_null(cookie_get(a, "", "c"));
  gh_arena_free(a);
}

/* ---- HMAC-SHA256 known answers (RFC 4231) ---- */
static void check_hmac(const void *key, size_t kn, const void *msg, size_t mn, const char *hex) {
  uint8_t mac[32];
  gh_hmac_sha256(key, kn, msg, mn, mac);
  char *got = vec_tohex(mac, sizeof mac);
  assert_string_equal(got, hex);
  free(got);
}

static void test_hmac_rfc4231(void **state) {
  (void)state;
  uint8_t k[131];
  memset(k, 0x0b, 20);
  check_hmac(k, 20, "Hi There", 8,
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* Case 6: a 131-byte key (longer than the block) is hashed first. */
  memset(k, 0xaa, sizeof k);
  check_hmac(k, sizeof k, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  /* Case 7: long key and long message. */
  static const char m7[] = "This is a test using a larger than block-size key and a larger than "
                           "block-size data. The key needs to be hashed before being used by the "
                           "HMAC algorithm.";
  check_hmac(k, sizeof k, m7, strlen(m7),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  /* Empty key and message. */
  check_hmac(NULL, 0, NULL, 0, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  check_hmac("", 0, "", 0, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_spec_vector(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  char *s = gh_cookie_sign(a, SECRET, SPEC_TOKEN);
  assert_string_equal(s, SPEC_SIGNED);
  assert_string_equal(
      gh_uri_encode_component(a, s),
      "kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7.%2F9fK2F6RmPgjlUDD6yP3kA%2FaxcnUZSQ2jAm86wrN"
      "Tsc%3D");
  assert_string_equal(gh_uri_encode_component(a, gh_cookie_sign(a, SECRET, "true")),
                      "true.Mpcl0Ofs8awkUzCM8e6x77KCIKgEjwZ7AGA5U0wDkZg%3D");
  char *v = NULL;
  assert_int_equal(gh_cookie_verify(a, SECRET, SPEC_SIGNED, &v), GH_OK);
  assert_string_equal(v, SPEC_TOKEN);
  gh_arena_free(a);
}

static void test_signed_cookie_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "signed_cookie");
  size_t i;
  json_t *vec;
  json_array_foreach(g, i, vec) {
    gh_arena *a = gh_arena_new();
    const char *id = vec_str(vec, "id"), *secret = vec_str(vec, "secret");
    const char *value = vec_str(vec, "value"), *name = vec_str(vec, "cookie_name");
    const char *signed_value = vec_str(vec, "signed_value");
    const char *cookie_value = vec_str(vec, "cookie_value");
    assert_string_equal(vec_str(vec, "expect"), "valid");

    /* signature_base64 = base64(HMAC-SHA256(secret, value)), standard alphabet, padded */
    uint8_t mac[32];
    char sig[GH_B64_LEN(32) + 1];
    gh_hmac_sha256(secret, strlen(secret), value, strlen(value), mac);
    assert_int_equal(gh_b64_encode(mac, sizeof mac, sig, false, true), 44);
    if (strcmp(sig, vec_str(vec, "signature_base64")) != 0) fail_msg("%s: signature", id);

    char *s = gh_cookie_sign(a, secret, value);
    if (strcmp(s, signed_value) != 0) fail_msg("%s: signed value %s", id, s);
    char *enc = gh_uri_encode_component(a, s);
    if (strcmp(enc, cookie_value) != 0) fail_msg("%s: cookie value %s", id, enc);

    /* Set-Cookie starts with name=value; the Cookie header reads back to the value. */
    char *prefix = gh_arena_printf(a, "%s=%s;", name, cookie_value);
    assert_memory_equal(vec_str(vec, "set_cookie"), prefix, strlen(prefix));
    char *raw = cookie_get(a, vec_str(vec, "cookie_header"), name);
    assert_non_null(raw);
    assert_string_equal(raw, signed_value);
    char *out = NULL;
    assert_int_equal(gh_cookie_verify(a, secret, raw, &out), GH_OK);
    assert_string_equal(out, value);
    assert_string_equal(out, vec_str(vec, "expect_value"));

    /* Only the signing secret verifies (no fallback to the other one). */
    const char *other =
        strcmp(secret, SECRET) == 0 ? vec_str(json_object_get(root, "meta"), "secret_v2") : SECRET;
    assert_int_equal(gh_cookie_verify(a, other, raw, &out), GH_ERR_INVALID);
    assert_null(out);
    gh_arena_free(a);
  }
  json_decref(root);
}

static void test_signed_cookie_reader_vectors(void **state) {
  (void)state;
  json_t *root = vec_load();
  json_t *g = vec_group(root, "signed_cookie_reader");
  size_t i;
  json_t *vec;
  int seen_valid = 0, seen_bad = 0, seen_malformed = 0;
  json_array_foreach(g, i, vec) {
    gh_arena *a = gh_arena_new();
    const char *id = vec_str(vec, "id"), *expect = vec_str(vec, "expect");
    char *raw = cookie_get(a, vec_str(vec, "cookie_header"), vec_str(vec, "cookie_name"));
    char *out = NULL;
    gh_status st = raw ? gh_cookie_verify(a, vec_str(vec, "secret"), raw, &out) : GH_ERR_INVALID;
    if (strcmp(expect, "valid") == 0) {
      if (st != GH_OK) fail_msg("%s: rejected", id);
      assert_string_equal(out, vec_str(vec, "expect_value"));
      seen_valid++;
    } else if (strcmp(expect, "bad_signature") == 0 || strcmp(expect, "absent_or_malformed") == 0) {
      if (st != GH_ERR_INVALID) fail_msg("%s: accepted as %s", id, out);
      assert_null(out);
      strcmp(expect, "bad_signature") == 0 ? seen_bad++ : seen_malformed++;
    } else {
      fail_msg("%s: unknown expect %s", id, expect);
    }
    gh_arena_free(a);
  }
  assert_true(seen_valid && seen_bad && seen_malformed);
  json_decref(root);
}

static int b64_index(char c) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = c ? strchr(T, c) : NULL;
  return p ? (int)(p - T) : -1;
}

static char b64_char(int v) {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[v];
}

static void test_lenient_signature_decoding(void **state) {
  (void)state;
  /* §12: the 43rd signature char carries 4 bits of the last MAC byte and 2 unused bits. */
  gh_arena *a = gh_arena_new();
  size_t n = strlen(SPEC_SIGNED), pos = n - 2; /* index of the 43rd signature char */
  int orig = b64_index(SPEC_SIGNED[pos]);
  assert_true(orig >= 0);
  for (int flip = 1; flip < 64; flip++) {
    char *s = gh_arena_strdup(a, SPEC_SIGNED);
    s[pos] = b64_char(orig ^ flip);
    char *out = NULL;
    gh_status st = gh_cookie_verify(a, SECRET, s, &out);
    if (flip < 4) {
      if (st != GH_OK) fail_msg("flip %d of the unused bits rejected", flip);
      assert_string_equal(out, SPEC_TOKEN);
    } else if (st != GH_ERR_INVALID) {
      fail_msg("flip %d of a used bit accepted", flip);
    }
  }
  gh_arena_free(a);
}

static void test_every_single_char_mutation(void **state) {
  (void)state;
  /* Replace each char of a valid signed value with every other printable ASCII char: only the
   * unused low bits of the 43rd signature char may change and still verify. */
  gh_arena *a = gh_arena_new();
  size_t n = strlen(SPEC_SIGNED);
  char *s = gh_arena_strdup(a, SPEC_SIGNED);
  for (size_t i = 0; i < n; i++) {
    for (int c = 0x20; c < 0x7f; c++) {
      if (c == SPEC_SIGNED[i]) continue;
      s[i] = (char)c;
      char *out = NULL;
      gh_status st = gh_cookie_verify(a, SECRET, s, &out);
      int oi = b64_index(SPEC_SIGNED[i]), ci = b64_index((char)c);
      bool may_pass = i == n - 2 && ci >= 0 && (oi ^ ci) < 4;
      if (may_pass) {
        assert_int_equal(st, GH_OK);
      } else if (st != GH_ERR_INVALID) {
        fail_msg("mutation at %zu to '%c' accepted", i, c);
      }
    }
    s[i] = SPEC_SIGNED[i];
  }
  gh_arena_free(a);
}

static void test_values_with_dots_and_odd_bytes(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  static const char *values[] = {"a.b",       "a.b.c.", "...",       "x",       "true",
                                 "sp ace;=,", "ünï€😀",  "%2F%3D+/=", "\x01\x7f"};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    char *s = gh_cookie_sign(a, SECRET, values[i]);
    assert_int_equal(strlen(s), strlen(values[i]) + 45);
    char *out = NULL;
    assert_int_equal(gh_cookie_verify(a, SECRET, s, &out), GH_OK);
    assert_string_equal(out, values[i]);
    /* the wire form decodes back to the same signed value */
    char *dec = NULL;
    char *enc = gh_uri_encode_component(a, s);
    assert_int_equal(gh_uri_decode(a, enc, strlen(enc), false, &dec), GH_OK);
    assert_string_equal(dec, s);
    /* value_out may be NULL */
    assert_int_equal(gh_cookie_verify(a, SECRET, s, NULL), GH_OK);
  }
  /* Empty value: signable, but the reader refuses it (dot at position 0). */
  char *e = gh_cookie_sign(a, SECRET, "");
  assert_int_equal(strlen(e), 45);
  assert_int_equal(e[0], '.');
  assert_int_equal(gh_cookie_verify(a, SECRET, e, NULL), GH_ERR_INVALID);
  /* Empty and very long secrets are just HMAC keys. */
  char *s0 = gh_cookie_sign(a, "", "v");
  assert_int_equal(gh_cookie_verify(a, "", s0, NULL), GH_OK);
  assert_int_equal(gh_cookie_verify(a, SECRET, s0, NULL), GH_ERR_INVALID);
  char *long_secret = gh_arena_alloc(a, 1001);
  memset(long_secret, 'k', 1000);
  char *s1 = gh_cookie_sign(a, long_secret, "v");
  assert_int_equal(gh_cookie_verify(a, long_secret, s1, NULL), GH_OK);
  long_secret[999] = 'K';
  assert_int_equal(gh_cookie_verify(a, long_secret, s1, NULL), GH_ERR_INVALID);
  gh_arena_free(a);
}

static void test_huge_value(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  size_t n = 4u << 20;
  char *big = gh_arena_alloc(a, n + 1);
  memset(big, 'A', n);
  char *s = gh_cookie_sign(a, SECRET, big);
  assert_int_equal(strlen(s), n + 45);
  char *out = NULL;
  assert_int_equal(gh_cookie_verify(a, SECRET, s, &out), GH_OK);
  assert_int_equal(strlen(out), n);
  /* Huge garbage: no dot, a huge signature, dots only. */
  assert_int_equal(gh_cookie_verify(a, SECRET, big, &out), GH_ERR_INVALID);
  big[10] = '.';
  assert_int_equal(gh_cookie_verify(a, SECRET, big, &out), GH_ERR_INVALID);
  memset(big, '.', n);
  assert_int_equal(gh_cookie_verify(a, SECRET, big, &out), GH_ERR_INVALID);
  assert_null(out);
  gh_arena_free(a);
}

static void test_garbage(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  static const char *bad[] = {
      "",
      ".",
      "..",
      "a.",
      "a.=",
      "noDotAtAll",
      ".9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=",         /* 43-char signature */
      "v./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=",       /* signature of another value */
      "v.//9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=",      /* 45 chars */
      "v./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTscA",       /* no '=' at the end */
      "v./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTs==",       /* 31 bytes */
      "v./9fK2F6RmPgjlUDD6yP3kA_axcnUZSQ2jAm86wrNTsc=",       /* url alphabet */
      "v./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNT c=",       /* space */
      "v./9fK2F6RmPgjlUDD6yP3kA/axcnUZ=Q2jAm86wrNTsc=",       /* '=' inside */
      "v.%2F9fK2F6RmPgjlUDD6yP3kA%2FaxcnUZSQ2jAm86wrNTsc%3D", /* still percent-encoded */
      "kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=.",
      "kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc= ",
      " kV7NWcMwE5R4rofnEiYUtFiNCiwYLLR7./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=",
      "\xff\xfe./9fK2F6RmPgjlUDD6yP3kA/axcnUZSQ2jAm86wrNTsc=",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *out = (char *)"sentinel";
    if (gh_cookie_verify(a, SECRET, bad[i], &out) != GH_ERR_INVALID)
      fail_msg("garbage %zu accepted", i);
    assert_null(out);
  }
  char *out = NULL;
  assert_int_equal(gh_cookie_verify(a, SECRET, NULL, &out), GH_ERR_INVALID);
  assert_int_equal(gh_cookie_verify(a, NULL, SPEC_SIGNED, &out), GH_ERR_INVALID);
  assert_int_equal(gh_cookie_verify(NULL, SECRET, SPEC_SIGNED, &out), GH_ERR_INVALID);
  assert_null(out);
  assert_null(gh_cookie_sign(a, NULL, "v"));
  assert_null(gh_cookie_sign(a, SECRET, NULL));
  assert_null(gh_cookie_sign(NULL, SECRET, "v"));

  /* Random byte strings (no NUL) of random shapes never verify and never crash. */
  for (int iter = 0; iter < 20000; iter++) {
    uint8_t rnd[128];
    gh_rand_bytes(rnd, sizeof rnd);
    size_t n = rnd[0] % 100;
    char buf[128];
    for (size_t k = 0; k < n; k++) buf[k] = (char)(rnd[k + 1] ? rnd[k + 1] : '.');
    buf[n] = 0;
    if (n > 46 && (rnd[120] & 1)) { /* give it the right shape: ".<43 chars>=" at the end */
      buf[n - 45] = '.';
      for (size_t k = n - 44; k < n - 1; k++) buf[k] = b64_char(rnd[k % 128] & 63);
      buf[n - 1] = '=';
    }
    assert_int_equal(gh_cookie_verify(a, SECRET, buf, NULL), GH_ERR_INVALID);
  }
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_parser_itself),
      cmocka_unit_test(test_hmac_rfc4231),
      cmocka_unit_test(test_spec_vector),
      cmocka_unit_test(test_signed_cookie_vectors),
      cmocka_unit_test(test_signed_cookie_reader_vectors),
      cmocka_unit_test(test_lenient_signature_decoding),
      cmocka_unit_test(test_every_single_char_mutation),
      cmocka_unit_test(test_values_with_dots_and_odd_bytes),
      cmocka_unit_test(test_huge_value),
      cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
