/* Trusted origins (better-auth trustedOrigins), safe callback URLs, client IP (spec §8.1, §8.3). */
#ifndef GH_HTTP_ORIGIN_H
#define GH_HTTP_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include "common/arena.h"
#include "common/status.h"
#include "http/cidr.h"
#include "http/http.h"

typedef struct {
  char **patterns; /* exact origins ("https://app.example.com") or wildcard patterns */
  size_t n;
} gh_origins;

/* Adds patterns from a comma-separated list (entries trimmed; exact URLs reduced to origins). */
void gh_origins_add_list(gh_origins *o, const char *list);
void gh_origins_free(gh_origins *o);
/* Origin ("scheme://host[:port]", lower-cased, default port dropped) of an absolute URL.
 * GH_ERR_INVALID when url is not an absolute http(s) (or custom scheme) URL. */
GH_MUST_CHECK gh_status gh_url_origin(gh_arena *a, const char *url, char **origin);
/* true when url's origin (or the origin string itself) matches a trusted pattern. */
bool gh_origin_trusted(const gh_origins *o, gh_arena *a, const char *url_or_origin);
/* better-auth's safe relative path: one leading '/', no '\\', no control chars, no encoded
 * '/' or '\\'. */
bool gh_safe_relative_path(const char *s);
/* Client IP per better-auth: a single-valued X-Forwarded-For with a valid IP (IPv4-mapped IPv6
 * reduced to IPv4, IPv6 reduced to its /64); otherwise "127.0.0.1" outside production and ""
 * (unknown) in production. */
const char *gh_client_ip(gh_arena *a, const gh_req *r, bool production);
/* The client's address for limits and logs: the socket peer, unless the peer is a trusted proxy
 * (GATEHOUSE_TRUSTED_PROXIES): then the header's hops (X-Forwarded-For by default) are walked
 * from the right through trusted proxies, and the first other one (or the leftmost, when all are
 * trusted) is the client. A hop that is no address ends the walk. Never "" : at worst the peer. */
const char *gh_client_address(gh_arena *a, const gh_req *r, const gh_cidr_list *trusted,
                              const char *header);

#endif
