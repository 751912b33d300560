#!/usr/bin/env bash
# Issue 2 benchmark: keyword-ready time vs a bare read+parse, query latency vs ripgrep, peak
# RSS while indexing, index size vs source size — all in one run on one corpus.
#   usage: bash bench/bench_index.sh [CORPUS_DIR]
# Default corpus: a copy of /usr/lib/python3.11 and /usr/include (present on any Debian),
# made once in /tmp/embecode-bench-corpus (the indexer does not follow symlinks out of a
# project, so the corpus is copied, not linked).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/embecode build/bench/bench_parse build/bench/bench_query
command -v rg >/dev/null || EMBECODE_EXTRA_PKGS=ripgrep bash scripts/deps.sh
C=${1:-/tmp/embecode-bench-corpus}
if [ ! -d "$C" ]; then
  mkdir -p "$C"; cp -r /usr/lib/python3.11 "$C/python3.11"; cp -r /usr/include "$C/include"
fi
OUT=$(mktemp -d /tmp/embecode-bench-XXXXXX); trap 'rm -rf "$OUT"' EXIT
echo "corpus: $C ($(find "$C" -type f | wc -l) files, $(du -sb "$C" | cut -f1) bytes)"
cat /proc/cpuinfo | grep -m1 'model name'; echo "cpus: $(nproc)"

# Warm the page cache so every measurement reads from memory.
find "$C" -type f -print0 | xargs -0 cat >/dev/null
build/bench/bench_parse "$C" 1
build/bench/bench_parse "$C" 2 | tee "$OUT/parse2.txt"
node bench/first_answer.mjs "$PWD/build/embecode" "$C" "$OUT/cache" "PyObject_GetAttr" | tee "$OUT/serve.txt"
DB=$(ls "$OUT"/cache/embecode/*/index.db)
# Everything the index holds on disk once the server has exited: database, WAL, shared memory.
db_bytes=$(du -cb "$DB"* | tail -1 | cut -f1)
wal_bytes=$( (stat -c %s "$DB-wal" 2>/dev/null || echo 0) )
files=$(XDG_CACHE_HOME=$OUT/cache build/embecode --path "$C" status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).files_indexed))')
# text_bytes: the files the walk reads (what gets indexed); source_bytes: the whole corpus,
# binaries and files over the size limit included.
text_bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' "$OUT/parse2.txt")
src_bytes=$(du -sb "$C" | cut -f1)
echo "index_bytes=$db_bytes wal_bytes=$wal_bytes indexed_files=$files text_bytes=$text_bytes source_bytes=$src_bytes"
build/bench/bench_query "$DB" 200 "$OUT/queries.txt"
# ripgrep answering the same queries: any of the query's words, case-insensitive, fixed strings.
node -e '
const {execFileSync}=require("child_process");const fs=require("fs");
const qs=fs.readFileSync(process.argv[1],"utf8").trim().split("\n");const t=[];
for(const q of qs){const args=["-i","-c","--no-messages"];for(const w of q.split(/\s+/))args.push("-e",w.replace(/[.*+?^${}()|[\]\\]/g,"\\$&"));args.push(process.argv[2]);
const t0=performance.now();try{execFileSync("rg",args,{stdio:["ignore","ignore","ignore"]})}catch{}t.push(performance.now()-t0)}
t.sort((a,b)=>a-b);console.log(`ripgrep n=${t.length} p50_ms=${t[t.length>>1].toFixed(1)} p99_ms=${t[Math.floor(t.length*0.99)].toFixed(1)}`)' "$OUT/queries.txt" "$C"

echo "--- ratios (same run)"
node -e '
const fs=require("fs");const g=(f,k)=>Number(new RegExp(k+"=([0-9.]+)").exec(fs.readFileSync(f,"utf8"))[1]);
const [parse2,serve,db,text,src]=process.argv.slice(1);
console.log(`keyword-ready / bare 2-thread parse: ${(g(serve,"first_keyword_answer_ms")/g(parse2,"total_ms")).toFixed(2)}x (goal <= 2)`);
console.log(`index / text bytes indexed: ${(db/text).toFixed(2)}x; index / whole corpus: ${(db/src).toFixed(2)}x (goal <= 2)`);
' "$OUT/parse2.txt" "$OUT/serve.txt" "$db_bytes" "$text_bytes" "$src_bytes"
