"""The tasks API of gatehouse-tasks (docs/tasks-api.md), in FastAPI with gatehouse_fastapi: the same
endpoints, statuses and JSON, so that the same e2e suite runs against both.

    cd integrations/fastapi
    GATEHOUSE_URL=http://localhost:3000 GATEHOUSE_AUTH=jwt /usr/bin/python3 -m uvicorn examples.tasks_app:app

Configuration (environment): GATEHOUSE_URL, GATEHOUSE_AUTH (jwt | session | any) and the other
GATEHOUSE_* variables of ``Gatehouse.from_env``; TASKS_DATABASE_URL (``sqlite:PATH``, default
``sqlite:./var/tasks.db``, or ``postgres://user:pass@host:port/db`` / ``postgresql://...`` with
python3-psycopg), TASKS_DB_POOL (PostgreSQL connections, 10), TASKS_MAX_BODY (65536),
TASKS_CORS_ORIGIN (comma list), TASKS_CORS_MAX_AGE (600), TASKS_ADMIN_ROLES (admin);
API keys as gatehouse-tasks takes them: TASKS_SERVICE_TOKEN (gatehouse's GATEHOUSE_SERVICE_TOKEN;
unset: GATEHOUSE_SERVICE_TOKEN, else API keys are refused), TASKS_API_KEY_URL,
TASKS_API_KEY_CACHE_TTL (5).

What it shows: ``Depends(gh.current_user)`` on the /api/tasks routes and
``Depends(gh.require_user_id_match)`` on /api/{user_id}/tasks (403 before any lookup), API-key
scopes from the key's permissions (``tasks:read`` for GET, ``tasks:write`` otherwise), every
database statement scoped by the caller's id (another user's task is 404, never revealed), and
database calls off the event loop (the thread pool) that fail closed (503) when the database cannot
serve.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import string
import threading
from datetime import datetime, timezone

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatehouse_fastapi import Gatehouse, GatehouseError, Principal

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
LIMIT_DEFAULT, LIMIT_MAX = 20, 100
OFFSET_MAX = 1_000_000_000
ID_MAX = 128
SPACES = " \t\n\r\v\f"
ALPHABET = string.ascii_letters + string.digits
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def _int_env(name: str, default: int, lo: int, hi: int) -> int:
    v = os.environ.get(name) or str(default)
    if not re.fullmatch(r"[0-9]+", v) or not lo <= int(v) <= hi:
        raise SystemExit(f"{name}: expected an integer from {lo} to {hi}")
    return int(v)


def _config() -> dict:
    db = os.environ.get("TASKS_DATABASE_URL") or "sqlite:./var/tasks.db"
    if not db.startswith(("sqlite:", "postgres://", "postgresql://")):
        raise SystemExit("TASKS_DATABASE_URL: expected sqlite:PATH or postgres://...")
    if db in ("sqlite:", "sqlite://"):
        raise SystemExit("TASKS_DATABASE_URL: sqlite: needs a file path")
    origins = [o.strip().rstrip("/") for o in (os.environ.get("TASKS_CORS_ORIGIN") or "").split(",") if o.strip()]
    api_key_url = os.environ.get("TASKS_API_KEY_URL") or None
    if api_key_url and not api_key_url.startswith(("http://", "https://")):
        raise SystemExit("TASKS_API_KEY_URL: expected an http:// or https:// URL")
    token = os.environ.get("TASKS_SERVICE_TOKEN") or os.environ.get("GATEHOUSE_SERVICE_TOKEN") or None
    if token is not None and len(token) < 32:
        raise SystemExit("TASKS_SERVICE_TOKEN: expected at least 32 characters (gatehouse's token)")
    return {
        "db_url": db,
        "db_pool": _int_env("TASKS_DB_POOL", 10, 1, 100),
        "max_body": _int_env("TASKS_MAX_BODY", 65536, 1024, 16777216),
        "origins": origins,
        "cors_max_age": _int_env("TASKS_CORS_MAX_AGE", 600, 0, 86400),
        "admin_roles": {r.strip() for r in os.environ.get("TASKS_ADMIN_ROLES", "admin").split(",") if r.strip()},
        "service_token": token,
        "api_key_url": api_key_url,
        "api_key_cache_ttl": _int_env("TASKS_API_KEY_CACHE_TTL", 5, 0, 60),
    }


CFG = _config()
gh = Gatehouse.from_env(
    realm="gatehouse-tasks",
    service_token=CFG["service_token"],
    api_key_url=CFG["api_key_url"] or os.environ.get("GATEHOUSE_API_KEY_URL") or None,
    api_key_cache_ttl_s=CFG["api_key_cache_ttl"],
)
app = FastAPI(title="tasks (gatehouse_fastapi example)", openapi_url=None, docs_url=None, redoc_url=None)
app.router.redirect_slashes = False
gh.install(app)


# --- storage: the table and migration ledger gatehouse-tasks creates (apps/tasks/store.c) ---------
# SQLite: dates as ISO-8601 text with milliseconds, completed 0/1. PostgreSQL: timestamptz and
# boolean. Both programs can serve the same database. Every call runs in the thread pool
# (run_in_threadpool): a slow database never blocks the event loop.

COLS = '"id", "userId", "title", "description", "completed", "createdAt", "updatedAt"'
MIGRATION = "001_tasks"


class DbUnavailable(Exception):
    """The database cannot serve this call (503 + Retry-After, as gatehouse-tasks)."""


log = logging.getLogger("tasks_app")


def _db_error(backend: str, e: Exception) -> DbUnavailable:
    """Logs the error's class and SQLSTATE, never its text (a DETAIL can hold row values)."""
    state = getattr(getattr(e, "diag", None), "sqlstate", None) or getattr(e, "sqlite_errorname", None) or ""
    log.warning("database unavailable: %s %s %s", backend, type(e).__name__, state)
    return DbUnavailable()


def _now() -> datetime:
    n = datetime.now(timezone.utc)
    return n.replace(microsecond=n.microsecond // 1000 * 1000)  # what both backends store


def _iso(v) -> str:
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return v


def _task(row) -> dict:
    return {
        "id": row[0],
        "userId": row[1],
        "title": row[2],
        "description": row[3],
        "completed": bool(row[4]),
        "createdAt": _iso(row[5]),
        "updatedAt": _iso(row[6]),
    }


class SqliteStore:
    """One connection per thread of the pool (WAL, busy timeout 5 s)."""

    P = "?"
    UPDATE = (
        'update "tasks" set "title" = case when ? then ? else "title" end, '
        '"description" = case when ? then ? else "description" end, '
        '"completed" = case when ? then ? else "completed" end, "updatedAt" = ? '
        f'where "userId" = ? and "id" = ? returning {COLS}'
    )

    def __init__(self, url: str) -> None:
        self.path = url[len("sqlite:") :].removeprefix("//")
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            d = os.path.dirname(self.path)
            if d:
                os.makedirs(d, exist_ok=True)
            c = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            c.execute("pragma journal_mode=wal")
            c.execute("pragma synchronous=normal")
            c.execute("pragma busy_timeout=5000")
            self._local.conn = c
        return c

    def run(self, fn, read: bool):
        try:
            return fn(self._conn().cursor(), self)
        except sqlite3.Error as e:
            raise _db_error("sqlite", e) from None

    @staticmethod
    def date(d: datetime):
        return _iso(d)

    @staticmethod
    def flag(b: bool):
        return int(b)

    def close(self) -> None:
        pass  # per-thread connections close with their threads

    def migrate(self) -> None:
        c = self._conn()
        c.execute("begin immediate")
        try:
            c.execute(
                'create table if not exists "tasks_migrations" ("version" integer not null primary key, '
                '"name" text not null, "appliedAt" text not null)'
            )
            if not c.execute('select 1 from "tasks_migrations" where "name" = ?', (MIGRATION,)).fetchone():
                c.execute(
                    'create table if not exists "tasks" ("id" text not null primary key, "userId" text not null, '
                    '"title" text not null, "description" text, "completed" integer not null default 0, '
                    '"createdAt" text not null, "updatedAt" text not null)'
                )
                c.execute('create index if not exists "tasks_userId_createdAt_idx" on "tasks" ("userId", "createdAt")')
                c.execute(
                    'insert into "tasks_migrations" ("version", "name", "appliedAt") values (1, ?, ?)',
                    (MIGRATION, _iso(_now())),
                )
            c.execute("commit")
        except BaseException:
            c.execute("rollback")
            raise


class PostgresStore:
    """psycopg 3 (Debian's python3-psycopg), autocommit connections in a bounded pool
    (TASKS_DB_POOL), connect_timeout 5 s and statement_timeout 10 s unless the URL sets
    connect_timeout / options. A connection that broke (server restart, outage) is dropped; a read on a
    reused connection that turns out broken is retried once on a fresh one, as gatehouse-tasks
    does (writes are not retried). Any database error is 503."""

    P = "%s"
    UPDATE = (
        'update "tasks" set "title" = case when %s::boolean then %s::text else "title" end, '
        '"description" = case when %s::boolean then %s::text else "description" end, '
        '"completed" = case when %s::boolean then %s::boolean else "completed" end, "updatedAt" = %s::timestamptz '
        f'where "userId" = %s and "id" = %s returning {COLS}'
    )

    def __init__(self, url: str, size: int) -> None:
        try:  # only with a PostgreSQL URL: SQLite users do not need it
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise SystemExit("TASKS_DATABASE_URL: PostgreSQL needs psycopg 3 (Debian: apt-get install python3-psycopg)") from None

        self.psycopg = psycopg
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise SystemExit("TASKS_DATABASE_URL: malformed PostgreSQL connection URL") from None
        # a bounded wait on every call: connect 5 s, each statement 10 s (then 503)
        self.defaults = {
            "connect_timeout": 5,
            "application_name": "gatehouse-tasks-fastapi",
            "options": "-c statement_timeout=10000",
        }
        for k in list(self.defaults):
            if k in params:
                del self.defaults[k]  # the URL's own wins
        self.url = url
        self._idle: list = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def _connect(self):
        return self.psycopg.connect(self.url, autocommit=True, **self.defaults)

    def run(self, fn, read: bool):
        pg = self.psycopg
        if not self._slots.acquire(timeout=10):
            log.warning("database unavailable: postgres: every pooled connection busy for 10 s (TASKS_DB_POOL)")
            raise DbUnavailable()
        try:
            for attempt in (0, 1):
                with self._lock:
                    conn = self._idle.pop() if self._idle else None
                reused = conn is not None
                try:
                    if conn is None:
                        conn = self._connect()
                    with conn.cursor() as cur:
                        out = fn(cur, self)
                except pg.Error as e:
                    if conn is not None and (conn.broken or conn.closed):
                        conn.close()
                        if read and reused and attempt == 0:
                            continue
                    elif conn is not None:
                        self._put(conn)
                    raise _db_error("postgres", e) from None
                self._put(conn)
                return out
        finally:
            self._slots.release()

    def _put(self, conn) -> None:
        with self._lock:
            self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    @staticmethod
    def date(d: datetime):
        return d

    @staticmethod
    def flag(b: bool):
        return b

    def migrate(self) -> None:
        with self._connect() as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(7152026101)")
            conn.execute(
                'create table if not exists "tasks_migrations" ("version" integer not null primary key, '
                '"name" text not null, "appliedAt" timestamptz not null default CURRENT_TIMESTAMP)'
            )
            if not conn.execute('select 1 from "tasks_migrations" where "name" = %s', (MIGRATION,)).fetchone():
                conn.execute(
                    'create table if not exists "tasks" ("id" text not null primary key, "userId" text not null, '
                    '"title" text not null, "description" text, "completed" boolean not null default false, '
                    '"createdAt" timestamptz not null, "updatedAt" timestamptz not null)'
                )
                conn.execute('create index if not exists "tasks_userId_createdAt_idx" on "tasks" ("userId", "createdAt")')
                conn.execute(
                    'insert into "tasks_migrations" ("version", "name", "appliedAt") values (1, %s, %s)',
                    (MIGRATION, _now()),
                )


def _store():
    url = CFG["db_url"]
    return SqliteStore(url) if url.startswith("sqlite:") else PostgresStore(url, CFG["db_pool"])


STORE = _store()
app.add_event_handler("startup", lambda: STORE.migrate())
app.add_event_handler("shutdown", lambda: STORE.close())


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


# --- handlers (sync: run in the thread pool; cur is a cursor of the store's connection) ------------


def _sql(store, q: str) -> str:
    return q.replace("?", store.P)


def _list(cur, st, uid: str | None, limit: int, offset: int) -> JSONResponse:
    where, args = ('where "userId" = ? ', (uid,)) if uid is not None else ("", ())
    cur.execute(_sql(st, f'select count(*) from "tasks" {where}'), args)
    total = cur.fetchone()[0]
    cur.execute(
        _sql(st, f'select {COLS} from "tasks" {where}order by "createdAt" desc, "id" desc limit ? offset ?'),
        (*args, limit, offset),
    )
    rows = cur.fetchall()
    return JSONResponse({"tasks": [_task(r) for r in rows], "total": total, "limit": limit, "offset": offset})


def _create(cur, st, uid: str, fields: dict) -> JSONResponse:
    tid = "".join(secrets.choice(ALPHABET) for _ in range(32))
    now = st.date(_now())
    row = (tid, uid, fields["title"], fields.get("description"), st.flag(bool(fields.get("completed", False))), now, now)
    cur.execute(_sql(st, f'insert into "tasks" ({COLS}) values (?, ?, ?, ?, ?, ?, ?)'), row)
    return JSONResponse(_task(row), status_code=201, headers={"Location": f"/api/tasks/{tid}"})


def _get(cur, st, uid: str, tid: str) -> JSONResponse:
    cur.execute(_sql(st, f'select {COLS} from "tasks" where "userId" = ? and "id" = ?'), (uid, tid))
    r = cur.fetchone()
    return JSONResponse(_task(r)) if r else not_found()


def _update(cur, st, uid: str, tid: str, fields: dict, put: bool) -> JSONResponse:
    if put:
        fields = {"title": fields["title"], "description": fields.get("description"), "completed": fields.get("completed", False)}
    cur.execute(
        st.UPDATE,
        (
            "title" in fields,
            fields.get("title"),
            "description" in fields,
            fields.get("description"),
            "completed" in fields,
            st.flag(bool(fields.get("completed"))),
            st.date(_now()),
            uid,
            tid,
        ),
    )
    r = cur.fetchone()
    return JSONResponse(_task(r)) if r else not_found()


def _delete(cur, st, uid: str, tid: str) -> Response:
    cur.execute(_sql(st, 'delete from "tasks" where "userId" = ? and "id" = ?'), (uid, tid))
    return Response(status_code=204) if cur.rowcount else not_found()


async def _run(fn, *args, read: bool = False):
    try:
        return await run_in_threadpool(STORE.run, lambda cur, st: fn(cur, st, *args), read)
    except DbUnavailable:
        return db_unavailable()


async def _collection(request: Request, user: Principal, scoped: bool):
    if request.method == "GET":
        # ?all=true on /api/tasks: every user's tasks, for a caller with a role of TASKS_ADMIN_ROLES
        q = request.query_params.getlist("all")
        every = not scoped and bool(q) and q[0] == "true"
        if every and not (user.roles & CFG["admin_roles"]):
            return error(403, "FORBIDDEN", "Forbidden: listing every user's tasks needs an admin role")
        limit = _query_int(request, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT)
        if isinstance(limit, Response):
            return limit
        offset = _query_int(request, "offset", 0, OFFSET_MAX, 0)
        if isinstance(offset, Response):
            return offset
        return await _run(_list, None if every else user.id, limit, offset, read=True)
    fields = await _body(request, True, False)
    if isinstance(fields, Response):
        return fields
    return await _run(_create, user.id, fields)


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
        return await _run(_get, uid, tid, read=True)
    if m == "DELETE":
        return await _run(_delete, uid, tid)
    return await _run(_update, uid, tid, fields, m == "PUT")


# --- routes -----------------------------------------------------------------------------------------


async def scope(request: Request, user: Principal = Depends(gh.current_user)) -> Principal:
    """An API key needs tasks:read for GET and tasks:write for every other method (403
    INSUFFICIENT_SCOPE, checked before the path's user id); a signed-in user holds both."""
    action = "read" if request.method == "GET" else "write"
    if user.source == "api_key" and not user.allows("tasks", action):
        raise GatehouseError(403, "INSUFFICIENT_SCOPE", f"The API key lacks the tasks:{action} permission")
    return user


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.api_route("/api/tasks", methods=["GET", "POST"])
async def tasks(request: Request, user: Principal = Depends(scope)):
    return await _collection(request, user, False)


@app.api_route("/api/tasks/{task_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
async def task(task_id: str, request: Request, user: Principal = Depends(scope)):
    return await _item(request, user.id, task_id)


# the scope first (dependencies resolve in order; current_user runs once per request)
@app.api_route("/api/{user_id}/tasks", methods=["GET", "POST"])
async def user_tasks(request: Request, _s: Principal = Depends(scope), user: Principal = Depends(gh.require_user_id_match)):
    return await _collection(request, user, True)


@app.api_route("/api/{user_id}/tasks/{task_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
async def user_task(
    task_id: str, request: Request, _s: Principal = Depends(scope), user: Principal = Depends(gh.require_user_id_match)
):
    return await _item(request, user.id, task_id)
