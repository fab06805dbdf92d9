#!/usr/bin/env bash
# Installs the Debian packages byok-ceremony's rehearsals and tests need, only when missing.
# softhsm2: the default rehearsal token; opensc: pkcs11-tool (tests count key objects with it);
# tmux: the terminal UI tests type into a real pseudo-terminal;
# chromium, poppler-utils: the audit report test prints the report to PDF and reads its text.
set -euo pipefail

packages=(softhsm2 opensc tmux chromium poppler-utils)
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
