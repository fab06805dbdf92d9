#!/usr/bin/env bash
# Installs cargo-deny, at a pinned version, from crates.io sources (`cargo install --locked`:
# the versions in cargo-deny's own Cargo.lock), cached under target/tools like the test tokens.
# CI (.ci/run) runs `cargo deny check` with it; see deny.toml and docs/security.md, "Supply chain".
#
# Usage: scripts/install-cargo-deny.sh
#   stdout: the absolute path of the cargo-deny binary (last and only line)
#   stderr: progress and cargo's output
#
# Idempotent: when the binary is there and reports the pinned version, it prints the path and
# exits. A fresh install compiles about 400 crates: see docs/benchmarks.md for the time it takes.
set -euo pipefail

# Pinned: 0.20.2 needs Rust 1.88 (the toolchain in rust-toolchain.toml is newer). Raise it
# deliberately, after reading its changelog: a new cargo-deny may read deny.toml differently.
readonly VERSION="0.20.2"

REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${BYOK_CARGO_DENY_DIR:-${REPO_ROOT}/target/tools/cargo-deny-${VERSION}}"
BIN="${ROOT}/bin/cargo-deny"

if [[ -x "${BIN}" ]] && [[ "$("${BIN}" --version 2>/dev/null)" == "cargo-deny ${VERSION}" ]]; then
    printf '%s\n' "${BIN}"
    exit 0
fi
command -v cargo >/dev/null || { echo "install-cargo-deny: cargo not found in PATH" >&2; exit 1; }
echo "install-cargo-deny: cargo install --locked cargo-deny ${VERSION} into ${ROOT} (several minutes)" >&2
# Its own target dir (a scratch under ROOT), removed afterwards: the build is not needed again.
CARGO_TARGET_DIR="${ROOT}/build" cargo install --locked --root "${ROOT}" "cargo-deny@${VERSION}" >&2
rm -rf "${ROOT}/build"
got="$("${BIN}" --version 2>/dev/null || true)"
[[ "${got}" == "cargo-deny ${VERSION}" ]] || {
    echo "install-cargo-deny: installed binary reports '${got}', expected 'cargo-deny ${VERSION}'" >&2
    exit 1
}
printf '%s\n' "${BIN}"
