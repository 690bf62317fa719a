"""API-key principals: x-api-key checked with a real gatehouse's POST /api/auth/api-key/verify
(the api-key plugin, the service token), permissions as scopes, fail closed."""

from __future__ import annotations

import base64
import hashlib
import sqlite3

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from gatehouse_fastapi import Gatehouse, Principal

from .conftest import SERVICE_TOKEN

TOKEN = SERVICE_TOKEN


def make_app(gh: Gatehouse) -> FastAPI:
    app = FastAPI()
    gh.install(app)

    @app.get("/me")
    async def me(user: Principal = Depends(gh.current_user)):
        return {"id": user.id, "source": user.source, "key": user.api_key_id}

    @app.get("/tasks")
    async def tasks(user: Principal = Depends(gh.require_permission("tasks", "read"))):
        return {"id": user.id}

    @app.post("/tasks")
    async def write(user: Principal = Depends(gh.require_permission("tasks", "write"))):
        return {"id": user.id}

    return app


def test_a_valid_key_is_its_owner_with_its_permissions(keyed):
    g, u = keyed
    with TestClient(make_app(Gatehouse(g.url, "jwt", service_token=TOKEN))) as c:
        r = c.get("/me", headers={"x-api-key": u["reader"]})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == u["id"] and r.json()["source"] == "api_key" and r.json()["key"]
        assert c.get("/tasks", headers={"x-api-key": u["reader"]}).status_code == 200
        w = c.post("/tasks", headers={"x-api-key": u["reader"]})
        assert w.status_code == 403 and w.json()["code"] == "INSUFFICIENT_SCOPE"
        assert c.get("/tasks", headers={"x-api-key": u["plain"]}).status_code == 403
        # a signed-in user acts as themselves (no scopes)
        assert c.post("/tasks", headers={"authorization": f"Bearer {u['jwt']}"}).status_code == 200


def test_unknown_or_revoked_keys_are_refused(keyed):
    g, u = keyed
    with TestClient(make_app(Gatehouse(g.url, "jwt", service_token=TOKEN, api_key_cache_ttl_s=0))) as c:
        for bad in ("nope", u["reader"][:-1] + ("a" if u["reader"][-1] != "a" else "b"), "x" * 9000):
            r = c.get("/me", headers={"x-api-key": bad})
            assert r.status_code == 401, (bad[:10], r.text)
            assert r.json()["code"] == "UNAUTHORIZED"


def test_keys_need_the_service_token_and_fail_closed(keyed):
    g, u = keyed
    # no service token configured here: an API key is never taken on trust
    with TestClient(make_app(Gatehouse(g.url, "jwt"))) as c:
        assert c.get("/me", headers={"x-api-key": u["reader"]}).status_code == 401
    # a wrong service token: gatehouse refuses the verify call itself → 503, never a pass
    with TestClient(make_app(Gatehouse(g.url, "jwt", service_token="x" * 40))) as c:
        r = c.get("/me", headers={"x-api-key": u["reader"]})
        assert r.status_code == 503 and r.headers["retry-after"] == "5"


def _stored(key: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).rstrip(b"=").decode()


def test_refusals_answer_as_gatehouse_tasks(keyed):
    g, u = keyed
    with TestClient(make_app(Gatehouse(g.url, "jwt", service_token=TOKEN, api_key_cache_ttl_s=0))) as c:
        r = c.get("/me", headers={"x-api-key": "Q" * 64})
        assert r.status_code == 401 and r.json() == {"message": "The API key is invalid", "code": "UNAUTHORIZED"}
        assert "www-authenticate" not in r.headers  # as gatehouse-tasks: a key is no Bearer challenge
        r = c.get("/tasks", headers={"x-api-key": u["plain"]})
        assert r.json() == {"message": "The API key lacks the tasks:read permission", "code": "INSUFFICIENT_SCOPE"}
        # an empty x-api-key is no credential: the request's other credential counts
        r = c.get("/me", headers={"x-api-key": "", "authorization": f"Bearer {u['jwt']}"})
        assert r.status_code == 200 and r.json()["source"] == "jwt", r.text
        # a key over its usage limit (remaining 0): gatehouse answers USAGE_EXCEEDED → 429
        spent = g.cli("apikey", "create", "--email", u["email"], "--name", "spent").strip()
        assert c.get("/me", headers={"x-api-key": spent}).status_code == 200
        with sqlite3.connect(f"{g.dir}/gatehouse.db") as db:
            assert db.execute('update "apikey" set "remaining" = 0 where "key" = ?', (_stored(spent),)).rowcount == 1
        r = c.get("/me", headers={"x-api-key": spent})
        assert r.status_code == 429 and r.json() == {"message": "The API key has reached its limit", "code": "TOO_MANY_REQUESTS"}
    with TestClient(make_app(Gatehouse(g.url, "jwt"))) as c:
        r = c.get("/me", headers={"x-api-key": u["reader"]})
        assert r.status_code == 401 and r.json() == {"message": "API keys are not accepted here", "code": "UNAUTHORIZED"}
