/* Additional user and session fields declared by a plugin (the mechanism behind admin's role,
 * banned, ... and two-factor's twoFactorEnabled): its migration adds the columns, the entity
 * queries read and write them on SQLite and PostgreSQL (GH_TEST_PG_URL), every user / session
 * object carries them in better-auth's key order (core fields, plugin fields, id), sign-up,
 * update-user and update-session parse them as better-auth's parseInputData (input:false with a
 * default ignored on create, otherwise a truthy value refused with FIELD_NOT_ALLOWED), an insert
 * default set by the plugin applies, and a field clashing with a core column stops the start. */
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
#include "store/store.h"

static const gh_field USER_FIELDS[] = {
    {"role", GH_FIELD_STRING, NULL, false, false},
    {"banned", GH_FIELD_BOOLEAN, "false", false, false},
    {"nickname", GH_FIELD_STRING, NULL, true, false},
    {"banExpires", GH_FIELD_DATE, NULL, false, false},
    {"secretThing", GH_FIELD_STRING, NULL, false, true},
    {"logins", GH_FIELD_NUMBER, "0", true, false},
};
static const gh_field SESSION_FIELDS[] = {
    {"note", GH_FIELD_STRING, NULL, true, false},
    {"impersonatedBy", GH_FIELD_STRING, NULL, false, false},
};

static const gh_store_migration MIG[] = {
    {"test-fields/001_columns",
     "alter table \"user\" add column \"role\" text; alter table \"user\" add column \"banned\" "
     "integer; alter table \"user\" add column \"nickname\" text; alter table \"user\" add column "
     "\"banExpires\" date; alter table \"user\" add column \"secretThing\" text; alter table "
     "\"user\" add column \"logins\" integer; alter table \"session\" add column \"note\" text; "
     "alter table \"session\" add column \"impersonatedBy\" text;",
     "alter table \"user\" add column if not exists \"role\" text; alter table \"user\" add column "
     "if not exists \"banned\" boolean; alter table \"user\" add column if not exists "
     "\"nickname\" text; alter table \"user\" add column if not exists \"banExpires\" "
     "timestamptz; alter table \"user\" add column if not exists \"secretThing\" text; alter "
     "table \"user\" add column if not exists \"logins\" integer; alter table \"session\" add "
     "column if not exists \"note\" text; alter table \"session\" add column if not exists "
     "\"impersonatedBy\" text;"},
};

static gh_status init(gh_auth *au, const void *conf, void **self) {
  (void)conf, (void)self;
  return gh_auth_set_insert_default(au, GH_MODEL_USER, "role", "user");
}

static const gh_plugin PLUGIN = {
    .id = "test-fields",
    .summary = "fields",
    .init = init,
    .migrations = MIG,
    .nmigrations = 1,
    .user_fields = USER_FIELDS,
    .nuser_fields = 6,
    .session_fields = SESSION_FIELDS,
    .nsession_fields = 2,
};

static const gh_field CLASH_FIELDS[] = {{"email", GH_FIELD_STRING, NULL, true, false}};
static const gh_plugin PLUGIN_CLASH = {
    .id = "clash", .user_fields = CLASH_FIELDS, .nuser_fields = 1};

static const gh_plugin *const AVAILABLE[] = {&PLUGIN, &PLUGIN_CLASH};

#define SECRET "unit-test-secret-0123456789abcdef-0123456789"

static gh_auth *new_auth(const gh_plugin_set *ps, gh_status want) {
  gh_auth_config cfg = {.secret = SECRET,
                        .base_url = "http://127.0.0.1:3000",
                        .expires_in = 604800,
                        .update_age = 86400,
                        .fresh_age = 86400,
                        .min_password = 8,
                        .max_password = 128};
  gh_auth *au = NULL;
  assert_int_equal(gh_auth_new(&cfg, ps, &au), want);
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

static const char *body_of(const char *r) {
  const char *b = strstr(r, "\r\n\r\n");
  assert_non_null(b);
  return b + 4;
}

/* The text between "key":" and the next quote. */
static void string_of(const char *r, const char *key, char *out, size_t len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(r, pat);
  assert_non_null(p);
  p += strlen(pat);
  size_t n = strcspn(p, "\"");
  assert_true(n < len);
  memcpy(out, p, n);
  out[n] = 0;
}

static void run(const char *url) {
  gh_plugin_set *ps = NULL;
  char err[512];
  assert_int_equal(gh_plugin_set_new(AVAILABLE, 2, "test-fields", &ps, err, sizeof err), GH_OK);
  size_t nm;
  const gh_store_migration *m = gh_plugin_set_migrations(ps, &nm);
  gh_store *st;
  assert_int_equal(gh_store_open(url, &st), GH_OK);
  assert_int_equal(gh_store_migrate(st, m, nm, NULL), GH_OK);
  gh_store_thread_init(url);
  gh_auth *au = new_auth(ps, GH_OK);
  size_t nroutes;
  const gh_route *routes = gh_auth_routes(au, &nroutes);
  gh_workpool *pool;
  assert_int_equal(gh_workpool_new(1, 8, 0, &pool), GH_OK);
  gh_http_config hc = {.host = "127.0.0.1", .port = 0, .max_body = 65536, .threads = 2};
  gh_http *h;
  assert_int_equal(gh_http_start(&hc, routes, nroutes, au, pool, &h), GH_OK);
  int port = gh_http_port(h);
  char email[64], body[512], tok[40], hdr[512];
  snprintf(email, sizeof email, "f%u@example.com", (unsigned)randombytes_random());

  /* input:false without a default, truthy → refused (after the password checks) */
  snprintf(body, sizeof body,
           "{\"name\":\"F\",\"email\":\"%s\",\"password\":\"correct-horse\",\"role\":\"admin\"}",
           email);
  const char *r = request(port, "POST", "/api/auth/sign-up/email", NULL, body);
  assert_non_null(strstr(r, "HTTP/1.1 400"));
  assert_string_equal(
      body_of(r), "{\"message\":\"role is not allowed to be set\",\"code\":\"FIELD_NOT_ALLOWED\"}");
  snprintf(body, sizeof body,
           "{\"name\":\"F\",\"email\":\"%s\",\"password\":\"short\",\"role\":\"admin\"}", email);
  r = request(port, "POST", "/api/auth/sign-up/email", NULL, body);
  assert_non_null(strstr(r, "PASSWORD_TOO_SHORT"));
  /* a falsy value is ignored; input:false with a default is ignored on create; input:true taken */
  snprintf(body, sizeof body,
           "{\"name\":\"F\",\"email\":\"%s\",\"password\":\"correct-horse\",\"role\":\"\","
           "\"banned\":true,\"nickname\":\"nick\",\"logins\":3,\"secretThing\":null}",
           email);
  r = request(port, "POST", "/api/auth/sign-up/email", NULL, body);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  string_of(r, "token", tok, sizeof tok);
  /* key order: core fields, the plugin's (hidden ones left out, insert default applied), id */
  const char *u = strstr(r, "\"updatedAt\":");
  assert_non_null(u);
  u = strchr(u + 13, ',');
  assert_non_null(u);
  assert_true(strncmp(u,
                      ",\"role\":\"user\",\"banned\":false,\"nickname\":\"nick\",\"banExpires\":"
                      "null,\"logins\":3,\"id\":\"",
                      strlen(",\"role\":\"user\",\"banned\":false,\"nickname\":\"nick\","
                             "\"banExpires\":null,\"logins\":3,\"id\":\"")) == 0);
  assert_null(strstr(r, "secretThing"));

  /* the row as read back (join of session and user) */
  /* the signed cookie of the sign-up's Set-Cookie */
  char cookie[256];
  const char *sc = strstr(r, "better-auth.session_token=");
  assert_non_null(sc);
  size_t cn = strcspn(sc, ";");
  memcpy(cookie, sc, cn);
  cookie[cn] = 0;
  snprintf(hdr, sizeof hdr, "Cookie: %s\r\nOrigin: http://127.0.0.1:3000\r\n", cookie);
  r = request(port, "GET", "/api/auth/get-session", hdr, NULL);
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(r, "\"userId\":\""));
  assert_non_null(strstr(r, "\",\"note\":null,\"impersonatedBy\":null,\"id\":\""));
  assert_non_null(strstr(r, ",\"role\":\"user\",\"banned\":false,\"nickname\":\"nick\","
                            "\"banExpires\":null,\"logins\":3,\"id\":\""));

  /* update-user: an input field is set; input:false truthy refused; falsy alone = nothing */
  r = request(port, "POST", "/api/auth/update-user", hdr, "{\"nickname\":\"n2\",\"logins\":7}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  r = request(port, "POST", "/api/auth/update-user", hdr, "{\"role\":\"admin\"}");
  assert_non_null(strstr(r, "HTTP/1.1 400"));
  assert_non_null(strstr(r, "role is not allowed to be set"));
  r = request(port, "POST", "/api/auth/update-user", hdr, "{\"banned\":false}");
  assert_string_equal(body_of(r), "{\"message\":\"No fields to update\"}");
  r = request(port, "POST", "/api/auth/update-user", hdr, "{\"nickname\":5}");
  assert_non_null(strstr(r, "VALIDATION_ERROR"));
  r = request(port, "GET", "/api/auth/get-session", hdr, NULL);
  assert_non_null(strstr(r, "\"role\":\"user\",\"banned\":false,\"nickname\":\"n2\","
                            "\"banExpires\":null,\"logins\":7,"));

  /* update-session */
  r = request(port, "POST", "/api/auth/update-session", hdr, "{}");
  assert_non_null(strstr(r, "HTTP/1.1 400"));
  assert_string_equal(body_of(r), "{\"message\":\"No fields to update\"}");
  r = request(port, "POST", "/api/auth/update-session", hdr, "[1]");
  assert_non_null(strstr(r, "VALIDATION_ERROR"));
  r = request(port, "POST", "/api/auth/update-session", hdr, "{\"impersonatedBy\":\"x\"}");
  assert_non_null(strstr(r, "impersonatedBy is not allowed to be set"));
  r = request(port, "POST", "/api/auth/update-session", hdr, "{\"note\":\"hello\",\"other\":1}");
  assert_non_null(strstr(r, "HTTP/1.1 200"));
  assert_non_null(strstr(body_of(r), "{\"session\":{\"expiresAt\":\""));
  assert_non_null(strstr(r, "\",\"note\":\"hello\",\"impersonatedBy\":null,\"id\":\""));
  r = request(port, "GET", "/api/auth/list-sessions", hdr, NULL);
  assert_non_null(strstr(r, "\"note\":\"hello\""));

  /* the store: values by name, a column update, an unknown column refused */
  gh_arena *a = gh_arena_new();
  gh_user usr;
  assert_int_equal(gh_store_user_by_email(st, a, email, &usr), GH_OK);
  assert_string_equal(gh_user_value(&usr, "role")->text, "user");
  assert_int_equal(gh_user_value(&usr, "logins")->num, 7);
  assert_null(gh_user_value(&usr, "nope"));
  int64_t when = 1795419410123;
  gh_store_set set[] = {{"banned", {.set = true, .num = 1}},
                        {"banExpires", {.set = true, .num = when}},
                        {"role", {.set = true, .text = "admin,user"}}};
  assert_int_equal(gh_store_update_user_columns(st, usr.id, set, 3, when), GH_OK);
  gh_store_set bad[] = {{"id", {.set = true, .text = "x"}}};
  assert_int_equal(gh_store_update_user_columns(st, usr.id, bad, 1, when), GH_ERR_INVALID);
  assert_int_equal(gh_store_update_user_columns(st, "nobody", set, 3, when), GH_ERR_NOT_FOUND);
  assert_int_equal(gh_store_user_by_id(st, a, usr.id, &usr), GH_OK);
  assert_true(gh_user_value(&usr, "banned")->num == 1);
  assert_true(gh_user_value(&usr, "banExpires")->num == when);
  r = request(port, "GET", "/api/auth/get-session", hdr, NULL);
  assert_non_null(strstr(r, "\"role\":\"admin,user\",\"banned\":true,\"nickname\":\"n2\","
                            "\"banExpires\":\"2026-11-23T07:36:50.123Z\","));
  gh_arena_free(a);

  gh_http_quiesce(h, 1000);
  gh_workpool_free(pool);
  gh_http_free(h);
  gh_auth_free(au);
  assert_null(gh_store_fields_current()); /* uninstalled with its gh_auth */
  gh_plugin_set_free(ps);
  gh_store_close(st);
}

static void fields_sqlite(void **state) {
  (void)state;
  char url[256];
  snprintf(url, sizeof url, "sqlite:%s/gh-test-fields-%d.db", P_tmpdir, (int)getpid());
  run(url);
  unlink(url + 7);
}

static void fields_postgres(void **state) {
  (void)state;
  const char *url = getenv("GH_TEST_PG_URL");
  if (!url || !*url) skip();
  run(url);
}

static void clash_refused(void **state) {
  (void)state;
  gh_plugin_set *ps = NULL;
  char err[512];
  assert_int_equal(gh_plugin_set_new(AVAILABLE, 2, "clash", &ps, err, sizeof err), GH_OK);
  assert_null(new_auth(ps, GH_ERR_CONFIG));
  assert_null(gh_store_fields_current());
  gh_plugin_set_free(ps);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fields_sqlite),
      cmocka_unit_test(fields_postgres),
      cmocka_unit_test(clash_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
