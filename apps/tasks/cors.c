#include "cors.h"

#include <stdio.h>
#include <string.h>

#define ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type"
#define EXPOSE_HEADERS "WWW-Authenticate, Retry-After, Location"

static const char *listed_origin(const tasks_config *c, const gh_req *req) {
  const char *origin = gh_req_header(req, "Origin");
  if (!origin) return NULL;
  for (size_t i = 0; i < c->norigins; i++)
    if (strcmp(c->origins[i], origin) == 0) return origin;
  return NULL;
}

void tasks_cors_apply(const tasks_config *c, const gh_req *req, gh_resp *resp) {
  if (!c->norigins) return;
  gh_resp_header(resp, "Vary", "Origin");
  const char *origin = listed_origin(c, req);
  if (!origin) return;
  gh_resp_header(resp, "Access-Control-Allow-Origin", origin);
  gh_resp_header(resp, "Access-Control-Allow-Credentials", "true");
  gh_resp_header(resp, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

void tasks_cors_preflight(const tasks_config *c, const gh_req *req, gh_resp *resp) {
  gh_resp_empty(resp, 204, false);
  gh_resp_header(resp, "Allow", ALLOW_METHODS);
  if (!c->norigins) return;
  gh_resp_header(resp, "Vary", "Origin");
  const char *origin = listed_origin(c, req);
  if (!origin) return;
  char age[24];
  snprintf(age, sizeof age, "%ld", c->cors_max_age);
  gh_resp_header(resp, "Access-Control-Allow-Origin", origin);
  gh_resp_header(resp, "Access-Control-Allow-Methods", ALLOW_METHODS);
  gh_resp_header(resp, "Access-Control-Allow-Headers", ALLOW_HEADERS);
  gh_resp_header(resp, "Access-Control-Allow-Credentials", "true");
  gh_resp_header(resp, "Access-Control-Max-Age", age);
}
