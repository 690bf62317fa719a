/* The wire error table: every better-auth-compatible error this server answers, with its HTTP
 * status, code and message (better-auth CORE/error/codes.ts). One table, not scattered. */
#ifndef GH_COMMON_ERRORS_H
#define GH_COMMON_ERRORS_H

typedef enum {
  GH_E_UNAUTHORIZED,
  GH_E_USER_NOT_FOUND,
  GH_E_FAILED_TO_CREATE_USER,
  GH_E_FAILED_TO_CREATE_SESSION,
  GH_E_FAILED_TO_UPDATE_USER,
  GH_E_FAILED_TO_GET_SESSION,
  GH_E_INVALID_PASSWORD,
  GH_E_INVALID_EMAIL,
  GH_E_INVALID_EMAIL_OR_PASSWORD,
  GH_E_PASSWORD_TOO_SHORT,
  GH_E_PASSWORD_TOO_LONG,
  GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
  GH_E_EMAIL_CAN_NOT_BE_UPDATED,
  GH_E_CREDENTIAL_ACCOUNT_NOT_FOUND,
  GH_E_SESSION_EXPIRED,
  GH_E_CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
  GH_E_SESSION_NOT_FRESH,
  GH_E_INVALID_ORIGIN,
  GH_E_INVALID_CALLBACK_URL,
  GH_E_INVALID_REDIRECT_URL,
  GH_E_INVALID_ERROR_CALLBACK_URL,
  GH_E_INVALID_NEW_USER_CALLBACK_URL,
  GH_E_MISSING_OR_NULL_ORIGIN,
  GH_E_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED,
  GH_E_BAD_REQUEST_INVALID_JSON,
  GH_E_NO_FIELDS_TO_UPDATE, /* message only, no code */
  GH_E_FIELD_NOT_ALLOWED,   /* answered with "<key> is not allowed to be set" */
  GH_E_PAYLOAD_TOO_LARGE,
  GH_E_HEADERS_TOO_LARGE,
  GH_E_CONFLICTING_CONTENT_LENGTH, /* RFC 9112 §6.3: differing Content-Length values */
  GH_E_SERVICE_UNAVAILABLE,
  GH_E_FAILED_TO_UNLINK_LAST_ACCOUNT,
  GH_E_ACCOUNT_NOT_FOUND,
  GH_E_INTERNAL,
  GH_E__COUNT
} gh_err;

typedef struct {
  int status;
  const char *code; /* NULL: body has only "message" */
  const char *message;
} gh_err_info;

const gh_err_info *gh_err_lookup(gh_err e);

#endif
