#include "common/envconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

static const char *env_of(const gh_conf_opt *o, const char **used) {
  const char *v = getenv(o->env);
  *used = o->env;
  if ((!v || !*v) && o->alt) {
    v = getenv(o->alt);
    *used = o->alt;
  }
  return v && *v ? v : NULL;
}

const char *gh_conf_source(const gh_conf_opt *o) {
  const char *used;
  return env_of(o, &used) ? used : "default";
}

gh_status gh_conf_load(const gh_conf_opt *opts, size_t n, void *base, char *errbuf, size_t errlen,
                       const char **err) {
  for (size_t i = 0; i < n; i++) {
    const gh_conf_opt *o = &opts[i];
    const char *used;
    const char *v = env_of(o, &used);
    if (!v) v = o->dflt;
    char *field = (char *)base + o->off;
    if (o->type == GH_CONF_STR) {
      *(char **)field = v ? gh_xstrdup(v) : NULL;
    } else if (o->type == GH_CONF_INT) {
      char *end;
      errno = 0;
      long x = v ? strtol(v, &end, 10) : 0;
      if (!v || errno || *end || end == v || x < o->min || x > o->max) {
        snprintf(errbuf, errlen, "%s: expected an integer in [%ld, %ld]", o->env, o->min, o->max);
        *err = errbuf;
        return GH_ERR_CONFIG;
      }
      *(long *)field = x;
    } else {
      bool b;
      if (v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))) {
        b = true;
      } else if (v && (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))) {
        b = false;
      } else {
        snprintf(errbuf, errlen, "%s: expected true or false", o->env);
        *err = errbuf;
        return GH_ERR_CONFIG;
      }
      *(bool *)field = b;
    }
  }
  return GH_OK;
}

const char *gh_conf_mask_url(char *buf, size_t n, const char *url) {
  const char *at = strchr(url, '@');
  const char *s = strstr(url, "://");
  if (s && at && at > s) {
    const char *colon = memchr(s + 3, ':', (size_t)(at - (s + 3)));
    if (colon) {
      snprintf(buf, n, "%.*s:****%s", (int)(colon - url), url, at);
      return buf;
    }
  }
  return url;
}

void gh_conf_print(const gh_conf_opt *opts, size_t n, const void *base, FILE *out,
                   const char *(*describe)(const gh_conf_opt *o, const void *base, char *buf,
                                           size_t len)) {
  for (size_t i = 0; i < n; i++) {
    const gh_conf_opt *o = &opts[i];
    const char *field = (const char *)base + o->off;
    const char *src = gh_conf_source(o);
    char buf[1024];
    const char *text = describe ? describe(o, base, buf, sizeof buf) : NULL;
    if (text) {
      fprintf(out, "%-32s %s   [%s]\n", o->env, text, src);
    } else if (o->type == GH_CONF_STR) {
      const char *v = *(char *const *)field;
      if (v && (o->flags & GH_CONF_SECRET))
        v = "****";
      else if (v && (o->flags & GH_CONF_DB_URL))
        v = gh_conf_mask_url(buf, sizeof buf, v);
      fprintf(out, "%-32s %s   [%s]\n", o->env, v ? v : "(not set)", src);
    } else if (o->type == GH_CONF_INT) {
      fprintf(out, "%-32s %ld   [%s]\n", o->env, *(const long *)field, src);
    } else {
      fprintf(out, "%-32s %s   [%s]\n", o->env, *(const bool *)field ? "true" : "false", src);
    }
  }
}

void gh_conf_print_table(const gh_conf_opt *opts, size_t n, FILE *out, bool fallback_column) {
  fprintf(out, fallback_column ? "| Variable | Fallback | Default | Meaning |\n|---|---|---|---|\n"
                               : "| Variable | Default | Meaning |\n|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    const gh_conf_opt *o = &opts[i];
    fprintf(out, "| `%s` |", o->env);
    if (fallback_column)
      fprintf(out, " %s%s%s |", o->alt ? "`" : "", o->alt ? o->alt : "–", o->alt ? "`" : "");
    if (!o->dflt)
      fprintf(out, " (none) |");
    else if (!*o->dflt)
      fprintf(out, " (empty) |");
    else
      fprintf(out, " `%s` |", o->dflt);
    fprintf(out, " %s |\n", o->help);
  }
}

void gh_conf_free(const gh_conf_opt *opts, size_t n, void *base) {
  for (size_t i = 0; i < n; i++) {
    if (opts[i].type != GH_CONF_STR) continue;
    char **f = (char **)((char *)base + opts[i].off);
    if (*f && (opts[i].flags & (GH_CONF_SECRET | GH_CONF_DB_URL))) memset(*f, 0, strlen(*f));
    free(*f);
    *f = NULL;
  }
}
