#include "common/rand.h"

#include <sodium.h>
#include <stdint.h>

static const char ALPHABET[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

void gh_rand_bytes(void *buf, size_t n) {
  randombytes_buf(buf, n);
}

void gh_rand_id(char *out, size_t n) {
  size_t o = 0;
  uint8_t buf[64];
  while (o < n) {
    randombytes_buf(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf && o < n; i++)
      if (buf[i] < 248) out[o++] = ALPHABET[buf[i] % 62];
  }
  out[n] = 0;
  sodium_memzero(buf, sizeof buf);
}
