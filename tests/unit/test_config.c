/* server/config: declarative table, environment fallbacks, validation, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

static const char *VARS[] = {"GATEHOUSE_SECRET",
                             "BETTER_AUTH_SECRET",
                             "GATEHOUSE_BASE_URL",
                             "BETTER_AUTH_URL",
                             "DATABASE_URL",
                             "PORT",
                             "GATEHOUSE_ENV",
                             "GATEHOUSE_SESSION_EXPIRES_IN",
                             "GATEHOUSE_LOG_LEVEL",
                             "GATEHOUSE_DELETE_USER",
                             "GATEHOUSE_MIN_PASSWORD_LENGTH",
                             "GATEHOUSE_MAX_PASSWORD_LENGTH",
                             "GATEHOUSE_TRUSTED_ORIGINS",
                             "BETTER_AUTH_TRUSTED_ORIGINS"};

static int clear_env(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) unsetenv(VARS[i]);
  return 0;
}

static void defaults(void **state) {
  (void)state;
  gh_config c;
  const char *err = NULL;
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_string_equal(c.base_url, "http://localhost:3000");
  assert_string_equal(c.database_url, "sqlite:./var/gatehouse.db");
  assert_int_equal(c.port, 3000);
  assert_int_equal(c.session_expires_in, 604800);
  assert_int_equal(c.session_update_age, 86400);
  assert_int_equal(c.session_fresh_age, 86400);
  assert_int_equal(c.max_body, 65536);
  assert_false(c.delete_user_enabled); /* off, as in better-auth */
  assert_false(c.production);
  assert_null(c.secret);
  assert_true(c.http_threads >= 1);
  gh_config_free(&c);
}

static void better_auth_fallbacks(void **state) {
  (void)state;
  setenv("BETTER_AUTH_SECRET", "0123456789abcdef0123456789abcdef-ba", 1);
  setenv("BETTER_AUTH_URL", "https://auth.example.com/", 1);
  setenv("BETTER_AUTH_TRUSTED_ORIGINS", "https://app.example.com", 1);
  gh_config c;
  const char *err = NULL;
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_string_equal(c.secret, "0123456789abcdef0123456789abcdef-ba");
  assert_string_equal(c.base_url, "https://auth.example.com"); /* trailing slash trimmed */
  assert_string_equal(c.trusted_origins, "https://app.example.com");
  gh_config_free(&c);
  /* GATEHOUSE_* wins over the fallback */
  setenv("GATEHOUSE_SECRET", "gatehouse-secret-0123456789abcdef0123", 1);
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_string_equal(c.secret, "gatehouse-secret-0123456789abcdef0123");
  gh_config_free(&c);
}

static void production_requires_long_secret(void **state) {
  (void)state;
  setenv("GATEHOUSE_ENV", "production", 1);
  gh_config c;
  const char *err = NULL;
  assert_int_equal(gh_config_load(&c, &err), GH_ERR_CONFIG);
  assert_non_null(strstr(err, "32 bytes"));
  gh_config_free(&c);
  setenv("GATEHOUSE_SECRET", "too-short", 1);
  assert_int_equal(gh_config_load(&c, &err), GH_ERR_CONFIG);
  gh_config_free(&c);
  setenv("GATEHOUSE_SECRET", "a-secret-that-is-long-enough-0123456789", 1);
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_true(c.production);
  const char *e2 = NULL;
  assert_int_equal(gh_config_dev_secret(&c, &e2), GH_OK); /* configured: untouched */
  assert_false(c.secret_generated);
  gh_config_free(&c);
}

static void invalid_values(void **state) {
  (void)state;
  struct {
    const char *var, *val, *needle;
  } cases[] = {
      {"PORT", "70000", "PORT"},
      {"PORT", "12abc", "PORT"},
      {"GATEHOUSE_SESSION_EXPIRES_IN", "-5", "GATEHOUSE_SESSION_EXPIRES_IN"},
      {"GATEHOUSE_ENV", "staging", "GATEHOUSE_ENV"},
      {"GATEHOUSE_BASE_URL", "ftp://x", "GATEHOUSE_BASE_URL"},
      {"DATABASE_URL", "mysql://x", "DATABASE_URL"},
      {"GATEHOUSE_LOG_LEVEL", "loud", "GATEHOUSE_LOG_LEVEL"},
      {"GATEHOUSE_DELETE_USER", "maybe", "GATEHOUSE_DELETE_USER"},
      {"GATEHOUSE_MIN_PASSWORD_LENGTH", "100", "GATEHOUSE_MIN_PASSWORD_LENGTH"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clear_env(NULL);
    setenv(cases[i].var, cases[i].val, 1);
    if (!strcmp(cases[i].var, "GATEHOUSE_MIN_PASSWORD_LENGTH"))
      setenv("GATEHOUSE_MAX_PASSWORD_LENGTH", "50", 1);
    gh_config c;
    const char *err = NULL;
    assert_int_equal(gh_config_load(&c, &err), GH_ERR_CONFIG);
    assert_non_null(err);
    assert_non_null(strstr(err, cases[i].needle));
    gh_config_free(&c);
  }
}

static void print_masks_secrets(void **state) {
  (void)state;
  setenv("GATEHOUSE_SECRET", "super-secret-value-0123456789abcdef", 1);
  setenv("DATABASE_URL", "postgres://app:hunter2pw@db:5432/auth", 1);
  gh_config c;
  const char *err = NULL;
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  gh_config_print(&c, f);
  fclose(f);
  assert_null(strstr(buf, "super-secret-value"));
  assert_null(strstr(buf, "hunter2pw"));
  assert_non_null(strstr(buf, "postgres://app:****@db:5432/auth"));
  assert_non_null(strstr(buf, "GATEHOUSE_SECRET"));
  free(buf);
  gh_config_free(&c);
}

static void dev_secret_generated_and_reused(void **state) {
  (void)state;
  char dir[] = "/tmp/gh-config-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char url[256];
  snprintf(url, sizeof url, "sqlite:%s/sub/db.sqlite", dir);
  setenv("DATABASE_URL", url, 1);
  gh_config c;
  const char *err = NULL;
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_int_equal(gh_config_dev_secret(&c, &err), GH_OK);
  assert_true(c.secret_generated);
  assert_int_equal(strlen(c.secret), 64);
  char first[65];
  memcpy(first, c.secret, 65);
  gh_config_free(&c);
  assert_int_equal(gh_config_load(&c, &err), GH_OK);
  assert_int_equal(gh_config_dev_secret(&c, &err), GH_OK);
  assert_string_equal(c.secret, first); /* persisted, not regenerated */
  gh_config_free(&c);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(defaults, clear_env),
      cmocka_unit_test_setup(better_auth_fallbacks, clear_env),
      cmocka_unit_test_setup(production_requires_long_secret, clear_env),
      cmocka_unit_test_setup(invalid_values, clear_env),
      cmocka_unit_test_setup(print_masks_secrets, clear_env),
      cmocka_unit_test_setup(dev_secret_generated_and_reused, clear_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
