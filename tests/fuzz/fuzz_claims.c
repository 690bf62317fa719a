/* libFuzzer harness: libgatehouse-verify's two readings of JWT claims (lib/verify/claims.c,
 * compiled into the harness). The input is the claims text. Invariants (abort() when broken): the
 * yajl fast path answers GHV_OK or "undecided" (GHV_ERR_MALFORMED); when it accepts, jansson's
 * reading (json_loadb with JSON_REJECT_DUPLICATES) accepts too with the same members; the combined
 * reading ghv_verify_jwt uses gives exactly jansson's answer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/verify.h"
#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ghv_verifier *v;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ghv_config c;
  ghv_config_init(&c);
  c.expected_issuer = "https://issuer.example";
  c.expected_audience = "https://issuer.example";
  if (ghv_new(&c, &v) != GHV_OK) abort();
  return 0;
}

static bool same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same(const ghv_claims *a, const ghv_claims *b) {
  return same_str(a->sub, b->sub) && a->sub_len == b->sub_len && same_str(a->email, b->email) &&
         same_str(a->name, b->name) && same_str(a->role, b->role) && same_str(a->jti, b->jti) &&
         a->exp_kind == b->exp_kind && a->nbf_kind == b->nbf_kind && a->iat_kind == b->iat_kind &&
         (a->exp_kind != GHV_CLAIM_NUMBER || a->exp == b->exp) &&
         (a->nbf_kind != GHV_CLAIM_NUMBER || a->nbf == b->nbf) &&
         (a->iat_kind != GHV_CLAIM_NUMBER || a->iat == b->iat) && a->iss_ok == b->iss_ok &&
         a->aud_ok == b->aud_ok && a->email_verified == b->email_verified;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  ghv_claims ref, fast, got;
  ghv_status rst = ghv_internal_claims_read_jansson(v, s, size, &ref);
  ghv_status fst = ghv_internal_claims_read_fast(v, s, size, &fast);
  ghv_status gst = ghv_internal_claims_read(v, s, size, &got);
  if (fst != GHV_OK && fst != GHV_ERR_MALFORMED) abort();
  if (fst == GHV_OK && (rst != GHV_OK || !same(&fast, &ref))) abort();
  if (gst != rst || (gst == GHV_OK && !same(&got, &ref))) abort();
  if (rst == GHV_OK) ghv_internal_claims_clear(&ref);
  if (fst == GHV_OK) ghv_internal_claims_clear(&fast);
  if (gst == GHV_OK) ghv_internal_claims_clear(&got);
  return 0;
}
