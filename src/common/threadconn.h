/* One lazily opened connection per thread, closed when the thread exits: for database clients
 * whose connections must not be shared between threads (SQLite opened NOMUTEX, libpq). Used by
 * the server's store and by gatehouse-tasks' store.
 *
 *   static gh_threadconn conns = GH_THREADCONN_INIT(open_fn, close_fn);
 *   gh_threadconn_set_url(&conns, url);       // at start (and NULL at the end: wiped, freed)
 *   void *c; gh_threadconn_get(&conns, &c);   // in a request thread */
#ifndef GH_COMMON_THREADCONN_H
#define GH_COMMON_THREADCONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "common/status.h"

typedef gh_status (*gh_conn_open_fn)(const char *url, void **out);
typedef void (*gh_conn_close_fn)(void *conn);

typedef struct {
  gh_conn_open_fn open;
  gh_conn_close_fn close;
  pthread_mutex_t lock; /* guards url and the key's creation */
  atomic_bool key_ready;
  bool key_failed;
  pthread_key_t key;
  char *url;
} gh_threadconn;

#define GH_THREADCONN_INIT(open_fn, close_fn)                                                      \
  { .open = (open_fn), .close = (close_fn), .lock = PTHREAD_MUTEX_INITIALIZER }

/* Sets the URL later connections are opened with (copied); NULL forgets it (the copy is wiped). */
void gh_threadconn_set_url(gh_threadconn *tc, const char *url);
/* This thread's connection, opened on first use. GH_ERR_CONFIG without a URL (or when open says
 * the URL is invalid), GH_ERR_DB_UNAVAILABLE when it cannot be opened (tried again next call). */
GH_MUST_CHECK gh_status gh_threadconn_get(gh_threadconn *tc, void **out);

#endif
