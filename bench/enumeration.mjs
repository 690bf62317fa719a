// Enumeration timing: does the answer time tell a taken e-mail from a free one?
//
//   GATEHOUSE_BIN=build/gatehouse node bench/enumeration.mjs [TRIES] [BACKEND]
//
// Starts gatehouse (GATEHOUSE_REQUIRE_EMAIL_VERIFICATION=true, mail through a real local SMTP
// server, as the e2e suites do) on SQLite (or postgres) and, for each endpoint that must not
// reveal accounts, alternates TRIES requests about a known address with TRIES about unknown ones
// (interleaved, one at a time) and prints the mean time of each and the difference:
//   POST /sign-up/email            existing e-mail (synthetic user) vs a new one (user created)
//   POST /request-password-reset   known vs unknown address
//   POST /send-verification-email  an unverified user's address (mail queued) vs an unknown one
//   POST /change-email             taken vs free address (better-auth answers {status:true})
// Not a test: speed is never asserted; the figure goes to docs/operations.md.
import { performance } from "node:perf_hooks";
import { raw } from "../tests/e2e/lib/http.mjs";
import { startServer } from "../tests/e2e/lib/server.mjs";
import { startSmtp } from "../tests/e2e/lib/smtp.mjs";
import { CookieJar } from "../tests/e2e/lib/cookies.mjs";

const TRIES = Number(process.argv[2] || 50);
const backend = process.argv[3] || "sqlite";
const smtp = await startSmtp();
const srv = await startServer({
  backend,
  hint: "bench-enum",
  env: {
    GATEHOUSE_SMTP_URL: smtp.url,
    GATEHOUSE_REQUIRE_EMAIL_VERIFICATION: "true",
    GATEHOUSE_CHANGE_EMAIL: "true",
    GATEHOUSE_RATE_LIMIT: "off",
  },
});
let n = 0;
const fresh = () => `bench-${process.pid}-${n++}@example.com`;
const PASSWORD = "correct-horse-battery";

async function time(fn) {
  const t = performance.now();
  const r = await fn();
  const ms = performance.now() - t;
  if (r.status !== 200) throw new Error(`unexpected ${r.status} ${r.text}`);
  return ms;
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function measure(name, known, unknown) {
  for (let i = 0; i < 5; i++) { await known(); await unknown(); } // warm-up
  const k = [], u = [];
  for (let i = 0; i < TRIES; i++) {
    if (i % 2) { k.push(await time(known)); u.push(await time(unknown)); }
    else { u.push(await time(unknown)); k.push(await time(known)); }
  }
  const d = mean(k) - mean(u);
  console.log(`| ${name} | ${mean(k).toFixed(2)} | ${mean(u).toFixed(2)} | ${d >= 0 ? "+" : ""}${d.toFixed(2)} |`);
}

const taken = fresh();
await raw(srv, "POST", "/sign-up/email", { json: { name: "Owner", email: taken, password: PASSWORD } });
const other = fresh();
await raw(srv, "POST", "/sign-up/email", { json: { name: "Other", email: other, password: PASSWORD } });
// a verified user with a session, for change-email
await srv.db.all({ strings: ['UPDATE "user" SET "emailVerified" = ', ' WHERE "email" = ', ""], values: [backend === "sqlite" ? 1 : true, taken] });
const jar = new CookieJar();
const si = await raw(srv, "POST", "/sign-in/email", { json: { email: taken, password: PASSWORD }, jar });
if (si.status !== 200) throw new Error(si.text);

console.log(`gatehouse ${backend}, ${TRIES} interleaved tries each, mean ms`);
console.log("| endpoint | known | unknown | difference |");
console.log("|---|---|---|---|");
await measure(
  "POST /sign-up/email",
  () => raw(srv, "POST", "/sign-up/email", { json: { name: "X", email: taken, password: PASSWORD } }),
  () => raw(srv, "POST", "/sign-up/email", { json: { name: "X", email: fresh(), password: PASSWORD } }),
);
await measure(
  "POST /request-password-reset",
  () => raw(srv, "POST", "/request-password-reset", { json: { email: taken } }),
  () => raw(srv, "POST", "/request-password-reset", { json: { email: fresh() } }),
);
await measure(
  "POST /send-verification-email (no session)",
  () => raw(srv, "POST", "/send-verification-email", { json: { email: other } }),
  () => raw(srv, "POST", "/send-verification-email", { json: { email: fresh() } }),
);
await measure(
  "POST /change-email",
  () => raw(srv, "POST", "/change-email", { json: { newEmail: other }, jar }),
  () => raw(srv, "POST", "/change-email", { json: { newEmail: fresh() }, jar }),
);
await srv.stop();
await smtp.stop();
