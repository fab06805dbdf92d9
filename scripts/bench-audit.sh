#!/usr/bin/env bash
# Reproduces the `audit verify` figures in docs/benchmarks.md: a real rehearsal log grown to
# BYOK_BENCH_LOG_MIB MiB (default 1024) with machine-valid repeated events, re-chained and
# re-signed; verify's throughput and peak memory against `openssl dgst -sha256` on the same file,
# best of 5 each. The machine is shared: the bench first waits (at most BYOK_BENCH_QUIET_SECS,
# default 300) for the load average to drop below 0.8, and prints it with the CPU model.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || {
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y -qq time >&2
}
lscpu | grep -E '^(Model name|CPU\(s\))' >&2
uptime >&2
cargo bench --bench audit_verify
