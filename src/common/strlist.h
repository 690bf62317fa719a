/* Comma-separated lists in configuration values ("a, b,c"): items trimmed of spaces and tabs. */
#ifndef GH_COMMON_STRLIST_H
#define GH_COMMON_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

/* Upper bound of the number of items in list (commas + 1). */
size_t gh_list_count(const char *list);
/* The next item of the list at *cursor, advancing it: false at the end. *item points into the
 * list, *len is its trimmed length (0 for an empty item, as in "a,,b"). */
bool gh_list_next(const char **cursor, const char **item, size_t *len);

#endif
