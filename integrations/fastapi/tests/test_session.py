"""The session strategy against a real gatehouse: delegation to get-session."""

from __future__ import annotations

import pytest

from gatehouse_fastapi import Gatehouse, Invalid, Unavailable
from gatehouse_fastapi._session import session_cookie_header

from .conftest import GatehouseServer, free_port, run


async def verify(gh: Gatehouse, cookie=None, bearer=None):
    try:
        return await gh.session.verify(cookie, bearer)
    finally:
        await gh.aclose()


def test_cookie_and_bearer_session_token_are_delegated(gatehouse, alice):
    for cookie, bearer in ((alice["cookie"], None), (None, alice["bearer"])):
        doc = run(verify(Gatehouse(gatehouse.url, "session"), cookie, bearer))
        assert doc["user"]["id"] == alice["id"]
        assert doc["session"]["userId"] == alice["id"]


def test_only_session_cookies_are_forwarded():
    assert session_cookie_header("theme=dark; better-auth.session_token=abc.def; other=1") == "better-auth.session_token=abc.def"
    assert session_cookie_header("theme=dark; other=1") is None
    assert session_cookie_header("__Secure-better-auth.session_token=x") == "__Secure-better-auth.session_token=x"


def test_no_forged_or_missing_session_gets_through(gatehouse):
    for cookie, bearer in ((None, None), ("better-auth.session_token=garbage", None), (None, "not-a-session"), (None, "x" * 5000), (None, "a\nb")):
        with pytest.raises(Invalid):
            run(verify(Gatehouse(gatehouse.url, "session"), cookie, bearer))


def test_sign_out_is_seen_at_once():
    g = GatehouseServer()
    try:
        u = g.sign_up("Dave")
        assert run(verify(Gatehouse(g.url, "session"), u["cookie"]))["user"]["id"] == u["id"]
        g.sign_out(u)
        with pytest.raises(Invalid):
            run(verify(Gatehouse(g.url, "session"), u["cookie"]))
        with pytest.raises(Invalid):
            run(verify(Gatehouse(g.url, "session"), None, u["bearer"]))
    finally:
        g.stop()


def test_gatehouse_unreachable_fails_closed():
    g = GatehouseServer()
    u = g.sign_up("Erin")
    g.stop()
    with pytest.raises(Unavailable):
        run(verify(Gatehouse(g.url, "session", timeout_s=1), u["cookie"]))
    with pytest.raises(Unavailable):
        run(verify(Gatehouse(f"http://127.0.0.1:{free_port()}", "session", timeout_s=1), None, u["bearer"]))
