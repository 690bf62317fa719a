// The real OpenID provider (lib/oidc-server.mjs, npm oidc-provider) for e2e suites, and a
// "browser" that walks its pages over HTTP: authorize → login → consent → back to the relying
// party's callback.
//
//   const op = await startOidcProvider({ port, clients: [...], users: { alice: {...} } })
//   op.issuer, op.discoveryUrl, await op.fault("badkey"), await op.stop()
//   const cb = await browserAuthorize(authorizeUrl, { login: "alice", jar: new CookieJar() })
//   cb = the URL the provider redirected to (the relying party's callback, with code & state)
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CookieJar } from "./cookies.mjs";
import { childEnv, onExit } from "./util.mjs";
import { VERBOSE } from "./config.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const live = new Set();
onExit(() => {
  for (const c of live) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
});

export async function startOidcProvider({ port, clients, users, conform = true }) {
  const child = spawn(process.execPath, [path.join(here, "oidc-server.mjs")], {
    env: childEnv({ PORT: port, OIDC_CLIENTS: JSON.stringify(clients), OIDC_USERS: JSON.stringify(users), OIDC_CONFORM: String(conform) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let err = "";
  child.stderr.on("data", (c) => {
    err += c;
    if (VERBOSE) process.stderr.write(c);
  });
  await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      if (out.includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`oidc-provider exited (${code}): ${err}`)));
    setTimeout(() => reject(new Error(`oidc-provider did not start: ${err}`)), 20000);
  });
  const issuer = `http://127.0.0.1:${port}`;
  const exited = new Promise((r) => child.on("exit", r));
  return {
    issuer,
    port,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    async fault(mode) {
      const res = await fetch(`${issuer}/__fault`, { method: "POST", body: JSON.stringify({ mode }) });
      if (res.status !== 204) throw new Error(`fault: ${res.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
      live.delete(child);
    },
  };
}

async function get(url, jar, init = {}) {
  const headers = { ...(init.headers || {}) };
  const c = jar.header();
  if (c) headers.cookie = c;
  const res = await fetch(url, { ...init, headers, redirect: "manual" });
  jar.absorb(res.headers.getSetCookie());
  return res;
}

/** Walks the provider's pages from the authorization URL until it redirects to a URL starting
 * with stopAt (the callback); logs in as login and consents. Returns that URL — or, for
 * response_mode=form_post, { formPost: {code, state, ...}, action } (what the page would post). */
export async function browserAuthorize(authorizeUrl, { login, stopAt, jar = new CookieJar(), consent = true }) {
  let url = authorizeUrl;
  for (let hop = 0; hop < 20; hop++) {
    if (stopAt && url.startsWith(stopAt)) return url;
    const res = await get(url, jar);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location"), url).toString();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`provider answered ${res.status}: ${html.slice(0, 300)}`);
    // response_mode=form_post: the page posts code and state to the callback
    const fp = /<form[^>]*method="post"[^>]*action="([^"]+)"/.exec(html);
    if (stopAt && fp && fp[1].replaceAll("&amp;", "&").startsWith(stopAt)) {
      const fields = {};
      for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[m[1]] = m[2].replaceAll("&amp;", "&");
      return { formPost: fields, action: fp[1] };
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`no interaction form at ${url}: ${html.slice(0, 300)}`);
    const form = prompt === "login" ? { prompt, login, password: "any" } : { prompt };
    if (prompt === "consent" && !consent) throw new Error("consent asked");
    const post = await get(new URL(action.replaceAll("&amp;", "&"), url).toString(), jar, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    if (post.status < 300 || post.status >= 400) throw new Error(`interaction ${prompt}: ${post.status} ${await post.text()}`);
    url = new URL(post.headers.get("location"), url).toString();
  }
  throw new Error("too many redirects at the provider");
}

/** An ID token as a native app gets it from the provider itself (for the idToken flows of
 * sign-in/social and link-social): the authorization code flow for login with the given nonce,
 * the code redeemed at the provider's token endpoint with the client's credentials.
 * Returns the token response ({id_token, access_token, ...}). */
export async function mintIdToken(op, { clientId, clientSecret, redirectUri, login, nonce, scope = "openid email profile" }) {
  const q = new URLSearchParams({ client_id: clientId, response_type: "code", scope, redirect_uri: redirectUri, state: "native-app" });
  if (nonce) q.set("nonce", nonce);
  const cb = await browserAuthorize(`${op.issuer}/auth?${q}`, { login, stopAt: redirectUri });
  const code = new URL(cb).searchParams.get("code");
  if (!code) throw new Error(`no code: ${cb}`);
  const res = await fetch(`${op.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: clientId, client_secret: clientSecret }).toString(),
  });
  const body = await res.json();
  if (!body.id_token) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
