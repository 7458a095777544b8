#!/usr/bin/env bash
# Installs the Debian packages the project runs on, only when something is missing:
# mosquitto (broker), influxdb (database), chromium (browser tests of the wall).
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto mosquitto-clients)
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
if [ "${WITH_BROWSER:-0}" = 1 ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[setup] installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "[setup] need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages may start system-wide services on the standard ports; the project never uses
# those (it starts private ones on other ports), so they are left as the system wants them.
echo "[setup] installed: ${missing[*]}"
