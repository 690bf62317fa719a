// Two-way compatibility with the REAL better-auth 1.7.25 server library on the same PostgreSQL
// database (issue: "tested, not assumed"):
//   better-auth creates the schema (its own getMigrations) and signs users up → gatehouse
//   (serve --migrate) signs them in through the official client and accepts better-auth's cookies;
//   gatehouse creates users (HTTP sign-up, `gatehouse user create`) → real better-auth signs them in
//   and accepts gatehouse's cookies; a schema made by gatehouse is one better-auth accepts as is;
//   a database still carrying the 1.7.0–1.7.2 NOT NULL account.issuer column keeps working.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { makeClient } from "./lib/client.mjs";
import { GATEHOUSE_ONLY, backends } from "./lib/config.mjs";
import { SESSION_COOKIE, signedValue, verifyCookieValue } from "./lib/cookies.mjs";
import { sql } from "./lib/db.mjs";
import { PASSWORD, assertError, newEmail, scryptMatches, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";

const skip = backends().includes("postgres") ? false : "compat runs on PostgreSQL only (not in GH_E2E_BACKENDS)";

/** Sign up through better-auth; returns { token, user, cookie } (cookie = "name=value"). */
async function baSignUp(ba, { name, email, password = PASSWORD }) {
  const res = await ba.request("POST", "/sign-up/email", { json: { name, email, password } });
  assert.equal(res.status, 200, `better-auth sign-up: ${res.text}`);
  const c = res.cookie(SESSION_COOKIE);
  return { token: res.json.token, user: res.json.user, cookie: `${c.name}=${c.value}`, setAuthToken: res.headers.get("set-auth-token") };
}

async function baSignIn(ba, email, password = PASSWORD) {
  return ba.request("POST", "/sign-in/email", { json: { email, password } });
}

describe("compat [postgres]", { skip }, () => {
  describe("better-auth → gatehouse (schema and users made by better-auth)", () => {
    let dbUrl;
    let ba;
    let srv;
    const people = [];
    before(async () => {
      dbUrl = await freshDatabaseUrl("postgres", "compat-ba");
      ba = new InProcessBetterAuth(dbUrl);
      await ba.migrate();
      assert.deepEqual(await ba.pendingMigrations(), { toBeCreated: [], toBeAdded: [] });
      for (const [name, email] of [
        ["Compat One", `Compat.One-${Date.now()}@Example.com`],
        ["Compat Two", newEmail("compat-two")],
      ]) {
        people.push({ ...(await baSignUp(ba, { name, email })), email: email.toLowerCase(), name });
      }
      srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "compat-ba" });
    });
    after(async () => {
      await srv?.stop();
      await ba?.close();
    });

    it("gatehouse serve --migrate leaves a better-auth schema as better-auth wants it (no pending migration)", async () => {
      assert.deepEqual(await ba.pendingMigrations(), { toBeCreated: [], toBeAdded: [] });
      assert.equal(await srv.db.count("user"), people.length, "existing users kept");
    });

    it("users created by better-auth sign in to gatehouse with their passwords (official client)", async () => {
      for (const p of people) {
        const { client, jar } = makeClient(srv);
        const { data, error } = await client.signIn.email({ email: p.email.toUpperCase(), password: PASSWORD });
        assert.equal(error, null, JSON.stringify(error));
        assert.equal(data.user.id, p.user.id);
        assert.equal(data.user.email, p.email);
        assert.equal(data.user.name, p.name);
        assert.equal(data.user.createdAt.toISOString(), p.user.createdAt, "same createdAt to the millisecond");
        assert.equal(jar.sessionToken(srv.secret), data.token);
        const s = await client.getSession();
        assert.equal(s.data.user.id, p.user.id);
        const wrong = await raw(srv, "POST", "/sign-in/email", { json: { email: p.email, password: "not-the-password" } });
        assertError(wrong, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      }
    });

    it("a session cookie issued by better-auth is accepted by gatehouse's get-session (and its bearer token too)", async () => {
      const p = people[0];
      const res = await raw(srv, "GET", "/get-session", { cookie: p.cookie });
      assert.equal(res.status, 200);
      assert.equal(res.json?.session?.token, p.token, res.text);
      assert.deepEqual(res.json.user, p.user, "gatehouse renders the better-auth user identically");
      const viaBa = await ba.request("GET", "/get-session", { cookie: p.cookie });
      assert.deepEqual(res.json, viaBa.json, "gatehouse and better-auth answer get-session identically");
      const bearer = await raw(srv, "GET", "/get-session", { bearer: p.setAuthToken, origin: null });
      assert.equal(bearer.json?.session?.token, p.token);
    });

    it("users created by gatehouse (HTTP sign-up) sign in through real better-auth; gatehouse's cookie works in better-auth", async () => {
      const g = await signUp(srv, { name: "Made By Gatehouse", email: newEmail("gh-made") });
      const res = await baSignIn(ba, g.email);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.id, g.user.id);
      assert.deepEqual(res.json.user, g.user, "better-auth renders the gatehouse user identically");
      const gs = await ba.request("GET", "/get-session", { cookie: `${SESSION_COOKIE}=${g.jar.get(SESSION_COOKIE)}` });
      assert.equal(gs.status, 200);
      assert.equal(gs.json?.session?.token, g.token, gs.text);
      assert.equal(gs.json.user.id, g.user.id);
      const mine = await raw(srv, "GET", "/get-session", { jar: g.jar });
      assert.deepEqual(gs.json, mine.json, "both servers answer get-session identically");
      // and better-auth's own cookie for that user is accepted back by gatehouse
      const c = res.cookie(SESSION_COOKIE);
      assert.equal(verifyCookieValue(c.value, srv.secret), res.json.token);
      const back = await raw(srv, "GET", "/get-session", { cookie: `${c.name}=${c.value}` });
      assert.equal(back.json?.session?.token, res.json.token);
    });

    it("gatehouse sign-out deletes a better-auth session; better-auth then sees none", async () => {
      const p = people[1];
      const s = await baSignIn(ba, p.email);
      const cookie = `${SESSION_COOKIE}=${s.cookie(SESSION_COOKIE).value}`;
      const out = await raw(srv, "POST", "/sign-out", { cookie });
      assert.deepEqual(out.json, { success: true });
      assert.equal(await srv.db.sessionByToken(s.json.token), null);
      const gs = await ba.request("GET", "/get-session", { cookie });
      assert.equal(gs.text, "null");
    });

    it("a password changed through gatehouse works in better-auth (and the old one no longer does)", async () => {
      const p = people[0];
      const s = await signIn(srv, { email: p.email });
      const res = await raw(srv, "POST", "/change-password", { json: { currentPassword: PASSWORD, newPassword: "changed-by-gatehouse" }, jar: s.jar });
      assert.equal(res.status, 200, res.text);
      assert.equal((await baSignIn(ba, p.email, "changed-by-gatehouse")).status, 200);
      assert.equal((await baSignIn(ba, p.email, PASSWORD)).status, 401);
    });

    it("a user created with `gatehouse user create --password-stdin` signs in through better-auth", { skip: GATEHOUSE_ONLY }, async () => {
      const email = newEmail("cli-made");
      const r = await runCli(["user", "create", "--email", email, "--name", "Cli Made", "--password-stdin"], {
        env: srv.env,
        input: "cli-password-123\n",
      });
      assert.equal(r.code, 0, `user create failed: ${r.stdout}\n${r.stderr}`);
      const res = await baSignIn(ba, email, "cli-password-123");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.email, email);
      assert.equal(res.json.user.name, "Cli Made");
      const row = await srv.db.userByEmail(email);
      const [acc] = await srv.db.accountsOf(row.id);
      assert.equal(acc.providerId, "credential");
      assert.equal(acc.accountId, row.id);
      assert.ok(scryptMatches(acc.password, "cli-password-123"));
    });
  });

  describe("gatehouse → better-auth (schema made by gatehouse serve --migrate)", () => {
    let srv;
    let ba;
    before(async () => {
      srv = await startServer({ backend: "postgres", hint: "compat-gh" });
      ba = new InProcessBetterAuth(srv.databaseUrl);
    });
    after(async () => {
      await srv?.stop();
      await ba?.close();
    });

    it("better-auth's getMigrations finds nothing to create or add on gatehouse's schema", async () => {
      assert.deepEqual(await ba.pendingMigrations(), { toBeCreated: [], toBeAdded: [] });
    });

    it("gatehouse users sign in through better-auth and vice versa; cookies are accepted both ways", async () => {
      const g = await signUp(srv, { name: "G User", email: newEmail("g-user") });
      const baIn = await baSignIn(ba, g.email);
      assert.equal(baIn.status, 200, baIn.text);
      assert.deepEqual(baIn.json.user, g.user);
      const gs = await ba.request("GET", "/get-session", { cookie: `${SESSION_COOKIE}=${g.jar.get(SESSION_COOKIE)}` });
      assert.equal(gs.json?.session?.token, g.token, gs.text);

      const b = await baSignUp(ba, { name: "B User", email: newEmail("b-user") });
      const { client } = makeClient(srv);
      const { data, error } = await client.signIn.email({ email: b.user.email, password: PASSWORD });
      assert.equal(error, null, JSON.stringify(error));
      assert.equal(data.user.id, b.user.id);
      const mine = await raw(srv, "GET", "/get-session", { cookie: b.cookie });
      assert.equal(mine.json?.session?.token, b.token);
      assert.equal(signedValue(b.token, srv.secret), b.setAuthToken);
    });
  });

  describe("database migrated by better-auth 1.7.0–1.7.2 (NOT NULL account.issuer)", { skip: GATEHOUSE_ONLY }, () => {
    let ba;
    let srv;
    let old;
    before(async () => {
      const dbUrl = await freshDatabaseUrl("postgres", "compat-issuer");
      ba = new InProcessBetterAuth(dbUrl);
      await ba.migrate();
      old = await baSignUp(ba, { name: "Old User", email: newEmail("old-issuer") });
      // what 1.7.0–1.7.2 left behind: a required issuer column (filled for existing rows) + unique (issuer, accountId)
      await ba.pool.query(`ALTER TABLE "account" ADD COLUMN "issuer" text NOT NULL DEFAULT 'local:credential'`);
      await ba.pool.query(`ALTER TABLE "account" ALTER COLUMN "issuer" DROP DEFAULT`);
      await ba.pool.query(`CREATE UNIQUE INDEX "account_issuer_accountId_uidx" ON "account" ("issuer", "accountId")`);
      srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "compat-issuer" });
    });
    after(async () => {
      await srv?.stop();
      await ba?.close();
    });

    it("gatehouse sign-up still works and the account row is valid; old and new users sign in", async () => {
      for (const tag of ["new-issuer-1", "new-issuer-2"]) {
        const g = await signUp(srv, { email: newEmail(tag) });
        const [acc] = await srv.db.all(sql`SELECT * FROM "account" WHERE "userId" = ${g.user.id}`);
        assert.equal(acc.providerId, "credential");
        assert.equal(acc.accountId, g.user.id);
        assert.ok(acc.issuer === null || acc.issuer === "local:credential", `issuer ${acc.issuer}`);
        await signIn(srv, { email: g.email });
      }
      const s = await signIn(srv, { email: old.user.email });
      assert.equal(s.user.id, old.user.id);
    });
  });
});
