/* Rate limiting, as better-auth's core rate limiter (spec §8.2): per client address and path under
 * /api/auth, 100 requests per 10 s by default, 3 per 10 s on sign-in, sign-up, change-password and
 * change-email, 3 per 60 s on the e-mail sending routes; a counter resets only after a quiet gap
 * of a whole window (better-auth's decideConsume). Over the limit: 429
 * {"message":"Too many requests. Please try again later."} with X-Retry-After (seconds).
 *
 * On by default only in production (GATEHOUSE_RATE_LIMIT=auto), like better-auth. Counters live in
 * memory (one instance), bounded: at most MAX_ENTRIES keys; when full, expired keys are dropped
 * and a new key is refused a counter (the request is served, and counted in the log). With
 * GATEHOUSE_RATE_LIMIT_STORAGE=database they live in better-auth's "rateLimit" table (its
 * storage: "database"), so that several instances on one database share them: one atomic upsert
 * per request; rows quiet for longer than the longest window are deleted once a minute. A
 * database that cannot be reached answers 503, as every route that needs it does.
 *
 * The client address is the socket peer, or, when the peer is a trusted proxy
 * (GATEHOUSE_TRUSTED_PROXIES), the client its GATEHOUSE_IP_HEADER names (IPv6 reduced to its
 * /64). Deliberate differences from better-auth: an X-Forwarded-For from anyone else is ignored
 * (better-auth believes a single-valued one from anybody), and an unknown address never lands
 * every client in one shared bucket. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/audit.h"
#include "auth/db.h"
#include "auth/plugin.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/strlist.h"
#include "common/time.h"
#include "plugins/plugins.h"

#define BASE "/api/auth"
#define STRIPES 64
#define BUCKETS 4096 /* per stripe */
#define MAX_ENTRIES 100000

typedef struct {
  char *mode; /* auto | on | off */
  long window;
  long max;
  char *rules;
  char *storage; /* memory | database */
} rl_conf;

#define O(f) offsetof(rl_conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_RATE_LIMIT", NULL, GH_CONF_STR, "auto", 0, 0, 0, O(mode),
     "Rate limiting per client address and path: on, off, or auto (on when GATEHOUSE_ENV is "
     "production, as better-auth)"},
    {"GATEHOUSE_RATE_LIMIT_WINDOW", NULL, GH_CONF_INT, "10", 1, 86400, 0, O(window),
     "Default window in seconds"},
    {"GATEHOUSE_RATE_LIMIT_MAX", NULL, GH_CONF_INT, "100", 1, 1000000, 0, O(max),
     "Default requests per window and client address and path"},
    {"GATEHOUSE_RATE_LIMIT_RULES", NULL, GH_CONF_STR, "", 0, 0, 0, O(rules),
     "Per-path rules before the built-in ones: `PATH=WINDOW/MAX` or `PATH=off`, comma-separated; "
     "PATH under /api/auth, a trailing `*` matches a prefix (`/sign-in/*=60/5,/get-session=off`)"},
    {"GATEHOUSE_RATE_LIMIT_STORAGE", NULL, GH_CONF_STR, "memory", 0, 0, 0, O(storage),
     "Where the counters live: `memory` (one instance) or `database` (better-auth's `rateLimit` "
     "table, shared by every instance on the database; needs `gatehouse migrate`)"},
};

static const gh_store_migration MIGRATIONS[] = {
    {"rate-limit/001_rateLimit",
     "create table if not exists \"rateLimit\" (\"id\" text not null primary key, \"key\" text "
     "not null unique, \"count\" integer not null, \"lastRequest\" bigint not null)",
     "create table if not exists \"rateLimit\" (\"id\" text not null primary key, \"key\" text "
     "not null unique, \"count\" integer not null, \"lastRequest\" bigint not null)"},
};

/* decideConsume as one statement: a new key starts at 1; after a quiet window the counter starts
 * again; under the limit it counts; at the limit the update is skipped and no row comes back. */
static const gh_query Q_CONSUME = {
    "rate_limit_consume",
    "insert into \"rateLimit\" (\"id\", \"key\", \"count\", \"lastRequest\") values (?1, ?2, 1, "
    "?3) "
    "on conflict (\"key\") do update set \"count\" = case when ?3 - \"rateLimit\".\"lastRequest\" "
    ">= ?4 then 1 else \"rateLimit\".\"count\" + 1 end, \"lastRequest\" = ?3 where ?3 - "
    "\"rateLimit\".\"lastRequest\" >= ?4 or \"rateLimit\".\"count\" < ?5 returning \"count\"",
    "insert into \"rateLimit\" (\"id\", \"key\", \"count\", \"lastRequest\") values ($1, $2, 1, "
    "$3) "
    "on conflict (\"key\") do update set \"count\" = case when $3 - \"rateLimit\".\"lastRequest\" "
    ">= $4 then 1 else \"rateLimit\".\"count\" + 1 end, \"lastRequest\" = $3 where $3 - "
    "\"rateLimit\".\"lastRequest\" >= $4 or \"rateLimit\".\"count\" < $5 returning \"count\"",
    "i"};
static const gh_query Q_LAST = {
    "rate_limit_last", "select \"lastRequest\" from \"rateLimit\" where \"key\" = ?1",
    "select \"lastRequest\" from \"rateLimit\" where \"key\" = $1", "i"};
static const gh_query Q_PRUNE = {"rate_limit_prune",
                                 "delete from \"rateLimit\" where \"lastRequest\" < ?1",
                                 "delete from \"rateLimit\" where \"lastRequest\" < $1", NULL};
#undef O

typedef struct {
  char path[128];
  size_t len;
  bool prefix;
  bool off;
  int64_t window_ms;
  long max;
} rule;

/* better-auth's built-in rules (a plugin's own come with it: gh_plugin.rate_rules). */
static const struct {
  const char *path;
  long window_s, max;
} BUILTIN[] = {
    {"/sign-in", 10, 3},
    {"/sign-up", 10, 3},
    {"/change-password", 10, 3},
    {"/change-email", 10, 3},
    {"/request-password-reset", 60, 3},
    {"/send-verification-email", 60, 3},
    {"/forget-password", 60, 3},
    {"/email-otp/send-verification-otp", 60, 3},
    {"/email-otp/request-password-reset", 60, 3},
};

typedef struct entry {
  struct entry *next;
  int64_t last_ms;
  int64_t window_ms;
  long count;
  size_t klen;
  char key[]; /* "<address>|<path>" */
} entry;

typedef struct {
  pthread_mutex_t mu;
  entry *buckets[BUCKETS];
} stripe;

typedef struct {
  gh_auth *au;
  bool on;
  bool database;
  int64_t longest_ms;        /* the longest window of any rule: older rows are pruned */
  _Atomic int64_t pruned_ms; /* when the database rows were last pruned */
  int64_t window_ms;
  long max;
  rule *rules;
  size_t nrules;
  stripe stripes[STRIPES];
  _Atomic long entries;
  uint8_t hash_key[crypto_shorthash_KEYBYTES];
} limiter;

/* The rules in order: GATEHOUSE_RATE_LIMIT_RULES, the running plugins' (extra), the built-ins. */
static gh_status parse_rules(const char *text, const gh_rate_rule *extra, size_t nextra, rule **out,
                             size_t *n, const char **err) {
  *out = NULL;
  *n = 0;
  size_t cap = gh_list_count(text) + nextra + sizeof BUILTIN / sizeof BUILTIN[0];
  rule *r = gh_xcalloc(cap, sizeof *r);
  const char *cur = text, *it;
  size_t len;
  while (gh_list_next(&cur, &it, &len)) {
    if (!len) continue;
    const char *eq = memchr(it, '=', len);
    size_t pl = eq ? (size_t)(eq - it) : 0;
    rule *x = &r[*n];
    if (!eq || pl == 0 || pl >= sizeof x->path || it[0] != '/') goto bad;
    memcpy(x->path, it, pl);
    x->path[pl] = 0;
    if (x->path[pl - 1] == '*') {
      x->prefix = true;
      x->path[--pl] = 0;
    }
    x->len = pl;
    const char *v = eq + 1;
    size_t vl = len - pl - 1 - (x->prefix ? 1 : 0);
    if (vl == 3 && memcmp(v, "off", 3) == 0) {
      x->off = true;
    } else {
      char num[48];
      if (vl == 0 || vl >= sizeof num) goto bad;
      memcpy(num, v, vl);
      num[vl] = 0;
      char *slash = strchr(num, '/'), *e1, *e2;
      if (!slash) goto bad;
      *slash = 0;
      long w = strtol(num, &e1, 10), m = strtol(slash + 1, &e2, 10);
      if (*e1 || *e2 || e1 == num || e2 == slash + 1 || w < 1 || w > 86400 || m < 1 || m > 1000000)
        goto bad;
      x->window_ms = w * 1000;
      x->max = m;
    }
    (*n)++;
  }
  for (size_t i = 0; i < nextra; i++) {
    if (!extra[i].path || extra[i].path[0] != '/' ||
        (extra[i].max != 0 && (extra[i].window < 1 || extra[i].max < 1)))
      continue;
    rule *x = &r[(*n)++];
    snprintf(x->path, sizeof x->path, "%s", extra[i].path);
    x->len = strlen(x->path);
    x->prefix = true;
    x->off = extra[i].max == 0;
    x->window_ms = extra[i].window * 1000;
    x->max = extra[i].max;
  }
  for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++) {
    rule *x = &r[(*n)++];
    snprintf(x->path, sizeof x->path, "%s", BUILTIN[i].path);
    x->len = strlen(x->path);
    x->prefix = true;
    x->window_ms = BUILTIN[i].window_s * 1000;
    x->max = BUILTIN[i].max;
  }
  *out = r;
  return GH_OK;
bad:
  free(r);
  *n = 0;
  *err = "GATEHOUSE_RATE_LIMIT_RULES: expected PATH=WINDOW/MAX or PATH=off entries separated by "
         "commas, PATH starting with / (e.g. /sign-in/*=60/5,/get-session=off)";
  return GH_ERR_CONFIG;
}

static bool wants_migrations(const void *conf) {
  return strcmp(((const rl_conf *)conf)->storage, "database") == 0;
}

static gh_status validate(const void *conf, const char **err) {
  const rl_conf *c = conf;
  if (strcmp(c->mode, "auto") && strcmp(c->mode, "on") && strcmp(c->mode, "off")) {
    *err = "GATEHOUSE_RATE_LIMIT: expected on, off or auto";
    return GH_ERR_CONFIG;
  }
  if (strcmp(c->storage, "memory") && strcmp(c->storage, "database")) {
    *err = "GATEHOUSE_RATE_LIMIT_STORAGE: expected memory or database";
    return GH_ERR_CONFIG;
  }
  rule *r;
  size_t n;
  if (parse_rules(c->rules, NULL, 0, &r, &n, err) != GH_OK) return GH_ERR_CONFIG;
  free(r);
  return GH_OK;
}

static gh_status init(gh_auth *au, const void *conf, void **self) {
  const rl_conf *c = conf;
  limiter *l = gh_xcalloc(1, sizeof *l);
  l->au = au;
  l->on = !strcmp(c->mode, "on") || (!strcmp(c->mode, "auto") && gh_auth_production(au));
  l->window_ms = c->window * 1000;
  l->max = c->max;
  const char *err;
  size_t nextra;
  const gh_rate_rule *extra = gh_auth_rate_rules(au, &nextra);
  if (parse_rules(c->rules, extra, nextra, &l->rules, &l->nrules, &err) != GH_OK) {
    free(l);
    return GH_ERR_CONFIG;
  }
  l->database = wants_migrations(c);
  l->longest_ms = l->window_ms;
  for (size_t i = 0; i < l->nrules; i++)
    if (l->rules[i].window_ms > l->longest_ms) l->longest_ms = l->rules[i].window_ms;
  for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&l->stripes[i].mu, NULL);
  randombytes_buf(l->hash_key, sizeof l->hash_key);
  *self = l;
  return GH_OK;
}

static void plugin_free(void *self) {
  limiter *l = self;
  if (!l) return;
  for (int i = 0; i < STRIPES; i++) {
    for (int b = 0; b < BUCKETS; b++)
      for (entry *e = l->stripes[i].buckets[b], *next; e; e = next) {
        next = e->next;
        free(e);
      }
    pthread_mutex_destroy(&l->stripes[i].mu);
  }
  free(l->rules);
  free(l);
}

/* The rule for a path (without the base path): the first custom rule, then the built-ins, then
 * the default. NULL = not limited. */
static bool rule_for(const limiter *l, const char *path, int64_t *window_ms, long *max) {
  size_t pl = strlen(path);
  for (size_t i = 0; i < l->nrules; i++) {
    const rule *r = &l->rules[i];
    bool hit = r->prefix ? pl >= r->len && memcmp(path, r->path, r->len) == 0
                         : pl == r->len && memcmp(path, r->path, pl) == 0;
    if (!hit) continue;
    if (r->off) return false;
    *window_ms = r->window_ms;
    *max = r->max;
    return true;
  }
  *window_ms = l->window_ms;
  *max = l->max;
  return true;
}

/* The client's address (auth core: the peer, or what trusted proxies say), IPv6 reduced to its
 * /64 (one client's addresses share one bucket). */
static const char *client_address(const limiter *l, gh_req *req) {
  const char *ip = gh_auth_client_address(l->au, req);
  struct in6_addr a6;
  if (strchr(ip, ':') && inet_pton(AF_INET6, ip, &a6) == 1) {
    memset(a6.s6_addr + 8, 0, 8);
    char *buf = gh_arena_alloc(req->arena, INET6_ADDRSTRLEN);
    if (inet_ntop(AF_INET6, &a6, buf, INET6_ADDRSTRLEN)) return buf;
  }
  return ip;
}

/* better-auth's decideConsume on the key's counter. true = allowed; else *retry_s is set. */
static bool consume(limiter *l, const char *key, size_t klen, int64_t window_ms, long max,
                    int64_t now, long *retry_s) {
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, (const uint8_t *)key, klen, l->hash_key);
  uint64_t hv;
  memcpy(&hv, h, sizeof hv);
  stripe *s = &l->stripes[hv % STRIPES];
  entry **slot = &s->buckets[(hv / STRIPES) % BUCKETS];
  bool allowed = true;
  pthread_mutex_lock(&s->mu);
  entry *found = NULL;
  for (entry **pp = slot; *pp;) { /* find the key; drop expired neighbours on the way */
    entry *e = *pp;
    if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
      found = e;
      pp = &e->next;
    } else if (now - e->last_ms >= e->window_ms) {
      *pp = e->next;
      free(e);
      l->entries--;
    } else {
      pp = &e->next;
    }
  }
  if (!found) {
    if (l->entries >= MAX_ENTRIES) {
      pthread_mutex_unlock(&s->mu);
      gh_log(GH_LOG_WARN, "rate_limit.full", "message", "no room for a new counter", NULL);
      return true;
    }
    found = gh_xmalloc(sizeof *found + klen + 1);
    memcpy(found->key, key, klen + 1);
    found->klen = klen;
    found->count = 1;
    found->last_ms = now;
    found->window_ms = window_ms;
    found->next = *slot;
    *slot = found;
    l->entries++;
  } else if (now - found->last_ms >= window_ms) {
    found->count = 1;
    found->last_ms = now;
    found->window_ms = window_ms;
  } else if (found->count >= max) {
    allowed = false;
    *retry_s = (found->last_ms + window_ms - now + 999) / 1000;
  } else {
    found->count++;
    found->last_ms = now;
    found->window_ms = window_ms;
  }
  pthread_mutex_unlock(&s->mu);
  return allowed;
}

/* The same decision on the shared "rateLimit" table. */
static gh_status consume_db(limiter *l, gh_store *st, const char *key, int64_t window_ms, long max,
                            int64_t now, gh_arena *a, bool *allowed, long *retry_s) {
  int64_t last = l->pruned_ms;
  if (now - last >= 60000 && atomic_compare_exchange_strong(&l->pruned_ms, &last, now)) {
    gh_status rc = gh_store_exec(st, &Q_PRUNE, NULL, "i", (int64_t)(now - l->longest_ms));
    if (rc != GH_OK) return rc;
  }
  char id[33];
  gh_rand_id(id, 32);
  gh_rows r;
  gh_status rc =
      gh_store_query(st, a, &Q_CONSUME, &r, "ttiii", id, key, now, window_ms, (int64_t)max);
  if (rc != GH_OK) return rc;
  *allowed = r.n > 0;
  if (*allowed) return GH_OK;
  rc = gh_store_query(st, a, &Q_LAST, &r, "t", key);
  if (rc != GH_OK) return rc;
  int64_t lr = r.n ? gh_rows_at(&r, 0)[0].num : now;
  *retry_s = (lr + window_ms - now + 999) / 1000;
  if (*retry_s < 1) *retry_s = 1;
  return GH_OK;
}

static bool before_route(void *self, gh_req *req, gh_resp *resp) {
  limiter *l = self;
  if (!l->on || strncmp(req->path, BASE "/", sizeof BASE) != 0) return true;
  const char *path = req->path + sizeof BASE - 1;
  int64_t window_ms;
  long max;
  if (!rule_for(l, path, &window_ms, &max)) return true;
  const char *ip = client_address(l, req);
  char *key = gh_arena_printf(req->arena, "%s|%s", ip, path);
  long retry = 0;
  if (l->database) {
    gh_store *st = gh_auth_store(resp);
    if (!st) return false;
    bool allowed = false;
    gh_status rc =
        consume_db(l, st, key, window_ms, max, gh_now_ms(), req->arena, &allowed, &retry);
    if (rc != GH_OK) {
      gh_auth_db_error(resp, rc, "rate_limit");
      return false;
    }
    if (allowed) return true;
  } else if (consume(l, key, strlen(key), window_ms, max, gh_now_ms(), &retry)) {
    return true;
  }
  gh_audit(l->au, req, "rate_limited", NULL, "path", path, NULL, NULL);
  gh_resp_header(resp, "X-Retry-After", gh_arena_printf(resp->arena, "%ld", retry));
  gh_resp_raw_json(resp, 429, "{\"message\":\"Too many requests. Please try again later.\"}");
  return false;
}

const gh_plugin gh_plugin_rate_limit = {
    .id = "rate-limit",
    .summary =
        "better-auth's rate limiter: per client address and path under /api/auth (100 per "
        "10 s; 3 per 10 s on sign-in, sign-up, change-password, change-email; 3 per 60 s on "
        "the e-mail sending routes), 429 with `X-Retry-After` over it; counters in memory or "
        "in the database",
    .always = true,
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(rl_conf),
    .validate = validate,
    .migrations = MIGRATIONS,
    .nmigrations = 1,
    .wants_migrations = wants_migrations,
    .init = init,
    .free = plugin_free,
    .before_route = before_route,
};
