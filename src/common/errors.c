#include "common/errors.h"

#include <stddef.h>

static const gh_err_info TABLE[GH_E__COUNT] = {
    [GH_E_UNAUTHORIZED] = {401, "UNAUTHORIZED", "Unauthorized"},
    [GH_E_USER_NOT_FOUND] = {400, "USER_NOT_FOUND", "User not found"},
    [GH_E_FAILED_TO_CREATE_USER] = {422, "FAILED_TO_CREATE_USER", "Failed to create user"},
    [GH_E_FAILED_TO_CREATE_SESSION] = {401, "FAILED_TO_CREATE_SESSION", "Failed to create session"},
    [GH_E_FAILED_TO_UPDATE_USER] = {500, "FAILED_TO_UPDATE_USER", "Failed to update user"},
    [GH_E_FAILED_TO_GET_SESSION] = {500, "FAILED_TO_GET_SESSION", "Failed to get session"},
    [GH_E_INVALID_PASSWORD] = {400, "INVALID_PASSWORD", "Invalid password"},
    [GH_E_INVALID_EMAIL] = {400, "INVALID_EMAIL", "Invalid email"},
    [GH_E_INVALID_EMAIL_OR_PASSWORD] = {401, "INVALID_EMAIL_OR_PASSWORD",
                                        "Invalid email or password"},
    [GH_E_PASSWORD_TOO_SHORT] = {400, "PASSWORD_TOO_SHORT", "Password too short"},
    [GH_E_PASSWORD_TOO_LONG] = {400, "PASSWORD_TOO_LONG", "Password too long"},
    [GH_E_USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL] = {422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                                                    "User already exists. Use another email."},
    [GH_E_EMAIL_CAN_NOT_BE_UPDATED] = {400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated"},
    [GH_E_CREDENTIAL_ACCOUNT_NOT_FOUND] = {400, "CREDENTIAL_ACCOUNT_NOT_FOUND",
                                           "Credential account not found"},
    [GH_E_SESSION_EXPIRED] = {400, "SESSION_EXPIRED",
                              "Session expired. Re-authenticate to perform this action."},
    [GH_E_CROSS_SITE_NAVIGATION_LOGIN_BLOCKED] =
        {403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
         "Cross-site navigation login blocked. This request appears to be a CSRF attack."},
    [GH_E_SESSION_NOT_FRESH] = {403, "SESSION_NOT_FRESH", "Session is not fresh"},
    [GH_E_INVALID_ORIGIN] = {403, "INVALID_ORIGIN", "Invalid origin"},
    [GH_E_INVALID_CALLBACK_URL] = {403, "INVALID_CALLBACK_URL", "Invalid callbackURL"},
    [GH_E_INVALID_REDIRECT_URL] = {403, "INVALID_REDIRECT_URL", "Invalid redirectURL"},
    [GH_E_INVALID_ERROR_CALLBACK_URL] = {403, "INVALID_ERROR_CALLBACK_URL",
                                         "Invalid errorCallbackURL"},
    [GH_E_INVALID_NEW_USER_CALLBACK_URL] = {403, "INVALID_NEW_USER_CALLBACK_URL",
                                            "Invalid newUserCallbackURL"},
    [GH_E_MISSING_OR_NULL_ORIGIN] = {403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin"},
    [GH_E_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED] =
        {405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
         "POST method requires deferSessionRefresh to be enabled in session config"},
    [GH_E_BAD_REQUEST_INVALID_JSON] = {400, "BAD_REQUEST", "Invalid JSON in request body"},
    [GH_E_NO_FIELDS_TO_UPDATE] = {400, NULL, "No fields to update"},
    [GH_E_FIELD_NOT_ALLOWED] = {400, "FIELD_NOT_ALLOWED", "Field not allowed to be set"},
    [GH_E_PAYLOAD_TOO_LARGE] = {413, "PAYLOAD_TOO_LARGE", "Request body is too large"},
    [GH_E_CONFLICTING_CONTENT_LENGTH] = {400, "BAD_REQUEST", "Conflicting Content-Length headers"},
    [GH_E_HEADERS_TOO_LARGE] = {431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                                "Request header fields are too large"},
    [GH_E_SERVICE_UNAVAILABLE] = {503, "SERVICE_UNAVAILABLE",
                                  "Service temporarily unavailable. Try again later."},
    [GH_E_FAILED_TO_UNLINK_LAST_ACCOUNT] = {400, "FAILED_TO_UNLINK_LAST_ACCOUNT",
                                            "You can't unlink your last account"},
    [GH_E_ACCOUNT_NOT_FOUND] = {400, "ACCOUNT_NOT_FOUND", "Account not found"},
    [GH_E_INTERNAL] = {500, "INTERNAL_SERVER_ERROR", "Internal server error"},
};

const gh_err_info *gh_err_lookup(gh_err e) {
  if ((unsigned)e >= GH_E__COUNT) e = GH_E_INTERNAL;
  return &TABLE[e];
}
