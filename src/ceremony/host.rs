//! Facts about the workstation for the genesis entry: which tool runs, on which host and system.
//! (The station's checks, the air gap among them, are `crate::preflight`.)

/// SHA-256 of the running binary, so the log pins exactly which tool ran.
pub fn binary_sha256() -> String {
    crate::preflight::binary::own_sha256().map_or_else(|_| "unknown".into(), hex::encode)
}

/// The workstation clock, in seconds since 1970 (for the clouds' validity windows).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
