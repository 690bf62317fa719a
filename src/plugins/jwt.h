/* better-auth jwt plugin (spec §7.1; descriptor gh_plugin_jwt in plugins/plugins.h): signing keys
 * in the "jwks" table (private JWK encrypted with the server secret, JSON-quoted, exactly as
 * better-auth stores it), GET /jwks and
 * /.well-known/jwks.json, GET /token, and the set-auth-jwt header of get-session.
 *
 * Keys are cached in memory and re-read from the database every KEYS_RELOAD_S seconds (so that
 * several instances, and `gatehouse keys rotate`, converge); the newest live key signs. */
#ifndef GH_PLUGINS_JWT_H
#define GH_PLUGINS_JWT_H

#include <stdbool.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/status.h"
#include "crypto/aead.h"
#include "jose/jose.h"
#include "json/json.h"
#include "store/store.h"

typedef struct {
  gh_jwa alg;                /* algorithm of keys this server creates */
  int64_t expires_in;        /* s, JWT lifetime (900) */
  const char *issuer;        /* iss claim */
  const char *audience;      /* aud claim */
  int64_t rotation;          /* s, 0 = no automatic rotation */
  int64_t grace;             /* s a retired key stays published */
  const gh_secrets *secrets; /* encrypts/decrypts private keys (borrowed, must outlive gh_jwt) */
} gh_jwt_config;

typedef struct gh_jwt gh_jwt;

GH_MUST_CHECK gh_status gh_jwt_new(const gh_jwt_config *cfg, gh_jwt **out);
void gh_jwt_free(gh_jwt *j);

/* Signs a JWT: header {alg, kid}, claims iat, every member of user (the user object as
 * get-session returns it, in order), sub, exp, iss, aud. Creates the first key when the table is
 * empty. Token on the arena. */
GH_MUST_CHECK gh_status gh_jwt_sign(gh_jwt *j, gh_store *st, gh_arena *a, const gh_json *user,
                                    const char *sub, int64_t now_ms, char **token);
/* The JWKS document ({"keys":[...]}) of every key not retired longer than the grace period. */
GH_MUST_CHECK gh_status gh_jwt_jwks(gh_jwt *j, gh_store *st, gh_arena *a, int64_t now_ms,
                                    char **json, size_t *len);
/* Creates a new signing key and retires the current ones (they stay published for the grace
 * period). *kid (optional) receives the new key id on the arena. */
GH_MUST_CHECK gh_status gh_jwt_rotate(gh_jwt *j, gh_store *st, gh_arena *a, int64_t now_ms,
                                      char **kid);

#endif
