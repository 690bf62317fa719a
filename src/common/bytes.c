#include "common/bytes.h"

#include <openssl/crypto.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t gh_b64_encode(const uint8_t *in, size_t n, char *out, bool url, bool pad) {
  const char *t = url ? B64URL : B64;
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    out[o++] = t[v >> 6 & 63];
    out[o++] = t[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = t[v >> 18 & 63];
    out[o++] = t[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = t[v >> 6 & 63];
    else if (pad)
      out[o++] = '=';
    if (pad) out[o++] = '=';
  }
  out[o] = 0;
  return o;
}

/* Decoding tables: the value of each character plus one, 0 for a character outside the
 * alphabet (so one lookup per character and one test per group of four). */
static const uint8_t DEC_STD[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  63, 0,  0,  0,  64,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 0,  0,  0,  0,  0,  0,  0,  1,  2,  3,  4,  5,  6,  7,
    8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0,  0,  0,  0,  0,
    0,  27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49,
    50, 51, 52, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};
static const uint8_t DEC_URL[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  63, 0,  0,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 0,  0,  0,  0,  0,  0,  0,  1,  2,  3,  4,  5,  6,  7,
    8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0,  0,  0,  0,  64,
    0,  27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49,
    50, 51, 52, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

gh_status gh_b64_decode(const char *in, size_t n, bool url, uint8_t *out, size_t *out_len) {
  size_t padded = n;
  while (n > 0 && in[n - 1] == '=') n--;
  if (padded - n > 2 || (padded != n && padded % 4 != 0)) return GH_ERR_INVALID;
  if (n % 4 == 1) return GH_ERR_INVALID;
  const uint8_t *t = url ? DEC_URL : DEC_STD;
  const unsigned char *s = (const unsigned char *)in;
  size_t o = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    int a = t[s[i]] - 1, b = t[s[i + 1]] - 1, c = t[s[i + 2]] - 1, d = t[s[i + 3]] - 1;
    if ((a | b | c | d) < 0) return GH_ERR_INVALID;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o] = (uint8_t)(v >> 16);
    out[o + 1] = (uint8_t)(v >> 8);
    out[o + 2] = (uint8_t)v;
    o += 3;
  }
  if (i < n) { /* 2 or 3 characters left: 1 or 2 bytes */
    bool three = n - i == 3;
    int a = t[s[i]] - 1, b = t[s[i + 1]] - 1, c = three ? t[s[i + 2]] - 1 : 0;
    if ((a | b | c) < 0) return GH_ERR_INVALID;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
    out[o++] = (uint8_t)(v >> 16);
    if (three) out[o++] = (uint8_t)(v >> 8);
  }
  *out_len = o;
  return GH_OK;
}

void gh_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char H[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = H[in[i] >> 4];
    out[2 * i + 1] = H[in[i] & 15];
  }
  out[2 * n] = 0;
}

int gh_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

gh_status gh_hex_decode(const char *in, size_t n, uint8_t *out, size_t *out_len) {
  if (n % 2) return GH_ERR_INVALID;
  for (size_t i = 0; i < n; i += 2) {
    int h = gh_hex_digit(in[i]), l = gh_hex_digit(in[i + 1]);
    if (h < 0 || l < 0) return GH_ERR_INVALID;
    out[i / 2] = (uint8_t)(h << 4 | l);
  }
  *out_len = n / 2;
  return GH_OK;
}

bool gh_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c == 0) return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned min;
    if ((c & 0xE0) == 0xC0)
      len = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, min = 0x10000, c &= 0x07;
    else
      return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      c = c << 6 | (s[i + k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t gh_utf16_length(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t units = 0;
  for (size_t i = 0; i < n; i++) {
    if ((s[i] & 0xC0) == 0x80) continue;    /* continuation byte */
    units += (s[i] & 0xF8) == 0xF0 ? 2 : 1; /* 4-byte sequences are surrogate pairs */
  }
  return units;
}

bool gh_ct_equal(const void *a, const void *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}
