// Many processes on one project: one owner indexes, readers answer from the same SQLite
// file, and when the owner is killed (SIGKILL) a reader takes over at once. Every request
// sent to a reader during the whole test must succeed.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.EMBECODE_BIN || path.join(root, "build/embecode");
let passed = 0, failed = 0;
const ok = (c, name, extra = "") => {
  if (c) passed++;
  else { failed++; console.error(`FAIL ${name} ${extra}`); }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = fs.mkdtempSync(path.join(os.tmpdir(), "embecode-mp-"));
const repo = path.join(work, "repo");
fs.mkdirSync(repo);
// A few thousand real source files so indexing takes long enough to be interrupted.
for (let i = 0; i < 60; i++) fs.cpSync(path.join(root, "src"), path.join(repo, `copy${i}`), { recursive: true });
fs.writeFileSync(path.join(repo, "target.py"), "def uniqueTargetFunction():\n    return 1\n");
const env = { ...process.env, XDG_CACHE_HOME: path.join(work, "cache"), XDG_CONFIG_HOME: path.join(work, "cfg") };

function start(name) {
  const p = spawn(BIN, ["--path", repo], { env, stdio: ["pipe", "pipe", "pipe"] });
  const pending = new Map();
  let nextId = 1, stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  readline.createInterface({ input: p.stdout }).on("line", (line) => {
    const msg = JSON.parse(line);
    if (msg.id !== undefined && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  });
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, resolve);
    p.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    setTimeout(() => { if (pending.has(id)) { pending.delete(id); reject(new Error(`${name}: ${method} timed out`)); } }, 10000);
  });
  const call = async (tool, args = {}) => {
    const r = await request("tools/call", { name: tool, arguments: args });
    if (r.error) throw new Error(`${name}: ${tool}: protocol error ${JSON.stringify(r.error)}`);
    if (r.result.isError) throw new Error(`${name}: ${tool}: tool error ${JSON.stringify(r.result.content)}`);
    return r.result.structuredContent;
  };
  const init = () => request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "mp-test", version: "1" } })
    .then(() => p.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n"));
  return { p, call, init, name, get stderr() { return stderr; } };
}

async function waitFor(fn, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const procs = [];
try {
  const a = start("A"); procs.push(a);
  await a.init();
  // Give A a moment to win the election before B starts.
  await waitFor(async () => (await a.call("index_status")).role === "owner", 5000, "A to own the index");
  const b = start("B"); procs.push(b);
  await b.init();
  const sb = await b.call("index_status");
  ok(sb.role === "reader", "second process is a reader", JSON.stringify(sb));

  // Hammer B with searches while A indexes; kill A partway through.
  let requests = 0, failures = 0, sawResults = false, stop = false;
  const hammer = (async () => {
    while (!stop) {
      try {
        const r = await b.call("search_code", { query: "uniqueTargetFunction store_open", mode: "keyword", top_k: 5 });
        requests++;
        if (r.results.length && !r.results[0].error) sawResults = true;
      } catch (e) { failures++; console.error(String(e)); }
    }
  })();
  await waitFor(async () => { const s = await a.call("index_status"); return s.files_indexed > 50 || !s.is_indexing; }, 20000, "A to index some files");
  const before = await a.call("index_status");
  a.p.kill("SIGKILL");
  ok(before.is_indexing, "owner was killed mid-indexing", JSON.stringify(before));
  const t0 = Date.now();
  await waitFor(async () => (await b.call("index_status")).role === "owner", 5000, "B to take over");
  const takeoverMs = Date.now() - t0;
  ok(takeoverMs < 2000, "reader takes over within 2 s", `${takeoverMs} ms`);
  const final = await waitFor(async () => { const s = await b.call("index_status"); return !s.is_indexing && s.files_indexed > 0 ? s : null; }, 60000, "B to finish indexing");
  stop = true;
  await hammer;
  const total = 60 * fs.readdirSync(path.join(root, "src")).length + 1;
  ok(final.files_indexed === total, "new owner completes the index", `${final.files_indexed} vs ${total}`);
  ok(failures === 0, "no failed request during takeover", `${failures} of ${requests}`);
  ok(requests > 10, "reader answered throughout", `${requests} requests`);
  ok(sawResults, "reader returned results from the shared index");
  ok(/takes over/.test(b.stderr), "takeover is logged");
  // B's readers kept the WAL in use while it indexed; once the pass is done it is emptied.
  const cacheDir = path.join(work, "cache", "embecode");
  const wal = fs.readdirSync(cacheDir).map((d) => path.join(cacheDir, d, "index.db-wal")).find((f) => fs.existsSync(f));
  const walSize = () => (wal && fs.existsSync(wal) ? fs.statSync(wal).size : 0);
  await waitFor(async () => walSize() === 0, 3000, "the WAL to be emptied").catch(() => {});
  ok(walSize() === 0, "WAL is empty once the pass is done", `${walSize()} bytes`);

  // A third process joins as a reader and sees the same data.
  const c = start("C"); procs.push(c);
  await c.init();
  const sc = await c.call("index_status");
  ok(sc.role === "reader", "third process is a reader");
  ok(sc.files_indexed === final.files_indexed, "reader sees the owner's data");
  const rc = await c.call("search_code", { query: "uniqueTargetFunction", mode: "keyword", top_k: 1 });
  ok(rc.results[0] && rc.results[0].file_path === "target.py", "reader finds the definition", JSON.stringify(rc.results[0]));
  ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(sc.last_updated || ""), "last_updated is ISO-8601 UTC", sc.last_updated);
} catch (e) {
  failed++;
  console.error("FAIL", e.stack || e);
} finally {
  for (const x of procs) { try { x.p.kill("SIGKILL"); } catch {} }
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
