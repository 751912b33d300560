#!/usr/bin/env node
// test_mcp_raw.mjs — the real binary driven with raw JSON-RPC lines on stdin/stdout: the
// protocol rules an SDK client hides (malformed JSON, invalid requests, batches,
// notifications, unknown methods, exact ids, oversized lines, EOF, stdout purity).
// Usage: EMBECODE_BIN=build/embecode node tests/e2e/test_mcp_raw.mjs
import assert from "node:assert/strict";
import {
  MAX_LINE,
  RawServer,
  SAMPLE_FILES,
  VERSIONS,
  assertSchema,
  makeRepo,
  run,
  test,
  waitIndexed,
} from "./lib.mjs";

const repo = makeRepo(SAMPLE_FILES);

/** Runs fn with a fresh server on the sample repo; checks stdout purity and a clean EOF. */
async function withServer(fn, dir = repo) {
  const s = new RawServer(dir);
  try {
    await fn(s);
    const exit = await s.closeAndWait();
    assert.equal(exit.code, 0, `exit code after EOF; stderr:\n${s.tail()}`);
  } finally {
    s.kill();
  }
  assert.deepEqual(s.badLines, [], "stdout carries only JSON-RPC messages");
}

function assertError(m, code, id) {
  assert.equal(m.jsonrpc, "2.0");
  assert.equal(m.error?.code, code, JSON.stringify(m));
  assert.equal(typeof m.error.message, "string");
  assert.ok(m.error.message.length > 0);
  assert.equal("result" in m, false);
  if (id === undefined) assert.equal("id" in m, false, `no id expected: ${JSON.stringify(m)}`);
  else assert.deepEqual(m.id, id);
}

test("initialize echoes each supported version and answers the latest otherwise", () =>
  withServer(async (s) => {
    for (const v of VERSIONS) {
      const r = await s.initialize(v);
      assert.equal(r.result.protocolVersion, v);
    }
    const r = await s.initialize("2023-01-01");
    assert.equal(r.result.protocolVersion, VERSIONS[0]);
    assert.equal(r.result.serverInfo.name, "embecode");
    assert.equal(typeof r.result.serverInfo.version, "string");
    assert.equal(r.result.capabilities.tools.listChanged, false);
    assert.deepEqual(r.result.capabilities.logging, {});
  }));

test("initialize is answered at once even on a fresh project", () =>
  withServer(async (s) => {
    const t0 = Date.now();
    await s.initialize();
    assert.ok(Date.now() - t0 < 2000, `initialize took ${Date.now() - t0} ms`);
  }));

test("ping works before initialize", () =>
  withServer(async (s) => {
    const r = await s.request("ping", undefined, 5);
    assert.deepEqual(r, { jsonrpc: "2.0", id: 5, result: {} });
  }));

test("malformed JSON gets -32700 without id and the server stays up", () =>
  withServer(async (s) => {
    await s.send("{not json");
    assertError(await s.next(), -32700);
    await s.send('{"jsonrpc":"2.0","id":1,"method":"ping"} trailing');
    assertError(await s.next(), -32700, 1); // the id was readable before the error
    await s.sendBytes(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])); // {"\xff":1}
    const bad = await s.next();
    assertError(bad, -32700);
    assert.match(bad.error.message, /UTF-8/);
    const r = await s.request("ping", undefined, 2);
    assert.deepEqual(r.result, {});
  }));

test("invalid requests get -32600 with the id echoed when it is usable", () =>
  withServer(async (s) => {
    const cases = [
      ['{"jsonrpc":"1.0","id":3,"method":"ping"}', 3],
      ['{"id":4,"method":"ping"}', 4],
      ['{"jsonrpc":"2.0","id":"five","method":7}', "five"],
      ['{"jsonrpc":"2.0","id":6}', 6],
      ['{"jsonrpc":"2.0","id":7,"method":"ping","params":"x"}', 7],
      ['{"jsonrpc":"2.0","id":null,"method":"ping"}', undefined],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', undefined],
      ['{"foo":"bar"}', undefined],
      ["42", undefined],
    ];
    for (const [line, id] of cases) {
      await s.send(line);
      assertError(await s.next(), -32600, id);
    }
  }));

test("batches (JSON arrays) get -32600 and none of their requests run", () =>
  withServer(async (s) => {
    await s.send([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", id: 2, method: "ping" },
    ]);
    assertError(await s.next(), -32600);
    await s.send("[]");
    assertError(await s.next(), -32600);
    const r = await s.request("ping", undefined, 3);
    assert.equal(r.id, 3);
  }));

test("notifications are never answered", () =>
  withServer(async (s) => {
    await s.initialize();
    await s.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await s.send({ jsonrpc: "2.0", method: "notifications/whatever", params: {} });
    await s.send({ jsonrpc: "2.0", method: "server/discover" });
    await s.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 999 } });
    await s.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } });
    await s.send({ jsonrpc: "2.0", id: 50, result: {} }); // a response: ignored too
    await s.send("");
    assert.ok(await s.quietFor(300), "no answer to notifications");
    const r = await s.request("ping", undefined, 51);
    assert.equal(r.id, 51);
  }));

test("unknown methods get -32601 with the id", () =>
  withServer(async (s) => {
    await s.initialize();
    for (const method of ["server/discover", "resources/list", "prompts/list", "foo"]) {
      await s.send({ jsonrpc: "2.0", id: `m-${method}`, method });
      assertError(await s.next(), -32601, `m-${method}`);
    }
  }));

test("request ids are echoed exactly, numbers digit for digit", () =>
  withServer(async (s) => {
    for (const id of ["0", "-7", "1e3", "9007199254740993", "123456789012345678901234567890",
      '"abc"', '""', '"\u00efd-\u2713"']) {
      await s.send(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
      const line = await s.nextLine();
      assert.ok(line.includes(`"id":${id}`), `id ${id} echoed in ${line}`);
      await s.send(`{"jsonrpc":"2.0","id":${id},"method":"nope"}`);
      const err = await s.nextLine();
      assert.ok(err.includes(`"id":${id}`) && err.includes("-32601"), err);
    }
  }));

test("a line over 4 MiB gets an error and the server stays up", () =>
  withServer(async (s) => {
    await s.initialize();
    const head = '{"jsonrpc":"2.0","id":77,"method":"ping","params":{"pad":"';
    const tail = '"}}';
    const big = head + "x".repeat(MAX_LINE + 1 - head.length - tail.length) + tail;
    assert.equal(big.length, MAX_LINE + 1);
    await s.send(big);
    const m = await s.next(10000);
    assert.equal(m.error?.code, -32600, JSON.stringify(m).slice(0, 300));
    assert.ok(m.id === undefined || m.id === 77);
    const r = await s.request("ping", undefined, 78);
    assert.deepEqual(r.result, {});
  }));

test("logging/setLevel accepts MCP levels and rejects others with -32602", () =>
  withServer(async (s) => {
    await s.initialize();
    for (const level of ["debug", "warning", "emergency"]) {
      const r = await s.request("logging/setLevel", { level });
      assert.deepEqual(r.result, {});
    }
    const bad = await s.request("logging/setLevel", { level: "banana" }, "lv");
    assertError(bad, -32602, "lv");
  }));

test("tools/list describes search_code and index_status with schemas", () =>
  withServer(async (s) => {
    await s.initialize();
    const r = await s.request("tools/list");
    const names = r.result.tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["index_status", "search_code"]);
    const sc = r.result.tools.find((t) => t.name === "search_code");
    assert.deepEqual(sc.inputSchema.required, ["query"]);
    assert.deepEqual(sc.inputSchema.properties.mode.enum, ["hybrid", "semantic", "keyword"]);
    assert.equal(sc.inputSchema.properties.top_k.minimum, 1);
    assert.equal(sc.inputSchema.properties.top_k.maximum, 100);
    assert.equal(sc.outputSchema.type, "object");
    assert.equal(sc.annotations.readOnlyHint, true);
    for (const t of r.result.tools) {
      assert.ok(t.description.length > 80, `${t.name} has a real description`);
      assert.equal(typeof t.title, "string");
    }
  }));

test("bad tool arguments are tool errors; an unknown tool is -32602", () =>
  withServer(async (s) => {
    await s.initialize();
    for (const args of [{ query: "x", top_k: 0 }, { query: "x", top_k: 101 },
      { query: "x", mode: "fuzzy" }, { query: "" }, {}, { query: "x", nope: 1 }]) {
      const r = await s.callTool("search_code", args);
      assert.equal(r.result?.isError, true, JSON.stringify(r));
      assert.match(r.result.content[0].text, /search_code/);
    }
    const r = await s.callTool("grep", {});
    assertError(r, -32602, r.id);
  }));

test("search_code right after start answers (retry item while indexing) per schema", async () => {
  const files = {};
  for (let i = 0; i < 400; i++)
    files[`pkg${i % 20}/mod${i}.py`] = `def handler_${i}(request):\n    return ${i}\n`;
  const big = makeRepo(files);
  await withServer(async (s) => {
    await s.initialize();
    const list = await s.request("tools/list");
    const schema = list.result.tools.find((t) => t.name === "search_code").outputSchema;
    const r = await s.callTool("search_code", { query: "handler request" });
    assert.notEqual(r.result.isError, true, JSON.stringify(r));
    assertSchema(schema, r.result.structuredContent, "search_code result");
    assert.deepEqual(JSON.parse(r.result.content[0].text), r.result.structuredContent);
    const first = r.result.structuredContent.results[0];
    if (first && first.retry_recommended) {
      assert.equal(r.result.structuredContent.results.length, 1);
      assert.match(first.error, /Index is being built/);
    }
  }, big);
});

test("index_status matches its output schema and reaches the file count", () =>
  withServer(async (s) => {
    await s.initialize();
    const list = await s.request("tools/list");
    const schema = list.result.tools.find((t) => t.name === "index_status").outputSchema;
    const status = await waitIndexed(async () => {
      const r = await s.callTool("index_status");
      assertSchema(schema, r.result.structuredContent, "index_status result");
      return r.result.structuredContent;
    }, Object.keys(SAMPLE_FILES).length);
    assert.equal(status.role, "owner");
    assert.ok(status.total_chunks >= 3);
  }));

test("EOF on stdin: clean exit within 1 s", async () => {
  const s = new RawServer(repo);
  try {
    await s.initialize();
    await s.request("ping");
    const exit = await s.closeAndWait(5000);
    assert.equal(exit.code, 0, s.tail());
    assert.ok(exit.ms < 1000, `exit took ${exit.ms} ms`);
    assert.deepEqual(s.badLines, []);
  } finally {
    s.kill();
  }
});

test("requests sent just before EOF are still answered", async () => {
  const s = new RawServer(repo);
  try {
    s.proc.stdin.end('{"jsonrpc":"2.0","id":1,"method":"ping"}\n' +
      '{"jsonrpc":"2.0","id":2,"method":"tools/list"}');
    const a = await s.next();
    const b = await s.next();
    assert.equal(a.id, 1);
    assert.equal(b.id, 2);
    const exit = await s.exited;
    assert.equal(exit.code, 0);
  } finally {
    s.kill();
  }
});

await run();
