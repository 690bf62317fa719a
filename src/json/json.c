#include "json/json.h"

#include <jansson.h>

#include "common/encoding.h"
#include <stdlib.h>
#include <string.h>

gh_status gh_json_parse(const char *buf, size_t len, gh_json **out) {
  json_error_t err;
  json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!j) return GH_ERR_INVALID;
  *out = j;
  return GH_OK;
}

void gh_json_decref(gh_json *j) {
  json_decref(j);
}

gh_json *gh_json_incref(gh_json *j) {
  return json_incref(j);
}

static void decref_cb(void *p) {
  json_decref(p);
}

gh_json *gh_json_own(gh_arena *a, gh_json *j) {
  if (j) gh_arena_defer(a, decref_cb, j);
  return j;
}

gh_json_type gh_json_typeof(const gh_json *j) {
  if (!j) return GH_JSON_UNDEFINED;
  switch (json_typeof(j)) {
  case JSON_OBJECT:
    return GH_JSON_OBJECT;
  case JSON_ARRAY:
    return GH_JSON_ARRAY;
  case JSON_STRING:
    return GH_JSON_STRING;
  case JSON_INTEGER:
    return GH_JSON_INTEGER;
  case JSON_REAL:
    return GH_JSON_REAL;
  case JSON_TRUE:
    return GH_JSON_TRUE;
  case JSON_FALSE:
    return GH_JSON_FALSE;
  case JSON_NULL:
    return GH_JSON_NULL;
  }
  return GH_JSON_UNDEFINED;
}

const char *gh_json_type_name(gh_json_type t) {
  switch (t) {
  case GH_JSON_OBJECT:
    return "object";
  case GH_JSON_ARRAY:
    return "array";
  case GH_JSON_STRING:
    return "string";
  case GH_JSON_INTEGER:
  case GH_JSON_REAL:
    return "number";
  case GH_JSON_TRUE:
  case GH_JSON_FALSE:
    return "boolean";
  case GH_JSON_NULL:
    return "null";
  case GH_JSON_UNDEFINED:
    return "undefined";
  }
  return "undefined";
}

gh_json *gh_json_get(const gh_json *obj, const char *key) {
  if (!obj || !json_is_object(obj)) return NULL;
  return json_object_get(obj, key);
}

const char *gh_json_string(const gh_json *j) {
  return j && json_is_string(j) ? json_string_value(j) : NULL;
}

size_t gh_json_string_len(const gh_json *j) {
  return j && json_is_string(j) ? json_string_length(j) : 0;
}

int64_t gh_json_integer(const gh_json *j) {
  return j && json_is_integer(j) ? (int64_t)json_integer_value(j) : 0;
}

double gh_json_number(const gh_json *j) {
  return j && json_is_number(j) ? json_number_value(j) : 0;
}

bool gh_json_is_true(const gh_json *j) {
  return j && json_is_true(j);
}

size_t gh_json_object_size(const gh_json *j) {
  return j && json_is_object(j) ? json_object_size(j) : 0;
}

size_t gh_json_array_size(const gh_json *j) {
  return j && json_is_array(j) ? json_array_size(j) : 0;
}

gh_json *gh_json_array_get(const gh_json *j, size_t i) {
  return j && json_is_array(j) ? json_array_get(j, i) : NULL;
}

void *gh_json_iter(gh_json *obj) {
  return obj && json_is_object(obj) ? json_object_iter(obj) : NULL;
}

void *gh_json_iter_next(gh_json *obj, void *it) {
  return json_object_iter_next(obj, it);
}

const char *gh_json_iter_key(void *it) {
  return json_object_iter_key(it);
}

gh_json *gh_json_iter_value(void *it) {
  return json_object_iter_value(it);
}

static json_t *chk(json_t *j) {
  if (!j) gh_oom();
  return j;
}

gh_json *gh_json_object(void) {
  return chk(json_object());
}

gh_json *gh_json_array(void) {
  return chk(json_array());
}

/* Invalid UTF-8 (from a header or a database row) becomes U+FFFD instead of failing. */
static json_t *string_lossy(const char *s, size_t n) {
  json_t *j = json_stringn(s, n);
  if (j) return j;
  char *buf = malloc(n * 3 + 1);
  if (!buf) gh_oom();
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len = 1;
    unsigned char c = (unsigned char)s[i];
    if (c >= 0xF0)
      len = 4;
    else if (c >= 0xE0)
      len = 3;
    else if (c >= 0xC0)
      len = 2;
    if (c && i + len <= n && (c < 0x80 || gh_utf8_valid(s + i, len))) {
      memcpy(buf + o, s + i, len);
      o += len;
      i += len;
    } else {
      memcpy(buf + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    }
  }
  j = json_stringn(buf, o);
  free(buf);
  return chk(j);
}

gh_json *gh_json_str(const char *s) {
  return s ? string_lossy(s, strlen(s)) : json_null();
}

gh_json *gh_json_strn(const char *s, size_t n) {
  return s ? string_lossy(s, n) : json_null();
}

gh_json *gh_json_int(int64_t v) {
  return chk(json_integer((json_int_t)v));
}

gh_json *gh_json_bool(bool v) {
  return json_boolean(v);
}

gh_json *gh_json_null(void) {
  return json_null();
}

void gh_json_set_new(gh_json *obj, const char *key, gh_json *v) {
  if (json_object_set_new(obj, key, v ? v : json_null()) != 0) gh_oom();
}

void gh_json_append_new(gh_json *arr, gh_json *v) {
  if (json_array_append_new(arr, v ? v : json_null()) != 0) gh_oom();
}

char *gh_json_dump(gh_arena *a, const gh_json *j, size_t *len) {
  size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  char *buf = gh_arena_alloc(a, n + 1);
  if (n && json_dumpb(j, buf, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) gh_oom();
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}
