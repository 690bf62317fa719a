/* The gh_auth: secrets (signing, verifying, encrypting), base URL and cookie names, trusted
 * origins, and the accessors plugins use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/internal.h"

gh_status gh_auth_new(const gh_auth_config *cfg, const gh_plugin_set *ps, gh_auth **out) {
  gh_auth *au = gh_xcalloc(1, sizeof *au);
  au->cfg = *cfg;
  size_t nv = cfg->nsecret_versions;
  const char *sign = nv ? cfg->secret_values[0] : cfg->secret;
  if (!sign || !*sign) {
    free(au);
    return GH_ERR_CONFIG;
  }
  au->secret = gh_xstrdup(sign);
  /* Cookies: signed with the newest secret, verified with every configured one. */
  au->verify_secrets = gh_xcalloc(nv + 2, sizeof *au->verify_secrets);
  au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(sign);
  for (size_t i = 1; i < nv; i++)
    au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(cfg->secret_values[i]);
  if (nv && cfg->secret && *cfg->secret) {
    bool dup = false;
    for (size_t i = 0; i < au->nverify_secrets; i++)
      dup = dup || strcmp(au->verify_secrets[i], cfg->secret) == 0;
    if (!dup) au->verify_secrets[au->nverify_secrets++] = gh_xstrdup(cfg->secret);
  }
  /* Symmetric encryption: "$ba$<version>$" with the newest version; bare hex with the legacy
   * secret (GATEHOUSE_SECRET), or with the only secret when not versioned. */
  au->versions = nv ? gh_xcalloc(nv, sizeof *au->versions) : NULL;
  for (size_t i = 0; i < nv; i++) {
    au->versions[i].version = cfg->secret_versions[i];
    au->versions[i].value = gh_xstrdup(cfg->secret_values[i]);
  }
  au->secrets.versions = au->versions;
  au->secrets.nversions = nv;
  au->secrets.legacy = nv ? NULL : au->secret;
  if (nv && cfg->secret && *cfg->secret)
    for (size_t i = 0; i < au->nverify_secrets; i++)
      if (!strcmp(au->verify_secrets[i], cfg->secret)) au->secrets.legacy = au->verify_secrets[i];
  au->base_url = gh_xstrdup(cfg->base_url);
  gh_arena *a = gh_arena_new();
  char *origin;
  if (gh_url_origin(a, cfg->base_url, &origin) != GH_OK) {
    gh_arena_free(a);
    gh_auth_free(au);
    return GH_ERR_CONFIG;
  }
  au->base_origin = gh_xstrdup(origin);
  gh_arena_free(a);
  au->secure = strncasecmp(cfg->base_url, "https://", 8) == 0;
  const char *pre = au->secure ? "__Secure-better-auth." : "better-auth.";
  size_t pl = strlen(pre);
  au->ck_session = gh_xmalloc(pl + 32);
  au->ck_data = gh_xmalloc(pl + 32);
  au->ck_dont_remember = gh_xmalloc(pl + 32);
  snprintf(au->ck_session, pl + 32, "%ssession_token", pre);
  snprintf(au->ck_data, pl + 32, "%ssession_data", pre);
  snprintf(au->ck_dont_remember, pl + 32, "%sdont_remember", pre);
  au->cookie_attrs =
      au->secure ? "Path=/; HttpOnly; Secure; SameSite=Lax" : "Path=/; HttpOnly; SameSite=Lax";
  gh_origins_add_list(&au->origins, au->base_origin);
  gh_origins_add_list(&au->origins, cfg->trusted_origins);
  au->cfg.secret = au->secret;
  au->cfg.base_url = au->base_url;
  au->cfg.trusted_origins = NULL;
  au->cfg.secret_values = NULL;
  au->cfg.secret_versions = NULL;
  if (cfg->signin_throttle) au->throttle = gh_throttle_new();
  if (gh_registry_start(au, ps) != GH_OK) {
    gh_auth_free(au);
    return GH_ERR_CONFIG;
  }
  *out = au;
  return GH_OK;
}

void gh_auth_free(gh_auth *au) {
  if (!au) return;
  if (au->secret) {
    memset(au->secret, 0, strlen(au->secret));
    free(au->secret);
  }
  gh_registry_stop(au);
  gh_throttle_free(au->throttle);
  for (size_t i = 0; i < au->nverify_secrets; i++) {
    memset(au->verify_secrets[i], 0, strlen(au->verify_secrets[i]));
    free(au->verify_secrets[i]);
  }
  free(au->verify_secrets);
  for (size_t i = 0; i < au->secrets.nversions; i++) {
    memset((char *)au->versions[i].value, 0, strlen(au->versions[i].value));
    free((char *)au->versions[i].value);
  }
  free(au->versions);
  free(au->base_url);
  free(au->base_origin);
  free(au->ck_session);
  free(au->ck_data);
  free(au->ck_dont_remember);
  gh_origins_free(&au->origins);
  free(au);
}

/* ---------------------------------------------------------------- for plugins */

const char *gh_auth_base_origin(const gh_auth *au) {
  return au->base_origin;
}

const char *gh_auth_client_address(const gh_auth *au, gh_req *req) {
  /* asked for by the rate limiter, the sign-in throttle and every audit line of a request: the
   * header walk runs once */
  if (!req->client)
    req->client = gh_client_address(req->arena, req, au->cfg.trusted_proxies, au->cfg.ip_header);
  return req->client;
}

void gh_auth_set_runtime(gh_auth *au, void (*fn)(void *arg, gh_runtime_stats *out), void *arg) {
  au->runtime_arg = arg;
  au->runtime_fn = fn;
}

bool gh_auth_runtime_stats(const gh_auth *au, gh_runtime_stats *out) {
  memset(out, 0, sizeof *out);
  out->db_errors = gh_auth_db_error_count();
  if (!au->runtime_fn) return false;
  au->runtime_fn(au->runtime_arg, out);
  return true;
}

const char *gh_auth_base_url(const gh_auth *au) {
  return au->base_url;
}

bool gh_auth_require_email_verification(const gh_auth *au) {
  return au->cfg.require_email_verification;
}

bool gh_auth_auto_sign_in(const gh_auth *au) {
  return !au->cfg.auto_sign_in_off;
}

const char *gh_auth_signing_secret(const gh_auth *au) {
  return au->verify_secrets[0];
}

bool gh_auth_production(const gh_auth *au) {
  return au->cfg.production;
}

const gh_secrets *gh_auth_secrets(const gh_auth *au) {
  return &au->secrets;
}

const char *const *gh_auth_verify_secrets(const gh_auth *au, size_t *n) {
  *n = au->nverify_secrets;
  return (const char *const *)au->verify_secrets;
}

const char *gh_auth_session_cookie(const gh_auth *au) {
  return au->ck_session;
}

gh_status gh_auth_set_insert_default(gh_auth *au, gh_model m, const char *name, const char *value) {
  return gh_store_fields_set_insert_default(au->fields, m, name, value);
}

void gh_auth_error(gh_resp *resp, const gh_err_info *e) {
  gh_resp_error_msg(resp, e->status, e->code, e->message);
}

bool gh_auth_sign_in_gate(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                          const gh_sign_in *si) {
  return gh_hook_sign_in(au, st, req, resp, si);
}

void gh_auth_user_created(gh_auth *au, gh_store *st, const gh_user *u) {
  gh_hook_user_created(au, st, u);
}

void gh_auth_user_deleted(gh_auth *au, gh_store *st, const char *user_id) {
  gh_hook_user_deleted(au, st, user_id);
}

void gh_auth_sessions_revoked(gh_auth *au, gh_store *st, const char *user_id, const char *token,
                              const char *except) {
  gh_hook_session_revoked(au, st, user_id, token, except);
}
