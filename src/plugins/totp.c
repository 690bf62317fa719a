/* TOTP (RFC 6238) as @better-auth/utils computes it, the otpauth URI, and its QR code. */
#include "plugins/totp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>

#include "common/bytes.h"
#include "common/encoding.h"

void gh_hotp(const void *key, size_t klen, uint64_t counter, int digits, char *out) {
  uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
  unsigned maclen = 0;
  for (int i = 7; i >= 0; i--) {
    msg[i] = (uint8_t)(counter & 0xff);
    counter >>= 8;
  }
  if (digits < 1) digits = 1;
  if (digits > GH_TOTP_MAX_DIGITS) digits = GH_TOTP_MAX_DIGITS;
  if (!HMAC(EVP_sha1(), key, (int)klen, msg, sizeof msg, mac, &maclen) || maclen < 20) {
    memset(out, 0, (size_t)digits + 1); /* never a valid code */
    return;
  }
  unsigned off = mac[maclen - 1] & 0x0f;
  uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                 ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
  uint32_t mod = 1;
  for (int i = 0; i < digits; i++) mod *= 10;
  uint32_t v = bin % mod;
  for (int i = digits - 1; i >= 0; i--) {
    out[i] = (char)('0' + v % 10);
    v /= 10;
  }
  out[digits] = 0;
}

bool gh_totp_verify(const void *key, size_t klen, const char *code, int64_t unix_s, int period,
                    int digits, int window, int64_t *step) {
  if (period < 1 || digits < 1 || digits > GH_TOTP_MAX_DIGITS || !code) return false;
  size_t cl = strlen(code);
  int64_t now = unix_s >= 0 ? unix_s / period : 0;
  bool any = false;
  int64_t found = -1;
  for (int64_t i = -window; i <= window; i++) {
    char want[GH_TOTP_MAX_DIGITS + 1];
    int64_t c = now + i;
    if (c < 0) continue;
    gh_hotp(key, klen, (uint64_t)c, digits, want);
    bool eq = cl == (size_t)digits && gh_ct_equal(code, want, (size_t)digits);
    if (eq) found = c; /* the newest match wins */
    any |= eq;
  }
  if (any && step) *step = found;
  return any;
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

char *gh_base32_encode(gh_arena *a, const void *in, size_t n) {
  const uint8_t *p = in;
  char *out = gh_arena_alloc(a, (n * 8 + 4) / 5 + 1);
  size_t k = 0;
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    buf = (buf << 8) | p[i];
    bits += 8;
    while (bits >= 5) {
      out[k++] = B32[(buf >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out[k++] = B32[(buf << (5 - bits)) & 31];
  out[k] = 0;
  return out;
}

gh_status gh_base32_decode(gh_arena *a, const char *in, uint8_t **out, size_t *n) {
  size_t len = strlen(in);
  uint8_t *o = gh_arena_alloc(a, len * 5 / 8 + 1);
  size_t k = 0;
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '=' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    const char *pos = c ? strchr(B32, c) : NULL;
    if (!pos) return GH_ERR_INVALID;
    buf = (buf << 5) | (uint32_t)(pos - B32);
    bits += 5;
    if (bits >= 8) {
      o[k++] = (uint8_t)(buf >> (bits - 8));
      bits -= 8;
    }
  }
  o[k] = 0;
  *out = o;
  *n = k;
  return GH_OK;
}

/* URLSearchParams (application/x-www-form-urlencoded): alnum and *-._ kept, space as +. */
static char *form_encode(gh_arena *a, const char *s) {
  size_t n = strlen(s);
  char *o = gh_arena_alloc(a, n * 3 + 1), *w = o;
  static const char HEX[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
        c == '-' || c == '.' || c == '_') {
      *w++ = (char)c;
    } else if (c == ' ') {
      *w++ = '+';
    } else {
      *w++ = '%';
      *w++ = HEX[c >> 4];
      *w++ = HEX[c & 15];
    }
  }
  *w = 0;
  return o;
}

char *gh_totp_uri(gh_arena *a, const void *key, size_t klen, const char *issuer,
                  const char *account, int digits, int period) {
  return gh_arena_printf(a, "otpauth://totp/%s:%s?secret=%s&issuer=%s&digits=%d&period=%d",
                         gh_uri_encode_component(a, issuer), gh_uri_encode_component(a, account),
                         gh_base32_encode(a, key, klen), form_encode(a, issuer), digits, period);
}

char *gh_qr_svg_data_uri(gh_arena *a, const char *text) {
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!q) return NULL;
  const int quiet = 4, w = q->width, size = w + 2 * quiet;
  /* one path of unit squares: "M x y h1v1h-1z" per dark module */
  size_t cap = 256 + (size_t)w * (size_t)w * 24, k = 0;
  char *svg = gh_arena_alloc(a, cap);
  int m = snprintf(svg, cap,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                   "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                   "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                   size, size, size, size);
  k = m > 0 ? (size_t)m : 0;
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      if (q->data[y * w + x] & 1) {
        m = snprintf(svg + k, cap - k, "M%d %dh1v1h-1z", x + quiet, y + quiet);
        if (m > 0) k += (size_t)m;
      }
  m = snprintf(svg + k, cap - k, "\"/></svg>");
  if (m > 0) k += (size_t)m;
  QRcode_free(q);
  char *b64 = gh_arena_alloc(a, GH_B64_LEN(k) + 1);
  gh_b64_encode((const uint8_t *)svg, k, b64, false, true);
  return gh_arena_printf(a, "data:image/svg+xml;base64,%s", b64);
}
