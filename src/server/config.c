#include "server/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/encoding.h"
#include "common/envconf.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/strlist.h"
#include "plugins/plugins.h"

#define T_STR GH_CONF_STR
#define T_INT GH_CONF_INT
#define T_BOOL GH_CONF_BOOL
#define F_SECRET GH_CONF_SECRET
#define F_DB_URL GH_CONF_DB_URL

#define O(f) offsetof(gh_config, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_PLUGINS", NULL, T_STR, GH_PLUGINS_DEFAULT, 0, 0, 0, O(plugins),
     "Plugins to run, in order: a comma list of better-auth plugin ids (see Plugins below), or "
     "`none`"},
    {"GATEHOUSE_SECRET", "BETTER_AUTH_SECRET", T_STR, NULL, 0, 0, F_SECRET, O(secret),
     "Signs cookies and tokens. Required (>= 32 bytes) in production; development generates "
     "var/dev-secret"},
    {"GATEHOUSE_SECRETS", "BETTER_AUTH_SECRETS", T_STR, NULL, 0, 0, F_SECRET, O(secrets),
     "Versioned secrets for rotation, newest first: `3:new,2:older` (better-auth format). The "
     "newest signs and encrypts; older ones still verify cookies (re-issued with the newest) and "
     "decrypt `$ba$<version>$` data. GATEHOUSE_SECRET, when also set, decrypts bare-hex data"},
    {"GATEHOUSE_BASE_URL", "BETTER_AUTH_URL", T_STR, "http://localhost:3000", 0, 0, 0, O(base_url),
     "Public URL of the server; https:// switches to __Secure- cookies. Unset: "
     "http://localhost:PORT"},
    {"DATABASE_URL", NULL, T_STR, "sqlite:./var/gatehouse.db", 0, 0, F_DB_URL, O(database_url),
     "sqlite:PATH or postgres://user:pass@host:port/db"},
    {"GATEHOUSE_HOST", NULL, T_STR, "127.0.0.1", 0, 0, 0, O(host), "Listen address"},
    {"PORT", NULL, T_INT, "3000", 0, 65535, 0, O(port), "Listen port"},
    {"GATEHOUSE_TRUSTED_ORIGINS", "BETTER_AUTH_TRUSTED_ORIGINS", T_STR, "", 0, 0, 0,
     O(trusted_origins), "Comma list of extra trusted origins (wildcards * and ? allowed)"},
    {"GATEHOUSE_CORS", NULL, T_BOOL, "true", 0, 0, 0, O(cors),
     "Answer CORS preflights and add CORS headers (with credentials) for trusted origins only, so "
     "a "
     "frontend on another trusted origin can call the API; false = no CORS (as better-auth alone)"},
    {"GATEHOUSE_ENV", NULL, T_STR, "development", 0, 0, 0, O(env),
     "development, production or test"},
    {"GATEHOUSE_SESSION_EXPIRES_IN", NULL, T_INT, "604800", 60, 34560000, 0, O(session_expires_in),
     "Session lifetime in seconds (7 days)"},
    {"GATEHOUSE_SESSION_UPDATE_AGE", NULL, T_INT, "86400", 0, 34560000, 0, O(session_update_age),
     "Seconds between rolling refreshes of a session (0 = every request)"},
    {"GATEHOUSE_SESSION_FRESH_AGE", NULL, T_INT, "86400", 0, 34560000, 0, O(session_fresh_age),
     "A session younger than this is fresh (list-sessions, delete-user); 0 disables the check"},
    {"GATEHOUSE_MAX_BODY", NULL, T_INT, "65536", 1024, 16777216, 0, O(max_body),
     "Request body limit in bytes (413 above)"},
    {"GATEHOUSE_MAX_HEADER_SIZE", NULL, T_INT, "16384", 1024, 65536, 0, O(max_header),
     "Limit in bytes on the request line and header fields together (431 above)"},
    {"GATEHOUSE_HTTP_THREADS", NULL, T_INT, "0", 0, 256, 0, O(http_threads),
     "HTTP threads (0 = number of cores)"},
    {"GATEHOUSE_HASH_WORKERS", NULL, T_INT, "0", 0, 256, 0, O(hash_workers),
     "Password-hashing workers (0 = number of cores)"},
    {"GATEHOUSE_HASH_QUEUE", NULL, T_INT, "16", 1, 100000, 0, O(hash_queue),
     "Requests waiting for a hashing worker before 503 + Retry-After"},
    {"GATEHOUSE_HASH_WAIT_MS", NULL, T_INT, "250", 0, 10000, 0, O(hash_wait_ms),
     "A sign-in/sign-up that finds the hashing queue full waits this long for a place (first "
     "come, first served) before 503 + Retry-After; 0 = 503 at once"},
    {"GATEHOUSE_SIGNIN_THROTTLE", NULL, T_STR, "auto", 0, 0, 0, O(signin_throttle),
     "Credential-stuffing throttle: after 5 failed sign-ins of one client address on one account "
     "(20 on any accounts) each further try waits 1 s, 2 s, 4 s ... (at most 15 min; 429); never "
     "locks the account for others. on, off, or auto (on in production)"},
    {"GATEHOUSE_HASH_PER_CLIENT", NULL, T_INT, "0", -1, 100000, 0, O(hash_per_client),
     "Sign-ins/sign-ups one client address may have queued or hashing at once; more get 503 at "
     "once, so one client cannot take the queue from the others (trusted proxies exempt). 0 = "
     "(workers + queue) / 4, at least 2; -1 = no limit"},
    {"GATEHOUSE_HASH_YIELD_RPS", NULL, T_INT, "1000", 0, 10000000, 0, O(hash_yield_rps),
     "While other requests arrive at this rate or more (per second), password hashing leaves a "
     "core to them: at most workers - 1 hashes at once (0 = never)"},
    {"GATEHOUSE_MAX_CONNECTIONS", NULL, T_INT, "1000", 16, 1000000, 0, O(conn_limit),
     "Concurrent connection limit"},
    {"GATEHOUSE_CONNECTION_TIMEOUT", NULL, T_INT, "30", 1, 3600, 0, O(conn_timeout),
     "Idle connection timeout in seconds (keep-alive)"},
    {"GATEHOUSE_MAX_CONNECTIONS_PER_IP", NULL, T_INT, "64", 0, 1000000, 0, O(per_ip_limit),
     "Concurrent connections from one client address (IPv6: one /64); more are refused at once. "
     "Trusted proxies are exempt; 0 = no limit"},
    {"GATEHOUSE_TRUSTED_PROXIES", NULL, T_STR, "", 0, 0, 0, O(trusted_proxies),
     "Comma list of proxy addresses or CIDR blocks (`127.0.0.1,10.0.0.0/8,::1`): exempt from "
     "GATEHOUSE_MAX_CONNECTIONS_PER_IP, and only their GATEHOUSE_IP_HEADER names the client for "
     "rate limits and logs"},
    {"GATEHOUSE_IP_HEADER", NULL, T_STR, "x-forwarded-for", 0, 0, 0, O(ip_header),
     "Header in which trusted proxies name the client (walked from the right through trusted "
     "proxies)"},
    {"GATEHOUSE_HEADER_TIMEOUT", NULL, T_INT, "10", 1, 3600, 0, O(header_timeout),
     "Seconds a client has to send a complete request head once connected (on a kept-alive "
     "connection: after the idle timeout); else the connection is closed"},
    {"GATEHOUSE_BODY_TIMEOUT", NULL, T_INT, "30", 1, 3600, 0, O(body_timeout),
     "Seconds a client has to send the whole request body once its head is in; else the "
     "connection is closed"},
    {"GATEHOUSE_LOG_LEVEL", NULL, T_STR, "info", 0, 0, 0, O(log_level),
     "debug, info, warn or error"},
    {"GATEHOUSE_DELETE_USER", NULL, T_BOOL, "true", 0, 0, 0, O(delete_user_enabled),
     "Enable POST /delete-user (404 when false)"},
    {"GATEHOUSE_REQUIRE_EMAIL_VERIFICATION", NULL, T_BOOL, "false", 0, 0, 0,
     O(require_email_verification),
     "Sign-in of a user whose e-mail is not verified answers 403 EMAIL_NOT_VERIFIED; sign-up "
     "answers token null (better-auth's emailAndPassword.requireEmailVerification)"},
    {"GATEHOUSE_AUTO_SIGN_IN", NULL, T_BOOL, "true", 0, 0, 0, O(auto_sign_in),
     "Sign-up signs the new user in (better-auth's emailAndPassword.autoSignIn); false: token "
     "null. "
     "When false or when verification is required, a sign-up with a taken e-mail answers 200 with "
     "a synthetic user (no enumeration)"},
    {"GATEHOUSE_MIN_PASSWORD_LENGTH", NULL, T_INT, "8", 1, 128, 0, O(min_password),
     "Minimum password length (UTF-16 units, as better-auth)"},
    {"GATEHOUSE_MAX_PASSWORD_LENGTH", NULL, T_INT, "128", 8, 4096, 0, O(max_password),
     "Maximum password length"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static char errbuf[256];

static const gh_conf_opt *opt_named(const char *env) {
  for (size_t i = 0; i < NOPTS; i++)
    if (!strcmp(OPTS[i].env, env)) return &OPTS[i];
  return &OPTS[0]; /* not reached: every caller names an option of the table */
}

/* GATEHOUSE_SECRETS: "<version>:<value>" entries separated by commas, newest first (better-auth's
 * BETTER_AUTH_SECRETS). Versions are distinct positive integers; values are trimmed. */
static gh_status parse_secrets(gh_config *c, const char **err) {
  size_t n = gh_list_count(c->secrets);
  c->secret_list = gh_xcalloc(n, sizeof *c->secret_list);
  const char *cursor = c->secrets;
  for (size_t i = 0; i < n; i++) { /* every item, empty ones too (an error) */
    const char *p = "";
    size_t len = 0;
    if (!gh_list_next(&cursor, &p, &len)) p = "";
    const char *end = p + len;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    char *num_end;
    errno = 0;
    long v = colon ? strtol(p, &num_end, 10) : 0;
    if (!colon || errno || num_end != colon || v < 1 || v > 1000000) {
      *err = "GATEHOUSE_SECRETS: expected <version>:<secret> entries separated by commas, e.g. "
             "2:new-secret,1:old-secret";
      return GH_ERR_CONFIG;
    }
    const char *val = colon + 1, *vend = end;
    while (val < vend && (*val == ' ' || *val == '\t')) val++;
    while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
    if (vend == val) {
      *err = "GATEHOUSE_SECRETS: empty secret value";
      return GH_ERR_CONFIG;
    }
    for (size_t k = 0; k < c->nsecret_list; k++)
      if (c->secret_list[k].version == (unsigned)v) {
        *err = "GATEHOUSE_SECRETS: duplicate version";
        return GH_ERR_CONFIG;
      }
    if (c->production && vend - val < 32) {
      *err = "GATEHOUSE_SECRETS: every secret must be at least 32 bytes long in production";
      return GH_ERR_CONFIG;
    }
    c->secret_list[c->nsecret_list].version = (unsigned)v;
    char *dup = strndup(val, (size_t)(vend - val));
    if (!dup) gh_oom();
    c->secret_list[c->nsecret_list].value = dup;
    c->nsecret_list++;
  }
  return GH_OK;
}

gh_status gh_config_load(gh_config *c, const char **err) {
  memset(c, 0, sizeof *c);
  if (gh_conf_load(OPTS, NOPTS, c, errbuf, sizeof errbuf, err) != GH_OK) return GH_ERR_CONFIG;
  if (strcmp(c->env, "development") && strcmp(c->env, "production") && strcmp(c->env, "test")) {
    *err = "GATEHOUSE_ENV: expected development, production or test";
    return GH_ERR_CONFIG;
  }
  c->production = strcmp(c->env, "production") == 0;
  if (c->secrets && parse_secrets(c, err) != GH_OK) return GH_ERR_CONFIG;
  if (c->production && (!c->secret || strlen(c->secret) < 32) && !c->nsecret_list) {
    *err = "GATEHOUSE_SECRET (or BETTER_AUTH_SECRET) must be set and at least 32 bytes long in "
           "production";
    return GH_ERR_CONFIG;
  }
  if (c->secret && strlen(c->secret) < 32)
    gh_log(GH_LOG_WARN, "config.weak_secret", "message",
           "GATEHOUSE_SECRET is shorter than 32 bytes; use a long random value", NULL);
  if (!strcmp(gh_conf_source(opt_named("GATEHOUSE_BASE_URL")), "default") && c->port != 3000) {
    /* unset: the URL this server is reached at on this machine follows PORT */
    char url[64];
    snprintf(url, sizeof url, "http://localhost:%ld", c->port);
    free(c->base_url);
    c->base_url = gh_xstrdup(url);
    if (c->production)
      gh_log(GH_LOG_WARN, "config.base_url", "message",
             "GATEHOUSE_BASE_URL is not set; using http://localhost:PORT. Set the public URL.",
             "base_url", url, NULL);
  }
  if (strncmp(c->base_url, "http://", 7) && strncmp(c->base_url, "https://", 8)) {
    *err = "GATEHOUSE_BASE_URL: expected an http:// or https:// URL";
    return GH_ERR_CONFIG;
  }
  size_t bl = strlen(c->base_url);
  while (bl > 8 && c->base_url[bl - 1] == '/') c->base_url[--bl] = 0;
  if (strncmp(c->database_url, "sqlite:", 7) && strncmp(c->database_url, "postgres://", 11) &&
      strncmp(c->database_url, "postgresql://", 13)) {
    *err = "DATABASE_URL: expected sqlite:PATH or postgres://...";
    return GH_ERR_CONFIG;
  }
  if (c->min_password > c->max_password) {
    *err = "GATEHOUSE_MIN_PASSWORD_LENGTH is greater than GATEHOUSE_MAX_PASSWORD_LENGTH";
    return GH_ERR_CONFIG;
  }
  const char *bad;
  size_t bad_len;
  if (gh_cidr_parse(c->trusted_proxies, &c->trusted_proxy_list, &bad, &bad_len) != GH_OK) {
    snprintf(errbuf, sizeof errbuf,
             "GATEHOUSE_TRUSTED_PROXIES: \"%.*s\" is not an IPv4/IPv6 address or CIDR block",
             (int)(bad_len > 64 ? 64 : bad_len), bad);
    *err = errbuf;
    return GH_ERR_CONFIG;
  }
  if (strcmp(c->signin_throttle, "auto") && strcmp(c->signin_throttle, "on") &&
      strcmp(c->signin_throttle, "off")) {
    *err = "GATEHOUSE_SIGNIN_THROTTLE: expected on, off or auto";
    return GH_ERR_CONFIG;
  }
  gh_log_level level;
  if (!gh_log_level_parse(c->log_level, &level)) {
    *err = "GATEHOUSE_LOG_LEVEL: expected debug, info, warn or error";
    return GH_ERR_CONFIG;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (c->http_threads == 0) c->http_threads = cores;
  if (c->hash_workers == 0) c->hash_workers = cores;
  if (c->hash_per_client == 0) {
    c->hash_per_client = (c->hash_workers + c->hash_queue) / 4;
    if (c->hash_per_client < 2) c->hash_per_client = 2;
  }
  return GH_OK;
}

static int mkdirs(const char *dir) {
  char tmp[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof tmp) return -1;
  memcpy(tmp, dir, n + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
      *p = '/';
    }
  }
  if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
  return 0;
}

gh_status gh_config_dev_secret(gh_config *c, const char **err) {
  if ((c->secret && *c->secret) || c->nsecret_list) return GH_OK;
  if (c->production) {
    *err = "GATEHOUSE_SECRET is required in production";
    return GH_ERR_CONFIG;
  }
  /* var/ next to the SQLite file, else ./var */
  char dir[4096] = "./var";
  if (!strncmp(c->database_url, "sqlite:", 7) && strcmp(c->database_url, "sqlite::memory:")) {
    const char *path = c->database_url + 7;
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof dir) {
      memcpy(dir, path, (size_t)(slash - path));
      dir[slash - path] = 0;
    } else if (!slash) {
      snprintf(dir, sizeof dir, ".");
    }
  }
  if (mkdirs(dir)) {
    *err = "cannot create the directory for the development secret";
    return GH_ERR_IO;
  }
  char file[4200];
  snprintf(file, sizeof file, "%s/dev-secret", dir);
  char buf[129] = {0};
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, 128);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    if (n < 32) {
      *err = "the development secret file is shorter than 32 bytes; delete it to regenerate";
      return GH_ERR_CONFIG;
    }
  } else {
    unsigned char raw[32];
    gh_rand_bytes(raw, sizeof raw);
    gh_hex_encode(raw, sizeof raw, buf);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, 64) != 64) {
      if (fd >= 0) close(fd);
      *err = "cannot write the development secret file";
      return GH_ERR_IO;
    }
    close(fd);
  }
  c->secret = gh_xstrdup(buf);
  c->secret_generated = true;
  gh_log(GH_LOG_WARN, "config.dev_secret", "message",
         "NO GATEHOUSE_SECRET CONFIGURED: using a generated development secret stored in "
         "dev-secret next to the database. Set GATEHOUSE_SECRET for any real deployment.",
         "file", file, NULL);
  return GH_OK;
}

/* check-config's text for the secrets (the rest is the engine's default rendering). */
static const char *describe(const gh_conf_opt *o, const void *base, char *buf, size_t len) {
  const gh_config *c = base;
  if (o->off == offsetof(gh_config, secret))
    return !c->secret            ? "(not set)"
           : c->secret_generated ? "**** (generated development secret)"
                                 : "****";
  if (o->off == offsetof(gh_config, secrets) && c->secrets) {
    int k = snprintf(buf, len, "%zu versions:", c->nsecret_list);
    for (size_t j = 0; j < c->nsecret_list && k > 0 && (size_t)k < len; j++)
      k += snprintf(buf + k, len - (size_t)k, " %u:****", c->secret_list[j].version);
    return buf;
  }
  return NULL;
}

void gh_config_print(const gh_config *c, FILE *out) {
  gh_conf_print(OPTS, NOPTS, c, out, describe);
}

void gh_config_print_table(FILE *out) {
  gh_conf_print_table(OPTS, NOPTS, out, true);
}

void gh_config_free(gh_config *c) {
  for (size_t i = 0; i < c->nsecret_list; i++) {
    memset(c->secret_list[i].value, 0, strlen(c->secret_list[i].value));
    free(c->secret_list[i].value);
  }
  free(c->secret_list);
  c->secret_list = NULL;
  gh_cidr_free(&c->trusted_proxy_list);
  c->nsecret_list = 0;
  gh_conf_free(OPTS, NOPTS, c);
}
