#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs SoftHSM2, builds the kryoptic test
# token from registry sources (cached under target/tools), then runs every test against both
# real PKCS#11 modules.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BYOK_KRYOPTIC_MODULE="$(scripts/build-kryoptic.sh | tail -n 1)"
export BYOK_KRYOPTIC_MODULE
cargo test --workspace "$@"
