/* libFuzzer harness: compact JWS parsing (gh_jws_split) and signature verification
 * (gh_jws_verify) for all five algorithms, the path every bearer JWT takes in a resource server.
 * Keys: the public JWKs of the jwt_plugin vectors (tests/vectors), imported once.
 * Invariants: a split token has exactly two dots, non-empty parts, and each part re-encodes to
 * exactly the original characters (strict, canonical base64url); max_len below the length gives
 * GH_ERR_TOO_LARGE; a token verifies under at most one of the keys; arbitrary bytes are never a
 * valid signature of a fixed message; compact_sign(header, payload) splits back to the same
 * parts and verifies. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "jose/jose.h"

#define MAX_TOKEN 8192

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
  gh_jwa alg;
  gh_jwk_members m;
  size_t sig_len;
} KEYS[] = {
    {GH_JWA_EDDSA,
     {.crv = "Ed25519", .x = "M0JIIuwS4xMBZPXk_I7fbCLj5jgVVAMJyB2SmpeDyDg", .kty = "OKP"},
     64},
    {GH_JWA_RS256,
     {.kty = "RSA",
      .n =
          "6ls82s7sNau5CI3RrL1okqf_gYqPaabyz2KEw8e0l-dNgVlY0Bapx_UAodejE4qXMqH4gOo84-eLp4YCePONe9l"
          "Nww9WzJzPTBz_LxyPe4zcerRZOb5mCeu6Xdaq_O-T_Vn7cxOv6xxxprqJgL7mvwX95Ibevct7kdRd894x4NP5c8T"
          "b9E0-e7m7UhHtB-WRy1Qes3-auwisOfK0y5qrR992cpeLId0wdDGRwOiOP4HsSCIloXw4y17xBK8PlWnGofFAdrz"
          "Lt8XiJ_3EExfKNBXSBOkjdK8LvSOBbHYeZKl3KK516K5ASqoc7FKVBXUiq1_qtMkrZ46ycWUNpQcErQ",
      .e = "AQAB"},
     256},
    {GH_JWA_ES256,
     {.kty = "EC",
      .x = "sp1YbbmByXuPU_t-qvcE8tO4zg3ohIR7ZD52L1Do1J8",
      .y = "R6hpRhVbD4dkhhkKjmWoWqIFDlpsqcHfjGeV4AmwaGo",
      .crv = "P-256"},
     64},
    {GH_JWA_ES512,
     {.kty = "EC",
      .x = "AbD4M9FNG2Yz86T6_0umMDjIorPnQ7vZXfTQDFzxu54Nyy748iitAHrc6x_zScxVGGoHlp07nBvhZ_"
           "mcJaIKpOvz",
      .y = "AaJxqcHd7WTX6IfBpl1MIbk5jlc5gF1POmQkW4Btm3eae7yjbNB6gy3gq67sFp_"
           "yS9uCGkBwHYvltubkyvq5CBFI",
      .crv = "P-521"},
     132},
    {GH_JWA_PS256,
     {.kty = "RSA",
      .n =
          "yOKXEoyrmGLYaSsIB4gAWfiLyCiIk9ipwhqs4itKeSApSfasKV_DyBnEOXWVJdqMG2XmGGiIZ3_aaXHWa7-d7oz"
          "z4DcjpONPzWb8ph8RZo5i-n60yTOrP4yFb_kNGjRVJqo3ogtjABeKRQudljLTOID_b7eUhxF0FDxBYsig6A7NuRy"
          "FjKD6KYmrkZpYkA0YxgfpRC30qapj9hoBogMqhP9uUUoTvVdcm71UVH_hq0lhMio_soILsDvw-F1F1hV7xmq_-KK"
          "UDob6ZU-bpAZ9ExDvbXPo5W04t0FMQ1fc_jtYP_7SuTLud76CBVT6fVLo2_TX9GvnhsE_NhmKeJBwNw",
      .e = "AQAB"},
     256},
};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

static gh_jwk *pub[NKEYS];
static gh_jwk *signer; /* a fresh Ed25519 key for the sign -> split -> verify round trip */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  for (size_t i = 0; i < NKEYS; i++)
    if (gh_jwk_import(KEYS[i].alg, &KEYS[i].m, &pub[i]) != GH_OK) abort();
  if (gh_jwk_generate(GH_JWA_EDDSA, &signer) != GH_OK) abort();
  return 0;
}

/* s[0..n) must be the canonical base64url of buf[0..len). */
static void check_reencodes(const char *s, size_t n, const void *buf, size_t len) {
  char *enc = malloc(GH_B64_LEN(len) + 1);
  if (!enc) abort();
  size_t m = gh_b64_encode(buf, len, enc, true, false);
  if (m != n || memcmp(enc, s, n) != 0) abort();
  free(enc);
}

static void check_parts(const char *tok, size_t size, const gh_jws_parts *p) {
  const char *d1 = memchr(tok, '.', size);
  if (!d1 || p->signing_input_len >= size || tok[p->signing_input_len] != '.') abort();
  size_t hlen = (size_t)(d1 - tok), plen = p->signing_input_len - hlen - 1;
  size_t slen = size - p->signing_input_len - 1;
  if (!hlen || !plen || !slen || memchr(d1 + 1, '.', plen) ||
      memchr(tok + p->signing_input_len + 1, '.', slen))
    abort();
  if (!p->header_len || !p->payload_len || !p->sig_len || p->sig_len > GH_JWS_MAX_SIG) abort();
  if (p->header[p->header_len] || p->payload[p->payload_len]) abort();
  check_reencodes(tok, hlen, p->header, p->header_len);
  check_reencodes(d1 + 1, plen, p->payload, p->payload_len);
  check_reencodes(tok + p->signing_input_len + 1, slen, p->sig, p->sig_len);
}

static void round_trip(const gh_jws_parts *p) {
  char *tok = NULL;
  if (gh_jws_compact_sign(signer, p->header, p->header_len, p->payload, p->payload_len, &tok) !=
      GH_OK)
    abort();
  gh_jws_parts q;
  size_t n = strlen(tok);
  if (gh_jws_split(tok, n, MAX_TOKEN * 2, &q) != GH_OK) abort();
  if (q.header_len != p->header_len || memcmp(q.header, p->header, p->header_len) ||
      q.payload_len != p->payload_len || memcmp(q.payload, p->payload, p->payload_len))
    abort();
  if (gh_jws_verify(signer, tok, q.signing_input_len, q.sig, q.sig_len) != GH_OK) abort();
  gh_jws_parts_free(&q);
  free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *tok = malloc(size ? size : 1); /* exact size: ASan catches reads past the end */
  if (!tok) return 0;
  memcpy(tok, data, size);

  gh_jws_parts p;
  if (size > 0 && gh_jws_split(tok, size, size - 1, &p) != GH_ERR_TOO_LARGE) abort();

  gh_status st = gh_jws_split(tok, size, MAX_TOKEN, &p);
  if (st == GH_OK) {
    check_parts(tok, size, &p);
    int valid = 0;
    for (size_t i = 0; i < NKEYS; i++) {
      gh_status v = gh_jws_verify(pub[i], tok, p.signing_input_len, p.sig, p.sig_len);
      if (v == GH_OK) {
        if (p.sig_len != KEYS[i].sig_len) abort();
        valid++;
      } else if (v != GH_ERR_INVALID) {
        abort();
      }
    }
    if (valid > 1) abort();
    if (p.header_len + p.payload_len <= 4096) round_trip(&p);
    gh_jws_parts_free(&p);
  } else if (st != GH_ERR_INVALID && !(st == GH_ERR_TOO_LARGE && size > MAX_TOKEN)) {
    abort();
  }

  /* The raw input (its tail) as a signature of a fixed message: never valid. */
  static const char msg[] = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6In0";
  for (size_t i = 0; i < NKEYS; i++) {
    if (size < KEYS[i].sig_len) continue;
    const uint8_t *sig = data + size - KEYS[i].sig_len;
    if (gh_jws_verify(pub[i], msg, sizeof msg - 1, sig, KEYS[i].sig_len) != GH_ERR_INVALID) abort();
  }
  free(tok);
  return 0;
}
