//! The air gap, as the kernel shows it to this process: no interface up but loopback (wired,
//! wireless, anything in /sys/class/net), no radio left unblocked (rfkill: Wi-Fi, Bluetooth,
//! WWAN), no route off the machine, and no configured DNS resolver that a route could reach.
//! Only /sys and /proc are read: no socket is opened. What cannot be read, or does not look
//! like this network namespace's view (no loopback; interfaces that /proc/net/dev does not
//! list), fails the check: a station that cannot be inspected is not known to be air-gapped.
use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::routes::{self, Route};
use crate::ceremony::machine::Check;

pub const NAME: &str = "air gap";

const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;

/// Where the kernel's view is read from: the real paths, or a test's copies.
#[derive(Debug, Clone)]
pub struct Paths {
    pub sys_class_net: PathBuf,
    pub rfkill: PathBuf,
    pub proc_net: PathBuf,
    pub resolv_conf: PathBuf,
}

impl Paths {
    pub fn system() -> Paths {
        Paths {
            sys_class_net: "/sys/class/net".into(),
            rfkill: "/sys/class/rfkill".into(),
            // /proc/net is this process's network namespace (a link to /proc/self/net).
            proc_net: "/proc/net".into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    }
}

/// What was found: ways off the machine, and what could not be inspected.
#[derive(Debug, Default)]
struct Findings {
    open: Vec<String>,
    unreadable: Vec<String>,
}

pub fn check(paths: &Paths) -> Check {
    let mut f = Findings::default();
    let mut lo_up = false;
    match interfaces(paths) {
        Ok(ifaces) => {
            for i in &ifaces {
                if i.loopback {
                    lo_up |= i.up;
                } else if i.up {
                    f.open
                        .push(format!("interface {} is up ({})", i.name, i.kind));
                }
            }
        }
        Err(e) => f.unreadable.push(e),
    }
    match radios(&paths.rfkill) {
        Ok(on) => f
            .open
            .extend(on.into_iter().map(|r| format!("radio {r} is not blocked"))),
        Err(e) => f.unreadable.push(e),
    }
    let mut off_machine: Vec<Route> = Vec::new();
    match read(&paths.proc_net.join("route")).and_then(|t| routes::parse_v4(&t)) {
        Ok(r) => off_machine.extend(r),
        Err(e) => f.unreadable.push(e),
    }
    match std::fs::read_to_string(paths.proc_net.join("ipv6_route")) {
        Ok(t) => match routes::parse_v6(&t) {
            Ok(r) => off_machine.extend(r),
            Err(e) => f.unreadable.push(e),
        },
        // The kernel has no IPv6 (built without it, or ipv6.disable=1): no IPv6 route.
        Err(e) if e.kind() == ErrorKind::NotFound && ipv6_absent(&paths.proc_net) => {}
        Err(e) => f.unreadable.push(format!(
            "cannot read {}: {e}",
            paths.proc_net.join("ipv6_route").display()
        )),
    }
    for r in off_machine.iter().filter(|r| r.is_default()) {
        f.open.push(format!("{r} route"));
    }
    let others: Vec<String> = off_machine
        .iter()
        .filter(|r| !r.is_default())
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        f.open
            .push(format!("routes off the machine: {}", shorten(&others)));
    }
    let servers = match std::fs::read_to_string(&paths.resolv_conf) {
        Ok(t) => routes::resolvers(&t).unwrap_or_else(|e| {
            f.unreadable.push(e);
            Vec::new()
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            f.unreadable
                .push(format!("cannot read {}: {e}", paths.resolv_conf.display()));
            Vec::new()
        }
    };
    for s in &servers {
        if let Some(r) = off_machine.iter().find(|r| r.covers(*s)) {
            f.open
                .push(format!("DNS resolver {s} is reachable through {}", r.iface));
        }
    }
    judge(f, servers.len(), lo_up)
}

fn judge(f: Findings, servers: usize, lo_up: bool) -> Check {
    if !f.unreadable.is_empty() {
        let mut detail = format!(
            "cannot be checked: {}; the station is not known to be disconnected: run the tool where it sees the kernel's own /sys and /proc (in a network namespace, remount /sys inside it)",
            f.unreadable.join("; ")
        );
        if !f.open.is_empty() {
            detail = format!("{}; {detail}", f.open.join("; "));
        }
        return super::check(NAME, false, detail);
    }
    if !f.open.is_empty() {
        return super::check(
            NAME,
            false,
            format!(
                "{}: disconnect the station (unplug the cable, `ip link set DEV down`, `rfkill block all`, remove the default route) and run the preflight again",
                f.open.join("; ")
            ),
        );
    }
    super::check(
        NAME,
        true,
        format!(
            "no interface up but loopback{}, no radio unblocked, no route off the machine, {}",
            if lo_up { "" } else { " (down too)" },
            match servers {
                0 => "no DNS resolver configured".to_owned(),
                n => format!("none of the {n} configured DNS resolver(s) reachable"),
            }
        ),
    )
}

/// The first few of a long list.
fn shorten(items: &[String]) -> String {
    const SHOWN: usize = 4;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// No IPv6 at all in this kernel: /proc/net has no if_inet6 either.
fn ipv6_absent(proc_net: &Path) -> bool {
    matches!(
        std::fs::metadata(proc_net.join("if_inet6")),
        Err(e) if e.kind() == ErrorKind::NotFound
    ) && proc_net.join("route").is_file()
}

#[derive(Debug)]
struct Interface {
    name: String,
    up: bool,
    loopback: bool,
    kind: &'static str,
}

/// The interfaces of /sys/class/net, checked against /proc/net/dev: both must be this network
/// namespace's view (sysfs shows the namespace of whoever mounted it).
fn interfaces(paths: &Paths) -> Result<Vec<Interface>, String> {
    let dir = &paths.sys_class_net;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        // Interfaces are links to their devices; a plain file here is the bonding driver's
        // control file (bonding_masters), not an interface (/proc/net/dev is compared below,
        // so no interface goes unseen).
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let flags = read(&path.join("flags")).and_then(|t| {
            let t = t.trim();
            u32::from_str_radix(t.trim_start_matches("0x"), 16)
                .map_err(|_| format!("{}/flags reads \"{t}\"", path.display()))
        })?;
        let kind = if path.join("wireless").exists() || path.join("phy80211").exists() {
            "wireless"
        } else if path.join("device").exists() {
            "hardware"
        } else {
            "virtual"
        };
        found.push(Interface {
            loopback: flags & IFF_LOOPBACK != 0 && name == "lo",
            up: flags & IFF_UP != 0,
            name,
            kind,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if !found.iter().any(|i| i.loopback) {
        return Err(format!(
            "{} has no loopback interface, so it is not the kernel's view of this network namespace",
            dir.display()
        ));
    }
    let dev = read(&paths.proc_net.join("dev"))?;
    if !dev.starts_with("Inter-|") {
        return Err(format!(
            "{} does not have the kernel's header",
            paths.proc_net.join("dev").display()
        ));
    }
    let listed: BTreeSet<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim()))
        .collect();
    let seen: BTreeSet<&str> = found.iter().map(|i| i.name.as_str()).collect();
    if listed != seen {
        return Err(format!(
            "{} lists {} but this process's network namespace has {} (/proc/net/dev): sysfs belongs to another namespace",
            dir.display(),
            seen.iter().copied().collect::<Vec<_>>().join(", "),
            listed.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(found)
}

/// Radios whose rfkill switch is not blocked ("rfkill0 (bluetooth hci0)"). No rfkill class at
/// all means no radio with a kill switch: nothing to block.
fn radios(dir: &Path) -> Result<Vec<String>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let mut on = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        // rfkill "state": 0 soft-blocked, 1 unblocked, 2 hard-blocked.
        let state = read(&path.join("state"))?;
        if state.trim() == "1" {
            let kind = read(&path.join("type")).unwrap_or_else(|_| "radio".into());
            let name = read(&path.join("name")).unwrap_or_default();
            on.push(format!(
                "{} ({} {})",
                path.file_name().unwrap_or_default().to_string_lossy(),
                kind.trim(),
                name.trim()
            ));
        }
    }
    on.sort();
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the kernel's view in a directory, for the rules only; the real namespaces are
    /// tested in tests/preflight_cli.rs.
    struct Fake(tempfile::TempDir);

    impl Fake {
        fn new() -> Fake {
            let f = Fake(tempfile::tempdir().expect("tmp"));
            for d in ["net", "proc"] {
                std::fs::create_dir(f.0.path().join(d)).expect("dir");
            }
            f.write("proc/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
            f.write("proc/ipv6_route", "");
            f
        }
        fn write(&self, rel: &str, text: &str) {
            let p = self.0.path().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(p, text).expect("write");
        }
        fn iface(&self, name: &str, flags: &str) {
            self.write(&format!("net/{name}/flags"), flags);
        }
        fn dev(&self, names: &[&str]) {
            let mut t = "Inter-|   Receive\n face |bytes\n".to_owned();
            for n in names {
                t.push_str(&format!("{n:>6}: 0 0 0\n"));
            }
            self.write("proc/dev", &t);
        }
        fn paths(&self) -> Paths {
            Paths {
                sys_class_net: self.0.path().join("net"),
                rfkill: self.0.path().join("rfkill"),
                proc_net: self.0.path().join("proc"),
                resolv_conf: self.0.path().join("resolv.conf"),
            }
        }
    }

    #[test]
    fn loopback_only_passes_and_an_up_interface_fails() {
        let f = Fake::new();
        f.iface("lo", "0x9\n");
        f.iface("eth1", "0x1002\n");
        f.write("net/bonding_masters", "\n");
        f.dev(&["lo", "eth1"]);
        f.write("resolv.conf", "nameserver 10.0.0.53\n");
        let c = check(&f.paths());
        assert!(c.passed, "{}", c.detail);
        f.iface("eth1", "0x1003\n");
        let c = check(&f.paths());
        assert!(!c.passed);
        assert!(c.detail.contains("interface eth1 is up"), "{}", c.detail);
    }

    #[test]
    fn an_unblocked_radio_fails() {
        let f = Fake::new();
        f.iface("lo", "0x9\n");
        f.dev(&["lo"]);
        f.write("rfkill/rfkill0/state", "1\n");
        f.write("rfkill/rfkill0/type", "bluetooth\n");
        f.write("rfkill/rfkill0/name", "hci0\n");
        f.write("rfkill/rfkill1/state", "0\n");
        let c = check(&f.paths());
        assert!(!c.passed);
        assert!(
            c.detail.contains("radio rfkill0 (bluetooth hci0)"),
            "{}",
            c.detail
        );
        assert!(!c.detail.contains("rfkill1"), "{}", c.detail);
    }

    #[test]
    fn no_loopback_or_a_foreign_sysfs_or_an_unreadable_proc_fails_closed() {
        let f = Fake::new();
        f.dev(&["lo"]);
        let c = check(&f.paths());
        assert!(!c.passed);
        assert!(c.detail.contains("no loopback"), "{}", c.detail);
        f.iface("lo", "0x9\n");
        f.dev(&["lo", "eth0"]);
        let c = check(&f.paths());
        assert!(!c.passed);
        assert!(c.detail.contains("another namespace"), "{}", c.detail);
        f.dev(&["lo"]);
        std::fs::remove_file(f.0.path().join("proc/route")).expect("rm");
        let c = check(&f.paths());
        assert!(!c.passed);
        assert!(c.detail.contains("cannot be checked"), "{}", c.detail);
    }
}
