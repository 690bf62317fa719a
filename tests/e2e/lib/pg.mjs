// Throwaway PostgreSQL clusters for the e2e suites.
//
// sharedCluster() starts one cluster per test process (node --test runs each file in its own
// process), on a free loopback port, in a fresh temporary directory owned by the postgres user
// (PostgreSQL refuses to run as root, so as root every server-side command goes through
// `runuser -u postgres`). Trust authentication, loopback only, fsync off: a disposable database.
// createDatabase() gives every suite/backend its own fresh database. The cluster is stopped and its
// directory deleted when the process exits. new PgCluster() gives a separate cluster (the outage test
// stops and restarts its own so the others are not disturbed).
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, makeTempDir, onExit } from "./util.mjs";

const execFileP = promisify(execFile);

function findPgBin() {
  if (process.env.GH_PG_BIN) return process.env.GH_PG_BIN;
  const base = "/usr/lib/postgresql";
  let versions = [];
  try {
    versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, "bin", "pg_ctl")));
  } catch {}
  versions.sort((a, b) => Number(a) - Number(b));
  if (!versions.length) {
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install -y postgresql), or set GH_PG_BIN");
  }
  return path.join(base, versions[versions.length - 1], "bin");
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

function asPg(cmd, args) {
  return isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

function chownToPostgres(p) {
  if (!isRoot) return;
  const r = spawnSync("chown", ["-R", "postgres:postgres", p]);
  if (r.status !== 0) throw new Error(`chown postgres ${p}: ${r.stderr}`);
}

export class PgCluster {
  constructor(label = "pg") {
    this.label = label;
    this.bin = findPgBin();
    this.dir = null;
    this.port = null;
    this.running = false;
    this.dbCount = 0;
  }

  get dataDir() {
    return path.join(this.dir, "data");
  }

  /** postgres://postgres@127.0.0.1:PORT/DB */
  url(db = "postgres") {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  async #run(cmd, args) {
    const [c, a] = asPg(path.join(this.bin, cmd), args);
    try {
      return await execFileP(c, a, { maxBuffer: 16 << 20 });
    } catch (err) {
      let log = "";
      try {
        log = fs.readFileSync(path.join(this.dir, "postgres.log"), "utf8").slice(-4000);
      } catch {}
      throw new Error(`${cmd} ${args.join(" ")} failed: ${err.stderr || err.message}\n${log}`);
    }
  }

  async start() {
    if (this.running) return this;
    if (!this.dir) {
      this.dir = makeTempDir(`gh-e2e-${this.label}`);
      fs.chmodSync(this.dir, 0o755);
      fs.mkdirSync(this.dataDir, { mode: 0o700 });
      chownToPostgres(this.dir);
      await this.#run("initdb", ["-D", this.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
      this.port = await freePort();
      fs.appendFileSync(
        path.join(this.dataDir, "postgresql.conf"),
        [
          "",
          "# gatehouse e2e: throwaway cluster",
          "listen_addresses = '127.0.0.1'",
          `port = ${this.port}`,
          `unix_socket_directories = '${this.dir}'`,
          "max_connections = 100",
          "shared_buffers = 32MB",
          "fsync = off",
          "synchronous_commit = off",
          "full_page_writes = off",
          "log_min_messages = warning",
          "",
        ].join("\n"),
      );
      const cluster = this;
      onExit(() => cluster.#stopSync());
    }
    const log = path.join(this.dir, "postgres.log");
    if (!fs.existsSync(log)) {
      fs.writeFileSync(log, "");
      chownToPostgres(log);
    }
    await this.#run("pg_ctl", ["-D", this.dataDir, "-l", log, "-w", "-t", "60", "start"]);
    this.running = true;
    return this;
  }

  /** Fast shutdown; the data stays, start() brings the same cluster back on the same port. */
  async stop() {
    if (!this.running) return;
    await this.#run("pg_ctl", ["-D", this.dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    this.running = false;
  }

  #stopSync() {
    if (!this.dir || !fs.existsSync(path.join(this.dataDir, "postmaster.pid"))) return;
    const [c, a] = asPg(path.join(this.bin, "pg_ctl"), ["-D", this.dataDir, "-m", "immediate", "-w", "-t", "30", "stop"]);
    spawnSync(c, a, { stdio: "ignore" });
    this.running = false;
  }

  /** SQL as the superuser on database db (default "postgres"). */
  async admin(sql, params = [], db = "postgres") {
    const client = new pg.Client({ connectionString: this.url(db) });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  }

  /** A new empty database; returns its URL. */
  async createDatabase(hint = "db") {
    await this.start();
    this.dbCount += 1;
    const name = `e2e_${hint.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 40)}_${this.dbCount}`;
    await this.admin(`CREATE DATABASE "${name}"`);
    return this.url(name);
  }
}

let shared = null;
/** The cluster shared by all suites of this test process (started on first use). */
export async function sharedCluster() {
  if (!shared) shared = new PgCluster("pg");
  await shared.start();
  return shared;
}
