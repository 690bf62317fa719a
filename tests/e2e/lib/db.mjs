// Direct SQL access to the database a server under test uses, for assertions
// ("the failed sign-up left no row", "the session row is gone", "expiresAt ≈ now + 1 day").
//
//   const db = openDb("postgres://…") | openDb("sqlite:/path/file.db")
//   await db.all(sql`SELECT * FROM "user" WHERE email = ${email}`)
//   await db.count("session", { userId })
//
// PostgreSQL goes through the `pg` package. SQLite goes through the sqlite3 command-line shell
// (`sqlite3 -json`), which reads a WAL database correctly while the server has it open, and needs no
// native node module. Values come back as each backend stores them (PG: Date/boolean; SQLite: ISO
// text and 0/1); use toDate()/toBool() to compare.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";

const execFileP = promisify(execFile);

/** Tagged template: identifiers are written in the SQL text, ${values} become parameters. */
export function sql(strings, ...values) {
  return { strings: [...strings], values };
}

function sqliteLiteral(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`bad number ${v}`);
    return String(v);
  }
  if (typeof v === "boolean") return v ? "1" : "0";
  if (v instanceof Date) return `'${v.toISOString()}'`;
  return `'${String(v).replace(/'/g, "''")}'`;
}

export function toDate(v) {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(v);
}

export function toBool(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  return v === "1" || v === "true" || v === "t";
}

class PgDb {
  constructor(url) {
    this.kind = "postgres";
    this.url = url;
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    this.pool.on("error", () => {}); // outage tests kill connections under the pool
  }
  async all(q) {
    const text = q.strings.reduce((acc, s, i) => acc + (i ? `$${i}` : "") + s, "");
    const res = await this.pool.query(text, q.values);
    return res.rows;
  }
  async exec(text) {
    await this.pool.query(text);
  }
  async close() {
    await this.pool.end();
  }
}

class SqliteDb {
  constructor(file) {
    this.kind = "sqlite";
    this.file = file;
  }
  async #run(text, json) {
    const args = json ? ["-json"] : [];
    args.push("-cmd", ".timeout 5000", this.file, text);
    const { stdout } = await execFileP("sqlite3", args, { maxBuffer: 64 << 20 });
    return stdout;
  }
  async all(q) {
    const text = q.strings.reduce((acc, s, i) => acc + (i ? sqliteLiteral(q.values[i - 1]) : "") + s, "");
    const out = (await this.#run(text, true)).trim();
    return out ? JSON.parse(out) : [];
  }
  async exec(text) {
    await this.#run(text, false);
  }
  async close() {}
}

export function openDb(databaseUrl) {
  if (databaseUrl.startsWith("sqlite:")) return new SqliteDb(databaseUrl.slice("sqlite:".length));
  if (databaseUrl.startsWith("postgres://") || databaseUrl.startsWith("postgresql://")) return new PgDb(databaseUrl);
  throw new Error(`unsupported DATABASE_URL ${databaseUrl}`);
}

/** Helpers shared by both backends. */
export function withHelpers(db) {
  db.one = async (q) => (await db.all(q))[0] ?? null;
  /** Number of rows in table matching all of where's columns (equality). */
  db.count = async (table, where = {}) => {
    const keys = Object.keys(where);
    const strings = [`SELECT count(*) AS n FROM "${table}"`];
    const values = [];
    keys.forEach((k, i) => {
      strings[strings.length - 1] += `${i ? " AND" : " WHERE"} "${k}" = `;
      strings.push("");
      values.push(where[k]);
    });
    const rows = await db.all({ strings, values });
    return Number(rows[0].n);
  };
  db.userByEmail = (email) => db.one(sql`SELECT * FROM "user" WHERE email = ${email}`);
  db.sessionByToken = (token) => db.one(sql`SELECT * FROM "session" WHERE token = ${token}`);
  db.sessionsOf = (userId) => db.all(sql`SELECT * FROM "session" WHERE "userId" = ${userId}`);
  db.accountsOf = (userId) => db.all(sql`SELECT * FROM "account" WHERE "userId" = ${userId}`);
  /** Row counts of the core tables, to prove that a failed request wrote nothing. */
  db.snapshot = async () => ({
    user: await db.count("user"),
    account: await db.count("account"),
    session: await db.count("session"),
    verification: await db.count("verification"),
  });
  return db;
}
