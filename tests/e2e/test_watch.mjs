// The file watcher: changes made while the server runs reach search within seconds, in the
// owner and in a reader process alike; .gitignore edits re-evaluate which files belong.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import fs from "node:fs";
import path from "node:path";
import { BIN, isolatedEnv, makeRepo, run, test } from "./lib.mjs";

const assert = (c, msg) => { if (!c) throw new Error(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(repo, env) {
  const transport = new StdioClientTransport({ command: BIN, args: ["--path", repo], env, stderr: "pipe" });
  const client = new Client({ name: "embecode-e2e-watch", version: "1.0.0" });
  await client.connect(transport);
  return client;
}
async function call(client, name, args = {}) {
  const r = await client.callTool({ name, arguments: args });
  assert(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
  return r.structuredContent;
}
async function until(fn, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
const files = async (client, q) =>
  (await call(client, "search_code", { query: q, mode: "keyword", top_k: 20 })).results.map((r) => r.file_path);

test("file changes reach owner and reader within seconds", async () => {
  const repo = makeRepo({ "a.py": "def alpha():\n    return 1\n", "lib/b.py": "def beta():\n    return 2\n" });
  // debounce short so the test is quick; no embedding model needed here
  fs.writeFileSync(path.join(repo, ".embecode.toml"), "[daemon]\ndebounce_ms = 100\n[embeddings]\nmodel = \"/nonexistent/model.gguf\"\n");
  const env = isolatedEnv();
  const owner = await connect(repo, env);
  const reader = await connect(repo, env);
  try {
    await until(async () => (await call(owner, "index_status")).files_indexed === 3, 20000, "first index");
    assert((await call(reader, "index_status")).role === "reader", "second process reads");

    fs.writeFileSync(path.join(repo, "lib/new_module.py"), "def freshlyAddedFunction():\n    pass\n");
    const ms = await until(async () => (await files(owner, "freshlyAddedFunction")).includes("lib/new_module.py"), 10000, "new file in owner");
    assert(ms < 5000, `new file searchable in ${ms} ms`);
    await until(async () => (await files(reader, "freshlyAddedFunction")).includes("lib/new_module.py"), 5000, "new file in reader");

    fs.writeFileSync(path.join(repo, "a.py"), "def gamma():\n    return 3\n");
    await until(async () => (await files(owner, "gamma")).includes("a.py") && !(await files(owner, "alpha")).includes("a.py"), 10000, "modified file");

    fs.rmSync(path.join(repo, "lib/b.py"));
    await until(async () => !(await files(owner, "beta")).includes("lib/b.py"), 10000, "deleted file");

    fs.mkdirSync(path.join(repo, "pkg/deep"), { recursive: true });
    fs.writeFileSync(path.join(repo, "pkg/deep/mod.py"), "def inNewDirectory():\n    pass\n");
    await until(async () => (await files(owner, "inNewDirectory")).includes("pkg/deep/mod.py"), 10000, "file in a new directory");

    fs.writeFileSync(path.join(repo, ".gitignore"), "pkg/\n");
    await until(async () => !(await files(owner, "inNewDirectory")).includes("pkg/deep/mod.py"), 10000, ".gitignore excludes a directory");

    const st = await call(owner, "index_status");
    assert(!st.message || !/watcher/i.test(st.message), `watcher healthy: ${st.message}`);

    // Both processes keep connections open, so only the owner's checkpoint empties the WAL
    // the updates wrote; it does so once it has been idle for a second.
    const dir = path.join(env.XDG_CACHE_HOME, "embecode");
    const wal = fs.readdirSync(dir).map((d) => path.join(dir, d, "index.db-wal")).find((f) => fs.existsSync(f));
    assert(wal, "the owner's WAL exists while processes are connected");
    await until(async () => fs.statSync(wal).size === 0, 5000, "the WAL to be emptied at rest");
  } finally {
    await owner.close();
    await reader.close();
  }
});

test("auto_watch = false leaves the index as it was", async () => {
  const repo = makeRepo({ "a.py": "def alpha():\n    return 1\n" });
  fs.writeFileSync(path.join(repo, ".embecode.toml"), "[daemon]\nauto_watch = false\ndebounce_ms = 100\n");
  const c = await connect(repo, isolatedEnv());
  try {
    await until(async () => (await call(c, "index_status")).files_indexed === 2, 20000, "index");
    fs.writeFileSync(path.join(repo, "b.py"), "def unwatchedFunction():\n    pass\n");
    await sleep(1500);
    assert(!(await files(c, "unwatchedFunction")).length, "no watcher, no update");
  } finally {
    await c.close();
  }
});

await run();
