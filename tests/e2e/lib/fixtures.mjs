// Shared test vocabulary: per-backend describe blocks, sign-up/sign-in helpers and the exact
// assertions the suites repeat (error bodies, id/date formats, cookie attributes, object shapes).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe } from "node:test";
import { backends, backendSkipReason } from "./config.mjs";
import { CookieJar, DATA_COOKIE, DONT_REMEMBER_COOKIE, SESSION_COOKIE, verifyCookieValue } from "./cookies.mjs";
import { toBool, toDate } from "./db.mjs";
import { raw } from "./http.mjs";
import { uniq } from "./util.mjs";

export const PASSWORD = "correct-horse-battery";
export const ID32 = /^[A-Za-z0-9]{32}$/;
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const DAY = 86400 * 1000;
export const WEEK = 7 * DAY;
/** Tolerance for "≈ now + X" checks on stored expiry dates (correctness, not speed). */
export const SLACK = 2 * 60 * 1000;

/** describe(`${title} [backend]`) once per backend of GH_E2E_BACKENDS (skipped where impossible). */
export function forEachBackend(title, fn, { only } = {}) {
  for (const backend of backends()) {
    if (only && backend !== only) continue;
    const skip = backendSkipReason(backend);
    describe(`${title} [${backend}]`, { skip: skip || false }, () => fn(backend));
  }
}

/** A unique, lower-case e-mail address. */
export function newEmail(tag = "user") {
  return `${tag}-${uniq()}@example.com`.toLowerCase();
}

/** Sign up over raw HTTP; asserts 200 and returns { res, token, user, jar, email, password }. */
export async function signUp(srv, { name = "Test User", email = newEmail(), password = PASSWORD, headers, jar = new CookieJar() } = {}) {
  const res = await raw(srv, "POST", "/sign-up/email", { json: { name, email, password }, jar, headers });
  assert.equal(res.status, 200, `sign-up ${email}: ${res.status} ${res.text}`);
  return { res, token: res.json.token, user: res.json.user, jar, email: email.toLowerCase(), password, name };
}

/** Sign in over raw HTTP; asserts 200 and returns { res, token, user, jar }. */
export async function signIn(srv, { email, password = PASSWORD, rememberMe, headers, jar = new CookieJar() } = {}) {
  const body = { email, password };
  if (rememberMe !== undefined) body.rememberMe = rememberMe;
  const res = await raw(srv, "POST", "/sign-in/email", { json: body, jar, headers });
  assert.equal(res.status, 200, `sign-in ${email}: ${res.status} ${res.text}`);
  return { res, token: res.json.token, user: res.json.user, jar };
}

/** Exact error: status, JSON {message, code} (code omitted when null), content-type JSON. */
export function assertError(res, status, code, message) {
  assert.equal(res.status, status, `status (body: ${res.text})`);
  assert.match(String(res.headers["content-type"]), /^application\/json/, "error content-type");
  const expected = code === null ? { message } : { message, code };
  assert.deepEqual(res.json, expected, `error body ${res.text}`);
}

/** 404 with an empty body and no content-type (better-call router miss). */
export function assertBare404(res) {
  assert.equal(res.status, 404, `status (body: ${JSON.stringify(res.text)})`);
  assert.equal(res.text, "", "404 body must be empty");
  assert.equal(res.headers["content-type"], undefined, "404 must have no content-type");
}

/** The exact Set-Cookie line of a fresh session cookie (rememberMe default). */
export function assertSessionSetCookie(res, token, secret, { maxAge = 604800 } = {}) {
  const c = res.cookie(SESSION_COOKIE);
  assert.ok(c, `no ${SESSION_COOKIE} Set-Cookie in ${JSON.stringify(res.setCookie)}`);
  const attrs = maxAge === null ? "Path=/; HttpOnly; SameSite=Lax" : `Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax`;
  assert.equal(c.raw, `${SESSION_COOKIE}=${c.value}; ${attrs}`, "session cookie attributes");
  assert.equal(verifyCookieValue(c.value, secret), token, "cookie value = token.HMAC-SHA256(secret)");
  assert.equal(c.value, encodeURIComponent(decodeURIComponent(c.value)), "cookie value is percent-encoded");
  return c;
}

/** The three clearing cookies sent on sign-out / dead session, in better-auth's order. */
export function assertClearsCookies(res) {
  const lines = res.setCookie;
  for (const name of [SESSION_COOKIE, DATA_COOKIE, DONT_REMEMBER_COOKIE]) {
    assert.ok(lines.includes(`${name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`), `clearing ${name} missing in ${JSON.stringify(lines)}`);
  }
  // No live session cookie next to the clearing one.
  const live = res.cookies.filter((c) => c.name === SESSION_COOKIE && c.value !== "");
  assert.equal(live.length, 0, "a live session cookie was set next to the clearing ones");
}

export function assertNoSetCookie(res) {
  assert.deepEqual(res.setCookie, [], "expected no Set-Cookie");
}

// Extra keys better-auth plugins add (admin, two-factor); allowed, core keys required.
const USER_CORE = ["name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id"];
const USER_PLUGIN = ["role", "banned", "banReason", "banExpires", "twoFactorEnabled"];
const SESSION_CORE = ["expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId", "id"];
const SESSION_PLUGIN = ["impersonatedBy"];

function assertKeys(obj, core, plugin, what) {
  assert.equal(typeof obj, "object", `${what} is an object`);
  assert.ok(obj !== null, `${what} is not null`);
  const keys = Object.keys(obj);
  for (const k of core) assert.ok(keys.includes(k), `${what} lacks key ${k}: ${JSON.stringify(obj)}`);
  for (const k of keys) assert.ok(core.includes(k) || plugin.includes(k), `${what} has unexpected key ${k}`);
}

/** A user object as JSON text gives it (dates as ISO strings). */
export function assertUserJson(u, { email, name, image = null } = {}) {
  assertKeys(u, USER_CORE, USER_PLUGIN, "user");
  assert.match(u.id, ID32, "user.id");
  assert.match(u.createdAt, ISO_MS, "user.createdAt");
  assert.match(u.updatedAt, ISO_MS, "user.updatedAt");
  assert.equal(u.emailVerified, false, "user.emailVerified");
  if (email !== undefined) assert.equal(u.email, email);
  if (name !== undefined) assert.equal(u.name, name);
  assert.equal(u.image, image, "user.image");
}

export function assertSessionJson(s, { token, userId } = {}) {
  assertKeys(s, SESSION_CORE, SESSION_PLUGIN, "session");
  assert.match(s.id, ID32, "session.id");
  assert.match(s.token, ID32, "session.token");
  for (const k of ["expiresAt", "createdAt", "updatedAt"]) assert.match(s[k], ISO_MS, `session.${k}`);
  if (token !== undefined) assert.equal(s.token, token);
  if (userId !== undefined) assert.equal(s.userId, userId);
}

/** |date - expectedMs| <= slack */
export function assertNear(value, expectedMs, what, slack = SLACK) {
  const d = toDate(value);
  assert.ok(d instanceof Date && !Number.isNaN(d.getTime()), `${what}: not a date: ${value}`);
  assert.ok(Math.abs(d.getTime() - expectedMs) <= slack, `${what}: ${d.toISOString()} not within ${slack} ms of ${new Date(expectedMs).toISOString()}`);
}

/** A stored date column: ISO-8601 text with ms on SQLite, timestamptz (Date) on PostgreSQL. */
export function assertStoredDate(db, value, what) {
  if (db.kind === "sqlite") {
    assert.equal(typeof value, "string", `${what} stored as text on SQLite`);
    assert.match(value, ISO_MS, `${what} stored as ISO-8601 with ms on SQLite`);
  } else {
    assert.ok(value instanceof Date, `${what} is timestamptz on PostgreSQL`);
  }
}

/** A stored boolean: 0/1 on SQLite, boolean on PostgreSQL. */
export function assertStoredBool(db, value, expected, what) {
  if (db.kind === "sqlite") assert.equal(value, expected ? 1 : 0, `${what} stored as 0/1 on SQLite`);
  else assert.equal(value, expected, `${what} stored as boolean on PostgreSQL`);
  assert.equal(toBool(value), expected);
}

/** better-auth's scrypt: salt = the 32-char hex string's bytes, N=16384 r=16 p=1 dkLen=64, NFKC. */
export function scryptMatches(stored, password) {
  const m = /^([0-9a-f]{32}):([0-9a-f]{128})$/.exec(stored || "");
  if (!m) return false;
  const key = crypto.scryptSync(password.normalize("NFKC"), m[1], 64, { N: 16384, r: 16, p: 1, maxmem: 128 * 16384 * 16 * 2 });
  return key.toString("hex") === m[2];
}

/** Row counts of the core tables must equal `before` (nothing half-written). */
export async function assertNothingWritten(srv, before, what = "") {
  const after = await srv.db.snapshot();
  assert.deepEqual(after, before, `rows changed ${what}`);
}

/** The server still answers GET /ok with {"ok":true}. */
export async function assertAlive(srv) {
  const r = await raw(srv, "GET", "/ok");
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"ok":true}');
}

/** Move a session's dates (simulating the passage of time) directly in the database. */
export async function setSessionDates(srv, token, { expiresAt, createdAt, updatedAt } = {}) {
  const { sql } = await import("./db.mjs");
  if (expiresAt) await srv.db.all(sql`UPDATE "session" SET "expiresAt" = ${expiresAt} WHERE token = ${token}`);
  if (createdAt) await srv.db.all(sql`UPDATE "session" SET "createdAt" = ${createdAt} WHERE token = ${token}`);
  if (updatedAt) await srv.db.all(sql`UPDATE "session" SET "updatedAt" = ${updatedAt} WHERE token = ${token}`);
}
