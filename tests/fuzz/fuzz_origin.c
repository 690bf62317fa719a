/* libFuzzer harness: URL origins and trusted-origin matching (gh_url_origin, gh_origin_trusted,
 * gh_origins_add_list), safe callback paths (gh_safe_relative_path), client IPs (gh_client_ip).
 * Invariants: an origin re-parses to itself; trust is decided on the origin alone; an exactly
 * trusted origin equals a configured origin; a "safe" path starts with a single '/' and its path
 * part has no backslash, control character or encoded slash; a client IP is an IP address. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arena.h"
#include "http/http.h"
#include "http/origin.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gh_origins trusted;       /* wildcards and exact origins */
static gh_origins trusted_exact; /* exact origins only */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gh_origins_add_list(&trusted, "http://localhost:3000");
  gh_origins_add_list(&trusted, " https://app.example.com/ignored/path , *.preview.example.com,"
                                "https://*.corp.example, myapp://, exp://192.168.*.*:*/**, "
                                "http://[::1]:8080, https://t?st.example.org");
  gh_origins_add_list(&trusted_exact, "http://localhost:3000,https://app.example.com/x,"
                                      "HTTP://Example.COM:80,http://[::1]:8080");
  return 0;
}

static void check_origin(gh_arena *a, const char *url) {
  char *origin = NULL;
  if (gh_url_origin(a, url, &origin) != GH_OK) {
    if (gh_origin_trusted(&trusted_exact, a, url)) abort(); /* trust needs an origin */
    return;
  }
  if (!origin || !strstr(origin, "://")) abort();
  /* idempotence: the origin of an origin is itself */
  char *again = NULL;
  if (gh_url_origin(a, origin, &again) != GH_OK || strcmp(origin, again) != 0) abort();
  /* nothing after the authority: no path, query, fragment or userinfo */
  const char *auth = strstr(origin, "://") + 3;
  if (strpbrk(auth, "/?#@")) abort();
  /* lower-cased scheme */
  for (const char *p = origin; p < auth - 3; p++)
    if (isupper((unsigned char)*p)) abort();
  /* trust is a property of the origin */
  if (gh_origin_trusted(&trusted, a, url) != gh_origin_trusted(&trusted, a, origin)) abort();
  bool exact = false;
  for (size_t i = 0; i < trusted_exact.n; i++)
    if (strcasecmp(trusted_exact.patterns[i], origin) == 0) exact = true;
  if (gh_origin_trusted(&trusted_exact, a, url) != exact) abort();
}

static void check_relative_path(const char *s) {
  if (!gh_safe_relative_path(s)) return;
  if (s[0] != '/' || s[1] == '/' || s[1] == '\\') abort();
  for (const char *p = s; *p && *p != '?' && *p != '#'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c == 0x7f || c == '\\') abort();
    if (c == '%' && (strncasecmp(p, "%2f", 3) == 0 || strncasecmp(p, "%5c", 3) == 0)) abort();
  }
}

static void check_client_ip(gh_arena *a, const char *xff) {
  gh_kv headers[] = {{"x-forwarded-for", xff}};
  gh_req req = {.arena = a, .headers = headers, .nheaders = 1, .peer_ip = "10.0.0.1"};
  for (int production = 0; production < 2; production++) {
    const char *ip = gh_client_ip(a, &req, production);
    if (!ip) abort();
    if (!*ip) {
      if (!production) abort();
      continue;
    }
    struct in6_addr buf;
    if (inet_pton(AF_INET, ip, &buf) != 1 && inet_pton(AF_INET6, ip, &buf) != 1) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  gh_arena *a = gh_arena_new();

  check_origin(a, s);
  check_relative_path(s);
  check_client_ip(a, s);

  /* "<patterns>\n<url>": a fuzzed trustedOrigins list (short: glibc fnmatch backtracks) */
  char *nl = strchr(s, '\n');
  if (nl && nl - s <= 64) {
    *nl = 0;
    gh_origins o = {0};
    gh_origins_add_list(&o, s);
    for (size_t i = 0; i < o.n; i++)
      if (!o.patterns[i] || !*o.patterns[i] || strchr(o.patterns[i], ',')) abort();
    (void)gh_origin_trusted(&o, a, nl + 1);
    gh_origins_free(&o);
  }

  gh_arena_free(a);
  free(s);
  return 0;
}
