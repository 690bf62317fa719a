/* Wall-clock time in milliseconds and ISO-8601 with milliseconds (JS toISOString()). */
#ifndef GH_COMMON_TIME_H
#define GH_COMMON_TIME_H

#include <stdint.h>
#include "common/status.h"

#define GH_ISO_LEN 25 /* "2026-11-23T07:36:35.456Z" + NUL */

int64_t gh_now_ms(void);
/* Test hook: when non-zero, gh_now_ms() returns this value. */
void gh_time_set_fixed(int64_t ms);
/* Formats ms since the epoch as YYYY-MM-DDTHH:MM:SS.mmmZ (always UTC). */
void gh_iso8601(int64_t ms, char out[GH_ISO_LEN]);
/* Parses ISO-8601 as written by JS or PostgreSQL: "2026-11-23T07:36:35.456Z",
 * "2026-11-23 07:36:35.456+00", with or without fraction, 'T' or ' ', Z or +hh[:mm]/-hh[:mm].
 * Fractions beyond milliseconds are truncated. */
GH_MUST_CHECK gh_status gh_iso8601_parse(const char *s, int64_t *ms);

#endif
