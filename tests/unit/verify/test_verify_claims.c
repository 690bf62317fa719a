/* libgatehouse-verify, reading the claims (lib/verify/claims.c): the yajl fast path may only
 * accept what the jansson reading accepts, with the same values; whatever it does not accept
 * goes to jansson. Crafted payloads (escapes, surrogates, NUL, duplicates, nesting, numbers,
 * whitespace, UTF-8 edge cases, trailing data) and seeded random mutations of better-auth-shaped
 * claims: ghv_internal_claims_read gives exactly the jansson result on every one, and the fast
 * path does accept the ordinary ones (else it would not be taken at all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/verify.h"
#include "internal.h"

#define ISS "https://issuer.example"

static const char *const BASE[] = {
    "{\"iat\":1764640000,\"name\":\"Ann Example\",\"email\":\"ann@example.com\","
    "\"emailVerified\":true,\"image\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\","
    "\"updatedAt\":\"2026-01-01T00:00:00.000Z\",\"role\":\"user\",\"banned\":false,"
    "\"id\":\"q0sVSC1kUXM5iOHW0000000000000001\",\"sub\":\"q0sVSC1kUXM5iOHW0000000000000001\","
    "\"exp\":1764643600,\"iss\":\"" ISS "\",\"aud\":\"" ISS "\"}",
    "{\"sub\":\"u\",\"exp\":1,\"nbf\":0,\"iat\":-5,\"iss\":\"" ISS "\",\"aud\":[\"x\",7,\"" ISS
    "\",null],\"jti\":\"t\",\"email\":\"\xc3\xa9@x\",\"name\":\"\xf0\x9f\x98\x80\"}",
    "{ \"sub\" : \"a\" ,\r\n\t\"exp\" : 9007199254740993 , \"aud\" : [ ] , \"tags\" : [\"a\",true] "
    "}",
};

static const char *const CRAFTED[] = {
    "{}",
    "[]",
    "1",
    "\"s\"",
    "null",
    "",
    " ",
    "{",
    "}",
    "{\"a\":1,}",
    "{\"a\":1}x",
    "{\"a\":1}{}",
    "{\"a\":1} ",
    "{\"a\":1}\"",
    "{\"a\":1}\"}",
    "{\"a\":1} \"x",
    "{\"a\":1}[",
    "{\"a\":1}1",
    "{\"a\":1}t",
    "{\"a\":1} \r\n\t",
    "{\"a\":1}\x0b",
    " {\"a\":1}",
    "\xef\xbb\xbf{\"a\":1}",
    "{\"a\":1}\x00",
    "{\"a\"\x0b:1}",
    "{\"a\":\x0c"
    "1}",
    "{\"a\":1 /* c */}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}",
    "{\"a\":{\"b\":1}}",
    "{\"a\":[[1]]}",
    "{\"a\":[{\"b\":1}]}",
    "{\"sub\":\"a\\u0000b\"}",
    "{\"sub\":\"\\ud800\"}",
    "{\"sub\":\"\\udc00\"}",
    "{\"sub\":\"\\ud800\\u0041\"}",
    "{\"sub\":\"\\ud83d\\ude00\"}",
    "{\"sub\":\"\\u00e9\"}",
    "{\"s\\u0075b\":\"x\",\"sub\":\"y\"}",
    "{\"sub\":\"a\\\"b\"}",
    "{\"sub\":\"a\\/b\"}",
    "{\"sub\":\"a\\qb\"}",
    "{\"sub\":\"a\tb\"}",
    "{\"sub\":\"a\x01"
    "b\"}",
    "{\"sub\":\"a\x7f"
    "b\"}",
    "{\"sub\":\"\xc0\x80\"}",
    "{\"sub\":\"\xc1\xbf\"}",
    "{\"sub\":\"\xe0\x80\xaf\"}",
    "{\"sub\":\"\xed\xa0\x80\"}",
    "{\"sub\":\"\xf4\x90\x80\x80\"}",
    "{\"sub\":\"\xf8\x88\x80\x80\x80\"}",
    "{\"sub\":\"\x80\"}",
    "{\"sub\":\"\xc3\"}",
    "{\"\xc0\x80\":1}",
    "{\"sub\":\"\xef\xbf\xbf\"}",
    "{\"exp\":1.5}",
    "{\"exp\":1e3}",
    "{\"exp\":1E+3}",
    "{\"exp\":-0}",
    "{\"exp\":01}",
    "{\"exp\":-}",
    "{\"exp\":+1}",
    "{\"exp\":.5}",
    "{\"exp\":1.}",
    "{\"exp\":0x10}",
    "{\"exp\":9223372036854775807}",
    "{\"exp\":9223372036854775808}",
    "{\"exp\":-9223372036854775808}",
    "{\"exp\":-9223372036854775809}",
    "{\"exp\":99999999999999999999}",
    "{\"exp\":1e400}",
    "{\"exp\":1e-400}",
    "{\"exp\":NaN}",
    "{\"exp\":Infinity}",
    "{\"exp\":\"1\"}",
    "{\"exp\":null}",
    "{\"exp\":true}",
    "{\"exp\":[1]}",
    "{\"exp\":{}}",
    "{\"nbf\":[]}",
    "{\"iat\":\"x\"}",
    "{\"sub\":\"\"}",
    "{\"sub\":1}",
    "{\"sub\":[\"a\"]}",
    "{\"sub\":null}",
    "{\"Sub\":\"a\"}",
    "{\"iss\":\"" ISS "\"}",
    "{\"iss\":\"" ISS "/\"}",
    "{\"iss\":[\"" ISS "\"]}",
    "{\"aud\":\"" ISS "\"}",
    "{\"aud\":[\"" ISS "\"]}",
    "{\"aud\":[[\"" ISS "\"]]}",
    "{\"aud\":{\"x\":\"" ISS "\"}}",
    "{\"emailVerified\":true}",
    "{\"emailVerified\":\"true\"}",
    "{\"emailVerified\":1}",
    "{\"emailVerified\":[true]}",
    "{\"\":1,\"\":2}",
    "{\"\":1}",
    "{\"a\":tru}",
    "{\"a\":nul}",
    "{\"a\":truex}",
    "{\"a\" 1}",
    "{\"a\":1 \"b\":2}",
    "{a:1}",
    "{'a':1}",
    "{\"a\":'x'}",
    "{\"a\":\"x}",
    "{\"a\":[1,]}",
    "{\"a\":[,1]}",
    "{\"a\":[1 2]}",
};

static ghv_verifier *verifier(void) {
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = ISS;
  c.expected_audience = ISS;
  ghv_verifier *v = NULL;
  assert_int_equal(ghv_new(&c, &v), GHV_OK);
  return v;
}

static bool same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same(const ghv_claims *a, const ghv_claims *b) {
  return same_str(a->sub, b->sub) && a->sub_len == b->sub_len && same_str(a->email, b->email) &&
         same_str(a->name, b->name) && same_str(a->role, b->role) && same_str(a->jti, b->jti) &&
         a->exp_kind == b->exp_kind && a->nbf_kind == b->nbf_kind && a->iat_kind == b->iat_kind &&
         (a->exp_kind != GHV_CLAIM_NUMBER || a->exp == b->exp) &&
         (a->nbf_kind != GHV_CLAIM_NUMBER || a->nbf == b->nbf) &&
         (a->iat_kind != GHV_CLAIM_NUMBER || a->iat == b->iat) && a->iss_ok == b->iss_ok &&
         a->aud_ok == b->aud_ok && a->email_verified == b->email_verified;
}

static void dump(const char *what, const char *s, size_t n) {
  fprintf(stderr, "%s (%zu bytes): ", what, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f)
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x%02x", c);
  }
  fputc('\n', stderr);
}

/* Both readings of s[0..n): the combined one equals jansson's; returns whether the fast path
 * accepted. */
static bool check(ghv_verifier *v, const char *s, size_t n) {
  ghv_claims ref, fast, got;
  ghv_status rst = ghv_internal_claims_read_jansson(v, s, n, &ref);
  ghv_status fst = ghv_internal_claims_read_fast(v, s, n, &fast);
  ghv_status gst = ghv_internal_claims_read(v, s, n, &got);
  assert_true(fst == GHV_OK || fst == GHV_ERR_MALFORMED);
  if (fst == GHV_OK && (rst != GHV_OK || !same(&fast, &ref))) {
    dump("fast path accepted differently from jansson", s, n);
    fail();
  }
  if (gst != rst || (gst == GHV_OK && !same(&got, &ref))) {
    dump("ghv_internal_claims_read differs from jansson", s, n);
    fail();
  }
  if (rst == GHV_OK) ghv_internal_claims_clear(&ref);
  if (fst == GHV_OK) ghv_internal_claims_clear(&fast);
  if (gst == GHV_OK) ghv_internal_claims_clear(&got);
  return fst == GHV_OK;
}

static void crafted(void **state) {
  (void)state;
  ghv_verifier *v = verifier();
  for (size_t i = 0; i < sizeof BASE / sizeof *BASE; i++)
    assert_true(check(v, BASE[i], strlen(BASE[i]))); /* the ordinary ones take the fast path */
  size_t fast = 0;
  for (size_t i = 0; i < sizeof CRAFTED / sizeof *CRAFTED; i++)
    fast += check(v, CRAFTED[i], strlen(CRAFTED[i]));
  /* the NUL inside a payload and after the object */
  check(v, "{\"sub\":\"a\0b\"}", 13);
  check(v, "{\"a\":1}\0", 8);
  assert_true(fast > 10); /* plain objects, numbers, the claims' types */
  /* more members than the fast path tracks, with and without a late duplicate */
  char big[4096];
  size_t o = 0;
  big[o++] = '{';
  for (int i = 0; i < 70; i++) o += (size_t)snprintf(big + o, sizeof big - o, "\"k%d\":%d,", i, i);
  o += (size_t)snprintf(big + o, sizeof big - o, "\"k3\":0}");
  check(v, big, o);
  big[o - 6] = 'x'; /* the last member "x3": no duplicate */
  check(v, big, o);
  /* a text longer than the fast path reads (FAST_MAX_TEXT, 2048): jansson's alone */
  for (size_t names = 1000; names <= 2100; names += 1100) {
    o = (size_t)snprintf(big, sizeof big, "{\"sub\":\"u\",\"name\":\"");
    memset(big + o, 'n', names);
    o += names;
    o += (size_t)snprintf(big + o, sizeof big - o, "\",\"exp\":1}");
    assert_int_equal(check(v, big, o), names < 2048); /* fast below the limit only */
  }
  /* deep nesting (jansson stops at 2048 levels) */
  static char deep[6000];
  for (int levels = 2040; levels <= 2056; levels += 8) {
    o = 0;
    o += (size_t)snprintf(deep, sizeof deep, "{\"a\":");
    for (int i = 0; i < levels; i++) deep[o++] = '[';
    for (int i = 0; i < levels; i++) deep[o++] = ']';
    deep[o++] = '}';
    check(v, deep, o);
  }
  ghv_free(v);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}

static void mutations(void **state) {
  (void)state;
  ghv_verifier *v = verifier();
  static const char INTERESTING[] = "{}[],:\"\\ \t\r\n\x0b\x0c\x00\x01\x7f\x80\xc0\xc3\xed\xf4\xff"
                                    "0123456789-+.eEtrufalsn";
  char buf[1024];
  size_t accepted = 0, total = 0;
  for (int round = 0; round < 30000; round++) {
    const char *b = BASE[next() % (sizeof BASE / sizeof *BASE)];
    size_t n = strlen(b);
    memcpy(buf, b, n);
    int edits = 1 + (int)(next() % 3);
    for (int e = 0; e < edits; e++) {
      uint32_t kind = next() % 4, at = n ? next() % (uint32_t)n : 0;
      char c = INTERESTING[next() % (sizeof INTERESTING - 1)];
      if (kind == 0 && n) {
        buf[at] = c; /* replace */
      } else if (kind == 1 && n + 1 < sizeof buf) {
        memmove(buf + at + 1, buf + at, n - at); /* insert */
        buf[at] = c;
        n++;
      } else if (kind == 2 && n) {
        memmove(buf + at, buf + at + 1, n - at - 1); /* delete */
        n--;
      } else if (kind == 3 && n) { /* copy a run of the text elsewhere (duplicate members) */
        uint32_t from = next() % (uint32_t)n, len = 1 + next() % 40;
        if (from + len > n) len = (uint32_t)n - from;
        if (n + len < sizeof buf) {
          char tmp[64];
          memcpy(tmp, buf + from, len);
          memmove(buf + at + len, buf + at, n - at);
          memcpy(buf + at, tmp, len);
          n += len;
        }
      }
    }
    accepted += check(v, buf, n);
    total++;
  }
  /* many mutants stay valid JSON the fast path reads (a changed digit or letter) */
  assert_true(accepted > total / 20);
  ghv_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(crafted),
      cmocka_unit_test(mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
