#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs a rehearsal ceremony on a throwaway SoftHSM2 token.
# Outputs go to ./rehearsal-out/<timestamp>/ (never overwritten). Extra arguments are passed to
# `byok-ceremony rehearse`, e.g. --key-type EC-HSM --curve P-384.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --quiet
out="rehearsal-out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
exec target/release/byok-ceremony rehearse --headless --out "$out" "$@"
