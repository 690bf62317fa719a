/* libFuzzer harness: src/common/encoding.h decoders and src/common/time.h's ISO-8601 parser.
 * Every input goes through every decoder. Invariants: encode -> decode round-trips (base64 both
 * alphabets, padded or not; hex; encodeURIComponent); decode -> encode -> decode is stable;
 * decoders stay inside the output sizes their headers promise; gh_utf8_valid and
 * gh_utf16_length agree with libunistring; ISO-8601 parse -> format -> parse is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistr.h>

#include "common/arena.h"
#include "common/encoding.h"
#include "common/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISO_MIN_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00.000Z */
#define ISO_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

static void check_b64(const uint8_t *data, size_t size, bool url) {
  const char *in = (const char *)data;
  /* decode into a buffer of exactly the documented size */
  size_t cap = size * 3 / 4 + 3;
  uint8_t *out = malloc(cap);
  size_t out_len = 0;
  if (gh_b64_decode(in, size, url, out, &out_len) == GH_OK) {
    if (out_len > size * 3 / 4) abort();
    /* re-encode: decoding that again gives the same bytes (trailing bits may differ) */
    char *enc = malloc(GH_B64_LEN(out_len) + 1);
    size_t elen = gh_b64_encode(out, out_len, enc, url, false);
    uint8_t *out2 = malloc(elen * 3 / 4 + 3);
    size_t out2_len = 0;
    if (gh_b64_decode(enc, elen, url, out2, &out2_len) != GH_OK || out2_len != out_len ||
        memcmp(out, out2, out_len) != 0)
      abort();
    /* the canonical encoding is a prefix of the input, up to the last character's unused bits */
    if (elen > size || (elen > 1 && memcmp(enc, in, elen - 1) != 0)) abort();
    free(out2);
    free(enc);
  }
  free(out);

  /* encode -> decode of the raw bytes, padded and unpadded */
  for (int pad = 0; pad < 2; pad++) {
    char *enc = malloc(GH_B64_LEN(size) + 1);
    size_t elen = gh_b64_encode(data, size, enc, url, pad);
    if (elen > GH_B64_LEN(size) || strlen(enc) != elen) abort();
    if (pad && elen != GH_B64_LEN(size)) abort();
    uint8_t *dec = malloc(elen * 3 / 4 + 3);
    size_t dlen = 0;
    if (gh_b64_decode(enc, elen, url, dec, &dlen) != GH_OK || dlen != size ||
        memcmp(dec, data, size) != 0)
      abort();
    /* the other alphabet only accepts it when neither alphabet's two extra characters occur */
    if (gh_b64_decode(enc, elen, !url, dec, &dlen) == GH_OK && strpbrk(enc, "+/-_")) abort();
    free(dec);
    free(enc);
  }
}

static void check_hex(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  uint8_t *out = malloc(size / 2 + 1);
  size_t out_len = 0;
  if (gh_hex_decode(in, size, out, &out_len) == GH_OK) {
    if (out_len * 2 != size) abort();
    char *enc = malloc(size + 1);
    gh_hex_encode(out, out_len, enc);
    if (strncasecmp(enc, in, size) != 0) abort();
    free(enc);
  }
  free(out);
  char *enc = malloc(size * 2 + 1);
  gh_hex_encode(data, size, enc);
  uint8_t *dec = malloc(size + 1);
  size_t dlen = 0;
  if (gh_hex_decode(enc, size * 2, dec, &dlen) != GH_OK || dlen != size ||
      memcmp(dec, data, size) != 0)
    abort();
  free(dec);
  free(enc);
}

static void check_uri(gh_arena *a, const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  for (int plus = 0; plus < 2; plus++) {
    char *dec = NULL;
    if (gh_uri_decode(a, in, size, plus, &dec) != GH_OK) continue;
    size_t n = strlen(dec);
    if (n > size || !gh_utf8_valid(dec, n)) abort();
    if (memchr(in, 0, size)) abort(); /* a NUL byte in the input is an error */
    /* decode(encode(decode(x))) == decode(x) */
    char *enc = gh_uri_encode_component(a, dec);
    char *dec2 = NULL;
    if (gh_uri_decode(a, enc, strlen(enc), plus, &dec2) != GH_OK || strcmp(dec, dec2) != 0) abort();
  }
  /* encodeURIComponent -> decodeURIComponent for any UTF-8 string without NUL */
  if (gh_utf8_valid(in, size)) {
    char *s = gh_arena_strndup(a, in, size);
    char *enc = gh_uri_encode_component(a, s);
    if (strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                    "-_.!~*'()%") != strlen(enc))
      abort();
    char *dec = NULL;
    if (gh_uri_decode(a, enc, strlen(enc), true, &dec) != GH_OK || strcmp(dec, s) != 0) abort();
  }
}

static void check_utf(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  bool valid = gh_utf8_valid(in, size);
  bool ref = u8_check(data, size) == NULL && memchr(data, 0, size) == NULL;
  if (valid != ref) abort();
  if (!valid) {
    (void)gh_utf16_length(in, size); /* defined for valid UTF-8; must not misbehave otherwise */
    return;
  }
  size_t units = 0;
  uint16_t *u16 = u8_to_u16(data, size, NULL, &units);
  if (size && !u16) abort();
  free(u16);
  if (gh_utf16_length(in, size) != units) abort();
}

static void check_iso8601(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  int64_t ms;
  if (gh_iso8601_parse(s, &ms) == GH_OK) {
    char iso[GH_ISO_LEN];
    gh_iso8601(ms, iso);
    if (strlen(iso) != GH_ISO_LEN - 1) abort();
    int64_t again;
    if (gh_iso8601_parse(iso, &again) != GH_OK) abort();
    int64_t clamped = ms < ISO_MIN_MS ? ISO_MIN_MS : ms > ISO_MAX_MS ? ISO_MAX_MS : ms;
    if (again != clamped) abort();
  }
  free(s);
  /* format -> parse for the first 8 bytes as a timestamp */
  if (size >= 8) {
    int64_t ms8;
    memcpy(&ms8, data, 8);
    char iso[GH_ISO_LEN];
    gh_iso8601(ms8, iso);
    int64_t back;
    int64_t clamped = ms8 < ISO_MIN_MS ? ISO_MIN_MS : ms8 > ISO_MAX_MS ? ISO_MAX_MS : ms8;
    if (gh_iso8601_parse(iso, &back) != GH_OK || back != clamped) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gh_arena *a = gh_arena_new();
  check_b64(data, size, false);
  check_b64(data, size, true);
  check_hex(data, size);
  check_uri(a, data, size);
  check_utf(data, size);
  check_iso8601(data, size);
  gh_arena_free(a);
  return 0;
}
