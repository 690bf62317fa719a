/* Mail templates: a subject, a text and an HTML body per message kind, with {{name}} placeholders.
 * Built-in defaults; a deployer overrides any of them with files in GATEHOUSE_MAIL_TEMPLATES:
 * NAME.subject, NAME.txt, NAME.html (each optional, at most 64 KiB, read at each use). Values are
 * HTML-escaped in the HTML body; everywhere CR, LF and other controls in a value become spaces
 * (a name cannot start a line of its own); the subject is then encoded by the message builder
 * (RFC 2047). Unknown placeholders are left empty. */
#ifndef GH_MAIL_TEMPLATE_H
#define GH_MAIL_TEMPLATE_H

#include <stddef.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct {
  const char *name;  /* "url" */
  const char *value; /* NULL = empty */
} gh_mail_var;

typedef struct {
  char *subject, *text, *html;
} gh_mail_rendered;

/* Names of the built-in templates: verify-email, reset-password, change-email-confirmation,
 * change-email-verification, sign-up-existing, otp. dir may be NULL (built-ins only).
 * GH_ERR_NOT_FOUND for a name that is neither built in nor in dir. */
GH_MUST_CHECK gh_status gh_mail_render(gh_arena *a, const char *dir, const char *name,
                                       const gh_mail_var *vars, size_t nvars,
                                       gh_mail_rendered *out);
/* The built-in text of a template part ("subject", "txt", "html"), or NULL. */
const char *gh_mail_builtin(const char *name, const char *part);

#endif
