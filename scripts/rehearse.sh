#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs a rehearsal ceremony on a throwaway software token.
#
# The token is SoftHSM2 2.7.0, built from its pinned source by scripts/build-softhsm.sh (cached
# under target/tools): it wraps with the native CKM_RSA_AES_KEY_WRAP and the .byok is byte-exact.
# Where its source is not at hand (an offline machine without ../shared), the rehearsal says so
# and falls back to the distro's SoftHSM2 2.6.1, whose output is rehearsal-grade (zero padding).
#
# Outputs go to ./rehearsal-out/<timestamp>/ (never overwritten). Extra arguments are passed to
# `byok-ceremony rehearse`, e.g. --key-type EC-HSM --curve P-384.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh rehearsal
rc=0
module="$(scripts/build-softhsm.sh | tail -n 1)" || rc=$?
case "${rc}" in
    0) export BYOK_SOFTHSM_MODULE="${module}" ;;
    3)
        echo "rehearse: SoftHSM2 2.7.0 cannot be built here (no source at hand, see above)." >&2
        echo "rehearse: falling back to the distro's SoftHSM2 2.6.1: the output will be REHEARSAL-GRADE" >&2
        echo "rehearse: (it zero-pads the key before wrapping); the summary below says so too." >&2
        ;;
    *) echo "rehearse: building SoftHSM2 2.7.0 failed (see above)" >&2; exit "${rc}" ;;
esac
cargo build --release --quiet
out="rehearsal-out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
exec target/release/byok-ceremony rehearse --headless --out "$out" "$@"
