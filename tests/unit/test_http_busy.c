/* http: gh_http_busy() reports a steady rate of fast requests (measured over 100 ms windows) and
 * stops reporting it once they stop; slow (worker-pool) routes do not count. A real gh_http on a
 * loopback port, driven with keep-alive requests over a plain socket. */
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

#include "common/workpool.h"
#include "http/http.h"

static void ok_handler(void *app, gh_req *req, gh_resp *resp) {
  (void)app, (void)req;
  gh_resp_empty(resp, 204, false);
}

static const gh_route ROUTES[] = {
    {"GET", "/fast", ok_handler, 0, NULL},
    {"GET", "/slow", ok_handler, GH_ROUTE_SLOW, NULL},
};

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* One keep-alive request; returns once the whole 204 response is in. */
static void get(int fd, const char *path) {
  char req[128], buf[1024];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
    assert_true(r > 0);
    got += (size_t)r;
    buf[got] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
  assert_memory_equal(buf, "HTTP/1.1 204", 12);
}

static void busy_meter(void **state) {
  (void)state;
  gh_workpool *pool;
  assert_int_equal(gh_workpool_new(1, 8, 0, &pool), GH_OK);
  gh_http_config cfg = {.host = "127.0.0.1",
                        .port = 0,
                        .max_body = 1024,
                        .threads = 2,
                        .busy_rps = 10 /* one request per 100 ms window */};
  gh_http *h;
  assert_int_equal(gh_http_start(&cfg, ROUTES, 2, NULL, pool, &h), GH_OK);
  int fd = connect_to(gh_http_port(h));
  /* Which requests the server's meter counts (its arithmetic over time is test_ratemeter's, with
   * explicit clocks): with a threshold of one per window, one fast request makes it busy at once,
   * any number of slow ones never do. No assertion depends on how fast this machine is. */
  assert_false(gh_http_busy(h));                 /* nothing yet */
  for (int i = 0; i < 60; i++) get(fd, "/slow"); /* slow routes do not count */
  assert_false(gh_http_busy(h));
  get(fd, "/fast");
  assert_true(gh_http_busy(h));
  usleep(350000); /* no request for more than a whole window */
  assert_false(gh_http_busy(h));
  close(fd);
  gh_http_quiesce(h, 1000);
  gh_workpool_free(pool);
  gh_http_free(h);
}

static void never_busy_without_rate(void **state) {
  (void)state;
  gh_http_config cfg = {.host = "127.0.0.1", .port = 0, .max_body = 1024, .threads = 1};
  gh_http *h;
  assert_int_equal(gh_http_start(&cfg, ROUTES, 1, NULL, NULL, &h), GH_OK);
  int fd = connect_to(gh_http_port(h));
  for (int i = 0; i < 100; i++) get(fd, "/fast");
  assert_false(gh_http_busy(h)); /* busy_rps 0: the meter is off */
  close(fd);
  gh_http_quiesce(h, 1000);
  gh_http_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(busy_meter),
                                     cmocka_unit_test(never_busy_without_rate)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
