#include "http/cookie.h"

#include <stdbool.h>
#include <string.h>

#include "common/encoding.h"

const char *gh_cookie_get(gh_arena *a, const char *hdr, const char *name) {
  if (!hdr) return NULL;
  size_t nlen = strlen(name);
  const char *p = hdr;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ';') p++;
    const char *start = p;
    const char *semi = strchr(p, ';');
    const char *end = semi ? semi : p + strlen(p);
    const char *eq = memchr(start, '=', (size_t)(end - start));
    if (eq) {
      const char *k = start, *ke = eq;
      while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
      if ((size_t)(ke - k) == nlen && memcmp(k, name, nlen) == 0) {
        const char *v = eq + 1, *ve = end;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        if (ve - v >= 2 && *v == '"' && ve[-1] == '"') v++, ve--;
        if (memchr(v, '%', (size_t)(ve - v))) {
          char *dec;
          if (gh_uri_decode(a, v, (size_t)(ve - v), false, &dec) != GH_OK) return NULL;
          return dec;
        }
        return gh_arena_strndup(a, v, (size_t)(ve - v));
      }
    }
    if (!semi) break;
    p = semi + 1;
  }
  return NULL;
}
