/* auth/registry: a test plugin registered here gets its route served (by a real gh_http over
 * loopback, with its own state), its option parsed, validated and printed, its migration applied
 * after the core's, its wire error answered, and each hook called
 * in plugin order around the core's handlers; GATEHOUSE_PLUGINS errors name the bad id. */
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
#include "auth/db.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "common/workpool.h"
#include "http/http.h"
#include "store/store.h"

/* ---------------------------------------------------------------- the test plugins */

static char events[4096];

static void ev(const char *who, const char *what) {
  size_t n = strlen(events);
  snprintf(events + n, sizeof events - n, "%s%s.%s", n ? " " : "", who, what);
}

typedef struct {
  char *greeting;
  long times;
} tconf;

typedef struct {
  const char *name; /* "a" / "b" */
  gh_auth *au;
  char *greeting;
  long times;
} tself;

static const gh_conf_opt OPTS_A[] = {
    {"GH_TEST_PLUGIN_GREETING", NULL, GH_CONF_STR, "hello", 0, 0, 0, offsetof(tconf, greeting),
     "What the test route answers"},
    {"GH_TEST_PLUGIN_TIMES", NULL, GH_CONF_INT, "1", 1, 5, 0, offsetof(tconf, times),
     "How many times"},
};

static gh_status validate_a(const void *conf, const char **err) {
  const tconf *c = conf;
  if (strchr(c->greeting, '!')) {
    *err = "GH_TEST_PLUGIN_GREETING: no exclamation marks";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

static gh_status init_common(const char *name, const void *conf, void **self) {
  tself *t = calloc(1, sizeof *t);
  t->name = name;
  if (conf) {
    const tconf *c = conf;
    t->greeting = strdup(c->greeting);
    t->times = c->times;
  }
  *self = t;
  ev(name, "init");
  return GH_OK;
}

static gh_status init_a(gh_auth *au, const void *conf, void **self) {
  gh_status rc = init_common("a", conf, self);
  ((tself *)*self)->au = au;
  return rc;
}

static gh_status init_b(gh_auth *au, const void *conf, void **self) {
  (void)au, (void)conf;
  return init_common("b", NULL, self);
}

static void free_t(void *self) {
  tself *t = self;
  ev(t->name, "free");
  free(t->greeting);
  free(t);
}

static const gh_err_info ERRS_A[] = {{418, "TEST_PLUGIN_TEAPOT", "I am a teapot"}};

static void hello(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  tself *t = self;
  ev(t->name, "hello");
  char body[256] = "";
  for (long i = 0; i < t->times; i++) {
    size_t n = strlen(body);
    snprintf(body + n, sizeof body - n, "%s%s", i ? " " : "", t->greeting);
  }
  gh_resp_raw_json(resp, 200, gh_arena_printf(resp->arena, "{\"said\":\"%s\"}", body));
}

static void teapot(void *self, gh_req *req, gh_resp *resp) {
  (void)self, (void)req;
  gh_auth_error(resp, &ERRS_A[0]);
}

/* A route that hands the session on (as forward-auth does): gh_auth_session_returned runs every
 * plugin's session_returned hook on its response. */
static void whoami(void *self, gh_req *req, gh_resp *resp) {
  tself *t = self;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  gh_sess s;
  assert_int_equal(gh_session_resolve(t->au, st, req, &s), GH_OK);
  if (!s.found) {
    gh_resp_empty(resp, 401, false);
    return;
  }
  gh_auth_session_returned(t->au, st, req, resp, &s);
  gh_resp_raw_json(resp, 200, gh_arena_printf(resp->arena, "{\"id\":\"%s\"}", s.u.id));
}

static const gh_route ROUTES_A[] = {
    {"GET", "/api/auth/test-plugin/hello", hello, 0, NULL},
    {"GET", "/api/auth/test-plugin/teapot", teapot, 0, NULL},
    {"GET", "/api/auth/test-plugin/whoami", whoami, 0, NULL},
};

static const gh_store_migration MIG_A[] = {
    {"test-plugin/001_things", "create table \"things\" (\"id\" text primary key)",
     "create table \"things\" (\"id\" text primary key)"},
};

/* hooks: each records "<plugin>.<hook>" */
static tself *T(void *self) {
  return self;
}

static gh_status credential(void *self, gh_req *req, gh_credential *out) {
  ev(T(self)->name, "credential");
  const char *h = gh_req_header(req, "X-Test-Token");
  if (h && strcmp(T(self)->name, "b") == 0) out->token = h; /* plugin b reads X-Test-Token */
  return GH_OK;
}

static bool before_route(void *self, gh_req *req, gh_resp *resp) {
  ev(T(self)->name, "before");
  if (strcmp(T(self)->name, "a") == 0 && gh_req_header(req, "X-Block")) {
    gh_resp_error_msg(resp, 429, "TOO_MANY_REQUESTS", "blocked by a");
    return false;
  }
  return true;
}

static void after_route(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  ev(T(self)->name, "after");
  gh_resp_header(resp, gh_arena_printf(resp->arena, "x-after-%s", T(self)->name), "1");
}

static void session_created(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                            const gh_session *s, const gh_user *u) {
  (void)st, (void)req, (void)resp;
  assert_non_null(s->token);
  assert_string_equal(s->user_id, u->id);
  ev(T(self)->name, "session_created");
}

static void session_returned(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                             const gh_sess *s) {
  (void)st, (void)req, (void)resp;
  assert_true(s->found);
  ev(T(self)->name, "session_returned");
}

static void session_revoked(void *self, gh_store *st, const gh_revocation *r) {
  (void)st;
  assert_non_null(r->user_id);
  ev(T(self)->name, r->token ? "session_revoked(one)" : "session_revoked(all)");
}

static gh_status serve_start(void *self) {
  ev(T(self)->name, "serve_start");
  return GH_OK;
}

static void serve_stop(void *self) {
  ev(T(self)->name, "serve_stop");
}

/* plugin a refuses the sign-in of gated@example.com (as a ban would), b lets everyone through */
static bool sign_in_gate(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                         const gh_sign_in *si) {
  (void)st, (void)req;
  assert_string_equal(si->method, "email");
  ev(T(self)->name, "sign_in");
  if (strcmp(T(self)->name, "a") == 0 && strcmp(si->user->email, "gated@example.com") == 0) {
    gh_resp_error_msg(resp, 403, "TEST_GATED", "gated by a");
    return false;
  }
  return true;
}

static void user_created(void *self, gh_store *st, const gh_user *u) {
  (void)st;
  assert_non_null(u->id);
  ev(T(self)->name, "user_created");
}

static void sign_up_hook(void *self, gh_store *st, gh_req *req, const gh_user *u, bool created,
                         const char *callback) {
  (void)st, (void)req, (void)callback;
  assert_non_null(u->id);
  ev(T(self)->name, created ? "sign_up" : "sign_up(existing)");
}

static void user_deleted(void *self, gh_store *st, const char *user_id) {
  (void)st;
  assert_non_null(user_id);
  ev(T(self)->name, "user_deleted");
}

static const gh_plugin PLUGIN_A = {
    .id = "test-a",
    .summary = "a test plugin",
    .opts = OPTS_A,
    .nopts = 2,
    .conf_size = sizeof(tconf),
    .validate = validate_a,
    .init = init_a,
    .free = free_t,
    .routes = ROUTES_A,
    .nroutes = 3,
    .errors = ERRS_A,
    .nerrors = 1,
    .migrations = MIG_A,
    .nmigrations = 1,
    .credential = credential,
    .before_route = before_route,
    .after_route = after_route,
    .sign_in = sign_in_gate,
    .serve_start = serve_start,
    .serve_stop = serve_stop,
    .session_created = session_created,
    .session_returned = session_returned,
    .session_revoked = session_revoked,
    .user_created = user_created,
    .sign_up = sign_up_hook,
    .user_deleted = user_deleted,
};

static const gh_rate_rule RATE_B[] = {{"/test-b/", 10, 3}};

static const gh_plugin PLUGIN_B = {
    .id = "test-b",
    .summary = "another",
    .rate_rules = RATE_B,
    .nrate_rules = 1,
    .init = init_b,
    .free = free_t,
    .credential = credential,
    .before_route = before_route,
    .after_route = after_route,
    .sign_in = sign_in_gate,
    .serve_start = serve_start,
    .serve_stop = serve_stop,
    .session_created = session_created,
    .session_returned = session_returned,
    .session_revoked = session_revoked,
    .user_created = user_created,
    .sign_up = sign_up_hook,
    .user_deleted = user_deleted,
};

static const gh_err_info ERRS_CLASH[] = {{400, "INVALID_PASSWORD", "clash"}};
static const gh_plugin PLUGIN_CLASH = {.id = "clash", .errors = ERRS_CLASH, .nerrors = 1};

static const gh_route ROUTE_CLASH[] = {{"GET", "/api/auth/get-session", hello, 0, NULL}};
static const gh_plugin PLUGIN_ROUTE_CLASH = {
    .id = "route-clash", .routes = ROUTE_CLASH, .nroutes = 1};

static const gh_plugin *const AVAILABLE[] = {&PLUGIN_A, &PLUGIN_B, &PLUGIN_CLASH,
                                             &PLUGIN_ROUTE_CLASH};
#define NAVAIL (sizeof AVAILABLE / sizeof AVAILABLE[0])

/* ---------------------------------------------------------------- helpers */

#define SECRET "unit-test-secret-0123456789abcdef-0123456789"

static gh_auth *new_auth(const gh_plugin_set *ps) {
  gh_auth_config cfg = {.secret = SECRET,
                        .base_url = "http://127.0.0.1:3000",
                        .expires_in = 604800,
                        .update_age = 86400,
                        .fresh_age = 86400,
                        .min_password = 8,
                        .max_password = 128,
                        .delete_user_enabled = true};
  gh_auth *au = NULL;
  assert_int_equal(gh_auth_new(&cfg, ps, &au), GH_OK);
  return au;
}

/* One request over a fresh connection; returns the whole response (static buffer). */
static const char *request(int port, const char *method, const char *path, const char *headers,
                           const char *body) {
  static char buf[16384];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s"
                   "Content-Length: %zu\r\n\r\n%s",
                   method, path, headers ? headers : "",
                   body ? "Content-Type: application/json\r\n" : "", body ? strlen(body) : 0,
                   body ? body : "");
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  ssize_t r;
  while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
  buf[got] = 0;
  close(fd);
  return buf;
}

/* value of a response header (first), copied into out */
static const char *header_of(const char *resp, const char *name, char *out, size_t len) {
  char pat[128];
  snprintf(pat, sizeof pat, "\r\n%s: ", name);
  const char *p = strcasestr(resp, pat);
  if (!p) return NULL;
  p += strlen(pat);
  size_t n = strcspn(p, "\r");
  if (n >= len) n = len - 1;
  memcpy(out, p, n);
  out[n] = 0;
  return out;
}

/* ---------------------------------------------------------------- tests */

static void selection_errors(void **state) {
  (void)state;
  gh_plugin_set *ps = NULL;
  char err[512];
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-a,nope", &ps, err, sizeof err),
                   GH_ERR_CONFIG);
  assert_null(ps);
  assert_string_equal(err, "GATEHOUSE_PLUGINS: unknown plugin \"nope\" (available: test-a, "
                           "test-b, clash, route-clash)");
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-b, test-b", &ps, err, sizeof err),
                   GH_ERR_CONFIG);
  assert_non_null(strstr(err, "listed twice"));
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "none,test-b", &ps, err, sizeof err),
                   GH_ERR_CONFIG);
  /* order as given, spaces allowed; "none" = nothing */
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, " test-b , test-a ", &ps, err, sizeof err),
                   GH_OK);
  assert_int_equal(gh_plugin_set_count(ps), 2);
  assert_ptr_equal(gh_plugin_set_at(ps, 0), &PLUGIN_B);
  assert_string_equal(gh_plugin_set_ids(ps), "test-b,test-a");
  gh_plugin_set_free(ps);
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "none", &ps, err, sizeof err), GH_OK);
  assert_int_equal(gh_plugin_set_count(ps), 0);
  assert_string_equal(gh_plugin_set_ids(ps), "none");
  gh_plugin_set_free(ps);
}

static void options_parsed_validated_printed(void **state) {
  (void)state;
  gh_plugin_set *ps = NULL;
  char err[512];
  setenv("GH_TEST_PLUGIN_GREETING", "bonjour", 1);
  setenv("GH_TEST_PLUGIN_TIMES", "3", 1);
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-a", &ps, err, sizeof err), GH_OK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  gh_plugin_set_print_config(ps, f);
  fclose(f);
  assert_non_null(strstr(text, "GH_TEST_PLUGIN_GREETING"));
  assert_non_null(strstr(text, "bonjour"));
  assert_non_null(strstr(text, "GH_TEST_PLUGIN_TIMES"));
  free(text);
  gh_plugin_set_free(ps);
  /* out of bounds → the variable is named */
  setenv("GH_TEST_PLUGIN_TIMES", "9", 1);
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-a", &ps, err, sizeof err),
                   GH_ERR_CONFIG);
  assert_non_null(strstr(err, "GH_TEST_PLUGIN_TIMES"));
  setenv("GH_TEST_PLUGIN_TIMES", "2", 1);
  /* the plugin's validator */
  setenv("GH_TEST_PLUGIN_GREETING", "hi!", 1);
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-a", &ps, err, sizeof err),
                   GH_ERR_CONFIG);
  assert_string_equal(err, "GH_TEST_PLUGIN_GREETING: no exclamation marks");
  unsetenv("GH_TEST_PLUGIN_GREETING");
  unsetenv("GH_TEST_PLUGIN_TIMES");
  /* config-table: every available plugin with its options */
  f = open_memstream(&text, &len);
  gh_plugins_print_table(AVAILABLE, 2, f);
  fclose(f);
  assert_non_null(strstr(text, "#### Plugin `test-a`"));
  assert_non_null(strstr(text, "| `GH_TEST_PLUGIN_GREETING` | `hello` | What the test route "
                               "answers |"));
  assert_non_null(strstr(text, "#### Plugin `test-b`\n\nanother.\n\nNo options."));
  free(text);
}

static void migrations_listed_in_order(void **state) {
  (void)state;
  gh_plugin_set *ps = NULL;
  char err[512];
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-b,test-a", &ps, err, sizeof err),
                   GH_OK);
  size_t n;
  const gh_store_migration *m = gh_plugin_set_migrations(ps, &n);
  assert_int_equal(n, 1);
  assert_string_equal(m[0].name, "test-plugin/001_things");
  /* applied after the core's by `migrate`; the schema check wants it */
  gh_store *st;
  assert_int_equal(gh_store_open("sqlite::memory:", &st), GH_OK);
  assert_int_equal(gh_store_migrate(st, NULL, 0, NULL), GH_OK);
  assert_int_equal(gh_store_check_schema(st, m, n), GH_ERR_SCHEMA);
  static const gh_query INSERT = {"things_insert", "insert into \"things\" (\"id\") values (?1)",
                                  "insert into \"things\" (\"id\") values ($1)", NULL};
  assert_int_equal(gh_store_exec(st, &INSERT, NULL, "t", "x"), GH_ERR_SCHEMA);
  int applied = 0;
  assert_int_equal(gh_store_migrate(st, m, n, &applied), GH_OK);
  assert_int_equal(applied, 1);
  assert_int_equal(gh_store_check_schema(st, m, n), GH_OK);
  long changes = 0;
  assert_int_equal(gh_store_exec(st, &INSERT, &changes, "t", "x"), GH_OK);
  assert_int_equal(changes, 1);
  gh_store_close(st);
  gh_plugin_set_free(ps);
}

static void clashes_refused_at_start(void **state) {
  (void)state;
  char err[512];
  gh_auth_config cfg = {.secret = SECRET, .base_url = "http://127.0.0.1:3000"};
  for (int i = 0; i < 2; i++) {
    gh_plugin_set *ps = NULL;
    assert_int_equal(
        gh_plugin_set_new(AVAILABLE, NAVAIL, i ? "route-clash" : "clash", &ps, err, sizeof err),
        GH_OK);
    gh_auth *au = NULL;
    assert_int_equal(gh_auth_new(&cfg, ps, &au), GH_ERR_CONFIG); /* a core code / core route */
    assert_null(au);
    gh_plugin_set_free(ps);
  }
}

/* A plugin's rate-limit rules are known to the core (for the rate limiter) only while it runs. */
static void rate_rules_of_running_plugins(void **state) {
  (void)state;
  char err[512];
  for (int with_b = 0; with_b < 2; with_b++) {
    gh_plugin_set *ps = NULL;
    assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, with_b ? "test-a,test-b" : "test-a", &ps,
                                       err, sizeof err),
                     GH_OK);
    gh_auth *au = new_auth(ps);
    size_t n = 99;
    const gh_rate_rule *r = gh_auth_rate_rules(au, &n);
    assert_int_equal(n, (size_t)with_b);
    if (with_b) {
      assert_string_equal(r[0].path, "/test-b/");
      assert_int_equal(r[0].window, 10);
      assert_int_equal(r[0].max, 3);
    }
    gh_auth_free(au);
    gh_plugin_set_free(ps);
  }
}

static char g_db[256];

static void routes_and_hooks(void **state) {
  (void)state;
  /* a migrated SQLite file shared by the server threads */
  snprintf(g_db, sizeof g_db, "sqlite:%s/gh-test-plugin-%d.db", P_tmpdir, (int)getpid());
  gh_store *st;
  assert_int_equal(gh_store_open(g_db, &st), GH_OK);
  assert_int_equal(gh_store_migrate(st, NULL, 0, NULL), GH_OK);
  gh_store_close(st);
  gh_store_thread_init(g_db);

  gh_plugin_set *ps = NULL;
  char err[512];
  setenv("GH_TEST_PLUGIN_GREETING", "hej", 1);
  setenv("GH_TEST_PLUGIN_TIMES", "2", 1);
  assert_int_equal(gh_plugin_set_new(AVAILABLE, NAVAIL, "test-a,test-b", &ps, err, sizeof err),
                   GH_OK);
  events[0] = 0;
  gh_auth *au = new_auth(ps);
  assert_string_equal(events, "a.init b.init");
  size_t nroutes;
  const gh_route *routes = gh_auth_routes(au, &nroutes);
  gh_workpool *pool;
  assert_int_equal(gh_workpool_new(1, 8, 0, &pool), GH_OK);
  gh_http_config hc = {.host = "127.0.0.1", .port = 0, .max_body = 65536, .threads = 2};
  gh_http *h;
  assert_int_equal(gh_http_start(&hc, routes, nroutes, au, pool, &h), GH_OK);
  int port = gh_http_port(h);

  /* the plugin's route, with its own state (option values) */
  events[0] = 0;
  const char *r = request(port, "GET", "/api/auth/test-plugin/hello", NULL, NULL);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, "{\"said\":\"hej hej\"}"));
  assert_string_equal(events, "a.before b.before a.hello a.after b.after");
  char v[1024];
  assert_non_null(header_of(r, "x-after-a", v, sizeof v));
  assert_non_null(header_of(r, "x-after-b", v, sizeof v));
  /* its wire error */
  r = request(port, "GET", "/api/auth/test-plugin/teapot", NULL, NULL);
  assert_non_null(strstr(r, "HTTP/1.1 418"));
  assert_non_null(strstr(r, "{\"message\":\"I am a teapot\",\"code\":\"TEST_PLUGIN_TEAPOT\"}"));
  /* a before hook that answers: the handler does not run, the after hooks do */
  events[0] = 0;
  r = request(port, "GET", "/api/auth/test-plugin/hello", "X-Block: 1\r\n", NULL);
  assert_non_null(strstr(r, "HTTP/1.1 429"));
  assert_string_equal(events, "a.before a.after b.after");

  /* sign-up: user_created, sign_up, then session_created, each in plugin order, inside the route
   * hooks */
  events[0] = 0;
  r = request(port, "POST", "/api/auth/sign-up/email", NULL,
              "{\"name\":\"P\",\"email\":\"p@example.com\",\"password\":\"correct-horse\"}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_string_equal(events, "a.before b.before a.user_created b.user_created a.sign_up b.sign_up "
                              "a.session_created b.session_created a.after b.after");
  const char *tok = strstr(r, "\"token\":\"");
  assert_non_null(tok);
  char token[33];
  memcpy(token, tok + 9, 32);
  token[32] = 0;

  /* get-session through plugin b's credential hook (a finds nothing, b's token wins) */
  events[0] = 0;
  char hdr[128];
  snprintf(hdr, sizeof hdr, "X-Test-Token: %s\r\n", token);
  r = request(port, "GET", "/api/auth/get-session", hdr, NULL);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, token));
  assert_string_equal(events, "a.before b.before a.credential b.credential a.session_returned "
                              "b.session_returned a.after b.after");
  /* a plugin's route runs the session_returned hooks through gh_auth_session_returned */
  events[0] = 0;
  r = request(port, "GET", "/api/auth/test-plugin/whoami", hdr, NULL);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_string_equal(events, "a.before b.before a.credential b.credential a.session_returned "
                              "b.session_returned a.after b.after");
  /* sign-in: the gate of each plugin, then session_created */
  events[0] = 0;
  r = request(port, "POST", "/api/auth/sign-in/email", NULL,
              "{\"email\":\"p@example.com\",\"password\":\"correct-horse\"}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_string_equal(events, "a.before b.before a.sign_in b.sign_in a.session_created "
                              "b.session_created a.after b.after");
  /* a gate that refuses: its answer, no session, the later plugins' gates not asked */
  r = request(port, "POST", "/api/auth/sign-up/email", NULL,
              "{\"name\":\"G\",\"email\":\"gated@example.com\",\"password\":\"correct-horse\"}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  events[0] = 0;
  r = request(port, "POST", "/api/auth/sign-in/email", NULL,
              "{\"email\":\"gated@example.com\",\"password\":\"correct-horse\"}");
  assert_non_null(strstr(r, "HTTP/1.1 403"));
  assert_non_null(strstr(r, "\"code\":\"TEST_GATED\""));
  assert_null(strstr(r, "better-auth.session_token="));
  assert_string_equal(events, "a.before b.before a.sign_in a.after b.after");

  /* a taken e-mail without enumeration protection: 422, no sign_up hook */
  events[0] = 0;
  r = request(port, "POST", "/api/auth/sign-up/email", NULL,
              "{\"name\":\"P2\",\"email\":\"p@example.com\",\"password\":\"correct-horse\"}");
  assert_non_null(strstr(r, "HTTP/1.1 422"));
  assert_string_equal(events, "a.before b.before a.after b.after");

  /* revoke-sessions: session_revoked(all) */
  events[0] = 0;
  r = request(port, "POST", "/api/auth/revoke-sessions", hdr, "{}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(events, "a.session_revoked(all) b.session_revoked(all)"));
  r = request(port, "GET", "/api/auth/get-session", hdr, NULL);
  assert_non_null(strstr(r, "\r\n\r\nnull"));

  /* serving: serve_start in order, serve_stop in reverse */
  events[0] = 0;
  assert_int_equal(gh_auth_serve_start(au), GH_OK);
  gh_auth_serve_stop(au);
  assert_string_equal(events, "a.serve_start b.serve_start b.serve_stop a.serve_stop");

  gh_http_quiesce(h, 1000);
  gh_workpool_free(pool);
  gh_http_free(h);
  events[0] = 0;
  gh_auth_free(au);
  assert_string_equal(events, "b.free a.free"); /* stopped in reverse order */
  gh_plugin_set_free(ps);
  unsetenv("GH_TEST_PLUGIN_GREETING");
  unsetenv("GH_TEST_PLUGIN_TIMES");
  unlink(g_db + 7);
}

static void no_plugins_no_dispatch(void **state) {
  (void)state;
  gh_auth *au = new_auth(NULL);
  size_t n;
  const gh_route *routes = gh_auth_routes(au, &n);
  assert_true(n > 0);
  /* without route hooks the handlers are served directly with the gh_auth as their state */
  for (size_t i = 0; i < n; i++) assert_ptr_equal(routes[i].arg, au);
  gh_auth_free(au);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(selection_errors),
      cmocka_unit_test(options_parsed_validated_printed),
      cmocka_unit_test(migrations_listed_in_order),
      cmocka_unit_test(clashes_refused_at_start),
      cmocka_unit_test(rate_rules_of_running_plugins),
      cmocka_unit_test(routes_and_hooks),
      cmocka_unit_test(no_plugins_no_dispatch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
