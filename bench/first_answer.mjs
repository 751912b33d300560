// Starts `embecode serve` on a project with an empty cache, sends initialize, then asks
// search_code every 50 ms until it answers with results (not the retry item). Prints the
// time to initialize, to the first answer, to the end of indexing, and peak RSS (VmHWM).
//   usage: node bench/first_answer.mjs BIN PROJECT CACHE_DIR QUERY
import { spawn } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";

const [BIN, project, cache, query] = process.argv.slice(2);
const t0 = performance.now();
const p = spawn(BIN, ["--path", project], {
  env: { ...process.env, XDG_CACHE_HOME: cache, EMBECODE_LOG: "warning" },
  stdio: ["pipe", "pipe", "inherit"],
});
const pending = new Map();
let id = 0;
readline.createInterface({ input: p.stdout }).on("line", (l) => {
  const m = JSON.parse(l);
  if (pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
});
const req = (method, params) => new Promise((r) => {
  pending.set(++id, r);
  p.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
});
const call = async (name, args) => (await req("tools/call", { name, arguments: args })).result.structuredContent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await req("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } });
const tInit = performance.now() - t0;
let tFirst;
for (;;) {
  const r = await call("search_code", { query, mode: "keyword", top_k: 10 });
  if (r.results.length && !r.results[0].error) { tFirst = performance.now() - t0; break; }
  await sleep(50);
}
let st;
for (;;) {
  st = await call("index_status", {});
  if (!st.is_indexing) break;
  await sleep(100);
}
const tDone = performance.now() - t0;
const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
console.log(`serve initialize_ms=${tInit.toFixed(1)} first_keyword_answer_ms=${tFirst.toFixed(0)} index_done_ms=${tDone.toFixed(0)} files=${st.files_indexed} chunks=${st.total_chunks} peak_rss_mb=${hwm.toFixed(1)}`);
p.stdin.end();
await new Promise((r) => p.on("exit", r));
