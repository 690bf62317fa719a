#include "common/threadconn.h"

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

static bool ensure_key(gh_threadconn *tc) {
  if (atomic_load_explicit(&tc->key_ready, memory_order_acquire)) return true;
  pthread_mutex_lock(&tc->lock);
  if (!atomic_load_explicit(&tc->key_ready, memory_order_relaxed) && !tc->key_failed) {
    if (pthread_key_create(&tc->key, tc->close) == 0)
      atomic_store_explicit(&tc->key_ready, true, memory_order_release);
    else
      tc->key_failed = true;
  }
  pthread_mutex_unlock(&tc->lock);
  return atomic_load_explicit(&tc->key_ready, memory_order_acquire);
}

static void wipe_free(char *s) {
  if (!s) return;
  memset(s, 0, strlen(s)); /* the URL may carry a database password */
  free(s);
}

void gh_threadconn_set_url(gh_threadconn *tc, const char *url) {
  char *copy = url ? gh_xstrdup(url) : NULL;
  pthread_mutex_lock(&tc->lock);
  char *old = tc->url;
  tc->url = copy;
  pthread_mutex_unlock(&tc->lock);
  wipe_free(old);
}

gh_status gh_threadconn_get(gh_threadconn *tc, void **out) {
  *out = NULL;
  if (!ensure_key(tc)) return GH_ERR_DB_UNAVAILABLE;
  void *c = pthread_getspecific(tc->key);
  if (c) {
    *out = c;
    return GH_OK;
  }
  pthread_mutex_lock(&tc->lock);
  char *url = tc->url ? gh_xstrdup(tc->url) : NULL;
  pthread_mutex_unlock(&tc->lock);
  if (!url) return GH_ERR_CONFIG;
  gh_status st = tc->open(url, &c);
  wipe_free(url);
  if (st == GH_ERR_CONFIG) return st;
  if (st) return GH_ERR_DB_UNAVAILABLE;
  if (pthread_setspecific(tc->key, c) != 0) {
    tc->close(c);
    return GH_ERR_DB_UNAVAILABLE;
  }
  *out = c;
  return GH_OK;
}
