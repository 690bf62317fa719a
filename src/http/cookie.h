/* Cookie request header parsing. */
#ifndef GH_HTTP_COOKIE_H
#define GH_HTTP_COOKIE_H

#include "common/arena.h"

/* Cookie header parsing as better-call does it: the first occurrence of name wins, surrounding
 * double quotes are stripped and the value is percent-decoded when it contains '%' (NULL when that
 * decoding fails). NULL when cookie_header is NULL or has no such cookie. Allocated on a. */
const char *gh_cookie_get(gh_arena *a, const char *cookie_header, const char *name);

#endif
