/* mail/message, mail/template and the e-mail verification token (plugins/email_token): MIME
 * structure, RFC 2047 subjects, no header injection through any value, template overrides, and
 * better-auth's HS256 token vector (spec §10). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/bytes.h"
#include "mail/message.h"
#include "mail/template.h"
#include "plugins/email_token.h"

/* spec §10: made by better-auth 1.7.25 with this secret */
#define VEC_SECRET "test-secret-that-is-long-enough-0123456789abcdef"
#define VEC_TOKEN                                                                                  \
  "eyJhbGciOiJIUzI1NiJ9."                                                                          \
  "eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIiwidXNlcklkIjoiaDBUd0t0M0cxcEdSVFliMU8zbDdPbXRxSnJBM2VXaH" \
  "MiLCJpYXQiOjE3OTU0MTk0MTAsImV4cCI6MTc5NTQyMzAxMH0.ngirikPhwm9SLfn2q-lmSmM7w7XZbpFEy5RY3FN0xCw"
#define VEC_USER "h0TwKt3G1pGRTYb1O3l7OmtqJrA3eWhs"

static void test_token_vector(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_email_claims c;
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, VEC_TOKEN, 1795419411, &c), GH_OK);
  assert_string_equal(c.email, "alice@example.com");
  assert_string_equal(c.user_id, VEC_USER);
  assert_null(c.update_to);
  assert_int_equal(c.iat, 1795419410);
  assert_int_equal(c.exp, 1795423010);
  /* the same claims at the same time sign to the very same token */
  char *t = gh_email_token_sign(a, VEC_SECRET, "Alice@Example.com", NULL, NULL, VEC_USER,
                                1795419410, 3600);
  assert_string_equal(t, VEC_TOKEN);
  /* exp <= now: expired (jose's JWTExpired), told apart from invalid */
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, VEC_TOKEN, 1795423010, &c),
                   GH_ERR_NOT_FOUND);
  assert_int_equal(
      gh_email_token_verify(a, "another-secret-0123456789abcdef0123", VEC_TOKEN, 1795419411, &c),
      GH_ERR_INVALID);
  char *bad = gh_arena_strdup(a, VEC_TOKEN);
  bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, bad, 1795419411, &c), GH_ERR_INVALID);
  /* alg none / another alg with the same payload */
  char *none = gh_arena_printf(a, "eyJhbGciOiJub25lIn0.%s", strchr(VEC_TOKEN, '.') + 1);
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, none, 1795419411, &c), GH_ERR_INVALID);
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, "a.b", 1795419411, &c), GH_ERR_INVALID);
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, "", 1795419411, &c), GH_ERR_INVALID);
  /* change-email claims keep better-auth's order */
  t = gh_email_token_sign(a, VEC_SECRET, "a@b.co", "New@B.co", "change-email-confirmation", "u1",
                          100, 60);
  assert_int_equal(gh_email_token_verify(a, VEC_SECRET, t, 101, &c), GH_OK);
  assert_string_equal(c.update_to, "new@b.co");
  assert_string_equal(c.request_type, "change-email-confirmation");
  const char *p = strchr(t, '.') + 1;
  size_t plen = (size_t)(strchr(p, '.') - p), n;
  uint8_t json[512];
  assert_int_equal(gh_b64_decode(p, plen, true, json, &n), GH_OK);
  json[n] = 0;
  assert_string_equal((char *)json,
                      "{\"email\":\"a@b.co\",\"updateTo\":\"new@b.co\",\"requestType\":"
                      "\"change-email-confirmation\",\"userId\":\"u1\",\"iat\":100,"
                      "\"exp\":160}");
  gh_arena_free(a);
}

/* Every header line of a built message (up to the blank line), unfolded count. */
static int header_lines(const char *msg, char names[][32], int max) {
  int n = 0;
  const char *p = msg;
  while (*p && !(p[0] == '\r' && p[1] == '\n')) {
    const char *eol = strstr(p, "\r\n");
    assert_non_null(eol);
    if (*p != ' ' && *p != '\t' && n < max) {
      const char *colon = memchr(p, ':', (size_t)(eol - p));
      assert_non_null(colon);
      snprintf(names[n++], 32, "%.*s", (int)(colon - p), p);
    }
    p = eol + 2;
  }
  return n;
}

static void test_message(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_mail_message m = {.from = "Gate \"House\" <no-reply@example.com>",
                       .to = "alice@example.com",
                       .subject = "Hi\r\nBcc: victim@example.org — ünïcödé and a long long long "
                                  "subject that needs two encoded words",
                       .text = "text body",
                       .html = "<p>html</p>",
                       .date_ms = 1795419410000};
  char *msg;
  assert_int_equal(gh_mail_build(a, &m, &msg), GH_OK);
  char names[16][32];
  int n = header_lines(msg, names, 16);
  const char *want[] = {"Date",         "From",           "To",          "Subject", "Message-ID",
                        "MIME-Version", "Auto-Submitted", "Content-Type"};
  assert_int_equal(n, 8);
  for (int i = 0; i < n; i++) assert_string_equal(names[i], want[i]);
  assert_non_null(strstr(msg, "Date: Mon, 23 Nov 2026 07:36:50 +0000\r\n"));
  assert_non_null(strstr(msg, "To: <alice@example.com>\r\n"));
  assert_null(strstr(msg, "victim")); /* only inside an encoded word */
  assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
  assert_non_null(strstr(msg, "?=\r\n =?UTF-8?B?")); /* folded into several words */
  assert_non_null(strstr(msg, "Content-Type: multipart/alternative; boundary=\"=_"));
  assert_non_null(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"));
  assert_non_null(strstr(msg, "Content-Type: text/html; charset=utf-8\r\n"));
  assert_non_null(strstr(msg, "dGV4dCBib2R5\r\n")); /* base64("text body") */
  /* every line within 78 characters; only CRLF line ends */
  for (const char *p = msg; *p;) {
    const char *eol = strstr(p, "\r\n");
    assert_non_null(eol);
    assert_true(eol - p <= 78);
    assert_null(memchr(p, '\n', (size_t)(eol - p)));
    p = eol + 2;
  }
  /* addresses that could add a header or a recipient are refused */
  const char *bad_to[] = {"a@b.co\r\nBcc: c@d.e", "a@b.co, c@d.e", "<a@b.co>", "a b@c.d", ""};
  for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++) {
    m.to = bad_to[i];
    assert_int_equal(gh_mail_build(a, &m, &msg), GH_ERR_INVALID);
  }
  m.to = "a@b.co";
  m.from = "Evil\r\nBcc: x@y.z <a@b.co>";
  assert_int_equal(gh_mail_build(a, &m, &msg), GH_ERR_INVALID);
  assert_string_equal(gh_mail_from_address(a, "gatehouse <no-reply@h.example>"),
                      "no-reply@h.example");
  gh_arena_free(a);
}

static void test_templates(void **state) {
  (void)state;
  gh_arena *a = gh_arena_new();
  gh_mail_var vars[] = {{"url", "https://h/x?a=1&b=2"}, {"name", "<b>Bob</b>\r\nBcc: x"}};
  gh_mail_rendered r;
  assert_int_equal(gh_mail_render(a, NULL, "reset-password", vars, 2, &r), GH_OK);
  assert_string_equal(r.subject, "Reset your password");
  assert_non_null(strstr(r.text, "https://h/x?a=1&b=2"));
  assert_non_null(strstr(r.text, "Hello <b>Bob</b>  Bcc: x,"));
  assert_non_null(strstr(r.html, "href=\"https://h/x?a=1&amp;b=2\""));
  assert_non_null(strstr(r.html, "&lt;b&gt;Bob&lt;/b&gt;  Bcc: x"));
  assert_int_equal(gh_mail_render(a, NULL, "no-such", vars, 2, &r), GH_ERR_NOT_FOUND);
  /* overrides from a directory, per part */
  char dir[] = "/tmp/gh-test-mail-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/reset-password.subject", dir);
  FILE *f = fopen(path, "w");
  fputs("Neues Passwort für {{name}}\n", f);
  fclose(f);
  assert_int_equal(gh_mail_render(a, dir, "reset-password", vars, 2, &r), GH_OK);
  assert_string_equal(r.subject, "Neues Passwort für <b>Bob</b>  Bcc: x");
  assert_non_null(strstr(r.text, "https://h/x?a=1&b=2")); /* built-in text kept */
  unlink(path);
  rmdir(dir);
  gh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_vector),
      cmocka_unit_test(test_message),
      cmocka_unit_test(test_templates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
