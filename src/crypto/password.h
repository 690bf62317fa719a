/* better-auth password hashing: scrypt(N=16384, r=16, p=1, dkLen=64) over the NFKC-normalised
 * UTF-8 password, salted with the 32-char lower-case hex STRING of 16 random bytes (its ASCII
 * bytes are the salt). Stored as "<salt hex>:<key hex>" (32 + 1 + 128 chars). */
#ifndef GH_CRYPTO_PASSWORD_H
#define GH_CRYPTO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include "common/status.h"

#define GH_PASSWORD_HASH_LEN 161

/* out receives GH_PASSWORD_HASH_LEN chars + NUL. Slow (~100 ms, 32 MiB): worker threads only. */
GH_MUST_CHECK gh_status gh_password_hash(const char *password, size_t len,
                                         char out[GH_PASSWORD_HASH_LEN + 1]);
/* *ok = whether password matches stored. GH_ERR_INVALID when stored is not "salt:hash". */
GH_MUST_CHECK gh_status gh_password_verify(const char *password, size_t len, const char *stored,
                                           bool *ok);
/* Spends the same time as a verify, for unknown accounts (timing must not reveal them). */
void gh_password_dummy_verify(const char *password, size_t len);
/* NFKC normalisation (libunistring). Returns a malloc'd NUL-terminated string or NULL when the
 * input is not valid UTF-8. The caller wipes and frees it. */
/* Makes OpenSSL reuse scrypt's 32 MiB work areas between hashes instead of mapping fresh ones
 * (call first thing in main(), before OpenSSL allocates anything); gh_password_release_memory()
 * unmaps the areas not in use (call when hashing goes idle). */
void gh_password_tune_allocator(void);
void gh_password_release_memory(void);
/* Work areas currently mapped (in use or kept for reuse). */
int gh_password_work_areas(void);
char *gh_nfkc(const char *s, size_t len, size_t *out_len);

#endif
