//! Provisioning never leaves a token whose PINs nobody holds (issue 13, item 2): the room for
//! every share file and the record is taken on the output medium, and a fresh token's share
//! files are written and read back, before the token is touched, so a full medium or a name already taken stops provisioning with the token
//! unchanged and nothing left in the output directory; and a run after the fix succeeds
//! (the token's label was never taken).
mod common;
mod share_room;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use byok_ceremony::quorum::share::PinGroup;
use byok_ceremony::quorum::share_file::share_in;
use byok_ceremony::quorum::split::combine_pin;

struct Bench {
    dir: tempfile::TempDir,
    conf: PathBuf,
    script: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        Bench::on(&common::native_module())
    }

    /// A bench whose provisioning script names `module` (the shim, for fault injection).
    fn on(module: &Path) -> Bench {
        let (dir, conf) = share_room::token_dir("provision-faults-", &[]);
        let script = dir.path().join("provision.toml");
        std::fs::write(
            &script,
            format!(
                "format = \"byok-ceremony provisioning script\"\nversion = 1\n\n[token]\nmodule = \"{}\"\nmode = \"initialise\"\nlabel = \"faults\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n",
                module.display()
            ),
        )
        .expect("script");
        Bench { dir, conf, script }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn provision(&self, out: &Path) -> Output {
        self.provision_with(out, &[])
    }

    fn provision_with(&self, out: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
            .env("SOFTHSM2_CONF", &self.conf)
            .envs(env.iter().copied())
            .arg("provision")
            .arg(&self.script)
            .args(["--headless", "--out"])
            .arg(out)
            .output()
            .expect("the binary runs")
    }

    /// Provisioning onto a 64 KiB tmpfs (too small for three share files and the record),
    /// mounted in a private mount namespace; returns the run and what the medium held after.
    fn provision_onto_small_medium(&self, out: &Path) -> (Output, String) {
        let run = Command::new("unshare")
            .args(["-rm", "sh", "-c"])
            .arg(
                "mount -t tmpfs -o size=64k tmpfs \"$1\" || exit 99; \"$2\" provision \"$3\" --headless --out \"$1\"; rc=$?; echo LEFT:; ls -A \"$1\"; exit $rc",
            )
            .arg("sh")
            .arg(out)
            .arg(env!("CARGO_BIN_EXE_byok-ceremony"))
            .arg(&self.script)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("unshare runs");
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        let left = stdout
            .split("LEFT:")
            .nth(1)
            .unwrap_or("?")
            .trim()
            .to_owned();
        (run, left)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_full_medium_stops_provisioning_before_the_token_changes() {
    let bench = Bench::new();
    let small = bench.path("small-medium");
    std::fs::create_dir(&small).expect("mount point");
    let (run, left) = bench.provision_onto_small_medium(&small);
    assert_ne!(run.status.code(), Some(99), "could not mount a tmpfs");
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.contains("cannot take the share files and the record"),
        "{err}"
    );
    assert!(err.contains("the token was NOT changed"), "{err}");
    assert_eq!(left, "", "nothing is left on the medium");

    // A dangling link where a share file goes: refused before the token changes too.
    let out = bench.path("out");
    std::fs::create_dir(&out).expect("out");
    std::os::unix::fs::symlink(bench.path("nowhere"), out.join("dave.share.txt")).expect("link");
    let run = bench.provision(&out);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("already exists"), "{}", stderr(&run));
    assert!(!bench.path("nowhere").exists());
    let names: Vec<_> = std::fs::read_dir(&out)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["dave.share.txt"], "nothing else was written");

    // With a medium that has room, the same script succeeds: the label was never taken, so
    // the token was never initialised by the failed runs.
    std::fs::remove_file(out.join("dave.share.txt")).expect("remove link");
    let run = bench.provision(&out);
    assert!(run.status.success(), "{}", stderr(&run));
    for name in ["carol", "dave", "erin"] {
        assert!(out.join(format!("{name}.share.txt")).is_file());
    }
}

/// True when the bench's token label is still free: the same script, run again without a
/// fault, provisions (it fails with "already exists" when an earlier run initialised it).
fn label_is_free(bench: &Bench, out: &Path) -> bool {
    std::fs::create_dir_all(out).expect("check dir");
    let run = bench.provision_with(
        out,
        &[("P11SHIM_MODULE", common::native_module().as_os_str())],
    );
    if !run.status.success() {
        assert!(
            stderr(&run).contains("already exists"),
            "the check run failed otherwise: {}",
            stderr(&run)
        );
    }
    run.status.success()
}

/// True when the PIN of `group` rebuilt from carol's and dave's share files in `out` logs in to
/// the bench's token (pkcs11-tool, an independent PKCS#11 client, on the real module).
fn shares_log_in(bench: &Bench, out: &Path, group: PinGroup) -> bool {
    let shares: Vec<_> = ["carol", "dave"]
        .iter()
        .map(|c| {
            let text = std::fs::read_to_string(out.join(format!("{c}.share.txt"))).expect("share");
            share_in(&text, group).expect("a share")
        })
        .collect();
    let pin = combine_pin(&shares).expect("the shares rebuild a PIN");
    let mut c = Command::new("pkcs11-tool");
    c.arg("--module")
        .arg(common::native_module())
        .args(["--token-label", "faults", "--login"])
        .env("SOFTHSM2_CONF", &bench.conf);
    if group == PinGroup::SoPin {
        c.args(["--session-rw", "--login-type", "so", "--so-pin"]);
    } else {
        c.arg("--pin");
    }
    let run = c
        .arg(pin.text().as_str())
        .arg("--list-objects")
        .output()
        .expect("pkcs11-tool (package opensc) runs");
    if !run.status.success() {
        eprintln!(
            "pkcs11-tool {group:?}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    run.status.success()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Issue 13, fault injection: each PKCS#11 call of a whole provisioning fails in turn (the
/// shim in front of SoftHSM2 2.7.0 returns CKR_DEVICE_ERROR at call k). After every fault the
/// person saw a clear error; when the token did not change, nothing partial is in the output
/// directory and the token's label is still free; when it did, the message says so and how,
/// and what it says is true.
#[test]
fn every_pkcs11_call_of_provisioning_fails_in_turn_and_nothing_is_lost() {
    let shim = common::shim_module();
    let real = common::native_module();
    // One clean run through the shim, traced: the call sites in order.
    let bench = Bench::on(&shim);
    let trace = bench.path("trace.txt");
    let out = bench.path("clean");
    std::fs::create_dir(&out).expect("out");
    let run = bench.provision_with(
        &out,
        &[
            ("P11SHIM_MODULE", real.as_os_str()),
            ("P11SHIM_TRACE", trace.as_os_str()),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let sites: Vec<String> = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .map(|l| l.split_once(' ').expect("n name").1.to_owned())
        .collect();
    assert!(sites.len() > 20, "{sites:?}");

    let mut counts: std::collections::BTreeMap<String, (usize, usize, usize)> =
        std::collections::BTreeMap::new();
    for (k, site) in sites.iter().enumerate() {
        let bench = Bench::on(&shim);
        let out = bench.path("out");
        std::fs::create_dir(&out).expect("out");
        let fail_at = (k + 1).to_string();
        let run = bench.provision_with(
            &out,
            &[
                ("P11SHIM_MODULE", real.as_os_str()),
                ("P11SHIM_FAIL_AT", fail_at.as_ref()),
                ("P11SHIM_FAIL_RV", "0x30".as_ref()),
            ],
        );
        let entry = counts.entry(site.clone()).or_default();
        let err = stderr(&run);
        let files = files_in(&out);
        if run.status.success() {
            // A call whose failure the tool tolerates (a logout at the end, say).
            entry.0 += 1;
            continue;
        }
        assert!(
            err.contains("error: "),
            "call {k} {site}: no clear error: {err}"
        );
        assert!(
            !files.iter().any(|f| f.starts_with(".byok-partial-")),
            "call {k} {site}: a partial file was left: {files:?}"
        );
        if err.contains("THE TOKEN WAS CHANGED") {
            entry.2 += 1;
            // A fresh token is never left with PINs nobody holds: every share was written
            // before it was touched, and the shares really unlock it, as user and as SO.
            assert!(
                !err.contains("nobody holds"),
                "call {k} {site}: a token nobody can use: {err}"
            );
            assert!(
                err.contains("initialised by this run with the PINs split in the share files")
                    || err.contains("its SO PIN is the one split in the share files"),
                "call {k} {site}: the message does not say how the token changed: {err}"
            );
            for name in ["carol", "dave", "erin"] {
                assert!(
                    files.contains(&format!("{name}.share.txt")),
                    "call {k} {site}: said the shares hold the PINs, but {name}'s file is missing: {files:?}"
                );
            }
            let groups: &[PinGroup] = if err.contains("its user PIN was not set") {
                &[PinGroup::SoPin]
            } else {
                &[PinGroup::UserPin, PinGroup::SoPin]
            };
            for &group in groups {
                assert!(
                    shares_log_in(&bench, &out, group),
                    "call {k} {site}: the {group:?} rebuilt from the share files does not log in"
                );
            }
        } else {
            entry.1 += 1;
            assert!(
                !files
                    .iter()
                    .any(|f| f.ends_with(".share.txt") || f.contains("record")),
                "call {k} {site}: the token did not change, yet outputs were left: {files:?}\n{err}"
            );
            let check = bench.path("check");
            assert!(
                label_is_free(&bench, &check),
                "call {k} {site}: said nothing changed, but the token was initialised: {err}"
            );
        }
    }
    eprintln!(
        "provisioning: {} faults injected, one at each PKCS#11 call (tolerated / stopped unchanged / stopped with the token changed):",
        sites.len()
    );
    for (site, (ok, unchanged, changed)) in &counts {
        eprintln!("  {site}: {ok} / {unchanged} / {changed}");
    }
}

/// A fault that a retry does not clear, right after C_InitToken: the token has the split SO
/// PIN but no user PIN. The message says exactly that, and it is true: the SO-PIN shares log
/// in, the token reports no user PIN, and the share files are all there.
#[test]
fn a_user_pin_that_cannot_be_set_is_reported_with_the_so_pin_the_shares_hold() {
    let shim = common::shim_module();
    let real = common::native_module();
    let bench = Bench::on(&shim);
    let out = bench.path("out");
    std::fs::create_dir(&out).expect("out");
    let run = bench.provision_with(
        &out,
        &[
            ("P11SHIM_MODULE", real.as_os_str()),
            ("P11SHIM_FAIL_ALL", "C_InitPIN".as_ref()),
        ],
    );
    let err = stderr(&run);
    assert!(!run.status.success());
    assert!(err.contains("THE TOKEN WAS CHANGED"), "{err}");
    assert!(err.contains("its user PIN was not set"), "{err}");
    assert!(err.contains("softhsm2-util --delete-token"), "{err}");
    let files = files_in(&out);
    for name in ["carol", "dave", "erin"] {
        assert!(files.contains(&format!("{name}.share.txt")), "{files:?}");
    }
    assert!(shares_log_in(&bench, &out, PinGroup::SoPin));
    assert!(!shares_log_in(&bench, &out, PinGroup::UserPin));
}
