/* Percent-encoding and other arena-allocating string helpers; the allocation-free byte helpers
 * (base64, hex, UTF-8, constant-time compare) are in common/bytes.h. */
#ifndef GH_COMMON_ENCODING_H
#define GH_COMMON_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/bytes.h"
#include "common/status.h"

/* encodeURIComponent(). */
char *gh_uri_encode_component(gh_arena *a, const char *s);
/* decodeURIComponent(); GH_ERR_INVALID on malformed escapes or a NUL byte. */
GH_MUST_CHECK gh_status gh_uri_decode(gh_arena *a, const char *s, size_t n, bool plus_as_space,
                                      char **out);
/* ASCII lower-case copy. */
char *gh_ascii_lower(gh_arena *a, const char *s);

#endif
