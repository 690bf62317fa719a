/* auth/sessions: gh_session_resolve reads a signed session cookie (any configured secret, stale
 * when an older one signed it), ignores forged ones, takes a credential hook's token first, reads
 * the dont_remember cookie, deletes an expired session (session_revoked hook) and reports it as
 * not found; gh_require_session answers 401 and clears the cookies of a dead session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/sessions.h"
#include "common/encoding.h"
#include "common/time.h"
#include "crypto/cookie_sign.h"
#include "store/store.h"

#define NEW "new-secret-0123456789abcdef-0123456789abcdef"
#define OLD "old-secret-0123456789abcdef-0123456789abcdef"

static int revoked;
static const char *hook_token;
static bool hook_resolves;
static bool hook_refuses;
static const gh_err_info REFUSAL = {429, "RATE_LIMITED", "Rate limit exceeded."};

static gh_status credential(void *self, gh_req *req, gh_credential *out) {
  (void)self;
  out->token = hook_token;
  if (hook_resolves) { /* as an API-key plugin would: its own identity, no session row */
    out->resolved = true;
    out->user.id = "key-user";
    out->user.name = "Key";
    out->user.email = "key@example.com";
    out->session.id = "key-session";
    out->session.user_id = "key-user";
    out->session.expires_at = gh_now_ms() + 1000;
    out->answer = "{\"user\":{},\"session\":{}}";
    (void)req;
  }
  if (hook_refuses) {
    out->refuse = &REFUSAL;
    out->refuse_body = "{\"message\":\"Rate limit exceeded.\",\"code\":\"RATE_LIMITED\","
                       "\"details\":{\"tryAgainIn\":5}}";
  }
  return GH_OK;
}

static void session_revoked(void *self, gh_store *st, const gh_revocation *r) {
  (void)self, (void)st;
  assert_non_null(r->token);
  revoked++;
}

static const gh_plugin HOOKS = {
    .id = "hooks", .credential = credential, .session_revoked = session_revoked};
static const gh_plugin *const AVAIL[] = {&HOOKS};

typedef struct {
  gh_store *st;
  gh_auth *au;
  gh_plugin_set *ps;
  gh_arena *a;
  gh_user u;
  gh_session s;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_int_equal(gh_store_open("sqlite::memory:", &f->st), GH_OK);
  assert_int_equal(gh_store_migrate(f->st, NULL, 0, NULL), GH_OK);
  char err[256];
  assert_int_equal(gh_plugin_set_new(AVAIL, 1, "hooks", &f->ps, err, sizeof err), GH_OK);
  static const unsigned versions[] = {2, 1};
  static const char *const values[] = {NEW, OLD};
  gh_auth_config cfg = {.base_url = "http://127.0.0.1:3000",
                        .expires_in = 604800,
                        .update_age = 86400,
                        .secret_versions = versions,
                        .secret_values = values,
                        .nsecret_versions = 2};
  assert_int_equal(gh_auth_new(&cfg, f->ps, &f->au), GH_OK);
  f->a = gh_arena_new();
  int64_t now = gh_now_ms();
  gh_user_init(f->a, &f->u, "S", "s@example.com", NULL, now);
  memset(&f->s, 0, sizeof f->s);
  f->s.id = "sessionid0123456789abcdef012345";
  f->s.token = "sessiontoken0123456789abcdef012";
  f->s.user_id = f->u.id;
  f->s.created_at = f->s.updated_at = now;
  f->s.expires_at = now + 3600 * 1000;
  assert_int_equal(gh_store_create_user(f->st, &f->u, NULL, &f->s), GH_OK);
  revoked = 0;
  hook_token = NULL;
  hook_resolves = false;
  hook_refuses = false;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  gh_auth_free(f->au);
  gh_plugin_set_free(f->ps);
  gh_store_close(f->st);
  gh_arena_free(f->a);
  free(f);
  return 0;
}

/* A request with this Cookie header (NULL: none). */
static gh_req req_with(gh_arena *a, const char *cookie, gh_kv *hv) {
  size_t n = 0;
  if (cookie) hv[n++] = (gh_kv){"Cookie", cookie};
  return (gh_req){.arena = a,
                  .method = "GET",
                  .path = "/api/auth/get-session",
                  .headers = hv,
                  .nheaders = n,
                  .peer_ip = "127.0.0.1"};
}

static const char *session_cookie(gh_arena *a, const char *secret, const char *token) {
  return gh_arena_printf(a, "better-auth.session_token=%s",
                         gh_uri_encode_component(a, gh_cookie_sign(a, secret, token)));
}

static void no_cookie_no_session(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  gh_req r = req_with(f->a, NULL, hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_false(s.present);
  assert_false(s.found);
}

static void signed_cookie_found(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  gh_req r = req_with(f->a, session_cookie(f->a, NEW, f->s.token), hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_true(s.present);
  assert_true(s.found);
  assert_false(s.stale);
  assert_false(s.dont_remember);
  assert_string_equal(s.s.id, f->s.id);
  assert_string_equal(s.u.email, "s@example.com");
}

static void older_secret_is_stale(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  gh_req r = req_with(f->a, session_cookie(f->a, OLD, f->s.token), hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_true(s.found);
  assert_true(s.stale);
}

static void forged_cookie_ignored(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  gh_req r = req_with(
      f->a, session_cookie(f->a, "another-secret-0123456789abcdef-0123456", f->s.token), hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_false(s.present);
  /* an unsigned token is not accepted from the cookie either */
  r = req_with(f->a, gh_arena_printf(f->a, "better-auth.session_token=%s", f->s.token), hv);
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_false(s.present);
}

static void credential_hook_first(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  hook_token = f->s.token; /* the hook's token wins over a (forged) cookie */
  gh_req r = req_with(f->a, "better-auth.session_token=garbage", hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_true(s.found);
  assert_string_equal(s.token, f->s.token);
}

static void credential_hook_identity(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  hook_resolves = true; /* wins over a valid cookie; nothing is looked up, refreshed or set */
  gh_req r = req_with(f->a, session_cookie(f->a, NEW, f->s.token), hv);
  gh_resp resp = {.arena = f->a};
  gh_sess s;
  assert_true(gh_require_session(f->au, f->st, &r, &resp, &s));
  assert_true(s.found);
  assert_true(s.resolved);
  assert_string_equal(s.u.id, "key-user");
  assert_string_equal(s.s.id, "key-session");
  assert_int_equal(resp.nheaders, 0); /* no cookie */
}

static void credential_hook_refusal(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  hook_refuses = true; /* a refused key: answered as the hook says, even beside a valid cookie */
  gh_req r = req_with(f->a, session_cookie(f->a, NEW, f->s.token), hv);
  gh_resp resp = {.arena = f->a};
  gh_sess s;
  assert_false(gh_require_session(f->au, f->st, &r, &resp, &s));
  assert_false(s.found);
  assert_ptr_equal(s.refused, &REFUSAL);
  assert_int_equal(resp.status, 429);
  assert_string_equal(resp.body, "{\"message\":\"Rate limit exceeded.\",\"code\":\"RATE_LIMITED\","
                                 "\"details\":{\"tryAgainIn\":5}}");
  hook_resolves = true; /* and an identity's own get-session answer travels with it */
  hook_refuses = false;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_string_equal(s.answer, "{\"user\":{},\"session\":{}}");
}

static void dont_remember_read(void **state) {
  fx *f = *state;
  gh_kv hv[2];
  const char *c = gh_arena_printf(f->a, "%s; better-auth.dont_remember=%s",
                                  session_cookie(f->a, NEW, f->s.token),
                                  gh_uri_encode_component(f->a, gh_cookie_sign(f->a, NEW, "true")));
  gh_req r = req_with(f->a, c, hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_true(s.found);
  assert_true(s.dont_remember);
}

static void expired_deleted(void **state) {
  fx *f = *state;
  assert_int_equal(gh_store_touch_session(f->st, f->s.id, gh_now_ms() - 1000, gh_now_ms()), GH_OK);
  gh_kv hv[2];
  gh_req r = req_with(f->a, session_cookie(f->a, NEW, f->s.token), hv);
  gh_sess s;
  assert_int_equal(gh_session_resolve(f->au, f->st, &r, &s), GH_OK);
  assert_true(s.present);
  assert_false(s.found);
  assert_int_equal(revoked, 1);
  gh_session row;
  gh_user u;
  assert_int_equal(gh_store_session_by_token(f->st, f->a, f->s.token, &row, &u), GH_ERR_NOT_FOUND);
}

static void require_session_401_clears(void **state) {
  fx *f = *state;
  assert_int_equal(gh_store_delete_session(f->st, f->s.token), GH_OK);
  gh_kv hv[2];
  gh_req r = req_with(f->a, session_cookie(f->a, NEW, f->s.token), hv);
  gh_resp resp = {.arena = f->a};
  gh_sess s;
  assert_false(gh_require_session(f->au, f->st, &r, &resp, &s));
  assert_int_equal(resp.status, 401);
  size_t cleared = 0;
  for (size_t i = 0; i < resp.nheaders; i++)
    if (!strcmp(resp.headers[i].name, "Set-Cookie") &&
        strstr(resp.headers[i].value, "=; Max-Age=0"))
      cleared++;
  assert_int_equal(cleared, 3);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(no_cookie_no_session, setup, teardown),
      cmocka_unit_test_setup_teardown(signed_cookie_found, setup, teardown),
      cmocka_unit_test_setup_teardown(older_secret_is_stale, setup, teardown),
      cmocka_unit_test_setup_teardown(forged_cookie_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(credential_hook_first, setup, teardown),
      cmocka_unit_test_setup_teardown(credential_hook_identity, setup, teardown),
      cmocka_unit_test_setup_teardown(credential_hook_refusal, setup, teardown),
      cmocka_unit_test_setup_teardown(dont_remember_read, setup, teardown),
      cmocka_unit_test_setup_teardown(expired_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(require_session_401_clears, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
