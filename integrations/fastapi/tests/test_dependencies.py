"""The FastAPI dependencies in an app, with a real gatehouse behind (and a local issuer for roles)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from gatehouse_fastapi import Gatehouse, Principal

from .conftest import GatehouseServer


def make_app(gh: Gatehouse) -> FastAPI:
    app = FastAPI()
    gh.install(app)

    @app.get("/me")
    async def me(user: Principal = Depends(gh.current_user)):
        return {"id": user.id, "email": user.email, "source": user.source}

    @app.get("/maybe")
    async def maybe(user: Principal | None = Depends(gh.optional_user)):
        return {"id": user.id if user else None}

    @app.get("/users/{user_id}/things")
    async def things(user_id: str, user: Principal = Depends(gh.require_user_id_match)):
        return {"id": user.id}

    @app.get("/admin")
    async def admin(user: Principal = Depends(gh.require_role("admin"))):
        return {"id": user.id, "roles": sorted(user.roles)}

    return app


def test_current_user_jwt_session_any(gatehouse, alice):
    for strategy, headers, source in (
        ("jwt", {"authorization": f"Bearer {alice['jwt']}"}, "jwt"),
        ("session", {"cookie": alice["cookie"]}, "session"),
        ("session", {"authorization": f"Bearer {alice['bearer']}"}, "session"),
        ("any", {"authorization": f"Bearer {alice['jwt']}"}, "jwt"),
        ("any", {"authorization": f"Bearer {alice['bearer']}"}, "session"),
        ("any", {"cookie": alice["cookie"]}, "session"),
    ):
        with TestClient(make_app(Gatehouse(gatehouse.url, strategy))) as c:
            r = c.get("/me", headers=headers)
            assert r.status_code == 200, (strategy, r.text)
            assert r.json() == {"id": alice["id"], "email": alice["email"], "source": source}


def test_401_with_www_authenticate_and_better_auth_error_shape(gatehouse, alice):
    with TestClient(make_app(Gatehouse(gatehouse.url, "jwt"))) as c:
        r = c.get("/me")
        assert r.status_code == 401
        assert r.json() == {"message": "Authentication required: send Authorization: Bearer <JWT>", "code": "UNAUTHORIZED"}
        assert r.headers["www-authenticate"] == 'Bearer realm="gatehouse"'
        r = c.get("/me", headers={"authorization": "Bearer a.b.c"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="gatehouse", error="invalid_token"'
        # a session cookie is not a JWT
        assert c.get("/me", headers={"cookie": alice["cookie"]}).status_code == 401
        assert c.get("/me", headers={"authorization": "Basic YTpi"}).status_code == 401


def test_optional_user(gatehouse, alice):
    with TestClient(make_app(Gatehouse(gatehouse.url, "session"))) as c:
        assert c.get("/maybe").json() == {"id": None}
        assert c.get("/maybe", headers={"cookie": "better-auth.session_token=forged"}).json() == {"id": None}
        assert c.get("/maybe", headers={"cookie": alice["cookie"]}).json() == {"id": alice["id"]}


def test_require_user_id_match(gatehouse, alice, bob):
    with TestClient(make_app(Gatehouse(gatehouse.url, "session"))) as c:
        assert c.get(f"/users/{alice['id']}/things", headers={"cookie": alice["cookie"]}).status_code == 200
        r = c.get(f"/users/{alice['id']}/things", headers={"cookie": bob["cookie"]})
        assert r.status_code == 403
        assert r.json()["code"] == "FORBIDDEN"
        # anonymous: 401 first, never 403
        assert c.get(f"/users/{alice['id']}/things").status_code == 401


def test_require_role(gatehouse, alice, issuer):
    # gatehouse users have no role field until the admin plugin runs: 403
    with TestClient(make_app(Gatehouse(gatehouse.url, "session"))) as c:
        r = c.get("/admin", headers={"cookie": alice["cookie"]})
        assert r.status_code == 403
        assert r.json()["code"] == "FORBIDDEN"
    # a JWT carrying the admin plugin's role claim (local issuer)
    gh = Gatehouse("http://127.0.0.1:1", "jwt", jwks_url=issuer.url, issuer=issuer.ISS, audience=issuer.AUD)
    with TestClient(make_app(gh)) as c:
        ok = c.get("/admin", headers={"authorization": f"Bearer {issuer.sign({'role': 'user,admin'})}"})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"id": "u1", "roles": ["admin", "user"]}
        assert c.get("/admin", headers={"authorization": f"Bearer {issuer.sign({'role': 'user'})}"}).status_code == 403
        assert c.get("/admin", headers={"authorization": f"Bearer {issuer.sign()}"}).status_code == 403


def test_gatehouse_down_is_503_with_retry_after():
    g = GatehouseServer()
    u = g.sign_up("Fay")
    g.stop()
    with TestClient(make_app(Gatehouse(g.url, "session", timeout_s=1))) as c:
        r = c.get("/me", headers={"cookie": u["cookie"]})
        assert r.status_code == 503
        assert r.json()["code"] == "SERVICE_UNAVAILABLE"
        assert r.headers["retry-after"] == "5"
        # optional_user does not turn an outage into "anonymous"
        assert c.get("/maybe", headers={"cookie": u["cookie"]}).status_code == 503
