/* Body validation with zod's messages, and zod 4's e-mail rule. */
#include "auth/validate.h"

#include <ctype.h>
#include <string.h>

void gh_v_issue(gh_vctx *v, const char *path, const char *text) {
  v->msg = v->msg ? gh_arena_printf(v->a, "%s; [%s] %s", v->msg, path, text)
                  : gh_arena_printf(v->a, "[%s] %s", path, text);
}

bool gh_v_object(gh_vctx *v, const gh_json *body, const char *kind) {
  gh_json_type t = gh_json_typeof(body);
  if (t == GH_JSON_OBJECT) return true;
  gh_v_issue(
      v, "body",
      gh_arena_printf(v->a, "Invalid input: expected %s, received %s", kind, gh_json_type_name(t)));
  return false;
}

const char *gh_v_string_n(gh_vctx *v, const gh_json *body, const char *field, bool required,
                          size_t *len) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  *len = 0;
  if (t == GH_JSON_STRING) {
    *len = gh_json_string_len(j);
    return gh_json_string(j);
  }
  if (t == GH_JSON_UNDEFINED && !required) return NULL;
  gh_v_issue(
      v, gh_arena_printf(v->a, "body.%s", field),
      gh_arena_printf(v->a, "Invalid input: expected string, received %s", gh_json_type_name(t)));
  return NULL;
}

const char *gh_v_string(gh_vctx *v, const gh_json *body, const char *field, bool required,
                        bool nullable, bool *present) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  if (present) *present = t != GH_JSON_UNDEFINED;
  char *path = gh_arena_printf(v->a, "body.%s", field);
  if (t == GH_JSON_STRING) {
    const char *s = gh_json_string(j);
    if (strlen(s) != gh_json_string_len(j)) {
      gh_v_issue(v, path, "Invalid input: string must not contain NUL characters");
      return NULL;
    }
    return s;
  }
  if (t == GH_JSON_UNDEFINED && !required) return NULL;
  if (t == GH_JSON_NULL && nullable) return NULL;
  gh_v_issue(
      v, path,
      gh_arena_printf(v->a, "Invalid input: expected string, received %s", gh_json_type_name(t)));
  return NULL;
}

bool gh_v_bool(gh_vctx *v, const gh_json *body, const char *field, bool dflt) {
  gh_json *j = gh_json_get(body, field);
  gh_json_type t = gh_json_typeof(j);
  if (t == GH_JSON_TRUE) return true;
  if (t == GH_JSON_FALSE) return false;
  if (t == GH_JSON_UNDEFINED) return dflt;
  gh_v_issue(
      v, gh_arena_printf(v->a, "body.%s", field),
      gh_arena_printf(v->a, "Invalid input: expected boolean, received %s", gh_json_type_name(t)));
  return dflt;
}

bool gh_v_fail(gh_vctx *v, gh_resp *resp) {
  if (!v->msg) return false;
  gh_resp_error_msg(resp, 400, "VALIDATION_ERROR", v->msg);
  return true;
}

/* zod 4's e-mail rule:
 * ^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$
 * plus the RFC 5321 length limit of 254. */
bool gh_email_valid(const char *e) {
  size_t n = strlen(e);
  if (n == 0 || n > 254 || e[0] == '.' || strstr(e, "..")) return false;
  const char *at = strchr(e, '@');
  if (!at || at == e || strchr(at + 1, '@')) return false;
  for (const char *p = e; p < at; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_'+-.", *p)) return false;
  char last = at[-1];
  if (!isalnum((unsigned char)last) && !strchr("_+-", last)) return false;
  const char *d = at + 1;
  const char *lastdot = strrchr(d, '.');
  if (!lastdot || lastdot == d) return false;
  const char *tld = lastdot + 1;
  if (strlen(tld) < 2) return false;
  for (const char *p = tld; *p; p++)
    if (!isalpha((unsigned char)*p)) return false;
  const char *p = d;
  while (p < lastdot) { /* labels: [A-Za-z0-9][A-Za-z0-9-]* '.' */
    if (!isalnum((unsigned char)*p)) return false;
    p++;
    while (p < lastdot && *p != '.') {
      if (!isalnum((unsigned char)*p) && *p != '-') return false;
      p++;
    }
    if (p < lastdot) p++; /* skip '.' */
  }
  return true;
}
