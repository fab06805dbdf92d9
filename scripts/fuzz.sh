#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each for SECONDS (default 20) from its kept
# seed corpus (fuzz/seeds/<target>) plus its growing corpus (fuzz/corpus/<target>, not kept).
# Prints per target: seconds, executions (libFuzzer's final stats), coverage, and the outcome.
# Exits non-zero on any crash, leak, timeout or out-of-memory; the reproducer is left in
# fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (FUZZ_BUILD_ONLY=1: build only)
#
# How it builds on stable Rust: cargo-fuzz needs a nightly toolchain only for -Zsanitizer and
# -Zbuild-std, which this machine cannot fetch. Coverage guidance itself needs neither: it is
# LLVM's SanitizerCoverage pass, reached with the stable codegen options -Cpasses and
# -Cllvm-args, exactly the flags cargo-fuzz passes (inline 8-bit counters, PC table,
# compare tracing, `--cfg fuzzing`). libfuzzer-sys compiles libFuzzer itself from C++ (g++).
# So this is a plain `cargo build --release` of the cargo-fuzz layout with those RUSTFLAGS;
# `--target` keeps the flags off build scripts and proc-macros, as cargo-fuzz does. What is
# lost without nightly is AddressSanitizer, which matters little here: the crate denies
# `unsafe` outside the PKCS#11 FFI module, which no target reaches. Debug assertions and
# overflow checks are on (fuzz/Cargo.toml's release profile). With a nightly toolchain the
# same targets run under `cargo fuzz run TARGET` as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
--cfg fuzzing -Cforce-frame-pointers=yes"
export CARGO_TARGET_DIR="${PWD}/fuzz/target"

echo "fuzz: building the targets (release, SanitizerCoverage, $(rustc -V))"
cargo build --manifest-path fuzz/Cargo.toml --release --target "${host}" --bins --locked
bin_dir="fuzz/target/${host}/release"
[[ -n "${FUZZ_BUILD_ONLY:-}" ]] && exit 0

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | tail -n +2)
fi

# A reproducer kept under fuzz/regressions/<target>/ must not crash any more: each is run once
# before the target is fuzzed (libFuzzer runs the files given and exits).
logs="fuzz/target/logs"
rm -rf fuzz/target/tmp && mkdir -p "${logs}" fuzz/target/tmp
# Targets whose parser reads a path write each input to a scratch file under $TMPDIR.
export TMPDIR="${PWD}/fuzz/target/tmp"
failed=()
summary=()
for t in "${targets[@]}"; do
    bin="${bin_dir}/${t}"
    [[ -x "${bin}" ]] || { echo "fuzz: no target ${t}" >&2; exit 2; }
    corpus="fuzz/corpus/${t}"
    seeds="fuzz/seeds/${t}"
    artifacts="fuzz/artifacts/${t}"
    mkdir -p "${corpus}" "${seeds}" "${artifacts}"
    if compgen -G "fuzz/regressions/${t}/*" >/dev/null; then
        if ! "${bin}" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
            "fuzz/regressions/${t}"/* >"${logs}/${t}.regressions.log" 2>&1; then
            echo "fuzz: ${t}: a kept reproducer fails again (fuzz/regressions/${t}; ${logs}/${t}.regressions.log)" >&2
            failed+=("${t} (regression)")
        fi
    fi
    # New inputs go to the first directory (the generated corpus); the kept seeds are read only.
    rc=0
    start=${SECONDS}
    timeout --kill-after=30 $((seconds + 300)) "${bin}" \
        -max_total_time="${seconds}" -print_final_stats=1 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len=65536 \
        -artifact_prefix="${artifacts}/" \
        "${corpus}" "${seeds}" >"${logs}/${t}.log" 2>&1 || rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "${logs}/${t}.log" | tail -n 1)"
    took=$((SECONDS - start))
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "${logs}/${t}.log" | tail -n 1 || true)"
    if [[ ${rc} -eq 0 ]]; then
        outcome="ok"
    else
        outcome="FAILED (exit ${rc}): $(grep -m1 -oE '==[0-9]+== ERROR: libFuzzer: [a-z-]+|deadly signal|panicked at [^ ]+' "${logs}/${t}.log" || echo 'see log'); reproducer in ${artifacts}/, log ${logs}/${t}.log"
        failed+=("${t}")
    fi
    line="$(printf '%-20s %6ss %12s execs  %-40s %s' "${t}" "${took}" "${execs:-?}" "${cov:-cov: ?}" "${outcome}")"
    echo "fuzz: ${line}"
    summary+=("${line}")
done

echo
echo "fuzz: summary ($(nproc) cores, $(rustc -V), ${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
