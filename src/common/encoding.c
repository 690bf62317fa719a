#include "common/encoding.h"

#include <string.h>

char *gh_uri_encode_component(gh_arena *a, const char *s) {
  static const char H[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *out = gh_arena_alloc(a, n * 3 + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        (c != 0 && strchr("-_.!~*'()", c))) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = H[c >> 4];
      *o++ = H[c & 15];
    }
  }
  *o = 0;
  return out;
}

gh_status gh_uri_decode(gh_arena *a, const char *s, size_t n, bool plus_as_space, char **out) {
  char *r = gh_arena_alloc(a, n + 1), *o = r;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n) return GH_ERR_INVALID;
      int h = gh_hex_digit(s[i + 1]), l = gh_hex_digit(s[i + 2]);
      if (h < 0 || l < 0) return GH_ERR_INVALID;
      char c = (char)(h << 4 | l);
      if (c == 0) return GH_ERR_INVALID;
      *o++ = c;
      i += 2;
    } else if (plus_as_space && s[i] == '+') {
      *o++ = ' ';
    } else {
      if (s[i] == 0) return GH_ERR_INVALID;
      *o++ = s[i];
    }
  }
  *o = 0;
  if (!gh_utf8_valid(r, (size_t)(o - r))) return GH_ERR_INVALID; /* URIError in JS */
  *out = r;
  return GH_OK;
}

char *gh_ascii_lower(gh_arena *a, const char *s) {
  char *r = gh_arena_strdup(a, s);
  if (!r) return NULL;
  for (char *p = r; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  return r;
}
