// Start/stop gatehouse-tasks (apps/tasks), the reference resource server, next to a gatehouse
// started with lib/server.mjs.
//
//   const tasks = await startTasks({ backend, gatehouseUrl: srv.url, env: { TASKS_AUTH: "session" } })
//   tasks.url          http://127.0.0.1:PORT
//   tasks.db           SQL access to its own database (the "tasks" table; lib/db.mjs)
//   await tasks.call("GET", "/api/tasks", { bearer, cookie, json, headers, origin })
//   await tasks.stop() SIGTERM, wait, assert exit code 0 and one JSON object per stderr line
//
// The tasks database follows the backend: a new SQLite file, or a new database on the harness's
// shared PostgreSQL cluster. GATEHOUSE_TASKS_BIN selects the binary (lib/config.mjs).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { GATEHOUSE_TASKS_BIN, REPO_ROOT, VERBOSE } from "./config.mjs";
import { openDb, withHelpers } from "./db.mjs";
import { sharedCluster } from "./pg.mjs";
import { childEnv, freePort, makeTempDir, onExit, sleep } from "./util.mjs";

const live = new Set();
onExit(() => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
});

/** A fresh, empty database URL for the tasks server on this backend. */
export async function freshTasksDatabaseUrl(backend) {
  if (backend === "sqlite") return `sqlite:${path.join(makeTempDir("gh-e2e-tasks-db"), "tasks.db")}`;
  const cluster = await sharedCluster();
  return cluster.createDatabase("tasks");
}

/** Raw HTTP to the tasks server (node:http: exact headers, no redirects). */
export function tasksRequest(port, method, urlPath, opts = {}) {
  const { json, body: rawBody, contentType, headers = {}, bearer, cookie, origin, timeoutMs = 30000 } = opts;
  const h = {};
  let body = rawBody;
  if (json !== undefined) {
    body = JSON.stringify(json);
    h["content-type"] = "application/json";
  }
  if (contentType) h["content-type"] = contentType;
  if (bearer !== undefined) h.authorization = `Bearer ${bearer}`;
  if (cookie) h.cookie = cookie;
  if (origin) h.origin = origin;
  for (const [k, v] of Object.entries(headers)) {
    if (v === null || v === undefined) delete h[k.toLowerCase()];
    else h[k.toLowerCase()] = v;
  }
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  if (payload !== undefined) h["content-length"] = String(payload.length);
  return new Promise((resolve, reject) => {
    let got = false;
    const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: h, agent: false, timeout: timeoutMs }, (res) => {
      got = true;
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed;
        try {
          parsed = text === "" ? undefined : JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json: parsed });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`request timed out: ${method} ${urlPath}`)));
    req.on("error", (err) => {
      if (!got) reject(err);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function startTasks({ backend, gatehouseUrl, databaseUrl, env = {}, hint = "tasks", readyTimeoutMs = 30000 } = {}) {
  if (!fs.existsSync(GATEHOUSE_TASKS_BIN)) {
    throw new Error(`gatehouse-tasks binary not found at ${GATEHOUSE_TASKS_BIN} (build it first, or set GATEHOUSE_TASKS_BIN)`);
  }
  if (!databaseUrl) databaseUrl = await freshTasksDatabaseUrl(backend);
  const port = await freePort();
  const fullEnv = {
    TASKS_HOST: "127.0.0.1",
    TASKS_PORT: port,
    TASKS_DATABASE_URL: databaseUrl,
    GATEHOUSE_URL: gatehouseUrl,
    ...env,
  };
  const logFile = path.join(makeTempDir(`gh-e2e-log-${hint}`), "tasks.stderr");
  const logStream = fs.createWriteStream(logFile);
  const child = spawn(GATEHOUSE_TASKS_BIN, ["serve"], { env: childEnv(fullEnv), stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const t = {
    backend,
    port,
    url: `http://127.0.0.1:${port}`,
    databaseUrl,
    env: fullEnv,
    child,
    logFile,
    stderrLines: [],
    logs: [],
    stdout: "",
    exitInfo: null,
    db: withHelpers(openDb(databaseUrl)),
  };
  let partial = "";
  const addLine = (line) => {
    if (line === "") return;
    t.stderrLines.push(line);
    try {
      t.logs.push(JSON.parse(line));
    } catch {
      t.logs.push({ __unparsed: line });
    }
  };
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    logStream.write(chunk);
    if (VERBOSE) process.stderr.write(chunk);
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop();
    lines.forEach(addLine);
  });
  child.stdout.setEncoding("utf8").on("data", (c) => (t.stdout += c));
  t.exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      if (partial) addLine(partial);
      partial = "";
      live.delete(child);
      t.exitInfo = { code, signal };
      logStream.end();
      resolve(t.exitInfo);
    });
  });
  t.call = (method, urlPath, opts) => tasksRequest(port, method, urlPath, opts);
  /** Every stderr line is one JSON object and none contains any of the given secrets (tokens). */
  t.assertLogHygiene = (secrets = []) => {
    for (const line of t.stderrLines) {
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        assert.fail(`tasks stderr line is not JSON: ${line.slice(0, 300)}`);
      }
      assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `not a JSON object: ${line.slice(0, 300)}`);
    }
    const text = t.stderrLines.join("\n") + t.stdout;
    for (const s of secrets) if (s) assert.ok(!text.includes(s), "a credential appears in the tasks server's output");
  };
  t.stop = async ({ expectCode = 0, secrets = [], timeoutMs = 15000 } = {}) => {
    if (!t.exitInfo) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await t.exited;
      clearTimeout(timer);
    }
    await t.db.close().catch(() => {});
    t.assertLogHygiene(secrets);
    if (expectCode !== null) {
      assert.deepEqual(t.exitInfo, { code: expectCode, signal: null }, `tasks exit after SIGTERM; stderr tail:\n${t.stderrLines.slice(-20).join("\n")}`);
    }
    return t.exitInfo;
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (t.exitInfo) {
      throw new Error(`gatehouse-tasks exited before it was ready (${JSON.stringify(t.exitInfo)}):\n${t.stderrLines.slice(-30).join("\n")}`);
    }
    try {
      const res = await tasksRequest(port, "GET", "/health", { timeoutMs: 2000 });
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await t.exited;
      throw new Error(`gatehouse-tasks not ready after ${readyTimeoutMs} ms\n${t.stderrLines.slice(-30).join("\n")}`);
    }
    await sleep(50);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// The FastAPI example (integrations/fastapi/examples/tasks_app.py), the same API in Python, under
// Debian's /usr/bin/python3 + uvicorn. Same interface as startTasks; the TASKS_* variables the
// suite uses for gatehouse-tasks are translated to the example's GATEHOUSE_* ones (the example reads
// TASKS_DATABASE_URL, TASKS_SERVICE_TOKEN, TASKS_API_KEY_* itself). Its database follows the backend
// like gatehouse-tasks' (a SQLite file, or a database on the harness's PostgreSQL through Debian's
// python3-psycopg).
export const FASTAPI_DIR = path.join(REPO_ROOT, "integrations", "fastapi");
export const FASTAPI_PYTHON = process.env.GH_FASTAPI_PYTHON || "/usr/bin/python3";

const skipReasons = new Map();
/** null when the example can run here on this backend, else why not (a skip reason). */
export function fastapiSkipReason(backend = "sqlite") {
  if (!skipReasons.has(backend)) skipReasons.set(backend, probeFastapi(backend));
  return skipReasons.get(backend);
}

function probeFastapi(backend) {
  if (!fs.existsSync(FASTAPI_PYTHON)) return `${FASTAPI_PYTHON} not found`;
  const mods = `fastapi, uvicorn, jwt, httpx, cryptography${backend === "postgres" ? ", psycopg" : ""}`;
  const r = spawnSync(FASTAPI_PYTHON, ["-c", `import ${mods}`], { encoding: "utf8" });
  if (r.status !== 0) return `Debian's Python packages for the FastAPI example are missing (scripts/deps.sh --test): ${r.stderr.trim().split("\n").at(-1)}`;
  return null;
}

const ENV_MAP = {
  TASKS_AUTH: "GATEHOUSE_AUTH",
  TASKS_JWKS_URL: "GATEHOUSE_JWKS_URL",
  TASKS_SESSION_URL: "GATEHOUSE_SESSION_URL",
  TASKS_JWT_ISSUER: "GATEHOUSE_JWT_ISSUER",
  TASKS_JWT_AUDIENCE: "GATEHOUSE_JWT_AUDIENCE",
  TASKS_JWT_LEEWAY: "GATEHOUSE_JWT_LEEWAY",
  TASKS_JWT_ALLOW_MISSING_KID: "GATEHOUSE_JWT_ALLOW_MISSING_KID",
  TASKS_HTTP_TIMEOUT_MS: "GATEHOUSE_HTTP_TIMEOUT_MS",
};

export async function startFastapiTasks({ backend, gatehouseUrl, databaseUrl, env = {}, hint = "tasks-py", readyTimeoutMs = 30000 } = {}) {
  if (!databaseUrl) databaseUrl = await freshTasksDatabaseUrl(backend || "sqlite");
  const port = await freePort();
  const fullEnv = { GATEHOUSE_URL: gatehouseUrl, TASKS_DATABASE_URL: databaseUrl };
  for (const [k, v] of Object.entries(env)) fullEnv[ENV_MAP[k] || k] = v;
  const logFile = path.join(makeTempDir(`gh-e2e-log-${hint}`), "uvicorn.stderr");
  const logStream = fs.createWriteStream(logFile);
  const args = ["-m", "uvicorn", "examples.tasks_app:app", "--host", "127.0.0.1", "--port", String(port), "--no-access-log"];
  const child = spawn(FASTAPI_PYTHON, args, { cwd: FASTAPI_DIR, env: childEnv({ ...fullEnv, PYTHONDONTWRITEBYTECODE: "1" }), stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const t = { impl: "fastapi", backend, port, url: `http://127.0.0.1:${port}`, databaseUrl, env: fullEnv, child, logFile, stderrLines: [], stdout: "", exitInfo: null, db: withHelpers(openDb(databaseUrl)) };
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    logStream.write(chunk);
    if (VERBOSE) process.stderr.write(chunk);
    t.stderrLines.push(...chunk.split("\n").filter(Boolean));
  });
  child.stdout.setEncoding("utf8").on("data", (c) => (t.stdout += c));
  t.exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      t.exitInfo = { code, signal };
      logStream.end();
      resolve(t.exitInfo);
    });
  });
  t.call = (method, urlPath, opts) => tasksRequest(port, method, urlPath, opts);
  t.assertLogHygiene = (secrets = []) => {
    const text = t.stderrLines.join("\n") + t.stdout;
    for (const s of secrets) if (s) assert.ok(!text.includes(s), "a credential appears in the FastAPI example's output");
  };
  t.stop = async ({ secrets = [], timeoutMs = 15000 } = {}) => {
    if (!t.exitInfo) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await t.exited;
      clearTimeout(timer);
    }
    await t.db.close().catch(() => {});
    t.assertLogHygiene(secrets);
    return t.exitInfo;
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (t.exitInfo) throw new Error(`the FastAPI example exited before it was ready (${JSON.stringify(t.exitInfo)}):\n${t.stderrLines.slice(-30).join("\n")}`);
    try {
      const res = await tasksRequest(port, "GET", "/health", { timeoutMs: 2000 });
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await t.exited;
      throw new Error(`the FastAPI example is not ready after ${readyTimeoutMs} ms\n${t.stderrLines.slice(-30).join("\n")}`);
    }
    await sleep(100);
  }
  return t;
}
