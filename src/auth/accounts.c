/* GET /list-accounts and POST /unlink-account (spec §1, better-auth api/routes/account.ts): the
 * user's accounts of every provider (the credential account included) as better-auth returns
 * them, and unlinking one, never the last way to sign in. */
#include <string.h>

#include "auth/internal.h"
#include "common/time.h"

static gh_json *date_json(int64_t ms) {
  char b[GH_ISO_LEN];
  gh_iso8601(ms, b);
  return gh_json_str(b);
}

/* better-auth's parseStoredScopes: split on ',', trimmed, empty ones dropped. */
static gh_json *scopes_json(gh_arena *a, const char *scope) {
  gh_json *arr = gh_json_array();
  const char *p = scope;
  while (p && *p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *s = p;
    size_t len = n;
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
      len--;
    if (len) gh_json_append_new(arr, gh_json_str(gh_arena_strndup(a, s, len)));
    p = e ? e + 1 : NULL;
  }
  return arr;
}

/* One account as list-accounts returns it: the schema's returned fields in order (tokens,
 * expiry dates and password are returned:false), id last, then scopes. */
static gh_json *account_json(gh_arena *a, const gh_account *x) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "accountId", gh_json_str(x->account_id));
  gh_json_set_new(o, "providerId", gh_json_str(x->provider_id));
  gh_json_set_new(o, "userId", gh_json_str(x->user_id));
  gh_json_set_new(o, "createdAt", date_json(x->created_at));
  gh_json_set_new(o, "updatedAt", date_json(x->updated_at));
  gh_json_set_new(o, "id", gh_json_str(x->id));
  gh_json_set_new(o, "scopes", scopes_json(a, x->scope));
  return o;
}

void gh_route_list_accounts(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, false, &st, &s)) return;
  gh_account *v;
  size_t n;
  gh_status rc = gh_store_list_accounts(st, req->arena, s.u.id, &v, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_accounts");
    return;
  }
  gh_json *arr = gh_json_array();
  for (size_t i = 0; i < n; i++) gh_json_append_new(arr, account_json(req->arena, &v[i]));
  gh_resp_json(resp, 200, arr);
}

void gh_route_unlink_account(void *app, gh_req *req, gh_resp *resp) {
  gh_auth *au = app;
  gh_vctx v = {.a = req->arena};
  const gh_json *b = req->json;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(au, req, resp, true, &st, &s)) return;
  if (au->cfg.fresh_age > 0 && gh_now_ms() - s.s.created_at >= au->cfg.fresh_age * 1000) {
    gh_resp_error(resp, GH_E_SESSION_NOT_FRESH);
    return;
  }
  if (!gh_v_object(&v, b, "object")) {
    gh_v_fail(&v, resp);
    return;
  }
  const char *id = gh_v_string(&v, b, "accountId", true, false, NULL);
  if (gh_v_fail(&v, resp)) return;
  gh_account *list;
  size_t n;
  gh_status rc = gh_store_list_accounts(st, req->arena, s.u.id, &list, &n);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "list_accounts");
    return;
  }
  if (n == 1) {
    gh_resp_error(resp, GH_E_FAILED_TO_UNLINK_LAST_ACCOUNT);
    return;
  }
  const gh_account *found = NULL;
  for (size_t i = 0; i < n && !found; i++)
    if (strcmp(list[i].id, id) == 0) found = &list[i];
  if (!found) {
    gh_resp_error(resp, GH_E_ACCOUNT_NOT_FOUND);
    return;
  }
  rc = gh_store_delete_account(st, s.u.id, found->id);
  if (rc != GH_OK && rc != GH_ERR_NOT_FOUND) {
    gh_auth_db_error(resp, rc, "delete_account");
    return;
  }
  gh_audit(au, req, "account.unlinked", s.u.id, "provider", found->provider_id, "account_id",
           found->id);
  gh_resp_raw_json(resp, 200, "{\"status\":true}");
}
