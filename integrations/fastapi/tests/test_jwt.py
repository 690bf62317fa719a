"""The jwt strategy against a real gatehouse's JWKS and tokens, and against a local issuer for the
tokens gatehouse never makes (no kid, forged headers, bad claims)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatehouse_fastapi import Gatehouse, Invalid, Unavailable

from .conftest import b64, free_port, run


def local(issuer, **kw) -> Gatehouse:
    return Gatehouse("http://127.0.0.1:1", "jwt", jwks_url=issuer.url, issuer=issuer.ISS, audience=issuer.AUD, **kw)


async def verify(gh: Gatehouse, token: str):
    try:
        return await gh.jwt.verify(token)
    finally:
        await gh.aclose()


def refused(gh_factory, token: str) -> str:
    with pytest.raises(Invalid) as e:
        run(verify(gh_factory(), token))
    return e.value.reason


def test_gatehouse_jwt_verifies_and_carries_the_user(gatehouse, alice):
    claims = run(verify(Gatehouse(gatehouse.url, "jwt"), alice["jwt"]))
    assert claims["sub"] == alice["id"]
    assert claims["email"] == alice["email"]
    header = json.loads(base64.urlsafe_b64decode(alice["jwt"].split(".")[0] + "=="))
    assert header["kid"], "gatehouse always sets kid"


def test_gatehouse_tokens_tampered_or_forged_are_refused(gatehouse, alice, bob):
    h, p, s = alice["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    other = Ed25519PrivateKey.generate()
    forged_si = f"{b64(json.dumps({'alg': 'EdDSA', 'kid': header['kid']}).encode())}.{p}"
    cases = {
        "tampered signature": f"{h}.{p}.{s[:10]}{'A' if s[10] != 'A' else 'B'}{s[11:]}",
        "swapped sub": f"{h}.{b64(json.dumps({**claims, 'sub': bob['id']}).encode())}.{s}",
        "alg none": f"{b64(json.dumps({'alg': 'none'}).encode())}.{p}.",
        "HS256 with a guessable secret": (
            lambda si: f"{si}.{b64(hmac.new(b'secret', si.encode(), hashlib.sha256).digest())}"
        )(f"{b64(json.dumps({'alg': 'HS256', 'kid': header['kid']}).encode())}.{p}"),
        "unknown kid": f"{b64(json.dumps({**header, 'kid': 'no-such-kid'}).encode())}.{p}.{s}",
        "foreign key under the right kid": f"{forged_si}.{b64(other.sign(forged_si.encode()))}",
        "garbage": "garbage",
        "two parts": f"{h}.{p}",
        "padding": f"{h}.{p}.{s}==",
        "oversized": f"{h}.{'A' * 20000}.{s}",
    }
    for name, tok in cases.items():
        with pytest.raises(Invalid):
            run(verify(Gatehouse(gatehouse.url, "jwt"), tok))


def test_kid_is_required_by_default_and_the_option_relaxes_it(issuer):
    no_kid = issuer.sign(kid=None)
    assert "kid" not in json.loads(base64.urlsafe_b64decode(no_kid.split(".")[0] + "=="))
    assert refused(lambda: local(issuer), no_kid) == "no usable key for this kid"
    assert issuer.hits == 0, "refused before any JWKS fetch"
    assert run(verify(local(issuer, allow_missing_kid=True), no_kid))["sub"] == "u1"
    # relaxed, a token without kid still needs the published key's signature
    other = Ed25519PrivateKey.generate()
    with pytest.raises(Invalid):
        run(verify(local(issuer, allow_missing_kid=True), issuer.sign(kid=None, key=other)))


def test_claims_and_headers_are_checked_like_the_c_verifier(issuer):
    now = int(time.time())
    good = issuer.sign()
    assert run(verify(local(issuer), good))["sub"] == "u1"
    bad = {
        "expired": issuer.sign({"iat": now - 3600, "exp": now - 600}),
        "not yet valid": issuer.sign({"nbf": now + 3600}),
        "issued in the future": issuer.sign({"iat": now + 3600, "exp": now + 7200}),
        "wrong iss": issuer.sign({"iss": "https://evil.test"}),
        "wrong aud": issuer.sign({"aud": "https://other.test"}),
        "no sub": issuer.sign({"sub": ""}),
        "numeric sub": issuer.sign({"sub": 42}),
        "crit header": issuer.sign(headers={"crit": ["exp"]}),
        "kid not a string": issuer.raw({"alg": "EdDSA", "kid": 1}, json.dumps({"sub": "u1", "iss": issuer.ISS, "aud": issuer.AUD, "exp": now + 60})),
        "duplicate claim": issuer.raw(
            {"alg": "EdDSA", "kid": issuer.kid},
            f'{{"sub":"u1","sub":"admin","iss":"{issuer.ISS}","aud":"{issuer.AUD}","exp":{now + 60}}}',
        ),
        "duplicate header member": issuer.raw({"alg": "EdDSA", "kid": issuer.kid}, "{}").replace(
            b64(json.dumps({"alg": "EdDSA", "kid": issuer.kid}, separators=(",", ":")).encode()),
            b64(f'{{"alg":"EdDSA","alg":"EdDSA","kid":"{issuer.kid}"}}'.encode()),
            1,
        ),
    }
    for name, tok in bad.items():
        with pytest.raises(Invalid) as e:
            run(verify(local(issuer), tok))
        if name == "expired":
            assert e.value.expired
    # within the leeway: accepted
    assert run(verify(local(issuer, leeway_s=30), issuer.sign({"exp": now - 10})))["sub"] == "u1"


def test_a_key_in_the_token_itself_is_never_used(issuer):
    attacker = Ed25519PrivateKey.generate()
    import jwt as pyjwt

    jwk = json.loads(pyjwt.algorithms.OKPAlgorithm.to_jwk(attacker.public_key()))
    tok = issuer.sign(headers={"jwk": jwk, "jku": "http://127.0.0.1:1/"}, key=attacker, kid="attacker")
    with pytest.raises(Invalid):
        run(verify(local(issuer), tok))


def test_algorithms_are_pinned_to_the_jwks(issuer):
    issuer.jwks["keys"][0]["alg"] = "EdDSA"
    # ES256 in the header under an EdDSA key's kid: refused before the signature
    tok = issuer.raw({"alg": "ES256", "kid": issuer.kid}, "{}")
    assert refused(lambda: local(issuer), tok) == "algorithm not allowed for this key"


def test_jwks_is_cached_for_its_max_age_and_unknown_kids_refetch_at_most_once_per_floor(issuer):
    async def scenario():
        gh = local(issuer, jwks_min_refetch_s=30)
        try:
            for _ in range(5):
                await gh.jwt.verify(issuer.sign())
            assert issuer.hits == 1, "max-age=300: one fetch"
            for i in range(20):  # a flood of unknown kids right after a fetch: no request
                with pytest.raises(Invalid):
                    await gh.jwt.verify(issuer.sign(kid=f"bad-{i}"))
            assert issuer.hits == 1
            gh.jwt._last_attempt -= 31  # the floor has passed
            for i in range(20):  # the flood now costs exactly one request
                with pytest.raises(Invalid):
                    await gh.jwt.verify(issuer.sign(kid=f"bad2-{i}"))
            assert issuer.hits == 2
            # a rotated key is found by that refetch mechanism
            new = Ed25519PrivateKey.generate()
            import jwt as pyjwt

            pub = json.loads(pyjwt.algorithms.OKPAlgorithm.to_jwk(new.public_key()))
            issuer.jwks["keys"].append({**pub, "kid": "rotated", "alg": "EdDSA"})
            gh.jwt._last_attempt -= 31
            assert (await gh.jwt.verify(issuer.sign(key=new, kid="rotated")))["sub"] == "u1"
            assert issuer.hits == 3
        finally:
            await gh.aclose()

    run(scenario())


def test_no_cache_header_and_stale_keys_refetch(issuer):
    issuer.cache_control = "no-store"

    async def scenario():
        gh = local(issuer)
        try:
            await gh.jwt.verify(issuer.sign())
            gh.jwt._last_attempt -= 2
            await gh.jwt.verify(issuer.sign())
            assert issuer.hits == 2, "no-store: stale at once, refetched (at most once a second)"
        finally:
            await gh.aclose()

    run(scenario())


def test_issuer_unreachable_before_the_first_fetch_is_unavailable():
    gh = Gatehouse(f"http://127.0.0.1:{free_port()}", "jwt", timeout_s=1)
    i = None
    from .conftest import Issuer

    i = Issuer()
    try:
        with pytest.raises(Unavailable):
            run(verify(gh, i.sign()))
    finally:
        i.close()
