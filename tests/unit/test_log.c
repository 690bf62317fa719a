/* common/log: one JSON object per line on stderr, written by the logger itself: keys in the order
 * given (ts, level, event first; a key given again keeps its first position and takes the last
 * value), strings escaped and invalid UTF-8 replaced exactly as jansson's compact dump of the same
 * object (gh_json_str + gh_json_dump) writes it, one write(2) per line, below-level lines dropped.
 * stderr is captured through a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/time.h"
#include "json/json.h"

#define TS_MS 1795419395456LL /* 2026-11-23T07:36:35.456Z */
#define TS "\"ts\":\"2026-11-23T07:36:35.456Z\""

static int saved_stderr = -1, rd = -1;

/* Points stderr at a fresh non-blocking pipe. */
static void capture(void) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  if (saved_stderr < 0) saved_stderr = dup(2);
  assert_true(dup2(p[1], 2) >= 0);
  close(p[1]);
  rd = p[0];
}

/* Everything written since capture() (stderr restored). */
static char *captured(size_t *len) {
  assert_true(dup2(saved_stderr, 2) >= 0);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 4096 > cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(rd, buf + n, cap - n - 1);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(rd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

static int setup(void **state) {
  (void)state;
  gh_time_set_fixed(TS_MS);
  gh_log_set_level(GH_LOG_INFO);
  gh_log_set_rate(0); /* the clock is fixed: the other tests log many lines in one "second" */
  return 0;
}

static void expect_line(const char *want) {
  char *got = captured(NULL);
  assert_string_equal(got, want);
  free(got);
}

static void basic_line(void **state) {
  (void)state;
  capture();
  gh_log(GH_LOG_INFO, "sign_in.success", "user_id", "u1", "ip", "127.0.0.1", NULL);
  expect_line("{" TS ",\"level\":\"info\",\"event\":\"sign_in.success\",\"user_id\":\"u1\","
              "\"ip\":\"127.0.0.1\"}\n");
  capture();
  gh_log(GH_LOG_ERROR, "x", "none", NULL, "empty", "", NULL); /* NULL value: null */
  expect_line("{" TS ",\"level\":\"error\",\"event\":\"x\",\"none\":null,\"empty\":\"\"}\n");
  capture();
  gh_log(GH_LOG_WARN, "only", NULL);
  expect_line("{" TS ",\"level\":\"warn\",\"event\":\"only\"}\n");
}

static void levels(void **state) {
  (void)state;
  capture();
  gh_log(GH_LOG_DEBUG, "dropped", NULL);
  gh_log_set_level(GH_LOG_DEBUG);
  gh_log(GH_LOG_DEBUG, "kept", NULL);
  gh_log_set_level(GH_LOG_ERROR);
  gh_log(GH_LOG_WARN, "dropped", NULL);
  gh_log(GH_LOG_ERROR, "kept", NULL);
  gh_log_set_level(GH_LOG_INFO);
  expect_line("{" TS ",\"level\":\"debug\",\"event\":\"kept\"}\n"
              "{" TS ",\"level\":\"error\",\"event\":\"kept\"}\n");
}

static void escaping(void **state) {
  (void)state;
  capture();
  gh_log(GH_LOG_INFO, "e", "q\"k\\", "a\"b\\c/d", "ctl", "\b\f\n\r\t\x01\x1f\x7f", "utf8",
         "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8", NULL);
  expect_line("{" TS ",\"level\":\"info\",\"event\":\"e\",\"q\\\"k\\\\\":\"a\\\"b\\\\c/d\","
              "\"ctl\":\"\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\","
              "\"utf8\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8\"}\n");
}

static void invalid_utf8(void **state) {
  (void)state;
  capture();
  /* a stray continuation byte, 0xFF, a truncated sequence at the end, an overlong '/', a UTF-16
   * surrogate: each byte that does not start a valid sequence becomes U+FFFD */
  gh_log(GH_LOG_INFO, "u", "a", "x\x80y\xFFz", "b", "ok\xC3", "c", "\xC0\xAF", "d", "\xED\xA0\x80!",
         "e", "\xE2\x82", NULL);
#define R "\xEF\xBF\xBD"
  expect_line("{" TS ",\"level\":\"info\",\"event\":\"u\",\"a\":\"x" R "y" R "z\",\"b\":\"ok" R
              "\",\"c\":\"" R R "\",\"d\":\"" R R R "!\",\"e\":\"" R R "\"}\n");
#undef R
}

static void repeated_key(void **state) {
  (void)state;
  capture();
  gh_log(GH_LOG_INFO, "r", "a", "1", "b", "2", "a", "3", "event", "override", "ts", NULL, NULL);
  expect_line("{\"ts\":null,\"level\":\"info\",\"event\":\"override\",\"a\":\"3\",\"b\":\"2\"}\n");
}

/* The same object through jansson: what the logger wrote before it wrote its lines itself. */
static char *jansson_line(const char *event, const char *const *kv, size_t nkv) {
  gh_arena *a = gh_arena_new();
  char ts[GH_ISO_LEN];
  gh_iso8601(TS_MS, ts);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "ts", gh_json_str(ts));
  gh_json_set_new(o, "level", gh_json_str("info"));
  gh_json_set_new(o, "event", gh_json_str(event));
  for (size_t i = 0; i + 1 < nkv; i += 2) gh_json_set_new(o, kv[i], gh_json_str(kv[i + 1]));
  size_t n;
  char *s = gh_json_dump(a, o, &n);
  gh_json_decref(o);
  char *line = malloc(n + 2);
  memcpy(line, s, n);
  memcpy(line + n, "\n", 2);
  gh_arena_free(a);
  return line;
}

static void same_as_jansson(void **state) {
  (void)state;
  /* every single byte as a value, then random byte strings biased to UTF-8 lead bytes */
  for (int c = 1; c < 256; c++) {
    char v[2] = {(char)c, 0};
    const char *kv[] = {"v", v};
    char *want = jansson_line("b", kv, 2);
    capture();
    gh_log(GH_LOG_INFO, "b", "v", v, NULL);
    expect_line(want);
    free(want);
  }
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; round++) {
    char v[4][24];
    for (int k = 0; k < 4; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t len = (seed >> 16) % 23;
      for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) & 0xFFFF;
        static const unsigned char pick[] = {0xC3, 0xE2, 0xF0, 0x9F, 0x80, 0xBF,
                                             0xED, 0xC0, 0xF4, 0x90, '"',  '\\'};
        unsigned char b = r & 1 ? pick[(r >> 1) % sizeof pick] : (unsigned char)(r >> 4);
        v[k][i] = (char)(b ? b : 'x');
      }
      v[k][len] = 0;
    }
    /* keys from the valid-ASCII range only (jansson refuses other keys) */
    const char *kv[] = {"k\"1", v[0], "k2", v[1], "k\\3", v[2], "k2", v[3]};
    char *want = jansson_line(v[3], kv, 8);
    capture();
    gh_log(GH_LOG_INFO, v[3], "k\"1", v[0], "k2", v[1], "k\\3", v[2], "k2", v[3], NULL);
    expect_line(want);
    free(want);
  }
}

static void many_pairs(void **state) {
  (void)state;
  /* more pairs than the logger keeps on its stack, and a line longer than its stack buffer */
  char big[3000];
  memset(big, 'b', sizeof big - 1);
  big[sizeof big - 1] = 0;
  const char *kv[40];
  char names[20][8];
  for (int i = 0; i < 20; i++) {
    snprintf(names[i], sizeof names[i], "k%d", i);
    kv[2 * i] = names[i];
    kv[2 * i + 1] = i == 7 ? big : names[i];
  }
  char *want = jansson_line("m", kv, 40);
  capture();
  gh_log(GH_LOG_INFO, "m", kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6], kv[7], kv[8], kv[9],
         kv[10], kv[11], kv[12], kv[13], kv[14], kv[15], kv[16], kv[17], kv[18], kv[19], kv[20],
         kv[21], kv[22], kv[23], kv[24], kv[25], kv[26], kv[27], kv[28], kv[29], kv[30], kv[31],
         kv[32], kv[33], kv[34], kv[35], kv[36], kv[37], kv[38], kv[39], NULL);
  expect_line(want);
  free(want);
}

/* ---------------------------------------------------------------- one write per line */

#define THREADS 4
#define LINES 300

static void *log_many(void *arg) {
  char id[8], val[600];
  snprintf(id, sizeof id, "t%d", (int)(intptr_t)arg);
  memset(val, 'a' + (int)(intptr_t)arg, sizeof val - 1);
  val[sizeof val - 1] = 0;
  for (int i = 0; i < LINES; i++) gh_log(GH_LOG_INFO, "c", "thread", id, "v", val, NULL);
  return NULL;
}

static void lines_never_interleave(void **state) {
  (void)state;
  capture();
  pthread_t t[THREADS];
  for (intptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, log_many, (void *)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  size_t len;
  char *all = captured(&len);
  int count[THREADS] = {0};
  char *p = all;
  while (*p) {
    char *nl = strchr(p, '\n');
    assert_non_null(nl);
    *nl = 0;
    int k = -1;
    for (int i = 0; i < THREADS; i++) {
      char want[700], val[600];
      memset(val, 'a' + i, sizeof val - 1);
      val[sizeof val - 1] = 0;
      snprintf(want, sizeof want,
               "{" TS ",\"level\":\"info\",\"event\":\"c\",\"thread\":\"t%d\",\"v\":\"%s\"}", i,
               val);
      if (strcmp(p, want) == 0) k = i;
    }
    assert_true(k >= 0);
    count[k]++;
    p = nl + 1;
  }
  for (int i = 0; i < THREADS; i++) assert_int_equal(count[i], LINES);
  free(all);
}

static void level_names(void **state) {
  (void)state;
  gh_log_level l = GH_LOG_ERROR;
  assert_true(gh_log_level_parse("debug", &l));
  assert_int_equal(l, GH_LOG_DEBUG);
  assert_true(gh_log_level_parse("warn", &l));
  assert_int_equal(l, GH_LOG_WARN);
  assert_true(gh_log_level_parse("info", &l));
  assert_int_equal(l, GH_LOG_INFO);
  l = GH_LOG_DEBUG;
  assert_false(gh_log_level_parse("INFO", &l));
  assert_false(gh_log_level_parse("", &l));
  assert_false(gh_log_level_parse(NULL, &l));
  assert_int_equal(l, GH_LOG_DEBUG); /* untouched */
}

/* Rate limit: per event, at most N lines per second; the rest counted, and the count written in
 * one log.suppressed line before the next line of a later second. Other events are not held back
 * by a flooding one. */
static size_t count_of(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static void rate_limited_per_event(void **state) {
  (void)state;
  gh_log_set_rate(3);
  capture();
  for (int i = 0; i < 1000; i++) gh_log(GH_LOG_WARN, "http.mhd", "message", "timed out", NULL);
  gh_log(GH_LOG_INFO, "other", NULL);
  gh_log(GH_LOG_INFO, "other", NULL);
  char *got = captured(NULL);
  assert_int_equal(count_of(got, "\"event\":\"http.mhd\""), 3);
  assert_int_equal(count_of(got, "\"event\":\"other\""), 2);
  assert_null(strstr(got, "log.suppressed"));
  free(got);

  /* the next second: the summary first, then the line */
  gh_time_set_fixed(TS_MS + 1000);
  capture();
  gh_log(GH_LOG_WARN, "http.mhd", "message", "timed out", NULL);
  expect_line(
      "{\"ts\":\"2026-11-23T07:36:36.456Z\",\"level\":\"warn\",\"event\":\"log.suppressed\","
      "\"suppressed_event\":\"http.mhd\",\"count\":\"997\"}\n"
      "{\"ts\":\"2026-11-23T07:36:36.456Z\",\"level\":\"warn\",\"event\":\"http.mhd\","
      "\"message\":\"timed out\"}\n");

  /* a later line of any event reports what another one had suppressed */
  capture();
  for (int i = 0; i < 5; i++) gh_log(GH_LOG_WARN, "http.mhd", NULL); /* 2 more pass, 3 dropped */
  gh_time_set_fixed(TS_MS + 5000);
  gh_log(GH_LOG_INFO, "other", NULL);
  got = captured(NULL);
  assert_int_equal(count_of(got, "\"event\":\"http.mhd\""), 2);
  assert_non_null(strstr(got, "\"suppressed_event\":\"http.mhd\",\"count\":\"3\""));
  assert_int_equal(count_of(got, "log.suppressed"), 1);
  free(got);

  /* info lines (the audit trail) are never dropped */
  gh_time_set_fixed(TS_MS + 7000);
  capture();
  for (int i = 0; i < 50; i++) gh_log(GH_LOG_INFO, "sign_in.failure", "reason", "x", NULL);
  got = captured(NULL);
  assert_int_equal(count_of(got, "\"event\":\"sign_in.failure\""), 50);
  assert_null(strstr(got, "log.suppressed"));
  free(got);

  /* many distinct events: each within its budget, none lost below it */
  gh_time_set_fixed(TS_MS + 9000);
  capture();
  for (int e = 0; e < 200; e++) {
    char ev[32];
    snprintf(ev, sizeof ev, "event.%d", e);
    gh_log(GH_LOG_INFO, ev, NULL);
  }
  got = captured(NULL);
  assert_int_equal(count_of(got, "\"level\":\"info\""), 200);
  free(got);

  gh_time_set_fixed(TS_MS);
  gh_log_set_rate(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(level_names),
      cmocka_unit_test(basic_line),
      cmocka_unit_test(levels),
      cmocka_unit_test(escaping),
      cmocka_unit_test(invalid_utf8),
      cmocka_unit_test(repeated_key),
      cmocka_unit_test(same_as_jansson),
      cmocka_unit_test(many_pairs),
      cmocka_unit_test(lines_never_interleave),
      cmocka_unit_test(rate_limited_per_event),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
