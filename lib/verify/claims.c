/* libgatehouse-verify: reading the claims of a JWT (the decoded payload) into ghv_claims.
 *
 * The reference reading is jansson's: json_loadb with JSON_REJECT_DUPLICATES, an object at the
 * top, then the members ghv_verify_jwt checks. It builds a tree of every member (an allocation
 * per key and per string) and was the largest cost of a first-sight EdDSA verification after the
 * signature itself (~4.5 us of ~50 us for a better-auth token). So the claims are first read
 * with yajl's event parser (no tree, no allocation per value), on a fast path that only ever
 * ACCEPTS what jansson accepts, with the same values: whatever it is not sure of it hands to the
 * jansson reading, whose verdict then stands. It gives up on (then jansson decides):
 *   - any backslash in the text (escapes: "\u0000", lone surrogates, which yajl replaces by "?"
 *     or lets through, and keys yajl would decode into a scratch buffer), and the bytes 0x0B and
 *     0x0C (whitespace to yajl, not to JSON);
 *   - any yajl error, a top level that is not an object, an object inside the claims, an array
 *     inside an array, anything but JSON whitespace after the object (the parse stops at its
 *     '}': yajl takes an unterminated string after it for more input to come);
 *   - a duplicate key, more than FAST_MAX_KEYS members, a key or string that is not strict UTF-8
 *     (overlong forms, surrogates, beyond U+10FFFF, NUL: yajl checks the byte structure only);
 *   - a number that is not an integer of at most 19 digits within int64 (fractions, exponents,
 *     overflow: no strtod, so no locale either);
 *   - a text longer than FAST_MAX_TEXT.
 * tests/unit/verify/test_verify.c runs both readings on crafted and mutated payloads and checks
 * that an acceptance by the fast path always agrees with jansson. */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "common/bytes.h"

#define FAST_MAX_KEYS 64
/* Longest claims text the fast path reads: yajl's buffers then stay within their first
 * allocation (YAJL_BUF_INIT_SIZE, 2048: a token cut by the end of the text is copied there), so
 * the arena below holds every allocation and yajl never meets a failed malloc (it does not check
 * some). A better-auth payload is ~400-1000 bytes; longer ones go to jansson. */
#define FAST_MAX_TEXT 2048
#define ARENA_BYTES 3072

static bool str_equal(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  return an == bn && gh_ct_equal(a, b, an);
}

void ghv_internal_claims_clear(ghv_claims *c) {
  free(c->sub);
  free(c->email);
  free(c->name);
  free(c->role);
  free(c->jti);
  memset(c, 0, sizeof *c);
}

/* ---- the jansson reading (the reference) ---- */

static ghv_claim_kind numeric_date(json_t *claims, const char *name, double *out) {
  json_t *m = json_object_get(claims, name);
  if (!m) return GHV_CLAIM_ABSENT;
  if (!json_is_number(m)) return GHV_CLAIM_OTHER;
  double d = json_number_value(m);
  if (!isfinite(d)) return GHV_CLAIM_OTHER;
  *out = d;
  return GHV_CLAIM_NUMBER;
}

static bool opt_string(json_t *o, const char *name, char **out, size_t *len) {
  json_t *m = json_object_get(o, name);
  if (!json_is_string(m)) return true;
  if (len) *len = json_string_length(m);
  *out = ghv_internal_strndup(json_string_value(m), json_string_length(m));
  return *out != NULL;
}

ghv_status ghv_internal_claims_read_jansson(ghv_verifier *v, const char *json, size_t len,
                                            ghv_claims *out) {
  memset(out, 0, sizeof *out);
  json_error_t err;
  json_t *c = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (!c)
    return json_error_code(&err) == json_error_out_of_memory ? GHV_ERR_NOMEM : GHV_ERR_MALFORMED;
  ghv_status st = GHV_ERR_MALFORMED;
  if (!json_is_object(c)) goto done;
  st = GHV_ERR_NOMEM;
  if (!opt_string(c, "sub", &out->sub, &out->sub_len) ||
      !opt_string(c, "email", &out->email, NULL) || !opt_string(c, "name", &out->name, NULL) ||
      !opt_string(c, "role", &out->role, NULL) || !opt_string(c, "jti", &out->jti, NULL))
    goto done;
  out->exp_kind = numeric_date(c, "exp", &out->exp);
  out->nbf_kind = numeric_date(c, "nbf", &out->nbf);
  out->iat_kind = numeric_date(c, "iat", &out->iat);
  json_t *iss = json_object_get(c, "iss");
  out->iss_ok = json_is_string(iss) &&
                str_equal(json_string_value(iss), json_string_length(iss), v->expected_issuer);
  json_t *aud = json_object_get(c, "aud");
  if (json_is_string(aud)) {
    out->aud_ok = str_equal(json_string_value(aud), json_string_length(aud), v->expected_audience);
  } else if (json_is_array(aud)) {
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a) {
      if (json_is_string(a) &&
          str_equal(json_string_value(a), json_string_length(a), v->expected_audience))
        out->aud_ok = true;
    }
  }
  out->email_verified = json_is_true(json_object_get(c, "emailVerified"));
  st = GHV_OK;
done:
  if (st != GHV_OK) ghv_internal_claims_clear(out);
  json_decref(c);
  return st;
}

/* ---- the fast path (yajl events) ---- */

enum { M_OTHER, M_SUB, M_EMAIL, M_NAME, M_ROLE, M_JTI, M_EXP, M_NBF, M_IAT, M_ISS, M_AUD, M_EV };

typedef struct {
  ghv_verifier *v;
  ghv_claims *c;
  const char *text;
  size_t len;
  int depth; /* 0: before the object, 1: in it, 2: in an array member, 3: after it */
  int member;
  bool nomem;
  size_t nkeys;
  const char *key[FAST_MAX_KEYS];
  size_t key_len[FAST_MAX_KEYS];
} fast_ctx;

static int member_of(const char *k, size_t n) {
  static const struct {
    const char *name;
    size_t len;
    int m;
  } T[] = {{"sub", 3, M_SUB},   {"email", 5, M_EMAIL},      {"name", 4, M_NAME},
           {"role", 4, M_ROLE}, {"jti", 3, M_JTI},          {"exp", 3, M_EXP},
           {"nbf", 3, M_NBF},   {"iat", 3, M_IAT},          {"iss", 3, M_ISS},
           {"aud", 3, M_AUD},   {"emailVerified", 13, M_EV}};
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
    if (T[i].len == n && memcmp(T[i].name, k, n) == 0) return T[i].m;
  return M_OTHER;
}

static ghv_claim_kind *date_kind(fast_ctx *x, double **val) {
  switch (x->member) {
  case M_EXP:
    *val = &x->c->exp;
    return &x->c->exp_kind;
  case M_NBF:
    *val = &x->c->nbf;
    return &x->c->nbf_kind;
  case M_IAT:
    *val = &x->c->iat;
    return &x->c->iat_kind;
  default:
    return NULL;
  }
}

/* A value that is not a number where a NumericDate is read marks it invalid (as json_is_number
 * would); depth 1 only. */
static void non_number(fast_ctx *x) {
  double *val;
  ghv_claim_kind *k = x->depth == 1 ? date_kind(x, &val) : NULL;
  if (k) *k = GHV_CLAIM_OTHER;
}

static int on_null(void *ctx) {
  fast_ctx *x = ctx;
  if (x->depth != 1 && x->depth != 2) return 0;
  non_number(x);
  return 1;
}

static int on_boolean(void *ctx, int b) {
  fast_ctx *x = ctx;
  if (x->depth != 1 && x->depth != 2) return 0;
  non_number(x);
  if (x->depth == 1 && x->member == M_EV && b) x->c->email_verified = true;
  return 1;
}

/* -?(0|[1-9][0-9]*) within int64, as jansson reads an integer; anything else: give up. */
static int on_number(void *ctx, const char *s, size_t n) {
  fast_ctx *x = ctx;
  if (x->depth != 1 && x->depth != 2) return 0;
  size_t i = s[0] == '-' ? 1 : 0;
  if (n <= i || n - i > 19 || (s[i] == '0' && n - i > 1)) return 0;
  for (size_t k = i; k < n; k++)
    if (s[k] < '0' || s[k] > '9') return 0;
  char buf[24];
  memcpy(buf, s, n);
  buf[n] = 0;
  errno = 0;
  long long ll = strtoll(buf, NULL, 10);
  if (errno) return 0;
  double *val;
  ghv_claim_kind *k = x->depth == 1 ? date_kind(x, &val) : NULL;
  if (k) {
    *k = GHV_CLAIM_NUMBER;
    *val = (double)ll; /* what json_number_value gives for a json_integer */
  }
  return 1;
}

static int keep(fast_ctx *x, char **dst, const char *s, size_t n) {
  if (!(*dst = ghv_internal_strndup(s, n))) {
    x->nomem = true;
    return 0;
  }
  return 1;
}

static int on_string(void *ctx, const unsigned char *us, size_t n) {
  fast_ctx *x = ctx;
  const char *s = (const char *)us;
  if (x->depth != 1 && x->depth != 2) return 0;
  if (!gh_utf8_valid(s, n)) return 0;
  non_number(x);
  if (x->depth == 2) {
    if (x->member == M_AUD && str_equal(s, n, x->v->expected_audience)) x->c->aud_ok = true;
    return 1;
  }
  ghv_claims *c = x->c;
  switch (x->member) {
  case M_SUB:
    c->sub_len = n;
    return keep(x, &c->sub, s, n);
  case M_EMAIL:
    return keep(x, &c->email, s, n);
  case M_NAME:
    return keep(x, &c->name, s, n);
  case M_ROLE:
    return keep(x, &c->role, s, n);
  case M_JTI:
    return keep(x, &c->jti, s, n);
  case M_ISS:
    c->iss_ok = str_equal(s, n, x->v->expected_issuer);
    return 1;
  case M_AUD:
    c->aud_ok = str_equal(s, n, x->v->expected_audience);
    return 1;
  default:
    return 1;
  }
}

static int on_start_map(void *ctx) {
  fast_ctx *x = ctx;
  if (x->depth != 0) return 0; /* an object inside the claims: jansson decides */
  x->depth = 1;
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *uk, size_t n) {
  fast_ctx *x = ctx;
  const char *k = (const char *)uk;
  if (x->depth != 1 || x->nkeys == FAST_MAX_KEYS) return 0;
  /* without a backslash in the text yajl hands out keys in place; check it all the same */
  if (k < x->text || n > x->len || k > x->text + (x->len - n)) return 0;
  if (!gh_utf8_valid(k, n)) return 0;
  for (size_t i = 0; i < x->nkeys; i++)
    if (x->key_len[i] == n && memcmp(x->key[i], k, n) == 0) return 0; /* a duplicate */
  x->key[x->nkeys] = k;
  x->key_len[x->nkeys++] = n;
  x->member = member_of(k, n);
  return 1;
}

/* The object's end stops the parse (the caller checks that only whitespace follows: yajl lets
 * an unterminated string after the value pass as "more input to come", even at the end). */
static int on_end_map(void *ctx) {
  fast_ctx *x = ctx;
  if (x->depth == 1) x->depth = 3;
  return 0;
}

static int on_start_array(void *ctx) {
  fast_ctx *x = ctx;
  if (x->depth != 1) return 0; /* an array at the top or inside an array */
  non_number(x);
  x->depth = 2;
  return 1;
}

static int on_end_array(void *ctx) {
  fast_ctx *x = ctx;
  if (x->depth != 2) return 0;
  x->depth = 1;
  return 1;
}

static const yajl_callbacks FAST_CALLBACKS = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number, /* the raw text: integers and doubles alike */
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* yajl's few allocations (the handle, its lexer, buffers and state stack: ~460 bytes on this
 * path, which never nests deeper than an array in the object, plus 2048 for a token cut by the
 * end of the text) come from a buffer on the stack; past it (not reached) from malloc. */
typedef struct {
  _Alignas(max_align_t) unsigned char mem[ARENA_BYTES];
  size_t used;
} arena;

typedef struct {
  size_t size;
  _Alignas(max_align_t) unsigned char data[];
} arena_block;

static bool in_arena(const arena *a, const void *p) {
  return (const unsigned char *)p >= a->mem && (const unsigned char *)p < a->mem + sizeof a->mem;
}

static void *arena_malloc(void *ctx, size_t n) {
  arena *a = ctx;
  size_t need = sizeof(arena_block) +
                (n + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t);
  if (n <= ARENA_BYTES && need <= sizeof a->mem - a->used) {
    arena_block *b = (arena_block *)(a->mem + a->used);
    a->used += need;
    b->size = n;
    return b->data;
  }
  return malloc(n);
}

static void arena_free(void *ctx, void *p) {
  if (p && !in_arena(ctx, p)) free(p);
}

static void *arena_realloc(void *ctx, void *p, size_t n) {
  if (!p) return arena_malloc(ctx, n);
  if (!in_arena(ctx, p)) return realloc(p, n);
  const arena_block *b = (const arena_block *)((unsigned char *)p - offsetof(arena_block, data));
  void *q = arena_malloc(ctx, n);
  if (q) memcpy(q, p, b->size < n ? b->size : n);
  return q;
}

ghv_status ghv_internal_claims_read_fast(ghv_verifier *v, const char *json, size_t len,
                                         ghv_claims *out) {
  memset(out, 0, sizeof *out);
  if (len == 0 || len > FAST_MAX_TEXT || memchr(json, '\\', len) || memchr(json, 0x0B, len) ||
      memchr(json, 0x0C, len))
    return GHV_ERR_MALFORMED; /* undecided */
  fast_ctx x = {.v = v, .c = out, .text = json, .len = len};
  arena ar;
  ar.used = 0;
  yajl_alloc_funcs af = {
      .malloc = arena_malloc, .realloc = arena_realloc, .free = arena_free, .ctx = &ar};
  yajl_handle h = yajl_alloc(&FAST_CALLBACKS, &af, &x);
  if (!h) return GHV_ERR_NOMEM;
  yajl_status ys = yajl_parse(h, (const unsigned char *)json, len);
  size_t end = yajl_get_bytes_consumed(h); /* just after the object's '}' when it stopped there */
  yajl_free(h);
  bool done = ys == yajl_status_client_canceled && x.depth == 3 && end <= len;
  for (size_t i = end; done && i < len; i++)
    done = json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r';
  if (done) return GHV_OK;
  ghv_internal_claims_clear(out);
  return x.nomem ? GHV_ERR_NOMEM : GHV_ERR_MALFORMED;
}

ghv_status ghv_internal_claims_read(ghv_verifier *v, const char *json, size_t len,
                                    ghv_claims *out) {
  ghv_status st = ghv_internal_claims_read_fast(v, json, len, out);
  if (st == GHV_OK || st == GHV_ERR_NOMEM) return st;
  return ghv_internal_claims_read_jansson(v, json, len, out);
}
