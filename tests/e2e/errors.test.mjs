// Bad input (spec §0, §2.3; issue "Bad input"): every malformed request gets its documented status and
// JSON body, the server stays up (GET /ok after every test), and nothing is half-written (row counts).
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY } from "./lib/config.mjs";
import { SESSION_COOKIE, signCookieValue } from "./lib/cookies.mjs";
import {
  PASSWORD,
  assertAlive,
  assertBare404,
  assertClearsCookies,
  assertError,
  assertNoSetCookie,
  assertNothingWritten,
  forEachBackend,
  newEmail,
  setSessionDates,
  signIn,
  signUp,
} from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { startServer } from "./lib/server.mjs";

const UNAUTHORIZED = ["UNAUTHORIZED", "Unauthorized"];
const BAD_JSON = ["BAD_REQUEST", "Invalid JSON in request body"];

/** Every endpoint that needs a session, with a body it would accept. */
const PROTECTED = [
  ["POST", "/update-user", { name: "x" }],
  ["GET", "/list-sessions", undefined],
  ["POST", "/change-password", { currentPassword: PASSWORD, newPassword: "another-password" }],
  ["POST", "/revoke-sessions", {}],
  ["POST", "/revoke-other-sessions", {}],
  ["POST", "/revoke-session", { token: "a".repeat(32) }],
  ["POST", "/verify-password", { password: PASSWORD }],
  ["POST", "/delete-user", { password: PASSWORD }],
];

forEachBackend("errors", (backend) => {
  let srv;
  let victim; // a real account whose rows must never be touched by the bad requests
  before(async () => {
    srv = await startServer({ backend, hint: "errors" });
    victim = await signUp(srv, { name: "Victim" });
  });
  after(async () => {
    await srv?.stop();
  });
  afterEach(async () => {
    await assertAlive(srv);
  });

  describe("request bodies", () => {
    it('malformed JSON → 400 {"message":"Invalid JSON in request body","code":"BAD_REQUEST"}, nothing written', async () => {
      const before = await srv.db.snapshot();
      const bodies = ['{"name":', "{", '{"email":"a@b.co","password":"password123"}xyz', "nul", "{'a':1}", '{"a":1,}'];
      for (const body of bodies) {
        for (const path of ["/sign-up/email", "/sign-in/email"]) {
          const res = await raw(srv, "POST", path, { body, contentType: "application/json" });
          assertError(res, 400, ...BAD_JSON);
          assertNoSetCookie(res);
        }
      }
      // also on an authenticated endpoint, with a valid session
      const res = await raw(srv, "POST", "/update-user", { body: '{"name":', contentType: "application/json", jar: victim.jar });
      assertError(res, 400, ...BAD_JSON);
      await assertNothingWritten(srv, before);
      assert.equal((await srv.db.userByEmail(victim.email)).name, "Victim");
    });

    it("wrong types → 400 VALIDATION_ERROR with [body.field] messages joined by '; '", async () => {
      const before = await srv.db.snapshot();
      const cases = [
        ["/sign-up/email", { name: 123, email: newEmail(), password: PASSWORD }, "[body.name] Invalid input: expected string, received number"],
        ["/sign-up/email", { name: null, email: newEmail(), password: PASSWORD }, "[body.name] Invalid input: expected string, received null"],
        ["/sign-up/email", { name: { a: 1 }, email: newEmail(), password: PASSWORD }, "[body.name] Invalid input: expected string, received object"],
        ["/sign-up/email", { name: "x", email: newEmail(), password: PASSWORD, image: 5 }, "[body.image] Invalid input: expected string, received number"],
        [
          "/sign-up/email",
          { name: "x", email: 42, password: true },
          "[body.email] Invalid input: expected string, received number; [body.password] Invalid input: expected string, received boolean",
        ],
        ["/sign-in/email", { email: 5, password: PASSWORD }, "[body.email] Invalid input: expected string, received number"],
        ["/sign-in/email", { email: victim.email, password: PASSWORD, rememberMe: "yes" }, "[body.rememberMe] Invalid input: expected boolean, received string"],
        ["/sign-in/email", "just a string", "[body] Invalid input: expected object, received string"],
      ];
      for (const [path, json, message] of cases) {
        const res = await raw(srv, "POST", path, { json });
        assertError(res, 400, "VALIDATION_ERROR", message);
        assertNoSetCookie(res);
      }
      const arr = await raw(srv, "POST", "/update-user", { json: [1], jar: victim.jar });
      assertError(arr, 400, "VALIDATION_ERROR", "[body] Invalid input: expected record, received array");
      await assertNothingWritten(srv, before);
    });

    it("missing fields and missing bodies → 400 VALIDATION_ERROR naming each field", async () => {
      const before = await srv.db.snapshot();
      const U = "Invalid input: expected string, received undefined";
      const cases = [
        ["/sign-up/email", {}, `[body.name] ${U}; [body.email] ${U}; [body.password] ${U}`],
        ["/sign-up/email", { name: "x", email: newEmail() }, `[body.password] ${U}`],
        ["/sign-in/email", {}, `[body.email] ${U}; [body.password] ${U}`],
        ["/change-password", {}, `[body.newPassword] ${U}; [body.currentPassword] ${U}`, victim.jar],
        ["/verify-password", {}, `[body.password] ${U}`, victim.jar],
      ];
      for (const [path, json, message, jar] of cases) {
        assertError(await raw(srv, "POST", path, { json, jar }), 400, "VALIDATION_ERROR", message);
      }
      // no body at all (with and without a JSON content-type)
      const noBody = "[body] Invalid input: expected object, received undefined";
      assertError(await raw(srv, "POST", "/sign-in/email", {}), 400, "VALIDATION_ERROR", noBody);
      assertError(await raw(srv, "POST", "/sign-in/email", { contentType: "application/json" }), 400, "VALIDATION_ERROR", noBody);
      assertError(
        await raw(srv, "POST", "/sign-up/email", {}),
        400,
        "VALIDATION_ERROR",
        `${noBody}; [body] Invalid input: expected record, received undefined`,
      );
      // a body without any Content-Type is not parsed: same as no body
      const untyped = await raw(srv, "POST", "/sign-in/email", { body: JSON.stringify({ email: victim.email, password: PASSWORD }) });
      assertError(untyped, 400, "VALIDATION_ERROR", noBody);
      await assertNothingWritten(srv, before);
    });

    it("other media types → 415 UNSUPPORTED_MEDIA_TYPE naming the allowed types; charset/case variants of JSON accepted", async () => {
      const before = await srv.db.snapshot();
      let res = await raw(srv, "POST", "/sign-up/email", { body: "hello", contentType: "text/plain" });
      assertError(
        res,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        'Content-Type "text/plain" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json',
      );
      res = await raw(srv, "POST", "/sign-in/email", { body: "{}", contentType: "application/jsonx" });
      assertError(
        res,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        'Content-Type "application/jsonx" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json',
      );
      res = await raw(srv, "POST", "/update-user", { body: "hello", contentType: "text/plain", jar: victim.jar });
      assertError(res, 415, "UNSUPPORTED_MEDIA_TYPE", 'Content-Type "text/plain" is not allowed. Allowed types: application/json');
      res = await raw(srv, "POST", "/update-user", { form: { name: "Form" }, jar: victim.jar });
      assertError(
        res,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        'Content-Type "application/x-www-form-urlencoded" is not allowed. Allowed types: application/json',
      );
      await assertNothingWritten(srv, before);
      assert.equal((await srv.db.userByEmail(victim.email)).name, "Victim");
      const body = JSON.stringify({ email: victim.email, password: PASSWORD });
      for (const ct of ["application/json; charset=utf-8", "Application/JSON"]) {
        res = await raw(srv, "POST", "/sign-in/email", { body, contentType: ct });
        assert.equal(res.status, 200, `${ct}: ${res.text}`);
        assert.equal(res.json.user.id, victim.user.id);
      }
    });

    it("a chunked (no Content-Length) body is read like any other", async () => {
      const res = await raw(srv, "POST", "/sign-in/email", { json: { email: victim.email, password: PASSWORD }, chunked: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.id, victim.user.id);
    });

    it("1 MiB body → 413 with a JSON error body, nothing written (Content-Length and chunked)", { skip: GATEHOUSE_ONLY }, async () => {
      const before = await srv.db.snapshot();
      const big = JSON.stringify({ name: "x".repeat(1 << 20), email: newEmail(), password: PASSWORD });
      for (const chunked of [false, true]) {
        const res = await raw(srv, "POST", "/sign-up/email", { body: big, contentType: "application/json", chunked });
        assert.equal(res.status, 413, `chunked=${chunked}: ${res.text.slice(0, 200)}`);
        assert.match(String(res.headers["content-type"]), /^application\/json/);
        assert.equal(typeof res.json?.message, "string", `JSON error body: ${res.text.slice(0, 200)}`);
        assert.ok(res.json.message.length > 0);
        if ("code" in res.json) assert.match(res.json.code, /^[A-Z][A-Z0-9_]*$/);
        assertNoSetCookie(res);
      }
      await assertNothingWritten(srv, before);
    });

    it("10,000-character e-mail: stored and usable in full (as better-auth does) or rejected as invalid; never truncated", async () => {
      const before = await srv.db.snapshot();
      const email = `${"a".repeat(10000)}-${newEmail("long")}`;
      const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "Long", email, password: PASSWORD } });
      if (res.status === 200) {
        // better-auth 1.7.25 accepts it: then it must be the whole address, everywhere
        assert.equal(res.json.user.email, email);
        const row = await srv.db.userByEmail(email);
        assert.ok(row, "stored under the full address");
        assert.equal(row.email.length, email.length);
        const s = await signIn(srv, { email });
        assert.equal(s.user.id, res.json.user.id);
        const truncated = await raw(srv, "POST", "/sign-in/email", { json: { email: email.slice(0, 9000) + email.slice(-20), password: PASSWORD } });
        assertError(truncated, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      } else {
        assertError(res, 400, "VALIDATION_ERROR", "[body.email] Invalid email address");
        await assertNothingWritten(srv, before);
        const si = await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD } });
        assert.ok([400, 401].includes(si.status), `sign-in with the long address: ${si.status}`);
        assert.ok(si.json?.code, "JSON error");
      }
    });

    it("invalid UTF-8 inside a JSON string: decoded with U+FFFD like better-auth or rejected as invalid JSON; never stored raw", async () => {
      const before = await srv.db.snapshot();
      const email = newEmail("utf8");
      const body = Buffer.concat([
        Buffer.from('{"name":"A'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from(`","email":"${email}","password":"${PASSWORD}"}`),
      ]);
      const res = await raw(srv, "POST", "/sign-up/email", { body, contentType: "application/json" });
      if (res.status === 200) {
        assert.equal(res.json.user.name, "A\uFFFD\uFFFD");
        assert.equal((await srv.db.userByEmail(email)).name, "A\uFFFD\uFFFD");
      } else {
        assertError(res, 400, ...BAD_JSON);
        await assertNothingWritten(srv, before);
      }
      // invalid UTF-8 inside the e-mail can never make a valid address
      const before2 = await srv.db.snapshot();
      const body2 = Buffer.concat([Buffer.from('{"name":"A","email":"u'), Buffer.from([0xc3]), Buffer.from(`@example.com","password":"${PASSWORD}"}`)]);
      const res2 = await raw(srv, "POST", "/sign-up/email", { body: body2, contentType: "application/json" });
      assert.equal(res2.status, 400, res2.text);
      assert.ok(
        (res2.json?.code === "VALIDATION_ERROR" && res2.json.message === "[body.email] Invalid email address") ||
          (res2.json?.code === "BAD_REQUEST" && res2.json.message === "Invalid JSON in request body"),
        res2.text,
      );
      await assertNothingWritten(srv, before2);
    });

    it("NUL bytes: in the e-mail → 400; in the password → hashed in full (no C-string truncation); in the name → stored exactly or a 4xx JSON error", async () => {
      let before = await srv.db.snapshot();
      let res = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: "nu\u0000l@example.com", password: PASSWORD } });
      assertError(res, 400, "VALIDATION_ERROR", "[body.email] Invalid email address");
      await assertNothingWritten(srv, before);

      const email = newEmail("nulpw");
      const password = "abc\u0000defgh123";
      await signUp(srv, { email, password });
      for (const wrong of ["abc", "abc\u0000XXXXXXXX", "abcdefgh123"]) {
        const r = await raw(srv, "POST", "/sign-in/email", { json: { email, password: wrong } });
        assertError(r, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
      }
      await signIn(srv, { email, password });

      before = await srv.db.snapshot();
      const nameEmail = newEmail("nulname");
      res = await raw(srv, "POST", "/sign-up/email", { json: { name: "Al\u0000ice", email: nameEmail, password: PASSWORD } });
      if (res.status === 200) {
        assert.equal(res.json.user.name, "Al\u0000ice");
        assert.equal((await srv.db.userByEmail(nameEmail)).name, "Al\u0000ice");
      } else {
        // PostgreSQL text cannot hold NUL: better-auth answers 422 FAILED_TO_CREATE_USER
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${res.text}`);
        assert.equal(typeof res.json?.message, "string", res.text);
        assert.equal(typeof res.json?.code, "string", res.text);
        assertNoSetCookie(res);
        await assertNothingWritten(srv, before);
      }
    });

    it("deeply nested JSON (10,000 levels) → 400 JSON error, no crash", async () => {
      const before = await srv.db.snapshot();
      const body = `{"name":${"[".repeat(10000)}${"]".repeat(10000)},"email":"${newEmail()}","password":"${PASSWORD}"}`;
      const res = await raw(srv, "POST", "/sign-up/email", { body, contentType: "application/json" });
      assert.equal(res.status, 400, res.text.slice(0, 200));
      assert.ok(
        (res.json?.code === "VALIDATION_ERROR" && res.json.message === "[body.name] Invalid input: expected string, received array") ||
          (res.json?.code === "BAD_REQUEST" && res.json.message === "Invalid JSON in request body"),
        res.text.slice(0, 200),
      );
      await assertNothingWritten(srv, before);
    });
  });

  describe("cookies", () => {
    let acct;
    before(async () => {
      acct = await signUp(srv, { name: "Cookie Owner" });
    });

    /** get-session → null without Set-Cookie, every protected endpoint → 401 UNAUTHORIZED. */
    async function assertIgnoredCookie(cookie, what) {
      const before = await srv.db.snapshot();
      const gs = await raw(srv, "GET", "/get-session", { cookie });
      assert.equal(gs.status, 200, what);
      assert.equal(gs.text, "null", what);
      assertNoSetCookie(gs);
      for (const [method, path, json] of PROTECTED) {
        const res = await raw(srv, method, path, { cookie, json });
        assertError(res, 401, ...UNAUTHORIZED);
      }
      await assertNothingWritten(srv, before, what);
      assert.ok(await srv.db.sessionByToken(acct.token), "the real session is untouched");
    }

    it("forged signature (right format, wrong HMAC) → ignored: null, 401, no Set-Cookie", async () => {
      await assertIgnoredCookie(`${SESSION_COOKIE}=${acct.token}.${"A".repeat(43)}%3D`, "forged");
      const other = "another-secret-that-is-long-enough-0123456789";
      await assertIgnoredCookie(`${SESSION_COOKIE}=${signCookieValue(acct.token, other)}`, "signed with another secret");
    });

    it("garbled cookies (no signature, bad encoding, short signature, 8 KB value) → ignored", async () => {
      const variants = [
        acct.token,
        `${acct.token}.`,
        `${acct.token}.${"A".repeat(43)}`,
        "%%%zz",
        "%E0%A4%A",
        ".",
        "",
        `${"a".repeat(8000)}.${"A".repeat(43)}=`,
        `${acct.token}.${"A".repeat(44)}`,
      ];
      for (const v of variants) await assertIgnoredCookie(`${SESSION_COOKIE}=${v}`, `garbled ${v.slice(0, 40)}`);
      await assertIgnoredCookie(`__Secure-${SESSION_COOKIE}=${acct.jar.get(SESSION_COOKIE)}`, "__Secure- name on an http base URL");
    });

    it("cookie parsing: quoted and not-percent-encoded values accepted; the first of duplicate names wins", async () => {
      const wire = acct.jar.get(SESSION_COOKIE);
      for (const cookie of [`${SESSION_COOKIE}="${wire}"`, `${SESSION_COOKIE}=${decodeURIComponent(wire)}`, `other=1; ${SESSION_COOKIE}=${wire}; x=y`]) {
        const gs = await raw(srv, "GET", "/get-session", { cookie });
        assert.equal(gs.json?.session?.token, acct.token, cookie);
      }
      const first = await raw(srv, "GET", "/get-session", { cookie: `${SESSION_COOKIE}=${wire}; ${SESSION_COOKIE}=bad` });
      assert.equal(first.json?.session?.token, acct.token);
      const second = await raw(srv, "GET", "/get-session", { cookie: `${SESSION_COOKIE}=bad; ${SESSION_COOKIE}=${wire}` });
      assert.equal(second.text, "null");
    });

    it("expired session cookie → get-session null + clearing cookies + row deleted; protected endpoint 401 + clearing cookies", async () => {
      const s = await signIn(srv, { email: acct.email });
      await setSessionDates(srv, s.token, { expiresAt: new Date(Date.now() - 1000) });
      const res = await raw(srv, "POST", "/update-user", { json: { name: "Nope" }, jar: s.jar.clone() });
      assertError(res, 401, ...UNAUTHORIZED);
      assertClearsCookies(res);
      assert.equal((await srv.db.userByEmail(acct.email)).name, "Cookie Owner");
      // (better-auth deletes the expired row on sight; a second request sees the same answer)
      const gs = await raw(srv, "GET", "/get-session", { jar: s.jar.clone() });
      assert.equal(gs.text, "null");
      assertClearsCookies(gs);
      assert.equal(await srv.db.sessionByToken(s.token), null);
    });

    it("cookie of a deleted session (signed out elsewhere, or a signed unknown token) → null + clearing cookies; 401 everywhere", async () => {
      const s = await signIn(srv, { email: acct.email });
      const stale = s.jar.header();
      await raw(srv, "POST", "/sign-out", { jar: s.jar.clone() });
      assert.equal(await srv.db.sessionByToken(s.token), null);
      for (const cookie of [stale, `${SESSION_COOKIE}=${signCookieValue("Z".repeat(32), srv.secret)}`]) {
        const before = await srv.db.snapshot();
        const gs = await raw(srv, "GET", "/get-session", { cookie });
        assert.equal(gs.text, "null");
        assertClearsCookies(gs);
        for (const [method, path, json] of PROTECTED) {
          const res = await raw(srv, method, path, { cookie, json });
          assertError(res, 401, ...UNAUTHORIZED);
        }
        await assertNothingWritten(srv, before);
      }
    });
  });

  describe("routing", () => {
    it("unknown route, wrong method, trailing slash, double slash, HEAD, OPTIONS, outside the base path → 404 with empty body", async () => {
      const cases = [
        ["GET", "/nope"],
        ["POST", "/nope"],
        ["GET", "/sign-in/email"],
        ["GET", "/sign-up/email"],
        ["DELETE", "/get-session"],
        ["PUT", "/update-user"],
        ["GET", "/ok/"],
        ["POST", "/sign-in/email/"],
        ["GET", "//ok"],
        ["HEAD", "/ok"],
        ["OPTIONS", "/sign-in/email"],
        ["GET", "=/elsewhere"],
        ["GET", "=/api/auth"],
        ["GET", "=/api/authx/ok"],
      ];
      for (const [method, path] of cases) {
        const res = await raw(srv, method, path, method === "POST" ? { json: { email: victim.email, password: PASSWORD } } : {});
        assertBare404(res);
      }
    });

    it("POST /get-session → 405 METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED (with or without a session)", async () => {
      const msg = "POST method requires deferSessionRefresh to be enabled in session config";
      assertError(await raw(srv, "POST", "/get-session", {}), 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", msg);
      assertError(await raw(srv, "POST", "/get-session", { json: {}, jar: victim.jar }), 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", msg);
    });
  });

  describe("GATEHOUSE_MAX_BODY", { skip: GATEHOUSE_ONLY }, () => {
    let small;
    before(async () => {
      small = await startServer({ backend, hint: "errors-maxbody", env: { GATEHOUSE_MAX_BODY: "2048" } });
    });
    after(async () => {
      await small?.stop();
    });

    it("a body over the configured limit → 413 JSON; one under it is processed normally", async () => {
      const before = await small.db.snapshot();
      const over = await raw(small, "POST", "/sign-up/email", { json: { name: "x".repeat(3000), email: newEmail(), password: PASSWORD } });
      assert.equal(over.status, 413, over.text);
      assert.equal(typeof over.json?.message, "string");
      await assertNothingWritten(small, before);
      const email = newEmail("under");
      const under = await raw(small, "POST", "/sign-up/email", { json: { name: "y".repeat(1500), email, password: PASSWORD } });
      assert.equal(under.status, 200, under.text);
      assert.equal((await small.db.userByEmail(email)).name, "y".repeat(1500));
      await assertAlive(small);
    });
  });

  describe("GATEHOUSE_MAX_HEADER_SIZE", { skip: GATEHOUSE_ONLY }, () => {
    let small;
    before(async () => {
      small = await startServer({ backend, hint: "errors-maxheader", env: { GATEHOUSE_MAX_HEADER_SIZE: "4096" } });
    });
    after(async () => {
      await small?.stop();
    });
    const assert431 = (r) => {
      assert.equal(r.status, 431, r.text);
      assert.match(String(r.headers["content-type"]), /^application\/json/);
      assert.deepEqual(r.json, { message: "Request header fields are too large", code: "REQUEST_HEADER_FIELDS_TOO_LARGE" });
    };

    it("a request head over the limit → 431 JSON (up to twice the default limit), one under it is processed", async () => {
      const under = await raw(small, "GET", "/get-session", { cookie: `x=${"a".repeat(3000)}` });
      assert.equal(under.status, 200, under.text);
      assert.equal(under.text, "null");
      for (const n of [5000, 9000, 16000]) assert431(await raw(small, "GET", "/get-session", { cookie: `x=${"a".repeat(n)}` }));
      // many small header fields count together
      const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-pad-${i}`, "b".repeat(80)]));
      assert431(await raw(small, "GET", "/get-session", { headers: many }));
      await assertAlive(small);
    });

    it("a sign-up whose head is over the limit → 431 JSON, its body is read and nothing is written", async () => {
      const before = await small.db.snapshot();
      const email = newEmail("bighead");
      const r = await raw(small, "POST", "/sign-up/email", {
        json: { name: "Big Head", email, password: PASSWORD },
        headers: { "x-pad": "c".repeat(6000) },
      });
      assert431(r);
      await assertNothingWritten(small, before);
      assert.equal(await small.db.userByEmail(email), null);
      await assertAlive(small);
    });
  });
});

