// GET /metrics (Prometheus text format): counts what happened — requests by route and status,
// durations, sign-ins by result, sessions created/revoked, users created/deleted; labels are the
// declared routes; GATEHOUSE_METRICS=false → 404.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY } from "./lib/config.mjs";
import { PASSWORD, assertBare404, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { sql } from "./lib/db.mjs";
import { runCli, startServer } from "./lib/server.mjs";

/** { "name{labels}": value } of a Prometheus text exposition. */
function parse(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

describe("metrics", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "metrics" });
  });
  after(async () => {
    await srv?.stop();
  });

  it("counts requests, sign-ins, sessions and users as they happen", async () => {
    const a = await signUp(srv);
    const bad = await raw(srv, "POST", "/sign-in/email", { json: { email: a.email, password: "wrong-password-1" } });
    assert.equal(bad.status, 401);
    assert.equal((await raw(srv, "POST", "/sign-in/email", { json: { email: "nobody-here@example.com", password: "wrong-password-1" } })).status, 401);
    const s = await signIn(srv, { email: a.email, password: PASSWORD });
    assert.equal((await raw(srv, "POST", "/sign-out", { jar: s.jar })).status, 200);
    await raw(srv, "GET", "/nope");
    const res = await raw(srv, "GET", "=/metrics", { origin: null });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    const m = parse(res.text);
    const req = (method, route, status) => m[`gatehouse_http_requests_total{method="${method}",route="${route}",status="${status}"}`];
    assert.equal(req("POST", "/api/auth/sign-up/email", 200), 1);
    assert.equal(req("POST", "/api/auth/sign-in/email", 401), 2);
    assert.equal(req("POST", "/api/auth/sign-in/email", 200), 1);
    assert.equal(req("POST", "/api/auth/sign-out", 200), 1);
    assert.equal(m['gatehouse_http_request_duration_seconds_count{method="POST",route="/api/auth/sign-in/email"}'], 3);
    assert.equal(m['gatehouse_http_request_duration_seconds_bucket{method="POST",route="/api/auth/sign-in/email",le="+Inf"}'], 3);
    assert.ok(m['gatehouse_http_request_duration_seconds_sum{method="POST",route="/api/auth/sign-in/email"}'] > 0);
    assert.equal(m['gatehouse_sign_ins_total{result="success"}'], 1);
    assert.equal(m['gatehouse_sign_ins_total{result="failure"}'], 2);
    // by the audit line's reason
    assert.equal(m['gatehouse_sign_in_failures_total{reason="INVALID_PASSWORD"}'], 1);
    assert.equal(m['gatehouse_sign_in_failures_total{reason="USER_NOT_FOUND"}'], 1);
    assert.equal(m.gatehouse_http_unrouted_total, 1, "GET /nope");
    assert.equal(m.gatehouse_db_reconnects_total, 0);
    assert.equal(m.gatehouse_sessions_created_total, 2, "sign-up + sign-in");
    assert.equal(m.gatehouse_sessions_revoked_total, 1, "sign-out");
    assert.equal(m.gatehouse_users_created_total, 1);
    assert.equal(m.gatehouse_users_deleted_total, 0);
    assert.ok(!res.text.includes("/nope"), "raw paths never become labels");
  });
});

describe("metrics: load shedding, rate limiting, connections", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({
      backend: "sqlite",
      hint: "metrics-shed",
      env: { GATEHOUSE_HASH_WORKERS: "1", GATEHOUSE_HASH_QUEUE: "1", GATEHOUSE_HASH_WAIT_MS: "0", GATEHOUSE_RATE_LIMIT: "on", GATEHOUSE_RATE_LIMIT_RULES: "/get-session=60/1" },
    });
  });
  after(async () => {
    await srv?.stop();
  });
  it("503 sheds of a full hashing queue, 429s, open connections and the queue gauges are reported", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => raw(srv, "POST", "/sign-up/email", { json: { name: "S", email: `shed-${i}-${Date.now()}@example.com`, password: PASSWORD }, localAddress: `127.0.1.${i + 1}` })),
    );
    const shed = results.filter((r) => r.status === 503).length;
    assert.ok(shed >= 1, `no 503: ${results.map((r) => r.status)}`);
    assert.equal((await raw(srv, "GET", "/get-session")).status, 200);
    assert.equal((await raw(srv, "GET", "/get-session")).status, 429);
    const m = parse((await raw(srv, "GET", "=/metrics", { origin: null })).text);
    assert.equal(m.gatehouse_hash_queue_shed_total, shed);
    assert.equal(m.gatehouse_rate_limited_total, 1);
    assert.ok(m.gatehouse_connections_open >= 1, "this very connection is open");
    assert.equal(m.gatehouse_hash_queue_depth, 0);
    assert.equal(m.gatehouse_hash_running, 0);
    assert.equal(m.gatehouse_db_errors_total, 0);
    assert.equal(m.gatehouse_connections_refused_total, 0);
  });
});

describe("metrics off (GATEHOUSE_METRICS=false)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "metrics-off", env: { GATEHOUSE_METRICS: "false" } });
  });
  after(async () => {
    await srv?.stop();
  });
  it("GET /metrics → bare 404", async () => {
    assertBare404(await raw(srv, "GET", "=/metrics", { origin: null }));
  });
});

describe("metrics: plugins that revoke sessions or delete users count them too (admin)", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "metrics-admin", env: { GATEHOUSE_PLUGINS: "bearer,jwt,admin" } });
  });
  after(async () => {
    await srv?.stop();
  });

  it("revoke-user-session, revoke-user-sessions, ban-user and remove-user reach gatehouse_sessions_revoked_total / gatehouse_users_deleted_total", async () => {
    const adm = await signUp(srv, { name: "Admin" });
    await srv.db.all(sql`UPDATE "user" SET "role" = ${"admin"} WHERE "id" = ${adm.user.id}`);
    const metric = async (name) => parse((await raw(srv, "GET", "=/metrics", { origin: null })).text)[name];
    const u = await signUp(srv);
    const s2 = await signIn(srv, { email: u.email });
    const before = await metric("gatehouse_sessions_revoked_total");
    const post = async (path, json) => {
      const r = await raw(srv, "POST", path, { json, jar: adm.jar });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    };
    await post("/admin/revoke-user-session", { sessionToken: s2.token });
    assert.equal(await metric("gatehouse_sessions_revoked_total"), before + 1, "revoke-user-session");
    await post("/admin/revoke-user-sessions", { userId: u.user.id });
    assert.equal(await metric("gatehouse_sessions_revoked_total"), before + 2, "revoke-user-sessions");
    await signIn(srv, { email: u.email });
    await post("/admin/ban-user", { userId: u.user.id });
    assert.equal(await metric("gatehouse_sessions_revoked_total"), before + 3, "ban-user");
    const deleted = await metric("gatehouse_users_deleted_total");
    await post("/admin/remove-user", { userId: u.user.id });
    assert.equal(await metric("gatehouse_users_deleted_total"), deleted + 1, "remove-user");
  });
});

describe("metrics on a listener of their own (GATEHOUSE_METRICS_ADDR)", { skip: GATEHOUSE_ONLY }, () => {
  let srv, port;
  before(async () => {
    srv = await startServer({ backend: "sqlite", hint: "metrics-addr", env: { GATEHOUSE_METRICS_ADDR: "127.0.0.1:{PORT2}" } });
    port = srv.port2;
  });
  after(async () => {
    await srv?.stop();
  });

  it("served on that address with the main listener's counts; the main listener answers a bare 404", async () => {
    await signUp(srv);
    assertBare404(await raw(srv, "GET", "=/metrics", { origin: null }));
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    const m = parse(await res.text());
    assert.equal(m['gatehouse_http_requests_total{method="POST",route="/api/auth/sign-up/email",status="200"}'], 1);
    assert.equal(m['gatehouse_http_requests_total{method="GET",route="/metrics",status="404"}'], 1, "the refused scrape on the main listener");
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/auth/ok`)).status, 404, "only /metrics there");
  });

  it("a malformed address stops the start with a clear message", async () => {
    const r = await runCli(["check-config"], { env: { DATABASE_URL: "sqlite::memory:", GATEHOUSE_METRICS_ADDR: "9464" } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /GATEHOUSE_METRICS_ADDR: expected host:port/);
  });
});
