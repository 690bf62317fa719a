// Rate limiting (spec §8.2, better-auth's rules): on by default in production only; per client
// address and path; 3 per 10 s on sign-in/sign-up, 100 per 10 s elsewhere; 429 with better-auth's
// body and X-Retry-After; a counter resets after a quiet window; custom rules; other clients (another
// loopback source address) are not affected; a rejected request writes nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY, backends } from "./lib/config.mjs";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { sql } from "./lib/db.mjs";
import { PASSWORD, newEmail, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, startServer } from "./lib/server.mjs";
import { sleep } from "./lib/util.mjs";

const BODY = { message: "Too many requests. Please try again later." };

function assert429(res, what, maxRetry) {
  assert.equal(res.status, 429, `${what}: ${res.status} ${res.text}`);
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  assert.deepEqual(res.json, BODY, what);
  const retry = Number(res.headers["x-retry-after"]);
  assert.ok(retry >= 1 && retry <= maxRetry, `${what}: X-Retry-After ${res.headers["x-retry-after"]}`);
}

describe("rate limiting (production default)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "rl", env: { GATEHOUSE_ENV: "production", GATEHOUSE_RATE_LIMIT_RULES: "/ok=1/2" } });
  });
  after(async () => {
    await srv?.stop();
  });

  it("sign-in: 3 per 10 s per client address, then 429 + X-Retry-After; another address is not affected", async () => {
    const a = await signUp(srv); // sign-up has its own counter
    for (let i = 0; i < 3; i++) {
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: "wrong-password-1" } });
      assert.equal(res.status, 401, `attempt ${i + 1}: ${res.text}`);
    }
    assert429(await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD } }), "4th sign-in", 10);
    const other = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD }, localAddress: "127.0.0.2" });
    assert.equal(other.status, 200, `another client: ${other.text}`);
  });

  it("a sign-up over the limit is refused before anything is written", async () => {
    const addr = "127.0.0.3";
    for (let i = 0; i < 3; i++) {
      const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "R", email: newEmail("rl"), password: PASSWORD }, localAddress: addr });
      assert.equal(res.status, 200, res.text);
    }
    const email = newEmail("rl-refused");
    assert429(await raw(srv, "POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD }, localAddress: addr }), "4th sign-up", 10);
    assert.equal(await srv.db.count("user", { email }), 0, "the refused sign-up wrote a user");
  });

  it("every other path: 100 per 10 s (the 101st get-session is refused)", async () => {
    const addr = "127.0.0.4";
    const a = await signUp(srv, { headers: {} });
    for (let i = 0; i < 100; i++) {
      const res = await raw(srv, "GET", "/get-session", { jar: a.jar, localAddress: addr });
      assert.equal(res.status, 200, `request ${i + 1}: ${res.text}`);
    }
    assert429(await raw(srv, "GET", "/get-session", { jar: a.jar, localAddress: addr }), "101st get-session", 10);
  });

  it("a custom rule (/ok=1/2): 2 per second; the counter resets after a quiet second", async () => {
    const addr = "127.0.0.5";
    for (let i = 0; i < 2; i++) assert.equal((await raw(srv, "GET", "/ok", { localAddress: addr })).status, 200);
    assert429(await raw(srv, "GET", "/ok", { localAddress: addr }), "3rd /ok", 1);
    await sleep(1100);
    assert.equal((await raw(srv, "GET", "/ok", { localAddress: addr })).status, 200, "after a quiet window");
  });
});

describe("rate limiting: off in development unless asked for", { skip: GATEHOUSE_ONLY }, () => {
  let dev, forced;
  before(async () => {
    dev = await startServer({ backend: "sqlite", hint: "rl-dev" });
    forced = await startServer({ backend: "sqlite", hint: "rl-on", env: { GATEHOUSE_RATE_LIMIT: "on", GATEHOUSE_RATE_LIMIT_RULES: "/sign-in/*=off" } });
  });
  after(async () => {
    await dev?.stop();
    await forced?.stop();
  });

  it("development (the default auto): no limit", async () => {
    for (let i = 0; i < 6; i++) {
      const res = await raw(dev, "POST", "/sign-in/email", { json: { email: newEmail("x"), password: "wrong-password-1" } });
      assert.equal(res.status, 401, `attempt ${i + 1}: ${res.text}`);
    }
  });

  it("GATEHOUSE_RATE_LIMIT=on limits in development; a PATH=off rule lifts a built-in rule", async () => {
    for (let i = 0; i < 6; i++) {
      const res = await raw(forced, "POST", "/sign-in/email", { json: { email: newEmail("x"), password: "wrong-password-1" } });
      assert.equal(res.status, 401, `sign-in ${i + 1} (rule off): ${res.text}`);
    }
    for (let i = 0; i < 3; i++) await raw(forced, "POST", "/sign-up/email", { json: { name: "F", email: newEmail("f"), password: PASSWORD } });
    assert429(await raw(forced, "POST", "/sign-up/email", { json: { name: "F", email: newEmail("f"), password: PASSWORD } }), "4th sign-up", 10);
  });
});

describe("rate limiting behind a trusted proxy (GATEHOUSE_TRUSTED_PROXIES)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "rl-proxy", env: { GATEHOUSE_ENV: "production", GATEHOUSE_TRUSTED_PROXIES: "127.0.0.1,127.0.0.9" } });
  });
  after(async () => {
    await srv?.stop();
  });
  const signInFrom = (localAddress, xff) =>
    raw(srv, "POST", "/sign-in/email", { json: { email: "nobody@example.com", password: "wrong-password-1" }, localAddress, headers: xff ? { "x-forwarded-for": xff } : {} });

  it("the client a trusted proxy names has its own counter; another named client is not affected", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await signInFrom("127.0.0.1", "203.0.113.5")).status, 401);
    assert429(await signInFrom("127.0.0.1", "203.0.113.5"), "4th from 203.0.113.5 via the proxy", 10);
    assert.equal((await signInFrom("127.0.0.1", "203.0.113.6")).status, 401, "another client behind the same proxy");
    // through two trusted hops (the chain is walked from the right)
    assert429(await signInFrom("127.0.0.1", "203.0.113.5, 127.0.0.9"), "same client through two proxies", 10);
  });

  it("an X-Forwarded-For from an untrusted peer is ignored: rotating it does not escape the limit", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await signInFrom("127.0.0.7", `198.51.100.${i}`)).status, 401);
    assert429(await signInFrom("127.0.0.7", "198.51.100.99"), "spoofed X-Forwarded-For", 10);
  });
});

for (const backend of backends()) {
  describe(`rate limiting shared by two instances: GATEHOUSE_RATE_LIMIT_STORAGE=database (${backend})`, { skip: GATEHOUSE_ONLY }, () => {
    let a, b, mem;
    const env = { GATEHOUSE_ENV: "production", GATEHOUSE_RATE_LIMIT_STORAGE: "database", GATEHOUSE_RATE_LIMIT_RULES: "/ok=1/2" };
    before(async () => {
      const databaseUrl = await freshDatabaseUrl(backend, "rl-db");
      a = await startServer({ backend, databaseUrl, hint: "rl-db-a", env });
      b = await startServer({ backend, databaseUrl, hint: "rl-db-b", env });
    });
    after(async () => {
      await a?.stop();
      await b?.stop();
      await mem?.stop();
    });

    it("sign-ins counted across instances: 2 on one, 1 on the other, the 4th is refused on either", async () => {
      const user = await signUp(a);
      const addr = "127.0.0.21";
      const signIn = (srv) => raw(srv, "POST", "/sign-in/email", { json: { email: user.email, password: "wrong-password-1" }, localAddress: addr });
      assert.equal((await signIn(a)).status, 401);
      assert.equal((await signIn(a)).status, 401);
      assert.equal((await signIn(b)).status, 401);
      assert429(await signIn(b), "4th sign-in, on the second instance", 10);
      assert429(await signIn(a), "5th sign-in, on the first instance", 10);
      // another address has its own row
      assert.equal((await raw(b, "POST", "/sign-in/email", { json: { email: user.email, password: PASSWORD }, localAddress: "127.0.0.22" })).status, 200);
      // better-auth's rateLimit row: key "<ip>|<path>", the count, lastRequest in ms
      const row = await a.db.one(sql`SELECT "key", "count", "lastRequest" FROM "rateLimit" WHERE "key" = ${`${addr}|/sign-in/email`}`);
      assert.ok(row, "no rateLimit row for the client");
      assert.equal(Number(row.count), 3);
      assert.ok(Math.abs(Number(row.lastRequest) - Date.now()) < 60000, `lastRequest ${row.lastRequest}`);
    });

    it("a counter resets after a quiet window, on either instance", async () => {
      const addr = "127.0.0.23";
      assert.equal((await raw(a, "GET", "/ok", { localAddress: addr })).status, 200);
      assert.equal((await raw(b, "GET", "/ok", { localAddress: addr })).status, 200);
      assert429(await raw(a, "GET", "/ok", { localAddress: addr }), "3rd /ok", 1);
      await sleep(1100);
      assert.equal((await raw(b, "GET", "/ok", { localAddress: addr })).status, 200, "after a quiet window");
    });

    it("the table is the one better-auth's migrator makes for storage: \"database\" (nothing to create or add)", { skip: backend !== "postgres" }, async () => {
      const ba = new InProcessBetterAuth(a.databaseUrl, { jwt: true, options: { rateLimit: { enabled: true, storage: "database" } } });
      try {
        const pending = await ba.pendingMigrations();
        assert.ok(!pending.toBeCreated.includes("rateLimit"), JSON.stringify(pending));
        assert.ok(!pending.toBeAdded.some((t) => t.startsWith("rateLimit(")), JSON.stringify(pending));
      } finally {
        await ba.close();
      }
    });

    it("memory storage (the default) does not create the table", async () => {
      mem = await startServer({ backend, hint: "rl-mem", env: { GATEHOUSE_ENV: "production" } });
      await assert.rejects(mem.db.count("rateLimit"), /rateLimit|no such table|does not exist/);
    });
  });
}

describe("sign-in throttle (GATEHOUSE_SIGNIN_THROTTLE): credential stuffing slows down, the owner is never locked out", { skip: GATEHOUSE_ONLY }, () => {
  let srv, victim;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "throttle", env: { GATEHOUSE_ENV: "production", GATEHOUSE_RATE_LIMIT: "off" } });
    victim = await signUp(srv);
  });
  after(async () => {
    await srv?.stop();
  });
  const attempt = (localAddress, email, password) => raw(srv, "POST", "/sign-in/email", { json: { email, password }, localAddress });

  it("5 wrong passwords from one address, then 429 + X-Retry-After before any hashing; the owner from elsewhere signs in; after the wait a right password works and resets", async () => {
    for (let i = 0; i < 5; i++) assert.equal((await attempt("127.0.2.1", victim.email, "wrong-password-1")).status, 401, `guess ${i + 1}`);
    const blocked = await attempt("127.0.2.1", victim.email, PASSWORD);
    assert429(blocked, "6th try from the guessing address (even with the right password)", 1);
    const owner = await attempt("127.0.2.2", victim.email, PASSWORD);
    assert.equal(owner.status, 200, `the owner from another address: ${owner.text}`);
    const other = await attempt("127.0.2.1", newEmail("someone-else"), "wrong-password-1");
    assert.equal(other.status, 401, "another account from the guessing address is not throttled yet");
    await sleep(1100);
    assert.equal((await attempt("127.0.2.1", victim.email, PASSWORD)).status, 200, "after the delay");
    assert.equal((await attempt("127.0.2.1", victim.email, "wrong-password-1")).status, 401, "the success reset the count");
    const lines = srv.logs.filter((o) => o.event === "sign_in.throttled");
    assert.ok(lines.length >= 1 && lines[0].email === victim.email && lines[0].client === "127.0.2.1", JSON.stringify(lines));
  });

  it("the delay doubles with every further failure", async () => {
    const acct = newEmail("double");
    for (let i = 0; i < 5; i++) await attempt("127.0.2.3", acct, "wrong-password-1");
    await sleep(1100); // 1 s after the 5th failure
    assert.equal((await attempt("127.0.2.3", acct, "wrong-password-1")).status, 401, "6th after 1 s");
    const res = await attempt("127.0.2.3", acct, "wrong-password-1");
    assert429(res, "7th at once", 2);
    assert.equal(Number(res.headers["x-retry-after"]), 2, "2 s after the 6th failure");
  });
});
