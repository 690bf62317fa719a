/* Additional fields: better-auth's parseInputData and the fields' JSON values. */
#include "auth/fields.h"

#include <string.h>

#include "common/errors.h"
#include "common/time.h"

/* JavaScript's truthiness of a JSON value. */
static bool truthy(const gh_json *j) {
  switch (gh_json_typeof(j)) {
  case GH_JSON_STRING:
    return gh_json_string_len(j) > 0;
  case GH_JSON_INTEGER:
  case GH_JSON_REAL:
    return gh_json_integer(j) != 0 || gh_json_typeof(j) == GH_JSON_REAL;
  case GH_JSON_TRUE:
  case GH_JSON_OBJECT:
  case GH_JSON_ARRAY:
    return true;
  default:
    return false;
  }
}

static const char *type_name(gh_field_type t) {
  switch (t) {
  case GH_FIELD_BOOLEAN:
    return "boolean";
  case GH_FIELD_NUMBER:
    return "number";
  case GH_FIELD_DATE:
    return "date";
  default:
    return "string";
  }
}

/* The client's value j for a field of type t; false when it is not of that type. */
static bool value_from_json(gh_arena *a, gh_field_type t, const gh_json *j, gh_value *out) {
  memset(out, 0, sizeof *out);
  out->set = true;
  gh_json_type jt = gh_json_typeof(j);
  if (jt == GH_JSON_NULL) {
    out->null = true;
    return true;
  }
  switch (t) {
  case GH_FIELD_STRING:
    if (jt != GH_JSON_STRING || strlen(gh_json_string(j)) != gh_json_string_len(j)) return false;
    out->text = gh_arena_strdup(a, gh_json_string(j));
    return true;
  case GH_FIELD_BOOLEAN:
    if (jt != GH_JSON_TRUE && jt != GH_JSON_FALSE) return false;
    out->num = jt == GH_JSON_TRUE;
    return true;
  case GH_FIELD_NUMBER:
    if (jt != GH_JSON_INTEGER) return false;
    out->num = gh_json_integer(j);
    return true;
  case GH_FIELD_DATE:
    return jt == GH_JSON_STRING && gh_iso8601_parse(gh_json_string(j), &out->num) == GH_OK;
  }
  return false;
}

bool gh_fields_parse_input(gh_arena *a, gh_resp *resp, gh_model m, const gh_json *body, bool create,
                           gh_values *out, size_t *nset) {
  if (nset) *nset = 0;
  const gh_store_fields *f = gh_store_fields_current();
  size_t n = gh_store_fields_count(f, m);
  if (!n) return true;
  if (out->n < n) gh_values_init(a, out, m);
  for (size_t i = 0; i < n; i++) {
    const gh_field *fl = gh_store_field_at(f, m, i);
    const gh_json *j = gh_json_get(body, fl->name);
    if (!j) continue;
    if (!fl->input) {
      if (fl->def && create) continue; /* the default stays */
      if (truthy(j)) {
        gh_resp_error_msg(resp, 400, gh_err_lookup(GH_E_FIELD_NOT_ALLOWED)->code,
                          gh_arena_printf(a, "%s is not allowed to be set", fl->name));
        return false;
      }
      continue;
    }
    if (!value_from_json(a, fl->type, j, &out->v[i])) {
      gh_resp_error_msg(resp, 400, "VALIDATION_ERROR",
                        gh_arena_printf(a, "[body.%s] Invalid input: expected %s, received %s",
                                        fl->name, type_name(fl->type),
                                        gh_json_type_name(gh_json_typeof(j))));
      return false;
    }
    if (nset) (*nset)++;
  }
  return true;
}

void gh_fields_update_set(gh_model m, const gh_json *body, const gh_values *vals, gh_store_set *set,
                          size_t *n) {
  const gh_store_fields *f = gh_store_fields_current();
  for (size_t i = 0; i < gh_store_fields_count(f, m) && i < vals->n; i++) {
    const gh_field *fl = gh_store_field_at(f, m, i);
    if (!fl->input || !gh_json_get(body, fl->name)) continue;
    set[*n].column = fl->name;
    set[*n].v = vals->v[i];
    (*n)++;
  }
}

gh_json *gh_value_json(gh_field_type t, const gh_value *v) {
  if (!v || !v->set || v->null) return gh_json_null();
  switch (t) {
  case GH_FIELD_STRING:
    return gh_json_str(v->text);
  case GH_FIELD_BOOLEAN:
    return gh_json_bool(v->num != 0);
  case GH_FIELD_NUMBER:
    return gh_json_int(v->num);
  case GH_FIELD_DATE: {
    char b[GH_ISO_LEN];
    gh_iso8601(v->num, b);
    return gh_json_str(b);
  }
  }
  return gh_json_null();
}

void gh_fields_json(gh_json *obj, gh_model m, const gh_values *vals) {
  const gh_store_fields *f = gh_store_fields_current();
  for (size_t i = 0; i < gh_store_fields_count(f, m); i++) {
    const gh_field *fl = gh_store_field_at(f, m, i);
    if (fl->hidden) continue;
    gh_json_set_new(obj, fl->name, gh_value_json(fl->type, i < vals->n ? &vals->v[i] : NULL));
  }
}
