/* Shared helpers for unit tests that read tests/vectors/better-auth-vectors.json.
 * Header-only: include after <cmocka.h>. The directory comes from $GH_VECTORS (set by CTest). */
#ifndef GH_TESTS_VECTORS_H
#define GH_TESTS_VECTORS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GH_VECTORS_FILE "better-auth-vectors.json"

/* Loads the whole vectors file; fails the current test when it cannot. json_decref() it. */
static inline json_t *vec_load(void) {
  const char *dir = getenv("GH_VECTORS");
  if (!dir || !*dir) fail_msg("GH_VECTORS is not set (run the tests through ctest)");
  size_t n = strlen(dir) + sizeof "/" GH_VECTORS_FILE;
  char *path = malloc(n);
  assert_non_null(path);
  snprintf(path, n, "%s/%s", dir, GH_VECTORS_FILE);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root) fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
  free(path);
  assert_true(json_is_object(root));
  return root;
}

/* A group (array of flat objects); fails when absent or empty. */
static inline json_t *vec_group(json_t *root, const char *name) {
  json_t *g = json_object_get(root, name);
  if (!json_is_array(g) || json_array_size(g) == 0) fail_msg("vector group %s missing", name);
  return g;
}

static inline const char *vec_str(json_t *v, const char *key) {
  json_t *s = json_object_get(v, key);
  if (!json_is_string(s)) fail_msg("vector field %s is not a string", key);
  return json_string_value(s);
}

static inline size_t vec_strlen(json_t *v, const char *key) {
  json_t *s = json_object_get(v, key);
  if (!json_is_string(s)) fail_msg("vector field %s is not a string", key);
  return json_string_length(s);
}

static inline int64_t vec_int(json_t *v, const char *key) {
  json_t *i = json_object_get(v, key);
  if (!json_is_integer(i)) fail_msg("vector field %s is not an integer", key);
  return (int64_t)json_integer_value(i);
}

static inline int vec_bool(json_t *v, const char *key) {
  json_t *b = json_object_get(v, key);
  if (!json_is_boolean(b)) fail_msg("vector field %s is not a boolean", key);
  return json_is_true(b);
}

static inline int vec_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Independent hex decoder (does not use the code under test). malloc'd, NUL-terminated. */
static inline uint8_t *vec_unhex(const char *hex, size_t *len) {
  size_t n = strlen(hex);
  assert_int_equal(n % 2, 0);
  uint8_t *out = malloc(n / 2 + 1);
  assert_non_null(out);
  for (size_t i = 0; i < n; i += 2) {
    int h = vec_hexval(hex[i]), l = vec_hexval(hex[i + 1]);
    assert_true(h >= 0 && l >= 0);
    out[i / 2] = (uint8_t)(h << 4 | l);
  }
  out[n / 2] = 0;
  *len = n / 2;
  return out;
}

/* Lower-case hex of buf (malloc'd), for readable assert_string_equal messages. */
static inline char *vec_tohex(const uint8_t *buf, size_t n) {
  static const char H[] = "0123456789abcdef";
  char *out = malloc(2 * n + 1);
  assert_non_null(out);
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = H[buf[i] >> 4];
    out[2 * i + 1] = H[buf[i] & 15];
  }
  out[2 * n] = 0;
  return out;
}

#endif
