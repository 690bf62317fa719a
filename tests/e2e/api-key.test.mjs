// api-key plugin (spec §7.3, @better-auth/api-key 1.7.5): the official client with apiKeyClient()
// and plain HTTP against GATEHOUSE_PLUGINS=bearer,jwt,api-key — create/get/list/update/delete with
// the plugin's shapes, key order and errors; keys stored hashed (SHA-256, base64url) with their
// `start`; x-api-key as the owner's session (GATEHOUSE_API_KEY_SESSIONS, off by default as
// better-auth's enableSessionForAPIKeys) with its expiry, enabled, remaining/refill and per-key
// rate limit; the browser-only routes that refuse keys; POST /api-key/verify and
// delete-all-expired only for GATEHOUSE_SERVICE_TOKEN holders; the `gatehouse apikey` CLI;
// gatehouse-tasks accepting x-api-key through the verify route (scopes tasks:read/tasks:write,
// fail-closed 503, the short positive cache); and
// (PostgreSQL) two-way with the real better-auth + apiKey() on one database.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { apiKey } from "@better-auth/api-key";
import { apiKeyClient } from "@better-auth/api-key/client";
import { createAuthClient } from "better-auth/client";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { GATEHOUSE_ONLY, backends } from "./lib/config.mjs";
import { CookieJar } from "./lib/cookies.mjs";
import { ID32, ISO_MS, assertBare404, assertError, forEachBackend, signUp } from "./lib/fixtures.mjs";
import { sql } from "./lib/db.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";
import { fastapiSkipReason, startFastapiTasks, startTasks, tasksRequest } from "./lib/tasks.mjs";
import { freePort } from "./lib/util.mjs";

const SERVICE_TOKEN = "service-token-for-the-e2e-suite-0123456789abcdef";

// The resource servers that take x-api-key through the verify route: gatehouse-tasks and the
// FastAPI example (integrations/fastapi/examples/tasks_app.py), with the same answers.
const TASK_IMPLS = [
  { name: "gatehouse-tasks", start: startTasks, skip: () => false },
  { name: "the FastAPI example", start: startFastapiTasks, skip: (backend) => fastapiSkipReason(backend) || false },
];
const PLUGINS = "bearer,jwt,api-key";

/** The plugin's row keys, in its order (schema order, id last); create adds `key` after prefix. */
const ROW_KEYS = [
  "configId",
  "name",
  "start",
  "referenceId",
  "prefix",
  "refillInterval",
  "refillAmount",
  "lastRefillAt",
  "enabled",
  "rateLimitEnabled",
  "rateLimitTimeWindow",
  "rateLimitMax",
  "requestCount",
  "remaining",
  "lastRequest",
  "expiresAt",
  "createdAt",
  "updatedAt",
  "permissions",
  "metadata",
  "id",
];
const CREATE_KEYS = [...ROW_KEYS.slice(0, 5), "key", ...ROW_KEYS.slice(5)];

const storedHash = (key) => crypto.createHash("sha256").update(key, "utf8").digest("base64url");

/** The official client with the api-key client plugin, a cookie jar and Origin = the base URL. */
function keyClient(srv, { jar = new CookieJar(), headers = {} } = {}) {
  const client = createAuthClient({
    baseURL: srv.apiBase,
    plugins: [apiKeyClient()],
    fetchOptions: {
      customFetchImpl: async (input, init = {}) => {
        const h = new Headers(init.headers || {});
        h.set("origin", srv.baseURL);
        for (const [k, v] of Object.entries(headers)) h.set(k, v);
        const c = jar.header();
        if (c) h.set("cookie", c);
        const res = await fetch(input, { ...init, headers: h, redirect: "manual" });
        jar.absorb(res.headers.getSetCookie());
        return res;
      },
    },
  });
  return { client, jar };
}

async function create(srv, jar, body = {}) {
  const r = await raw(srv, "POST", "/api-key/create", { json: body, jar });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function keyRow(srv, id) {
  return srv.db.one(sql`select * from "apikey" where "id" = ${id}`);
}

const dbDate = (srv, ms) => (srv.db.kind === "sqlite" ? new Date(ms).toISOString() : new Date(ms));

async function setRow(srv, id, fields) {
  for (const [k, v] of Object.entries(fields)) {
    await srv.db.all({ strings: [`update "apikey" set "${k}" = `, ` where "id" = `, ""], values: [v, id] });
  }
}

const withKey = (key) => ({ headers: { "x-api-key": key }, origin: null });

function verify(srv, body, { token = SERVICE_TOKEN, headers = {}, origin = null } = {}) {
  return raw(srv, "POST", "/api-key/verify", { json: body, origin, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

forEachBackend("api-key", (backend) => {
  describe("routes through the official client and plain HTTP", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "apikey", env: { GATEHOUSE_PLUGINS: PLUGINS, GATEHOUSE_API_KEY_METADATA: "true" } });
    });
    after(async () => {
      await srv?.stop();
    });

    it("create → the plugin's row with the plaintext key once; stored hashed (SHA-256 base64url) with its start, never the key", async () => {
      const { jar, user } = await signUp(srv);
      const { client } = keyClient(srv, { jar });
      const { data, error } = await client.apiKey.create({ name: "ci", prefix: "gh_", metadata: { team: "ops" } });
      assert.equal(error, null, JSON.stringify(error));
      assert.deepEqual(Object.keys(data), CREATE_KEYS);
      assert.match(data.key, /^gh_[A-Za-z]{64}$/);
      assert.equal(data.start, data.key.slice(0, 6));
      assert.equal(data.prefix, "gh_");
      assert.equal(data.name, "ci");
      assert.equal(data.configId, "default");
      assert.equal(data.referenceId, user.id);
      assert.match(data.id, ID32);
      assert.equal(data.enabled, true);
      assert.equal(data.rateLimitEnabled, true);
      assert.equal(data.rateLimitTimeWindow, 86400000);
      assert.equal(data.rateLimitMax, 10);
      assert.equal(data.requestCount, 0);
      assert.equal(data.remaining, null);
      assert.equal(data.expiresAt, null);
      assert.equal(data.permissions, null);
      assert.deepEqual(data.metadata, { team: "ops" });
      const row = await keyRow(srv, data.id);
      assert.equal(row.key, storedHash(data.key));
      assert.equal(row.start, data.start);
      assert.equal(row.referenceId, user.id);
      assert.equal(row.metadata, JSON.stringify({ team: "ops" }));
      assert.ok(!JSON.stringify(row).includes(data.key.slice(3)), "the plaintext is not stored");
      // get / list never show the key again
      const got = await client.apiKey.get({ query: { id: data.id } });
      assert.equal(got.error, null);
      assert.deepEqual(Object.keys(got.data), ROW_KEYS);
      assert.ok(!("key" in got.data));
      assert.deepEqual(got.data.metadata, { team: "ops" });
      const list = await client.apiKey.list();
      assert.equal(list.error, null);
      assert.deepEqual(Object.keys(list.data), ["apiKeys", "total"]);
      assert.equal(list.data.total, 1);
      assert.equal(list.data.apiKeys[0].id, data.id);
      assert.ok(!("key" in list.data.apiKeys[0]));
    });

    it("create defaults: no prefix → 64 letters, null name and prefix; metadata null stored as the string \"null\"", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar, {});
      assert.match(k.key, /^[A-Za-z]{64}$/);
      assert.equal(k.prefix, null);
      assert.equal(k.name, null);
      assert.equal(k.metadata, null);
      assert.match(k.createdAt, ISO_MS);
      const frac = await create(srv, jar, { expiresIn: 1.5 * 86400, name: "" }); // a number, not only integers; "" is no name
      assert.ok(Math.abs(Date.parse(frac.expiresAt) - (Date.now() + 1.5 * 86400000)) < 120000, frac.expiresAt);
      assert.equal(frac.name, "");
      assert.equal((await keyRow(srv, k.id)).metadata, "null");
    });

    it("create refusals: validation, lengths, expiresIn bounds, server-only properties, userId, no session", async () => {
      const { jar } = await signUp(srv);
      const c = (json, opts = {}) => raw(srv, "POST", "/api-key/create", { json, jar, ...opts });
      assertError(
        await c({ name: 5, prefix: "a b" }),
        400,
        "VALIDATION_ERROR",
        "[body.name] Invalid input: expected string, received number; [body.prefix] Invalid prefix format, must be alphanumeric and contain only underscores and hyphens.",
      );
      assertError(await c({ prefix: "p".repeat(33) }), 400, "INVALID_PREFIX_LENGTH", "The prefix length is either too large or too small.");
      assertError(await c({ name: "n".repeat(33) }), 400, "INVALID_NAME_LENGTH", "The name length is either too large or too small.");
      assertError(await c({ expiresIn: 5 }), 400, "EXPIRES_IN_IS_TOO_SMALL", "The expiresIn is smaller than the predefined minimum value.");
      assertError(await c({ expiresIn: 366 * 86400 }), 400, "EXPIRES_IN_IS_TOO_LARGE", "The expiresIn is larger than the predefined maximum value.");
      const serverOnly = "The property you're trying to set can only be set from the server auth instance only.";
      for (const body of [{ remaining: 5 }, { permissions: { tasks: ["read"] } }, { rateLimitMax: 100 }, { rateLimitEnabled: false }, { refillAmount: 1, refillInterval: 1000 }]) {
        assertError(await c(body), 400, "SERVER_ONLY_PROPERTY", serverOnly);
        assertError(await c(body, { jar: undefined }), 400, "SERVER_ONLY_PROPERTY", serverOnly); // before the session check
      }
      assertError(await c({ userId: "someone-else" }), 401, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session");
      assertError(await c({ name: "x" }, { jar: undefined }), 401, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session");
      assert.equal(await srv.db.count("apikey", {}), (await srv.db.all(sql`select id from "apikey"`)).length);
    });

    it("options: metadata refused while disabled (better-auth's default), a default prefix, another key header, no browser-only list (`none`)", async () => {
      const plain = await startServer({
        backend,
        hint: "apikey-opts",
        env: {
          GATEHOUSE_PLUGINS: PLUGINS,
          GATEHOUSE_API_KEY_DEFAULT_PREFIX: "ghk_",
          GATEHOUSE_API_KEY_SESSIONS: "true",
          GATEHOUSE_API_KEY_HEADERS: "x-service-key, x-api-key",
          GATEHOUSE_API_KEY_SESSION_DENY: "none",
        },
      });
      try {
        const { jar, user } = await signUp(plain);
        assertError(await raw(plain, "POST", "/api-key/create", { json: { metadata: { a: 1 } }, jar }), 400, "METADATA_DISABLED", "Metadata is disabled.");
        const k = await create(plain, jar, { metadata: null });
        assert.equal(k.metadata, null);
        assert.match(k.key, /^ghk_[A-Za-z]{64}$/);
        assert.equal(k.prefix, "ghk_");
        assert.equal(k.start, "ghk_" + k.key.slice(4, 6));
        const own = await create(plain, jar, { prefix: "mine" });
        assert.match(own.key, /^mine[A-Za-z]{64}$/);
        const gs = await raw(plain, "GET", "/get-session", { origin: null, headers: { "x-service-key": k.key } });
        assert.equal(gs.status, 200, gs.text);
        assert.equal(gs.json.user.id, user.id);
        // with the list emptied a key is a session everywhere, as in better-auth
        const ls = await raw(plain, "GET", "/list-sessions", withKey(k.key));
        assert.equal(ls.status, 200, ls.text);
        assert.ok(Array.isArray(ls.json));
      } finally {
        await plain.stop();
      }
    });

    it("update: name, enabled, expiresIn, metadata; server-only and empty updates refused; updatedAt kept as the plugin does", async () => {
      const { jar } = await signUp(srv);
      const { client } = keyClient(srv, { jar });
      const k = await create(srv, jar, { name: "before" });
      const { data, error } = await client.apiKey.update({ keyId: k.id, name: "after", enabled: false, expiresIn: 2 * 86400, metadata: { v: 2 } });
      assert.equal(error, null, JSON.stringify(error));
      assert.deepEqual(Object.keys(data), ROW_KEYS);
      assert.equal(data.name, "after");
      assert.equal(data.enabled, false);
      assert.ok(data.expiresAt instanceof Date, "the client revives the ISO date");
      assert.ok(Math.abs(data.expiresAt.getTime() - (Date.now() + 2 * 86400000)) < 120000);
      const stored = await keyRow(srv, k.id);
      assert.equal(Number(stored.enabled === true || stored.enabled === 1), 0, "enabled stored false");
      assert.ok(Math.abs(new Date(stored.expiresAt).getTime() - data.expiresAt.getTime()) < 1000);
      assert.deepEqual(data.metadata, { v: 2 });
      assert.equal(data.updatedAt.toISOString(), k.updatedAt);
      const u = (json) => raw(srv, "POST", "/api-key/update", { json, jar });
      assertError(await u({ keyId: k.id }), 400, "NO_VALUES_TO_UPDATE", "No values to update.");
      assertError(await u({ keyId: k.id, remaining: 3 }), 400, "SERVER_ONLY_PROPERTY", "The property you're trying to set can only be set from the server auth instance only.");
      assertError(await u({ keyId: k.id, name: "" }), 400, "INVALID_NAME_LENGTH", "The name length is either too large or too small.");
      assertError(await u({ keyId: k.id, expiresIn: 60 }), 400, "EXPIRES_IN_IS_TOO_SMALL", "The expiresIn is smaller than the predefined minimum value.");
      assertError(await u({ name: "x" }), 400, "VALIDATION_ERROR", "[body.keyId] Invalid input: expected string, received undefined");
      assertError(await u({ keyId: "nope", name: "x" }), 404, "KEY_NOT_FOUND", "API Key not found");
      const cleared = await u({ keyId: k.id, expiresIn: null });
      assert.equal(cleared.status, 200, cleared.text);
      assert.equal(cleared.json.expiresAt, null);
    });

    it("another user's key is not found by get, update or delete; unauthenticated calls are 401", async () => {
      const a = await signUp(srv);
      const b = await signUp(srv);
      const k = await create(srv, a.jar, { name: "mine" });
      assertError(await raw(srv, "GET", `/api-key/get?id=${k.id}`, { jar: b.jar }), 404, "KEY_NOT_FOUND", "API Key not found");
      assertError(await raw(srv, "POST", "/api-key/update", { json: { keyId: k.id, name: "x" }, jar: b.jar }), 404, "KEY_NOT_FOUND", "API Key not found");
      assertError(await raw(srv, "POST", "/api-key/delete", { json: { keyId: k.id }, jar: b.jar }), 404, "KEY_NOT_FOUND", "API Key not found");
      assert.equal((await raw(srv, "GET", "/api-key/list", { jar: b.jar })).json.total, 0);
      assertError(await raw(srv, "GET", `/api-key/get?id=${k.id}`), 401, "UNAUTHORIZED", "Unauthorized");
      assertError(await raw(srv, "GET", "/api-key/list"), 401, "UNAUTHORIZED", "Unauthorized");
      assertError(await raw(srv, "POST", "/api-key/update", { json: { keyId: k.id, name: "x" } }), 401, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session");
      assertError(await raw(srv, "GET", "/api-key/get", { jar: a.jar }), 400, "VALIDATION_ERROR", "[query.id] Invalid input: expected string, received undefined");
      assert.ok(await keyRow(srv, k.id), "still there");
    });

    it("delete → {success:true} and the row is gone; list pages with limit/offset and sorts", async () => {
      const { jar } = await signUp(srv);
      const { client } = keyClient(srv, { jar });
      const ks = [];
      for (const name of ["b", "a", "c"]) ks.push(await create(srv, jar, { name }));
      const page = await raw(srv, "GET", "/api-key/list?limit=1&offset=1", { jar });
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(Object.keys(page.json), ["apiKeys", "total", "limit", "offset"]);
      assert.equal(page.json.total, 3);
      assert.equal(page.json.limit, 1);
      assert.equal(page.json.offset, 1);
      assert.deepEqual(page.json.apiKeys.map((k) => k.id), [ks[1].id]);
      const sorted = await raw(srv, "GET", "/api-key/list?sortBy=name&sortDirection=desc", { jar });
      assert.deepEqual(sorted.json.apiKeys.map((k) => k.name), ["c", "b", "a"]);
      assertError(await raw(srv, "GET", "/api-key/list?limit=-1", { jar }), 400, "VALIDATION_ERROR", "[query.limit] Too small: expected number to be >=0");
      const del = await client.apiKey.delete({ keyId: ks[0].id });
      assert.equal(del.error, null);
      assert.deepEqual(del.data, { success: true });
      assert.equal(await keyRow(srv, ks[0].id), null);
      assertError(await raw(srv, "POST", "/api-key/delete", { json: { keyId: ks[0].id }, jar }), 404, "KEY_NOT_FOUND", "API Key not found");
    });

    it("x-api-key is ignored while GATEHOUSE_API_KEY_SESSIONS is off (better-auth's default)", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      const gs = await raw(srv, "GET", "/get-session", withKey(k.key));
      assert.equal(gs.status, 200);
      assert.equal(gs.text, "null");
      assert.equal((await keyRow(srv, k.id)).lastRequest, null, "not used");
    });

    it("without GATEHOUSE_SERVICE_TOKEN the server routes do not exist (404, empty body)", async () => {
      assertBare404(await verify(srv, { key: "x".repeat(64) }));
      assertBare404(await raw(srv, "POST", "/api-key/delete-all-expired-api-keys", { json: {}, origin: null, headers: { authorization: `Bearer ${SERVICE_TOKEN}` } }));
    });
  });

  describe("x-api-key sessions, limits and the verify endpoint", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({
        backend,
        hint: "apikey-sess",
        env: { GATEHOUSE_PLUGINS: PLUGINS, GATEHOUSE_API_KEY_SESSIONS: "true", GATEHOUSE_SERVICE_TOKEN: SERVICE_TOKEN },
      });
    });
    after(async () => {
      await srv?.stop();
    });

    it("get-session with x-api-key answers the owner's session as the plugin's hook does ({user, session} with the key as token)", async () => {
      const { jar, user } = await signUp(srv);
      const k = await create(srv, jar);
      const gs = await raw(srv, "GET", "/get-session", { ...withKey(k.key), headers: { "x-api-key": k.key, "user-agent": "ci-bot/1" } });
      assert.equal(gs.status, 200, gs.text);
      assert.deepEqual(Object.keys(gs.json), ["user", "session"]);
      assert.deepEqual(gs.json.user, user);
      assert.deepEqual(Object.keys(gs.json.session), ["id", "token", "userId", "userAgent", "ipAddress", "createdAt", "updatedAt", "expiresAt"]);
      assert.equal(gs.json.session.id, k.id);
      assert.equal(gs.json.session.token, k.key);
      assert.equal(gs.json.session.userId, user.id);
      assert.equal(gs.json.session.userAgent, "ci-bot/1");
      assert.equal(gs.json.session.ipAddress, "127.0.0.1");
      assert.equal(gs.setCookie.length, 0, "no cookie for a key");
      const row = await keyRow(srv, k.id);
      assert.equal(Number(row.requestCount), 1, "the use is counted");
      assert.ok(row.lastRequest);
      // a protected route that is not browser-only accepts it
      const list = await raw(srv, "GET", "/api-key/list", withKey(k.key));
      assert.equal(list.status, 200, list.text);
      assert.equal(list.json.apiKeys[0].id, k.id);
    });

    it("unknown, short, disabled and expired keys are refused with the plugin's codes; an expired key is deleted", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      const wrong = k.key.slice(0, -1) + (k.key.endsWith("a") ? "b" : "a");
      assertError(await raw(srv, "GET", "/get-session", withKey(wrong)), 401, "INVALID_API_KEY", "Invalid API key.");
      assertError(await raw(srv, "GET", "/get-session", withKey("short-key")), 403, "INVALID_API_KEY", "Invalid API key.");
      await raw(srv, "POST", "/api-key/update", { json: { keyId: k.id, enabled: false }, jar });
      assertError(await raw(srv, "GET", "/get-session", withKey(k.key)), 401, "KEY_DISABLED", "API Key is disabled");
      await raw(srv, "POST", "/api-key/update", { json: { keyId: k.id, enabled: true }, jar });
      await setRow(srv, k.id, { expiresAt: dbDate(srv, Date.now() - 1000) });
      assertError(await raw(srv, "GET", "/get-session", withKey(k.key)), 401, "KEY_EXPIRED", "API Key has expired");
      assert.equal(await keyRow(srv, k.id), null, "an expired key is deleted on use");
      assertError(await raw(srv, "GET", "/get-session", withKey(k.key)), 401, "INVALID_API_KEY", "Invalid API key.");
    });

    it("per-key rate limit: over rateLimitMax in the window → 429 RATE_LIMITED with details.tryAgainIn; a new window resets", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      await setRow(srv, k.id, { rateLimitMax: 2, rateLimitTimeWindow: 60000 });
      for (let i = 0; i < 2; i++) assert.equal((await raw(srv, "GET", "/get-session", withKey(k.key))).status, 200);
      const r = await raw(srv, "GET", "/get-session", withKey(k.key));
      assert.equal(r.status, 429, r.text);
      assert.deepEqual(Object.keys(r.json), ["message", "code", "details"]);
      assert.equal(r.json.code, "RATE_LIMITED");
      assert.equal(r.json.message, "Rate limit exceeded.");
      assert.ok(r.json.details.tryAgainIn > 0 && r.json.details.tryAgainIn <= 60000, JSON.stringify(r.json));
      await setRow(srv, k.id, { lastRequest: dbDate(srv, Date.now() - 61000) });
      assert.equal((await raw(srv, "GET", "/get-session", withKey(k.key))).status, 200);
      assert.equal(Number((await keyRow(srv, k.id)).requestCount), 1);
      // the default: 10 uses per day
      const d = await create(srv, jar);
      for (let i = 0; i < 10; i++) assert.equal((await raw(srv, "GET", "/get-session", withKey(d.key))).status, 200);
      assert.equal((await raw(srv, "GET", "/get-session", withKey(d.key))).status, 429);
    });

    it("concurrent uses never exceed the limits: 20 parallel verifies of a key allowed 5 → exactly 5 valid, remaining never below 0", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      await setRow(srv, k.id, { rateLimitMax: 5, rateLimitTimeWindow: 3600000 });
      const rs = await Promise.all(Array.from({ length: 20 }, () => verify(srv, { key: k.key })));
      assert.equal(rs.filter((r) => r.json?.valid === true).length, 5, rs.map((r) => r.text).join("\n"));
      assert.ok(rs.filter((r) => r.json?.valid === false).every((r) => r.json.error.code === "RATE_LIMITED"));
      assert.equal(Number((await keyRow(srv, k.id)).requestCount), 5);
      const q = await create(srv, jar);
      await setRow(srv, q.id, { remaining: 3, rateLimitEnabled: srv.db.kind === "sqlite" ? 0 : false });
      const qs = await Promise.all(Array.from({ length: 12 }, () => verify(srv, { key: q.key })));
      assert.equal(qs.filter((r) => r.json?.valid === true).length, 3);
      const row = await keyRow(srv, q.id);
      assert.ok(row === null || Number(row.remaining) === 0, "remaining never negative");
      assert.ok(!srv.stderrLines.some((l) => l.includes(k.key) || l.includes(q.key) || l.includes(SERVICE_TOKEN)), "no key or token in the logs");
    });

    it("remaining: each use takes one; 0 without refill → 429 USAGE_EXCEEDED and the key is deleted; a due refill restores refillAmount", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      await setRow(srv, k.id, { remaining: 2, rateLimitEnabled: srv.db.kind === "sqlite" ? 0 : false });
      assert.equal((await raw(srv, "GET", "/get-session", withKey(k.key))).status, 200);
      assert.equal(Number((await keyRow(srv, k.id)).remaining), 1);
      assert.equal((await raw(srv, "GET", "/get-session", withKey(k.key))).status, 200);
      assertError(await raw(srv, "GET", "/get-session", withKey(k.key)), 429, "USAGE_EXCEEDED", "API Key has reached its usage limit");
      assert.equal(await keyRow(srv, k.id), null);
      const r = await create(srv, jar);
      await setRow(srv, r.id, { remaining: 0, refillAmount: 5, refillInterval: 1000, lastRefillAt: dbDate(srv, Date.now() - 5000) });
      assert.equal((await raw(srv, "GET", "/get-session", withKey(r.key))).status, 200);
      const row = await keyRow(srv, r.id);
      assert.equal(Number(row.remaining), 4, "refilled to 5, this use taken");
      assert.ok(Date.now() - new Date(row.lastRefillAt).getTime() < 60000);
      await setRow(srv, r.id, { remaining: 0, refillInterval: 3600000, lastRefillAt: dbDate(srv, Date.now()) });
      assertError(await raw(srv, "GET", "/get-session", withKey(r.key)), 429, "USAGE_EXCEEDED", "API Key has reached its usage limit");
      assert.ok(await keyRow(srv, r.id), "a key with a refill to come is kept");
    });

    it("keys are refused where only browser sessions belong (change-password, list-sessions, sign-out, key management)", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar);
      const msg = "API keys are not accepted on this route";
      assertError(await raw(srv, "POST", "/change-password", { json: { currentPassword: "x", newPassword: "yyyyyyyyyy" }, ...withKey(k.key) }), 403, "API_KEY_NOT_ALLOWED", msg);
      assertError(await raw(srv, "GET", "/list-sessions", withKey(k.key)), 403, "API_KEY_NOT_ALLOWED", msg);
      assertError(await raw(srv, "POST", "/sign-out", { json: {}, ...withKey(k.key) }), 403, "API_KEY_NOT_ALLOWED", msg);
      assertError(await raw(srv, "POST", "/api-key/create", { json: {}, ...withKey(k.key) }), 403, "API_KEY_NOT_ALLOWED", msg);
      assertError(await raw(srv, "POST", "/api-key/delete", { json: { keyId: k.id }, ...withKey(k.key) }), 403, "API_KEY_NOT_ALLOWED", msg);
      assert.ok(await keyRow(srv, k.id));
      assert.equal(Number((await keyRow(srv, k.id)).requestCount), 0, "refused before the key is used");
    });

    it("POST /api-key/verify: the service token is required (constant-time), browsers are refused, the answer is verifyApiKey's", async () => {
      const { jar } = await signUp(srv);
      const k = await create(srv, jar, { name: "svc" });
      assertError(await verify(srv, { key: k.key }, { token: null }), 401, "INVALID_SERVICE_TOKEN", "A valid service token is required");
      assertError(await verify(srv, { key: k.key }, { token: SERVICE_TOKEN.slice(0, -1) + "X" }), 401, "INVALID_SERVICE_TOKEN", "A valid service token is required");
      const browser = await verify(srv, { key: k.key }, { origin: srv.baseURL });
      assertError(browser, 403, "SERVICE_ROUTE", "This route is for servers; browsers cannot call it");
      assert.equal(browser.headers["access-control-allow-origin"], undefined, "no CORS on the service routes");
      assertError(await verify(srv, { key: k.key }, { headers: { "sec-fetch-mode": "cors" } }), 403, "SERVICE_ROUTE", "This route is for servers; browsers cannot call it");
      assert.equal(Number((await keyRow(srv, k.id)).requestCount), 0, "refused callers never touch the key");
      const ok = await verify(srv, { key: k.key });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(Object.keys(ok.json), ["valid", "error", "key"]);
      assert.equal(ok.json.valid, true);
      assert.equal(ok.json.error, null);
      assert.deepEqual(Object.keys(ok.json.key), ROW_KEYS);
      assert.equal(ok.json.key.id, k.id);
      assert.equal(ok.json.key.requestCount, 1);
      const bad = await verify(srv, { key: "Z".repeat(64) });
      assert.equal(bad.status, 200);
      assert.deepEqual(bad.json, { valid: false, error: { message: "Invalid API key.", code: "INVALID_API_KEY" }, key: null });
      const perm = await verify(srv, { key: k.key, permissions: { tasks: ["read"] } });
      assert.deepEqual(perm.json, { valid: false, error: { message: "API Key not found", code: "KEY_NOT_FOUND" }, key: null });
      assertError(await verify(srv, {}), 400, "VALIDATION_ERROR", "[body.key] Invalid input: expected string, received undefined");
    });

    it("gatehouse apikey create|list|revoke: the key printed once, permissions checked by verify, revoke deletes", async () => {
      const { user, email } = await signUp(srv);
      const env = { ...srv.env };
      const made = await runCli(["apikey", "create", "--email", email, "--name", "deploy", "--permissions", '{"tasks":["read","write"]}', "--expires-in", "86400", "--rate-limit-max", "1000"], { env });
      assert.equal(made.code, 0, made.stderr);
      const key = made.stdout.trim();
      assert.match(key, /^[A-Za-z]{64}$/);
      assert.match(made.stderr, /shown only this once/);
      const rows = await srv.db.all(sql`select * from "apikey" where "referenceId" = ${user.id}`);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].key, storedHash(key));
      assert.equal(rows[0].name, "deploy");
      assert.deepEqual(JSON.parse(rows[0].permissions), { tasks: ["read", "write"] });
      assert.equal(Number(rows[0].rateLimitMax), 1000);
      assert.ok(Math.abs(new Date(rows[0].expiresAt).getTime() - (Date.now() + 86400000)) < 120000);
      const listed = await runCli(["apikey", "list", "--email", email], { env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(listed.stdout.includes(rows[0].id) && listed.stdout.includes("deploy"));
      assert.ok(!listed.stdout.includes(key), "list never prints a key");
      const okRead = await verify(srv, { key, permissions: { tasks: ["read"] } });
      assert.equal(okRead.json.valid, true, okRead.text);
      assert.deepEqual(okRead.json.key.permissions, { tasks: ["read", "write"] });
      const nothing = await verify(srv, { key, permissions: { tasks: [] } });
      assert.equal(nothing.json.error?.code, "KEY_NOT_FOUND", "an empty action list is refused, as better-auth");
      const noAdmin = await verify(srv, { key, permissions: { tasks: ["admin"] } });
      assert.equal(noAdmin.json.valid, false);
      assert.equal(noAdmin.json.error.code, "KEY_NOT_FOUND");
      const bad = await runCli(["apikey", "create", "--email", email, "--name", "x", "--permissions", '{"tasks":"read"}'], { env });
      assert.notEqual(bad.code, 0);
      const gone = await runCli(["apikey", "revoke", rows[0].id], { env });
      assert.equal(gone.code, 0, gone.stderr);
      assert.equal(await keyRow(srv, rows[0].id), null);
      assert.notEqual((await runCli(["apikey", "revoke", rows[0].id], { env })).code, 0);
    });

    for (const impl of TASK_IMPLS) {
      it(`${impl.name} accepts x-api-key via the verify route: scopes from the key's permissions, limits answered 429, fail closed 503`, { skip: impl.skip(backend) }, async () => {
        const { user, email } = await signUp(srv);
        const env = { ...srv.env };
        const mk = async (perm) => {
          const args = ["apikey", "create", "--email", email, "--name", "tasks-bot"];
          if (perm) args.push("--permissions", JSON.stringify(perm));
          const r = await runCli(args, { env });
          assert.equal(r.code, 0, r.stderr);
          return r.stdout.trim();
        };
        const rw = await mk({ tasks: ["read", "write"] });
        const ro = await mk({ tasks: ["read"] });
        const none = await mk(null);
        const api = await impl.start({ backend, gatehouseUrl: srv.url, hint: "tasks-apikey", env: { TASKS_SERVICE_TOKEN: SERVICE_TOKEN, TASKS_API_KEY_CACHE_TTL: "0" } });
        const plain = await impl.start({ backend, gatehouseUrl: srv.url, hint: "tasks-nokeys" });
        try {
          const made = await tasksRequest(api.port, "POST", "/api/tasks", { json: { title: "from a key" }, headers: { "x-api-key": rw } });
          assert.equal(made.status, 201, made.text);
          const listed = await tasksRequest(api.port, "GET", `/api/${user.id}/tasks`, { headers: { "x-api-key": ro } });
          assert.equal(listed.status, 200, listed.text);
          assert.deepEqual(listed.json.tasks.map((t) => t.title), ["from a key"], "the key owner's tasks");
          const denied = await tasksRequest(api.port, "POST", "/api/tasks", { json: { title: "nope" }, headers: { "x-api-key": ro } });
          assert.equal(denied.status, 403, denied.text);
          assert.deepEqual(denied.json, { message: "The API key lacks the tasks:write permission", code: "INSUFFICIENT_SCOPE" });
          // the scope is checked before the path's user id: a read-only key writing to another user's path
          const scoped = await tasksRequest(api.port, "POST", "/api/someone-else/tasks", { json: { title: "nope" }, headers: { "x-api-key": ro } });
          assert.equal(scoped.status, 403, scoped.text);
          assert.equal(scoped.json.code, "INSUFFICIENT_SCOPE");
          const other = await tasksRequest(api.port, "GET", "/api/someone-else/tasks", { headers: { "x-api-key": ro } });
          assert.equal(other.status, 403, other.text);
          assert.equal(other.json.code, "FORBIDDEN");
          const noPerm = await tasksRequest(api.port, "GET", "/api/tasks", { headers: { "x-api-key": none } });
          assert.deepEqual(noPerm.json, { message: "The API key lacks the tasks:read permission", code: "INSUFFICIENT_SCOPE" });
          const bad = await tasksRequest(api.port, "GET", "/api/tasks", { headers: { "x-api-key": "Q".repeat(64) } });
          assert.equal(bad.status, 401, bad.text);
          assert.deepEqual(bad.json, { message: "The API key is invalid", code: "UNAUTHORIZED" });
          // an empty x-api-key is no credential: the request's other credential counts (here none)
          const empty = await tasksRequest(api.port, "GET", "/api/tasks", { headers: { "x-api-key": "" } });
          assert.equal(empty.status, 401, empty.text);
          assert.equal(empty.json.message, "Authentication required: send Authorization: Bearer <JWT>");
          const off = await tasksRequest(plain.port, "GET", "/api/tasks", { headers: { "x-api-key": rw } });
          assert.equal(off.status, 401, "without TASKS_SERVICE_TOKEN keys are refused");
          assert.equal(off.json.message, "API keys are not accepted here");
          // the key's own limits surface as 429
          const hash = storedHash(ro);
          await srv.db.all(sql`update "apikey" set "remaining" = ${0} where "key" = ${hash}`);
          const over = await tasksRequest(api.port, "GET", "/api/tasks", { headers: { "x-api-key": ro } });
          assert.equal(over.status, 429, over.text);
          assert.deepEqual(over.json, { message: "The API key has reached its limit", code: "TOO_MANY_REQUESTS" });
          assert.ok(!api.stderrLines.some((l) => l.includes(rw) || l.includes(SERVICE_TOKEN)), "no key or token in the logs");
        } finally {
          await plain.stop();
          await api.stop();
        }
        // the positive cache: a second request within the TTL does not ask gatehouse again
        const cached = await impl.start({ backend, gatehouseUrl: srv.url, hint: "tasks-apikey-cache", env: { TASKS_SERVICE_TOKEN: SERVICE_TOKEN, TASKS_API_KEY_CACHE_TTL: "60" } });
        try {
          const before = Number((await srv.db.one(sql`select "requestCount" from "apikey" where "key" = ${storedHash(rw)}`)).requestCount);
          for (let i = 0; i < 3; i++) assert.equal((await tasksRequest(cached.port, "GET", "/api/tasks", { headers: { "x-api-key": rw } })).status, 200);
          const afterCount = Number((await srv.db.one(sql`select "requestCount" from "apikey" where "key" = ${storedHash(rw)}`)).requestCount);
          assert.equal(afterCount, before + 1, "one verify for three requests");
        } finally {
          await cached.stop();
        }
      });

      it(`${impl.name} answers 503 for an API key when gatehouse cannot be reached (fail closed)`, { skip: impl.skip(backend) }, async () => {
        const closed = await freePort(); // nothing listens there
        const down = await impl.start({ backend, gatehouseUrl: `http://127.0.0.1:${closed}`, hint: "tasks-apikey-down", env: { TASKS_SERVICE_TOKEN: SERVICE_TOKEN } });
        try {
          const r = await tasksRequest(down.port, "GET", "/api/tasks", { headers: { "x-api-key": "A".repeat(64) } });
          assert.equal(r.status, 503, r.text);
          assert.equal(r.headers["retry-after"] !== undefined, true, "503 with Retry-After");
          assert.equal(r.json.code, "SERVICE_UNAVAILABLE");
        } finally {
          await down.stop();
        }
      });
    }

    it("delete-all-expired-api-keys (service token) deletes only expired keys → {success:true,error:null}", async () => {
      const { jar } = await signUp(srv);
      const live = await create(srv, jar);
      const dead = await create(srv, jar);
      await setRow(srv, dead.id, { expiresAt: dbDate(srv, Date.now() - 60000) });
      const call = (token) => raw(srv, "POST", "/api-key/delete-all-expired-api-keys", { json: {}, origin: null, headers: token ? { authorization: `Bearer ${token}` } : {} });
      assertError(await call(null), 401, "INVALID_SERVICE_TOKEN", "A valid service token is required");
      assert.ok(await keyRow(srv, dead.id));
      const r = await call(SERVICE_TOKEN);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '{"success":true,"error":null}');
      assert.equal(await keyRow(srv, dead.id), null);
      assert.ok(await keyRow(srv, live.id));
    });
  });
});

const pgSkip = backends().includes("postgres") ? GATEHOUSE_ONLY : "two-way api-key runs on PostgreSQL only";

describe("api-key two-way with the real better-auth apiKey() [postgres]", { skip: pgSkip }, () => {
  it("better-auth's schema is gatehouse's: each one's migrator finds nothing to add to the other's apikey table", async () => {
    const dbUrl = await freshDatabaseUrl("postgres", "apikey-schema");
    const srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "apikey-schema", env: { GATEHOUSE_PLUGINS: PLUGINS } });
    const ba = new InProcessBetterAuth(dbUrl, { jwt: true, plugins: [apiKey()] });
    try {
      const pending = await ba.pendingMigrations();
      assert.deepEqual(pending, { toBeCreated: [], toBeAdded: [] });
      const cols = await srv.db.all(
        sql`select column_name, data_type, is_nullable from information_schema.columns where table_name = 'apikey' order by ordinal_position`,
      );
      assert.deepEqual(cols.map((c) => c.column_name), ["id", ...ROW_KEYS.slice(0, 5), "key", ...ROW_KEYS.slice(5, -1)]);
    } finally {
      await ba.close();
      await srv.stop();
    }
  });

  it("a key made by better-auth verifies in gatehouse and one made by gatehouse in better-auth (x-api-key sessions and verify); the shapes match key for key", async () => {
    const dbUrl = await freshDatabaseUrl("postgres", "apikey-2way");
    const ba = new InProcessBetterAuth(dbUrl, { jwt: true, plugins: [apiKey({ enableSessionForAPIKeys: true })] });
    await ba.migrate();
    const srv = await startServer({
      databaseUrl: dbUrl,
      backend: "postgres",
      hint: "apikey-2way",
      env: { GATEHOUSE_PLUGINS: PLUGINS, GATEHOUSE_API_KEY_SESSIONS: "true", GATEHOUSE_SERVICE_TOKEN: SERVICE_TOKEN },
    });
    try {
      const { jar, user, email } = await signUp(srv);
      // better-auth signs the same user in and makes a key
      const si = await ba.request("POST", "/sign-in/email", { json: { email, password: "correct-horse-battery" }, headers: { origin: ba.baseURL } });
      const c = si.cookie("better-auth.session_token");
      const baKey = await ba.request("POST", "/api-key/create", { json: { name: "from-ba", prefix: "ba_" }, cookie: `${c.name}=${c.value}`, headers: { origin: ba.baseURL } });
      assert.equal(baKey.status, 200, baKey.text);
      const ghKey = await create(srv, jar, { name: "from-gh", prefix: "gh_" });
      assert.deepEqual(Object.keys(ghKey), Object.keys(baKey.json), "create answers the same members in the same order");
      // gatehouse honours better-auth's key
      const gs = await raw(srv, "GET", "/get-session", withKey(baKey.json.key));
      assert.equal(gs.status, 200, gs.text);
      assert.equal(gs.json.user.id, user.id);
      assert.equal(gs.json.session.id, baKey.json.id);
      const v = await verify(srv, { key: baKey.json.key });
      assert.equal(v.json.valid, true, v.text);
      assert.equal(v.json.key.requestCount, 2, "better-auth's counters are continued");
      // better-auth honours gatehouse's key
      const baGs = await ba.request("GET", "/get-session", { headers: { "x-api-key": ghKey.key } });
      assert.equal(baGs.status, 200, baGs.text);
      assert.equal(baGs.json.user.id, user.id);
      assert.equal(baGs.json.session.id, ghKey.id);
      assert.deepEqual(Object.keys(gs.json.session), Object.keys(baGs.json.session), "same x-api-key session shape");
      const baV = await ba.auth.api.verifyApiKey({ body: { key: ghKey.key } });
      assert.equal(baV.valid, true, JSON.stringify(baV));
      assert.equal(baV.key.requestCount, 2, "gatehouse's counters are continued");
      assert.deepEqual(Object.keys(v.json.key), Object.keys(JSON.parse(JSON.stringify(baV.key))), "verify answers the same key members");
      // each lists the other's key and its row reads the same
      const ghList = await raw(srv, "GET", "/api-key/list", { jar });
      assert.deepEqual(ghList.json.apiKeys.map((k) => k.id).sort(), [baKey.json.id, ghKey.id].sort());
      const baList = await ba.request("GET", "/api-key/list", { cookie: `${c.name}=${c.value}` });
      assert.equal(baList.status, 200, baList.text);
      const norm = (k) => ({ ...k, requestCount: undefined, lastRequest: undefined, updatedAt: undefined });
      const ghRow = ghList.json.apiKeys.find((k) => k.id === ghKey.id);
      const baRow = baList.json.apiKeys.find((k) => k.id === ghKey.id);
      assert.deepEqual(norm(ghRow), norm(baRow), "gatehouse's key reads the same through both");
      // a server-side key with permissions and a quota made by better-auth is enforced by gatehouse
      const srvKey = await ba.auth.api.createApiKey({ body: { userId: user.id, remaining: 1, permissions: { tasks: ["read"] } } });
      const p1 = await verify(srv, { key: srvKey.key, permissions: { tasks: ["read"] } });
      assert.equal(p1.json.valid, true, p1.text);
      assert.equal(p1.json.key.remaining, 0);
      const p2 = await verify(srv, { key: srvKey.key });
      assert.deepEqual(p2.json.error, { message: "API Key has reached its usage limit", code: "USAGE_EXCEEDED" });
      // a key deleted by gatehouse is gone for better-auth
      await raw(srv, "POST", "/api-key/delete", { json: { keyId: baKey.json.id }, jar });
      const after = await ba.auth.api.verifyApiKey({ body: { key: baKey.json.key } });
      assert.equal(after.valid, false);
      assert.equal(after.error.code, "INVALID_API_KEY");
    } finally {
      await ba.close();
      await srv.stop();
    }
  });
});
