// Core endpoints (spec §0–§3, §5, §7.2): every route with its success and error cases, happy paths
// through the OFFICIAL better-auth client, wire details through raw HTTP, state checked with SQL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeClient } from "./lib/client.mjs";
import { CookieJar, DONT_REMEMBER_COOKIE, SESSION_COOKIE, signedValue, verifyCookieValue } from "./lib/cookies.mjs";
import { toDate } from "./lib/db.mjs";
import {
  DAY,
  ID32,
  PASSWORD,
  WEEK,
  assertBare404,
  assertClearsCookies,
  assertError,
  assertNear,
  assertNoSetCookie,
  assertNothingWritten,
  assertSessionJson,
  assertSessionSetCookie,
  assertStoredBool,
  assertStoredDate,
  assertUserJson,
  forEachBackend,
  newEmail,
  scryptMatches,
  setSessionDates,
  signIn,
  signUp,
} from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { startServer } from "./lib/server.mjs";
import { sleep } from "./lib/util.mjs";

forEachBackend("core", (backend) => {
  let srv;
  before(async () => {
    srv = await startServer({ backend, hint: "core", env: { GATEHOUSE_DELETE_USER: "true" } });
  });
  after(async () => {
    await srv?.stop();
  });

  describe("POST /sign-up/email", () => {
    it("JSON body → 200 {token,user}: e-mail lower-cased, 32-char ids, ISO dates with ms, image null", async () => {
      const email = newEmail("Mixed.Case").replace("mixed.case", "Mixed.Case");
      const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "Alice Example", email, password: PASSWORD } });
      assert.equal(res.status, 200, res.text);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.deepEqual(Object.keys(res.json).sort(), ["token", "user"]);
      assert.match(res.json.token, ID32);
      assertUserJson(res.json.user, { email: email.toLowerCase(), name: "Alice Example" });
      assert.notEqual(res.json.user.email, email, "test precondition: the e-mail had upper-case letters");
      assert.equal(res.json.user.createdAt, res.json.user.updatedAt);
      assertNear(res.json.user.createdAt, Date.now(), "user.createdAt");
    });

    it("sets better-auth.session_token with exact attributes; value verifies as HMAC-SHA256(secret); set-auth-token", async () => {
      const { res, token } = await signUp(srv);
      assert.equal(res.setCookie.length, 1, `exactly one Set-Cookie: ${JSON.stringify(res.setCookie)}`);
      const c = assertSessionSetCookie(res, token, srv.secret);
      // padded standard base64 signature, percent-encoded on the wire
      const decoded = decodeURIComponent(c.value);
      assert.match(decoded, /^[A-Za-z0-9]{32}\.[A-Za-z0-9+/]{43}=$/);
      assert.equal(decoded, signedValue(token, srv.secret));
      assert.equal(res.headers["set-auth-token"], decoded, "set-auth-token is the decoded signed value");
      assert.match(String(res.headers["access-control-expose-headers"]), /set-auth-token/i);
    });

    it("stores user, credential account (accountId = user.id, scrypt hash verifies) and a 7-day session", async () => {
      const password = "p@ssw0rd-ünïcode-ｆｕｌｌ";
      const { user, token, email } = await signUp(srv, { password, headers: { "user-agent": "e2e-agent/1.0" } });
      const row = await srv.db.userByEmail(email);
      assert.equal(row.id, user.id);
      assert.equal(row.name, "Test User");
      assert.equal(row.image, null);
      assertStoredBool(srv.db, row.emailVerified, false, "user.emailVerified");
      assertStoredDate(srv.db, row.createdAt, "user.createdAt");
      assert.equal(toDate(row.createdAt).toISOString(), user.createdAt, "stored createdAt = returned createdAt");

      const accounts = await srv.db.accountsOf(user.id);
      assert.equal(accounts.length, 1);
      const acc = accounts[0];
      assert.match(acc.id, ID32);
      assert.equal(acc.providerId, "credential");
      assert.equal(acc.accountId, user.id);
      assert.match(acc.password, /^[0-9a-f]{32}:[0-9a-f]{128}$/, "scrypt salt:key hex");
      assert.ok(scryptMatches(acc.password, password), "stored hash is better-auth scrypt (N=16384,r=16,p=1, NFKC) of the password");
      assert.ok(!scryptMatches(acc.password, password + "x"));

      const s = await srv.db.sessionByToken(token);
      assert.ok(s, "session row");
      assert.match(s.id, ID32);
      assert.equal(s.userId, user.id);
      assert.equal(s.userAgent, "e2e-agent/1.0");
      assertStoredDate(srv.db, s.expiresAt, "session.expiresAt");
      assertNear(s.expiresAt, Date.now() + WEEK, "session.expiresAt = now + 7 days");
    });

    it("x-www-form-urlencoded body → 200 like JSON", async () => {
      const email = newEmail("form");
      const jar = new CookieJar();
      const res = await raw(srv, "POST", "/sign-up/email", { form: { name: "Form User", email, password: PASSWORD }, jar });
      assert.equal(res.status, 200, res.text);
      assertUserJson(res.json.user, { email, name: "Form User" });
      assertSessionSetCookie(res, res.json.token, srv.secret);
      assert.ok(await srv.db.userByEmail(email));
    });

    it("official client: signUp.email signs the browser in (getSession returns the new user)", async () => {
      const { client } = makeClient(srv);
      const email = newEmail("client");
      const { data, error } = await client.signUp.email({ name: "Client User", email, password: PASSWORD });
      assert.equal(error, null);
      assert.match(data.token, ID32);
      assert.equal(data.user.email, email);
      assert.ok(data.user.createdAt instanceof Date, "the client revives ISO dates");
      const s = await client.getSession();
      assert.equal(s.error, null);
      assert.equal(s.data.user.id, data.user.id);
      assert.equal(s.data.session.token, data.token);
    });

    it("duplicate e-mail in any letter case → 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL, nothing written", async () => {
      const { email } = await signUp(srv);
      const before = await srv.db.snapshot();
      for (const variant of [email, email.toUpperCase()]) {
        const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "Dup", email: variant, password: PASSWORD } });
        assertError(res, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
        assertNoSetCookie(res);
      }
      await assertNothingWritten(srv, before);
    });

    it("password shorter than 8 → 400 PASSWORD_TOO_SHORT; longer than 128 → 400 PASSWORD_TOO_LONG; nothing written", async () => {
      const before = await srv.db.snapshot();
      let res = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: newEmail(), password: "1234567" } });
      assertError(res, 400, "PASSWORD_TOO_SHORT", "Password too short");
      res = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: newEmail(), password: "p".repeat(129) } });
      assertError(res, 400, "PASSWORD_TOO_LONG", "Password too long");
      await assertNothingWritten(srv, before);
      // the bounds themselves are accepted
      await signUp(srv, { password: "12345678" });
      await signUp(srv, { password: "p".repeat(128) });
    });

    it("malformed e-mail → 400 VALIDATION_ERROR [body.email] Invalid email address", async () => {
      const before = await srv.db.snapshot();
      for (const email of ["not-an-email", "a@", "@example.com", "a b@example.com"]) {
        const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email, password: PASSWORD } });
        assertError(res, 400, "VALIDATION_ERROR", "[body.email] Invalid email address");
      }
      await assertNothingWritten(srv, before);
    });

    it("records the client IP from a single-valued X-Forwarded-For (spec §8.3) and the User-Agent", async () => {
      const cases = [
        ["203.0.113.9", "203.0.113.9"],
        ["::ffff:198.51.100.4", "198.51.100.4"], // IPv4-mapped IPv6 → IPv4
        ["2001:db8:1:2:3:4:5:6", "2001:0db8:0001:0002:0000:0000:0000:0000"], // IPv6 reduced to /64
        ["203.0.113.9, 10.0.0.1", "127.0.0.1"], // a list is not trusted without trustedProxies → dev fallback
        [null, "127.0.0.1"], // no header → development fallback
      ];
      for (const [xff, expected] of cases) {
        const headers = { "user-agent": `ua-${expected}` };
        if (xff) headers["x-forwarded-for"] = xff;
        const { token } = await signUp(srv, { headers });
        const s = await srv.db.sessionByToken(token);
        assert.equal(s.ipAddress, expected, `X-Forwarded-For ${xff}`);
        assert.equal(s.userAgent, `ua-${expected}`);
      }
    });
  });

  describe("POST /sign-in/email", () => {
    let acct;
    before(async () => {
      acct = await signUp(srv, { name: "Sign In" });
    });

    it("official client signIn.email → {redirect:false, token, user}; cookie jar holds the signed token; 7-day session", async () => {
      const { client, jar } = makeClient(srv);
      const { data, error } = await client.signIn.email({ email: acct.email, password: PASSWORD });
      assert.equal(error, null);
      assert.equal(data.redirect, false);
      assert.match(data.token, ID32);
      assert.notEqual(data.token, acct.token, "a new session");
      assert.equal(data.user.id, acct.user.id);
      assert.deepEqual(Object.keys(data).sort(), ["redirect", "token", "user"]);
      assert.equal(jar.sessionToken(srv.secret), data.token);
      const row = await srv.db.sessionByToken(data.token);
      assert.equal(row.userId, acct.user.id);
      assertNear(row.expiresAt, Date.now() + WEEK, "expiresAt = now + 7 d");
      const s = await client.getSession();
      assert.equal(s.data.session.token, data.token);
    });

    it("raw: exact response, Set-Cookie and set-auth-token; e-mail matched case-insensitively", async () => {
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email.toUpperCase(), password: PASSWORD } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ["redirect", "token", "user"]);
      assert.equal(res.json.redirect, false);
      assert.deepEqual(res.json.user, acct.user);
      assertSessionSetCookie(res, res.json.token, srv.secret);
      assert.equal(res.headers["set-auth-token"], signedValue(res.json.token, srv.secret));
      assert.match(String(res.headers["access-control-expose-headers"]), /set-auth-token/i);
      assert.equal(res.headers.location, undefined, "no Location without callbackURL");
    });

    it("x-www-form-urlencoded body (rememberMe=false as a string is not a boolean → 400 VALIDATION_ERROR; without it → 200)", async () => {
      let res = await raw(srv, "POST", "/sign-in/email", { form: { email: acct.email, password: PASSWORD } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.id, acct.user.id);
      assertSessionSetCookie(res, res.json.token, srv.secret);
      res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD, rememberMe: "false" } });
      assertError(res, 400, "VALIDATION_ERROR", "[body.rememberMe] Invalid input: expected boolean, received string");
    });

    it("rememberMe:false → session cookie without Max-Age + signed dont_remember cookie; DB expiry = now + 1 day", async () => {
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD, rememberMe: false } });
      assert.equal(res.status, 200, res.text);
      assertSessionSetCookie(res, res.json.token, srv.secret, { maxAge: null });
      const dr = res.cookie(DONT_REMEMBER_COOKIE);
      assert.ok(dr, "dont_remember cookie");
      assert.equal(dr.raw, `${DONT_REMEMBER_COOKIE}=${dr.value}; Path=/; HttpOnly; SameSite=Lax`);
      assert.equal(verifyCookieValue(dr.value, srv.secret), "true", "dont_remember = signed 'true'");
      const row = await srv.db.sessionByToken(res.json.token);
      assertNear(row.expiresAt, Date.now() + DAY, "rememberMe:false expiry = now + 1 day");
    });

    it("callbackURL → 200 {redirect:true, url} plus a Location header (no 302)", async () => {
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD, callbackURL: "/dashboard" } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ["redirect", "token", "url", "user"]);
      assert.equal(res.json.redirect, true);
      assert.equal(res.json.url, "/dashboard");
      assert.equal(res.headers.location, "/dashboard");
      assertSessionSetCookie(res, res.json.token, srv.secret);
    });

    it("wrong password and unknown e-mail → identical 401 INVALID_EMAIL_OR_PASSWORD, no cookie, no session", async () => {
      const before = await srv.db.snapshot();
      const wrong = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: "wrong-password" } });
      assertError(wrong, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      assertNoSetCookie(wrong);
      const unknown = await raw(srv, "POST", "/sign-in/email", { json: { email: newEmail("nobody"), password: PASSWORD } });
      assertError(unknown, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      assertNoSetCookie(unknown);
      await assertNothingWritten(srv, before);
      const { data, error } = await makeClient(srv).client.signIn.email({ email: acct.email, password: "wrong-password" });
      assert.equal(data, null);
      assert.equal(error.status, 401);
      assert.equal(error.code, "INVALID_EMAIL_OR_PASSWORD");
    });

    it("bad e-mail → 400 INVALID_EMAIL; password over 128 → 400 PASSWORD_TOO_LONG; missing password → VALIDATION_ERROR", async () => {
      let res = await raw(srv, "POST", "/sign-in/email", { json: { email: "nope", password: PASSWORD } });
      assertError(res, 400, "INVALID_EMAIL", "Invalid email");
      res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: "x".repeat(129) } });
      assertError(res, 400, "PASSWORD_TOO_LONG", "Password too long");
      res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email } });
      assertError(res, 400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined");
    });
  });

  describe("POST /sign-out", () => {
    it("official client signOut → {success:true}; the session row is deleted and the cookie is dead", async () => {
      const { email, user } = await signUp(srv);
      const { client, jar } = makeClient(srv);
      await client.signIn.email({ email, password: PASSWORD });
      const token = jar.sessionToken(srv.secret);
      const oldCookie = jar.header();
      assert.ok(await srv.db.sessionByToken(token));
      const { data, error } = await client.signOut();
      assert.equal(error, null);
      assert.deepEqual(data, { success: true });
      assert.equal(jar.has(SESSION_COOKIE), false, "the jar's session cookie was cleared");
      assert.equal(await srv.db.sessionByToken(token), null, "row deleted");
      const s = await raw(srv, "GET", "/get-session", { cookie: oldCookie });
      assert.equal(s.text, "null");
      assert.equal(await srv.db.count("user", { id: user.id }), 1, "the user stays");
    });

    it("raw: clears session_token, session_data and dont_remember with Max-Age=0", async () => {
      const { jar, token } = await signUp(srv);
      const res = await raw(srv, "POST", "/sign-out", { jar });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"success":true}');
      assertClearsCookies(res);
      assert.equal(await srv.db.sessionByToken(token), null);
    });

    it("without a session → 200 {success:true}", async () => {
      const res = await raw(srv, "POST", "/sign-out", {});
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { success: true });
    });
  });

  describe("GET /get-session", () => {
    it("signed out → 200 literal null, Cache-Control: no-store, Pragma: no-cache, no cookie", async () => {
      const res = await raw(srv, "GET", "/get-session");
      assert.equal(res.status, 200);
      assert.equal(res.text, "null");
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.equal(res.headers.pragma, "no-cache");
      assertNoSetCookie(res);
      const { data, error } = await makeClient(srv).client.getSession();
      assert.equal(data, null);
      assert.equal(error, null);
    });

    it("signed in → {session, user} with the exact key sets and values; no-store; no refresh right after sign-in", async () => {
      const acct = await signUp(srv, { headers: { "user-agent": "shape-agent" } });
      const res = await raw(srv, "GET", "/get-session", { jar: acct.jar });
      assert.equal(res.status, 200);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.deepEqual(Object.keys(res.json).sort(), ["session", "user"]);
      assertSessionJson(res.json.session, { token: acct.token, userId: acct.user.id });
      assert.equal(res.json.session.userAgent, "shape-agent");
      assert.equal(res.json.session.ipAddress, "127.0.0.1");
      assertNear(res.json.session.expiresAt, Date.now() + WEEK, "expiresAt");
      assert.deepEqual(res.json.user, acct.user);
      assertNoSetCookie(res); // updateAge (1 day) has not passed
      const row = await srv.db.sessionByToken(acct.token);
      assert.equal(toDate(row.expiresAt).toISOString(), res.json.session.expiresAt);
      assert.equal(row.id, res.json.session.id);
    });

    it("expired session → null, the three clearing cookies, and the row is deleted", async () => {
      const acct = await signUp(srv);
      await setSessionDates(srv, acct.token, { expiresAt: new Date(Date.now() - 60_000) });
      const res = await raw(srv, "GET", "/get-session", { jar: acct.jar });
      assert.equal(res.status, 200);
      assert.equal(res.text, "null");
      assertClearsCookies(res);
      assert.equal(await srv.db.sessionByToken(acct.token), null, "expired row deleted on sight");
    });

    it("refresh rule (updateAge 1 day): extended only once a day has passed since the last extension; cookie re-sent with full Max-Age", async () => {
      const acct = await signUp(srv);
      // last extended 1 h ago → expiresAt = now + 7 d - 1 h → no refresh
      const recent = new Date(Date.now() + WEEK - 3600_000);
      await setSessionDates(srv, acct.token, { expiresAt: recent });
      let res = await raw(srv, "GET", "/get-session", { jar: acct.jar });
      assert.equal(res.json.session.expiresAt, recent.toISOString());
      assertNoSetCookie(res);
      assert.equal(toDate((await srv.db.sessionByToken(acct.token)).expiresAt).getTime(), recent.getTime());
      // last extended 2 days ago → refresh to now + 7 d
      await setSessionDates(srv, acct.token, { expiresAt: new Date(Date.now() + WEEK - 2 * DAY) });
      res = await raw(srv, "GET", "/get-session", { jar: acct.jar });
      assertNear(res.json.session.expiresAt, Date.now() + WEEK, "refreshed expiresAt");
      assertSessionSetCookie(res, acct.token, srv.secret, { maxAge: 604800 });
      assertNear((await srv.db.sessionByToken(acct.token)).expiresAt, Date.now() + WEEK, "stored refreshed expiresAt");
    });

    it("disableRefresh (any non-empty value, even 'false') → no refresh, no cookie", async () => {
      const acct = await signUp(srv);
      const stale = new Date(Date.now() + WEEK - 2 * DAY);
      await setSessionDates(srv, acct.token, { expiresAt: stale });
      for (const q of ["?disableRefresh=true", "?disableRefresh=false", "?disableRefresh=1", "?disableRefresh=true&disableCookieCache=true"]) {
        const res = await raw(srv, "GET", `/get-session${q}`, { jar: acct.jar });
        assert.equal(res.status, 200);
        assert.equal(res.json.session.expiresAt, stale.toISOString(), q);
        assertNoSetCookie(res);
      }
      const { data } = await makeClient(srv, { jar: acct.jar }).client.getSession({ query: { disableRefresh: true } });
      assert.equal(data.session.expiresAt.getTime(), stale.getTime());
      assert.equal(toDate((await srv.db.sessionByToken(acct.token)).expiresAt).getTime(), stale.getTime(), "not extended in the DB");
    });

    it("disableCookieCache=true → the session is read from the database (same answer as without)", async () => {
      const acct = await signUp(srv);
      const plain = await raw(srv, "GET", "/get-session", { jar: acct.jar });
      const nocache = await raw(srv, "GET", "/get-session?disableCookieCache=true", { jar: acct.jar });
      assert.equal(nocache.status, 200);
      assert.deepEqual(nocache.json, plain.json);
      await setSessionDates(srv, acct.token, { expiresAt: new Date(Date.now() - 1000) });
      const dead = await raw(srv, "GET", "/get-session?disableCookieCache=true", { jar: acct.jar });
      assert.equal(dead.text, "null");
    });

    it("dont_remember cookie present → never refreshed and no cookie set", async () => {
      const { email } = await signUp(srv);
      const s = await signIn(srv, { email, rememberMe: false });
      assert.ok(s.jar.has(DONT_REMEMBER_COOKIE));
      const stale = new Date(Date.now() + 3600_000); // far past the refresh point for a 7-day session
      await setSessionDates(srv, s.token, { expiresAt: stale });
      const res = await raw(srv, "GET", "/get-session", { jar: s.jar });
      assert.equal(res.json.session.token, s.token);
      assert.equal(res.json.session.expiresAt, stale.toISOString());
      assertNoSetCookie(res);
    });

    it("POST /get-session → 405 METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", async () => {
      const res = await raw(srv, "POST", "/get-session", { json: {} });
      assertError(res, 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config");
    });
  });

  describe("GET /list-sessions", () => {
    it("official client listSessions → only this user's live sessions, with tokens", async () => {
      const a = await signUp(srv);
      const a2 = await signIn(srv, { email: a.email });
      const a3 = await signIn(srv, { email: a.email });
      const other = await signUp(srv);
      await setSessionDates(srv, a3.token, { expiresAt: new Date(Date.now() - 1000) }); // expired: not listed
      const { client } = makeClient(srv, { jar: a.jar });
      const { data, error } = await client.listSessions();
      assert.equal(error, null);
      assert.ok(Array.isArray(data));
      assert.deepEqual(data.map((s) => s.token).sort(), [a.token, a2.token].sort());
      for (const s of data) {
        assert.equal(s.userId, a.user.id);
        assert.match(s.id, ID32);
        assert.ok(s.expiresAt instanceof Date && s.expiresAt.getTime() > Date.now());
      }
      assert.ok(!data.some((s) => s.token === other.token));
      const res = await raw(srv, "GET", "/list-sessions", { jar: a.jar });
      assert.equal(res.status, 200);
      for (const s of res.json) assertSessionJson(s, { userId: a.user.id });
    });

    it("session created more than freshAge (1 day) ago → 403 SESSION_NOT_FRESH; get-session still works", async () => {
      const a = await signUp(srv);
      await setSessionDates(srv, a.token, { createdAt: new Date(Date.now() - 2 * DAY) });
      const res = await raw(srv, "GET", "/list-sessions", { jar: a.jar });
      assertError(res, 403, "SESSION_NOT_FRESH", "Session is not fresh");
      const gs = await raw(srv, "GET", "/get-session", { jar: a.jar });
      assert.equal(gs.json.session.token, a.token);
    });

    it("without a session → 401 UNAUTHORIZED", async () => {
      assertError(await raw(srv, "GET", "/list-sessions"), 401, "UNAUTHORIZED", "Unauthorized");
    });
  });

  describe("POST /revoke-session, /revoke-sessions, /revoke-other-sessions", () => {
    it("revoke-session: own other session revoked; another user's token silently ignored", async () => {
      const a = await signUp(srv);
      const a2 = await signIn(srv, { email: a.email });
      const b = await signUp(srv);
      const { client } = makeClient(srv, { jar: a.jar });
      let r = await client.revokeSession({ token: a2.token });
      assert.equal(r.error, null);
      assert.deepEqual(r.data, { status: true });
      assert.equal(await srv.db.sessionByToken(a2.token), null);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: a2.jar })).text, "null");
      // someone else's token: {status:true} but nothing happens
      r = await client.revokeSession({ token: b.token });
      assert.deepEqual(r.data, { status: true });
      assert.ok(await srv.db.sessionByToken(b.token), "other user's session untouched");
      assert.equal((await raw(srv, "GET", "/get-session", { jar: b.jar })).json.session.token, b.token);
      assert.ok(await srv.db.sessionByToken(a.token), "own current session untouched");
    });

    it("revoke-session of the current session clears the cookies; missing token → 400 VALIDATION_ERROR", async () => {
      const a = await signUp(srv);
      let res = await raw(srv, "POST", "/revoke-session", { json: {}, jar: a.jar.clone() });
      assertError(res, 400, "VALIDATION_ERROR", "[body.token] Invalid input: expected string, received undefined");
      res = await raw(srv, "POST", "/revoke-session", { json: { token: a.token }, jar: a.jar.clone() });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { status: true });
      assertClearsCookies(res);
      assert.equal(await srv.db.sessionByToken(a.token), null);
    });

    it("revoke-sessions: every session of the user is deleted, other users untouched, cookies cleared", async () => {
      const a = await signUp(srv);
      await signIn(srv, { email: a.email });
      await signIn(srv, { email: a.email });
      const b = await signUp(srv);
      assert.equal((await srv.db.sessionsOf(a.user.id)).length, 3);
      const { client, jar } = makeClient(srv, { jar: a.jar });
      const { data, error } = await client.revokeSessions();
      assert.equal(error, null);
      assert.deepEqual(data, { status: true });
      assert.equal((await srv.db.sessionsOf(a.user.id)).length, 0);
      assert.equal((await srv.db.sessionsOf(b.user.id)).length, 1);
      assert.equal(jar.has(SESSION_COOKIE), false, "cookie cleared");
    });

    it("revoke-other-sessions: all but the current session deleted", async () => {
      const a = await signUp(srv);
      const a2 = await signIn(srv, { email: a.email });
      const a3 = await signIn(srv, { email: a.email });
      const b = await signUp(srv);
      const { client } = makeClient(srv, { jar: a2.jar });
      const { data, error } = await client.revokeOtherSessions();
      assert.equal(error, null);
      assert.deepEqual(data, { status: true });
      assert.deepEqual((await srv.db.sessionsOf(a.user.id)).map((s) => s.token), [a2.token]);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: a3.jar })).text, "null");
      assert.equal((await raw(srv, "GET", "/get-session", { jar: a2.jar })).json.session.token, a2.token);
      assert.equal((await srv.db.sessionsOf(b.user.id)).length, 1);
    });

    it("without a session → 401 for all three", async () => {
      for (const p of ["/revoke-session", "/revoke-sessions", "/revoke-other-sessions"]) {
        const res = await raw(srv, "POST", p, { json: p === "/revoke-session" ? { token: "x".repeat(32) } : {} });
        assertError(res, 401, "UNAUTHORIZED", "Unauthorized");
      }
    });
  });

  describe("POST /update-user", () => {
    it("official client updateUser({name, image}) → {status:true}; get-session shows the change; cookie re-issued", async () => {
      const a = await signUp(srv);
      const { client } = makeClient(srv, { jar: a.jar });
      const { data, error } = await client.updateUser({ name: "Renamed", image: "https://img.example/a.png" });
      assert.equal(error, null);
      assert.deepEqual(data, { status: true });
      const s = await client.getSession();
      assert.equal(s.data.user.name, "Renamed");
      assert.equal(s.data.user.image, "https://img.example/a.png");
      assert.equal(s.data.user.email, a.email);
      const row = await srv.db.userByEmail(a.email);
      assert.equal(row.name, "Renamed");
      assert.ok(toDate(row.updatedAt).getTime() >= new Date(a.user.updatedAt).getTime());
      const res = await raw(srv, "POST", "/update-user", { json: { image: null }, jar: a.jar });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"status":true}');
      assertSessionSetCookie(res, a.token, srv.secret);
      assert.equal(res.headers["set-auth-token"], signedValue(a.token, srv.secret));
      assert.equal((await srv.db.userByEmail(a.email)).image, null);
    });

    it("email in the body → 400 EMAIL_CAN_NOT_BE_UPDATED and nothing (not even name) applied", async () => {
      const a = await signUp(srv, { name: "Keep Me" });
      const res = await raw(srv, "POST", "/update-user", { json: { name: "Changed", email: newEmail() }, jar: a.jar });
      assertError(res, 400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
      const row = await srv.db.userByEmail(a.email);
      assert.equal(row.name, "Keep Me");
    });

    it("{} or only ignored fields → 400 {\"message\":\"No fields to update\"} (no code)", async () => {
      const a = await signUp(srv);
      for (const body of [{}, { emailVerified: true }, { unknownField: 1 }]) {
        const res = await raw(srv, "POST", "/update-user", { json: body, jar: a.jar });
        assertError(res, 400, null, "No fields to update");
      }
      assertStoredBool(srv.db, (await srv.db.userByEmail(a.email)).emailVerified, false, "emailVerified not settable");
    });

    it("without a session → 401", async () => {
      assertError(await raw(srv, "POST", "/update-user", { json: { name: "x" } }), 401, "UNAUTHORIZED", "Unauthorized");
    });
  });

  describe("POST /change-password", () => {
    it("wrong current password → 400 INVALID_PASSWORD; too short new → 400 PASSWORD_TOO_SHORT; hash unchanged", async () => {
      const a = await signUp(srv);
      const [before] = await srv.db.accountsOf(a.user.id);
      let res = await raw(srv, "POST", "/change-password", { json: { currentPassword: "not-the-password", newPassword: "new-password-1" }, jar: a.jar });
      assertError(res, 400, "INVALID_PASSWORD", "Invalid password");
      res = await raw(srv, "POST", "/change-password", { json: { currentPassword: PASSWORD, newPassword: "short" }, jar: a.jar });
      assertError(res, 400, "PASSWORD_TOO_SHORT", "Password too short");
      const [afterRow] = await srv.db.accountsOf(a.user.id);
      assert.equal(afterRow.password, before.password);
    });

    it("official client changePassword → {token:null, user}; new password works, old fails; sessions kept", async () => {
      const a = await signUp(srv);
      const other = await signIn(srv, { email: a.email });
      const { client } = makeClient(srv, { jar: a.jar });
      const { data, error } = await client.changePassword({ currentPassword: PASSWORD, newPassword: "brand-new-password" });
      assert.equal(error, null);
      assert.equal(data.token, null);
      assert.equal(data.user.id, a.user.id);
      assert.equal(data.user.email, a.email);
      const [acc] = await srv.db.accountsOf(a.user.id);
      assert.ok(scryptMatches(acc.password, "brand-new-password"));
      assert.ok(await srv.db.sessionByToken(other.token), "other sessions survive without revokeOtherSessions");
      await signIn(srv, { email: a.email, password: "brand-new-password" });
      const old = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD } });
      assertError(old, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    });

    it("revokeOtherSessions → a new session token and cookie; every old session (current included) is dead", async () => {
      const a = await signUp(srv);
      const other = await signIn(srv, { email: a.email });
      const res = await raw(srv, "POST", "/change-password", {
        json: { currentPassword: PASSWORD, newPassword: "rotated-password", revokeOtherSessions: true },
        jar: a.jar,
      });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.token, ID32);
      assert.notEqual(res.json.token, a.token);
      assert.equal(res.json.user.id, a.user.id);
      assert.equal(a.jar.sessionToken(srv.secret), res.json.token, "the response set the new session cookie");
      assert.equal(res.headers["set-auth-token"], signedValue(res.json.token, srv.secret));
      assert.equal(await srv.db.sessionByToken(a.token), null, "old current session deleted");
      assert.equal(await srv.db.sessionByToken(other.token), null, "other session deleted");
      assert.deepEqual((await srv.db.sessionsOf(a.user.id)).map((s) => s.token), [res.json.token]);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: a.jar })).json.session.token, res.json.token);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: other.jar })).text, "null");
    });
  });

  describe("POST /delete-user", () => {
    it("wrong password → 400 INVALID_PASSWORD and nothing deleted", async () => {
      const a = await signUp(srv);
      const res = await raw(srv, "POST", "/delete-user", { json: { password: "wrong-password" }, jar: a.jar });
      assertError(res, 400, "INVALID_PASSWORD", "Invalid password");
      assert.ok(await srv.db.userByEmail(a.email));
      assert.equal((await srv.db.accountsOf(a.user.id)).length, 1);
      assert.equal((await srv.db.sessionsOf(a.user.id)).length, 1);
    });

    it("official client deleteUser({password}) → {success:true, message:'User deleted'}; user, sessions, account gone", async () => {
      const a = await signUp(srv);
      await signIn(srv, { email: a.email });
      const { client, jar } = makeClient(srv, { jar: a.jar });
      const { data, error } = await client.deleteUser({ password: PASSWORD });
      assert.equal(error, null);
      assert.deepEqual(data, { success: true, message: "User deleted" });
      assert.equal(await srv.db.userByEmail(a.email), null);
      assert.equal((await srv.db.accountsOf(a.user.id)).length, 0);
      assert.equal((await srv.db.sessionsOf(a.user.id)).length, 0);
      assert.equal(jar.has(SESSION_COOKIE), false, "cookie cleared");
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: PASSWORD } });
      assertError(res, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      // the address is free again
      await signUp(srv, { email: a.email });
    });

    it("raw success clears the cookies; without a session → 401", async () => {
      const a = await signUp(srv);
      const res = await raw(srv, "POST", "/delete-user", { json: { password: PASSWORD }, jar: a.jar.clone() });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"success":true,"message":"User deleted"}');
      assertClearsCookies(res);
      assertError(await raw(srv, "POST", "/delete-user", { json: { password: PASSWORD } }), 401, "UNAUTHORIZED", "Unauthorized");
    });
  });

  describe("POST /verify-password", () => {
    it("right password → {status:true}; wrong → 400 INVALID_PASSWORD; no session → 401", async () => {
      const a = await signUp(srv);
      let res = await raw(srv, "POST", "/verify-password", { json: { password: PASSWORD }, jar: a.jar });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"status":true}');
      res = await raw(srv, "POST", "/verify-password", { json: { password: "wrong-password" }, jar: a.jar });
      assertError(res, 400, "INVALID_PASSWORD", "Invalid password");
      res = await raw(srv, "POST", "/verify-password", { json: { password: PASSWORD } });
      assertError(res, 401, "UNAUTHORIZED", "Unauthorized");
    });
  });

  describe("GET /ok", () => {
    it('→ 200 application/json {"ok":true}; POST /ok → 404 empty', async () => {
      const res = await raw(srv, "GET", "/ok");
      assert.equal(res.status, 200);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.equal(res.text, '{"ok":true}');
      assertBare404(await raw(srv, "POST", "/ok", { json: {} }));
    });
  });

  describe("bearer (spec §7.2)", () => {
    it("Authorization: Bearer <raw token> and <signed token> both authenticate get-session", async () => {
      const a = await signUp(srv);
      const signed = a.res.headers["set-auth-token"];
      assert.equal(signed, signedValue(a.token, srv.secret));
      for (const bearer of [a.token, signed, encodeURIComponent(signed)]) {
        const res = await raw(srv, "GET", "/get-session", { bearer, origin: null });
        assert.equal(res.status, 200);
        assert.equal(res.json?.session?.token, a.token, `bearer ${bearer}`);
        assert.equal(res.json.user.id, a.user.id);
      }
      const lower = await raw(srv, "GET", "/get-session", { headers: { authorization: `bearer ${a.token}` }, origin: null });
      assert.equal(lower.json?.session?.token, a.token, "scheme is case-insensitive");
    });

    it("a bearer token with a wrong signature → null; bearer authenticates protected endpoints", async () => {
      const a = await signUp(srv);
      const forged = `${a.token}.${"A".repeat(43)}=`;
      let res = await raw(srv, "GET", "/get-session", { bearer: forged, origin: null });
      assert.equal(res.text, "null");
      res = await raw(srv, "GET", "/list-sessions", { bearer: a.token, origin: null });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.map((s) => s.token), [a.token]);
      res = await raw(srv, "POST", "/update-user", { json: { name: "Via Bearer" }, bearer: a.token });
      assert.equal(res.status, 200);
      assert.equal((await srv.db.userByEmail(a.email)).name, "Via Bearer");
    });

    it("sign-in returns set-auth-token = decoded signed cookie value, exposed to CORS", async () => {
      const a = await signUp(srv);
      const s = await signIn(srv, { email: a.email });
      assert.equal(s.res.headers["set-auth-token"], decodeURIComponent(s.res.cookie(SESSION_COOKIE).value));
      assert.equal(s.res.headers["set-auth-token"], signedValue(s.token, srv.secret));
      assert.match(String(s.res.headers["access-control-expose-headers"]), /set-auth-token/i);
      const res = await raw(srv, "GET", "/get-session", { bearer: s.res.headers["set-auth-token"], origin: null });
      assert.equal(res.json.session.token, s.token);
    });
  });

  describe("https base URL (behind a TLS proxy): __Secure- cookies (spec §2.1)", () => {
    let tls;
    before(async () => {
      tls = await startServer({ backend, hint: "core-https", env: { GATEHOUSE_BASE_URL: "https://127.0.0.1:{PORT}" } });
    });
    after(async () => {
      await tls?.stop();
    });

    it("session and dont_remember cookies are __Secure-prefixed with Secure; the unprefixed name is ignored; clearing is prefixed too", async () => {
      const S = `__Secure-${SESSION_COOKIE}`;
      const D = `__Secure-${DONT_REMEMBER_COOKIE}`;
      const jar = new CookieJar();
      const email = newEmail("https");
      const up = await raw(tls, "POST", "/sign-up/email", { json: { name: "Tls", email, password: PASSWORD }, jar });
      assert.equal(up.status, 200, up.text);
      const c = up.cookie(S);
      assert.ok(c, JSON.stringify(up.setCookie));
      assert.equal(c.raw, `${S}=${c.value}; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax`);
      assert.equal(verifyCookieValue(c.value, tls.secret), up.json.token);
      assert.equal(up.cookie(SESSION_COOKIE), undefined, "no unprefixed cookie");

      const dr = await raw(tls, "POST", "/sign-in/email", { json: { email, password: PASSWORD, rememberMe: false } });
      assert.equal(dr.cookie(S).raw, `${S}=${dr.cookie(S).value}; Path=/; HttpOnly; Secure; SameSite=Lax`);
      assert.equal(dr.cookie(D).raw, `${D}=${dr.cookie(D).value}; Path=/; HttpOnly; Secure; SameSite=Lax`);

      assert.equal((await raw(tls, "GET", "/get-session", { jar })).json?.session?.token, up.json.token);
      const unprefixed = await raw(tls, "GET", "/get-session", { cookie: `${SESSION_COOKIE}=${c.value}` });
      assert.equal(unprefixed.text, "null");
      // the trusted origin is the https one
      assertError(await raw(tls, "POST", "/update-user", { json: { name: "x" }, jar, origin: tls.url }), 403, "INVALID_ORIGIN", "Invalid origin");

      const out = await raw(tls, "POST", "/sign-out", { jar });
      assert.deepEqual(out.json, { success: true });
      for (const name of [S, `__Secure-${"better-auth.session_data"}`, D]) {
        assert.ok(out.setCookie.includes(`${name}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax`), `${name} not cleared: ${JSON.stringify(out.setCookie)}`);
      }
    });
  });

  describe("session ages from the environment", () => {
    let tuned;
    before(async () => {
      tuned = await startServer({
        backend,
        hint: "core-ages",
        env: { GATEHOUSE_SESSION_UPDATE_AGE: "0", GATEHOUSE_SESSION_FRESH_AGE: "1" },
      });
    });
    after(async () => {
      await tuned?.stop();
    });

    it("GATEHOUSE_SESSION_UPDATE_AGE=0: every get-session extends expiresAt to now + 7 d and re-sends the cookie with full Max-Age", async () => {
      const a = await signUp(tuned);
      const short = new Date(Date.now() + 3600_000);
      await setSessionDates(tuned, a.token, { expiresAt: short });
      const res = await raw(tuned, "GET", "/get-session", { jar: a.jar });
      assert.equal(res.json.session.token, a.token);
      assertNear(res.json.session.expiresAt, Date.now() + WEEK, "refreshed");
      assertSessionSetCookie(res, a.token, tuned.secret, { maxAge: 604800 });
      assertNear((await tuned.db.sessionByToken(a.token)).expiresAt, Date.now() + WEEK, "stored");
    });

    it("GATEHOUSE_SESSION_UPDATE_AGE=0 with dont_remember: no refresh while the cookie is present, refresh once it is gone", async () => {
      const { email } = await signUp(tuned);
      const s = await signIn(tuned, { email, rememberMe: false });
      const short = new Date(Date.now() + 3600_000);
      await setSessionDates(tuned, s.token, { expiresAt: short });
      let res = await raw(tuned, "GET", "/get-session", { jar: s.jar });
      assert.equal(res.json.session.expiresAt, short.toISOString());
      assertNoSetCookie(res);
      const withoutDr = s.jar.clone();
      withoutDr.delete(DONT_REMEMBER_COOKIE);
      res = await raw(tuned, "GET", "/get-session", { jar: withoutDr });
      assertNear(res.json.session.expiresAt, Date.now() + WEEK, "refreshed without dont_remember");
      assertSessionSetCookie(res, s.token, tuned.secret, { maxAge: 604800 });
    });

    it("GATEHOUSE_SESSION_FRESH_AGE=1: two seconds after sign-in list-sessions → 403 SESSION_NOT_FRESH", async () => {
      const a = await signUp(tuned);
      await sleep(2100);
      const res = await raw(tuned, "GET", "/list-sessions", { jar: a.jar });
      assertError(res, 403, "SESSION_NOT_FRESH", "Session is not fresh");
      const { error } = await makeClient(tuned, { jar: a.jar }).client.listSessions();
      assert.equal(error.status, 403);
      assert.equal(error.code, "SESSION_NOT_FRESH");
    });
  });
});

