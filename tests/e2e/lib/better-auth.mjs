// The REAL better-auth server library in-process, on a PostgreSQL database shared with gatehouse,
// for the two-way compatibility suite. Requests go through auth.handler(new Request(...)) exactly
// as a framework would pass them.
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { bearer, jwt } from "better-auth/plugins";
import pg from "pg";
import { SECRET } from "./config.mjs";
import { parseSetCookie } from "./cookies.mjs";

export class InProcessBetterAuth {
  // plugins: more better-auth plugins after bearer/jwt (apiKey(), admin(), twoFactor(), ...);
  // options: more betterAuth() options, merged over the defaults below (emailVerification, ...).
  constructor(
    databaseUrl,
    { secret = SECRET, baseURL = "http://127.0.0.1:3999", jwt: withJwt = false, plugins = [], options = {} } = {},
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
    this.pool.on("error", () => {});
    this.baseURL = baseURL;
    this.secret = secret;
    this.options = {
      database: this.pool,
      secret,
      baseURL,
      emailAndPassword: { enabled: true },
      // jwt: true (plugin defaults) or an algorithm name for jwks.keyPairConfig
      plugins: [
        bearer(),
        ...(withJwt ? [jwt(typeof withJwt === "string" ? { jwks: { keyPairConfig: { alg: withJwt } } } : {})] : []),
        ...plugins,
      ],
      rateLimit: { enabled: false },
      telemetry: { enabled: false },
      logger: { disabled: true },
      ...options,
    };
    this.auth = betterAuth(this.options);
  }

  /** better-auth's own migrator: what it would create/add on this database. */
  async pendingMigrations() {
    const { toBeCreated, toBeAdded } = await getMigrations(this.options);
    return {
      toBeCreated: toBeCreated.map((t) => t.table),
      toBeAdded: toBeAdded.map((t) => `${t.table}(${Object.keys(t.fields).join(",")})`),
    };
  }

  async migrate() {
    const { runMigrations } = await getMigrations(this.options);
    await runMigrations();
  }

  /** One request through auth.handler; returns { status, headers, text, json, setCookie, cookies, cookie(name) }. */
  async request(method, path, { json, cookie, headers = {} } = {}) {
    const h = new Headers(headers);
    if (json !== undefined) h.set("content-type", "application/json");
    if (cookie) h.set("cookie", cookie);
    const res = await this.auth.handler(
      new Request(`${this.baseURL}/api/auth${path}`, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json) }),
    );
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {}
    const setCookie = res.headers.getSetCookie();
    const cookies = setCookie.map(parseSetCookie);
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: parsed,
      setCookie,
      cookies,
      cookie: (name) => cookies.find((c) => c.name === name),
    };
  }

  async close() {
    await this.pool.end().catch(() => {});
  }
}
