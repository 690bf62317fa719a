#include "auth/audit.h"

#include <string.h>

#include "auth/internal.h"
#include "common/log.h"
#include "common/time.h"

void gh_audit(gh_auth *au, gh_req *req, const char *event, const char *user_id, const char *k1,
              const char *v1, const char *k2, const char *v2) {
  const char *ua = req ? gh_req_header(req, "User-Agent") : NULL;
  if (ua && strlen(ua) > 256) ua = gh_arena_strndup(req->arena, ua, 256);
  gh_audit_event ev = {.event = event,
                       .user_id = user_id,
                       .ip = req ? gh_client_ip(req->arena, req, au->cfg.production) : "",
                       .client = req ? gh_auth_client_address(au, req) : "",
                       .user_agent = ua ? ua : "",
                       .k1 = k1,
                       .v1 = k1 ? v1 : NULL,
                       .k2 = k1 ? k2 : NULL,
                       .v2 = k1 && k2 ? v2 : NULL,
                       .at_ms = gh_now_ms()};
  gh_log(GH_LOG_INFO, event, "ip", ev.ip, "client", ev.client, "user_agent", ev.user_agent,
         "user_id", user_id, k1, v1, k2, v2, NULL);
  gh_hook_audited(au, req, &ev);
}
