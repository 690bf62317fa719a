// A GitHub-shaped OAuth server for the e2e suites (github.com cannot be reached from a test run):
// GitHub's documented OAuth web application flow and the two REST endpoints a sign-in uses, on two
// loopback listeners standing for its two hosts — "web" (github.com: /login/oauth/authorize with
// its login and authorize pages, POST /login/oauth/access_token) and "api" (api.github.com:
// GET /user, GET /user/emails). It checks what a relying party sends and refuses as GitHub does, so
// a test fails when the relying party gets the protocol wrong:
//
//   authorize    client_id known (else a 404 page); redirect_uri, when given, on the registered
//                callback URL (same scheme, host and port; path equal or below it), else GitHub's
//                redirect to the registered callback with error=redirect_uri_mismatch;
//                code_challenge_method only S256 (PKCE is optional at GitHub, checked when used);
//                state handed back unchanged; the user logs in and clicks Authorize (or Cancel:
//                error=access_denied)
//   access_token POST only; client_id + client_secret in the form body (client_secret_post, as
//                better-auth sends them); the code known, issued to that client, unexpired (10 min)
//                and unused (single use); redirect_uri, when given, the one the code was issued
//                for; code_verifier matching the code_challenge when one was given. Answers as
//                GitHub does: HTTP 200 also for errors ({"error":"bad_verification_code",...}),
//                JSON only when the request says Accept: application/json (else form-encoded
//                access_token=…&scope=…&token_type=bearer), the granted scopes comma-joined.
//                Apps with expiring user tokens (GitHub Apps, expiring: true) get expires_in,
//                refresh_token, refresh_token_expires_in, an empty scope, and the refresh_token
//                grant (single use too).
//   /user        a User-Agent header (else GitHub's 403), Authorization: Bearer <token> (or
//                "token <token>") of a live token (else 401 Bad credentials); the profile with its
//                numeric id, login, name (may be null), email (the public one, or null) and
//                avatar_url
//   /user/emails the same, and the user:email (or user) scope (else 404 Not Found); the user's
//                addresses [{email, primary, verified, visibility}]
//
// Every request is recorded (gh.requests: {host, method, path, headers, query, form}) so that tests
// can assert what was sent.
//
//   const gh = await startGitHub({ apps: [{ clientId, clientSecret, callbackUrls: [...] }], users })
//   users: { login: { id, name, email, avatar_url, emails: [{email, primary, verified, visibility}] } }
//   gh.env("GATEHOUSE_GITHUB") → the endpoint overrides; gh.authorizeUrl, gh.tokenUrl, gh.userUrl
//   const cb = await githubAuthorize(url, { login, stopAt })   (the browser: login → Authorize)
//   const restore = gh.interceptFetch()   (this process's fetch of github.com / api.github.com goes
//                                          here: for the in-process better-auth, whose GitHub
//                                          token and API URLs are fixed)
//   await gh.stop()                       (GitHub down: connection refused from then on)
import crypto from "node:crypto";
import http from "node:http";
import { CookieJar } from "./cookies.mjs";
import { freePort } from "./util.mjs";

const ERR_URI = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/";
const TOKEN_ERRORS = {
  incorrect_client_credentials: "The client_id and/or client_secret passed are incorrect.",
  redirect_uri_mismatch: "The redirect_uri MUST match the registered callback URL for this application.",
  bad_verification_code: "The code passed is incorrect or expired.",
  bad_refresh_token: "The refresh token passed is incorrect or expired.",
  unsupported_grant_type: "The grant type is not supported.",
};

const rand = (prefix, n = 36) => {
  const al = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const b = crypto.randomBytes(n);
  let s = prefix;
  for (let i = 0; i < n; i++) s += al[b[i] % al.length];
  return s;
};
const esc = (s) => String(s).replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
const eqSecret = (a, b) => typeof a === "string" && typeof b === "string" && a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Is redirectUri on the registered callback URL (GitHub's rule: host and port equal, path below)? */
function callbackMatches(registered, redirectUri) {
  let r, u;
  try {
    r = new URL(registered);
    u = new URL(redirectUri);
  } catch {
    return false;
  }
  if (r.protocol !== u.protocol || r.host !== u.host) return false;
  const base = r.pathname.endsWith("/") ? r.pathname : `${r.pathname}/`;
  return u.pathname === r.pathname || u.pathname.startsWith(base);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startGitHub({ apps = [], users = {} } = {}) {
  const webPort = await freePort();
  const apiPort = await freePort();
  const web = `http://127.0.0.1:${webPort}`;
  const api = `http://127.0.0.1:${apiPort}`;
  const codes = new Map(); // code → {clientId, redirectUri, scope, login, challenge, method, expiresAt, used}
  const tokens = new Map(); // access token → {login, scopes, clientId, expiresAt}
  const refreshTokens = new Map(); // refresh token → {login, scopes, clientId, expiresAt}
  const requests = [];
  const appOf = (id) => apps.find((a) => a.clientId === id);

  function profile(login) {
    const u = users[login];
    return {
      login,
      id: u.id,
      node_id: Buffer.from(`04:User${u.id}`).toString("base64"),
      avatar_url: u.avatar_url === undefined ? `https://avatars.githubusercontent.com/u/${u.id}?v=4` : u.avatar_url,
      gravatar_id: "",
      url: `https://api.github.com/users/${login}`,
      html_url: `https://github.com/${login}`,
      type: "User",
      site_admin: false,
      name: u.name ?? null,
      company: null,
      blog: "",
      location: null,
      email: u.email ?? null,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 3,
      public_gists: 0,
      followers: 1,
      following: 2,
      created_at: "2020-01-02T03:04:05Z",
      updated_at: "2026-11-30T10:00:00Z",
    };
  }

  function tokenAnswer(req, res, body) {
    const accept = String(req.headers.accept || "");
    res.statusCode = 200; // GitHub answers its token errors with 200 too
    if (accept.includes("application/json")) {
      res.setHeader("content-type", "application/json; charset=utf-8");
      res.end(JSON.stringify(body));
    } else {
      res.setHeader("content-type", "application/x-www-form-urlencoded; charset=utf-8");
      res.end(new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString());
    }
  }
  const tokenError = (req, res, error) => tokenAnswer(req, res, { error, error_description: TOKEN_ERRORS[error], error_uri: `${ERR_URI}#${error.replaceAll("_", "-")}` });

  function issue(app, login, scope) {
    const access = rand("gho_");
    const now = Date.now();
    if (app.expiring) {
      const refresh = rand("ghr_", 76);
      tokens.set(access, { login, scope: "", clientId: app.clientId, expiresAt: now + 28800 * 1000 });
      refreshTokens.set(refresh, { login, scope: "", clientId: app.clientId, expiresAt: now + 15897600 * 1000 });
      return { access_token: access, expires_in: 28800, refresh_token: refresh, refresh_token_expires_in: 15897600, scope: "", token_type: "bearer" };
    }
    tokens.set(access, { login, scope, clientId: app.clientId, expiresAt: Infinity });
    return { access_token: access, scope, token_type: "bearer" }; // GitHub's order
  }

  function page(res, status, title, body) {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!DOCTYPE html><html><head><title>${esc(title)}</title></head><body>${body}</body></html>`);
  }
  const redirect = (res, to, extra = {}) => {
    res.writeHead(302, { location: to, ...extra });
    res.end();
  };
  const withParams = (base, params) => {
    const u = new URL(base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
    return u.toString();
  };
  const sessionLogin = (req) => {
    const m = /(?:^|;\s*)user_session=([^;]+)/.exec(req.headers.cookie || "");
    return m && users[decodeURIComponent(m[1])] ? decodeURIComponent(m[1]) : null;
  };

  /** GET|POST /login/oauth/authorize: the checks, then login, then the Authorize page. */
  function authorize(req, res, q, form) {
    const app = appOf(q.client_id);
    if (!app) return page(res, 404, "Not Found", "<h1>404</h1><p>The application could not be found.</p>");
    const registered = app.callbackUrls[0];
    const redirectUri = q.redirect_uri || registered;
    if (q.redirect_uri && !app.callbackUrls.some((c) => callbackMatches(c, q.redirect_uri))) {
      return redirect(
        res,
        withParams(registered, {
          error: "redirect_uri_mismatch",
          error_description: "The redirect_uri is not associated with this application.",
          error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
          state: q.state,
        }),
      );
    }
    if ((q.code_challenge || q.code_challenge_method) && (q.code_challenge_method !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge || ""))) {
      return redirect(res, withParams(redirectUri, { error: "invalid_request", error_description: "Only S256 code challenges are supported.", state: q.state }));
    }
    const login = sessionLogin(req);
    const here = `${web}/login/oauth/authorize?${new URLSearchParams(q).toString()}`;
    if (!login) {
      return page(
        res,
        200,
        "Sign in to GitHub",
        `<form action="/session" method="post"><input type="hidden" name="return_to" value="${esc(here)}"><input name="login"><input name="password" type="password"><input type="submit" name="commit" value="Sign in"></form>`,
      );
    }
    if (!form) {
      const hidden = Object.entries(q)
        .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
        .join("");
      return page(
        res,
        200,
        `Authorize ${app.name || app.clientId}`,
        `<form action="/login/oauth/authorize" method="post">${hidden}<button name="authorize" value="1">Authorize</button><button name="authorize" value="0">Cancel</button></form>`,
      );
    }
    if (form.authorize !== "1") {
      return redirect(
        res,
        withParams(redirectUri, {
          error: "access_denied",
          error_description: "The user has denied your application access.",
          error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
          state: q.state,
        }),
      );
    }
    // GitHub normalizes the granted scopes: comma-joined, in the order asked
    const scope = [...new Set((q.scope || "").split(/[\s,]+/).filter(Boolean))].join(",");
    const code = crypto.randomBytes(10).toString("hex");
    codes.set(code, {
      clientId: app.clientId,
      redirectUri: q.redirect_uri || null,
      scope,
      login,
      challenge: q.code_challenge || null,
      expiresAt: Date.now() + 600 * 1000,
      used: false,
    });
    redirect(res, withParams(redirectUri, { code, state: q.state }));
  }

  function accessToken(req, res, p) {
    const app = appOf(p.client_id);
    if (!app || !eqSecret(p.client_secret, app.clientSecret)) return tokenError(req, res, "incorrect_client_credentials");
    if (p.grant_type === "refresh_token") {
      const r = refreshTokens.get(p.refresh_token || "");
      if (!app.expiring || !r || r.clientId !== app.clientId || r.expiresAt < Date.now()) return tokenError(req, res, "bad_refresh_token");
      refreshTokens.delete(p.refresh_token);
      return tokenAnswer(req, res, issue(app, r.login, r.scope));
    }
    if (p.grant_type !== undefined && p.grant_type !== "authorization_code") return tokenError(req, res, "unsupported_grant_type");
    const c = codes.get(p.code || "");
    if (!c || c.used || c.clientId !== app.clientId || c.expiresAt < Date.now()) {
      if (c) c.used = true;
      return tokenError(req, res, "bad_verification_code");
    }
    c.used = true; // single use, whatever comes next
    if (p.redirect_uri !== undefined && p.redirect_uri !== (c.redirectUri ?? app.callbackUrls[0])) return tokenError(req, res, "redirect_uri_mismatch");
    if (c.challenge) {
      const s256 = p.code_verifier ? crypto.createHash("sha256").update(p.code_verifier).digest("base64url") : null;
      if (!s256 || !eqSecret(s256, c.challenge)) return tokenError(req, res, "bad_verification_code");
    } else if (p.code_verifier) {
      return tokenError(req, res, "bad_verification_code");
    }
    tokenAnswer(req, res, issue(app, c.login, c.scope));
  }

  function apiJson(res, status, body) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "x-github-media-type": "github.v3; format=json" });
    res.end(JSON.stringify(body));
  }

  function apiRequest(req, res, path) {
    if (!req.headers["user-agent"]) {
      res.writeHead(403, { "content-type": "text/plain" });
      return res.end("Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n");
    }
    const doc = path === "/user" ? "https://docs.github.com/rest/users/users#get-the-authenticated-user" : "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user";
    if (req.method !== "GET" || (path !== "/user" && path !== "/user/emails")) return apiJson(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" });
    const m = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization || "");
    if (!m) return apiJson(res, 401, { message: "Requires authentication", documentation_url: doc, status: "401" });
    const t = tokens.get(m[1]);
    if (!t || t.expiresAt < Date.now()) return apiJson(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" });
    if (path === "/user") return apiJson(res, 200, profile(t.login));
    const scopes = t.scope.split(",");
    const app = appOf(t.clientId);
    if (!app.expiring && !scopes.includes("user:email") && !scopes.includes("user")) return apiJson(res, 404, { message: "Not Found", documentation_url: doc, status: "404" });
    apiJson(res, 200, users[t.login].emails || []);
  }

  async function handle(host, req, res) {
    const url = new URL(req.url, host === "web" ? web : api);
    const query = Object.fromEntries(url.searchParams);
    const text = req.method === "POST" ? await readBody(req) : "";
    const form = req.method === "POST" ? Object.fromEntries(new URLSearchParams(text)) : undefined;
    requests.push({ host, method: req.method, path: url.pathname, headers: { ...req.headers }, query, form });
    if (host === "api") return apiRequest(req, res, url.pathname);
    if (url.pathname === "/login/oauth/authorize") {
      if (req.method === "GET") return authorize(req, res, query);
      if (req.method === "POST") {
        const { authorize: choice, ...q } = form;
        return authorize(req, res, q, { authorize: choice });
      }
    }
    if (url.pathname === "/session" && req.method === "POST") {
      if (!users[form.login]) return page(res, 200, "Sign in to GitHub", "<p>Incorrect username or password.</p>");
      return redirect(res, form.return_to, { "set-cookie": `user_session=${encodeURIComponent(form.login)}; Path=/; HttpOnly; SameSite=Lax` });
    }
    if (url.pathname === "/login/oauth/access_token") {
      if (req.method !== "POST") return page(res, 404, "Not Found", "<h1>404</h1>");
      return accessToken(req, res, { ...query, ...form });
    }
    page(res, 404, "Not Found", "<h1>404</h1>");
  }

  const listen = (host, port) =>
    new Promise((resolve, reject) => {
      const s = http.createServer((req, res) =>
        handle(host, req, res).catch((e) => {
          res.statusCode = 500;
          res.end(String(e));
        }),
      );
      s.on("error", reject);
      s.listen(port, "127.0.0.1", () => resolve(s));
    });
  const servers = [await listen("web", webPort), await listen("api", apiPort)];
  let restoreFetch = null;

  return {
    web,
    api,
    authorizeUrl: `${web}/login/oauth/authorize`,
    tokenUrl: `${web}/login/oauth/access_token`,
    userUrl: `${api}/user`,
    requests,
    users,
    /** The endpoint overrides for gatehouse (prefix "GATEHOUSE_GITHUB"). */
    env(prefix = "GATEHOUSE_GITHUB") {
      return { [`${prefix}_AUTHORIZATION_URL`]: this.authorizeUrl, [`${prefix}_TOKEN_URL`]: this.tokenUrl, [`${prefix}_API_URL`]: this.userUrl };
    },
    /** Requests of one kind: "token", "user", "emails", "authorize". */
    sent(kind) {
      const path = { token: "/login/oauth/access_token", user: "/user", emails: "/user/emails", authorize: "/login/oauth/authorize" }[kind];
      return requests.filter((r) => r.path === path);
    },
    /** Reroutes this process's fetch of https://github.com and https://api.github.com here. */
    interceptFetch() {
      const orig = globalThis.fetch;
      globalThis.fetch = (input, init) => {
        const u = typeof input === "string" || input instanceof URL ? String(input) : input.url;
        let to = null;
        if (u.startsWith("https://github.com/")) to = web + u.slice("https://github.com".length);
        else if (u.startsWith("https://api.github.com/")) to = api + u.slice("https://api.github.com".length);
        if (!to) return orig(input, init);
        return typeof input === "string" || input instanceof URL ? orig(to, init) : orig(new Request(to, input), init);
      };
      restoreFetch = () => {
        globalThis.fetch = orig;
      };
      return restoreFetch;
    },
    async stop() {
      restoreFetch?.();
      for (const s of servers) {
        s.closeAllConnections?.();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** The browser at GitHub: from the authorization URL through the login page and the Authorize
 * page (approve: false clicks Cancel) until GitHub redirects to a URL starting with stopAt. */
export async function githubAuthorize(authorizeUrl, { login, stopAt, jar = new CookieJar(), approve = true }) {
  let url = authorizeUrl;
  let method = "GET";
  let body;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(stopAt)) return url;
    const headers = {};
    if (jar.header()) headers.cookie = jar.header();
    if (body) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    jar.absorb(res.headers.getSetCookie());
    method = "GET";
    body = undefined;
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location"), url).toString();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`GitHub answered ${res.status}: ${html.slice(0, 300)}`);
    const action = /<form action="([^"]+)" method="post">/.exec(html)?.[1];
    if (!action) throw new Error(`no form at ${url}: ${html.slice(0, 300)}`);
    const fields = {};
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      fields[m[1]] = m[2].replaceAll("&lt;", "<").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
    if (action === "/session") Object.assign(fields, { login, password: "any" });
    else fields.authorize = approve ? "1" : "0";
    url = new URL(action, url).toString();
    method = "POST";
    body = new URLSearchParams(fields).toString();
  }
  throw new Error("too many redirects at GitHub");
}
