/* http/router: exact method + path routes first, then GH_ROUTE_PREFIX routes in table order; a
 * path known under another method reports path_known. Through a real gh_http: no route answers
 * 404 with an empty body (also for a known path with another method) and the query string is not
 * part of the routed path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/router.h"

static void h_status(gh_resp *resp, int status, const char *path) {
  gh_resp_empty(resp, status, false);
  gh_resp_header(resp, "X-Path", path);
}
static void h_a(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  h_status(resp, 201, req->path);
}
static void h_b(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  h_status(resp, 202, req->path);
}
static void h_c(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  h_status(resp, 203, req->path);
}

static const gh_route ROUTES[] = {
    /* 0 */ {"GET", "/api/", h_c, GH_ROUTE_PREFIX, NULL},
    /* 1 */ {"GET", "/api/exact", h_a, 0, NULL},
    /* 2 */ {"POST", "/api/exact", h_b, 0, NULL},
    /* 3 */ {"GET", "/api/", h_b, GH_ROUTE_PREFIX, NULL}, /* shadowed by route 0 */
    /* 4 */ {"POST", "/api/p", h_a, GH_ROUTE_PREFIX, NULL},
    /* 5 */ {"GET", "/ok", h_a, 0, NULL},
    /* 6 */ {"DELETE", "/api/", h_a, 0, NULL}, /* exact "/api/": only that path */
};
#define NROUTES (sizeof ROUTES / sizeof *ROUTES)

static const gh_route *find(const char *method, const char *path, bool *known) {
  gh_router rt;
  gh_router_init(&rt, ROUTES, NROUTES);
  return gh_router_find(&rt, method, path, known);
}

static void exact_match(void **state) {
  (void)state;
  bool known = false;
  assert_ptr_equal(find("GET", "/ok", &known), &ROUTES[5]);
  assert_true(known);
  assert_ptr_equal(find("POST", "/api/exact", &known), &ROUTES[2]);
  assert_ptr_equal(find("DELETE", "/api/", &known), &ROUTES[6]);
  assert_null(find("GET", "/ok/", &known)); /* no trailing-slash folding */
  assert_false(known);
  assert_null(find("GET", "/OK", &known)); /* case-sensitive */
  assert_null(find("GET", "/o", &known));  /* exact routes are not prefixes */
  assert_false(known);
  assert_null(find("GET", "", &known));
  assert_ptr_equal(find("GET", "/ok", NULL), &ROUTES[5]); /* path_known is optional */
}

static void method_mismatch(void **state) {
  (void)state;
  bool known = false;
  assert_null(find("POST", "/ok", &known));
  assert_true(known); /* the path exists under another method */
  known = false;
  assert_null(find("get", "/ok", &known)); /* methods are case-sensitive */
  assert_true(known);
  known = false;
  assert_null(find("PUT", "/api/exact", &known)); /* neither exact nor prefix has PUT */
  assert_true(known);
  assert_null(find("POST", "/nope", NULL));
}

static void prefix_routes(void **state) {
  (void)state;
  bool known = false;
  assert_ptr_equal(find("GET", "/api/", &known), &ROUTES[0]); /* the prefix itself */
  assert_ptr_equal(find("GET", "/api/x/y", &known), &ROUTES[0]);
  assert_ptr_equal(find("POST", "/api/p", &known), &ROUTES[4]);
  assert_ptr_equal(find("POST", "/api/pq/r", &known), &ROUTES[4]); /* a plain string prefix */
  known = false;
  assert_null(find("POST", "/api/q", &known)); /* under GET's prefix only */
  assert_true(known);
  known = true;
  assert_null(find("GET", "/api", &known)); /* shorter than the prefix */
  assert_false(known);
}

static void exact_before_prefix(void **state) {
  (void)state;
  bool known = false;
  /* route 0 (prefix, earlier in the table) also matches: the exact one wins */
  assert_ptr_equal(find("GET", "/api/exact", &known), &ROUTES[1]);
  /* an exact path with another method falls through to the prefix routes */
  assert_ptr_equal(find("GET", "/api/", &known), &ROUTES[0]);
  assert_ptr_equal(find("POST", "/api/exact", &known), &ROUTES[2]);
  /* prefix routes in table order: 0 before 3 */
  assert_ptr_equal(find("GET", "/api/zzz", &known), &ROUTES[0]);
}

/* ---------------------------------------------------------------- through gh_http */

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* One request on a fresh connection; returns the whole response (Connection: close). */
static void roundtrip(int port, const char *method, const char *target, char *out, size_t cap) {
  int fd = connect_to(port);
  char req[256];
  int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                   method, target);
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, out + got, cap - 1 - got);
    assert_true(r >= 0);
    if (r == 0) break;
    got += (size_t)r;
  }
  out[got] = 0;
  close(fd);
}

static void over_http(void **state) {
  (void)state;
  gh_http_config cfg = {.host = "127.0.0.1", .port = 0, .max_body = 1024, .threads = 1};
  gh_http *h;
  assert_int_equal(gh_http_start(&cfg, ROUTES, NROUTES, NULL, NULL, &h), GH_OK);
  int port = gh_http_port(h);
  char buf[2048];

  roundtrip(port, "GET", "/ok?x=1&y=%2F", buf, sizeof buf); /* the query is not in the path */
  assert_memory_equal(buf, "HTTP/1.1 201", 12);
  assert_non_null(strstr(buf, "X-Path: /ok\r\n"));
  roundtrip(port, "GET", "/api/exact?z", buf, sizeof buf);
  assert_memory_equal(buf, "HTTP/1.1 201", 12);
  roundtrip(port, "GET", "/api/x?/y", buf, sizeof buf);
  assert_memory_equal(buf, "HTTP/1.1 203", 12);
  assert_non_null(strstr(buf, "X-Path: /api/x\r\n"));

  const char *misses[][2] = {{"GET", "/nope"}, {"POST", "/ok"}, {"GET", "/ok/"}};
  for (size_t i = 0; i < 3; i++) { /* 404, no body and no Content-Type; never 405 */
    roundtrip(port, misses[i][0], misses[i][1], buf, sizeof buf);
    assert_memory_equal(buf, "HTTP/1.1 404", 12);
    assert_non_null(strstr(buf, "Content-Length: 0\r\n"));
    assert_null(strstr(buf, "Content-Type"));
    char *end = strstr(buf, "\r\n\r\n");
    assert_non_null(end);
    assert_string_equal(end, "\r\n\r\n");
  }
  gh_http_quiesce(h, 1000);
  gh_http_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exact_match),   cmocka_unit_test(method_mismatch),
      cmocka_unit_test(prefix_routes), cmocka_unit_test(exact_before_prefix),
      cmocka_unit_test(over_http),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
