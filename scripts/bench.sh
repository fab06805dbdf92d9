#!/usr/bin/env bash
# Reproduces the figures in docs/benchmarks.md: wrap time per key type, tool vs. a minimal
# baseline making the same PKCS#11 calls, on SoftHSM2 and kryoptic.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BYOK_KRYOPTIC_MODULE="$(scripts/build-kryoptic.sh | tail -n 1)"
export BYOK_KRYOPTIC_MODULE
cargo bench --bench wrap
