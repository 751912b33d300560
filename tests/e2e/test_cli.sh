#!/usr/bin/env bash
# End-to-end tests of the CLI through the real binary: usage, index, search, status,
# catch-up after changes, kill -9 during indexing.
. "$(dirname "$0")/lib.sh"
R=$WORK/repo; make_repo "$R"

# --- usage and exit codes
expect_exit "version exits 0" 0 "$BIN" --version
check "version prints name" contains "$WORK/out" "embecode "
for c in "" serve index search status; do
  expect_exit "help for '${c:-main}' exits 0" 0 "$BIN" $c --help
  check "help for '${c:-main}' says Usage" contains "$WORK/out" "Usage:"
done
expect_exit "unknown command is a usage error" 2 "$BIN" frobnicate
expect_exit "unknown option is a usage error" 2 "$BIN" search x --nope
expect_exit "search without query is a usage error" 2 "$BIN" search
expect_exit "top-k out of range is a usage error" 2 "$BIN" --path "$R" search x --top-k 0
expect_exit "top-k not a number is a usage error" 2 "$BIN" --path "$R" search x --top-k abc
expect_exit "bad mode fails" 1 "$BIN" --path "$R" search x --mode fuzzy
expect_exit "missing path fails" 1 "$BIN" --path "$WORK/nope" status
check "missing path message names the path" contains "$WORK/err" "$WORK/nope"

# --- search without an index builds it first
expect_exit "search builds the index first" 0 "$BIN" --path "$R" search getUserName --json
first=$(json '.results[0].file_path' <"$WORK/out")
[ "$first" = "src/auth/users.py" ] && ok "identifier finds its definition first" || bad "identifier finds its definition first" "got $first"
check "ignored files are not indexed" bash -c "! grep -qE 'node_modules|build/out|vendor/|debug.log|data.bin' '$WORK/out'"
check "nothing is written into the repository" bash -c "[ -z \"\$(find '$R' -newer '$R/.gitignore' -name '*.db*')\" ] && [ ! -e '$R/.embecode' ]"

# --- status
expect_exit "status --json" 0 "$BIN" --path "$R" status --json
n=$(json '.files_indexed' <"$WORK/out")
[ "$n" = "6" ] && ok "status counts indexed files (5 sources + .gitignore)" || bad "status counts indexed files" "got $n"
[ "$(json '.is_indexing' <"$WORK/out")" = "false" ] && ok "status idle after index" || bad "status idle after index"
[ "$(json '.total_chunks > 0' <"$WORK/out")" = "true" ] && ok "status counts chunks" || bad "status counts chunks"
expect_exit "status human" 0 "$BIN" --path "$R" status
check "status human shows files" contains "$WORK/out" "files_indexed"

# --- modes, prefix, human output
expect_exit "semantic falls back" 0 "$BIN" --path "$R" search "retry http requests" --mode semantic --json
check "fallback has a note" contains "$WORK/out" '"note"'
check "fallback finds keyword results" contains "$WORK/out" "web/retry.js"
expect_exit "path prefix" 0 "$BIN" --path "$R" search getUserName --path-prefix src/auth/login --json
[ "$(json '.results.map(r=>r.file_path).every(p=>p.startsWith("src/auth/login"))' <"$WORK/out")" = "true" ] && ok "path prefix filters" || bad "path prefix filters"
expect_exit "hostile query is not an error" 0 "$BIN" --path "$R" search '"unbalanced (NEAR AND -x ^y z* a:b' --json
expect_exit "human output" 0 "$BIN" --path "$R" search "parse configuration file"
check "human output has path:lines" grep -qE '^src/server.go:[0-9]+-[0-9]+' "$WORK/out"
check "human output shows numbered match lines" grep -qE '^[0-9]+:.*parseConfigFile' "$WORK/out"

# --- catch-up: modified, added, deleted files
sleep 1.1
printf 'def brandNewFunction():\n    return 42\n' >"$R/src/new_mod.py"
printf 'function renamedHelper() { return 1; }\n' >"$R/web/retry.js"
rm "$R/src/auth/login.py"
expect_exit "index after changes" 0 "$BIN" --path "$R" index
"$BIN" --path "$R" search brandNewFunction --json >"$WORK/out" 2>/dev/null
check "added file is found" contains "$WORK/out" "src/new_mod.py"
"$BIN" --path "$R" search "exponential backoff" --json --mode keyword >"$WORK/out" 2>/dev/null
check "modified file lost old content" bash -c "! grep -q 'web/retry.js' '$WORK/out'"
"$BIN" --path "$R" search login --json --mode keyword >"$WORK/out" 2>/dev/null
check "deleted file is gone" bash -c "! grep -q 'src/auth/login.py' '$WORK/out'"
"$BIN" --path "$R" index 2>"$WORK/err"
check "unchanged repo reads nothing" grep -q ", 0 to read" "$WORK/err"

# --- kill -9 during a large index, then finish without redoing finished files
BIG=$WORK/big; mkdir -p "$BIG"
for i in $(seq 1 40); do cp -r "$ROOT/src" "$BIG/copy$i" 2>/dev/null; done
"$BIN" --path "$BIG" index 2>/dev/null &
pid=$!
# kill as soon as some files are committed (the first batch lands within about a second)
for _ in $(seq 1 200); do
  n=$("$BIN" --path "$BIG" status --json 2>/dev/null | json '.files_indexed' 2>/dev/null)
  [ -n "$n" ] && [ "$n" != "0" ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$BIN" --path "$BIG" index 2>"$WORK/err"
total=$(find "$BIG" -type f | wc -l)
read_n=$(grep -oE '[0-9]+ to read' "$WORK/err" | head -1 | cut -d' ' -f1)
[ -n "$read_n" ] && [ "$read_n" -lt "$total" ] && ok "restart after kill -9 skips finished files ($read_n of $total)" || bad "restart after kill -9 skips finished files" "read $read_n of $total"
"$BIN" --path "$BIG" status --json >"$WORK/out"
[ "$(json '.files_indexed' <"$WORK/out")" = "$total" ] && ok "restart completes the index" || bad "restart completes the index" "$(cat "$WORK/out")"
finish
