/* libFuzzer harness: request bodies. gh_json_parse followed by the sign-up validation of
 * src/auth/sign_up.c (gh_v_object, gh_v_string, gh_v_string_n, gh_v_bool, gh_email_valid).
 * Invariants: serialisation is stable (dump(parse(dump(j))) == dump(j)); gh_email_valid agrees
 * with zod's e-mail regex (checked with POSIX regex); validated strings have no NUL. */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/arena.h"
#include "common/encoding.h"
#include "json/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* zod 4: ^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+
 * [A-Za-z]{2,}$ -- the two lookaheads are checked separately. */
static regex_t email_re;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (regcomp(&email_re,
              "^[A-Za-z0-9_'+.-]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9-]*\\.)+[A-Za-z]{2,}$",
              REG_EXTENDED | REG_NOSUB) != 0)
    abort();
  return 0;
}

static bool email_reference(const char *e) {
  size_t n = strlen(e);
  if (n == 0 || n > 254 || e[0] == '.' || strstr(e, "..")) return false;
  return regexec(&email_re, e, 0, NULL, 0) == 0;
}

static void check_email(const char *e) {
  if (gh_email_valid(e) != email_reference(e)) abort();
}

/* The sign-up body validation, as gh_route_sign_up runs it before touching the store. */
static void validate_sign_up(gh_arena *a, const gh_json *b) {
  gh_vctx v = {.a = a};
  if (!gh_v_object(&v, b, "object")) {
    gh_v_object(&v, b, "record");
    if (!v.msg) abort();
    return;
  }
  if (v.msg) abort();
  const char *name = gh_v_string(&v, b, "name", true, false, NULL);
  if (name && strlen(name) != gh_json_string_len(gh_json_get(b, "name"))) abort();
  size_t elen, plen;
  const char *email = gh_v_string_n(&v, b, "email", true, &elen);
  if (email) {
    if (strlen(email) == elen) check_email(email);
    if (strlen(email) != elen || !gh_email_valid(email))
      gh_v_issue(&v, "body.email", "Invalid email address");
  }
  const char *password = gh_v_string_n(&v, b, "password", true, &plen);
  bool present = false;
  const char *image = gh_v_string(&v, b, "image", false, false, &present);
  if (image && !present) abort();
  gh_v_string(&v, b, "callbackURL", false, true, NULL);
  bool remember = gh_v_bool(&v, b, "rememberMe", true);
  (void)remember;
  if (!name || !email || !password) {
    if (!v.msg) abort(); /* a missing required field is always reported */
    return;
  }
  if (!gh_utf8_valid(password, plen) && memchr(password, 0, plen) == NULL) abort();
  size_t units = gh_utf16_length(password, plen);
  if (units > plen) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gh_arena *a = gh_arena_new();
  gh_json *j;
  if (gh_json_parse((const char *)data, size, &j) != GH_OK) {
    gh_arena_free(a);
    return 0;
  }
  gh_json_own(a, j);
  validate_sign_up(a, j);
  /* The other validators on every member, whatever its type (sign-in, update-user...). */
  if (gh_json_typeof(j) == GH_JSON_OBJECT) {
    for (void *it = gh_json_iter(j); it; it = gh_json_iter_next(j, it)) {
      const char *key = gh_json_iter_key(it);
      gh_vctx v = {.a = a};
      size_t len;
      bool present = false;
      const char *s = gh_v_string(&v, j, key, true, true, &present);
      if (!present || (s && strlen(s) != gh_json_string_len(gh_json_iter_value(it)))) abort();
      s = gh_v_string_n(&v, j, key, false, &len);
      if (s && len != gh_json_string_len(gh_json_iter_value(it))) abort();
      if (s && strlen(s) == len) check_email(s);
      gh_v_bool(&v, j, key, false);
      (void)gh_json_type_name(gh_json_typeof(gh_json_iter_value(it)));
    }
  } else if (gh_json_typeof(j) == GH_JSON_STRING) {
    const char *s = gh_json_string(j);
    if (strlen(s) == gh_json_string_len(j)) check_email(s);
  }
  /* Serialisation round trip. */
  size_t n1, n2;
  char *d1 = gh_json_dump(a, j, &n1);
  gh_json *j2;
  if (gh_json_parse(d1, n1, &j2) != GH_OK) abort();
  gh_json_own(a, j2);
  char *d2 = gh_json_dump(a, j2, &n2);
  if (n1 != n2 || memcmp(d1, d2, n1) != 0) abort();
  gh_arena_free(a);
  return 0;
}
