/* CORS for trusted origins (GATEHOUSE_CORS): a browser frontend on another origin that is in the
 * trusted origins may call the API with credentials. better-auth leaves CORS to the framework in
 * front of it; gatehouse has none, so it answers preflights itself. Untrusted origins get no CORS
 * headers, and an OPTIONS request that is not a preflight is a 404 as in better-auth. */
#ifndef GH_AUTH_CORS_H
#define GH_AUTH_CORS_H

#include "http/http.h"

typedef struct gh_auth gh_auth;

/* OPTIONS /api/auth/...: 204 with the CORS headers for a trusted origin's preflight, else 404. */
void gh_route_preflight(void *app, gh_req *req, gh_resp *resp);
/* On a response to a trusted origin: Access-Control-Allow-Origin (that origin), -Credentials,
 * Vary: Origin. */
void gh_cors_response(gh_auth *au, gh_req *req, gh_resp *resp);

#endif
