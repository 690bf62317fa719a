// Forward auth (src/plugins/forward_auth.c): GET /api/auth/forward-auth directly, and a REAL nginx
// (Debian's, auth_request) in front of a plain backend (a node http server that echoes the headers
// it receives). Users are signed up with the official better-auth client. Proves: signed-in requests
// reach the backend with X-Auth-User-Id / X-Auth-Email (and a JWT in X-Auth-Token when configured),
// others are refused before the backend, X-Auth-* sent by the client never reach it, sign-out
// refuses at once, and gatehouse down is a 503 from nginx, never a pass-through. The same with a
// REAL Caddy (Debian's, forward_auth, the Caddyfile of docs/integrations.md), including the 302 to
// the sign-in page passed through to a browser. Directly: 401 /
// 302 to the sign-in page for browser navigations, X-Forwarded-* honoured, per-path role rules
// (refusals; normalised paths), GATEHOUSE_FORWARD_AUTH=false → 404.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { makeClient } from "./lib/client.mjs";
import { GATEHOUSE_ONLY } from "./lib/config.mjs";
import { SESSION_COOKIE } from "./lib/cookies.mjs";
import { PASSWORD, forEachBackend, newEmail } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { caddyAvailable, startCaddy } from "./lib/caddy.mjs";
import { nginxAvailable, startNginx } from "./lib/nginx.mjs";
import { startServer } from "./lib/server.mjs";
import { freePort } from "./lib/util.mjs";

const NO_NGINX = nginxAvailable() ? false : "nginx with auth_request not installed (scripts/deps.sh --test)";
const NO_CADDY = caddyAvailable() ? false : "caddy not installed (scripts/deps.sh --test)";

/** Sign up through the official client: { id, email, cookie, signedToken, client, jar }. */
async function newUser(srv, name) {
  const { client, jar, seen } = makeClient(srv);
  const email = newEmail(name.toLowerCase());
  const { data, error } = await client.signUp.email({ name, email, password: PASSWORD });
  assert.equal(error, null, JSON.stringify(error));
  return { id: data.user.id, email, client, jar, cookie: jar.header(), signedToken: seen.at(-1).headers.get("set-auth-token") };
}

/** The plain backend: records every request's headers, answers them as JSON. */
async function startBackend() {
  const port = await freePort();
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

/** GET through nginx (node:http, exact headers, no redirects). */
function viaProxy(ngx, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: ngx.port, method: "GET", path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const fa = (srv, opts = {}) => raw(srv, "GET", "/forward-auth", { origin: null, ...opts });

forEachBackend("forward-auth", (backend) => {
  describe("forward-auth, direct", { skip: GATEHOUSE_ONLY }, () => {
    let srv, alice;
    before(async () => {
      srv = await startServer({
        backend,
        hint: "fa",
        env: { GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL: "https://login.example.com/sign-in", GATEHOUSE_FORWARD_AUTH_RULES: "/admin/=admin; /ops=admin,ops" },
      });
      alice = await newUser(srv, "Alice");
    });
    after(() => srv?.stop());

    it("session cookie or bearer session token → 200 with X-Auth-User-Id / X-Auth-Email, no body, no-store, no cookies", async () => {
      for (const cred of [{ cookie: alice.cookie }, { bearer: alice.signedToken }]) {
        const res = await fa(srv, cred);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers["x-auth-user-id"], alice.id);
        assert.equal(res.headers["x-auth-email"], alice.email);
        // the user has no role field (the admin plugin adds it): no X-Auth-Role then
        assert.equal(res.headers["x-auth-role"], undefined);
        assert.equal(res.headers["x-auth-token"], undefined, "no JWT unless GATEHOUSE_FORWARD_AUTH_JWT");
        assert.equal(res.headers["cache-control"], "no-store");
        assert.equal(res.headers["set-cookie"], undefined);
        assert.equal(res.text, "");
      }
    });

    it("no / garbled credentials → 401 UNAUTHORIZED; identity headers sent by the client are ignored", async () => {
      const forged = { "x-auth-user-id": alice.id, "x-auth-email": alice.email, "x-auth-role": "admin", "x-forwarded-user": alice.id };
      for (const opts of [{}, { headers: forged }, { cookie: `${SESSION_COOKIE}=garbage`, headers: forged }, { bearer: "not-a-session", headers: forged }]) {
        const res = await fa(srv, opts);
        assert.equal(res.status, 401, JSON.stringify(opts));
        assert.deepEqual(res.json, { message: "Unauthorized", code: "UNAUTHORIZED" });
        assert.equal(res.headers["x-auth-user-id"], undefined);
      }
    });

    it("browser navigation without a session → 302 to the sign-in URL with the original URL (X-Forwarded-*) as callbackURL; API calls and POSTs → 401", async () => {
      const fwd = { "x-forwarded-proto": "https", "x-forwarded-host": "app.example.com", "x-forwarded-uri": "/reports/q3?x=1&y=2" };
      for (const nav of [{ accept: "text/html,application/xhtml+xml", ...fwd }, { "sec-fetch-mode": "navigate", accept: "*/*", ...fwd }]) {
        const res = await fa(srv, { headers: nav });
        assert.equal(res.status, 302, res.text);
        const loc = new URL(res.headers.location);
        assert.equal(`${loc.origin}${loc.pathname}`, "https://login.example.com/sign-in");
        assert.equal(loc.searchParams.get("callbackURL"), "https://app.example.com/reports/q3?x=1&y=2");
      }
      for (const h of [
        { accept: "application/json", ...fwd },
        { accept: "text/html", "sec-fetch-mode": "cors", ...fwd },
        { accept: "text/html", "x-forwarded-method": "POST", ...fwd },
      ]) {
        assert.equal((await fa(srv, { headers: h })).status, 401, JSON.stringify(h));
      }
      // a Host that cannot be part of a URL: redirect without a callback
      const odd = await fa(srv, { headers: { accept: "text/html", "x-forwarded-host": "evil.example/@x", "x-forwarded-uri": "/a" } });
      assert.equal(odd.status, 302);
      assert.equal(odd.headers.location, "https://login.example.com/sign-in");
    });

    it("per-path role rules: a user without the role gets 403 on the prefix, however the path is spelled; other paths → 200", async () => {
      const refused = ["/admin/", "/admin", "/admin/users?x=1", "/ADMIN/../admin/x", "/public/../admin/x", "//admin/x", "/%61dmin/x", "/./admin/x", "/ops", "/ops/deploy"];
      for (const uri of refused) {
        const res = await fa(srv, { cookie: alice.cookie, headers: { "x-forwarded-uri": uri } });
        assert.equal(res.status, 403, `${uri}: ${res.status}`);
        assert.deepEqual(res.json, { message: "Your role is not allowed to access this resource", code: "ROLE_NOT_ALLOWED" });
        assert.equal(res.headers["x-auth-user-id"], undefined);
      }
      for (const uri of ["/", "/administrator", "/public/admin/x", "/reports"]) {
        const res = await fa(srv, { cookie: alice.cookie, headers: { "x-forwarded-uri": uri } });
        assert.equal(res.status, 200, `${uri}: ${res.status}`);
      }
      // an undecodable path with rules configured: refused (fail closed)
      assert.equal((await fa(srv, { cookie: alice.cookie, headers: { "x-forwarded-uri": "/x%zz" } })).status, 403);
      assert.equal((await fa(srv, { cookie: alice.cookie, headers: { "x-forwarded-uri": "/x%00/admin" } })).status, 403);
      // NOTE: a user WITH the role (X-Auth-Role, rule satisfied) needs the admin plugin's role field
      // (built on another branch); covered once it lands.
    });

    it("invalid rules or sign-in URL: the server refuses to start, naming the variable", async () => {
      for (const [k, v] of [
        ["GATEHOUSE_FORWARD_AUTH_RULES", "admin=admin"],
        ["GATEHOUSE_FORWARD_AUTH_RULES", "/admin/="],
        ["GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL", "javascript:alert(1)"],
      ]) {
        await assert.rejects(startServer({ backend, hint: "fa-bad", env: { [k]: v }, readyTimeoutMs: 10000 }), new RegExp(k), `${k}=${v}`);
      }
    });

    it("GATEHOUSE_FORWARD_AUTH=false → 404", async () => {
      const off = await startServer({ backend, hint: "fa-off", env: { GATEHOUSE_FORWARD_AUTH: "false" } });
      try {
        const u = await newUser(off, "Off");
        const res = await fa(off, { cookie: u.cookie });
        assert.equal(res.status, 404);
        assert.equal(res.headers["x-auth-user-id"], undefined);
      } finally {
        await off.stop();
      }
    });
  });

  describe("forward-auth behind a real nginx (auth_request)", { skip: GATEHOUSE_ONLY || NO_NGINX }, () => {
    let srv, app, ngx, alice, bob;
    before(async () => {
      srv = await startServer({ backend, hint: "fa-nginx", env: { GATEHOUSE_FORWARD_AUTH_JWT: "true" } });
      app = await startBackend();
      ngx = await startNginx({ gatehouseUrl: srv.url, backendUrl: app.url });
      alice = await newUser(srv, "Alice");
      bob = await newUser(srv, "Bob");
    });
    after(async () => {
      await ngx?.stop();
      await app?.close();
      await srv?.stop({ expectCode: null });
    });

    it("a signed-in request reaches the backend with the identity headers and a JWT that verifies against the JWKS", async () => {
      const jwks = createLocalJWKSet((await raw(srv, "GET", "/jwks")).json);
      for (const [u, cred] of [
        [alice, { cookie: alice.cookie }],
        [bob, { authorization: `Bearer ${bob.signedToken}` }],
      ]) {
        const before = app.seen.length;
        const res = await viaProxy(ngx, "/app/page?q=1", cred);
        assert.equal(res.status, 200, res.text);
        assert.equal(app.seen.length, before + 1);
        const h = res.json.headers;
        assert.equal(res.json.url, "/app/page?q=1");
        assert.equal(h["x-auth-user-id"], u.id);
        assert.equal(h["x-auth-email"], u.email);
        assert.equal(h["x-auth-role"], undefined);
        const { payload } = await jwtVerify(h["x-auth-token"], jwks, { issuer: srv.url, audience: srv.url });
        assert.equal(payload.sub, u.id);
        assert.equal(payload.email, u.email);
      }
    });

    it("without a valid session: 401 from nginx, the backend never sees the request", async () => {
      const before = app.seen.length;
      for (const h of [{}, { cookie: `${SESSION_COOKIE}=garbage` }, { authorization: "Bearer nope" }, { cookie: "theme=dark" }]) {
        const res = await viaProxy(ngx, "/app/secret", h);
        assert.equal(res.status, 401, JSON.stringify(h));
      }
      assert.equal(app.seen.length, before, "nothing reached the backend");
    });

    it("X-Auth-* headers injected by the client are stripped: refused without a session; replaced by gatehouse's with one", async () => {
      const forged = { "x-auth-user-id": alice.id, "x-auth-email": alice.email, "x-auth-role": "admin", "x-auth-token": "forged.jwt.value" };
      const before = app.seen.length;
      assert.equal((await viaProxy(ngx, "/app/secret", forged)).status, 401);
      assert.equal(app.seen.length, before);
      const res = await viaProxy(ngx, "/app/secret", { ...forged, cookie: bob.cookie });
      assert.equal(res.status, 200);
      const h = res.json.headers;
      assert.equal(h["x-auth-user-id"], bob.id, "Bob's identity, not the injected one");
      assert.equal(h["x-auth-email"], bob.email);
      assert.equal(h["x-auth-role"], undefined, "the injected role is gone");
      assert.notEqual(h["x-auth-token"], "forged.jwt.value");
      assert.ok(!JSON.stringify(h).includes("admin"), JSON.stringify(h));
    });

    it("sign-out: the next request through nginx is refused at once", async () => {
      const carol = await newUser(srv, "Carol");
      assert.equal((await viaProxy(ngx, "/app/x", { cookie: carol.cookie })).status, 200);
      const { error } = await carol.client.signOut();
      assert.equal(error, null);
      assert.equal((await viaProxy(ngx, "/app/x", { cookie: carol.cookie })).status, 401);
    });

    it("gatehouse down → 503 + Retry-After from nginx, never a pass-through", async () => {
      await srv.stop();
      const before = app.seen.length;
      for (const h of [{ cookie: alice.cookie }, {}, { "x-auth-user-id": alice.id }]) {
        const res = await viaProxy(ngx, "/app/x", h);
        assert.equal(res.status, 503, res.text);
        assert.equal(res.headers["retry-after"], "5");
      }
      assert.equal(app.seen.length, before, "nothing reached the backend");
    });
  });
  describe("forward-auth behind a real Caddy (forward_auth)", { skip: GATEHOUSE_ONLY || NO_CADDY }, () => {
    let srv, app, cdy, alice;
    before(async () => {
      srv = await startServer({
        backend,
        hint: "fa-caddy",
        env: { GATEHOUSE_FORWARD_AUTH_JWT: "true", GATEHOUSE_FORWARD_AUTH_SIGN_IN_URL: "https://login.example.com/sign-in" },
      });
      app = await startBackend();
      cdy = await startCaddy({ gatehouseUrl: srv.url, backendUrl: app.url });
      alice = await newUser(srv, "Alice");
    });
    after(async () => {
      await cdy?.stop();
      await app?.close();
      await srv?.stop({ expectCode: null });
    });

    it("signed in: the backend gets gatehouse's identity headers and JWT, never the client's", async () => {
      const forged = { "x-auth-user-id": "someone-else", "x-auth-email": "x@evil.example", "x-auth-role": "admin", "x-auth-token": "forged" };
      const res = await viaProxy(cdy, "/app/page?q=1", { ...forged, cookie: alice.cookie });
      assert.equal(res.status, 200, res.text);
      const h = res.json.headers;
      assert.equal(h["x-auth-user-id"], alice.id);
      assert.equal(h["x-auth-email"], alice.email);
      assert.equal(h["x-auth-role"], undefined, "the injected role is gone (gatehouse has none)");
      assert.notEqual(h["x-auth-token"], "forged");
      assert.equal(h["x-auth-token"].split(".").length, 3);
    });

    it("without a session: 401 (API) or the 302 to the sign-in page (browser), the backend never sees it", async () => {
      const before = app.seen.length;
      const api = await viaProxy(cdy, "/app/page", { accept: "application/json", "x-auth-user-id": alice.id });
      assert.equal(api.status, 401);
      const nav = await viaProxy(cdy, "/app/page?q=1", { accept: "text/html", "sec-fetch-mode": "navigate" });
      assert.equal(nav.status, 302);
      const loc = new URL(nav.headers.location);
      assert.equal(`${loc.origin}${loc.pathname}`, "https://login.example.com/sign-in");
      assert.equal(loc.searchParams.get("callbackURL"), `http://127.0.0.1:${cdy.port}/app/page?q=1`);
      assert.equal(app.seen.length, before);
    });

    it("gatehouse down: an error from Caddy, never the backend", async () => {
      await srv.stop();
      const before = app.seen.length;
      const res = await viaProxy(cdy, "/app/x", { cookie: alice.cookie, "x-auth-user-id": alice.id });
      assert.ok(res.status >= 500, `status ${res.status}`);
      assert.equal(app.seen.length, before);
    });
  });
});

describe("forward auth is not rate-limited (it answers for every request the proxy lets through)", { skip: GATEHOUSE_ONLY }, () => {
  let srv, limited;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "fa-rl", env: { GATEHOUSE_ENV: "production" } });
    limited = await startServer({ backend: "sqlite", hint: "fa-rl2", env: { GATEHOUSE_ENV: "production", GATEHOUSE_RATE_LIMIT_RULES: "/forward-auth=10/5" } });
  });
  after(async () => {
    await srv?.stop();
    await limited?.stop();
  });

  it("150 checks from one client in production: none is refused with 429 (get-session is, after 100)", async () => {
    const u = await newUser(srv, "Rl");
    for (let i = 0; i < 150; i++) {
      const res = await raw(srv, "GET", "/forward-auth", { headers: { cookie: u.cookie }, origin: null });
      assert.equal(res.status, 200, `check ${i + 1}: ${res.status}`);
    }
    let refused = 0;
    for (let i = 0; i < 101; i++) if ((await raw(srv, "GET", "/get-session", { headers: { cookie: u.cookie }, origin: null })).status === 429) refused++;
    assert.ok(refused > 0, "the rate limiter is on for the other routes");
  });

  it("a rule of the deployer's own still limits it", async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await raw(limited, "GET", "/forward-auth", { origin: null })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
  });
});
