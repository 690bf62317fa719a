/* Internet messages (RFC 5322 + MIME) for the outbox: a multipart/alternative with a text and an
 * HTML part (UTF-8, base64), Date, Message-ID and an RFC 2047 encoded Subject. No value given
 * here can add a header: the subject is always an encoded word (CR, LF and other controls become
 * spaces first), the addresses are refused when they hold anything but a plain address. */
#ifndef GH_MAIL_MESSAGE_H
#define GH_MAIL_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

typedef struct {
  const char *from;    /* "Name <addr@host>" or "addr@host" (deployer's, checked at start) */
  const char *to;      /* a plain address (addr@host) */
  const char *subject; /* UTF-8, any bytes: encoded */
  const char *text;    /* UTF-8 */
  const char *html;    /* UTF-8; NULL: text only */
  int64_t date_ms;     /* Date header */
} gh_mail_message;

/* true when s is a plain address a header may carry: local@domain, printable ASCII without
 * spaces, quotes, angle brackets, commas or controls (what the server's e-mail rule admits). */
bool gh_mail_address_ok(const char *s);
/* The address of a From value ("Name <a@b>" → "a@b", "a@b" → "a@b"); NULL when it is not one, or
 * when the display name holds CR, LF or other controls. */
char *gh_mail_from_address(gh_arena *a, const char *from);
/* RFC 2047 B encoding of any UTF-8 text as one or more encoded words, folded; controls → space. */
char *gh_mail_encode_header(gh_arena *a, const char *text);
/* The whole message, CRLF line ends. GH_ERR_INVALID when from or to are not acceptable. */
GH_MUST_CHECK gh_status gh_mail_build(gh_arena *a, const gh_mail_message *m, char **out);

#endif
