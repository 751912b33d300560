#!/usr/bin/env bash
# End-to-end tests of `embecode embed` and `embecode model` through the real binary, with
# the small random-weight fixture models (no network: presets are never downloaded here).
. "$(dirname "$0")/lib.sh"
FX=$ROOT/tests/fixtures/embed
M=$FX/tiny-nomic.f32.gguf

expect_exit "embed --help" 0 "$BIN" embed --help
check "embed help says Usage" contains "$WORK/out" "Usage:"
expect_exit "embed prints one vector per text" 0 "$BIN" embed --model "$M" "hello world" "parse the config file"
[ "$(wc -l <"$WORK/out")" -eq 2 ] && ok "two texts, two lines" || bad "two texts, two lines" "$(wc -l <"$WORK/out")"
norm=$(head -1 "$WORK/out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(Math.abs(Math.hypot(...v)-1)<1e-4&&v.length===64)})')
[ "$norm" = "true" ] && ok "vectors are unit length, model width" || bad "vectors are unit length" "$norm"
expect_exit "embed --tokens" 0 "$BIN" embed --model "$M" --tokens "hello world"
first=$(head -1 "$WORK/out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(v[0]+","+v[v.length-1])})')
[ "$first" = "101,102" ] && ok "token ids start with [CLS], end with [SEP]" || bad "token ids start with [CLS], end with [SEP]" "$first"
P=$WORK/proj; mkdir -p "$P"
printf '[embeddings]\nquery_prompt = "search query: "\n' >"$P/.embecode.toml"
expect_exit "query tokens carry the configured query prompt" 0 "$BIN" --path "$P" embed --model "$M" --tokens --query "hello world"
ql=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8").split("\n")[0]).length)' <"$WORK/out")
"$BIN" --path "$P" embed --model "$M" --tokens "hello world" >"$WORK/doc" 2>/dev/null
dl=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8").split("\n")[0]).length)' <"$WORK/doc")
[ "$ql" -gt 2 ] && [ "$ql" != "$dl" ] && ok "query and document prompts differ ($ql vs $dl tokens)" || bad "query and document prompts differ" "$ql vs $dl"
printf 'one\ntwo\nthree\n' | "$BIN" embed --model "$M" >"$WORK/out" 2>"$WORK/err"
[ "$(wc -l <"$WORK/out")" -eq 3 ] && ok "texts from stdin, one per line" || bad "texts from stdin" "$(cat "$WORK/err")"
"$BIN" embed --model "$M" "alone" >"$WORK/a" 2>/dev/null
"$BIN" embed --model "$M" "a much longer text that pads the batch" "alone" >"$WORK/b" 2>/dev/null
same=$(node -e 'const fs=require("fs");const a=JSON.parse(fs.readFileSync(process.argv[1],"utf8").split("\n")[0]);const b=JSON.parse(fs.readFileSync(process.argv[2],"utf8").split("\n")[1]);console.log(Math.max(...a.map((x,i)=>Math.abs(x-b[i])))<1e-5)' "$WORK/a" "$WORK/b")
[ "$same" = "true" ] && ok "a text in a batch equals it alone" || bad "a text in a batch equals it alone"
expect_exit "missing model file is an error" 1 "$BIN" embed --model "$WORK/none.gguf" hi
check "missing model message names the file" contains "$WORK/err" "none.gguf"
printf 'not a gguf file' >"$WORK/bad.gguf"
expect_exit "corrupt model is an error" 1 "$BIN" embed --model "$WORK/bad.gguf" hi
check "corrupt model message says GGUF" contains "$WORK/err" "GGUF"
expect_exit "unknown preset is an error" 1 "$BIN" embed --model no-such-model hi
expect_exit "unknown embed option is a usage error" 2 "$BIN" embed --frob hi

# model list / pull
expect_exit "model list" 0 "$BIN" model list
check "model list shows the default preset" contains "$WORK/out" "nomic-embed-text-v1.5"
expect_exit "model list --json" 0 "$BIN" model list --json
[ "$(json '.presets.length >= 4' <"$WORK/out")" = "true" ] && ok "model list --json has the presets" || bad "model list --json has the presets"
expect_exit "model without subcommand is a usage error" 2 "$BIN" model
expect_exit "model pull of a local file prints its path" 0 "$BIN" model pull "$M"
check "pull prints the path" contains "$WORK/out" "tiny-nomic.f32.gguf"
expect_exit "offline pull fails clearly" 1 env HF_ENDPOINT=http://127.0.0.1:9 "$BIN" model pull bge-small-en-v1.5
check "offline message says how to get the model" grep -qiE "offline|download" "$WORK/err"
finish
