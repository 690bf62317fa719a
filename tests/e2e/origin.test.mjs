// Origin check / CSRF (spec §8.1): cookie-bearing state-changing requests need a trusted Origin or
// Referer; sign-in/sign-up refuse cross-site navigations; callback URLs must be trusted or safe-relative.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeClient } from "./lib/client.mjs";
import { PASSWORD, assertError, assertNoSetCookie, assertNothingWritten, forEachBackend, newEmail, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { startServer } from "./lib/server.mjs";

const MISSING = ["MISSING_OR_NULL_ORIGIN", "Missing or null Origin"];
const INVALID = ["INVALID_ORIGIN", "Invalid origin"];
const NAV_BLOCKED = ["CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack."];
const BAD_CALLBACK = ["INVALID_CALLBACK_URL", "Invalid callbackURL"];

forEachBackend("origin", (backend) => {
  let srv;
  let acct;
  before(async () => {
    srv = await startServer({
      backend,
      hint: "origin",
      env: { GATEHOUSE_TRUSTED_ORIGINS: "https://app.example.com, http://*.trusted.test" },
    });
    acct = await signUp(srv, { name: "Origin Owner" });
  });
  after(async () => {
    await srv?.stop();
  });

  /** The account's name and sessions are as they were: the refused request changed nothing. */
  async function assertUnchanged(before) {
    assert.equal((await srv.db.userByEmail(acct.email)).name, "Origin Owner");
    await assertNothingWritten(srv, before);
  }

  describe("cookie-bearing POST", () => {
    it("without Origin and Referer (or with Origin: null) → 403 MISSING_OR_NULL_ORIGIN on every state-changing endpoint", async () => {
      const before = await srv.db.snapshot();
      const calls = [
        ["/update-user", { name: "Hacked" }],
        ["/sign-out", undefined],
        ["/revoke-sessions", undefined],
        ["/revoke-other-sessions", undefined],
        ["/change-password", { currentPassword: PASSWORD, newPassword: "hijacked-password" }],
        ["/delete-user", { password: PASSWORD }],
      ];
      for (const [path, json] of calls) {
        for (const origin of [null, "null"]) {
          const res = await raw(srv, "POST", path, { json, jar: acct.jar, origin });
          assertError(res, 403, ...MISSING);
          assertNoSetCookie(res);
        }
      }
      await assertUnchanged(before);
      assert.ok(await srv.db.sessionByToken(acct.token), "session not signed out");
    });

    it("untrusted Origin or Referer → 403 INVALID_ORIGIN (look-alike hosts, other port, other scheme)", async () => {
      const before = await srv.db.snapshot();
      const evil = [
        "http://evil.example",
        `${srv.url}.evil.example`,
        "http://127.0.0.1:1",
        `https://127.0.0.1:${srv.port}`,
        "http://app.example.com", // trusted only over https
        "http://trusted.test", // *.trusted.test needs a subdomain
      ];
      for (const origin of evil) {
        assertError(await raw(srv, "POST", "/update-user", { json: { name: "Hacked" }, jar: acct.jar, origin }), 403, ...INVALID);
      }
      const viaReferer = await raw(srv, "POST", "/update-user", {
        json: { name: "Hacked" },
        jar: acct.jar,
        origin: null,
        headers: { referer: "http://evil.example/page" },
      });
      assertError(viaReferer, 403, ...INVALID);
      await assertUnchanged(before);
    });

    it("the base URL via Referer (no Origin) → allowed", async () => {
      const res = await raw(srv, "POST", "/update-user", {
        json: { name: "Via Referer" },
        jar: acct.jar,
        origin: null,
        headers: { referer: `${srv.url}/settings/profile?tab=1` },
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { status: true });
      assert.equal((await srv.db.userByEmail(acct.email)).name, "Via Referer");
      await raw(srv, "POST", "/update-user", { json: { name: "Origin Owner" }, jar: acct.jar });
    });

    it("GATEHOUSE_TRUSTED_ORIGINS: an exact origin and a *.wildcard origin are trusted", async () => {
      for (const [origin, name] of [
        ["https://app.example.com", "From App"],
        ["http://shop.trusted.test", "From Shop"],
        ["http://a.b.trusted.test", "From Deep"],
      ]) {
        const res = await raw(srv, "POST", "/update-user", { json: { name }, jar: acct.jar, origin });
        assert.equal(res.status, 200, `${origin}: ${res.text}`);
        assert.equal((await srv.db.userByEmail(acct.email)).name, name);
      }
      await raw(srv, "POST", "/update-user", { json: { name: "Origin Owner" }, jar: acct.jar });
    });

    it("Origin: null with Sec-Fetch-Site: same-origin counts as the request's own origin → allowed", async () => {
      const res = await raw(srv, "POST", "/update-user", {
        json: { name: "Same Origin" },
        jar: acct.jar,
        origin: "null",
        headers: { "sec-fetch-site": "same-origin" },
      });
      assert.equal(res.status, 200, res.text);
      await raw(srv, "POST", "/update-user", { json: { name: "Origin Owner" }, jar: acct.jar });
    });

    it("GET requests are not origin-checked (get-session with a cookie and no Origin)", async () => {
      const res = await raw(srv, "GET", "/get-session", { jar: acct.jar, origin: null, headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" } });
      assert.equal(res.json?.session?.token, acct.token);
    });

    it("a Bearer-authenticated POST without a Cookie header skips the origin check", async () => {
      const res = await raw(srv, "POST", "/update-user", {
        json: { name: "Via Bearer" },
        bearer: acct.token,
        origin: null,
        headers: { "sec-fetch-mode": "cors" },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((await srv.db.userByEmail(acct.email)).name, "Via Bearer");
      await raw(srv, "POST", "/update-user", { json: { name: "Origin Owner" }, jar: acct.jar });
    });
  });

  describe("sign-in / sign-up (no cookies)", () => {
    it("Sec-Fetch-Site: cross-site + Sec-Fetch-Mode: navigate → 403 CROSS_SITE_NAVIGATION_LOGIN_BLOCKED, even with a trusted Origin", async () => {
      const before = await srv.db.snapshot();
      const nav = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" };
      for (const origin of [null, srv.url]) {
        let res = await raw(srv, "POST", "/sign-in/email", { form: { email: acct.email, password: PASSWORD }, origin, headers: nav });
        assertError(res, 403, ...NAV_BLOCKED);
        assertNoSetCookie(res);
        res = await raw(srv, "POST", "/sign-up/email", { form: { name: "x", email: newEmail(), password: PASSWORD }, origin, headers: nav });
        assertError(res, 403, ...NAV_BLOCKED);
      }
      await assertNothingWritten(srv, before);
    });

    it("a Sec-Fetch-* header without Origin → 403 MISSING_OR_NULL_ORIGIN; an untrusted Origin/Referer → 403 INVALID_ORIGIN (before the password is checked)", async () => {
      const before = await srv.db.snapshot();
      for (const h of [{ "sec-fetch-mode": "cors" }, { "sec-fetch-dest": "empty" }, { "sec-fetch-site": "same-origin" }]) {
        const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD }, origin: null, headers: h });
        assertError(res, 403, ...MISSING);
      }
      for (const password of [PASSWORD, "wrong-password"]) {
        const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password }, origin: "http://evil.example" });
        assertError(res, 403, ...INVALID);
      }
      const res = await raw(srv, "POST", "/sign-in/email", {
        json: { email: acct.email, password: PASSWORD },
        origin: null,
        headers: { referer: "http://evil.example/" },
      });
      assertError(res, 403, ...INVALID);
      const su = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: newEmail(), password: PASSWORD }, origin: "http://evil.example" });
      assertError(su, 403, ...INVALID);
      await assertNothingWritten(srv, before);
    });

    it("same-origin fetch (Sec-Fetch-Site: same-origin + trusted Origin) and cross-site CORS from a trusted origin → allowed", async () => {
      let res = await raw(srv, "POST", "/sign-in/email", {
        json: { email: acct.email, password: PASSWORD },
        headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" },
      });
      assert.equal(res.status, 200, res.text);
      res = await raw(srv, "POST", "/sign-in/email", {
        json: { email: acct.email, password: PASSWORD },
        origin: "https://app.example.com",
        headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
      });
      assert.equal(res.status, 200, res.text);
    });

    it("server-to-server (no Origin, Referer, Sec-Fetch-* or Cookie) → sign-up and sign-in pass", async () => {
      const email = newEmail("s2s");
      let res = await raw(srv, "POST", "/sign-up/email", { json: { name: "S2S", email, password: PASSWORD }, origin: null });
      assert.equal(res.status, 200, res.text);
      res = await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD }, origin: null });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.email, email);
      // sign-out without cookies is not origin-checked either
      res = await raw(srv, "POST", "/sign-out", { origin: null, headers: { "sec-fetch-mode": "cors" } });
      assert.equal(res.status, 200);
    });

    it("official client (node fetch always sends Sec-Fetch-Mode: cors): no Origin → MISSING_OR_NULL_ORIGIN, untrusted → INVALID_ORIGIN, base URL → OK", async () => {
      let r = await makeClient(srv, { origin: null }).client.signIn.email({ email: acct.email, password: PASSWORD });
      assert.equal(r.data, null);
      assert.equal(r.error.status, 403);
      assert.equal(r.error.code, "MISSING_OR_NULL_ORIGIN");
      r = await makeClient(srv, { origin: "http://evil.example" }).client.signIn.email({ email: acct.email, password: PASSWORD });
      assert.equal(r.error.status, 403);
      assert.equal(r.error.code, "INVALID_ORIGIN");
      r = await makeClient(srv).client.signIn.email({ email: acct.email, password: PASSWORD });
      assert.equal(r.error, null);
      assert.equal(r.data.user.id, acct.user.id);
    });
  });

  describe("callbackURL", () => {
    it("untrusted absolute, protocol-relative, backslash, encoded-slash, control-char and scheme URLs → 403 INVALID_CALLBACK_URL, no session", async () => {
      const before = await srv.db.snapshot();
      const bad = ["http://evil.example/x", "//evil.example/x", "/\\evil.example", "/%5Cevil", "/dash%2Fboard", "/a\u0001b", "javascript:alert(1)", "dashboard"];
      for (const callbackURL of bad) {
        const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD, callbackURL } });
        assertError(res, 403, ...BAD_CALLBACK);
        assertNoSetCookie(res);
      }
      const su = await raw(srv, "POST", "/sign-up/email", { json: { name: "x", email: newEmail(), password: PASSWORD, callbackURL: "http://evil.example/x" } });
      assertError(su, 403, ...BAD_CALLBACK);
      await assertNothingWritten(srv, before);
    });

    it("relative '/dashboard' (with a query) and trusted absolute URLs → 200 {redirect:true, url} + Location", async () => {
      for (const callbackURL of ["/dashboard", "/dash?x=1", "https://app.example.com/welcome", "http://foo.trusted.test/cb"]) {
        const res = await raw(srv, "POST", "/sign-in/email", { json: { email: acct.email, password: PASSWORD, callbackURL } });
        assert.equal(res.status, 200, `${callbackURL}: ${res.text}`);
        assert.equal(res.json.redirect, true);
        assert.equal(res.json.url, callbackURL);
        assert.equal(res.headers.location, callbackURL);
      }
      const email = newEmail("cb");
      const res = await raw(srv, "POST", "/sign-up/email", { json: { name: "Cb", email, password: PASSWORD, callbackURL: "/dashboard" } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.email, email);
    });
  });
});
