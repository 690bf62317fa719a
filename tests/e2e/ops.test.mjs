// Operations (gatehouse only; skipped with GH_E2E_TARGET=better-auth): JSON logs with audit events
// and no secrets, check-config, the user CLI, SIGTERM, and a PostgreSQL outage (503, recovery).
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { makeClient } from "./lib/client.mjs";
import { GATEHOUSE_ONLY, SECRET, backends } from "./lib/config.mjs";
import { CookieJar, SESSION_COOKIE, hmacSig } from "./lib/cookies.mjs";
import { PASSWORD, assertError, forEachBackend, newEmail, scryptMatches, signIn, signUp } from "./lib/fixtures.mjs";
import { sql } from "./lib/db.mjs";
import { raw } from "./lib/http.mjs";
import { PgCluster } from "./lib/pg.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";
import { freePort, makeTempDir, sleep } from "./lib/util.mjs";

const lower = (o) => JSON.stringify(o).toLowerCase();
const FAILURE = /fail|denied|invalid|reject|unauthori[sz]ed|error/;
/** Log objects mentioning an action (regex over the whole JSON text). */
const eventsLike = (srv, re) => srv.logs.filter((o) => !o.__unparsed && re.test(lower(o)));
/** A string field named like reason/code/error with a non-empty value. */
function reasonOf(o) {
  for (const [k, v] of Object.entries(o)) {
    if (/reason|code|error/i.test(k) && typeof v === "string" && v.length > 0) return v;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const inner = reasonOf(v);
      if (inner) return inner;
    }
  }
  return null;
}

describe("ops", { skip: GATEHOUSE_ONLY }, () => {
  forEachBackend("logs", (backend) => {
    let srv;
    const secrets = new Set([SECRET]); // every string that must never reach stderr
    let userEmail, ghost;
    const rememberRes = (res) => {
      for (const c of res.cookies || []) {
        if (c.value) {
          secrets.add(c.value);
          secrets.add(decodeURIComponent(c.value));
          const sig = decodeURIComponent(c.value).split(".").pop();
          if (sig.length >= 40) secrets.add(sig);
        }
      }
      const sat = res.headers?.["set-auth-token"];
      if (sat) secrets.add(sat);
      if (res.json?.token) secrets.add(res.json.token);
    };

    before(async () => {
      srv = await startServer({ backend, hint: "ops-logs" });
      // the scenario: sign-up, sign-in (success, wrong password, unknown user), get-session, revoke, sign-out
      const password = "Log-Scenario-Pa55word!";
      const wrongPassword = "Wrong-Guess-Pa55word?";
      secrets.add(password);
      secrets.add(wrongPassword);
      const email = newEmail("logs");
      const jar = new CookieJar();
      rememberRes(await raw(srv, "POST", "/sign-up/email", { json: { name: "Log User", email, password }, jar }));
      const second = new CookieJar();
      rememberRes(await raw(srv, "POST", "/sign-in/email", { json: { email, password }, jar: second }));
      rememberRes(await raw(srv, "POST", "/sign-in/email", { json: { email: email.toUpperCase(), password: wrongPassword }, headers: { "user-agent": "brute/1.0" } }));
      ghost = newEmail("ghost");
      rememberRes(await raw(srv, "POST", "/sign-in/email", { json: { email: ghost, password: wrongPassword } }));
      userEmail = email;
      rememberRes(await raw(srv, "GET", "/get-session", { jar }));
      rememberRes(await raw(srv, "GET", "/get-session", { bearer: jar.sessionToken(SECRET), origin: null }));
      rememberRes(await raw(srv, "POST", "/revoke-session", { json: { token: second.sessionToken(SECRET) }, jar }));
      rememberRes(await raw(srv, "POST", "/change-password", { json: { currentPassword: password, newPassword: `${password}-2` }, jar }));
      secrets.add(`${password}-2`);
      rememberRes(await raw(srv, "POST", "/update-user", { json: { name: "Evil" }, jar, origin: "http://evil.example" }));
      rememberRes(await raw(srv, "POST", "/sign-out", { jar }));
      secrets.add(hmacSig("true", SECRET)); // dont_remember signature
      // stop now so every buffered line is flushed; the exit code must be 0
      await srv.stop();
    });

    it("every stderr line is one JSON object", () => {
      assert.ok(srv.stderrLines.length > 0, "no log lines at all");
      for (const line of srv.stderrLines) {
        const o = JSON.parse(line);
        assert.ok(o && typeof o === "object" && !Array.isArray(o), line);
      }
    });

    it("audit events: sign-up, sign-in success, sign-in failures with a reason code, session created/revoked, sign-out", () => {
      const dump = () => srv.stderrLines.join("\n").slice(-6000);
      assert.ok(eventsLike(srv, /sign[-_ .]?up/).length >= 1, `no sign-up event:\n${dump()}`);
      const signIns = eventsLike(srv, /sign[-_ .]?in/);
      const ok = signIns.filter((o) => !FAILURE.test(lower(o)));
      const failed = signIns.filter((o) => FAILURE.test(lower(o)));
      assert.ok(ok.length >= 1, `no successful sign-in event:\n${dump()}`);
      assert.ok(failed.length >= 2, `expected 2 sign-in failure events (wrong password, unknown e-mail):\n${dump()}`);
      for (const o of failed) assert.ok(reasonOf(o), `sign-in failure without a reason code: ${JSON.stringify(o)}`);
      assert.ok(eventsLike(srv, /session/).some((o) => /creat/.test(lower(o))), `no session-created event:\n${dump()}`);
      assert.ok(eventsLike(srv, /session/).some((o) => /revok/.test(lower(o))), `no session-revoked event:\n${dump()}`);
      assert.ok(eventsLike(srv, /sign[-_ .]?out/).length >= 1, `no sign-out event:\n${dump()}`);
    });

    it("a failed sign-in's line names the client (IP, user agent) and the account (lower-cased e-mail, user id when it exists)", () => {
      const fails = srv.logs.filter((o) => o.event === "sign_in.failure");
      const wrong = fails.find((o) => o.reason === "INVALID_PASSWORD");
      assert.ok(wrong, `no INVALID_PASSWORD line: ${JSON.stringify(fails)}`);
      assert.equal(wrong.ip, "127.0.0.1");
      assert.equal(wrong.client, "127.0.0.1");
      assert.equal(wrong.user_agent, "brute/1.0");
      assert.equal(wrong.email, userEmail);
      assert.match(String(wrong.user_id), /^[A-Za-z0-9]{32}$/);
      const unknown = fails.find((o) => o.reason === "USER_NOT_FOUND");
      assert.ok(unknown, `no USER_NOT_FOUND line: ${JSON.stringify(fails)}`);
      assert.equal(unknown.email, ghost);
      assert.equal(unknown.user_id, null);
      assert.equal(unknown.ip, "127.0.0.1");
    });

    it("audit lines: sign-up, sign-in, sign-out, session revoked, password changed and origin rejected each name the client and the user", () => {
      const byEvent = (e) => srv.logs.filter((o) => o.event === e);
      for (const e of ["sign_up", "sign_in.success", "sign_out", "session.revoked", "password.changed", "origin.rejected"]) {
        const lines = byEvent(e);
        assert.ok(lines.length >= 1, `no ${e} line`);
        for (const o of lines) {
          assert.equal(o.client, "127.0.0.1", `${e}: client`);
          assert.equal(typeof o.ip, "string", `${e}: ip`);
          assert.equal(typeof o.user_agent, "string", `${e}: user_agent`);
          if (e !== "origin.rejected") assert.match(String(o.user_id), /^[A-Za-z0-9]{32}$/, `${e}: user_id`);
        }
      }
      const rejected = byEvent("origin.rejected")[0];
      assert.equal(rejected.origin, "http://evil.example");
      assert.equal(rejected.path, "/api/auth/update-user");
    });

    it("no password, session token, signed cookie value, signature or the secret appears anywhere in stderr", () => {
      const text = srv.stderrLines.join("\n");
      assert.ok(secrets.size >= 10, "the scenario produced the values to look for");
      for (const s of secrets) {
        assert.ok(s.length >= 8, `short probe ${s}`);
        assert.ok(!text.includes(s), `stderr contains a secret value: ${s.slice(0, 6)}…`);
        // also JSON-escaped forms (a logger escaping "/" or "+" would still leak)
        assert.ok(!text.includes(JSON.stringify(s).slice(1, -1)), `stderr contains a secret value (escaped): ${s.slice(0, 6)}…`);
      }
    });
  });

  describe("check-config", () => {
    let baseEnv;
    before(async () => {
      const dir = makeTempDir("gh-e2e-config");
      baseEnv = {
        PORT: "3999",
        GATEHOUSE_HOST: "127.0.0.1",
        DATABASE_URL: `sqlite:${path.join(dir, "config.db")}`,
        GATEHOUSE_SECRET: SECRET,
        GATEHOUSE_BASE_URL: "http://127.0.0.1:3999",
        GATEHOUSE_ENV: "development",
      };
    });

    it("prints the effective configuration with the secret masked, exit 0", async () => {
      const r = await runCli(["check-config"], { env: baseEnv });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = r.stdout + r.stderr;
      assert.ok(out.includes("http://127.0.0.1:3999"), `base URL not shown:\n${out}`);
      for (let i = 0; i + 8 <= SECRET.length; i++) {
        assert.ok(!out.includes(SECRET.slice(i, i + 8)), `secret (part) visible in check-config output:\n${out}`);
      }
    });

    it("production with a missing or shorter-than-32-byte secret → non-zero exit; with 32 bytes → 0", async () => {
      const prod = { ...baseEnv, GATEHOUSE_ENV: "production" };
      let r = await runCli(["check-config"], { env: { ...prod, GATEHOUSE_SECRET: undefined } });
      assert.notEqual(r.code, 0, `missing secret accepted:\n${r.stdout}${r.stderr}`);
      r = await runCli(["check-config"], { env: { ...prod, GATEHOUSE_SECRET: "x".repeat(31) } });
      assert.notEqual(r.code, 0, `31-byte secret accepted:\n${r.stdout}${r.stderr}`);
      assert.ok(!(r.stdout + r.stderr).includes("x".repeat(31)), "the rejected secret is echoed");
      r = await runCli(["check-config"], { env: { ...prod, GATEHOUSE_SECRET: "y".repeat(32) } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    it("GATEHOUSE_BASE_URL unset: the base URL follows PORT (a client at that port is a trusted origin, the JWT issuer matches)", async () => {
      const srv = await startServer({ backend: "sqlite", hint: "ops-baseurl", env: { GATEHOUSE_BASE_URL: undefined, BETTER_AUTH_URL: undefined } });
      try {
        const origin = `http://localhost:${srv.port}`;
        const res = await raw(srv, "POST", "/sign-up/email", { origin, json: { name: "Port", email: newEmail("port"), password: PASSWORD } });
        assert.equal(res.status, 200, `sign-up from ${origin}: ${res.text}`);
        const cookie = res.setCookie.map((l) => l.split(";")[0]).join("; ");
        const tok = await raw(srv, "GET", "/token", { cookie, origin });
        assert.equal(tok.status, 200, tok.text);
        const claims = JSON.parse(Buffer.from(tok.json.token.split(".")[1], "base64url"));
        assert.equal(claims.iss, origin);
      } finally {
        await srv.stop();
      }
      const r = await runCli(["check-config"], { env: { ...baseEnv, PORT: "4321", GATEHOUSE_BASE_URL: undefined } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /GATEHOUSE_BASE_URL\s+http:\/\/localhost:4321/);
    });

    it("invalid values (GATEHOUSE_ENV, session age, port) → non-zero exit", async () => {
      for (const bad of [{ GATEHOUSE_ENV: "staging" }, { GATEHOUSE_SESSION_EXPIRES_IN: "abc" }, { PORT: "70000" }]) {
        const r = await runCli(["check-config"], { env: { ...baseEnv, ...bad } });
        assert.notEqual(r.code, 0, `${JSON.stringify(bad)} accepted:\n${r.stdout}${r.stderr}`);
      }
    });

    it("serve refuses to start in production without a valid secret (exits non-zero by itself)", async () => {
      const r = await runCli(["serve", "--migrate"], {
        env: { ...baseEnv, PORT: String(await freePort()), GATEHOUSE_ENV: "production", GATEHOUSE_SECRET: "short" },
        timeoutMs: 15000,
      });
      assert.equal(r.signal, null, "still running after 15 s (killed)");
      assert.notEqual(r.code, 0);
    });

    it("version prints a version number", async () => {
      const r = await runCli(["version"], { env: baseEnv });
      assert.equal(r.code, 0);
      assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
    });
  });

  forEachBackend("cli", (backend) => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "ops-cli" });
    });
    after(async () => {
      await srv?.stop();
    });
    const cli = (args, input) => runCli(args, { env: srv.env, input });

    it("user create --password-stdin: the user signs in through the official client; e-mail lower-cased; scrypt account", async () => {
      const email = newEmail("cli").replace("cli-", "CLI-");
      const r = await cli(["user", "create", "--email", email, "--name", "Cli Person", "--password-stdin"], "cli-password-1\n");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(!(r.stdout + r.stderr).includes("cli-password-1"), "password echoed by the CLI");
      const row = await srv.db.userByEmail(email.toLowerCase());
      assert.ok(row, "user row with the lower-cased e-mail");
      assert.equal(row.name, "Cli Person");
      assert.match(row.id, /^[A-Za-z0-9]{32}$/);
      const [acc] = await srv.db.accountsOf(row.id);
      assert.equal(acc.providerId, "credential");
      assert.equal(acc.accountId, row.id);
      assert.ok(scryptMatches(acc.password, "cli-password-1"), "the trailing newline is not part of the password");
      const { client } = makeClient(srv);
      const { data, error } = await client.signIn.email({ email, password: "cli-password-1" });
      assert.equal(error, null, JSON.stringify(error));
      assert.equal(data.user.id, row.id);
    });

    it("user create refuses a duplicate e-mail (any case) and a too-short password, writing nothing", async () => {
      const a = await signUp(srv);
      const before = await srv.db.snapshot();
      let r = await cli(["user", "create", "--email", a.email.toUpperCase(), "--name", "Dup", "--password-stdin"], "another-password\n");
      assert.notEqual(r.code, 0, "duplicate accepted");
      r = await cli(["user", "create", "--email", newEmail("short"), "--name", "Short", "--password-stdin"], "1234567\n");
      assert.notEqual(r.code, 0, "7-character password accepted");
      assert.deepEqual(await srv.db.snapshot(), before);
    });

    it("user set-password: the new password works, the old one fails; unknown e-mail → non-zero", async () => {
      const a = await signUp(srv);
      let r = await cli(["user", "set-password", "--email", a.email], "set-by-cli-password\n");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await signIn(srv, { email: a.email, password: "set-by-cli-password" });
      const old = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD } });
      assertError(old, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      r = await cli(["user", "set-password", "--email", newEmail("nobody")], "whatever-password\n");
      assert.notEqual(r.code, 0, "set-password for an unknown user succeeded");
    });

    it("migrate on a fresh database (twice: idempotent), then serve without --migrate works", async () => {
      const databaseUrl = await freshDatabaseUrl(backend, "ops-migrate");
      const env = { ...srv.env, DATABASE_URL: databaseUrl };
      for (let i = 0; i < 2; i++) {
        const r = await runCli(["migrate"], { env });
        assert.equal(r.code, 0, `migrate #${i + 1}: ${r.stdout}${r.stderr}`);
        // each applied migration is logged by name; the second run applies (and logs) none
        const applied = r.stderr.split("\n").filter((l) => l.includes('"db.migration_applied"')).map((l) => JSON.parse(l).name);
        if (i === 0) assert.ok(applied.includes("001_core") && applied.includes("jwt/001_jwks"), `logged: ${applied}`);
        else assert.deepEqual(applied, []);
      }
      const s2 = await startServer({ backend, databaseUrl, args: ["serve"], hint: "ops-migrate" });
      try {
        const a = await signUp(s2);
        assert.equal(await s2.db.count("user", { id: a.user.id }), 1);
      } finally {
        await s2.stop();
      }
    });
  });

  forEachBackend("signals", (backend) => {
    it("SIGTERM → exit code 0 and the port is closed", async () => {
      const srv = await startServer({ backend, hint: "ops-sigterm" });
      await signUp(srv);
      const info = await srv.stop();
      assert.deepEqual(info, { code: 0, signal: null });
      const refused = await new Promise((resolve) => {
        const sock = net.connect(srv.port, "127.0.0.1");
        sock.on("connect", () => {
          sock.destroy();
          resolve(false);
        });
        sock.on("error", () => resolve(true));
      });
      assert.ok(refused, "port still accepting connections after exit");
    });

    it("SIGTERM while sign-ups are in flight: they finish (200, rows written), then exit code 0", async () => {
      const srv = await startServer({ backend, hint: "ops-drain", env: { GATEHOUSE_HASH_WORKERS: "1" } });
      const emails = Array.from({ length: 3 }, () => newEmail("drain"));
      const pending = emails.map((email) => raw(srv, "POST", "/sign-up/email", { json: { name: "Drain", email, password: PASSWORD } }));
      await sleep(60); // the requests are in (one hashing, two queued behind a single worker)
      srv.child.kill("SIGTERM");
      const results = await Promise.all(pending);
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200], results.map((r) => r.text).join("\n"));
      const info = await srv.exited;
      assert.deepEqual(info, { code: 0, signal: null });
      for (const email of emails) assert.ok(await srv.db.userByEmail(email), `user ${email} written before exit`);
      await srv.stop();
    });
  });

  forEachBackend("connection limits", (backend) => {
    const connect = (port) =>
      new Promise((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1");
        sock.once("connect", () => resolve(sock));
        sock.once("error", reject);
      });
    const closed = (sock) => new Promise((resolve) => (sock.destroyed ? resolve() : sock.once("close", resolve)));

    it("GATEHOUSE_MAX_CONNECTIONS: never more connections served at once; the others wait and are served when slots free", async () => {
      const LIMIT = 16;
      const srv = await startServer({ backend, hint: "ops-connlimit", env: { GATEHOUSE_MAX_CONNECTIONS: String(LIMIT) } });
      const socks = [];
      try {
        // Each socket sends one keep-alive request and records whether a 200 came back.
        const answered = (sock) =>
          new Promise((resolve) => {
            let buf = "";
            sock.on("data", (d) => {
              buf += d.toString("latin1");
              if (/\r\n\r\n\{"ok":true\}/.test(buf)) resolve(buf.startsWith("HTTP/1.1 200"));
            });
            sock.on("close", () => resolve(false));
          });
        for (let i = 0; i < LIMIT + 12; i++) {
          const sock = await connect(srv.port);
          sock.on("error", () => {});
          sock.answered = answered(sock);
          socks.push(sock);
        }
        for (const s of socks) s.write("GET /api/auth/ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        const settled = (s) => Promise.race([s.answered, sleep(1500).then(() => null)]);
        const first = await Promise.all(socks.map(settled));
        const served = socks.filter((_, i) => first[i] === true);
        assert.ok(served.length <= LIMIT, `${served.length} connections served at once with a limit of ${LIMIT}`);
        assert.ok(served.length >= LIMIT / 2, `only ${served.length} of ${LIMIT} slots served`);
        assert.ok(first.every((v) => v !== false), "a connection over the limit was closed instead of waiting");
        // Free the slots: every waiting connection is now accepted and answered.
        for (const s of served) s.destroy();
        const waiting = socks.filter((_, i) => first[i] !== true);
        const second = await Promise.all(waiting.map((s) => Promise.race([s.answered, sleep(5000).then(() => null)])));
        assert.deepEqual(second, waiting.map(() => true), "waiting connections were not served after slots freed");
      } finally {
        for (const s of socks) s.destroy();
        await srv.stop();
      }
    });

    it("GATEHOUSE_CONNECTION_TIMEOUT: an idle connection is closed by the server", async () => {
      const srv = await startServer({ backend, hint: "ops-timeout", env: { GATEHOUSE_CONNECTION_TIMEOUT: "1" } });
      try {
        const sock = await connect(srv.port);
        sock.on("error", () => {});
        const gone = await Promise.race([closed(sock).then(() => true), sleep(8000).then(() => false)]);
        assert.ok(gone, "the idle connection was still open after 8 s with a 1 s timeout");
        const ok = await raw(srv, "GET", "/ok"); // a fresh connection (pooled ones timed out too)
        assert.equal(ok.text, '{"ok":true}');
      } finally {
        await srv.stop();
      }
    });
  });

  describe("PostgreSQL outage", { skip: backends().includes("postgres") ? false : "postgres not in GH_E2E_BACKENDS" }, () => {
    let cluster;
    let srv;
    before(async () => {
      cluster = new PgCluster("outage"); // its own cluster: the others are not disturbed
      await cluster.start();
      srv = await startServer({ backend: "postgres", databaseUrl: await cluster.createDatabase("outage"), hint: "ops-outage" });
    });
    after(async () => {
      if (cluster && !cluster.running) await cluster.start().catch(() => {});
      await srv?.stop();
      await cluster?.stop().catch(() => {});
    });

    /** 503 with a JSON body {message, ...}; never 500. */
    function assert503(res, what) {
      assert.notEqual(res.status, 500, `${what}: 500 during the outage: ${res.text}`);
      assert.equal(res.status, 503, `${what}: ${res.status} ${res.text}`);
      assert.match(String(res.headers["content-type"]), /^application\/json/, what);
      assert.equal(typeof res.json?.message, "string", `${what}: JSON error body: ${res.text}`);
      const sc = res.cookies.filter((c) => c.name === SESSION_COOKIE);
      assert.deepEqual(sc, [], `${what}: must not set or clear the session cookie when the DB is down`);
    }

    it("DB down → get-session, sign-in, sign-up and update-user answer 503 JSON; DB back → requests succeed without a restart; nothing half-written", async () => {
      const a = await signUp(srv, { name: "Before Outage" });
      const downEmail = newEmail("during-outage");
      let live = await raw(srv, "GET", "=/health/live");
      assert.equal(live.status, 200);
      assert.deepEqual(live.json, { status: "ok" });
      let ready = await raw(srv, "GET", "=/health/ready");
      assert.equal(ready.status, 200, ready.text);

      await cluster.stop();
      live = await raw(srv, "GET", "=/health/live");
      assert.equal(live.status, 200, "live while the database is down");
      ready = await raw(srv, "GET", "=/health/ready");
      assert503(ready, "health/ready");
      assert.ok(Number(ready.headers["retry-after"]) > 0, "health/ready Retry-After");
      assert503(await raw(srv, "GET", "/get-session", { jar: a.jar }), "get-session");
      assert503(await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD } }), "sign-in");
      assert503(await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: downEmail, password: PASSWORD } }), "sign-up");
      assert503(await raw(srv, "POST", "/update-user", { json: { name: "During Outage" }, jar: a.jar }), "update-user");
      assert.ok(srv.exitInfo === null, "the server kept running");

      await cluster.start();
      let res;
      const deadline = Date.now() + 20000;
      for (;;) {
        res = await raw(srv, "GET", "/get-session", { jar: a.jar });
        if (res.status === 200) break;
        assert503(res, "get-session while reconnecting");
        assert.ok(Date.now() < deadline, "gatehouse did not recover within 20 s of the database returning");
        await sleep(250);
      }
      assert.equal(res.json?.session?.token, a.token, "the session survived the outage");
      ready = await raw(srv, "GET", "=/health/ready");
      assert.equal(ready.status, 200, `health/ready after the outage: ${ready.text}`);
      const s = await signIn(srv, { email: a.email });
      assert.ok(s.token);
      assert.equal(await srv.db.count("user", { email: downEmail }), 0, "no user from the failed sign-up");
      assert.equal((await srv.db.userByEmail(a.email)).name, "Before Outage", "update during the outage not applied");
      await signUp(srv, { email: downEmail }); // the address is free
    });
  });
  describe("PostgreSQL plans", { skip: backends().includes("postgres") ? false : "postgres not in GH_E2E_BACKENDS" }, () => {
    it("get-session finds sessions and users by index, never by scanning the tables (gatehouse connects with enable_seqscan=off)", async () => {
      const srv = await startServer({ backend: "postgres", hint: "ops-plans" });
      try {
        const users = [];
        for (let i = 0; i < 3; i++) users.push(await signUp(srv));
        // 200 more users with a session each, analysed: on tables this small, left to itself, the
        // planner scans "session" and hash-joins every user for each get-session
        await srv.db.exec(`
          INSERT INTO "user" ("id", "name", "email", "emailVerified", "updatedAt")
            SELECT 'plan-u' || g, 'Plan ' || g, 'plan-' || g || '@example.com', false, now() FROM generate_series(1, 200) g;
          INSERT INTO "session" ("id", "expiresAt", "token", "updatedAt", "userId")
            SELECT 'plan-s' || g, now() + interval '1 day', 'plan-token-' || g, now(), 'plan-u' || g FROM generate_series(1, 200) g;
          ANALYZE "user", "session";`);
        const stats = async () => {
          const rows = await srv.db.all(
            sql`SELECT relname, seq_scan::int AS seq, idx_scan::int AS idx FROM pg_stat_user_tables WHERE relname IN ('session', 'user')`,
          );
          return Object.fromEntries(rows.map((r) => [r.relname, r]));
        };
        // PostgreSQL publishes a backend's counters about once a second: wait until they settle
        let base = await stats();
        for (let i = 0; i < 30; i++) {
          await sleep(1000);
          const now = await stats();
          if (JSON.stringify(now) === JSON.stringify(base)) break;
          base = now;
        }
        const N = 30;
        for (let i = 0; i < N; i++) {
          const r = await raw(srv, "GET", "/get-session", { jar: users[i % users.length].jar });
          assert.equal(r.json?.user?.id, users[i % users.length].user.id);
        }
        let now = await stats();
        for (let i = 0; i < 30 && now.session.idx - base.session.idx < N; i++) {
          await sleep(1000);
          now = await stats();
        }
        assert.ok(now.session.idx - base.session.idx >= N, `session index scans ${JSON.stringify({ base, now })}`);
        assert.equal(now.session.seq - base.session.seq, 0, `sequential scans of "session" ${JSON.stringify({ base, now })}`);
        assert.equal(now.user.seq - base.user.seq, 0, `sequential scans of "user" ${JSON.stringify({ base, now })}`);
      } finally {
        await srv.stop();
      }
    });
  });

  forEachBackend(
    "password-hashing memory and the yield to request threads",
    (backend) => {
      const rssMiB = (srv) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${srv.child.pid}/status`, "utf8"))[1]) / 1024;

      it("two sign-ups at once map two 32 MiB scrypt work areas, which go back to the system after 5 s without hashing", async () => {
        const srv = await startServer({ backend, hint: "ops-workareas", env: { GATEHOUSE_HASH_WORKERS: "2" } });
        try {
          const before = rssMiB(srv);
          await Promise.all([signUp(srv), signUp(srv)]);
          const busy = rssMiB(srv);
          assert.ok(busy - before >= 56, `RSS ${before.toFixed(1)} → ${busy.toFixed(1)} MiB: two work areas expected`);
          await sleep(2000);
          assert.ok(rssMiB(srv) > busy - 8, "the work areas are kept while hashing may resume");
          await sleep(4500);
          const idle = rssMiB(srv);
          assert.ok(busy - idle >= 56, `RSS ${busy.toFixed(1)} → ${idle.toFixed(1)} MiB 6.5 s later: the work areas were not released`);
          await signIn(srv, { email: (await signUp(srv)).email }); // hashing works again afterwards
        } finally {
          await srv.stop();
        }
      });

      it("while other requests arrive at GATEHOUSE_HASH_YIELD_RPS or more, concurrent sign-ups hash one at a time (one work area)", async () => {
        const srv = await startServer({
          backend,
          hint: "ops-yield",
          env: { GATEHOUSE_HASH_WORKERS: "2", GATEHOUSE_HASH_YIELD_RPS: "20" },
        });
        let stop = false;
        let served = 0;
        const traffic = (async () => {
          while (!stop) {
            const r = await raw(srv, "GET", "/ok");
            assert.equal(r.status, 200);
            served++;
          }
        })();
        try {
          await sleep(300);
          const before = rssMiB(srv);
          const t0 = Date.now();
          await Promise.all([signUp(srv), signUp(srv), signUp(srv)]);
          const after = rssMiB(srv);
          const rate = (served * 1000) / (Date.now() - t0 + 300);
          assert.ok(rate > 40, `the traffic ran at ${rate.toFixed(0)} req/s, under twice the threshold`);
          assert.ok(after - before >= 28 && after - before < 48, `RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB: one work area expected`);
        } finally {
          stop = true;
          await traffic;
          await srv.stop();
        }
      });
    },
    { only: backends()[0] },
  );

  forEachBackend("hash queue full → 503 shedding", (backend) => {
    it("with 1 hash worker and a queue of 1, a burst of sign-ups gets 503 JSON + Retry-After at once; nothing of a shed request is written; the server serves again afterwards", async () => {
      const srv = await startServer({ backend, hint: "ops-shed", env: { GATEHOUSE_HASH_WORKERS: "1", GATEHOUSE_HASH_QUEUE: "1", GATEHOUSE_HASH_WAIT_MS: "0" } });
      try {
        const emails = Array.from({ length: 12 }, () => newEmail("burst"));
        const results = await Promise.all(emails.map((email) => raw(srv, "POST", "/sign-up/email", { json: { name: "Burst", email, password: PASSWORD } })));
        const shed = results.map((r, i) => [r, emails[i]]).filter(([r]) => r.status === 503);
        const ok = results.filter((r) => r.status === 200);
        assert.ok(shed.length >= 1, `expected some 503s, got ${results.map((r) => r.status)}`);
        assert.ok(ok.length >= 1, `expected some 200s, got ${results.map((r) => r.status)}`);
        assert.equal(ok.length + shed.length, results.length, `only 200 or 503 expected: ${results.map((r) => r.status)}`);
        for (const [r, email] of shed) {
          assertError(r, 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable. Try again later.");
          assert.equal(r.headers["retry-after"], "1");
          assert.equal(await srv.db.userByEmail(email), null, "a shed sign-up wrote nothing");
        }
        await signUp(srv, { email: newEmail("after-burst") }); // capacity is back
      } finally {
        await srv.stop(); // asserts exit code 0 and clean logs
      }
    });

    it("GATEHOUSE_HASH_WAIT_MS: requests that find the queue full wait for a place (first come, first served) instead of 503; past the wait they get 503", async () => {
      const srv = await startServer({ backend, hint: "ops-wait", env: { GATEHOUSE_HASH_WORKERS: "1", GATEHOUSE_HASH_QUEUE: "1", GATEHOUSE_HASH_WAIT_MS: "10000", GATEHOUSE_HASH_PER_CLIENT: "-1" } }); // one client here: no per-client share
      try {
        const emails = Array.from({ length: 6 }, () => newEmail("wait"));
        const results = await Promise.all(emails.map((email) => raw(srv, "POST", "/sign-up/email", { json: { name: "Wait", email, password: PASSWORD } })));
        assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200, 200], results.map((r) => r.text).join("\n"));
        for (const email of emails) assert.ok(await srv.db.userByEmail(email), `user ${email} created`);
      } finally {
        await srv.stop();
      }
      const short = await startServer({ backend, hint: "ops-wait-short", env: { GATEHOUSE_HASH_WORKERS: "1", GATEHOUSE_HASH_QUEUE: "1", GATEHOUSE_HASH_WAIT_MS: "1", GATEHOUSE_HASH_PER_CLIENT: "-1" } });
      try {
        const emails = Array.from({ length: 8 }, () => newEmail("short"));
        const results = await Promise.all(emails.map((email) => raw(short, "POST", "/sign-up/email", { json: { name: "Short", email, password: PASSWORD } })));
        const shed = results.map((r, i) => [r, emails[i]]).filter(([r]) => r.status === 503);
        assert.ok(shed.length >= 1, `expected 503s past a 1 ms wait, got ${results.map((r) => r.status)}`);
        for (const [r, email] of shed) {
          assertError(r, 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable. Try again later.");
          assert.equal(r.headers["retry-after"], "1");
          assert.equal(await short.db.userByEmail(email), null, "a shed sign-up wrote nothing");
        }
      } finally {
        await short.stop();
      }
    });
  });
});
