/* Outbound HTTP for OAuth (libcurl): discovery, JWKS, token and userinfo calls to identity
 * providers. Connect and total timeouts, TLS verification (system CAs, or a CA file), a response
 * size cap (the transfer is aborted past it), no redirects at all (better-auth's
 * fetchRefusingRedirects), https only except to loopback hosts (tests, a provider on the same
 * machine), no signals. Blocking: call it on the worker pool, never on an HTTP thread. Request
 * headers and bodies may carry secrets: they are wiped after the call and never logged. */
#ifndef GH_OAUTH_FETCH_H
#define GH_OAUTH_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct {
  long connect_timeout_ms;
  long timeout_ms;     /* whole transfer */
  size_t max_bytes;    /* response body cap */
  const char *ca_file; /* NULL: the system's CAs */
  const char *user_agent;
} gh_fetch_opts;

typedef struct {
  long status; /* HTTP status (0 when no response) */
  char *body;  /* on the arena, NUL-terminated */
  size_t len;
} gh_fetch_resp;

/* Before threads start (curl_global_init; counted: each init is matched by one cleanup). */
GH_MUST_CHECK gh_status gh_fetch_global_init(void);
void gh_fetch_global_cleanup(void);
/* true when url is https://, or http:// to a loopback host (localhost, 127.0.0.0/8, [::1]). */
bool gh_fetch_url_allowed(const char *url);
/* GET (body NULL) or POST of body (form-encoded unless a Content-Type header is given). headers:
 * NULL-terminated "Name: value" lines, may be NULL. GH_OK with any HTTP status;
 * GH_ERR_IO when the provider cannot be reached / times out / answers a redirect-less
 * transfer error; GH_ERR_TOO_LARGE past max_bytes; GH_ERR_INVALID for a URL that is not allowed. */
GH_MUST_CHECK gh_status gh_fetch(gh_arena *a, const gh_fetch_opts *o, const char *url,
                                 const char *const *headers, const char *body, gh_fetch_resp *out);

#endif
