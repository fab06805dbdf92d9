#!/usr/bin/env bash
# Shows that a release is reproducible: builds the station binary of HEAD three times and
# compares the SHA-256s; exits non-zero when they differ.
#   1. scripts/release.sh in a fresh clone at one path (binary, bundle, SBOM, SHA256SUMS);
#   2. scripts/release-build.sh in a second fresh clone at another path, another depth;
#   3. scripts/release-build.sh in the source bundle of 1, extracted at a third path, with no
#      network at all (a new network namespace, `unshare -n`, when run as root) and an empty
#      CARGO_HOME, so every crate must come from the bundle.
# Each build is a full release build (several minutes on 2 cores), so this is run by hand and
# its result recorded in docs/release.md, not in CI.
#
# Usage: scripts/release-check.sh [SCRATCH_DIR]
#   SCRATCH_DIR  where the clones and builds go (default: a new directory under $TMPDIR); it is
#                removed at the end unless KEEP=1
set -euo pipefail

die() { echo "release-check: $*" >&2; exit 1; }
log() { echo "release-check: $*" >&2; }

REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${REPO}"
[[ -z "$(git status --porcelain --untracked-files=normal)" ]] \
    || die "the checkout has changes; commit them first (the clones build HEAD)"
commit="$(git rev-parse HEAD)"

scratch="${1:-$(mktemp -d "${TMPDIR:-/tmp}/byok-release-check.XXXXXX")}"
mkdir -p "${scratch}"
scratch="$(cd -- "${scratch}" && pwd -P)"
[[ -z "$(ls -A "${scratch}")" ]] || die "${scratch} is not empty"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "${scratch}"' EXIT

started=$SECONDS
declare -A sums

# 1. A clone at one path: the whole release.
one="${scratch}/a/byok-ceremony"
log "1/3 clone into ${one}, scripts/release.sh"
git clone -q --no-hardlinks "${REPO}" "${one}"
git -C "${one}" checkout -q "${commit}"
t=$SECONDS
dist="$("${one}/scripts/release.sh" --out "${scratch}/dist" | tail -n 1)"
log "1/3 took $((SECONDS - t)) s"
(cd "${dist}" && sha256sum -c --quiet SHA256SUMS) || die "the release's own SHA256SUMS does not check"
sums[clone-1]="$(sha256sum <"${dist}/byok-ceremony" | cut -d' ' -f1)"

# 2. Another clone, at another path of another length.
two="${scratch}/second-build/somewhere/else/src"
log "2/3 clone into ${two}, scripts/release-build.sh"
git clone -q --no-hardlinks "${REPO}" "${two}"
git -C "${two}" checkout -q "${commit}"
t=$SECONDS
bin="$("${two}/scripts/release-build.sh" "${scratch}/target-2" | tail -n 1)"
log "2/3 took $((SECONDS - t)) s"
sums[clone-2]="$(sha256sum <"${bin}" | cut -d' ' -f1)"

# 3. The bundle, extracted elsewhere, built with no network and no crates but its own.
three="${scratch}/from-bundle"
mkdir -p "${three}" "${scratch}/empty-cargo-home"
tar -xzf "${dist}"/byok-ceremony-*-src.tar.gz -C "${three}"
bundle_tree="$(echo "${three}"/byok-ceremony-*)"
[[ -x "${bundle_tree}/scripts/release-build.sh" ]] || die "the bundle has no scripts/release-build.sh"
no_net=()
if [[ "${EUID}" == 0 ]] && unshare -n true 2>/dev/null; then
    no_net=(unshare -n)
    how="in a network namespace with no interface but loopback (unshare -n)"
else
    how="with the network still up (not root: no unshare -n); only CARGO_HOME is empty and the bundle offline"
fi
log "3/3 bundle extracted into ${bundle_tree}, scripts/release-build.sh ${how}"
t=$SECONDS
bin="$("${no_net[@]}" env CARGO_HOME="${scratch}/empty-cargo-home" CARGO_NET_OFFLINE=true \
    "${bundle_tree}/scripts/release-build.sh" "${scratch}/target-3" | tail -n 1)"
log "3/3 took $((SECONDS - t)) s"
sums[bundle]="$(sha256sum <"${bin}" | cut -d' ' -f1)"
[[ -z "$(ls -A "${scratch}/empty-cargo-home/registry" 2>/dev/null)" ]] \
    || die "the bundle build put crates into its empty CARGO_HOME: it did not use vendor/ alone"

# The paths: none of the build directories may be in the binary.
leaks="$(strings -n 6 "${dist}/byok-ceremony" | grep -F -e "${scratch}/" -e "${REPO}/" -e "${HOME}/" || true)"
[[ -z "${leaks}" ]] || die "the binary contains build-machine paths:
${leaks}"

echo "commit      ${commit}"
echo "rustc       $(rustc --version)"
echo "machine     $(uname -sm), $(nproc) cores"
for k in clone-1 clone-2 bundle; do
    printf '%-11s %s\n' "${k}" "${sums[$k]}"
done
echo "SHA256SUMS  $(grep '  byok-ceremony$' "${dist}/SHA256SUMS")"
echo "time        $((SECONDS - started)) s"
if [[ "${sums[clone-1]}" == "${sums[clone-2]}" && "${sums[clone-1]}" == "${sums[bundle]}" ]]; then
    echo "result      the three builds are identical"
else
    echo "result      the builds DIFFER" >&2
    echo "            to see where: KEEP=1 $0, then diffoscope or cmp -l on the binaries" >&2
    exit 1
fi
