# tests/e2e/lib.sh — helpers for end-to-end shell tests of the real binary.
# Source it; call ok/bad (or check CMD...), and `finish` at the end (prints "N passed, N failed").
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${EMBECODE_BIN:-$ROOT/build/embecode}
T_PASS=0; T_FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/embecode-e2e-XXXXXX")
export XDG_CACHE_HOME=$WORK/cache XDG_CONFIG_HOME=$WORK/config
trap 'rm -rf "$WORK"' EXIT

ok()  { T_PASS=$((T_PASS + 1)); [ -n "${T_VERBOSE:-}" ] && echo "ok   $1"; return 0; }
bad() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $1${2:+: $2}" >&2; return 0; }
# check NAME CMD... : passes when CMD exits 0
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# expect_exit NAME CODE CMD... : passes when CMD exits with CODE
expect_exit() {
  local name=$1 code=$2; shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
  if [ "$rc" -eq "$code" ]; then ok "$name"; else bad "$name" "exit $rc, wanted $code; stderr: $(head -c 300 "$WORK/err")"; fi
}
contains() { grep -qF -- "$2" "$1"; }
finish() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }

# jq-free JSON field access through node (always present: it runs the MCP tests).
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=eval("(o)=>o"+process.argv[1])(JSON.parse(s));console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }

# make_repo DIR: a small multi-language project with ignore rules and a binary file.
make_repo() {
  local d=$1
  mkdir -p "$d/src/auth" "$d/web" "$d/node_modules/dep" "$d/build" "$d/docs" "$d/vendor"
  cat >"$d/src/auth/users.py" <<'PY'
import hashlib


class UserStore:
    """Keeps user records in memory."""

    def __init__(self):
        self.users = {}

    def getUserName(self, user_id):
        return self.users[user_id]["name"]


def hash_password(password, salt):
    return hashlib.sha256((salt + password).encode()).hexdigest()
PY
  cat >"$d/src/auth/login.py" <<'PY'
from .users import UserStore


def login(store, user_id, password):
    name = store.getUserName(user_id)
    print("welcome", name)
    return True
PY
  cat >"$d/web/retry.js" <<'JS'
// Retry HTTP requests with exponential backoff.
export async function fetchWithRetry(url, attempts = 3) {
  for (let i = 0; i < attempts; i++) {
    try { return await fetch(url); } catch (e) { await sleep(2 ** i * 100); }
  }
  throw new Error("MAX_RETRY_COUNT exceeded");
}
function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }
JS
  cat >"$d/src/server.go" <<'GO'
package server

type Config struct {
	Port int
}

func parseConfigFile(path string) (*Config, error) {
	return &Config{Port: 8080}, nil
}
GO
  printf '# Project\n\nHow to parse the configuration file and start the server.\n' >"$d/docs/README.md"
  printf 'module.exports = 1; // getUserName in a dependency\n' >"$d/node_modules/dep/index.js"
  printf 'getUserName built output\n' >"$d/build/out.js"
  printf 'vendor/\n*.log\n' >"$d/.gitignore"
  printf 'getUserName vendored\n' >"$d/vendor/lib.py"
  printf 'getUserName log line\n' >"$d/debug.log"
  printf 'BIN\0ARY getUserName\n' >"$d/data.bin"
}
