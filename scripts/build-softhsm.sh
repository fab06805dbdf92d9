#!/usr/bin/env bash
# Build SoftHSM2 2.7.0 from source into the build directory, for rehearsals and tests.
#
# Why: Debian packages only SoftHSM2 2.6.1, which lacks CKM_RSA_AES_KEY_WRAP (the native BYOK
# mechanism real HSMs use) and zero-pads before RFC 5649. 2.7.0 has the native mechanism and a
# plain RFC 5649 (docs "byok-facts.md", section "SoftHSM2 2.7.0"). It is installed under
# target/tools, never over the system's softhsm2: the distro's 2.6.1 stays the token that shows
# the zero-padding hazard.
#
# Source, first found:
#   1. $BYOK_SOFTHSM_TARBALL, if set;
#   2. shared/vendor/SoftHSMv2-2.7.0.tar.gz next to the repository or one of its parents
#      (the workplace's ../shared);
#   3. the upstream release tarball from GitHub, on a machine that reaches it.
# Either way the archive's SHA-256 must equal the pinned value below, or the script stops.
#
# Usage: scripts/build-softhsm.sh
#   stdout: the absolute path of the installed module (last and only line)
#   stderr: progress; full build output goes to $BUILD_DIR/build.log
#   exit 3: no source at hand (offline and no ../shared): callers may fall back to the distro's
#           SoftHSM2; any other failure exits 1.
#
# Environment:
#   BYOK_SOFTHSM_DIR        install prefix (default: <repo>/target/tools/softhsm-2.7.0)
#   BYOK_SOFTHSM_BUILD_DIR  scratch dir    (default: <repo>/target/tools/softhsm-2.7.0-build)
#   BYOK_SOFTHSM_TARBALL    a local copy of the source archive (checked like any other)
#
# Idempotent: when the module is installed and its stamp matches the pinned archive and build
# flags, the script prints the path and exits at once (no apt, no compiler).
set -euo pipefail

readonly VERSION="2.7.0"
readonly TARBALL="SoftHSMv2-${VERSION}.tar.gz"
# git archive of upstream tag 2.7.0 (commit 13e6e86b83748fef74046dbf0c91f664b7acc1c3).
readonly SHA256="3c57cd5a78acd2fe961ed3d9adc7f1ee2eb60d14bd527637f10a859bcc329d55"
readonly UPSTREAM_URL="https://github.com/softhsm/SoftHSMv2/archive/refs/tags/${VERSION}.tar.gz"
readonly APT_PACKAGES=(cmake g++ libssl-dev pkg-config)
readonly CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DWITH_CRYPTO_BACKEND=openssl
    -DENABLE_GOST=OFF
    -DBUILD_TESTS=OFF
    # Non-paged (mlock'd) memory would need RLIMIT_MEMLOCK headroom on CI machines.
    -DDISABLE_NON_PAGED_MEMORY=ON
)

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd)"
PREFIX="${BYOK_SOFTHSM_DIR:-${REPO_ROOT}/target/tools/softhsm-${VERSION}}"
BUILD_DIR="${BYOK_SOFTHSM_BUILD_DIR:-${REPO_ROOT}/target/tools/softhsm-${VERSION}-build}"
MODULE="${PREFIX}/lib/softhsm/libsofthsm2.so"
STAMP="${PREFIX}/.stamp"
STAMP_CONTENT="softhsm=${VERSION} sha256=${SHA256} flags=${CMAKE_FLAGS[*]}"
LOG="${BUILD_DIR}/build.log"

NAME=build-softhsm
# shellcheck source=build-lib.sh
source "${SCRIPT_DIR}/build-lib.sh"

# --- 1. The source archive, checked against the pinned SHA-256 --------------------------
archive="${BUILD_DIR}/${TARBALL}"
rm -f "${archive}"
found=""
if [[ -n "${BYOK_SOFTHSM_TARBALL:-}" ]]; then
    [[ -f "${BYOK_SOFTHSM_TARBALL}" ]] || die "BYOK_SOFTHSM_TARBALL=${BYOK_SOFTHSM_TARBALL} is not a file"
    found="${BYOK_SOFTHSM_TARBALL}"
else
    dir="${REPO_ROOT}"
    while [[ "${dir}" != "/" ]]; do
        dir="$(dirname -- "${dir}")"
        if [[ -f "${dir}/shared/vendor/${TARBALL}" ]]; then
            found="${dir}/shared/vendor/${TARBALL}"
            break
        fi
    done
fi
if [[ -n "${found}" ]]; then
    log "source: ${found}"
    cp -- "${found}" "${archive}"
elif command -v curl >/dev/null && curl -fsSL --connect-timeout 10 --max-time 300 -o "${archive}" "${UPSTREAM_URL}" 2>>"${LOG}"; then
    log "source: ${UPSTREAM_URL}"
else
    rm -f "${archive}"
    log "no SoftHSM2 ${VERSION} source at hand: no ../shared/vendor/${TARBALL} and ${UPSTREAM_URL} is not reachable"
    log "put the archive (SHA-256 ${SHA256}) in BYOK_SOFTHSM_TARBALL to build it offline"
    exit 3
fi
actual="$(sha256sum -- "${archive}" | cut -d' ' -f1)"
if [[ "${actual}" != "${SHA256}" ]]; then
    rm -f "${archive}"
    die "the SoftHSM2 ${VERSION} archive has SHA-256 ${actual}, not the pinned ${SHA256}: it is not the reviewed source; do not build it (get the archive again from a trusted copy)"
fi
log "SHA-256 ${SHA256} matches the pinned value"

# --- 2. Debian build dependencies (only when missing) -----------------------------------
run "install the build packages if missing (${APT_PACKAGES[*]})" "${SCRIPT_DIR}/apt-missing.sh" "${APT_PACKAGES[@]}"

# --- 3. Configure, build, install into a staging prefix, then move into place ----------
src="${BUILD_DIR}/src"
obj="${BUILD_DIR}/obj"
stage="${BUILD_DIR}/stage"
rm -rf "${src}" "${obj}" "${stage}"
mkdir -p "${src}" "${obj}"
run "unpack ${TARBALL}" tar -xzf "${archive}" -C "${src}" --strip-components=1
run "cmake configure" cmake -S "${src}" -B "${obj}" -DCMAKE_INSTALL_PREFIX="${PREFIX}" "${CMAKE_FLAGS[@]}"
run "make -j$(nproc) (about a minute on 2 cores)" make -C "${obj}" -j"$(nproc)"
run "make install (staged)" make -C "${obj}" install DESTDIR="${stage}"
[[ -f "${stage}${MODULE}" ]] || die "the build finished but ${stage}${MODULE} is missing"

# The stamp goes last, so an interrupted install is never mistaken for a cached one.
rm -rf "${PREFIX}"
mkdir -p "$(dirname -- "${PREFIX}")"
mv -- "${stage}${PREFIX}" "${PREFIX}"
printf '%s\n' "${STAMP_CONTENT}" >"${STAMP}"
rm -rf "${src}" "${obj}" "${stage}" "${archive}"

log "installed ${MODULE}"
printf '%s\n' "${MODULE}"
