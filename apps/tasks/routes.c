#include "routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "cors.h"
#include "store.h"

#define TITLE_MAX 200
#define DESCRIPTION_MAX 2000
#define LIMIT_DEFAULT 20
#define LIMIT_MAX 100
#define OFFSET_MAX 1000000000L
#define ID_MAX 128 /* a longer {id} cannot exist: 404 without a query */

/* --- responses ------------------------------------------------------------------------------ */

static void error(gh_resp *r, int status, const char *code, const char *message) {
  gh_resp_error_msg(r, status, code, message);
}

static void validation(gh_resp *r, const char *message) {
  error(r, 400, "VALIDATION_ERROR", message);
}

static void not_found(gh_resp *r) {
  error(r, 404, "NOT_FOUND", "Task not found");
}

static void unavailable(gh_resp *r, const char *message) {
  error(r, 503, "SERVICE_UNAVAILABLE", message);
  gh_resp_header(r, "Retry-After", "5");
}

/* A store error that is not "not found": 503 + Retry-After when the database cannot serve (the
 * server's rule, gh_store_unavailable), else 500. */
static void store_error(gh_resp *r, gh_status st) {
  if (gh_store_unavailable(st)) {
    unavailable(r, "The database is unavailable. Try again later.");
    return;
  }
  error(r, 500, "INTERNAL_SERVER_ERROR", "Internal server error");
}

static gh_json *task_json(const tasks_task *t) {
  char c[GH_ISO_LEN], u[GH_ISO_LEN];
  gh_iso8601(t->created_at, c);
  gh_iso8601(t->updated_at, u);
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "id", gh_json_str(t->id));
  gh_json_set_new(o, "userId", gh_json_str(t->user_id));
  gh_json_set_new(o, "title", gh_json_str(t->title));
  gh_json_set_new(o, "description", gh_json_str(t->description));
  gh_json_set_new(o, "completed", gh_json_bool(t->completed));
  gh_json_set_new(o, "createdAt", gh_json_str(c));
  gh_json_set_new(o, "updatedAt", gh_json_str(u));
  return o;
}

/* --- input ---------------------------------------------------------------------------------- */

static bool media_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  while (*ct == ' ') ct++;
  if (strncasecmp(ct, want, n) != 0) return false;
  return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

static size_t utf8_chars(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

static bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct {
  unsigned mask; /* TASKS_SET_* present in the body */
  char *title;
  char *description;
  bool completed;
} task_input;

/* Parses and validates a JSON object body. need_title: POST and PUT. At least one field: PATCH.
 * false = the 4xx answer is set. */
static bool parse_body(gh_req *req, gh_resp *resp, bool need_title, bool need_one, task_input *in) {
  memset(in, 0, sizeof *in);
  const char *ct = gh_req_header(req, "Content-Type");
  if ((ct || req->body_len) && !(ct && media_is(ct, "application/json"))) {
    error(resp, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    return false;
  }
  gh_json *body;
  if (req->body_len == 0) {
    validation(resp, "The request body must be a JSON object");
    return false;
  }
  if (gh_json_parse(req->body, req->body_len, &body) != GH_OK) {
    validation(resp, "The request body is not valid JSON");
    return false;
  }
  gh_json_own(req->arena, body);
  if (gh_json_typeof(body) != GH_JSON_OBJECT) {
    validation(resp, "The request body must be a JSON object");
    return false;
  }
  for (void *it = gh_json_iter(body); it; it = gh_json_iter_next(body, it)) {
    const char *k = gh_json_iter_key(it);
    gh_json *v = gh_json_iter_value(it);
    gh_json_type t = gh_json_typeof(v);
    if (!strcmp(k, "title")) {
      if (t != GH_JSON_STRING) {
        validation(resp, "title must be a string");
        return false;
      }
      const char *s = gh_json_string(v);
      size_t n = gh_json_string_len(v);
      if (strlen(s) != n) {
        validation(resp, "title must not contain NUL characters");
        return false;
      }
      while (n && space(*s)) s++, n--;
      while (n && space(s[n - 1])) n--;
      size_t chars = utf8_chars(s, n);
      if (chars < 1 || chars > TITLE_MAX) {
        validation(resp, "title must be 1 to 200 characters long (surrounding spaces trimmed)");
        return false;
      }
      in->title = gh_arena_strndup(req->arena, s, n);
      in->mask |= TASKS_SET_TITLE;
    } else if (!strcmp(k, "description")) {
      if (t == GH_JSON_NULL) {
        in->description = NULL;
      } else if (t == GH_JSON_STRING) {
        const char *s = gh_json_string(v);
        size_t n = gh_json_string_len(v);
        if (strlen(s) != n) {
          validation(resp, "description must not contain NUL characters");
          return false;
        }
        if (utf8_chars(s, n) > DESCRIPTION_MAX) {
          validation(resp, "description must be at most 2000 characters long");
          return false;
        }
        in->description = gh_arena_strndup(req->arena, s, n);
      } else {
        validation(resp, "description must be a string or null");
        return false;
      }
      in->mask |= TASKS_SET_DESCRIPTION;
    } else if (!strcmp(k, "completed")) {
      if (t != GH_JSON_TRUE && t != GH_JSON_FALSE) {
        validation(resp, "completed must be a boolean");
        return false;
      }
      in->completed = t == GH_JSON_TRUE;
      in->mask |= TASKS_SET_COMPLETED;
    } else {
      char *msg = gh_arena_printf(
          req->arena, "Unknown field \"%.64s\" (allowed: title, description, completed)", k);
      validation(resp, msg);
      return false;
    }
  }
  if (need_title && !(in->mask & TASKS_SET_TITLE)) {
    validation(resp, "title is required");
    return false;
  }
  if (need_one && !in->mask) {
    validation(resp, "At least one of title, description, completed is required");
    return false;
  }
  return true;
}

/* ?name= as an integer in [min, max]; absent = dflt. false = the 400 answer is set. */
static bool query_long(gh_req *req, gh_resp *resp, const char *name, long min, long max, long dflt,
                       long *out) {
  const char *v = gh_req_query(req, name);
  *out = dflt;
  if (!v) return true;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (!*v || *end || errno || n < min || n > max || *v == '+' || *v == ' ') {
    validation(
        resp, gh_arena_printf(req->arena, "%s must be an integer from %ld to %ld", name, min, max));
    return false;
  }
  *out = n;
  return true;
}

/* --- handlers ------------------------------------------------------------------------------- */

static void list_tasks(gh_req *req, gh_resp *resp, tasks_store *s, const char *uid) {
  long limit, offset;
  if (!query_long(req, resp, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &limit) ||
      !query_long(req, resp, "offset", 0, OFFSET_MAX, 0, &offset))
    return;
  tasks_task *v;
  size_t n;
  long total;
  gh_status st = tasks_store_list(s, req->arena, uid, limit, offset, &v, &n, &total);
  if (st) {
    store_error(resp, st);
    return;
  }
  gh_json *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, task_json(&v[i]));
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "tasks", arr);
  gh_json_set_new(o, "total", gh_json_int(total));
  gh_json_set_new(o, "limit", gh_json_int(limit));
  gh_json_set_new(o, "offset", gh_json_int(offset));
  gh_resp_json(resp, 200, o);
}

static void create_task(gh_req *req, gh_resp *resp, tasks_store *s, const char *uid) {
  task_input in;
  if (!parse_body(req, resp, true, false, &in)) return;
  tasks_task t = {0};
  t.id = gh_arena_alloc(req->arena, TASKS_ID_LEN + 1);
  gh_rand_id(t.id, TASKS_ID_LEN);
  t.user_id = (char *)uid;
  t.title = in.title;
  t.description = in.description;
  t.completed = in.completed;
  t.created_at = t.updated_at = gh_now_ms();
  gh_status st = tasks_store_insert(s, &t);
  if (st) {
    store_error(resp, st);
    return;
  }
  gh_log(GH_LOG_INFO, "task.created", "user_id", uid, "task_id", t.id, NULL);
  gh_resp_json(resp, 201, task_json(&t));
  gh_resp_header(resp, "Location", gh_arena_printf(req->arena, "/api/tasks/%s", t.id));
}

static void get_task(gh_req *req, gh_resp *resp, tasks_store *s, const char *uid, const char *id) {
  tasks_task t;
  gh_status st = tasks_store_get(s, req->arena, uid, id, &t);
  if (st == GH_ERR_NOT_FOUND)
    not_found(resp);
  else if (st)
    store_error(resp, st);
  else
    gh_resp_json(resp, 200, task_json(&t));
}

/* PUT (replace: title required, description and completed reset when absent) or PATCH. */
static void update_task(gh_req *req, gh_resp *resp, tasks_store *s, const char *uid, const char *id,
                        bool put) {
  task_input in;
  if (!parse_body(req, resp, put, !put, &in)) return;
  tasks_task t = {.id = (char *)id,
                  .user_id = (char *)uid,
                  .title = in.title,
                  .description = in.description,
                  .completed = in.completed,
                  .updated_at = gh_now_ms()};
  unsigned mask = put ? TASKS_SET_TITLE | TASKS_SET_DESCRIPTION | TASKS_SET_COMPLETED : in.mask;
  tasks_task out;
  gh_status st = tasks_store_update(s, req->arena, &t, mask, &out);
  if (st == GH_ERR_NOT_FOUND) {
    not_found(resp);
    return;
  }
  if (st) {
    store_error(resp, st);
    return;
  }
  gh_log(GH_LOG_INFO, "task.updated", "user_id", uid, "task_id", id, NULL);
  gh_resp_json(resp, 200, task_json(&out));
}

static void delete_task(gh_req *req, gh_resp *resp, tasks_store *s, const char *uid,
                        const char *id) {
  gh_status st = tasks_store_delete(s, uid, id);
  if (st == GH_ERR_NOT_FOUND) {
    not_found(resp);
    return;
  }
  if (st) {
    store_error(resp, st);
    return;
  }
  gh_log(GH_LOG_INFO, "task.deleted", "user_id", uid, "task_id", id, NULL);
  gh_resp_empty(resp, 204, false);
}

/* --- dispatch ------------------------------------------------------------------------------- */

typedef struct {
  const char *path_user; /* /api/{userId}/tasks...: NULL for /api/tasks... */
  const char *id;        /* NULL: the collection */
} api_path;

/* Splits the path after "/api/" into at most 4 non-empty segments. */
static bool parse_path(gh_arena *a, const char *path, api_path *out) {
  memset(out, 0, sizeof *out);
  if (strncmp(path, "/api/", 5) != 0) return false;
  const char *seg[4];
  size_t n = 0;
  const char *p = path + 5;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 0 || n == 3) return false;
    seg[n++] = gh_arena_strndup(a, p, len);
    if (!slash) break;
    p = slash + 1;
  }
  if (!strcmp(seg[0], "tasks") && n <= 2) {
    out->id = n == 2 ? seg[1] : NULL;
    return true;
  }
  if (n >= 2 && !strcmp(seg[1], "tasks")) {
    out->path_user = seg[0];
    out->id = n == 3 ? seg[2] : NULL;
    return true;
  }
  return false;
}

static void unauthorized(gh_resp *resp, const tasks_auth_result *ar) {
  const char *msg, *www;
  if (ar->st == GHV_ERR_UNAUTHENTICATED && !strcmp(ar->reason, "missing credentials")) {
    msg = "Authentication required";
    www = "Bearer realm=\"gatehouse-tasks\"";
  } else if (ar->st == GHV_ERR_UNAUTHENTICATED && !strcmp(ar->reason, "missing bearer token")) {
    msg = "Authentication required: send Authorization: Bearer <JWT>";
    www = "Bearer realm=\"gatehouse-tasks\"";
  } else if (ar->st == GHV_ERR_EXPIRED) {
    msg = "The token has expired";
    www = "Bearer realm=\"gatehouse-tasks\", error=\"invalid_token\"";
  } else if (ar->st == GHV_ERR_UNAUTHENTICATED) {
    msg = "The session is invalid or has expired";
    www = "Bearer realm=\"gatehouse-tasks\", error=\"invalid_token\"";
  } else {
    msg = "Invalid credentials";
    www = "Bearer realm=\"gatehouse-tasks\", error=\"invalid_token\"";
  }
  error(resp, 401, "UNAUTHORIZED", msg);
  gh_resp_header(resp, "WWW-Authenticate", www);
}

static void api(tasks_app *app, gh_req *req, gh_resp *resp) {
  api_path ap;
  if (!parse_path(req->arena, req->path, &ap)) {
    error(resp, 404, "NOT_FOUND", "Not found");
    return;
  }
  const char *m = req->method;
  bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), put = !strcmp(m, "PUT"),
       patch = !strcmp(m, "PATCH"), del = !strcmp(m, "DELETE");
  if (ap.id ? post : (put || patch || del)) {
    error(resp, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
    gh_resp_header(resp, "Allow",
                   ap.id ? "GET, PUT, PATCH, DELETE, OPTIONS" : "GET, POST, OPTIONS");
    return;
  }

  char *uid;
  tasks_auth_result ar = tasks_auth_check(app->auth, req, &uid);
  if (ar.http_status == 401) {
    gh_log(GH_LOG_INFO, "auth.rejected", "reason", ar.reason, "ip", req->peer_ip, NULL);
    if (ar.api_key) {
      error(resp, 401, "UNAUTHORIZED",
            !strcmp(ar.reason, "API keys are not accepted") ? "API keys are not accepted here"
                                                            : "The API key is invalid");
      return;
    }
    unauthorized(resp, &ar);
    return;
  }
  if (ar.http_status == 429) {
    gh_log(GH_LOG_INFO, "auth.rejected", "reason", ar.reason, "ip", req->peer_ip, NULL);
    error(resp, 429, "TOO_MANY_REQUESTS", "The API key has reached its limit");
    return;
  }
  if (ar.http_status == 503) {
    gh_log(GH_LOG_WARN, "auth.unavailable", "reason", ar.reason, NULL);
    unavailable(resp, "The authentication service is unavailable. Try again later.");
    return;
  }
  if (ar.http_status != 200) {
    gh_log(GH_LOG_ERROR, "auth.error", "reason", ar.reason, NULL);
    error(resp, 500, "INTERNAL_SERVER_ERROR", "Internal server error");
    return;
  }
  if (get ? !ar.can_read : !ar.can_write) {
    gh_log(GH_LOG_INFO, "tasks.forbidden", "user_id", uid, "reason", "scope", NULL);
    error(resp, 403, "INSUFFICIENT_SCOPE",
          get ? "The API key lacks the tasks:read permission"
              : "The API key lacks the tasks:write permission");
    return;
  }
  if (ap.path_user && strcmp(ap.path_user, uid) != 0) {
    gh_log(GH_LOG_INFO, "tasks.forbidden", "user_id", uid, NULL);
    error(resp, 403, "FORBIDDEN", "Forbidden: the user in the path is not the caller");
    return;
  }
  if (ap.id && strlen(ap.id) > ID_MAX) {
    if (put || patch) { /* validate the body first, as for any other unknown id */
      task_input in;
      if (!parse_body(req, resp, put, patch, &in)) return;
    }
    not_found(resp);
    return;
  }
  tasks_store *s;
  gh_status st = tasks_store_thread(&s);
  if (st) {
    store_error(resp, st);
    return;
  }
  if (!ap.id)
    get ? list_tasks(req, resp, s, uid) : create_task(req, resp, s, uid);
  else if (get)
    get_task(req, resp, s, uid, ap.id);
  else if (del)
    delete_task(req, resp, s, uid, ap.id);
  else
    update_task(req, resp, s, uid, ap.id, put);
}

static void api_route(void *arg, gh_req *req, gh_resp *resp) {
  tasks_app *app = arg;
  api(app, req, resp);
  tasks_cors_apply(app->cfg, req, resp);
}

static void health_route(void *arg, gh_req *req, gh_resp *resp) {
  tasks_app *app = arg;
  gh_resp_raw_json(resp, 200, "{\"status\":\"ok\"}");
  tasks_cors_apply(app->cfg, req, resp);
}

static void options_route(void *arg, gh_req *req, gh_resp *resp) {
  tasks_app *app = arg;
  tasks_cors_preflight(app->cfg, req, resp);
}

#define API_FLAGS (GH_ROUTE_PREFIX | GH_ROUTE_RAW | GH_ROUTE_SLOW)
static const gh_route ROUTES[] = {
    {"GET", "/health", health_route, 0, NULL},
    {"GET", "/api/", api_route, API_FLAGS, NULL},
    {"POST", "/api/", api_route, API_FLAGS, NULL},
    {"PUT", "/api/", api_route, API_FLAGS, NULL},
    {"PATCH", "/api/", api_route, API_FLAGS, NULL},
    {"DELETE", "/api/", api_route, API_FLAGS, NULL},
    {"OPTIONS", "/", options_route, GH_ROUTE_PREFIX | GH_ROUTE_RAW, NULL},
};

const gh_route *tasks_routes(size_t *n) {
  *n = sizeof ROUTES / sizeof ROUTES[0];
  return ROUTES;
}
