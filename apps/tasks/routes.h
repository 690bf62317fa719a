/* gatehouse-tasks HTTP API (docs/tasks-api.md):
 *
 *   GET /health
 *   GET|POST /api/tasks                 GET|PUT|PATCH|DELETE /api/tasks/{id}
 *   GET|POST /api/{userId}/tasks        GET|PUT|PATCH|DELETE /api/{userId}/tasks/{id}
 *   OPTIONS *                           CORS preflight
 *
 * Every /api route authenticates first (401/503), then the path-scoped form answers 403 when
 * {userId} is not the caller; a task of another user is 404, never revealed. The /api routes run
 * on the worker pool (they may call gatehouse and the database). */
#ifndef GH_TASKS_ROUTES_H
#define GH_TASKS_ROUTES_H

#include <stddef.h>
#include "auth.h"
#include "config.h"
#include "http/http.h"

typedef struct {
  const tasks_config *cfg;
  tasks_auth *auth;
} tasks_app;

const gh_route *tasks_routes(size_t *n);

#endif
