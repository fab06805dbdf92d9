//! `byok-ceremony preflight` against real conditions: a disconnected machine (a network
//! namespace of its own, /sys remounted inside it so that /sys/class/net is that namespace's),
//! this connected machine as it is, and a /sys/class/net that is empty or cannot be read (the
//! check fails closed). Also the SHA256SUMS comparison, and memory locking refused to a user
//! without the right to lock. Needs root and util-linux's `unshare` (as CI has); without them
//! each test says why and does nothing.
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_byok-ceremony");

/// Root and a working `unshare -m`, or why not.
fn namespaces_unavailable() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root: network and mount namespaces need it".into());
    }
    match Command::new("unshare").args(["-nm", "true"]).status() {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("`unshare -nm true` failed ({s})")),
        Err(e) => Some(format!("`unshare` cannot run ({e})")),
    }
}

macro_rules! needs_namespaces {
    () => {
        if let Some(why) = namespaces_unavailable() {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// `sh -c SETUP; exec byok-ceremony preflight --json ARGS` under `unshare FLAGS`.
fn preflight_in(flags: &str, setup: &str, args: &[&str]) -> Output {
    let out = Command::new("unshare")
        .arg(flags)
        .args([
            "sh",
            "-c",
            &format!("{setup} && exec \"$0\" preflight --json \"$@\""),
        ])
        .arg(BIN)
        .args(args)
        .output()
        .expect("unshare runs");
    show(out)
}

fn preflight(args: &[&str]) -> Output {
    show(
        Command::new(BIN)
            .arg("preflight")
            .args(args)
            .output()
            .expect("the binary runs"),
    )
}

fn show(out: Output) -> Output {
    eprintln!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON report, held to the automation contract: `passed` and `checks`, each check exactly
/// `name`, `passed` and `detail`; `passed` is true exactly when every check passed.
fn report(out: &Output) -> Value {
    let v: Value = serde_json::from_slice(&out.stdout).expect("preflight --json prints JSON");
    let mut top: Vec<&String> = v.as_object().expect("an object").keys().collect();
    top.sort();
    assert_eq!(top, ["checks", "passed"], "members of the report");
    let checks = v["checks"].as_array().expect("checks");
    for c in checks {
        let mut keys: Vec<&String> = c.as_object().expect("a check").keys().collect();
        keys.sort();
        assert_eq!(keys, ["detail", "name", "passed"], "members of {c}");
    }
    let all = checks.iter().all(|c| c["passed"] == true);
    assert_eq!(v["passed"], all, "passed is the conjunction of the checks");
    assert_eq!(
        out.status.code(),
        Some(if all { 0 } else { 1 }),
        "exit code"
    );
    v
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {v}"))
}

fn detail(c: &Value) -> &str {
    c["detail"].as_str().expect("detail")
}

#[test]
fn a_disconnected_namespace_passes_the_air_gap_and_every_check() {
    needs_namespaces!();
    let out = preflight_in("-nm", "mount -t sysfs sysfs /sys", &[]);
    let v = report(&out);
    let gap = check(&v, "air gap");
    assert_eq!(gap["passed"], true, "{gap}");
    assert!(detail(gap).contains("no route off the machine"), "{gap}");
    // Nothing else on this machine fails either (no swap, root may lock memory): exit 0.
    assert_eq!(v["passed"], true, "{v}");
    assert!(out.status.success());
    for name in [
        "swap",
        "core dumps",
        "memory locking",
        "tool binary",
        "read-only medium",
        "clock",
    ] {
        assert_eq!(check(&v, name)["passed"], true, "{name}");
    }
    assert!(detail(check(&v, "memory locking")).contains("VmLck"));
}

/// The interface of this machine's default route, and the route, from /proc/net/route.
fn default_route() -> Option<String> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 7 && f[1] == "00000000" && f[7] == "00000000" && f[0] != "lo")
        .map(|f| f[0].to_owned())
}

#[test]
fn this_connected_machine_fails_the_air_gap_naming_the_interface_and_the_route() {
    let Some(iface) = default_route() else {
        eprintln!("SKIPPED: this machine has no default route, so it is not a connected one");
        return;
    };
    let out = preflight(&["--json"]);
    let v = report(&out);
    assert_eq!(v["passed"], false);
    assert_eq!(out.status.code(), Some(1));
    let gap = check(&v, "air gap");
    assert_eq!(gap["passed"], false);
    let d = detail(gap);
    assert!(d.contains(&format!("interface {iface} is up")), "{d}");
    assert!(
        d.contains("default IPv4 via") && d.contains(&format!("dev {iface} route")),
        "{d}"
    );
    assert!(d.contains("disconnect the station"), "{d}");

    // The text report says the same for the people at the station, with the hash and the time.
    let out = preflight(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[FAIL] air gap: "), "{text}");
    assert!(text.contains("Tool SHA-256 words: "), "{text}");
    assert!(text.contains("UTC time: "), "{text}");
    assert!(text.contains("FAILED: air gap"), "{text}");
}

/// The air gap failed, and nothing else, with no route named: the namespace is disconnected,
/// so the failure is the view's alone.
fn only_the_air_gap_failed(v: &Value) {
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| &c["name"])
        .collect();
    assert_eq!(failed, ["air gap"], "{v}");
    let gap = detail(check(v, "air gap"));
    assert!(!gap.contains("route"), "{gap}");
}

#[test]
fn an_empty_sys_class_net_fails_closed() {
    needs_namespaces!();
    // In a disconnected namespace, so that the view is the only thing wrong.
    let v = report(&preflight_in(
        "-nm",
        "mount -t sysfs sysfs /sys && mount -t tmpfs empty /sys/class/net",
        &[],
    ));
    only_the_air_gap_failed(&v);
    let gap = check(&v, "air gap");
    assert_eq!(gap["passed"], false);
    assert!(detail(gap).contains("no loopback interface"), "{gap}");
    assert!(
        detail(gap).contains("not known to be disconnected"),
        "{gap}"
    );
}

#[test]
fn a_sys_class_net_that_cannot_be_read_fails_closed() {
    needs_namespaces!();
    // Root reads any directory, whatever its mode: /sys/class/net is replaced by a plain file,
    // which no one can list.
    let v = report(&preflight_in(
        "-nm",
        "mount -t sysfs sysfs /sys && mount -t tmpfs class /sys/class && : > /sys/class/net",
        &[],
    ));
    only_the_air_gap_failed(&v);
    let gap = check(&v, "air gap");
    assert_eq!(gap["passed"], false);
    assert!(detail(gap).contains("cannot read /sys/class/net"), "{gap}");
    // In a disconnected namespace whose /sys is not its own (not remounted), sysfs shows the
    // host's interfaces, which /proc/net/dev does not list: that fails closed too.
    if default_route().is_some() {
        let v = report(&preflight_in("-nm", "true", &[]));
        let gap = check(&v, "air gap");
        assert_eq!(gap["passed"], false);
        assert!(detail(gap).contains("another namespace"), "{gap}");
    }
}

fn own_hash() -> String {
    hex::encode(Sha256::digest(std::fs::read(BIN).expect("the binary")))
}

fn sums_file(dir: &Path, text: &str) -> String {
    let path = dir.join("SHA256SUMS");
    std::fs::write(&path, text).expect("sums");
    path.display().to_string()
}

#[test]
fn the_tool_hash_is_compared_with_a_sha256sums_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let ours = own_hash();
    let binary = |args: &[&str]| {
        let out = preflight(&[&["--json"][..], args].concat());
        check(&report(&out), "tool binary").clone()
    };

    let plain = binary(&[]);
    assert_eq!(plain["passed"], true);
    assert!(detail(&plain).contains(&ours), "{plain}");
    assert!(detail(&plain).contains("no SHA256SUMS given"), "{plain}");

    let good = sums_file(
        dir.path(),
        &format!("{}  byok-upload\n{ours}  byok-ceremony\n", "0".repeat(64)),
    );
    let c = binary(&["--sums", &good]);
    assert_eq!(c["passed"], true, "{c}");
    assert!(detail(&c).contains("matches"), "{c}");

    let wrong = sums_file(dir.path(), &format!("{}  byok-ceremony\n", "ab".repeat(32)));
    let c = binary(&["--sums", &wrong]);
    assert_eq!(c["passed"], false, "{c}");
    assert!(detail(&c).contains("not this binary's hash"), "{c}");
    assert!(
        detail(&c).contains("do not run the ceremony with this binary"),
        "{c}"
    );

    let missing = sums_file(dir.path(), &format!("{ours}  byok-upload\n"));
    let c = binary(&["--sums", &missing]);
    assert_eq!(c["passed"], false, "{c}");
    assert!(detail(&c).contains("lists no byok-ceremony"), "{c}");

    let absent = dir.path().join("nowhere/SHA256SUMS").display().to_string();
    let c = binary(&["--sums", &absent]);
    assert_eq!(c["passed"], false, "{c}");
    assert!(detail(&c).contains("cannot read"), "{c}");
}

#[test]
fn memory_locking_refused_to_an_unprivileged_user_fails_and_says_why() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: not root: the test switches to an unprivileged user");
        return;
    }
    // A copy the unprivileged user may run, outside the (maybe private) build directory.
    let dir = tempfile::tempdir().expect("tmp");
    let bin = dir.path().join("byok-ceremony");
    std::fs::copy(BIN, &bin).expect("copy");
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).expect("chmod")
    };
    mode(dir.path(), 0o755);
    mode(&bin, 0o755);
    let out = show(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .args(["sh", "-c", "ulimit -l 64 && exec \"$0\" preflight --json"])
            .arg(&bin)
            .current_dir(dir.path())
            .output()
            .expect("setpriv runs"),
    );
    let v = report(&out);
    let lock = check(&v, "memory locking");
    assert_eq!(lock["passed"], false, "{lock}");
    assert!(detail(lock).contains("RLIMIT_MEMLOCK is 64 kB"), "{lock}");
    assert!(detail(lock).contains("ulimit -l unlimited"), "{lock}");
    // Core dumps are off for an unprivileged process too, and the hardening said so on stderr.
    assert_eq!(check(&v, "core dumps")["passed"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: memory is not locked in RAM"),
        "{stderr}"
    );
}

#[test]
fn help_explains_every_check() {
    let out = Command::new(BIN)
        .args(["preflight", "--help"])
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "air gap",
        "swap",
        "core dumps",
        "memory locking",
        "tool binary",
        "read-only medium",
        "clock",
        "--sums",
        "--json",
    ] {
        assert!(
            help.contains(name),
            "--help does not explain {name}:\n{help}"
        );
    }
}
