/* CORS for the configured frontend origins (TASKS_CORS_ORIGIN): an Origin header that is listed
 * exactly is echoed with credentials allowed; any other origin gets no CORS header at all. */
#ifndef GH_TASKS_CORS_H
#define GH_TASKS_CORS_H

#include "config.h"
#include "http/http.h"

/* Adds Access-Control-Allow-Origin/-Credentials/-Expose-Headers for a listed Origin, and
 * Vary: Origin whenever CORS is configured. Call on every response of the API. */
void tasks_cors_apply(const tasks_config *c, const gh_req *req, gh_resp *resp);
/* The answer to an OPTIONS request (preflight or not): 204. */
void tasks_cors_preflight(const tasks_config *c, const gh_req *req, gh_resp *resp);

#endif
