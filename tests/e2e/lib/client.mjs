// The OFFICIAL better-auth client (better-auth/client) pointed at the server under test, with a tiny
// cookie jar: node's fetch keeps no cookies, so customFetchImpl sends the jar's Cookie header and
// absorbs every Set-Cookie. It also sends Origin = the server's base URL: node's fetch always sends
// Sec-Fetch-Mode: cors, and better-auth (and so gatehouse) then requires a trusted Origin.
import { createAuthClient } from "better-auth/client";
import { CookieJar } from "./cookies.mjs";

// plugins: better-auth client plugins (twoFactorClient(), ...).
export function makeClient(srv, { origin = srv.baseURL, headers = {}, jar = new CookieJar(), plugins = [] } = {}) {
  const seen = []; // every response: { url, method, status, headers }
  const client = createAuthClient({
    baseURL: srv.apiBase,
    plugins,
    fetchOptions: {
      customFetchImpl: async (input, init = {}) => {
        const h = new Headers(init.headers || {});
        if (origin) h.set("origin", origin);
        for (const [k, v] of Object.entries(headers)) h.set(k, v);
        const c = jar.header();
        if (c) h.set("cookie", c);
        else h.delete("cookie");
        const res = await fetch(input, { ...init, headers: h, redirect: "manual" });
        jar.absorb(res.headers.getSetCookie());
        seen.push({ url: String(input), method: init.method || "GET", status: res.status, headers: res.headers });
        return res;
      },
    },
  });
  return { client, jar, seen };
}
