/* GET /health/live and /health/ready (outside /api/auth), for load balancers and orchestrators:
 * live answers while the process serves; ready only while the database answers too. */
#include "auth/internal.h"

void gh_route_health_live(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  (void)req;
  gh_resp_header(resp, "Cache-Control", "no-store");
  gh_resp_raw_json(resp, 200, "{\"status\":\"ok\"}");
}

void gh_route_health_ready(void *app, gh_req *req, gh_resp *resp) {
  (void)app;
  (void)req;
  gh_resp_header(resp, "Cache-Control", "no-store");
  gh_store *st = gh_auth_store(resp);
  if (!st) return; /* 503 */
  gh_status rc = gh_store_ping(st);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "health_ready");
    return;
  }
  gh_resp_raw_json(resp, 200, "{\"status\":\"ok\"}");
}
