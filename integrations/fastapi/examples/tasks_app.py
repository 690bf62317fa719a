"""The tasks API of gatehouse-tasks (docs/tasks-api.md), in FastAPI with gatehouse_fastapi: the same
endpoints, statuses and JSON, so that the same e2e suite runs against both.

    cd integrations/fastapi
    GATEHOUSE_URL=http://localhost:3000 GATEHOUSE_AUTH=jwt /usr/bin/python3 -m uvicorn examples.tasks_app:app

Configuration (environment): GATEHOUSE_URL, GATEHOUSE_AUTH (jwt | session | any) and the other
GATEHOUSE_* variables of ``Gatehouse.from_env``; TASKS_DATABASE_URL (``sqlite:PATH``, default
``sqlite:./var/tasks.db``; PostgreSQL is not supported by this example), TASKS_MAX_BODY (65536),
TASKS_CORS_ORIGIN (comma list), TASKS_CORS_MAX_AGE (600).

What it shows: ``Depends(gh.current_user)`` on the /api/tasks routes and
``Depends(gh.require_user_id_match)`` on /api/{user_id}/tasks (403 before any lookup), every
database statement scoped by the caller's id (another user's task is 404, never revealed).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import string
import threading
from datetime import datetime, timezone

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatehouse_fastapi import Gatehouse, Principal

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
LIMIT_DEFAULT, LIMIT_MAX = 20, 100
OFFSET_MAX = 1_000_000_000
ID_MAX = 128
SPACES = " \t\n\r\v\f"
ALPHABET = string.ascii_letters + string.digits
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def _config() -> dict:
    db = os.environ.get("TASKS_DATABASE_URL") or "sqlite:./var/tasks.db"
    if not db.startswith("sqlite:") or db in ("sqlite:", "sqlite://"):
        raise SystemExit("TASKS_DATABASE_URL: this example supports sqlite:PATH only")
    origins = [o.strip().rstrip("/") for o in (os.environ.get("TASKS_CORS_ORIGIN") or "").split(",") if o.strip()]
    return {
        "db_path": db[len("sqlite:") :].removeprefix("//"),
        "max_body": int(os.environ.get("TASKS_MAX_BODY") or 65536),
        "origins": origins,
        "cors_max_age": int(os.environ.get("TASKS_CORS_MAX_AGE") or 600),
    }


CFG = _config()
gh = Gatehouse.from_env(realm="gatehouse-tasks")
app = FastAPI(title="tasks (gatehouse_fastapi example)", openapi_url=None, docs_url=None, redoc_url=None)
app.router.redirect_slashes = False
gh.install(app)


# --- storage (the table gatehouse-tasks creates, on SQLite) ------------------------------------

_local = threading.local()
_migrate_lock = threading.Lock()


def _db() -> sqlite3.Connection:
    c = getattr(_local, "conn", None)
    if c is None:
        d = os.path.dirname(CFG["db_path"])
        if d:
            os.makedirs(d, exist_ok=True)
        c = sqlite3.connect(CFG["db_path"], timeout=5.0, isolation_level=None, check_same_thread=False)
        c.execute("pragma journal_mode=wal")
        c.execute("pragma synchronous=normal")
        c.execute("pragma busy_timeout=5000")
        _local.conn = c
    return c


def _migrate() -> None:
    with _migrate_lock:
        c = _db()
        c.execute("begin immediate")
        try:
            c.execute(
                'create table if not exists "tasks_migrations" ("version" integer not null primary key, '
                '"name" text not null, "appliedAt" text not null)'
            )
            if not c.execute('select 1 from "tasks_migrations" where "name" = ?', ("001_tasks",)).fetchone():
                c.execute(
                    'create table if not exists "tasks" ("id" text not null primary key, "userId" text not null, '
                    '"title" text not null, "description" text, "completed" integer not null default 0, '
                    '"createdAt" text not null, "updatedAt" text not null)'
                )
                c.execute('create index if not exists "tasks_userId_createdAt_idx" on "tasks" ("userId", "createdAt")')
                c.execute(
                    'insert into "tasks_migrations" ("version", "name", "appliedAt") values (1, ?, ?)',
                    ("001_tasks", _now()),
                )
            c.execute("commit")
        except BaseException:
            c.execute("rollback")
            raise


app.add_event_handler("startup", _migrate)

COLS = '"id", "userId", "title", "description", "completed", "createdAt", "updatedAt"'


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _task(row) -> dict:
    return {
        "id": row[0],
        "userId": row[1],
        "title": row[2],
        "description": row[3],
        "completed": bool(row[4]),
        "createdAt": row[5],
        "updatedAt": row[6],
    }


# --- answers -------------------------------------------------------------------------------------


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "code": code}, status_code=status, headers=headers)


def validation(message: str) -> JSONResponse:
    return error(400, "VALIDATION_ERROR", message)


def not_found() -> JSONResponse:
    return error(404, "NOT_FOUND", "Task not found")


def db_unavailable() -> JSONResponse:
    return error(503, "SERVICE_UNAVAILABLE", "The database is unavailable. Try again later.", {"Retry-After": "5"})


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 405:
        has_id = bool(re.fullmatch(r"/api/(tasks/[^/]+|[^/]+/tasks/[^/]+)", request.url.path))
        allow = "GET, PUT, PATCH, DELETE, OPTIONS" if has_id else "GET, POST, OPTIONS"
        return error(405, "METHOD_NOT_ALLOWED", "Method not allowed", {"Allow": allow})
    if exc.status_code == 404:
        return error(404, "NOT_FOUND", "Not found")
    return error(exc.status_code, "ERROR", str(exc.detail))


@app.middleware("http")
async def limits_and_cors(request: Request, call_next):
    origins = CFG["origins"]
    origin = request.headers.get("origin")
    listed = origin if origin in origins else None
    if request.method == "OPTIONS":  # preflight, any path
        res: Response = Response(status_code=204, headers={"Allow": ALLOW_METHODS})
        if origins:
            res.headers["Vary"] = "Origin"
        if listed:
            res.headers.update(
                {
                    "Access-Control-Allow-Origin": listed,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Max-Age": str(CFG["cors_max_age"]),
                }
            )
        return res
    cl = request.headers.get("content-length")
    if cl is not None and cl.isdigit() and int(cl) > CFG["max_body"]:  # before authentication
        return error(413, "PAYLOAD_TOO_LARGE", "Request body too large")
    res = await call_next(request)
    if origins:
        res.headers["Vary"] = "Origin"
        if listed:
            res.headers["Access-Control-Allow-Origin"] = listed
            res.headers["Access-Control-Allow-Credentials"] = "true"
            res.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate, Retry-After, Location"
    return res


# --- input ----------------------------------------------------------------------------------------


async def _body(request: Request, need_title: bool, need_one: bool) -> dict | JSONResponse:
    """The validated fields present in the JSON object body, or the 4xx answer."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > CFG["max_body"]:
            return error(413, "PAYLOAD_TOO_LARGE", "Request body too large")
    ct = request.headers.get("content-type")
    if (ct is not None or raw) and not (ct and re.match(r"^\s*application/json\s*($|;)", ct, re.I)):
        return error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    if not raw:
        return validation("The request body must be a JSON object")

    def no_dupes(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError("duplicate")
            d[k] = v
        return d

    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dupes)
    except (ValueError, UnicodeDecodeError):
        return validation("The request body is not valid JSON")
    if not isinstance(body, dict):
        return validation("The request body must be a JSON object")
    out: dict = {}
    for k, v in body.items():
        if k == "title":
            if not isinstance(v, str):
                return validation("title must be a string")
            if "\0" in v:
                return validation("title must not contain NUL characters")
            t = v.strip(SPACES)
            if not 1 <= len(t) <= TITLE_MAX:
                return validation("title must be 1 to 200 characters long (surrounding spaces trimmed)")
            out["title"] = t
        elif k == "description":
            if v is not None and not isinstance(v, str):
                return validation("description must be a string or null")
            if isinstance(v, str) and "\0" in v:
                return validation("description must not contain NUL characters")
            if isinstance(v, str) and len(v) > DESCRIPTION_MAX:
                return validation("description must be at most 2000 characters long")
            out["description"] = v
        elif k == "completed":
            if not isinstance(v, bool):
                return validation("completed must be a boolean")
            out["completed"] = v
        else:
            return validation(f'Unknown field "{k[:64]}" (allowed: title, description, completed)')
    if need_title and "title" not in out:
        return validation("title is required")
    if need_one and not out:
        return validation("At least one of title, description, completed is required")
    return out


def _query_int(request: Request, name: str, lo: int, hi: int, default: int) -> int | JSONResponse:
    vals = request.query_params.getlist(name)
    if not vals:
        return default
    v = vals[0]
    if not re.fullmatch(r"-?[0-9]+", v) or not lo <= int(v) <= hi:
        return validation(f"{name} must be an integer from {lo} to {hi}")
    return int(v)


# --- handlers (sync: run in the thread pool with a per-thread SQLite connection) -------------------


def _list(uid: str, limit: int, offset: int) -> JSONResponse:
    c = _db()
    total = c.execute('select count(*) from "tasks" where "userId" = ?', (uid,)).fetchone()[0]
    rows = c.execute(
        f'select {COLS} from "tasks" where "userId" = ? order by "createdAt" desc, "id" desc limit ? offset ?',
        (uid, limit, offset),
    ).fetchall()
    return JSONResponse({"tasks": [_task(r) for r in rows], "total": total, "limit": limit, "offset": offset})


def _create(uid: str, fields: dict) -> JSONResponse:
    tid = "".join(secrets.choice(ALPHABET) for _ in range(32))
    now = _now()
    row = (tid, uid, fields["title"], fields.get("description"), int(fields.get("completed", False)), now, now)
    _db().execute(f'insert into "tasks" ({COLS}) values (?, ?, ?, ?, ?, ?, ?)', row)
    return JSONResponse(_task(row), status_code=201, headers={"Location": f"/api/tasks/{tid}"})


def _get(uid: str, tid: str) -> JSONResponse:
    r = _db().execute(f'select {COLS} from "tasks" where "userId" = ? and "id" = ?', (uid, tid)).fetchone()
    return JSONResponse(_task(r)) if r else not_found()


def _update(uid: str, tid: str, fields: dict, put: bool) -> JSONResponse:
    if put:
        fields = {"title": fields["title"], "description": fields.get("description"), "completed": fields.get("completed", False)}
    r = _db().execute(
        'update "tasks" set "title" = case when ? then ? else "title" end, '
        '"description" = case when ? then ? else "description" end, '
        '"completed" = case when ? then ? else "completed" end, "updatedAt" = ? '
        f'where "userId" = ? and "id" = ? returning {COLS}',
        (
            "title" in fields,
            fields.get("title"),
            "description" in fields,
            fields.get("description"),
            "completed" in fields,
            int(bool(fields.get("completed"))),
            _now(),
            uid,
            tid,
        ),
    ).fetchone()
    return JSONResponse(_task(r)) if r else not_found()


def _delete(uid: str, tid: str) -> Response:
    n = _db().execute('delete from "tasks" where "userId" = ? and "id" = ?', (uid, tid)).rowcount
    return Response(status_code=204) if n else not_found()


async def _run(fn, *args):
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(fn, *args)
    except sqlite3.OperationalError:
        return db_unavailable()


async def _collection(request: Request, uid: str):
    if request.method == "GET":
        limit = _query_int(request, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT)
        if isinstance(limit, Response):
            return limit
        offset = _query_int(request, "offset", 0, OFFSET_MAX, 0)
        if isinstance(offset, Response):
            return offset
        return await _run(_list, uid, limit, offset)
    fields = await _body(request, True, False)
    if isinstance(fields, Response):
        return fields
    return await _run(_create, uid, fields)


async def _item(request: Request, uid: str, tid: str):
    m = request.method
    fields = None
    if m in ("PUT", "PATCH"):
        fields = await _body(request, m == "PUT", m == "PATCH")
        if isinstance(fields, Response):
            return fields
    if len(tid) > ID_MAX:
        return not_found()
    if m == "GET":
        return await _run(_get, uid, tid)
    if m == "DELETE":
        return await _run(_delete, uid, tid)
    return await _run(_update, uid, tid, fields, m == "PUT")


# --- routes -----------------------------------------------------------------------------------------


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.api_route("/api/tasks", methods=["GET", "POST"])
async def tasks(request: Request, user: Principal = Depends(gh.current_user)):
    return await _collection(request, user.id)


@app.api_route("/api/tasks/{task_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
async def task(task_id: str, request: Request, user: Principal = Depends(gh.current_user)):
    return await _item(request, user.id, task_id)


@app.api_route("/api/{user_id}/tasks", methods=["GET", "POST"])
async def user_tasks(request: Request, user: Principal = Depends(gh.require_user_id_match)):
    return await _collection(request, user.id)


@app.api_route("/api/{user_id}/tasks/{task_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
async def user_task(task_id: str, request: Request, user: Principal = Depends(gh.require_user_id_match)):
    return await _item(request, user.id, task_id)
