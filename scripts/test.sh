#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs SoftHSM2 2.6.1 (Debian) and the other
# test dependencies, builds SoftHSM2 2.7.0 (native CKM_RSA_AES_KEY_WRAP) and the kryoptic test
# token from pinned sources (both cached under target/tools), then runs every test against the
# three real PKCS#11 modules.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BYOK_SOFTHSM_MODULE="$(scripts/build-softhsm.sh | tail -n 1)"
BYOK_KRYOPTIC_MODULE="$(scripts/build-kryoptic.sh | tail -n 1)"
export BYOK_SOFTHSM_MODULE BYOK_KRYOPTIC_MODULE
cargo test --workspace "$@"
