// gatehouse-tasks (apps/tasks), the reference resource server, and the FastAPI example
// (integrations/fastapi/examples/tasks_app.py, the same API on gatehouse_fastapi): each of them
// against a real gatehouse: users signed
// up with the OFFICIAL better-auth client, JWTs from GET /api/auth/token verified locally (JWKS),
// session delegation through get-session (cookie and bearer session token). Proves per-user
// isolation in every direction (list, GET/PUT/PATCH/DELETE of another user's id → 404 with the row
// unchanged, path-scoped form with another user id → 403), 401 for every credential that does not
// verify, input validation, pagination, CORS, revocation (delegation rejects at once, a JWT lives
// until exp) and fail-closed 503 when gatehouse is down. Runs on both backends; the tasks database
// follows the backend (a SQLite file, or its own database on the harness's PostgreSQL), for the
// FastAPI example too. Then both programs on one tasks database, and (PostgreSQL) each of them with
// its database down. The API-key scenarios of both are in api-key.test.mjs, the admin listing in
// admin.test.mjs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { makeClient } from "./lib/client.mjs";
import { GATEHOUSE_ONLY, GATEHOUSE_TASKS_BIN, backends as backendsList } from "./lib/config.mjs";
import { SESSION_COOKIE } from "./lib/cookies.mjs";
import { sql, toBool } from "./lib/db.mjs";
import { ID32, ISO_MS, PASSWORD, forEachBackend, newEmail } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { PgCluster } from "./lib/pg.mjs";
import { startServer } from "./lib/server.mjs";
import { fastapiSkipReason, freshTasksDatabaseUrl, startFastapiTasks, startTasks } from "./lib/tasks.mjs";
import { childEnv, freePort, sleep } from "./lib/util.mjs";

const FRONTEND = "http://localhost:5173";
const OTHER_FRONTEND = "https://app.example.com";
const EVIL = "http://evil.example";
const TASK_KEYS = ["id", "userId", "title", "description", "completed", "createdAt", "updatedAt"].sort();

/** Sign up through the official client; returns { user, jar, cookie, sessionToken, signedToken }. */
async function newUser(srv, name) {
  const { client, jar, seen } = makeClient(srv);
  const { data, error } = await client.signUp.email({ name, email: newEmail(name.toLowerCase()), password: PASSWORD });
  assert.equal(error, null, JSON.stringify(error));
  const signed = seen.at(-1).headers.get("set-auth-token");
  return { user: data.user, id: data.user.id, client, jar, cookie: jar.header(), sessionToken: data.token, signedToken: signed };
}

/** A JWT for the user's session from GET /api/auth/token (null when gatehouse has no jwt plugin). */
async function jwtFor(srv, u) {
  const res = await raw(srv, "GET", "/token", { jar: u.jar });
  if (res.status === 404) return null;
  assert.equal(res.status, 200, res.text);
  return res.json.token;
}

function assertUnauthorized(res, what) {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
  assert.match(String(res.headers["content-type"]), /^application\/json/, what);
  assert.equal(res.json?.code, "UNAUTHORIZED", `${what}: ${res.text}`);
  assert.equal(typeof res.json.message, "string");
  assert.match(String(res.headers["www-authenticate"]), /^Bearer\b/, `${what}: WWW-Authenticate`);
}

function assertValidation(res, what, pattern) {
  assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json?.code, "VALIDATION_ERROR", `${what}: ${res.text}`);
  assert.deepEqual(Object.keys(res.json).sort(), ["code", "message"], what);
  if (pattern) assert.match(res.json.message, pattern, what);
}

function assertTask(t, { userId, title, description, completed } = {}) {
  assert.deepEqual(Object.keys(t).sort(), TASK_KEYS, JSON.stringify(t));
  assert.match(t.id, ID32);
  assert.match(t.createdAt, ISO_MS);
  assert.match(t.updatedAt, ISO_MS);
  if (userId !== undefined) assert.equal(t.userId, userId);
  if (title !== undefined) assert.equal(t.title, title);
  if (description !== undefined) assert.equal(t.description, description);
  if (completed !== undefined) assert.equal(t.completed, completed);
}

async function row(tasks, id) {
  const r = await tasks.db.one(sql`SELECT * FROM "tasks" WHERE "id" = ${id}`);
  if (!r) return null;
  return { ...r, completed: toBool(r.completed), createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() };
}

const countTasks = (tasks, userId) => tasks.db.count("tasks", userId ? { userId } : {});

// The same scenarios against both resource servers: gatehouse-tasks (C, libgatehouse-verify) and
// the FastAPI example (integrations/fastapi, gatehouse_fastapi), which serves the same API.
const IMPLS = [
  { name: "gatehouse-tasks", start: startTasks, native: true, skip: () => null },
  { name: "FastAPI example (gatehouse_fastapi)", start: startFastapiTasks, native: false, skip: (backend) => fastapiSkipReason(backend) },
];

/** base64url JSON part of a compact JWS */
const b64json = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const parts = (jwt) => jwt.split(".");

forEachBackend("tasks", (backend) => {
  for (const impl of IMPLS) describe(impl.name, { skip: GATEHOUSE_ONLY || impl.skip(backend) || false }, () => {
    let srv; // gatehouse
    let dbUrl; // the tasks database, shared by the three tasks servers below
    let jwtApi; // TASKS_AUTH=jwt (the default), CORS for FRONTEND and OTHER_FRONTEND
    let sessApi; // TASKS_AUTH=session (delegation)
    let anyApi; // TASKS_AUTH=any
    let alice, bob;
    let aliceJwt, bobJwt;
    const secrets = [];

    before(async () => {
      srv = await startServer({ backend, hint: "tasks-gh" });
      dbUrl = await freshTasksDatabaseUrl(backend);
      jwtApi = await impl.start({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-jwt", env: { TASKS_CORS_ORIGIN: `${FRONTEND}, ${OTHER_FRONTEND}/`, TASKS_MAX_BODY: 4096 } });
      sessApi = await impl.start({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-sess", env: { TASKS_AUTH: "session" } });
      anyApi = await impl.start({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-any", env: { TASKS_AUTH: "any" } });
      alice = await newUser(srv, "Alice");
      bob = await newUser(srv, "Bob");
      aliceJwt = await jwtFor(srv, alice);
      bobJwt = await jwtFor(srv, bob);
      secrets.push(alice.sessionToken, bob.sessionToken, aliceJwt, bobJwt);
    });
    after(async () => {
      for (const t of [jwtApi, sessApi, anyApi]) await t?.stop({ secrets });
      await srv?.stop({ expectCode: null });
    });

    // Credentials per mode: JWT tests need /api/auth/token on gatehouse.
    const needJwt = (t) => {
      if (!aliceJwt) t.skip("gatehouse has no GET /api/auth/token (jwt plugin) yet");
      return !aliceJwt;
    };
    const as = {
      jwt: (u) => ({ bearer: u === alice ? aliceJwt : bobJwt }),
      cookie: (u) => ({ cookie: u.cookie }),
      bearerSession: (u) => ({ bearer: u.signedToken }),
    };

    describe("basics", () => {
      it("GET /health → 200 on every mode, without credentials", async () => {
        for (const t of [jwtApi, sessApi, anyApi]) {
          const res = await t.call("GET", "/health");
          assert.equal(res.status, 200);
          assert.deepEqual(res.json, { status: "ok" });
        }
      });

      it("creates its own table with the index on userId (versioned migration recorded)", async () => {
        const db = jwtApi.db;
        if (db.kind === "sqlite") {
          const idx = await db.all(sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'`);
          assert.ok(idx.some((i) => i.name === "tasks_userId_createdAt_idx"), JSON.stringify(idx));
        } else {
          const idx = await db.all(sql`SELECT indexname FROM pg_indexes WHERE tablename = 'tasks'`);
          assert.ok(idx.some((i) => i.indexname === "tasks_userId_createdAt_idx"), JSON.stringify(idx));
        }
        const m = await db.all(sql`SELECT "version", "name" FROM "tasks_migrations"`);
        assert.deepEqual(m.map((r) => [Number(r.version), r.name]), [[1, "001_tasks"]]);
      });

      it("no credentials → 401 JSON {message, code: UNAUTHORIZED} + WWW-Authenticate: Bearer, on every route and mode", async () => {
        for (const t of [jwtApi, sessApi, anyApi]) {
          for (const [m, p] of [
            ["GET", "/api/tasks"],
            ["POST", "/api/tasks"],
            ["GET", "/api/tasks/abc"],
            ["PUT", "/api/tasks/abc"],
            ["PATCH", "/api/tasks/abc"],
            ["DELETE", "/api/tasks/abc"],
            ["GET", `/api/${alice.id}/tasks`],
            ["POST", `/api/${alice.id}/tasks`],
          ]) {
            const res = await t.call(m, p, m === "POST" || m === "PUT" || m === "PATCH" ? { json: { title: "x" } } : {});
            assertUnauthorized(res, `${t.env.TASKS_AUTH || "jwt"} ${m} ${p}`);
          }
        }
        assert.equal(await countTasks(jwtApi), 0, "nothing written");
      });

      it("invalid configuration fails fast: exit 2 and a message naming the variable", { skip: !impl.native && "gatehouse-tasks' own binary" }, () => {
        for (const [k, v] of [
          ["TASKS_AUTH", "cookies"],
          ["TASKS_PORT", "eighty"],
          ["TASKS_PORT", "70000"],
          ["TASKS_CORS_ORIGIN", "localhost:5173"],
          ["GATEHOUSE_URL", "ftp://auth"],
          ["TASKS_DATABASE_URL", "mysql://db"],
          ["TASKS_SESSION_CACHE_TTL", "61"],
          ["TASKS_LOG_LEVEL", "loud"],
        ]) {
          const r = spawnSync(GATEHOUSE_TASKS_BIN, ["serve"], { env: childEnv({ TASKS_PORT: "0", [k]: v }), encoding: "utf8", timeout: 10000 });
          assert.equal(r.status, 2, `${k}=${v}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(k), `${k}=${v}`);
        }
      });

      it("unknown paths → 404 JSON; wrong method → 405 with Allow", async () => {
        const res = await jwtApi.call("GET", "/api/nothing/here/at/all");
        assert.equal(res.status, 404);
        assert.equal(res.json.code, "NOT_FOUND");
        const r2 = await jwtApi.call("DELETE", "/api/tasks");
        assert.equal(r2.status, 405);
        assert.match(String(r2.headers.allow), /GET, POST/);
        const r3 = await jwtApi.call("POST", "/api/tasks/abc");
        assert.equal(r3.status, 405);
      });
    });

    describe("delegation (TASKS_AUTH=session)", () => {
      it("session cookie → CRUD works; the task belongs to the caller", async () => {
        const created = await sessApi.call("POST", "/api/tasks", { ...as.cookie(alice), json: { title: "  Buy milk  ", description: "2 litres" } });
        assert.equal(created.status, 201, created.text);
        assertTask(created.json, { userId: alice.id, title: "Buy milk", description: "2 litres", completed: false });
        assert.equal(created.headers.location, `/api/tasks/${created.json.id}`);
        assert.equal(created.json.createdAt, created.json.updatedAt);
        const stored = await row(sessApi, created.json.id);
        assert.equal(stored.userId, alice.id);
        assert.equal(stored.title, "Buy milk", "stored trimmed");
        assert.equal(stored.createdAt, created.json.createdAt, "stored date = returned date (ms precision)");

        const got = await sessApi.call("GET", `/api/tasks/${created.json.id}`, as.cookie(alice));
        assert.equal(got.status, 200);
        assert.deepEqual(got.json, created.json);
        const list = await sessApi.call("GET", "/api/tasks", as.cookie(alice));
        assert.equal(list.status, 200);
        assert.ok(list.json.tasks.some((t) => t.id === created.json.id));
      });

      it("bearer session token (signed set-auth-token value, and the raw token) → 200", async () => {
        const a = await sessApi.call("GET", "/api/tasks", as.bearerSession(alice));
        assert.equal(a.status, 200, a.text);
        const b = await sessApi.call("GET", "/api/tasks", { bearer: alice.sessionToken });
        assert.equal(b.status, 200, b.text);
      });

      it("only the session cookie is forwarded: other cookies alone → 401", async () => {
        const res = await sessApi.call("GET", "/api/tasks", { cookie: "theme=dark; other=1" });
        assertUnauthorized(res, "no session cookie");
      });

      it("forged / garbled session cookie or bearer → 401", async () => {
        for (const opts of [
          { cookie: `${SESSION_COOKIE}=garbage` },
          { cookie: `${SESSION_COOKIE}=${encodeURIComponent(alice.sessionToken + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}` },
          { bearer: "not-a-session" },
          { bearer: "x".repeat(5000) },
          { headers: { authorization: "Basic YWxpY2U6cHc=" }, cookie: alice.cookie },
        ]) {
          assertUnauthorized(await sessApi.call("GET", "/api/tasks", opts), JSON.stringify(opts).slice(0, 80));
        }
      });
    });

    describe("JWT (TASKS_AUTH=jwt, default)", () => {
      it("Bearer JWT from GET /api/auth/token → CRUD: POST 201, GET, PUT, PATCH, DELETE 204", async (t) => {
        if (needJwt(t)) return;
        const c = await jwtApi.call("POST", "/api/tasks", { ...as.jwt(alice), json: { title: "Write report", completed: true } });
        assert.equal(c.status, 201, c.text);
        assertTask(c.json, { userId: alice.id, title: "Write report", description: null, completed: true });
        const id = c.json.id;
        const put = await jwtApi.call("PUT", `/api/tasks/${id}`, { ...as.jwt(alice), json: { title: "Write the report", description: "by Friday" } });
        assert.equal(put.status, 200, put.text);
        assertTask(put.json, { title: "Write the report", description: "by Friday", completed: false });
        assert.equal(put.json.createdAt, c.json.createdAt);
        assert.ok(put.json.updatedAt >= c.json.updatedAt);
        const patch = await jwtApi.call("PATCH", `/api/tasks/${id}`, { ...as.jwt(alice), json: { completed: true } });
        assert.equal(patch.status, 200, patch.text);
        assertTask(patch.json, { title: "Write the report", description: "by Friday", completed: true });
        const p2 = await jwtApi.call("PATCH", `/api/tasks/${id}`, { ...as.jwt(alice), json: { description: null } });
        assert.equal(p2.json.description, null);
        assert.equal((await row(jwtApi, id)).description, null);
        const del = await jwtApi.call("DELETE", `/api/tasks/${id}`, as.jwt(alice));
        assert.equal(del.status, 204);
        assert.equal(del.text, "");
        assert.equal(await row(jwtApi, id), null);
        assert.equal((await jwtApi.call("GET", `/api/tasks/${id}`, as.jwt(alice))).status, 404);
        assert.equal((await jwtApi.call("DELETE", `/api/tasks/${id}`, as.jwt(alice))).status, 404);
      });

      it("the JWT from get-session's set-auth-jwt header works too", async (t) => {
        if (needJwt(t)) return;
        const res = await raw(srv, "GET", "/get-session", { jar: alice.jar });
        assert.equal(res.status, 200, res.text);
        const jwt = res.headers["set-auth-jwt"];
        if (!jwt) return t.skip("gatehouse sends no set-auth-jwt header");
        secrets.push(jwt);
        const list = await jwtApi.call("GET", "/api/tasks", { bearer: jwt });
        assert.equal(list.status, 200, list.text);
        assert.ok(list.json.tasks.every((x) => x.userId === alice.id));
      });

      it("a session cookie or bearer session token is not a JWT → 401 in jwt mode", async () => {
        assertUnauthorized(await jwtApi.call("GET", "/api/tasks", as.cookie(alice)), "cookie in jwt mode");
        assertUnauthorized(await jwtApi.call("GET", "/api/tasks", as.bearerSession(alice)), "session bearer in jwt mode");
      });

      it("garbage, tampered, alg:none, expired-looking, wrong-issuer-looking, oversized tokens → 401, never 400/500", async (t) => {
        if (needJwt(t)) return;
        const [h, p, s] = parts(aliceJwt);
        const claims = JSON.parse(Buffer.from(p, "base64url"));
        const flip = (str) => str.slice(0, 10) + (str[10] === "A" ? "B" : "A") + str.slice(11);
        const tokens = {
          garbage: "garbage",
          empty3: "..",
          dots: "a.b.c",
          notB64: "!!!.@@@.###",
          tamperedSig: `${h}.${p}.${flip(s)}`,
          swappedSub: `${h}.${b64json({ ...claims, sub: bob.id })}.${s}`,
          expiredLooking: `${h}.${b64json({ ...claims, exp: 1000000000, iat: 999999000 })}.${s}`,
          otherIssuer: `${h}.${b64json({ ...claims, iss: "http://evil.example" })}.${s}`,
          algNone: `${b64json({ alg: "none", typ: "JWT" })}.${p}.`,
          algHS256: `${b64json({ alg: "HS256", typ: "JWT" })}.${p}.${crypto.createHmac("sha256", "secret").update(`${h}.${p}`).digest("base64url")}`,
          unknownKid: `${b64json({ ...JSON.parse(Buffer.from(h, "base64url")), kid: "no-such-kid" })}.${p}.${s}`,
          oversized: `${h}.${"A".repeat(20000)}.${s}`,
          huge: "x".repeat(60000),
          foreignKey: (() => {
            const { privateKey } = crypto.generateKeyPairSync("ed25519");
            const hh = b64json({ alg: "EdDSA", kid: JSON.parse(Buffer.from(h, "base64url")).kid });
            const sig = crypto.sign(null, Buffer.from(`${hh}.${p}`), privateKey).toString("base64url");
            return `${hh}.${p}.${sig}`;
          })(),
        };
        for (const [name, tok] of Object.entries(tokens)) {
          for (const api of [jwtApi, anyApi]) {
            const res = await api.call("GET", "/api/tasks", { bearer: tok });
            if (name === "huge" && api.impl === "fastapi" && res.status === 400) {
              // uvicorn's HTTP layer (h11, 16 KiB buffer for an incomplete head) refuses a 60 KB
              // header line with 400 before the app sees it when the head arrives in pieces, which
              // depends on the socket reads; refused either way, never accepted, never 500
              assert.match(res.text, /Invalid HTTP request/, `${name}: ${res.text}`);
              continue;
            }
            assertUnauthorized(res, `${name} (${api.env.TASKS_AUTH || "jwt"})`);
          }
        }
        for (const auth of ["Bearer", "Bearer ", "bearer  ", "Token abc", "Basic YTpi"]) {
          assertUnauthorized(await jwtApi.call("GET", "/api/tasks", { headers: { authorization: auth } }), `Authorization: ${auth}`);
        }
        // the servers are still fine
        assert.equal((await jwtApi.call("GET", "/api/tasks", as.jwt(alice))).status, 200);
      });

      it("TASKS_AUTH=any: a JWT and a session credential both work", async (t) => {
        if (needJwt(t)) return;
        assert.equal((await anyApi.call("GET", "/api/tasks", as.jwt(alice))).status, 200);
        assert.equal((await anyApi.call("GET", "/api/tasks", as.cookie(alice))).status, 200);
        assert.equal((await anyApi.call("GET", "/api/tasks", as.bearerSession(alice))).status, 200);
      });
    });

    describe("JWT claims against a JWKS served by the test (TASKS_JWKS_URL, TASKS_JWT_ISSUER/AUDIENCE)", () => {
      const ISS = "https://issuer.test";
      const AUD = "https://api.test";
      let jwks, keys, api, kid;
      before(async () => {
        keys = await generateKeyPair("EdDSA", { crv: "Ed25519" });
        kid = "test-key-1";
        const pub = { ...(await exportJWK(keys.publicKey)), kid, alg: "EdDSA" };
        const port = await freePort();
        jwks = http.createServer((req, res) => {
          res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
          res.end(JSON.stringify({ keys: [pub] }));
        });
        await new Promise((r) => jwks.listen(port, "127.0.0.1", r));
        jwks.url = `http://127.0.0.1:${port}/jwks`;
        api = await impl.start({
          backend,
          databaseUrl: dbUrl,
          gatehouseUrl: srv.url,
          hint: "tasks-ownjwks",
          env: { TASKS_JWKS_URL: jwks.url, TASKS_JWT_ISSUER: ISS, TASKS_JWT_AUDIENCE: AUD },
        });
      });
      after(async () => {
        await api?.stop();
        jwks?.close();
      });
      const sign = (claims, { key = keys.privateKey, header = {} } = {}) => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ iss: ISS, aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: "EdDSA", kid, ...header }).sign(key);
      };

      it("a valid token → 200 scoped to its sub; the same user id is isolated like any other", async () => {
        const sub = `jwt-user-${crypto.randomUUID()}`;
        const tok = await sign({ sub });
        const c = await api.call("POST", "/api/tasks", { bearer: tok, json: { title: "from a JWT" } });
        assert.equal(c.status, 201, c.text);
        assert.equal(c.json.userId, sub);
        const other = await sign({ sub: `${sub}-other` });
        assert.equal((await api.call("GET", `/api/tasks/${c.json.id}`, { bearer: other })).status, 404);
        assert.equal((await api.call("GET", `/api/${sub}/tasks`, { bearer: other })).status, 403);
        const own = await api.call("GET", `/api/${sub}/tasks`, { bearer: tok });
        assert.deepEqual(own.json.tasks.map((t) => t.id), [c.json.id]);
      });

      it("expired, not yet valid, wrong iss, wrong aud, no sub, foreign key, unknown kid → 401", async () => {
        const now = Math.floor(Date.now() / 1000);
        const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
        const cases = {
          expired: await sign({ sub: "u1", iat: now - 3600, exp: now - 600 }),
          notYetValid: await sign({ sub: "u1", nbf: now + 3600 }),
          issuedInFuture: await sign({ sub: "u1", iat: now + 3600, exp: now + 7200 }),
          wrongIssuer: await sign({ sub: "u1", iss: "https://evil.test" }),
          wrongAudience: await sign({ sub: "u1", aud: "https://other.test" }),
          noSub: await sign({}),
          numericSub: await sign({ sub: 42 }),
          foreignKey: await sign({ sub: "u1" }, { key: other.privateKey }),
          unknownKid: await sign({ sub: "u1" }, { key: other.privateKey, header: { kid: "nope" } }),
        };
        for (const [name, tok] of Object.entries(cases)) {
          const res = await api.call("GET", "/api/tasks", { bearer: tok });
          assertUnauthorized(res, name);
          if (name === "expired") assert.match(res.json.message, /expired/i);
        }
      });

      it("a token without kid signed by the issuer's real key → 401 (kid required); TASKS_JWT_ALLOW_MISSING_KID=true accepts it", async () => {
        const now = Math.floor(Date.now() / 1000);
        const noKid = await new SignJWT({ iss: ISS, aud: AUD, iat: now, exp: now + 300, sub: "u-nokid" }).setProtectedHeader({ alg: "EdDSA", typ: "JWT" }).sign(keys.privateKey);
        assert.equal(JSON.parse(Buffer.from(noKid.split(".")[0], "base64url")).kid, undefined);
        assertUnauthorized(await api.call("GET", "/api/tasks", { bearer: noKid }), "no kid");
        const relaxed = await impl.start({
          backend,
          databaseUrl: dbUrl,
          gatehouseUrl: srv.url,
          hint: "tasks-nokid",
          env: { TASKS_JWKS_URL: jwks.url, TASKS_JWT_ISSUER: ISS, TASKS_JWT_AUDIENCE: AUD, TASKS_JWT_ALLOW_MISSING_KID: "true" },
        });
        try {
          const res = await relaxed.call("GET", "/api/u-nokid/tasks", { bearer: noKid });
          assert.equal(res.status, 200, res.text);
          const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
          const forged = await new SignJWT({ iss: ISS, aud: AUD, iat: now, exp: now + 300, sub: "u-nokid" }).setProtectedHeader({ alg: "EdDSA" }).sign(other.privateKey);
          assertUnauthorized(await relaxed.call("GET", "/api/tasks", { bearer: forged }), "no kid, foreign key, relaxed");
        } finally {
          await relaxed.stop();
        }
      });

      it("JWKS unreachable before the first fetch → 503 + Retry-After (fail closed); reachable again → 200", async () => {
        const port = await freePort(); // nothing listens there
        const down = await impl.start({
          backend,
          databaseUrl: dbUrl,
          gatehouseUrl: srv.url,
          hint: "tasks-nojwks",
          env: { TASKS_JWKS_URL: `http://127.0.0.1:${port}/jwks`, TASKS_JWT_ISSUER: ISS, TASKS_JWT_AUDIENCE: AUD, TASKS_HTTP_TIMEOUT_MS: 1000 },
        });
        try {
          const res = await down.call("GET", "/api/tasks", { bearer: await sign({ sub: "u1" }) });
          assert.equal(res.status, 503, res.text);
          assert.equal(res.json.code, "SERVICE_UNAVAILABLE");
          assert.ok(Number(res.headers["retry-after"]) > 0);
        } finally {
          await down.stop();
        }
        assert.equal((await api.call("GET", "/api/tasks", { bearer: await sign({ sub: "u1" }) })).status, 200);
      });
    });

    describe("isolation between users", () => {
      // Each mode with its own credential kind: jwt (JWT), session (cookie), any (bearer session).
      const modes = () => [
        ["jwt", jwtApi, as.jwt, Boolean(aliceJwt)],
        ["session", sessApi, as.cookie, true],
        ["any", anyApi, as.bearerSession, true],
      ];

      it("list shows only the caller's tasks (both directions)", async () => {
        const a = await sessApi.call("POST", "/api/tasks", { ...as.cookie(alice), json: { title: "alice private" } });
        const b = await sessApi.call("POST", "/api/tasks", { ...as.cookie(bob), json: { title: "bob private" } });
        assert.equal(a.status, 201);
        assert.equal(b.status, 201);
        for (const [name, api, cred, ok] of modes()) {
          if (!ok) continue;
          const la = await api.call("GET", "/api/tasks?limit=100", cred(alice));
          const lb = await api.call("GET", "/api/tasks?limit=100", cred(bob));
          assert.equal(la.status, 200, `${name}: ${la.text}`);
          assert.ok(la.json.tasks.length > 0);
          assert.ok(la.json.tasks.every((t) => t.userId === alice.id), `${name}: alice sees only hers`);
          assert.ok(lb.json.tasks.every((t) => t.userId === bob.id), `${name}: bob sees only his`);
          assert.ok(!la.json.tasks.some((t) => t.id === b.json.id));
          assert.ok(!lb.json.tasks.some((t) => t.id === a.json.id));
          assert.equal(la.json.total, await countTasks(api, alice.id));
          assert.equal(lb.json.total, await countTasks(api, bob.id));
        }
      });

      it("GET/PUT/PATCH/DELETE of the other user's task id → 404 (not 403), and the row is unchanged", async () => {
        const a = await sessApi.call("POST", "/api/tasks", { ...as.cookie(alice), json: { title: "alice secret", description: "d" } });
        const b = await sessApi.call("POST", "/api/tasks", { ...as.cookie(bob), json: { title: "bob secret" } });
        for (const [victim, attacker, task] of [
          [alice, bob, a.json],
          [bob, alice, b.json],
        ]) {
          const before = await row(sessApi, task.id);
          for (const [name, api, cred, ok] of modes()) {
            if (!ok) continue;
            const c = cred(attacker);
            const reqs = [
              ["GET", {}],
              ["PUT", { json: { title: "pwned", description: null, completed: true } }],
              ["PATCH", { json: { completed: true } }],
              ["DELETE", {}],
            ];
            for (const [m, o] of reqs) {
              const res = await api.call(m, `/api/tasks/${task.id}`, { ...c, ...o });
              assert.equal(res.status, 404, `${name} ${m} of ${victim.user.name}'s task: ${res.text}`);
              assert.deepEqual(res.json, { message: "Task not found", code: "NOT_FOUND" });
              // path-scoped form with the attacker's own id: also 404
              const res2 = await api.call(m, `/api/${attacker.id}/tasks/${task.id}`, { ...c, ...o });
              assert.equal(res2.status, 404, `${name} scoped ${m}: ${res2.text}`);
            }
          }
          assert.deepEqual(await row(sessApi, task.id), before, "row unchanged");
          // the owner still sees it
          const own = await sessApi.call("GET", `/api/tasks/${task.id}`, as.cookie(victim));
          assert.equal(own.status, 200);
        }
      });

      it("path-scoped form: another user's id → 403 on every method, nothing written; own id → works", async () => {
        const a = await sessApi.call("POST", "/api/tasks", { ...as.cookie(alice), json: { title: "scoped" } });
        const nBob = await countTasks(sessApi, bob.id);
        const nAlice = await countTasks(sessApi, alice.id);
        for (const [name, api, cred, ok] of modes()) {
          if (!ok) continue;
          for (const [m, p, o] of [
            ["GET", `/api/${alice.id}/tasks`, {}],
            ["POST", `/api/${alice.id}/tasks`, { json: { title: "injected" } }],
            ["GET", `/api/${alice.id}/tasks/${a.json.id}`, {}],
            ["PUT", `/api/${alice.id}/tasks/${a.json.id}`, { json: { title: "pwned" } }],
            ["PATCH", `/api/${alice.id}/tasks/${a.json.id}`, { json: { title: "pwned" } }],
            ["DELETE", `/api/${alice.id}/tasks/${a.json.id}`, {}],
          ]) {
            const res = await api.call(m, p, { ...cred(bob), ...o });
            assert.equal(res.status, 403, `${name} bob ${m} ${p}: ${res.text}`);
            assert.equal(res.json.code, "FORBIDDEN");
          }
          // without credentials it is 401 first, never 403 (nothing about the user is revealed)
          assertUnauthorized(await api.call("GET", `/api/${alice.id}/tasks`), `${name} anonymous scoped`);
        }
        assert.equal(await countTasks(sessApi, bob.id), nBob);
        assert.equal(await countTasks(sessApi, alice.id), nAlice);
        assert.equal((await row(sessApi, a.json.id)).title, "scoped");
        // own id
        const own = await sessApi.call("GET", `/api/${alice.id}/tasks`, as.cookie(alice));
        assert.equal(own.status, 200);
        assert.ok(own.json.tasks.some((t) => t.id === a.json.id));
        const created = await sessApi.call("POST", `/api/${alice.id}/tasks`, { ...as.cookie(alice), json: { title: "via scoped path" } });
        assert.equal(created.status, 201);
        assert.equal(created.json.userId, alice.id);
        const upd = await sessApi.call("PUT", `/api/${alice.id}/tasks/${created.json.id}`, { ...as.cookie(alice), json: { title: "renamed" } });
        assert.equal(upd.status, 200);
        assert.equal(upd.json.title, "renamed");
        const del = await sessApi.call("DELETE", `/api/${alice.id}/tasks/${created.json.id}`, as.cookie(alice));
        assert.equal(del.status, 204);
      });
    });

    describe("concurrency", () => {
      it("60 concurrent creates and reads by two users (worker pool, one DB connection per worker): all land, none leaks", async () => {
        const eve = await newUser(srv, "Eve");
        const frank = await newUser(srv, "Frank");
        secrets.push(eve.sessionToken, frank.sessionToken);
        const jobs = [];
        for (let i = 0; i < 30; i++) {
          for (const u of [eve, frank]) {
            jobs.push(anyApi.call("POST", "/api/tasks", { cookie: u.cookie, json: { title: `${u.user.name} ${i}` } }));
            jobs.push(anyApi.call("GET", "/api/tasks?limit=100", { cookie: u.cookie }));
          }
        }
        const results = await Promise.all(jobs);
        for (const r of results) assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
        for (const r of results.filter((x) => x.status === 200)) {
          const owners = new Set(r.json.tasks.map((x) => x.userId));
          assert.ok(owners.size <= 1, "a list never mixes users");
        }
        assert.equal(await countTasks(anyApi, eve.id), 30);
        assert.equal(await countTasks(anyApi, frank.id), 30);
        const le = await anyApi.call("GET", "/api/tasks?limit=100", { cookie: eve.cookie });
        assert.equal(le.json.total, 30);
        assert.ok(le.json.tasks.every((x) => x.userId === eve.id && x.title.startsWith("Eve ")));
      });
    });

    describe("validation", () => {
      it("bad bodies → 400 VALIDATION_ERROR with a clear message, nothing written", async () => {
        const before = await countTasks(sessApi);
        const c = as.cookie(alice);
        const cases = [
          ["POST", { body: "{not json", contentType: "application/json" }, /not valid JSON/],
          ["POST", { json: [] }, /JSON object/],
          ["POST", { json: "title" }, /JSON object/],
          ["POST", { json: null }, /JSON object/],
          ["POST", { body: "", contentType: "application/json" }, /JSON object/],
          ["POST", { json: {} }, /title is required/],
          ["POST", { json: { description: "no title" } }, /title is required/],
          ["POST", { json: { title: "" } }, /title/],
          ["POST", { json: { title: "   \t " } }, /title/],
          ["POST", { json: { title: "x".repeat(201) } }, /title/],
          ["POST", { json: { title: 42 } }, /title must be a string/],
          ["POST", { json: { title: null } }, /title must be a string/],
          ["POST", { json: { title: "ok", description: 5 } }, /description/],
          ["POST", { json: { title: "ok", description: "x".repeat(2001) } }, /description/],
          ["POST", { json: { title: "ok", completed: "yes" } }, /completed must be a boolean/],
          ["POST", { json: { title: "ok", completed: 1 } }, /completed must be a boolean/],
          ["POST", { json: { title: "ok", userId: bob.id } }, /Unknown field "userId"/],
          ["POST", { json: { title: "ok", id: "x" } }, /Unknown field/],
          ["POST", { json: { title: "a\u0000b" } }, /NUL/],
        ];
        for (const [m, o, re] of cases) assertValidation(await sessApi.call(m, "/api/tasks", { ...c, ...o }), `${m} ${JSON.stringify(o).slice(0, 60)}`, re);
        assert.equal(await countTasks(sessApi), before);
        // boundaries that are accepted: 200 characters (counted as characters, not bytes), 2000-char description
        const ok = await sessApi.call("POST", "/api/tasks", { ...c, json: { title: "é".repeat(200), description: "ü".repeat(2000) } });
        assert.equal(ok.status, 201, ok.text);
        assert.equal(ok.json.title, "é".repeat(200));
      });

      it("PUT needs a title, PATCH at least one field; both reject unknown fields and wrong types", async () => {
        const t = await sessApi.call("POST", "/api/tasks", { ...as.cookie(alice), json: { title: "to edit" } });
        const before = await row(sessApi, t.json.id);
        const p = `/api/tasks/${t.json.id}`;
        assertValidation(await sessApi.call("PUT", p, { ...as.cookie(alice), json: { completed: true } }), "PUT without title", /title is required/);
        assertValidation(await sessApi.call("PATCH", p, { ...as.cookie(alice), json: {} }), "PATCH {}", /At least one/);
        assertValidation(await sessApi.call("PATCH", p, { ...as.cookie(alice), json: { title: "ok", extra: 1 } }), "PATCH unknown", /Unknown field/);
        assertValidation(await sessApi.call("PATCH", p, { ...as.cookie(alice), json: { completed: "true" } }), "PATCH wrong type");
        assertValidation(await sessApi.call("PATCH", p, { ...as.cookie(alice), json: { title: " " } }), "PATCH blank title");
        assert.deepEqual(await row(sessApi, t.json.id), before, "no partial write");
      });

      it("non-JSON Content-Type → 415; body over TASKS_MAX_BODY → 413", async () => {
        const c = as.cookie(alice);
        const before = await countTasks(sessApi);
        const r1 = await sessApi.call("POST", "/api/tasks", { ...c, body: "title=x", contentType: "application/x-www-form-urlencoded" });
        assert.equal(r1.status, 415, r1.text);
        assert.equal(r1.json.code, "UNSUPPORTED_MEDIA_TYPE");
        const r2 = await sessApi.call("POST", "/api/tasks", { ...c, body: '{"title":"x"}', contentType: "text/plain" });
        assert.equal(r2.status, 415);
        const r3 = await sessApi.call("POST", "/api/tasks", { ...c, body: '{"title":"x"}' }); // no Content-Type
        assert.equal(r3.status, 415);
        assert.equal((await sessApi.call("POST", "/api/tasks", { ...c, body: '{"title":"x"}', contentType: "Application/JSON; charset=utf-8" })).status, 201);
        // the body cap is checked before anything else (jwtApi runs with TASKS_MAX_BODY=4096)
        const big = await jwtApi.call("POST", "/api/tasks", { ...(aliceJwt ? as.jwt(alice) : {}), json: { title: "x", description: "y".repeat(5000) } });
        assert.equal(big.status, 413, big.text);
        assert.equal(big.json.code, "PAYLOAD_TOO_LARGE");
        assert.equal(await countTasks(sessApi), before + 1);
      });
    });

    describe("pagination", () => {
      it("?limit (1..100, default 20) &offset (>= 0): {tasks,total,limit,offset}, newest first", async () => {
        const carol = await newUser(srv, "Carol");
        secrets.push(carol.sessionToken);
        const ids = [];
        for (let i = 0; i < 25; i++) {
          const r = await sessApi.call("POST", "/api/tasks", { ...as.cookie(carol), json: { title: `task ${i}` } });
          assert.equal(r.status, 201);
          ids.push(r.json.id);
        }
        const d = await sessApi.call("GET", "/api/tasks", as.cookie(carol));
        assert.deepEqual(Object.keys(d.json).sort(), ["limit", "offset", "tasks", "total"]);
        assert.equal(d.json.total, 25);
        assert.equal(d.json.limit, 20);
        assert.equal(d.json.offset, 0);
        assert.equal(d.json.tasks.length, 20);
        const order = d.json.tasks.map((t) => t.createdAt);
        assert.deepEqual(order, [...order].sort().reverse(), "newest first (createdAt desc, then id desc)");
        assert.ok(d.json.tasks[0].createdAt >= d.json.tasks[19].createdAt);
        d.json.tasks.forEach((t) => assertTask(t, { userId: carol.id }));
        const last = await sessApi.call("GET", "/api/tasks?limit=10&offset=20", as.cookie(carol));
        assert.equal(last.json.tasks.length, 5);
        assert.equal(last.json.total, 25);
        assert.ok(last.json.tasks.at(-1).createdAt <= d.json.tasks[19].createdAt, "the last page holds the oldest");
        const all = [];
        for (let off = 0; off < 25; off += 7) {
          const pg = await sessApi.call("GET", `/api/tasks?limit=7&offset=${off}`, as.cookie(carol));
          all.push(...pg.json.tasks.map((t) => t.id));
        }
        assert.deepEqual([...all].sort(), [...ids].sort(), "pages cover every task exactly once");
        const beyond = await sessApi.call("GET", "/api/tasks?offset=1000", as.cookie(carol));
        assert.deepEqual(beyond.json, { tasks: [], total: 25, limit: 20, offset: 1000 });
        const max = await sessApi.call("GET", "/api/tasks?limit=100", as.cookie(carol));
        assert.equal(max.json.tasks.length, 25);
        for (const q of ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "offset=-1", "offset=x", "limit=1.5"]) {
          assertValidation(await sessApi.call("GET", `/api/tasks?${q}`, as.cookie(carol)), q, /limit|offset/);
        }
      });
    });

    describe("CORS", () => {
      it("preflight from a listed origin → 204 with Allow-Origin (echoed), -Methods, -Headers, -Credentials, Max-Age", async () => {
        for (const origin of [FRONTEND, OTHER_FRONTEND]) {
          const res = await jwtApi.call("OPTIONS", "/api/tasks/abc", {
            origin,
            headers: { "access-control-request-method": "PATCH", "access-control-request-headers": "authorization, content-type" },
          });
          assert.equal(res.status, 204);
          assert.equal(res.headers["access-control-allow-origin"], origin);
          assert.match(res.headers["access-control-allow-methods"], /GET.*POST.*PUT.*PATCH.*DELETE/);
          assert.match(res.headers["access-control-allow-headers"], /Authorization/i);
          assert.match(res.headers["access-control-allow-headers"], /Content-Type/i);
          assert.equal(res.headers["access-control-allow-credentials"], "true");
          assert.equal(res.headers["access-control-max-age"], "600");
          assert.match(String(res.headers.vary), /Origin/);
        }
      });

      it("an unlisted origin gets no CORS headers (preflight and actual request)", async () => {
        const pre = await jwtApi.call("OPTIONS", "/api/tasks", { origin: EVIL, headers: { "access-control-request-method": "GET" } });
        assert.equal(pre.status, 204);
        for (const h of Object.keys(pre.headers)) assert.ok(!h.startsWith("access-control-"), `unexpected ${h}`);
        const res = await jwtApi.call("GET", "/api/tasks", { origin: EVIL, ...(aliceJwt ? as.jwt(alice) : {}) });
        for (const h of Object.keys(res.headers)) assert.ok(!h.startsWith("access-control-"), `unexpected ${h}`);
        // a server without TASKS_CORS_ORIGIN sends none either
        const none = await sessApi.call("OPTIONS", "/api/tasks", { origin: FRONTEND, headers: { "access-control-request-method": "GET" } });
        assert.equal(none.headers["access-control-allow-origin"], undefined);
      });

      it("actual responses (success and errors) carry Allow-Origin + Credentials + Vary: Origin", async () => {
        const unauth = await jwtApi.call("GET", "/api/tasks", { origin: FRONTEND });
        assert.equal(unauth.status, 401);
        assert.equal(unauth.headers["access-control-allow-origin"], FRONTEND);
        assert.match(String(unauth.headers["access-control-expose-headers"]), /WWW-Authenticate/);
        assert.match(String(unauth.headers.vary), /Origin/);
        const health = await jwtApi.call("GET", "/health", { origin: FRONTEND });
        assert.equal(health.headers["access-control-allow-origin"], FRONTEND);
        if (!aliceJwt) return;
        const ok = await jwtApi.call("GET", "/api/tasks", { origin: FRONTEND, ...as.jwt(alice) });
        assert.equal(ok.status, 200);
        assert.equal(ok.headers["access-control-allow-origin"], FRONTEND);
        assert.equal(ok.headers["access-control-allow-credentials"], "true");
        assert.match(String(ok.headers.vary), /Origin/);
      });
    });

    describe("revocation and outage (fail closed)", () => {
      it("sign-out: delegation rejects at once (401); the JWT still works until exp (documented trade-off)", async (t) => {
        const dave = await newUser(srv, "Dave");
        const daveJwt = await jwtFor(srv, dave);
        secrets.push(dave.sessionToken, daveJwt);
        assert.equal((await sessApi.call("GET", "/api/tasks", as.cookie(dave))).status, 200);
        const { error } = await dave.client.signOut();
        assert.equal(error, null);
        assertUnauthorized(await sessApi.call("GET", "/api/tasks", { cookie: dave.cookie }), "revoked cookie");
        assertUnauthorized(await sessApi.call("GET", "/api/tasks", { bearer: dave.signedToken }), "revoked bearer session");
        assertUnauthorized(await anyApi.call("GET", "/api/tasks", { bearer: dave.signedToken }), "revoked bearer session (any)");
        if (!daveJwt) return t.skip("no JWT support in gatehouse yet");
        const res = await jwtApi.call("GET", "/api/tasks", { bearer: daveJwt });
        assert.equal(res.status, 200, "a JWT is verified locally: valid until its exp even after sign-out");
        assert.equal((await anyApi.call("GET", "/api/tasks", { bearer: daveJwt })).status, 200);
      });

      it("gatehouse down: delegation → 503 + Retry-After; JWT with a cached JWKS → 200; JWT without a JWKS yet → 503", async () => {
        // a JWT-mode server that never fetched the JWKS (started now, no request yet)
        const fresh = await impl.start({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-fresh" });
        if (aliceJwt) assert.equal((await jwtApi.call("GET", "/api/tasks", as.jwt(alice))).status, 200, "JWKS cached before the outage");
        await srv.stop();
        try {
          for (const [name, api, opts] of [
            ["session cookie", sessApi, as.cookie(alice)],
            ["session bearer", sessApi, as.bearerSession(alice)],
            ["any: session bearer", anyApi, as.bearerSession(alice)],
          ]) {
            const res = await api.call("GET", "/api/tasks", opts);
            assert.equal(res.status, 503, `${name}: ${res.text}`);
            assert.equal(res.json.code, "SERVICE_UNAVAILABLE");
            assert.ok(Number(res.headers["retry-after"]) > 0, "Retry-After");
          }
          if (aliceJwt) {
            const cached = await jwtApi.call("GET", "/api/tasks", as.jwt(alice));
            assert.equal(cached.status, 200, `cached JWKS: ${cached.text}`);
            assert.ok(cached.json.tasks.every((t) => t.userId === alice.id));
            const noJwks = await fresh.call("GET", "/api/tasks", as.jwt(alice));
            assert.equal(noJwks.status, 503, `no JWKS yet: ${noJwks.text}`);
            assert.ok(Number(noJwks.headers["retry-after"]) > 0);
          }
          // no credentials is still 401 (nothing to ask)
          assertUnauthorized(await sessApi.call("GET", "/api/tasks"), "anonymous during outage");
        } finally {
          await fresh.stop({ secrets });
        }
      });
    });
  });
});

// gatehouse-tasks and the FastAPI example on ONE tasks database (the same table, migration ledger
// and stored formats on either backend): what one writes, the other serves with the same JSON.
forEachBackend("tasks: gatehouse-tasks and the FastAPI example on one database", (backend) => {
  it("a task written by either is read, listed, updated and deleted by the other; the migration is recorded once", { skip: GATEHOUSE_ONLY || fastapiSkipReason(backend) || false }, async () => {
    const srv = await startServer({ backend, hint: "tasks-shared-gh" });
    const dbUrl = await freshTasksDatabaseUrl(backend);
    let c, py;
    try {
      c = await startTasks({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-shared-c", env: { TASKS_AUTH: "session" } });
      py = await startFastapiTasks({ backend, databaseUrl: dbUrl, gatehouseUrl: srv.url, hint: "tasks-shared-py", env: { TASKS_AUTH: "session" } });
      const u = await newUser(srv, "Shared");
      const cred = { cookie: u.cookie };
      const a = await c.call("POST", "/api/tasks", { ...cred, json: { title: "from C", description: "d", completed: true } });
      assert.equal(a.status, 201, a.text);
      const b = await py.call("POST", "/api/tasks", { ...cred, json: { title: "from Python" } });
      assert.equal(b.status, 201, b.text);
      assert.deepEqual((await py.call("GET", `/api/tasks/${a.json.id}`, cred)).json, a.json, "C's task through Python");
      assert.deepEqual((await c.call("GET", `/api/tasks/${b.json.id}`, cred)).json, b.json, "Python's task through C");
      const lc = await c.call("GET", "/api/tasks", cred);
      assert.equal(lc.json.total, 2);
      assert.deepEqual((await py.call("GET", "/api/tasks", cred)).json, lc.json, "the same list from both");
      const patched = await py.call("PATCH", `/api/tasks/${a.json.id}`, { ...cred, json: { completed: false, description: null } });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual((await c.call("GET", `/api/tasks/${a.json.id}`, cred)).json, patched.json);
      assert.equal((await c.call("DELETE", `/api/tasks/${b.json.id}`, cred)).status, 204);
      assert.equal((await py.call("GET", `/api/tasks/${b.json.id}`, cred)).status, 404);
      const m = await c.db.all(sql`SELECT "version", "name" FROM "tasks_migrations"`);
      assert.deepEqual(m.map((r) => [Number(r.version), r.name]), [[1, "001_tasks"]]);
    } finally {
      await py?.stop();
      await c?.stop();
      await srv.stop();
    }
  });
});

// The tasks database itself goes away (its own PostgreSQL cluster is stopped): every API call that
// needs it answers 503 + Retry-After with the JSON error (never 500), nothing is half-written, and
// the server recovers by itself when the database returns.
for (const impl of IMPLS) describe(`${impl.name}: its database down`, { skip: GATEHOUSE_ONLY || (backendsList().includes("postgres") ? impl.skip("postgres") || false : "postgres not in GH_E2E_BACKENDS") }, () => {
  let cluster, srv, api, user, jwt, kept;
  before(async () => {
    cluster = new PgCluster("tasks-outage");
    await cluster.start();
    srv = await startServer({ backend: "postgres", hint: "tasks-outage-gh" });
    api = await impl.start({ backend: "postgres", databaseUrl: await cluster.createDatabase("tasks"), gatehouseUrl: srv.url, hint: "tasks-outage" });
    user = await newUser(srv, "Outage");
    jwt = await jwtFor(srv, user);
    const made = await api.call("POST", "/api/tasks", { bearer: jwt, json: { title: "before" } });
    assert.equal(made.status, 201, made.text);
    kept = made.json;
  });
  after(async () => {
    if (cluster && !cluster.running) await cluster.start().catch(() => {});
    await api?.stop({ expectCode: null });
    await srv?.stop();
    await cluster?.stop().catch(() => {});
  });

  it("503 + Retry-After (JSON SERVICE_UNAVAILABLE) on every call while down; back by itself; nothing written", async () => {
    await cluster.stop();
    for (const [method, path, json] of [
      ["GET", "/api/tasks"],
      ["GET", `/api/tasks/${kept.id}`],
      ["POST", "/api/tasks", { title: "during" }],
      ["PATCH", `/api/tasks/${kept.id}`, { completed: true }],
      ["DELETE", `/api/tasks/${kept.id}`],
    ]) {
      const res = await api.call(method, path, { bearer: jwt, json });
      assert.notEqual(res.status, 500, `${method} ${path}: 500 while the database is down`);
      assert.equal(res.status, 503, `${method} ${path}: ${res.status} ${res.text}`);
      assert.equal(res.json?.code, "SERVICE_UNAVAILABLE", res.text);
      assert.ok(Number(res.headers["retry-after"]) > 0, `${method} ${path}: Retry-After`);
    }
    assert.equal(api.exitInfo, null, "the tasks server kept running");
    await cluster.start();
    let res;
    const deadline = Date.now() + 20000;
    for (;;) {
      res = await api.call("GET", "/api/tasks", { bearer: jwt });
      if (res.status === 200) break;
      assert.equal(res.status, 503, res.text);
      assert.ok(Date.now() < deadline, `${impl.name} did not recover within 20 s`);
      await sleep(250);
    }
    assert.deepEqual(res.json.tasks.map((t) => [t.id, t.title, t.completed]), [[kept.id, "before", false]], "nothing from the outage was written");
  });

  it("a database that cannot serve (its table gone) → 503 + Retry-After as gatehouse answers, never 500", async () => {
    await api.db.exec('ALTER TABLE "tasks" RENAME TO "tasks_away"');
    try {
      for (const [method, path, json] of [
        ["GET", "/api/tasks"],
        ["POST", "/api/tasks", { title: "lost" }],
      ]) {
        const res = await api.call(method, path, { bearer: jwt, json });
        assert.equal(res.status, 503, `${method} ${path}: ${res.status} ${res.text}`);
        assert.equal(res.json?.code, "SERVICE_UNAVAILABLE", res.text);
        assert.ok(Number(res.headers["retry-after"]) > 0, "Retry-After");
      }
    } finally {
      await api.db.exec('ALTER TABLE "tasks_away" RENAME TO "tasks"');
    }
    const res = await api.call("GET", "/api/tasks", { bearer: jwt });
    assert.equal(res.status, 200, res.text);
  });
});
