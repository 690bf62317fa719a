/* libFuzzer harness: the password normalisation step of src/crypto/password.h (gh_nfkc, NFKC
 * through libunistring). gh_password_verify is not fuzzed: every call runs scrypt (~100 ms).
 * Invariants: NULL exactly for invalid UTF-8; the result is valid UTF-8 of the reported length;
 * NFKC is idempotent; ASCII is unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include "crypto/password.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = 12345;
  char *norm = gh_nfkc((const char *)data, size, &n);
  bool valid = u8_check(data, size) == NULL;
  if (!norm) {
    if (valid || n != 0) abort();
    return 0;
  }
  if (!valid) abort();
  if (norm[n] != 0 || u8_check((const uint8_t *)norm, n) != NULL) abort();
  bool ascii = true;
  for (size_t i = 0; i < size; i++)
    if (data[i] >= 0x80) ascii = false;
  if (ascii && (n != size || memcmp(norm, data, size) != 0)) abort();
  size_t n2 = 0;
  char *again = gh_nfkc(norm, n, &n2);
  if (!again || n2 != n || memcmp(again, norm, n) != 0) abort();
  free(again);
  free(norm);
  return 0;
}
