#!/usr/bin/env bash
# Reproduces "One ceremony, several clouds" in docs/benchmarks.md: the wall time of a whole
# headless rehearsal (provisioning a throwaway token, the ceremony, every software check) for
# Azure alone, Google Cloud alone, AWS alone and the three clouds at once, with the release
# binary. Each row: the median of RUNS runs (default 5), after one warm-up run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"

scripts/install-deps.sh >/dev/null
BYOK_SOFTHSM_MODULE="$(scripts/build-softhsm.sh | tail -n 1)"
BYOK_KRYOPTIC_MODULE="$(scripts/build-kryoptic.sh | tail -n 1)"
export BYOK_SOFTHSM_MODULE BYOK_KRYOPTIC_MODULE
cargo build --release --locked --bin byok-ceremony >/dev/null
bin="$PWD/target/release/byok-ceremony"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "| clouds | key | token picked | median (s) | min (s) | max (s) |"
echo "|---|---|---|---|---|---|"
for clouds in azure gcp aws azure,gcp,aws; do
  for key in "RSA-HSM --key-size 3072" "EC-HSM --curve P-384"; do
    times=()
    token=""
    for i in $(seq 0 "$runs"); do
      out="$work/$clouds-${key%% *}-$i"
      mkdir -p "$out"
      start=$(date +%s.%N)
      # shellcheck disable=SC2086
      log="$("$bin" rehearse --out "$out" --cloud "$clouds" --key-type $key 2>/dev/null)"
      end=$(date +%s.%N)
      token="$(printf '%s\n' "$log" | sed -n 's/^Rehearsal complete on a throwaway \(.*\) token.*/\1/p')"
      [ "$i" -eq 0 ] || times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
    done
    mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
    n=${#sorted[@]}
    printf '| %s | %s | %s | %.2f | %.2f | %.2f |\n' "$clouds" "$(printf '%s' "$key" | sed 's/ --key-size / /; s/ --curve / /')" "$token" \
      "${sorted[$((n / 2))]}" "${sorted[0]}" "${sorted[$((n - 1))]}"
  done
done
