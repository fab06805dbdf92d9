//! `byok-ceremony preflight [--json] [--sums FILE]`: the station's checks, the same as the
//! ceremony's preflight step runs; exit 0 only when every one passed.
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::byok::fingerprint::pgp_words_for;
use crate::ceremony::machine::Check;
use crate::preflight::{self, Options};

/// `preflight --help`: what each check looks at and when it passes (set on the subcommand in
/// main.rs, whose one-line doc comment is the short help).
pub const LONG_HELP: &str = "\
Checks this workstation before a ceremony: the same checks the ceremony's preflight step runs. \
Exit 0 only when every check passes, 1 when any fails.

Checks:
  air gap           no network interface up but loopback (wired, wireless: /sys/class/net), no
                    radio unblocked (rfkill: Wi-Fi, Bluetooth), no route off the machine (IPv4
                    /proc/net/route, IPv6 /proc/net/ipv6_route), no DNS resolver of
                    /etc/resolv.conf that such a route reaches. No socket is opened. A /sys or
                    /proc that cannot be read, or is not this network namespace's view, fails.
  swap              no swap, or swap only on dm-crypt or zram (/proc/swaps)
  core dumps        this process cannot dump core (PR_SET_DUMPABLE 0, RLIMIT_CORE 0)
  memory locking    this process's memory is locked in RAM (mlockall; VmLck in /proc/self/status):
                    needs root or `ulimit -l unlimited`
  tool binary       the tool's own SHA-256, as hex and PGP words to read aloud; with --sums, it
                    must match the release's SHA256SUMS entry for byok-ceremony
  read-only medium  the tool runs from a read-only filesystem (a warning where not)
  clock             the UTC time, for the custodians to confirm; a clock before 2026 fails

A check that passes with a caveat says \"warning:\" at the start of its detail.
With --json: {\"passed\": bool, \"checks\": [{\"name\": ..., \"passed\": bool, \"detail\": ...}, ...]}.";

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// Print the result as JSON (for scripts) instead of text
    #[arg(long)]
    pub json: bool,
    /// The release's SHA256SUMS file (`sha256sum` format: `HEX  byok-ceremony`); the tool's own
    /// hash must match its entry
    #[arg(long, value_name = "FILE")]
    pub sums: Option<PathBuf>,
}

/// The automation contract's shape: exactly these members, in this order.
#[derive(Serialize)]
struct JsonReport<'a> {
    passed: bool,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    name: &'a str,
    passed: bool,
    detail: &'a str,
}

pub fn run(args: &PreflightArgs) -> ExitCode {
    // The checks of core dumps and memory locking read back what the hardening did.
    preflight::harden();
    let checks = preflight::station_checks(&Options {
        sums: args.sums.clone(),
    });
    let passed = checks.iter().all(|c| c.passed);
    if args.json {
        let report = JsonReport {
            passed,
            checks: checks
                .iter()
                .map(|c| JsonCheck {
                    name: &c.name,
                    passed: c.passed,
                    detail: &c.detail,
                })
                .collect(),
        };
        match serde_json::to_string_pretty(&report) {
            Ok(text) => crate::say!("{text}"),
            Err(e) => {
                crate::tell!("error: the report could not be written as JSON: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print_text(&checks, passed);
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// For the people at the station: each check, then the tool's hash and the time to confirm.
fn print_text(checks: &[Check], passed: bool) {
    crate::say!("Preflight of this workstation");
    for c in checks {
        let mark = match (c.passed, c.is_warning()) {
            (false, _) => "FAIL",
            (true, true) => "WARN",
            (true, false) => "PASS",
        };
        crate::say!("  [{mark}] {}: {}", c.name, c.detail);
    }
    crate::say!();
    match preflight::binary::own_sha256() {
        Ok(hash) => {
            crate::say!("Tool SHA-256:       {}", hex_groups(&hex::encode(hash)));
            crate::say!("Tool SHA-256 words: {}", pgp_words_for(&hash).join(" "));
        }
        Err(e) => crate::say!("Tool SHA-256:       unknown ({e})"),
    }
    crate::say!(
        "UTC time:           {} (the custodians confirm it)",
        preflight::clock::utc_now()
    );
    crate::say!();
    if passed {
        crate::say!("PASSED: every check passed.");
    } else {
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        crate::say!(
            "FAILED: {}. Fix them and run the preflight again; a production ceremony goes on past a failed check only under a deviation the administrator records at attendance and the witness acknowledges.",
            failed.join(", ")
        );
    }
}

/// "ab12 cd34 ..." for reading aloud.
fn hex_groups(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
