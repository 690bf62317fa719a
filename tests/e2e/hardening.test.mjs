// Hardening of the HTTP layer (issue "Hardening and operations"): slow clients from one address
// cannot take the server from the others (per-IP connection cap, trusted proxies exempt, deadlines
// for the request head and body), an endless chunked body is cut off, conflicting Content-Length
// headers are refused. Small option values keep the suite short. Every loopback address
// 127.0.0.0/8 works on Linux: 127.0.0.2 plays the slow client, 127.0.0.3 a trusted proxy.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { GATEHOUSE_ONLY } from "./lib/config.mjs";
import { assertAlive, forEachBackend } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { startServer } from "./lib/server.mjs";
import { sleep } from "./lib/util.mjs";

const SLOW = "127.0.0.2";
const PROXY = "127.0.0.3";
const PER_IP = 8;
const THREADS = 2; // a burst accepted on several threads at once may pass the cap by threads - 1

/** A GET from localAddress with its own connection; rejects unless answered within timeoutMs. */
function get(srv, path, { localAddress = "127.0.0.1", agent = false, headers = {}, timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: srv.port, path: `/api/auth${path}`, localAddress, agent, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`not served within ${timeoutMs} ms: GET ${path}`)));
    req.on("error", reject);
    req.end();
  });
}

/** The other clients are served while the slow ones hold their connections: /ok and get-session. */
async function othersServed(srv, rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    const ok = await get(srv, "/ok");
    assert.equal(ok.status, 200);
    const s = await get(srv, "/get-session");
    assert.equal(s.status, 200);
    assert.equal(s.text, "null");
  }
}

/** A raw socket from localAddress; .ended resolves when the server ends or resets it. */
function openSocket(srv, localAddress) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port: srv.port, localAddress });
    sock.data = "";
    sock.isClosed = false;
    sock.ended = new Promise((r) => sock.on("close", () => ((sock.isClosed = true), r())));
    sock.on("data", (d) => (sock.data += d.toString("latin1")));
    sock.on("error", () => {});
    sock.once("connect", () => resolve(sock));
    sock.once("error", reject);
  });
}

/** Resolves true when p settles within ms, false otherwise. */
async function within(p, ms) {
  let t;
  const r = await Promise.race([p.then(() => true), new Promise((res) => (t = setTimeout(() => res(false), ms)))]);
  clearTimeout(t);
  return r;
}

/** One request written as is on a fresh socket; the raw answer once the server closes or timeoutMs. */
async function exchange(srv, text, { timeoutMs = 3000 } = {}) {
  const sock = await openSocket(srv, "127.0.0.1");
  sock.write(text);
  await within(sock.ended, timeoutMs);
  sock.destroy();
  const [head, ...rest] = sock.data.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), head, body: rest.join("\r\n\r\n") };
}

forEachBackend(
  "hardening",
  (backend) => {
    describe("per-IP connection cap, trusted proxies exempt", () => {
      let srv;
      before(async () => {
        srv = await startServer({
          backend,
          hint: "hardening-cap",
          env: { GATEHOUSE_MAX_CONNECTIONS_PER_IP: PER_IP, GATEHOUSE_HTTP_THREADS: THREADS, GATEHOUSE_TRUSTED_PROXIES: `${PROXY},::1` },
        });
      });
      after(async () => srv?.stop());
      afterEach(async () => assertAlive(srv));

      it("connections from one address over the cap are closed at once; other addresses are served meanwhile", async () => {
        const socks = [];
        for (let i = 0; i < 5 * PER_IP; i++) {
          const s = await openSocket(srv, SLOW).catch(() => null);
          if (s) {
            s.write(i % 2 ? "GET /api/auth/ok HTTP/1.1\r\n" : ""); // a partial head, or nothing
            socks.push(s);
          }
        }
        try {
          // the header timeout is 10 s here: whatever closes within a few seconds was refused
          const deadline = Date.now() + 5000;
          while (socks.filter((s) => !s.isClosed).length > PER_IP + THREADS - 1 && Date.now() < deadline) await sleep(50);
          const open = socks.filter((s) => !s.isClosed).length;
          assert.ok(open <= PER_IP + THREADS - 1, `${open} slow connections from one address still open (cap ${PER_IP})`);
          assert.ok(open >= 1, "the slow connections under the cap are kept");
          await othersServed(srv);
          const late = await openSocket(srv, SLOW).catch(() => null);
          if (late) assert.ok(await within(late.ended, 5000), "a new connection over the cap is closed");
        } finally {
          for (const s of socks) s.destroy();
        }
      });

      it("many concurrent keep-alive connections from a trusted proxy are all served", async () => {
        const n = 5 * PER_IP;
        const agent = new http.Agent({ keepAlive: true, maxSockets: n });
        try {
          for (let round = 0; round < 2; round++) {
            const rs = await Promise.all(Array.from({ length: n }, () => get(srv, "/ok", { localAddress: PROXY, agent, timeoutMs: 5000 })));
            assert.deepEqual(new Set(rs.map((r) => r.status)), new Set([200]));
          }
          const sockets = Object.values(agent.freeSockets).flat().length;
          assert.ok(sockets > PER_IP, `only ${sockets} kept-alive connections from the proxy`);
        } finally {
          agent.destroy();
        }
      });

      it("a chunked body that never ends is cut off (413 or closed) long before its end; the server stays healthy", async () => {
        const sock = await openSocket(srv, "127.0.0.1");
        sock.write("POST /api/auth/sign-up/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, "a"), Buffer.from("\r\n")]);
        const total = 200 * 1024 * 1024; // would take all of it without the cut-off
        let sent = 0;
        try {
          while (sent < total && !sock.isClosed && !sock.destroyed && !sock.data.includes("\r\n\r\n")) {
            if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once("drain", r)), sock.ended, sleep(200)]);
            sent += 0x10000;
          }
        } finally {
          await within(sock.ended, 2000);
          sock.destroy();
        }
        assert.ok(sent < total / 2, `${sent} bytes of an endless chunked body read`);
        if (sock.data) assert.match(sock.data, /^HTTP\/1\.1 413 /);
        await othersServed(srv, 2);
      });
    });

    describe("deadlines for the request head and body", () => {
      let srv;
      before(async () => {
        srv = await startServer({
          backend,
          hint: "hardening-deadline",
          env: { GATEHOUSE_MAX_CONNECTIONS_PER_IP: PER_IP, GATEHOUSE_HEADER_TIMEOUT: 1, GATEHOUSE_BODY_TIMEOUT: 2, GATEHOUSE_CONNECTION_TIMEOUT: 30 },
        });
      });
      after(async () => srv?.stop());
      afterEach(async () => assertAlive(srv));

      it("a head trickled line by line (or never sent) is closed after the header timeout; others are served meanwhile", async () => {
        const socks = [];
        for (let i = 0; i < PER_IP - 2; i++) socks.push(await openSocket(srv, SLOW));
        const timers = socks.map((s, i) => {
          if (i % 3 === 0) return null; // sends nothing
          s.write("GET /api/auth/ok HTTP/1.1\r\n");
          let k = 0;
          return setInterval(() => s.isClosed || s.write(`X-Slow-${k++}: ${"y".repeat(10)}\r\n`), 200); // never idle
        });
        try {
          await othersServed(srv, 3);
          const closed = await within(Promise.all(socks.map((s) => s.ended)), 8000);
          assert.ok(closed, `${socks.filter((s) => !s.isClosed).length} slow heads still open well after the header timeout (1 s)`);
          assert.ok(socks.every((s) => !s.data.startsWith("HTTP/1.1 200")), "no slow head was answered");
          await othersServed(srv, 3);
        } finally {
          for (const t of timers) if (t) clearInterval(t);
          for (const s of socks) s.destroy();
        }
      });

      it("a body trickled byte by byte is closed after the body timeout", async () => {
        const sock = await openSocket(srv, SLOW);
        sock.write("POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
        const t = setInterval(() => sock.isClosed || sock.write(" "), 200);
        try {
          assert.ok(await within(sock.ended, 8000), "a trickled body still open well after the body timeout (2 s)");
        } finally {
          clearInterval(t);
          sock.destroy();
        }
      });

      it("a keep-alive connection is still served within the idle timeout", async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          assert.equal((await get(srv, "/ok", { agent })).status, 200);
          await sleep(1500); // longer than the header timeout, shorter than the idle one
          assert.equal((await get(srv, "/ok", { agent })).status, 200);
        } finally {
          agent.destroy();
        }
      });
    });

    describe("Content-Length", () => {
      let srv;
      before(async () => {
        srv = await startServer({ backend, hint: "hardening-cl" });
      });
      after(async () => srv?.stop());
      afterEach(async () => assertAlive(srv));

      it('two different Content-Length headers → 400 {"message":"Conflicting Content-Length headers","code":"BAD_REQUEST"}', async () => {
        for (const [a, b] of [
          [2, 30],
          [30, 2],
        ]) {
          const r = await exchange(srv, `POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\n{}`);
          assert.equal(r.status, 400, r.head);
          assert.match(r.head, /content-type: application\/json/i);
          assert.deepEqual(JSON.parse(r.body), { message: "Conflicting Content-Length headers", code: "BAD_REQUEST" });
        }
      });

      it("identical repeated Content-Length headers are accepted", async () => {
        const r = await exchange(srv, "GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert.equal(r.status, 200, r.head);
        assert.equal(r.body, '{"ok":true}');
      });
    });
  },
  { only: "sqlite" },
);

// Fair use of the hashing pool (GATEHOUSE_HASH_PER_CLIENT): one address firing many sign-ins at
// once gets 503 for those over its share, and other clients' sign-ins still find room in the queue.
describe("one client cannot take the hashing queue from the others", { skip: GATEHOUSE_ONLY }, () => {
  let srv;
  before(async () => {
    srv = await startServer({
      backend: "sqlite",
      hint: "hash-share",
      env: { GATEHOUSE_HASH_WORKERS: "1", GATEHOUSE_HASH_QUEUE: "4", GATEHOUSE_HASH_WAIT_MS: "0", GATEHOUSE_HASH_PER_CLIENT: "2" },
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it("12 concurrent sign-ins from 127.0.0.2: at most 2 admitted; sign-ins from two other addresses meanwhile are served", async () => {
    const signIn = (localAddress) =>
      raw(srv, "POST", "/sign-in/email", { json: { email: "nobody@example.com", password: "wrong-password-1" }, localAddress });
    const flood = Promise.all(Array.from({ length: 12 }, () => signIn("127.0.0.2")));
    await sleep(30);
    const others = await Promise.all([signIn("127.0.0.3"), signIn("127.0.0.4")]);
    const a = await flood;
    assert.deepEqual(others.map((r) => r.status), [401, 401], `other clients: ${others.map((r) => r.text)}`);
    const served = a.filter((r) => r.status === 401).length;
    const shed = a.filter((r) => r.status === 503).length;
    assert.equal(served + shed, 12, `statuses ${a.map((r) => r.status)}`);
    assert.ok(served <= 4, `the flooding client got ${served} sign-ins through at once`);
    assert.ok(shed >= 8, `only ${shed} of the flood shed`);
    for (const r of a.filter((x) => x.status === 503)) assert.equal(r.json?.code, "SERVICE_UNAVAILABLE");
  });
});
