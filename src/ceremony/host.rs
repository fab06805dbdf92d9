//! Facts about the workstation for the genesis entry and the preflight: who runs, where, and
//! whether the machine is really disconnected.
use std::path::Path;

use super::machine::Check;

/// SHA-256 of the running binary, so the log pins exactly which tool ran.
pub fn binary_sha256() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| crate::media::atomic::sha256_file(&p).ok())
        .map_or_else(|| "unknown".into(), hex::encode)
}

pub fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into())
}

/// Kernel release and distribution, e.g. "Linux 6.1.0 (Debian GNU/Linux 12 (bookworm))".
pub fn os_description() -> String {
    let kernel = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "?".into());
    let distro = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown distribution".into());
    format!("{} {kernel} ({distro})", std::env::consts::OS)
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Air-gap check: every network interface but loopback must be down. A rehearsal only warns.
pub fn network_check(rehearsal: bool) -> Check {
    let up = interfaces_up(Path::new("/sys/class/net"));
    let passed = up.is_empty() || rehearsal;
    let detail = if up.is_empty() {
        "no network interface is up (loopback aside)".into()
    } else if rehearsal {
        format!(
            "warning: interfaces up: {} (allowed for a rehearsal; a production ceremony refuses)",
            up.join(", ")
        )
    } else {
        format!(
            "interfaces up: {}; disconnect the workstation (unplug, or `ip link set DEV down`) and start again",
            up.join(", ")
        )
    };
    Check {
        name: "air gap".into(),
        passed,
        detail,
    }
}

fn interfaces_up(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut up: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let state = std::fs::read_to_string(e.path().join("operstate")).ok()?;
            (name != "lo" && matches!(state.trim(), "up" | "unknown")).then_some(name)
        })
        .collect();
    up.sort();
    up
}
