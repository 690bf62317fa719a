#include "auth/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

#define BUCKETS 4096
#define MAX_ENTRIES 50000
#define FORGET_MS (15 * 60 * 1000)
#define MAX_DELAY_S 900
#define FREE_PAIR 5    /* failures of one client on one account before delays */
#define FREE_CLIENT 20 /* failures of one client on any accounts before delays */

typedef struct entry {
  struct entry *next;
  unsigned failures;
  int64_t last_ms;
  char key[]; /* "p|<client>|<account>" or "c|<client>" */
} entry;

struct gh_throttle {
  pthread_mutex_t mu;
  entry *b[BUCKETS];
  size_t n;
};

gh_throttle *gh_throttle_new(void) {
  gh_throttle *t = gh_xcalloc(1, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  return t;
}

void gh_throttle_free(gh_throttle *t) {
  if (!t) return;
  for (size_t i = 0; i < BUCKETS; i++)
    for (entry *e = t->b[i], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static size_t bucket_of(const char *key) {
  uint32_t x = 2166136261u; /* FNV-1a; keys are not secret and the table is bounded */
  for (const char *p = key; *p; p++) x = (x ^ (unsigned char)*p) * 16777619u;
  return x % BUCKETS;
}

/* The entry for key (created when create), dropping forgotten neighbours; under t->mu. */
static entry *find(gh_throttle *t, const char *key, int64_t now, bool create) {
  entry **pp = &t->b[bucket_of(key)], *hit = NULL;
  while (*pp) {
    entry *e = *pp;
    if (!strcmp(e->key, key)) {
      hit = e;
      pp = &e->next;
    } else if (now - e->last_ms >= FORGET_MS) {
      *pp = e->next;
      free(e);
      t->n--;
    } else {
      pp = &e->next;
    }
  }
  if (hit && now - hit->last_ms >= FORGET_MS) hit->failures = 0;
  if (hit || !create || t->n >= MAX_ENTRIES) return hit;
  size_t kl = strlen(key);
  hit = gh_xcalloc(1, sizeof *hit + kl + 1);
  memcpy(hit->key, key, kl + 1);
  hit->next = t->b[bucket_of(key)];
  t->b[bucket_of(key)] = hit;
  t->n++;
  return hit;
}

static long wait_s(const entry *e, unsigned free_failures, int64_t now) {
  if (!e || e->failures < free_failures) return 0;
  unsigned over = e->failures - free_failures;
  long delay = over >= 10 ? MAX_DELAY_S : 1L << over;
  if (delay > MAX_DELAY_S) delay = MAX_DELAY_S;
  int64_t until = e->last_ms + delay * 1000;
  return until > now ? (long)((until - now + 999) / 1000) : 0;
}

static void keys(char *pair, size_t pl, char *client_key, size_t cl, const char *client,
                 const char *account) {
  snprintf(pair, pl, "p|%s|%s", client, account ? account : "");
  snprintf(client_key, cl, "c|%s", client);
}

long gh_throttle_check(gh_throttle *t, const char *client, const char *account, int64_t now) {
  char pk[400], ck[80];
  keys(pk, sizeof pk, ck, sizeof ck, client, account);
  pthread_mutex_lock(&t->mu);
  long a = wait_s(find(t, pk, now, false), FREE_PAIR, now);
  long b = wait_s(find(t, ck, now, false), FREE_CLIENT, now);
  pthread_mutex_unlock(&t->mu);
  return a > b ? a : b;
}

void gh_throttle_failed(gh_throttle *t, const char *client, const char *account, int64_t now) {
  char pk[400], ck[80];
  keys(pk, sizeof pk, ck, sizeof ck, client, account);
  pthread_mutex_lock(&t->mu);
  entry *e = find(t, pk, now, true);
  if (e) e->failures++, e->last_ms = now;
  e = find(t, ck, now, true);
  if (e) e->failures++, e->last_ms = now;
  pthread_mutex_unlock(&t->mu);
}

void gh_throttle_succeeded(gh_throttle *t, const char *client, const char *account) {
  char pk[400], ck[80];
  keys(pk, sizeof pk, ck, sizeof ck, client, account);
  pthread_mutex_lock(&t->mu);
  entry *e = find(t, pk, 0, false);
  if (e) e->failures = 0;
  pthread_mutex_unlock(&t->mu);
}
