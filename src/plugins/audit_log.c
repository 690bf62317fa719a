/* The audit table (GATEHOUSE_AUDIT_DB=true): every audit event (auth/audit.h: sign-up, sign-in
 * success and failure with the reason, sign-out, revocations, password changes, rate-limited,
 * origin rejected, ...) is also written as one row of "auditLog", next to its log line, so that
 * it can be queried with SQL and kept for as long as GATEHOUSE_AUDIT_DB_RETENTION says (rows
 * older than that are deleted about once an hour). Off by default: better-auth has no such table.
 *
 * A row is written on the request's thread connection, inside the transaction the event happens
 * in if there is one. A failed write never fails the request: it is logged (without the row).
 * The row holds what the log line holds, never a secret. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth/plugin.h"
#include "common/log.h"
#include "common/rand.h"
#include "json/json.h"
#include "plugins/plugins.h"

typedef struct {
  bool enabled;
  long retention_days;
} al_conf;

#define O(f) offsetof(al_conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_AUDIT_DB", NULL, GH_CONF_BOOL, "false", 0, 0, 0, O(enabled),
     "Also write every audit event into the `auditLog` table (needs `gatehouse migrate`)"},
    {"GATEHOUSE_AUDIT_DB_RETENTION", NULL, GH_CONF_INT, "90", 1, 36500, 0, O(retention_days),
     "Days an `auditLog` row is kept (older rows are deleted about once an hour)"},
};
#undef O

static const gh_store_migration MIGRATIONS[] = {
    {"audit-log/001_auditLog",
     "create table if not exists \"auditLog\" (\"id\" text not null primary key, \"createdAt\" "
     "date not null, \"event\" text not null, \"userId\" text, \"ipAddress\" text, \"userAgent\" "
     "text, \"data\" text);\n"
     "create index if not exists \"auditLog_createdAt_idx\" on \"auditLog\" (\"createdAt\");\n"
     "create index if not exists \"auditLog_userId_idx\" on \"auditLog\" (\"userId\")",
     "create table if not exists \"auditLog\" (\"id\" text not null primary key, \"createdAt\" "
     "timestamptz not null, \"event\" text not null, \"userId\" text, \"ipAddress\" text, "
     "\"userAgent\" text, \"data\" text);\n"
     "create index if not exists \"auditLog_createdAt_idx\" on \"auditLog\" (\"createdAt\");\n"
     "create index if not exists \"auditLog_userId_idx\" on \"auditLog\" (\"userId\")"},
};

static const gh_query Q_INSERT = {
    "audit_insert",
    "insert into \"auditLog\" (\"id\", \"createdAt\", \"event\", \"userId\", \"ipAddress\", "
    "\"userAgent\", \"data\") values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "insert into \"auditLog\" (\"id\", \"createdAt\", \"event\", \"userId\", \"ipAddress\", "
    "\"userAgent\", \"data\") values ($1, $2, $3, $4, $5, $6, $7)",
    NULL};
static const gh_query Q_PRUNE = {"audit_prune", "delete from \"auditLog\" where \"createdAt\" < ?1",
                                 "delete from \"auditLog\" where \"createdAt\" < $1", NULL};

typedef struct {
  bool enabled;
  int64_t retention_ms;
  _Atomic int64_t pruned_ms;
} audit_log;

static bool wants_migrations(const void *conf) {
  return ((const al_conf *)conf)->enabled;
}

static gh_status init(gh_auth *au, const void *conf, void **self) {
  (void)au;
  const al_conf *c = conf;
  audit_log *l = gh_xcalloc(1, sizeof *l);
  l->enabled = c->enabled;
  l->retention_ms = (int64_t)c->retention_days * 86400 * 1000;
  *self = l;
  return GH_OK;
}

static void plugin_free(void *self) {
  free(self);
}

static void audited(void *self, gh_req *req, const gh_audit_event *ev) {
  audit_log *l = self;
  if (!l->enabled) return;
  gh_store *st;
  if (gh_store_thread(&st) != GH_OK) {
    gh_log(GH_LOG_WARN, "audit.db_failed", "event", ev->event, "status", "connect", NULL);
    return;
  }
  int64_t last = l->pruned_ms;
  if (ev->at_ms - last >= 3600 * 1000 &&
      atomic_compare_exchange_strong(&l->pruned_ms, &last, ev->at_ms)) {
    gh_status rc = gh_store_exec(st, &Q_PRUNE, NULL, "d", ev->at_ms - l->retention_ms);
    if (rc != GH_OK)
      gh_log(GH_LOG_WARN, "audit.db_failed", "event", "prune", "status", gh_status_str(rc), NULL);
  }
  const char *data = NULL;
  gh_arena *own = req ? NULL : gh_arena_new(); /* an event outside a request (CLI) */
  if (ev->k1) {
    gh_json *o = gh_json_object();
    gh_json_set_new(o, ev->k1, gh_json_str(ev->v1));
    if (ev->k2) gh_json_set_new(o, ev->k2, gh_json_str(ev->v2));
    data = gh_json_dump(req ? req->arena : own, o, NULL);
    gh_json_decref(o);
  }
  char id[33];
  gh_rand_id(id, 32);
  gh_status rc =
      gh_store_exec(st, &Q_INSERT, NULL, "tdttttt", id, ev->at_ms, ev->event, ev->user_id,
                    *ev->ip ? ev->ip : NULL, *ev->user_agent ? ev->user_agent : NULL, data);
  gh_arena_free(own);
  if (rc != GH_OK)
    gh_log(GH_LOG_WARN, "audit.db_failed", "event", ev->event, "status", gh_status_str(rc), NULL);
}

const gh_plugin gh_plugin_audit_log = {
    .id = "audit-log",
    .summary = "The audit table: every audit event also as a row of `auditLog` (off by default)",
    .always = true,
    .opts = OPTS,
    .nopts = sizeof OPTS / sizeof OPTS[0],
    .conf_size = sizeof(al_conf),
    .migrations = MIGRATIONS,
    .nmigrations = 1,
    .wants_migrations = wants_migrations,
    .init = init,
    .free = plugin_free,
    .audited = audited,
};
