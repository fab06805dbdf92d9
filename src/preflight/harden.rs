//! Process hardening, first thing in every command that touches secrets (run, provision,
//! rehearse, the guided UI, preflight itself): no core dump (PR_SET_DUMPABLE 0, which also keeps
//! other processes of the same user from ptrace-attaching or reading /proc/PID/mem, and
//! RLIMIT_CORE 0), and all memory locked in RAM where the process may lock that much.
//!
//! Secrets live in zeroizing types, so a panic's unwinding wipes them as it drops them; with
//! the process not dumpable, a crash or abort writes nothing of its memory anywhere either.
use std::sync::OnceLock;

use rustix::mm::{MlockAllFlags, mlockall};
use rustix::process::{
    DumpableBehavior, Resource, Rlimit, getrlimit, set_dumpable_behavior, setrlimit,
};

/// What the hardening did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// PR_SET_DUMPABLE 0, or why the kernel refused it.
    pub not_dumpable: Result<(), String>,
    /// RLIMIT_CORE 0 (soft and hard), or why the kernel refused it.
    pub no_core: Result<(), String>,
    pub lock: Lock,
}

/// Whether memory is locked in RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// mlockall(MCL_CURRENT | MCL_FUTURE): everything mapped now and later.
    All,
    /// Not locked, and why (refused by the kernel, or not tried because it would break).
    NotLocked(String),
}

static DONE: OnceLock<Hardening> = OnceLock::new();

/// Hardens the process (once; later calls return the first result) and says on stderr what it
/// could not do.
pub fn harden() -> &'static Hardening {
    DONE.get_or_init(|| {
        let h = apply();
        for problem in h.problems() {
            crate::tell!("warning: {problem}");
        }
        h
    })
}

/// What `harden` did, if it ran in this process.
pub fn hardening() -> Option<&'static Hardening> {
    DONE.get()
}

impl Hardening {
    /// What could not be done, in words for the people at the station.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = &self.not_dumpable {
            out.push(format!(
                "the process could not be made non-dumpable ({e}): a crash could leave a core dump"
            ));
        }
        if let Err(e) = &self.no_core {
            out.push(format!("core dumps could not be limited to 0 bytes ({e})"));
        }
        if let Lock::NotLocked(why) = &self.lock {
            out.push(format!("memory is not locked in RAM: {why}"));
        }
        out
    }
}

fn apply() -> Hardening {
    let not_dumpable =
        set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(|e| e.to_string());
    let no_core = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| e.to_string());
    Hardening {
        not_dumpable,
        no_core,
        lock: lock_memory(),
    }
}

/// mlockall(MCL_CURRENT | MCL_FUTURE) when the process may lock without limit (CAP_IPC_LOCK, or
/// RLIMIT_MEMLOCK unlimited). Under a finite limit it is not tried: with MCL_FUTURE (and with
/// MCL_ONFAULT too, which is counted the same way) every later allocation past the limit would
/// fail and abort the tool mid-ceremony.
fn lock_memory() -> Lock {
    let limit = getrlimit(Resource::Memlock).current;
    if limit.is_some() && !may_lock_without_limit() {
        return Lock::NotLocked(format!(
            "RLIMIT_MEMLOCK is {} kB and the process lacks CAP_IPC_LOCK, so locking all of it would make later allocations fail; run the tool as root, or with `ulimit -l unlimited`",
            limit.unwrap_or(0) / 1024
        ));
    }
    match mlockall(MlockAllFlags::CURRENT | MlockAllFlags::FUTURE) {
        Ok(()) => Lock::All,
        Err(e) => Lock::NotLocked(format!(
            "mlockall failed ({e}); run the tool as root, or with `ulimit -l unlimited`"
        )),
    }
}

/// CAP_IPC_LOCK (capability 14) in the effective set (/proc/self/status `CapEff`).
fn may_lock_without_limit() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}
