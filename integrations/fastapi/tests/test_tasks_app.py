"""The example app (examples/tasks_app.py) with a real gatehouse: the gatehouse-tasks contract in
short (the e2e suite tests/e2e/tasks.test.mjs runs every gatehouse-tasks scenario against it)."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile

from fastapi.testclient import TestClient


def load_app(gatehouse_url: str, auth: str):
    os.environ.update(
        GATEHOUSE_URL=gatehouse_url,
        GATEHOUSE_AUTH=auth,
        TASKS_DATABASE_URL=f"sqlite:{tempfile.mkdtemp(prefix='gh-pytest-tasks-')}/tasks.db",
    )
    sys.modules.pop("examples.tasks_app", None)
    return importlib.import_module("examples.tasks_app").app


def test_isolation_and_errors(gatehouse, alice, bob):
    for auth, cred in (("jwt", lambda u: {"authorization": f"Bearer {u['jwt']}"}), ("session", lambda u: {"cookie": u["cookie"]})):
        with TestClient(load_app(gatehouse.url, auth)) as c:
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
            r = c.get(f"/api/{alice['id']}/tasks", headers=cred(bob))
            assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
            own = c.get(f"/api/{alice['id']}/tasks", headers=cred(alice)).json()
            assert [x["id"] for x in own["tasks"]] == [task["id"]] and own["total"] == 1
            assert c.delete(f"/api/tasks/{task['id']}", headers=cred(alice)).status_code == 204
            r = c.post("/api/tasks", json={"title": "x", "userId": bob["id"]}, headers=cred(alice))
            assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
            r = c.delete("/api/tasks", headers=cred(alice))
            assert r.status_code == 405 and r.headers["allow"] == "GET, POST, OPTIONS"
