// E-mail verification, password reset and change of e-mail (spec §1 rows, §6.1, §6.2), delivered over
// real SMTP: a python3-aiosmtpd server on loopback (lib/smtp.mjs) receives every message; the tests
// parse the MIME message, follow its link and finish the flow through the official client.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { makeClient } from "./lib/client.mjs";
import { CookieJar, SESSION_COOKIE } from "./lib/cookies.mjs";
import { openDb, sql, toBool, toDate, withHelpers } from "./lib/db.mjs";
import { PASSWORD, assertError, assertNoSetCookie, forEachBackend, newEmail, scryptMatches } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, startServer } from "./lib/server.mjs";
import { selfSignedCert, startSmtp } from "./lib/smtp.mjs";
import { freePort, makeTempDir, sleep } from "./lib/util.mjs";
import fs from "node:fs";
import path from "node:path";

const b64url = (x) => Buffer.from(x).toString("base64url");
/** An HS256 token exactly as better-auth makes them (header {"alg":"HS256"}), with any claims. */
function makeToken(secret, claims) {
  const input = `${b64url('{"alg":"HS256"}')}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${crypto.createHmac("sha256", secret).update(input).digest("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);
const apiPath = (link) => {
  const u = new URL(link);
  return `=${u.pathname}${u.search}`;
};

const BASE_ENV = {
  GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true",
  GATEHOUSE_EMAIL_VERIFICATION_SEND_ON_SIGN_IN: "true",
  GATEHOUSE_CHANGE_EMAIL: "true",
  GATEHOUSE_CHANGE_EMAIL_CONFIRMATION: "true",
  GATEHOUSE_MAIL_RETRY_MS: "200",
  GATEHOUSE_MAIL_POLL_MS: "200",
  GATEHOUSE_TRUSTED_ORIGINS: "https://app.example.com",
};

forEachBackend("mail", (backend) => {
  let smtp, srv;
  before(async () => {
    smtp = await startSmtp();
    srv = await startServer({ backend, hint: "mail", env: { ...BASE_ENV, GATEHOUSE_SMTP_URL: smtp.url } });
  });
  after(async () => {
    await srv?.stop();
    await smtp?.stop();
  });
  const to = (email) => (m) => m.envelope.to.includes(email);
  const json = (r) => r.json;

  async function verifiedUser(tag = "v") {
    const email = newEmail(tag);
    const { client } = makeClient(srv);
    const { error } = await client.signUp.email({ name: "V", email, password: PASSWORD });
    assert.equal(error, null);
    const m = await smtp.waitFor(to(email));
    const r = await raw(srv, "GET", apiPath(m.link));
    assert.equal(r.status, 302, r.text);
    const row = await srv.db.userByEmail(email);
    return { email, row };
  }

  describe("e-mail verification", () => {
    it("sign-up sends a well-formed MIME message; its link verifies the address and redirects to callbackURL; then sign-in works", async () => {
      const email = newEmail("verify");
      const { client, jar } = makeClient(srv);
      const { data, error } = await client.signUp.email({ name: "Ver Ify", email, password: PASSWORD, callbackURL: "/welcome" });
      assert.equal(error, null, JSON.stringify(error));
      assert.equal(data.token, null, "verification required: no session on sign-up");
      assert.equal(jar.get(SESSION_COOKIE), undefined);
      const m = await smtp.waitFor(to(email));
      assert.deepEqual(m.envelope.to, [email]);
      assert.match(m.headers.date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      assert.match(m.headers["message-id"], /^<[A-Za-z0-9]{32}@[^>]+>$/);
      assert.equal(m.headers["mime-version"], "1.0");
      assert.match(m.headers["content-type"], /^multipart\/alternative; boundary=/);
      assert.match(m.headers.subject, /^=\?UTF-8\?B\?/, "subject is an RFC 2047 encoded word");
      assert.equal(m.subject, "Verify your e-mail address");
      assert.ok(m.html.includes("Ver Ify") && m.text.includes("Ver Ify"), "both parts name the user");
      const link = new URL(m.link);
      assert.equal(link.origin + link.pathname, `${srv.apiBase}/verify-email`);
      assert.equal(link.searchParams.get("callbackURL"), "/welcome");
      assert.ok(m.html.includes(m.link.replaceAll("&", "&amp;")), "the HTML part links the same URL");
      const [h, p] = link.searchParams.get("token").split(".");
      assert.equal(Buffer.from(h, "base64url").toString(), '{"alg":"HS256"}');
      const claims = JSON.parse(Buffer.from(p, "base64url"));
      assert.deepEqual(Object.keys(claims), ["email", "userId", "iat", "exp"]);
      assert.equal(claims.exp - claims.iat, 3600);

      const denied = await client.signIn.email({ email, password: PASSWORD });
      assert.equal(denied.error?.status, 403);
      assert.equal(denied.error?.code, "EMAIL_NOT_VERIFIED");
      await smtp.waitFor(to(email)); // sendOnSignIn: sent again

      const r = await raw(srv, "GET", apiPath(m.link));
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, "/welcome");
      assert.equal(toBool((await srv.db.userByEmail(email)).emailVerified), true);
      const ok = await client.signIn.email({ email, password: PASSWORD });
      assert.equal(ok.error, null, JSON.stringify(ok.error));
      assert.equal(ok.data.user.emailVerified, true);
      const again = await raw(srv, "GET", `/verify-email?token=${link.searchParams.get("token")}`);
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, { status: true, user: null }, "a used link of a verified user: status true");
    });

    it("tampered, expired, other-user and unknown-user tokens: 401 JSON, or 302 to callbackURL with ?error=", async () => {
      const { row } = await verifiedUser("tok");
      const other = newEmail("other");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "O", email: other, password: PASSWORD } });
      const good = makeToken(srv.secret, { email: other, userId: (await srv.db.userByEmail(other)).id, iat: now(), exp: now() + 60 });
      const tampered = good.slice(0, -2) + (good.endsWith("AA") ? "BB" : "AA");
      assertError(await raw(srv, "GET", `/verify-email?token=${tampered}`), 401, "INVALID_TOKEN", "Invalid token");
      const wrongKey = makeToken("another-secret-of-enough-length-0123456789", { email: other, iat: now(), exp: now() + 60 });
      assertError(await raw(srv, "GET", `/verify-email?token=${wrongKey}`), 401, "INVALID_TOKEN", "Invalid token");
      const expired = makeToken(srv.secret, { email: other, iat: now() - 100, exp: now() - 1 });
      assertError(await raw(srv, "GET", `/verify-email?token=${expired}`), 401, "TOKEN_EXPIRED", "Token expired");
      const r = await raw(srv, "GET", `/verify-email?token=${expired}&callbackURL=${encodeURIComponent("/done?x=1#top")}`);
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, "/done?x=1&error=TOKEN_EXPIRED#top");
      // a token naming one user's e-mail with another user's id verifies nobody
      const crossed = makeToken(srv.secret, { email: other, userId: row.id, iat: now(), exp: now() + 60 });
      assertError(await raw(srv, "GET", `/verify-email?token=${crossed}`), 401, "INVALID_TOKEN", "Invalid token");
      assert.equal(toBool((await srv.db.userByEmail(other)).emailVerified), false);
      const nobody = makeToken(srv.secret, { email: newEmail("nobody"), iat: now(), exp: now() + 60 });
      assertError(await raw(srv, "GET", `/verify-email?token=${nobody}`), 401, "USER_NOT_FOUND", "User not found");
      const none = await raw(srv, "GET", "/verify-email");
      assert.equal(none.status, 400);
      assert.equal(none.json.code, "VALIDATION_ERROR");
      // the real token then works
      assert.deepEqual((await raw(srv, "GET", `/verify-email?token=${good}`)).json, { status: true, user: null });
      assert.equal(toBool((await srv.db.userByEmail(other)).emailVerified), true);
    });

    it("callbackURL must be trusted or a safe relative path: 403 INVALID_CALLBACK_URL, no open redirect, no header injection", async () => {
      const t = makeToken(srv.secret, { email: newEmail("cb"), iat: now(), exp: now() + 60 });
      for (const cb of ["https://evil.example.net/x", "//evil.example.net", "/ok\r\nSet-Cookie: x=1", "/\\evil", "https://app.example.com.evil.net/"]) {
        const r = await raw(srv, "GET", `/verify-email?token=${t}&callbackURL=${encodeURIComponent(cb)}`);
        assertError(r, 403, "INVALID_CALLBACK_URL", "Invalid callbackURL");
        assert.equal(r.headers.location, undefined);
      }
      // percent-encoded CR/LF stay encoded in the Location (better-auth accepts such a path too)
      const enc = await raw(srv, "GET", `/verify-email?token=${t}&callbackURL=${encodeURIComponent("/ok%0d%0aSet-Cookie:%20x=1")}`);
      assert.equal(enc.status, 302);
      assert.equal(enc.headers.location, "/ok%0d%0aSet-Cookie:%20x=1?error=USER_NOT_FOUND");
      assert.equal(enc.headers["set-cookie"], undefined);
      const ok = await raw(srv, "GET", `/verify-email?token=${t}&callbackURL=${encodeURIComponent("https://app.example.com/v")}`);
      assert.equal(ok.status, 302);
      assert.equal(ok.headers.location, "https://app.example.com/v?error=USER_NOT_FOUND");
      assertError(
        await raw(srv, "POST", "/send-verification-email", { json: { email: newEmail("cb"), callbackURL: "https://evil.example.net" } }),
        403,
        "INVALID_CALLBACK_URL",
        "Invalid callbackURL",
      );
    });

    it("send-verification-email: {status:true} for unknown and verified addresses without a mail; EMAIL_MISMATCH / EMAIL_ALREADY_VERIFIED with a session", async () => {
      const unknown = newEmail("unknown");
      assert.deepEqual((await raw(srv, "POST", "/send-verification-email", { json: { email: unknown } })).json, { status: true });
      const { email } = await verifiedUser("sv");
      assert.deepEqual((await raw(srv, "POST", "/send-verification-email", { json: { email } })).json, { status: true });
      const fresh = newEmail("sv-fresh");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "F", email: fresh, password: PASSWORD } });
      await smtp.waitFor(to(fresh));
      assert.deepEqual((await raw(srv, "POST", "/send-verification-email", { json: { email: fresh, callbackURL: "/again" } })).json, { status: true });
      const m = await smtp.waitFor(to(fresh));
      assert.equal(new URL(m.link).searchParams.get("callbackURL"), "/again");
      assert.equal(smtp.messages().filter((x) => x.envelope.to.includes(unknown) || (x.envelope.to.includes(email) && x.subject.startsWith("Verify") && x.file > m.file)).length, 0);
      // with a session
      const jar = new CookieJar();
      const si = await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD }, jar });
      assert.equal(si.status, 200);
      assertError(await raw(srv, "POST", "/send-verification-email", { json: { email: fresh }, jar }), 400, "EMAIL_MISMATCH", "Email mismatch");
      assertError(await raw(srv, "POST", "/send-verification-email", { json: { email }, jar }), 400, "EMAIL_ALREADY_VERIFIED", "Email is already verified");
      assertError(await raw(srv, "POST", "/send-verification-email", { json: { email: "not-an-email" } }), 400, "VALIDATION_ERROR", "[body.email] Invalid email address");
    });

    it("a user's name cannot inject headers: CR/LF in the name stay in the body, as spaces", async () => {
      const email = newEmail("inject");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "Mallory\r\nBcc: victim@example.org\r\n\r\nhi", email, password: PASSWORD } });
      const m = await smtp.waitFor(to(email));
      assert.deepEqual(m.envelope.to, [email]);
      assert.deepEqual(
        m.headerList.map(([k]) => k),
        ["date", "from", "to", "subject", "message-id", "mime-version", "auto-submitted", "content-type"],
      );
      assert.ok(m.text.includes("Mallory  Bcc: victim@example.org    hi"), m.text);
      assert.ok(!m.raw.includes("victim@example.org"), "the name is only inside the base64 parts");
    });
  });

  describe("password reset", () => {
    it("request → mail → GET link (302 with ?token) → reset-password through the client: the row is better-auth's, consumed once", async () => {
      const { email, row } = await verifiedUser("reset");
      const { client } = makeClient(srv);
      const req = await client.requestPasswordReset({ email, redirectTo: "/reset" });
      assert.equal(req.error, null, JSON.stringify(req.error));
      assert.deepEqual(req.data, { status: true, message: "If this email exists in our system, check your email for the reset link" });
      const m = await smtp.waitFor(to(email));
      assert.equal(m.subject, "Reset your password");
      const link = new URL(m.link);
      const token = link.pathname.split("/").pop();
      assert.match(token, /^[A-Za-z0-9]{24}$/);
      assert.equal(link.pathname, `/api/auth/reset-password/${token}`);
      assert.equal(link.searchParams.get("callbackURL"), "/reset");
      const v = await srv.db.one(sql`SELECT * FROM "verification" WHERE "identifier" = ${`reset-password:${token}`}`);
      assert.equal(v.value, row.id);
      const ttl = toDate(v.expiresAt).getTime() - toDate(v.createdAt).getTime();
      assert.ok(Math.abs(ttl - 3600 * 1000) < 1000, `ttl ${ttl}`);

      const cb = await raw(srv, "GET", apiPath(m.link));
      assert.equal(cb.status, 302);
      assert.equal(cb.headers.location, `${srv.baseURL}/reset?token=${token}`);
      const done = await client.resetPassword({ newPassword: "a-new-password-1", token });
      assert.equal(done.error, null, JSON.stringify(done.error));
      assert.deepEqual(done.data, { status: true });
      assert.equal(await srv.db.count("verification", { identifier: `reset-password:${token}` }), 0, "consumed");
      const [acc] = await srv.db.accountsOf(row.id);
      assert.ok(scryptMatches(acc.password, "a-new-password-1"));
      assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD } })).status, 401);
      assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email, password: "a-new-password-1" } })).status, 200);
      // reused
      assertError(await raw(srv, "POST", "/reset-password", { json: { token, newPassword: "another-password-2" } }), 400, "INVALID_TOKEN", "Invalid token");
      const reused = await raw(srv, "GET", apiPath(m.link));
      assert.equal(reused.headers.location, `${srv.baseURL}/reset?error=INVALID_TOKEN`);
    });

    it("unknown e-mail: the same 200 body, no row, no mail", async () => {
      const before = await srv.db.count("verification");
      const unknown = newEmail("nobody");
      const r = await raw(srv, "POST", "/request-password-reset", { json: { email: unknown } });
      assert.equal(r.status, 200);
      assert.equal(r.text, '{"status":true,"message":"If this email exists in our system, check your email for the reset link"}');
      assert.equal(await srv.db.count("verification"), before);
      await sleep(300);
      assert.equal(smtp.messages().filter(to(unknown)).length, 0);
    });

    it("two concurrent uses of one token: exactly one succeeds", async () => {
      const { email } = await verifiedUser("race");
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      const token = new URL((await smtp.waitFor(to(email))).link).pathname.split("/").pop();
      const rs = await Promise.all([0, 1, 2].map((i) => raw(srv, "POST", "/reset-password", { json: { token, newPassword: `race-password-${i}` } })));
      assert.deepEqual(rs.map((r) => r.status).sort(), [200, 400, 400], rs.map((r) => r.text).join(" "));
    });

    it("expired token: GET redirects with ?error=INVALID_TOKEN, POST is 400; untrusted redirectTo/callbackURL are 403", async () => {
      const { email } = await verifiedUser("exp");
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      const m = await smtp.waitFor(to(email));
      const token = new URL(m.link).pathname.split("/").pop();
      assert.equal(new URL(m.link).searchParams.get("callbackURL"), "", "no redirectTo: empty callbackURL");
      const past = new Date(Date.now() - 1000);
      await srv.db.all(sql`UPDATE "verification" SET "expiresAt" = ${backend === "sqlite" ? past.toISOString() : past} WHERE "identifier" = ${`reset-password:${token}`}`);
      const cb = await raw(srv, "GET", `/reset-password/${token}?callbackURL=${encodeURIComponent("https://app.example.com/r")}`);
      assert.equal(cb.headers.location, "https://app.example.com/r?error=INVALID_TOKEN");
      const bare = await raw(srv, "GET", `/reset-password/${token}?callbackURL=${encodeURIComponent("https://app.example.com?x=1&error=old#f")}`);
      assert.equal(bare.headers.location, "https://app.example.com/?x=1&error=INVALID_TOKEN#f", "as new URL(callbackURL) with searchParams.set");
      assertError(await raw(srv, "POST", "/reset-password", { json: { token, newPassword: "whatever-password" } }), 400, "INVALID_TOKEN", "Invalid token");
      assertError(await raw(srv, "POST", "/request-password-reset", { json: { email, redirectTo: "https://evil.example.net" } }), 403, "INVALID_REDIRECT_URL", "Invalid redirectURL");
      assertError(await raw(srv, "GET", `/reset-password/${token}?callbackURL=${encodeURIComponent("https://evil.example.net")}`), 403, "INVALID_CALLBACK_URL", "Invalid callbackURL");
      const noCb = await raw(srv, "GET", `/reset-password/${token}`);
      assert.equal(noCb.headers.location, `${srv.apiBase}/error?error=INVALID_TOKEN`);
    });

    it("creates the credential account when the user had none", async () => {
      const { email, row } = await verifiedUser("nocred");
      await srv.db.all(sql`DELETE FROM "account" WHERE "userId" = ${row.id}`);
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      const token = new URL((await smtp.waitFor(to(email))).link).pathname.split("/").pop();
      assert.equal((await raw(srv, "POST", "/reset-password", { json: { token, newPassword: "first-password-1" } })).status, 200);
      const accs = await srv.db.accountsOf(row.id);
      assert.equal(accs.length, 1);
      assert.equal(accs[0].providerId, "credential");
      assert.equal(accs[0].accountId, row.id);
      assert.ok(scryptMatches(accs[0].password, "first-password-1"));
    });
  });

  describe("sign-up enumeration protection (verification required)", () => {
    it("a taken e-mail answers 200 with a synthetic user of the same shape and token null; nothing written; the owner gets a mail", async () => {
      const { email, row } = await verifiedUser("taken");
      const users = await srv.db.count("user");
      const r = await raw(srv, "POST", "/sign-up/email", { json: { name: "Intruder", email, password: PASSWORD } });
      assert.equal(r.status, 200);
      assert.equal(r.json.token, null);
      assert.deepEqual(Object.keys(r.json.user), ["name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id"]);
      assert.notEqual(r.json.user.id, row.id);
      assert.equal(r.json.user.emailVerified, false);
      assert.equal(r.json.user.name, "Intruder");
      assertNoSetCookie(r);
      assert.equal(await srv.db.count("user"), users);
      const m = await smtp.waitFor(to(email));
      assert.equal(m.subject, "Sign-up attempt with your e-mail address");
    });
  });

  describe("change of e-mail", () => {
    it("verified user: confirmation to the old address, then verification of the new one, then the e-mail is changed", async () => {
      const { email, row } = await verifiedUser("chg");
      const jar = new CookieJar();
      assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD }, jar })).status, 200);
      const { client } = makeClient(srv, { jar });
      assertError(await raw(srv, "POST", "/update-user", { json: { email: newEmail("x") }, jar }), 400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
      const next = newEmail("chg-new");
      const r = await client.changeEmail({ newEmail: next, callbackURL: "/changed" });
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.deepEqual(r.data, { status: true });
      const conf = await smtp.waitFor(to(email));
      assert.equal(conf.subject, "Confirm the change of your e-mail address");
      assert.ok(conf.text.includes(next));
      const c1 = await raw(srv, "GET", apiPath(conf.link), { jar });
      assert.equal(c1.status, 302);
      assert.equal(c1.headers.location, "/changed");
      const ver = await smtp.waitFor(to(next));
      assert.equal(ver.subject, "Verify your new e-mail address");
      const tok = new URL(ver.link).searchParams.get("token");
      const c2 = await raw(srv, "GET", `/verify-email?token=${tok}`, { jar });
      assert.equal(c2.status, 200, c2.text);
      assert.equal(c2.json.status, true);
      assert.equal(c2.json.user.email, next);
      assert.equal(c2.json.user.emailVerified, true);
      const now_ = await srv.db.one(sql`SELECT * FROM "user" WHERE "id" = ${row.id}`);
      assert.equal(now_.email, next);
      // to a taken address: the same answer, no mail
      const other = (await verifiedUser("chg-taken")).email;
      const t = await raw(srv, "POST", "/change-email", { json: { newEmail: other }, jar });
      assert.equal(t.status, 200);
      assert.deepEqual(t.json, { status: true });
      await sleep(300);
      assert.equal(smtp.messages().filter((x) => x.envelope.to.includes(next) && x.subject.startsWith("Confirm")).length, 0);
      assertError(await raw(srv, "POST", "/change-email", { json: { newEmail: next }, jar }), 400, null, "Email is the same");
      assert.equal((await raw(srv, "POST", "/change-email", { json: { newEmail: newEmail("z") } })).status, 401);
    });
  });

  describe("delivery", () => {
    it("SMTP server down: the answer is unchanged, the failure is logged without the token, and the mail arrives once the server is back", async () => {
      const { email } = await verifiedUser("down");
      await smtp.stop();
      const r = await raw(srv, "POST", "/request-password-reset", { json: { email } });
      assert.equal(r.status, 200);
      assert.equal(r.json.status, true);
      for (let i = 0; i < 100 && !srv.logs.some((l) => l.event === "mail.retry"); i++) await sleep(50);
      const retry = srv.logs.find((l) => l.event === "mail.retry");
      assert.ok(retry, "a failed delivery is logged");
      assert.ok(retry.error && retry.mail_id);
      await smtp.start();
      const m = await smtp.waitFor(to(email));
      const token = new URL(m.link).pathname.split("/").pop();
      const logText = srv.stderrLines.join("\n");
      assert.ok(!logText.includes(token), "no reset token in the logs");
      const sent = () => srv.logs.some((l) => l.event === "mail.sent" && l.mail_id === retry.mail_id);
      for (let i = 0; i < 100 && !sent(); i++) await sleep(50);
      assert.ok(sent(), "the queued message itself was delivered (mail.sent with its id)");
    });

    it("audit events: verification sent and verified, reset requested and completed, e-mail changed", () => {
      const events = new Set(srv.logs.map((l) => l.event));
      for (const e of ["email_verification.sent", "email.verified", "password_reset.requested", "password_reset.completed", "email.changed"])
        assert.ok(events.has(e), e);
    });

    it("a message queued while the SMTP server is down survives a restart of gatehouse and is delivered by the new process", async () => {
      const { email } = await verifiedUser("restart");
      await smtp.stop();
      assert.equal((await raw(srv, "POST", "/request-password-reset", { json: { email } })).status, 200);
      await srv.stop();
      const db = withHelpers(openDb(srv.databaseUrl));
      const rows = await db.all(sql`SELECT "recipient", "attempts" FROM "gatehouse_mail_outbox"`);
      await db.close();
      assert.ok(rows.some((r) => r.recipient === email), "the message waits in the outbox");
      await smtp.start();
      srv = await startServer({ backend, databaseUrl: srv.databaseUrl, hint: "mail", env: { ...BASE_ENV, GATEHOUSE_SMTP_URL: smtp.url } });
      const m = await smtp.waitFor(to(email));
      assert.equal(m.subject, "Reset your password");
      for (let i = 0; i < 100 && (await srv.db.count("gatehouse_mail_outbox", { recipient: email })) > 0; i++) await sleep(50);
      assert.equal(await srv.db.count("gatehouse_mail_outbox", { recipient: email }), 0, "delivered rows are deleted");
    });
  });
});

forEachBackend("mail without SMTP", (backend) => {
  it("GATEHOUSE_MAIL=log (development default without an SMTP URL) prints the link in the log", async () => {
    const srv = await startServer({ backend, hint: "mail-log", env: { GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true" } });
    try {
      const email = newEmail("log");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "L", email, password: PASSWORD } });
      for (let i = 0; i < 50 && !srv.logs.some((l) => l.event === "mail.log"); i++) await sleep(20);
      const line = srv.logs.find((l) => l.event === "mail.log");
      assert.equal(line.to, email);
      const link = line.text.match(/https?:\/\/\S+/)[0];
      assert.equal((await raw(srv, "GET", apiPath(link))).status, 302);
      assert.equal(toBool((await srv.db.userByEmail(email)).emailVerified), true);
    } finally {
      await srv.stop();
    }
  });

  it("GATEHOUSE_MAIL=off: better-auth's answers without a sender", async () => {
    const srv = await startServer({ backend, hint: "mail-off", env: { GATEHOUSE_MAIL: "off", GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true" } });
    try {
      assertError(await raw(srv, "POST", "/send-verification-email", { json: { email: newEmail() } }), 400, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled");
      assertError(await raw(srv, "POST", "/request-password-reset", { json: { email: newEmail() } }), 400, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled");
      const email = newEmail("off");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "O", email, password: PASSWORD } });
      assertError(await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD } }), 403, "EMAIL_NOT_VERIFIED", "Email not verified");
    } finally {
      await srv.stop();
    }
  });

  const logLink = async (srv, email) => {
    for (let i = 0; i < 100 && !srv.logs.some((l) => l.event === "mail.log" && l.to === email); i++) await sleep(20);
    return srv.logs.find((l) => l.event === "mail.log" && l.to === email).text.match(/https?:\/\/\S+/)[0];
  };

  it("GATEHOUSE_AUTO_SIGN_IN_AFTER_VERIFICATION: the link signs the user in", async () => {
    const srv = await startServer({ backend, hint: "mail-auto", env: { GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true", GATEHOUSE_AUTO_SIGN_IN_AFTER_VERIFICATION: "true" } });
    try {
      const email = newEmail("auto");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "A", email, password: PASSWORD } });
      const jar = new CookieJar();
      const r = await raw(srv, "GET", apiPath(await logLink(srv, email)), { jar });
      assert.equal(r.status, 302);
      assert.ok(jar.get(SESSION_COOKIE), "session cookie set");
      const s = await raw(srv, "GET", "/get-session", { jar });
      assert.equal(s.json?.user?.email, email);
      assert.equal(s.json.user.emailVerified, true);
    } finally {
      await srv.stop();
    }
  });

  it("GATEHOUSE_REVOKE_SESSIONS_ON_PASSWORD_RESET: a reset deletes every session of the user", async () => {
    const srv = await startServer({ backend, hint: "mail-revoke", env: { GATEHOUSE_REVOKE_SESSIONS_ON_PASSWORD_RESET: "true" } });
    try {
      const email = newEmail("revoke");
      const up = await raw(srv, "POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD } });
      assert.ok(up.json.token);
      await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD } });
      assert.equal((await srv.db.sessionsOf(up.json.user.id)).length, 2);
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      const token = new URL(await logLink(srv, email)).pathname.split("/").pop();
      assert.equal((await raw(srv, "POST", `/reset-password?token=${token}`, { json: { newPassword: "brand-new-password" } })).status, 200);
      assert.equal((await srv.db.sessionsOf(up.json.user.id)).length, 0);
    } finally {
      await srv.stop();
    }
  });

  it("GATEHOUSE_AUTO_SIGN_IN=false: sign-up answers token null, and a taken e-mail a synthetic user (enumeration protection without verification)", async () => {
    const srv = await startServer({ backend, hint: "mail-noauto", env: { GATEHOUSE_AUTO_SIGN_IN: "false" } });
    try {
      const email = newEmail("noauto");
      const a = await raw(srv, "POST", "/sign-up/email", { json: { name: "N", email, password: PASSWORD } });
      assert.equal(a.status, 200);
      assert.equal(a.json.token, null);
      assertNoSetCookie(a);
      const b = await raw(srv, "POST", "/sign-up/email", { json: { name: "N2", email, password: PASSWORD } });
      assert.equal(b.status, 200);
      assert.equal(b.json.token, null);
      assert.notEqual(b.json.user.id, a.json.user.id);
      assert.deepEqual(Object.keys(b.json.user), Object.keys(a.json.user));
      assert.equal(await srv.db.count("user", { email }), 1);
      // sign-in is not gated (verification not required)
      assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email, password: PASSWORD } })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it("GATEHOUSE_MAIL_TEMPLATES: a deployer's files replace the built-in parts they name", async () => {
    const dir = makeTempDir("gh-e2e-mail-templates");
    fs.writeFileSync(path.join(dir, "reset-password.subject"), "Passwort für {{name}} zurücksetzen\n");
    fs.writeFileSync(path.join(dir, "reset-password.txt"), "Link: {{url}}\n");
    const srv = await startServer({ backend, hint: "mail-tpl", env: { GATEHOUSE_MAIL_TEMPLATES: dir } });
    try {
      const email = newEmail("tpl");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "Jörg", email, password: PASSWORD } });
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      for (let i = 0; i < 100 && !srv.logs.some((l) => l.event === "mail.log" && l.to === email); i++) await sleep(20);
      const line = srv.logs.find((l) => l.event === "mail.log" && l.to === email);
      assert.equal(line.subject, "Passwort für Jörg zurücksetzen");
      assert.match(line.text, /^Link: http:\/\/\S+\/api\/auth\/reset-password\/[A-Za-z0-9]{24}\?callbackURL=\n$/);
    } finally {
      await srv.stop();
    }
  });

  it("a verification link expires after GATEHOUSE_EMAIL_VERIFICATION_EXPIRES_IN (1 s)", async () => {
    const srv = await startServer({ backend, hint: "mail-exp", env: { GATEHOUSE_EMAIL_VERIFICATION_EXPIRES_IN: "1", GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true" } });
    try {
      const email = newEmail("exp1");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "E", email, password: PASSWORD } });
      for (let i = 0; i < 50 && !srv.logs.some((l) => l.event === "mail.log"); i++) await sleep(20);
      const link = srv.logs.find((l) => l.event === "mail.log").text.match(/https?:\/\/\S+/)[0];
      await sleep(2100);
      const token = new URL(link).searchParams.get("token");
      assertError(await raw(srv, "GET", `/verify-email?token=${token}`), 401, "TOKEN_EXPIRED", "Token expired");
    } finally {
      await srv.stop();
    }
  });
});

forEachBackend("mail over STARTTLS with AUTH", (backend) => {
  it("STARTTLS is used when offered, the certificate is verified against GATEHOUSE_SMTP_CA_FILE, AUTH uses the configured user; a wrong password or an unknown CA is retried, never sent in clear", async () => {
    const { cert, key } = selfSignedCert();
    const smtp = await startSmtp({ tls: { cert, key, user: "mailer", password: "s3cret-pw" } });
    const env = { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_SMTP_USER: "mailer", GATEHOUSE_MAIL_RETRY_MS: "100", GATEHOUSE_MAIL_POLL_MS: "100" };
    const servers = [];
    try {
      const good = await startServer({ backend, hint: "mail-tls", env: { ...env, GATEHOUSE_SMTP_PASSWORD: "s3cret-pw", GATEHOUSE_SMTP_CA_FILE: cert } });
      servers.push(good);
      const email = newEmail("tls");
      await raw(good, "POST", "/sign-up/email", { json: { name: "T", email, password: PASSWORD } });
      await raw(good, "POST", "/request-password-reset", { json: { email } });
      const m = await smtp.waitFor((x) => x.envelope.to.includes(email));
      assert.equal(m.envelope.tls, true, "delivered inside STARTTLS");
      assert.equal(m.envelope.authUser, "mailer");
      assert.ok(!good.stderrLines.join("\n").includes("s3cret-pw"), "the SMTP password is never logged");

      // a plain-text server (no STARTTLS offer) with GATEHOUSE_SMTP_REQUIRE_TLS: nothing is sent
      const plain = await startSmtp();
      try {
        const srv = await startServer({ backend, hint: "mail-tls-req", env: { ...env, GATEHOUSE_SMTP_URL: plain.url, GATEHOUSE_SMTP_REQUIRE_TLS: "true" } });
        servers.push(srv);
        const e = newEmail("tls-req");
        await raw(srv, "POST", "/sign-up/email", { json: { name: "T", email: e, password: PASSWORD } });
        await raw(srv, "POST", "/request-password-reset", { json: { email: e } });
        for (let i = 0; i < 100 && !srv.logs.some((l) => l.event === "mail.retry"); i++) await sleep(50);
        assert.ok(srv.logs.some((l) => l.event === "mail.retry"), "refused without TLS");
        assert.equal(plain.messages().length, 0, "nothing reached the plain-text server");
      } finally {
        await plain.stop();
      }

      for (const [hint, extra, reason] of [
        ["mail-tls-badpw", { GATEHOUSE_SMTP_PASSWORD: "wrong", GATEHOUSE_SMTP_CA_FILE: cert }, /Login denied|auth|535/i],
        ["mail-tls-noca", { GATEHOUSE_SMTP_PASSWORD: "s3cret-pw" }, /certificate|SSL/i],
      ]) {
        const srv = await startServer({ backend, hint, env: { ...env, ...extra } });
        servers.push(srv);
        const e = newEmail(hint);
        await raw(srv, "POST", "/sign-up/email", { json: { name: "T", email: e, password: PASSWORD } });
        assert.equal((await raw(srv, "POST", "/request-password-reset", { json: { email: e } })).status, 200);
        for (let i = 0; i < 100 && !srv.logs.some((l) => l.event === "mail.retry"); i++) await sleep(50);
        const retry = srv.logs.find((l) => l.event === "mail.retry");
        assert.ok(retry, `${hint}: a failed delivery is logged`);
        assert.match(retry.error, reason);
        assert.equal(smtp.messages().filter((x) => x.envelope.to.includes(e)).length, 0);
      }
    } finally {
      for (const s of servers) await s.stop();
      await smtp.stop();
    }
  });

  it("smtps:// (implicit TLS, GATEHOUSE_SMTP_URL=smtps://…): delivered inside TLS from the first byte, certificate verified, AUTH; an unknown CA is retried, never sent", async () => {
    const { cert, key } = selfSignedCert();
    const smtp = await startSmtp({ tls: { cert, key, user: "mailer", password: "s3cret-pw", implicit: true } });
    assert.match(smtp.url, /^smtps:\/\//);
    const env = { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_SMTP_USER: "mailer", GATEHOUSE_SMTP_PASSWORD: "s3cret-pw", GATEHOUSE_MAIL_RETRY_MS: "100", GATEHOUSE_MAIL_POLL_MS: "100" };
    const servers = [];
    try {
      const good = await startServer({ backend, hint: "mail-smtps", env: { ...env, GATEHOUSE_SMTP_CA_FILE: cert } });
      servers.push(good);
      const email = newEmail("smtps");
      await raw(good, "POST", "/sign-up/email", { json: { name: "S", email, password: PASSWORD } });
      assert.equal((await raw(good, "POST", "/request-password-reset", { json: { email } })).status, 200);
      const m = await smtp.waitFor((x) => x.envelope.to.includes(email));
      assert.equal(m.envelope.tls, true, "delivered over TLS");
      assert.equal(m.envelope.authUser, "mailer");
      assert.match(m.text, /reset-password\//, "the reset link arrived");

      const noca = await startServer({ backend, hint: "mail-smtps-noca", env });
      servers.push(noca);
      const e = newEmail("smtps-noca");
      await raw(noca, "POST", "/sign-up/email", { json: { name: "S", email: e, password: PASSWORD } });
      assert.equal((await raw(noca, "POST", "/request-password-reset", { json: { email: e } })).status, 200);
      for (let i = 0; i < 100 && !noca.logs.some((l) => l.event === "mail.retry"); i++) await sleep(50);
      const retry = noca.logs.find((l) => l.event === "mail.retry");
      assert.ok(retry, "a failed delivery is logged");
      assert.match(retry.error, /certificate|SSL/i);
      assert.equal(smtp.messages().filter((x) => x.envelope.to.includes(e)).length, 0);
    } finally {
      for (const s of servers) await s.stop();
      await smtp.stop();
    }
  });
});

forEachBackend("mail: two instances sharing one outbox", (backend) => {
  it("mails queued through either instance while the SMTP server is down are each delivered exactly once when it is back", async () => {
    const databaseUrl = await freshDatabaseUrl(backend, "mail-shared");
    const port = await freePort(); // nothing listens there yet
    const env = { GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`, GATEHOUSE_MAIL_RETRY_MS: "100", GATEHOUSE_MAIL_POLL_MS: "50" };
    const a = await startServer({ backend, databaseUrl, hint: "mail-shared-a", env });
    const b = await startServer({ backend, databaseUrl, hint: "mail-shared-b", env });
    let smtp;
    try {
      const emails = [];
      for (let i = 0; i < 12; i++) {
        const srv = i % 2 ? b : a;
        const email = newEmail(`shared${i}`);
        emails.push(email);
        assert.equal((await raw(srv, "POST", "/sign-up/email", { json: { name: "S", email, password: PASSWORD } })).status, 200);
        assert.equal((await raw(srv, "POST", "/request-password-reset", { json: { email } })).status, 200);
      }
      for (let i = 0; i < 100 && !(a.logs.some((l) => l.event === "mail.retry") && b.logs.some((l) => l.event === "mail.retry")); i++) await sleep(50);
      smtp = await startSmtp({ port });
      for (const e of emails) await smtp.waitFor((x) => x.envelope.to.includes(e) && /reset-password\//.test(x.text));
      await sleep(1500); // both delivery threads keep polling: a second copy would arrive now
      const resets = smtp.messages().filter((x) => /reset-password\//.test(x.text));
      assert.equal(resets.length, emails.length, `reset mails received: ${resets.map((x) => x.envelope.to).join(" ")}`);
      for (const e of emails) assert.equal(resets.filter((x) => x.envelope.to.includes(e)).length, 1, `${e}: exactly one copy`);
      assert.equal(await a.db.count("gatehouse_mail_outbox"), 0, "the outbox is empty once everything is sent");
    } finally {
      await a.stop();
      await b.stop();
      await smtp?.stop();
    }
  });
});

forEachBackend(
  "mail two-way with the real better-auth",
  () => {
    let smtp, srv, ba;
    const sent = [];
    before(async () => {
      smtp = await startSmtp();
      srv = await startServer({ backend: "postgres", hint: "mail-2way", env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_MAIL_POLL_MS: "200" } });
      ba = new InProcessBetterAuth(srv.databaseUrl, {
        secret: srv.secret,
        options: {
          emailAndPassword: { enabled: true, sendResetPassword: async (d) => void sent.push({ kind: "reset", ...d }) },
          emailVerification: { sendVerificationEmail: async (d) => void sent.push({ kind: "verify", ...d }) },
        },
      });
    });
    after(async () => {
      await srv?.stop();
      await ba?.close();
      await smtp?.stop();
    });

    it("a verification link made by better-auth verifies in gatehouse", async () => {
      const email = newEmail("ba-made");
      const s = await ba.request("POST", "/sign-up/email", { json: { name: "B", email, password: PASSWORD } });
      assert.equal(s.status, 200, s.text);
      const r = await ba.request("POST", "/send-verification-email", { json: { email } });
      assert.equal(r.status, 200, r.text);
      const m = sent.find((x) => x.kind === "verify" && x.user.email === email);
      const v = await raw(srv, "GET", `/verify-email?token=${m.token}`);
      assert.deepEqual(v.json, { status: true, user: null });
      assert.equal(toBool((await srv.db.userByEmail(email)).emailVerified), true);
    });

    it("a verification link made by gatehouse verifies in better-auth", async () => {
      const email = newEmail("gh-made");
      await raw(srv, "POST", "/sign-up/email", { json: { name: "G", email, password: PASSWORD } });
      await raw(srv, "POST", "/send-verification-email", { json: { email } });
      const m = await smtp.waitFor((x) => x.envelope.to.includes(email));
      const token = new URL(m.link).searchParams.get("token");
      const v = await ba.request("GET", `/verify-email?token=${token}`);
      assert.equal(v.status, 200, v.text);
      assert.deepEqual(v.json, { status: true, user: null });
      assert.equal(toBool((await srv.db.userByEmail(email)).emailVerified), true);
    });

    it("a reset token stored by better-auth resets in gatehouse, and the other way round", async () => {
      const email = newEmail("ba-reset");
      await ba.request("POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD } });
      await ba.request("POST", "/request-password-reset", { json: { email } });
      const m = sent.find((x) => x.kind === "reset" && x.user.email === email);
      assert.deepEqual((await raw(srv, "POST", "/reset-password", { json: { token: m.token, newPassword: "from-better-auth-1" } })).json, { status: true });
      assert.equal((await ba.request("POST", "/sign-in/email", { json: { email, password: "from-better-auth-1" } })).status, 200);
      await raw(srv, "POST", "/request-password-reset", { json: { email } });
      const gm = await smtp.waitFor((x) => x.envelope.to.includes(email));
      const token = new URL(gm.link).pathname.split("/").pop();
      const r = await ba.request("POST", "/reset-password", { json: { token, newPassword: "from-gatehouse-2" } });
      assert.equal(r.status, 200, r.text);
      assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email, password: "from-gatehouse-2" } })).status, 200);
    });
  },
  { only: "postgres" },
);
