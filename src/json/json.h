/* Thin wrapper over jansson: the only folder that includes <jansson.h>.
 * Ownership vocabulary: "_new" functions steal the reference they are given; getters borrow. */
#ifndef GH_JSON_JSON_H
#define GH_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"

typedef struct json_t gh_json;

typedef enum {
  GH_JSON_OBJECT,
  GH_JSON_ARRAY,
  GH_JSON_STRING,
  GH_JSON_INTEGER,
  GH_JSON_REAL,
  GH_JSON_TRUE,
  GH_JSON_FALSE,
  GH_JSON_NULL,
  GH_JSON_UNDEFINED, /* absent */
} gh_json_type;

/* Strict parse (valid UTF-8, no trailing garbage, duplicate keys rejected, NUL escapes allowed so
 * the caller can reject them with a field-level message). GH_ERR_INVALID on malformed input. */
GH_MUST_CHECK gh_status gh_json_parse(const char *buf, size_t len, gh_json **out);
void gh_json_decref(gh_json *j);
gh_json *gh_json_incref(gh_json *j);
/* Registers decref on the arena; returns j. */
gh_json *gh_json_own(gh_arena *a, gh_json *j);

gh_json_type gh_json_typeof(const gh_json *j); /* NULL -> GH_JSON_UNDEFINED */
const char *gh_json_type_name(gh_json_type t); /* zod-style: "string", "object", "undefined"... */
gh_json *gh_json_get(const gh_json *obj, const char *key); /* borrowed; NULL if absent */
const char *gh_json_string(const gh_json *j);              /* NULL unless a string */
size_t gh_json_string_len(const gh_json *j);
int64_t gh_json_integer(const gh_json *j);
double gh_json_number(const gh_json *j); /* integer or real as a double; 0 unless a number */
bool gh_json_is_true(const gh_json *j);
size_t gh_json_object_size(const gh_json *j);
size_t gh_json_array_size(const gh_json *j);
gh_json *gh_json_array_get(const gh_json *j, size_t i);

/* Iteration over an object: for (void *it = gh_json_iter(o); it; it = gh_json_iter_next(o, it)) */
void *gh_json_iter(gh_json *obj);
void *gh_json_iter_next(gh_json *obj, void *it);
const char *gh_json_iter_key(void *it);
gh_json *gh_json_iter_value(void *it);

gh_json *gh_json_object(void);
gh_json *gh_json_array(void);
gh_json *gh_json_str(const char *s); /* NULL s -> JSON null */
gh_json *gh_json_strn(const char *s, size_t n);
gh_json *gh_json_int(int64_t v);
gh_json *gh_json_bool(bool v);
gh_json *gh_json_null(void);
/* Sets obj[key] = v, stealing v (v == NULL sets JSON null). */
void gh_json_set_new(gh_json *obj, const char *key, gh_json *v);
void gh_json_append_new(gh_json *arr, gh_json *v);

/* Compact serialisation (JSON.stringify order = insertion order). Allocated on the arena. */
char *gh_json_dump(gh_arena *a, const gh_json *j, size_t *len);

#endif
