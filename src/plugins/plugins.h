/* The built-in plugins: the one list the server picks from with GATEHOUSE_PLUGINS. Adding a
 * plugin = its own files plus one line in plugins.c (and its descriptor declared here). */
#ifndef GH_PLUGINS_PLUGINS_H
#define GH_PLUGINS_PLUGINS_H

#include <stddef.h>

#include "auth/plugin.h"

/* better-auth's default for this server: what runs when GATEHOUSE_PLUGINS is not set. */
#define GH_PLUGINS_DEFAULT "bearer,jwt"

extern const gh_plugin gh_plugin_metrics;
extern const gh_plugin gh_plugin_rate_limit;
extern const gh_plugin gh_plugin_oauth;
extern const gh_plugin gh_plugin_audit_log;
extern const gh_plugin gh_plugin_email;
extern const gh_plugin gh_plugin_forward_auth;
extern const gh_plugin gh_plugin_bearer;
extern const gh_plugin gh_plugin_jwt;
extern const gh_plugin gh_plugin_api_key;
extern const gh_plugin gh_plugin_admin;
extern const gh_plugin gh_plugin_two_factor;

/* Every built-in plugin, in the order the README lists them. */
const gh_plugin *const *gh_plugins_builtin(size_t *n);

#endif
