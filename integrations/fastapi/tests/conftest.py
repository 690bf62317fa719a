"""Fixtures: a REAL gatehouse (the binary built from this repository, GATEHOUSE_BIN or
build/gatehouse) on a free loopback port with its own SQLite database, users signed up over its
HTTP API, a gatehouse with the api-key plugin and the service token, a local JWKS issuer (for
tokens gatehouse would never sign: no kid, attacks), and a real PostgreSQL for the example app
(GH_TEST_PG_URL, else a throwaway cluster from scripts/pg-temp.sh) with a fresh database per use."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[3]
GATEHOUSE_BIN = os.environ.get("GATEHOUSE_BIN") or str(REPO / "build" / "gatehouse")
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(coro):
    """Runs a coroutine on a new event loop (each test builds its own Gatehouse inside)."""
    return asyncio.run(coro)


class GatehouseServer:
    def __init__(self, env: dict | None = None) -> None:
        if not os.path.exists(GATEHOUSE_BIN):
            pytest.fail(f"gatehouse binary not found at {GATEHOUSE_BIN} (build it, or set GATEHOUSE_BIN)")
        self.dir = tempfile.mkdtemp(prefix="gh-pytest-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")},
            "PORT": str(self.port),
            "GATEHOUSE_HOST": "127.0.0.1",
            "GATEHOUSE_BASE_URL": self.url,
            "GATEHOUSE_SECRET": "pytest-secret-0123456789abcdefghijklmnopqrstuvwxyz",
            "GATEHOUSE_ENV": "development",
            "DATABASE_URL": f"sqlite:{self.dir}/gatehouse.db",
            **(env or {}),
        }
        self.env = full
        self.log = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen([GATEHOUSE_BIN, "serve", "--migrate"], env=full, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"gatehouse exited: {Path(self.dir, 'stderr.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/auth/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("gatehouse did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def cli(self, *args: str) -> str:
        """Runs the gatehouse CLI on this server's database; its stdout."""
        r = subprocess.run([GATEHOUSE_BIN, *args], env=self.env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def sign_up(self, name: str = "User") -> dict:
        email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
        with httpx.Client(base_url=self.url, headers={"origin": self.url}) as c:
            r = c.post("/api/auth/sign-up/email", json={"name": name, "email": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items() if k.endswith("session_token"))
            t = c.get("/api/auth/token", headers={"cookie": cookie})
            assert t.status_code == 200, t.text
            return {
                "id": r.json()["user"]["id"],
                "email": email,
                "cookie": cookie,
                "bearer": r.headers["set-auth-token"],
                "jwt": t.json()["token"],
            }

    def sign_out(self, u: dict) -> None:
        r = httpx.post(f"{self.url}/api/auth/sign-out", headers={"cookie": u["cookie"], "origin": self.url}, json={})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="session")
def gatehouse():
    g = GatehouseServer()
    yield g
    g.stop()


@pytest.fixture(scope="session")
def alice(gatehouse):
    return gatehouse.sign_up("Alice")


@pytest.fixture(scope="session")
def bob(gatehouse):
    return gatehouse.sign_up("Bob")


SERVICE_TOKEN = "service-token-for-the-pytest-suite-0123456789abcdef"


@pytest.fixture(scope="session")
def keyed():
    """A gatehouse with the api-key plugin and SERVICE_TOKEN; a user Kim with three keys: reader
    ({"tasks":["read"]}), writer ({"tasks":["read","write"]}) and plain (no permissions)."""
    g = GatehouseServer({"GATEHOUSE_PLUGINS": "bearer,jwt,api-key", "GATEHOUSE_SERVICE_TOKEN": SERVICE_TOKEN})
    u = g.sign_up("Kim")
    mk = lambda name, *perm: g.cli("apikey", "create", "--email", u["email"], "--name", name, *perm).strip()  # noqa: E731
    u["reader"] = mk("reader", "--permissions", '{"tasks":["read"]}')
    u["writer"] = mk("writer", "--permissions", '{"tasks":["read","write"]}')
    u["plain"] = mk("plain")
    yield g, u
    g.stop()


class Postgres:
    """The PostgreSQL server of GH_TEST_PG_URL, or a throwaway one (scripts/pg-temp.sh)."""

    def __init__(self) -> None:
        self.dir = None
        self.url = os.environ.get("GH_TEST_PG_URL")
        if not self.url:
            self.dir = tempfile.mkdtemp(prefix="gh-pytest-pg-")
            r = subprocess.run([str(REPO / "scripts" / "pg-temp.sh"), "start", self.dir], capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                pytest.fail(f"cannot start PostgreSQL: {r.stderr}")
            self.url = r.stdout.strip()
        self.n = 0

    def admin(self, sql: str, db: str | None = None) -> list:
        import psycopg

        url = self.url if db is None else self.url.rsplit("/", 1)[0] + "/" + db
        with psycopg.connect(url, autocommit=True) as c:
            cur = c.execute(sql)
            return cur.fetchall() if cur.description else []

    def create_database(self) -> tuple[str, str]:
        """A new empty database: (name, URL)."""
        self.n += 1
        name = f"pytest_tasks_{os.getpid()}_{self.n}_{uuid.uuid4().hex[:6]}"
        self.admin(f'create database "{name}"')
        return name, self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.dir:
            subprocess.run([str(REPO / "scripts" / "pg-temp.sh"), "stop", self.dir], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def postgres():
    p = Postgres()
    yield p
    p.stop()


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Issuer:
    """A JWKS served over HTTP by the test (counts its fetches), and tokens signed by its key."""

    ISS = "https://issuer.test"
    AUD = "https://api.test"

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-key-1"
        pub = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**pub, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}
        self.cache_control = "max-age=300"
        self.hits = 0
        issuer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                issuer.hits += 1
                body = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("cache-control", issuer.cache_control)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, claims: dict | None = None, *, headers: dict | None = None, key=None, kid: str | None = "default") -> str:
        now = int(time.time())
        c = {"iss": self.ISS, "aud": self.AUD, "iat": now, "exp": now + 300, "sub": "u1", **(claims or {})}
        h = dict(headers or {})
        if kid == "default":
            kid = self.kid
        if kid is not None:
            h["kid"] = kid
        return jwt.encode(c, key or self.key, algorithm="EdDSA", headers=h)

    def raw(self, header: dict, payload: str | bytes, key=None) -> str:
        """A token from a raw header object and raw payload bytes, signed with the key."""
        p = payload.encode() if isinstance(payload, str) else payload
        si = f"{b64(json.dumps(header, separators=(',', ':')).encode())}.{b64(p)}"
        return f"{si}.{b64((key or self.key).sign(si.encode()))}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def issuer():
    i = Issuer()
    yield i
    i.close()
