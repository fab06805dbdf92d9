#!/usr/bin/env bash
# Installs the Debian packages byok-ceremony's rehearsals and tests need, only when missing.
# softhsm2: the default rehearsal token; opensc: pkcs11-tool, handy to inspect tokens.
set -euo pipefail

packages=(softhsm2 opensc)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "installing ${missing[*]} from Debian packages" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
