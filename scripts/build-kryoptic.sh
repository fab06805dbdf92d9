#!/usr/bin/env bash
# Build the kryoptic PKCS#11 soft token (libkryoptic_pkcs11.so) from crates.io
# registry sources only, for use as a second software token in tests.
#
# kryoptic needs OpenSSL >= 3.2 but Debian bookworm ships 3.0, so OpenSSL is
# built statically from the `openssl-src` crate's source tree and kryoptic is
# linked against it (recipe: docs "byok-facts.md", section "kryoptic 1.5.4").
#
# Usage: scripts/build-kryoptic.sh
#   stdout: the absolute path of the installed module (last and only line)
#   stderr: progress; full build output goes to $BUILD_DIR/build.log
#
# Environment:
#   BYOK_KRYOPTIC_DIR        install dir  (default: <repo>/target/tools/kryoptic)
#   BYOK_KRYOPTIC_BUILD_DIR  scratch dir  (default: <repo>/target/tools/kryoptic-build)
#   CARGO_HOME               cargo home   (default: ~/.cargo)
#
# Idempotent: if the module is installed and its stamp matches the pinned
# versions below, the script prints the path and exits immediately.
set -euo pipefail

# Pinned versions. openssl-src 300.6.1 carries OpenSSL 3.6.3.
readonly KRYOPTIC_VERSION="1.5.4"
readonly OPENSSL_SRC_VERSION="300.6.1+3.6.3"
readonly MODULE_NAME="libkryoptic_pkcs11.so"
readonly APT_PACKAGES=(build-essential perl pkg-config libclang-dev libsqlite3-dev)

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd)"
OUT_DIR="${BYOK_KRYOPTIC_DIR:-${REPO_ROOT}/target/tools/kryoptic}"
BUILD_DIR="${BYOK_KRYOPTIC_BUILD_DIR:-${REPO_ROOT}/target/tools/kryoptic-build}"
CARGO_HOME="${CARGO_HOME:-${HOME}/.cargo}"
export CARGO_HOME

MODULE="${OUT_DIR}/${MODULE_NAME}"
STAMP="${MODULE}.stamp"
STAMP_CONTENT="kryoptic=${KRYOPTIC_VERSION}
openssl-src=${OPENSSL_SRC_VERSION}"
LOG="${BUILD_DIR}/build.log"

NAME=build-kryoptic
# shellcheck source=build-lib.sh
source "${SCRIPT_DIR}/build-lib.sh"
mkdir -p "${OUT_DIR}"

# --- 1. Debian build dependencies (installed only when missing) -------------
run "install the build packages if missing (${APT_PACKAGES[*]})" "${SCRIPT_DIR}/apt-missing.sh" "${APT_PACKAGES[@]}"
command -v cargo >/dev/null || die "cargo not found in PATH"

# --- 2. Fetch registry sources ---------------------------------------------
# A scratch crate depending on both crates makes cargo download and unpack
# them into $CARGO_HOME/registry/src. The empty [workspace] table stops cargo
# from attaching these nested crates to the repo's own workspace.
fetch_dir="${BUILD_DIR}/fetch"
mkdir -p "${fetch_dir}/src"
cat >"${fetch_dir}/Cargo.toml" <<EOF
[package]
name = "kryoptic-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
kryoptic = "=${KRYOPTIC_VERSION}"
openssl-src = "=${OPENSSL_SRC_VERSION%%+*}"
EOF
: >"${fetch_dir}/src/lib.rs"
run "cargo fetch (kryoptic ${KRYOPTIC_VERSION}, openssl-src ${OPENSSL_SRC_VERSION})" \
    cargo fetch --manifest-path "${fetch_dir}/Cargo.toml"

# find_src NAME-VERSION: the unpacked crate directory under registry/src.
find_src() {
    local d
    for d in "${CARGO_HOME}"/registry/src/*/"$1"; do
        if [[ -f "${d}/Cargo.toml" ]]; then
            printf '%s\n' "${d}"
            return 0
        fi
    done
    die "source of $1 not found under ${CARGO_HOME}/registry/src"
}
kryoptic_src="$(find_src "kryoptic-${KRYOPTIC_VERSION}")"
openssl_src="$(find_src "openssl-src-${OPENSSL_SRC_VERSION}")"
[[ -f "${openssl_src}/openssl/Configure" ]] || die "no openssl/Configure in ${openssl_src}"

# --- 3. Static OpenSSL ------------------------------------------------------
# Built in a copy (never inside the registry). Shared builds fail on the
# openssl-src tree (files are stripped), hence no-shared/no-module. The
# install prefix is reused across runs once marked complete.
ossl_prefix="${BUILD_DIR}/openssl-${OPENSSL_SRC_VERSION//+/_}"
if [[ ! -f "${ossl_prefix}/.complete" ]]; then
    ossl_tree="${BUILD_DIR}/openssl-src-tree"
    rm -rf "${ossl_prefix}" "${ossl_tree}"
    cp -a "${openssl_src}/openssl" "${ossl_tree}"
    (
        cd "${ossl_tree}"
        run "OpenSSL: Configure" perl ./Configure --prefix="${ossl_prefix}" --libdir=lib \
            no-shared no-module no-docs no-tests no-apps
        run "OpenSSL: make -j$(nproc)" make -j"$(nproc)"
        run "OpenSSL: make install_sw" make install_sw
    )
    touch "${ossl_prefix}/.complete"
    rm -rf "${ossl_tree}"
else
    log "OpenSSL: reusing ${ossl_prefix}"
fi
[[ -f "${ossl_prefix}/lib/pkgconfig/libcrypto.pc" ]] || die "OpenSSL install lacks libcrypto.pc"

# --- 4. kryoptic -------------------------------------------------------------
# Built in a fresh copy of the registry tree (cp -a keeps mtimes, so the
# separate target dir still builds incrementally). --locked uses the
# Cargo.lock shipped in the crate.
kry_tree="${BUILD_DIR}/kryoptic-src"
rm -rf "${kry_tree}"
cp -a "${kryoptic_src}" "${kry_tree}"
chmod -R u+w "${kry_tree}"
grep -q '^\[workspace\]' "${kry_tree}/Cargo.toml" || printf '\n[workspace]\n' >>"${kry_tree}/Cargo.toml"
(
    cd "${kry_tree}"
    run "kryoptic: cargo build --release (several minutes)" \
        env PKG_CONFIG_PATH="${ossl_prefix}/lib/pkgconfig" OPENSSL_STATIC=1 \
        CARGO_TARGET_DIR="${BUILD_DIR}/target" \
        cargo build --release --locked
)
built="${BUILD_DIR}/target/release/${MODULE_NAME}"
[[ -f "${built}" ]] || die "build finished but ${built} is missing"

# --- 5. Install atomically ---------------------------------------------------
# Drop the stamp first so an interrupted install is never mistaken for a
# cached one; copy to a temp name in the same dir, then rename.
rm -f "${STAMP}"
trap 'rm -f "${tmp:-}" "${tmp_stamp:-}"' EXIT
tmp="$(mktemp "${OUT_DIR}/.${MODULE_NAME}.XXXXXX")"
cp "${built}" "${tmp}"
chmod 0755 "${tmp}"
mv -f "${tmp}" "${MODULE}"
tmp_stamp="$(mktemp "${OUT_DIR}/.stamp.XXXXXX")"
printf '%s\n' "${STAMP_CONTENT}" >"${tmp_stamp}"
chmod 0644 "${tmp_stamp}"
mv -f "${tmp_stamp}" "${STAMP}"

log "installed ${MODULE}"
printf '%s\n' "${MODULE}"
