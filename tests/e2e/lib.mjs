// lib.mjs — shared helpers for the end-to-end tests: a tiny test runner, temporary projects
// and cache/config homes, spawning the real binary and talking raw JSON-RPC lines to it.
//
// The binary is $EMBECODE_BIN (default build/embecode at the repository root). Every server
// gets its own XDG_CACHE_HOME, XDG_CONFIG_HOME and HOME under a temp dir, so tests never
// touch the user's index or config.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import addFormats from "ajv-formats";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = process.env.EMBECODE_BIN
  ? path.resolve(process.env.EMBECODE_BIN)
  : path.join(ROOT, "build", "embecode");
export const MAX_LINE = 4 * 1024 * 1024;
export const VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

// ---- test runner ----------------------------------------------------------------------

const tests = [];
/** Registers a test; fn may be async. */
export function test(name, fn) {
  tests.push({ name, fn });
}

/** Runs the registered tests in order (filter: env E2E_FILTER substring), prints
 *  "N passed, N failed" and exits non-zero when anything failed. */
export async function run() {
  const filter = process.env.E2E_FILTER || "";
  let passed = 0;
  let failed = 0;
  if (!fs.existsSync(BIN)) {
    console.error(`embecode binary not found at ${BIN}: build it (make) or set EMBECODE_BIN`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
  for (const t of tests) {
    if (filter && !t.name.includes(filter)) continue;
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      if (process.env.E2E_VERBOSE) console.error(`ok   ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.error(`FAIL ${t.name}: ${e && e.stack ? e.stack : e}`);
    }
  }
  await cleanupAll();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ---- temporary files ------------------------------------------------------------------

const tempDirs = [];
const children = new Set();

/** A fresh temporary directory, removed at the end of the run (unless E2E_KEEP=1). */
export function tempDir(prefix = "embecode-e2e-") {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

async function cleanupAll() {
  for (const c of children) c.kill("SIGKILL");
  if (process.env.E2E_KEEP) return;
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

/** Writes files ({relative path: content}) into a new temporary project; returns its path. */
export function makeRepo(files) {
  const dir = tempDir("embecode-repo-");
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

/** Environment for one server: private cache, config and home directories. */
export function isolatedEnv(extra = {}) {
  const home = tempDir("embecode-home-");
  const env = { ...process.env };
  delete env.EMBECODE_LOG;
  return {
    ...env,
    HOME: home,
    XDG_CACHE_HOME: path.join(home, "cache"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    ...extra,
  };
}

/** A small project in three languages; the tests below rely on these names. */
export const SAMPLE_FILES = {
  "src/net/retry.py": `import time


def fetch_with_retry(url, attempts=3):
    """Fetch a URL, retrying failed HTTP requests with exponential backoff."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            return http_get(url)
        except ConnectionError:
            time.sleep(delay)
            delay *= 2
    raise RuntimeError("gave up after %d attempts" % attempts)


class RetryPolicy:
    def __init__(self, max_attempts):
        self.max_attempts = max_attempts
`,
  "src/ui/render.js": `export function renderButton(label, onClick) {
  const button = document.createElement("button");
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

export class Toolbar {
  constructor(buttons) {
    this.buttons = buttons;
  }
}
`,
  "cmd/server/main.go": `package main

import (
	"fmt"
	"net/http"
)

// parseConfigFile reads the server configuration from disk.
func parseConfigFile(path string) (map[string]string, error) {
	return map[string]string{"path": path}, nil
}

func main() {
	cfg, err := parseConfigFile("server.toml")
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg)
	http.ListenAndServe(":8080", nil)
}
`,
};

// ---- raw JSON-RPC over the real binary --------------------------------------------------

/** Spawns `embecode --path dir` and exposes its stdout as JSON-RPC lines. */
export class RawServer {
  constructor(dir, env = isolatedEnv()) {
    this.proc = spawn(BIN, ["--path", dir], { env, stdio: ["pipe", "pipe", "pipe"] });
    children.add(this.proc);
    this.lines = []; // raw stdout lines not yet taken
    this.waiters = [];
    this.stderr = "";
    this.badLines = []; // stdout lines that are not JSON-RPC 2.0 objects
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        children.delete(this.proc);
        this.exitTime = Date.now();
        resolve({ code, signal });
        this.wake();
      });
    });
    let buf = "";
    this.proc.stdout.setEncoding("utf8");
    this.proc.stdout.on("data", (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.checkPurity(line);
        this.lines.push(line);
      }
      this.wake();
    });
    this.proc.stdout.on("end", () => {
      if (buf.length) this.badLines.push(`unterminated output: ${buf.slice(0, 200)}`);
    });
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", (c) => {
      this.stderr += c;
    });
    this.proc.stdin.on("error", () => {}); // EPIPE after the server exits
  }

  checkPurity(line) {
    try {
      const m = JSON.parse(line);
      if (!m || typeof m !== "object" || Array.isArray(m) || m.jsonrpc !== "2.0")
        this.badLines.push(line.slice(0, 200));
    } catch {
      this.badLines.push(line.slice(0, 200));
    }
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes one message (object → JSON) or a raw string, followed by "\n". */
  send(msg) {
    const text = typeof msg === "string" ? msg : JSON.stringify(msg);
    return new Promise((resolve, reject) =>
      this.proc.stdin.write(text + "\n", (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Writes raw bytes (a Buffer) followed by "\n": for input that is not valid UTF-8. */
  sendBytes(bytes) {
    return new Promise((resolve, reject) =>
      this.proc.stdin.write(Buffer.concat([bytes, Buffer.from("\n")]), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  /** Next stdout line (raw text); throws after timeoutMs. */
  async nextLine(timeoutMs = 5000) {
    const until = Date.now() + timeoutMs;
    while (!this.lines.length) {
      if (this.exitTime) throw new Error(`server exited; stderr:\n${this.tail()}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms; stderr:\n${this.tail()}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  /** Next message, parsed. */
  async next(timeoutMs) {
    return JSON.parse(await this.nextLine(timeoutMs));
  }

  /** Next message that is not a notification (log notifications are skipped). */
  async nextResponse(timeoutMs) {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.method === undefined) return m;
    }
  }

  /** Sends a request and returns its response (skipping notifications). */
  async request(method, params, id = this.nextId()) {
    const msg = { jsonrpc: "2.0", id, method };
    if (params !== undefined) msg.params = params;
    await this.send(msg);
    const r = await this.nextResponse();
    if (r.id !== id) throw new Error(`expected response to id ${id}, got ${JSON.stringify(r)}`);
    return r;
  }

  nextId() {
    this._id = (this._id || 0) + 1;
    return this._id;
  }

  async initialize(version = VERSIONS[0]) {
    const r = await this.request("initialize", {
      protocolVersion: version,
      capabilities: {},
      clientInfo: { name: "embecode-e2e", version: "1" },
    });
    await this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    return r;
  }

  async callTool(name, args) {
    const params = { name };
    if (args !== undefined) params.arguments = args;
    return this.request("tools/call", params);
  }

  /** Whether nothing arrives on stdout for ms milliseconds. */
  async quietFor(ms) {
    try {
      const line = await this.nextLine(ms);
      this.lines.unshift(line);
      return false;
    } catch {
      return true;
    }
  }

  /** Closes stdin and waits for the exit; returns {code, signal, ms}. */
  async closeAndWait(timeoutMs = 5000) {
    const t0 = Date.now();
    this.proc.stdin.end();
    const timer = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs));
    const r = await Promise.race([this.exited, timer]);
    if (!r) {
      this.proc.kill("SIGKILL");
      throw new Error(`server did not exit within ${timeoutMs} ms after EOF`);
    }
    return { ...r, ms: this.exitTime - t0 };
  }

  kill() {
    this.proc.kill("SIGKILL");
  }

  tail(n = 2000) {
    return this.stderr.slice(-n);
  }
}

// ---- waiting and validation -----------------------------------------------------------

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls getStatus() (returns index_status structuredContent) until the index holds
 *  `files` files and indexing is idle; returns the last status. */
export async function waitIndexed(getStatus, files, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await getStatus();
    if (last && !last.is_indexing && last.files_indexed === files) return last;
    await sleep(200);
  }
  throw new Error(
    `index not ready within ${timeoutMs} ms (want ${files} files); last status: ` +
      JSON.stringify(last),
  );
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);

/** Throws unless value matches the JSON Schema. */
export function assertSchema(schema, value, what = "value") {
  const validate = ajv.compile(schema);
  if (!validate(value))
    throw new Error(
      `${what} does not match its schema: ${ajv.errorsText(validate.errors)}\n` +
        JSON.stringify(value).slice(0, 1000),
    );
}
