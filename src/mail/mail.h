/* Outgoing mail: the one API to send a message (e-mail verification, password reset, change of
 * e-mail, two-factor codes, ...). gh_mail_queue renders a template and writes the message to the
 * durable outbox table ("gatehouse_mail_outbox", core migration 010) on the CALLER's store
 * connection, so it is part of the caller's open transaction: the mail exists exactly when the
 * token it carries does. After the commit, gh_mail_kick() wakes the delivery thread, which sends
 * over SMTP (never on a request thread), deletes what was delivered and retries what failed with
 * a doubling delay (bounded attempts), also after a restart.
 *
 * Modes (GATEHOUSE_MAIL): off (no mail: the features that need it answer as better-auth without a
 * sender), log (development: the message, link included, is written to the log instead of
 * being sent; nothing is queued), smtp. */
#ifndef GH_MAIL_MAIL_H
#define GH_MAIL_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/status.h"
#include "mail/template.h"
#include "store/store.h"

typedef enum { GH_MAIL_OFF = 0, GH_MAIL_LOG, GH_MAIL_SMTP } gh_mail_mode;

typedef struct {
  gh_mail_mode mode;
  const char *smtp_url, *smtp_user, *smtp_password;
  const char *smtp_ca_file;  /* NULL: the system's CA store */
  bool smtp_require_tls;     /* no plain-text fallback when the server offers no STARTTLS */
  const char *from;          /* "Name <addr@host>" */
  const char *templates_dir; /* NULL: built-ins */
  long connect_timeout_ms, timeout_ms;
  int max_attempts;   /* deliveries tried before a message is marked failed */
  long retry_base_ms; /* first retry delay; doubles, at most retry_max_ms */
  long retry_max_ms;
  long poll_ms; /* the outbox is also read this often (other instances' messages) */
} gh_mail_config;

/* Copies c (strings included) as the process's mail configuration (messages can be queued from
 * then on). GH_ERR_CONFIG when from is not an address, or when already configured. */
GH_MUST_CHECK gh_status gh_mail_start(const gh_mail_config *c);
/* In smtp mode, starts the delivery thread (it uses gh_store_thread()); only while the server
 * serves (a CLI command queues but never delivers). */
GH_MUST_CHECK gh_status gh_mail_deliver_start(void);
/* Stops the delivery thread (a delivery in progress finishes first). */
void gh_mail_deliver_stop(void);
/* Stops the delivery thread and forgets the configuration. */
void gh_mail_stop(void);
gh_mail_mode gh_mail_mode_now(void);
/* Renders template (mail/template.h) for to and queues it on st (in st's open transaction, if
 * any). Mode off: GH_ERR_CONFIG, nothing written. */
GH_MUST_CHECK gh_status gh_mail_queue(gh_store *st, gh_arena *a, const char *to,
                                      const char *template_name, const gh_mail_var *vars,
                                      size_t nvars);
/* Wakes the delivery thread (call after the commit). */
void gh_mail_kick(void);
/* For tests and `make run`: messages delivered and failed since start. */
void gh_mail_counters(long *sent, long *failed);

#endif
