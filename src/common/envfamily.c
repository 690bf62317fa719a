#include "common/envfamily.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

extern char **environ;

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t gh_envfam_ids(const char *prefix, const char *marker, char ***ids) {
  size_t n = 0, cap = 0, pl = strlen(prefix), ml = strlen(marker);
  char **v = NULL;
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || !eq[1]) continue;
    size_t nl = (size_t)(eq - *e);
    if (nl <= pl + ml || strncmp(*e, prefix, pl) != 0 || strncmp(eq - ml, marker, ml) != 0)
      continue;
    const char *id = *e + pl;
    size_t il = nl - pl - ml;
    bool ok = true;
    for (size_t i = 0; i < il && ok; i++)
      ok = (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_';
    if (!ok) continue;
    bool dup = false;
    for (size_t i = 0; i < n && !dup; i++) dup = strlen(v[i]) == il && strncmp(v[i], id, il) == 0;
    if (dup) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      v = realloc(v, cap * sizeof *v);
      if (!v) gh_oom();
    }
    v[n] = gh_xmalloc(il + 1);
    memcpy(v[n], id, il);
    v[n][il] = 0;
    n++;
  }
  if (n) qsort(v, n, sizeof *v, cmp);
  *ids = v;
  return n;
}

void gh_envfam_ids_free(char **ids, size_t n) {
  for (size_t i = 0; i < n; i++) free(ids[i]);
  free(ids);
}

gh_status gh_envfam_load(const char *prefix, const char *id, const gh_conf_opt *opts, size_t n,
                         void *base, char *errbuf, size_t errlen, const char **err) {
  gh_conf_opt *full = gh_xcalloc(n ? n : 1, sizeof *full);
  char **names = gh_xcalloc(n ? n : 1, sizeof *names);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(prefix) + strlen(id) + strlen(opts[i].env) + 1;
    names[i] = gh_xmalloc(len);
    snprintf(names[i], len, "%s%s%s", prefix, id, opts[i].env);
    full[i] = opts[i];
    full[i].env = names[i];
    full[i].alt = NULL;
  }
  gh_status st = gh_conf_load(full, n, base, errbuf, errlen, err);
  if (st != GH_OK && *err && *err != errbuf) { /* a static message: keep a copy in errbuf */
    snprintf(errbuf, errlen, "%s", *err);
    *err = errbuf;
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  free(full);
  return st;
}

void gh_envfam_free(const gh_conf_opt *opts, size_t n, void *base) {
  gh_conf_free(opts, n, base);
}
