/* One JSON object per line on stderr. Never pass secrets, tokens or passwords as values. */
#ifndef GH_COMMON_LOG_H
#define GH_COMMON_LOG_H

#include <stdbool.h>

typedef enum { GH_LOG_DEBUG, GH_LOG_INFO, GH_LOG_WARN, GH_LOG_ERROR } gh_log_level;

void gh_log_set_level(gh_log_level lvl);
/* "debug", "info", "warn" or "error" (a configuration value) → *out; false for anything else. */
bool gh_log_level_parse(const char *name, gh_log_level *out);
/* gh_log(GH_LOG_INFO, "sign_in.success", "user_id", id, "ip", ip, NULL): string key/value pairs,
 * terminated by NULL. A NULL value is written as JSON null. */
/* Lines of one event (same event name, levels debug, warn and error; info lines, the audit trail,
 * are always kept) beyond this many per second are dropped and counted;
 * the count is reported in one line {"event":"log.suppressed","suppressed_event":...,"count":...}
 * (level warn) written before the next line logged in a later second. 0 = no limit. */
#define GH_LOG_RATE_DEFAULT 20
void gh_log_set_rate(unsigned per_second);
void gh_log(gh_log_level lvl, const char *event, ...) __attribute__((sentinel));

#endif
