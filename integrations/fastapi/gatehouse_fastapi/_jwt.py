"""JWT strategy: tokens from gatehouse's GET /api/auth/token verified locally against its JWKS.

The rules are libgatehouse-verify's (docs/verify.md), so that the same token gets the same answer
from the C verifier and from this package:

- size bounded, compact JWS of three strict base64url parts;
- header: a JSON object without duplicate members, no ``crit``, ``alg`` one of EdDSA, ES256,
  ES512, RS256, PS256 (``none`` and every HS* refused before any fetch), ``kid`` a string and
  required unless ``allow_missing_kid``;
- the key is chosen by exact ``kid`` among the JWKS keys, each pinned to one algorithm (its
  ``alg``, or the one its curve implies; RSA keys need ``alg`` and 2048 bits): the header's alg
  must equal it. A key in the token itself (``jwk``, ``jku``, ``x5u``, ``x5c``) is never used;
- claims (parsed only after the signature holds, duplicates refused): ``sub`` a non-empty string,
  ``exp`` required, ``exp``/``nbf``/``iat`` within the leeway, ``iss`` equal, ``aud`` containing.

The JWKS is cached for its Cache-Control max-age (capped, a default when absent); an unknown kid
refetches it at most once per ``jwks_min_refetch_s``; one fetch at a time; the last good key set is
kept when a refetch fails; no key set at all and the issuer unreachable is "unavailable" (503).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ._errors import Invalid, Unavailable

ALGS = ("EdDSA", "ES256", "ES512", "RS256", "PS256")
_B64 = re.compile(r"^[A-Za-z0-9_-]*$")
_CURVE_ALG = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256", ("EC", "P-521"): "ES512"}


def _strict_json(data: bytes) -> Any:
    def no_dupes(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate member {k!r}")
            obj[k] = v
        return obj

    return json.loads(data.decode("utf-8"), object_pairs_hook=no_dupes)


def _b64url(part: str) -> bytes:
    if not _B64.match(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != part:
        raise ValueError("non-canonical base64url")
    return raw


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2])


@dataclass
class _Key:
    kid: str | None
    alg: str
    key: Any


def _pinned_alg(jwk: dict) -> str | None:
    kty, alg = jwk.get("kty"), jwk.get("alg")
    implied = _CURVE_ALG.get((kty, jwk.get("crv")))
    if kty == "RSA":
        return alg if alg in ("RS256", "PS256") else None
    if implied is None:
        return None
    if alg is not None and alg != implied:
        return None
    return implied


def parse_jwks(doc: Any, max_keys: int = 64) -> list[_Key]:
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWKS")
    keys: list[_Key] = []
    for jwk in doc["keys"]:
        if not isinstance(jwk, dict) or len(keys) >= max_keys:
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        if "use" in jwk and jwk["use"] != "sig":
            continue
        if "key_ops" in jwk and (not isinstance(jwk["key_ops"], list) or "verify" not in jwk["key_ops"]):
            continue
        alg = _pinned_alg(jwk)
        if alg is None:
            continue
        public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "oth", "k")}
        try:
            key = jwt.PyJWK(public, algorithm=alg).key
        except Exception:  # noqa: BLE001 - an unusable key is skipped, as the C verifier does
            continue
        if isinstance(key, rsa.RSAPublicKey) and (key.key_size < 2048 or key.public_numbers().e < 3 or key.public_numbers().e % 2 == 0):
            continue
        keys.append(_Key(kid, alg, key))
    return keys


class JwtVerifier:
    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient,
        leeway_s: int = 30,
        jwks_max_age_s: int = 300,
        jwks_default_ttl_s: int = 60,
        jwks_min_refetch_s: int = 30,
        max_token_bytes: int = 8192,
        max_jwks_bytes: int = 65536,
        allow_missing_kid: bool = False,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.http = http
        self.leeway_s = leeway_s
        self.jwks_max_age_s = jwks_max_age_s
        self.jwks_default_ttl_s = jwks_default_ttl_s
        self.jwks_min_refetch_s = jwks_min_refetch_s
        self.max_token_bytes = max_token_bytes
        self.max_jwks_bytes = max_jwks_bytes
        self.allow_missing_kid = allow_missing_kid
        self._keys: list[_Key] | None = None
        self._static = False
        self._fresh_until = 0.0
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0  # JWKS requests made (for tests and metrics)

    def set_jwks(self, doc: dict) -> None:
        """Installs a key set that never expires and is never refetched (tests, air-gapped)."""
        self._keys = parse_jwks(doc)
        self._static = True

    # -- the key cache ------------------------------------------------------------------------
    async def _fetch(self) -> None:
        self._last_attempt = time.monotonic()
        self.fetches += 1
        try:
            async with self.http.stream("GET", self.jwks_url, headers={"accept": "application/json"}) as res:
                body = b""
                async for chunk in res.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_jwks_bytes:
                        raise ValueError("JWKS too large")
                if res.status_code != 200:
                    raise ValueError(f"JWKS answered {res.status_code}")
                keys = parse_jwks(_strict_json(body))
                cc = res.headers.get("cache-control", "").lower()
        except (httpx.HTTPError, ValueError, UnicodeDecodeError):
            return  # keep the last good keys
        ttl = self.jwks_default_ttl_s
        m = re.search(r"max-age\s*=\s*(\d+)", cc)
        if "no-store" in cc or "no-cache" in cc:
            ttl = 0
        elif m:
            ttl = min(int(m.group(1)), self.jwks_max_age_s)
        self._keys = keys
        self._fresh_until = time.monotonic() + ttl

    @staticmethod
    def _has(keys: list[_Key] | None, kid: str | None, alg: str) -> bool:
        return bool(keys) and any((k.kid == kid) if kid is not None else (k.alg == alg) for k in keys)

    def _needs_fetch(self, kid: str | None, alg: str) -> bool:
        now = time.monotonic()
        since = now - self._last_attempt
        if self._keys is None:  # nothing yet (or every fetch failed): retry at most once a second
            return since >= 1.0
        if now >= self._fresh_until:  # stale: refetch (a failed refetch keeps the old keys)
            return since >= 1.0
        if not self._has(self._keys, kid, alg):  # unknown kid: maybe the keys rotated
            return since >= self.jwks_min_refetch_s
        return False

    async def _keyset(self, kid: str | None, alg: str) -> list[_Key]:
        if self._static:
            return self._keys or []
        if self._needs_fetch(kid, alg):
            async with self._lock:  # one fetch at a time; the others then use its result
                if self._needs_fetch(kid, alg):
                    await self._fetch()
        if self._keys is None:
            raise Unavailable("the JWKS could not be fetched")
        return self._keys

    # -- verification -------------------------------------------------------------------------
    async def verify(self, token: str) -> dict:
        """The verified claims; raises Invalid (401) or Unavailable (503)."""
        if len(token.encode("utf-8", "surrogatepass")) > self.max_token_bytes:
            raise Invalid("token too large")
        parts = token.split(".")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise Invalid("malformed token")
        try:
            header = _strict_json(_b64url(parts[0]))
            _b64url(parts[2])
            _b64url(parts[1])
        except (ValueError, UnicodeDecodeError):
            raise Invalid("malformed token") from None
        if not isinstance(header, dict) or "crit" in header:
            raise Invalid("malformed token")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Invalid("malformed token")
        alg = header.get("alg")
        if alg not in ALGS:
            raise Invalid("algorithm not allowed for this key")
        if kid is None and not self.allow_missing_kid:
            raise Invalid("no usable key for this kid")
        keys = await self._keyset(kid, alg)
        if kid is not None:
            cands = [k for k in keys if k.kid == kid]
            if cands and not any(k.alg == alg for k in cands):
                raise Invalid("algorithm not allowed for this key")
            cands = [k for k in cands if k.alg == alg]
        else:
            cands = [k for k in keys if k.alg == alg]
            if len(cands) > 1:
                raise Invalid("no usable key for this kid")
        if not cands:
            raise Invalid("no usable key for this kid")
        key = cands[0]
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Invalid("token expired", expired=True) from None
        except jwt.InvalidSignatureError:
            raise Invalid("bad signature") from None
        except jwt.PyJWTError as e:
            raise Invalid(type(e).__name__) from None
        try:
            claims = _strict_json(_b64url(parts[1]))  # duplicates refused, as the C verifier
        except (ValueError, UnicodeDecodeError):
            raise Invalid("malformed claims") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Invalid("missing or invalid claims")
        for name in ("exp", "nbf", "iat"):
            v = claims.get(name)
            if name in claims and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise Invalid("missing or invalid claims")
        now = time.time()
        if "iat" in claims and claims["iat"] > now + self.leeway_s:
            raise Invalid("token not yet valid")
        return claims
