#!/usr/bin/env bash
# conformance.sh — runs the official MCP conformance suite (@modelcontextprotocol/conformance)
# against the real embecode binary. The suite tests servers over HTTP only, so supergateway
# bridges `embecode --path <temp repo>` (stdio) to Streamable HTTP on a free localhost port.
#
# Usage: scripts/conformance.sh [scenario ...]
#   default scenarios: server-initialize ping tools-list logging-set-level
# Environment:
#   EMBECODE_BIN          binary to test (default: build/embecode)
#   CONFORMANCE_VERSION   @modelcontextprotocol/conformance version (default below)
#   SUPERGATEWAY_VERSION  supergateway version (default below)
#   CONFORMANCE_KEEP=1    keep the work directory (logs, results) for inspection
# Needs npm (registry access) and Node 22 for the suite: the local node is used when it is
# 22 or newer, otherwise `npx -p node@22` provides one. Exit status 0 iff every scenario
# passed; prints "N passed, N failed" last, like the other test scripts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${EMBECODE_BIN:-$ROOT/build/embecode}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
CONFORMANCE_VERSION=${CONFORMANCE_VERSION:-0.1.16}
SUPERGATEWAY_VERSION=${SUPERGATEWAY_VERSION:-4.0.0}
if [ $# -gt 0 ]; then
  SCENARIOS=("$@")
else
  SCENARIOS=(server-initialize ping tools-list logging-set-level)
fi

log() { printf 'conformance.sh: %s\n' "$*" >&2; }

if [ ! -x "$BIN" ]; then
  log "embecode binary not found at $BIN: run make, or set EMBECODE_BIN"
  echo "0 passed, 1 failed"
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/embecode-conformance-XXXXXX")
GATEWAY_PID=
cleanup() {
  if [ -n "$GATEWAY_PID" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$GATEWAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$GATEWAY_PID" 2>/dev/null || true
  fi
  if [ -n "${CONFORMANCE_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Node 22 for the suite and the gateway. npx runs outside the repository (whose .npmrc sets
# ignore-scripts, which would leave the node@22 package without its binary).
NODE=node
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  log "node $(node --version 2>/dev/null || echo missing) is older than 22; fetching node@22 with npx"
  NODE=$(cd "$WORK" && npm_config_ignore_scripts=false npx -y -p node@22 node -p process.execPath)
  major=$("$NODE" -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 22 ]; then
    log "could not get Node 22 (npx gave $NODE, version $major)"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
log "using node $("$NODE" --version) at $NODE"

log "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION and supergateway@$SUPERGATEWAY_VERSION"
mkdir -p "$WORK/tools"
(cd "$WORK/tools" && npm init -y >/dev/null &&
  npm install --no-audit --no-fund --silent \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" "supergateway@$SUPERGATEWAY_VERSION")
CONFORMANCE="$WORK/tools/node_modules/@modelcontextprotocol/conformance/dist/index.js"
SUPERGATEWAY="$WORK/tools/node_modules/supergateway/dist/index.js"

# A small project to serve, and private cache/config directories.
REPO="$WORK/repo"
mkdir -p "$REPO/src"
printf 'def fetch_with_retry(url):\n    return url\n' >"$REPO/src/retry.py"
printf 'export function render(x) {\n  return x;\n}\n' >"$REPO/src/render.js"
SERVER_HOME="$WORK/home"
mkdir -p "$SERVER_HOME"

PORT=$("$NODE" -e 'const s=require("net").createServer();
  s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});')
URL="http://127.0.0.1:$PORT/mcp"
printf -v SERVER_CMD '%q --path %q' "$BIN" "$REPO"

log "starting supergateway on port $PORT for: $SERVER_CMD"
HOME="$SERVER_HOME" XDG_CACHE_HOME="$SERVER_HOME/cache" XDG_CONFIG_HOME="$SERVER_HOME/config" \
  "$NODE" "$SUPERGATEWAY" --stdio "$SERVER_CMD" --outputTransport streamableHttp --stateful \
  --port "$PORT" --healthEndpoint /healthz --logLevel info >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!

ready=
for _ in $(seq 1 200); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$GATEWAY_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  log "supergateway did not come up; its log:"
  tail -n 40 "$WORK/gateway.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
failed_names=()
for sc in "${SCENARIOS[@]}"; do
  out="$WORK/results/$sc"
  mkdir -p "$out"
  log "scenario $sc"
  set +e
  "$NODE" "$CONFORMANCE" server --url "$URL" --scenario "$sc" -o "$out" \
    >"$out/stdout.txt" 2>&1
  rc=$?
  set -e
  cat "$out/stdout.txt"
  # The suite exits non-zero on failures; also require its summary to say every check
  # passed ("Passed: N/N, 0 failed").
  if [ "$rc" -eq 0 ] && sed 's/\x1b\[[0-9;]*m//g' "$out/stdout.txt" |
    grep -qE 'Passed: ([0-9]+)/\1, 0 failed'; then
    passed=$((passed + 1))
    echo "ok    $sc"
  else
    failed=$((failed + 1))
    failed_names+=("$sc")
    echo "FAIL  $sc (exit $rc)"
  fi
done

if [ "$failed" -gt 0 ]; then
  log "failed: ${failed_names[*]}; gateway log tail:"
  tail -n 20 "$WORK/gateway.log" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
