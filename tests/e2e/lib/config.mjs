// Harness-wide settings, all from the environment.
//
//   GATEHOUSE_BIN      the server binary (default <repo>/build/gatehouse)
//   GATEHOUSE_TASKS_BIN  the tasks resource server (default <repo>/build/gatehouse-tasks)
//   GH_E2E_TARGET      "gatehouse" (default) or "better-auth": run the same suites against the real
//                      better-auth server library (lib/reference-server.mjs) to check the expectations
//   GH_E2E_BACKENDS    comma list, default "sqlite,postgres"
//   GH_E2E_KEEP        "1": keep temporary directories (server logs, sqlite files, PG data) after the run
//   GH_E2E_VERBOSE     "1": echo server stderr while the tests run
import path from "node:path";
import { fileURLToPath } from "node:url";

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = path.resolve(E2E_DIR, "..", "..");

export const TARGET = (process.env.GH_E2E_TARGET || "gatehouse").trim();
if (TARGET !== "gatehouse" && TARGET !== "better-auth") {
  throw new Error(`GH_E2E_TARGET must be "gatehouse" or "better-auth", got ${JSON.stringify(TARGET)}`);
}
export const IS_REFERENCE = TARGET === "better-auth";

export const GATEHOUSE_BIN = process.env.GATEHOUSE_BIN
  ? path.resolve(process.env.GATEHOUSE_BIN)
  : path.join(REPO_ROOT, "build", "gatehouse");

/** The reference resource server (apps/tasks), default <repo>/build/gatehouse-tasks. */
export const GATEHOUSE_TASKS_BIN = process.env.GATEHOUSE_TASKS_BIN
  ? path.resolve(process.env.GATEHOUSE_TASKS_BIN)
  : path.join(REPO_ROOT, "build", "gatehouse-tasks");

export const REFERENCE_SERVER = path.join(E2E_DIR, "lib", "reference-server.mjs");

export const KEEP = process.env.GH_E2E_KEEP === "1";
export const VERBOSE = process.env.GH_E2E_VERBOSE === "1";

/** The backends every suite runs against (GH_E2E_BACKENDS, default "sqlite,postgres"). */
export function backends() {
  const list = (process.env.GH_E2E_BACKENDS || "sqlite,postgres")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const b of list) {
    if (b !== "sqlite" && b !== "postgres") throw new Error(`unknown backend in GH_E2E_BACKENDS: ${b}`);
  }
  return list;
}

/**
 * Why a backend cannot run in this mode, or null. The reference server (real better-auth on node 20)
 * has no SQLite driver without a native module, so in reference mode only PostgreSQL runs.
 */
export function backendSkipReason(backend) {
  if (IS_REFERENCE && backend === "sqlite") {
    return "reference better-auth server runs on PostgreSQL only (no SQLite driver without native modules on node 20)";
  }
  return null;
}

/** Skip reason for tests that only make sense against gatehouse (CLI, logs, config, limits, outage). */
export const GATEHOUSE_ONLY = IS_REFERENCE ? "gatehouse-only behaviour (GH_E2E_TARGET=better-auth)" : false;

/** The 32+ character secret every test server is started with. */
export const SECRET = "e2e-secret-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEF";
