/* The core route table (basePath /api/auth); plugins add theirs (auth/registry.c). Exact method +
 * path match; anything else is a 404 with an empty body (better-call router). */
#include "auth/internal.h"

#define P "/api/auth"

static const gh_route ROUTES[] = {
    {"POST", P "/sign-up/email", gh_route_sign_up, GH_ROUTE_SLOW | GH_ROUTE_FORM, NULL},
    {"POST", P "/sign-in/email", gh_route_sign_in, GH_ROUTE_SLOW | GH_ROUTE_FORM, NULL},
    {"POST", P "/sign-out", gh_route_sign_out, 0, NULL},
    {"GET", P "/get-session", gh_route_get_session, 0, NULL},
    {"POST", P "/get-session", gh_route_get_session_post, 0, NULL},
    {"GET", P "/list-sessions", gh_route_list_sessions, 0, NULL},
    {"POST", P "/revoke-session", gh_route_revoke_session, 0, NULL},
    {"POST", P "/revoke-sessions", gh_route_revoke_sessions, 0, NULL},
    {"POST", P "/revoke-other-sessions", gh_route_revoke_other_sessions, 0, NULL},
    {"GET", P "/list-accounts", gh_route_list_accounts, 0, NULL},
    {"POST", P "/unlink-account", gh_route_unlink_account, 0, NULL},
    {"POST", P "/update-user", gh_route_update_user, 0, NULL},
    {"POST", P "/update-session", gh_route_update_session, 0, NULL},
    {"POST", P "/change-password", gh_route_change_password, GH_ROUTE_SLOW, NULL},
    {"POST", P "/delete-user", gh_route_delete_user, GH_ROUTE_SLOW, NULL},
    {"POST", P "/verify-password", gh_route_verify_password, GH_ROUTE_SLOW, NULL},
    {"GET", P "/ok", gh_route_ok, 0, NULL},
    {"OPTIONS", P "/", gh_route_preflight, GH_ROUTE_PREFIX | GH_ROUTE_RAW, NULL},
    {"GET", "/health/live", gh_route_health_live, 0, NULL},
    {"GET", "/health/ready", gh_route_health_ready, 0, NULL},
};

const gh_route *gh_core_routes(size_t *n) {
  *n = sizeof ROUTES / sizeof ROUTES[0];
  return ROUTES;
}
