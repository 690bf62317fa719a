// The audit table (GATEHOUSE_AUDIT_DB=true): every audit event is also a row of "auditLog" with its
// time, client IP, user agent, user id and fields — never a password; off by default (no table).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY, backends } from "./lib/config.mjs";
import { sql } from "./lib/db.mjs";
import { PASSWORD, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { runCli, startServer } from "./lib/server.mjs";

for (const backend of backends()) {
  describe(`audit table (${backend})`, { skip: GATEHOUSE_ONLY }, () => {
    let srv, off;
    before(async () => {
      srv = await startServer({ backend, hint: "audit", env: { GATEHOUSE_AUDIT_DB: "true", GATEHOUSE_RATE_LIMIT: "on", GATEHOUSE_RATE_LIMIT_RULES: "/list-sessions=60/1" } });
    });
    after(async () => {
      await srv?.stop();
      await off?.stop();
    });

    it("sign-up, a failed sign-in, a sign-in and a sign-out are rows with client, user agent, user id and reason", async () => {
      const a = await signUp(srv);
      const wrong = "wrong-password-for-audit";
      const bad = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: wrong }, headers: { "user-agent": "audit-test/1.0" } });
      assert.equal(bad.status, 401);
      const s = await signIn(srv, { email: a.email, password: PASSWORD });
      assert.equal((await raw(srv, "POST", "/sign-out", { jar: s.jar })).status, 200);
      const rows = await srv.db.all(sql`SELECT * FROM "auditLog" ORDER BY "createdAt"`);
      const events = rows.map((r) => r.event);
      for (const e of ["sign_up", "sign_in.failure", "sign_in.success", "sign_out"]) assert.ok(events.includes(e), `no ${e} row: ${events}`);
      const failure = rows.find((r) => r.event === "sign_in.failure");
      assert.equal(failure.userId, a.user.id);
      assert.equal(failure.ipAddress, "127.0.0.1");
      assert.equal(failure.userAgent, "audit-test/1.0");
      assert.deepEqual(JSON.parse(failure.data), { reason: "INVALID_PASSWORD", email: a.email.toLowerCase() });
      assert.ok(Math.abs(new Date(failure.createdAt).getTime() - Date.now()) < 60000, `createdAt ${failure.createdAt}`);
      const all = JSON.stringify(rows);
      assert.ok(!all.includes(wrong) && !all.includes(PASSWORD), "a password in the audit table");
      assert.ok(!all.includes(s.token ?? "no-token-here"), "a session token in the audit table");
    });

    it("a rate-limited request and a key rotation (a CLI command) are rows too", async () => {
      assert.equal((await raw(srv, "GET", "/list-sessions")).status, 401);
      assert.equal((await raw(srv, "GET", "/list-sessions")).status, 429);
      const limited = await srv.db.one(sql`SELECT * FROM "auditLog" WHERE "event" = 'rate_limited'`);
      assert.ok(limited, "no rate_limited row");
      assert.equal(limited.ipAddress, "127.0.0.1");
      assert.deepEqual(JSON.parse(limited.data), { path: "/list-sessions" });
      const cli = await runCli(["keys", "rotate"], { env: { DATABASE_URL: srv.databaseUrl, GATEHOUSE_SECRET: srv.secret, GATEHOUSE_AUDIT_DB: "true" } });
      assert.equal(cli.code, 0, cli.stderr);
      const kid = /new signing key (\S+)/.exec(cli.stdout)?.[1];
      const rotated = await srv.db.one(sql`SELECT * FROM "auditLog" WHERE "event" = 'key.rotated'`);
      assert.ok(rotated, "no key.rotated row");
      assert.equal(JSON.parse(rotated.data).kid, kid);
      assert.equal(rotated.ipAddress, null, "no client for a CLI command");
    });

    it("off by default: no auditLog table", async () => {
      off = await startServer({ backend, hint: "audit-off" });
      await signUp(off);
      await assert.rejects(off.db.count("auditLog"), /auditLog|no such table|does not exist/);
    });
  });
}
