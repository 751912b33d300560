#!/usr/bin/env bash
# End-to-end tests of the project cache through the real binary: `cache status|clean|purge`,
# the start-up eviction, and that an index in use by a running server is never deleted.
. "$(dirname "$0")/lib.sh"
# The tiny fixture model: indexing embeds offline, in milliseconds.
export HF_ENDPOINT=http://127.0.0.1:9
mkdir -p "$XDG_CONFIG_HOME/embecode"
printf '[embeddings]\nmodel = "%s"\n' "$ROOT/tests/fixtures/embed/tiny-nomic.f32.gguf" \
  >"$XDG_CONFIG_HOME/embecode/config.toml"
CACHE=$XDG_CACHE_HOME/embecode
A=$WORK/alpha; B=$WORK/beta; C=$WORK/gamma
make_repo "$A"
mkdir -p "$B" "$C"
printf 'def beta_function():\n    return 2\n' >"$B/b.py"
printf 'function gammaHelper() { return 3; }\n' >"$C/c.js"
# projects in the cache, as "path size in_use" lines from `cache status --json`
projects() {
  "$BIN" cache status --json 2>/dev/null |
    json '.projects.map(p=>p.path+" "+p.size_bytes+" "+p.in_use).join("\n")'
}

# --- usage and exit codes
for c in "" status clean purge; do
  expect_exit "cache ${c:-} --help exits 0" 0 "$BIN" cache $c --help
  check "cache ${c:-} --help says Usage" contains "$WORK/out" "Usage:"
done
expect_exit "top-level help lists cache" 0 "$BIN" --help
check "top-level help lists cache" contains "$WORK/out" "cache status|clean|purge"
expect_exit "cache without a command is a usage error" 2 "$BIN" cache
expect_exit "unknown cache command is a usage error" 2 "$BIN" cache frobnicate
expect_exit "extra argument to status is a usage error" 2 "$BIN" cache status extra
expect_exit "--json on clean is a usage error" 2 "$BIN" cache clean --json
expect_exit "two paths to purge is a usage error" 2 "$BIN" cache purge "$A" "$B"
expect_exit "unknown option is a usage error" 2 "$BIN" cache status --bogus
expect_exit "status of an empty cache" 0 "$BIN" cache status
expect_exit "purge of a path that never existed fails" 1 "$BIN" cache purge "$WORK/never"
check "that failure names the path" contains "$WORK/err" "$WORK/never"

# --- status lists indexed projects
for p in "$A" "$B" "$C"; do "$BIN" --path "$p" index >/dev/null 2>&1; done
expect_exit "cache status" 0 "$BIN" cache status
check "status lists alpha" contains "$WORK/out" "$A"
check "status lists beta" contains "$WORK/out" "$B"
check "status shows sizes" grep -qE '[0-9.]+ KB' "$WORK/out"
expect_exit "cache status --json" 0 "$BIN" cache status --json
v=$(node -e '
  const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const ok = j.projects.length === 3 &&
    j.projects.every(p => /^[0-9a-f]{8}$/.test(p.hash) && p.size_bytes > 0 && p.exists &&
      !p.in_use && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(p.last_access)) &&
    j.total_bytes === j.projects.reduce((s, p) => s + p.size_bytes, 0) &&
    j.max_size_bytes === 2000000000 && typeof j.cache_dir === "string";
  console.log(ok ? "ok" : JSON.stringify(j));' <"$WORK/out")
[ "$v" = ok ] && ok "status --json has the projects, sizes, times" || bad "status --json" "$v"

# --- clean drops the index of a deleted project
rm -rf "$B"
expect_exit "status after deleting a project" 0 "$BIN" cache status
check "deleted project shows as missing" grep -qE "missing +$B\$" "$WORK/out"
expect_exit "cache clean" 0 "$BIN" cache clean
check "clean reports the deleted project" contains "$WORK/out" "removed $B"
check "clean reports totals" grep -q "total .* before, .* after" "$WORK/out"
list=$(projects)
echo "$list" | grep -q "^$B " && bad "clean removed beta's index" || ok "clean removed beta's index"
echo "$list" | grep -q "^$A " && ok "clean kept alpha's index" || bad "clean kept alpha's index" "$list"

# --- purge . removes only the current project
expect_exit "purge ." 0 bash -c "cd '$A' && '$BIN' cache purge ."
check "purge . says what it removed" contains "$WORK/out" "removed $A"
list=$(projects)
echo "$list" | grep -q "^$A " && bad "purge . removed alpha" "$list" || ok "purge . removed alpha"
echo "$list" | grep -q "^$C " && ok "purge . kept gamma" || bad "purge . kept gamma" "$list"
expect_exit "purge . again: no index, not an error" 0 bash -c "cd '$A' && '$BIN' cache purge ."
check "purge . again says there is no index" contains "$WORK/out" "no index for $A"

# --- an index in use by a server is never deleted
mkdir -p "$CACHE/models" && printf 'model bytes' >"$CACHE/models/fake.gguf"
mkfifo "$WORK/stdin"
"$BIN" --path "$C" <"$WORK/stdin" >/dev/null 2>"$WORK/serve.err" &
server=$!
exec 3>"$WORK/stdin" # keeps the server's stdin open
for _ in $(seq 1 100); do
  projects | grep -q "^$C .* true\$" && break
  sleep 0.05
done
check "status shows gamma in use" bash -c "'$BIN' cache status | grep -qE 'in use +$C\$'"
expect_exit "purge of a project in use fails" 1 "$BIN" cache purge "$C"
check "purge says the project is in use" contains "$WORK/err" "in use by a running embecode process"
check "the index in use survives purge" test -f "$(dirname "$(grep -l "^$C\$" "$CACHE"/*/project)")/index.db"
expect_exit "purge all with a project in use fails" 1 "$BIN" cache purge
check "purge all still removes the models" test ! -e "$CACHE/models"
projects | grep -q "^$C " && ok "purge all keeps the index in use" || bad "purge all keeps the index in use"
printf 'cache.max_size = "1MB"\n' >"$C/.embecode.toml"
mkdir -p "$WORK/big" && cp -r "$ROOT/src" "$WORK/big/" # an index of about 2 MB
"$BIN" --path "$WORK/big" index >/dev/null 2>&1
"$BIN" --path "$C" cache clean >"$WORK/out" 2>&1
check "clean never evicts the index in use" bash -c "! grep -q 'removed $C' '$WORK/out'"
check "clean evicts the other, over the cap" contains "$WORK/out" "removed $WORK/big"
kill -9 "$server"; wait "$server" 2>/dev/null
exec 3>&-
expect_exit "purge after the server is gone" 0 "$BIN" cache purge "$C"
check "purge removed gamma" contains "$WORK/out" "removed $C"
[ -z "$(projects)" ] && ok "the cache is empty" || bad "the cache is empty" "$(projects)"

# --- starting an index evicts the least recently used projects down to the cap
"$BIN" --path "$WORK/big" index >/dev/null 2>&1
"$BIN" --path "$C" index >/dev/null 2>"$WORK/err" # cache.max_size = 1MB for gamma
check "index logs the eviction" contains "$WORK/err" "removed the index of $WORK/big"
list=$(projects)
echo "$list" | grep -q "^$WORK/big " && bad "index evicted the big project" "$list" || ok "index evicted the big project"
echo "$list" | grep -q "^$C " && ok "index kept its own project" || bad "index kept its own project" "$list"
finish
