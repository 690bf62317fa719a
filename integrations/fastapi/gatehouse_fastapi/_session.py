"""Session strategy: the request's session cookie or bearer session token is handed to gatehouse's
GET /api/auth/get-session (httpx, pooled keep-alive connections, short timeouts). Only the session
cookies are forwarded, never the request's other cookies. gatehouse answering ``null`` is 401;
not reachable, a timeout, a 5xx or a body that is not a session is 503 (fail closed)."""

from __future__ import annotations

import json

import httpx

from ._errors import Invalid, Unavailable

SESSION_COOKIES = ("better-auth.session_token", "__Secure-better-auth.session_token")
MAX_SESSION_BYTES = 64 * 1024
MAX_TOKEN = 4096


def session_cookie_header(cookie_header: str | None) -> str | None:
    """Only the session cookies of a Cookie header, as sent; None when there is none."""
    if not cookie_header:
        return None
    out = []
    for part in cookie_header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name.strip() in SESSION_COOKIES and value.strip():
            out.append(f"{name.strip()}={value.strip()}")
    return "; ".join(out) or None


class SessionVerifier:
    def __init__(self, *, session_url: str, http: httpx.AsyncClient) -> None:
        self.session_url = session_url
        self.http = http

    async def verify(self, cookie: str | None, bearer: str | None) -> dict:
        """get-session's {session, user}; raises Invalid (401) or Unavailable (503)."""
        if not cookie and not bearer:
            raise Invalid("missing credentials", missing=True)
        if bearer is not None and len(bearer) > MAX_TOKEN:
            raise Invalid("token too large")
        for v in (cookie, bearer):
            if v is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
                raise Invalid("malformed credential")
        headers = {"accept": "application/json"}
        if cookie:
            headers["cookie"] = cookie
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        try:
            async with self.http.stream("GET", self.session_url, headers=headers) as res:
                body = b""
                async for chunk in res.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_SESSION_BYTES:
                        raise Unavailable("get-session answer too large")
                status = res.status_code
        except httpx.HTTPError as e:
            raise Unavailable(f"get-session: {type(e).__name__}") from None
        if status in (401, 403):
            raise Invalid("no valid session")
        if status != 200:
            raise Unavailable(f"get-session answered {status}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise Unavailable("get-session answered garbage") from None
        if doc is None:
            raise Invalid("no valid session")
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("user"), dict)
            or not isinstance(doc.get("session"), dict)
            or not isinstance(doc["user"].get("id"), str)
            or not doc["user"]["id"]
        ):
            raise Unavailable("get-session answered garbage")
        return doc
