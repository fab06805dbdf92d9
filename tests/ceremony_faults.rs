//! Fault injection over a whole ceremony (issue 13): each PKCS#11 call of a headless run on
//! SoftHSM2 2.7.0 fails in turn (the test shim in front of the real module returns
//! CKR_DEVICE_ERROR at call k). After every fault the person saw a clear error, no partial
//! file is on the output medium, restarting with resume (or, where resume is refused, abort)
//! finishes the ceremony with a log that `audit verify` accepts, and the token holds no key
//! object that the log does not account for.
mod ceremony;
mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;

use ceremony::Room;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh room (token provisioned on the real module) whose ceremony script names the shim.
fn room_on_shim(label: &str) -> Room {
    let room = Room::new(label);
    let real = common::native_module();
    room.edit_script(
        &real.display().to_string(),
        &common::shim_module().display().to_string(),
    );
    room
}

/// The token holds exactly what the log accounts for: the audit key pair from provisioning,
/// and the target key pair when the log says it was generated and not destroyed.
fn assert_token_matches_log(room: &Room, what: &str) {
    let log =
        std::fs::read_to_string(room.path("state/test-ceremony.audit.jsonl")).unwrap_or_default();
    let generated = log.contains("\"key_generated\"");
    let destroyed = log.contains("\"key_destroyed\"");
    let objects = room.token_objects();
    let targets = objects
        .iter()
        .filter(|o| o.ends_with(" test-target"))
        .count();
    let audit = objects
        .iter()
        .filter(|o| o.ends_with(" byok-ceremony audit key"))
        .count();
    assert_eq!(audit, 2, "{what}: the audit key pair: {objects:?}");
    let expected = if generated && !destroyed { 2 } else { 0 };
    assert_eq!(
        targets, expected,
        "{what}: target key objects the log does not account for: {objects:?}"
    );
    assert_eq!(
        objects.len(),
        audit + targets,
        "{what}: objects the log does not account for: {objects:?}"
    );
}

#[test]
fn every_pkcs11_call_of_a_ceremony_fails_in_turn_and_the_ceremony_still_finishes() {
    let real = common::native_module();
    let real = real.as_os_str();
    // The call sites of a clean run, in order.
    let room = room_on_shim("faults-trace");
    let trace = room.path("trace.txt");
    let env = [
        ("P11SHIM_TRACE", trace.as_os_str()),
        ("P11SHIM_MODULE", real),
    ];
    let clean = room.run_ceremony_with(&env);
    assert!(clean.status.success(), "{}", stderr(&clean));
    let sites: Vec<String> = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .map(|l| l.split_once(' ').expect("n name").1.to_owned())
        .collect();
    assert!(sites.len() > 30, "{sites:?}");

    // tolerated, then resumed, then aborted.
    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for (k, site) in sites.iter().enumerate() {
        let room = room_on_shim(&format!("faults-{k}"));
        let fail_at = (k + 1).to_string();
        let env = [
            ("P11SHIM_FAIL_AT", OsStr::new(&fail_at)),
            ("P11SHIM_FAIL_RV", OsStr::new("0x30")),
            ("P11SHIM_MODULE", real),
        ];
        let run = room.run_ceremony_with(&env);
        let entry = counts.entry(site.as_str()).or_default();
        if run.status.success() {
            entry[0] += 1;
            assert_token_matches_log(&room, &format!("call {k} {site} (tolerated)"));
            let verify = room.audit_verify(&room.path("out-usb/test-ceremony.audit.jsonl"));
            assert!(
                verify.status.success(),
                "call {k} {site}: tolerated, but the log does not verify: {}",
                String::from_utf8_lossy(&verify.stdout)
            );
            continue;
        }
        let err = stderr(&run);
        assert!(
            err.contains("error"),
            "call {k} {site}: no clear error: {err}"
        );
        let media: Vec<String> = std::fs::read_dir(room.path("out-usb"))
            .expect("media")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !media.iter().any(|n| n.starts_with(".byok-partial-")),
            "call {k} {site}: a partial file on the medium: {media:?}"
        );
        // Restart: resume; where the tool refuses to resume, abort.
        let env = [("P11SHIM_MODULE", real)];
        room.write_answers(&["carol", "dave"], Some("resume"));
        let resumed = room.run_ceremony_with(&env);
        let finished = if resumed.status.success() {
            entry[1] += 1;
            true
        } else {
            room.write_answers(&["carol", "dave"], Some("abort"));
            let aborted = room.run_ceremony_with(&env);
            entry[2] += 1;
            // Aborted to its end: the key it made destroyed, the end signed where the HSM was
            // used; the workstation's log verifies.
            let verify = room.audit_verify(&room.path("state/test-ceremony.audit.jsonl"));
            let said = String::from_utf8_lossy(&verify.stdout).into_owned();
            assert!(
                verify.status.success(),
                "call {k} {site}: the aborted ceremony's log does not verify: {said}\n{}",
                stderr(&aborted)
            );
            said.contains("final phase: Aborted")
        };
        assert!(
            finished,
            "call {k} {site}: neither resume nor abort finished: {}",
            stderr(&resumed)
        );
        if resumed.status.success() {
            let verify = room.audit_verify(&room.path("out-usb/test-ceremony.audit.jsonl"));
            assert!(
                verify.status.success(),
                "call {k} {site}: the resumed ceremony's log does not verify: {}",
                String::from_utf8_lossy(&verify.stdout)
            );
        }
        assert_token_matches_log(&room, &format!("call {k} {site}"));
    }
    eprintln!(
        "ceremony: {} faults injected, one at each PKCS#11 call (tolerated / resumed / aborted):",
        sites.len()
    );
    for (site, [ok, resumed, aborted]) in &counts {
        eprintln!("  {site}: {ok} / {resumed} / {aborted}");
    }
}

/// Runs the headless ceremony with the output medium (`out-usb`) replaced, in a private mount
/// namespace, by a tmpfs made by `prepare` (a shell snippet on "$1", the medium's path);
/// returns the run and what the medium held after.
fn run_on_medium(room: &Room, prepare: &str) -> (std::process::Output, Vec<String>) {
    let script = format!(
        "{prepare} || exit 99; m=\"$1\"; b=\"$2\"; shift 2; \"$b\" \"$@\"; rc=$?; echo LEFT:; ls -A \"$m\"; exit $rc"
    );
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("-rm"),
        OsStr::new("sh"),
        OsStr::new("-c"),
        OsStr::new(&script),
        OsStr::new("sh"),
    ];
    let medium = room.path("out-usb");
    args.push(medium.as_os_str());
    let bin = env!("CARGO_BIN_EXE_byok-ceremony");
    args.push(OsStr::new(bin));
    args.extend(ceremony::HEADLESS_RUN.iter().map(OsStr::new));
    let out = std::process::Command::new("unshare")
        .args(&args)
        .env("SOFTHSM2_CONF", &room.conf)
        .current_dir(room.path(""))
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let left = stdout
        .split("LEFT:")
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (out, left)
}

/// Restarted with resume on the directory under the failed mount (a good medium): the ceremony
/// finishes and the log's copy there verifies.
fn resumes_onto_the_good_medium_and_verifies(room: &Room, name: &str) {
    room.write_answers(&["carol", "dave"], Some("resume"));
    let resumed = room.run_ceremony();
    assert!(resumed.status.success(), "{name}: {}", stderr(&resumed));
    let verify = room.audit_verify(&room.path("out-usb/test-ceremony.audit.jsonl"));
    assert!(
        verify.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// A medium that fills up, and one that is read-only: the run stops with a clear error, no
/// partial file is on the medium, and the ceremony resumes onto a good medium and verifies.
#[test]
fn a_full_or_read_only_medium_stops_the_run_cleanly_and_it_resumes() {
    for (name, prepare) in [
        ("full", "mount -t tmpfs -o size=12k tmpfs \"$1\""),
        (
            "read-only",
            "mount -t tmpfs -o size=1m tmpfs \"$1\" && mount -o remount,ro \"$1\"",
        ),
    ] {
        let room = Room::new(&format!("medium-{name}"));
        let (run, left) = run_on_medium(&room, prepare);
        assert_ne!(run.status.code(), Some(99), "{name}: could not mount");
        assert!(!run.status.success(), "{name}: the run succeeded");
        let err = stderr(&run);
        assert!(err.contains("error"), "{name}: {err}");
        eprintln!("{name} medium: {}", err.lines().last().unwrap_or(""));
        assert!(
            !left.iter().any(|n| n.starts_with(".byok-partial-")),
            "{name}: a partial file was left: {left:?}"
        );
        // The good medium (the directory under the mount): resume finishes and verifies.
        resumes_onto_the_good_medium_and_verifies(&room, name);
    }
}

/// Each write, fsync, fdatasync and rename on the output medium fails in turn with EIO (an
/// LD_PRELOAD library, tests/iofault): the log copy's appends and flushes, each output's
/// bytes, flush and no-clobber rename, the directory flushes. After every fault: a clear
/// error, no partial file on the medium, and resume (or abort) finishes with a log that
/// verifies.
#[test]
fn each_media_write_and_flush_fails_in_turn_and_the_ceremony_still_finishes() {
    let lib = common::iofault_library();
    let room = Room::new("io-trace");
    let medium = room.path("out-usb");
    let trace = room.path("io-trace.txt");
    let clean = room.run_ceremony_with(&[
        ("LD_PRELOAD", lib.as_os_str()),
        ("IOFAULT_DIR", medium.as_os_str()),
        ("IOFAULT_TRACE", trace.as_os_str()),
    ]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    let ops: Vec<String> = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .map(|l| l.split(' ').nth(1).expect("op").to_owned())
        .collect();
    assert!(ops.len() > 20, "{ops:?}");

    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for (k, op) in ops.iter().enumerate() {
        let room = Room::new(&format!("io-{k}"));
        let medium = room.path("out-usb");
        let fail_at = (k + 1).to_string();
        let run = room.run_ceremony_with(&[
            ("LD_PRELOAD", lib.as_os_str()),
            ("IOFAULT_DIR", medium.as_os_str()),
            ("IOFAULT_FAIL_AT", OsStr::new(&fail_at)),
        ]);
        let entry = counts.entry(op.as_str()).or_default();
        if run.status.success() {
            entry[0] += 1;
            continue;
        }
        let err = stderr(&run);
        assert!(err.contains("error"), "op {k} {op}: no clear error: {err}");
        let left: Vec<String> = std::fs::read_dir(&medium)
            .expect("medium")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !left.iter().any(|n| n.starts_with(".byok-partial-")),
            "op {k} {op}: a partial file on the medium: {left:?}"
        );
        room.write_answers(&["carol", "dave"], Some("resume"));
        let resumed = room.run_ceremony();
        // A fault as the ceremony closed: the end was signed in the workstation's log before
        // the run stopped, and the restart completes the log's copies.
        let over = stderr(&resumed).contains("already ran to its end");
        if resumed.status.success() || over {
            entry[1] += 1;
            let verify = room.audit_verify(&medium.join("test-ceremony.audit.jsonl"));
            assert!(
                verify.status.success(),
                "op {k} {op}: the resumed ceremony's log does not verify: {}",
                String::from_utf8_lossy(&verify.stdout)
            );
        } else {
            room.write_answers(&["carol", "dave"], Some("abort"));
            let aborted = room.run_ceremony();
            entry[2] += 1;
            let log = std::fs::read_to_string(room.path("state/test-ceremony.audit.jsonl"))
                .unwrap_or_default();
            assert!(
                aborted.status.success() || log.contains("\"aborted\""),
                "op {k} {op}: neither resume nor abort finished: {}",
                stderr(&resumed)
            );
        }
    }
    eprintln!(
        "media: {} faults injected, one at each write/fsync/fdatasync/rename on the output medium (tolerated / resumed / aborted):",
        ops.len()
    );
    for (op, [ok, resumed, aborted]) in &counts {
        eprintln!("  {op}: {ok} / {resumed} / {aborted}");
    }
}

/// Runs the headless ceremony with its output medium (`out-usb`) on a real block device that
/// fails every write with EIO: a loop device over a backing file, formatted ext2 and mounted in
/// a private mount namespace, whose backing file is made immutable (`chattr +i`), so the block
/// layer gets an error for each write the filesystem sends it. The device fails from the
/// start, or (`fail_after`) from the moment the run has logged that event (the run pauses
/// there, the test fails the device, the run goes on). Needs real root; None (with the reason
/// printed) where loop devices or chattr are not at hand.
fn run_on_failing_device(
    room: &Room,
    fail_after: Option<&str>,
) -> Option<(std::process::Output, Vec<String>)> {
    use std::io::{BufRead, Write};
    let img = room.path("medium.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(16 << 20))
        .expect("backing file");
    let script = r#"m="$1"; img="$2"; now="$3"; b="$4"; shift 4
L=$(losetup -f --show "$img") || exit 98
trap 'chattr -i "$img" 2>/dev/null; umount "$m" 2>/dev/null; losetup -d "$L"' EXIT
mkfs.ext2 -q -F "$L" >/dev/null 2>&1 && mount "$L" "$m" || exit 98
if [ "$now" = now ]; then chattr +i "$img" || exit 98; fi
"$b" "$@"; rc=$?
echo LEFT:; ls -A "$m"
exit $rc"#;
    let medium = room.path("out-usb");
    let mut command = std::process::Command::new("unshare");
    command
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&medium)
        .arg(&img)
        .arg(if fail_after.is_some() { "later" } else { "now" })
        .arg(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(ceremony::HEADLESS_RUN)
        .env("SOFTHSM2_CONF", &room.conf)
        .current_dir(room.path(""))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(event) = fail_after {
        command.env(byok_ceremony::ceremony::runner::PAUSE_AFTER_ENV, event);
    }
    let mut child = command.spawn().expect("unshare runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stderr_lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut err = String::new();
    if fail_after.is_some() {
        for line in stderr_lines.by_ref() {
            let line = line.expect("line");
            err.push_str(&line);
            err.push('\n');
            if line.starts_with("PAUSED") {
                let made = std::process::Command::new("chattr")
                    .arg("+i")
                    .arg(&img)
                    .status()
                    .expect("chattr runs");
                assert!(made.success(), "chattr +i failed");
                break;
            }
        }
    }
    let _ = stdin.write_all(b"\n");
    drop(stdin);
    for line in stderr_lines {
        err.push_str(&line.expect("line"));
        err.push('\n');
    }
    let mut out = child.wait_with_output().expect("the run ends");
    out.stderr = err.into_bytes();
    if out.status.code() == Some(98) {
        eprintln!(
            "SKIPPED: no loop device, ext2 or chattr here (needs real root): {}",
            stderr(&out)
        );
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let left = stdout
        .split("LEFT:")
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some((out, left))
}

/// A medium whose device returns EIO (issue 13): from its first write (the log's copy), and
/// from the export on (the device fails once the export's instruction is in the log, so
/// the .byok's write, flush and read-back meet the failing device first). The run stops with a clear error naming the medium
/// and the device's error, no partial file and no unverified .byok is left, the workstation's
/// log verifies as far as it goes, and the ceremony resumes onto a good medium, finishes and
/// verifies there.
#[test]
fn a_medium_whose_device_fails_with_eio_stops_the_run_cleanly_and_it_resumes() {
    for fail_after in [None, Some("checkpoint_wrap")] {
        let name = fail_after.unwrap_or("start");
        let room = Room::new(&format!("eio-{name}"));
        let Some((run, left)) = run_on_failing_device(&room, fail_after) else {
            return;
        };
        assert!(!run.status.success(), "{name}: the run succeeded");
        let err = stderr(&run);
        assert!(
            err.contains("error") && err.contains("out-usb"),
            "{name}: the error does not name the medium: {err}"
        );
        assert!(
            err.contains("Input/output error") || err.contains("os error 5"),
            "{name}: not the device's EIO: {err}"
        );
        eprintln!("EIO medium ({name}): {}", err.trim());
        if fail_after.is_some() {
            // The export met the device first: its error is the one the people read.
            assert!(
                err.contains("could not write out-usb/test-ceremony.byok: Input/output error"),
                "{name}: {err}"
            );
        }
        assert!(
            !left.iter().any(|n| n.starts_with(".byok-partial-")),
            "{name}: a partial file was left: {left:?}"
        );
        assert!(
            !left.iter().any(|n| n.ends_with(".byok")),
            "{name}: a .byok that was never durably written is on the medium: {left:?}"
        );
        // The workstation's log is intact: it verifies up to where the run stopped.
        let log = room.path("state/test-ceremony.audit.jsonl");
        let cut = room.audit_verify(&log);
        let said = String::from_utf8_lossy(&cut.stdout).into_owned();
        assert!(
            said.contains("never closed") || said.contains("ends here"),
            "{name}: {said}"
        );
        // A good medium in its place: resume finishes and verifies.
        resumes_onto_the_good_medium_and_verifies(&room, name);
        room.assert_byok_unwraps_to_manifest_key();
    }
}
