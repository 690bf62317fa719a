"""The Gatehouse object: configuration, the two strategies and the FastAPI dependencies."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Literal

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from ._apikey import ApiKeyVerifier
from ._errors import Invalid, Unavailable
from ._jwt import JwtVerifier, looks_like_jwt
from ._session import SessionVerifier, session_cookie_header

Strategy = Literal["jwt", "session", "any"]


@dataclass
class Principal:
    """Who made the request."""

    id: str
    source: Literal["jwt", "session", "api_key"]
    email: str | None = None
    name: str | None = None
    role: str | None = None  # the admin plugin's role field ("admin" or "admin,user"), when present
    email_verified: bool = False
    session_id: str | None = None  # session strategy
    token_id: str | None = None  # jwt: jti when present
    expires_at: int | None = None  # unix seconds: JWT exp, the session's or the API key's expiresAt
    api_key_id: str | None = None  # api_key: the key's id
    permissions: dict | None = None  # api_key: the key's permissions ({"tasks": ["read"]})
    raw: dict = field(default_factory=dict, repr=False)  # the claims, get-session's answer, the key

    @property
    def roles(self) -> set[str]:
        return {r.strip() for r in (self.role or "").split(",") if r.strip()}

    def allows(self, resource: str, action: str) -> bool:
        """An API key's permission (False for every other principal)."""
        acts = (self.permissions or {}).get(resource)
        return isinstance(acts, list) and action in acts


class GatehouseError(HTTPException):
    """An HTTPException whose detail is better-auth's error shape {"message", "code"}.
    `Gatehouse.install(app)` renders it as that JSON body (without it FastAPI answers
    {"detail": {...}})."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(status_code=status, detail={"message": message, "code": code}, headers=headers)
        self.code = code
        self.message = message


def _origin(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    scheme, host = u.scheme.lower(), (u.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = u.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _iso_seconds(s: Any) -> int | None:
    if not isinstance(s, str):
        return None
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _bool_env(v: str | None, default: bool) -> bool:
    if v is None or v == "":
        return default
    if v.lower() in ("1", "true", "yes", "on"):
        return True
    if v.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {v!r}")


class Gatehouse:
    """Verifies requests against a gatehouse server.

    strategy: "jwt" (Authorization: Bearer <JWT> verified locally against the JWKS), "session"
    (the session cookie or bearer session token delegated to get-session) or "any" (a three-part
    bearer is a JWT, anything else is delegated).
    """

    def __init__(
        self,
        url: str,
        strategy: Strategy = "jwt",
        *,
        jwks_url: str | None = None,
        session_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_s: int = 30,
        allow_missing_kid: bool = False,
        jwks_max_age_s: int = 300,
        jwks_default_ttl_s: int = 60,
        jwks_min_refetch_s: int = 30,
        timeout_s: float = 3.0,
        max_connections: int = 100,
        realm: str = "gatehouse",
        retry_after_s: int = 5,
        service_token: str | None = None,
        api_key_url: str | None = None,
        api_key_header: str = "x-api-key",
        api_key_cache_ttl_s: int = 5,
    ) -> None:
        if strategy not in ("jwt", "session", "any"):
            raise ValueError("strategy: expected jwt, session or any")
        if not url.startswith(("http://", "https://")):
            raise ValueError("url: expected an http:// or https:// URL")
        if not 0 <= leeway_s <= 300:
            raise ValueError("leeway_s: 0 to 300")
        self.url = url.rstrip("/")
        self.strategy = strategy
        self.realm = realm
        self.retry_after_s = retry_after_s
        # pooled keep-alive connections, connect and read timeouts; no redirects followed
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
            follow_redirects=False,
        )
        origin = _origin(self.url)
        self.jwt = JwtVerifier(
            jwks_url=jwks_url or f"{self.url}/api/auth/jwks",
            issuer=issuer or origin,
            audience=audience or origin,
            http=self.http,
            leeway_s=leeway_s,
            jwks_max_age_s=jwks_max_age_s,
            jwks_default_ttl_s=jwks_default_ttl_s,
            jwks_min_refetch_s=jwks_min_refetch_s,
            allow_missing_kid=allow_missing_kid,
        )
        self.session = SessionVerifier(session_url=session_url or f"{self.url}/api/auth/get-session", http=self.http)
        # API keys (the api-key plugin) only with the service token; otherwise an API key is 401
        self.api_key_header = api_key_header.lower()
        self.api_keys = (
            ApiKeyVerifier(
                verify_url=api_key_url or f"{self.url}/api/auth/api-key/verify",
                service_token=service_token,
                http=self.http,
                cache_ttl_s=api_key_cache_ttl_s,
            )
            if service_token
            else None
        )

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides: Any) -> "Gatehouse":
        """GATEHOUSE_URL (default http://localhost:3000), GATEHOUSE_AUTH (jwt | session | any),
        GATEHOUSE_JWKS_URL, GATEHOUSE_SESSION_URL, GATEHOUSE_JWT_ISSUER, GATEHOUSE_JWT_AUDIENCE,
        GATEHOUSE_JWT_LEEWAY, GATEHOUSE_JWT_ALLOW_MISSING_KID, GATEHOUSE_HTTP_TIMEOUT_MS,
        GATEHOUSE_SERVICE_TOKEN (enables API keys), GATEHOUSE_API_KEY_URL, GATEHOUSE_API_KEY_CACHE_TTL."""
        e = os.environ if env is None else env
        kw: dict[str, Any] = {
            "url": e.get("GATEHOUSE_URL") or "http://localhost:3000",
            "strategy": e.get("GATEHOUSE_AUTH") or "jwt",
            "jwks_url": e.get("GATEHOUSE_JWKS_URL") or None,
            "session_url": e.get("GATEHOUSE_SESSION_URL") or None,
            "issuer": e.get("GATEHOUSE_JWT_ISSUER") or None,
            "audience": e.get("GATEHOUSE_JWT_AUDIENCE") or None,
            "leeway_s": int(e.get("GATEHOUSE_JWT_LEEWAY") or 30),
            "allow_missing_kid": _bool_env(e.get("GATEHOUSE_JWT_ALLOW_MISSING_KID"), False),
            "timeout_s": int(e.get("GATEHOUSE_HTTP_TIMEOUT_MS") or 3000) / 1000,
            "service_token": e.get("GATEHOUSE_SERVICE_TOKEN") or None,
            "api_key_url": e.get("GATEHOUSE_API_KEY_URL") or None,
            "api_key_cache_ttl_s": int(e.get("GATEHOUSE_API_KEY_CACHE_TTL") or 5),
        }
        kw.update(overrides)
        return cls(**kw)

    async def aclose(self) -> None:
        await self.http.aclose()

    def install(self, app: FastAPI) -> None:
        """Renders GatehouseError as {"message", "code"} and closes the HTTP pool at shutdown."""

        async def handler(request: Request, exc: GatehouseError) -> JSONResponse:
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

        app.add_exception_handler(GatehouseError, handler)
        app.add_event_handler("shutdown", self.aclose)

    # -- errors ----------------------------------------------------------------------------------
    def _unauthorized(self, e: Invalid) -> GatehouseError:
        if e.api_key:  # as gatehouse-tasks answers a refused x-api-key
            if e.code in ("RATE_LIMITED", "USAGE_EXCEEDED"):
                return GatehouseError(429, "TOO_MANY_REQUESTS", "The API key has reached its limit")
            msg = "API keys are not accepted here" if e.reason == "API keys are not accepted here" else "The API key is invalid"
            return GatehouseError(401, "UNAUTHORIZED", msg)
        if e.missing:
            msg = "Authentication required"
            if e.reason == "missing bearer token":
                msg = "Authentication required: send Authorization: Bearer <JWT>"
            www = f'Bearer realm="{self.realm}"'
        else:
            msg = "The token has expired" if e.expired else "Invalid credentials"
            if e.reason == "no valid session":
                msg = "The session is invalid or has expired"
            www = f'Bearer realm="{self.realm}", error="invalid_token"'
        return GatehouseError(401, "UNAUTHORIZED", msg, {"WWW-Authenticate": www})

    def _unavailable(self) -> GatehouseError:
        return GatehouseError(
            503,
            "SERVICE_UNAVAILABLE",
            "The authentication service is unavailable. Try again later.",
            {"Retry-After": str(self.retry_after_s)},
        )

    # -- verification ------------------------------------------------------------------------
    @staticmethod
    def _bearer(request: Request) -> str | None:
        h = request.headers.get("authorization")
        if h is None:
            return None
        scheme, _, rest = h.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Invalid("the Authorization header is not a Bearer credential")
        return rest.strip() or None

    async def authenticate(self, request: Request) -> Principal:
        """The request's principal; raises Invalid or Unavailable. An API key (a non-empty
        x-api-key) comes first, whatever the strategy; then the strategy's credential."""
        key = (request.headers.get(self.api_key_header) or "").strip()
        if key:
            if self.api_keys is None:
                raise Invalid("API keys are not accepted here", api_key=True)
            k = await self.api_keys.verify(key)
            exp = _iso_seconds(k.get("expiresAt"))
            return Principal(
                id=k["referenceId"],
                source="api_key",
                name=k.get("name") if isinstance(k.get("name"), str) else None,
                api_key_id=k["id"],
                permissions=k.get("permissions") if isinstance(k.get("permissions"), dict) else None,
                expires_at=exp,
                raw=k,
            )
        tok = self._bearer(request)
        use_jwt = self.strategy == "jwt" or (self.strategy == "any" and tok is not None and looks_like_jwt(tok))
        if use_jwt:
            if tok is None:
                raise Invalid("missing bearer token", missing=True)
            c = await self.jwt.verify(tok)
            return Principal(
                id=c["sub"],
                source="jwt",
                email=c.get("email") if isinstance(c.get("email"), str) else None,
                name=c.get("name") if isinstance(c.get("name"), str) else None,
                role=c.get("role") if isinstance(c.get("role"), str) else None,
                email_verified=c.get("emailVerified") is True,
                token_id=c.get("jti") if isinstance(c.get("jti"), str) else None,
                expires_at=int(c["exp"]),
                raw=c,
            )
        cookie = session_cookie_header(request.headers.get("cookie"))
        doc = await self.session.verify(cookie, tok)
        u, s = doc["user"], doc["session"]
        return Principal(
            id=u["id"],
            source="session",
            email=u.get("email") if isinstance(u.get("email"), str) else None,
            name=u.get("name") if isinstance(u.get("name"), str) else None,
            role=u.get("role") if isinstance(u.get("role"), str) else None,
            email_verified=u.get("emailVerified") is True,
            session_id=s.get("id") if isinstance(s.get("id"), str) else None,
            expires_at=_iso_seconds(s.get("expiresAt")),
            raw=doc,
        )

    # -- dependencies ----------------------------------------------------------------------------
    async def current_user(self, request: Request) -> Principal:
        """Dependency: the principal, or 401 + WWW-Authenticate: Bearer / 503 + Retry-After. A
        refused API key: 401 (no WWW-Authenticate) or 429 when over its limits, as gatehouse-tasks."""
        cached = getattr(request.state, "gatehouse_principal", None)
        if cached is not None:
            return cached
        try:
            p = await self.authenticate(request)
        except Invalid as e:
            raise self._unauthorized(e) from None
        except Unavailable:
            raise self._unavailable() from None
        request.state.gatehouse_principal = p
        return p

    async def optional_user(self, request: Request) -> Principal | None:
        """Dependency: the principal, or None without a credential or with one that does not
        verify; still 503 when gatehouse cannot be asked (never silently anonymous)."""
        try:
            return await self.current_user(request)
        except GatehouseError as e:
            if e.status_code == 401:
                return None
            raise

    @property
    def require_user_id_match(self) -> Callable:
        """Dependency for /{user_id}/... paths: the principal, 403 when user_id is not theirs."""
        current = self.current_user

        async def dep(user_id: str, user: Principal = Depends(current)) -> Principal:
            if user_id != user.id:
                raise GatehouseError(403, "FORBIDDEN", "Forbidden: the user in the path is not the caller")
            return user

        return dep

    def require_permission(self, resource: str, action: str) -> Callable:
        """Dependency factory for API-key scopes: the principal when it is an API key whose
        permissions list action under resource, or a user signed in otherwise (a user acts as
        themselves); 403 INSUFFICIENT_SCOPE for a key without that permission."""
        current = self.current_user

        async def dep(user: Principal = Depends(current)) -> Principal:
            if user.source == "api_key" and not user.allows(resource, action):
                raise GatehouseError(403, "INSUFFICIENT_SCOPE", f"The API key lacks the {resource}:{action} permission")
            return user

        return dep

    def require_role(self, *roles: str) -> Callable:
        """Dependency factory: the principal when one of its roles (admin plugin's role field,
        comma-separated) is one of roles, else 403."""
        if not roles:
            raise ValueError("require_role: name at least one role")
        wanted = set(roles)
        current = self.current_user

        async def dep(user: Principal = Depends(current)) -> Principal:
            if not (user.roles & wanted):
                raise GatehouseError(403, "FORBIDDEN", "Forbidden: this needs the role " + " or ".join(sorted(wanted)))
            return user

        return dep
