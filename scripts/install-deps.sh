#!/usr/bin/env bash
# Installs the Debian packages byok-ceremony needs, only when missing.
#
#   scripts/install-deps.sh            everything the tests need
#   scripts/install-deps.sh rehearsal  only what a rehearsal needs (softhsm2)
#
# softhsm2: the distro's SoftHSM2 2.6.1 (the zero-padding token; the rehearsal's fallback);
# opensc: pkcs11-tool (tests count key objects with it);
# tmux: the terminal UI tests type into a real pseudo-terminal;
# chromium, poppler-utils: the audit report test prints the report to PDF and reads its text.
# (scripts/build-softhsm.sh and scripts/build-kryoptic.sh install their own build packages.)
set -euo pipefail

case "${1:-tests}" in
    rehearsal) packages=(softhsm2) ;;
    tests) packages=(softhsm2 opensc tmux chromium poppler-utils) ;;
    *) echo "usage: $0 [tests|rehearsal]" >&2; exit 2 ;;
esac
exec "$(dirname "$0")/apt-missing.sh" "${packages[@]}"
