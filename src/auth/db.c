/* The thread's store for a request; database errors mapped to 503 / 500. */
#include "auth/db.h"

#include <stdatomic.h>

#include "common/errors.h"
#include "common/log.h"

gh_store *gh_auth_store(gh_resp *resp) {
  gh_store *st;
  gh_status rc = gh_store_thread(&st);
  if (rc != GH_OK) {
    gh_auth_db_error(resp, rc, "connect");
    return NULL;
  }
  return st;
}

static _Atomic long db_errors;

long gh_auth_db_error_count(void) {
  return db_errors;
}

void gh_auth_db_error(gh_resp *resp, gh_status st, const char *what) {
  if (st == GH_ERR_REFUSED) { /* a plugin refused (session_creating) and answered already */
    gh_resp_remove_header(resp, "Set-Cookie", NULL, NULL);
    return;
  }
  db_errors++;
  gh_log(GH_LOG_ERROR, "db.error", "op", what, "status", gh_status_str(st), NULL);
  gh_resp_remove_header(resp, "Set-Cookie", NULL, NULL);
  if (gh_store_unavailable(st))
    gh_resp_error(resp, GH_E_SERVICE_UNAVAILABLE);
  else
    gh_resp_error(resp, GH_E_INTERNAL);
}
