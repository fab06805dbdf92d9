# Shared by scripts/build-softhsm.sh and scripts/build-kryoptic.sh (sourced, not run).
#
# Before sourcing, the caller sets NAME (for log lines), MODULE, STAMP, STAMP_CONTENT,
# BUILD_DIR and LOG. Sourcing prints the module and exits when the cached build matches the
# stamp; otherwise it takes the build lock (a second run waits, then finds the cache filled),
# empties the log, and defines log, die and run.

log() { printf '[%s] %s\n' "${NAME}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# True if the installed module matches the pinned inputs.
is_cached() {
    [[ -f "${MODULE}" && -f "${STAMP}" && "$(<"${STAMP}")" == "${STAMP_CONTENT}" ]]
}

# run DESCRIPTION CMD...: run CMD quietly, appending to the log; on failure show the log's
# tail and stop.
run() {
    local desc="$1"
    shift
    log "${desc}"
    printf '\n===== %s\n$ %s\n' "${desc}" "$*" >>"${LOG}"
    if ! "$@" >>"${LOG}" 2>&1; then
        log "FAILED: ${desc}; last lines of ${LOG}:"
        tail -n 60 "${LOG}" >&2
        exit 1
    fi
}

# Fast path: nothing to do (no compiler, no apt, no network).
if is_cached; then
    printf '%s\n' "${MODULE}"
    exit 0
fi
mkdir -p "${BUILD_DIR}"
exec 9>"${BUILD_DIR}/.lock"
flock 9
if is_cached; then
    printf '%s\n' "${MODULE}"
    exit 0
fi
: >"${LOG}"
