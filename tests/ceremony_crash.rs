//! Crash and recovery: the real binary is killed with SIGKILL right after each step is in the
//! log, then restarted to resume or abort. Afterwards the log verifies, no partial file is on
//! the media, and the token holds exactly the key objects the log accounts for (counted by
//! pkcs11-tool, an independent PKCS#11 client, logged in with the PIN the custodians' shares
//! rebuild).
mod ceremony;

use std::process::Command;

use byok_ceremony::quorum::share::PinGroup;
use byok_ceremony::quorum::share_file::share_in;
use byok_ceremony::quorum::split::combine_pin;
use ceremony::{Room, kill_after};

/// Objects labelled `test-target` on the room's token, as pkcs11-tool sees them after a
/// login with the PIN rebuilt from two shares.
fn target_objects(room: &Room) -> usize {
    let shares: Vec<_> = ["carol", "dave"]
        .iter()
        .map(|c| {
            let text = std::fs::read_to_string(room.path(&format!("provisioning/{c}.share.txt")))
                .expect("share file");
            share_in(&text, PinGroup::UserPin).expect("share")
        })
        .collect();
    let pin = combine_pin(&shares).expect("PIN");
    let out = Command::new("pkcs11-tool")
        .args(["--module", room.module.as_str(), "--login", "--pin"])
        .arg(pin.text().as_str())
        .args(["--list-objects"])
        .env("SOFTHSM2_CONF", &room.conf)
        .output()
        .expect("pkcs11-tool (package opensc) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("label:") && l.contains("test-target"))
        .count()
}

fn no_partial_files(room: &Room) {
    for entry in std::fs::read_dir(room.path("out-usb")).expect("media") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            !name.starts_with(".byok-partial"),
            "a partial file was left: {name}"
        );
    }
}

fn crash_then(event: &str, recovery: &str) {
    let room = Room::new(&format!("crash {}", &event[..event.len().min(12)]));
    kill_after(&room, event);
    no_partial_files(&room);

    room.write_answers(&["carol", "dave"], Some(recovery));
    let out = room.run_ceremony();
    let log = room.path("state/test-ceremony.audit.jsonl");
    let verify = room.audit_verify(&log);
    assert!(
        verify.status.success(),
        "{event}/{recovery}: the log does not verify"
    );
    no_partial_files(&room);
    let stdout = String::from_utf8_lossy(&verify.stdout).into_owned();
    match recovery {
        "resume" => {
            assert!(
                out.status.success(),
                "{event}: resume did not close the ceremony"
            );
            assert!(stdout.contains("final phase: Closed"), "{stdout}");
            // keep_in_hsm: one key pair, never a second one.
            assert_eq!(
                target_objects(&room),
                2,
                "{event}: not exactly one key pair"
            );
            assert!(room.path("out-usb/test-ceremony.byok").exists());
        }
        _ => {
            assert!(stdout.contains("final phase: Aborted"), "{stdout}");
            assert_eq!(
                target_objects(&room),
                0,
                "{event}: the aborted run left its key"
            );
        }
    }
}

macro_rules! crash_tests {
    ($($name:ident: $event:expr, $recovery:expr;)*) => {$(
        #[test]
        fn $name() {
            crash_then($event, $recovery);
        }
    )*};
}

crash_tests! {
    killed_after_attendance_then_resumed: "attendance_closed", "resume";
    killed_after_login_then_resumed: "logged_in", "resume";
    killed_after_kek_confirmation_then_resumed: "kek_confirmed", "resume";
    killed_after_key_generation_then_resumed: "key_generated", "resume";
    killed_after_wrap_then_resumed: "wrapped", "resume";
    killed_after_export_then_resumed: "exported", "resume";
    killed_after_verification_then_resumed: "verified", "resume";
    killed_during_sign_off_then_resumed: "signed_off", "resume";
    killed_after_attendance_then_aborted: "attendance_closed", "abort";
    killed_after_login_then_aborted: "logged_in", "abort";
    killed_after_key_generation_then_aborted: "key_generated", "abort";
    killed_after_wrap_then_aborted: "wrapped", "abort";
    killed_after_export_then_aborted: "exported", "abort";
}
