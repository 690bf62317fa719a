/* Request router over a gh_route table: exact method + path routes first, then GH_ROUTE_PREFIX
 * routes (in table order). Paths are compared as given: the HTTP adapter passes the request path
 * without its query string. The table is borrowed and must outlive the router. */
#ifndef GH_HTTP_ROUTER_H
#define GH_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include "http/http.h"

typedef struct {
  const gh_route *routes;
  size_t nroutes;
} gh_router;

void gh_router_init(gh_router *rt, const gh_route *routes, size_t nroutes);
/* The route for method and path, or NULL. *path_known (optional) is set to whether some route
 * matched the path, whatever its method (for a 405; the server answers both with 404 today). */
const gh_route *gh_router_find(const gh_router *rt, const char *method, const char *path,
                               bool *path_known);

#endif
