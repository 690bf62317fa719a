/* Additional user and session fields declared by plugins (gh_plugin.user_fields /
 * session_fields): parsing a client's input as better-auth's parseInputData does, and their JSON
 * values. The columns themselves are read and written by the store (store.h, "additional
 * fields"). */
#ifndef GH_AUTH_FIELDS_H
#define GH_AUTH_FIELDS_H

#include <stdbool.h>

#include "http/http.h"
#include "json/json.h"
#include "store/store.h"

/* better-auth's parseInputData over the installed fields of m, for body (an object):
 *  - a field with input=false: on create with a default, the default is used and the client's
 *    value silently ignored; otherwise a truthy value is refused with 400 FIELD_NOT_ALLOWED
 *    "<key> is not allowed to be set" and a falsy one ignored;
 *  - a field with input=true: the client's value is taken (a value of the wrong type is 400
 *    VALIDATION_ERROR "[body.<key>] Invalid input: expected <type>, received <type>");
 *  - keys that are no installed field are not looked at.
 * Given values go into out (allocated on a with every field's insert value when out has none yet;
 * out may already hold values, e.g. from gh_user_init); *nset (optional) receives how many were
 * taken from the body. false = answered (resp set). */
bool gh_fields_parse_input(gh_arena *a, gh_resp *resp, gh_model m, const gh_json *body, bool create,
                           gh_values *out, size_t *nset);
/* The store columns to update for the values taken by gh_fields_parse_input (create = false) from
 * body: appended to set (room for every installed field of m), *n increased. */
void gh_fields_update_set(gh_model m, const gh_json *body, const gh_values *vals, gh_store_set *set,
                          size_t *n);
/* The JSON of one value of a field of type t (null, string, boolean, ISO date, number). */
gh_json *gh_value_json(gh_field_type t, const gh_value *v);
/* Adds the returned installed fields of m (in their order) to obj. */
void gh_fields_json(gh_json *obj, gh_model m, const gh_values *vals);

#endif
