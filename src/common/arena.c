#include "common/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_SIZE 8192

struct block {
  struct block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

struct cleanup {
  struct cleanup *next;
  void (*fn)(void *);
  void *p;
};

struct gh_arena {
  struct block *head;
  struct cleanup *cleanups;
};

_Noreturn void gh_oom(void) {
  static const char msg[] = "{\"level\":\"fatal\",\"event\":\"out_of_memory\"}\n";
  ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
  abort();
}

void *gh_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) gh_oom();
  return p;
}

void *gh_xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) gh_oom();
  return p;
}

char *gh_xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) gh_oom();
  return p;
}

gh_arena *gh_arena_new(void) {
  return gh_xcalloc(1, sizeof(gh_arena));
}

void gh_arena_free(gh_arena *a) {
  if (!a) return;
  for (struct cleanup *c = a->cleanups; c; c = c->next) c->fn(c->p);
  struct block *b = a->head;
  while (b) {
    struct block *n = b->next;
    free(b);
    b = n;
  }
  free(a);
}

void *gh_arena_alloc(gh_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  struct block *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > BLOCK_SIZE / 2 ? n : BLOCK_SIZE;
    struct block *nb = gh_xmalloc(sizeof(struct block) + cap);
    nb->used = 0;
    nb->cap = cap;
    if (cap == n && b) { /* big allocation: keep the current block on top */
      nb->next = b->next;
      b->next = nb;
      memset(nb->data, 0, n);
      nb->used = n;
      return nb->data;
    }
    nb->next = b;
    a->head = b = nb;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *gh_arena_strndup(gh_arena *a, const char *s, size_t n) {
  char *p = gh_arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *gh_arena_strdup(gh_arena *a, const char *s) {
  return s ? gh_arena_strndup(a, s, strlen(s)) : NULL;
}

char *gh_arena_printf(gh_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) gh_oom();
  char *p = gh_arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void gh_arena_defer(gh_arena *a, void (*fn)(void *), void *p) {
  struct cleanup *c = gh_arena_alloc(a, sizeof *c);
  c->fn = fn;
  c->p = p;
  c->next = a->cleanups;
  a->cleanups = c;
}
