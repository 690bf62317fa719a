"""Verification outcomes that are not a principal."""


class Invalid(Exception):
    """The credential does not verify (401)."""

    def __init__(self, reason: str, *, expired: bool = False, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired
        self.missing = missing


class Unavailable(Exception):
    """gatehouse (get-session or the JWKS) cannot be asked or answered garbage (503, fail closed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
