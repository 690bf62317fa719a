"""The example app (examples/tasks_app.py) with a real gatehouse, on SQLite and on a real
PostgreSQL: the gatehouse-tasks contract in short (the e2e suite tests/e2e/tasks.test.mjs runs every
gatehouse-tasks scenario against it), its PostgreSQL schema, API keys, and a database that cannot
serve."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
import threading
import time

import pytest
from fastapi.testclient import TestClient

from .conftest import SERVICE_TOKEN

APP_ENV = (
    "GATEHOUSE_URL",
    "GATEHOUSE_AUTH",
    "TASKS_DATABASE_URL",
    "TASKS_SERVICE_TOKEN",
    "GATEHOUSE_SERVICE_TOKEN",
    "TASKS_API_KEY_CACHE_TTL",
    "TASKS_DB_POOL",
)


@contextlib.contextmanager
def example(gatehouse_url: str, auth: str, database_url: str, **env: str):
    """A TestClient on a fresh import of the example configured by exactly these variables."""
    saved = {k: os.environ.pop(k) for k in APP_ENV if k in os.environ}
    os.environ.update(GATEHOUSE_URL=gatehouse_url, GATEHOUSE_AUTH=auth, TASKS_DATABASE_URL=database_url, **env)
    try:
        sys.modules.pop("examples.tasks_app", None)
        mod = importlib.import_module("examples.tasks_app")
        with TestClient(mod.app) as c:
            yield c, mod
    finally:
        for k in APP_ENV:
            os.environ.pop(k, None)
        os.environ.update(saved)


def sqlite_url() -> str:
    return f"sqlite:{tempfile.mkdtemp(prefix='gh-pytest-tasks-')}/tasks.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request):
    if request.param == "sqlite":
        return sqlite_url()
    return request.getfixturevalue("postgres").create_database()[1]


def test_isolation_and_errors(gatehouse, alice, bob, database_url):
    for auth, cred in (("jwt", lambda u: {"authorization": f"Bearer {u['jwt']}"}), ("session", lambda u: {"cookie": u["cookie"]})):
        with example(gatehouse.url, auth, database_url) as (c, _):
            assert c.get("/health").json() == {"status": "ok"}
            r = c.get("/api/tasks")
            assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
            assert r.headers["www-authenticate"].startswith('Bearer realm="gatehouse-tasks"')
            t = c.post("/api/tasks", json={"title": "  mine  "}, headers=cred(alice))
            assert t.status_code == 201, t.text
            task = t.json()
            assert list(task) == ["id", "userId", "title", "description", "completed", "createdAt", "updatedAt"]
            assert task["userId"] == alice["id"] and task["title"] == "mine"
            assert t.headers["location"] == f"/api/tasks/{task['id']}"
            for m in ("GET", "DELETE"):
                r = c.request(m, f"/api/tasks/{task['id']}", headers=cred(bob))
                assert r.status_code == 404 and r.json() == {"message": "Task not found", "code": "NOT_FOUND"}
            r = c.patch(f"/api/tasks/{task['id']}", json={"completed": True}, headers=cred(alice))
            assert r.status_code == 200 and r.json()["completed"] is True and r.json()["createdAt"] == task["createdAt"]
            r = c.get(f"/api/{alice['id']}/tasks", headers=cred(bob))
            assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
            own = c.get(f"/api/{alice['id']}/tasks", headers=cred(alice)).json()
            assert [x["id"] for x in own["tasks"]] == [task["id"]] and own["total"] == 1
            assert c.delete(f"/api/tasks/{task['id']}", headers=cred(alice)).status_code == 204
            r = c.post("/api/tasks", json={"title": "x", "userId": bob["id"]}, headers=cred(alice))
            assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
            r = c.delete("/api/tasks", headers=cred(alice))
            assert r.status_code == 405 and r.headers["allow"] == "GET, POST, OPTIONS"
            # ?all=true needs an admin role (TASKS_ADMIN_ROLES), as in gatehouse-tasks
            r = c.get("/api/tasks?all=true", headers=cred(alice))
            assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


def test_postgres_schema_is_gatehouse_tasks(gatehouse, postgres):
    """The same table, column types, index and migration ledger as apps/tasks/store.c on
    PostgreSQL, so that both programs can serve one database; a second start adds nothing."""
    name, url = postgres.create_database()
    for _ in range(2):
        with example(gatehouse.url, "jwt", url):
            pass
    cols = postgres.admin(
        "select column_name, data_type, is_nullable, column_default from information_schema.columns "
        "where table_name = 'tasks' order by ordinal_position",
        name,
    )
    assert cols == [
        ("id", "text", "NO", None),
        ("userId", "text", "NO", None),
        ("title", "text", "NO", None),
        ("description", "text", "YES", None),
        ("completed", "boolean", "NO", "false"),
        ("createdAt", "timestamp with time zone", "NO", None),
        ("updatedAt", "timestamp with time zone", "NO", None),
    ]
    idx = postgres.admin("select indexname, indexdef from pg_indexes where tablename = 'tasks' order by 1", name)
    assert [i[0] for i in idx] == ["tasks_pkey", "tasks_userId_createdAt_idx"]
    assert idx[1][1].endswith('("userId", "createdAt")')
    ledger = postgres.admin(
        "select version, name, pg_typeof(\"appliedAt\")::text from tasks_migrations", name
    )
    assert ledger == [(1, "001_tasks", "timestamp with time zone")]


def test_api_keys_with_scopes(keyed, database_url):
    g, u = keyed
    with example(g.url, "jwt", database_url, TASKS_SERVICE_TOKEN=SERVICE_TOKEN, TASKS_API_KEY_CACHE_TTL="0") as (c, _):
        made = c.post("/api/tasks", json={"title": "by a key"}, headers={"x-api-key": u["writer"]})
        assert made.status_code == 201, made.text
        assert made.json()["userId"] == u["id"]
        r = c.get(f"/api/{u['id']}/tasks", headers={"x-api-key": u["reader"]})
        assert r.status_code == 200 and [t["title"] for t in r.json()["tasks"]] == ["by a key"]
        r = c.delete(f"/api/tasks/{made.json()['id']}", headers={"x-api-key": u["reader"]})
        assert r.status_code == 403
        assert r.json() == {"message": "The API key lacks the tasks:write permission", "code": "INSUFFICIENT_SCOPE"}
        # the scope comes before the path's user id (as gatehouse-tasks checks them)
        r = c.post("/api/someone-else/tasks", json={"title": "x"}, headers={"x-api-key": u["reader"]})
        assert r.status_code == 403 and r.json()["code"] == "INSUFFICIENT_SCOPE"
        r = c.get("/api/tasks", headers={"x-api-key": u["plain"]})
        assert r.status_code == 403 and r.json()["code"] == "INSUFFICIENT_SCOPE"
        r = c.get("/api/tasks", headers={"x-api-key": "Q" * 64})
        assert r.status_code == 401 and r.json() == {"message": "The API key is invalid", "code": "UNAUTHORIZED"}
        # the owner signed in is not limited by any key's scopes
        assert c.delete(f"/api/tasks/{made.json()['id']}", headers={"authorization": f"Bearer {u['jwt']}"}).status_code == 204
    # without TASKS_SERVICE_TOKEN (nor GATEHOUSE_SERVICE_TOKEN) keys are refused
    with example(g.url, "jwt", database_url) as (c, _):
        r = c.get("/api/tasks", headers={"x-api-key": u["writer"]})
        assert r.status_code == 401 and r.json() == {"message": "API keys are not accepted here", "code": "UNAUTHORIZED"}
    # GATEHOUSE_SERVICE_TOKEN (the package's own variable) works when TASKS_SERVICE_TOKEN is unset
    with example(g.url, "jwt", database_url, GATEHOUSE_SERVICE_TOKEN=SERVICE_TOKEN) as (c, _):
        assert c.get("/api/tasks", headers={"x-api-key": u["reader"]}).status_code == 200


def _unavailable(r) -> None:
    assert r.status_code == 503, r.text
    assert r.json() == {"message": "The database is unavailable. Try again later.", "code": "SERVICE_UNAVAILABLE"}
    assert r.headers["retry-after"] == "5"


def test_postgres_refusing_connections_is_503_then_recovers(gatehouse, alice, postgres):
    """The database stops taking connections and drops the app's: every call is 503 + Retry-After
    with gatehouse-tasks' JSON, nothing is written, and the app serves again once it is back."""
    name, url = postgres.create_database()
    auth = {"authorization": f"Bearer {alice['jwt']}"}
    with example(gatehouse.url, "jwt", url) as (c, _):
        kept = c.post("/api/tasks", json={"title": "before"}, headers=auth).json()
        postgres.admin(f'alter database "{name}" allow_connections false')
        postgres.admin(f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'")
        try:
            for m, p, body in (
                ("GET", "/api/tasks", None),
                ("GET", f"/api/tasks/{kept['id']}", None),
                ("POST", "/api/tasks", {"title": "during"}),
                ("PATCH", f"/api/tasks/{kept['id']}", {"completed": True}),
                ("DELETE", f"/api/tasks/{kept['id']}", None),
            ):
                _unavailable(c.request(m, p, json=body, headers=auth))
        finally:
            postgres.admin(f'alter database "{name}" allow_connections true')
        r = c.get("/api/tasks", headers=auth)
        assert r.status_code == 200, r.text
        assert [(t["id"], t["title"], t["completed"]) for t in r.json()["tasks"]] == [(kept["id"], "before", False)]
        # a table that is gone (any database error) is 503 too, never 500
        postgres.admin('alter table "tasks" rename to "tasks_away"', name)
        try:
            _unavailable(c.get("/api/tasks", headers=auth))
        finally:
            postgres.admin('alter table "tasks_away" rename to "tasks"', name)
        assert c.get("/api/tasks", headers=auth).status_code == 200


def test_a_slow_database_call_does_not_block_the_event_loop(gatehouse, alice, postgres):
    """A list waits on a table lock held by another session: meanwhile /health (no database)
    and other requests are still answered, so the database call runs off the event loop; past its
    statement timeout the wait ends in 503."""
    name, url = postgres.create_database()
    auth = {"authorization": f"Bearer {alice['jwt']}"}
    import psycopg

    with example(gatehouse.url, "jwt", url) as (c, mod):
        assert c.get("/api/tasks", headers=auth).status_code == 200  # JWKS fetched, pool warm
        show = lambda cur, st: (cur.execute("show statement_timeout"), cur.fetchone()[0])[1]  # noqa: E731
        assert mod.STORE.run(show, True) == "10s", "the default statement timeout"
        locker = psycopg.connect(url)
        locker.execute('lock table "tasks" in access exclusive mode')
        out: dict = {}
        t = threading.Thread(target=lambda: out.update(res=c.get("/api/tasks", headers=auth)))
        t.start()
        try:
            deadline = time.monotonic() + 20
            while not postgres.admin(
                "select 1 from pg_stat_activity where application_name = 'gatehouse-tasks-fastapi' "
                f"and datname = '{name}' and wait_event_type = 'Lock'"
            ):
                assert time.monotonic() < deadline, "the list never waited on the lock"
                time.sleep(0.05)
            # answered while the list waits (a blocked event loop would answer nothing until the
            # lock goes: the request is given up after 15 s and the test fails)
            side: dict = {}
            h = threading.Thread(target=lambda: side.update(health=c.get("/health"), anon=c.get("/api/tasks")))
            h.start()
            h.join(15)
            assert not h.is_alive(), "the event loop is blocked by a database call"
            assert side["health"].json() == {"status": "ok"} and side["anon"].status_code == 401
            assert t.is_alive() and "res" not in out
        finally:
            locker.rollback()
            locker.close()
        t.join(30)
        assert out["res"].status_code == 200
    # a statement over its timeout (statement_timeout from the URL's options) is 503, not a hang
    with example(gatehouse.url, "jwt", url + "?options=-c%20statement_timeout%3D200") as (c, _):
        locker = psycopg.connect(url)
        locker.execute('lock table "tasks" in access exclusive mode')
        try:
            _unavailable(c.get("/api/tasks", headers=auth))
        finally:
            locker.rollback()
            locker.close()
        assert c.get("/api/tasks", headers=auth).status_code == 200
