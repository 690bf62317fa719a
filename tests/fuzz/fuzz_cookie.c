/* libFuzzer harness: Cookie header parsing (gh_cookie_get) and signed cookie values
 * (gh_cookie_verify), the path every session cookie of a request takes.
 * Invariants: a verified value is the part before the last dot; gh_cookie_verify(sign(x)) == x;
 * the percent-encoded signed value read back from a Cookie header is the signed value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/arena.h"
#include "common/encoding.h"
#include "crypto/cookie_sign.h"
#include "http/cookie.h"

#define SECRET "test-secret-that-is-long-enough-0123456789abcdef"
#define NAME "better-auth.session_token"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (sodium_init() < 0) abort();
  return 0;
}

/* A verified value must be exactly the bytes before the last dot of the signed value. */
static void check_verify(gh_arena *a, const char *secret, const char *signed_value) {
  char *value = (char *)1;
  gh_status st = gh_cookie_verify(a, secret, signed_value, &value);
  if (st != GH_OK) {
    if (value != NULL) abort(); /* *value_out is cleared on failure */
    return;
  }
  const char *dot = strrchr(signed_value, '.');
  if (!dot || !value || strlen(value) != (size_t)(dot - signed_value) || strlen(value) == 0 ||
      memcmp(value, signed_value, strlen(value)) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1); /* exact size: ASan catches reads past the NUL */
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  gh_arena *a = gh_arena_new();

  /* 1. The input as a whole Cookie header, then its session cookie verified. */
  const char *names[] = {NAME, "__Secure-better-auth.session_token", "better-auth.dont_remember",
                         "a", ""};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const char *v = gh_cookie_get(a, s, names[i]);
    if (v) check_verify(a, SECRET, v);
  }

  /* 2. The input as a signed value (what a Cookie or Bearer header carries once decoded). */
  check_verify(a, SECRET, s);
  check_verify(a, "", s);

  /* 3. sign -> verify round trip, directly and through a Cookie header. */
  size_t n = strlen(s);
  char *signed_value = gh_cookie_sign(a, SECRET, s);
  if (!signed_value || strlen(signed_value) != n + 1 + 44 || memcmp(signed_value, s, n) != 0)
    abort();
  char *value = NULL;
  gh_status st = gh_cookie_verify(a, SECRET, signed_value, &value);
  if (n == 0) {
    if (st == GH_OK) abort(); /* empty values are rejected */
  } else if (st != GH_OK || !value || strcmp(value, s) != 0) {
    abort();
  }
  if (n > 0 && gh_cookie_verify(a, "another-secret", signed_value, &value) == GH_OK) abort();
  char *hdr = gh_arena_printf(a, "x=1; %s=%s; y=2", NAME, gh_uri_encode_component(a, signed_value));
  const char *got = gh_cookie_get(a, hdr, NAME);
  /* decodeURIComponent fails (URIError) when the bytes are not UTF-8: better-call drops it. */
  if (gh_utf8_valid(s, n)) {
    if (!got || strcmp(got, signed_value) != 0) abort();
  } else if (got) {
    abort();
  }

  gh_arena_free(a);
  free(s);
  return 0;
}
