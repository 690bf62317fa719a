// A real SMTP server on loopback for the e2e suites: Debian's python3-aiosmtpd (scripts/deps.sh
// --test) run with the system interpreter /usr/bin/python3 as a child process. Each received
// message is stored as a file the tests read and parse.
//
//   const smtp = await startSmtp();            // smtp.url = "smtp://127.0.0.1:PORT"
//   const m = await smtp.waitFor((m) => m.to === "a@example.com");
//   m.subject, m.text, m.html, m.headers (lower-case names), m.raw
//   await smtp.stop(); await smtp.start();     // the same port again (server down / back)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, makeTempDir, onExit, sleep } from "./util.mjs";

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "smtp_server.py");
const PYTHON = process.env.GH_E2E_SYSTEM_PYTHON || "/usr/bin/python3";
const live = new Set();
onExit(() => {
  for (const c of live) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
});

/** RFC 2047 encoded words (B and Q) of a header value, decoded. */
export function decodeWords(v) {
  return v.replace(/\r?\n[ \t]/g, " ").replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=(\s+(?==\?))?/g, (_, cs, enc, txt) => {
    const buf = enc.toUpperCase() === "B" ? Buffer.from(txt, "base64") : Buffer.from(txt.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1");
    return buf.toString("utf8");
  });
}

function parseHeaders(block) {
  const headers = {};
  const lines = block.split(/\r?\n/);
  let last = null;
  const list = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && last) {
      list[list.length - 1][1] += "\r\n" + line;
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    last = line.slice(0, i).toLowerCase();
    list.push([last, line.slice(i + 1).trimStart()]);
  }
  for (const [k, v] of list) (headers[k] ??= []).push(v);
  return { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? v[0] : v])), list };
}

function decodePart(headers, body) {
  const cte = String(headers["content-transfer-encoding"] || "").toLowerCase();
  if (cte === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}

/** Parses a MIME message: headers, and the text/plain and text/html parts. */
export function parseMessage(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split);
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const { headers, list } = parseHeaders(head);
  const msg = { raw, headers, headerList: list, text: null, html: null };
  const ct = String(headers["content-type"] || "text/plain");
  const b = /boundary="?([^";]+)"?/i.exec(ct);
  if (/^multipart\//i.test(ct) && b) {
    for (const chunk of body.split("--" + b[1]).slice(1)) {
      if (chunk.startsWith("--")) break;
      const s = chunk.replace(/^\r?\n/, "");
      const at = s.search(/\r?\n\r?\n/);
      const ph = parseHeaders(s.slice(0, at)).headers;
      const pb = s.slice(at).replace(/^\r?\n\r?\n/, "");
      const pct = String(ph["content-type"] || "");
      if (/^text\/plain/i.test(pct)) msg.text = decodePart(ph, pb);
      if (/^text\/html/i.test(pct)) msg.html = decodePart(ph, pb);
    }
  } else {
    msg.text = decodePart(headers, body);
  }
  msg.subject = decodeWords(String(headers.subject || ""));
  msg.to = String(headers.to || "").replace(/^.*<|>.*$/g, "");
  /** The first http(s) link of the text part. */
  msg.link = (msg.text || "").match(/https?:\/\/\S+/)?.[0] ?? null;
  return msg;
}

/** A self-signed certificate for 127.0.0.1 (openssl CLI): { cert, key } file paths. */
export function selfSignedCert() {
  const dir = makeTempDir("gh-e2e-smtp-tls");
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
  return { cert, key };
}

// tls: { cert, key, user, password }: STARTTLS offered and required, AUTH required; with
// implicit: true, TLS from the first byte instead (smtps://).
export async function startSmtp({ port, tls } = {}) {
  const dir = makeTempDir("gh-e2e-smtp");
  port ??= await freePort();
  let child = null;
  const seen = new Set();
  const smtp = {
    port,
    url: `${tls?.implicit ? "smtps" : "smtp"}://127.0.0.1:${port}`,
    dir,
    /** Every message received so far (envelope + parsed), oldest first. */
    messages() {
      const out = [];
      for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
        const rec = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
        out.push({ file: name, envelope: { from: rec.mail_from, to: rec.rcpt_tos, tls: rec.tls, authUser: rec.auth_user }, ...parseMessage(rec.data) });
      }
      return out;
    },
    /** Waits for a message matching pred that was not returned by an earlier waitFor. */
    async waitFor(pred = () => true, timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = smtp.messages().find((x) => !seen.has(x.file) && pred(x));
        if (m) {
          seen.add(m.file);
          return m;
        }
        if (Date.now() > end) throw new Error("no matching message reached the SMTP server in time");
        await sleep(50);
      }
    },
    async start() {
      const extra = tls ? [tls.cert, tls.key, tls.user, tls.password, ...(tls.implicit ? ["implicit"] : [])] : [];
      child = spawn(PYTHON, [SCRIPT, String(port), dir, ...extra], { stdio: ["ignore", "pipe", "pipe"] });
      live.add(child);
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      await new Promise((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          if (out.includes("ready")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`SMTP server exited (${code}): ${err}`)));
      });
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = null;
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await gone;
      live.delete(c);
    },
  };
  await smtp.start();
  return smtp;
}
