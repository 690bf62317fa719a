#include "mail/mail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "mail/message.h"
#include "mail/smtp.h"

static const gh_query Q_INSERT = {
    "mail_outbox_insert",
    "insert into \"gatehouse_mail_outbox\" (\"id\", \"recipient\", \"sender\", \"message\", "
    "\"attempts\", \"nextAttemptAt\", \"createdAt\") values (?1, ?2, ?3, ?4, 0, ?5, ?5)",
    "insert into \"gatehouse_mail_outbox\" (\"id\", \"recipient\", \"sender\", \"message\", "
    "\"attempts\", \"nextAttemptAt\", \"createdAt\") values ($1, $2, $3, $4, 0, $5, $5)",
    NULL};
static const gh_query Q_DUE = {
    "mail_outbox_due",
    "select \"id\", \"recipient\", \"sender\", \"message\", \"attempts\", \"nextAttemptAt\" from "
    "\"gatehouse_mail_outbox\" where \"failedAt\" is null and \"nextAttemptAt\" <= ?1 order by "
    "\"nextAttemptAt\" limit 20",
    "select \"id\", \"recipient\", \"sender\", \"message\", \"attempts\", \"nextAttemptAt\" from "
    "\"gatehouse_mail_outbox\" where \"failedAt\" is null and \"nextAttemptAt\" <= $1 order by "
    "\"nextAttemptAt\" limit 20",
    "ttttid"};
/* Claims a message for one delivery attempt: only one instance wins the row. */
static const gh_query Q_CLAIM = {
    "mail_outbox_claim",
    "update \"gatehouse_mail_outbox\" set \"nextAttemptAt\" = ?1 where \"id\" = ?2 and "
    "\"nextAttemptAt\" = ?3 and \"failedAt\" is null",
    "update \"gatehouse_mail_outbox\" set \"nextAttemptAt\" = $1 where \"id\" = $2 and "
    "\"nextAttemptAt\" = $3 and \"failedAt\" is null",
    NULL};
static const gh_query Q_DONE = {"mail_outbox_done",
                                "delete from \"gatehouse_mail_outbox\" where \"id\" = ?1",
                                "delete from \"gatehouse_mail_outbox\" where \"id\" = $1", NULL};
static const gh_query Q_RETRY = {
    "mail_outbox_retry",
    "update \"gatehouse_mail_outbox\" set \"attempts\" = ?1, \"nextAttemptAt\" = ?2, "
    "\"lastError\" = ?3, \"failedAt\" = ?4 where \"id\" = ?5",
    "update \"gatehouse_mail_outbox\" set \"attempts\" = $1, \"nextAttemptAt\" = $2, "
    "\"lastError\" = $3, \"failedAt\" = $4 where \"id\" = $5",
    NULL};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool configured, running, stop, kicked;
  pthread_t thread;
  gh_mail_config c;
  char *from_addr;
  long sent, failed;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static char *dup_or_null(const char *s) {
  return s ? gh_xstrdup(s) : NULL;
}

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *p = s;
  while (*p) *p++ = 0;
  free(s);
}

static void forget(void) {
  free((char *)M.c.smtp_url);
  free((char *)M.c.smtp_ca_file);
  free((char *)M.c.smtp_user);
  wipe_free((char *)M.c.smtp_password);
  free((char *)M.c.from);
  free((char *)M.c.templates_dir);
  free(M.from_addr);
  memset(&M.c, 0, sizeof M.c);
  M.from_addr = NULL;
  M.configured = false;
}

gh_mail_mode gh_mail_mode_now(void) {
  pthread_mutex_lock(&M.mu);
  gh_mail_mode m = M.configured ? M.c.mode : GH_MAIL_OFF;
  pthread_mutex_unlock(&M.mu);
  return m;
}

void gh_mail_counters(long *sent, long *failed) {
  pthread_mutex_lock(&M.mu);
  *sent = M.sent;
  *failed = M.failed;
  pthread_mutex_unlock(&M.mu);
}

void gh_mail_kick(void) {
  pthread_mutex_lock(&M.mu);
  M.kicked = true;
  pthread_cond_signal(&M.cv);
  pthread_mutex_unlock(&M.mu);
}

gh_status gh_mail_queue(gh_store *st, gh_arena *a, const char *to, const char *template_name,
                        const gh_mail_var *vars, size_t nvars) {
  gh_mail_mode mode = gh_mail_mode_now();
  if (mode == GH_MAIL_OFF) return GH_ERR_CONFIG;
  gh_mail_rendered r;
  gh_status rc = gh_mail_render(a, M.c.templates_dir, template_name, vars, nvars, &r);
  if (rc) return rc;
  if (!gh_mail_address_ok(to)) return GH_ERR_INVALID;
  if (mode == GH_MAIL_LOG) { /* development: the link in the log, nothing queued */
    gh_log(GH_LOG_INFO, "mail.log", "to", to, "template", template_name, "subject", r.subject,
           "text", r.text, NULL);
    return GH_OK;
  }
  gh_mail_message m = {.from = M.c.from,
                       .to = to,
                       .subject = r.subject,
                       .text = r.text,
                       .html = r.html,
                       .date_ms = gh_now_ms()};
  char *msg;
  if ((rc = gh_mail_build(a, &m, &msg))) return rc;
  char id[33];
  gh_rand_id(id, 32);
  rc = gh_store_exec(st, &Q_INSERT, NULL, "ttttd", id, to, M.from_addr, msg, gh_now_ms());
  if (rc == GH_OK)
    gh_log(GH_LOG_INFO, "mail.queued", "mail_id", id, "template", template_name, NULL);
  return rc;
}

static long backoff(long attempts) {
  long d = M.c.retry_base_ms;
  for (long i = 1; i < attempts && d < M.c.retry_max_ms; i++) d *= 2;
  return d > M.c.retry_max_ms ? M.c.retry_max_ms : d;
}

/* One pass over the due messages. Returns how many were tried. */
static int deliver_due(void) {
  gh_store *st;
  if (gh_store_thread(&st) != GH_OK) return 0;
  gh_arena *a = gh_arena_new();
  gh_rows rows;
  int tried = 0;
  int64_t now = gh_now_ms();
  gh_status rc = gh_store_query(st, a, &Q_DUE, &rows, "d", now);
  if (rc != GH_OK) {
    if (rc != GH_ERR_SCHEMA) gh_log(GH_LOG_WARN, "mail.outbox_unreadable", NULL);
    gh_arena_free(a);
    return 0;
  }
  gh_smtp_conf sc = {.url = M.c.smtp_url,
                     .user = M.c.smtp_user,
                     .password = M.c.smtp_password,
                     .ca_file = M.c.smtp_ca_file,
                     .require_tls = M.c.smtp_require_tls,
                     .connect_timeout_ms = M.c.connect_timeout_ms,
                     .timeout_ms = M.c.timeout_ms};
  for (size_t i = 0; i < rows.n; i++) {
    const gh_cell *c = gh_rows_at(&rows, i);
    const char *id = c[0].text, *to = c[1].text, *from = c[2].text, *msg = c[3].text;
    int64_t attempts = c[4].num, due = c[5].num;
    long changed = 0;
    /* lease: no other instance takes it while this attempt may still run */
    int64_t lease = gh_now_ms() + M.c.timeout_ms + M.c.connect_timeout_ms + 60000;
    if (gh_store_exec(st, &Q_CLAIM, &changed, "dtd", lease, id, due) != GH_OK || changed != 1)
      continue;
    tried++;
    char err[512];
    rc = gh_smtp_send(&sc, from, to, msg, err, sizeof err);
    if (rc == GH_OK) {
      if (gh_store_exec(st, &Q_DONE, NULL, "t", id) != GH_OK)
        gh_log(GH_LOG_ERROR, "mail.outbox_delete_failed", "mail_id", id, NULL);
      gh_log(GH_LOG_INFO, "mail.sent", "mail_id", id, "attempt",
             gh_arena_printf(a, "%lld", (long long)attempts + 1), NULL);
      pthread_mutex_lock(&M.mu);
      M.sent++;
      pthread_mutex_unlock(&M.mu);
      continue;
    }
    attempts++;
    bool give_up = attempts >= M.c.max_attempts;
    int64_t next = gh_now_ms() + backoff((long)attempts);
    int64_t failed_at = gh_now_ms();
    if (gh_store_exec(st, &Q_RETRY, NULL, "idtDt", attempts, next, err, give_up ? &failed_at : NULL,
                      id) != GH_OK)
      gh_log(GH_LOG_ERROR, "mail.outbox_update_failed", "mail_id", id, NULL);
    gh_log(give_up ? GH_LOG_ERROR : GH_LOG_WARN, give_up ? "mail.failed" : "mail.retry", "mail_id",
           id, "attempt", gh_arena_printf(a, "%lld", (long long)attempts), "error", err, NULL);
    if (give_up) {
      pthread_mutex_lock(&M.mu);
      M.failed++;
      pthread_mutex_unlock(&M.mu);
    }
  }
  gh_arena_free(a);
  return tried;
}

static void *run(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&M.mu);
    if (!M.kicked && !M.stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      long ms = M.c.poll_ms;
      ts.tv_sec += ms / 1000;
      ts.tv_nsec += (ms % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&M.cv, &M.mu, &ts);
    }
    bool stop = M.stop;
    M.kicked = false;
    pthread_mutex_unlock(&M.mu);
    if (stop) break;
    while (deliver_due() > 0) {
      pthread_mutex_lock(&M.mu);
      stop = M.stop;
      pthread_mutex_unlock(&M.mu);
      if (stop) break;
    }
  }
  return NULL;
}

gh_status gh_mail_start(const gh_mail_config *c) {
  gh_arena *a = gh_arena_new();
  char *addr = c->mode == GH_MAIL_OFF ? NULL : gh_mail_from_address(a, c->from);
  if (c->mode != GH_MAIL_OFF && !addr) {
    gh_arena_free(a);
    return GH_ERR_CONFIG;
  }
  pthread_mutex_lock(&M.mu);
  if (M.configured) {
    pthread_mutex_unlock(&M.mu);
    gh_arena_free(a);
    return GH_ERR_CONFIG; /* one configuration a process */
  }
  M.c = *c;
  M.c.smtp_url = dup_or_null(c->smtp_url);
  M.c.smtp_ca_file = c->smtp_ca_file && *c->smtp_ca_file ? gh_xstrdup(c->smtp_ca_file) : NULL;
  M.c.smtp_user = dup_or_null(c->smtp_user);
  M.c.smtp_password = dup_or_null(c->smtp_password);
  M.c.from = dup_or_null(c->from);
  M.c.templates_dir = c->templates_dir && *c->templates_dir ? gh_xstrdup(c->templates_dir) : NULL;
  M.from_addr = dup_or_null(addr);
  if (M.c.max_attempts < 1) M.c.max_attempts = 1;
  if (M.c.retry_base_ms < 1) M.c.retry_base_ms = 1000;
  if (M.c.retry_max_ms < M.c.retry_base_ms) M.c.retry_max_ms = M.c.retry_base_ms;
  if (M.c.poll_ms < 10) M.c.poll_ms = 10;
  M.configured = true;
  pthread_mutex_unlock(&M.mu);
  gh_arena_free(a);
  return GH_OK;
}

gh_status gh_mail_deliver_start(void) {
  pthread_mutex_lock(&M.mu);
  gh_status rc = GH_OK;
  if (M.configured && M.c.mode == GH_MAIL_SMTP && !M.running) {
    M.stop = false;
    M.kicked = true; /* what a previous run left in the outbox goes first */
    rc = gh_smtp_global_init();
    if (rc == GH_OK && pthread_create(&M.thread, NULL, run, NULL) == 0) {
      M.running = true;
    } else if (rc == GH_OK) {
      gh_smtp_global_cleanup();
      rc = GH_ERR_IO;
    }
  }
  pthread_mutex_unlock(&M.mu);
  return rc;
}

void gh_mail_deliver_stop(void) {
  pthread_mutex_lock(&M.mu);
  bool running = M.running;
  M.stop = true;
  pthread_cond_signal(&M.cv);
  pthread_mutex_unlock(&M.mu);
  if (running) {
    pthread_join(M.thread, NULL);
    gh_smtp_global_cleanup();
  }
  pthread_mutex_lock(&M.mu);
  M.running = false;
  pthread_mutex_unlock(&M.mu);
}

void gh_mail_stop(void) {
  gh_mail_deliver_stop();
  pthread_mutex_lock(&M.mu);
  forget();
  pthread_mutex_unlock(&M.mu);
}
