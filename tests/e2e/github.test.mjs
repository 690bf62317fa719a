// Sign-in with GitHub end to end, against the GitHub-shaped OAuth server of lib/github.mjs
// (github.com cannot be reached from a test run; gatehouse's GitHub endpoints are overridable for
// exactly this). The browser-style web flow: sign-in/social → GitHub's login and Authorize pages →
// /callback/github; the server checks client id and secret, redirect_uri, single-use codes, PKCE
// and state, answers its token endpoint in JSON only when asked to, and its API only with a
// User-Agent and a live Bearer token, so a protocol slip of gatehouse fails these tests. What is
// asserted is what better-auth's github provider does (packages/core social-providers/github.ts):
// the e-mail from /user, else the primary (else the first) of /user/emails, verified as that
// address is listed; name falling back to login; image = avatar_url; accountId = the numeric id as a
// string. The last block runs the REAL better-auth github provider against the same server (its
// fetch of github.com rerouted in-process) on one PostgreSQL database, both ways.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CookieJar } from "./lib/cookies.mjs";
import { sql, toBool } from "./lib/db.mjs";
import { ID32, assertError, forEachBackend, newEmail, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { githubAuthorize, startGitHub } from "./lib/github.mjs";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { backends } from "./lib/config.mjs";
import { freshDatabaseUrl, startServer } from "./lib/server.mjs";

const CLIENT_ID = "Iv1.e2e0123456789abc";
const CLIENT_SECRET = "e2e-github-secret-0123456789abcdef0123456789";

/** GitHub users: a numeric id each; e-mail addresses as GitHub lists them. */
function people() {
  const e = (tag) => newEmail(tag);
  const p = {};
  let id = 9000001;
  const add = (login, u) => (p[login] = { id: id++, ...u });
  const m = {
    octo: e("octo"),
    private1: e("private"),
    noprimary: e("noprimary"),
    unverified: e("unverified"),
    linker: e("linker"),
    locked: e("locked"),
    nameless: e("nameless"),
    social: e("social"),
    other: e("other"),
  };
  add("octo", { name: "Octo Cat", email: m.octo, emails: [{ email: m.octo, primary: true, verified: true, visibility: "public" }] });
  // no public e-mail: the primary+verified one of /user/emails (listed after another)
  const side = e("side");
  add("private1", {
    name: "Private One",
    email: null,
    emails: [
      { email: side, primary: false, verified: true, visibility: null },
      { email: m.private1, primary: true, verified: true, visibility: "private" },
    ],
  });
  // no primary flagged: better-auth takes the first address
  add("noprimary", { name: "No Primary", email: null, emails: [{ email: m.noprimary, primary: false, verified: true, visibility: null }, { email: e("second"), primary: false, verified: true, visibility: null }] });
  add("unverified", { name: "Unverified", email: null, emails: [{ email: m.unverified, primary: true, verified: false, visibility: "private" }] });
  add("linker", { name: "Linker", email: null, emails: [{ email: m.linker, primary: true, verified: true, visibility: "private" }] });
  add("locked", { name: "Locked", email: null, emails: [{ email: m.locked, primary: true, verified: true, visibility: "private" }] });
  add("nameless", { name: null, email: m.nameless, avatar_url: "https://avatars.example/nameless.png", emails: [{ email: m.nameless, primary: true, verified: true, visibility: "public" }] });
  add("social", { name: "Social", email: null, emails: [{ email: m.social, primary: true, verified: true, visibility: "private" }] });
  add("other", { name: "Other", email: null, emails: [{ email: m.other, primary: true, verified: true, visibility: "private" }] });
  add("noemail", { name: "No Email", email: null, emails: [] });
  add("down", { name: "Down", email: null, emails: [{ email: e("down"), primary: true, verified: true, visibility: "private" }] });
  return p;
}

forEachBackend("github", (backend) => {
  let srv, gh, users;
  const T = (v) => (backend === "sqlite" ? (v ? 1 : 0) : v);

  before(async () => {
    users = people();
    // the callback URL is registered once gatehouse's port is known: start GitHub with a
    // placeholder app and fill it in
    const app = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackUrls: [] };
    gh = await startGitHub({ apps: [app], users });
    srv = await startServer({
      backend,
      hint: "github",
      env: { GATEHOUSE_GITHUB_CLIENT_ID: CLIENT_ID, GATEHOUSE_GITHUB_CLIENT_SECRET: CLIENT_SECRET, ...gh.env() },
    });
    app.callbackUrls.push(`${srv.url}/api/auth/callback/github`);
  });
  after(async () => {
    await gh?.stop();
    await srv?.stop();
  });

  const cbPrefix = () => `${srv.url}/api/auth/callback/github`;
  const pathOf = (url) => url.slice(`${srv.url}/api/auth`.length);
  async function flow(login, { jar = new CookieJar(), body = {}, route = "/sign-in/social", approve = true } = {}) {
    const start = await raw(srv, "POST", route, { json: { provider: "github", callbackURL: "/dashboard", ...body }, jar });
    assert.equal(start.status, 200, start.text);
    const cb = await githubAuthorize(start.json.url, { login, stopAt: cbPrefix(), approve });
    const res = await raw(srv, "GET", pathOf(cb), { jar, origin: null });
    return { start, cb, res, jar };
  }
  const errorOf = (res) => {
    assert.equal(res.status, 302, res.text);
    return new URL(res.headers.location, srv.url).searchParams.get("error");
  };
  const session = async (jar) => (await raw(srv, "GET", "/get-session", { jar })).json;

  it("sign-in/social: GitHub's authorize URL as better-auth builds it (client_id, redirect_uri, scopes read:user user:email, state, PKCE S256, no nonce)", async () => {
    const jar = new CookieJar();
    const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github" }, jar });
    assert.equal(res.status, 200, res.text);
    const u = new URL(res.json.url);
    assert.equal(`${u.origin}${u.pathname}`, gh.authorizeUrl);
    assert.deepEqual([...u.searchParams.keys()], ["response_type", "client_id", "state", "scope", "redirect_uri", "code_challenge_method", "code_challenge"]);
    const q = u.searchParams;
    assert.equal(q.get("client_id"), CLIENT_ID);
    assert.equal(q.get("scope"), "read:user user:email");
    assert.equal(q.get("redirect_uri"), cbPrefix());
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.ok(res.cookie("better-auth.state"), "state cookie");
  });

  describe("sign-up and sign-in", () => {
    let octoId, accountRow;
    it("sign-up via GitHub: user from /user (public e-mail verified in /user/emails, avatar_url → image), account row as better-auth writes it for github", async () => {
      const n0 = gh.requests.length;
      const { res, jar, start } = await flow("octo", { body: { newUserCallbackURL: "/welcome" } });
      assert.equal(res.status, 302, res.text);
      assert.equal(res.headers.location, "/welcome");
      const s = await session(jar);
      assert.equal(s.user.email, users.octo.email);
      assert.equal(s.user.name, "Octo Cat");
      assert.equal(s.user.emailVerified, true);
      assert.equal(s.user.image, `https://avatars.githubusercontent.com/u/${users.octo.id}?v=4`);
      octoId = s.user.id;
      const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${octoId}`);
      accountRow = acc;
      assert.match(acc.id, ID32);
      assert.equal(acc.providerId, "github");
      assert.equal(acc.accountId, String(users.octo.id), "accountId = GitHub's numeric id as a string");
      assert.match(acc.accessToken, /^gho_[A-Za-z0-9]{36}$/, "the access token as GitHub issued it (encryption off)");
      assert.equal(acc.refreshToken, null);
      assert.equal(acc.idToken, null);
      assert.equal(acc.accessTokenExpiresAt, null);
      assert.equal(acc.refreshTokenExpiresAt, null);
      assert.equal(acc.password, null);
      assert.equal(acc.scope, "read:user,user:email", "GitHub's comma-joined scope, as better-auth stores it");
      // what gatehouse sent to GitHub
      const sent = gh.requests.slice(n0);
      const state = new URL(start.json.url).searchParams.get("state");
      const auth = sent.filter((r) => r.path === "/login/oauth/authorize" && r.method === "GET").at(-1);
      assert.equal(auth.query.state, state);
      const [tok] = sent.filter((r) => r.path === "/login/oauth/access_token");
      assert.equal(tok.method, "POST");
      assert.match(tok.headers.accept, /application\/json/, "asks for JSON (GitHub answers form-encoded otherwise)");
      assert.match(tok.headers["content-type"], /^application\/x-www-form-urlencoded/);
      assert.deepEqual(Object.keys(tok.form).sort(), ["client_id", "client_secret", "code", "code_verifier", "grant_type", "redirect_uri"]);
      assert.equal(tok.form.grant_type, "authorization_code");
      assert.equal(tok.form.redirect_uri, cbPrefix());
      for (const p of ["/user", "/user/emails"]) {
        const r = sent.find((x) => x.path === p);
        assert.ok(r, `${p} asked`);
        assert.equal(r.headers.authorization, `Bearer ${acc.accessToken}`);
        assert.ok(r.headers["user-agent"], "User-Agent (GitHub refuses requests without one)");
      }
    });

    it("sign-in again: the same user and account row (tokens updated, scope kept), redirect to callbackURL", async () => {
      const users0 = await srv.db.count("user");
      const { res, jar } = await flow("octo");
      assert.equal(res.headers.location, "/dashboard", res.text);
      assert.equal((await session(jar)).user.id, octoId);
      assert.equal(await srv.db.count("user"), users0);
      const rows = await srv.db.accountsOf(octoId);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].id, accountRow.id);
      assert.equal(rows[0].accountId, String(users.octo.id));
      assert.notEqual(rows[0].accessToken, accountRow.accessToken, "the new access token");
      assert.equal(rows[0].scope, accountRow.scope);
    });

    it("no public e-mail: the primary (and verified) address of /user/emails, not the first listed", async () => {
      const { res, jar } = await flow("private1");
      assert.equal(res.status, 302, res.text);
      const s = await session(jar);
      assert.equal(s.user.email, users.private1.emails[1].email);
      assert.equal(s.user.emailVerified, true);
    });

    it("no address flagged primary: the first of /user/emails (better-auth: find(primary) ?? emails[0])", async () => {
      const { res, jar } = await flow("noprimary");
      assert.equal(res.status, 302, res.text);
      const s = await session(jar);
      assert.equal(s.user.email, users.noprimary.emails[0].email);
      assert.equal(s.user.emailVerified, true);
    });

    it("an unverified primary address: the user is created with emailVerified false (and signed in, as better-auth)", async () => {
      const { res, jar } = await flow("unverified");
      assert.equal(res.status, 302, res.text);
      const s = await session(jar);
      assert.equal(s.user.email, users.unverified.emails[0].email);
      assert.equal(s.user.emailVerified, false);
      const row = await srv.db.userByEmail(users.unverified.emails[0].email);
      assert.equal(row.emailVerified, T(false));
    });

    it("name null: the login is the name; image = avatar_url", async () => {
      const { res, jar } = await flow("nameless");
      assert.equal(res.status, 302, res.text);
      const s = await session(jar);
      assert.equal(s.user.name, "nameless");
      assert.equal(s.user.image, "https://avatars.example/nameless.png");
    });

    it("no e-mail at all (none public, /user/emails empty) → error=email_not_found, nothing written", async () => {
      const before = await srv.db.snapshot();
      const { res } = await flow("noemail");
      assert.equal(errorOf(res), "email_not_found");
      const after = await srv.db.snapshot();
      assert.equal(after.user, before.user);
      assert.equal(after.account, before.account);
    });

    it("GET /account-info: GitHub's profile through /user with the stored token, better-auth's shape", async () => {
      const jar = (await flow("octo")).jar;
      const [acc] = (await raw(srv, "GET", "/list-accounts", { jar })).json;
      assert.deepEqual(acc.scopes, ["read:user", "user:email"]);
      const info = await raw(srv, "GET", `/account-info?accountId=${acc.id}`, { jar });
      assert.equal(info.status, 200, info.text);
      assert.deepEqual(Object.keys(info.json), ["user", "data", "account"]);
      assert.deepEqual(info.json.user, { name: "Octo Cat", email: users.octo.email, image: `https://avatars.githubusercontent.com/u/${users.octo.id}?v=4`, emailVerified: true });
      assert.equal(info.json.data.id, users.octo.id);
      assert.equal(info.json.data.login, "octo");
      assert.deepEqual(info.json.account, { id: acc.id, providerId: "github", accountId: String(users.octo.id) });
      const tok = await raw(srv, "POST", "/get-access-token", { json: { accountId: acc.id }, jar });
      assert.equal(tok.status, 200, tok.text);
      assert.deepEqual(tok.json.scopes, ["read:user", "user:email"]);
    });
  });

  describe("account linking", () => {
    it("implicit: an e-mail/password user whose e-mail is verified gets the GitHub account linked (GitHub verified the address too)", async () => {
      const local = await signUp(srv, { email: users.linker.emails[0].email });
      // unverified local e-mail first: not linked (requireLocalEmailVerified, default on)
      const refused = await flow("linker");
      assert.equal(errorOf(refused.res), "account_not_linked");
      assert.equal((await srv.db.accountsOf(local.user.id)).length, 1, "only the credential account");
      await srv.db.exec(`UPDATE "user" SET "emailVerified" = ${backend === "sqlite" ? 1 : "true"} WHERE id = '${local.user.id}'`);
      const { res, jar } = await flow("linker");
      assert.equal(res.headers.location, "/dashboard", res.text);
      assert.equal((await session(jar)).user.id, local.user.id, "the existing user");
      const rows = await srv.db.accountsOf(local.user.id);
      assert.deepEqual(rows.map((r) => r.providerId).sort(), ["credential", "github"]);
      assert.equal(rows.find((r) => r.providerId === "github").accountId, String(users.linker.id));
      await signIn(srv, { email: local.email }); // the password still signs in
    });

    it("implicit: GitHub's address unverified → never linked, even to a verified local user (account_not_linked)", async () => {
      const addr = newEmail("unv-local");
      users.unv2 = { id: 9000100, name: "Unv2", email: null, emails: [{ email: addr, primary: true, verified: false, visibility: null }] };
      const local = await signUp(srv, { email: addr });
      await srv.db.exec(`UPDATE "user" SET "emailVerified" = ${backend === "sqlite" ? 1 : "true"} WHERE id = '${local.user.id}'`);
      const { res } = await flow("unv2");
      assert.equal(errorOf(res), "account_not_linked");
      assert.equal((await srv.db.accountsOf(local.user.id)).length, 1);
    });

    it("POST /link-social (redirect flow through GitHub): a signed-in user links GitHub; another GitHub user's address → email_does_not_match", async () => {
      const local = await signUp(srv, { email: users.social.emails[0].email });
      const { res } = await flow("social", { route: "/link-social", jar: local.jar, body: { callbackURL: "/settings" } });
      assert.equal(res.headers.location, "/settings", res.text);
      const list = (await raw(srv, "GET", "/list-accounts", { jar: local.jar })).json;
      assert.deepEqual(list.map((a) => a.providerId).sort(), ["credential", "github"]);
      assert.equal(list.find((a) => a.providerId === "github").accountId, String(users.social.id));
      const other = await flow("other", { route: "/link-social", jar: local.jar });
      assert.equal(errorOf(other.res), "email_does_not_match");
    });

    it("the idToken variants: GitHub has no ID tokens → 404 ID_TOKEN_NOT_SUPPORTED (sign-in/social and link-social)", async () => {
      const res = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github", idToken: { token: "a.b.c" } } });
      assertError(res, 404, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported");
      const local = await signUp(srv);
      const link = await raw(srv, "POST", "/link-social", { json: { provider: "github", idToken: { token: "a.b.c" } }, jar: local.jar });
      assertError(link, 404, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported");
    });
  });

  describe("failures redirect to the error URL", () => {
    it("the token endpoint refuses (HTTP 200 {error: bad_verification_code}: a code already redeemed) → invalid_code at errorCallbackURL, nothing written", async () => {
      const first = await flow("octo");
      assert.equal(first.res.status, 302);
      const code = new URL(first.cb).searchParams.get("code");
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github", errorCallbackURL: "/oops" }, jar });
      const state = new URL(start.json.url).searchParams.get("state");
      const before = await srv.db.snapshot();
      const n0 = gh.requests.length;
      const res = await raw(srv, "GET", `/callback/github?code=${code}&state=${state}`, { jar, origin: null });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, "/oops?error=invalid_code");
      assert.ok(!res.cookie("better-auth.session_token")?.value, "no session");
      assert.equal(gh.requests.slice(n0).filter((r) => r.path === "/user").length, 0, "no profile asked with no token");
      const after = await srv.db.snapshot();
      assert.equal(after.user, before.user);
      assert.equal(after.session, before.session);
    });

    it("the user clicks Cancel at GitHub → error=access_denied with GitHub's description, state checked", async () => {
      const { res } = await flow("octo", { approve: false });
      assert.equal(errorOf(res), "access_denied");
      assert.equal(new URL(res.headers.location, srv.url).searchParams.get("error_description"), "The user has denied your application access.");
    });

    it("a GitHub callback with another browser's state → state_mismatch (GitHub hands state back unchanged; gatehouse binds it to the browser)", async () => {
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github" }, jar });
      const cb = await githubAuthorize(start.json.url, { login: "octo", stopAt: cbPrefix() });
      assert.equal(new URL(cb).searchParams.get("state"), new URL(start.json.url).searchParams.get("state"));
      const res = await raw(srv, "GET", pathOf(cb), { jar: new CookieJar(), origin: null });
      assert.equal(errorOf(res), "state_mismatch");
    });

    it("GitHub down: the callback redirects with invalid_code, e-mail/password sign-in still works", async () => {
      const local = await signUp(srv);
      const jar = new CookieJar();
      const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github" }, jar });
      const cb = await githubAuthorize(start.json.url, { login: "down", stopAt: cbPrefix() });
      await gh.stop();
      const res = await raw(srv, "GET", pathOf(cb), { jar, origin: null });
      assert.equal(errorOf(res), "invalid_code");
      await signIn(srv, { email: local.email });
      assert.equal((await raw(srv, "POST", "/sign-in/social", { json: { provider: "github" } })).status, 200, "the authorize URL needs no call to GitHub");
      for (const line of srv.stderrLines) assert.ok(!line.includes(CLIENT_SECRET), "no client secret in the logs");
    });
  });
});

// The GitHub-shaped server's own checks, driven directly: each refusal the github suite relies on
// to catch a protocol slip of gatehouse is live (a check that never fires would let one through).
describe("github: the GitHub-shaped server refuses what GitHub refuses", () => {
  let gh;
  const CB = "http://127.0.0.1:9/api/auth/callback/github";
  const users = { tess: { id: 9300001, name: "Tess", email: null, emails: [{ email: newEmail("tess"), primary: true, verified: true, visibility: null }] } };
  before(async () => {
    gh = await startGitHub({ apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackUrls: [CB] }], users });
  });
  after(async () => gh?.stop());
  const verifier = "v".repeat(64);
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  async function code(params = {}) {
    const q = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: CB, scope: "read:user user:email", state: "s1", code_challenge_method: "S256", code_challenge: challenge, ...params });
    const cb = await githubAuthorize(`${gh.authorizeUrl}?${q}`, { login: "tess", stopAt: "http://127.0.0.1:9/" });
    const u = new URL(cb);
    assert.equal(u.searchParams.get("state"), "s1", "state handed back");
    return u.searchParams.get("code");
  }
  const token = async (form, accept = "application/json") => {
    const res = await fetch(gh.tokenUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...(accept ? { accept } : {}) }, body: new URLSearchParams(form).toString() });
    assert.equal(res.status, 200, "GitHub answers 200, errors too");
    return accept ? res.json() : res.text();
  };
  const good = (c) => ({ grant_type: "authorization_code", code: c, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: CB, code_verifier: verifier });

  it("token endpoint: a good exchange, then every slip refused with GitHub's error", async () => {
    const ok = await token(good(await code()));
    assert.match(ok.access_token, /^gho_/);
    assert.equal(ok.scope, "read:user,user:email");
    const c1 = await code();
    await token(good(c1));
    assert.equal((await token(good(c1))).error, "bad_verification_code", "a code is single use");
    assert.equal((await token({ ...good(await code()), client_secret: "wrong" })).error, "incorrect_client_credentials");
    assert.equal((await token({ ...good(await code()), client_id: "other" })).error, "incorrect_client_credentials");
    assert.equal((await token({ ...good(await code()), redirect_uri: "http://127.0.0.1:9/elsewhere" })).error, "redirect_uri_mismatch");
    assert.equal((await token({ ...good(await code()), code_verifier: "w".repeat(64) })).error, "bad_verification_code", "PKCE verifier");
    const { code_verifier: _, ...noVerifier } = good(await code());
    assert.equal((await token(noVerifier)).error, "bad_verification_code", "PKCE verifier missing");
    const form = await token(good(await code()), null);
    assert.match(form, /^access_token=gho_[^&]+&scope=read%3Auser%2Cuser%3Aemail&token_type=bearer$/, "form-encoded unless JSON is asked for");
  });

  it("authorize: unknown client 404; a redirect_uri off the callback URL → redirect_uri_mismatch to the registered one; only S256; Cancel → access_denied", async () => {
    assert.equal((await fetch(`${gh.authorizeUrl}?client_id=nope`)).status, 404);
    const off = await fetch(`${gh.authorizeUrl}?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: "http://evil.example/cb", state: "s" })}`, { redirect: "manual" });
    const loc = new URL(off.headers.get("location"));
    assert.equal(`${loc.origin}${loc.pathname}`, CB);
    assert.equal(loc.searchParams.get("error"), "redirect_uri_mismatch");
    const plain = await fetch(`${gh.authorizeUrl}?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: CB, code_challenge_method: "plain", code_challenge: "x".repeat(43) })}`, { redirect: "manual" });
    assert.equal(new URL(plain.headers.get("location")).searchParams.get("error"), "invalid_request");
    const q = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: CB, state: "s2" });
    const denied = new URL(await githubAuthorize(`${gh.authorizeUrl}?${q}`, { login: "tess", stopAt: "http://127.0.0.1:9/", approve: false }));
    assert.equal(denied.searchParams.get("error"), "access_denied");
    assert.equal(denied.searchParams.get("state"), "s2");
  });

  it("API: User-Agent required (403), Bearer of a live token (401 otherwise), /user/emails needs the user:email scope (404)", async () => {
    const { access_token } = await token(good(await code()));
    const get = (path, headers) => fetch(`${gh.api}${path}`, { headers });
    assert.equal((await get("/user", { authorization: `Bearer ${access_token}`, "user-agent": "" })).status, 403);
    assert.equal((await get("/user", { "user-agent": "t" })).status, 401);
    assert.equal((await get("/user", { authorization: "Bearer gho_nope", "user-agent": "t" })).status, 401);
    const me = await (await get("/user", { authorization: `Bearer ${access_token}`, "user-agent": "t" })).json();
    assert.equal(me.id, users.tess.id);
    assert.equal(me.email, null);
    const emails = await get("/user/emails", { authorization: `token ${access_token}`, "user-agent": "t" });
    assert.deepEqual(await emails.json(), users.tess.emails);
    const narrow = await token(good(await code({ scope: "read:user" })));
    assert.equal(narrow.scope, "read:user");
    assert.equal((await get("/user/emails", { authorization: `Bearer ${narrow.access_token}`, "user-agent": "t" })).status, 404);
  });
});

// GitHub Apps with expiring user tokens: expires_in / refresh_token stored as better-auth stores
// them, and /refresh-token through GitHub's refresh_token grant.
describe("github: expiring user tokens (GitHub App)", () => {
  let srv, gh;
  const users = { appuser: { id: 9100001, name: "App User", email: null, emails: [{ email: newEmail("appuser"), primary: true, verified: true, visibility: null }] } };
  before(async () => {
    const app = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackUrls: [], expiring: true };
    gh = await startGitHub({ apps: [app], users });
    srv = await startServer({ backend: "sqlite", hint: "github-app", env: { GATEHOUSE_GITHUB_CLIENT_ID: CLIENT_ID, GATEHOUSE_GITHUB_CLIENT_SECRET: CLIENT_SECRET, ...gh.env() } });
    app.callbackUrls.push(`${srv.url}/api/auth/callback/github`);
  });
  after(async () => {
    await gh?.stop();
    await srv?.stop();
  });

  it("sign-up stores the refresh token and both expiries; /refresh-token gets a new access token from GitHub (the old refresh token is spent)", async () => {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github", callbackURL: "/" }, jar });
    const cb = await githubAuthorize(start.json.url, { login: "appuser", stopAt: `${srv.url}/api/auth/callback/github` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/");
    const acc = await srv.db.one(sql`SELECT * FROM "account" WHERE "providerId" = 'github'`);
    assert.match(acc.refreshToken, /^ghr_/);
    const exp = new Date(acc.accessTokenExpiresAt).getTime();
    assert.ok(Math.abs(exp - (Date.now() + 28800 * 1000)) < 120000, `accessTokenExpiresAt ${acc.accessTokenExpiresAt}`);
    assert.ok(acc.refreshTokenExpiresAt, "refreshTokenExpiresAt");
    assert.equal(acc.scope, "", "GitHub Apps grant no scopes: empty, as better-auth stores []");
    const ref = await raw(srv, "POST", "/refresh-token", { json: { accountId: acc.id }, jar });
    assert.equal(ref.status, 200, ref.text);
    assert.notEqual(ref.json.accessToken, acc.accessToken);
    assert.notEqual(ref.json.refreshToken, acc.refreshToken);
    const [r] = gh.sent("token").filter((x) => x.form.grant_type === "refresh_token");
    assert.deepEqual(Object.keys(r.form).sort(), ["client_id", "client_secret", "grant_type", "refresh_token"]);
    const stored = await srv.db.one(sql`SELECT * FROM "account" WHERE id = ${acc.id}`);
    assert.equal(stored.accessToken, ref.json.accessToken);
    assert.equal(stored.refreshToken, ref.json.refreshToken);
    // the new token works at GitHub's API
    const info = await raw(srv, "GET", `/account-info?accountId=${acc.id}`, { jar });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.json.user.email, users.appuser.emails[0].email);
    // an access token at its expiry: get-access-token refreshes it at GitHub first
    await srv.db.exec(`UPDATE "account" SET "accessTokenExpiresAt" = '2020-01-01T00:00:00.000Z' WHERE id = '${acc.id}'`);
    const fresh = await raw(srv, "POST", "/get-access-token", { json: { accountId: acc.id }, jar });
    assert.equal(fresh.status, 200, fresh.text);
    assert.notEqual(fresh.json.accessToken, ref.json.accessToken, "refreshed");
    assert.ok(new Date(fresh.json.accessTokenExpiresAt).getTime() > Date.now() + 3600 * 1000, "GitHub's new expiry");
    assert.equal(gh.sent("token").filter((x) => x.form.grant_type === "refresh_token").length, 2);
  });
});

// Configuration seen from GitHub's side: scopes without user:email (GitHub answers /user/emails 404:
// the public address is used, unverified, as better-auth does), and a wrong client secret
// (GitHub's incorrect_client_credentials → invalid_code).
describe("github: scopes and client credentials", () => {
  let gh, narrow, wrong;
  const users = {
    pub: { id: 9400001, name: "Pub", email: newEmail("pub"), emails: [] },
    hidden: { id: 9400002, name: "Hidden", email: null, emails: [] },
  };
  before(async () => {
    const app = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackUrls: [] };
    gh = await startGitHub({ apps: [app], users });
    users.pub.emails = [{ email: users.pub.email, primary: true, verified: true, visibility: "public" }];
    users.hidden.emails = [{ email: newEmail("hidden"), primary: true, verified: true, visibility: "private" }];
    narrow = await startServer({ backend: "sqlite", hint: "github-narrow", env: { GATEHOUSE_GITHUB_CLIENT_ID: CLIENT_ID, GATEHOUSE_GITHUB_CLIENT_SECRET: CLIENT_SECRET, GATEHOUSE_GITHUB_SCOPES: "read:user", ...gh.env() } });
    wrong = await startServer({ backend: "sqlite", hint: "github-wrong", env: { GATEHOUSE_GITHUB_CLIENT_ID: CLIENT_ID, GATEHOUSE_GITHUB_CLIENT_SECRET: "not-the-secret-0123456789", ...gh.env() } });
    app.callbackUrls.push(`${narrow.url}/api/auth/callback/github`, `${wrong.url}/api/auth/callback/github`);
  });
  after(async () => {
    await gh?.stop();
    await narrow?.stop();
    await wrong?.stop();
  });
  async function flow(srv, login) {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github", callbackURL: "/" }, jar });
    const cb = await githubAuthorize(start.json.url, { login, stopAt: `${srv.url}/api/auth/callback/github` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    return { res, jar };
  }

  it("GATEHOUSE_GITHUB_SCOPES=read:user: /user/emails is refused (404); the public address signs up unverified; without one → email_not_found", async () => {
    const { res, jar } = await flow(narrow, "pub");
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/");
    const s = (await raw(narrow, "GET", "/get-session", { jar })).json;
    assert.equal(s.user.email, users.pub.email);
    assert.equal(s.user.emailVerified, false, "no /user/emails answer to vouch for it");
    const acc = await narrow.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${s.user.id}`);
    assert.equal(acc.scope, "read:user");
    const hidden = await flow(narrow, "hidden");
    assert.equal(new URL(hidden.res.headers.location, narrow.url).searchParams.get("error"), "email_not_found");
  });

  it("a wrong client secret: GitHub answers incorrect_client_credentials (HTTP 200) → invalid_code, no user", async () => {
    const n0 = gh.requests.length;
    const { res } = await flow(wrong, "pub");
    assert.equal(new URL(res.headers.location, wrong.url).searchParams.get("error"), "invalid_code");
    assert.equal(await wrong.db.count("user"), 0);
    const tok = gh.requests.slice(n0).find((r) => r.path === "/login/oauth/access_token");
    assert.equal(tok.form.client_secret, "not-the-secret-0123456789");
    for (const line of wrong.stderrLines) assert.ok(!line.includes("not-the-secret-0123456789"), "no client secret in the logs");
  });
});

// The REAL better-auth github provider (socialProviders.github, authorizationEndpoint overridden;
// its token and API URLs are fixed, so this process's fetch of github.com / api.github.com goes to
// the same GitHub-shaped server) on one PostgreSQL database with gatehouse.
describe("github: two-way with better-auth's github provider on one database", { skip: backends().includes("postgres") ? false : "PostgreSQL only" }, () => {
  let srv, gh, ba;
  const BA_BASE = "http://127.0.0.1:3999";
  const users = {
    ulla: { id: 9200001, name: "Ulla", email: null, emails: [{ email: newEmail("ulla"), primary: true, verified: true, visibility: null }] },
    vik: { id: 9200002, name: null, email: newEmail("vik"), emails: [] },
    nop: { id: 9200003, name: "Nop", email: null, emails: [{ email: newEmail("nop-a"), primary: false, verified: true, visibility: null }, { email: newEmail("nop-b"), primary: false, verified: false, visibility: null }] },
    unv: { id: 9200004, name: "Unv", email: null, emails: [{ email: newEmail("unv"), primary: true, verified: false, visibility: null }] },
  };
  before(async () => {
    const app = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackUrls: [`${BA_BASE}/api/auth/callback/github`] };
    gh = await startGitHub({ apps: [app], users });
    const dbUrl = await freshDatabaseUrl("postgres", "github-ba");
    srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "github-ba", env: { GATEHOUSE_GITHUB_CLIENT_ID: CLIENT_ID, GATEHOUSE_GITHUB_CLIENT_SECRET: CLIENT_SECRET, ...gh.env() } });
    app.callbackUrls.push(`${srv.url}/api/auth/callback/github`);
    gh.interceptFetch();
    ba = new InProcessBetterAuth(dbUrl, {
      baseURL: BA_BASE,
      options: { socialProviders: { github: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, authorizationEndpoint: gh.authorizeUrl } } },
    });
  });
  after(async () => {
    await gh?.stop();
    await srv?.stop();
    await ba?.close();
  });

  async function baFlow(login) {
    const start = await ba.request("POST", "/sign-in/social", { json: { provider: "github", callbackURL: "/" } });
    assert.equal(start.status, 200, start.text);
    const state = start.cookie("better-auth.state");
    const cb = await githubAuthorize(start.json.url, { login, stopAt: `${BA_BASE}/api/auth/callback/github` });
    const res = await ba.request("GET", cb.slice(`${BA_BASE}/api/auth`.length), { cookie: `better-auth.state=${state.value}` });
    assert.equal(res.status, 302, res.text);
    const sess = res.cookie("better-auth.session_token");
    assert.ok(sess?.value, `better-auth session: ${res.headers.get("location")}`);
    return { start, cookie: `better-auth.session_token=${sess.value}` };
  }
  async function ghFlow(login) {
    const jar = new CookieJar();
    const start = await raw(srv, "POST", "/sign-in/social", { json: { provider: "github", callbackURL: "/" }, jar });
    const cb = await githubAuthorize(start.json.url, { login, stopAt: `${srv.url}/api/auth/callback/github` });
    const res = await raw(srv, "GET", cb.slice(`${srv.url}/api/auth`.length), { jar, origin: null });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, "/", res.headers.location);
    return { start, jar };
  }
  const lastToken = () => gh.sent("token").at(-1);

  it("the same authorize URL parameters and the same token request as better-auth's", async () => {
    const b = await baFlow("ulla");
    const bTok = lastToken();
    const g = await ghFlow("ulla");
    const gTok = lastToken();
    const bq = new URL(b.start.json.url).searchParams;
    const gq = new URL(g.start.json.url).searchParams;
    assert.deepEqual([...gq.keys()], [...bq.keys()], "parameter names and order");
    for (const k of ["response_type", "client_id", "scope", "code_challenge_method"]) assert.equal(gq.get(k), bq.get(k), k);
    assert.deepEqual(Object.keys(gTok.form).sort(), Object.keys(bTok.form).sort(), "token request parameters");
    assert.equal(gTok.form.grant_type, bTok.form.grant_type);
    assert.match(bTok.headers.accept, /application\/json/);
    assert.match(gTok.headers.accept, /application\/json/);
  });

  it("a user who signed up with GitHub under better-auth signs in with it under gatehouse: same user, same account row, same list-accounts JSON", async () => {
    const baCookie = (await baFlow("ulla")).cookie;
    const baSession = (await ba.request("GET", "/get-session", { cookie: baCookie })).json;
    const { jar } = await ghFlow("ulla");
    const ghSession = (await raw(srv, "GET", "/get-session", { jar })).json;
    assert.equal(ghSession.user.id, baSession.user.id);
    assert.equal((await srv.db.accountsOf(baSession.user.id)).length, 1);
    const baList = (await ba.request("GET", "/list-accounts", { cookie: baCookie })).json;
    const ghList = (await raw(srv, "GET", "/list-accounts", { jar })).json;
    assert.deepEqual(Object.keys(ghList[0]), Object.keys(baList[0]));
    assert.deepEqual({ ...ghList[0], updatedAt: 0 }, { ...baList[0], updatedAt: 0 });
    // account-info: GitHub's profile through each side's stored token, the same JSON
    const baInfo = (await ba.request("GET", `/account-info?accountId=${baList[0].id}`, { cookie: baCookie })).json;
    const ghInfo = await raw(srv, "GET", `/account-info?accountId=${ghList[0].id}`, { jar });
    assert.equal(ghInfo.status, 200, ghInfo.text);
    assert.deepEqual(ghInfo.json, baInfo);
    assert.deepEqual(Object.keys(ghInfo.json.user), Object.keys(baInfo.user), "user key order");
    assert.deepEqual(Object.keys(ghInfo.json.data), Object.keys(baInfo.data), "data key order");
  });

  it("a user who signed up with GitHub under gatehouse signs in under better-auth; user and account rows alike (name from login, e-mail, verified, image, accountId, scope, NULLs)", async () => {
    const { jar } = await ghFlow("vik");
    const ghSession = (await raw(srv, "GET", "/get-session", { jar })).json;
    const baCookie = (await baFlow("vik")).cookie;
    const baSession = (await ba.request("GET", "/get-session", { cookie: baCookie })).json;
    assert.equal(baSession.user.id, ghSession.user.id);
    // ulla's rows were written by better-auth, vik's by gatehouse
    const rowsOf = async (login) => {
      const u = await srv.db.one(sql`SELECT u.* FROM "user" u JOIN "account" a ON a."userId" = u.id WHERE a."providerId" = 'github' AND a."accountId" = ${String(users[login].id)}`);
      const a = await srv.db.one(sql`SELECT * FROM "account" WHERE "userId" = ${u.id}`);
      return { u, a };
    };
    const byBa = await rowsOf("ulla");
    const byGh = await rowsOf("vik");
    for (const col of Object.keys(byBa.a)) assert.equal(byGh.a[col] === null, byBa.a[col] === null, `account.${col}: NULL on one side only (${byBa.a[col]} / ${byGh.a[col]})`);
    for (const col of Object.keys(byBa.u)) assert.equal(byGh.u[col] === null, byBa.u[col] === null, `user.${col}: NULL on one side only (${byBa.u[col]} / ${byGh.u[col]})`);
    assert.equal(byGh.a.scope, byBa.a.scope);
    assert.equal(byGh.u.name, "vik", "name falls back to login (better-auth: name || login)");
    assert.equal(toBool(byGh.u.emailVerified), false, "vik's public address is not in /user/emails: unverified, as better-auth");
    assert.equal(byGh.a.accountId, String(users.vik.id));
  });

  it("the e-mail and its verification as better-auth picks them: no primary → the first address; an unverified primary → emailVerified false", async () => {
    for (const login of ["nop", "unv"]) {
      const baCookie = (await baFlow(login)).cookie;
      const baUser = (await ba.request("GET", "/get-session", { cookie: baCookie })).json.user;
      // the same person again under gatehouse: the same user row, so compare what better-auth made
      // with what gatehouse reads from GitHub on a fresh database row of its own
      await srv.db.exec(`DELETE FROM "session" WHERE "userId" = '${baUser.id}'`);
      await srv.db.exec(`DELETE FROM "account" WHERE "userId" = '${baUser.id}'`);
      await srv.db.exec(`DELETE FROM "user" WHERE id = '${baUser.id}'`);
      const { jar } = await ghFlow(login);
      const ghUser = (await raw(srv, "GET", "/get-session", { jar })).json.user;
      assert.equal(ghUser.email, baUser.email, `${login}: e-mail`);
      assert.equal(ghUser.emailVerified, baUser.emailVerified, `${login}: emailVerified`);
      assert.equal(ghUser.name, baUser.name, `${login}: name`);
    }
  });
});
