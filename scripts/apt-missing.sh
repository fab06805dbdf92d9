#!/usr/bin/env bash
# Installs the named Debian packages that are not installed yet (apt-get, as root or with
# sudo); does nothing, and needs no network, when all are there. Shared by install-deps.sh and
# the token build scripts.
#
# Usage: scripts/apt-missing.sh PACKAGE...
set -euo pipefail

missing=()
for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${p}" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("${p}")
    fi
done
((${#missing[@]} == 0)) && exit 0

sudo_cmd=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
echo "installing ${missing[*]} from Debian packages" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >&2
