/* Per-request bump allocator with cleanup callbacks: one release point per request.
 * Allocation failure aborts the server with a log line (design.md §4). */
#ifndef GH_COMMON_ARENA_H
#define GH_COMMON_ARENA_H

#include <stddef.h>

typedef struct gh_arena gh_arena;

gh_arena *gh_arena_new(void);
/* Runs the registered cleanups (last registered first), then frees every block. NULL is a no-op. */
void gh_arena_free(gh_arena *a);
void *gh_arena_alloc(gh_arena *a, size_t n);       /* zeroed, 16-byte aligned */
char *gh_arena_strdup(gh_arena *a, const char *s); /* NULL -> NULL */
char *gh_arena_strndup(gh_arena *a, const char *s, size_t n);
char *gh_arena_printf(gh_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(p) to run when the arena is freed (for json values, PGresults, keys...). */
void gh_arena_defer(gh_arena *a, void (*fn)(void *), void *p);

/* Abort on out-of-memory with a log line; used by the server's allocation wrappers. */
_Noreturn void gh_oom(void);
void *gh_xmalloc(size_t n);
void *gh_xcalloc(size_t n, size_t sz);
char *gh_xstrdup(const char *s);

#endif
