/* libFuzzer harness: the bearer plugin's Authorization header parsing (gh_bearer_token).
 * Invariants: a token is returned only for a "Bearer " header; a token from a signed value (one
 * with a dot) verifies; "Bearer " + sign(x) yields x back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/arena.h"
#include "crypto/cookie_sign.h"
#include "http/http.h"
#include "plugins/bearer.h"

#define SECRET "test-secret-that-is-long-enough-0123456789abcdef"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (sodium_init() < 0) abort();
  return 0;
}

static const char *bearer(gh_arena *a, const char *authorization) {
  gh_kv headers[] = {
      {"Content-Type", "application/json"},
      {"authorization", authorization},
      {"Authorization", "Bearer ignored-second-occurrence"},
  };
  gh_req req = {.arena = a,
                .method = "GET",
                .path = "/api/auth/get-session",
                .headers = headers,
                .nheaders = sizeof headers / sizeof *headers,
                .peer_ip = "127.0.0.1"};
  static const char *const secrets[] = {SECRET};
  return gh_bearer_token(a, &req, secrets, 1, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  gh_arena *a = gh_arena_new();

  /* 1. The input as the whole header value. */
  const char *tok = bearer(a, s);
  if (tok) {
    if (strncasecmp(s, "Bearer ", 7) != 0 || !*tok || strlen(tok) > 512) abort();
    /* the token is a trimmed / decoded / signature-stripped part of the header */
    if (strlen(tok) > strlen(s) - 7) abort();
  }

  /* 2. The input as the credential after "Bearer ". */
  char *hdr = gh_arena_printf(a, "Bearer %s", s);
  tok = bearer(a, hdr);
  if (tok && (!*tok || strlen(tok) > 512)) abort();

  /* 3. Round trip: the signed form of a raw token authenticates as that token. */
  size_t n = strlen(s);
  bool plain = n > 0 && n + 45 <= 512 && !strchr(s, '%') && s[0] != ' ' && s[n - 1] != ' ';
  if (plain) {
    char *signed_value = gh_cookie_sign(a, SECRET, s);
    tok = bearer(a, gh_arena_printf(a, "bearer  %s ", signed_value));
    if (!tok || strcmp(tok, s) != 0) abort();
    if (!strchr(s, '.')) { /* a raw token is passed through for the server to sign */
      tok = bearer(a, gh_arena_printf(a, "Bearer %s", s));
      if (!tok || strcmp(tok, s) != 0) abort();
    }
  }

  gh_arena_free(a);
  free(s);
  return 0;
}
