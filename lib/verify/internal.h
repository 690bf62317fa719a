/* libgatehouse-verify internals: the verifier object, the JWKS key cache, the HTTP client and
 * the delegation micro-cache. Everything here is hidden (-fvisibility=hidden); only ghv_* in
 * include/gatehouse/verify.h is exported. Nothing here aborts: allocation failures come back as
 * GHV_ERR_NOMEM. */
#ifndef GHV_INTERNAL_H
#define GHV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "gatehouse/verify.h"
#include "jose/jose.h"

#define GHV_MUST_CHECK __attribute__((warn_unused_result))

/* Hard limits that are not configurable. */
#define GHV_SESSION_MAX_BYTES (64 * 1024) /* get-session response body */
#define GHV_COOKIE_MAX_BYTES (16 * 1024)  /* forwarded Cookie header */
#define GHV_JWKS_MAX_KEYS 64              /* usable keys kept from one JWKS */
#define GHV_SESSION_CACHE_SLOTS 1024      /* delegation micro-cache entries (direct-mapped) */
#define GHV_NOKEYS_RETRY_MS 1000          /* no JWKS yet and the last fetch failed: retry after */
#define GHV_SIG_CACHE_SLOTS 4096          /* default verified-signature cache entries */
#define GHV_SIG_CACHE_MAX (1u << 20)      /* upper bound of signature_cache_entries */
#define GHV_SIG_LOCKS 16                  /* locks striping the verified-signature cache */
#define GHV_HDR_MEMO_SLOTS 16             /* distinct JWS headers remembered (ghv_hdr_memo) */
#define GHV_HDR_MEMO_MAX 256              /* longest encoded header (and kid) remembered */
#define GHV_SPLIT_STACK_BYTES 4096        /* decoded token parts kept on the stack up to this */

/* A JWS header that a verified token carried: its exact base64url text and what ghv_verify_jwt
 * took from it (the alg, the kid). Immutable once published; freed by ghv_free. */
struct ghv_hdr_memo {
  size_t enc_len;
  gh_jwa alg;
  const char *kid; /* into enc[] after the header text; NULL: the header had no kid */
  size_t kid_len;
  char enc[]; /* enc_len bytes of header, then kid_len bytes of kid, then a NUL */
};

/* One usable verification key: its kid (NULL when the JWK had none) and the key, which only
 * verifies with its pinned algorithm (gh_jwk_alg). */
typedef struct {
  char *kid;
  size_t kid_len;
  gh_jwk *key;
} ghv_key;

/* An immutable set of keys, reference-counted so that a verification in progress keeps the set
 * it started with while another thread installs a newer one. */
typedef struct {
  atomic_int refs;
  uint64_t serial; /* unique per parsed JWKS: signature-cache entries name the set they used */
  size_t n;
  ghv_key keys[];
} ghv_keyset;

/* Parses a JWKS document (duplicate members rejected). GHV_ERR_MALFORMED when it is not JSON or
 * has no "keys" array; unusable keys are skipped; GHV_ERR_NOMEM. The result has refs = 1. */
GHV_MUST_CHECK ghv_status ghv_internal_jwks_parse(const char *json, size_t len, ghv_keyset **out);
void ghv_internal_keyset_release(ghv_keyset *ks); /* NULL is a no-op */

/* Result of one outbound GET. */
typedef struct {
  long status; /* HTTP status, 0 when no response was received */
  char *body;  /* NUL-terminated, malloc'd (may be NULL when empty) */
  size_t len;
  long max_age_s; /* Cache-Control max-age (smallest seen), -1 when absent */
  bool no_cache;  /* Cache-Control no-store / no-cache */
} ghv_http_response;

/* GET url with the extra request headers (NULL-terminated list, may be NULL). GHV_OK when a
 * response (any status) was received within max_bytes; GHV_ERR_UNAVAILABLE on connection
 * failure, timeout, a body over max_bytes or any transfer error; GHV_ERR_NOMEM. */
GHV_MUST_CHECK ghv_status ghv_internal_http_get(ghv_verifier *v, const char *url,
                                                const char *const *headers, size_t max_bytes,
                                                ghv_http_response *out);
/* The same as a POST of body[0..len) (the caller adds its Content-Type header). */
GHV_MUST_CHECK ghv_status ghv_internal_http_post(ghv_verifier *v, const char *url,
                                                 const char *const *headers, const char *body,
                                                 size_t len, size_t max_bytes,
                                                 ghv_http_response *out);
void ghv_internal_http_response_free(ghv_http_response *r);
/* API-key verification state (apikey.c); NULL until ghv_apikey_configure. */
struct ghv_apikey_state;
void ghv_internal_apikey_free(ghv_verifier *v);

/* Delegation micro-cache entry (direct-mapped by the SHA-256 of the credentials). */
typedef struct {
  bool used;
  uint8_t key[32];
  int64_t deadline_ms; /* monotonic */
  ghv_principal p;
} ghv_session_slot;

struct ghv_verifier {
  /* configuration (owned copies) */
  char *jwks_url;          /* NULL: JWKS only via ghv_set_jwks */
  char *session_url;       /* NULL: no delegation */
  char *expected_issuer;   /* NULL: ghv_verify_jwt answers GHV_ERR_ARG */
  char *expected_audience; /* NULL: ghv_verify_jwt answers GHV_ERR_ARG */
  long leeway_s;
  long jwks_max_age_s;
  long jwks_default_ttl_s;
  long jwks_min_refetch_s;
  long http_timeout_ms;
  size_t max_token_bytes;
  size_t max_jwks_bytes;
  long session_cache_ttl_s;
  bool allow_missing_kid;

  /* JWKS cache, guarded by mu; cv signals the end of a fetch */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ghv_keyset *ks;          /* current keys; NULL until the first good fetch */
  bool ks_static;          /* installed by ghv_set_jwks: never expires, never refetched */
  bool fetching;           /* one fetch at a time */
  bool last_failed;        /* the last fetch attempt failed */
  int64_t fresh_until_ms;  /* monotonic: the keys are stale from then on */
  int64_t last_attempt_ms; /* monotonic start of the last fetch attempt; INT64_MIN: never */
  uint64_t generation;     /* bumped when a fetch attempt ends */

  /* libcurl share object (DNS cache only: libcurl does not support sharing connections between
   * concurrent threads) and its locks */
  CURLSH *share;
  pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

  /* One persistent easy handle per calling thread, so each thread keeps its keep-alive connections
   * to gatehouse: created on first use, freed when the thread exits or by ghv_free. All of them are
   * listed under easy_mu. */
  pthread_key_t easy_key;
  pthread_mutex_t easy_mu;
  struct ghv_easy *easies;

  /* Verified-signature cache: SHA-256 of tokens whose signature verified under key set
   * `serial`. A resource server sees the same JWT on every request of its client for up to 15
   * minutes; a hit skips only the signature check (header, kid, alg and every claim are checked
   * each time). Slot i is guarded by sig_mu[i % GHV_SIG_LOCKS]: threads verifying different
   * tokens rarely meet on one lock. */
  pthread_mutex_t sig_mu[GHV_SIG_LOCKS];
  size_t sig_slots; /* 0: off */
  struct ghv_sig_slot {
    uint8_t hash[32];
    uint64_t serial; /* 0: empty */
  } * sig_cache;

  /* SHA-256 for the signature cache, fetched once (a fetch per call takes a global lock). */
  EVP_MD *sha256;

  /* Header memo: the headers of verified tokens, so that the next token with byte-identical
   * header text (every token of one issuer key) skips its decode into JSON. Slots are filled in
   * order, each at most once (compare-and-swap from NULL), and read without a lock. Only a token
   * whose signature and claims verified adds an entry, so only the issuer's headers get in. */
  _Atomic(struct ghv_hdr_memo *) hdr_memo[GHV_HDR_MEMO_SLOTS];

  /* delegation micro-cache (NULL when session_cache_ttl_s == 0), guarded by cache_mu */
  pthread_mutex_t cache_mu;
  ghv_session_slot *cache;
  /* API keys through gatehouse's /api-key/verify (apikey.c) */
  struct ghv_apikey_state *apikey;
};

/* A thread's easy handle (see ghv_verifier.easy_key). */
struct ghv_easy {
  ghv_verifier *v;
  CURL *h;
  struct ghv_easy *prev, *next;
};

/* The calling thread's easy handle (reset, connections kept); NULL on allocation failure. */
CURL *ghv_internal_easy(ghv_verifier *v);
/* Frees every thread's handle (ghv_free, after the key is deleted). */
void ghv_internal_easy_free_all(ghv_verifier *v);
/* The key's destructor: a thread that used the verifier exits. */
void ghv_internal_easy_thread_exit(void *e);

/* Monotonic clock in milliseconds. */
int64_t ghv_internal_now_ms(void);
/* strdup that returns NULL on failure (and for NULL input). */
char *ghv_internal_strndup(const char *s, size_t n);
/* Deep copy of a principal. GHV_ERR_NOMEM (dst cleared) on failure. */
GHV_MUST_CHECK ghv_status ghv_internal_principal_copy(ghv_principal *dst, const ghv_principal *src);
/* Parses an ISO-8601 date-time ("2026-01-02T03:04:05.678Z", "+hh:mm" offsets, optional fraction)
 * into unix seconds (fraction truncated). false when it is not one. */
bool ghv_internal_iso8601(const char *s, size_t n, int64_t *out);

/* What ghv_verify_jwt takes from the claims (claims.c): the top-level members it checks. */
typedef enum { GHV_CLAIM_ABSENT = 0, GHV_CLAIM_NUMBER, GHV_CLAIM_OTHER } ghv_claim_kind;
typedef struct {
  char *sub, *email, *name, *role, *jti; /* malloc'd copies of those that are strings */
  size_t sub_len;
  ghv_claim_kind exp_kind, nbf_kind, iat_kind; /* a finite number, absent, or anything else */
  double exp, nbf, iat;
  bool iss_ok;         /* "iss" is a string equal to expected_issuer */
  bool aud_ok;         /* "aud" is that string for expected_audience, or an array holding it */
  bool email_verified; /* "emailVerified" is true */
} ghv_claims;

/* Reads the claims JSON: GHV_OK (clear it after), GHV_ERR_MALFORMED when it is not a JSON object
 * without duplicate members (jansson's JSON_REJECT_DUPLICATES reading), GHV_ERR_NOMEM. The yajl
 * fast path first, jansson whenever the fast path does not accept. */
GHV_MUST_CHECK ghv_status ghv_internal_claims_read(ghv_verifier *v, const char *json, size_t len,
                                                   ghv_claims *out);
/* The two readings on their own (for the tests): the jansson one is the reference; the fast one
 * answers GHV_OK only where jansson gives the same result, else GHV_ERR_MALFORMED (undecided)
 * or GHV_ERR_NOMEM. */
GHV_MUST_CHECK ghv_status ghv_internal_claims_read_jansson(ghv_verifier *v, const char *json,
                                                           size_t len, ghv_claims *out);
GHV_MUST_CHECK ghv_status ghv_internal_claims_read_fast(ghv_verifier *v, const char *json,
                                                        size_t len, ghv_claims *out);
void ghv_internal_claims_clear(ghv_claims *c);

/* Gets a reference to the key set to verify a token with the given kid (kid NULL: the header had
 * none) and pinned algorithm, fetching or refetching the JWKS per the cache rules. GHV_OK with *out
 * set (release it) even when the kid is not in it; GHV_ERR_UNAVAILABLE when no JWKS could ever be
 * had; GHV_ERR_ARG when there is no source of keys. */
GHV_MUST_CHECK ghv_status ghv_internal_keys_acquire(ghv_verifier *v, const char *kid,
                                                    size_t kid_len, gh_jwa alg, ghv_keyset **out);

#endif
