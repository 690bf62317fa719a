#include "mail/message.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"
#include "common/rand.h"

bool gh_mail_address_ok(const char *s) {
  if (!s || !*s || strlen(s) > 320) return false;
  const char *at = strrchr(s, '@');
  if (!at || at == s || !at[1]) return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f) return false;
    if (strchr("<>()[]\\,;:\"", *p)) return false;
  }
  return true;
}

char *gh_mail_from_address(gh_arena *a, const char *from) {
  if (!from) return NULL;
  for (const unsigned char *p = (const unsigned char *)from; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return NULL;
  const char *lt = strrchr(from, '<');
  if (!lt) return gh_mail_address_ok(from) ? gh_arena_strdup(a, from) : NULL;
  const char *gt = strchr(lt, '>');
  if (!gt || gt[1]) return NULL;
  char *addr = gh_arena_strndup(a, lt + 1, (size_t)(gt - lt - 1));
  return gh_mail_address_ok(addr) ? addr : NULL;
}

/* Appends to a growing arena buffer. */
typedef struct {
  gh_arena *a;
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (b->n + n + 1 > cap) cap *= 2;
    char *np = gh_arena_alloc(b->a, cap);
    if (b->n) memcpy(np, b->p, b->n);
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) {
  put(b, s, strlen(s));
}

/* Length of the UTF-8 sequence starting at p (1 for a stray byte). */
static size_t seq_len(const unsigned char *p, size_t left) {
  size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
  return n > left ? left : n;
}

char *gh_mail_encode_header(gh_arena *a, const char *text) {
  size_t len = strlen(text);
  char *clean = gh_arena_strndup(a, text, len);
  for (char *p = clean; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
  buf b = {.a = a};
  size_t i = 0;
  if (!len)
    puts_(&b, "=?UTF-8?B?"
              "?=");
  while (i < len) {
    /* at most 36 bytes a word: "Subject: " + "=?UTF-8?B?" + base64 (48) + "?=" < 78 */
    size_t take = 0;
    while (i + take < len) {
      size_t s = seq_len((const unsigned char *)clean + i + take, len - i - take);
      if (take + s > 36) break;
      take += s;
    }
    char enc[GH_B64_LEN(36) + 1];
    gh_b64_encode((const uint8_t *)clean + i, take, enc, false, true);
    if (i) puts_(&b, "\r\n ");
    puts_(&b, "=?UTF-8?B?");
    puts_(&b, enc);
    puts_(&b, "?=");
    i += take;
  }
  return b.p;
}

static void put_b64_lines(buf *b, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i += 57) { /* 57 bytes → 76 characters a line */
    size_t take = n - i < 57 ? n - i : 57;
    char enc[GH_B64_LEN(57) + 1];
    gh_b64_encode((const uint8_t *)s + i, take, enc, false, true);
    puts_(b, enc);
    puts_(b, "\r\n");
  }
}

static void put_date(buf *b, int64_t ms) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char s[64];
  snprintf(s, sizeof s, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  puts_(b, s);
}

gh_status gh_mail_build(gh_arena *a, const gh_mail_message *m, char **out) {
  char *from_addr = gh_mail_from_address(a, m->from);
  if (!from_addr || !gh_mail_address_ok(m->to)) return GH_ERR_INVALID;
  const char *host = strrchr(from_addr, '@') + 1;
  char rnd[33], boundary[25];
  gh_rand_id(rnd, 32);
  gh_rand_id(boundary, 24);
  buf b = {.a = a};
  puts_(&b, "Date: ");
  put_date(&b, m->date_ms);
  puts_(&b, "\r\nFrom: ");
  const char *lt = strrchr(m->from, '<');
  if (lt && lt > m->from) { /* display name: encoded, so nothing in it is syntax */
    size_t nl = (size_t)(lt - m->from);
    while (nl && m->from[nl - 1] == ' ') nl--;
    char *name = gh_arena_strndup(a, m->from, nl);
    if (nl >= 2 && name[0] == '"' && name[nl - 1] == '"')
      name = gh_arena_strndup(a, name + 1, nl - 2);
    char *enc = gh_mail_encode_header(a, name);
    puts_(&b, enc);
    const char *last = strrchr(enc, '\n');
    size_t col = last ? strlen(last + 1) : 6 + strlen(enc);
    puts_(&b, col + strlen(from_addr) + 3 > 78 ? "\r\n " : " ");
  }
  puts_(&b, "<");
  puts_(&b, from_addr);
  puts_(&b, ">\r\nTo: <");
  puts_(&b, m->to);
  puts_(&b, ">\r\nSubject: ");
  puts_(&b, gh_mail_encode_header(a, m->subject ? m->subject : ""));
  puts_(&b, "\r\nMessage-ID: <");
  puts_(&b, rnd);
  puts_(&b, "@");
  puts_(&b, host);
  puts_(&b, ">\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
  if (m->html) {
    puts_(&b, "Content-Type: multipart/alternative; boundary=\"=_");
    puts_(&b, boundary);
    puts_(&b, "\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--=_");
    puts_(&b, boundary);
    puts_(&b, "\r\n");
  }
  puts_(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
  put_b64_lines(&b, m->text ? m->text : "");
  if (m->html) {
    puts_(&b, "\r\n--=_");
    puts_(&b, boundary);
    puts_(&b, "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
              "base64\r\n\r\n");
    put_b64_lines(&b, m->html);
    puts_(&b, "\r\n--=_");
    puts_(&b, boundary);
    puts_(&b, "--\r\n");
  }
  *out = b.p;
  return GH_OK;
}
