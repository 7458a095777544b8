#!/usr/bin/env bash
# Installs the Node-RED benchmark peer (tests/benchmarks/bench_nodered.py) into a local
# folder, exactly as pinned by package-lock.json next to this script: `npm ci`, nothing
# global. Run by `make bench-peers` (and so by `make bench`); never by `make test`/`make run`.
# Usage: install-node-red.sh DEST   (DEST e.g. var/peers/node-red)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)/node-red"
dest="${1:?usage: $0 DEST}"
if ! command -v npm >/dev/null 2>&1; then
  # Debian 12's nodejs (18.x) is enough for Node-RED 4.1 (needs >= 18.5).
  echo "[bench-peers] npm not found: installing the Debian packages nodejs npm"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "[bench-peers] need root or sudo to install nodejs npm" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
echo "[bench-peers] npm ci into $dest (node $(node --version), npm $(npm --version))"
npm ci --prefix "$dest" --omit=dev --no-audit --no-fund --loglevel=error
dest="$(cd "$dest" && pwd)"
test -x "$dest/node_modules/.bin/node-red"
version="$(node -p "require('$dest/node_modules/node-red/package.json').version")"
echo "[bench-peers] Node-RED $version installed in $dest"
