// GATEHOUSE_PLUGINS (better-auth's `plugins: [...]`): only the listed plugins run. Without jwt there
// is no /token, /jwks or set-auth-jwt; without bearer an Authorization header authenticates nobody
// and no response carries set-auth-token; an unknown id stops the server at start; a plugin's
// options and CLI commands exist only while it runs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY, SECRET } from "./lib/config.mjs";
import { assertBare404, forEachBackend, signIn, signUp } from "./lib/fixtures.mjs";
import { openDb, sql, withHelpers } from "./lib/db.mjs";
import { raw } from "./lib/http.mjs";
import { runCli, startServer } from "./lib/server.mjs";
import { makeTempDir } from "./lib/util.mjs";
import path from "node:path";

async function tableExists(srv, name) {
  const q =
    srv.backend === "sqlite"
      ? sql`select name from sqlite_master where type = 'table' and name = ${name}`
      : sql`select table_name from information_schema.tables where table_name = ${name}`;
  return (await srv.db.all(q)).length > 0;
}

forEachBackend("plugins (GATEHOUSE_PLUGINS)", (backend) => {
  describe("bearer only", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "plug-bearer", env: { GATEHOUSE_PLUGINS: "bearer" } });
    });
    after(async () => {
      await srv?.stop();
    });

    it("the jwt plugin's routes are not served (bare 404) and get-session has no set-auth-jwt", async () => {
      const a = await signUp(srv);
      assertBare404(await raw(srv, "GET", "/token", { jar: a.jar }));
      assertBare404(await raw(srv, "GET", "/jwks"));
      assertBare404(await raw(srv, "GET", "=/.well-known/jwks.json"));
      const res = await raw(srv, "GET", "/get-session", { jar: a.jar });
      assert.equal(res.status, 200);
      assert.equal(res.json.user.id, a.user.id);
      assert.equal(res.headers["set-auth-jwt"], undefined);
      assert.doesNotMatch(String(res.headers["access-control-expose-headers"] ?? ""), /set-auth-jwt/);
    });

    it("bearer still authenticates and sign-in still answers set-auth-token", async () => {
      const a = await signUp(srv);
      assert.ok(a.res.headers["set-auth-token"], "sign-up has set-auth-token");
      const res = await raw(srv, "GET", "/get-session", { bearer: a.token, origin: null });
      assert.equal(res.json?.session?.token, a.token);
    });

    it("a fresh database gets no jwks table (the jwt plugin's migration did not run)", async () => {
      assert.equal(await tableExists(srv, "jwks"), false);
      assert.equal(await tableExists(srv, "session"), true);
    });
  });

  describe("jwt only", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "plug-jwt", env: { GATEHOUSE_PLUGINS: "jwt" } });
    });
    after(async () => {
      await srv?.stop();
    });

    it("Authorization: Bearer authenticates nobody; no response carries set-auth-token", async () => {
      const a = await signUp(srv);
      assert.equal(a.res.headers["set-auth-token"], undefined, "sign-up without bearer plugin");
      const s = await signIn(srv, { email: a.email });
      assert.equal(s.res.headers["set-auth-token"], undefined, "sign-in without bearer plugin");
      let res = await raw(srv, "GET", "/get-session", { bearer: a.token, origin: null });
      assert.equal(res.status, 200);
      assert.equal(res.text, "null");
      res = await raw(srv, "GET", "/list-sessions", { bearer: a.token, origin: null });
      assert.equal(res.status, 401);
    });

    it("the cookie session still gets /token and set-auth-jwt; the jwks table exists", async () => {
      const a = await signUp(srv);
      const t = await raw(srv, "GET", "/token", { jar: a.jar });
      assert.equal(t.status, 200, t.text);
      assert.equal(t.json.token.split(".").length, 3);
      const res = await raw(srv, "GET", "/get-session", { jar: a.jar });
      assert.ok(res.headers["set-auth-jwt"], "set-auth-jwt");
      assert.equal(await tableExists(srv, "jwks"), true);
    });
  });

  describe("none", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "plug-none", env: { GATEHOUSE_PLUGINS: "none" } });
    });
    after(async () => {
      await srv?.stop();
    });

    it("core routes only: no bearer, no jwt", async () => {
      const a = await signUp(srv);
      assert.equal(a.res.headers["set-auth-token"], undefined);
      assertBare404(await raw(srv, "GET", "/jwks"));
      const res = await raw(srv, "GET", "/get-session", { bearer: a.token, origin: null });
      assert.equal(res.text, "null");
      const own = await raw(srv, "GET", "/get-session", { jar: a.jar });
      assert.equal(own.json.user.email, a.email);
      assert.equal(own.headers["set-auth-jwt"], undefined);
    });
  });
});

describe("plugins: configuration", { skip: GATEHOUSE_ONLY }, () => {
  let env;
  before(() => {
    const dir = makeTempDir("gh-e2e-plugins");
    env = {
      DATABASE_URL: `sqlite:${path.join(dir, "p.db")}`,
      GATEHOUSE_SECRET: SECRET,
      GATEHOUSE_BASE_URL: "http://127.0.0.1:3998",
      PORT: "3998",
    };
  });

  it("an unknown plugin id stops serve and check-config at start, naming the id and the available ones", async () => {
    for (const args of [["serve", "--migrate"], ["check-config"]]) {
      const r = await runCli(args, { env: { ...env, GATEHOUSE_PLUGINS: "bearer,two-factr" }, timeoutMs: 15000 });
      assert.equal(r.signal, null, "still running after 15 s");
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /GATEHOUSE_PLUGINS: unknown plugin "two-factr" \(available: bearer, jwt(, [a-z-]+)*\)/);
      assert.match(r.stderr, /available: [^)]*\bapi-key\b/);
      assert.match(r.stderr, /\(available: [^)]*\btwo-factor\b[^)]*\)/);
    }
    const dup = await runCli(["check-config"], { env: { ...env, GATEHOUSE_PLUGINS: "jwt, jwt" } });
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /listed twice/);
  });

  it("a plugin's options are loaded, validated and printed only while it runs", async () => {
    let r = await runCli(["check-config"], { env: { ...env, GATEHOUSE_PLUGINS: "bearer,jwt", GATEHOUSE_JWT_ALG: "ES256" } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /GATEHOUSE_JWT_ALG\s+ES256/);
    assert.match(r.stdout, /GATEHOUSE_PLUGINS\s+bearer,jwt/);
    r = await runCli(["check-config"], { env: { ...env, GATEHOUSE_PLUGINS: "jwt", GATEHOUSE_JWT_ALG: "HS256" } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /GATEHOUSE_JWT_ALG: expected EdDSA/);
    // not running: its options are neither read nor printed
    r = await runCli(["check-config"], { env: { ...env, GATEHOUSE_PLUGINS: "bearer", GATEHOUSE_JWT_ALG: "HS256" } });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /GATEHOUSE_JWT_ALG/);
  });

  it("a plugin's CLI command exists only while the plugin runs", async () => {
    const mig = await runCli(["migrate"], { env: { ...env, GATEHOUSE_PLUGINS: "bearer" } });
    assert.equal(mig.code, 0, mig.stderr);
    const r = await runCli(["keys", "list"], { env: { ...env, GATEHOUSE_PLUGINS: "bearer" } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /its plugin is not in GATEHOUSE_PLUGINS: bearer/);
    const unknown = await runCli(["frobnicate"], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: gatehouse/);
  });

  it("upgrading a database whose jwks table came with the core migration: serve asks for migrate; migrate records jwt/001_jwks and keeps the keys", async () => {
    const dir = makeTempDir("gh-e2e-plugins-upgrade");
    const up = { ...env, DATABASE_URL: `sqlite:${path.join(dir, "old.db")}` };
    // the layout an earlier gatehouse left: 001_core recorded, the jwks table (with a key) beside it
    let r = await runCli(["migrate"], { env: { ...up, GATEHOUSE_PLUGINS: "none" } });
    assert.equal(r.code, 0, r.stderr);
    const srv = { backend: "sqlite", db: withHelpers(openDb(up.DATABASE_URL)) };
    try {
      await srv.db.exec(
        `create table "jwks" ("id" text not null primary key, "publicKey" text not null, "privateKey" text not null, "createdAt" date not null, "expiresAt" date, "alg" text, "crv" text);
         insert into "jwks" values ('old-key', '{}', '"x"', '2026-01-01T00:00:00.000Z', null, 'EdDSA', 'Ed25519');`,
      );
      r = await runCli(["serve"], { env: up, timeoutMs: 15000 });
      assert.equal(r.signal, null, "serve kept running on an unmigrated schema");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not migrated; run `gatehouse migrate`/);
      r = await runCli(["migrate"], { env: up });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /migrations applied: 1/);
      const names = (await srv.db.all(sql`select "name" from "gatehouse_migrations" order by "name"`)).map((x) => x.name);
      assert.deepEqual(names, ["001_core", "010_mail_outbox", "jwt/001_jwks"]);
      assert.equal((await srv.db.all(sql`select "id" from "jwks"`)).length, 1, "the existing key is kept");
      r = await runCli(["migrate"], { env: up });
      assert.match(r.stdout, /migrations applied: 0/);
    } finally {
      await srv.db.close().catch(() => {});
    }
  });
});

