#include "plugins/email_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "json/json.h"

#define HEADER_B64 "eyJhbGciOiJIUzI1NiJ9" /* {"alg":"HS256"} */

static void hmac(const char *secret, const char *input, size_t n, uint8_t mac[32]) {
  unsigned len = 32;
  HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)input, n, mac, &len);
}

static char *b64url(gh_arena *a, const void *p, size_t n) {
  char *out = gh_arena_alloc(a, GH_B64_LEN(n) + 1);
  gh_b64_encode(p, n, out, true, false);
  return out;
}

char *gh_email_token_sign(gh_arena *a, const char *secret, const char *email, const char *update_to,
                          const char *request_type, const char *user_id, int64_t now_s,
                          int64_t expires_in) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "email", gh_json_str(gh_ascii_lower(a, email)));
  if (update_to) gh_json_set_new(o, "updateTo", gh_json_str(gh_ascii_lower(a, update_to)));
  if (request_type) gh_json_set_new(o, "requestType", gh_json_str(request_type));
  if (user_id) gh_json_set_new(o, "userId", gh_json_str(user_id));
  gh_json_set_new(o, "iat", gh_json_int(now_s));
  gh_json_set_new(o, "exp", gh_json_int(now_s + expires_in));
  size_t plen;
  char *payload = gh_json_dump(a, o, &plen);
  gh_json_decref(o);
  char *input = gh_arena_printf(a, "%s.%s", HEADER_B64, b64url(a, payload, plen));
  uint8_t mac[32];
  hmac(secret, input, strlen(input), mac);
  return gh_arena_printf(a, "%s.%s", input, b64url(a, mac, 32));
}

/* Strict base64url (no padding) of a segment; NULL when it is not. */
static uint8_t *decode(gh_arena *a, const char *s, size_t n, size_t *len) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
      return NULL;
  uint8_t *out = gh_arena_alloc(a, n * 3 / 4 + 4);
  if (gh_b64_decode(s, n, true, out, len) != GH_OK) return NULL;
  out[*len] = 0;
  return out;
}

static const char *opt_string(const gh_json *o, const char *k, bool *bad) {
  gh_json *v = gh_json_get(o, k);
  if (!v || gh_json_typeof(v) == GH_JSON_UNDEFINED) return NULL;
  const char *s = gh_json_string(v);
  if (!s) *bad = true;
  return s;
}

gh_status gh_email_token_verify(gh_arena *a, const char *secret, const char *token, int64_t now_s,
                                gh_email_claims *out) {
  memset(out, 0, sizeof *out);
  if (!token || strlen(token) > 8192) return GH_ERR_INVALID;
  const char *d1 = strchr(token, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d1 || !d2 || strchr(d2 + 1, '.')) return GH_ERR_INVALID;
  size_t hlen, plen, slen;
  uint8_t *header = decode(a, token, (size_t)(d1 - token), &hlen);
  uint8_t *payload = decode(a, d1 + 1, (size_t)(d2 - d1 - 1), &plen);
  uint8_t *sig = decode(a, d2 + 1, strlen(d2 + 1), &slen);
  if (!header || !payload || !sig || slen != 32) return GH_ERR_INVALID;
  gh_json *h = NULL;
  if (gh_json_parse((const char *)header, hlen, &h) != GH_OK) return GH_ERR_INVALID;
  gh_json_own(a, h);
  if (gh_json_typeof(h) != GH_JSON_OBJECT) return GH_ERR_INVALID;
  const char *alg = gh_json_string(gh_json_get(h, "alg"));
  if (!alg || strcmp(alg, "HS256") || gh_json_get(h, "crit")) return GH_ERR_INVALID;
  gh_json *b64 = gh_json_get(h, "b64");
  if (b64 && !gh_json_is_true(b64)) return GH_ERR_INVALID;
  uint8_t mac[32];
  hmac(secret, token, (size_t)(d2 - token), mac);
  if (!gh_ct_equal(mac, sig, 32)) return GH_ERR_INVALID;
  gh_json *p = NULL;
  if (gh_json_parse((const char *)payload, plen, &p) != GH_OK) return GH_ERR_INVALID;
  gh_json_own(a, p);
  if (gh_json_typeof(p) != GH_JSON_OBJECT) return GH_ERR_INVALID;
  bool bad = false;
  out->email = opt_string(p, "email", &bad);
  out->update_to = opt_string(p, "updateTo", &bad);
  out->request_type = opt_string(p, "requestType", &bad);
  out->user_id = opt_string(p, "userId", &bad);
  gh_json *exp = gh_json_get(p, "exp");
  gh_json *iat = gh_json_get(p, "iat");
  if (exp && gh_json_typeof(exp) != GH_JSON_INTEGER) return GH_ERR_INVALID;
  if (iat && gh_json_typeof(iat) != GH_JSON_INTEGER) return GH_ERR_INVALID;
  out->exp = exp ? gh_json_integer(exp) : 0;
  out->iat = iat ? gh_json_integer(iat) : 0;
  if (exp && out->exp <= now_s) return GH_ERR_NOT_FOUND; /* jose: JWTExpired */
  if (bad || !out->email) return GH_ERR_INVALID;         /* zod parse of the claims */
  return GH_OK;
}
