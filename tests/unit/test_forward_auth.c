/* Forward auth with a role (src/plugins/forward_auth.c): a test plugin declares the admin plugin's
 * "role" user field through the plugin-fields mechanism, so X-Auth-Role and the per-path role rules
 * can be checked with a user that has a role (the e2e suite covers the rest with users without
 * one): X-Auth-Role carries the role, a rule is satisfied by one of the user's comma-separated
 * roles, the longest prefix wins, and a user whose role the rule does not list gets 403. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/plugin.h"
#include "common/workpool.h"
#include "http/http.h"
#include "plugins/plugins.h"
#include "store/store.h"

static const gh_field USER_FIELDS[] = {{"role", GH_FIELD_STRING, NULL, false, false}};
static const gh_store_migration MIG[] = {
    {"test-role/001_role", "alter table \"user\" add column \"role\" text;",
     "alter table \"user\" add column if not exists \"role\" text;"},
};
static const gh_plugin PLUGIN_ROLE = {
    .id = "test-role",
    .summary = "the admin plugin's role field, for the test",
    .migrations = MIG,
    .nmigrations = 1,
    .user_fields = USER_FIELDS,
    .nuser_fields = 1,
};

#define SECRET "unit-test-secret-0123456789abcdef-0123456789"

static const char *request(int port, const char *path, const char *headers) {
  static char buf[16384];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[4096];
  int n =
      snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
               path, headers ? headers : "");
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  ssize_t r;
  while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
  buf[got] = 0;
  close(fd);
  return buf;
}

static const char *post(int port, const char *path, const char *body) {
  static char buf[16384];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
                   "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   path, strlen(body), body);
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  ssize_t r;
  while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
  buf[got] = 0;
  close(fd);
  return buf;
}

/* A user with this role (NULL: none): its Cookie header in out. */
static void user_with_role(int port, gh_store *st, const char *role, char *out, size_t len) {
  char email[64], body[256], id[64];
  snprintf(email, sizeof email, "r%u@example.com", (unsigned)randombytes_random());
  snprintf(body, sizeof body, "{\"name\":\"R\",\"email\":\"%s\",\"password\":\"correct-horse\"}",
           email);
  const char *r = post(port, "/api/auth/sign-up/email", body);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  const char *sc = strstr(r, "better-auth.session_token=");
  assert_non_null(sc);
  size_t cn = strcspn(sc, ";");
  assert_true(cn + 9 < len);
  snprintf(out, len, "Cookie: %.*s\r\n", (int)cn, sc);
  const char *ip = strstr(r, ",\"id\":\"");
  assert_non_null(ip);
  ip += 7;
  size_t in = strcspn(ip, "\"");
  assert_true(in < sizeof id);
  memcpy(id, ip, in);
  id[in] = 0;
  static const gh_query SET_ROLE = {"set_role",
                                    "update \"user\" set \"role\" = ?1 where \"id\" = ?2",
                                    "update \"user\" set \"role\" = $1 where \"id\" = $2", NULL};
  long changes = 0;
  assert_int_equal(gh_store_exec(st, &SET_ROLE, &changes, "tt", role, id), GH_OK);
  assert_int_equal(changes, 1);
}

static bool has_header(const char *r, const char *line) {
  return strstr(r, line) != NULL;
}

static void roles_and_rules(void **state) {
  (void)state;
  char url[256];
  snprintf(url, sizeof url, "sqlite:%s/gh-test-fa-%d.db", P_tmpdir, (int)getpid());
  setenv("GATEHOUSE_FORWARD_AUTH_RULES", "/admin/=admin; /admin/reports/=auditor; /ops=admin,ops",
         1);
  const gh_plugin *const avail[] = {&gh_plugin_forward_auth, &PLUGIN_ROLE};
  gh_plugin_set *ps = NULL;
  char err[512];
  assert_int_equal(gh_plugin_set_new(avail, 2, "test-role", &ps, err, sizeof err), GH_OK);
  size_t nm;
  const gh_store_migration *m = gh_plugin_set_migrations(ps, &nm);
  gh_store *st;
  assert_int_equal(gh_store_open(url, &st), GH_OK);
  assert_int_equal(gh_store_migrate(st, m, nm, NULL), GH_OK);
  gh_store_thread_init(url);
  gh_auth_config cfg = {.secret = SECRET,
                        .base_url = "http://127.0.0.1:3000",
                        .expires_in = 604800,
                        .update_age = 86400,
                        .fresh_age = 86400,
                        .min_password = 8,
                        .max_password = 128};
  gh_auth *au = NULL;
  assert_int_equal(gh_auth_new(&cfg, ps, &au), GH_OK);
  size_t nroutes;
  const gh_route *routes = gh_auth_routes(au, &nroutes);
  gh_workpool *pool;
  assert_int_equal(gh_workpool_new(1, 8, 0, &pool), GH_OK);
  gh_http_config hc = {.host = "127.0.0.1", .port = 0, .max_body = 65536, .threads = 2};
  gh_http *h;
  assert_int_equal(gh_http_start(&hc, routes, nroutes, au, pool, &h), GH_OK);
  int port = gh_http_port(h);

  char admin[512], ops[512], plain[512], none[512], hdr[1024];
  user_with_role(port, st, "user,admin", admin, sizeof admin);
  user_with_role(port, st, "ops", ops, sizeof ops);
  user_with_role(port, st, "user", plain, sizeof plain);
  user_with_role(port, st, NULL, none, sizeof none);

  /* X-Auth-Role: the role field as stored; absent without one */
  const char *r = request(port, "/api/auth/forward-auth", admin);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_true(has_header(r, "X-Auth-Role: user,admin\r\n"));
  r = request(port, "/api/auth/forward-auth", none);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_false(has_header(r, "X-Auth-Role"));

  static const struct {
    const char *uri;
    int admin, ops, plain, none; /* expected status per user */
  } CASES[] = {
      {"/admin/users", 200, 403, 403, 403},
      {"/admin", 200, 403, 403, 403},
      {"/x/../admin/users", 200, 403, 403, 403},
      {"/admin/reports/q3", 403, 403, 403, 403}, /* the longest prefix: auditor only */
      {"/ops/deploy", 200, 200, 403, 403},
      {"/public", 200, 200, 200, 200},
  };
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const char *users[] = {admin, ops, plain, none};
    const int want[] = {CASES[i].admin, CASES[i].ops, CASES[i].plain, CASES[i].none};
    for (size_t u = 0; u < 4; u++) {
      snprintf(hdr, sizeof hdr, "%sX-Forwarded-Uri: %s\r\n", users[u], CASES[i].uri);
      r = request(port, "/api/auth/forward-auth", hdr);
      char line[32];
      snprintf(line, sizeof line, "HTTP/1.1 %d", want[u]);
      if (!strstr(r, line))
        fail_msg("%s as user %zu: want %d, got %.40s", CASES[i].uri, u, want[u], r);
      if (want[u] == 403) assert_non_null(strstr(r, "\"code\":\"ROLE_NOT_ALLOWED\""));
    }
  }

  gh_http_quiesce(h, 1000);
  gh_workpool_free(pool);
  gh_http_free(h);
  gh_auth_free(au);
  gh_plugin_set_free(ps);
  gh_store_close(st);
  unsetenv("GATEHOUSE_FORWARD_AUTH_RULES");
  unlink(url + 7);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(roles_and_rules)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
