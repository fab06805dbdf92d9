#!/usr/bin/env bash
# Reproduces the wrap figures in docs/benchmarks.md: wrap time per key type, tool vs. a minimal
# baseline making the same PKCS#11 calls, on SoftHSM2 2.7.0 (native), kryoptic (two-step) and
# the distro's SoftHSM2 2.6.1 (two-step, zero-padding).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BYOK_SOFTHSM_MODULE="$(scripts/build-softhsm.sh | tail -n 1)"
BYOK_KRYOPTIC_MODULE="$(scripts/build-kryoptic.sh | tail -n 1)"
export BYOK_SOFTHSM_MODULE BYOK_KRYOPTIC_MODULE
cargo bench --bench wrap
