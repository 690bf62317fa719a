/* common/encoding: base64, hex, encodeURIComponent/decodeURIComponent, UTF-8/UTF-16 helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include "common/arena.h"
#include "common/encoding.h"
#include "common/rand.h"

/* ---- base64 ---- */

static void check_b64(const char *in, const char *std_pad, const char *std_nopad) {
  char out[64];
  size_t n = strlen(in);
  assert_int_equal(gh_b64_encode((const uint8_t *)in, n, out, false, true), strlen(std_pad));
  assert_string_equal(out, std_pad);
  assert_int_equal(gh_b64_encode((const uint8_t *)in, n, out, false, false), strlen(std_nopad));
  assert_string_equal(out, std_nopad);
  assert_true(strlen(std_pad) == GH_B64_LEN(n));
  uint8_t dec[64];
  size_t dn = 99;
  assert_int_equal(gh_b64_decode(std_pad, strlen(std_pad), false, dec, &dn), GH_OK);
  assert_int_equal(dn, n);
  assert_memory_equal(dec, in, n);
  dn = 99;
  assert_int_equal(gh_b64_decode(std_nopad, strlen(std_nopad), false, dec, &dn), GH_OK);
  assert_int_equal(dn, n);
  assert_memory_equal(dec, in, n);
  /* Letters and digits only: the url alphabet reads them the same way. */
  assert_int_equal(gh_b64_decode(std_nopad, strlen(std_nopad), true, dec, &dn), GH_OK);
  assert_int_equal(dn, n);
  assert_memory_equal(dec, in, n);
}

static void test_b64_rfc4648(void **state) {
  (void)state;
  check_b64("", "", "");
  check_b64("f", "Zg==", "Zg");
  check_b64("fo", "Zm8=", "Zm8");
  check_b64("foo", "Zm9v", "Zm9v");
  check_b64("foob", "Zm9vYg==", "Zm9vYg");
  check_b64("fooba", "Zm9vYmE=", "Zm9vYmE");
  check_b64("foobar", "Zm9vYmFy", "Zm9vYmFy");
}

static void test_b64_alphabets(void **state) {
  (void)state;
  static const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0xfb, 0xef};
  char out[16];
  gh_b64_encode(raw, sizeof raw, out, false, true);
  assert_string_equal(out, "+/+/++8=");
  gh_b64_encode(raw, sizeof raw, out, true, true);
  assert_string_equal(out, "-_-_--8=");
  gh_b64_encode(raw, sizeof raw, out, true, false);
  assert_string_equal(out, "-_-_--8");
  uint8_t dec[16];
  size_t dn;
  assert_int_equal(gh_b64_decode("+/+/++8=", 8, false, dec, &dn), GH_OK);
  assert_int_equal(dn, sizeof raw);
  assert_memory_equal(dec, raw, sizeof raw);
  assert_int_equal(gh_b64_decode("-_-_--8", 7, true, dec, &dn), GH_OK);
  assert_int_equal(dn, sizeof raw);
  assert_memory_equal(dec, raw, sizeof raw);
  /* Not mixed: each alphabet rejects the other's two symbols. */
  assert_int_equal(gh_b64_decode("-_-_--8", 7, false, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_b64_decode("+/+/++8=", 8, true, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_b64_decode("+_", 2, false, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_b64_decode("-/", 2, true, dec, &dn), GH_ERR_INVALID);
  /* A 32-byte HMAC: 44 chars padded, 43 unpadded (cookie signatures / JWT). */
  uint8_t mac[32];
  memset(mac, 0xa5, sizeof mac);
  char s[GH_B64_LEN(32) + 1];
  assert_int_equal(gh_b64_encode(mac, 32, s, false, true), 44);
  assert_int_equal(s[43], '=');
  assert_int_equal(gh_b64_encode(mac, 32, s, true, false), 43);
}

static void test_b64_decode_rejects(void **state) {
  (void)state;
  static const char *bad[] = {
      "Zm9v!",    /* not in the alphabet */
      "Zm 9v",    /* whitespace */
      "Zm9v\n",   /* newline */
      "Zm9vY",    /* 4k+1 chars can't be base64 */
      "Zg==Zg==", /* padding in the middle */
      "Z=g=",     /* ditto */
      "Zg===",    /* three '=' */
      "Zm9v====", /* four '=' */
      "Zg=",      /* padded but not a whole quad */
      "=",        /* padding only, not a quad */
      "Zm9v\x80", /* non-ASCII */
  };
  uint8_t dec[32];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t dn = 0;
    if (gh_b64_decode(bad[i], strlen(bad[i]), false, dec, &dn) != GH_ERR_INVALID)
      fail_msg("std decode accepted \"%s\"", bad[i]);
    if (gh_b64_decode(bad[i], strlen(bad[i]), true, dec, &dn) != GH_ERR_INVALID)
      fail_msg("url decode accepted \"%s\"", bad[i]);
  }
  /* Only the first n bytes are read. */
  size_t dn = 0;
  assert_int_equal(gh_b64_decode("Zm9v!!!!", 4, false, dec, &dn), GH_OK);
  assert_int_equal(dn, 3);
  assert_memory_equal(dec, "foo", 3);
  /* Unused trailing bits are ignored (atob / Buffer do the same; cookie spec §12). */
  assert_int_equal(gh_b64_decode("Zh==", 4, false, dec, &dn), GH_OK);
  assert_int_equal(dn, 1);
  assert_int_equal(dec[0], 'f');
}

/* Every byte value in every position of a whole quad and of a 2- and 3-character tail: accepted
 * exactly when it is in the alphabet (the decoder's tables), decoded to its 6-bit value. */
static void test_b64_decode_every_char(void **state) {
  (void)state;
  static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int url = 0; url < 2; url++) {
    const char *alpha = url ? URL : STD;
    for (size_t n = 2; n <= 8; n++) {
      if (n % 4 == 1) continue;
      for (size_t pos = 0; pos < n; pos++) {
        for (int c = 0; c < 256; c++) {
          char in[8];
          memset(in, 'A', n);
          in[pos] = (char)c;
          const char *at = c ? memchr(alpha, c, 64) : NULL;
          uint8_t dec[8];
          size_t dn = 0;
          gh_status st = gh_b64_decode(in, n, url, dec, &dn);
          if (c == '=' && pos >= n - 2 && n % 4 == 0) continue; /* padding: tested above */
          if (!at) {
            if (st != GH_ERR_INVALID)
              fail_msg("url=%d n=%zu pos=%zu: byte %d accepted", url, n, pos, c);
            continue;
          }
          if (st != GH_OK) fail_msg("url=%d n=%zu pos=%zu: '%c' refused", url, n, pos, c);
          assert_int_equal(dn, n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
          /* the bits of position pos: all others are 'A' (0) */
          unsigned v = (unsigned)(at - alpha);
          size_t bit = pos * 6; /* first bit of this character in the output */
          uint32_t got = 0;
          for (size_t b = 0; b < 6; b++) {
            size_t k = bit + b;
            if (k / 8 < dn)
              got = got << 1 | ((dec[k / 8] >> (7 - k % 8)) & 1);
            else
              got <<= 1; /* a tail's unused bits */
          }
          if (got != v && bit + 6 <= dn * 8)
            fail_msg("url=%d n=%zu pos=%zu: '%c' decoded to %u", url, n, pos, c, got);
        }
      }
    }
  }
}

static void test_b64_round_trip_random(void **state) {
  (void)state;
  uint8_t raw[300], dec[300 * 3 / 4 + 300];
  char enc[GH_B64_LEN(300) + 1];
  for (size_t n = 0; n <= 300; n++) {
    gh_rand_bytes(raw, n);
    for (int mode = 0; mode < 4; mode++) {
      bool url = mode & 1, pad = mode & 2;
      size_t len = gh_b64_encode(raw, n, enc, url, pad);
      assert_int_equal(len, strlen(enc));
      if (pad)
        assert_int_equal(len, GH_B64_LEN(n));
      else
        assert_int_equal(len, (n * 4 + 2) / 3);
      for (size_t k = 0; k < len; k++) {
        char c = enc[k];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (url ? (c == '-' || c == '_') : (c == '+' || c == '/')) || (pad && c == '=');
        assert_true(ok);
      }
      size_t dn = 0;
      assert_int_equal(gh_b64_decode(enc, len, url, dec, &dn), GH_OK);
      assert_int_equal(dn, n);
      assert_memory_equal(dec, raw, n);
    }
  }
}

/* ---- hex ---- */

static void test_hex(void **state) {
  (void)state;
  static const uint8_t raw[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
  char out[2 * sizeof raw + 1];
  gh_hex_encode(raw, sizeof raw, out);
  assert_string_equal(out, "00017f80abcdefff");
  gh_hex_encode(raw, 0, out);
  assert_string_equal(out, "");
  uint8_t dec[16];
  size_t dn = 0;
  assert_int_equal(gh_hex_decode("00017f80abcdefff", 16, dec, &dn), GH_OK);
  assert_int_equal(dn, sizeof raw);
  assert_memory_equal(dec, raw, sizeof raw);
  assert_int_equal(gh_hex_decode("00017F80ABCDEFFF", 16, dec, &dn), GH_OK); /* either case */
  assert_memory_equal(dec, raw, sizeof raw);
  assert_int_equal(gh_hex_decode("", 0, dec, &dn), GH_OK);
  assert_int_equal(dn, 0);
  assert_int_equal(gh_hex_decode("abc", 3, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_hex_decode("0g", 2, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_hex_decode("g0", 2, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_hex_decode(" 0", 2, dec, &dn), GH_ERR_INVALID);
  assert_int_equal(gh_hex_decode("0x", 2, dec, &dn), GH_ERR_INVALID);
  uint8_t rnd[64], back[64];
  char h[129];
  gh_rand_bytes(rnd, sizeof rnd);
  gh_hex_encode(rnd, sizeof rnd, h);
  assert_int_equal(strlen(h), 128);
  assert_int_equal(gh_hex_decode(h, 128, back, &dn), GH_OK);
  assert_memory_equal(back, rnd, sizeof rnd);
}

/* ---- encodeURIComponent / decodeURIComponent ---- */

static void test_uri_encode_component(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  static const char *cases[][2] = {
      {"", ""},
      {"a+b/c=d", "a%2Bb%2Fc%3Dd"},
      {"\xc3\xbc", "%C3%BC"},               /* ü */
      {"\xe2\x82\xac", "%E2%82%AC"},        /* € */
      {"\xf0\x9f\x98\x80", "%F0%9F%98%80"}, /* 😀 */
      {"-_.!~*'()", "-_.!~*'()"},
      {"ABCXYZabcxyz0189", "ABCXYZabcxyz0189"},
      {" ", "%20"},
      {"#$&,:;?@[]", "%23%24%26%2C%3A%3B%3F%40%5B%5D"},
      {"\"<>\\^`{|}%", "%22%3C%3E%5C%5E%60%7B%7C%7D%25"},
      {"\x01\x1f\x7f", "%01%1F%7F"},
      {"user@example.com", "user%40example.com"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    assert_string_equal(gh_uri_encode_component(a, cases[i][0]), cases[i][1]);
  gh_arena_free(a);
}

static void test_uri_decode(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  char *out = NULL;
#define DEC_OK(in, plus, want)                                                                     \
  do {                                                                                             \
    out = NULL;                                                                                    \
    assert_int_equal(gh_uri_decode(a, in, strlen(in), plus, &out), GH_OK);                         \
    assert_string_equal(out, want);                                                                \
  } while (0)
  DEC_OK("", false, "");
  DEC_OK("plain", false, "plain");
  DEC_OK("a%2Bb%2Fc%3Dd", false, "a+b/c=d");
  DEC_OK("%C3%BC", false, "\xc3\xbc");
  DEC_OK("%c3%bc", false, "\xc3\xbc");
  DEC_OK("%F0%9F%98%80", false, "\xf0\x9f\x98\x80");
  DEC_OK("a+b", false, "a+b");
  DEC_OK("a+b", true, "a b");
  DEC_OK("a%2Bb", true, "a+b");
  DEC_OK("%2541", false, "%41"); /* decoded once only */
  DEC_OK("100%25", false, "100%");
  DEC_OK("\xc3\xbc%20x", false, "\xc3\xbc x");
#undef DEC_OK
  static const char *bad[] = {
      "%",
      "%4",
      "a%4",
      "%G1",
      "%1G",
      "a%zz",
      "%%41",
      "%00",
      "a%00",
      "%C3",
      "%FF",
      "%C3%28",
      "%ED%A0%80",    /* surrogate */
      "%C0%AF",       /* overlong '/' */
      "%F4%90%80%80", /* > U+10FFFF */
      "%E2%82",       /* truncated */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    out = NULL;
    if (gh_uri_decode(a, bad[i], strlen(bad[i]), false, &out) != GH_ERR_INVALID)
      fail_msg("decoded \"%s\"", bad[i]);
    assert_null(out);
  }
  /* A raw NUL inside the n bytes is rejected; only n bytes are read. */
  assert_int_equal(gh_uri_decode(a, "a\0b", 3, false, &out), GH_ERR_INVALID);
  assert_int_equal(gh_uri_decode(a, "abc%41", 3, false, &out), GH_OK);
  assert_string_equal(out, "abc");
  assert_int_equal(gh_uri_decode(a, "abc%41", 5, false, &out), GH_ERR_INVALID);
  /* Round trip through encode. */
  static const char s[] = "k\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80 +/=?&#%'\"";
  char *enc = gh_uri_encode_component(a, s);
  assert_int_equal(gh_uri_decode(a, enc, strlen(enc), false, &out), GH_OK);
  assert_string_equal(out, s);
  assert_int_equal(gh_uri_decode(a, enc, strlen(enc), true, &out), GH_OK);
  assert_string_equal(out, s);
  gh_arena_free(a);
}

/* ---- UTF-8 / UTF-16 ---- */

static void test_utf8_valid(void **state) {
  (void)state;
  static const char *good[] = {
      "",
      "ascii ~",
      "\xc3\xbc",
      "\xe2\x82\xac",
      "\xf0\x9f\x98\x80",
      "\xc2\x80",
      "\xdf\xbf",
      "\xe0\xa0\x80",
      "\xed\x9f\xbf", /* U+D7FF */
      "\xee\x80\x80", /* U+E000 */
      "\xef\xbf\xbf",
      "\xf0\x90\x80\x80",
      "\xf4\x8f\xbf\xbf", /* U+10FFFF */
  };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    if (!gh_utf8_valid(good[i], strlen(good[i]))) fail_msg("valid #%zu rejected", i);
  static const char *bad[] = {
      "\x80",             /* lone continuation */
      "\xbf",             /* lone continuation */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\x80",     /* overlong */
      "\xe0\x9f\xbf",     /* overlong */
      "\xf0\x80\x80\x80", /* overlong */
      "\xf0\x8f\xbf\xbf", /* overlong */
      "\xed\xa0\x80",     /* U+D800 */
      "\xed\xbf\xbf",     /* U+DFFF */
      "\xf4\x90\x80\x80", /* U+110000 */
      "\xf5\x80\x80\x80",
      "\xf8\x88\x80\x80\x80",
      "\xfe",
      "\xff",
      "\xc3",         /* truncated */
      "\xe2\x82",     /* truncated */
      "\xf0\x9f\x98", /* truncated */
      "a\xc3(",       /* bad continuation */
      "\xe2\x28\xa1", /* bad continuation */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (gh_utf8_valid(bad[i], strlen(bad[i]))) fail_msg("invalid #%zu accepted", i);
  assert_false(gh_utf8_valid("a\0b", 3));
  assert_false(gh_utf8_valid("\0", 1));
  assert_true(gh_utf8_valid("a\0b", 1)); /* only n bytes */
  assert_false(gh_utf8_valid("\xe2\x82\xac", 2));
}

static void test_utf16_length(void **state) {
  (void)state;
  assert_int_equal(gh_utf16_length("", 0), 0);
  assert_int_equal(gh_utf16_length("abc", 3), 3);
  assert_int_equal(gh_utf16_length("\xc3\xbc", 2), 1);         /* ü */
  assert_int_equal(gh_utf16_length("\xe2\x82\xac", 3), 1);     /* € */
  assert_int_equal(gh_utf16_length("\xef\xbd\x90", 3), 1);     /* ｐ */
  assert_int_equal(gh_utf16_length("\xf0\x9f\x98\x80", 4), 2); /* 😀 = surrogate pair */
  assert_int_equal(gh_utf16_length("a\xf0\x9f\x98\x80\xc3\xbc\xe2\x82\xac", 10), 5);
  assert_int_equal(gh_utf16_length("A\xcc\x8a", 3), 2); /* combining mark counts */
}

static void test_ct_equal(void **state) {
  (void)state;
  uint8_t x[64], y[64];
  gh_rand_bytes(x, sizeof x);
  memcpy(y, x, sizeof x);
  assert_true(gh_ct_equal(x, y, sizeof x));
  assert_true(gh_ct_equal(x, y, 0));
  y[0] ^= 1;
  assert_false(gh_ct_equal(x, y, sizeof x));
  assert_true(gh_ct_equal(x + 1, y + 1, sizeof x - 1));
  y[0] ^= 1;
  y[63] ^= 0x80;
  assert_false(gh_ct_equal(x, y, sizeof x));
  assert_true(gh_ct_equal(x, y, 63));
  assert_true(gh_ct_equal("abc", "abc", 3));
  assert_false(gh_ct_equal("abc", "abd", 3));
}

static void test_ascii_lower(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_ascii_lower(a, "Mixed.Case@Example.COM"), "mixed.case@example.com");
  assert_string_equal(gh_ascii_lower(a, "\xc3\x9c-Z"), "\xc3\x9c-z"); /* non-ASCII untouched */
  assert_string_equal(gh_ascii_lower(a, ""), "");
  assert_null(gh_ascii_lower(a, NULL));
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b64_rfc4648),
      cmocka_unit_test(test_b64_alphabets),
      cmocka_unit_test(test_b64_decode_rejects),
      cmocka_unit_test(test_b64_decode_every_char),
      cmocka_unit_test(test_b64_round_trip_random),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_uri_encode_component),
      cmocka_unit_test(test_uri_decode),
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_utf16_length),
      cmocka_unit_test(test_ct_equal),
      cmocka_unit_test(test_ascii_lower),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
