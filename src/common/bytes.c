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

static int b64val(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (!url && c == '+') return 62;
  if (!url && c == '/') return 63;
  if (url && c == '-') return 62;
  if (url && c == '_') return 63;
  return -1;
}

gh_status gh_b64_decode(const char *in, size_t n, bool url, uint8_t *out, size_t *out_len) {
  size_t padded = n;
  while (n > 0 && in[n - 1] == '=') n--;
  if (padded - n > 2 || (padded != n && padded % 4 != 0)) return GH_ERR_INVALID;
  if (n % 4 == 1) return GH_ERR_INVALID;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(in[i], url);
    if (v < 0) return GH_ERR_INVALID;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
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
