// OAuth / OpenID Connect sign-in against a REAL OpenID provider (npm oidc-provider, OpenID
// Certified, run on loopback by lib/oidc.mjs): the browser-style flow over HTTP (sign-in/social →
// the provider's authorize, login and consent pages → /callback/acme), sign-up, sign-in, implicit
// linking to an e-mail/password user (only with both e-mails verified), link-social, list-accounts,
// unlink-account, provider tokens; the failure paths (state mismatch and replay, replayed code,
// wrong nonce, ID token signed by another key, expired, wrong audience, untrusted callback URLs,
// provider down) each redirect to the error URL with better-auth's code; audit lines.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { symmetricDecrypt } from "better-auth/crypto";
import { CookieJar } from "./lib/cookies.mjs";
import { sql, toBool } from "./lib/db.mjs";
import { ID32, assertBare404, assertError, forEachBackend, newEmail, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { browserAuthorize, mintIdToken, startOidcProvider } from "./lib/oidc.mjs";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { backends } from "./lib/config.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";
import { genericOAuth } from "better-auth/plugins";
import { freePort, sleep } from "./lib/util.mjs";

const CLIENT_SECRET = "e2e-client-secret-0123456789abcdef";

forEachBackend("oauth", (backend) => {
  let srv, op, users;
  const login = {};

  before(async () => {
    const opPort = await freePort();
    users = {};
    for (const name of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"])
      users[`${name}`] = { email: newEmail(name), email_verified: true, name: `${name[0].toUpperCase()}${name.slice(1)} Example` };
    users.unverified = { email: newEmail("unverified"), email_verified: false, name: "Unverified" };
    for (const k of Object.keys(users)) login[k] = k;
    srv = await startServer({
      backend,
      hint: "oauth",
      env: {
        GATEHOUSE_OIDC_ACME_DISCOVERY_URL: `http://127.0.0.1:${opPort}/.well-known/openid-configuration`,
        GATEHOUSE_OIDC_ACME_CLIENT_ID: "gatehouse",
        GATEHOUSE_OIDC_ACME_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_OIDC_ACME_SCOPES: "openid email profile offline_access",
        GATEHOUSE_TRUSTED_ORIGINS: "http://app.example",
      },
    });
    op = await startOidcProvider({
      port: opPort,
      clients: [
        {
          client_id: "gatehouse",
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${srv.url}/api/auth/callback/acme`],
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_post",
        },
      ],
      users,
    });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
  });

  const cbPrefix = () => `${srv.url}/api/auth/callback/acme`;
  const pathOf = (url) => url.slice(`${srv.url}/api/auth`.length);

  /** sign-in/social (or link-social) → the provider's pages → the callback. */
  async function flow(who, { jar = new CookieJar(), body = {}, route = "/sign-in/social", callbackJar } = {}) {
    const start = await raw(srv, "POST", route, { json: { provider: "acme", callbackURL: "/dashboard", ...body }, jar });
    assert.equal(start.status, 200, start.text);
    const cb = await browserAuthorize(start.json.url, { login: who, stopAt: cbPrefix() });
    const res = await raw(srv, "GET", pathOf(cb), { jar: callbackJar ?? jar, origin: null });
    return { start, cb, res, jar };
  }
  const errorOf = (res) => {
    assert.equal(res.status, 302, res.text);
    const loc = new URL(res.headers.location, srv.url);
    return loc.searchParams.get("error");
  };
  const session = async (jar) => (await raw(srv, "GET", "/get-session", { jar })).json;

  describe("sign-in/social: the redirect flow", () => {
    it("an unconfigured provider is 404 PROVIDER_NOT_FOUND (OAuth stays optional)", async () => {
      const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "google" } });
      assertError(res, 404, "PROVIDER_NOT_FOUND", "Provider not found");
    });

    it("answers {url, redirect:true} + Location: the provider's authorize URL with state, PKCE S256 and a nonce; state row and signed state cookie as better-auth", async () => {
      const jar = new CookieJar();
      const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", callbackURL: "/dashboard" }, jar });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json), ["url", "redirect"]);
      assert.equal(res.json.redirect, true);
      assert.equal(res.headers.location, res.json.url);
      const u = new URL(res.json.url);
      assert.equal(u.origin, op.issuer);
      const q = u.searchParams;
      assert.equal(q.get("response_type"), "code");
      assert.equal(q.get("client_id"), "gatehouse");
      assert.equal(q.get("redirect_uri"), cbPrefix());
      assert.equal(q.get("code_challenge_method"), "S256");
      assert.match(q.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
      assert.match(q.get("state"), /^[A-Za-z0-9_-]{32}$/);
      assert.match(q.get("nonce"), /^[A-Za-z0-9_-]{32}$/);
      assert.deepEqual(q.get("scope").split(" "), ["openid", "email", "profile", "offline_access"]);
      const cookie = res.cookie("better-auth.state");
      assert.ok(cookie, "state cookie");
      assert.equal(cookie.attrs["max-age"], "300");
      const row = await srv.db.one(sql`SELECT * FROM "verification" WHERE "identifier" = ${"auth-state:" + q.get("state")}`);
      assert.ok(row, "verification row auth-state:<state>");
      const v = JSON.parse(row.value);
      assert.deepEqual(Object.keys(v), ["callbackURL", "codeVerifier", "expiresAt", "idTokenNonce", "oauthState"]);
      assert.equal(v.callbackURL, "/dashboard");
      assert.match(v.codeVerifier, /^[A-Za-z0-9_-]{128}$/);
      assert.equal(v.oauthState, q.get("state"));
      assert.equal(v.idTokenNonce, q.get("nonce"));
      assert.ok(Math.abs(v.expiresAt - (Date.now() + 600000)) < 60000);
    });

    it("disableRedirect: redirect:false and no Location", async () => {
      const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", disableRedirect: true } });
      assert.equal(res.status, 200);
      assert.equal(res.json.redirect, false);
      assert.equal(res.headers.location, undefined);
    });

    it("untrusted callbackURL / errorCallbackURL / newUserCallbackURL → 403 like better-auth", async () => {
      for (const [field, code, message] of [
        ["callbackURL", "INVALID_CALLBACK_URL", "Invalid callbackURL"],
        ["errorCallbackURL", "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL"],
        ["newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL"],
      ]) {
        const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", [field]: "https://evil.example/x" } });
        assertError(res, 403, code, message);
      }
      const ok = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", callbackURL: "http://app.example/home" } });
      assert.equal(ok.status, 200, "a trusted origin is accepted");
    });
  });

  describe("sign-up, sign-in, accounts", () => {
    let aliceId, aliceJar;
    it("sign-up: the callback creates the user (provider-verified e-mail) and the account row as better-auth, sets the session, redirects to newUserCallbackURL", async () => {
      const { res, jar, start } = await flow("alice", { body: { newUserCallbackURL: "/welcome" } });
      assert.equal(res.status, 302, res.text);
      assert.equal(res.headers.location, "/welcome");
      assert.ok(res.cookie("better-auth.session_token")?.value, "session cookie");
      assert.equal(res.cookie("better-auth.state")?.attrs["max-age"], "0", "state cookie expired");
      const s = await session(jar);
      assert.equal(s.user.email, users.alice.email);
      assert.equal(s.user.name, "Alice Example");
      assert.equal(s.user.emailVerified, true);
      aliceId = s.user.id;
      aliceJar = jar;
      const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${aliceId}`);
      assert.equal(acc.providerId, "acme");
      assert.equal(acc.accountId, "alice", "accountId = the provider's sub");
      assert.match(acc.id, ID32);
      assert.equal(acc.password, null);
      assert.ok(acc.accessToken && !/^[0-9a-f]+$/.test(acc.accessToken), "access token stored as is (encryption off)");
      assert.ok(acc.refreshToken, "refresh token stored");
      assert.equal(acc.idToken.split(".").length, 3, "id token stored");
      assert.ok(acc.accessTokenExpiresAt, "accessTokenExpiresAt");
      assert.deepEqual(acc.scope.split(",").sort(), ["email", "openid", "profile"]);
      const state = new URL(start.json.url).searchParams.get("state");
      assert.equal(await srv.db.one(sql`SELECT * FROM "verification" WHERE "identifier" = ${"auth-state:" + state}`), null, "state row taken");
    });

    it("sign-in again: same user, no new user or account, redirects to callbackURL", async () => {
      const before = await srv.db.all(sql`SELECT id FROM "user"`);
      const { res, jar } = await flow("alice");
      assert.equal(res.headers.location, "/dashboard");
      assert.equal((await session(jar)).user.id, aliceId);
      assert.equal((await srv.db.all(sql`SELECT id FROM "user"`)).length, before.length);
      assert.equal((await srv.db.all(sql`SELECT id FROM "account" WHERE "userId" = ${aliceId}`)).length, 1);
    });

    it("GET /list-accounts: the accounts as better-auth returns them (no tokens), scopes split", async () => {
      const res = await raw(srv, "GET", "/list-accounts", { jar: aliceJar });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.length, 1);
      assert.deepEqual(Object.keys(res.json[0]), ["accountId", "providerId", "userId", "createdAt", "updatedAt", "id", "scopes"]);
      assert.equal(res.json[0].providerId, "acme");
      assert.deepEqual(res.json[0].scopes.sort(), ["email", "openid", "profile"]);
      assert.equal((await raw(srv, "GET", "/list-accounts")).status, 401);
    });

    it("POST /get-access-token returns the stored access token; /refresh-token gets a new one from the provider and stores it", async () => {
      const list = (await raw(srv, "GET", "/list-accounts", { jar: aliceJar })).json;
      const accountId = list[0].id;
      const before = await srv.db.one(sql`SELECT * FROM "account" WHERE id = ${accountId}`);
      const tok = await raw(srv, "POST", "/get-access-token", { json: { accountId }, jar: aliceJar });
      assert.equal(tok.status, 200, tok.text);
      assert.deepEqual(Object.keys(tok.json), ["accessToken", "accessTokenExpiresAt", "scopes", "idToken"]);
      assert.equal(tok.json.accessToken, before.accessToken);
      const ref = await raw(srv, "POST", "/refresh-token", { json: { accountId }, jar: aliceJar });
      assert.equal(ref.status, 200, ref.text);
      assert.deepEqual(Object.keys(ref.json), ["accessToken", "refreshToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "idToken", "providerId", "accountId"]);
      assert.notEqual(ref.json.accessToken, before.accessToken);
      assert.equal(ref.json.accountId, accountId);
      const after = await srv.db.one(sql`SELECT * FROM "account" WHERE id = ${accountId}`);
      assert.equal(after.accessToken, ref.json.accessToken);
      // an access token about to expire is refreshed by get-access-token itself
      await srv.db.exec(`UPDATE "account" SET "accessTokenExpiresAt" = '2020-01-01T00:00:00.000Z' WHERE id = '${accountId}'`);
      const fresh = await raw(srv, "POST", "/get-access-token", { json: { accountId }, jar: aliceJar });
      assert.equal(fresh.status, 200, fresh.text);
      assert.notEqual(fresh.json.accessToken, ref.json.accessToken, "refreshed");
      assert.ok(new Date(fresh.json.accessTokenExpiresAt).getTime() > Date.now() + 60000, "new expiry");
      const stored = await srv.db.one(sql`SELECT * FROM "account" WHERE id = ${accountId}`);
      assert.equal(stored.accessToken, fresh.json.accessToken, "stored");
      const info = await raw(srv, "GET", `/account-info?accountId=${accountId}`, { jar: aliceJar });
      assert.equal(info.status, 200, info.text);
      assert.equal(info.json.user.email, users.alice.email);
      assert.deepEqual(info.json.account, { id: accountId, providerId: "acme", accountId: "alice" });
      const none = await raw(srv, "POST", "/get-access-token", { json: { accountId: "nope" }, jar: aliceJar });
      assertError(none, 400, "ACCOUNT_NOT_FOUND", "Account not found");
    });

    it("the idToken flows with an ID token that carries no e-mail (the provider's claims come from userinfo): no profile, as better-auth's genericOAuth reads the ID token alone", async () => {
      const { idToken, accessToken } = await srv.db.one(sql`SELECT "idToken", "accessToken" FROM "account" WHERE "userId" = ${aliceId}`);
      // an access token given with it is not taken to userinfo (getUserInfoFromIdToken)
      for (const it of [{ token: idToken }, { token: idToken, accessToken }]) {
        const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", idToken: it } });
        assertError(res, 401, "FAILED_TO_GET_USER_INFO", "Failed to get user info");
        const link = await raw(srv, "POST", "/link-social", { json: { provider: "acme", idToken: it }, jar: aliceJar });
        assertError(link, 401, "FAILED_TO_GET_USER_INFO", "Failed to get user info");
      }
      const bad = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", idToken: { token: idToken.slice(0, -4) + "AAAA" } } });
      assertError(bad, 401, "INVALID_TOKEN", "Invalid token");
    });

    it("form_post: POST /callback/:id moves the parameters to a GET of the same URL (302)", async () => {
      const res = await raw(srv, "POST", "/callback/acme", { form: { code: "c0de", state: "st4te", iss: op.issuer }, origin: null });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, `${srv.url}/api/auth/callback/acme?code=c0de&state=st4te&iss=${encodeURIComponent(op.issuer)}`);
    });
  });

  describe("account linking", () => {
    it("implicit: an e-mail/password user with an UNVERIFIED e-mail is not linked (account_not_linked, requireLocalEmailVerified)", async () => {
      const local = await signUp(srv, { email: users.bob.email });
      const { res } = await flow("bob");
      assert.equal(errorOf(res), "account_not_linked");
      assert.equal((await srv.db.all(sql`SELECT id FROM "account" WHERE "userId" = ${local.user.id}`)).length, 1, "only the credential account");
      assert.ok(!res.cookie("better-auth.session_token")?.value, "no session");
    });

    it("implicit: once the local e-mail is verified too, the provider account links to the existing user; list shows both; unlink leaves the password", async () => {
      const local = await srv.db.userByEmail(users.bob.email);
      await srv.db.exec(`UPDATE "user" SET "emailVerified" = ${backend === "sqlite" ? 1 : "true"} WHERE id = '${local.id}'`);
      const { res, jar } = await flow("bob");
      assert.equal(res.headers.location, "/dashboard", res.text);
      assert.equal((await session(jar)).user.id, local.id, "the existing user");
      const list = (await raw(srv, "GET", "/list-accounts", { jar })).json;
      assert.deepEqual(list.map((a) => a.providerId).sort(), ["acme", "credential"]);
      const cred = list.find((a) => a.providerId === "credential");
      assert.equal(cred.accountId, local.id);
      const acme = list.find((a) => a.providerId === "acme");
      const un = await raw(srv, "POST", "/unlink-account", { json: { accountId: acme.id }, jar });
      assert.equal(un.status, 200, un.text);
      assert.deepEqual(un.json, { status: true });
      const last = await raw(srv, "POST", "/unlink-account", { json: { accountId: cred.id }, jar });
      assertError(last, 400, "FAILED_TO_UNLINK_LAST_ACCOUNT", "You can't unlink your last account");
      await signIn(srv, { email: users.bob.email }); // the password still signs in
      const missing = await raw(srv, "POST", "/unlink-account", { json: { providerId: "acme" }, jar });
      assertError(missing, 400, "VALIDATION_ERROR", "[body.accountId] Invalid input: expected string, received undefined");
    });

    it("implicit: a provider that does not vouch for the e-mail never links (even to a verified user)", async () => {
      const local = await signUp(srv, { email: users.unverified.email });
      await srv.db.exec(`UPDATE "user" SET "emailVerified" = ${backend === "sqlite" ? 1 : "true"} WHERE id = '${local.user.id}'`);
      const { res } = await flow("unverified");
      assert.equal(errorOf(res), "account_not_linked");
    });

    it("POST /link-social: a signed-in user links the provider account (redirect flow through the provider); the e-mail must match", async () => {
      const local = await signUp(srv, { email: users.carol.email });
      const { res } = await flow("carol", { route: "/link-social", jar: local.jar, body: { callbackURL: "/settings" } });
      assert.equal(res.headers.location, "/settings", res.text);
      const list = (await raw(srv, "GET", "/list-accounts", { jar: local.jar })).json;
      assert.deepEqual(list.map((a) => a.providerId).sort(), ["acme", "credential"]);
      // dave's provider account cannot be linked to carol (e-mails differ)
      const other = await flow("dave", { route: "/link-social", jar: local.jar });
      assert.equal(errorOf(other.res), "email_does_not_match");
      assert.equal((await raw(srv, "POST", "/link-social", { json: { provider: "acme" } })).status, 401, "needs a session");
    });
  });

  describe("failure paths redirect to the error URL with better-auth's codes", () => {
    it("state mismatch: the callback from a browser without the state cookie → state_mismatch, nothing written", async () => {
      const users0 = (await srv.db.all(sql`SELECT id FROM "user"`)).length;
      const { res } = await flow("erin", { callbackJar: new CookieJar() });
      assert.equal(errorOf(res), "state_mismatch");
      assert.equal(new URL(res.headers.location, srv.url).pathname, "/api/auth/error");
      assert.equal((await srv.db.all(sql`SELECT id FROM "user"`)).length, users0);
      const page = await raw(srv, "GET", "/error?error=state_mismatch");
      assert.equal(page.status, 200);
      assert.match(page.headers["content-type"], /^text\/html/);
    });

    it("state replay: the same callback URL a second time → state_mismatch; an unknown state too; no state → state_not_found", async () => {
      const { res, cb, jar } = await flow("erin", { body: { errorCallbackURL: "/oops" } });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, "/welcome".replace("/welcome", "/dashboard"));
      const again = await raw(srv, "GET", pathOf(cb), { jar, origin: null });
      assert.equal(errorOf(again), "state_mismatch");
      const none = await raw(srv, "GET", "/callback/acme?code=x", { origin: null });
      assert.equal(errorOf(none), "state_not_found");
    });

    it("replayed code: a code already redeemed, brought back with a fresh state → invalid_code (the provider refuses it); errorCallbackURL is used", async () => {
      const first = await flow("erin");
      assert.equal(first.res.status, 302);
      const code = new URL(first.cb).searchParams.get("code");
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", errorCallbackURL: "/oops" }, jar });
      const state = new URL(start.json.url).searchParams.get("state");
      const res = await raw(srv, "GET", `/callback/acme?code=${encodeURIComponent(code)}&state=${state}`, { jar, origin: null });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, "/oops?error=invalid_code");
    });

    for (const [mode, what] of [
      ["nonce", "wrong nonce"],
      ["badkey", "ID token signed by another key"],
      ["expired", "expired ID token"],
      ["aud", "wrong audience"],
    ]) {
      it(`${what} → unable_to_get_user_info, no user, no session`, async () => {
        const users0 = (await srv.db.all(sql`SELECT id FROM "user"`)).length;
        await op.fault(mode);
        const { res } = await flow("frank");
        assert.equal(errorOf(res), "unable_to_get_user_info");
        assert.ok(!res.cookie("better-auth.session_token")?.value);
        assert.equal((await srv.db.all(sql`SELECT id FROM "user"`)).length, users0);
      });
    }

    it("issuer_mismatch (RFC 9207 iss of another server), no_code, oauth_provider_not_found — each before any call to the provider", async () => {
      const state = async (jar) => new URL((await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme" }, jar })).json.url).searchParams.get("state");
      let jar = new CookieJar();
      let res = await raw(srv, "GET", `/callback/acme?code=x&state=${await state(jar)}&iss=${encodeURIComponent("https://evil.example")}`, { jar, origin: null });
      assert.equal(errorOf(res), "issuer_mismatch");
      jar = new CookieJar();
      res = await raw(srv, "GET", `/callback/acme?state=${await state(jar)}`, { jar, origin: null });
      assert.equal(errorOf(res), "no_code");
      jar = new CookieJar();
      res = await raw(srv, "GET", `/callback/other?code=x&state=${await state(jar)}`, { jar, origin: null });
      assert.equal(errorOf(res), "oauth_provider_not_found");
      assertBare404(await raw(srv, "GET", "/callback/acme/extra?code=x", { origin: null }));
    });

    it("the provider's own error (access denied) is passed on", async () => {
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme" }, jar });
      const state = new URL(start.json.url).searchParams.get("state");
      const res = await raw(srv, "GET", `/callback/acme?error=access_denied&error_description=no+way&state=${state}`, { jar, origin: null });
      assert.equal(res.headers.location, `${srv.url}/api/auth/error?error=access_denied&error_description=no+way`);
    });

    it("audit lines: OAuth sign-up/sign-in, link and unlink name the user and the provider", () => {
      const by = (e) => srv.logs.filter((o) => o.event === e);
      assert.ok(by("sign_in.success").some((o) => o.provider === "acme" && ID32.test(o.user_id)), "sign_in.success");
      assert.ok(by("sign_up").some((o) => o.provider === "acme"), "sign_up");
      assert.ok(by("account.linked").some((o) => o.provider === "acme" && o.how === "implicit"), "implicit link");
      assert.ok(by("account.linked").some((o) => o.provider === "acme" && o.how === "link"), "link-social");
      assert.ok(by("account.unlinked").some((o) => o.provider === "acme"), "unlink");
      assert.ok(by("sign_in.failure").some((o) => o.reason === "state_mismatch"), "failure");
      for (const line of srv.stderrLines) assert.ok(!line.includes(CLIENT_SECRET), "no client secret in the logs");
    });

    it("provider down: the callback redirects with invalid_code; e-mail/password sign-in still works", async () => {
      const local = await signUp(srv);
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme" }, jar });
      const cb = await browserAuthorize(start.json.url, { login: "gina", stopAt: cbPrefix() });
      await op.stop();
      const res = await raw(srv, "GET", pathOf(cb), { jar, origin: null });
      assert.equal(errorOf(res), "invalid_code");
      await signIn(srv, { email: local.email });
      // the provider is now known to be down: the next callback fails at once, without another
      // attempt to reach it (a down provider cannot tie up the worker pool again and again)
      const tries = () => srv.logs.filter((o) => o.event === "oauth.fetch_failed").length;
      const before = tries();
      assert.ok(before >= 1, "the first callback tried to reach the provider");
      const jar2 = new CookieJar();
      const again = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme" }, jar: jar2 });
      assert.equal(again.status, 200, "the cached discovery still builds the URL");
      const state = new URL(again.json.url).searchParams.get("state");
      const res2 = await raw(srv, "GET", `/callback/acme?code=x&state=${state}`, { jar: jar2, origin: null });
      assert.equal(errorOf(res2), "invalid_code");
      await sleep(200);
      assert.equal(tries(), before, "no new attempt while the provider is marked down");
      assert.equal(srv.logs.filter((o) => o.event === "oauth.provider_down").length, 1);
    });
  });
});

// POST /link-social with {idToken: {token, nonce?, accessToken?, refreshToken?}} (better-auth
// account.ts linkSocial), with ID tokens the real provider mints for a native app (lib/oidc.mjs
// mintIdToken; its ID tokens carry the e-mail claims here, as Google's do): a generic OpenID
// provider and Google (both verify ID tokens; GitHub has none: github.test.mjs).
forEachBackend("oauth link-social idToken", (backend) => {
  let srv, op, people;
  const mint = (login, { client = "gatehouse", nonce, provider = "acme" } = {}) =>
    mintIdToken(op, { clientId: client, clientSecret: CLIENT_SECRET, redirectUri: `${srv.url}/api/auth/callback/${provider}`, login, nonce });
  before(async () => {
    const opPort = await freePort();
    const iss = `http://127.0.0.1:${opPort}`;
    people = {};
    for (const n of ["lena", "mark", "nina", "omar", "pia", "gus"]) people[n] = { email: newEmail(n), email_verified: true, name: `${n} Provider`, picture: `https://img.example/${n}.png` };
    people.uma = { email: newEmail("uma"), email_verified: false, name: "Uma" };
    people.nomail = { name: "No Mail" };
    srv = await startServer({
      backend,
      hint: "oauth-link-idt",
      env: {
        GATEHOUSE_OIDC_ACME_DISCOVERY_URL: `${iss}/.well-known/openid-configuration`,
        GATEHOUSE_OIDC_ACME_CLIENT_ID: "gatehouse",
        GATEHOUSE_OIDC_ACME_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_GOOGLE_CLIENT_ID: "google-client",
        GATEHOUSE_GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_GOOGLE_AUTHORIZATION_URL: `${iss}/auth`,
        GATEHOUSE_GOOGLE_TOKEN_URL: `${iss}/token`,
        GATEHOUSE_GOOGLE_JWKS_URL: `${iss}/jwks`,
        GATEHOUSE_GOOGLE_ISSUER: iss,
        GATEHOUSE_OAUTH_UPDATE_USER_INFO_ON_LINK: "true",
      },
    });
    const client = (id, provider) => ({
      client_id: id,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${srv.url}/api/auth/callback/${provider}`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    });
    op = await startOidcProvider({ port: opPort, clients: [client("gatehouse", "acme"), client("google-client", "google")], users: people, conform: false });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
  });
  const link = (jar, idToken, provider = "acme") => raw(srv, "POST", "/link-social", { json: { provider, idToken }, jar });

  it("links the provider account to the signed-in user: {url:\"\", status:true, redirect:false}; the account row as better-auth writes it (idToken, the given tokens, no scope, no expiries); updateUserInfoOnLink copies name and image", async () => {
    const local = await signUp(srv, { email: people.lena.email, name: "Lena Local" });
    const t = await mint("lena", { nonce: "n-lena-1" });
    const res = await link(local.jar, { token: t.id_token, nonce: "n-lena-1", accessToken: t.access_token, refreshToken: "rt-from-the-app" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '{"url":"","status":true,"redirect":false}');
    const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${local.user.id} AND "providerId" = 'acme'`);
    assert.ok(acc, "account row");
    assert.match(acc.id, ID32);
    assert.equal(acc.accountId, "lena", "accountId = the ID token's sub");
    assert.equal(acc.idToken, t.id_token);
    assert.equal(acc.accessToken, t.access_token);
    assert.equal(acc.refreshToken, "rt-from-the-app");
    assert.equal(acc.scope, null);
    assert.equal(acc.accessTokenExpiresAt, null);
    assert.equal(acc.refreshTokenExpiresAt, null);
    assert.equal(acc.password, null);
    const u = await srv.db.userByEmail(people.lena.email);
    assert.equal(u.name, "lena Provider", "updateUserInfoOnLink: name");
    assert.equal(u.image, people.lena.picture, "updateUserInfoOnLink: image");
    const list = (await raw(srv, "GET", "/list-accounts", { jar: local.jar })).json;
    assert.deepEqual(list.map((a) => a.providerId).sort(), ["acme", "credential"]);
    assert.ok(srv.logs.some((o) => o.event === "account.linked" && o.how === "id_token" && o.provider === "acme"), "audited");
    // the same provider account again: its tokens are replaced, still one row
    const t2 = await mint("lena");
    const again = await link(local.jar, { token: t2.id_token });
    assert.equal(again.status, 200, again.text);
    const rows = await srv.db.all(sql`SELECT * FROM "account" WHERE "userId" = ${local.user.id} AND "providerId" = 'acme'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].idToken, t2.id_token, "the new ID token");
    assert.equal(rows[0].accessToken, t.access_token, "an access token not given is kept");
  });

  it("the nonce is checked when given: another nonce → 401 INVALID_TOKEN, nothing linked", async () => {
    const local = await signUp(srv, { email: people.mark.email });
    const t = await mint("mark", { nonce: "n-mark" });
    assertError(await link(local.jar, { token: t.id_token, nonce: "n-other" }), 401, "INVALID_TOKEN", "Invalid token");
    assert.equal((await srv.db.accountsOf(local.user.id)).length, 1);
  });

  it("ID tokens that do not verify → 401 INVALID_TOKEN: signed by another key, expired, for another client (audience), garbage", async () => {
    const local = await signUp(srv, { email: people.nina.email });
    await op.fault("badkey");
    const forged = await mint("nina");
    await op.fault("expired");
    const expired = await mint("nina");
    const otherAud = await mint("nina", { client: "google-client", provider: "google" });
    for (const token of [forged.id_token, expired.id_token, otherAud.id_token, "not.a.jwt"])
      assertError(await link(local.jar, { token }), 401, "INVALID_TOKEN", "Invalid token");
    assert.equal((await srv.db.accountsOf(local.user.id)).length, 1, "nothing linked");
  });

  it("better-auth's refusals: e-mail not verified by the provider → LINKING_NOT_ALLOWED; another e-mail → LINKING_DIFFERENT_EMAILS_NOT_ALLOWED; no e-mail in the token → FAILED_TO_GET_USER_INFO; linked to another user → 409", async () => {
    const local = await signUp(srv, { email: people.uma.email });
    assertError(await link(local.jar, { token: (await mint("uma")).id_token }), 401, "LINKING_NOT_ALLOWED", "Account not linked - linking not allowed");
    assertError(await link(local.jar, { token: (await mint("omar")).id_token }), 401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED", "Account not linked - different emails not allowed");
    assertError(await link(local.jar, { token: (await mint("nomail")).id_token }), 401, "FAILED_TO_GET_USER_INFO", "Failed to get user info");
    assert.equal((await srv.db.accountsOf(local.user.id)).length, 1, "nothing linked");
    // pia's provider account linked to pia; then someone else brings pia's ID token
    const pia = await signUp(srv, { email: people.pia.email });
    assert.equal((await link(pia.jar, { token: (await mint("pia")).id_token })).status, 200);
    const other = await signUp(srv);
    assertError(await link(other.jar, { token: (await mint("pia")).id_token }), 409, "SOCIAL_ACCOUNT_ALREADY_LINKED", "Social account already linked");
    assert.equal((await raw(srv, "POST", "/link-social", { json: { provider: "acme", idToken: { token: "a.b.c" } } })).status, 401, "needs a session");
  });

  it("the local e-mail need not be verified (the user is signed in: better-auth checks only the provider's side)", async () => {
    const local = await signUp(srv, { email: people.omar.email });
    assert.equal(local.user.emailVerified, false);
    const res = await link(local.jar, { token: (await mint("omar")).id_token });
    assert.equal(res.status, 200, res.text);
  });

  it("Google verifies ID tokens too: linked with a Google ID token; a token of the generic provider's client is refused for Google", async () => {
    const local = await signUp(srv, { email: people.gus.email });
    assertError(await link(local.jar, { token: (await mint("gus")).id_token }, "google"), 401, "INVALID_TOKEN", "Invalid token");
    const t = await mint("gus", { client: "google-client", provider: "google" });
    const res = await link(local.jar, { token: t.id_token, accessToken: t.access_token }, "google");
    assert.equal(res.status, 200, res.text);
    const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${local.user.id} AND "providerId" = 'google'`);
    assert.equal(acc.accountId, "gus");
    assert.equal(acc.idToken, t.id_token);
    // and sign-in/social with an ID token now signs this user in
    const si = await raw(srv, "POST", "/sign-in/social", { json: { provider: "google", idToken: { token: t.id_token } } });
    assert.equal(si.status, 200, si.text);
    assert.equal(si.json.user.id, local.user.id);
  });

  it("malformed idToken bodies: better-auth's validation errors", async () => {
    const local = await signUp(srv);
    const r1 = await raw(srv, "POST", "/link-social", { json: { provider: "acme", idToken: {} }, jar: local.jar });
    assertError(r1, 400, "VALIDATION_ERROR", "[body.idToken.token] Invalid input: expected string, received undefined");
    const r2 = await raw(srv, "POST", "/link-social", { json: { provider: "acme", idToken: "x" }, jar: local.jar });
    assertError(r2, 400, "VALIDATION_ERROR", "[body.idToken] Invalid input: expected object, received string");
    const r3 = await raw(srv, "POST", "/link-social", { json: { provider: "nope", idToken: { token: "a.b.c" } }, jar: local.jar });
    assertError(r3, 404, "PROVIDER_NOT_FOUND", "Provider not found");
  });
});

describe("oauth: tokens encrypted at rest exactly as better-auth (GATEHOUSE_OAUTH_ENCRYPT_TOKENS); sign-up only on request", () => {
  let srv, op;
  before(async () => {
    const opPort = await freePort();
    srv = await startServer({
      backend: "sqlite",
      hint: "oauth-enc",
      env: {
        GATEHOUSE_OIDC_ACME_DISCOVERY_URL: `http://127.0.0.1:${opPort}/.well-known/openid-configuration`,
        GATEHOUSE_OIDC_ACME_CLIENT_ID: "gatehouse",
        GATEHOUSE_OIDC_ACME_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_OIDC_ACME_SCOPES: "openid email profile offline_access",
        GATEHOUSE_OAUTH_ENCRYPT_TOKENS: "true",
        GATEHOUSE_OAUTH_DISABLE_SIGNUP: "true",
      },
    });
    op = await startOidcProvider({
      port: opPort,
      clients: [{ client_id: "gatehouse", client_secret: CLIENT_SECRET, redirect_uris: [`${srv.url}/api/auth/callback/acme`], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" }],
      users: { zoe: { email: newEmail("zoe"), email_verified: true, name: "Zoe" } },
    });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
  });

  it("GATEHOUSE_OAUTH_DISABLE_SIGNUP: no new user from OAuth (error=signup_disabled) unless the sign-in asks with requestSignUp", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme" }, jar });
    const cb = await browserAuthorize(start.json.url, { login: "zoe", stopAt: `${srv.url}/api/auth/callback/acme` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(new URL(res.headers.location, srv.url).searchParams.get("error"), "signup_disabled");
    assert.equal(await srv.db.one(sql`SELECT id FROM "user"`), null);
  });

  it("account.accessToken/refreshToken are XChaCha20-Poly1305 hex that better-auth's symmetricDecrypt opens; get-access-token answers the plain token", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", requestSignUp: true }, jar });
    const cb = await browserAuthorize(start.json.url, { login: "zoe", stopAt: `${srv.url}/api/auth/callback/acme` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302);
    const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "providerId" = 'acme'`);
    assert.match(acc.accessToken, /^[0-9a-f]+$/);
    assert.match(acc.refreshToken, /^[0-9a-f]+$/);
    const plain = await symmetricDecrypt({ key: srv.secret, data: acc.accessToken });
    assert.ok(plain.length > 10 && !/^[0-9a-f]+$/.test(plain));
    const tok = await raw(srv, "POST", "/get-access-token", { json: { accountId: acc.id }, jar });
    assert.equal(tok.json.accessToken, plain);
    await sleep(0);
    assert.equal(toBool(1), true);
  });
});

// Two-way with the REAL better-auth (genericOAuth on the same provider) on one PostgreSQL database:
// an account linked under better-auth signs in under gatehouse and the other way round.
describe("oauth: two-way with better-auth's genericOAuth on one database", { skip: backends().includes("postgres") ? false : "PostgreSQL only" }, () => {
  let srv, op, ba;
  const BA_BASE = "http://127.0.0.1:3999";
  const people = { ursula: { email: newEmail("ursula"), email_verified: true, name: "Ursula" }, victor: { email: newEmail("victor"), email_verified: true, name: "Victor" } };
  before(async () => {
    const opPort = await freePort();
    const discoveryUrl = `http://127.0.0.1:${opPort}/.well-known/openid-configuration`;
    const dbUrl = await freshDatabaseUrl("postgres", "oauth-ba");
    const scopes = ["openid", "email", "profile", "offline_access"];
    srv = await startServer({
      databaseUrl: dbUrl,
      backend: "postgres",
      hint: "oauth-ba",
      env: {
        GATEHOUSE_OIDC_ACME_DISCOVERY_URL: discoveryUrl,
        GATEHOUSE_OIDC_ACME_CLIENT_ID: "gatehouse",
        GATEHOUSE_OIDC_ACME_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_OIDC_ACME_SCOPES: scopes.join(" "),
      },
    });
    op = await startOidcProvider({
      port: opPort,
      clients: [
        {
          client_id: "gatehouse",
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${srv.url}/api/auth/callback/acme`, `${BA_BASE}/api/auth/callback/acme`],
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_post",
        },
      ],
      users: people,
    });
    ba = new InProcessBetterAuth(dbUrl, {
      baseURL: BA_BASE,
      plugins: [genericOAuth({ config: [{ providerId: "acme", discoveryUrl, clientId: "gatehouse", clientSecret: CLIENT_SECRET, scopes }] })],
    });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
    await ba?.close();
  });

  async function baFlow(who) {
    const start = await ba.request("POST", "/sign-in/social", { json: { provider: "acme", callbackURL: "/" } });
    assert.equal(start.status, 200, start.text);
    const state = start.cookie("better-auth.state");
    const cb = await browserAuthorize(start.json.url, { login: who, stopAt: `${BA_BASE}/api/auth/callback/acme` });
    const res = await ba.request("GET", cb.slice(`${BA_BASE}/api/auth`.length), { cookie: `better-auth.state=${state.value}` });
    assert.equal(res.status, 302, res.text);
    const sess = res.cookie("better-auth.session_token");
    assert.ok(sess?.value, `better-auth session: ${res.headers.get("location")}`);
    return `better-auth.session_token=${sess.value}`;
  }
  async function ghFlow(who) {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", callbackURL: "/" }, jar });
    const cb = await browserAuthorize(start.json.url, { login: who, stopAt: `${srv.url}/api/auth/callback/acme` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/", res.headers.location);
    return jar;
  }

  it("a user who signed up with the provider under better-auth signs in with it under gatehouse: same user, same account row; list-accounts answers the same JSON", async () => {
    const baCookie = await baFlow("ursula");
    const baSession = (await ba.request("GET", "/get-session", { cookie: baCookie })).json;
    const jar = await ghFlow("ursula");
    const ghSession = (await raw(srv, "GET", "/get-session", { jar })).json;
    assert.equal(ghSession.user.id, baSession.user.id);
    assert.equal((await srv.db.all(sql`SELECT id FROM "account" WHERE "userId" = ${baSession.user.id}`)).length, 1);
    const baList = (await ba.request("GET", "/list-accounts", { cookie: baCookie })).json;
    const ghList = (await raw(srv, "GET", "/list-accounts", { jar })).json;
    assert.deepEqual(Object.keys(ghList[0]), Object.keys(baList[0]), "key order");
    assert.deepEqual(ghList[0].scopes.sort(), baList[0].scopes.sort());
    assert.deepEqual({ ...ghList[0], updatedAt: 0, scopes: 0 }, { ...baList[0], updatedAt: 0, scopes: 0 });
  });

  it("a user who signed up with the provider under gatehouse signs in with it under better-auth", async () => {
    const jar = await ghFlow("victor");
    const ghSession = (await raw(srv, "GET", "/get-session", { jar })).json;
    const baCookie = await baFlow("victor");
    const baSession = (await ba.request("GET", "/get-session", { cookie: baCookie })).json;
    assert.equal(baSession.user.id, ghSession.user.id);
    assert.equal(baSession.user.emailVerified, true);
  });

  it("the account rows written by each side for the same provider flow look alike (columns set, NULLs, scope, dates)", async () => {
    const rows = await srv.db.all(sql`SELECT a.* FROM "account" a JOIN "user" u ON u.id = a."userId" WHERE u.email IN (${people.ursula.email}, ${people.victor.email}) ORDER BY u.email`);
    assert.equal(rows.length, 2);
    const [byBa, byGh] = rows; // ursula signed up under better-auth, victor under gatehouse
    for (const col of Object.keys(byBa)) {
      assert.equal(byGh[col] === null, byBa[col] === null, `${col}: NULL on one side only (${byBa[col]} / ${byGh[col]})`);
    }
    assert.equal(byGh.providerId, byBa.providerId);
    assert.deepEqual(byGh.scope.split(",").sort(), byBa.scope.split(",").sort());
    assert.equal(byGh.accountId, "victor");
    assert.equal(byBa.accountId, "ursula");
  });
});

// link-social / sign-in/social with an ID token, gatehouse and the REAL better-auth (genericOAuth on
// the same provider, ID tokens with the e-mail claims) on one PostgreSQL database: the same answers,
// case by case, and account rows alike.
describe("oauth: the idToken flows answer as better-auth's (two-way, one database)", { skip: backends().includes("postgres") ? false : "PostgreSQL only" }, () => {
  let srv, op, ba;
  const BA_BASE = "http://127.0.0.1:3999";
  const people = {};
  for (const side of ["ba", "gh"])
    for (const n of ["ok", "unv", "diff", "nomail"])
      people[`${side}-${n}`] = n === "nomail" ? { name: "No Mail" } : { email: newEmail(`${side}-${n}`), email_verified: n !== "unv", name: `${side} ${n}` };
  before(async () => {
    const opPort = await freePort();
    const discoveryUrl = `http://127.0.0.1:${opPort}/.well-known/openid-configuration`;
    const dbUrl = await freshDatabaseUrl("postgres", "oauth-idt-ba");
    srv = await startServer({
      databaseUrl: dbUrl,
      backend: "postgres",
      hint: "oauth-idt-ba",
      env: { GATEHOUSE_OIDC_ACME_DISCOVERY_URL: discoveryUrl, GATEHOUSE_OIDC_ACME_CLIENT_ID: "gatehouse", GATEHOUSE_OIDC_ACME_CLIENT_SECRET: CLIENT_SECRET },
    });
    op = await startOidcProvider({
      port: opPort,
      clients: [{ client_id: "gatehouse", client_secret: CLIENT_SECRET, redirect_uris: [`${srv.url}/api/auth/callback/acme`], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" }],
      users: people,
      conform: false,
    });
    ba = new InProcessBetterAuth(dbUrl, { baseURL: BA_BASE, plugins: [genericOAuth({ config: [{ providerId: "acme", discoveryUrl, clientId: "gatehouse", clientSecret: CLIENT_SECRET }] })] });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
    await ba?.close();
  });
  const mint = (login, nonce) => mintIdToken(op, { clientId: "gatehouse", clientSecret: CLIENT_SECRET, redirectUri: `${srv.url}/api/auth/callback/acme`, login, nonce });

  /** A signed-in user on each side; post(path, json) answers {status, json}. */
  async function sides() {
    const baEmail = people["ba-ok"].email;
    const ghEmail = people["gh-ok"].email;
    const up = await ba.request("POST", "/sign-up/email", { json: { name: "BA", email: baEmail, password: "correct-horse-battery" }, headers: { origin: BA_BASE } });
    assert.equal(up.status, 200, up.text);
    const baCookie = `better-auth.session_token=${up.cookie("better-auth.session_token").value}`;
    const gh = await signUp(srv, { email: ghEmail });
    return {
      ba: { post: async (path, json) => ((r) => ({ status: r.status, json: r.json }))(await ba.request("POST", path, { json, cookie: baCookie, headers: { origin: BA_BASE } })), userId: up.json.user.id },
      gh: { post: async (path, json) => ((r) => ({ status: r.status, json: r.json }))(await raw(srv, "POST", path, { json, jar: gh.jar })), userId: gh.user.id },
    };
  }

  it("link-social {idToken}: the same status and JSON from both for each case; the rows they write alike", async () => {
    const s = await sides();
    const answers = { ba: [], gh: [] };
    for (const side of ["ba", "gh"]) {
      const p = (n) => `${side}-${n}`;
      const ok = await mint(p("ok"), "nonce-1");
      const noMail = await mint(p("nomail"));
      const cases = [
        { token: (await mint(p("unv"))).id_token }, // provider did not verify the e-mail
        { token: (await mint(p("diff"))).id_token }, // another e-mail
        { token: noMail.id_token, accessToken: noMail.access_token }, // no e-mail in the ID token
        { token: ok.id_token, nonce: "another-nonce" },
        { token: ok.id_token.slice(0, -4) + "AAAA" },
        { token: ok.id_token, nonce: "nonce-1", accessToken: ok.access_token },
        { token: ok.id_token }, // again: the linked account's tokens updated
      ];
      for (const idToken of cases) answers[side].push(await s[side].post("/link-social", { provider: "acme", idToken }));
    }
    assert.deepEqual(answers.gh, answers.ba);
    assert.deepEqual(
      answers.gh.map((a) => a.json?.code ?? a.status),
      ["LINKING_NOT_ALLOWED", "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED", "FAILED_TO_GET_USER_INFO", "INVALID_TOKEN", "INVALID_TOKEN", 200, 200],
    );
    // one side's provider account brought by the other side's user: 409 from both
    const crossBa = await s.ba.post("/link-social", { provider: "acme", idToken: { token: (await mint("gh-ok")).id_token } });
    const crossGh = await s.gh.post("/link-social", { provider: "acme", idToken: { token: (await mint("ba-ok")).id_token } });
    assert.deepEqual(crossGh, crossBa);
    assert.equal(crossGh.status, 409);
    const row = async (userId) => srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${userId} AND "providerId" = 'acme'`);
    const byBa = await row(s.ba.userId);
    const byGh = await row(s.gh.userId);
    for (const col of Object.keys(byBa)) assert.equal(byGh[col] === null, byBa[col] === null, `${col}: NULL on one side only (${byBa[col]} / ${byGh[col]})`);
    assert.equal(byGh.accountId, "gh-ok");
    assert.equal(byBa.accountId, "ba-ok");
  });

  it("sign-in/social {idToken}: the same answers (an ID token without e-mail and an access token: no profile on either side)", async () => {
    const noMail = await mint("gh-nomail");
    const ok = await mint("gh-ok");
    for (const idToken of [{ token: noMail.id_token, accessToken: noMail.access_token }, { token: ok.id_token, nonce: "x" }]) {
      const b = await ba.request("POST", "/sign-in/social", { json: { provider: "acme", idToken } });
      const g = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", idToken } });
      assert.deepEqual({ status: g.status, json: g.json }, { status: b.status, json: b.json });
    }
    // a good one signs the same user in on both sides
    const b = await ba.request("POST", "/sign-in/social", { json: { provider: "acme", idToken: { token: ok.id_token } } });
    const g = await raw(srv, "POST", "/sign-in/social", { json: { provider: "acme", idToken: { token: ok.id_token } } });
    assert.equal(b.status, 200, b.text);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.user.id, b.json.user.id);
    assert.deepEqual(Object.keys(g.json), Object.keys(b.json).filter((k) => b.json[k] !== undefined));
  });
});

// A provider that accepts connections and never answers its token endpoint (a fault a real
// provider only shows when it is in trouble): OAuth callbacks waiting on it hold at most
// GATEHOUSE_OAUTH_MAX_CONCURRENT workers, so e-mail/password sign-in is served meanwhile.
describe("oauth: a hanging provider never takes the worker pool from password sign-in", () => {
  let srv, hang;
  const held = [];
  before(async () => {
    const http = await import("node:http");
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    hang = http.createServer((req, res) => {
      if (req.url.startsWith("/.well-known/openid-configuration")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ["RS256"] }));
        return;
      }
      held.push(res); // /token: never answered
    });
    await new Promise((r) => hang.listen(port, "127.0.0.1", r));
    srv = await startServer({
      backend: "sqlite",
      hint: "oauth-hang",
      env: {
        GATEHOUSE_OIDC_SLOW_DISCOVERY_URL: `${issuer}/.well-known/openid-configuration`,
        GATEHOUSE_OIDC_SLOW_CLIENT_ID: "gatehouse",
        GATEHOUSE_OAUTH_TIMEOUT_MS: "4000",
        GATEHOUSE_OAUTH_MAX_CONCURRENT: "1",
        GATEHOUSE_HASH_WORKERS: "2",
      },
    });
  });
  after(async () => {
    await srv?.stop();
    for (const r of held) r.destroy();
    hang?.close();
  });

  it("one callback waits on the provider, the others are answered temporarily_unavailable at once, and a password sign-in completes before the waiting one", async () => {
    const user = await signUp(srv, { email: newEmail("hang") });
    const starts = [];
    for (let i = 0; i < 3; i++) {
      const jar = new CookieJar();
      const r = await raw(srv, "POST", "/sign-in/social", { json: { provider: "slow" }, jar });
      assert.equal(r.status, 200, r.text);
      starts.push({ jar, state: new URL(r.json.url).searchParams.get("state") });
    }
    const order = [];
    const callbacks = starts.map(({ jar, state }, i) =>
      raw(srv, "GET", `/callback/slow?code=c${i}&state=${state}`, { jar, origin: null, localAddress: `127.0.0.${3 + i}` }).then((res) => {
        order.push(`callback:${new URL(res.headers.location, srv.url).searchParams.get("error")}`);
        return res;
      }),
    );
    while (held.length < 1) await sleep(20); // one callback is now waiting on the provider
    const signin = await raw(srv, "POST", "/sign-in/email", { json: { email: user.email, password: user.password }, localAddress: "127.0.0.2" });
    order.push(`sign-in:${signin.status}`);
    await Promise.all(callbacks);
    assert.equal(held.length, 1, "only one request reached the provider");
    assert.deepEqual(order.filter((e) => e.startsWith("callback:temporarily")).length, 2, order.join(" "));
    assert.ok(order.indexOf("sign-in:200") >= 0, order.join(" "));
    assert.ok(order.indexOf("sign-in:200") < order.indexOf("callback:invalid_code"), `sign-in before the waiting callback: ${order.join(" ")}`);
  });
});

// The built-in providers with their endpoints pointed at the real OpenID provider (the overrides
// exist for exactly this: tests and private deployments). Google: ID token claims, no nonce,
// include_granted_scopes; Apple: response_mode=form_post through POST /callback/apple. With
// e-mail verification required, the sign-in gate of the e-mail plugin refuses a user whose
// provider did not verify the address: the callback redirects with its code.
describe("oauth: Google and Apple (endpoints overridden to the real provider), form_post, the sign-in gate", () => {
  let srv, op;
  const people = {
    gwen: { email: newEmail("gwen"), email_verified: true, name: "Gwen", picture: "https://img.example/g.png" },
    axel: { email: newEmail("axel"), email_verified: "true", name: "Axel" },
    nora: { email: newEmail("nora"), email_verified: false, name: "Nora" },
  };
  before(async () => {
    const opPort = await freePort();
    const iss = `http://127.0.0.1:${opPort}`;
    const endpoints = (p) => ({
      [`GATEHOUSE_${p}_AUTHORIZATION_URL`]: `${iss}/auth`,
      [`GATEHOUSE_${p}_TOKEN_URL`]: `${iss}/token`,
      [`GATEHOUSE_${p}_JWKS_URL`]: `${iss}/jwks`,
      [`GATEHOUSE_${p}_ISSUER`]: iss,
    });
    srv = await startServer({
      backend: "sqlite",
      hint: "oauth-builtin",
      env: {
        GATEHOUSE_GOOGLE_CLIENT_ID: "google-client",
        GATEHOUSE_GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
        ...endpoints("GOOGLE"),
        GATEHOUSE_APPLE_CLIENT_ID: "apple-client",
        GATEHOUSE_APPLE_CLIENT_SECRET: CLIENT_SECRET,
        GATEHOUSE_APPLE_SCOPES: "openid email name",
        ...endpoints("APPLE"),
        GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true",
      },
    });
    const client = (id, provider) => ({
      client_id: id,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${srv.url}/api/auth/callback/${provider}`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    });
    op = await startOidcProvider({ port: opPort, clients: [client("google-client", "google"), client("apple-client", "apple")], users: people, conform: false });
  });
  after(async () => {
    await op?.stop();
    await srv?.stop();
  });

  it("Google: the authorization URL as better-auth builds it; sign-up from the ID token's claims (picture → image)", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "google", callbackURL: "/in" }, jar });
    assert.equal(start.status, 200, start.text);
    const q = new URL(start.json.url).searchParams;
    assert.equal(q.get("scope"), "email profile openid");
    assert.equal(q.get("include_granted_scopes"), "true");
    assert.equal(q.get("nonce"), null, "google: no nonce binding (as better-auth)");
    assert.equal(q.get("code_challenge_method"), "S256");
    const cb = await browserAuthorize(start.json.url, { login: "gwen", stopAt: `${srv.url}/api/auth/callback/google` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/in");
    const s = (await raw(srv, "GET", "/get-session", { jar })).json;
    assert.equal(s.user.email, people.gwen.email);
    assert.equal(s.user.image, people.gwen.picture);
    const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${s.user.id}`);
    assert.equal(acc.providerId, "google");
    assert.equal(acc.accountId, "gwen");
    // account-info: the profile of the stored ID token, as better-auth's google getUserInfo
    // decodes it (Google has no userinfo call here)
    const info = await raw(srv, "GET", `/account-info?accountId=${acc.id}`, { jar });
    assert.equal(info.status, 200, info.text);
    assert.deepEqual(info.json.user, { name: "Gwen", email: people.gwen.email, image: people.gwen.picture, emailVerified: true });
    assert.equal(info.json.data.sub, "gwen");
    assert.deepEqual(info.json.account, { id: acc.id, providerId: "google", accountId: "gwen" });
    // the idToken flow (Google supports it): the stored ID token signs in directly
    const idt = await raw(srv, "POST", "/sign-in/social", { json: { provider: "google", idToken: { token: acc.idToken } } });
    assert.equal(idt.status, 200, idt.text);
    assert.equal(idt.json.user.id, s.user.id);
  });

  it("Apple: response_mode=form_post; the provider's page posts to /callback/apple, which moves to a GET and signs in (email_verified as the string \"true\")", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "apple", callbackURL: "/in" }, jar });
    assert.equal(new URL(start.json.url).searchParams.get("response_mode"), "form_post");
    const out = await browserAuthorize(start.json.url, { login: "axel", stopAt: `${srv.url}/api/auth/callback/apple` });
    assert.ok(out.formPost?.code, `form_post page: ${JSON.stringify(out)}`);
    const post = await raw(srv, "POST", "/callback/apple", { form: out.formPost, origin: null });
    assert.equal(post.status, 302);
    const get = new URL(post.headers.location);
    assert.equal(get.pathname, "/api/auth/callback/apple");
    const res = await raw(srv, "GET", `/callback/apple${get.search}`, { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/in");
    const s = (await raw(srv, "GET", "/get-session", { jar })).json;
    assert.equal(s.user.email, people.axel.email);
    assert.equal(s.user.emailVerified, true);
  });

  it("the sign-in gate runs before the OAuth session: an address the provider did not verify → error=EMAIL_NOT_VERIFIED, no session", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "google" }, jar });
    const cb = await browserAuthorize(start.json.url, { login: "nora", stopAt: `${srv.url}/api/auth/callback/google` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    const loc = new URL(res.headers.location);
    assert.equal(loc.searchParams.get("error"), "EMAIL_NOT_VERIFIED");
    assert.ok(!res.cookie("better-auth.session_token")?.value, "no session cookie");
    assert.equal((await raw(srv, "GET", "/get-session", { jar })).json, null);
    assert.ok(srv.logs.some((o) => o.event === "sign_in.gated" && o.provider === "google"), "audited as gated");
  });
});

describe("oauth: configuration", () => {
  it("a provider without what it needs stops serve and check-config at start, naming the variable", async () => {
    const env = { DATABASE_URL: "sqlite::memory:", GATEHOUSE_SECRET: "0123456789abcdef0123456789abcdef0123", GATEHOUSE_BASE_URL: "http://127.0.0.1:3997", PORT: "3997" };
    for (const [extra, re] of [
      [{ GATEHOUSE_GOOGLE_CLIENT_ID: "x" }, /GATEHOUSE_GOOGLE_CLIENT_SECRET is required/],
      [{ GATEHOUSE_OIDC_ACME_DISCOVERY_URL: "https://idp.example/.well-known/openid-configuration" }, /GATEHOUSE_OIDC_ACME_CLIENT_ID is required/],
      [{ GATEHOUSE_OIDC_ACME_DISCOVERY_URL: "http://idp.example/d", GATEHOUSE_OIDC_ACME_CLIENT_ID: "c" }, /GATEHOUSE_OIDC_ACME_DISCOVERY_URL must be https/],
      [{ GATEHOUSE_OIDC_ACME_DISCOVERY_URL: "https://idp.example/d", GATEHOUSE_OIDC_ACME_CLIENT_ID: "c", GATEHOUSE_OIDC_ACME_PKCE: "maybe" }, /GATEHOUSE_OIDC_ACME_PKCE: expected true or false/],
    ]) {
      for (const args of [["check-config"], ["serve", "--migrate"]]) {
        const r = await runCli(args, { env: { ...env, ...extra }, timeoutMs: 15000 });
        assert.equal(r.code, 2, `${args[0]} ${JSON.stringify(extra)}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, re);
      }
    }
    const ok = await runCli(["check-config"], { env: { ...env, GATEHOUSE_OIDC_ACME_DISCOVERY_URL: "https://idp.example/d", GATEHOUSE_OIDC_ACME_CLIENT_ID: "c" } });
    assert.equal(ok.code, 0, ok.stderr);
  });
});
