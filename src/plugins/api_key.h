/* The api-key plugin's key format and hashing (better-auth's @better-auth/api-key), exported for
 * the unit test against the plugin's golden vectors. */
#ifndef GH_PLUGINS_API_KEY_H
#define GH_PLUGINS_API_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define GH_API_KEY_HASH_LEN 43 /* base64url without padding of a SHA-256 digest */
#define GH_API_KEY_START_LEN 6 /* startingCharactersConfig.charactersLength */
#define GH_API_KEY_MAX_PREFIX 32

/* The stored form of a key: base64url-nopad(SHA-256(key's UTF-8 bytes)). out: 44 bytes. */
void gh_api_key_hash(const char *key, size_t len, char out[GH_API_KEY_HASH_LEN + 1]);
/* A new key: prefix (may be NULL/empty) + len random letters [a-zA-Z] (CSPRNG, no modulo bias),
 * as the plugin's defaultKeyGenerator. malloc'd; wipe and free it. */
char *gh_api_key_generate(const char *prefix, size_t len);
/* The start column: the first 6 characters of the full key (prefix included), into out (7 bytes).
 */
void gh_api_key_start(const char *key, char out[GH_API_KEY_START_LEN + 1]);
/* The prefix rule of create's schema: [A-Za-z0-9_-]+ */
bool gh_api_key_prefix_valid(const char *prefix);

#endif
