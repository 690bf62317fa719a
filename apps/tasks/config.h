/* gatehouse-tasks configuration: one declarative table (environment variable, type, default,
 * bounds, meaning), loaded once at start. Fail fast: an invalid value stops the binary. */
#ifndef GH_TASKS_CONFIG_H
#define GH_TASKS_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "common/status.h"

typedef enum { TASKS_AUTH_JWT = 1, TASKS_AUTH_SESSION = 2, TASKS_AUTH_ANY = 3 } tasks_auth_mode;

typedef struct {
  char *host;
  long port;
  char *database_url;
  char *gatehouse_url;
  char *jwks_url;     /* "" = gatehouse_url + /api/auth/jwks */
  char *session_url;  /* "" = gatehouse_url + /api/auth/get-session */
  char *jwt_issuer;   /* "" = the origin of gatehouse_url */
  char *jwt_audience; /* "" = the origin of gatehouse_url */
  char *auth;         /* jwt | session | any */
  char *cors_origin;  /* comma list; "" = no CORS */
  long cors_max_age;
  long session_cache_ttl;
  long jwt_leeway;
  bool jwt_allow_missing_kid;
  long http_timeout_ms;
  long max_body;
  long http_threads;
  long workers;
  long worker_queue;
  long conn_limit;
  char *log_level;
  char *service_token; /* NULL = API keys refused */
  char *api_key_url;   /* "" = gatehouse_url + /api/auth/api-key/verify */
  long api_key_cache_ttl;
  /* derived */
  tasks_auth_mode auth_mode;
  char **origins; /* parsed cors_origin */
  size_t norigins;
} tasks_config;

GH_MUST_CHECK gh_status tasks_config_load(tasks_config *c, const char **err);
void tasks_config_print(const tasks_config *c, FILE *out); /* database password masked */
void tasks_config_print_table(FILE *out);                  /* Markdown (README table) */
void tasks_config_free(tasks_config *c);

#endif
