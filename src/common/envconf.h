/* Declarative configuration from the environment, shared by gatehouse and gatehouse-tasks: one
 * table of {variable, better-auth fallback, type, default, bounds, flags, field offset, help}
 * loaded into a struct, printed with secrets masked, and rendered as the README's Markdown table.
 * An empty variable counts as unset. */
#ifndef GH_COMMON_ENVCONF_H
#define GH_COMMON_ENVCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "common/status.h"

enum { GH_CONF_STR, GH_CONF_INT, GH_CONF_BOOL }; /* fields: char *, long, bool */
enum {
  GH_CONF_SECRET = 1, /* printed as ****, wiped when freed */
  GH_CONF_DB_URL = 2, /* the password of scheme://user:password@host is masked and wiped */
};

typedef struct {
  const char *env;
  const char *alt; /* fallback variable (better-auth's name), or NULL */
  int type;
  const char *dflt; /* NULL: no default (the field stays NULL) */
  long min, max;    /* GH_CONF_INT bounds */
  unsigned flags;
  size_t off; /* offsetof the field */
  const char *help;
} gh_conf_opt;

/* Fills the struct at base from the environment (env, then alt) or the defaults. On an invalid
 * integer or boolean: GH_ERR_CONFIG and *err = a message in errbuf naming the variable. */
GH_MUST_CHECK gh_status gh_conf_load(const gh_conf_opt *opts, size_t n, void *base, char *errbuf,
                                     size_t errlen, const char **err);
/* The variable a value came from ("GATEHOUSE_SECRET", "BETTER_AUTH_SECRET") or "default". */
const char *gh_conf_source(const gh_conf_opt *o);
/* "NAME  value   [source]" lines. describe (optional) may return its own text for an option
 * (written into buf); NULL keeps the default rendering (secrets ****, database passwords masked).
 */
void gh_conf_print(const gh_conf_opt *opts, size_t n, const void *base, FILE *out,
                   const char *(*describe)(const gh_conf_opt *o, const void *base, char *buf,
                                           size_t len));
/* Markdown table: | Variable | [Fallback |] Default | Meaning | */
void gh_conf_print_table(const gh_conf_opt *opts, size_t n, FILE *out, bool fallback_column);
/* Frees the string fields (wiping secrets and database URLs). */
void gh_conf_free(const gh_conf_opt *opts, size_t n, void *base);
/* scheme://user:****@host/... of url in buf (url itself when it carries no password). */
const char *gh_conf_mask_url(char *buf, size_t n, const char *url);

#endif
