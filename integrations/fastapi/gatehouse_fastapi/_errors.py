"""Verification outcomes that are not a principal."""

from __future__ import annotations


class Invalid(Exception):
    """The credential does not verify (401)."""

    def __init__(
        self, reason: str, *, expired: bool = False, missing: bool = False, api_key: bool = False, code: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired
        self.missing = missing
        self.api_key = api_key  # an x-api-key that was refused (or API keys are not accepted)
        self.code = code  # api-key verify's error code (RATE_LIMITED, USAGE_EXCEEDED, KEY_EXPIRED, ...)


class Unavailable(Exception):
    """gatehouse (get-session or the JWKS) cannot be asked or answered garbage (503, fail closed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
