//! Memory: no swap that could write secrets to a disk in clear (swap off, on dm-crypt, or on
//! zram, which is memory), no core dump of this process (not dumpable, RLIMIT_CORE 0), and its
//! memory locked in RAM (what `harden` did, read back from /proc/self/status).
use std::path::PathBuf;

use crate::ceremony::machine::Check;

pub const SWAP: &str = "swap";
pub const CORE_DUMPS: &str = "core dumps";
pub const MEMORY_LOCKING: &str = "memory locking";

/// One line of /proc/swaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    pub path: String,
    pub kind: String,
}

/// The swap areas in use. Refuses a text that does not look like /proc/swaps.
pub fn parse_swaps(text: &str) -> Result<Vec<SwapArea>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    if header.first() != Some(&"Filename") || header.get(1) != Some(&"Type") {
        return Err("/proc/swaps does not have the kernel's header".into());
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // The path comes first; the kernel escapes spaces in it as \040.
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [path, kind, _size, _used, _prio] => Ok(SwapArea {
                    path: (*path).to_owned(),
                    kind: (*kind).to_owned(),
                }),
                _ => Err(format!("/proc/swaps line \"{l}\" is not a swap area")),
            }
        })
        .collect()
}

/// How a swap area keeps what is written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapKind {
    /// dm-crypt underneath (directly, or under LVM): encrypted on the disk.
    Encrypted,
    /// zram: compressed memory, never a disk.
    Memory,
    /// A plain partition, or a file (whose filesystem's encryption is not checked): secrets
    /// could reach the disk in clear.
    Clear,
}

/// Judges a swap area; `dm_uuid` gives the device-mapper UUID of a `dm-N` device and
/// `dm_slaves` the devices under it (sysfs on the real system).
pub fn swap_kind(
    area: &SwapArea,
    resolve: &dyn Fn(&str) -> Option<String>,
    dm_uuid: &dyn Fn(&str) -> Option<String>,
    dm_slaves: &dyn Fn(&str) -> Vec<String>,
) -> SwapKind {
    if area.kind != "partition" {
        return SwapKind::Clear;
    }
    let Some(dev) = resolve(&area.path) else {
        return SwapKind::Clear;
    };
    if dev.starts_with("zram") {
        return SwapKind::Memory;
    }
    if encrypted(&dev, dm_uuid, dm_slaves, 0) {
        SwapKind::Encrypted
    } else {
        SwapKind::Clear
    }
}

/// A dm device is encrypted when it is a dm-crypt target ("CRYPT-..." UUID) or every device
/// under it is.
fn encrypted(
    dev: &str,
    dm_uuid: &dyn Fn(&str) -> Option<String>,
    dm_slaves: &dyn Fn(&str) -> Vec<String>,
    depth: usize,
) -> bool {
    if depth > 8 || !dev.starts_with("dm-") {
        return false;
    }
    if dm_uuid(dev).is_some_and(|u| u.starts_with("CRYPT-")) {
        return true;
    }
    let under = dm_slaves(dev);
    !under.is_empty()
        && under
            .iter()
            .all(|d| encrypted(d, dm_uuid, dm_slaves, depth + 1))
}

pub fn swap_check() -> Check {
    let text = match std::fs::read_to_string("/proc/swaps") {
        Ok(t) => t,
        Err(e) => {
            return super::check(
                SWAP,
                false,
                format!(
                    "cannot read /proc/swaps ({e}): whether memory can reach a disk is unknown; run the tool with /proc mounted"
                ),
            );
        }
    };
    let areas = match parse_swaps(&text) {
        Ok(a) => a,
        Err(e) => return super::check(SWAP, false, e),
    };
    let resolve = |path: &str| -> Option<String> {
        let real = std::fs::canonicalize(unescape(path)).ok()?;
        Some(real.file_name()?.to_string_lossy().into_owned())
    };
    let sys = |dev: &str| PathBuf::from("/sys/block").join(dev);
    let dm_uuid = |dev: &str| std::fs::read_to_string(sys(dev).join("dm/uuid")).ok();
    let dm_slaves = |dev: &str| -> Vec<String> {
        std::fs::read_dir(sys(dev).join("slaves"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    judge_swap(&areas, &|a| swap_kind(a, &resolve, &dm_uuid, &dm_slaves))
}

fn judge_swap(areas: &[SwapArea], kind: &dyn Fn(&SwapArea) -> SwapKind) -> Check {
    if areas.is_empty() {
        return super::check(SWAP, true, "no swap in use".into());
    }
    let (clear, safe): (Vec<&SwapArea>, Vec<&SwapArea>) =
        areas.iter().partition(|a| kind(a) == SwapKind::Clear);
    let names = |v: &[&SwapArea]| {
        v.iter()
            .map(|a| a.path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if clear.is_empty() {
        super::check(
            SWAP,
            true,
            format!(
                "swap only on encrypted or in-memory devices: {}",
                names(&safe)
            ),
        )
    } else {
        super::check(
            SWAP,
            false,
            format!(
                "swap not known to be encrypted on {}: secrets could be written to a disk in clear; turn it off (`swapoff -a`) and run the preflight again",
                names(&clear)
            ),
        )
    }
}

/// /proc/swaps escapes whitespace in paths as octal (`\040`).
fn unescape(path: &str) -> String {
    path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

pub fn core_dump_check() -> Check {
    use rustix::process::{DumpableBehavior, Resource, dumpable_behavior, getrlimit};
    let dumpable = dumpable_behavior();
    let limit = getrlimit(Resource::Core).current;
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern")
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    match (&dumpable, limit) {
        (Ok(DumpableBehavior::NotDumpable), Some(0)) => super::check(
            CORE_DUMPS,
            true,
            format!(
                "off for this process: not dumpable (PR_SET_DUMPABLE 0), RLIMIT_CORE 0 (core_pattern {pattern})"
            ),
        ),
        _ => super::check(
            CORE_DUMPS,
            false,
            format!(
                "this process could leave a core dump with secrets in it (dumpable: {}, RLIMIT_CORE: {}): the tool turns them off itself at start, so this one did not run its hardening or the kernel refused it",
                match dumpable {
                    Ok(DumpableBehavior::NotDumpable) => "no".to_owned(),
                    Ok(_) => "yes".to_owned(),
                    Err(e) => format!("unknown ({e})"),
                },
                limit.map_or("unlimited".into(), |l| l.to_string())
            ),
        ),
    }
}

/// The kB of memory locked, from a /proc/PID/status text.
pub fn vm_lck_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn lock_check() -> Check {
    let locked = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status ({e})"))
        .and_then(|s| vm_lck_kb(&s).ok_or_else(|| "/proc/self/status has no VmLck".into()));
    let why_not = match super::hardening().map(|h| &h.lock) {
        Some(super::Lock::All) => None,
        Some(super::Lock::NotLocked(why)) => Some(why.clone()),
        None => Some("the process did not try to lock its memory".into()),
    };
    match (locked, why_not) {
        (Ok(kb), None) if kb > 0 => super::check(
            MEMORY_LOCKING,
            true,
            format!(
                "all of this process's memory is locked in RAM (mlockall, VmLck {kb} kB): secrets are never swapped out"
            ),
        ),
        (Ok(kb), why) => super::check(
            MEMORY_LOCKING,
            false,
            format!(
                "memory is not locked (VmLck {kb} kB): {}",
                why.unwrap_or_else(|| {
                    "the kernel locked nothing; run the tool as root, or with `ulimit -l unlimited`"
                        .into()
                })
            ),
        ),
        (Err(e), _) => super::check(
            MEMORY_LOCKING,
            false,
            format!("{e}: whether memory is locked is unknown; run the tool with /proc mounted"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWAPS: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n\
/dev/sda3                               partition\t2097148\t\t0\t\t-3\n\
/swap\\040file                          file\t\t1048572\t\t0\t\t-4\n\
/dev/zram0                              partition\t4194300\t\t0\t\t100\n\
/dev/dm-2                               partition\t8388604\t\t0\t\t-5\n";

    fn kinds(text: &str) -> Vec<(String, SwapKind)> {
        let resolve = |p: &str| p.rsplit('/').next().map(str::to_owned);
        // dm-1 is LUKS; dm-2 is an LVM volume on dm-0, which is LUKS.
        let uuid = |d: &str| match d {
            "dm-1" => Some("CRYPT-LUKS2-0123-swap".to_owned()),
            "dm-0" => Some("CRYPT-PLAIN-root".to_owned()),
            "dm-2" => Some("LVM-abc".to_owned()),
            _ => None,
        };
        let slaves = |d: &str| match d {
            "dm-2" => vec!["dm-0".to_owned()],
            _ => vec![],
        };
        parse_swaps(text)
            .expect("parses")
            .iter()
            .map(|a| (a.path.clone(), swap_kind(a, &resolve, &uuid, &slaves)))
            .collect()
    }

    #[test]
    fn dm_crypt_and_zram_are_safe_plain_partitions_and_files_are_not() {
        assert_eq!(
            kinds(SWAPS),
            vec![
                ("/dev/dm-1".into(), SwapKind::Encrypted),
                ("/dev/sda3".into(), SwapKind::Clear),
                ("/swap\\040file".into(), SwapKind::Clear),
                ("/dev/zram0".into(), SwapKind::Memory),
                ("/dev/dm-2".into(), SwapKind::Encrypted),
            ]
        );
    }

    #[test]
    fn the_verdict_names_the_clear_areas() {
        let areas = parse_swaps(SWAPS).expect("parses");
        let c = judge_swap(&areas, &|a| {
            if a.path.contains("sda") {
                SwapKind::Clear
            } else {
                SwapKind::Encrypted
            }
        });
        assert!(!c.passed);
        assert!(c.detail.contains("/dev/sda3"), "{}", c.detail);
        assert!(!c.detail.contains("dm-1"), "{}", c.detail);
        let c = judge_swap(&areas[..1], &|_| SwapKind::Encrypted);
        assert!(c.passed, "{}", c.detail);
        let none = parse_swaps("Filename Type Size Used Priority\n").expect("empty");
        assert!(judge_swap(&none, &|_| SwapKind::Clear).passed);
    }

    #[test]
    fn not_proc_swaps_is_refused() {
        assert!(parse_swaps("").is_err());
        assert!(parse_swaps("Filename Type Size Used Priority\n/dev/sda3 partition\n").is_err());
    }

    #[test]
    fn vm_lck_is_read_from_status() {
        let status = "Name:\tbyok-ceremony\nVmLck:\t   24576 kB\nVmPin:\t0 kB\n";
        assert_eq!(vm_lck_kb(status), Some(24_576));
        assert_eq!(vm_lck_kb("Name:\tx\n"), None);
    }
}
