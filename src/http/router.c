#include "http/router.h"

#include <string.h>

void gh_router_init(gh_router *rt, const gh_route *routes, size_t nroutes) {
  rt->routes = routes;
  rt->nroutes = nroutes;
}

const gh_route *gh_router_find(const gh_router *rt, const char *method, const char *path,
                               bool *path_known) {
  bool known = false;
  const gh_route *found = NULL;
  for (size_t i = 0; i < rt->nroutes && !found; i++) { /* exact routes */
    const gh_route *r = &rt->routes[i];
    if (r->flags & GH_ROUTE_PREFIX || strcmp(r->path, path) != 0) continue;
    known = true;
    if (strcmp(r->method, method) == 0) found = r;
  }
  for (size_t i = 0; i < rt->nroutes && !found; i++) { /* then prefix routes, in table order */
    const gh_route *r = &rt->routes[i];
    if (!(r->flags & GH_ROUTE_PREFIX) || strncmp(r->path, path, strlen(r->path)) != 0) continue;
    known = true;
    if (strcmp(r->method, method) == 0) found = r;
  }
  if (path_known) *path_known = known;
  return found;
}
