#!/usr/bin/env bash
# Times the README's first command (scripts/rehearse.sh) as a new team runs it: a fresh clone
# with an empty target directory, stage by stage (the same stages rehearse.sh runs):
#   packages   scripts/install-deps.sh rehearsal, and the SoftHSM2 build packages
#   softhsm    scripts/build-softhsm.sh (compile SoftHSM2 2.7.0)
#   build      cargo build --release (cold target directory; the cargo registry cache is kept)
#   rehearsal  byok-ceremony rehearse --headless (the ceremony itself)
# and the whole scripts/rehearse.sh once more in a second fresh clone, end to end
# ("whole-rehearse.sh"; its packages are then already installed).
#
# Packages already installed take no time: to measure them as a fresh machine does, remove
# them first (e.g. `apt-get remove -y softhsm2 libsofthsm2 cmake`); docs/benchmarks.md says
# what was removed for its figures.
#
# Usage: scripts/bench-first-run.sh [REHEARSE ARGS...]   (prints a Markdown table)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# Next to the repository, as a new clone would be: ../shared (the vendored sources) resolves alike.
work="$(mktemp -d "$(dirname "${repo}")/byok-first-run.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

stage() {
    local name="$1"
    shift
    local start end
    start="$(date +%s.%N)"
    "$@" >"${work}/${name}.log" 2>&1 || {
        echo "stage ${name} failed; its output:" >&2
        tail -n 30 "${work}/${name}.log" >&2
        exit 1
    }
    end="$(date +%s.%N)"
    awk -v n="${name}" -v s="${start}" -v e="${end}" 'BEGIN { printf "| %s | %.1f |\n", n, e - s }'
}

echo "Machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| stage | seconds |"
echo "|---|---|"
git clone -q "${repo}" "${work}/a"
cd "${work}/a"
stage packages bash -c 'scripts/install-deps.sh rehearsal && for p in cmake g++ libssl-dev pkg-config; do dpkg-query -W -f="\${Status}" "$p" 2>/dev/null | grep -q "install ok installed" || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; done'
stage softhsm scripts/build-softhsm.sh
stage build cargo build --release --quiet
mkdir -p out
stage rehearsal env BYOK_SOFTHSM_MODULE="${work}/a/target/tools/softhsm-2.7.0/lib/softhsm/libsofthsm2.so" \
    target/release/byok-ceremony rehearse --headless --out out "$@"
grep -q '"method": "native"' out/*.manifest.json || { echo "the rehearsal did not wrap natively" >&2; exit 1; }

git clone -q "${repo}" "${work}/b"
cd "${work}/b"
stage whole-rehearse.sh scripts/rehearse.sh "$@"
