// Raw HTTP for wire-level assertions, on node:http (not fetch): exact control of every header (fetch
// always adds Sec-Fetch-Mode: cors, which better-auth's origin check reacts to), raw byte bodies
// (invalid UTF-8), no redirect following, the raw Set-Cookie lines.
//
//   const r = await raw(srv, "POST", "/sign-in/email", { json: {...} })      // path under /api/auth
//   r.status, r.headers (lower-case names; set-cookie is an array), r.text, r.json, r.cookies
//
// Options: json | form (object → x-www-form-urlencoded) | body (string/Buffer) + contentType,
// headers, origin (default: the server's base URL; null = no Origin header), jar (CookieJar: sends its
// cookies, absorbs the response's), cookie (explicit Cookie header), bearer (Authorization: Bearer),
// chunked (send the body with Transfer-Encoding: chunked, no Content-Length), localAddress (the
// client's source address, e.g. "127.0.0.2": another client as far as the server can tell),
// path starting with "=" is used verbatim (e.g. "=/api/auth/ok/" or "=/elsewhere").
import http from "node:http";
import { parseSetCookie } from "./cookies.mjs";

export function raw(srv, method, path, opts = {}) {
  const { json, form, contentType, headers = {}, jar, cookie, bearer, chunked = false, timeoutMs = 30000, localAddress } = opts;
  let { body } = opts;
  const origin = "origin" in opts ? opts.origin : srv.baseURL;
  const fullPath = path.startsWith("=") ? path.slice(1) : `/api/auth${path}`;
  const h = {};
  if (json !== undefined) {
    body = JSON.stringify(json);
    h["content-type"] = "application/json";
  } else if (form !== undefined) {
    body = new URLSearchParams(form).toString();
    h["content-type"] = "application/x-www-form-urlencoded";
  }
  if (contentType) h["content-type"] = contentType;
  if (origin) h.origin = origin;
  const cookieHeader = cookie ?? (jar ? jar.header() : "");
  if (cookieHeader) h.cookie = cookieHeader;
  if (bearer) h.authorization = `Bearer ${bearer}`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === null || v === undefined) delete h[k.toLowerCase()];
    else h[k.toLowerCase()] = v;
  }
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  if (payload !== undefined && !chunked) h["content-length"] = String(payload.length);
  if (chunked) h["transfer-encoding"] = "chunked";

  return new Promise((resolve, reject) => {
    let gotResponse = false;
    const req = http.request(
      { host: "127.0.0.1", port: srv.port, method, path: fullPath, headers: h, agent: false, timeout: timeoutMs, localAddress },
      (res) => {
        gotResponse = true;
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          const text = buf.toString("utf8");
          let parsed;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const setCookie = res.headers["set-cookie"] || [];
          if (jar) jar.absorb(setCookie);
          resolve({
            status: res.statusCode,
            statusMessage: res.statusMessage,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buf,
            text,
            json: parsed,
            setCookie,
            cookies: setCookie.map(parseSetCookie),
            cookie(name) {
              return this.cookies.find((c) => c.name === name);
            },
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request timed out: ${method} ${fullPath}`)));
    // A server may answer (e.g. 413) and close before it has read the whole body: once a response
    // has arrived, errors writing the rest of the request are not the test's concern.
    req.on("error", (err) => {
      if (!gotResponse) reject(err);
    });
    if (payload !== undefined) {
      if (chunked) {
        for (let i = 0; i < payload.length; i += 16384) req.write(payload.subarray(i, i + 16384));
      } else {
        req.write(payload);
      }
    }
    req.end();
  });
}
