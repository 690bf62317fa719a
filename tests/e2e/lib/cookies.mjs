// better-auth cookie wire format (spec §2), implemented independently with node:crypto so the tests
// can check what the server sends and forge/alter cookies.
import crypto from "node:crypto";

export const SESSION_COOKIE = "better-auth.session_token";
export const DATA_COOKIE = "better-auth.session_data";
export const DONT_REMEMBER_COOKIE = "better-auth.dont_remember";

/** Standard padded base64 of HMAC-SHA256(key = secret UTF-8, msg = value). Always 44 chars. */
export function hmacSig(value, secret) {
  return crypto.createHmac("sha256", Buffer.from(secret, "utf8")).update(value, "utf8").digest("base64");
}

/** "<value>.<sig>" (not URL-encoded), as in set-auth-token and Authorization: Bearer. */
export function signedValue(value, secret) {
  return `${value}.${hmacSig(value, secret)}`;
}

/** Cookie wire value: encodeURIComponent("<value>.<sig>"). */
export function signCookieValue(value, secret) {
  return encodeURIComponent(signedValue(value, secret));
}

/** Verify a wire cookie value; returns the unsigned value or null. */
export function verifyCookieValue(wire, secret) {
  const decoded = wire.includes("%") ? decodeURIComponent(wire) : wire;
  const dot = decoded.lastIndexOf(".");
  if (dot < 1) return null;
  const value = decoded.slice(0, dot);
  const sig = decoded.slice(dot + 1);
  if (sig.length !== 44 || !sig.endsWith("=")) return null;
  const want = Buffer.from(hmacSig(value, secret), "base64");
  const got = Buffer.from(sig, "base64");
  return got.length === want.length && crypto.timingSafeEqual(got, want) ? value : null;
}

/**
 * Parse one Set-Cookie header line into { name, value, attrs, attrOrder, raw }.
 * attrs keys are lower-cased ("max-age", "path", "httponly", "samesite", "secure", ...); flag
 * attributes map to true.
 */
export function parseSetCookie(line) {
  const parts = line.split(";");
  const first = parts.shift();
  const eq = first.indexOf("=");
  const name = first.slice(0, eq).trim();
  const value = first.slice(eq + 1).trim();
  const attrs = {};
  const attrOrder = [];
  for (const p of parts) {
    const t = p.trim();
    if (!t) continue;
    const i = t.indexOf("=");
    const k = (i < 0 ? t : t.slice(0, i)).trim().toLowerCase();
    attrs[k] = i < 0 ? true : t.slice(i + 1).trim();
    attrOrder.push(k);
  }
  return { name, value, attrs, attrOrder, raw: line };
}

/**
 * Minimal cookie jar for one "browser": name → value, updated from Set-Cookie lines
 * (Max-Age=0 or an empty value deletes), rendered as a Cookie header.
 */
export class CookieJar {
  constructor() {
    this.map = new Map();
  }
  absorb(setCookieLines) {
    for (const line of setCookieLines || []) {
      const c = parseSetCookie(line);
      if (c.attrs["max-age"] !== undefined && Number(c.attrs["max-age"]) <= 0) this.map.delete(c.name);
      else if (c.value === "") this.map.delete(c.name);
      else this.map.set(c.name, c.value);
    }
  }
  get(name) {
    return this.map.get(name);
  }
  set(name, value) {
    this.map.set(name, value);
  }
  delete(name) {
    this.map.delete(name);
  }
  clear() {
    this.map.clear();
  }
  has(name) {
    return this.map.has(name);
  }
  header() {
    return [...this.map].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  /** The session token from the signed session cookie (verified with secret), or null. */
  sessionToken(secret) {
    const v = this.map.get(SESSION_COOKIE);
    return v ? verifyCookieValue(v, secret) : null;
  }
  clone() {
    const j = new CookieJar();
    for (const [k, v] of this.map) j.map.set(k, v);
    return j;
  }
}
