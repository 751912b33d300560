#!/usr/bin/env bash
# Installs the Debian packages embecode's build and tests need; a no-op when all are present.
# Called by the Makefile; safe to run by hand. Needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(gcc make pkg-config git ca-certificates libsqlite3-dev libcjson-dev libcurl4-openssl-dev)
# node/npm fetch tree-sitter sources and run the MCP SDK end-to-end tests; any node >= 18 will do.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm  >/dev/null 2>&1 || pkgs+=(npm)
if [ -n "${EMBECODE_EXTRA_PKGS:-}" ]; then read -r -a extra <<<"$EMBECODE_EXTRA_PKGS"; pkgs+=("${extra[@]}"); fi
missing=()
for p in "${pkgs[@]}"; do
  case "$p" in nodejs|npm) missing+=("$p"); continue;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
