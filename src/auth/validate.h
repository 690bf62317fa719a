/* Request body validation with zod's messages ("[body.name] Invalid input: expected string, ...")
 * and zod 4's e-mail rule. */
#ifndef GH_AUTH_VALIDATE_H
#define GH_AUTH_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "http/http.h"
#include "json/json.h"

typedef struct {
  gh_arena *a;
  char *msg; /* issues joined by "; " */
} gh_vctx;

void gh_v_issue(gh_vctx *v, const char *path, const char *text);
/* The body must be a JSON object. kind is zod's name for the schema: "object" or "record". */
bool gh_v_object(gh_vctx *v, const gh_json *body, const char *kind);
/* Returns the string (NULL when absent/null and optional, or on an issue). nullable: null ok. */
const char *gh_v_string(gh_vctx *v, const gh_json *body, const char *field, bool required,
                        bool nullable, bool *present);
/* Like gh_v_string but NUL characters are allowed (passwords): *len receives the byte length. */
const char *gh_v_string_n(gh_vctx *v, const gh_json *body, const char *field, bool required,
                          size_t *len);
/* Optional boolean: returns dflt when absent; records an issue for other types. */
bool gh_v_bool(gh_vctx *v, const gh_json *body, const char *field, bool dflt);
/* Answers 400 VALIDATION_ERROR when issues were recorded; returns true if it did. */
bool gh_v_fail(gh_vctx *v, gh_resp *resp);
bool gh_email_valid(const char *email);

#endif
