/* gatehouse-tasks storage: the "tasks" table on SQLite or PostgreSQL through the server's store
 * drivers (src/store/store.h: the generic query runner), created at start by the binary's own
 * versioned migrations (recorded in "tasks_migrations"; SQL in store.c; no gatehouse table). A
 * tasks_store is ONE gh_store connection and is not thread-safe: every thread that runs handlers
 * owns one (tasks_store_thread(), opened lazily, closed at thread exit). Every query is scoped by
 * userId: a row of another user is simply not found.
 *
 * Dates: int64 ms since the epoch (SQLite: ISO-8601 text with ms; PostgreSQL: timestamptz).
 * Errors: GH_ERR_NOT_FOUND (no such task for this user), GH_ERR_DB_UNAVAILABLE (cannot reach the
 * database: 503; the next call reconnects), GH_ERR_DB / GH_ERR_SCHEMA (other database error). */
#ifndef GH_TASKS_STORE_H
#define GH_TASKS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"
#include "store/store.h"

#define TASKS_ID_LEN 32

typedef struct {
  char *id;
  char *user_id;
  char *title;
  char *description; /* NULL when absent */
  bool completed;
  int64_t created_at, updated_at;
} tasks_task;

/* Which fields an update sets (PATCH: any subset; PUT: all). */
enum { TASKS_SET_TITLE = 1, TASKS_SET_DESCRIPTION = 2, TASKS_SET_COMPLETED = 4 };

typedef gh_store tasks_store;

/* url: "sqlite:PATH" (parent directory created), "sqlite::memory:" or "postgres://...". */
GH_MUST_CHECK gh_status tasks_store_open(const char *url, tasks_store **out);
void tasks_store_close(tasks_store *s);
/* Applies the pending migrations, each in one transaction. *applied (optional): how many. */
GH_MUST_CHECK gh_status tasks_store_migrate(tasks_store *s, int *applied);

/* Per-thread connection to the url given to tasks_store_thread_init(). */
void tasks_store_thread_init(const char *url);
GH_MUST_CHECK gh_status tasks_store_thread(tasks_store **out);
void tasks_store_thread_cleanup(void); /* frees the saved url */

/* The user's tasks (user_id NULL: every user's), newest first (createdAt desc, id desc),
 * limit/offset, and their total. */
GH_MUST_CHECK gh_status tasks_store_list(tasks_store *s, gh_arena *a, const char *user_id,
                                         long limit, long offset, tasks_task **out, size_t *n,
                                         long *total);
GH_MUST_CHECK gh_status tasks_store_get(tasks_store *s, gh_arena *a, const char *user_id,
                                        const char *id, tasks_task *out);
GH_MUST_CHECK gh_status tasks_store_insert(tasks_store *s, const tasks_task *t);
/* One statement: sets the fields in mask (from t) and updatedAt = t->updated_at on the task
 * (t->id, t->user_id); on GH_OK *out is the updated row. */
GH_MUST_CHECK gh_status tasks_store_update(tasks_store *s, gh_arena *a, const tasks_task *t,
                                           unsigned mask, tasks_task *out);
GH_MUST_CHECK gh_status tasks_store_delete(tasks_store *s, const char *user_id, const char *id);

#endif
