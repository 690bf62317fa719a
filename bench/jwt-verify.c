/* ghv-bench: ghv_verify_jwt verifications per second on one thread, for each algorithm, with a
 * static JWKS (ghv_set_jwks: no network). Each row: a fresh key, its JWKS, one better-auth-shaped
 * token (whole user object in the claims), a warm-up, then verifications for BENCH_SECONDS
 * (default 2) of wall time.
 *   ninja -C <build> ghv-bench && <build>/ghv-bench [seconds [algorithm]]
 * Also a row "EdDSA (parse only)" that stops after the signature fails (a flipped signature
 * byte) to show what the checks around the signature cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatehouse/verify.h"
#include "jose/jose.h"

#define ISS "http://localhost:3000"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) {
  return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: verifications per CPU second = per core, whatever else the machine
 * runs (wall time counts the time the thread waited for a core). */
static double cpu_s(void) {
  return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static int run(gh_jwa alg, double seconds, bool break_sig, bool repeat_cache) {
  gh_jwk *k = NULL;
  ghv_verifier *v = NULL;
  char *pub = NULL, *tok = NULL;
  int rc = 1;
  if (gh_jwk_generate(alg, &k) != GH_OK || !(pub = gh_jwk_to_json(k, false))) goto done;
  char jwks[4096];
  snprintf(jwks, sizeof jwks, "{\"keys\":[{\"kid\":\"bench-key\",\"alg\":\"%s\",%s]}",
           gh_jwa_name(alg), pub + 1);
  char hdr[128];
  snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"bench-key\"}", gh_jwa_name(alg));
  long t = (long)time(NULL);
  char claims[1024];
  snprintf(
      claims, sizeof claims,
      "{\"iat\":%ld,\"name\":\"Ann Example\",\"email\":\"ann@example.com\","
      "\"emailVerified\":true,\"image\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\","
      "\"updatedAt\":\"2026-01-01T00:00:00.000Z\",\"role\":\"user\",\"banned\":false,"
      "\"id\":\"q0sVSC1kUXM5iOHWkaQxgMDJ8d2tXRtQ\",\"sub\":\"q0sVSC1kUXM5iOHWkaQxgMDJ8d2tXRtQ\","
      "\"exp\":%ld,\"iss\":\"" ISS "\",\"aud\":\"" ISS "\"}",
      t, t + 3600);
  if (gh_jws_compact_sign(k, hdr, strlen(hdr), claims, strlen(claims), &tok) != GH_OK) goto done;
  size_t len = strlen(tok);
  if (break_sig) tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
  ghv_config c;
  ghv_config_init(&c);
  c.issuer_url = ISS; /* never contacted: the JWKS is static */
  /* Without the cache every call verifies the signature: the cost of a token seen the first
   * time. With it, the same token again (what a resource server mostly sees). */
  c.signature_cache_entries = repeat_cache ? 4096 : 0;
  if (ghv_new(&c, &v) != GHV_OK || ghv_set_jwks(v, jwks, strlen(jwks)) != GHV_OK) goto done;
  ghv_status want = break_sig ? GHV_ERR_SIGNATURE : GHV_OK;
  for (int i = 0; i < 200; i++) { /* warm-up */
    ghv_principal p;
    if (ghv_verify_jwt(v, tok, len, &p) != want) goto done;
    ghv_principal_clear(&p);
  }
  long n = 0;
  double t0 = now_s(), c0 = cpu_s(), el;
  do {
    for (int i = 0; i < 100; i++, n++) {
      ghv_principal p;
      if (ghv_verify_jwt(v, tok, len, &p) != want) goto done;
      ghv_principal_clear(&p);
    }
    el = now_s() - t0;
  } while (el < seconds);
  char label[64];
  snprintf(label, sizeof label, "%s%s", break_sig ? "EdDSA (bad sig)" : gh_jwa_name(alg),
           repeat_cache ? ", repeat" : "");
  double cpu = cpu_s() - c0;
  printf("| %-22s | %7zu | %12.0f | %9.1f | %12.0f |\n", label, len, (double)n / el,
         el / (double)n * 1e6, (double)n / cpu);
  rc = 0;
done:
  if (rc) fprintf(stderr, "ghv-bench: %s failed\n", gh_jwa_name(alg));
  ghv_free(v);
  free(tok);
  free(pub);
  gh_jwk_free(k);
  return rc;
}

int main(int argc, char **argv) {
  double seconds = 2.0;
  const char *env = getenv("BENCH_SECONDS");
  if (argc > 1) env = argv[1];
  if (env) {
    char *end;
    double d = strtod(env, &end);
    if (*end || d <= 0 || d > 600) {
      fprintf(stderr, "usage: ghv-bench [seconds [algorithm]]\n");
      return 2;
    }
    seconds = d;
  }
  static const gh_jwa algs[] = {GH_JWA_EDDSA, GH_JWA_ES256, GH_JWA_ES512, GH_JWA_RS256,
                                GH_JWA_PS256};
  printf("ghv_verify_jwt, one thread, static JWKS, %.1f s per row; \"repeat\": the same token\n"
         "again with the verified-signature cache on (claims still checked); \"per CPU-s\":\n"
         "verifications per second of the thread's CPU time (= per core)\n\n",
         seconds);
  printf("| %-22s | %7s | %12s | %9s | %12s |\n", "algorithm", "token B", "verify/s", "us/verify",
         "per CPU-s");
  printf("|------------------------|---------|--------------|-----------|--------------|\n");
  int rc = 0;
  const char *only = argc > 2 ? argv[2] : NULL; /* one algorithm, e.g. for a profiler */
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
    if (!only || strcmp(only, gh_jwa_name(algs[i])) == 0) rc |= run(algs[i], seconds, false, false);
  if (!only) {
    rc |= run(GH_JWA_EDDSA, seconds, true, false);
    rc |= run(GH_JWA_EDDSA, seconds, false, true);
  }
  return rc;
}
