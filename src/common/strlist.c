#include "common/strlist.h"

#include <string.h>

size_t gh_list_count(const char *list) {
  size_t n = 1;
  for (const char *p = list; p && *p; p++) n += *p == ',';
  return n;
}

bool gh_list_next(const char **cursor, const char **item, size_t *len) {
  const char *p = *cursor;
  if (!p || !*p) return false;
  const char *end = strchr(p, ',');
  if (!end) end = p + strlen(p);
  const char *b = p, *e = end;
  while (b < e && (*b == ' ' || *b == '\t')) b++;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *item = b;
  *len = (size_t)(e - b);
  *cursor = *end ? end + 1 : end;
  return true;
}
