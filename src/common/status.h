/* One status enum for the whole server: 0 = GH_OK, carried up unchanged. */
#ifndef GH_COMMON_STATUS_H
#define GH_COMMON_STATUS_H

#define GH_MUST_CHECK __attribute__((warn_unused_result))

typedef enum {
  GH_OK = 0,
  GH_ERR_NOMEM,          /* allocation failed (library paths only; the server aborts) */
  GH_ERR_INVALID,        /* malformed input, bad signature, bad format */
  GH_ERR_NOT_FOUND,      /* no such row / value */
  GH_ERR_CONFLICT,       /* unique constraint violated */
  GH_ERR_DB_UNAVAILABLE, /* database cannot be reached (maps to 503) */
  GH_ERR_DB,             /* database answered with an error */
  GH_ERR_SCHEMA,         /* schema missing or not migrated */
  GH_ERR_CRYPTO,         /* a crypto primitive failed */
  GH_ERR_IO,             /* file / socket error */
  GH_ERR_TOO_LARGE,      /* input over a hard limit */
  GH_ERR_BUSY,           /* queue full; try again later (maps to 503) */
  GH_ERR_CONFIG,         /* invalid configuration */
  GH_ERR_REFUSED,        /* refused by a plugin, which has answered the request itself */
} gh_status;

const char *gh_status_str(gh_status st);

#endif
