/* ghv-bench: ghv_verify_jwt verifications per second on one thread, for each algorithm, with a
 * static JWKS (ghv_set_jwks: no network) and the library's default configuration (the
 * verified-signature cache on).
 *   ninja -C <build> ghv-bench && <build>/ghv-bench [seconds [algorithm]]
 *
 * The algorithm rows are first-sight: every token is verified once and never seen before, each
 * with its own claims (a distinct user id) and so its own signature; tokens are signed in
 * batches before the clocks run, and only the verification calls (ghv_verify_jwt +
 * ghv_principal_clear) are timed, for `seconds` (default 2) of verification wall time (slow
 * signers, RSA and ES512, stop earlier: at most 3 x seconds of total time, at least one batch).
 * "per CPU-s" is verifications per second of the verifying thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), i.e. per core whatever else the machine runs.
 * "EdDSA (bad sig)": first-sight tokens with one signature byte flipped (refused once the
 * signature fails: what the checks before it cost). "EdDSA, repeat": one token again and again
 * (a hit of the verified-signature cache; every claim is still checked).
 * "EdDSA (signature only)": gh_jws_verify alone (libsodium's crypto_sign_verify_detached by
 * default) on the signatures of the EdDSA row's tokens, batch by batch in the same minutes: the
 * ceiling of the EdDSA row, and the ratio of the two rows holds up on a loaded machine.
 * With an algorithm argument only that algorithm's first-sight row is printed (for a profiler:
 * valgrind --tool=callgrind --toggle-collect=ghv_verify_jwt --toggle-collect=ghv_principal_clear
 * build/ghv-bench 0.01 EdDSA; the counts then cover BATCH + WARMUP calls). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatehouse/verify.h"
#include "jose/jose.h"

#define ISS "http://localhost:3000"
#define BATCH 500  /* tokens signed, then verified, per round */
#define WARMUP 200 /* first-sight verifications before the clocks run */

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

/* A better-auth-shaped token (the whole user object in the claims) for user number `serial`:
 * the same length for every serial, a different payload (and so signature) for each. */
static char *make_token(const gh_jwk *k, const char *hdr, long t, unsigned long serial,
                        bool break_sig) {
  char id[33];
  snprintf(id, sizeof id, "q0sVSC1kUXM5iOHW%016lu", serial);
  char claims[1024];
  snprintf(claims, sizeof claims,
           "{\"iat\":%ld,\"name\":\"Ann Example\",\"email\":\"ann@example.com\","
           "\"emailVerified\":true,\"image\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\","
           "\"updatedAt\":\"2026-01-01T00:00:00.000Z\",\"role\":\"user\",\"banned\":false,"
           "\"id\":\"%s\",\"sub\":\"%s\",\"exp\":%ld,\"iss\":\"" ISS "\",\"aud\":\"" ISS "\"}",
           t, id, id, t + 3600);
  char *tok = NULL;
  if (gh_jws_compact_sign(k, hdr, strlen(hdr), claims, strlen(claims), &tok) != GH_OK) return NULL;
  if (break_sig) {
    size_t len = strlen(tok);
    tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
  }
  return tok;
}

typedef struct {
  long n;
  double wall, cpu;
  size_t len;
} tally;

/* Signs `count` new tokens (untimed), then verifies each once; adds to *out when `timed`. With
 * `floor`, the same tokens' signatures are then checked alone (gh_jws_verify: the signature
 * library and nothing else) into *floor, in the same minutes and so under the same load. */
static int batch(ghv_verifier *v, const gh_jwk *k, const char *hdr, long t, unsigned long *serial,
                 int count, bool break_sig, bool timed, tally *out, tally *floor) {
  char *toks[BATCH];
  size_t lens[BATCH];
  int rc = 1, made = 0;
  for (; made < count; made++) {
    if (!(toks[made] = make_token(k, hdr, t, (*serial)++, break_sig))) goto done;
    lens[made] = strlen(toks[made]);
  }
  ghv_status want = break_sig ? GHV_ERR_SIGNATURE : GHV_OK;
  double t0 = now_s(), c0 = cpu_s();
  for (int i = 0; i < count; i++) {
    ghv_principal p;
    if (ghv_verify_jwt(v, toks[i], lens[i], &p) != want) goto done;
    ghv_principal_clear(&p);
  }
  double c1 = cpu_s(), t1 = now_s();
  if (timed) {
    out->n += count;
    out->wall += t1 - t0;
    out->cpu += c1 - c0;
    out->len = lens[0];
  }
  if (floor) {
    static gh_jws_parts parts[BATCH];
    for (int i = 0; i < count; i++)
      if (gh_jws_split(toks[i], lens[i], lens[i], &parts[i]) != GH_OK) goto done;
    t0 = now_s();
    c0 = cpu_s();
    bool ok = true;
    for (int i = 0; i < count; i++)
      ok &= gh_jws_verify(k, toks[i], parts[i].signing_input_len, parts[i].sig, parts[i].sig_len) ==
            GH_OK;
    c1 = cpu_s();
    t1 = now_s();
    for (int i = 0; i < count; i++) gh_jws_parts_free(&parts[i]);
    if (!ok) goto done;
    floor->n += count;
    floor->wall += t1 - t0;
    floor->cpu += c1 - c0;
    floor->len = lens[0];
  }
  rc = 0;
done:
  for (int i = 0; i < made; i++) free(toks[i]);
  return rc;
}

typedef enum { FIRST_SIGHT, BAD_SIG, REPEAT } row_kind;

static void row(const char *label, const tally *tl) {
  printf("| %-22s | %7zu | %7ld | %12.0f | %9.1f | %12.0f |\n", label, tl->len, tl->n,
         (double)tl->n / tl->wall, tl->wall / (double)tl->n * 1e6, (double)tl->n / tl->cpu);
}

/* with_floor: also the row of the signature check alone (see batch) */
static int run(gh_jwa alg, double seconds, row_kind kind, bool with_floor) {
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
  ghv_config c;
  ghv_config_init(&c); /* the defaults: the verified-signature cache is on */
  c.issuer_url = ISS;  /* never contacted: the JWKS is static */
  if (ghv_new(&c, &v) != GHV_OK || ghv_set_jwks(v, jwks, strlen(jwks)) != GHV_OK) goto done;
  tally tl = {0}, fl = {0};
  unsigned long serial = 0;
  if (kind == REPEAT) {
    if (!(tok = make_token(k, hdr, t, serial, false))) goto done;
    size_t len = strlen(tok);
    for (int i = 0; i < WARMUP; i++) { /* the first call verifies, the others hit the cache */
      ghv_principal p;
      if (ghv_verify_jwt(v, tok, len, &p) != GHV_OK) goto done;
      ghv_principal_clear(&p);
    }
    double t0 = now_s(), c0 = cpu_s();
    do {
      for (int i = 0; i < 1000; i++, tl.n++) {
        ghv_principal p;
        if (ghv_verify_jwt(v, tok, len, &p) != GHV_OK) goto done;
        ghv_principal_clear(&p);
      }
      tl.wall = now_s() - t0;
    } while (tl.wall < seconds);
    tl.cpu = cpu_s() - c0;
    tl.len = len;
  } else {
    bool bad = kind == BAD_SIG;
    if (batch(v, k, hdr, t, &serial, WARMUP, bad, false, &tl, NULL)) goto done;
    double start = now_s();
    do {
      if (batch(v, k, hdr, t, &serial, BATCH, bad, true, &tl, with_floor ? &fl : NULL)) goto done;
    } while (tl.wall < seconds && now_s() - start < 3 * seconds);
  }
  if (with_floor) {
    char label[64];
    snprintf(label, sizeof label, "%s (signature only)", gh_jwa_name(alg));
    row(label, &fl);
  }
  row(kind == BAD_SIG  ? "EdDSA (bad sig)"
      : kind == REPEAT ? "EdDSA, repeat"
                       : gh_jwa_name(alg),
      &tl);
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
  printf("ghv_verify_jwt, one thread, static JWKS, default configuration (verified-signature\n"
         "cache on), %.1f s of verification per row. Algorithm rows: first sight (every token\n"
         "new, its own signature, signed before the clocks run); \"repeat\": the same token again\n"
         "(a cache hit, claims still checked); \"per CPU-s\": verifications per second of the\n"
         "verifying thread's CPU time (= per core)\n\n",
         seconds);
  printf("| %-22s | %7s | %7s | %12s | %9s | %12s |\n", "algorithm", "token B", "tokens",
         "verify/s", "us/verify", "per CPU-s");
  printf("|------------------------|---------|---------|--------------|-----------|--------------|"
         "\n");
  int rc = 0;
  const char *only = argc > 2 ? argv[2] : NULL; /* one algorithm, e.g. for a profiler */
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
    if (!only || strcmp(only, gh_jwa_name(algs[i])) == 0)
      rc |= run(algs[i], seconds, FIRST_SIGHT, !only && algs[i] == GH_JWA_EDDSA);
  if (!only) {
    rc |= run(GH_JWA_EDDSA, seconds, BAD_SIG, false);
    rc |= run(GH_JWA_EDDSA, seconds, REPEAT, false);
  }
  return rc;
}
