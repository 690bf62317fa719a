#include "mail/template.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name, *subject, *txt, *html;
} builtin;

#define HTML_HEAD                                                                                  \
  "<!doctype html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family:"       \
  "sans-serif;line-height:1.5\">\n"
#define HTML_FOOT "</body></html>\n"

static const builtin BUILTINS[] = {
    {"verify-email", "Verify your e-mail address",
     "Hello {{name}},\n\nplease confirm your e-mail address {{email}} by opening this link:\n\n"
     "{{url}}\n\nThe link is valid for {{expiresIn}}. If you did not ask for it, ignore this "
     "message.\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>please confirm your e-mail address {{email}}:</p>\n"
               "<p><a href=\"{{url}}\">Verify e-mail address</a></p>\n<p>The link is valid for "
               "{{expiresIn}}. If you did not ask for it, ignore this message.</p>\n" HTML_FOOT},
    {"reset-password", "Reset your password",
     "Hello {{name}},\n\nsomeone asked to reset the password of the account {{email}}. To choose "
     "a new password open this link:\n\n{{url}}\n\nThe link is valid for {{expiresIn}} and works "
     "once. If you did not ask for it, ignore this message: your password stays as it is.\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>someone asked to reset the password of the account "
               "{{email}}.</p>\n<p><a href=\"{{url}}\">Choose a new password</a></p>\n<p>The link "
               "is valid for {{expiresIn}} and works once. If you did not ask for it, ignore this "
               "message: your password stays as it is.</p>\n" HTML_FOOT},
    {"change-email-confirmation", "Confirm the change of your e-mail address",
     "Hello {{name}},\n\nsomeone asked to change the e-mail address of your account from "
     "{{email}} to {{newEmail}}. To approve it open this link:\n\n{{url}}\n\nIf you did not ask "
     "for it, ignore this message and consider changing your password.\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>someone asked to change the e-mail address of your "
               "account from {{email}} to {{newEmail}}.</p>\n<p><a href=\"{{url}}\">Approve the "
               "change</a></p>\n<p>If you did not ask for it, ignore this message and consider "
               "changing your password.</p>\n" HTML_FOOT},
    {"change-email-verification", "Verify your new e-mail address",
     "Hello {{name}},\n\nplease confirm {{email}} as the new e-mail address of your account by "
     "opening this link:\n\n{{url}}\n\nIf you did not ask for it, ignore this message.\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>please confirm {{email}} as the new e-mail address of "
               "your account:</p>\n<p><a href=\"{{url}}\">Verify e-mail address</a></p>\n<p>If "
               "you did not ask for it, ignore this message.</p>\n" HTML_FOOT},
    {"sign-up-existing", "Sign-up attempt with your e-mail address",
     "Hello {{name}},\n\nsomeone tried to create an account with your e-mail address {{email}}. "
     "You already have an account: nothing was changed. If it was you, sign in instead (or reset "
     "your password at {{url}}).\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>someone tried to create an account with your e-mail "
               "address {{email}}. You already have an account: nothing was changed.</p>\n<p>If "
               "it was you, <a href=\"{{url}}\">sign in</a> instead.</p>\n" HTML_FOOT},
    {"otp", "Your verification code",
     "Hello {{name}},\n\nyour verification code is {{otp}}\n\nIt is valid for {{expiresIn}}.\n",
     HTML_HEAD "<p>Hello {{name}},</p>\n<p>your verification code is <b>{{otp}}</b></p>\n<p>It "
               "is valid for {{expiresIn}}.</p>\n" HTML_FOOT},
};
#define NBUILTINS (sizeof BUILTINS / sizeof BUILTINS[0])

static const builtin *find(const char *name) {
  for (size_t i = 0; i < NBUILTINS; i++)
    if (!strcmp(BUILTINS[i].name, name)) return &BUILTINS[i];
  return NULL;
}

const char *gh_mail_builtin(const char *name, const char *part) {
  const builtin *b = find(name);
  if (!b) return NULL;
  return !strcmp(part, "subject") ? b->subject
         : !strcmp(part, "txt")   ? b->txt
         : !strcmp(part, "html")  ? b->html
                                  : NULL;
}

#define MAX_FILE (64 * 1024)

/* The override file dir/name.part, or NULL when there is none (or it is unreadable/too big). */
static char *read_override(gh_arena *a, const char *dir, const char *name, const char *part) {
  if (!dir || !*dir) return NULL;
  for (const char *p = name; *p; p++) /* template names are ours; never a path */
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return NULL;
  char *path = gh_arena_printf(a, "%s/%s.%s", dir, name, part);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *data = gh_arena_alloc(a, MAX_FILE + 1);
  size_t n = fread(data, 1, MAX_FILE + 1, f);
  fclose(f);
  if (n > MAX_FILE) return NULL;
  data[n] = 0;
  return data;
}

typedef enum { RAW, HTML, LINE } esc;

static void append(char **out, size_t *n, size_t *cap, gh_arena *a, const char *s, size_t len) {
  if (*n + len + 1 > *cap) {
    size_t c = *cap ? *cap : 512;
    while (*n + len + 1 > c) c *= 2;
    char *np = gh_arena_alloc(a, c);
    if (*n) memcpy(np, *out, *n);
    *out = np;
    *cap = c;
  }
  memcpy(*out + *n, s, len);
  *n += len;
  (*out)[*n] = 0;
}

static void append_value(char **out, size_t *n, size_t *cap, gh_arena *a, const char *v, esc e) {
  for (const char *p = v; *p; p++) {
    const char *rep = NULL;
    char one[2] = {*p, 0};
    if (e == HTML) {
      switch (*p) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&#39;";
        break;
      default:
        break;
      }
    }
    if (!rep && e != RAW && ((unsigned char)*p < 0x20 || *p == 0x7f)) rep = " ";
    if (!rep && e == RAW && ((unsigned char)*p < 0x20 || *p == 0x7f)) rep = " ";
    append(out, n, cap, a, rep ? rep : one, rep ? strlen(rep) : 1);
  }
}

static char *expand(gh_arena *a, const char *tpl, const gh_mail_var *vars, size_t nvars, esc e) {
  char *out = NULL;
  size_t n = 0, cap = 0;
  append(&out, &n, &cap, a, "", 0);
  const char *p = tpl;
  while (*p) {
    const char *open = strstr(p, "{{");
    if (!open) {
      append(&out, &n, &cap, a, p, strlen(p));
      break;
    }
    append(&out, &n, &cap, a, p, (size_t)(open - p));
    const char *close = strstr(open + 2, "}}");
    if (!close) {
      append(&out, &n, &cap, a, open, strlen(open));
      break;
    }
    const char *key = open + 2;
    size_t klen = (size_t)(close - key);
    while (klen && *key == ' ') key++, klen--;
    while (klen && key[klen - 1] == ' ') klen--;
    for (size_t i = 0; i < nvars; i++)
      if (strlen(vars[i].name) == klen && !memcmp(vars[i].name, key, klen)) {
        if (vars[i].value) append_value(&out, &n, &cap, a, vars[i].value, e);
        break;
      }
    p = close + 2;
  }
  return out;
}

gh_status gh_mail_render(gh_arena *a, const char *dir, const char *name, const gh_mail_var *vars,
                         size_t nvars, gh_mail_rendered *out) {
  const builtin *b = find(name);
  char *subject = read_override(a, dir, name, "subject");
  char *txt = read_override(a, dir, name, "txt");
  char *html = read_override(a, dir, name, "html");
  if (!b && !subject && !txt) return GH_ERR_NOT_FOUND;
  const char *s = subject ? subject : b ? b->subject : "";
  const char *t = txt ? txt : b ? b->txt : "";
  const char *h = html ? html : b ? b->html : NULL;
  if (subject) { /* one line: a file usually ends with a newline */
    char *nl = strpbrk(subject, "\r\n");
    if (nl) *nl = 0;
  }
  out->subject = expand(a, s, vars, nvars, LINE);
  out->text = expand(a, t, vars, nvars, RAW);
  out->html = h ? expand(a, h, vars, nvars, HTML) : NULL;
  return GH_OK;
}
