//! The workstation's own checks, and the process hardening every command that touches secrets
//! starts with.
//!
//! `byok-ceremony preflight` and the ceremony's preflight step run the same station checks
//! ([`station_checks`]): the air gap (`network`, `routes`), swap, core dumps and memory locking
//! (`memory`), the tool's own SHA-256 (`binary`), the medium it runs from (`medium`) and the
//! clock (`clock`). Each reads the kernel's view (/sys, /proc, prctl, statvfs) and never opens a
//! socket; what cannot be read, or does not look like the kernel's view, fails its check.
//! A check that passes with a caveat says "warning:" at the start of its detail.
#![forbid(unsafe_code)]
use std::path::PathBuf;

use crate::ceremony::machine::Check;

pub mod binary;
pub mod clock;
mod harden;
pub mod medium;
pub mod memory;
pub mod network;
pub mod routes;

pub use harden::{Hardening, Lock, harden, hardening};

/// What the station checks need from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A SHA256SUMS file (`sha256sum` format) that lists this tool's hash (`--sums FILE`).
    pub sums: Option<PathBuf>,
}

/// The station checks, in the order they are shown; every one is marked as the station's.
pub fn station_checks(opts: &Options) -> Vec<Check> {
    let mut checks = vec![
        network::check(&network::Paths::system()),
        memory::swap_check(),
        memory::core_dump_check(),
        memory::lock_check(),
        binary::check(opts.sums.as_deref()),
        medium::check(),
        clock::check(),
    ];
    for c in &mut checks {
        c.station = true;
    }
    checks
}

/// A station check: passed, or failed with what to do next.
pub(crate) fn check(name: &str, passed: bool, detail: String) -> Check {
    Check::new(name, passed, detail)
}
