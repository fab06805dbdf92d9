#!/usr/bin/env bash
# Reproduces the guided UI's figures in docs/benchmarks.md: the time to draw each screen at
# 120x40 (steady frame and full repaint), and the CPU the real binary uses over 10 s while it
# waits for people (script screen, attendance). Run it on a quiet machine: the load average
# printed first says how quiet it was.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
lscpu | grep -E '^(Model name|CPU\(s\))' >&2
uptime >&2
cargo bench --bench tui
