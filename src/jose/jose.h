/* JOSE on OpenSSL 3 EVP: JWK import/export and generation, JWS signatures for EdDSA (Ed25519),
 * ES256 (P-256), ES512 (P-521), RS256 and PS256 (RSA >= 2048 bits), compact JWS helpers.
 *
 * No JSON library here: callers pass JWK members as strings, and JWK exports are JSON text built
 * by this module (every member is a base64url string, so nothing needs escaping). Nothing here
 * aborts or uses the server's arena: allocation failures come back as GH_ERR_NOMEM, because
 * libgatehouse-verify links this module too. A gh_jwk is immutable once built and may be used by
 * many threads at once. */
#ifndef GH_JOSE_JOSE_H
#define GH_JOSE_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

typedef enum {
  GH_JWA_UNKNOWN = 0, /* includes "none" and every HMAC algorithm: never accepted */
  GH_JWA_EDDSA,       /* Ed25519 (OKP) */
  GH_JWA_ES256,       /* ECDSA P-256 + SHA-256, raw R||S (64 bytes) */
  GH_JWA_ES512,       /* ECDSA P-521 + SHA-512, raw R||S (132 bytes) */
  GH_JWA_RS256,       /* RSASSA-PKCS1-v1_5 + SHA-256 */
  GH_JWA_PS256,       /* RSASSA-PSS + SHA-256, MGF1-SHA-256, salt length 32 */
} gh_jwa;

/* Largest signature any supported key produces (RSA up to 8192 bits). */
#define GH_JWS_MAX_SIG 1024
#define GH_JWK_RSA_MIN_BITS 2048
#define GH_JWK_RSA_MAX_BITS 8192

/* Exact, case-sensitive JOSE name ("EdDSA", "ES256", ...); anything else -> GH_JWA_UNKNOWN. */
gh_jwa gh_jwa_parse(const char *name, size_t len);
const char *gh_jwa_name(gh_jwa alg); /* NULL for GH_JWA_UNKNOWN */
const char *gh_jwa_kty(gh_jwa alg);  /* "OKP", "EC", "RSA" */
const char *gh_jwa_crv(gh_jwa alg);  /* "Ed25519", "P-256", "P-521"; NULL for RSA */

/* JWK members as they appear in the JSON (base64url without padding); NULL when absent. */
typedef struct {
  const char *kty, *crv, *x, *y, *n, *e, *d, *p, *q, *dp, *dq, *qi;
} gh_jwk_members;

typedef struct gh_jwk gh_jwk;

/* Builds a key that will only ever sign/verify with alg. Checks: kty and crv agree with alg
 * (EdDSA: OKP/Ed25519; ES256: EC/P-256; ES512: EC/P-521; RS256/PS256: RSA), exact coordinate
 * lengths, EC points on the curve, RSA modulus between GH_JWK_RSA_MIN_BITS and
 * GH_JWK_RSA_MAX_BITS with an odd public exponent >= 3 (of at most 64 bits, like OpenSSL). With d
 * (RSA: d, p, q, dp, dq, qi, all or none) it is a private key, without d a public one; a private
 * key must agree with its public members (Ed25519: x is derived from d; EC: d * G == (x, y);
 * RSA: n == p * q). Members that do not belong to the key type are ignored, except crv on RSA.
 * Base64url members are strict (no padding, canonical). GH_ERR_INVALID for anything else;
 * GH_ERR_NOMEM. */
GH_MUST_CHECK gh_status gh_jwk_import(gh_jwa alg, const gh_jwk_members *m, gh_jwk **out);
/* Fresh private key from the CSPRNG (RSA: 2048 bits, e = 65537). */
GH_MUST_CHECK gh_status gh_jwk_generate(gh_jwa alg, gh_jwk **out);
void gh_jwk_free(gh_jwk *k); /* NULL is a no-op */
gh_jwa gh_jwk_alg(const gh_jwk *k);
bool gh_jwk_is_private(const gh_jwk *k);

/* JSON text of the JWK with members in the order jose's exportJWK() writes them (which is what
 * better-auth stores in jwks.publicKey / the encrypted privateKey):
 *   OKP: {"crv","d"?,"x","kty"}
 *   EC:  {"kty","x","y","crv","d"?}
 *   RSA: {"kty","n","e"} public; {"kty","n","e","d","p","q","dp","dq","qi"} private
 * with_private = false always gives the public JWK. No "alg" or "kid" member. malloc'd (caller
 * frees); NULL on allocation failure or when with_private is asked of a public key. */
char *gh_jwk_to_json(const gh_jwk *k, bool with_private);

/* Signature of input (the ASCII "b64url(header).b64url(payload)") with k's algorithm. k must be
 * private. *sig_len: in = capacity of sig (GH_JWS_MAX_SIG is always enough), out = length.
 * ECDSA signatures are raw R||S. GH_ERR_INVALID for a public key or a short buffer,
 * GH_ERR_CRYPTO when OpenSSL fails. */
GH_MUST_CHECK gh_status gh_jws_sign(const gh_jwk *k, const void *input, size_t len, uint8_t *sig,
                                    size_t *sig_len);
/* GH_OK when sig is a valid signature of input under k's own algorithm; GH_ERR_INVALID for a bad
 * signature or a signature of the wrong length (EdDSA 64 bytes, ECDSA exactly 2 * coordinate
 * length, RSA exactly the modulus length); GH_ERR_NOMEM. The caller checks that the token's "alg"
 * is gh_jwk_alg(k). Safe on any input; no per-key state changes, so concurrent calls are fine. */
GH_MUST_CHECK gh_status gh_jws_verify(const gh_jwk *k, const void *input, size_t len,
                                      const uint8_t *sig, size_t sig_len);

/* Compact JWS: b64url(header_json) "." b64url(payload_json) "." b64url(signature), all without
 * padding. *out is malloc'd and NUL-terminated (caller frees). */
GH_MUST_CHECK gh_status gh_jws_compact_sign(const gh_jwk *k, const char *header_json,
                                            size_t header_len, const char *payload_json,
                                            size_t payload_len, char **out);

/* A compact JWS split into its parts, NOT verified. header and payload are the decoded JSON text
 * (malloc'd, NUL-terminated); sig is the decoded signature; signing_input_len is the length of
 * the "header.payload" prefix of the original token. */
typedef struct {
  char *header;
  size_t header_len;
  char *payload;
  size_t payload_len;
  uint8_t *sig;
  size_t sig_len;
  size_t signing_input_len;
  void *owned; /* gh_jws_split: the one allocation the parts live in (gh_jws_parts_free) */
} gh_jws_parts;

/* Splits token[0..len): exactly two dots, every part strict base64url without padding (no '=',
 * no whitespace, no other characters, unused low bits of the last character zero), non-empty
 * header, payload and signature, a signature of at most GH_JWS_MAX_SIG bytes, len <= max_len.
 * GH_ERR_TOO_LARGE over max_len, GH_ERR_INVALID when malformed, GH_ERR_NOMEM. On success the
 * caller calls gh_jws_parts_free(); on failure nothing is left to free. */
GH_MUST_CHECK gh_status gh_jws_split(const char *token, size_t len, size_t max_len,
                                     gh_jws_parts *out);
void gh_jws_parts_free(gh_jws_parts *p);

/* Bytes gh_jws_split_buf needs for a token of len bytes (every part decoded, two NULs). */
#define GH_JWS_SPLIT_BUF(len) ((len) / 4 * 3 + 16)
/* gh_jws_split without an allocation: the same checks and results, the parts decoded into
 * buf[0..cap) (header and payload NUL-terminated), which must hold GH_JWS_SPLIT_BUF(len) bytes
 * (GH_ERR_INVALID otherwise). The parts point into buf; nothing is to be freed. */
GH_MUST_CHECK gh_status gh_jws_split_buf(const char *token, size_t len, size_t max_len,
                                         uint8_t *buf, size_t cap, gh_jws_parts *out);

#endif
