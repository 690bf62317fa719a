/* common/time: JS toISOString() formatting and ISO-8601 / PostgreSQL parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>
#include "common/rand.h"
#include "common/time.h"

static void check_fmt(int64_t ms, const char *want) {
  char out[GH_ISO_LEN];
  memset(out, 'x', sizeof out);
  gh_iso8601(ms, out);
  assert_string_equal(out, want);
  assert_int_equal(strlen(out), GH_ISO_LEN - 1);
}

static void test_format(void **state) {
  (void)state;
  check_fmt(0, "1970-01-01T00:00:00.000Z");
  check_fmt(1768478400000, "2026-01-15T12:00:00.000Z"); /* the vectors' fixed clock */
  check_fmt(1768478400001, "2026-01-15T12:00:00.001Z");
  check_fmt(1768478400012, "2026-01-15T12:00:00.012Z");
  check_fmt(1768478400123, "2026-01-15T12:00:00.123Z");
  check_fmt(1768478400999, "2026-01-15T12:00:00.999Z");
  check_fmt(1795419410000, "2026-11-23T07:36:50.000Z");
  check_fmt(951782400000, "2000-02-29T00:00:00.000Z");  /* leap day, 400-year rule */
  check_fmt(4107542400000, "2100-03-01T00:00:00.000Z"); /* 2100 is not a leap year */
  check_fmt(4107542399999, "2100-02-28T23:59:59.999Z");
  check_fmt(253402300799999, "9999-12-31T23:59:59.999Z");
}

static void test_format_pre_1970(void **state) {
  (void)state;
  check_fmt(-1, "1969-12-31T23:59:59.999Z");
  check_fmt(-999, "1969-12-31T23:59:59.001Z");
  check_fmt(-1000, "1969-12-31T23:59:59.000Z");
  check_fmt(-1001, "1969-12-31T23:59:58.999Z");
  check_fmt(-86400000, "1969-12-31T00:00:00.000Z");
  check_fmt(-86400001, "1969-12-30T23:59:59.999Z");
  check_fmt(-2208988800001, "1899-12-31T23:59:59.999Z");
  check_fmt(-11644473600000, "1601-01-01T00:00:00.000Z");
  check_fmt(-62135596800000, "0001-01-01T00:00:00.000Z");
  check_fmt(-62167219200000, "0000-01-01T00:00:00.000Z");
}

static void test_format_out_of_range_clamps(void **state) {
  (void)state;
  /* The 24-char form only holds years 0000-9999; the buffer must never overflow. */
  check_fmt(INT64_MAX, "9999-12-31T23:59:59.999Z");
  check_fmt(8640000000000000, "9999-12-31T23:59:59.999Z");
  check_fmt(253402300800000, "9999-12-31T23:59:59.999Z");
  check_fmt(-62167219200001, "0000-01-01T00:00:00.000Z");
  check_fmt(INT64_MIN, "0000-01-01T00:00:00.000Z");
}

static void check_parse(const char *s, int64_t want) {
  int64_t got = 12345;
  if (gh_iso8601_parse(s, &got) != GH_OK) fail_msg("\"%s\" rejected", s);
  if (got != want) fail_msg("\"%s\" -> %lld, want %lld", s, (long long)got, (long long)want);
}

static void test_parse(void **state) {
  (void)state;
  check_parse("2026-01-15T12:00:00.000Z", 1768478400000);      /* JS toISOString() */
  check_parse("2026-01-15T12:00:00Z", 1768478400000);          /* no fraction */
  check_parse("2026-01-15 12:00:00+00", 1768478400000);        /* PostgreSQL, UTC session */
  check_parse("2026-01-15 12:00:00.123+00", 1768478400123);    /* PostgreSQL, ms */
  check_parse("2026-01-15 12:00:00.123456+00", 1768478400123); /* µs truncated */
  check_parse("2026-01-15 12:00:00.999999+00", 1768478400999); /* truncated, not rounded */
  check_parse("2026-01-15T12:00:00.1Z", 1768478400100);
  check_parse("2026-01-15T12:00:00.12Z", 1768478400120);
  check_parse("2026-01-15T12:00:00.123456789123Z", 1768478400123);
  check_parse("2026-01-15T17:30:00+05:30", 1768478400000);
  check_parse("2026-01-15T17:30:00.250+0530", 1768478400250);
  check_parse("2026-01-15T06:30:00-05:30", 1768478400000);
  check_parse("2026-01-15T13:00:00+01", 1768478400000);
  check_parse("2026-01-15T12:00:00-00:00", 1768478400000);
  check_parse("2026-01-16T02:00:00+14:00", 1768478400000);
  check_parse("2026-01-15t12:00:00z", 1768478400000);
  check_parse("2026-01-15T12:00:00", 1768478400000); /* no zone: read as UTC */
  check_parse("2026-11-23T07:36:50.000Z", 1795419410000);
  check_parse("1970-01-01T00:00:00.000Z", 0);
  check_parse("1969-12-31T23:59:59.999Z", -1);
  check_parse("1969-12-31T23:59:59.000Z", -1000);
  check_parse("1969-12-31 19:00:00-05", 0);
  check_parse("1899-12-31T23:59:59.999Z", -2208988800001);
  check_parse("0000-01-01T00:00:00.000Z", -62167219200000);
  check_parse("9999-12-31T23:59:59.999Z", 253402300799999);
  check_parse("2000-02-29T00:00:00Z", 951782400000);
}

static void test_parse_rejects_garbage(void **state) {
  (void)state;
  static const char *bad[] = {
      "",
      "garbage",
      "2026",
      "2026-01-15",
      "2026-01-15T",
      "2026-01-15T12:00",
      "2026-01-15T12:00Z",
      "2026-1-15T12:00:00Z",
      "26-01-15T12:00:00Z",
      "2026/01/15T12:00:00Z",
      "2026-01-15X12:00:00Z",
      "2026-01-15T12-00-00Z",
      "2026-01-15T12:00:00.Z",
      "2026-01-15T12:00:00,123Z",
      "2026-01-15T12:00:00ZZ",
      "2026-01-15T12:00:00Z ",
      " 2026-01-15T12:00:00Z",
      "2026-01-15T12:00:00+5",
      "2026-01-15T12:00:00+05:3",
      "2026-01-15T12:00:00+05:",
      "2026-01-15T12:00:00+053",
      "2026-01-15T12:00:00+24:00",
      "2026-01-15T12:00:00+05:60",
      "2026-01-15T12:00:00 UTC",
      "2026-00-15T12:00:00Z",
      "2026-13-15T12:00:00Z",
      "2026-01-00T12:00:00Z",
      "2026-01-32T12:00:00Z",
      "2026-01-15T24:00:00Z",
      "2026-01-15T12:60:00Z",
      "2026-01-15T12:00:60Z",
      "2026-01-15T12:00:00.123abc",
      "+02026-01-15T12:00:00Z",
      "2026-01-15T12:00:00\xc2\xa0",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int64_t ms = 777;
    if (gh_iso8601_parse(bad[i], &ms) != GH_ERR_INVALID) fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(ms, 777); /* untouched on error */
  }
  int64_t ms;
  assert_int_equal(gh_iso8601_parse(NULL, &ms), GH_ERR_INVALID);
}

static void test_round_trip(void **state) {
  (void)state;
  const int64_t lo = -62167219200000, hi = 253402300799999;
  char out[GH_ISO_LEN];
  for (int i = 0; i < 200000; i++) {
    uint64_t r;
    gh_rand_bytes(&r, sizeof r);
    int64_t ms = lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
    if (i < 100000) ms = (int64_t)(r % 8000000000000) - 4000000000000; /* 1843..2096 */
    gh_iso8601(ms, out);
    int64_t back = 0;
    if (gh_iso8601_parse(out, &back) != GH_OK || back != ms)
      fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
  }
  /* Every day of 1900-2100 at a random time of day; the PG form agrees too. */
  for (int64_t day = -25567; day <= 47482; day++) {
    uint32_t r;
    gh_rand_bytes(&r, sizeof r);
    int64_t ms = day * 86400000 + r % 86400000;
    gh_iso8601(ms, out);
    int64_t back = 0;
    assert_int_equal(gh_iso8601_parse(out, &back), GH_OK);
    assert_int_equal(back, ms);
    char pg[40];
    memcpy(pg, out, 23);
    pg[10] = ' ';
    memcpy(pg + 23, "+00", 4);
    assert_int_equal(gh_iso8601_parse(pg, &back), GH_OK);
    assert_int_equal(back, ms);
  }
}

static void test_now_and_fixed_clock(void **state) {
  (void)state;
  gh_time_set_fixed(1768478400000);
  assert_int_equal(gh_now_ms(), 1768478400000);
  gh_time_set_fixed(0);
  int64_t now = gh_now_ms();
  int64_t sys = (int64_t)time(NULL) * 1000;
  assert_true(now > 1700000000000);
  assert_true(now - sys < 5000 && sys - now < 5000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_format_pre_1970),
      cmocka_unit_test(test_format_out_of_range_clamps),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_rejects_garbage),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_now_and_fixed_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
