#include "http/origin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <uriparser/Uri.h>

#include "common/encoding.h"
#include "common/strlist.h"

static size_t range_len(const UriTextRangeA *r) {
  return r->first && r->afterLast ? (size_t)(r->afterLast - r->first) : 0;
}

gh_status gh_url_origin(gh_arena *a, const char *url, char **origin) {
  if (!url || !*url || strlen(url) > 8192) return GH_ERR_INVALID;
  UriUriA u;
  const char *err;
  if (uriParseSingleUriA(&u, url, &err) != URI_SUCCESS) return GH_ERR_INVALID;
  gh_status st = GH_ERR_INVALID;
  size_t sl = range_len(&u.scheme), hl = range_len(&u.hostText), pl = range_len(&u.portText);
  if (sl == 0 || hl == 0 || pl > 5) goto out;
  char *scheme = gh_arena_strndup(a, u.scheme.first, sl);
  char *host = gh_arena_strndup(a, u.hostText.first, hl);
  for (char *p = scheme; *p; p++) *p = (char)tolower((unsigned char)*p);
  for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
  char *port = pl ? gh_arena_strndup(a, u.portText.first, pl) : NULL;
  for (char *p = port; p && *p; p++)
    if (!isdigit((unsigned char)*p)) goto out;
  if (port && ((!strcmp(scheme, "http") && !strcmp(port, "80")) ||
               (!strcmp(scheme, "https") && !strcmp(port, "443"))))
    port = NULL; /* default ports are not part of the origin */
  bool v6 = u.hostData.ip6 != NULL || u.hostData.ipFuture.first != NULL;
  *origin = gh_arena_printf(a, "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
                            port ? ":" : "", port ? port : "");
  st = GH_OK;
out:
  uriFreeUriMembersA(&u);
  return st;
}

void gh_origins_add_list(gh_origins *o, const char *list) {
  if (!list) return;
  const char *p = list;
  while (*p) {
    while (*p == ',' || isspace((unsigned char)*p)) p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *te = e;
    while (te > p && isspace((unsigned char)te[-1])) te--;
    if (te > p) {
      char *entry = strndup(p, (size_t)(te - p));
      if (!entry) gh_oom();
      if (!strpbrk(entry, "*?")) { /* exact: reduce to an origin when it parses as a URL */
        gh_arena *a = gh_arena_new();
        char *org;
        if (gh_url_origin(a, entry, &org) == GH_OK) {
          free(entry);
          entry = gh_xstrdup(org);
        }
        gh_arena_free(a);
      }
      char **np = realloc(o->patterns, (o->n + 1) * sizeof *np);
      if (!np) gh_oom();
      o->patterns = np;
      o->patterns[o->n++] = entry;
    }
    p = e;
  }
}

void gh_origins_free(gh_origins *o) {
  for (size_t i = 0; i < o->n; i++) free(o->patterns[i]);
  free(o->patterns);
  o->patterns = NULL;
  o->n = 0;
}

bool gh_origin_trusted(const gh_origins *o, gh_arena *a, const char *url) {
  char *origin;
  if (!url || gh_url_origin(a, url, &origin) != GH_OK) return false;
  const char *host = strstr(origin, "://");
  host = host ? host + 3 : origin;
  for (size_t i = 0; i < o->n; i++) {
    const char *pat = o->patterns[i];
    if (strpbrk(pat, "*?")) {
      const char *subject = strstr(pat, "://") ? origin : host;
      if (fnmatch(pat, subject, FNM_CASEFOLD) == 0) return true;
    } else if (strcasecmp(pat, origin) == 0) {
      return true;
    }
  }
  return false;
}

bool gh_safe_relative_path(const char *s) {
  if (!s || s[0] != '/' || s[1] == '/' || s[1] == '\\') return false;
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
    if (c == '%' && p[1] && p[2]) {
      if ((p[1] == '2' && (p[2] == 'f' || p[2] == 'F')) ||
          (p[1] == '5' && (p[2] == 'c' || p[2] == 'C')))
        return false;
    }
    if (c == '?' || c == '#') break; /* only the path matters */
  }
  return true;
}

const char *gh_client_ip(gh_arena *a, const gh_req *r, bool production) {
  const char *fallback = production ? "" : "127.0.0.1";
  const char *xff = gh_req_header(r, "X-Forwarded-For");
  if (!xff) return fallback;
  while (isspace((unsigned char)*xff)) xff++;
  size_t n = strlen(xff);
  while (n && isspace((unsigned char)xff[n - 1])) n--;
  if (n == 0 || n > 64 || memchr(xff, ',', n)) return fallback;
  char *ip = gh_arena_strndup(a, xff, n);
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, ip, &v4) == 1) return ip;
  if (inet_pton(AF_INET6, ip, &v6) == 1) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN];
    if (memcmp(v6.s6_addr, mapped, 12) == 0) {
      memcpy(&v4, v6.s6_addr + 12, 4);
      inet_ntop(AF_INET, &v4, buf, sizeof buf);
      return gh_arena_strdup(a, buf);
    }
    /* better-auth's normalizeIP: the /64 subnet, written as eight 4-digit groups */
    const unsigned char *b = v6.s6_addr;
    return gh_arena_printf(a, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:0000:0000:0000:0000", b[0], b[1],
                           b[2], b[3], b[4], b[5], b[6], b[7]);
  }
  return fallback;
}

/* text → sockaddr (IPv4 or IPv6, optionally in brackets); false when it is no address */
static bool parse_addr(const char *p, size_t n, struct sockaddr_storage *ss, char *text,
                       size_t textlen) {
  if (n >= 2 && p[0] == '[' && p[n - 1] == ']') p++, n -= 2;
  if (n == 0 || n >= textlen) return false;
  memcpy(text, p, n);
  text[n] = 0;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return true;
  }
  return false;
}

const char *gh_client_address(gh_arena *a, const gh_req *r, const gh_cidr_list *trusted,
                              const char *header) {
  const char *peer = r->peer_ip ? r->peer_ip : "";
  if (!trusted || !trusted->n || !header || !*header) return peer;
  struct sockaddr_storage ss;
  char text[INET6_ADDRSTRLEN + 2];
  if (!parse_addr(peer, strlen(peer), &ss, text, sizeof text) ||
      !gh_cidr_match(trusted, (struct sockaddr *)&ss))
    return peer; /* only a trusted proxy's word about the client counts */
  const char *h = gh_req_header(r, header);
  if (!h || strlen(h) > 4096) return peer;
  /* the hops, left (client) to right (the proxy nearest to us) */
  const char *items[64];
  size_t lens[64], n = 0, len;
  const char *cur = h, *it;
  while (gh_list_next(&cur, &it, &len))
    if (n < 64) {
      items[n] = it;
      lens[n++] = len;
    }
  const char *client = NULL;
  for (size_t i = n; i-- > 0;) { /* from the right, through trusted proxies only */
    if (!parse_addr(items[i], lens[i], &ss, text, sizeof text)) break;
    client = gh_arena_strdup(a, text);
    if (!gh_cidr_match(trusted, (struct sockaddr *)&ss)) break;
  }
  return client ? client : peer;
}
