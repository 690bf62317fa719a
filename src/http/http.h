/* HTTP layer: libmicrohttpd adapter (internal epoll thread pool), exact-match router (plus opt-in
 * prefix routes; router.h), capped request bodies, JSON/form body parsing, offloading of slow
 * routes to a bounded worker pool via suspend/resume. Cookie header parsing: cookie.h. Knows
 * nothing of auth rules. */
#ifndef GH_HTTP_HTTP_H
#define GH_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "common/arena.h"
#include "common/errors.h"
#include "common/status.h"
#include "common/workpool.h"
#include "http/cidr.h"
#include "json/json.h"

typedef struct {
  const char *name;
  const char *value;
} gh_kv;

typedef struct gh_req {
  gh_arena *arena;
  const char *method;
  const char *path; /* without the query string */
  gh_kv *headers;
  size_t nheaders;
  gh_kv *query; /* decoded */
  size_t nquery;
  const char *body;
  size_t body_len;
  gh_json *json; /* parsed body (JSON, or a form turned into an object of strings); NULL if none */
  const char *peer_ip; /* socket peer address */
  const char *client;  /* the client address for limits and logs, worked out once on first use
                          (gh_auth_client_address); NULL before */
  const char *route;   /* the served route's path as declared (prefix routes: the prefix), set by
                          the dispatcher for its hooks (bounded labels for metrics); NULL before */
} gh_req;

typedef struct gh_resp {
  gh_arena *arena;
  int status;
  char *body;
  size_t body_len;
  const char *content_type; /* NULL: no Content-Type header */
  gh_kv *headers;
  size_t nheaders, cap;
} gh_resp;

typedef void (*gh_handler)(void *app, gh_req *req, gh_resp *resp);

enum {
  GH_ROUTE_SLOW = 1,   /* runs on the worker pool (password hashing) */
  GH_ROUTE_FORM = 2,   /* also accepts application/x-www-form-urlencoded */
  GH_ROUTE_PREFIX = 4, /* path is a prefix: matches every request path that starts with it (the
                          handler parses req->path); exact routes are tried first */
  GH_ROUTE_RAW = 8,    /* no media-type check and no body parsing: the handler reads req->body */
};

typedef struct {
  const char *method;
  const char *path;
  gh_handler fn;
  unsigned flags;
  void *arg; /* the handler's first argument; NULL = the app pointer given to gh_http_start */
} gh_route;

typedef struct {
  const char *host;
  int port; /* 0 = any free port */
  size_t max_body;
  unsigned threads;
  unsigned conn_limit;
  unsigned slow_per_client; /* slow (hashing) requests one client address may have in flight at
                               once; more are answered 503 at once (0 = no limit; trusted proxies
                               exempt) */
  unsigned per_ip_limit; /* connections per client address (IPv6: per /64); over it refused at once;
                           0 = no limit */
  const gh_cidr_list *trusted_proxies; /* exempt from per_ip_limit (NULL = none); must outlive
                                          the gh_http */
  unsigned conn_timeout_s;             /* idle keep-alive timeout */
  unsigned header_timeout_s; /* a request head must be complete this long after the connection
                                opened (or the previous response): else closed (0 = 10) */
  unsigned body_timeout_s;   /* the whole body must arrive this long after its head (0 = 30) */
  unsigned admit_wait_ms;    /* slow route, full worker queue: wait this long for a slot (FIFO)
                                before answering 503; 0 = answer 503 at once */
  size_t max_header;  /* request line + header fields, bytes; larger → 431 JSON (0 = 16 KiB) */
  unsigned busy_rps;  /* gh_http_busy() is true while fast routes run at this rate (0 = never) */
  size_t conn_memory; /* MHD per-connection pool (0 = 2 × max_header + 16 KiB, at least 64 KiB) */
} gh_http_config;

typedef struct gh_http gh_http;

GH_MUST_CHECK gh_status gh_http_start(const gh_http_config *cfg, const gh_route *routes,
                                      size_t nroutes, void *app, gh_workpool *pool, gh_http **out);
int gh_http_port(const gh_http *h);
/* True while requests to fast (not GH_ROUTE_SLOW) routes arrive at busy_rps or more (measured over
 * 100 ms windows). arg is the gh_http; usable as a gh_workpool_limit_when() predicate. */
bool gh_http_busy(void *arg);
/* Counters for metrics: connections open now; refused by the per-IP cap, closed for missing their
 * head/body deadline, slow requests answered 503 for a full queue, and those that waited for a
 * place (since start). */
typedef struct {
  long conns_open, refused_per_ip, slow_closed, shed, waited;
  long unfair;   /* of shed: a client over its share of the hashing pool (slow_per_client) */
  long unrouted; /* requests for no route (404 with an empty body) */
} gh_http_stats;
void gh_http_stats_get(gh_http *h, gh_http_stats *out);
/* Stops accepting new connections and waits up to drain_ms for in-flight requests. */
void gh_http_quiesce(gh_http *h, int drain_ms);
/* Stops the daemon and frees it. Call after the worker pool has been drained (gh_workpool_free)
 * so that no job resumes a connection of a stopped daemon. */
void gh_http_free(gh_http *h);

/* Request accessors (case-insensitive header names; first occurrence). NULL when absent. */
const char *gh_req_header(const gh_req *r, const char *name);
const char *gh_req_query(const gh_req *r, const char *name);

/* Response builders. */
void gh_resp_header(gh_resp *r, const char *name, const char *value);
/* Removes every header with this name for which pred(value) is true (pred NULL: all). */
void gh_resp_remove_header(gh_resp *r, const char *name, bool (*pred)(const char *value, void *),
                           void *arg);
void gh_resp_json(gh_resp *r, int status, gh_json *body /* stolen */);
void gh_resp_raw_json(gh_resp *r, int status, const char *json_text);
void gh_resp_error(gh_resp *r, gh_err e);
void gh_resp_error_msg(gh_resp *r, int status, const char *code, const char *message);
void gh_resp_empty(gh_resp *r, int status, bool json_content_type);

#endif
