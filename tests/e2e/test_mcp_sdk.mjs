#!/usr/bin/env node
// test_mcp_sdk.mjs — the real binary driven by the official MCP TypeScript SDK client
// (Client + StdioClientTransport), the way AI clients use it: initialize, list tools, wait
// for the index, call both tools in every mode, check structuredContent against each tool's
// outputSchema (the SDK checks it too) and that the text block parses to the same object.
// Usage: EMBECODE_BIN=build/embecode node tests/e2e/test_mcp_sdk.mjs
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  BIN,
  SAMPLE_FILES,
  assertSchema,
  isolatedEnv,
  makeRepo,
  run,
  sleep,
  test,
  waitIndexed,
} from "./lib.mjs";

const repo = makeRepo(SAMPLE_FILES);
const env = isolatedEnv();
const transport = new StdioClientTransport({
  command: BIN,
  args: ["--path", repo],
  env,
  stderr: "pipe",
});
let stderr = "";
transport.stderr?.on("data", (c) => {
  stderr += c;
});
const client = new Client({ name: "embecode-e2e-sdk", version: "1.0.0" });
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  logs.push(n.params);
});
let tools = {};
let status;

/** Calls a tool and checks the result: structuredContent matches the outputSchema and the
 *  text block is its JSON. Returns structuredContent. */
async function call(name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.notEqual(r.isError, true, `${name} failed: ${JSON.stringify(r.content)}`);
  assertSchema(tools[name].outputSchema, r.structuredContent, `${name} structuredContent`);
  assert.equal(r.content.length, 1);
  assert.equal(r.content[0].type, "text");
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent);
  return r.structuredContent;
}

async function search(args) {
  const out = await call("search_code", args);
  assert.ok(!out.results.some((x) => x.retry_recommended), "index is complete: no retry item");
  return out;
}

test("connects: initialize negotiates, serverInfo and capabilities", async () => {
  await client.connect(transport);
  const info = client.getServerVersion();
  assert.equal(info.name, "embecode");
  assert.equal(typeof info.version, "string");
  const caps = client.getServerCapabilities();
  assert.ok(caps.tools, "tools capability");
  assert.ok(caps.logging, "logging capability");
  assert.match(client.getInstructions() || "", /search_code/);
  await client.ping();
});

test("tools/list: both tools with input and output schemas", async () => {
  const r = await client.listTools();
  tools = Object.fromEntries(r.tools.map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(tools).sort(), ["index_status", "search_code"]);
  for (const t of r.tools) {
    assert.equal(t.inputSchema.type, "object");
    assert.equal(t.outputSchema.type, "object");
    assert.equal(t.annotations?.readOnlyHint, true);
    assert.ok(t.description.length > 80);
  }
  const props = tools.search_code.inputSchema.properties;
  assert.deepEqual(props.mode.enum, ["hybrid", "semantic", "keyword"]);
  assert.equal(props.top_k.type, "integer");
  assert.equal(props.query.type, "string");
  assert.equal(props.path.type, "string");
});

test("index_status: reaches all files and matches its schema", async () => {
  status = await waitIndexed(() => call("index_status", {}), Object.keys(SAMPLE_FILES).length);
  assert.equal(status.role, "owner");
  assert.ok(status.total_chunks >= Object.keys(SAMPLE_FILES).length);
  assert.equal(status.progress, 1);
  assert.ok(status.last_updated === null || !Number.isNaN(Date.parse(status.last_updated)));
});

test("index at rest: the server empties the WAL once its passes are done", async () => {
  const dir = path.join(env.XDG_CACHE_HOME, "embecode");
  const hashDir = fs.readdirSync(dir).find((d) => fs.existsSync(path.join(dir, d, "index.db")));
  assert.ok(hashDir, `an index folder under ${dir}`);
  const wal = path.join(dir, hashDir, "index.db-wal");
  const size = () => (fs.existsSync(wal) ? fs.statSync(wal).size : 0);
  for (let i = 0; i < 100 && size() > 0; i++) await sleep(100);
  assert.equal(size(), 0, "WAL bytes while the server is idle");
});

test("search_code keyword finds an exact identifier first", async () => {
  const out = await search({ query: "fetch_with_retry", mode: "keyword" });
  assert.ok(out.results.length >= 1);
  const top = out.results[0];
  assert.equal(top.file_path, "src/net/retry.py");
  assert.equal(top.language, "python");
  assert.ok(top.start_line >= 1 && top.end_line >= top.start_line);
  assert.match(top.definitions, /fetch_with_retry/);
  assert.match(top.preview, /fetch_with_retry/);
});

test("search_code semantic and hybrid answer (keyword results plus a note until embeddings)", async () => {
  for (const mode of ["semantic", "hybrid"]) {
    const out = await search({ query: "parseConfigFile", mode });
    assert.ok(out.results.length >= 1, `${mode}: results`);
    assert.equal(out.results[0].file_path, "cmd/server/main.go", `${mode}: best result`);
    if (!status.semantic_ready) assert.equal(typeof out.note, "string", `${mode}: note`);
  }
  const def = await search({ query: "renderButton" }); // default mode: hybrid
  assert.equal(def.results[0].file_path, "src/ui/render.js");
});

test("search_code path is a prefix filter", async () => {
  const cases = [
    ["fetch_with_retry", "src/", true],
    ["fetch_with_retry", "src/net", true],
    ["renderButton", "src/ui/", true],
    ["parseConfigFile", "cmd/", true],
    ["fetch_with_retry", "cmd/", false],
    ["fetch_with_retry", "docs/", false],
  ];
  for (const [query, path, found] of cases) {
    const out = await search({ query, mode: "keyword", path });
    for (const r of out.results) assert.ok(r.file_path.startsWith(path), `${path}: ${r.file_path}`);
    if (found) assert.ok(out.results.length >= 1, `${query} under ${path}`);
    else assert.ok(!out.results.some((r) => r.file_path === "src/net/retry.py"), `${path}`);
  }
});

test("search_code top_k bounds results; out-of-range top_k is a tool error", async () => {
  const many = await search({ query: "return", mode: "keyword", top_k: 50 });
  assert.ok(many.results.length >= 2, `"return" is in several chunks: ${many.results.length}`);
  const one = await search({ query: "return", mode: "keyword", top_k: 1 });
  assert.equal(one.results.length, 1);
  for (const top_k of [0, 101, 2.5]) {
    const r = await client.callTool({ name: "search_code", arguments: { query: "x", top_k } });
    assert.equal(r.isError, true, `top_k ${top_k}`);
    assert.match(r.content[0].text, /top_k/);
  }
  const r = await client.callTool({ name: "search_code", arguments: { query: "x", mode: "regex" } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /hybrid/);
});

test("logging/setLevel: log messages arrive as notifications", async () => {
  await client.setLoggingLevel("debug");
  await search({ query: "fetch_with_retry", mode: "keyword" });
  for (let i = 0; i < 20 && !logs.length; i++) await sleep(50);
  assert.ok(logs.length >= 1, "at least one log notification");
  for (const l of logs) {
    assert.ok(["debug", "info", "notice", "warning", "error"].includes(l.level), l.level);
    assert.equal(typeof l.data, "string");
  }
  assert.ok(logs.some((l) => /search_code/.test(l.data)), JSON.stringify(logs).slice(0, 500));
  await client.setLoggingLevel("error");
});

test("close: the server process ends", async () => {
  const pid = transport.pid;
  await client.close();
  let alive = true;
  for (let i = 0; i < 40 && alive; i++) {
    try {
      process.kill(pid, 0);
      await sleep(50);
    } catch {
      alive = false;
    }
  }
  assert.equal(alive, false, `server still running after close; stderr:\n${stderr.slice(-1000)}`);
});

await run();
