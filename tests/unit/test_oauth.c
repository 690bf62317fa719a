/* oauth/provider, oauth/fetch and common/envfamily: the PKCE S256 challenge (base64url SHA-256,
 * checked against node:crypto), which provider URLs may be called (https, http only to loopback),
 * the authorization URL (parameters, scopes, openid first), ID-token rejections that need no
 * network (malformed, alg none/HMAC), and the per-id environment variables of generic OpenID
 * providers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/envfamily.h"
#include "oauth/fetch.h"
#include "oauth/provider.h"

static void pkce_s256(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  assert_string_equal(gh_oauth_pkce_challenge(a, "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"),
                      "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc");
  gh_arena_free(a);
}

static void url_rule(void **state) {
  (void)state;
  assert_true(gh_fetch_url_allowed("https://accounts.google.com/o/oauth2/v2/auth"));
  assert_true(gh_fetch_url_allowed("http://127.0.0.1:9000/.well-known/openid-configuration"));
  assert_true(gh_fetch_url_allowed("http://localhost/x"));
  assert_true(gh_fetch_url_allowed("http://[::1]:8080/x"));
  assert_false(gh_fetch_url_allowed("http://idp.example.com/x")); /* plain http off loopback */
  assert_false(gh_fetch_url_allowed("http://127.0.0.1.evil.example/x"));
  assert_false(gh_fetch_url_allowed("http://localhost.evil.example/x"));
  assert_false(gh_fetch_url_allowed("http://user@evil.example/x"));
  assert_false(gh_fetch_url_allowed("http://127.0.0.1@evil.example/x"));
  assert_false(gh_fetch_url_allowed("file:///etc/passwd"));
  assert_false(gh_fetch_url_allowed("gopher://x"));
  assert_false(gh_fetch_url_allowed("https://"));
  assert_false(gh_fetch_url_allowed(NULL));
  gh_fetch_opts o = {.timeout_ms = 1000, .connect_timeout_ms = 1000, .max_bytes = 1024};
  gh_arena *a = gh_arena_new();
  gh_fetch_resp r;
  assert_int_equal(gh_fetch(a, &o, "http://example.com/", NULL, NULL, &r), GH_ERR_INVALID);
  gh_arena_free(a);
}

static void authorize_url(void **state) {
  (void)state;
  gh_oauth_provider_config c = {.id = "acme",
                                .kind = GH_OAUTH_OIDC,
                                .client_id = "cid",
                                .client_secret = "sec",
                                .scopes = "email profile",
                                .pkce = true,
                                .authorization_url = "https://idp.example/auth?tenant=t1",
                                .token_url = "https://idp.example/token",
                                .jwks_url = "https://idp.invalid/jwks", /* never reached here */
                                .issuer = "https://idp.example",
                                .openid_scope = true};
  gh_oauth_provider *p;
  const char *err = NULL;
  assert_int_equal(gh_oauth_provider_new(&c, &p, &err), GH_OK);
  gh_arena *a = gh_arena_new();
  char *u = gh_oauth_authorize_url(a, p, "st", "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk", "nn",
                                   "http://127.0.0.1:3000/api/auth/callback/acme", NULL, NULL);
  assert_string_equal(u, "https://idp.example/auth?tenant=t1&response_type=code&client_id=cid&"
                         "state=st&scope=openid+email+profile&redirect_uri=http%3A%2F%2F127.0.0.1%"
                         "3A3000%2Fapi%2Fauth%2Fcallback%2Facme&nonce=nn&code_challenge_method="
                         "S256&code_challenge=ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc");
  /* ID tokens that need no key to be refused: not a JWS, alg none, HMAC */
  gh_fetch_opts fo = {.timeout_ms = 100, .connect_timeout_ms = 100, .max_bytes = 1024};
  gh_json *claims;
  assert_int_equal(gh_oauth_verify_id_token(a, p, &fo, "not-a-jwt", NULL, &claims), GH_ERR_INVALID);
  /* {"alg":"none"} and {"alg":"HS256"}: refused before any key is fetched */
  assert_int_equal(gh_oauth_verify_id_token(a, p, &fo, "eyJhbGciOiJub25lIn0.e30.eA", NULL, &claims),
                   GH_ERR_INVALID);
  assert_int_equal(
      gh_oauth_verify_id_token(a, p, &fo, "eyJhbGciOiJIUzI1NiJ9.e30.eA", NULL, &claims),
      GH_ERR_INVALID);
  gh_oauth_provider_free(p);
  /* no client id, no endpoints, a plain-http endpoint: refused at start */
  gh_oauth_provider_config bad = c;
  bad.client_id = NULL;
  assert_int_equal(gh_oauth_provider_new(&bad, &p, &err), GH_ERR_CONFIG);
  bad = c;
  bad.token_url = NULL;
  assert_int_equal(gh_oauth_provider_new(&bad, &p, &err), GH_ERR_CONFIG);
  bad = c;
  bad.token_url = "http://idp.example/token";
  assert_int_equal(gh_oauth_provider_new(&bad, &p, &err), GH_ERR_CONFIG);
  gh_arena_free(a);
}

typedef struct {
  char *discovery, *client_id;
  bool pkce;
} fam;

static void env_family(void **state) {
  (void)state;
  setenv("GHT_OIDC_ACME_DISCOVERY_URL", "https://acme.example/.well-known/openid-configuration", 1);
  setenv("GHT_OIDC_ACME_CLIENT_ID", "acme-client", 1);
  setenv("GHT_OIDC_MY_CO_DISCOVERY_URL", "https://my.example/d", 1);
  setenv("GHT_OIDC_MY_CO_PKCE", "false", 1);
  setenv("GHT_OIDC_EMPTY_DISCOVERY_URL", "", 1); /* empty counts as unset */
  setenv("GHT_OIDC_lower_DISCOVERY_URL", "https://x", 1);
  char **ids;
  size_t n = gh_envfam_ids("GHT_OIDC_", "_DISCOVERY_URL", &ids);
  assert_int_equal(n, 2);
  assert_string_equal(ids[0], "ACME");
  assert_string_equal(ids[1], "MY_CO");
  static const gh_conf_opt OPTS[] = {
      {"_DISCOVERY_URL", NULL, GH_CONF_STR, NULL, 0, 0, 0, offsetof(fam, discovery), "d"},
      {"_CLIENT_ID", NULL, GH_CONF_STR, NULL, 0, 0, 0, offsetof(fam, client_id), "c"},
      {"_PKCE", NULL, GH_CONF_BOOL, "true", 0, 0, 0, offsetof(fam, pkce), "p"},
  };
  char buf[200];
  const char *err = NULL;
  fam f = {0};
  assert_int_equal(gh_envfam_load("GHT_OIDC_", ids[0], OPTS, 3, &f, buf, sizeof buf, &err), GH_OK);
  assert_string_equal(f.client_id, "acme-client");
  assert_true(f.pkce);
  gh_envfam_free(OPTS, 3, &f);
  memset(&f, 0, sizeof f);
  assert_int_equal(gh_envfam_load("GHT_OIDC_", ids[1], OPTS, 3, &f, buf, sizeof buf, &err), GH_OK);
  assert_null(f.client_id);
  assert_false(f.pkce);
  gh_envfam_free(OPTS, 3, &f);
  setenv("GHT_OIDC_MY_CO_PKCE", "maybe", 1);
  memset(&f, 0, sizeof f);
  assert_int_equal(gh_envfam_load("GHT_OIDC_", ids[1], OPTS, 3, &f, buf, sizeof buf, &err),
                   GH_ERR_CONFIG);
  assert_non_null(strstr(err, "GHT_OIDC_MY_CO_PKCE")); /* the message names the full variable */
  gh_envfam_free(OPTS, 3, &f);
  gh_envfam_ids_free(ids, n);
}

/* account-info of google/apple: the stored ID token's claims, not verified again (an expired
 * token, exp 1, still gives its profile); no sub or no JWS: invalid. */
static void stored_id_token(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_oauth_user u;
  assert_int_equal(
      gh_oauth_user_from_stored_id_token(
          a,
          "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0."
          "eyJzdWIiOiJzMSIsImVtYWlsIjoiYUBleGFtcGxlLmNvbSIsImVtYWlsX3ZlcmlmaWVkIjoidHJ1"
          "ZSIsIm5hbWUiOiJBbm4iLCJwaWN0dXJlIjoiaHR0cHM6Ly9pbWcuZXhhbXBsZS9hLnBuZyIsImV4"
          "cCI6MX0.c2ln",
          &u),
      GH_OK);
  assert_string_equal(u.sub, "s1");
  assert_string_equal(u.email, "a@example.com");
  assert_true(u.email_verified); /* "true" as a string, as Apple sends it */
  assert_string_equal(u.name, "Ann");
  assert_string_equal(u.image, "https://img.example/a.png");
  assert_non_null(u.raw);
  assert_int_equal(gh_oauth_user_from_stored_id_token(
                       a, "eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6ImFAZXhhbXBsZS5jb20ifQ.c2ln", &u),
                   GH_ERR_INVALID);
  assert_int_equal(gh_oauth_user_from_stored_id_token(a, "not-a-jws", &u), GH_ERR_INVALID);
  assert_int_equal(gh_oauth_user_from_stored_id_token(a, NULL, &u), GH_ERR_INVALID);
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(pkce_s256), cmocka_unit_test(url_rule),
                                     cmocka_unit_test(authorize_url), cmocka_unit_test(env_family),
                                     cmocka_unit_test(stored_id_token)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
