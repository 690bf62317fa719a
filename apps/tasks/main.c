/* gatehouse-tasks: the reference multi-user resource server (a tasks API) protected by gatehouse
 * through libgatehouse-verify. Configuration from the environment (README, docs/tasks-api.md).
 *
 * Threads: libmicrohttpd's pool accepts and parses; every /api request runs on a bounded worker
 * pool (it may wait on gatehouse: JWKS fetch, get-session) and each worker owns one database
 * connection (store.h), opened on first use. A full queue answers 503 + Retry-After. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "common/log.h"
#include "common/workpool.h"
#include "config.h"
#include "http/http.h"
#include "routes.h"
#include "store.h"

static void usage(FILE *out) {
  fprintf(out, "usage: gatehouse-tasks [command]\n"
               "  serve          create/upgrade the tasks table, then serve (default)\n"
               "  migrate        create/upgrade the tasks table and exit\n"
               "  check-config   print the effective configuration (database password masked)\n"
               "  config-table   print the configuration table (Markdown)\n"
               "  version\n"
               "Configuration comes from the environment; see docs/tasks-api.md.\n");
}

static int migrate(const tasks_config *c) {
  tasks_store *s;
  gh_status st = tasks_store_open(c->database_url, &s);
  if (st != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: cannot open the database: %s\n", gh_status_str(st));
    return 1;
  }
  int applied = 0;
  st = tasks_store_migrate(s, &applied);
  tasks_store_close(s);
  if (st != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: migration failed: %s\n", gh_status_str(st));
    return 1;
  }
  char n[16];
  snprintf(n, sizeof n, "%d", applied);
  gh_log(GH_LOG_INFO, "tasks.migrated", "applied", n, NULL);
  return 0;
}

static int serve(const tasks_config *c) {
  int ret = 1;
  tasks_auth *auth = NULL;
  gh_workpool *pool = NULL;
  gh_http *h = NULL;
  const char *err = NULL;
  if (migrate(c)) return 1;
  if (tasks_auth_new(c, &auth, &err) != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: invalid configuration: %s\n", err);
    return 2;
  }
  tasks_store_thread_init(c->database_url);
  if (gh_workpool_new((int)c->workers, (int)c->worker_queue, 0, &pool) != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: cannot start the worker pool\n");
    goto fail;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started below inherits the mask */
  signal(SIGPIPE, SIG_IGN);

  tasks_app app = {.cfg = c, .auth = auth};
  size_t nroutes;
  const gh_route *routes = tasks_routes(&nroutes);
  gh_http_config hc = {
      .host = c->host,
      .port = (int)c->port,
      .max_body = (size_t)c->max_body,
      .threads = (unsigned)c->http_threads,
      .conn_limit = (unsigned)c->conn_limit,
      .conn_timeout_s = 30,
      .max_header = 64 * 1024, /* oversized tokens reach the verifier (401) */
      .conn_memory = 64 * 1024,
  };
  if (gh_http_start(&hc, routes, nroutes, &app, pool, &h) != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: cannot listen on %s:%ld\n", c->host, c->port);
    goto fail;
  }
  char port[16];
  snprintf(port, sizeof port, "%d", gh_http_port(h));
  gh_log(GH_LOG_INFO, "tasks.started", "host", c->host, "port", port, "auth", c->auth,
         "gatehouse_url", c->gatehouse_url, NULL);
  printf("gatehouse-tasks listening on http://%s:%s (auth %s, issuer %s)\n", c->host, port, c->auth,
         c->gatehouse_url);
  fflush(stdout);

  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGTERM || sig == SIGINT) {
      gh_log(GH_LOG_INFO, "tasks.stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
      break;
    }
  }
  gh_http_quiesce(h, 10000);
  ret = 0;
fail:
  if (pool) gh_workpool_free(pool); /* runs what is queued; each job resumes its connection */
  gh_http_free(h);
  tasks_auth_free(auth);
  tasks_store_thread_cleanup();
  if (ret == 0) gh_log(GH_LOG_INFO, "tasks.stopped", NULL);
  return ret;
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) {
    fprintf(stderr, "gatehouse-tasks: libsodium initialisation failed\n");
    return 1;
  }
  const char *cmd = argc > 1 ? argv[1] : "serve";
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("gatehouse-tasks %s\n", GH_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "config-table")) {
    tasks_config_print_table(stdout);
    return 0;
  }
  if (strcmp(cmd, "serve") && strcmp(cmd, "migrate") && strcmp(cmd, "check-config")) {
    usage(stderr);
    return 2;
  }
  tasks_config c;
  const char *err = NULL;
  if (tasks_config_load(&c, &err) != GH_OK) {
    fprintf(stderr, "gatehouse-tasks: invalid configuration: %s\n", err);
    tasks_config_free(&c);
    return 2;
  }
  gh_log_level level = GH_LOG_INFO;
  if (gh_log_level_parse(c.log_level, &level)) gh_log_set_level(level);
  int ret;
  if (!strcmp(cmd, "check-config")) {
    tasks_config_print(&c, stdout);
    printf("configuration OK\n");
    ret = 0;
  } else if (!strcmp(cmd, "migrate")) {
    ret = migrate(&c);
  } else {
    ret = serve(&c);
  }
  tasks_config_free(&c);
  return ret;
}
