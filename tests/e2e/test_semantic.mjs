// Semantic and hybrid search end to end (issue 4), through the real binary and the official
// MCP SDK client:
//  - with a small local test model (random weights): the embedding pass reaches every
//    chunk, all three modes answer, and a kill -9 during the pass resumes without redoing
//    finished vectors;
//  - with vectors we control (an OpenAI-compatible embedding server started here, mapping
//    concepts to directions): each arm of hybrid search demonstrably contributes.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { BIN, ROOT, isolatedEnv, makeRepo, run, tempDir, test } from "./lib.mjs";

const assert = (c, msg) => { if (!c) throw new Error(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(repo, env) {
  const transport = new StdioClientTransport({ command: BIN, args: ["--path", repo], env, stderr: "pipe" });
  const client = new Client({ name: "embecode-e2e-semantic", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}
async function call(client, name, args = {}) {
  const r = await client.callTool({ name, arguments: args });
  assert(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
  return r.structuredContent;
}
async function waitStatus(client, pred, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const s = await call(client, "index_status");
    if (pred(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await sleep(100);
  }
}
function writeConfig(repo, body) { fs.writeFileSync(path.join(repo, ".embecode.toml"), body); }

// ---- local test model -------------------------------------------------------------------

const MODEL = path.join(ROOT, "tests/fixtures/embed/tiny-nomic.f32.gguf");

test("embedding pass covers every chunk; all three modes answer", async () => {
  const repo = makeRepo({
    "src/retry.py": "def retry_request(url, attempts=3):\n    \"\"\"Retry an HTTP request with backoff.\"\"\"\n    for i in range(attempts):\n        pass\n",
    "src/config.go": "package config\n\nfunc ParseConfigFile(path string) error {\n\treturn nil\n}\n",
    "web/app.js": "export function renderButton(label) {\n  return `<button>${label}</button>`;\n}\n",
  });
  writeConfig(repo, `[embeddings]\nmodel = "${MODEL}"\n`);
  const { client } = await connect(repo, isolatedEnv());
  try {
    const s = await waitStatus(client, (s) => s.semantic_ready, 30000, "semantic_ready");
    assert(s.embedded_chunks === s.total_chunks && s.total_chunks >= 3, `coverage ${JSON.stringify(s)}`);
    assert(s.embedding_progress === 1 && !s.is_embedding, "embedding finished");
    for (const mode of ["keyword", "semantic", "hybrid"]) {
      const r = await call(client, "search_code", { query: "retry http request", mode, top_k: 3 });
      assert(r.results.length > 0 && !r.results[0].error, `${mode}: results ${JSON.stringify(r)}`);
      assert(!r.note, `${mode}: no fallback note expected, got ${r.note}`);
      assert(r.results.every((x) => typeof x.score === "number"), `${mode}: scores`);
    }
    const sem = await call(client, "search_code", { query: "button", mode: "semantic", top_k: 10, path: "src/" });
    assert(sem.results.every((x) => x.file_path.startsWith("src/")), "semantic honours the path prefix");
    assert(sem.results.length === 2, `prefix applied before ranking: ${sem.results.length} results from src/`);
  } finally {
    await client.close();
  }
});

test("kill -9 during the embedding pass, restart resumes", async () => {
  const repo = tempDir("embecode-big-");
  for (let i = 0; i < 6; i++) fs.cpSync(path.join(ROOT, "src"), path.join(repo, `copy${i}`), { recursive: true });
  // A wider model makes the pass long enough to interrupt.
  writeConfig(repo, `[embeddings]\nmodel = "${path.join(ROOT, "tests/fixtures/embed/minilm-shaped.q8_0.gguf")}"\n`);
  const env = isolatedEnv();
  const p = spawn(BIN, ["--path", repo], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const send = (m) => p.stdin.write(JSON.stringify(m) + "\n");
  send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "k", version: "1" } } });
  send({ jsonrpc: "2.0", method: "notifications/initialized" });
  let embedded = 0, total = 0;
  for (let id = 2; id < 2000; id++) {
    send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "index_status", arguments: {} } });
    await sleep(100);
    const lines = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.result && m.result.structuredContent);
    const last = lines.length ? lines[lines.length - 1].result.structuredContent : null;
    if (last && last.embedded_chunks > 0) { embedded = last.embedded_chunks; total = last.total_chunks; break; }
  }
  p.kill("SIGKILL");
  await new Promise((r) => p.on("exit", r));
  assert(embedded > 0 && embedded < total, `killed mid-pass (${embedded}/${total})`);
  // Restart: the pass continues from the stored vectors.
  const child = spawn(BIN, ["--path", repo, "index"], { env: { ...env, EMBECODE_LOG: "info" }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise((r) => child.on("exit", r));
  assert(code === 0, `index after kill exits 0: ${err}`);
  const m = /embedding pass done: (\d+)\/(\d+) chunks have vectors \((\d+) new/.exec(err);
  assert(m, `embedding summary logged: ${err.slice(-500)}`);
  assert(m[1] === m[2], `restart completes the vectors: ${m[0]}`);
  assert(Number(m[3]) < Number(m[2]) && Number(m[3]) <= Number(m[2]) - embedded + 16,
    `finished vectors are not recomputed: ${m[3]} new of ${m[2]}, ${embedded} done before the kill`);
});

// ---- vectors we control -----------------------------------------------------------------

// Each concept is one axis; a text's vector is the sum of the axes of the concepts it
// mentions (plus a small constant axis so no vector is zero).
const CONCEPTS = [
  ["car", "automobile", "vehicle", "sedan"],
  ["authenticate", "login", "credentials", "sign in"],
  ["sort", "order", "arrange"],
  ["network", "socket", "packet"],
  ["header", "frame"],
];
function vectorFor(text) {
  const t = text.toLowerCase();
  const v = CONCEPTS.map((words) => (words.some((w) => t.includes(w)) ? 1 : 0));
  v.push(0.05);
  return v;
}
function startEmbeddingServer() {
  const state = { requests: 0, down: false };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      state.requests++;
      if (state.down) { res.writeHead(503); res.end("down"); return; }
      const input = JSON.parse(body).input;
      const data = input.map((text, index) => ({ object: "embedding", index, embedding: vectorFor(text) }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data, model: "concepts" }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, state, port: server.address().port })));
}

test("both arms of hybrid search contribute (controlled vectors)", async () => {
  const { server, state, port } = await startEmbeddingServer();
  const repo = makeRepo({
    "garage/fleet.py": "class Fleet:\n    def add_sedan(self, plate):\n        \"\"\"Register a new car in the fleet.\"\"\"\n        self.cars.append(plate)\n",
    "auth/session.py": "def check_credentials(user, password):\n    return user.password == password\n",
    "util/ordering.py": "def bubble(xs):\n    # arrange items from small to large\n    return sorted(xs)\n",
    "net/wire.py": "def send_packet(sock, data):\n    sock.sendall(data)\n\ndef parseFrameHeader(buf):\n    return buf[:4]\n",
    "net/calls.py": "from wire import parseFrameHeader\n\ndef read_packet(buf):\n    parseFrameHeader(buf)\n    return parseFrameHeader(buf[4:])\n",
  });
  writeConfig(repo, `[embeddings]\nprovider = "openai"\nurl = "http://127.0.0.1:${port}"\nmodel = "concepts"\n`);
  const { client } = await connect(repo, isolatedEnv());
  try {
    await waitStatus(client, (s) => s.semantic_ready, 30000, "semantic_ready");
    // A natural-language query with no word in common with its target: only the semantic
    // arm can find it.
    const kw = await call(client, "search_code", { query: "automobile", mode: "keyword", top_k: 5 });
    assert(kw.results.length === 0, `keyword arm finds nothing for 'automobile': ${JSON.stringify(kw.results)}`);
    const hy = await call(client, "search_code", { query: "automobile", mode: "hybrid", top_k: 5 });
    assert(hy.results.length > 0 && hy.results[0].file_path === "garage/fleet.py",
      `semantic arm finds the car code: ${JSON.stringify(hy.results.map((r) => r.file_path))}`);
    assert(!hy.note, "no fallback note when vectors exist");
    const se = await call(client, "search_code", { query: "how do users sign in", mode: "semantic", top_k: 1 });
    assert(se.results[0].file_path === "auth/session.py", `semantic: ${JSON.stringify(se.results)}`);
    // An exact identifier ranks its defining chunk first through the keyword arm, even
    // though the caller's vector is just as close to the query.
    const id = await call(client, "search_code", { query: "parseFrameHeader", mode: "hybrid", top_k: 5 });
    assert(id.results[0].file_path === "net/wire.py" && /parseFrameHeader/.test(id.results[0].definitions),
      `identifier ranks its definition first: ${JSON.stringify(id.results.map((r) => [r.file_path, r.definitions]))}`);
    // The fused score is RRF: at most 2/61.
    assert(id.results[0].score > 0 && id.results[0].score <= 2 / 61 + 1e-6, `fused score ${id.results[0].score}`);
    // The semantic arm unavailable (embedding server down): keyword results with a note.
    state.down = true;
    const down = await call(client, "search_code", { query: "parseFrameHeader", mode: "hybrid", top_k: 3 });
    assert(down.results.length > 0 && down.results[0].file_path === "net/wire.py", "keyword arm still answers");
    assert(typeof down.note === "string" && down.note.length > 0, `note explains the fallback: ${down.note}`);
    assert(state.requests > 0, "the embedding server was used");
  } finally {
    await client.close();
    server.close();
  }
});

test("no model: keyword works and status says how to get one", async () => {
  const repo = makeRepo({ "a.py": "def alpha():\n    return 1\n" });
  // A preset that is not downloaded, with downloads pointed at a closed port (offline).
  writeConfig(repo, `[embeddings]\nmodel = "bge-small-en-v1.5"\n`);
  const { client } = await connect(repo, isolatedEnv({ HF_ENDPOINT: "http://127.0.0.1:9" }));
  try {
    const s = await waitStatus(client, (s) => !s.is_indexing && s.files_indexed === 2 && s.message && /model/i.test(s.message), 20000, "model message");
    assert(!s.semantic_ready, "not semantic-ready without a model");
    assert(/pull|download/i.test(s.message), `message says how to get a model: ${s.message}`);
    const r = await call(client, "search_code", { query: "alpha", mode: "hybrid" });
    assert(r.results.length === 1 && /keyword/i.test(r.note || ""), `keyword fallback with note: ${JSON.stringify(r)}`);
  } finally {
    await client.close();
  }
});

test("model change: re-embeds in the background, never mixes vector spaces", async () => {
  const repo = makeRepo({ "a.py": "def alpha():\n    return 1\n", "b.py": "def beta():\n    return 2\n" });
  const env = isolatedEnv();
  writeConfig(repo, `[embeddings]\nmodel = "${MODEL}"\n`);
  let c = await connect(repo, env);
  await waitStatus(c.client, (s) => s.semantic_ready, 30000, "first model ready");
  await c.client.close();
  writeConfig(repo, `[embeddings]\nmodel = "${path.join(ROOT, "tests/fixtures/embed/tiny-bge.f32.gguf")}"\n`);
  c = await connect(repo, env);
  try {
    const s = await waitStatus(c.client, (s) => s.semantic_ready, 30000, "second model ready");
    assert(/bge/i.test(s.embedding_model), `status names the new model: ${s.embedding_model}`);
    const r = await call(c.client, "search_code", { query: "alpha", mode: "semantic" });
    assert(r.results.length > 0 && !r.note, "semantic works with the new model");
  } finally {
    await c.client.close();
  }
});

await run();
