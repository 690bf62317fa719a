#include "auth/cors.h"

#include <string.h>

#include "auth/internal.h"

/* The request's Origin when CORS is on and it is exactly a trusted origin, else NULL. */
static const char *trusted_origin(gh_auth *au, gh_req *req) {
  if (!au->cfg.cors) return NULL;
  const char *origin = gh_req_header(req, "Origin");
  if (!origin || !*origin || strcmp(origin, "null") == 0) return NULL;
  char *norm;
  if (gh_url_origin(req->arena, origin, &norm) != GH_OK || strcmp(norm, origin) != 0) return NULL;
  return gh_origin_trusted(&au->origins, req->arena, origin) ? origin : NULL;
}

/* A header list a browser sends in Access-Control-Request-Headers: tokens, commas, spaces. */
static bool header_list(const char *s) {
  if (!s || !*s || strlen(s) > 1024) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == ',' || *p == ' '))
      return false;
  return true;
}

void gh_route_preflight(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  const char *origin = trusted_origin(au, req);
  if (!origin || !gh_req_header(req, "Access-Control-Request-Method")) {
    gh_resp_empty(resp, 404, false); /* what better-auth's router answers to OPTIONS */
    return;
  }
  const char *headers = gh_req_header(req, "Access-Control-Request-Headers");
  gh_resp_header(resp, "Access-Control-Allow-Origin", origin);
  gh_resp_header(resp, "Access-Control-Allow-Credentials", "true");
  gh_resp_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  gh_resp_header(resp, "Access-Control-Allow-Headers",
                 header_list(headers) ? headers : "Content-Type, Authorization");
  gh_resp_header(resp, "Access-Control-Max-Age", "600");
  gh_resp_header(resp, "Vary", "Origin");
  gh_resp_empty(resp, 204, false);
}

void gh_cors_response(gh_auth *au, gh_req *req, gh_resp *resp) {
  if (strcmp(req->method, "OPTIONS") == 0) return; /* the preflight route set its own */
  const char *origin = trusted_origin(au, req);
  if (!origin) return;
  gh_resp_header(resp, "Access-Control-Allow-Origin", origin);
  gh_resp_header(resp, "Access-Control-Allow-Credentials", "true");
  gh_resp_header(resp, "Vary", "Origin");
}
