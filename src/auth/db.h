/* The thread's store connection for a request, and database errors mapped to responses. */
#ifndef GH_AUTH_DB_H
#define GH_AUTH_DB_H

#include "common/status.h"
#include "http/http.h"
#include "store/store.h"

/* The calling thread's store; NULL after answering 503 when the database cannot be reached. */
gh_store *gh_auth_store(gh_resp *resp);
/* Maps a store error to a response (503 + no cookies for database trouble, else 500) and logs
 * it with what (the operation's name, never a value). */
void gh_auth_db_error(gh_resp *resp, gh_status st, const char *what);

#endif
