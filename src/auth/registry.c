/* The plugin registry: which plugins run (GATEHOUSE_PLUGINS), their options, migrations and CLI
 * commands, the served route table, and the hook calls. */
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/log.h"
#include "common/strlist.h"

typedef struct {
  const gh_plugin *p;
  void *conf; /* conf_size bytes, loaded by envconf */
} set_item;

struct gh_plugin_set {
  set_item *items;
  size_t n;
  char *ids;
  gh_store_migration *migrations;
  size_t nmigrations;
};

/* ---------------------------------------------------------------- the set */

static const gh_plugin *find_plugin(const gh_plugin *const *avail, size_t n, const char *id,
                                    size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(avail[i]->id) == len && memcmp(avail[i]->id, id, len) == 0) return avail[i];
  return NULL;
}

/* The ids GATEHOUSE_PLUGINS may name. */
static void available_list(const gh_plugin *const *avail, size_t n, char *buf, size_t len) {
  size_t k = 0;
  buf[0] = 0;
  for (size_t i = 0; i < n && k < len; i++) {
    if (avail[i]->always) continue;
    int w = snprintf(buf + k, len - k, "%s%s", k ? ", " : "", avail[i]->id);
    if (w < 0) break;
    k += (size_t)w;
  }
}

static gh_status add_item(gh_plugin_set *ps, const gh_plugin *p, char *err, size_t errlen) {
  for (size_t i = 0; i < ps->n; i++)
    if (ps->items[i].p == p) {
      snprintf(err, errlen, "GATEHOUSE_PLUGINS: plugin \"%s\" is listed twice", p->id);
      return GH_ERR_CONFIG;
    }
  set_item *it = &ps->items[ps->n++];
  it->p = p;
  it->conf = gh_xcalloc(1, p->conf_size ? p->conf_size : 1);
  const char *msg = NULL;
  if (p->nopts && gh_conf_load(p->opts, p->nopts, it->conf, err, errlen, &msg) != GH_OK) {
    if (msg != err) snprintf(err, errlen, "%s", msg);
    return GH_ERR_CONFIG;
  }
  if (p->validate && p->validate(it->conf, &msg) != GH_OK) {
    snprintf(err, errlen, "%s", msg ? msg : "invalid plugin configuration");
    return GH_ERR_CONFIG;
  }
  size_t nmig = p->wants_migrations && !p->wants_migrations(it->conf) ? 0 : p->nmigrations;
  for (size_t i = 0; i < nmig; i++) {
    ps->migrations = realloc(ps->migrations, (ps->nmigrations + 1) * sizeof *ps->migrations);
    if (!ps->migrations) gh_oom();
    ps->migrations[ps->nmigrations++] = p->migrations[i];
  }
  return GH_OK;
}

gh_status gh_plugin_set_new(const gh_plugin *const *avail, size_t navail, const char *ids,
                            gh_plugin_set **out, char *err, size_t errlen) {
  *out = NULL;
  gh_plugin_set *ps = gh_xcalloc(1, sizeof *ps);
  ps->items = gh_xcalloc(gh_list_count(ids) + navail, sizeof *ps->items);
  ps->ids = gh_xcalloc(1, strlen(ids ? ids : "") + 1);
  for (size_t i = 0; i < navail; i++)
    if (avail[i]->always && add_item(ps, avail[i], err, errlen) != GH_OK) {
      gh_plugin_set_free(ps);
      return GH_ERR_CONFIG;
    }
  const char *cursor = ids, *b;
  size_t len;
  bool none = false;
  while (gh_list_next(&cursor, &b, &len)) {
    if (len == 0) continue;
    if (len == 4 && memcmp(b, "none", 4) == 0) {
      none = true;
      continue;
    }
    const gh_plugin *pl = find_plugin(avail, navail, b, len);
    if (!pl) {
      char list[512];
      available_list(avail, navail, list, sizeof list);
      snprintf(err, errlen, "GATEHOUSE_PLUGINS: unknown plugin \"%.*s\" (available: %s)",
               (int)(len > 64 ? 64 : len), b, list);
      gh_plugin_set_free(ps);
      return GH_ERR_CONFIG;
    }
    if (pl->always) {
      snprintf(err, errlen,
               "GATEHOUSE_PLUGINS: \"%s\" always runs (its own options turn it on or off)", pl->id);
      gh_plugin_set_free(ps);
      return GH_ERR_CONFIG;
    }
    if (add_item(ps, pl, err, errlen) != GH_OK) {
      gh_plugin_set_free(ps);
      return GH_ERR_CONFIG;
    }
    /* ids holds at most the input's length: the accepted ids and the commas between them */
    size_t used = strlen(ps->ids), idl = strlen(pl->id);
    if (used) ps->ids[used++] = ',';
    memcpy(ps->ids + used, pl->id, idl + 1);
  }
  if (none && *ps->ids) {
    snprintf(err, errlen, "GATEHOUSE_PLUGINS: \"none\" cannot be combined with plugin ids");
    gh_plugin_set_free(ps);
    return GH_ERR_CONFIG;
  }
  *out = ps;
  return GH_OK;
}

void gh_plugin_set_free(gh_plugin_set *ps) {
  if (!ps) return;
  for (size_t i = 0; i < ps->n; i++) {
    const gh_plugin *p = ps->items[i].p;
    if (p->nopts) gh_conf_free(p->opts, p->nopts, ps->items[i].conf);
    free(ps->items[i].conf);
  }
  free(ps->items);
  free(ps->ids);
  free(ps->migrations);
  free(ps);
}

size_t gh_plugin_set_count(const gh_plugin_set *ps) {
  return ps ? ps->n : 0;
}

const gh_plugin *gh_plugin_set_at(const gh_plugin_set *ps, size_t i) {
  return ps && i < ps->n ? ps->items[i].p : NULL;
}

const char *gh_plugin_set_ids(const gh_plugin_set *ps) {
  return ps && *ps->ids ? ps->ids : "none";
}

void gh_plugin_set_print_config(const gh_plugin_set *ps, FILE *out) {
  for (size_t i = 0; ps && i < ps->n; i++) {
    const gh_plugin *p = ps->items[i].p;
    if (p->nopts) gh_conf_print(p->opts, p->nopts, ps->items[i].conf, out, NULL);
  }
}

const gh_store_migration *gh_plugin_set_migrations(const gh_plugin_set *ps, size_t *n) {
  *n = ps ? ps->nmigrations : 0;
  return ps ? ps->migrations : NULL;
}

void gh_plugins_print_table(const gh_plugin *const *avail, size_t n, FILE *out) {
  for (size_t i = 0; i < n; i++) {
    const gh_plugin *p = avail[i];
    fprintf(out, "\n#### Plugin `%s`%s\n\n%s.\n", p->id, p->always ? " (always runs)" : "",
            p->summary);
    if (p->nopts) {
      fprintf(out, "\n");
      gh_conf_print_table(p->opts, p->nopts, out, false);
    } else {
      fprintf(out, "\nNo options.\n");
    }
  }
}

/* ---------------------------------------------------------------- running plugins */

/* Every route runs through here once some plugin has a route hook or CORS is on: the plugins'
 * before_route hooks, the handler, the CORS headers, the plugins' after_route hooks. */
static void dispatch(void *arg, gh_req *req, gh_resp *resp) {
  gh_route_target *t = arg;
  gh_auth *au = t->au;
  req->route = t->path;
  bool go = true;
  for (size_t i = 0; go && i < au->nplugins; i++)
    if (au->plugins[i].p->before_route)
      go = au->plugins[i].p->before_route(au->plugins[i].self, req, resp);
  if (go) t->fn(t->self, req, resp);
  gh_cors_response(au, req, resp);
  for (size_t i = 0; i < au->nplugins; i++)
    if (au->plugins[i].p->after_route)
      au->plugins[i].p->after_route(au->plugins[i].self, req, resp);
}

static bool code_taken(const gh_auth *au, size_t upto, const char *code) {
  for (int e = 0; e < GH_E__COUNT; e++) {
    const char *c = gh_err_lookup((gh_err)e)->code;
    if (c && strcmp(c, code) == 0) return true;
  }
  for (size_t i = 0; i < upto; i++)
    for (size_t k = 0; k < au->plugins[i].p->nerrors; k++) {
      const char *c = au->plugins[i].p->errors[k].code;
      if (c && strcmp(c, code) == 0) return true;
    }
  return false;
}

static bool route_taken(const gh_auth *au, size_t n, const gh_route *r) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(au->routes[i].method, r->method) && !strcmp(au->routes[i].path, r->path) &&
        (au->routes[i].flags & GH_ROUTE_PREFIX) == (r->flags & GH_ROUTE_PREFIX))
      return true;
  return false;
}

gh_status gh_registry_start(gh_auth *au, const gh_plugin_set *ps) {
  size_t np = gh_plugin_set_count(ps);
  au->plugins = gh_xcalloc(np ? np : 1, sizeof *au->plugins);
  size_t ncore;
  const gh_route *core = gh_core_routes(&ncore);
  size_t total = ncore;
  au->fields = gh_store_fields_new();
  for (size_t i = 0; i < np; i++) {
    const gh_plugin *p = ps->items[i].p;
    for (int m = 0; m < 2; m++) {
      const gh_field *fl = m ? p->session_fields : p->user_fields;
      size_t nf = m ? p->nsession_fields : p->nuser_fields;
      for (size_t k = 0; k < nf; k++)
        if (gh_store_fields_add(au->fields, m ? GH_MODEL_SESSION : GH_MODEL_USER, &fl[k]) !=
            GH_OK) {
          gh_log(GH_LOG_ERROR, "plugin.start_failed", "plugin", p->id, "message",
                 "additional field invalid or already declared", "field", fl[k].name, NULL);
          return GH_ERR_CONFIG;
        }
    }
  }
  size_t nrules = 0;
  for (size_t i = 0; i < np; i++) nrules += ps->items[i].p->nrate_rules;
  au->rate_rules = gh_xcalloc(nrules ? nrules : 1, sizeof *au->rate_rules);
  for (size_t i = 0; i < np; i++)
    for (size_t k = 0; k < ps->items[i].p->nrate_rules; k++)
      au->rate_rules[au->nrate_rules++] = ps->items[i].p->rate_rules[k];
  for (size_t i = 0; i < np; i++) {
    const set_item *it = &ps->items[i];
    const gh_plugin *p = it->p;
    for (size_t k = 0; k < p->nerrors; k++)
      if (p->errors[k].code && code_taken(au, au->nplugins, p->errors[k].code)) {
        gh_log(GH_LOG_ERROR, "plugin.start_failed", "plugin", p->id, "message",
               "wire error code already used by the core or another plugin", "code",
               p->errors[k].code, NULL);
        return GH_ERR_CONFIG;
      }
    void *self = NULL;
    if (p->init && p->init(au, it->conf, &self) != GH_OK) {
      gh_log(GH_LOG_ERROR, "plugin.start_failed", "plugin", p->id, NULL);
      return GH_ERR_CONFIG;
    }
    au->plugins[au->nplugins].p = p;
    au->plugins[au->nplugins].self = self;
    au->nplugins++;
    if (p->before_route || p->after_route) au->has_route_hooks = true;
    total += p->nroutes;
  }
  if (au->cfg.cors) au->has_route_hooks = true;
  gh_store_use_fields(au->fields);
  au->routes = gh_xcalloc(total, sizeof *au->routes);
  au->targets = gh_xcalloc(total, sizeof *au->targets);
  for (size_t i = 0; i < ncore; i++) {
    au->routes[au->nroutes] = core[i];
    au->targets[au->nroutes] = (gh_route_target){au, core[i].fn, au, core[i].path};
    au->nroutes++;
  }
  for (size_t i = 0; i < au->nplugins; i++) {
    const gh_plugin *p = au->plugins[i].p;
    for (size_t k = 0; k < p->nroutes; k++) {
      if (route_taken(au, au->nroutes, &p->routes[k])) {
        gh_log(GH_LOG_ERROR, "plugin.start_failed", "plugin", p->id, "message",
               "route already served", "path", p->routes[k].path, NULL);
        return GH_ERR_CONFIG;
      }
      au->routes[au->nroutes] = p->routes[k];
      au->targets[au->nroutes] =
          (gh_route_target){au, p->routes[k].fn, au->plugins[i].self, p->routes[k].path};
      au->nroutes++;
    }
  }
  for (size_t i = 0; i < au->nroutes; i++) {
    if (au->has_route_hooks) {
      au->routes[i].fn = dispatch;
      au->routes[i].arg = &au->targets[i];
    } else {
      au->routes[i].arg = au->targets[i].self;
    }
  }
  return GH_OK;
}

gh_status gh_auth_serve_start(gh_auth *au) {
  for (size_t i = 0; i < au->nplugins; i++) {
    const gh_plugin *p = au->plugins[i].p;
    gh_status rc = p->serve_start ? p->serve_start(au->plugins[i].self) : GH_OK;
    if (rc != GH_OK) {
      gh_log(GH_LOG_ERROR, "plugin.serve_failed", "plugin", p->id, "status", gh_status_str(rc),
             NULL);
      while (i-- > 0)
        if (au->plugins[i].p->serve_stop) au->plugins[i].p->serve_stop(au->plugins[i].self);
      return rc;
    }
  }
  return GH_OK;
}

void gh_auth_serve_stop(gh_auth *au) {
  for (size_t i = au->nplugins; i-- > 0;)
    if (au->plugins[i].p->serve_stop) au->plugins[i].p->serve_stop(au->plugins[i].self);
}

void gh_registry_stop(gh_auth *au) {
  for (size_t i = au->nplugins; i-- > 0;)
    if (au->plugins[i].p->free) au->plugins[i].p->free(au->plugins[i].self);
  if (au->fields) {
    if (gh_store_fields_current() == au->fields) gh_store_use_fields(NULL);
    gh_store_fields_free(au->fields);
    au->fields = NULL;
  }
  free(au->plugins);
  free(au->rate_rules);
  au->rate_rules = NULL;
  au->nrate_rules = 0;
  free(au->routes);
  free(au->targets);
  au->plugins = NULL;
  au->routes = NULL;
  au->targets = NULL;
  au->nplugins = au->nroutes = 0;
}

const gh_rate_rule *gh_auth_rate_rules(const gh_auth *au, size_t *n) {
  *n = au->nrate_rules;
  return au->rate_rules;
}

const gh_route *gh_auth_routes(const gh_auth *au, size_t *n) {
  *n = au->nroutes;
  return au->routes;
}

const gh_plugin_command *gh_plugin_set_command(const gh_auth *au, const char *name, void **self) {
  for (size_t i = 0; i < au->nplugins; i++) {
    const gh_plugin *p = au->plugins[i].p;
    for (size_t k = 0; k < p->ncommands; k++)
      if (!strcmp(p->commands[k].name, name)) {
        *self = au->plugins[i].self;
        return &p->commands[k];
      }
  }
  return NULL;
}

/* ---------------------------------------------------------------- hooks */

#define EACH_HOOK(hook)                                                                            \
  for (size_t i_ = 0; i_ < au->nplugins; i_++)                                                     \
    if (au->plugins[i_].p->hook)

#define SELF au->plugins[i_].self

gh_status gh_hook_credential(gh_auth *au, gh_req *req, gh_credential *out) {
  memset(out, 0, sizeof *out);
  EACH_HOOK(credential) {
    gh_status rc = au->plugins[i_].p->credential(SELF, req, out);
    if (rc != GH_OK) return rc;
    if (out->token || out->resolved || out->refuse) return GH_OK;
  }
  return GH_OK;
}

bool gh_hook_sign_in(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, const gh_sign_in *si) {
  EACH_HOOK(sign_in) {
    if (!au->plugins[i_].p->sign_in(SELF, st, req, resp, si)) return false;
  }
  return true;
}

void gh_hook_session_created(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                             const gh_session *s, const gh_user *u) {
  EACH_HOOK(session_created) au->plugins[i_].p->session_created(SELF, st, req, resp, s, u);
}

void gh_hook_session_returned(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                              const gh_sess *s) {
  EACH_HOOK(session_returned) au->plugins[i_].p->session_returned(SELF, st, req, resp, s);
}

void gh_auth_session_returned(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                              const gh_sess *s) {
  gh_hook_session_returned(au, st, req, resp, s);
}

void gh_hook_session_revoked(gh_auth *au, gh_store *st, const char *user_id, const char *token,
                             const char *except) {
  gh_revocation r = {.user_id = user_id, .token = token, .except = except};
  EACH_HOOK(session_revoked) au->plugins[i_].p->session_revoked(SELF, st, &r);
}

void gh_hook_audited(gh_auth *au, gh_req *req, const gh_audit_event *ev) {
  EACH_HOOK(audited) au->plugins[i_].p->audited(SELF, req, ev);
}

void gh_hook_user_created(gh_auth *au, gh_store *st, const gh_user *u) {
  EACH_HOOK(user_created) au->plugins[i_].p->user_created(SELF, st, u);
}

void gh_hook_sign_up(gh_auth *au, gh_store *st, gh_req *req, const gh_user *u, bool created,
                     const char *callback) {
  EACH_HOOK(sign_up) au->plugins[i_].p->sign_up(SELF, st, req, u, created, callback);
}

void gh_hook_user_deleted(gh_auth *au, gh_store *st, const char *user_id) {
  EACH_HOOK(user_deleted) au->plugins[i_].p->user_deleted(SELF, st, user_id);
}
