/* The one list of built-in plugins. */
#include "plugins/plugins.h"

static const gh_plugin *const BUILTIN[] = {
    &gh_plugin_metrics,    /* always runs, first (its timing wraps the others); GATEHOUSE_METRICS */
    &gh_plugin_rate_limit, /* always runs; GATEHOUSE_RATE_LIMIT */
    &gh_plugin_oauth,      /* always runs; on per provider (GATEHOUSE_GOOGLE_*, GATEHOUSE_OIDC_*) */
    &gh_plugin_audit_log,  /* always runs; GATEHOUSE_AUDIT_DB */
    &gh_plugin_email,      /* always runs; GATEHOUSE_MAIL (e-mail verification, reset) */
    &gh_plugin_forward_auth, /* always runs; GATEHOUSE_FORWARD_AUTH */
    &gh_plugin_bearer,       /* default */
    &gh_plugin_jwt,          /* default */
    &gh_plugin_api_key,      /* GATEHOUSE_PLUGINS=bearer,jwt,api-key */
    &gh_plugin_admin,        /* GATEHOUSE_PLUGINS=bearer,jwt,admin */
    &gh_plugin_two_factor,   /* GATEHOUSE_PLUGINS=...,two-factor */
};

const gh_plugin *const *gh_plugins_builtin(size_t *n) {
  *n = sizeof BUILTIN / sizeof BUILTIN[0];
  return BUILTIN;
}
