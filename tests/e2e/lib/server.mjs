// Start/stop the server under test.
//
//   const srv = await startServer({ backend: "sqlite" | "postgres", env: { GATEHOUSE_SESSION_UPDATE_AGE: 0 } })
//   srv.url        http://127.0.0.1:PORT, where the server listens
//   srv.baseURL    GATEHOUSE_BASE_URL (default srv.url): the public origin, sent as Origin by the clients
//   srv.db         SQL access to its database (lib/db.mjs)
//   srv.logs       parsed JSON objects of every stderr line; srv.stderrLines the raw lines
//   await srv.stop()   SIGTERM, wait, and assert exit code 0
//
// With GH_E2E_TARGET=better-auth the same contract is served by lib/reference-server.mjs (the real
// better-auth), PostgreSQL only.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { GATEHOUSE_BIN, IS_REFERENCE, REFERENCE_SERVER, SECRET, VERBOSE } from "./config.mjs";
import { openDb, withHelpers } from "./db.mjs";
import { sharedCluster } from "./pg.mjs";
import { childEnv, freePort, makeTempDir, onExit, sleep } from "./util.mjs";

/** The command line for the server binary (gatehouse, or node + the reference server). */
export function serverCommand(args) {
  if (IS_REFERENCE) return [process.execPath, [REFERENCE_SERVER, ...args]];
  if (!fs.existsSync(GATEHOUSE_BIN)) {
    throw new Error(`gatehouse binary not found at ${GATEHOUSE_BIN} (build it first, or set GATEHOUSE_BIN)`);
  }
  return [GATEHOUSE_BIN, args];
}

/** A fresh, empty database for backend: "sqlite:<new file>" or a new PG database on the shared cluster. */
export async function freshDatabaseUrl(backend, hint = "db") {
  if (backend === "sqlite") {
    const dir = makeTempDir(`gh-e2e-sqlite-${hint}`);
    return `sqlite:${path.join(dir, "gatehouse.db")}`;
  }
  if (backend === "postgres") {
    const cluster = await sharedCluster();
    return cluster.createDatabase(hint);
  }
  throw new Error(`unknown backend ${backend}`);
}

const live = new Set();
onExit(() => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
});

/**
 * startServer, once more on fresh ports when the port it was given was taken between freePort()
 * and the server's bind (other test files pick ports concurrently). env values may use {PORT} (the
 * main port) and {PORT2} (a second free port, srv.port2, e.g. for a separate metrics listener).
 */
export async function startServer(opts = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e?.message))) throw e;
    }
  }
}

async function startServerOnce({
  backend,
  databaseUrl,
  hint = "srv",
  env = {},
  args = ["serve", "--migrate"],
  secret = SECRET,
  readyTimeoutMs = 30000,
} = {}) {
  if (!databaseUrl) databaseUrl = await freshDatabaseUrl(backend, hint);
  const port = await freePort();
  const port2 = Object.values(env).some((v) => typeof v === "string" && v.includes("{PORT2}")) ? await freePort() : undefined;
  const url = `http://127.0.0.1:${port}`;
  // env may give a base URL of its own (e.g. https://… as behind a TLS proxy); {PORT}, {PORT2} are replaced
  const envResolved = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, typeof v === "string" ? v.replaceAll("{PORT}", String(port)).replaceAll("{PORT2}", String(port2)) : v]),
  );
  const fullEnv = {
    PORT: port,
    GATEHOUSE_HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    GATEHOUSE_SECRET: secret,
    GATEHOUSE_BASE_URL: url,
    GATEHOUSE_ENV: "development",
    ...envResolved,
  };
  const [cmd, argv] = serverCommand(args);
  const logDir = makeTempDir(`gh-e2e-log-${hint}`);
  const logFile = path.join(logDir, "server.stderr");
  const logStream = fs.createWriteStream(logFile);
  const child = spawn(cmd, argv, { env: childEnv(fullEnv), stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);

  const srv = {
    backend,
    url,
    baseURL: fullEnv.GATEHOUSE_BASE_URL, // the public origin (what Origin headers must match)
    apiBase: `${url}/api/auth`,
    port,
    port2,
    secret,
    databaseUrl,
    env: fullEnv,
    child,
    pid: child.pid,
    logFile,
    stderrLines: [],
    logs: [],
    stdout: "",
    exitInfo: null,
    db: withHelpers(openDb(databaseUrl)),
  };

  let partial = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    logStream.write(chunk);
    if (VERBOSE) process.stderr.write(chunk);
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop();
    for (const line of lines) addLine(line);
  });
  function addLine(line) {
    if (line === "") return;
    srv.stderrLines.push(line);
    try {
      srv.logs.push(JSON.parse(line));
    } catch {
      srv.logs.push({ __unparsed: line });
    }
  }
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    srv.stdout += chunk;
  });
  srv.exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      if (partial) addLine(partial);
      partial = "";
      live.delete(child);
      srv.exitInfo = { code, signal };
      logStream.end();
      resolve(srv.exitInfo);
    });
  });

  /** SIGTERM, wait for exit, assert exit code 0 (expectCode). Returns { code, signal }. */
  srv.stop = async ({ expectCode = 0, timeoutMs = 15000 } = {}) => {
    if (!srv.exitInfo) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await srv.exited;
      clearTimeout(t);
    }
    await srv.db.close().catch(() => {});
    srv.assertLogHygiene();
    if (expectCode !== null) {
      assert.deepEqual(
        srv.exitInfo,
        { code: expectCode, signal: null },
        `server exit after SIGTERM; stderr tail:\n${srv.stderrLines.slice(-20).join("\n")}`,
      );
    }
    return srv.exitInfo;
  };
  srv.kill = async () => {
    if (!srv.exitInfo) child.kill("SIGKILL");
    await srv.exited;
    await srv.db.close().catch(() => {});
  };
  /** Is the process still running and answering GET /api/auth/ok with {"ok":true}? */
  srv.alive = async () => {
    if (srv.exitInfo) return false;
    try {
      const res = await fetch(`${srv.apiBase}/ok`);
      return res.status === 200 && (await res.text()) === '{"ok":true}';
    } catch {
      return false;
    }
  };
  /**
   * Contract checks on everything the server wrote to stderr: (gatehouse) one JSON object per line,
   * and (both) the secret never appears. Run by stop() for every server of every suite.
   */
  srv.assertLogHygiene = () => {
    const text = srv.stderrLines.join("\n") + srv.stdout;
    assert.ok(!text.includes(secret), "the secret appears in the server's output");
    if (!IS_REFERENCE) {
      for (const line of srv.stderrLines) {
        let obj;
        try {
          obj = JSON.parse(line);
        } catch {
          assert.fail(`stderr line is not JSON: ${line.slice(0, 300)}`);
        }
        assert.ok(obj !== null && typeof obj === "object" && !Array.isArray(obj), `stderr line is not a JSON object: ${line.slice(0, 300)}`);
      }
    }
  };
  /** Log objects whose JSON text mentions all of the given words (any field). */
  srv.logsMatching = (...words) =>
    srv.logs.filter((o) => {
      const s = JSON.stringify(o).toLowerCase();
      return words.every((w) => s.includes(String(w).toLowerCase()));
    });

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (srv.exitInfo) {
      await srv.db.close().catch(() => {});
      throw new Error(
        `server exited before it was ready (${JSON.stringify(srv.exitInfo)}): ${cmd} ${argv.join(" ")}\n` +
          `${srv.stderrLines.slice(-30).join("\n")}\n${srv.stdout.slice(-2000)}`,
      );
    }
    try {
      const res = await fetch(`${srv.apiBase}/ok`);
      const text = await res.text();
      if (res.status === 200 && text === '{"ok":true}') break;
    } catch {}
    if (Date.now() > deadline) {
      await srv.kill();
      throw new Error(`server not ready after ${readyTimeoutMs} ms\n${srv.stderrLines.slice(-30).join("\n")}`);
    }
    await sleep(50);
  }
  return srv;
}

/**
 * Run a one-shot CLI command of the server binary (gatehouse migrate / check-config / user …).
 * Returns { code, signal, stdout, stderr }.
 */
export async function runCli(args, { env = {}, input, timeoutMs = 60000 } = {}) {
  const [cmd, argv] = serverCommand(args);
  const child = spawn(cmd, argv, { env: childEnv(env), stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
  child.stdin.on("error", () => {});
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, signal } = await new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  clearTimeout(t);
  live.delete(child);
  return { code, signal, stdout, stderr };
}
