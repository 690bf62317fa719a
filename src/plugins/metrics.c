/* GET /metrics in Prometheus' text format (0.0.4): requests by method, route and status, request
 * durations as histograms by route, sign-ins by result, sessions created and revoked, users
 * created and deleted. Labels are the declared routes (never raw paths), so the series are bounded.
 * Always runs (GATEHOUSE_METRICS turns it off); first in the plugin order so that its timing wraps
 * every other plugin's before/after hooks. With GATEHOUSE_METRICS_ADDR (host:port) it is served
 * on that address only, by a listener of its own (one thread, a few connections), and the main
 * listener answers 404 for it: scrapers reach it on a private interface, the public never. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/plugin.h"
#include "common/log.h"
#include "plugins/plugins.h"

#define MAX_SERIES 512
#define MAX_REASONS 32
static const double BOUNDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NB (sizeof BOUNDS / sizeof BOUNDS[0])

typedef struct {
  bool enabled;
  char *addr;
} m_conf;

static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_METRICS", NULL, GH_CONF_BOOL, "true", 0, 0, 0, offsetof(m_conf, enabled),
     "Serve GET /metrics (Prometheus text format; restrict it in the proxy in front when the "
     "server is public)"},
    {"GATEHOUSE_METRICS_ADDR", NULL, GH_CONF_STR, "", 0, 0, 0, offsetof(m_conf, addr),
     "Serve `/metrics` only on this `host:port` (`127.0.0.1:9464`, `[::1]:9464`), on a listener "
     "of its own; empty: on the main listener"},
};

/* host:port or [v6]:port into host (buffer) and port; false when malformed. */
static bool split_addr(const char *addr, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(addr, ':');
  if (!colon || colon == addr || !colon[1]) return false;
  const char *h = addr;
  size_t hl = (size_t)(colon - addr);
  if (h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']') return false;
    h++;
    hl -= 2;
  } else if (memchr(h, ':', hl)) {
    return false; /* a bare IPv6 address needs brackets */
  }
  if (hl >= hostlen) return false;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 1 || p > 65535) return false;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = (int)p;
  return true;
}

static gh_status validate(const void *conf, const char **err) {
  const m_conf *c = conf;
  char host[256];
  int port;
  if (*c->addr && !split_addr(c->addr, host, sizeof host, &port)) {
    *err = "GATEHOUSE_METRICS_ADDR: expected host:port (e.g. 127.0.0.1:9464 or [::1]:9464)";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

/* Series are appended under mu and never removed; the request path finds its series without a
 * lock (n is published with release order after the entry is filled) and counts with atomics. */
typedef struct {
  const char *method, *route; /* static storage (route tables) */
  int status;
  _Atomic unsigned long count;
} req_series;

typedef struct {
  const char *method, *route;
  _Atomic unsigned long buckets[NB]; /* per bucket; cumulated when written */
  _Atomic unsigned long count;
  _Atomic unsigned long long sum_us;
} dur_series;

/* Failed sign-ins by the reason their audit line gives (a bounded set of codes). */
typedef struct {
  char reason[48];
  _Atomic unsigned long count;
} reason_series;

typedef struct {
  const gh_auth *au;
  bool enabled;
  bool own_listener; /* GATEHOUSE_METRICS_ADDR */
  char host[256];
  int port;
  gh_http *own;
  reason_series reasons[MAX_REASONS];
  _Atomic size_t nreasons;
  pthread_mutex_t mu; /* appending series */
  req_series reqs[MAX_SERIES];
  _Atomic size_t nreqs;
  dur_series durs[MAX_SERIES];
  _Atomic size_t ndurs;
  _Atomic unsigned long sign_in_ok, sign_in_failed, sessions_created, sessions_revoked,
      users_created, users_deleted, dropped, rate_limited;
} metrics;

static _Thread_local struct timespec started; /* set by before_route on the handling thread */

static gh_status init(gh_auth *au, const void *conf, void **self) {
  metrics *m = gh_xcalloc(1, sizeof *m);
  m->au = au;
  const m_conf *c = conf;
  m->enabled = c->enabled;
  m->own_listener =
      c->enabled && *c->addr && split_addr(c->addr, m->host, sizeof m->host, &m->port);
  pthread_mutex_init(&m->mu, NULL);
  *self = m;
  return GH_OK;
}

static void plugin_free(void *self) {
  metrics *m = self;
  if (!m) return;
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static bool before_route(void *self, gh_req *req, gh_resp *resp) {
  (void)self, (void)req, (void)resp;
  clock_gettime(CLOCK_MONOTONIC, &started);
  return true;
}

static const char *method_label(const char *m) {
  return !strcmp(m, "GET")       ? "GET"
         : !strcmp(m, "POST")    ? "POST"
         : !strcmp(m, "OPTIONS") ? "OPTIONS"
                                 : "other";
}

static req_series *find_req(metrics *m, const char *method, const char *route, int status) {
  size_t n = atomic_load_explicit(&m->nreqs, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (m->reqs[i].route == route && m->reqs[i].status == status && m->reqs[i].method == method)
      return &m->reqs[i];
  return NULL;
}

static dur_series *find_dur(metrics *m, const char *method, const char *route) {
  size_t n = atomic_load_explicit(&m->ndurs, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (m->durs[i].route == route && m->durs[i].method == method) return &m->durs[i];
  return NULL;
}

static void after_route(void *self, gh_req *req, gh_resp *resp) {
  metrics *m = self;
  if (!m->enabled || !req->route) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t us =
      (int64_t)(now.tv_sec - started.tv_sec) * 1000000 + (now.tv_nsec - started.tv_nsec) / 1000;
  if (us < 0) us = 0;
  const char *method = method_label(req->method);
  req_series *r = find_req(m, method, req->route, resp->status);
  dur_series *d = find_dur(m, method, req->route);
  if (!r || !d) { /* first time: append under the lock (another thread may have just done it) */
    pthread_mutex_lock(&m->mu);
    if (!r && !(r = find_req(m, method, req->route, resp->status))) {
      size_t n = atomic_load_explicit(&m->nreqs, memory_order_relaxed);
      if (n < MAX_SERIES) {
        r = &m->reqs[n];
        r->method = method;
        r->route = req->route;
        r->status = resp->status;
        atomic_store_explicit(&m->nreqs, n + 1, memory_order_release);
      }
    }
    if (!d && !(d = find_dur(m, method, req->route))) {
      size_t n = atomic_load_explicit(&m->ndurs, memory_order_relaxed);
      if (n < MAX_SERIES) {
        d = &m->durs[n];
        d->method = method;
        d->route = req->route;
        atomic_store_explicit(&m->ndurs, n + 1, memory_order_release);
      }
    }
    pthread_mutex_unlock(&m->mu);
  }
  if (r) r->count++;
  if (d) {
    double secs = (double)us / 1e6;
    for (size_t b = 0; b < NB; b++)
      if (secs <= BOUNDS[b]) {
        d->buckets[b]++;
        break;
      }
    d->count++;
    d->sum_us += (unsigned long long)us;
  }
  if (!r || !d) m->dropped++;
  if (resp->status == 429) m->rate_limited++;
  if (!strcmp(req->route, "/api/auth/sign-in/email")) {
    if (resp->status == 200)
      m->sign_in_ok++;
    else if (resp->status == 401)
      m->sign_in_failed++;
  }
}

static void session_created(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                            const gh_session *s, const gh_user *u) {
  (void)st, (void)req, (void)resp, (void)s, (void)u;
  ((metrics *)self)->sessions_created++;
}

static void session_revoked(void *self, gh_store *st, const gh_revocation *r) {
  (void)st, (void)r;
  ((metrics *)self)->sessions_revoked++;
}

/* A reason label: upper-case letters, digits and '_' only (the wire codes), else "OTHER". */
static const char *reason_label(const char *r) {
  if (!r || !*r || strlen(r) >= sizeof((reason_series *)0)->reason) return "OTHER";
  for (const char *c = r; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) return "OTHER";
  return r;
}

static reason_series *find_reason(metrics *m, const char *r) {
  size_t n = atomic_load_explicit(&m->nreasons, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(m->reasons[i].reason, r)) return &m->reasons[i];
  return NULL;
}

static void audited(void *self, gh_req *req, const gh_audit_event *ev) {
  (void)req;
  metrics *m = self;
  if (!m->enabled || strcmp(ev->event, "sign_in.failure") != 0) return;
  const char *r = reason_label(ev->k1 && !strcmp(ev->k1, "reason") ? ev->v1 : NULL);
  reason_series *s = find_reason(m, r);
  if (!s) {
    pthread_mutex_lock(&m->mu);
    if (!(s = find_reason(m, r))) {
      size_t n = atomic_load_explicit(&m->nreasons, memory_order_relaxed);
      if (n < MAX_REASONS) {
        s = &m->reasons[n];
        snprintf(s->reason, sizeof s->reason, "%s", r);
        atomic_store_explicit(&m->nreasons, n + 1, memory_order_release);
      }
    }
    pthread_mutex_unlock(&m->mu);
  }
  if (s)
    s->count++;
  else
    m->dropped++;
}

static void user_created(void *self, gh_store *st, const gh_user *u) {
  (void)st, (void)u;
  ((metrics *)self)->users_created++;
}

static void user_deleted(void *self, gh_store *st, const char *user_id) {
  (void)st, (void)user_id;
  ((metrics *)self)->users_deleted++;
}

/* A growing text buffer on the response arena. */
typedef struct {
  gh_arena *a;
  char *buf;
  size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *nb = gh_arena_alloc(t->a, cap);
    memcpy(nb, t->buf, t->len);
    t->buf = nb;
    t->cap = cap;
  }
}

static void counter(text *t, const char *name, const char *help, unsigned long v) {
  add(t, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name, name, v);
}

static void gauge(text *t, const char *name, const char *help, long v) {
  add(t, "# HELP %s %s\n# TYPE %s gauge\n%s %ld\n", name, help, name, name, v);
}

static void write_metrics(metrics *m, gh_resp *resp);

/* On the main listener: 404 when metrics are off or served on their own address. */
static void route_metrics(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  metrics *m = self;
  if (!m->enabled || m->own_listener) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  write_metrics(m, resp);
}

static void route_metrics_own(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  write_metrics(self, resp);
}

static const gh_route OWN_ROUTES[] = {{"GET", "/metrics", route_metrics_own, 0, NULL}};

static gh_status serve_start(void *self) {
  metrics *m = self;
  if (!m->own_listener) return GH_OK;
  gh_http_config hc = {.host = m->host,
                       .port = m->port,
                       .max_body = 1024,
                       .threads = 1,
                       .conn_limit = 16,
                       .conn_timeout_s = 30};
  gh_status rc = gh_http_start(&hc, OWN_ROUTES, 1, m, NULL, &m->own);
  if (rc != GH_OK) {
    gh_log(GH_LOG_ERROR, "metrics.listen_failed", "addr", m->host, NULL);
    return rc;
  }
  char port[16];
  snprintf(port, sizeof port, "%d", gh_http_port(m->own));
  gh_log(GH_LOG_INFO, "metrics.listening", "host", m->host, "port", port, NULL);
  return GH_OK;
}

static void serve_stop(void *self) {
  metrics *m = self;
  if (!m->own) return;
  gh_http_quiesce(m->own, 1000);
  gh_http_free(m->own);
  m->own = NULL;
}

static void write_metrics(metrics *m, gh_resp *resp) {
  if (!m->enabled) {
    gh_resp_empty(resp, 404, false);
    return;
  }
  text t = {.a = resp->arena, .cap = 8192};
  t.buf = gh_arena_alloc(t.a, t.cap);
  t.buf[0] = 0;
  size_t nreqs = atomic_load_explicit(&m->nreqs, memory_order_acquire);
  size_t ndurs = atomic_load_explicit(&m->ndurs, memory_order_acquire);
  add(&t, "# HELP gatehouse_http_requests_total Requests answered, by method, route and status.\n"
          "# TYPE gatehouse_http_requests_total counter\n");
  for (size_t i = 0; i < nreqs; i++)
    add(&t, "gatehouse_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %lu\n",
        m->reqs[i].method, m->reqs[i].route, m->reqs[i].status, (unsigned long)m->reqs[i].count);
  add(&t, "# HELP gatehouse_http_request_duration_seconds Time in the route's handler and hooks.\n"
          "# TYPE gatehouse_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i < ndurs; i++) {
    const dur_series *d = &m->durs[i];
    unsigned long cum = 0, total = (unsigned long)d->count;
    for (size_t b = 0; b < NB; b++) {
      cum += (unsigned long)d->buckets[b];
      add(&t,
          "gatehouse_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} "
          "%lu\n",
          d->method, d->route, BOUNDS[b], cum < total ? cum : total); /* read while counting */
    }
    add(&t,
        "gatehouse_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} "
        "%lu\n"
        "gatehouse_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
        "gatehouse_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %lu\n",
        d->method, d->route, total, d->method, d->route, (double)d->sum_us / 1e6, d->method,
        d->route, total);
  }
  add(&t,
      "# HELP gatehouse_sign_ins_total Sign-ins with e-mail and password, by result.\n"
      "# TYPE gatehouse_sign_ins_total counter\n"
      "gatehouse_sign_ins_total{result=\"success\"} %lu\n"
      "gatehouse_sign_ins_total{result=\"failure\"} %lu\n",
      (unsigned long)m->sign_in_ok, (unsigned long)m->sign_in_failed);
  add(&t, "# HELP gatehouse_sign_in_failures_total Failed sign-ins, by reason (the audit line's).\n"
          "# TYPE gatehouse_sign_in_failures_total counter\n");
  size_t nreasons = atomic_load_explicit(&m->nreasons, memory_order_acquire);
  for (size_t i = 0; i < nreasons; i++)
    add(&t, "gatehouse_sign_in_failures_total{reason=\"%s\"} %lu\n", m->reasons[i].reason,
        (unsigned long)m->reasons[i].count);
  counter(&t, "gatehouse_sessions_created_total", "Sessions created.", m->sessions_created);
  counter(&t, "gatehouse_sessions_revoked_total",
          "Revocations (sign-out, revoke-*, expiry, password change).", m->sessions_revoked);
  counter(&t, "gatehouse_users_created_total", "Users signed up.", m->users_created);
  counter(&t, "gatehouse_users_deleted_total", "Users deleted.", m->users_deleted);
  counter(&t, "gatehouse_rate_limited_total", "Requests refused by the rate limiter (429).",
          m->rate_limited);
  counter(&t, "gatehouse_metrics_dropped_total", "Requests not counted (series table full).",
          m->dropped);
  gh_runtime_stats rs;
  bool known = gh_auth_runtime_stats(m->au, &rs);
  counter(&t, "gatehouse_db_errors_total",
          "Store errors answered 503 (database unavailable) or 500 since start.",
          (unsigned long)rs.db_errors);
  counter(&t, "gatehouse_db_reconnects_total",
          "PostgreSQL connections re-established after they broke (outage, restart).",
          (unsigned long)gh_store_reconnect_count());
  if (known) {
    gauge(&t, "gatehouse_hash_queue_depth", "Password hashes waiting for a worker.",
          rs.hash_queued);
    gauge(&t, "gatehouse_hash_running", "Password hashes running.", rs.hash_running);
    gauge(&t, "gatehouse_connections_open", "Client connections open.", rs.http.conns_open);
    counter(&t, "gatehouse_connections_refused_total",
            "Connections refused by GATEHOUSE_MAX_CONNECTIONS_PER_IP.",
            (unsigned long)rs.http.refused_per_ip);
    counter(&t, "gatehouse_http_unrouted_total",
            "Requests for no route (404 with an empty body; not in the series above).",
            (unsigned long)rs.http.unrouted);
    counter(&t, "gatehouse_connections_slow_closed_total",
            "Connections closed for missing their head or body deadline.",
            (unsigned long)rs.http.slow_closed);
    counter(&t, "gatehouse_hash_queue_waits_total",
            "Sign-ins/sign-ups that waited for a place in the full hashing queue.",
            (unsigned long)rs.http.waited);
    counter(&t, "gatehouse_hash_queue_shed_total",
            "Sign-ins/sign-ups answered 503: the hashing queue stayed full, or the client was over "
            "its share (GATEHOUSE_HASH_PER_CLIENT).",
            (unsigned long)rs.http.shed);
    counter(&t, "gatehouse_hash_share_exceeded_total",
            "Of those, answered 503 because the client was over its share of the hashing pool.",
            (unsigned long)rs.http.unfair);
  }
  gh_resp_header(resp, "Cache-Control", "no-store");
  resp->status = 200;
  resp->body = t.buf;
  resp->body_len = t.len;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static const gh_route ROUTES[] = {{"GET", "/metrics", route_metrics, 0, NULL}};

const gh_plugin gh_plugin_metrics = {
    .id = "metrics",
    .summary = "`GET /metrics` in Prometheus' text format: requests by route and status, "
               "durations, sign-ins by result, sessions created and revoked, users created and "
               "deleted",
    .always = true,
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(m_conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .serve_start = serve_start,
    .serve_stop = serve_stop,
    .routes = ROUTES,
    .nroutes = 1,
    .before_route = before_route,
    .after_route = after_route,
    .session_created = session_created,
    .session_revoked = session_revoked,
    .audited = audited,
    .user_created = user_created,
    .user_deleted = user_deleted,
};
