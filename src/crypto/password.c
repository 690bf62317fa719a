/* better-auth password hashing (BA/crypto/password.ts): scrypt N=16384 r=16 p=1 dkLen=64 over
 * NFKC(password), salt = the ASCII bytes of a 32-char lower-case hex string. */
#include "crypto/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <uninorm.h>
#include <unistr.h>
#include "common/encoding.h"

#define SCRYPT_N 16384
#define SCRYPT_R 16
#define SCRYPT_P 1
#define KEY_LEN 64
#define SCRYPT_MAXMEM (64ull << 20) /* the work area is 128 * r * (N + 2) + 128 * r * p bytes */
#define SALT_BYTES 16
#define SALT_HEX_LEN (2 * SALT_BYTES)
#define KEY_HEX_LEN (2 * KEY_LEN)

/* Any fixed salt of the usual shape: the dummy run must cost exactly what a real verify costs. */
static const char DUMMY_SALT[] = "67617465686f7573652d64756d6d7900";

char *gh_nfkc(const char *s, size_t len, size_t *out_len) {
  static const char empty[1] = {0};
  if (out_len) *out_len = 0;
  if (!s) {
    if (len) return NULL;
    s = empty;
  }
  if (u8_check((const uint8_t *)s, len) != NULL) return NULL; /* invalid UTF-8 */
  size_t n = 0;
  uint8_t *norm = u8_normalize(UNINORM_NFKC, (const uint8_t *)s, len, NULL, &n);
  if (!norm) return NULL;
  char *out = malloc(n + 1);
  if (out) {
    memcpy(out, norm, n);
    out[n] = 0;
    if (out_len) *out_len = n;
  }
  sodium_memzero(norm, n);
  free(norm);
  return out;
}

/* scrypt(password, salt) -> key; 0 on success. */
/* scrypt through OpenSSL (EVP_PBE_scrypt), whose 32 MiB work area comes from OPENSSL_malloc.
 * With gh_password_tune_allocator() those areas are kept and handed out again, so a hashing
 * thread does not map, fault in and unmap 8192 fresh pages per hash as libsodium does (on a VM
 * that made every hash ~60 % slower and kept two workers from scaling). Returns 0 on success. */
static int derive(const char *pw, size_t pw_len, const char *salt, size_t salt_len,
                  uint8_t key[KEY_LEN]) {
  return EVP_PBE_scrypt(pw_len ? pw : "", pw_len, (const unsigned char *)(salt_len ? salt : ""),
                        salt_len, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_MAXMEM, key, KEY_LEN) == 1
             ? 0
             : -1;
}

/* --- reuse of scrypt work areas ------------------------------------------------------------ */

/* OpenSSL allocations of at least BIG_MIN bytes (only scrypt's work area is that big) are served
 * from a few cached mappings. OpenSSL wipes the area (OPENSSL_clear_free) before freeing it. */
#define BIG_MIN ((size_t)16 << 20)
#define BIG_SLOTS 16 /* more concurrent hashes than this use ordinary allocations */

static struct {
  _Atomic(void *) p; /* written under big_mu; read without it by big_slot's membership test */
  size_t n;
  bool used;
} big[BIG_SLOTS];
static pthread_mutex_t big_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int big_live; /* mappings in big[]: 0 lets big_slot skip the scan */

static void *big_malloc(size_t n, const char *file, int line) {
  (void)file, (void)line;
  if (n < BIG_MIN) return malloc(n);
  void *p = NULL;
  int empty = -1;
  pthread_mutex_lock(&big_mu);
  for (int i = 0; i < BIG_SLOTS && !p; i++) {
    void *q = atomic_load(&big[i].p);
    if (!q && empty < 0) empty = i;
    if (q && !big[i].used && big[i].n == n) {
      big[i].used = true;
      p = q;
    }
  }
  if (!p && empty >= 0) {
    void *q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q != MAP_FAILED) {
      big[empty].n = n;
      big[empty].used = true;
      atomic_store(&big[empty].p, q);
      atomic_fetch_add(&big_live, 1);
      p = q;
    }
  }
  pthread_mutex_unlock(&big_mu);
  return p ? p : malloc(n); /* every slot busy: an ordinary allocation */
}

static int big_slot(const void *p) {
  if (!p || atomic_load_explicit(&big_live, memory_order_relaxed) == 0) return -1;
  for (int i = 0; i < BIG_SLOTS; i++)
    if (atomic_load_explicit(&big[i].p, memory_order_relaxed) == p) return i;
  return -1;
}

static void big_free(void *p, const char *file, int line) {
  (void)file, (void)line;
  int i = big_slot(p);
  if (i < 0) {
    free(p);
    return;
  }
  pthread_mutex_lock(&big_mu);
  big[i].used = false;
  pthread_mutex_unlock(&big_mu);
}

static void *big_realloc(void *p, size_t n, const char *file, int line) {
  int i = big_slot(p);
  if (i < 0) return realloc(p, n);
  void *q = big_malloc(n, file, line); /* OpenSSL does not resize these; kept correct anyway */
  if (q) {
    memcpy(q, p, big[i].n < n ? big[i].n : n);
    big_free(p, file, line);
  }
  return q;
}

void gh_password_tune_allocator(void) {
  /* Fails (harmlessly: no reuse) when OpenSSL has already allocated something. */
  (void)CRYPTO_set_mem_functions(big_malloc, big_realloc, big_free);
}

int gh_password_work_areas(void) {
  return atomic_load(&big_live);
}

void gh_password_release_memory(void) {
  pthread_mutex_lock(&big_mu);
  for (int i = 0; i < BIG_SLOTS; i++) {
    void *q = atomic_load(&big[i].p);
    if (q && !big[i].used) {
      atomic_store(&big[i].p, NULL);
      atomic_fetch_sub(&big_live, 1);
      munmap(q, big[i].n);
    }
  }
  pthread_mutex_unlock(&big_mu);
}

static void free_wiped(char *p, size_t n) {
  if (!p) return;
  sodium_memzero(p, n);
  free(p);
}

gh_status gh_password_hash(const char *password, size_t len, char out[GH_PASSWORD_HASH_LEN + 1]) {
  if (!out) return GH_ERR_INVALID;
  out[0] = 0;
  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  if (!norm) return GH_ERR_INVALID;
  if (sodium_init() < 0) {
    free_wiped(norm, nlen);
    return GH_ERR_CRYPTO;
  }
  uint8_t salt_raw[SALT_BYTES], key[KEY_LEN];
  char salt[SALT_HEX_LEN + 1];
  randombytes_buf(salt_raw, sizeof salt_raw);
  gh_hex_encode(salt_raw, sizeof salt_raw, salt);
  int rc = derive(norm, nlen, salt, SALT_HEX_LEN, key);
  free_wiped(norm, nlen);
  if (rc != 0) {
    sodium_memzero(key, sizeof key);
    return GH_ERR_CRYPTO;
  }
  memcpy(out, salt, SALT_HEX_LEN);
  out[SALT_HEX_LEN] = ':';
  gh_hex_encode(key, sizeof key, out + SALT_HEX_LEN + 1); /* NUL-terminates at 161 */
  sodium_memzero(key, sizeof key);
  return GH_OK;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

gh_status gh_password_verify(const char *password, size_t len, const char *stored, bool *ok) {
  if (ok) *ok = false;
  if (!ok || !stored || (!password && len)) return GH_ERR_INVALID;
  /* JS: const [salt, key] = hash.split(":"); both must be non-empty. The key is hex-decoded
   * (either case) and must be 64 bytes to match; anything after a second ':' is ignored. */
  const char *colon = strchr(stored, ':');
  if (!colon || colon == stored) return GH_ERR_INVALID;
  const char *hex = colon + 1;
  size_t hex_len = strcspn(hex, ":");
  if (hex_len != KEY_HEX_LEN) return GH_ERR_INVALID;
  for (size_t i = 0; i < hex_len; i++)
    if (!is_hex(hex[i])) return GH_ERR_INVALID;
  uint8_t want[KEY_LEN], got[KEY_LEN];
  size_t want_len = 0;
  if (gh_hex_decode(hex, hex_len, want, &want_len) != GH_OK || want_len != KEY_LEN)
    return GH_ERR_INVALID;

  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  int rc;
  if (norm) {
    rc = derive(norm, nlen, stored, (size_t)(colon - stored), got);
    free_wiped(norm, nlen);
  } else {
    /* Not valid UTF-8: cannot match any hash better-auth made. Spend the same time anyway. */
    rc = derive(password, len, stored, (size_t)(colon - stored), got);
    if (rc == 0) rc = 1;
  }
  if (rc < 0) {
    sodium_memzero(got, sizeof got);
    sodium_memzero(want, sizeof want);
    return GH_ERR_CRYPTO;
  }
  *ok = rc == 0 && gh_ct_equal(got, want, KEY_LEN);
  sodium_memzero(got, sizeof got);
  sodium_memzero(want, sizeof want);
  return GH_OK;
}

void gh_password_dummy_verify(const char *password, size_t len) {
  uint8_t key[KEY_LEN];
  size_t nlen = 0;
  char *norm = gh_nfkc(password, len, &nlen);
  if (norm) {
    (void)derive(norm, nlen, DUMMY_SALT, SALT_HEX_LEN, key);
    free_wiped(norm, nlen);
  } else {
    (void)derive(password && len ? password : "", password ? len : 0, DUMMY_SALT, SALT_HEX_LEN,
                 key);
  }
  sodium_memzero(key, sizeof key);
}
