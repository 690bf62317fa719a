#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/envconf.h"
#include "common/log.h"
#include "common/strlist.h"

#define O(f) offsetof(tasks_config, f)
enum { GATEHOUSE_URL_OPT = 3 }; /* its index in OPTS */
static const gh_conf_opt OPTS[] = {
    {"TASKS_HOST", NULL, GH_CONF_STR, "127.0.0.1", 0, 0, 0, O(host), "Listen address"},
    {"TASKS_PORT", NULL, GH_CONF_INT, "8000", 0, 65535, 0, O(port),
     "Listen port (0 = any free port)"},
    {"TASKS_DATABASE_URL", NULL, GH_CONF_STR, "sqlite:./var/tasks.db", 0, 0, GH_CONF_DB_URL,
     O(database_url),
     "sqlite:PATH or postgres://user:pass@host:port/db (the tasks table is created at start)"},
    [GATEHOUSE_URL_OPT] = {"GATEHOUSE_URL", NULL, GH_CONF_STR, "http://localhost:3000", 0, 0, 0,
                           O(gatehouse_url),
                           "Base URL of the gatehouse server (the issuer). Unset: "
                           "GATEHOUSE_BASE_URL, else http://localhost:PORT, as gatehouse's"},
    {"TASKS_JWKS_URL", NULL, GH_CONF_STR, "", 0, 0, 0, O(jwks_url),
     "JWKS URL (empty = GATEHOUSE_URL + /api/auth/jwks)"},
    {"TASKS_SESSION_URL", NULL, GH_CONF_STR, "", 0, 0, 0, O(session_url),
     "get-session URL for delegation (empty = GATEHOUSE_URL + /api/auth/get-session)"},
    {"TASKS_JWT_ISSUER", NULL, GH_CONF_STR, "", 0, 0, 0, O(jwt_issuer),
     "Expected JWT iss (empty = the origin of GATEHOUSE_URL)"},
    {"TASKS_JWT_AUDIENCE", NULL, GH_CONF_STR, "", 0, 0, 0, O(jwt_audience),
     "Expected JWT aud (empty = the origin of GATEHOUSE_URL)"},
    {"TASKS_AUTH", NULL, GH_CONF_STR, "jwt", 0, 0, 0, O(auth),
     "jwt (Bearer JWT only), session (delegation to get-session only) or any (a three-part "
     "bearer is a JWT, anything else is delegated)"},
    {"TASKS_CORS_ORIGIN", NULL, GH_CONF_STR, "", 0, 0, 0, O(cors_origin),
     "Comma list of browser origins allowed by CORS, e.g. http://localhost:5173 (empty = none)"},
    {"TASKS_CORS_MAX_AGE", NULL, GH_CONF_INT, "600", 0, 86400, 0, O(cors_max_age),
     "Access-Control-Max-Age of preflight answers, in seconds"},
    {"TASKS_SESSION_CACHE_TTL", NULL, GH_CONF_INT, "0", 0, 60, 0, O(session_cache_ttl),
     "Seconds a delegated session answer is cached (0 = ask gatehouse on every request)"},
    {"TASKS_JWT_LEEWAY", NULL, GH_CONF_INT, "30", 0, 300, 0, O(jwt_leeway),
     "Clock skew allowed on exp/nbf/iat, in seconds"},
    {"TASKS_JWT_ALLOW_MISSING_KID", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(jwt_allow_missing_kid),
     "Accept a JWT without kid when one published key has its alg (for issuers other than "
     "gatehouse, which always sets kid)"},
    {"TASKS_HTTP_TIMEOUT_MS", NULL, GH_CONF_INT, "3000", 100, 60000, 0, O(http_timeout_ms),
     "Timeout of every call to gatehouse (JWKS, get-session), in milliseconds"},
    {"TASKS_MAX_BODY", NULL, GH_CONF_INT, "65536", 1024, 16777216, 0, O(max_body),
     "Request body limit in bytes (413 above)"},
    {"TASKS_HTTP_THREADS", NULL, GH_CONF_INT, "0", 0, 256, 0, O(http_threads),
     "HTTP threads (0 = number of cores)"},
    {"TASKS_WORKERS", NULL, GH_CONF_INT, "0", 0, 1024, 0, O(workers),
     "Worker threads running the API handlers (auth + database; 0 = 4 x cores)"},
    {"TASKS_WORKER_QUEUE", NULL, GH_CONF_INT, "256", 1, 100000, 0, O(worker_queue),
     "Requests waiting for a worker before 503 + Retry-After"},
    {"TASKS_MAX_CONNECTIONS", NULL, GH_CONF_INT, "1000", 16, 1000000, 0, O(conn_limit),
     "Concurrent connection limit"},
    {"TASKS_LOG_LEVEL", NULL, GH_CONF_STR, "info", 0, 0, 0, O(log_level),
     "debug, info, warn or error"},
    {"TASKS_SERVICE_TOKEN", NULL, GH_CONF_STR, NULL, 0, 0, GH_CONF_SECRET, O(service_token),
     "gatehouse's GATEHOUSE_SERVICE_TOKEN: `x-api-key` is accepted, checked with gatehouse's "
     "api-key verify route (unset = API keys are refused)"},
    {"TASKS_API_KEY_URL", NULL, GH_CONF_STR, "", 0, 0, 0, O(api_key_url),
     "API-key verify URL (empty = GATEHOUSE_URL + /api/auth/api-key/verify)"},
    {"TASKS_API_KEY_CACHE_TTL", NULL, GH_CONF_INT, "5", 0, 60, 0, O(api_key_cache_ttl),
     "Seconds a valid API key is remembered (0 = ask gatehouse on every request; each ask is one "
     "use of the key)"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static char errbuf[512];

static bool http_url(const char *s) {
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static void trim_slashes(char *s) {
  size_t n = strlen(s);
  while (n > 8 && s[n - 1] == '/') s[--n] = 0;
}

/* TASKS_CORS_ORIGIN: comma list of origins (scheme://host[:port], no path, no trailing slash). */
static gh_status parse_origins(tasks_config *c, const char **err) {
  c->origins = gh_xcalloc(gh_list_count(c->cors_origin), sizeof *c->origins);
  const char *cursor = c->cors_origin, *s;
  size_t len;
  while (gh_list_next(&cursor, &s, &len)) {
    const char *e = s + len;
    while (e > s && e[-1] == '/') e--;
    if (e > s) {
      char *o = strndup(s, (size_t)(e - s));
      if (!o) gh_oom();
      const char *rest = strstr(o, "://");
      if (!http_url(o) || !rest || !rest[3] || strchr(rest + 3, '/')) {
        snprintf(errbuf, sizeof errbuf,
                 "TASKS_CORS_ORIGIN: expected origins like http://localhost:5173, got \"%s\"", o);
        free(o);
        *err = errbuf;
        return GH_ERR_CONFIG;
      }
      c->origins[c->norigins++] = o;
    }
  }
  return GH_OK;
}

gh_status tasks_config_load(tasks_config *c, const char **err) {
  memset(c, 0, sizeof *c);
  if (gh_conf_load(OPTS, NOPTS, c, errbuf, sizeof errbuf, err) != GH_OK) return GH_ERR_CONFIG;
  if (!strcmp(c->auth, "jwt"))
    c->auth_mode = TASKS_AUTH_JWT;
  else if (!strcmp(c->auth, "session"))
    c->auth_mode = TASKS_AUTH_SESSION;
  else if (!strcmp(c->auth, "any"))
    c->auth_mode = TASKS_AUTH_ANY;
  else {
    *err = "TASKS_AUTH: expected jwt, session or any";
    return GH_ERR_CONFIG;
  }
  if (!strcmp(gh_conf_source(&OPTS[GATEHOUSE_URL_OPT]), "default")) {
    /* unset: the gatehouse next to it, by gatehouse's own rule (its base URL, else its PORT) */
    const char *base = getenv("GATEHOUSE_BASE_URL");
    const char *port = getenv("PORT");
    char url[64];
    const char *derived = NULL;
    if (base && *base)
      derived = base;
    else if (port && *port && strlen(port) <= 5 && strspn(port, "0123456789") == strlen(port)) {
      snprintf(url, sizeof url, "http://localhost:%s", port);
      derived = url;
    }
    if (derived) {
      free(c->gatehouse_url);
      c->gatehouse_url = gh_xstrdup(derived);
    }
  }
  if (!http_url(c->gatehouse_url)) {
    *err = "GATEHOUSE_URL: expected an http:// or https:// URL";
    return GH_ERR_CONFIG;
  }
  trim_slashes(c->gatehouse_url);
  if (*c->jwks_url && !http_url(c->jwks_url)) {
    *err = "TASKS_JWKS_URL: expected an http:// or https:// URL";
    return GH_ERR_CONFIG;
  }
  if (*c->session_url && !http_url(c->session_url)) {
    *err = "TASKS_SESSION_URL: expected an http:// or https:// URL";
    return GH_ERR_CONFIG;
  }
  if (*c->api_key_url && !http_url(c->api_key_url)) {
    *err = "TASKS_API_KEY_URL: expected an http:// or https:// URL";
    return GH_ERR_CONFIG;
  }
  if (c->service_token && strlen(c->service_token) < 32) {
    *err = "TASKS_SERVICE_TOKEN: expected at least 32 characters (gatehouse's token)";
    return GH_ERR_CONFIG;
  }
  if (strncmp(c->database_url, "sqlite:", 7) && strncmp(c->database_url, "postgres://", 11) &&
      strncmp(c->database_url, "postgresql://", 13)) {
    *err = "TASKS_DATABASE_URL: expected sqlite:PATH or postgres://...";
    return GH_ERR_CONFIG;
  }
  if (!strcmp(c->database_url, "sqlite:") || !strcmp(c->database_url, "sqlite://")) {
    *err = "TASKS_DATABASE_URL: sqlite: needs a file path";
    return GH_ERR_CONFIG;
  }
  gh_log_level level;
  if (!gh_log_level_parse(c->log_level, &level)) {
    *err = "TASKS_LOG_LEVEL: expected debug, info, warn or error";
    return GH_ERR_CONFIG;
  }
  if (parse_origins(c, err) != GH_OK) return GH_ERR_CONFIG;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (c->http_threads == 0) c->http_threads = cores;
  if (c->workers == 0) c->workers = cores * 4 < 4 ? 4 : cores * 4;
  return GH_OK;
}

void tasks_config_print(const tasks_config *c, FILE *out) {
  gh_conf_print(OPTS, NOPTS, c, out, NULL);
}

void tasks_config_print_table(FILE *out) {
  gh_conf_print_table(OPTS, NOPTS, out, false);
}

void tasks_config_free(tasks_config *c) {
  for (size_t i = 0; i < c->norigins; i++) free(c->origins[i]);
  free(c->origins);
  c->origins = NULL;
  c->norigins = 0;
  gh_conf_free(OPTS, NOPTS, c);
}
