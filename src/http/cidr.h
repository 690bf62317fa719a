/* Lists of IPv4/IPv6 addresses and CIDR blocks ("127.0.0.1,10.0.0.0/8,::1,fd00::/8"), parsed once
 * from a configuration value and matched against socket peer addresses. An IPv4-mapped IPv6 peer
 * (::ffff:a.b.c.d) matches the IPv4 entries. */
#ifndef GH_HTTP_CIDR_H
#define GH_HTTP_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/status.h"

typedef struct {
  int family; /* AF_INET or AF_INET6 */
  uint8_t addr[16];
  unsigned bits; /* prefix length */
} gh_cidr;

typedef struct {
  gh_cidr *v;
  size_t n;
} gh_cidr_list;

/* Parses a comma list (items trimmed; empty items ignored; "" is the empty list). On error *bad
 * points at the first invalid item and *bad_len is its length; *out is left empty. */
GH_MUST_CHECK gh_status gh_cidr_parse(const char *list, gh_cidr_list *out, const char **bad,
                                      size_t *bad_len);
/* True when sa (AF_INET or AF_INET6) lies in one of the list's blocks. */
bool gh_cidr_match(const gh_cidr_list *l, const struct sockaddr *sa);
void gh_cidr_free(gh_cidr_list *l);

#endif
