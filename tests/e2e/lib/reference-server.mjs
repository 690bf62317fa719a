#!/usr/bin/env node
// The REAL better-auth 1.7.25 behind node:http, driven by the same CLI and environment contract as
// gatehouse, so the e2e suites can run against it (GH_E2E_TARGET=better-auth) and prove that what
// they expect is what better-auth really does.
//
//   node reference-server.mjs serve [--migrate]     (migrate with better-auth's own getMigrations)
//   node reference-server.mjs migrate
//
// Environment (as gatehouse): PORT, GATEHOUSE_HOST, DATABASE_URL (postgres:// only), GATEHOUSE_SECRET,
// GATEHOUSE_BASE_URL, GATEHOUSE_TRUSTED_ORIGINS, GATEHOUSE_ENV (→ NODE_ENV, read by better-auth at
// import time, so it is set before the dynamic imports), GATEHOUSE_SESSION_EXPIRES_IN,
// GATEHOUSE_SESSION_UPDATE_AGE, GATEHOUSE_SESSION_FRESH_AGE; GATEHOUSE_PLUGINS naming two-factor
// adds twoFactor() (GATEHOUSE_TWO_FACTOR_ISSUER, _LOCKOUT_ATTEMPTS, _LOCKOUT_SECONDS; with
// GATEHOUSE_TWO_FACTOR_OTP=true an otpOptions.sendOTP that mails the code to GATEHOUSE_SMTP_URL);
// GATEHOUSE_RATE_LIMIT=on turns better-auth's rate limiter on.
import http from "node:http";
import net from "node:net";

const env = process.env;
process.env.NODE_ENV = env.GATEHOUSE_ENV || "development";

const { betterAuth } = await import("better-auth");
const { bearer, twoFactor } = await import("better-auth/plugins");
const { toNodeHandler } = await import("better-auth/node");
const { getMigrations } = await import("better-auth/db/migration");
const { default: pg } = await import("pg");

function log(obj) {
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...obj })}\n`);
}

const databaseUrl = env.DATABASE_URL || "";
if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
  log({ level: "error", msg: "reference server supports only postgres:// DATABASE_URL" });
  process.exit(2);
}
const port = Number(env.PORT || 3000);
const host = env.GATEHOUSE_HOST || "127.0.0.1";
const baseURL = env.GATEHOUSE_BASE_URL || `http://localhost:${port}`;
const num = (v, d) => (v === undefined || v === "" ? d : Number(v));

/** A minimal SMTP client for the test server: one plain-text message, no extensions. */
function smtpSend(url, to, subject, text) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const lines = [
      "EHLO reference",
      "MAIL FROM:<reference@example.com>",
      `RCPT TO:<${to}>`,
      "DATA",
      `From: reference@example.com\r\nTo: ${to}\r\nSubject: ${subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n.`,
      "QUIT",
    ];
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = "";
    sock.on("data", (d) => {
      buf += d;
      // one command per complete reply (a final line "NNN text")
      while (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) {
        buf = "";
        const next = lines.shift();
        if (next === undefined) return;
        sock.write(`${next}\r\n`);
      }
    });
    sock.on("close", resolve);
    sock.on("error", reject);
  });
}

const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
pool.on("error", (err) => log({ level: "error", msg: "pg pool error", error: err.message }));

export const options = {
  baseURL,
  basePath: "/api/auth",
  secret: env.GATEHOUSE_SECRET,
  database: pool,
  emailAndPassword: { enabled: true },
  user: { deleteUser: { enabled: true } },
  session: {
    expiresIn: num(env.GATEHOUSE_SESSION_EXPIRES_IN, 604800),
    updateAge: num(env.GATEHOUSE_SESSION_UPDATE_AGE, 86400),
    freshAge: num(env.GATEHOUSE_SESSION_FRESH_AGE, 86400),
  },
  trustedOrigins: (env.GATEHOUSE_TRUSTED_ORIGINS || "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
  plugins: [
    bearer(),
    ...(/(^|,)\s*two-factor\s*(,|$)/.test(env.GATEHOUSE_PLUGINS || "")
      ? [
          twoFactor({
            ...(env.GATEHOUSE_TWO_FACTOR_ISSUER ? { issuer: env.GATEHOUSE_TWO_FACTOR_ISSUER } : {}),
            ...(env.GATEHOUSE_TWO_FACTOR_OTP === "true"
              ? {
                  otpOptions: {
                    sendOTP: ({ user, otp }) =>
                      smtpSend(env.GATEHOUSE_SMTP_URL, user.email, "Your verification code", `your verification code is ${otp}`),
                  },
                }
              : {}),
            accountLockout: {
              maxFailedAttempts: num(env.GATEHOUSE_TWO_FACTOR_LOCKOUT_ATTEMPTS, 10),
              durationSeconds: num(env.GATEHOUSE_TWO_FACTOR_LOCKOUT_SECONDS, 900),
            },
          }),
        ]
      : []),
  ],
  rateLimit: { enabled: env.GATEHOUSE_RATE_LIMIT === "on" },
  telemetry: { enabled: false },
  logger: { disabled: true },
};

async function migrate() {
  const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(options);
  if (toBeCreated.length || toBeAdded.length) await runMigrations();
  log({ level: "info", msg: "migrated", created: toBeCreated.map((t) => t.table) });
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "migrate") {
  await migrate();
  await pool.end();
  process.exit(0);
}
if (cmd !== "serve") {
  log({ level: "error", msg: `unsupported command ${cmd}` });
  process.exit(2);
}
if (args.includes("--migrate")) await migrate();

const auth = betterAuth(options);
const handler = toNodeHandler(auth);
const server = http.createServer((req, res) => handler(req, res));
server.listen(port, host, () => log({ level: "info", msg: "listening", port, host, baseURL }));

let closing = false;
function shutdown(sig) {
  if (closing) return;
  closing = true;
  log({ level: "info", msg: "shutdown", signal: sig });
  server.close(() => pool.end().finally(() => process.exit(0)));
  server.closeIdleConnections?.();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
