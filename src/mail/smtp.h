/* One message to one recipient over SMTP with libcurl: smtp:// with STARTTLS whenever the server
 * offers it (CURLUSESSL_TRY; a certificate that does not verify fails), smtps:// with implicit
 * TLS; AUTH with user/password when given; connect and total timeouts. Blocking: delivery
 * thread only. */
#ifndef GH_MAIL_SMTP_H
#define GH_MAIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

typedef struct {
  const char *url;      /* smtp://host:port or smtps://host:port */
  const char *user;     /* NULL: no AUTH */
  const char *password; /* secret */
  const char *ca_file;  /* NULL: the system's CA store */
  bool require_tls;     /* smtp://: fail unless STARTTLS succeeds (no plain-text fallback) */
  long connect_timeout_ms, timeout_ms;
} gh_smtp_conf;

/* libcurl's global state, before the delivery thread starts and after it ended (counted by
 * libcurl: each init is matched by one cleanup). Only a server that delivers pays its memory. */
GH_MUST_CHECK gh_status gh_smtp_global_init(void);
void gh_smtp_global_cleanup(void);

/* GH_OK when the server accepted the message; otherwise an error with a short reason in err
 * (libcurl's text or the server's reply code; never the message or a secret). */
GH_MUST_CHECK gh_status gh_smtp_send(const gh_smtp_conf *c, const char *from_addr,
                                     const char *to_addr, const char *message, char *err,
                                     size_t errlen);

#endif
