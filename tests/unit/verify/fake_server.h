/* Test helpers for libgatehouse-verify: an in-process HTTP server (libmicrohttpd on 127.0.0.1,
 * port 0) standing in for gatehouse. It serves /api/auth/jwks (a JWKS document the test sets,
 * with an optional Cache-Control header and status) and /api/auth/get-session (status and body
 * the test sets), counts the requests to each and records the Cookie and Authorization headers
 * it received. Also: a port on which nothing listens, and a socket that accepts connections but
 * never answers. Header-only (static functions), included by each test_*.c. */
#ifndef GHV_TEST_FAKE_SERVER_H
#define GHV_TEST_FAKE_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  struct MHD_Daemon *d;
  int port;
  char base[64]; /* "http://127.0.0.1:<port>" */
  pthread_mutex_t mu;
  char *jwks;             /* body of /api/auth/jwks */
  unsigned jwks_status;   /* default 200 */
  char cache_control[64]; /* empty: no Cache-Control header */
  bool jwks_chunked;      /* send the JWKS without Content-Length (chunked) */
  char *session_body;     /* body of /api/auth/get-session */
  unsigned session_status;
  char last_cookie[512];
  char last_auth[512];
  atomic_int jwks_hits;
  atomic_int session_hits;
} fake_srv;

/* A body streamed with chunked encoding (no Content-Length), so that the client cannot refuse
 * it up front and must stop reading once over its limit. */
typedef struct {
  char *body;
  size_t len;
} stream_body;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  stream_body *b = cls;
  if (pos >= b->len) return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = b->len - (size_t)pos;
  if (n > max) n = max;
  if (n > 512) n = 512;
  memcpy(buf, b->body + pos, n);
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  stream_body *b = cls;
  free(b->body);
  free(b);
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
  (void)version;
  (void)upload_data;
  (void)upload_data_size;
  (void)method;
  fake_srv *s = cls;
  static int marker;
  if (*con_cls == NULL) {
    *con_cls = &marker;
    return MHD_YES;
  }
  unsigned status = 404;
  const char *body = "{\"error\":\"not found\"}";
  char *copy = NULL;
  char cc[64] = "";
  bool chunked = false;
  pthread_mutex_lock(&s->mu);
  if (strcmp(url, "/api/auth/jwks") == 0) {
    atomic_fetch_add(&s->jwks_hits, 1);
    status = s->jwks_status;
    copy = strdup(s->jwks ? s->jwks : "");
    memcpy(cc, s->cache_control, sizeof cc);
    chunked = s->jwks_chunked;
  } else if (strcmp(url, "/api/auth/get-session") == 0) {
    atomic_fetch_add(&s->session_hits, 1);
    status = s->session_status;
    copy = strdup(s->session_body ? s->session_body : "");
    const char *ck = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
    const char *au = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(s->last_cookie, sizeof s->last_cookie, "%s", ck ? ck : "");
    snprintf(s->last_auth, sizeof s->last_auth, "%s", au ? au : "");
  }
  pthread_mutex_unlock(&s->mu);
  if (copy) body = copy;
  struct MHD_Response *r;
  stream_body *sb = chunked && copy ? malloc(sizeof *sb) : NULL;
  if (sb) {
    sb->body = copy;
    sb->len = strlen(copy);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 512, stream_read, sb, stream_free);
  } else {
    r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    free(copy);
  }
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (cc[0]) MHD_add_response_header(r, "Cache-Control", cc);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static inline fake_srv *fake_start(void) {
  fake_srv *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  s->jwks_status = 200;
  s->session_status = 200;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                          fake_handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
  if (!s->d) {
    free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
  return s;
}

static inline void fake_stop(fake_srv *s) {
  if (s && s->d) {
    MHD_stop_daemon(s->d);
    s->d = NULL;
  }
}

static inline void fake_free(fake_srv *s) {
  if (!s) return;
  fake_stop(s);
  free(s->jwks);
  free(s->session_body);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static inline void fake_set_jwks(fake_srv *s, const char *jwks, unsigned status, const char *cc) {
  pthread_mutex_lock(&s->mu);
  free(s->jwks);
  s->jwks = strdup(jwks);
  s->jwks_status = status;
  snprintf(s->cache_control, sizeof s->cache_control, "%s", cc ? cc : "");
  pthread_mutex_unlock(&s->mu);
}

static inline void fake_set_session(fake_srv *s, unsigned status, const char *body) {
  pthread_mutex_lock(&s->mu);
  free(s->session_body);
  s->session_body = strdup(body);
  s->session_status = status;
  pthread_mutex_unlock(&s->mu);
}

/* A loopback port that refuses connections (bound then closed). */
static inline int refused_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    if (fd >= 0) close(fd);
    return 1;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

/* A listening socket that never accepts: connections complete in the backlog and requests are
 * never answered. Returns the fd (close it when done) and its port. */
static inline int silent_listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

#endif
