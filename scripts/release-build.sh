#!/usr/bin/env bash
# Builds the station binary (byok-ceremony) reproducibly from the source tree this script is in:
# a git checkout (crates from the crates.io registry, through Cargo.lock) or an extracted release
# source bundle (crates from its vendor/ directory, no network). The same commit gives the same
# bytes wherever the tree lies and whoever builds it, on this kind of machine (x86_64 Linux, the
# toolchain pinned in rust-toolchain.toml). docs/release.md says how that is checked.
#
# Usage: scripts/release-build.sh [TARGET_DIR]
#   TARGET_DIR  cargo's target directory (default: target/release-build in the tree); anywhere
#   stdout: the absolute path of the built binary (last and only line)
#   stderr: what is being done, and cargo's output
#
# What makes the bytes independent of the machine's paths: every absolute path rustc could embed
# (panic locations, the debug info it would otherwise keep) is remapped to a fixed one:
#   the source tree -> /build/byok-ceremony, the crates' sources (registry or vendor/) -> /deps,
#   CARGO_HOME -> /cargo, the toolchain's sysroot -> /rustc-sysroot, the target dir -> /target;
# the release profile (Cargo.toml) drops debug info; SOURCE_DATE_EPOCH is the commit's time (for
# any build step that would stamp a date); Cargo.lock is used as it is (--locked).
set -euo pipefail

die() { echo "release-build: $*" >&2; exit 1; }

TREE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${TREE}"
TARGET_DIR="${1:-${TREE}/target/release-build}"
mkdir -p "${TARGET_DIR}"
TARGET_DIR="$(cd -- "${TARGET_DIR}" && pwd -P)"

readonly STATION_TARGET="x86_64-unknown-linux-gnu"
command -v cargo >/dev/null || die "cargo not found in PATH (install rustup; rust-toolchain.toml names the toolchain)"

# The toolchain: rust-toolchain.toml's, through rustup. Another rustc gives other bytes, so a
# mismatch stops here rather than producing a binary that will not match SHA256SUMS.
pinned="$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)"
[[ -n "${pinned}" ]] || die "no channel in ${TREE}/rust-toolchain.toml"
rustc_vv="$(rustc -vV)" || die "rustc does not run; is the toolchain ${pinned} installed? (rustup toolchain list)"
release="$(sed -n 's/^release: //p' <<<"${rustc_vv}")"
host="$(sed -n 's/^host: //p' <<<"${rustc_vv}")"
[[ "${release}" == "${pinned}" ]] || die "rustc is ${release}, rust-toolchain.toml pins ${pinned}; unset RUSTUP_TOOLCHAIN and build with the pinned toolchain"
[[ "${host}" == "${STATION_TARGET}" ]] || die "this machine is ${host}; the release is built on and for ${STATION_TARGET}"

# Where the crates' sources are: vendor/ in a release bundle, else the registry under CARGO_HOME.
cargo_home="${CARGO_HOME:-${HOME}/.cargo}"
mkdir -p "${cargo_home}"
cargo_home="$(cd -- "${cargo_home}" && pwd -P)"
sysroot="$(rustc --print sysroot)"
sysroot="$(cd -- "${sysroot}" && pwd -P)"
offline=()
if [[ -d vendor && -f .cargo/config.toml ]]; then
    mode="vendored sources in ${TREE}/vendor, offline"
    offline=(--offline)
else
    mode="crates.io sources under ${cargo_home}"
    # Fetch first (a no-op when cached), so the registry directories below exist to be remapped.
    cargo fetch --locked >&2 || die "cargo fetch failed: the crates in Cargo.lock are needed (network, or a filled CARGO_HOME)"
fi

# rustc applies the last matching --remap-path-prefix, so the more specific ones come later.
flags=(
    "--remap-path-prefix=${cargo_home}=/cargo"
    "--remap-path-prefix=${sysroot}=/rustc-sysroot"
    "--remap-path-prefix=${TREE}=/build/byok-ceremony"
)
if ((${#offline[@]})); then
    flags+=("--remap-path-prefix=${TREE}/vendor=/deps")
else
    for dir in "${cargo_home}"/registry/src/*; do
        [[ -d "${dir}" ]] && flags+=("--remap-path-prefix=${dir}=/deps")
    done
fi
flags+=("--remap-path-prefix=${TARGET_DIR}=/target")

# Nothing from the caller's environment may change the build: flags, wrappers and profile
# overrides are cleared; the flags go in CARGO_ENCODED_RUSTFLAGS (unit-separated, so a path with
# spaces stays one argument), which takes precedence over any config's build.rustflags.
unset RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTDOCFLAGS CARGO_BUILD_RUSTFLAGS \
    CARGO_BUILD_TARGET CARGO_INCREMENTAL CARGO_BUILD_INCREMENTAL RUSTUP_TOOLCHAIN
while IFS= read -r var; do unset "${var}"; done < <(env | sed -n 's/^\(CARGO_PROFILE_[A-Z0-9_]*\)=.*/\1/p')
CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; printf '%s' "${flags[*]}")"
# The commit's time: from the bundle's SOURCE_DATE_EPOCH file, or from git when the tree is a
# checkout's top level (never from a repository the bundle happens to be extracted inside).
if [[ -f SOURCE_DATE_EPOCH ]]; then
    SOURCE_DATE_EPOCH="$(<SOURCE_DATE_EPOCH)"
elif [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "${TREE}" ]]; then
    SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"
else
    SOURCE_DATE_EPOCH=""
fi
[[ "${SOURCE_DATE_EPOCH}" =~ ^[0-9]+$ ]] || die "no commit time: ${TREE} is neither a git checkout nor a release bundle (with its SOURCE_DATE_EPOCH file)"
export CARGO_ENCODED_RUSTFLAGS SOURCE_DATE_EPOCH
export CARGO_TARGET_DIR="${TARGET_DIR}"
export CARGO_HOME="${cargo_home}"

echo "release-build: ${TREE} with rustc ${release}, ${mode}, SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}, target dir ${TARGET_DIR}" >&2
cargo build --release --locked "${offline[@]}" -p byok-ceremony --bin byok-ceremony >&2 \
    || die "cargo build failed (see above)"
bin="${TARGET_DIR}/release/byok-ceremony"
[[ -f "${bin}" ]] || die "cargo finished but ${bin} is missing"
printf '%s\n' "${bin}"
