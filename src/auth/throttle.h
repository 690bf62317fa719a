/* Credential-stuffing throttle for sign-in (GATEHOUSE_SIGNIN_THROTTLE): failures counted per
 * (client address, account) and per client address; past a few free failures each further attempt
 * must wait a delay that doubles with every failure (1 s, 2 s, 4 s ... at most 15 min) after the
 * last one. Never a lock of the account itself: another client (the owner) signs in as before, and
 * a success resets the pair. Counters are forgotten 15 min after a client's last failure. */
#ifndef GH_AUTH_THROTTLE_H
#define GH_AUTH_THROTTLE_H

#include <stdint.h>

typedef struct gh_throttle gh_throttle;

gh_throttle *gh_throttle_new(void);
void gh_throttle_free(gh_throttle *t);
/* 0 = may try now; else seconds to wait. */
long gh_throttle_check(gh_throttle *t, const char *client, const char *account, int64_t now_ms);
void gh_throttle_failed(gh_throttle *t, const char *client, const char *account, int64_t now_ms);
void gh_throttle_succeeded(gh_throttle *t, const char *client, const char *account);

#endif
