/* Versioned SQL migrations, embedded at build time from migrations/<backend>/NNN_name.sql. */
#ifndef GH_STORE_MIGRATIONS_H
#define GH_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct {
  const char *name; /* file name without .sql, e.g. "001_core"; ordered by name */
  const char *sql;  /* may hold several statements */
} gh_migration;

extern const gh_migration gh_migrations_sqlite[];
extern const size_t gh_migrations_sqlite_n;
extern const gh_migration gh_migrations_postgres[];
extern const size_t gh_migrations_postgres_n;

#endif
