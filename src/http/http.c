#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/encoding.h"
#include "common/log.h"
#include "http/ratemeter.h"
#include "http/router.h"

/* A slow request that found the worker queue full: its connection is suspended until a queue
 * slot frees (FIFO) or its deadline passes (then 503 + Retry-After). Without this wait, clients
 * that retry at once (load generators, naive SDKs) turn a full queue into a storm of 503s that
 * takes the CPU from everything else. */
struct waiter {
  struct conn_state *st;
  int64_t deadline_ms; /* monotonic */
  struct waiter *next;
};

#define IP_BUCKETS 1024

/* An open connection (MHD's socket context): its socket, its client key for the per-IP count
 * and the deadline by which its current request head or body must be complete. */
struct tracked {
  struct tracked *prev, *next;
  MHD_socket fd;
  uint8_t key[8];
  size_t klen;
  bool counted;
  _Atomic int64_t deadline_ms; /* monotonic; 0 = none (handler running, suspended, answering) */
};

struct ipcount {
  struct ipcount *next;
  uint8_t key[8];
  size_t klen;
  unsigned n;
};

struct gh_http {
  struct MHD_Daemon *d;
  gh_router router;
  void *app;
  gh_workpool *pool;
  size_t max_body;
  size_t max_header;
  int port;
  _Atomic long active;
  /* for gh_http_stats */
  _Atomic long conns_open, refused_per_ip, slow_closed, shed, waited, unfair, unrouted;
  MHD_socket listen_fd; /* handed back by MHD_quiesce_daemon; closed after MHD_stop_daemon */
  /* admission wait (admit_wait_ms > 0): waiters, guarded by wmu; one thread admits/expires */
  long admit_wait_ms;
  size_t max_waiting, nwaiting;
  struct waiter *whead, *wtail;
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  bool wstop, admit_running;
  pthread_t admit_thread;
  gh_ratemeter fast_rate; /* requests to fast routes, for gh_http_busy */
  /* connection tracking (guarded by tmu): every open connection, its deadline, per-IP counts */
  unsigned per_ip_limit;
  const gh_cidr_list *trusted;
  int64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms;
  pthread_mutex_t tmu;
  pthread_cond_t tcv;
  struct tracked *tracked;
  struct ipcount *ipcounts[IP_BUCKETS];
  struct ipcount *slowcounts[IP_BUCKETS]; /* slow requests in flight per client (under tmu) */
  unsigned slow_per_client;               /* 0 = no limit */
  bool tstop, sweep_running;
  pthread_t sweep_thread;
};

enum phase { PH_HEADERS, PH_BODY, PH_SUSPENDED, PH_DONE };

struct conn_state {
  gh_http *h;
  struct MHD_Connection *conn;
  gh_req req;
  gh_resp resp;
  char *body;
  size_t body_len, body_cap;
  unsigned long long received; /* body bytes read, kept or discarded */
  bool too_large;              /* refuse once the body is in (or at once past DISCARD_MAX) */
  bool headers_large;          /* ... with 431 instead of 413 */
  enum phase phase;
  const gh_route *route;
  uint8_t slow_key[8]; /* the client's share of the hashing pool this request holds */
  size_t slow_klen;    /* 0 = none */
};

/* ---------------------------------------------------------------- request accessors */

const char *gh_req_header(const gh_req *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

const char *gh_req_query(const gh_req *r, const char *name) {
  for (size_t i = 0; i < r->nquery; i++)
    if (strcmp(r->query[i].name, name) == 0) return r->query[i].value;
  return NULL;
}

/* ---------------------------------------------------------------- response builders */

void gh_resp_header(gh_resp *r, const char *name, const char *value) {
  if (r->nheaders == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    gh_kv *n = gh_arena_alloc(r->arena, cap * sizeof *n);
    if (r->nheaders) memcpy(n, r->headers, r->nheaders * sizeof *n);
    r->headers = n;
    r->cap = cap;
  }
  r->headers[r->nheaders].name = gh_arena_strdup(r->arena, name);
  r->headers[r->nheaders].value = gh_arena_strdup(r->arena, value);
  r->nheaders++;
}

void gh_resp_remove_header(gh_resp *r, const char *name, bool (*pred)(const char *, void *),
                           void *arg) {
  size_t o = 0;
  for (size_t i = 0; i < r->nheaders; i++) {
    bool drop =
        strcasecmp(r->headers[i].name, name) == 0 && (!pred || pred(r->headers[i].value, arg));
    if (!drop) r->headers[o++] = r->headers[i];
  }
  r->nheaders = o;
}

void gh_resp_json(gh_resp *r, int status, gh_json *body) {
  r->status = status;
  r->body = gh_json_dump(r->arena, body, &r->body_len);
  r->content_type = "application/json";
  gh_json_decref(body);
}

void gh_resp_raw_json(gh_resp *r, int status, const char *json_text) {
  r->status = status;
  r->body = gh_arena_strdup(r->arena, json_text);
  r->body_len = strlen(json_text);
  r->content_type = "application/json";
}

void gh_resp_error_msg(gh_resp *r, int status, const char *code, const char *message) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "message", gh_json_str(message));
  if (code) gh_json_set_new(o, "code", gh_json_str(code));
  gh_resp_json(r, status, o);
}

void gh_resp_error(gh_resp *r, gh_err e) {
  const gh_err_info *i = gh_err_lookup(e);
  gh_resp_error_msg(r, i->status, i->code, i->message);
  if (i->status == 503) gh_resp_header(r, "Retry-After", "1");
}

void gh_resp_empty(gh_resp *r, int status, bool json_content_type) {
  r->status = status;
  r->body = NULL;
  r->body_len = 0;
  r->content_type = json_content_type ? "application/json" : NULL;
}

/* ---------------------------------------------------------------- MHD glue */

struct collect {
  gh_arena *a;
  gh_kv *v;
  size_t n, cap;
  size_t bytes; /* key and value lengths plus 4 per pair (": " + CRLF, or "=" and "&") */
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
  (void)kind;
  struct collect *c = cls;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    gh_kv *n = gh_arena_alloc(c->a, cap * sizeof *n);
    if (c->n) memcpy(n, c->v, c->n * sizeof *n);
    c->v = n;
    c->cap = cap;
  }
  c->v[c->n].name = gh_arena_strdup(c->a, key);
  c->v[c->n].value = gh_arena_strdup(c->a, value ? value : "");
  c->bytes += strlen(key) + strlen(c->v[c->n].value) + 4;
  c->n++;
  return MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, gh_resp *r) {
  struct MHD_Response *mr = MHD_create_response_from_buffer(
      r->body_len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
  if (!mr) return MHD_NO;
  if (r->content_type) MHD_add_response_header(mr, "Content-Type", r->content_type);
  for (size_t i = 0; i < r->nheaders; i++)
    MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
  MHD_destroy_response(mr);
  return ret;
}

static int64_t mono_ms(void);
static void set_deadline(struct MHD_Connection *conn, int64_t deadline_ms);

static void slow_release(gh_http *h, struct conn_state *st);

static void complete_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe) {
  (void)toe;
  gh_http *h = cls;
  struct conn_state *st = *con_cls;
  /* the next request's head: after the idle timeout MHD closes the connection anyway; one that
   * trickles a head in is closed header_timeout later */
  set_deadline(conn, mono_ms() + h->idle_timeout_ms + h->header_timeout_ms);
  if (!st) return;
  slow_release(h, st);
  free(st->body);
  gh_arena_free(st->req.arena);
  free(st);
  *con_cls = NULL;
  atomic_fetch_sub(&h->active, 1);
}

static bool media_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  if (strncasecmp(ct, want, n) != 0) return false;
  return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

/* Parses application/x-www-form-urlencoded into a JSON object of strings. */
static gh_status parse_form(gh_arena *a, const char *body, size_t len, gh_json **out) {
  gh_json *o = gh_json_object();
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && body[j] != '&') j++;
    size_t eq = i;
    while (eq < j && body[eq] != '=') eq++;
    char *k, *v;
    if (gh_uri_decode(a, body + i, eq - i, true, &k) != GH_OK ||
        gh_uri_decode(a, eq < j ? body + eq + 1 : "", eq < j ? j - eq - 1 : 0, true, &v) != GH_OK) {
      gh_json_decref(o);
      return GH_ERR_INVALID;
    }
    if (*k && !gh_json_get(o, k)) gh_json_set_new(o, k, gh_json_str(v));
    i = j + 1;
  }
  *out = o;
  return GH_OK;
}

/* Body checks shared by every route: media type and parse. false = response already set. */
static bool prepare_body(struct conn_state *st) {
  gh_req *r = &st->req;
  gh_resp *resp = &st->resp;
  if (st->route->flags & GH_ROUTE_RAW) return true;
  if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) return true;
  if (st->body_len == 0) return true;
  const char *ct = gh_req_header(r, "Content-Type");
  if (!ct) return true; /* better-call parses no body without a Content-Type */
  bool form_ok = st->route->flags & GH_ROUTE_FORM;
  if (ct && media_is(ct, "application/json")) {
    gh_json *j;
    if (gh_json_parse(st->body, st->body_len, &j) != GH_OK) {
      gh_resp_error(resp, GH_E_BAD_REQUEST_INVALID_JSON);
      return false;
    }
    r->json = gh_json_own(r->arena, j);
    return true;
  }
  if (ct && form_ok && media_is(ct, "application/x-www-form-urlencoded")) {
    gh_json *j;
    if (!gh_utf8_valid(st->body, st->body_len) ||
        parse_form(r->arena, st->body, st->body_len, &j) != GH_OK) {
      gh_resp_error(resp, GH_E_BAD_REQUEST_INVALID_JSON);
      return false;
    }
    r->json = gh_json_own(r->arena, j);
    return true;
  }
  char *msg = gh_arena_printf(
      r->arena, "Content-Type \"%s\" is not allowed. Allowed types: %s", ct ? ct : "",
      form_ok ? "application/x-www-form-urlencoded, application/json" : "application/json");
  gh_resp_error_msg(resp, 415, "UNSUPPORTED_MEDIA_TYPE", msg);
  return false;
}

#define DISCARD_MAX (8u * 1024 * 1024) /* announced bodies read and discarded before a 413 */

/* 413 for a body over the limit. MHD accepts a response only before the body is read (the
 * Content-Length case, answered at once) or after all of it was received (chunked bodies). */
static enum MHD_Result reject_too_large(struct MHD_Connection *conn, struct conn_state *st) {
  st->phase = PH_DONE;
  gh_resp_error(&st->resp, st->headers_large ? GH_E_HEADERS_TOO_LARGE : GH_E_PAYLOAD_TOO_LARGE);
  gh_resp_header(&st->resp, "Connection", "close");
  return send_resp(conn, &st->resp);
}

static void run_slow(void *arg) {
  struct conn_state *st = arg;
  st->route->fn(st->route->arg ? st->route->arg : st->h->app, &st->req, &st->resp);
  st->phase = PH_DONE;
  MHD_resume_connection(st->conn);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers a waiter 503 + Retry-After (called without wmu). */
static void expire_waiter(struct conn_state *st) {
  st->h->shed++;
  gh_resp_error(&st->resp, GH_E_SERVICE_UNAVAILABLE);
  st->phase = PH_DONE;
  MHD_resume_connection(st->conn);
}

/* Suspends st's connection as a waiter; false when waiting is off, full or stopping. */
static bool add_waiter(gh_http *h, struct conn_state *st) {
  if (h->admit_wait_ms <= 0) return false;
  struct waiter *w = malloc(sizeof *w);
  if (!w) gh_oom();
  pthread_mutex_lock(&h->wmu);
  if (h->wstop || h->nwaiting >= h->max_waiting) {
    pthread_mutex_unlock(&h->wmu);
    free(w);
    return false;
  }
  /* Suspended before it is visible to the admission thread, which may resume it at once. */
  st->phase = PH_SUSPENDED;
  MHD_suspend_connection(st->conn);
  w->st = st;
  w->deadline_ms = mono_ms() + h->admit_wait_ms;
  w->next = NULL;
  if (h->wtail)
    h->wtail->next = w;
  else
    h->whead = w;
  h->wtail = w;
  h->nwaiting++;
  h->waited++;
  pthread_cond_signal(&h->wcv);
  pthread_mutex_unlock(&h->wmu);
  return true;
}

static struct waiter *pop_waiter(gh_http *h) {
  struct waiter *w = h->whead;
  h->whead = w->next;
  if (!h->whead) h->wtail = NULL;
  h->nwaiting--;
  return w;
}

/* Admits waiters in arrival order as queue slots free (polled every few ms while some wait) and
 * answers 503 to those whose deadline passes; at stop, answers 503 to all that remain. */
static void *admit_main(void *arg) {
  gh_http *h = arg;
  pthread_mutex_lock(&h->wmu);
  for (;;) {
    if (!h->whead) {
      if (h->wstop) break;
      pthread_cond_wait(&h->wcv, &h->wmu);
      continue;
    }
    bool admit = !h->wstop && gh_workpool_reserve(h->pool);
    int64_t now = mono_ms();
    if (admit || h->wstop || h->whead->deadline_ms <= now) {
      struct waiter *w = pop_waiter(h);
      pthread_mutex_unlock(&h->wmu);
      if (admit)
        gh_workpool_submit(h->pool, run_slow, w->st);
      else
        expire_waiter(w->st);
      free(w);
      pthread_mutex_lock(&h->wmu);
      continue;
    }
    int64_t until = h->whead->deadline_ms < now + 5 ? h->whead->deadline_ms : now + 5;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(&h->wcv, &h->wmu, &ts);
  }
  pthread_mutex_unlock(&h->wmu);
  return NULL;
}

static void stop_admission(gh_http *h) {
  if (!h->admit_running) return;
  pthread_mutex_lock(&h->wmu);
  h->wstop = true;
  pthread_cond_signal(&h->wcv);
  pthread_mutex_unlock(&h->wmu);
  pthread_join(h->admit_thread, NULL);
  h->admit_running = false;
}

bool gh_http_busy(void *arg) {
  gh_http *h = arg;
  return gh_ratemeter_busy(&h->fast_rate);
}

/* ---------------------------------------------------------------- connection tracking */

/* The per-IP key: the IPv4 address (also of an IPv4-mapped IPv6 peer), or the /64 of an IPv6
 * address (one host usually has a whole /64). 0 for other families. */
static size_t client_key(const struct sockaddr *sa, uint8_t key[8]) {
  if (!sa) return 0;
  if (sa->sa_family == AF_INET) {
    memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    return 4;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
      memcpy(key, a->s6_addr + 12, 4);
      return 4;
    }
    memcpy(key, a->s6_addr, 8);
    return 8;
  }
  return 0;
}

static struct ipcount **slot_in(struct ipcount **table, const uint8_t *key, size_t klen) {
  uint32_t x = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < klen; i++) x = (x ^ key[i]) * 16777619u;
  struct ipcount **pp = &table[x % IP_BUCKETS];
  while (*pp && !((*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)) pp = &(*pp)->next;
  return pp;
}

static struct ipcount **ip_slot(gh_http *h, const uint8_t *key, size_t klen) {
  return slot_in(h->ipcounts, key, klen);
}

/* Fair use of the hashing pool: a client (not a trusted proxy) may hold at most slow_per_client
 * slow requests (queued, waiting or running) at once; one more is answered 503 at once, so that
 * one address cannot take the whole queue from everybody else. false = over its share. */
static bool slow_admit(struct conn_state *st) {
  gh_http *h = st->h;
  if (!h->slow_per_client) return true;
  const union MHD_ConnectionInfo *ai =
      MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ai ? ai->client_addr : NULL;
  if (!sa || gh_cidr_match(h->trusted, sa)) return true;
  uint8_t key[8];
  size_t klen = client_key(sa, key);
  if (!klen) return true;
  bool ok = true;
  pthread_mutex_lock(&h->tmu);
  struct ipcount **pp = slot_in(h->slowcounts, key, klen);
  if (!*pp) {
    *pp = calloc(1, sizeof **pp);
    if (!*pp) gh_oom();
    memcpy((*pp)->key, key, klen);
    (*pp)->klen = klen;
  }
  if ((*pp)->n >= h->slow_per_client) {
    ok = false;
  } else {
    (*pp)->n++;
    memcpy(st->slow_key, key, klen);
    st->slow_klen = klen;
  }
  pthread_mutex_unlock(&h->tmu);
  return ok;
}

/* The request is over: its share back. */
static void slow_release(gh_http *h, struct conn_state *st) {
  if (!st->slow_klen) return;
  pthread_mutex_lock(&h->tmu);
  struct ipcount **pp = slot_in(h->slowcounts, st->slow_key, st->slow_klen);
  struct ipcount *c = *pp;
  if (c && --c->n == 0) {
    *pp = c->next;
    free(c);
  }
  pthread_mutex_unlock(&h->tmu);
  st->slow_klen = 0;
}

static bool exempt(gh_http *h, const struct sockaddr *sa) {
  return h->per_ip_limit == 0 || gh_cidr_match(h->trusted, sa);
}

/* MHD's accept policy: refuses a connection from a client (not a trusted proxy) that already has
 * per_ip_limit open. The count itself is taken in notify_conn (a few accepted at once on
 * different threads may pass the check together: the limit is exceeded by at most the number of
 * HTTP threads less one). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *sa, socklen_t len) {
  (void)len;
  gh_http *h = cls;
  if (exempt(h, sa)) return MHD_YES;
  uint8_t key[8];
  size_t klen = client_key(sa, key);
  if (!klen) return MHD_YES;
  pthread_mutex_lock(&h->tmu);
  struct ipcount *c = *ip_slot(h, key, klen);
  bool over = c && c->n >= h->per_ip_limit;
  pthread_mutex_unlock(&h->tmu);
  if (over) {
    char ip[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
    else
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    gh_log(GH_LOG_WARN, "http.per_ip_limit", "ip", ip, NULL);
    h->refused_per_ip++;
    return MHD_NO;
  }
  return MHD_YES;
}

/* MHD's connection start/close: the tracked entry, the per-IP count and the first deadline. MHD
 * calls CLOSED before it closes the socket, so the sweeper (which holds tmu while it shuts a
 * socket down) never touches a descriptor that was reused. */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
  gh_http *h = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    h->conns_open++;
    struct tracked *t = calloc(1, sizeof *t);
    if (!t) gh_oom();
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ai ? ai->client_addr : NULL;
    t->fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
    t->klen = exempt(h, sa) ? 0 : client_key(sa, t->key);
    atomic_store(&t->deadline_ms, mono_ms() + h->header_timeout_ms);
    pthread_mutex_lock(&h->tmu);
    if (t->klen) {
      struct ipcount **pp = ip_slot(h, t->key, t->klen);
      if (!*pp) {
        *pp = calloc(1, sizeof **pp);
        if (!*pp) gh_oom();
        memcpy((*pp)->key, t->key, t->klen);
        (*pp)->klen = t->klen;
      }
      (*pp)->n++;
      t->counted = true;
    }
    t->next = h->tracked;
    if (h->tracked) h->tracked->prev = t;
    h->tracked = t;
    pthread_mutex_unlock(&h->tmu);
    *socket_context = t;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    h->conns_open--;
    struct tracked *t = *socket_context;
    if (!t) return;
    pthread_mutex_lock(&h->tmu);
    if (t->counted) {
      struct ipcount **pp = ip_slot(h, t->key, t->klen);
      struct ipcount *c = *pp;
      if (c && --c->n == 0) {
        *pp = c->next;
        free(c);
      }
    }
    if (t->prev)
      t->prev->next = t->next;
    else
      h->tracked = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&h->tmu);
    free(t);
    *socket_context = NULL;
  }
}

static void set_deadline(struct MHD_Connection *conn, int64_t deadline_ms) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  struct tracked *t = ci ? ci->socket_context : NULL;
  if (t) atomic_store(&t->deadline_ms, deadline_ms);
}

/* Closes connections past their deadline (a head or a body that does not arrive in time; MHD's
 * own timeout is reset by every byte). The socket is shut down: MHD sees the end of the stream on
 * its thread and closes the connection as it would any other. */
static void *sweep_main(void *arg) {
  gh_http *h = arg;
  int64_t shortest =
      h->header_timeout_ms < h->body_timeout_ms ? h->header_timeout_ms : h->body_timeout_ms;
  int64_t period = shortest / 10 < 50 ? 50 : shortest / 10 > 1000 ? 1000 : shortest / 10;
  pthread_mutex_lock(&h->tmu);
  while (!h->tstop) {
    int64_t now = mono_ms();
    unsigned closed = 0;
    for (struct tracked *t = h->tracked; t; t = t->next) {
      int64_t d = atomic_load(&t->deadline_ms);
      if (d && d <= now && t->fd != MHD_INVALID_SOCKET) {
        shutdown(t->fd, SHUT_RDWR);
        atomic_store(&t->deadline_ms, 0);
        closed++;
      }
    }
    if (closed) {
      h->slow_closed += closed;
      char n[16];
      snprintf(n, sizeof n, "%u", closed);
      pthread_mutex_unlock(&h->tmu);
      gh_log(GH_LOG_WARN, "http.slow_client_closed", "count", n, NULL);
      pthread_mutex_lock(&h->tmu);
    }
    int64_t until = mono_ms() + period;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(&h->tcv, &h->tmu, &ts);
  }
  pthread_mutex_unlock(&h->tmu);
  return NULL;
}

static void stop_sweep(gh_http *h) {
  if (!h->sweep_running) return;
  pthread_mutex_lock(&h->tmu);
  h->tstop = true;
  pthread_cond_signal(&h->tcv);
  pthread_mutex_unlock(&h->tmu);
  pthread_join(h->sweep_thread, NULL);
  h->sweep_running = false;
}

/* ---------------------------------------------------------------- request state machine */

/* The request's state, created when its head is complete (the first access_cb call). */
static struct conn_state *conn_state_new(gh_http *h, struct MHD_Connection *conn,
                                         const char *method, const char *url) {
  struct conn_state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  atomic_fetch_add(&h->active, 1);
  st->h = h;
  st->conn = conn;
  st->req.arena = gh_arena_new();
  st->resp.arena = st->req.arena;
  st->req.method = gh_arena_strdup(st->req.arena, method);
  st->req.path = gh_arena_strdup(st->req.arena, url);
  return st;
}

/* Takes the header fields and query arguments once; returns the size of the head as the limit
 * counts it: request line plus fields and arguments (see struct collect). */
static size_t collect_head(struct conn_state *st) {
  gh_req *r = &st->req;
  struct collect hc = {.a = r->arena}, qc = {.a = r->arena};
  MHD_get_connection_values(st->conn, MHD_HEADER_KIND, collect_kv, &hc);
  MHD_get_connection_values(st->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &qc);
  r->headers = hc.v;
  r->nheaders = hc.n;
  r->query = qc.v;
  r->nquery = qc.n;
  /* the request line: method SP path SP "HTTP/1.1" CRLF */
  return strlen(r->method) + strlen(r->path) + 12 + hc.bytes + qc.bytes;
}

/* Head over max_header (431) or announced body over max_body (413): marked now, answered once
 * the body is in, or at once when more than DISCARD_MAX is announced. */
static enum MHD_Result check_head_limits(struct conn_state *st, size_t head_bytes) {
  gh_http *h = st->h;
  const char *cl = gh_req_header(&st->req, "Content-Length");
  unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
  if (head_bytes > h->max_header) {
    /* Answered as a 413 is: any body is read and discarded first (up to DISCARD_MAX). */
    st->too_large = st->headers_large = true;
    if (announced > DISCARD_MAX) return reject_too_large(st->conn, st);
  } else if (announced > h->max_body) {
    st->too_large = true;
    /* Up to DISCARD_MAX the body is read and thrown away and the 413 sent once it is in: a
     * server that answers and closes with unread data makes the kernel reset the connection,
     * and the client often never sees the 413. Bigger bodies are refused at once. */
    if (announced > DISCARD_MAX) return reject_too_large(st->conn, st);
  }
  return MHD_YES;
}

/* Two or more Content-Length fields with different values (RFC 9112 §6.3: unrecoverable, 400).
 * Identical repeats are accepted (the RFC allows a recipient to), as MHD reads the first. */
static bool conflicting_lengths(const gh_req *r) {
  const char *first = NULL;
  for (size_t i = 0; i < r->nheaders; i++) {
    if (strcasecmp(r->headers[i].name, "Content-Length") != 0) continue;
    if (!first)
      first = r->headers[i].value;
    else if (strcmp(first, r->headers[i].value) != 0)
      return true;
  }
  return false;
}

/* First call for a request: its head is complete. */
static enum MHD_Result on_head(gh_http *h, struct MHD_Connection *conn, const char *method,
                               const char *url, void **con_cls) {
  struct conn_state *st = conn_state_new(h, conn, method, url);
  if (!st) return MHD_NO;
  *con_cls = st;
  size_t head_bytes = collect_head(st);
  st->phase = PH_BODY;
  set_deadline(conn, mono_ms() + h->body_timeout_ms); /* until the body is in */
  if (conflicting_lengths(&st->req)) {
    st->phase = PH_DONE;
    gh_resp_error(&st->resp, GH_E_CONFLICTING_CONTENT_LENGTH);
    gh_resp_header(&st->resp, "Connection", "close");
    return send_resp(conn, &st->resp);
  }
  return check_head_limits(st, head_bytes);
}

/* Writes a complete 413 response straight to the socket (best effort, without blocking) and ends
 * the sending side, for a body MHD is still receiving. */
static void refuse_endless_body(struct conn_state *st) {
  const union MHD_ConnectionInfo *fi =
      MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  st->phase = PH_DONE;
  gh_resp_error(&st->resp, GH_E_PAYLOAD_TOO_LARGE);
  char *msg = gh_arena_printf(st->req.arena,
                              "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
                              st->resp.body_len, (int)st->resp.body_len, st->resp.body);
  if (fi && fi->connect_fd != MHD_INVALID_SOCKET) {
    ssize_t w = send(fi->connect_fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    shutdown(fi->connect_fd, SHUT_WR);
  }
  gh_log(GH_LOG_WARN, "http.body_refused", "reason", "chunked body over the limit", NULL);
}

/* A piece of the body: appended up to max_body; past it (or once too large) discarded. */
static enum MHD_Result on_upload(struct conn_state *st, const char *upload, size_t *upload_size) {
  gh_http *h = st->h;
  size_t n = *upload_size;
  *upload_size = 0;
  st->received += n;
  if (st->received > (unsigned long long)h->max_body + DISCARD_MAX) {
    /* Only a chunked body gets here (an announced one over DISCARD_MAX is refused at once): its
     * end is not in sight, so it is not read on. MHD takes no response in the middle of a body:
     * the 413 is written to the socket as is, then the connection is closed. */
    refuse_endless_body(st);
    return MHD_NO;
  }
  if (st->too_large || st->body_len + n > h->max_body) {
    st->too_large = true; /* discard the rest; answered when the upload ends */
    return MHD_YES;
  }
  if (st->body_len + n > st->body_cap) {
    size_t cap = st->body_cap ? st->body_cap : 1024;
    while (cap < st->body_len + n) cap *= 2;
    if (cap > h->max_body) cap = h->max_body;
    char *nb = realloc(st->body, cap);
    if (!nb) gh_oom();
    st->body = nb;
    st->body_cap = cap;
  }
  memcpy(st->body + st->body_len, upload, n);
  st->body_len += n;
  return MHD_YES;
}

/* The socket peer's address as text (NULL when MHD has none; "" for a family other than IP). */
static const char *peer_address(gh_arena *a, struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return NULL;
  char ip[INET6_ADDRSTRLEN] = "";
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
  return gh_arena_strdup(a, ip);
}

/* A slow route: to the worker pool with the connection suspended; with the queue full, a waiter
 * for a slot (admit_wait_ms) or 503 + Retry-After at once. */
static enum MHD_Result offload_slow(struct conn_state *st) {
  gh_http *h = st->h;
  if (!slow_admit(st)) {
    h->unfair++;
    h->shed++;
    gh_log(GH_LOG_WARN, "http.hash_share_exceeded", "ip", st->req.peer_ip, NULL);
    gh_resp_error(&st->resp, GH_E_SERVICE_UNAVAILABLE);
    return send_resp(st->conn, &st->resp);
  }
  if (!gh_workpool_reserve(h->pool)) {
    if (add_waiter(h, st)) return MHD_YES;
    h->shed++;
    gh_resp_error(&st->resp, GH_E_SERVICE_UNAVAILABLE);
    return send_resp(st->conn, &st->resp);
  }
  st->phase = PH_SUSPENDED;
  MHD_suspend_connection(st->conn);
  gh_workpool_submit(h->pool, run_slow, st);
  return MHD_YES;
}

/* A fast route: runs here, on the MHD thread, and counts towards gh_http_busy. */
static enum MHD_Result run_fast(struct conn_state *st) {
  gh_http *h = st->h;
  gh_ratemeter_hit(&h->fast_rate);
  st->route->fn(st->route->arg ? st->route->arg : h->app, &st->req, &st->resp);
  st->phase = PH_DONE;
  return send_resp(st->conn, &st->resp);
}

/* The upload is complete: the pending 413/431, else route (404 with an empty body when no route
 * matches), body checks, and the handler inline or on the worker pool. */
static enum MHD_Result dispatch(struct conn_state *st) {
  gh_http *h = st->h;
  gh_req *r = &st->req;
  gh_resp *resp = &st->resp;
  resp->status = 500;
  set_deadline(st->conn, 0); /* the request is in: no deadline while it is handled */
  if (st->too_large) return reject_too_large(st->conn, st);
  r->body = st->body;
  r->body_len = st->body_len;
  r->peer_ip = peer_address(r->arena, st->conn);
  st->route = gh_router_find(&h->router, r->method, r->path, NULL);
  if (!st->route) {
    h->unrouted++;
    gh_resp_empty(resp, 404, false);
    return send_resp(st->conn, resp);
  }
  if (!prepare_body(st)) return send_resp(st->conn, resp);
  if (st->route->flags & GH_ROUTE_SLOW && h->pool) return offload_slow(st);
  return run_fast(st);
}

/* MHD's access handler, called for a request: once when its head is in, once per piece of body,
 * once when the body is complete (*upload_size 0), and again after every resume. */
static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  (void)version;
  struct conn_state *st = *con_cls;
  if (!st) return on_head(cls, conn, method, url, con_cls);
  if (st->phase == PH_BODY && *upload_size) return on_upload(st, upload, upload_size);
  if (st->phase == PH_SUSPENDED) return MHD_YES;               /* spurious wake-up */
  if (st->phase == PH_DONE) return send_resp(conn, &st->resp); /* a resumed one, answered */
  return dispatch(st);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
  gh_log(GH_LOG_WARN, "http.mhd", "message", buf, NULL);
}

gh_status gh_http_start(const gh_http_config *cfg, const gh_route *routes, size_t nroutes,
                        void *app, gh_workpool *pool, gh_http **out) {
  gh_http *h = gh_xcalloc(1, sizeof *h);
  h->listen_fd = MHD_INVALID_SOCKET;
  gh_router_init(&h->router, routes, nroutes);
  h->app = app;
  h->pool = pool;
  h->max_body = cfg->max_body;
  gh_ratemeter_init(&h->fast_rate, cfg->busy_rps);
  h->max_header = cfg->max_header ? cfg->max_header : 16384;
  /* MHD keeps the whole request head in the connection's memory pool and answers a head that
   * does not fit with its own HTML 431 (0.9.75 sends the status line and headers twice when the
   * head fills more than half of the pool). By default the pool is 2 × max_header + 16 KiB (at
   * least 64 KiB) so that our JSON 431 answers heads up to about twice the limit. It is not made
   * bigger: MHD zeroes the whole pool before every request on a connection. */
  size_t conn_memory = cfg->conn_memory;
  if (!conn_memory)
    conn_memory = 2 * h->max_header + 16384 > 65536 ? 2 * h->max_header + 16384 : 65536;

  struct sockaddr_in6 a6 = {0};
  struct sockaddr_in a4 = {0};
  const struct sockaddr *sa;
  unsigned flags =
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
  const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
  if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)cfg->port);
    sa = (const struct sockaddr *)&a4;
  } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)cfg->port);
    sa = (const struct sockaddr *)&a6;
    flags |= MHD_USE_IPv6;
  } else if (strcmp(host, "localhost") == 0) {
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)cfg->port);
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa = (const struct sockaddr *)&a4;
  } else {
    free(h);
    return GH_ERR_CONFIG;
  }

  h->per_ip_limit = cfg->per_ip_limit;
  h->slow_per_client = cfg->slow_per_client;
  h->trusted = cfg->trusted_proxies;
  h->header_timeout_ms = 1000LL * (cfg->header_timeout_s ? cfg->header_timeout_s : 10);
  h->body_timeout_ms = 1000LL * (cfg->body_timeout_s ? cfg->body_timeout_s : 30);
  h->idle_timeout_ms = 1000LL * (cfg->conn_timeout_s ? cfg->conn_timeout_s : 30);
  pthread_mutex_init(&h->tmu, NULL);
  pthread_condattr_t tca;
  pthread_condattr_init(&tca);
  pthread_condattr_setclock(&tca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->tcv, &tca);
  pthread_condattr_destroy(&tca);

  h->d = MHD_start_daemon(
      flags, (uint16_t)cfg->port, accept_policy, h, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER,
      mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
      (unsigned)(cfg->threads ? cfg->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)(cfg->conn_limit ? cfg->conn_limit : 1000), MHD_OPTION_NOTIFY_CONNECTION,
      notify_conn, h, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)(cfg->conn_timeout_s ? cfg->conn_timeout_s : 30),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_memory, MHD_OPTION_NOTIFY_COMPLETED, complete_cb, h,
      MHD_OPTION_END);
  if (!h->d) {
    pthread_cond_destroy(&h->tcv);
    pthread_mutex_destroy(&h->tmu);
    free(h);
    return GH_ERR_IO;
  }
  if (pthread_create(&h->sweep_thread, NULL, sweep_main, h) != 0) {
    MHD_stop_daemon(h->d);
    pthread_cond_destroy(&h->tcv);
    pthread_mutex_destroy(&h->tmu);
    free(h);
    return GH_ERR_IO;
  }
  h->sweep_running = true;
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = di ? di->port : cfg->port;
  h->admit_wait_ms = pool ? cfg->admit_wait_ms : 0;
  h->max_waiting = cfg->conn_limit ? cfg->conn_limit : 1000;
  pthread_mutex_init(&h->wmu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->wcv, &ca);
  pthread_condattr_destroy(&ca);
  if (h->admit_wait_ms > 0) {
    if (pthread_create(&h->admit_thread, NULL, admit_main, h) == 0)
      h->admit_running = true;
    else
      h->admit_wait_ms = 0; /* fall back to answering 503 at once */
  }
  *out = h;
  return GH_OK;
}

int gh_http_port(const gh_http *h) {
  return h->port;
}

void gh_http_quiesce(gh_http *h, int drain_ms) {
  stop_admission(h); /* waiters get 503 now; later full-queue requests too */
  /* The listen socket is handed back, but each pool thread removes it from its own epoll set
   * when it next wakes up: closing it now makes a late epoll_ctl(DEL) fail, which MHD treats as
   * fatal. It is closed in gh_http_free, after MHD_stop_daemon. */
  if (h->listen_fd == MHD_INVALID_SOCKET) h->listen_fd = MHD_quiesce_daemon(h->d);
  struct timespec ts = {0, 10 * 1000 * 1000};
  for (int waited = 0; waited < drain_ms && atomic_load(&h->active) > 0; waited += 10)
    nanosleep(&ts, NULL);
}

void gh_http_free(gh_http *h) {
  if (!h) return;
  stop_admission(h);
  stop_sweep(h);
  MHD_stop_daemon(h->d);
  if (h->listen_fd != MHD_INVALID_SOCKET) close(h->listen_fd);
  pthread_cond_destroy(&h->tcv);
  pthread_mutex_destroy(&h->tmu);
  pthread_cond_destroy(&h->wcv);
  pthread_mutex_destroy(&h->wmu);
  free(h);
}

void gh_http_stats_get(gh_http *h, gh_http_stats *out) {
  out->conns_open = h->conns_open;
  out->refused_per_ip = h->refused_per_ip;
  out->slow_closed = h->slow_closed;
  out->unrouted = h->unrouted;
  out->shed = h->shed;
  out->waited = h->waited;
  out->unfair = h->unfair;
}
