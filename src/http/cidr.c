#include "http/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/strlist.h"

static bool parse_one(const char *item, size_t len, gh_cidr *out) {
  char buf[INET6_ADDRSTRLEN + 8];
  if (len == 0 || len >= sizeof buf) return false;
  memcpy(buf, item, len);
  buf[len] = 0;
  char *slash = strchr(buf, '/');
  long bits = -1;
  if (slash) {
    *slash = 0;
    const char *d = slash + 1;
    if (!*d || strlen(d) > 3) return false;
    bits = 0;
    for (; *d; d++) {
      if (*d < '0' || *d > '9') return false;
      bits = bits * 10 + (*d - '0');
    }
  }
  memset(out, 0, sizeof *out);
  unsigned max;
  if (inet_pton(AF_INET, buf, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
    out->family = AF_INET6;
    max = 128;
  } else {
    return false;
  }
  if (bits > (long)max) return false;
  out->bits = bits < 0 ? max : (unsigned)bits;
  /* host bits are cleared: 10.1.2.3/8 is 10.0.0.0/8 */
  for (unsigned i = out->bits; i < max; i++) out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
  return true;
}

gh_status gh_cidr_parse(const char *list, gh_cidr_list *out, const char **bad, size_t *bad_len) {
  out->v = NULL;
  out->n = 0;
  if (!list) return GH_OK;
  size_t cap = gh_list_count(list);
  gh_cidr *v = gh_xcalloc(cap ? cap : 1, sizeof *v);
  const char *cursor = list, *item;
  size_t len, n = 0;
  while (gh_list_next(&cursor, &item, &len)) {
    if (len == 0) continue;
    if (!parse_one(item, len, &v[n])) {
      free(v);
      *bad = item;
      *bad_len = len;
      return GH_ERR_CONFIG;
    }
    n++;
  }
  if (n == 0) {
    free(v);
    return GH_OK;
  }
  out->v = v;
  out->n = n;
  return GH_OK;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8;
  if (memcmp(a, b, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (!rest) return true;
  uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool gh_cidr_match(const gh_cidr_list *l, const struct sockaddr *sa) {
  if (!l || !sa) return false;
  uint8_t a[16];
  int family;
  if (sa->sa_family == AF_INET) {
    memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    family = AF_INET;
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(in6)) {
      memcpy(a, in6->s6_addr + 12, 4);
      family = AF_INET;
    } else {
      memcpy(a, in6->s6_addr, 16);
      family = AF_INET6;
    }
  } else {
    return false;
  }
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].family == family && prefix_equal(a, l->v[i].addr, l->v[i].bits)) return true;
  return false;
}

void gh_cidr_free(gh_cidr_list *l) {
  free(l->v);
  l->v = NULL;
  l->n = 0;
}
