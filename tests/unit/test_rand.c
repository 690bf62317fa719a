/* common/rand: CSPRNG bytes and better-auth generateId()-style ids ([a-zA-Z0-9]). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include "common/rand.h"

static const char ALPHABET[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static bool in_alphabet(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void test_id_length_and_alphabet(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 2, 16, 32, 63, 64, 65, 200, 1000};
  char buf[1002];
  for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
    size_t n = lens[k];
    memset(buf, '#', sizeof buf);
    gh_rand_id(buf, n);
    assert_int_equal(strlen(buf), n);
    assert_int_equal(buf[n + 1], '#'); /* writes exactly n+1 bytes */
    for (size_t i = 0; i < n; i++)
      if (!in_alphabet(buf[i])) fail_msg("byte 0x%02x in an id", (unsigned char)buf[i]);
  }
}

static void test_ids_differ(void **state) {
  (void)state;
  char a[33], b[33];
  gh_rand_id(a, 32);
  gh_rand_id(b, 32);
  assert_string_not_equal(a, b);
  /* 1000 session-token-sized ids: no duplicates. */
  static char ids[1000][33];
  for (int i = 0; i < 1000; i++) gh_rand_id(ids[i], 32);
  for (int i = 0; i < 1000; i++)
    for (int j = i + 1; j < 1000; j++) assert_string_not_equal(ids[i], ids[j]);
}

static void test_id_distribution(void **state) {
  (void)state;
  /* 62000 chars: each of the 62 symbols is expected 1000 times (sd ~31.4). Bounds at ~±8 sd
   * catch a missing symbol or a modulo bias, and a fair generator never trips them. Chi-square
   * with 61 degrees of freedom: mean 61, sd ~11; 150 is beyond 8 sd. */
  enum { N = 62000 };
  static char buf[N + 1];
  gh_rand_id(buf, N);
  long count[256] = {0};
  for (size_t i = 0; i < N; i++) count[(unsigned char)buf[i]]++;
  double chi2 = 0;
  long total = 0;
  for (size_t k = 0; k < 62; k++) {
    long c = count[(unsigned char)ALPHABET[k]];
    total += c;
    if (c < 750 || c > 1250) fail_msg("'%c' appeared %ld times in %d", ALPHABET[k], c, N);
    chi2 += (double)(c - 1000) * (double)(c - 1000) / 1000.0;
  }
  assert_int_equal(total, N);
  if (chi2 > 150) fail_msg("chi-square %.1f", chi2);
}

static void test_rand_bytes(void **state) {
  (void)state;
  uint8_t a[64], b[64], zero[64] = {0};
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  gh_rand_bytes(a, sizeof a);
  gh_rand_bytes(b, sizeof b);
  assert_memory_not_equal(a, zero, sizeof a);
  assert_memory_not_equal(a, b, sizeof a);
  gh_rand_bytes(a, 0); /* no-op */
  /* Every byte value shows up in 64 KiB. */
  static uint8_t big[65536];
  gh_rand_bytes(big, sizeof big);
  int seen[256] = {0};
  for (size_t i = 0; i < sizeof big; i++) seen[big[i]]++;
  for (int v = 0; v < 256; v++)
    if (seen[v] < 128 || seen[v] > 384) fail_msg("byte %d seen %d times", v, seen[v]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_id_length_and_alphabet),
      cmocka_unit_test(test_ids_differ),
      cmocka_unit_test(test_id_distribution),
      cmocka_unit_test(test_rand_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
