// CORS for trusted origins (GATEHOUSE_CORS, on by default): a frontend on another trusted origin
// gets its preflight answered and may read responses with credentials; untrusted origins get no
// CORS headers; an OPTIONS request that is not a preflight stays a bare 404 as in better-auth.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY } from "./lib/config.mjs";
import { assertBare404, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { startServer } from "./lib/server.mjs";

const FRONTEND = "http://localhost:5173";
const EVIL = "http://evil.example";

function preflight(srv, origin, path = "/sign-in/email", extra = {}) {
  return raw(srv, "OPTIONS", path, {
    origin,
    headers: { "access-control-request-method": "POST", "access-control-request-headers": "content-type", ...extra },
  });
}

function assertNoCors(res, what) {
  for (const h of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods"]) {
    assert.equal(res.headers[h], undefined, `${what}: ${h}`);
  }
}

describe("CORS (GATEHOUSE_CORS)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "cors", env: { GATEHOUSE_TRUSTED_ORIGINS: FRONTEND } });
  });
  after(async () => {
    await srv?.stop();
  });

  it("a trusted origin's preflight → 204 with the origin, credentials, methods, the requested headers, Vary: Origin", async () => {
    const res = await preflight(srv, FRONTEND);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers["access-control-allow-origin"], FRONTEND);
    assert.equal(res.headers["access-control-allow-credentials"], "true");
    assert.match(String(res.headers["access-control-allow-methods"]), /\bPOST\b/);
    assert.equal(res.headers["access-control-allow-headers"], "content-type");
    assert.match(String(res.headers.vary), /Origin/);
    assert.ok(Number(res.headers["access-control-max-age"]) > 0);
  });

  it("an untrusted origin's preflight, or an OPTIONS that is no preflight → bare 404 without CORS headers", async () => {
    let res = await preflight(srv, EVIL);
    assertBare404(res);
    assertNoCors(res, "untrusted preflight");
    res = await raw(srv, "OPTIONS", "/sign-in/email", { origin: FRONTEND });
    assertBare404(res);
    assertNoCors(res, "OPTIONS without Access-Control-Request-Method");
  });

  it("responses to a trusted origin carry Allow-Origin + Allow-Credentials (and set-auth-token stays exposed); others none", async () => {
    const a = await signUp(srv, { headers: { origin: FRONTEND } });
    assert.equal(a.res.headers["access-control-allow-origin"], FRONTEND);
    assert.equal(a.res.headers["access-control-allow-credentials"], "true");
    assert.match(String(a.res.headers["access-control-expose-headers"]), /set-auth-token/);
    assert.match(String(a.res.headers.vary), /Origin/);
    const own = await raw(srv, "GET", "/get-session", { jar: a.jar, origin: FRONTEND });
    assert.equal(own.headers["access-control-allow-origin"], FRONTEND);
    const evil = await raw(srv, "GET", "/get-session", { jar: a.jar, origin: EVIL });
    assertNoCors(evil, "untrusted origin");
    const none = await raw(srv, "GET", "/get-session", { jar: a.jar, origin: null });
    assertNoCors(none, "no Origin");
  });
});

describe("CORS off (GATEHOUSE_CORS=false)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "cors-off", env: { GATEHOUSE_TRUSTED_ORIGINS: FRONTEND, GATEHOUSE_CORS: "false" } });
  });
  after(async () => {
    await srv?.stop();
  });

  it("no preflight answer and no CORS headers, even for a trusted origin (better-auth alone)", async () => {
    const res = await preflight(srv, FRONTEND);
    assertBare404(res);
    assertNoCors(res, "preflight");
    const a = await signUp(srv, { headers: { origin: FRONTEND } });
    assertNoCors(a.res, "sign-up");
  });
});
