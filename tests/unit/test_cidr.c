/* http/cidr: address and CIDR lists (GATEHOUSE_TRUSTED_PROXIES) parsed once, matched against
 * socket peer addresses; IPv4-mapped IPv6 peers match IPv4 entries; invalid items are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "http/cidr.h"

static bool match(const gh_cidr_list *l, const char *ip) {
  struct sockaddr_in a4 = {0};
  struct sockaddr_in6 a6 = {0};
  if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    return gh_cidr_match(l, (struct sockaddr *)&a4);
  }
  assert_int_equal(inet_pton(AF_INET6, ip, &a6.sin6_addr), 1);
  a6.sin6_family = AF_INET6;
  return gh_cidr_match(l, (struct sockaddr *)&a6);
}

static gh_cidr_list parse_ok(const char *s) {
  gh_cidr_list l;
  const char *bad = NULL;
  size_t bad_len = 0;
  assert_int_equal(gh_cidr_parse(s, &l, &bad, &bad_len), GH_OK);
  return l;
}

static void addresses_and_blocks(void **state) {
  (void)state;
  gh_cidr_list l = parse_ok(" 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8,192.168.1.77/24");
  assert_int_equal(l.n, 5);
  assert_true(match(&l, "127.0.0.1"));
  assert_false(match(&l, "127.0.0.2"));
  assert_true(match(&l, "10.0.0.0"));
  assert_true(match(&l, "10.255.3.4"));
  assert_false(match(&l, "11.0.0.1"));
  assert_true(match(&l, "192.168.1.200")); /* host bits of the entry ignored */
  assert_false(match(&l, "192.168.2.1"));
  assert_true(match(&l, "::1"));
  assert_false(match(&l, "::2"));
  assert_true(match(&l, "fd12:3456::1"));
  assert_false(match(&l, "fe80::1"));
  /* IPv4-mapped IPv6 peers (dual-stack listener) match the IPv4 entries */
  assert_true(match(&l, "::ffff:10.1.2.3"));
  assert_true(match(&l, "::ffff:127.0.0.1"));
  assert_false(match(&l, "::ffff:127.0.0.2"));
  gh_cidr_free(&l);
}

static void odd_prefixes(void **state) {
  (void)state;
  gh_cidr_list l = parse_ok("172.16.0.0/12,2001:db8::/33,0.0.0.0/0");
  assert_true(match(&l, "1.2.3.4")); /* /0: everything IPv4 */
  assert_true(match(&l, "2001:db8:7fff::1"));
  assert_false(match(&l, "2001:db8:8000::1"));
  assert_false(match(&l, "::1")); /* IPv4 /0 does not match IPv6 */
  gh_cidr_free(&l);
  l = parse_ok("172.16.0.0/12");
  assert_true(match(&l, "172.31.255.255"));
  assert_false(match(&l, "172.32.0.0"));
  gh_cidr_free(&l);
}

static void empty_lists(void **state) {
  (void)state;
  gh_cidr_list l = parse_ok("");
  assert_int_equal(l.n, 0);
  assert_false(match(&l, "127.0.0.1"));
  gh_cidr_free(&l);
  l = parse_ok(" , ,");
  assert_int_equal(l.n, 0);
  gh_cidr_free(&l);
  l = parse_ok(NULL);
  assert_int_equal(l.n, 0);
  assert_false(gh_cidr_match(&l, NULL));
}

static void invalid_items(void **state) {
  (void)state;
  const char *bads[] = {"localhost",  "10.0.0.0/33",   "::1/129",    "10.0.0.0/",
                        "10.0.0/8",   "1.2.3.4/8x",    "1.2.3.4/-1", "::g",
                        "1.2.3.4 /8", "10.0.0.1/0008", "300.1.1.1"};
  for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
    char list[64];
    snprintf(list, sizeof list, "127.0.0.1, %s", bads[i]);
    gh_cidr_list l;
    const char *bad = NULL;
    size_t bad_len = 0;
    assert_int_equal(gh_cidr_parse(list, &l, &bad, &bad_len), GH_ERR_CONFIG);
    assert_int_equal(l.n, 0);
    assert_non_null(bad);
    assert_int_equal(bad_len, strlen(bads[i]));
    assert_memory_equal(bad, bads[i], bad_len);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(addresses_and_blocks),
      cmocka_unit_test(odd_prefixes),
      cmocka_unit_test(empty_lists),
      cmocka_unit_test(invalid_items),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
