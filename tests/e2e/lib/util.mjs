// Small shared helpers: free ports, temp dirs, child-process cleanup on exit.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { KEEP } from "./config.mjs";

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
// Ports this process has handed out: the kernel may offer a just-closed port again, so a second
// freePort() could return the port a server of this process is about to bind.
const handedOut = new Set();

/** A TCP port on 127.0.0.1 that nothing listens on now and this process has not handed out before. */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no fresh free port after 50 tries");
}

/** Root for this process's temporary files (GH_E2E_TMP if the runner script set one). */
function tmpRoot() {
  const root = process.env.GH_E2E_TMP || os.tmpdir();
  fs.mkdirSync(root, { recursive: true });
  return root;
}

const tempDirs = [];
/** mkdtemp under the temp root; removed at process exit unless GH_E2E_KEEP=1. */
export function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(tmpRoot(), `${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

// Synchronous clean-up hooks run at process exit (also after a failed test or an uncaught error),
// in reverse registration order: child processes first, then temporary directories.
const exitHooks = [];
export function onExit(fn) {
  exitHooks.push(fn);
}
let exiting = false;
function runExitHooks() {
  if (exiting) return;
  exiting = true;
  for (const fn of exitHooks.reverse()) {
    try {
      fn();
    } catch (err) {
      process.stderr.write(`e2e cleanup: ${err?.message || err}\n`);
    }
  }
  if (!KEEP) {
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
  }
}
process.on("exit", runExitHooks);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    runExitHooks();
    process.exit(128 + (os.constants.signals[sig] || 0));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Environment for a child process: ours minus the variables of node's test runner. */
export function childEnv(extra = {}) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

/** Unique-enough suffix for e-mail addresses and DB names. */
let counter = 0;
export function uniq() {
  counter += 1;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${counter}`;
}
