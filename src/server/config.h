/* Configuration: one declarative table (name, environment variable, fallback variable, type,
 * default, bounds, flags). Sources in order: defaults, environment. */
#ifndef GH_SERVER_CONFIG_H
#define GH_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "common/status.h"
#include "http/cidr.h"

/* One entry of GATEHOUSE_SECRETS ("<version>:<value>", newest first). */
typedef struct {
  unsigned version;
  char *value;
} gh_config_secret;

typedef struct {
  char *secret;
  char *secrets; /* GATEHOUSE_SECRETS as given; parsed into secret_list */
  char *base_url;
  char *database_url;
  char *host;
  long port;
  char *trusted_origins;
  bool cors;
  char *env; /* development | production | test */
  long session_expires_in;
  long session_update_age;
  long session_fresh_age;
  long max_body;
  long max_header;
  long http_threads;
  long hash_workers;
  long hash_queue;
  long hash_wait_ms;
  long hash_yield_rps;
  long hash_per_client;  /* resolved: -1 = no limit */
  char *signin_throttle; /* auto | on | off */
  long conn_limit;
  long conn_timeout;
  long per_ip_limit;
  char *trusted_proxies; /* GATEHOUSE_TRUSTED_PROXIES as given; parsed into trusted_proxy_list */
  char *ip_header;       /* GATEHOUSE_IP_HEADER */
  long header_timeout;
  long body_timeout;
  char *log_level;
  bool delete_user_enabled;
  bool require_email_verification;
  bool auto_sign_in;
  long min_password;
  long max_password;
  char *plugins; /* GATEHOUSE_PLUGINS: comma list of plugin ids */
  /* derived */
  gh_config_secret *secret_list; /* parsed GATEHOUSE_SECRETS, newest first */
  size_t nsecret_list;
  gh_cidr_list trusted_proxy_list;
  bool production;
  bool secret_generated; /* development secret generated/persisted by us */
} gh_config;

/* Loads defaults + environment and validates. On error *err (static or config-owned text) says
 * why. Does not generate the development secret. */
GH_MUST_CHECK gh_status gh_config_load(gh_config *c, const char **err);
/* Development only: when no secret is configured, reads or creates var/dev-secret next to the
 * SQLite database (or ./var) and uses it, with a loud warning. */
GH_MUST_CHECK gh_status gh_config_dev_secret(gh_config *c, const char **err);
void gh_config_print(const gh_config *c, FILE *out); /* secrets masked */
void gh_config_free(gh_config *c);
/* Markdown table of every variable (used to keep the README table true). */
void gh_config_print_table(FILE *out);

#endif
