/* Forward auth (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth): GET
 * /api/auth/forward-auth answers 200 with the session's identity in X-Auth-User-Id, X-Auth-Email
 * and X-Auth-Role (when the user has a role field, i.e. with the admin plugin's fields) and, when
 * configured, a fresh JWT in X-Auth-Token; 401 without a valid session (or a 302 to the sign-in
 * page for a browser navigation, when configured); 403 when a per-path role rule refuses the
 * user's role.
 *
 * The identity comes only from the session cookie or the bearer session token (the credential
 * hooks, as for get-session): X-Auth-* headers of the request are never read. X-Forwarded-Method,
 * -Proto, -Host and -Uri (set by the proxy) describe the original request: its path is matched
 * against the role rules (after percent-decoding and removing dot segments and repeated slashes)
 * and the original URL is the sign-in redirect's callbackURL.
 *
 * Always runs (on by default, GATEHOUSE_FORWARD_AUTH=false turns it off): it reveals no more than
 * get-session does. It neither refreshes the session nor sets cookies (a proxy would not pass
 * them on). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/db.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "common/encoding.h"
#include "json/json.h"
#include "plugins/plugins.h"

#define MAX_RULES 64
#define MAX_PREFIX 256

typedef struct {
  bool enabled;
  char *sign_in_url;
  bool jwt;
  char *rules;
} fa_conf;

static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_FORWARD_AUTH", NULL, GH_CONF_BOOL, "true", 0, 0, 0, offsetof(fa_conf, enabled),
     "Serve GET /api/auth/forward-auth for nginx auth_request and Traefik/Caddy forward auth "
     "(reveals no more than get-session)"},
    {"GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL", NULL, GH_CONF_STR, "", 0, 0, 0,
     offsetof(fa_conf, sign_in_url),
     "Browser navigations without a session get a 302 to this URL (absolute, or a path) with "
     "callbackURL=<the original URL> instead of 401 (empty = always 401)"},
    {"GATEHOUSE_FORWARD_AUTH_JWT", NULL, GH_CONF_BOOL, "false", 0, 0, 0, offsetof(fa_conf, jwt),
     "Also answer a fresh JWT for the session in X-Auth-Token (needs the jwt plugin with "
     "GATEHOUSE_JWT_HEADER on, its default)"},
    {"GATEHOUSE_FORWARD_AUTH_RULES", NULL, GH_CONF_STR, "", 0, 0, 0, offsetof(fa_conf, rules),
     "Per-path role rules `PREFIX=role,role` separated by `;` (e.g. "
     "`/admin/=admin;/ops/=admin,ops`): the longest prefix of the original path that matches "
     "applies, a user without one of its roles gets 403"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static const gh_err_info ERRORS[] = {
    {403, "ROLE_NOT_ALLOWED", "Your role is not allowed to access this resource"},
};
#define E_ROLE (&ERRORS[0])

typedef struct {
  char prefix[MAX_PREFIX];
  size_t len;
  char roles[MAX_PREFIX]; /* "admin,ops" */
} rule;

typedef struct {
  gh_auth *au;
  bool enabled, jwt;
  const char *sign_in_url; /* borrowed from the conf (lives as long as the server) */
  rule *rules;
  size_t nrules;
} fwd;

/* Parses "PREFIX=role,role;PREFIX=role" into out (NULL: only validate). -1 on a malformed rule. */
static long parse_rules(const char *s, rule *out) {
  long n = 0;
  while (s && *s) {
    const char *end = strchr(s, ';');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len) {
      const char *eq = memchr(s, '=', len);
      if (!eq || eq == s || *s != '/' || (size_t)(eq - s) >= MAX_PREFIX) return -1;
      size_t pl = (size_t)(eq - s), rl = len - pl - 1;
      if (rl == 0 || rl >= MAX_PREFIX || n >= MAX_RULES) return -1;
      for (size_t i = 0; i < rl; i++) {
        char c = eq[1 + i];
        if (c <= ' ' || c == ';' || c == 0x7f) return -1;
      }
      for (size_t i = 0; i < pl; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return -1;
      if (out) {
        memcpy(out[n].prefix, s, pl);
        out[n].prefix[pl] = 0;
        out[n].len = pl;
        memcpy(out[n].roles, eq + 1, rl);
        out[n].roles[rl] = 0;
      }
      n++;
    }
    s = end ? end + 1 : NULL;
  }
  return n;
}

static gh_status validate(const void *conf, const char **err) {
  const fa_conf *c = conf;
  if (parse_rules(c->rules, NULL) < 0) {
    *err = "GATEHOUSE_FORWARD_AUTH_RULES: expected PREFIX=role,role rules separated by ;, PREFIX "
           "starting with / (e.g. /admin/=admin;/ops/=admin,ops), at most 64";
    return GH_ERR_CONFIG;
  }
  const char *u = c->sign_in_url;
  if (*u && strncmp(u, "http://", 7) && strncmp(u, "https://", 8) && *u != '/') {
    *err = "GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL: expected an http(s) URL or a path starting with /";
    return GH_ERR_CONFIG;
  }
  for (; *u; u++)
    if ((unsigned char)*u <= ' ' || *u == 0x7f) {
      *err = "GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL: no spaces or control characters";
      return GH_ERR_CONFIG;
    }
  return GH_OK;
}

static gh_status init(gh_auth *au, const void *conf, void **self) {
  const fa_conf *c = conf;
  fwd *f = gh_xcalloc(1, sizeof *f);
  f->au = au;
  f->enabled = c->enabled;
  f->jwt = c->jwt;
  f->sign_in_url = c->sign_in_url;
  long n = parse_rules(c->rules, NULL);
  if (n > 0) {
    f->rules = gh_xcalloc((size_t)n, sizeof *f->rules);
    f->nrules = (size_t)parse_rules(c->rules, f->rules);
  }
  *self = f;
  return GH_OK;
}

static void plugin_free(void *self) {
  fwd *f = self;
  if (!f) return;
  free(f->rules);
  free(f);
}

/* ---------------------------------------------------------------- the original request */

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

/* The original request's path, percent-decoded, without dot segments and repeated slashes (the
 * path a proxy such as nginx routes on). NULL when it cannot be decoded (rules then refuse). */
static char *normalized_path(gh_arena *a, const char *uri) {
  size_t n = strcspn(uri, "?#");
  if (n == 0 || uri[0] != '/') return NULL;
  char *dec;
  if (gh_uri_decode(a, uri, n, false, &dec) != GH_OK || has_ctl(dec)) return NULL;
  char *out = gh_arena_alloc(a, strlen(dec) + 2);
  size_t o = 0; /* out[0..o) is "/seg/seg" without a trailing slash ("" = the root) */
  bool trailing = false;
  for (const char *p = dec; *p;) {
    if (*p == '/') {
      p++;
      trailing = true;
      continue;
    }
    size_t sl = strcspn(p, "/");
    trailing = false;
    if (sl == 2 && p[0] == '.' && p[1] == '.') { /* drop the last segment */
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
      trailing = true;
    } else if (sl == 1 && p[0] == '.') {
      trailing = true;
    } else {
      out[o++] = '/';
      memcpy(out + o, p, sl);
      o += sl;
    }
    p += sl;
  }
  if (o == 0 || trailing) out[o++] = '/';
  out[o] = 0;
  return out;
}

static const char *header_or(const gh_req *req, const char *name, const char *dflt) {
  const char *v = gh_req_header(req, name);
  return v && *v ? v : dflt;
}

/* The rule of the longest prefix that matches path ("/admin/" also matches "/admin"). */
static const rule *rule_for(const fwd *f, const char *path) {
  const rule *best = NULL;
  size_t pl = strlen(path);
  for (size_t i = 0; i < f->nrules; i++) {
    const rule *r = &f->rules[i];
    bool hit = (pl >= r->len && memcmp(path, r->prefix, r->len) == 0) ||
               (r->len > 1 && r->prefix[r->len - 1] == '/' && pl == r->len - 1 &&
                memcmp(path, r->prefix, pl) == 0);
    if (hit && (!best || r->len > best->len)) best = r;
  }
  return best;
}

/* true when one of the user's roles (better-auth's admin: "admin,user") is one of the rule's. */
static bool role_allowed(const rule *r, const char *user_roles) {
  if (!user_roles) return false;
  const char *u = user_roles;
  while (*u) {
    while (*u == ' ' || *u == ',') u++;
    size_t ul = strcspn(u, ",");
    size_t t = ul;
    while (t && u[t - 1] == ' ') t--;
    if (t) {
      const char *q = r->roles;
      while (*q) {
        size_t ql = strcspn(q, ",");
        if (ql == t && memcmp(q, u, t) == 0) return true;
        q += ql;
        if (*q == ',') q++;
      }
    }
    u += ul;
  }
  return false;
}

/* A top-level browser navigation (worth a redirect to the sign-in page): GET or HEAD, and
 * Sec-Fetch-Mode: navigate, or without Sec-Fetch-* an Accept that asks for HTML. */
static bool browser_navigation(const gh_req *req) {
  const char *m = header_or(req, "X-Forwarded-Method", req->method);
  if (strcasecmp(m, "GET") && strcasecmp(m, "HEAD")) return false;
  const char *mode = gh_req_header(req, "Sec-Fetch-Mode");
  if (mode) return strcasecmp(mode, "navigate") == 0;
  const char *accept = gh_req_header(req, "Accept");
  return accept && strstr(accept, "text/html");
}

static bool host_ok(const char *h) {
  if (!*h || strlen(h) > 255) return false;
  for (; *h; h++)
    if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
          strchr(".-:[]_", *h)))
      return false;
  return true;
}

/* proto://host/uri of the original request from the X-Forwarded-* headers; NULL when they do not
 * make a URL. */
static const char *original_url(const gh_req *req) {
  const char *proto = header_or(req, "X-Forwarded-Proto", "http");
  const char *host = header_or(req, "X-Forwarded-Host", header_or(req, "Host", ""));
  const char *uri = header_or(req, "X-Forwarded-Uri", "/");
  if (strcmp(proto, "http") && strcmp(proto, "https")) return NULL;
  if (!host_ok(host) || uri[0] != '/' || uri[1] == '/' || has_ctl(uri) || strchr(uri, ' '))
    return NULL;
  return gh_arena_printf(req->arena, "%s://%s%s", proto, host, uri);
}

static void unauthenticated(const fwd *f, gh_req *req, gh_resp *resp) {
  if (*f->sign_in_url && browser_navigation(req)) {
    const char *url = original_url(req);
    const char *loc = f->sign_in_url;
    if (url)
      loc = gh_arena_printf(resp->arena, "%s%ccallbackURL=%s", loc, strchr(loc, '?') ? '&' : '?',
                            gh_uri_encode_component(resp->arena, url));
    gh_resp_header(resp, "Location", loc);
    gh_resp_empty(resp, 302, false);
    return;
  }
  gh_resp_header(resp, "WWW-Authenticate", "Bearer");
  gh_resp_error(resp, GH_E_UNAUTHORIZED);
}

/* ---------------------------------------------------------------- the route */

static bool header_named(const char *value, void *arg) {
  (void)value;
  (void)arg;
  return true;
}

static void route_forward_auth(void *self, gh_req *req, gh_resp *resp) {
  fwd *f = self;
  gh_resp_header(resp, "Cache-Control", "no-store");
  if (!f->enabled) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_sess s;
  gh_status rc = gh_session_resolve(f->au, st, req, &s);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "session_lookup");
    return;
  }
  if (!s.found) {
    unauthenticated(f, req, resp);
    return;
  }
  /* The user as get-session shows it: plugin fields (the admin plugin's role) appear there. */
  gh_json *user = gh_json_own(req->arena, gh_user_json(&s.u));
  const char *role = gh_json_string(gh_json_get(user, "role"));
  if (role && (!*role || has_ctl(role))) role = NULL;
  if (f->nrules) {
    const char *path = normalized_path(req->arena, header_or(req, "X-Forwarded-Uri", "/"));
    const rule *r = path ? rule_for(f, path) : NULL;
    if (!path || (r && !role_allowed(r, role))) {
      gh_auth_error(resp, E_ROLE);
      return;
    }
  }
  if (has_ctl(s.u.id) || has_ctl(s.u.email)) {
    gh_resp_error(resp, GH_E_UNAUTHORIZED); /* cannot be told in a header: fail closed */
    return;
  }
  if (f->jwt) {
    /* jwt's session_returned hook adds set-auth-jwt, as on get-session; it goes out as
     * X-Auth-Token only. */
    gh_auth_session_returned(f->au, st, req, resp, &s);
    const char *token = NULL;
    for (size_t i = 0; i < resp->nheaders; i++)
      if (!strcasecmp(resp->headers[i].name, "set-auth-jwt")) token = resp->headers[i].value;
    gh_resp_remove_header(resp, "set-auth-jwt", header_named, NULL);
    gh_resp_remove_header(resp, "Access-Control-Expose-Headers", header_named, NULL);
    if (token) gh_resp_header(resp, "X-Auth-Token", token);
  }
  gh_resp_header(resp, "X-Auth-User-Id", s.u.id);
  gh_resp_header(resp, "X-Auth-Email", s.u.email);
  if (role) gh_resp_header(resp, "X-Auth-Role", role);
  gh_resp_empty(resp, 200, false);
}

static const gh_route ROUTES[] = {
    {"GET", "/api/auth/forward-auth", route_forward_auth, 0, NULL},
};

/* It answers for every request a proxy lets through (a page and each of its assets), so
 * better-auth's default 100 per 10 s per client would refuse ordinary browsing: not limited, like
 * a static check of a 32-character random token it is (GATEHOUSE_RATE_LIMIT_RULES still can). */
static const gh_rate_rule RATE_RULES[] = {{"/forward-auth", 0, 0}};

const gh_plugin gh_plugin_forward_auth = {
    .id = "forward-auth",
    .summary = "`GET /api/auth/forward-auth` for nginx `auth_request` and Traefik/Caddy forward "
               "auth: 200 with X-Auth-User-Id, X-Auth-Email, X-Auth-Role (and optionally a JWT in "
               "X-Auth-Token) for a valid session, else 401 or a 302 to the sign-in page; "
               "optional per-path role rules",
    .always = true,
    .opts = OPTS,
    .nopts = NOPTS,
    .conf_size = sizeof(fa_conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = 1,
    .rate_rules = RATE_RULES,
    .nrate_rules = 1,
    .errors = ERRORS,
    .nerrors = 1,
};
