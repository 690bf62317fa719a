/* Families of environment variables with an id in the middle, PREFIX<ID>SUFFIX
 * (GATEHOUSE_OIDC_ACME_CLIENT_ID): the ids present, and one id's variables loaded with an envconf
 * table whose env names are the suffixes ("_CLIENT_ID"). For settings that come in any number
 * (one set per OpenID provider), which envconf's fixed tables cannot name in advance. */
#ifndef GH_COMMON_ENVFAMILY_H
#define GH_COMMON_ENVFAMILY_H

#include <stddef.h>

#include "common/envconf.h"
#include "common/status.h"

/* The distinct ids of the non-empty variables named prefix + ID + marker (ID: [A-Z0-9_]+), sorted;
 * *ids is a malloc'd array of malloc'd strings (gh_envfam_ids_free). */
size_t gh_envfam_ids(const char *prefix, const char *marker, char ***ids);
void gh_envfam_ids_free(char **ids, size_t n);
/* Loads id's variables: opts[i].env is the suffix (alt is ignored). As gh_conf_load, the messages
 * name the full variable. */
GH_MUST_CHECK gh_status gh_envfam_load(const char *prefix, const char *id, const gh_conf_opt *opts,
                                       size_t n, void *base, char *errbuf, size_t errlen,
                                       const char **err);
/* Frees what gh_envfam_load loaded (gh_conf_free). */
void gh_envfam_free(const gh_conf_opt *opts, size_t n, void *base);

#endif
