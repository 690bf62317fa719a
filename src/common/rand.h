/* CSPRNG-backed ids and tokens (libsodium randombytes). */
#ifndef GH_COMMON_RAND_H
#define GH_COMMON_RAND_H

#include <stddef.h>

void gh_rand_bytes(void *buf, size_t n);
/* better-auth generateId(n): n chars of [a-zA-Z0-9] (alphabet a-z A-Z 0-9), rejection-sampled.
 * out must hold n+1 bytes. */
void gh_rand_id(char *out, size_t n);

#endif
