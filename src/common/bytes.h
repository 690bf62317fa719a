/* Allocation-free byte helpers: base64 (standard / url, padded or not), hex, UTF-8 checks,
 * constant-time comparison. Depends on libc and OpenSSL only, so libgatehouse-verify shares it. */
#ifndef GH_COMMON_BYTES_H
#define GH_COMMON_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

#define GH_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes NUL-terminated base64 into out (size >= GH_B64_LEN(n)+1); returns its length. */
size_t gh_b64_encode(const uint8_t *in, size_t n, char *out, bool url, bool pad);
/* Decodes base64 in either alphabet (not mixed), padding optional; out must hold n*3/4+3 bytes. */
GH_MUST_CHECK gh_status gh_b64_decode(const char *in, size_t n, bool url, uint8_t *out,
                                      size_t *out_len);
void gh_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);
/* Value of one hex digit (either case), -1 when c is not one. */
int gh_hex_digit(char c);
GH_MUST_CHECK gh_status gh_hex_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);
/* true when s[0..n) is valid UTF-8 without NUL bytes. */
bool gh_utf8_valid(const char *s, size_t n);
/* Length in UTF-16 code units (what JS .length returns) of valid UTF-8. */
size_t gh_utf16_length(const char *s, size_t n);
/* Constant-time equality of two buffers of the same length. */
bool gh_ct_equal(const void *a, const void *b, size_t n);
#endif
