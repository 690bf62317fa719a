#include "plugins/jwt.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/db.h"
#include "auth/plugin.h"
#include "auth/sessions.h"
#include "auth/shapes.h"
#include "plugins/plugins.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/time.h"
#include "json/json.h"
#include "plugins/jwt_store.h"

#define KEYS_RELOAD_MS 60000 /* re-read the jwks table at least this often */

/* An immutable snapshot of the keys, shared by the request threads (reference counted). */
typedef struct {
  int refs;            /* guarded by gh_jwt.mu */
  int64_t loaded_at;   /* ms */
  int64_t valid_until; /* ms: reload when reached (next reload, or the signer's expiry) */
  char *jwks;          /* JSON document */
  size_t jwks_len;
  gh_jwk *signer;
  char *kid;
} keyset;

/* get-session's set-auth-jwt: a JWT signed for the same session and the same user state is reused
 * for a short while instead of signing on every call (signing + claims were 45% of get-session's
 * CPU). Direct-mapped, bounded (REUSE_SLOTS entries), lock-striped. */
#define REUSE_SLOTS 4096
#define REUSE_STRIPES 64
#define REUSE_MAX_MS 30000

typedef struct {
  uint8_t key[16]; /* BLAKE2b of session token, user id, user updatedAt */
  int64_t iat_ms;
  char *jwt; /* malloc'd */
} reuse_slot;

struct gh_jwt {
  gh_jwt_config cfg;
  char *issuer, *audience;
  pthread_mutex_t mu;
  keyset *cur;
  int64_t reuse_ms; /* 0 = sign every time */
  reuse_slot *slots;
  pthread_mutex_t stripes[REUSE_STRIPES];
};

static void keyset_free(keyset *k) {
  if (!k) return;
  free(k->jwks);
  free(k->kid);
  gh_jwk_free(k->signer);
  free(k);
}

gh_status gh_jwt_new(const gh_jwt_config *cfg, gh_jwt **out) {
  if (!cfg || !cfg->secrets || !cfg->issuer || !cfg->audience || !gh_jwa_name(cfg->alg))
    return GH_ERR_INVALID;
  gh_jwt *j = gh_xcalloc(1, sizeof *j);
  j->cfg = *cfg;
  j->issuer = gh_xstrdup(cfg->issuer);
  j->audience = gh_xstrdup(cfg->audience);
  j->cfg.issuer = j->issuer;
  j->cfg.audience = j->audience;
  pthread_mutex_init(&j->mu, NULL);
  /* Reuse at most a tenth of the lifetime, and never longer than a retired key stays published. */
  j->reuse_ms = cfg->expires_in * 100;
  if (j->reuse_ms > REUSE_MAX_MS) j->reuse_ms = REUSE_MAX_MS;
  if (j->reuse_ms > cfg->grace * 1000) j->reuse_ms = cfg->grace * 1000;
  j->slots = gh_xcalloc(REUSE_SLOTS, sizeof *j->slots);
  for (int i = 0; i < REUSE_STRIPES; i++) pthread_mutex_init(&j->stripes[i], NULL);
  *out = j;
  return GH_OK;
}

void gh_jwt_free(gh_jwt *j) {
  if (!j) return;
  keyset_free(j->cur);
  pthread_mutex_destroy(&j->mu);
  for (int i = 0; i < REUSE_SLOTS; i++) free(j->slots[i].jwt);
  free(j->slots);
  for (int i = 0; i < REUSE_STRIPES; i++) pthread_mutex_destroy(&j->stripes[i]);
  free(j->issuer);
  free(j->audience);
  free(j);
}

/* --- keys ---------------------------------------------------------------------------------- */

/* The algorithm a stored key signs with: the alg column, else derived from the public key. */
static gh_jwa row_alg(const gh_jwks_row *r, const gh_json *pub) {
  if (r->alg) return gh_jwa_parse(r->alg, strlen(r->alg));
  const char *kty = gh_json_string(gh_json_get(pub, "kty"));
  const char *crv = gh_json_string(gh_json_get(pub, "crv"));
  if (!kty) return GH_JWA_UNKNOWN;
  if (!strcmp(kty, "OKP") && crv && !strcmp(crv, "Ed25519")) return GH_JWA_EDDSA;
  if (!strcmp(kty, "EC") && crv && !strcmp(crv, "P-256")) return GH_JWA_ES256;
  if (!strcmp(kty, "EC") && crv && !strcmp(crv, "P-521")) return GH_JWA_ES512;
  if (!strcmp(kty, "RSA")) return GH_JWA_RS256; /* better-auth's RSA default */
  return GH_JWA_UNKNOWN;
}

static gh_status import_jwk(gh_jwa alg, const gh_json *o, gh_jwk **out) {
  gh_jwk_members m = {
      .kty = gh_json_string(gh_json_get(o, "kty")),
      .crv = gh_json_string(gh_json_get(o, "crv")),
      .x = gh_json_string(gh_json_get(o, "x")),
      .y = gh_json_string(gh_json_get(o, "y")),
      .n = gh_json_string(gh_json_get(o, "n")),
      .e = gh_json_string(gh_json_get(o, "e")),
      .d = gh_json_string(gh_json_get(o, "d")),
      .p = gh_json_string(gh_json_get(o, "p")),
      .q = gh_json_string(gh_json_get(o, "q")),
      .dp = gh_json_string(gh_json_get(o, "dp")),
      .dq = gh_json_string(gh_json_get(o, "dq")),
      .qi = gh_json_string(gh_json_get(o, "qi")),
  };
  return gh_jwk_import(alg, &m, out);
}

/* The private key of a row. The column holds the JSON-quoted ciphertext of the private JWK (or,
 * when better-auth ran with disablePrivateKeyEncryption, the plain JWK object). */
static gh_status load_private(gh_jwt *j, gh_arena *a, const gh_jwks_row *r, gh_jwa alg,
                              gh_jwk **out) {
  gh_json *col = NULL, *jwk = NULL;
  gh_status st = gh_json_parse(r->private_key, strlen(r->private_key), &col);
  if (st) return GH_ERR_CRYPTO;
  gh_json_own(a, col);
  if (gh_json_typeof(col) == GH_JSON_OBJECT) {
    jwk = col;
  } else if (gh_json_typeof(col) == GH_JSON_STRING) {
    uint8_t *pt;
    size_t n;
    st = gh_aead_decrypt(a, j->cfg.secrets, gh_json_string(col), &pt, &n);
    if (st) return GH_ERR_CRYPTO;
    st = gh_json_parse((const char *)pt, n, &jwk);
    memset(pt, 0, n);
    if (st) return GH_ERR_CRYPTO;
    gh_json_own(a, jwk);
  } else {
    return GH_ERR_CRYPTO;
  }
  st = import_jwk(alg, jwk, out);
  return st ? GH_ERR_CRYPTO : GH_OK;
}

static bool row_live(const gh_jwt *j, const gh_jwks_row *r, int64_t now) {
  if (r->has_expiry) return r->expires_at > now;
  return j->cfg.rotation <= 0 || r->created_at + j->cfg.rotation * 1000 > now;
}

static bool row_published(const gh_jwt *j, const gh_jwks_row *r, int64_t now) {
  return !r->has_expiry || r->expires_at + j->cfg.grace * 1000 > now;
}

/* Generates a key with the configured algorithm and stores it; retire_at > 0 retires the others. */
static gh_status create_key(gh_jwt *j, gh_store *st, gh_arena *a, int64_t now, int64_t retire_at,
                            char **kid) {
  gh_jwk *k = NULL;
  char *pub = NULL, *priv = NULL;
  gh_status rc = gh_jwk_generate(j->cfg.alg, &k);
  if (rc) goto done;
  pub = gh_jwk_to_json(k, false);
  priv = gh_jwk_to_json(k, true);
  if (!pub || !priv) gh_oom();
  char *ct = gh_aead_encrypt(a, j->cfg.secrets, priv, strlen(priv));
  if (!ct) {
    rc = GH_ERR_CRYPTO;
    goto done;
  }
  size_t qlen;
  gh_json *q = gh_json_str(ct);
  char *quoted = gh_json_dump(a, q, &qlen);
  gh_json_decref(q);
  char *id = gh_arena_alloc(a, 33);
  gh_rand_id(id, 32);
  gh_jwks_row row = {
      .id = id,
      .public_key = gh_arena_strdup(a, pub),
      .private_key = quoted,
      .alg = (char *)gh_jwa_name(j->cfg.alg),
      .crv = (char *)gh_jwa_crv(j->cfg.alg),
      .created_at = now,
      .has_expiry = j->cfg.rotation > 0,
      .expires_at = now + j->cfg.rotation * 1000,
  };
  rc = gh_jwt_store_insert(st, &row, retire_at);
  if (rc == GH_OK) {
    gh_log(GH_LOG_INFO, "jwks.key_created", "kid", row.id, "alg", row.alg, NULL);
    if (kid) *kid = row.id;
  }
done:
  if (priv) {
    memset(priv, 0, strlen(priv));
    free(priv);
  }
  free(pub);
  gh_jwk_free(k);
  return rc;
}

/* One published key as better-auth's /jwks writes it: alg, crv (when the column is set), the
 * stored public JWK members in order (a crv already written keeps its place), kid. */
static void jwks_entry(gh_json *keys, const gh_jwks_row *r, gh_json *pub, gh_jwa alg) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "alg", gh_json_str(r->alg ? r->alg : gh_jwa_name(alg)));
  if (r->crv) gh_json_set_new(o, "crv", gh_json_str(r->crv));
  for (void *it = gh_json_iter(pub); it; it = gh_json_iter_next(pub, it)) {
    const char *name = gh_json_iter_key(it);
    if (!strcmp(name, "alg") || !strcmp(name, "kid")) continue;
    gh_json_set_new(o, name, gh_json_incref(gh_json_iter_value(it)));
  }
  gh_json_set_new(o, "kid", gh_json_str(r->id));
  gh_json_append_new(keys, o);
}

/* Reads the table (creating a key when none is live) and builds a snapshot. */
static gh_status load_keys(gh_jwt *j, gh_store *st, int64_t now, keyset **out) {
  gh_arena *a = gh_arena_new();
  keyset *k = NULL;
  gh_jwks_row *rows;
  size_t n;
  gh_status rc = gh_jwt_store_list(st, a, &rows, &n);
  if (rc) goto done;
  const gh_jwks_row *signer = NULL;
  for (size_t i = n; i-- > 0;)
    if (row_live(j, &rows[i], now)) {
      signer = &rows[i];
      break;
    }
  if (!signer) {
    /* First key, or every key has expired (rotation): create one and retire the rest. */
    rc = create_key(j, st, a, now, n ? now : 0, NULL);
    if (rc) goto done;
    rc = gh_jwt_store_list(st, a, &rows, &n);
    if (rc) goto done;
    for (size_t i = n; i-- > 0;)
      if (row_live(j, &rows[i], now)) {
        signer = &rows[i];
        break;
      }
    if (!signer) {
      rc = GH_ERR_DB;
      goto done;
    }
  }
  k = gh_xcalloc(1, sizeof *k);
  gh_json *doc = gh_json_object(), *keys = gh_json_array();
  gh_json_set_new(doc, "keys", keys);
  gh_json_own(a, doc);
  for (size_t i = 0; i < n; i++) {
    const gh_jwks_row *r = &rows[i];
    gh_json *pub;
    if (gh_json_parse(r->public_key, strlen(r->public_key), &pub) != GH_OK) {
      gh_log(GH_LOG_WARN, "jwks.bad_row", "kid", r->id, "message", "publicKey is not JSON", NULL);
      continue;
    }
    gh_json_own(a, pub);
    gh_jwa alg = row_alg(r, pub);
    if (r == signer) {
      rc = load_private(j, a, r, alg, &k->signer);
      if (rc) {
        gh_log(GH_LOG_ERROR, "jwks.private_key", "kid", r->id, "message",
               "cannot decrypt or import the signing key (wrong secret?)", NULL);
        goto done;
      }
    }
    if (row_published(j, r, now) && gh_json_typeof(pub) == GH_JSON_OBJECT)
      jwks_entry(keys, r, pub, alg);
  }
  size_t len;
  char *text = gh_json_dump(a, doc, &len);
  k->jwks = gh_xmalloc(len + 1);
  memcpy(k->jwks, text, len + 1);
  k->jwks_len = len;
  k->kid = gh_xstrdup(signer->id);
  k->loaded_at = now;
  k->valid_until = now + KEYS_RELOAD_MS;
  int64_t signer_end = signer->has_expiry    ? signer->expires_at
                       : j->cfg.rotation > 0 ? signer->created_at + j->cfg.rotation * 1000
                                             : INT64_MAX;
  if (signer_end < k->valid_until) k->valid_until = signer_end;
  /* A retired key leaving the JWKS also ends the snapshot. */
  for (size_t i = 0; i < n; i++)
    if (rows[i].has_expiry && row_published(j, &rows[i], now) &&
        rows[i].expires_at + j->cfg.grace * 1000 < k->valid_until)
      k->valid_until = rows[i].expires_at + j->cfg.grace * 1000;
  *out = k;
  k = NULL;
done:
  keyset_free(k);
  gh_arena_free(a);
  return rc;
}

static gh_status acquire(gh_jwt *j, gh_store *st, int64_t now, keyset **out) {
  gh_status rc = GH_OK;
  pthread_mutex_lock(&j->mu);
  keyset *k = j->cur;
  if (!k || now >= k->valid_until || now < k->loaded_at) {
    keyset *fresh;
    rc = load_keys(j, st, now, &fresh);
    if (rc == GH_OK) {
      fresh->refs = 1; /* the cache's own reference */
      if (k && --k->refs == 0) keyset_free(k);
      j->cur = k = fresh;
    }
  }
  if (rc == GH_OK) k->refs++;
  pthread_mutex_unlock(&j->mu);
  *out = rc == GH_OK ? k : NULL;
  return rc;
}

static void release(gh_jwt *j, keyset *k) {
  pthread_mutex_lock(&j->mu);
  if (--k->refs == 0) keyset_free(k);
  pthread_mutex_unlock(&j->mu);
}

/* --- API ----------------------------------------------------------------------------------- */

gh_status gh_jwt_sign(gh_jwt *j, gh_store *st, gh_arena *a, const gh_json *user, const char *sub,
                      int64_t now_ms, char **token) {
  keyset *k;
  gh_status rc = acquire(j, st, now_ms, &k);
  if (rc) return rc;
  gh_json *hdr = gh_json_object();
  gh_json_set_new(hdr, "alg", gh_json_str(gh_jwa_name(gh_jwk_alg(k->signer))));
  gh_json_set_new(hdr, "kid", gh_json_str(k->kid));
  gh_json_own(a, hdr);
  int64_t iat = now_ms / 1000;
  gh_json *claims = gh_json_object();
  gh_json_own(a, claims);
  gh_json_set_new(claims, "iat", gh_json_int(iat));
  for (void *it = gh_json_iter((gh_json *)user); it; it = gh_json_iter_next((gh_json *)user, it))
    gh_json_set_new(claims, gh_json_iter_key(it), gh_json_incref(gh_json_iter_value(it)));
  gh_json_set_new(claims, "sub", gh_json_str(sub));
  gh_json_set_new(claims, "exp", gh_json_int(iat + j->cfg.expires_in));
  gh_json_set_new(claims, "iss", gh_json_str(j->issuer));
  gh_json_set_new(claims, "aud", gh_json_str(j->audience));
  size_t hl, pl;
  char *h = gh_json_dump(a, hdr, &hl);
  char *p = gh_json_dump(a, claims, &pl);
  char *t = NULL;
  rc = gh_jws_compact_sign(k->signer, h, hl, p, pl, &t);
  release(j, k);
  if (rc == GH_ERR_NOMEM) gh_oom();
  if (rc) return rc;
  *token = gh_arena_strdup(a, t);
  free(t);
  return GH_OK;
}

gh_status gh_jwt_jwks(gh_jwt *j, gh_store *st, gh_arena *a, int64_t now_ms, char **json,
                      size_t *len) {
  keyset *k;
  gh_status rc = acquire(j, st, now_ms, &k);
  if (rc) return rc;
  *json = gh_arena_strndup(a, k->jwks, k->jwks_len);
  *len = k->jwks_len;
  release(j, k);
  return GH_OK;
}

gh_status gh_jwt_rotate(gh_jwt *j, gh_store *st, gh_arena *a, int64_t now_ms, char **kid) {
  gh_status rc = create_key(j, st, a, now_ms, now_ms, kid);
  if (rc) return rc;
  /* The next request re-reads the table. */
  pthread_mutex_lock(&j->mu);
  if (j->cur) j->cur->valid_until = 0;
  pthread_mutex_unlock(&j->mu);
  return GH_OK;
}

/* A recent JWT for this session and user state, or a freshly signed one (then remembered). */
static gh_status session_jwt(gh_jwt *j, gh_store *st, gh_arena *a, const gh_sess *s, int64_t now,
                             char **token) {
  uint8_t key[16];
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, sizeof key);
  crypto_generichash_update(&h, (const uint8_t *)s->token, strlen(s->token) + 1);
  crypto_generichash_update(&h, (const uint8_t *)s->u.id, strlen(s->u.id) + 1);
  crypto_generichash_update(&h, (const uint8_t *)&s->u.updated_at, sizeof s->u.updated_at);
  crypto_generichash_final(&h, key, sizeof key);
  size_t idx = ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) % REUSE_SLOTS;
  reuse_slot *slot = &j->slots[idx];
  pthread_mutex_t *mu = &j->stripes[idx % REUSE_STRIPES];
  if (j->reuse_ms > 0) {
    pthread_mutex_lock(mu);
    if (slot->jwt && now >= slot->iat_ms && now - slot->iat_ms < j->reuse_ms &&
        sodium_memcmp(slot->key, key, sizeof key) == 0) {
      *token = gh_arena_strdup(a, slot->jwt);
      pthread_mutex_unlock(mu);
      return GH_OK;
    }
    pthread_mutex_unlock(mu);
  }
  gh_json *user = gh_json_own(a, gh_user_json(&s->u));
  gh_status rc = gh_jwt_sign(j, st, a, user, s->u.id, now, token);
  if (rc || j->reuse_ms <= 0) return rc;
  char *copy = gh_xstrdup(*token);
  pthread_mutex_lock(mu);
  char *old = slot->jwt;
  memcpy(slot->key, key, sizeof key);
  slot->iat_ms = now - now % 1000; /* iat has second resolution */
  slot->jwt = copy;
  pthread_mutex_unlock(mu);
  free(old);
  return GH_OK;
}

/* --- the plugin: options, routes, hooks, CLI ------------------------------------------------ */

typedef struct {
  char *alg;
  long expires_in;
  char *issuer;   /* "" = the base URL's origin */
  char *audience; /* "" = the base URL's origin */
  bool header;
  long rotation;
  long grace;
  long max_age;
} jwt_conf;

#define O(f) offsetof(jwt_conf, f)
static const gh_conf_opt OPTS[] = {
    {"GATEHOUSE_JWT_ALG", NULL, GH_CONF_STR, "EdDSA", 0, 0, 0, O(alg),
     "Algorithm of new JWT signing keys: EdDSA (Ed25519), ES256, ES512, RS256 or PS256"},
    {"GATEHOUSE_JWT_EXPIRES_IN", NULL, GH_CONF_INT, "900", 10, 86400, 0, O(expires_in),
     "Lifetime of JWTs from /token and set-auth-jwt, in seconds"},
    {"GATEHOUSE_JWT_ISSUER", NULL, GH_CONF_STR, "", 0, 0, 0, O(issuer),
     "JWT iss claim (empty = the base URL's origin)"},
    {"GATEHOUSE_JWT_AUDIENCE", NULL, GH_CONF_STR, "", 0, 0, 0, O(audience),
     "JWT aud claim (empty = the base URL's origin)"},
    {"GATEHOUSE_JWT_HEADER", NULL, GH_CONF_BOOL, "true", 0, 0, 0, O(header),
     "get-session answers with a set-auth-jwt header when signed in"},
    {"GATEHOUSE_JWKS_ROTATION_INTERVAL", NULL, GH_CONF_INT, "0", 0, 315360000, 0, O(rotation),
     "Seconds after which a signing key is replaced by a new one (0 = only `gatehouse keys "
     "rotate`)"},
    {"GATEHOUSE_JWKS_GRACE_PERIOD", NULL, GH_CONF_INT, "2592000", 0, 315360000, 0, O(grace),
     "Seconds a retired key stays in the JWKS so tokens it signed still verify (30 days)"},
    {"GATEHOUSE_JWKS_MAX_AGE", NULL, GH_CONF_INT, "300", 0, 86400, 0, O(max_age),
     "Cache-Control max-age of the JWKS document, in seconds"},
};
#undef O

static gh_status validate(const void *conf, const char **err) {
  const jwt_conf *c = conf;
  if (gh_jwa_parse(c->alg, strlen(c->alg)) == GH_JWA_UNKNOWN) {
    *err = "GATEHOUSE_JWT_ALG: expected EdDSA, ES256, ES512, RS256 or PS256";
    return GH_ERR_CONFIG;
  }
  if (c->rotation > 0 && c->rotation < 60) {
    *err = "GATEHOUSE_JWKS_ROTATION_INTERVAL: expected 0 or at least 60 seconds";
    return GH_ERR_CONFIG;
  }
  return GH_OK;
}

typedef struct {
  gh_auth *au;
  gh_jwt *jwt;
  bool header;
  int64_t max_age;
  int64_t grace;
  const char *alg_name;
} jwt_plugin;

static gh_status init(gh_auth *au, const void *conf, void **self) {
  const jwt_conf *c = conf;
  jwt_plugin *p = gh_xcalloc(1, sizeof *p);
  gh_jwt_config jc = {
      .alg = gh_jwa_parse(c->alg, strlen(c->alg)),
      .expires_in = c->expires_in,
      .issuer = *c->issuer ? c->issuer : gh_auth_base_origin(au),
      .audience = *c->audience ? c->audience : gh_auth_base_origin(au),
      .rotation = c->rotation,
      .grace = c->grace,
      .secrets = gh_auth_secrets(au),
  };
  if (gh_jwt_new(&jc, &p->jwt) != GH_OK) {
    free(p);
    return GH_ERR_CONFIG;
  }
  p->au = au;
  p->header = c->header;
  p->max_age = c->max_age;
  p->grace = c->grace;
  p->alg_name = gh_jwa_name(jc.alg);
  *self = p;
  return GH_OK;
}

static void plugin_free(void *self) {
  jwt_plugin *p = self;
  if (!p) return;
  gh_jwt_free(p->jwt);
  free(p);
}

/* GET /jwks and /.well-known/jwks.json */
static void route_jwks(void *self, gh_req *req, gh_resp *resp) {
  (void)req;
  jwt_plugin *p = self;
  gh_store *st = gh_auth_store(resp);
  if (!st) return;
  char *json;
  size_t len;
  gh_status rc = gh_jwt_jwks(p->jwt, st, resp->arena, gh_now_ms(), &json, &len);
  if (rc) {
    gh_auth_db_error(resp, rc, "jwks");
    return;
  }
  if (p->max_age > 0)
    gh_resp_header(resp, "Cache-Control",
                   gh_arena_printf(resp->arena, "public, max-age=%lld", (long long)p->max_age));
  else
    gh_resp_header(resp, "Cache-Control", "no-cache");
  gh_resp_raw_json(resp, 200, json);
}

/* GET /token: a new JWT for the session. */
static void route_token(void *self, gh_req *req, gh_resp *resp) {
  jwt_plugin *p = self;
  gh_store *st;
  gh_sess s;
  if (!gh_protected(p->au, req, resp, false, &st, &s)) return;
  char *token;
  gh_json *user = gh_json_own(resp->arena, gh_user_json(&s.u));
  gh_status rc = gh_jwt_sign(p->jwt, st, resp->arena, user, s.u.id, gh_now_ms(), &token);
  if (rc) {
    gh_auth_db_error(resp, rc, "jwt_sign");
    return;
  }
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "token", gh_json_str(token));
  gh_resp_json(resp, 200, o);
}

/* get-session's set-auth-jwt + Access-Control-Expose-Headers. */
static void session_returned(void *self, gh_store *st, gh_req *req, gh_resp *resp,
                             const gh_sess *s) {
  (void)req;
  jwt_plugin *p = self;
  if (!p->header) return;
  char *token;
  gh_status rc = session_jwt(p->jwt, st, resp->arena, s, gh_now_ms(), &token);
  if (rc) {
    gh_log(GH_LOG_WARN, "jwt.header_failed", "error", gh_status_str(rc), NULL);
    return;
  }
  gh_resp_header(resp, "set-auth-jwt", token);
  gh_resp_header(resp, "Access-Control-Expose-Headers", "set-auth-jwt");
}

/* gatehouse keys rotate | keys list */
static int cmd_keys(void *self, gh_store *st, int argc, char **argv) {
  jwt_plugin *p = self;
  if (argc < 1 || (strcmp(argv[0], "rotate") && strcmp(argv[0], "list"))) {
    fprintf(stderr, "usage: gatehouse keys rotate|list\n");
    return 2;
  }
  gh_arena *a = gh_arena_new();
  int ret = 1;
  if (!strcmp(argv[0], "rotate")) {
    char *kid;
    gh_status rc = gh_jwt_rotate(p->jwt, st, a, gh_now_ms(), &kid);
    if (rc != GH_OK) {
      fprintf(stderr, "gatehouse: cannot create the new key: %s\n", gh_status_str(rc));
      goto out;
    }
    gh_audit(p->au, NULL, "key.rotated", NULL, "kid", kid, "alg", p->alg_name);
    printf("new signing key %s (%s); previous keys stay in the JWKS for %lld s\n", kid, p->alg_name,
           (long long)p->grace);
  } else {
    char *json;
    size_t len;
    gh_status rc = gh_jwt_jwks(p->jwt, st, a, gh_now_ms(), &json, &len);
    if (rc != GH_OK) {
      fprintf(stderr, "gatehouse: cannot read the keys: %s\n", gh_status_str(rc));
      goto out;
    }
    printf("%s\n", json);
  }
  ret = 0;
out:
  gh_arena_free(a);
  return ret;
}

#define P "/api/auth"
static const gh_route ROUTES[] = {
    {"GET", P "/jwks", route_jwks, 0, NULL},
    {"GET", "/.well-known/jwks.json", route_jwks, 0, NULL},
    {"GET", P "/token", route_token, 0, NULL},
};

static const gh_plugin_command COMMANDS[] = {
    {"keys",
     "  keys rotate              new JWT signing key; the old ones stay published for the\n"
     "                           grace period (GATEHOUSE_JWKS_GRACE_PERIOD)\n"
     "  keys list                print the published JWKS\n",
     cmd_keys},
};

/* better-auth's jwt plugin table, as its migrator creates it. */
static const gh_store_migration MIGRATIONS[] = {
    {"jwt/001_jwks",
     "create table if not exists \"jwks\" (\"id\" text not null primary key, \"publicKey\" text "
     "not null, \"privateKey\" text not null, \"createdAt\" date not null, \"expiresAt\" date, "
     "\"alg\" text, \"crv\" text);",
     "create table if not exists \"jwks\" (\"id\" text not null primary key, \"publicKey\" text "
     "not null, \"privateKey\" text not null, \"createdAt\" timestamptz not null, \"expiresAt\" "
     "timestamptz, \"alg\" text, \"crv\" text);"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
const gh_plugin gh_plugin_jwt = {
    .id = "jwt",
    .summary = "short-lived JWTs: `GET /api/auth/token`, the `set-auth-jwt` header of "
               "get-session, the JWKS at `/api/auth/jwks` and `/.well-known/jwks.json`, "
               "`gatehouse keys rotate|list`",
    .opts = OPTS,
    .nopts = N(OPTS),
    .conf_size = sizeof(jwt_conf),
    .validate = validate,
    .init = init,
    .free = plugin_free,
    .routes = ROUTES,
    .nroutes = N(ROUTES),
    .migrations = MIGRATIONS,
    .nmigrations = N(MIGRATIONS),
    .commands = COMMANDS,
    .ncommands = N(COMMANDS),
    .session_returned = session_returned,
};
