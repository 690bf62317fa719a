// jwt plugin (spec §7.1) and secret rotation: GET /jwks and /.well-known/jwks.json, GET /token,
// get-session's set-auth-jwt header; tokens verified with node's `jose` against gatehouse's JWKS
// for every algorithm; keys stored as better-auth stores them (JSON-quoted XChaCha ciphertext);
// `gatehouse keys rotate` with the grace period; GATEHOUSE_SECRETS rotation without logging anyone
// out; and (PostgreSQL) two-way key compatibility with the real better-auth jwt plugin.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { symmetricDecrypt } from "better-auth/crypto";
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { GATEHOUSE_ONLY, SECRET, backends } from "./lib/config.mjs";
import { SESSION_COOKIE, signedValue, verifyCookieValue } from "./lib/cookies.mjs";
import { ISO_MS, assertError, forEachBackend, signUp } from "./lib/fixtures.mjs";
import { openDb, sql, withHelpers } from "./lib/db.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";
import { startTasks } from "./lib/tasks.mjs";

const ALGS = [
  ["EdDSA", { kty: "OKP", crv: "Ed25519" }],
  ["ES256", { kty: "EC", crv: "P-256" }],
  ["ES512", { kty: "EC", crv: "P-521" }],
  ["RS256", { kty: "RSA" }],
  ["PS256", { kty: "RSA" }],
];

async function getJwks(srv) {
  const res = await raw(srv, "GET", "/jwks");
  assert.equal(res.status, 200, res.text);
  return res;
}

async function token(srv, jar) {
  const res = await raw(srv, "GET", "/token", { jar });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), ["token"]);
  return res.json.token;
}

function verifyWith(jwks, tok, srv, opts = {}) {
  return jwtVerify(tok, createLocalJWKSet(jwks), { issuer: srv.baseURL, audience: srv.baseURL, ...opts });
}

async function jwksRows(srv) {
  return srv.db.all(sql`select "id", "publicKey", "privateKey", "alg", "crv", "expiresAt" from "jwks" order by "createdAt"`);
}

forEachBackend("jwt", (backend) => {
  describe("default key (EdDSA)", { skip: GATEHOUSE_ONLY }, () => {
    let srv;
    before(async () => {
      srv = await startServer({ backend, hint: "jwt" });
    });
    after(async () => {
      await srv?.stop();
    });

    it("GET /jwks creates one Ed25519 key; the document is better-auth's shape and matches the stored row", async () => {
      const res = await getJwks(srv);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.match(String(res.headers["cache-control"]), /max-age=\d+/);
      assert.equal(res.json.keys.length, 1);
      const k = res.json.keys[0];
      assert.deepEqual(Object.keys(k), ["alg", "crv", "x", "kty", "kid"]);
      assert.equal(k.alg, "EdDSA");
      assert.equal(k.crv, "Ed25519");
      assert.equal(k.kty, "OKP");
      assert.equal(Buffer.from(k.x, "base64url").length, 32);
      assert.ok(!("d" in k), "no private member is published");
      const rows = await jwksRows(srv);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].id, k.kid);
      assert.match(rows[0].id, /^[A-Za-z0-9]{32}$/);
      assert.deepEqual(JSON.parse(rows[0].publicKey), { crv: "Ed25519", x: k.x, kty: "OKP" });
      assert.equal(rows[0].alg, "EdDSA");
      assert.equal(rows[0].crv, "Ed25519");
      assert.equal(rows[0].expiresAt, null);
      // A second call serves the same key (no new row).
      const again = await getJwks(srv);
      assert.equal(again.text, res.text);
      assert.equal((await jwksRows(srv)).length, 1);
    });

    it("the private key is stored JSON-quoted and XChaCha20-encrypted under the secret (better-auth's own decrypt reads it)", async () => {
      const [row] = await jwksRows(srv);
      assert.match(row.privateKey, /^"[0-9a-f]+"$/, "column holds a JSON string of lower-case hex");
      assert.ok(!row.privateKey.includes('"d"'), "not plaintext");
      const jwk = JSON.parse(await symmetricDecrypt({ key: SECRET, data: JSON.parse(row.privateKey) }));
      assert.deepEqual(Object.keys(jwk), ["crv", "d", "x", "kty"]);
      assert.equal(jwk.x, JSON.parse(row.publicKey).x);
      // The private half really belongs to the published public key: sign with it, verify with the JWKS.
      const { SignJWT } = await import("jose");
      const priv = await importJWK(jwk, "EdDSA");
      const t = await new SignJWT({ probe: 1 }).setProtectedHeader({ alg: "EdDSA", kid: row.id }).sign(priv);
      const jwks = (await getJwks(srv)).json;
      const { payload } = await jwtVerify(t, createLocalJWKSet(jwks));
      assert.equal(payload.probe, 1);
    });

    it("/.well-known/jwks.json serves the same document", async () => {
      const a = await getJwks(srv);
      const b = await raw(srv, "GET", "=/.well-known/jwks.json");
      assert.equal(b.status, 200);
      assert.equal(b.text, a.text);
      assert.match(String(b.headers["cache-control"]), /max-age=/);
    });

    it("GET /token → a JWT that verifies with jose against the JWKS: header {alg,kid}, better-auth's claims in order, exp = iat + 900", async () => {
      const { jar, user } = await signUp(srv, { name: "Jwt Person" });
      const t = await token(srv, jar);
      const jwks = (await getJwks(srv)).json;
      assert.deepEqual(decodeProtectedHeader(t), { alg: "EdDSA", kid: jwks.keys[0].kid });
      const { payload } = await verifyWith(jwks, t, srv);
      assert.deepEqual(Object.keys(payload), ["iat", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id", "sub", "exp", "iss", "aud"]);
      assert.equal(payload.sub, user.id);
      assert.equal(payload.id, user.id);
      assert.equal(payload.email, user.email);
      assert.equal(payload.name, "Jwt Person");
      assert.equal(payload.emailVerified, false);
      assert.equal(payload.image, null);
      assert.match(payload.createdAt, ISO_MS);
      assert.equal(payload.exp - payload.iat, 900);
      assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120);
      assert.equal(payload.iss, srv.baseURL);
      assert.equal(payload.aud, srv.baseURL);
    });

    it("GET /token without a session → 401 UNAUTHORIZED; with a forged cookie → 401", async () => {
      assertError(await raw(srv, "GET", "/token"), 401, "UNAUTHORIZED", "Unauthorized");
      const forged = `${SESSION_COOKIE}=${encodeURIComponent(signedValue("A".repeat(32), "not-the-secret-0123456789abcdef0123"))}`;
      assertError(await raw(srv, "GET", "/token", { cookie: forged }), 401, "UNAUTHORIZED", "Unauthorized");
    });

    it("GET /token with a bearer session token works too (bearer plugin)", async () => {
      const { token: sessionToken } = await signUp(srv);
      const res = await raw(srv, "GET", "/token", { bearer: sessionToken });
      assert.equal(res.status, 200, res.text);
      await verifyWith((await getJwks(srv)).json, res.json.token, srv);
    });

    it("get-session adds set-auth-jwt (verifiable) + Access-Control-Expose-Headers when signed in, and not when signed out", async () => {
      const { jar, user } = await signUp(srv);
      const res = await raw(srv, "GET", "/get-session", { jar });
      assert.equal(res.status, 200);
      const t = res.headers["set-auth-jwt"];
      assert.ok(t, "set-auth-jwt header");
      assert.match(String(res.headers["access-control-expose-headers"]), /set-auth-jwt/);
      const { payload } = await verifyWith((await getJwks(srv)).json, t, srv);
      assert.equal(payload.sub, user.id);
      const out = await raw(srv, "GET", "/get-session");
      assert.equal(out.text, "null");
      assert.equal(out.headers["set-auth-jwt"], undefined);
    });

    it("set-auth-jwt is reused for the same session and user state (no re-signing on every call) and re-signed when the user changes", async () => {
      const { jar } = await signUp(srv, { name: "Before Rename" });
      const first = (await raw(srv, "GET", "/get-session", { jar })).headers["set-auth-jwt"];
      const again = (await raw(srv, "GET", "/get-session", { jar })).headers["set-auth-jwt"];
      assert.equal(again, first, "same token within the reuse window");
      const upd = await raw(srv, "POST", "/update-user", { jar, json: { name: "After Rename" } });
      assert.equal(upd.status, 200, upd.text);
      await new Promise((r) => setTimeout(r, 5)); // updatedAt moves on
      const renamed = (await raw(srv, "GET", "/get-session", { jar })).headers["set-auth-jwt"];
      assert.notEqual(renamed, first);
      const { payload } = await verifyWith((await getJwks(srv)).json, renamed, srv);
      assert.equal(payload.name, "After Rename");
    });

    it("a token with a flipped signature byte or another user's claims does not verify", async () => {
      const { jar } = await signUp(srv);
      const t = await token(srv, jar);
      const jwks = (await getJwks(srv)).json;
      const [h, p, s] = t.split(".");
      const sig = Buffer.from(s, "base64url");
      sig[5] ^= 1;
      await assert.rejects(verifyWith(jwks, `${h}.${p}.${sig.toString("base64url")}`, srv));
      const claims = JSON.parse(Buffer.from(p, "base64url"));
      claims.sub = "someone-else";
      await assert.rejects(verifyWith(jwks, `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`, srv));
    });
  });

  describe("algorithms (GATEHOUSE_JWT_ALG)", { skip: GATEHOUSE_ONLY }, () => {
    for (const [alg, shape] of ALGS.slice(1)) {
      it(`${alg}: JWKS key ${JSON.stringify(shape)}, token verifies with jose`, async () => {
        const srv = await startServer({ backend, hint: `jwt-${alg}`, env: { GATEHOUSE_JWT_ALG: alg } });
        try {
          const { jar, user } = await signUp(srv);
          const t = await token(srv, jar);
          const jwks = (await getJwks(srv)).json;
          assert.equal(jwks.keys.length, 1);
          const k = jwks.keys[0];
          assert.equal(k.alg, alg);
          for (const [name, v] of Object.entries(shape)) assert.equal(k[name], v, name);
          if (shape.kty === "RSA") assert.ok(Buffer.from(k.n, "base64url").length >= 256, "RSA modulus >= 2048 bits");
          assert.equal(decodeProtectedHeader(t).alg, alg);
          const { payload } = await verifyWith(jwks, t, srv, { algorithms: [alg] });
          assert.equal(payload.sub, user.id);
          const [row] = await jwksRows(srv);
          assert.equal(row.alg, alg);
          assert.equal(row.crv, shape.crv ?? null);
          const priv = JSON.parse(await symmetricDecrypt({ key: SECRET, data: JSON.parse(row.privateKey) }));
          assert.ok(priv.d, "private JWK decrypts with better-auth's symmetricDecrypt");
        } finally {
          await srv.stop();
        }
      });
    }
  });

  describe("key rotation", { skip: GATEHOUSE_ONLY }, () => {
    it("`gatehouse keys rotate`: new key signs, the old one stays published (old tokens still verify); grace 0 drops it", async () => {
      const databaseUrl = await freshDatabaseUrl(backend, "jwt-rotate");
      let srv = await startServer({ backend, databaseUrl, hint: "jwt-rotate" });
      const { jar, email } = await signUp(srv);
      const oldToken = await token(srv, jar);
      const oldKid = decodeProtectedHeader(oldToken).kid;
      const cookie = jar.header();
      const firstServer = { baseURL: srv.baseURL }; // the iss/aud of tokens it issued
      await srv.stop();

      const env = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: SECRET, GATEHOUSE_ENV: "development" };
      const cli = await runCli(["keys", "rotate"], { env });
      assert.equal(cli.code, 0, cli.stderr);
      const newKid = cli.stdout.match(/new signing key ([A-Za-z0-9]{32})/)?.[1];
      assert.ok(newKid && newKid !== oldKid, cli.stdout);
      assert.ok(!cli.stdout.includes(SECRET) && !cli.stderr.includes(SECRET));

      srv = await startServer({ backend, databaseUrl, hint: "jwt-rotate2" });
      try {
        const jwks = (await getJwks(srv)).json;
        assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
        await verifyWith(jwks, oldToken, firstServer);
        const fresh = (await raw(srv, "GET", "/token", { cookie })).json.token;
        assert.equal(decodeProtectedHeader(fresh).kid, newKid);
        await verifyWith(jwks, fresh, srv);
        const rows = await jwksRows(srv);
        assert.ok(rows.find((r) => r.id === oldKid).expiresAt, "old key retired (expiresAt set)");
        assert.equal(rows.find((r) => r.id === newKid).expiresAt, null);
        const listed = await runCli(["keys", "list"], { env });
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(JSON.parse(listed.stdout), jwks);
        assert.ok(email);
      } finally {
        await srv.stop();
      }
      // With no grace period the retired key disappears from the JWKS.
      srv = await startServer({ backend, databaseUrl, hint: "jwt-rotate3", env: { GATEHOUSE_JWKS_GRACE_PERIOD: "0" } });
      try {
        const jwks = (await getJwks(srv)).json;
        assert.deepEqual(jwks.keys.map((k) => k.kid), [newKid]);
        await assert.rejects(verifyWith(jwks, oldToken, firstServer), /no applicable key|JWKSNoMatchingKey|matching key/i);
      } finally {
        await srv.stop();
      }
    });

    it("GATEHOUSE_JWKS_ROTATION_INTERVAL: an expired signing key is replaced on the next use and kept for the grace period", async () => {
      const databaseUrl = await freshDatabaseUrl(backend, "jwt-interval");
      let srv = await startServer({ backend, databaseUrl, hint: "jwt-interval", env: { GATEHOUSE_JWKS_ROTATION_INTERVAL: "3600" } });
      const first = (await getJwks(srv)).json.keys[0].kid;
      let [row] = await jwksRows(srv);
      assert.ok(row.expiresAt, "keys created with a rotation interval carry expiresAt");
      await srv.stop();
      // Move the key's life into the past: it expired a minute ago.
      const past = new Date(Date.now() - 60_000);
      const created = new Date(Date.now() - 3_660_000);
      await setKeyDates(databaseUrl, first, created, past);
      srv = await startServer({ backend, databaseUrl, hint: "jwt-interval2", env: { GATEHOUSE_JWKS_ROTATION_INTERVAL: "3600" } });
      try {
        const { jar } = await signUp(srv);
        const t = await token(srv, jar);
        const kid = decodeProtectedHeader(t).kid;
        assert.notEqual(kid, first, "a new key signs");
        const jwks = (await getJwks(srv)).json;
        assert.deepEqual(jwks.keys.map((k) => k.kid), [first, kid], "the expired key is still published (grace period)");
        [row] = (await jwksRows(srv)).filter((r) => r.id === kid);
        assert.ok(row.expiresAt);
      } finally {
        await srv.stop();
      }
    });
  });

  describe("secret rotation (GATEHOUSE_SECRETS)", { skip: GATEHOUSE_ONLY }, () => {
    it("cookies signed with the old secret keep working and are re-issued with the newest; keys encrypted under it still decrypt", async () => {
      const NEW = "e2e-rotated-secret-fedcba9876543210-abcdefghijklmnopqrstuvwxyz";
      const databaseUrl = await freshDatabaseUrl(backend, "jwt-secrets");
      let srv = await startServer({ backend, databaseUrl, hint: "jwt-secrets" });
      const { jar, user, token: sessionToken } = await signUp(srv);
      const t1 = await token(srv, jar);
      const kid = decodeProtectedHeader(t1).kid;
      await srv.stop();

      srv = await startServer({
        backend,
        databaseUrl,
        hint: "jwt-secrets2",
        secret: NEW,
        env: { GATEHOUSE_SECRET: SECRET, GATEHOUSE_SECRETS: `2:${NEW}` },
      });
      try {
        // The old cookie still names the session, and the answer re-signs it with the newest secret.
        const res = await raw(srv, "GET", "/get-session", { cookie: jar.header() });
        assert.equal(res.status, 200);
        assert.equal(res.json?.user?.id, user.id, res.text);
        const set = res.cookies.find((c) => c.name === SESSION_COOKIE);
        assert.ok(set, "session cookie re-issued");
        assert.equal(verifyCookieValue(set.value, NEW), sessionToken, "re-signed with the newest secret");
        // The JWT signing key created under the old (bare) secret still decrypts: same kid signs.
        const t2 = (await raw(srv, "GET", "/token", { cookie: `${SESSION_COOKIE}=${set.value}` })).json.token;
        assert.equal(decodeProtectedHeader(t2).kid, kid);
        // New keys are encrypted with the versioned envelope.
        const cli = await runCli(["keys", "rotate"], { env: { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: SECRET, GATEHOUSE_SECRETS: `2:${NEW}` } });
        assert.equal(cli.code, 0, cli.stderr);
        const rows = await jwksRows(srv);
        const newest = rows[rows.length - 1];
        assert.match(newest.privateKey, /^"\$ba\$2\$[0-9a-f]+"$/);
        // A cookie signed with a secret that is not configured is no session.
        const stranger = `${SESSION_COOKIE}=${encodeURIComponent(signedValue(sessionToken, "some-other-secret-0123456789abcdefghij"))}`;
        assert.equal((await raw(srv, "GET", "/get-session", { cookie: stranger })).text, "null");
      } finally {
        await srv.stop();
      }
    });
  });
});

async function setKeyDates(databaseUrl, id, createdAt, expiresAt) {
  const db = withHelpers(openDb(databaseUrl));
  try {
    assert.match(id, /^[A-Za-z0-9]{32}$/);
    await db.exec(`update "jwks" set "createdAt" = '${createdAt.toISOString()}', "expiresAt" = '${expiresAt.toISOString()}' where "id" = '${id}'`);
  } finally {
    await db.close();
  }
}

const pgSkip = backends().includes("postgres") ? GATEHOUSE_ONLY : "two-way jwt runs on PostgreSQL only";

describe("jwt two-way with the real better-auth jwt plugin [postgres]", { skip: pgSkip }, () => {
  it("a key created by better-auth signs in gatehouse (same JWKS, byte for byte), and gatehouse's key signs in better-auth", async () => {
    // 1. better-auth creates the schema and the first key.
    const dbUrl = await freshDatabaseUrl("postgres", "jwt-ba");
    const ba = new InProcessBetterAuth(dbUrl, { jwt: true });
    await ba.migrate();
    const baJwks = await ba.request("GET", "/jwks");
    assert.equal(baJwks.status, 200, baJwks.text);
    const srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "jwt-ba" });
    try {
      const ghJwks = await getJwks(srv);
      assert.equal(ghJwks.text, baJwks.text, "gatehouse publishes better-auth's key exactly as better-auth does");
      const { jar, user } = await signUp(srv);
      const t = await token(srv, jar);
      assert.equal(decodeProtectedHeader(t).kid, baJwks.json.keys[0].kid, "gatehouse signs with better-auth's key");
      await verifyWith(baJwks.json, t, srv);
      // 2. better-auth signs a token for the same user with that key; it verifies against gatehouse's JWKS.
      const signIn = await ba.request("POST", "/sign-in/email", { json: { email: user.email, password: "correct-horse-battery" } });
      assert.equal(signIn.status, 200, signIn.text);
      const c = signIn.cookie(SESSION_COOKIE);
      const baTok = await ba.request("GET", "/token", { cookie: `${c.name}=${c.value}` });
      assert.equal(baTok.status, 200, baTok.text);
      const { payload } = await jwtVerify(baTok.json.token, createLocalJWKSet(ghJwks.json), { issuer: ba.baseURL, audience: ba.baseURL });
      assert.equal(payload.sub, user.id);
    } finally {
      await srv.stop();
      await ba.close();
    }
  });

  it("a key created by gatehouse is used by better-auth's /token, and its JWKS equals gatehouse's", async () => {
    const srv = await startServer({ backend: "postgres", hint: "jwt-gh" });
    const ba = new InProcessBetterAuth(srv.databaseUrl, { jwt: true });
    try {
      const ghJwks = await getJwks(srv);
      const { user, email } = await signUp(srv);
      const baJwks = await ba.request("GET", "/jwks");
      assert.equal(baJwks.status, 200, baJwks.text);
      assert.equal(baJwks.text, ghJwks.text, "better-auth reads gatehouse's key row (decrypts it and publishes the same document)");
      const signIn = await ba.request("POST", "/sign-in/email", { json: { email, password: "correct-horse-battery" } });
      const c = signIn.cookie(SESSION_COOKIE);
      const baTok = await ba.request("GET", "/token", { cookie: `${c.name}=${c.value}` });
      assert.equal(baTok.status, 200, baTok.text);
      assert.equal(decodeProtectedHeader(baTok.json.token).kid, ghJwks.json.keys[0].kid);
      const { payload } = await jwtVerify(baTok.json.token, createLocalJWKSet(ghJwks.json), { issuer: ba.baseURL, audience: ba.baseURL });
      assert.equal(payload.sub, user.id);
    } finally {
      await ba.close();
      await srv.stop();
    }
  });

  it("a token signed by the real better-auth verifies in libgatehouse-verify (gatehouse-tasks), for every algorithm", async () => {
    for (const alg of ["EdDSA", "ES256", "ES512", "RS256", "PS256"]) {
      // better-auth creates the key (its own keyPairConfig) and signs; gatehouse only publishes the JWKS.
      const dbUrl = await freshDatabaseUrl("postgres", `jwt-ba-${alg}`);
      const ba = new InProcessBetterAuth(dbUrl, { jwt: alg });
      await ba.migrate();
      const srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: `jwt-ba-${alg}` });
      const api = await startTasks({
        backend: "postgres",
        gatehouseUrl: srv.url,
        hint: `tasks-ba-${alg}`,
        env: { TASKS_JWT_ISSUER: ba.baseURL, TASKS_JWT_AUDIENCE: ba.baseURL },
      });
      try {
        const up = await ba.request("POST", "/sign-up/email", { json: { name: "BA Token", email: `ba-${alg.toLowerCase()}-${Date.now()}@example.com`, password: "correct-horse-battery" } });
        assert.equal(up.status, 200, up.text);
        const c = up.cookie(SESSION_COOKIE);
        const tok = await ba.request("GET", "/token", { cookie: `${c.name}=${c.value}` });
        assert.equal(tok.status, 200, tok.text);
        assert.equal(decodeProtectedHeader(tok.json.token).alg, alg);
        const ok = await api.call("POST", "/api/tasks", { bearer: tok.json.token, json: { title: `from better-auth (${alg})` } });
        assert.equal(ok.status, 201, `${alg}: ${ok.text}`);
        assert.equal(ok.json.userId, up.json.user.id);
        // The same token with its payload altered is refused.
        const [h, p, sig] = tok.json.token.split(".");
        const claims = JSON.parse(Buffer.from(p, "base64url"));
        claims.sub = "someone-else";
        const bad = await api.call("GET", "/api/tasks", { bearer: `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}` });
        assert.equal(bad.status, 401, `${alg}: ${bad.text}`);
      } finally {
        await api.stop();
        await srv.stop();
        await ba.close();
      }
    }
  });
});
