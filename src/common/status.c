#include "common/status.h"

const char *gh_status_str(gh_status st) {
  switch (st) {
  case GH_OK:
    return "ok";
  case GH_ERR_NOMEM:
    return "out of memory";
  case GH_ERR_INVALID:
    return "invalid";
  case GH_ERR_NOT_FOUND:
    return "not found";
  case GH_ERR_CONFLICT:
    return "conflict";
  case GH_ERR_DB_UNAVAILABLE:
    return "database unavailable";
  case GH_ERR_DB:
    return "database error";
  case GH_ERR_SCHEMA:
    return "database schema not migrated";
  case GH_ERR_CRYPTO:
    return "crypto error";
  case GH_ERR_IO:
    return "i/o error";
  case GH_ERR_TOO_LARGE:
    return "too large";
  case GH_ERR_BUSY:
    return "busy";
  case GH_ERR_CONFIG:
    return "invalid configuration";
  case GH_ERR_REFUSED:
    return "refused";
  }
  return "unknown";
}
