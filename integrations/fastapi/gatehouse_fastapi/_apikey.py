"""API keys (the api-key plugin): an ``x-api-key`` is checked with gatehouse's
POST /api/auth/api-key/verify, which answers only callers presenting the service token
(GATEHOUSE_SERVICE_TOKEN). As libgatehouse-verify: ``{"valid":true,"key":{...}}`` is the key's
owner, ``{"valid":false,...}`` is 401, any other answer (401/403/404 for a wrong service token or a
gatehouse without the plugin, 429, 5xx, garbage) or no answer is 503 (fail closed). A short
positive cache keyed by the key's SHA-256 (never past the key's expiry); each ask is one use of the
key for gatehouse's usage limits."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime

import httpx

from ._errors import Invalid, Unavailable

MAX_ANSWER = 64 * 1024
MAX_KEY = 8192


def _iso(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class ApiKeyVerifier:
    def __init__(self, *, verify_url: str, service_token: str, http: httpx.AsyncClient, cache_ttl_s: int = 5) -> None:
        if len(service_token) < 32 or "\n" in service_token or "\r" in service_token:
            raise ValueError("service_token: at least 32 characters, one line")
        if not 0 <= cache_ttl_s <= 60:
            raise ValueError("api_key_cache_ttl_s: 0 to 60")
        self.verify_url = verify_url
        self._auth = f"Bearer {service_token}"
        self.http = http
        self.cache_ttl_s = cache_ttl_s
        self._cache: dict[bytes, tuple[float, dict]] = {}

    async def verify(self, key: str) -> dict:
        """The key object of gatehouse's answer (id, referenceId, name, permissions, expiresAt)."""
        if not key:
            raise Invalid("missing credentials", missing=True, api_key=True)
        if len(key) > MAX_KEY:
            raise Invalid("token too large", api_key=True)
        h = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        hit = self._cache.get(h)
        if hit and time.monotonic() < hit[0]:
            return hit[1]
        try:
            async with self.http.stream(
                "POST",
                self.verify_url,
                content=json.dumps({"key": key}).encode(),
                headers={"authorization": self._auth, "content-type": "application/json", "accept": "application/json"},
            ) as res:
                body = b""
                async for chunk in res.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER:
                        raise Unavailable("api-key verify answer too large")
                status = res.status_code
        except httpx.HTTPError as e:
            raise Unavailable(f"api-key verify: {type(e).__name__}") from None
        if status != 200:
            raise Unavailable(f"api-key verify answered {status}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise Unavailable("api-key verify answered garbage") from None
        if isinstance(doc, dict) and doc.get("valid") is False:
            err = doc.get("error")
            code = err.get("code") if isinstance(err, dict) else None
            raise Invalid("invalid api key", api_key=True, code=code if isinstance(code, str) else None)
        k = doc.get("key") if isinstance(doc, dict) else None
        if (
            not isinstance(doc, dict)
            or doc.get("valid") is not True
            or not isinstance(k, dict)
            or not isinstance(k.get("referenceId"), str)
            or not k["referenceId"]
            or not isinstance(k.get("id"), str)
        ):
            raise Unavailable("api-key verify answered garbage")
        if self.cache_ttl_s:
            deadline = time.monotonic() + self.cache_ttl_s
            if isinstance(k.get("expiresAt"), str):
                try:
                    deadline = min(deadline, time.monotonic() + (_iso(k["expiresAt"]) - time.time()))
                except ValueError:
                    deadline = 0
            if deadline > time.monotonic():
                if len(self._cache) > 1024:
                    self._cache.clear()
                self._cache[h] = (deadline, k)
        return k
