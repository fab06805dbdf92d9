#!/usr/bin/env bash
# Makes a release of the station binary that the room can verify (docs/release.md):
#   dist/<version>-<commit>/
#     byok-ceremony                           the station binary (scripts/release-build.sh)
#     byok-ceremony-<version>-<commit>-src.tar.gz
#                                             the source bundle: `git archive` of the commit, the
#                                             crates it needs (`cargo vendor`) and a .cargo/config.toml
#                                             that uses them, so it builds the same binary offline
#     byok-ceremony.cdx.json                  CycloneDX 1.5 SBOM of the binary (scripts/sbom.py)
#     SHA256SUMS                              `sha256sum` format: `<hex>  <name>` for the three
#
# Usage: scripts/release.sh [--out DIR]
#   --out DIR  write there instead of dist/<version>-<commit>/ (it must not exist yet)
#   stdout: the release directory (last line); stderr: progress
#
# It builds HEAD of a clean checkout only (the binary must be what the commit says), and never
# overwrites a release: an existing output directory stops it. The binary is built from this
# checkout with crates.io sources; scripts/release-check.sh builds it again in two other
# directories and from the bundle, offline, and compares.
set -euo pipefail

die() { echo "release: $*" >&2; exit 1; }
log() { echo "release: $*" >&2; }

REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "${REPO}"

out=""
while (($#)); do
    case "$1" in
        --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (usage: scripts/release.sh [--out DIR])" ;;
    esac
done

for tool in git cargo tar gzip sha256sum python3; do
    command -v "${tool}" >/dev/null || die "${tool} not found in PATH"
done
[[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "${REPO}" ]] || die "${REPO} is not a git checkout"
if [[ -n "$(git status --porcelain --untracked-files=normal)" ]]; then
    git status --short >&2
    die "the checkout has changes (above); commit or stash them: a release is built from a commit"
fi

commit="$(git rev-parse HEAD)"
short="${commit:0:12}"
version="$(cargo metadata --format-version 1 --no-deps --locked --offline \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="byok-ceremony"))')" \
    || die "cannot read the version of byok-ceremony (cargo metadata)"
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"
export SOURCE_DATE_EPOCH
name="byok-ceremony-${version}-${short}"
out="${out:-${REPO}/dist/${version}-${short}}"
[[ -e "${out}" ]] && die "${out} already exists; a release is never overwritten (remove it yourself, or pass --out)"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/byok-release.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT
stage="${scratch}/out"
mkdir -p "${stage}"

# --- the source bundle ------------------------------------------------------------------------
log "source bundle ${name}-src.tar.gz: git archive ${short}, cargo vendor"
src="${scratch}/${name}"
mkdir -p "${src}"
git archive --format=tar "${commit}" | tar -x -C "${src}"
# Every crate of Cargo.lock (both workspace crates, every platform: cargo resolves the whole
# lock file even offline), in name-version directories so the paths remapped in the binary are
# the same as the registry's (scripts/release-build.sh).
cargo fetch --locked >&2 || die "cargo fetch failed: the crates in Cargo.lock are needed"
cargo vendor --locked --offline --versioned-dirs --manifest-path "${src}/Cargo.toml" "${src}/vendor" \
    >/dev/null 2>"${scratch}/vendor.log" || { cat "${scratch}/vendor.log" >&2; die "cargo vendor failed (above)"; }
mkdir -p "${src}/.cargo"
cat >"${src}/.cargo/config.toml" <<'TOML'
# Release source bundle: every crate comes from vendor/, never from the network.
# Build: scripts/release-build.sh (docs/release.md).
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
TOML
printf '%s\n' "${SOURCE_DATE_EPOCH}" >"${src}/SOURCE_DATE_EPOCH"
printf '%s\n' "${commit}" >"${src}/COMMIT"
# Deterministic: sorted names, the commit's time on every file, no owner names, modes
# normalised (the builder's umask must not show: rw-r--r--, or rwxr-xr-x where executable), no
# gzip timestamp.
bundle="${stage}/${name}-src.tar.gz"
tar --sort=name --mtime="@${SOURCE_DATE_EPOCH}" --owner=0 --group=0 --numeric-owner \
    --mode='u+rwX,go=rX' --format=gnu \
    -C "${scratch}" -cf - "${name}" | gzip -9 -n >"${bundle}"

# --- the binary -------------------------------------------------------------------------------
log "binary: scripts/release-build.sh (several minutes on 2 cores)"
bin="$("${REPO}/scripts/release-build.sh" "${BYOK_RELEASE_TARGET_DIR:-${REPO}/target/release-build}" | tail -n 1)"
cp "${bin}" "${stage}/byok-ceremony"
chmod 0755 "${stage}/byok-ceremony"
# No build-machine path may be in it (all are remapped); say which if one is. Each is matched
# as a directory ("/root/", not "/root", which "src/roots.rs" contains).
leaks="$(strings -n 6 "${stage}/byok-ceremony" \
    | grep -F -e "${REPO}/" -e "${HOME}/" -e "${scratch}/" -e "${CARGO_HOME:-${HOME}/.cargo}/" || true)"
[[ -z "${leaks}" ]] || die "the binary contains build-machine paths:
${leaks}"

# --- the SBOM and the checksums ----------------------------------------------------------------
log "SBOM byok-ceremony.cdx.json"
python3 "${REPO}/scripts/sbom.py" "${stage}/byok-ceremony" "${commit}" "${SOURCE_DATE_EPOCH}" \
    >"${stage}/byok-ceremony.cdx.json" || die "scripts/sbom.py failed"
(cd "${stage}" && sha256sum byok-ceremony byok-ceremony.cdx.json "${name}-src.tar.gz" >SHA256SUMS)

mkdir -p "$(dirname -- "${out}")"
[[ -e "${out}" ]] && die "${out} appeared while building; not overwriting it"
mv "${stage}" "${out}"
log "release ${version} at ${commit}:"
sed 's/^/    /' "${out}/SHA256SUMS" >&2
printf '%s\n' "${out}"
