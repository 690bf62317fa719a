/* gatehouse: CLI dispatch (serve, migrate, check-config, config-table, user create|set-password,
 * the plugins' commands such as keys rotate|list, version). */
#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "plugins/plugins.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "common/workpool.h"
#include "crypto/password.h"
#include "http/http.h"
#include "server/config.h"
#include "store/store.h"

static void usage(FILE *out) {
  size_t np;
  const gh_plugin *const *all = gh_plugins_builtin(&np);
  fprintf(out,
          "usage: gatehouse <command>\n"
          "  serve [--migrate]        serve the API (--migrate: apply pending migrations first)\n"
          "  migrate                  apply pending database migrations\n"
          "  check-config             print the effective configuration (secrets masked)\n"
          "  config-table             print the configuration table (Markdown)\n"
          "  user create --email E --name N [--password-stdin]\n"
          "  user set-password --email E      (new password on standard input)\n"
          "  version\n");
  for (size_t i = 0; i < np; i++)
    for (size_t k = 0; k < all[i]->ncommands; k++)
      fprintf(out, "plugin %s:\n%s", all[i]->id, all[i]->commands[k].usage);
  fprintf(out, "Configuration comes from the environment; see README.md.\n");
}

static gh_plugin_set *plugins; /* GATEHOUSE_PLUGINS, loaded with the configuration */

static int load_config(gh_config *c, bool need_secret) {
  const char *err = NULL;
  if (gh_config_load(c, &err) != GH_OK) {
    fprintf(stderr, "gatehouse: invalid configuration: %s\n", err);
    return 2;
  }
  size_t np;
  const gh_plugin *const *all = gh_plugins_builtin(&np);
  char perr[512];
  if (gh_plugin_set_new(all, np, c->plugins, &plugins, perr, sizeof perr) != GH_OK) {
    fprintf(stderr, "gatehouse: invalid configuration: %s\n", perr);
    return 2;
  }
  gh_log_level level = GH_LOG_INFO;
  if (gh_log_level_parse(c->log_level, &level)) gh_log_set_level(level);
  if (need_secret && gh_config_dev_secret(c, &err) != GH_OK) {
    fprintf(stderr, "gatehouse: %s\n", err);
    return 2;
  }
  return 0;
}

static int open_store(const gh_config *c, gh_store **st) {
  gh_status rc = gh_store_open(c->database_url, st);
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: cannot open the database: %s\n", gh_status_str(rc));
    return 1;
  }
  return 0;
}

/* The core's migrations, then the plugins'. */
static gh_status migrate(gh_store *st, int *applied) {
  size_t n;
  const gh_store_migration *m = gh_plugin_set_migrations(plugins, &n);
  return gh_store_migrate(st, m, n, applied);
}

/* GH_OK when the core's and every running plugin's migrations are applied. */
static gh_status check_schema(gh_store *st) {
  size_t n;
  const gh_store_migration *m = gh_plugin_set_migrations(plugins, &n);
  return gh_store_check_schema(st, m, n);
}

static int cmd_migrate(const gh_config *c) {
  gh_store *st;
  if (open_store(c, &st)) return 1;
  int applied = 0;
  gh_status rc = migrate(st, &applied);
  gh_store_close(st);
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: migration failed: %s\n", gh_status_str(rc));
    return 1;
  }
  gh_log(GH_LOG_INFO, "db.migrated", "applied", applied ? "yes" : "none pending", NULL);
  printf("migrations applied: %d\n", applied);
  return 0;
}

/* The auth layer's configuration from the server's. */
static int make_auth(const gh_config *c, gh_auth **au) {
  unsigned versions[64];
  const char *values[64];
  size_t nv = c->nsecret_list < 64 ? c->nsecret_list : 64;
  for (size_t i = 0; i < nv; i++) {
    versions[i] = c->secret_list[i].version;
    values[i] = c->secret_list[i].value;
  }
  gh_auth_config ac = {
      .secret = c->secret,
      .base_url = c->base_url,
      .trusted_origins = c->trusted_origins,
      .production = c->production,
      .expires_in = c->session_expires_in,
      .update_age = c->session_update_age,
      .fresh_age = c->session_fresh_age,
      .min_password = (int)c->min_password,
      .max_password = (int)c->max_password,
      .delete_user_enabled = c->delete_user_enabled,
      .require_email_verification = c->require_email_verification,
      .auto_sign_in_off = !c->auto_sign_in,
      .cors = c->cors,
      .signin_throttle = !strcmp(c->signin_throttle, "on") ||
                         (!strcmp(c->signin_throttle, "auto") && c->production),
      .trusted_proxies = &c->trusted_proxy_list,
      .ip_header = c->ip_header,
      .secret_versions = versions,
      .secret_values = values,
      .nsecret_versions = nv,
  };
  if (gh_auth_new(&ac, plugins, au) != GH_OK) {
    fprintf(stderr, "gatehouse: invalid GATEHOUSE_BASE_URL or secret, or a plugin did not start "
                    "(see the log)\n");
    return 2;
  }
  return 0;
}

/* A command a plugin adds (`keys rotate`): run with the plugin started and the schema checked.
 * Returns -1 when no running plugin has it. */
static int cmd_plugin(const gh_config *c, const char *name, int argc, char **argv) {
  gh_store *st = NULL;
  gh_auth *au = NULL;
  int ret;
  if ((ret = make_auth(c, &au))) return ret;
  void *self;
  const gh_plugin_command *cmd = gh_plugin_set_command(au, name, &self);
  if (!cmd) {
    gh_auth_free(au);
    return -1;
  }
  ret = 1;
  if (open_store(c, &st)) goto out;
  gh_store_thread_init(c->database_url); /* for what the command's hooks write (audit rows) */
  gh_status rc = check_schema(st);
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: database not ready (%s); run `gatehouse migrate`\n",
            gh_status_str(rc));
    goto out;
  }
  ret = cmd->run(self, st, argc, argv);
out:
  gh_auth_free(au);
  gh_store_close(st);
  return ret;
}

/* The pool's and the HTTP layer's counters, for the metrics plugin. */
typedef struct {
  gh_workpool *pool;
  _Atomic(gh_http *) http; /* set once the daemon runs */
} runtime_ctx;

static void runtime_stats(void *arg, gh_runtime_stats *out) {
  runtime_ctx *r = arg;
  gh_workpool_stats(r->pool, &out->hash_queued, &out->hash_running);
  gh_http *h = atomic_load(&r->http);
  if (h) gh_http_stats_get(h, &out->http);
}

static int cmd_serve(gh_config *c, bool with_migrate) {
  gh_store *st;
  if (open_store(c, &st)) return 1;
  gh_status rc = check_schema(st);
  if (rc == GH_ERR_SCHEMA && with_migrate) rc = migrate(st, NULL);
  if (rc != GH_OK) {
    gh_store_close(st);
    if (rc == GH_ERR_SCHEMA)
      fprintf(stderr, "gatehouse: the database schema is not migrated; run `gatehouse migrate` "
                      "or `gatehouse serve --migrate`\n");
    else
      fprintf(stderr, "gatehouse: database check failed: %s\n", gh_status_str(rc));
    return 1;
  }
  gh_store_close(st);
  gh_store_thread_init(c->database_url);

  gh_auth *au;
  if (make_auth(c, &au)) return 2;
  gh_workpool *pool;
  if (gh_workpool_new((int)c->hash_workers, (int)c->hash_queue, 5, &pool) != GH_OK) {
    fprintf(stderr, "gatehouse: cannot start the worker pool\n");
    gh_auth_free(au);
    return 1;
  }
  /* the 32 MiB each worker keeps between hashes goes back to the system after 5 s without any */
  gh_workpool_on_idle(pool, 5000, gh_password_release_memory);
  static runtime_ctx rt;
  rt.pool = pool;
  atomic_store(&rt.http, NULL);
  gh_auth_set_runtime(au, runtime_stats, &rt);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask */
  signal(SIGPIPE, SIG_IGN);

  size_t nroutes;
  const gh_route *routes = gh_auth_routes(au, &nroutes);
  gh_http_config hc = {
      .host = c->host,
      .port = (int)c->port,
      .max_body = (size_t)c->max_body,
      .max_header = (size_t)c->max_header,
      .threads = (unsigned)c->http_threads,
      .conn_limit = (unsigned)c->conn_limit,
      .conn_timeout_s = (unsigned)c->conn_timeout,
      .per_ip_limit = (unsigned)c->per_ip_limit,
      .slow_per_client = c->hash_per_client < 0 ? 0 : (unsigned)c->hash_per_client,
      .trusted_proxies = &c->trusted_proxy_list,
      .header_timeout_s = (unsigned)c->header_timeout,
      .body_timeout_s = (unsigned)c->body_timeout,
      .admit_wait_ms = (unsigned)c->hash_wait_ms,
      .busy_rps = (unsigned)c->hash_yield_rps,
  };
  gh_http *h;
  if (gh_http_start(&hc, routes, nroutes, au, pool, &h) != GH_OK) {
    fprintf(stderr, "gatehouse: cannot listen on %s:%ld\n", c->host, c->port);
    gh_workpool_free(pool);
    gh_auth_free(au);
    return 1;
  }
  atomic_store(&rt.http, h);
  if (gh_auth_serve_start(au) != GH_OK) {
    fprintf(stderr, "gatehouse: a plugin could not start (see the log)\n");
    gh_http_quiesce(h, 0);
    gh_workpool_free(pool);
    gh_http_free(h);
    gh_auth_free(au);
    return 1;
  }
  /* under steady request traffic one core stays free of the memory-hard hashes (which otherwise
   * triple the request threads' tail latency on a small machine) */
  if (c->hash_yield_rps && gh_workpool_threads(pool) > 1)
    gh_workpool_limit_when(pool, gh_workpool_threads(pool) - 1, gh_http_busy, h);
  char port[16];
  snprintf(port, sizeof port, "%d", gh_http_port(h));
  gh_log(GH_LOG_INFO, "server.started", "host", c->host, "port", port, "base_url", c->base_url,
         "env", c->env, "plugins", gh_plugin_set_ids(plugins), NULL);
  printf("gatehouse listening on http://%s:%s (base URL %s)\n", c->host, port, c->base_url);
  fflush(stdout);

  int64_t last_purge = gh_now_ms();
  for (;;) {
    struct timespec ts = {30, 0};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
      gh_log(GH_LOG_INFO, "server.stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
      break;
    }
    if (gh_now_ms() - last_purge > 600000) { /* housekeeping: expired sessions */
      gh_store *hs;
      long n = 0;
      if (gh_store_thread(&hs) == GH_OK && gh_store_purge_expired(hs, gh_now_ms(), &n) == GH_OK &&
          n > 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", n);
        gh_log(GH_LOG_INFO, "session.purged", "count", buf, NULL);
      }
      last_purge = gh_now_ms();
    }
  }
  gh_http_quiesce(h, 10000);
  gh_workpool_free(pool); /* runs what is still queued; each job resumes its connection */
  gh_auth_serve_stop(au);
  gh_http_free(h);
  gh_auth_free(au);
  gh_log(GH_LOG_INFO, "server.stopped", NULL);
  return 0;
}

static char *read_password_stdin(void) {
  static char buf[4100];
  size_t n = fread(buf, 1, sizeof buf - 1, stdin);
  buf[n] = 0;
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
  return buf;
}

static int check_new_password(const gh_config *c, const char *pw) {
  size_t n = strlen(pw);
  if (!gh_utf8_valid(pw, n)) {
    fprintf(stderr, "gatehouse: the password is not valid UTF-8\n");
    return 2;
  }
  size_t u = gh_utf16_length(pw, n);
  if (u < (size_t)c->min_password || u > (size_t)c->max_password) {
    fprintf(stderr, "gatehouse: the password must be %ld to %ld characters long\n", c->min_password,
            c->max_password);
    return 2;
  }
  return 0;
}

static const char *arg_value(int argc, char **argv, const char *name) {
  for (int i = 0; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return NULL;
}

static bool has_flag(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], name)) return true;
  return false;
}

static int cmd_user(const gh_config *c, int argc, char **argv) {
  if (argc < 1) {
    usage(stderr);
    return 2;
  }
  const char *email_in = arg_value(argc, argv, "--email");
  if (!email_in) {
    fprintf(stderr, "gatehouse: --email is required\n");
    return 2;
  }
  gh_arena *a = gh_arena_new();
  char *email = gh_ascii_lower(a, email_in);
  gh_store *st = NULL;
  int ret = 1;
  char hash[GH_PASSWORD_HASH_LEN + 1] = {0};
  if (open_store(c, &st)) goto out;
  gh_status rc = check_schema(st);
  if (rc != GH_OK) {
    fprintf(stderr, "gatehouse: database not ready (%s); run `gatehouse migrate`\n",
            gh_status_str(rc));
    goto out;
  }
  int64_t now = gh_now_ms();
  if (!strcmp(argv[0], "create")) {
    const char *name = arg_value(argc, argv, "--name");
    if (!name) {
      fprintf(stderr, "gatehouse: --name is required\n");
      ret = 2;
      goto out;
    }
    gh_user u;
    gh_user_init(a, &u, name, email, NULL, now);
    gh_account acc;
    bool with_pw = has_flag(argc, argv, "--password-stdin");
    if (with_pw) {
      char *pw = read_password_stdin();
      if ((ret = check_new_password(c, pw))) goto out;
      rc = gh_password_hash(pw, strlen(pw), hash);
      sodium_memzero(pw, strlen(pw));
      if (rc != GH_OK) goto out;
      gh_credential_init(a, &acc, &u, hash, now);
    }
    rc = gh_store_create_user(st, &u, with_pw ? &acc : NULL, NULL);
    if (rc == GH_ERR_CONFLICT) {
      fprintf(stderr, "gatehouse: a user with this e-mail already exists\n");
      ret = 1;
      goto out;
    }
    if (rc != GH_OK) {
      fprintf(stderr, "gatehouse: cannot create the user: %s\n", gh_status_str(rc));
      goto out;
    }
    gh_log(GH_LOG_INFO, "sign_up", "user_id", u.id, "via", "cli", NULL);
    printf("%s\n", u.id);
    ret = 0;
  } else if (!strcmp(argv[0], "set-password")) {
    gh_user u;
    rc = gh_store_user_by_email(st, a, email, &u);
    if (rc == GH_ERR_NOT_FOUND) {
      fprintf(stderr, "gatehouse: no user with this e-mail\n");
      goto out;
    }
    if (rc != GH_OK) goto out;
    char *pw = read_password_stdin();
    if ((ret = check_new_password(c, pw))) goto out;
    ret = 1;
    rc = gh_password_hash(pw, strlen(pw), hash);
    sodium_memzero(pw, strlen(pw));
    if (rc != GH_OK) goto out;
    char acc_id[33];
    gh_rand_id(acc_id, 32);
    rc = gh_store_set_password(st, u.id, hash, acc_id, now, true, NULL);
    if (rc != GH_OK) {
      fprintf(stderr, "gatehouse: cannot set the password: %s\n", gh_status_str(rc));
      goto out;
    }
    gh_log(GH_LOG_INFO, "password.changed", "user_id", u.id, "via", "cli", "revoked_sessions",
           "true", NULL);
    printf("password set; existing sessions revoked\n");
    ret = 0;
  } else {
    usage(stderr);
    ret = 2;
  }
out:
  sodium_memzero(hash, sizeof hash);
  gh_store_close(st);
  gh_arena_free(a);
  return ret;
}

static bool builtin_command(const char *name) {
  size_t np;
  const gh_plugin *const *all = gh_plugins_builtin(&np);
  for (size_t i = 0; i < np; i++)
    for (size_t k = 0; k < all[i]->ncommands; k++)
      if (!strcmp(all[i]->commands[k].name, name)) return true;
  return false;
}

int main(int argc, char **argv) {
  gh_password_tune_allocator(); /* before any thread or allocation of note */
  if (sodium_init() < 0) {
    fprintf(stderr, "gatehouse: libsodium initialisation failed\n");
    return 1;
  }
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("gatehouse %s\n", GH_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "config-table")) {
    size_t np;
    const gh_plugin *const *all = gh_plugins_builtin(&np);
    gh_config_print_table(stdout);
    gh_plugins_print_table(all, np, stdout);
    return 0;
  }
  gh_config c;
  int ret;
  if (!strcmp(cmd, "check-config")) {
    ret = load_config(&c, false);
    if (ret == 0) {
      gh_config_print(&c, stdout);
      gh_plugin_set_print_config(plugins, stdout);
      if (!c.secret)
        printf("(no secret configured: development generates one in var/dev-secret)\n");
      printf("configuration OK\n");
    }
  } else if (!strcmp(cmd, "serve")) {
    ret = load_config(&c, true);
    if (ret == 0) ret = cmd_serve(&c, has_flag(argc, argv, "--migrate"));
  } else if (!strcmp(cmd, "migrate")) {
    ret = load_config(&c, false);
    if (ret == 0) ret = cmd_migrate(&c);
  } else if (!strcmp(cmd, "user")) {
    ret = load_config(&c, false);
    if (ret == 0) ret = cmd_user(&c, argc - 2, argv + 2);
  } else if (builtin_command(cmd)) {
    /* a plugin's command: needs the secret (plugins may decrypt keys) */
    ret = load_config(&c, true);
    if (ret == 0 && (ret = cmd_plugin(&c, cmd, argc - 2, argv + 2)) < 0) {
      fprintf(stderr,
              "gatehouse: unknown command \"%s\" (or its plugin is not in "
              "GATEHOUSE_PLUGINS: %s)\n",
              cmd, gh_plugin_set_ids(plugins));
      ret = 2;
    }
  } else {
    usage(stderr);
    return 2;
  }
  gh_plugin_set_free(plugins);
  gh_config_free(&c);
  return ret;
}
